//! Plain-loop reference kernels: the oracle every fast path is tested against.
//!
//! No `unsafe`, no SIMD, no blocking: each output element is computed by the textbook formula,
//! in a fixed summation order, so these run on any target and are easy to audit. They are
//! generic over [`Real`] so tests can also compute an `f64` oracle.

mod backward;
mod conv2d;
mod corr2d;
mod pool2d;

pub use backward::{
    activation_backward, conv2d_backward_data, conv2d_backward_weights, max_pool2d_backward,
    pool2d_backward,
};
pub use conv2d::conv2d;
pub(crate) use conv2d::conv2d_rows;
pub use corr2d::{convolve2d, corr2d};
pub use pool2d::{max_pool2d_with_indices, pool2d};

use core::ops::{Add, Div, Mul};

/// The element types the reference kernels compute in: `f32` and `f64`.
pub trait Real:
    Copy + PartialOrd + Add<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Default
{
    /// Additive identity.
    const ZERO: Self;
    /// Negative infinity (the identity of max).
    const NEG_INFINITY: Self;
    /// Converts a window count to this type (exact for counts below 2^24).
    fn from_count(n: usize) -> Self;
    /// True for NaN.
    fn is_nan(self) -> bool;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
    fn from_count(n: usize) -> Self {
        n as f32
    }
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
    fn from_count(n: usize) -> Self {
        n as f64
    }
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
}

/// Maps an output index and a tap to an input index along one axis: `Some(i)` when the tap
/// falls inside the input, `None` when it falls in the padding.
pub(crate) fn tap(
    out: usize,
    stride: usize,
    tap: usize,
    dilation: usize,
    pad_before: usize,
    input: usize,
) -> Option<usize> {
    // Validated descriptors guarantee out·stride + tap·dilation < padded input: no overflow.
    let padded = out * stride + tap * dilation;
    let i = padded.checked_sub(pad_before)?;
    (i < input).then_some(i)
}
