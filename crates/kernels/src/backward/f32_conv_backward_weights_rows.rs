//! Convolution backward-weights for a horizontal stride of 1, straight from the input rows
//! (no im2col), per image, group, input channel `c`, kernel row `r` and output row `p`:
//!
//! ```text
//! dWᵀ[(c, r, s)][k] += Σ_q X[c][p·sh + r·dh − top][q + s·dw − left] · dYᵀ[p·Q + q][k]
//! ```
//!
//! One call of the forward GEMM's register tile (`gemm/f32_gemm_tile.rs`) per `(c, r, p)`:
//! its `mr` rows are consecutive kernel columns `s`, which read the *same* input row shifted
//! by `dw` (so the A operand is the row itself with `lda = dw`), its depth is the `Q` output
//! columns, and its `nv` vectors are output channels (`dYᵀ`, packed once per block of output
//! rows, channels in the lanes as in `f32_conv_backward_weights_gemm`). Kernel rows that land
//! in the top or bottom padding are skipped; left and right padding come from a zero-bordered
//! copy of the block's input rows.
//!
//! Against the im2col GEMM this drops the patch packing, which writes `R·S` values per output
//! pixel and input channel (LeNet's conv2: 150 per pixel, 12.7× the image) and took half of
//! that pass's time. The price is a tile call per output row (its accumulators are loaded and
//! stored once per `Q` depth steps). Design notes and figures: `docs/training.md`.

use super::conv::Conv2dBackwardPlan;
use super::f32_conv_backward_weights_gemm::{balanced_rows, sum, transpose_to_oihw};
use crate::gemm::f32_gemm_tile::{tile_dispatch, TileOut};
use crate::gemm::Blocking;
use crate::simd::{dispatch, F32Vector, SimdKernel};
use crate::{Activation, Conv2d};

/// Target size of one block's packed `dYᵀ` in elements (64 KiB: L2-resident while the tiles
/// stream over it).
const DYT_BLOCK: usize = 16 * 1024;

/// Whether this pass runs `desc` (a horizontal stride of 1; anything else uses the im2col GEMM).
pub(super) fn supports(desc: &Conv2d) -> bool {
    desc.stride_width() == 1
}

/// Values per pixel row of a `dYᵀ` panel: `nr`, or fewer when all `Kg` channels fit in fewer
/// vectors (LeNet's conv2 at AVX-512: 16 channels, one vector, not a 48-wide panel).
fn panel_stride(desc: &Conv2d, bl: Blocking) -> usize {
    bl.nr()
        .min(desc.out_channels_per_group().next_multiple_of(bl.lanes))
}

/// `dYᵀ` elements per output row: `Q × ⌈Kg/nr⌉ × panel stride`.
fn dyt_row_len(desc: &Conv2d, bl: Blocking) -> Option<usize> {
    desc.output_width()
        .checked_mul(desc.out_channels_per_group().div_ceil(bl.nr()))?
        .checked_mul(panel_stride(desc, bl))
}

/// Output rows per block: about [`DYT_BLOCK`] elements of `dYᵀ`, at least one row, at most the
/// image.
fn row_block(desc: &Conv2d, bl: Blocking) -> usize {
    let per_row = dyt_row_len(desc, bl).unwrap_or(usize::MAX);
    (DYT_BLOCK / per_row.max(1)).clamp(1, desc.output_height())
}

/// Input rows a block of `rows` output rows reads (kernel rows included).
fn input_rows(desc: &Conv2d, rows: usize) -> Option<usize> {
    let span = (rows - 1)
        .checked_mul(desc.stride_height())?
        .checked_add((desc.kernel_height() - 1).checked_mul(desc.dilation_height())?)?
        .checked_add(1)?;
    Some(span.min(desc.input_height()))
}

/// Width of a zero-bordered input row, `left + W + right`.
fn padded_width(desc: &Conv2d) -> usize {
    let pad = desc.padding();
    pad.left + desc.input_width() + pad.right
}

/// Scratch elements: `dWᵀ` (the weight count), one block of `dYᵀ` panels
/// (`rows·Q × ⌈Kg/nr⌉ × panel stride`) and, with left or right padding, the block's
/// zero-bordered input rows. `None` on overflow.
pub(super) fn scratch_len(desc: &Conv2d, bl: Blocking) -> Option<usize> {
    let rows = row_block(desc, bl);
    let dyt = rows.checked_mul(dyt_row_len(desc, bl)?)?;
    let pad = desc.padding();
    let padded = if pad.left + pad.right > 0 {
        input_rows(desc, rows)?.checked_mul(padded_width(desc))?
    } else {
        0
    };
    desc.weights_len().checked_add(dyt)?.checked_add(padded)
}

/// Runs the pass (lengths checked by the plan, `supports(desc)`, `scratch` at least
/// [`scratch_len`] for the plan's level).
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
        RowsRun {
            desc: plan.descriptor(),
            input,
            grad_output,
            grad_weights,
            grad_bias,
            scratch,
        },
    );
}

struct RowsRun<'a> {
    desc: &'a Conv2d,
    input: &'a [f32],
    grad_output: &'a [f32],
    grad_weights: &'a mut [f32],
    grad_bias: Option<&'a mut [f32]>,
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

/// Images → groups → blocks of output rows (pack `dYᵀ`) → input channels (pad the block's
/// rows) → kernel rows → output rows → channel panels → tiles of kernel columns, accumulating
/// into `dWᵀ`.
///
/// # Safety
/// The dispatch contract for `V`; `NV_MAX` is `Blocking::for_level(V::LEVEL).nv`.
#[inline(always)]
unsafe fn body<V: F32Vector, const NV_MAX: usize>(run: RowsRun<'_>) {
    let RowsRun {
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
    let (h, w) = (d.input_height(), d.input_width());
    let (p_all, q) = (d.output_height(), d.output_width());
    let (kh, kw) = (d.kernel_height(), d.kernel_width());
    let (sh, dh, dw) = (d.stride_height(), d.dilation_height(), d.dilation_width());
    let pad = d.padding();
    let (hw, pq) = (h * w, p_all * q);
    let dd = cg * kh * kw;
    let panels = kg.div_ceil(nr);
    let ps = panel_stride(d, bl);
    let rows_blk = row_block(d, bl);
    let wp = padded_width(d);
    let padded = pad.left + pad.right > 0;
    // The plan sized the scratch for its level; never overrun it if dispatch fell back.
    let (Some(need), Some(in_rows)) = (scratch_len(d, bl), input_rows(d, rows_blk)) else {
        return;
    };
    if !supports(d) || scratch.len() < need {
        return;
    }
    let (dwt, rest) = scratch.split_at_mut(d.weights_len());
    let (dyt, rest) = rest.split_at_mut(rows_blk * q * panels * ps);
    let rows_buf = &mut rest[..if padded { in_rows * wp } else { 0 }];

    if let Some(db) = grad_bias {
        db.fill(0.0);
        for (i, plane) in grad_output.chunks_exact(pq).enumerate() {
            // SAFETY: the dispatch contract holds.
            db[i % d.out_channels()] += unsafe { sum::<V>(plane) };
        }
    }
    dwt.fill(0.0);
    // The borders of the padded rows stay zero: only their middle is ever rewritten.
    rows_buf.fill(0.0);

    for n in 0..d.batch() {
        for g in 0..groups {
            let dy = &grad_output[(n * d.out_channels() + g * kg) * pq..][..kg * pq];
            let dwt_g = &mut dwt[g * dd * kg..][..dd * kg];
            let mut p0 = 0;
            while p0 < p_all {
                let rows = rows_blk.min(p_all - p0);
                // dYᵀ panels of the block: panel jp holds channels jp·nr.. as rows·Q rows of
                // `ps` values (lanes past the panel's width are read by the tile but never
                // stored, so they may hold anything).
                let block_px = rows * q;
                for jp in 0..panels {
                    let k0 = jp * nr;
                    let panel = &mut dyt[jp * block_px * ps..][..block_px * ps];
                    for kk in 0..nr.min(kg - k0) {
                        let src = &dy[(k0 + kk) * pq + p0 * q..][..block_px];
                        for (i, &v) in src.iter().enumerate() {
                            panel[i * ps + kk] = v;
                        }
                    }
                }
                // Input rows the block reads: y0..y0 + ny (inside the image).
                let y0 = (p0 * sh).saturating_sub(pad.top);
                let y_end = ((p0 + rows - 1) * sh + (kh - 1) * dh + 1)
                    .saturating_sub(pad.top)
                    .min(h);
                let ny = y_end.saturating_sub(y0).min(in_rows);
                for c in 0..cg {
                    let plane = &input[(n * d.in_channels() + g * cg + c) * hw..][..hw];
                    if padded {
                        for (yy, dst) in rows_buf.chunks_exact_mut(wp).take(ny).enumerate() {
                            dst[pad.left..pad.left + w]
                                .copy_from_slice(&plane[(y0 + yy) * w..][..w]);
                        }
                    }
                    for r in 0..kh {
                        for pp in 0..rows {
                            // Input row of kernel row r at output row p0 + pp; padding rows
                            // contribute nothing.
                            let Some(y) = ((p0 + pp) * sh + r * dh)
                                .checked_sub(pad.top)
                                .filter(|&y| y < h)
                            else {
                                continue;
                            };
                            let a = if padded {
                                rows_buf[(y - y0) * wp..].as_ptr()
                            } else {
                                plane[y * w..].as_ptr()
                            };
                            for jp in 0..panels {
                                let width = nr.min(kg - jp * nr);
                                let b = dyt[jp * block_px * ps + pp * q * ps..].as_ptr();
                                let mut s0 = 0;
                                while s0 < kw {
                                    let mr = balanced_rows(kw - s0, mr_max);
                                    let out = TileOut {
                                        c: dwt_g[((c * kh + r) * kw + s0) * kg + jp * nr..]
                                            .as_mut_ptr(),
                                        ldc: kg,
                                        n: width,
                                        accumulate: true,
                                        finish: false,
                                        bias: core::ptr::null(),
                                        activation: Activation::Identity,
                                    };
                                    // SAFETY: tile row i reads a + (s0 + i)·dw + [0, Q): with
                                    // a horizontal stride of 1, (S−1)·dw + Q = left + W +
                                    // right, so every read lies in the padded row (wp values,
                                    // y − y0 < ny rows of rows_buf) or, without padding, in
                                    // input row y of the plane. B rows pp·Q + [0, Q) of the
                                    // panel hold ps >= ⌈width/LANES⌉·LANES readable values
                                    // each (ps is nr, or Kg rounded up to whole vectors); dWᵀ rows ((c·R + r)·S + s0 + i) (< D), columns
                                    // jp·nr + [0, width) (<= Kg) lie inside dwt_g (ldc = Kg).
                                    unsafe {
                                        tile_dispatch::<V, NV_MAX>(
                                            mr,
                                            width.div_ceil(V::LANES),
                                            q,
                                            a.add(s0 * dw),
                                            dw,
                                            b,
                                            ps,
                                            &out,
                                        );
                                    }
                                    s0 += mr;
                                }
                            }
                        }
                    }
                }
                p0 += rows;
            }
        }
    }
    transpose_to_oihw(d, dwt, grad_weights);
}
