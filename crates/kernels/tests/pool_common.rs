//! Shared checks of the pooling tests (included with `mod pool_common;`).

#![allow(dead_code)]

use convkit_kernels::pool::IndexPiece;
use convkit_kernels::{
    reference, simd, Activation, Level, OutputPiece, Pool2d, Pool2dPlan, PoolKind, PoolOptions,
};

/// Activations the tests fuse.
pub const ACTIVATIONS: [Activation; 5] = [
    Activation::Identity,
    Activation::Relu,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Clamp {
        min: -1.5,
        max: 2.0,
    },
];

/// Proptest case count: `CONVKIT_PROPTEST_CASES` or `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("CONVKIT_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Same value: bit-identical, or both NaN.
pub fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Checks every supported level against the reference: values (max exact, averages within
/// `4·ε·mean|x|`, global averages within the summation bound), arg-max indices, and
/// bit-identity of a run split into two pieces at `split` units.
pub fn check_all_levels(desc: &Pool2d, input: &[f32], activation: Activation, split: usize) {
    let mut want = vec![0.0f32; desc.output_len()];
    reference::pool2d(desc, input, &mut want).unwrap();
    let abs: Vec<f32> = input.iter().map(|x| x.abs()).collect();
    let mut mean_abs = vec![0.0f32; desc.output_len()];
    if desc.kind() == PoolKind::Average {
        // Σ|x| / divisor, the error scale of each average.
        reference::pool2d(desc, &abs, &mut mean_abs).unwrap();
    }
    let mut want_idx = vec![0u32; desc.output_len()];
    if desc.kind() == PoolKind::Max {
        let mut v = vec![0.0f32; desc.output_len()];
        reference::max_pool2d_with_indices(desc, input, &mut v, &mut want_idx).unwrap();
    }
    // Taps per window in the worst case, for the global average's summation bound.
    let taps = if desc.is_global() {
        (desc.input_height() * desc.input_width()) as f32
    } else {
        4.0
    };
    for level in simd::supported_levels() {
        let plan = Pool2dPlan::new(
            desc,
            PoolOptions {
                level: Some(level),
                activation,
            },
        )
        .unwrap();
        let mut got = vec![0.0f32; desc.output_len()];
        plan.run(input, &mut got).unwrap();
        for i in 0..got.len() {
            let r = want[i];
            let tol_pool = if desc.kind() == PoolKind::Max {
                0.0
            } else {
                taps * f32::EPSILON * mean_abs[i]
            };
            if activation == Activation::Identity {
                if desc.kind() == PoolKind::Max {
                    assert!(
                        same(got[i], r),
                        "{level} {desc:?} out {i}: got {} want {r}",
                        got[i]
                    );
                } else {
                    assert!(
                        (got[i] - r).abs() <= tol_pool || same(got[i], r),
                        "{level} {desc:?} out {i}: got {} want {r} tol {tol_pool}",
                        got[i]
                    );
                }
            } else {
                let e = activation.apply_reference(r as f64);
                let g = got[i] as f64;
                let tol = tol_pool as f64 + 2e-6 + 2e-6 * e.abs();
                // A NaN window stays NaN through the fused activation (the SIMD clamp keeps
                // NaN where the f64 reference clamps it to a bound).
                assert!(
                    (g - e).abs() <= tol || (g.is_nan() && r.is_nan()),
                    "{level} {desc:?} {activation:?} out {i}: got {g} want {e} (pool {r})"
                );
            }
        }
        // Any split gives bit-identical results.
        let mut parts = vec![0.0f32; desc.output_len()];
        let g = plan.unit_geometry();
        let (a, b) = OutputPiece::whole(&mut parts, g).unwrap().split_at(split);
        plan.run_piece(b, input).unwrap();
        plan.run_piece(a, input).unwrap();
        assert!(
            got.iter()
                .zip(&parts)
                .all(|(x, y)| x.to_bits() == y.to_bits()),
            "{level} {desc:?} split at {split} differs"
        );
        if desc.kind() == PoolKind::Max {
            let mut v = vec![0.0f32; desc.output_len()];
            let mut idx = vec![u32::MAX; desc.output_len()];
            let (a, b) = OutputPiece::whole(&mut v, g).unwrap().split_at(split);
            let (ia, ib) = IndexPiece::whole(&mut idx, g).unwrap().split_at(split);
            plan.run_piece_with_indices(a, ia, input).unwrap();
            plan.run_piece_with_indices(b, ib, input).unwrap();
            assert_eq!(idx, want_idx, "{level} {desc:?} indices");
            for i in 0..v.len() {
                assert!(
                    same(v[i], got[i]),
                    "{level} {desc:?} values with indices {i}: {} vs {}",
                    v[i],
                    got[i]
                );
            }
        }
    }
}

/// All supported levels, for tests that want to name them.
pub fn levels() -> Vec<Level> {
    simd::supported_levels().collect()
}
