//! The transform-domain GEMM micro-kernel: `M[k0..k0+MR][t0..t0+NV·LANES] = U · V` over the
//! group's input channels, `U` packed `[c][MR]` (see `filter_transform`), `V` row-major with
//! the tile index contiguous, `M` written a vector at a time (rows `out_stride` apart,
//! consecutive vectors of a row `vec_stride` apart: the output transform's layout).
//!
//! ```text
//!                  V[c][t0 ..]:   b0        b1        b2       (NV ≤ 3 vector loads per c)
//!   U[c][0]   bcast  ─►  acc[0][0] acc[0][1] acc[0][2]
//!   U[c][1]   bcast  ─►  acc[1][0] acc[1][1] acc[1][2]
//!    ...                  ...       (MR × NV accumulators: 8 × 3 = 24 zmm at AVX-512,
//!   U[c][MR−1] bcast ─►  acc[MR−1][·]        6 × 2 = 12 ymm/xmm at 16-register levels:
//!                                            4 × 3 spilled one accumulator, measured on AVX2)
//! ```

use crate::simd::F32Vector;

/// One `MR × NV·LANES` tile of the GEMM, written (not accumulated) to `out`.
///
/// # Safety
/// `u[..c_len·MR]` readable; `v + c·v_stride + [0, NV·LANES)` readable for `c < c_len`;
/// `out + r·out_stride + j·vec_stride + [0, LANES)` writable for `r < MR`, `j < NV`; the
/// [`F32Vector`] contract.
#[inline(always)]
pub(crate) unsafe fn gemm_tile<V: F32Vector, const MR: usize, const NV: usize>(
    u: *const f32,
    v: *const f32,
    v_stride: usize,
    c_len: usize,
    out: *mut f32,
    out_stride: usize,
    vec_stride: usize,
) {
    // SAFETY: (whole body) every access is inside the ranges the caller guarantees.
    unsafe {
        let mut acc = [[V::zero(); NV]; MR];
        let mut up = u;
        let mut vp = v;
        for _ in 0..c_len {
            let mut b = [V::zero(); NV];
            for (j, bj) in b.iter_mut().enumerate() {
                *bj = V::load(vp.add(j * V::LANES));
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let a = V::splat(*up.add(r));
                for (j, x) in row.iter_mut().enumerate() {
                    *x = a.mul_add(b[j], *x);
                }
            }
            up = up.add(MR);
            vp = vp.add(v_stride);
        }
        for (r, row) in acc.iter().enumerate() {
            for (j, x) in row.iter().enumerate() {
                x.store(out.add(r * out_stride + j * vec_stride));
            }
        }
    }
}

/// `M[0..k_pad][0..t_len] = U · V` for one transform point: column blocks of `NV_MAX` (≤ 3)
/// vectors while they fit, then fewer; row blocks of `MR`. `t_len` is a multiple of `LANES`, `k_pad` of `MR`.
///
/// # Safety
/// As [`gemm_tile`] for every block: `u[..k_pad·c_len]`, `v` rows of `t_len` at `v_stride`
/// for `c < c_len`, `out` rows of `t_len / LANES` vectors `vec_stride` apart, rows
/// `out_stride` apart, for `k < k_pad`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm<V: F32Vector, const MR: usize, const NV_MAX: usize>(
    u: *const f32,
    v: *const f32,
    v_stride: usize,
    c_len: usize,
    out: *mut f32,
    out_stride: usize,
    vec_stride: usize,
    k_pad: usize,
    t_len: usize,
) {
    let l = V::LANES;
    let mut t = 0;
    // SAFETY: (whole body) each block lies within the `k_pad × t_len` output and reads the
    // matching `U` panel and `V` columns, as the caller guarantees.
    unsafe {
        while t < t_len {
            let nv = ((t_len - t) / l).min(NV_MAX);
            let mut k = 0;
            while k < k_pad {
                let up = u.add(k * c_len);
                let vp = v.add(t);
                let op = out.add(k * out_stride + t / l * vec_stride);
                let (os, vs) = (out_stride, vec_stride);
                match nv {
                    3 => gemm_tile::<V, MR, 3>(up, vp, v_stride, c_len, op, os, vs),
                    2 => gemm_tile::<V, MR, 2>(up, vp, v_stride, c_len, op, os, vs),
                    _ => gemm_tile::<V, MR, 1>(up, vp, v_stride, c_len, op, os, vs),
                }
                k += MR;
            }
            t += nv * l;
        }
    }
}
