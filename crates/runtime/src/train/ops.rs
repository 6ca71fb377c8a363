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

/// The output columns `x` whose input column `x·stride + offset − pad` lies in `0..w`.
fn valid_cols(q: usize, w: usize, stride: usize, offset: usize, pad: usize) -> (usize, usize) {
    // ix = x·stride + offset − pad ≥ 0  ⇔  x ≥ ceil((pad − offset) / stride)
    let x0 = if pad > offset {
        (pad - offset).div_ceil(stride)
    } else {
        0
    };
    // ix ≤ w − 1  ⇔  x ≤ (w − 1 + pad − offset) / stride
    let x1 = if w + pad > offset {
        ((w - 1 + pad - offset) / stride + 1).min(q)
    } else {
        0
    };
    (x0, x1.max(x0))
}

/// Visits, for every (batch item, output channel, input channel of its group, kernel tap,
/// output row), the output row's valid column range and the matching input row:
/// `f(input row start, input column of x0, output row start, x0, x1, weight index)`.
fn for_each_row(d: &Conv2d, mut f: impl FnMut(usize, usize, usize, usize, usize, usize)) {
    let (n, c, h, w) = (
        d.batch(),
        d.in_channels(),
        d.input_height(),
        d.input_width(),
    );
    let (k, p, q) = (d.out_channels(), d.output_height(), d.output_width());
    let (r, s) = (d.kernel_height(), d.kernel_width());
    let (cg, kg) = (d.in_channels_per_group(), d.out_channels_per_group());
    let (sh, sw) = (d.stride_height(), d.stride_width());
    let (dh, dw) = (d.dilation_height(), d.dilation_width());
    let pad = d.padding();
    for b in 0..n {
        for ko in 0..k {
            let g = ko / kg;
            for ci in 0..cg {
                let plane = (b * c + g * cg + ci) * h;
                for ry in 0..r {
                    for sx in 0..s {
                        let wi = ((ko * cg + ci) * r + ry) * s + sx;
                        let (x0, x1) = valid_cols(q, w, sw, sx * dw, pad.left);
                        if x0 >= x1 {
                            continue;
                        }
                        let ix0 = x0 * sw + sx * dw - pad.left;
                        for y in 0..p {
                            let iy = (y * sh + ry * dh).wrapping_sub(pad.top);
                            if iy >= h {
                                continue;
                            }
                            let o = ((b * k + ko) * p + y) * q;
                            f((plane + iy) * w, ix0, o, x0, x1, wi);
                        }
                    }
                }
            }
        }
    }
}

/// `Σ a[i]·b[i]` with 8 partial sums (so the loop vectorizes).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Gradient w.r.t. the input (overwritten).
pub(crate) fn conv_backward_data(
    d: &Conv2d,
    grad_output: &[f32],
    weights: &[f32],
    grad_input: &mut [f32],
) {
    grad_input.fill(0.0);
    let sw = d.stride_width();
    for_each_row(d, |irow, ix0, orow, x0, x1, wi| {
        let wv = weights[wi];
        let g = &grad_output[orow + x0..orow + x1];
        let start = irow + ix0;
        if sw == 1 {
            for (a, &gv) in grad_input[start..start + g.len()].iter_mut().zip(g) {
                *a += wv * gv;
            }
        } else {
            for (j, &gv) in g.iter().enumerate() {
                grad_input[start + j * sw] += wv * gv;
            }
        }
    });
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
    let sw = d.stride_width();
    for_each_row(d, |irow, ix0, orow, x0, x1, wi| {
        let g = &grad_output[orow + x0..orow + x1];
        let start = irow + ix0;
        grad_weights[wi] += if sw == 1 {
            dot(g, &input[start..start + g.len()])
        } else {
            g.iter()
                .enumerate()
                .map(|(j, &gv)| gv * input[start + j * sw])
                .sum()
        };
    });
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
