//! The reference algorithm as a plan path: plain loops per work unit, then the epilogue.

use super::Conv2dPlan;
use crate::epilogue::apply_bias_activation;
use crate::reference::conv2d_rows;
use crate::split::OutputPiece;

pub(super) fn run(
    plan: &Conv2dPlan,
    piece: &mut OutputPiece<'_>,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
) {
    let g = piece.geometry();
    for u in piece.units() {
        let (n, rows) = g.unit(u);
        for k in g.unit_channels(u) {
            let Some(out) = piece.rows_mut(u, k) else {
                continue;
            };
            let b = bias.map(|b| b[k]);
            conv2d_rows(
                plan.descriptor(),
                input,
                weights,
                b,
                n,
                k,
                rows.clone(),
                out,
            );
            // Bias is already in; lengths were checked by the plan, so this cannot fail.
            let _ = apply_bias_activation(plan.level(), out, 1, out.len(), None, plan.activation());
        }
    }
}
