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
/// The padding positions (rows outside the image, columns left of and right of it) are the
/// same for every channel of a unit: `zero_padding` writes their zeros, and the unit's other
/// channels pass `false` and write only the image's elements (one `memset` per phase row and
/// channel was about a tenth of a 14×14 F(4,3) layer's transform samples in `perf`).
///
/// Generic over the tile so the phase stride `m` is a constant. For m = 2 and 4 the interior
/// goes `LANES` tiles at a time through [`F32Vector::deinterleave`] (LLVM's interleaved-access
/// vectorisation left it as scalar moves at AVX-512, about a tenth of a 28×28 F(4,3) layer
/// in `perf`), the last vector moved back to end at the interior's end; m = 6, narrower
/// interiors and the border columns are copied one by one.
///
/// # Safety
/// The [`F32Vector`] contract must hold.
#[inline(always)]
pub(crate) unsafe fn deinterleave_strip<V: F32Vector, T: WinogradTile>(
    layout: &WinogradLayout,
    plane: &[f32],
    width: usize,
    y0: isize,
    left: usize,
    strip: &mut [f32],
    zero_padding: bool,
) {
    let (m, xw) = (T::M, layout.xw);
    let height = plane.len() / width;
    for r in 0..layout.strip_rows {
        let rows = &mut strip[r * m * xw..(r + 1) * m * xw];
        let y = y0 + r as isize;
        if y < 0 || y as usize >= height {
            if zero_padding {
                rows.fill(0.0);
            }
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
            if zero_padding {
                dst[..lo].fill(0.0);
                dst[hi..].fill(0.0);
            }
            for j in (lo..hi).filter(|j| *j < jlo || *j >= jhi) {
                dst[j] = src[j * m + p - left];
            }
        }
        if jhi > jlo {
            let x0 = jlo * m - left;
            let n = jhi - jlo;
            let inner = &src[x0..x0 + n * m];
            let dst = rows[jlo..].as_mut_ptr();
            let mut j = 0;
            let l = V::LANES;
            if (m == 2 || m == 4) && n >= l {
                // LANES tiles at a time: m whole vectors in, one vector per phase out, split
                // by one (m = 2) or two (m = 4) rounds of even/odd deinterleaving. The last
                // vector is moved back to end at n: it rewrites a few columns with the same
                // values instead of leaving up to LANES − 1 of them to the scalar loop.
                let mut next = 0;
                loop {
                    let at = next.min(n - l);
                    // SAFETY: reads inner[at·m .. (at + LANES)·m] ⊂ inner (at + LANES ≤ n);
                    // writes phase p's columns jlo + at .. jlo + at + LANES ≤ jhi ≤ xw of rows.
                    unsafe {
                        let s = inner.as_ptr().add(at * m);
                        let (e0, o0) = V::load(s).deinterleave(V::load(s.add(l)));
                        if m == 2 {
                            e0.store(dst.add(at));
                            o0.store(dst.add(xw + at));
                        } else {
                            let (e1, o1) =
                                V::load(s.add(2 * l)).deinterleave(V::load(s.add(3 * l)));
                            let (p0, p2) = e0.deinterleave(e1);
                            let (p1, p3) = o0.deinterleave(o1);
                            p0.store(dst.add(at));
                            p1.store(dst.add(xw + at));
                            p2.store(dst.add(2 * xw + at));
                            p3.store(dst.add(3 * xw + at));
                        }
                    }
                    if at + l == n {
                        break;
                    }
                    next = at + l;
                }
                j = n;
            }
            for (j, s) in inner.chunks_exact(T::M).enumerate().skip(j) {
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

/// Where the input transform reads a vector of tiles: element `(r, k)` of the `LANES` tiles'
/// input windows is the vector at `base + r·row + (k mod m)·phase + (k div m)·shift`.
///
/// - Row-aligned numbering: `base` is the strip at the tile row's first row and first tile,
///   `row = m·xw`, `phase = xw`, `shift = 1` (the next tile's phase).
/// - Flat numbering: `base` is the tile buffer at the vector's first tile, `row = α·t_stride`,
///   `phase = t_stride`, `shift = m·t_stride` (element `(r, k)` is row `r·α + k`).
#[derive(Clone, Copy)]
pub(crate) struct TileSource {
    pub(crate) base: *const f32,
    pub(crate) row: usize,
    pub(crate) phase: usize,
    pub(crate) shift: usize,
}

/// Copies one channel's input tiles from the strip into the tile buffer (flat numbering):
/// `tiles[(r·α + k)·t_stride + ty·tiles_x + tx] = strip[ty·m + r][k mod m][tx + k div m]`.
/// Each tile row's `tiles_x` elements are copied as whole vectors in increasing `ty`, so a
/// vector's spill past the row is overwritten by the next row; lanes past the unit's last tile
/// read the strip's zero columns, and the last vector of each row of the buffer is zeroed
/// first, so every lane the transforms read holds a finite value.
///
/// # Safety
/// `strip` holds `tile_rows·m + 2` rows of `m·xw` elements, `tiles` holds `α²` rows of
/// `t_stride` elements, with `tile_rows·tiles_x` rounded up to `LANES`, plus `LANES`, at most
/// `t_stride`, and `tiles_x` rounded up to `LANES`, plus 1, at most `xw`; the [`F32Vector`]
/// contract must hold.
#[inline(always)]
pub(crate) unsafe fn gather_tiles<V: F32Vector, T: WinogradTile>(
    strip: *const f32,
    xw: usize,
    tile_rows: usize,
    tiles_x: usize,
    tiles: *mut f32,
    t_stride: usize,
) {
    let (a, m, l) = (T::ALPHA, T::M, V::LANES);
    let last = (tile_rows * tiles_x).div_ceil(l) * l - l;
    let vectors = tiles_x.div_ceil(l);
    // SAFETY: (whole body) reads: strip row ty·m + r < tile_rows·m + 2, phase k mod m < m,
    // column k div m + vectors·LANES ≤ 1 + round_up(tiles_x, LANES) ≤ xw. Writes: row r·α + k
    // < α², column ty·tiles_x + vectors·LANES ≤ tile_rows·tiles_x + LANES ≤ t_stride, and
    // last + LANES ≤ t_stride.
    unsafe {
        for rk in 0..a * a {
            V::zero().store(tiles.add(rk * t_stride + last));
        }
        for ty in 0..tile_rows {
            unroll8!(r < a, {
                unroll8!(k < a, {
                    let src = strip.add(((ty * m + r) * m + k % m) * xw + k / m);
                    let dst = tiles.add((r * a + k) * t_stride + ty * tiles_x);
                    for v in 0..vectors {
                        V::load(src.add(v * l)).store(dst.add(v * l));
                    }
                });
            });
        }
    }
}

/// Transforms one vector of `LANES` tiles of one channel and stores all `LANES` lanes.
///
/// ```text
///   rows r = 0..α ─► d[k] = element (r, k) of the LANES tiles (see TileSource)  (α vectors)
///   row pass:     t[r][l] = Σ_k Bᵀ[l][k] · d[k]            (α × α vectors on the stack)
///   column pass:  v[i][l] = Σ_r Bᵀ[i][r] · t[r][l]  ─►  V[ξ = i·α + l][c][t0 .. t0+LANES]
/// ```
///
/// # Safety
/// Every vector `src` describes for `r, k < α` must be readable; `out + ξ·xi_stride +
/// [0, LANES)` must be writable for every `ξ < α²`; the [`F32Vector`] contract must hold.
#[inline(always)]
#[allow(unused_assignments)] // the pointer's last step past the final ξ row
pub(crate) unsafe fn input_tiles<V: F32Vector, T: WinogradTile>(
    src: TileSource,
    out: *mut f32,
    xi_stride: usize,
) {
    let (a, m) = (T::ALPHA, T::M);
    // SAFETY: (whole body) reads are the vectors the caller guarantees; writes are whole
    // vectors of the ξ rows the caller provides, made in increasing ξ through one pointer.
    unsafe {
        let mut t = [[V::zero(); 8]; 8];
        unroll8!(r < a, {
            let mut d = [V::zero(); 8];
            unroll8!(k < a, {
                d[k] = V::load(
                    src.base
                        .add(r * src.row + (k % m) * src.phase + (k / m) * src.shift),
                );
            });
            unroll8!(l < a, {
                t[l][r] = dot::<V>(&T::BT[l * a..(l + 1) * a], &d);
            });
        });
        let mut dst = out;
        unroll8!(i < a, {
            unroll8!(l < a, {
                dot::<V>(&T::BT[i * a..(i + 1) * a], &t[l]).store(dst);
                dst = dst.wrapping_add(xi_stride);
            });
        });
    }
}
