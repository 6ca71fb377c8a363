//! `convkit lenet`: evaluate, predict with and benchmark the course's LeNet (training:
//! `lenet_train.rs`).

use anyhow::{bail, Context, Result};
use convkit_runtime::layers::Layer;
use convkit_runtime::lenet::{self, argmax, CLASSES};
use convkit_runtime::{idx, BatchChunks, Sequential, Shape, Tensor, Threads};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const DEFAULT_WEIGHTS: &str = "weights/lenet.safetensors";
const DEFAULT_IMAGES: &str = "data/sample/t10k-images-idx3-ubyte";
const DEFAULT_LABELS: &str = "data/sample/t10k-labels-idx1-ubyte";

/// Runs with more images than this show a progress bar (unless `--json`).
const PROGRESS_MIN_IMAGES: usize = 1000;

/// The `lenet` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum LenetCommand {
    /// Trains LeNet with convkit's kernels and writes a PyTorch safetensors state_dict.
    Train(Box<crate::lenet_train::TrainArgs>),
    /// Accuracy, confusion matrix and images/s on labelled IDX digits.
    Eval {
        /// Safetensors state_dict of the PyTorch model [default: weights/lenet.safetensors]
        #[arg(long)]
        weights: Option<PathBuf>,
        /// IDX image file [default: data/sample/t10k-images-idx3-ubyte]
        #[arg(long)]
        images: Option<PathBuf>,
        /// IDX label file [default: data/sample/t10k-labels-idx1-ubyte]
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Threads [default: all cores]
        #[arg(long)]
        threads: Option<usize>,
        /// Images per forward pass
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Print one JSON object: {"accuracy","images","images_per_s"}
        #[arg(long)]
        json: bool,
    },
    /// Per-image logits and predicted class.
    Predict {
        /// Safetensors state_dict of the PyTorch model [default: weights/lenet.safetensors]
        #[arg(long)]
        weights: Option<PathBuf>,
        /// IDX image file
        #[arg(long)]
        images: PathBuf,
        /// Print one JSON object per image: {"logits":[...],"class":k}
        #[arg(long)]
        json: bool,
    },
    /// Times the whole forward pass (median after warm-up).
    Bench {
        /// Images per forward pass
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Threads [default: all cores]
        #[arg(long)]
        threads: Option<usize>,
        /// Print one JSON object: {"batch","threads","ms_median","images_per_s"}
        #[arg(long)]
        json: bool,
        /// Weights [default: weights/lenet.safetensors if present, else random]
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Seconds of timed runs (after one second of warm-up at most)
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        /// Also print the time per layer (text output only)
        #[arg(long)]
        layers: bool,
        /// How the batch is walked: `auto`, `whole` (each layer on the whole batch, split
        /// over the threads) or a number of images per chunk (each thread takes whole chunks
        /// through every layer)
        #[arg(long, default_value = "auto", value_parser = parse_batch_chunks)]
        chunks: BatchChunks,
    },
}

/// `auto`, `whole` or images per chunk.
fn parse_batch_chunks(s: &str) -> std::result::Result<BatchChunks, String> {
    match s {
        "auto" => Ok(BatchChunks::Auto),
        "whole" => Ok(BatchChunks::Whole),
        n => match n.parse::<usize>() {
            Ok(n) if n > 0 => Ok(BatchChunks::Images(n)),
            _ => Err(format!(
                "expected auto, whole or a number of images (at least 1), got {n:?}"
            )),
        },
    }
}

/// Runs a `lenet` subcommand. A closed stdout (`| head`) ends the command quietly.
pub fn run(cmd: LenetCommand) -> Result<()> {
    match run_inner(cmd) {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        r => r,
    }
}

fn run_inner(cmd: LenetCommand) -> Result<()> {
    match cmd {
        LenetCommand::Train(args) => crate::lenet_train::train(*args),
        LenetCommand::Eval {
            weights,
            images,
            labels,
            threads,
            batch,
            json,
        } => eval(
            &default_path(weights, DEFAULT_WEIGHTS),
            &default_path(images, DEFAULT_IMAGES),
            &default_path(labels, DEFAULT_LABELS),
            threads,
            batch,
            json,
        ),
        LenetCommand::Predict {
            weights,
            images,
            json,
        } => predict(&default_path(weights, DEFAULT_WEIGHTS), &images, json),
        LenetCommand::Bench {
            batch,
            threads,
            json,
            weights,
            seconds,
            layers,
            chunks,
        } => bench(batch, threads, json, weights, seconds, layers, chunks),
    }
}

/// An explicit path as given; a default path relative to the current directory if it exists
/// there, else relative to the repository root (so the defaults work from anywhere in the
/// checkout).
pub(crate) fn default_path(given: Option<PathBuf>, default: &str) -> PathBuf {
    if let Some(p) = given {
        return p;
    }
    let here = PathBuf::from(default);
    if here.exists() {
        return here;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(default);
    if root.exists() {
        root.canonicalize().unwrap_or(root)
    } else {
        here
    }
}

fn threads(count: Option<usize>) -> Result<Threads> {
    Ok(match count {
        Some(n) => Threads::new(n).context("--threads")?,
        None => Threads::all_cores(),
    })
}

fn load_model(weights: &Path, threads: Threads) -> Result<Sequential> {
    let model = lenet::lenet_from_file(weights)
        .with_context(|| format!("loading LeNet weights from {}", weights.display()))?;
    Ok(model.with_threads(threads))
}

fn eval(
    weights: &Path,
    images: &Path,
    labels: &Path,
    threads_arg: Option<usize>,
    batch: usize,
    json: bool,
) -> Result<()> {
    if batch == 0 {
        bail!("--batch must be at least 1");
    }
    let mut model = load_model(weights, threads(threads_arg)?)?;
    let (x, y) = idx::read_dataset(images, labels).context("reading the digits")?;
    let n = y.len();
    let bar = if json || n <= PROGRESS_MIN_IMAGES {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(n as u64).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} images, {per_sec}, eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    };
    let mut confusion = [[0usize; CLASSES]; CLASSES];
    let mut elapsed = Duration::ZERO;
    let mut start = 0;
    while start < n {
        let end = (start + batch).min(n);
        let chunk = x.slice_batch(start, end)?;
        let t0 = Instant::now();
        let logits = model.forward(&chunk)?;
        elapsed += t0.elapsed();
        for (i, &label) in y[start..end].iter().enumerate() {
            let Some(row) = logits.item(i) else {
                bail!("model output has fewer items than its input");
            };
            let label = usize::from(label);
            if label >= CLASSES {
                bail!("label {label} of image {} is not a digit", start + i);
            }
            confusion[label][argmax(row)] += 1;
        }
        bar.inc((end - start) as u64);
        start = end;
    }
    bar.finish_and_clear();
    let correct: usize = (0..CLASSES).map(|k| confusion[k][k]).sum();
    let accuracy = correct as f64 / n as f64;
    let images_per_s = n as f64 / elapsed.as_secs_f64();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "accuracy": accuracy,
                "images": n,
                "images_per_s": images_per_s,
            })
        );
        return Ok(());
    }
    println!(
        "LeNet on {n} images ({}), weights {}, {} thread(s), batch {batch}",
        images.display(),
        weights.display(),
        model.thread_count()
    );
    println!("accuracy: {:.2}% ({correct}/{n})", 100.0 * accuracy);
    println!("confusion matrix (rows: true digit, columns: predicted digit):");
    print!("     ");
    for k in 0..CLASSES {
        print!("{k:>6}");
    }
    println!();
    for (k, row) in confusion.iter().enumerate() {
        print!("{k:>5}");
        for c in row {
            print!("{c:>6}");
        }
        println!();
    }
    println!("throughput: {images_per_s:.0} images/s (forward passes only)");
    Ok(())
}

fn predict(weights: &Path, images: &Path, json: bool) -> Result<()> {
    let mut model = load_model(weights, Threads::all_cores())?;
    let x = idx::read_images(images).context("reading the digits")?;
    let n = x.shape().batch();
    let mut out = std::io::stdout().lock();
    let mut start = 0;
    while start < n {
        let end = (start + 256).min(n);
        let chunk = x.slice_batch(start, end)?;
        let logits = model.forward(&chunk)?;
        for i in 0..end - start {
            let Some(row) = logits.item(i) else {
                bail!("model output has fewer items than its input");
            };
            let class = argmax(row);
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "logits": row, "class": class })
                )?;
            } else {
                let values: Vec<String> = row.iter().map(|v| format!("{v:8.3}")).collect();
                writeln!(
                    out,
                    "{:>6}: class {class}  logits [{}]",
                    start + i,
                    values.join(" ")
                )?;
            }
        }
        start = end;
    }
    Ok(())
}

/// Bench input: the sample digits repeated to fill the batch, or a fixed pseudo-random
/// pattern when the sample is not there.
fn bench_input(batch: usize) -> Result<Tensor> {
    let shape: Shape = lenet::input_shape(batch)?;
    let per = shape.item_len();
    let sample = idx::read_images(default_path(None, DEFAULT_IMAGES)).ok();
    let data: Vec<f32> = match sample {
        Some(s) => {
            let m = s.shape().batch();
            (0..batch)
                .flat_map(|i| s.item(i % m).unwrap_or(&[]).iter().copied())
                .collect()
        }
        None => (0..batch * per)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 24) as f32 / 255.0)
            .collect(),
    };
    Ok(Tensor::from_shape(shape, data)?)
}

fn bench(
    batch: usize,
    threads_arg: Option<usize>,
    json: bool,
    weights: Option<PathBuf>,
    seconds: f64,
    per_layer: bool,
    chunks: BatchChunks,
) -> Result<()> {
    if batch == 0 {
        bail!("--batch must be at least 1");
    }
    let threads = threads(threads_arg)?;
    let weights_path = default_path(weights.clone(), DEFAULT_WEIGHTS);
    let mut model = if weights.is_some() || weights_path.exists() {
        load_model(&weights_path, threads)?
    } else {
        // No weights: random parameters cost the same as trained ones.
        let mut m = lenet::lenet().with_threads(threads);
        randomize(&mut m)?;
        m
    };
    model.set_batch_chunks(chunks);
    let x = bench_input(batch)?;
    model.plan(x.shape())?;
    // Warm-up: at least 3 runs, at most a second.
    let warm = Instant::now();
    for i in 0.. {
        model.forward(&x)?;
        if i >= 2 && warm.elapsed() > Duration::from_millis(300) {
            break;
        }
    }
    let budget = Duration::from_secs_f64(seconds.max(0.01));
    let mut times = Vec::with_capacity(1 << 16);
    let start = Instant::now();
    while times.len() < 10 || (start.elapsed() < budget && times.len() < 1_000_000) {
        let t0 = Instant::now();
        std::hint::black_box(model.forward(std::hint::black_box(&x))?);
        times.push(t0.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let images_per_s = batch as f64 / median;
    let threads = model.thread_count();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "batch": batch,
                "threads": threads,
                "ms_median": median * 1e3,
                "images_per_s": images_per_s,
            })
        );
    } else {
        let walk = match model.planned_chunk() {
            Some(n) => format!("chunks of {n} images"),
            None => "whole batch".to_string(),
        };
        println!(
            "LeNet forward, batch {batch}, {threads} thread(s), {walk}: median {:.4} ms, \
             {images_per_s:.0} images/s (min {:.4} ms, {} runs)",
            median * 1e3,
            times[0] * 1e3,
            times.len()
        );
        if per_layer {
            let runs = times.len().clamp(10, 10_000);
            let profile = model.profile(&x, runs)?;
            let total: f64 = profile.iter().map(|p| p.2.as_secs_f64()).sum();
            println!("per layer (mean over {runs} runs):");
            for (layer, what, t) in profile {
                let t = t.as_secs_f64();
                println!(
                    "  layer {layer:>2} {what:<44} {:>10.4} ms {:>5.1}%",
                    t / runs as f64 * 1e3,
                    100.0 * t / total
                );
            }
        }
    }
    Ok(())
}

/// Fills every parameter with a fixed pseudo-random pattern in ±0.1.
fn randomize(model: &mut Sequential) -> Result<()> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
    };
    for layer in model.layers_mut() {
        match layer {
            Layer::Conv2d(l) => {
                let w = (0..l.weights().len()).map(|_| next()).collect();
                let b = l.bias().map(|b| b.iter().map(|_| next()).collect());
                l.set_weights(w, b)?;
            }
            Layer::Linear(l) => {
                let w = (0..l.weights().len()).map(|_| next()).collect();
                let b = l.bias().map(|b| b.iter().map(|_| next()).collect());
                l.set_weights(w, b)?;
            }
            _ => {}
        }
    }
    Ok(())
}
