//! Shared pieces of the backward tests (`mod backward_common;` after `mod common;`; a folder
//! so Cargo does not build it as a test of its own).
#![allow(dead_code, unused_imports)] // each test binary uses a subset

use convkit_kernels::{Padding, Pool2d, PoolKind};
use proptest::prelude::*;

pub use crate::common::conv_paths::{case as conv_case, cases, fill, Case as ConvCase};

/// `fill` in `f64`.
pub fn fill64(len: usize, seed: u64) -> Vec<f64> {
    fill(len, seed, false).into_iter().map(f64::from).collect()
}

/// Σ a·b in `f64`.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A valid random pooling descriptor (any option the forward supports).
pub fn pool_desc(kind: PoolKind) -> impl Strategy<Value = Pool2d> {
    (
        1usize..=2,
        1usize..=3,
        (1usize..=12, 1usize..=12),
        (1usize..=4, 1usize..=4),
        (1usize..=3, 1usize..=3),
        (1usize..=2, 1usize..=2),
        [0usize..=2, 0usize..=2, 0usize..=2, 0usize..=2],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_filter_map(
            "valid pooling descriptor",
            move |(n, c, size, window, stride, dilation, pad, ceil, include, global)| {
                let mut b = Pool2d::builder(kind)
                    .batch(n)
                    .channels(c)
                    .input_size(size.0, size.1)
                    .window(window.0, window.1)
                    .stride(stride.0, stride.1)
                    .dilation(dilation.0, dilation.1)
                    .padding(Padding {
                        top: pad[0],
                        bottom: pad[1],
                        left: pad[2],
                        right: pad[3],
                    })
                    .ceil_mode(ceil)
                    .count_include_pad(include);
                if global && size.0 * size.1 <= 16 {
                    b = b.global();
                }
                b.build().ok()
            },
        )
}
