//! Every packed micro-kernel tile shape (`MR × NV` of every level's blocking: 6×2, 8×3, 4×2,
//! and the one-row 1×2, 1×3)
//! at every level this CPU supports, every valid row and column count, against a plain triple
//! loop on small integers (exact), including the accumulate, row/column bias and fused
//! activation modes and depths around the unroll by 4. The conv path and the public GEMM on
//! this machine only reach their own level's tile; this covers the AVX-512/NEON-sized tiles
//! too (on this CPU's vectors).

extern crate std;

use super::f32_gemm_packed::{kernel, PackedOut, TileBias};
use crate::epilogue::Activation;
use crate::simd::{dispatch, supported_levels, F32Vector, SimdKernel};
use std::vec::Vec;

struct Case<'a> {
    mr: usize,
    nv: usize,
    kc: usize,
    a: &'a [f32],
    b: &'a [f32],
    ldb: usize,
    out: PackedOut,
}

impl SimdKernel for Case<'_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // SAFETY: the test sizes every slice for mr rows, kc depth, nv·LANES columns.
        unsafe {
            match (self.mr, self.nv) {
                (6, 2) => kernel::<V, 6, 2>(
                    self.kc,
                    self.a.as_ptr(),
                    self.b.as_ptr(),
                    self.ldb,
                    &self.out,
                ),
                (8, 3) => kernel::<V, 8, 3>(
                    self.kc,
                    self.a.as_ptr(),
                    self.b.as_ptr(),
                    self.ldb,
                    &self.out,
                ),
                (4, 2) => kernel::<V, 4, 2>(
                    self.kc,
                    self.a.as_ptr(),
                    self.b.as_ptr(),
                    self.ldb,
                    &self.out,
                ),
                (1, 2) => kernel::<V, 1, 2>(
                    self.kc,
                    self.a.as_ptr(),
                    self.b.as_ptr(),
                    self.ldb,
                    &self.out,
                ),
                (1, 3) => kernel::<V, 1, 3>(
                    self.kc,
                    self.a.as_ptr(),
                    self.b.as_ptr(),
                    self.ldb,
                    &self.out,
                ),
                _ => unreachable!(),
            }
        }
    }
}

#[test]
fn every_packed_tile_shape_is_exact() {
    let val = |i: usize| ((i * 7 + 3) % 17) as f32 - 8.0;
    for level in supported_levels() {
        let lanes = level.lanes();
        for (mr, nv) in [(6, 2), (8, 3), (4, 2), (1, 2), (1, 3)] {
            let nr = nv * lanes;
            // Under Miri (interpreted, ~1000× slower) the edge counts only: one, around a
            // vector, and around the full tile.
            let thin = |n: usize, step: usize| -> Vec<usize> {
                (1..=n)
                    .filter(|&x| {
                        !cfg!(miri) || x <= 2 || x + 1 >= n || x % step <= 1 || x % step == step - 1
                    })
                    .collect()
            };
            for rows in thin(mr, mr) {
                for cols in thin(nr, lanes) {
                    for (case, (kc, accumulate, finish)) in [
                        (1, false, true),
                        (4, true, false),
                        (7, true, true),
                        (9, false, true),
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        let (ldb, ldc) = (nr + 3, cols + 5);
                        let a: Vec<f32> = (0..kc * mr).map(val).collect();
                        let b: Vec<f32> = (0..kc * ldb).map(|i| val(i + 5)).collect();
                        let bias: Vec<f32> = (0..mr.max(nr)).map(|i| val(i + 1)).collect();
                        let mut c: Vec<f32> = (0..mr * ldc).map(|i| val(i + 9)).collect();
                        let by_rows = case % 2 == 0;
                        let mut want = c.clone();
                        for r in 0..rows {
                            for j in 0..cols {
                                let mut s = 0.0f32;
                                for k in 0..kc {
                                    s += a[k * mr + r] * b[k * ldb + j];
                                }
                                let w = &mut want[r * ldc + j];
                                let mut x = if accumulate { *w + s } else { s };
                                if finish {
                                    x = (x + if by_rows { bias[r] } else { bias[j] }).max(0.0);
                                }
                                *w = x;
                            }
                        }
                        let out = PackedOut {
                            c: c.as_mut_ptr(),
                            ldc,
                            rows,
                            cols,
                            accumulate,
                            finish,
                            bias: if by_rows {
                                TileBias::Rows(bias.as_ptr())
                            } else {
                                TileBias::Columns(bias.as_ptr())
                            },
                            activation: Activation::Relu,
                        };
                        dispatch(
                            level,
                            Case {
                                mr,
                                nv,
                                kc,
                                a: &a,
                                b: &b,
                                ldb,
                                out,
                            },
                        );
                        assert_eq!(c, want, "{level} {mr}x{nv} rows={rows} cols={cols} kc={kc}");
                    }
                }
            }
        }
    }
}
