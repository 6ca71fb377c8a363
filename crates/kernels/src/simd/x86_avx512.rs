//! AVX-512F: 16 lanes in a `zmm` register, FMA, masked loads and stores for tails.
//!
//! Every method body is one or a few intrinsics on register values or on pointers the
//! trait contract makes valid, so the whole module is one audited unsafe region: the
//! per-call `unsafe` blocks the lint would ask for would each repeat the contract at the
//! `impl` below.
#![allow(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

use super::{F32Vector, Level, SimdKernel};
use core::arch::x86_64::*;

/// A `__m512` of 16 `f32`s.
#[derive(Clone, Copy)]
pub(crate) struct Avx512f(__m512);

// SAFETY (every method): the trait contract guarantees AVX-512F is available and enabled in
// the calling function, and that pointers are valid for the lanes accessed.
impl F32Vector for Avx512f {
    const LANES: usize = 16;
    const LEVEL: Level = Level::Avx512f;
    const FAST_MASKED_STORE: bool = true;
    const REGISTERS: usize = 32;

    #[inline(always)]
    unsafe fn isolate<K: SimdKernel>(kernel: K) -> K::Output {
        // The caller has this level (the trait contract); `run_avx512f` carries its features.
        super::run_avx512f(kernel)
    }

    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Avx512f(_mm512_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        Avx512f(_mm512_setzero_ps())
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Avx512f(unsafe { _mm512_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { _mm512_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // Masked-off lanes are neither read nor faulted on.
        let mask = ((1u32 << n) - 1) as __mmask16;
        Avx512f(unsafe { _mm512_maskz_loadu_ps(mask, p) })
    }
    #[inline(always)]
    unsafe fn store_partial(self, p: *mut f32, n: usize) {
        let mask = ((1u32 << n) - 1) as __mmask16;
        unsafe { _mm512_mask_storeu_ps(p, mask, self.0) }
    }
    #[inline(always)]
    unsafe fn store_transposed<const M: usize>(
        rows: &[Self; M],
        dst: *mut f32,
        stride: usize,
        k_valid: usize,
    ) {
        // A 16 × 16 transpose in four shuffle stages (rows past M are zero, and LLVM drops
        // the shuffles of zero pairs), then one masked store of M pixels per channel: about
        // 64 shuffles and 16 stores, where the element loop through memory was 16 gathers
        // (LLVM's vectorisation of it), a quarter of LeNet conv2's time.
        debug_assert!(M <= 16 && k_valid <= 16);
        let mut r = [_mm512_setzero_ps(); 16];
        for (d, s) in r.iter_mut().zip(rows.iter()) {
            *d = s.0;
        }
        // Stage 1, per 128-bit block: t[2i] = [a0 b0 a1 b1], t[2i+1] = [a2 b2 a3 b3] of rows
        // a = r[2i], b = r[2i+1].
        let mut t = [_mm512_setzero_ps(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        // Stage 2: u[4j+q] holds, in block b, rows 4j..4j+4 of lane 4b+q.
        let mut u = [_mm512_setzero_ps(); 16];
        for j in 0..4 {
            let (a0, a1) = (_mm512_castps_pd(t[4 * j]), _mm512_castps_pd(t[4 * j + 1]));
            let (b0, b1) = (
                _mm512_castps_pd(t[4 * j + 2]),
                _mm512_castps_pd(t[4 * j + 3]),
            );
            u[4 * j] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, b0));
            u[4 * j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, b0));
            u[4 * j + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, b1));
            u[4 * j + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, b1));
        }
        // Stages 3 and 4: lane 4b+q gathers block b of u[q], u[4+q], u[8+q], u[12+q].
        let mut out = [_mm512_setzero_ps(); 16];
        for q in 0..4 {
            let v0 = _mm512_shuffle_f32x4::<0b01_00_01_00>(u[q], u[4 + q]);
            let v1 = _mm512_shuffle_f32x4::<0b11_10_11_10>(u[q], u[4 + q]);
            let v2 = _mm512_shuffle_f32x4::<0b01_00_01_00>(u[8 + q], u[12 + q]);
            let v3 = _mm512_shuffle_f32x4::<0b11_10_11_10>(u[8 + q], u[12 + q]);
            out[q] = _mm512_shuffle_f32x4::<0b10_00_10_00>(v0, v2);
            out[4 + q] = _mm512_shuffle_f32x4::<0b11_01_11_01>(v0, v2);
            out[8 + q] = _mm512_shuffle_f32x4::<0b10_00_10_00>(v1, v3);
            out[12 + q] = _mm512_shuffle_f32x4::<0b11_01_11_01>(v1, v3);
        }
        let mask = ((1u32 << M) - 1) as __mmask16;
        if k_valid == 16 {
            for (k, o) in out.iter().enumerate() {
                _mm512_mask_storeu_ps(dst.add(k * stride), mask, *o);
            }
        } else {
            for (k, o) in out.iter().enumerate().take(k_valid) {
                _mm512_mask_storeu_ps(dst.add(k * stride), mask, *o);
            }
        }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Avx512f(_mm512_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        Avx512f(_mm512_sub_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Avx512f(_mm512_mul_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        Avx512f(_mm512_div_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Avx512f(_mm512_fmadd_ps(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        Avx512f(_mm512_max_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        Avx512f(_mm512_min_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        Avx512f(_mm512_roundscale_ps::<
            { _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC },
        >(self.0))
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        let n = _mm512_cvtps_epi32(self.0);
        let bits = _mm512_slli_epi32::<23>(_mm512_add_epi32(n, _mm512_set1_epi32(127)));
        Avx512f(_mm512_castsi512_ps(bits))
    }
    #[inline(always)]
    unsafe fn recip(self) -> Self {
        // rcp14 (relative error < 2^-14), then r + r·(1 − x·r): error below 2^-27 + rounding.
        let r = _mm512_rcp14_ps(self.0);
        let e = _mm512_fnmadd_ps(self.0, r, _mm512_set1_ps(1.0));
        Avx512f(_mm512_fmadd_ps(r, e, r))
    }
    #[inline(always)]
    unsafe fn mul_pow2i(self, n: Self) -> Self {
        // scalef computes self · 2^floor(n) in one instruction; n holds integers.
        Avx512f(_mm512_scalef_ps(self.0, n.0))
    }
    #[inline(always)]
    unsafe fn reduce_sum(self) -> f32 {
        _mm512_reduce_add_ps(self.0)
    }
    #[inline(always)]
    unsafe fn reduce_max(self) -> f32 {
        _mm512_reduce_max_ps(self.0)
    }
    #[inline(always)]
    unsafe fn max_nan(self, b: Self) -> Self {
        // vmaxps returns its second operand on equality and on NaN: `self` wins ties and a NaN
        // in `self` survives; lanes where either is NaN are then forced to NaN.
        let m = _mm512_max_ps(b.0, self.0);
        let unordered = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(self.0, b.0);
        Avx512f(_mm512_mask_mov_ps(m, unordered, _mm512_set1_ps(f32::NAN)))
    }
    #[inline(always)]
    unsafe fn max_ordered(self, later: Self) -> Self {
        // vmaxps returns its second operand unless the first is greater.
        Avx512f(_mm512_max_ps(later.0, self.0))
    }
    #[inline(always)]
    unsafe fn any_nan(self) -> bool {
        _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(self.0, self.0) != 0
    }
    #[inline(always)]
    unsafe fn deinterleave(self, hi: Self) -> (Self, Self) {
        // One two-source permute per output: index i < 16 picks self[i], 16 + i picks hi[i].
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        (
            Avx512f(_mm512_permutex2var_ps(self.0, even, hi.0)),
            Avx512f(_mm512_permutex2var_ps(self.0, odd, hi.0)),
        )
    }
    #[inline(always)]
    unsafe fn deinterleave_unordered(self, hi: Self) -> (Self, Self) {
        // In-lane `vshufps` (one cheap shuffle per output, no index register): per 128-bit
        // lane j the evens are [e(2j) e(2j+1) e(2j+8) e(2j+9)], i.e. the 64-bit pairs
        // P0 P4 P1 P5 P2 P6 P3 P7 of the ordered result.
        (
            Avx512f(_mm512_shuffle_ps::<0b10_00_10_00>(self.0, hi.0)),
            Avx512f(_mm512_shuffle_ps::<0b11_01_11_01>(self.0, hi.0)),
        )
    }
    #[inline(always)]
    unsafe fn deinterleave_order(self) -> Self {
        // Pair i of the result is pair idx[i] of the unordered vector.
        let idx = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
        Avx512f(_mm512_castpd_ps(_mm512_permutexvar_pd(
            idx,
            _mm512_castps_pd(self.0),
        )))
    }
    #[inline(always)]
    unsafe fn shift_in_last(self, next: Self) -> Self {
        // valignd: the 32 lanes `next:self` moved down by one, low half kept.
        Avx512f(_mm512_castsi512_ps(_mm512_alignr_epi32::<1>(
            _mm512_castps_si512(next.0),
            _mm512_castps_si512(self.0),
        )))
    }
    #[inline(always)]
    unsafe fn shift_in_first(self, prev: Self) -> Self {
        Avx512f(_mm512_castsi512_ps(_mm512_alignr_epi32::<15>(
            _mm512_castps_si512(self.0),
            _mm512_castps_si512(prev.0),
        )))
    }
}
