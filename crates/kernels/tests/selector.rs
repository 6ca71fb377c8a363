//! The selector's rules on the public benchmark cases (the measurements behind each rule are
//! on its constants in `conv/mod.rs` and in `docs/algorithms.md`).

use convkit_kernels::{Algorithm, Conv2d, Conv2dPlan, ConvOptions, Padding};

#[allow(clippy::too_many_arguments)]
fn auto(
    n: usize,
    c: usize,
    hw: usize,
    k: usize,
    rs: usize,
    stride: usize,
    pad: usize,
    groups: usize,
) -> Algorithm {
    let desc = Conv2d::builder()
        .batch(n)
        .channels(c, k)
        .groups(groups)
        .input_size(hw, hw)
        .kernel_size(rs, rs)
        .stride(stride, stride)
        .padding(Padding::uniform(pad))
        .build()
        .unwrap();
    Conv2dPlan::new(&desc, ConvOptions::default())
        .unwrap()
        .algorithm()
}

#[test]
fn public_cases() {
    use Algorithm::*;
    assert_eq!(auto(1, 1, 28, 6, 5, 1, 2, 1), Direct); // lenet_c1
    assert_eq!(auto(256, 6, 14, 16, 5, 1, 0, 1), Direct); // lenet_c3
    assert_eq!(auto(1, 3, 224, 64, 7, 2, 3, 1), Direct); // resnet_stem
    assert_eq!(auto(1, 64, 56, 64, 3, 1, 1, 1), Winograd4x4); // resnet_3x3_64
    assert_eq!(auto(1, 128, 28, 128, 3, 1, 1, 1), Winograd4x4);
    assert_eq!(auto(1, 256, 14, 256, 3, 1, 1, 1), Winograd4x4);
    assert_eq!(auto(1, 512, 7, 512, 3, 1, 1, 1), Winograd2x2);
    assert_eq!(auto(8, 64, 112, 64, 3, 1, 1, 1), Winograd4x4); // vgg_3x3_b8
    assert_eq!(auto(1, 256, 56, 64, 1, 1, 0, 1), Im2colGemm); // resnet_1x1_256_64
    assert_eq!(auto(1, 64, 56, 128, 3, 2, 1, 1), Direct); // resnet_3x3_s2
    assert_eq!(auto(1, 128, 56, 128, 3, 1, 1, 128), Depthwise);
    assert_eq!(auto(1, 64, 112, 64, 3, 2, 1, 64), Depthwise);
}
