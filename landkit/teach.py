"""Exercises that check themselves: the learner writes a few lines, :func:`check` tries them on fresh
random input against landkit's own implementation and says *what* is wrong.

Each exercise is a function the learner writes (its signature is in :data:`EXERCISES`). ``check`` calls
it on several random cases; on a wrong answer it also runs the common mistakes of that exercise (a
missing centring, an off-by-one lag, the wrong normalisation, ...) and names the one the answer matches.
It never raises: it returns a :class:`Verdict` (true when the answer is right) that shows itself as a
coloured box in a notebook, so a student notebook with unwritten exercises still runs to the end.

``landkit student SRC DST`` (``make student``) writes the student copy of a notebook: every cell tagged
``solution`` keeps its function signatures and docstrings, and its bodies become
``raise NotImplementedError``.

Example
-------
>>> def wasserstein(a, b):                        # the learner's answer
...     from scipy.optimize import linear_sum_assignment
...     cost = np.abs(a[:, None] - b[None, :])
...     r, c = linear_sum_assignment(cost)
...     return cost[r, c].mean()
>>> bool(lk.teach.check("wasserstein", wasserstein))
True
>>> def wasserstein(a, b):                        # a common mistake: matching in the given order
...     return np.abs(a - b).mean()
>>> v = lk.teach.check("wasserstein", wasserstein)
>>> bool(v), "matching" in v.message
(False, True)
"""

from __future__ import annotations

import ast
import dataclasses
import html
import json
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import InvalidArgument

__all__ = ["EXERCISES", "Verdict", "check", "exercises", "make_student", "student_source"]


@dataclasses.dataclass
class Verdict:
    """What :func:`check` found: ``passed``, a one-line ``message`` and, when wrong, a ``hint``."""

    exercise: str
    passed: bool
    message: str
    hint: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = "✓" if self.passed else "✗"
        return f"{mark} {self.exercise}: {self.message}" + (
            f"\n  hint: {self.hint}" if self.hint else ""
        )

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour, bg = ("#1b7837", "#e6f4ea") if self.passed else ("#b2182b", "#fdecea")
        mark = "✓" if self.passed else "✗"
        hint = (
            f"<div style='margin-top:4px'><b>Hint:</b> {html.escape(self.hint)}</div>"
            if self.hint
            else ""
        )
        return (
            f"<div style='border-left:4px solid {colour};background:{bg};padding:6px 10px;"
            f"font-size:14px'><b style='color:{colour}'>{mark} {html.escape(self.exercise)}</b>: "
            f"{html.escape(self.message)}{hint}</div>"
        )


@dataclasses.dataclass
class _Exercise:
    name: str
    signature: str
    task: str
    cases: Callable  # (rng, i) -> dict of keyword arguments (case i)
    reference: Callable  # (**kwargs) -> answer (landkit's own)
    mistakes: list  # [(function (**kwargs) -> wrong answer, message)]
    rtol: float = 1e-6
    atol: float = 1e-9
    scalar: bool = False  # the answer is one number
    order_free: bool = False  # the answer is a set of (complex) numbers in any order
    hint: str = ""


# --------------------------------------------------------------------------------------------------
# the exercises


def _linear_map_case(rng, i=0):
    d = 3
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    lam = rng.uniform(0.3, 0.95, d) * rng.choice([-1, 1], d)
    A = Q @ np.diag(lam) @ np.linalg.inv(Q)
    x = rng.standard_normal(d)
    X = [x]
    for _ in range(19):
        x = A @ x
        X.append(x)
    return {"X": np.array(X)}


def _dmd_ref(X):
    from . import koopman

    return koopman.spectrum([X], delays=0).eigenvalues


def _dmd_swapped(X):
    return np.linalg.eigvals(X[:-1].T @ np.linalg.pinv(X[1:].T))


def _dmd_same(X):
    return np.linalg.eigvals(X[:-1].T @ np.linalg.pinv(X[:-1].T))


def _eig_case(rng, i=0):
    n = 6
    a = rng.uniform(0.2, 1, n) * np.exp(1j * rng.uniform(-1, 1, n))
    b = a[rng.permutation(n)] + 0.05 * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    return {"a": a, "b": b}


def _w_ref(a, b):
    from . import koopman

    return koopman.wasserstein(a, b)


def _w_matched(a, b, cost):
    from scipy.optimize import linear_sum_assignment

    c = cost(np.abs(a[:, None] - b[None, :]))
    r, k = linear_sum_assignment(c)
    return r, k, c


def _curve_case(rng, i=0):
    x = np.linspace(0, 1, 60)
    y = sum(rng.standard_normal() * np.sin((k + 1) * np.pi * x + rng.uniform(0, 6)) / (k + 1)
            for k in range(6))  # fmt: skip
    return {"y": y + 1e-9 * rng.standard_normal(len(x))}


def _minima_ref(y):
    from . import topology

    return np.sort(np.asarray(topology.persistence(y, threshold=0.0).minima, dtype=int).ravel())


def _minima_interior(y):
    i = np.arange(1, len(y) - 1)
    return i[(y[i] < y[i - 1]) & (y[i] < y[i + 1])]


def _minima_diff(y):  # np.diff-based sign change, indices one too low
    d = np.sign(np.diff(y))
    return np.flatnonzero((d[:-1] < 0) & (d[1:] > 0))


def _minima_with_maxima(y):
    i = np.arange(1, len(y) - 1)
    lo = (y[i] < y[i - 1]) & (y[i] < y[i + 1])
    hi = (y[i] > y[i - 1]) & (y[i] > y[i + 1])
    return np.sort(np.r_[i[lo | hi], _ends(y)])


def _ends(y):
    return [i for i, j in ((0, 1), (len(y) - 1, len(y) - 2)) if y[i] < y[j]]


def _filter_case(rng, i=0):
    out, inp = 5, 7
    return {
        "d": rng.standard_normal((out, inp)),
        "w": rng.standard_normal((out, inp)) * rng.uniform(0.2, 3, (out, 1)),
    }


def _filter_ref(d, w):
    import torch

    from .landscape import _filter_normalise

    layer = torch.nn.Linear(w.shape[1], w.shape[0], bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(w))
    return _filter_normalise(layer, torch.as_tensor(d).reshape(-1)).reshape(w.shape).numpy()


def _rownorm(a, axis=1):
    return np.linalg.norm(a, axis=axis, keepdims=True)


def _walk_case(rng, i=0):
    T, P = 30, 40
    W = np.cumsum(rng.standard_normal((T, P)), 0)
    tw = int(rng.integers(2, 12))
    return {"W": W, "tw": tw, "t": int(rng.integers(2, T - tw - 2))}


def _displacement_ref(W, tw, t):
    from . import glassy

    ag = glassy.two_time(np.arange(len(W)), W, waiting_times=[tw], lags=[t])
    return float(ag.msd[0, 0])


def _power_case(rng, i=0):
    t = np.arange(1, 13).astype(float)
    curve = (
        rng.uniform(0.5, 2.0) * t ** rng.uniform(0.4, 1.3) * np.exp(0.05 * rng.standard_normal(12))
    )
    return {"t": t, "curve": curve}  # a noisy power law


def _alpha_ref(t, curve):
    x, y = np.log(t), np.log(curve)
    return float(np.polyfit(x, y, 1)[0])


def _cka_case(rng, i=0):
    n = 40
    X = rng.standard_normal((n, 6)) + rng.uniform(1, 3, 6)  # features with non-zero means
    Y = X @ rng.standard_normal((6, 4)) + 0.8 * rng.standard_normal((n, 4)) + 2.0
    return {"X": X, "Y": Y}


def _cka_ref(X, Y):
    from . import similarity

    return similarity.cka(X, Y)


def _cka_plain(X, Y):
    num = np.linalg.norm(Y.T @ X) ** 2
    return num / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y))


def _matvec_case(rng, i=0):
    n = 12
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    lam = np.r_[rng.uniform(8, 10), rng.uniform(-2, 4, n - 1)]
    A = Q @ np.diag(lam) @ Q.T
    A = (A + A.T) / 2
    return {"matvec": _Matvec(A), "n": n}


class _Matvec:
    """``matvec(v)``: the product of a hidden symmetric matrix with ``v`` (counts its calls)."""

    def __init__(self, A):
        self.A, self.calls = A, 0

    def __call__(self, v):
        self.calls += 1
        return self.A @ np.asarray(v, dtype=float)

    def __repr__(self):
        return f"matvec of a hidden symmetric {len(self.A)}×{len(self.A)} matrix"


def _top_ref(matvec, n):
    from . import hessian

    return float(
        hessian.top_eigenvalues(hessian.MatrixOperator(matvec.A), k=1, tol=1e-10).eigenvalues[0]
    )


def _clusters_case(rng, i=0):
    n_points, n_nodes = 30, 7
    clusters = []
    for _ in range(n_nodes):
        lo = int(rng.integers(0, n_points - 6))
        clusters.append(set(range(lo, lo + int(rng.integers(2, 6)))))
    return {"clusters": clusters}


def _nerve_ref(clusters):
    return sorted((i, j) for i in range(len(clusters)) for j in range(i + 1, len(clusters))
                  if clusters[i] & clusters[j])  # fmt: skip


class _NamedMap:
    """x ↦ x + s·x(1 − x²): fixed points −1, 0, 1; their stability depends on s."""

    def __init__(self, s):
        self.s = s

    def __call__(self, x):
        return x + self.s * x * (1 - np.asarray(x, dtype=float) ** 2)

    def __repr__(self):
        return f"f(x) = x + {self.s:.3g}·x·(1 − x²)"


def _map_case(rng, i):  # every other case has slopes below −1 at ±1
    s = rng.uniform(0.2, 0.9) if i % 2 == 0 else rng.uniform(1.1, 1.4)
    return {"f": _NamedMap(s), "fixed_points": np.array([-1.0, 0.0, 1.0])}


def _stable_ref(f, fixed_points):
    h = 1e-6
    slope = (f(fixed_points + h) - f(fixed_points - h)) / (2 * h)
    return np.asarray(fixed_points)[np.abs(slope) < 1]


def _slope(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


EXERCISES: dict[str, _Exercise] = {}


def _add(ex: _Exercise):
    EXERCISES[ex.name] = ex


_add(_Exercise(
    "dmd_eigenvalues", "dmd_eigenvalues(X)",
    "X is a (T, d) array of snapshots x_0 … x_{T-1} of a linear map x_{t+1} = A x_t. Return the d "
    "eigenvalues of the least-squares A that maps each snapshot to the next (exact DMD).",
    _linear_map_case, _dmd_ref,
    [(_dmd_swapped, "these are the eigenvalues of the map run backwards (1/λ): the fit maps the "
      "later snapshots onto the earlier ones. Solve for A in X[1:] ≈ A · X[:-1] (columns as states)"),
     (_dmd_same, "all eigenvalues are 1: the fit maps the snapshots onto themselves. Pair each "
      "snapshot with the next one: X[:-1] → X[1:]")],
    rtol=1e-5, order_free=True,
    hint="with states as columns, A = X[1:].T @ np.linalg.pinv(X[:-1].T); then np.linalg.eigvals(A)",
))  # fmt: skip

_add(_Exercise(
    "wasserstein", "wasserstein(a, b)",
    "a and b are two arrays of n complex eigenvalues. Return the 1-Wasserstein distance: the mean "
    "|a_i − b_σ(i)| under the matching σ that makes it smallest.",
    _eig_case, _w_ref,
    [(lambda a, b: np.abs(a - b).mean(), "you matched the eigenvalues in the order given; the order "
      "of an eigenvalue list means nothing. Find the matching that minimises the total distance "
      "(scipy.optimize.linear_sum_assignment on the |a_i − b_j| matrix)"),
     (lambda a, b: np.abs(np.sort_complex(a) - np.sort_complex(b)).mean(), "you matched the sorted "
      "lists: sorting complex numbers (by real part) is not the optimal matching in the plane. Use "
      "scipy.optimize.linear_sum_assignment on the |a_i − b_j| matrix"),
     (lambda a, b: (lambda r, k, c: c[r, k].sum())(*_w_matched(a, b, lambda c: c)),
      "this is the total cost of the matching; the 1-Wasserstein distance between two sets of n "
      "equally weighted points is its mean (divide by n)"),
     (lambda a, b: (lambda r, k, c: np.sqrt(c[r, k].mean()))(*_w_matched(a, b, np.square)),
      "this is the 2-Wasserstein distance (root mean squared distance); take the mean of the plain "
      "distances |a_i − b_σ(i)|"),
     (lambda a, b: (lambda r, k, c: c[r, k].mean())(*_w_matched(a, b, np.square)),
      "you averaged squared distances; the 1-Wasserstein distance averages the distances themselves")],
    scalar=True,
    hint="cost = np.abs(a[:, None] - b[None, :]); rows, cols = linear_sum_assignment(cost)",
))  # fmt: skip

_add(_Exercise(
    "local_minima", "local_minima(y)",
    "y is a 1-D array of loss values along a line. Return the sorted indices of its local minima: "
    "points lower than both neighbours, and an end point when it is lower than its one neighbour.",
    _curve_case, _minima_ref,
    [(lambda y: np.sort(np.r_[_minima_interior(y), _ends(y)]) + 1, "every index is one too high"),
     (lambda y: np.sort(np.r_[_minima_interior(y), _ends(y)]) - 1, "every index is one too low "
      "(np.diff shifts positions: d[i] = y[i+1] − y[i] belongs between i and i+1)"),
     (_minima_diff, "the interior minima are one index too low and the ends are missing "
      "(np.diff shifts positions: d[i] = y[i+1] − y[i])"),
     (_minima_interior, "the end points are missing: an end lower than its one neighbour is a "
      "minimum of the slice too (a basin cut by the edge of the plot)"),
     (_minima_with_maxima, "maxima are included: a minimum is lower than both neighbours")],
    hint="compare y[1:-1] with y[:-2] and y[2:]; then look at y[0] and y[-1] separately",
))  # fmt: skip

_add(_Exercise(
    "filter_normalise", "filter_normalise(d, w)",
    "d (a random direction) and w (a layer's weight) are (out, in) arrays. Return d with each row "
    "(a filter: one output unit's incoming weights) rescaled to the norm of the same row of w "
    "(Li et al. 2018).",
    _filter_case, _filter_ref,
    [(lambda d, w: d * np.linalg.norm(w) / np.linalg.norm(d), "you rescaled the whole matrix at "
      "once; filter normalisation rescales each row (filter) separately, so that a layer with small "
      "and large filters is perturbed in proportion"),
     (lambda d, w: d / _rownorm(d, 0) * _rownorm(w, 0), "you normalised columns; a filter is a row "
      "(one output unit): use norms over axis=1"),
     (lambda d, w: d / _rownorm(d), "each row has norm 1: multiply by the norm of the same row of w"),
     (lambda d, w: d * _rownorm(w), "each row is multiplied by ‖w_i‖ but not divided by ‖d_i‖ first"),
     (lambda d, w: w / _rownorm(w) * _rownorm(d), "the result points along w; keep d's direction and "
      "take only the norm from w")],
    hint="np.linalg.norm(a, axis=1, keepdims=True) gives one norm per row",
))  # fmt: skip

_add(_Exercise(
    "displacement", "displacement(W, tw, t)",
    "W is a (T, P) array of weights at steps 0 … T−1. Return the two-time mean squared displacement "
    "Δ(t_w, t_w + t) = ‖W[t_w + t] − W[t_w]‖² / P.",
    _walk_case, _displacement_ref,
    [(lambda W, tw, t: float(np.sum((W[tw + t] - W[tw]) ** 2)), "this is P times too large: divide "
      "the squared distance by the number of parameters P (W.shape[1]) so that models of different "
      "size compare"),
     (lambda W, tw, t: float(np.linalg.norm(W[tw + t] - W[tw]) / W.shape[1]), "the distance is "
      "not squared: Δ is a mean *squared* displacement"),
     (lambda W, tw, t: float(np.sqrt(np.mean((W[tw + t] - W[tw]) ** 2))), "this is the root of Δ; "
      "leave the mean of squares as it is"),
     (lambda W, tw, t: float(np.mean((W[tw + t - 1] - W[tw]) ** 2)), "off by one in the lag: the "
      "second time is t_w + t, not t_w + t − 1"),
     (lambda W, tw, t: float(np.mean((W[tw + t + 1] - W[tw]) ** 2)), "off by one in the lag: the "
      "second time is t_w + t, not t_w + t + 1"),
     (lambda W, tw, t: float(np.mean((W[t] - W[tw]) ** 2)), "t is a lag after t_w, not an absolute "
      "step: compare W[t_w + t] with W[t_w]")],
    scalar=True,
    hint="np.mean((W[tw + t] - W[tw]) ** 2)",
))  # fmt: skip

_add(_Exercise(
    "diffusion_exponent", "diffusion_exponent(t, curve)",
    "curve holds Δ at the lags t (both 1-D arrays), roughly Δ ∝ t^α. Return α: the slope of the "
    "least-squares line of log Δ against log t.",
    _power_case, _alpha_ref,
    [(lambda t, curve: float(np.polyfit(t, curve, 1)[0]), "you fitted Δ against t on linear axes; a "
      "power law is a straight line on log–log axes: fit log Δ against log t"),
     (lambda t, curve: float(np.polyfit(t, np.log(curve), 1)[0]), "only Δ is logged; log t too (a "
      "power law, not an exponential)"),
     (lambda t, curve: float(np.polyfit(np.log(curve), np.log(t), 1)[0]), "the axes are swapped "
      "(that regresses log t on log Δ): fit log Δ = α log t + c"),
     (lambda t, curve: float(np.log(curve[-1] / curve[0]) / np.log(t[-1] / t[0])), "you used the "
      "two end points only; a least-squares line through all the points is less sensitive to noise")],
    rtol=1e-4, scalar=True,
    hint="np.polyfit(np.log(t), np.log(curve), 1)[0]",
))  # fmt: skip

_add(_Exercise(
    "linear_cka", "linear_cka(X, Y)",
    "X (n, p) and Y (n, q) are two layers' activations on the same n inputs. Return linear CKA: "
    "‖Yᵀ X‖²_F / (‖Xᵀ X‖_F ‖Yᵀ Y‖_F) after centring each column (feature) over the inputs.",
    _cka_case, _cka_ref,
    [(_cka_plain, "the features are not centred: subtract each column's mean over the inputs "
      "(X - X.mean(0)) first, or CKA mostly measures the features' means"),
     (lambda X, Y: _cka_plain(X - X.mean(1, keepdims=True), Y - Y.mean(1, keepdims=True)),
      "you centred each row (input); centre each column (feature) over the inputs: X - X.mean(0)"),
     (lambda X, Y: np.linalg.norm((Y - Y.mean(0)).T @ (X - X.mean(0))) ** 2, "this is the numerator "
      "(HSIC) only: divide by ‖Xcᵀ Xc‖_F ‖Ycᵀ Yc‖_F so that CKA is 1 for identical representations"),
     (lambda X, Y: np.sqrt(_cka_ref(X, Y)), "this is the square root of CKA: square the numerator's "
      "norm"),
     (lambda X, Y: _cka_ref(X, Y) ** 2, "this is CKA squared: the numerator is ‖Ycᵀ Xc‖²_F, the "
      "denominator's norms are not squared")],
    scalar=True,
    hint="Xc = X - X.mean(0); Yc = Y - Y.mean(0); np.linalg.norm(Yc.T @ Xc) ** 2 / (...)",
))  # fmt: skip

_add(_Exercise(
    "top_eigenvalue", "top_eigenvalue(matvec, n)",
    "matvec(v) returns H v for a hidden symmetric n×n matrix H (the Hessian, seen only through its "
    "products). Return its largest eigenvalue by power iteration: v ← H v / ‖H v‖, then vᵀ H v.",
    _matvec_case, _top_ref,
    [],
    rtol=1e-4, scalar=True,
    hint="v = np.random.default_rng(0).standard_normal(n); repeat 200 times: v = matvec(v); "
         "v /= np.linalg.norm(v); finally return v @ matvec(v)",
))  # fmt: skip

_add(_Exercise(
    "nerve_edges", "nerve_edges(clusters)",
    "clusters is a list of sets of point indices (Mapper's nodes). Return the sorted list of pairs "
    "(i, j), i < j, of nodes that share at least one point: the edges of the nerve.",
    _clusters_case, _nerve_ref,
    [(lambda clusters: sorted((i, j) for i in range(len(clusters)) for j in range(i, len(clusters))
                              if clusters[i] & clusters[j]),
      "a node is linked to itself: only pairs i < j are edges"),
     (lambda clusters: sorted((i, j) for i in range(len(clusters)) for j in range(len(clusters))
                              if i != j and clusters[i] & clusters[j]),
      "each edge appears twice, as (i, j) and (j, i): keep i < j"),
     (lambda clusters: sorted((i, j) for i in range(len(clusters)) for j in range(i + 1, len(clusters))
                              if len(clusters[i] & clusters[j]) > 1),
      "nodes sharing exactly one point are missing: one shared point is enough for an edge")],
    hint="for i < j: if clusters[i] & clusters[j] (a non-empty intersection) the pair is an edge",
))  # fmt: skip

_add(_Exercise(
    "attracting", "attracting(f, fixed_points)",
    "f is a 1-D map and fixed_points an array of its fixed points (f(x*) = x*). Return those that "
    "attract nearby points: |f′(x*)| < 1 (estimate the slope with a small central difference).",
    _map_case,
    _stable_ref,
    [(lambda f, fixed_points: fixed_points[_slope(f, fixed_points) < 1], "a slope below −1 makes "
      "points jump from side to side ever further away: the test is |f′(x*)| < 1, with the absolute "
      "value"),
     (lambda f, fixed_points: fixed_points[np.abs(_slope(f, fixed_points)) > 1], "these are the "
      "repelling fixed points (|f′| > 1): nearby points move away from them")],
    hint="slope = (f(x + h) - f(x - h)) / (2 * h) with h = 1e-6; keep the x with abs(slope) < 1",
))  # fmt: skip


def exercises() -> list[str]:
    """The exercises :func:`check` knows, each as ``name(signature): what to compute``.

    Example
    -------
    >>> "linear_cka" in " ".join(lk.teach.exercises())
    True
    """
    return [f"{e.signature}: {e.task}" for e in EXERCISES.values()]


# --------------------------------------------------------------------------------------------------
# checking


def _close(ex: _Exercise, got, want) -> bool:
    if ex.order_free:
        got, want = (
            np.sort_complex(np.asarray(got, complex)),
            np.sort_complex(np.asarray(want, complex)),
        )
        if got.shape != want.shape:
            return False
        from scipy.optimize import linear_sum_assignment

        cost = np.abs(got[:, None] - want[None, :])
        r, c = linear_sum_assignment(cost)
        return bool(cost[r, c].max() <= ex.atol + ex.rtol * max(np.abs(want).max(), 1))
    try:
        g, w = np.asarray(got, dtype=complex), np.asarray(want, dtype=complex)
    except (TypeError, ValueError):
        return False
    return g.shape == w.shape and bool(np.allclose(g, w, rtol=ex.rtol, atol=ex.atol))


def _describe(kwargs) -> str:
    parts = []
    for k, v in kwargs.items():
        if isinstance(v, np.ndarray):
            parts.append(f"{k}: array of shape {v.shape}")
        elif isinstance(v, list):
            parts.append(f"{k}: list of {len(v)}")
        else:
            parts.append(f"{k}={v!r}")
    return ", ".join(parts)


def _fmt(x) -> str:
    a = np.asarray(x)
    if a.ndim == 0:
        return f"{complex(a).real:.6g}" if np.isreal(a) else f"{complex(a):.4g}"
    with np.printoptions(precision=4, suppress=True, threshold=8, edgeitems=3):
        return np.array2string(a.real if np.isrealobj(a) or np.isreal(a).all() else a)


def _copy(kwargs):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}


def _shape_problem(ex: _Exercise, got, want) -> str | None:
    if got is None:
        return "your function returned None: is the `return` missing?"
    if ex.scalar:
        if np.ndim(got) != 0:
            return (f"return one number; yours has shape {np.shape(got)}"
                    + (" (the eigenvector? return the eigenvalue vᵀHv)" if ex.name == "top_eigenvalue" else ""))  # fmt: skip
        return None
    try:
        a = np.asarray(got)
    except (TypeError, ValueError):
        return f"return an array; got a {type(got).__name__}"
    w = np.asarray(want)
    if ex.name == "nerve_edges" and a.size and (a.ndim != 2 or a.shape[1] != 2):
        return f"return a list of (i, j) pairs; yours has shape {a.shape}"
    if a.shape != w.shape and not (
        ex.name in ("local_minima", "nerve_edges", "attracting") and a.ndim == w.ndim
    ):
        return f"the answer has shape {a.shape}; expected {w.shape}"
    return None


def check(exercise: str, answer: Callable, *, cases: int = 5, seed: int | None = None) -> Verdict:
    """Try the learner's function ``answer`` for ``exercise`` on ``cases`` fresh random inputs against
    landkit's own implementation. Returns a :class:`Verdict`; never raises for a wrong answer.

    ``seed``: the random inputs (default: new ones at every call, so an answer cannot be fitted to one
    case). See :func:`exercises` for the list.

    Example
    -------
    >>> v = lk.teach.check("displacement", lambda W, tw, t: np.mean((W[tw + t] - W[tw]) ** 2))
    >>> v.passed
    True
    """
    if exercise not in EXERCISES:
        raise InvalidArgument(f"no exercise {exercise!r}; the exercises are {sorted(EXERCISES)}")
    ex = EXERCISES[exercise]
    if not callable(answer):
        return Verdict(exercise, False, f"give the function itself (check({exercise!r}, {exercise})), "
                       f"not {type(answer).__name__}")  # fmt: skip
    rng = np.random.default_rng(seed if seed is not None else time.time_ns() % 2**32)
    for i in range(cases):
        kwargs = ex.cases(rng, i)
        want = ex.reference(**_copy(kwargs))
        given = _copy(kwargs)
        try:
            got = answer(**given)
        except NotImplementedError:
            return Verdict(exercise, False, "not written yet: replace `raise NotImplementedError` with "
                           "your code, run the cell, then this check again", ex.hint)  # fmt: skip
        except Exception as e:  # the learner's error, shown as theirs
            where = traceback.extract_tb(e.__traceback__)[-1]
            return Verdict(exercise, False,
                           f"your function raised {type(e).__name__}: {e} (line {where.lineno}: "
                           f"{(where.line or '').strip()}) on input {_describe(kwargs)}", ex.hint)  # fmt: skip
        for k, v in kwargs.items():
            if isinstance(v, np.ndarray) and not np.array_equal(given[k], v):
                return Verdict(exercise, False, f"your function changed its input {k} in place; "
                               "work on a copy (x = x.copy()) or build a new array", ex.hint)  # fmt: skip
        problem = _shape_problem(ex, got, want)
        if problem:
            return Verdict(exercise, False, problem, ex.hint)
        if _close(ex, got, want):
            continue
        if exercise == "top_eigenvalue":
            return Verdict(exercise, False, _power_diagnosis(got, want, kwargs), ex.hint)
        for wrong, message in ex.mistakes:
            try:
                if _close(ex, got, wrong(**_copy(kwargs))):
                    return Verdict(exercise, False, message, ex.hint)
            except Exception:  # a mistake that does not apply to this input
                continue
        return Verdict(exercise, False,
                       f"on input {_describe(kwargs)} your answer is {_fmt(got)}, landkit's is {_fmt(want)}",
                       ex.hint)  # fmt: skip
    return Verdict(exercise, True, f"matches landkit on {cases} random inputs")


def _power_diagnosis(got, want, kwargs) -> str:
    g = complex(np.asarray(got)).real
    if not np.isfinite(g):
        return (
            "your estimate is not finite: normalise v after every product (v /= np.linalg.norm(v))"
        )
    A = kwargs["matvec"].A
    lam = np.linalg.eigvalsh(A)
    if np.isclose(g, lam[-1] ** 2, rtol=1e-3):
        return "this is λ² (‖H v‖² or vᵀH²v): return the Rayleigh quotient vᵀ H v with ‖v‖ = 1"
    if np.isclose(abs(g), np.sqrt(np.sum(lam**2)), rtol=1e-3):
        return "this is the Frobenius norm of H, not its top eigenvalue"
    if np.any(np.isclose(g, lam[:-1], rtol=1e-4)):
        return "this is another eigenvalue of H, not the largest: start from a random vector"
    if lam[0] <= g < want:  # a Rayleigh quotient below the top: the vector has not turned yet
        return (
            f"{g:.6g} is below the top eigenvalue {want:.6g}: not converged. Iterate longer (a "
            "few hundred products), or stop when the estimate stops changing"
        )
    return (
        f"your answer is {g:.6g}, the top eigenvalue is {want:.6g}: after the iterations return "
        "vᵀ H v for a unit vector v (the Rayleigh quotient)"
    )


# --------------------------------------------------------------------------------------------------
# student copies


def student_source(source: str) -> str:
    """A solution cell's code with every function body replaced by ``raise NotImplementedError``
    (signatures, docstrings and imports kept; other statements dropped).

    Example
    -------
    >>> print(lk.teach.student_source('def f(x):\\n    "Twice x."\\n    return 2 * x\\n'))
    def f(x):
        "Twice x."
        raise NotImplementedError("write this function")
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    out = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append("\n".join(lines[node.lineno - 1 : node.end_lineno]))
        elif isinstance(node, ast.FunctionDef):
            start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
            body0 = node.body[0]
            head = lines[start : body0.lineno - 1]
            indent = " " * body0.col_offset
            doc = []
            if isinstance(body0, ast.Expr) and isinstance(getattr(body0, "value", None), ast.Constant) \
                    and isinstance(body0.value.value, str):  # fmt: skip
                doc = lines[body0.lineno - 1 : body0.end_lineno]
            out.append(
                "\n".join(
                    [*head, *doc, f'{indent}raise NotImplementedError("write this function")']
                )
            )
    return "\n\n\n".join(out) + "\n"


def make_student(src: str | Path, dst: str | Path) -> dict:
    """Write the student copy of notebook ``src`` to ``dst``: cells tagged ``solution`` become stubs
    (:func:`student_source`) tagged ``exercise``; everything else is copied. Returns counts.

    Example
    -------
    >>> import json, pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> cell = {"cell_type": "code", "metadata": {"tags": ["solution"]}, "outputs": [],
    ...         "execution_count": None, "source": ["def f(x):\\n", "    return 2 * x\\n"]}
    >>> _ = (d / "a.ipynb").write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
    ...                                            "nbformat_minor": 5}))
    >>> lk.teach.make_student(d / "a.ipynb", d / "b.ipynb")
    {'solutions': 1}
    >>> "NotImplementedError" in "".join(json.loads((d / "b.ipynb").read_text())["cells"][0]["source"])
    True
    """
    nb = json.loads(Path(src).read_text())
    n = 0
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "code" and "solution" in tags:
            cell["source"] = student_source("".join(cell["source"])).splitlines(keepends=True)
            cell["metadata"]["tags"] = [t for t in tags if t != "solution"] + ["exercise"]
            cell["outputs"], cell["execution_count"] = [], None
            n += 1
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    Path(dst).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return {"solutions": n}
