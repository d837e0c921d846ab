"""Filter-normalised loss planes on every model family, landkit against loss-landscapes and landscaper.

Each measurement runs in a fresh process, so no tool inherits another's warm caches or memory, and the
methods alternate, their order rotating every repeat (A B C, B C A, C A B, ...). landscaper 1.3.1 pins numpy 1.26 and networkx 2.8, so it lives in
its own virtual environment: pass its python with ``--landscaper-python`` (set it up with
``python -m venv /tmp/lsvenv && /tmp/lsvenv/bin/pip install -c constraints.txt torch==2.13.0
landscaper==1.3.1``); without it the landscaper column is skipped. The models (``_families.py``) are
plain torch, seeded, in eval mode, on the first ``--samples`` digits; every tool evaluates the mean
cross-entropy on all of them at every point.

- ``landkit``: ``lk.landscape.plane(model, (x, y), resolution=R, progress=False)`` (what a user types);
- ``loss_landscapes``: ``random_plane(model, Loss(cross_entropy, x, y), distance=1, steps=R,
  normalization="filter", deepcopy_model=True)``;
- ``landscaper``: ``LossLandscape.compute(model, (x, y), [d1, d2], scalar_fn, steps=R, distance=1,
  dim=2, device="cpu")`` with two random Gaussian directions, ``scalar_fn`` the loss's ``.item()``.

Timed: the call alone (imports, model and data outside); peak memory: the process's VmHWM reset just
before the call (``_memory.py``), so it counts the tool's own growth over model, data and imports. Also
reported: seconds per point in units of one plain forward pass of the model (``loss_fn(model(x), y)``)
timed in the same process just before and after the call — what a tool adds to or saves on the model's
own cost, less sensitive to a host whose speed changes between processes (this VM's does, by ±30%).

    python benchmarks/landscape_families.py [--families cnn,bn_resnet,transformer,mlp]
        [--resolutions 41,51] [--repeats 3] [--samples 512] [--threads 1]
        [--landscaper-python /tmp/lsvenv/bin/python]

Results: ``benchmarks/out/landscape_families.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
METHODS = ("landkit", "loss_landscapes", "landscaper")


def one(method: str, family: str, res: int, samples: int, threads: int) -> dict:
    """One plane in this process; returns seconds, the peak memory growth and the centre's loss."""
    import torch

    sys.path.insert(0, str(HERE))
    import _families
    import _memory

    torch.set_num_threads(threads)
    model, x, y = _families.build(family, samples)
    loss_fn = torch.nn.functional.cross_entropy
    if method == "landkit":
        import landkit as lk

        def call():
            surf = lk.landscape.plane(model, (x, y), resolution=res, progress=False, seed=0)
            return float(surf.loss[res // 2, res // 2]), surf.info.get("backend")
    elif method == "loss_landscapes":
        import loss_landscapes
        import loss_landscapes.metrics

        def call():
            metric = loss_landscapes.metrics.Loss(loss_fn, x, y)
            grid = loss_landscapes.random_plane(model, metric, distance=1, steps=res,
                                                normalization="filter", deepcopy_model=True)  # fmt: skip
            return float(grid[res // 2][res // 2]), "-"
    elif method == "landscaper":
        import contextlib
        import io

        from landscaper import LossLandscape

        g = torch.Generator().manual_seed(0)
        dirs = [[torch.randn(p.shape, generator=g) for p in model.parameters()] for _ in range(2)]

        def scalar_fn(m, data):
            with torch.no_grad():
                return loss_fn(m(data[0]), data[1]).item()

        def call():
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                land = LossLandscape.compute(model, (x, y), dirs, scalar_fn, steps=res, distance=1,
                                             dim=2, device="cpu")  # fmt: skip
            return float(land.loss[res // 2, res // 2]), "-"
    else:
        raise ValueError(method)

    def forward_seconds(reps=30):  # the machine's speed now: one plain evaluation of the model
        with torch.no_grad():
            loss_fn(model(x), y)
            t = time.perf_counter()
            for _ in range(reps):
                loss_fn(model(x), y).item()
            return (time.perf_counter() - t) / reps

    with torch.no_grad():
        center = float(loss_fn(model(x), y))
    before = forward_seconds()
    rss0 = _memory.start()
    t0 = time.perf_counter()
    mid, backend = call()
    seconds = time.perf_counter() - t0
    peak = _memory.peak_gib() - rss0
    after = forward_seconds()
    # seconds per point in units of one plain forward pass measured just before and after: what the
    # tool adds to (or saves on) the model's own cost, less sensitive to a host that changes speed
    forwards = seconds / (res * res) / ((before + after) / 2)
    return {"seconds": seconds, "peak_growth_gib": peak, "rss_before_gib": rss0,
            "forward_s_before_after": [before, after], "forwards_per_point": forwards,
            "center_loss": center, "grid_center_loss": mid, "backend": backend,
            "params": _families.parameter_count(model)}  # fmt: skip


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default="cnn,bn_resnet,transformer,mlp")
    ap.add_argument("--resolutions", default="41,51")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--landscaper-python", default=None)
    ap.add_argument("--one", nargs=3, metavar=("METHOD", "FAMILY", "RES"), help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(HERE / "out" / "landscape_families.json"))
    args = ap.parse_args()
    if args.one:
        method, family, res = args.one
        print(json.dumps(one(method, family, int(res), args.samples, args.threads)))
        return
    pythons = {"landkit": sys.executable, "loss_landscapes": sys.executable}
    if args.landscaper_python:
        pythons["landscaper"] = args.landscaper_python
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONWARNINGS": "ignore"}
    load = [os.getloadavg()]
    results = {
        "threads": args.threads,
        "samples": args.samples,
        "repeats": args.repeats,
        "cases": {},
    }
    for family in args.families.split(","):
        for res in (int(r) for r in args.resolutions.split(",")):
            runs = {m: [] for m in pythons}
            order = list(pythons)
            for rep in range(args.repeats):
                # the order rotates every repeat: a burst of load or a warm cache favours no tool
                for method in order[rep % len(order) :] + order[: rep % len(order)]:
                    py = pythons[method]
                    cmd = [py, __file__, "--one", method, family, str(res), "--samples",
                           str(args.samples), "--threads", str(args.threads)]  # fmt: skip
                    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
                    if out.returncode:
                        raise SystemExit(f"{method} {family} {res}: {out.stderr[-2000:]}")
                    runs[method].append(json.loads(out.stdout.strip().splitlines()[-1]))
            med = {m: statistics.median(r["seconds"] for r in rs) for m, rs in runs.items()}
            best_peer = min(v for m, v in med.items() if m != "landkit")
            case = {
                "params": runs["landkit"][0]["params"],
                "seconds": med,
                "range": {
                    m: [min(r["seconds"] for r in rs), max(r["seconds"] for r in rs)]
                    for m, rs in runs.items()
                },
                "peak_growth_gib": {
                    m: max(r["peak_growth_gib"] for r in rs) for m, rs in runs.items()
                },
                "forwards_per_point": {
                    m: statistics.median(r["forwards_per_point"] for r in rs)
                    for m, rs in runs.items()
                },
                "center_loss": {m: rs[0]["grid_center_loss"] for m, rs in runs.items()},
                "landkit_backend": [r["backend"] for r in runs["landkit"]],
                "landkit_vs_best_peer": best_peer / med["landkit"],
                # paired: each repeat's landkit time against the same repeat's fastest peer
                "paired": [
                    min(rs[i]["seconds"] for m, rs in runs.items() if m != "landkit")
                    / runs["landkit"][i]["seconds"]
                    for i in range(args.repeats)
                ],
            }
            results["cases"][f"{family}-{res}"] = case
            print(f"{family} ({case['params']} params) {res}x{res}: "
                  + ", ".join(f"{m} {v:.2f} s" for m, v in med.items())
                  + f"; landkit {case['landkit_vs_best_peer']:.2f}x the best peer (pairs "
                  + ", ".join(f"{p:.2f}" for p in case["paired"]) + "), backend "
                  + ",".join(case["landkit_backend"]) + "; peak growth "
                  + ", ".join(f"{m} {v:.2f}" for m, v in case["peak_growth_gib"].items())
                  + " GiB; forwards per point "
                  + ", ".join(f"{m} {v:.2f}" for m, v in case["forwards_per_point"].items()),
                  flush=True)  # fmt: skip
    load.append(os.getloadavg())
    results["load_average_before_after"] = load
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"load average before {load[0]}, after {load[1]}; wrote {out}")


if __name__ == "__main__":
    main()
