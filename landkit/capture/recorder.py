"""The Recorder: snapshots of a model's parameters and scalars, streamed to a store on disk."""

from __future__ import annotations

import atexit
import queue
import threading
import time
import warnings
import weakref
from pathlib import Path

import numpy as np
import torch

from .. import store as _store
from ..errors import InvalidArgument, InvalidType, StoreError
from ..validate import choice, integer, number
from .schedules import Schedule, every
from .sketch import CountSketch

__all__ = ["Recorder", "RecordingSlowWarning"]

_OPEN: weakref.WeakSet = weakref.WeakSet()
_COMMIT = object()  # a writer-queue item: commit what was written, nothing new to write
_COMMIT_EVERY = 1.0  # seconds between the writer's commits of full blocks (n_snapshots advances)
_AUTO_EVALUATE_ALL = 200  # evaluate="auto": every snapshot up to this many
_AUTO_EVALUATIONS = 100  # beyond: about this many, geometric in the step


def _evaluated_label(evaluate, eval_at) -> str:
    if evaluate is False:
        return "none"
    return "every snapshot" if eval_at is None else "some snapshots"


class RecordingSlowWarning(UserWarning):
    """The disk could not keep up with the recording, and training waited for it."""


class _EverySnapshotIn:
    """``step in`` a schedule (evaluate=<schedule> when the run's length is not known)."""

    def __init__(self, schedule):
        self.schedule = schedule

    def __contains__(self, step):
        return step == 0 or step in self.schedule


@atexit.register
def _flush_open_recorders():  # a user loop that forgot close() still keeps its snapshots
    for rec in list(_OPEN):
        try:
            rec.flush()
        except Exception:
            pass


class Recorder:
    """Records snapshots of a model during training into a trajectory store at ``path``.

    Parameters
    ----------
    path : where the run is written (a directory; created).
    schedule : which steps to record (:mod:`landkit.schedules`); default every step. Step 0 (the
        initialisation) and, under :func:`landkit.train`, the last step are always recorded.
    params : parameter names or globs to keep (``"fc2.*"``); default all parameters.
    sketch : keep a seeded CountSketch of the (selected) parameters to ``sketch`` dimensions instead
        of the parameters themselves (O(P) per snapshot; same projection for every run with the same
        ``sketch_seed``).
    grad_noise : under :func:`landkit.train`, also record the minibatch gradient-noise estimate
        (``grad_var``, ``grad_noise``; see :func:`landkit.capture.gradient_noise`) at each snapshot.
    evaluate : under :func:`landkit.train`, which snapshots also evaluate the model on the whole train
        and test sets (``loss`` is then the full training loss, plus ``test_loss``, ``test_acc``, ...).
        ``"auto"`` (default): every snapshot when the run records at most 200, otherwise about 100
        snapshots spaced geometrically in the step (and the first and last); the other snapshots hold
        NaN in those columns (an evaluation costs more than a training step, so a dense recording
        would otherwise be dominated by it). ``True``: every snapshot. A schedule: the snapshots at
        its steps. ``False``: none; ``loss`` is then the minibatch loss at every snapshot (free).
        The minibatch loss is always kept as ``batch_loss``.
    flush_every : seconds between flushes to disk (also flushed whenever a chunk fills, and at close).
        A filled chunk's snapshots are on disk at once, but they count (``n_snapshots``, what a reader
        sees) only from the writer's next commit, within about a second (also when training stops
        capturing for a while): a run killed outright keeps every snapshot committed before (each
        readable, checksummed), never a hole.
    overwrite, resume : what to do when ``path`` already holds a run: replace it, or append after
        its last recorded step. Neither: :class:`landkit.errors.RunExistsError`. A resume checks that
        the config, seed and schedule are the recorded ones (``resume="force"`` skips the check); a run
        that died before its first snapshot starts afresh. One process records into a directory at a
        time: a second writer (``overwrite`` included) is refused while the first one lives.
    config : JSON-serialisable dict stored with the run (hyper-parameters, notes).
    dtype : storage precision of the weights (``"float32"``; ``"float64"`` to keep double models
        exact; ``"float16"`` to halve the store).
    chunk_mb : target size of one storage chunk of whole snapshots; reading one snapshot reads one chunk.
    buffer_mb : memory the recorder may fill with snapshots waiting for the disk. Training never waits
        for a write until that much is queued; then it does (a slow or busy disk), once with a
        :class:`RecordingSlowWarning` saying what to change, and the run's summary keeps the seconds
        waited (``writer_wait_s``).
    compress : ``None`` (raw chunks, any zarr v3 reader opens them), ``"lz4"`` (fast) or ``"zstd"``
        (smaller): each chunk of snapshots is stored as the bitwise XOR of consecutive snapshots,
        byte-shuffled and compressed with Blosc. Lossless (the weights read back bit for bit); about
        1.7× (lz4) to 2× (zstd) smaller for SGD trajectories recorded every step, little for sparse
        schedules. Only landkit reads such a store (zarr-python does not know the XOR filter).
    fsync : durability. Every file is replaced atomically and every row carries a CRC-32, so a run
        whose process is killed (or whose disk fills) opens with every snapshot flushed before, and a
        byte changed later on disk is reported, never read. With the default ``fsync=False`` an
        operating-system crash or power cut may still lose the last seconds the OS had not written
        out; ``fsync=True`` makes :meth:`close` return only once the whole store is on the disk.

    Example
    -------
    With your own loop:

    >>> net = lk.models.mlp(64, [8], 10, seed=0)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> rec = lk.Recorder("runs/mine", schedule=lk.schedules.every(10))
    >>> for step in range(31):
    ...     loss = torch.nn.functional.cross_entropy(net(task.x_train), task.y_train)
    ...     _ = rec.capture(step, net, loss=loss)      # does nothing on unscheduled steps
    ...     opt.zero_grad(); loss.backward(); opt.step()
    >>> rec.close()
    >>> lk.load("runs/mine").steps.tolist()
    [0, 10, 20, 30]
    """

    def __init__(
        self,
        path: str | Path,
        schedule: Schedule | None = None,
        *,
        params=None,
        sketch: int | None = None,
        sketch_seed: int = 0,
        grad_noise: bool = False,
        evaluate: bool | str | Schedule = "auto",
        flush_every: float = 10.0,
        overwrite: bool = False,
        resume: bool = False,
        config: dict | None = None,
        dtype: str = "float32",
        chunk_mb: float = 4.0,
        buffer_mb: float = 256.0,
        compress: str | None = None,
        fsync: bool = False,
    ):
        if schedule is None:
            schedule = every(1)
        if not isinstance(schedule, Schedule):
            raise InvalidType(
                f"schedule must be a landkit schedule (lk.schedules.every/geometric/at), got {type(schedule).__name__}"
            )
        if overwrite and resume:
            raise InvalidArgument(
                "overwrite=True and resume=True contradict each other: choose one"
            )
        flush_every = number("flush_every", flush_every, minimum=0, strict=True)
        chunk_mb = number("chunk_mb", chunk_mb, minimum=0, strict=True, maximum=1e6)
        buffer_mb = number("buffer_mb", buffer_mb, minimum=0, strict=True)
        choice("dtype", dtype, ["float16", "float32", "float64"])
        if compress is not None:
            choice("compress", compress, ["lz4", "zstd"])
        if not (isinstance(evaluate, (bool, Schedule)) or evaluate == "auto"):
            raise InvalidArgument(
                f"evaluate must be True, False, 'auto' or a landkit schedule, got {evaluate!r}"
            )
        if sketch is not None:
            sketch = integer("sketch", sketch, minimum=1)
        self.path = Path(path)
        self.schedule = schedule
        self.params = params
        self.sketch_dim = sketch
        self.sketch_seed = int(sketch_seed)
        self.grad_noise = bool(grad_noise)
        self.evaluate = evaluate
        self._eval_at: set[int] | None = None  # None: every snapshot (when evaluating at all)
        self.flush_every = float(flush_every)
        self.overwrite = bool(overwrite)
        self.resume = "force" if resume == "force" else bool(resume)
        self.config = dict(config or {})
        self.dtype = dtype
        self.chunk_mb = float(chunk_mb)
        self.buffer_mb = float(buffer_mb)
        self.compress = compress
        self.writer_wait_s = 0.0
        self.fsync = bool(fsync)
        self._writer: _store.StoreWriter | None = None
        self._closed = False

    # -- life cycle ------------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._writer is not None

    @property
    def n_recorded(self) -> int:
        """Snapshots captured so far (flushed or still in memory)."""
        return 0 if self._writer is None else self._buf_start + self._rows

    def due(self, step: int) -> bool:
        """Whether ``step`` is scheduled (step 0 always is)."""
        return step == 0 or step in self.schedule

    def evaluates(self, step: int) -> bool:
        """Whether the snapshot at ``step`` also evaluates the model (see ``evaluate``)."""
        if self.evaluate is False:
            return False
        return self._eval_at is None or int(step) in self._eval_at

    def _resolve_evaluate(self, max_step: int | None) -> None:
        ev = self.evaluate
        if isinstance(ev, Schedule):
            if max_step is None:
                self._eval_at = _EverySnapshotIn(ev)
            else:
                self._eval_at = {int(s) for s in ev.steps(max_step)} | {0, int(max_step)}
        elif ev == "auto" and max_step is not None:
            snaps = np.union1d(self.schedule.steps(max_step), [0, max_step])
            if len(snaps) > _AUTO_EVALUATE_ALL:
                targets = np.geomspace(1, max(int(max_step), 1), _AUTO_EVALUATIONS)
                near = np.clip(np.searchsorted(snaps, targets), 0, len(snaps) - 1)
                self._eval_at = {int(s) for s in snaps[near]} | {0, int(max_step)}

    def start(
        self,
        model: torch.nn.Module,
        *,
        max_step: int | None = None,
        config: dict | None = None,
        seed=None,
        **meta,
    ):
        """Create the store for ``model``'s parameters. Called by :func:`landkit.train` and on the
        first :meth:`capture`; call it yourself to store ``config``/``seed`` with a run of your own loop."""
        if self._closed:
            raise RuntimeError(f"this Recorder for {self.path} is closed; make a new one")
        if self._writer is not None:
            raise RuntimeError(f"this Recorder for {self.path} has already started")
        named = [(n, p) for n, p in model.named_parameters()]
        if not named:
            raise InvalidArgument("the model has no parameters to record")
        # tied parameters are recorded once, under their first name; the other names are kept so
        # that a restore fills them; buffers (BatchNorm statistics, ...) are kept at every snapshot
        first_name: dict[int, str] = {}
        tied = {}
        for n, p in model.named_parameters(remove_duplicate=False):
            if id(p) in first_name:
                tied[n] = first_name[id(p)]
            else:
                first_name[id(p)] = n
        persistent = set(model.state_dict(keep_vars=True))
        self._buffer_tensors = [(n, b) for n, b in model.named_buffers() if n in persistent]
        self._buffer_steps: list[int] = []
        self._buffer_rows: dict[str, list] = {n: [] for n, _ in self._buffer_tensors}
        if self.resume:
            prev = _store.read_buffers(self.path) if _store.is_store(self.path) else None
            if prev is not None and set(prev[1]) == set(self._buffer_rows):
                self._buffer_steps = [int(s) for s in prev[0]]
                self._buffer_rows = {n: list(a) for n, a in prev[1].items()}
        names = _store.select_names([n for n, _ in named], self.params)
        chosen = dict(named)
        self._tensors = [chosen[n] for n in names]
        self._source_key = None
        self._layout = _store.layout((n, chosen[n].shape) for n in names)
        self._model = weakref.ref(model)
        self._resolve_evaluate(max_step)
        total = sum(p.numel for p in self._layout)
        self._sketch = (
            CountSketch(total, self.sketch_dim, self.sketch_seed) if self.sketch_dim else None
        )
        dim = self.sketch_dim or total
        if max_step is not None:
            capacity = self.schedule.count(max_step) + 2
        else:
            capacity = 1024
        import landkit

        run_meta = {
            "status": "running",
            "created": _store.now(),
            "config": {**self.config, **(config or {})},
            "seed": seed,
            "params": [p.to_json() for p in self._layout],
            "tied": tied,
            "buffers": [n for n, _ in self._buffer_tensors],
            "n_params_total": sum(p.numel() for p in model.parameters()),
            "sketch": self._sketch.to_json() if self._sketch else None,
            "schedule": self.schedule.to_json(),
            "model": type(model).__name__,
            "loss_source": "train_set" if self.evaluate is not False else "minibatch",
            "evaluated": _evaluated_label(self.evaluate, self._eval_at),
            "dtype": self.dtype,
            "versions": {
                "landkit": landkit.__version__,
                "torch": torch.__version__,
                "numpy": np.__version__,
            },
            **meta,
        }
        self._writer = _store.StoreWriter(
            self.path, dim=dim, meta=run_meta, capacity=capacity, dtype=self.dtype,
            chunk_bytes=int(self.chunk_mb * (1 << 20)), overwrite=self.overwrite, resume=self.resume,
            compress=self.compress,
        )  # fmt: skip
        self._last_step = self._writer.last_step
        self._chunk = self._writer.chunk_rows
        self._buf_start = self._writer.n
        self._free: queue.Queue = queue.Queue()
        self._n_buffers = 0
        buf_bytes = self._chunk * self._writer.dim * np.dtype(self.dtype).itemsize
        self._max_buffers = max(3, int(self.buffer_mb * (1 << 20) // max(buf_bytes, 1)))
        self._warned_slow = False
        self._new_buffer()
        self._queue: queue.Queue = queue.Queue()  # bounded by the buffers (full chunks)
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._write_loop, name=f"landkit-writer-{self.path.name}", daemon=True
        )
        self._thread.start()
        self._last_flush = time.monotonic()
        _OPEN.add(self)

    def _new_buffer(self):
        # after a resume the first buffer ends on a chunk boundary
        align = self._buf_start % self._chunk
        self._cap = self._chunk - align
        # Buffers are recycled once written: a fresh allocation would page-fault on every row and
        # cost more than the copy itself.
        try:
            buf = self._free.get_nowait()
        except queue.Empty:
            if self._n_buffers < self._max_buffers:
                buf = torch.empty((self._chunk, self._writer.dim), dtype=getattr(torch, self.dtype))
                self._n_buffers += 1
            else:  # all in flight: the disk is slower than training; wait for the writer
                t0 = time.monotonic()
                buf = self._free.get()
                self.writer_wait_s += time.monotonic() - t0
                if not self._warned_slow:
                    self._warned_slow = True
                    warnings.warn(
                        f"recording to {self.path} waits for the disk: {self.buffer_mb:g} MB of "
                        "snapshots are queued and training pauses until they are written. Record less "
                        "often (a sparser schedule), fewer parameters (params=, sketch=), compress='lz4' "
                        "or dtype='float16', or allow more memory (buffer_mb=)",
                        RecordingSlowWarning,
                        stacklevel=4,
                    )
        self._buf_full = buf
        self._buf = buf[: self._cap]
        self._steps: list[int] = []
        self._scalars: dict[str, list[float]] = {}
        self._rows = 0
        self._flushed = 0

    # -- capture ---------------------------------------------------------------------------------

    def capture(
        self, step: int, model: torch.nn.Module, loss=None, *, force: bool = False, **scalars
    ) -> bool:
        """Record ``model``'s parameters at ``step`` if the schedule says so (or ``force``).

        ``loss`` and any other keyword (``test_acc=...``) are stored as scalars of this snapshot;
        tensors are converted with ``float()``. Returns whether a snapshot was taken. Steps at or
        before the last recorded one are ignored (so a resumed run does not record twice).
        """
        if not (force or self.due(step)):
            return False
        if self._writer is None:
            self.start(model)
        elif self._model() is not model:
            self._rebind(model)
        self._raise_writer_error()
        if self._last_step is not None and step <= self._last_step:
            return False
        row = self._buf[self._rows]
        views, on_cpu = self._sources()  # detached: nothing here is tracked by autograd
        if self._sketch is None and on_cpu:
            torch.cat(views, out=row)
        else:
            flat = torch.cat(views)
            if self._sketch is not None:
                flat = self._sketch(flat.float())
            row.copy_(flat)
        if loss is not None:
            scalars["loss"] = loss
        r = self._rows
        for name, value in scalars.items():
            col = self._scalars.get(name)
            if col is None:
                col = self._scalars[name] = [np.nan] * r
            if torch.is_tensor(value):
                value = value.detach()
            col.append(float(value) if value is not None else np.nan)
        for col in self._scalars.values():
            if len(col) <= r:
                col.append(np.nan)
        if self._buffer_tensors:
            for n, b in self._buffer_tensors:
                self._buffer_rows[n].append(b.detach().to("cpu", copy=True).numpy())
            self._buffer_steps.append(int(step))
        self._steps.append(int(step))
        self._rows += 1
        self._last_step = int(step)
        if self._rows == self._cap:
            self._submit(full=True)
        elif time.monotonic() - self._last_flush > self.flush_every:
            self._submit(full=False)
        return True

    def _sources(self):
        """Flat views of the recorded tensors (kept between captures: building them costs more than
        copying 85k floats), and whether all are on the CPU. Rebuilt whenever a tensor's storage or
        strides changed (``p.data = …``, ``model.to(…)``, a transposed ``.data``), and every time for a
        non-contiguous parameter, whose flat form is a copy, not a view."""
        key = [(t.data_ptr(), t.stride()) for t in self._tensors]
        if key != self._source_key:
            views = [t.detach().reshape(-1) for t in self._tensors]
            on_cpu = all(t.device.type == "cpu" for t in self._tensors)
            if not all(t.is_contiguous() for t in self._tensors):
                return views, on_cpu  # copies: never kept
            self._views, self._on_cpu, self._source_key = views, on_cpu, key
        return self._views, self._on_cpu

    def _rebind(self, model) -> None:
        """Capture from another model object (a copy, a reloaded model): only one with the recorded
        parameter names and shapes (and buffers) continues this run; anything else is refused."""
        if not isinstance(model, torch.nn.Module):
            raise InvalidType(f"model must be a torch.nn.Module, got {type(model).__name__}")
        named = dict(model.named_parameters())
        theirs = [(p.name, tuple(named[p.name].shape)) if p.name in named else (p.name, None)
                  for p in self._layout]  # fmt: skip
        ours = [(p.name, tuple(p.shape)) for p in self._layout]
        buffers = dict(model.named_buffers())
        if theirs != ours or any(n not in buffers or buffers[n].shape != b.shape
                                 for n, b in self._buffer_tensors):  # fmt: skip
            wrong = next((o, t) for o, t in zip(ours, theirs) if o != t) if theirs != ours else None
            raise InvalidArgument(
                f"model is not the one this run records: {self.path} records "
                f"{sum(p.numel for p in self._layout)} values"
                + (f" ({wrong[0][0]} of shape {wrong[0][1]}, this model's is {wrong[1][1]})" if wrong else
                   " and other buffers")
                + "; record another model into its own directory"
            )  # fmt: skip
        self._tensors = [named[p.name] for p in self._layout]
        self._source_key = None
        self._buffer_tensors = [(n, buffers[n]) for n, _ in self._buffer_tensors]
        self._model = weakref.ref(model)

    def _submit(self, full: bool):
        lo, hi = (0, self._rows) if full else (self._flushed, self._rows)
        if hi <= lo:
            if not full:  # nothing new, but blocks written since the last commit are committed
                self._queue.put((_COMMIT, self._buffers_payload()))
                self._last_flush = time.monotonic()
            return
        block = self._buf[lo:hi].numpy()
        if not full:
            block = block.copy()
        item = (
            self._buf_start + lo,
            block,
            np.asarray(self._steps[lo:hi], dtype=np.int64),
            {k: np.asarray(v[lo:hi], dtype=np.float64) for k, v in self._scalars.items()},
            self._buffers_payload(),
            self._buf_full if full else None,  # returned to the pool once written
        )
        self._queue.put(item)
        self._last_flush = time.monotonic()
        if full:
            self._buf_start += self._rows
            self._new_buffer()
        else:
            self._flushed = self._rows

    def _write_loop(self):
        # The writer runs at the process's own priority: lowered, it starves on a busy machine, the
        # queue fills and training waits for it (benchmarks/capture_overhead.py --load).
        last_commit = time.monotonic()
        pending = None  # full blocks written, not committed: (buffers payload of the last one,)
        while True:
            try:
                if pending is None:
                    item = self._queue.get()
                else:  # commit on time even when training stops capturing (a long validation)
                    wait = last_commit + _COMMIT_EVERY - time.monotonic()
                    item = self._queue.get(timeout=max(wait, 0.0))
            except queue.Empty:
                try:
                    if self._error is None:
                        self._writer.commit()
                        if pending[0] is not None:
                            self._writer.write_buffers(*pending[0])
                except BaseException as e:  # surfaced in the training thread at the next capture
                    if self._error is None:
                        self._error = e
                pending, last_commit = None, time.monotonic()
                continue
            try:
                if item is None:
                    return
                if item[0] is _COMMIT:
                    if self._error is None:
                        self._writer.commit()
                        if item[1] is not None:
                            self._writer.write_buffers(*item[1])
                    pending, last_commit = None, time.monotonic()
                    continue
                *block, buffers, recycle = item
                if self._error is None:
                    # a flush (partial block: flush(), close(), flush_every) commits at once; full
                    # blocks about once a second (StoreWriter.write: the small files once per commit),
                    # on the next block or, when none comes, once the second is up
                    commit = recycle is None or time.monotonic() - last_commit >= _COMMIT_EVERY
                    self._writer.write(*block, commit=commit)
                    if commit:
                        pending, last_commit = None, time.monotonic()
                        if buffers is not None:  # after the rows they belong to
                            self._writer.write_buffers(*buffers)
                    else:
                        pending = (buffers,)
                if recycle is not None:
                    self._free.put(recycle)
            except BaseException as e:  # surfaced in the training thread; every later block is
                if self._error is None:  # dropped, so n_snapshots never covers a hole
                    self._error = e
                if recycle is not None:
                    self._free.put(recycle)
            finally:
                self._queue.task_done()

    def _buffers_payload(self):
        """(steps, {name: stacked array}) of every buffer snapshot so far, or None."""
        if not self._buffer_tensors or not self._buffer_steps:
            return None
        return (np.asarray(self._buffer_steps, dtype=np.int64),
                {n: np.stack(rows) for n, rows in self._buffer_rows.items()})  # fmt: skip

    def _raise_writer_error(self):
        """The first failed write stops the recording for good (it is raised again on every later
        capture): the store keeps the snapshots written before it, contiguous and readable."""
        if self._writer is not None and self._error is not None:
            err = self._error
            raise StoreError(
                f"writing the trajectory to {self.path} failed ({type(err).__name__}: {err}); "
                f"recording stopped: the run keeps its first {self._writer.n} snapshots"
            ) from err

    def flush(self):
        """Write everything captured so far to disk and wait until it is there."""
        if self._writer is None or self._closed:
            return
        self._submit(full=False)
        self._queue.join()
        self._raise_writer_error()

    def close(self, status: str = "finished", **summary):
        """Flush, then mark the run ``status`` (finished / diverged / interrupted / failed) and store
        ``summary`` (final metrics) with it. Safe to call twice."""
        if self._closed:
            return
        if self._writer is None:
            self._closed = True
            return
        try:
            self._submit(full=False)
            self._queue.join()
        finally:
            self._queue.put(None)
            self._thread.join()
            self._closed = True
            _OPEN.discard(self)
        err = self._error
        if self.writer_wait_s > 0:
            summary = {**summary, "writer_wait_s": round(self.writer_wait_s, 3)}
        if err is not None:  # a write failed: never "finished" — "truncated" at the last good row
            status = "truncated" if self._writer.n else "failed"
            summary = {**summary, "error": f"{type(err).__name__}: {err}"}
        try:
            self._writer.update_meta(
                status=status, finished=_store.now(), summary=_store.jsonable(summary)
            )
            if self.fsync:
                self._writer.sync()
        except OSError as e:
            raise StoreError(
                f"could not mark the run at {self.path} {status!r} ({type(e).__name__}: {e}); "
                f"its metadata still says 'running' with {self._writer.n} snapshots"
            ) from (err or e)
        finally:
            self._writer.release()
        self._raise_writer_error()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close("finished")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close("interrupted")
        else:
            self.close("failed", error=repr(exc))
        return False

    def __repr__(self):
        state = "closed" if self._closed else ("recording" if self.started else "not started")
        return f"Recorder({str(self.path)!r}, schedule={self.schedule!r}, {state}, {self.n_recorded} snapshots)"
