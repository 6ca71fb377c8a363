//! Convolution backward-weights as a GEMM over im2col patches, per group:
//!
//! ```text
//! dWᵀ[D × Kg] += patches[D × pixels] · dYᵀ[pixels × Kg]     summed over images and pixel blocks
//! db[k]        = Σ dY[n][k][·]                               (row sums of dY)
//! ```
//!
//! with `D = (C/groups)·R·S` the patch depth and `Kg = K/groups`. The transposed orientation
//! puts the output channels in the vector lanes (LeNet's conv2: `Kg = 16` = two AVX2 vectors,
//! exactly one register tile wide) and the patch rows in the broadcast rows; the patches are
//! packed by the forward path's implicit im2col (`conv/im2col/pack_b.rs`, one panel as wide as
//! the pixel block, so the block is plain row-major `D × nc`), `dYᵀ` is packed in panels of
//! `nr` channels, and the register tile is the forward GEMM's (`gemm/f32_gemm_tile.rs`),
//! accumulating into `dWᵀ` in scratch. One transpose at the end writes `dW` (OIHW).

use super::conv::Conv2dBackwardPlan;
use crate::conv::im2col::pack_b::{pack_b, BBlock};
use crate::gemm::f32_gemm_tile::{tile_dispatch, TileOut};
use crate::gemm::Blocking;
use crate::simd::{dispatch, F32Vector, SimdKernel};
use crate::{Activation, Conv2d};

/// Target size of the packed patch block in elements (64 KiB: L2-resident, streamed once per
/// column panel while the `nc × nr` panel of `dYᵀ` stays in L1).
const PATCH_BLOCK: usize = 16 * 1024;

/// Pixels per block: about [`PATCH_BLOCK`] / `D`, at least 64 (so the tile's depth loop is not
/// dominated by its accumulator loads and stores), at most the image.
pub(super) fn pixel_block(desc: &Conv2d) -> usize {
    let pixels = desc.output_height() * desc.output_width();
    (PATCH_BLOCK / depth(desc)).max(64).min(pixels)
}

/// `D = (C/groups)·R·S`.
pub(super) fn depth(desc: &Conv2d) -> usize {
    desc.in_channels_per_group() * desc.kernel_height() * desc.kernel_width()
}

/// Scratch elements: `dWᵀ` (the weight count), one patch block `D × nc`, and the `dYᵀ` panels
/// of one block (`nc × ⌈Kg/nr⌉·nr`). `None` on overflow.
pub(super) fn scratch_len(desc: &Conv2d, nr: usize) -> Option<usize> {
    let nc = pixel_block(desc);
    let panels = desc.out_channels_per_group().div_ceil(nr);
    desc.weights_len()
        .checked_add(depth(desc).checked_mul(nc)?)?
        .checked_add(nc.checked_mul(panels)?.checked_mul(nr)?)
}

/// Runs the pass (lengths checked by the plan, `scratch` at least [`scratch_len`] for the
/// plan's level).
pub(super) fn run(
    plan: &Conv2dBackwardPlan,
    input: &[f32],
    grad_output: &[f32],
    grad_weights: &mut [f32],
    grad_bias: Option<&mut [f32]>,
    scratch: &mut [f32],
) {
    dispatch(
        plan.level(),
        WeightsRun {
            desc: plan.descriptor(),
            input,
            grad_output,
            grad_weights,
            grad_bias,
            scratch,
        },
    );
}

struct WeightsRun<'a> {
    desc: &'a Conv2d,
    input: &'a [f32],
    grad_output: &'a [f32],
    grad_weights: &'a mut [f32],
    grad_bias: Option<&'a mut [f32]>,
    scratch: &'a mut [f32],
}

impl SimdKernel for WeightsRun<'_> {
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

/// Images → groups → pixel blocks (pack patches, pack `dYᵀ`) → column panels (`nr` output
/// channels) → row tiles (`mr` patch rows), accumulating into `dWᵀ`.
///
/// # Safety
/// The dispatch contract for `V`; `NV_MAX` is `Blocking::for_level(V::LEVEL).nv`.
#[inline(always)]
unsafe fn body<V: F32Vector, const NV_MAX: usize>(run: WeightsRun<'_>) {
    let WeightsRun {
        desc: d,
        input,
        grad_output,
        grad_weights,
        grad_bias,
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
    let panels = kg.div_ceil(nr);
    // The plan sized the scratch for its level; never overrun it if dispatch fell back.
    if scratch_len(d, nr).is_none_or(|need| scratch.len() < need) {
        return;
    }
    let (dwt, rest) = scratch.split_at_mut(d.weights_len());
    let (patches, rest) = rest.split_at_mut(dd * nc);
    let dyt = &mut rest[..nc * panels * nr];

    if let Some(db) = grad_bias {
        db.fill(0.0);
        for (i, plane) in grad_output.chunks_exact(pq).enumerate() {
            // SAFETY: the dispatch contract holds.
            db[i % d.out_channels()] += unsafe { sum::<V>(plane) };
        }
    }

    for n in 0..d.batch() {
        for g in 0..groups {
            let image = &input[(n * d.in_channels() + g * cg) * hw..][..cg * hw];
            let dy = &grad_output[(n * d.out_channels() + g * kg) * pq..][..kg * pq];
            let dwt_g = &mut dwt[g * dd * kg..][..dd * kg];
            let mut pix0 = 0;
            while pix0 < pq {
                let ncb = nc.min(pq - pix0);
                let block = BBlock {
                    k0: 0,
                    kc: dd,
                    pixel0: pix0,
                    nc: ncb,
                    nr: ncb,
                };
                // Row-major D × ncb (one panel as wide as the block).
                pack_b(d, image, &block, patches);
                // dYᵀ panels: panel jp holds channels jp·nr.. as ncb rows of nr.
                for jp in 0..panels {
                    let k0 = jp * nr;
                    let width = nr.min(kg - k0);
                    let panel = &mut dyt[jp * ncb * nr..][..ncb * nr];
                    for kk in 0..width {
                        let src = &dy[(k0 + kk) * pq + pix0..][..ncb];
                        for (i, &v) in src.iter().enumerate() {
                            panel[i * nr + kk] = v;
                        }
                    }
                }
                let accumulate = n > 0 || pix0 > 0;
                for jp in 0..panels {
                    let width = nr.min(kg - jp * nr);
                    let b = dyt[jp * ncb * nr..].as_ptr();
                    // Row tiles of balanced height.
                    let mut m0 = 0;
                    while m0 < dd {
                        let mr = balanced_rows(dd - m0, mr_max);
                        let out = TileOut {
                            c: dwt_g[m0 * kg + jp * nr..].as_mut_ptr(),
                            ldc: kg,
                            n: width,
                            accumulate,
                            finish: false,
                            bias: core::ptr::null(),
                            activation: Activation::Identity,
                        };
                        // SAFETY: patch rows m0..m0+mr (< D) of the D × ncb block hold ncb
                        // values each (lda = ncb); the dYᵀ panel has ncb rows of nr >=
                        // ⌈width/LANES⌉·LANES readable values; dWᵀ rows m0..m0+mr, columns
                        // jp·nr..jp·nr+width (<= Kg) lie inside dwt_g (ldc = Kg).
                        unsafe {
                            tile_dispatch::<V, NV_MAX>(
                                mr,
                                width.div_ceil(V::LANES),
                                ncb,
                                patches[m0 * ncb..].as_ptr(),
                                ncb,
                                b,
                                nr,
                                &out,
                            );
                        }
                        m0 += mr;
                    }
                }
                pix0 += ncb;
            }
        }
    }
    transpose_to_oihw(d, dwt, grad_weights);
}

/// The height of the next row tile when `left` rows remain and tiles hold at most `mr_max`:
/// tiles of balanced height (LeNet conv1, D = 25 at AVX2: 5×5 rows, not 4×6 + 1: a 1-row tile
/// is FMA-latency bound, one accumulator chain).
pub(super) fn balanced_rows(left: usize, mr_max: usize) -> usize {
    left.div_ceil(left.div_ceil(mr_max))
}

/// `dW[g·Kg + k][j] = dWᵀ_g[j][k]`: the per-group `D × Kg` accumulators in OIHW order.
pub(super) fn transpose_to_oihw(d: &Conv2d, dwt: &[f32], grad_weights: &mut [f32]) {
    let (kg, dd) = (d.out_channels_per_group(), depth(d));
    for g in 0..d.groups() {
        let src = &dwt[g * dd * kg..][..dd * kg];
        let dst = &mut grad_weights[g * kg * dd..][..kg * dd];
        for k in 0..kg {
            for j in 0..dd {
                dst[k * dd + j] = src[j * kg + k];
            }
        }
    }
}

/// Σ of a slice, one vector accumulator (lane sums, then across lanes).
///
/// # Safety
/// The [`F32Vector`] contract.
#[inline(always)]
pub(super) unsafe fn sum<V: F32Vector>(x: &[f32]) -> f32 {
    let n = x.len();
    let full = n - n % V::LANES;
    let p = x.as_ptr();
    // SAFETY: full vectors below `full <= n`, one partial vector of `n − full` after it.
    unsafe {
        let mut acc = V::zero();
        let mut i = 0;
        while i < full {
            acc = acc.add(V::load(p.add(i)));
            i += V::LANES;
        }
        if full < n {
            acc = acc.add(V::load_partial(p.add(full), n - full));
        }
        acc.reduce_sum()
    }
}
