"""MapperExplorer and MorseExplorer: the global-dynamics lens with its knobs."""

from __future__ import annotations

import time

import ipywidgets as W
import numpy as np

from .. import mapper, morse, plots
from ..errors import InvalidArgument
from ..plots.style import rendering
from ..store import RunSet
from .base import Explorer


class MapperExplorer(Explorer):
    """A Mapper graph of runs (or a surface, or points with ``lens=``): choose the lens, the cover
    (intervals, overlap), DBSCAN's eps (0 = from the data) and the colouring; the node table's first
    rows and the splits are listed below the graph.

    Example
    -------
    >>> ex = lk.widgets.MapperExplorer(runs.where(width=32))
    >>> ex.start(wait=True)          # what the Map button does
    >>> ex.graph is not None
    True
    """

    run_label = "Map"
    title = "Mapper: where do runs travel together, and where do they split?"

    def __init__(self, data, *, lens_values=None, selection=None):
        self.data, self.lens_values = data, lens_values
        is_runs = lens_values is None and not hasattr(data, "alpha")
        # clicking a node selects the runs through it in every view sharing ``selection``
        self.selection = selection
        self.runs = list(data) if is_runs and not isinstance(data, np.ndarray) else None
        lenses = (
            ["loss", "step", "distance", "pca0", "pca1"]
            if is_runs
            else ["loss" if lens_values is None else "custom"]
        )
        self.lens = W.Dropdown(options=lenses, value=lenses[0], description="lens")
        self.n_cubes = W.IntSlider(value=10, min=2, max=40, description="intervals")
        self.overlap = W.FloatSlider(value=0.3, min=0.05, max=0.8, step=0.05, description="overlap")
        self.eps = W.FloatText(value=0.0, description="eps (0 = auto)")
        self.color = W.Dropdown(options=["mean_lens", "mean_step", "mean_loss", "size"] if is_runs
                                else ["mean_lens", "size"], value="mean_lens", description="colour by")  # fmt: skip
        for w in (self.lens, self.n_cubes, self.overlap, self.eps, self.color):
            w.style.description_width = "100px"
        super().__init__([W.VBox([self.lens, self.color]), W.VBox([self.n_cubes, self.overlap, self.eps])],
                         css_class="lk-mapper-explorer")  # fmt: skip
        self.graph = None
        self.cache: dict = {}  # (lens, intervals, overlap, eps) -> graph: moving back is instant
        self.live(self.color, self._draw)  # recolouring needs no new graph
        self.message.value = ("Choose a lens and press <b>Map</b>; the colouring redraws at once, and "
                              "every graph made is cached.")  # fmt: skip

    def _key(self):
        return (self.lens.value, self.n_cubes.value, round(self.overlap.value, 4), self.eps.value)

    def work(self):
        key = self._key()
        cached = key in self.cache
        if not cached:
            self.progress(0.1, "clustering…")
            lens = self.lens_values if self.lens.value == "custom" else self.lens.value
            self.cache[key] = mapper.graph(
                self.data, lens=lens, n_cubes=self.n_cubes.value, overlap=self.overlap.value,
                eps=self.eps.value or None, progress=self.hook(0.1, 0.6, "reading runs"),
            )  # fmt: skip
        self.graph = g = self.cache[key]
        self._draw()
        text = f"{len(g.nodes)} nodes, {len(g.links)} links, {len(g.components())} components, {len(g.loops())} loops; eps {g.params['eps']:.3g}"
        if g.members is not None:
            splits = [b for b in g.branches() if b["split"]]
            text += (
                f"; {len(splits)} split(s) — <b>"
                + (
                    f"runs that start in one node end in different nodes in {len(splits)} place(s): "
                    "their training parts ways (hover the nodes to see which runs)"
                    if splits
                    else "no split: runs that start together end together"
                )
                + "</b>"
            )
        self.progress(1.0, text + (" (from the cache)" if cached else ""))

    def _draw(self):
        g = self.graph
        if g is None:
            return
        drawn = getattr(self, "_drawn", None)
        if drawn is not None and drawn[0] is g:
            # a new colouring of the graph on show: recolour its nodes in place (no new figure, no
            # new spring layout, no new constrained layout)
            from ..plots.dynamics import _colour_label

            table = {row["node"]: row for row in g.node_table}
            nodes = next(
                c for c in self._node_ax.collections if type(c).__name__ == "PathCollection"
            )
            with self.drawing:  # the canvas may be drawing this figure for the browser meanwhile
                nodes.set_array(
                    np.array([table[n][self.color.value] for n in self._nodes], dtype=float)
                )
                nodes.autoscale()
                if nodes.colorbar is not None:
                    nodes.colorbar.update_normal(nodes)
                    nodes.colorbar.set_label(_colour_label(g, self.color.value))
            self.show_figure(self._figure)
            return
        fig, ax = plots.new_figure(width=6.4, height=4.8)
        plots.plot_mapper(g, color_by=self.color.value, ax=ax)
        self._nodes = list(g.to_networkx().nodes)  # the scatter's order (plot_mapper's)
        self._node_ax = ax
        with rendering():  # once (it measures text); a recolouring keeps this layout
            fig.get_layout_engine().execute(fig)
        fig.set_layout_engine("none")
        self._drawn = (g, ax)
        self.show_figure(fig)

    def node_at(self, ax, x: float, y: float):
        """The Mapper node drawn under display point (x, y) of ``ax`` (a node is a disc: a few
        pixels more than :attr:`reach`), or None."""
        if self.graph is None or ax is not getattr(self, "_node_ax", None):
            return None
        nodes = [c for c in ax.collections if type(c).__name__ == "PathCollection"]
        if not nodes:
            return None
        xy = np.asarray(nodes[0].get_offsets(), dtype=float)
        d = np.hypot(*(ax.transData.transform(xy) - (x, y)).T)
        k = int(np.argmin(d))
        return self._nodes[k] if d[k] <= self.reach + 6 else None

    def node_runs(self, node) -> list[int]:
        """The runs (indices into this explorer's runs) with a snapshot in ``node``."""
        if self.graph is None or self.graph.members is None:
            return []
        return sorted({int(r) for r in self.graph.members[self.graph.nodes[node], 0]})

    def describe(self, ax, x: float, y: float) -> str:
        node = self.node_at(ax, x, y)
        if node is None:
            return ""
        g, idx = self.graph, self.graph.nodes[node]
        row = next(r for r in g.node_table if r["node"] == node)
        parts = [
            f"<b>node {node}</b>",
            f"{len(idx)} points",
            f"mean {g.params['lens']} {row['mean_lens']:.4g}",
        ]
        if g.members is not None:
            steps = g.members[idx, 1]
            runs = self.node_runs(node)
            parts += [f"steps {int(steps.min())}–{int(steps.max())}",
                      f"{len(runs)} run{'s' if len(runs) != 1 else ''}: {runs[:8]}{' …' if len(runs) > 8 else ''}"]  # fmt: skip
            if self.selection is not None:
                parts.append("click: select them")
        return " · ".join(parts)

    def click(self, ax, x: float, y: float, *, add: bool = False) -> None:
        """A click on a node: its read-out, and its runs become the shared selection (when given;
        ``add``, a shift-click: added to it, or removed when all are in it already)."""
        node = self.node_at(ax, x, y)
        if node is None:
            return
        self.readout.value = self.describe(ax, x, y)
        runs = self.node_runs(node)
        if self.selection is not None and self.runs is not None and runs:
            from .atlas import run_key

            picked = [run_key(self.runs[i]) for i in runs]
            now = list(self.selection.runs)
            if add:
                picked = ([k for k in now if k not in picked] if set(picked) <= set(now)
                          else now + [k for k in picked if k not in now])  # fmt: skip
            self.selection.runs = tuple(picked)


class MorseExplorer(Explorer):
    """The Conley–Morse graph of an ensemble's training map: choose the start and end steps, how many
    weight coordinates (by spread) or which, and the subdivision depth. With ``selection=`` (a
    :class:`Selection` shared with an :class:`Atlas`), *select runs of* an attractor shows its runs'
    curves, paths and spectrum there.

    Example
    -------
    >>> ex = lk.widgets.MorseExplorer(runs.where(width=8), subdiv=8)   # then press Compute
    """

    run_label = "Compute"
    title = "Conley–Morse graph: which regions attract the runs?"

    def __init__(self, runs, *, start_step: int | None = None, subdiv: int = 12, selection=None):
        self.runs = list(runs)
        self.selection = selection
        if len(self.runs) < 5:
            raise InvalidArgument(f"need an ensemble of at least 5 runs, got {len(self.runs)}")
        steps = RunSet(self.runs, [t.config for t in self.runs]).common_steps()
        if len(steps) < 2:
            raise InvalidArgument("the runs share fewer than two recorded steps")
        self.start_step = W.SelectionSlider(options=steps[:-1], value=start_step if start_step in steps else steps[min(1, len(steps) - 2)],
                                       description="start step")  # fmt: skip
        self.end_step = W.SelectionSlider(
            options=steps[1:], value=steps[-1], description="end step"
        )
        self.coords = W.Text(
            value="", placeholder="e.g. 4, 5 (blank: 2 by spread)", description="weights"
        )
        self.subdiv = W.IntSlider(value=subdiv, min=6, max=18, step=2, description="subdivision")
        for w in (self.start_step, self.end_step, self.coords, self.subdiv):
            w.style.description_width = "100px"
        super().__init__([W.VBox([self.start_step, self.end_step]), W.VBox([self.coords, self.subdiv])],
                         css_class="lk-morse-explorer")  # fmt: skip
        self.result = None
        self.basins = None
        # choosing a basin selects its runs in every view sharing ``selection`` (an Atlas, …)
        self.choose = W.Dropdown(options=[("—", None)], value=None, description="select runs of",
                                 disabled=True, style={"description_width": "100px"})  # fmt: skip
        self.choose.observe(lambda ch: self.select_basin(ch["new"]), names="value")
        if selection is not None:
            at = self.main.children.index(self.figure_box)
            self.main.children = (*self.main.children[:at], self.choose, *self.main.children[at:])
        self.message.value = "Press <b>Compute</b>."

    def select_basin(self, attractor) -> list[int]:
        """The runs (indices into this explorer's runs) whose end state flows to ``attractor`` (−1: to
        none, −2: a basin boundary); with a shared ``selection``, they become the selection.

        Example
        -------
        >>> sel = lk.widgets.Selection()
        >>> ex = lk.widgets.MorseExplorer(runs.where(width=8), subdiv=8, selection=sel)
        >>> ex.start(wait=True)
        >>> len(ex.select_basin(ex.result.attractors[0])) == len(sel.runs)
        True
        """
        if attractor is None or self.basins is None:
            return []
        from .atlas import run_key

        ids = [int(i) for i in np.flatnonzero(self.basins == attractor)]
        if self.selection is not None:
            self.selection.runs = tuple(run_key(self.runs[i]) for i in ids)
        return ids

    def work(self):
        if self.end_step.value <= self.start_step.value:
            raise InvalidArgument("the end step must come after the start step")
        text = self.coords.value.strip()
        coords = [int(c) for c in text.replace(",", " ").split()] if text else 2
        if isinstance(coords, list) and len(coords) != 2:
            raise InvalidArgument("give exactly two weight indices (or leave blank)")
        t0 = time.monotonic()
        self.progress(0.1, "fitting the surrogate and computing the Morse graph…")
        m = morse.from_runs(self.runs, start_step=self.start_step.value, end_step=self.end_step.value,
                            coords=coords, subdiv=self.subdiv.value,
                            progress=self.hook(0.1, 0.9, "runs read, surrogate, Morse graph"))  # fmt: skip
        self.result = m
        fig, axes = plots.new_figure(2, width=5.0, height=4.4)
        plots.plot_morse(m, starts=morse.states(self.runs, m.coords, self.start_step.value),
                         ends=morse.states(self.runs, m.coords, self.end_step.value), ax=axes[0])  # fmt: skip
        plots.plot_morse_graph(m, ax=axes[1])
        self.show_figure(fig)
        basins = m.basin_of(morse.states(self.runs, m.coords, self.end_step.value))
        self.basins = basins
        names = {-1: "no attractor", -2: "a basin boundary"}
        self.choose.options = [("—", None)] + [
            (f"{names.get(a, f'attractor {a}')} ({int(np.sum(basins == a))} runs)", a)
            for a in [*m.attractors, -2, -1] if np.any(basins == a)
        ]  # fmt: skip
        self.choose.disabled = False
        held_runs = {a: int(np.sum(basins == a)) for a in m.attractors}
        counts = ", ".join(f"attractor {a}: {k} runs" for a, k in held_runs.items() if k)
        empty = sum(1 for k in held_runs.values() if not k)
        if empty:  # an attractor no run reaches is a property of the surrogate, not of the runs
            counts += f"; {empty} attractor(s) of the surrogate reached by no run"
        between, outside = int(np.sum(basins == -2)), int(np.sum(basins == -1))
        if between:
            counts += (f"; {between} of {len(basins)} runs end on a boundary between basins (their "
                       "box can flow to more than one attractor)")  # fmt: skip
        if outside:
            counts += (f"; {outside} of {len(basins)} runs end in boxes that flow to no attractor "
                       "(outside the region the surrogate learned, or still moving: try a later "
                       "end step or more runs)")  # fmt: skip
        held = m.info.get("surrogate_r2", [])
        trust = ("" if len(self.runs) >= 10 * len(m.coords) and min(held, default=1) >= 0.5 else
                 f" <span style='color:#D55E00'>— {len(self.runs)} runs: too few for a reliable graph"
                 f" (surrogate held-out R² {', '.join(f'{r:.2f}' for r in held)})</span>")  # fmt: skip
        self.progress(1.0, f"weights {m.coords}: {len(m.morse_sets)} Morse sets, {len(m.attractors)} "
                           f"attractor(s) ({counts}); computed in {time.monotonic() - t0:.1f} s{trust}")  # fmt: skip
