//! The SIMD dispatch layer: which instruction set the micro-kernels run on.
//!
//! Micro-kernels are written once, generic over the `F32Vector` trait, and implement
//! `SimdKernel`. `dispatch` instantiates a kernel for the requested [`Level`] inside a
//! function compiled with that level's `#[target_feature]`s, so a default build (no
//! `RUSTFLAGS`) still runs AVX-512 code on a CPU that has it. The level is detected once per
//! process (cpuid + xgetbv through `core::arch`, no `std` needed) and can be overridden
//! globally ([`set_active`]) or per call (every plan takes an optional level), which is how the
//! tests run each path on every level this CPU supports. See `docs/architecture.md`.

mod detect;
mod peak;
mod portable;
mod prefetch;
mod vector;

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;
#[cfg(target_arch = "x86_64")]
mod x86_sse2;

pub use peak::{fma_peak_flops, CHAINS as FMA_PEAK_CHAINS};
pub(crate) use prefetch::prefetch_range;
pub(crate) use vector::{copy_transposed, exp_each, F32Vector};

#[cfg(target_arch = "aarch64")]
pub(crate) use neon::Neon;
pub(crate) use portable::run_portable;
#[cfg(target_arch = "x86_64")]
pub(crate) use x86_avx2::Avx2Fma;
#[cfg(target_arch = "x86_64")]
pub(crate) use x86_avx512::Avx512f;
#[cfg(target_arch = "x86_64")]
pub(crate) use x86_sse2::Sse2;

use crate::Error;
use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};

/// An instruction-set level a micro-kernel can be compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// Plain Rust through the `wide` crate; what it compiles to depends on the build's
    /// target features (SSE2 on a default x86-64 build, scalar on Cortex-M).
    Portable = 1,
    /// x86-64 SSE2, 4 lanes, no FMA.
    Sse2 = 2,
    /// x86-64 AVX2 with FMA, 8 lanes.
    Avx2Fma = 3,
    /// x86-64 AVX-512F, 16 lanes.
    Avx512f = 4,
    /// aarch64 Advanced SIMD (NEON), 4 lanes with FMA.
    Neon = 5,
}

impl Level {
    /// Every level, whether or not this target or CPU has it.
    pub const ALL: [Level; 5] = [
        Level::Portable,
        Level::Sse2,
        Level::Avx2Fma,
        Level::Avx512f,
        Level::Neon,
    ];

    /// Short lower-case name, as accepted by [`Level::from_name`] and printed by the CLI.
    pub const fn name(self) -> &'static str {
        match self {
            Level::Portable => "portable",
            Level::Sse2 => "sse2",
            Level::Avx2Fma => "avx2",
            Level::Avx512f => "avx512",
            Level::Neon => "neon",
        }
    }

    /// Parses a name printed by [`Level::name`].
    pub fn from_name(name: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.name() == name)
    }

    /// `f32` lanes in one vector register at this level.
    pub const fn lanes(self) -> usize {
        match self {
            Level::Portable => portable::Portable::LANES,
            Level::Sse2 | Level::Neon => 4,
            Level::Avx2Fma => 8,
            Level::Avx512f => 16,
        }
    }

    /// Whether this CPU (and target) can run micro-kernels of this level.
    pub fn is_supported(self) -> bool {
        supported_mask() & (1 << self as u8) != 0
    }

    /// Returns `self` if supported, else [`Error::UnsupportedSimdLevel`].
    pub fn require(self) -> Result<Level, Error> {
        if self.is_supported() {
            Ok(self)
        } else {
            Err(Error::UnsupportedSimdLevel { level: self.name() })
        }
    }

    const fn from_u8(v: u8) -> Option<Level> {
        match v {
            1 => Some(Level::Portable),
            2 => Some(Level::Sse2),
            3 => Some(Level::Avx2Fma),
            4 => Some(Level::Avx512f),
            5 => Some(Level::Neon),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Bit `1 << level` set for every supported level; 0 means not yet detected.
static SUPPORTED: AtomicU8 = AtomicU8::new(0);
/// The level forced by [`set_active`], or 0 for "use the detected one".
static FORCED: AtomicU8 = AtomicU8::new(0);

fn supported_mask() -> u8 {
    let mask = SUPPORTED.load(Ordering::Relaxed);
    if mask != 0 {
        return mask;
    }
    // Detection is idempotent, so racing threads all store the same value.
    let mask = detect::supported_levels_mask();
    SUPPORTED.store(mask, Ordering::Relaxed);
    mask
}

/// Every level this CPU supports, from the most portable to the fastest.
pub fn supported_levels() -> impl Iterator<Item = Level> {
    let mask = supported_mask();
    Level::ALL
        .into_iter()
        .filter(move |l| mask & (1 << *l as u8) != 0)
}

/// The fastest level this CPU supports (detected once per process).
pub fn detected() -> Level {
    // Portable is always supported, so the iterator is never empty.
    supported_levels()
        .filter(|l| *l != Level::Portable)
        .max_by_key(|l| l.lanes())
        .unwrap_or(Level::Portable)
}

/// The level kernels use when a call does not name one: the one forced by [`set_active`],
/// otherwise [`detected`].
pub fn active() -> Level {
    Level::from_u8(FORCED.load(Ordering::Relaxed)).unwrap_or_else(detected)
}

/// Forces the level used by calls that do not name one (`None` returns to the detected
/// level). Fails for a level this CPU lacks. Process-wide: tests should pass a level to each
/// call instead.
pub fn set_active(level: Option<Level>) -> Result<(), Error> {
    let v = match level {
        Some(l) => l.require()? as u8,
        None => 0,
    };
    FORCED.store(v, Ordering::Relaxed);
    Ok(())
}

/// A micro-kernel written once over [`F32Vector`] and run at any level through [`dispatch`].
pub(crate) trait SimdKernel {
    /// What the kernel returns.
    type Output;
    /// Runs the kernel with vector type `V`.
    ///
    /// # Safety
    /// The CPU must support `V::LEVEL` and the call must be inlined into a function compiled
    /// with that level's target features ([`dispatch`] and [`F32Vector::isolate`] guarantee both).
    unsafe fn run<V: F32Vector>(self) -> Self::Output;
}

/// Runs `kernel` at `level`. An unsupported level falls back to [`Level::Portable`] (plans
/// reject unsupported levels before they get here, so this only keeps the function sound for
/// any argument).
#[inline]
pub(crate) fn dispatch<K: SimdKernel>(level: Level, kernel: K) -> K::Output {
    let level = if level.is_supported() {
        level
    } else {
        Level::Portable
    };
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level` is supported, so the CPU has AVX-512F.
        Level::Avx512f => unsafe { run_avx512f(kernel) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level` is supported, so the CPU has AVX2 and FMA.
        Level::Avx2Fma => unsafe { run_avx2fma(kernel) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: SSE2 is part of the x86-64 baseline.
        Level::Sse2 => unsafe { run_sse2(kernel) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: NEON is part of the aarch64 baseline.
        Level::Neon => unsafe { run_neon(kernel) },
        // SAFETY: the portable level needs no target feature.
        _ => unsafe { run_portable(kernel) },
    }
}

// One entry function per level, each `#[inline(never)]`: `dispatch` stays a small `match`
// and every kernel (and every part a kernel runs through `F32Vector::isolate`) is a function
// of its own, compiled with its level's target features. Safety contract of each: the CPU
// supports the level. The portable level's (`portable::run_portable`) is not inlined either,
// except in the one-lane implementation small devices run, where flash counts more.

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline(never)]
pub(crate) unsafe fn run_avx512f<K: SimdKernel>(kernel: K) -> K::Output {
    // SAFETY: forwarded from the caller; this function carries the target features.
    unsafe { kernel.run::<Avx512f>() }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
pub(crate) unsafe fn run_avx2fma<K: SimdKernel>(kernel: K) -> K::Output {
    // SAFETY: forwarded from the caller; this function carries the target features.
    unsafe { kernel.run::<Avx2Fma>() }
}

#[cfg(target_arch = "x86_64")]
#[inline(never)]
pub(crate) unsafe fn run_sse2<K: SimdKernel>(kernel: K) -> K::Output {
    // SAFETY: SSE2 is part of the x86-64 baseline (every x86-64 function may use it).
    unsafe { kernel.run::<Sse2>() }
}

#[cfg(target_arch = "aarch64")]
#[inline(never)]
pub(crate) unsafe fn run_neon<K: SimdKernel>(kernel: K) -> K::Output {
    // SAFETY: NEON is part of the aarch64 baseline.
    unsafe { kernel.run::<Neon>() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_is_always_supported_and_detected_is_supported() {
        assert!(Level::Portable.is_supported());
        assert!(detected().is_supported());
        assert!(supported_levels().any(|l| l == detected()));
    }

    #[test]
    fn names_round_trip() {
        for l in Level::ALL {
            assert_eq!(Level::from_name(l.name()), Some(l));
        }
        assert_eq!(Level::from_name("avx1024"), None);
    }

    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    #[test]
    fn cpuid_detection_agrees_with_std() {
        extern crate std;
        assert!(Level::Sse2.is_supported());
        assert_eq!(
            Level::Avx2Fma.is_supported(),
            std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
        );
        assert_eq!(
            Level::Avx512f.is_supported(),
            std::is_x86_feature_detected!("avx512f")
        );
        assert!(!Level::Neon.is_supported());
    }

    #[test]
    fn forcing_an_unsupported_level_is_an_error() {
        for l in Level::ALL {
            if !l.is_supported() {
                assert_eq!(
                    l.require(),
                    Err(Error::UnsupportedSimdLevel { level: l.name() })
                );
            }
        }
    }
}

#[cfg(test)]
mod vector_tests;
