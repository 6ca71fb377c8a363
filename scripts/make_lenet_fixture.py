#!/usr/bin/env python3
"""Write the LeNet interop fixtures for convkit-runtime's tests.

  pip install -r scripts/requirements.txt
  python3 scripts/make_lenet_fixture.py

Writes crates/runtime/tests/fixtures/:
  lenet_fixture.safetensors    the 10 LeNet parameters (PyTorch state_dict names and layout,
                               float32, PyTorch's default init from a fixed seed), plus
                               `input` (8x1x28x28 float32: 8 digits of data/sample scaled /255),
                               `logits` (8x10 float32) and `logits_f64` (8x10 float64) from an
                               independent float64 numpy forward pass (loops over kernel
                               offsets; no im2col, no code shared with the trainer).
  lenet_bad_dtype.safetensors  every parameter present with the right shape (all zeros), but
                               `1.weight` stored as float64 (error tests).
  lenet_bad_shape.safetensors  all zeros, `4.weight` shaped 16x6x3x3 instead of 16x6x5x5.
  lenet_missing.safetensors    all zeros, `12.bias` absent.
Deterministic: rerunning reproduces the files byte for byte.
"""

import os
import sys

import numpy as np
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lenet_common import LENET_NAMES, LENET_PARAMS, ROOT, load_split, pytorch_default_init  # noqa: E402

SEED = 20261127
# Indices into data/sample (50 per label, label order): labels 0,1,2,3,5,6,7,8 at varied positions.
SAMPLE_INDICES = [0, 63, 126, 189, 252, 315, 378, 441]
OUT_DIR = os.path.join(ROOT, "crates", "runtime", "tests", "fixtures")
METADATA = {"format": "pt"}  # what safetensors.torch.save_file writes


def conv2d(x, w, b, pad):
    """Cross-correlation, NCHW x OIHW, stride 1, symmetric zero padding, float64."""
    n, c, h, wd = x.shape
    k, c2, r, s = w.shape
    assert c == c2
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), dtype=np.float64)
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    p, q = h + 2 * pad - r + 1, wd + 2 * pad - s + 1
    y = np.zeros((n, k, p, q), dtype=np.float64)
    for i in range(r):
        for j in range(s):
            patch = xp[:, :, i:i + p, j:j + q]  # n c p q
            # y[n,k,p,q] += sum_c w[k,c,i,j] * patch[n,c,p,q]
            y += np.tensordot(patch, w[:, :, i, j], axes=([1], [1])).transpose(0, 3, 1, 2)
    return y + b.reshape(1, k, 1, 1)


def avgpool2(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lenet_forward_f64(params, x):
    p = {k: v.astype(np.float64) for k, v in params.items()}
    h = x.astype(np.float64)
    h = avgpool2(sigmoid(conv2d(h, p["1.weight"], p["1.bias"], pad=2)))   # n 6 14 14
    h = avgpool2(sigmoid(conv2d(h, p["4.weight"], p["4.bias"], pad=0)))   # n 16 5 5
    h = h.reshape(h.shape[0], -1)                                         # n 400, (C,H,W) order
    h = sigmoid(h @ p["8.weight"].T + p["8.bias"])
    h = sigmoid(h @ p["10.weight"].T + p["10.bias"])
    return h @ p["12.weight"].T + p["12.bias"]


def zeros_state():
    return {name: np.zeros(shape, dtype=np.float32) for name, shape, _ in LENET_PARAMS}


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    params = pytorch_default_init(SEED)
    images, labels = load_split(os.path.join(ROOT, "data", "sample"), "t10k")
    x = np.ascontiguousarray(images[SAMPLE_INDICES])  # 8 1 28 28 float32 (= uint8 / 255)
    logits = lenet_forward_f64(params, x)

    tensors = dict(params)
    tensors["input"] = x
    tensors["logits"] = logits.astype(np.float32)
    tensors["logits_f64"] = logits
    path = os.path.join(OUT_DIR, "lenet_fixture.safetensors")
    save_file(tensors, path, metadata=METADATA)
    print(f"wrote {path}: labels of the input digits {labels[SAMPLE_INDICES].tolist()}")
    print("logits[0] =", np.array2string(logits[0], precision=6))

    bad = zeros_state()
    bad["1.weight"] = bad["1.weight"].astype(np.float64)
    save_file(bad, os.path.join(OUT_DIR, "lenet_bad_dtype.safetensors"), metadata=METADATA)

    bad = zeros_state()
    bad["4.weight"] = np.zeros((16, 6, 3, 3), dtype=np.float32)
    save_file(bad, os.path.join(OUT_DIR, "lenet_bad_shape.safetensors"), metadata=METADATA)

    bad = zeros_state()
    del bad["12.bias"]
    save_file(bad, os.path.join(OUT_DIR, "lenet_missing.safetensors"), metadata=METADATA)
    print("wrote lenet_bad_dtype / lenet_bad_shape / lenet_missing .safetensors")
    assert sorted(LENET_NAMES) == sorted(n for n, _, _ in LENET_PARAMS)


if __name__ == "__main__":
    main()
