//! Helpers shared by the fuzz targets (each target is its own binary and includes this module;
//! not every target uses every helper).
#![allow(dead_code)]

/// `len` deterministic values from `seed` (xorshift64): small integers in −8..=8 (products and
/// sums exact in `f32`, so fast paths must match the reference exactly), or reals in [−1, 1).
pub fn fill(len: usize, seed: u64, integers: bool) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            if integers {
                ((s >> 40) % 17) as f32 - 8.0
            } else {
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            }
        })
        .collect()
}

/// `len` changed by `skew` (never below zero), and whether it changed: a hostile slice length.
pub fn skewed(len: usize, skew: i8) -> (usize, bool) {
    let l = (len as isize + skew as isize).max(0) as usize;
    (l, l != len)
}
