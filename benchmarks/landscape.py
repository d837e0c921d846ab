"""51×51 filter-normalised loss planes: landkit against ``loss_landscapes.random_plane``, in one run.

Two cases (the issue's):

- ``small`` (overhead-bound): MLP [32] on 256 digits samples;
- ``large`` (compute-bound): MLP [256, 256] on the whole digits training set.

Each method evaluates the same model on the same tensors over a 51 × 51 grid; repeats are interleaved
and medians reported. Methods: ``loss_landscapes`` (the peer, ``random_plane(..., normalization="filter")``),
``naive`` (a plain loop: ``vector_to_parameters`` then ``model(x)`` per point, ``.item()`` per point),
and landkit's ``plane`` with ``backend="auto"`` (what a user gets), ``"loop"`` and ``"vmap"``.

The achieved FLOP rate counts what a naive evaluation needs (2·N·Σ in·out per point, the matmuls of every
layer), against the machine's dense-matmul rate measured in the same run (``torch.mm`` of the large case's
own layer shape, and of 2048³).

    python benchmarks/landscape.py [--repeats 3] [--threads 0] [--device cpu]

Results: ``benchmarks/out/landscape.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

import landkit as lk


def matmul_rate(m, k, n, device, seconds=1.0):
    a = torch.randn(m, k, device=device)
    b = torch.randn(k, n, device=device)
    out = torch.empty(m, n, device=device)
    torch.mm(a, b, out=out)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        torch.mm(a, b, out=out)
        reps += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * m * k * n * reps / (time.perf_counter() - t0)


def naive_flops(model, n):
    return sum(2 * n * m.in_features * m.out_features for m in model.modules()
               if isinstance(m, torch.nn.Linear))  # fmt: skip


def run_peer(model, x, y, res):
    import loss_landscapes
    import loss_landscapes.metrics

    metric = loss_landscapes.metrics.Loss(torch.nn.functional.cross_entropy, x, y)
    t0 = time.perf_counter()
    loss_landscapes.random_plane(
        model, metric, distance=1, steps=res, normalization="filter", deepcopy_model=True
    )
    return time.perf_counter() - t0


@torch.no_grad()
def run_naive(model, x, y, res):
    import copy

    probe = copy.deepcopy(model).eval()
    d1, d2 = lk.landscape.directions(model, "filter", seed=0)
    center = torch.nn.utils.parameters_to_vector(model.parameters())
    t0 = time.perf_counter()
    out = []
    for a in torch.linspace(-1, 1, res):
        for b in torch.linspace(-1, 1, res):
            torch.nn.utils.vector_to_parameters(center + a * d1 + b * d2, probe.parameters())
            out.append(torch.nn.functional.cross_entropy(probe(x), y).item())
    return time.perf_counter() - t0


def run_landkit(model, x, y, res, strategy):
    t0 = time.perf_counter()
    surf = lk.landscape.plane(
        model, (x, y), resolution=res, backend=strategy, progress=False, seed=0
    )
    return time.perf_counter() - t0, surf.info["backend"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--resolution", type=int, default=51)
    ap.add_argument("--cases", default="small,large")
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "landscape.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    task = lk.tasks.digits(seed=0)
    res = args.resolution
    results = {"device": str(device), "threads": torch.get_num_threads(), "resolution": res}
    gemm = {
        "large_layer": matmul_rate(task.n_train, 256, 256, device),
        "2048^3": matmul_rate(2048, 2048, 2048, device),
    }
    results["matmul_flops_per_s"] = gemm
    peak = max(gemm.values())
    print(f"device {device}, {torch.get_num_threads()} threads; matmul "
          + ", ".join(f"{k}: {v / 1e9:.1f} GFLOP/s" for k, v in gemm.items()))  # fmt: skip
    cases = {
        "small": (lk.models.mlp(64, [32], 10, seed=0), task.x_train[:256], task.y_train[:256]),
        "large": (lk.models.mlp(64, [256, 256], 10, seed=0), task.x_train, task.y_train),
    }
    for case in args.cases.split(","):
        model, x, y = cases[case]
        model, x, y = model.to(device), x.to(device), y.to(device)
        methods = {
            "loss_landscapes": lambda m, x, y: (run_peer(m, x, y, res), "-"),
            "naive": lambda m, x, y: (run_naive(m, x, y, res), "-"),
            **{
                f"landkit-{s}" if s != "auto" else "landkit": (
                    lambda m, x, y, s=s: run_landkit(m, x, y, res, s)
                )
                for s in ("auto", "loop", "vmap", "batched")
            },
        }
        times = {k: [] for k in methods}
        chosen = {}
        run_landkit(model, x[:8], y[:8], 5, "auto")  # warm-up
        for _ in range(args.repeats):
            for name, fn in methods.items():
                t, strat = fn(model, x, y)
                times[name].append(t)
                chosen[name] = strat
        med = {k: statistics.median(v) for k, v in times.items()}
        flops = naive_flops(model, len(x)) * res * res
        row = {
            "n_samples": len(x),
            "params": sum(p.numel() for p in model.parameters()),
            "naive_flops": flops,
            "seconds": med,
            "all_seconds": times,
            "speedup_vs_loss_landscapes": {k: med["loss_landscapes"] / v for k, v in med.items()},
            "fraction_of_matmul_rate": {k: flops / v / peak for k, v in med.items()},
            "auto_chose": chosen["landkit"],
        }
        results[case] = row
        print(f"\n{case}: MLP {row['params']} params, {len(x)} samples, {res}x{res} grid "
              f"(naive {flops / 1e9:.1f} GFLOP); landkit auto chose {chosen['landkit']}")  # fmt: skip
        for k in methods:
            print(f"  {k:16s} {med[k]:8.3f} s   {row['speedup_vs_loss_landscapes'][k]:6.2f}x vs "
                  f"loss_landscapes   {100 * row['fraction_of_matmul_rate'][k]:5.1f}% of matmul rate")  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
