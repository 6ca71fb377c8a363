//! The backward kernels (`backward::Conv2dBackwardPlan`, `Pool2dPlan::backward_average` /
//! `backward_max`, `backward::activation_backward`) at one supported SIMD level per execution
//! against the reference backward passes, on valid small descriptors; then the same calls with
//! skewed slice lengths, which must give an error and write nothing out of bounds.
//!
//! Checks (the rules of `tests/backward_conv.rs` and `tests/backward_pool_activation.rs`):
//! - conv backward-data and backward-weights (and bias): within `max(1e-5, 1e-6·Σ|a·b|)` of
//!   the `f64` reference, exact on small-integer data; outputs and scratch start as NaN, so an
//!   element left unwritten or a scratch value read before it is written shows up;
//! - pooling backward: bit-identical to the `f32` reference (average: the forward's divisor
//!   rule; max: to the arg-max written by `run_with_indices`, ties to the first tap);
//! - activation backward: exact for identity, ReLU and clamp, within `4·ε·|grad|` for sigmoid
//!   and tanh.
#![no_main]

use arbitrary::Arbitrary;
use convkit_kernels::backward::{activation_backward, Conv2dBackwardPlan};
use convkit_kernels::simd::supported_levels;
use convkit_kernels::{
    reference, Activation, Conv2d, Error, Level, Padding, Pool2d, Pool2dPlan, PoolKind, PoolOptions,
};
use libfuzzer_sys::fuzz_target;

mod common;
use common::{fill, skewed};

#[derive(Arbitrary, Debug)]
struct ConvCase {
    batch: u8,
    groups: u8,
    channels: (u8, u8),
    input: (u8, u8),
    kernel: (u8, u8),
    stride: (u8, u8),
    dilation: (u8, u8),
    padding: (u8, u8, u8, u8),
    bias: bool,
    /// The work budget: `MAX_FLOPS` when a multiple of 8, else `SMALL_FLOPS`.
    size: u8,
}

#[derive(Arbitrary, Debug)]
struct PoolCase {
    max: bool,
    batch: u8,
    channels: u8,
    input: (u8, u8),
    window: (u8, u8),
    stride: (u8, u8),
    dilation: (u8, u8),
    padding: (u8, u8, u8, u8),
    ceil: bool,
    include_pad: bool,
    global: bool,
}

#[derive(Arbitrary, Debug)]
enum Kernel {
    Conv(ConvCase),
    Pool(PoolCase),
    Activation { kind: u8, len: u8 },
}

#[derive(Arbitrary, Debug)]
struct Case {
    kernel: Kernel,
    level: u8,
    integers: bool,
    /// Deltas applied to the correct slice lengths in the hostile calls (0 = correct).
    skew: (i8, i8, i8),
    seed: u64,
}

fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&v| v as f64).collect()
}

fn abs64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&v| (v as f64).abs()).collect()
}

fn is_length_error(r: Result<(), Error>) -> bool {
    matches!(r, Err(Error::LengthMismatch { .. }))
}

fn compare(
    got: &[f32],
    want: &[f64],
    mag: &[f64],
    exact: bool,
    what: &str,
    ctx: &dyn Fn() -> String,
) {
    assert_eq!(got.len(), want.len());
    for (i, (&g, (&r, &m))) in got.iter().zip(want.iter().zip(mag)).enumerate() {
        let tol = if exact { 0.0 } else { (1e-6 * m).max(1e-5) };
        assert!(
            (g as f64 - r).abs() <= tol,
            "{what} {i}: got {g} want {r} (tol {tol:e}) {}",
            ctx()
        );
    }
}

/// The work budget of one conv execution in one case in eight, in direct-convolution FLOPs of
/// the forward pass (each backward pass and its two `f64` references cost about as much):
/// over it, the batch, then the channel counts halve; the geometry stays as drawn.
const MAX_FLOPS: f64 = 200_000.0;

/// The budget of the other seven: fewer channels on the larger images, several times cheaper,
/// so a ten-million-execution campaign fits in hours on one core.
const SMALL_FLOPS: f64 = 30_000.0;

fn conv(c: &ConvCase, level: Level, integers: bool, skew: (i8, i8, i8), seed: u64) {
    let (mut g, mut cg, mut kg) = (
        1 + (c.groups % 3) as usize,
        1 + (c.channels.0 % 8) as usize,
        1 + (c.channels.1 % 20) as usize,
    );
    let mut n = 1 + (c.batch % 2) as usize;
    let (h, w) = (1 + (c.input.0 % 18) as usize, 1 + (c.input.1 % 34) as usize);
    let pad = [c.padding.0, c.padding.1, c.padding.2, c.padding.3].map(|p| (p % 3) as usize);
    let (dh, dw) = (
        1 + (c.dilation.0 % 3) as usize,
        1 + (c.dilation.1 % 3) as usize,
    );
    let fit = |input: usize, before: usize, after: usize, dil: usize, want: u8| {
        (1 + (want % 5) as usize).min((input + before + after - 1) / dil + 1)
    };
    let build = |n: usize, g: usize, cg: usize, kg: usize| {
        Conv2d::builder()
            .batch(n)
            .channels(g * cg, g * kg)
            .groups(g)
            .input_size(h, w)
            .kernel_size(
                fit(h, pad[0], pad[1], dh, c.kernel.0),
                fit(w, pad[2], pad[3], dw, c.kernel.1),
            )
            .stride(1 + (c.stride.0 % 3) as usize, 1 + (c.stride.1 % 3) as usize)
            .dilation(dh, dw)
            .padding(Padding::new(pad[0], pad[1], pad[2], pad[3]))
            .build()
    };
    let budget = if c.size % 8 == 0 {
        MAX_FLOPS
    } else {
        SMALL_FLOPS
    };
    let Ok(mut d) = build(n, g, cg, kg) else {
        return;
    };
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
        let Ok(smaller) = build(n, g, cg, kg) else {
            return;
        };
        d = smaller;
    }
    let plan = Conv2dBackwardPlan::new(&d, Some(level))
        .unwrap_or_else(|e| panic!("{d:?} at {level}: {e:?}"));
    let ctx = || format!("at {level} {d:?}");
    let x = fill(d.input_len(), seed, integers);
    let wt = fill(d.weights_len(), seed ^ 1, integers);
    let dy = fill(d.output_len(), seed ^ 3, integers);

    let mut dx = vec![f32::NAN; d.input_len()];
    let mut scratch = vec![f32::NAN; plan.data_scratch_len()];
    plan.backward_data(&dy, &wt, &mut dx, &mut scratch).unwrap();
    let mut want = vec![0.0f64; d.input_len()];
    reference::conv2d_backward_data(&d, &to64(&dy), &to64(&wt), &mut want).unwrap();
    let mut mag = vec![0.0f64; d.input_len()];
    reference::conv2d_backward_data(&d, &abs64(&dy), &abs64(&wt), &mut mag).unwrap();
    compare(&dx, &want, &mag, integers, "dx", &ctx);

    let mut dw = vec![f32::NAN; d.weights_len()];
    let mut db = vec![f32::NAN; d.bias_len()];
    let mut scratch = vec![f32::NAN; plan.weights_scratch_len()];
    plan.backward_weights(
        &x,
        &dy,
        &mut dw,
        c.bias.then_some(&mut db[..]),
        &mut scratch,
    )
    .unwrap();
    let mut want_w = vec![0.0f64; d.weights_len()];
    let mut want_b = vec![0.0f64; d.bias_len()];
    reference::conv2d_backward_weights(&d, &to64(&x), &to64(&dy), &mut want_w, Some(&mut want_b))
        .unwrap();
    let mut mag_w = vec![0.0f64; d.weights_len()];
    let mut mag_b = vec![0.0f64; d.bias_len()];
    reference::conv2d_backward_weights(&d, &abs64(&x), &abs64(&dy), &mut mag_w, Some(&mut mag_b))
        .unwrap();
    compare(&dw, &want_w, &mag_w, integers, "dw", &ctx);
    if c.bias {
        compare(&db, &want_b, &mag_b, integers, "db", &ctx);
    } else {
        assert!(
            db.iter().all(|v| v.is_nan()),
            "bias gradient written without a bias {}",
            ctx()
        );
    }

    // Hostile lengths: any wrong slice is a length error.
    let (lo, bo) = skewed(d.output_len(), skew.0);
    let (li, bi) = skewed(d.input_len(), skew.1);
    let (lw, bw) = skewed(d.weights_len(), skew.2);
    let (dy2, x2, w2) = (
        fill(lo, seed, false),
        fill(li, seed, false),
        fill(lw, seed, false),
    );
    let mut dx2 = vec![0.0; li];
    let mut scratch = vec![0.0; plan.data_scratch_len().max(plan.weights_scratch_len())];
    let r = plan.backward_data(&dy2, &w2, &mut dx2, &mut scratch);
    assert_eq!(
        r.is_ok(),
        !(bo || bi || bw),
        "backward_data {r:?} {}",
        ctx()
    );
    if r.is_err() {
        assert!(is_length_error(r), "{}", ctx());
    }
    let mut dw2 = vec![0.0; lw];
    let r = plan.backward_weights(&x2, &dy2, &mut dw2, None, &mut scratch);
    assert_eq!(
        r.is_ok(),
        !(bo || bi || bw),
        "backward_weights {r:?} {}",
        ctx()
    );
    if r.is_err() {
        assert!(is_length_error(r), "{}", ctx());
    }
    if plan.weights_scratch_len() > 0 {
        let mut short = vec![0.0; plan.weights_scratch_len() - 1];
        let r = plan.backward_weights(&x, &dy, &mut dw, None, &mut short);
        assert!(r.is_err(), "short scratch accepted {}", ctx());
    }
}

fn pool(c: &PoolCase, level: Level, integers: bool, skew: (i8, i8, i8), seed: u64) {
    let kind = if c.max {
        PoolKind::Max
    } else {
        PoolKind::Average
    };
    let pad = [c.padding.0, c.padding.1, c.padding.2, c.padding.3].map(|p| (p % 3) as usize);
    let mut b = Pool2d::builder(kind)
        .batch(1 + (c.batch % 2) as usize)
        .channels(1 + (c.channels % 4) as usize)
        .input_size(1 + (c.input.0 % 20) as usize, 1 + (c.input.1 % 20) as usize)
        .window(1 + (c.window.0 % 5) as usize, 1 + (c.window.1 % 5) as usize)
        .stride(1 + (c.stride.0 % 4) as usize, 1 + (c.stride.1 % 4) as usize)
        .dilation(
            1 + (c.dilation.0 % 3) as usize,
            1 + (c.dilation.1 % 3) as usize,
        )
        .padding(Padding::new(pad[0], pad[1], pad[2], pad[3]))
        .ceil_mode(c.ceil)
        .count_include_pad(c.include_pad);
    if c.global {
        b = b.global();
    }
    let Ok(d) = b.build() else {
        return;
    };
    let plan = Pool2dPlan::new(
        &d,
        PoolOptions {
            level: Some(level),
            activation: Activation::Identity,
        },
    )
    .unwrap_or_else(|e| panic!("{d:?} at {level}: {e:?}"));
    let ctx = || format!("at {level} {d:?}");
    // Small integers: ties in max pooling, exact sums.
    let x = fill(d.input_len(), seed, true);
    let dy = fill(d.output_len(), seed ^ 3, integers);
    let mut want = vec![0.0f32; d.input_len()];
    let mut got = vec![f32::NAN; d.input_len()];
    let mut indices = vec![u32::MAX; d.output_len()];
    if kind == PoolKind::Max {
        let mut y = vec![0.0f32; d.output_len()];
        plan.run_with_indices(&x, &mut y, &mut indices).unwrap();
        reference::max_pool2d_backward(&d, &dy, &indices, &mut want).unwrap();
        plan.backward_max(&dy, &indices, &mut got).unwrap();
        // The wrong kind and an index outside the plane are errors.
        assert!(
            plan.backward_average(&dy, &mut got.clone()).is_err(),
            "{}",
            ctx()
        );
        if let Some(first) = indices.first_mut() {
            *first = (d.input_height() * d.input_width()) as u32;
            assert!(
                plan.backward_max(&dy, &indices, &mut got.clone()).is_err(),
                "{}",
                ctx()
            );
        }
    } else {
        reference::pool2d_backward(&d, &dy, &mut want).unwrap();
        plan.backward_average(&dy, &mut got).unwrap();
        assert!(
            plan.backward_max(&dy, &indices, &mut got.clone()).is_err(),
            "{}",
            ctx()
        );
    }
    assert!(
        got.iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "pool backward differs from the reference {}: {got:?} vs {want:?}",
        ctx()
    );

    let (lo, bo) = skewed(d.output_len(), skew.0);
    let (li, bi) = skewed(d.input_len(), skew.1);
    let dy2 = fill(lo, seed, true);
    let mut dx2 = vec![0.0; li];
    let r = if kind == PoolKind::Max {
        let idx = vec![0u32; d.output_len()];
        plan.backward_max(&dy2, &idx, &mut dx2)
    } else {
        plan.backward_average(&dy2, &mut dx2)
    };
    assert_eq!(r.is_ok(), !(bo || bi), "{r:?} {}", ctx());
    if r.is_err() {
        assert!(is_length_error(r), "{}", ctx());
    }
}

fn activation(kind: u8, len: u8, level: Level, skew: i8, seed: u64) {
    let act = match kind % 5 {
        0 => Activation::Identity,
        1 => Activation::Relu,
        2 => Activation::Sigmoid,
        3 => Activation::Tanh,
        _ => Activation::Clamp {
            min: -0.25,
            max: 0.5,
        },
    };
    let len = len as usize;
    let z = fill(len, seed, false);
    let g = fill(len, seed ^ 3, false);
    // y = act(3z): exact zeros and clamp bounds among the values.
    let y: Vec<f32> = z
        .iter()
        .map(|&z| act.apply_reference(z as f64 * 3.0) as f32)
        .collect();
    let mut want = to64(&g);
    reference::activation_backward(act, &to64(&y), &mut want).unwrap();
    let mut got = g.clone();
    activation_backward(Some(level), act, &y, &mut got).unwrap();
    let exact = matches!(
        act,
        Activation::Identity | Activation::Relu | Activation::Clamp { .. }
    );
    for (i, (&a, &b)) in got.iter().zip(&want).enumerate() {
        let tol = if exact {
            0.0
        } else {
            4.0 * f32::EPSILON as f64 * (g[i].abs() as f64)
        };
        assert!(
            (a as f64 - b).abs() <= tol,
            "{act:?} {i} at {level}: {a} vs {b}"
        );
    }
    let (l, bad) = skewed(len, skew);
    let mut g2 = vec![0.0; l];
    let r = activation_backward(Some(level), act, &y, &mut g2);
    assert_eq!(r.is_ok(), !bad, "{act:?} at {level}: {r:?}");
}

fn run(c: Case) {
    let levels: Vec<_> = supported_levels().collect();
    let level = levels[c.level as usize % levels.len()];
    match &c.kernel {
        Kernel::Conv(k) => conv(k, level, c.integers, c.skew, c.seed),
        Kernel::Pool(k) => pool(k, level, c.integers, c.skew, c.seed),
        Kernel::Activation { kind, len } => activation(*kind, *len, level, c.skew.0, c.seed),
    }
}

fuzz_target!(|c: Case| run(c));
