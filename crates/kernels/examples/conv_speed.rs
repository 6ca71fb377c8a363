//! Single-thread speed of the im2col paths on the brief's public convolution cases.
//!
//! ```text
//! cargo run -p convkit-kernels --release --example conv_speed [-- [--algo NAME]... [--level NAME] [CASE_FILTER]...]
//! ```
//!
//! Prints, per case and algorithm, the median time of many repetitions after warm-up and
//! GFLOP/s = 2·N·K·(C/groups)·R·S·P·Q / time, from wall time and from the thread's CPU time
//! (the latter discounts the time other processes hold the core on a shared machine). Both algorithms are measured in the same run, so
//! their ratio is meaningful on a shared, noisy machine even when absolute figures drift.

use convkit_kernels::{Activation, Algorithm, Conv2d, Conv2dPlan, ConvOptions, Level, Padding};
use std::time::{Duration, Instant};

/// (name, N, C, H=W, K, R=S, stride, pad)
const CASES: &[(&str, usize, usize, usize, usize, usize, usize, usize)] = &[
    ("resnet_1x1_256_64", 1, 256, 56, 64, 1, 1, 0),
    ("resnet_stem", 1, 3, 224, 64, 7, 2, 3),
    ("resnet_3x3_s2", 1, 64, 56, 128, 3, 2, 1),
    ("lenet_c3_b256", 256, 6, 14, 16, 5, 1, 0),
    ("resnet_3x3_64", 1, 64, 56, 64, 3, 1, 1),
    ("resnet_3x3_128", 1, 128, 28, 128, 3, 1, 1),
    ("resnet_3x3_256", 1, 256, 14, 256, 3, 1, 1),
    ("resnet_3x3_512", 1, 512, 7, 512, 3, 1, 1),
    ("vgg_3x3_b8", 8, 64, 112, 64, 3, 1, 1),
    ("lenet_c1_b1", 1, 1, 28, 6, 5, 1, 2),
    ("lenet_c1_b256", 256, 1, 28, 6, 5, 1, 2),
    ("lenet_c3_b1", 1, 6, 14, 16, 5, 1, 0),
];

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// CPU time this thread has run (Linux `CLOCK_THREAD_CPUTIME_ID`): unlike wall time it does
/// not count the time other processes on a shared machine hold the core.
fn thread_cpu_time() -> Duration {
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec (two 64-bit fields on x86-64/aarch64 Linux).
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Times of the `runs` closures, interleaved repetition by repetition so that load from other
/// processes hits every algorithm alike: per closure (median wall, median CPU, minimum CPU).
fn interleaved_times(runs: &mut [Box<dyn FnMut() + '_>]) -> Vec<(Duration, Duration, Duration)> {
    // Warm-up, then enough rounds for ~0.3 s of CPU time per closure (at least 7).
    let t0 = thread_cpu_time();
    for f in runs.iter_mut() {
        f();
        f();
    }
    let once = (thread_cpu_time() - t0) / (2 * runs.len() as u32);
    let reps = ((0.3 / once.as_secs_f64().max(1e-7)) as usize).clamp(7, 2000);
    let mut samples = vec![(Vec::new(), Vec::new()); runs.len()];
    for _ in 0..reps {
        for (f, (wall, cpu)) in runs.iter_mut().zip(samples.iter_mut()) {
            let (t, c) = (Instant::now(), thread_cpu_time());
            f();
            wall.push(t.elapsed());
            cpu.push(thread_cpu_time() - c);
        }
    }
    samples
        .into_iter()
        .map(|(mut wall, mut cpu)| {
            wall.sort();
            cpu.sort();
            (wall[reps / 2], cpu[reps / 2], cpu[0])
        })
        .collect()
}

/// FP32 FMA peak of this core, GFLOP/s from thread CPU time: independent fused multiply-add
/// chains in `ymm` registers (AVX2+FMA: the same 32 FLOP/cycle as AVX-512 on Zen 4), like
/// `convkit bench --peak`.
#[cfg(target_arch = "x86_64")]
fn peak_gflops() -> f64 {
    use std::arch::x86_64::*;
    #[target_feature(enable = "avx2,fma")]
    fn chains(iters: u64) -> f32 {
        let mut acc = [_mm256_set1_ps(0.0); 12];
        let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut s = [0.0f32; 8];
        for x in acc {
            let mut v = [0.0f32; 8];
            // SAFETY: `v` holds 8 floats.
            unsafe { _mm256_storeu_ps(v.as_mut_ptr(), x) };
            for (s, v) in s.iter_mut().zip(v) {
                *s += v;
            }
        }
        s.iter().sum()
    }
    if !(std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")) {
        return f64::NAN;
    }
    let iters = 20_000_000u64;
    let mut best = 0.0f64;
    for _ in 0..5 {
        let t = thread_cpu_time();
        // SAFETY: AVX2 and FMA were detected above.
        let r = unsafe { chains(iters) };
        let secs = (thread_cpu_time() - t).as_secs_f64();
        std::hint::black_box(r);
        best = best.max((iters * 12 * 16) as f64 / secs / 1e9);
    }
    best
}

#[cfg(not(target_arch = "x86_64"))]
fn peak_gflops() -> f64 {
    f64::NAN
}

fn main() {
    let mut algos = Vec::new();
    let mut filters = Vec::new();
    let mut level = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--algo" => algos
                .push(Algorithm::from_name(&args.next().expect("--algo NAME")).expect("algorithm")),
            "--level" => {
                level = Some(Level::from_name(&args.next().expect("--level NAME")).expect("level"))
            }
            _ => filters.push(a),
        }
    }
    if algos.is_empty() {
        algos = vec![Algorithm::Im2colGemm, Algorithm::Im2colMatrixMultiply];
    }
    println!("FMA peak (thread CPU time): {:.1} GFLOP/s", peak_gflops());
    println!(
        "{:<20} {:>10} {:>9} {:>8} {:>9} {:>8} {:>8}",
        "case", "algorithm", "wall ms", "GFLOP/s", "cpu ms", "GFLOP/s", "best"
    );
    for &(name, n, c, hw, k, rs, stride, pad) in CASES {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let desc = Conv2d::builder()
            .batch(n)
            .channels(c, k)
            .input_size(hw, hw)
            .kernel_size(rs, rs)
            .stride(stride, stride)
            .padding(Padding::uniform(pad))
            .build()
            .unwrap();
        let input: Vec<f32> = (0..desc.input_len())
            .map(|i| (i % 13) as f32 * 0.1 - 0.6)
            .collect();
        let weights: Vec<f32> = (0..desc.weights_len())
            .map(|i| (i % 7) as f32 * 0.05 - 0.15)
            .collect();
        let bias: Vec<f32> = (0..desc.bias_len()).map(|i| i as f32 * 0.01).collect();
        let plans: Vec<Conv2dPlan> = algos
            .iter()
            .map(|&algorithm| {
                Conv2dPlan::new(
                    &desc,
                    ConvOptions {
                        algorithm,
                        level,
                        activation: Activation::Relu,
                    },
                )
                .unwrap()
            })
            .collect();
        let mut runs: Vec<Box<dyn FnMut()>> = plans
            .iter()
            .map(|plan| {
                let mut output = vec![0.0f32; desc.output_len()];
                let mut scratch = vec![0.0f32; plan.scratch_len()];
                let (input, weights, bias) = (&input, &weights, &bias);
                Box::new(move || {
                    plan.run(input, weights, Some(bias), &mut output, &mut scratch)
                        .unwrap()
                }) as Box<dyn FnMut()>
            })
            .collect();
        let times = interleaved_times(&mut runs);
        for (plan, (wall, cpu, best)) in plans.iter().zip(times) {
            let g = |t: Duration| desc.flops() / t.as_secs_f64() / 1e9;
            println!(
                "{:<20} {:>10} {:>9.3} {:>8.1} {:>9.3} {:>8.1} {:>8.1}",
                name,
                plan.algorithm().name(),
                wall.as_secs_f64() * 1e3,
                g(wall),
                cpu.as_secs_f64() * 1e3,
                g(cpu),
                g(best)
            );
        }
    }
}
