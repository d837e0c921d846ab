"""Peak memory of a PCA plane's directions at ResNet-18 size: the streamed Gram route landkit uses
against the dense float64 SVD it replaced, each in a fresh process.

A 30-snapshot run of 11M parameters is written once (1.3 GB, under ``--root``); then the top-2
principal directions of the displacements from the last snapshot are computed both ways.

    python benchmarks/pca_plane_memory.py [--root /tmp/landkit-pca]

Results: ``benchmarks/out/pca_plane_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import sys, time, numpy as np, torch, landkit as lk
from _memory import start, peak_gib
from landkit.linalg import displacement_gram, project_displacements
traj = lk.load(sys.argv[2])
center = np.asarray(traj.weights[-1], dtype=np.float64)
before = start()
t0 = time.perf_counter()
if sys.argv[1] == "dense":
    D = np.asarray(traj.weights, dtype=np.float64) - center
    d = np.linalg.svd(D, full_matrices=False)[2][:2]
else:
    G, _ = displacement_gram(traj.weights, center, 2**30)
    lam, U = np.linalg.eigh(G)
    lam, U = lam[::-1][:2], U[:, ::-1][:, :2]
    d = project_displacements(traj.weights, center, U / np.sqrt(lam)).T
print((peak_gib() - before) * 1024, time.perf_counter() - t0)
"""

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="/tmp/landkit-pca")
    ap.add_argument("--params", type=int, default=11_000_000)
    ap.add_argument("--snapshots", type=int, default=30)
    args = ap.parse_args()
    import torch

    import landkit as lk

    path = Path(args.root) / "run"
    if not (path / "zarr.json").exists():
        model = torch.nn.Linear(args.params, 1, bias=False)
        rec = lk.Recorder(path, schedule=lk.schedules.every(1), overwrite=True)
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for step in range(args.snapshots):
                model.weight.add_(0.01 * torch.randn(model.weight.shape, generator=g))
                rec.capture(step, model)
        rec.close()
    rows = []
    for method in ("streamed", "dense"):
        out = subprocess.run([sys.executable, "-c", CHILD, method, str(path)], capture_output=True, env=ENV,
                             text=True, check=True).stdout.split()  # fmt: skip
        rows.append({"method": method, "params": args.params, "snapshots": args.snapshots,
                     "peak_mib": round(float(out[0])), "seconds": round(float(out[1]), 1)})  # fmt: skip
        print(rows[-1])
    dest = Path(__file__).parent / "out" / "pca_plane_memory.json"
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
