"""Python PyTorch reference for `npm run bench`: one training epoch of the seed models,
written the way pytorch/examples' mnist/main.py would, on the same data and settings as
fmnist's PyTorch implementation (Adam 1e-3, batch 64, shuffled, cross-entropy).

usage: python3 bench/pytorch_reference.py --model cnn|dense --data-dir DIR [--threads 2] [--limit N]
prints one JSON line: {"model", "seconds", "images", "loss", "torch"}
"""
import argparse, gzip, json, os, time

import numpy as np
import torch
import torch.nn as nn

MODELS = {
    "dense": lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2),
                                   nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 10)),
    "cnn": lambda: nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                                 nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Dropout(0.5),
                                 nn.Linear(128, 10)),
}


def read(path, offset):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def find(data_dir, name):
    for p in (os.path.join(data_dir, name + ".gz"), os.path.join(data_dir, name)):
        if os.path.exists(p):
            return p
    raise SystemExit(f"{data_dir}: {name} not found")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=MODELS, required=True)
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = read(find(args.data_dir, "train-images-idx3-ubyte"), 16).reshape(-1, 1, 28, 28)
    labels = read(find(args.data_dir, "train-labels-idx1-ubyte"), 8)
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    x_all = torch.from_numpy(images.astype(np.float32) / 255.0)
    y_all = torch.from_numpy(labels.astype(np.int64))

    model = MODELS[args.model]()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    n = len(y_all)
    perm = torch.randperm(n)
    total = 0.0
    t0 = time.perf_counter()
    for i in range(0, n, args.batch_size):
        idx = perm[i : i + args.batch_size]
        x, y = x_all[idx], y_all[idx]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
    seconds = time.perf_counter() - t0
    print(json.dumps({"model": args.model, "seconds": seconds, "images": n, "loss": total / n, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
