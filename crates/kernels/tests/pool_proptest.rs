//! Pooling against the reference on random descriptors, at every supported SIMD level.

mod pool_common;

use convkit_kernels::{Padding, Pool2d, PoolKind};
use pool_common::{cases, check_all_levels, ACTIVATIONS};
use proptest::prelude::*;

/// Input values: uniform floats, or small integers with both zeros (ties everywhere, which
/// exercises the first-tap rule of max and arg-max), optionally with NaNs planted.
fn input(len: usize, mode: u8, seed: u64, nans: usize) -> Vec<f32> {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut v: Vec<f32> = (0..len)
        .map(|_| {
            let r = next();
            match mode {
                0 => ((r >> 11) as f64 / (1u64 << 53) as f64 * 16.0 - 8.0) as f32,
                _ => match r % 8 {
                    0 => -0.0,
                    1 => 0.0,
                    k => (k as f32) - 5.0,
                },
            }
        })
        .collect();
    for _ in 0..nans {
        let i = (next() % len as u64) as usize;
        v[i] = f32::NAN;
    }
    v
}

#[derive(Debug, Clone)]
struct Case {
    kind: PoolKind,
    batch: usize,
    channels: usize,
    size: (usize, usize),
    window: (usize, usize),
    stride: (usize, usize),
    dilation: (usize, usize),
    pad: [usize; 4],
    ceil: bool,
    include: bool,
    act: usize,
    mode: u8,
    nans: usize,
    seed: u64,
    split: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (
            prop_oneof![Just(PoolKind::Max), Just(PoolKind::Average)],
            1usize..=2,
            1usize..=3,
            (1usize..=40, 1usize..=40),
            (1usize..=7, 1usize..=7),
            (1usize..=4, 1usize..=4),
            (1usize..=3, 1usize..=3),
        ),
        (
            [0usize..=3, 0usize..=3, 0usize..=3, 0usize..=3],
            any::<bool>(),
            any::<bool>(),
            0usize..ACTIVATIONS.len(),
            0u8..2,
            prop_oneof![4 => Just(0usize), 1 => 1usize..3],
            any::<u64>(),
            0usize..64,
        ),
    )
        .prop_map(
            |(
                (kind, batch, channels, size, window, stride, dilation),
                (pad, ceil, include, act, mode, nans, seed, split),
            )| {
                // Padding within the legal range: at most half the window per side.
                let pad = [
                    pad[0].min(window.0 / 2),
                    pad[1].min(window.0 / 2),
                    pad[2].min(window.1 / 2),
                    pad[3].min(window.1 / 2),
                ];
                // Keep the dilated window inside the padded input most of the time.
                let dilation = (
                    dilation.0.min((size.0 + pad[0] + pad[1]).max(1)),
                    dilation.1.min((size.1 + pad[2] + pad[3]).max(1)),
                );
                Case {
                    kind,
                    batch,
                    channels,
                    size,
                    window,
                    stride,
                    dilation,
                    pad,
                    ceil,
                    include,
                    act,
                    mode,
                    nans,
                    seed,
                    split,
                }
            },
        )
}

fn build(c: &Case) -> Option<Pool2d> {
    Pool2d::builder(c.kind)
        .batch(c.batch)
        .channels(c.channels)
        .input_size(c.size.0, c.size.1)
        .window(c.window.0, c.window.1)
        .stride(c.stride.0, c.stride.1)
        .dilation(c.dilation.0, c.dilation.1)
        .padding(Padding {
            top: c.pad[0],
            bottom: c.pad[1],
            left: c.pad[2],
            right: c.pad[3],
        })
        .ceil_mode(c.ceil)
        .count_include_pad(c.include)
        .build()
        .ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(48)))]

    #[test]
    fn windowed_pooling_matches_reference(c in case()) {
        // Descriptors the builder rejects (window larger than the padded input, windows of
        // padding only) are skipped.
        if let Some(desc) = build(&c) {
            let nans = if c.kind == PoolKind::Max { c.nans } else { 0 };
            let x = input(desc.input_len(), c.mode, c.seed, nans);
            check_all_levels(&desc, &x, ACTIVATIONS[c.act], c.split);
        }
    }

    #[test]
    fn global_pooling_matches_reference(
        max in any::<bool>(),
        batch in 1usize..=2,
        channels in 1usize..=3,
        h in 1usize..=40,
        w in 1usize..=40,
        act in 0usize..ACTIVATIONS.len(),
        mode in 0u8..2,
        nans in prop_oneof![3 => Just(0usize), 1 => 1usize..3],
        seed in any::<u64>(),
        split in 0usize..4,
    ) {
        let kind = if max { PoolKind::Max } else { PoolKind::Average };
        let desc = Pool2d::builder(kind).batch(batch).channels(channels).input_size(h, w)
            .global().build().unwrap();
        let x = input(desc.input_len(), mode, seed, if max { nans } else { 0 });
        check_all_levels(&desc, &x, ACTIVATIONS[act], split);
    }
}
