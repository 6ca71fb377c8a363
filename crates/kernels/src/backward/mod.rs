//! Backward (training) kernels: the gradients of the convolution, of the fused activations
//! and, in [`crate::pool`], of pooling.
//!
//! Same contracts as the forward paths: `no_std`, no allocation, caller scratch sized by the
//! plan that runs the kernel, every length checked, SIMD through `simd::dispatch` at the
//! plan's level. Every function *overwrites* its gradient outputs.
//!
//! How a training step flows backward through `conv → activation → pool`:
//! pool backward ([`crate::Pool2dPlan::backward_average`] / `backward_max`) gives the gradient
//! with respect to the activation output `y`; [`activation_backward`] turns it into the
//! gradient with respect to the convolution output `z` (`dz = dy·act'(z)`, computed from `y`);
//! [`Conv2dBackwardPlan::backward_weights`] gives the weight and bias gradients and
//! [`Conv2dBackwardPlan::backward_data`] the gradient for the previous layer.
//!
//! The plain-loop oracles are in [`crate::reference`] (`conv2d_backward_data`, ...). See
//! `docs/training.md`.

mod activation;
mod conv;
mod f32_conv_backward_data_gemm;
mod f32_conv_backward_weights_gemm;
mod f32_conv_backward_weights_rows;

pub use activation::activation_backward;
pub use conv::Conv2dBackwardPlan;
