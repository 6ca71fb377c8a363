use super::*;
use crate::simd::supported_levels;

fn inputs() -> [f32; 23] {
    [
        -100.0, -88.0, -20.0, -5.5, -1.0, -0.3, -1e-5, -0.0, 0.0, 1e-6, 0.25, 0.5, 1.0, 2.0, 3.7,
        6.0, 6.5, 10.0, 20.0, 50.0, 88.0, 100.0, 1e30,
    ]
}

fn activations() -> [Activation; 6] {
    [
        Activation::Identity,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Clamp { min: 0.0, max: 6.0 },
        Activation::Clamp {
            min: -1.5,
            max: -1.5,
        },
    ]
}

#[test]
fn every_level_matches_the_f64_reference() {
    for level in supported_levels() {
        for act in activations() {
            for bias in [None, Some([0.5f32, -2.0])] {
                // Two channels of 23 elements: exercises full vectors and partial tails.
                let mut data: [f32; 46] = core::array::from_fn(|i| inputs()[i % 23]);
                let orig = data;
                apply_bias_activation(level, &mut data, 2, 23, bias.as_ref().map(|b| &b[..]), act)
                    .unwrap();
                for (i, (&y, &x)) in data.iter().zip(orig.iter()).enumerate() {
                    let b = bias.map_or(0.0, |b| b[i / 23]);
                    let want = act.apply_reference((x + b) as f64);
                    let err = (y as f64 - want).abs();
                    assert!(
                        err <= 1e-6 + 4e-7 * want.abs(),
                        "{level} {act:?} x={x} b={b}: got {y}, want {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn nan_propagates_through_relu_sigmoid_and_tanh() {
    for level in supported_levels() {
        for act in [Activation::Relu, Activation::Sigmoid, Activation::Tanh] {
            let mut data = [f32::NAN; 19];
            apply_bias_activation(level, &mut data, 1, 19, None, act).unwrap();
            assert!(data.iter().all(|y| y.is_nan()), "{level} {act:?}: {data:?}");
        }
    }
}

#[test]
fn bad_arguments_are_errors() {
    let mut data = [0.0f32; 10];
    let level = Level::Portable;
    assert_eq!(
        apply_bias_activation(level, &mut data, 3, 4, None, Activation::Identity),
        Err(Error::LengthMismatch {
            what: "epilogue data",
            expected: 12,
            actual: 10
        })
    );
    assert!(matches!(
        apply_bias_activation(level, &mut data, 2, 5, Some(&[1.0]), Activation::Identity),
        Err(Error::LengthMismatch { what: "bias", .. })
    ));
    assert!(matches!(
        apply_bias_activation(level, &mut data, 0, 5, None, Activation::Identity),
        Err(Error::ZeroDimension { .. })
    ));
    assert!(matches!(
        apply_bias_activation(
            level,
            &mut data,
            2,
            5,
            None,
            Activation::Clamp { min: 1.0, max: 0.0 }
        ),
        Err(Error::InvalidParameter { .. })
    ));
}
