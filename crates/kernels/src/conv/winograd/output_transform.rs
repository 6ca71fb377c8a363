//! Output side: `Y = Aᵀ M A` for a vector of adjacent tiles, fused with bias and activation,
//! then re-interleaved into the NCHW output rows (partial tiles clipped at the borders).

use super::input_transform::dot;
use super::transforms::WinogradTile;
use super::unroll::unroll8;
use crate::epilogue::{activate, activate_each, Activation};
use crate::simd::F32Vector;

/// Where a unit's output tiles go, in one output channel.
pub(crate) struct OutTiles {
    /// The channel's first output row of the unit.
    pub(crate) ptr: *mut f32,
    /// Output row length `Q` (also the row stride).
    pub(crate) cols: usize,
    /// Output rows of the unit (`≤ tile_rows · m`; the last tile row may be clipped).
    pub(crate) rows: usize,
    /// Tiles per tile row (`⌈Q / m⌉`) and the column numbering's pitch (`≥ tiles_x`).
    pub(crate) tiles_x: usize,
    pub(crate) pitch: usize,
}

/// Output transform of one vector of tiles (columns `t0 .. t0 + LANES`) of one output channel.
///
/// ```text
///   M[ξ][lanes], ξ = i·α + j   (α² consecutive vectors, one per transform point)
///   row pass:     u[i][o] = Σ_j Aᵀ[o][j] · M[i][j]         (α × m)
///   column pass:  y[p][o] = Σ_i Aᵀ[p][i] · u[i][o]         (m × m)
///   y = act(y + bias)  ─►  lane of column t = ty·pitch + tx to out[ty·m + p][tx·m + o]
/// ```
///
/// Lanes whose column is no tile of the unit (`tx ≥ tiles_x`, or past the last tile row)
/// are dropped; tiles at the right and bottom borders are clipped.
///
/// # Safety
/// `mat[..α²·LANES]` readable; `out.ptr` valid for `out.rows` rows of `out.cols` elements at
/// stride `out.cols`, with `out.tiles_x = ⌈out.cols / m⌉`; `buf` writable for `m · m ·
/// LANES` elements (a staging area the caller keeps, so it is not re-initialised per call);
/// the [`F32Vector`] contract must hold.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn output_tiles<V: F32Vector, T: WinogradTile>(
    mat: *const f32,
    t0: usize,
    bias: f32,
    activation: Activation,
    out: &OutTiles,
    buf: *mut f32,
) {
    let (a, m, l) = (T::ALPHA, T::M, V::LANES);
    // SAFETY: (whole body) reads as the caller guarantees; every write is checked against
    // `out.rows` and `out.cols` before it is made; `buf` as the caller guarantees.
    unsafe {
        // u[o][i] (transposed, so the column pass reads a row).
        let mut u = [[V::zero(); 8]; 8];
        unroll8!(i < a, {
            let mut s = [V::zero(); 8];
            unroll8!(j < a, {
                s[j] = V::load(mat.add((i * a + j) * l));
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
                y.store(buf.add((p * m + o) * l));
            });
        });
        // One activation loop (not m² inlined copies of it), four vectors at a time
        // (interleaved chains; m² is 4, 16 or 36).
        if activation != Activation::Identity {
            if V::LANES == 1 {
                // One at a time at one lane (the Cortex-M4 build: code size, nothing to
                // overlap).
                for i in 0..m * m {
                    let p = buf.add(i * l);
                    activate::<V>(V::load(p), activation).store(p);
                }
            } else {
                for i in (0..m * m).step_by(4) {
                    let mut v = [V::zero(); 4];
                    for (j, v) in v.iter_mut().enumerate() {
                        *v = V::load(buf.add((i + j) * l));
                    }
                    activate_each(&mut v, activation);
                    for (j, v) in v.iter().enumerate() {
                        v.store(buf.add((i + j) * l));
                    }
                }
            }
        }
        // Scatter. Lane `lane` is tile (ty, tx), each of its m rows m consecutive outputs.
        // The lanes go in runs that share a tile row (one run when row-aligned, up to
        // ⌈LANES / tiles_x⌉ + 1 in flat numbering): a run's whole tiles are, per output row,
        // one contiguous stretch, an m × run transpose with constant m (vectorised by LLVM);
        // a clipped last tile goes element by element.
        let (mut ty, mut tx) = (t0 / out.pitch, t0 % out.pitch);
        let mut lane = 0;
        while lane < l {
            let y0 = ty * m;
            if y0 >= out.rows {
                break;
            }
            let run = (out.pitch - tx).min(l - lane);
            let tiles = out.tiles_x.saturating_sub(tx).min(run);
            if tiles > 0 {
                let x0 = tx * m;
                let rows = (out.rows - y0).min(m);
                let whole = ((out.cols - x0) / m).min(tiles);
                for p in 0..rows {
                    let dst = out.ptr.add((y0 + p) * out.cols + x0);
                    let src = buf.add(p * m * l + lane);
                    let d = core::slice::from_raw_parts_mut(dst, whole * m);
                    for (i, d) in d.chunks_exact_mut(m).enumerate() {
                        unroll8!(o < m, {
                            d[o] = *src.add(o * l + i);
                        });
                    }
                    if whole < tiles {
                        // The clipped tile at the right border.
                        for o in 0..out.cols - x0 - whole * m {
                            *dst.add(whole * m + o) = *src.add(o * l + whole);
                        }
                    }
                }
            }
            lane += run;
            tx += run;
            if tx == out.pitch {
                tx = 0;
                ty += 1;
            }
        }
    }
}
