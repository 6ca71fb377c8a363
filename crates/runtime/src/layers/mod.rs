//! Layers: convolution, pooling, linear, activations and shape changes.
//!
//! A [`Layer`] only describes a computation and holds its parameters; the
//! [`Sequential`](crate::Sequential) model plans every layer for one input shape (kernel
//! plans, buffers, scratch) and runs them.

mod conv2d;
pub(crate) mod linear;
mod pool2d;

pub use conv2d::Conv2d;
pub use linear::{Linear, LinearPlan, LINEAR_SHARD_ROWS};
pub use pool2d::{AvgPool2d, MaxPool2d, PoolGeometry};

use crate::error::{Error, Result};
use crate::tensor::Shape;
use convkit_kernels::Activation;

/// `y = 1 / (1 + e^−x)`, element-wise. Fused into a preceding conv, linear or pooling layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sigmoid;

/// `y = max(x, 0)`, element-wise. Fused into a preceding conv, linear or pooling layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReLU;

/// `y = tanh(x)`, element-wise. Fused into a preceding conv, linear or pooling layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tanh;

/// Flattens every batch item to one dimension: `N×C×H×W → N×(C·H·W)`. Moves no data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flatten;

/// Gives every batch item a new shape of equal element count (`N` is kept), like PyTorch's
/// `x.view(-1, *dims)`. Moves no data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reshape {
    item: Shape,
}

impl Reshape {
    /// Each batch item becomes `dims` (1 to 3 dimensions).
    pub fn new(dims: &[usize]) -> Result<Reshape> {
        if dims.len() > 3 {
            return Err(Error::shape(
                "reshape",
                "1 to 3 dimensions per item",
                format!("{dims:?}"),
            ));
        }
        Ok(Reshape {
            item: Shape::new(dims)?,
        })
    }

    /// The per-item dimensions.
    pub fn item_dims(&self) -> &[usize] {
        self.item.dims()
    }

    /// Output shape for an input shape.
    pub fn output_shape(&self, input: Shape) -> Result<Shape> {
        if input.item_len() != self.item.numel() {
            return Err(Error::shape(
                "reshape",
                format!("N×{} ({} elements per item)", self.item, self.item.numel()),
                input.to_string(),
            ));
        }
        let mut dims = [input.batch(), 1, 1, 1];
        dims[1..=self.item.rank()].copy_from_slice(self.item.dims());
        Shape::new(&dims[..=self.item.rank()])
    }
}

/// One layer of a [`Sequential`](crate::Sequential) model.
#[derive(Clone, Debug)]
pub enum Layer {
    /// 2-D convolution.
    Conv2d(Conv2d),
    /// Max pooling.
    MaxPool2d(MaxPool2d),
    /// Average pooling.
    AvgPool2d(AvgPool2d),
    /// Fully connected.
    Linear(Linear),
    /// Sigmoid activation.
    Sigmoid(Sigmoid),
    /// ReLU activation.
    ReLU(ReLU),
    /// Tanh activation.
    Tanh(Tanh),
    /// Flatten to `N×F`.
    Flatten(Flatten),
    /// Per-item reshape.
    Reshape(Reshape),
}

impl Layer {
    /// A short lower-case name (`conv2d`, `sigmoid`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Layer::Conv2d(_) => "conv2d",
            Layer::MaxPool2d(_) => "maxpool2d",
            Layer::AvgPool2d(_) => "avgpool2d",
            Layer::Linear(_) => "linear",
            Layer::Sigmoid(_) => "sigmoid",
            Layer::ReLU(_) => "relu",
            Layer::Tanh(_) => "tanh",
            Layer::Flatten(_) => "flatten",
            Layer::Reshape(_) => "reshape",
        }
    }

    /// The activation this layer computes, if it is an activation layer.
    pub fn as_activation(&self) -> Option<Activation> {
        match self {
            Layer::Sigmoid(_) => Some(Activation::Sigmoid),
            Layer::ReLU(_) => Some(Activation::Relu),
            Layer::Tanh(_) => Some(Activation::Tanh),
            _ => None,
        }
    }

    /// Output shape for an input shape (an error if the layer cannot take that input).
    pub fn output_shape(&self, input: Shape) -> Result<Shape> {
        match self {
            Layer::Conv2d(l) => l.output_shape(input),
            Layer::MaxPool2d(l) => l.output_shape(input),
            Layer::AvgPool2d(l) => l.output_shape(input),
            Layer::Linear(l) => l.output_shape(input),
            Layer::Sigmoid(_) | Layer::ReLU(_) | Layer::Tanh(_) => Ok(input),
            Layer::Flatten(_) => Shape::new(&[input.batch(), input.item_len()]),
            Layer::Reshape(l) => l.output_shape(input),
        }
    }
}

macro_rules! layer_from {
    ($($t:ident),*) => {$(
        impl From<$t> for Layer {
            fn from(l: $t) -> Layer {
                Layer::$t(l)
            }
        }
    )*};
}
layer_from!(Conv2d, MaxPool2d, AvgPool2d, Linear, Sigmoid, ReLU, Tanh, Flatten, Reshape);
