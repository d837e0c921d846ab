"""The taxonomy's FAST grid (3 widths × 3 batch sizes × 2 seeds: training, then every cell measured) on a
Dask LocalCluster of 1 and of 2 single-threaded workers, interleaved repeats (1, 2, 2, 1, ...), medians.
Goal: ≥ 1.7× from the second worker.

Every worker is warmed first with a tiny sweep and measure of its own: what a worker imports on its first
run (scikit-learn for the digits, ``torch._dynamo`` built by the first optimizer, ``torch.func``) takes
4–7 s per worker process here, once per cluster, and is not what the grid costs.

    python benchmarks/taxonomy.py [--steps 300] [--repeats 3]

Results: ``benchmarks/out/taxonomy.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import landkit as lk


def _warm():
    """One worker's first run and first cell, on a tiny grid in this process."""
    import concurrent.futures as cf

    with tempfile.TemporaryDirectory() as tmp, cf.ThreadPoolExecutor(1) as pool:
        runs = lk.taxonomy.digits_sweep(Path(tmp) / "w", widths=[4], batch_sizes=[8], seeds=2,
                                        steps=2, n_train=64, executor=pool)  # fmt: skip
        lk.taxonomy.measure(runs, mc_epochs=1, hessian_samples=32, trace_matvecs=6)
    return os.getpid()


def run(n_workers, steps, root):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=40) as cluster, Client(cluster) as client:  # fmt: skip
        ex = client.get_executor()
        client.run(_warm)  # imports are not part of the work
        t0 = time.perf_counter()
        runs = lk.taxonomy.digits_sweep(root, widths=[4, 16, 64], batch_sizes=[8, 32, 128], seeds=2,
                                        steps=steps, executor=ex, threads_per_run=1)  # fmt: skip
        t1 = time.perf_counter()
        table = lk.taxonomy.measure(runs, mc_epochs=2, executor=ex)
        t2 = time.perf_counter()
    run_seconds = [json.loads(p.read_text())["seconds"] for p in root.glob("*/landkit-done.json")]
    return {"workers": n_workers, "train_seconds": t1 - t0, "measure_seconds": t2 - t1,
            "total_seconds": t2 - t0, "sum_of_run_seconds": sum(run_seconds),
            "phases": table.phase}  # fmt: skip


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "taxonomy.json"))
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    out = {1: [], 2: []}
    for rep in range(args.repeats):
        for n in (1, 2) if rep % 2 == 0 else (2, 1):
            with tempfile.TemporaryDirectory() as tmp:
                r = run(n, args.steps, Path(tmp) / "sweep")
            out[n].append(r)
            print(f"{n} worker(s): train {r['train_seconds']:.2f} s (runs' own time "
                  f"{r['sum_of_run_seconds']:.2f} s), measure {r['measure_seconds']:.2f} s, "
                  f"total {r['total_seconds']:.2f} s", flush=True)  # fmt: skip
    load_after = os.getloadavg()[0]
    summary = {}
    for stage in ("train_seconds", "measure_seconds", "total_seconds"):
        one = statistics.median(r[stage] for r in out[1])
        two = statistics.median(r[stage] for r in out[2])
        pairs = [a[stage] / b[stage] for a, b in zip(out[1], out[2])]
        summary[stage] = {"one": one, "two": two, "speedup": one / two,
                          "pairs": [min(pairs), max(pairs)]}  # fmt: skip
        print(f"{stage}: 1 worker {one:.2f} s, 2 workers {two:.2f} s, speed-up {one / two:.2f}× "
              f"(pairs {min(pairs):.2f}–{max(pairs):.2f})")  # fmt: skip
    print(f"load average {load_before:.2f} → {load_after:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"runs": out, "summary": summary, "steps": args.steps,
                                          "load": [load_before, load_after]}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
