//! Receptive fields: which input region can affect an element of a layer's output.
//!
//! The course defines the receptive field of an element `x` of some layer as every element
//! of the earlier layers that may affect `x` in the forward pass; it can be larger than the
//! input. [`receptive_field`] composes it back through the layers to the model input and
//! reports it as a row range and a column range of the input image:
//!
//! - a convolution or pooling window with kernel `k`, stride `s`, dilation `d` and leading
//!   padding `p` maps output rows `a..b` to input rows `a·s − p .. (b−1)·s − p + d·(k−1) + 1`
//!   (the same for columns). Ranges are not clipped: rows before 0 or past the input are the
//!   padding the window reaches, as in the usual receptive-field arithmetic;
//! - activations map an element to the same element;
//! - a linear layer depends on all its inputs;
//! - `Flatten` and `Reshape` keep the element order, so a flat index range maps back to the
//!   bounding box of the positions it covers (clipped to the tensor: a reshape that changes
//!   the shape has no padding positions to map).
//!
//! Channels are not tracked: a convolution mixes all input channels of its group, and the
//! ranges refer to every channel of the input.

use crate::error::{Error, Result};
use crate::layers::{Layer, PoolGeometry};
use crate::model::Sequential;
use crate::tensor::Shape;
use std::ops::Range;

/// An input region: rows and columns (half-open; may extend past the input on any side).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Region {
    /// Input rows.
    pub rows: Range<i64>,
    /// Input columns.
    pub cols: Range<i64>,
}

/// The set being traced back, in the coordinates of one tensor (per batch item).
#[derive(Clone, Debug, PartialEq)]
enum Set {
    /// Rows × columns of an `N×C×H×W` tensor, all channels.
    Rect(Range<i64>, Range<i64>),
    /// A range of flat per-item indices.
    Flat(Range<usize>),
}

/// One axis of a window: kernel, stride, dilation, leading padding.
fn window_back(r: &Range<i64>, k: usize, s: usize, d: usize, p: usize) -> Range<i64> {
    let (k, s, d, p) = (k as i64, s as i64, d as i64, p as i64);
    r.start * s - p..(r.end - 1) * s - p + d * (k - 1) + 1
}

fn rect_back(
    set: Set,
    shape: Shape,
    k: (usize, usize),
    s: (usize, usize),
    d: (usize, usize),
    pad: (usize, usize),
) -> Set {
    match to_rect(set, shape) {
        Set::Rect(rows, cols) if !rows.is_empty() && !cols.is_empty() => Set::Rect(
            window_back(&rows, k.0, s.0, d.0, pad.0),
            window_back(&cols, k.1, s.1, d.1, pad.1),
        ),
        other => other,
    }
}

/// Flat per-item index range covered by `set` in a tensor of `shape`.
fn to_flat(set: Set, shape: Shape) -> Range<usize> {
    match set {
        Set::Flat(r) => r,
        Set::Rect(rows, cols) => match *shape.dims() {
            [_, c, h, w] => {
                let clip = |r: Range<i64>, n: usize| {
                    r.start.clamp(0, n as i64) as usize..r.end.clamp(0, n as i64) as usize
                };
                let (rows, cols) = (clip(rows, h), clip(cols, w));
                if rows.is_empty() || cols.is_empty() {
                    return 0..0;
                }
                rows.start * w + cols.start..((c - 1) * h + rows.end - 1) * w + cols.end
            }
            _ => 0..shape.item_len(),
        },
    }
}

/// The bounding box of `set` in a rank-4 tensor of `shape` (other ranks stay flat).
fn to_rect(set: Set, shape: Shape) -> Set {
    let Set::Flat(r) = set else { return set };
    let [_, _, h, w] = *shape.dims() else {
        return Set::Flat(r);
    };
    if r.is_empty() {
        return Set::Rect(0..0, 0..0);
    }
    let plane = h * w;
    let (first, last) = (r.start, r.end - 1);
    let (rows, cols) = if first / plane != last / plane {
        (0..h, 0..w)
    } else {
        let (p0, p1) = (first % plane, last % plane);
        let rows = p0 / w..p1 / w + 1;
        let cols = if rows.len() == 1 {
            p0 % w..p1 % w + 1
        } else {
            0..w
        };
        (rows, cols)
    };
    Set::Rect(
        rows.start as i64..rows.end as i64,
        cols.start as i64..cols.end as i64,
    )
}

fn pool_back(set: Set, shape: Shape, g: &PoolGeometry) -> Set {
    rect_back(
        set,
        shape,
        g.window,
        g.stride,
        (1, 1),
        (g.padding.top, g.padding.left),
    )
}

/// The input region that can affect element `index` (per-item index, without the batch
/// dimension) of the output of layer `layer`, for a model input of shape `input`.
///
/// ```
/// use convkit_runtime::{lenet::lenet, receptive_field, Shape};
/// let model = lenet();
/// let input = Shape::nchw(1, 1, 28, 28)?;
/// // conv1 (layer 1): 5×5 window, padding 2.
/// let r = receptive_field(&model, input, 1, &[0, 0, 0])?;
/// assert_eq!((r.rows, r.cols), (-2..3, -2..3));
/// // The logits (layer 12) depend on the whole padded image.
/// let r = receptive_field(&model, input, 12, &[3])?;
/// assert_eq!((r.rows, r.cols), (-2..30, -2..30));
/// # Ok::<(), convkit_runtime::Error>(())
/// ```
pub fn receptive_field(
    model: &Sequential,
    input: Shape,
    layer: usize,
    index: &[usize],
) -> Result<Region> {
    let shapes = model.shapes(input)?;
    let Some(&out) = shapes.get(layer) else {
        return Err(Error::shape(
            "receptive field layer",
            format!("a layer index below {}", shapes.len()),
            layer.to_string(),
        ));
    };
    let item = &out.dims()[1..];
    if index.len() != item.len() || index.iter().zip(item).any(|(i, n)| i >= n) {
        return Err(Error::shape(
            "receptive field index",
            format!("an index within {item:?}"),
            format!("{index:?}"),
        ));
    }
    let mut set = match *index {
        [_, h, w] if out.rank() == 4 => Set::Rect(h as i64..h as i64 + 1, w as i64..w as i64 + 1),
        _ => {
            let flat = index
                .iter()
                .zip(item)
                .fold(0usize, |acc, (&i, &n)| acc * n + i);
            Set::Flat(flat..flat + 1)
        }
    };
    for j in (0..=layer).rev() {
        let shape_in = if j == 0 { input } else { shapes[j - 1] };
        let shape_out = shapes[j];
        set = match &model.layers()[j] {
            Layer::Conv2d(c) => {
                let p = c.padding();
                rect_back(
                    set,
                    shape_out,
                    c.kernel(),
                    c.stride(),
                    c.dilation(),
                    (p.top, p.left),
                )
            }
            Layer::MaxPool2d(l) => pool_back(set, shape_out, &l.geometry),
            Layer::AvgPool2d(l) => pool_back(set, shape_out, &l.geometry),
            Layer::Linear(l) => Set::Flat(0..l.in_features()),
            Layer::Sigmoid(_) | Layer::ReLU(_) | Layer::Tanh(_) => set,
            // A shape change that keeps the shape (LeNet's first reshape of an N×1×28×28
            // input) keeps the set, including the part past the edges.
            Layer::Flatten(_) | Layer::Reshape(_) if shape_in == shape_out => set,
            Layer::Flatten(_) | Layer::Reshape(_) => Set::Flat(to_flat(set, shape_out)),
        };
        // Express the set in the coordinates of the layer's input.
        if matches!(set, Set::Flat(_)) {
            set = to_rect(set, shape_in);
        }
    }
    Ok(match set {
        Set::Rect(rows, cols) => Region { rows, cols },
        // A rank-2/3 model input: rows of the per-item matrix (rank 3) or one row (rank 2).
        Set::Flat(r) => match *input.dims() {
            [_, _, w] if !r.is_empty() => Region {
                rows: (r.start / w) as i64..((r.end - 1) / w + 1) as i64,
                cols: if (r.end - 1) / w == r.start / w {
                    (r.start % w) as i64..((r.end - 1) % w + 1) as i64
                } else {
                    0..w as i64
                },
            },
            _ => Region {
                rows: 0..1,
                cols: r.start as i64..r.end as i64,
            },
        },
    })
}

impl Sequential {
    /// See [`receptive_field`].
    pub fn receptive_field(&self, input: Shape, layer: usize, index: &[usize]) -> Result<Region> {
        receptive_field(self, input, layer, index)
    }
}
