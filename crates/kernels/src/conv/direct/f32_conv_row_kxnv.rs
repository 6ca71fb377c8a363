//! `f32_conv_row_{KB}x{NV}v`: one output row segment of `KB` output channels × `NV` vectors
//! of output pixels, accumulated over every input channel of the group and every kernel tap
//! that hits the image, then `act(acc + bias)` in registers and stored.
//!
//! Generic over the vector type (instantiated per ISA by [`crate::simd::dispatch`]), over the
//! tile (`KB`, `NV`) and over the kernel width `S` (3 and 5 unrolled; `S = 0` takes the width
//! at run time).

use crate::epilogue::{activate, activate_each, Activation};
use crate::simd::F32Vector;

/// Largest kernel width whose tap offsets are tabulated; wider kernels step through taps.
pub(crate) const MAX_TABLE_TAPS: usize = 16;

/// Everything one tile call needs. Pointers are set by the driver (`super::run_units`).
#[derive(Clone, Copy)]
pub(crate) struct RowTile {
    /// Prepared row of input channel 0 of the group, first kernel row used, column `q0`.
    pub x: *const f32,
    /// Distance between input channels in the prepared block.
    pub x_cstride: usize,
    /// Distance between consecutive kernel rows (`dh` prepared rows).
    pub x_rstride: usize,
    /// Input channels per group.
    pub cg: usize,
    /// Kernel rows that hit the image for this output row.
    pub nr: usize,
    /// Weights of output channel `k0`, input channel 0, first kernel row used, tap 0.
    pub w: *const f32,
    /// Distance between output channels' filters (`Cg·R·S`).
    pub w_kstride: usize,
    /// Distance between input channels inside a filter (`R·S`).
    pub w_cstride: usize,
    /// Kernel width `S`.
    pub s_len: usize,
    /// Offsets of the kernel tap columns in a prepared row (first `min(S, 16)` entries).
    pub taps: [usize; MAX_TABLE_TAPS],
    /// For `S > 16`: tap step `⌊dw / sw⌋`, `dw mod sw`, `sw`, and the phase length.
    pub step: (usize, usize, usize, usize),
    /// Output of channel `k0`, this row, column `q0`.
    pub y: *mut f32,
    /// Distance between output channels.
    pub y_kstride: usize,
    /// Valid output columns in this tile (`1..=NV·LANES`); lanes beyond are not stored.
    pub q_valid: usize,
    /// How far the tile's last vector is moved back from `(NV−1)·LANES` so that it ends at
    /// the row's last column (0: the vectors are contiguous). With a shift every vector is
    /// whole and the last one overlaps its neighbour, recomputing a few columns with the same
    /// operations (so the same bits): a 28-wide row is one 2-vector tile, not two 1-vector
    /// tiles with half the accumulators.
    pub last_shift: usize,
    /// Bias of channel `k0` (then `k0 + 1`, ...), if any.
    pub bias: Option<*const f32>,
    /// Fused activation.
    pub act: Activation,
}

/// Computes one tile.
///
/// Register plan (AVX-512, `KB = 4`, `NV = 4`: 16 accumulators, 4 input vectors):
///
/// ```text
///              x[q0 .. q0+16) x[+16 .. +32) x[+32 .. +48) x[+48 .. +64)   <- 4 loads / tap
///   w[k0] bc:  acc00          acc01         acc02         acc03
///   w[k0+1]:   acc10          acc11         acc12         acc13
///   w[k0+2]:   acc20          acc21         acc22         acc23
///   w[k0+3]:   acc30          acc31         acc32         acc33
///              (one broadcast weight per channel row, KB·NV FMAs per tap)
/// ```
///
/// Summation order per output element: input channel, kernel row, kernel column (the
/// reference's order), bias last.
///
/// # Safety
/// The [`F32Vector`] contract must hold; every pointer in `t` must be valid for what the tile
/// reads (prepared rows: `NV·LANES` lanes from every tap offset) and writes (`q_valid` columns
/// of `KB` channels), which the driver guarantees from the [`super::prepare::RowPrep`] layout.
#[inline(always)]
pub(crate) unsafe fn conv_row_tile<
    V: F32Vector,
    const KB: usize,
    const NV: usize,
    const S: usize,
>(
    t: &RowTile,
) {
    // SAFETY: (whole body) offsets stay within the prepared block and filters (see above).
    unsafe {
        let mut acc = [[V::zero(); NV]; KB];
        let mut offs = [0usize; NV];
        for (j, o) in offs.iter_mut().enumerate() {
            *o = j * V::LANES;
        }
        // `row_column_tile` shifts only tiles of 2+ vectors, by less than a vector.
        debug_assert!(t.last_shift == 0 || (NV > 1 && t.last_shift < V::LANES));
        offs[NV - 1] -= t.last_shift;
        // A fixed width unrolls the kernel row, and LLVM then hoists all `KB·S` weight
        // broadcasts of the row ahead of its FMAs. Where they do not fit beside the `KB·NV`
        // accumulators and `NV` inputs they spill and are reloaded (LeNet conv1's 6 × 2 tile
        // at AVX-512: 30 broadcasts, a third of the loop's instructions stack traffic); the
        // run-time loop over the tap table then keeps one tap's `KB` broadcasts live
        // instead, if those fit. Measured (`docs/direct-depthwise.md`): LeNet conv1 at
        // AVX-512 1.2× faster rolled, the 4 × 2 tile of resnet_3x3_s2 at AVX2 1.3×; AVX2's
        // 6 × 2 tile, where even one tap does not fit, 1.35× slower rolled.
        let fits_row = KB * (S + NV) + NV <= V::REGISTERS;
        let fits_tap = KB * NV + NV + KB <= V::REGISTERS;
        let unrolled = fits_row || !fits_tap;
        for c in 0..t.cg {
            for r in 0..t.nr {
                let x = t.x.add(c * t.x_cstride + r * t.x_rstride);
                let w = t.w.add(c * t.w_cstride + r * t.s_len);
                if S != 0 && unrolled {
                    for s in 0..S {
                        tap::<V, KB, NV>(&mut acc, x.add(t.taps[s]), &offs, w.add(s), t.w_kstride);
                    }
                } else if t.s_len <= MAX_TABLE_TAPS {
                    for s in 0..t.s_len {
                        tap::<V, KB, NV>(&mut acc, x.add(t.taps[s]), &offs, w.add(s), t.w_kstride);
                    }
                } else {
                    let (div, rem, sw, len) = t.step;
                    let (mut phase, mut off) = (0, 0);
                    for s in 0..t.s_len {
                        let xs = x.add(phase * len + off);
                        tap::<V, KB, NV>(&mut acc, xs, &offs, w.add(s), t.w_kstride);
                        phase += rem;
                        off += div;
                        if phase >= sw {
                            phase -= sw;
                            off += 1;
                        }
                    }
                }
            }
        }
        store_tile::<V, KB, NV>(&acc, &offs, t);
    }
}

/// One kernel tap: `NV` input loads (vector `j` at `x + offs[j]`), `KB` weight broadcasts,
/// `KB·NV` FMAs.
#[inline(always)]
unsafe fn tap<V: F32Vector, const KB: usize, const NV: usize>(
    acc: &mut [[V; NV]; KB],
    x: *const f32,
    offs: &[usize; NV],
    w: *const f32,
    w_kstride: usize,
) {
    // SAFETY: (whole body) the caller guarantees `x[offs[j]..][..LANES]` and the `KB`
    // weights exist.
    unsafe {
        let mut xv = [V::zero(); NV];
        for (v, &o) in xv.iter_mut().zip(offs) {
            *v = V::load(x.add(o));
        }
        for (kk, row) in acc.iter_mut().enumerate() {
            let wv = V::splat(*w.add(kk * w_kstride));
            for (a, x) in row.iter_mut().zip(xv.iter()) {
                *a = x.mul_add(wv, *a);
            }
        }
    }
}

/// The fused epilogue: `act(acc + bias)` per channel, stored (vector `j` at `offs[j]`; without
/// a shift the last vector partially).
///
/// The activation runs on a channel's `NV` vectors at once, outside the store loop, and not at
/// all for the identity (which is also what the driver passes when sigmoid or tanh is left to
/// its stored pass): a `match` per vector kept the loop rolled and the accumulators in memory
/// (a fifth of LeNet conv1's time at AVX2).
#[inline(always)]
unsafe fn store_tile<V: F32Vector, const KB: usize, const NV: usize>(
    acc: &[[V; NV]; KB],
    offs: &[usize; NV],
    t: &RowTile,
) {
    // SAFETY: (whole body) writes stay within `q_valid` columns of `KB` output channel rows.
    unsafe {
        let mut out = *acc;
        if let Some(b) = t.bias {
            for (kk, row) in out.iter_mut().enumerate() {
                let b = V::splat(*b.add(kk));
                for v in row.iter_mut() {
                    *v = v.add(b);
                }
            }
        }
        if t.act != Activation::Identity {
            for row in out.iter_mut() {
                if V::LANES == 1 {
                    // One at a time at one lane (the Cortex-M4 build: code size, nothing to
                    // overlap).
                    for v in row.iter_mut() {
                        *v = activate::<V>(*v, t.act);
                    }
                } else {
                    activate_each(row, t.act);
                }
            }
        }
        for (kk, row) in out.iter().enumerate() {
            let y = t.y.add(kk * t.y_kstride);
            for (v, &start) in row.iter().zip(offs) {
                if start >= t.q_valid {
                    break;
                }
                let n = t.q_valid - start;
                if n >= V::LANES {
                    v.store(y.add(start));
                } else {
                    v.store_first(y.add(start), n);
                }
            }
        }
    }
}
