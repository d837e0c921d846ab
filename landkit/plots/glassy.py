"""Drawings of the glassy lens: aging curves, their scaling collapse, and the loss with its regimes.

Example
-------
>>> ag = lk.glassy.two_time(traj)
>>> fig = lk.plots.plot_aging(ag)
>>> fig = lk.plots.plot_collapse(ag)
"""

from __future__ import annotations

import numpy as np

from .style import PALETTE, house_style, new_figure


def _colours(n):
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.0, 0.9, max(n, 1))]


def plot_aging(
    ag, *, ax=None, normalised: bool = False, quantity: str = "msd", title: str | None = None
):
    """Δ(t_w, t_w + t) against the lag t on log-log axes, one curve per waiting time t_w (coloured from
    dark = early to light = late), from the exact recorded pairs. ``normalised=True`` divides by the
    noise scale D(t_w); ``quantity="correlation"`` draws C(t_w, t_w + t) (log-x) instead. Curves that
    lie on top of each other: no aging; curves that shift right with t_w: aging."""
    if ax is None:
        _, ax = new_figure(width=5.2, height=4.0)
    cols = _colours(len(ag.waiting_times))
    with house_style():
        for i, tw in enumerate(ag.waiting_times):
            if quantity == "correlation":
                ok = np.isfinite(ag.correlation[i])
                ax.semilogx(
                    ag.lags[ok], ag.correlation[i][ok], color=cols[i], lw=1.6, label=f"t_w = {tw:g}"
                )
                continue
            lag, m = ag.curve(i)
            if normalised:
                m = m / ag.noise[i] if ag.noise is not None else ag.normalised()[i]
            ok = m > 0
            ax.loglog(lag[ok], m[ok], "o-", color=cols[i], ms=2.5, lw=1.4, label=f"t_w = {tw:g}")
        ax.set_xlabel("lag t (steps)")
        if quantity == "correlation":
            ax.set_ylabel("C(t_w, t_w + t)")
        else:
            ax.set_ylabel(
                "Δ / D(t_w)" if normalised else "Δ(t_w, t_w + t)  (mean square, per weight)"
            )
        ax.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        ax.set_title(
            title
            or ("mean-square displacement" if quantity != "correlation" else "two-time correlation")
        )
    return ax.figure


def plot_collapse(ag, mu: float | None = None, *, ax=None, title: str | None = None):
    """The curves against the rescaled time t / t_w^μ (μ fitted by :func:`landkit.glassy.collapse` when
    not given): a good collapse puts them on one master curve."""
    from ..glassy import collapse

    fit = None
    if mu is None:
        fit = collapse(ag)
        mu = fit.mu
    if ax is None:
        _, ax = new_figure(width=5.2, height=4.0)
    cols = _colours(len(ag.waiting_times))
    with house_style():
        for i, tw in enumerate(ag.waiting_times):
            lag, m = ag.curve(i)
            ok = m > 0
            ax.loglog(
                lag[ok] / tw**mu, m[ok], "o-", color=cols[i], ms=2.5, lw=1.4, label=f"t_w = {tw:g}"
            )
        ax.set_xlabel(f"t / t_w^μ   (μ = {mu:.2f})")
        ax.set_ylabel("Δ(t_w, t_w + t)")
        ax.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        err = f" ± {fit.mu_stderr:.2f}" if fit is not None else ""
        ax.set_title(title or f"scaling collapse, μ = {mu:.2f}{err}")
    return ax.figure


def plot_regimes(ag_or_steps, loss=None, *, ax=None, title: str | None = None,
                 ylabel: str = "training loss", **kw):  # fmt: skip
    """The loss against log t with the regimes shaded: the early plateau, the slow decrease (where aging
    is expected) and the bottom (see :func:`landkit.glassy.regimes`)."""
    from ..glassy import evaluated_loss, regimes

    if loss is None:
        steps, loss = evaluated_loss(ag_or_steps)  # the evaluated snapshots of a dense run
    else:
        steps = ag_or_steps
    steps = np.asarray(steps, dtype=float)
    loss = np.asarray(loss, dtype=float)
    r = regimes(steps, loss, **kw)
    if ax is None:
        _, ax = new_figure(width=5.2, height=3.6)
    with house_style():
        pos = steps > 0
        ax.semilogx(steps[pos], loss[pos], color=PALETTE[0], lw=1.8)
        lo, hi = steps[pos][0], steps[-1]
        ax.axvspan(lo, r["plateau_end"], color=PALETTE[1], alpha=0.15, label="plateau")
        ax.axvspan(
            r["plateau_end"], r["bottom_start"], color=PALETTE[2], alpha=0.12, label="slow decrease"
        )
        ax.axvspan(r["bottom_start"], hi, color=PALETTE[4], alpha=0.15, label="bottom")
        ax.set_xlabel("step t (log)")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=10)
        ax.set_title(title or "loss and its regimes")
    return ax.figure
