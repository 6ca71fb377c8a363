//! Input side: deinterleave one channel's input strip by tile phase, then `V = Bᵀ d B` for a
//! vector of horizontally adjacent tiles at once.

use super::layout::WinogradLayout;
use super::transforms::WinogradTile;
use super::unroll::unroll8;
use crate::simd::F32Vector;

/// Copies the input rows one unit needs of one channel into `strip` as `[row][phase][j]`:
/// `strip[(r·m + p)·xw + j] = x[y0 + r][j·m + p − left]`, zero outside the image (the padding).
/// Tile `tx` of row `r` then reads column `k` of its input tile at phase `k mod m`, index
/// `tx + k div m`: contiguous across tiles, so one vector load serves `LANES` tiles.
///
/// `plane` is the channel's `H × W` plane; `y0` may be negative (top padding).
///
/// Generic over the tile so the phase stride `m` is a constant: LLVM then vectorises the
/// strided copy with shuffles (interleaved-access vectorisation) instead of scalar moves; it is
/// inlined into the SIMD-level kernel for the same reason.
#[inline(always)]
pub(crate) fn deinterleave_strip<T: WinogradTile>(
    layout: &WinogradLayout,
    plane: &[f32],
    width: usize,
    y0: isize,
    left: usize,
    strip: &mut [f32],
) {
    let (m, xw) = (T::M, layout.xw);
    let height = plane.len() / width;
    for r in 0..layout.strip_rows {
        let rows = &mut strip[r * m * xw..(r + 1) * m * xw];
        let y = y0 + r as isize;
        if y < 0 || y as usize >= height {
            rows.fill(0.0);
            continue;
        }
        let src = &plane[y as usize * width..][..width];
        // Phase p is inside the image for j in lo(p)..hi(p); lo falls and hi falls with p, so
        // every phase is inside for j in lo(0)..hi(m − 1): that interior is copied in one
        // loop over j with all m phases unrolled, which reads `src` contiguously (LLVM
        // vectorises it as an interleaved load); the few border columns go one by one.
        let lo = |p: usize| left.saturating_sub(p).div_ceil(m).min(xw);
        let hi = |p: usize| {
            (width + left)
                .saturating_sub(p)
                .div_ceil(m)
                .clamp(lo(p), xw)
        };
        let (jlo, jhi) = (lo(0), hi(m - 1).max(lo(0)));
        for (p, dst) in rows.chunks_exact_mut(xw).enumerate() {
            let (lo, hi) = (lo(p), hi(p));
            dst[..lo].fill(0.0);
            dst[hi..].fill(0.0);
            for j in (lo..hi).filter(|j| *j < jlo || *j >= jhi) {
                dst[j] = src[j * m + p - left];
            }
        }
        if jhi > jlo {
            let x0 = jlo * m - left;
            let inner = &src[x0..x0 + (jhi - jlo) * m];
            let dst = rows[jlo..].as_mut_ptr();
            for (j, s) in inner.chunks_exact(T::M).enumerate() {
                unroll8!(p < T::M, {
                    // SAFETY: j < jhi − jlo ≤ xw − jlo, so p·xw + jlo + j < m·xw = rows.len().
                    unsafe { *dst.add(p * xw + j) = s[p] };
                });
            }
        }
    }
}

/// Sum of `coeffs[k]·x[k]` over the nonzero constant coefficients (`±1` as add/sub). Starts
/// from `−0.0`, the additive identity, so with constant coefficients the compiler folds it
/// into the exact sequence of adds, subs and FMAs.
///
/// # Safety
/// The [`F32Vector`] contract must hold.
#[inline(always)]
pub(crate) unsafe fn dot<V: F32Vector>(coeffs: &[f32], x: &[V; 8]) -> V {
    // SAFETY: (whole body) lane-wise arithmetic under the forwarded contract.
    unsafe {
        let mut acc = V::splat(-0.0);
        let n = coeffs.len();
        unroll8!(k < n, {
            let c = coeffs[k];
            if c == 1.0 {
                acc = acc.add(x[k]);
            } else if c == -1.0 {
                acc = acc.sub(x[k]);
            } else if c != 0.0 {
                acc = x[k].mul_add(V::splat(c), acc);
            }
        });
        acc
    }
}

/// Transforms `n ≤ LANES` adjacent tiles (`tx0..tx0+n` of one tile row) of one channel.
///
/// ```text
///   strip rows r = 0..α ─► d[k] = load(strip[r][k mod m][tx0 + k div m .. +LANES])  (α vectors)
///   row pass:     t[r][l] = Σ_k Bᵀ[l][k] · d[k]            (α × α vectors on the stack)
///   column pass:  v[i][l] = Σ_r Bᵀ[i][r] · t[r][l]  ─►  V[ξ = i·α + l][c][t0 .. t0+n]
/// ```
///
/// # Safety
/// `strip` must point at the tile row's first strip row with `α` rows of `m · xw` readable
/// elements each and `tx0 + 1 + LANES ≤ xw`; `out + ξ·xi_stride + [0, n)` must be writable
/// for every `ξ < α²`; the [`F32Vector`] contract must hold.
#[inline(always)]
pub(crate) unsafe fn input_tiles<V: F32Vector, T: WinogradTile>(
    strip: *const f32,
    xw: usize,
    tx0: usize,
    n: usize,
    out: *mut f32,
    xi_stride: usize,
) {
    let (a, m) = (T::ALPHA, T::M);
    // SAFETY: (whole body) reads stay in the α strip rows (k mod m < m phases, index
    // tx0 + k div m + LANES ≤ xw); writes are the n lanes of each ξ row the caller provides.
    unsafe {
        let mut t = [[V::zero(); 8]; 8];
        unroll8!(r < a, {
            let mut d = [V::zero(); 8];
            unroll8!(k < a, {
                d[k] = V::load(strip.add((r * m + k % m) * xw + tx0 + k / m));
            });
            unroll8!(l < a, {
                t[l][r] = dot::<V>(&T::BT[l * a..(l + 1) * a], &d);
            });
        });
        unroll8!(l < a, {
            unroll8!(i < a, {
                let v = dot::<V>(&T::BT[i * a..(i + 1) * a], &t[l]);
                let dst = out.add((i * a + l) * xi_stride);
                if n == V::LANES {
                    v.store(dst);
                } else {
                    v.store_partial(dst, n);
                }
            });
        });
    }
}
