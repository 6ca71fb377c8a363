//! Reference backward passes: the gradients of [`super::conv2d`], [`super::pool2d`],
//! [`super::max_pool2d_with_indices`] and the activations, by the textbook formulas.
//!
//! Written as *scatters* (each output gradient is pushed back onto the inputs and weights its
//! forward element read), which is the transpose of the forward loop taken literally and
//! independent of the fast paths in [`crate::backward`] (GEMMs and gathers). Every function
//! overwrites its gradient outputs: it zeroes them first, then accumulates in a fixed order
//! (batch, output channel, output row, output column, then taps in row-major order).

use super::{tap, Real};
use crate::epilogue::Activation;
use crate::error::{check_len, Error};
use crate::{Conv2d, Pool2d, PoolKind};
use core::ops::Sub;

/// Gradient of [`super::conv2d`] with respect to its input: for every output element and
/// every tap `(c, r, s)` inside the input,
/// `dx[n][g·Cg+c][p·sh+r·dh−top][q·sw+s·dw−left] += dy[n][k][p][q] · w[k][c][r][s]`.
/// Overwrites `grad_input` (`N×C×H×W`); `grad_output` is `N×K×P×Q`, `weights` `K×Cg×R×S`.
///
/// ```
/// use convkit_kernels::{reference, Conv2d};
/// // 1×1 input channel, 2×2 input, 1×1 kernel of weight 3: dx = 3·dy.
/// let d = Conv2d::builder().channels(1, 1).input_size(2, 2).kernel_size(1, 1).build()?;
/// let mut dx = [0.0f32; 4];
/// reference::conv2d_backward_data(&d, &[1.0, 2.0, 3.0, 4.0], &[3.0], &mut dx)?;
/// assert_eq!(dx, [3.0, 6.0, 9.0, 12.0]);
/// # Ok::<(), convkit_kernels::Error>(())
/// ```
pub fn conv2d_backward_data<T: Real>(
    desc: &Conv2d,
    grad_output: &[T],
    weights: &[T],
    grad_input: &mut [T],
) -> Result<(), Error> {
    check_len("grad_output", desc.output_len(), grad_output.len())?;
    check_len("weights", desc.weights_len(), weights.len())?;
    check_len("grad_input", desc.input_len(), grad_input.len())?;
    grad_input.fill(T::ZERO);
    for_each_conv_tap(desc, |out, inp, wt| {
        grad_input[inp] = grad_input[inp] + grad_output[out] * weights[wt];
    });
    Ok(())
}

/// Gradient of [`super::conv2d`] with respect to its weights and bias:
/// `dw[k][c][r][s] = Σ_{n,p,q} dy[n][k][p][q] · x[n][g·Cg+c][p·sh+r·dh−top][q·sw+s·dw−left]`
/// (taps in the padding contribute nothing) and `db[k] = Σ_{n,p,q} dy[n][k][p][q]`.
/// Overwrites `grad_weights` (`K×Cg×R×S`) and `grad_bias` (`K`) if given.
pub fn conv2d_backward_weights<T: Real>(
    desc: &Conv2d,
    input: &[T],
    grad_output: &[T],
    grad_weights: &mut [T],
    grad_bias: Option<&mut [T]>,
) -> Result<(), Error> {
    check_len("input", desc.input_len(), input.len())?;
    check_len("grad_output", desc.output_len(), grad_output.len())?;
    check_len("grad_weights", desc.weights_len(), grad_weights.len())?;
    if let Some(db) = grad_bias {
        check_len("grad_bias", desc.bias_len(), db.len())?;
        db.fill(T::ZERO);
        let plane = desc.output_height() * desc.output_width();
        for (i, dy) in grad_output.chunks_exact(plane).enumerate() {
            let k = i % desc.out_channels();
            for &v in dy {
                db[k] = db[k] + v;
            }
        }
    }
    grad_weights.fill(T::ZERO);
    for_each_conv_tap(desc, |out, inp, wt| {
        grad_weights[wt] = grad_weights[wt] + grad_output[out] * input[inp];
    });
    Ok(())
}

/// Calls `f(output_index, input_index, weight_index)` for every (output element, tap) pair of
/// the forward convolution whose tap falls inside the input, in the order batch, output
/// channel, output row, output column, input channel of the group, kernel row, kernel column.
fn for_each_conv_tap(desc: &Conv2d, mut f: impl FnMut(usize, usize, usize)) {
    let (h, w) = (desc.input_height(), desc.input_width());
    let (r_len, s_len) = (desc.kernel_height(), desc.kernel_width());
    let (p_len, q_len) = (desc.output_height(), desc.output_width());
    let (cg, kg) = (desc.in_channels_per_group(), desc.out_channels_per_group());
    let pad = desc.padding();
    let mut out = 0;
    for n in 0..desc.batch() {
        for k in 0..desc.out_channels() {
            let group = k / kg;
            for p in 0..p_len {
                for q in 0..q_len {
                    for c in 0..cg {
                        let plane = (n * desc.in_channels() + group * cg + c) * h * w;
                        let filter = (k * cg + c) * r_len * s_len;
                        for r in 0..r_len {
                            let dh = desc.dilation_height();
                            let Some(y) = tap(p, desc.stride_height(), r, dh, pad.top, h) else {
                                continue;
                            };
                            for s in 0..s_len {
                                let dw = desc.dilation_width();
                                let Some(x) = tap(q, desc.stride_width(), s, dw, pad.left, w)
                                else {
                                    continue;
                                };
                                f(out, plane + y * w + x, filter + r * s_len + s);
                            }
                        }
                    }
                    out += 1;
                }
            }
        }
    }
}

/// Gradient of average pooling ([`super::pool2d`] with [`PoolKind::Average`]): each output
/// gradient divided by its window's divisor (the forward's `count_include_pad` rule) is added
/// to every input element of its window. Overwrites `grad_input` (`N×C×H×W`).
pub fn pool2d_backward<T: Real>(
    desc: &Pool2d,
    grad_output: &[T],
    grad_input: &mut [T],
) -> Result<(), Error> {
    if desc.kind() != PoolKind::Average {
        return Err(Error::InvalidParameter {
            what: "pool2d_backward needs an average-pooling descriptor (max: max_pool2d_backward)",
        });
    }
    check_len("grad_output", desc.output_len(), grad_output.len())?;
    check_len("grad_input", desc.input_len(), grad_input.len())?;
    grad_input.fill(T::ZERO);
    let hw = desc.input_height() * desc.input_width();
    let w = desc.input_width();
    let mut out = 0;
    for plane in 0..desc.batch() * desc.channels() {
        for p in 0..desc.output_height() {
            for q in 0..desc.output_width() {
                let share = grad_output[out] / T::from_count(average_divisor(desc, p, q));
                pool_taps(desc, p, q, |y, x| {
                    let i = plane * hw + y * w + x;
                    grad_input[i] = grad_input[i] + share;
                });
                out += 1;
            }
        }
    }
    Ok(())
}

/// Gradient of max pooling: each output gradient goes to its window's arg-max, the in-plane
/// index `y·W + x` that [`super::max_pool2d_with_indices`] (or
/// [`crate::Pool2dPlan::run_with_indices`]) wrote; elements that are no window's maximum get
/// zero, and an element that is the maximum of several windows gets the sum. Overwrites
/// `grad_input`. An index outside the plane is [`Error::InvalidParameter`].
pub fn max_pool2d_backward<T: Real>(
    desc: &Pool2d,
    grad_output: &[T],
    indices: &[u32],
    grad_input: &mut [T],
) -> Result<(), Error> {
    if desc.kind() != PoolKind::Max {
        return Err(Error::InvalidParameter {
            what: "max_pool2d_backward needs a max-pooling descriptor",
        });
    }
    check_len("grad_output", desc.output_len(), grad_output.len())?;
    check_len("indices", desc.output_len(), indices.len())?;
    check_len("grad_input", desc.input_len(), grad_input.len())?;
    let hw = desc.input_height() * desc.input_width();
    if indices.iter().any(|&i| i as usize >= hw) {
        return Err(Error::InvalidParameter {
            what: "arg-max index outside its input plane",
        });
    }
    grad_input.fill(T::ZERO);
    let out_plane = desc.output_height() * desc.output_width();
    for (o, (&g, &at)) in grad_output.iter().zip(indices).enumerate() {
        let i = (o / out_plane) * hw + at as usize;
        grad_input[i] = grad_input[i] + g;
    }
    Ok(())
}

/// Gradient of an activation, written through the forward *output* `y = act(z)`:
/// `grad[i] *= act'(z_i)` with identity 1, ReLU `[y > 0]`, sigmoid `y·(1−y)`, tanh `1−y²`,
/// clamp `[min < y < max]` (zero at and beyond the bounds, as PyTorch's hardtanh).
pub fn activation_backward<T: Real + Sub<Output = T> + From<f32>>(
    activation: Activation,
    output: &[T],
    grad: &mut [T],
) -> Result<(), Error> {
    let activation = activation.validate()?;
    check_len("grad", output.len(), grad.len())?;
    let one = T::from(1.0);
    for (g, &y) in grad.iter_mut().zip(output) {
        let d = match activation {
            Activation::Identity => one,
            Activation::Relu => gate(y > T::ZERO),
            Activation::Sigmoid => y * (one - y),
            Activation::Tanh => one - y * y,
            Activation::Clamp { min, max } => {
                let inside = T::from(min) < y && y < T::from(max);
                gate(inside)
            }
        };
        *g = *g * d;
    }
    Ok(())
}

fn gate<T: Real>(on: bool) -> T {
    if on {
        T::from_count(1)
    } else {
        T::ZERO
    }
}

/// The divisor of average window `(p, q)`: taps inside the padded input (clipped at its edge
/// for ceil-mode overhangs) when padding counts, else taps inside the input.
fn average_divisor(desc: &Pool2d, p: usize, q: usize) -> usize {
    if desc.count_include_pad() {
        let pad = desc.padding();
        let padded_h = pad.top + desc.input_height() + pad.bottom;
        let padded_w = pad.left + desc.input_width() + pad.right;
        let rows = (0..desc.window_height())
            .filter(|&i| p * desc.stride_height() + i * desc.dilation_height() < padded_h)
            .count();
        let cols = (0..desc.window_width())
            .filter(|&j| q * desc.stride_width() + j * desc.dilation_width() < padded_w)
            .count();
        rows * cols
    } else {
        let mut inside = 0;
        pool_taps(desc, p, q, |_, _| inside += 1);
        inside
    }
}

/// Calls `f(y, x)` for each tap of window `(p, q)` inside the input, in row-major order.
fn pool_taps(desc: &Pool2d, p: usize, q: usize, mut f: impl FnMut(usize, usize)) {
    let pad = desc.padding();
    let (h, w) = (desc.input_height(), desc.input_width());
    for i in 0..desc.window_height() {
        let Some(y) = tap(
            p,
            desc.stride_height(),
            i,
            desc.dilation_height(),
            pad.top,
            h,
        ) else {
            continue;
        };
        for j in 0..desc.window_width() {
            if let Some(x) = tap(
                q,
                desc.stride_width(),
                j,
                desc.dilation_width(),
                pad.left,
                w,
            ) {
                f(y, x);
            }
        }
    }
}
