//! The pooling descriptor.

use super::{AxisGeometry, Layout, Padding};
use crate::error::{product, Axis, Error};

/// What a pooling window computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolKind {
    /// The largest element of the window (padding never wins: it is skipped, as in PyTorch).
    Max,
    /// The mean of the window.
    Average,
}

/// A validated 2-D pooling problem over an NCHW tensor; channels are pooled independently, so
/// the output is `N×C×P×Q`.
///
/// Output size per axis is `⌊(in + pads − dilation·(k−1) − 1) / stride⌋ + 1`, or in ceil mode
/// the same rounded up, minus one when the last window would start at or past
/// `input + pad_before` (PyTorch's rule). Averages divide by the number of window taps inside
/// the padded input (`count_include_pad`, the default, as in PyTorch) or inside the input.
///
/// ```
/// use convkit_kernels::{Pool2d, PoolKind, Padding};
/// let pool = Pool2d::builder(PoolKind::Max)
///     .channels(64)
///     .input_size(112, 112)
///     .window(3, 3)
///     .stride(2, 2)
///     .padding(Padding::uniform(1))
///     .build()?;
/// assert_eq!((pool.output_height(), pool.output_width()), (56, 56));
/// # Ok::<(), convkit_kernels::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2d {
    kind: PoolKind,
    batch: usize,
    channels: usize,
    h: AxisGeometry,
    w: AxisGeometry,
    out_h: usize,
    out_w: usize,
    ceil_mode: bool,
    count_include_pad: bool,
    global: bool,
    layout: Layout,
    input_len: usize,
    output_len: usize,
}

/// Builder for [`Pool2d`]. Defaults: batch 1, stride equal to the window (PyTorch's default),
/// dilation 1, no padding, floor mode, padding counted in averages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2dBuilder {
    kind: PoolKind,
    batch: usize,
    channels: usize,
    input: (usize, usize),
    window: (usize, usize),
    stride: Option<(usize, usize)>,
    dilation: (usize, usize),
    padding: Padding,
    ceil_mode: bool,
    count_include_pad: bool,
    global: bool,
    layout: Layout,
}

impl Pool2dBuilder {
    /// Batch size `N` (default 1).
    pub fn batch(mut self, n: usize) -> Self {
        self.batch = n;
        self
    }
    /// Channels `C` (in = out).
    pub fn channels(mut self, c: usize) -> Self {
        self.channels = c;
        self
    }
    /// Input height and width.
    pub fn input_size(mut self, h: usize, w: usize) -> Self {
        self.input = (h, w);
        self
    }
    /// Window height and width.
    pub fn window(mut self, p: usize, q: usize) -> Self {
        self.window = (p, q);
        self
    }
    /// Vertical and horizontal stride (default: the window size).
    pub fn stride(mut self, sh: usize, sw: usize) -> Self {
        self.stride = Some((sh, sw));
        self
    }
    /// Vertical and horizontal dilation (default 1, 1).
    pub fn dilation(mut self, dh: usize, dw: usize) -> Self {
        self.dilation = (dh, dw);
        self
    }
    /// Implicit padding per side; at most half the window on each side.
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }
    /// Ceil mode: round the output size up (PyTorch's `ceil_mode=True`).
    pub fn ceil_mode(mut self, on: bool) -> Self {
        self.ceil_mode = on;
        self
    }
    /// Whether averages count padding taps in the divisor (PyTorch's `count_include_pad`,
    /// default true). Ignored by max pooling.
    pub fn count_include_pad(mut self, on: bool) -> Self {
        self.count_include_pad = on;
        self
    }
    /// Global pooling: the window is the whole input, the output is `N×C×1×1`. Overrides
    /// window, stride, dilation, padding and ceil mode.
    pub fn global(mut self) -> Self {
        self.global = true;
        self
    }
    /// Tensor layout (default and only value so far: NCHW).
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Validates every size and derives the output shape.
    pub fn build(self) -> Result<Pool2d, Error> {
        if self.batch == 0 {
            return Err(Error::ZeroDimension { what: "batch" });
        }
        if self.channels == 0 {
            return Err(Error::ZeroDimension { what: "channels" });
        }
        let (window, stride, dilation, padding, ceil_mode) = if self.global {
            (self.input, (1, 1), (1, 1), Padding::ZERO, false)
        } else {
            (
                self.window,
                self.stride.unwrap_or(self.window),
                self.dilation,
                self.padding,
                self.ceil_mode,
            )
        };
        let h = AxisGeometry {
            input: self.input.0,
            kernel: window.0,
            stride: stride.0,
            dilation: dilation.0,
            pad_before: padding.top,
            pad_after: padding.bottom,
        };
        let w = AxisGeometry {
            input: self.input.1,
            kernel: window.1,
            stride: stride.1,
            dilation: dilation.1,
            pad_before: padding.left,
            pad_after: padding.right,
        };
        let (dh, ph) = h.validate(Axis::Height, "input height", "window height")?;
        let (dw, pw) = w.validate(Axis::Width, "input width", "window width")?;
        for (axis, g) in [(Axis::Height, &h), (Axis::Width, &w)] {
            for padding in [g.pad_before, g.pad_after] {
                if padding > g.kernel / 2 {
                    return Err(Error::PoolPaddingTooLarge {
                        axis,
                        padding,
                        window: g.kernel,
                    });
                }
            }
        }
        let (out_h, out_w) = if ceil_mode {
            (h.output_ceil(dh, ph), w.output_ceil(dw, pw))
        } else {
            (h.output_floor(dh, ph), w.output_floor(dw, pw))
        };
        let input_len = product(
            &[self.batch, self.channels, h.input, w.input],
            "input element count",
        )?;
        let output_len = product(
            &[self.batch, self.channels, out_h, out_w],
            "output element count",
        )?;
        check_no_empty_window(Axis::Height, &h, out_h)?;
        check_no_empty_window(Axis::Width, &w, out_w)?;
        Ok(Pool2d {
            kind: self.kind,
            batch: self.batch,
            channels: self.channels,
            h,
            w,
            out_h,
            out_w,
            ceil_mode,
            count_include_pad: self.count_include_pad,
            global: self.global,
            layout: self.layout,
            input_len,
            output_len,
        })
    }
}

/// Every output position must see at least one input element: otherwise its maximum would be
/// −∞ and its exclude-padding average 0/0. Requires the padding check (≤ window/2) first.
///
/// Window `o`'s taps sit at `o·stride + j·dilation` (`j < kernel`) in padded coordinates; the
/// input occupies `[pad_before, pad_before + input)`. When `input >= dilation`, a window that
/// starts inside the input hits it with tap 0, one that starts before it hits it with its
/// first tap past `pad_before` if it has one, and one that starts after it misses; so only
/// the windows starting in the leading padding and the last window need checking, which keeps
/// this O(padding) even for huge inputs. When `input < dilation` a window can straddle the
/// input between two taps; then the padded input is shorter than `dilation + window`, so there
/// are only a few windows and all are checked.
fn check_no_empty_window(axis: Axis, g: &AxisGeometry, out: usize) -> Result<(), Error> {
    let lo = g.pad_before;
    let hits = |o: usize| {
        let start = o * g.stride;
        let first = if start >= lo {
            0
        } else {
            (lo - start).div_ceil(g.dilation)
        };
        first < g.kernel && start + first * g.dilation < lo + g.input
    };
    let check = |o: usize| {
        if hits(o) {
            Ok(())
        } else {
            Err(Error::PoolWindowOnlyPadding {
                axis,
                output_index: o,
            })
        }
    };
    if g.input >= g.dilation {
        let head = (lo / g.stride + 1).min(out);
        (0..head).try_for_each(check)?;
        check(out - 1)
    } else {
        (0..out).try_for_each(check)
    }
}

impl Pool2d {
    /// Starts a builder for max or average pooling.
    pub fn builder(kind: PoolKind) -> Pool2dBuilder {
        Pool2dBuilder {
            kind,
            batch: 1,
            channels: 0,
            input: (0, 0),
            window: (0, 0),
            stride: None,
            dilation: (1, 1),
            padding: Padding::ZERO,
            ceil_mode: false,
            count_include_pad: true,
            global: false,
            layout: Layout::Nchw,
        }
    }

    /// Max or average.
    pub fn kind(&self) -> PoolKind {
        self.kind
    }
    /// Batch size `N`.
    pub fn batch(&self) -> usize {
        self.batch
    }
    /// Channels `C`.
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// Input height.
    pub fn input_height(&self) -> usize {
        self.h.input
    }
    /// Input width.
    pub fn input_width(&self) -> usize {
        self.w.input
    }
    /// Window height.
    pub fn window_height(&self) -> usize {
        self.h.kernel
    }
    /// Window width.
    pub fn window_width(&self) -> usize {
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
    /// Per-side padding.
    pub fn padding(&self) -> Padding {
        Padding {
            top: self.h.pad_before,
            bottom: self.h.pad_after,
            left: self.w.pad_before,
            right: self.w.pad_after,
        }
    }
    /// Whether the output size was rounded up.
    pub fn ceil_mode(&self) -> bool {
        self.ceil_mode
    }
    /// Whether averages count padding taps.
    pub fn count_include_pad(&self) -> bool {
        self.count_include_pad
    }
    /// Whether this is global pooling.
    pub fn is_global(&self) -> bool {
        self.global
    }
    /// Tensor layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }
    /// Output height.
    pub fn output_height(&self) -> usize {
        self.out_h
    }
    /// Output width.
    pub fn output_width(&self) -> usize {
        self.out_w
    }
    /// Input elements `N·C·H·W`.
    pub fn input_len(&self) -> usize {
        self.input_len
    }
    /// Output elements `N·C·P·Q`.
    pub fn output_len(&self) -> usize {
        self.output_len
    }

    /// Checks the input and output lengths of a kernel call.
    pub fn check_slices(&self, input: &[f32], output: &[f32]) -> Result<(), Error> {
        crate::error::check_len("input", self.input_len, input.len())?;
        crate::error::check_len("output", self.output_len, output.len())
    }
}
