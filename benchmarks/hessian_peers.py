"""λ_max and the top-5 Hessian eigenvalues: landkit against hessian-eigenthings 1.0.0a5, in one run.

The model and data of ``hessian.py``: a digits MLP [128, 128] (26k parameters) after 1000 SGD steps, the
Hessian of the mean cross-entropy over the whole training set (1438 samples, one batch), float32, CPU,
one torch thread. Each method starts from ``--repeats`` random vectors; counted: Hessian-vector
products (HVPs), wall time (setup included) and the worst relative error of the k-th eigenvalue against a
float64 Lanczos reference converged to 1e-9.

- landkit ``lk.hessian.top_eigenvalues(k, tol=1e-3)``: Lanczos that stops on the residual bound and
  verifies (deflated) that nothing lies beyond the k-th value.
- hessian-eigenthings ``lanczos(op, k=k)``: its default Krylov size (2k steps, no early stop), and the
  smallest ``max_iter`` at which every start lands within 1e-3 (found by trying 2k, 3k, ... — a choice
  a user cannot make without the reference, so the most favourable case for the peer);
  ``power_iteration_one(op, tol=1e-4)`` at k = 1.
- Equal accuracy, both ways (oracle choices for both): the peer's Krylov size at which every start is
  as accurate as landkit's worst, and the loosest landkit ``tol`` (1e-3 … 1e-1) whose worst error stays
  within 1e-3.

    python benchmarks/hessian_peers.py [--repeats 5]

Results: ``benchmarks/out/hessian_peers.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

import landkit as lk

TOL = 1e-3


def trained_model():
    task = lk.tasks.digits(seed=0)
    model = lk.models.mlp(64, [128, 128], 10, seed=0)
    lk.train(model, task, steps=1000, lr=0.1, batch_size=32, seed=0, progress=False)
    model.eval()
    return model, task


class Counted:
    """Counts the HVPs of a hessian-eigenthings operator."""

    def __init__(self, op):
        self.op, self.n = op, 0

    def __getattr__(self, name):
        return getattr(self.op, name)

    def matvec(self, v):
        self.n += 1
        return self.op.matvec(v)

    __call__ = matvec


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "hessian_peers.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    import hessian_eigenthings as he

    model, task = trained_model()
    x, y = task.x_train, task.y_train
    ref = lk.hessian.top_eigenvalues(model, task, k=5, tol=1e-9, dtype=torch.float64, max_iter=400)
    lams = [float(v) for v in ref.eigenvalues]
    print("reference top 5:", [round(v, 6) for v in lams])
    loss = he.supervised_loss(torch.nn.functional.cross_entropy)

    def he_op():
        return Counted(he.HessianOperator(model, [(x, y)], loss))

    def landkit(k, seed, tol=TOL, verify=True):
        t0 = time.perf_counter()
        r = lk.hessian.top_eigenvalues(model, task, k=k, tol=tol, seed=seed, verify=verify)
        return time.perf_counter() - t0, [float(v) for v in r.eigenvalues], r.iterations

    def he_lanczos(k, seed, max_iter=None):
        t0 = time.perf_counter()
        op = he_op()
        r = he.lanczos(op, k=k, max_iter=max_iter, seed=seed, which="LA")
        vals = sorted((float(v) for v in r.eigenvalues), reverse=True)
        return time.perf_counter() - t0, vals, op.n

    def he_power(seed):
        t0 = time.perf_counter()
        op = he_op()
        val, _, _, _, _ = he.power_iteration_one(op, tol=1e-4, seed=seed)
        return time.perf_counter() - t0, [float(val)], op.n

    def err(vals, k):
        return max(abs(vals[i] - lams[i]) / abs(lams[i]) for i in range(k))

    out = {"reference": lams, "tol": TOL, "threads": 1}
    for k in (1, 5):
        # the smallest Krylov size at which every start is within TOL (oracle choice for the peer)
        m = 2 * k
        while m < 200 and any(err(he_lanczos(k, s, m)[1], k) > TOL for s in range(args.repeats)):
            m += k
        # equal accuracy, both ways: the peer's Krylov size that matches landkit's worst error, and the
        # loosest landkit tol whose worst error stays within TOL (both oracle choices)
        lk_err = max(err(landkit(k, s)[1], k) for s in range(args.repeats))
        m_eq = m
        while m_eq < 200 and any(err(he_lanczos(k, s, m_eq)[1], k) > lk_err
                                 for s in range(args.repeats)):  # fmt: skip
            m_eq += 1
        loose = TOL
        for t in (3e-3, 1e-2, 3e-2, 1e-1):
            if all(err(landkit(k, s, t)[1], k) <= TOL for s in range(args.repeats)):
                loose = t
            else:
                break
        methods = {
            "landkit": lambda s, k=k: landkit(k, s),
            f"landkit tol {loose:g} (loosest within {TOL:g})": lambda s, k=k, t=loose: landkit(k, s, t),
            "landkit verify=False (no deflated check)": lambda s, k=k: landkit(k, s, verify=False),
            "hessian-eigenthings lanczos (default 2k steps)": lambda s, k=k: he_lanczos(k, s),
            f"hessian-eigenthings lanczos ({m} steps: smallest within tol)":
                lambda s, k=k, m=m: he_lanczos(k, s, m),
            f"hessian-eigenthings lanczos ({m_eq} steps: landkit's accuracy)":
                lambda s, k=k, m=m_eq: he_lanczos(k, s, m),
        }  # fmt: skip
        if k == 1:
            methods["hessian-eigenthings power_iteration_one (tol 1e-4)"] = he_power
        runs = {name: [] for name in methods}
        for s in range(args.repeats):  # interleaved
            for name, fn in methods.items():
                runs[name].append(fn(s))
        base = statistics.median(r[0] for r in runs["landkit"])
        print(f"\nk = {k}")
        for name, rs in runs.items():
            t = statistics.median(r[0] for r in rs)
            row = {"seconds": t, "all_seconds": [r[0] for r in rs],
                   "hvps": statistics.median(r[2] for r in rs), "all_hvps": [r[2] for r in rs],
                   "max_rel_error": max(err(r[1], k) for r in rs), "landkit_speedup": t / base}  # fmt: skip
            out[f"k={k} {name}"] = row
            print(f"  {name:62s} {t:6.3f} s  HVPs {row['hvps']:5.0f} ({min(row['all_hvps'])}-"
                  f"{max(row['all_hvps'])})  worst error {row['max_rel_error']:.1e}  "
                  f"landkit {row['landkit_speedup']:.2f}x")  # fmt: skip
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
