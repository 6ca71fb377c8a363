#!/usr/bin/env bash
# Embedded and portability checks, called from .ci/run (runs on a bare Debian machine as root):
#   1. the Cortex-M4F LeNet firmware under qemu-system-arm (timeout; logits must match the host),
#   2. convkit-kernels' tests for aarch64 under qemu-user (NEON + portable levels),
#   3. the no-allocation test without `std` (the embedded configuration),
#   4. Miri on a fast subset.
# Installs what it needs first. Set EMBEDDED_SKIP_INSTALL=1 to skip the apt/rustup steps.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { echo; echo "=== embedded: $* ($(( $(date +%s) - start ))s)"; }
export PATH="$HOME/.cargo/bin:$PATH"

if [ "${EMBEDDED_SKIP_INSTALL:-0}" != 1 ]; then
    step "install: Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq qemu-system-arm qemu-user gcc-aarch64-linux-gnu \
        libc6-dev-arm64-cross binutils-arm-none-eabi >/dev/null
    step "install: rustup targets and nightly miri"
    rustup target add thumbv7em-none-eabihf aarch64-unknown-linux-gnu >/dev/null
    # Install nightly only when missing (an existing one is not updated), then its components.
    rustup run nightly rustc --version >/dev/null 2>&1 \
        || rustup toolchain install nightly --profile minimal >/dev/null
    rustup component add --toolchain nightly miri rust-src >/dev/null
    cargo +nightly miri setup >/dev/null
fi

step "Cortex-M4F firmware under qemu (scripts/run-cortex-m4.sh)"
# The logit match is required; the flash/RAM budget is reported (a WARNING line when over) but
# only fails CI with M4_CHECK_BUDGET=1: see docs/embedded.md for the current figures.
TIMEOUT="${M4_TIMEOUT:-240}" CHECK_BUDGET="${M4_CHECK_BUDGET:-0}" scripts/run-cortex-m4.sh \
    | grep -v '^digit '

step "aarch64 tests under qemu-user (scripts/test-aarch64.sh)"
# Unit and integration tests; the doc-tests are the same on every target and run on the host.
CONVKIT_PROPTEST_CASES="${CONVKIT_PROPTEST_CASES:-64}" scripts/test-aarch64.sh --lib --tests

step "no allocation without std"
cargo test -p convkit-kernels --no-default-features --test no_alloc

step "miri (scripts/miri.sh)"
CONVKIT_PROPTEST_CASES=2 scripts/miri.sh

step "done"
echo "embedded checks passed in $(( $(date +%s) - start ))s"
