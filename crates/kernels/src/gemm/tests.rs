//! Every tile instantiation (`mr` 1..=8, `nv` 1..=3, every valid column count) at every level
//! this CPU supports, against a plain triple loop on small integers (exact), including the
//! accumulate and fused-epilogue modes. The conv path on this machine only reaches the tiles
//! of its own level's blocking; this covers the AVX-512/NEON-sized tiles too.

extern crate std;

use super::f32_gemm_tile::{tile_dispatch, TileOut};
use crate::epilogue::Activation;
use crate::simd::{dispatch, supported_levels, F32Vector, SimdKernel};

struct Case<'a> {
    mr: usize,
    nv: usize,
    n: usize,
    kc: usize,
    a: &'a [f32],
    lda: usize,
    b: &'a [f32],
    ldb: usize,
    c: &'a mut [f32],
    ldc: usize,
    accumulate: bool,
    finish: bool,
    bias: &'a [f32],
}

impl SimdKernel for Case<'_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        let out = TileOut {
            c: self.c.as_mut_ptr(),
            ldc: self.ldc,
            n: self.n,
            accumulate: self.accumulate,
            finish: self.finish,
            bias: self.bias.as_ptr(),
            activation: Activation::Relu,
        };
        // SAFETY: the test sizes every slice for mr rows, kc depth, nv·LANES columns.
        unsafe {
            tile_dispatch::<V, 3>(
                self.mr,
                self.nv,
                self.kc,
                self.a.as_ptr(),
                self.lda,
                self.b.as_ptr(),
                self.ldb,
                &out,
            )
        }
    }
}

#[test]
fn every_tile_instantiation_is_exact() {
    let val = |i: usize| ((i * 7 + 3) % 17) as f32 - 8.0;
    for level in supported_levels() {
        let lanes = level.lanes();
        for mr in 1..=8 {
            for nv in 1..=3 {
                for n in (nv - 1) * lanes + 1..=nv * lanes {
                    for (kc, accumulate, finish) in
                        [(1, false, true), (5, true, false), (9, true, true)]
                    {
                        let (lda, ldb, ldc) = (kc + 2, nv * lanes + 3, n + 5);
                        let a: std::vec::Vec<f32> = (0..mr * lda).map(val).collect();
                        let b: std::vec::Vec<f32> = (0..kc * ldb).map(|i| val(i + 5)).collect();
                        let bias: std::vec::Vec<f32> = (0..mr).map(|i| val(i + 1)).collect();
                        let mut c: std::vec::Vec<f32> = (0..mr * ldc).map(|i| val(i + 9)).collect();
                        let mut want = c.clone();
                        for r in 0..mr {
                            for j in 0..n {
                                let mut s = 0.0f32;
                                for k in 0..kc {
                                    s += a[r * lda + k] * b[k * ldb + j];
                                }
                                let w = &mut want[r * ldc + j];
                                let mut x = if accumulate { *w + s } else { s };
                                if finish {
                                    x = (x + bias[r]).max(0.0);
                                }
                                *w = x;
                            }
                        }
                        dispatch(
                            level,
                            Case {
                                mr,
                                nv,
                                n,
                                kc,
                                a: &a,
                                lda,
                                b: &b,
                                ldb,
                                c: &mut c,
                                ldc,
                                accumulate,
                                finish,
                                bias: &bias,
                            },
                        );
                        assert_eq!(c, want, "{level} mr={mr} nv={nv} n={n} kc={kc}");
                    }
                }
            }
        }
    }
}
