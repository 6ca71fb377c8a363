//! Depthwise convolution (`groups == in_channels == out_channels`): each channel convolved
//! with its own filter, vectorised along the output row.

use super::direct;
use super::Conv2dPlan;
use crate::error::Error;
use crate::simd::Level;
use crate::split::OutputPiece;
use crate::Conv2d;

/// The plan's decision for this path: `(rows_per_unit, scratch_len)`, or
/// [`Error::UnsupportedAlgorithm`] when the descriptor is not depthwise.
pub(super) fn decide(desc: &Conv2d, level: Level) -> Result<(usize, usize), Error> {
    if !desc.is_depthwise() {
        return Err(Error::UnsupportedAlgorithm {
            algorithm: "depthwise",
            reason: "needs groups == in_channels == out_channels",
        });
    }
    direct::decide(desc, level)
}

/// Runs the units of `piece` (lengths checked by the plan).
pub(super) fn run(
    plan: &Conv2dPlan,
    piece: &mut OutputPiece<'_>,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    scratch: &mut [f32],
) {
    direct::run(plan, piece, input, weights, bias, scratch)
}
