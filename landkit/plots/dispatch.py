"""``lk.plots.plot(result)``: one entry point that draws any landkit result with its lens's drawing.

Example
-------
>>> import numpy as np
>>> est = lk.hessian.trace(lk.hessian.MatrixOperator(np.diag([3.0, 1.0])), num_matvecs=8)
>>> fig = lk.plots.plot(est, title="a 2 × 2 trace")
>>> fig.axes[0].get_title()
'a 2 × 2 trace'
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidType
from .style import PALETTE, house_style, new_figure

__all__ = ["plot", "plot_collapse_quality", "plot_eigenpairs", "plot_slice_topology", "plot_trace"]


def plot_eigenpairs(top, *, ax=None, title: str | None = None):
    """Extreme eigenvalues of a curvature operator (:class:`landkit.hessian.HessianEigen`), each with
    its residual ‖Hv − λv‖ as an error bar: a bar wider than the gap to its neighbour is not resolved.

    Example
    -------
    >>> top = lk.hessian.top_eigenvalues(lk.hessian.MatrixOperator(np.diag([3.0, 2.0, 1.0])), k=2)
    >>> fig = lk.plots.plot_eigenpairs(top)
    """
    if ax is None:
        _, ax = new_figure(width=4.6, height=3.2)
    with house_style():
        lam = np.asarray(top.eigenvalues, dtype=float)
        idx = np.arange(1, len(lam) + 1)
        ax.errorbar(idx, lam, yerr=np.asarray(top.residuals, dtype=float), fmt="o", ms=6,
                    color=PALETTE[0], capsize=4)  # fmt: skip
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_xticks(idx)
        ax.set_xlabel(
            "index (largest first)" if top.which == "largest" else "index (smallest first)"
        )
        ax.set_ylabel("eigenvalue λ (bars: residual)")
        state = "converged" if top.converged else "NOT converged"
        ax.set_title(title or f"top eigenvalues: {top.iterations} products, {state}")
    return ax.figure


def plot_trace(est, *, ax=None, title: str | None = None):
    """The per-probe values of a trace estimate (:class:`landkit.hessian.TraceEstimate`), with their
    mean and its ± 2 standard-error band.

    Example
    -------
    >>> est = lk.hessian.trace(lk.hessian.MatrixOperator(np.diag([3.0, 2.0, 1.0])), num_matvecs=20)
    >>> fig = lk.plots.plot_trace(est)
    """
    if ax is None:
        _, ax = new_figure(width=4.6, height=3.2)
    with house_style():
        ax.hist(
            est.samples, bins=min(30, max(5, len(est.samples) // 3)), color=PALETTE[5], alpha=0.8
        )
        ax.axvline(est.estimate, color=PALETTE[3], lw=2, label=f"tr ≈ {est.estimate:.4g}")
        ax.axvspan(est.estimate - 2 * est.stderr, est.estimate + 2 * est.stderr, color=PALETTE[3],
                   alpha=0.15, label=f"± 2 s.e. ({2 * est.stderr:.2g})")  # fmt: skip
        ax.set_xlabel("per-probe value")
        ax.set_ylabel("probes")
        ax.legend(fontsize=10)
        ax.set_title(title or f"trace from {est.num_matvecs} products")
    return ax.figure


def plot_collapse_quality(col, *, ax=None, title: str | None = None):
    """How well Δ collapses onto one curve against t / t_w^μ for each tried μ
    (:class:`landkit.glassy.Collapse`; lower is better), with the chosen μ ± its jackknife error.

    Example
    -------
    >>> fig = lk.plots.plot_collapse_quality(lk.glassy.collapse(lk.glassy.two_time(traj)))
    """
    if ax is None:
        _, ax = new_figure(width=4.6, height=3.2)
    with house_style():
        ax.plot(col.mus, col.qualities, color=PALETTE[0], lw=1.6)
        ax.axvline(
            col.mu, color=PALETTE[3], lw=1.6, label=f"μ = {col.mu:.3g} ± {col.mu_stderr:.2g}"
        )
        ax.axvspan(col.mu - col.mu_stderr, col.mu + col.mu_stderr, color=PALETTE[3], alpha=0.15)
        ax.set_xlabel("μ")
        ax.set_ylabel("spread after rescaling")
        ax.legend(fontsize=10)
        ax.set_title(title or "scaling collapse: the best μ")
    return ax.figure


def plot_slice_topology(st, *, ax=None, title: str | None = None):
    """Minima per random slice at each noise threshold (:class:`landkit.landscape.SliceTopology`):
    one dot per slice, the mean as a bar; raw (threshold 0) beside thresholded counts.

    Example
    -------
    >>> st = lk.landscape.slice_topology(model, task, seeds=(0, 1), resolution=7, n_samples=64)
    >>> fig = lk.plots.plot_slice_topology(st)
    """
    if ax is None:
        _, ax = new_figure(width=4.6, height=3.2)
    with house_style():
        x = np.arange(len(st.thresholds))
        ax.bar(x, st.mean_minima, width=0.6, color=PALETTE[0], alpha=0.35, label="mean over slices")
        for i in range(len(st.seeds)):
            ax.plot(x + 0.12 * (i - (len(st.seeds) - 1) / 2), st.minima[i], "o", ms=5,
                    color=PALETTE[0], label="one slice" if i == 0 else None)  # fmt: skip
        ax.set_xticks(x, [("raw" if t == 0 else f"{t:g} of range") for t in st.thresholds])
        ax.set_xlabel("noise threshold")
        ax.set_ylabel("minima")
        ax.legend(fontsize=10)
        ax.set_title(title or f"minima over {len(st.seeds)} random slices")
    return ax.figure


def _draw(name):
    from . import dynamics, glassy, koopman, landscape, taxonomy, training

    def eigen(r, **kw):
        return koopman.plot_eigenvalues([r], **kw)

    def profile(r, **kw):
        return landscape.plot_surface(r.surface, topo=r.topology, **kw)

    def windowed(r, **kw):
        starts = [str(s) for s in r.starts]
        kw.setdefault("title", f"spectra of {r.window}-step windows")
        return koopman.plot_distance_matrix(r.distances, starts, **kw)

    return {
        "KoopmanSpectrum": eigen,
        "ConjugacyResult": koopman.plot_null,
        "WindowedSpectra": windowed,
        "AgingResult": glassy.plot_aging,
        "Collapse": plot_collapse_quality,
        "Surface": landscape.plot_surface,
        "Line": landscape.plot_line,
        "Persistence": landscape.plot_persistence,
        "Profile": profile,
        "SliceTopology": plot_slice_topology,
        "HessianDensity": landscape.plot_density,
        "HessianEigen": plot_eigenpairs,
        "TraceEstimate": plot_trace,
        "MapperGraph": dynamics.plot_mapper,
        "MorseGraph": dynamics.plot_morse,
        "Connectivity": taxonomy.plot_connectivity,
        "PhaseTable": taxonomy.plot_phase_map,
        "TrainResult": training.plot_history,
    }.get(name)


def plot(result, ax=None, **style):
    """Draw any landkit result with its lens's drawing; returns the matplotlib Figure.

    ``ax`` draws into existing axes; ``style`` goes to the drawing (``title=``, and each drawing's own
    options, e.g. ``style="3d"`` for a :class:`~landkit.landscape.Surface`, ``zoom=True`` for a
    :class:`~landkit.koopman.KoopmanSpectrum`). The dedicated functions (``plot_surface``, ...)
    remain for drawings that combine results.

    Example
    -------
    >>> fig = lk.plots.plot(lk.landscape.plane(model, task, resolution=9, progress=False), style="3d")
    >>> len(fig.axes)
    1
    """
    fn = _draw(type(result).__name__)
    if fn is None:
        raise InvalidType(
            f"lk.plots.plot draws landkit results; got {type(result).__name__}. For arrays or "
            "several results at once use the dedicated plot_* functions"
        )
    return fn(result, ax=ax, **style)
