"""The taxonomy's FAST grid (3 widths × 3 batch sizes × 2 seeds: training, then every cell measured) on a
Dask LocalCluster of 1 and of 2 single-threaded workers, in one run. Goal: ≥ 1.7× from the second worker.

    python benchmarks/taxonomy.py [--steps 300]

Results: ``benchmarks/out/taxonomy.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import landkit as lk


def run(n_workers, steps, root):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=40) as cluster, Client(cluster) as client:  # fmt: skip
        ex = client.get_executor()
        client.run(lambda: __import__("landkit"))  # imports are not part of the work
        t0 = time.perf_counter()
        runs = lk.taxonomy.digits_sweep(root, widths=[4, 16, 64], batch_sizes=[8, 32, 128], seeds=2,
                                        steps=steps, executor=ex, threads_per_run=1)  # fmt: skip
        t1 = time.perf_counter()
        table = lk.taxonomy.measure(runs, mc_epochs=2, executor=ex)
        t2 = time.perf_counter()
    return {"workers": n_workers, "train_seconds": t1 - t0, "measure_seconds": t2 - t1,
            "total_seconds": t2 - t0, "phases": table.phase}  # fmt: skip


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "taxonomy.json"))
    args = ap.parse_args()
    out = []
    for n in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            r = run(n, args.steps, Path(tmp) / "sweep")
        out.append(r)
        print(f"{n} worker(s): train {r['train_seconds']:.1f} s, measure {r['measure_seconds']:.1f} s, "
              f"total {r['total_seconds']:.1f} s")  # fmt: skip
    speedup = out[0]["total_seconds"] / out[1]["total_seconds"]
    print(f"speed-up from the second worker: {speedup:.2f}×")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"runs": out, "speedup": speedup}, indent=2))


if __name__ == "__main__":
    main()
