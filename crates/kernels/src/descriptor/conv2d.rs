//! The convolution descriptor.

use super::{AxisGeometry, Layout, Padding};
use crate::error::{product, Axis, Error};

/// A validated 2-D convolution (cross-correlation) problem.
///
/// Tensors are NCHW: input `N×C×H×W`, weights `K×(C/groups)×R×S` (PyTorch's OIHW), bias `K`,
/// output `N×K×P×Q` with
/// `P = ⌊(H + pad_top + pad_bottom − dilation_h·(R−1) − 1) / stride_h⌋ + 1` (and `Q` likewise).
///
/// ```
/// use convkit_kernels::{Conv2d, Padding};
/// let conv = Conv2d::builder()
///     .channels(64, 128)
///     .input_size(56, 56)
///     .kernel_size(3, 3)
///     .stride(2, 2)
///     .padding(Padding::uniform(1))
///     .build()?;
/// assert_eq!((conv.output_height(), conv.output_width()), (28, 28));
/// # Ok::<(), convkit_kernels::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2d {
    batch: usize,
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    h: AxisGeometry,
    w: AxisGeometry,
    out_h: usize,
    out_w: usize,
    layout: Layout,
    input_len: usize,
    output_len: usize,
    weights_len: usize,
}

/// Builder for [`Conv2d`]; every field not set keeps its default (batch 1, stride 1,
/// dilation 1, groups 1, no padding). Channels, input size and kernel size must be set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dBuilder {
    batch: usize,
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    input: (usize, usize),
    kernel: (usize, usize),
    stride: (usize, usize),
    dilation: (usize, usize),
    padding: Padding,
    layout: Layout,
}

impl Default for Conv2dBuilder {
    fn default() -> Self {
        Conv2dBuilder {
            batch: 1,
            in_channels: 0,
            out_channels: 0,
            groups: 1,
            input: (0, 0),
            kernel: (0, 0),
            stride: (1, 1),
            dilation: (1, 1),
            padding: Padding::ZERO,
            layout: Layout::Nchw,
        }
    }
}

impl Conv2dBuilder {
    /// Batch size `N` (default 1).
    pub fn batch(mut self, n: usize) -> Self {
        self.batch = n;
        self
    }
    /// Input channels `C` and output channels `K`.
    pub fn channels(mut self, input: usize, output: usize) -> Self {
        self.in_channels = input;
        self.out_channels = output;
        self
    }
    /// Input height `H` and width `W`.
    pub fn input_size(mut self, h: usize, w: usize) -> Self {
        self.input = (h, w);
        self
    }
    /// Kernel height `R` and width `S`.
    pub fn kernel_size(mut self, r: usize, s: usize) -> Self {
        self.kernel = (r, s);
        self
    }
    /// Vertical and horizontal stride (default 1, 1).
    pub fn stride(mut self, sh: usize, sw: usize) -> Self {
        self.stride = (sh, sw);
        self
    }
    /// Vertical and horizontal dilation (default 1, 1).
    pub fn dilation(mut self, dh: usize, dw: usize) -> Self {
        self.dilation = (dh, dw);
        self
    }
    /// Zero padding per side (default none).
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }
    /// Number of groups; both channel counts must be divisible by it (default 1).
    /// `groups == in_channels == out_channels` is a depthwise convolution.
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
    /// Tensor layout (default and only value so far: NCHW).
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Validates every size and derives the output shape.
    pub fn build(self) -> Result<Conv2d, Error> {
        let nonzero = [
            (self.batch, "batch"),
            (self.in_channels, "input channels"),
            (self.out_channels, "output channels"),
            (self.groups, "groups"),
        ];
        for (value, what) in nonzero {
            if value == 0 {
                return Err(Error::ZeroDimension { what });
            }
        }
        for channels in [self.in_channels, self.out_channels] {
            if channels % self.groups != 0 {
                return Err(Error::ChannelsNotDivisibleByGroups {
                    channels,
                    groups: self.groups,
                });
            }
        }
        let h = AxisGeometry {
            input: self.input.0,
            kernel: self.kernel.0,
            stride: self.stride.0,
            dilation: self.dilation.0,
            pad_before: self.padding.top,
            pad_after: self.padding.bottom,
        };
        let w = AxisGeometry {
            input: self.input.1,
            kernel: self.kernel.1,
            stride: self.stride.1,
            dilation: self.dilation.1,
            pad_before: self.padding.left,
            pad_after: self.padding.right,
        };
        let (dh, ph) = h.validate(Axis::Height, "input height", "kernel height")?;
        let (dw, pw) = w.validate(Axis::Width, "input width", "kernel width")?;
        let out_h = h.output_floor(dh, ph);
        let out_w = w.output_floor(dw, pw);
        let input_len = product(
            &[self.batch, self.in_channels, h.input, w.input],
            "input element count",
        )?;
        let output_len = product(
            &[self.batch, self.out_channels, out_h, out_w],
            "output element count",
        )?;
        let weights_len = product(
            &[
                self.out_channels,
                self.in_channels / self.groups,
                h.kernel,
                w.kernel,
            ],
            "weight element count",
        )?;
        Ok(Conv2d {
            batch: self.batch,
            in_channels: self.in_channels,
            out_channels: self.out_channels,
            groups: self.groups,
            h,
            w,
            out_h,
            out_w,
            layout: self.layout,
            input_len,
            output_len,
            weights_len,
        })
    }
}

impl Conv2d {
    /// Starts a builder.
    pub fn builder() -> Conv2dBuilder {
        Conv2dBuilder::default()
    }

    /// Batch size `N`.
    pub fn batch(&self) -> usize {
        self.batch
    }
    /// Input channels `C`.
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }
    /// Output channels `K`.
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }
    /// Number of groups.
    pub fn groups(&self) -> usize {
        self.groups
    }
    /// Input channels per group, `C/groups`.
    pub fn in_channels_per_group(&self) -> usize {
        self.in_channels / self.groups
    }
    /// Output channels per group, `K/groups`.
    pub fn out_channels_per_group(&self) -> usize {
        self.out_channels / self.groups
    }
    /// True when every group has one input and one output channel (depthwise).
    pub fn is_depthwise(&self) -> bool {
        self.groups == self.in_channels && self.groups == self.out_channels
    }
    /// Input height `H`.
    pub fn input_height(&self) -> usize {
        self.h.input
    }
    /// Input width `W`.
    pub fn input_width(&self) -> usize {
        self.w.input
    }
    /// Kernel height `R`.
    pub fn kernel_height(&self) -> usize {
        self.h.kernel
    }
    /// Kernel width `S`.
    pub fn kernel_width(&self) -> usize {
        self.w.kernel
    }
    /// Vertical stride.
    pub fn stride_height(&self) -> usize {
        self.h.stride
    }
    /// Horizontal stride.
    pub fn stride_width(&self) -> usize {
        self.w.stride
    }
    /// Vertical dilation.
    pub fn dilation_height(&self) -> usize {
        self.h.dilation
    }
    /// Horizontal dilation.
    pub fn dilation_width(&self) -> usize {
        self.w.dilation
    }
    /// Per-side zero padding.
    pub fn padding(&self) -> Padding {
        Padding {
            top: self.h.pad_before,
            bottom: self.h.pad_after,
            left: self.w.pad_before,
            right: self.w.pad_after,
        }
    }
    /// Output height `P`.
    pub fn output_height(&self) -> usize {
        self.out_h
    }
    /// Output width `Q`.
    pub fn output_width(&self) -> usize {
        self.out_w
    }
    /// Tensor layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }
    /// Input elements, `N·C·H·W`.
    pub fn input_len(&self) -> usize {
        self.input_len
    }
    /// Output elements, `N·K·P·Q`.
    pub fn output_len(&self) -> usize {
        self.output_len
    }
    /// Weight elements, `K·(C/groups)·R·S`.
    pub fn weights_len(&self) -> usize {
        self.weights_len
    }
    /// Bias elements, `K`.
    pub fn bias_len(&self) -> usize {
        self.out_channels
    }
    /// Multiply-add FLOPs counted as the direct algorithm does, `2·N·K·(C/groups)·R·S·P·Q`
    /// (as `f64`: benchmark arithmetic, never used for indexing).
    pub fn flops(&self) -> f64 {
        2.0 * self.output_len as f64
            * (self.in_channels_per_group() * self.h.kernel * self.w.kernel) as f64
    }

    /// The same convolution with another batch size (all other fields unchanged).
    pub fn with_batch(&self, batch: usize) -> Result<Conv2d, Error> {
        self.to_builder().batch(batch).build()
    }

    /// A builder holding this descriptor's fields.
    pub fn to_builder(&self) -> Conv2dBuilder {
        Conv2dBuilder {
            batch: self.batch,
            in_channels: self.in_channels,
            out_channels: self.out_channels,
            groups: self.groups,
            input: (self.h.input, self.w.input),
            kernel: (self.h.kernel, self.w.kernel),
            stride: (self.h.stride, self.w.stride),
            dilation: (self.h.dilation, self.w.dilation),
            padding: self.padding(),
            layout: self.layout,
        }
    }

    /// Checks the input, weights, bias and output lengths of a kernel call.
    pub fn check_slices(
        &self,
        input: &[f32],
        weights: &[f32],
        bias: Option<&[f32]>,
        output: &[f32],
    ) -> Result<(), Error> {
        crate::error::check_len("input", self.input_len, input.len())?;
        crate::error::check_len("weights", self.weights_len, weights.len())?;
        if let Some(b) = bias {
            crate::error::check_len("bias", self.out_channels, b.len())?;
        }
        crate::error::check_len("output", self.output_len, output.len())
    }
}
