//! Reference multi-channel convolution.

use super::{tap, Real};
use crate::error::{check_len, Error};
use crate::Conv2d;

/// Direct convolution (cross-correlation) over batch, groups, channels, padding, stride and
/// dilation, with optional bias: for each output element
/// `y[n][k][p][q] = bias[k] + Σ_{c,r,s} x[n][g·Cg+c][p·sh+r·dh−top][q·sw+s·dw−left]·w[k][c][r][s]`
/// where `g` is the group of `k`, taps in the padding contribute zero, and the sum runs over
/// `c`, then `r`, then `s` (bias added last).
pub fn conv2d<T: Real>(
    desc: &Conv2d,
    input: &[T],
    weights: &[T],
    bias: Option<&[T]>,
    output: &mut [T],
) -> Result<(), Error> {
    check_len("input", desc.input_len(), input.len())?;
    check_len("weights", desc.weights_len(), weights.len())?;
    if let Some(b) = bias {
        check_len("bias", desc.bias_len(), b.len())?;
    }
    check_len("output", desc.output_len(), output.len())?;

    let plane = desc.output_height() * desc.output_width();
    for n in 0..desc.batch() {
        for k in 0..desc.out_channels() {
            let at = (n * desc.out_channels() + k) * plane;
            conv2d_rows(
                desc,
                input,
                weights,
                bias.map(|b| b[k]),
                n,
                k,
                0..desc.output_height(),
                &mut output[at..at + plane],
            );
        }
    }
    Ok(())
}

/// Output rows `rows` of channel `k` of batch item `n` (lengths already checked), written to
/// `out` (`rows.len()·Q` elements).
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv2d_rows<T: Real>(
    desc: &Conv2d,
    input: &[T],
    weights: &[T],
    bias: Option<T>,
    n: usize,
    k: usize,
    rows: core::ops::Range<usize>,
    out: &mut [T],
) {
    let (h, w) = (desc.input_height(), desc.input_width());
    let (r_len, s_len) = (desc.kernel_height(), desc.kernel_width());
    let q_len = desc.output_width();
    let (cg, kg) = (desc.in_channels_per_group(), desc.out_channels_per_group());
    let group = k / kg;
    let pad = desc.padding();
    let mut out_index = 0;
    for p in rows {
        for q in 0..q_len {
            let mut acc = T::ZERO;
            for c in 0..cg {
                let plane = (n * desc.in_channels() + group * cg + c) * h * w;
                let filter = (k * cg + c) * r_len * s_len;
                for r in 0..r_len {
                    let Some(y) = tap(
                        p,
                        desc.stride_height(),
                        r,
                        desc.dilation_height(),
                        pad.top,
                        h,
                    ) else {
                        continue;
                    };
                    for s in 0..s_len {
                        let Some(x) = tap(
                            q,
                            desc.stride_width(),
                            s,
                            desc.dilation_width(),
                            pad.left,
                            w,
                        ) else {
                            continue;
                        };
                        acc = acc + input[plane + y * w + x] * weights[filter + r * s_len + s];
                    }
                }
            }
            if let Some(b) = bias {
                acc = acc + b;
            }
            out[out_index] = acc;
            out_index += 1;
        }
    }
}
