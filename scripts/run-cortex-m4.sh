#!/usr/bin/env bash
# Builds the Cortex-M4F LeNet firmware (examples/cortex-m4), prints its flash and RAM use, runs
# it under qemu (mps2-an386, semihosting, -icount shift=0 so SysTick counts instructions) with
# a timeout, and exits 0 only when the firmware reported that every logit matches the host's.
#
#   scripts/run-cortex-m4.sh            # build + run
#   TIMEOUT=600 scripts/run-cortex-m4.sh
#   CONVKIT_M4_PER_LABEL=4 scripts/run-cortex-m4.sh   # fewer digits (default 12 per label)
#   CONVKIT_M4_ALGORITHM=reference scripts/run-cortex-m4.sh   # force an algorithm
#
# Needs: rustup target thumbv7em-none-eabihf, qemu-system-arm, binutils-arm-none-eabi.
# Budgets (the issue's targets, checked here): flash <= 320 KB, RAM (static + stack) <= 48 KB,
# with KB = 1000 bytes to be strict; set CHECK_BUDGET=0 to only report.
set -euo pipefail
cd "$(dirname "$0")/../examples/cortex-m4"
TIMEOUT="${TIMEOUT:-300}"
FLASH_BUDGET=320000
RAM_BUDGET=48000

# The firmware's own release profile (opt-level "s", fat LTO) decides flash and speed: an
# override from the environment (CI once leaked the fuzz build's opt-level 1 here: flash
# 331,660 bytes, over budget) does not apply.
env -u CARGO_PROFILE_RELEASE_OPT_LEVEL -u CARGO_PROFILE_RELEASE_LTO \
    -u CARGO_PROFILE_RELEASE_CODEGEN_UNITS cargo build --release
elf=target/thumbv7em-none-eabihf/release/convkit-cortex-m4

echo "== arm-none-eabi-size -A $elf"
arm-none-eabi-size -A "$elf" | grep -vE '^\.(debug|comment|ARM)' | grep -v '^$'
sec() { arm-none-eabi-size -A "$elf" | awk -v s="$1" '$1 == s { print $2 } END {}' | head -1; }
n() { local v; v=$(sec "$1"); echo "${v:-0}"; }
flash=$(( $(n .vector_table) + $(n .text) + $(n .rodata) + $(n .data) ))
static_ram=$(( $(n .data) + $(n .bss) + $(n .uninit) ))

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== qemu-system-arm -machine mps2-an386 -cpu cortex-m4 (timeout ${TIMEOUT}s)"
set +e
timeout "$TIMEOUT" qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic \
    -semihosting-config enable=on,target=native -icount shift=0 -kernel "$elf" | tee "$log"
status=${PIPESTATUS[0]}
set -e

stack=$(sed -n 's/^stack high-water: \([0-9]*\) bytes.*/\1/p' "$log")
stack=${stack:-0}
ram=$(( static_ram + stack ))
echo "== figures"
echo "flash (vector table + text + rodata + data): $flash bytes (budget $FLASH_BUDGET)"
echo "RAM static (data + bss + uninit):           $static_ram bytes"
echo "stack high-water (painted, measured):       $stack bytes"
echo "RAM total (static + stack):                 $ram bytes (budget $RAM_BUDGET); heap: none"
grep -E '^(instructions/inference|accuracy)' "$log" || true

if [ "$status" -eq 124 ]; then
    echo "FAIL: firmware timed out after ${TIMEOUT}s" >&2
    exit 1
fi
if [ "$status" -ne 0 ] || ! grep -q '^RESULT: MATCH' "$log"; then
    echo "FAIL: firmware did not report a match (qemu exit status $status)" >&2
    exit 1
fi
if [ "$flash" -gt "$FLASH_BUDGET" ] || [ "$ram" -gt "$RAM_BUDGET" ]; then
    if [ "${CHECK_BUDGET:-1}" != 0 ]; then
        echo "FAIL: over budget (flash $flash > $FLASH_BUDGET or RAM $ram > $RAM_BUDGET)" >&2
        exit 1
    fi
    echo "WARNING: over budget (flash $flash > $FLASH_BUDGET or RAM $ram > $RAM_BUDGET)" >&2
fi
echo "OK: logits match the host within 1e-4"
