//! Pooling forward (max and average, with and without arg-max indices) at every supported SIMD
//! level against the reference, on valid small descriptors (any window, stride, dilation,
//! padding, ceil mode, `count_include_pad`, global) and data with ties, signed zeros, NaN and
//! infinities.
//!
//! Checks (the same rules as `tests/pool_common.rs`):
//! - max pooling: bit-identical to `reference::pool2d` (NaN windows give NaN); the indices of
//!   `run_with_indices` equal `reference::max_pool2d_with_indices` (first tap on ties) and its
//!   values equal `run`'s;
//! - average pooling: within `taps·ε·mean|x|` of the reference;
//! - a fused activation: within `2e-6·(1 + |y|)` of the f64 activation of the reference;
//! - the work split: two pieces, in either order, give the same bits (values and indices);
//!   everywhere "the same bits" is up to a NaN's payload, which is unspecified.
#![no_main]

use arbitrary::Arbitrary;
use convkit_kernels::pool::IndexPiece;
use convkit_kernels::simd::supported_levels;
use convkit_kernels::{
    reference, Activation, OutputPiece, Padding, Pool2d, Pool2dPlan, PoolKind, PoolOptions,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Case {
    max: bool,
    level: u8,
    activation: u8,
    batch: u8,
    channels: u8,
    input: (u8, u8),
    window: (u8, u8),
    stride: (u8, u8),
    dilation: (u8, u8),
    padding: (u8, u8, u8, u8),
    ceil: bool,
    include_pad: bool,
    global: bool,
    /// 0: reals; 1: small integers (many ties); 2: with NaN/∞/−0.
    data: u8,
    split: u16,
    seed: u64,
}

fn fill(len: usize, seed: u64, data: u8) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.0];
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            match data % 3 {
                0 => ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0,
                1 => ((s >> 40) % 5) as f32 - 2.0,
                _ if (s >> 20) % 8 == 0 => specials[(s >> 8) as usize % specials.len()],
                _ => ((s >> 40) % 5) as f32 - 2.0,
            }
        })
        .collect()
}

fn activation(v: u8) -> Activation {
    match v % 8 {
        // Identity most often: it is the one compared bit for bit.
        0..=3 => Activation::Identity,
        4 => Activation::Relu,
        5 => Activation::Sigmoid,
        6 => Activation::Tanh,
        _ => Activation::Clamp {
            min: -1.5,
            max: 2.0,
        },
    }
}

/// The same bits, or both NaN: a NaN's payload is unspecified (`F32Vector::max_nan` gives "NaN
/// where either lane is NaN (any NaN payload)"; x86 levels OR in an all-ones mask, the
/// arg-max path copies the input's NaN), so values are compared bit for bit up to it.
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn run(c: Case) {
    let kind = if c.max {
        PoolKind::Max
    } else {
        PoolKind::Average
    };
    let (h, w) = (1 + (c.input.0 % 24) as usize, 1 + (c.input.1 % 24) as usize);
    let pad = [c.padding.0, c.padding.1, c.padding.2, c.padding.3].map(|p| (p % 3) as usize);
    let mut b = Pool2d::builder(kind)
        .batch(1 + (c.batch % 2) as usize)
        .channels(1 + (c.channels % 5) as usize)
        .input_size(h, w)
        .window(1 + (c.window.0 % 5) as usize, 1 + (c.window.1 % 5) as usize)
        .stride(1 + (c.stride.0 % 4) as usize, 1 + (c.stride.1 % 4) as usize)
        .dilation(
            1 + (c.dilation.0 % 3) as usize,
            1 + (c.dilation.1 % 3) as usize,
        )
        .padding(Padding::new(pad[0], pad[1], pad[2], pad[3]))
        .ceil_mode(c.ceil)
        .count_include_pad(c.include_pad);
    if c.global {
        b = b.global();
    }
    // Invalid combinations (window larger than the padded input, padding over half the
    // window, ...) are the descriptors target's business.
    let Ok(desc) = b.build() else {
        return;
    };
    let levels: Vec<_> = supported_levels().collect();
    let level = levels[c.level as usize % levels.len()];
    let act = activation(c.activation);
    let plan = Pool2dPlan::new(
        &desc,
        PoolOptions {
            level: Some(level),
            activation: act,
        },
    )
    .unwrap_or_else(|e| panic!("{desc:?} at {level}: {e:?}"));
    let x = fill(desc.input_len(), c.seed, c.data);
    let n = desc.output_len();

    let mut y = vec![f32::NAN; n];
    plan.run(&x, &mut y).unwrap();

    let mut want = vec![0.0f32; n];
    reference::pool2d(&desc, &x, &mut want).unwrap();
    let mut mean_abs = vec![0.0f32; n];
    if kind == PoolKind::Average {
        let abs: Vec<f32> = x.iter().map(|v| v.abs()).collect();
        reference::pool2d(&desc, &abs, &mut mean_abs).unwrap();
    }
    let taps = if desc.is_global() {
        (h * w) as f32
    } else {
        (desc.window_height() * desc.window_width()) as f32
    };
    for i in 0..n {
        let (g, r) = (y[i], want[i]);
        let tol_pool = if kind == PoolKind::Max {
            0.0
        } else {
            taps * f32::EPSILON * mean_abs[i]
        };
        if act == Activation::Identity {
            assert!(
                same(g, r) || (g - r).abs() <= tol_pool,
                "{level} {desc:?} out {i}: got {g} want {r} (tol {tol_pool})"
            );
        } else {
            let e = act.apply_reference(r as f64);
            let tol = tol_pool as f64 + 2e-6 * (1.0 + e.abs());
            // ±∞ through an activation: the same infinity or the same saturated value.
            let ok = (g as f64 - e).abs() <= tol
                || (g.is_nan() && r.is_nan())
                || (g as f64 == e)
                || (r.is_nan() && matches!(act, Activation::Relu | Activation::Clamp { .. }));
            assert!(
                ok,
                "{level} {desc:?} {act:?} out {i}: got {g} want {e} (pool {r})"
            );
        }
    }

    let g = plan.unit_geometry();
    let mut parts = vec![f32::NAN; n];
    let piece = OutputPiece::whole(&mut parts, g).unwrap();
    let mid = c.split as usize % (piece.len() + 1);
    let (first, second) = piece.split_at(mid);
    plan.run_piece(second, &x).unwrap();
    plan.run_piece(first, &x).unwrap();
    assert!(
        y.iter().zip(&parts).all(|(a, b)| same(*a, *b)),
        "{level} {desc:?}: split at {mid} differs"
    );

    if kind == PoolKind::Max {
        let mut want_v = vec![0.0f32; n];
        let mut want_i = vec![0u32; n];
        reference::max_pool2d_with_indices(&desc, &x, &mut want_v, &mut want_i).unwrap();
        let mut v = vec![f32::NAN; n];
        let mut idx = vec![u32::MAX; n];
        plan.run_with_indices(&x, &mut v, &mut idx).unwrap();
        assert_eq!(idx, want_i, "{level} {desc:?} indices");
        assert!(
            v.iter().zip(&y).all(|(a, b)| same(*a, *b)),
            "{level} {desc:?}: values with indices differ from run"
        );
        let mut v2 = vec![f32::NAN; n];
        let mut idx2 = vec![u32::MAX; n];
        let (a, b) = OutputPiece::whole(&mut v2, g).unwrap().split_at(mid);
        let (ia, ib) = IndexPiece::whole(&mut idx2, g).unwrap().split_at(mid);
        plan.run_piece_with_indices(b, ib, &x).unwrap();
        plan.run_piece_with_indices(a, ia, &x).unwrap();
        assert_eq!(idx2, want_i, "{level} {desc:?} split indices");
        assert!(
            v2.iter().zip(&y).all(|(a, b)| same(*a, *b)),
            "{level} {desc:?}: split values with indices differ"
        );
    }
}

fuzz_target!(|c: Case| run(c));
