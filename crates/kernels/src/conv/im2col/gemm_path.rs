//! `Algorithm::Im2colGemm`: implicit im2col into packed panels + the register-tile GEMM with
//! the bias and activation fused into the last store.

use super::pack_b::{pack_b, BBlock};
use super::{depth, reads_input_directly};
use crate::conv::Conv2dPlan;
use crate::gemm::f32_gemm_tile::{tile_dispatch, TileOut};
use crate::gemm::Blocking;
use crate::simd::{dispatch, F32Vector, SimdKernel};
use crate::split::OutputPiece;

/// Runs the units of `piece`. Lengths were checked by the plan (`scratch` at least
/// [`super::gemm_layout`]'s length for the plan's level).
pub(in crate::conv) fn run(
    plan: &Conv2dPlan,
    piece: &mut OutputPiece<'_>,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    scratch: &mut [f32],
) {
    dispatch(
        plan.level(),
        GemmRun {
            plan,
            piece,
            input,
            weights,
            bias,
            scratch,
        },
    );
}

struct GemmRun<'a, 'p> {
    plan: &'a Conv2dPlan,
    piece: &'a mut OutputPiece<'p>,
    input: &'a [f32],
    weights: &'a [f32],
    bias: Option<&'a [f32]>,
    scratch: &'a mut [f32],
}

impl SimdKernel for GemmRun<'_, '_> {
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

/// The blocked loops over one piece: units → groups → pixel blocks (`nc`) → depth blocks
/// (`kc`, pack `B`) → column panels (`nr`) → row tiles (`mr`).
///
/// Every unit is computed the same way whichever piece it is in (blocks start at the unit's
/// first pixel, depth blocks at 0), so results are bit-identical at any thread count.
///
/// # Safety
/// The dispatch contract for `V`; `NV_MAX` is `Blocking::for_level(V::LEVEL).nv`.
#[inline(always)]
unsafe fn body<V: F32Vector, const NV_MAX: usize>(run: GemmRun<'_, '_>) {
    let GemmRun {
        plan,
        piece,
        input,
        weights,
        bias,
        scratch,
    } = run;
    let d = plan.descriptor();
    let bl = Blocking::for_level(V::LEVEL);
    let (nr, mr_max) = (bl.nr(), bl.mr);
    let g = piece.geometry();
    let groups = d.groups();
    let (cg, mg) = (d.in_channels_per_group(), d.out_channels_per_group());
    let hw = d.input_height() * d.input_width();
    let q = d.output_width();
    let kd = depth(d);
    let kc = bl.kc.min(kd);
    let direct = reads_input_directly(d);
    // The plan sized the scratch for its level; a dispatch fallback to another level (which
    // the plan's level check rules out) must not overrun it.
    let Ok((_, need)) = super::gemm_layout(d, V::LEVEL) else {
        return;
    };
    if scratch.len() < need || g.rows_per_unit == 0 {
        return;
    }
    let activation = plan.activation();

    for u in piece.units() {
        let (n_img, rows) = g.unit(u);
        let Some((c_unit, c_stride)) = piece.unit_ptr(u) else {
            continue;
        };
        let pixel0 = rows.start * q;
        let npx = rows.len() * q;
        for grp in 0..groups {
            let w_g = &weights[grp * mg * kd..][..mg * kd];
            let image = &input[(n_img * d.in_channels() + grp * cg) * hw..][..cg * hw];
            let bias_g = bias.map(|b| &b[grp * mg..][..mg]);
            let mut nb = 0;
            while nb < npx {
                let ncb = bl.nc.min(npx - nb);
                let panels = ncb.div_ceil(nr);
                let tail = ncb % nr;
                let mut kb = 0;
                while kb < kd {
                    let kcb = kc.min(kd - kb);
                    if direct {
                        if tail != 0 {
                            // The last, partial panel is copied so no vector reads past the
                            // image; full panels are read in place.
                            let src0 = kb * hw + pixel0 + nb + (panels - 1) * nr;
                            for kk in 0..kcb {
                                scratch[kk * nr..][..tail]
                                    .copy_from_slice(&image[src0 + kk * hw..][..tail]);
                            }
                        }
                    } else {
                        let block = BBlock {
                            k0: kb,
                            kc: kcb,
                            pixel0: pixel0 + nb,
                            nc: ncb,
                            nr,
                        };
                        pack_b(d, image, &block, scratch);
                    }
                    let accumulate = kb > 0;
                    let finish = kb + kcb == kd;
                    // Column panels outside, row tiles inside: the `kc×nr` panel of B stays
                    // in L1 while every row tile of the weights streams past it, read in
                    // place (one broadcast per row and depth step; no packing of A, which
                    // measured 2–3× slower where few pixels share each weight, e.g.
                    // resnet_3x3_512, see docs/gemm.md).
                    for jr in 0..panels {
                        let n = nr.min(ncb - jr * nr);
                        let (b, ldb) = if !direct {
                            (scratch[jr * kcb * nr..].as_ptr(), nr)
                        } else if n < nr {
                            (scratch.as_ptr(), nr)
                        } else {
                            (image[kb * hw + pixel0 + nb + jr * nr..].as_ptr(), hw)
                        };
                        let mut m0 = 0;
                        while m0 < mg {
                            let mr = mr_max.min(mg - m0);
                            let out = TileOut {
                                // SAFETY: channel grp·mg + m0 < K and column nb + jr·nr < npx
                                // lie inside unit u, which `piece` owns.
                                c: unsafe { c_unit.add((grp * mg + m0) * c_stride + nb + jr * nr) },
                                ldc: c_stride,
                                n,
                                accumulate,
                                finish,
                                bias: bias_g.map_or(core::ptr::null(), |b| b[m0..].as_ptr()),
                                activation,
                            };
                            // SAFETY: rows m0..m0+mr of w_g hold kd >= kb + kcb values each;
                            // B rows kb..kb+kcb hold nv·LANES <= nr readable columns (a packed
                            // panel of width nr, or in place: n == nr pixels inside the image
                            // plane); C rows m0..m0+mr (< mg), columns [0, n) are inside unit u
                            // of this piece; bias_g has mg >= m0 + mr entries.
                            unsafe {
                                tile_dispatch::<V, NV_MAX>(
                                    mr,
                                    n.div_ceil(V::LANES),
                                    kcb,
                                    w_g.as_ptr().add(m0 * kd + kb),
                                    kd,
                                    b,
                                    ldb,
                                    &out,
                                );
                            }
                            m0 += mr;
                        }
                    }
                    kb += kcb;
                }
                nb += ncb;
            }
        }
    }
}
