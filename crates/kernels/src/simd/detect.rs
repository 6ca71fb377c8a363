//! CPU feature detection without `std`.
//!
//! On x86-64 this reads cpuid and, because a CPU can have AVX registers that the operating
//! system does not save on context switches, checks with xgetbv that the OS enables the
//! XMM/YMM (and, for AVX-512, opmask/ZMM) state. That is what `std`'s
//! `is_x86_feature_detected!` does too; a test checks that both agree.

use super::Level;

/// Bit `1 << level` for every level the CPU supports.
pub(super) fn supported_levels_mask() -> u8 {
    let portable = 1 << Level::Portable as u8;
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    let arch = x86::mask();
    // Miri cannot run cpuid/xgetbv (inline assembly): trust the build's target features, so
    // `cargo miri test` exercises SSE2 by default and AVX2+FMA with
    // `RUSTFLAGS=-Ctarget-feature=+avx2,+fma` (scripts/miri.sh).
    #[cfg(all(target_arch = "x86_64", miri))]
    let arch = {
        let mut m = 1 << Level::Sse2 as u8;
        if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
            m |= 1 << Level::Avx2Fma as u8;
        }
        if cfg!(target_feature = "avx512f") {
            m |= 1 << Level::Avx512f as u8;
        }
        m
    };
    // Advanced SIMD is mandatory in the aarch64 baseline.
    #[cfg(target_arch = "aarch64")]
    let arch = 1 << Level::Neon as u8;
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let arch = 0;
    portable | arch
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
mod x86 {
    use super::Level;
    use core::arch::x86_64::{__cpuid, __cpuid_count, _xgetbv, CpuidResult};

    // cpuid leaf 1, ECX.
    const FMA: u32 = 1 << 12;
    const OSXSAVE: u32 = 1 << 27;
    const AVX: u32 = 1 << 28;
    // cpuid leaf 7 subleaf 0, EBX.
    const AVX2: u32 = 1 << 5;
    const AVX512F: u32 = 1 << 16;
    // XCR0 state components: SSE (1), AVX (2), opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7).
    const XCR0_AVX: u64 = 0b110;
    const XCR0_AVX512: u64 = 0b1110_0110;

    pub(super) fn mask() -> u8 {
        // SSE2 is part of the x86-64 baseline.
        let mut mask = 1 << Level::Sse2 as u8;
        let max_leaf = __cpuid(0).eax;
        let leaf1: CpuidResult = __cpuid(1);
        if leaf1.ecx & OSXSAVE == 0 {
            return mask;
        }
        // SAFETY: OSXSAVE is set, so the OS has enabled XGETBV and XCR0 is readable.
        let xcr0 = unsafe { xgetbv0() };
        let os_avx = xcr0 & XCR0_AVX == XCR0_AVX;
        let os_avx512 = xcr0 & XCR0_AVX512 == XCR0_AVX512;
        let leaf7_ebx = if max_leaf >= 7 {
            // Leaf 7 exists (max_leaf >= 7).
            __cpuid_count(7, 0).ebx
        } else {
            0
        };
        let avx_fma = leaf1.ecx & AVX != 0 && leaf1.ecx & FMA != 0;
        if os_avx && avx_fma && leaf7_ebx & AVX2 != 0 {
            mask |= 1 << Level::Avx2Fma as u8;
            if os_avx512 && leaf7_ebx & AVX512F != 0 {
                mask |= 1 << Level::Avx512f as u8;
            }
        }
        mask
    }

    /// Reads XCR0.
    #[target_feature(enable = "xsave")]
    unsafe fn xgetbv0() -> u64 {
        // SAFETY: the caller checked OSXSAVE; this function enables the xsave feature.
        unsafe { _xgetbv(0) }
    }
}
