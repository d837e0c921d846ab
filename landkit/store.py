"""Trajectories on disk: the only module that knows the file layout.

A run is a zarr (v3) group::

    RUN/zarr.json            group metadata; attribute "landkit" holds the run's metadata (JSON):
                             schema_version, n_snapshots, status, config, seed, params (names, shapes,
                             offsets), tied (other names of shared parameters), buffers (names),
                             sketch, versions, scalar names
    RUN/weights/             (capacity, D) float array, chunked along time (full rows per chunk),
                             uncompressed (any zarr v3 reader opens it) or, recorded with
                             ``compress=``, each chunk the XOR of consecutive rows ("landkit.xor_rows"
                             codec, then Blosc with byte shuffle; read by landkit only); rows >=
                             n_snapshots are not valid
    RUN/steps/               (capacity,) int64 training steps of the snapshots
    RUN/scalars/NAME/        (capacity,) float64 per recorded scalar (loss, lr, grad_norm, ...)
    RUN/buffers.npz          the model's persistent buffers (BatchNorm statistics, ...) at every
                             snapshot: ``steps`` and one (T, *shape) array ``b/NAME`` per buffer;
                             rewritten atomically after the rows it covers (no pickle)

Rows are written before ``n_snapshots`` is advanced, and zarr writes each file atomically, so a run
killed at any moment opens with every snapshot flushed before the kill. Sweeps keep a small JSON
record beside the store (``RUN/landkit-run.json``, ``RUN/landkit-done.json``, ``RUN/landkit-error.json``).

Example
-------
>>> model = lk.models.mlp(64, [8], 10, seed=0)
>>> rec = lk.Recorder("runs/demo", schedule=lk.schedules.every(10))
>>> result = lk.train(model, task, steps=30, lr=0.1, seed=0, recorder=rec, progress=False)
>>> traj = lk.load("runs/demo")
>>> traj.steps.tolist(), traj.weights.shape
([0, 10, 20, 30], (4, 610))
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import fnmatch
import json
import math
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from .errors import InvalidArgument, InvalidType, RunExistsError, StoreError

__all__ = [
    "SCHEMA_VERSION",
    "ParamInfo",
    "RunSet",
    "StoreWriter",
    "Trajectory",
    "WeightsArray",
    "from_checkpoints",
    "load",
    "load_runs",
]

SCHEMA_VERSION = 1
_META_KEY = "landkit"
RUN_RECORD = "landkit-run.json"
DONE_MARKER = "landkit-done.json"
ERROR_RECORD = "landkit-error.json"
LOCK_FILE = "landkit.lock"


# --------------------------------------------------------------------------------------------------
# small helpers shared with sweep.py


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    """Write JSON to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(jsonable(obj)), indent=1, allow_nan=False)  # standard JSON: no NaN
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json(path: str | os.PathLike):
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as e:
        raise StoreError(
            f"{path} is not readable JSON ({e}); the file is truncated or corrupted"
        ) from e


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (Path, range)):
        return str(o) if isinstance(o, Path) else list(o)
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    return repr(o)


def _finite(obj):
    """NaN and ±inf as null (JSON has no such numbers), recursively."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


# -- one writer per run ------------------------------------------------------------------------


def _alive(owner: dict) -> bool:
    """Whether the process that wrote a lock still runs (on another host: assumed alive)."""
    import socket

    if owner.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(owner.get("pid", -1)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True
    return True


def lock_owner(path: str | os.PathLike) -> dict | None:
    """The live process recording into run directory ``path`` (``{"pid", "host", "since"}``), or None."""
    f = Path(path) / LOCK_FILE
    try:
        owner = json.loads(f.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(owner, dict) or not _alive(owner):
        return None
    return owner


def acquire_lock(path: str | os.PathLike) -> None:
    """Take the run directory ``path`` for this process: an exclusive lock file naming the pid and
    host. A lock left by a process that no longer runs is taken over; one held by a live process
    raises :class:`RunExistsError` naming it (a second writer would mix two runs in one store)."""
    import socket

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    f = path / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": now()}
    for _ in range(3):
        try:
            fd = os.open(f, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = lock_owner(path)
            if owner is not None and (owner.get("pid"), owner.get("host")) != (
                me["pid"],
                me["host"],
            ):
                raise RunExistsError(
                    f"{path} is being recorded by process {owner.get('pid')} on {owner.get('host')} "
                    f"(since {owner.get('since')}): two writers would mix their runs. Wait for it, stop "
                    f"it, or record elsewhere (if that process is gone, delete {f})"
                ) from None
            with contextlib.suppress(OSError):  # stale (or this process's own): take it over
                f.unlink()
            continue
        with os.fdopen(fd, "w") as out:
            json.dump(me, out)
        return
    raise RunExistsError(f"could not take the lock {f}: another process keeps taking it")


def release_lock(path: str | os.PathLike) -> None:
    """Drop this process's lock on ``path`` (a lock held by another process is left alone)."""
    f = Path(path) / LOCK_FILE
    with contextlib.suppress(OSError, ValueError):
        if json.loads(f.read_text()).get("pid") == os.getpid():
            f.unlink()


def jsonable(obj):
    """``obj`` made JSON-serialisable (numpy scalars to Python, unknown objects to their repr)."""
    return json.loads(json.dumps(obj, default=_json_default))


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def schedule_period(schedule) -> int | None:
    """The period k of an ``every(k)`` part of a recorded schedule (its JSON form), if any."""
    if not isinstance(schedule, dict):
        return None
    if "every" in schedule:
        return int(schedule["every"])
    for part in schedule.get("union", []):
        k = schedule_period(part)
        if k:
            return k
    return None


def is_store(path: str | os.PathLike) -> bool:
    """True when ``path`` holds a landkit trajectory store (complete or not)."""
    return (Path(path) / "zarr.json").exists()


# --------------------------------------------------------------------------------------------------
# parameters


@dataclasses.dataclass(frozen=True)
class ParamInfo:
    """Where one named parameter lives in a flat weight vector."""

    name: str
    shape: tuple
    offset: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def slice(self) -> slice:
        return slice(self.offset, self.offset + self.numel)

    def to_json(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "offset": self.offset}

    @classmethod
    def from_json(cls, d) -> ParamInfo:
        return cls(d["name"], tuple(d["shape"]), int(d["offset"]))


def layout(named_shapes: Iterable[tuple[str, Sequence[int]]]) -> list[ParamInfo]:
    out, offset = [], 0
    for name, shape in named_shapes:
        info = ParamInfo(name, tuple(int(s) for s in shape), offset)
        out.append(info)
        offset += info.numel
    return out


def select_names(names: Sequence[str], patterns: str | Sequence[str] | None) -> list[str]:
    """Names matching any of ``patterns`` (exact names or globs such as ``"fc2.*"``), in order."""
    if patterns is None:
        return list(names)
    if isinstance(patterns, str):
        patterns = [patterns]
    if not hasattr(patterns, "__iter__") or not all(isinstance(p, str) for p in patterns):
        raise InvalidType(
            f'params must be a name, a glob ("fc2.*") or a list of them, got {patterns!r}'
        )
    patterns = list(patterns)
    chosen = [n for n in names if any(n == p or fnmatch.fnmatchcase(n, p) for p in patterns)]
    unmatched = [p for p in patterns if not any(n == p or fnmatch.fnmatchcase(n, p) for n in names)]
    if unmatched or not chosen:
        raise InvalidArgument(
            f"params={patterns!r}: {unmatched or patterns} match no parameter; "
            f"the model's parameters are {list(names)}"
        )
    return chosen


# --------------------------------------------------------------------------------------------------
# writing


@dataclasses.dataclass
class _Array:
    """An uncompressed zarr v3 array as the writer sees it: its folder, shape, chunks, dtype, fill."""

    path: Path
    shape: tuple
    chunks: tuple
    dtype: str
    fill_value: float | int
    crc: _Array | None = None  # its row checksums (CRC-32 of each row's bytes), or None
    compress: str | None = None  # None (raw chunks) or the Blosc compressor after the XOR filter

    def meta(self) -> dict:
        fill = self.fill_value
        if isinstance(fill, float) and math.isnan(fill):
            fill = "NaN"
        return {
            "shape": list(self.shape),
            "data_type": self.dtype,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(self.chunks)}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": fill,
            "codecs": _codecs(self.compress, np.dtype(self.dtype).itemsize),
            "attributes": {},
            "zarr_format": 3,
            "node_type": "array",
            "storage_transformers": [],
        }

    def save(self):
        write_json_atomic(self.path / "zarr.json", self.meta())

    def resize(self, rows: int):
        self.shape = (rows, *self.shape[1:])
        self.save()
        if self.crc is not None:
            self.crc.resize(rows)

    @classmethod
    def open(cls, path: Path, crc: Path | None = None) -> _Array:
        raw = _RawArray(path)
        fill = raw.fill_value
        return cls(path, raw.shape, raw.chunks, raw.dtype.name, fill,
                   cls.open(crc) if crc is not None and crc.exists() else None,
                   raw.compress)  # fmt: skip


_RAW_CODECS = [{"name": "bytes", "configuration": {"endian": "little"}}]
_XOR_CODEC = "landkit.xor_rows"
_COMPRESSORS = ("lz4", "zstd")


def _codecs(compress: str | None, itemsize: int) -> list:
    """zarr v3 codecs of an array: raw little-endian bytes, or (``compress``) landkit's XOR of
    consecutive rows, then the bytes, then Blosc with byte shuffle."""
    if compress is None:
        return _RAW_CODECS
    blosc = {"cname": compress, "clevel": 1, "shuffle": "shuffle", "typesize": itemsize,
             "blocksize": 0}  # fmt: skip
    return [{"name": _XOR_CODEC, "configuration": {}}, *_RAW_CODECS,
            {"name": "blosc", "configuration": blosc}]  # fmt: skip


def _compressed_codec(codecs) -> str | None:
    """The compressor named by stored ``codecs`` (None for raw chunks); raises on anything else."""
    if codecs in (None, _RAW_CODECS):
        return None
    for cname in _COMPRESSORS:
        for itemsize in (2, 4, 8):
            if codecs == _codecs(cname, itemsize):
                return cname
    raise ValueError(codecs)


def _unsigned(a: np.ndarray) -> np.ndarray:
    return a.view(f"<u{a.dtype.itemsize}")


def _encode_chunk(data: np.ndarray, compress: str) -> bytes:
    """A chunk of rows as stored compressed: row 0, then each row XOR the one before, Blosc'd."""
    from numcodecs import Blosc

    u = _unsigned(np.ascontiguousarray(data))
    x = u.copy()
    np.bitwise_xor(u[1:], u[:-1], out=x[1:])
    return Blosc(cname=compress, clevel=1, shuffle=Blosc.SHUFFLE, blocksize=0).encode(x)


def _decode_chunk(raw: bytes, dtype: np.dtype, shape: tuple) -> np.ndarray:
    from numcodecs import Blosc

    x = np.frombuffer(Blosc().decode(raw), dtype=f"<u{dtype.itemsize}")
    if x.size != math.prod(shape):
        raise ValueError(f"{x.size} values where a chunk has {math.prod(shape)}")
    x = x.reshape(shape)
    return np.bitwise_xor.accumulate(x, axis=0).view(dtype)


def _group_meta(attributes: dict) -> dict:
    return {"attributes": attributes, "zarr_format": 3, "node_type": "group"}


class StoreWriter:
    """Creates (or reopens for appending) a run store and writes blocks of snapshots into it.

    It writes the zarr v3 metadata and raw chunks itself (no zarr calls on the hot path: each
    write is a plain ``write`` that releases the GIL); zarr reads the result. Used by
    :class:`landkit.Recorder`; a user rarely needs it directly.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        dim: int,
        meta: dict,
        capacity: int = 1024,
        dtype: str = "float32",
        chunk_bytes: int = 4 << 20,
        overwrite: bool = False,
        resume: bool = False,
        compress: str | None = None,
    ):
        self.path = Path(path)
        self.compress = compress
        acquire_lock(self.path)  # before anything is read or removed: one writer per run
        try:
            self._open(dim, meta, capacity, dtype, chunk_bytes, overwrite, resume)
        except BaseException:
            release_lock(self.path)
            raise

    def release(self) -> None:
        """Give the run directory back (the Recorder calls this when it closes)."""
        release_lock(self.path)

    def _open(self, dim, meta, capacity, dtype, chunk_bytes, overwrite, resume):
        if is_store(self.path) and resume:
            try:
                empty = (
                    int(read_json(self.path / "zarr.json")["attributes"][_META_KEY]["n_snapshots"])
                    == 0
                )
            except (OSError, KeyError, TypeError, ValueError, StoreError):
                empty = False
            if empty:  # the previous attempt died before its first snapshot: start it fresh
                remove_store(self.path)
                resume = False
        if is_store(self.path):
            if resume:
                self._reopen(meta, dim, force=resume == "force")
                return
            if not overwrite:
                raise RunExistsError(
                    f"{self.path} already holds a recorded run; pass overwrite=True to replace it "
                    "or resume=True to append to it"
                )
            remove_store(self.path)
        elif resume:
            raise StoreError(f"resume=True but {self.path} holds no run to resume")
        self.path.mkdir(parents=True, exist_ok=True)  # other files in it (a sweep's record) stay
        itemsize = np.dtype(dtype).itemsize
        self.capacity = max(int(capacity), 1)
        # whole rows per chunk, about chunk_bytes each, but no larger than the run is expected to be
        rows = chunk_bytes // max(1, dim * itemsize)
        self.chunk_rows = int(max(1, min(1024, self.capacity, rows)))
        self.dim = int(dim)
        self.n = 0
        self._pending: list = []
        write_json_atomic(self.path / "crc32" / "zarr.json", _group_meta({}))
        self.weights = _Array(
            self.path / "weights",
            (self.capacity, self.dim),
            (self.chunk_rows, self.dim),
            np.dtype(dtype).name,
            float("nan"),
            crc=self._crc_array("weights"),
            compress=self.compress,
        )
        self.weights.save()
        self.steps = self._vector("steps", "int64", -1)
        self.scalars: dict[str, _Array] = {}
        self.meta = {**meta, "schema_version": SCHEMA_VERSION, "n_snapshots": 0, "scalar_names": []}
        self._write_meta()

    def _crc_array(self, name) -> _Array | None:
        """The row checksums of array ``name`` (``RUN/crc32/NAME``), for a store that keeps them."""
        if not (self.path / "crc32").is_dir():  # a run recorded before checksums: none added
            return None
        arr = _Array(self.path / "crc32" / name, (self.capacity,), (max(self.chunk_rows, 256),),
                     "uint32", 0)  # fmt: skip
        arr.save()
        return arr

    def _vector(self, name, dtype, fill) -> _Array:
        arr = _Array(self.path / name, (self.capacity,), (max(self.chunk_rows, 256),), dtype, fill,
                     crc=self._crc_array(name))  # fmt: skip
        arr.save()
        return arr

    def _reopen(self, meta, dim, force=False):
        old = load(self.path)
        if old.meta.get("params") != meta.get("params") or old.weights.shape[1] != dim:
            raise StoreError(
                f"resume=True: the run at {self.path} recorded other parameters "
                f"({old.weights.shape[1]} values) than this model gives ({dim}); record into a new directory"
            )
        if not force:  # what is resumed must be the same run: same config, seed and schedule
            was = jsonable({k: old.meta.get(k) for k in ("config", "seed", "schedule")})
            now_ = jsonable({k: meta.get(k) for k in ("config", "seed", "schedule")})
            diff = [f"{k}: {was['config'].get(k)!r} → {now_['config'].get(k)!r}"
                    for k in sorted(set(was["config"] or {}) | set(now_["config"] or {}))
                    if (was["config"] or {}).get(k) != (now_["config"] or {}).get(k)]  # fmt: skip
            diff += [
                f"{k}: {was[k]!r} → {now_[k]!r}" for k in ("seed", "schedule") if was[k] != now_[k]
            ]
            if diff:
                raise StoreError(
                    f"resume=True: the run at {self.path} was recorded with other settings "
                    f"({'; '.join(diff[:4])}{' ...' if len(diff) > 4 else ''}): continuing it would join "
                    "two different trainings at a seam. Use the same settings, record elsewhere, or "
                    "pass resume='force'"
                )
        crc = self.path / "crc32"
        self.weights = _Array.open(self.path / "weights", crc / "weights")
        self.steps = _Array.open(self.path / "steps", crc / "steps")
        self.scalars = {
            k: _Array.open(self.path / "scalars" / k, crc / "scalars" / k)
            for k in old.meta.get("scalar_names", [])
        }
        self.capacity = self.weights.shape[0]
        self.chunk_rows = self.weights.chunks[0]
        self.dim = dim
        self.n = len(old)
        self._pending: list = []
        self._last_step = int(old.steps[-1]) if len(old) else None
        self.meta = {**old.meta, "status": "running", "resumed_at": now()}
        self._write_meta()

    @property
    def last_step(self) -> int | None:
        return getattr(self, "_last_step", None)

    def _write_meta(self):
        write_json_atomic(self.path / "zarr.json", _group_meta({_META_KEY: jsonable(self.meta)}))

    def _grow(self, needed: int):
        new = max(needed, 2 * self.capacity)
        for arr in (self.weights, self.steps, *self.scalars.values()):
            arr.resize(new)
        self.capacity = new

    def write(
        self,
        start: int,
        weights: np.ndarray,
        steps: np.ndarray,
        scalars: dict[str, np.ndarray],
        *,
        commit: bool = True,
    ):
        """Write rows ``start .. start+len(steps)``; with ``commit`` (the default) advance
        ``n_snapshots`` to cover them (atomically), else only the weights are written now and the rest
        waits for the next :meth:`commit`.

        Deferring is what the Recorder does between its commits (about once a second): a block's
        weights go to their chunk files at once, while its steps, scalars, checksums and the
        metadata — about a dozen small files rewritten per block — are written once for every block
        since the last commit. Rows beyond ``n_snapshots`` are never read, so a kill between commits
        loses at most the uncommitted rows; the committed ones stay valid.
        """
        stop = start + len(steps)
        committing = False
        try:
            if self._pending and start != self._pending[-1][1]:
                committing = True
                self._commit()  # only contiguous blocks are merged
                committing = False
            if stop > self.capacity:
                self._grow(stop)
            crcs = _write_rows(self.weights, start, weights, checksums=False)
            self._pending.append((start, stop, crcs, np.asarray(steps), scalars))
            if commit:
                committing = True
                self._commit()
        except BaseException:
            self._rescue(tried=committing)
            raise

    def commit(self) -> None:
        """Write the steps, scalars and checksums of every block written since the last commit, then
        advance ``n_snapshots`` over them (atomically)."""
        try:
            self._commit()
        except BaseException:
            self._rescue(tried=True)
            raise

    def _rescue(self, tried: bool) -> None:
        """After a failed write: commit the blocks written before it. When that fails too (a full
        disk has no room for the small files), the newest uncommitted block's chunk files are deleted
        to make room and one block fewer is committed, until a commit succeeds or none is left: the
        run then ends at its last good snapshot, never with a hole. ``tried``: a commit of every
        pending block has just failed."""
        if tried and self._pending:
            self._pending.pop()
        while True:
            self._free_beyond(self._pending[-1][1] if self._pending else self.n)
            if not self._pending:
                return
            try:
                self._commit()
                return
            except Exception:
                self._pending.pop()

    def _free_beyond(self, row: int) -> None:
        """Delete the weights' chunk files that hold only rows at or after ``row`` (never committed)."""
        rows = self.weights.chunks[0]
        for c in range(-(-max(row, self.n) // rows), -(-self.capacity // rows)):
            with contextlib.suppress(OSError):
                _chunk_file(self.weights.path, self.weights.shape, c).unlink()

    def _commit(self) -> None:
        if not self._pending:
            return
        blocks = self._pending
        start, stop = blocks[0][0], blocks[-1][1]
        if self.weights.crc is not None:
            _write_rows(self.weights.crc, start, np.concatenate([b[2] for b in blocks]))
        steps = np.concatenate([b[3] for b in blocks])
        _write_rows(self.steps, start, steps)
        names = list(dict.fromkeys(k for b in blocks for k in b[4]))
        scalars = {}
        for name in names:  # NaN in the blocks that did not record it
            scalars[name] = np.concatenate([np.asarray(b[4][name], dtype=np.float64) if name in b[4]
                                            else np.full(b[1] - b[0], np.nan) for b in blocks])  # fmt: skip
        for name, values in scalars.items():
            if name not in self.scalars:
                if not self.scalars:
                    write_json_atomic(self.path / "scalars" / "zarr.json", _group_meta({}))
                    if (self.path / "crc32").is_dir():
                        write_json_atomic(self.path / "crc32/scalars/zarr.json", _group_meta({}))
                self.scalars[name] = self._vector(f"scalars/{name}", "float64", float("nan"))
                self.meta["scalar_names"] = [*self.meta["scalar_names"], name]
                if start:  # earlier rows exist on disk as NaN, so every chunk below n is written
                    _write_rows(self.scalars[name], 0, np.full(start, np.nan))
            _write_rows(self.scalars[name], start, values)
        for name in self.scalars.keys() - scalars.keys():  # not recorded in these blocks
            _write_rows(self.scalars[name], start, np.full(stop - start, np.nan))
        self.n = max(self.n, stop)
        if len(steps):
            self._last_step = int(steps[-1])
        self.meta["n_snapshots"] = self.n
        self._write_meta()
        self._pending = []

    def sync(self) -> None:
        """Push every file of the store (and the folders naming them) to the disk (``fsync``)."""
        for root, _dirs, files in os.walk(self.path):
            for name in files:
                fd = os.open(os.path.join(root, name), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            fd = os.open(root, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def update_meta(self, **changes):
        self.meta.update(changes)
        self._write_meta()

    def write_buffers(self, steps: np.ndarray, buffers: dict[str, np.ndarray]) -> None:
        """Replace ``RUN/buffers.npz``: the model's buffers (normalisation statistics, ...) at the
        recorded ``steps``, one (len(steps), *shape) array per buffer name. Atomic; no pickle."""
        tmp = self.path / "buffers.tmp.npz"
        arrays = {f"b/{n}": a for n, a in buffers.items()}
        try:
            np.savez(tmp, steps=np.asarray(steps, dtype=np.int64), **arrays)
            os.replace(tmp, self.path / "buffers.npz")
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


def read_buffers(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """(steps, {name: (T, *shape) array}) of a run's recorded buffers, or None when it has none."""
    f = Path(path) / "buffers.npz"
    if not f.exists():
        return None
    try:
        with np.load(f, allow_pickle=False) as z:
            steps = z["steps"]
            arrays = {k[2:]: z[k] for k in z.files if k.startswith("b/")}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise StoreError(f"{f}: damaged buffers file ({type(e).__name__}: {e})") from e
    if any(len(a) != len(steps) for a in arrays.values()):
        raise StoreError(f"{f}: buffers recorded for a different number of steps than it lists")
    return steps, arrays


def _chunk_file(array_dir: Path, shape: tuple, c: int) -> Path:
    return array_dir / "c" / (f"{c}/0" if len(shape) == 2 else f"{c}")


def _row_crcs(values: np.ndarray) -> np.ndarray:
    """CRC-32 of each row's stored (little-endian) bytes."""
    flat = np.ascontiguousarray(values).reshape(len(values), -1)
    return np.array([zlib.crc32(row) for row in flat], dtype=np.uint32)


def _write_rows(arr: _Array, start: int, values: np.ndarray, *, checksums: bool = True):
    """Write ``values`` at rows ``start..`` of an array, chunk file by chunk file, then their
    checksums (when the array keeps them; with ``checksums=False`` they are returned instead, for the
    caller to write later). Compressed arrays encode each chunk first.

    An uncompressed zarr v3 chunk is the raw little-endian bytes of the full chunk shape, so a full
    chunk is one ``write`` (which releases the GIL: training goes on meanwhile); a partial chunk is
    read, merged and rewritten. Each file is replaced atomically. Rows below the run's
    ``n_snapshots`` keep their bytes through a rewrite, so their checksums stay valid after a kill at
    any point.
    """
    rows = arr.chunks[0]
    dtype = np.dtype(arr.dtype).newbyteorder("<")
    values = np.asarray(values, dtype=dtype)
    if arr.crc is not None:
        crcs = _row_crcs(values)
    stop = start + len(values)
    c = start // rows
    while c * rows < stop:
        lo, hi = max(start, c * rows), min(stop, (c + 1) * rows)
        piece = values[lo - start : hi - start]
        path = _chunk_file(arr.path, arr.shape, c)
        if hi - lo == rows:
            data = piece
        else:
            if not path.exists():
                data = np.full(arr.chunks, arr.fill_value, dtype=dtype)
            elif arr.compress:
                data = _decode_chunk(path.read_bytes(), dtype, arr.chunks).copy()
            else:
                data = np.fromfile(path, dtype=dtype).reshape(arr.chunks)
            data[lo - c * rows : hi - c * rows] = piece
        out = _encode_chunk(data, arr.compress) if arr.compress else np.ascontiguousarray(data).data
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(out)
            os.replace(tmp, path)
        except BaseException:  # disk full, ...: no temporary file left behind
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        c += 1
    if arr.crc is None:
        return None
    if not checksums:
        return crcs
    _write_rows(arr.crc, start, crcs)
    return None


def remove_store(path: str | os.PathLike) -> None:
    """Delete the store inside ``path`` (its zarr entries only; other files are left alone)."""
    path = Path(path)
    for name in ("weights", "steps", "scalars", "crc32"):
        shutil.rmtree(path / name, ignore_errors=True)
    with contextlib.suppress(OSError):
        (path / "zarr.json").unlink()
    with contextlib.suppress(OSError):
        (path / "buffers.npz").unlink()


# --------------------------------------------------------------------------------------------------
# reading

_DTYPES = ("float16", "float32", "float64", "int64", "uint32")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # a stored name that is a plain file name


def _bad(where, fault: str) -> StoreError:
    return StoreError(f"{where}: {fault}; the store is damaged or was not written by landkit")


def _count(value, what: str, where, minimum: int = 0) -> int:
    """An integer >= minimum read from stored metadata (bools and fractions refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise _bad(where, f"{what} is {value!r}, not an integer >= {minimum}")
    return int(value)


class _RawArray:
    """A stored array read straight from its chunk files: the uncompressed zarr v3 layout that
    :class:`StoreWriter` writes (any zarr v3 reader opens it too). The metadata is validated; a read
    is a plain ``readinto`` of exactly the rows it needs; each row is checked against its stored
    CRC-32 (``RUN/crc32/NAME``) once, when the run keeps checksums. Every fault raises a
    :class:`StoreError` naming the file."""

    def __init__(self, path: Path):
        self.path = path
        where = _need(path / "zarr.json", f"metadata of array {path.name!r}")
        m = read_json(where)
        try:
            if not isinstance(m, dict) or m.get("node_type") != "array":
                raise _bad(where, "not the metadata of an array")
            shape = tuple(_count(x, "a shape entry", where) for x in m["shape"])
            chunks = tuple(
                _count(x, "a chunk size", where, 1)
                for x in m["chunk_grid"]["configuration"]["chunk_shape"]
            )
            dtype = m["data_type"]
            codecs = m.get("codecs")
            fill = m.get("fill_value")
        except (KeyError, TypeError) as e:
            raise _bad(where, f"malformed array metadata ({type(e).__name__}: {e})") from None
        if dtype not in _DTYPES:
            raise _bad(where, f"data type {dtype!r} is not one landkit writes {_DTYPES}")
        if len(shape) not in (1, 2) or len(chunks) != len(shape) or shape[1:] != chunks[1:]:
            raise _bad(
                where, f"shape {list(shape)} with chunks {list(chunks)} is not a run's layout"
            )
        try:
            self.compress = _compressed_codec(codecs)
        except ValueError:
            raise _bad(
                where, f"codecs {codecs!r}: not raw little-endian chunks nor landkit's compression"
            ) from None
        if self.compress and len(shape) != 2:
            raise _bad(where, "only the weights of a run are stored compressed")
        self.shape, self.chunks = shape, chunks
        self.dtype = np.dtype(dtype).newbyteorder("<")
        self.fill_value = float("nan") if fill == "NaN" else fill
        self.row_bytes = self.dtype.itemsize * (shape[1] if len(shape) == 2 else 1)
        self.chunk_bytes = chunks[0] * self.row_bytes
        self.crc: np.ndarray | None = None  # the stored row checksums (set by load)
        self._verified: np.ndarray | None = None
        self._cached: tuple[int, np.ndarray] | None = None  # the last decoded compressed chunk

    def keep_checksums(self, crc: np.ndarray, where: Path) -> None:
        self.crc, self._crc_where = np.asarray(crc, dtype=np.uint32), where
        self._verified = np.zeros(len(crc), dtype=bool)

    def chunk_file(self, c: int) -> Path:
        return _chunk_file(self.path, self.shape, c)

    def check_file(self, c: int, n: int) -> None:
        """Chunk ``c`` exists and has the size of a chunk (a stat, nothing read)."""
        f = self.chunk_file(c)
        rows = self.chunks[0]
        try:
            st = f.stat()
        except FileNotFoundError:
            raise StoreError(
                f"missing chunk file {f} (snapshots {c * rows}..{min(n, (c + 1) * rows) - 1}); "
                "the store is truncated or was copied incompletely"
            ) from None
        except OSError as e:
            raise _bad(f, f"cannot be read ({e.strerror or e})") from None
        if not os.path.isfile(f) or (st.st_size != self.chunk_bytes and not self.compress):
            what = "a directory" if f.is_dir() else f"{st.st_size} bytes"
            raise _bad(f, f"a chunk file of {self.chunk_bytes} bytes expected, found {what}")

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo..hi`` (within the valid rows), verified against their checksums."""
        out = np.empty((max(hi - lo, 0), *self.shape[1:]), self.dtype)
        r = self.chunks[0]
        for c in range(lo // r, (hi - 1) // r + 1) if hi > lo else ():
            a, b = max(lo, c * r), min(hi, (c + 1) * r)
            f = self.chunk_file(c)
            view = out[a - lo : b - lo]
            if self.compress:
                view[:] = self._chunk(c, f)[a - c * r : b - c * r]
                self._verify(a, view, f)
                continue
            try:
                with open(f, "rb") as fh:
                    size = os.fstat(fh.fileno()).st_size
                    if size != self.chunk_bytes:
                        raise _bad(f, f"{size} bytes where a chunk has {self.chunk_bytes}")
                    fh.seek((a - c * r) * self.row_bytes)
                    got = fh.readinto(memoryview(view).cast("B"))
            except FileNotFoundError:
                raise StoreError(f"missing chunk file {f}: the store is truncated") from None
            except OSError as e:
                raise _bad(f, f"cannot be read ({e.strerror or e})") from None
            if got != view.nbytes:
                raise _bad(f, f"read {got} of {view.nbytes} bytes (the file shrank while reading)")
            self._verify(a, view, f)
        return out

    def _chunk(self, c: int, f: Path) -> np.ndarray:
        """Compressed chunk ``c``, decoded (the last one is kept: row-by-row reads decode it once)."""
        if self._cached is not None and self._cached[0] == c:
            return self._cached[1]
        try:
            raw = f.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"missing chunk file {f}: the store is truncated") from None
        except OSError as e:
            raise _bad(f, f"cannot be read ({e.strerror or e})") from None
        try:
            data = _decode_chunk(raw, self.dtype, self.chunks)
        except Exception as e:  # Blosc's own errors are RuntimeError/ValueError
            raise _bad(f, f"a compressed chunk that does not decode ({e})") from None
        self._cached = (c, data)
        return data

    def _verify(self, start: int, block: np.ndarray, f: Path) -> None:
        if self.crc is None:
            return
        todo = np.flatnonzero(~self._verified[start : start + len(block)])
        flat = block.reshape(len(block), -1)
        for i in todo:
            if zlib.crc32(flat[i]) != self.crc[start + i]:
                raise _bad(
                    f,
                    f"row {start + i} does not match its checksum in {self._crc_where} (the bytes "
                    "of one of the two files changed on disk)",
                )
        self._verified[start + todo] = True

    def __getitem__(self, key):
        cols = slice(None)
        if isinstance(key, tuple):
            key, cols = key
        out = (
            self.rows(key.start, key.stop) if isinstance(key, slice) else self.rows(key, key + 1)[0]
        )
        return out[..., cols] if len(self.shape) == 2 else out


class WeightsArray:
    """The (T, D) weight matrix of a run, read lazily: indexing reads only the chunks it touches.

    Supports ``w[i]``, ``w[a:b]``, ``w[[i, j]]``, ``w[i, cols]``, ``len(w)``, ``w.shape``,
    ``np.asarray(w)`` (reads everything) and :meth:`iter_chunks` (stream the whole matrix block by block).
    """

    def __init__(self, array, n: int, path: Path | None = None, rows=None):
        self._array = array
        # a selection of the stored rows (Trajectory.select / every): logical row i is stored row rows[i]
        self._map = None if rows is None else np.asarray(rows, dtype=np.int64)
        self._n = int(n) if rows is None else len(self._map)
        self._path = path

    @property
    def shape(self) -> tuple[int, int]:
        return (self._n, int(self._array.shape[1]))

    @property
    def dtype(self):
        return np.dtype(self._array.dtype)

    @property
    def chunk_rows(self) -> int:
        chunks = getattr(self._array, "chunks", None) or (max(self._array.shape[0], 1),)
        return int(chunks[0])

    def take(self, rows) -> WeightsArray:
        """The selected snapshots (an index array, a slice or a boolean mask) as a lazy WeightsArray."""
        idx = self._rows(rows)
        idx = np.arange(self._n)[idx] if isinstance(idx, slice) else np.atleast_1d(idx)
        stored = idx if self._map is None else self._map[idx]
        return WeightsArray(self._array, len(stored), self._path, rows=stored)

    def _read(self, stored: np.ndarray, cols):
        """Stored rows ``stored`` (ascending or not), reading each storage chunk they touch once."""
        if isinstance(self._array, np.ndarray):
            return self._array[stored][:, cols]
        if not len(stored):
            return np.empty((0, self.shape[1]), self.dtype)[:, cols]
        c = self.chunk_rows
        out = None
        for chunk in np.unique(stored // c):
            at = np.flatnonzero(stored // c == chunk)
            lo, hi = int(stored[at].min()), int(stored[at].max()) + 1
            block = np.asarray(self._array[lo:hi])[stored[at] - lo][:, cols]
            if out is None:
                out = np.empty((len(stored), *block.shape[1:]), block.dtype)
            out[at] = block
        return out

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.shape[1] * self.dtype.itemsize

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"WeightsArray(shape={self.shape}, dtype={self.dtype}, lazy)"

    def _rows(self, key):
        n = self._n
        if isinstance(key, (int, np.integer)):
            i = int(key)
            if not -n <= i < n:
                raise IndexError(f"snapshot index {i} out of range for a run of {n} snapshots")
            return i % n
        if isinstance(key, slice):
            sl = slice(*key.indices(n))
            # contiguous: one read; any other step (negative ones included) as numpy orders it
            return sl if sl.step == 1 else np.arange(n)[key]
        idx = np.asarray(key)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise IndexError(f"boolean index of shape {idx.shape} for {n} snapshots")
            return np.flatnonzero(idx)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"snapshot indices out of range for a run of {n} snapshots")
        return idx % n if n else idx

    def __getitem__(self, key):
        cols = slice(None)
        if isinstance(key, tuple):
            if len(key) != 2:
                raise IndexError(
                    f"weights take at most 2 indices (snapshot, parameter), got {len(key)}"
                )
            key, cols = key
        rows = self._rows(key)
        try:
            if self._map is not None:  # a selection: map to the stored rows
                if isinstance(rows, (int, np.integer)):
                    return np.asarray(self._array[int(self._map[rows]), cols])
                return self._read(self._map[rows], cols)
            if isinstance(rows, np.ndarray):
                return self._read(rows, cols)
            return np.asarray(self._array[rows, cols])
        except (ValueError, OSError, RuntimeError) as e:
            raise StoreError(f"could not read weights {key!r} from {self._path}: {e}") from e

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out.astype(dtype) if dtype is not None else out

    def iter_chunks(self, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(start, block)`` covering all snapshots, aligned to the storage chunks."""
        step = rows or self.chunk_rows
        if self._map is None or rows:
            for start in range(0, self._n, step):
                yield start, self[start : min(start + step, self._n)]
            return
        # a selection: one block per run of selected rows in one storage chunk
        chunk = self._map // step
        cuts = np.flatnonzero(np.diff(chunk)) + 1
        for start, stop in zip(np.r_[0, cuts], np.r_[cuts, self._n]):
            if stop > start:
                yield int(start), self[int(start) : int(stop)]


class Trajectory:
    """One recorded training run: snapshots of (selected) parameters and scalars at recorded steps.

    Attributes
    ----------
    steps : int64 array (T,)
    weights : :class:`WeightsArray` (T, D), lazy
    scalars : dict name -> float64 array (T,) (``loss``, ``lr``, ``grad_norm``, ``test_acc``, ...)
    meta : dict, everything stored with the run (config, seed, params, versions, status, ...)
    params : list of :class:`ParamInfo` (empty for a sketch)

    Example
    -------
    >>> traj.weights.shape[1] == sum(p.numel for p in traj.params)
    True
    >>> traj.model().load_state_dict(traj.state_dict(-1))
    <All keys matched successfully>
    """

    def __init__(self, steps, weights, scalars: dict, meta: dict, path: Path | None = None):
        self.steps = np.asarray(steps, dtype=np.int64)
        self.weights = (
            weights
            if isinstance(weights, WeightsArray)
            else WeightsArray(np.asarray(weights), len(self.steps))
        )
        self.scalars = dict(scalars)
        self.meta = meta
        self.path = path

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        where = f" at {str(self.path)!r}" if self.path else ""
        return (
            f"Trajectory({len(self)} snapshots of {self.weights.shape[1]} values, steps "
            f"{self.steps[0] if len(self) else '-'}..{self.steps[-1] if len(self) else '-'}, "
            f"status={self.status!r}{where})"
        )

    @property
    def status(self) -> str:
        return self.meta.get("status", "unknown")

    @property
    def schedule_period(self) -> int | None:
        """The period k of an ``every(k)`` part of the recorded schedule (evenly spaced snapshots that
        DMD can use), or None when the schedule has none."""
        return schedule_period(self.meta.get("schedule"))

    @property
    def config(self) -> dict:
        return self.meta.get("config", {})

    @property
    def seed(self):
        return self.meta.get("seed")

    @property
    def params(self) -> list[ParamInfo]:
        return [ParamInfo.from_json(p) for p in self.meta.get("params", [])]

    @property
    def is_sketch(self) -> bool:
        return bool(self.meta.get("sketch"))

    def param_slice(self, name: str) -> slice:
        for p in self.params:
            if p.name == name:
                return p.slice
        raise KeyError(f"no parameter {name!r} recorded; recorded: {[p.name for p in self.params]}")

    def unflatten(self, vector) -> dict:
        """A flat vector of this run's layout as a ``{name: tensor}`` dict."""
        import torch

        if self.is_sketch:
            raise InvalidArgument(
                "this run stores a random sketch of the weights, which cannot be unflattened"
            )
        v = torch.as_tensor(np.asarray(vector))
        if v.shape != (self.weights.shape[1],):
            raise InvalidArgument(
                f"vector must have shape ({self.weights.shape[1]},), got {tuple(v.shape)}"
            )
        return {p.name: v[p.slice].reshape(p.shape).clone() for p in self.params}

    def state_dict(self, index: int = -1) -> dict:
        """The model's state at snapshot ``index``: the recorded parameters, every other name of a
        tied parameter (``out.weight`` sharing ``emb.weight``), and the buffers (BatchNorm running
        statistics, ...) recorded at that step — so ``model.load_state_dict(traj.state_dict(i))``
        restores the model exactly (strict) when every parameter was recorded.

        Example
        -------
        >>> net = traj.model()                       # the architecture, rebuilt
        >>> net.load_state_dict(traj.state_dict(-1))  # strict: nothing missing, nothing extra
        <All keys matched successfully>
        """
        import torch

        state = self.unflatten(self.weights[index])
        for alias, source in self.meta.get("tied", {}).items():
            if source in state:
                state[alias] = state[source]
        buffers = self.buffers(index)
        if buffers:
            state.update({n: torch.as_tensor(a) for n, a in buffers.items()})
        return state

    def _recorded_buffers(self):
        """read_buffers, read again only when the file changed (a run may still be recording)."""
        if self.path is None:
            return None
        f = self.path / "buffers.npz"
        if not f.exists() and self.meta.get("buffers") and self.status != "running" and len(self):
            raise StoreError(
                f"{f} is missing: the run recorded buffers {self.meta['buffers'][:3]}... (BatchNorm "
                "statistics, ...) there; the store was copied incompletely or damaged"
            )
        stamp = (f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else None
        cached = self.__dict__.get("_buffers_cache")
        if cached is None or cached[0] != stamp:
            self.__dict__["_buffers_cache"] = cached = (stamp, read_buffers(self.path))
        return cached[1]

    def buffers(self, index: int = -1) -> dict | None:
        """The model's buffers recorded at snapshot ``index`` as arrays, or None (a run recorded
        before buffers were kept, a model without buffers, or a step whose buffers were not written)."""
        rec = self._recorded_buffers()
        if rec is None:
            return None
        steps, arrays = rec
        step = int(np.asarray(self.steps)[index])
        hit = np.flatnonzero(steps == step)
        if not len(hit):
            return None
        return {n: a[hit[-1]] for n, a in arrays.items()}

    def model(self, index: int = -1):
        """The model at snapshot ``index``, rebuilt from the recorded zoo spec (``lk.models.*``) with
        the recorded weights loaded (every parameter must have been recorded)."""
        from .models import from_spec

        spec = self.config.get("model_spec")
        if spec is None:
            raise InvalidArgument(
                "this run does not say how to build its model (only landkit zoo models do); "
                "build it yourself and load traj.state_dict(index)"
            )
        import torch

        if not len(self):
            raise InvalidArgument("this run holds no snapshot yet: there is no model to rebuild")
        where = self.path / "zarr.json" if self.path else "the run's metadata"
        try:  # first without memory (meta tensors): a recorded spec is checked before it is built
            with torch.device("meta"):
                shapes = {n: tuple(p.shape) for n, p in from_spec(spec).named_parameters()}
        except Exception as e:  # a hostile or damaged spec fails in many ways
            raise StoreError(f"{where}: the recorded model spec does not build ({e})") from None
        recorded = {p.name: p.shape for p in self.params}
        missing = set(shapes) - set(recorded)
        if missing or self.is_sketch:
            raise InvalidArgument(
                f"the run did not record every parameter (missing {sorted(missing)})"
            )
        other = [n for n in shapes if tuple(recorded[n]) != shapes[n]]
        if other:
            raise StoreError(
                f"{where}: the recorded model spec builds {other[0]!r} with shape "
                f"{shapes[other[0]]} but the run recorded {tuple(recorded[other[0]])}"
            )
        model = from_spec(spec)
        state = self.state_dict(index)
        lacking = set(model.state_dict()) - set(state)
        if lacking:
            import warnings

            warnings.warn(
                f"this run recorded no {sorted(lacking)[:3]}{' ...' if len(lacking) > 3 else ''} for "
                f"snapshot {index}: the rebuilt model keeps their initial values (record with this "
                "version of landkit to keep buffers such as BatchNorm statistics)",
                stacklevel=2,
            )
        model.load_state_dict(state, strict=not lacking)
        return model

    def task(self):
        """The built-in task this run was trained on, rebuilt from its config."""
        from .tasks import from_config

        return from_config(self.config)

    def select(self, rows) -> Trajectory:
        """The run restricted to some snapshots (an index array, a slice or a boolean mask over
        snapshots), still lazy: nothing is read until used. Steps, scalars and buffers follow.

        Example
        -------
        >>> late = traj.select(slice(-5, None))          # the last five snapshots
        >>> len(late), bool(late.steps[-1] == traj.steps[-1])
        (5, True)
        """
        idx = np.atleast_1d(np.arange(len(self))[rows])
        w = self.weights.take(idx)
        sub = Trajectory(self.steps[idx], w, {k: np.asarray(v)[idx] for k, v in self.scalars.items()},
                         self.meta, self.path)  # fmt: skip
        if "_buffers_cache" in self.__dict__:
            sub.__dict__["_buffers_cache"] = self.__dict__["_buffers_cache"]
        return sub

    def every(self, k: int) -> Trajectory:
        """The snapshots at the recorded steps that are multiples of ``k``, as a lazy
        :class:`Trajectory` (nothing read yet): evenly spaced, what DMD needs. Raises when those steps
        are not evenly spaced (a gap in the record).

        Example
        -------
        >>> even = traj.every(traj.schedule_period)
        >>> len(np.unique(np.diff(even.steps)))          # one step size
        1
        >>> lk.koopman.spectrum(even, delays=2, rank=4).n_pairs > 0
        True
        """
        from .validate import integer

        k = integer("k", k, minimum=1)
        rows = np.flatnonzero(np.asarray(self.steps) % k == 0)
        if len(rows) > 1 and len(np.unique(np.diff(np.asarray(self.steps)[rows]))) > 1:
            raise InvalidArgument(
                f"the recorded multiples of {k} are not evenly spaced: some were not recorded; "
                "choose a k that the schedule records every time"
            )
        return self.select(rows)

    def at_step(self, step: int) -> int:
        """The snapshot index of training step ``step``."""
        hit = np.flatnonzero(self.steps == step)
        if not len(hit):
            raise KeyError(
                f"step {step} was not recorded; recorded steps run {self.steps[:5].tolist()}..."
            )
        return int(hit[0])


def _path(name: str, value) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidType(
            f"{name} must be a path (a str or pathlib.Path), got {type(value).__name__}"
        )
    return Path(value)


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise StoreError(
            f"{what} is missing: {path} does not exist; the store is truncated or not a landkit run"
        )
    return path


def load(path: str | os.PathLike) -> Trajectory:
    """Open a recorded run lazily (milliseconds, whatever its size).

    Raises :class:`landkit.StoreError` naming the file when the store is missing, truncated,
    corrupted or of another schema version.

    Example
    -------
    >>> traj = load(runs[0].path)
    >>> net = traj.model()                                # the recorded architecture, rebuilt
    >>> net.load_state_dict(traj.state_dict(-1))
    <All keys matched successfully>
    """
    path = _path("path", path)
    if not path.is_dir():
        raise StoreError(f"no landkit run at {path}: not a directory")
    meta_file = _need(path / "zarr.json", "the run's metadata file")
    group = read_json(meta_file)
    attrs = group.get("attributes") if isinstance(group, dict) else None
    meta = attrs.get(_META_KEY) if isinstance(attrs, dict) else None
    if not isinstance(meta, dict):
        raise StoreError(
            f"{meta_file} has no landkit metadata: {path} is not a landkit run (or its metadata "
            "file is damaged)"
        )
    version = meta.get("schema_version")
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"{meta_file} has schema version {version!r}; this landkit reads version {SCHEMA_VERSION}. "
            "Open it with the landkit version that wrote it, or re-record it"
        )
    n = _count(meta.get("n_snapshots", 0), "n_snapshots", meta_file)
    names = meta.get("scalar_names", [])
    if not isinstance(names, list) or not all(
        isinstance(x, str) and _NAME.fullmatch(x) for x in names
    ):
        raise _bad(meta_file, f"scalar_names {names!r} is not a list of plain names")
    arrays = {"weights": _RawArray(path / "weights"), "steps": _RawArray(path / "steps")}
    arrays.update({f"scalars/{x}": _RawArray(path / "scalars" / x) for x in names})
    weights = arrays["weights"]
    if len(weights.shape) != 2 or arrays["steps"].shape[1:] != ():
        raise _bad(path / "weights/zarr.json", "weights must be 2-D and steps 1-D")
    _check_layout(meta, weights.shape[1], meta_file)
    for name, arr in arrays.items():
        if arr.shape[0] < n:
            raise _bad(path / name / "zarr.json", f"holds {arr.shape[0]} rows but the run says {n}")
        for c in range(math.ceil(n / arr.chunks[0])):  # a stat per chunk: nothing read
            arr.check_file(c, n)
        crc_dir = path / "crc32" / name
        if (path / "crc32").is_dir():  # the run keeps row checksums: every array has them
            crc = _RawArray(crc_dir)
            if crc.shape[0] < n:
                raise _bad(crc_dir / "zarr.json", f"holds {crc.shape[0]} rows but the run says {n}")
            arr.keep_checksums(crc.rows(0, n), crc_dir)
    steps = arrays["steps"].rows(0, n).astype(np.int64)
    if n > 1 and not (np.diff(steps) > 0).all():
        raise _bad(arrays["steps"].path, "the recorded steps do not increase")
    scalars = {x: arrays[f"scalars/{x}"].rows(0, n).astype(np.float64) for x in names}
    return Trajectory(steps, WeightsArray(weights, n, path), scalars, meta, path)


def _check_layout(meta: dict, dim: int, where) -> None:
    """The recorded parameter layout (names, shapes, offsets, tied names) is consistent with the
    stored width ``dim``: contiguous offsets from 0 covering exactly ``dim`` values."""
    params = meta.get("params", [])
    if not isinstance(params, list):
        raise _bad(where, f"params is {type(params).__name__}, not a list")
    offset = 0
    for p in params:
        try:
            shape = [_count(x, f"a shape entry of {p.get('name')!r}", where) for x in p["shape"]]
            if _count(p["offset"], "an offset", where) != offset or not isinstance(p["name"], str):
                raise _bad(where, f"parameter {p.get('name')!r} is not where the layout puts it")
        except (KeyError, TypeError, AttributeError) as e:
            raise _bad(where, f"malformed parameter entry {p!r} ({e})") from None
        offset += math.prod(shape)
    if params and offset != dim and not meta.get("sketch"):
        raise _bad(where, f"the recorded parameters hold {offset} values but the weights {dim}")
    tied = meta.get("tied", {})
    if not isinstance(tied, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tied.items()
    ):
        raise _bad(where, "tied is not a mapping of parameter names")


# --------------------------------------------------------------------------------------------------
# many runs


class RunSet:
    """Many trajectories (seeds, sweep cells) with their configs.

    ``runs[i]`` is a :class:`Trajectory`; ``runs.configs`` a list of dicts; ``runs.where(width=16)``
    the subset whose config matches; ``runs.groupby("width")`` a dict of RunSets.

    Example
    -------
    >>> len(runs), runs.varying_keys(), len(runs.where(width=8))
    (10, ['width'], 5)
    >>> sorted(runs.groupby("width"))
    [8, 32]
    """

    def __init__(
        self, trajectories: Sequence[Trajectory], configs: Sequence[dict] | None = None, root=None
    ):
        self.trajectories = list(trajectories)
        self.configs = [dict(c) for c in (configs or [t.config for t in self.trajectories])]
        self.root = root

    def __len__(self):
        return len(self.trajectories)

    def __iter__(self):
        return iter(self.trajectories)

    def __getitem__(self, i):
        return self.trajectories[i]

    def __repr__(self):
        keys = sorted({k for c in self.configs for k in c})
        return f"RunSet({len(self)} runs, config keys {keys})"

    def where(self, **match) -> RunSet:
        keep = [
            i for i, c in enumerate(self.configs) if all(c.get(k) == v for k, v in match.items())
        ]
        return RunSet(
            [self.trajectories[i] for i in keep], [self.configs[i] for i in keep], self.root
        )

    def varying_keys(self) -> list[str]:
        """Config keys whose value differs between runs, the seed aside: what to group runs by.

        Example
        -------
        >>> runs.varying_keys()
        ['width']
        """
        varying = {k for c in self.configs for k in c
                   if len({str(cc.get(k)) for cc in self.configs}) > 1}  # fmt: skip
        return sorted(varying - {"seed"})

    def common_steps(self) -> list[int]:
        """The training steps recorded by every run, sorted."""
        if not self.trajectories:
            return []
        common = set(np.asarray(self.trajectories[0].steps).tolist())
        for t in self.trajectories[1:]:
            common &= set(np.asarray(t.steps).tolist())
        return sorted(common)

    def groupby(self, key: str) -> dict:
        out: dict = {}
        for t, c in zip(self.trajectories, self.configs):
            out.setdefault(c.get(key), ([], []))
            out[c.get(key)][0].append(t)
            out[c.get(key)][1].append(c)
        return {k: RunSet(ts, cs, self.root) for k, (ts, cs) in out.items()}

    def table(self):
        """Configs plus status and final scalars, one row per run (a list of dicts)."""
        rows = []
        for t, c in zip(self.trajectories, self.configs):
            row = {**c, "status": t.status, "snapshots": len(t)}
            row.update({k: float(v[-1]) for k, v in t.scalars.items() if len(v)})
            rows.append(row)
        return rows


def load_runs(root: str | os.PathLike, *, include_failed: bool = False) -> RunSet:
    """All runs under ``root`` (e.g. a :func:`landkit.sweep` directory), sorted by directory name.

    Runs of a sweep that did not finish are left out unless ``include_failed=True``.

    Example
    -------
    >>> rs = lk.load_runs(runs.root)
    >>> len(rs), rs.table()[0]["status"]
    (10, 'finished')
    """
    root = _path("root", root)
    if not root.is_dir():
        raise StoreError(f"no runs at {root}: not a directory")
    trajs, configs, damaged = [], [], []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        record = d / RUN_RECORD
        try:
            config = read_json(record).get("config", {}) if record.exists() else None
            if record.exists() and not (d / DONE_MARKER).exists() and not include_failed:
                continue
            if not is_store(d):
                continue
            t = load(d)
        except (StoreError, AttributeError) as e:  # one damaged run never hides the others
            damaged.append(f"{d.name}: {e}")
            continue
        trajs.append(t)
        configs.append(config if config is not None else t.config)
    if damaged:
        import warnings

        warnings.warn(
            f"{len(damaged)} run(s) under {root} could not be opened and are left out "
            f"(rerun the sweep to redo them): {'; '.join(damaged[:3])}{' ...' if len(damaged) > 3 else ''}",
            stacklevel=2,
        )
    if not trajs:
        raise StoreError(f"no recorded runs found under {root}")
    return RunSet(trajs, configs, root)


# --------------------------------------------------------------------------------------------------
# runs recorded before landkit


def _checkpoint_state(obj, path):
    if isinstance(obj, dict) and not any(hasattr(v, "shape") for v in obj.values()):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(key), dict):
                return obj[key]
    if not isinstance(obj, dict):
        raise InvalidArgument(
            f"{path} does not hold a state_dict (a dict of tensors); got {type(obj).__name__}"
        )
    return obj


def from_checkpoints(
    paths: Sequence[str | os.PathLike],
    steps: Sequence[int] | None = None,
    *,
    params: str | Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> Trajectory:
    """A trajectory from saved ``state_dict`` checkpoints (read with ``torch.load(weights_only=True)``).

    ``steps`` defaults to the single integer in each file name (``ckpt_0500.pt`` -> 500) when every
    name has one, else ``0, 1, 2, ...``. Floating-point tensors are kept (``params=`` selects by
    name/glob). With ``path=`` the trajectory is written as a store there and opened lazily;
    without it, it lives in memory.

    Example
    -------
    >>> for step in (0, 100):
    ...     torch.save(model.state_dict(), f"ckpt_{step:04d}.pt")
    >>> traj = from_checkpoints(["ckpt_0000.pt", "ckpt_0100.pt"])
    >>> traj.steps.tolist()
    [0, 100]
    """
    import torch

    if isinstance(paths, (str, os.PathLike)) or not hasattr(paths, "__iter__"):
        raise InvalidType(f"paths must be a list of checkpoint files, got {paths!r}")
    paths = [_path("paths", p) for p in paths]
    if not paths:
        raise InvalidArgument("paths is empty: give at least one checkpoint file")
    if steps is None:
        nums = [re.findall(r"\d+", p.stem) for p in paths]
        steps = (
            [int(n[-1]) for n in nums]
            if all(nums) and len({int(n[-1]) for n in nums}) == len(nums)
            else range(len(paths))
        )
    from .validate import integer

    steps = [integer("steps", s, minimum=0) for s in steps]
    if len(set(steps)) != len(steps):
        dup = sorted({s for s in steps if steps.count(s) > 1})
        raise InvalidArgument(
            f"steps holds duplicates {dup[:5]}: each checkpoint needs its own step"
        )
    if len(steps) != len(paths):
        raise InvalidArgument(f"steps has {len(steps)} entries for {len(paths)} checkpoint files")
    first = None
    rows = []
    for p in paths:
        if not p.is_file():
            raise InvalidArgument(f"paths: checkpoint {p} does not exist (or is not a file)")
        try:
            obj = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e:  # pickle refusals, damaged zips, not a checkpoint
            import pickle

            why = (
                "it holds Python objects beyond tensors and plain containers, which could run code "
                "when loaded; landkit refuses them. Re-save the checkpoint as a plain state_dict"
                if isinstance(e, pickle.UnpicklingError)
                else f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
            )
            raise StoreError(f"{p} is not a checkpoint landkit can read: {why}") from None
        state = _checkpoint_state(obj, p)
        floats = {k: v for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point()}
        if first is None:
            names = select_names(list(floats), params)
            first = layout((n, floats[n].shape) for n in names)
        missing = [
            q.name for q in first if q.name not in floats or tuple(floats[q.name].shape) != q.shape
        ]
        if missing:
            raise InvalidArgument(
                f"{p} lacks (or has another shape for) parameters {missing} of the first checkpoint"
            )
        rows.append(torch.cat([floats[q.name].detach().reshape(-1).float() for q in first]).numpy())
    weights = np.stack(rows)
    order = np.argsort(steps, kind="stable")
    weights, steps_arr = weights[order], np.asarray(steps)[order]
    meta = {
        "schema_version": SCHEMA_VERSION,
        "status": "finished",
        "source": "checkpoints",
        "files": [str(paths[i]) for i in order],
        "params": [q.to_json() for q in first],
        "config": {},
        "seed": None,
        "sketch": None,
        "n_snapshots": len(steps_arr),
        "created": now(),
    }
    if path is None:
        return Trajectory(steps_arr, weights, {}, meta)
    w = StoreWriter(
        path, dim=weights.shape[1], meta=meta, capacity=len(steps_arr), overwrite=overwrite
    )
    w.write(0, weights, steps_arr, {})
    return load(path)
