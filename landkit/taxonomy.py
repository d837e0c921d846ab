"""The phase taxonomy of loss landscapes over load × temperature (Yang et al., NeurIPS 2021).

A sweep varies a load-like knob (width, amount of data, label noise) against a temperature-like knob
(batch size, learning rate) with several seeds per cell. For each cell :func:`measure` takes the trained
models and measures local sharpness (Hessian λ_max and trace), global connectivity (mode connectivity
mc between pairs of seeds) and similarity (CKA between pairs of seeds), with train loss and test
accuracy; :func:`classify` sorts the cells into the paper's phases:

- **I** — poorly connected (mc < −ε), high loss (small, hot);
- **II** — mc > ε: the seeds' endpoints are not converged, high loss (wide, hot);
- **III** — poorly connected (mc < −ε), low loss (small, cold);
- **IV-A** — well connected (|mc| ≤ ε), low loss, lower CKA (wide, coldest);
- **IV-B** — well connected, low loss, higher CKA (wide, moderate temperature; best test accuracy).

Example
-------
>>> sweep = lk.examples.example_runs("taxonomy-fast").where(width=4, batch_size=8)  # one cell
>>> table = lk.taxonomy.measure(sweep, load="width", temperature="batch_size", curve="line",
...                             hessian_samples=64, trace_matvecs=6, max_pairs=1)
>>> len(table.rows), table.phase[0] in ("I", "II", "III", "IV-A", "IV-B")
(1, True)
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from .errors import InvalidArgument, InvalidType
from .progress import Progress
from .results import Result, register
from .validate import number

__all__ = ["MEANING", "PhaseTable", "Thresholds", "classify", "digits_sweep", "measure"]

PHASES = ("I", "II", "III", "IV-A", "IV-B")

#: each phase in plain words (Yang et al. 2021, as this module classifies them)
MEANING = {
    "I": "poorly connected seeds at high loss: under-trained",
    "II": "high loss with mc > 0: the seeds' end points are not converged",
    "III": "low loss, but the seeds' solutions are separated by a barrier",
    "IV-A": "low loss and well connected, with differing representations",
    "IV-B": "low loss, well connected and similar representations: where the best models are",
}


@register
@dataclasses.dataclass(frozen=True)
class Thresholds:
    """The phase boundaries (documented defaults, drawn on the plots).

    mc_eps : |mc| ≤ mc_eps counts as well connected (mc in units of training error)
    loss : a cell's mean train loss above this is "high loss"
    cka : a well-connected, low-loss cell is IV-B when its seeds' CKA is at least this (their
        representations nearly the same), else IV-A. A fixed number, so that a grid may hold no IV-B
        (or no IV-A) cell at all; 0.99 separates the digits MLPs of widths 8–16 (CKA 0.96–0.98 on
        mixup inputs) from widths 32–64 (0.99–0.995)
    """

    mc_eps: float = 0.02
    loss: float = 0.1
    cka: float = 0.99

    def __post_init__(self):
        number("mc_eps", self.mc_eps, minimum=0)
        number("loss", self.loss, minimum=0)
        number("cka", self.cka, minimum=0, maximum=1)


def classify(rows: list[dict], thresholds: Thresholds | None = None) -> list[str]:
    """The phase of each cell from its ``mc``, ``loss`` and ``cka`` (see the module docstring).

    Example
    -------
    >>> lk.taxonomy.classify([dict(loss=0.01, mc=0.0, cka=0.995), dict(loss=1.5, mc=-0.3, cka=0.2)])
    ['IV-B', 'I']
    """
    th = thresholds or Thresholds()
    if isinstance(rows, (str, bytes, dict)) or not hasattr(rows, "__iter__"):
        raise InvalidType(f"rows must be a list of dicts with mc, loss and cka, got {rows!r:.60}")
    rows = list(rows)
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise InvalidType(
                f"rows[{i}] must be a dict with mc, loss and cka, got {type(r).__name__}"
            )
        for key in ("mc", "loss", "cka"):
            if key not in r:
                raise InvalidArgument(f"rows[{i}] has no {key!r} (each row needs mc, loss and cka)")
            v = r[key]
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float, np.number))
                or not np.isfinite(v)
            ):
                raise InvalidArgument(
                    f"rows[{i}][{key!r}] is {v!r}: a phase needs finite metrics (a diverged or "
                    "unmeasured cell? drop it or measure it again)"
                )
    phases = []
    for r in rows:
        mc, loss = r["mc"], r["loss"]
        if mc < -th.mc_eps:
            phases.append("I" if loss > th.loss else "III")
        elif mc > th.mc_eps:
            phases.append("II")
        elif loss > th.loss:
            phases.append("II")  # connected but not fitted: the paper's hot, wide corner
        else:
            phases.append("IV")
    return [
        ("IV-B" if r["cka"] >= th.cka else "IV-A") if p == "IV" else p for r, p in zip(rows, phases)
    ]


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class PhaseTable(Result):
    """Per cell of the sweep: ``rows`` (load, temperature, n_seeds, loss, test_acc, lambda_max,
    trace, mc, cka, each metric's spread as ``<metric>_std``, and the mc curve profile), ``phase``
    (one label per row) and the ``thresholds`` used."""

    _headline = ("load", "temperature")

    load: str
    temperature: str
    rows: list
    phase: list
    thresholds: Thresholds

    def findings(self) -> list[str]:
        """What the table says, in sentences computed from it: the connectivity at the smallest and
        largest load, where the best test accuracy sits, and which phases the grid reaches.

        Example
        -------
        >>> rows = [dict(load=4, temperature=8, mc=-0.2, loss=0.5, cka=0.7, test_acc=0.8),
        ...         dict(load=64, temperature=8, mc=0.0, loss=0.05, cka=0.995, test_acc=0.95)]
        >>> t = lk.taxonomy.PhaseTable("width", "batch_size", rows, lk.taxonomy.classify(rows),
        ...                            lk.taxonomy.Thresholds())
        >>> t.findings()[2]
        'the best test accuracy (0.950) is at width 64, batch_size 8: phase IV-B'
        """
        th = self.thresholds
        loads = sorted({r["load"] for r in self.rows})
        out = []
        for name, load in (("smallest", loads[0]), ("largest", loads[-1])):
            mcs = np.array([r["mc"] for r in self.rows if r["load"] == load])
            kinds = [(int((mcs < -th.mc_eps).sum()), "poorly connected (mc < −ε)"),
                     (int((np.abs(mcs) <= th.mc_eps).sum()), "well connected (|mc| ≤ ε)"),
                     (int((mcs > th.mc_eps).sum()), "not converged (mc > ε)")]  # fmt: skip
            counts = ", ".join(f"{n} {kind}" for n, kind in kinds if n)
            out.append(f"{name} {self.load} ({load}), {len(mcs)} cells: {counts}; "
                       f"mc {mcs.min():+.3f} to {mcs.max():+.3f} (ε = {th.mc_eps:g})")  # fmt: skip
        accs = [r.get("test_acc", float("nan")) for r in self.rows]
        if np.isfinite(accs).any():
            i = int(np.nanargmax(accs))
            r = self.rows[i]
            out.append(f"the best test accuracy ({accs[i]:.3f}) is at {self.load} {r['load']}, "
                       f"{self.temperature} {r['temperature']}: phase {self.phase[i]}")  # fmt: skip
        reached = [p for p in PHASES if p in self.phase]
        missing = [p for p in PHASES if p not in self.phase]
        out.append(f"phases reached: {', '.join(reached)}"
                   + (f"; not reached: {', '.join(missing)}" if missing else ""))  # fmt: skip
        return out

    def grid(self, metric: str):
        """``(loads, temperatures, values)`` with values[i, j] the metric at load i, temperature j."""
        loads = sorted({r["load"] for r in self.rows})
        temps = sorted({r["temperature"] for r in self.rows})
        out = np.full((len(loads), len(temps)), np.nan)
        for r in self.rows:
            val = r[metric] if metric != "phase" else None
            out[loads.index(r["load"]), temps.index(r["temperature"])] = (
                val if val is not None else np.nan
            )
        return loads, temps, out


def _measure_cell(paths, opts):
    """Everything measured on one cell: its seeds' models, their Hessians, pairwise mc and CKA."""
    import torch

    from . import hessian, similarity
    from .store import load

    if opts.get("threads"):
        torch.set_num_threads(opts["threads"])  # one cell per core on a cluster
    trajs = [load(p) for p in paths]
    task = trajs[0].task()
    models = [t.model() for t in trajs]
    per = []
    for m in models:
        ev = task.evaluate(m)
        op = hessian.HessianOperator(m, task, n_samples=opts["hessian_samples"], seed=0)
        top = hessian.top_eigenvalues(op, k=1, seed=0)
        tr = hessian.trace(op, num_matvecs=opts["trace_matvecs"], method="hutch++", seed=0)
        per.append({"loss": ev["train_loss"], "test_acc": ev.get("test_acc", float("nan")),
                    "lambda_max": float(top.eigenvalues[0]), "trace": tr.estimate})  # fmt: skip
    pairs = list(itertools.combinations(range(len(models)), 2))[: opts["max_pairs"]]
    mcs, ckas, profiles = [], [], []
    for i, j in pairs:
        c = similarity.mode_connectivity(models[i], models[j], task, curve=opts["curve"],
                                         epochs=opts["mc_epochs"], lr=opts["mc_lr"],
                                         seed=i * 100 + j)  # fmt: skip
        mcs.append(c.value)
        profiles.append(c.error.tolist())
        ckas.append(similarity.model_cka(models[i], models[j], task, mixup=opts["mixup"], seed=0))
    row = {}
    for k in per[0]:
        vals = np.array([p[k] for p in per])
        row[k], row[f"{k}_std"] = float(vals.mean()), float(vals.std())
    row.update(mc=float(np.mean(mcs)), mc_std=float(np.std(mcs)), cka=float(np.mean(ckas)),
               cka_std=float(np.std(ckas)), n_seeds=len(models), mc_profiles=profiles)  # fmt: skip
    return row


def measure(runs, *, load: str = "width", temperature: str = "batch_size", curve: str = "bezier",
            mc_epochs: int = 50, mc_lr: float = 0.05, mixup: float = 16, hessian_samples: int | None = 512,
            trace_matvecs: int = 30, max_pairs: int = 3, executor=None,
            threads_per_cell: int | None = None,
            thresholds: Thresholds | None = None, progress=False) -> PhaseTable:  # fmt: skip
    """Measure every (``load``, ``temperature``) cell of a sweep (its runs grouped by those two config
    keys; every other key but the seed must be shared) and classify it. Each cell needs ≥ 2 seeds
    (mc and CKA compare seeds). Cells are measured in parallel on ``executor`` (any
    ``concurrent.futures`` executor, e.g. ``client.get_executor()`` of a Dask cluster) or in this
    process. Models and tasks are rebuilt from the runs (``traj.model()``, ``traj.task()``).

    ``mc_epochs`` and ``mc_lr`` train the Bezier curve between each pair of seeds
    (:func:`landkit.similarity.mode_connectivity`); the defaults (50 epochs at 0.05) converge on the
    digits MLPs — with 5 epochs at 0.01 narrow cells read as poorly connected (mc ≈ −0.03) only
    because their curves were not trained.

    Example
    -------
    >>> cell = lk.examples.example_runs("taxonomy-fast").where(width=4, batch_size=8)
    >>> table = lk.taxonomy.measure(cell, curve="line", hessian_samples=64, trace_matvecs=6)
    >>> table.rows[0]["n_seeds"]
    2
    """
    runs = (
        list(zip(runs, runs.configs)) if hasattr(runs, "configs") else [(t, t.config) for t in runs]
    )
    if not runs:
        raise InvalidArgument("the sweep is empty: no runs to measure")
    cells: dict = {}
    for t, c in runs:
        if load not in c or temperature not in c:
            raise InvalidArgument(
                f"every run's config needs {load!r} and {temperature!r}; got {sorted(c)}"
            )
        cells.setdefault((c[load], c[temperature]), []).append(str(t.path))
    few = [k for k, v in cells.items() if len(v) < 2]
    if few:
        raise InvalidArgument(
            f"cells {few} have one seed: mode connectivity and CKA need at least two per cell"
        )
    opts = dict(curve=curve, mc_epochs=mc_epochs, mc_lr=mc_lr, mixup=mixup, hessian_samples=hessian_samples,
                trace_matvecs=trace_matvecs, max_pairs=max_pairs,
                threads=threads_per_cell or (1 if executor is not None else None))  # fmt: skip
    keys = sorted(cells)
    keys_order = {k: i for i, k in enumerate(keys)}  # rows come back in this (sorted) order
    if (
        executor is not None
    ):  # the costliest cells (largest load: Hessian and curve grow with it) first
        keys.sort(key=lambda k: -float(k[0]) if isinstance(k[0], (int, float)) else 0.0)
    with Progress(progress, len(keys), "cells", unit="cell") as bar:
        if executor is None:
            it = (_measure_cell(cells[k], opts) for k in keys)
        else:
            it = executor.map(_measure_cell, [cells[k] for k in keys], [opts] * len(keys))
        results = []
        for r in it:  # in order; a callable progress may raise lk.Cancelled between cells
            results.append(r)
            if bar is not None:
                bar.update()
    rows = sorted(({"load": k[0], "temperature": k[1], **r} for k, r in zip(keys, results)),
                  key=lambda row: keys_order[(row["load"], row["temperature"])])  # fmt: skip
    th = thresholds or Thresholds()
    return PhaseTable(load, temperature, rows, classify(rows, th), th)


def _sweep_cell(
    width: int, batch_size: int, seed: int, steps: int, lr: float, n_train, run_dir: str
):
    from . import models, tasks
    from .capture import Recorder, schedules
    from .training import train

    task = tasks.digits(seed=0) if n_train is None else tasks.subset(tasks.digits(seed=0), n_train)
    model = models.mlp(64, [width], 10, seed=seed)
    rec = Recorder(run_dir, schedule=schedules.at([0, steps]), evaluate=False,
                   config={"width": width, "batch_size": batch_size})  # fmt: skip
    # eval_every=0: only the final evaluation (the lenses read the stored weights, not a history)
    return train(model, task, steps=steps, lr=lr, batch_size=batch_size, seed=seed, recorder=rec,
                 progress=False, eval_every=0)  # fmt: skip


def digits_sweep(root, *, widths=(4, 16, 64), batch_sizes=(8, 32, 128), seeds: int = 2,
                 steps: int = 1000, lr: float = 0.1, n_train: int | None = None, executor=None,
                 max_workers: int | None = None, threads_per_run: int | None = None):  # fmt: skip
    """The taxonomy's load × temperature sweep on digits: MLPs of each width (load) trained by SGD at
    each batch size (temperature: smaller is hotter), ``seeds`` seeds per cell, through
    :func:`landkit.sweep` (resumable; local processes, or any executor such as a Dask cluster's).

    Example
    -------
    >>> import concurrent.futures as cf
    >>> with cf.ThreadPoolExecutor(2) as pool:
    ...     sw = lk.taxonomy.digits_sweep("tax", widths=[4], batch_sizes=[16, 64], seeds=2, steps=20,
    ...                                   n_train=200, executor=pool)
    >>> len(sw), sorted({c["batch_size"] for c in sw.configs})
    (4, [16, 64])
    """
    from .sweep import grid, sweep

    g = grid(width=list(widths), batch_size=list(batch_sizes), seed=list(range(seeds)), steps=steps,
             lr=lr, n_train=n_train)  # fmt: skip
    # longest first: a step costs about batch × width (plus a fixed overhead)
    res = sweep(_sweep_cell, g, root, executor=executor, max_workers=max_workers,
                threads_per_run=threads_per_run, progress=False,
                cost=lambda c: c["steps"] * (c["batch_size"] * c["width"] + 256))  # fmt: skip
    if res.failed:
        raise RuntimeError(f"{len(res.failed)} runs failed; first error:\n{res.failed[0]['error']}")
    return res.load()
