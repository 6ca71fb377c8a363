//! The public benchmark cases (BRIEF.md, "Benchmark cases"; depthwise from issue 4, pooling
//! from issue 6).

use convkit_kernels::{Conv2d, Error, Padding, Pool2d, PoolKind};

/// What a case computes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CaseKind {
    /// A convolution, measured in GFLOP/s.
    Conv(Conv2d),
    /// A pooling, measured in output Gelem/s.
    Pool(Pool2d),
}

/// A named benchmark case.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// Case name, as in the brief (`resnet_3x3_64`, ...) or `shape:<spec>` for custom shapes.
    pub name: String,
    /// The problem.
    pub kind: CaseKind,
}

impl Case {
    /// The work a call does: FLOPs (`2·N·K·(C/groups)·R·S·P·Q`) for a convolution, output
    /// elements for a pooling.
    pub fn work(&self) -> f64 {
        match &self.kind {
            CaseKind::Conv(d) => d.flops(),
            CaseKind::Pool(d) => d.output_len() as f64,
        }
    }

    /// Bytes a pooling call must move at least: its input read once and its output written
    /// once (`4 · (input + output elements)`); `None` for convolutions (compute-bound).
    pub fn bytes(&self) -> Option<f64> {
        match &self.kind {
            CaseKind::Conv(_) => None,
            CaseKind::Pool(d) => Some(4.0 * (d.input_len() + d.output_len()) as f64),
        }
    }

    /// True for pooling cases (reported in Gelem/s).
    pub fn is_pool(&self) -> bool {
        matches!(self.kind, CaseKind::Pool(_))
    }
}

/// One row of the convolution table: N, C, H(=W), K, R(=S), stride, pad, groups.
struct ConvRow {
    name: &'static str,
    n: usize,
    c: usize,
    hw: usize,
    k: usize,
    rs: usize,
    stride: usize,
    pad: usize,
    groups: usize,
}

#[rustfmt::skip]
const CONV_CASES: &[ConvRow] = &[
    ConvRow { name: "lenet_c1_b1",         n: 1,   c: 1,   hw: 28,  k: 6,   rs: 5, stride: 1, pad: 2, groups: 1 },
    ConvRow { name: "lenet_c1_b256",       n: 256, c: 1,   hw: 28,  k: 6,   rs: 5, stride: 1, pad: 2, groups: 1 },
    ConvRow { name: "lenet_c3_b1",         n: 1,   c: 6,   hw: 14,  k: 16,  rs: 5, stride: 1, pad: 0, groups: 1 },
    ConvRow { name: "lenet_c3_b256",       n: 256, c: 6,   hw: 14,  k: 16,  rs: 5, stride: 1, pad: 0, groups: 1 },
    ConvRow { name: "resnet_3x3_64",       n: 1,   c: 64,  hw: 56,  k: 64,  rs: 3, stride: 1, pad: 1, groups: 1 },
    ConvRow { name: "resnet_3x3_128",      n: 1,   c: 128, hw: 28,  k: 128, rs: 3, stride: 1, pad: 1, groups: 1 },
    ConvRow { name: "resnet_3x3_256",      n: 1,   c: 256, hw: 14,  k: 256, rs: 3, stride: 1, pad: 1, groups: 1 },
    ConvRow { name: "resnet_3x3_512",      n: 1,   c: 512, hw: 7,   k: 512, rs: 3, stride: 1, pad: 1, groups: 1 },
    ConvRow { name: "resnet_1x1_256_64",   n: 1,   c: 256, hw: 56,  k: 64,  rs: 1, stride: 1, pad: 0, groups: 1 },
    ConvRow { name: "resnet_stem",         n: 1,   c: 3,   hw: 224, k: 64,  rs: 7, stride: 2, pad: 3, groups: 1 },
    ConvRow { name: "resnet_3x3_s2",       n: 1,   c: 64,  hw: 56,  k: 128, rs: 3, stride: 2, pad: 1, groups: 1 },
    ConvRow { name: "vgg_3x3_b8",          n: 8,   c: 64,  hw: 112, k: 64,  rs: 3, stride: 1, pad: 1, groups: 1 },
    ConvRow { name: "mobilenet_dw_3x3_s1", n: 1,   c: 128, hw: 56,  k: 128, rs: 3, stride: 1, pad: 1, groups: 128 },
    ConvRow { name: "mobilenet_dw_3x3_s2", n: 1,   c: 64,  hw: 112, k: 64,  rs: 3, stride: 2, pad: 1, groups: 64 },
];

/// One row of the pooling table.
struct PoolRow {
    name: &'static str,
    kind: PoolKind,
    n: usize,
    c: usize,
    hw: usize,
    window: usize,
    stride: usize,
    pad: usize,
}

#[rustfmt::skip]
const POOL_CASES: &[PoolRow] = &[
    PoolRow { name: "maxpool_2x2_s2",            kind: PoolKind::Max,     n: 1,   c: 64, hw: 112, window: 2, stride: 2, pad: 0 },
    PoolRow { name: "maxpool_3x3_s2_p1",         kind: PoolKind::Max,     n: 1,   c: 64, hw: 112, window: 3, stride: 2, pad: 1 },
    PoolRow { name: "avgpool_2x2_s2_lenet_b256", kind: PoolKind::Average, n: 256, c: 6,  hw: 28,  window: 2, stride: 2, pad: 0 },
];

fn conv_case(r: &ConvRow) -> Result<Case, Error> {
    let desc = Conv2d::builder()
        .batch(r.n)
        .channels(r.c, r.k)
        .groups(r.groups)
        .input_size(r.hw, r.hw)
        .kernel_size(r.rs, r.rs)
        .stride(r.stride, r.stride)
        .padding(Padding::uniform(r.pad))
        .build()?;
    Ok(Case {
        name: r.name.to_string(),
        kind: CaseKind::Conv(desc),
    })
}

fn pool_case(r: &PoolRow) -> Result<Case, Error> {
    let desc = Pool2d::builder(r.kind)
        .batch(r.n)
        .channels(r.c)
        .input_size(r.hw, r.hw)
        .window(r.window, r.window)
        .stride(r.stride, r.stride)
        .padding(Padding::uniform(r.pad))
        .build()?;
    Ok(Case {
        name: r.name.to_string(),
        kind: CaseKind::Pool(desc),
    })
}

/// Every public case, convolutions first (in the brief's order), then pooling.
pub fn public_cases() -> Vec<Case> {
    CONV_CASES
        .iter()
        .map(conv_case)
        .chain(POOL_CASES.iter().map(pool_case))
        // The table is constant and covered by a test, so every row builds.
        .map(|c| c.expect("public case table is valid"))
        .collect()
}

/// Names of every public case, in order.
pub fn public_case_names() -> Vec<&'static str> {
    CONV_CASES
        .iter()
        .map(|r| r.name)
        .chain(POOL_CASES.iter().map(|r| r.name))
        .collect()
}

/// The public case called `name`, if any.
pub fn find_case(name: &str) -> Option<Case> {
    CONV_CASES
        .iter()
        .find(|r| r.name == name)
        .map(conv_case)
        .or_else(|| POOL_CASES.iter().find(|r| r.name == name).map(pool_case))
        .and_then(Result::ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2·N·K·(C/groups)·R·S·P·Q written out from the brief's table, with P, Q by hand.
    #[test]
    fn conv_flops_match_the_formula() {
        #[rustfmt::skip]
        let want: &[(&str, f64)] = &[
            ("lenet_c1_b1", 2.0 * 6.0 * 25.0 * 28.0 * 28.0),
            ("lenet_c1_b256", 256.0 * 2.0 * 6.0 * 25.0 * 28.0 * 28.0),
            ("lenet_c3_b1", 2.0 * 16.0 * 6.0 * 25.0 * 10.0 * 10.0),
            ("lenet_c3_b256", 256.0 * 2.0 * 16.0 * 6.0 * 25.0 * 10.0 * 10.0),
            ("resnet_3x3_64", 2.0 * 64.0 * 64.0 * 9.0 * 56.0 * 56.0),
            ("resnet_3x3_128", 2.0 * 128.0 * 128.0 * 9.0 * 28.0 * 28.0),
            ("resnet_3x3_256", 2.0 * 256.0 * 256.0 * 9.0 * 14.0 * 14.0),
            ("resnet_3x3_512", 2.0 * 512.0 * 512.0 * 9.0 * 7.0 * 7.0),
            ("resnet_1x1_256_64", 2.0 * 64.0 * 256.0 * 56.0 * 56.0),
            ("resnet_stem", 2.0 * 64.0 * 3.0 * 49.0 * 112.0 * 112.0),
            ("resnet_3x3_s2", 2.0 * 128.0 * 64.0 * 9.0 * 28.0 * 28.0),
            ("vgg_3x3_b8", 8.0 * 2.0 * 64.0 * 64.0 * 9.0 * 112.0 * 112.0),
            ("mobilenet_dw_3x3_s1", 2.0 * 128.0 * 9.0 * 56.0 * 56.0),
            ("mobilenet_dw_3x3_s2", 2.0 * 64.0 * 9.0 * 56.0 * 56.0),
            ("maxpool_2x2_s2", 64.0 * 56.0 * 56.0),
            ("maxpool_3x3_s2_p1", 64.0 * 56.0 * 56.0),
            ("avgpool_2x2_s2_lenet_b256", 256.0 * 6.0 * 14.0 * 14.0),
        ];
        let cases = public_cases();
        assert_eq!(cases.len(), want.len());
        for (case, (name, work)) in cases.iter().zip(want) {
            assert_eq!(case.name, *name);
            assert_eq!(case.work(), *work, "{name}");
            if let CaseKind::Pool(d) = case.kind {
                // Input read once plus output written once.
                let input = (d.batch() * d.channels() * d.input_height() * d.input_width()) as f64;
                assert_eq!(case.bytes(), Some(4.0 * (input + work)), "{name}");
            } else {
                assert_eq!(case.bytes(), None, "{name}");
            }
            if let CaseKind::Conv(d) = case.kind {
                let direct = 2.0
                    * (d.batch()
                        * d.out_channels()
                        * d.in_channels_per_group()
                        * d.kernel_height()
                        * d.kernel_width()
                        * d.output_height()
                        * d.output_width()) as f64;
                assert_eq!(d.flops(), direct, "{name}");
            }
        }
    }

    #[test]
    fn names_are_unique_and_findable() {
        let names = public_case_names();
        for (i, n) in names.iter().enumerate() {
            assert!(!names[..i].contains(n), "duplicate {n}");
            assert_eq!(find_case(n).map(|c| c.name), Some(n.to_string()));
        }
        assert!(find_case("resnet_9x9").is_none());
    }

    #[test]
    fn depthwise_cases_are_depthwise() {
        for name in ["mobilenet_dw_3x3_s1", "mobilenet_dw_3x3_s2"] {
            match find_case(name).map(|c| c.kind) {
                Some(CaseKind::Conv(d)) => assert!(d.is_depthwise(), "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
