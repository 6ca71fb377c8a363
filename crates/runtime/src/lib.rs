//! # convkit-runtime
//!
//! The std side of convkit: threading over [`convkit_kernels`] plans, and (as the project
//! grows) tensors, layers, LeNet, weight loading and the `convkit` command-line program.

pub mod bench;
pub mod parallel;

pub use convkit_kernels as kernels;
pub use parallel::{Scratch, Threads};
