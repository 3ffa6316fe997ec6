#!/usr/bin/env python3
"""make bench, part 2: whole `fmctl train` epochs of the reference CNN, with and without the
footprint, alternated A B A B so that drift on a shared machine hits both alike; the peak
RSS of the largest run (the children's maximum, which is all getrusage gives); and
`fmctl evaluate` throughput. Python's standard library only.

Usage: scripts/bench-train.py [--fmctl .build/release/fmctl] [--pairs 2] [--threads 2]
"""
import argparse
import csv
import os
import re
import resource
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--fmctl", default=".build/release/fmctl")
ap.add_argument("--pairs", type=int, default=2)
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
args.fmctl = os.path.abspath(args.fmctl)
work = tempfile.mkdtemp(prefix="fmctl-bench-")


def train(name, extra):
    run_dir = os.path.join(work, name)
    out = subprocess.run([args.fmctl, "train", "--epochs", "1", "--threads", str(args.threads),
                          "--run-dir", run_dir] + extra, capture_output=True, text=True, cwd=work)
    if out.returncode != 0:
        sys.exit(f"bench-train: {name} failed ({out.returncode}): {out.stderr.strip()}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # max over children so far, KB
    with open(os.path.join(run_dir, "epochs.csv")) as f:
        row = next(csv.DictReader(f))
    test = re.search(r"test accuracy ([0-9.]+)", out.stdout)
    return run_dir, float(row["duration_s"]), float(row["train_duration_s"] or row["duration_s"]), rss, test


rows = []
for i in range(args.pairs):
    for name, extra in (("footprint", []), ("no-footprint", ["--no-footprint"])):
        rows.append((name,) + train(f"{name}-{i}", extra))

print("fmctl train --epochs 1 (cnn, batch 32, 54,000 + 6,000 validation), alternated")
for name, _, epoch_s, train_s, rss, test in rows:
    print(f"  {name:13s} epoch {epoch_s:6.2f} s  train {train_s:6.2f} s  "
          f"{54000 / train_s:6.0f} samples/s  test accuracy {test.group(1) if test else '?'}")
with_fp = sorted(r[2] for r in rows if r[0] == "footprint")
without = sorted(r[2] for r in rows if r[0] == "no-footprint")
print(f"  footprint cost: best epoch {with_fp[0]:.2f} s vs {without[0]:.2f} s without "
      f"({100 * (with_fp[0] / without[0] - 1):+.1f} %; noise on a shared machine is about the same size)")
print(f"  peak RSS of the largest fmctl train run: {max(r[4] for r in rows) / 1024:.0f} MB")

out = subprocess.run([args.fmctl, "evaluate", rows[0][1], "--threads", str(args.threads)],
                     capture_output=True, text=True, cwd=work)
line = [l for l in out.stdout.splitlines() if "images/s" in l]
print("fmctl evaluate: " + (line[0] if line else f"failed: {out.stderr.strip()}"))
