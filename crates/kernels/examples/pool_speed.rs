//! Pooling speed, release mode: output Gelem/s of the benchmark cases on 1 and 2 threads, the
//! bytes they move per second, and this machine's copy bandwidth for comparison.
//!
//! ```text
//! cargo run --release -p convkit-kernels --example pool_speed [-- --level avx2] [--ms 1500] [--case maxpool]
//! ```
//!
//! Two threads: the output is cut with `OutputPiece::split_at` in the middle unit and each
//! half runs on its own scoped std thread. The threads live for the whole measurement and
//! start each call together at a spin barrier (a thread spawn or a sleeping barrier costs
//! more than a whole call of these sizes). So that each call can build its piece without the
//! two threads sharing one `&mut` output, each thread writes its units into its own
//! full-size output buffer: the same elements and bytes as one shared buffer.

use convkit_kernels::{
    simd, Level, OutputPiece, Padding, Pool2d, Pool2dPlan, PoolKind, PoolOptions,
};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Times single calls for about `budget` and returns (p10, median) seconds per call. The
/// machine is shared (load average often above the core count): a call that was not
/// preempted is what the kernel costs, so the best decile is the figure of merit and the
/// median shows the noise.
fn measure(budget: Duration, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..3 {
        f();
    }
    let start = Instant::now();
    let mut times = Vec::new();
    while start.elapsed() < budget || times.len() < 20 {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.total_cmp(b));
    (times[times.len() / 10], times[times.len() / 2])
}

/// This thread's on-CPU time in seconds (Linux `schedstat`; excludes time spent preempted).
fn cpu_time() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns * 1e-9)
}

/// On-CPU seconds per call over about `budget` of calls (None where schedstat is missing).
fn measure_cpu(budget: Duration, mut f: impl FnMut()) -> Option<f64> {
    f();
    let (start, c0) = (Instant::now(), cpu_time()?);
    let mut calls = 0;
    while start.elapsed() < budget || calls < 20 {
        f();
        calls += 1;
    }
    Some((cpu_time()? - c0) / calls as f64)
}

/// Copy bandwidth (read + write bytes per second) of a `bytes`-sized buffer.
fn copy_bandwidth(bytes: usize, budget: Duration) -> f64 {
    let n = bytes / 4;
    let src: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let mut dst = vec![0.0f32; n];
    let (t, _) = measure(budget, || {
        dst.copy_from_slice(black_box(&src));
        black_box(&mut dst);
    });
    2.0 * bytes as f64 / t
}

/// A spin barrier for two threads: `wait` returns once both arrived.
struct Spin {
    arrived: AtomicUsize,
}

impl Spin {
    fn wait(&self, generation: usize) {
        self.arrived.fetch_add(1, Ordering::AcqRel);
        while self.arrived.load(Ordering::Acquire) < 2 * (generation + 1) {
            std::hint::spin_loop();
        }
    }
}

fn run_case(name: &str, desc: &Pool2d, level: Level, budget: Duration) -> [f64; 2] {
    let plan = Pool2dPlan::new(
        desc,
        PoolOptions {
            level: Some(level),
            ..Default::default()
        },
    )
    .expect("plan");
    let input: Vec<f32> = (0..desc.input_len())
        .map(|i| ((i * 7919) % 1000) as f32 * 0.01 - 5.0)
        .collect();
    let mut out = vec![0.0f32; desc.output_len()];
    let (t1, m1) = measure(budget, || {
        plan.run(black_box(&input), &mut out).unwrap();
    });
    let c1 = measure_cpu(budget, || {
        plan.run(black_box(&input), &mut out).unwrap();
    });
    let g = plan.unit_geometry();
    let mid = g.units() / 2;
    let mut outs = [out.clone(), out.clone()];
    let stop = AtomicBool::new(false);
    let spin = Spin {
        arrived: AtomicUsize::new(0),
    };
    let mut times = Vec::new();
    let [o0, o1] = &mut outs;
    std::thread::scope(|s| {
        let (plan, input, spin, stop) = (&plan, &input, &spin, &stop);
        s.spawn(move || {
            // Worker: the second half, call after call, until main raises `stop` before a
            // call's first barrier.
            for it in 0.. {
                spin.wait(2 * it);
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let (_, b) = OutputPiece::whole(o1, g).unwrap().split_at(mid);
                plan.run_piece(b, black_box(input)).unwrap();
                spin.wait(2 * it + 1);
            }
        });
        let start = Instant::now();
        let mut it = 0;
        while start.elapsed() < budget || it < 20 {
            spin.wait(2 * it);
            let t = Instant::now();
            let (a, _) = OutputPiece::whole(o0, g).unwrap().split_at(mid);
            plan.run_piece(a, black_box(input)).unwrap();
            spin.wait(2 * it + 1);
            times.push(t.elapsed().as_secs_f64());
            it += 1;
        }
        stop.store(true, Ordering::Release);
        spin.wait(2 * it);
    });
    times.sort_by(|a, b| a.total_cmp(b));
    let (t2, m2) = (times[times.len() / 10], times[times.len() / 2]);
    let outputs = desc.output_len() as f64;
    let bytes = 4.0 * (desc.input_len() + desc.output_len()) as f64;
    let cpu = c1.map_or("n/a".into(), |c| {
        format!(
            "{:.3} ms = {:.2} Gelem/s",
            c * 1e3,
            desc.output_len() as f64 / c / 1e9
        )
    });
    println!(
        "| {name} | {} | {cpu} | {:.3} ({:.3}) | {:.2} | {:.1} | {:.3} ({:.3}) | {:.2} | {:.1} |",
        plan.kernel_name(),
        t1 * 1e3,
        m1 * 1e3,
        outputs / t1 / 1e9,
        bytes / t1 / 1e9,
        t2 * 1e3,
        m2 * 1e3,
        outputs / t2 / 1e9,
        bytes / t2 / 1e9,
    );
    [outputs / t1 / 1e9, outputs / t2 / 1e9]
}

fn main() {
    let mut level = simd::detected();
    let mut budget_ms = 1500u64;
    let mut only = String::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    for w in args.windows(2) {
        match w[0].as_str() {
            "--level" => level = Level::from_name(&w[1]).expect("level name"),
            "--case" => only = w[1].clone(),
            "--ms" => budget_ms = w[1].parse().expect("milliseconds per measurement"),
            _ => {}
        }
    }
    let budget = Duration::from_millis(budget_ms);
    println!("level {level}; per call: best decile (median) over {budget_ms} ms of calls\n");
    let copies = [
        (
            "copy 4 MiB (cache-resident, like the 3.2 MB max-pool input)",
            4usize << 20,
        ),
        ("copy 256 MiB (DRAM)", 256 << 20),
    ];
    for (what, bytes) in copies {
        println!(
            "{what}: {:.1} GB/s (read + write bytes)",
            copy_bandwidth(bytes, budget) / 1e9
        );
    }
    println!();
    println!(
        "| case | kernel | 1T on-CPU | 1T ms p10 (median) | 1T Gelem/s | 1T GB/s | 2T ms p10 (median) | 2T Gelem/s | 2T GB/s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let max = |k: usize, pad: usize| {
        Pool2d::builder(PoolKind::Max)
            .channels(64)
            .input_size(112, 112)
            .window(k, k)
            .stride(2, 2)
            .padding(Padding::uniform(pad))
            .build()
            .unwrap()
    };
    let avg = Pool2d::builder(PoolKind::Average)
        .batch(256)
        .channels(6)
        .input_size(28, 28)
        .window(2, 2)
        .stride(2, 2)
        .build()
        .unwrap();
    let cases = [
        ("maxpool_2x2_s2", max(2, 0), [1.37, 2.60]),
        ("maxpool_3x3_s2_p1", max(3, 1), [1.31, 2.49]),
        ("avgpool_2x2_s2_lenet_b256", avg, [0.79, 1.54]),
    ];
    let mut ratios = Vec::new();
    for (name, desc, peer) in cases {
        if !name.contains(only.as_str()) {
            continue;
        }
        let got = run_case(name, &desc, level, budget);
        ratios.push((name, got[0] / peer[0], got[1] / peer[1]));
    }
    println!("\nvs best peer (ONNX Runtime), target >= 2x:");
    for (name, r1, r2) in ratios {
        println!("  {name}: {r1:.2}x (1T), {r2:.2}x (2T)");
    }
}
