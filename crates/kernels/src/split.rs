//! How one kernel call splits into independent pieces that threads can run.
//!
//! The kernels crate is single-threaded; the runtime crate runs pieces on a thread pool. The
//! output of a call (`N×K×P×Q`, NCHW) is divided into *work units*: one unit is batch item
//! `n` and a block of `rows_per_unit` consecutive output rows, across all channels. Units
//! write disjoint output elements, and each unit is computed the same way whichever piece it
//! lands in, so results are bit-identical at any thread count.
//!
//! An [`OutputPiece`] is a mutable borrow of the output restricted to a range of units. It is
//! made from the whole `&mut [f32]` ([`OutputPiece::whole`]) and halved with
//! [`OutputPiece::split_at`], so two pieces can never overlap; it is `Send`, so the halves can
//! go to different threads (for example with `rayon::join`, which does not allocate).

use crate::error::{check_len, Error};
use core::marker::PhantomData;
use core::ops::Range;

/// How an NCHW output is cut into work units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnitGeometry {
    /// Batch size `N`.
    pub batch: usize,
    /// Output channels.
    pub channels: usize,
    /// Output rows `P`.
    pub rows: usize,
    /// Output columns `Q`.
    pub cols: usize,
    /// Output rows per unit (the last unit of each batch item may have fewer).
    pub rows_per_unit: usize,
}

impl UnitGeometry {
    /// Units per batch item.
    pub fn units_per_item(&self) -> usize {
        self.rows.div_ceil(self.rows_per_unit)
    }

    /// Total units, `N · ⌈P / rows_per_unit⌉`.
    pub fn units(&self) -> usize {
        self.batch * self.units_per_item()
    }

    /// Batch item and output-row range of unit `u`.
    pub fn unit(&self, u: usize) -> (usize, Range<usize>) {
        let per = self.units_per_item();
        let (n, block) = (u / per, u % per);
        let start = block * self.rows_per_unit;
        (n, start..(start + self.rows_per_unit).min(self.rows))
    }

    fn output_len(&self) -> usize {
        self.batch * self.channels * self.rows * self.cols
    }
}

/// A mutable view of the output elements that belong to a range of work units.
///
/// Created only from a whole `&mut [f32]` and by splitting, so pieces alive at the same time
/// cover disjoint units and therefore disjoint elements.
#[derive(Debug)]
pub struct OutputPiece<'a> {
    base: *mut f32,
    geometry: UnitGeometry,
    units: Range<usize>,
    _borrow: PhantomData<&'a mut [f32]>,
}

// SAFETY: an OutputPiece is a unique borrow of disjoint elements of a `&mut [f32]` (like a
// `&mut [f32]` itself, which is Send); it is not Clone, so two threads never share one.
unsafe impl Send for OutputPiece<'_> {}

impl<'a> OutputPiece<'a> {
    /// The whole output as one piece. `output.len()` must equal the geometry's element count.
    pub fn whole(output: &'a mut [f32], geometry: UnitGeometry) -> Result<Self, Error> {
        if geometry.rows_per_unit == 0 {
            return Err(Error::ZeroDimension {
                what: "rows per work unit",
            });
        }
        check_len("output", geometry.output_len(), output.len())?;
        Ok(OutputPiece {
            base: output.as_mut_ptr(),
            geometry,
            units: 0..geometry.units(),
            _borrow: PhantomData,
        })
    }

    /// The geometry the piece was cut with.
    pub fn geometry(&self) -> UnitGeometry {
        self.geometry
    }

    /// The work units this piece covers.
    pub fn units(&self) -> Range<usize> {
        self.units.clone()
    }

    /// Number of work units in this piece.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// True when the piece covers no unit.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Splits into the first `mid` units and the rest (`mid` is clamped to the length).
    pub fn split_at(self, mid: usize) -> (OutputPiece<'a>, OutputPiece<'a>) {
        let mid = self.units.start + mid.min(self.units.len());
        (
            OutputPiece {
                base: self.base,
                geometry: self.geometry,
                units: self.units.start..mid,
                _borrow: PhantomData,
            },
            OutputPiece {
                base: self.base,
                geometry: self.geometry,
                units: mid..self.units.end,
                _borrow: PhantomData,
            },
        )
    }

    /// The output rows of unit `u` in channel `k`, as a slice of `rows·cols` elements.
    /// Returns `None` if `u` is not in this piece or `k` is out of range.
    pub fn rows_mut(&mut self, u: usize, k: usize) -> Option<&mut [f32]> {
        if !self.units.contains(&u) || k >= self.geometry.channels {
            return None;
        }
        let g = self.geometry;
        let (n, rows) = g.unit(u);
        let start = ((n * g.channels + k) * g.rows + rows.start) * g.cols;
        let len = rows.len() * g.cols;
        // SAFETY: the range lies inside the original slice (n < N, k < K, rows within P), it
        // belongs to unit `u`, which only this piece covers, and `&mut self` prevents a
        // second live borrow of it through this piece.
        Some(unsafe { core::slice::from_raw_parts_mut(self.base.add(start), len) })
    }

    /// The output rows of the consecutive units `us` (all in this piece and of one batch
    /// item) in channel `k`, as one slice, with the output rows it covers. Returns `None` if
    /// `us` is empty, leaves the piece or spans two batch items, or `k` is out of range.
    pub fn unit_run_rows_mut(
        &mut self,
        us: Range<usize>,
        k: usize,
    ) -> Option<(&mut [f32], Range<usize>)> {
        let g = self.geometry;
        if us.is_empty()
            || us.start < self.units.start
            || us.end > self.units.end
            || k >= g.channels
            || us.start / g.units_per_item() != (us.end - 1) / g.units_per_item()
        {
            return None;
        }
        let (n, first) = g.unit(us.start);
        let (_, last) = g.unit(us.end - 1);
        let rows = first.start..last.end;
        let start = ((n * g.channels + k) * g.rows + rows.start) * g.cols;
        let len = rows.len() * g.cols;
        // SAFETY: the range lies inside the original slice (n < N, k < K, rows within P); it
        // is the rows of units `us` in channel k, which only this piece covers, and `&mut
        // self` prevents a second live borrow of it through this piece.
        Some((
            unsafe { core::slice::from_raw_parts_mut(self.base.add(start), len) },
            rows,
        ))
    }

    /// Raw access for micro-kernels that write several channels of a unit at once: a pointer
    /// to row `rows.start` of channel 0 of unit `u`, and the distance between channels.
    /// Returns `None` if `u` is not in this piece.
    ///
    /// Writes through the pointer must stay within channel `k`'s rows of unit `u`:
    /// `ptr + k·channel_stride + [0, rows.len()·cols)` for `k < channels`.
    #[allow(dead_code)] // used by the multi-channel micro-kernels
    pub(crate) fn unit_ptr(&mut self, u: usize) -> Option<(*mut f32, usize)> {
        if !self.units.contains(&u) {
            return None;
        }
        let g = self.geometry;
        let (n, rows) = g.unit(u);
        let start = (n * g.channels * g.rows + rows.start) * g.cols;
        // SAFETY: `start` is within the original slice (channel 0 of an existing unit).
        Some((unsafe { self.base.add(start) }, g.rows * g.cols))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_cover_every_element_once() {
        let g = UnitGeometry {
            batch: 2,
            channels: 3,
            rows: 5,
            cols: 4,
            rows_per_unit: 2,
        };
        assert_eq!(g.units(), 6);
        let mut out = [0.0f32; 2 * 3 * 5 * 4];
        let piece = OutputPiece::whole(&mut out, g).unwrap();
        let (mut a, mut b) = piece.split_at(4);
        assert_eq!((a.len(), b.len()), (4, 2));
        for p in [&mut a, &mut b] {
            for u in p.units() {
                for k in 0..3 {
                    for x in p.rows_mut(u, k).unwrap() {
                        *x += 1.0;
                    }
                }
            }
        }
        assert!(a.rows_mut(4, 0).is_none());
        assert!(b.rows_mut(0, 0).is_none());
        assert!(b.rows_mut(4, 3).is_none());
        assert!(out.iter().all(|&x| x == 1.0));
    }

    #[test]
    fn unit_runs_cover_their_rows_once_and_stay_in_one_item_and_piece() {
        let g = UnitGeometry {
            batch: 2,
            channels: 3,
            rows: 5,
            cols: 4,
            rows_per_unit: 2,
        };
        let mut out = [0.0f32; 2 * 3 * 5 * 4];
        let piece = OutputPiece::whole(&mut out, g).unwrap();
        // Units 0..3 are item 0 (rows 0..2, 2..4, 4..5), 3..6 item 1; split inside item 0.
        let (mut a, mut b) = piece.split_at(2);
        for k in 0..3 {
            let (rows, r) = a.unit_run_rows_mut(0..2, k).unwrap();
            assert_eq!((rows.len(), r), (4 * 4, 0..4));
            rows.iter_mut().for_each(|x| *x += 1.0);
            let (rows, r) = b.unit_run_rows_mut(2..3, k).unwrap();
            assert_eq!((rows.len(), r), (4, 4..5));
            rows.iter_mut().for_each(|x| *x += 1.0);
            let (rows, r) = b.unit_run_rows_mut(3..6, k).unwrap();
            assert_eq!((rows.len(), r), (5 * 4, 0..5));
            rows.iter_mut().for_each(|x| *x += 1.0);
        }
        assert!(b.unit_run_rows_mut(2..4, 0).is_none(), "two batch items");
        assert!(a.unit_run_rows_mut(1..3, 0).is_none(), "leaves the piece");
        assert!(b.unit_run_rows_mut(3..3, 0).is_none(), "empty");
        assert!(
            b.unit_run_rows_mut(3..4, 3).is_none(),
            "channel out of range"
        );
        assert!(out.iter().all(|&x| x == 1.0));
    }

    #[test]
    fn whole_checks_length_and_rows_per_unit() {
        let g = UnitGeometry {
            batch: 1,
            channels: 1,
            rows: 2,
            cols: 2,
            rows_per_unit: 0,
        };
        let mut out = [0.0f32; 4];
        assert!(OutputPiece::whole(&mut out, g).is_err());
        let g = UnitGeometry {
            rows_per_unit: 1,
            ..g
        };
        assert!(matches!(
            OutputPiece::whole(&mut out[..3], g),
            Err(Error::LengthMismatch { .. })
        ));
    }
}
