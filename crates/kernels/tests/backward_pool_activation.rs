//! Pooling backward (`Pool2dPlan::backward_average` / `backward_max`) and
//! `backward::activation_backward` against the reference backward at every supported level.

mod backward_common;
mod common;

use backward_common::{cases, fill, pool_desc};
use convkit_kernels::backward::activation_backward;
use convkit_kernels::simd::supported_levels;
use convkit_kernels::{reference, Activation, Error, Pool2d, Pool2dPlan, PoolKind, PoolOptions};
use proptest::prelude::*;

fn plan(d: &Pool2d, level: convkit_kernels::Level) -> Pool2dPlan {
    Pool2dPlan::new(
        d,
        PoolOptions {
            level: Some(level),
            ..PoolOptions::default()
        },
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(64)))]

    #[test]
    fn average_backward_is_the_reference_bit_for_bit(
        d in pool_desc(PoolKind::Average),
        seed in any::<u64>(),
    ) {
        let g = fill(d.output_len(), seed, false);
        let mut want = vec![0.0f32; d.input_len()];
        reference::pool2d_backward(&d, &g, &mut want).unwrap();
        for level in supported_levels() {
            let mut got = vec![f32::NAN; d.input_len()];
            plan(&d, level).backward_average(&g, &mut got).unwrap();
            prop_assert!(
                got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{:?} at {}: {:?} vs {:?}", d, level, got, want
            );
        }
    }

    #[test]
    fn max_backward_is_the_reference_bit_for_bit(
        d in pool_desc(PoolKind::Max),
        seed in any::<u64>(),
        integers in any::<bool>(),
    ) {
        // Small integers give ties: the gradient must go to the first tap, as the indices say.
        let x = fill(d.input_len(), seed, integers);
        let g = fill(d.output_len(), seed ^ 3, false);
        for level in supported_levels() {
            let p = plan(&d, level);
            let mut y = vec![0.0f32; d.output_len()];
            let mut idx = vec![0u32; d.output_len()];
            p.run_with_indices(&x, &mut y, &mut idx).unwrap();
            let mut want = vec![0.0f32; d.input_len()];
            reference::max_pool2d_backward(&d, &g, &idx, &mut want).unwrap();
            let mut got = vec![f32::NAN; d.input_len()];
            p.backward_max(&g, &idx, &mut got).unwrap();
            prop_assert!(got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    #[test]
    fn activation_backward_matches_reference(seed in any::<u64>(), len in 0usize..100) {
        let z = fill(len, seed, false);
        let g = fill(len, seed ^ 3, false);
        for act in [
            Activation::Identity,
            Activation::Relu,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Clamp { min: -0.25, max: 0.5 },
        ] {
            // y = act(z), with exact zeros and clamp bounds among the values.
            let y: Vec<f32> = z.iter().map(|&z| act.apply_reference(z as f64 * 3.0) as f32).collect();
            let mut want: Vec<f64> = g.iter().map(|&v| v as f64).collect();
            let y64: Vec<f64> = y.iter().map(|&v| v as f64).collect();
            reference::activation_backward(act, &y64, &mut want).unwrap();
            for level in supported_levels() {
                let mut got = g.clone();
                activation_backward(Some(level), act, &y, &mut got).unwrap();
                for (i, (&a, &b)) in got.iter().zip(&want).enumerate() {
                    prop_assert!(
                        (a as f64 - b).abs() <= 4.0 * f32::EPSILON as f64 * (g[i].abs() as f64),
                        "{:?} {} at {}: {} vs {}", act, i, level, a, b
                    );
                    if matches!(act, Activation::Identity | Activation::Relu | Activation::Clamp { .. }) {
                        prop_assert_eq!(a as f64, b);
                    }
                }
            }
        }
    }
}

#[test]
fn pool_backward_errors() {
    let avg = Pool2d::builder(PoolKind::Average)
        .channels(2)
        .input_size(4, 4)
        .window(2, 2)
        .build()
        .unwrap();
    let max = Pool2d::builder(PoolKind::Max)
        .channels(2)
        .input_size(4, 4)
        .window(2, 2)
        .build()
        .unwrap();
    let (pa, pm) = (
        Pool2dPlan::new(&avg, PoolOptions::default()).unwrap(),
        Pool2dPlan::new(&max, PoolOptions::default()).unwrap(),
    );
    let mut dx = vec![0.0f32; 32];
    let bad = |e: Result<(), Error>| matches!(e, Err(Error::LengthMismatch { .. }));
    let invalid = |e: Result<(), Error>| matches!(e, Err(Error::InvalidParameter { .. }));
    assert!(bad(pa.backward_average(&[0.0; 7], &mut dx)));
    assert!(bad(pa.backward_average(&[0.0; 8], &mut dx[1..])));
    assert!(invalid(pm.backward_average(&[0.0; 8], &mut dx)));
    assert!(invalid(pa.backward_max(&[0.0; 8], &[0; 8], &mut dx)));
    assert!(bad(pm.backward_max(&[0.0; 8], &[0; 7], &mut dx)));
    assert!(bad(pm.backward_max(&[0.0; 7], &[0; 8], &mut dx)));
    assert!(invalid(pm.backward_max(
        &[0.0; 8],
        &[0, 0, 0, 0, 0, 0, 0, 16],
        &mut dx
    )));
    pa.backward_average(&[1.0; 8], &mut dx).unwrap();
    assert_eq!(dx, vec![0.25; 32]);
}

#[test]
fn activation_backward_errors() {
    assert!(matches!(
        activation_backward(None, Activation::Sigmoid, &[0.0; 3], &mut [0.0; 4]),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(matches!(
        activation_backward(
            None,
            Activation::Clamp { min: 1.0, max: 0.0 },
            &[0.0; 3],
            &mut [0.0; 3]
        ),
        Err(Error::InvalidParameter { .. })
    ));
}
