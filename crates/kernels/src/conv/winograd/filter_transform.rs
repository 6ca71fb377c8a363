//! Filter transform `U = G g Gᵀ`, done once per layer (or once per call with raw weights),
//! in `f64` and rounded once to `f32`, packed for the transform-domain GEMM micro-kernel.

use super::layout::WinogradLayout;
use super::transforms::WinogradTile;

/// Transforms every 3×3 filter of `weights` (OIHW, `K × Cg × 3 × 3`) and packs the result
/// as `[group][ξ][k / mr][c][k % mr]` (`ξ = i·α + j`), output channels padded with zeros to
/// `kg_pad`. `prepared.len()` must be `layout.prepared_len` and `weights.len()` the
/// descriptor's weights length (checked by the plan).
pub(crate) fn transform_filters<T: WinogradTile>(
    layout: &WinogradLayout,
    weights: &[f32],
    prepared: &mut [f32],
) {
    let a = T::ALPHA;
    let a2 = a * a;
    let (cg, kg, kg_pad, mr) = (layout.cg, layout.kg, layout.kg_pad, layout.mr);
    prepared.fill(0.0);
    for g in 0..layout.groups {
        for k in 0..kg {
            for c in 0..cg {
                let w = &weights[((g * kg + k) * cg + c) * 9..][..9];
                // gt = G · w  (α × 3), then u = gt · Gᵀ  (α × α).
                let mut gt = [[0.0f64; 3]; 8];
                for (i, row) in gt.iter_mut().enumerate().take(a) {
                    for (s, v) in row.iter_mut().enumerate() {
                        *v = (0..3).map(|r| T::G[i * 3 + r] * w[r * 3 + s] as f64).sum();
                    }
                }
                for (i, row) in gt.iter().enumerate().take(a) {
                    for j in 0..a {
                        let u: f64 = (0..3).map(|s| row[s] * T::G[j * 3 + s]).sum();
                        let xi = i * a + j;
                        let at = (((g * a2 + xi) * (kg_pad / mr) + k / mr) * cg + c) * mr + k % mr;
                        prepared[at] = u as f32;
                    }
                }
            }
        }
    }
}
