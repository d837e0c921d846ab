"""Sublevel-set topology of loss surfaces: H0 persistence and the merge tree of basins.

For a grid of loss values f, a basin is born at a local minimum and dies when it merges into an older
basin at a saddle (the elder rule). Persistence = death − birth. Small persistence is noise: ``threshold``
(relative to the loss range) drops such pairs, so a nearly flat surface does not report dozens of minima.

Connectivity: ``8`` (default) matches gudhi's cubical complex built on the grid values as top-dimensional
cells (the T-construction); ``4`` matches the vertex (V-) construction. The essential class (the global
minimum, which never dies) is counted as a minimum and excluded from averages.

Example
-------
>>> import numpy as np
>>> x, y = np.meshgrid(np.linspace(-2, 2, 61), np.linspace(-2, 2, 61))
>>> f = -np.exp(-((x - 1) ** 2 + y**2) * 4) - np.exp(-((x + 1) ** 2 + y**2) * 4)   # two wells
>>> t = persistence(f, threshold=0.01)
>>> t.n_minima, t.n_saddles
(2, 1)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .errors import InvalidArgument, InvalidType
from .results import Result

__all__ = ["Persistence", "persistence"]


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Persistence(Result):
    """H0 sublevel-set persistence of a grid.

    Attributes
    ----------
    diagram : (n, 2) array of finite (birth, death) pairs above the threshold
    all_pairs : every finite pair, noise included
    n_minima : significant minima (pairs above threshold, plus the global minimum)
    n_saddles : significant merges (one per significant pair)
    average_persistence : mean death − birth of the significant pairs (NaN when none)
    smad : saddle–minimum average distance in grid coordinates (or ``coords`` units)
    merge_tree : list of merges ``{"saddle": index, "value", "child_min": index, "parent_min": index,
        "persistence", "basin_size"}`` in order of saddle value (significant ones only)
    minima : grid indices of the significant minima (global minimum first)
    edge_minima : how many of ``minima`` lie on the grid's edge: there the slice ends, not
        necessarily the basin (the loss may fall further beyond it)
    minimum_values : the surface's value at each of ``minima``
    max_value : the surface's largest value (where the last basin's bar ends in a drawing)
    threshold, absolute_threshold, connectivity : how noise was cut
    """

    _headline = ("n_minima", "n_saddles", "average_persistence", "threshold")

    diagram: np.ndarray
    all_pairs: np.ndarray
    n_minima: int
    n_saddles: int
    average_persistence: float
    smad: float
    merge_tree: list
    minima: list
    threshold: float
    absolute_threshold: float
    connectivity: int
    minimum_values: list = dataclasses.field(default_factory=list)
    max_value: float = float("nan")
    edge_minima: int = 0

    @property
    def counts(self) -> str:
        """The significant minima and saddles in words ("2 minima, 1 saddle")."""
        m, s, e = self.n_minima, self.n_saddles, self.edge_minima
        edge = f" ({e} at the edge of the grid)" if e else ""
        return f"{m} {'minimum' if m == 1 else 'minima'}{edge}, {s} {'saddle' if s == 1 else 'saddles'}"

    @property
    def verdict(self) -> str:
        """What the counts say about the surface, in plain words (at this noise threshold).

        Example
        -------
        >>> g = np.linspace(-1, 1, 21)
        >>> lk.topology.persistence(g[:, None] ** 2 + g[None, :] ** 2).verdict
        'one basin: a single bowl (no other minimum deeper than the noise threshold)'
        """
        inner, edge = self.n_minima - self.edge_minima, self.edge_minima
        beyond = (
            f"; the loss falls further beyond the grid's edge ({edge} "
            f"{'place' if edge == 1 else 'places'}): a wider span shows where"
            if edge
            else ""
        )
        if inner > 1:
            return f"rugged: {inner} separate basins deeper than the noise threshold{beyond}"
        if inner == 1:
            one = "one basin inside the grid" if edge else "one basin: a single bowl"
            return f"{one} (no other minimum deeper than the noise threshold){beyond}"
        return f"no basin inside the grid: the lowest loss lies on its edge{beyond}"


def _neighbours(shape, connectivity):
    nd = len(shape)
    offsets = []
    for off in np.ndindex(*([3] * nd)):
        d = np.array(off) - 1
        if not d.any():
            continue
        if connectivity == 4 and np.abs(d).sum() != 1:
            continue
        offsets.append(d)
    return offsets


def persistence(
    surface, threshold: float = 0.01, *, connectivity: int = 8, coords=None
) -> Persistence:
    """H0 persistence and merge tree of a 2-D (or n-D) grid of loss values.

    ``surface``: an array, or a landkit ``Surface`` (its ``loss`` and coordinates are used).
    ``threshold``: pairs with persistence ≤ ``threshold × (max − min)`` are noise.
    ``connectivity``: 8 (all grid neighbours, incl. diagonals; gudhi's T-construction) or 4 (axis neighbours).

    Example
    -------
    >>> x = np.linspace(-2, 2, 81)
    >>> wells = (x**2 - 1) ** 2                   # two minima at ±1, one saddle at 0
    >>> p = lk.topology.persistence(wells)
    >>> p.n_minima, p.n_saddles, round(float(p.diagram[0, 1] - p.diagram[0, 0]), 3)
    (2, 1, 1.0)
    """
    if hasattr(surface, "loss"):
        if coords is None and hasattr(surface, "alpha"):
            coords = (np.asarray(surface.alpha), np.asarray(surface.beta))
        surface = surface.loss
    try:
        f = np.asarray(surface, dtype=float)
    except (TypeError, ValueError) as e:
        raise InvalidType(
            f"surface must be a grid of loss values or a landkit Surface, got {type(surface).__name__}"
        ) from e
    if f.ndim < 1 or f.size < 2:
        raise InvalidArgument(f"surface must be a grid with at least 2 values, got shape {f.shape}")
    if not np.isfinite(f).all():
        raise InvalidArgument(
            f"surface has {int((~np.isfinite(f)).sum())} non-finite values: evaluate on finite losses (or clip)"
        )
    if connectivity not in (4, 8):
        raise InvalidArgument(f"connectivity must be 4 or 8, got {connectivity}")
    if not 0 <= threshold < 1:
        raise InvalidArgument(
            f"threshold is relative to the loss range and must be in [0, 1), got {threshold}"
        )
    shape = f.shape
    flat = f.ravel()
    order = np.argsort(flat, kind="stable")
    parent = np.full(flat.size, -1)
    birth_min = np.full(flat.size, -1)  # for each root: the index of its minimum
    size = np.zeros(flat.size, dtype=int)

    def find(i):
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    offsets = _neighbours(shape, connectivity)
    pairs, merges = [], []
    for idx in order:
        parent[idx] = idx
        birth_min[idx] = idx
        size[idx] = 1
        pos = np.array(np.unravel_index(idx, shape))
        roots = set()
        for d in offsets:
            q = pos + d
            if np.any(q < 0) or np.any(q >= shape):
                continue
            j = np.ravel_multi_index(tuple(q), shape)
            if parent[j] != -1:
                roots.add(find(j))
        if not roots:
            continue  # a new local minimum
        # the oldest basin (lowest minimum) survives; the others die here
        roots = sorted(roots, key=lambda r: (flat[birth_min[r]], birth_min[r]))
        elder = roots[0]
        for r in roots[1:]:
            pers = flat[idx] - flat[birth_min[r]]
            pairs.append((flat[birth_min[r]], flat[idx]))
            merges.append({"saddle": idx, "value": float(flat[idx]), "child_min": int(birth_min[r]),
                           "parent_min": int(birth_min[elder]), "persistence": float(pers), "basin_size": int(size[r])})  # fmt: skip
            parent[r] = elder
            size[elder] += size[r]
        parent[idx] = elder
        size[elder] += 1
    span = float(flat.max() - flat.min())
    cut = threshold * span
    all_pairs = np.array(pairs, dtype=float).reshape(-1, 2)
    keep = (all_pairs[:, 1] - all_pairs[:, 0]) > cut if len(all_pairs) else np.zeros(0, bool)
    sig = [m for m, k in zip(merges, keep) if k]
    diagram = all_pairs[keep]
    pers = diagram[:, 1] - diagram[:, 0]
    grid = coords
    if grid is not None:
        axes = [np.asarray(c) for c in grid]

        def loc(i):
            return np.array([a[k] for a, k in zip(axes, np.unravel_index(i, shape))])
    else:

        def loc(i):
            return np.array(np.unravel_index(i, shape), dtype=float)

    smad = (
        float(np.mean([np.linalg.norm(loc(m["saddle"]) - loc(m["child_min"])) for m in sig]))
        if sig
        else float("nan")
    )
    global_min = int(order[0])
    minima = [global_min] + [m["child_min"] for m in sig]
    on_edge = sum(any(k == 0 or k == n - 1 for k, n in zip(np.unravel_index(i, shape), shape))
                  for i in minima)  # fmt: skip
    return Persistence(
        diagram=diagram,
        all_pairs=all_pairs,
        n_minima=len(sig) + 1,
        n_saddles=len(sig),
        average_persistence=float(pers.mean()) if len(pers) else float("nan"),
        smad=smad,
        merge_tree=sig,
        minima=minima,
        threshold=float(threshold),
        absolute_threshold=cut,
        connectivity=connectivity,
        minimum_values=[float(flat[m]) for m in [global_min] + [m["child_min"] for m in sig]],
        max_value=float(flat.max()),
        edge_minima=int(on_edge),
    )
