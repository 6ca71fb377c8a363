//! The direct convolution path against the reference, at every SIMD level this CPU supports.

mod common;

use common::conv_paths::*;
use convkit_kernels::{Activation, Algorithm, Conv2d, Conv2dPlan, ConvOptions, Error, Padding};
use proptest::prelude::*;

const ALGO: Algorithm = Algorithm::Direct;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(48)))]

    #[test]
    fn direct_matches_reference(c in case(24, 4, 9, 2)) {
        check(&c, ALGO, false)?;
    }

    #[test]
    fn direct_is_exact_on_small_integers(c in case(24, 4, 9, 2)) {
        let c = Case { act: if c.bias { Activation::Relu } else { Activation::Identity }, ..c };
        check(&c, ALGO, true)?;
    }

    #[test]
    fn direct_many_channels(c in case(9, 70, 70, 1)) {
        check(&c, ALGO, false)?;
    }

    #[test]
    fn direct_pieces_are_bit_identical(c in case(20, 3, 7, 2), mid in any::<usize>()) {
        check_split(&c, ALGO, mid)?;
    }
}

/// The benchmark shapes and the widths around every vector and tile boundary.
#[test]
fn direct_public_shapes_and_width_boundaries() {
    let mut descs = vec![
        Conv2d::builder()
            .channels(1, 6)
            .input_size(28, 28)
            .kernel_size(5, 5)
            .padding(Padding::uniform(2))
            .build()
            .unwrap(),
        Conv2d::builder()
            .channels(6, 16)
            .input_size(14, 14)
            .kernel_size(5, 5)
            .build()
            .unwrap(),
        Conv2d::builder()
            .channels(3, 8)
            .input_size(40, 40)
            .kernel_size(7, 7)
            .stride(2, 2)
            .padding(Padding::uniform(3))
            .build()
            .unwrap(),
    ];
    // Output channels in lanes reading the input rows in place (column stride 1, no column
    // padding): rows clipped by top/bottom padding, row dilation and stride, two groups,
    // a partial channel block; and the same with one column of padding (prepared rows).
    for (left, right) in [(0, 0), (1, 0), (0, 1)] {
        descs.push(
            Conv2d::builder()
                .channels(6, 2 * 14)
                .groups(2)
                .input_size(13, 9)
                .kernel_size(5, 3)
                .stride(2, 1)
                .dilation(2, 2)
                .padding(Padding::new(3, 1, left, right))
                .build()
                .unwrap(),
        );
    }
    for q in [
        1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 80,
    ] {
        for (r, k) in [(3, 5), (5, 3), (1, 1), (2, 7), (17, 2)] {
            if let Ok(d) = Conv2d::builder()
                .channels(2, k)
                .input_size(3 + r, q + r - 1)
                .kernel_size(r.min(5), r)
                .build()
            {
                descs.push(d);
            }
        }
    }
    for desc in descs {
        for integers in [false, true] {
            let c = Case {
                desc,
                seed: 7,
                bias: true,
                act: Activation::Identity,
            };
            check(&c, ALGO, integers).unwrap();
        }
    }
}

#[test]
fn plan_errors() {
    let desc = Conv2d::builder()
        .channels(4, 8)
        .input_size(8, 8)
        .kernel_size(3, 3)
        .build()
        .unwrap();
    let err = Conv2dPlan::new(
        &desc,
        ConvOptions {
            algorithm: Algorithm::Depthwise,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::UnsupportedAlgorithm { .. }));
    let plan = Conv2dPlan::new(
        &desc,
        ConvOptions {
            algorithm: ALGO,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(plan.algorithm(), ALGO);
    assert_eq!(Algorithm::from_name("direct"), Some(Algorithm::Direct));
    // Too little scratch is an error, not a panic.
    if plan.scratch_len() > 0 {
        let x = vec![0.0; desc.input_len()];
        let w = vec![0.0; desc.weights_len()];
        let mut y = vec![0.0; desc.output_len()];
        let mut s = vec![0.0; plan.scratch_len() - 1];
        assert!(matches!(
            plan.run(&x, &w, None, &mut y, &mut s),
            Err(Error::LengthMismatch { .. })
        ));
    }
}

/// The selector picks the direct path in its measured region only.
#[test]
fn selector_region() {
    let pick = |c: usize, k: usize, r: usize| {
        let desc = Conv2d::builder()
            .channels(c, k)
            .input_size(28, 28)
            .kernel_size(r, r)
            .build()
            .unwrap();
        Conv2dPlan::new(&desc, ConvOptions::default())
            .unwrap()
            .algorithm()
    };
    assert_eq!(pick(1, 6, 5), Algorithm::Direct);
    assert_eq!(pick(6, 16, 5), Algorithm::Direct);
    assert_eq!(pick(3, 64, 7), Algorithm::Direct);
    assert_eq!(pick(32, 32, 3), Algorithm::Direct);
    assert_ne!(pick(64, 64, 3), Algorithm::Direct);
    assert_ne!(pick(256, 16, 1), Algorithm::Direct);
    assert_ne!(pick(3, 8, 1), Algorithm::Direct);
}
