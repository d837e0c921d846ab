"""The Koopman lens: DMD spectra of training dynamics and a conjugacy test (Redman et al., NeurIPS 2024).

Two training processes are topologically conjugate only if their Koopman eigenvalues agree. landkit
estimates the eigenvalues with time-delay (Hankel) DMD over many trajectories at once, compares spectra
by the 1-Wasserstein distance in the complex plane, and — beyond the paper — judges a distance with a
permutation test over trajectories and the within-group seed-to-seed spread.

How the numbers are computed
----------------------------
1. Observables: the recorded weights (``params=`` selects layers), or a joint PCA to ``pca`` dimensions
   fitted once on every trajectory of the comparison.
2. Exact reduction (method of snapshots): the Gram matrix of all snapshots gives coordinates in an
   orthonormal basis of their span. Every inner product is preserved, so the DMD below is the DMD of
   the full-dimensional data — pydmd only ever sees the small problem.
3. Hankel embedding ``z_t = [x_t; x_{t+1}; …; x_{t+delays}]``; pairs ``(z_t, z_{t+1})`` stacked across
   trajectories, never across a boundary.
4. ``pydmd.DMD(svd_rank=rank or -1).fit(X, Y)``: the eigenvalues of the rank-truncated operator.

Example
-------
>>> import landkit as lk
>>> d = lk.examples.omd_ogd()
>>> w = lk.koopman.wasserstein(lk.koopman.spectrum(d["omd"], delays=4),
...                            lk.koopman.spectrum(d["ogd"], delays=4))
>>> w < 0.05
True
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from .errors import InvalidArgument, InvalidType
from .progress import Progress
from .results import Result, with_params
from .validate import choice, integer, memory, number

__all__ = [
    "ConjugacyResult",
    "KoopmanSpectrum",
    "WindowedSpectra",
    "compare",
    "conjugacy_test",
    "observables",
    "permutation_test",
    "spectrum",
    "uniform_groups",
    "wasserstein",
    "windowed",
]


# --------------------------------------------------------------------------------------------------
# results


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class KoopmanSpectrum(Result):
    """Koopman eigenvalues estimated by time-delay DMD.

    Attributes
    ----------
    eigenvalues : complex array, sorted by decreasing modulus
    delays, rank : the parameters (``rank=None``: no truncation)
    svd_rank : the truncation rank actually used (number of eigenvalues)
    singular_values : of the delay-embedded data matrix X (all of them, before truncation)
    residual : relative one-step residual ‖Y − A X‖_F / ‖Y‖_F of the fitted operator
    n_trajectories, n_pairs, n_observables : the data that produced it
    modes : with ``spectrum(..., modes=True)``: the DMD modes as columns, one per eigenvalue (same
        order), in the delay-embedded observable space ``[x_t; …; x_{t+delays}]`` (PCA coordinates when
        ``pca`` was used); ``None`` otherwise
    """

    _headline = ("svd_rank", "delays", "rank", "residual", "n_trajectories")

    eigenvalues: np.ndarray
    delays: int
    rank: int | None
    svd_rank: int
    singular_values: np.ndarray
    residual: float
    n_trajectories: int
    n_pairs: int
    n_observables: int
    modes: np.ndarray | None = None

    def rates(self, dt: float = 1.0) -> np.ndarray:
        """Continuous-time eigenvalues ``log(λ) / dt`` (growth rate + i·frequency)."""
        return np.log(self.eigenvalues.astype(complex)) / dt

    @property
    def moduli(self) -> np.ndarray:
        return np.abs(self.eigenvalues)

    def __repr__(self):
        lam = ", ".join(f"{z:.3f}" for z in self.eigenvalues[:4])
        more = ", …" if len(self.eigenvalues) > 4 else ""
        return (
            f"KoopmanSpectrum({len(self.eigenvalues)} eigenvalues [{lam}{more}], delays={self.delays}, "
            f"rank={self.rank}, {self.n_trajectories} trajectories, residual={self.residual:.2e})"
        )


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class ConjugacyResult(Result):
    """A test of whether two groups of runs have conjugate (equivalent) dynamics.

    ``distance`` W is the Wasserstein distance between the two groups' Koopman spectra. ``null`` is
    the same statistic where the answer is known to be "the same dynamics": W between two resamples
    of one group (``within_a``, ``within_b``), each in its own coordinates, so that a change of
    coordinates between the groups (the very thing conjugacy allows) cannot create a difference.
    ``p_value`` = (1 + #{null ≥ W}) / (1 + len(null)): small when the groups differ more than a group
    differs from itself. ``verdict`` and ``reason`` say it in words (at ``alpha``).

    ``method="permutation"`` (from :func:`permutation_test`) answers another question — are the two
    sets of trajectories alike in one coordinate system? — with a null from re-splitting the pooled
    trajectories.
    """

    _headline = ("verdict", "distance", "p_value", "within", "margin", "reason")

    distance: float
    p_value: float
    null: np.ndarray
    within_a: np.ndarray
    within_b: np.ndarray
    spectrum_a: KoopmanSpectrum
    spectrum_b: KoopmanSpectrum
    n_resamples: int
    seed: int
    method: str = "bootstrap"
    alpha: float = 0.05
    margin: float = 0.0

    @property
    def within(self) -> float:
        """Median within-group distance: what resampling one group's runs alone gives."""
        vals = np.concatenate([self.within_a, self.within_b])
        vals = vals[np.isfinite(vals)]
        return float(np.median(vals)) if len(vals) else float("nan")

    @property
    def verdict(self) -> str:
        """``"not conjugate"`` when the spectra differ by more than ``margin`` and more than the
        groups differ from themselves (p < ``alpha``); ``"conjugate"`` otherwise."""
        differ = self.p_value < self.alpha and self.distance > self.margin
        return "not conjugate" if differ else "conjugate"

    @property
    def reason(self) -> str:
        """The verdict in plain words, with the numbers behind it."""
        q = float(np.quantile(self.null, 1 - self.alpha)) if len(self.null) else float("nan")
        if self.method == "permutation":
            what = "re-splits of the pooled trajectories"
        else:
            what = "two resamples of one group (each group in its own coordinates)"
        pct = f"{100 * (1 - self.alpha):.0f}th percentile {q:.3g}; p = {self.p_value:.3g}"
        if self.p_value >= self.alpha:
            return (f"W = {self.distance:.3g} between the groups is within the spread of W between {what} "
                    f"({pct}): no evidence that the dynamics differ")  # fmt: skip
        if self.distance <= self.margin:
            return (f"W = {self.distance:.3g} is larger than W between {what} ({pct}) but below the "
                    f"margin {self.margin:.3g}: a difference of the size that different observables "
                    "alone give conjugate systems — treated as equivalent")  # fmt: skip
        return (f"W = {self.distance:.3g} between the groups is larger than W between {what} ({pct}) "
                f"and than the margin {self.margin:.3g}: the spectra differ more than the runs of one "
                "group differ among themselves")  # fmt: skip

    def __repr__(self):
        return (
            f"ConjugacyResult({self.verdict}: W={self.distance:.4g}, p={self.p_value:.3g} "
            f"({self.n_resamples} {self.method} resamples), within-group ≈ {self.within:.4g})"
        )


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class WindowedSpectra(Result):
    """Spectra over training windows and the window × window Wasserstein distances."""

    _headline = ("window",)

    starts: np.ndarray
    window: int
    spectra: tuple
    distances: np.ndarray


# --------------------------------------------------------------------------------------------------
# inputs


def _is_traj(x) -> bool:
    return hasattr(x, "weights") and hasattr(x, "steps")


def _columns(traj, params):
    if params is None:
        return slice(None)
    from .store import select_names

    names = select_names([p.name for p in traj.params], params)
    idx = np.concatenate(
        [np.arange(traj.param_slice(n).start, traj.param_slice(n).stop) for n in names]
    )
    return idx


def _check_spacing(traj):
    """DMD fits one operator per step: the snapshots must be evenly spaced in training steps."""
    steps = np.asarray(traj.steps)
    gaps = np.unique(np.diff(steps))
    if len(gaps) > 1:
        k = traj.schedule_period
        how = (f"traj.every({k}) (its every({k}) part)" if k else
               "traj.every(k) for a k that divides the steps you want (record with an every(k) schedule)")  # fmt: skip
        raise InvalidArgument(
            f"{traj.path.name if getattr(traj, 'path', None) else 'a run'} was recorded at unevenly "
            f"spaced steps ({len(gaps)} different gaps, {int(gaps.min())} to {int(gaps.max())}): DMD "
            f"needs even spacing. Select evenly spaced snapshots with {how}, or "
            "lk.koopman.uniform_groups(runs, every=k)"
        )


def _as_list(runs, params=None, name="runs") -> list[np.ndarray]:
    """Trajectories (objects, a RunSet, a (runs, T, D) or (T, D) array, or a list of 2-D arrays) as a
    list of float64 (T_i, D) arrays."""
    if isinstance(runs, (str, bytes)) or runs is None or np.isscalar(runs):
        raise InvalidType(
            f"{name} must be recorded runs (lk.load / lk.load_runs), a list of (T, D) arrays or a "
            f"(runs, T, D) array, got {type(runs).__name__} {runs!r:.60}"
        )
    if isinstance(runs, np.ndarray) or (
        hasattr(runs, "__array__") and not _is_traj(runs) and not isinstance(runs, (list, tuple))
    ):
        arr = np.asarray(runs)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise InvalidArgument(
                f"trajectory array must have shape (runs, T, D) or (T, D), got {arr.shape}"
            )
        out = [a for a in arr]
    else:
        items = [runs] if _is_traj(runs) else list(runs)
        if not items:
            raise InvalidArgument(
                f"{name} is empty: give at least one recorded run or (T, D) array"
            )
        out = []
        for t in items:
            if _is_traj(t):
                _check_spacing(t)
                cols = _columns(t, params)
                out.append(
                    np.asarray(t.weights[:, cols])
                    if not isinstance(cols, slice)
                    else np.asarray(t.weights)
                )
            else:
                a = np.asarray(t)
                if a.ndim != 2:
                    raise InvalidArgument(
                        f"{name}: each trajectory must be a (T, D) array, got shape {a.shape}"
                    )
                out.append(a)
    dims = {a.shape[1] for a in out}
    if len(dims) != 1:
        raise InvalidArgument(f"trajectories have different numbers of observables: {sorted(dims)}")
    out = [np.asarray(a, dtype=np.float64) for a in out]
    for i, a in enumerate(out):
        if not np.isfinite(a).all():
            raise InvalidArgument(
                f"trajectory {i} has non-finite values ({int((~np.isfinite(a)).sum())} entries): a diverged run?"
            )
    return out


def observables(
    runs, *, params=None, pca: int | None = None, center: bool = True, keep_mean: bool = False
) -> list[np.ndarray]:
    """The observables DMD works on: selected weights, optionally a joint PCA to ``pca`` dimensions
    (fitted on all the given trajectories together; centred on their joint mean). With
    ``keep_mean=True`` the principal axes are fitted on the centred weights but the uncentred weights
    are projected on them, so the mean stays in the coordinates as a constant offset (Redman et al.'s
    grokking analysis does this).

    Example
    -------
    >>> even = [t.every(t.schedule_period) for t in runs.where(width=8)]   # DMD needs even spacing
    >>> obs = lk.koopman.observables(even, pca=3)                        # a joint 3-component PCA
    >>> len(obs), obs[0].shape[1]
    (5, 3)
    """
    if pca is not None and center and _lazy_items(runs) is not None:
        return _reduced(runs, params, 0, pca, keep_mean=keep_mean)
    arrs = _as_list(runs, params)
    if pca is None:
        return arrs
    pca = integer("pca", pca, minimum=1)
    total = sum(len(a) for a in arrs)
    if pca > min(total, arrs[0].shape[1]):
        raise InvalidArgument(
            f"pca={pca} exceeds what the data supports: {total} snapshots of {arrs[0].shape[1]} observables"
        )
    coords = _span_coordinates(arrs, center=center, keep_mean=keep_mean and center)
    return [c[:, :pca] for c in coords]


def _span_coordinates(arrs: list[np.ndarray], center: bool = False, basis: bool = False,
                      keep_mean: bool = False):  # fmt: skip
    """Coordinates of every snapshot in an orthonormal basis of their joint span (method of snapshots).

    Exact: all inner products between snapshots are preserved. Components come sorted by variance,
    so the first k columns are the top-k principal coordinates. With ``basis=True`` also returns the
    (D, r) orthonormal basis B with ``coordinates = snapshots @ B``. With ``center`` the basis is that
    of the centred snapshots; ``keep_mean`` then projects the uncentred ones (coordinates + mean @ B).
    """
    lengths = [len(a) for a in arrs]
    W = np.concatenate(arrs)
    if center:
        m = W.mean(axis=0)
        W = W - m
    n, d = W.shape
    if d <= n:  # already small: rotate onto principal axes of W itself
        _, s, vt = np.linalg.svd(W, full_matrices=False)
        keep = s > s[0] * 1e-12 if len(s) and s[0] > 0 else np.zeros(len(s), bool)
        B = vt[keep].T
        C = W @ B
        if center and keep_mean:
            C = C + m @ B
    else:
        C, V, lam = _gram_coordinates(W @ W.T)
        B = (W.T @ V) / np.sqrt(lam) if basis else None
        if center and keep_mean:  # m @ B = (W m) @ V / sqrt(lam), without forming B
            C = C + ((W @ m) @ V) / np.sqrt(lam)
    parts = np.split(C, np.cumsum(lengths)[:-1])
    return (parts, B) if basis else parts


def _gram_coordinates(K):
    """Coordinates C with C Cᵀ = K (K a Gram matrix of snapshots), principal directions first, zero
    directions dropped; also the eigenvectors and eigenvalues kept."""
    lam, V = np.linalg.eigh(K)
    lam, V = lam[::-1], V[:, ::-1]
    keep = lam > max(lam[0], 0) * 1e-12 if lam[0] > 0 else np.zeros(len(lam), bool)
    return V[:, keep] * np.sqrt(lam[keep]), V[:, keep], lam[keep]


def _lazy_items(runs):
    """``runs`` as a list of recorded (lazy) trajectories, or None when it holds arrays."""
    if _is_traj(runs):
        return [runs]
    if isinstance(runs, (list, tuple)) or hasattr(runs, "groupby"):
        items = list(runs)
        if items and all(_is_traj(t) for t in items):
            return items
    return None


def _lazy_dim(items, params) -> int:
    dims = set()
    for t in items:
        cols = _columns(t, params)
        dims.add(t.weights.shape[1] if isinstance(cols, slice) else len(cols))
    if len(dims) != 1:
        raise InvalidArgument(f"trajectories have different numbers of observables: {sorted(dims)}")
    return dims.pop()


def _streamed_coordinates(items, params, *, center: bool, max_memory: float = 2**30,
                          keep_mean: bool = False):  # fmt: skip
    """:func:`_span_coordinates` of recorded trajectories without reading them into memory: their
    joint Gram matrix streamed over the stores' chunks (N × N for N snapshots, plus one block of
    columns), then its eigendecomposition. Exact; the centred version gives principal coordinates."""
    from .linalg import joint_gram

    for t in items:
        _check_spacing(t)
    P = _lazy_dim(items, params)
    cols = _columns(items[0], params)
    lengths = [len(t) for t in items]
    G = joint_gram([t.weights for t in items], [np.arange(n) for n in lengths], np.zeros(P),
                   max_memory=max_memory, columns=None if isinstance(cols, slice) else cols)  # fmt: skip
    bad = ~np.isfinite(np.diag(G))
    if bad.any():
        i = int(np.searchsorted(np.cumsum(lengths), np.flatnonzero(bad)[0], side="right"))
        raise InvalidArgument(
            f"trajectory {i} has non-finite values ({int(bad.sum())} snapshots): a diverged run?"
        )
    if center:
        r = G.mean(axis=0)
        G = G - r[None, :] - r[:, None] + r.mean()
    C, V, lam = _gram_coordinates(G)
    if center and keep_mean:  # the mean's coordinates: (w_j − m)·m = r_j − mean(r)
        C = C + ((r - r.mean()) @ V) / np.sqrt(lam)
    return np.split(C, np.cumsum(lengths)[:-1])


def _reduced(runs, params, delays: int, pca: int | None, max_memory: float = 2**30,
             keep_mean: bool = False):  # fmt: skip
    """What DMD needs of ``runs``: their observables, or — when the delay embedding would be wider
    than the data — exact coordinates in the span of their snapshots (every inner product kept, so
    every DMD eigenvalue kept), or with ``pca`` their top principal coordinates (joint PCA of these
    runs, centred). Recorded runs are reduced from a streamed Gram matrix, never read whole."""
    items = _lazy_items(runs)
    if items is not None:
        P, N = _lazy_dim(items, params), sum(len(t) for t in items)
        if pca is not None:
            pca = integer("pca", pca, minimum=1)
            if pca > min(N, P):
                raise InvalidArgument(
                    f"pca={pca} exceeds what the data supports: {N} snapshots of {P} observables"
                )
        if pca is not None or P * (delays + 1) > N:
            coords = _streamed_coordinates(items, params, center=pca is not None,
                                           max_memory=max_memory,
                                           keep_mean=keep_mean and pca is not None)  # fmt: skip
            return coords if pca is None else [c[:, :pca] for c in coords]
    arrs = _as_list(runs, params)
    if pca is not None:
        return observables(arrs, pca=pca, keep_mean=keep_mean)
    if arrs[0].shape[1] * (delays + 1) > sum(len(a) for a in arrs):
        return _span_coordinates(arrs)
    return arrs


# --------------------------------------------------------------------------------------------------
# DMD


def _check_delays(delays):
    return integer("delays", delays, minimum=0)


def _hankel_pairs(arrs: list[np.ndarray], delays: int):
    X, Y = [], []
    for i, a in enumerate(arrs):
        n = len(a) - delays
        if n < 2:
            raise InvalidArgument(
                f"runs[{i}] has {len(a)} snapshots: too few for delays={delays} "
                f"(need at least delays + 2 = {delays + 2} to form one pair)"
            )
        Z = np.concatenate([a[k : k + n] for k in range(delays + 1)], axis=1)
        X.append(Z[:-1])
        Y.append(Z[1:])
    return np.concatenate(X).T, np.concatenate(Y).T  # (features, pairs)


def _dmd(arrs: list[np.ndarray], delays: int, rank: int | None) -> KoopmanSpectrum:
    X, Y = _hankel_pairs(arrs, delays)
    return _fit_pairs(X, Y, rank, delays, len(arrs), arrs[0].shape[1])


def _check_rank(rank, X_shape):
    if rank is None:
        return
    rank = integer("rank", rank, minimum=1)
    if rank > min(X_shape):
        raise InvalidArgument(
            f"rank={rank} is larger than the data supports: {X_shape[1]} snapshot pairs of "
            f"{X_shape[0]} delay-embedded observables (at most {min(X_shape)})"
        )


def _thin_svd(X):
    """U, σ (and Vᴴ, or None when it is cheaper to form Vᵣ = Xᴴ Uᵣ / σᵣ later) of a features × pairs
    matrix. For the usual wide X (few features, many pairs) an R-only QR of Xᴴ and the SVD of the small
    triangle give U and σ backward-stably (no squared condition number, unlike the Gram matrix) at a
    fraction of the cost of LAPACK's SVD of the wide matrix."""
    d, n = X.shape
    if d == 0 or n < 4 * d:
        return np.linalg.svd(X, full_matrices=False)
    R = np.linalg.qr(X.conj().T, mode="r")[:d]
    U, s, _ = np.linalg.svd(R.conj().T)
    return U, s, None


def _fit_pairs(X, Y, rank, delays, n_traj, n_obs, n_pairs=None) -> KoopmanSpectrum:
    """Exact DMD of snapshot pairs ``Y ≈ A X`` (columns), truncated to ``rank``, with one SVD.

    X = U Σ Vᴴ (thin), Ã = Uᵣᴴ Y Vᵣ Σᵣ⁻¹ is A projected on the leading r left singular vectors, its
    eigenvalues are the DMD eigenvalues and Uᵣ W the (projected) modes — pydmd's ``DMD(exact=False)``
    computed without its condition-number checks (each an SVD of its own); ``tests/test_koopman.py``
    compares the two. Directions with a numerically zero singular value (below 1e-13 of the largest)
    carry no data: the operator is 0 there (eigenvalue 0), where pydmd divides rounding noise by them.
    """
    _check_rank(rank, X.shape)
    U, s, Vh = _thin_svd(X)
    r = len(s) if rank is None else int(rank)
    # directions of (numerically) zero singular value: no snapshot moves along them, so the operator
    # there is 0 — eigenvalue 0 — rather than the rounding noise divided by ~1e-16 that a plain
    # pseudo-inverse gives (for the bisection example, an eigenvalue of −1.23, outside the circle)
    live = min(r, int(np.count_nonzero(s > s[0] * 1e-13))) if len(s) and s[0] > 0 else 0
    Ur, sr = U[:, :r], s[:live]
    Vr = Vh[:live].conj().T if Vh is not None else (X.conj().T @ U[:, :live]) / sr
    atilde = np.zeros((r, r), dtype=np.result_type(X, Y, float))
    atilde[:, :live] = (Ur.conj().T @ (Y @ Vr)) / sr
    eig, W = np.linalg.eig(atilde)
    order = np.lexsort((-eig.imag, -np.abs(eig)))
    pred = Ur @ (atilde @ (Ur.conj().T @ X))
    residual = float(np.linalg.norm(Y - pred) / max(np.linalg.norm(Y), 1e-300))
    return KoopmanSpectrum(
        eigenvalues=eig[order],
        delays=delays,
        rank=None if rank is None else int(rank),
        svd_rank=len(eig),
        singular_values=s,
        residual=residual,
        n_trajectories=n_traj,
        n_pairs=n_pairs or X.shape[1],
        n_observables=n_obs,
        modes=(Ur @ W)[:, order],
    )


def _streamed_spectrum(items, delays: int, rank: int, params=None, *, oversample: int = 10,
                       power_iterations: int = 2, seed: int = 0, progress: bool = False) -> KoopmanSpectrum:  # fmt: skip
    """Time-delay DMD of stored trajectories too large to hold in memory.

    A randomized range finder (Halko, Martinsson & Tropp 2011) for the delay-embedded data matrix X,
    with ``power_iterations`` power iterations and ``oversample`` extra columns, computed by streaming
    the stores chunk by chunk (never materialising X or even one run); then pydmd on the projected pairs
    ``(QᵀX, QᵀY)``. Each pass over the data is one matrix product per stored chunk.
    """
    m = int(rank) + int(oversample)
    runs = []
    for t in items:
        _check_spacing(t)
        cols = _columns(t, params)
        T = len(t)
        n = T - delays
        if n < 2:
            raise InvalidArgument(f"a trajectory has {T} snapshots: too few for delays={delays}")
        runs.append((t, None if isinstance(cols, slice) else cols, T, n))
    D = runs[0][0].weights.shape[1] if runs[0][1] is None else len(runs[0][1])
    k1 = delays + 1
    N = sum(n - 1 for *_, n in runs)
    _check_rank(rank, (D * k1, N))
    m = min(m, N, D * k1)  # a basis never wider than the data (few pairs: the range is all of it)
    rng = np.random.default_rng(seed)
    tracker = Progress(progress, (2 + 2 * power_iterations) * len(runs), "streaming DMD",
                       unit="run-pass")  # fmt: skip
    bar = tracker if (progress is True or callable(progress)) else None

    def blocks(t, cols):
        for r0, b in t.weights.iter_chunks():
            yield r0, np.asarray(b if cols is None else b[:, cols], dtype=np.float64)

    def x_times(M):  # M: list of (n_i - 1, m) -> X M as (D, k1, m)
        out = np.zeros((D, k1 * m))
        for (t, cols, T, n), Mi in zip(runs, M):
            E = np.zeros((T, k1, m))
            for k in range(k1):
                E[k : k + n - 1, k] = Mi
            E = E.reshape(T, k1 * m)
            for r0, B in blocks(t, cols):
                out += B.T @ E[r0 : r0 + len(B)]
            if bar is not None:
                bar.update(1)
        return out  # (D, k1*m): row d, column k*m + j

    def xt_times(Q):  # Q: (D, k1*m) -> per run (Q^T X, Q^T Y) as (n_i - 1, m) each
        xs, ys = [], []
        for t, cols, T, n in runs:
            U = np.zeros((T, k1, m))
            for r0, B in blocks(t, cols):
                U[r0 : r0 + len(B)] = (B @ Q).reshape(len(B), k1, m)
            Z = sum(U[k : k + n, k] for k in range(k1))  # z_t . Q for t = 0..n-1
            xs.append(Z[:-1])
            ys.append(Z[1:])
            if bar is not None:
                bar.update(1)
        return xs, ys

    def orth(A):  # A: (D, k1*m) viewed as a (D*k1, m) matrix
        q, _ = np.linalg.qr(A.reshape(D, k1, m).reshape(D * k1, m))
        return q.reshape(D, k1 * m)

    omega = [rng.standard_normal((n - 1, m)) for *_, n in runs]
    Q = orth(x_times(omega))
    for _ in range(power_iterations):
        xs, _ = xt_times(Q)
        Z = np.linalg.qr(np.concatenate(xs))[0]
        Q = orth(x_times(np.split(Z, np.cumsum([n - 1 for *_, n in runs])[:-1])))
    xs, ys = xt_times(Q)
    tracker.close()
    Xr, Yr = np.concatenate(xs).T, np.concatenate(ys).T  # (m, N): the pairs in the basis Q
    spec = _fit_pairs(Xr, Yr, rank, delays, len(runs), D, n_pairs=N)
    # lift the modes: rows of Q are indexed (d, k) -> reorder to the embedding's (k, d)
    Qf = Q.reshape(D, k1, m).transpose(1, 0, 2).reshape(k1 * D, m)
    return dataclasses.replace(spec, modes=Qf @ spec.modes)


def spectrum(
    runs,
    *,
    delays: int = 4,
    rank: int | None = None,
    params=None,
    pca: int | None = None,
    keep_mean: bool = False,
    method: Literal["auto", "exact", "streamed"] = "auto",
    max_memory: float = 2**30,
    seed: int = 0,
    progress: bool = False,
    modes: bool = False,
) -> KoopmanSpectrum:
    """Koopman eigenvalues of a set of trajectories by time-delay DMD.

    Parameters
    ----------
    runs : a :class:`landkit.Trajectory`, a list of them, a :class:`landkit.RunSet`, a float array of
        shape (runs, T, D), one (T, D) array, or a list of (T_i, D) arrays.
    delays : extra time-shifted copies in the Hankel embedding (0 = plain DMD).
    rank : SVD truncation rank of the delay-embedded data; ``None`` = no truncation.
    params : parameter names or globs to use as observables (recorded trajectories only).
    pca : project the observables jointly onto this many principal components first.
    keep_mean : with ``pca``, project the *uncentred* observables on the principal axes of the
        centred ones (the mean stays as a constant offset; Redman et al.'s grokking analysis).
    method : ``"exact"`` reads the observables into memory and reduces them exactly (Gram matrix);
        ``"streamed"`` streams stored runs chunk by chunk through a randomized range finder (needs
        ``rank``; eigenvalues agree with the exact ones to ~1e-8 when the spectrum has a gap after
        ``rank``); ``"auto"`` streams recorded runs whose observables exceed ``max_memory`` bytes.

    Example
    -------
    >>> import numpy as np
    >>> A = np.array([[0.9, -0.2], [0.2, 0.9]])           # eigenvalues 0.9 ± 0.2i
    >>> x = [np.array([1.0, 0.0])]
    >>> for _ in range(30): x.append(A @ x[-1])
    >>> np.round(spectrum(np.array(x), delays=0).eigenvalues, 6)
    array([0.9+0.2j, 0.9-0.2j])
    """
    delays = _check_delays(delays)
    choice("method", method, ("auto", "exact", "streamed"))
    max_memory = memory("max_memory", max_memory)
    items = _lazy_items(runs)
    if items is not None and pca is None:
        dim, N = _lazy_dim(items, params), sum(len(t) for t in items)
        nbytes = 8 * dim * N
        # the exact reduction streams an N × N Gram matrix: it fits unless there are very many snapshots
        gram_fits = 24 * N**2 <= max_memory
        if method == "streamed" or (
            method == "auto" and nbytes > max_memory and (modes or not gram_fits)
        ):
            if rank is None:
                raise InvalidArgument(
                    f"these runs hold {nbytes / 2**30:.1f} GiB of observables in {N:,} snapshots "
                    "(over max_memory): pass rank= for the streamed randomized DMD, pca= to reduce "
                    "first, params= to select layers, or fewer snapshots (traj.every(k))"
                )
            # the range finder holds a (D·(delays + 1)) × (rank + 10) float64 basis and one product
            # of the same size: refuse rather than overrun max_memory
            basis = 2 * 8 * dim * (delays + 1) * (int(rank) + 10)
            if basis > max_memory:
                raise InvalidArgument(
                    f"streamed DMD of {dim:,} observables with delays={delays} and rank={rank} holds "
                    f"{basis / 2**30:.1f} GiB of basis vectors, over max_memory={max_memory / 2**30:.1f} "
                    "GiB: select layers with params=, lower delays or rank, or raise max_memory"
                )
            spec = _streamed_spectrum(items, delays, rank, params, seed=seed, progress=progress)
            return spec if modes else dataclasses.replace(spec, modes=None)
    elif method == "streamed":
        raise InvalidArgument(
            "method='streamed' needs recorded trajectories (lk.load(...)) and pca=None"
        )
    if not modes:
        spec = _dmd(_reduced(runs, params, delays, pca, max_memory, keep_mean), delays, rank)
        return dataclasses.replace(spec, modes=None)
    arrs = observables(runs, params=params, pca=pca, keep_mean=keep_mean)
    B = None
    if pca is None and arrs[0].shape[1] * (delays + 1) > sum(len(a) for a in arrs):
        arrs, B = _span_coordinates(arrs, basis=True)  # exact: pydmd sees the small problem only
    spec = _dmd(arrs, delays, rank)
    if B is not None:  # lift from span coordinates, delay block by delay block
        r = B.shape[1]
        phi = spec.modes.reshape(delays + 1, r, -1)
        spec = dataclasses.replace(
            spec, modes=np.einsum("dr,krm->kdm", B, phi).reshape((delays + 1) * B.shape[0], -1)
        )
    return spec


def _eigs(s) -> np.ndarray:
    if isinstance(s, KoopmanSpectrum):
        return s.eigenvalues
    a = np.asarray(s)
    if a.ndim != 1:
        raise InvalidArgument(f"eigenvalues must be a 1-D array, got shape {a.shape}")
    return a.astype(complex)


def wasserstein(a, b) -> float:
    """1-Wasserstein distance between two eigenvalue sets as points of the complex plane: the mean
    |λ_i − μ_σ(i)| under the optimal matching σ (``scipy.optimize.linear_sum_assignment``).

    Accepts :class:`KoopmanSpectrum` objects or 1-D eigenvalue arrays of the same length.

    >>> wasserstein(np.array([0.5, 1j]), np.array([1j, 0.5 + 0.1j]))
    0.05

    Example
    -------
    >>> lk.koopman.wasserstein(np.array([1.0, 0.5]), np.array([1.0, 0.4]))   # one eigenvalue moved by 0.1
    0.05
    """
    from scipy.optimize import linear_sum_assignment

    x, y = _eigs(a), _eigs(b)
    if len(x) != len(y):
        raise InvalidArgument(
            f"eigenvalue sets have different sizes ({len(x)} vs {len(y)}): compare spectra computed "
            "with the same delays and rank (and enough data for that rank)"
        )
    if not len(x):
        raise InvalidArgument("empty eigenvalue sets")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InvalidArgument("eigenvalues must be finite")
    cost = np.abs(x[:, None] - y[None, :])
    r, c = linear_sum_assignment(cost)
    return float(cost[r, c].mean())


# --------------------------------------------------------------------------------------------------
# the test


def _group(runs, params, name="runs"):
    """A group of runs as recorded trajectories (left lazy) or a list of (T, D) arrays, and its
    number of observables."""
    items = _lazy_items(runs)
    if items is not None:
        return items, _lazy_dim(items, params)
    arrs = _as_list(runs, params, name)
    return arrs, arrs[0].shape[1]


def _test_inputs(runs_a, runs_b, delays, n_resamples, alpha, params):
    """The checked arguments of a two-group test, and the groups (lazy trajectories or arrays) with
    their numbers of observables."""
    delays = _check_delays(delays)
    n_resamples = integer("n_resamples", n_resamples, minimum=1)
    alpha = number("alpha", alpha, minimum=0, strict=True, below=1)
    (a, da), (b, db) = _group(runs_a, params, "runs_a"), _group(runs_b, params, "runs_b")
    for name, g in (("runs_a", a), ("runs_b", b)):
        if len(g) < 2:
            raise InvalidArgument(
                f"{name} holds {len(g)} trajectory: a test needs at least 2 per group (5 or more "
                "for a null worth the name) — record more seeds"
            )
    return delays, n_resamples, alpha, a, b, da, db


def conjugacy_test(
    runs_a,
    runs_b,
    *,
    delays: int = 4,
    rank: int | None = None,
    n_resamples: int = 200,
    seed: int = 0,
    params=None,
    pca: int | None = None,
    keep_mean: bool = False,
    alpha: float = 0.05,
    margin: float = 0.05,
    progress=False,
) -> ConjugacyResult:
    """Are two groups of training runs dynamically equivalent (topologically conjugate)?

    Conjugate dynamics have the same Koopman eigenvalues whatever coordinates each is observed in
    (Redman et al. 2024). The statistic is W, the :func:`wasserstein` distance between the groups'
    spectra, each group's spectrum computed in its own coordinates (its own PCA basis with ``pca``;
    ``keep_mean`` as in :func:`spectrum`).

    Two questions decide the verdict:

    - *Is the difference real?* The null distribution of W is W between two bootstrap resamples
      (trajectories drawn with replacement, the group's size) of one group, in that group's
      coordinates — ``n_resamples`` of each group, pooled; ``p_value`` = (1 + #{null ≥ W}) /
      (1 + len(null)). A change of coordinates cannot create a difference here.
    - *Does it matter?* Finite-dimensional DMD approximates the Koopman spectrum differently in
      different observables, so exactly conjugate systems seen through a nonlinear change of
      coordinates keep a small W (OMD in x vs OGD in u = log x: W = 0.008, detectable at p ≈ 0.02 with
      these 25 deterministic runs). ``margin`` is the smallest W that counts as a difference (0.05:
      eigenvalues on or inside the unit circle moved by 0.05 on average).

    ``verdict`` is "not conjugate" when W > ``margin`` and p < ``alpha``, else "conjugate"; ``reason``
    says which case applies, with the numbers.

    Calibration (``tests/test_koopman.py``: 40 simulated pairs, 8 noisy trajectories of 40 steps per
    group of a 2-D rotation-contraction, the second group in other coordinates, ``delays=1``):
    conjugate pairs give a median p of 0.54, P(p < 0.05) = 0.075, 3 of 40 called "not conjugate";
    eigenvalue moduli 0.95 vs 0.80 give a median p of 0.02, P(p < 0.05) = 0.8, 32 of 40 called "not
    conjugate" (0.95 vs 0.85: median p 0.07, 17 of 40 — eight short noisy runs a group is little data).

    Groups need at least 2 trajectories each (5 or more for a useful null); groups of networks of
    different sizes need ``pca=k``. The pooled-trajectory permutation test of earlier versions is
    :func:`permutation_test` (a different question).

    Example
    -------
    >>> d = lk.examples.omd_ogd()
    >>> lk.koopman.conjugacy_test(d["omd"], d["ogd"], n_resamples=50).verdict      # x and u = log x
    'conjugate'
    >>> lk.koopman.conjugacy_test(d["ogd"], d["bisection"], n_resamples=50).verdict
    'not conjugate'
    """
    delays, n_resamples, alpha, a, b, da, db = _test_inputs(
        runs_a, runs_b, delays, n_resamples, alpha, params
    )
    margin = number("margin", margin, minimum=0)
    if da != db and pca is None:
        raise InvalidArgument(
            f"the groups have different numbers of observables: {da} vs {db} "
            "(e.g. networks of different widths); pass pca=k to project each group on its own k "
            "principal components"
        )
    # each group in its own coordinates
    a = _reduced(a, params, delays, pca, keep_mean=keep_mean)
    b = _reduced(b, params, delays, pca, keep_mean=keep_mean)
    spec_a, spec_b = _dmd(a, delays, rank), _dmd(b, delays, rank)
    observed = wasserstein(spec_a, spec_b)
    rng = np.random.default_rng(seed)

    def within(group, bar):
        out = np.empty(n_resamples)
        n = len(group)
        for i in range(n_resamples):
            one = _dmd([group[j] for j in rng.integers(0, n, n)], delays, rank)
            two = _dmd([group[j] for j in rng.integers(0, n, n)], delays, rank)
            out[i] = wasserstein(one, two)
            if bar is not None:
                bar.update()
        return out

    with Progress(progress, 2 * n_resamples, "resamples") as bar:
        wa, wb = within(a, bar), within(b, bar)
    null = np.concatenate([wa, wb])
    p = (1 + np.count_nonzero(null >= observed - 1e-12)) / (1 + len(null))
    out = ConjugacyResult(distance=observed, p_value=float(p), null=null, within_a=wa, within_b=wb,
                          spectrum_a=spec_a, spectrum_b=spec_b, n_resamples=int(n_resamples),
                          seed=int(seed), method="bootstrap", alpha=float(alpha),
                          margin=float(margin))  # fmt: skip
    return with_params(out, delays=delays, rank=rank, pca=pca, keep_mean=keep_mean, params=params)


def permutation_test(
    runs_a,
    runs_b,
    *,
    delays: int = 4,
    rank: int | None = None,
    n_resamples: int = 200,
    seed: int = 0,
    params=None,
    pca: int | None = None,
    alpha: float = 0.05,
    progress=False,
) -> ConjugacyResult:
    """Are two sets of trajectories, observed in *one* coordinate system, alike in their spectra?

    The null re-splits the pooled trajectories of both groups at random (sizes kept) ``n_resamples``
    times. Unlike :func:`conjugacy_test` this is not invariant to a change of coordinates: two
    conjugate systems observed in different coordinates (OMD in x, OGD in u = log x) come out
    different, because pooling mixes the coordinate systems. Use it for runs of one model whose
    weights are directly comparable (seeds of one architecture, a hyper-parameter change).

    Example
    -------
    >>> d = lk.examples.omd_ogd()
    >>> lk.koopman.permutation_test(d["omd"], d["ogd"], n_resamples=50).p_value < 0.05
    True
    """
    delays, n_resamples, alpha, a, b, da, db = _test_inputs(
        runs_a, runs_b, delays, n_resamples, alpha, params
    )
    if da != db:
        raise InvalidArgument(
            f"the groups have different numbers of observables: {da} vs {db}: "
            "a pooled permutation needs one coordinate system; use conjugacy_test(..., pca=k)"
        )
    lazy = _lazy_items(a) is not None and _lazy_items(b) is not None
    if not lazy:  # one in memory: both in memory
        a = a if _lazy_items(a) is None else _as_list(a, params)
        b = b if _lazy_items(b) is None else _as_list(b, params)
    pooled = _reduced(list(a) + list(b), params, delays, pca)
    na = len(a)
    spec_a, spec_b = _dmd(pooled[:na], delays, rank), _dmd(pooled[na:], delays, rank)
    observed = wasserstein(spec_a, spec_b)
    rng = np.random.default_rng(seed)
    null = np.empty(n_resamples)
    with Progress(progress, n_resamples, "permutations") as bar:
        for i in range(n_resamples):
            perm = rng.permutation(len(pooled))
            sa = _dmd([pooled[j] for j in perm[:na]], delays, rank)
            sb = _dmd([pooled[j] for j in perm[na:]], delays, rank)
            null[i] = wasserstein(sa, sb)
            if bar is not None:
                bar.update()
    p = (1 + np.count_nonzero(null >= observed - 1e-12)) / (1 + n_resamples)

    def halves(group, n_splits=20):
        out = []
        for _ in range(n_splits):
            perm = rng.permutation(len(group))
            h = len(group) // 2
            out.append(wasserstein(_dmd([group[j] for j in perm[:h]], delays, rank),
                                   _dmd([group[j] for j in perm[h:]], delays, rank)))  # fmt: skip
        return np.asarray(out)

    out = ConjugacyResult(distance=observed, p_value=float(p), null=null,
                          within_a=halves(pooled[:na]), within_b=halves(pooled[na:]),
                          spectrum_a=spec_a, spectrum_b=spec_b, n_resamples=int(n_resamples),
                          seed=int(seed), method="permutation", alpha=float(alpha))  # fmt: skip
    return with_params(out, delays=delays, rank=rank, pca=pca, params=params)


def windowed(runs, *, window: int = 100, stride: int = 50, delays: int = 4, rank: int | None = None,
             params=None, pca: int | None = None) -> WindowedSpectra:  # fmt: skip
    """Spectra of consecutive training windows ``[s, s + window)`` (every ``stride`` snapshots) and
    the window × window Wasserstein distance matrix: how the dynamics change over training.

    Example
    -------
    >>> d = lk.examples.omd_ogd()
    >>> win = lk.koopman.windowed(d["ogd"], window=40, stride=20, delays=2)
    >>> win.distances.shape
    (4, 4)
    """
    delays = _check_delays(delays)
    window = integer("window", window, minimum=2)
    stride = integer("stride", stride, minimum=1)
    arrs = _reduced(runs, params, delays, pca)  # windows of exact span coordinates: same spectra
    T = min(len(x) for x in arrs)
    if window > T or window < delays + 2:
        raise InvalidArgument(
            f"window={window} must be in [delays + 2, {T}] (the shortest trajectory has {T} snapshots)"
        )
    if stride < 1:
        raise InvalidArgument(f"stride must be >= 1, got {stride}")
    starts = np.arange(0, T - window + 1, stride)
    spectra = tuple(_dmd([x[s : s + window] for x in arrs], delays, rank) for s in starts)
    n = len(spectra)
    dist = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            dist[i, j] = dist[j, i] = wasserstein(spectra[i], spectra[j])
    return WindowedSpectra(starts, int(window), spectra, dist)


def compare(groups: dict, *, delays: int = 4, rank: int | None = None, n_resamples: int = 100,
            seed: int = 0, **kwargs) -> list[dict]:  # fmt: skip
    """Conjugacy tests for every pair of groups (``label -> trajectories``), as table rows:
    ``groups``, ``W``, ``p``, ``verdict`` and each group's within-group spread (the median of its resample null).

    >>> d = lk.examples.omd_ogd()
    >>> rows = lk.koopman.compare(d, n_resamples=20)
    >>> [r["groups"] for r in rows]
    ['omd vs ogd', 'omd vs bisection', 'ogd vs bisection']
    """
    names = list(groups)
    if len(names) < 2:
        raise InvalidArgument(f"compare needs at least two groups, got {names}")
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            res = conjugacy_test(groups[a], groups[b], delays=delays, rank=rank,
                                 n_resamples=n_resamples, seed=seed, **kwargs)  # fmt: skip
            rows.append({
                "groups": f"{a} vs {b}", "W": res.distance, "p": res.p_value, "verdict": res.verdict,
                f"within {a}": float(np.nanmedian(res.within_a)), f"within {b}": float(np.nanmedian(res.within_b)),
            })  # fmt: skip
    return rows


def uniform_groups(runs, by: str | None = None, every: int | None = None) -> dict:
    """Runs grouped by a config key (``by``; all in one group when None), each run reduced to its
    snapshots every ``every`` steps (``traj.every``) — DMD needs uniform sampling. ``every`` defaults to
    the period of an ``every(k)`` part of the recorded schedule. Returns ``{"by=value": [lazy
    Trajectories]}`` (nothing read yet), what :func:`spectrum`, :func:`compare` and
    ``lk.widgets.SpectrumExplorer`` take.

    Example
    -------
    >>> groups = lk.koopman.uniform_groups(runs, by="width")
    >>> sorted(groups), len(groups["width=8"])
    (['width=32', 'width=8'], 5)
    """
    runs_list = list(runs)
    configs = runs.configs if hasattr(runs, "configs") else [t.config for t in runs_list]
    if every is not None:
        every = integer("every", every, minimum=1)
    if by is not None and not any(by in c for c in configs):
        keys = sorted({k for c in configs for k in c})
        raise InvalidArgument(f"by={by!r} is in no run's config; the configs hold {keys}")
    if every is None:
        every = runs_list[0].schedule_period
        if every is None:
            raise InvalidArgument(
                "DMD needs uniformly spaced snapshots: pass every= or record with every(k)"
            )
    groups: dict = {}
    for t, c in zip(runs_list, configs):
        label = f"{by}={c.get(by)}" if by else "all"
        groups.setdefault(label, []).append(t.every(every) if _is_traj(t) else t)
    return groups
