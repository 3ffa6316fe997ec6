#!/usr/bin/env python3
"""PyTorch float64 reference values of the position-wise transformer layers
(docs/transformer.md), written to Tests/Fixtures/torch/layers.json for ModelsTests.

Each case holds its inputs (float32 values, so that the Swift tests start from the very same
numbers), a fixed upstream gradient `dy`, and the forward output and the gradients with
respect to the input and to each parameter, computed in float64. Shapes are per batch:
B=2 samples, T=5 positions, D=8 features. Parameters are named as in the model JSON
(`embeddings`, `gamma`, `beta`, `kernel`, `bias`); a Dense kernel is stored [in, out] as
Keras does (PyTorch's Linear weight transposed).

Run once with `python3 scripts/torch-reference/layers.py` from the repository root.
"""
import json
import math
import os

import torch

B, T, D, UNITS, VOCAB, SEQ = 2, 5, 8, 6, 11, 7
gen = torch.Generator().manual_seed(20261130)


def f32(shape, scale=1.0):
    """Normal values rounded to float32, returned as float64 (exact)."""
    return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).float().double()


def short(v):
    """9 significant digits: exact for the float32 inputs, and far below the tests' tolerance
    (1e-5 + 1e-4 relative) for the float64 results."""
    return float("%.9g" % v)


def flat(t):
    return [short(v) for v in t.detach().reshape(-1).tolist()]


def run(fn, inputs, params, dy):
    """Forward, then backward of sum(y * dy); gradients of every input and parameter."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in {**inputs, **params}.items()}
    y = fn(**leaves)
    (y * dy).sum().backward()
    out = {"y": flat(y), "dy": flat(dy)}
    for k, v in inputs.items():
        out[k] = flat(v)
        out["d_" + k] = flat(leaves[k].grad)
    for k, v in params.items():
        out[k] = flat(v)
        out["d_" + k] = flat(leaves[k].grad)
    return out


cases = {}

x = f32((B, T, D), 1.5) + 0.25
gamma = 1 + f32((D,), 0.3)
beta = f32((D,), 0.3)
dy = f32((B, T, D))
cases["layer_normalization"] = {
    "epsilon": 1e-3, "shape": [B, T, D],
    **run(lambda x, gamma, beta: torch.nn.functional.layer_norm(x, (D,), gamma, beta, eps=1e-3),
          {"x": x}, {"gamma": gamma, "beta": beta}, dy),
}

for name, approx in [("gelu", "none"), ("gelu_tanh", "tanh")]:
    x = f32((B, T, D), 2.0)
    dy = f32((B, T, D))
    cases[name] = {"shape": [B, T, D],
                   **run(lambda x: torch.nn.functional.gelu(x, approximate=approx), {"x": x}, {}, dy)}

for name, approx in [("dense_gelu", "none"), ("dense_gelu_tanh", "tanh"), ("dense_linear", None)]:
    x = f32((B, T, D))
    kernel = f32((D, UNITS), 1 / math.sqrt(D))
    bias = f32((UNITS,), 0.2)
    dy = f32((B, T, UNITS))

    def dense(x, kernel, bias, approx=approx):
        z = x @ kernel + bias
        return z if approx is None else torch.nn.functional.gelu(z, approximate=approx)

    cases[name] = {"shape": [B, T, D], "units": UNITS,
                   "activation": {"none": "gelu", "tanh": "gelu_tanh", None: "linear"}[approx],
                   **run(dense, {"x": x}, {"kernel": kernel, "bias": bias}, dy)}

# Token ids with repeats (3 appears three times), the first and last rows of the table.
ids = torch.tensor([[3, 0, 10, 3, 7], [1, 3, 10, 2, 5]], dtype=torch.long)
table = f32((VOCAB, D), 0.5)
dy = f32((B, T, D))
leaf = table.clone().requires_grad_(True)
y = torch.nn.functional.embedding(ids, leaf)
(y * dy).sum().backward()
cases["embedding"] = {"input_dim": VOCAB, "output_dim": D, "shape": [B, T],
                      "ids": [float(v) for v in ids.reshape(-1).tolist()], "embeddings": flat(table),
                      "dy": flat(dy), "y": flat(y), "d_embeddings": flat(leaf.grad)}

x = f32((B, T, D))
table = f32((SEQ, D), 0.5)
dy = f32((B, T, D))
cases["position_embedding"] = {"sequence_length": SEQ, "shape": [B, T, D],
                               **run(lambda x, embeddings: x + embeddings[:T], {"x": x}, {"embeddings": table}, dy)}

out = {"torch_version": torch.__version__, "dtype": "float64", "cases": cases}
path = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "torch", "layers.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
    f.write("\n")
print("wrote", os.path.normpath(path))
