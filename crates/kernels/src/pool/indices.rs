//! [`IndexPiece`]: the arg-max index buffer of max pooling, cut into work units exactly like
//! the output, so that threads can each write the indices of their own units.

use crate::error::Error;
use crate::split::{OutputPiece, UnitGeometry};

/// A mutable view of the arg-max indices (`u32`, one per output element, NCHW like the
/// output) that belong to a range of work units. Made with [`IndexPiece::whole`] and halved
/// with [`IndexPiece::split_at`]; split it at the same places as the [`OutputPiece`] it goes
/// with.
///
/// ```
/// use convkit_kernels::pool::IndexPiece;
/// use convkit_kernels::{OutputPiece, Pool2d, Pool2dPlan, PoolKind, PoolOptions};
/// let desc = Pool2d::builder(PoolKind::Max).channels(2).input_size(4, 4).window(2, 2).build()?;
/// let plan = Pool2dPlan::new(&desc, PoolOptions::default())?;
/// let input: Vec<f32> = (0..32).map(|x| x as f32).collect();
/// let (mut out, mut idx) = (vec![0.0f32; 8], vec![0u32; 8]);
/// let g = plan.unit_geometry();
/// let (o1, o2) = OutputPiece::whole(&mut out, g)?.split_at(1);
/// let (i1, i2) = IndexPiece::whole(&mut idx, g)?.split_at(1);
/// plan.run_piece_with_indices(o1, i1, &input)?;
/// plan.run_piece_with_indices(o2, i2, &input)?;
/// assert_eq!(idx, [5, 7, 13, 15, 5, 7, 13, 15]);
/// # Ok::<(), convkit_kernels::Error>(())
/// ```
#[derive(Debug)]
pub struct IndexPiece<'a> {
    /// The same unit bookkeeping as an output piece, over the `u32` storage viewed as `f32`
    /// slots (never read as floats; written only through `u32` pointers).
    inner: OutputPiece<'a>,
}

impl<'a> IndexPiece<'a> {
    /// The whole index buffer as one piece; `indices.len()` must equal the output's length.
    pub fn whole(indices: &'a mut [u32], geometry: UnitGeometry) -> Result<Self, Error> {
        let len = indices.len();
        // SAFETY: u32 and f32 have the same size and alignment and every bit pattern is valid
        // for both; the new slice takes over the unique borrow of `indices` for 'a.
        let slots = unsafe { core::slice::from_raw_parts_mut(indices.as_mut_ptr().cast(), len) };
        Ok(IndexPiece {
            inner: OutputPiece::whole(slots, geometry)?,
        })
    }

    /// The geometry the piece was cut with.
    pub fn geometry(&self) -> UnitGeometry {
        self.inner.geometry()
    }

    /// The work units this piece covers.
    pub fn units(&self) -> core::ops::Range<usize> {
        self.inner.units()
    }

    /// Splits into the first `mid` units and the rest (`mid` is clamped to the length).
    pub fn split_at(self, mid: usize) -> (IndexPiece<'a>, IndexPiece<'a>) {
        let (a, b) = self.inner.split_at(mid);
        (IndexPiece { inner: a }, IndexPiece { inner: b })
    }

    /// The indices of unit `u` in channel `k` (`rows·cols` of them), or `None` if `u` is not
    /// in this piece or `k` is out of range.
    pub fn rows_mut(&mut self, u: usize, k: usize) -> Option<&mut [u32]> {
        let slots = self.inner.rows_mut(u, k)?;
        let len = slots.len();
        // SAFETY: the slots are `u32` storage (see `whole`), uniquely borrowed through
        // `&mut self` for the returned lifetime.
        Some(unsafe { core::slice::from_raw_parts_mut(slots.as_mut_ptr().cast(), len) })
    }
}
