#!/usr/bin/env python3
"""Interim LeNet weights trained in numpy, until `convkit lenet train` exists (issue 8).

Trains the course's LeNet exactly as in the brief (sigmoid, average pooling) on the training
split of data/mnist/ (run scripts/fetch-mnist.sh first) and evaluates on the test split after
every epoch. Recipe of the brief: Adam (lr 2e-3, betas 0.9/0.999, eps 1e-8, no weight decay),
batch 64, softmax cross-entropy, PyTorch's default init, a fresh shuffle each epoch, all seeded.
Everything is float32 except the optional gradient check (float64).
The weights of the LAST epoch are saved (no selection on the test split) as a PyTorch
state_dict safetensors (`1.weight` ... `12.bias`) loadable by torch and by convkit.

  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 scripts/train_lenet_numpy.py \
      --epochs 30 --out weights/lenet.safetensors --log weights/lenet-numpy-train.log
  python3 scripts/train_lenet_numpy.py --gradcheck     # finite-difference check of the backward

Internally activations are NHWC (cheap im2col via sliding windows); the flatten before the
first linear layer transposes to (C,H,W) order so the weights mean what they mean in PyTorch.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lenet_common import LENET_NAMES, ROOT, load_split, pytorch_default_init  # noqa: E402


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def im2col(x_nhwc, r, s):
    """N,H,W,C -> (N*P*Q, C*r*s) patches in (c, i, j) order, matching an OIHW weight row."""
    n, h, w, c = x_nhwc.shape
    win = sliding_window_view(x_nhwc, (r, s), axis=(1, 2))  # N P Q C r s
    p, q = h - r + 1, w - s + 1
    return np.ascontiguousarray(win).reshape(n * p * q, c * r * s), (n, p, q)


def col2im(dcols, shape, r, s):
    """Adjoint of im2col: (N*P*Q, C*r*s) -> N,H,W,C."""
    n, h, w, c = shape
    p, q = h - r + 1, w - s + 1
    d = dcols.reshape(n, p, q, c, r, s)
    dx = np.zeros(shape, dtype=dcols.dtype)
    for i in range(r):
        for j in range(s):
            dx[:, i:i + p, j:j + q, :] += d[:, :, :, :, i, j]
    return dx


def avgpool2(x):  # N H W C
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def avgpool2_backward(dy):
    dx = np.repeat(np.repeat(dy, 2, axis=1), 2, axis=2)
    return dx * dx.dtype.type(0.25)


def forward(params, x_nchw, keep=False):
    """Logits (N,10). With keep=True also returns what backward needs."""
    p = params
    n = x_nchw.shape[0]
    x = np.pad(x_nchw.reshape(n, 28, 28, 1), ((0, 0), (2, 2), (2, 2), (0, 0)))
    cols1, _ = im2col(x, 5, 5)                                     # N*784, 25
    a1 = sigmoid(cols1 @ p["1.weight"].reshape(6, 25).T + p["1.bias"]).reshape(n, 28, 28, 6)
    p1 = avgpool2(a1)                                              # N 14 14 6
    cols2, _ = im2col(p1, 5, 5)                                    # N*100, 150
    a2 = sigmoid(cols2 @ p["4.weight"].reshape(16, 150).T + p["4.bias"]).reshape(n, 10, 10, 16)
    p2 = avgpool2(a2)                                              # N 5 5 16
    f = p2.transpose(0, 3, 1, 2).reshape(n, 400)                   # (C,H,W) flatten
    h1 = sigmoid(f @ p["8.weight"].T + p["8.bias"])
    h2 = sigmoid(h1 @ p["10.weight"].T + p["10.bias"])
    logits = h2 @ p["12.weight"].T + p["12.bias"]
    if not keep:
        return logits
    return logits, (cols1, a1, p1, cols2, a2, f, h1, h2)


def loss_and_grads(params, x, y):
    """Mean softmax cross-entropy over the batch, its gradients and the logits."""
    p = params
    n = x.shape[0]
    logits, (cols1, a1, p1, cols2, a2, f, h1, h2) = forward(params, x, keep=True)
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(n), y]))
    dlogits = e / s
    dlogits[np.arange(n), y] -= 1
    dlogits /= n

    g = {}
    g["12.weight"] = dlogits.T @ h2
    g["12.bias"] = dlogits.sum(axis=0)
    dz = (dlogits @ p["12.weight"]) * h2 * (1 - h2)
    g["10.weight"] = dz.T @ h1
    g["10.bias"] = dz.sum(axis=0)
    dz = (dz @ p["10.weight"]) * h1 * (1 - h1)
    g["8.weight"] = dz.T @ f
    g["8.bias"] = dz.sum(axis=0)
    df = dz @ p["8.weight"]                                        # N 400 (C,H,W)
    dp2 = df.reshape(n, 16, 5, 5).transpose(0, 2, 3, 1)            # N 5 5 16
    dz2 = (avgpool2_backward(dp2) * a2 * (1 - a2)).reshape(n * 100, 16)
    g["4.weight"] = (dz2.T @ cols2).reshape(16, 6, 5, 5)
    g["4.bias"] = dz2.sum(axis=0)
    dp1 = col2im(dz2 @ p["4.weight"].reshape(16, 150), p1.shape, 5, 5)  # N 14 14 6
    dz1 = (avgpool2_backward(dp1) * a1 * (1 - a1)).reshape(n * 784, 6)
    g["1.weight"] = (dz1.T @ cols1).reshape(6, 1, 5, 5)
    g["1.bias"] = dz1.sum(axis=0)
    return loss, g, logits


class Adam:
    """torch.optim.Adam's update (amsgrad off, no weight decay)."""

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr, (self.b1, self.b2), self.eps = lr, betas, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params, grads):
        self.t += 1
        c1 = 1 - self.b1 ** self.t
        c2 = 1 - self.b2 ** self.t
        for k in params:
            g = grads[k]
            self.m[k] = self.b1 * self.m[k] + (1 - self.b1) * g
            self.v[k] = self.b2 * self.v[k] + (1 - self.b2) * g * g
            denom = np.sqrt(self.v[k] / np.float32(c2)) + np.float32(self.eps)
            params[k] -= np.float32(self.lr / c1) * self.m[k] / denom


def accuracy(params, x, y, batch=500):
    correct = 0
    for i in range(0, len(x), batch):
        correct += int((forward(params, x[i:i + batch]).argmax(axis=1) == y[i:i + batch]).sum())
    return correct / len(x)


def gradcheck(seed=1):
    """Central finite differences in float64 for a few entries of every parameter."""
    rng = np.random.default_rng(seed)
    params = {k: v.astype(np.float64) for k, v in pytorch_default_init(seed).items()}
    x = rng.uniform(0, 1, size=(3, 1, 28, 28))
    y = np.array([1, 7, 3])
    _, g, _ = loss_and_grads(params, x, y)
    worst = 0.0
    for name in LENET_NAMES:
        flat = params[name].reshape(-1)
        for idx in rng.choice(flat.size, size=min(5, flat.size), replace=False):
            old = flat[idx]
            h = 1e-5
            flat[idx] = old + h
            lp, _, _ = loss_and_grads(params, x, y)
            flat[idx] = old - h
            lm, _, _ = loss_and_grads(params, x, y)
            flat[idx] = old
            num = (lp - lm) / (2 * h)
            ana = g[name].reshape(-1)[idx]
            rel = abs(num - ana) / max(1e-8, abs(num) + abs(ana))
            worst = max(worst, rel)
            print(f"{name:10s}[{idx:5d}] numeric {num:+.8e} analytic {ana:+.8e} rel {rel:.1e}")
    print(f"worst relative error {worst:.2e}")
    return worst < 1e-5


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "mnist"))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(ROOT, "weights", "lenet.safetensors"))
    ap.add_argument("--log", default=os.path.join(ROOT, "weights", "lenet-numpy-train.log"))
    ap.add_argument("--gradcheck", action="store_true", help="only run the gradient check")
    args = ap.parse_args()

    if args.gradcheck:
        sys.exit(0 if gradcheck() else 1)

    x_train, y_train = load_split(args.data, "train")
    x_test, y_test = load_split(args.data, "t10k")
    params = pytorch_default_init(args.seed)
    opt = Adam(params, args.lr)
    rng = np.random.default_rng(args.seed + 1)

    os.makedirs(os.path.dirname(os.path.abspath(args.log)), exist_ok=True)
    log = open(args.log, "w", encoding="utf-8")

    def out(line):
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    out(f"# scripts/train_lenet_numpy.py --epochs {args.epochs} --batch {args.batch} "
        f"--lr {args.lr} --seed {args.seed}")
    out(f"# numpy {np.__version__}, float32, Adam, train {len(x_train)} / test {len(x_test)} "
        f"digits (data/mnist, split of docs/data.md), threads OMP={os.environ['OMP_NUM_THREADS']}")
    # train_loss / train_acc: running means over the epoch's minibatches (weights change
    # during the epoch); test_acc: the whole test split after the epoch; seconds and
    # images_per_s: the training steps only.
    out("epoch  train_loss  train_acc  test_acc  seconds  images_per_s")
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(len(x_train))
        total, correct, seen = 0.0, 0, 0
        for i in range(0, len(order), args.batch):
            idx = order[i:i + args.batch]
            xb, yb = x_train[idx], y_train[idx]
            loss, grads, logits = loss_and_grads(params, xb, yb)
            opt.step(params, grads)
            total += loss * len(idx)
            correct += int((logits.argmax(axis=1) == yb).sum())
            seen += len(idx)
        secs = time.perf_counter() - t0
        test_acc = accuracy(params, x_test, y_test)
        out(f"{epoch:5d}  {total / seen:10.4f}  {correct / seen:9.4f}  {test_acc:8.4f}  {secs:7.2f}  "
            f"{seen / secs:12.0f}")
    out(f"# total {time.perf_counter() - start:.1f} s; final test accuracy {test_acc:.4f} "
        f"({round(test_acc * len(x_test))}/{len(x_test)}); saved the last epoch's weights")
    for k in params:
        assert params[k].dtype == np.float32
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_file({k: np.ascontiguousarray(params[k]) for k in LENET_NAMES}, args.out,
              metadata={"format": "pt"})
    out(f"# wrote {os.path.relpath(args.out, ROOT)}")


if __name__ == "__main__":
    main()
