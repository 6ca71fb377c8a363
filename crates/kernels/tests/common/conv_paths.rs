//! The property-test harness shared by the conv path tests (direct and depthwise use all of it,
//! im2col and Winograd the unit-ownership check): random cases,
//! deterministic fills, and the checks against the f64 reference and across piece splits.
#![allow(dead_code)] // each test binary uses a subset

use convkit_kernels::reference;
use convkit_kernels::simd::supported_levels;
use convkit_kernels::{
    Activation, Algorithm, Conv2d, Conv2dPlan, ConvOptions, Level, OutputPiece, Padding,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

pub fn cases(default: u32) -> u32 {
    std::env::var("CONVKIT_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A deterministic fill: small integers in −8..=8 (exact) or reals in about ±1.
pub fn fill(len: usize, seed: u64, integers: bool) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            if integers {
                ((s >> 40) % 17) as f32 - 8.0
            } else {
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            }
        })
        .collect()
}

#[derive(Clone, Debug)]
pub struct Case {
    pub desc: Conv2d,
    pub seed: u64,
    pub bias: bool,
    pub act: Activation,
}

pub fn activation() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::Identity),
        Just(Activation::Relu),
        Just(Activation::Sigmoid),
        Just(Activation::Tanh),
        Just(Activation::Clamp {
            min: -0.5,
            max: 2.0
        }),
    ]
}

/// One axis: (input, kernel, stride, dilation, pad_before, pad_after), always valid.
pub fn axis(max_in: usize) -> impl Strategy<Value = (usize, usize, usize, usize, usize, usize)> {
    (1..=max_in, 1..=3usize, 1..=3usize, 0..=3usize, 0..=3usize).prop_flat_map(
        |(input, stride, dilation, before, after)| {
            let room = input + before + after;
            let max_kernel = ((room - 1) / dilation + 1).min(7);
            (1..=max_kernel)
                .prop_map(move |kernel| (input, kernel, stride, dilation, before, after))
        },
    )
}

pub fn case(
    max_in: usize,
    max_cg: usize,
    max_kg: usize,
    max_groups: usize,
) -> impl Strategy<Value = Case> {
    (
        1..=2usize,
        1..=max_groups,
        1..=max_cg,
        1..=max_kg,
        axis(max_in),
        axis(max_in),
        any::<u64>(),
        any::<bool>(),
        activation(),
    )
        .prop_map(|(n, g, cg, kg, h, w, seed, bias, act)| {
            let desc = Conv2d::builder()
                .batch(n)
                .channels(g * cg, g * kg)
                .groups(g)
                .input_size(h.0, w.0)
                .kernel_size(h.1, w.1)
                .stride(h.2, w.2)
                .dilation(h.3, w.3)
                .padding(Padding {
                    top: h.4,
                    bottom: h.5,
                    left: w.4,
                    right: w.5,
                })
                .build()
                .expect("strategy builds valid descriptors");
            Case {
                desc,
                seed,
                bias,
                act,
            }
        })
}

pub fn run_plan(c: &Case, level: Level, algo: Algorithm, integers: bool) -> (Vec<f32>, Conv2dPlan) {
    let d = &c.desc;
    let x = fill(d.input_len(), c.seed, integers);
    let w = fill(d.weights_len(), c.seed ^ 1, integers);
    let b = fill(d.bias_len(), c.seed ^ 2, integers);
    let plan = Conv2dPlan::new(
        d,
        ConvOptions {
            algorithm: algo,
            level: Some(level),
            activation: c.act,
        },
    )
    .expect("plan");
    let mut out = vec![f32::NAN; d.output_len()];
    let mut scratch = vec![f32::NAN; plan.scratch_len()];
    plan.run(&x, &w, c.bias.then_some(&b[..]), &mut out, &mut scratch)
        .expect("run");
    // Prepared weights (where the path has them) give the same bits as raw weights.
    if plan.prepared_weights_len() > 0 {
        let mut prepared = vec![f32::NAN; plan.prepared_weights_len()];
        plan.prepare_weights(&w, &mut prepared).expect("prepare");
        let mut again = vec![f32::NAN; d.output_len()];
        let mut scratch = vec![f32::NAN; plan.prepared_scratch_len()];
        plan.run_prepared(
            &x,
            &prepared,
            c.bias.then_some(&b[..]),
            &mut again,
            &mut scratch,
        )
        .expect("run_prepared");
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&again),
            bits(&out),
            "prepared weights at {level}: {d:?}"
        );
    }
    (out, plan)
}

/// Compares the path with the f64 reference: within max(1e-5, 1e-6·Σ|x·w|), or exactly on
/// small integers (identity/ReLU, where the result is an exactly representable integer).
pub fn check(c: &Case, algo: Algorithm, integers: bool) -> Result<(), TestCaseError> {
    let d = &c.desc;
    let x = fill(d.input_len(), c.seed, integers);
    let w = fill(d.weights_len(), c.seed ^ 1, integers);
    let b = fill(d.bias_len(), c.seed ^ 2, integers);
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let w64: Vec<f64> = w.iter().map(|&v| v as f64).collect();
    let b64: Vec<f64> = b.iter().map(|&v| v as f64).collect();
    let xa: Vec<f64> = x64.iter().map(|v| v.abs()).collect();
    let wa: Vec<f64> = w64.iter().map(|v| v.abs()).collect();
    let mut want = vec![0.0f64; d.output_len()];
    reference::conv2d(d, &x64, &w64, c.bias.then_some(&b64[..]), &mut want).unwrap();
    let mut mag = vec![0.0f64; d.output_len()];
    reference::conv2d(d, &xa, &wa, None, &mut mag).unwrap();
    for level in supported_levels() {
        let (got, _) = run_plan(c, level, algo, integers);
        for (i, (&g, (&r, &m))) in got.iter().zip(want.iter().zip(&mag)).enumerate() {
            let r = c.act.apply_reference(r);
            if integers {
                prop_assert_eq!(g as f64, r, "level {} element {} of {:?}", level, i, d);
            } else {
                let tol = (1e-6 * m).max(1e-5);
                prop_assert!(
                    (g as f64 - r).abs() <= tol,
                    "level {} element {}: got {} want {} (tol {}) {:?}",
                    level,
                    i,
                    g,
                    r,
                    tol,
                    d
                );
            }
        }
    }
    Ok(())
}

/// Any split of the units into two pieces gives the same bits as the whole run.
pub fn check_split(c: &Case, algo: Algorithm, mid_seed: usize) -> Result<(), TestCaseError> {
    let d = &c.desc;
    let x = fill(d.input_len(), c.seed, false);
    let w = fill(d.weights_len(), c.seed ^ 1, false);
    let b = fill(d.bias_len(), c.seed ^ 2, false);
    let bias = c.bias.then_some(&b[..]);
    for level in supported_levels() {
        let (whole, plan) = run_plan(c, level, algo, false);
        let mut out = vec![f32::NAN; d.output_len()];
        let piece = OutputPiece::whole(&mut out, plan.unit_geometry()).unwrap();
        let mid = mid_seed % (piece.len() + 1);
        let (a, bb) = piece.split_at(mid);
        // Run the second piece first, each with its own scratch.
        for p in [bb, a] {
            let mut scratch = vec![f32::NAN; plan.scratch_len()];
            plan.run_piece(p, &x, &w, bias, &mut scratch).unwrap();
        }
        prop_assert!(
            whole
                .iter()
                .zip(&out)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "split at {} differs at level {}",
            mid,
            level
        );
    }
    Ok(())
}

/// Runs unit `u` of `plan` alone on a NaN-filled output and asserts it wrote exactly its own
/// elements (its batch item, rows and channels).
pub fn assert_unit_writes_only_its_elements(
    plan: &Conv2dPlan,
    u: usize,
    run: impl Fn(OutputPiece<'_>, &mut [f32]),
) {
    let d = plan.descriptor();
    let g = plan.unit_geometry();
    let mut out = vec![f32::NAN; d.output_len()];
    let piece = OutputPiece::whole(&mut out, g).unwrap();
    let (_, rest) = piece.split_at(u);
    let (one, _) = rest.split_at(1);
    let mut scratch = vec![f32::NAN; plan.scratch_len()];
    run(one, &mut scratch);
    let (n, rows) = g.unit(u);
    let chans = g.unit_channels(u);
    let (k_all, p, q) = (d.out_channels(), d.output_height(), d.output_width());
    for (i, v) in out.iter().enumerate() {
        let (x_n, x_k, x_y) = (i / (k_all * p * q), i / (p * q) % k_all, i / q % p);
        let owned = x_n == n && chans.contains(&x_k) && rows.contains(&x_y);
        assert_eq!(!v.is_nan(), owned, "unit {u} element {i} {g:?}");
    }
}
