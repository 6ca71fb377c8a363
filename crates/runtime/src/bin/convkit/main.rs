//! `convkit`: the command-line program of convkit.
//!
//! - `convkit info`: CPU SIMD levels, threads, versions, algorithms.
//! - `convkit bench`: the public benchmark cases (or custom shapes), median timings, GFLOP/s
//!   and fraction of the measured FMA peak; JSON lines and an SVG chart on request.
//! - `convkit lenet ...`: the LeNet commands (train, eval, predict, bench).

mod bench;
mod info;
mod lenet;
mod lenet_train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// SIMD CPU kernels for convolutional networks.
#[derive(Debug, Parser)]
#[command(name = "convkit", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the CPU's SIMD levels, thread count, crate versions and algorithms.
    Info(info::InfoArgs),
    /// Benchmark the public cases (or custom shapes) and report GFLOP/s and % of peak.
    Bench(Box<bench::BenchArgs>),
    /// LeNet: training, evaluation and inference.
    #[command(subcommand)]
    Lenet(lenet::LenetCommand),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Info(args) => info::run(args),
        Command::Bench(args) => bench::run(*args),
        Command::Lenet(cmd) => lenet::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the context chain on one line, without a backtrace.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
