"""Conley–Morse graphs of training (Eslami et al., "DOODL3", 2021): where training ends up, as a graph.

A map F: R^k -> R^k (the training map from the state at an early step to the state at the end, on a few
weight coordinates) is learned from an ensemble of runs by a Gaussian-process surrogate, then studied
with CMGDB: phase space is cut into boxes, F becomes a multivalued box map (each box's image, from its
corners, padded by one box), and the strongly connected pieces of that box map are the **Morse sets**
(recurrent regions). They are partially ordered by reachability: the **Morse graph**. Morse sets with
nothing below them are **attractors**. The **order retraction** colours every box by the attractor its
flow reaches: :meth:`MorseGraph.basin_of`.

How to read the extra sets: boxes near a weakly expanding fixed point, or on a contracting axis, can
intersect their own image; each such box is recurrent for the box map and becomes its own small Morse
set above the attractors (a chain of 1–4 box sets). They are artefacts of the resolution: the attractors
(sinks of the graph) and the basins are the robust output, and the extra sets shrink with ``subdiv``.

A model with only a few weights needs no surrogate: :func:`training_map` is its exact full-batch
gradient-descent map, and :func:`from_map` takes it directly.

Example
-------
>>> m = lk.morse.from_map(lambda X: np.c_[X[:, 0] - 0.3 * (X[:, 0] ** 3 - X[:, 0]), 0.5 * X[:, 1]],
...                       lower=[-2, -2], upper=[2, 2], subdiv=14)
>>> len(m.attractors)   # the two stable points x = ±1
2
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from .errors import InvalidArgument, InvalidType
from .progress import Progress
from .results import Result
from .validate import integer, number

__all__ = [
    "MorseGraph",
    "compare_groups",
    "from_map",
    "from_pairs",
    "from_runs",
    "states",
    "surrogate",
    "training_map",
]


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class MorseGraph(Result):
    """A Conley–Morse graph.

    Attributes
    ----------
    morse_sets : list of (m_i, 2k) arrays of boxes ``[lower..., upper...]``, one per Morse node
    attractors : Morse nodes with no successor (minimal in the order), sorted
    edges : list of ``(u, v)``: the flow goes from Morse set u down to v (transitively reduced)
    lower, upper : the phase-space box (k,), ``subdiv`` its subdivision depth (2^subdiv boxes at most)
    boxes : (L, 2k) every box of the finest uniform grid (C order); ``box_attractor`` (L,) the attractor
        each box's flow reaches (its Morse node id), −1 when none (it leaves the domain), −2 when more
        than one (a basin boundary, one or two boxes wide because of the padding)
    coords : the weight coordinates used (from runs), or None
    info : seconds, sample counts, the surrogate's held-out R² per coordinate (``surrogate_r2``; the
        in-sample one is ``surrogate_r2_train``)
    """

    _headline = ("subdiv", "attractors")

    morse_sets: list
    attractors: list
    edges: list
    lower: np.ndarray
    upper: np.ndarray
    subdiv: int
    boxes: np.ndarray
    box_attractor: np.ndarray
    coords: list | None = None
    info: dict = dataclasses.field(default_factory=dict)

    @property
    def graph(self):
        """The Morse graph as a networkx DiGraph (node attribute ``n_boxes`` and ``attractor``)."""
        import networkx as nx

        g = nx.DiGraph()
        for v, boxes in enumerate(self.morse_sets):
            g.add_node(v, n_boxes=len(boxes), attractor=v in self.attractors)
        g.add_edges_from(self.edges)
        return g

    def centers(self) -> np.ndarray:
        """The centre of each Morse set (mean of its box centres), (n_sets, k)."""
        k = len(self.lower)
        return np.array([(b[:, :k] + b[:, k:]).mean(0) / 2 for b in self.morse_sets])

    def basin_of(self, points) -> np.ndarray:
        """For each point (n, k): the attractor (Morse node id) its box flows to; −1 outside the domain
        or when no attractor is reached, −2 on a boundary between basins."""
        pts = np.atleast_2d(np.asarray(points, dtype=float))
        k = len(self.lower)
        if pts.shape[1] != k:
            raise InvalidArgument(f"points must have {k} coordinates, got {pts.shape[1]}")
        shape = np.array(_grid_shape(k, self.subdiv))
        h = (self.upper - self.lower) / shape
        cell = np.floor((pts - self.lower) / h).astype(int)
        cell = np.where(
            pts == self.upper, shape - 1, cell
        )  # the upper faces belong to the last box
        inside = np.all((cell >= 0) & (cell < shape), 1)
        strides = np.cumprod([1, *shape[::-1][:-1]])[::-1]
        out = np.full(len(pts), -1, dtype=int)
        out[inside] = self.box_attractor[cell[inside] @ strides]
        return out


def _check_subdiv(subdiv, k):
    subdiv = integer("subdiv", subdiv, minimum=2, maximum=26)
    if subdiv < k:
        raise InvalidArgument(f"subdiv={subdiv} must be at least the dimension k={k}")


def _grid_shape(k: int, subdiv: int) -> list[int]:
    # CMGDB bisects the coordinates in turn: the first ``subdiv % k`` get one more halving
    return [2 ** (subdiv // k + (1 if d < subdiv % k else 0)) for d in range(k)]


def _retraction(f, lower, upper, subdiv, padding, morse_sets, attractors):
    """The order retraction on the finest uniform grid: every box's image (corners, padded like the
    Morse graph's box map) gives edges to the boxes it meets; a reverse breadth-first search from each
    attractor's boxes marks what flows there. Returns (boxes (L, 2k), attractor id per box or −1/−2)."""
    import CMGDB
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import breadth_first_order

    k = len(lower)
    shape = np.array(_grid_shape(k, subdiv))
    h = (upper - lower) / shape
    idx = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1).reshape(-1, k)
    lo = lower + idx * h
    rects = np.hstack([lo, lo + h])
    images = np.asarray(CMGDB.BoxMapBatch(f, rects, padding=padding), dtype=float)
    eps = 1e-9 * h
    i_lo = np.clip(np.floor((images[:, :k] - lower) / h + eps / h).astype(int), 0, shape - 1)
    i_hi = np.clip(np.floor((images[:, k:] - lower) / h - eps / h).astype(int), 0, shape - 1)
    inside = np.all(images[:, k:] >= lower, 1) & np.all(images[:, :k] <= upper, 1)
    strides = np.cumprod([1, *shape[::-1][:-1]])[::-1]
    extent = i_hi - i_lo + 1
    rows, cols = [], []
    keep = np.flatnonzero(inside)
    kinds, which = np.unique(extent[keep], axis=0, return_inverse=True)
    for e, ext in enumerate(kinds):  # boxes whose images span the same number of boxes, at once
        b = keep[which.ravel() == e]
        offsets = np.stack(np.meshgrid(*[np.arange(m) for m in ext], indexing="ij"), -1).reshape(
            -1, k
        )
        targets = (i_lo[b][:, None, :] + offsets[None]) @ strides
        rows.append(np.repeat(b, len(offsets)))
        cols.append(targets.ravel())
    n = len(rects)
    rows = np.concatenate(rows) if rows else np.zeros(0, int)
    cols = np.concatenate(cols) if cols else np.zeros(0, int)
    reverse = csr_matrix((np.ones(len(rows), dtype=np.int8), (cols, rows)), shape=(n, n))
    basin = np.full(n, -1, dtype=int)
    for a in attractors:
        centres = (morse_sets[a][:, :k] + morse_sets[a][:, k:]) / 2
        seeds = np.unique(
            np.clip(np.floor((centres - lower) / h).astype(int), 0, shape - 1) @ strides
        )
        seen = np.zeros(n, dtype=bool)
        for s in seeds:
            if not seen[s]:
                seen[
                    breadth_first_order(reverse, int(s), directed=True, return_predecessors=False)
                ] = True
        basin[seen & (basin == -1)] = a
        basin[seen & (basin >= 0) & (basin != a)] = -2
    return rects, basin


def from_map(f, lower, upper, subdiv: int = 12, *, padding: bool = True, coords=None,
             info: dict | None = None) -> MorseGraph:  # fmt: skip
    """The Morse graph of a map ``f``: (m, k) array of points -> (m, k) images, on the box
    [lower, upper] cut into 2^subdiv boxes. Box images come from the corners (CMGDB's ``BoxMapBatch``),
    grown by one box on each side when ``padding`` (the default: it covers the map's variation inside a
    box). ``coords``: which weights of a run the k coordinates are (default ``f.coords`` where ``f`` has
    them, as :func:`training_map`'s maps do), so that :func:`compare_groups` can place runs.

    Example
    -------
    >>> m = lk.morse.from_map(lambda X: 0.5 * X, lower=[-1, -1], upper=[1, 1], subdiv=8)
    >>> m.attractors                                     # one fixed point at the origin
    [0]
    """
    import time

    import CMGDB

    lower = np.asarray(lower, dtype=float).ravel()
    upper = np.asarray(upper, dtype=float).ravel()
    k = len(lower)
    if len(upper) != k or k < 1:
        raise InvalidArgument(
            f"lower and upper must have the same positive length, got {k} and {len(upper)}"
        )
    if not np.all(upper > lower):
        raise InvalidArgument("upper must exceed lower in every coordinate")
    _check_subdiv(subdiv, k)
    if coords is None and getattr(f, "coords", None) is not None:
        coords = [int(c) for c in f.coords]
    if coords is not None and len(coords) != k:
        raise InvalidArgument(
            f"coords names {len(coords)} weights but the boxes have {k} coordinates"
        )
    t0 = time.perf_counter()

    def batch(rects):
        return CMGDB.BoxMapBatch(f, rects, padding=padding)

    def single(rect):
        return batch(np.asarray([rect], dtype=float))[0].tolist()

    model = CMGDB.Model(subdiv, subdiv, lower.tolist(), upper.tolist(), single)
    model.set_batch_map(batch)
    mg, _ = CMGDB.ComputeMorseGraph(model)
    n_sets = mg.num_vertices()
    morse_sets = [np.asarray(mg.morse_set_boxes(v), dtype=float).reshape(-1, 2 * k)
                  for v in range(n_sets)]  # fmt: skip
    edges = [tuple(map(int, e)) for e in mg.edges()]
    out_deg = np.zeros(n_sets, dtype=int)
    for u, _ in edges:
        out_deg[u] += 1
    attractors = [v for v in range(n_sets) if out_deg[v] == 0]
    boxes, box_attractor = _retraction(f, lower, upper, subdiv, padding, morse_sets, attractors)
    meta = dict(info or {})
    meta.update(seconds=time.perf_counter() - t0, n_boxes=len(boxes), padding=padding)
    return MorseGraph(morse_sets, attractors, edges, lower, upper, subdiv, boxes, box_attractor,
                      coords, meta)  # fmt: skip


_MAX_EXACT = 4


def training_map(model, task, *, steps: int = 1, lr: float, weight_decay: float = 0.0):
    """The exact training map of a model with at most 4 weights: ``steps`` full-batch gradient-descent
    steps (``w ← w − lr·(∇L(w) + weight_decay·w)``, as :func:`landkit.train` with ``batch_size=None``
    and the default SGD), on the task's whole training split, in float64. Returns ``f``: (m, n) points
    of the model's flat weight vector (its parameters in order, as a run records them) -> their
    images, evaluated for all m points at once (``torch.func.vmap``); ``f.coords`` lists the
    coordinates, so :func:`from_map` knows which weights of a run its boxes are.

    Where the whole weight space is a plane (``lk.models.relu_unit``), this is the training map itself:
    the Morse graph needs no ensemble, no surrogate and no choice of coordinates. Parameters with
    ``requires_grad=False`` stay where the points put them. Models with buffers (batch norm) are
    refused: their map depends on running statistics that are not weights.

    Keep ``steps`` short (a few to tens): a box's image comes from its corners, and the longer the
    horizon, the more a box straddling a basin boundary is stretched across both attractors, until the
    box map links them (measured on the ReLU unit: 10 steps give its two attractors on every domain
    and subdivision tried; 50 steps lose one on some domains).

    Example
    -------
    >>> task = lk.tasks.iris(features=("petal width",), classes=(1, 2))
    >>> f = lk.morse.training_map(lk.models.relu_unit(), task, steps=10, lr=0.5, weight_decay=1e-2)
    >>> m = lk.morse.from_map(f, lower=[-3, -3], upper=[3, 3], subdiv=12)
    >>> len(m.attractors), m.coords                     # the working unit and the one that says "0"
    (2, [0, 1])
    """
    import copy

    import torch
    from torch.func import functional_call, vmap

    from .layout import ParamLayout
    from .tasks import as_task

    steps = integer("steps", steps, minimum=1)
    lr = number("lr", lr, minimum=0)
    weight_decay = number("weight_decay", weight_decay, minimum=0)
    task = as_task(task)
    layout = ParamLayout.of(model)
    k = layout.size
    if k > _MAX_EXACT:
        raise InvalidArgument(
            f"the model has {k:,} weights: an exact training map is for models with at most "
            f"{_MAX_EXACT} (the boxes cover the whole weight space); for a larger model learn the "
            "map from an ensemble on a few coordinates, lk.morse.from_runs(runs, start_step, coords=2)"
        )
    if any(True for _ in model.buffers()):
        raise InvalidArgument(
            "the model has buffers (batch norm's running statistics?): its training map depends on "
            "more than its weights; use a model without them"
        )
    net = copy.deepcopy(model).to(device="cpu", dtype=torch.float64)
    named = dict(net.named_parameters())
    moves = torch.cat([torch.full((named[n].numel(),), float(named[n].requires_grad),
                                  dtype=torch.float64) for n in layout.names])  # fmt: skip
    x = task.x_train.to("cpu")
    x = x.to(torch.float64) if x.is_floating_point() else x
    y = task.y_train.to("cpu")
    y = y.to(torch.float64) if y.is_floating_point() else y

    def loss(flat):
        params = layout.unflatten(flat)
        if task.objective is not None:
            return task.objective(lambda inp: functional_call(net, params, (inp,)), x, y)
        return task.loss_fn(functional_call(net, params, (x,)), y)

    # the points' losses are independent: one backward pass gives every gradient
    losses = vmap(loss)

    def f(P):
        W = torch.as_tensor(np.asarray(P, dtype=float).reshape(-1, k))
        for _ in range(steps):
            W = W.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(losses(W).sum(), W)
            W = W.detach() - lr * moves * (g + weight_decay * W.detach())
        return W.detach().numpy()

    f.coords = list(range(k))
    return f


def surrogate(X_start, X_end, *, seed: int = 0):
    """A Gaussian-process model of the map X_start -> X_end: one scikit-learn GP per output coordinate
    (constant × anisotropic RBF + white noise, hyperparameters by maximum likelihood with 4 seeded
    restarts, targets normalised), built fresh on every call. Returns ``(f, scores)`` with ``f`` (m, k) -> (m, k) and
    ``scores`` a dict: ``"heldout_r2"``, the R² per coordinate of 5-fold cross-validated predictions
    (the fitted kernel kept, each fold refitted without its points: how well the surrogate predicts
    a run it has not seen) and ``"train_r2"``, the in-sample R² (1.0 for any flexible GP; not evidence).

    Example
    -------
    >>> X0 = np.random.default_rng(0).uniform(-1, 1, (40, 2))
    >>> f, scores = lk.morse.surrogate(X0, 0.5 * X0)
    >>> np.allclose(f(np.array([[0.4, -0.2]])), [[0.2, -0.1]], atol=0.05)
    True
    >>> min(scores["heldout_r2"]) > 0.99
    True
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    X = np.asarray(X_start, dtype=float)
    Y = np.asarray(X_end, dtype=float)
    k = X.shape[1]
    span = X.std(0) + 1e-12
    gps = []
    for j in range(Y.shape[1]):
        kernel = ConstantKernel(1.0) * RBF(length_scale=span, length_scale_bounds=(1e-3 * span.min(), 1e3 * span.max())) + WhiteKernel(1e-4, (1e-10, 1e0))  # fmt: skip
        # restarts: from the data's own length scales alone the optimiser can stop in a degenerate
        # optimum (length scales ~1e-2 of the data, every run "noise"; seen on a bistable ensemble:
        # log-likelihood -142 against -65 at the real optimum, held-out R² 0 instead of 0.5)
        gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True, random_state=seed,
                                      n_restarts_optimizer=4)  # fmt: skip
        with warnings.catch_warnings():  # a nearly deterministic map drives the noise to its bound
            warnings.simplefilter("ignore", ConvergenceWarning)
            gps.append(gp.fit(X, Y[:, j]))

    def f(P):
        P = np.asarray(P, dtype=float).reshape(-1, k)
        return np.stack([gp.predict(P) for gp in gps], 1)

    train = [float(gp.score(X, Y[:, j])) for j, gp in enumerate(gps)]
    return f, {"heldout_r2": _heldout_r2(gps, X, Y, seed), "train_r2": train}


def _heldout_r2(gps, X, Y, seed, folds: int = 5):
    """R² of cross-validated predictions per output, each GP's fitted kernel reused (no re-optimising)."""
    from sklearn.base import clone

    n = len(X)
    folds = min(folds, n)
    order = np.random.default_rng(seed).permutation(n)
    pred = np.empty_like(Y)
    for part in np.array_split(order, folds):
        keep = np.setdiff1d(order, part)
        for j, gp in enumerate(gps):
            one = clone(gp).set_params(kernel=gp.kernel_, optimizer=None)
            pred[part, j] = one.fit(X[keep], Y[keep, j]).predict(X[part])
    sst = ((Y - Y.mean(0)) ** 2).sum(0)
    return [
        float(1 - ((Y[:, j] - pred[:, j]) ** 2).sum() / max(sst[j], 1e-300))
        for j in range(Y.shape[1])
    ]


def from_pairs(X_start, X_end, subdiv: int = 12, *, padding: bool = True, margin: float = 0.1,
               seed: int = 0, coords=None, _tracker=None) -> MorseGraph:  # fmt: skip
    """The Morse graph of the map sampled by pairs (``X_start[i]`` -> ``X_end[i]``, (n, k) each), through
    a fresh GP :func:`surrogate`; the domain is the data's bounding box grown by ``margin`` of its size
    on each side.

    Example
    -------
    >>> X0 = np.random.default_rng(0).uniform(-1, 1, (40, 2))
    >>> m = lk.morse.from_pairs(X0, 0.5 * X0, subdiv=8)
    >>> len(m.attractors)
    1
    """
    X0 = np.asarray(X_start, dtype=float)
    X1 = np.asarray(X_end, dtype=float)
    if X0.ndim != 2 or X0.shape != X1.shape:
        raise InvalidArgument(
            f"X_start and X_end must be (n, k) arrays of one shape, got {X0.shape} and {X1.shape}"
        )
    n, k = X0.shape
    if n < 5:
        raise InvalidArgument(f"need at least 5 start/end pairs to fit a surrogate, got {n}")
    if not (np.isfinite(X0).all() and np.isfinite(X1).all()):
        raise InvalidArgument("X_start or X_end contain NaN or inf")
    _check_subdiv(subdiv, k)
    margin = number("margin", margin, minimum=0)
    f, scores = surrogate(X0, X1, seed=seed)
    heldout = scores["heldout_r2"]
    r2 = ", ".join(f"{r:.2f}" for r in heldout)
    if n < 10 * k:
        warnings.warn(
            f"the Morse graph rests on {n} start/end pairs in {k} coordinates (held-out R² of the "
            f"surrogate {r2}): attractors and basins from so little data are not reliable — use "
            f"{10 * k} or more runs, or fewer coordinates",
            stacklevel=3,
        )
    elif min(heldout) < 0.5:
        bad = [i for i, r in enumerate(heldout) if r < 0.5]
        warnings.warn(
            f"the surrogate predicts coordinate(s) {bad} of the end state poorly (held-out R² {r2}, "
            f"from {n} runs): the end state barely depends on the start there (every run lands in "
            "the same place, or the map is noisy), so the Morse graph says little along it — read "
            "it with that in mind, or choose other coordinates",
            stacklevel=3,
        )
    if _tracker is not None:
        _tracker.update()
    both = np.vstack([X0, X1])
    lo, hi = both.min(0), both.max(0)
    pad = margin * np.maximum(hi - lo, 1e-6)
    out = from_map(f, lo - pad, hi + pad, subdiv, padding=padding, coords=coords,
                   info={"n_pairs": n, "surrogate_r2": heldout,
                         "surrogate_r2_train": scores["train_r2"]})  # fmt: skip
    if _tracker is not None:
        _tracker.update()
    return out


def from_runs(runs, start_step: int, end_step: int | None = None, *, coords=2, subdiv: int = 12,
              padding: bool = True, seed: int = 0, progress=False) -> MorseGraph:  # fmt: skip
    """The Morse graph of an ensemble's training map, state at ``start_step`` -> state at ``end_step``
    (default: the last recorded step), on ``coords`` weight coordinates: an int picks that many
    coordinates with the largest spread of final values across runs (DOODL3's choice), or give their
    indices. ``progress``: True for a bar, or a callable ``(done, total)`` over the runs read, the
    surrogate fitted and the Morse graph computed (raise :class:`landkit.Cancelled` to stop).

    Example
    -------
    >>> m = lk.morse.from_runs(runs.where(width=8), start_step=10, subdiv=8)
    >>> len(m.attractors) >= 1, len(m.coords)
    (True, 2)
    """
    runs = list(runs)
    if len(runs) < 5:
        raise InvalidArgument(f"need an ensemble of at least 5 runs, got {len(runs)}")
    start_step = integer("start_step", start_step, minimum=0)
    if end_step is not None and integer("end_step", end_step, minimum=0) <= start_step:
        raise InvalidArgument(f"end_step ({end_step}) must come after start_step ({start_step})")
    if isinstance(coords, (str, bytes)) or not (
        isinstance(coords, (int, np.integer)) or hasattr(coords, "__iter__")
    ):
        raise InvalidType(
            f"coords must be a number of coordinates or a list of indices, got {coords!r}"
        )
    for name, step in (("start_step", start_step), ("end_step", end_step)):
        missing = [
            i for i, t in enumerate(runs) if step is not None and step not in set(t.steps.tolist())
        ]
        if missing:
            raise InvalidArgument(
                f"{name}={step} was not recorded in run {missing[0]} (its steps run "
                f"{runs[missing[0]].steps[:4].tolist()}...{runs[missing[0]].steps[-1]})"
            )
    dim = _one_layout(runs)
    starts, ends = [], []
    tracker = Progress(progress, len(runs) + 2, "Morse graph")
    live = progress is True or callable(progress)
    for t in runs:
        i0 = t.at_step(start_step)
        i1 = len(t) - 1 if end_step is None else t.at_step(end_step)
        starts.append(np.asarray(t.weights[i0], dtype=float))
        ends.append(np.asarray(t.weights[i1], dtype=float))
        if live:
            tracker.update()
    S, E = np.stack(starts), np.stack(ends)
    if isinstance(coords, (int, np.integer)) and not isinstance(coords, bool):
        if not 1 <= coords <= dim:
            raise InvalidArgument(f"coords={coords} but the runs record {dim} values per snapshot")
        idx = [int(i) for i in np.argsort(-E.std(0), kind="stable")[:coords]]
    else:
        idx = [int(i) for i in coords]
        if not idx or max(idx) >= dim or min(idx) < 0:
            raise InvalidArgument(f"coords: indices must be in [0, {dim}), got {idx}")
    try:
        return from_pairs(S[:, idx], E[:, idx], subdiv, padding=padding, seed=seed, coords=idx,
                          _tracker=tracker if live else None)  # fmt: skip
    finally:
        tracker.close()


def _one_layout(runs) -> int:
    """The number of values each run records per snapshot; refuses runs of different networks (the
    same coordinate index would name different weights)."""
    dims = [int(t.weights.shape[1]) for t in runs]
    if len(set(dims)) > 1:
        other = next(i for i, d in enumerate(dims) if d != dims[0])
        raise InvalidArgument(
            f"the runs record different numbers of weights (run 0: {dims[0]:,}, run {other}: "
            f"{dims[other]:,}): a Morse graph needs runs of one network layout; choose them, "
            "for example runs.where(width=8)"
        )
    return dims[0]


def states(runs, coords, step: int | None = None) -> np.ndarray:
    """The runs' weights ``coords`` at ``step`` (default: each run's last snapshot), (n_runs, k): the
    points to draw or to pass to :meth:`MorseGraph.basin_of`.

    Example
    -------
    >>> lk.morse.states(runs.where(width=8), coords=[0, 1]).shape   # 5 runs at their last step
    (5, 2)
    """
    runs = list(runs)
    _one_layout(runs)
    out = []
    for t in runs:
        i = len(t) - 1 if step is None else t.at_step(step)
        out.append(np.asarray(t.weights[i], dtype=float)[list(coords)])
    return np.stack(out)


def compare_groups(m: MorseGraph, runs, task=None, *, step: int | None = None) -> list[dict]:
    """DOODL3's comparison of the runs grouped by attractor: for each attractor (and −1/−2 for runs
    outside the domain or on a basin boundary), the runs whose state at ``step`` (default: the last)
    flows there, with the mean ± std of their final models' balanced accuracy and mean prediction
    entropy (nats) on the task's test split. Models are rebuilt with ``traj.model()``.

    Example
    -------
    >>> ens = list(runs.where(width=8))
    >>> rows = lk.morse.compare_groups(lk.morse.from_runs(ens, start_step=10, subdiv=8), ens)
    >>> sum(r["runs"] for r in rows)
    5
    """
    import torch
    from sklearn.metrics import balanced_accuracy_score

    runs = list(runs)
    if m.coords is None:
        raise InvalidArgument("this Morse graph was not built from runs (no weight coordinates)")
    basin = m.basin_of(states(runs, m.coords, step))
    from .tasks import as_task

    task = runs[0].task() if task is None else as_task(task)
    stats = []
    for t in runs:
        model = t.model().eval()
        with torch.no_grad():
            logits = model(task.x_test)
        p = torch.softmax(logits, -1)
        pred = p.argmax(-1).cpu().numpy()
        entropy = float(-(p * p.clamp_min(1e-12).log()).sum(-1).mean())
        stats.append((balanced_accuracy_score(task.y_test.cpu().numpy(), pred), entropy))
    stats = np.array(stats)
    rows = []
    for a in [*m.attractors, -2, -1]:  # -1: the flow leaves the domain before reaching one
        idx = np.flatnonzero(basin == a)
        if not len(idx):
            continue
        label = f"attractor {a}" if a >= 0 else ("basin boundary" if a == -2 else "no attractor")
        rows.append({"group": label, "runs": len(idx),
                     "balanced_accuracy": float(stats[idx, 0].mean()),
                     "balanced_accuracy_std": float(stats[idx, 0].std()),
                     "entropy": float(stats[idx, 1].mean()), "entropy_std": float(stats[idx, 1].std()),
                     "run_ids": idx.tolist()})  # fmt: skip
    return rows
