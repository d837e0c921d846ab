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
from .validate import integer, number

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
    """A readable, filesystem-safe, deterministic directory name for a config.

    >>> run_name({"width": 16, "lr": 0.1})
    'width=16,lr=0.1'
    """
    text = ",".join(f"{k}={v}" for k, v in config.items())
    if re.search(r" at 0x[0-9a-fA-F]+", text):
        raise InvalidArgument(
            f"a config value has no stable text form ({text[:120]!r} holds a memory address): the run "
            "would get a new directory on every call. Use names, numbers or strings as config values"
        )
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


def _completed(run_dir: Path) -> dict | None:
    """The done record of a run that finished intact, or None. A done marker that is unreadable, or
    that sits beside a store that does not open, is removed: the run is redone, not skipped."""
    done = run_dir / _store.DONE_MARKER
    if not done.exists():
        return None
    try:
        record = _store.read_json(done)
        if _store.is_store(run_dir) or (run_dir / "weights").exists():
            _store.load(run_dir)
        if not isinstance(record, dict):
            raise _store.StoreError(f"{done} is not a record")
    except (_store.StoreError, OSError, AttributeError):
        done.unlink(missing_ok=True)
        return None
    return record


def _timeout(seconds):
    """Raise TimeoutError in this (main) thread after ``seconds``; returns a function that cancels."""
    import signal
    import threading

    if not seconds or threading.current_thread() is not threading.main_thread():
        return lambda: None

    def fire(signum, frame):
        raise TimeoutError(f"the run took longer than timeout={seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))

    def cancel():
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)

    return cancel


def run_one(fn_bytes: bytes, config: dict, run_dir: str, threads: int | None = None,
            timeout: float | None = None) -> dict:  # fmt: skip
    """Run one config in ``run_dir`` (executed on a worker). Public so that executors can import it."""
    import cloudpickle

    run_dir = Path(run_dir)
    done = run_dir / _store.DONE_MARKER
    record = _completed(run_dir)
    if record is not None:
        return {"status": "skipped", **record}
    owner = _store.lock_owner(run_dir)
    if owner is not None and owner.get("pid") != os.getpid():
        return {"status": "failed", "config": config,
                "error": f"{run_dir} is being recorded by live process {owner.get('pid')} on "
                         f"{owner.get('host')} (an earlier sweep's worker?): left alone"}  # fmt: skip
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
    cancel = _timeout(timeout)
    try:
        kwargs = dict(config)
        if _accepts_run_dir(fn):
            kwargs["run_dir"] = str(run_dir)
        result = fn(**kwargs)
        cancel()
        if _store.is_store(run_dir):  # a done marker only beside a store that opens
            _store.load(run_dir)
    except Exception:
        cancel()
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


def _init_worker(threads, driver: int | None = None):
    """A pool worker: its torch threads, and death with the sweep's driver process (Linux: the kernel
    sends SIGKILL when the parent dies; elsewhere a watcher thread notices the new parent)."""
    import torch

    torch.set_num_threads(threads)
    if driver is None:
        return
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != driver:  # the driver died before the signal was armed
        os._exit(1)

    def watch():
        while os.getppid() == driver:
            time.sleep(1.0)
        os._exit(1)

    import threading

    threading.Thread(target=watch, daemon=True, name="landkit-driver-watch").start()


def sweep(
    fn: Callable,
    grid: Sequence[Mapping] | Iterable[Mapping],
    root: str | os.PathLike,
    *,
    executor: cf.Executor | None = None,
    max_workers: int | None = None,
    threads_per_run: int | None = None,
    timeout: float | None = None,
    progress: bool = True,
    cost: Callable[[Mapping], float] | None = None,
) -> SweepResult:
    """Run ``fn(**config)`` for every config of ``grid``, each in its own directory under ``root``.

    ``fn`` may take a ``run_dir`` argument: the run's directory, where it should record
    (``lk.Recorder(run_dir, ...)``). Its return value (a :class:`TrainResult`, a dict, ...) is stored
    as JSON beside the run.

    Resumable: a run whose completion marker exists (beside a store that opens) is skipped on a
    re-run; a failed run records its traceback (``landkit-error.json``), does not stop the others, and
    is retried on the next call. A run that kills its worker process (a crash, ``os._exit``, the OOM
    killer) fails alone: the runs that shared the broken pool are run again, each in a process of its
    own. ``timeout`` (seconds) fails a run that takes longer. The pool's workers die with the process
    that called ``sweep``; a rerun leaves alone a run still recorded by a live process.

    ``executor``: any ``concurrent.futures.Executor``; the default is a pool of
    ``max_workers`` (default: CPU count) spawned processes with ``threads_per_run`` torch threads each.
    For Dask: ``client.get_executor()``.

    ``cost``: an estimate of each run's cost from its config (``lambda c: c["width"] * c["steps"]``);
    runs are then started longest first, so that no long run starts last while the other workers idle
    (results keep the grid's order).

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
    if not hasattr(grid, "__iter__") or isinstance(grid, (str, bytes, Mapping)):
        raise InvalidType(f"grid must be a list of configs (dicts; lk.grid(...)), got {grid!r:.60}")
    configs = list(grid)
    bad = [c for c in configs if not isinstance(c, Mapping)]
    if bad:
        raise InvalidType(
            f"grid must hold configs (dicts), got {type(bad[0]).__name__} {bad[0]!r:.40}"
        )
    configs = [dict(c) for c in configs]
    if not configs:
        raise InvalidArgument("the grid is empty: nothing to sweep")
    if max_workers is not None:
        max_workers = integer("max_workers", max_workers, minimum=1)
    if threads_per_run is not None:
        threads_per_run = integer("threads_per_run", threads_per_run, minimum=1)
    if any("run_dir" in c for c in configs):
        raise InvalidArgument(
            "'run_dir' is reserved: sweep passes each run its directory under that name; rename the key"
        )
    if timeout is not None:
        timeout = number("timeout", timeout, minimum=0, strict=True)
    if not callable(fn):
        raise InvalidType(f"fn must be callable, got {type(fn).__name__}")
    order = list(range(len(configs)))
    if cost is not None:
        if not callable(cost):
            raise InvalidType(f"cost must be a function of a config, got {type(cost).__name__}")
        costs = [float(cost(c)) for c in configs]
        order.sort(key=lambda i: -costs[i])  # stable: equal costs keep the grid's order
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

        def pool(n):
            return cf.ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"),
                                          initializer=_init_worker, initargs=(threads, os.getpid()))  # fmt: skip

        executor = pool(n_workers)
    results: dict[int, dict] = {}
    bar = None

    def collect(futures, broken):
        for fut in cf.as_completed(futures):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except (
                Exception
            ) as e:  # the worker itself died (BrokenProcessPool, lost Dask task, ...)
                if own and broken is not None and isinstance(e, cf.process.BrokenProcessPool):
                    broken.append(
                        i
                    )  # run again alone: the pool broke, maybe not because of this run
                    continue
                results[i] = {"status": "failed", "config": configs[i],
                              "error": f"worker failed: {e!r}"}  # fmt: skip
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    failed=sum(r["status"] == "failed" for r in results.values()), refresh=False
                )

    try:
        futures = {}
        for i in order:
            config, name = configs[i], names[i]
            run_dir = root / name
            record = _completed(run_dir)
            if record is not None:
                results[i] = {"status": "skipped", **record}
                continue
            run_dir.mkdir(parents=True, exist_ok=True)
            fut = executor.submit(run_one, fn_bytes, config, str(run_dir), threads_per_run, timeout)
            futures[fut] = i
        if progress and futures:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(configs), initial=len(results), desc="sweep", unit="run")
        broken: list[int] = []
        collect(futures, broken)
        if broken:  # each in a process of its own, n_workers at a time: a crashing run fails alone
            executor.shutdown(wait=True, cancel_futures=True)
            for k in range(0, len(broken), n_workers):
                pools = {i: pool(1) for i in broken[k : k + n_workers]}
                try:
                    collect({p.submit(run_one, fn_bytes, configs[i], str(root / names[i]),
                                      threads_per_run, timeout): i for i, p in pools.items()}, None)  # fmt: skip
                finally:
                    for p in pools.values():
                        p.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    finally:
        if own:
            executor.shutdown(wait=True, cancel_futures=True)
    runs = [
        {"name": names[i], "dir": str(root / names[i]), **results[i]} for i in range(len(configs))
    ]
    return SweepResult(root, runs)
