//! How one kernel call splits into independent pieces that threads can run.
//!
//! The kernels crate is single-threaded; the runtime crate runs pieces on a thread pool. The
//! output of a call (`N×K×P×Q`, NCHW) is divided into *work units*: one unit is batch item
//! `n`, a block of `rows_per_unit` consecutive output rows and a block of
//! `channels_per_unit` consecutive output channels (all channels for most plans; GEMM-shaped
//! plans on small images cut the channels too, so that one image still gives every thread an
//! equal share). Units are numbered batch item first, then row block, then channel block: the
//! channel blocks of one row block are neighbours, so a piece that holds several of them can
//! reuse what they share (a Winograd plan transforms the input rows once for all of them).
//! Units write disjoint output elements, and each unit is computed the same way whichever
//! piece it lands in, so results are bit-identical at any thread count.
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
    /// Output rows per unit (the last row block of each batch item may have fewer).
    pub rows_per_unit: usize,
    /// Output channels per unit (the last channel block may have fewer); `channels` when
    /// units span all channels.
    pub channels_per_unit: usize,
}

/// `⌈n / per⌉`, 0 when `per` is 0.
fn blocks(n: usize, per: usize) -> usize {
    if per == 0 {
        0
    } else {
        n.div_ceil(per)
    }
}

impl UnitGeometry {
    /// Row blocks per batch item, `⌈P / rows_per_unit⌉` (0 when `rows_per_unit` is 0: a
    /// geometry with an empty unit size has no units; plans never make one).
    pub fn row_blocks(&self) -> usize {
        blocks(self.rows, self.rows_per_unit)
    }

    /// Channel blocks per row block, `⌈K / channels_per_unit⌉` (0 when `channels_per_unit`
    /// is 0).
    pub fn channel_blocks(&self) -> usize {
        blocks(self.channels, self.channels_per_unit)
    }

    /// Units per batch item (saturating: hand-built geometries cannot overflow it).
    pub fn units_per_item(&self) -> usize {
        self.row_blocks().saturating_mul(self.channel_blocks())
    }

    /// Total units, `N · row blocks · channel blocks` (saturating).
    pub fn units(&self) -> usize {
        self.batch.saturating_mul(self.units_per_item())
    }

    /// Batch item and output-row range of unit `u` (an empty range for a geometry without
    /// units).
    pub fn unit(&self, u: usize) -> (usize, Range<usize>) {
        let per = self.units_per_item();
        if per == 0 {
            return (0, 0..0);
        }
        let (n, block) = (u / per, (u % per) / self.channel_blocks());
        let start = block.saturating_mul(self.rows_per_unit);
        (
            n,
            start..start.saturating_add(self.rows_per_unit).min(self.rows),
        )
    }

    /// Output-channel range of unit `u` (empty for a geometry without units).
    pub fn unit_channels(&self, u: usize) -> Range<usize> {
        let blocks = self.channel_blocks();
        if blocks == 0 {
            return 0..0;
        }
        let start = (u % blocks).saturating_mul(self.channels_per_unit);
        start
            ..start
                .saturating_add(self.channels_per_unit)
                .min(self.channels)
    }

    /// Output elements of units `us`.
    fn work(&self, us: Range<usize>) -> usize {
        us.map(|u| self.unit(u).1.len() * self.unit_channels(u).len() * self.cols)
            .sum()
    }

    /// The larger and the smaller half of the work when two threads split the units at the
    /// middle (the runtime's guided pieces balance finer, but never inside a unit).
    fn halves(&self) -> (usize, usize) {
        let (units, mid) = (self.units(), self.units() / 2);
        let (a, b) = (self.work(0..mid), self.work(mid..units));
        (a.max(b), a.min(b))
    }

    /// This geometry, with the output channels cut into two blocks (each a multiple of
    /// `align` channels but the last) when the units as they are would give two threads
    /// halves of work more than 1.2× apart and the cut evens them out: one unit, or an odd
    /// number of them, which is what a GEMM-shaped plan gets for one small image. Only for
    /// ungrouped plans (`groups == 1`), so that a block never straddles a group, and only
    /// with at least `2·align` channels.
    pub(crate) fn split_channels_for_two(self, groups: usize, align: usize) -> UnitGeometry {
        let align = align.max(1);
        // Beyond 16 units a half is off by at most one unit in eight.
        if groups != 1 || self.units() >= 16 || self.channels < 2 * align {
            return self;
        }
        let (big, small) = self.halves();
        if 5 * big <= 6 * small {
            return self;
        }
        let split = UnitGeometry {
            channels_per_unit: self.channels.div_ceil(2).div_ceil(align) * align,
            ..self
        };
        // Cross-multiplied: split_big / split_small < big / small.
        let (split_big, split_small) = split.halves();
        if split_big * small < big * split_small {
            split
        } else {
            self
        }
    }

    /// `N·K·P·Q`, or `None` if it overflows.
    fn output_len(&self) -> Option<usize> {
        self.batch
            .checked_mul(self.channels)?
            .checked_mul(self.rows)?
            .checked_mul(self.cols)
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
        if geometry.channels_per_unit == 0 {
            return Err(Error::ZeroDimension {
                what: "channels per work unit",
            });
        }
        // Checked: a wrapped count could match a short slice while the saturating unit count
        // does not, and the pieces would then address elements past its end. With the
        // product in range and Q >= 1, N·row blocks·channel blocks <= N·K·P cannot saturate;
        // with Q = 0 every unit has no elements.
        let len = geometry.output_len().ok_or(Error::Overflow {
            what: "output elements",
        })?;
        check_len("output", len, output.len())?;
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
    /// Returns `None` if `u` is not in this piece or `k` is not one of the unit's channels.
    pub fn rows_mut(&mut self, u: usize, k: usize) -> Option<&mut [f32]> {
        let g = self.geometry;
        if !self.units.contains(&u) || !g.unit_channels(u).contains(&k) {
            return None;
        }
        let (n, rows) = g.unit(u);
        let start = ((n * g.channels + k) * g.rows + rows.start) * g.cols;
        let len = rows.len() * g.cols;
        // SAFETY: the range lies inside the original slice (n < N, k < K, rows within P), it
        // belongs to unit `u` (k is one of its channels), which only this piece covers, and
        // `&mut self` prevents a second live borrow of it through this piece.
        Some(unsafe { core::slice::from_raw_parts_mut(self.base.add(start), len) })
    }

    /// The output rows of the consecutive units `us` (all in this piece and of one batch
    /// item) in channel `k`, as one slice, with the output rows it covers. Returns `None` if
    /// `us` is empty, leaves the piece or spans two batch items, `k` is out of range, or the
    /// units are cut into channel blocks (then consecutive units are not consecutive rows).
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
            || g.channel_blocks() != 1
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

    /// The whole output planes (every row of a channel of a batch item) of the consecutive
    /// units `us`, as one slice, with those planes' indices `n·K + k`. Units that span every
    /// row (one row block) cover consecutive planes in any run; units cut into row blocks
    /// (with every channel) only as whole batch items. Returns `None` if `us` is empty or
    /// outside this piece, or is not such a run.
    pub(crate) fn planes_mut(&mut self, us: Range<usize>) -> Option<(&mut [f32], Range<usize>)> {
        let g = self.geometry;
        let per = g.units_per_item();
        if us.is_empty() || us.start < self.units.start || us.end > self.units.end || per == 0 {
            return None;
        }
        let plane = |u: usize| g.unit(u).0 * g.channels + g.unit_channels(u).start;
        let planes = if g.row_blocks() == 1 {
            let last = us.end - 1;
            plane(us.start)..plane(last) + g.unit_channels(last).len()
        } else if g.channel_blocks() == 1
            && us.start.is_multiple_of(per)
            && us.end.is_multiple_of(per)
        {
            us.start / per * g.channels..us.end / per * g.channels
        } else {
            return None;
        };
        let plane_len = g.rows * g.cols;
        // SAFETY: the planes belong to units inside the piece, hence to the geometry, so the
        // range lies inside the original slice; it is exactly the elements of units `us`
        // (whole planes, in NCHW order), which only this piece covers, and `&mut self`
        // prevents a second live borrow through this piece.
        Some((
            unsafe {
                core::slice::from_raw_parts_mut(
                    self.base.add(planes.start * plane_len),
                    planes.len() * plane_len,
                )
            },
            planes,
        ))
    }

    /// Raw access for micro-kernels that write several channels of a unit at once: a pointer
    /// to row `rows.start` of channel 0 of unit `u`'s batch item, and the distance between
    /// channels. Returns `None` if `u` is not in this piece.
    ///
    /// Writes through the pointer must stay within channel `k`'s rows of unit `u`:
    /// `ptr + k·channel_stride + [0, rows.len()·cols)` for `k` in `unit_channels(u)`.
    #[allow(dead_code)] // used by the multi-channel micro-kernels
    pub(crate) fn unit_ptr(&mut self, u: usize) -> Option<(*mut f32, usize)> {
        if !self.units.contains(&u) {
            return None;
        }
        let g = self.geometry;
        let (n, rows) = g.unit(u);
        let start = (n * g.channels * g.rows + rows.start) * g.cols;
        // SAFETY: `start` is within the original slice (channel 0 of the rows of an existing
        // unit).
        Some((unsafe { self.base.add(start) }, g.rows * g.cols))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_built_geometries_with_empty_or_huge_units_do_not_panic() {
        let g = |rows_per_unit, channels_per_unit| UnitGeometry {
            batch: 3,
            channels: 5,
            rows: 7,
            cols: 2,
            rows_per_unit,
            channels_per_unit,
        };
        for (r, c) in [(0, 5), (3, 0), (0, 0)] {
            let g = g(r, c);
            assert_eq!(g.units(), 0, "{g:?}");
            assert_eq!(g.unit(4), (0, 0..0));
            assert_eq!(g.unit_channels(4).is_empty(), c == 0);
            assert!(OutputPiece::whole(&mut [0.0; 210], g).is_err());
        }
        let g = g(usize::MAX, usize::MAX);
        assert_eq!(
            (g.units(), g.unit(0), g.unit_channels(0)),
            (3, (0, 0..7), 0..5)
        );
        let huge = UnitGeometry {
            batch: usize::MAX,
            rows: usize::MAX,
            channels: usize::MAX,
            ..g
        };
        let _ = (
            huge.units(),
            huge.unit(usize::MAX),
            huge.unit_channels(usize::MAX),
        );
        let huge = UnitGeometry {
            rows_per_unit: 1,
            channels_per_unit: 1,
            ..huge
        };
        assert_eq!(huge.units(), usize::MAX);
        let _ = (
            huge.unit(usize::MAX - 1),
            huge.unit_channels(usize::MAX - 1),
        );
        // N·K·P·Q wraps to 2 here (2^63 + 1 items of 2 elements on 64 bits): refused, not a
        // 2-element piece claiming usize::MAX units.
        let wraps = UnitGeometry {
            batch: usize::MAX / 2 + 2,
            channels: 2,
            rows: 1,
            cols: 1,
            rows_per_unit: 1,
            channels_per_unit: 1,
        };
        assert_eq!(
            OutputPiece::whole(&mut [0.0; 2], wraps).err(),
            Some(Error::Overflow {
                what: "output elements"
            })
        );
    }

    #[test]
    fn units_cover_every_element_once() {
        let g = UnitGeometry {
            batch: 2,
            channels: 3,
            rows: 5,
            cols: 4,
            rows_per_unit: 2,
            channels_per_unit: 3,
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
            channels_per_unit: 3,
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
    fn channel_blocks_cover_every_element_once_in_unit_order() {
        // 2 items × 2 row blocks (rows 0..2, 2..3) × 3 channel blocks (0..2, 2..4, 4..5).
        let g = UnitGeometry {
            batch: 2,
            channels: 5,
            rows: 3,
            cols: 2,
            rows_per_unit: 2,
            channels_per_unit: 2,
        };
        assert_eq!((g.row_blocks(), g.channel_blocks(), g.units()), (2, 3, 12));
        assert_eq!((g.unit(1), g.unit_channels(1)), ((0, 0..2), 2..4));
        assert_eq!((g.unit(5), g.unit_channels(5)), ((0, 2..3), 4..5));
        assert_eq!((g.unit(11), g.unit_channels(11)), ((1, 2..3), 4..5));
        let mut out = [0.0f32; 2 * 5 * 3 * 2];
        let origin = out.as_ptr() as usize;
        let piece = OutputPiece::whole(&mut out, g).unwrap();
        let (mut a, mut b) = piece.split_at(7);
        for p in [&mut a, &mut b] {
            for u in p.units() {
                let (n, rows) = g.unit(u);
                for k in 0..5 {
                    let owned = g.unit_channels(u).contains(&k);
                    match p.rows_mut(u, k) {
                        Some(r) => {
                            assert!(owned);
                            assert_eq!(r.len(), rows.len() * 2);
                            // Mark each element with the unit that wrote it.
                            r.iter_mut().for_each(|x| *x += 1.0 + u as f32);
                        }
                        None => assert!(!owned, "unit {u} channel {k}"),
                    }
                }
                // `unit_ptr` points at channel 0 of the unit's rows.
                let (ptr, stride) = p.unit_ptr(u).unwrap();
                assert_eq!(stride, 6);
                assert_eq!((ptr as usize - origin) / 4, out_index(n, 0, rows.start));
            }
        }
        assert!(a.unit_run_rows_mut(0..1, 0).is_none(), "channel blocks");
        for n in 0..2 {
            for k in 0..5 {
                for y in 0..3 {
                    let u = (n * 2 + y / 2) * 3 + k / 2;
                    for x in 0..2 {
                        assert_eq!(out[out_index(n, k, y) + x], 1.0 + u as f32);
                    }
                }
            }
        }

        fn out_index(n: usize, k: usize, y: usize) -> usize {
            ((n * 5 + k) * 3 + y) * 2
        }
    }

    #[test]
    fn planes_cover_runs_of_whole_plane_units_once() {
        // Units of whole planes: 2 items × 3 channel blocks (0..2, 2..4, 4..5) of 3×2 planes.
        let g = UnitGeometry {
            batch: 2,
            channels: 5,
            rows: 3,
            cols: 2,
            rows_per_unit: 3,
            channels_per_unit: 2,
        };
        let mut out = [0.0f32; 2 * 5 * 3 * 2];
        let piece = OutputPiece::whole(&mut out, g).unwrap();
        let (mut a, mut b) = piece.split_at(2);
        assert!(a.planes_mut(1..3).is_none(), "leaves the piece");
        assert!(a.planes_mut(1..1).is_none(), "empty");
        for (p, us, planes) in [(&mut a, 0..2, 0..4), (&mut b, 2..6, 4..10)] {
            let (slice, got) = p.planes_mut(us).unwrap();
            assert_eq!(
                (slice.len(), got.clone()),
                (planes.len() * 6, planes.clone())
            );
            slice
                .iter_mut()
                .for_each(|x| *x += 1.0 + planes.start as f32);
        }
        let mut marks = [0.0f32; 10];
        marks
            .iter_mut()
            .zip(out.chunks(6))
            .for_each(|(m, p)| *m = p[0]);
        assert_eq!(marks, [1.0, 1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0]);
        assert!(out.chunks(6).all(|p| p.iter().all(|x| *x == p[0])));

        // Row blocks of every channel: whole batch items only.
        let g = UnitGeometry {
            rows_per_unit: 2,
            channels_per_unit: 5,
            ..g
        };
        let mut out = [0.0f32; 2 * 5 * 3 * 2];
        let mut piece = OutputPiece::whole(&mut out, g).unwrap();
        assert!(piece.planes_mut(0..1).is_none(), "half an item");
        assert!(piece.planes_mut(1..3).is_none(), "not item-aligned");
        let (slice, planes) = piece.planes_mut(2..4).unwrap();
        assert_eq!((slice.len(), planes), (30, 5..10));
        slice.fill(1.0);
        assert_eq!(out.iter().sum::<f32>(), 30.0);
        assert!(out[30..].iter().all(|x| *x == 1.0));
    }

    #[test]
    fn channel_split_only_where_two_halves_are_unequal() {
        let g = |batch, rows, rows_per_unit| UnitGeometry {
            batch,
            channels: 64,
            rows,
            cols: 7,
            rows_per_unit,
            channels_per_unit: 64,
        };
        // One unit: two channel blocks of 32.
        let one = g(1, 7, 8).split_channels_for_two(1, 8);
        assert_eq!((one.channels_per_unit, one.units()), (32, 2));
        // Odd unit counts (3 items of one unit; 7 row blocks): the halves even out.
        assert_eq!(
            g(3, 7, 8).split_channels_for_two(1, 6).channels_per_unit,
            36
        );
        assert_eq!(
            g(1, 56, 8).split_channels_for_two(1, 8).channels_per_unit,
            32
        );
        // Balanced already (two equal units; rows 30 : 26): unchanged.
        assert_eq!(g(1, 14, 7).split_channels_for_two(1, 8), g(1, 14, 7));
        assert_eq!(g(1, 56, 6).split_channels_for_two(1, 8), g(1, 56, 6));
        // Rows 8 : 6 stay 8 : 6 with channel blocks: unchanged.
        assert_eq!(g(1, 14, 8).split_channels_for_two(1, 8), g(1, 14, 8));
        // Groups, too few channels, many units: unchanged.
        assert_eq!(g(1, 7, 8).split_channels_for_two(2, 8), g(1, 7, 8));
        assert_eq!(g(1, 7, 8).split_channels_for_two(1, 40), g(1, 7, 8));
        assert_eq!(g(17, 7, 8).split_channels_for_two(1, 8), g(17, 7, 8));
    }

    #[test]
    fn whole_checks_length_and_rows_per_unit() {
        let g = UnitGeometry {
            batch: 1,
            channels: 1,
            rows: 2,
            cols: 2,
            rows_per_unit: 0,
            channels_per_unit: 1,
        };
        let mut out = [0.0f32; 4];
        assert!(OutputPiece::whole(&mut out, g).is_err());
        let g = UnitGeometry {
            rows_per_unit: 1,
            ..g
        };
        assert!(OutputPiece::whole(
            &mut out,
            UnitGeometry {
                channels_per_unit: 0,
                ..g
            }
        )
        .is_err());
        assert!(matches!(
            OutputPiece::whole(&mut out[..3], g),
            Err(Error::LengthMismatch { .. })
        ));
    }
}
