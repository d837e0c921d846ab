"""``landkit`` on the command line: the headless main job.

landkit tour --out report/           train a small digits ensemble, record it, write the report
landkit report RUN_DIR --out report/ the same report for runs you recorded yourself
landkit student notebooks/ OUT/      student copies: solution cells become stubs with their checks
landkit site notebooks/ OUT/ [--fast] the notebooks executed, as a static website that needs no network
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def tour_run(width: int, seed: int, steps: int, run_dir: str):
    """One run of the tour's ensemble: a digits MLP recorded on a geometric schedule."""
    import landkit as lk

    task = lk.tasks.digits(seed=0)
    model = lk.models.mlp(task.in_features, [width], task.n_classes, seed=seed)
    # geometric for the early phase and aging, every(steps/50) for the Koopman lens's uniform sampling
    schedule = lk.schedules.geometric(1, steps, 80) | lk.schedules.every(max(1, steps // 50))
    rec = lk.Recorder(run_dir, schedule=schedule, config={"width": width})
    return lk.train(
        model, task, steps=steps, lr=0.1, batch_size=32, seed=seed, recorder=rec, progress=False
    )


def tour(out: str, root: str, fast: bool, workers: int | None, threads: int | None = None) -> Path:
    import torch

    import landkit as lk
    from landkit.report import build_report

    if threads:  # the report's lenses run here; the runs in their own processes, one thread each
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    steps = 300 if fast else 4000
    seeds = range(2) if fast else range(5)  # five per width: enough for the Conley-Morse graph
    grid = lk.grid(width=[8, 32, 128], seed=seeds, steps=steps)
    print(
        f"landkit tour: training {len(grid)} digits MLPs ({steps} steps each), recording into {root}/"
    )
    res = lk.sweep(tour_run, grid, root, max_workers=workers)
    if res.failed:
        for r in res.failed:
            print(f"run {r['name']} failed:\n{r['error']}", file=sys.stderr)
        raise SystemExit(1)
    runs = lk.load_runs(root)
    train_s = time.perf_counter() - t0
    index = build_report(runs, out, title="landkit tour: a digits MLP ensemble",
                         notes=f"Training and recording took {train_s:.0f} s.",
                         sweep=lk.examples.example_runs("taxonomy-fast"), references=True)  # fmt: skip
    print(f"landkit tour: done in {time.perf_counter() - t0:.0f} s; report at {index.resolve()}")
    return index


def report(run_dir: str, out: str) -> Path:
    import landkit as lk
    from landkit.report import build_report

    path = Path(run_dir)
    runs = lk.RunSet([lk.load(path)]) if lk.store.is_store(path) else lk.load_runs(path)
    index = build_report(runs, out, title=f"landkit report: {path.name}")
    print(f"landkit report: {len(runs)} runs; report at {index.resolve()}")
    return index


def _env_threads() -> int:
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "1")))
    except ValueError:
        return 1


def main(argv=None):
    ap = argparse.ArgumentParser(prog="landkit", description="See how a neural network learns.")
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tour", help="train a small ensemble on digits and write the report")
    t.add_argument("--out", default="report", help="report directory (default: report/)")
    t.add_argument(
        "--root", default="runs/tour", help="where the runs are recorded (default: runs/tour/)"
    )
    t.add_argument("--fast", action="store_true", help="a smaller ensemble, for a quick look")
    t.add_argument("--workers", type=int, default=None, help="processes (default: CPU count)")
    t.add_argument(
        "--threads",
        type=int,
        default=_env_threads(),
        help="torch threads for the report's lenses (default: $OMP_NUM_THREADS, else 1: the "
        "models are small and more threads thrash on a busy laptop)",
    )
    r = sub.add_parser("report", help="write the report for recorded runs")
    r.add_argument("run_dir", help="a run directory, or a directory of runs (e.g. a sweep)")
    r.add_argument("--out", default="report")
    s = sub.add_parser("student", help="write student copies of the notebooks (solutions removed)")
    s.add_argument("src", help="a notebook or a folder of notebooks")
    s.add_argument("out", help="the folder for the student copies")
    w = sub.add_parser("site", help="execute the notebooks and write them as an offline website")
    w.add_argument("src", help="the folder of notebooks")
    w.add_argument("out", help="the folder for the website")
    w.add_argument("--fast", action="store_true", help="execute with FAST = True")
    w.add_argument("--only", nargs="*", help="only these notebooks (names or stems)")
    args = ap.parse_args(argv)
    if args.command == "site":
        from landkit.site import build_site

        print(f"written: {build_site(args.src, args.out, fast=args.fast, names=args.only)}")
        return
    if args.command == "tour":
        tour(args.out, args.root, args.fast, args.workers, args.threads)
    elif args.command == "student":
        student(args.src, args.out)
    else:
        report(args.run_dir, args.out)


def student(src: str, out: str) -> list[Path]:
    """Student copies of ``src`` (a notebook or a folder of them) in ``out``; only notebooks with
    exercises (cells tagged ``solution``) are written."""
    from landkit.teach import make_student

    src_path = Path(src)
    paths = sorted(src_path.glob("*.ipynb")) if src_path.is_dir() else [src_path]
    written = []
    for path in paths:
        if '"solution"' not in path.read_text():
            continue
        dst = Path(out) / path.name
        counts = make_student(path, dst)
        print(f"{dst}: {counts['solutions']} exercises")
        written.append(dst)
    if not written:
        print(f"no notebook with exercises (cells tagged 'solution') in {src}")
    return written


if __name__ == "__main__":
    main()
