"""PyTorch float64 reference for fmctl's LowRankDense (docs/compress.md).

y = softmax(x @ U @ V + b), sparse categorical cross-entropy averaged over the batch; writes
the output probabilities, the loss and the gradients of U, V and b to
Tests/Fixtures/torch/low_rank_dense.json. Inputs are closed-form (no RNG), so the Swift test
rebuilds them exactly: python3 scripts/torch-reference/low_rank_dense.py
"""
import json
import math
import os

import torch

B, IN, R, OUT = 3, 5, 2, 4
x = torch.tensor([[math.sin(0.7 * i + 0.3 * j + 0.1) for j in range(IN)] for i in range(B)], dtype=torch.float64)
u = torch.tensor([[0.4 * math.cos(0.5 * i - 0.2 * j) for j in range(R)] for i in range(IN)], dtype=torch.float64, requires_grad=True)
v = torch.tensor([[0.3 * math.sin(0.9 * i + 0.4 * j + 0.2) for j in range(OUT)] for i in range(R)], dtype=torch.float64, requires_grad=True)
b = torch.tensor([0.1 * (j - 1.5) for j in range(OUT)], dtype=torch.float64, requires_grad=True)
labels = torch.tensor([0, 3, 1])

logits = x @ u @ v + b
loss = torch.nn.functional.cross_entropy(logits, labels)
loss.backward()

out = {
    "shape": {"batch": B, "in": IN, "rank": R, "units": OUT},
    "labels": labels.tolist(),
    "probabilities": torch.softmax(logits, dim=1).detach().flatten().tolist(),
    "loss": loss.item(),
    "grad_kernel_u": u.grad.flatten().tolist(),
    "grad_kernel_v": v.grad.flatten().tolist(),
    "grad_bias": b.grad.flatten().tolist(),
}
path = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "torch", "low_rank_dense.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", os.path.normpath(path))
