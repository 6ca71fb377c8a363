#!/usr/bin/env bash
# Embedded, portability and hostile-input checks, called from .ci/run (a bare Debian machine,
# root, only rustup's stable toolchain). Each stage prints its time; a summary at the end.
#   1. install: Debian packages, rustup targets, nightly + miri + rust-src, cargo-fuzz
#   2. the Cortex-M4F LeNet firmware under qemu-system-arm (timeout; logits must match the
#      host's; flash <= 320 KB and RAM <= 48 KB enforced)
#   3. convkit-kernels' tests for aarch64 under qemu-user (NEON + portable levels)
#   4. the kernels' tests with the scalar portable level (`portable-scalar`, what Cortex-M runs)
#   5. the no-allocation test without `std`
#   6. Miri on a fast subset (scripts/miri.sh)
#   7. every fuzz target for FUZZ_SECONDS (default 30) (scripts/fuzz.sh)
# EMBEDDED_SKIP_INSTALL=1 skips stage 1; EMBEDDED_INSTALL_ONLY=1 runs only stage 1 (`.ci/run`
# installs first, so the aarch64 test build can run alongside the host tests).
# EMBEDDED_STAGES selects stages 2-7 (space-separated; default: all of them):
#   firmware aarch64 scalar no_alloc miri fuzz
# and only what the selected stages need is installed. `.ci/run` calls a subset (see there);
# FUZZ_TARGETS (scripts/fuzz.sh) narrows the fuzz stage.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stage_start=$start
timings=()
step() {
    local now
    now=$(date +%s)
    if [ -n "${stage:-}" ]; then timings+=("$(printf '%5ss  %s' $((now - stage_start)) "$stage")"); fi
    stage="$*"
    stage_start=$now
    echo
    echo "=== embedded: $* ($((now - start))s)"
}
export PATH="$HOME/.cargo/bin:$PATH"
# Retries a command (network hiccups): retry N cmd...
retry() {
    local n=$1 i
    shift
    for ((i = 1; i <= n; i++)); do
        "$@" && return 0
        echo "attempt $i/$n failed: $*" >&2
        sleep $((5 * i))
    done
    return 1
}
CARGO_FUZZ_VERSION=0.13.2
fuzz_ok=1
stages=" ${EMBEDDED_STAGES:-firmware aarch64 scalar no_alloc miri fuzz} "
want() { [[ "$stages" == *" $1 "* ]]; }
echo "embedded stages:$stages"

if [ "${EMBEDDED_SKIP_INSTALL:-0}" != 1 ]; then
    step "install: Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    pkgs=(build-essential)
    want firmware && pkgs+=(qemu-system-arm binutils-arm-none-eabi)
    want aarch64 && pkgs+=(qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
    missing=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        retry 3 apt-get update -qq
        retry 3 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "all present: ${pkgs[*]}"
    fi

    step "install: rustup targets, nightly with miri and rust-src"
    targets=()
    want firmware && targets+=(thumbv7em-none-eabihf)
    want aarch64 && targets+=(aarch64-unknown-linux-gnu)
    [ ${#targets[@]} -gt 0 ] && retry 3 rustup target add "${targets[@]}" >/dev/null
    if want miri || want fuzz; then
        # Install nightly only when missing (an existing one is not updated), then its
        # components.
        rustup run nightly rustc --version >/dev/null 2>&1 \
            || retry 3 rustup toolchain install nightly --profile minimal >/dev/null
        rustup run nightly rustc --version
    fi
    if want miri; then
        retry 3 rustup component add --toolchain nightly miri rust-src >/dev/null
        retry 3 cargo +nightly miri setup >/dev/null
    fi

    if want fuzz; then
        step "install: cargo-fuzz $CARGO_FUZZ_VERSION"
        if cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
            cargo fuzz --version
        elif retry 2 cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"; then
            cargo fuzz --version
        else
            fuzz_ok=0
            echo "WARNING: could not install cargo-fuzz $CARGO_FUZZ_VERSION: the fuzz smoke run is SKIPPED" >&2
        fi
    fi
fi

if [ "${EMBEDDED_INSTALL_ONLY:-0}" = 1 ]; then
    step "done (install only)"
    printf '%s\n' "${timings[@]}"
    exit 0
fi

# FUZZ_BUILD_ARGS: extra `cargo fuzz build` options, passed to scripts/fuzz.sh too (so its
# build is the same and a no-op); `.ci/run` sets `--no-trace-compares` (docs/embedded.md, "CI").
# The fuzz build's optimisation level (FUZZ_OPT_LEVEL, e.g. 1 for a smoke run: the build of the
# kernels with coverage instrumentation, ASan and one codegen unit takes most of the stage's
# time at opt-level 3). Unset: cargo-fuzz's release default.
# The opt-level goes only into the fuzz commands' environment (`fuzz_env`), never exported:
# the firmware is a release build too.
fuzz_env=()
if [ -n "${FUZZ_OPT_LEVEL:-}" ]; then
    fuzz_env+=("CARGO_PROFILE_RELEASE_OPT_LEVEL=$FUZZ_OPT_LEVEL")
fi
# The fuzz build, as scripts/fuzz.sh repeats it (same options and environment: a no-op there).
fuzz_build() {
    local args
    read -r -a args <<<"${FUZZ_BUILD_ARGS:-}"
    env "${fuzz_env[@]}" cargo +nightly fuzz build -a "${args[@]}" --fuzz-dir fuzz
}
fuzz_here=0
if want fuzz && [ "$fuzz_ok" = 1 ] && cargo fuzz --version >/dev/null 2>&1; then
    fuzz_here=1
fi

# EMBEDDED_FUZZ_BUILD_ONLY=1: only the fuzz build, with the settings above. `.ci/run` starts it
# in the background right after the installs: it spends most of its time compiling the
# kernels on one core, so it overlaps the host tests instead of ending the run; the build in
# the miri stage below then finds it done (or waits for it on cargo's build-directory lock).
if [ "${EMBEDDED_FUZZ_BUILD_ONLY:-0}" = 1 ]; then
    if [ "$fuzz_here" = 1 ]; then
        step "fuzz build only"
        fuzz_build
    fi
    step "done (fuzz build only)"
    printf '%s\n' "${timings[@]}"
    exit 0
fi

if want firmware; then
    step "Cortex-M4F firmware under qemu (scripts/run-cortex-m4.sh)"
    TIMEOUT="${M4_TIMEOUT:-300}" CHECK_BUDGET="${M4_CHECK_BUDGET:-1}" scripts/run-cortex-m4.sh \
        | grep -v '^digit '
fi

if want aarch64; then
    step "aarch64 tests under qemu-user (scripts/test-aarch64.sh)"
    # Unit and integration tests; the doc-tests are the same on every target and run on the
    # host. (`.ci/run` has built them already, alongside the host tests: then this only runs.)
    CONVKIT_PROPTEST_CASES="${AARCH64_PROPTEST_CASES:-64}" scripts/test-aarch64.sh --lib --tests
fi

if want scalar; then
    step "kernel tests with the scalar portable level (portable-scalar)"
    # The library's unit tests and the algorithm, GEMM, pooling and no-allocation tests: the
    # code paths that change with one lane. Few proptest cases: this is a separate build of
    # the whole test suite, and the x86 levels run the full count in `.ci/run`.
    CONVKIT_PROPTEST_CASES="${SCALAR_PROPTEST_CASES:-12}" \
        cargo test -p convkit-kernels --features portable-scalar --lib \
        --test conv_direct --test conv_im2col --test conv_depthwise --test conv_winograd \
        --test gemm --test pool_proptest --test no_alloc
fi

if want no_alloc; then
    step "no allocation without std"
    cargo test -p convkit-kernels --no-default-features \
        --features direct,im2col,depthwise,winograd --test no_alloc
fi

if want miri; then
    if [ "$fuzz_here" = 1 ]; then
        # Both are single-threaded for most of their time (the Miri interpreter; the fuzz build
        # of the kernels, one codegen unit): run them side by side on two cores.
        step "miri (scripts/miri.sh) alongside the fuzz build"
        miri_log=$(mktemp)
        CONVKIT_PROPTEST_CASES=2 scripts/miri.sh >"$miri_log" 2>&1 &
        miri_pid=$!
        build_rc=0
        fuzz_build || build_rc=$?
        miri_rc=0
        wait "$miri_pid" || miri_rc=$?
        echo "== miri output"
        cat "$miri_log"
        rm -f "$miri_log"
        if [ "$miri_rc" != 0 ] || [ "$build_rc" != 0 ]; then
            echo "miri exit $miri_rc, fuzz build exit $build_rc" >&2
            exit 1
        fi
    else
        step "miri (scripts/miri.sh)"
        CONVKIT_PROPTEST_CASES=2 scripts/miri.sh
    fi
fi

if want fuzz; then
    if [ "$fuzz_here" = 1 ]; then
        step "fuzz smoke: ${FUZZ_TARGETS:-every target} ${FUZZ_SECONDS:-30}s (scripts/fuzz.sh)"
        # One target per core at a time (each libFuzzer process is single-threaded).
        env "${fuzz_env[@]}" FUZZ_JOBS="${FUZZ_JOBS:-$(nproc)}" scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
    else
        step "fuzz smoke SKIPPED (cargo-fuzz not installed)"
    fi
fi

step "done"
echo "== embedded stage timings"
printf '%s\n' "${timings[@]}"
echo "embedded checks passed in $(($(date +%s) - start))s"
