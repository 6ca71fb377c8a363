//! Max pooling, 3×3 window, stride 2×2, dilation 1: a run of interior output rows at a time,
//! each input row pooled horizontally once and shared by the two output rows that use it.
//!
//! ```text
//!   H(y)[q] = x(y, 2q) ⊕ x(y, 2q+1) ⊕ x(y, 2q+2)            one deinterleave pair + 1 permute
//!   out(p)  = H(2p) ⊕ H(2p+1) ⊕ H(2p+2)                      H(2p+2) is the next row's H(2p)
//! ```
//!
//! `⊕` keeps the earlier tap on ties, so the fold is the reference's row-major one (the
//! leftmost-maximum rule is associative): the same bits, `−0.0` vs `+0.0` included. It is one
//! `maxps` on x86 instead of the three instructions of a NaN-propagating maximum; NaN is
//! handled out of line instead: every tap is also summed into a check vector (a NaN tap makes
//! the sum NaN; an `∞ − ∞` false alarm only costs time), and an output row whose taps hold a
//! NaN is recomputed by the exact general stride-2 kernel. Per 16 outputs (AVX-512) and tap
//! row: 4 loads, 3 permutes, 2 max, 3 adds, and two of the three tap rows are new per output
//! row; the general kernel spent 4 loads, 4 permutes and 3 three-instruction maxima on every
//! tap row of every output row.
//!
//! The horizontal maxima of the shared row live in a stack buffer of [`CHUNK`] vectors: the
//! row is walked in column chunks of that many vectors, each chunk down every row of the run.

use super::reduce::Max;
use super::row::{self, RowJob};
use crate::epilogue::{activate, Activation};
use crate::simd::F32Vector;

/// Vectors of one column chunk (the shared row's maxima stay in this many registers or
/// stack slots).
const CHUNK: usize = 8;

/// Output positions of a row the vector loop covers: `full` vectors at `0, L, 2L, …` and,
/// when `overlap`, one more at `count − L` (overlapping the one before, so no masked load or
/// store); the outputs from `covered` on are left to the general kernel.
#[derive(Clone, Copy)]
struct Columns {
    full: usize,
    overlap: bool,
    covered: usize,
}

impl Columns {
    /// The vectors whose loads (taps `2q ..= 2q + 2L`, read as two pairs of vectors from `2q`
    /// and `2q + 1`) stay within the `avail` elements of the row.
    fn new<V: F32Vector>(count: usize, avail: usize) -> Columns {
        let lanes = V::LANES;
        // Vector at q reads 2q + 2L + 1 elements (its last tap is element 2q + 2L).
        let fits = |q: usize| 2 * q + 2 * lanes < avail;
        let mut full = 0;
        while (full + 1) * lanes <= count && fits(full * lanes) {
            full += 1;
        }
        let mut covered = full * lanes;
        let overlap = covered < count && count >= lanes && full > 0 && fits(count - lanes);
        if overlap {
            covered = count;
        }
        Columns {
            full,
            overlap,
            covered,
        }
    }

    fn vectors(&self) -> usize {
        self.full + usize::from(self.overlap)
    }

    /// First output of vector `k`.
    fn start<V: F32Vector>(&self, k: usize, count: usize) -> usize {
        if k < self.full {
            k * V::LANES
        } else {
            count - V::LANES
        }
    }
}

/// The horizontal maxima `H` of the tap row at `p` for the `L` outputs whose first taps start
/// there, in the level's deinterleave lane order; every tap is added into `check`.
///
/// # Safety
/// `p[..2L + 1]` readable; the [`F32Vector`] contract.
#[inline(always)]
unsafe fn horizontal<V: F32Vector>(p: *const f32, check: &mut V) -> V {
    // SAFETY: the loads read p[..2L] and p[1..2L + 1].
    unsafe {
        let (t0, t1) = V::load(p).deinterleave_unordered(V::load(p.add(V::LANES)));
        // Tap 2 is the odd half of the pair from p + 1: its reads end at p[2L], the last tap,
        // so every interior vector fits (the even half of a pair from p + 2 would read one
        // element more and push a row's last vector to the masked kernel).
        let (_, t2) = V::load(p.add(1)).deinterleave_unordered(V::load(p.add(1 + V::LANES)));
        // The taps' sum first, then one add into the running check: a chain of one add
        // per call instead of three.
        *check = check.add(t0.add(t1).add(t2));
        t0.max_ordered(t1).max_ordered(t2)
    }
}

/// Max-pools `rows` consecutive interior output rows of one plane: output row `i` takes its
/// three tap rows from `job.src + i·2·row_step` (`row_step` apart) and writes `job.count`
/// outputs at `dst + i·out_step`, activated.
///
/// # Safety
/// For each row `i < rows`, `job` with `src` moved by `i·2·job.row_step` satisfies
/// [`row::stride2`]'s contract (3×3 window, stride 2, dilation 1) with destination
/// `dst + i·out_step`; `job.rows == 3`; the [`F32Vector`] contract.
#[inline(always)]
pub(crate) unsafe fn max_3x3s2_rows<V: F32Vector>(
    job: &RowJob,
    rows: usize,
    dst: *mut f32,
    out_step: usize,
) {
    let in_step = 2 * job.row_step;
    let cols = Columns::new::<V>(job.count, job.avail);
    let vectors = cols.vectors();
    let mut chunk_start = 0;
    while chunk_start < vectors {
        let n = (vectors - chunk_start).min(CHUNK);
        // SAFETY: each vector's loads stay in its row (`Columns::new`); rows are the
        // caller's; the chunk's outputs are inside each output row.
        unsafe {
            if job.activation == Activation::Identity {
                chunk::<V, false>(job, rows, in_step, dst, out_step, &cols, chunk_start, n)
            } else {
                chunk::<V, true>(job, rows, in_step, dst, out_step, &cols, chunk_start, n)
            }
        };
        chunk_start += n;
    }
    if cols.covered < job.count {
        // The row's last outputs (a row shorter than a vector, or whose last vector's reads
        // would pass the row end): the general kernel, which masks its loads.
        let q = cols.covered;
        for i in 0..rows {
            // SAFETY: the outputs q..count of row i are interior outputs of the same job.
            unsafe {
                let tail = RowJob {
                    src: job.src.add(i * in_step + 2 * q),
                    avail: job.avail - 2 * q,
                    count: job.count - q,
                    ..*job
                };
                row::stride2::<V, Max, 3>(&tail, dst.add(i * out_step + q));
            }
        }
    }
}

/// One column chunk (vectors `first..first + n`) down every row of the run; `ACTIVATE`
/// says whether the job's activation is not the identity (decided once, out of the loop).
///
/// # Safety
/// As [`max_3x3s2_rows`]; `first + n <= cols.vectors()`, `n <= CHUNK`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn chunk<V: F32Vector, const ACTIVATE: bool>(
    job: &RowJob,
    rows: usize,
    in_step: usize,
    dst: *mut f32,
    out_step: usize,
    cols: &Columns,
    first: usize,
    n: usize,
) {
    let count = job.count;
    let activation = job.activation;
    // SAFETY: as the caller's contract; `shared` is fully written before it is read.
    unsafe {
        let mut shared = [V::zero(); CHUNK];
        // H of tap row 0 of the first output row.
        let mut check = V::zero();
        for (k, h) in shared.iter_mut().enumerate().take(n) {
            let q = cols.start::<V>(first + k, count);
            *h = horizontal::<V>(job.src.add(2 * q), &mut check);
        }
        let mut shared_nan = check.any_nan();
        for i in 0..rows {
            let base = job.src.add(i * in_step);
            let out_row = dst.add(i * out_step);
            let mut check1 = V::zero();
            let mut check2 = V::zero();
            for (k, h) in shared.iter_mut().enumerate().take(n) {
                let q = cols.start::<V>(first + k, count);
                let h1 = horizontal::<V>(base.add(job.row_step + 2 * q), &mut check1);
                let h2 = horizontal::<V>(base.add(2 * job.row_step + 2 * q), &mut check2);
                let mut v = h.max_ordered(h1).max_ordered(h2).deinterleave_order();
                *h = h2;
                if ACTIVATE {
                    v = activate::<V>(v, activation);
                }
                v.store(out_row.add(q));
            }
            let next_nan = check2.any_nan();
            if shared_nan || next_nan || check1.any_nan() {
                // A NaN among this row's taps: the exact kernel recomputes the chunk's outputs
                // (it propagates the NaN); the shared row's flag carries to the next row.
                let q0 = cols.start::<V>(first, count);
                let q1 = cols.start::<V>(first + n - 1, count) + V::LANES;
                let exact = RowJob {
                    src: base.add(2 * q0),
                    avail: job.avail - 2 * q0,
                    count: q1 - q0,
                    ..*job
                };
                row::stride2::<V, Max, 3>(&exact, out_row.add(q0));
            }
            shared_nan = next_nan;
        }
    }
}
