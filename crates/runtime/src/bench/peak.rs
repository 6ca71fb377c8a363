//! This machine's FP32 FMA peak, measured with [`convkit_kernels::simd::fma_peak_flops`].

use convkit_kernels::simd::fma_peak_flops;
use convkit_kernels::Level;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// A measured peak.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peak {
    /// Threads that ran the probe at once (one probe each).
    pub threads: usize,
    /// SIMD level of the probe.
    pub level: Level,
    /// Best GFLOP/s over the repetitions (all threads together).
    pub gflops: f64,
}

/// Probe iterations that take about `target` on one thread.
fn calibrate(level: Level, target: Duration) -> u64 {
    let mut iterations = 1u64 << 12;
    loop {
        let t = Instant::now();
        fma_peak_flops(level, iterations);
        let dt = t.elapsed();
        if dt >= target / 8 || iterations >= 1 << 40 {
            let scale = target.as_secs_f64() / dt.as_secs_f64().max(1e-9);
            return ((iterations as f64 * scale) as u64).max(1);
        }
        iterations *= 4;
    }
}

/// One repetition on `threads` threads started together: total FLOPs / slowest thread time.
fn one_rep(level: Level, threads: usize, iterations: u64) -> f64 {
    let barrier = Barrier::new(threads);
    let per_thread: Vec<(u64, f64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let t = Instant::now();
                    let flops = fma_peak_flops(level, iterations);
                    (flops, t.elapsed().as_secs_f64())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or((0, f64::INFINITY)))
            .collect()
    });
    let flops: u64 = per_thread.iter().map(|p| p.0).sum();
    let slowest = per_thread.iter().map(|p| p.1).fold(0.0, f64::max);
    flops as f64 / slowest / 1e9
}

/// Measures the peak at `level` on `threads` threads (one probe per thread): repetitions of
/// about 20 ms for about `budget` (at least 5), the best one reported, as the peers' `peak.c`
/// did.
pub fn measure_peak(level: Level, threads: usize, budget: Duration) -> Peak {
    let threads = threads.max(1);
    let iterations = calibrate(level, Duration::from_millis(20));
    let start = Instant::now();
    let mut best = 0.0f64;
    let mut reps = 0;
    while reps < 5 || start.elapsed() < budget {
        best = best.max(one_rep(level, threads, iterations));
        reps += 1;
    }
    Peak {
        threads,
        level,
        gflops: best,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_is_positive_on_one_and_two_threads() {
        for t in [1, 2] {
            let p = measure_peak(convkit_kernels::simd::detected(), t, Duration::ZERO);
            assert!(p.gflops > 0.1 && p.gflops.is_finite(), "{p:?}");
            assert_eq!(p.threads, t);
        }
    }
}
