//! `f32_dwconv_3x3s2_rows`: one depthwise channel, 3×3 kernel, stride 2×2, dilation 1, read
//! straight from the input plane (no prepared rows), a column chunk of up to 4 vectors of one
//! output row at a time.
//!
//! Each kernel row's three taps come from two loads, an ordered deinterleave and a one-lane
//! shift ([`crate::window3s2`]), so the stride-2 phases are never copied out: the prepared-row
//! path spent about half of `mobilenet_dw_3x3_s2` preparing rows (cpu-clock samples).
//! Left padding of one column is the edge vector's zero tap; top and bottom padding rows are
//! skipped (they add nothing). Shapes whose right edge or width the vectors do not cover
//! exactly use the prepared-row tiles instead ([`Dw3x3s2Plane::columns`]).
//!
//! Summation order per output element: kernel row, kernel column, bias last (one FMA chain
//! from zero), as the prepared-row tiles; padding taps are skipped rather than multiplied by
//! zero, which can only change the sign of a zero result.

use crate::epilogue::{activate, Activation};
use crate::simd::F32Vector;
use crate::window3s2::{taps, taps_left_edge, Columns};

/// Vectors of one column chunk: independent FMA chains, enough to hide the FMA latency.
const CHUNK: usize = 4;

/// One channel's operands.
#[derive(Clone, Copy)]
pub(crate) struct Dw3x3s2Plane {
    /// The channel's input plane, `h × w` row-major.
    pub x: *const f32,
    pub h: usize,
    pub w: usize,
    /// Rows of top padding (0 or 1).
    pub pad_top: usize,
    /// Columns of left padding (0 or 1).
    pub pad_left: usize,
    /// The channel's 9 filter values, row-major.
    pub weights: *const f32,
    pub bias: Option<f32>,
    pub act: Activation,
    /// Output row `p0` of the channel (`q_len` columns per row).
    pub y: *mut f32,
    pub q_len: usize,
}

impl Dw3x3s2Plane {
    /// The vectors covering an output row when they cover all `q_len` outputs (left padding
    /// 0 or 1, and no output whose window passes the right edge), else `None`.
    pub(crate) fn columns<V: F32Vector>(
        w: usize,
        q_len: usize,
        pad_left: usize,
    ) -> Option<Columns> {
        if pad_left > 1 || w + pad_left < 3 {
            return None;
        }
        // Output o's taps are columns 2o − pad_left ..= 2o − pad_left + 2; the first
        // interior output is `pad_left`, its first tap column `pad_left`.
        let hi = (w + pad_left - 3) / 2 + 1;
        if hi != q_len || hi <= pad_left {
            return None;
        }
        let count = hi - pad_left;
        let cols = Columns::new::<V>(count, w - pad_left, pad_left == 1);
        (cols.covered == count && cols.edge == (pad_left == 1)).then_some(cols)
    }
}

/// Computes output rows `rows` (relative to the plane's output row 0; `plane.y` is row
/// `rows.start`) of one channel.
///
/// # Safety
/// `cols` is [`Dw3x3s2Plane::columns`] of this plane; `plane.x` readable for `h·w` values,
/// `plane.weights` for 9, `plane.y` writable for `rows.len()` rows of `q_len`; the
/// [`F32Vector`] contract. (A window wholly in the vertical padding reads nothing: its
/// outputs are the bias.)
#[inline(always)]
pub(crate) unsafe fn dwconv_3x3s2_rows<V: F32Vector>(
    plane: &Dw3x3s2Plane,
    cols: &Columns,
    rows: core::ops::Range<usize>,
) {
    // SAFETY: (whole body) the reads are the windows' taps inside the plane (`Columns`
    // keeps each vector's loads in its row), the writes the rows' outputs.
    unsafe {
        let mut w = [V::zero(); 9];
        for (i, wi) in w.iter_mut().enumerate() {
            *wi = V::splat(*plane.weights.add(i));
        }
        // Two output rows at a time share their middle input row (kernel row 2 of the first,
        // 0 of the second) and give 8 independent FMA chains; the 16-register levels keep one
        // row (9 weights + 8 accumulators would spill).
        let pair = V::LANES >= 16;
        let (p0, p_end) = (rows.start, rows.end);
        let mut p = p0;
        while p < p_end {
            let mr = if pair && p + 1 < p_end { 2 } else { 1 };
            let out = plane.y.add((p - p0) * plane.q_len + plane.pad_left);
            let y0 = 2 * p as isize - plane.pad_top as isize;
            let row0 = plane
                .x
                .wrapping_offset(y0 * plane.w as isize + plane.pad_left as isize);
            let row = Row {
                row0,
                w_in: plane.w,
                y0,
                h: plane.h,
                out,
                out_step: plane.q_len,
                bias: plane.bias,
                act: plane.act,
            };
            if mr == 2 {
                row_chunks::<V, 2>(&row, cols, &w);
            } else {
                row_chunks::<V, 1>(&row, cols, &w);
            }
            p += mr;
        }
    }
}

/// Every column chunk of `MR` output rows.
///
/// # Safety
/// As [`chunk`].
#[inline(always)]
unsafe fn row_chunks<V: F32Vector, const MR: usize>(row: &Row, cols: &Columns, w: &[V; 9]) {
    let vectors = cols.vectors();
    let mut first = 0;
    while first < vectors {
        let n = (vectors - first).min(CHUNK);
        let edge = first == 0 && cols.edge;
        // SAFETY: forwarded contract; vectors first..first + n exist.
        unsafe {
            match (n, edge) {
                (1, false) => chunk::<V, MR, 1, false>(row, cols, first, w),
                (2, false) => chunk::<V, MR, 2, false>(row, cols, first, w),
                (3, false) => chunk::<V, MR, 3, false>(row, cols, first, w),
                (_, false) => chunk::<V, MR, 4, false>(row, cols, first, w),
                (1, true) => chunk::<V, MR, 1, true>(row, cols, first, w),
                (2, true) => chunk::<V, MR, 2, true>(row, cols, first, w),
                (3, true) => chunk::<V, MR, 3, true>(row, cols, first, w),
                (_, true) => chunk::<V, MR, 4, true>(row, cols, first, w),
            }
        }
        first += n;
    }
}

/// The operands of one or two consecutive output rows.
struct Row {
    /// Where the first output row's kernel row 0 input row has its first interior tap (may
    /// point outside the plane when that row is padding; only rows inside are read).
    row0: *const f32,
    w_in: usize,
    /// That input row's index (negative in the top padding) and the plane's height.
    y0: isize,
    h: usize,
    /// The first output row's first interior output, and the distance to the next row.
    out: *mut f32,
    out_step: usize,
    bias: Option<f32>,
    act: Activation,
}

/// Vectors `first .. first + NV` of `MR` (1 or 2) output rows; with `EDGE`, vector `first`
/// (= 0) is the left-edge one. The input rows are walked in order, each vector's taps
/// computed once and fed to every output row that uses them, so each output still sees its
/// kernel rows in order.
///
/// # Safety
/// As [`dwconv_3x3s2_rows`]; with `MR == 2` the second output row is one of the call's.
#[inline(always)]
unsafe fn chunk<V: F32Vector, const MR: usize, const NV: usize, const EDGE: bool>(
    row: &Row,
    cols: &Columns,
    first: usize,
    w: &[V; 9],
) {
    // SAFETY: as the caller's contract; only input rows inside the plane are read.
    unsafe {
        let mut starts = [0usize; NV];
        for (j, q) in starts.iter_mut().enumerate() {
            *q = cols.start::<V>(first + j).unwrap_or(0);
        }
        let mut acc = [[V::zero(); NV]; MR];
        for i in 0..2 * MR + 1 {
            let y = row.y0 + i as isize;
            if y < 0 || y >= row.h as isize {
                continue;
            }
            let x = row.row0.wrapping_add(i * row.w_in);
            for j in 0..NV {
                let [t0, t1, t2] = if EDGE && j == 0 {
                    taps_left_edge::<V>(x.sub(1), 0.0).0
                } else {
                    taps::<V>(x.add(2 * starts[j])).0
                };
                for (m, acc_m) in acc.iter_mut().enumerate() {
                    // Output row m reads input rows 2m .. 2m + 2 (kernel row i − 2m).
                    if i >= 2 * m && i - 2 * m < 3 {
                        let r = i - 2 * m;
                        let a = &mut acc_m[j];
                        *a = t0.mul_add(w[3 * r], *a);
                        *a = t1.mul_add(w[3 * r + 1], *a);
                        *a = t2.mul_add(w[3 * r + 2], *a);
                    }
                }
            }
        }
        let b = row.bias.map(|b| V::splat(b));
        for (m, acc_m) in acc.iter().enumerate() {
            let out = row.out.add(m * row.out_step);
            for (j, a) in acc_m.iter().enumerate() {
                let mut v = *a;
                if let Some(b) = b {
                    v = v.add(b);
                }
                let v = activate::<V>(v, row.act);
                if EDGE && j == 0 {
                    v.store(out.sub(1));
                } else {
                    v.store(out.add(starts[j]));
                }
            }
        }
    }
}
