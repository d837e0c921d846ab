"""Grids of runs on any ``concurrent.futures`` executor: local processes by default, or Dask.

Example
-------
>>> import concurrent.futures as cf
>>> def run(width, seed, run_dir):
...     task = lk.tasks.digits(seed=0, n_train=200)
...     model = lk.models.mlp(task.in_features, [width], task.n_classes, seed=seed)
...     rec = lk.Recorder(run_dir, schedule=lk.schedules.every(10))
...     return lk.train(model, task, steps=20, lr=0.1, seed=seed, recorder=rec, progress=False)
>>> with cf.ThreadPoolExecutor(2) as pool:   # the default is a pool of processes
...     res = lk.sweep(run, lk.grid(width=[4, 16], seed=range(2)), "runs/sweep", executor=pool,
...                    progress=False)
>>> sorted((c["width"], c["seed"]) for c in lk.load_runs("runs/sweep").configs)
[(4, 0), (4, 1), (16, 0), (16, 1)]

On a cluster: ``lk.sweep(run, grid, root, executor=dask_client.get_executor())``.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import inspect
import itertools
import multiprocessing
import os
import re
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from . import store as _store
from .errors import InvalidArgument, InvalidType

__all__ = ["SweepResult", "grid", "sweep"]


def grid(**axes) -> list[dict]:
    """The Cartesian product of the given axes as a list of configs (last axis varies fastest).

    Lists, tuples, ranges and arrays are axes; any other value is held fixed.

    >>> grid(width=[4, 16], seed=range(2), lr=0.1)
    [{'width': 4, 'seed': 0, 'lr': 0.1}, {'width': 4, 'seed': 1, 'lr': 0.1}, {'width': 16, 'seed': 0, 'lr': 0.1}, {'width': 16, 'seed': 1, 'lr': 0.1}]
    """
    if not axes:
        raise InvalidArgument(
            "grid() needs at least one axis, e.g. grid(width=[4, 16], seed=range(3))"
        )
    names, values = [], []
    for k, v in axes.items():
        if isinstance(v, (list, tuple, range, np.ndarray)):
            v = [x.item() if isinstance(x, np.generic) else x for x in v]
            if not v:
                raise InvalidArgument(f"grid axis {k!r} is empty")
        else:
            v = [v]
        names.append(k)
        values.append(v)
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


def run_name(config: Mapping) -> str:
    """A readable, filesystem-safe, deterministic directory name for a config."""
    text = ",".join(f"{k}={v}" for k, v in config.items())
    safe = re.sub(r"[^A-Za-z0-9_.=,+-]", "_", text)
    if len(safe) > 120:
        safe = safe[:100] + "-" + hashlib.sha1(text.encode()).hexdigest()[:12]
    return safe or "run"


@dataclasses.dataclass
class SweepResult:
    """What :func:`sweep` did: one entry per config with its directory, status and result or error."""

    root: Path
    runs: list

    @property
    def completed(self) -> list:
        return [r for r in self.runs if r["status"] in ("done", "skipped")]

    @property
    def failed(self) -> list:
        return [r for r in self.runs if r["status"] == "failed"]

    def load(self):
        """This sweep's finished runs (in grid order) as a :class:`landkit.RunSet`; other runs that
        share the root directory (an earlier sweep's) are left out."""
        everything = _store.load_runs(self.root)
        by_dir = {
            str(Path(t.path).resolve()): (t, c) for t, c in zip(everything, everything.configs)
        }
        chosen = [by_dir[str(Path(r["dir"]).resolve())] for r in self.completed
                  if str(Path(r["dir"]).resolve()) in by_dir]  # fmt: skip
        return _store.RunSet([t for t, _ in chosen], [c for _, c in chosen], self.root)

    def __repr__(self):
        counts = {
            s: sum(r["status"] == s for r in self.runs) for s in ("done", "skipped", "failed")
        }
        return f"SweepResult({len(self.runs)} runs under {str(self.root)!r}: {counts})"


def _summarise(result):
    from .training import TrainResult

    if isinstance(result, TrainResult):
        return {
            "final": result.final, "steps": result.steps, "diverged": result.diverged,
            "interrupted": result.interrupted, "seconds": result.seconds,
        }  # fmt: skip
    if result is None or isinstance(result, (dict, list, str, int, float, bool)):
        return _store.jsonable(result)
    return repr(result)


def _accepts_run_dir(fn) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return "run_dir" in sig.parameters or any(
        p.kind is p.VAR_KEYWORD for p in sig.parameters.values()
    )


def run_one(fn_bytes: bytes, config: dict, run_dir: str, threads: int | None = None) -> dict:
    """Run one config in ``run_dir`` (executed on a worker). Public so that executors can import it."""
    import cloudpickle

    run_dir = Path(run_dir)
    done = run_dir / _store.DONE_MARKER
    if done.exists():
        return {"status": "skipped", **_store.read_json(done)}
    if threads:
        import torch

        torch.set_num_threads(threads)
    # a previous attempt (killed worker, failure) may have left a partial run: start clean
    _store.remove_store(run_dir)
    (run_dir / _store.ERROR_RECORD).unlink(missing_ok=True)
    record = {
        "config": config,
        "started": _store.now(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    _store.write_json_atomic(run_dir / _store.RUN_RECORD, record)
    fn = cloudpickle.loads(fn_bytes)
    t0 = time.perf_counter()
    try:
        kwargs = dict(config)
        if _accepts_run_dir(fn):
            kwargs["run_dir"] = str(run_dir)
        result = fn(**kwargs)
    except Exception:
        err = {"config": config, "error": traceback.format_exc(), "failed": _store.now()}
        _store.write_json_atomic(run_dir / _store.ERROR_RECORD, err)
        return {"status": "failed", **err}
    out = {
        "config": config,
        "result": _summarise(result),
        "seconds": time.perf_counter() - t0,
        "finished": _store.now(),
    }
    _store.write_json_atomic(done, out)
    return {"status": "done", **out}


def _dump(fn) -> bytes:
    import cloudpickle

    mod = sys.modules.get(getattr(fn, "__module__", None) or "")
    by_value = (
        mod is not None
        and mod.__name__ not in ("__main__", "builtins")
        and not mod.__name__.startswith("landkit")
    )
    if by_value:  # workers may not be able to import the caller's module (tests, scripts)
        cloudpickle.register_pickle_by_value(mod)
    try:
        return cloudpickle.dumps(fn)
    finally:
        if by_value:
            cloudpickle.unregister_pickle_by_value(mod)


def _init_worker(threads):
    import torch

    torch.set_num_threads(threads)


def sweep(
    fn: Callable,
    grid: Sequence[Mapping] | Iterable[Mapping],
    root: str | os.PathLike,
    *,
    executor: cf.Executor | None = None,
    max_workers: int | None = None,
    threads_per_run: int | None = None,
    progress: bool = True,
) -> SweepResult:
    """Run ``fn(**config)`` for every config of ``grid``, each in its own directory under ``root``.

    ``fn`` may take a ``run_dir`` argument: the run's directory, where it should record
    (``lk.Recorder(run_dir, ...)``). Its return value (a :class:`TrainResult`, a dict, ...) is stored
    as JSON beside the run.

    Resumable: a run whose completion marker exists is skipped on a re-run; a failed run records its
    traceback (``landkit-error.json``), does not stop the others, and is retried on the next call.

    ``executor``: any ``concurrent.futures.Executor``; the default is a pool of
    ``max_workers`` (default: CPU count) spawned processes with ``threads_per_run`` torch threads each.
    For Dask: ``client.get_executor()``.

    Example
    -------
    >>> import concurrent.futures as cf
    >>> def run(width, seed, run_dir):
    ...     model = lk.models.mlp(64, [width], 10, seed=seed)
    ...     rec = lk.Recorder(run_dir, schedule=lk.schedules.every(5))
    ...     return lk.train(model, task, steps=10, lr=0.1, seed=seed, recorder=rec, progress=False)
    >>> with cf.ThreadPoolExecutor(2) as pool:
    ...     res = lk.sweep(run, lk.grid(width=[4, 8], seed=[0]), "runs/grid", executor=pool, progress=False)
    >>> len(res.completed), len(res.failed)
    (2, 0)
    """
    configs = [dict(c) for c in grid]
    if not configs:
        raise InvalidArgument("the grid is empty: nothing to sweep")
    if not callable(fn):
        raise InvalidType(f"fn must be callable, got {type(fn).__name__}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    names = [run_name(c) for c in configs]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise InvalidArgument(
            f"the grid has repeated configs ({sorted(dupes)[:3]}); every run needs its own config"
        )
    fn_bytes = _dump(fn)
    own = executor is None
    if own:
        n_workers = max_workers or os.cpu_count() or 1
        n_workers = min(n_workers, len(configs))
        threads = threads_per_run or max(1, (os.cpu_count() or 1) // n_workers)
        executor = cf.ProcessPoolExecutor(
            n_workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(threads,),
        )
    results: dict[int, dict] = {}
    try:
        futures = {}
        for i, (config, name) in enumerate(zip(configs, names)):
            run_dir = root / name
            if (run_dir / _store.DONE_MARKER).exists():
                results[i] = {"status": "skipped", **_store.read_json(run_dir / _store.DONE_MARKER)}
                continue
            run_dir.mkdir(parents=True, exist_ok=True)
            futures[executor.submit(run_one, fn_bytes, config, str(run_dir), threads_per_run)] = i
        bar = None
        if progress and futures:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(configs), initial=len(results), desc="sweep", unit="run")
        for fut in cf.as_completed(futures):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except (
                Exception
            ) as e:  # the worker itself died (BrokenProcessPool, lost Dask task, ...)
                results[i] = {
                    "status": "failed",
                    "config": configs[i],
                    "error": f"worker failed: {e!r}",
                }
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    failed=sum(r["status"] == "failed" for r in results.values()), refresh=False
                )
        if bar is not None:
            bar.close()
    finally:
        if own:
            executor.shutdown(wait=True, cancel_futures=True)
    runs = [
        {"name": names[i], "dir": str(root / names[i]), **results[i]} for i in range(len(configs))
    ]
    return SweepResult(root, runs)
