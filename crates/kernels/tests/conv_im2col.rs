//! The im2col paths (`im2col`, `im2col-mm`) against the plain-loop reference, at every SIMD
//! level this CPU supports: random descriptors (proptest), exact small-integer runs, every
//! activation with and without bias, piece-split bit identity, tile-boundary sweeps and
//! error cases.
//!
//! `CONVKIT_PROPTEST_CASES` raises the number of random cases (default 32).

mod common;

use common::conv_paths::assert_unit_writes_only_its_elements;
use convkit_kernels::gemm::Blocking;
use convkit_kernels::reference;
use convkit_kernels::simd::supported_levels;
use convkit_kernels::{
    Activation, Algorithm, Conv2d, Conv2dPlan, ConvOptions, Error, Level, OutputPiece, Padding,
};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("CONVKIT_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32)
}

fn algorithms() -> Vec<Algorithm> {
    vec![
        Algorithm::Im2colGemm,
        #[cfg(feature = "std")]
        Algorithm::Im2colMatrixMultiply,
    ]
}

fn activations() -> [Activation; 5] {
    [
        Activation::Identity,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Clamp {
            min: -3.0,
            max: 5.0,
        },
    ]
}

/// A small deterministic generator (xorshift) for tensor contents.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn small_int(&mut self) -> f32 {
        (self.next() % 17) as f32 - 8.0
    }
}

struct Tensors {
    input: Vec<f32>,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

fn tensors(desc: &Conv2d, seed: u64, ints: bool) -> Tensors {
    let mut rng = Rng(seed | 1);
    let mut gen = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| if ints { rng.small_int() } else { rng.uniform() })
            .collect()
    };
    Tensors {
        input: gen(desc.input_len()),
        weights: gen(desc.weights_len()),
        bias: gen(desc.bias_len()),
    }
}

/// Reference output in f64 (with activation) and the per-element tolerance.
fn expected(desc: &Conv2d, t: &Tensors, bias: bool, act: Activation) -> (Vec<f64>, Vec<f64>) {
    let to64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let abs64 = |v: &[f32]| v.iter().map(|&x| (x as f64).abs()).collect::<Vec<f64>>();
    let (x, w, b) = (to64(&t.input), to64(&t.weights), to64(&t.bias));
    let mut y = vec![0.0f64; desc.output_len()];
    reference::conv2d(desc, &x, &w, bias.then_some(&b[..]), &mut y).unwrap();
    let (xa, wa, ba) = (abs64(&t.input), abs64(&t.weights), abs64(&t.bias));
    let mut s = vec![0.0f64; desc.output_len()];
    reference::conv2d(desc, &xa, &wa, bias.then_some(&ba[..]), &mut s).unwrap();
    let y = y.into_iter().map(|v| act.apply_reference(v)).collect();
    let tol = s.into_iter().map(|s| (1e-6 * s).max(1e-5)).collect();
    (y, tol)
}

fn run(
    desc: &Conv2d,
    algorithm: Algorithm,
    level: Level,
    act: Activation,
    t: &Tensors,
    bias: bool,
) -> Vec<f32> {
    let plan = Conv2dPlan::new(
        desc,
        ConvOptions {
            algorithm,
            level: Some(level),
            activation: act,
        },
    )
    .unwrap();
    // NaN-filled output and scratch: anything not written (or read before written) shows.
    let mut out = vec![f32::NAN; desc.output_len()];
    let mut scratch = vec![f32::NAN; plan.scratch_len()];
    plan.run(
        &t.input,
        &t.weights,
        bias.then_some(&t.bias[..]),
        &mut out,
        &mut scratch,
    )
    .unwrap();
    // Prepared (packed) weights give the same bits as raw weights.
    if plan.prepared_weights_len() > 0 {
        let mut prepared = vec![f32::NAN; plan.prepared_weights_len()];
        plan.prepare_weights(&t.weights, &mut prepared).unwrap();
        let mut again = vec![f32::NAN; desc.output_len()];
        let mut scratch = vec![f32::NAN; plan.prepared_scratch_len()];
        plan.run_prepared(
            &t.input,
            &prepared,
            bias.then_some(&t.bias[..]),
            &mut again,
            &mut scratch,
        )
        .unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        assert_eq!(
            bits(&again),
            bits(&out),
            "{algorithm} {level} prepared vs raw"
        );
    }
    out
}

/// Checks every algorithm at every level against the reference.
fn check_all(desc: &Conv2d, seed: u64, ints: bool, act: Activation, bias: bool) {
    let t = tensors(desc, seed, ints);
    let (want, tol) = expected(desc, &t, bias, act);
    for level in supported_levels() {
        for algorithm in algorithms() {
            let got = run(desc, algorithm, level, act, &t, bias);
            for (i, (&g, (&w, &tol))) in got.iter().zip(want.iter().zip(&tol)).enumerate() {
                let ok = if ints {
                    g as f64 == w
                } else {
                    (g as f64 - w).abs() <= tol
                };
                assert!(
                    ok,
                    "{algorithm} {level} {act:?} bias={bias} ints={ints} {desc:?}: \
                     element {i}: got {g}, want {w} (tol {tol})"
                );
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Shape {
    batch: usize,
    groups: usize,
    cg: usize,
    kg: usize,
    h: usize,
    w: usize,
    r: usize,
    s: usize,
    stride: (usize, usize),
    dilation: (usize, usize),
    pad: [usize; 4],
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        (1usize..=3, 1usize..=4, 1usize..=70, 1usize..=70),
        (1usize..=40, 1usize..=40, 1usize..=7, 1usize..=7),
        ((1usize..=3, 1usize..=3), (1usize..=3, 1usize..=3)),
        [0usize..=4, 0usize..=4, 0usize..=4, 0usize..=4],
    )
        .prop_map(
            |((batch, groups, c, k), (h, w, r, s), (stride, dilation), pad)| Shape {
                batch,
                groups,
                cg: c.div_ceil(groups),
                kg: k.div_ceil(groups),
                h,
                w,
                r,
                s,
                stride,
                dilation,
                pad,
            },
        )
}

/// Builds the descriptor, shrinking the largest size until the reference stays cheap and
/// making the kernel fit the padded input.
fn build(mut s: Shape) -> Conv2d {
    loop {
        let fit_h = s.h + s.pad[0] + s.pad[1];
        let fit_w = s.w + s.pad[2] + s.pad[3];
        while s.dilation.0 * (s.r - 1) + 1 > fit_h {
            if s.dilation.0 > 1 {
                s.dilation.0 -= 1;
            } else {
                s.r -= 1;
            }
        }
        while s.dilation.1 * (s.s - 1) + 1 > fit_w {
            if s.dilation.1 > 1 {
                s.dilation.1 -= 1;
            } else {
                s.s -= 1;
            }
        }
        let desc = Conv2d::builder()
            .batch(s.batch)
            .channels(s.cg * s.groups, s.kg * s.groups)
            .groups(s.groups)
            .input_size(s.h, s.w)
            .kernel_size(s.r, s.s)
            .stride(s.stride.0, s.stride.1)
            .dilation(s.dilation.0, s.dilation.1)
            .padding(Padding {
                top: s.pad[0],
                bottom: s.pad[1],
                left: s.pad[2],
                right: s.pad[3],
            })
            .build()
            .unwrap();
        let work = desc.flops() / 2.0;
        if work <= 1.5e6 {
            return desc;
        }
        // Halve the largest of the sizes that matter.
        let biggest = [s.cg, s.kg, s.h, s.w, s.batch];
        let i = (0..5).max_by_key(|&i| biggest[i]).unwrap();
        match i {
            0 => s.cg = s.cg.div_ceil(2),
            1 => s.kg = s.kg.div_ceil(2),
            2 => s.h = s.h.div_ceil(2),
            3 => s.w = s.w.div_ceil(2),
            _ => s.batch = s.batch.div_ceil(2),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_shapes_match_reference(s in shape(), seed in any::<u64>(), act in 0usize..5, bias in any::<bool>()) {
        let desc = build(s);
        check_all(&desc, seed, false, activations()[act], bias);
    }

    #[test]
    fn small_integers_are_exact(s in shape(), seed in any::<u64>(), bias in any::<bool>(), relu in any::<bool>()) {
        let desc = build(s);
        let act = if relu { Activation::Relu } else { Activation::Identity };
        check_all(&desc, seed, true, act, bias);
    }

    #[test]
    fn pieces_are_bit_identical(s in shape(), seed in any::<u64>(), cuts in proptest::collection::vec(0usize..64, 1..4)) {
        let desc = build(s);
        let t = tensors(&desc, seed, false);
        for level in supported_levels() {
            for algorithm in algorithms() {
                let plan = Conv2dPlan::new(&desc, ConvOptions {
                    algorithm,
                    level: Some(level),
                    activation: Activation::Tanh,
                }).unwrap();
                let whole = run(&desc, algorithm, level, Activation::Tanh, &t, true);
                let mut out = vec![f32::NAN; desc.output_len()];
                let mut rest = OutputPiece::whole(&mut out, plan.unit_geometry()).unwrap();
                for &c in &cuts {
                    let mid = c % (rest.len() + 1);
                    let (head, tail) = rest.split_at(mid);
                    let mut scratch = vec![f32::NAN; plan.scratch_len()];
                    plan.run_piece(head, &t.input, &t.weights, Some(&t.bias), &mut scratch).unwrap();
                    rest = tail;
                }
                let mut scratch = vec![f32::NAN; plan.scratch_len()];
                plan.run_piece(rest, &t.input, &t.weights, Some(&t.bias), &mut scratch).unwrap();
                prop_assert!(whole.iter().zip(&out).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{} {} {:?}", algorithm, level, desc);
            }
        }
    }
}

#[test]
fn every_activation_with_and_without_bias() {
    let desc = Conv2d::builder()
        .batch(2)
        .channels(5, 11)
        .input_size(9, 13)
        .kernel_size(3, 2)
        .padding(Padding {
            top: 1,
            bottom: 0,
            left: 2,
            right: 1,
        })
        .build()
        .unwrap();
    for act in activations() {
        for bias in [false, true] {
            check_all(&desc, 7, false, act, bias);
        }
    }
}

/// M (output channels), N (pixels) and Kd straddling every tile and block boundary of every
/// level, for the 1×1 in-place path and the packed path, exact on small integers.
#[test]
fn tile_and_block_boundaries() {
    let mut ms = vec![1usize];
    let mut ns = vec![1usize];
    for level in supported_levels() {
        let b = Blocking::for_level(level);
        for m in [b.mr - 1, b.mr, b.mr + 1, 2 * b.mr + 1] {
            ms.push(m.max(1));
        }
        for n in [
            b.lanes - 1,
            b.lanes + 1,
            b.nr() - 1,
            b.nr(),
            b.nr() + 1,
            b.nc + 1,
        ] {
            ns.push(n.max(1));
        }
    }
    ms.sort_unstable();
    ms.dedup();
    ns.sort_unstable();
    ns.dedup();
    for &m in &ms {
        for &n in &ns {
            // 1×1, in place: N = the image width.
            let desc = Conv2d::builder()
                .channels(3, m)
                .input_size(1, n)
                .kernel_size(1, 1)
                .build()
                .unwrap();
            check_all(
                &desc,
                (m * 1000 + n) as u64,
                true,
                Activation::Identity,
                true,
            );
            // 3×3 padded: packed B.
            let desc = Conv2d::builder()
                .channels(2, m)
                .input_size(1, n)
                .kernel_size(3, 3)
                .padding(Padding::uniform(1))
                .build()
                .unwrap();
            check_all(&desc, (m * 1000 + n) as u64, true, Activation::Relu, false);
        }
    }
    // Depth Kd straddling kc (256 at every level) and 2·kc, in place and packed.
    for c in [255, 256, 257, 513] {
        let desc = Conv2d::builder()
            .channels(c, 9)
            .input_size(5, 7)
            .kernel_size(1, 1)
            .build()
            .unwrap();
        check_all(&desc, c as u64, true, Activation::Identity, true);
        let desc = Conv2d::builder()
            .channels(c, 9)
            .input_size(5, 7)
            .kernel_size(1, 1)
            .padding(Padding::uniform(1))
            .build()
            .unwrap();
        check_all(&desc, c as u64, true, Activation::Identity, true);
    }
}

#[test]
fn kernel_as_large_as_input_and_one_by_one_strided() {
    let full = Conv2d::builder()
        .batch(3)
        .channels(4, 10)
        .input_size(6, 5)
        .kernel_size(6, 5)
        .build()
        .unwrap();
    check_all(&full, 3, false, Activation::Sigmoid, true);
    let strided = Conv2d::builder()
        .channels(17, 19)
        .input_size(23, 29)
        .kernel_size(1, 1)
        .stride(2, 3)
        .build()
        .unwrap();
    check_all(&strided, 4, true, Activation::Identity, true);
    let grouped_1x1 = Conv2d::builder()
        .batch(2)
        .channels(12, 18)
        .groups(3)
        .input_size(7, 9)
        .kernel_size(1, 1)
        .build()
        .unwrap();
    check_all(&grouped_1x1, 5, true, Activation::Identity, true);
}

#[test]
fn lenet_and_resnet_like_shapes() {
    for (c, k, hw, rs, pad) in [(1, 6, 28, 5, 2), (6, 16, 14, 5, 0), (64, 64, 14, 3, 1)] {
        let desc = Conv2d::builder()
            .batch(2)
            .channels(c, k)
            .input_size(hw, hw)
            .kernel_size(rs, rs)
            .padding(Padding::uniform(pad))
            .build()
            .unwrap();
        check_all(&desc, 11, true, Activation::Identity, true);
        check_all(&desc, 12, false, Activation::Sigmoid, true);
    }
}

/// One small image gives one unit; a 1×1 im2col plan then cuts the output channels in two
/// blocks of `MR`-multiples (a 3×3 one does not: each block would pack the patches again).
/// Each unit, run in its own piece (raw and prepared weights), gives the whole call's bits,
/// which match the reference, and writes only its own elements.
#[test]
fn small_images_split_output_channels() {
    for (c, k, hw, rs, blocks) in [
        (9, 37, 7, 1, 2),
        (64, 70, 5, 1, 2),
        (3, 20, 3, 1, 2),
        (9, 37, 7, 3, 1),
    ] {
        let desc = Conv2d::builder()
            .channels(c, k)
            .input_size(hw, hw)
            .kernel_size(rs, rs)
            .padding(Padding::uniform(rs / 2))
            .build()
            .unwrap();
        check_all(&desc, 21, true, Activation::Identity, true);
        check_all(&desc, 22, false, Activation::Tanh, false);
        let t = tensors(&desc, 23, false);
        for level in supported_levels() {
            let plan = Conv2dPlan::new(
                &desc,
                ConvOptions {
                    algorithm: Algorithm::Im2colGemm,
                    level: Some(level),
                    activation: Activation::Relu,
                },
            )
            .unwrap();
            assert_eq!(
                plan.unit_geometry().channel_blocks(),
                blocks,
                "{level} {desc:?}"
            );
            let whole = run(
                &desc,
                Algorithm::Im2colGemm,
                level,
                Activation::Relu,
                &t,
                true,
            );
            let mut prepared = vec![f32::NAN; plan.prepared_weights_len()];
            plan.prepare_weights(&t.weights, &mut prepared).unwrap();
            for with_prepared in [false, true] {
                let mut out = vec![f32::NAN; desc.output_len()];
                let mut piece = OutputPiece::whole(&mut out, plan.unit_geometry()).unwrap();
                while !piece.is_empty() {
                    let (first, rest) = piece.split_at(1);
                    let mut scratch = vec![f32::NAN; plan.scratch_len()];
                    if with_prepared {
                        plan.run_piece_prepared(
                            first,
                            &t.input,
                            &prepared,
                            Some(&t.bias),
                            &mut scratch,
                        )
                    } else {
                        plan.run_piece(first, &t.input, &t.weights, Some(&t.bias), &mut scratch)
                    }
                    .unwrap();
                    piece = rest;
                }
                assert!(
                    whole
                        .iter()
                        .zip(&out)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{level} prepared {with_prepared} {desc:?}"
                );
            }
            for u in 0..plan.unit_geometry().units() {
                assert_unit_writes_only_its_elements(&plan, u, |piece, scratch| {
                    plan.run_piece(piece, &t.input, &t.weights, Some(&t.bias), scratch)
                        .unwrap()
                });
            }
        }
    }
}

#[test]
fn bad_lengths_are_errors() {
    let desc = Conv2d::builder()
        .channels(3, 8)
        .input_size(10, 10)
        .kernel_size(3, 3)
        .build()
        .unwrap();
    for algorithm in algorithms() {
        let plan = Conv2dPlan::new(
            &desc,
            ConvOptions {
                algorithm,
                ..ConvOptions::default()
            },
        )
        .unwrap();
        assert!(plan.scratch_len() > 0);
        let input = vec![0.0; desc.input_len()];
        let weights = vec![0.0; desc.weights_len()];
        let bias = vec![0.0; desc.bias_len()];
        let mut out = vec![0.0; desc.output_len()];
        let mut scratch = vec![0.0; plan.scratch_len()];
        let err = |r: Result<(), Error>| matches!(r, Err(Error::LengthMismatch { .. }));
        let short = plan.scratch_len() - 1;
        assert!(err(plan.run(
            &input,
            &weights,
            None,
            &mut out,
            &mut scratch[..short]
        )));
        assert!(err(plan.run(
            &input[1..],
            &weights,
            None,
            &mut out,
            &mut scratch
        )));
        assert!(err(plan.run(
            &input,
            &weights[1..],
            None,
            &mut out,
            &mut scratch
        )));
        assert!(err(plan.run(
            &input,
            &weights,
            Some(&bias[1..]),
            &mut out,
            &mut scratch
        )));
        let n = out.len() - 1;
        assert!(err(plan.run(
            &input,
            &weights,
            None,
            &mut out[..n],
            &mut scratch
        )));
        assert!(plan
            .run(&input, &weights, Some(&bias), &mut out, &mut scratch)
            .is_ok());
    }
}

#[test]
fn names_and_selection() {
    assert_eq!(Algorithm::from_name("im2col"), Some(Algorithm::Im2colGemm));
    #[cfg(feature = "std")]
    assert_eq!(
        Algorithm::from_name("im2col-mm"),
        Some(Algorithm::Im2colMatrixMultiply)
    );
    // A GEMM-shaped problem: a 1×1 kernel (larger kernels go to the direct path and 3×3
    // stride-1 ones with many channels to Winograd, see conv::select).
    let desc = Conv2d::builder()
        .channels(64, 64)
        .input_size(10, 10)
        .kernel_size(1, 1)
        .build()
        .unwrap();
    let plan = Conv2dPlan::new(&desc, ConvOptions::default()).unwrap();
    assert_eq!(plan.algorithm(), Algorithm::Im2colGemm);
}
