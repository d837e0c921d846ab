"""Two-time mean-square displacement of a large run: landkit against a plain NumPy loop over pairs.

Data: one run of ``--snapshots`` snapshots × ``--params`` float32 weights (a random walk), written with
``lk.Recorder`` to a store on disk. Methods, in one run:

- ``landkit``: ``lk.glassy.two_time(lk.load(path))`` — Δ for every pair from a float64 Gram matrix of the
  displacements, accumulated over column blocks read from the store (reading included);
- ``numpy loop``: the weights already in memory, ``np.mean((w[j] − w[i])**2)`` for every pair i < j.

    python benchmarks/glassy.py [--snapshots 300] [--params 1000000]

Results: ``benchmarks/out/glassy.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import landkit as lk


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snapshots", type=int, default=300)
    ap.add_argument("--params", type=int, default=1_000_000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "glassy.json"))
    args = ap.parse_args()
    T, P = args.snapshots, args.params
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run"
        model = torch.nn.Linear(P, 1, bias=False)
        rec = lk.Recorder(path, evaluate=False)
        w = np.zeros(P, dtype=np.float32)
        t0 = time.perf_counter()
        for step in range(T):
            with torch.no_grad():
                model.weight.copy_(torch.from_numpy(w))
            rec.capture(step, model)
            w += rng.normal(0, 0.01, P).astype(np.float32)
        rec.close()
        write_s = time.perf_counter() - t0
        print(f"wrote {T} × {P:,} float32 ({T * P * 4 / 2**30:.2f} GiB) in {write_s:.1f} s")

        t0 = time.perf_counter()
        ag = lk.glassy.two_time(lk.load(path))
        lk_s = time.perf_counter() - t0
        print(f"landkit two_time from the store: {lk_s:.2f} s")

        W = np.asarray(lk.load(path).weights[:])
        t0 = time.perf_counter()
        loop = np.zeros((T, T))
        for i in range(T):
            for j in range(i + 1, T):
                loop[i, j] = loop[j, i] = np.mean((W[j] - W[i]) ** 2, dtype=np.float64)
        loop_s = time.perf_counter() - t0
        err = float(np.max(np.abs(loop - ag.pair_msd)) / np.max(loop))
        print(f"numpy double loop over {T * (T - 1) // 2:,} pairs (in memory): {loop_s:.1f} s")
        print(f"landkit is {loop_s / lk_s:.1f}× faster; max relative difference {err:.1e}")
    out = {"snapshots": T, "params": P, "landkit_seconds": lk_s, "loop_seconds": loop_s,
           "speedup": loop_s / lk_s, "max_rel_diff": err, "write_seconds": write_s}  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
