//! Global pooling: one value per plane, a straight vector reduction over `H·W` contiguous
//! elements.

use super::reduce::Reduce;
use crate::simd::F32Vector;

/// Max or mean of a whole plane.
///
/// ```text
///   acc[0..L] = x[0..L] ⊕ x[L..2L] ⊕ …        lane-wise, then lanes 0..L, then the tail
/// ```
///
/// Max is exact: the value is the plane's maximum, NaN if any element is NaN, and when the
/// maximum is zero the sign of the first zero in plane order is returned (the reference keeps
/// the first of equal taps). The mean sums in lane order, not the reference's row-major order:
/// error within the usual `len·ε·Σ|x|` summation bound (see `docs/pooling.md`).
///
/// # Safety
/// The [`F32Vector`] contract.
#[inline(always)]
pub(crate) unsafe fn global<V: F32Vector, R: Reduce>(plane: &[f32]) -> f32 {
    let len = plane.len();
    let full = len - len % V::LANES;
    let p = plane.as_ptr();
    let mut r: Option<f32> = None;
    if full > 0 {
        let mut lanes = [0.0f32; 64];
        // SAFETY: every load reads `p[i..i + LANES]` with `i + LANES <= full <= len`;
        // `lanes` holds 64 >= LANES floats.
        unsafe {
            let mut acc = V::load(p);
            let mut i = V::LANES;
            while i < full {
                acc = R::combine(acc, V::load(p.add(i)));
                i += V::LANES;
            }
            acc.store(lanes.as_mut_ptr());
        }
        r = Some(
            lanes[1..V::LANES]
                .iter()
                .fold(lanes[0], |a, &x| R::combine_scalar(a, x)),
        );
    }
    let mut r = plane[full..]
        .iter()
        .fold(r, |a, &x| Some(a.map_or(x, |a| R::combine_scalar(a, x))))
        .unwrap_or(f32::NAN);
    if R::AVERAGE {
        r /= len as f32;
    } else if r == 0.0 {
        r = plane.iter().copied().find(|&x| x == 0.0).unwrap_or(r);
    }
    r
}
