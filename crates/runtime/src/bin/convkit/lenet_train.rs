//! `convkit lenet train`: trains the course's LeNet on the IDX digits with convkit's own
//! kernels and saves a PyTorch-compatible safetensors `state_dict`.

use anyhow::{bail, Context, Result};
use convkit_runtime::lenet;
use convkit_runtime::train::{
    init_parameters, Adam, Optimizer, Sgd, TrainOptions, TrainRng, Trainer, SHUFFLE_STREAM,
};
use convkit_runtime::{idx, Threads};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `convkit lenet train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Passes over the training digits
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// Digits per optimizer step
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Learning rate
    #[arg(long, default_value_t = 2e-3)]
    lr: f32,
    /// Optimizer: adam (PyTorch's defaults) or sgd
    #[arg(long, default_value = "adam", value_parser = ["adam", "sgd"])]
    optimizer: String,
    /// SGD momentum (PyTorch's SGD defaults to 0; ignored by adam)
    #[arg(long, default_value_t = 0.9)]
    momentum: f32,
    /// Seed of the initial weights and of the epoch orders
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads [default: all cores]; the weights do not depend on it
    #[arg(long)]
    threads: Option<usize>,
    /// Digits per shard, the unit of parallel work; the weights depend on it, not on --threads
    #[arg(long, default_value_t = TrainOptions::default().shard)]
    shard: usize,
    /// Training images [default: data/mnist/train-images-idx3-ubyte, from scripts/fetch-mnist.sh]
    #[arg(long)]
    images: Option<PathBuf>,
    /// Training labels [default: data/mnist/train-labels-idx1-ubyte]
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Test images [default: data/mnist/t10k-images-idx3-ubyte]
    #[arg(long)]
    test_images: Option<PathBuf>,
    /// Test labels [default: data/mnist/t10k-labels-idx1-ubyte]
    #[arg(long)]
    test_labels: Option<PathBuf>,
    /// Use only the first N training digits
    #[arg(long)]
    limit: Option<usize>,
    /// One JSON object per epoch: {"epoch","loss","test_accuracy","images_per_s","seconds"}
    #[arg(long)]
    json: bool,
    /// Where to write the trained weights (safetensors state_dict)
    #[arg(long)]
    out: PathBuf,
}

const TRAIN_IMAGES: &str = "data/mnist/train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "data/mnist/train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "data/mnist/t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "data/mnist/t10k-labels-idx1-ubyte";

/// Runs the training and writes the weights.
pub fn train(args: TrainArgs) -> Result<()> {
    if args.batch == 0 || args.epochs == 0 {
        bail!("--batch and --epochs must be at least 1");
    }
    let path = |p: Option<PathBuf>, d| crate::lenet::default_path(p, d);
    let fetch_hint = "run scripts/fetch-mnist.sh for the full digits";
    let (images, labels) = (
        path(args.images, TRAIN_IMAGES),
        path(args.labels, TRAIN_LABELS),
    );
    let (mut x, mut y) = idx::read_dataset(&images, &labels)
        .with_context(|| format!("reading the training digits ({fetch_hint})"))?;
    if let Some(limit) = args.limit {
        let n = limit.clamp(1, y.len());
        x = x.slice_batch(0, n)?;
        y.truncate(n);
    }
    let (test_x, test_y) = idx::read_dataset(
        path(args.test_images, TEST_IMAGES),
        path(args.test_labels, TEST_LABELS),
    )
    .with_context(|| format!("reading the test digits ({fetch_hint})"))?;

    let optimizer = match args.optimizer.as_str() {
        "sgd" => Optimizer::Sgd(Sgd::new(args.lr).with_momentum(args.momentum)),
        _ => Optimizer::Adam(Adam::new(args.lr)),
    };
    let threads = match args.threads {
        Some(n) => Threads::new(n).context("--threads")?,
        None => Threads::all_cores(),
    };
    let mut model = lenet::lenet();
    init_parameters(&mut model, args.seed);
    let mut trainer = Trainer::new(
        model,
        &[1, lenet::IMAGE_SIZE, lenet::IMAGE_SIZE],
        optimizer,
        threads,
        TrainOptions { shard: args.shard },
    )?;
    let n = y.len();
    if !args.json {
        println!(
            "training LeNet on {n} digits ({}), testing on {}; {} epochs, batch {}, {} lr {}, \
             seed {}, {} thread(s)",
            images.display(),
            test_y.len(),
            args.epochs,
            args.batch,
            args.optimizer,
            args.lr,
            args.seed,
            trainer.thread_count()
        );
    }
    let mut rng = TrainRng::new(args.seed, SHUFFLE_STREAM);
    let started = Instant::now();
    let mut train_seconds = 0.0;
    let mut best = (0.0, 0);
    let mut first_97 = None;
    let mut last = (0.0, 0.0);
    for epoch in 1..=args.epochs {
        let bar = if args.json {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(n as u64).with_style(
                ProgressStyle::with_template(
                    "epoch {prefix:>3} {bar:30} {pos}/{len} loss {msg} {per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            )
        };
        bar.set_prefix(epoch.to_string());
        let t0 = Instant::now();
        let loss = trainer.train_epoch(&x, &y, args.batch, &mut rng, |done, loss| {
            bar.set_position(done as u64);
            bar.set_message(format!("{loss:.4}"));
        })?;
        let seconds = t0.elapsed().as_secs_f64();
        train_seconds += seconds;
        bar.finish_and_clear();
        let (_, accuracy) = trainer.evaluate(&test_x, &test_y, 256)?;
        let images_per_s = n as f64 / seconds;
        if accuracy > best.0 {
            best = (accuracy, epoch);
        }
        if accuracy >= 0.97 && first_97.is_none() {
            first_97 = Some((epoch, started.elapsed().as_secs_f64()));
        }
        last = (loss, accuracy);
        if args.json {
            println!(
                "{}",
                serde_json::json!({
                    "epoch": epoch,
                    "loss": loss,
                    "test_accuracy": accuracy,
                    "images_per_s": images_per_s,
                    "seconds": seconds,
                })
            );
        } else {
            println!(
                "epoch {epoch:>3}: loss {loss:.4}, test accuracy {:.2}%, {images_per_s:.0} images/s, \
                 {seconds:.2} s",
                100.0 * accuracy
            );
        }
    }
    trainer
        .model()
        .save_safetensors(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if !args.json {
        println!(
            "final: loss {:.4}, test accuracy {:.2}% (best {:.2}% at epoch {}); {:.1} s training, \
             {:.0} images/s",
            last.0,
            100.0 * last.1,
            100.0 * best.0,
            best.1,
            train_seconds,
            (n * args.epochs) as f64 / train_seconds
        );
        match first_97 {
            Some((e, s)) => println!("97% test accuracy first reached after epoch {e} ({s:.1} s)"),
            None => println!("97% test accuracy not reached"),
        }
        println!("weights written to {}", args.out.display());
    }
    Ok(())
}
