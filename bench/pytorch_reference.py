"""Python PyTorch reference for `npm run bench`: any registry architecture, given by its model.py.

It trains one epoch the way fmnist's PyTorch engine does (src/engines/pytorch.ts and the loop in src/train/loop.ts):
Adam, cross-entropy, shuffled batches with the last one partial, one optimizer step per batch, and the batch's loss
and correct count read back each step. Or, with --infer, it times inference in eval() and no_grad() (softmax
included, as fmnist's predictProbs does) at batch 1 and batch 256.

usage:
  python3 bench/pytorch_reference.py --model-py src/models/cnn.py [--threads 2] [--batch-size 64] [--limit N]
  python3 bench/pytorch_reference.py --model-py src/models/cnn.py --infer [--seconds 3] [--threads 2]
  python3 bench/pytorch_reference.py --probe
The epoch prints one JSON line {"seconds", "images", "loss", "accuracy", "torch", "threads", "blas"}; --infer
prints {"batch1", "batch256"} in images per second; --probe prints only {"torch", "blas"}. "blas" is the BLAS
library this process loaded (from /proc/self/maps), so a run under LD_LIBRARY_PATH says whether it took.
"""
import argparse, gzip, json, os, time

import numpy as np
import torch
import torch.nn as nn


def read(path, offset):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def find(data_dir, name):
    for p in (os.path.join(data_dir, name + ".gz"), os.path.join(data_dir, name)):
        if os.path.exists(p):
            return p
    raise SystemExit(f"{data_dir}: {name} not found")


def blas():
    """The BLAS libraries mapped into this process (after a matrix product has run)."""
    a = torch.ones(64, 64)
    torch.mm(a, a)
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if ".so" in line}
    keys = ("blas", "blis", "mkl_rt", "libmkl", "atlas")
    return sorted(p for p in libs if any(k in os.path.basename(p) for k in keys) and "lapack" not in p)


def build_model(path):
    scope = {"__name__": "model"}
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), scope)
    return scope["build"]()


def epoch(args):
    images = read(find(args.data_dir, "train-images-idx3-ubyte"), 16).reshape(-1, 1, 28, 28)
    labels = read(find(args.data_dir, "train-labels-idx1-ubyte"), 8)
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    x_all = torch.from_numpy(images.astype(np.float32) / 255.0)
    y_all = torch.from_numpy(labels.astype(np.int64))

    model = build_model(args.model_py)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    model.train()
    n = len(y_all)
    perm = torch.randperm(n)
    total, correct = 0.0, 0
    t0 = time.perf_counter()
    for i in range(0, n, args.batch_size):
        idx = perm[i : i + args.batch_size]
        x, y = x_all[idx], y_all[idx]
        opt.zero_grad()
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
        with torch.no_grad():
            correct += (logits.argmax(1) == y).sum().item()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "images": n, "loss": total / n, "accuracy": correct / n}


def rate(fn, batch, seconds, warmup):
    for _ in range(warmup):
        fn()
    calls, t0 = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and calls >= 3:
            return calls * batch / elapsed


def infer(args):
    model = build_model(args.model_py)
    model.eval()
    x = torch.rand(256, 1, 28, 28)
    out = {}
    with torch.no_grad():
        for batch in (1, 256):
            xb = x[:batch]
            out[f"batch{batch}"] = rate(lambda: model(xb).softmax(1).numpy(), batch, args.seconds, 5 if batch == 1 else 1)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-py", help="the registry's model.py (defines build())")
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--infer", action="store_true", help="time inference at batch 1 and 256 instead of an epoch")
    ap.add_argument("--seconds", type=float, default=3.0, help="--infer: time each batch size this long")
    ap.add_argument("--probe", action="store_true", help="print the torch version and the BLAS loaded, and exit")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas()}
    if args.probe:
        print(json.dumps(info))
        return
    if not args.model_py:
        ap.error("--model-py is required")
    result = infer(args) if args.infer else epoch(args)
    print(json.dumps({**result, **info}))


if __name__ == "__main__":
    main()
