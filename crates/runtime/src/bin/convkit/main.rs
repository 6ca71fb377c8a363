//! `convkit`: the command-line program (temporary entry point of the runtime branch; the CLI
//! branch's `main.rs` with `info` and `bench` replaces it on merge).

use clap::{Parser, Subcommand};

mod lenet;

/// SIMD CPU kernels for convolutional networks.
#[derive(Parser, Debug)]
#[command(name = "convkit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// LeNet on MNIST digits: evaluate, predict, benchmark.
    #[command(subcommand)]
    Lenet(lenet::LenetCommand),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Lenet(cmd) => lenet::run(cmd),
    }
}
