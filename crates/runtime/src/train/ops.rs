//! The backward computations of one layer on one shard, single-threaded.
//!
//! STAND-IN: plain loops until the kernels crate's backward paths land (issue 8); each
//! function here is replaced by the kernel call with the same contract (outputs overwritten).

use convkit_kernels::{Activation, Conv2d, Pool2d};

/// `grad *= act'(y)` where `y` is the activation's output.
pub(crate) fn activation_backward(act: Activation, output: &[f32], grad: &mut [f32]) {
    match act {
        Activation::Identity => {}
        Activation::Sigmoid => {
            for (g, &y) in grad.iter_mut().zip(output) {
                *g *= y * (1.0 - y);
            }
        }
        Activation::Tanh => {
            for (g, &y) in grad.iter_mut().zip(output) {
                *g *= 1.0 - y * y;
            }
        }
        Activation::Relu => {
            for (g, &y) in grad.iter_mut().zip(output) {
                if y <= 0.0 {
                    *g = 0.0;
                }
            }
        }
        Activation::Clamp { min, max } => {
            for (g, &y) in grad.iter_mut().zip(output) {
                if y <= min || y >= max {
                    *g = 0.0;
                }
            }
        }
    }
}

/// Visits every (input index, weight index, output index) triple of a convolution.
fn for_each_tap(d: &Conv2d, mut f: impl FnMut(usize, usize, usize)) {
    let (n, c, h, w) = (
        d.batch(),
        d.in_channels(),
        d.input_height(),
        d.input_width(),
    );
    let (k, p, q) = (d.out_channels(), d.output_height(), d.output_width());
    let (r, s) = (d.kernel_height(), d.kernel_width());
    let cg = d.in_channels_per_group();
    let kg = d.out_channels_per_group();
    let pad = d.padding();
    for b in 0..n {
        for ko in 0..k {
            let g = ko / kg;
            for ci in 0..cg {
                let cin = g * cg + ci;
                for y in 0..p {
                    for x in 0..q {
                        let o = ((b * k + ko) * p + y) * q + x;
                        for ry in 0..r {
                            let iy = (y * d.stride_height() + ry * d.dilation_height())
                                .wrapping_sub(pad.top);
                            if iy >= h {
                                continue;
                            }
                            for sx in 0..s {
                                let ix = (x * d.stride_width() + sx * d.dilation_width())
                                    .wrapping_sub(pad.left);
                                if ix >= w {
                                    continue;
                                }
                                let i = ((b * c + cin) * h + iy) * w + ix;
                                let wi = ((ko * cg + ci) * r + ry) * s + sx;
                                f(i, wi, o);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Gradient w.r.t. the input (overwritten).
pub(crate) fn conv_backward_data(
    d: &Conv2d,
    grad_output: &[f32],
    weights: &[f32],
    grad_input: &mut [f32],
) {
    grad_input.fill(0.0);
    for_each_tap(d, |i, wi, o| grad_input[i] += weights[wi] * grad_output[o]);
}

/// Gradient w.r.t. the weights and bias (overwritten).
pub(crate) fn conv_backward_weights(
    d: &Conv2d,
    input: &[f32],
    grad_output: &[f32],
    grad_weights: &mut [f32],
    grad_bias: Option<&mut [f32]>,
) {
    grad_weights.fill(0.0);
    for_each_tap(d, |i, wi, o| grad_weights[wi] += input[i] * grad_output[o]);
    if let Some(gb) = grad_bias {
        let plane = d.output_height() * d.output_width();
        gb.fill(0.0);
        for (j, chunk) in grad_output.chunks_exact(plane).enumerate() {
            gb[j % d.out_channels()] += chunk.iter().sum::<f32>();
        }
    }
}

/// Average-pooling backward (overwrites `grad_input`): each output's gradient spread evenly
/// over its window (divisor: the window size, padding counted, as the forward).
pub(crate) fn avg_pool_backward(d: &Pool2d, grad_output: &[f32], grad_input: &mut [f32]) {
    grad_input.fill(0.0);
    let (h, w) = (d.input_height(), d.input_width());
    let (p, q) = (d.output_height(), d.output_width());
    let (wh, ww) = (d.window_height(), d.window_width());
    let pad = d.padding();
    let div = (wh * ww) as f32;
    for plane in 0..d.batch() * d.channels() {
        for y in 0..p {
            for x in 0..q {
                let g = grad_output[(plane * p + y) * q + x] / div;
                for ry in 0..wh {
                    let iy = (y * d.stride_height() + ry).wrapping_sub(pad.top);
                    if iy >= h {
                        continue;
                    }
                    for sx in 0..ww {
                        let ix = (x * d.stride_width() + sx).wrapping_sub(pad.left);
                        if ix < w {
                            grad_input[(plane * h + iy) * w + ix] += g;
                        }
                    }
                }
            }
        }
    }
}

/// Max-pooling backward (overwrites `grad_input`): each output's gradient to its arg-max
/// (`indices` from the forward: the flat index within the input plane).
pub(crate) fn max_pool_backward(
    d: &Pool2d,
    indices: &[u32],
    grad_output: &[f32],
    grad_input: &mut [f32],
) {
    grad_input.fill(0.0);
    let plane_in = d.input_height() * d.input_width();
    let plane_out = d.output_height() * d.output_width();
    for (j, (&g, &ix)) in grad_output.iter().zip(indices).enumerate() {
        grad_input[(j / plane_out) * plane_in + ix as usize] += g;
    }
}

/// Linear backward on `n` rows: `dX = dY·W` (if asked), `dW = dYᵀ·X`, `db = Σ rows of dY`.
pub(crate) fn linear_backward(
    (n, inp, out): (usize, usize, usize),
    input: &[f32],
    weights: &[f32],
    grad_output: &[f32],
    grad_weights: &mut [f32],
    grad_bias: Option<&mut [f32]>,
    grad_input: Option<&mut [f32]>,
) {
    grad_weights.fill(0.0);
    for b in 0..n {
        let x = &input[b * inp..(b + 1) * inp];
        for o in 0..out {
            let g = grad_output[b * out + o];
            for (gw, &xi) in grad_weights[o * inp..(o + 1) * inp].iter_mut().zip(x) {
                *gw += g * xi;
            }
        }
    }
    if let Some(gb) = grad_bias {
        gb.fill(0.0);
        for row in grad_output.chunks_exact(out) {
            for (a, &g) in gb.iter_mut().zip(row) {
                *a += g;
            }
        }
    }
    if let Some(gi) = grad_input {
        gi.fill(0.0);
        for b in 0..n {
            for o in 0..out {
                let g = grad_output[b * out + o];
                for (a, &wv) in gi[b * inp..(b + 1) * inp]
                    .iter_mut()
                    .zip(&weights[o * inp..(o + 1) * inp])
                {
                    *a += g * wv;
                }
            }
        }
    }
}
