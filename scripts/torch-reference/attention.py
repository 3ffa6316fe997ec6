#!/usr/bin/env python3
"""PyTorch float64 reference for MultiHeadAttention (docs/transformer.md): writes
Tests/Fixtures/torch/attention.json. B=2, T=5, D=8, H=2; the layer's layout (qkv = x
qkv_kernel + qkv_bias, queries/keys/values in column blocks of D, head h in columns
h*d..<(h+1)*d of each); the attention core through torch's own
scaled_dot_product_attention. Inputs are rounded to float32 first so that the Swift test
feeds exactly the same values. Run: python3 scripts/torch-reference/attention.py"""
import json
import os

import torch
import torch.nn.functional as F

B, T, D, H = 2, 5, 8, 2
d = D // H
torch.manual_seed(20261130)


def f32(shape, scale=1.0):
    return (torch.randn(*shape) * scale).to(torch.float32).to(torch.float64)


x = f32((B, T, D))
qkv_kernel = f32((D, 3 * D), 0.4)
qkv_bias = f32((3 * D,), 0.1)
output_kernel = f32((D, D), 0.4)
output_bias = f32((D,), 0.1)
dy = f32((B, T, D))


def run(causal):
    leaves = [t.clone().requires_grad_(True) for t in (x, qkv_kernel, qkv_bias, output_kernel, output_bias)]
    xx, wqkv, bqkv, wo, bo = leaves
    qkv = xx @ wqkv + bqkv  # (B, T, 3D)
    q, k, v = qkv.split(D, dim=-1)

    def heads(t):
        return t.reshape(B, T, H, d).transpose(1, 2)  # (B, H, T, d)

    o = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=causal)
    y = o.transpose(1, 2).reshape(B, T, D) @ wo + bo
    y.backward(dy)
    grads = {n: t.grad for n, t in zip(["x", "qkv_kernel", "qkv_bias", "output_kernel", "output_bias"], leaves)}
    return {"y": y.detach().flatten().tolist(), **{"d_" + n: g.flatten().tolist() for n, g in grads.items()}}


out = {
    "batch": B, "length": T, "width": D, "heads": H,
    "x": x.flatten().tolist(),
    "qkv_kernel": qkv_kernel.flatten().tolist(),
    "qkv_bias": qkv_bias.flatten().tolist(),
    "output_kernel": output_kernel.flatten().tolist(),
    "output_bias": output_bias.flatten().tolist(),
    "dy": dy.flatten().tolist(),
    "bidirectional": run(False),
    "causal": run(True),
    "torch": torch.__version__,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "Fixtures", "torch", "attention.json")
with open(path, "w") as f:
    json.dump(out, f, indent=None, separators=(",", ":"))
    f.write("\n")
print("wrote", os.path.normpath(path))
