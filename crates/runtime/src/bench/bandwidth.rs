//! This machine's memory bandwidth: a copy benchmark, so that memory-bound kernels (pooling)
//! can be reported next to the rate at which the machine moves bytes at all.
//!
//! Each of `threads` threads copies its own share of one `bytes`-sized source buffer into a
//! destination buffer (`copy_from_slice`, which compiles to vector loads and stores); the
//! threads start together at a barrier and a repetition takes as long as the slowest thread.
//! Bandwidth counts the bytes read **and** written (`2 · bytes` per copy), the same way the
//! pooling rows count input plus output bytes.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Buffer sizes `convkit bench --bandwidth` measures: one that stays in the caches like the
/// pooling cases' working sets (the 3.2 MB max-pool input; this EPYC has 1 MiB L2 per core and a
/// shared L3), and one far larger than any cache (DRAM).
pub const COPY_SIZES: [usize; 2] = [4 << 20, 256 << 20];

/// A measured copy bandwidth.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bandwidth {
    /// Bytes copied per repetition (the source buffer size).
    pub bytes: usize,
    /// Threads copying at once.
    pub threads: usize,
    /// Best repetition: bytes read + written per second, in GB/s (10⁹).
    pub gbytes_per_s: f64,
}

impl Bandwidth {
    /// The JSON line of `convkit bench --bandwidth --json`: case `copy_<MiB>MiB`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "case": format!("copy_{}MiB", self.bytes >> 20),
            "threads": self.threads,
            "bytes": self.bytes,
            "gbytes_per_s": self.gbytes_per_s,
        })
    }
}

/// Measures copy bandwidth of a `bytes`-sized buffer on `threads` threads: repetitions for
/// about `budget` (at least 5), the best one reported (as for the FMA peak: the machine is
/// shared, and the best repetition is the one that ran undisturbed).
pub fn measure_copy(bytes: usize, threads: usize, budget: Duration) -> Bandwidth {
    let threads = threads.max(1);
    let n = (bytes / 4).max(threads);
    let src: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let mut dst = vec![0.0f32; n];
    let chunk = n.div_ceil(threads);
    let start = Instant::now();
    let mut best = f64::INFINITY;
    let mut reps = 0;
    while reps < 5 || start.elapsed() < budget {
        let barrier = Barrier::new(threads);
        let slowest = std::thread::scope(|s| {
            let handles: Vec<_> = src
                .chunks(chunk)
                .zip(dst.chunks_mut(chunk))
                .map(|(from, to)| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        barrier.wait();
                        let t = Instant::now();
                        to.copy_from_slice(black_box(from));
                        black_box(to);
                        t.elapsed().as_secs_f64()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(f64::INFINITY))
                .fold(0.0, f64::max)
        });
        best = best.min(slowest);
        reps += 1;
    }
    Bandwidth {
        bytes: n * 4,
        threads,
        gbytes_per_s: 2.0 * (n * 4) as f64 / best / 1e9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_bandwidth_is_positive_on_one_and_two_threads() {
        for t in [1, 2] {
            let b = measure_copy(1 << 20, t, Duration::ZERO);
            assert!(b.gbytes_per_s > 0.01 && b.gbytes_per_s.is_finite(), "{b:?}");
            assert_eq!((b.threads, b.bytes), (t, 1 << 20));
            assert_eq!(b.to_json()["case"], "copy_1MiB");
        }
    }
}
