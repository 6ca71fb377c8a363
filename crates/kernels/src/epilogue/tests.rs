use super::*;
use crate::simd::{supported_levels, F32Vector, SimdKernel};

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
            // Two channels of 23 elements (full vectors and partial tails) or of 151 (also
            // groups of four vectors).
            for (bias, plane) in [
                (None, 23),
                (Some([0.5f32, -2.0]), 23),
                (Some([0.5, -2.0]), 151),
            ] {
                let mut data: [f32; 302] = core::array::from_fn(|i| inputs()[i % 23]);
                let data = &mut data[..2 * plane];
                let orig = data.to_vec();
                apply_bias_activation(level, data, 2, plane, bias.as_ref().map(|b| &b[..]), act)
                    .unwrap();
                for (i, (&y, &x)) in data.iter().zip(orig.iter()).enumerate() {
                    let b = bias.map_or(0.0, |b| b[i / plane]);
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

/// `activate_each` on 15 vectors against `activate` one vector at a time: same bits.
struct TileVsSingle<'a> {
    input: &'a [f32],
    activation: Activation,
    tile: &'a mut [f32],
    single: &'a mut [f32],
}

impl SimdKernel for TileVsSingle<'_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        let l = V::LANES;
        assert!([self.input.len(), self.tile.len(), self.single.len()]
            .iter()
            .all(|&n| n >= 15 * l));
        // SAFETY: every access is within the first 15·LANES elements, checked above.
        unsafe {
            let x = self.input.as_ptr();
            let mut t: [V; 15] = core::array::from_fn(|i| V::load(x.add(i * l)));
            activate_each(&mut t, self.activation);
            for (i, v) in t.iter().enumerate() {
                v.store(self.tile.as_mut_ptr().add(i * l));
                activate(V::load(x.add(i * l)), self.activation)
                    .store(self.single.as_mut_ptr().add(i * l));
            }
        }
    }
}

#[test]
fn a_group_activates_to_the_same_bits_as_one_vector_at_a_time() {
    let input: std::vec::Vec<f32> = (0..15 * 16)
        .map(|i| inputs()[i % 23] * (1.0 + i as f32 / 97.0))
        .collect();
    for level in supported_levels() {
        for activation in activations() {
            let mut tile = [0.0f32; 15 * 16];
            let mut single = [1.0f32; 15 * 16];
            dispatch(
                level,
                TileVsSingle {
                    input: &input,
                    activation,
                    tile: &mut tile,
                    single: &mut single,
                },
            );
            let n = 15 * level.lanes();
            assert_eq!(
                tile[..n]
                    .iter()
                    .map(|x| x.to_bits())
                    .collect::<std::vec::Vec<_>>(),
                single[..n]
                    .iter()
                    .map(|x| x.to_bits())
                    .collect::<std::vec::Vec<_>>(),
                "{level} {activation:?}"
            );
        }
    }
}
