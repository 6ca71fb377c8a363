//! Criterion benchmarks of the public convolution cases, through the same harness as
//! `convkit bench` (`convkit_runtime::bench`).
//!
//! Throughput is `Elements(FLOPs)`: criterion's "elem/s" is then FLOP/s
//! (`2·N·K·(C/groups)·R·S·P·Q` per call). Environment: `CONVKIT_BENCH_THREADS` (default 1),
//! `CONVKIT_BENCH_ALGO` (default `auto`; `all` for every algorithm).

use convkit_benches::{algorithms_from_env, configure, threads_from_env};
use convkit_runtime::bench::{public_cases, Workload};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn conv(c: &mut Criterion) {
    let threads = threads_from_env();
    let mut group = c.benchmark_group(format!("conv_t{threads}"));
    configure(&mut group);
    for case in public_cases().into_iter().filter(|c| !c.is_pool()) {
        group.throughput(Throughput::Elements(case.work() as u64));
        for algo in algorithms_from_env() {
            let Ok(mut w) = Workload::new(&case, algo, None, threads) else {
                continue; // the algorithm cannot run this case
            };
            let id = BenchmarkId::new(&case.name, w.algorithm_name());
            group.bench_function(id, |b| b.iter(|| w.run().expect("bench case runs")));
        }
    }
    group.finish();
}

criterion_group!(benches, conv);
criterion_main!(benches);
