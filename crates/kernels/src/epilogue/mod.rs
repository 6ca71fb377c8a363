//! The fused epilogue: per-channel bias plus an activation, applied in one SIMD pass over
//! output that is still in cache.

use crate::simd::{dispatch, exp_each, F32Vector, Level, SimdKernel};
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

    /// Whether micro-kernels apply this activation to their accumulators in registers before
    /// the store (identity, ReLU, clamp: one or two operations per vector). Sigmoid and tanh
    /// (about 25 dependent operations around an `exp`) may instead be applied by a pass over
    /// the stored output, four interleaved vectors at a time, in a function of its own
    /// ([`activate_stored`]): the direct path's row tiles do that. A wide group inlined
    /// after a tile's loop spilled the tile's accumulators (`docs/architecture.md`).
    pub(crate) fn in_registers(self) -> bool {
        !matches!(self, Activation::Sigmoid | Activation::Tanh)
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
        let b = bias.map(|b| b[i % channels]);
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
    bias: Option<f32>,
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

/// Applies `act(x + bias)` (`act(x)` without a bias) to `n` contiguous elements at `p`, four
/// vectors at a time (their activation chains interleave, see [`activate_each`]).
///
/// # Safety
/// `p[..n]` must be valid for reads and writes, and the [`F32Vector`] contract must hold.
#[inline(always)]
pub(crate) unsafe fn bias_activation_run<V: F32Vector>(
    p: *mut f32,
    n: usize,
    bias: Option<f32>,
    activation: Activation,
) {
    let full = n - n % V::LANES;
    // SAFETY: (whole body) every access is within `p[..n]`: full vectors below `full`, one
    // partial vector of `n − full < LANES <= 64` elements after it.
    unsafe {
        let b = V::splat(bias.unwrap_or(0.0));
        let add_bias = bias.is_some();
        let mut i = 0;
        // Not at one lane (the Cortex-M4 build): the group is code size, not speed, there.
        while V::LANES > 1 && i + 4 * V::LANES <= full {
            let mut v = [V::zero(); 4];
            for (j, v) in v.iter_mut().enumerate() {
                *v = V::load(p.add(i + j * V::LANES));
                if add_bias {
                    *v = v.add(b);
                }
            }
            activate_each(&mut v, activation);
            for (j, v) in v.iter().enumerate() {
                v.store(p.add(i + j * V::LANES));
            }
            i += 4 * V::LANES;
        }
        while i < full {
            let mut x = V::load(p.add(i));
            if add_bias {
                x = x.add(b);
            }
            activate::<V>(x, activation).store(p.add(i));
            i += V::LANES;
        }
        if full < n {
            let tail = n - full;
            let mut x = V::load_first(p.add(full), tail);
            if add_bias {
                x = x.add(b);
            }
            activate::<V>(x, activation).store_first(p.add(full), tail);
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
        let one = V::splat(1.0);
        match activation {
            Activation::Sigmoid => one.add(V::zero().sub(x).exp()).recip(),
            Activation::Tanh => one.sub(V::splat(2.0).mul(x.add(x).exp().add(one).recip())),
            _ => {
                let mut x = [x];
                activate_each(&mut x, activation);
                x[0]
            }
        }
    }
}

/// `N` independent vectors through `activation`, in place, one step at a time across all of
/// them: sigmoid and tanh are chains of about 25 dependent operations, which a vector at a
/// time runs at their latency, and interleaved chains nearer the FMA throughput. Same
/// operations per lane as one vector alone, so the same bits.
///
/// # Safety
/// The [`F32Vector`] contract must hold.
#[inline(always)]
pub(crate) unsafe fn activate_each<V: F32Vector, const N: usize>(
    xs: &mut [V; N],
    activation: Activation,
) {
    // SAFETY: (whole body) lane-wise arithmetic under the forwarded contract.
    // Plain loops, no closures: a closure is a function without the caller's target
    // features, and the intrinsics it calls were left as calls (5x slower).
    unsafe {
        let one = V::splat(1.0);
        match activation {
            Activation::Identity => {}
            Activation::Relu => {
                for x in xs.iter_mut() {
                    // Constant first: x86 max returns the second operand (x) when one is NaN.
                    *x = V::zero().max(*x);
                }
            }
            Activation::Sigmoid => {
                for x in xs.iter_mut() {
                    *x = V::zero().sub(*x);
                }
                exp_each(xs);
                for e in xs.iter_mut() {
                    *e = one.add(*e).recip();
                }
            }
            Activation::Tanh => {
                // tanh(x) = 1 − 2/(e^{2x} + 1): no cancellation for large |x|, absolute error
                // of a few 1e-8 near 0.
                for x in xs.iter_mut() {
                    *x = x.add(*x);
                }
                exp_each(xs);
                for e in xs.iter_mut() {
                    *e = one.sub(V::splat(2.0).mul(e.add(one).recip()));
                }
            }
            Activation::Clamp { min, max } => {
                for x in xs.iter_mut() {
                    *x = V::splat(max).min(V::splat(min).max(*x));
                }
            }
        }
    }
}

/// `activation` over stored output: `planes` runs of `len` contiguous elements, the first at
/// `p` and each `stride` after the one before (one run when they touch), in a function of its
/// own per SIMD level (see [`Activation::in_registers`]).
///
/// # Safety
/// Every run must be valid for reads and writes, and the [`F32Vector`] contract must hold.
#[inline(always)]
pub(crate) unsafe fn activate_stored<V: F32Vector>(
    p: *mut f32,
    len: usize,
    planes: usize,
    stride: usize,
    activation: Activation,
) {
    struct Stored {
        p: *mut f32,
        len: usize,
        planes: usize,
        stride: usize,
        activation: Activation,
    }
    impl SimdKernel for Stored {
        type Output = ();
        #[inline(always)]
        unsafe fn run<V: F32Vector>(self) {
            // SAFETY: (whole body) forwarded from `activate_stored`'s contract.
            unsafe {
                if self.stride == self.len {
                    bias_activation_run::<V>(self.p, self.len * self.planes, None, self.activation);
                } else {
                    for i in 0..self.planes {
                        let run = self.p.add(i * self.stride);
                        bias_activation_run::<V>(run, self.len, None, self.activation);
                    }
                }
            }
        }
    }
    let job = Stored {
        p,
        len,
        planes,
        stride,
        activation,
    };
    // SAFETY: forwarded contract (the caller runs at level `V`).
    unsafe { V::isolate(job) }
}

#[cfg(test)]
mod tests;
