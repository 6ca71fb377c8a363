//! `f32_dwconv_{MR}x{NV}v`: one depthwise channel, `MR` output rows × `NV` vectors of output
//! pixels, every kernel tap accumulated in registers, then `act(acc + bias)` and stored.
//!
//! Generic over the vector type (one instantiation per ISA through
//! [`crate::simd::dispatch`]), the tile (`MR`, `NV`) and the kernel size `R×S` (3×3 and 5×5
//! unrolled; `0` reads the size at run time). Stride and dilation are in the tap offsets and
//! row steps, which index the prepared rows of [`crate::conv::direct::prepare`].

use crate::epilogue::{activate, Activation};
use crate::simd::F32Vector;

/// Largest kernel width whose tap offsets are tabulated (wider kernels are rejected by the
/// depthwise plan and go to the direct path).
pub(crate) const MAX_TAPS: usize = 16;

/// One tile call's operands. Pointers are set by the driver (`super::run_units`).
#[derive(Clone, Copy)]
pub(crate) struct DwTile {
    /// Prepared row of the first output row's first kernel row, column `q0`.
    pub x: *const f32,
    /// Distance between consecutive output rows' first input rows (`sh` prepared rows).
    pub x_mstride: usize,
    /// Distance between consecutive kernel rows (`dh` prepared rows).
    pub x_rstride: usize,
    /// The channel's `R·S` filter.
    pub w: *const f32,
    /// Kernel height and width.
    pub r_len: usize,
    /// Kernel width.
    pub s_len: usize,
    /// Offsets of the kernel tap columns in a prepared row.
    pub taps: [usize; MAX_TAPS],
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
/// Register plan (AVX2, `MR = 2`, `NV = 4`: 8 accumulators; input vectors are FMA memory
/// operands, one broadcast weight per tap shared by all 8):
///
/// ```text
///                   x[q0..+8)  x[+8..+16)  x[+16..+24)  x[+24..+32)   (row p·sh + r·dh)
///   row p   :  w[r][s] × acc00     acc01       acc02        acc03
///   row p+1 :  w[r][s] × acc10     acc11       acc12        acc13     (row (p+1)·sh + r·dh)
/// ```
///
/// Summation order per output element: kernel row, kernel column (the reference's), bias last;
/// padding taps multiply prepared zeros, which adds exact zeros.
///
/// # Safety
/// The [`F32Vector`] contract must hold; `x` must be readable for `NV·LANES` lanes at every tap
/// offset of rows `m·x_mstride + r·x_rstride` (`m < MR`, `r < R`), `w` for `R·S` values and
/// `y` writable for `q_valid` values of `MR` rows `y_mstride` apart.
#[inline(always)]
pub(crate) unsafe fn dwconv_tile<
    V: F32Vector,
    const MR: usize,
    const NV: usize,
    const R: usize,
    const S: usize,
>(
    t: &DwTile,
) {
    // SAFETY: (whole body) every access is covered by the contract above.
    unsafe {
        let mut acc = [[V::zero(); NV]; MR];
        let (r_len, s_len) = if R != 0 { (R, S) } else { (t.r_len, t.s_len) };
        for r in 0..r_len {
            let xr = t.x.add(r * t.x_rstride);
            let wr = t.w.add(r * s_len);
            for s in 0..s_len {
                let wv = V::splat(*wr.add(s));
                let xs = xr.add(t.taps[s]);
                for (m, row) in acc.iter_mut().enumerate() {
                    let xm = xs.add(m * t.x_mstride);
                    for (j, a) in row.iter_mut().enumerate() {
                        *a = V::load(xm.add(j * V::LANES)).mul_add(wv, *a);
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
