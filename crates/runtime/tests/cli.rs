//! Smoke tests of the `convkit` binary.

use std::process::Command;

fn convkit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_convkit"))
        .args(args)
        .output()
        .expect("convkit runs")
}

#[test]
fn bench_json_lines_parse_and_carry_the_required_keys() {
    let out = convkit(&[
        "bench",
        "--case",
        "lenet_c1_b1",
        "--json",
        "--min-time",
        "0.01",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let case = rows
        .iter()
        .find(|r| r["case"] == "lenet_c1_b1")
        .expect("a lenet_c1_b1 row");
    for key in [
        "algorithm",
        "threads",
        "ms_median",
        "gflops",
        "peak_fraction",
    ] {
        assert!(case.get(key).is_some(), "{key} missing in {case}");
    }
    assert_ne!(case["algorithm"], "auto", "the algorithm the plan ran");
    assert_eq!(case["threads"], 1);
    assert!(case["ms_median"].as_f64().unwrap() > 0.0);
    assert!(case["gflops"].as_f64().unwrap() > 0.0);
    let f = case["peak_fraction"].as_f64().unwrap();
    assert!(f > 0.0 && f.is_finite());
    assert!(rows.iter().any(|r| r["case"] == "fma_peak"));
}

#[test]
fn bench_pool_case_reports_gelem_per_s_and_table_mode_works() {
    let out = convkit(&[
        "bench",
        "--case",
        "maxpool_2x2_s2",
        "--json",
        "--min-time",
        "0.01",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let pool: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["case"] == "maxpool_2x2_s2")
        .unwrap();
    assert!(pool["gelem_per_s"].as_f64().unwrap() > 0.0);
    assert!(pool.get("gflops").is_none());
    // Input read once + output written once per call: 4·(64·112² + 64·56²) bytes.
    let bytes = 4.0 * (64.0 * 112.0 * 112.0 + 64.0 * 56.0 * 56.0);
    let ms = pool["ms_median"].as_f64().unwrap();
    let gbs = pool["gbytes_per_s"].as_f64().unwrap();
    assert!(
        (gbs - bytes / (ms * 1e-3) / 1e9).abs() <= 1e-9 * gbs,
        "{pool}"
    );

    let out = convkit(&[
        "bench",
        "--shape",
        "n=1,c=3,h=9,w=8,k=4,r=3,s=3,pad=1,0,1,0,stride=2",
        "--threads",
        "1,2",
        "--algo",
        "all",
        "--min-time",
        "0.01",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("FMA peak"), "{text}");
    assert!(text.contains("GFLOP/s"), "{text}");
}

#[test]
fn bench_rejects_bad_arguments_with_a_message() {
    for (args, needle) in [
        (&["bench", "--algo", "nope"][..], "available: auto"),
        (
            &["bench", "--case", "nope"][..],
            "public cases: lenet_c1_b1",
        ),
        (&["bench", "--shape", "c=1,h=5"][..], "bad --shape"),
        (&["bench", "--threads", "0"][..], "at least 1"),
        (&["bench", "--simd", "avx1024"][..], "supported:"),
    ] {
        let out = convkit(args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn bench_writes_an_svg_chart() {
    let dir = std::env::temp_dir().join(format!("convkit-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("chart.svg");
    let peers = dir.join("peers.jsonl");
    std::fs::write(
        &peers,
        r#"{"peer":"someone","threads":1,"case":"lenet_c1_b1","gflops":3.5}"#,
    )
    .unwrap();
    let out = convkit(&[
        "bench",
        "--case",
        "lenet_c1_b1",
        "--min-time",
        "0.01",
        "--svg",
        svg.to_str().unwrap(),
        "--peers",
        peers.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("someone"), "{text}");
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.starts_with("<svg") && chart.contains("lenet_c1_b1"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bandwidth_reports_copy_rates_as_json_lines() {
    let out = convkit(&["bench", "--bandwidth", "--json", "--min-time", "0.01"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for case in ["copy_4MiB", "copy_256MiB"] {
        let row = rows.iter().find(|r| r["case"] == case).expect(case);
        assert!(row["gbytes_per_s"].as_f64().unwrap() > 0.0, "{row}");
        assert_eq!(row["threads"], 1);
    }
}

#[test]
fn peak_alone_prints_only_the_peak() {
    let out = convkit(&["bench", "--peak", "--min-time", "0.01"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("FMA peak ("), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}

#[test]
fn info_prints_levels_versions_and_algorithms() {
    let out = convkit(&["info"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "detected SIMD",
        "active SIMD",
        "threads",
        "convkit-kernels",
        "reference",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let out = convkit(&["info", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["convkit_runtime"], env!("CARGO_PKG_VERSION"));
    assert!(v["supported_levels"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == "portable"));
    assert!(v["algorithms"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "auto"));
}

#[test]
fn from_reports_a_saved_run_as_markdown() {
    let out = convkit(&[
        "bench",
        "--case",
        "lenet_c1_b1",
        "--json",
        "--min-time",
        "0.01",
    ]);
    assert!(out.status.success());
    let dir = std::env::temp_dir().join(format!("convkit-cli-from-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let saved = dir.join("run.jsonl");
    std::fs::write(&saved, &out.stdout).unwrap();
    let out = convkit(&["bench", "--from", saved.to_str().unwrap(), "--markdown"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.starts_with("| case |"), "{md}");
    assert!(md.contains("| lenet_c1_b1 | 1 |"), "{md}");
    assert!(md.contains("FMA peak"), "{md}");
    std::fs::write(&saved, "{\"nope\": 1}\n").unwrap();
    let out = convkit(&["bench", "--from", saved.to_str().unwrap()]);
    assert!(!out.status.success());
    std::fs::remove_dir_all(&dir).ok();
}
