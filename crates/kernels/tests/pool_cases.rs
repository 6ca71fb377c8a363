//! Deterministic pooling tests: the fast-kernel shapes at every edge width, global pooling,
//! the course's example, NaN and signed-zero rules, piece splits and errors.

mod pool_common;

use convkit_kernels::pool::IndexPiece;
use convkit_kernels::{
    Activation, Error, OutputPiece, Padding, Pool2d, Pool2dPlan, PoolKind, PoolOptions,
};
use pool_common::{check_all_levels, levels, same, ACTIVATIONS};

fn values(len: usize, seed: u32) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let h = (i as u32 ^ seed)
                .wrapping_mul(2_654_435_761)
                .rotate_left(13);
            (h % 2001) as f32 / 125.0 - 8.0
        })
        .collect()
}

fn pool(kind: PoolKind, n: usize, c: usize, h: usize, w: usize) -> convkit_kernels::Pool2dBuilder {
    Pool2d::builder(kind).batch(n).channels(c).input_size(h, w)
}

#[test]
fn course_example_2x2() {
    // X = [[0,1,2],[3,4,5],[6,7,8]], 2×2 window, stride 1.
    let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
    for (kind, want) in [
        (PoolKind::Max, [4.0, 5.0, 7.0, 8.0]),
        (PoolKind::Average, [2.0, 3.0, 5.0, 6.0]),
    ] {
        let desc = pool(kind, 1, 1, 3, 3)
            .window(2, 2)
            .stride(1, 1)
            .build()
            .unwrap();
        for level in levels() {
            let plan = Pool2dPlan::new(
                &desc,
                PoolOptions {
                    level: Some(level),
                    ..Default::default()
                },
            )
            .unwrap();
            let mut y = [0.0f32; 4];
            plan.run(&x, &mut y).unwrap();
            assert_eq!(y, want, "{level} {kind:?}");
        }
    }
}

/// 2×2/2 and 3×3/2 (pad 1 and 0), floor and ceil mode, at every width from 1 to 70: below,
/// at and above one and two vectors at every level (4, 8, 16 lanes; a row of 2·lanes inputs
/// per vector of outputs).
#[test]
fn fast_kernels_at_edge_widths() {
    for w in 1..=70 {
        for h in [2, 3, 5] {
            for (win, pad) in [(2, 0), (3, 1), (3, 0)] {
                for ceil in [false, true] {
                    for kind in [PoolKind::Max, PoolKind::Average] {
                        for include in [false, true] {
                            let Ok(desc) = pool(kind, 1, 2, h, w)
                                .window(win, win)
                                .stride(2, 2)
                                .padding(Padding::uniform(pad))
                                .ceil_mode(ceil)
                                .count_include_pad(include)
                                .build()
                            else {
                                continue;
                            };
                            let x = values(desc.input_len(), (w * 31 + h) as u32);
                            check_all_levels(&desc, &x, Activation::Identity, 1);
                        }
                    }
                }
            }
        }
    }
}

/// The shared-row 3×3/2 max kernel (`max_3x3s2_shared_rows`): heights across its blocks of
/// 8 rows, widths across one and two vectors and across its column chunks (8 vectors of up
/// to 16 lanes: 256 inputs), every padding side, ceil mode; inputs with signed-zero ties
/// everywhere, and NaNs planted in a tap row shared by two output rows, in the first and the
/// last (overlapping) vector, and at a row's end.
#[test]
fn max_3x3s2_shared_rows_kernel() {
    for (h, w) in [
        (3, 35),
        (5, 36),
        (9, 37),
        (18, 47),
        (19, 66),
        (17, 69),
        (20, 131),
        (7, 300),
        (5, 531),
    ] {
        for pad in [[0, 0, 0, 0], [1, 1, 1, 1], [1, 0, 0, 1], [0, 1, 1, 0]] {
            for ceil in [false, true] {
                let desc = pool(PoolKind::Max, 1, 2, h, w)
                    .window(3, 3)
                    .stride(2, 2)
                    .padding(Padding::new(pad[0], pad[1], pad[2], pad[3]))
                    .ceil_mode(ceil)
                    .build()
                    .unwrap();
                let plan = Pool2dPlan::new(&desc, PoolOptions::default()).unwrap();
                assert_eq!(plan.kernel_name(), "max_3x3s2_shared_rows");
                let x = values(desc.input_len(), (h * w) as u32);
                check_all_levels(&desc, &x, Activation::Identity, 1);
                // Small integers and both zeros: ties in almost every window.
                let ties: Vec<f32> = x
                    .iter()
                    .enumerate()
                    .map(|(i, v)| match i % 5 {
                        0 => -0.0,
                        1 => 0.0,
                        _ => (v.round() / 4.0).min(0.0),
                    })
                    .collect();
                check_all_levels(&desc, &ties, Activation::Relu, 0);
                for at in [w + 3, 2 * w + 17, 3 * w - 1, 5 * w + w / 2, 9 * w - 2] {
                    let mut y = x.clone();
                    if at < y.len() {
                        y[at] = f32::NAN;
                        check_all_levels(&desc, &y, Activation::Identity, 2);
                    }
                }
            }
        }
    }
}

/// A NaN in any column of the first rows (pad 1: row 0 is the top row's first tap row, rows
/// 1 and 3 are shared; pad 0: row 2 is shared) reaches exactly its outputs at every level:
/// the 3×3/2 max kernel checks each tap it folds (its vectors' loads, the one element past
/// each vector's loads, the left-edge vector's columns 0 and 1, the column-chunk boundaries
/// of a 531-wide row, the top row's) and recomputes a row that holds one.
#[test]
fn max_3x3s2_nan_in_any_column() {
    for w in [70, 531] {
        for pad in [1, 0] {
            let desc = pool(PoolKind::Max, 1, 1, 7, w)
                .window(3, 3)
                .stride(2, 2)
                .padding(Padding::uniform(pad))
                .build()
                .unwrap();
            let x = values(desc.input_len(), w as u32);
            for row in 0..4 {
                for col in 0..w {
                    let mut y = x.clone();
                    y[row * w + col] = f32::NAN;
                    check_all_levels(&desc, &y, Activation::Identity, 0);
                }
            }
        }
    }
}

#[test]
fn benchmark_shapes_with_every_activation() {
    let cases = [
        pool(PoolKind::Max, 1, 4, 112, 112)
            .window(2, 2)
            .stride(2, 2),
        pool(PoolKind::Max, 1, 4, 112, 112)
            .window(3, 3)
            .stride(2, 2)
            .padding(Padding::uniform(1)),
        pool(PoolKind::Average, 4, 6, 28, 28)
            .window(2, 2)
            .stride(2, 2),
        // LeNet's second pool, and stacked planes with an odd width, a window 3 high and a
        // horizontal stride that differs from the vertical one.
        pool(PoolKind::Average, 3, 16, 10, 10)
            .window(2, 2)
            .stride(2, 2),
        pool(PoolKind::Max, 5, 3, 10, 11).window(2, 2).stride(2, 2),
        pool(PoolKind::Average, 2, 5, 9, 13)
            .window(3, 2)
            .stride(3, 2),
        pool(PoolKind::Max, 2, 4, 12, 40).window(3, 3).stride(3, 2),
    ];
    for b in cases {
        let desc = b.build().unwrap();
        let x = values(desc.input_len(), 7);
        for (i, act) in ACTIVATIONS.into_iter().enumerate() {
            check_all_levels(&desc, &x, act, i * 3);
        }
    }
}

#[test]
fn global_pooling() {
    for (h, w) in [(1, 1), (7, 7), (1, 17), (33, 1), (14, 14), (40, 40)] {
        for kind in [PoolKind::Max, PoolKind::Average] {
            let desc = pool(kind, 2, 3, h, w).global().build().unwrap();
            let x = values(desc.input_len(), 3);
            check_all_levels(&desc, &x, Activation::Identity, 1);
            check_all_levels(&desc, &x, Activation::Sigmoid, 0);
        }
    }
}

#[test]
fn nan_in_any_tap_gives_nan_and_its_index() {
    for (win, pad) in [(2, 0), (3, 1), (3, 0), (4, 1)] {
        let desc = pool(PoolKind::Max, 1, 1, 6, 37)
            .window(win, win)
            .stride(2, 2)
            .padding(Padding::uniform(pad))
            .build()
            .unwrap();
        for at in [0, 1, 2, 17, 36, 37, 38, 100, 221] {
            let mut x = values(desc.input_len(), at as u32);
            x[at] = f32::NAN;
            check_all_levels(&desc, &x, Activation::Identity, 0);
        }
    }
    let desc = pool(PoolKind::Max, 1, 1, 5, 33).global().build().unwrap();
    let mut x = values(desc.input_len(), 9);
    x[40] = f32::NAN;
    check_all_levels(&desc, &x, Activation::Identity, 0);
}

#[test]
fn signed_zero_ties_keep_the_first_tap() {
    // Every window holds only zeros of both signs: the sign of the first tap wins.
    for w in [8, 9, 33, 64] {
        let desc = pool(PoolKind::Max, 1, 1, 4, w)
            .window(3, 3)
            .stride(2, 2)
            .padding(Padding::uniform(1))
            .build()
            .unwrap();
        let x: Vec<f32> = (0..desc.input_len())
            .map(|i| if (i * 7 + i / 3) % 3 == 0 { -0.0 } else { 0.0 })
            .collect();
        check_all_levels(&desc, &x, Activation::Identity, 0);
        let desc = pool(PoolKind::Max, 1, 1, 4, w).global().build().unwrap();
        check_all_levels(&desc, &x, Activation::Identity, 0);
    }
}

#[test]
fn every_split_is_bit_identical() {
    let desc = pool(PoolKind::Average, 2, 3, 21, 19)
        .window(3, 3)
        .stride(2, 2)
        .padding(Padding::uniform(1))
        .ceil_mode(true)
        .count_include_pad(false)
        .build()
        .unwrap();
    let x = values(desc.input_len(), 5);
    let plan = Pool2dPlan::new(&desc, PoolOptions::default()).unwrap();
    let mut whole = vec![0.0f32; desc.output_len()];
    plan.run(&x, &mut whole).unwrap();
    let units = plan.unit_geometry().units();
    for mid in 0..=units {
        let mut y = vec![f32::NAN; desc.output_len()];
        let (a, b) = OutputPiece::whole(&mut y, plan.unit_geometry())
            .unwrap()
            .split_at(mid);
        plan.run_piece(a, &x).unwrap();
        plan.run_piece(b, &x).unwrap();
        assert!(whole.iter().zip(&y).all(|(a, b)| same(*a, *b)), "{mid}");
    }
}

/// Both unit shapes, against the reference at every level and split at every unit boundary
/// checked: planes smaller than a unit (units of whole planes of a block of channels, the
/// stacked 2×2/2 kernel across units included) and planes larger than one (row blocks of
/// every channel).
#[test]
fn channel_block_and_row_block_units_match_the_reference_at_any_split() {
    let cases = [
        // 40×40 planes, 30 channels: blocks of 6 channels, stacked exact-tiling windows.
        (
            pool(PoolKind::Max, 2, 30, 80, 80).window(2, 2).stride(2, 2),
            6,
        ),
        (
            pool(PoolKind::Average, 2, 30, 80, 80)
                .window(2, 2)
                .stride(2, 2),
            6,
        ),
        // 3×3/2 pad 1 (shared-row kernel), 20×20 planes: blocks of 21 channels.
        (
            pool(PoolKind::Max, 1, 45, 40, 40)
                .window(3, 3)
                .stride(2, 2)
                .padding(Padding::uniform(1)),
            21,
        ),
        // 92×92 planes (8464 outputs): row blocks.
        (
            pool(PoolKind::Max, 1, 3, 184, 184)
                .window(2, 2)
                .stride(2, 2),
            3,
        ),
        (
            pool(PoolKind::Average, 2, 2, 91, 91)
                .window(3, 3)
                .stride(1, 1)
                .padding(Padding::uniform(1))
                .count_include_pad(false),
            2,
        ),
    ];
    for (builder, channels_per_unit) in cases {
        let desc = builder.build().unwrap();
        let plan = Pool2dPlan::new(&desc, PoolOptions::default()).unwrap();
        let g = plan.unit_geometry();
        assert_eq!(g.channels_per_unit, channels_per_unit, "{desc:?}");
        assert!(g.units() >= 3, "{desc:?}");
        let x = values(desc.input_len(), 11);
        for split in [1, g.units() / 2, g.units() - 1] {
            check_all_levels(&desc, &x, Activation::Identity, split);
        }
    }
}

#[test]
fn rows_per_unit_gives_several_units_for_threads() {
    let desc = pool(PoolKind::Max, 1, 64, 112, 112)
        .window(2, 2)
        .stride(2, 2)
        .build()
        .unwrap();
    let plan = Pool2dPlan::new(&desc, PoolOptions::default()).unwrap();
    assert!(plan.unit_geometry().units() >= 8);
    assert_eq!(plan.kernel_name(), "stride2_w2_deinterleave");
}

#[test]
fn errors() {
    let max = pool(PoolKind::Max, 1, 2, 6, 6)
        .window(2, 2)
        .build()
        .unwrap();
    let avg = pool(PoolKind::Average, 1, 2, 6, 6)
        .window(2, 2)
        .build()
        .unwrap();
    let plan = Pool2dPlan::new(&max, PoolOptions::default()).unwrap();
    let x = vec![0.0f32; 72];
    let mut y = vec![0.0f32; 18];
    let mut idx = vec![0u32; 18];
    assert!(matches!(
        plan.run(&x[..71], &mut y),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(matches!(
        plan.run(&x, &mut y[..17]),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(matches!(
        plan.run_with_indices(&x, &mut y, &mut idx[..17]),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(matches!(
        plan.run_with_indices(&x[..1], &mut y, &mut idx),
        Err(Error::LengthMismatch { .. })
    ));
    let avg_plan = Pool2dPlan::new(&avg, PoolOptions::default()).unwrap();
    assert!(matches!(
        avg_plan.run_with_indices(&x, &mut y, &mut idx),
        Err(Error::InvalidParameter { .. })
    ));
    // A piece cut for another plan.
    let other = pool(PoolKind::Max, 1, 1, 6, 6)
        .window(2, 2)
        .build()
        .unwrap();
    let other = Pool2dPlan::new(&other, PoolOptions::default()).unwrap();
    let mut z = vec![0.0f32; 9];
    let piece = OutputPiece::whole(&mut z, other.unit_geometry()).unwrap();
    assert!(matches!(
        plan.run_piece(piece, &x),
        Err(Error::InvalidParameter { .. })
    ));
    // Index piece covering other units than the output piece.
    let g = plan.unit_geometry();
    let piece = OutputPiece::whole(&mut y, g).unwrap();
    let (_, ib) = IndexPiece::whole(&mut idx, g).unwrap().split_at(1);
    assert!(matches!(
        plan.run_piece_with_indices(piece, ib, &x),
        Err(Error::InvalidParameter { .. })
    ));
    // A bad clamp.
    assert!(Pool2dPlan::new(
        &max,
        PoolOptions {
            level: None,
            activation: Activation::Clamp { min: 1.0, max: 0.0 }
        }
    )
    .is_err());
}
