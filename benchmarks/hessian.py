"""Hessian λ_max and trace: landkit against PyHessian, on the same model and data, in one run.

Model: a digits MLP [128, 128] (26k parameters) trained for 1000 SGD steps; the Hessian of the mean
cross-entropy over the whole training set (1438 samples), float32, CPU.

- λ_max to tol 1e-3: PyHessian ``hessian(...).eigenvalues(top_n=1, tol=1e-3)`` (power iteration,
  stopping when two consecutive estimates differ by < 1e-3 relative) against
  ``lk.hessian.top_eigenvalues(k=1, tol=1e-3)`` (Lanczos, stopping when the residual ‖Hv − λv‖ ≤ 1e-3·λ,
  a stricter test). Counted: Hessian-vector products (HVPs) and wall time, setup included; both values
  compared with a float64 Lanczos reference converged to 1e-9.
- trace at equal sample count: PyHessian ``trace(maxIter=n, tol=0)`` (Hutchinson, n probes) against
  ``lk.hessian.trace(n_samples=n)`` (Hutchinson) and ``method="hutch++"``, with their standard errors.

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
    import pyhessian.hessian as ph

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

    def run_pyhessian_eig():
        t0 = time.perf_counter()
        h, calls, restore = pyhessian_counted(model, x, y)
        try:
            vals, _ = h.eigenvalues(top_n=1, tol=1e-3)
        finally:
            restore()
        return time.perf_counter() - t0, float(vals[0]), calls[0]

    def run_landkit_eig():
        t0 = time.perf_counter()
        top = lk.hessian.top_eigenvalues(model, task, k=1, tol=1e-3, seed=0)
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
        est = lk.hessian.trace(model, task, n_samples=args.samples, seed=0, method=method)
        return time.perf_counter() - t0, est.estimate, est.stderr, est.n_samples

    methods = {
        "pyhessian eig": run_pyhessian_eig,
        "landkit eig": run_landkit_eig,
        "pyhessian trace": run_pyhessian_trace,
        "landkit trace": lambda: run_landkit_trace("hutchinson"),
        "landkit trace hutch++": lambda: run_landkit_trace("hutch++"),
    }
    runs = {k: [] for k in methods}
    for _ in range(args.repeats):
        for name, fn in methods.items():
            runs[name].append(fn())
    out = {"reference_lambda_max": lam, "samples": args.samples, "threads": torch.get_num_threads()}
    for name, rs in runs.items():
        t = statistics.median(r[0] for r in rs)
        row = {"seconds": t, "all_seconds": [r[0] for r in rs], "value": rs[0][1]}
        if "eig" in name:
            row["hvps"] = rs[0][2]
            row["rel_error"] = abs(rs[0][1] - lam) / lam
        else:
            row["stderr"], row["hvps"] = rs[0][2], rs[0][3]
        out[name] = row
    pe, le = out["pyhessian eig"], out["landkit eig"]
    out["eig_speedup"] = pe["seconds"] / le["seconds"]
    out["eig_hvp_ratio"] = pe["hvps"] / le["hvps"]
    pt, lt = out["pyhessian trace"], out["landkit trace"]
    out["trace_speedup"] = pt["seconds"] / lt["seconds"]
    print(f"λ_max: PyHessian {pe['value']:.6f} ({pe['hvps']} HVPs, {pe['seconds']:.2f} s, "
          f"error {pe['rel_error']:.1e}); landkit {le['value']:.6f} ({le['hvps']} HVPs, "
          f"{le['seconds']:.2f} s, error {le['rel_error']:.1e}): {out['eig_speedup']:.2f}x faster, "
          f"{out['eig_hvp_ratio']:.2f}x fewer HVPs")  # fmt: skip
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
