//! Winograd speed on the brief's 3×3 stride-1 cases, per tile size, at 1 and 2 threads.
//!
//! `cargo run --release -p convkit-kernels --example winograd_speed [-- CASE... ] [--reps N]`
//!
//! Direct-equivalent GFLOP/s = 2·N·K·C·9·P·Q / median wall time, with filters prepared once
//! ahead (as the runtime caches them). Two threads: the output's work units are split in two
//! `OutputPiece`s run on two scoped threads, each with its own scratch.

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
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; clock 2 exists on Linux.
    unsafe { clock_gettime(2, &mut ts) };
    Duration::new(ts.sec as u64, ts.nsec as u32)
}

const CASES: [(&str, usize, usize, usize); 5] = [
    ("resnet_3x3_64", 1, 64, 56),
    ("resnet_3x3_128", 1, 128, 28),
    ("resnet_3x3_256", 1, 256, 14),
    ("resnet_3x3_512", 1, 512, 7),
    ("vgg_3x3_b8", 8, 64, 112),
];

fn run_threads(
    plan: &Conv2dPlan,
    x: &[f32],
    u: &[f32],
    y: &mut [f32],
    scratch: &mut [Vec<f32>],
    threads: usize,
) {
    let piece = OutputPiece::whole(y, plan.unit_geometry()).unwrap();
    if threads == 1 {
        plan.run_piece_prepared(piece, x, u, None, &mut scratch[0])
            .unwrap();
        return;
    }
    let half = piece.len().div_ceil(2);
    let (a, b) = piece.split_at(half);
    let (s0, s1) = scratch.split_at_mut(1);
    std::thread::scope(|s| {
        s.spawn(|| plan.run_piece_prepared(b, x, u, None, &mut s1[0]).unwrap());
        plan.run_piece_prepared(a, x, u, None, &mut s0[0]).unwrap();
    });
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
        "{:<16} {:<13} {:>3} {:>10} {:>9} {:>9}",
        "case", "algorithm", "thr", "ms_median", "gflops", "gflops_cpu"
    );
    for (name, n, c, hw) in CASES {
        if !names.is_empty() && !names.iter().any(|x| x == name) {
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
            Algorithm::Winograd2x2,
            Algorithm::Winograd4x4,
            Algorithm::Winograd6x6,
        ] {
            let plan = Conv2dPlan::new(
                &desc,
                ConvOptions {
                    algorithm: alg,
                    ..Default::default()
                },
            )
            .unwrap();
            let mut u = vec![0.0f32; plan.prepared_weights_len()];
            plan.prepare_weights(&w, &mut u).unwrap();
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
                        let (t, c) = (Instant::now(), cpu_time());
                        run_threads(&plan, &x, &u, &mut y, &mut scratch, threads);
                        (t.elapsed().as_secs_f64(), (cpu_time() - c).as_secs_f64())
                    })
                    .unzip();
                times.sort_by(f64::total_cmp);
                cpu.sort_by(f64::total_cmp);
                let med = times[times.len() / 2];
                // CPU time per thread: the wall time the run would take with the cores to itself.
                let cpu_med = cpu[cpu.len() / 2] / threads as f64;
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
