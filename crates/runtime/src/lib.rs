//! # convkit-runtime
//!
//! The std side of convkit: an owned NCHW [`Tensor`], [`layers`], a [`Sequential`] model
//! planned once per input shape (no allocation per forward), [`lenet`] with PyTorch
//! safetensors weights, an [`idx`] reader for MNIST files, threading over
//! [`convkit_kernels`] plans ([`Threads`]) and the `convkit` command-line program.
//!
//! It calls the kernels crate for every computation and reimplements none of them.

pub mod bench;
pub mod error;
pub mod idx;
pub mod layers;
pub mod lenet;
mod model;
pub mod parallel;
pub mod receptive;
pub mod tensor;
pub mod train;
pub mod weights;

pub use convkit_kernels as kernels;
pub use error::{Error, Result};
pub use model::{BatchChunks, Sequential, CHUNK_BYTES, MIN_AUTO_CHUNK};
pub use parallel::{Scratch, Threads};
pub use receptive::{receptive_field, Region};
pub use tensor::{Shape, Tensor, TensorRef};
