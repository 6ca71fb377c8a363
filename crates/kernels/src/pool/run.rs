//! The driver: walks the work units of a piece, channel by channel and row by row, and calls
//! the edge code and the interior micro-kernel the plan chose. Instantiated once per SIMD
//! level through [`dispatch`], with the reduction and the micro-kernel as type/const
//! parameters, so the hot loops carry no run-time choice.

use super::edges::{element, element_argmax};
use super::geometry::AxisPlan;
use super::reduce::{Max, Reduce, Sum};
use super::row::{self, RowJob};
use super::{IndexPiece, Micro, Pool2dPlan};
use crate::epilogue::{activate, bias_activation_run, Activation};
use crate::simd::{dispatch, F32Vector, SimdKernel};
use crate::split::OutputPiece;
use crate::PoolKind;

/// Pools every unit of `piece`.
pub(super) fn run(plan: &Pool2dPlan, piece: &mut OutputPiece<'_>, input: &[f32]) {
    dispatch(plan.level, Units { plan, piece, input });
}

/// Max pooling with arg-max indices for every unit of `piece` (scalar windows, SIMD epilogue).
pub(super) fn run_with_indices(
    plan: &Pool2dPlan,
    piece: &mut OutputPiece<'_>,
    indices: &mut IndexPiece<'_>,
    input: &[f32],
) {
    let g = piece.geometry();
    let (h, w) = (&plan.h, &plan.w);
    let (in_h, in_w) = (h.input, w.input);
    for u in piece.units() {
        let (n, rows) = g.unit(u);
        for c in g.unit_channels(u) {
            let (Some(out), Some(idx)) = (piece.rows_mut(u, c), indices.rows_mut(u, c)) else {
                continue;
            };
            let start = (n * g.channels + c) * in_h * in_w;
            let plane = &input[start..start + in_h * in_w];
            let mut k = 0;
            for p in rows.clone() {
                for q in 0..g.cols {
                    let (v, at) = element_argmax(plane, in_w, h, w, (p, q));
                    out[k] = v;
                    // The plan checked that a plane's size fits in u32.
                    idx[k] = at as u32;
                    k += 1;
                }
            }
            activate_slice(plan, out);
        }
    }
}

/// Applies the plan's activation to `data` in place (nothing for the identity).
fn activate_slice(plan: &Pool2dPlan, data: &mut [f32]) {
    if plan.activation != Activation::Identity {
        dispatch(
            plan.level,
            Activate {
                data,
                activation: plan.activation,
            },
        );
    }
}

struct Activate<'a> {
    data: &'a mut [f32],
    activation: Activation,
}

impl SimdKernel for Activate<'_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // SAFETY: the slice is valid for its length; the level is dispatch's.
        unsafe {
            bias_activation_run::<V>(
                self.data.as_mut_ptr(),
                self.data.len(),
                None,
                self.activation,
            )
        }
    }
}

struct Units<'p, 'o, 'i> {
    plan: &'p Pool2dPlan,
    piece: &'p mut OutputPiece<'o>,
    input: &'i [f32],
}

impl SimdKernel for Units<'_, '_, '_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // Each arm is a function of its own (`isolate`): eleven window kernels inlined into
        // one entry per level made it the largest function of the crate.
        // SAFETY: every arm forwards the dispatch contract.
        unsafe {
            match (self.plan.desc.kind(), self.plan.micro) {
                (PoolKind::Max, Micro::Global) => V::isolate(UnitsOf::<Max, GLOBAL>::new(self)),
                (PoolKind::Max, Micro::Stride2K2) => V::isolate(UnitsOf::<Max, S2K2>::new(self)),
                (PoolKind::Max, Micro::Stride2K3) => V::isolate(UnitsOf::<Max, S2K3>::new(self)),
                (PoolKind::Max, Micro::Max3x3S2) => V::isolate(UnitsOf::<Max, MAX3S2>::new(self)),
                (PoolKind::Max, Micro::Stride2) => V::isolate(UnitsOf::<Max, S2>::new(self)),
                (PoolKind::Max, Micro::General) => V::isolate(UnitsOf::<Max, GENERAL>::new(self)),
                (PoolKind::Average, Micro::Global) => V::isolate(UnitsOf::<Sum, GLOBAL>::new(self)),
                (PoolKind::Average, Micro::Stride2K2) => {
                    V::isolate(UnitsOf::<Sum, S2K2>::new(self))
                }
                (PoolKind::Average, Micro::Stride2K3 | Micro::Max3x3S2) => {
                    V::isolate(UnitsOf::<Sum, S2K3>::new(self))
                }
                (PoolKind::Average, Micro::Stride2) => V::isolate(UnitsOf::<Sum, S2>::new(self)),
                (PoolKind::Average, Micro::General) => {
                    V::isolate(UnitsOf::<Sum, GENERAL>::new(self))
                }
            }
        }
    }
}

/// [`units`] for one reduction and window kernel, as a kernel of its own.
struct UnitsOf<'p, 'o, 'i, R, const M: u8>(Units<'p, 'o, 'i>, core::marker::PhantomData<R>);

impl<'p, 'o, 'i, R, const M: u8> UnitsOf<'p, 'o, 'i, R, M> {
    #[inline(always)]
    fn new(units: Units<'p, 'o, 'i>) -> Self {
        UnitsOf(units, core::marker::PhantomData)
    }
}

impl<R: Reduce, const M: u8> SimdKernel for UnitsOf<'_, '_, '_, R, M> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // SAFETY: forwarded dispatch contract.
        unsafe { units::<V, R, M>(self.0) }
    }
}

const GLOBAL: u8 = 0;
const S2K2: u8 = 1;
const S2K3: u8 = 2;
const S2: u8 = 3;
const GENERAL: u8 = 4;
const MAX3S2: u8 = 5;

/// # Safety
/// The [`F32Vector`] contract.
#[inline(always)]
unsafe fn units<V: F32Vector, R: Reduce, const M: u8>(k: Units<'_, '_, '_>) {
    let plan = k.plan;
    let g = k.piece.geometry();
    let (h, w) = (&plan.h, &plan.w);
    let plane_len = h.input * w.input;
    // Rows whose windows lie wholly inside the input (every row of the benchmark cases but
    // the first of 3×3/2 pad 1) share one job but for its source pointer: computed once here,
    // and a run of such rows is one call of the micro-kernel's row loop.
    let (lo, hi) = w.interior;
    let fast_rows = if lo < hi { h.interior } else { (0, 0) };
    let x0 = if lo < hi { w.coord(lo, 0) } else { 0 };
    let divisor = h.kernel * w.kernel;
    let template = RowJob {
        src: k.input.as_ptr(),
        row_step: h.dilation * w.input,
        rows: h.kernel,
        avail: w.input - x0,
        kw: w.kernel,
        stride: w.stride,
        dilation: w.dilation,
        count: hi - lo,
        divisor: divisor as f32,
        divisor_is_pow2: divisor.is_power_of_two(),
        activation: plan.activation,
    };
    // The edge columns of those rows, with their tap columns worked out once (but for the
    // left one that the 3×3/2 max kernel computes in its first vector).
    let left_edge = M == MAX3S2 && super::f32_maxpool_3x3s2::vectorises_left_edge::<V>(w);
    let edge_columns = EdgeColumns::new(w, plan.desc.count_include_pad(), usize::from(left_edge));
    // Channel-major: each channel's part of the plane is one contiguous stream the hardware
    // prefetchers follow (unit-major order read a few rows of every plane in turn and ran
    // 1.5–2× slower on maxpool_2x2_s2). Units with every row ([`Pool2dPlan::new`]: planes
    // smaller than a unit) are walked unit by unit, their channels in turn; units of row
    // blocks with every channel, channel by channel over each batch item's run of units.
    let per_item = g.units_per_item();
    let all = k.piece.units();
    let mut group = all.start;
    // Windows that tile the planes' rows exactly (no vertical padding, window height =
    // stride, P·stride = H) with every column interior: consecutive planes then form one
    // tall plane of H rows per plane, and a run of whole planes is one call of the row loop.
    // LeNet's pools have 5- and 14-column rows, 16 and 6 planes per image: one call per
    // plane cost as much as the pooling.
    let stacked = M != GLOBAL
        && M != MAX3S2
        && (h.pad_before, h.dilation) == (0, 1)
        && h.stride == h.kernel
        && h.output * h.stride == h.input
        && h.interior == (0, h.output)
        && (lo, hi) == (0, w.output)
        && edge_columns.len == 0;
    if stacked {
        // Every unit when units span every row; else the piece's whole batch items.
        let end = if g.row_blocks() == 1 {
            all.end
        } else {
            all.end - all.end % per_item
        };
        if let Some((out, planes)) = k.piece.planes_mut(group..end) {
            let job = RowJob {
                src: k.input[planes.start * plane_len + x0..].as_ptr(),
                ..template
            };
            let rows = planes.len() * h.output;
            // SAFETY: the taps of row `i` of the stack are rows i·kh .. i·kh + kh − 1 of the
            // planes' H input rows each (plane i / P, its row i mod P: an interior row),
            // columns x0 + [0, avail) of it; `out` holds the planes' rows·Q outputs, row `i`
            // at i·Q.
            unsafe {
                interior_rows::<V, R, M>(&job, rows, h.stride * w.input, out.as_mut_ptr(), g.cols)
            };
            group = end;
        }
    }
    let fast = FastRows {
        lo,
        x0,
        rows: fast_rows,
        left_edge,
    };
    if g.channel_blocks() > 1 {
        for u in group..all.end {
            let (n, rows) = g.unit(u);
            for c in g.unit_channels(u) {
                let start = (n * g.channels + c) * plane_len;
                let Some(out) = k.piece.rows_mut(u, c) else {
                    continue;
                };
                // SAFETY: forwarded contract.
                unsafe {
                    channel_rows::<V, R, M>(
                        plan,
                        &k.input[start..start + plane_len],
                        out,
                        rows.clone(),
                        &template,
                        &edge_columns,
                        fast,
                    )
                };
            }
        }
        return;
    }
    while group < all.end {
        let n = group / per_item;
        let group_end = all.end.min((n + 1) * per_item);
        for c in 0..g.channels {
            let start = (n * g.channels + c) * plane_len;
            let Some((out, rows)) = k.piece.unit_run_rows_mut(group..group_end, c) else {
                continue;
            };
            // SAFETY: forwarded contract.
            unsafe {
                channel_rows::<V, R, M>(
                    plan,
                    &k.input[start..start + plane_len],
                    out,
                    rows,
                    &template,
                    &edge_columns,
                    fast,
                )
            };
        }
        group = group_end;
    }
}

/// Where the interior of the fast rows starts: its first output column and that output's
/// first input column, and the fast rows `h.interior` (empty when no column is interior).
#[derive(Clone, Copy)]
struct FastRows {
    lo: usize,
    x0: usize,
    rows: (usize, usize),
    /// The 3×3/2 max kernel also computes output column 0 (not in the edge table).
    left_edge: bool,
}

/// Pools output rows `rows` of one channel into `out` (those rows) from `plane` (that
/// channel's input plane).
///
/// # Safety
/// The [`F32Vector`] contract.
#[inline(always)]
unsafe fn channel_rows<V: F32Vector, R: Reduce, const M: u8>(
    plan: &Pool2dPlan,
    plane: &[f32],
    out: &mut [f32],
    rows: core::ops::Range<usize>,
    template: &RowJob,
    edge_columns: &EdgeColumns,
    fast_rows: FastRows,
) {
    let (h, w) = (&plan.h, &plan.w);
    let cols = w.output;
    if M == GLOBAL {
        // SAFETY: forwarded contract; `out` has one element (a 1×1 output), and
        // `store_partial` needs `1 < LANES` (a one-lane level stores the vector).
        unsafe {
            let v = V::splat(super::global::global::<V, R>(plane));
            let v = activate::<V>(v, plan.activation);
            if V::LANES == 1 {
                v.store(out.as_mut_ptr());
            } else {
                v.store_partial(out.as_mut_ptr(), 1);
            }
        }
        return;
    }
    let (f0, f1) = fast_rows.rows;
    let fast = rows.start.max(f0)..rows.end.min(f1).max(rows.start);
    // The 3×3/2 max kernel also pools the top row under one row of top padding (its taps are
    // the first fast row's first tap row and the one above) when no scalar edge column is
    // left for it (those are worked out for rows with three tap rows).
    let top = M == MAX3S2
        && !R::AVERAGE
        && edge_columns.len == 0
        && (h.kernel, h.stride, h.dilation, h.pad_before) == (3, 2, 1, 1)
        && fast.start == 1
        && rows.start == 0
        && !fast.is_empty();
    // The first row the kernel does not pool: the top row when it does.
    let scalar_from = rows.start + usize::from(top);
    for (r, p) in rows.clone().enumerate() {
        if p >= scalar_from && !fast.contains(&p) {
            let row_out = &mut out[r * cols..(r + 1) * cols];
            // SAFETY: forwarded contract.
            unsafe { pool_row::<V, R, M>(plan, plane, p, row_out) };
        }
    }
    if fast.is_empty() {
        return;
    }
    let first = fast.start - rows.start;
    let job = RowJob {
        // In bounds: the first tap of the first interior output of the first row of the run.
        src: plane[(fast.start * h.stride - h.pad_before) * w.input + fast_rows.x0..].as_ptr(),
        ..*template
    };
    // Every write below goes through pointers derived from this one base (the run's rows),
    // so the edge rows' slices and the kernels' destination pointers do not invalidate one
    // another (a `&mut out[..]` reborrow would invalidate `dst` under Stacked Borrows).
    debug_assert!(out.len() >= (first + fast.len()) * cols);
    let base = out.as_mut_ptr();
    // SAFETY: in bounds: `out` holds the run's rows and `lo < cols`.
    let dst = unsafe { base.add(first * cols + fast_rows.lo) };
    let in_step = h.stride * w.input;
    if M == MAX3S2 && !R::AVERAGE {
        // Blocks of rows: the interior with the shared-row kernel (which pools the block's first
        // tap row once more than a single run would), then the block's scalar edge columns
        // while its tap rows are in L1. Edges first made the scalar edge code take each row's
        // first cache miss from L3, one at a time: a quarter of the time in a profile. With no
        // scalar edge columns left (the kernel's own left edge), one block.
        let block_rows = if edge_columns.len == 0 {
            fast.len()
        } else {
            MAX3S2_ROW_BLOCK
        };
        let mut r = 0;
        while r < fast.len() {
            let block = (fast.len() - r).min(block_rows);
            // SAFETY: as for `interior_rows` below, for rows r..r + block of the run; the
            // micro-kernel is the plan's (max, 3×3, stride 2, dilation 1); with `left_edge`,
            // output 0 is the first column of a row (`lo == 1`, one column of left padding),
            // so `src − 1` is each tap row's column 0 and `dst − 1` each output row's first
            // element (`vectorises_left_edge`); with `top`, output row 0 is in `out` (the run
            // starts at row 1 = `first`) and its tap rows 0 and 1 are the first block's
            // `src − row_step` and `src`.
            unsafe {
                let block_job = RowJob {
                    src: job.src.add(r * in_step),
                    ..job
                };
                super::f32_maxpool_3x3s2::max_3x3s2_rows::<V>(
                    &block_job,
                    block,
                    dst.add(r * cols),
                    cols,
                    super::f32_maxpool_3x3s2::Edges {
                        left: fast_rows.left_edge,
                        top: top && r == 0,
                    },
                );
            }
            if edge_columns.len != 0 {
                for (b, p) in (fast.start + r..fast.start + r + block).enumerate() {
                    // SAFETY: forwarded contract; output row `first + r + b` is inside `out` and
                    // no other reference to it is live.
                    unsafe {
                        let row_out =
                            core::slice::from_raw_parts_mut(base.add((first + r + b) * cols), cols);
                        fast_edges::<V, R>(plan, edge_columns, plane, p, row_out);
                    }
                }
            }
            r += block;
        }
        return;
    }
    if edge_columns.len == 0 {
        // SAFETY: as in `pool_row`, for each row of the run: every tap of the outputs lo..hi
        // of an interior row is inside the plane, and row `i` of the run starts
        // `i·stride_h·W` elements after the first; `out` holds the run's rows, so
        // `dst + i·cols` has `count` writable outputs.
        unsafe { interior_rows::<V, R, M>(&job, fast.len(), in_step, dst, cols) };
        return;
    }
    // Interior and edge columns row by row, so both read the row's taps while they are in L1
    // (all edges first cost a cache miss per row on maxpool_3x3_s2_p1); the vector interior
    // first, so its loads, not the scalar edge code's, wait for the row to arrive.
    for (r, p) in fast.clone().enumerate() {
        // SAFETY: as above, for row `r` of the run alone.
        unsafe {
            let row = RowJob {
                src: job.src.add(r * in_step),
                ..job
            };
            interior::<V, R, M>(&row, dst.add(r * cols));
        }
        // SAFETY: forwarded contract; output row `first + r` is inside `out` and no other
        // reference to it is live.
        unsafe {
            let row_out = core::slice::from_raw_parts_mut(base.add((first + r) * cols), cols);
            fast_edges::<V, R>(plan, edge_columns, plane, p, row_out);
        }
    }
}

/// Output rows per call of the shared-row 3×3/2 max kernel: the block's edge columns then read
/// the tap rows the kernel has just read (17 input rows of 112 columns: 7.6 KB, in L1).
const MAX3S2_ROW_BLOCK: usize = 8;

/// Most edge columns a row keeps in an [`EdgeColumns`] table (more: the generic path).
const MAX_EDGE_COLUMNS: usize = 16;

/// The edge columns of a row whose windows are inside the input vertically: for each, its
/// output column, first tap column, number of taps inside the input and the divisor's
/// horizontal factor. Computed once per call instead of once per output.
struct EdgeColumns {
    len: usize,
    /// First left edge column in the table (the ones before it are a kernel's).
    from: usize,
    /// `(q, first input column, taps inside, horizontal divisor factor)`.
    cols: [(usize, usize, usize, usize); MAX_EDGE_COLUMNS],
}

impl EdgeColumns {
    /// `len == usize::MAX` marks a row with too many edge columns for the table.
    /// The columns before `from` (at most `lo`) are left out: a kernel computes them.
    fn new(w: &AxisPlan, count_include_pad: bool, from: usize) -> EdgeColumns {
        let (lo, hi) = w.interior;
        let from = from.min(lo);
        let mut table = EdgeColumns {
            len: 0,
            from,
            cols: [(0, 0, 0, 0); MAX_EDGE_COLUMNS],
        };
        if lo - from + (w.output - hi) > MAX_EDGE_COLUMNS {
            table.len = usize::MAX;
            return table;
        }
        for q in (from..lo).chain(hi..w.output) {
            let taps = w.taps(q);
            let factor = if count_include_pad {
                w.padded_taps(q)
            } else {
                taps.len()
            };
            let x = if taps.is_empty() {
                0
            } else {
                w.coord(q, taps.start)
            };
            table.cols[table.len] = (q, x, taps.len(), factor);
            table.len += 1;
        }
        table
    }
}

/// The edge columns of an output row whose taps are all inside the input vertically (a
/// fast row), from the precomputed table; the same values as `edges`.
///
/// # Safety
/// The [`F32Vector`] contract; `plane` is a whole input plane, `out` a whole output row, `p`
/// a row in `h.interior`.
#[inline(always)]
unsafe fn fast_edges<V: F32Vector, R: Reduce>(
    plan: &Pool2dPlan,
    table: &EdgeColumns,
    plane: &[f32],
    p: usize,
    out: &mut [f32],
) {
    if table.len == usize::MAX {
        // SAFETY: forwarded contract.
        return unsafe { edges::<V, R>(plan, plane, p, out) };
    }
    if table.len == 0 {
        return;
    }
    let (h, w) = (&plan.h, &plan.w);
    let y0 = h.coord(p, 0);
    for &(q, x, taps, factor) in &table.cols[..table.len] {
        let mut acc: Option<f32> = None;
        for i in 0..h.kernel {
            let line = &plane[(y0 + i * h.dilation) * w.input + x..];
            for j in 0..taps {
                let v = line[j * w.dilation];
                acc = Some(acc.map_or(v, |a| R::combine_scalar(a, v)));
            }
        }
        // A validated descriptor gives every window at least one tap.
        let v = acc.unwrap_or(f32::NAN);
        out[q] = if R::AVERAGE {
            v / (h.kernel * factor) as f32
        } else {
            v
        };
    }
    if plan.activation != Activation::Identity {
        let (lo, hi) = w.interior;
        let q_end = out.len();
        let from = table.from;
        // SAFETY: both ranges lie inside `out` (from <= lo <= hi <= q_end).
        unsafe {
            bias_activation_run::<V>(out.as_mut_ptr().add(from), lo - from, None, plan.activation);
            bias_activation_run::<V>(out.as_mut_ptr().add(hi), q_end - hi, None, plan.activation);
        }
    }
}

/// The plan's interior micro-kernel on `rows` consecutive fast rows: row `i` reads from
/// `job.src + i·in_step` and writes `dst + i·out_step`.
///
/// # Safety
/// `interior`'s contract for each row's job and destination.
#[inline(always)]
unsafe fn interior_rows<V: F32Vector, R: Reduce, const M: u8>(
    job: &RowJob,
    rows: usize,
    in_step: usize,
    dst: *mut f32,
    out_step: usize,
) {
    for i in 0..rows {
        // SAFETY: row `i` starts inside the plane, by the caller's contract.
        let src = unsafe { job.src.add(i * in_step) };
        let row = RowJob { src, ..*job };
        // SAFETY: forwarded.
        unsafe { interior::<V, R, M>(&row, dst.add(i * out_step)) };
    }
}

/// One output row `p` of one plane: scalar edge columns, then the interior micro-kernel.
///
/// # Safety
/// The [`F32Vector`] contract; `plane` is a whole input plane, `out` a whole output row.
#[inline(always)]
unsafe fn pool_row<V: F32Vector, R: Reduce, const M: u8>(
    plan: &Pool2dPlan,
    plane: &[f32],
    p: usize,
    out: &mut [f32],
) {
    let (h, w) = (&plan.h, &plan.w);
    let include = plan.desc.count_include_pad();
    let (lo, hi) = w.interior;
    // SAFETY: forwarded contract.
    unsafe { edges::<V, R>(plan, plane, p, out) };
    if lo >= hi {
        return;
    }
    let rows = h.taps(p);
    let x0 = w.coord(lo, 0);
    let y0 = h.coord(p, rows.start);
    let divisor = if include {
        h.padded_taps(p)
    } else {
        rows.len()
    } * w.kernel;
    let job = RowJob {
        // In bounds: (y0, x0) is a tap of an interior output.
        src: plane[y0 * w.input + x0..].as_ptr(),
        row_step: h.dilation * w.input,
        rows: rows.len(),
        avail: w.input - x0,
        kw: w.kernel,
        stride: w.stride,
        dilation: w.dilation,
        count: hi - lo,
        divisor: divisor as f32,
        divisor_is_pow2: divisor.is_power_of_two(),
        activation: plan.activation,
    };
    let dst = out[lo..hi].as_mut_ptr();
    // SAFETY: tap rows `rows` of output row p are inside the input (AxisPlan::taps), so every
    // `src + i·row_step` is the start of a tap in row h.coord(p, rows.start + i); every tap of
    // the interior outputs lo..hi is inside the row (AxisPlan::interior), so the job's reads
    // stay in `plane`; `dst[..hi − lo]` is `out[lo..hi]`.
    unsafe { interior::<V, R, M>(&job, dst) }
}

/// The edge columns of output row `p` (outside `w.interior`), scalar, then activated.
///
/// # Safety
/// The [`F32Vector`] contract; `plane` is a whole input plane, `out` a whole output row.
#[inline(always)]
unsafe fn edges<V: F32Vector, R: Reduce>(
    plan: &Pool2dPlan,
    plane: &[f32],
    p: usize,
    out: &mut [f32],
) {
    let (h, w) = (&plan.h, &plan.w);
    let (lo, hi) = w.interior;
    let q_end = out.len();
    if lo == 0 && hi == q_end {
        return;
    }
    let include = plan.desc.count_include_pad();
    for q in (0..lo).chain(hi..q_end) {
        out[q] = element::<R>(plane, w.input, h, w, (p, q), include);
    }
    if plan.activation != Activation::Identity {
        // SAFETY: both ranges lie inside `out` (lo <= hi <= q_end).
        unsafe {
            bias_activation_run::<V>(out.as_mut_ptr(), lo, None, plan.activation);
            bias_activation_run::<V>(out.as_mut_ptr().add(hi), q_end - hi, None, plan.activation);
        }
    }
}

/// The plan's interior micro-kernel on one job.
///
/// # Safety
/// The job's contract (`row::general`); the micro-kernel matches the plan's choice (stride
/// 2, dilation 1, and the window width for the fixed-width ones).
#[inline(always)]
unsafe fn interior<V: F32Vector, R: Reduce, const M: u8>(job: &RowJob, dst: *mut f32) {
    // SAFETY: forwarded.
    unsafe {
        match M {
            S2K2 => row::stride2::<V, R, 2>(job, dst),
            S2K3 | MAX3S2 => row::stride2::<V, R, 3>(job, dst),
            S2 => row::stride2::<V, R, 0>(job, dst),
            _ => row::general::<V, R>(job, dst),
        }
    }
}
