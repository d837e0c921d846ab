"""AgingExplorer: two-time displacement curves of a run, their collapse with a live μ slider."""

from __future__ import annotations

import threading

import ipywidgets as W
import numpy as np

from .. import glassy, plots
from ..errors import InvalidArgument
from ..plots.style import rendering
from .base import Explorer


class AgingExplorer(Explorer):
    """Aging curves of recorded runs.

    ``runs``: a dict label -> Trajectory or run directory (or a list of them). Choose the run, how many
    waiting times, per layer (a parameter) or all weights, noise normalisation Δ/D; **Compute** draws
    the curves, and the μ slider redraws the collapse against t/t_w^μ at once (the fitted μ is shown).
    With a shared ``selection`` (:class:`landkit.widgets.Selection`), a run selected in another view
    is computed and shown here.

    Example
    -------
    >>> ex = lk.widgets.AgingExplorer({"narrow": runs[0], "wide": runs[5]})
    >>> ex.start(wait=True)          # what the Compute button does
    """

    run_label = "Compute"
    title = "Aging: does training slow down with the time already spent?"

    def __init__(self, runs, *, selection=None):
        from ..store import load

        if not isinstance(runs, dict):
            runs = {f"run {i}": r for i, r in enumerate(runs)}
        self.runs = {k: (load(v) if not hasattr(v, "weights") else v) for k, v in runs.items()}
        if not self.runs:
            raise InvalidArgument("give at least one run")
        first = next(iter(self.runs.values()))
        self.pick = W.Dropdown(options=list(self.runs), description="run")
        self.n_waiting = W.IntSlider(value=6, min=3, max=10, description="waiting times")
        layers = ["all weights"] + [p.name for p in first.params]
        self.layer = W.Dropdown(options=layers, value="all weights", description="weights")
        self.normalise = W.Checkbox(value=False, description="divide by D(t_w)")
        self.mu = W.FloatSlider(value=1.0, min=-0.5, max=2.0, step=0.02, description="μ",
                                continuous_update=False)  # fmt: skip
        for w in (self.pick, self.n_waiting, self.layer, self.normalise, self.mu):
            w.style.description_width = "100px"
        super().__init__([W.VBox([self.pick, self.layer, self.normalise]), W.VBox([self.n_waiting, self.mu])],
                         css_class="lk-aging-explorer")  # fmt: skip
        self.live(self.mu, self._draw)
        self.result = None
        self.fit = None
        self.message.value = "Choose a run and press <b>Compute</b>."
        # a run chosen in another view (an Atlas, a Mapper node, a Morse basin) is computed here
        self.selection = selection
        self._follow = None
        if selection is not None:
            selection.observe(lambda _c: self.follow_selection(delay=0.6), names="runs")

    def follow_selection(self, delay: float = 0.0) -> str | None:
        """Show the first run of the shared selection that this explorer holds, computing its curves
        in the background after ``delay`` seconds (a view that changed the selection redraws first,
        and a quick run of clicks computes only the last); returns its label, or None when the
        selection holds none of them."""
        from .atlas import run_key

        keys = {run_key(t): label for label, t in self.runs.items()}
        chosen = [keys[k] for k in self.selection.runs if k in keys]
        if not chosen:
            return None
        if self.pick.value != chosen[0] or self.result is None:
            if self._follow is not None:
                self._follow.cancel()

            def go():
                self.pick.value = chosen[0]
                self.start()

            if delay:
                self._follow = threading.Timer(delay, go)
                self._follow.daemon = True
                self._follow.start()
            else:
                go()
        return chosen[0]

    def work(self):
        traj = self.runs[self.pick.value]
        self.progress(0.1, "computing Δ for every pair of snapshots…")
        if self.layer.value == "all weights":
            ag = glassy.two_time(traj, n_waiting=self.n_waiting.value,
                                 progress=self.hook(0.1, 0.9, "Δ (‰ of the weights)"))  # fmt: skip
        else:
            sl = traj.param_slice(self.layer.value)
            ag = glassy.two_time(traj.steps, np.asarray(traj.weights[:, sl]),
                                 n_waiting=self.n_waiting.value,
                                 progress=self.hook(0.1, 0.9, "Δ (‰ of the weights)"))  # fmt: skip
        if self.normalise.value and ag.noise is None and self.layer.value == "all weights":
            raise InvalidArgument(
                "this run has no noise scale: record it with lk.Recorder(grad_noise=True)"
            )
        self.result = ag
        self.fit = glassy.collapse(ag)
        self.mu.value = round(self.fit.mu, 2)  # redraws
        self._draw()
        s = glassy.summary(ag)
        self.progress(1.0, f"aging score {s['aging_score']:.3f}; fitted μ = {self.fit.mu:.2f} ± "
                           f"{self.fit.mu_stderr:.2f}; late α = {s['alpha']:.2f} ± {s['alpha_stderr']:.2f} — "
                           f"<b>{glassy.verdict(s)}</b>")  # fmt: skip

    def _draw(self):
        ag = self.result
        if ag is None:
            return
        mu = self.mu.value
        title = f"collapse at μ = {mu:.2f} (fit {self.fit.mu:.2f})"
        drawn = getattr(self, "_collapse", None)
        if drawn is not None and drawn[0] is ag:
            # the μ slider: move the collapse panel's curves in place (no new figure, no new layout:
            # those were two thirds of a redraw)
            _ag, ax, curves = drawn
            with self.drawing:  # the canvas may be drawing this figure for the browser meanwhile
                for line, (tw, lag) in zip(ax.lines, curves):
                    line.set_xdata(lag / tw**mu)
                ax.set_xlabel(f"t / t_w^μ   (μ = {mu:.2f})")
                ax.title.set_text(title)
                ax.relim()
                ax.autoscale_view()
            if not self.redraw_panel(ax):
                self.show_figure(self._figure)
            return
        fig, axes = plots.new_figure(2, width=4.8, height=3.8)
        plots.plot_aging(ag, ax=axes[0], normalised=self.normalise.value and ag.noise is not None)
        plots.plot_collapse(ag, mu=mu, ax=axes[1], title=title)
        curves = []
        for i, tw in enumerate(ag.waiting_times):
            lag, m = ag.curve(i)
            curves.append((tw, np.asarray(lag)[np.asarray(m) > 0]))  # what plot_collapse drew
        with rendering():  # once (it measures text); the μ slider keeps this layout
            fig.get_layout_engine().execute(fig)
        fig.set_layout_engine("none")
        self._collapse = (ag, axes[1], curves)
        self.show_figure(fig)
        self.prepare_panel(axes[1])  # the μ slider redraws this panel alone
