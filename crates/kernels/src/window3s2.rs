//! Vectors over a row of 3-tap, stride-2 windows (3×3/2 max pooling, 3×3/2 depthwise
//! convolution): which vectors cover a row's outputs, and one tap row's three taps for a
//! vector of outputs from two loads.
//!
//! Output `o` of a vector whose first tap is `p[0]` reads `p[2o]`, `p[2o + 1]`, `p[2o + 2]`.
//! Two loads of `L` elements and an ordered deinterleave give taps 0 (even elements) and 1
//! (odd); tap 2 is tap 0 moved down one lane with `p[2L]` broadcast in at the top
//! ([`F32Vector::shift_in_last`]). These kernels are bound by loads: a second pair of loads
//! at `p + 1` for tap 2 ran 17.8 cycles per vector of 16 outputs and output row on Zen 4
//! against 13.1 for this (`docs/pooling.md`).
//!
//! With one column of left padding, output 0's taps are column −1 (padding), 0 and 1: the
//! left-edge vector loads from column 0 and takes tap 0 as the odd elements moved up one lane
//! with the padding's value in lane 0 ([`F32Vector::shift_in_first`]).

use crate::simd::F32Vector;

/// The vectors that cover a row's outputs, in interior coordinates (`q = 0` is the first
/// output whose taps are all inside the row, its first tap at `src`):
///
/// - when `edge`, the left-edge vector: outputs `−1 .. L − 1`, loads from `src − 1`;
/// - `full` vectors at `q0, q0 + L, …` (`q0` = `L − 1` after the edge vector, else 0);
/// - when `overlap`, one more at `count − L`, overlapping the one before (no masked load or
///   store);
///
/// and the outputs from `covered` on are left to the general kernel.
#[derive(Clone, Copy)]
pub(crate) struct Columns {
    /// The left-edge vector comes first.
    pub edge: bool,
    q0: usize,
    full: usize,
    overlap: bool,
    count: usize,
    /// Interior outputs the vectors cover (from 0).
    pub covered: usize,
}

impl Columns {
    /// The vectors whose reads (`src[2q ..= 2q + 2L]` for a vector at `q`, `src[−1 .. 2L − 1]`
    /// for the edge vector) stay within the row: `avail` elements from `src`, and one before
    /// it when `left_edge` allows the edge vector.
    pub(crate) fn new<V: F32Vector>(count: usize, avail: usize, left_edge: bool) -> Columns {
        let lanes = V::LANES;
        let edge = left_edge && count + 1 >= lanes && 2 * lanes <= avail + 1;
        let fits = |q: usize| 2 * q + 2 * lanes < avail;
        let q0 = if edge { lanes - 1 } else { 0 };
        let mut full = 0;
        while q0 + (full + 1) * lanes <= count && fits(q0 + full * lanes) {
            full += 1;
        }
        let mut covered = q0 + full * lanes;
        let overlap = covered < count && count >= lanes && fits(count - lanes);
        if overlap {
            covered = count;
        }
        Columns {
            edge,
            q0,
            full,
            overlap,
            count,
            covered,
        }
    }

    /// Vectors in the row, the edge vector included.
    pub(crate) fn vectors(&self) -> usize {
        usize::from(self.edge) + self.full + usize::from(self.overlap)
    }

    /// Interior coordinate of vector `k`'s first output; `None` for the edge vector.
    #[inline(always)]
    pub(crate) fn start<V: F32Vector>(&self, k: usize) -> Option<usize> {
        let k = if self.edge { k.checked_sub(1)? } else { k };
        Some(if k < self.full {
            self.q0 + k * V::LANES
        } else {
            self.count - V::LANES
        })
    }

    /// The one element vector `k` reads past its two loads, `src[2q + 2L]` (its last output's
    /// last tap); `None` for the edge vector, whose loads cover its taps.
    pub(crate) fn tail<V: F32Vector>(&self, k: usize) -> Option<usize> {
        Some(2 * self.start::<V>(k)? + 2 * V::LANES)
    }
}

/// The three taps of one row for the `L` outputs whose first tap is `p[0]`, and the sum of
/// the two loads (they hold every tap but `p[2L]`, for a NaN check).
///
/// # Safety
/// `p[..=2L]` readable; the [`F32Vector`] contract.
#[inline(always)]
pub(crate) unsafe fn taps<V: F32Vector>(p: *const f32) -> ([V; 3], V) {
    let lanes = V::LANES;
    // SAFETY: the reads are p[..2L] and p[2L].
    unsafe {
        let (a, b) = (V::load(p), V::load(p.add(lanes)));
        let (t0, t1) = a.deinterleave(b);
        let t2 = t0.shift_in_last(V::splat(*p.add(2 * lanes)));
        ([t0, t1, t2], a.add(b))
    }
}

/// The three taps of outputs `0 .. L` of a row with one column of left padding (columns
/// `2o − 1`, `2o`, `2o + 1`; `pad` stands for column −1), `p` at column 0, and the sum of the
/// two loads (every tap but the padding).
///
/// # Safety
/// `p[..2L]` readable; the [`F32Vector`] contract.
#[inline(always)]
pub(crate) unsafe fn taps_left_edge<V: F32Vector>(p: *const f32, pad: f32) -> ([V; 3], V) {
    // SAFETY: the reads are p[..2L].
    unsafe {
        let (a, b) = (V::load(p), V::load(p.add(V::LANES)));
        let (t1, t2) = a.deinterleave(b);
        let t0 = t2.shift_in_first(V::splat(pad));
        ([t0, t1, t2], a.add(b))
    }
}
