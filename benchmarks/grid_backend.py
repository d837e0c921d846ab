"""Is ``backend="auto"`` ever slower than the best fixed grid backend, on a busy machine?

Two models and grids (the issue's): an MLP [128] on 1024 digits samples, 51 × 51 (batched / vmap /
loop), and the small CNN on 256 digits images, 15 × 15 and 31 × 31 (vmap / loop; on the larger grid the
trial costs under 5% of the points, so ``auto`` times vmap against the loop). Every configuration runs with
a background load of two busy processes (dense matmuls) on this 2-core machine, repeats interleaved
(auto and each fixed backend, the order rotated every repeat) and medians reported. ``auto`` must be within 10% of the best
fixed backend; the table also says what ``auto`` chose.

    python benchmarks/grid_backend.py [--repeats 3] [--no-load]

Results: ``benchmarks/out/grid_backend.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import time
from pathlib import Path

import torch

import landkit as lk


def _burn(stop):
    import numpy as np

    a = np.random.default_rng(0).standard_normal((400, 400))
    while not stop.is_set():
        a = a @ a
        a /= np.abs(a).max()


def cases():
    digits = lk.tasks.digits(seed=0)
    mlp = lk.models.mlp(64, [128], 10, seed=0)
    lk.train(mlp, digits, steps=300, lr=0.1, batch_size=32, seed=0, progress=False)
    images = lk.tasks.digits(seed=0, flatten=False)
    cnn = lk.models.cnn(10, seed=0)
    lk.train(cnn, images, steps=300, lr=0.05, batch_size=32, seed=0, progress=False)
    return [
        ("MLP [128], 51×51, 1024 samples", mlp, digits, 51, 1024, ("batched", "vmap", "loop")),
        ("small CNN, 15×15, 256 samples", cnn, images, 15, 256, ("vmap", "loop")),
        ("small CNN, 31×31, 256 samples (auto times vmap)", cnn, images, 31, 256, ("vmap", "loop")),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=6)
    ap.add_argument("--no-load", action="store_true")
    ap.add_argument("--only", default=None, help="run only the cases whose name contains this")
    args = ap.parse_args()
    torch.set_num_threads(1)
    stop = mp.Event()
    burners = [] if args.no_load else [mp.Process(target=_burn, args=(stop,)) for _ in range(2)]
    for p in burners:
        p.start()
    rows = []
    try:
        for name, model, task, res, n, fixed in cases():
            if args.only and args.only not in name:
                continue
            times = {b: [] for b in ("auto", *fixed)}
            chose = []
            names = list(times)
            for r in range(args.repeats):
                for b in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order
                    t0 = time.perf_counter()
                    surf = lk.landscape.plane(model, task, resolution=res, n_samples=n, backend=b,
                                              progress=False, seed=0)  # fmt: skip
                    times[b].append(time.perf_counter() - t0)
                    if b == "auto":
                        chose.append(surf.info["backend"])
            med = {b: statistics.median(v) for b, v in times.items()}
            best = min(fixed, key=med.get)
            row = {"case": name, "load": not args.no_load, "auto_chose": chose,
                   "seconds": med, "best_fixed": best, "auto_over_best": med["auto"] / med[best]}  # fmt: skip
            rows.append(row)
            print(json.dumps(row))
    finally:
        stop.set()
        for p in burners:
            p.join()
    out = Path(__file__).parent / "out" / "grid_backend.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
