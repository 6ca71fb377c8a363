//! `f32_conv_kvec_{MR}x1v`: output channels in lanes. `MR` consecutive output pixels of one
//! row × one vector of `LANES` output channels, accumulated over every input channel of the
//! group and every kernel tap that hits the image, then `act(acc + bias)` and stored
//! transposed into the NCHW output.
//!
//! The row-vectorised tile ([`super::f32_conv_row_kxnv`]) wastes lanes when output rows are
//! short (LeNet conv2: 10 columns, 10 of 16 AVX-512 lanes); with 16 or 32 output channels a
//! vector of channels is full. Each tap is one load of `LANES` packed weights (see
//! [`pack_weights`]) and `MR` broadcast inputs, `MR` FMAs — the shape of a GEMM micro-kernel
//! whose `A` is read straight from the prepared input rows.
//!
//! Summation order per output element: input channel, kernel row, kernel column (the
//! reference's and the row tile's), bias last; so both direct layouts give the same bits.

use super::f32_conv_row_kxnv::MAX_TABLE_TAPS;
use crate::epilogue::{activate, activate_each, bias_activation_run, Activation};
use crate::simd::{copy_transposed, F32Vector};
use crate::Conv2d;

/// Largest `MR` (output pixels per tile).
pub(crate) const MAX_MR: usize = 12;

/// Everything one tile call needs. Pointers are set by the driver (`super::run_units`).
#[derive(Clone, Copy)]
pub(crate) struct KvecTile {
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
    /// Packed weights of this channel block, input channel 0, first kernel row used, tap 0.
    pub w: *const f32,
    /// Distance between input channels in the packed block (`R·S·LANES`).
    pub w_cstride: usize,
    /// Kernel width `S` (at most [`MAX_TABLE_TAPS`]).
    pub s_len: usize,
    /// Offsets of the kernel tap columns in a prepared row.
    pub taps: [usize; MAX_TABLE_TAPS],
    /// Output of the block's first channel, this row, column `q0`.
    pub y: *mut f32,
    /// Distance between output channels.
    pub y_kstride: usize,
    /// Valid channels in the block (`1..=LANES`); lanes beyond are zero weights, not stored.
    pub k_valid: usize,
    /// Bias of the block's first channel, if any (`k_valid` values).
    pub bias: Option<*const f32>,
    /// Fused activation.
    pub act: Activation,
}

/// Computes one tile.
///
/// Register plan (AVX-512, `MR = 12`): 12 accumulators (one per output pixel, channels in
/// lanes), one weight vector and one broadcast input per FMA:
///
/// ```text
///   tap (c, r, s):  w = W[c][r][s][k0 .. k0+16)                      <- 1 load
///                   acc[m] += bcast(x[c][row + r][q0 + m + s]) · w   <- MR FMAs
/// ```
///
/// # Safety
/// The [`F32Vector`] contract must hold; the prepared rows must be readable at
/// `taps[s] + MR − 1` for every tap, the packed block for `Cg·nr·S` vectors, the bias for
/// `k_valid` values, and `y` writable for `MR` columns of `k_valid` channels.
#[inline(always)]
pub(crate) unsafe fn conv_kvec_tile<V: F32Vector, const MR: usize, const S: usize>(t: &KvecTile) {
    // SAFETY: (whole body) offsets stay within the prepared block, the packed weights and the
    // output rows (see above); the uninitialised transpose buffer is read only at elements
    // stored before (pixel m < MR, lane k < k_valid <= LANES).
    unsafe {
        let lanes = V::LANES;
        let s_len = if S != 0 { S } else { t.s_len };
        let mut acc = [V::zero(); MR];
        for c in 0..t.cg {
            let xc = t.x.add(c * t.x_cstride);
            let wc = t.w.add(c * t.w_cstride);
            for r in 0..t.nr {
                let xr = xc.add(r * t.x_rstride);
                let wr = wc.add(r * s_len * lanes);
                for s in 0..s_len {
                    let wv = V::load(wr.add(s * lanes));
                    let xs = xr.add(t.taps[s]);
                    for (m, a) in acc.iter_mut().enumerate() {
                        *a = V::splat(*xs.add(m)).mul_add(wv, *a);
                    }
                }
            }
        }
        let b = t.bias.map(|p| {
            if t.k_valid >= lanes {
                V::load(p)
            } else {
                V::load_partial(p, t.k_valid)
            }
        });
        if V::FAST_MASKED_STORE {
            // AVX-512: bias and activation on the accumulators (the FMA loop is over, so
            // its registers are free for the activation's interleaved chains), then a
            // transpose in registers and one masked store per channel.
            let mut out = acc;
            if let Some(b) = b {
                for v in out.iter_mut() {
                    *v = v.add(b);
                }
            }
            activate_each(&mut out, t.act);
            V::store_transposed(&out, t.y, t.y_kstride, t.k_valid);
            return;
        }
        // Elsewhere: transpose through a stack buffer, lane k of pixel m to channel k,
        // column m. Uninitialised: zeroing its 3 KB was a `memset` call per tile (1.4% of a
        // LeNet batch-256 profile); every element read below was stored first.
        let mut buf = core::mem::MaybeUninit::<[f32; MAX_MR * 64]>::uninit();
        let bp = buf.as_mut_ptr().cast::<f32>();
        // Above one lane the activation runs over the stored tile, a few vectors at a time
        // (interleaved chains; with 16 registers, in the accumulators' registers they would
        // spill); at one lane (the Cortex-M4 build: code size) one vector at a time before
        // the store.
        let in_loop = if V::LANES == 1 {
            t.act
        } else {
            Activation::Identity
        };
        for (m, a) in acc.iter().enumerate() {
            let mut v = *a;
            if let Some(b) = b {
                v = v.add(b);
            }
            // m·LANES + LANES <= MAX_MR·64: MR <= MAX_MR and LANES <= 64.
            activate::<V>(v, in_loop).store(bp.add(m * lanes));
        }
        if V::LANES > 1 && t.act != Activation::Identity {
            bias_activation_run::<V>(bp, MR * lanes, None, t.act);
        }
        // Initialised: lane k < k_valid <= LANES of each pixel m < MR's stored vector.
        copy_transposed(bp, lanes, MR, t.y, t.y_kstride, t.k_valid);
    }
}

/// Packed weight `f32`s for `desc` with vectors of `lanes`: every group's output channels
/// rounded up to whole vectors, times `Cg·R·S`.
pub(crate) fn packed_weights_len(desc: &Conv2d, lanes: usize) -> Option<usize> {
    let kg = desc
        .out_channels_per_group()
        .checked_next_multiple_of(lanes)?;
    kg.checked_mul(desc.groups())?
        .checked_mul(desc.in_channels_per_group())?
        .checked_mul(desc.kernel_height() * desc.kernel_width())
}

/// Packs OIHW `weights` as `[group][channel block][c][r][s][lane]` (lane = output channel
/// within the block, zero past the group's channels) into `dst` ([`packed_weights_len`]).
pub(crate) fn pack_weights(desc: &Conv2d, lanes: usize, weights: &[f32], dst: &mut [f32]) {
    let (kg, cg) = (desc.out_channels_per_group(), desc.in_channels_per_group());
    let taps = desc.kernel_height() * desc.kernel_width();
    let blocks = kg.div_ceil(lanes);
    let block_len = cg * taps * lanes;
    for grp in 0..desc.groups() {
        for blk in 0..blocks {
            let base = (grp * blocks + blk) * block_len;
            let out = &mut dst[base..base + block_len];
            for l in 0..lanes {
                let kk = blk * lanes + l;
                for ct in 0..cg * taps {
                    out[ct * lanes + l] = if kk < kg {
                        weights[(grp * kg + kk) * cg * taps + ct]
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}
