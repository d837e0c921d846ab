"""The one base of every result a lens returns.

A result is a frozen dataclass that subclasses :class:`Result`. It gets, for free:

- a one-line ``repr`` (its headline numbers and the sizes of its arrays, never the arrays themselves)
  and an HTML summary in Jupyter (what it is, its sizes, its headline numbers, the parameters that
  made it);
- ``.params``: the settings that produced it (a dict, empty where the lens has none);
- identity comparison: ``a == b`` is ``a is b`` and a result can be a dict key or a set member
  (array fields make value equality ambiguous; compare the numbers you care about instead);
- ``result.save(path)`` and :func:`load_result` — arrays to ``.npz`` members, everything else to one
  JSON member of the same file; no pickle, so a result file from someone else cannot run code.

Example
-------
>>> import numpy as np, landkit as lk
>>> est = lk.hessian.TraceEstimate(2.0, 0.1, 4, np.array([1.9, 2.1, 2.0, 2.0]))
>>> est
TraceEstimate(estimate=2, stderr=0.1, num_matvecs=4, samples[4])
>>> path = est.save(tmp_path / "trace.npz")
>>> back = lk.load_result(path)
>>> back.estimate, back == est, back == back
(2.0, False, True)
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .errors import InvalidArgument, StoreError

__all__ = ["Comparison", "ComparisonTable", "Result", "compare", "load_result"]

_FORMAT = "landkit-result"
_VERSION = 1
_REGISTRY: dict[str, type] = {}


def register(cls):
    """Allow a plain dataclass (not a :class:`Result`) to appear inside saved results."""
    _REGISTRY[cls.__name__] = cls
    return cls


class Result:
    """Base of the frozen result dataclasses (see the module docstring).

    Subclasses are declared ``@dataclasses.dataclass(frozen=True, eq=False, repr=False)`` and may set
    ``_headline``: the attribute names (fields or properties) shown in the repr, in order.
    """

    _headline: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__name__ in _REGISTRY and _REGISTRY[cls.__name__] is not cls:
            mod = _REGISTRY[cls.__name__].__module__
            if mod != cls.__module__:  # a reload of the same module is fine
                raise TypeError(f"two result classes named {cls.__name__}")
        _REGISTRY[cls.__name__] = cls

    # ---- what it says about itself ---------------------------------------------------------------

    def _headline_items(self) -> list[tuple[str, Any]]:
        names = self._headline or tuple(
            f.name
            for f in dataclasses.fields(self)
            if f.name not in ("params", "info") and _is_scalar(getattr(self, f.name))
        )
        return [(n, getattr(self, n)) for n in names]

    def _sizes(self) -> list[tuple[str, tuple]]:
        out = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                out.append((f.name, v.shape))
            elif isinstance(v, (list, tuple, dict)) and f.name not in ("params", "info"):
                out.append((f.name, (len(v),)))
        return out

    def __repr__(self):
        parts = [f"{n}={_fmt(v)}" for n, v in self._headline_items()]
        shown = {n for n, _ in self._headline_items()}
        parts += [f"{n}[{'×'.join(map(str, s))}]" for n, s in self._sizes() if n not in shown]
        text = f"{type(self).__name__}({', '.join(parts)})"
        return text if len(text) <= 200 else text[:198] + "…)"

    def _repr_html_(self):
        esc = html.escape
        rows = []

        def section(title, items):
            if not items:
                return
            rows.append(
                f"<tr><th colspan='2' style='text-align:left;padding-top:4px'>{esc(title)}</th></tr>"
            )
            for k, v in items:
                rows.append(
                    f"<tr><td style='text-align:left;padding-right:1em'>{esc(str(k))}</td>"
                    f"<td style='text-align:left'>{esc(v)}</td></tr>"
                )

        section(
            "headline",
            [(n, v if isinstance(v, str) else _fmt(v)) for n, v in self._headline_items()],
        )
        section(
            "sizes",
            [
                (n, "×".join(map(str, s)) + (f" {getattr(self, n).dtype}" if _arr(self, n) else ""))
                for n, s in self._sizes()
            ],
        )
        section("parameters", [(k, _fmt(v)) for k, v in self.params.items()])
        doc = (type(self).__doc__ or "").strip().split("\n")[0]
        return (
            f"<div class='landkit-result'><b>{esc(type(self).__name__)}</b> "
            f"<span style='color:#666'>{esc(doc)}</span>"
            f"<table style='margin:2px 0'>{''.join(rows)}</table></div>"
        )

    @property
    def params(self) -> dict:
        """The settings that produced this result (empty where the lens records none)."""
        return dict(self.__dict__.get("_params", {}))

    # ---- save and load ---------------------------------------------------------------------------

    def save(self, path) -> Path:
        """Write this result to ``path`` (a ``.npz`` file; the suffix is added when missing).

        Arrays become ``.npz`` members, everything else one JSON member: no pickle anywhere.
        Returns the path written; :func:`landkit.load_result` reads it back.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays: dict[str, np.ndarray] = {}
        tree = _encode(self, arrays, "r")
        meta = json.dumps({"format": _FORMAT, "version": _VERSION, "tree": tree}, allow_nan=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, __landkit__=np.array(meta), **arrays)
        tmp.replace(path)
        return path


def with_params(result: Result, **params) -> Result:
    """Attach the settings that produced ``result`` (shown by ``.params``, saved with it)."""
    clean = {k: v for k, v in params.items() if k != "self"}
    object.__setattr__(result, "_params", {**result.__dict__.get("_params", {}), **clean})
    return result


def load_result(path) -> Result:
    """Read a result written by ``result.save(path)``.

    Only landkit's own result classes can be built from a file (by name, from a fixed registry), and
    arrays are read with ``allow_pickle=False``: a file from someone else cannot run code.

    Example
    -------
    >>> import numpy as np, landkit as lk
    >>> p = lk.hessian.TraceEstimate(1.0, 0.0, 2, np.ones(2)).save(tmp_path / "t")
    >>> lk.load_result(p).num_matvecs
    2
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no result file at {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["__landkit__"]))
            arrays = {k: z[k] for k in z.files if k != "__landkit__"}
    except (OSError, ValueError, KeyError) as e:
        raise StoreError(f"{path} is not a landkit result file ({e})") from e
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise StoreError(f"{path} is not a landkit result file (no '{_FORMAT}' header)")
    if meta.get("version") != _VERSION:
        raise StoreError(
            f"{path} was written by result format {meta.get('version')}; this landkit reads "
            f"{_VERSION}: upgrade landkit"
        )
    try:
        return _decode(meta["tree"], arrays)
    except (KeyError, TypeError, ValueError) as e:
        raise StoreError(f"{path}: damaged result file ({type(e).__name__}: {e})") from e


# ---- encoding ------------------------------------------------------------------------------------


def _is_scalar(v) -> bool:
    return v is None or isinstance(v, (bool, int, float, str, np.number, np.bool_, complex))


def _arr(obj, name) -> bool:
    return isinstance(getattr(obj, name), np.ndarray)


def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    if isinstance(v, (complex, np.complexfloating)):
        return f"{complex(v):.4g}"
    if isinstance(v, np.ndarray):
        if v.size <= 4 and v.ndim <= 1:
            return "[" + ", ".join(_fmt(x) for x in v.tolist()) + "]"
        return f"array{list(v.shape)}"
    if isinstance(v, str):
        return repr(v) if len(v) <= 40 else repr(v[:37] + "...")
    if isinstance(v, (list, tuple)):
        inner = ", ".join(_fmt(x) for x in list(v)[:4]) + (", …" if len(v) > 4 else "")
        return f"[{inner}]"
    if isinstance(v, Result):
        return type(v).__name__
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _encode(obj, arrays: dict, key: str):
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else {"__float__": repr(x)}
    if isinstance(obj, (complex, np.complexfloating)):
        z = complex(obj)
        return {"__complex__": [_encode(z.real, arrays, key), _encode(z.imag, arrays, key)]}
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.ndarray) or _is_tensor(obj):
        tensor = _is_tensor(obj)
        a = obj.detach().cpu().numpy() if tensor else obj
        if a.dtype == object:
            return {"__objarray__": _encode(a.tolist(), arrays, key), "shape": list(a.shape)}
        name = f"a{len(arrays)}"
        arrays[name] = a
        return {"__tensor__" if tensor else "__array__": name}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        if _REGISTRY.get(cls.__name__) is not cls:
            raise InvalidArgument(f"cannot save {key}: {cls.__name__} is not a landkit result type")
        fields = {
            f.name: _encode(getattr(obj, f.name), arrays, f"{key}.{f.name}")
            for f in dataclasses.fields(obj)
        }
        out = {"__result__": cls.__name__, "fields": fields}
        if obj.__dict__.get("_params"):
            out["params"] = _encode(obj.__dict__["_params"], arrays, f"{key}.params")
        return out
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, arrays, f"{key}.{k}") for k, v in obj.items()}
        return {
            "__items__": [
                [_encode(k, arrays, key), _encode(v, arrays, f"{key}[{k!r}]")]
                for k, v in obj.items()
            ]
        }
    if isinstance(obj, list):
        return [_encode(v, arrays, f"{key}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays, f"{key}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, (set, frozenset)):
        return {"__set__": [_encode(v, arrays, key) for v in sorted(obj, key=repr)]}
    raise InvalidArgument(
        f"cannot save {key}: a {type(obj).__name__} has no file form (arrays, numbers, text, "
        "lists and dicts of them, and landkit results can be saved)"
    )


def _is_tensor(obj) -> bool:
    mod = type(obj).__module__
    return mod.startswith("torch") and type(obj).__name__ in ("Tensor", "Parameter")


def _decode(node, arrays: dict):
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if not isinstance(node, dict):
        return node
    if "__float__" in node:
        return float(node["__float__"])
    if "__complex__" in node:
        re, im = (_decode(v, arrays) for v in node["__complex__"])
        return complex(re, im)
    if "__array__" in node:
        return arrays[node["__array__"]]
    if "__tensor__" in node:
        import torch

        return torch.from_numpy(np.array(arrays[node["__tensor__"]]))
    if "__objarray__" in node:
        items = _decode(node["__objarray__"], arrays)
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out.reshape(node["shape"])
    if "__tuple__" in node:
        return tuple(_decode(v, arrays) for v in node["__tuple__"])
    if "__set__" in node:
        return {_hashable(_decode(v, arrays)) for v in node["__set__"]}
    if "__items__" in node:
        return {_hashable(_decode(k, arrays)): _decode(v, arrays) for k, v in node["__items__"]}
    if "__result__" in node:
        cls = _REGISTRY.get(node["__result__"])
        if cls is None:
            raise ValueError(f"unknown result type {node['__result__']!r}")
        fields = {k: _decode(v, arrays) for k, v in node["fields"].items()}
        known = {f.name for f in dataclasses.fields(cls)}
        obj = cls(**{k: v for k, v in fields.items() if k in known})
        if "params" in node:
            object.__setattr__(obj, "_params", _decode(node["params"], arrays))
        return obj
    return {k: _decode(v, arrays) for k, v in node.items()}


def _hashable(v):
    return tuple(_hashable(x) for x in v) if isinstance(v, list) else v


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One published number beside landkit's: the lesson's closing table row (see :func:`compare`)."""

    quantity: str
    paper: float
    landkit: float
    tolerance: float
    setup: str = "the paper's set-up"
    paper_high: float | None = None  # a published range: paper … paper_high

    @property
    def verdict(self) -> str:
        """``"reproduced"`` within ``tolerance`` (of the range, for a range), else ``"differs"`` (the
        ``setup`` column says why)."""
        high = self.paper if self.paper_high is None else self.paper_high
        ok = math.isfinite(self.landkit) and (
            self.paper - self.tolerance <= self.landkit <= high + self.tolerance
        )
        return "reproduced" if ok else "differs"

    @property
    def published(self) -> str:
        """The published number (or range) as text."""
        if self.paper_high is None:
            return f"{self.paper:.4g}"
        return f"{self.paper:.4g}–{self.paper_high:.4g}"


class ComparisonTable(list):
    """Rows of :class:`Comparison`: a plain-text table in a terminal, an HTML one in Jupyter."""

    _cols = ("quantity", "paper", "landkit", "verdict", "set-up")

    def _cells(self):
        return [(c.quantity, c.published, f"{c.landkit:.4g}", f"{c.verdict} (±{c.tolerance:.2g})",
                 c.setup) for c in self]  # fmt: skip

    def __repr__(self) -> str:
        rows = [self._cols, *self._cells()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self._cols))]
        return "\n".join("  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip() for r in rows)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self._cols)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in r) + "</tr>"
            for r in self._cells()
        )
        return f"<table><tr>{head}</tr>{body}</table>"


def compare(rows) -> ComparisonTable:
    """The table that closes a lesson: each published number beside landkit's, with a verdict.

    ``rows``: ``(quantity, paper, landkit, tolerance[, set-up difference])`` tuples; ``paper`` is a
    number or a published range ``(low, high)`` (reproduced when landkit's number lies within
    ``tolerance`` of the range). A number in a lesson's text is never typed by hand: it comes from
    the run, through this table.

    Example
    -------
    >>> t = lk.results.compare([("W(OGD, bisection)", 0.753, 0.7534, 0.002, "the paper's set-up"),
    ...                         ("max|λ|, grokking", 1.035, 1.026, 0.005, "d_model 128, 3 seeds")])
    >>> [c.verdict for c in t]
    ['reproduced', 'differs']
    >>> lk.results.compare([("max|λ|", (1.035, 1.040), 1.031, 0.005)])[0].verdict
    'reproduced'
    """
    out = ComparisonTable()
    for r in rows:
        if not 4 <= len(r) <= 5:
            raise InvalidArgument(
                f"rows: each row is (quantity, paper, landkit, tolerance[, set-up]), got {r!r}"
            )
        q, paper, ours, tol, *setup = r
        high = None
        if isinstance(paper, (tuple, list)):
            if len(paper) != 2 or not float(paper[0]) <= float(paper[1]):
                raise InvalidArgument(
                    f"a published range is (low, high) with low ≤ high, got {paper!r}"
                )
            paper, high = paper
        out.append(Comparison(str(q), float(paper), float(ours), float(tol), *map(str, setup),
                              paper_high=None if high is None else float(high)))  # fmt: skip
    return out
