//! `convkit bench`: times the public cases or custom shapes.

use anyhow::{anyhow, bail, Context, Result};
use convkit_kernels::{simd, Algorithm, Error, Level};
use convkit_runtime::bench::bandwidth::COPY_SIZES;
use convkit_runtime::bench::cases::{find_case, public_case_names};
use convkit_runtime::bench::peers::Peers;
use convkit_runtime::bench::report::{markdown, table, BenchResult};
use convkit_runtime::bench::{
    chart, measure_copy, measure_peak, parse_shape, public_cases, Case, CaseKind, Peak,
    TimingOptions, Workload,
};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `convkit bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// A public case to run (repeatable). Default: every public case, unless --shape is given.
    #[arg(long = "case", value_name = "NAME")]
    cases: Vec<String>,
    /// A custom convolution (repeatable), e.g.
    /// `n=1,c=64,h=56,w=56,k=64,r=3,s=3,stride=1,pad=1`; also `dilation=`, `groups=`,
    /// `pad=t,b,l,r`, `stride=sh,sw`.
    #[arg(long = "shape", value_name = "SPEC")]
    shapes: Vec<String>,
    /// Convolution algorithm: `auto` (the selector's choice), `all` (every algorithm that can
    /// run each case), or a name listed by `convkit info`.
    #[arg(long, value_name = "NAME", default_value = "auto")]
    algo: String,
    /// Thread counts to run, e.g. `--threads 2` or `--threads 1,2`.
    #[arg(long, value_name = "N", value_delimiter = ',', default_value = "1")]
    threads: Vec<usize>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// Print the measured FP32 FMA peak (alone: only the peak). The peak is always measured at
    /// the start of a run, for `peak_fraction`.
    #[arg(long)]
    peak: bool,
    /// Also measure this machine's memory bandwidth (copy of a 4 MiB and a 256 MiB buffer at
    /// each --threads count, read + write bytes); alone: only the bandwidth. Pooling rows
    /// always report the bytes they move per second (`gbytes_per_s`) to compare with it.
    #[arg(long)]
    bandwidth: bool,
    /// Write an SVG bar chart of the results to FILE.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Other libraries' figures (JSON lines with peer, threads, case, gflops; repeatable):
    /// the best per case and thread count is shown in the table and the chart.
    #[arg(long, value_name = "FILE.jsonl")]
    peers: Vec<PathBuf>,
    /// Leave a library out of the --peers figures (repeatable), e.g. `--peer-exclude ncnn`
    /// for the best non-Winograd library.
    #[arg(long, value_name = "NAME")]
    peer_exclude: Vec<String>,
    /// SIMD level for the kernels (portable, sse2, avx2, avx512, neon). Default: the best one.
    #[arg(long, value_name = "LEVEL")]
    simd: Option<String>,
    /// Seconds of timed repetitions per case (after warm-up); at least 10 repetitions unless
    /// they take over max(5·this, 2 s).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.3)]
    min_time: f64,
    /// Print the table as Markdown (as in docs/benchmarks.md).
    #[arg(long)]
    markdown: bool,
    /// Do not measure: report the results of an earlier `--json` run read from FILE (table,
    /// --markdown, --svg, --peers apply).
    #[arg(long, value_name = "FILE.jsonl")]
    from: Option<PathBuf>,
    /// List the public cases and exit.
    #[arg(long)]
    list: bool,
}

fn algorithm_names() -> String {
    Algorithm::ALL
        .iter()
        .map(|a| a.name())
        .chain(["all"])
        .collect::<Vec<_>>()
        .join(", ")
}

/// The algorithms `--algo` asks for.
fn algorithms(name: &str) -> Result<Vec<Algorithm>> {
    if name == "all" {
        return Ok(Algorithm::ALL.to_vec());
    }
    Algorithm::from_name(name).map(|a| vec![a]).ok_or_else(|| {
        anyhow!(
            "unknown algorithm `{name}`; available: {}",
            algorithm_names()
        )
    })
}

fn level(name: Option<&str>) -> Result<Option<Level>> {
    let Some(name) = name else { return Ok(None) };
    let supported: Vec<&str> = simd::supported_levels().map(|l| l.name()).collect();
    match Level::from_name(name) {
        Some(l) if l.is_supported() => Ok(Some(l)),
        _ => bail!(
            "SIMD level `{name}` is not available here; supported: {}",
            supported.join(", ")
        ),
    }
}

fn selected_cases(args: &BenchArgs) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for name in &args.cases {
        match find_case(name) {
            Some(c) => cases.push(c),
            None => bail!(
                "unknown case `{name}`; public cases: {}",
                public_case_names().join(", ")
            ),
        }
    }
    for spec in &args.shapes {
        let desc = parse_shape(spec)?;
        cases.push(Case {
            name: spec.clone(),
            kind: CaseKind::Conv(desc),
        });
    }
    if cases.is_empty() && !args.peak && !args.bandwidth {
        cases = public_cases();
    }
    Ok(cases)
}

/// Runs `convkit bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    if args.list {
        for name in public_case_names() {
            println!("{name}");
        }
        return Ok(());
    }
    if !(args.min_time.is_finite() && args.min_time >= 0.0) {
        bail!("--min-time must be a non-negative number of seconds");
    }
    if args.threads.contains(&0) {
        bail!("--threads must be at least 1");
    }
    let algos = algorithms(&args.algo)?;
    let level = level(args.simd.as_deref())?;
    let cases = selected_cases(&args)?;
    let peers = if args.peers.is_empty() {
        None
    } else {
        let texts = args
            .peers
            .iter()
            .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
            .collect::<Result<Vec<_>>>()?;
        Some(
            Peers::parse_excluding(&texts.join("\n"), &args.peer_exclude)
                .map_err(|e| anyhow!("--peers: {e}"))?,
        )
    };
    if let Some(path) = &args.from {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut results = Vec::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let v: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("{} line {}", path.display(), i + 1))?;
            // Copy-bandwidth lines of --bandwidth are not result rows.
            if v.get("bytes").is_some() && v.get("algorithm").is_none() {
                continue;
            }
            let row = BenchResult::from_json(&v).ok_or_else(|| {
                anyhow!(
                    "{} line {}: not a convkit bench result",
                    path.display(),
                    i + 1
                )
            })?;
            results.push(row);
        }
        let peaks: Vec<Peak> = results.iter().filter_map(BenchResult::as_peak).collect();
        let mut out = std::io::stdout().lock();
        if args.json {
            for r in &results {
                writeln!(out, "{}", r.to_json())?;
            }
        }
        let level = results
            .iter()
            .find(|r| r.case != "fma_peak")
            .and_then(|r| Level::from_name(&r.level));
        return report(&args, &results, &peaks, peers.as_ref(), level, &mut out);
    }
    let timing = TimingOptions::with_min_time(args.min_time);
    let mut threads = args.threads.clone();
    threads.dedup();

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // The peak at the best level: a forced lower level is reported against what the machine
    // can do, not against what that level can do.
    let peak_level = simd::detected();
    let peak_budget = Duration::from_secs_f64(args.min_time.clamp(0.1, 0.5));
    let mut peaks: Vec<Peak> = Vec::new();
    let mut results: Vec<BenchResult> = Vec::new();
    for &t in &threads {
        let p = measure_peak(peak_level, t, peak_budget);
        let row = BenchResult::from_peak(&p);
        if args.json {
            writeln!(out, "{}", row.to_json())?;
        } else if args.peak || cases.is_empty() {
            writeln!(
                out,
                "FMA peak ({}, {t} thread{}): {:.1} GFLOP/s",
                p.level,
                if t == 1 { "" } else { "s" },
                p.gflops
            )?;
        }
        peaks.push(p);
        results.push(row);
    }
    if args.bandwidth {
        let budget = Duration::from_secs_f64(args.min_time.clamp(0.2, 1.0));
        for &t in &threads {
            for bytes in COPY_SIZES {
                let b = measure_copy(bytes, t, budget);
                if args.json {
                    writeln!(out, "{}", b.to_json())?;
                } else {
                    writeln!(
                        out,
                        "Copy bandwidth ({} MiB, {t} thread{}): {:.1} GB/s (read + write)",
                        bytes >> 20,
                        if t == 1 { "" } else { "s" },
                        b.gbytes_per_s
                    )?;
                }
            }
        }
    }
    if cases.is_empty() {
        return Ok(());
    }

    let progress = !args.json && std::io::stderr().is_terminal();
    let total = threads.len() * cases.len();
    let mut done = 0;
    for &t in &threads {
        let peak = peaks.iter().find(|p| p.threads == t);
        for case in &cases {
            done += 1;
            if progress {
                eprint!("\r\x1b[K[{done}/{total}] {} on {t} thread(s)", case.name);
            }
            let requested: &[Algorithm] = if case.is_pool() {
                &[Algorithm::Auto]
            } else {
                &algos
            };
            for &algo in requested {
                let row = match Workload::new(case, algo, level, t) {
                    Err(Error::UnsupportedAlgorithm { reason, .. }) => BenchResult::skipped(
                        &case.name,
                        algo.name(),
                        t,
                        case.is_pool(),
                        reason.to_string(),
                    ),
                    Err(e) => {
                        return Err(e)
                            .with_context(|| format!("{} with {}", case.name, algo.name()))
                    }
                    Ok(mut w) => {
                        let m = w
                            .measure(timing)
                            .with_context(|| format!("running {}", case.name))?;
                        BenchResult::measured(
                            &case.name,
                            w.algorithm_name(),
                            if case.is_pool() { "auto" } else { algo.name() },
                            w.level().name(),
                            t,
                            m.median_s,
                            m.reps,
                            case.work(),
                            case.is_pool(),
                            peak,
                        )
                        .with_bytes(case.bytes())
                    }
                };
                if args.json {
                    writeln!(out, "{}", row.to_json())?;
                    out.flush()?;
                }
                results.push(row);
            }
        }
    }
    if progress {
        eprint!("\r\x1b[K");
    }
    report(&args, &results, &peaks, peers.as_ref(), level, &mut out)
}

/// Writes the table (text or Markdown, unless the rows were streamed as JSON) and the chart.
fn report(
    args: &BenchArgs,
    results: &[BenchResult],
    peaks: &[Peak],
    peers: Option<&Peers>,
    level: Option<Level>,
    out: &mut impl Write,
) -> Result<()> {
    if args.markdown {
        write!(out, "{}", markdown(results, peers))?;
    } else if !args.json {
        for p in peaks {
            writeln!(
                out,
                "FMA peak ({}, {} thread{}): {:.1} GFLOP/s",
                p.level,
                p.threads,
                if p.threads == 1 { "" } else { "s" },
                p.gflops
            )?;
        }
        let rows: Vec<BenchResult> = results
            .iter()
            .filter(|r| r.case != "fma_peak")
            .cloned()
            .collect();
        write!(out, "{}", table(&rows, peers))?;
    }
    if let Some(path) = &args.svg {
        let title = format!(
            "convkit bench: {} kernels, medians; FMA peak measured in the same run",
            level.unwrap_or_else(simd::active)
        );
        let svg = chart::render_svg(results, peaks, peers, &title).map_err(|e| anyhow!(e))?;
        std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
