//! The portable level: `wide::f32x8`, compiled for whatever the build's target features are.

use super::{F32Vector, Level};
use wide::f32x8;

/// Eight `f32`s in a `wide::f32x8`.
#[derive(Clone, Copy)]
pub(crate) struct Portable(f32x8);

impl Portable {
    pub(crate) const LANES: usize = 8;
}

// SAFETY (every method): no target feature is needed; pointers are valid for the lanes
// accessed by the trait contract.
impl F32Vector for Portable {
    const LANES: usize = Portable::LANES;
    const LEVEL: Level = Level::Portable;

    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Portable(f32x8::splat(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: `p[..8]` is readable by the trait contract.
        let a: [f32; 8] = unsafe { core::ptr::read_unaligned(p.cast::<[f32; 8]>()) };
        Portable(f32x8::from(a))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: `p[..8]` is writable by the trait contract.
        unsafe { core::ptr::write_unaligned(p.cast::<[f32; 8]>(), self.0.to_array()) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Portable(self.0 + b.0)
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        Portable(self.0 - b.0)
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Portable(self.0 * b.0)
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        Portable(self.0 / b.0)
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Portable(self.0.mul_add(b.0, c.0))
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        Portable(self.0.fast_max(b.0))
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        Portable(self.0.fast_min(b.0))
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        Portable(self.0.round())
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        let n = self.0.round_int().to_array();
        Portable(f32x8::from(
            n.map(|e| f32::from_bits(((e + 127) as u32) << 23)),
        ))
    }
}
