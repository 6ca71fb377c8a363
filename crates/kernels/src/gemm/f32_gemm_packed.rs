//! The packed-panel micro-kernel: `C[MR × NV·LANES] (+)= Apanel · Bpanel`, then the fused
//! bias + activation epilogue, written once over [`F32Vector`] with the tile as const
//! generics (AVX2+FMA 6×2·8, AVX-512 8×3·16, NEON 8×3·4, SSE2/portable 4×2).
//!
//! `A` comes packed in `MR`-row panels (depth step `k` holds the `MR` values of column `k`
//! contiguously, rows past the matrix zero), so the `MR` broadcasts of a step read one
//! cache line stream; `B` comes as `NV` vectors per depth step, `ldb` apart (a packed
//! `NR`-column panel with `ldb = NR`, or the image itself for 1×1 convolutions). The
//! kernel always computes the whole tile; the epilogue stores only the `rows × cols` part
//! inside `C`, so partial tiles cost no extra code path in the hot loop.

use crate::epilogue::{activate, Activation};
use crate::simd::F32Vector;

/// Where a tile's bias comes from.
#[derive(Clone, Copy)]
pub(crate) enum TileBias {
    /// No bias.
    None,
    /// One value per row of the tile (`rows` values from the pointer).
    Rows(*const f32),
    /// One value per column of the tile (`cols` values from the pointer).
    Columns(*const f32),
}

/// Where a tile's result goes and what is done to it on the way.
#[derive(Clone, Copy)]
pub(crate) struct PackedOut {
    /// Top-left element of the tile in `C`.
    pub c: *mut f32,
    /// Distance between rows of `C`.
    pub ldc: usize,
    /// Valid rows of the tile, `1..=MR`.
    pub rows: usize,
    /// Valid columns of the tile, `1..=NV·LANES`.
    pub cols: usize,
    /// Add the tile to what `C` holds.
    pub accumulate: bool,
    /// Last depth block: add the bias and apply the activation before the store.
    pub finish: bool,
    /// The bias, read only when `finish`.
    pub bias: TileBias,
    /// The fused activation, applied only when `finish`.
    pub activation: Activation,
}

/// One tile over `kc` depth steps. Register plan (AVX2+FMA, `MR = 6`, `NV = 2`: 12
/// accumulators, 2 B vectors, 1 broadcast = 15 of 16 `ymm`):
///
/// ```text
///                    B step k: ldb apart (packed: NR = 16 floats)
///                    +-----------+-----------+
///                    |  b0 ymm   |  b1 ymm   |     2 loads per step
///                    +-----------+-----------+
///  Apanel[k·6+0] bc  | acc 0,0   | acc 0,1   |
///  Apanel[k·6+1] bc  | acc 1,0   | acc 1,1   |     6 vbroadcastss from the packed
///        ...         |   ...     |   ...     |     A panel (one 24-byte run per step)
///  Apanel[k·6+5] bc  | acc 5,0   | acc 5,1   |     12 vfmadd231ps per step
///                    +-----------+-----------+
/// ```
///
/// The depth loop is unrolled by 4 (measured: fewer loop-carried pointer updates, the
/// front end keeps both FMA pipes busy).
///
/// # Safety
/// The [`F32Vector`] contract must hold. `a[..kc·MR]` readable; `b + k·ldb + [0, NV·LANES)`
/// readable for `k < kc`; `out.c + r·ldc + [0, out.cols)` readable and writable for
/// `r < out.rows`; `1 <= out.rows <= MR`, `1 <= out.cols <= NV·LANES`; the bias pointer (if
/// any) valid for `rows` (Rows) or `cols` (Columns) values when `finish`.
#[inline(always)]
pub(crate) unsafe fn kernel<V: F32Vector, const MR: usize, const NV: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    ldb: usize,
    out: &PackedOut,
) {
    // SAFETY: (whole body) every offset stays inside the ranges the caller guarantees: the
    // depth loops read `a[k·MR + r]`, `b[k·ldb + j·LANES ..+ LANES]` for `k < kc`, and the
    // epilogue touches only rows `< out.rows` and columns `< out.cols` (masked last vector).
    unsafe {
        let mut acc = [[V::zero(); NV]; MR];
        let mut a = a;
        let mut b = b;
        macro_rules! step {
            ($u:expr) => {{
                let bk = b.add($u * ldb);
                let mut bv = [V::zero(); NV];
                for (j, v) in bv.iter_mut().enumerate() {
                    *v = V::load(bk.add(j * V::LANES));
                }
                let ak = a.add($u * MR);
                for (r, acc_row) in acc.iter_mut().enumerate() {
                    let av = V::splat(*ak.add(r));
                    for (x, &bj) in acc_row.iter_mut().zip(&bv) {
                        *x = av.mul_add(bj, *x);
                    }
                }
            }};
        }
        let mut k = 0;
        while k + 4 <= kc {
            step!(0);
            step!(1);
            step!(2);
            step!(3);
            a = a.add(4 * MR);
            b = b.add(4 * ldb);
            k += 4;
        }
        while k < kc {
            step!(0);
            a = a.add(MR);
            b = b.add(ldb);
            k += 1;
        }
        store::<V, MR, NV>(acc, out);
    }
}

/// [`kernel`] over only the vectors that hold columns: a tile whose `out.cols` fit in fewer
/// than `NV` vectors (the last panel of a small image: 7×7 = 49 pixels is one 48-column
/// AVX-512 tile and 1 column) runs the `⌈cols / LANES⌉`-vector kernel. Each column's
/// arithmetic does not depend on the tile's width, so the bits are those of [`kernel`].
///
/// # Safety
/// As for [`kernel`] (it reads fewer `B` vectors).
#[inline(always)]
pub(crate) unsafe fn kernel_narrow<V: F32Vector, const MR: usize, const NV: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    ldb: usize,
    out: &PackedOut,
) {
    let nv = out.cols.div_ceil(V::LANES);
    // SAFETY: `out.cols <= nv·LANES` for the kernel each branch picks, which reads at most
    // the `NV` vectors the caller guarantees.
    unsafe {
        if nv >= NV {
            kernel::<V, MR, NV>(kc, a, b, ldb, out)
        } else if nv == 1 {
            kernel::<V, MR, 1>(kc, a, b, ldb, out)
        } else {
            kernel::<V, MR, 2>(kc, a, b, ldb, out)
        }
    }
}

/// The epilogue of [`kernel`]: `C (+)= acc`, then on the last depth block `+ bias` and the
/// activation, stored for the valid `rows × cols` only.
///
/// The accumulators come by value and every loop runs over the constant `MR`/`NV` with the
/// bounds as conditions, not `break`s: an early exit made LLVM keep the accumulator array in
/// memory and store all twelve registers to the stack after every FMA of the depth loop
/// (measured: 19 vs 58 GFLOP/s on `resnet_1x1_256_64`).
///
/// # Safety
/// As for [`kernel`].
#[inline(always)]
unsafe fn store<V: F32Vector, const MR: usize, const NV: usize>(
    acc: [[V; NV]; MR],
    out: &PackedOut,
) {
    // SAFETY: (whole body) rows `< out.rows`, columns `< out.cols` of C and the bias ranges
    // the caller guarantees; the last vector of a row is masked to its valid columns.
    unsafe {
        let full_vectors = out.cols / V::LANES;
        let tail = out.cols % V::LANES;
        // Column bias vectors, loaded once for every row.
        let mut col_bias = [V::zero(); NV];
        if out.finish {
            if let TileBias::Columns(p) = out.bias {
                for (j, v) in col_bias.iter_mut().enumerate() {
                    if j < full_vectors {
                        *v = V::load(p.add(j * V::LANES));
                    } else if j == full_vectors && tail != 0 {
                        *v = V::load_partial(p.add(j * V::LANES), tail);
                    }
                }
            }
        }
        for (r, acc_row) in acc.into_iter().enumerate() {
            if r < out.rows {
                let c = out.c.add(r * out.ldc);
                let row_bias = match out.bias {
                    TileBias::Rows(p) if out.finish => V::splat(*p.add(r)),
                    _ => V::zero(),
                };
                for (j, (x, cb)) in acc_row.into_iter().zip(col_bias).enumerate() {
                    let full = j < full_vectors;
                    if full || (j == full_vectors && tail != 0) {
                        // Formed only for vectors that hold columns of C: an offset past the
                        // end of C's allocation would be undefined even unread (Miri).
                        let p = c.add(j * V::LANES);
                        let mut x = x;
                        if out.accumulate {
                            let old = if full {
                                V::load(p)
                            } else {
                                V::load_partial(p, tail)
                            };
                            x = old.add(x);
                        }
                        if out.finish {
                            match out.bias {
                                TileBias::None => {}
                                TileBias::Rows(_) => x = x.add(row_bias),
                                TileBias::Columns(_) => x = x.add(cb),
                            }
                            x = activate::<V>(x, out.activation);
                        }
                        if full {
                            x.store(p);
                        } else {
                            x.store_partial(p, tail);
                        }
                    }
                }
            }
        }
    }
}
