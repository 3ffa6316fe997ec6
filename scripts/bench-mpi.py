#!/usr/bin/env python3
"""make bench, part 3: data-parallel training on this machine. One epoch of the reference CNN
in one process with T threads against T processes of one thread each under mpirun (the
gradient all-reduce blocking, and non-blocking), at global batches 32 and 128, alternated so
that drift on a shared machine hits all alike; per run the epoch's time from its own log, the
share of the epoch spent in the all-reduce and the gradient bytes summed per step; then the
scaling model of docs/distributed.md from the same figures. Python's standard library only.

Usage: scripts/bench-mpi.py [--fmctl .build/release/fmctl] [--rounds 1] [--threads 2] [--batches 32,128]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--fmctl", default=".build/release/fmctl")
ap.add_argument("--rounds", type=int, default=1)
ap.add_argument("--batches", default="32,128")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--model", default="cnn")
args = ap.parse_args()
args.fmctl = os.path.abspath(args.fmctl)
mpirun = shutil.which("mpirun")
if mpirun is None:
    sys.exit("bench-mpi: mpirun is missing (scripts/setup installs openmpi-bin)")
work = tempfile.mkdtemp(prefix="fmctl-bench-mpi-")
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def train(name, processes, allreduce, batch):
    run_dir = os.path.join(work, name)
    cmd = [args.fmctl, "train", "--model", args.model, "--epochs", "1", "--batch-size", str(batch), "--no-footprint",
           "--run-dir", run_dir]
    if processes == 1:
        cmd += ["--threads", str(args.threads)]
    else:
        cmd = [mpirun, "--oversubscribe", "--bind-to", "none", "-np", str(processes)] + cmd + ["--threads", "1"]
    run_env = dict(env, FMCTL_ALLREDUCE=allreduce) if allreduce else env
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=run_env)
    if out.returncode != 0:
        sys.exit(f"bench-mpi: {name} failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    with open(os.path.join(run_dir, "run.json")) as f:
        run = json.load(f)
    epoch = run["epochs"][0]
    steps = -(-run["config"]["train_samples"] // run["config"]["batch_size"])
    return epoch, steps, run["test"]["accuracy"]


configs = [("1 process x %d threads" % args.threads, 1, None),
           ("%d processes x 1 thread, blocking" % args.threads, args.threads, "blocking"),
           ("%d processes x 1 thread, non-blocking" % args.threads, args.threads, "nonblocking")]
batches = [int(b) for b in args.batches.split(",")]
results = {(name, batch): [] for name, _, _ in configs for batch in batches}
for i in range(args.rounds):
    for batch in batches:
        for name, processes, allreduce in configs:
            results[(name, batch)].append(train(f"{processes}-{allreduce}-{batch}-{i}", processes, allreduce, batch))

print(f"fmctl train --epochs 1 ({args.model}), {args.rounds} alternated round(s)")
for batch in batches:
    print(f" global batch {batch}")
    base = min(r[0]["duration_s"] for r in results[(configs[0][0], batch)])
    for name, processes, _ in configs:
        runs = results[(name, batch)]
        best = min(r[0]["duration_s"] for r in runs)
        line = f"  {name:38s} epoch {best:6.2f} s ({best / base:4.2f}x one process)"
        if len(runs) > 1:
            line += "  runs " + ", ".join(f"{r[0]['duration_s']:.2f}" for r in runs)
        if processes > 1:
            e, steps, _ = min(runs, key=lambda r: r[0]["duration_s"])
            line += f"  all-reduce {100 * e['allreduce_s'] / e['duration_s']:.0f} % of the epoch, {e['allreduce_bytes'] / steps / 1e6:.2f} MB per step"
        line += f"  test accuracy {runs[0][2]:.4f}"
        print(line)

# The scaling model of docs/distributed.md, from this run's figures: the compute time per
# sample of one process (this machine, all its threads), the gradient bytes of a step, and a
# ring all-reduce moving 2(N-1)/N of them through each node's link, plus 2(N-1) message
# latencies of ALPHA seconds. With b samples per node a step computes for b x c; without
# overlap it takes b x c + t_comm, and with perfect overlap communication hides from
# b = t_comm / c on (a global batch of N x b).
ALPHA = 5e-6
one = min(results[(configs[0][0], batches[0])], key=lambda r: r[0]["duration_s"])
e, steps, _ = min(results[(configs[1][0], batches[0])], key=lambda r: r[0]["duration_s"])
compute_per_sample = one[0]["duration_s"] / one[1] / batches[0]
grad_bytes = e["allreduce_bytes"] / steps
print(f"scaling model: compute {1e6 * compute_per_sample:.1f} us per sample (one process, {args.threads} threads, batch {batches[0]}), "
      f"{grad_bytes / 1e6:.2f} MB of gradients per step, ring all-reduce, {1e6 * ALPHA:.0f} us per message")
print(f"  {'nodes':>5s} {'link':>9s} {'t_comm/step':>12s} {'comm share at 32/node':>22s} {'batch/node to hide':>19s} {'global batch':>13s}")
for nodes in (8, 64):
    for gbits in (10, 100):
        t_comm = 2 * (nodes - 1) / nodes * grad_bytes / (gbits * 1e9 / 8) + 2 * (nodes - 1) * ALPHA
        compute = 32 * compute_per_sample
        hide = t_comm / compute_per_sample
        print(f"  {nodes:5d} {gbits:4d} Gb/s {1e3 * t_comm:9.2f} ms {100 * t_comm / (compute + t_comm):21.0f} % "
              f"{hide:19.0f} {nodes * hide:13.0f}")
