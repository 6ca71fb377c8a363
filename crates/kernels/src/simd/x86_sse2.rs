//! SSE2: 4 lanes in an `xmm` register, the x86-64 baseline (no FMA: `mul_add` rounds twice).
//!
//! Every method body is one or a few intrinsics on register values or on pointers the
//! trait contract makes valid, so the whole module is one audited unsafe region: the
//! per-call `unsafe` blocks the lint would ask for would each repeat the contract at the
//! `impl` below.
#![allow(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

use super::{F32Vector, Level, SimdKernel};
use core::arch::x86_64::*;

/// A `__m128` of 4 `f32`s.
#[derive(Clone, Copy)]
pub(crate) struct Sse2(__m128);

// SAFETY (every method): SSE2 is in the x86-64 baseline; pointers are valid for the lanes
// accessed by the trait contract.
impl F32Vector for Sse2 {
    const LANES: usize = 4;
    const LEVEL: Level = Level::Sse2;

    #[inline(always)]
    unsafe fn isolate<K: SimdKernel>(kernel: K) -> K::Output {
        // The caller has this level (the trait contract); `run_sse2` carries its features.
        super::run_sse2(kernel)
    }

    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Sse2(_mm_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        Sse2(_mm_setzero_ps())
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Sse2(unsafe { _mm_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { _mm_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Sse2(_mm_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        Sse2(_mm_sub_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Sse2(_mm_mul_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        Sse2(_mm_div_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Sse2(_mm_add_ps(_mm_mul_ps(self.0, b.0), c.0))
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        Sse2(_mm_max_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        Sse2(_mm_min_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        // cvtps rounds to nearest-even under the default MXCSR; exact for |x| < 2^31, which
        // is all `exp` needs (|x| <= 128).
        Sse2(_mm_cvtepi32_ps(_mm_cvtps_epi32(self.0)))
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        let n = _mm_cvtps_epi32(self.0);
        let bits = _mm_slli_epi32::<23>(_mm_add_epi32(n, _mm_set1_epi32(127)));
        Sse2(_mm_castsi128_ps(bits))
    }
    #[inline(always)]
    unsafe fn max_nan(self, b: Self) -> Self {
        // maxps returns its second operand on equality and on NaN: `self` wins ties and a NaN
        // in `self` survives; OR-ing the unordered mask (all ones, a NaN) catches NaN in `b`.
        let m = _mm_max_ps(b.0, self.0);
        Sse2(_mm_or_ps(m, _mm_cmpunord_ps(self.0, b.0)))
    }
    #[inline(always)]
    unsafe fn max_ordered(self, later: Self) -> Self {
        // maxps returns its second operand unless the first is greater.
        Sse2(_mm_max_ps(later.0, self.0))
    }
    #[inline(always)]
    unsafe fn any_nan(self) -> bool {
        _mm_movemask_ps(_mm_cmpunord_ps(self.0, self.0)) != 0
    }
    #[inline(always)]
    unsafe fn deinterleave(self, hi: Self) -> (Self, Self) {
        (
            Sse2(_mm_shuffle_ps::<0b10_00_10_00>(self.0, hi.0)),
            Sse2(_mm_shuffle_ps::<0b11_01_11_01>(self.0, hi.0)),
        )
    }
    #[inline(always)]
    unsafe fn shift_in_last(self, next: Self) -> Self {
        // [n0 s1 s2 s3], then lanes (1, 2, 3, 0).
        let t = _mm_move_ss(self.0, next.0);
        Sse2(_mm_shuffle_ps::<0b00_11_10_01>(t, t))
    }
    #[inline(always)]
    unsafe fn shift_in_first(self, prev: Self) -> Self {
        // [p3 p3 s0 s0], then (t0, t2, s1, s2).
        let t = _mm_shuffle_ps::<0b00_00_11_11>(prev.0, self.0);
        Sse2(_mm_shuffle_ps::<0b10_01_10_00>(t, self.0))
    }
}
