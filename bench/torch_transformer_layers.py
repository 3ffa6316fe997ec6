#!/usr/bin/env python3
"""The position-wise half of a transformer block in PyTorch (CPU, float32), timed as
`fmctl-bench --transformer-layers` times fmctl's layers (docs/transformer.md):
x [B, T, D] -> LayerNorm(eps 1e-3) -> Linear(D, 4D) -> GELU -> Linear(4D, D) -> + x,
forward and backward of every gradient, best of 10 after a warm-up."""
import argparse
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
args = p.parse_args()
torch.set_num_threads(args.threads)
B, T, D = 16, 128, 128
torch.manual_seed(1)
ln = torch.nn.LayerNorm(D, eps=1e-3)
up, down = torch.nn.Linear(D, 4 * D), torch.nn.Linear(4 * D, D)
x = torch.randn(B, T, D, requires_grad=True)
dy = torch.randn(B, T, D)


def step():
    for m in (ln, up, down):
        m.zero_grad(set_to_none=True)
    x.grad = None
    y = down(torch.nn.functional.gelu(up(ln(x)))) + x
    y.backward(dy)


def best(n, body):
    body()
    b = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        body()
        b = min(b, time.perf_counter() - t0)
    return b


s = best(10, step)


def ln_step():
    x.grad = None
    ln.zero_grad(set_to_none=True)
    ln(x).backward(dy)


flops = 3 * 2 * 2 * B * T * D * 4 * D
print(f"torch {torch.__version__} {args.threads} thread(s), MLP half B={B} T={T} D={D}: forward+backward "
      f"{s * 1e3:.2f} ms ({flops / s / 1e9:.1f} GFLOP/s of GEMM); LayerNorm forward+backward {best(10, ln_step) * 1e3:.3f} ms")
