//! What a window computes, as a type parameter of the micro-kernels: the maximum (exact,
//! NaN-propagating, first tap wins ties) or the sum that an average divides.

use crate::simd::F32Vector;

/// A window reduction. `combine(acc, x)` folds the next tap (in row-major tap order) into the
/// accumulator; the first tap initialises it.
pub(crate) trait Reduce {
    /// Whether the result is divided by a tap count.
    const AVERAGE: bool;
    /// Vector fold.
    ///
    /// # Safety
    /// The [`F32Vector`] contract.
    unsafe fn combine<V: F32Vector>(acc: V, x: V) -> V;
    /// Scalar fold with the same result as a lane of [`Reduce::combine`] (up to NaN payload).
    fn combine_scalar(acc: f32, x: f32) -> f32;
}

/// Maximum: a NaN tap makes the result NaN, and among equal taps (`−0.0`, `+0.0`) the first
/// in row-major order is kept, exactly as the reference does.
pub(crate) struct Max;

/// Sum, in row-major tap order (the reference's order).
pub(crate) struct Sum;

impl Reduce for Max {
    const AVERAGE: bool = false;
    #[inline(always)]
    unsafe fn combine<V: F32Vector>(acc: V, x: V) -> V {
        // SAFETY: forwarded contract.
        unsafe { acc.max_nan(x) }
    }
    #[inline(always)]
    fn combine_scalar(acc: f32, x: f32) -> f32 {
        if acc.is_nan() || !(x.is_nan() || x > acc) {
            acc
        } else {
            x
        }
    }
}

impl Reduce for Sum {
    const AVERAGE: bool = true;
    #[inline(always)]
    unsafe fn combine<V: F32Vector>(acc: V, x: V) -> V {
        // SAFETY: forwarded contract.
        unsafe { acc.add(x) }
    }
    #[inline(always)]
    fn combine_scalar(acc: f32, x: f32) -> f32 {
        acc + x
    }
}
