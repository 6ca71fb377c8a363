//! The course's single-channel functions.

use super::Real;
use crate::error::{check_len, product, Error};

/// 2-D cross-correlation of one `h×w` channel `x` with a `kh×kw` kernel `k` (no padding,
/// stride 1): `y[i][j] = Σ x[i+a][j+b]·k[a][b]`, `y` being `(h−kh+1)×(w−kw+1)`.
///
/// ```
/// use convkit_kernels::reference::corr2d;
/// let x = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
/// let k = [0.0, 1.0, 2.0, 3.0];
/// let mut y = [0.0f32; 4];
/// corr2d(&x, 3, 3, &k, 2, 2, &mut y)?;
/// assert_eq!(y, [19.0, 25.0, 37.0, 43.0]);
/// # Ok::<(), convkit_kernels::Error>(())
/// ```
pub fn corr2d<T: Real>(
    x: &[T],
    h: usize,
    w: usize,
    k: &[T],
    kh: usize,
    kw: usize,
    y: &mut [T],
) -> Result<(), Error> {
    let (oh, ow) = check_single_channel(x, h, w, k, kh, kw, y)?;
    for i in 0..oh {
        for j in 0..ow {
            let mut acc = T::ZERO;
            for a in 0..kh {
                for b in 0..kw {
                    acc = acc + x[(i + a) * w + j + b] * k[a * kw + b];
                }
            }
            y[i * ow + j] = acc;
        }
    }
    Ok(())
}

/// True 2-D convolution: the kernel flipped up-down and left-right, then cross-correlated.
pub fn convolve2d<T: Real>(
    x: &[T],
    h: usize,
    w: usize,
    k: &[T],
    kh: usize,
    kw: usize,
    y: &mut [T],
) -> Result<(), Error> {
    let (oh, ow) = check_single_channel(x, h, w, k, kh, kw, y)?;
    for i in 0..oh {
        for j in 0..ow {
            let mut acc = T::ZERO;
            for a in 0..kh {
                for b in 0..kw {
                    acc = acc + x[(i + a) * w + j + b] * k[(kh - 1 - a) * kw + (kw - 1 - b)];
                }
            }
            y[i * ow + j] = acc;
        }
    }
    Ok(())
}

/// Validates the single-channel arguments and returns the output size.
fn check_single_channel<T>(
    x: &[T],
    h: usize,
    w: usize,
    k: &[T],
    kh: usize,
    kw: usize,
    y: &[T],
) -> Result<(usize, usize), Error> {
    let desc = crate::Conv2d::builder()
        .channels(1, 1)
        .input_size(h, w)
        .kernel_size(kh, kw)
        .build()?;
    check_len("input", product(&[h, w], "input element count")?, x.len())?;
    check_len("kernel", desc.weights_len(), k.len())?;
    check_len("output", desc.output_len(), y.len())?;
    Ok((desc.output_height(), desc.output_width()))
}
