//! Scalar windows: the edge columns of every row (windows that overlap padding or a ceil-mode
//! overhang) and the arg-max path. Same tap order and rules as the reference.

use super::geometry::AxisPlan;
use super::reduce::Reduce;

/// The pooled value of output `(p, q)` of one input plane (`width` columns).
#[inline]
pub(crate) fn element<R: Reduce>(
    plane: &[f32],
    width: usize,
    h: &AxisPlan,
    w: &AxisPlan,
    (p, q): (usize, usize),
    count_include_pad: bool,
) -> f32 {
    let (rows, cols) = (h.taps(p), w.taps(q));
    let mut acc: Option<f32> = None;
    for i in rows.clone() {
        let line = &plane[h.coord(p, i) * width..];
        for j in cols.clone() {
            let v = line[w.coord(q, j)];
            acc = Some(acc.map_or(v, |a| R::combine_scalar(a, v)));
        }
    }
    // A validated descriptor gives every window at least one tap.
    let v = acc.unwrap_or(f32::NAN);
    if R::AVERAGE {
        let divisor = if count_include_pad {
            h.padded_taps(p) * w.padded_taps(q)
        } else {
            rows.len() * cols.len()
        };
        v / divisor as f32
    } else {
        v
    }
}

/// The maximum of output `(p, q)` and its index `y·W + x` in the plane: ties go to the first
/// tap in row-major order, a NaN wins over numbers and the first NaN is kept (the reference's
/// rule).
#[inline]
pub(crate) fn element_argmax(
    plane: &[f32],
    width: usize,
    h: &AxisPlan,
    w: &AxisPlan,
    (p, q): (usize, usize),
) -> (f32, usize) {
    let mut best = f32::NEG_INFINITY;
    let mut at = usize::MAX;
    for i in h.taps(p) {
        let y = h.coord(p, i);
        for j in w.taps(q) {
            let at_new = y * width + w.coord(q, j);
            let v = plane[at_new];
            if at == usize::MAX || v > best || (v.is_nan() && !best.is_nan()) {
                best = v;
                at = at_new;
            }
        }
    }
    (best, at)
}
