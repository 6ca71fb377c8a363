//! Figures of other libraries, from JSON lines in the format of the shared
//! `peers-best.jsonl`: one object per (peer, threads, case) with at least `"peer"`,
//! `"threads"`, `"case"` and `"gflops"` (pooling cases: output Gelem/s in `"gelems"` or
//! `"gelem_per_s"`, the field `convkit bench --json` writes).

use std::collections::HashMap;

/// One library's figure for a case.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerFigure {
    /// Library name as in the file (`ort`, `torch`, `openvino`, `ncnn`, ...).
    pub peer: String,
    /// GFLOP/s (Gelem/s for pooling).
    pub gflops: f64,
}

/// The best peer per (case, threads).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Peers {
    best: HashMap<(String, usize), PeerFigure>,
}

impl Peers {
    /// Parses JSON lines. Lines without a numeric rate (whole-network or call-overhead
    /// entries) and entries with a `"layout"` other than NCHW (they time another problem:
    /// `torch_nhwc` takes channels-last tensors) are ignored; a line that is not a JSON object
    /// is an error naming its line number.
    pub fn parse(text: &str) -> Result<Peers, String> {
        Peers::parse_excluding(text, &[])
    }

    /// Like [`Peers::parse`], leaving out the libraries named in `exclude` (for example
    /// `ncnn`, whose 3×3 stride-1 figures are Winograd, to compare with the best
    /// non-Winograd library as issue 3 does).
    pub fn parse_excluding(text: &str, exclude: &[String]) -> Result<Peers, String> {
        let mut peers = Peers::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
            let obj = v
                .as_object()
                .ok_or_else(|| format!("line {}: not a JSON object", i + 1))?;
            let (Some(peer), Some(threads), Some(case), Some(gflops)) = (
                obj.get("peer").and_then(|v| v.as_str()),
                obj.get("threads").and_then(|v| v.as_u64()),
                obj.get("case").and_then(|v| v.as_str()),
                ["gflops", "gelems", "gelem_per_s"]
                    .iter()
                    .find_map(|k| obj.get(*k).and_then(|v| v.as_f64())),
            ) else {
                continue;
            };
            if exclude.iter().any(|e| e == peer) {
                continue;
            }
            if obj
                .get("layout")
                .and_then(|v| v.as_str())
                .is_some_and(|l| l != "NCHW")
            {
                continue;
            }
            let key = (case.to_string(), threads as usize);
            let better = peers.best.get(&key).is_none_or(|b| gflops > b.gflops);
            if better {
                peers.best.insert(
                    key,
                    PeerFigure {
                        peer: peer.to_string(),
                        gflops,
                    },
                );
            }
        }
        Ok(peers)
    }

    /// Reads and parses a file.
    pub fn load(path: &std::path::Path) -> Result<Peers, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Peers::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The best peer for `case` at `threads`.
    pub fn best(&self, case: &str, threads: usize) -> Option<&PeerFigure> {
        self.best.get(&(case.to_string(), threads))
    }

    /// Number of (case, threads) entries.
    pub fn len(&self) -> usize {
        self.best.len()
    }

    /// True when no figure was read.
    pub fn is_empty(&self) -> bool {
        self.best.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_nchw_peer_per_case_and_threads() {
        let text = r#"
{"peer": "torch", "threads": 1, "case": "a", "gflops": 10.0, "layout": "NCHW"}
{"peer": "ort", "threads": 1, "case": "a", "gflops": 12.0}
{"peer": "torch_nhwc", "threads": 1, "case": "a", "gflops": 50.0, "layout": "NHWC"}
{"peer": "ort", "threads": 2, "case": "a", "gflops": 20.0}
{"peer": "ort", "threads": 1, "case": "pool", "gelems": 1.5, "unit": "Gelem/s"}
{"peer": "ort", "threads": 1, "case": "lenet_full_b1", "images_per_s": 5.0}
"#;
        let p = Peers::parse(text).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p.best("pool", 1).unwrap().gflops, 1.5);
        assert_eq!(p.best("a", 1).unwrap().peer, "ort");
        assert_eq!(p.best("a", 2).unwrap().gflops, 20.0);
        assert!(p.best("a", 3).is_none());
        let p = Peers::parse_excluding(text, &["ort".to_string()]).unwrap();
        assert_eq!(p.best("a", 1).unwrap().peer, "torch");
        assert!(p.best("a", 2).is_none());
        assert!(Peers::parse("{\"peer\": \n").is_err());
        assert!(Peers::parse("[1]").is_err());
    }

    #[test]
    fn reads_the_shared_peer_file_when_present() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/peers/peers-best.jsonl");
        if let Ok(p) = Peers::load(&path) {
            assert!(p.best("resnet_3x3_64", 1).is_some());
        }
    }
}
