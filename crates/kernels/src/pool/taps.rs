//! Loading one window tap for `n` consecutive outputs of a row into a vector: contiguous for
//! stride 1, two loads and an in-register deinterleave for stride 2, a strided load otherwise.
//! Every loader reads only elements of the current input row (`avail` of them from `p`), so
//! no read ever leaves the input slice.

use crate::simd::F32Vector;

/// Loads `p[..k]` (all lanes if `k >= LANES`, zeros past `k`).
///
/// # Safety
/// `p[..min(k, LANES)]` readable; the [`F32Vector`] contract.
#[inline(always)]
pub(crate) unsafe fn load_upto<V: F32Vector>(p: *const f32, k: usize) -> V {
    // SAFETY: forwarded; load_partial is only called with 0 < k < LANES.
    unsafe {
        if k >= V::LANES {
            V::load(p)
        } else if k == 0 {
            V::zero()
        } else {
            V::load_partial(p, k)
        }
    }
}

/// The even- and odd-indexed elements of `p[..2n]` (lanes past `n` unspecified), reading at
/// most `want` elements where `want` is `2·LANES` when the row has that many from `p` (two
/// plain loads) and the exact span the caller needs otherwise (masked loads).
///
/// ```text
///   p:     x0 x1 x2 x3 x4 x5 ... x(2L-1)      two loads: lo = x0..x(L-1), hi = xL..x(2L-1)
///   even:  x0 x2 x4 ...  x(2L-2)             one permute (AVX-512), shufps + vpermpd (AVX2),
///   odd:   x1 x3 x5 ...  x(2L-1)             shufps (SSE2), uzp1/uzp2 (NEON)
/// ```
///
/// # Safety
/// `p[..span]` readable, `avail >= span` elements readable from `p`; the [`F32Vector`]
/// contract.
#[inline(always)]
pub(crate) unsafe fn load_pairs<V: F32Vector>(p: *const f32, span: usize, avail: usize) -> (V, V) {
    let want = if avail >= 2 * V::LANES {
        2 * V::LANES
    } else {
        span
    };
    // SAFETY: `want <= avail` elements from `p` are readable.
    unsafe {
        let lo = load_upto::<V>(p, want);
        let hi = load_upto::<V>(p.add(V::LANES.min(want)), want.saturating_sub(V::LANES));
        lo.deinterleave(hi)
    }
}

/// [`load_pairs`] with the lanes in the level's unordered deinterleave order.
///
/// # Safety
/// As [`load_pairs`].
#[inline(always)]
pub(crate) unsafe fn load_pairs_unordered<V: F32Vector>(
    p: *const f32,
    span: usize,
    avail: usize,
) -> (V, V) {
    let want = if avail >= 2 * V::LANES {
        2 * V::LANES
    } else {
        span
    };
    // SAFETY: `want <= avail` elements from `p` are readable.
    unsafe {
        let lo = load_upto::<V>(p, want);
        let hi = load_upto::<V>(p.add(V::LANES.min(want)), want.saturating_sub(V::LANES));
        lo.deinterleave_unordered(hi)
    }
}

/// `p[0], p[s], …, p[(n−1)·s]` in the first `n` lanes, for any stride `s`.
///
/// # Safety
/// Those elements readable, `avail >= (n−1)·s + 1` elements readable from `p`, `1 <= n <=
/// LANES`; the [`F32Vector`] contract.
#[inline(always)]
pub(crate) unsafe fn load_tap<V: F32Vector>(p: *const f32, s: usize, n: usize, avail: usize) -> V {
    // SAFETY: forwarded; each branch reads within the span `(n−1)·s + 1 <= avail`.
    unsafe {
        match s {
            1 => load_upto::<V>(p, n),
            2 => load_pairs::<V>(p, 2 * n - 1, avail).0,
            _ => V::load_strided(p, s, n),
        }
    }
}
