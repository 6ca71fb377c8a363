//! Convolution backward-data for a horizontal stride of 1, accumulated straight into the
//! input-gradient rows (no `cols` buffer, no col2im), per image, group, input channel `c`,
//! kernel row `r` and output row `p`:
//!
//! ```text
//! dX[c][p·sh + r·dh − top][q + s·dw − left] += Σ_k Wᵀ[(c, r, s)][k] · dY[k][p][q]
//! ```
//!
//! One call of the forward GEMM's register tile (`gemm/f32_gemm_tile.rs`) per `(c, p, s)` and
//! block of `nr` output columns: its `mr` rows are the kernel rows `r` whose input row lies in
//! the image (each adds into a different input-gradient row, `ldc = dh` rows), its depth is
//! the `Kg` output channels, its vectors are output columns `q`. Kernel rows that land in the
//! top or bottom padding are left out of the tile; left and right padding land in the zero
//! borders of a padded copy of the plane's gradient rows, whose middle is copied out at the
//! end.
//!
//! The tile rows are kernel rows rather than kernel columns on purpose: tiles of kernel
//! columns add into one gradient row at offsets `dw` apart, so each row's load would partly
//! overlap the previous row's store, which the CPU cannot forward (a store-forwarding stall
//! per row; it made that form twice as slow on LeNet's conv2). The next kernel column's tile
//! overlaps this one's stores only after a whole depth loop.
//!
//! Against GEMM + col2im (`f32_conv_backward_data_gemm`, used for other strides) this drops
//! the `D × pixels` buffer and its scatter, one add per patch element, which took three
//! quarters of that pass's time on LeNet's conv2. The multiply-adds are the same.

use super::conv::Conv2dBackwardPlan;
use super::f32_conv_backward_data_gemm::transpose_weights;
use super::f32_conv_backward_weights_gemm::{balanced_rows, depth};
use crate::gemm::f32_gemm_tile::{tile_dispatch, TileOut};
use crate::gemm::Blocking;
use crate::simd::{dispatch, F32Vector, SimdKernel};
use crate::{Activation, Conv2d};

/// Whether this pass runs `desc` (a horizontal stride of 1; anything else uses GEMM + col2im).
pub(super) fn supports(desc: &Conv2d) -> bool {
    desc.stride_width() == 1
}

/// Width of a zero-bordered gradient row, `left + W + right`.
fn padded_width(desc: &Conv2d) -> usize {
    let pad = desc.padding();
    pad.left + desc.input_width() + pad.right
}

/// Scratch elements: `Wᵀ` (the weight count), one tail panel of `dY` (`Kg × nr`) and, with
/// left or right padding, one zero-bordered gradient plane (`H × (left + W + right)`). `None`
/// on overflow.
pub(super) fn scratch_len(desc: &Conv2d, nr: usize) -> Option<usize> {
    let pad = desc.padding();
    let padded = if pad.left + pad.right > 0 {
        desc.input_height().checked_mul(padded_width(desc))?
    } else {
        0
    };
    desc.weights_len()
        .checked_add(desc.out_channels_per_group().checked_mul(nr)?)?
        .checked_add(padded)
}

/// Runs the pass (lengths checked by the plan, `supports(desc)`, `scratch` at least
/// [`scratch_len`] for the plan's level).
pub(super) fn run(
    plan: &Conv2dBackwardPlan,
    grad_output: &[f32],
    weights: &[f32],
    grad_input: &mut [f32],
    scratch: &mut [f32],
) {
    dispatch(
        plan.level(),
        RowsRun {
            desc: plan.descriptor(),
            grad_output,
            weights,
            grad_input,
            scratch,
        },
    );
}

struct RowsRun<'a> {
    desc: &'a Conv2d,
    grad_output: &'a [f32],
    weights: &'a [f32],
    grad_input: &'a mut [f32],
    scratch: &'a mut [f32],
}

impl SimdKernel for RowsRun<'_> {
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

/// Images → groups → input channels → output rows → blocks of `nr` output columns → kernel
/// columns → tiles of kernel rows, accumulating into the channel's gradient rows.
///
/// # Safety
/// The dispatch contract for `V`; `NV_MAX` is `Blocking::for_level(V::LEVEL).nv`.
#[inline(always)]
unsafe fn body<V: F32Vector, const NV_MAX: usize>(run: RowsRun<'_>) {
    let RowsRun {
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
    let (h, w) = (d.input_height(), d.input_width());
    let (p_all, q) = (d.output_height(), d.output_width());
    let (kh, kw) = (d.kernel_height(), d.kernel_width());
    let (sh, dh, dw) = (d.stride_height(), d.dilation_height(), d.dilation_width());
    let pad = d.padding();
    let (hw, pq) = (h * w, p_all * q);
    let dd = depth(d);
    let wp = padded_width(d);
    let padded = pad.left + pad.right > 0;
    // The plan sized the scratch for its level; never overrun it if dispatch fell back.
    if !supports(d) || scratch_len(d, nr).is_none_or(|need| scratch.len() < need) {
        return;
    }
    let (wt, rest) = scratch.split_at_mut(d.weights_len());
    let (tail, rest) = rest.split_at_mut(kg * nr);
    let plane_buf = &mut rest[..if padded { h * wp } else { 0 }];

    transpose_weights(d, weights, wt);
    if !padded {
        grad_input.fill(0.0);
    }

    for n in 0..d.batch() {
        for g in 0..groups {
            let dy = &grad_output[(n * d.out_channels() + g * kg) * pq..][..kg * pq];
            let wt_g = &wt[g * dd * kg..][..dd * kg];
            for c in 0..cg {
                let dx = &mut grad_input[(n * d.in_channels() + g * cg + c) * hw..][..hw];
                // The rows the tiles add into: the padded plane, or the gradient plane itself.
                let (base, row_len) = if padded {
                    plane_buf.fill(0.0);
                    (plane_buf.as_mut_ptr(), wp)
                } else {
                    (dx.as_mut_ptr(), w)
                };
                let a_c = &wt_g[c * kh * kw * kg..][..kh * kw * kg];
                for p in 0..p_all {
                    // Kernel rows r whose input row y = p·sh + r·dh − top lies inside the
                    // image: r_lo..r_hi.
                    let first = (p * sh) as isize - pad.top as isize;
                    let r_lo = if first >= 0 {
                        0
                    } else {
                        first.unsigned_abs().div_ceil(dh)
                    };
                    let r_hi = (h as isize - first)
                        .max(0)
                        .unsigned_abs()
                        .div_ceil(dh)
                        .min(kh);
                    if r_lo >= r_hi {
                        continue;
                    }
                    let mut q0 = 0;
                    while q0 < q {
                        let width = nr.min(q - q0);
                        let nv = width.div_ceil(V::LANES);
                        // dY rows p of every channel, columns q0..: read in place when the
                        // tile's whole vectors stay inside the group's planes (values past
                        // the row end land in lanes that are never stored), else copied.
                        let (b, ldb) = if (kg - 1) * pq + p * q + q0 + nv * V::LANES <= kg * pq {
                            (dy[p * q + q0..].as_ptr(), pq)
                        } else {
                            for k in 0..kg {
                                tail[k * nr..][..width]
                                    .copy_from_slice(&dy[k * pq + p * q + q0..][..width]);
                            }
                            (tail.as_ptr(), nr)
                        };
                        for s in 0..kw {
                            let mut r0 = r_lo;
                            while r0 < r_hi {
                                let mr = balanced_rows(r_hi - r0, mr_max);
                                let y = (first + (r0 * dh) as isize) as usize;
                                let out = TileOut {
                                    // SAFETY: row y < H of row_len values, column q0 + s·dw
                                    // < row_len (see below).
                                    c: unsafe { base.add(y * row_len + q0 + s * dw) },
                                    ldc: dh * row_len,
                                    n: width,
                                    accumulate: true,
                                    finish: false,
                                    bias: core::ptr::null(),
                                    activation: Activation::Identity,
                                };
                                // SAFETY: tile row i writes columns q0 + s·dw + [0, width) of
                                // gradient row y + i·dh (< H: r0 + i < r_hi), counted from the
                                // padded row's start: with a horizontal stride of 1, (S−1)·dw
                                // + Q = left + W + right, so they lie inside the row (row_len
                                // values, in the padded plane or in dx). A rows (c·R + r0 +
                                // i)·S + s of Wᵀ_g hold Kg values (lda = S·Kg); B rows k < Kg
                                // hold nv·LANES readable values (inside the group's dY
                                // planes, checked above, or the copied tail panel of Kg rows
                                // of nr).
                                unsafe {
                                    tile_dispatch::<V, NV_MAX>(
                                        mr,
                                        nv,
                                        kg,
                                        a_c[(r0 * kw + s) * kg..].as_ptr(),
                                        kw * kg,
                                        b,
                                        ldb,
                                        &out,
                                    );
                                }
                                r0 += mr;
                            }
                        }
                        q0 += width;
                    }
                }
                if padded {
                    for (dst, src) in dx.chunks_exact_mut(w).zip(plane_buf.chunks_exact(wp)) {
                        dst.copy_from_slice(&src[pad.left..pad.left + w]);
                    }
                }
            }
        }
    }
}
