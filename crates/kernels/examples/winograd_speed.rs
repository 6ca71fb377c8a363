//! Winograd speed on the brief's 3×3 stride-1 cases, per tile size, at 1 and 2 threads, with
//! im2col + GEMM (`im2col`) measured in the same run for the selector's crossovers.
//!
//! `cargo run --release -p convkit-kernels --example winograd_speed [-- CASE... ALGO... ] [--reps N]`
//!
//! Direct-equivalent GFLOP/s = 2·N·K·C·9·P·Q / median wall time, with filters prepared once
//! ahead (as the runtime caches them). Two threads: the output's work units are split in two
//! `OutputPiece`s run on two scoped threads, each with its own scratch.
//!
//! Columns: median wall time and its GFLOP/s, and GFLOP/s over the median thread CPU time (at
//! two threads the slower thread's): on a machine shared with other jobs the wall clock counts
//! the time we were descheduled, CPU time does not. The FMA peak printed first is measured the
//! same way, in the same run.

use convkit_kernels::{Algorithm, Conv2d, Conv2dPlan, ConvOptions, OutputPiece, Padding};
use std::time::{Duration, Instant};

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}
extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// CPU time of this process (Linux `CLOCK_PROCESS_CPUTIME_ID`, all threads): on a machine
/// shared with other jobs it measures our work, not the time we spent descheduled.
fn cpu_time() -> Duration {
    clock(2)
}

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_time() -> Duration {
    clock(3)
}

fn clock(id: i32) -> Duration {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; clocks 2 and 3 exist on Linux.
    unsafe { clock_gettime(id, &mut ts) };
    Duration::new(ts.sec as u64, ts.nsec as u32)
}

const CASES: [(&str, usize, usize, usize); 5] = [
    ("resnet_3x3_64", 1, 64, 56),
    ("resnet_3x3_128", 1, 128, 28),
    ("resnet_3x3_256", 1, 256, 14),
    ("resnet_3x3_512", 1, 512, 7),
    ("vgg_3x3_b8", 8, 64, 112),
];

/// FP32 FMA peak of one core, GFLOP/s of CPU time: 12 independent AVX2 FMA chains (x86-64
/// with AVX2+FMA; 0 elsewhere). Measured in the same run, so results can be read as a
/// fraction of it on a noisy machine.
fn peak_gflops() -> f64 {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn chains(iters: usize) -> f32 {
        use std::arch::x86_64::*;
        let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc = [_mm256_set1_ps(1.0); 12];
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut s = _mm256_setzero_ps();
        for x in acc {
            s = _mm256_add_ps(s, x);
        }
        _mm256_cvtss_f32(s)
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        let iters = 20_000_000;
        let mut best = 0.0f64;
        for _ in 0..5 {
            let c = cpu_time();
            // SAFETY: AVX2 and FMA were detected just above.
            let v = unsafe { chains(iters) };
            let t = (cpu_time() - c).as_secs_f64();
            std::hint::black_box(v);
            best = best.max((iters * 12 * 8 * 2) as f64 / t / 1e9);
        }
        return best;
    }
    0.0
}

fn run_threads(
    plan: &Conv2dPlan,
    x: &[f32],
    u: &[f32],
    y: &mut [f32],
    scratch: &mut [Vec<f32>],
    threads: usize,
) -> f64 {
    let piece = OutputPiece::whole(y, plan.unit_geometry()).unwrap();
    let timed = |p, s: &mut Vec<f32>| {
        let t = thread_time();
        plan.run_piece_prepared(p, x, u, None, s).unwrap();
        (thread_time() - t).as_secs_f64()
    };
    if threads == 1 {
        return timed(piece, &mut scratch[0]);
    }
    let half = piece.len().div_ceil(2);
    let (a, b) = piece.split_at(half);
    let (s0, s1) = scratch.split_at_mut(1);
    // The slower thread's CPU time: what the wall time would be with both cores to ourselves
    // (a piece with fewer units, or none, finishes early and does not count).
    std::thread::scope(|s| {
        let h = s.spawn(|| timed(b, &mut s1[0]));
        let ta = timed(a, &mut s0[0]);
        ta.max(h.join().unwrap())
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut reps = 0usize;
    let mut names = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--reps" {
            reps = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        } else {
            names.push(a.clone());
        }
    }
    println!(
        "FMA peak (one core, CPU time): {:.1} GFLOP/s",
        peak_gflops()
    );
    println!(
        "{:<16} {:<13} {:>3} {:>10} {:>9} {:>9}",
        "case", "algorithm", "thr", "ms_median", "gflops", "gflops_cpu"
    );
    for (name, n, c, hw) in CASES {
        let cases: Vec<&String> = names
            .iter()
            .filter(|n| Algorithm::from_name(n).is_none())
            .collect();
        if !cases.is_empty() && !cases.iter().any(|x| *x == name) {
            continue;
        }
        let desc = Conv2d::builder()
            .batch(n)
            .channels(c, c)
            .input_size(hw, hw)
            .kernel_size(3, 3)
            .padding(Padding::uniform(1))
            .build()
            .unwrap();
        let x: Vec<f32> = (0..desc.input_len())
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let w: Vec<f32> = (0..desc.weights_len())
            .map(|i| ((i * 104_729) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let mut y = vec![0.0f32; desc.output_len()];
        for alg in [
            Algorithm::Im2colGemm,
            Algorithm::Winograd2x2,
            Algorithm::Winograd4x4,
            Algorithm::Winograd6x6,
        ] {
            let algos: Vec<&String> = names
                .iter()
                .filter(|n| Algorithm::from_name(n).is_some())
                .collect();
            if !algos.is_empty() && !algos.iter().any(|n| *n == alg.name()) {
                continue;
            }
            let plan = Conv2dPlan::new(
                &desc,
                ConvOptions {
                    algorithm: alg,
                    ..Default::default()
                },
            )
            .unwrap();
            // Algorithms without a prepared form take the raw weights.
            let mut u = vec![0.0f32; plan.prepared_weights_len()];
            plan.prepare_weights(&w, &mut u).unwrap();
            if u.is_empty() {
                u = w.clone();
            }
            let mut scratch = vec![vec![0.0f32; plan.prepared_scratch_len()]; 2];
            for threads in [1, 2] {
                // Warm up, then enough repetitions for about 0.5 s.
                let t0 = Instant::now();
                run_threads(&plan, &x, &u, &mut y, &mut scratch, threads);
                let once = t0.elapsed().max(Duration::from_micros(10));
                let r = if reps > 0 {
                    reps
                } else {
                    (0.5 / once.as_secs_f64()).clamp(5.0, 2000.0) as usize
                };
                let (mut times, mut cpu): (Vec<f64>, Vec<f64>) = (0..r)
                    .map(|_| {
                        let t = Instant::now();
                        let c = run_threads(&plan, &x, &u, &mut y, &mut scratch, threads);
                        (t.elapsed().as_secs_f64(), c)
                    })
                    .unzip();
                times.sort_by(f64::total_cmp);
                cpu.sort_by(f64::total_cmp);
                let med = times[times.len() / 2];
                let cpu_med = cpu[cpu.len() / 2];
                println!(
                    "{:<16} {:<13} {:>3} {:>10.3} {:>9.1} {:>9.1}",
                    name,
                    alg.name(),
                    threads,
                    med * 1e3,
                    desc.flops() / med / 1e9,
                    desc.flops() / cpu_med / 1e9
                );
            }
        }
    }
}
