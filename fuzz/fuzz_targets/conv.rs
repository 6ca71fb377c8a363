//! Convolution with every algorithm (`auto` included) at every supported SIMD level against
//! the f64 reference.
//!
//! Shapes are always valid and small, and biased towards what each algorithm accepts (3×3
//! stride 1 for Winograd, `groups == C == K` for depthwise), so almost every execution runs a
//! fast path; one case in eight keeps the raw shape, so a path that rejects it must say so with
//! `UnsupportedAlgorithm`. Checks:
//!
//! - values: exact on small-integer data with identity/ReLU/clamp (every algorithm but
//!   Winograd), else within `max(1e-5, 1e-6·Σ|x·w|)` after the activation; Winograd within
//!   `8·bound·S`, its error bound with `S = Σ_c max|x_c|·Σ|w_c|` over the output tile's input
//!   window (the same rule as `tests/conv_winograd.rs`);
//! - the work split: any two pieces, run in either order, give the same bits as `run`;
//! - prepared weights (`prepare_weights` + `run_prepared`) give the same bits as `run`;
//! - scratch and output start as NaN, so a read of an unwritten element shows up;
//! - NaN/∞ inputs (one case in sixteen) must not crash (values are not compared).
#![no_main]

use arbitrary::Arbitrary;
use convkit_kernels::simd::supported_levels;
use convkit_kernels::{
    reference, Activation, Algorithm, Conv2d, Conv2dPlan, ConvOptions, Error, OutputPiece, Padding,
};
use libfuzzer_sys::fuzz_target;

mod common;
use common::fill;
// Shared with tests/conv_winograd.rs: one tolerance rule for both.
#[path = "../../crates/kernels/tests/common/winograd_scale.rs"]
mod winograd_scale;
use winograd_scale::winograd_tile_scale;

#[derive(Arbitrary, Debug)]
struct Case {
    algorithm: u8,
    level: u8,
    /// Low 3 bits: 0 = keep the raw shape; bit 3: NaN/∞ data; bits 4..: activation.
    mode: u8,
    batch: u8,
    groups: u8,
    channels: (u8, u8),
    input: (u8, u8),
    kernel: (u8, u8),
    stride: (u8, u8),
    dilation: (u8, u8),
    padding: (u8, u8, u8, u8),
    bias: bool,
    integers: bool,
    split: u16,
    /// The work budget: `MAX_FLOPS` when a multiple of 8, else `SMALL_FLOPS`.
    size: u8,
    seed: u64,
}

fn activation(v: u8) -> Activation {
    match v % 5 {
        0 => Activation::Identity,
        1 => Activation::Relu,
        2 => Activation::Sigmoid,
        3 => Activation::Tanh,
        _ => Activation::Clamp {
            min: -0.5,
            max: 2.0,
        },
    }
}

/// Normwise error bound per Winograd tile (as in `tests/conv_winograd.rs`).
fn winograd_bound(a: Algorithm) -> Option<f64> {
    match a {
        Algorithm::Winograd2x2 => Some(3e-6),
        Algorithm::Winograd4x4 => Some(2e-5),
        Algorithm::Winograd6x6 => Some(2e-4),
        _ => None,
    }
}

fn winograd_m(a: Algorithm) -> usize {
    match a {
        Algorithm::Winograd2x2 => 2,
        Algorithm::Winograd4x4 => 4,
        _ => 6,
    }
}

/// Builds a valid descriptor from the case, shaped for `algorithm` unless `raw`.
fn descriptor(c: &Case, algorithm: Algorithm, raw: bool) -> Option<Conv2d> {
    let winograd = !raw && winograd_bound(algorithm).is_some();
    let depthwise = !raw && algorithm == Algorithm::Depthwise;
    let n = 1 + (c.batch % 2) as usize;
    let (mut g, mut cg, mut kg) = (
        1 + (c.groups % 3) as usize,
        1 + (c.channels.0 % 12) as usize,
        1 + (c.channels.1 % 20) as usize,
    );
    if depthwise {
        g = 1 + (c.channels.0 % 20) as usize;
        cg = 1;
        kg = 1;
    }
    let (h, w) = (1 + (c.input.0 % 20) as usize, 1 + (c.input.1 % 20) as usize);
    let pad = [c.padding.0, c.padding.1, c.padding.2, c.padding.3].map(|p| (p % 4) as usize);
    let (mut sh, mut sw) = (1 + (c.stride.0 % 3) as usize, 1 + (c.stride.1 % 3) as usize);
    let (mut dh, mut dw) = (
        1 + (c.dilation.0 % 3) as usize,
        1 + (c.dilation.1 % 3) as usize,
    );
    if winograd {
        (sh, sw, dh, dw) = (1, 1, 1, 1);
    }
    // The largest kernel extent that fits the padded input.
    let fit = |input: usize, before: usize, after: usize, dil: usize, want: usize| {
        let room = input + before + after;
        (1 + (want % 7)).min((room - 1) / dil + 1)
    };
    let mut r = fit(h, pad[0], pad[1], dh, c.kernel.0 as usize);
    let mut s = fit(w, pad[2], pad[3], dw, c.kernel.1 as usize);
    if winograd {
        if h + pad[0] + pad[1] < 3 || w + pad[2] + pad[3] < 3 {
            return None;
        }
        (r, s) = (3, 3);
    }
    let build = |n: usize, g: usize, cg: usize, kg: usize| {
        Conv2d::builder()
            .batch(n)
            .channels(g * cg, g * kg)
            .groups(g)
            .input_size(h, w)
            .kernel_size(r, s)
            .stride(sh, sw)
            .dilation(dh, dw)
            .padding(Padding::new(pad[0], pad[1], pad[2], pad[3]))
            .build()
            .ok()
    };
    // Keep each execution cheap (the f64 reference runs twice): over the work budget, halve
    // the batch, then the channel counts (for depthwise the group count, which is the channel
    // count), until it fits. The image, kernel, stride and padding (the geometry the kernels'
    // edge code depends on) stay as drawn.
    let budget = if c.size % 8 == 0 {
        MAX_FLOPS
    } else {
        SMALL_FLOPS
    };
    let mut d = build(n, g, cg, kg)?;
    let mut n = n;
    while d.flops() > budget {
        if n > 1 {
            n = 1;
        } else if kg > 1 && kg >= cg {
            kg = kg.div_ceil(2);
        } else if cg > 1 {
            cg = cg.div_ceil(2);
        } else if g > 1 {
            g = g.div_ceil(2);
        } else {
            break;
        }
        d = build(n, g, cg, kg)?;
    }
    Some(d)
}

/// The work budget of one execution in one case in eight, in direct-convolution FLOPs
/// (2·MACs): every image size, kernel, stride and padding the case can draw still runs (only
/// channels and batch shrink), with up to a few dozen channels on the larger images.
const MAX_FLOPS: f64 = 200_000.0;

/// The budget of the other seven: the same geometry with fewer channels on the larger images,
/// about five times cheaper (the instrumented `f64` reference dominates an execution), so a
/// ten-million-execution campaign fits in hours on one core.
const SMALL_FLOPS: f64 = 30_000.0;

fn run(c: Case) {
    let algorithm = Algorithm::ALL[c.algorithm as usize % Algorithm::ALL.len()];
    let levels: Vec<_> = supported_levels().collect();
    let level = levels[c.level as usize % levels.len()];
    let raw = c.mode & 7 == 0;
    let specials = c.mode & 8 != 0 && c.mode & 0x70 == 0;
    let act = activation(c.mode >> 4);
    let Some(desc) = descriptor(&c, algorithm, raw) else {
        return;
    };
    let plan = match Conv2dPlan::new(
        &desc,
        ConvOptions {
            algorithm,
            level: Some(level),
            activation: act,
        },
    ) {
        Ok(p) => p,
        Err(Error::UnsupportedAlgorithm { .. }) if raw => return,
        Err(e) => panic!("{algorithm} at {level} rejected {desc:?}: {e:?}"),
    };
    let integers = c.integers && !specials;
    let mut x = fill(desc.input_len(), c.seed, integers);
    let w = fill(desc.weights_len(), c.seed ^ 1, integers);
    let b = fill(desc.bias_len(), c.seed ^ 2, integers);
    if specials {
        let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3e38, -0.0];
        for (i, v) in x.iter_mut().enumerate().step_by(7) {
            *v = specials[(i / 7).wrapping_add(c.seed as usize) % specials.len()];
        }
    }
    let bias = c.bias.then_some(&b[..]);

    let mut y = vec![f32::NAN; desc.output_len()];
    let mut scratch = vec![f32::NAN; plan.scratch_len()];
    plan.run(&x, &w, bias, &mut y, &mut scratch).unwrap();

    // The work split: two pieces, the second run first, each with fresh NaN scratch.
    let mut parts = vec![f32::NAN; desc.output_len()];
    let piece = OutputPiece::whole(&mut parts, plan.unit_geometry()).unwrap();
    let mid = c.split as usize % (piece.len() + 1);
    let (first, second) = piece.split_at(mid);
    for p in [second, first] {
        let mut scratch = vec![f32::NAN; plan.scratch_len()];
        plan.run_piece(p, &x, &w, bias, &mut scratch).unwrap();
    }
    let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits());
    assert!(
        same(&y, &parts),
        "{algorithm} at {level}: split at {mid} differs"
    );

    // Prepared weights.
    let mut prepared = vec![f32::NAN; plan.prepared_weights_len()];
    plan.prepare_weights(&w, &mut prepared).unwrap();
    let prepared = if prepared.is_empty() { &w } else { &prepared };
    let mut y2 = vec![f32::NAN; desc.output_len()];
    let mut scratch = vec![f32::NAN; plan.prepared_scratch_len()];
    plan.run_prepared(&x, prepared, bias, &mut y2, &mut scratch)
        .unwrap();
    assert!(
        same(&y, &y2),
        "{algorithm} at {level}: run_prepared differs"
    );

    if specials {
        return;
    }
    let to64 = |v: &[f32]| v.iter().map(|&v| v as f64).collect::<Vec<f64>>();
    let (x64, w64, b64) = (to64(&x), to64(&w), to64(&b));
    let mut want = vec![0.0f64; desc.output_len()];
    reference::conv2d(&desc, &x64, &w64, c.bias.then_some(&b64[..]), &mut want).unwrap();
    let used = plan.algorithm();
    if let Some(bound) = winograd_bound(used) {
        let scale = winograd_tile_scale(&desc, winograd_m(used), &x, &w);
        for (i, &got) in y.iter().enumerate() {
            let r = act.apply_reference(want[i]);
            let tol = (8.0 * bound * scale[i]).max(1e-5);
            assert!(
                (got as f64 - r).abs() <= tol,
                "{used} at {level} {desc:?} element {i}: {got} vs {r} (tol {tol:e})"
            );
        }
        return;
    }
    let exact = integers
        && matches!(
            act,
            Activation::Identity | Activation::Relu | Activation::Clamp { .. }
        );
    // Σ|x·w| per output, for the tolerance (not needed when exact).
    let mut mag = vec![0.0f64; desc.output_len()];
    if !exact {
        let abs = |v: &[f64]| v.iter().map(|v| v.abs()).collect::<Vec<f64>>();
        reference::conv2d(&desc, &abs(&x64), &abs(&w64), None, &mut mag).unwrap();
    }
    for (i, &got) in y.iter().enumerate() {
        let r = act.apply_reference(want[i]);
        let tol = if exact {
            0.0
        } else {
            (1e-6 * mag[i]).max(1e-5) + 2e-6 * r.abs()
        };
        assert!(
            (got as f64 - r).abs() <= tol,
            "{used} at {level} {desc:?} {act:?} element {i}: {got} vs {r} (tol {tol:e})"
        );
    }
}

fuzz_target!(|c: Case| run(c));
