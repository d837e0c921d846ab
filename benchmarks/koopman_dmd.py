"""One Koopman spectrum: landkit's one-SVD DMD against its previous pydmd path and DSA's DMD.

The same snapshots for every method: the OMD trajectories (25 runs × 100 steps × 2, delays 4) and the
digits width-32 runs (5 runs × 61 snapshots × 2,410 weights reduced to a 10-component PCA, delays 2,
rank 8), as landkit's notebooks use them. Methods:

- ``landkit``: ``lk.koopman.spectrum`` now (delay embedding, one thin SVD, eigenvalues of the r × r
  projected operator);
- ``pydmd path``: the previous implementation — pydmd's ``DMD(svd_rank=...)`` on the same pairs (its
  condition checks each take an SVD) plus landkit's own SVD for the residual;
- ``DSA``: ``DSA.DMD(data, n_delays=delays + 1, rank=...)`` (dsa-metric 2.0.2, the peer from Ostrow et
  al.), ``fit()`` and the eigenvalues of its operator.

Interleaved repeats, medians; ratios against landkit in the same run.

    python benchmarks/koopman_dmd.py [--repeats 7]

Results: ``benchmarks/out/koopman_dmd.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import landkit as lk
from landkit import koopman as K


def pydmd_path(arrs, delays, rank):
    from pydmd import DMD

    X, Y = K._hankel_pairs(arrs, delays)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dmd = DMD(svd_rank=int(rank) if rank is not None else -1).fit(X, Y)
    np.linalg.svd(X, full_matrices=False)  # the residual's SVD of the previous implementation
    return np.asarray(dmd.eigs)


def dsa_path(arrs, delays, rank):
    from DSA import DMD

    data = torch.as_tensor(np.stack(arrs))
    dmd = DMD(data, n_delays=delays + 1, rank=rank, device="cpu")
    dmd.fit()
    return torch.linalg.eigvals(dmd.A_v).numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    d = lk.examples.omd_ogd()
    runs = lk.examples.example_runs("digits-widths")
    w32 = K.observables([np.asarray(t.weights[:]) for t in runs.where(width=32)], pca=10)
    cases = [("OMD, 25 × 100 × 2, delays 4", list(d["omd"]), 4, None),
             ("digits width 32, PCA 10, delays 2, rank 8", w32, 2, 8)]  # fmt: skip
    rows = []
    for name, arrs, delays, rank in cases:
        methods = {
            "landkit": lambda a=arrs, dl=delays, r=rank: (
                K.spectrum(a, delays=dl, rank=r).eigenvalues
            ),
            "pydmd path": lambda a=arrs, dl=delays, r=rank: pydmd_path(a, dl, r),
            "DSA": lambda a=arrs, dl=delays, r=rank: dsa_path(a, dl, r),
        }
        times = {m: [] for m in methods}
        for _ in range(args.repeats):
            for m, f in methods.items():
                t0 = time.perf_counter()
                for _ in range(20):
                    f()
                times[m].append((time.perf_counter() - t0) / 20)
        med = {m: statistics.median(v) for m, v in times.items()}
        row = {"case": name, "ms": {m: 1e3 * v for m, v in med.items()},
               "speedup_vs": {m: med[m] / med["landkit"] for m in med}}  # fmt: skip
        rows.append(row)
        print(json.dumps(row))
    out = Path(__file__).parent / "out" / "koopman_dmd.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
