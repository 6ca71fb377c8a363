#!/usr/bin/env python3
"""Merge several `convkit bench --json` runs: per (case, algorithm, threads) the line with the
lowest median, and per thread count the highest FMA peak; `peak_fraction` is recomputed
against that peak (a run whose peak probe was disturbed would otherwise inflate its lines).
Prints JSON lines on stdout.

    scripts/bench-best.py run-1.jsonl run-2.jsonl ... > docs/benchmarks.jsonl
"""
import json
import sys


def main(paths):
    peaks, best, order = {}, {}, []
    for path in paths:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                obj = json.loads(line)
                if obj.get("case") == "fma_peak":
                    key = obj["threads"]
                    if key not in peaks or obj["gflops"] > peaks[key]["gflops"]:
                        peaks[key] = obj
                    continue
                key = (obj["case"], obj.get("requested"), obj["threads"])
                if key not in best:
                    order.append(key)
                    best[key] = obj
                elif obj.get("ms_median") is not None and (
                    best[key].get("ms_median") is None
                    or obj["ms_median"] < best[key]["ms_median"]
                ):
                    best[key] = obj
    for key in sorted(peaks):
        print(json.dumps(peaks[key]))
    for key in order:
        obj = best[key]
        peak = peaks.get(obj["threads"])
        if peak and obj.get("gflops") is not None and obj.get("peak_fraction") is not None:
            obj["peak_fraction"] = obj["gflops"] / peak["gflops"]
        print(json.dumps(obj))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: bench-best.py RUN.jsonl [RUN.jsonl ...]")
    main(sys.argv[1:])
