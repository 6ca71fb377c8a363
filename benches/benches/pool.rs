//! Criterion benchmarks of the public pooling cases, through the same harness as
//! `convkit bench` (`convkit_runtime::bench`).
//!
//! Throughput is `Elements(output elements)`, so criterion's "elem/s" is the Gelem/s of
//! `convkit bench`. Environment: `CONVKIT_BENCH_THREADS` (default 1).

use convkit_benches::{configure, threads_from_env};
use convkit_kernels::Algorithm;
use convkit_runtime::bench::{public_cases, Workload};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn pool(c: &mut Criterion) {
    let threads = threads_from_env();
    let mut group = c.benchmark_group(format!("pool_t{threads}"));
    configure(&mut group);
    for case in public_cases().into_iter().filter(|c| c.is_pool()) {
        group.throughput(Throughput::Elements(case.work() as u64));
        let mut w = Workload::new(&case, Algorithm::Auto, None, threads).expect("pool case");
        group.bench_function(&case.name, |b| b.iter(|| w.run().expect("bench case runs")));
    }
    group.finish();
}

criterion_group!(benches, pool);
criterion_main!(benches);
