"""Shared pieces of the LeNet scripts: IDX reading, the state_dict layout, PyTorch's init rule.

The forward passes are NOT shared: make_lenet_fixture.py and train_lenet_numpy.py each have
their own, written differently (loops over kernel offsets in float64 vs im2col/einsum in float32),
so each checks the other.
"""

import os
import struct

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (name, shape, fan_in) of the course LeNet as a PyTorch nn.Sequential:
#   0 Reshape, 1 Conv2d(1,6,5,padding=2), 2 Sigmoid, 3 AvgPool2d(2,2), 4 Conv2d(6,16,5),
#   5 Sigmoid, 6 AvgPool2d(2,2), 7 Flatten, 8 Linear(400,120), 9 Sigmoid, 10 Linear(120,84),
#   11 Sigmoid, 12 Linear(84,10)
LENET_PARAMS = [
    ("1.weight", (6, 1, 5, 5), 1 * 5 * 5),
    ("1.bias", (6,), 1 * 5 * 5),
    ("4.weight", (16, 6, 5, 5), 6 * 5 * 5),
    ("4.bias", (16,), 6 * 5 * 5),
    ("8.weight", (120, 400), 400),
    ("8.bias", (120,), 400),
    ("10.weight", (84, 120), 120),
    ("10.bias", (84,), 120),
    ("12.weight", (10, 84), 84),
    ("12.bias", (10,), 84),
]
LENET_NAMES = [name for name, _, _ in LENET_PARAMS]


def pytorch_default_init(seed):
    """float32 LeNet parameters drawn like PyTorch's defaults for Conv2d/Linear:
    weight and bias ~ uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a=sqrt(5)
    gives exactly this bound for weights). Uses numpy's PCG64 generator, so it is
    deterministic for a seed but not the same numbers as torch.manual_seed."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape, fan_in in LENET_PARAMS:
        bound = 1.0 / np.sqrt(fan_in)
        params[name] = rng.uniform(-bound, bound, size=shape).astype(np.float32)
    return params


def read_idx_images(path):
    """IDX images (magic 0x803) -> uint8 array N x 28 x 28."""
    with open(path, "rb") as f:
        raw = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != 0x803:
        raise ValueError(f"{path}: bad magic {magic:#x}")
    if len(raw) != 16 + n * rows * cols:
        raise ValueError(f"{path}: size mismatch")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows, cols)


def read_idx_labels(path):
    """IDX labels (magic 0x801) -> uint8 array N."""
    with open(path, "rb") as f:
        raw = f.read()
    magic, n = struct.unpack(">II", raw[:8])
    if magic != 0x801:
        raise ValueError(f"{path}: bad magic {magic:#x}")
    if len(raw) != 8 + n:
        raise ValueError(f"{path}: size mismatch")
    return np.frombuffer(raw, dtype=np.uint8, offset=8)


def load_split(directory, prefix):
    """(images float32 N x 1 x 28 x 28 scaled to 0..1 like ToTensor, labels int64 N)."""
    x = read_idx_images(os.path.join(directory, f"{prefix}-images-idx3-ubyte"))
    y = read_idx_labels(os.path.join(directory, f"{prefix}-labels-idx1-ubyte"))
    if len(x) != len(y):
        raise ValueError(f"{directory}/{prefix}: {len(x)} images but {len(y)} labels")
    return (x.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28), y.astype(np.int64)
