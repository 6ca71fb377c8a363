//! `f32_dwconv_3x3s{SH}_{MR}x{NV}v`: one depthwise channel, 3×3 kernel, row dilation 1, row
//! stride `SH` (1 or 2), `MR` output rows × `NV` vectors of output pixels.
//!
//! Where [`super::f32_dwconv_mrxnv`] loads the input vector of every (output row, kernel
//! row) pair, this tile walks the `(MR − 1)·SH + 3` input rows it reads once each and feeds
//! every loaded vector to all the output rows that use it (up to 3 for stride 1): one load
//! per 3 FMAs at stride 1 with `MR = 4`, and the 9 filter taps stay in registers. The column
//! stride and dilation are in the tap offsets, as in the general tile.
//!
//! Summation order per output element: kernel row, kernel column (input rows are visited in
//! ascending order, so an output row sees its kernel rows in order), bias last — the same
//! operations in the same order as the general tile and the reference.

use crate::epilogue::{activate, Activation};
use crate::simd::F32Vector;

/// One tile call's operands. Pointers are set by the driver (`super::run_units`).
#[derive(Clone, Copy)]
pub(crate) struct Dw3x3Tile {
    /// Prepared row read by the first output row's first kernel row, column `q0`.
    pub x: *const f32,
    /// Distance between consecutive prepared rows.
    pub x_row: usize,
    /// Offsets of the 3 kernel tap columns in a prepared row.
    pub taps: [usize; 3],
    /// The channel's 9 filter values, row-major.
    pub w: *const f32,
    /// Output of the first row, column `q0`.
    pub y: *mut f32,
    /// Distance between output rows (`Q`).
    pub y_mstride: usize,
    /// Valid output columns in this tile (`1..=NV·LANES`).
    pub q_valid: usize,
    /// The channel's bias.
    pub bias: Option<f32>,
    /// Fused activation.
    pub act: Activation,
}

/// Computes one tile.
///
/// Register plan (AVX-512, `MR = 4`, `NV = 4`, stride 1): 16 accumulators, 9 broadcast
/// filter taps, one input vector in flight:
///
/// ```text
///   input row i, tap s, vector j  ──►  acc[i][j]   += x · w[0][s]   (output row i)
///                                      acc[i−1][j] += x · w[1][s]   (output row i − 1)
///                                      acc[i−2][j] += x · w[2][s]   (output row i − 2)
/// ```
///
/// # Safety
/// The [`F32Vector`] contract must hold; `x` must be readable for `NV·LANES` lanes at every
/// tap offset of the `(MR − 1)·SH + 3` rows `x_row` apart, `w` for 9 values and `y` writable
/// for `q_valid` values of `MR` rows `y_mstride` apart.
#[inline(always)]
pub(crate) unsafe fn dwconv_3x3_tile<
    V: F32Vector,
    const MR: usize,
    const NV: usize,
    const SH: usize,
>(
    t: &Dw3x3Tile,
) {
    // SAFETY: (whole body) every access is covered by the contract above.
    unsafe {
        let mut w = [V::zero(); 9];
        for (i, wi) in w.iter_mut().enumerate() {
            *wi = V::splat(*t.w.add(i));
        }
        let mut acc = [[V::zero(); NV]; MR];
        for i in 0..(MR - 1) * SH + 3 {
            let xr = t.x.add(i * t.x_row);
            for s in 0..3 {
                let xs = xr.add(t.taps[s]);
                for j in 0..NV {
                    let x = V::load(xs.add(j * V::LANES));
                    for (m, row) in acc.iter_mut().enumerate() {
                        // Output row m reads input rows m·SH .. m·SH + 2 (kernel row i − m·SH).
                        if i >= m * SH && i - m * SH < 3 {
                            row[j] = x.mul_add(w[(i - m * SH) * 3 + s], row[j]);
                        }
                    }
                }
            }
        }
        let b = t.bias.map(|b| V::splat(b));
        for (m, row) in acc.iter().enumerate() {
            let y = t.y.add(m * t.y_mstride);
            for (j, a) in row.iter().enumerate() {
                let start = j * V::LANES;
                if start >= t.q_valid {
                    break;
                }
                let mut v = *a;
                if let Some(b) = b {
                    v = v.add(b);
                }
                let v = activate::<V>(v, t.act);
                let n = t.q_valid - start;
                if n >= V::LANES {
                    v.store(y.add(start));
                } else {
                    v.store_first(y.add(start), n);
                }
            }
        }
    }
}
