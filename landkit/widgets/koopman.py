"""SpectrumExplorer: pick groups of runs, delays, rank and observables; see eigenvalues, W and p."""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import koopman, plots
from ..errors import InvalidArgument
from .base import Explorer


class SpectrumExplorer(Explorer):
    """Compare the Koopman spectra of groups of runs.

    ``groups``: a dict label -> list of trajectories (or (runs, T, D) arrays; see
    :func:`landkit.koopman.uniform_groups`), or a :class:`landkit.RunSet` with ``group_by=`` a config
    key. Groups of networks of different sizes need ``pca=k`` (each group on its own k components).
    Groups of recorded runs get a **steps** window: the spectra and the test of one phase of training
    (early against late).

    Example
    -------
    >>> ex = lk.widgets.SpectrumExplorer(lk.examples.omd_ogd())
    >>> ex.start(wait=True)          # what the Compare button does
    """

    run_label = "Compare"
    title = "Koopman spectra: are these runs equivalent?"

    def __init__(self, groups, *, group_by: str | None = None, delays: int = 4, n_resamples: int = 100,
                 pca: int = 0, rank: int = 0):  # fmt: skip
        if hasattr(groups, "groupby"):
            if group_by is None:
                raise InvalidArgument("pass group_by= (a config key) to compare groups of a RunSet")
            groups = {
                f"{group_by}={k}": list(v) for k, v in sorted(groups.groupby(group_by).items())
            }
        self.groups = dict(groups)
        if len(self.groups) < 2:
            raise InvalidArgument(f"need at least two groups to compare, got {list(self.groups)}")
        labels = list(self.groups)
        self.pick = W.SelectMultiple(
            options=labels, value=tuple(labels[:2]), description="groups", rows=min(5, len(labels))
        )
        self.delays = W.IntSlider(value=delays, min=0, max=10, description="delays")
        self.rank = W.IntSlider(value=rank, min=0, max=30, description="rank (0 = all)")
        self.pca = W.IntSlider(value=pca, min=0, max=30, description="PCA (0 = off)")
        self.params = W.Text(value="", placeholder="e.g. fc2.*", description="params")
        self.n_perm = W.IntSlider(
            value=n_resamples, min=0, max=1000, step=10, description="resamples"
        )
        # recorded runs (not arrays): a step window, for the spectrum of one phase of training
        trajs = [t for v in self.groups.values() for t in v]
        self.window = None
        if trajs and all(hasattr(t, "steps") and hasattr(t, "select") for t in trajs):
            last = int(max(int(np.asarray(t.steps)[-1]) for t in trajs))
            self.window = W.IntRangeSlider(value=(0, last), min=0, max=last, step=max(1, last // 200),
                                           description="steps")  # fmt: skip
        extra = [self.window] if self.window is not None else []
        for w in (self.pick, self.delays, self.rank, self.pca, self.params, self.n_perm, *extra):
            w.style.description_width = "100px"
        super().__init__([W.VBox([self.pick, self.params]), W.VBox([self.delays, self.rank]),
                          W.VBox([self.pca, self.n_perm, *extra])],
                         css_class="lk-spectrum-explorer")  # fmt: skip
        self.spectra: dict = {}
        self.result = None
        self.message.value = "Pick two or more groups and press <b>Compare</b>."

    def _options(self):
        return dict(
            delays=self.delays.value,
            rank=self.rank.value or None,
            pca=self.pca.value or None,
            params=self.params.value.strip() or None,
        )

    def _windowed(self) -> dict:
        """The groups restricted to the snapshots inside the step window (all of them by default)."""
        if self.window is None:
            return self.groups
        lo, hi = self.window.value
        out = {}
        for k, v in self.groups.items():
            out[k] = [
                t.select((np.asarray(t.steps) >= lo) & (np.asarray(t.steps) <= hi)) for t in v
            ]
            short = min(len(t) for t in out[k])
            if short < self.delays.value + 3:
                raise InvalidArgument(
                    f"{k}: only {short} snapshots in steps {lo}–{hi}; widen the step window"
                )
        return out

    def work(self):
        chosen = list(self.pick.value)
        if len(chosen) < 1:
            raise InvalidArgument("pick at least one group")
        opts = self._options()
        groups = self._windowed()
        self.progress(0.05, "computing spectra…")
        self.spectra = {k: koopman.spectrum(groups[k], **opts) for k in chosen}
        fig, axes = plots.new_figure(2, width=4.8, height=4.2)
        plots.plot_eigenvalues(self.spectra, ax=axes[0])
        text = ""
        if len(chosen) >= 2:
            names = chosen
            dist = np.array(
                [
                    [koopman.wasserstein(self.spectra[a], self.spectra[b]) for b in names]
                    for a in names
                ]
            )
            plots.plot_distance_matrix(dist, names, ax=axes[1])
            a, b = chosen[:2]
            if self.n_perm.value and not self.stopping:
                self.progress(0.3, f"permutation test {a} vs {b}…")
                self.result = koopman.conjugacy_test(
                    groups[a], groups[b], n_resamples=self.n_perm.value,
                    progress=self.hook(0.3, 0.95, "resamples"), **opts
                )  # fmt: skip
                text = (
                    f"<b>{a}</b> vs <b>{b}</b>: <b>{self.result.verdict}</b> — {self.result.reason}"
                )
            else:
                text = f"W({a}, {b}) = {dist[0, 1]:.4g}"
        else:
            axes[1].set_axis_off()
        self.show_figure(fig)
        self.progress(1.0, text or "done")
