//! Output side: `Y = Aᵀ M A` for a vector of adjacent tiles, fused with bias and activation,
//! then re-interleaved into the NCHW output rows (partial tiles clipped at the borders).

use super::input_transform::dot;
use super::transforms::WinogradTile;
use super::unroll::unroll8;
use crate::epilogue::{activate, Activation};
use crate::simd::F32Vector;

/// Where one output tile row goes.
pub(crate) struct OutRows {
    /// First element of the tile row's first output row in this channel.
    pub(crate) ptr: *mut f32,
    /// Output row length `Q` (also the row stride).
    pub(crate) cols: usize,
    /// Output rows of this tile row that exist (`≤ m`, fewer at the bottom border).
    pub(crate) rows: usize,
}

/// Output transform of tiles `tx0..tx0+n` of one tile row of one output channel.
///
/// ```text
///   M[ξ][t0 .. t0+LANES], ξ = i·α + j   (α² vectors, one per transform point)
///   row pass:     u[i][o] = Σ_j Aᵀ[o][j] · M[i][j]         (α × m)
///   column pass:  y[p][o] = Σ_i Aᵀ[p][i] · u[i][o]         (m × m)
///   y = act(y + bias)  ─►  lanes to out[p][(tx0 + lane)·m + o], clipped to `cols`
/// ```
///
/// # Safety
/// `mat + ξ·xi_stride + [0, LANES)` readable for every `ξ < α²`; `rows.ptr` valid for
/// `rows.rows` rows of `rows.cols` elements at stride `rows.cols`; `tx0 < ⌈cols / m⌉`;
/// `buf` writable for `m · m · LANES` elements (a staging area the caller keeps, so it is not
/// re-initialised per call); the [`F32Vector`] contract must hold.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn output_tiles<V: F32Vector, T: WinogradTile>(
    mat: *const f32,
    xi_stride: usize,
    tx0: usize,
    n: usize,
    bias: f32,
    activation: Activation,
    rows: &OutRows,
    buf: *mut f32,
) {
    let (a, m) = (T::ALPHA, T::M);
    // SAFETY: (whole body) reads as the caller guarantees; every write is checked against
    // `rows.rows` and `rows.cols` before it is made; `buf` as the caller guarantees.
    unsafe {
        // u[o][i] (transposed, so the column pass reads a row).
        let mut u = [[V::zero(); 8]; 8];
        unroll8!(i < a, {
            let mut s = [V::zero(); 8];
            unroll8!(j < a, {
                s[j] = V::load(mat.add((i * a + j) * xi_stride));
            });
            unroll8!(o < m, {
                u[o][i] = dot::<V>(&T::AT[o * a..(o + 1) * a], &s);
            });
        });
        let b = V::splat(bias);
        // y[p][o] for one lane group, stored lane-major so the interleave reads it by tile.
        unroll8!(o < m, {
            unroll8!(p < m, {
                let y = dot::<V>(&T::AT[p * a..(p + 1) * a], &u[o]).add(b);
                y.store(buf.add((p * m + o) * V::LANES));
            });
        });
        // One activation loop (not m² inlined copies of it).
        if activation != Activation::Identity {
            for i in 0..rows.rows * m {
                let p = buf.add(i * V::LANES);
                activate::<V>(V::load(p), activation).store(p);
            }
        }
        let x0 = tx0 * m;
        let width = (n * m).min(rows.cols - x0);
        for p in 0..rows.rows {
            let dst = core::slice::from_raw_parts_mut(rows.ptr.add(p * rows.cols + x0), width);
            for (x, d) in dst.iter_mut().enumerate() {
                *d = *buf.add((p * m + x % m) * V::LANES + x / m);
            }
        }
    }
}
