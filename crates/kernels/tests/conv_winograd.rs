//! Winograd F(m×m, 3×3): transform matrices rebuilt from their points, 1-D exactness, error
//! bounds on N(0,1) data, and proptests against the reference at every SIMD level.

mod common;
#[path = "common/winograd_scale.rs"]
mod winograd_scale;

use common::conv_paths::assert_unit_writes_only_its_elements;
use convkit_kernels::conv::WinogradMatrices;
use convkit_kernels::reference::conv2d;
use convkit_kernels::{
    simd, Activation, Algorithm, Conv2d, Conv2dPlan, ConvOptions, Error, Level, OutputPiece,
    Padding,
};
use proptest::prelude::*;

const WINOGRAD: [Algorithm; 3] = [
    Algorithm::Winograd2x2,
    Algorithm::Winograd4x4,
    Algorithm::Winograd6x6,
];

/// Normwise relative error bounds the issue sets, per tile size (F(2,3), F(4,3), F(6,3)).
fn bound(algorithm: Algorithm) -> f64 {
    match algorithm {
        Algorithm::Winograd2x2 => 3e-6,
        Algorithm::Winograd4x4 => 2e-5,
        _ => 2e-4,
    }
}

fn cases() -> u32 {
    std::env::var("CONVKIT_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

// ---------------------------------------------------------------- transform matrices (f64)

/// `(Aᵀ, Bᵀ, G)` rebuilt from the points: `Aᵀ[i][j] = p_j^i`, `G[j][k] = p_j^k / N_j`,
/// `Bᵀ = diag(N)·V⁻ᵀ` with `V` the full Vandermonde matrix; infinity gives unit vectors.
fn construct(m: usize, points: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let a = m + 2;
    assert_eq!(points.len(), a - 1);
    let row = |j: usize, len: usize| -> Vec<f64> {
        if j == a - 1 {
            (0..len)
                .map(|i| if i == len - 1 { 1.0 } else { 0.0 })
                .collect()
        } else {
            (0..len).map(|i| points[j].powi(i as i32)).collect()
        }
    };
    let norm: Vec<f64> = (0..a)
        .map(|j| {
            if j == a - 1 {
                1.0
            } else {
                (0..a - 1)
                    .filter(|&l| l != j)
                    .map(|l| points[j] - points[l])
                    .product()
            }
        })
        .collect();
    let mut at = vec![0.0; m * a];
    for j in 0..a {
        for (i, v) in row(j, m).into_iter().enumerate() {
            at[i * a + j] = v;
        }
    }
    let mut g = vec![0.0; a * 3];
    for j in 0..a {
        for (k, v) in row(j, 3).into_iter().enumerate() {
            g[j * 3 + k] = v / norm[j];
        }
    }
    // Invert V by Gauss–Jordan with partial pivoting.
    let mut aug: Vec<Vec<f64>> = (0..a)
        .map(|j| {
            let mut r = row(j, a);
            r.extend((0..a).map(|i| if i == j { 1.0 } else { 0.0 }));
            r
        })
        .collect();
    for c in 0..a {
        let p = (c..a)
            .max_by(|&x, &y| aug[x][c].abs().total_cmp(&aug[y][c].abs()))
            .unwrap();
        aug.swap(c, p);
        let d = aug[c][c];
        aug[c].iter_mut().for_each(|x| *x /= d);
        for r in 0..a {
            if r != c {
                let f = aug[r][c];
                let pivot = aug[c].clone();
                aug[r].iter_mut().zip(pivot).for_each(|(x, y)| *x -= f * y);
            }
        }
    }
    // Bᵀ[i][j] = N_i · V⁻¹[j][i].
    let mut bt = vec![0.0; a * a];
    for i in 0..a {
        for j in 0..a {
            bt[i * a + j] = norm[i] * aug[j][a + i];
        }
    }
    (at, bt, g)
}

#[test]
fn matrices_match_their_construction_from_the_points() {
    for alg in WINOGRAD {
        let f = WinogradMatrices::of(alg).unwrap();
        let (at, bt, g) = construct(f.m, f.points);
        for (i, (&c, &e)) in f.at.iter().zip(&at).enumerate() {
            assert!((c as f64 - e).abs() <= 1e-12, "{alg} Aᵀ[{i}]: {c} vs {e}");
            assert_eq!(c as f64, e, "{alg} Aᵀ entries are exact in f32");
        }
        for (i, (&c, &e)) in f.bt.iter().zip(&bt).enumerate() {
            assert!((c as f64 - e).abs() <= 1e-12, "{alg} Bᵀ[{i}]: {c} vs {e}");
        }
        for (i, (&c, &e)) in f.g.iter().zip(&g).enumerate() {
            assert!((c - e).abs() <= 1e-15, "{alg} G[{i}]: {c} vs {e}");
        }
        assert_eq!(
            (f.at.len(), f.bt.len(), f.g.len()),
            (f.m * f.alpha, f.alpha * f.alpha, f.alpha * 3)
        );
    }
}

#[test]
fn one_dimensional_transforms_reproduce_correlation_in_f64() {
    let mut rng = Rng(7);
    for alg in WINOGRAD {
        let f = WinogradMatrices::of(alg).unwrap();
        let a = f.alpha;
        for _ in 0..100 {
            let d: Vec<f64> = (0..a).map(|_| rng.normal()).collect();
            let g: Vec<f64> = (0..3).map(|_| rng.normal()).collect();
            let gg: Vec<f64> = (0..a)
                .map(|j| (0..3).map(|k| f.g[j * 3 + k] * g[k]).sum())
                .collect();
            let bd: Vec<f64> = (0..a)
                .map(|j| (0..a).map(|k| f.bt[j * a + k] as f64 * d[k]).sum())
                .collect();
            for i in 0..f.m {
                let y: f64 = (0..a).map(|j| f.at[i * a + j] as f64 * gg[j] * bd[j]).sum();
                let direct: f64 = (0..3).map(|k| g[k] * d[i + k]).sum();
                assert!((y - direct).abs() <= 1e-12, "{alg} y[{i}]: {y} vs {direct}");
            }
        }
    }
}

// ---------------------------------------------------------------- helpers

/// xorshift64* with Box–Muller normals: seeded, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * core::f64::consts::PI * v).cos()
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.normal() as f32).collect()
    }
}

fn plan(desc: &Conv2d, alg: Algorithm, level: Level, act: Activation) -> Conv2dPlan {
    Conv2dPlan::new(
        desc,
        ConvOptions {
            algorithm: alg,
            level: Some(level),
            activation: act,
        },
    )
    .unwrap()
}

fn run(plan: &Conv2dPlan, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f32> {
    let mut y = vec![f32::NAN; plan.descriptor().output_len()];
    // Poisoned scratch: the kernel must not depend on its contents.
    let mut s = vec![f32::NAN; plan.scratch_len()];
    plan.run(x, w, b, &mut y, &mut s).unwrap();
    y
}

fn reference_f64(desc: &Conv2d, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f64> {
    let x: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let w: Vec<f64> = w.iter().map(|&v| v as f64).collect();
    let b: Option<Vec<f64>> = b.map(|b| b.iter().map(|&v| v as f64).collect());
    let mut y = vec![0.0f64; desc.output_len()];
    conv2d::<f64>(desc, &x, &w, b.as_deref(), &mut y).unwrap();
    y
}

// ---------------------------------------------------------------- numerics

/// Normwise relative error on N(0,1) data for each tile size and C ∈ {16, 64, 256, 512}
/// (K = 16, 12×12 image, pad 1), at the fastest level. Prints the table
/// (`cargo test --release --test conv_winograd error_table -- --nocapture`).
#[test]
fn error_table_within_bounds() {
    let level = simd::detected();
    for c in [16usize, 64, 256, 512] {
        let desc = Conv2d::builder()
            .channels(c, 16)
            .input_size(12, 12)
            .kernel_size(3, 3)
            .padding(Padding::uniform(1))
            .build()
            .unwrap();
        let mut rng = Rng(c as u64 * 1000 + 1);
        let x = rng.vec(desc.input_len());
        let w = rng.vec(desc.weights_len());
        let yr = reference_f64(&desc, &x, &w, None);
        let norm: f64 = yr.iter().map(|v| v * v).sum::<f64>().sqrt();
        let xa: Vec<f32> = x.iter().map(|v| v.abs()).collect();
        let wa: Vec<f32> = w.iter().map(|v| v.abs()).collect();
        let sum_abs = reference_f64(&desc, &xa, &wa, None);
        let mut line = format!("C = {c:3}:");
        for alg in std::iter::once(Algorithm::Reference).chain(WINOGRAD) {
            let y = run(&plan(&desc, alg, level, Activation::Identity), &x, &w, None);
            let err: f64 = y
                .iter()
                .zip(&yr)
                .map(|(&a, &b)| (a as f64 - b).powi(2))
                .sum::<f64>()
                .sqrt();
            let rel = err / norm;
            // Worst element relative to Σ|x·w|, in units of the tile's normwise bound: the
            // constant the proptest tolerance `8·bound·Σ|x·w|` must cover.
            let elem = y
                .iter()
                .zip(&yr)
                .zip(&sum_abs)
                .map(|((&a, &b), &s)| (a as f64 - b).abs() / s)
                .fold(0.0, f64::max);
            line += &format!("  {alg} {rel:.2e} (elem {:.2})", elem / bound(alg));
            if alg != Algorithm::Reference {
                assert!(rel <= bound(alg), "{alg} C={c}: {rel:e} > {:e}", bound(alg));
            }
        }
        println!("{line}");
    }
}

// ---------------------------------------------------------------- plan API

#[test]
fn unsupported_shapes_are_errors() {
    let base = Conv2d::builder().channels(2, 2).input_size(9, 9);
    let bad = [
        base.kernel_size(5, 5).build().unwrap(),
        base.kernel_size(3, 3).stride(2, 2).build().unwrap(),
        base.kernel_size(3, 3).dilation(2, 2).build().unwrap(),
        base.kernel_size(3, 1).build().unwrap(),
    ];
    for desc in bad {
        for alg in WINOGRAD {
            let r = Conv2dPlan::new(
                &desc,
                ConvOptions {
                    algorithm: alg,
                    ..Default::default()
                },
            );
            assert!(
                matches!(r, Err(Error::UnsupportedAlgorithm { .. })),
                "{alg}: {r:?}"
            );
        }
    }
}

#[test]
fn prepared_weights_give_the_same_bits_and_lengths_are_checked() {
    let desc = Conv2d::builder()
        .batch(2)
        .channels(6, 10)
        .groups(2)
        .input_size(13, 11)
        .kernel_size(3, 3)
        .padding(Padding {
            top: 2,
            bottom: 0,
            left: 1,
            right: 2,
        })
        .build()
        .unwrap();
    let mut rng = Rng(3);
    let (x, w, b) = (
        rng.vec(desc.input_len()),
        rng.vec(desc.weights_len()),
        rng.vec(10),
    );
    for level in simd::supported_levels() {
        for alg in WINOGRAD {
            let p = plan(&desc, alg, level, Activation::Relu);
            let y = run(&p, &x, &w, Some(&b));
            let mut prepared = vec![0.0; p.prepared_weights_len()];
            assert!(p.prepared_scratch_len() < p.scratch_len());
            p.prepare_weights(&w, &mut prepared).unwrap();
            let mut y2 = vec![0.0; desc.output_len()];
            let mut s = vec![f32::NAN; p.prepared_scratch_len()];
            p.run_prepared(&x, &prepared, Some(&b), &mut y2, &mut s)
                .unwrap();
            assert_eq!(y, y2, "{alg} {level}");
            assert!(matches!(
                p.run_prepared(&x, &w, Some(&b), &mut y2, &mut s),
                Err(Error::LengthMismatch { .. })
            ));
            assert!(matches!(
                p.prepare_weights(&w[1..], &mut prepared),
                Err(Error::LengthMismatch { .. })
            ));
            let short = p.prepared_scratch_len() - 1;
            assert!(p
                .run_prepared(&x, &prepared, Some(&b), &mut y2, &mut s[..short])
                .is_err());
        }
    }
    // Algorithms on raw weights have nothing to prepare and take the raw weights.
    let p = plan(
        &desc,
        Algorithm::Reference,
        Level::Portable,
        Activation::Identity,
    );
    assert_eq!(p.prepared_weights_len(), 0);
    p.prepare_weights(&w, &mut []).unwrap();
    let mut y = vec![0.0; desc.output_len()];
    p.run_prepared(&x, &w, None, &mut y, &mut []).unwrap();
}

#[test]
fn names_round_trip() {
    for (alg, name) in WINOGRAD
        .iter()
        .zip(["winograd-2x2", "winograd-4x4", "winograd-6x6"])
    {
        assert_eq!(alg.name(), name);
        assert_eq!(Algorithm::from_name(name), Some(*alg));
    }
}

// ---------------------------------------------------------------- proptests

#[derive(Clone, Debug)]
struct Case {
    desc: Conv2d,
    alg: Algorithm,
    act: Activation,
    bias: bool,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..=3, 1usize..=4, 1usize..=24, 1usize..=24),
        (0usize..=2, 0usize..=2, 0usize..=2, 0usize..=2),
        (0usize..3, 0usize..5, any::<bool>(), any::<u64>()),
        (1usize..=70, 1usize..=70),
    )
        .prop_filter_map(
            "output must exist",
            |((n, groups, h, w), (top, bottom, left, right), (a, act, bias, seed), (c, k))| {
                let (c, k) = (c.div_ceil(groups) * groups, k.div_ceil(groups) * groups);
                let (c, k) = (c.min(72), k.min(72));
                let desc = Conv2d::builder()
                    .batch(n)
                    .channels(c, k)
                    .groups(groups)
                    .input_size(h, w)
                    .kernel_size(3, 3)
                    .padding(Padding {
                        top,
                        bottom,
                        left,
                        right,
                    })
                    .build()
                    .ok()?;
                let act = [
                    Activation::Identity,
                    Activation::Relu,
                    Activation::Sigmoid,
                    Activation::Tanh,
                    Activation::Clamp {
                        min: -0.5,
                        max: 0.5,
                    },
                ][act];
                Some(Case {
                    desc,
                    alg: WINOGRAD[a],
                    act,
                    bias,
                    seed,
                })
            },
        )
}

/// Per-element tolerance: `max(1e-5, 8·bound·S)`, `S = Σ_c max|x_c|·Σ|w_{k,c}|` over the
/// element's tile input window (`winograd_tile_scale`). The Winograd rounding error of one
/// output is a sum over the whole `α × α` input tile of transform-domain products, each a
/// constant (the growth of `Aᵀ`, `Bᵀ`, `G`) times `|x|·|w|` terms: every input of the window
/// meets every tap, so the error scales with the window's magnitudes, not with the element's own
/// `Σ|x·w|` (zero at a window of padding, or where the weights that meet the input are zero,
/// next to nonzero neighbours: the fuzz target found such a case on integer data) nor with
/// `|y|` (cancellation). The error table measures the worst element on N(0,1) data at ≤ 0.12×
/// the normwise bound times its own `Σ|x·w|`; 8× the bound leaves room for tiny channel counts
/// (no averaging). Activations are 1-Lipschitz.
fn check(c: &Case, level: Level) -> Result<(), TestCaseError> {
    let d = &c.desc;
    let mut rng = Rng(c.seed | 1);
    let x = rng.vec(d.input_len());
    let w = rng.vec(d.weights_len());
    let b = rng.vec(d.out_channels());
    let b = c.bias.then_some(&b[..]);
    let p = plan(d, c.alg, level, c.act);
    let y = run(&p, &x, &w, b);
    let yr = reference_f64(d, &x, &w, b);
    let s = winograd_scale::winograd_tile_scale(d, WinogradMatrices::of(c.alg).unwrap().m, &x, &w);
    for i in 0..y.len() {
        let want = c.act.apply_reference(yr[i]);
        let tol = (8.0 * bound(c.alg) * s[i]).max(1e-5);
        prop_assert!(
            (y[i] as f64 - want).abs() <= tol,
            "{} {level} {:?} at {i}: {} vs {want} (tol {tol:e})",
            c.alg,
            d,
            y[i]
        );
    }
    // Work-unit split: each unit run in its own piece gives the same bits as the whole call.
    let mut y2 = vec![f32::NAN; d.output_len()];
    let mut scratch = vec![f32::NAN; p.scratch_len()];
    let mut piece = OutputPiece::whole(&mut y2, p.unit_geometry()).unwrap();
    while !piece.is_empty() {
        let (first, rest) = piece.split_at(1);
        p.run_piece(first, &x, &w, b, &mut scratch).unwrap();
        piece = rest;
    }
    prop_assert!(
        y.iter().zip(&y2).all(|(a, b)| a.to_bits() == b.to_bits()),
        "run_piece differs from run"
    );
    Ok(())
}

/// Few units (one small image: one unit; three images of one unit each) make the plan cut the
/// output channels in two blocks of `mr`-multiples; every unit, run in its own piece, still
/// matches the reference and the whole call's bits (`check`) and writes only its elements.
#[test]
fn small_images_split_output_channels() {
    for (n, k, hw, alg) in [
        (1, 37, 7, Algorithm::Winograd2x2),
        (3, 64, 7, Algorithm::Winograd2x2),
        (1, 29, 28, Algorithm::Winograd4x4),
        (1, 70, 9, Algorithm::Winograd6x6),
    ] {
        let desc = Conv2d::builder()
            .batch(n)
            .channels(13, k)
            .input_size(hw, hw)
            .kernel_size(3, 3)
            .padding(Padding::uniform(1))
            .build()
            .unwrap();
        for level in simd::supported_levels() {
            let g = plan(&desc, alg, level, Activation::Relu).unit_geometry();
            assert_eq!(g.channel_blocks(), 2, "{alg} {level} {desc:?}");
            let c = Case {
                desc,
                alg,
                act: Activation::Relu,
                bias: true,
                seed: k as u64,
            };
            check(&c, level).unwrap();
            let p = plan(&desc, alg, level, Activation::Relu);
            let mut rng = Rng(5);
            let (x, w) = (rng.vec(desc.input_len()), rng.vec(desc.weights_len()));
            for u in 0..g.units() {
                assert_unit_writes_only_its_elements(&p, u, |piece, scratch| {
                    p.run_piece(piece, &x, &w, None, scratch).unwrap()
                });
            }
        }
    }
}

/// Both numberings of the transform-domain columns (flat: a vector of tiles spans tile
/// rows, through the tile buffer; row-aligned: every tile row starts a vector, loaded straight
/// from the strip), on the widths where each is chosen at 16, 8 and 4 lanes, with clipped
/// tiles at the right and bottom borders, uneven padding and a unit count that leaves a
/// short last unit: each matches the reference, and each unit in its own piece the whole
/// call's bits (`check`).
#[test]
fn flat_and_row_aligned_tile_numberings_match_reference() {
    for (alg, h, w, pad) in [
        (Algorithm::Winograd4x4, 28, 28, (1, 1, 1, 1)), // 7 tiles a row: flat at 16 and 8 lanes
        (Algorithm::Winograd4x4, 56, 56, (1, 1, 1, 1)), // 14: row-aligned at 16 lanes
        (Algorithm::Winograd4x4, 13, 30, (0, 2, 2, 1)), // clipped tiles both ways
        (Algorithm::Winograd2x2, 7, 7, (1, 1, 1, 1)),   // 4 tiles a row, one vector of 16
        (Algorithm::Winograd2x2, 45, 37, (1, 0, 0, 1)), // long odd rows, many units
        (Algorithm::Winograd6x6, 23, 19, (2, 1, 1, 2)), // scalar strip deinterleave (m = 6)
    ] {
        let desc = Conv2d::builder()
            .batch(2)
            .channels(19, 21)
            .input_size(h, w)
            .kernel_size(3, 3)
            .padding(Padding {
                top: pad.0,
                bottom: pad.1,
                left: pad.2,
                right: pad.3,
            })
            .build()
            .unwrap();
        for level in simd::supported_levels() {
            let c = Case {
                desc,
                alg,
                act: Activation::Identity,
                bias: true,
                seed: (h * 100 + w) as u64,
            };
            check(&c, level).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn matches_reference_at_every_level(c in case()) {
        for level in simd::supported_levels() {
            check(&c, level)?;
        }
    }
}
