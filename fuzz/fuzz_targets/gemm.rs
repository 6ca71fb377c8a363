//! The public GEMM (`GemmPlan::run`, `pack_b` + `run_packed_b`) at one supported SIMD level per
//! execution against an `f64` triple loop, on shapes that straddle every register tile and
//! cache block (m up to 40, n up to 200, k up to 300, within a budget of 200 k multiply-adds in
//! one execution in eight and 30 k in the others), with both transposes, accumulation, row
//! or column bias and a fused activation; then hostile slice lengths, which must be errors.
//!
//! Checks:
//! - values within `max(1e-5, 1e-6·Σ|a·b|) + 2e-6·|c|` after the activation (exact on small
//!   integers with identity, ReLU or clamp);
//! - `run_packed_b` gives the same bits as `run`;
//! - `C` starts as NaN (not accumulating) and the scratch always does, so an element left
//!   unwritten or a scratch value read before it is written shows up.
#![no_main]

use arbitrary::Arbitrary;
use convkit_kernels::simd::supported_levels;
use convkit_kernels::{Activation, Error, Gemm, GemmBias, GemmPlan};
use libfuzzer_sys::fuzz_target;

mod common;
use common::{fill, skewed};

#[derive(Arbitrary, Debug)]
struct Case {
    level: u8,
    m: u8,
    n: u8,
    k: u16,
    transpose_a: bool,
    transpose_b: bool,
    accumulate: bool,
    /// 0: none, 1: rows, 2: columns.
    bias: u8,
    activation: u8,
    integers: bool,
    /// Deltas applied to the correct slice lengths in the hostile call (0 = correct).
    skew: (i8, i8, i8, i8),
    /// The work budget: `MAX_MACS` when a multiple of 8, else `SMALL_MACS`.
    size: u8,
    seed: u64,
}

fn activation(v: u8) -> Activation {
    match v % 8 {
        0..=3 => Activation::Identity,
        4 => Activation::Relu,
        5 => Activation::Sigmoid,
        6 => Activation::Tanh,
        _ => Activation::Clamp {
            min: -4.0,
            max: 6.0,
        },
    }
}

/// The work budget of one execution in one case in eight, in multiply-adds: the largest shapes
/// (40×200×300) are 12× over it and shrink; most draws are under it and keep every tile and
/// block edge.
const MAX_MACS: usize = 200_000;

/// The budget of the other seven: small tiles and edges, several times cheaper (the `f64`
/// triple loop dominates an execution), so a ten-million-execution campaign fits in hours.
const SMALL_MACS: usize = 30_000;

fn run(c: Case) {
    let levels: Vec<_> = supported_levels().collect();
    let level = levels[c.level as usize % levels.len()];
    let (m, mut n, mut k) = (
        1 + (c.m % 40) as usize,
        1 + (c.n % 200) as usize,
        1 + (c.k % 300) as usize,
    );
    // Keep each execution cheap (the f64 triple loop): over the budget, halve the larger of
    // the depth and the column count until it fits (m alone stays under any budget).
    let budget = if c.size % 8 == 0 {
        MAX_MACS
    } else {
        SMALL_MACS
    };
    while m * n * k > budget {
        if k >= n {
            k = k.div_ceil(2);
        } else {
            n = n.div_ceil(2);
        }
    }
    let act = activation(c.activation);
    let gemm = Gemm::new(m, n, k)
        .unwrap()
        .transpose_a(c.transpose_a)
        .transpose_b(c.transpose_b)
        .accumulate(c.accumulate);
    let plan = GemmPlan::new(gemm, Some(level), act).unwrap();
    let a = fill(m * k, c.seed, c.integers);
    let b = fill(k * n, c.seed ^ 1, c.integers);
    let c0 = fill(m * n, c.seed ^ 2, c.integers);
    let bias_v = fill(if c.bias % 3 == 1 { m } else { n }, c.seed ^ 3, c.integers);
    let bias = match c.bias % 3 {
        0 => GemmBias::None,
        1 => GemmBias::Rows(&bias_v),
        _ => GemmBias::Columns(&bias_v),
    };
    let ctx = || format!("at {level} {gemm:?} {act:?} bias {}", c.bias % 3);

    let mut out = if c.accumulate {
        c0.clone()
    } else {
        vec![f32::NAN; m * n]
    };
    let mut scratch = vec![f32::NAN; plan.scratch_len()];
    plan.run(&a, &b, &mut out, bias, &mut scratch).unwrap();

    let mut packed = vec![f32::NAN; plan.packed_b_len()];
    plan.pack_b(&b, &mut packed).unwrap();
    let mut out2 = if c.accumulate {
        c0.clone()
    } else {
        vec![f32::NAN; m * n]
    };
    let mut scratch = vec![f32::NAN; plan.packed_b_scratch_len()];
    plan.run_packed_b(&a, &packed, &mut out2, bias, &mut scratch)
        .unwrap();
    assert!(
        out.iter()
            .zip(&out2)
            .all(|(x, y)| x.to_bits() == y.to_bits()),
        "run_packed_b differs from run {}",
        ctx()
    );

    // The reference: A as m×k rows and B as n columns of k, in f64, so the inner loop is a
    // plain dot product of two slices (cheap under the fuzzer's instrumentation).
    let a_rows: Vec<f64> = (0..m * k)
        .map(|i| {
            let (row, p) = (i / k, i % k);
            (if c.transpose_a { a[p * m + row] } else { a[i] }) as f64
        })
        .collect();
    let b_cols: Vec<f64> = (0..n * k)
        .map(|i| {
            let (col, p) = (i / k, i % k);
            (if c.transpose_b { b[i] } else { b[p * n + col] }) as f64
        })
        .collect();
    let exact = c.integers
        && matches!(
            act,
            Activation::Identity | Activation::Relu | Activation::Clamp { .. }
        );
    for (i, a_row) in a_rows.chunks(k).enumerate() {
        for (j, b_col) in b_cols.chunks(k).enumerate() {
            let (mut s, mut mag) = (0.0f64, 0.0f64);
            for (x, y) in a_row.iter().zip(b_col) {
                s += x * y;
                mag += (x * y).abs();
            }
            if c.accumulate {
                s += c0[i * n + j] as f64;
                mag += (c0[i * n + j] as f64).abs();
            }
            match bias {
                GemmBias::None => {}
                GemmBias::Rows(v) => s += v[i] as f64,
                GemmBias::Columns(v) => s += v[j] as f64,
            }
            let want = act.apply_reference(s);
            let got = out[i * n + j] as f64;
            let tol = if exact {
                0.0
            } else {
                (1e-6 * mag).max(1e-5) + 2e-6 * want.abs()
            };
            assert!(
                (got - want).abs() <= tol,
                "({i}, {j}): got {got} want {want} (tol {tol:e}) {}",
                ctx()
            );
        }
    }

    // Hostile lengths: a wrong A, B, C or scratch is a length error, never a panic.
    let (la, ba) = skewed(m * k, c.skew.0);
    let (lb, bb) = skewed(k * n, c.skew.1);
    let (lc, bc) = skewed(m * n, c.skew.2);
    let (ls, bs) = skewed(plan.scratch_len(), c.skew.3);
    let short_scratch = bs && ls < plan.scratch_len();
    let (a2, b2) = (fill(la, c.seed, false), fill(lb, c.seed, false));
    let mut c2 = vec![0.0; lc];
    let mut s2 = vec![0.0; ls];
    let r = plan.run(&a2, &b2, &mut c2, GemmBias::None, &mut s2);
    assert_eq!(
        r.is_ok(),
        !(ba || bb || bc || short_scratch),
        "{r:?} {}",
        ctx()
    );
    if let Err(e) = r {
        assert!(matches!(e, Error::LengthMismatch { .. }), "{e:?} {}", ctx());
    }
    let r = plan.pack_b(&b2, &mut packed);
    assert_eq!(r.is_ok(), !bb, "pack_b {r:?} {}", ctx());
}

fuzz_target!(|c: Case| run(c));
