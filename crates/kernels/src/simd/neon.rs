//! aarch64 Advanced SIMD (NEON): 4 lanes in a `q` register, with FMA.
//!
//! Every method body is one or a few intrinsics on register values or on pointers the
//! trait contract makes valid, so the whole module is one audited unsafe region: the
//! per-call `unsafe` blocks the lint would ask for would each repeat the contract at the
//! `impl` below.
#![allow(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

use super::{F32Vector, Level, SimdKernel};
use core::arch::aarch64::*;

/// A `float32x4_t`.
#[derive(Clone, Copy)]
pub(crate) struct Neon(float32x4_t);

// SAFETY (every method): NEON is in the aarch64 baseline; pointers are valid for the lanes
// accessed by the trait contract.
impl F32Vector for Neon {
    const LANES: usize = 4;
    const LEVEL: Level = Level::Neon;
    const REGISTERS: usize = 32;

    #[inline(always)]
    unsafe fn isolate<K: SimdKernel>(kernel: K) -> K::Output {
        // The caller has this level (the trait contract); `run_neon` carries its features.
        super::run_neon(kernel)
    }

    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Neon(unsafe { vdupq_n_f32(x) })
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Neon(unsafe { vld1q_f32(p) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { vst1q_f32(p, self.0) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Neon(unsafe { vaddq_f32(self.0, b.0) })
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        Neon(unsafe { vsubq_f32(self.0, b.0) })
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Neon(unsafe { vmulq_f32(self.0, b.0) })
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        Neon(unsafe { vdivq_f32(self.0, b.0) })
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Neon(unsafe { vfmaq_f32(c.0, self.0, b.0) })
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        Neon(unsafe { vmaxq_f32(self.0, b.0) })
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        Neon(unsafe { vminq_f32(self.0, b.0) })
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        Neon(unsafe { vrndnq_f32(self.0) })
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        unsafe {
            let n = vcvtnq_s32_f32(self.0);
            let bits = vshlq_n_s32::<23>(vaddq_s32(n, vdupq_n_s32(127)));
            Neon(vreinterpretq_f32_s32(bits))
        }
    }
    #[inline(always)]
    unsafe fn reduce_sum(self) -> f32 {
        unsafe { vaddvq_f32(self.0) }
    }
    #[inline(always)]
    unsafe fn reduce_max(self) -> f32 {
        unsafe { vmaxvq_f32(self.0) }
    }
    #[inline(always)]
    unsafe fn max_nan(self, b: Self) -> Self {
        unsafe {
            // Select b only where b > self (self wins ties, including −0 vs +0), then force
            // NaN where either lane is unordered (vceq is false for NaN).
            let m = vbslq_f32(vcgtq_f32(b.0, self.0), b.0, self.0);
            let ordered = vandq_u32(vceqq_f32(self.0, self.0), vceqq_f32(b.0, b.0));
            Neon(vbslq_f32(ordered, m, vdupq_n_f32(f32::NAN)))
        }
    }
    #[inline(always)]
    unsafe fn max_ordered(self, later: Self) -> Self {
        // fmax would return +0 for (−0, +0) in either order: select instead.
        unsafe { Neon(vbslq_f32(vcgtq_f32(later.0, self.0), later.0, self.0)) }
    }
    #[inline(always)]
    unsafe fn any_nan(self) -> bool {
        // vceq is false exactly for NaN lanes.
        unsafe { vminvq_u32(vceqq_f32(self.0, self.0)) == 0 }
    }
    #[inline(always)]
    unsafe fn deinterleave(self, hi: Self) -> (Self, Self) {
        unsafe {
            (
                Neon(vuzp1q_f32(self.0, hi.0)),
                Neon(vuzp2q_f32(self.0, hi.0)),
            )
        }
    }
    #[inline(always)]
    unsafe fn shift_in_last(self, next: Self) -> Self {
        unsafe { Neon(vextq_f32::<1>(self.0, next.0)) }
    }
    #[inline(always)]
    unsafe fn shift_in_first(self, prev: Self) -> Self {
        unsafe { Neon(vextq_f32::<3>(prev.0, self.0)) }
    }
}
