//! Activation backward: `grad *= act'(z)`, computed from the forward output `y = act(z)`.

use crate::epilogue::Activation;
use crate::error::{check_len, Error};
use crate::simd::{self, dispatch, F32Vector, Level, SimdKernel};

/// Multiplies `grad` (the gradient with respect to an activation's output `y`) in place by the
/// activation's derivative, turning it into the gradient with respect to the activation's input
/// `z`. The derivative is written through the forward output `output` = `y`, which the forward
/// pass kept (so `z` need not be stored): identity 1, ReLU `[y > 0]`, sigmoid `y·(1−y)`, tanh
/// `1−y²`, clamp `[min < y < max]` (zero at the bounds, like PyTorch's hardtanh).
///
/// `level` defaults to [`simd::active`]; `output` and `grad` must have the same length.
/// Matches [`crate::reference::activation_backward`] exactly for identity, ReLU and clamp, and
/// within a few ulp of `|grad|` for sigmoid and tanh.
///
/// ```
/// use convkit_kernels::{backward::activation_backward, Activation};
/// let y = [0.5f32, 0.0, 2.0];
/// let mut g = [1.0f32, 1.0, 3.0];
/// activation_backward(None, Activation::Relu, &y, &mut g)?;
/// assert_eq!(g, [1.0, 0.0, 3.0]);
/// # Ok::<(), convkit_kernels::Error>(())
/// ```
pub fn activation_backward(
    level: Option<Level>,
    activation: Activation,
    output: &[f32],
    grad: &mut [f32],
) -> Result<(), Error> {
    let activation = activation.validate()?;
    let level = level.unwrap_or_else(simd::active).require()?;
    check_len("grad", output.len(), grad.len())?;
    dispatch(
        level,
        ActivationBackward {
            activation,
            output,
            grad,
        },
    );
    Ok(())
}

struct ActivationBackward<'a> {
    activation: Activation,
    output: &'a [f32],
    grad: &'a mut [f32],
}

impl SimdKernel for ActivationBackward<'_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        let ActivationBackward {
            activation,
            output,
            grad,
        } = self;
        match activation {
            Activation::Identity => {}
            // The gates are plain select loops: inlined into `dispatch`'s `#[target_feature]`
            // function they compile to one compare + and per vector at the level (checked in
            // the AVX2 assembly), which needs no new `F32Vector` op.
            Activation::Relu => {
                for (g, &y) in grad.iter_mut().zip(output) {
                    *g = if y > 0.0 { *g } else { 0.0 };
                }
            }
            Activation::Clamp { min, max } => {
                for (g, &y) in grad.iter_mut().zip(output) {
                    *g = if min < y && y < max { *g } else { 0.0 };
                }
            }
            // SAFETY: `output` and `grad` have the same length (checked by the caller); the
            // level is guaranteed by dispatch.
            Activation::Sigmoid => unsafe { smooth::<V>(output, grad, true) },
            // SAFETY: as above.
            Activation::Tanh => unsafe { smooth::<V>(output, grad, false) },
        }
    }
}

/// `g *= y·(1−y)` (sigmoid) or `g *= 1−y²` (tanh), one vector at a time.
///
/// # Safety
/// The [`F32Vector`] contract; `output.len() == grad.len()`.
#[inline(always)]
unsafe fn smooth<V: F32Vector>(output: &[f32], grad: &mut [f32], sigmoid: bool) {
    let n = grad.len().min(output.len());
    let full = n - n % V::LANES;
    let (y, g) = (output.as_ptr(), grad.as_mut_ptr());
    // SAFETY: (whole body) full vectors below `full <= n`, one partial vector of
    // `n − full < LANES` elements after it; both slices hold at least `n` elements.
    unsafe {
        let one = V::splat(1.0);
        let derivative = |yv: V| {
            if sigmoid {
                yv.mul(one.sub(yv))
            } else {
                one.sub(yv.mul(yv))
            }
        };
        let mut i = 0;
        while i < full {
            let d = derivative(V::load(y.add(i)));
            V::load(g.add(i)).mul(d).store(g.add(i));
            i += V::LANES;
        }
        if full < n {
            let d = derivative(V::load_partial(y.add(full), n - full));
            V::load_partial(g.add(full), n - full)
                .mul(d)
                .store_partial(g.add(full), n - full);
        }
    }
}
