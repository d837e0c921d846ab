"""Koopman spectrum of many tall trajectories: landkit's streamed DMD against dense pydmd, in one run.

Data: ``--runs`` stores of ``--snapshots`` snapshots × ``--params`` float32 parameters, written with
``lk.Recorder``: a 12-dimensional linear system (known eigenvalues, a clear gap after the 10th) embedded
in parameter space, plus noise. Each method runs in its own subprocess so that its peak memory (max RSS)
is its own:

- ``landkit``: ``lk.koopman.spectrum(runs, delays=delays, rank=rank, method="streamed")`` from the stores (reading
  included in the time);
- ``pydmd``: the runs read into memory, stacked into the dense delay matrices X, Y (float32 as stored),
  and ``pydmd.DMD(svd_rank=rank).fit(X, Y)`` (the fit alone is timed; reading and stacking reported apart).

    python benchmarks/koopman_scale.py [--runs 10] [--snapshots 500] [--params 200000] [--rank 10] [--delays 1]

The issue's configuration is the default; ``--params 20000`` is a quicker look. Results:
``benchmarks/out/koopman_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _memory import peak_gib


def make_data(root: Path, runs: int, snapshots: int, params: int, seed: int = 0):
    import torch

    import landkit as lk

    rng = np.random.default_rng(seed)
    lam = np.array([0.999, 0.99, 0.98, 0.97, 0.95, 0.93, 0.9, 0.88, 0.85, 0.8, 0.3, 0.2])
    A = np.diag(lam)
    A[0, 1], A[1, 0] = 0.05, -0.05  # one rotating pair
    embed = rng.standard_normal((params, len(lam))).astype(np.float32)
    for r in range(runs):
        model = torch.nn.Linear(params, 1, bias=False)
        rec = lk.Recorder(root / f"run{r}", evaluate=False, overwrite=True)
        x = rng.standard_normal(len(lam))
        for step in range(snapshots):
            w = embed @ x.astype(np.float32) + 1e-4 * rng.standard_normal(params).astype(np.float32)
            with torch.no_grad():
                model.weight.copy_(torch.from_numpy(w))
            rec.capture(step, model)
            x = A @ x
        rec.close()
    return np.linalg.eigvals(A)


def child(method: str, root: str, rank: int, delays: int, out: str):
    import landkit as lk

    trajs = [lk.load(p) for p in sorted(Path(root).iterdir())]
    result = {"method": method}
    if method == "landkit":
        t0 = time.perf_counter()
        spec = lk.koopman.spectrum(trajs, delays=delays, rank=rank, method="streamed")
        result["seconds"] = time.perf_counter() - t0
        eigs = spec.eigenvalues
    else:
        import warnings

        from pydmd import DMD

        t0 = time.perf_counter()
        X, Y = [], []
        for t in trajs:
            W = np.asarray(t.weights)  # float32, as stored
            n = len(W) - delays
            Z = np.concatenate([W[k : k + n] for k in range(delays + 1)], axis=1).T  # (features, n)
            X.append(Z[:, :-1])
            Y.append(Z[:, 1:])
            del W, Z
        X, Y = np.concatenate(X, axis=1), np.concatenate(Y, axis=1)
        result["load_stack_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dmd = DMD(svd_rank=rank).fit(X, Y)
        result["seconds"] = time.perf_counter() - t0
        eigs = np.asarray(dmd.eigs)
    result["peak_rss_gib"] = (
        peak_gib()
    )  # VmHWM: this process's own peak (ru_maxrss would carry the parent's)
    result["eigenvalues"] = [[z.real, z.imag] for z in np.asarray(eigs, dtype=complex)]
    Path(out).write_text(json.dumps(result))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--snapshots", type=int, default=500)
    ap.add_argument("--params", type=int, default=200_000)
    ap.add_argument("--rank", type=int, default=10)
    ap.add_argument("--delays", type=int, default=1)
    ap.add_argument(
        "--methods", nargs="+", default=["landkit", "pydmd"], choices=["landkit", "pydmd"]
    )
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "koopman_scale.json"))
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], args.rank, args.delays, args.child[2])
    with tempfile.TemporaryDirectory(prefix="lk-koopman-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        true = make_data(tmp / "runs", args.runs, args.snapshots, args.params)
        print(
            f"wrote {args.runs} runs × {args.snapshots} × {args.params} float32 in {time.perf_counter() - t0:.0f} s"
        )
        res = {}
        for method in args.methods:
            out = tmp / f"{method}.json"
            cmd = [sys.executable, __file__, "--rank", str(args.rank), "--delays", str(args.delays),
                   "--child", method, str(tmp / "runs"), str(out)]  # fmt: skip
            proc = subprocess.run(cmd)
            res[method] = (
                json.loads(out.read_text())
                if proc.returncode == 0 and out.exists()
                else {"failed": proc.returncode}
            )
            print(method, {k: v for k, v in res[method].items() if k != "eigenvalues"})
    summary = {"config": vars(args) | {"child": None}, "results": res}
    if "landkit" in res and "eigenvalues" in res["landkit"]:
        got = np.array([complex(*z) for z in res["landkit"]["eigenvalues"]])
        summary["landkit_vs_true_top"] = [
            sorted(np.abs(got))[::-1],
            sorted(np.abs(true))[::-1][: args.rank],
        ]
    if len(res) == 2 and all("eigenvalues" in r for r in res.values()):
        a, b = (
            np.array([complex(*z) for z in res[m]["eigenvalues"]]) for m in ("landkit", "pydmd")
        )
        from scipy.optimize import linear_sum_assignment

        cost = np.abs(a[:, None] - b[None, :])
        r, c = linear_sum_assignment(cost)
        summary["max_eigenvalue_difference"] = float(cost[r, c].max())
        summary["speedup"] = res["pydmd"]["seconds"] / res["landkit"]["seconds"]
        summary["memory_ratio"] = res["landkit"]["peak_rss_gib"] / res["pydmd"]["peak_rss_gib"]
        summary["true_top_eigenvalues"] = sorted(np.abs(true))[::-1][: args.rank]
        print(f"speed-up {summary['speedup']:.1f}×, peak memory ratio {summary['memory_ratio']:.2f}, "
              f"max |Δλ| = {summary['max_eigenvalue_difference']:.2e}")  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1, default=float))


if __name__ == "__main__":
    main()
