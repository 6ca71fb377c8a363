//! # convkit-kernels
//!
//! SIMD convolution and pooling kernels for convolutional networks: `#![no_std]`, no allocator
//! needed, with run-time CPU dispatch so one binary uses AVX-512, AVX2+FMA or NEON where the
//! CPU has them.
//!
//! How a call flows: a validated descriptor ([`Conv2d`], [`Pool2d`]) → a plan
//! ([`Conv2dPlan`], [`Pool2dPlan`]) that picks the algorithm and SIMD level and says how much
//! scratch it needs → `run` with caller-provided input, weights, bias, output and scratch
//! slices. Every length is checked; bad input is an [`Error`], never a panic.
//!
//! ```
//! use convkit_kernels::reference::corr2d;
//! let x = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
//! let k = [0.0, 1.0, 2.0, 3.0];
//! let mut y = [0.0f32; 4];
//! corr2d(&x, 3, 3, &k, 2, 2, &mut y)?;
//! assert_eq!(y, [19.0, 25.0, 37.0, 43.0]);
//! # Ok::<(), convkit_kernels::Error>(())
//! ```
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "std")]
extern crate std;

pub mod backward;
pub mod conv;
pub mod descriptor;
pub mod epilogue;
mod error;
pub mod gemm;
pub mod pool;
pub mod reference;
pub mod simd;
pub mod split;
mod window3s2;

/// This crate's version (`CARGO_PKG_VERSION`), as printed by `convkit info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use conv::{Algorithm, Conv2dPlan, ConvOptions};
pub use descriptor::{Conv2d, Conv2dBuilder, Layout, Padding, Pool2d, Pool2dBuilder, PoolKind};
pub use epilogue::Activation;
pub use error::{Axis, Error};
pub use gemm::{Gemm, GemmBias, GemmPlan};
pub use pool::{Pool2dPlan, PoolOptions};
pub use simd::Level;
pub use split::{OutputPiece, UnitGeometry};
