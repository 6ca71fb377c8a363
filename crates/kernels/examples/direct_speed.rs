//! Single-thread speed of the direct and depthwise paths on the public cases they target,
//! against the other algorithms this build has, in GFLOP/s (2·N·K·(C/groups)·R·S·P·Q over the
//! median time).
//!
//! ```text
//! cargo run -p convkit-kernels --release --example direct_speed [-- CASE... | --algo NAME... | --act NAME]
//! ```
//!
//! Every case is measured for every algorithm in one interleaved run (round robin over the
//! algorithms, so machine noise hits all of them alike); `reference` only on the small cases.
//! `--act` fuses an activation (`relu`, `sigmoid`, `tanh`; default none) into every plan.

use convkit_kernels::{Activation, Algorithm, Conv2d, Conv2dPlan, ConvOptions, Padding};
use std::time::Instant;

fn case(name: &str) -> Conv2d {
    let b = Conv2d::builder();
    let b = match name {
        "lenet_c1_b1" | "lenet_c1_b256" => b
            .channels(1, 6)
            .input_size(28, 28)
            .kernel_size(5, 5)
            .padding(Padding::uniform(2)),
        "lenet_c3_b1" | "lenet_c3_b256" => b.channels(6, 16).input_size(14, 14).kernel_size(5, 5),
        "resnet_stem" => b
            .channels(3, 64)
            .input_size(224, 224)
            .kernel_size(7, 7)
            .stride(2, 2)
            .padding(Padding::uniform(3)),
        "mobilenet_dw_3x3_s1" => b
            .channels(128, 128)
            .groups(128)
            .input_size(56, 56)
            .kernel_size(3, 3)
            .padding(Padding::uniform(1)),
        "mobilenet_dw_3x3_s2" => b
            .channels(64, 64)
            .groups(64)
            .input_size(112, 112)
            .kernel_size(3, 3)
            .stride(2, 2)
            .padding(Padding::uniform(1)),
        "dw_3x3_s1_c8" => b
            .channels(8, 8)
            .groups(8)
            .input_size(56, 56)
            .kernel_size(3, 3)
            .padding(Padding::uniform(1)),
        "resnet_3x3_64" => b
            .channels(64, 64)
            .input_size(56, 56)
            .kernel_size(3, 3)
            .padding(Padding::uniform(1)),
        "resnet_3x3_s2" => b
            .channels(64, 128)
            .input_size(56, 56)
            .kernel_size(3, 3)
            .stride(2, 2)
            .padding(Padding::uniform(1)),
        other => {
            // Custom square shape: `n,c,hw,k,rs,stride,pad` (groups 1).
            let v: Vec<usize> = other
                .split(',')
                .map(|x| x.parse().expect("case name or n,c,hw,k,rs,stride,pad"))
                .collect();
            assert_eq!(v.len(), 7, "n,c,hw,k,rs,stride,pad");
            b.batch(v[0])
                .channels(v[1], v[3])
                .input_size(v[2], v[2])
                .kernel_size(v[4], v[4])
                .stride(v[5], v[5])
                .padding(Padding::uniform(v[6]))
        }
    };
    let b = if name.ends_with("_b256") {
        b.batch(256)
    } else {
        b
    };
    b.build().expect("valid case")
}

const CASES: &[&str] = &[
    "lenet_c1_b1",
    "lenet_c1_b256",
    "lenet_c3_b1",
    "lenet_c3_b256",
    "resnet_stem",
    "mobilenet_dw_3x3_s1",
    "mobilenet_dw_3x3_s2",
];

/// FP32 FMA peak of one core in GFLOP/s: 10 independent accumulator chains of AVX2 FMAs
/// (this machine's VM exposes AVX2+FMA; AVX-512 when present has the same 32 FLOP/cycle on
/// Zen 4). Measured in the same run so results can be quoted as a fraction of it.
#[cfg(target_arch = "x86_64")]
fn peak_gflops() -> f64 {
    #[target_feature(enable = "avx2,fma")]
    unsafe fn chains(iters: usize) -> f32 {
        use std::arch::x86_64::*;
        let m = _mm256_set1_ps(0.999_999);
        let a = _mm256_set1_ps(1e-7);
        let mut acc = [_mm256_set1_ps(1.0); 10];
        for _ in 0..iters {
            for v in acc.iter_mut() {
                *v = _mm256_fmadd_ps(*v, m, a);
            }
        }
        let mut sum = _mm256_setzero_ps();
        for v in acc {
            sum = _mm256_add_ps(sum, v);
        }
        _mm256_cvtss_f32(sum)
    }
    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
        return f64::NAN;
    }
    let iters = 2_000_000;
    let mut best = 0.0f64;
    for _ in 0..15 {
        let t = Instant::now();
        // SAFETY: AVX2 and FMA were detected above.
        let r = unsafe { chains(iters) };
        std::hint::black_box(r);
        best = best.max((iters * 10 * 8 * 2) as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    best
}

#[cfg(not(target_arch = "x86_64"))]
fn peak_gflops() -> f64 {
    f64::NAN
}

/// This thread's CPU time in seconds (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)` through a raw
/// syscall, no libc crate): on a machine shared with other jobs it counts only the time this
/// thread ran, so it is the steadier figure; wall time is printed too.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn thread_cpu_time() -> f64 {
    let mut ts = [0i64; 2];
    // SAFETY: syscall 228 is clock_gettime(clockid, *mut timespec); clock 3 is
    // CLOCK_THREAD_CPUTIME_ID; `ts` is a valid timespec (two i64s) for the kernel to write.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") 228i64 => _,
            in("rdi") 3i64,
            in("rsi") ts.as_mut_ptr(),
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    ts[0] as f64 + ts[1] as f64 * 1e-9
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn thread_cpu_time() -> f64 {
    f64::NAN
}

struct Runner {
    plan: Conv2dPlan,
    scratch: Vec<f32>,
    out: Vec<f32>,
    times: Vec<f64>,
    cpu: Vec<f64>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut names: Vec<String> = Vec::new();
    let mut algos: Vec<Algorithm> = Vec::new();
    let mut activation = Activation::Identity;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--act" {
            activation = match it.next().map(String::as_str) {
                Some("relu") => Activation::Relu,
                Some("sigmoid") => Activation::Sigmoid,
                Some("tanh") => Activation::Tanh,
                other => panic!("--act relu|sigmoid|tanh, got {other:?}"),
            };
        } else if a == "--algo" {
            let n = it.next().expect("--algo NAME");
            algos.push(Algorithm::from_name(n).expect("known algorithm"));
        } else {
            names.push(a.clone());
        }
    }
    if names.is_empty() {
        names = CASES.iter().map(|s| s.to_string()).collect();
    }
    if algos.is_empty() {
        algos = Algorithm::ALL
            .iter()
            .copied()
            .filter(|a| *a != Algorithm::Auto)
            .collect();
    }
    let peak = peak_gflops();
    println!("peak (AVX2 FMA chains, best of 15): {peak:.1} GFLOP/s");
    println!(
        "{:<22} {:>10} {:>10} {:>9} {:>6} {:>9}",
        "case", "algorithm", "ms_median", "GFLOP/s", "%peak", "cpu_GF/s"
    );
    for name in &names {
        let desc = case(name);
        let x: Vec<f32> = (0..desc.input_len())
            .map(|i| (i % 17) as f32 * 0.1)
            .collect();
        let w: Vec<f32> = (0..desc.weights_len())
            .map(|i| (i % 13) as f32 * 0.01)
            .collect();
        let bias = vec![0.5f32; desc.bias_len()];
        let mut runners: Vec<Runner> = algos
            .iter()
            .filter(|a| **a != Algorithm::Reference || desc.flops() < 5e7)
            .filter_map(|&algorithm| {
                let plan = Conv2dPlan::new(
                    &desc,
                    ConvOptions {
                        algorithm,
                        activation,
                        ..Default::default()
                    },
                )
                .ok()?;
                Some(Runner {
                    scratch: vec![0.0; plan.scratch_len()],
                    out: vec![0.0; desc.output_len()],
                    plan,
                    times: Vec::new(),
                    cpu: Vec::new(),
                })
            })
            .collect();
        // Repetitions per sample so one sample lasts about 2 ms on a fast path.
        let reps = ((0.5e-3 * 60e9 / desc.flops()) as usize).max(1);
        for round in 0..40 {
            for r in &mut runners {
                let t = Instant::now();
                let c = thread_cpu_time();
                let n = if r.plan.algorithm() == Algorithm::Reference {
                    1
                } else {
                    reps
                };
                for _ in 0..n {
                    r.plan
                        .run(&x, &w, Some(&bias), &mut r.out, &mut r.scratch)
                        .expect("run");
                }
                if round >= 5 {
                    r.times.push(t.elapsed().as_secs_f64() / n as f64);
                    r.cpu.push((thread_cpu_time() - c) / n as f64);
                }
            }
        }
        for r in &mut runners {
            r.times.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let med = r.times[r.times.len() / 2];
            r.cpu.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let cpu = r.cpu[r.cpu.len() / 2];
            let gflops = desc.flops() / med / 1e9;
            println!(
                "{:<22} {:>10} {:>10.4} {:>9.1} {:>6.1} {:>9.1}",
                name,
                r.plan.algorithm().name(),
                med * 1e3,
                gflops,
                100.0 * gflops / peak,
                desc.flops() / cpu / 1e9
            );
        }
    }
}
