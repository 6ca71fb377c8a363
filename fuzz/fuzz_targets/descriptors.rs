//! Hostile descriptors and slice lengths: every call must return `Ok` or `Err`, never panic,
//! and whatever runs must agree with the reference.
#![no_main]

use arbitrary::Arbitrary;
use convkit_kernels::{
    reference, Activation, Algorithm, Conv2d, Conv2dPlan, ConvOptions, Level, Padding, Pool2d,
    Pool2dPlan, PoolKind, PoolOptions,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct ConvCase {
    batch: u8,
    channels: (u8, u8),
    groups: u8,
    input: (u8, u8),
    kernel: (u8, u8),
    stride: (u8, u8),
    dilation: (u8, u8),
    padding: (u8, u8, u8, u8),
    algorithm: u8,
    level: u8,
    activation: u8,
    /// Deltas applied to the correct slice lengths (0 = correct).
    length_skew: (i8, i8, i8, i8),
    huge: bool,
}

#[derive(Arbitrary, Debug)]
struct PoolCase {
    max: bool,
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
    length_skew: (i8, i8),
}

#[derive(Arbitrary, Debug)]
enum Case {
    Conv(ConvCase),
    Pool(PoolCase),
}

/// Small dimensions keep each run fast; `huge` probes the overflow checks.
fn dim(v: u8, huge: bool) -> usize {
    if huge && v > 200 {
        usize::MAX / (v as usize - 199)
    } else {
        (v % 12) as usize
    }
}

fn skewed(len: usize, skew: i8) -> usize {
    len.saturating_add_signed(skew as isize).min(1 << 20)
}

fn pick_level(v: u8) -> Level {
    Level::ALL[v as usize % Level::ALL.len()]
}

fn pick_activation(v: u8) -> Activation {
    match v % 6 {
        0 => Activation::Identity,
        1 => Activation::Relu,
        2 => Activation::Sigmoid,
        3 => Activation::Tanh,
        4 => Activation::Clamp {
            min: -1.0,
            max: 1.0,
        },
        _ => Activation::Clamp {
            min: 1.0,
            max: -1.0,
        },
    }
}

fn fill(n: usize, seed: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7 + seed) % 17) as f32 - 8.0).collect()
}

fn conv(c: ConvCase) {
    let Ok(desc) = Conv2d::builder()
        .batch(dim(c.batch, c.huge))
        .channels(dim(c.channels.0, c.huge), dim(c.channels.1, c.huge))
        .groups(dim(c.groups, false))
        .input_size(dim(c.input.0, c.huge), dim(c.input.1, c.huge))
        .kernel_size(dim(c.kernel.0, false), dim(c.kernel.1, false))
        .stride((c.stride.0 % 4) as usize, (c.stride.1 % 4) as usize)
        .dilation((c.dilation.0 % 4) as usize, (c.dilation.1 % 4) as usize)
        .padding(Padding::new(
            (c.padding.0 % 4) as usize,
            (c.padding.1 % 4) as usize,
            (c.padding.2 % 4) as usize,
            (c.padding.3 % 4) as usize,
        ))
        .build()
    else {
        return;
    };
    if desc.input_len() > 1 << 16 || desc.output_len() > 1 << 16 || desc.weights_len() > 1 << 16 {
        return;
    }
    let algorithm = Algorithm::ALL[c.algorithm as usize % Algorithm::ALL.len()];
    let Ok(plan) = Conv2dPlan::new(
        &desc,
        ConvOptions {
            algorithm,
            level: Some(pick_level(c.level)),
            activation: pick_activation(c.activation),
        },
    ) else {
        return;
    };
    let input = fill(skewed(desc.input_len(), c.length_skew.0), 1);
    let weights = fill(skewed(desc.weights_len(), c.length_skew.1), 2);
    let bias = fill(skewed(desc.bias_len(), c.length_skew.2), 3);
    let mut output = vec![0.0f32; skewed(desc.output_len(), c.length_skew.3)];
    let mut scratch = vec![0.0f32; plan.scratch_len()];
    let ran = plan
        .run(&input, &weights, Some(&bias), &mut output, &mut scratch)
        .is_ok();
    // From the actual lengths, not the skews: a skew cannot shorten an empty buffer
    // (`saturating_add_signed`), so a nonzero skew may still leave a length right.
    let lengths_right = input.len() == desc.input_len()
        && weights.len() == desc.weights_len()
        && bias.len() == desc.bias_len()
        && output.len() == desc.output_len();
    assert_eq!(ran, lengths_right, "lengths were right: {lengths_right}");
    // Prepared weights: a wrong length is an error, never a panic.
    let mut prepared = vec![0.0f32; skewed(plan.prepared_weights_len(), c.length_skew.3)];
    let ok = plan.prepare_weights(&weights, &mut prepared).is_ok();
    let right =
        weights.len() == desc.weights_len() && prepared.len() == plan.prepared_weights_len();
    assert_eq!(ok, right, "prepared lengths were right: {right}");
    // Compare only an output that `run` wrote (preparing can succeed where `run` failed).
    if ran && plan.activation() == Activation::Identity {
        let mut want = vec![0.0f32; desc.output_len()];
        reference::conv2d(&desc, &input, &weights, Some(&bias), &mut want).unwrap();
        let winograd = plan.algorithm().name().starts_with("winograd");
        if winograd {
            // Winograd transforms round (F(6,3) has entries like 1/32): within its error
            // bound, scaled by the largest possible sum of |x·w| (|x|, |w| <= 8).
            let scale = 64.0 * desc.weights_len() as f32 / desc.out_channels() as f32;
            for (a, b) in output.iter().zip(&want) {
                assert!((a - b).abs() <= 2e-4 * scale.max(1.0), "{a} vs {b}");
            }
        } else {
            // Small-integer data: every other algorithm must be exact.
            assert_eq!(output, want, "{} at {}", plan.algorithm(), plan.level());
        }
    }
}

fn pool(c: PoolCase) {
    let kind = if c.max {
        PoolKind::Max
    } else {
        PoolKind::Average
    };
    let mut b = Pool2d::builder(kind)
        .batch(dim(c.batch, false))
        .channels(dim(c.channels, false))
        .input_size(dim(c.input.0, false), dim(c.input.1, false))
        .window(dim(c.window.0, false), dim(c.window.1, false))
        .stride((c.stride.0 % 5) as usize, (c.stride.1 % 5) as usize)
        .dilation((c.dilation.0 % 4) as usize, (c.dilation.1 % 4) as usize)
        .padding(Padding::new(
            (c.padding.0 % 4) as usize,
            (c.padding.1 % 4) as usize,
            (c.padding.2 % 4) as usize,
            (c.padding.3 % 4) as usize,
        ))
        .ceil_mode(c.ceil)
        .count_include_pad(c.include_pad);
    if c.global {
        b = b.global();
    }
    let Ok(desc) = b.build() else {
        return;
    };
    let Ok(plan) = Pool2dPlan::new(&desc, PoolOptions::default()) else {
        return;
    };
    let input = fill(skewed(desc.input_len(), c.length_skew.0), 5);
    let mut output = vec![0.0f32; skewed(desc.output_len(), c.length_skew.1)];
    // From the actual lengths (an empty buffer cannot be skewed shorter).
    let input_right = input.len() == desc.input_len();
    let ran = plan.run(&input, &mut output).is_ok();
    assert_eq!(ran, input_right && output.len() == desc.output_len());
    // Indices: only for max pooling, and of the output's length.
    let mut indices = vec![0u32; skewed(desc.output_len(), c.length_skew.1)];
    let mut values = vec![0.0f32; desc.output_len()];
    let ok = plan
        .run_with_indices(&input, &mut values, &mut indices)
        .is_ok();
    assert_eq!(
        ok,
        c.max && input_right && indices.len() == desc.output_len()
    );
    if ran {
        let mut want = vec![0.0f32; desc.output_len()];
        reference::pool2d(&desc, &input, &mut want).unwrap();
        for (a, b) in output.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
}

fuzz_target!(|case: Case| match case {
    Case::Conv(c) => conv(c),
    Case::Pool(c) => pool(c),
});
