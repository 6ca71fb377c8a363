//! Validated problem descriptors: what a kernel call computes, independent of how.
//!
//! A descriptor can only be built through its builder, which checks every size and returns an
//! [`crate::Error`] for any invalid combination; afterwards every derived size (output
//! height, element counts) is known to fit in `usize`, so kernels can index without overflow.

mod conv2d;
mod pool2d;

pub use conv2d::{Conv2d, Conv2dBuilder};
pub use pool2d::{Pool2d, Pool2dBuilder, PoolKind};

use crate::error::{Axis, Error};

/// Memory layout of a 4-D activation tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Layout {
    /// Batch, channels, height, width (PyTorch's default). The only layout implemented so far.
    #[default]
    Nchw,
}

/// Zero padding on each side of the input, in elements.
///
/// The course text speaks of a total padding `ph` over top and bottom; an odd total splits
/// unevenly, so convkit stores each side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Padding {
    /// Rows added above the input.
    pub top: usize,
    /// Rows added below the input.
    pub bottom: usize,
    /// Columns added left of the input.
    pub left: usize,
    /// Columns added right of the input.
    pub right: usize,
}

impl Padding {
    /// No padding.
    pub const ZERO: Padding = Padding {
        top: 0,
        bottom: 0,
        left: 0,
        right: 0,
    };

    /// The same padding `p` on all four sides.
    pub const fn uniform(p: usize) -> Padding {
        Padding {
            top: p,
            bottom: p,
            left: p,
            right: p,
        }
    }

    /// `ph` rows above and below, `pw` columns left and right (PyTorch's `padding=(ph, pw)`).
    pub const fn symmetric(ph: usize, pw: usize) -> Padding {
        Padding {
            top: ph,
            bottom: ph,
            left: pw,
            right: pw,
        }
    }

    /// Explicit per-side padding.
    pub const fn new(top: usize, bottom: usize, left: usize, right: usize) -> Padding {
        Padding {
            top,
            bottom,
            left,
            right,
        }
    }

    /// Splits a total padding per axis as the course text does: the extra row or column of an
    /// odd total goes to the bottom / right.
    pub const fn from_totals(total_h: usize, total_w: usize) -> Padding {
        Padding {
            top: total_h / 2,
            bottom: total_h - total_h / 2,
            left: total_w / 2,
            right: total_w - total_w / 2,
        }
    }
}

/// Sizes along one spatial axis, shared by convolution and pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct AxisGeometry {
    pub input: usize,
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
    pub pad_before: usize,
    pub pad_after: usize,
}

impl AxisGeometry {
    /// Extent of the dilated kernel, `dilation·(kernel−1)+1`.
    pub(crate) fn dilated_kernel(&self) -> Result<usize, Error> {
        let span = crate::error::mul(self.dilation, self.kernel - 1, "dilated kernel size")?;
        crate::error::add(span, 1, "dilated kernel size")
    }

    /// Input plus padding on both sides.
    pub(crate) fn padded_input(&self) -> Result<usize, Error> {
        let p = crate::error::add(self.input, self.pad_before, "padded input size")?;
        crate::error::add(p, self.pad_after, "padded input size")
    }

    /// Checks nonzero sizes and that the dilated kernel fits; returns `(dilated, padded)`.
    pub(crate) fn validate(
        &self,
        axis: Axis,
        input_name: &'static str,
        kernel_name: &'static str,
    ) -> Result<(usize, usize), Error> {
        if self.input == 0 {
            return Err(Error::ZeroDimension { what: input_name });
        }
        if self.kernel == 0 {
            return Err(Error::ZeroDimension { what: kernel_name });
        }
        if self.stride == 0 {
            return Err(Error::ZeroStride { axis });
        }
        if self.dilation == 0 {
            return Err(Error::ZeroDilation { axis });
        }
        let dilated = self.dilated_kernel()?;
        let padded = self.padded_input()?;
        if dilated > padded {
            return Err(Error::KernelLargerThanInput {
                axis,
                kernel: dilated,
                padded_input: padded,
            });
        }
        Ok((dilated, padded))
    }

    /// Floor-mode output size `⌊(padded − dilated)/stride⌋ + 1` (requires a validated axis).
    pub(crate) fn output_floor(&self, dilated: usize, padded: usize) -> usize {
        (padded - dilated) / self.stride + 1
    }

    /// Ceil-mode output size with PyTorch's rule: round up, then drop the last window if it
    /// would start at or past the end of the input plus the leading padding.
    pub(crate) fn output_ceil(&self, dilated: usize, padded: usize) -> usize {
        let span = padded - dilated;
        let mut out = span.div_ceil(self.stride) + 1;
        // (out−1)·stride ≤ span + stride − 1 < padded, so no overflow here.
        if (out - 1) * self.stride >= self.input + self.pad_before {
            out -= 1;
        }
        out
    }
}
