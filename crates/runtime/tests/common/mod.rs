//! Helpers shared by the integration tests.
#![allow(dead_code)]

use convkit_runtime::layers::Layer;
use convkit_runtime::{Sequential, Tensor};
use std::path::PathBuf;

/// A deterministic pseudo-random stream in ±scale.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next(&mut self, scale: f32) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
    }
    pub fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next(scale)).collect()
    }
    pub fn tensor(&mut self, dims: &[usize], scale: f32) -> Tensor {
        let n = dims.iter().product();
        Tensor::new(dims, self.vec(n, scale)).unwrap()
    }
}

/// Gives every parameter of `model` random values.
pub fn randomize(model: &mut Sequential, seed: u64) {
    let mut rng = Rng::new(seed);
    for layer in model.layers_mut() {
        match layer {
            Layer::Conv2d(l) => {
                let w = rng.vec(l.weights().len(), 0.3);
                let b = Some(rng.vec(l.out_channels(), 0.3));
                l.set_weights(w, b).unwrap();
            }
            Layer::Linear(l) => {
                let w = rng.vec(l.weights().len(), 0.3);
                let b = Some(rng.vec(l.out_features(), 0.3));
                l.set_weights(w, b).unwrap();
            }
            _ => {}
        }
    }
}

/// A file under `crates/runtime/tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}
