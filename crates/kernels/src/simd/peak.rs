//! The FP32 FMA peak probe: how many FLOPs per second this core can do at a level.
//!
//! Benchmarks report every result as a fraction of this machine's measured peak
//! (`convkit bench --peak`). The probe runs [`CHAINS`] independent accumulator chains of
//! fused multiply-adds, enough to cover the FMA latency × throughput product of current cores
//! (Zen 4: 2 FMA pipes × 4 cycles = 8 in flight; Intel server cores: 2 × 4), so the pipes never
//! wait on a result. The caller times it; this function only performs and counts the work.

use super::{dispatch, F32Vector, Level, SimdKernel};

/// Independent accumulator chains per probe (12 `zmm`/`ymm` registers, 2 more for the
/// constants: fits the 16 registers of AVX2 as well as the 32 of AVX-512).
pub const CHAINS: usize = 12;

/// Runs `iterations` rounds of [`CHAINS`] independent fused multiply-adds on full vectors of
/// `level` (an unsupported level runs the portable one) and returns the FLOPs performed:
/// `iterations · CHAINS · lanes · 2`. Levels without FMA (SSE2, portable on a default build)
/// do a multiply and an add per step, counted as the same 2 FLOPs.
///
/// The accumulators are summed and passed through [`core::hint::black_box`], so the work
/// cannot be optimised away.
///
/// ```
/// use convkit_kernels::simd::{self, fma_peak_flops};
/// let level = simd::detected();
/// let flops = fma_peak_flops(level, 1000);
/// assert_eq!(flops, 1000 * 12 * level.lanes() as u64 * 2);
/// ```
pub fn fma_peak_flops(level: Level, iterations: u64) -> u64 {
    dispatch(level, FmaProbe { iterations })
}

/// The probe as a [`SimdKernel`].
struct FmaProbe {
    iterations: u64,
}

impl SimdKernel for FmaProbe {
    type Output = u64;

    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) -> u64 {
        // Register plan (AVX-512: one zmm per name; AVX2: one ymm):
        //
        //   acc0  acc1  ...  acc11   <- acc_i = acc_i · a + b, 12 independent chains
        //   a (≈ 1 − 2⁻²⁰)  b (tiny) <- constants, so values stay finite forever
        //
        // SAFETY: `dispatch` runs this inside a function compiled for `V::LEVEL` on a CPU
        // that has it; the vector calls touch no memory (the final reduction stores into its
        // own local buffer).
        unsafe {
            let a = V::splat(core::hint::black_box(0.999_999_05));
            let b = V::splat(core::hint::black_box(1.0e-7));
            let mut acc = [V::zero(); CHAINS];
            for (i, x) in acc.iter_mut().enumerate() {
                *x = V::splat(i as f32);
            }
            for _ in 0..self.iterations {
                // Fully unrolled by the compiler (constant trip count): 12 FMAs per round.
                for x in acc.iter_mut() {
                    *x = x.mul_add(a, b);
                }
            }
            let mut total = V::zero();
            for x in acc {
                total = total.add(x);
            }
            core::hint::black_box(total.reduce_sum());
        }
        self.iterations * (CHAINS * V::LANES * 2) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::supported_levels;

    #[test]
    fn counts_flops_at_every_supported_level() {
        for level in supported_levels() {
            assert_eq!(
                fma_peak_flops(level, 10),
                10 * (CHAINS * level.lanes() * 2) as u64,
                "{level}"
            );
            assert_eq!(fma_peak_flops(level, 0), 0);
        }
    }
}
