//! The Winograd tolerance scale, shared by `tests/conv_winograd.rs` and the `conv` fuzz target
//! (`#[path]` modules), so both check the same rule.

use convkit_kernels::Conv2d;

/// The magnitude a Winograd output's rounding error scales with: for the output's `m × m` tile
/// and output channel `k`, `Σ_c max|x_c| · Σ_rs |w_{k,c,r,s}|`, the maximum over the tile's
/// whole `(m+2) × (m+2)` input window. The transforms mix every input of the window with every
/// tap, so an output whose own `Σ|x·w|` is zero (a window of padding, or zero weights where the
/// input is) still carries the rounding of its neighbours' products.
pub fn winograd_tile_scale(d: &Conv2d, m: usize, x: &[f32], w: &[f32]) -> Vec<f64> {
    let (h, wd) = (d.input_height(), d.input_width());
    let (p, q) = (d.output_height(), d.output_width());
    let (c, k) = (d.in_channels(), d.out_channels());
    let (cg, kg) = (d.in_channels_per_group(), d.out_channels_per_group());
    let pad = d.padding();
    let taps = d.kernel_height() * d.kernel_width();
    let wsum: Vec<f64> = w
        .chunks(taps)
        .map(|t| t.iter().map(|v| v.abs() as f64).sum())
        .collect();
    // The input rows (or columns) of the window of the tile starting at output row `t`.
    let rows = |t: usize, before: usize, len: usize| {
        let lo = t.saturating_sub(before).min(len);
        let hi = (t + m + 2).saturating_sub(before).min(len);
        lo..hi.max(lo)
    };
    let mut out = vec![0.0f64; d.output_len()];
    let mut maxabs = vec![0.0f64; c];
    for b in 0..d.batch() {
        for ty in (0..p).step_by(m) {
            for tx in (0..q).step_by(m) {
                for (ci, mx) in maxabs.iter_mut().enumerate() {
                    let plane = &x[(b * c + ci) * h * wd..][..h * wd];
                    *mx = rows(ty, pad.top, h)
                        .flat_map(|iy| rows(tx, pad.left, wd).map(move |ix| iy * wd + ix))
                        .map(|i| plane[i].abs() as f64)
                        .fold(0.0, f64::max);
                }
                for ko in 0..k {
                    let group = ko / kg;
                    let s: f64 = (0..cg)
                        .map(|cc| maxabs[group * cg + cc] * wsum[ko * cg + cc])
                        .sum();
                    let plane = &mut out[(b * k + ko) * p * q..][..p * q];
                    for yy in ty..(ty + m).min(p) {
                        for xx in tx..(tx + m).min(q) {
                            plane[yy * q + xx] = s;
                        }
                    }
                }
            }
        }
    }
    out
}
