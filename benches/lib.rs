//! Shared helpers for the criterion benchmarks. The cases, tensors and plans come from
//! `convkit_runtime::bench`, the harness `convkit bench` uses, so both time the same calls.

use convkit_kernels::Algorithm;
use std::time::Duration;

/// Threads from `CONVKIT_BENCH_THREADS` (default 1).
pub fn threads_from_env() -> usize {
    std::env::var("CONVKIT_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n >= 1)
        .unwrap_or(1)
}

/// Algorithms from `CONVKIT_BENCH_ALGO`: a name, `all`, or `auto` (default).
pub fn algorithms_from_env() -> Vec<Algorithm> {
    match std::env::var("CONVKIT_BENCH_ALGO").as_deref() {
        Ok("all") => Algorithm::ALL.to_vec(),
        Ok(name) => vec![Algorithm::from_name(name).unwrap_or(Algorithm::Auto)],
        Err(_) => vec![Algorithm::Auto],
    }
}

/// Few, short samples: the cases range from microseconds (LeNet, batch 1) to seconds
/// (the reference path on VGG), and the machine is shared.
pub fn configure<M: criterion::measurement::Measurement>(
    group: &mut criterion::BenchmarkGroup<'_, M>,
) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
}
