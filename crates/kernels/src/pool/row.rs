//! The interior of one output row: every window tap inside the input, so the row is pooled a
//! vector of outputs at a time with no bounds logic. The edge columns are `edges.rs`'.

use crate::epilogue::{activate, Activation};
use crate::simd::F32Vector;

/// One output row's interior, as the micro-kernels see it.
#[derive(Clone, Copy)]
pub(crate) struct RowJob {
    /// First tap row's element under the first tap of the first interior output.
    pub src: *const f32,
    /// Elements between consecutive tap rows (`dilation_h · W`).
    pub row_step: usize,
    /// Tap rows inside the input (at least 1).
    pub rows: usize,
    /// Elements readable from `src` to the end of its input row (same for every tap row).
    pub avail: usize,
    /// Window width, horizontal stride and dilation.
    pub kw: usize,
    pub stride: usize,
    pub dilation: usize,
    /// Interior outputs to write at `dst`.
    pub count: usize,
    /// Average divisor (ignored by max), and whether it is a power of two.
    pub divisor: f32,
    pub divisor_is_pow2: bool,
    pub activation: Activation,
}

/// Folds `v` into `acc` (the first tap initialises it). Inlined with constant `acc` shapes,
/// the `Option` disappears.
#[inline(always)]
unsafe fn fold<V: F32Vector, R: super::reduce::Reduce>(acc: Option<V>, v: V) -> Option<V> {
    match acc {
        None => Some(v),
        // SAFETY: forwarded contract.
        Some(a) => Some(unsafe { R::combine(a, v) }),
    }
}

/// Combines a maximum's accumulator with the maximum of the next tap row, reduced on its
/// own: the rows' dependency chains then run in parallel (a 3×3 chain of nine dependent
/// max-with-NaN steps was latency-bound). The leftmost-maximum rule (NaN first, ties to the
/// earlier tap) is associative, so the result is the same bits. Sums keep the row-major
/// chain instead (the reference's rounding), so callers use this only for `!R::AVERAGE`.
#[inline(always)]
unsafe fn join<V: F32Vector, R: super::reduce::Reduce>(
    acc: Option<V>,
    row: Option<V>,
) -> Option<V> {
    match row {
        // SAFETY: forwarded contract.
        Some(v) => unsafe { fold::<V, R>(acc, v) },
        None => acc,
    }
}

/// Divides (average), activates and stores `n` lanes.
#[inline(always)]
unsafe fn finish<V: F32Vector, R: super::reduce::Reduce>(
    acc: Option<V>,
    job: &RowJob,
    dst: *mut f32,
    n: usize,
) {
    // SAFETY: `dst[..n]` writable (caller); rows >= 1 so `acc` is Some.
    unsafe {
        let Some(mut v) = acc else { return };
        if R::AVERAGE {
            // x·2^−k is the correctly rounded x/2^k (the same real number): bit-identical to
            // the division, and a multiply is several times cheaper than vdivps.
            v = if job.divisor_is_pow2 {
                v.mul(V::splat(1.0 / job.divisor))
            } else {
                v.div(V::splat(job.divisor))
            };
        }
        if job.activation != Activation::Identity {
            v = activate::<V>(v, job.activation);
        }
        if n == V::LANES {
            v.store(dst);
        } else {
            v.store_partial(dst, n);
        }
    }
}

/// One tap row of the general kernel folded into `acc`.
///
/// # Safety
/// As [`general`], for the tap row at `p` and outputs `q..q + n` with `x = q·stride`.
#[inline(always)]
unsafe fn general_row<V: F32Vector, R: super::reduce::Reduce>(
    job: &RowJob,
    p: *const f32,
    x: usize,
    n: usize,
    mut acc: Option<V>,
) -> Option<V> {
    for j in 0..job.kw {
        let off = x + j * job.dilation;
        // SAFETY: tap j of outputs q..q+n is inside the row (caller); `avail − off` elements
        // of the row remain from it.
        unsafe {
            let v = super::taps::load_tap::<V>(p.add(off), job.stride, n, job.avail - off);
            acc = fold::<V, R>(acc, v);
        }
    }
    acc
}

/// The general interior kernel: any window, stride and dilation. For each vector of `n`
/// outputs, every tap (row-major order) is one vector load (stride 1), two loads and a
/// deinterleave (stride 2) or a strided load, folded into one accumulator.
///
/// ```text
///   acc[0..L] = tap(0,0) ⊕ tap(0,1) ⊕ … ⊕ tap(rows−1, kw−1)     ⊕ = max or +
///   tap(i,j)[l] = src[i·row_step + j·dilation + l·stride]
/// ```
///
/// # Safety
/// For every tap row `i < rows` and tap `j < kw`, the elements
/// `src + i·row_step + j·dilation + l·stride` for `l < count` are inside the input, and
/// `avail` elements are readable from `src + i·row_step` in its row; `dst[..count]` writable.
#[inline(always)]
pub(crate) unsafe fn general<V: F32Vector, R: super::reduce::Reduce>(job: &RowJob, dst: *mut f32) {
    let mut q = 0;
    while q < job.count {
        let mut n = (job.count - q).min(V::LANES);
        if n < V::LANES && job.count >= V::LANES {
            // The last vector overlaps the one before instead of a masked store (a slow
            // microcoded op on some CPUs): its outputs are interior outputs too, so every
            // tap read stays in bounds, and the overlapped outputs get the same values again.
            q = job.count - V::LANES;
            n = V::LANES;
        }
        let x = q * job.stride;
        // SAFETY: forwarded; row 0 is peeled so its first tap initialises the accumulator
        // without a run-time test, and `dst[q..q+n]` is writable.
        unsafe {
            let mut acc = general_row::<V, R>(job, job.src, x, n, None);
            for i in 1..job.rows {
                let p = job.src.add(i * job.row_step);
                acc = if R::AVERAGE {
                    general_row::<V, R>(job, p, x, n, acc)
                } else {
                    join::<V, R>(acc, general_row::<V, R>(job, p, x, n, None))
                };
            }
            finish::<V, R>(acc, job, dst.add(q), n);
        }
        q += n;
    }
}

/// One tap row of the stride-2 kernel folded into `acc`; `FULL` vectors read two whole
/// vectors per pair of taps with no bounds logic (the caller checked the row is long enough).
///
/// # Safety
/// As [`stride2`], for the tap row at `p` and outputs `q..q + n` with `x = 2q`; with `FULL`,
/// `n = LANES` and `x + kw − 1 + 2·LANES <= avail` rounded to the last pair start.
#[inline(always)]
unsafe fn stride2_row<V: F32Vector, R: super::reduce::Reduce, const FULL: bool>(
    p: *const f32,
    kw: usize,
    x: usize,
    n: usize,
    avail: usize,
    mut acc: Option<V>,
) -> Option<V> {
    let mut j = 0;
    while j < kw {
        let pair = j + 1 < kw;
        let off = x + j;
        // SAFETY: taps j and j+1 of outputs q..q+n are inside the row (caller): the span
        // 2n − 1 (+1 for the pair) from `off` is readable, and with FULL so are 2·LANES.
        unsafe {
            // Lanes in the level's deinterleave order; `stride2` reorders the result once.
            let (even, odd) = if FULL {
                V::load(p.add(off)).deinterleave_unordered(V::load(p.add(off + V::LANES)))
            } else {
                // Span of taps j (and j+1) for n outputs: last element 2(n−1) (+1).
                let span = 2 * n - usize::from(!pair);
                super::taps::load_pairs_unordered::<V>(p.add(off), span, avail - off)
            };
            acc = fold::<V, R>(acc, even);
            if pair {
                acc = fold::<V, R>(acc, odd);
            }
        }
        j += 2;
    }
    acc
}

/// The stride-2, dilation-1 interior kernel (2×2 / 2, 3×3 / 2 and any other width with
/// `KW = 0`): each pair of taps `(j, j+1)` comes from ONE pair of loads and a deinterleave,
/// so a 2×2 window costs two loads and one deinterleave per tap row and vector of outputs.
///
/// ```text
///   row y:  x0 x1 x2 x3 x4 x5 …       outputs q = 0..L, tap j at x(2q + j)
///   load x(j)..x(j+2L−1), deinterleave →  even = tap j,  odd = tap j+1
///   3×3: pair (0,1) from the load at x0, tap 2 = even of the load at x2
///   acc = ((tap(0,0) ⊕ tap(0,1)) ⊕ tap(0,2)) ⊕ tap(1,0) …     (row-major: exact ties, and
///                                                              the reference's sum order)
///   the taps stay in the level's deinterleave lane order (AVX2: shufps only) and the
///   accumulator is reordered once before the store (AVX2: one vpermpd per 8 outputs)
/// ```
///
/// Vectors whose loads all stay inside the row take the `FULL` path (plain loads, no
/// branches); the last one or two vectors of a row take masked loads.
///
/// # Safety
/// As [`general`] with `stride = 2`, `dilation = 1`, `kw = KW` when `KW > 0`.
#[inline(always)]
pub(crate) unsafe fn stride2<V: F32Vector, R: super::reduce::Reduce, const KW: usize>(
    job: &RowJob,
    dst: *mut f32,
) {
    let kw = if KW > 0 { KW } else { job.kw };
    // Reads of a full vector reach x + last pair start + 2·LANES.
    let reach = ((kw - 1) & !1) + 2 * V::LANES;
    let mut q = 0;
    // SAFETY: (both loops) forwarded; row 0 is peeled so its first tap initialises the
    // accumulator without a run-time test; `dst[q..q+n]` is writable.
    unsafe {
        while q + V::LANES <= job.count && 2 * q + reach <= job.avail {
            let x = 2 * q;
            let mut acc = stride2_row::<V, R, true>(job.src, kw, x, V::LANES, job.avail, None);
            for i in 1..job.rows {
                let p = job.src.add(i * job.row_step);
                acc = if R::AVERAGE {
                    stride2_row::<V, R, true>(p, kw, x, V::LANES, job.avail, acc)
                } else {
                    let row = stride2_row::<V, R, true>(p, kw, x, V::LANES, job.avail, None);
                    join::<V, R>(acc, row)
                };
            }
            let acc = acc.map(|v| v.deinterleave_order());
            finish::<V, R>(acc, job, dst.add(q), V::LANES);
            q += V::LANES;
            if q < job.count && q + V::LANES > job.count && job.count >= V::LANES {
                // The last vector overlaps the one before (full loads and store instead of
                // masked ones) when its reads still fit in the row; the overlapped outputs
                // get the same values again.
                let last = job.count - V::LANES;
                if 2 * last + reach <= job.avail {
                    q = last;
                }
            }
        }
        while q < job.count {
            let n = (job.count - q).min(V::LANES);
            let x = 2 * q;
            let mut acc = stride2_row::<V, R, false>(job.src, kw, x, n, job.avail, None);
            for i in 1..job.rows {
                let p = job.src.add(i * job.row_step);
                acc = if R::AVERAGE {
                    stride2_row::<V, R, false>(p, kw, x, n, job.avail, acc)
                } else {
                    let row = stride2_row::<V, R, false>(p, kw, x, n, job.avail, None);
                    join::<V, R>(acc, row)
                };
            }
            let acc = acc.map(|v| v.deinterleave_order());
            finish::<V, R>(acc, job, dst.add(q), n);
            q += n;
        }
    }
}
