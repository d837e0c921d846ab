"""Torch threads on a busy laptop: the tour's phase-map work with 1 vs 2 threads, idle and under a known
background load (issue 19).

The workload is what the tour's taxonomy cell and the report's phase section do: measure the shipped
3 × 3 taxonomy grid (Hessian λ_max and trace, 50-epoch Bezier curves, CKA) in a fresh process. The load
is N processes each spinning a single-threaded 256 × 256 matrix product (N = the CPU count: a second
user of every core). Pairs run A B A B; medians of the wall times; the ratio 2 threads / 1 thread is
the figure of merit.

python benchmarks/threads.py [--repeats 3] [--load N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = """
import time, torch, landkit as lk
torch.set_num_threads({threads})
runs = lk.examples.example_runs("taxonomy-fast")
t = time.perf_counter()
lk.taxonomy.measure(runs, hessian_samples=256)
print(time.perf_counter() - t)
"""

SPIN = """
import numpy as np
a = np.random.default_rng(0).standard_normal((256, 256))
while True:
    a = np.tanh(a @ a.T / 256)
"""


def run(threads: int) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", WORK.format(threads=threads)], env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def measure(repeats: int) -> dict:
    times = {1: [], 2: []}
    for _ in range(repeats):
        for threads in (1, 2):
            times[threads].append(run(threads))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"times": times, "median": med, "ratio_2_over_1": med[2] / med[1]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--load", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    results = {"cpus": os.cpu_count(), "load_processes": args.load}
    results["idle"] = measure(args.repeats)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN], env=env) for _ in range(args.load)]
    try:
        time.sleep(2)
        results["loaded"] = measure(args.repeats)
    finally:
        for p in spinners:
            p.kill()
    for name in ("idle", "loaded"):
        r = results[name]
        print(f"{name:7s} 1 thread {r['median'][1]:6.1f} s   2 threads {r['median'][2]:6.1f} s   "
              f"2/1 = {r['ratio_2_over_1']:.2f}×")  # fmt: skip
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "threads.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
