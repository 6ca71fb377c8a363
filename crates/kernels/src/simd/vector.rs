//! The vector trait every micro-kernel is written against.

use super::Level;

/// A vector of `LANES` `f32`s at one [`Level`].
///
/// Every method is `unsafe`: it may only run on a CPU that supports [`Self::LEVEL`], inside
/// a function compiled with that level's target features (see [`super::dispatch`]). Pointer
/// arguments must be valid for the number of lanes read or written; no alignment is required.
#[allow(clippy::missing_safety_doc)] // the contract above covers every method
#[allow(dead_code)] // LEVEL and the reductions are used by tests and later micro-kernels
pub(crate) trait F32Vector: Copy {
    /// Lanes per vector.
    const LANES: usize;
    /// The level this implementation needs.
    const LEVEL: Level;

    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self;
    /// All lanes zero.
    unsafe fn zero() -> Self {
        // SAFETY: forwarded contract.
        unsafe { Self::splat(0.0) }
    }
    /// Loads `LANES` elements from `p`.
    unsafe fn load(p: *const f32) -> Self;
    /// Stores `LANES` elements to `p`.
    unsafe fn store(self, p: *mut f32);
    /// Loads `n < LANES` elements from `p`, the other lanes zero. Reads only `p[..n]`.
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        let mut buf = [0.0f32; 64];
        // SAFETY: the caller guarantees `p[..n]` is readable and `n < LANES <= 64`.
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
            Self::load(buf.as_ptr())
        }
    }
    /// Stores the first `n < LANES` lanes to `p`. Writes only `p[..n]`.
    unsafe fn store_partial(self, p: *mut f32, n: usize) {
        let mut buf = [0.0f32; 64];
        // SAFETY: the caller guarantees `p[..n]` is writable and `n < LANES <= 64`.
        unsafe {
            self.store(buf.as_mut_ptr());
            core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n);
        }
    }
    /// Lane-wise `self + b`.
    unsafe fn add(self, b: Self) -> Self;
    /// Lane-wise `self − b`.
    unsafe fn sub(self, b: Self) -> Self;
    /// Lane-wise `self · b`.
    unsafe fn mul(self, b: Self) -> Self;
    /// Lane-wise `self / b`.
    unsafe fn div(self, b: Self) -> Self;
    /// Lane-wise `self · b + c`, fused (one rounding) at levels that have FMA.
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    /// Lane-wise maximum. Where either lane is NaN the result is unspecified among the two.
    unsafe fn max(self, b: Self) -> Self;
    /// Lane-wise minimum. Where either lane is NaN the result is unspecified among the two.
    unsafe fn min(self, b: Self) -> Self;
    /// Lane-wise round to nearest integer (ties to even).
    unsafe fn round(self) -> Self;
    /// Lane-wise `2^n` for lanes holding integers in `−126..=127`.
    unsafe fn pow2i(self) -> Self;
    /// Splits the `2·LANES` values `a ++ b` by position parity: `(a0 a2 … b0 b2 …,
    /// a1 a3 … b1 b3 …)`. Strided (stride-2) convolution rows use it to split an input row
    /// into its two column phases with vector loads.
    unsafe fn deinterleave2(a: Self, b: Self) -> (Self, Self) {
        let mut buf = [0.0f32; 128];
        let mut out = [0.0f32; 128];
        // SAFETY: `LANES <= 64`, so `2·LANES` values fit both buffers.
        unsafe {
            a.store(buf.as_mut_ptr());
            b.store(buf.as_mut_ptr().add(Self::LANES));
            for i in 0..Self::LANES {
                out[i] = buf[2 * i];
                out[Self::LANES + i] = buf[2 * i + 1];
            }
            (
                Self::load(out.as_ptr()),
                Self::load(out.as_ptr().add(Self::LANES)),
            )
        }
    }
    /// Sum of all lanes.
    unsafe fn reduce_sum(self) -> f32 {
        let mut buf = [0.0f32; 64];
        // SAFETY: `LANES <= 64`.
        unsafe { self.store(buf.as_mut_ptr()) };
        buf[..Self::LANES].iter().sum()
    }
    /// Maximum of all lanes.
    unsafe fn reduce_max(self) -> f32 {
        let mut buf = [0.0f32; 64];
        // SAFETY: `LANES <= 64`.
        unsafe { self.store(buf.as_mut_ptr()) };
        buf[..Self::LANES]
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max)
    }

    /// Lane-wise `e^x` for the activation epilogues (Cephes' `expf`: `x = n·ln2 + r`, a
    /// degree-5 polynomial for `e^r`, scaled by `2^n`), within 2 ulp on `[−87.3, 88.3]`.
    /// Inputs are clamped to that range first, so the result stays finite and normal
    /// (about 1.2e−38 to 2.4e38); NaN propagates at levels whose `min`/`max` keep it.
    unsafe fn exp(self) -> Self {
        // SAFETY: (whole body) forwarded contract, only lane-wise arithmetic.
        unsafe {
            // Constant first: x86 min/max return the second operand when one is NaN.
            let x = Self::splat(88.376_26).min(self);
            let x = Self::splat(-87.336_55).max(x);
            let n = x.mul(Self::splat(core::f32::consts::LOG2_E)).round();
            // r = x − n·ln2 in two steps (Cody–Waite) to keep r exact.
            let r = n.mul_add(Self::splat(-0.693_359_4), x);
            let r = n.mul_add(Self::splat(2.121_944_4e-4), r);
            let mut p = Self::splat(1.987_569_1e-4);
            p = p.mul_add(r, Self::splat(1.398_199_9e-3));
            p = p.mul_add(r, Self::splat(8.333_452e-3));
            p = p.mul_add(r, Self::splat(4.166_579_6e-2));
            p = p.mul_add(r, Self::splat(1.666_666_5e-1));
            p = p.mul_add(r, Self::splat(5e-1));
            let e = p.mul_add(r.mul(r), r.add(Self::splat(1.0)));
            // n is in −126..=127 after the clamp.
            e.mul(n.pow2i())
        }
    }
}
