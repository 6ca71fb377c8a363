//! The training random stream: ChaCha8 from the user's seed, with the two uses (initial
//! weights, epoch orders) on separate ChaCha streams so neither shifts the other.
//!
//! Everything drawn is defined here, not by a crate's sampling helpers (whose algorithms may
//! change between versions), so a seed gives the same weights and orders with any future
//! dependency update of the sampling crates:
//! - a uniform `f32` in `[0, 1)` is `(next_u32() >> 8) · 2⁻²⁴` (24 random mantissa bits);
//! - an index below `n` is `(next_u64() · n) >> 64` (Lemire's multiply-shift, bias < n/2⁶⁴);
//! - a shuffle is Fisher–Yates from the last element down.

use chacha20::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// The ChaCha stream the initial weights are drawn from.
pub const INIT_STREAM: u64 = 0;
/// The ChaCha stream the epoch orders are drawn from.
pub const SHUFFLE_STREAM: u64 = 1;

/// A seeded ChaCha8 generator (see the module docs for what each draw is).
#[derive(Debug)]
pub struct TrainRng(ChaCha8Rng);

impl TrainRng {
    /// The generator for `seed` on ChaCha stream `stream` ([`INIT_STREAM`], [`SHUFFLE_STREAM`]).
    /// The 64-bit seed is expanded to ChaCha's 256-bit key by `rand_core`'s `seed_from_u64`
    /// (PCG32 output, fixed by its documentation).
    pub fn new(seed: u64, stream: u64) -> TrainRng {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        TrainRng(rng)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.0.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// Uniform in `[-bound, bound)`.
    pub fn symmetric(&mut self, bound: f32) -> f32 {
        bound * (2.0 * self.unit() - 1.0)
    }

    /// Uniform index in `0..n` (`n >= 1`).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.0.next_u64()) * n as u128) >> 64) as usize
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_fixed_and_independent() {
        let a: Vec<f32> = {
            let mut r = TrainRng::new(7, INIT_STREAM);
            (0..4).map(|_| r.unit()).collect()
        };
        let b: Vec<f32> = {
            let mut r = TrainRng::new(7, INIT_STREAM);
            (0..4).map(|_| r.unit()).collect()
        };
        let c: Vec<f32> = {
            let mut r = TrainRng::new(7, SHUFFLE_STREAM);
            (0..4).map(|_| r.unit()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|&x| (0.0..1.0).contains(&x)));
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut v: Vec<u32> = (0..100).collect();
        TrainRng::new(1, SHUFFLE_STREAM).shuffle(&mut v);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort_unstable();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
    }
}
