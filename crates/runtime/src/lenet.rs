//! The course's LeNet-5 (sigmoid activations, average pooling) and its weight files.
//!
//! Layer indices match PyTorch's `nn.Sequential`, so the safetensors `state_dict` names
//! (`1.weight`, `1.bias`, `4.*`, `8.*`, `10.*`, `12.*`) load directly:
//!
//! | index | layer | output per image |
//! |---|---|---|
//! | 0 | reshape to 1×28×28 | 1×28×28 |
//! | 1 | Conv2d(1→6, 5×5, padding 2) | 6×28×28 |
//! | 2 | sigmoid (fused into 1) | |
//! | 3 | AvgPool(2×2, stride 2) | 6×14×14 |
//! | 4 | Conv2d(6→16, 5×5) | 16×10×10 |
//! | 5 | sigmoid (fused into 4) | |
//! | 6 | AvgPool(2×2, stride 2) | 16×5×5 |
//! | 7 | flatten | 400 |
//! | 8 | Linear(400→120) | 120 |
//! | 9 | sigmoid (fused into 8) | |
//! | 10 | Linear(120→84) | 84 |
//! | 11 | sigmoid (fused into 10) | |
//! | 12 | Linear(84→10) | 10 (logits) |

use crate::error::Result;
use crate::layers::{AvgPool2d, Conv2d, Flatten, Linear, Reshape, Sigmoid};
use crate::model::Sequential;
use crate::tensor::Shape;
use convkit_kernels::Padding;
use std::path::Path;

/// Image height and width LeNet takes.
pub const IMAGE_SIZE: usize = 28;
/// Number of classes.
pub const CLASSES: usize = 10;

/// The course's LeNet with zero parameters (load weights with
/// [`Sequential::load_safetensors`] or use [`lenet_from_file`]). Input `N×1×28×28` (or
/// `N×784`), output `N×10` logits. Runs on all cores; see [`Sequential::with_threads`].
pub fn lenet() -> Sequential {
    // The reshape to 1×28×28 of a 784-element item cannot fail.
    let reshape = Reshape::new(&[1, IMAGE_SIZE, IMAGE_SIZE]).expect("valid reshape");
    Sequential::new(vec![
        reshape.into(),
        Conv2d::new(1, 6, (5, 5))
            .with_padding(Padding::uniform(2))
            .into(),
        Sigmoid.into(),
        AvgPool2d::new((2, 2), (2, 2)).into(),
        Conv2d::new(6, 16, (5, 5)).into(),
        Sigmoid.into(),
        AvgPool2d::new((2, 2), (2, 2)).into(),
        Flatten.into(),
        Linear::new(16 * 5 * 5, 120).into(),
        Sigmoid.into(),
        Linear::new(120, 84).into(),
        Sigmoid.into(),
        Linear::new(84, CLASSES).into(),
    ])
}

/// LeNet with the parameters of a safetensors `state_dict` file.
pub fn lenet_from_file(path: impl AsRef<Path>) -> Result<Sequential> {
    let mut model = lenet();
    model.load_safetensors(path)?;
    Ok(model)
}

/// The input shape of a batch of `n` images.
pub fn input_shape(n: usize) -> Result<Shape> {
    Shape::nchw(n, 1, IMAGE_SIZE, IMAGE_SIZE)
}

/// Index of the largest logit (the first on ties; NaN never wins).
pub fn argmax(logits: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in logits.iter().enumerate() {
        if x > logits[best] || logits[best].is_nan() {
            best = i;
        }
    }
    best
}
