"""Drawings of the landscape lens: surfaces (contour and 3-D) with the projected path, lines between
models, persistence diagrams and barcodes, merge trees, and the Hessian's spectral density.

Example
-------
>>> surf = lk.landscape.plane(model, task, resolution=11, progress=False)
>>> topo = lk.topology.persistence(surf, threshold=0.01)
>>> fig = lk.plots.plot_surface(surf, topo=topo)
>>> fig = lk.plots.plot_merge_tree(topo)
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument
from ..validate import choice
from .style import PALETTE, house_style, new_figure

_DIRECTION_NAMES = {
    "filter": ("filter-normalised random directions", "random dir."),
    "layer": ("layer-normalised random directions", "random dir."),
    "none": ("random directions", "random dir."),
    "pca": ("the trajectory's principal directions", "trajectory PC"),
    "hessian": ("top Hessian eigenvectors", "Hessian eigvec."),
    "given": ("given directions", "direction"),
}


def _use_log(values) -> bool:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(len(v)) and v.min() > 0 and v.max() / v.min() > 30


def _axis_labels(ax, surf):
    short = _DIRECTION_NAMES.get(surf.method, ("", "direction"))[1]
    ax.set_xlabel(f"α  ({short} 1)")
    ax.set_ylabel(f"β  ({short} 2)")


def _draw_path(ax, surf, z=None):
    if surf.path is None:
        return
    p = np.asarray(surf.path)
    kw = {"color": PALETTE[3], "lw": 1.6, "marker": "o", "ms": 2.5, "label": "training path"}
    if z is None:
        ax.plot(p[:, 0], p[:, 1], **kw)
        ax.plot(*p[0], marker="s", color=PALETTE[3], ms=7, ls="none", label="start")
        ax.plot(*p[-1], marker="*", color="white", mec="black", ms=12, ls="none", label="end")
    else:
        ax.plot(p[:, 0], p[:, 1], z, **kw)


def surface_limits(surfaces, metric: str = "loss") -> tuple[float, float]:
    """(lowest, highest) finite value over several surfaces: pass it as ``limits=`` to every panel
    that is meant to be compared, so that one colour means one loss in all of them.

    Example
    -------
    >>> surf = lk.landscape.plane(model, task, resolution=5, progress=False)
    >>> lo, hi = lk.plots.surface_limits([surf, surf])
    >>> bool(lo == surf.loss.min() and hi == surf.loss.max())
    True
    """
    vals = np.concatenate([np.ravel(np.asarray(getattr(s, metric), dtype=float)) for s in surfaces])
    vals = vals[np.isfinite(vals)]
    if not len(vals):
        raise InvalidArgument(f"no finite {metric} in these surfaces")
    return float(vals.min()), float(vals.max())


def plot_surface(surf, *, ax=None, style: str = "contour", log: bool | None = None, levels: int = 30,
                 topo=None, metric: str = "loss", title: str | None = None, limits=None):  # fmt: skip
    """A 2-D slice as filled contours (``style="contour"``) or a 3-D surface (``style="3d"``).

    The training path (PCA planes) is drawn over it, start as a square and end as a star; the centre
    model is a cross. ``topo`` (a :class:`landkit.topology.Persistence` of this surface) marks its
    significant minima (triangles) and saddles (x). ``log`` colours on a log scale (default: when the
    loss spans more than 30×); the colour bar still reads in loss units. ``limits=(low, high)``: the
    colour scale's range (values beyond get the end colours), the same for panels meant for comparison
    (:func:`surface_limits`). ``metric="accuracy"`` draws the accuracy instead.
    """
    choice("style", style, ("contour", "3d"))
    Z = np.asarray(surf.loss if metric == "loss" else surf.accuracy, dtype=float)
    if Z is None or Z.ndim != 2:
        raise InvalidArgument(f"the surface has no 2-D {metric} to draw")
    if limits is not None:
        lo_lim, hi_lim = (float(v) for v in limits)
        if not (np.isfinite(lo_lim) and np.isfinite(hi_lim) and lo_lim < hi_lim):
            raise InvalidArgument(f"limits must be (low, high) with low < high, got {limits!r}")
    log = _use_log(Z if limits is None else [lo_lim, hi_lim]) if log is None else log
    if log and limits is not None and lo_lim <= 0:
        raise InvalidArgument(f"a log colour scale needs positive limits, got {limits!r}")
    label = (
        f"{'train ' if 'test' not in surf.data else 'test '}{metric}{' (log scale)' if log else ''}"
    )
    shown = np.log10(np.clip(Z, 1e-12, None)) if log else Z
    if limits is not None:
        lo_s, hi_s = (np.log10(lo_lim), np.log10(hi_lim)) if log else (lo_lim, hi_lim)
        levels = np.linspace(lo_s, hi_s, int(levels) + 1)
    A, B = np.meshgrid(surf.alpha, surf.beta, indexing="ij")
    with house_style():
        if style == "3d":
            if ax is None:
                fig, _ = new_figure(width=5.6, height=4.6)
                fig.clear()
                ax = fig.add_subplot(projection="3d")
            ax.plot_surface(A, B, shown, cmap="viridis", linewidth=0, antialiased=True, alpha=0.95)
            if surf.path is not None:
                from scipy.interpolate import RegularGridInterpolator

                interp = RegularGridInterpolator((surf.alpha, surf.beta), shown, bounds_error=False,
                                                 fill_value=None)  # fmt: skip
                _draw_path(ax, surf, interp(np.asarray(surf.path)) + 0.01 * np.ptp(shown))
            ax.set_zlabel(label)
            _axis_labels(ax, surf)
        else:
            if ax is None:
                _, ax = new_figure(width=5.2, height=4.4)
            cs = ax.contourf(A, B, shown, levels=levels, cmap="viridis",
                             extend="both" if limits is not None else "neither")  # fmt: skip
            ax.contour(A, B, shown, levels=levels, colors="white", linewidths=0.3, alpha=0.5)
            bar = ax.figure.colorbar(cs, ax=ax, label=label, shrink=0.82)
            if log:  # ticks at round losses, labelled in loss units (not log₁₀ of it)
                _loss_ticks(bar, float(np.min(cs.levels)), float(np.max(cs.levels)))
            ax.plot(0, 0, marker="P", color="white", mec="black", ms=10, ls="none", label="model")
            _draw_path(ax, surf)
            if topo is not None:
                shape = Z.shape
                mins = [np.unravel_index(i, shape) for i in topo.minima]
                sads = [np.unravel_index(m["saddle"], shape) for m in topo.merge_tree]
                edge = [(i, j) for i, j in mins if i in (0, shape[0] - 1) or j in (0, shape[1] - 1)]
                inner = [m for m in mins if m not in edge]
                if inner:
                    ax.plot([surf.alpha[i] for i, _ in inner], [surf.beta[j] for _, j in inner], "^",
                            color=PALETTE[1], mec="black", ms=8, ls="none",
                            label=f"minima ({len(inner)})")  # fmt: skip
                if edge:  # hollow: the slice ends there, the basin may not
                    ax.plot([surf.alpha[i] for i, _ in edge], [surf.beta[j] for _, j in edge], "^",
                            color="none", mec="black", mew=1.5, ms=9, ls="none", clip_on=False,
                            label=f"minima at the edge ({len(edge)})")  # fmt: skip
                if sads:
                    ax.plot([surf.alpha[i] for i, _ in sads], [surf.beta[j] for _, j in sads], "X",
                            color=PALETTE[4], mec="black", ms=8, ls="none",
                            label=f"saddles ({topo.n_saddles})")  # fmt: skip
            ax.set_aspect("equal")
            _axis_labels(ax, surf)
            ax.legend(fontsize=10, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3,
                      frameon=False)  # fmt: skip
        long = _DIRECTION_NAMES.get(surf.method, ("directions",))[0]
        ax.set_title(title or f"{metric} around the model\nalong {long}", fontsize=11)
    return ax.figure


def _loss_ticks(bar, lo: float, hi: float) -> None:
    """Colour-bar ticks at 1, 2, 5 × 10^k within [lo, hi] (log₁₀ units), labelled as losses."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    ticks = [np.log10(m * 10.0**k) for k in range(int(np.floor(lo)) - 1, int(np.ceil(hi)) + 1)
             for m in (1, 2, 5)]  # fmt: skip
    ticks = [t for t in ticks if lo - 1e-9 <= t <= hi + 1e-9]
    if len(ticks) > 7:  # a wide range: decades only
        ticks = [t for t in ticks if abs(t - round(t)) < 1e-9]
    if len(ticks) < 2:
        ticks = list(np.linspace(lo, hi, 4))
    bar.ax.yaxis.set_major_locator(FixedLocator(ticks))
    bar.ax.yaxis.set_minor_locator(FixedLocator([]))
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{10**v:.3g}"))


def plot_line(lines, labels=None, *, ax=None, metric: str = "loss", title: str | None = None):
    """Loss (or accuracy) along one or more :class:`landkit.landscape.Line` interpolations."""
    lines = lines if isinstance(lines, (list, tuple)) else [lines]
    labels = labels or [None] * len(lines)
    if ax is None:
        _, ax = new_figure()
    with house_style():
        for ln, lab in zip(lines, labels):
            ax.plot(ln.t, ln.loss if metric == "loss" else ln.accuracy, lw=1.8, label=lab)
        for t in (0, 1):
            ax.axvline(t, color="0.7", lw=0.8, ls="--")
        ax.set_xlabel("t  (0: model A, 1: model B)")
        ax.set_ylabel(metric)
        if any(lab for lab in labels):
            ax.legend()
        ax.set_title(title or f"{metric} along the straight line between two models")
    return ax.figure


def plot_persistence(topo, *, ax=None, style: str = "diagram", title: str | None = None):
    """H0 persistence as a diagram (birth vs death, ``style="diagram"``) or a barcode (``"barcode"``).

    Pairs below the noise threshold are grey; the band they fall in is shaded; the global minimum
    (the essential class, never dies) is drawn at the top edge.
    """
    choice("style", style, ("diagram", "barcode"))
    pairs = np.asarray(topo.all_pairs, dtype=float).reshape(-1, 2)
    sig = np.asarray(topo.diagram, dtype=float).reshape(-1, 2)
    cut = topo.absolute_threshold
    if ax is None:
        _, ax = new_figure(width=4.4, height=4.0)
    with house_style():
        noise = pairs[(pairs[:, 1] - pairs[:, 0]) <= cut] if len(pairs) else pairs
        if style == "diagram":
            lo = (
                topo.minimum_values[0]
                if topo.minimum_values
                else (pairs.min() if len(pairs) else 0)
            )
            hi = (
                topo.max_value
                if np.isfinite(topo.max_value)
                else (pairs.max() if len(pairs) else 1)
            )
            pad = 0.05 * (hi - lo or 1.0)
            d = np.array([lo - pad, hi + pad])
            ax.plot(d, d, color="0.5", lw=1)
            ax.fill_between(
                d, d, d + cut, color="0.9", label=f"noise (< {topo.threshold:g} of range)"
            )
            if len(noise):
                ax.scatter(noise[:, 0], noise[:, 1], s=12, color="0.6", label="noise pairs")
            ax.scatter(sig[:, 0], sig[:, 1], s=40, color=PALETTE[0], edgecolor="black",
                       label=f"significant ({len(sig)})", zorder=3)  # fmt: skip
            ax.scatter([lo], [hi], marker="^", s=70, color=PALETTE[1], edgecolor="black", zorder=3,
                       label="global minimum (never dies)")  # fmt: skip
            if not len(sig):
                ax.text(0.5, 0.62, "a single basin:\nno significant pair", ha="center",
                        transform=ax.transAxes, color="0.3")  # fmt: skip
            ax.set_xlim(*d)
            ax.set_ylim(*d)
            ax.set_xlabel("birth (loss at the minimum)")
            ax.set_ylabel("death (loss at the merging saddle)")
            ax.legend(fontsize=10, loc="lower right")
        else:
            order = np.argsort(-(sig[:, 1] - sig[:, 0])) if len(sig) else []
            for row, i in enumerate(order):
                ax.plot(sig[i], [row, row], color=PALETTE[0], lw=4, solid_capstyle="butt")
            ax.set_yticks(range(len(order)))
            ax.set_yticklabels([f"min {k + 2}" for k in range(len(order))])
            ax.set_xlabel("loss (bar: from the minimum to its merge)")
            if not len(order):
                ax.text(0.5, 0.5, "one basin: no finite significant bar", ha="center",
                        transform=ax.transAxes)  # fmt: skip
        ax.set_title(title or f"H0 persistence — {topo.counts}")
    return ax.figure


def plot_merge_tree(topo, *, ax=None, title: str | None = None):
    """The merge tree: each significant minimum a leaf at its loss, joined to the basin it merges into
    at the saddle's loss. Leaves are ordered so that no branches cross."""
    if ax is None:
        _, ax = new_figure(width=4.6, height=3.8)
    values = dict(zip(topo.minima, topo.minimum_values))
    top = topo.max_value
    with house_style():
        leaves = {m: [m] for m in topo.minima}
        height = {m: values.get(m, 0.0) for m in topo.minima}
        for mg in sorted(topo.merge_tree, key=lambda m: m["value"]):
            p, c = mg["parent_min"], mg["child_min"]
            leaves[p] = leaves[p] + leaves.pop(c)
        order = next(iter(leaves.values())) if leaves else []
        xpos = {m: i for i, m in enumerate(order)}
        cluster_x = dict(xpos)
        for mg in sorted(topo.merge_tree, key=lambda m: m["value"]):
            p, c, s = mg["parent_min"], mg["child_min"], mg["value"]
            for node in (p, c):
                ax.plot([cluster_x[node]] * 2, [height[node], s], color=PALETTE[0], lw=1.8)
            ax.plot([cluster_x[p], cluster_x[c]], [s, s], color=PALETTE[0], lw=1.8)
            ax.plot(
                np.mean([cluster_x[p], cluster_x[c]]), s, "X", color=PALETTE[4], mec="black", ms=8
            )
            cluster_x[p] = (cluster_x[p] + cluster_x[c]) / 2
            height[p] = s
        for r in leaves:  # the surviving basin rises to the top of the surface
            ax.plot([cluster_x[r]] * 2, [height[r], top], color=PALETTE[0], lw=1.8)
        ax.plot([xpos[m] for m in order], [values.get(m, 0.0) for m in order], "^",
                color=PALETTE[1], mec="black", ms=9, ls="none")  # fmt: skip
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels([f"{values.get(m, 0.0):.3g}" for m in order], fontsize=9)
        ax.set_xlabel("minima (labelled by their loss)")
        ax.set_ylabel("loss")
        ax.set_xlim(-0.6, max(len(order) - 0.4, 0.6))
        ax.set_title(title or f"merge tree — {topo.n_minima} basins")
    return ax.figure


def plot_density(dens, *, ax=None, log: bool = True, label: str | None = None, top=None,
                 title: str | None = None):  # fmt: skip
    """The Hessian's spectral density (stochastic Lanczos quadrature), log-scaled by default so that
    the outliers stay visible next to the bulk near zero; ``top`` (a HessianEigen) marks λ_max."""
    if ax is None:
        _, ax = new_figure(width=5.0, height=3.4)
    with house_style():
        y = np.asarray(dens.density, dtype=float)
        if log:  # four decades: the outliers stay visible, the valleys between quadrature nodes
            # (a comb of spikes down to 1e-7 of the peak, an artefact of the Gaussian smoothing) do not
            floor = max(y.max() * 1e-4, 1e-12)
            ax.semilogy(dens.grid, np.clip(y, floor, None), lw=1.6, label=label)
            ax.set_ylim(floor, y.max() * 3)
        else:
            ax.plot(dens.grid, y, lw=1.6, label=label)
        if top is not None:
            lam = float(np.max(top.eigenvalues))
            ax.axvline(lam, color=PALETTE[3], ls="--", lw=1, label=f"λ_max = {lam:.3g}")
        ax.set_xlabel("Hessian eigenvalue λ")
        ax.set_ylabel("spectral density" + (" (log)" if log else ""))
        if label or top is not None:
            ax.legend(fontsize=10)
        ax.set_title(title or "Hessian spectral density (SLQ)")
    return ax.figure
