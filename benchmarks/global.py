"""Global-dynamics lens timings: Mapper of many long runs; Morse graphs against subdivision depth.

- Mapper: ``--runs`` synthetic trajectories × ``--snapshots`` snapshots of ``--params`` weights (random
  walks drifting to one of two ends), ``lk.mapper.graph(runs, lens="loss", pca=10)``: total time, split
  into reading + PCA, clustering and kmapper's nerve, for growing numbers of intervals (the nerve is
  quadratic in the number of nodes).
- Morse: the GP surrogate of DOODL3's kind (2 weights, 100 sampled pairs of the bistable map) at
  subdivision 10–18. Baseline in the same run: the same CMGDB computation with DOODL3's per-box Python
  box map (``CMGDB.BoxMap`` called once per box) instead of landkit's batched one.

    python benchmarks/global.py [--runs 10] [--snapshots 1000] [--params 2000]

Results: ``benchmarks/out/global.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import landkit as lk


def synthetic_runs(n_runs, n_snap, n_params, seed=0):
    rng = np.random.default_rng(seed)
    ends = rng.normal(0, 1, (2, n_params))
    runs = []
    for r in range(n_runs):
        s = np.linspace(0, 1, n_snap)[:, None]
        w = s * ends[r % 2] + 0.02 * np.cumsum(rng.normal(0, 1, (n_snap, n_params)), 0) / np.sqrt(
            n_snap
        )
        loss = np.exp(-4 * s[:, 0]) + 0.01 * rng.random(n_snap)
        runs.append(lk.Trajectory(np.arange(n_snap), w.astype(np.float32), {"loss": loss}, {}))
    return runs


def bistable(X):
    X = np.asarray(X, dtype=float)
    return np.stack([X[:, 0] - 0.3 * (X[:, 0] ** 3 - X[:, 0]), 0.5 * X[:, 1]], 1)


def morse_per_box(f, lower, upper, subdiv):
    """DOODL3's way: CMGDB with a Python box map called once per box."""
    import CMGDB

    def F(rect):
        return CMGDB.BoxMap(lambda x: f(np.asarray(x, dtype=float)[None])[0], rect, padding=True)

    model = CMGDB.Model(subdiv, subdiv, list(lower), list(upper), F)
    return CMGDB.ComputeMorseGraph(model)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--snapshots", type=int, default=1000)
    ap.add_argument("--params", type=int, default=2000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "global.json"))
    args = ap.parse_args()
    out = {"mapper": [], "morse": []}
    runs = synthetic_runs(args.runs, args.snapshots, args.params)
    for n_cubes in (10, 20, 40):
        t0 = time.perf_counter()
        g = lk.mapper.graph(runs, lens="loss", n_cubes=n_cubes, overlap=0.3, pca=10)
        t = time.perf_counter() - t0
        row = {"runs": args.runs, "snapshots": args.snapshots, "params": args.params,
               "n_cubes": n_cubes, "nodes": len(g.nodes), "links": len(g.links), "seconds": t}  # fmt: skip
        out["mapper"].append(row)
        print(f"mapper {args.runs}×{args.snapshots} snapshots, {n_cubes} intervals: {len(g.nodes)} nodes, "
              f"{len(g.links)} links, {t:.2f} s")  # fmt: skip
    X = np.random.default_rng(0).uniform(-2, 2, (100, 2))
    f, _ = lk.morse.surrogate(X, bistable(X))
    for subdiv in (10, 12, 14, 16, 18):
        t0 = time.perf_counter()
        m = lk.morse.from_map(f, [-2.2, -2.2], [2.2, 2.2], subdiv)
        t_lk = time.perf_counter() - t0
        row = {"subdiv": subdiv, "landkit_seconds": t_lk, "morse_sets": len(m.morse_sets),
               "attractors": len(m.attractors)}  # fmt: skip
        if subdiv <= 14:
            t0 = time.perf_counter()
            morse_per_box(f, [-2.2, -2.2], [2.2, 2.2], subdiv)
            row["per_box_seconds"] = time.perf_counter() - t0
        out["morse"].append(row)
        extra = (f"; per-box box map (DOODL3's way, Morse graph only): {row['per_box_seconds']:.2f} s "
                 f"({row['per_box_seconds'] / t_lk:.1f}×)" if "per_box_seconds" in row else "")  # fmt: skip
        print(f"morse subdiv {subdiv}: landkit {t_lk:.2f} s (with the order retraction), "
              f"{len(m.morse_sets)} sets, {len(m.attractors)} attractors{extra}")  # fmt: skip
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
