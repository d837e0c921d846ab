"""LandscapeExplorer: choose directions, span, resolution and data; see the surface, the path over it and
its topology (minima, saddles, persistence)."""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import landscape, plots, topology
from ..progress import Cancelled
from .base import Explorer


class LandscapeExplorer(Explorer):
    """A loss surface around ``model`` and its topology.

    ``trajectory`` (a recorded run of this model, all parameters) enables the PCA plane with the
    training path drawn over it. ``task``: a Task, ``(x, y)`` tensors or a DataLoader, with
    ``loss_fn`` and ``output`` as in :func:`landkit.landscape.plane`.

    Example
    -------
    >>> ex = lk.widgets.LandscapeExplorer(model, task)
    >>> ex.resolution.value = 7
    >>> ex.start(wait=True)          # what the Draw button does
    """

    run_label = "Draw"
    title = "Loss landscape: what does the surface look like, and how rough is it?"

    def __init__(self, model, task, *, trajectory=None, resolution: int = 25, span: float = 1.0,
                 directions: str | None = None, loss_fn=None, output=None):  # fmt: skip
        self.model, self.task, self.trajectory = model, task, trajectory
        self.loss_fn, self.output = loss_fn, output
        options = ["filter", "layer", "hessian"] + (["pca"] if trajectory is not None else [])
        self.directions = W.Dropdown(options=options, description="directions",
                                     value=directions or ("pca" if trajectory is not None else "filter"))  # fmt: skip
        self.span = W.FloatSlider(value=span, min=0.05, max=3.0, step=0.05,
                                  description="span (0 = auto)" if trajectory is not None else "span")  # fmt: skip
        if trajectory is not None:
            self.span.min, self.span.value = 0.0, 0.0
        self.resolution = W.IntSlider(
            value=resolution, min=5, max=101, step=2, description="resolution"
        )
        n = getattr(task, "n_train", None)
        subsets = [("all", 0)] + [(str(k), k) for k in (128, 256, 512) if n is None or k < n]
        self.subset = W.Dropdown(options=subsets, value=0, description="data (samples)")
        self.threshold = W.FloatLogSlider(value=0.01, base=10, min=-4, max=-0.5, step=0.25,
                                          description="noise threshold")  # fmt: skip
        self.view = W.ToggleButtons(options=["contour", "3d"], value="contour", description="view")
        for w in (
            self.directions,
            self.span,
            self.resolution,
            self.subset,
            self.threshold,
            self.view,
        ):
            w.style.description_width = "110px"
        super().__init__([W.VBox([self.directions, self.subset, self.view]),
                          W.VBox([self.span, self.resolution, self.threshold])],
                         css_class="lk-landscape-explorer")  # fmt: skip
        self.surface = None
        self.topology = None
        self.message.value = "Choose the directions and press <b>Draw</b>."

    def describe(self, ax, x: float, y: float) -> str:
        """Over the slice: the loss (and accuracy) at the grid point nearest the pointer; elsewhere
        what the base read-out says."""
        surf = getattr(self, "surface", None)
        if surf is None or ax is not getattr(self, "_surface_ax", None):
            return super().describe(ax, x, y)
        a, b = ax.transData.inverted().transform((x, y))
        alpha, beta = np.asarray(surf.alpha), np.asarray(surf.beta)
        if not (alpha.min() <= a <= alpha.max() and beta.min() <= b <= beta.max()):
            return ""
        i, j = int(np.abs(alpha - a).argmin()), int(np.abs(beta - b).argmin())
        text = f"α {alpha[i]:.3g} · β {beta[j]:.3g} · loss value {float(np.asarray(surf.loss)[i, j]):.4g}"
        acc = getattr(surf, "accuracy", None)
        if acc is not None and np.ndim(acc) == 2:
            text += f" · accuracy {float(np.asarray(acc)[i, j]):.3f}"
        return text

    def work(self):
        res = self.resolution.value
        total = res * res

        def tick(done, _total):
            self.progress(0.05 + 0.9 * done / total, f"evaluating {done}/{total} points…")
            if self.stopping:
                raise Cancelled

        self.progress(0.02, "preparing directions…")
        kind = self.directions.value
        span = self.span.value
        if kind == "pca" and span == 0:
            span = 1.0  # plane() frames the path when span is left at its default
        try:
            surf = landscape.plane(self.model, self.task, directions=kind, span=span or 1.0,
                                   resolution=res, trajectory=self.trajectory if kind == "pca" else None,
                                   n_samples=self.subset.value or None, progress=tick,
                                   loss_fn=self.loss_fn, output=self.output)  # fmt: skip
        except Cancelled:
            self.progress(0.0, "stopped")
            return
        self.surface = surf
        self.topology = topo = topology.persistence(surf, threshold=self.threshold.value)
        self._surface_ax = None
        if self.view.value == "3d":
            fig, axes = plots.new_figure(2, width=5.0, height=4.4)
            fig.delaxes(axes[0])
            ax3 = fig.add_subplot(1, 2, 1, projection="3d")
            plots.plot_surface(surf, ax=ax3, style="3d")
        else:
            fig, axes = plots.new_figure(2, width=5.0, height=4.4)
            plots.plot_surface(surf, ax=axes[0], topo=topo)
            self._surface_ax = axes[0]
        if topo.n_minima > 1:
            plots.plot_merge_tree(topo, ax=axes[1])
        else:
            plots.plot_persistence(topo, ax=axes[1])
        self.show_figure(fig)
        info = surf.info
        avg = "" if topo.n_saddles == 0 else f", average persistence {topo.average_persistence:.3g}"
        sub = info.get("subset")
        sub = (f"; on {sub['n_samples']} of {sub['of']} samples: within {sub['max_abs_error']:.2g} of "
               f"all of them at {sub['checked_points']} points checked"
               if sub and sub["max_abs_error"] is not None else "")  # fmt: skip
        self.progress(1.0, f"{topo.counts}{avg}; "
                           f"loss at the model {surf.loss[res // 2, res // 2]:.4g}; "
                           f"{total} points in {info['seconds']:.2f} s ({info['backend']}){sub} — "
                           f"<b>{topo.verdict}</b>")  # fmt: skip
