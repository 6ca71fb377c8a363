//! `backward::Conv2dBackwardPlan` against the reference backward at every supported SIMD
//! level, on random descriptors (stride, dilation, padding, groups, batch, channel counts that
//! are not multiples of the vector width), plus LeNet's shapes and the length errors.
//!
//! Tolerance per element as for the forward: max(1e-5, 1e-6·Σ|a·b|) with the magnitudes taken
//! by the reference on |inputs|; small integers must give exact results.

mod backward_common;
mod common;

use backward_common::{cases, conv_case, fill, ConvCase};
use convkit_kernels::backward::Conv2dBackwardPlan;
use convkit_kernels::simd::supported_levels;
use convkit_kernels::{reference, Conv2d, Error, Padding};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}
fn abs64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| (x as f64).abs()).collect()
}

fn compare(
    got: &[f32],
    want: &[f64],
    mag: &[f64],
    exact: bool,
    what: &str,
    level: convkit_kernels::Level,
    d: &Conv2d,
) -> Result<(), TestCaseError> {
    for (i, (&g, (&r, &m))) in got.iter().zip(want.iter().zip(mag)).enumerate() {
        if exact {
            prop_assert_eq!(g as f64, r, "{} {} at {}: {:?}", what, i, level, d);
        } else {
            let tol = (1e-6 * m).max(1e-5);
            prop_assert!(
                (g as f64 - r).abs() <= tol,
                "{} {} at {}: got {} want {} (tol {}) {:?}",
                what,
                i,
                level,
                g,
                r,
                tol,
                d
            );
        }
    }
    Ok(())
}

/// Both passes of the plan at every level against the f64 reference.
fn check(d: &Conv2d, seed: u64, integers: bool) -> Result<(), TestCaseError> {
    let x = fill(d.input_len(), seed, integers);
    let w = fill(d.weights_len(), seed ^ 1, integers);
    let dy = fill(d.output_len(), seed ^ 3, integers);

    let mut want_dx = vec![0.0f64; d.input_len()];
    reference::conv2d_backward_data(d, &to64(&dy), &to64(&w), &mut want_dx).unwrap();
    let mut mag_dx = vec![0.0f64; d.input_len()];
    reference::conv2d_backward_data(d, &abs64(&dy), &abs64(&w), &mut mag_dx).unwrap();
    let mut want_dw = vec![0.0f64; d.weights_len()];
    let mut want_db = vec![0.0f64; d.bias_len()];
    reference::conv2d_backward_weights(d, &to64(&x), &to64(&dy), &mut want_dw, Some(&mut want_db))
        .unwrap();
    let mut mag_dw = vec![0.0f64; d.weights_len()];
    let mut mag_db = vec![0.0f64; d.bias_len()];
    reference::conv2d_backward_weights(d, &abs64(&x), &abs64(&dy), &mut mag_dw, Some(&mut mag_db))
        .unwrap();

    for level in supported_levels() {
        let plan = Conv2dBackwardPlan::new(d, Some(level)).unwrap();
        // NaN-filled outputs and scratch: everything must be overwritten / never read.
        let mut scratch = vec![f32::NAN; plan.data_scratch_len()];
        let mut dx = vec![f32::NAN; d.input_len()];
        plan.backward_data(&dy, &w, &mut dx, &mut scratch).unwrap();
        compare(&dx, &want_dx, &mag_dx, integers, "dx", level, d)?;

        let mut scratch = vec![f32::NAN; plan.weights_scratch_len()];
        let mut dw = vec![f32::NAN; d.weights_len()];
        let mut db = vec![f32::NAN; d.bias_len()];
        plan.backward_weights(&x, &dy, &mut dw, Some(&mut db), &mut scratch)
            .unwrap();
        compare(&dw, &want_dw, &mag_dw, integers, "dw", level, d)?;
        compare(&db, &want_db, &mag_db, integers, "db", level, d)?;
        // Without a bias gradient the weight gradient is the same.
        let mut dw2 = vec![f32::NAN; d.weights_len()];
        plan.backward_weights(&x, &dy, &mut dw2, None, &mut scratch)
            .unwrap();
        prop_assert!(dw.iter().zip(&dw2).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(48)))]

    #[test]
    fn conv_backward_matches_reference(c in conv_case(12, 5, 19, 3), integers in any::<bool>()) {
        let c: ConvCase = c;
        check(&c.desc, c.seed, integers)?;
    }

    #[test]
    fn conv_backward_matches_reference_wide(
        c in conv_case(30, 3, 40, 1),
        integers in any::<bool>(),
    ) {
        check(&c.desc, c.seed, integers)?;
    }
}

fn lenet(conv1: bool, batch: usize) -> Conv2d {
    let b = Conv2d::builder().batch(batch).kernel_size(5, 5);
    if conv1 {
        b.channels(1, 6)
            .input_size(28, 28)
            .padding(Padding::uniform(2))
    } else {
        b.channels(6, 16).input_size(14, 14)
    }
    .build()
    .unwrap()
}

#[test]
fn lenet_shapes_match_reference() {
    for conv1 in [true, false] {
        for integers in [true, false] {
            check(&lenet(conv1, 3), 7, integers).unwrap();
        }
    }
}

/// Backward-weights' `dYᵀ` panels with one, two and three 16-channel blocks, the last partial
/// (Kg = 6, 20, 40: panel strides 16, 32, 48 at AVX-512), over pixel blocks that end inside a
/// 16-pixel chunk; and backward-data's col2im with input rows narrower than a vector, one
/// vector plus a tail, and whole vectors (widths 9, 23, 32), at stride 1.
#[test]
fn channel_panels_and_row_tails_match_reference() {
    for (k, w) in [(6, 9), (20, 23), (40, 32)] {
        let d = Conv2d::builder()
            .batch(2)
            .channels(3, k)
            .input_size(7, w)
            .kernel_size(3, 3)
            .padding(Padding::new(1, 0, 1, 2))
            .build()
            .unwrap();
        for integers in [true, false] {
            check(&d, 5, integers).unwrap();
        }
    }
}

/// Output rows wider than backward-data's pixel block (`D = 630` gives 64 pixels): its
/// blocks start and end inside rows, so col2im takes the segment walk instead of the
/// row-at-a-time gather, at horizontal stride 1 and 2.
#[test]
fn pixel_blocks_narrower_than_a_row_match_reference() {
    for sw in [1, 2] {
        let d = Conv2d::builder()
            .batch(1)
            .channels(70, 5)
            .input_size(4, 150)
            .kernel_size(3, 3)
            .stride(1, sw)
            .padding(Padding::uniform(1))
            .build()
            .unwrap();
        assert!(d.output_width() > 64);
        for integers in [true, false] {
            check(&d, 11, integers).unwrap();
        }
    }
}

#[test]
fn bad_lengths_are_errors() {
    let d = lenet(false, 2);
    let plan = Conv2dBackwardPlan::new(&d, None).unwrap();
    let x = vec![0.0f32; d.input_len()];
    let w = vec![0.0f32; d.weights_len()];
    let dy = vec![0.0f32; d.output_len()];
    let mut dx = vec![0.0f32; d.input_len()];
    let mut dw = vec![0.0f32; d.weights_len()];
    let mut db = vec![0.0f32; d.bias_len()];
    let mut sd = vec![0.0f32; plan.data_scratch_len()];
    let mut sw = vec![0.0f32; plan.weights_scratch_len()];
    let bad = |e: Result<(), Error>| matches!(e, Err(Error::LengthMismatch { .. }));
    assert!(bad(plan.backward_data(&dy[1..], &w, &mut dx, &mut sd)));
    assert!(bad(plan.backward_data(&dy, &w[1..], &mut dx, &mut sd)));
    assert!(bad(plan.backward_data(&dy, &w, &mut dx[1..], &mut sd)));
    if !sd.is_empty() {
        let n = sd.len() - 1;
        assert!(bad(plan.backward_data(&dy, &w, &mut dx, &mut sd[..n])));
    }
    assert!(bad(plan.backward_weights(
        &x[1..],
        &dy,
        &mut dw,
        None,
        &mut sw
    )));
    assert!(bad(plan.backward_weights(
        &x,
        &dy[1..],
        &mut dw,
        None,
        &mut sw
    )));
    assert!(bad(plan.backward_weights(
        &x,
        &dy,
        &mut dw[1..],
        None,
        &mut sw
    )));
    assert!(bad(plan.backward_weights(
        &x,
        &dy,
        &mut dw,
        Some(&mut db[1..]),
        &mut sw
    )));
    if !sw.is_empty() {
        let n = sw.len() - 1;
        assert!(bad(plan.backward_weights(
            &x,
            &dy,
            &mut dw,
            None,
            &mut sw[..n]
        )));
    }
    // Correct lengths work; a larger scratch is fine.
    sw.push(0.0);
    plan.backward_weights(&x, &dy, &mut dw, Some(&mut db), &mut sw)
        .unwrap();
    plan.backward_data(&dy, &w, &mut dx, &mut sw).unwrap_or(());
}

#[test]
fn unsupported_level_is_an_error() {
    let d = lenet(false, 1);
    for l in convkit_kernels::Level::ALL {
        if !l.is_supported() {
            assert!(matches!(
                Conv2dBackwardPlan::new(&d, Some(l)),
                Err(Error::UnsupportedSimdLevel { .. })
            ));
        }
    }
}
