#!/usr/bin/env python3
"""Evaluate a LeNet state_dict safetensors with the INDEPENDENT float64 numpy forward pass of
make_lenet_fixture.py (loops over kernel offsets; no code shared with the trainer).

  python3 scripts/eval_lenet_numpy.py weights/lenet.safetensors data/mnist data/sample

For each IDX directory (t10k-* files) prints accuracy and the confusion matrix.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402

import numpy as np  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lenet_common import LENET_PARAMS, load_split  # noqa: E402
from make_lenet_fixture import lenet_forward_f64  # noqa: E402


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    tensors = load_file(sys.argv[1])
    params = {}
    for name, shape, _ in LENET_PARAMS:
        t = tensors[name]
        if t.shape != shape or t.dtype != np.float32:
            sys.exit(f"{name}: {t.dtype} {t.shape}, expected float32 {shape}")
        params[name] = t
    for directory in sys.argv[2:]:
        x, y = load_split(directory, "t10k")
        pred = np.concatenate([lenet_forward_f64(params, x[i:i + 250]).argmax(axis=1)
                               for i in range(0, len(x), 250)])
        correct = int((pred == y).sum())
        print(f"{directory}: accuracy {correct / len(y):.4f} ({correct}/{len(y)})")
        cm = np.zeros((10, 10), dtype=int)
        np.add.at(cm, (y, pred), 1)
        print("confusion (rows: true 0..9, columns: predicted 0..9)")
        for row in cm:
            print("  " + " ".join(f"{v:4d}" for v in row))


if __name__ == "__main__":
    main()
