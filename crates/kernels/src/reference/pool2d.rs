//! Reference pooling.

use super::{tap, Real};
use crate::error::{check_len, Error};
use crate::{Pool2d, PoolKind};

/// Max or average pooling with every option of [`Pool2d`].
///
/// Max: the largest input element in the window (padding is skipped; a NaN in the window makes
/// the result NaN, as in PyTorch). Average: the sum of the input elements in the window, in
/// row-major tap order, divided by the number of taps inside the padded input
/// (`count_include_pad`, excluding any part of a ceil-mode window beyond the padded edge) or
/// inside the input.
pub fn pool2d<T: Real>(desc: &Pool2d, input: &[T], output: &mut [T]) -> Result<(), Error> {
    check_len("input", desc.input_len(), input.len())?;
    check_len("output", desc.output_len(), output.len())?;
    let plane = desc.output_height() * desc.output_width();
    for (i, out) in output.chunks_exact_mut(plane).enumerate() {
        pool2d_rows(desc, input, i, 0..desc.output_height(), out);
    }
    Ok(())
}

/// Output rows `rows` of input plane `plane` (`n·C + c`), written to `out` (lengths already
/// checked).
pub(crate) fn pool2d_rows<T: Real>(
    desc: &Pool2d,
    input: &[T],
    plane: usize,
    rows: core::ops::Range<usize>,
    out: &mut [T],
) {
    let start = plane * desc.input_height() * desc.input_width();
    let plane_input = &input[start..];
    let mut index = 0;
    for p in rows {
        for q in 0..desc.output_width() {
            out[index] = match desc.kind() {
                PoolKind::Max => window_max(desc, plane_input, p, q).0,
                PoolKind::Average => window_average(desc, plane_input, p, q),
            };
            index += 1;
        }
    }
}

/// Max pooling that also writes, for each output element, the index of its maximum within its
/// input plane (`y·W + x`, PyTorch's convention); ties go to the first tap in row-major order.
pub fn max_pool2d_with_indices<T: Real>(
    desc: &Pool2d,
    input: &[T],
    output: &mut [T],
    indices: &mut [u32],
) -> Result<(), Error> {
    if desc.kind() != PoolKind::Max {
        return Err(Error::InvalidParameter {
            what: "arg-max indices need a max-pooling descriptor",
        });
    }
    check_len("input", desc.input_len(), input.len())?;
    check_len("output", desc.output_len(), output.len())?;
    check_len("indices", desc.output_len(), indices.len())?;
    if u32::try_from(desc.input_height() * desc.input_width()).is_err() {
        return Err(Error::Overflow {
            what: "arg-max index (u32)",
        });
    }
    let mut index = 0;
    for_each_window(desc, |plane, p, q| {
        let (value, at) = window_max(desc, &input[plane..], p, q);
        output[index] = value;
        // The plane size fits in u32 (checked above).
        indices[index] = at as u32;
        index += 1;
    });
    Ok(())
}

/// Calls `f(plane_offset, p, q)` for every output element in NCHW order.
fn for_each_window(desc: &Pool2d, mut f: impl FnMut(usize, usize, usize)) {
    let plane_len = desc.input_height() * desc.input_width();
    for plane in 0..desc.batch() * desc.channels() {
        for p in 0..desc.output_height() {
            for q in 0..desc.output_width() {
                f(plane * plane_len, p, q);
            }
        }
    }
}

/// Maximum of one window and its in-plane index. Validated descriptors guarantee the window
/// holds at least one input element.
fn window_max<T: Real>(desc: &Pool2d, plane: &[T], p: usize, q: usize) -> (T, usize) {
    let w = desc.input_width();
    let mut best = T::NEG_INFINITY;
    let mut at = usize::MAX;
    for_each_tap(desc, p, q, |y, x| {
        let v = plane[y * w + x];
        if at == usize::MAX || v > best || (v.is_nan() && !best.is_nan()) {
            best = v;
            at = y * w + x;
        }
    });
    (best, at)
}

/// Average of one window with the descriptor's divisor rule.
fn window_average<T: Real>(desc: &Pool2d, plane: &[T], p: usize, q: usize) -> T {
    let w = desc.input_width();
    let mut sum = T::ZERO;
    let mut inside = 0usize;
    for_each_tap(desc, p, q, |y, x| {
        sum = sum + plane[y * w + x];
        inside += 1;
    });
    let divisor = if desc.count_include_pad() {
        taps_in_padded(
            desc.window_height(),
            desc.stride_height(),
            desc.dilation_height(),
            p,
            desc.padding().top + desc.input_height() + desc.padding().bottom,
        ) * taps_in_padded(
            desc.window_width(),
            desc.stride_width(),
            desc.dilation_width(),
            q,
            desc.padding().left + desc.input_width() + desc.padding().right,
        )
    } else {
        inside
    };
    sum / T::from_count(divisor)
}

/// Number of taps of window `o` that fall inside the padded input of length `padded`.
fn taps_in_padded(window: usize, stride: usize, dilation: usize, o: usize, padded: usize) -> usize {
    (0..window)
        .filter(|&j| o * stride + j * dilation < padded)
        .count()
}

/// Calls `f(y, x)` for each window tap inside the input, in row-major tap order.
fn for_each_tap(desc: &Pool2d, p: usize, q: usize, mut f: impl FnMut(usize, usize)) {
    let pad = desc.padding();
    for i in 0..desc.window_height() {
        let Some(y) = tap(
            p,
            desc.stride_height(),
            i,
            desc.dilation_height(),
            pad.top,
            desc.input_height(),
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
                desc.input_width(),
            ) {
                f(y, x);
            }
        }
    }
}
