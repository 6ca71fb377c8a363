//! Convolution backward-data as a GEMM followed by col2im, per image and group:
//!
//! ```text
//! cols[D × pixels] = Wᵀ[D × Kg] · dY[Kg × pixels]          (the forward GEMM's register tile)
//! dX[c][y][x]     += cols[(c,r,s)][(p,q)]  where (y, x) is tap (r, s) of output (p, q)
//! ```
//!
//! `D = (C/groups)·R·S`. It does exactly the forward's multiply-adds (a full correlation with
//! the flipped kernel would also multiply the zeros of its `R−1` padding: about 2× more work
//! on LeNet's conv2) plus one add per patch element. `Wᵀ` is packed once per call; `dY` is
//! read in place (full `nr`-pixel panels) or through a copied tail panel; the `D × nc` block
//! of `cols` stays in L2 and is scattered by [`col2im`] right after it is computed.

use super::conv::Conv2dBackwardPlan;
use super::f32_conv_backward_weights_gemm::{depth, pixel_block};
use crate::gemm::f32_gemm_tile::{tile_dispatch, TileOut};
use crate::gemm::Blocking;
use crate::simd::{dispatch, F32Vector, SimdKernel};
use crate::{Activation, Conv2d};

/// Scratch elements: `Wᵀ` (the weight count), one `cols` block `D × nc`, one tail panel of
/// `dY` (`Kg × nr`). `None` on overflow.
pub(super) fn scratch_len(desc: &Conv2d, nr: usize) -> Option<usize> {
    desc.weights_len()
        .checked_add(depth(desc).checked_mul(pixel_block(desc))?)?
        .checked_add(desc.out_channels_per_group().checked_mul(nr)?)
}

/// Runs the pass (lengths checked by the plan).
pub(super) fn run(
    plan: &Conv2dBackwardPlan,
    grad_output: &[f32],
    weights: &[f32],
    grad_input: &mut [f32],
    scratch: &mut [f32],
) {
    dispatch(
        plan.level(),
        DataRun {
            desc: plan.descriptor(),
            grad_output,
            weights,
            grad_input,
            scratch,
        },
    );
}

struct DataRun<'a> {
    desc: &'a Conv2d,
    grad_output: &'a [f32],
    weights: &'a [f32],
    grad_input: &'a mut [f32],
    scratch: &'a mut [f32],
}

impl SimdKernel for DataRun<'_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // SAFETY: forwarded dispatch contract.
        unsafe {
            match Blocking::for_level(V::LEVEL).nv {
                3 => body::<V, 3>(self),
                2 => body::<V, 2>(self),
                _ => body::<V, 1>(self),
            }
        }
    }
}

/// Images → groups → pixel blocks → column panels (`nr` pixels) → row tiles (`mr` patch rows)
/// into `cols`, then col2im of the block.
///
/// # Safety
/// The dispatch contract for `V`; `NV_MAX` is `Blocking::for_level(V::LEVEL).nv`.
#[inline(always)]
unsafe fn body<V: F32Vector, const NV_MAX: usize>(run: DataRun<'_>) {
    let DataRun {
        desc: d,
        grad_output,
        weights,
        grad_input,
        scratch,
    } = run;
    let bl = Blocking::for_level(V::LEVEL);
    let (nr, mr_max) = (bl.nr(), bl.mr);
    let (cg, kg, groups) = (
        d.in_channels_per_group(),
        d.out_channels_per_group(),
        d.groups(),
    );
    let hw = d.input_height() * d.input_width();
    let pq = d.output_height() * d.output_width();
    let dd = depth(d);
    let nc = pixel_block(d);
    if scratch_len(d, nr).is_none_or(|need| scratch.len() < need) {
        return;
    }
    let (wt, rest) = scratch.split_at_mut(d.weights_len());
    let (cols, rest) = rest.split_at_mut(dd * nc);
    let tail = &mut rest[..kg * nr];

    transpose_weights(d, weights, wt);
    grad_input.fill(0.0);

    for n in 0..d.batch() {
        for g in 0..groups {
            let dy = &grad_output[(n * d.out_channels() + g * kg) * pq..][..kg * pq];
            let wt_g = &wt[g * dd * kg..][..dd * kg];
            let dx = &mut grad_input[(n * d.in_channels() + g * cg) * hw..][..cg * hw];
            let mut pix0 = 0;
            while pix0 < pq {
                let ncb = nc.min(pq - pix0);
                let mut jr = 0;
                while jr < ncb {
                    let width = nr.min(ncb - jr);
                    let (b, ldb) = if width == nr {
                        (dy[pix0 + jr..].as_ptr(), pq)
                    } else {
                        // A partial panel is copied so no vector reads past the plane.
                        for k in 0..kg {
                            tail[k * nr..][..width]
                                .copy_from_slice(&dy[k * pq + pix0 + jr..][..width]);
                        }
                        (tail.as_ptr(), nr)
                    };
                    let mut m0 = 0;
                    while m0 < dd {
                        let mr = mr_max.min(dd - m0);
                        let out = TileOut {
                            c: cols[m0 * ncb + jr..].as_mut_ptr(),
                            ldc: ncb,
                            n: width,
                            accumulate: false,
                            finish: false,
                            bias: core::ptr::null(),
                            activation: Activation::Identity,
                        };
                        // SAFETY: rows m0..m0+mr (< D) of Wᵀ_g hold Kg values each (lda = Kg);
                        // B rows k < Kg hold ⌈width/LANES⌉·LANES <= nr readable values (a full
                        // panel of nr pixels inside dY's plane k, or the copied tail panel);
                        // cols rows m0..m0+mr, columns jr..jr+width (<= ncb) lie in the block.
                        unsafe {
                            tile_dispatch::<V, NV_MAX>(
                                mr,
                                width.div_ceil(V::LANES),
                                kg,
                                wt_g[m0 * kg..].as_ptr(),
                                kg,
                                b,
                                ldb,
                                &out,
                            );
                        }
                        m0 += mr;
                    }
                    jr += width;
                }
                col2im(d, &cols[..dd * ncb], pix0, ncb, dx);
                pix0 += ncb;
            }
        }
    }
}

/// Adds the `D × ncb` block of `cols` (pixels `pix0..pix0+ncb` of the output plane) into the
/// group's `C/groups` input-gradient planes `dx`: the exact inverse walk of the forward's
/// implicit im2col (`pack_b`), row segment by row segment, padding taps dropped. The stride-1
/// inner loop is a contiguous add the compiler vectorises at the dispatch level.
#[inline(always)]
fn col2im(d: &Conv2d, cols: &[f32], pix0: usize, ncb: usize, dx: &mut [f32]) {
    let (h, w) = (d.input_height(), d.input_width());
    let (kh, kw) = (d.kernel_height(), d.kernel_width());
    let (sh, sw) = (d.stride_height(), d.stride_width());
    let (dh, dw) = (d.dilation_height(), d.dilation_width());
    let pad = d.padding();
    let q = d.output_width();
    let mut j = 0;
    for c in 0..d.in_channels_per_group() {
        let plane = &mut dx[c * h * w..][..h * w];
        for r in 0..kh {
            for s in 0..kw {
                let row_j = &cols[j * ncb..][..ncb];
                j += 1;
                let (mut i, mut p, mut qq) = (0, pix0 / q, pix0 % q);
                while i < ncb {
                    let seg = (q - qq).min(ncb - i);
                    let src = &row_j[i..i + seg];
                    i += seg;
                    let (pp, q0) = (p, qq);
                    p += 1;
                    qq = 0;
                    let Some(y) = (pp * sh + r * dh).checked_sub(pad.top).filter(|&y| y < h) else {
                        continue;
                    };
                    // Output column q0 + t reads input column q0·sw + s·dw − left + t·sw.
                    let off = (q0 * sw + s * dw) as isize - pad.left as isize;
                    let lo = if off >= 0 {
                        0
                    } else {
                        off.unsigned_abs().div_ceil(sw)
                    };
                    let hi = if off >= w as isize {
                        0
                    } else {
                        (w as isize - off) as usize
                    }
                    .div_ceil(sw)
                    .min(seg);
                    if lo >= hi {
                        continue;
                    }
                    let start = (off + (lo * sw) as isize) as usize;
                    let row = &mut plane[y * w..][..w];
                    if sw == 1 {
                        for (x, &v) in row[start..start + (hi - lo)].iter_mut().zip(&src[lo..hi]) {
                            *x += v;
                        }
                    } else {
                        for (t, &v) in src[lo..hi].iter().enumerate() {
                            row[start + t * sw] += v;
                        }
                    }
                }
            }
        }
    }
}

/// `Wᵀ_g[j][k] = W[g·Kg + k][j]`: per group the `D × Kg` transpose of the OIHW weights, the
/// A operand of both backward-data passes.
fn transpose_weights(d: &Conv2d, weights: &[f32], wt: &mut [f32]) {
    let (kg, dd) = (d.out_channels_per_group(), depth(d));
    for g in 0..d.groups() {
        let src = &weights[g * kg * dd..][..kg * dd];
        let dst = &mut wt[g * dd * kg..][..dd * kg];
        for k in 0..kg {
            for j in 0..dd {
                dst[j * kg + k] = src[k * dd + j];
            }
        }
    }
}
