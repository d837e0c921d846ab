"""The glassy-dynamics lens (Baity-Jesi et al., "Comparing Dynamics: Deep Neural Networks versus Glassy
Systems", ICML 2018): two-time quantities of the weights, aging and diffusion.

Definitions (M weights, w(s) the recorded weights at step s):

- mean-square displacement Δ(t_w, t_w + t) = (1/M) Σ_i (w_i(t_w + t) − w_i(t_w))²;
- two-time correlation C(t_w, t_w + t) = w(t_w)·w(t_w + t) / (‖w(t_w)‖ ‖w(t_w + t)‖), the normalised
  overlap of the weight vectors, and C₀ the same overlap of the displacements from initialisation,
  d(s) = w(s) − w(0);
- noise scale D(t_w) = η(t_w)² · grad_noise(t_w) / M, the variance per weight of one SGD step's noise,
  with grad_noise = tr Σ / B the recorded minibatch gradient-noise estimate (Σ the per-sample gradient
  covariance, B the batch size; ``lk.Recorder(grad_noise=True)``).

Every pair of recorded snapshots (s_i < s_j) is a (t_w, t_w + t) pair; Δ of all pairs comes from one
Gram matrix of the displacements, accumulated in float64 over column blocks of the store (‖a − b‖² =
‖a‖² + ‖b‖² − 2a·b on displacements from w(0), which keeps the cancellation small).

Example
-------
>>> ag = lk.glassy.two_time(traj)
>>> ag.msd.shape == (len(ag.waiting_times), len(ag.lags))
True
>>> mu = lk.glassy.collapse(ag).mu   # Δ(t_w, t_w + t) ≈ F(t / t_w^μ)
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from .errors import InvalidArgument, InvalidType
from .linalg import displacement_gram
from .progress import Progress
from .results import Result
from .validate import integer, memory, number

__all__ = [
    "AgingResult",
    "Collapse",
    "collapse",
    "diffusion_exponent",
    "evaluated_loss",
    "regimes",
    "summary",
    "two_time",
    "verdict",
]


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class AgingResult(Result):
    """Two-time quantities of one run (or the mean of several seeds).

    Attributes
    ----------
    steps : (T,) recorded steps; ``pair_msd`` (T, T) Δ between every two snapshots (symmetric)
    waiting_times : (n_w,) the chosen t_w (recorded steps); ``lags`` (n_l,) a log-spaced lag grid
    msd : (n_w, n_l) Δ(t_w, t_w + lag): log-log interpolation between recorded pairs of that t_w,
        NaN beyond them (``curve(i)`` gives the exact recorded pairs)
    msd_std : spread across seeds (same shape) or None
    correlation, correlation_init : (n_w, n_l) C and C₀ on the same grid
    noise : (n_w,) D(t_w) when the run recorded ``grad_noise`` and ``lr``, else None
    per_layer : dict parameter name -> (n_w, n_l) Δ of that parameter (``per_layer=True``)
    loss : (T,) recorded training loss (or None); ``n_runs``, ``n_params``
    """

    _headline = ("n_runs", "n_params")

    steps: np.ndarray
    pair_msd: np.ndarray
    waiting_times: np.ndarray
    lags: np.ndarray
    msd: np.ndarray
    msd_std: np.ndarray | None
    correlation: np.ndarray
    correlation_init: np.ndarray
    noise: np.ndarray | None
    per_layer: dict
    loss: np.ndarray | None
    n_runs: int
    n_params: int

    def curve(self, i: int):
        """The exact recorded pairs of waiting time ``i``: (lags, Δ)."""
        k = int(np.flatnonzero(self.steps == self.waiting_times[i])[0])
        later = np.arange(k + 1, len(self.steps))
        return self.steps[later] - self.steps[k], self.pair_msd[k, later]

    @property
    def aging_score(self) -> float:
        """How much Δ(t_w, t_w + t) depends on t_w at fixed t: the mean over lags (where at least two
        waiting times are defined) of the standard deviation across t_w of log₁₀ Δ. ≈ 0 for a stationary
        process (up to noise), grows with aging."""
        with np.errstate(invalid="ignore"):
            logm = np.log10(np.where(self.msd > 0, self.msd, np.nan))
        ok = np.sum(np.isfinite(logm), 0) >= 2
        if not ok.any():
            return float("nan")
        return float(np.mean(np.nanstd(logm[:, ok], 0)))

    def normalised(self) -> np.ndarray:
        """Δ / D(t_w) (rows divided by the noise scale at their waiting time)."""
        if self.noise is None:
            raise InvalidArgument(
                "no noise scale recorded: record with lk.Recorder(grad_noise=True) under lk.train"
            )
        return self.msd / self.noise[:, None]


def _as_runs(data, weights):
    if weights is not None:
        steps = np.asarray(data)
        W = np.asarray(weights)
        if W.ndim != 2 or len(steps) != len(W):
            raise InvalidArgument(
                f"weights must be (T, P) with T = len(steps); got {W.shape} and {len(steps)}"
            )
        return [(steps, W, {}, None)]
    runs = data if isinstance(data, (list, tuple)) or hasattr(data, "trajectories") else [data]
    out = []
    for t in runs:
        out.append((np.asarray(t.steps), t.weights, t.scalars, t))
    return out


def _grid(steps, pair, waiting_idx, lags):
    out = np.full((len(waiting_idx), len(lags)), np.nan)
    for r, k in enumerate(waiting_idx):
        later = np.arange(k + 1, len(steps))
        if not len(later):
            continue
        x = np.log(steps[later] - steps[k])
        y = pair[k, later]
        inside = (np.log(lags) >= x[0] - 1e-12) & (np.log(lags) <= x[-1] + 1e-12)
        if not inside.any():
            continue
        if np.all(y > 0):
            out[r, inside] = np.exp(np.interp(np.log(lags[inside]), x, np.log(y)))
        else:
            out[r, inside] = np.interp(np.log(lags[inside]), x, y)
    return out


def two_time(runs, weights=None, *, waiting_times=None, lags=None, per_layer: bool = False,
             n_waiting: int = 6, max_memory: float = 4 * 2**30, progress=False) -> AgingResult:  # fmt: skip
    """Two-time mean-square displacement and correlations of a run, several seeds, or arrays.

    ``runs``: a Trajectory, a list/RunSet of them (seeds: averaged, with spread), or ``steps`` (T,) with
    ``weights`` (T, P). ``waiting_times``: recorded steps to use as t_w (default: ``n_waiting``
    log-spaced recorded steps ≥ 1 leaving room for later snapshots); ``lags``: the lag grid (default:
    40 log-spaced values over the recorded range). ``per_layer=True`` adds Δ per recorded parameter.
    ``progress``: True for a bar, or a callable ``(done, total)`` in thousandths of the work (raise
    :class:`landkit.Cancelled` from it to stop).

    Errors: fewer than 4 snapshots, non-finite weights, runs with different steps, or waiting times that
    are not recorded steps (or with no later snapshot).

    Example
    -------
    >>> steps = np.arange(200)
    >>> walk = np.cumsum(np.random.default_rng(0).standard_normal((200, 50)), 0)   # a random walk
    >>> ag = lk.glassy.two_time(steps, walk)
    >>> ag.msd.shape == (len(ag.waiting_times), len(ag.lags))
    True
    """
    n_waiting = integer("n_waiting", n_waiting, minimum=1)
    max_memory = memory("max_memory", max_memory)
    runs = _as_runs(runs, weights)
    if not runs:
        raise InvalidArgument("runs is empty: give at least one recorded run")
    sizes = sorted({int(W.shape[1]) for _, W, _, _ in runs})
    if len(sizes) > 1:
        raise InvalidArgument(
            f"runs hold models of different sizes ({sizes} parameters): the two-time quantities of "
            "seeds are averaged, so every run must be the same architecture"
        )
    steps = runs[0][0]
    for other, *_ in runs[1:]:
        if not np.array_equal(other, steps):
            raise InvalidArgument(
                "the runs were recorded at different steps: record seeds on one schedule"
            )
    T = len(steps)
    if T < 4:
        raise InvalidArgument(f"need at least 4 snapshots for two-time quantities, got {T}")
    if np.any(np.diff(steps) <= 0):
        raise InvalidArgument("steps must increase")
    positive = np.flatnonzero(steps >= 1)[:-3]  # each waiting time keeps at least 3 later snapshots
    if waiting_times is None:
        if len(positive) < 2:
            raise InvalidArgument("need at least two recorded steps >= 1 before the last three")
        # up to a tenth of the run, so that every t_w has a decade of lags after it
        room = positive[steps[positive] <= max(steps[-1] / 10, steps[positive[1]])]
        positive = room if len(room) >= 2 else positive[:2]
        targets = np.geomspace(
            steps[positive[0]], steps[positive[-1]], min(n_waiting, len(positive))
        )
        waiting_idx = np.unique([positive[np.argmin(np.abs(np.log(steps[positive]) - np.log(t)))]
                                 for t in targets])  # fmt: skip
    else:
        waiting_idx = []
        for tw in np.atleast_1d(waiting_times):
            hit = np.flatnonzero(steps == tw)
            if not len(hit):
                raise InvalidArgument(
                    f"waiting_times: {tw} is not a recorded step (a linear schedule too coarse for it?); "
                    f"recorded steps near it: {steps[np.argsort(np.abs(steps - tw))[:3]].tolist()}"
                )
            if hit[0] == T - 1:
                raise InvalidArgument(
                    f"waiting_times: {tw} is the last snapshot: no later time to compare"
                )
            waiting_idx.append(int(hit[0]))
        waiting_idx = np.array(waiting_idx)
    if lags is None:
        lo = max(1, np.min(np.diff(steps)))
        lags = np.unique(np.geomspace(lo, steps[-1] - steps[waiting_idx[0]], 40).round(6))
    try:
        lags = np.atleast_1d(np.asarray(lags, dtype=float))
    except (TypeError, ValueError) as e:
        raise InvalidType(f"lags must be a list of step lags (numbers > 0), got {lags!r}") from e
    if not len(lags) or not (np.isfinite(lags) & (lags > 0)).all():
        raise InvalidArgument(f"lags must be finite step lags > 0, got {lags.tolist()[:5]}")
    msds, cors, cor0s, layers, noises, losses = [], [], [], [], [], []
    # progress in thousandths of the work: each run's Gram matrix, column block by column block
    tracker = Progress(progress, 1000 * len(runs), "two-time", unit="‰")
    done = [0.0]

    def tick(fraction):
        done[0] += 1000 * fraction
        step = int(done[0]) - tracker.done
        if step > 0:
            tracker.update(step)

    with tracker:  # closed however the loop ends
        for _, W, scalars, traj in runs:
            w0 = np.asarray(W[0], dtype=np.float64)
            if not np.isfinite(w0).all():
                raise InvalidArgument("the weights contain NaN or inf (a diverged run?)")
            G, w0d = displacement_gram(W, w0, max_memory, tick)
            if not np.isfinite(G).all():
                raise InvalidArgument("the weights contain NaN or inf (a diverged run?)")
            P = W.shape[1]
            n = np.diag(G)
            pair = np.maximum(n[:, None] + n[None] - 2 * G, 0) / P
            msds.append(pair)
            raw = float(w0 @ w0) + w0d[:, None] + w0d[None] + G
            norm_raw = np.sqrt(np.maximum(np.diag(raw), 1e-300))
            cors.append(raw / norm_raw[:, None] / norm_raw[None])
            cor0s.append(
                G / np.sqrt(np.maximum(n, 1e-300))[:, None] / np.sqrt(np.maximum(n, 1e-300))[None]
            )
            if per_layer and traj is not None and traj.params:
                per = {}
                for p in traj.params:
                    Wl = np.asarray(traj.weights[:, p.slice], dtype=np.float64)
                    d = Wl - Wl[0]
                    g = d @ d.T
                    nl = np.diag(g)
                    per[p.name] = np.maximum(nl[:, None] + nl[None] - 2 * g, 0) / Wl.shape[1]
                layers.append(per)
            if "grad_noise" in scalars and "lr" in scalars:
                noises.append(np.asarray(scalars["lr"])[waiting_idx] ** 2
                              * np.asarray(scalars["grad_noise"])[waiting_idx] / P)  # fmt: skip
            if "loss" in scalars:
                losses.append(np.asarray(scalars["loss"]))
    pair = np.mean(msds, 0)
    grids = np.stack([_grid(steps, m, waiting_idx, lags) for m in msds])
    with warnings.catch_warnings():  # lags beyond a waiting time's last pair are NaN in every seed
        warnings.simplefilter("ignore", RuntimeWarning)
        msd = np.nanmean(grids, 0) if len(grids) > 1 else grids[0]
        msd_std = np.nanstd(grids, 0) if len(grids) > 1 else None
    per_layer_out = {}
    if layers:
        for name in layers[0]:
            per_layer_out[name] = np.mean(
                [_grid(steps, lay[name], waiting_idx, lags) for lay in layers], 0
            )
    return AgingResult(
        steps=steps, pair_msd=pair, waiting_times=steps[waiting_idx], lags=lags, msd=msd,
        msd_std=msd_std, correlation=_grid(steps, np.mean(cors, 0), waiting_idx, lags),
        correlation_init=_grid(steps, np.mean(cor0s, 0), waiting_idx, lags),
        noise=np.mean(noises, 0) if len(noises) == len(runs) and noises else None,
        per_layer=per_layer_out, loss=np.mean(losses, 0) if losses else None,
        n_runs=len(runs), n_params=int(runs[0][1].shape[1]),
    )  # fmt: skip


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Collapse(Result):
    """Scaling collapse Δ = F(t / t_w^μ): ``mu`` with its jackknife ``mu_stderr`` (over waiting times),
    ``quality`` the remaining spread (mean within-bin variance of log₁₀ Δ after rescaling; 0 = perfect),
    and the curve of quality against the tried μ values (``mus``, ``qualities``)."""

    _headline = ("mu", "mu_stderr", "quality")

    mu: float
    mu_stderr: float
    quality: float
    mus: np.ndarray
    qualities: np.ndarray


def _collapse_quality(curves, mu, n_bins=20):
    xs = np.concatenate([np.log10(lag) - mu * np.log10(tw) for tw, lag, _ in curves])
    ys = np.concatenate([np.log10(m) for _, _, m in curves])
    ids = np.concatenate([np.full(len(lag), i) for i, (_, lag, _) in enumerate(curves)])
    edges = np.linspace(xs.min(), xs.max(), n_bins + 1)
    b = np.clip(np.digitize(xs, edges) - 1, 0, n_bins - 1)
    total, weight = 0.0, 0
    for k in range(n_bins):
        sel = b == k
        if len(np.unique(ids[sel])) >= 2:
            total += np.var(ys[sel]) * sel.sum()
            weight += sel.sum()
    return total / weight if weight else np.inf


def collapse(ag: AgingResult, mus=None) -> Collapse:
    """Fit the exponent μ of the scaling Δ(t_w, t_w + t) = F(t / t_w^μ) over the recorded pairs of every
    waiting time: μ ≈ 1 simple aging, 0 < μ < 1 subaging, μ ≈ 0 stationary (no t_w dependence). μ
    minimises the spread of log Δ among curves in bins of the rescaled time (only bins where at least
    two waiting times overlap count).

    Example
    -------
    >>> ag = lk.glassy.two_time(traj)
    >>> col = lk.glassy.collapse(ag)
    >>> bool(col.mus.min() <= col.mu <= col.mus.max())
    True
    """
    if mus is not None:
        try:
            mus = np.atleast_1d(np.asarray(mus, dtype=float))
        except (TypeError, ValueError) as e:
            raise InvalidType(f"mus must be a list of exponents to try, got {mus!r}") from e
        if len(mus) < 2 or not np.isfinite(mus).all():
            raise InvalidArgument(
                f"mus must be at least two finite exponents, got {mus.tolist()[:5]}"
            )
    mus = np.linspace(-0.5, 2.0, 251) if mus is None else mus
    curves = []
    for i, tw in enumerate(ag.waiting_times):
        lag, m = ag.curve(i)
        ok = (m > 0) & np.isfinite(m)
        if ok.sum() >= 2:
            curves.append((tw, lag[ok], m[ok]))
    if len(curves) < 3:
        raise InvalidArgument(
            f"a collapse needs at least 3 waiting times with data, got {len(curves)}"
        )
    q = np.array([_collapse_quality(curves, mu) for mu in mus])
    best = int(np.argmin(q))
    jack = []
    for leave in range(len(curves)):
        sub = curves[:leave] + curves[leave + 1 :]
        jack.append(mus[int(np.argmin([_collapse_quality(sub, mu) for mu in mus]))])
    jack = np.array(jack)
    n = len(jack)
    stderr = float(np.sqrt((n - 1) / n * np.sum((jack - jack.mean()) ** 2)))
    return Collapse(float(mus[best]), stderr, float(q[best]), mus, q)


def diffusion_exponent(ag: AgingResult, *, late: bool = True, min_lag: float | None = None):
    """The exponent α of Δ ∝ t^α: a least-squares line of log Δ against log t over the recorded pairs
    of the latest (``late=True``) or earliest waiting time, lags ≥ ``min_lag``. Returns (α, stderr).

    Example
    -------
    >>> steps = np.arange(400)
    >>> walk = np.cumsum(np.random.default_rng(0).standard_normal((400, 200)), 0)
    >>> a = lk.glassy.diffusion_exponent(lk.glassy.two_time(steps, walk))
    >>> 0.8 < float(np.ravel(a)[0]) < 1.2   # a random walk diffuses: Δ ∝ t
    True
    """
    i = len(ag.waiting_times) - 1 if late else 0
    lag, m = ag.curve(i)
    if min_lag is not None:
        min_lag = number("min_lag", min_lag, minimum=0)
    ok = (m > 0) & (lag >= (min_lag or 0))
    if ok.sum() < 3:
        raise InvalidArgument("fewer than 3 recorded pairs to fit a diffusion exponent")
    x, y = np.log(lag[ok]), np.log(m[ok])
    A = np.vstack([x, np.ones_like(x)]).T
    coef, res, *_ = np.linalg.lstsq(A, y, rcond=None)
    dof = max(len(x) - 2, 1)
    s2 = float(res[0]) / dof if len(res) else 0.0
    stderr = float(np.sqrt(s2 / np.sum((x - x.mean()) ** 2)))
    return float(coef[0]), stderr


def regimes(steps, loss, *, plateau: float = 0.05, bottom: float = 0.05) -> dict:
    """Where the loss curve changes regime (the paper's early plateau / slow decrease / bottom), from the
    loss against log t: the plateau ends when the loss has fallen ``plateau`` of its total drop; the
    bottom starts when it is within ``bottom`` of that drop from its final value. Returns the two steps.

    Example
    -------
    >>> steps = np.arange(100)
    >>> r = lk.glassy.regimes(steps, np.exp(-steps / 10.0))
    >>> sorted(r)[:2]
    ['bottom_start', 'plateau_end']
    """
    plateau = number("plateau", plateau, minimum=0, maximum=1, strict=True)
    bottom = number("bottom", bottom, minimum=0, maximum=1, strict=True)
    steps = np.asarray(steps, dtype=float)
    loss = np.asarray(loss, dtype=float)
    if loss.ndim != 1 or loss.shape != steps.shape or not len(loss):
        raise InvalidArgument(
            f"loss must be one value per step: {loss.shape} values for {steps.shape} steps"
        )
    if not np.isfinite(loss).all():
        raise InvalidArgument("loss holds NaN or inf (a diverged run?): no regimes to find")
    drop = loss[0] - loss.min()
    if not np.isfinite(drop) or drop <= 0:
        return {"plateau_end": float(steps[0]), "bottom_start": float(steps[-1])}
    fallen = loss[0] - loss
    end = steps[np.argmax(fallen >= plateau * drop)]
    near = loss - loss.min() <= bottom * drop
    start = steps[np.argmax(near)]
    return {"plateau_end": float(end), "bottom_start": float(start)}


def evaluated_loss(ag: AgingResult) -> tuple[np.ndarray, np.ndarray]:
    """(steps, loss) at the snapshots where the training loss was evaluated: a densely recorded run
    is evaluated at some snapshots only (``lk.Recorder(evaluate="auto")``), NaN at the others.

    Example
    -------
    >>> steps = np.arange(50)
    >>> ag = lk.glassy.two_time(steps, np.cumsum(np.random.default_rng(0).standard_normal((50, 8)), 0))
    >>> ag.loss is None                  # arrays carry no loss; recorded runs do
    True
    """
    if ag.loss is None:
        raise InvalidArgument("this result has no recorded loss")
    ok = ~np.isnan(ag.loss)
    return np.asarray(ag.steps)[ok], np.asarray(ag.loss)[ok]


def summary(ag: AgingResult) -> dict:
    """The lens's numbers in one dict: aging score, collapse μ ± stderr, late diffusion exponent α ±
    stderr (NaN where a fit is impossible), and the loss regimes when a loss was recorded.

    Example
    -------
    >>> s = lk.glassy.summary(lk.glassy.two_time(traj))
    >>> "aging_score" in s
    True
    """
    out = {"aging_score": ag.aging_score}
    try:
        c = collapse(ag)
        out.update(mu=c.mu, mu_stderr=c.mu_stderr, collapse_quality=c.quality)
    except ValueError:
        out.update(mu=float("nan"), mu_stderr=float("nan"), collapse_quality=float("nan"))
    try:
        out["alpha"], out["alpha_stderr"] = diffusion_exponent(ag)
    except ValueError:
        out["alpha"] = out["alpha_stderr"] = float("nan")
    if ag.loss is not None:
        steps, loss = evaluated_loss(ag)
        if len(loss) >= 2:
            out.update(regimes(steps, loss))
            out["final_loss"] = float(loss[-1])
    return out


def verdict(ag) -> str:
    """What the numbers of :func:`summary` say, in words: aging (μ − 2 stderr > 0.5), stationary
    (μ + 2 stderr < 0.2) or in between; and whether the late Δ diffuses (|α − 1| ≤ 0.25), has stopped
    growing (α < 0.3) or grows as t^α. Takes an :class:`AgingResult` or its summary dict.

    Example
    -------
    >>> steps = np.arange(2000)
    >>> walk = np.cumsum(np.random.default_rng(0).standard_normal((2000, 50)), 0)   # Brownian motion
    >>> lk.glassy.verdict(lk.glassy.two_time(steps, walk))[:10]
    'stationary'
    """
    s = summary(ag) if isinstance(ag, AgingResult) else ag
    if not isinstance(s, dict) or "mu" not in s or "alpha" not in s:
        raise InvalidType("verdict needs an AgingResult or the dict lk.glassy.summary returns")
    mu, se, alpha, a_se = s["mu"], s["mu_stderr"], s["alpha"], s["alpha_stderr"]
    if not np.isfinite(mu):
        parts = ["aging not measurable (fewer than 3 waiting times with data)"]
    elif mu - 2 * se > 0.5:
        parts = [f"ages: the curves shift to later times as t_w grows (μ = {mu:.2f} ± {se:.2f})"]
    elif mu + 2 * se < 0.2:
        parts = [f"stationary: the curves do not depend on t_w (μ = {mu:.2f} ± {se:.2f})"]
    else:
        parts = [f"weak aging at most (μ = {mu:.2f} ± {se:.2f})"]
    if not np.isfinite(alpha):
        parts.append("late exponent not measurable")
    elif abs(alpha - 1) <= 0.25:
        parts.append(f"late Δ grows like t: diffusion (α = {alpha:.2f} ± {a_se:.2f})")
    elif alpha < 0.3:
        parts.append(f"late Δ has stopped growing: stuck (α = {alpha:.2f} ± {a_se:.2f})")
    else:
        parts.append(f"late Δ ∝ t^α with α = {alpha:.2f} ± {a_se:.2f}")
    return "; ".join(parts)
