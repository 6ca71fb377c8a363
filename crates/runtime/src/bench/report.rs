//! One benchmark result: its JSON line and its row in the text table.

use super::peak::Peak;
use super::peers::Peers;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;

/// What a result measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    /// A convolution (or the FMA probe): GFLOP/s.
    Gflops(f64),
    /// A pooling: output Gelem/s.
    GelemPerS(f64),
}

impl Rate {
    /// The number, whatever its unit.
    pub fn value(self) -> f64 {
        match self {
            Rate::Gflops(v) | Rate::GelemPerS(v) => v,
        }
    }
}

/// One row of `convkit bench`.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchResult {
    /// Case name.
    pub case: String,
    /// Algorithm the plan actually ran (`pool` for pooling), or the requested one if skipped.
    pub algorithm: String,
    /// Algorithm asked for (`auto` unless `--algo` said otherwise).
    pub requested: String,
    /// SIMD level the plan ran.
    pub level: String,
    /// Threads.
    pub threads: usize,
    /// Median milliseconds per call (`None` if skipped).
    pub ms_median: Option<f64>,
    /// Throughput (`None` if skipped).
    pub rate: Option<Rate>,
    /// GFLOP/s over the FMA peak measured in the same run for the same thread count
    /// (convolutions only).
    pub peak_fraction: Option<f64>,
    /// Bytes moved per second (pooling: input read once + output written once, per median
    /// call), in GB/s, to compare with the copy bandwidth of `convkit bench --bandwidth`.
    pub gbytes_per_s: Option<f64>,
    /// Repetitions in the median.
    pub reps: usize,
    /// Why the case did not run (a forced algorithm that cannot run it).
    pub skipped: Option<String>,
}

impl BenchResult {
    /// A measured result. `work` is FLOPs (convolution) or output elements (pooling).
    #[allow(clippy::too_many_arguments)]
    pub fn measured(
        case: &str,
        algorithm: &str,
        requested: &str,
        level: &str,
        threads: usize,
        median_s: f64,
        reps: usize,
        work: f64,
        is_pool: bool,
        peak: Option<&Peak>,
    ) -> BenchResult {
        let per_s = work / median_s / 1e9;
        let (rate, peak_fraction) = if is_pool {
            (Rate::GelemPerS(per_s), None)
        } else {
            (Rate::Gflops(per_s), peak.map(|p| per_s / p.gflops))
        };
        BenchResult {
            case: case.to_string(),
            algorithm: algorithm.to_string(),
            requested: requested.to_string(),
            level: level.to_string(),
            threads,
            ms_median: Some(median_s * 1e3),
            rate: Some(rate),
            peak_fraction,
            gbytes_per_s: None,
            reps,
            skipped: None,
        }
    }

    /// Records the bytes one call moves (see [`super::Case::bytes`]): sets `gbytes_per_s`
    /// from the median time. Nothing for skipped rows or `None`.
    pub fn with_bytes(mut self, bytes: Option<f64>) -> BenchResult {
        if let (Some(b), Some(ms)) = (bytes, self.ms_median) {
            self.gbytes_per_s = Some(b / (ms * 1e-3) / 1e9);
        }
        self
    }

    /// A case the requested algorithm cannot run.
    pub fn skipped(
        case: &str,
        requested: &str,
        threads: usize,
        is_pool: bool,
        why: String,
    ) -> BenchResult {
        BenchResult {
            case: case.to_string(),
            algorithm: requested.to_string(),
            requested: requested.to_string(),
            level: String::new(),
            threads,
            ms_median: None,
            rate: if is_pool {
                Some(Rate::GelemPerS(f64::NAN))
            } else {
                None
            },
            peak_fraction: None,
            gbytes_per_s: None,
            reps: 0,
            skipped: Some(why),
        }
    }

    /// The peak itself as a result row (case `fma_peak`), so a JSON-lines file carries the
    /// peak it was measured against.
    pub fn from_peak(peak: &Peak) -> BenchResult {
        BenchResult {
            case: "fma_peak".to_string(),
            algorithm: format!("fma-{}", peak.level.name()),
            requested: "fma".to_string(),
            level: peak.level.name().to_string(),
            threads: peak.threads,
            ms_median: None,
            rate: Some(Rate::Gflops(peak.gflops)),
            peak_fraction: Some(1.0),
            gbytes_per_s: None,
            reps: 0,
            skipped: None,
        }
    }

    /// True for pooling rows (Gelem/s).
    pub fn is_pool(&self) -> bool {
        matches!(self.rate, Some(Rate::GelemPerS(_)))
    }

    /// The measured throughput, if it ran.
    pub fn value(&self) -> Option<f64> {
        self.rate.map(Rate::value).filter(|v| v.is_finite())
    }

    /// The JSON object: `case`, `algorithm`, `threads`, `ms_median`, `gflops` (pooling:
    /// `gelem_per_s`), `peak_fraction`, pooling rows `gbytes_per_s`, then `requested`,
    /// `level`, `reps` and, for skipped cases, `skipped` (the measured fields are then `null`).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("case".into(), json!(self.case));
        m.insert("algorithm".into(), json!(self.algorithm));
        m.insert("threads".into(), json!(self.threads));
        m.insert("ms_median".into(), json!(self.ms_median));
        let rate_key = if self.is_pool() {
            "gelem_per_s"
        } else {
            "gflops"
        };
        m.insert(rate_key.into(), json!(self.value()));
        m.insert("peak_fraction".into(), json!(self.peak_fraction));
        if self.is_pool() {
            m.insert("gbytes_per_s".into(), json!(self.gbytes_per_s));
        }
        m.insert("requested".into(), json!(self.requested));
        m.insert("level".into(), json!(self.level));
        m.insert("reps".into(), json!(self.reps));
        if let Some(why) = &self.skipped {
            m.insert("skipped".into(), json!(why));
        }
        Value::Object(m)
    }

    /// Reads back a line written by [`BenchResult::to_json`] (`None` if it is not one).
    pub fn from_json(v: &Value) -> Option<BenchResult> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let num = |k: &str| v.get(k).and_then(Value::as_f64);
        let rate = match (num("gflops"), num("gelem_per_s")) {
            (Some(g), _) => Some(Rate::Gflops(g)),
            (None, Some(e)) => Some(Rate::GelemPerS(e)),
            (None, None) if v.get("gelem_per_s").is_some() => Some(Rate::GelemPerS(f64::NAN)),
            (None, None) => None,
        };
        let algorithm = text("algorithm")?;
        Some(BenchResult {
            case: text("case")?,
            requested: text("requested").unwrap_or_else(|| algorithm.clone()),
            algorithm,
            level: text("level").unwrap_or_default(),
            threads: v.get("threads").and_then(Value::as_u64)? as usize,
            ms_median: num("ms_median"),
            rate,
            peak_fraction: num("peak_fraction"),
            gbytes_per_s: num("gbytes_per_s"),
            reps: v.get("reps").and_then(Value::as_u64).unwrap_or(0) as usize,
            skipped: text("skipped"),
        })
    }

    /// The peak this row records, for rows of case `fma_peak`.
    pub fn as_peak(&self) -> Option<Peak> {
        if self.case != "fma_peak" {
            return None;
        }
        Some(Peak {
            threads: self.threads,
            level: convkit_kernels::Level::from_name(&self.level)?,
            gflops: self.value()?,
        })
    }
}

/// The results as a Markdown table (for `docs/benchmarks.md`), with the best peer and our
/// ratio to it when `peers` is given, followed by the peaks of `fma_peak` rows.
pub fn markdown(results: &[BenchResult], peers: Option<&Peers>) -> String {
    let mut out = String::from(
        "| case | threads | algorithm | ms median | GFLOP/s | % of peak | GB/s moved | best peer | ratio |\n\
         |---|---:|---|---:|---:|---:|---:|---|---:|\n",
    );
    let mut peaks = Vec::new();
    for r in results {
        if let Some(p) = r.as_peak() {
            peaks.push(p);
            continue;
        }
        let algo = if r.requested == "auto" {
            format!("{} (auto)", r.algorithm)
        } else {
            r.algorithm.clone()
        };
        let (ms, rate) = match (&r.skipped, r.ms_median, r.value()) {
            (Some(why), _, _) => (format!("skipped: {why}"), String::new()),
            (None, Some(ms), Some(v)) => (
                format!("{ms:.4}"),
                if r.is_pool() {
                    format!("{v:.3} Gelem/s")
                } else {
                    format!("{v:.2}")
                },
            ),
            _ => (String::new(), String::new()),
        };
        let pf = r
            .peak_fraction
            .map_or(String::new(), |f| format!("{:.1}%", 100.0 * f));
        let gbs = r.gbytes_per_s.map_or(String::new(), |g| format!("{g:.1}"));
        let (peer, ratio) = match (peers.and_then(|p| p.best(&r.case, r.threads)), r.value()) {
            (Some(p), Some(v)) => (
                format!("{} {:.2}", p.peer, p.gflops),
                format!("{:.2}x", v / p.gflops),
            ),
            (Some(p), None) => (format!("{} {:.2}", p.peer, p.gflops), String::new()),
            _ => (String::new(), String::new()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.case, r.threads, algo, ms, rate, pf, gbs, peer, ratio
        );
    }
    if !peaks.is_empty() {
        let list: Vec<String> = peaks
            .iter()
            .map(|p| format!("{:.1} GFLOP/s on {} thread(s)", p.gflops, p.threads))
            .collect();
        let _ = writeln!(
            out,
            "\nFMA peak ({}) measured at the start of the run: {}.",
            peaks[0].level,
            list.join(", ")
        );
    }
    out
}

/// The text table: case, algorithm, level, threads, median ms, rate, % of peak, and with
/// `peers` the best peer's figure and our ratio to it.
pub fn table(results: &[BenchResult], peers: Option<&Peers>) -> String {
    let mut out = String::new();
    let mut header = format!(
        "{:<26} {:<20} {:<8} {:>3} {:>11} {:>9} {:<7} {:>7} {:>6}",
        "case", "algorithm", "level", "thr", "ms median", "rate", "unit", "% peak", "GB/s"
    );
    if peers.is_some() {
        let _ = write!(
            header,
            " {:>9} {:<12} {:>6}",
            "best peer", "(peer)", "ratio"
        );
    }
    out.push_str(header.trim_end());
    out.push('\n');
    out.push_str(&"-".repeat(header.trim_end().len()));
    out.push('\n');
    for r in results {
        let algo = if r.requested == "auto" {
            format!("{} (auto)", r.algorithm)
        } else {
            r.algorithm.clone()
        };
        let unit = if r.is_pool() { "Gelem/s" } else { "GFLOP/s" };
        let mut line = match (&r.skipped, r.ms_median, r.value()) {
            (Some(why), _, _) => format!(
                "{:<26} {:<20} {:<8} {:>3} skipped: {why}",
                r.case, algo, r.level, r.threads
            ),
            (None, ms, Some(v)) => format!(
                "{:<26} {:<20} {:<8} {:>3} {:>11} {:>9.2} {:<7} {:>7} {:>6}",
                r.case,
                algo,
                r.level,
                r.threads,
                ms.map_or("-".to_string(), |ms| format!("{ms:.4}")),
                v,
                unit,
                r.peak_fraction
                    .map_or("-".to_string(), |f| format!("{:.1}%", 100.0 * f)),
                r.gbytes_per_s
                    .map_or("-".to_string(), |g| format!("{g:.1}")),
            ),
            _ => format!("{:<26} {:<20}", r.case, algo),
        };
        if let (Some(p), None) = (peers.and_then(|p| p.best(&r.case, r.threads)), &r.skipped) {
            let ratio = r
                .value()
                .map_or("-".to_string(), |v| format!("{:.2}x", v / p.gflops));
            let _ = write!(line, " {:>9.2} {:<12} {:>6}", p.gflops, p.peer, ratio);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use convkit_kernels::Level;

    fn sample() -> Vec<BenchResult> {
        let peak = Peak {
            threads: 1,
            level: Level::Avx512f,
            gflops: 100.0,
        };
        vec![
            BenchResult::from_peak(&peak),
            BenchResult::measured(
                "c",
                "reference",
                "auto",
                "avx512",
                1,
                0.002,
                11,
                1e8,
                false,
                Some(&peak),
            ),
            BenchResult::measured("p", "pool", "auto", "avx512", 1, 0.001, 10, 2e6, true, None)
                .with_bytes(Some(3e7)),
            BenchResult::skipped("c", "winograd-2x2", 1, false, "stride 2".into()),
        ]
    }

    #[test]
    fn json_lines_are_well_formed_and_carry_the_required_keys() {
        for r in sample() {
            let line = r.to_json().to_string();
            assert!(!line.contains('\n'));
            let v: Value = serde_json::from_str(&line).unwrap();
            let o = v.as_object().unwrap();
            for key in ["case", "algorithm", "threads", "ms_median", "peak_fraction"] {
                assert!(o.contains_key(key), "{key} in {line}");
            }
            assert!(
                o.contains_key("gflops") != o.contains_key("gelem_per_s"),
                "{line}"
            );
        }
        let conv = sample()[1].to_json();
        assert_eq!(conv["gflops"].as_f64(), Some(50.0));
        assert_eq!(conv["peak_fraction"].as_f64(), Some(0.5));
        assert_eq!(conv["ms_median"].as_f64(), Some(2.0));
        let pool = sample()[2].to_json();
        assert_eq!(pool["gelem_per_s"].as_f64(), Some(2.0));
        assert!(pool["peak_fraction"].is_null());
        // 3e7 bytes in a 1 ms median.
        assert!((pool["gbytes_per_s"].as_f64().unwrap() - 30.0).abs() < 1e-9);
        assert!(conv.get("gbytes_per_s").is_none());
        let skipped = sample()[3].to_json();
        assert!(skipped["gflops"].is_null() && skipped["skipped"].is_string());
    }

    #[test]
    fn table_has_a_row_per_result() {
        let peers = Peers::parse(r#"{"peer":"ort","threads":1,"case":"c","gflops":25.0}"#).unwrap();
        let t = table(&sample(), Some(&peers));
        assert_eq!(t.lines().count(), 2 + 4);
        assert!(t.contains("2.00x"), "{t}");
        assert!(t.contains("skipped: stride 2"), "{t}");
        assert!(t.contains("50.0%"), "{t}");
    }

    #[test]
    fn json_round_trips_and_renders_as_markdown() {
        let rows = sample();
        let back: Vec<BenchResult> = rows
            .iter()
            .map(|r| {
                let line = r.to_json().to_string();
                BenchResult::from_json(&serde_json::from_str(&line).unwrap()).unwrap()
            })
            .collect();
        assert_eq!(back[1], rows[1]);
        assert_eq!(back[2], rows[2]);
        assert_eq!(back[0].as_peak().unwrap().gflops, 100.0);
        assert_eq!(back[3].skipped, rows[3].skipped);
        let md = markdown(&back, None);
        assert_eq!(
            md.lines().filter(|l| l.starts_with("| ")).count(),
            4,
            "{md}"
        );
        assert!(md.contains("FMA peak (avx512) measured"), "{md}");
        assert!(BenchResult::from_json(&serde_json::json!({"x": 1})).is_none());
    }
}
