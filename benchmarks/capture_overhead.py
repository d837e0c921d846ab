"""Wall-time overhead of recording a run, against the same training without a recorder, in one run.

Digits MLP (hidden [256, 256], ~84k parameters), SGD, 2000 steps, minibatch 32 (and full batch).
Variants: no recorder (baseline); landkit every step; landkit geometric schedule of 100 snapshots;
naive in-memory (``copy.deepcopy(model.state_dict())`` appended to a list every step); naive on disk
(``np.save`` of the flat parameters every step). Recorders use ``evaluate=False`` so that every variant
does the same arithmetic (the recorder then stores the minibatch loss, lr and gradient norm).

Each variant is timed ``--repeats`` times, interleaved, and the median is reported; ratios are against
the baseline's median from the same run. Results go to ``benchmarks/out/capture_overhead.json``.

    python benchmarks/capture_overhead.py [--steps 2000] [--repeats 5] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import landkit as lk


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch-size", type=int, nargs="+", default=[32, 0], help="0 = full batch")
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "capture_overhead.json"))
    args = ap.parse_args()
    task = lk.tasks.digits(seed=0)
    tmp = Path(tempfile.mkdtemp(prefix="lk-bench-"))
    results = {"steps": args.steps, "repeats": args.repeats, "torch_threads": torch.get_num_threads(), "cases": {}}

    for bs in args.batch_size:
        batch = bs or None

        def fresh():
            return lk.models.mlp(task.in_features, [256, 256], task.n_classes, seed=0)

        def run(recorder=None, callback=None):
            model = fresh()
            t0 = time.perf_counter()
            lk.train(model, task, steps=args.steps, lr=0.05, batch_size=batch, seed=0, recorder=recorder,
                     progress=False, eval_every=0, callback=callback)  # fmt: skip
            return time.perf_counter() - t0

        def baseline():
            return run()

        def every_step():
            d = tmp / "every"
            return run(lk.Recorder(d, schedule=lk.schedules.every(1), evaluate=False, overwrite=True))

        def geometric():
            d = tmp / "geom"
            sched = lk.schedules.geometric(1, args.steps, 100)
            return run(lk.Recorder(d, schedule=sched, evaluate=False, overwrite=True))

        def naive_memory():
            # deepcopy of the state dict at every step, via a per-step hook on the optimizer
            snaps = []
            model = fresh()
            opt = torch.optim.SGD(model.parameters(), lr=0.05)
            opt.register_step_post_hook(lambda *_: snaps.append(copy.deepcopy(model.state_dict())))
            t0 = time.perf_counter()
            lk.train(model, task, steps=args.steps, lr=0.05, batch_size=batch, seed=0, progress=False,
                     eval_every=0, optimizer=lambda _p: opt)  # fmt: skip
            return time.perf_counter() - t0

        def naive_npsave():
            d = tmp / "npsave"
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
            model = fresh()
            opt = torch.optim.SGD(model.parameters(), lr=0.05)
            count = [0]

            def save(*_):
                flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()
                np.save(d / f"{count[0]:06d}.npy", flat)
                count[0] += 1

            opt.register_step_post_hook(save)
            t0 = time.perf_counter()
            lk.train(model, task, steps=args.steps, lr=0.05, batch_size=batch, seed=0, progress=False,
                     eval_every=0, optimizer=lambda _p: opt)  # fmt: skip
            return time.perf_counter() - t0

        variants = {
            "baseline": baseline,
            "landkit_every_step": every_step,
            "landkit_geometric_100": geometric,
            "naive_deepcopy_list": naive_memory,
            "naive_np_save": naive_npsave,
        }
        baseline()  # warm-up
        times = {k: [] for k in variants}
        for _ in range(args.repeats):
            for name, fn in variants.items():
                times[name].append(fn())
        med = {k: statistics.median(v) for k, v in times.items()}
        case = {k: {"median_s": med[k], "ratio": med[k] / med["baseline"], "all_s": times[k]} for k in variants}
        label = f"batch_size={bs or 'full'}"
        results["cases"][label] = case
        print(f"\n{label}: {args.steps} steps, median of {args.repeats}")
        for k, v in case.items():
            print(f"  {k:24s} {v['median_s']:7.3f} s   {v['ratio']:5.2f}x")
    shutil.rmtree(tmp, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
