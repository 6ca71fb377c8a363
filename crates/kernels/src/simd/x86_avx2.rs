//! AVX2 + FMA: 8 lanes in a `ymm` register.
//!
//! Every method body is one or a few intrinsics on register values or on pointers the
//! trait contract makes valid, so the whole module is one audited unsafe region: the
//! per-call `unsafe` blocks the lint would ask for would each repeat the contract at the
//! `impl` below.
#![allow(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

use super::{F32Vector, Level, SimdKernel};
use core::arch::x86_64::*;

/// A `__m256` of 8 `f32`s.
#[derive(Clone, Copy)]
pub(crate) struct Avx2Fma(__m256);

/// Lane mask with the first `n` lanes set (`n < 8`).
#[inline(always)]
unsafe fn first_lanes(n: usize) -> __m256i {
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(n as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

// SAFETY (every method): the trait contract guarantees AVX2 and FMA are available and enabled
// in the calling function, and that pointers are valid for the lanes accessed.
impl F32Vector for Avx2Fma {
    const LANES: usize = 8;
    const LEVEL: Level = Level::Avx2Fma;

    #[inline(always)]
    unsafe fn isolate<K: SimdKernel>(kernel: K) -> K::Output {
        // The caller has this level (the trait contract); `run_avx2fma` carries its features.
        super::run_avx2fma(kernel)
    }

    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Avx2Fma(_mm256_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        Avx2Fma(_mm256_setzero_ps())
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Avx2Fma(unsafe { _mm256_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { _mm256_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // vmaskmov neither reads nor faults on masked-off lanes.
        Avx2Fma(unsafe { _mm256_maskload_ps(p, first_lanes(n)) })
    }
    #[inline(always)]
    unsafe fn store_partial(self, p: *mut f32, n: usize) {
        unsafe { _mm256_maskstore_ps(p, first_lanes(n), self.0) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Avx2Fma(_mm256_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        Avx2Fma(_mm256_sub_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Avx2Fma(_mm256_mul_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        Avx2Fma(_mm256_div_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Avx2Fma(_mm256_fmadd_ps(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        Avx2Fma(_mm256_max_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        Avx2Fma(_mm256_min_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        Avx2Fma(_mm256_round_ps::<
            { _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC },
        >(self.0))
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        let n = _mm256_cvtps_epi32(self.0);
        let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(n, _mm256_set1_epi32(127)));
        Avx2Fma(_mm256_castsi256_ps(bits))
    }
    #[inline(always)]
    unsafe fn recip(self) -> Self {
        // rcp (relative error < 1.5·2^-12), then twice r + r·(1 − x·r): one step leaves up
        // to 2^-23 (1/1 came out 1 − 2^-24), two leave only the final rounding.
        let one = _mm256_set1_ps(1.0);
        let r = _mm256_rcp_ps(self.0);
        let r = _mm256_fmadd_ps(r, _mm256_fnmadd_ps(self.0, r, one), r);
        Avx2Fma(_mm256_fmadd_ps(r, _mm256_fnmadd_ps(self.0, r, one), r))
    }
    #[inline(always)]
    unsafe fn reduce_sum(self) -> f32 {
        let lo = _mm256_castps256_ps128(self.0);
        let hi = _mm256_extractf128_ps::<1>(self.0);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
        _mm_cvtss_f32(s)
    }
    #[inline(always)]
    unsafe fn max_nan(self, b: Self) -> Self {
        // vmaxps returns its second operand on equality and on NaN: `self` wins ties and a NaN
        // in `self` survives; OR-ing the unordered mask (all ones, a NaN) catches NaN in `b`.
        let m = _mm256_max_ps(b.0, self.0);
        Avx2Fma(_mm256_or_ps(m, _mm256_cmp_ps::<_CMP_UNORD_Q>(self.0, b.0)))
    }
    #[inline(always)]
    unsafe fn max_ordered(self, later: Self) -> Self {
        // vmaxps returns its second operand unless the first is greater.
        Avx2Fma(_mm256_max_ps(later.0, self.0))
    }
    #[inline(always)]
    unsafe fn any_nan(self) -> bool {
        _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_UNORD_Q>(self.0, self.0)) != 0
    }
    #[inline(always)]
    unsafe fn deinterleave(self, hi: Self) -> (Self, Self) {
        // shufps works per 128-bit half: [a0 a2 b0 b2 | a4 a6 b4 b6]; the 64-bit permute
        // (0, 2, 1, 3) then puts the halves in order: [a0 a2 a4 a6 b0 b2 b4 b6].
        let even = _mm256_shuffle_ps::<0b10_00_10_00>(self.0, hi.0);
        let odd = _mm256_shuffle_ps::<0b11_01_11_01>(self.0, hi.0);
        let order = |v: __m256| {
            _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(v)))
        };
        (Avx2Fma(order(even)), Avx2Fma(order(odd)))
    }
    #[inline(always)]
    unsafe fn deinterleave_unordered(self, hi: Self) -> (Self, Self) {
        // Lanes [e0 e2 e8 e10 | e4 e6 e12 e14] (in units of the 2·8 inputs).
        (
            Avx2Fma(_mm256_shuffle_ps::<0b10_00_10_00>(self.0, hi.0)),
            Avx2Fma(_mm256_shuffle_ps::<0b11_01_11_01>(self.0, hi.0)),
        )
    }
    #[inline(always)]
    unsafe fn deinterleave_order(self) -> Self {
        Avx2Fma(_mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(
            _mm256_castps_pd(self.0),
        )))
    }
    #[inline(always)]
    unsafe fn shift_in_last(self, next: Self) -> Self {
        // [self.hi, next.lo], then per 128-bit half `palignr` by one lane.
        let mid = _mm256_permute2f128_ps::<0x21>(self.0, next.0);
        Avx2Fma(_mm256_castsi256_ps(_mm256_alignr_epi8::<4>(
            _mm256_castps_si256(mid),
            _mm256_castps_si256(self.0),
        )))
    }
    #[inline(always)]
    unsafe fn shift_in_first(self, prev: Self) -> Self {
        // [prev.hi, self.lo], then per half `palignr` by three lanes.
        let mid = _mm256_permute2f128_ps::<0x21>(prev.0, self.0);
        Avx2Fma(_mm256_castsi256_ps(_mm256_alignr_epi8::<12>(
            _mm256_castps_si256(self.0),
            _mm256_castps_si256(mid),
        )))
    }
}
