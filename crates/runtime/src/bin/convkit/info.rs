//! `convkit info`.

use anyhow::Result;
use convkit_kernels::{simd, Algorithm};
use serde_json::json;

/// Arguments of `convkit info`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Prints what this build and CPU offer.
pub fn run(args: InfoArgs) -> Result<()> {
    let supported: Vec<&str> = simd::supported_levels().map(|l| l.name()).collect();
    let algorithms: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rayon_threads = rayon::current_num_threads();
    let detected = simd::detected();
    let active = simd::active();
    if args.json {
        let v = json!({
            "detected_level": detected.name(),
            "active_level": active.name(),
            "supported_levels": supported,
            "lanes": active.lanes(),
            "available_parallelism": cores,
            "rayon_threads": rayon_threads,
            "convkit_kernels": convkit_kernels::VERSION,
            "convkit_runtime": env!("CARGO_PKG_VERSION"),
            "algorithms": algorithms,
            "target_arch": std::env::consts::ARCH,
        });
        println!("{v}");
    } else {
        println!("convkit-kernels   {}", convkit_kernels::VERSION);
        println!("convkit-runtime   {}", env!("CARGO_PKG_VERSION"));
        println!("target            {}", std::env::consts::ARCH);
        println!(
            "detected SIMD     {detected} ({} f32 lanes)",
            detected.lanes()
        );
        println!("active SIMD       {active}");
        println!("supported SIMD    {}", supported.join(", "));
        println!("threads           {cores} available, rayon pool {rayon_threads}");
        println!("algorithms        {}", algorithms.join(", "));
    }
    Ok(())
}
