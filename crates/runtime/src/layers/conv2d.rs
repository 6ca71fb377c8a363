//! The 2-D convolution layer.

use crate::error::{Error, Result};
use crate::tensor::Shape;
use convkit_kernels::{Activation, Algorithm, Conv2dPlan, ConvOptions, Padding};

/// A convolution layer: weights `K×(C/groups)×R×S` (PyTorch's OIHW), bias `K`, and the
/// geometry (stride, padding, dilation, groups). The algorithm and SIMD level are chosen once
/// per input shape when the model is planned ([`Conv2d::plan`]), not per call.
///
/// ```
/// use convkit_runtime::layers::Conv2d;
/// use convkit_runtime::kernels::Padding;
/// let conv = Conv2d::new(1, 6, (5, 5)).with_padding(Padding::uniform(2));
/// assert_eq!(conv.weights().len(), 6 * 25);
/// ```
#[derive(Clone, Debug)]
pub struct Conv2d {
    in_channels: usize,
    out_channels: usize,
    kernel: (usize, usize),
    stride: (usize, usize),
    dilation: (usize, usize),
    padding: Padding,
    groups: usize,
    algorithm: Algorithm,
    weights: Vec<f32>,
    bias: Option<Vec<f32>>,
    /// Weights transformed for the planned algorithm (for example Winograd's `G·g·Gᵀ`), or
    /// `None` when the plan runs on the raw weights. Filled by [`Conv2d::plan`], cleared when
    /// the weights change.
    prepared: Option<Vec<f32>>,
}

impl Conv2d {
    /// A convolution from `in_channels` to `out_channels` with an `R×S` kernel, stride 1, no
    /// padding, one group, zero weights and a zero bias.
    pub fn new(in_channels: usize, out_channels: usize, kernel: (usize, usize)) -> Conv2d {
        let mut c = Conv2d {
            in_channels,
            out_channels,
            kernel,
            stride: (1, 1),
            dilation: (1, 1),
            padding: Padding::ZERO,
            groups: 1,
            algorithm: Algorithm::Auto,
            weights: Vec::new(),
            bias: Some(vec![0.0; out_channels]),
            prepared: None,
        };
        c.weights = vec![0.0; c.weights_len()];
        c
    }

    /// Sets the stride.
    pub fn with_stride(mut self, sh: usize, sw: usize) -> Conv2d {
        self.stride = (sh, sw);
        self
    }
    /// Sets the zero padding.
    pub fn with_padding(mut self, padding: Padding) -> Conv2d {
        self.padding = padding;
        self
    }
    /// Sets the dilation.
    pub fn with_dilation(mut self, dh: usize, dw: usize) -> Conv2d {
        self.dilation = (dh, dw);
        self
    }
    /// Sets the number of groups (the weights are reset to zeros of the new size).
    pub fn with_groups(mut self, groups: usize) -> Conv2d {
        self.groups = groups;
        self.weights = vec![0.0; self.weights_len()];
        self.prepared = None;
        self
    }
    /// Forces an algorithm instead of the selector's choice ([`Algorithm::Auto`]).
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Conv2d {
        self.algorithm = algorithm;
        self
    }
    /// Sets the weights and bias (see [`Conv2d::set_weights`]).
    pub fn with_weights(mut self, weights: Vec<f32>, bias: Option<Vec<f32>>) -> Result<Conv2d> {
        self.set_weights(weights, bias)?;
        Ok(self)
    }

    /// Replaces the weights (`K·(C/groups)·R·S` elements) and bias (`K`, or none).
    pub fn set_weights(&mut self, weights: Vec<f32>, bias: Option<Vec<f32>>) -> Result<()> {
        if weights.len() != self.weights_len() {
            return Err(Error::shape(
                "conv2d weights",
                format!("{:?}", self.weight_shape()),
                format!("{} elements", weights.len()),
            ));
        }
        if let Some(b) = &bias {
            if b.len() != self.out_channels {
                return Err(Error::shape(
                    "conv2d bias",
                    format!("[{}]", self.out_channels),
                    format!("{} elements", b.len()),
                ));
            }
        }
        self.weights = weights;
        self.bias = bias;
        self.prepared = None;
        Ok(())
    }

    /// Input channels `C`.
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }
    /// Output channels `K`.
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }
    /// Kernel `(R, S)`.
    pub fn kernel(&self) -> (usize, usize) {
        self.kernel
    }
    /// Stride `(sh, sw)`.
    pub fn stride(&self) -> (usize, usize) {
        self.stride
    }
    /// Dilation `(dh, dw)`.
    pub fn dilation(&self) -> (usize, usize) {
        self.dilation
    }
    /// Padding per side.
    pub fn padding(&self) -> Padding {
        self.padding
    }
    /// Groups.
    pub fn groups(&self) -> usize {
        self.groups
    }
    /// The weights, OIHW.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }
    /// The bias, if any.
    pub fn bias(&self) -> Option<&[f32]> {
        self.bias.as_deref()
    }
    /// The weights' shape `[K, C/groups, R, S]`.
    pub fn weight_shape(&self) -> [usize; 4] {
        [
            self.out_channels,
            self.in_channels / self.groups.max(1),
            self.kernel.0,
            self.kernel.1,
        ]
    }

    fn weights_len(&self) -> usize {
        self.weight_shape().iter().product()
    }

    /// The kernel descriptor for an input shape `N×C×H×W`.
    pub fn descriptor(&self, input: Shape) -> Result<convkit_kernels::Conv2d> {
        let (c, h, w) = input.chw("conv2d input")?;
        if c != self.in_channels {
            return Err(Error::shape(
                "conv2d input channels",
                self.in_channels.to_string(),
                c.to_string(),
            ));
        }
        convkit_kernels::Conv2d::builder()
            .batch(input.batch())
            .channels(self.in_channels, self.out_channels)
            .input_size(h, w)
            .kernel_size(self.kernel.0, self.kernel.1)
            .stride(self.stride.0, self.stride.1)
            .dilation(self.dilation.0, self.dilation.1)
            .padding(self.padding)
            .groups(self.groups)
            .build()
            .map_err(|e| Error::kernel("conv2d descriptor", e))
    }

    /// Output shape `N×K×P×Q` for an input shape.
    pub fn output_shape(&self, input: Shape) -> Result<Shape> {
        let d = self.descriptor(input)?;
        Shape::nchw(
            d.batch(),
            d.out_channels(),
            d.output_height(),
            d.output_width(),
        )
    }

    /// Makes every decision for an input shape once: the descriptor, the algorithm (through
    /// the selector unless forced), the fused activation, and the prepared weights cache.
    pub fn plan(&mut self, input: Shape, activation: Activation) -> Result<Conv2dPlan> {
        // A failed plan leaves no earlier plan's transformed weights behind.
        self.prepared = None;
        let (plan, prepared) = self.plan_detached(input, activation)?;
        self.prepared = prepared;
        Ok(plan)
    }

    /// [`Conv2d::plan`] without touching the layer's cache: the plan and, if it runs on
    /// transformed weights, those weights (else `None`: it runs on [`Conv2d::weights`]). For
    /// callers that keep several plans of one layer (the model's last, smaller batch chunk).
    pub fn plan_detached(
        &self,
        input: Shape,
        activation: Activation,
    ) -> Result<(Conv2dPlan, Option<Vec<f32>>)> {
        let desc = self.descriptor(input)?;
        let plan = Conv2dPlan::new(
            &desc,
            ConvOptions {
                algorithm: self.algorithm,
                level: None,
                activation,
            },
        )
        .map_err(|e| Error::kernel("conv2d plan", e))?;
        // Algorithms that run on transformed weights (Winograd's `G·g·Gᵀ`) get them here, once
        // per plan; every other plan runs on the raw OIHW weights.
        let len = plan.prepared_weights_len();
        if len == 0 {
            return Ok((plan, None));
        }
        let mut prepared = vec![0.0; len];
        plan.prepare_weights(&self.weights, &mut prepared)
            .map_err(|e| Error::kernel("conv2d weight transform", e))?;
        Ok((plan, Some(prepared)))
    }

    /// The weights the planned algorithm runs on (prepared if the plan needs it, else raw).
    pub fn planned_weights(&self) -> &[f32] {
        self.prepared.as_deref().unwrap_or(&self.weights)
    }

    /// The algorithm asked for ([`Algorithm::Auto`] unless forced).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The weights and bias for in-place updates (an optimizer step). Drops the prepared
    /// weights: the next [`Conv2d::plan`] transforms the new ones.
    pub fn parameters_mut(&mut self) -> (&mut [f32], Option<&mut [f32]>) {
        self.prepared = None;
        (&mut self.weights, self.bias.as_deref_mut())
    }
}
