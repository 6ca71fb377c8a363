//! Single-thread time per call of the backward kernels on LeNet's layers at batch 64 (the
//! training target's batch), next to the forward convolution of the same layer.
//!
//! ```text
//! cargo run -p convkit-kernels --release --example backward_speed [-- --level NAME] [--batch N]
//! ```
//!
//! Median wall and thread-CPU time of many interleaved repetitions (so load from other
//! processes hits every kernel alike); GFLOP/s counts `2·N·K·(C/groups)·R·S·P·Q` per pass.

use convkit_kernels::backward::{activation_backward, Conv2dBackwardPlan};
use convkit_kernels::{
    Activation, Conv2d, Conv2dPlan, ConvOptions, Level, Padding, Pool2d, Pool2dPlan, PoolKind,
    PoolOptions,
};
use std::time::{Duration, Instant};

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// CPU time this thread has run (Linux `CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_time() -> Duration {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec (two 64-bit fields on x86-64/aarch64 Linux).
    unsafe { clock_gettime(3, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A named kernel call with its FLOP count (0 when not counted).
type Run<'a> = (&'static str, f64, Box<dyn FnMut() + 'a>);

/// Per closure: (median wall, median CPU), repetitions interleaved.
fn interleaved_times(runs: &mut [Run<'_>]) -> Vec<(Duration, Duration)> {
    for (_, _, f) in runs.iter_mut() {
        f();
    }
    let reps = 41;
    let mut samples = vec![(Vec::new(), Vec::new()); runs.len()];
    for _ in 0..reps {
        for ((_, _, f), (wall, cpu)) in runs.iter_mut().zip(samples.iter_mut()) {
            let (t, c) = (Instant::now(), thread_cpu_time());
            f();
            wall.push(t.elapsed());
            cpu.push(thread_cpu_time() - c);
        }
    }
    samples
        .into_iter()
        .map(|(mut w, mut c)| {
            w.sort();
            c.sort();
            (w[reps / 2], c[reps / 2])
        })
        .collect()
}

fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7 + seed) % 13) as f32 * 0.1 - 0.6)
        .collect()
}

fn main() {
    let mut level = None;
    let mut batch = 64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--level" => level = Level::from_name(&args.next().expect("--level NAME")),
            "--batch" => batch = args.next().expect("--batch N").parse().expect("number"),
            other => panic!("unknown argument {other}"),
        }
    }
    let conv1 = Conv2d::builder()
        .batch(batch)
        .channels(1, 6)
        .input_size(28, 28)
        .kernel_size(5, 5)
        .padding(Padding::uniform(2))
        .build()
        .unwrap();
    let conv2 = Conv2d::builder()
        .batch(batch)
        .channels(6, 16)
        .input_size(14, 14)
        .kernel_size(5, 5)
        .build()
        .unwrap();
    let pool1 = Pool2d::builder(PoolKind::Average)
        .batch(batch)
        .channels(6)
        .input_size(28, 28)
        .window(2, 2)
        .build()
        .unwrap();
    println!(
        "batch {batch}, level {}",
        level.unwrap_or_else(convkit_kernels::simd::active)
    );
    println!(
        "{:<28} {:>10} {:>10} {:>9} {:>12}",
        "kernel", "wall us", "cpu us", "GFLOP/s", "us/image cpu"
    );
    let mut runs: Vec<Run<'static>> = Vec::new();
    for (name, d) in [("conv1", conv1), ("conv2", conv2)] {
        let x = values(d.input_len(), 1);
        let w = values(d.weights_len(), 2);
        let dy = values(d.output_len(), 3);
        let fwd = Conv2dPlan::new(
            &d,
            ConvOptions {
                level,
                activation: Activation::Sigmoid,
                ..ConvOptions::default()
            },
        )
        .unwrap();
        let bwd = Conv2dBackwardPlan::new(&d, level).unwrap();
        let flops = d.flops();
        {
            let (x, w) = (x.clone(), w.clone());
            let mut y = vec![0.0f32; d.output_len()];
            let mut s = vec![0.0f32; fwd.scratch_len()];
            let label: &'static str = if name == "conv1" {
                "conv1 forward (auto)"
            } else {
                "conv2 forward (auto)"
            };
            runs.push((
                label,
                flops,
                Box::new(move || fwd.run(&x, &w, None, &mut y, &mut s).unwrap()),
            ));
        }
        {
            let (x, dy) = (x.clone(), dy.clone());
            let mut dw = vec![0.0f32; d.weights_len()];
            let mut db = vec![0.0f32; d.bias_len()];
            let mut s = vec![0.0f32; bwd.weights_scratch_len()];
            let label: &'static str = if name == "conv1" {
                "conv1 backward_weights"
            } else {
                "conv2 backward_weights"
            };
            runs.push((
                label,
                flops,
                Box::new(move || {
                    bwd.backward_weights(&x, &dy, &mut dw, Some(&mut db), &mut s)
                        .unwrap()
                }),
            ));
        }
        {
            let mut dx = vec![0.0f32; d.input_len()];
            let mut s = vec![0.0f32; bwd.data_scratch_len()];
            let label: &'static str = if name == "conv1" {
                "conv1 backward_data"
            } else {
                "conv2 backward_data"
            };
            runs.push((
                label,
                flops,
                Box::new(move || bwd.backward_data(&dy, &w, &mut dx, &mut s).unwrap()),
            ));
        }
    }
    {
        let p = Pool2dPlan::new(
            &pool1,
            PoolOptions {
                level,
                ..PoolOptions::default()
            },
        )
        .unwrap();
        let dy = values(pool1.output_len(), 4);
        let mut dx = vec![0.0f32; pool1.input_len()];
        runs.push((
            "pool1 2x2 avg backward",
            0.0,
            Box::new(move || p.backward_average(&dy, &mut dx).unwrap()),
        ));
    }
    {
        let y = values(conv1.output_len(), 5);
        let mut g = values(conv1.output_len(), 6);
        runs.push((
            "conv1 sigmoid backward",
            0.0,
            Box::new(move || activation_backward(level, Activation::Sigmoid, &y, &mut g).unwrap()),
        ));
    }
    let times = interleaved_times(&mut runs);
    for ((name, flops, _), (wall, cpu)) in runs.iter().zip(times) {
        let gf = if *flops > 0.0 {
            format!("{:.1}", flops / cpu.as_secs_f64() / 1e9)
        } else {
            "-".into()
        };
        println!(
            "{:<28} {:>10.1} {:>10.1} {:>9} {:>12.2}",
            name,
            wall.as_secs_f64() * 1e6,
            cpu.as_secs_f64() * 1e6,
            gf,
            cpu.as_secs_f64() * 1e6 / batch as f64
        );
    }
}
