"""fmctl's gpt-mini in PyTorch (CPU), for side-by-side timing and loss curves with fmctl.

Same shape, data handling and recipe as `fmctl train --model gpt-mini` (docs/transformer.md):
  byte-level (vocab 256); token embedding [256, D] + learned position embedding [T, D]
  (both normal, sd 0.02); N pre-LayerNorm blocks x = x + attn(ln1(x)); x = x + mlp(ln2(x))
  with one fused qkv Linear(D, 3D) (queries, keys, values in that order; head h takes
  features h*d..(h+1)*d of each), causal softmax(q k^T / sqrt(d)) v, output Linear(D, D),
  mlp Linear(D, 4D) -> exact GELU -> Linear(4D, D); final LayerNorm; untied head Linear(D, 256).
  Biases everywhere, LayerNorm eps 1e-5, no dropout. Init as fmctl/Keras: Glorot-uniform
  weights, zero biases, LayerNorm ones/zeros. D=128, 4 layers, T=64: 867,328 parameters.
  Attention is F.scaled_dot_product_attention(is_causal=True), PyTorch's fastest CPU path
  (a fused flash-attention kernel); the model runs in eager mode (no torch.compile).
Recipe (nanoGPT's small CPU preset): AdamW(betas (0.9, beta2), eps 1e-8), weight decay on
  Linear weights only (not biases, LayerNorm or embeddings), global gradient-norm clipping,
  linear warm-up (step s < warmup: lr (s+1)/(warmup+1)) then cosine decay to --min-lr at
  --steps, constant after (fmctl's LearningRateSchedule).
Data, as fmctl's --dataset: `fortunes` (the default) is the files of /usr/share/games/fortunes
  that have a `.dat` beside them; a PATH (or text:PATH) is a file, or a folder's regular files
  (not hidden, not symlinks), sorted by name and concatenated. Non-overlapping windows at
  stride T; the last 10 % of windows are validation (Keras's validation_split); the training
  windows are reshuffled at each pass and batches run on across passes (Keras's
  steps_per_epoch), so --steps is the number of optimiser steps.

Output: `EVAL step=... val_loss=... val_bpb=...` per eval point (nats and bits per byte over
every validation window) and a final `RESULT framework=pytorch ...` line (train_s: wall time
of the training steps only, evaluations excluded).

Usage: python torch_gpt.py [--steps 1000] [--eval-at 250,500,1000] [--batch-size 12]
       [--context 64] [--seed 0] [--threads 2] [--data fortunes|PATH] [--timing-only]
"""
import argparse
import math
import os
import resource
import time

import torch
from torch import nn
from torch.nn import functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--layers", type=int, default=4)
ap.add_argument("--heads", type=int, default=4)
ap.add_argument("--width", type=int, default=128)
ap.add_argument("--context", type=int, default=64)
ap.add_argument("--batch-size", type=int, default=12)
ap.add_argument("--steps", type=int, default=1000)
ap.add_argument("--eval-at", default="250,500,1000", help="comma-separated steps ('' for none)")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--data", default="fortunes", help="fortunes, or a file or folder (as fmctl's text:PATH)")
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--min-lr", type=float, default=1e-4)
ap.add_argument("--warmup", type=int, default=100)
ap.add_argument("--weight-decay", type=float, default=0.1)
ap.add_argument("--beta2", type=float, default=0.99)
ap.add_argument("--clip", type=float, default=1.0)
ap.add_argument("--timing-only", action="store_true", help="skip the evaluations")
ap.add_argument("--bf16", action="store_true",
                help="forward under torch.autocast('cpu', torch.bfloat16) (mixed precision; the comparison runs float32)")
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)
B, T, D = args.batch_size, args.context, args.width
if D % args.heads:
    ap.error(f"--width {D} is not divisible by --heads {args.heads}")
eval_at = sorted({int(s) for s in args.eval_at.split(",") if s.strip()})
if args.timing_only:
    eval_at = []
if any(s < 1 or s > args.steps for s in eval_at):
    ap.error(f"--eval-at {args.eval_at}: every step must be in 1...{args.steps}")


FORTUNES = "/usr/share/games/fortunes"


def read_bytes(dataset):
    """The corpus as fmctl's TextCorpus reads it: `fortunes` is the files of FORTUNES with a
    `.dat` (strfile index) beside them; a file is its bytes; a folder is its regular files,
    not hidden, not symlinks, in name order, concatenated."""
    fortunes = dataset == "fortunes"
    path = FORTUNES if fortunes else dataset[len("text:"):] if dataset.startswith("text:") else dataset
    if not os.path.isdir(path):
        with open(path, "rb") as f:
            return f.read(), [path]
    names = sorted(os.listdir(path))
    files = []
    for n in names:
        full = os.path.join(path, n)
        if n.startswith(".") or os.path.islink(full) or not os.path.isfile(full):
            continue
        if fortunes and (n.endswith(".dat") or n + ".dat" not in names):
            continue
        files.append(full)
    if not files:
        raise SystemExit(f"torch_gpt: {path}: the folder has no {'fortune' if fortunes else 'regular'} files")
    parts = []
    for full in files:
        with open(full, "rb") as f:
            parts.append(f.read())
    return b"".join(parts), files


raw, files = read_bytes(args.data)
count = (len(raw) - 1) // T
if count < 2:
    raise SystemExit(f"torch_gpt: {args.data}: {len(raw)} bytes is too few for context {T}")
data = torch.frombuffer(bytearray(raw), dtype=torch.uint8).long()
x_all = data[:count * T].view(count, T)          # window i: bytes[i*T : i*T+T]
y_all = data[1:count * T + 1].view(count, T)     # its targets: bytes[i*T+1 : i*T+T+1]
n_train = int(math.floor(count * 0.9))
x_tr, y_tr, x_val, y_val = x_all[:n_train], y_all[:n_train], x_all[n_train:], y_all[n_train:]


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)   # output features: queries, keys, values
        self.out = nn.Linear(width, width)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=-1)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)   # scale 1/sqrt(d)
        return self.out(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(width, eps=1e-5)
        self.attn = Attention(width, heads)
        self.ln2 = nn.LayerNorm(width, eps=1e-5)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, layers, heads, width, context, vocab=256):
        super().__init__()
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Parameter(torch.empty(context, width))
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(width, eps=1e-5)
        self.head = nn.Linear(width, vocab)
        nn.init.normal_(self.tok.weight, std=0.02)
        nn.init.normal_(self.pos, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)   # Glorot uniform over (fan_in, fan_out)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, idx):
        x = self.tok(idx) + self.pos[:idx.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


model = GPT(args.layers, args.heads, D, T)
n_params = sum(p.numel() for p in model.parameters())
decay = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
decay_ids = {id(p) for p in decay}
no_decay = [p for p in model.parameters() if id(p) not in decay_ids]
groups = [{"params": decay, "weight_decay": args.weight_decay},
          {"params": no_decay, "weight_decay": 0.0}]
opt_kw = dict(lr=args.lr, betas=(0.9, args.beta2), eps=1e-8)
try:
    opt = torch.optim.AdamW(groups, fused=True, **opt_kw)   # fused CPU kernel (torch >= 2.4)
    opt_kind = "fused"
except (RuntimeError, TypeError, ValueError):
    opt = torch.optim.AdamW(groups, **opt_kw)
    opt_kind = "default"


def learning_rate(step):
    """The rate of the 0-based step `step`, as fmctl's LearningRateSchedule and nanoGPT's
    get_lr: linear warm-up lr * (step + 1) / (warmup + 1), then a cosine from lr to min-lr
    at step --steps, constant after."""
    if step < args.warmup:
        return args.lr * (step + 1) / (args.warmup + 1)
    if step >= args.steps:
        return args.min_lr
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (args.lr - args.min_lr)


def evaluate():
    """Mean cross-entropy in nats per byte over every validation window."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x_val), B):
            logits = model(x_val[i:i + B])
            total += F.cross_entropy(logits.reshape(-1, 256), y_val[i:i + B].reshape(-1),
                                     reduction="sum").item()
    model.train()
    return total / y_val.numel()


def batches():
    """Batches of training windows, reshuffled at each pass, endlessly (a pass's last batch
    may be short, as in Keras)."""
    gen = torch.Generator().manual_seed(args.seed)
    while True:
        perm = torch.randperm(n_train, generator=gen)
        for i in range(0, n_train, B):
            yield perm[i:i + B]


print(f"torch {torch.__version__}  threads {torch.get_num_threads()}  AdamW {opt_kind}")
print(f"data {args.data}: {len(files)} file(s), {len(raw):,} bytes, {count:,} windows of {T} "
      f"({n_train:,} training, {count - n_train:,} validation)")
print(f"model gpt-mini: {args.layers} layers, {args.heads} heads, width {D}, context {T}: "
      f"{n_params:,} parameters", flush=True)

model.train()
stream = batches()
tokens, eval_s, loss_sum, loss_n = 0, 0.0, 0.0, 0
t_start = time.perf_counter()
for step in range(args.steps):
    idx = next(stream)
    xb, yb = x_tr[idx], y_tr[idx]
    for g in opt.param_groups:
        g["lr"] = learning_rate(step)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
        logits = model(xb)
    loss = F.cross_entropy(logits.float().reshape(-1, 256), yb.reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if args.clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
    opt.step()
    tokens += yb.numel()
    loss_sum += loss.item()
    loss_n += 1
    if step + 1 in eval_at:
        t0 = time.perf_counter()
        vloss = evaluate()
        eval_s += time.perf_counter() - t0
        print(f"EVAL step={step + 1} val_loss={vloss:.4f} val_bpb={vloss / math.log(2):.4f} "
              f"train_loss={loss_sum / loss_n:.4f}", flush=True)
        loss_sum, loss_n = 0.0, 0
train_s = time.perf_counter() - t_start - eval_s
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KB on Linux
print(f"RESULT framework=pytorch batch={B} context={T} steps={args.steps} train_s={train_s:.3f} "
      f"tokens_per_s={tokens / train_s:.1f} peak_rss_mb={peak_mb:.1f} params={n_params}")
