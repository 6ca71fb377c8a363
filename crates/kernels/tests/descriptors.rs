//! Descriptor validation: output shapes from the course text and one test per error variant.

use convkit_kernels::{Axis, Conv2d, Error, Padding, Pool2d, PoolKind};

fn conv(h: usize, w: usize, r: usize, s: usize) -> convkit_kernels::Conv2dBuilder {
    Conv2d::builder()
        .channels(1, 1)
        .input_size(h, w)
        .kernel_size(r, s)
}

fn out(d: Conv2d) -> (usize, usize) {
    (d.output_height(), d.output_width())
}

#[test]
fn course_output_shapes() {
    // 8×8 input, 3×3 kernel, padding 1 on every side → 8×8.
    assert_eq!(
        out(conv(8, 8, 3, 3)
            .padding(Padding::uniform(1))
            .build()
            .unwrap()),
        (8, 8)
    );
    // 5×3 kernel with padding (2, 1) → 8×8.
    assert_eq!(
        out(conv(8, 8, 5, 3)
            .padding(Padding::symmetric(2, 1))
            .build()
            .unwrap()),
        (8, 8)
    );
    // 3×3, padding 1, stride 2 → 4×4.
    assert_eq!(
        out(conv(8, 8, 3, 3)
            .padding(Padding::uniform(1))
            .stride(2, 2)
            .build()
            .unwrap()),
        (4, 4)
    );
    // 3×5 kernel, padding (0, 1), stride (3, 4) → 2×2.
    assert_eq!(
        out(conv(8, 8, 3, 5)
            .padding(Padding::symmetric(0, 1))
            .stride(3, 4)
            .build()
            .unwrap()),
        (2, 2)
    );
    // No padding: (H − R + 1) × (W − S + 1).
    assert_eq!(out(conv(6, 8, 1, 2).build().unwrap()), (6, 7));
}

#[test]
fn stride_formula_matches_the_brief() {
    // ⌊(nh − kh + ph + sh)/sh⌋ with total padding ph; with ph = kh − 1 it is ⌊(nh + sh − 1)/sh⌋.
    for nh in 1..20 {
        for kh in 1..=nh.min(7) {
            for sh in 1..4 {
                for ph in 0..6 {
                    let d = conv(nh, 3, kh, 1)
                        .padding(Padding::from_totals(ph, 0))
                        .stride(sh, 1)
                        .build()
                        .unwrap();
                    assert_eq!(d.output_height(), (nh - kh + ph + sh) / sh);
                    if ph == kh - 1 {
                        #[allow(clippy::manual_div_ceil)] // the brief's formula, as written
                        let brief = (nh + sh - 1) / sh;
                        assert_eq!(d.output_height(), brief);
                    }
                }
            }
        }
    }
}

#[test]
fn dilation_and_groups_shapes() {
    let d = Conv2d::builder()
        .batch(2)
        .channels(6, 9)
        .groups(3)
        .input_size(10, 11)
        .kernel_size(3, 3)
        .dilation(2, 3)
        .padding(Padding::new(1, 0, 2, 1))
        .build()
        .unwrap();
    // Dilated kernel 5×7; padded input 11×14.
    assert_eq!(out(d), (7, 8));
    assert_eq!(d.weights_len(), 9 * 2 * 3 * 3);
    assert_eq!(d.input_len(), 2 * 6 * 10 * 11);
    assert_eq!(d.output_len(), 2 * 9 * 7 * 8);
    assert!(!d.is_depthwise());
    assert_eq!(d.flops(), 2.0 * (2 * 9 * 7 * 8) as f64 * (2 * 9) as f64);
    assert_eq!(d.to_builder().build().unwrap(), d);
    assert_eq!(d.with_batch(5).unwrap().batch(), 5);
}

#[test]
fn conv_error_variants() {
    let e = |b: convkit_kernels::Conv2dBuilder| b.build().unwrap_err();
    assert_eq!(
        e(conv(4, 4, 3, 3).batch(0)),
        Error::ZeroDimension { what: "batch" }
    );
    assert_eq!(
        e(conv(4, 4, 3, 3).channels(0, 1)),
        Error::ZeroDimension {
            what: "input channels"
        }
    );
    assert_eq!(
        e(conv(4, 4, 3, 3).channels(1, 0)),
        Error::ZeroDimension {
            what: "output channels"
        }
    );
    assert_eq!(
        e(conv(4, 4, 3, 3).groups(0)),
        Error::ZeroDimension { what: "groups" }
    );
    assert_eq!(
        e(conv(0, 4, 1, 1)),
        Error::ZeroDimension {
            what: "input height"
        }
    );
    assert_eq!(
        e(conv(4, 0, 1, 1)),
        Error::ZeroDimension {
            what: "input width"
        }
    );
    assert_eq!(
        e(conv(4, 4, 0, 1)),
        Error::ZeroDimension {
            what: "kernel height"
        }
    );
    assert_eq!(
        e(conv(4, 4, 1, 0)),
        Error::ZeroDimension {
            what: "kernel width"
        }
    );
    assert_eq!(
        e(conv(4, 4, 3, 3).stride(0, 1)),
        Error::ZeroStride { axis: Axis::Height }
    );
    assert_eq!(
        e(conv(4, 4, 3, 3).stride(1, 0)),
        Error::ZeroStride { axis: Axis::Width }
    );
    assert_eq!(
        e(conv(4, 4, 3, 3).dilation(0, 1)),
        Error::ZeroDilation { axis: Axis::Height }
    );
    assert_eq!(
        e(conv(4, 4, 3, 3).dilation(1, 0)),
        Error::ZeroDilation { axis: Axis::Width }
    );
    assert_eq!(
        e(conv(4, 4, 5, 3)),
        Error::KernelLargerThanInput {
            axis: Axis::Height,
            kernel: 5,
            padded_input: 4
        }
    );
    // Dilation makes a 3-tap kernel span 5 > 4 + 0.
    assert_eq!(
        e(conv(4, 4, 1, 3).dilation(1, 2)),
        Error::KernelLargerThanInput {
            axis: Axis::Width,
            kernel: 5,
            padded_input: 4
        }
    );
    // ... but padding makes it fit.
    assert!(conv(4, 4, 1, 3)
        .dilation(1, 2)
        .padding(Padding::new(0, 0, 1, 0))
        .build()
        .is_ok());
    assert_eq!(
        e(conv(4, 4, 3, 3).channels(6, 4).groups(4)),
        Error::ChannelsNotDivisibleByGroups {
            channels: 6,
            groups: 4
        }
    );
    assert_eq!(
        e(conv(4, 4, 3, 3).channels(4, 6).groups(4)),
        Error::ChannelsNotDivisibleByGroups {
            channels: 6,
            groups: 4
        }
    );
    assert!(matches!(
        e(conv(usize::MAX, 4, 1, 1).padding(Padding::uniform(1))),
        Error::Overflow { .. }
    ));
    assert!(matches!(
        e(conv(1 << 20, 1 << 20, 1, 1)
            .batch(1 << 20)
            .channels(1 << 20, 1)),
        Error::Overflow { .. }
    ));
    assert!(matches!(
        e(conv(4, 4, usize::MAX, 1).dilation(2, 1)),
        Error::Overflow { .. }
    ));
}

fn pool(kind: PoolKind, h: usize, w: usize, p: usize, q: usize) -> convkit_kernels::Pool2dBuilder {
    Pool2d::builder(kind)
        .channels(1)
        .input_size(h, w)
        .window(p, q)
}

#[test]
fn pool_shapes_and_defaults() {
    // Stride defaults to the window, as in PyTorch.
    let d = pool(PoolKind::Max, 28, 28, 2, 2).build().unwrap();
    assert_eq!((d.output_height(), d.output_width()), (14, 14));
    assert_eq!((d.stride_height(), d.stride_width()), (2, 2));
    let d = pool(PoolKind::Average, 3, 3, 2, 2)
        .stride(1, 1)
        .build()
        .unwrap();
    assert_eq!((d.output_height(), d.output_width()), (2, 2));
    assert!(d.count_include_pad());
    let d = pool(PoolKind::Max, 7, 9, 1, 1).global().build().unwrap();
    assert_eq!((d.output_height(), d.output_width()), (1, 1));
    assert_eq!((d.window_height(), d.window_width()), (7, 9));
    assert!(d.is_global());
}

#[test]
fn ceil_mode_follows_pytorch() {
    // 5 wide, window 2, stride 2: floor 2, ceil 3 (last window starts at 4 < 5).
    let d = pool(PoolKind::Max, 5, 5, 2, 2)
        .ceil_mode(true)
        .build()
        .unwrap();
    assert_eq!(d.output_width(), 3);
    assert_eq!(
        pool(PoolKind::Max, 5, 5, 2, 2)
            .build()
            .unwrap()
            .output_width(),
        2
    );
    // 6 wide, window 3, stride 2, pad 1: ceil((8−3)/2)+1 = 4, but window 3 would start at
    // 6 ≥ 6 + 1? No: 3·2 = 6 < 7, so 4 stays.
    let d = pool(PoolKind::Max, 6, 6, 3, 3)
        .stride(2, 2)
        .padding(Padding::uniform(1))
        .ceil_mode(true)
        .build()
        .unwrap();
    assert_eq!(d.output_width(), 4);
    // 4 wide, window 2, stride 3, pad 1: span 4, ceil(4/3)+1 = 3; last start 6 ≥ 4 + 1 → 2.
    let d = pool(PoolKind::Max, 4, 4, 2, 2)
        .stride(3, 3)
        .padding(Padding::uniform(1))
        .ceil_mode(true)
        .build()
        .unwrap();
    assert_eq!(d.output_width(), 2);
}

#[test]
fn pool_error_variants() {
    let e = |b: convkit_kernels::Pool2dBuilder| b.build().unwrap_err();
    assert_eq!(
        e(pool(PoolKind::Max, 4, 4, 2, 2).batch(0)),
        Error::ZeroDimension { what: "batch" }
    );
    assert_eq!(
        e(pool(PoolKind::Max, 4, 4, 2, 2).channels(0)),
        Error::ZeroDimension { what: "channels" }
    );
    assert_eq!(
        e(pool(PoolKind::Max, 4, 4, 0, 2)),
        Error::ZeroDimension {
            what: "window height"
        }
    );
    assert_eq!(
        e(pool(PoolKind::Max, 4, 4, 2, 2).stride(0, 2)),
        Error::ZeroStride { axis: Axis::Height }
    );
    assert_eq!(
        e(pool(PoolKind::Max, 4, 4, 2, 2).dilation(1, 0)),
        Error::ZeroDilation { axis: Axis::Width }
    );
    assert_eq!(
        e(pool(PoolKind::Average, 4, 4, 5, 2)),
        Error::KernelLargerThanInput {
            axis: Axis::Height,
            kernel: 5,
            padded_input: 4
        }
    );
    assert_eq!(
        e(pool(PoolKind::Max, 8, 8, 3, 3).padding(Padding::new(0, 0, 0, 2))),
        Error::PoolPaddingTooLarge {
            axis: Axis::Width,
            padding: 2,
            window: 3
        }
    );
    // Window 2 dilated by 5 with padding 1 on a 4-wide input: the only window's taps sit at
    // padded columns 0 and 5, both padding.
    assert_eq!(
        e(pool(PoolKind::Max, 4, 4, 1, 2)
            .dilation(1, 5)
            .padding(Padding::new(0, 0, 1, 1))),
        Error::PoolWindowOnlyPadding {
            axis: Axis::Width,
            output_index: 0
        }
    );
    assert!(matches!(
        e(pool(PoolKind::Max, usize::MAX, 4, 1, 1).channels(2)),
        Error::Overflow { .. }
    ));
}

#[test]
fn errors_display_readably() {
    let msg = Error::KernelLargerThanInput {
        axis: Axis::Width,
        kernel: 5,
        padded_input: 4,
    }
    .to_string();
    assert_eq!(
        msg,
        "dilated kernel width 5 is larger than the padded input width 4"
    );
    let e: &dyn core::error::Error = &Error::ZeroStride { axis: Axis::Height };
    assert_eq!(e.to_string(), "height stride must be at least 1, got 0");
}

/// The builder's empty-window check (which only inspects a few windows) agrees with checking
/// every window by brute force.
#[test]
fn empty_window_check_matches_brute_force() {
    for input in 1..7usize {
        for window in 1..5usize {
            for stride in 1..4usize {
                for dilation in 1..5usize {
                    for pad_l in 0..=window / 2 {
                        for pad_r in 0..=window / 2 {
                            for ceil in [false, true] {
                                let r = pool(PoolKind::Max, 1, input, 1, window)
                                    .stride(1, stride)
                                    .dilation(1, dilation)
                                    .padding(Padding::new(0, 0, pad_l, pad_r))
                                    .ceil_mode(ceil)
                                    .build();
                                let span = dilation * (window - 1) + 1;
                                let padded = input + pad_l + pad_r;
                                if span > padded {
                                    assert!(r.is_err());
                                    continue;
                                }
                                let out = match &r {
                                    Ok(d) => d.output_width(),
                                    Err(Error::PoolWindowOnlyPadding { .. }) => {
                                        let floor = (padded - span) / stride + 1;
                                        let mut c = (padded - span).div_ceil(stride) + 1;
                                        if (c - 1) * stride >= input + pad_l {
                                            c -= 1;
                                        }
                                        if ceil {
                                            c
                                        } else {
                                            floor
                                        }
                                    }
                                    Err(e) => panic!("unexpected {e}"),
                                };
                                let all_hit = (0..out).all(|o| {
                                    (0..window).any(|j| {
                                        let x = o * stride + j * dilation;
                                        x >= pad_l && x < pad_l + input
                                    })
                                });
                                assert_eq!(
                                    r.is_ok(),
                                    all_hit,
                                    "in {input} k {window} s {stride} d {dilation} pad {pad_l},{pad_r} ceil {ceil}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
