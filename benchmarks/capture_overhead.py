"""Wall-time overhead of recording a run, against the same training without a recorder, in one run.

Digits MLP (hidden [256, 256], 84,234 parameters), SGD, 2000 steps, minibatch 32 and full batch.
Variants:

- ``baseline``: ``lk.train`` without a recorder;
- ``landkit_every_step``: a Recorder on ``every(1)`` (2001 snapshots, 674 MB);
- ``landkit_geometric_100``: a Recorder on ``geometric(1, 2000, 100)`` (~90 snapshots);
- ``landkit_every_step_lz4``: every step, ``compress="lz4"`` (XOR of consecutive snapshots + Blosc);
- ``landkit_every_step_nice10``: every step with the writer thread at ``nice +10`` (what landkit shipped
  before; starves under load);
- ``landkit_every_step_float16``: every step stored as float16 (half the bytes; lossy, an explicit choice);
- ``landkit_every_step_default_evaluate``: every step with the default ``evaluate="auto"`` (about 100
  full train/test evaluations instead of none);
- ``landkit_every_step_evaluate_all``: every step, evaluating at every snapshot (``evaluate=True``, the
  default before 2026-11-24);
- ``naive_deepcopy_list``: ``copy.deepcopy(model.state_dict())`` appended to a list after every step;
- ``naive_np_save``: ``np.save`` of the flat parameters to one file per step.

Recorders use ``evaluate=False`` so every variant does the same arithmetic (the recorder then stores the
minibatch loss, lr and gradient norm). Each variant runs ``--repeats`` times, interleaved, and the median is
reported; ratios are against the baseline's median in the same run. Also measured: the floor that any
every-step recorder pays on this machine — copying the parameters once per step, and writing 674 MB.

    python benchmarks/capture_overhead.py [--steps 2000] [--repeats 5] [--threads N] [--load K]

``--load K`` starts K busy background processes (pure-Python loops) for the whole measurement: the
"loaded laptop" case. The load average before and after is recorded with the results.

Results: ``benchmarks/out/capture_overhead.json`` (and the table printed).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import landkit as lk

TASK = lk.tasks.digits(seed=0)
LR = 0.05


def fresh():
    return lk.models.mlp(TASK.in_features, [256, 256], TASK.n_classes, seed=0)


def timed_train(steps, batch, *, recorder=None, model=None, optimizer="sgd"):
    model = model or fresh()
    t0 = time.perf_counter()
    lk.train(model, TASK, steps=steps, lr=LR, batch_size=batch, seed=0, recorder=recorder, progress=False,
             eval_every=0, optimizer=optimizer)  # fmt: skip
    return time.perf_counter() - t0


def with_step_hook(steps, batch, hook_factory):
    model = fresh()
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    opt.register_step_post_hook(hook_factory(model))
    return timed_train(steps, batch, model=model, optimizer=lambda _p: opt)


def variants(steps, batch, tmp: Path):
    def baseline():
        return timed_train(steps, batch)

    def every_step():
        rec = lk.Recorder(
            tmp / "every", schedule=lk.schedules.every(1), evaluate=False, overwrite=True
        )
        return timed_train(steps, batch, recorder=rec)

    def every_step_lz4():
        rec = lk.Recorder(tmp / "lz4", schedule=lk.schedules.every(1), evaluate=False,
                          overwrite=True, compress="lz4")  # fmt: skip
        return timed_train(steps, batch, recorder=rec)

    def every_step_nice():
        rec = lk.Recorder(
            tmp / "nice", schedule=lk.schedules.every(1), evaluate=False, overwrite=True
        )
        rec.start(fresh(), max_step=steps)  # the model is rebound on the first capture
        os.setpriority(os.PRIO_PROCESS, rec._thread.native_id, 10)
        return timed_train(steps, batch, recorder=rec)

    def every_step_float16():
        rec = lk.Recorder(tmp / "f16", schedule=lk.schedules.every(1), evaluate=False,
                          overwrite=True, dtype="float16")  # fmt: skip
        return timed_train(steps, batch, recorder=rec)

    def every_step_evaluate_all():
        rec = lk.Recorder(
            tmp / "evall", schedule=lk.schedules.every(1), evaluate=True, overwrite=True
        )
        return timed_train(steps, batch, recorder=rec)

    def every_step_default():
        rec = lk.Recorder(tmp / "default", schedule=lk.schedules.every(1), overwrite=True)
        return timed_train(steps, batch, recorder=rec)

    def geometric():
        sched = lk.schedules.geometric(1, steps, 100)
        rec = lk.Recorder(tmp / "geom", schedule=sched, evaluate=False, overwrite=True)
        return timed_train(steps, batch, recorder=rec)

    def naive_memory():
        snaps = []
        return with_step_hook(
            steps, batch, lambda m: lambda *_: snaps.append(copy.deepcopy(m.state_dict()))
        )

    def naive_npsave():
        d = tmp / "npsave"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        count = [0]

        def factory(model):
            def save(*_):
                flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()
                np.save(d / f"{count[0]:06d}.npy", flat)
                count[0] += 1

            return save

        return with_step_hook(steps, batch, factory)

    return {
        "baseline": baseline,
        "landkit_every_step": every_step,
        "landkit_geometric_100": geometric,
        "landkit_every_step_lz4": every_step_lz4,
        "landkit_every_step_nice10": every_step_nice,
        "landkit_every_step_float16": every_step_float16,
        "landkit_every_step_default_evaluate": every_step_default,
        "landkit_every_step_evaluate_all": every_step_evaluate_all,
        "naive_deepcopy_list": naive_memory,
        "naive_np_save": naive_npsave,
    }


def floor(steps, tmp: Path):
    """What any every-step recorder pays here: one copy of the parameters per step, and the disk write."""
    params = list(fresh().parameters())
    n = sum(p.numel() for p in params)
    buf = torch.empty(64, n)
    t0 = time.perf_counter()
    for i in range(steps):
        torch.cat([p.detach().reshape(-1) for p in params], out=buf[i % 64])
    copy_s = time.perf_counter() - t0
    # 4 MB files (the recorder's chunks) written in 1 MiB pieces: on the project's VM one write()
    # of a whole 4-22 MB buffer ran at 0.4-1 GB/s, the same bytes in pieces at about 3 GB/s
    rows = max(1, (4 << 20) // (4 * n))
    block = np.random.default_rng(0).random((rows, n), dtype=np.float32)
    view = memoryview(block).cast("B")
    t0 = time.perf_counter()
    written = 0
    for i in range(0, steps, rows):
        with open(tmp / f"floor{i}.bin", "wb", buffering=0) as f:
            for o in range(0, len(view), 1 << 20):
                f.write(view[o : o + (1 << 20)])
        written += block.nbytes
    write_s = time.perf_counter() - t0
    for f in tmp.glob("floor*.bin"):
        f.unlink()
    return {
        "param_copy_s": copy_s,
        "disk_write_s": write_s,
        "bytes_written": written,
        "disk_MB_per_s": written / write_s / 1e6,
    }


def capture_cost(n: int = 2000, blocks: int = 5):
    """Microseconds a snapshot costs the training thread itself (the copy off the model, the gradient
    norm, the scalars), the writer's disk writes discarded: what no disk or second core can hide.
    Through the same path as ``lk.train`` (``training._snapshot``); median of ``blocks`` timed blocks of
    ``n`` captures each, rows cycling through the recorder's chunk buffers as in a run."""
    from landkit import training

    model = fresh()
    loss = TASK.loss(model, TASK.x_train[:32], TASK.y_train[:32])
    loss.backward()
    params = list(model.parameters())
    tmp = Path(tempfile.mkdtemp(prefix="lk-capture-cost-"))
    rec = lk.Recorder(tmp / "run", schedule=lk.schedules.every(1), evaluate=False)
    rec.start(model, max_step=(blocks + 1) * n + 1)
    rec._writer.write = lambda *a, **k: None  # nothing reaches the disk
    rec._writer.commit = lambda *a, **k: None
    step, per = 0, []
    for b in range(blocks + 1):
        t0 = time.perf_counter()
        for _ in range(n):
            training._snapshot(rec, step, model, loss, {}, params, LR, TASK, None, None, None, 32)
            step += 1
        if b:  # the first block warms up
            per.append((time.perf_counter() - t0) / n * 1e6)
    rec.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return {"us_per_capture": statistics.median(per), "blocks_us": per}


def _busy():  # a background process that keeps one core busy
    while True:
        sum(range(100_000))


def start_load(k: int):
    import multiprocessing as mp

    procs = [mp.Process(target=_busy, daemon=True) for _ in range(k)]
    for p in procs:
        p.start()
    time.sleep(2)
    return procs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's choice)"
    )
    ap.add_argument("--load", type=int, default=0, help="busy background processes")
    ap.add_argument("--only", nargs="*", help="variants to run (baseline always)")
    ap.add_argument("--batch-size", type=int, nargs="+", default=[32, 0], help="0 = full batch")
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "capture_overhead.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="lk-bench-", dir=os.environ.get("LANDKIT_BENCH_DIR")))
    load_before = os.getloadavg()
    procs = start_load(args.load) if args.load else []
    results = {"steps": args.steps, "repeats": args.repeats, "torch_threads": torch.get_num_threads(),
               "n_params": sum(p.numel() for p in fresh().parameters()), "cases": {}}  # fmt: skip
    results["floor"] = floor(args.steps, tmp)
    results["capture_cost"] = capture_cost()
    print(
        f"training thread, per snapshot (writes discarded): {results['capture_cost']['us_per_capture']:.0f} us"
    )
    print(
        f"torch threads {results['torch_threads']}; {results['n_params']} parameters; floor: {results['floor']}"
    )
    for bs in args.batch_size:
        cases = variants(args.steps, bs or None, tmp)
        if args.only:
            cases = {k: v for k, v in cases.items() if k == "baseline" or k in args.only}
        cases["baseline"]()  # warm-up
        times = {k: [] for k in cases}
        for _ in range(args.repeats):
            for name, fn in cases.items():
                times[name].append(fn())
        med = {k: statistics.median(v) for k, v in times.items()}
        case = {
            k: {"median_s": med[k], "ratio": med[k] / med["baseline"], "all_s": times[k]}
            for k in cases
        }
        label = f"batch_size={bs or 'full'}"
        results["cases"][label] = case
        print(f"\n{label}: {args.steps} steps, median of {args.repeats}")
        for k, v in case.items():
            lo, hi = min(v["all_s"]) / med["baseline"], max(v["all_s"]) / med["baseline"]
            print(f"  {k:36s} {v['median_s']:7.3f} s   {v['ratio']:5.2f}x  ({lo:.2f}-{hi:.2f})")
    results["background_processes"] = args.load
    results["loadavg_before"], results["loadavg_after"] = load_before, os.getloadavg()
    for p in procs:
        p.terminate()
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average before {load_before}, after {results['loadavg_after']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
