"""Drawings of the taxonomy: one heatmap per metric over load × temperature, and the phase map.

Example
-------
>>> rows = [dict(load=w, temperature=b, loss=0.05 * b / w, mc=0.0, cka=0.8, test_acc=0.9)
...         for w in (4, 16) for b in (8, 32)]
>>> table = lk.taxonomy.PhaseTable("width", "batch_size", rows, lk.taxonomy.classify(rows),
...                                lk.taxonomy.Thresholds())
>>> fig = lk.plots.plot_phase_map(table)
"""

from __future__ import annotations

import numpy as np

from .style import PALETTE, house_style, new_figure

PHASE_COLOURS = {  # Okabe-Ito; I and II differ in lightness too (vermillion vs yellow)
    "I": PALETTE[3],
    "II": PALETTE[6],
    "III": PALETTE[4],
    "IV-A": PALETTE[5],
    "IV-B": PALETTE[2],
}

_LABELS = {"loss": "train loss", "test_acc": "test accuracy", "lambda_max": "Hessian λ_max",
           "trace": "Hessian trace", "mc": "mode connectivity mc", "cka": "CKA"}  # fmt: skip


def _axes_labels(ax, table, loads, temps):
    ax.set_xticks(range(len(temps)))
    ax.set_xticklabels([str(t) for t in temps])
    ax.set_yticks(range(len(loads)))
    ax.set_yticklabels([str(v) for v in loads])
    ax.set_xlabel(f"temperature: {table.temperature}")
    ax.set_ylabel(f"load: {table.load}")


def plot_phase_diagrams(table, metrics=("loss", "test_acc", "lambda_max", "trace", "mc", "cka")):
    """One heatmap per metric (cells annotated with their values); mc's colour scale is centred on 0
    with the ±ε band of "well connected" marked in the colour bar."""
    fig, axes = new_figure(3, int(np.ceil(len(metrics) / 3)), width=3.9, height=3.4)
    axes = np.atleast_1d(axes).ravel()
    with house_style():
        for ax, metric in zip(axes, metrics):
            loads, temps, vals = table.grid(metric)
            kw = {"cmap": "viridis"}
            if metric == "mc":
                lim = max(np.nanmax(np.abs(vals)), table.thresholds.mc_eps * 2)
                kw = {"cmap": "RdBu", "vmin": -lim, "vmax": lim}
            im = ax.imshow(vals, origin="lower", aspect="auto", **kw)
            cb = fig.colorbar(im, ax=ax, shrink=0.85)
            if metric == "mc":
                for y in (-table.thresholds.mc_eps, table.thresholds.mc_eps):
                    cb.ax.axhline(y, color="black", lw=1)
            norm = im.norm
            for i in range(len(loads)):
                for j in range(len(temps)):
                    if np.isfinite(vals[i, j]):
                        light = (
                            metric == "mc" or norm(vals[i, j]) > 0.55
                        )  # dark text on light cells
                        ax.text(j, i, f"{vals[i, j]:.3g}", ha="center", va="center", fontsize=9,
                                color="black" if light else "white")  # fmt: skip
            _axes_labels(ax, table, loads, temps)
            ax.set_title(_LABELS.get(metric, metric), fontsize=10)
        for ax in axes[len(metrics) :]:
            ax.set_axis_off()
    return fig


def plot_phase_map(table, *, ax=None, title: str | None = None, chosen=None):
    """Each cell coloured by its phase (I, II, III, IV-A, IV-B), labelled, with the thresholds used;
    ``chosen``: a (load, temperature) cell to outline."""
    loads = sorted({r["load"] for r in table.rows})
    temps = sorted({r["temperature"] for r in table.rows})
    if ax is None:
        _, ax = new_figure(width=4.8, height=3.8)
    from matplotlib.patches import Patch, Rectangle

    with house_style():
        for r, phase in zip(table.rows, table.phase):
            i, j = loads.index(r["load"]), temps.index(r["temperature"])
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, color=PHASE_COLOURS[phase], alpha=0.8))
            ax.text(j, i, phase, ha="center", va="center", fontsize=11, fontweight="bold")
        if chosen is not None and chosen[0] in loads and chosen[1] in temps:
            i, j = loads.index(chosen[0]), temps.index(chosen[1])
            ax.add_patch(Rectangle((j - 0.46, i - 0.46), 0.92, 0.92, fill=False, lw=3,
                                   edgecolor="black", zorder=3, gid="chosen"))  # fmt: skip
        ax.set_xlim(-0.5, len(temps) - 0.5)
        ax.set_ylim(-0.5, len(loads) - 0.5)
        _axes_labels(ax, table, loads, temps)
        th = table.thresholds
        ax.legend(handles=[Patch(color=c, label=p) for p, c in PHASE_COLOURS.items()], fontsize=10,
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # fmt: skip
        ax.set_title(
            title
            or f"phases (|mc| ≤ {th.mc_eps:g} connected, loss > {th.loss:g} high, "
            f"CKA ≥ {th.cka:g}: IV-B)",
            fontsize=10,
        )
    return ax.figure


def plot_connectivity(curves, *, ax=None, metric: str = "error", title: str | None = None):
    """Training error (or ``metric="loss"``) along mode-connectivity curves; ``curves`` a dict label ->
    :class:`landkit.similarity.Connectivity` (or one of them). The label shows each curve's mc."""
    if not isinstance(curves, dict):
        curves = {curves.curve: curves}
    if ax is None:
        _, ax = new_figure(width=5.0, height=3.6)
    with house_style():
        for label, c in curves.items():
            ax.plot(c.t, getattr(c, metric), lw=1.8, label=f"{label} (mc = {c.value:+.3f})")
        ax.set_xlabel("t along the curve (0: model A, 1: model B)")
        ax.set_ylabel(f"training {metric}")
        ax.legend(fontsize=10)
        ax.set_title(title or "mode connectivity")
    return ax.figure
