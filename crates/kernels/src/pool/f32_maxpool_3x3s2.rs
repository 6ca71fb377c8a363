//! Max pooling, 3×3 window, stride 2×2, dilation 1: a run of output rows whose windows lie
//! inside the input vertically, each input row pooled horizontally once and shared by the
//! two output rows that use it, and (with one column of left padding) the left edge column
//! in the same vectors; optionally the top row above the run (one row of top padding: its
//! taps are the run's first tap row and the one above).
//!
//! ```text
//!   H(y)[q] = x(y, 2q) ⊕ x(y, 2q+1) ⊕ x(y, 2q+2)            2 loads, 1 broadcast, 3 shuffles
//!   out(p)  = H(2p) ⊕ H(2p+1) ⊕ H(2p+2)                      H(2p+2) is the next row's H(2p)
//! ```
//!
//! **Loads, not shuffles, bound this kernel** (an AVX-512 model of the loop on this Zen 4:
//! taking tap 2 from a second pair of loads at `x + 1` ran 17.8 cycles per 16 outputs, the
//! same with in-lane or cross-lane shuffles; these two loads per tap row ran 13.1). The
//! ordered deinterleave of the loads at `x(y, 2q)` gives taps 0 (even elements) and 1 (odd);
//! tap 2 is tap 0 moved down one lane with the element after the vector, `x(y, 2q + 2L)`,
//! broadcast in at the top ([`F32Vector::shift_in_last`]).
//!
//! **Left edge.** With one column of padding on the left, output 0's taps are columns −1
//! (padding), 0 and 1. The first vector then loads from column 0 and takes tap 0 as the odd
//! elements moved up one lane with −∞ in lane 0 ([`F32Vector::shift_in_first`]); the scalar
//! edge code (a dependent chain of NaN-propagating maxima per output row) had been 18% of
//! `maxpool_3x3_s2_p1`'s time for one output in 56.
//!
//! `⊕` keeps the earlier tap on ties, so the fold is the reference's row-major one (the
//! leftmost-maximum rule is associative): the same bits, `−0.0` vs `+0.0` included. It is one
//! `maxps` on x86 instead of the three instructions of a NaN-propagating maximum; NaN is
//! handled out of line instead: every tap is also summed into one of two check vectors (a NaN
//! tap makes the sum NaN; an `∞ − ∞` false alarm only costs time), tested once per column
//! chunk and run, and a chunk whose taps hold a NaN is recomputed by the same loads folded
//! with the NaN-propagating maximum.
//!
//! The horizontal maxima of the shared row live in a stack buffer of [`CHUNK`] vectors: the
//! row is walked in column chunks of that many vectors, each chunk down every row of the run.

use super::reduce::Max;
use super::row::{self, RowJob};
use crate::epilogue::{activate, Activation};
use crate::simd::F32Vector;
use crate::window3s2::{taps, taps_left_edge, Columns};

/// Vectors of one column chunk (the shared row's maxima stay in this many registers or
/// stack slots).
const CHUNK: usize = 8;

/// Whether the kernel also computes output column 0 of a row (one column of left padding,
/// output 1 the first interior one and room for the edge vector): the driver then leaves
/// that column out of its scalar edge columns.
pub(crate) fn vectorises_left_edge<V: F32Vector>(w: &super::geometry::AxisPlan) -> bool {
    let (lo, hi) = w.interior;
    (w.kernel, w.stride, w.dilation, w.pad_before, lo) == (3, 2, 1, 1, 1)
        && hi > lo
        && Columns::new::<V>(hi - lo, w.input - 1, true).edge
}

/// The fold of one tap into the next: the fast order-keeping maximum (NaN handled out of
/// line) or, when `EXACT`, the NaN-propagating one.
#[inline(always)]
unsafe fn fold<V: F32Vector, const EXACT: bool>(earlier: V, later: V) -> V {
    // SAFETY: forwarded contract.
    unsafe {
        if EXACT {
            earlier.max_nan(later)
        } else {
            earlier.max_ordered(later)
        }
    }
}

/// `H` of one tap row for the `L` outputs whose first tap is `p[0]`:
/// `p[2o] ⊕ p[2o + 1] ⊕ p[2o + 2]`. Unless `EXACT`, the two loads are added into `check`
/// (`p[2L]`, the one element read besides, is the next vector's first or the chunk's tail).
///
/// # Safety
/// `p[..=2L]` readable; the [`F32Vector`] contract.
#[inline(always)]
unsafe fn horizontal<V: F32Vector, const EXACT: bool>(p: *const f32, check: &mut V) -> V {
    // SAFETY: the reads are p[..2L] and p[2L].
    unsafe {
        let ([t0, t1, t2], sum) = taps::<V>(p);
        if !EXACT {
            *check = check.add(sum);
        }
        fold::<V, EXACT>(fold::<V, EXACT>(t0, t1), t2)
    }
}

/// `H` of one tap row for outputs `0 .. L` of a row with one column of left padding, whose
/// taps are columns `2o − 1` (padding for `o = 0`), `2o` and `2o + 1`; `p` is column 0.
///
/// # Safety
/// `p[..2L]` readable; the [`F32Vector`] contract.
#[inline(always)]
unsafe fn horizontal_left_edge<V: F32Vector, const EXACT: bool>(p: *const f32, check: &mut V) -> V {
    // SAFETY: the reads are p[..2L].
    unsafe {
        let ([t0, t1, t2], sum) = taps_left_edge::<V>(p, f32::NEG_INFINITY);
        if !EXACT {
            *check = check.add(sum);
        }
        fold::<V, EXACT>(fold::<V, EXACT>(t0, t1), t2)
    }
}

/// `H` of the tap row at `row` (its element under `src`) for vector `k` of `cols`.
///
/// # Safety
/// `cols` built for this row's `avail` (and `left_edge` only when `row[−1]` is the row's
/// column 0); the [`F32Vector`] contract.
#[inline(always)]
unsafe fn horizontal_of<V: F32Vector, const EXACT: bool>(
    cols: &Columns,
    k: usize,
    row: *const f32,
    check: &mut V,
) -> V {
    // SAFETY: the reads are the ones `Columns::new` keeps inside the row.
    unsafe {
        match cols.start::<V>(k) {
            Some(q) => horizontal::<V, EXACT>(row.add(2 * q), check),
            None => horizontal_left_edge::<V, EXACT>(row.sub(1), check),
        }
    }
}

/// Where vector `k`'s outputs start, from the row's first interior output `out`.
///
/// # Safety
/// `out[−1]` is inside the row when `cols.edge`.
#[inline(always)]
unsafe fn output<V: F32Vector>(cols: &Columns, k: usize, out: *mut f32) -> *mut f32 {
    // SAFETY: caller's contract.
    unsafe {
        match cols.start::<V>(k) {
            Some(q) => out.add(q),
            None => out.sub(1),
        }
    }
}

/// Max-pools `rows` consecutive output rows of one plane whose windows lie inside the input
/// vertically: output row `i` takes its three tap rows from `job.src + i·2·row_step`
/// (`row_step` apart) and writes its `job.count` interior outputs at `dst + i·out_step`,
/// activated. With `edges.left` (the value of [`vectorises_left_edge`] for the plan), also
/// output column 0 at `dst + i·out_step − 1`. With `edges.top`, also the output row before
/// the run, at `dst − out_step`, whose window's first row is padding: its taps are the rows
/// at `job.src − row_step` and `job.src` (the top row under one row of top padding).
///
/// # Safety
/// For each row `i < rows`, `job` with `src` moved by `i·2·job.row_step` satisfies
/// [`row::stride2`]'s contract (3×3 window, stride 2, dilation 1) with destination
/// `dst + i·out_step`; `job.rows == 3`; with `edges.left`, each tap row's `src − 1` is that
/// row's column 0 and `dst + i·out_step − 1` is writable; with `edges.top`, the same holds
/// for the row at `job.src − row_step` and the output row at `dst − out_step`; the
/// [`F32Vector`] contract.
#[inline(always)]
pub(crate) unsafe fn max_3x3s2_rows<V: F32Vector>(
    job: &RowJob,
    rows: usize,
    dst: *mut f32,
    out_step: usize,
    edges: Edges,
) {
    let left_edge = edges.left;
    let in_step = 2 * job.row_step;
    let cols = Columns::new::<V>(job.count, job.avail, left_edge);
    debug_assert_eq!(cols.edge, left_edge);
    let vectors = cols.vectors();
    let mut chunk_start = 0;
    while chunk_start < vectors {
        let n = (vectors - chunk_start).min(CHUNK);
        // SAFETY: each vector's loads stay in its row (`Columns::new`); rows are the
        // caller's; the chunk's outputs are inside each output row.
        unsafe {
            let run = Run {
                job,
                rows,
                in_step,
                dst,
                out_step,
                top: edges.top,
            };
            if job.activation == Activation::Identity {
                chunk::<V, false>(&run, &cols, chunk_start, n)
            } else {
                chunk::<V, true>(&run, &cols, chunk_start, n)
            }
        };
        chunk_start += n;
    }
    if cols.covered < job.count {
        // The row's last outputs (a row shorter than a vector, or whose last vector's reads
        // would pass the row end): the general kernel, which masks its loads.
        let q = cols.covered;
        if edges.top {
            // SAFETY: the top row's two tap rows hold the same columns as every other row.
            unsafe {
                let tail = RowJob {
                    src: job.src.sub(job.row_step).add(2 * q),
                    rows: 2,
                    avail: job.avail - 2 * q,
                    count: job.count - q,
                    ..*job
                };
                row::stride2::<V, Max, 3>(&tail, dst.sub(out_step).add(q));
            }
        }
        for i in 0..rows {
            // SAFETY: the outputs q..count of row i are interior outputs of the same job.
            unsafe {
                let tail = RowJob {
                    src: job.src.add(i * in_step + 2 * q),
                    avail: job.avail - 2 * q,
                    count: job.count - q,
                    ..*job
                };
                row::stride2::<V, Max, 3>(&tail, dst.add(i * out_step + q));
            }
        }
    }
}

/// Which edges of a plane [`max_3x3s2_rows`] computes besides its run of rows.
#[derive(Clone, Copy)]
pub(crate) struct Edges {
    /// Output column 0 under one column of left padding.
    pub left: bool,
    /// The output row before the run, under one row of top padding.
    pub top: bool,
}

/// The rows a chunk walks down: [`max_3x3s2_rows`]'s arguments.
#[derive(Clone, Copy)]
struct Run<'a> {
    job: &'a RowJob,
    rows: usize,
    in_step: usize,
    dst: *mut f32,
    out_step: usize,
    top: bool,
}

/// One column chunk (vectors `first..first + n`) down every row of the run; `ACTIVATE`
/// says whether the job's activation is not the identity (decided once, out of the loop).
///
/// # Safety
/// As [`max_3x3s2_rows`]; `first + n <= cols.vectors()`, `n <= CHUNK`.
#[inline(always)]
unsafe fn chunk<V: F32Vector, const ACTIVATE: bool>(
    run: &Run<'_>,
    cols: &Columns,
    first: usize,
    n: usize,
) {
    let Run {
        job,
        rows,
        in_step,
        dst,
        out_step,
        top,
    } = *run;
    let activation = job.activation;
    let step = job.row_step;
    // Each vector's loads cover its taps but the last one (the next vector's first element),
    // so the checks cover every tap of the chunk once the last vector's is added.
    let tail = cols.tail::<V>(first + n - 1);
    // SAFETY: as the caller's contract; `shared` is fully written before it is read.
    unsafe {
        // Two check sums (one add chain per tap row of an output row) over the whole run,
        // tested once at the end: a per-row test and branch cost about a tenth of the run.
        let mut check1 = V::zero();
        let mut check2 = V::zero();
        let tail_of = |row: *const f32| match tail {
            Some(t) => V::splat(*row.add(t)),
            None => V::zero(),
        };
        let mut shared = [V::zero(); CHUNK];
        // H of tap row 0 of the first output row.
        for (k, h) in shared.iter_mut().enumerate().take(n) {
            *h = horizontal_of::<V, false>(cols, first + k, job.src, &mut check1);
        }
        check1 = check1.add(tail_of(job.src));
        if top {
            // The top row: the tap row above the run's first, then the shared one.
            let above = job.src.sub(step);
            let out_row = dst.sub(out_step);
            for (k, h) in shared.iter().enumerate().take(n) {
                let h0 = horizontal_of::<V, false>(cols, first + k, above, &mut check2);
                let mut v = h0.max_ordered(*h);
                if ACTIVATE {
                    v = activate::<V>(v, activation);
                }
                v.store(output::<V>(cols, first + k, out_row));
            }
            check2 = check2.add(tail_of(above));
        }
        // The edge vector (always the first chunk's first) out of the loop, and the regular
        // vectors' first outputs worked out once.
        let edge = first == 0 && cols.edge;
        let k0 = usize::from(edge);
        let mut starts = [0usize; CHUNK];
        for (k, q) in starts.iter_mut().enumerate().take(n).skip(k0) {
            *q = cols.start::<V>(first + k).unwrap_or(0);
        }
        for i in 0..rows {
            let base = job.src.add(i * in_step);
            let (r1, r2) = (base.add(step), base.add(2 * step));
            let out_row = dst.add(i * out_step);
            if edge {
                let h1 = horizontal_left_edge::<V, false>(r1.sub(1), &mut check1);
                let h2 = horizontal_left_edge::<V, false>(r2.sub(1), &mut check2);
                let mut v = shared[0].max_ordered(h1).max_ordered(h2);
                shared[0] = h2;
                if ACTIVATE {
                    v = activate::<V>(v, activation);
                }
                v.store(out_row.sub(1));
            }
            for k in k0..n {
                let q = starts[k];
                let h1 = horizontal::<V, false>(r1.add(2 * q), &mut check1);
                let h2 = horizontal::<V, false>(r2.add(2 * q), &mut check2);
                let mut v = shared[k].max_ordered(h1).max_ordered(h2);
                shared[k] = h2;
                if ACTIVATE {
                    v = activate::<V>(v, activation);
                }
                v.store(out_row.add(q));
            }
            check1 = check1.add(tail_of(r1));
            check2 = check2.add(tail_of(r2));
        }
        if check1.add(check2).any_nan() {
            // A NaN among the run's taps (or an `∞ − ∞` false alarm): the chunk's outputs
            // again, NaN-propagating.
            exact::<V>(run, cols, first, n);
        }
    }
}

/// [`chunk`]'s outputs folded with the NaN-propagating maximum.
///
/// # Safety
/// As [`chunk`].
#[inline(always)]
unsafe fn exact<V: F32Vector>(run: &Run<'_>, cols: &Columns, first: usize, n: usize) {
    let job = run.job;
    let step = job.row_step;
    // SAFETY: the reads and writes of `chunk`, whose contract the caller's is.
    unsafe {
        let mut unused = V::zero();
        if run.top {
            let above = job.src.sub(step);
            let out_row = run.dst.sub(run.out_step);
            for k in first..first + n {
                let h0 = horizontal_of::<V, true>(cols, k, above, &mut unused);
                let h1 = horizontal_of::<V, true>(cols, k, job.src, &mut unused);
                let v = activate::<V>(h0.max_nan(h1), job.activation);
                v.store(output::<V>(cols, k, out_row));
            }
        }
        for i in 0..run.rows {
            let base = job.src.add(i * run.in_step);
            let out_row = run.dst.add(i * run.out_step);
            for k in first..first + n {
                let h0 = horizontal_of::<V, true>(cols, k, base, &mut unused);
                let h1 = horizontal_of::<V, true>(cols, k, base.add(step), &mut unused);
                let h2 = horizontal_of::<V, true>(cols, k, base.add(2 * step), &mut unused);
                let v = activate::<V>(h0.max_nan(h1).max_nan(h2), job.activation);
                v.store(output::<V>(cols, k, out_row));
            }
        }
    }
}
