//! `Algorithm::Im2colGemm`: implicit im2col into packed `B` panels, weights packed into `A`
//! row panels (ahead of time by `prepare_weights`, or one panel at a time from the raw
//! weights), the packed micro-kernel of [`crate::gemm`] with the bias and activation fused
//! into the last store.

use super::pack_b::{pack_b, BBlock, PANEL_SKEW};
use super::{depth, padded_rows, prepared_offset};
use crate::conv::Conv2dPlan;
use crate::gemm::f32_gemm_packed::{kernel_narrow, PackedOut, TileBias};
use crate::gemm::pack::{pack_a, Strided};
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
    prepared: bool,
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
            prepared,
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
    prepared: bool,
    bias: Option<&'a [f32]>,
    scratch: &'a mut [f32],
}

impl SimdKernel for GemmRun<'_, '_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // SAFETY: forwarded dispatch contract.
        unsafe {
            let bl = Blocking::for_level(V::LEVEL);
            match (bl.mr, bl.nv) {
                (6, 2) => body::<V, 6, 2>(self),
                (8, 3) => body::<V, 8, 3>(self),
                (4, 2) => body::<V, 4, 2>(self),
                _ => {}
            }
        }
    }
}

/// The blocked loops over one piece: units → groups → pixel blocks (`nc`) → depth blocks
/// (`kc`: pack `B`, and with raw weights pack every `A` row panel of the block) → column
/// panels of `B` (`nr`) → row panels of `A` (`mr`) → micro-kernel.
///
/// Column panels outside, row panels inside (BLIS's order): one packed `kc×nr` panel of `B`
/// (16 KiB on AVX2) stays in L1 while the `A` panels of the block (`mgr×kc`, at most a few
/// hundred KiB) stream from L2 — 24 bytes of `A` per depth step instead of the 64 bytes of
/// `B` the opposite order streams. `B` is always packed, 1×1 convolutions included: read in
/// place, a 16-pixel panel touches one line in each of `kc` channel planes (`H·W` floats
/// apart), which the prefetchers and the TLB handle badly (measured: 39 vs 58 GFLOP/s on
/// `resnet_1x1_256_64`, `docs/gemm.md`).
///
/// Every unit is computed the same way whichever piece it is in (blocks start at the unit's
/// first pixel, depth blocks at 0), and raw or prepared weights give the same packed panels,
/// so results are bit-identical at any thread count and with or without `prepare_weights`.
///
/// # Safety
/// The dispatch contract for `V`; `MR × NV` is `Blocking::for_level(V::LEVEL)`'s tile.
#[inline(always)]
unsafe fn body<V: F32Vector, const MR: usize, const NV: usize>(run: GemmRun<'_, '_>) {
    let GemmRun {
        plan,
        piece,
        input,
        weights,
        prepared,
        bias,
        scratch,
    } = run;
    let d = plan.descriptor();
    let bl = Blocking::for_level(V::LEVEL);
    let nr = NV * V::LANES;
    let g = piece.geometry();
    let groups = d.groups();
    let (cg, mg) = (d.in_channels_per_group(), d.out_channels_per_group());
    let hw = d.input_height() * d.input_width();
    let q = d.output_width();
    let kd = depth(d);
    let kc = bl.kc.min(kd);
    // The plan sized the scratch for its level; a dispatch fallback to another level (which
    // the plan's level check rules out) must not overrun it.
    let (Ok(layout), Ok(mgr)) = (super::gemm_layout(d, V::LEVEL), padded_rows(d, V::LEVEL)) else {
        return;
    };
    if scratch.len() < layout.scratch_len || g.rows_per_unit == 0 || bl.mr != MR || bl.nr() != nr {
        return;
    }
    if prepared && weights.len() < groups * mgr * kd {
        return;
    }
    let (sb, sa) = scratch[..layout.scratch_len].split_at_mut(layout.b_len);
    let activation = plan.activation();

    for u in piece.units() {
        let (n_img, rows) = g.unit(u);
        let Some((c_unit, c_stride)) = piece.unit_ptr(u) else {
            continue;
        };
        let pixel0 = rows.start * q;
        let npx = rows.len() * q;
        let chans = g.unit_channels(u);
        for grp in 0..groups {
            // The unit's output channels in this group, `m_lo..m_hi` (group-relative): all
            // `mg` of them, or one channel block of an ungrouped plan, which starts at a
            // multiple of MR (`UnitGeometry::split_channels_for_two`).
            let m_lo = chans.start.max(grp * mg) - grp * mg;
            let m_hi = chans.end.min((grp + 1) * mg).saturating_sub(grp * mg);
            if m_lo >= m_hi {
                continue;
            }
            let image = &input[(n_img * d.in_channels() + grp * cg) * hw..][..cg * hw];
            let bias_g = bias.map(|b| &b[grp * mg..][..mg]);
            let mut nb = 0;
            while nb < npx {
                let ncb = bl.nc.min(npx - nb);
                let panels = ncb.div_ceil(nr);
                let mut kb = 0;
                while kb < kd {
                    let kcb = kc.min(kd - kb);
                    let block = BBlock {
                        k0: kb,
                        kc: kcb,
                        pixel0: pixel0 + nb,
                        nc: ncb,
                        nr,
                    };
                    pack_b(d, image, &block, sb);
                    // Row panel `(m0 - a_first) / MR` of `a_block` holds rows m0.. of the group.
                    let (a_block, a_first): (&[f32], usize) = if prepared {
                        (
                            &weights[prepared_offset(mgr, kd, grp, kb)..][..mgr * kcb],
                            0,
                        )
                    } else {
                        // Only the unit's rows (m_hi - m_lo <= mg rows fit the mgr·kc panels).
                        pack_a(
                            Strided {
                                data: &weights[(grp * mg + m_lo) * kd + kb..],
                                rs: kd,
                                cs: 1,
                                rows: m_hi - m_lo,
                                cols: kcb,
                            },
                            MR,
                            sa,
                        );
                        (&sa[..mgr * kcb], m_lo)
                    };
                    let accumulate = kb > 0;
                    let finish = kb + kcb == kd;
                    for jr in 0..panels {
                        let cols = nr.min(ncb - jr * nr);
                        let b_panel = &sb[jr * (kcb * nr + PANEL_SKEW)..][..kcb * nr];
                        let mut m0 = m_lo;
                        while m0 < m_hi {
                            let a_panel = &a_block[((m0 - a_first) / MR) * kcb * MR..][..kcb * MR];
                            let out = PackedOut {
                                // SAFETY: channel grp·mg + m0 < K and column nb + jr·nr < npx
                                // lie inside unit u, which `piece` owns.
                                c: unsafe { c_unit.add((grp * mg + m0) * c_stride + nb + jr * nr) },
                                ldc: c_stride,
                                rows: MR.min(m_hi - m0),
                                cols,
                                accumulate,
                                finish,
                                bias: match bias_g {
                                    Some(b) => TileBias::Rows(b[m0..].as_ptr()),
                                    None => TileBias::None,
                                },
                                activation,
                            };
                            // SAFETY: the A panel holds kcb·MR values and the packed B panel
                            // kcb·nr (row stride nr); C rows m0..m0+rows (<= m_hi, channels of
                            // unit u), columns [0, cols) are inside unit u of this piece;
                            // bias_g has mg >= m0 + rows entries.
                            unsafe {
                                kernel_narrow::<V, MR, NV>(
                                    kcb,
                                    a_panel.as_ptr(),
                                    b_panel.as_ptr(),
                                    nr,
                                    &out,
                                );
                            }
                            m0 += MR;
                        }
                    }
                    kb += kcb;
                }
                nb += ncb;
            }
        }
    }
}
