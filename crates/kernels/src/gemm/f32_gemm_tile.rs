//! The register-tile micro-kernel, written once over [`F32Vector`] with the tile size as
//! const generics: `MR` rows of `C` (output channels) × `NV` vectors of columns (pixels).
//!
//! Per ISA the plan uses the largest tile of [`super::Blocking`] (AVX-512 8×3·16, AVX2 6×2·8,
//! NEON 8×3·4, SSE2/portable 4×2); partial tiles at the bottom or right edge of `C` run a
//! smaller instantiation (`mr < MR` rows, `nv < NV` vectors, the last vector masked), so no
//! lane of `C` outside the matrix is ever read or written and no work is wasted on whole
//! padding vectors. [`tile_dispatch`] picks the instantiation.

use crate::epilogue::{activate, Activation};
use crate::simd::F32Vector;

/// Where a tile's result goes and what is done to it on the way.
#[derive(Clone, Copy)]
pub(crate) struct TileOut {
    /// Top-left element of the tile in `C`.
    pub c: *mut f32,
    /// Distance between rows of `C` (output channel stride).
    pub ldc: usize,
    /// Valid columns of the tile: `(nv−1)·LANES < n <= nv·LANES`.
    pub n: usize,
    /// Add the tile to what `C` holds (a depth block after the first).
    pub accumulate: bool,
    /// Last depth block: add the bias and apply the activation before the store.
    pub finish: bool,
    /// Per-row bias (`mr` values from here) or null for none; read only when `finish`.
    pub bias: *const f32,
    /// The fused activation, applied only when `finish`.
    pub activation: Activation,
}

/// One `MR × NV·LANES` tile: `C (+)= A·B` over `kc` depth steps, with the fused epilogue.
///
/// Register plan (AVX-512, `MR = 8`, `NV = 3`: 24 accumulators, 3 B vectors, 1 broadcast):
///
/// ```text
///                 B row k (packed panel, NR = 48 pixels)
///                 +----------+----------+----------+
///                 |  b0 zmm  |  b1 zmm  |  b2 zmm  |   loaded once per k
///                 +----------+----------+----------+
///  A[0][k] bcast  | acc 0,0  | acc 0,1  | acc 0,2  |
///  A[1][k] bcast  | acc 1,0  | acc 1,1  | acc 1,2  |
///    ...          |   ...    |   ...    |   ...    |   acc r,j += bcast(A[r][k]) · b_j
///  A[7][k] bcast  | acc 7,0  | acc 7,1  | acc 7,2  |
///                 +----------+----------+----------+
/// ```
///
/// `A[r][k]` is read from `a + r·lda + k` (the weight rows themselves: `MR` sequential
/// streams, no packing), `B[k][..]` from `b + k·ldb`.
///
/// # Safety
/// The [`F32Vector`] contract must hold. `a + r·lda + [0, kc)` must be readable for
/// `r < MR`; `b + k·ldb + [0, NV·LANES)` readable for `k < kc`; `out.c + r·ldc + [0, out.n)`
/// readable and writable for `r < MR`; `out.bias[..MR]` readable if non-null and `finish`;
/// `0 < out.n <= NV·LANES`.
#[inline(always)]
pub(crate) unsafe fn tile<V: F32Vector, const MR: usize, const NV: usize>(
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    out: &TileOut,
) {
    // SAFETY: (whole body) every pointer offset stays inside the ranges the caller
    // guarantees above; the last vector of a row is masked to `out.n` columns.
    unsafe {
        let mut acc = [[V::zero(); NV]; MR];
        let mut rows = [a; MR];
        for (r, row) in rows.iter_mut().enumerate() {
            *row = a.add(r * lda);
        }
        let mut b = b;
        for k in 0..kc {
            let mut bv = [V::zero(); NV];
            for (j, v) in bv.iter_mut().enumerate() {
                *v = V::load(b.add(j * V::LANES));
            }
            for (acc_row, row) in acc.iter_mut().zip(&rows) {
                let av = V::splat(*row.add(k));
                for (x, &bj) in acc_row.iter_mut().zip(&bv) {
                    *x = av.mul_add(bj, *x);
                }
            }
            b = b.add(ldb);
        }
        let last = out.n - (NV - 1) * V::LANES;
        for (r, acc_row) in acc.iter().enumerate() {
            let c = out.c.add(r * out.ldc);
            let bias = if out.finish && !out.bias.is_null() {
                V::splat(*out.bias.add(r))
            } else {
                V::zero()
            };
            for (j, &x) in acc_row.iter().enumerate() {
                let p = c.add(j * V::LANES);
                let full = j + 1 < NV || last == V::LANES;
                let mut x = x;
                if out.accumulate {
                    let old = if full {
                        V::load(p)
                    } else {
                        V::load_partial(p, last)
                    };
                    x = old.add(x);
                }
                if out.finish {
                    x = activate::<V>(x.add(bias), out.activation);
                }
                if full {
                    x.store(p);
                } else {
                    x.store_partial(p, last);
                }
            }
        }
    }
}

/// Runs the `mr × nv` instantiation of [`tile`] (`1 <= mr <= 8`, `1 <= nv <= NV_MAX <= 3`;
/// other values do nothing).
///
/// # Safety
/// As for [`tile`] with `MR = mr`, `NV = nv`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn tile_dispatch<V: F32Vector, const NV_MAX: usize>(
    mr: usize,
    nv: usize,
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    out: &TileOut,
) {
    macro_rules! rows {
        ($mr:literal) => {
            match nv {
                1 => tile::<V, $mr, 1>(kc, a, lda, b, ldb, out),
                2 if NV_MAX >= 2 => tile::<V, $mr, 2>(kc, a, lda, b, ldb, out),
                3 if NV_MAX >= 3 => tile::<V, $mr, 3>(kc, a, lda, b, ldb, out),
                _ => {}
            }
        };
    }
    // SAFETY: forwarded contract; the arms only fix the const parameters.
    unsafe {
        match mr {
            1 => rows!(1),
            2 => rows!(2),
            3 => rows!(3),
            4 => rows!(4),
            5 => rows!(5),
            6 => rows!(6),
            7 => rows!(7),
            8 => rows!(8),
            _ => {}
        }
    }
}
