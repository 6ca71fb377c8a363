#!/usr/bin/env bash
# Runs convkit-kernels' tests under Miri (undefined-behaviour checker) on a fast subset:
# the unit tests (SIMD vector methods at every level, epilogue, split, detection), the
# descriptor/error tests, set_active, and the no-allocation test, with 2 proptest cases each.
#
#   scripts/miri.sh            # SSE2 + portable levels (Miri has no cpuid: the levels come
#                              # from the build's target features, see simd/detect.rs)
#   MIRI_AVX2=1 scripts/miri.sh  # also a second pass built with +avx2,+fma (AVX2 level)
#
# Needs: rustup toolchain nightly with components miri and rust-src.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONVKIT_PROPTEST_CASES="${CONVKIT_PROPTEST_CASES:-2}"
export MIRIFLAGS="${MIRIFLAGS:-}"
# Miri's own target dir, so the stable build cache is not invalidated.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/miri-dir"
tests=(--lib --test descriptors --test set_active --test no_alloc)

echo "== miri: portable + sse2"
# The brute-force empty-window check loops over thousands of shapes: too slow interpreted.
cargo +nightly miri test -p convkit-kernels "${tests[@]}" -- --skip empty_window_check_matches_brute_force

if [ "${MIRI_AVX2:-0}" = 1 ]; then
    echo "== miri: portable + sse2 + avx2/fma"
    RUSTFLAGS="-Ctarget-feature=+avx2,+fma" CARGO_TARGET_DIR="$CARGO_TARGET_DIR-avx2" \
        cargo +nightly miri test -p convkit-kernels --lib
fi
