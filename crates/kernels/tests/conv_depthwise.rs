//! The depthwise path against the reference, at every SIMD level this CPU supports.

mod common;

use common::conv_paths::*;
use convkit_kernels::{
    Activation, Algorithm, Conv2d, Conv2dPlan, ConvOptions, Error, OutputPiece, Padding,
};
use proptest::prelude::*;

const ALGO: Algorithm = Algorithm::Depthwise;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(48)))]

    #[test]
    fn depthwise_matches_reference(c in case(30, 1, 1, 70)) {
        check(&c, ALGO, false)?;
    }

    #[test]
    fn depthwise_is_exact_on_small_integers(c in case(30, 1, 1, 12)) {
        let c = Case { act: if c.bias { Activation::Relu } else { Activation::Identity }, ..c };
        check(&c, ALGO, true)?;
    }

    #[test]
    fn depthwise_pieces_are_bit_identical(c in case(24, 1, 1, 5), mid in any::<usize>()) {
        check_split(&c, ALGO, mid)?;
    }
}

fn dw(c: usize, h: usize, w: usize, k: usize, stride: usize, pad: Padding) -> Conv2d {
    Conv2d::builder()
        .channels(c, c)
        .groups(c)
        .input_size(h, w)
        .kernel_size(k, k)
        .stride(stride, stride)
        .padding(pad)
        .build()
        .unwrap()
}

/// 3x3 and 5x5, stride 1 and 2, all paddings, widths around every vector and tile boundary.
#[test]
fn depthwise_unrolled_sizes_and_width_boundaries() {
    let mut descs = vec![
        dw(3, 56, 56, 3, 1, Padding::uniform(1)),
        dw(3, 112, 112, 3, 2, Padding::uniform(1)),
    ];
    for k in [3usize, 5] {
        for stride in [1, 2] {
            for pad in 0..=k / 2 + 1 {
                for q in [1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 70] {
                    let Some(w) = ((q - 1) * stride + k).checked_sub(2 * pad.min(k - 1)) else {
                        continue;
                    };
                    let p = Padding {
                        top: pad,
                        bottom: pad / 2,
                        left: pad,
                        right: (pad + 1) % (k + 1),
                    };
                    if let Ok(d) = Conv2d::builder()
                        .channels(2, 2)
                        .groups(2)
                        .input_size(k + 3, w.max(1))
                        .kernel_size(k, k)
                        .stride(stride, stride)
                        .padding(p)
                        .build()
                    {
                        descs.push(d);
                    }
                }
            }
        }
    }
    for desc in descs {
        for integers in [false, true] {
            let c = Case {
                desc,
                seed: 11,
                bias: true,
                act: Activation::Identity,
            };
            check(&c, ALGO, integers).unwrap();
        }
    }
}

#[test]
fn depthwise_plan_errors() {
    // Not depthwise: groups < channels, or in != out channels.
    for (c, k, g) in [(4, 4, 2), (4, 8, 4), (1, 2, 1)] {
        let desc = Conv2d::builder()
            .channels(c, k)
            .groups(g)
            .input_size(8, 8)
            .kernel_size(3, 3)
            .build()
            .unwrap();
        let err = Conv2dPlan::new(
            &desc,
            ConvOptions {
                algorithm: ALGO,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(matches!(err, Error::UnsupportedAlgorithm { .. }), "{err:?}");
    }
    // Wider than 16 taps: direct path instead.
    let desc = dw(2, 4, 20, 1, 1, Padding::ZERO)
        .to_builder()
        .kernel_size(1, 17)
        .build()
        .unwrap();
    assert!(matches!(
        Conv2dPlan::new(
            &desc,
            ConvOptions {
                algorithm: ALGO,
                ..Default::default()
            }
        ),
        Err(Error::UnsupportedAlgorithm { .. })
    ));
    assert_eq!(
        Algorithm::from_name("depthwise"),
        Some(Algorithm::Depthwise)
    );
    let _ = OutputPiece::whole;
}
