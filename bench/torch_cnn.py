"""The seed's CNN in PyTorch (CPU), for side-by-side timing with fmctl and Keras.

Same model, optimiser and data handling as the Keras reference (docs/keras-parity.md):
  Conv2d(1, 32, 3) relu -> MaxPool2d(2) -> Flatten -> Linear(5408, 128) relu -> Linear(128, 10)
  Adam (lr 1e-3, betas 0.9/0.999, eps 1e-7 as Keras), cross-entropy on logits (softmax fused),
  batch 32, validation = the last 10% before shuffling, training part shuffled every epoch.
Data: the Debian package dataset-fashion-mnist's IDX files, pixels / 255.

Usage: python torch_cnn.py [--epochs 5] [--seed 0] [--threads 2] [--data-dir DIR]
"""
import argparse
import gzip
import os
import struct
import time

import numpy as np
import torch
from torch import nn

ap = argparse.ArgumentParser()
ap.add_argument("--epochs", type=int, default=5)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)
np.random.seed(args.seed)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    _, _, ndim = struct.unpack(">HBB", data[:4])
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def p(name):
    return os.path.join(args.data_dir, name)


x = torch.from_numpy(read_idx(p("train-images-idx3-ubyte.gz")).astype(np.float32) / 255.0)[:, None]
y = torch.from_numpy(read_idx(p("train-labels-idx1-ubyte.gz")).astype(np.int64))
xt = torch.from_numpy(read_idx(p("t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255.0)[:, None]
yt = torch.from_numpy(read_idx(p("t10k-labels-idx1-ubyte.gz")).astype(np.int64))
split = int(np.floor(len(x) * 0.9))
xtr, ytr, xv, yv = x[:split], y[:split], x[split:], y[split:]

model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(32 * 13 * 13, 128), nn.ReLU(), nn.Linear(128, 10))
for m in model:
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)
opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
loss_fn = nn.CrossEntropyLoss()


def evaluate(xs, ys):
    model.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(xs), 32):
            out = model(xs[i:i + 32])
            total += loss_fn(out, ys[i:i + 32]).item() * len(out)
            correct += (out.argmax(1) == ys[i:i + 32]).sum().item()
    return total / len(xs), correct / len(xs)


print(f"torch {torch.__version__}  threads {torch.get_num_threads()}")
rows = []
t_fit = time.perf_counter()
for epoch in range(args.epochs):
    model.train()
    t0 = time.perf_counter()
    perm = torch.randperm(len(xtr))
    seen, loss_sum, correct = 0, 0.0, 0
    for i in range(0, len(xtr), 32):
        idx = perm[i:i + 32]
        out = model(xtr[idx])
        loss = loss_fn(out, ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(idx)
        loss_sum += loss.item() * len(idx)
        correct += (out.argmax(1) == ytr[idx]).sum().item()
    t1 = time.perf_counter()
    vloss, vacc = evaluate(xv, yv)
    t2 = time.perf_counter()
    rows.append((epoch + 1, t2 - t0, t1 - t0, t2 - t1, correct / seen, vacc, loss_sum / seen, vloss))
    print(f"epoch {epoch + 1}: {t2 - t0:.2f} s  accuracy {correct / seen:.4f}  val_accuracy {vacc:.4f}", flush=True)
t_fit = time.perf_counter() - t_fit
test_loss, test_acc = evaluate(xt, yt)
print()
print(f"RESULT framework=pytorch train_samples={split} batch=32")
print("epoch  epoch_s  train_s  val_s  train_samples/s  train_acc  val_acc  loss    val_loss")
for ep, total, train, val, acc, vacc, loss, vloss in rows:
    print(f"{ep:5d}  {total:7.2f}  {train:7.2f}  {val:5.2f}  {split / train:15.0f}  "
          f"{acc:9.4f}  {vacc:7.4f}  {loss:.4f}  {vloss:.4f}")
print(f"test_acc {test_acc:.4f}  test_loss {test_loss:.4f}")
print(f"total training time (incl. validation) {t_fit:.2f} s")
