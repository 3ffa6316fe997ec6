#!/usr/bin/env python3
"""fmctl's gpt-mini against its PyTorch reference (bench/torch_gpt.py), on the same bytes
(Debian's fortunes), shape and recipe. Python's standard library only.

Speed: for each shape (batch 12 x context 64, batch 32 x context 128), fmctl and PyTorch
alternated A B A B (2 pairs, so that drift on a shared machine hits both alike), --steps
training steps each, each run its own process: tokens/s of the training steps (evaluation
and start-up excluded), the fmctl/PyTorch ratio (median over the pairs), and each run's peak
RSS (the child's own ru_maxrss, from os.wait4).

Curves (unless --skip-curves): --seeds seeds of each framework at batch 12 x context 64 for
--curve-steps steps, validation loss every 250 steps; the median per step of each framework
(nats and bits per byte) and their relative difference. The random streams of the two
differ (init, shuffling), so only medians over seeds are compared.

Usage: scripts/bench-text.py [--fmctl .build/release/fmctl] [--python python3] [--threads 2]
       [--steps 200] [--pairs 2] [--seeds 3] [--curve-steps 1000] [--skip-curves]
"""
import argparse
import csv
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--fmctl", default=".build/release/fmctl")
ap.add_argument("--python", default="python3", help="a Python with torch")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--steps", type=int, default=200, help="training steps of each speed run")
ap.add_argument("--pairs", type=int, default=2, help="fmctl/PyTorch pairs per shape")
ap.add_argument("--seeds", type=int, default=3, help="seeds per framework for the curves")
ap.add_argument("--curve-steps", type=int, default=1000, help="a multiple of 250")
ap.add_argument("--skip-curves", action="store_true")
ap.add_argument("--skip-speed", action="store_true")
args = ap.parse_args()
args.fmctl = os.path.abspath(args.fmctl)
TORCH_GPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "torch_gpt.py")
TORCH_GPT = os.path.normpath(TORCH_GPT)
SHAPES = [(12, 64), (32, 128)]            # (batch, context)
CURVE_SHAPE = (12, 64)
EVAL_EVERY = 250                           # fmctl: one epoch of 250 steps per evaluation
# nanoGPT's small CPU preset, given to both sides explicitly. beta2 falls back to 0.999 (on
# both sides) when this fmctl has no --beta2 (its AdamW's default).
RECIPE = dict(lr=1e-3, min_lr=1e-4, warmup=100, weight_decay=0.1, beta2=0.99, clip=1.0)
fmctl_has_beta2 = True
if not args.skip_curves and (args.curve_steps < EVAL_EVERY or args.curve_steps % EVAL_EVERY):
    ap.error(f"--curve-steps {args.curve_steps} must be a multiple of {EVAL_EVERY}")
work = tempfile.mkdtemp(prefix="fmctl-bench-text-")


def fmctl_args(batch, context, steps_per_epoch, epochs, seed, run_dir, validation=True):
    """The whole `fmctl train` command line of gpt-mini (default dataset: fortunes). The
    learning-rate schedule runs over steps_per_epoch x epochs steps. validation=False (speed
    runs): no validation split, so that the epoch's duration_s is its training steps alone
    (train_duration_s, the train phase, is empty with --no-footprint)."""
    r = RECIPE
    return [args.fmctl, "train", "--model", "gpt-mini", "--context", str(context),
            "--batch-size", str(batch), "--steps-per-epoch", str(steps_per_epoch),
            "--epochs", str(epochs), "--optimizer", "adamw", "--learning-rate", str(r["lr"]),
            "--weight-decay", str(r["weight_decay"]),
            *(["--beta2", str(r["beta2"])] if fmctl_has_beta2 else []),
            "--clip-norm", str(r["clip"]), "--lr-schedule", "cosine",
            "--warmup-steps", str(r["warmup"]), "--min-learning-rate", str(r["min_lr"]),
            "--threads", str(args.threads), "--seed", str(seed), "--run-dir", run_dir,
            "--no-footprint"] + ([] if validation else ["--validation-split", "0"])


def torch_args(batch, context, steps, seed, eval_at):
    """The command line of bench/torch_gpt.py; eval_at empty: --timing-only."""
    r = RECIPE
    cmd = [args.python, TORCH_GPT, "--batch-size", str(batch), "--context", str(context),
           "--steps", str(steps), "--seed", str(seed), "--threads", str(args.threads),
           "--lr", str(r["lr"]), "--min-lr", str(r["min_lr"]), "--warmup", str(r["warmup"]),
           "--weight-decay", str(r["weight_decay"]), "--beta2", str(r["beta2"]),
           "--clip", str(r["clip"])]
    if eval_at:
        return cmd + ["--eval-at", ",".join(str(s) for s in eval_at)]
    return cmd + ["--timing-only"]


run_count = 0


def run(name, cmd):
    """Runs cmd in its own process; returns (stdout, peak RSS in MB of that process alone).
    Exits with the command, its status and the tail of its output when it fails."""
    global run_count
    run_count += 1
    base = os.path.join(work, f"{run_count:02d}-{name}")
    with open(base + ".out", "w") as out, open(base + ".err", "w") as err:
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=work)
        except OSError as e:
            sys.exit(f"bench-text: {name}: cannot start {cmd[0]}: {e}")
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(base + ".out") as f:
        stdout = f.read()
    if proc.returncode != 0:
        with open(base + ".err") as f:
            tail = "\n".join((f.read().strip() or stdout.strip()).splitlines()[-15:])
        hint = ("\n  (the fmctl command line is fmctl_args() in scripts/bench-text.py)"
                if cmd[0] == args.fmctl else
                "\n  (--python must name a Python with torch)" if name == "import-torch" else "")
        sys.exit(f"bench-text: {name} failed (exit {proc.returncode}):\n  {' '.join(cmd)}\n"
                 f"{tail}{hint}\n  logs: {base}.out, {base}.err")
    return stdout, usage.ru_maxrss / 1024   # KB on Linux


def fields(stdout, tag):
    """The key=value fields of every line that starts with tag."""
    rows = []
    for line in stdout.splitlines():
        if line.startswith(tag + " "):
            rows.append(dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv))
    return rows


def epochs_csv(run_dir, name):
    path = os.path.join(run_dir, "epochs.csv")
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        sys.exit(f"bench-text: {name}: no epochs.csv ({e})")
    if not rows:
        sys.exit(f"bench-text: {name}: {path} has no epoch row")
    return rows


def fmctl_speed(batch, context, seed, i):
    name = f"fmctl-b{batch}-t{context}-{i}"
    run_dir = os.path.join(work, name)
    _, rss = run(name, fmctl_args(batch, context, args.steps, 1, seed, run_dir, validation=False))
    row = epochs_csv(run_dir, name)[0]
    # The train phase when recorded, else the epoch (which has no validation phase here).
    seconds = row.get("train_duration_s") or row.get("duration_s")
    try:
        train_s = float(seconds)
    except (TypeError, ValueError):
        sys.exit(f"bench-text: {name}: epochs.csv has neither train_duration_s nor duration_s ({seconds!r})")
    return args.steps * batch * context / train_s, rss


def torch_speed(batch, context, seed, i):
    name = f"torch-b{batch}-t{context}-{i}"
    stdout, rss = run(name, torch_args(batch, context, args.steps, seed, []))
    result = fields(stdout, "RESULT")
    if not result:
        sys.exit(f"bench-text: {name}: no RESULT line in its output")
    return float(result[-1]["tokens_per_s"]), rss


def fmt_ratio(values):
    return f"{statistics.median(values):.2f}x"


if not os.access(args.fmctl, os.X_OK):
    sys.exit(f"bench-text: no fmctl at {args.fmctl} (swift build -c release, or --fmctl PATH)")
help_out = subprocess.run([args.fmctl, "train", "--help"], capture_output=True, text=True)
known = set(re.findall(r"--[a-z0-9][a-z0-9-]*", help_out.stdout + help_out.stderr))
if "--beta2" not in known:
    fmctl_has_beta2 = False
    RECIPE["beta2"] = 0.999
missing = [o for o in fmctl_args(1, 1, 1, 1, 0, "x") if o.startswith("--") and o not in known]
if missing:
    sys.exit(f"bench-text: `{args.fmctl} train --help` lists no {', '.join(missing)}; this script "
             f"needs fmctl's gpt-mini training options (see fmctl_args() in scripts/bench-text.py)")
if subprocess.run([args.python, "-c", "import torch"], capture_output=True).returncode != 0:
    # make bench goes on without the comparison on a machine without torch.
    print(f"bench-text: skipped: {args.python} cannot import torch "
          f"(python3 -m pip install torch numpy, or --python PATH); see bench/README.md")
    sys.exit(0)
_, torch_floor = run("import-torch", [args.python, "-c", "import torch"])


def training_flops_per_sample(context):
    """`fmctl summary`'s FLOPs of one training step per sample (attention included), or None."""
    out = subprocess.run([args.fmctl, "summary", "--model", "gpt-mini", "--context", str(context)],
                         capture_output=True, text=True).stdout
    m = re.search(r"([0-9,]+) per training step", out)
    return int(m.group(1).replace(",", "")) if m else None


SGEMM_PEAK = """
import time, torch
torch.set_num_threads({threads})
n = 1024
a, b = torch.randn(n, n), torch.randn(n, n)
for _ in range(3): a @ b
best = 0.0
for _ in range(5):
    t = time.perf_counter()
    for _ in range(10): a @ b
    best = max(best, 2 * n ** 3 * 10 / (time.perf_counter() - t) / 1e9)
print(best)
"""


def sgemm_peak():
    """This machine's float32 GEMM rate (PyTorch's sgemm, 1024^3, best of 5), GFLOP/s, or None."""
    r = subprocess.run([args.python, "-c", SGEMM_PEAK.format(threads=args.threads)], capture_output=True, text=True)
    try:
        return float(r.stdout.strip())
    except ValueError:
        return None

print(f"gpt-mini: fmctl ({args.fmctl}) vs PyTorch ({args.python} {os.path.relpath(TORCH_GPT)}), "
      f"threads {args.threads}, fortunes")
if not fmctl_has_beta2:
    print("  (this fmctl has no --beta2: both sides run AdamW with beta2 0.999, fmctl's default)")
print(f"speed: {args.steps} training steps per run, fmctl and PyTorch alternated, {args.pairs} pairs per shape")
print(f"  (PyTorch's floor: `import torch` alone peaks at {torch_floor:.0f} MB RSS)", flush=True)
summary = []
for batch, context in ([] if args.skip_speed else SHAPES):
    pairs = []
    for i in range(args.pairs):
        f_tps, f_rss = fmctl_speed(batch, context, i, i)
        t_tps, t_rss = torch_speed(batch, context, i, i)
        pairs.append((f_tps, f_rss, t_tps, t_rss))
        print(f"  batch {batch:2d} x context {context:3d}, pair {i + 1}: "
              f"fmctl {f_tps:8.0f} tokens/s {f_rss:6.0f} MB | PyTorch {t_tps:8.0f} tokens/s "
              f"{t_rss:6.0f} MB | fmctl/PyTorch {f_tps / t_tps:.2f}x speed, {f_rss / t_rss:.2f}x RSS",
              flush=True)
    summary.append((batch, context, pairs))
if summary:
    print()
    print("shape          fmctl tok/s  PyTorch tok/s  speed fmctl/PT  fmctl RSS MB  PyTorch RSS MB  RSS fmctl/PT")
for batch, context, pairs in summary:
    print(f"{batch:2d} x {context:3d}     {statistics.median(p[0] for p in pairs):11.0f}  "
          f"{statistics.median(p[2] for p in pairs):13.0f}  "
          f"{fmt_ratio([p[0] / p[2] for p in pairs]):>14s}  "
          f"{max(p[1] for p in pairs):12.0f}  {max(p[3] for p in pairs):14.0f}  "
          f"{fmt_ratio([p[1] / p[3] for p in pairs]):>12s}")
if summary:
    print("(tokens/s: median over the pairs; speed ratio: median of the per-pair ratios; RSS: the "
          "largest run's peak, ratio: median of the per-pair ratios)")
    # The step's arithmetic rate against the machine's float32 GEMM rate, measured now: how
    # far a speed ratio can go when every FLOP runs at the GEMM rate.
    peak = sgemm_peak()
    print()
    print(f"float32 sgemm 1024^3 on {args.threads} threads (PyTorch, best of 5): "
          + (f"{peak:.0f} GFLOP/s" if peak else "not measured"))
    print("shape      GFLOP/step  fmctl GFLOP/s  PyTorch GFLOP/s  PyTorch/sgemm  2x PyTorch needs")
    for batch, context, pairs in summary:
        flops = training_flops_per_sample(context)
        if not flops:
            print(f"{batch:2d} x {context:3d}   (fmctl summary gave no FLOPs)")
            continue
        per_token = flops / context
        f_rate = statistics.median(p[0] for p in pairs) * per_token / 1e9
        t_rate = statistics.median(p[2] for p in pairs) * per_token / 1e9
        need = 2 * t_rate
        print(f"{batch:2d} x {context:3d}   {flops * batch / 1e9:10.2f}  {f_rate:13.0f}  {t_rate:15.0f}  "
              + (f"{t_rate / peak:13.0%}  {need:6.0f} GFLOP/s = {need / peak:.0%} of sgemm" if peak
                 else f"{'-':>13s}  {need:6.0f} GFLOP/s"))
    print("(GFLOP: fmctl summary's training FLOPs, the GEMMs and the attention products as fmctl computes "
          "them (the whole T x T square); one yardstick for both frameworks)")

if args.skip_curves:
    sys.exit(0)

batch, context = CURVE_SHAPE
epochs = args.curve_steps // EVAL_EVERY
points = [EVAL_EVERY * (k + 1) for k in range(epochs)]
print()
print(f"curves: batch {batch} x context {context}, {args.curve_steps} steps, seeds "
      f"0...{args.seeds - 1}, validation loss every {EVAL_EVERY} steps", flush=True)
f_loss = {s: [] for s in points}
t_loss = {s: [] for s in points}
for seed in range(args.seeds):
    name = f"fmctl-curve-{seed}"
    run_dir = os.path.join(work, name)
    run(name, fmctl_args(batch, context, EVAL_EVERY, epochs, seed, run_dir))
    rows = [r for r in epochs_csv(run_dir, name) if r.get("interrupted", "false") != "true"]
    if len(rows) < epochs:
        sys.exit(f"bench-text: {name}: {len(rows)} finished epochs in epochs.csv, {epochs} expected")
    for step, row in zip(points, rows):
        try:
            f_loss[step].append(float(row["val_loss"]))
        except (KeyError, ValueError):
            sys.exit(f"bench-text: {name}: epoch {row.get('epoch')} has no val_loss")
    name = f"torch-curve-{seed}"
    stdout, _ = run(name, torch_args(batch, context, args.curve_steps, seed, points))
    evals = {int(e["step"]): float(e["val_loss"]) for e in fields(stdout, "EVAL")}
    for step in points:
        if step not in evals:
            sys.exit(f"bench-text: {name}: no EVAL line for step {step}")
        t_loss[step].append(evals[step])
    print(f"  seed {seed}: fmctl " + " ".join(f"{f_loss[s][-1]:.4f}" for s in points)
          + " | PyTorch " + " ".join(f"{t_loss[s][-1]:.4f}" for s in points), flush=True)
print()
print("step   fmctl val_loss (bpb)   PyTorch val_loss (bpb)   fmctl vs PyTorch")
for step in points:
    f, t = statistics.median(f_loss[step]), statistics.median(t_loss[step])
    print(f"{step:5d}   {f:8.4f} ({f / math.log(2):6.4f})      {t:8.4f} ({t / math.log(2):6.4f})"
          f"        {100 * (f / t - 1):+6.2f} %")
print(f"(medians over {args.seeds} seeds; validation loss in nats per byte, bits per byte in "
      f"brackets; ln 256 = 5.545 at the start)")
