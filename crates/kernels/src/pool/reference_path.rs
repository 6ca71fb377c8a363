//! Reference pooling as a plan path.

use super::Pool2dPlan;
use crate::epilogue::apply_bias_activation;
use crate::reference::pool2d_rows;
use crate::split::OutputPiece;

pub(super) fn run(plan: &Pool2dPlan, piece: &mut OutputPiece<'_>, input: &[f32]) {
    let g = piece.geometry();
    for u in piece.units() {
        let (n, rows) = g.unit(u);
        for c in 0..g.channels {
            let Some(out) = piece.rows_mut(u, c) else {
                continue;
            };
            pool2d_rows(
                plan.descriptor(),
                input,
                n * g.channels + c,
                rows.clone(),
                out,
            );
            // Lengths are consistent by construction, so this cannot fail.
            let _ = apply_bias_activation(plan.level(), out, 1, out.len(), None, plan.activation());
        }
    }
}
