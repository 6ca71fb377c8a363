//! The fused epilogue: per-channel bias plus an activation, applied in one SIMD pass over
//! output that is still in cache.

use crate::simd::{dispatch, F32Vector, Level, SimdKernel};
use crate::Error;

/// An element-wise activation fused into a kernel's output pass.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Activation {
    /// `y = x`.
    #[default]
    Identity,
    /// `y = max(x, 0)`.
    Relu,
    /// `y = 1 / (1 + e^−x)`.
    Sigmoid,
    /// `y = tanh(x)`.
    Tanh,
    /// `y = min(max(x, min), max)` (ReLU6 is `Clamp { min: 0.0, max: 6.0 }`).
    Clamp {
        /// Lower bound.
        min: f32,
        /// Upper bound, at least `min`.
        max: f32,
    },
}

impl Activation {
    /// Checks the activation's own parameters (a clamp needs `min <= max`, neither NaN).
    pub fn validate(self) -> Result<Activation, Error> {
        match self {
            Activation::Clamp { min, max } if min.partial_cmp(&max).is_none_or(|o| o.is_gt()) => {
                Err(Error::InvalidParameter {
                    what: "clamp activation needs min <= max (and neither NaN)",
                })
            }
            a => Ok(a),
        }
    }

    /// The activation of one scalar, computed in `f64` through `libm` (the reference the
    /// SIMD epilogue is tested against).
    pub fn apply_reference(self, x: f64) -> f64 {
        match self {
            Activation::Identity => x,
            Activation::Relu => {
                if x > 0.0 || x.is_nan() {
                    x
                } else {
                    0.0
                }
            }
            Activation::Sigmoid => 1.0 / (1.0 + libm::exp(-x)),
            Activation::Tanh => libm::tanh(x),
            Activation::Clamp { min, max } => x.max(min as f64).min(max as f64),
        }
    }
}

/// Applies `bias` (if any) and `activation` in place over `data`, taken as `channels` planes
/// of `plane_len` elements each, repeated over the batch (NCHW): element `i` of plane `c` of
/// batch item `n` becomes `act(x + bias[c])`.
pub fn apply_bias_activation(
    level: Level,
    data: &mut [f32],
    channels: usize,
    plane_len: usize,
    bias: Option<&[f32]>,
    activation: Activation,
) -> Result<(), Error> {
    let activation = activation.validate()?;
    let level = level.require()?;
    if channels == 0 || plane_len == 0 {
        return Err(Error::ZeroDimension {
            what: "epilogue channels or plane length",
        });
    }
    let image = crate::error::mul(channels, plane_len, "epilogue image size")?;
    if !data.len().is_multiple_of(image) {
        return Err(Error::LengthMismatch {
            what: "epilogue data",
            expected: image * (data.len() / image + 1),
            actual: data.len(),
        });
    }
    if let Some(b) = bias {
        crate::error::check_len("bias", channels, b.len())?;
    }
    for (i, plane) in data.chunks_exact_mut(plane_len).enumerate() {
        let b = bias.map_or(0.0, |b| b[i % channels]);
        dispatch(
            level,
            EpilogueRun {
                data: plane,
                bias: b,
                activation,
            },
        );
    }
    Ok(())
}

struct EpilogueRun<'a> {
    data: &'a mut [f32],
    bias: f32,
    activation: Activation,
}

impl SimdKernel for EpilogueRun<'_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        let n = self.data.len();
        // SAFETY: `data` is valid for `n` elements; the level is guaranteed by dispatch.
        unsafe { bias_activation_run::<V>(self.data.as_mut_ptr(), n, self.bias, self.activation) }
    }
}

/// Applies `act(x + bias)` to `n` contiguous elements at `p`. The building block other
/// micro-kernels call on each output row while it is in registers or L1.
///
/// # Safety
/// `p[..n]` must be valid for reads and writes, and the [`F32Vector`] contract must hold.
#[inline(always)]
pub(crate) unsafe fn bias_activation_run<V: F32Vector>(
    p: *mut f32,
    n: usize,
    bias: f32,
    activation: Activation,
) {
    let full = n - n % V::LANES;
    // SAFETY: (whole body) every access is within `p[..n]`: full vectors below `full`, one
    // partial vector of `n − full < LANES` elements after it.
    unsafe {
        let b = V::splat(bias);
        let mut i = 0;
        while i < full {
            let x = V::load(p.add(i)).add(b);
            activate::<V>(x, activation).store(p.add(i));
            i += V::LANES;
        }
        if full < n {
            let x = V::load_partial(p.add(full), n - full).add(b);
            activate::<V>(x, activation).store_partial(p.add(full), n - full);
        }
    }
}

/// One vector through `activation`.
///
/// # Safety
/// The [`F32Vector`] contract must hold.
#[inline(always)]
pub(crate) unsafe fn activate<V: F32Vector>(x: V, activation: Activation) -> V {
    // SAFETY: (whole body) lane-wise arithmetic under the forwarded contract.
    unsafe {
        match activation {
            Activation::Identity => x,
            // Constant first: x86 max returns the second operand (x) when one is NaN.
            Activation::Relu => V::zero().max(x),
            Activation::Sigmoid => {
                let one = V::splat(1.0);
                one.add(V::zero().sub(x).exp()).recip()
            }
            Activation::Tanh => {
                // tanh(x) = 1 − 2/(e^{2x} + 1): no cancellation for large |x|, absolute error
                // of a few 1e-8 near 0.
                let one = V::splat(1.0);
                let e2x = x.add(x).exp();
                let two = V::splat(2.0);
                one.sub(two.mul(e2x.add(one).recip()))
            }
            Activation::Clamp { min, max } => V::splat(max).min(V::splat(min).max(x)),
        }
    }
}

#[cfg(test)]
mod tests;
