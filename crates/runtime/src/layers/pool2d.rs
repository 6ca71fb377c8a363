//! Max and average pooling layers.

use crate::error::{Error, Result};
use crate::tensor::Shape;
use convkit_kernels::{Activation, Padding, Pool2dPlan, PoolKind, PoolOptions};

/// The geometry shared by [`MaxPool2d`] and [`AvgPool2d`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeometry {
    /// Window `(height, width)`.
    pub window: (usize, usize),
    /// Stride `(vertical, horizontal)`.
    pub stride: (usize, usize),
    /// Padding per side.
    pub padding: Padding,
    /// Round the output size up (PyTorch's `ceil_mode`).
    pub ceil_mode: bool,
}

impl PoolGeometry {
    fn descriptor(&self, kind: PoolKind, input: Shape) -> Result<convkit_kernels::Pool2d> {
        let what = match kind {
            PoolKind::Max => "maxpool2d",
            PoolKind::Average => "avgpool2d",
        };
        let (c, h, w) = input.chw(what)?;
        convkit_kernels::Pool2d::builder(kind)
            .batch(input.batch())
            .channels(c)
            .input_size(h, w)
            .window(self.window.0, self.window.1)
            .stride(self.stride.0, self.stride.1)
            .padding(self.padding)
            .ceil_mode(self.ceil_mode)
            .build()
            .map_err(|e| Error::kernel(format!("{what} descriptor"), e))
    }
}

macro_rules! pool_layer {
    ($name:ident, $kind:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name {
            /// Window, stride, padding, ceil mode.
            pub geometry: PoolGeometry,
        }

        impl $name {
            /// A `p×q` window with stride `(sh, sw)`, no padding.
            pub fn new(window: (usize, usize), stride: (usize, usize)) -> $name {
                $name {
                    geometry: PoolGeometry {
                        window,
                        stride,
                        padding: Padding::ZERO,
                        ceil_mode: false,
                    },
                }
            }
            /// Sets the padding.
            pub fn with_padding(mut self, padding: Padding) -> $name {
                self.geometry.padding = padding;
                self
            }
            /// Sets ceil mode.
            pub fn with_ceil_mode(mut self, on: bool) -> $name {
                self.geometry.ceil_mode = on;
                self
            }
            /// The kernel descriptor for an input shape.
            pub fn descriptor(&self, input: Shape) -> Result<convkit_kernels::Pool2d> {
                self.geometry.descriptor($kind, input)
            }
            /// Output shape for an input shape.
            pub fn output_shape(&self, input: Shape) -> Result<Shape> {
                let d = self.descriptor(input)?;
                Shape::nchw(d.batch(), d.channels(), d.output_height(), d.output_width())
            }
            /// Plans the layer for an input shape with a fused activation.
            pub fn plan(&self, input: Shape, activation: Activation) -> Result<Pool2dPlan> {
                let d = self.descriptor(input)?;
                Pool2dPlan::new(
                    &d,
                    PoolOptions {
                        level: None,
                        activation,
                    },
                )
                .map_err(|e| Error::kernel("pool2d plan", e))
            }
        }
    };
}

pool_layer!(
    MaxPool2d,
    PoolKind::Max,
    "Max pooling over each channel (padding never wins)."
);
pool_layer!(
    AvgPool2d,
    PoolKind::Average,
    "Average pooling over each channel (padding counted in the divisor, as PyTorch's default)."
);
