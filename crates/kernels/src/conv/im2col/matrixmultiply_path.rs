//! `Algorithm::Im2colMatrixMultiply` (std only): explicit im2col of a unit into scratch,
//! `matrixmultiply::sgemm`, then the SIMD bias + activation epilogue over the unit's rows.
//! The baseline the packed GEMM is measured against; `sgemm` allocates its own packing
//! buffers on every call.

use super::depth;
use super::pack_b::{pack_b, BBlock};
use crate::conv::Conv2dPlan;
use crate::epilogue::apply_bias_activation;
use crate::split::OutputPiece;

/// Runs the units of `piece`. Lengths were checked by the plan (`scratch` at least
/// [`super::matrixmultiply_layout`]'s length).
pub(in crate::conv) fn run(
    plan: &Conv2dPlan,
    piece: &mut OutputPiece<'_>,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    scratch: &mut [f32],
) {
    let d = plan.descriptor();
    let g = piece.geometry();
    let (cg, mg) = (d.in_channels_per_group(), d.out_channels_per_group());
    let hw = d.input_height() * d.input_width();
    let q = d.output_width();
    let kd = depth(d);
    for u in piece.units() {
        let (n_img, rows) = g.unit(u);
        let npx = rows.len() * q;
        for grp in 0..d.groups() {
            let image = &input[(n_img * d.in_channels() + grp * cg) * hw..][..cg * hw];
            let col = &mut scratch[..kd * npx];
            let block = BBlock {
                k0: 0,
                kc: kd,
                pixel0: rows.start * q,
                nc: npx,
                nr: npx,
            };
            pack_b(d, image, &block, col);
            let w_g = &weights[grp * mg * kd..][..mg * kd];
            let Some((c_unit, c_stride)) = piece.unit_ptr(u) else {
                continue;
            };
            // SAFETY: A = w_g (mg×kd, row stride kd), B = col (kd×npx, row stride npx) are
            // in bounds; C rows grp·mg..grp·mg+mg (< K) of unit u, npx columns each, belong
            // to this piece, at channel stride c_stride.
            unsafe {
                matrixmultiply::sgemm(
                    mg,
                    kd,
                    npx,
                    1.0,
                    w_g.as_ptr(),
                    kd as isize,
                    1,
                    col.as_ptr(),
                    npx as isize,
                    1,
                    0.0,
                    c_unit.add(grp * mg * c_stride),
                    c_stride as isize,
                    1,
                );
            }
        }
        for k in 0..g.channels {
            if let Some(out) = piece.rows_mut(u, k) {
                let n = out.len();
                // Lengths are consistent by construction, so this cannot fail.
                let _ = apply_bias_activation(
                    plan.level(),
                    out,
                    1,
                    n,
                    bias.map(|b| &b[k..k + 1]),
                    plan.activation(),
                );
            }
        }
    }
}
