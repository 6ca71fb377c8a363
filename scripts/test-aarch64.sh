#!/usr/bin/env bash
# Cross-compiles convkit-kernels' tests for aarch64-unknown-linux-gnu and runs them under
# qemu-user (runner and linker in .cargo/config.toml). The tests iterate over
# `simd::supported_levels()`, which on aarch64 is {Portable, Neon}: both get exercised.
#
#   scripts/test-aarch64.sh                 # all kernel tests
#   scripts/test-aarch64.sh --lib conv      # extra arguments go to `cargo test`
#
# Needs: rustup target aarch64-unknown-linux-gnu; Debian packages gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross, qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
cargo test -p convkit-kernels --target aarch64-unknown-linux-gnu "$@"
