//! The fully connected layer.

use crate::error::{Error, Result};
use crate::tensor::Shape;
use convkit_kernels::{Activation, Conv2dPlan, ConvOptions};

/// `y = x·Wᵀ + b` on an `N×in` input: weights `out×in` (PyTorch's layout), bias `out`.
///
/// It runs as a kernel call that exists today and allocates nothing: a 1×1 convolution over a
/// 1×1 image with `in` channels and `out` output channels, whose weights `out×in×1×1` are
/// exactly the linear weights and whose output `N×out×1×1` is exactly `N×out`. So the fused
/// bias + activation epilogue and the per-batch-item thread split come from [`Conv2dPlan`].
/// It switches to the kernels' packed GEMM once that has a public entry point
/// (`docs/runtime.md`).
#[derive(Clone, Debug)]
pub struct Linear {
    in_features: usize,
    out_features: usize,
    weights: Vec<f32>,
    bias: Option<Vec<f32>>,
}

impl Linear {
    /// A layer with zero weights and a zero bias.
    pub fn new(in_features: usize, out_features: usize) -> Linear {
        Linear {
            in_features,
            out_features,
            weights: vec![0.0; in_features * out_features],
            bias: Some(vec![0.0; out_features]),
        }
    }

    /// Sets the weights and bias (see [`Linear::set_weights`]).
    pub fn with_weights(mut self, weights: Vec<f32>, bias: Option<Vec<f32>>) -> Result<Linear> {
        self.set_weights(weights, bias)?;
        Ok(self)
    }

    /// Replaces the weights (`out·in`, row-major `out×in`) and the bias (`out`, or none).
    pub fn set_weights(&mut self, weights: Vec<f32>, bias: Option<Vec<f32>>) -> Result<()> {
        if weights.len() != self.in_features * self.out_features {
            return Err(Error::shape(
                "linear weights",
                format!("[{}, {}]", self.out_features, self.in_features),
                format!("{} elements", weights.len()),
            ));
        }
        if let Some(b) = &bias {
            if b.len() != self.out_features {
                return Err(Error::shape(
                    "linear bias",
                    format!("[{}]", self.out_features),
                    format!("{} elements", b.len()),
                ));
            }
        }
        self.weights = weights;
        self.bias = bias;
        Ok(())
    }

    /// Input features.
    pub fn in_features(&self) -> usize {
        self.in_features
    }
    /// Output features.
    pub fn out_features(&self) -> usize {
        self.out_features
    }
    /// The weights, `out×in` row-major.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }
    /// The bias, if any.
    pub fn bias(&self) -> Option<&[f32]> {
        self.bias.as_deref()
    }
    /// The weights and bias for in-place updates (an optimizer step).
    pub fn parameters_mut(&mut self) -> (&mut [f32], Option<&mut [f32]>) {
        (&mut self.weights, self.bias.as_deref_mut())
    }
    /// The weights' shape `[out, in]`.
    pub fn weight_shape(&self) -> [usize; 2] {
        [self.out_features, self.in_features]
    }

    /// Output shape `N×out` for an input `N×in`.
    pub fn output_shape(&self, input: Shape) -> Result<Shape> {
        match *input.dims() {
            [n, f] if f == self.in_features => Shape::new(&[n, self.out_features]),
            _ => Err(Error::shape(
                "linear input",
                format!("N×{}", self.in_features),
                input.to_string(),
            )),
        }
    }

    /// The kernel descriptor: a 1×1 convolution over a 1×1 image.
    pub fn descriptor(&self, input: Shape) -> Result<convkit_kernels::Conv2d> {
        self.output_shape(input)?;
        convkit_kernels::Conv2d::builder()
            .batch(input.batch())
            .channels(self.in_features, self.out_features)
            .input_size(1, 1)
            .kernel_size(1, 1)
            .build()
            .map_err(|e| Error::kernel("linear descriptor", e))
    }

    /// Plans the layer for an input shape with a fused activation.
    pub fn plan(&self, input: Shape, activation: Activation) -> Result<Conv2dPlan> {
        let desc = self.descriptor(input)?;
        Conv2dPlan::new(
            &desc,
            ConvOptions {
                activation,
                ..ConvOptions::default()
            },
        )
        .map_err(|e| Error::kernel("linear plan", e))
    }
}
