#!/usr/bin/env bash
# Runs every cargo-fuzz target (the [[bin]]s of fuzz/Cargo.toml), FUZZ_JOBS at a time (default
# one after the other), and prints, per target, the executions, the corpus size and the time;
# fails if any target crashed or found a mismatch (the reproducer is in
# fuzz/artifacts/<target>/).
#
#   scripts/fuzz.sh 30                  # 30 s per target (the CI smoke run)
#   FUZZ_RUNS=10000000 scripts/fuzz.sh  # 10 million executions per target (no time limit)
#   FUZZ_RUNS=10000000 scripts/fuzz.sh 7200   # whichever comes first
#   FUZZ_TARGETS="conv pool" scripts/fuzz.sh 60
#   FUZZ_BUILD_ARGS="--codegen-units 4" scripts/fuzz.sh 30   # extra cargo-fuzz build options
#   FUZZ_JOBS=2 scripts/fuzz.sh 30      # two targets at a time (one core each)
#   FUZZ_ARGS="-entropic=0" scripts/fuzz.sh 60   # extra libFuzzer options
#
# The corpus of each target persists in fuzz/corpus/<target>/ (git-ignored), so later runs
# start where earlier ones stopped. Built with debug assertions (`-a`: overflow checks in the
# kernels' index arithmetic) and AddressSanitizer (cargo-fuzz's default).
#
# Needs: rustup toolchain nightly, `cargo install cargo-fuzz`.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-${FUZZ_SECONDS:-0}}"
runs="${FUZZ_RUNS:-0}"
if [ "$seconds" = 0 ] && [ "$runs" = 0 ]; then
    echo "usage: scripts/fuzz.sh SECONDS   (or FUZZ_RUNS=N scripts/fuzz.sh)" >&2
    exit 2
fi
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
# The targets are the [[bin]]s of fuzz/Cargo.toml (fuzz_targets/common.rs is a shared module).
targets="${FUZZ_TARGETS:-$(cargo "+$toolchain" fuzz list --fuzz-dir fuzz | tr '\n' ' ')}"
# Extra build options for `cargo fuzz build` and `run` (the same for both, so `run` does not
# rebuild), e.g. `--codegen-units 4`: a faster build on two cores for slightly slower runs.
read -r -a build_args <<<"${FUZZ_BUILD_ARGS:-}"
# Extra libFuzzer options, e.g. `-entropic=0` for a long campaign: libFuzzer's default
# (entropic) schedule spends most of an execution of these targets on its own bookkeeping once
# the corpus holds tens of thousands of features.
read -r -a fuzz_args <<<"${FUZZ_ARGS:-}"
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

# Build all targets first, so the per-target time below is fuzzing time only.
cargo "+$toolchain" fuzz build -a "${build_args[@]}" --fuzz-dir fuzz

# One target: fuzz it, then write its summary line and exit status into $logdir.
fuzz_one() {
    local t=$1 start rc took execs files bytes
    mkdir -p "fuzz/corpus/$t"
    local args=(-print_final_stats=1 "${fuzz_args[@]}")
    [ "$seconds" != 0 ] && args+=("-max_total_time=$seconds")
    [ "$runs" != 0 ] && args+=("-runs=$runs")
    echo "== fuzz $t (${seconds}s, runs ${runs})"
    start=$(date +%s)
    rc=0
    cargo "+$toolchain" fuzz run -a "${build_args[@]}" --fuzz-dir fuzz "$t" "fuzz/corpus/$t" -- "${args[@]}" \
        >"$logdir/$t.log" 2>&1 || rc=$?
    took=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logdir/$t.log" | tail -1)
    files=$(find "fuzz/corpus/$t" -type f | wc -l)
    bytes=$(du -sb "fuzz/corpus/$t" | cut -f1)
    printf '%-12s %12s execs %6s corpus files %9s bytes %6ss  %s\n' "$t" "${execs:-?}" \
        "$files" "$bytes" "$took" "$([ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)")" \
        >"$logdir/$t.summary"
    echo "$rc" >"$logdir/$t.rc"
}

# FUZZ_JOBS targets at a time (default 1; each libFuzzer process uses one core), e.g. 2 on a
# two-core machine halves the wall time of a smoke run.
jobs="${FUZZ_JOBS:-1}"
running=0
for t in $targets; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    fuzz_one "$t" &
    running=$((running + 1))
done
wait

status=0
for t in $targets; do
    if [ "$(cat "$logdir/$t.rc" 2>/dev/null || echo 1)" != 0 ]; then
        status=1
        # The panic message (a mismatch says what differed) and the end of the log; the whole
        # log stays next to the reproducer.
        grep -A4 -m1 'panicked at' "$logdir/$t.log" || true
        tail -60 "$logdir/$t.log"
        mkdir -p "fuzz/artifacts/$t"
        cp "$logdir/$t.log" "fuzz/artifacts/$t/fuzz.log"
        echo "FAIL: fuzz target $t (reproducer in fuzz/artifacts/$t/)" >&2
    fi
done

echo "== fuzz summary (executions, corpus size, time per target)"
for t in $targets; do cat "$logdir/$t.summary" 2>/dev/null || echo "$t: no summary"; done
exit $status
