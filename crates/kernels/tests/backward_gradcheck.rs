//! Every reference backward kernel against central finite differences of the reference
//! forward, in `f64`, on small random shapes: for a random upstream gradient `g`, the scalar
//! `L = Σ g ⊙ forward(x)` has `∂L/∂x = backward(g)`.

#![allow(clippy::needless_range_loop)] // finite differences perturb one coordinate at a time

mod backward_common;
mod common;

use backward_common::{cases, conv_case, dot, fill64, pool_desc, ConvCase};
use convkit_kernels::{reference, Activation, PoolKind};
use proptest::prelude::*;

const H: f64 = 1e-3;

/// `L(x, w, b) = Σ g ⊙ conv2d(x, w, b)`.
fn conv_loss(c: &ConvCase, x: &[f64], w: &[f64], b: &[f64], g: &[f64]) -> f64 {
    let mut y = vec![0.0; c.desc.output_len()];
    reference::conv2d(&c.desc, x, w, Some(b), &mut y).unwrap();
    dot(&y, g)
}

/// Central difference of `f` at coordinate `i` of `v`.
fn central(v: &mut [f64], i: usize, mut f: impl FnMut(&[f64]) -> f64) -> f64 {
    let keep = v[i];
    v[i] = keep + H;
    let up = f(v);
    v[i] = keep - H;
    let down = f(v);
    v[i] = keep;
    (up - down) / (2.0 * H)
}

fn close(got: f64, want: f64, what: &str, i: usize) -> Result<(), TestCaseError> {
    prop_assert!(
        (got - want).abs() <= 1e-7 * (1.0 + want.abs()),
        "{} {}: analytic {} finite difference {}",
        what,
        i,
        got,
        want
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(24)))]

    #[test]
    fn conv2d_gradients_match_finite_differences(c in conv_case(6, 3, 3, 2)) {
        let d = &c.desc;
        let mut x = fill64(d.input_len(), c.seed);
        let mut w = fill64(d.weights_len(), c.seed ^ 1);
        let mut b = fill64(d.bias_len(), c.seed ^ 2);
        let g = fill64(d.output_len(), c.seed ^ 3);

        let mut dx = vec![f64::NAN; d.input_len()];
        reference::conv2d_backward_data(d, &g, &w, &mut dx).unwrap();
        let mut dw = vec![f64::NAN; d.weights_len()];
        let mut db = vec![f64::NAN; d.bias_len()];
        reference::conv2d_backward_weights(d, &x, &g, &mut dw, Some(&mut db)).unwrap();

        for i in 0..x.len() {
            let (w, b) = (w.clone(), b.clone());
            let fd = central(&mut x, i, |x| conv_loss(&c, x, &w, &b, &g));
            close(dx[i], fd, "dx", i)?;
        }
        for i in 0..w.len() {
            let (x, b) = (x.clone(), b.clone());
            let fd = central(&mut w, i, |w| conv_loss(&c, &x, w, &b, &g));
            close(dw[i], fd, "dw", i)?;
        }
        for i in 0..b.len() {
            let (x, w) = (x.clone(), w.clone());
            let fd = central(&mut b, i, |b| conv_loss(&c, &x, &w, b, &g));
            close(db[i], fd, "db", i)?;
        }
    }

    #[test]
    fn average_pool_gradient_matches_finite_differences(
        d in pool_desc(PoolKind::Average),
        seed in any::<u64>(),
    ) {
        let mut x = fill64(d.input_len(), seed);
        let g = fill64(d.output_len(), seed ^ 3);
        let mut dx = vec![f64::NAN; d.input_len()];
        reference::pool2d_backward(&d, &g, &mut dx).unwrap();
        for i in 0..x.len() {
            let fd = central(&mut x, i, |x| {
                let mut y = vec![0.0; d.output_len()];
                reference::pool2d(&d, x, &mut y).unwrap();
                dot(&y, &g)
            });
            close(dx[i], fd, "dx", i)?;
        }
    }

    #[test]
    fn max_pool_gradient_matches_finite_differences(
        d in pool_desc(PoolKind::Max),
        seed in any::<u64>(),
    ) {
        // Distinct values at least 1e-2 apart, so ±H never changes an arg-max.
        let len = d.input_len();
        let mut x: Vec<f64> = (0..len)
            .map(|i| ((i as u64 * 7919 + seed % 1000) % len as u64) as f64 * 1e-2)
            .collect();
        let g = fill64(d.output_len(), seed ^ 3);
        let mut y = vec![0.0; d.output_len()];
        let mut idx = vec![0u32; d.output_len()];
        reference::max_pool2d_with_indices(&d, &x, &mut y, &mut idx).unwrap();
        let mut dx = vec![f64::NAN; len];
        reference::max_pool2d_backward(&d, &g, &idx, &mut dx).unwrap();
        for i in 0..len {
            let fd = central(&mut x, i, |x| {
                let mut y = vec![0.0; d.output_len()];
                reference::pool2d(&d, x, &mut y).unwrap();
                dot(&y, &g)
            });
            close(dx[i], fd, "dx", i)?;
        }
    }

    #[test]
    fn activation_gradients_match_finite_differences(seed in any::<u64>(), len in 1usize..64) {
        let acts = [
            Activation::Identity,
            Activation::Relu,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Clamp { min: -0.5, max: 0.75 },
        ];
        // z in about ±4, kept 1e-2 away from the kinks (0, −0.5, 0.75).
        let z: Vec<f64> = fill64(len, seed)
            .into_iter()
            .map(|v| {
                let z = v * 4.0;
                if [0.0, -0.5, 0.75].iter().any(|k| (z - k).abs() < 1e-2) { z + 0.05 } else { z }
            })
            .collect();
        let g = fill64(len, seed ^ 3);
        for act in acts {
            let y: Vec<f64> = z.iter().map(|&z| act.apply_reference(z)).collect();
            let mut dz = g.clone();
            reference::activation_backward(act, &y, &mut dz).unwrap();
            for i in 0..len {
                let fd = (act.apply_reference(z[i] + 1e-6) - act.apply_reference(z[i] - 1e-6))
                    / 2e-6
                    * g[i];
                prop_assert!(
                    (dz[i] - fd).abs() <= 1e-6 * (1.0 + fd.abs()),
                    "{:?} at z = {}: analytic {} finite difference {}",
                    act,
                    z[i],
                    dz[i],
                    fd
                );
            }
        }
    }
}

#[test]
fn reference_backward_rejects_bad_lengths_and_kinds() {
    use convkit_kernels::{Conv2d, Error, Pool2d};
    let d = Conv2d::builder()
        .channels(2, 3)
        .input_size(5, 5)
        .kernel_size(3, 3)
        .build()
        .unwrap();
    let (x, w, y) = (
        vec![0.0f32; d.input_len()],
        vec![0.0f32; d.weights_len()],
        vec![0.0f32; d.output_len()],
    );
    let mut dx = vec![0.0f32; d.input_len()];
    let mut dw = vec![0.0f32; d.weights_len()];
    let mut db = [0.0f32; 3];
    let bad = |e: Result<(), Error>| matches!(e, Err(Error::LengthMismatch { .. }));
    assert!(bad(reference::conv2d_backward_data(
        &d,
        &y[1..],
        &w,
        &mut dx
    )));
    assert!(bad(reference::conv2d_backward_data(
        &d,
        &y,
        &w[1..],
        &mut dx
    )));
    assert!(bad(reference::conv2d_backward_data(
        &d,
        &y,
        &w,
        &mut dx[1..]
    )));
    assert!(bad(reference::conv2d_backward_weights(
        &d,
        &x[1..],
        &y,
        &mut dw,
        None
    )));
    assert!(bad(reference::conv2d_backward_weights(
        &d,
        &x,
        &y,
        &mut dw[1..],
        None
    )));
    assert!(bad(reference::conv2d_backward_weights(
        &d,
        &x,
        &y,
        &mut dw,
        Some(&mut db[1..])
    )));

    let avg = Pool2d::builder(PoolKind::Average)
        .channels(1)
        .input_size(4, 4)
        .window(2, 2)
        .build()
        .unwrap();
    let max = Pool2d::builder(PoolKind::Max)
        .channels(1)
        .input_size(4, 4)
        .window(2, 2)
        .build()
        .unwrap();
    let mut px = vec![0.0f32; 16];
    assert!(matches!(
        reference::pool2d_backward(&max, &[0.0; 4], &mut px),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        reference::max_pool2d_backward(&avg, &[0.0; 4], &[0; 4], &mut px),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(bad(reference::pool2d_backward(&avg, &[0.0; 3], &mut px)));
    assert!(bad(reference::max_pool2d_backward(
        &max, &[0.0; 4], &[0; 3], &mut px
    )));
    assert!(matches!(
        reference::max_pool2d_backward(&max, &[0.0; 4], &[0, 1, 2, 16], &mut px),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(bad(reference::activation_backward(
        Activation::Relu,
        &[0.0f32; 3],
        &mut [0.0; 2]
    )));
}
