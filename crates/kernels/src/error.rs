//! The one error type every kernel and descriptor returns.

use core::fmt;

/// Which spatial axis a dimension error refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Axis {
    /// Rows (H, R, P).
    Height,
    /// Columns (W, S, Q).
    Width,
}

impl fmt::Display for Axis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Axis::Height => "height",
            Axis::Width => "width",
        })
    }
}

/// Everything that can go wrong when describing or running a kernel.
///
/// Kernels never panic on bad input: every invalid descriptor, slice length or option is
/// reported through one of these variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// A size that must be at least 1 was 0 (`what` names it: "batch", "kernel height", ...).
    ZeroDimension {
        /// The name of the dimension.
        what: &'static str,
    },
    /// A stride was 0.
    ZeroStride {
        /// The axis of the stride.
        axis: Axis,
    },
    /// A dilation was 0.
    ZeroDilation {
        /// The axis of the dilation.
        axis: Axis,
    },
    /// The dilated kernel (or pooling window) does not fit in the padded input.
    KernelLargerThanInput {
        /// The axis on which it does not fit.
        axis: Axis,
        /// Dilated kernel extent `dilation·(k−1)+1`.
        kernel: usize,
        /// Padded input extent `before + input + after`.
        padded_input: usize,
    },
    /// Input or output channels are not a multiple of `groups`.
    ChannelsNotDivisibleByGroups {
        /// The channel count that is not divisible.
        channels: usize,
        /// The number of groups.
        groups: usize,
    },
    /// An element count or index computation does not fit in `usize`.
    Overflow {
        /// What was being computed.
        what: &'static str,
    },
    /// Pooling padding on one side exceeds half the window (PyTorch refuses this too).
    PoolPaddingTooLarge {
        /// The axis of the padding.
        axis: Axis,
        /// The offending padding.
        padding: usize,
        /// The window size on that axis.
        window: usize,
    },
    /// A pooling window would cover only padding, which has no defined maximum or average.
    PoolWindowOnlyPadding {
        /// The axis on which the empty window occurs.
        axis: Axis,
        /// Index of the output row or column whose window is empty.
        output_index: usize,
    },
    /// A slice passed to a kernel has the wrong length.
    LengthMismatch {
        /// Which argument ("input", "weights", "bias", "output", "scratch", ...).
        what: &'static str,
        /// The length the descriptor requires (the minimum, for scratch).
        expected: usize,
        /// The length that was passed.
        actual: usize,
    },
    /// The requested SIMD level is not available on this CPU or target.
    UnsupportedSimdLevel {
        /// The level's name.
        level: &'static str,
    },
    /// The requested algorithm cannot run this descriptor (for example Winograd with stride 2).
    UnsupportedAlgorithm {
        /// The algorithm's name.
        algorithm: &'static str,
        /// Why it cannot run.
        reason: &'static str,
    },
    /// An option that is invalid in itself (for example a clamp with `min > max`).
    InvalidParameter {
        /// What is wrong.
        what: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::ZeroDimension { what } => write!(f, "{what} must be at least 1, got 0"),
            Error::ZeroStride { axis } => write!(f, "{axis} stride must be at least 1, got 0"),
            Error::ZeroDilation { axis } => {
                write!(f, "{axis} dilation must be at least 1, got 0")
            }
            Error::KernelLargerThanInput {
                axis,
                kernel,
                padded_input,
            } => write!(
                f,
                "dilated kernel {axis} {kernel} is larger than the padded input {axis} {padded_input}"
            ),
            Error::ChannelsNotDivisibleByGroups { channels, groups } => {
                write!(f, "{channels} channels are not divisible by {groups} groups")
            }
            Error::Overflow { what } => write!(f, "{what} overflows usize"),
            Error::PoolPaddingTooLarge {
                axis,
                padding,
                window,
            } => write!(
                f,
                "pooling {axis} padding {padding} is more than half the window {window}"
            ),
            Error::PoolWindowOnlyPadding { axis, output_index } => write!(
                f,
                "pooling window for output {axis} index {output_index} covers only padding"
            ),
            Error::LengthMismatch {
                what,
                expected,
                actual,
            } => write!(
                f,
                "{what} slice has length {actual}, the descriptor requires {expected}"
            ),
            Error::UnsupportedSimdLevel { level } => {
                write!(f, "SIMD level {level} is not supported on this CPU")
            }
            Error::UnsupportedAlgorithm { algorithm, reason } => {
                write!(f, "algorithm {algorithm} cannot run this problem: {reason}")
            }
            Error::InvalidParameter { what } => write!(f, "invalid parameter: {what}"),
        }
    }
}

impl core::error::Error for Error {}

/// Checked multiplication that names what overflowed.
pub(crate) fn mul(a: usize, b: usize, what: &'static str) -> Result<usize, Error> {
    a.checked_mul(b).ok_or(Error::Overflow { what })
}

/// Checked addition that names what overflowed.
pub(crate) fn add(a: usize, b: usize, what: &'static str) -> Result<usize, Error> {
    a.checked_add(b).ok_or(Error::Overflow { what })
}

/// Checked product of several factors.
pub(crate) fn product(factors: &[usize], what: &'static str) -> Result<usize, Error> {
    factors.iter().try_fold(1usize, |acc, &x| mul(acc, x, what))
}

/// Returns `Ok` when `actual == expected`, else [`Error::LengthMismatch`].
pub(crate) fn check_len(what: &'static str, expected: usize, actual: usize) -> Result<(), Error> {
    if expected == actual {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            what,
            expected,
            actual,
        })
    }
}

/// Returns `Ok` when `actual >= minimum`, else [`Error::LengthMismatch`] (used for scratch).
pub(crate) fn check_min_len(
    what: &'static str,
    minimum: usize,
    actual: usize,
) -> Result<(), Error> {
    if actual >= minimum {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            what,
            expected: minimum,
            actual,
        })
    }
}
