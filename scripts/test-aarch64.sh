#!/usr/bin/env bash
# Cross-compiles convkit-kernels' tests for aarch64-unknown-linux-gnu and runs them under
# qemu-user (runner and linker in .cargo/config.toml). The tests iterate over
# `simd::supported_levels()`, which on aarch64 is {Portable, Neon}: both get exercised.
#
#   scripts/test-aarch64.sh                 # all kernel tests
#   scripts/test-aarch64.sh --lib conv      # extra arguments go to `cargo test`
#   scripts/test-aarch64.sh --no-run        # build only
#
# Needs: rustup target aarch64-unknown-linux-gnu; Debian packages gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross, qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
# A target dir of its own: cargo locks its target dir for a whole build, so this build can run
# while a host build runs (as `.ci/run` does: both are bound by one core most of the time, the
# kernels crate's code generation).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/aarch64}"
cargo test -p convkit-kernels --target aarch64-unknown-linux-gnu "$@"
