"""Hessian λ_max and trace: landkit against PyHessian, on the same model and data, in one run.

Model: a digits MLP [128, 128] (26k parameters) trained for 1000 SGD steps; the Hessian of the mean
cross-entropy over the whole training set (1438 samples), float32, CPU.

- λ_max to tol 1e-3: PyHessian ``hessian(...).eigenvalues(top_n=1, tol=...)`` (power iteration,
  stopping when two consecutive estimates differ by < tol relative) against
  ``lk.hessian.top_eigenvalues(k=1, tol=1e-3)`` (Lanczos, stopping when an a-posteriori bound on the
  eigenvalue's error is ≤ tol). PyHessian runs at tol 1e-3 (its default criterion, which does not
  bound the error) and at 1e-4 (what it takes to land within 1e-3). Each method starts from
  ``--repeats`` different random vectors; counted: Hessian-vector products (HVPs) and wall time, setup
  included; values compared with a float64 Lanczos reference converged to 1e-9.
- trace at equal sample count: PyHessian ``trace(maxIter=n, tol=0)`` (Hutchinson, n probes) against
  ``lk.hessian.trace(num_matvecs=n)`` (Hutchinson) and ``method="hutch++"``, with their standard errors.

    python benchmarks/hessian.py [--repeats 3] [--samples 100]

Results: ``benchmarks/out/hessian.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import landkit as lk


def trained_model():
    task = lk.tasks.digits(seed=0)
    model = lk.models.mlp(64, [128, 128], 10, seed=0)
    lk.train(model, task, steps=1000, lr=0.1, batch_size=32, seed=0, progress=False)
    return model, task


def pyhessian_counted(model, x, y):
    import sys

    import pyhessian  # noqa: F401  (its package re-exports the class under the module's name)

    ph = sys.modules["pyhessian.hessian"]

    calls = [0]
    original = ph.hessian_vector_product

    def counted(*a, **k):
        calls[0] += 1
        return original(*a, **k)

    ph.hessian_vector_product = counted
    try:
        h = ph.hessian(model, torch.nn.CrossEntropyLoss(), data=(x, y), cuda=False)
    except Exception:
        ph.hessian_vector_product = original
        raise
    return h, calls, lambda: setattr(ph, "hessian_vector_product", original)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples", type=int, default=99)
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "hessian.json"))
    args = ap.parse_args()
    model, task = trained_model()
    model.eval()
    x, y = task.x_train, task.y_train
    ref = lk.hessian.top_eigenvalues(model, task, k=1, tol=1e-9, dtype=torch.float64, max_iter=400)
    lam = float(ref.eigenvalues[0])
    print(f"reference λ_max = {lam:.8f} (float64 Lanczos, residual {ref.residuals[0]:.1e})")

    def run_pyhessian_eig(tol, seed):
        torch.manual_seed(seed)  # PyHessian draws its start vector from the global generator
        t0 = time.perf_counter()
        h, calls, restore = pyhessian_counted(model, x, y)
        try:
            vals, _ = h.eigenvalues(top_n=1, tol=tol)
        finally:
            restore()
        return time.perf_counter() - t0, float(vals[0]), calls[0]

    def run_landkit_eig(seed):
        t0 = time.perf_counter()
        top = lk.hessian.top_eigenvalues(model, task, k=1, tol=1e-3, seed=seed)
        return time.perf_counter() - t0, float(top.eigenvalues[0]), top.iterations

    def run_pyhessian_trace():
        t0 = time.perf_counter()
        h, calls, restore = pyhessian_counted(model, x, y)
        try:
            torch.manual_seed(0)
            vals = h.trace(maxIter=args.samples, tol=0.0)
        finally:
            restore()
        vals = np.asarray(vals)
        return (time.perf_counter() - t0, float(vals.mean()),
                float(vals.std(ddof=1) / np.sqrt(len(vals))), calls[0])  # fmt: skip

    def run_landkit_trace(method):
        t0 = time.perf_counter()
        est = lk.hessian.trace(model, task, num_matvecs=args.samples, seed=0, method=method)
        return time.perf_counter() - t0, est.estimate, est.stderr, est.num_matvecs

    eig_methods = {
        "pyhessian eig tol 1e-3": lambda seed: run_pyhessian_eig(1e-3, seed),
        "pyhessian eig tol 1e-4": lambda seed: run_pyhessian_eig(1e-4, seed),
        "landkit eig": run_landkit_eig,
    }
    trace_methods = {
        "pyhessian trace": run_pyhessian_trace,
        "landkit trace": lambda: run_landkit_trace("hutchinson"),
        "landkit trace hutch++": lambda: run_landkit_trace("hutch++"),
    }
    runs = {k: [] for k in [*eig_methods, *trace_methods]}
    for seed in range(args.repeats):
        for name, fn in eig_methods.items():
            runs[name].append(fn(seed))
        for name, fn in trace_methods.items():
            runs[name].append(fn())
    out = {"reference_lambda_max": lam, "samples": args.samples, "threads": torch.get_num_threads()}
    for name, rs in runs.items():
        t = statistics.median(r[0] for r in rs)
        row = {"seconds": t, "all_seconds": [r[0] for r in rs], "value": rs[0][1]}
        if "eig" in name:
            row["hvps"] = statistics.median(r[2] for r in rs)
            row["all_hvps"] = [r[2] for r in rs]
            row["max_rel_error"] = max(abs(r[1] - lam) / lam for r in rs)
        else:
            row["stderr"], row["hvps"] = rs[0][2], rs[0][3]
        out[name] = row
    le = out["landkit eig"]
    for name in ("pyhessian eig tol 1e-3", "pyhessian eig tol 1e-4"):
        pe = out[name]
        pe["landkit_speedup"] = pe["seconds"] / le["seconds"]
        pe["landkit_hvp_ratio"] = pe["hvps"] / le["hvps"]
    for name in eig_methods:
        r = out[name]
        extra = (f"; landkit {r['landkit_speedup']:.2f}x faster, {r['landkit_hvp_ratio']:.2f}x fewer "
                 "HVPs" if "landkit_speedup" in r else "")  # fmt: skip
        print(f"{name:24s} λ={r['value']:.6f}  median {r['hvps']:.0f} HVPs {r['all_hvps']}, "
              f"{r['seconds']:.3f} s, max error {r['max_rel_error']:.1e}{extra}")  # fmt: skip
    pt, lt = out["pyhessian trace"], out["landkit trace"]
    out["trace_speedup"] = pt["seconds"] / lt["seconds"]
    for name in ("pyhessian trace", "landkit trace", "landkit trace hutch++"):
        r = out[name]
        print(f"{name:22s} {r['value']:10.3f} ± {r['stderr']:.3f}  ({r['hvps']} HVPs, "
              f"{r['seconds']:.2f} s)")  # fmt: skip
    print(f"trace speed at equal samples: {out['trace_speedup']:.2f}x")
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
