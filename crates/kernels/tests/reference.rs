//! The reference kernels on the course's worked examples, and their algebraic properties.

use convkit_kernels::reference::{conv2d, convolve2d, corr2d, max_pool2d_with_indices, pool2d};
use convkit_kernels::{
    Activation, Conv2d, Conv2dPlan, ConvOptions, Error, Padding, Pool2d, Pool2dPlan, PoolKind,
    PoolOptions,
};
use proptest::prelude::*;

fn iota(n: usize, start: f32) -> Vec<f32> {
    (0..n).map(|i| start + i as f32).collect()
}

#[test]
fn corr2d_worked_example() {
    let mut y = [0.0f32; 4];
    corr2d(&iota(9, 0.0), 3, 3, &[0.0, 1.0, 2.0, 3.0], 2, 2, &mut y).unwrap();
    assert_eq!(y, [19.0, 25.0, 37.0, 43.0]);
}

#[test]
fn edge_detection_example() {
    // 6×8 ones with columns 2..6 zero; kernel [[1, −1]] marks the edges.
    let x: Vec<f32> = (0..48)
        .map(|i| if (2..6).contains(&(i % 8)) { 0.0 } else { 1.0 })
        .collect();
    let mut y = vec![0.0f32; 6 * 7];
    corr2d(&x, 6, 8, &[1.0, -1.0], 1, 2, &mut y).unwrap();
    for row in y.chunks(7) {
        assert_eq!(row, [0.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0]);
    }
    // The transposed input with the same kernel sees no vertical edge.
    let xt: Vec<f32> = (0..48).map(|i| x[(i % 6) * 8 + i / 6]).collect();
    let mut yt = vec![0.0f32; 8 * 5];
    corr2d(&xt, 8, 6, &[1.0, -1.0], 1, 2, &mut yt).unwrap();
    assert!(yt.iter().all(|&v| v == 0.0));
}

#[test]
fn two_input_channels_example() {
    let desc = Conv2d::builder()
        .channels(2, 1)
        .input_size(3, 3)
        .kernel_size(2, 2)
        .build()
        .unwrap();
    let input: Vec<f32> = iota(9, 0.0).into_iter().chain(iota(9, 1.0)).collect();
    let weights = [0.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 4.0];
    let mut y = [0.0f32; 4];
    conv2d(&desc, &input, &weights, None, &mut y).unwrap();
    assert_eq!(y, [56.0, 72.0, 104.0, 120.0]);
}

#[test]
fn three_output_channels_stack_k_k1_k2() {
    let desc = Conv2d::builder()
        .channels(2, 3)
        .input_size(3, 3)
        .kernel_size(2, 2)
        .build()
        .unwrap();
    let input: Vec<f32> = iota(9, 0.0).into_iter().chain(iota(9, 1.0)).collect();
    let k = [0.0f32, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 4.0];
    let weights: Vec<f32> = (0..3).flat_map(|i| k.map(|v| v + i as f32)).collect();
    let mut y = [0.0f32; 12];
    conv2d(&desc, &input, &weights, None, &mut y).unwrap();
    assert_eq!(
        y,
        [56.0, 72.0, 104.0, 120.0, 76.0, 100.0, 148.0, 172.0, 96.0, 128.0, 192.0, 224.0]
    );
}

#[test]
fn pooling_examples() {
    let x = iota(9, 0.0);
    for (kind, want) in [
        (PoolKind::Max, [4.0, 5.0, 7.0, 8.0]),
        (PoolKind::Average, [2.0, 3.0, 5.0, 6.0]),
    ] {
        let desc = Pool2d::builder(kind)
            .channels(1)
            .input_size(3, 3)
            .window(2, 2)
            .stride(1, 1)
            .build()
            .unwrap();
        let mut y = [0.0f32; 4];
        pool2d(&desc, &x, &mut y).unwrap();
        assert_eq!(y, want);
        let plan = Pool2dPlan::new(&desc, PoolOptions::default()).unwrap();
        let mut y = [0.0f32; 4];
        plan.run(&x, &mut y).unwrap();
        assert_eq!(y, want);
    }
}

#[test]
fn average_pool_padding_divisors() {
    // 2×2 input of ones, 3×3 window, padding 1, stride 1 → 2×2 output.
    let x = [1.0f32; 4];
    let build = |include| {
        Pool2d::builder(PoolKind::Average)
            .channels(1)
            .input_size(2, 2)
            .window(3, 3)
            .stride(1, 1)
            .padding(Padding::uniform(1))
            .count_include_pad(include)
            .build()
            .unwrap()
    };
    let mut y = [0.0f32; 4];
    pool2d(&build(true), &x, &mut y).unwrap();
    assert_eq!(y, [4.0 / 9.0; 4]);
    pool2d(&build(false), &x, &mut y).unwrap();
    assert_eq!(y, [1.0; 4]);
    // Ceil mode: a 3-wide input, window 2, stride 2, padding 1 gives windows at padded
    // columns 0..2 and 2..4 (= the padded edge) — PyTorch counts 2 taps in each.
    let d = Pool2d::builder(PoolKind::Average)
        .channels(1)
        .input_size(1, 3)
        .window(1, 2)
        .stride(1, 2)
        .padding(Padding::new(0, 0, 1, 1))
        .ceil_mode(true)
        .build()
        .unwrap();
    assert_eq!(d.output_width(), 2);
    let mut y = [0.0f32; 2];
    pool2d(&d, &[3.0, 5.0, 7.0], &mut y).unwrap();
    assert_eq!(y, [1.5, 6.0]);
    // A 4-wide input, window 3, stride 2, ceil mode, no padding: the last window (start 2)
    // reaches past the input; only its 2 real taps count, include-pad or not.
    let d = Pool2d::builder(PoolKind::Average)
        .channels(1)
        .input_size(1, 4)
        .window(1, 3)
        .stride(1, 2)
        .ceil_mode(true)
        .build()
        .unwrap();
    let mut y = [0.0f32; 2];
    pool2d(&d, &[1.0, 2.0, 3.0, 5.0], &mut y).unwrap();
    assert_eq!(y, [2.0, 4.0]);
}

#[test]
fn max_pool_indices_ties_to_first_and_nan_wins() {
    let d = Pool2d::builder(PoolKind::Max)
        .channels(1)
        .input_size(2, 4)
        .window(2, 2)
        .build()
        .unwrap();
    let x = [1.0, 3.0, 0.0, f32::NAN, 3.0, 2.0, 9.0, 1.0];
    let mut y = [0.0f32; 2];
    let mut idx = [0u32; 2];
    max_pool2d_with_indices(&d, &x, &mut y, &mut idx).unwrap();
    assert_eq!(y[0], 3.0);
    assert_eq!(idx[0], 1);
    assert!(y[1].is_nan());
    assert_eq!(idx[1], 3);
    let avg = Pool2d::builder(PoolKind::Average)
        .channels(1)
        .input_size(2, 4)
        .window(2, 2)
        .build()
        .unwrap();
    assert!(matches!(
        max_pool2d_with_indices(&avg, &x, &mut y, &mut idx),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn one_by_one_convolution_is_a_matrix_product() {
    let (c, k, hw) = (3, 2, 4);
    let desc = Conv2d::builder()
        .channels(c, k)
        .input_size(2, 2)
        .kernel_size(1, 1)
        .build()
        .unwrap();
    let x = iota(c * hw, -5.0);
    let w = iota(k * c, 1.0);
    let mut y = vec![0.0f32; k * hw];
    conv2d(&desc, &x, &w, None, &mut y).unwrap();
    for i in 0..k {
        for j in 0..hw {
            let dot: f32 = (0..c).map(|l| w[i * c + l] * x[l * hw + j]).sum();
            assert_eq!(y[i * hw + j], dot);
        }
    }
}

#[test]
fn bias_and_activation_through_the_plan() {
    let desc = Conv2d::builder()
        .channels(2, 3)
        .input_size(3, 3)
        .kernel_size(2, 2)
        .build()
        .unwrap();
    let input: Vec<f32> = iota(9, 0.0).into_iter().chain(iota(9, 1.0)).collect();
    let k = [0.0f32, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 4.0];
    let weights: Vec<f32> = (0..3).flat_map(|i| k.map(|v| v - 2.0 * i as f32)).collect();
    let bias = [-100.0f32, 0.5, 1.0];
    let mut plain = [0.0f32; 12];
    conv2d(&desc, &input, &weights, Some(&bias), &mut plain).unwrap();
    let plan = Conv2dPlan::new(
        &desc,
        ConvOptions {
            activation: Activation::Relu,
            ..Default::default()
        },
    )
    .unwrap();
    let mut y = [0.0f32; 12];
    let mut scratch = vec![0.0f32; plan.scratch_len()];
    plan.run(&input, &weights, Some(&bias), &mut y, &mut scratch)
        .unwrap();
    for (a, b) in plain.iter().zip(&y) {
        assert_eq!(a.max(0.0), *b);
    }
}

#[test]
fn slice_length_errors() {
    let desc = Conv2d::builder()
        .channels(1, 1)
        .input_size(3, 3)
        .kernel_size(2, 2)
        .build()
        .unwrap();
    let mut y = [0.0f32; 4];
    assert_eq!(
        conv2d(&desc, &[0.0; 8], &[0.0; 4], None, &mut y),
        Err(Error::LengthMismatch {
            what: "input",
            expected: 9,
            actual: 8
        })
    );
    assert!(matches!(
        conv2d(&desc, &[0.0; 9], &[0.0; 3], None, &mut y),
        Err(Error::LengthMismatch {
            what: "weights",
            ..
        })
    ));
    assert!(matches!(
        conv2d(&desc, &[0.0; 9], &[0.0; 4], Some(&[0.0; 2]), &mut y),
        Err(Error::LengthMismatch { what: "bias", .. })
    ));
    assert!(matches!(
        conv2d(&desc, &[0.0; 9], &[0.0; 4], None, &mut y[..3]),
        Err(Error::LengthMismatch { what: "output", .. })
    ));
    assert!(matches!(
        corr2d(&[0.0f32; 9], 3, 3, &[0.0; 4], 2, 2, &mut [0.0; 5]),
        Err(Error::LengthMismatch { what: "output", .. })
    ));
    assert!(matches!(
        corr2d(&[0.0f32; 9], 3, 3, &[0.0; 16], 4, 4, &mut [0.0; 1]),
        Err(Error::KernelLargerThanInput { .. })
    ));
    let plan = Conv2dPlan::new(&desc, ConvOptions::default()).unwrap();
    assert!(matches!(
        plan.run(&[0.0; 9], &[0.0; 4], None, &mut [0.0; 5], &mut []),
        Err(Error::LengthMismatch { what: "output", .. })
    ));
    let pool = Pool2d::builder(PoolKind::Max)
        .channels(1)
        .input_size(2, 2)
        .window(2, 2)
        .build()
        .unwrap();
    assert!(matches!(
        pool2d(&pool, &[0.0f32; 3], &mut [0.0; 1]),
        Err(Error::LengthMismatch { what: "input", .. })
    ));
}

#[test]
fn unsupported_level_and_bad_activation_are_plan_errors() {
    let desc = Conv2d::builder()
        .channels(1, 1)
        .input_size(3, 3)
        .kernel_size(2, 2)
        .build()
        .unwrap();
    for level in convkit_kernels::Level::ALL {
        let r = Conv2dPlan::new(
            &desc,
            ConvOptions {
                level: Some(level),
                ..Default::default()
            },
        );
        assert_eq!(r.is_ok(), level.is_supported(), "{level}");
    }
    assert!(matches!(
        Conv2dPlan::new(
            &desc,
            ConvOptions {
                activation: Activation::Clamp {
                    min: f32::NAN,
                    max: 1.0
                },
                ..Default::default()
            }
        ),
        Err(Error::InvalidParameter { .. })
    ));
}

fn cases() -> u32 {
    std::env::var("CONVKIT_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// A random single-channel problem with small-integer data: (x, h, w, k, kh, kw).
fn single_channel_problem(
) -> impl Strategy<Value = (Vec<f32>, usize, usize, Vec<f32>, usize, usize)> {
    (1usize..12, 1usize..12)
        .prop_flat_map(|(h, w)| (Just(h), Just(w), 1..=h, 1..=w))
        .prop_flat_map(|(h, w, kh, kw)| {
            (
                prop::collection::vec(-8i8..=8, h * w),
                Just(h),
                Just(w),
                prop::collection::vec(-8i8..=8, kh * kw),
                Just(kh),
                Just(kw),
            )
        })
        .prop_map(|(x, h, w, k, kh, kw)| {
            let f = |v: Vec<i8>| v.into_iter().map(f32::from).collect::<Vec<_>>();
            (f(x), h, w, f(k), kh, kw)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// A multi-channel convolution is the sum of single-channel corr2ds (integer data: exact).
    #[test]
    fn conv2d_is_a_sum_of_corr2ds(
        c in 1usize..5, k in 1usize..4,
        (h, w) in (1usize..10, 1usize..10),
        seed in any::<u64>(),
    ) {
        let kh = 1 + (seed % h as u64) as usize;
        let kw = 1 + ((seed >> 8) % w as u64) as usize;
        let desc = Conv2d::builder().channels(c, k).input_size(h, w).kernel_size(kh, kw).build().unwrap();
        let val = |i: usize, salt: u64| (((i as u64 * 2654435761 + salt + seed) >> 7) % 17) as f32 - 8.0;
        let x: Vec<f32> = (0..desc.input_len()).map(|i| val(i, 1)).collect();
        let wts: Vec<f32> = (0..desc.weights_len()).map(|i| val(i, 99)).collect();
        let mut y = vec![0.0f32; desc.output_len()];
        conv2d(&desc, &x, &wts, None, &mut y).unwrap();
        let (oh, ow) = (desc.output_height(), desc.output_width());
        let mut part = vec![0.0f32; oh * ow];
        for ko in 0..k {
            let mut sum = vec![0.0f32; oh * ow];
            for ci in 0..c {
                let xi = &x[ci * h * w..(ci + 1) * h * w];
                let wi = &wts[(ko * c + ci) * kh * kw..(ko * c + ci + 1) * kh * kw];
                corr2d(xi, h, w, wi, kh, kw, &mut part).unwrap();
                for (s, p) in sum.iter_mut().zip(&part) { *s += p; }
            }
            prop_assert_eq!(&y[ko * oh * ow..(ko + 1) * oh * ow], &sum[..]);
        }
    }

    /// convolve2d is corr2d with the kernel flipped both ways.
    #[test]
    fn convolve2d_is_corr2d_with_flipped_kernel((x, h, w, k, kh, kw) in single_channel_problem()) {
        let flipped: Vec<f32> = (0..kh * kw).map(|i| k[kh * kw - 1 - i]).collect();
        let n = (h - kh + 1) * (w - kw + 1);
        let (mut a, mut b) = (vec![0.0f32; n], vec![0.0f32; n]);
        convolve2d(&x, h, w, &k, kh, kw, &mut a).unwrap();
        corr2d(&x, h, w, &flipped, kh, kw, &mut b).unwrap();
        prop_assert_eq!(a, b);
    }
}
