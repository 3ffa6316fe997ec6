"""PyTorch reference for fmctl's AdamW and gradient clipping (docs/transformer.md,
"Training text models"). Writes Tests/Fixtures/torch/adamw.json, which ModelsTests loads.

Two parameter tensors, `kernel` (decayed) and `bias` (not decayed, a second parameter group
with weight_decay 0), start from fixed values; at every step the gradient is a fixed
sequence, clipped with torch.nn.utils.clip_grad_norm_(max_norm) over both tensors, then
torch.optim.AdamW steps (lr, betas, eps, weight_decay below). Everything is float64; the
inputs are chosen exactly representable in float32 (multiples of 1/64), so the Swift test
feeds the same values.

Run: python3 scripts/torch-reference/adamw.py
"""
import json
import os

import torch

torch.set_default_dtype(torch.float64)

LR, BETAS, EPS, WD, MAX_NORM, STEPS = 0.01, (0.9, 0.999), 1e-8, 0.1, 1.0, 6

kernel0 = [0.5, -0.25, 1.0, 0.75, -1.5, 0.125]
bias0 = [0.25, -0.5, 0.0]


def grad(step, n, offset):
    # Fixed, varied gradients: multiples of 1/64 in [-2, 2).
    return [((7 * (i + offset) + 13 * step) % 256 - 128) / 64.0 for i in range(n)]


kernel = torch.nn.Parameter(torch.tensor(kernel0))
bias = torch.nn.Parameter(torch.tensor(bias0))
opt = torch.optim.AdamW([{"params": [kernel], "weight_decay": WD}, {"params": [bias], "weight_decay": 0.0}],
                        lr=LR, betas=BETAS, eps=EPS)
steps = []
for step in range(STEPS):
    gk, gb = grad(step, len(kernel0), 0), grad(step, len(bias0), len(kernel0))
    kernel.grad = torch.tensor(gk)
    bias.grad = torch.tensor(gb)
    norm = torch.nn.utils.clip_grad_norm_([kernel, bias], MAX_NORM)
    opt.step()
    steps.append({"kernel_gradient": gk, "bias_gradient": gb, "norm": norm.item(),
                  "kernel": kernel.detach().tolist(), "bias": bias.detach().tolist()})

out = {"torch": torch.__version__, "lr": LR, "beta1": BETAS[0], "beta2": BETAS[1], "eps": EPS,
       "weight_decay": WD, "max_norm": MAX_NORM, "kernel": kernel0, "bias": bias0, "steps": steps}
path = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "torch", "adamw.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", os.path.normpath(path))
