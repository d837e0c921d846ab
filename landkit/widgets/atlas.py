"""Atlas: the training curves, the weights' path, the Koopman spectrum and the Mapper graph of a set
of runs side by side, sharing one selection of runs and one step window.

Pointing works where matplotlib's widget backend (ipympl) is installed (it is a landkit dependency):
hover any panel for a read-out, click a curve, a path or a Mapper node to select its runs (shift-click
adds or removes). Everything cheap redraws at once; the Mapper graph (seconds) is computed in the
background with a progress bar and cached per setting. Without a pointer, the *runs* list and the
*steps* slider do the same.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import ipywidgets as W
import matplotlib
import matplotlib.lines
import numpy as np
import traitlets
from matplotlib.collections import LineCollection

from .. import koopman, mapper
from ..errors import InvalidArgument
from ..plots.style import PALETTE, house_style, new_figure, rendering, scale
from ..progress import Cancelled
from .base import Explorer, _ipympl, browser_shows, hold_while_drawing

# pixels: how far from a curve, a path point or an eigenvalue the pointer still reaches it
REACH = 12


def run_key(traj) -> str:
    """What identifies a run across views: its folder (a view of part of its snapshots is the same
    run), or the object itself for a run held only in memory."""
    path = getattr(traj, "path", None)
    return str(Path(path).resolve()) if path else f"in-memory run {id(traj):x}"


def _wipe(ax) -> None:
    """Take away what panel ``ax`` shows (its artists, legend and title), keeping its axes and their
    tick objects, which ``ax.clear()`` would make anew at the next drawing."""
    for a in [*ax.lines, *ax.collections, *ax.patches, *ax.texts, *ax.images]:
        a.remove()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    ax.set_title("")
    ax.set_axis_on()


class Selection(traitlets.HasTraits):
    """The runs and the step window chosen in one view: pass the same object to several explorers
    (an :class:`Atlas`, a ``MorseExplorer``…) and a choice in one shows in all of them, whichever
    subset of the runs each one holds.

    ``runs``: a tuple of run keys (:func:`run_key`: the run's folder; empty: nothing chosen, every
    view shows every run); ``window``: ``(first_step, last_step)``, inclusive.

    Example
    -------
    >>> sel = lk.widgets.Selection()
    >>> seen = []
    >>> sel.observe(lambda change: seen.append(len(change["new"])), names="runs")
    >>> sel.runs = (lk.widgets.atlas.run_key(runs[0]),)
    >>> seen
    [1]
    """

    runs = traitlets.Tuple()
    window = traitlets.Tuple()

    def __repr__(self) -> str:
        return f"Selection(runs={self.runs}, window={self.window})"


def _layout(traj) -> tuple:
    """What a snapshot's coordinates are: the recorded parameters' names and shapes (the vector's
    length when the run does not say, or is a sketch)."""
    params = getattr(traj, "params", None) or []
    if not params or getattr(traj, "is_sketch", False):
        return (int(traj.weights.shape[1]),)
    return tuple((p.name, tuple(p.shape)) for p in params)


def _label(config: dict, keys: list[str]) -> str:
    return " ".join(f"{k}={config.get(k)}" for k in keys) or "run"


def _loss_curve(t) -> tuple[np.ndarray, np.ndarray, str]:
    """The run's steps and its training loss where it was evaluated (batch loss if never)."""
    for name in ("loss", "batch_loss"):
        if name in t.scalars:
            y = np.asarray(t.scalars[name], dtype=float)
            ok = np.isfinite(y)
            if ok.sum() >= 2:
                return np.asarray(t.steps)[ok], y[ok], name
    return np.asarray(t.steps), np.full(len(t.steps), np.nan), "loss"


class Atlas(Explorer):
    """Four lenses on one set of runs, with one selection.

    - **training curves** (top left): the loss of every run; click a curve to select its run;
    - **weights' path** (top right): every snapshot of the runs of one size on their joint principal
      plane (the Mapper graph's PCA) over the loss on that plane (shaded), the selected runs drawn
      bold, the step window marked;
    - **Koopman spectrum** (bottom left): time-delay DMD of the selected runs (all when none is
      selected), per group, on the snapshots inside the step window — the windowed spectrum;
    - **Mapper graph** (bottom right): snapshots clustered along the lens; click a node to select the
      runs that pass through it. Nodes are coloured by the share of their snapshots that belong to
      the selection (or by loss when nothing is selected).

    ``runs``: a :class:`landkit.RunSet`, a list of trajectories or a dict label -> trajectory.
    ``selection``: a :class:`Selection` to share with other views. ``interactive``: None uses
    ipympl when it is installed (pointing); False draws PNGs (the controls still work).
    ``landscape_resolution``: the grid of the loss drawn under the paths (on their principal plane,
    :func:`landkit.landscape.ensemble_plane`, computed in the background after the Mapper graph;
    0: none). Runs that cannot rebuild their model and task (not landkit zoo models on built-in
    tasks) get the paths without it, and the message says why.

    Example
    -------
    >>> atlas = lk.widgets.Atlas(runs, start=False)
    >>> atlas.start(wait=True)                      # what opening it does: the Mapper graph
    >>> atlas.select(runs=[0, 5], window=(0, 500))  # what a click on two curves does
    >>> sorted(atlas.spectra)                       # the spectrum of the selection, per group
    ['width=32', 'width=8']
    """

    pointable = False  # the atlas holds one canvas of its own and points on it itself
    run_label = "Map"
    title = "Atlas: one selection of runs, four lenses"

    def __init__(self, runs, *, selection: Selection | None = None, lens: str = "loss",
                 n_cubes: int = 10, overlap: float = 0.3, pca: int = 10, delays: int = 2,
                 rank: int = 6, interactive: bool | None = None, start: bool = True,
                 landscape_resolution: int = 21):  # fmt: skip
        if isinstance(runs, dict):
            labels, trajs = list(runs), list(runs.values())
            configs = [getattr(t, "config", {}) or {} for t in trajs]
            group_of = list(labels)
        else:
            trajs = list(runs)
            configs = list(runs.configs) if hasattr(runs, "configs") else [t.config for t in trajs]
            keys = runs.varying_keys() if hasattr(runs, "varying_keys") else []
            seedy = keys + (["seed"] if any("seed" in c for c in configs) else [])
            labels = [_label(c, seedy) if seedy else f"run {i}" for i, c in enumerate(configs)]
            group_of = [_label(c, keys) if keys else "all" for c in configs]
        if not trajs:
            raise InvalidArgument("give at least one run")
        if not all(hasattr(t, "weights") for t in trajs):
            raise InvalidArgument("the Atlas needs recorded runs (lk.load / lk.load_runs)")
        self.trajectories, self.labels, self.group_of = trajs, labels, group_of
        self.run_keys = [run_key(t) for t in trajs]
        groups = list(dict.fromkeys(group_of))
        self.colour = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}
        self.curves = [_loss_curve(t) for t in trajs]
        # runs mapped together share a joint PCA: the same coordinates, not only as many of them
        # (two networks of equal size but other layers would be compared weight by unrelated weight)
        self.layouts = [_layout(t) for t in trajs]
        self.delays, self.rank = delays, rank
        last = int(max(int(np.asarray(t.steps)[-1]) for t in trajs))
        self.selection = selection if selection is not None else Selection()
        if not self.selection.window:
            self.selection.window = (0, last)

        # controls that redraw at once (cheap or cached)
        self.pick = W.SelectMultiple(options=[(lab, i) for i, lab in enumerate(labels)],
                                     value=(), description="runs",
                                     rows=min(6, len(labels)))  # fmt: skip
        self.window = W.IntRangeSlider(value=tuple(self.selection.window), min=0, max=last,
                                       step=max(1, last // 200), description="steps",
                                       continuous_update=False)  # fmt: skip
        self.clear = W.Button(description="Clear selection", icon="times")
        self.readout = W.HTML(value="<i>hover a panel for a read-out; click to select</i>")
        # controls of the Mapper graph (seconds of work: Map)
        self.lens = W.Dropdown(options=["loss", "step", "distance"], value=lens, description="lens")
        self.n_cubes = W.IntSlider(value=n_cubes, min=3, max=30, description="intervals")
        self.overlap = W.FloatSlider(
            value=overlap, min=0.05, max=0.7, step=0.05, description="overlap"
        )
        self.pca = pca
        for w in (self.pick, self.window, self.lens, self.n_cubes, self.overlap):
            w.style.description_width = "70px"
        super().__init__([self.lens, self.n_cubes, self.overlap], css_class="lk-atlas")
        live = W.HBox([self.pick, W.VBox([self.window, self.clear])],
                      layout=W.Layout(flex_flow="row wrap"))  # fmt: skip
        # the atlas's figure needs the page's width: its controls stay above it (the toggle folds them)
        header, _body = self.children
        mapping = W.HBox(list(self.side.children), layout=W.Layout(flex_flow="row wrap"))
        self.side = W.VBox([live, mapping])
        self.children = (header, self.side, *self.main.children)

        self.graphs: dict = {}  # (layout, lens, n_cubes, overlap) -> (MapperGraph, positions, run ids)
        # the same key -> the loss on the plane of the path panel (None: not possible, see message)
        self.surfaces: dict = {}
        self.landscape_resolution = int(landscape_resolution)
        self.spectra: dict = {}  # what the spectrum panel shows now: group -> KoopmanSpectrum
        self._spectrum_cache: dict = {}
        self._focus_layout = self.layouts[self.selected[0] if self.selected else 0]
        self._artists: dict = {}  # line -> ("run", i): what a click or a hover can reach
        self._curve_lines: dict = {}  # run -> its line on the curves panel (made once)
        self._path_lines: dict = {}  # run -> its line on the path panel (made per Mapper graph)
        self._path_marks: list = []
        self._path_key = None
        self._span = None
        self._lock = self.drawing  # the Map thread and a click both redraw
        self.draw_seconds = float("nan")

        self.fig, axes = new_figure(2, 2, width=5.0, height=3.9)
        # the other explorers' pixels (900 × 702: it fits a 768-pixel screen's height, and a redraw
        # has a fifth fewer pixels to fill and send than at matplotlib's 100 dpi)
        self.fig.set_dpi(90 * scale())
        self.ax_curves, self.ax_path, self.ax_spec, self.ax_map = axes.ravel()
        self.canvas = None
        if interactive is not False:
            try:
                Canvas, FigureManager = _ipympl()
            except ImportError:
                if interactive:
                    raise InvalidArgument(
                        "interactive=True needs ipympl (pip install ipympl)"
                    ) from None
            else:
                self.canvas = Canvas(self.fig)
                self.canvas.header_visible = False
                self.canvas.footer_visible = False  # the read-out above says more than (x, y)
                self.canvas.toolbar_position = "right"  # the left edge holds the y labels
                self._manager = FigureManager(self.canvas, 0)
                # the Map thread redraws too; a whole drawing outdates the picture a click draws on
                hold_while_drawing(self.canvas, self._lock, on_draw=self._after_draw)
                self.children = (*self.children, self.canvas)
        if self.canvas is None:  # PNGs; pointing still works on a local canvas (tests, exports)
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            FigureCanvasAgg(self.fig)
        c = self.fig.canvas
        c.mpl_connect("button_press_event", self._on_click)
        c.mpl_connect("motion_notify_event", self._on_hover)

        self.pick.observe(lambda ch: self._set(runs=ch["new"]), names="value")
        self.window.observe(lambda ch: self._set(window=ch["new"]), names="value")
        self.clear.on_click(lambda _b: self._set(runs=()))
        self.selection.observe(self._on_selection, names=["runs", "window"])
        self.message.value = "Mapping the runs… (the other panels work already)"
        self.redraw()
        # lay the panels out once: constrained layout on every redraw would be two thirds of its cost.
        # Room for two-line titles everywhere: the path's and the Mapper's get their second line only
        # once the graph is mapped (the path's first line was cut off at the figure's top edge)
        titles = [(ax.title, ax.title.get_text()) for ax in self.fig.axes]
        for text, t in titles:
            if "\n" not in t:
                text.set_text(t + "\n ")
        with rendering():  # it measures text: one rendering at a time
            self.fig.get_layout_engine().execute(self.fig)
        for text, t in titles:
            text.set_text(t)
        self.fig.set_layout_engine("none")
        if start:
            self.start()

    # -- the selection ---------------------------------------------------------------------------

    def select(self, runs=None, window=None) -> None:
        """Select runs (indices) and/or a step window, as a click or a control would."""
        self._set(runs=tuple(int(i) for i in runs) if runs is not None else None, window=window)

    def _set(self, runs=None, window=None):
        if runs is not None:
            runs = sorted({int(i) for i in runs})
            if any(not 0 <= i < len(self.trajectories) for i in runs):
                raise InvalidArgument(f"run indices must be in [0, {len(self.trajectories)})")
            self.selection.runs = tuple(self.run_keys[i] for i in runs)
        if window is not None:
            lo, hi = (int(v) for v in window)
            self.selection.window = (min(lo, hi), max(lo, hi))

    def _on_selection(self, change):
        sel, chosen = self.selection, self.selected
        if tuple(self.pick.value) != chosen:
            self.pick.value = chosen
        if tuple(self.window.value) != sel.window:
            self.window.value = sel.window
        if chosen and self.layouts[chosen[0]] != self._focus_layout:
            self._focus_layout = self.layouts[chosen[0]]  # another network: map its runs
            if self._graph() is None and not (self._thread and self._thread.is_alive()):
                self.start()
        self.redraw()

    @property
    def selected(self) -> tuple[int, ...]:
        """The indices (into this atlas's runs) of the selected runs."""
        chosen = set(self.selection.runs)
        return tuple(i for i, k in enumerate(self.run_keys) if k in chosen)

    @property
    def chosen(self) -> list[int]:
        """The selected runs, or every run when none is selected."""
        return list(self.selected) or list(range(len(self.trajectories)))

    # -- the Mapper graph (the slow part) --------------------------------------------------------

    def _key(self):
        return (
            self._focus_layout,
            self.lens.value,
            self.n_cubes.value,
            round(self.overlap.value, 3),
        )

    def _graph(self):
        return self.graphs.get(self._key())

    def work(self):
        key = self._key()
        if key in self.graphs:
            self.redraw()
            self.progress(1.0, self._cache_note())
            return
        ids = [i for i, d in enumerate(self.layouts) if d == key[0]]
        focus = [self.trajectories[i] for i in ids]
        note = ""
        try:
            g = mapper.graph(focus, lens=key[1], n_cubes=key[2], overlap=key[3], pca=self.pca,
                             progress=self.hook(0.05, 0.85, "reading runs"))  # fmt: skip
        except InvalidArgument as e:  # e.g. lens="loss" on runs evaluated at some snapshots only
            if key[1] == "step":
                raise
            note = f" (lens {key[1]!r} not possible: {e}; mapped along the step instead)"
            g = mapper.graph(focus, lens="step", n_cubes=key[2], overlap=key[3], pca=self.pca,
                             progress=self.hook(0.05, 0.85, "reading runs"))  # fmt: skip
        self.progress(0.9, "laying out the graph…")
        import networkx as nx

        nxg = g.to_networkx()
        pos = nx.spring_layout(nxg, seed=0, k=1.5 / np.sqrt(max(len(nxg), 1))) if len(nxg) else {}
        self.graphs[key] = (g, pos, ids)
        self.redraw()  # the paths and the graph at once; the loss under the paths follows
        if key not in self.surfaces and self.landscape_resolution:
            from .. import landscape

            self.progress(0.92, "the loss under the paths…")
            try:
                self.surfaces[key] = landscape.ensemble_plane(
                    [self.trajectories[i] for i in ids], members=g.members, scores=g.points[:, :2],
                    resolution=self.landscape_resolution,
                    progress=self.hook(0.92, 0.99, "the loss under the paths"),
                )  # fmt: skip
            except Cancelled:
                raise
            except Exception as e:  # a user's own model, a custom task: the paths stay, bare
                self.surfaces[key] = None
                note += f" (no loss drawn under the paths: {e})"
            with self._lock:
                self._path_key = None  # rebuild the path panel with the surface under it
                self._redraw()
        self.progress(1.0, self._cache_note() + note)

    def _cache_note(self) -> str:
        return (f"done. Cached: {len(self.graphs)} Mapper graph(s), {len(self._spectrum_cache)} "
                "spectra; moving back to a setting is instant.")  # fmt: skip

    # -- drawing ---------------------------------------------------------------------------------

    def redraw(self) -> None:
        """Redraw the four panels for the current selection (tens of milliseconds, the spectrum of a
        new selection aside)."""
        with self._lock:
            self._redraw()

    def _redraw(self) -> None:
        t0 = time.perf_counter()
        whole = self._figure is not self.fig  # what a click changes, or the whole figure
        with house_style():
            if not self._curve_lines:
                self._build_curves()
                whole = True
            self._style_curves()
            key = self._key() if self._graph() is not None else None
            if key != self._path_key or not self._path_lines:
                self._build_path()
                self._path_key = key
                whole = True
            self._style_path()
            _wipe(self.ax_spec)  # keeps its tick objects: a clear() makes them anew (~60 ms)
            self._draw_spectrum()
            self.ax_map.clear()  # no axes at all
            self._draw_mapper()
        self._artists = {line: ("run", i) for i, line in self._curve_lines.items()}
        self._artists |= {line: ("run", i) for i, line in self._path_lines.items()}
        if self.canvas is not None:
            # a new selection changes the curves' and paths' styles, the spectrum and the Mapper
            # panel: those alone are drawn over a picture of the rest (the log axes' ticks, the
            # loss under the paths), in the kernel's main thread once a browser shows the canvas
            quick = (
                not whole
                and threading.current_thread() is threading.main_thread()
                and browser_shows(self.canvas)
                and self.redraw_artists("selection", self._changing())
            )
            self._figure = self.fig
            if not quick:
                self.refresh_canvas()
                self.prepare_artists("selection", self._changing)
            self.export_button.disabled = False
        else:
            self.show_figure(self.fig)
        self.draw_seconds = time.perf_counter() - t0

    def _changing(self) -> list:
        """The artists a new selection or step window changes, in the order they are drawn."""
        z = lambda a: a.get_zorder()  # noqa: E731
        legend = self.ax_curves.get_legend()
        return [
            a
            for a in (
                self._span,
                *sorted(self._curve_lines.values(), key=z),
                legend,
                self.ax_curves.title,
                *sorted(self._path_lines.values(), key=z),
                *sorted(self._path_marks, key=z),
                self.ax_spec,
                self.ax_map,
            )
            if a is not None
        ]

    def _style(self, i):
        sel = self.selected
        if not sel:
            return dict(lw=1.3, alpha=0.8, zorder=2)
        return dict(lw=2.4, alpha=1.0, zorder=3) if i in sel else dict(lw=0.8, alpha=0.2, zorder=1)

    def _restyle(self, line, i):
        st = self._style(i)
        line.set_linewidth(st["lw"])
        line.set_alpha(st["alpha"])
        line.set_zorder(st["zorder"])

    def _build_curves(self):
        """The curves panel's lines, made once (log axes: their ticks are costly to redo)."""
        ax = self.ax_curves
        for i, (steps, loss, _name) in enumerate(self.curves):
            ok = (steps > 0) & np.isfinite(loss)
            if ok.any():
                (self._curve_lines[i],) = ax.plot(
                    steps[ok], loss[ok], color=self.colour[self.group_of[i]]
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        handles = [matplotlib.lines.Line2D([], [], color=c, lw=2, label=g)
                   for g, c in self.colour.items()]  # fmt: skip
        if len(handles) > 1:
            ax.legend(handles=handles, fontsize=10, loc="lower left", framealpha=0.9)
        ax.set_xlabel("step")
        ax.set_ylabel(self.curves[0][2].replace("_", " "))

    def _style_curves(self):
        ax = self.ax_curves
        lo, hi = self.selection.window
        for i, line in self._curve_lines.items():
            self._restyle(line, i)
        if self._span is not None:
            self._span.remove()
        xlim = ax.get_xlim()
        self._span = ax.axvspan(max(lo, 1), max(hi, 1), color="0.5", alpha=0.12, lw=0, zorder=0)
        ax.set_xlim(xlim)
        n = len(self.selected)
        ax.set_title(f"Training curves — {n or 'no'} run{'s' if n != 1 else ''} selected; "
                     "grey: the step window", fontsize=10)  # fmt: skip

    def _build_path(self):
        ax = self.ax_path
        ax.clear()
        self._path_lines, self._path_marks, self._path_xy = {}, [], {}
        entry = self._graph()
        if entry is None:
            ax.text(0.5, 0.5, "mapping… (the path appears with the Mapper graph)",
                    ha="center", va="center", transform=ax.transAxes, color="0.4")  # fmt: skip
            ax.set_axis_off()
            return
        ax.set_axis_on()
        g, _pos, ids = entry
        P, runs_of, steps_of = g.points[:, :2], g.members[:, 0].astype(int), g.members[:, 1]
        surf = self.surfaces.get(self._key())
        if surf is not None:  # the loss on this plane, in grey under the paths (log scale)
            A, B = np.meshgrid(surf.alpha, surf.beta, indexing="ij")
            Z = np.log10(np.clip(surf.loss, 1e-12, None))
            ax.contourf(A, B, Z, levels=14, cmap="Greys", alpha=0.45, zorder=0)
            ax.contour(A, B, Z, levels=14, colors="0.55", linewidths=0.4, zorder=0)
        for j, i in enumerate(ids):
            m = runs_of == j
            order = np.argsort(steps_of[m])
            self._path_xy[i] = (P[m][order], steps_of[m][order])
            xy = self._path_xy[i][0]
            (self._path_lines[i],) = ax.plot(
                xy[:, 0], xy[:, 1], color=self.colour[self.group_of[i]]
            )
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.set_title(f"Path on the principal plane: {self.labels_of(ids)}\n"
                     + ("o start, X end, dots: step window; shade: loss (darker: higher)"
                        if surf is not None else "o start, X end, dots: in the step window"),
                     fontsize=10)  # fmt: skip

    def _style_path(self):
        ax = self.ax_path
        for a in self._path_marks:
            a.remove()
        self._path_marks = []
        lo, hi = self.selection.window
        for i, line in self._path_lines.items():
            self._restyle(line, i)
            if self.selected and i not in self.selected:
                continue
            xy, st = self._path_xy[i]
            c = self.colour[self.group_of[i]]
            inside = (st >= lo) & (st <= hi)
            self._path_marks += [
                ax.scatter(xy[inside, 0], xy[inside, 1], s=9, color=c, zorder=4),
                ax.scatter(*xy[0], marker="o", s=30, facecolor="white", edgecolor=c, zorder=5),
                ax.scatter(*xy[-1], marker="X", s=40, color=c, edgecolor="black", lw=0.5, zorder=5),
            ]

    def labels_of(self, ids) -> str:
        groups = sorted({self.group_of[i] for i in ids})
        return f"{', '.join(groups)} ({len(ids)} runs)"

    def _spectrum_of(self, ids: tuple, window: tuple):
        key = (ids, window)
        if key not in self._spectrum_cache:
            lo, hi = window
            trajs = []
            for i in ids:
                t = self.trajectories[i]
                k = t.schedule_period
                if k is None:
                    raise InvalidArgument(
                        "no evenly spaced snapshots: record with an every(k) schedule for the spectrum"
                    )
                t = t.every(k)
                st = np.asarray(t.steps)
                t = t.select((st >= lo) & (st <= hi))
                trajs.append(t)
            n = min(len(t) for t in trajs)
            need = self.delays + 3
            if n < need:
                raise InvalidArgument(
                    f"only {n} evenly spaced snapshots in steps {lo}–{hi}: widen the window "
                    f"(DMD with {self.delays} delays needs {need})"
                )
            pca = 8 if trajs[0].weights.shape[1] > 8 else None  # as the report: 8 components
            self._spectrum_cache[key] = koopman.spectrum(
                trajs, delays=self.delays, rank=self.rank, pca=pca
            )
        return self._spectrum_cache[key]

    def _draw_spectrum(self):
        from ..plots import plot_eigenvalues

        ax = self.ax_spec
        lo, hi = self.selection.window
        # one spectrum per group and per network layout: a DMD pools its runs in one coordinate system
        layouts = {grp: list(dict.fromkeys(self.layouts[i] for i in self.chosen if self.group_of[i] == grp))
                   for grp in dict.fromkeys(self.group_of[i] for i in self.chosen)}  # fmt: skip
        by_group: dict = {}
        for i in self.chosen:
            grp, kinds = self.group_of[i], layouts[self.group_of[i]]
            if len(kinds) > 1:
                grp = f"{grp} · network {kinds.index(self.layouts[i]) + 1}"
            by_group.setdefault(grp, []).append(i)
        colour = {grp: self.colour[self.group_of[ids[0]]] for grp, ids in by_group.items()}
        self.spectra = {}
        problems = []
        for grp, ids in by_group.items():
            try:
                self.spectra[grp] = self._spectrum_of(tuple(ids), (lo, hi))
            except (InvalidArgument, ValueError) as e:
                problems.append(f"{grp}: {e}")
        if not self.spectra:
            ax.text(0.5, 0.5, "\n".join(problems) or "no spectrum", ha="center", va="center",
                    transform=ax.transAxes, wrap=True, fontsize=9, color="0.3")  # fmt: skip
            ax.set_axis_off()
            return
        plot_eigenvalues(self.spectra, ax=ax, zoom=True,
                         title=f"Koopman eigenvalues of {'the selection' if self.selected else 'all runs'},"
                               f"\nsteps {lo}–{hi}")  # fmt: skip
        for coll, grp in zip(ax.collections, self.spectra):
            coll.set_edgecolor(colour[grp])
        if ax.get_legend() is not None:  # legend colours follow the groups' colours
            for h, grp in zip(ax.get_legend().legend_handles[1:], self.spectra):
                h.set_edgecolor(colour[grp])

    def _draw_mapper(self):
        ax = self.ax_map
        entry = self._graph()
        ax.set_axis_off()
        if entry is None:
            ax.text(0.5, 0.5, "mapping…", ha="center", va="center", transform=ax.transAxes,
                    color="0.4")  # fmt: skip
            return
        g, pos, ids = entry
        if not g.nodes:
            ax.text(0.5, 0.5, "empty graph (every point was noise)", ha="center",
                    transform=ax.transAxes)  # fmt: skip
            return
        sel = {ids.index(i) for i in self.selected if i in ids}
        nodes = list(g.nodes)
        share = np.array([np.isin(g.members[g.nodes[n], 0], list(sel)).mean() for n in nodes])
        if g.links:  # one artist for every link (a line each: ~40 ms a redraw on the tour's graph)
            segments = [(pos[a], pos[b]) for a, b in g.links]
            ax.add_collection(LineCollection(segments, colors="0.6", linewidths=1, zorder=1))
        xy = np.array([pos[n] for n in nodes])
        sizes = np.array([len(g.nodes[n]) for n in nodes], dtype=float)
        if sel:
            colours, cmap, label, vmax = share, "Oranges", "share of the node in the selection", 1.0
        else:
            colours = np.array([np.mean(g.lens[g.nodes[n]]) for n in nodes])
            cmap, label, vmax = "viridis", f"mean {g.params['lens']}", None
        ax.scatter(xy[:, 0], xy[:, 1], s=30 + 270 * sizes / sizes.max(), c=colours, cmap=cmap,
                        vmin=0 if sel else None, vmax=vmax, edgecolor="black", linewidth=0.6,
                        zorder=2)  # fmt: skip
        self._mapper_xy = (xy, nodes)
        ax.set_title(f"Mapper: {len(nodes)} nodes of {self.labels_of(ids)}\n"
                     f"colour: {label}", fontsize=10)  # fmt: skip

    # -- pointing --------------------------------------------------------------------------------

    def _nearest_run(self, ax, x, y) -> tuple[int | None, float]:
        """The run whose line in panel ``ax`` passes nearest to display point (x, y), and how far
        (pixels, to its nearest point)."""
        best, who = np.inf, None
        for artist, what in self._artists.items():
            if what[0] != "run" or artist.axes is not ax:
                continue
            d = ax.transData.transform(np.asarray(artist.get_xydata(), dtype=float)) - (x, y)
            dist = np.sqrt((d**2).sum(1)).min() if len(d) else np.inf
            if dist < best:
                best, who = dist, what[1]
        return who, best

    def click(self, ax, x: float, y: float, *, add: bool = False) -> None:
        """What a click at display point (x, y) of panel ``ax`` does: on a curve or a path, select
        its run; on a Mapper node, the runs through it (``add``, a shift-click: add them, or remove
        them when all are selected already)."""
        picked: set = set()
        if ax in (self.ax_curves, self.ax_path):
            i, dist = self._nearest_run(ax, x, y)
            if i is not None and dist <= REACH:
                picked = {i}
        elif ax is self.ax_map and self._graph() is not None and hasattr(self, "_mapper_xy"):
            g, _pos, ids = self._graph()
            xy, nodes = self._mapper_xy
            d = np.hypot(*(ax.transData.transform(xy) - (x, y)).T)
            k = int(np.argmin(d))
            if d[k] <= REACH + 6:  # a node is a disc, not a point
                picked = {ids[int(r)] for r in g.members[g.nodes[nodes[k]], 0]}
        if not picked:
            return
        now = set(self.selected)
        new = (now - picked if picked <= now else now | picked) if add else picked
        self._set(runs=new)

    def describe(self, ax, x: float, y: float) -> str:
        """What lies under the pointer at display coordinates (x, y) of panel ``ax``: the hover
        read-out (run, step and loss on a curve or path; size, runs and loss of a Mapper node; an
        eigenvalue's modulus)."""
        # the points of the panel with a way to name each; only the nearest one is put in words
        # (a hover arrives up to 20 times a second, and an ensemble can hold 10^5 snapshots)
        if ax is self.ax_curves:
            pts, who = [], []
            for i, (steps, loss, _name) in enumerate(self.curves):
                ok = np.flatnonzero((steps > 0) & np.isfinite(loss))
                pts.append(np.c_[steps[ok], loss[ok]])
                who += [(i, k) for k in ok]

            def name(j):
                i, k = who[j]
                steps, loss, label = self.curves[i]
                return f"<b>{self.labels[i]}</b> · step {int(steps[k])} · {label} {loss[k]:.4g}"

            pts = np.vstack(pts) if pts else np.empty((0, 2))
        elif ax is self.ax_path and self._graph() is not None:
            g, _pos, ids = self._graph()
            pts = g.points[:, :2]

            def name(j):
                i, s = ids[int(g.members[j, 0])], g.members[j, 1]
                loss = np.interp(s, self.curves[i][0], self.curves[i][1])
                return f"<b>{self.labels[i]}</b> · step {int(s)} · loss ≈ {loss:.4g}"

        elif ax is self.ax_map and self._graph() is not None and hasattr(self, "_mapper_xy"):
            g, _pos, ids = self._graph()
            pts, nodes = self._mapper_xy

            def name(j):
                idx = g.nodes[nodes[j]]
                members = sorted({ids[int(r)] for r in g.members[idx, 0]})
                runs = ", ".join(self.labels[i] for i in members[:4]) + (
                    " …" if len(members) > 4 else ""
                )
                st = g.members[idx, 1]
                return (f"node of <b>{len(idx)}</b> snapshots · steps {int(st.min())}–{int(st.max())} "
                        f"· mean lens {np.mean(g.lens[idx]):.4g} · runs: {runs}")  # fmt: skip

        elif ax is self.ax_spec and self.spectra:
            eig = [
                (grp, lam) for grp, sp in self.spectra.items() for lam in np.asarray(sp.eigenvalues)
            ]
            pts = np.array([(lam.real, lam.imag) for _grp, lam in eig])

            def name(j):
                grp, lam = eig[j]
                return f"<b>{grp}</b> · λ = {lam.real:.4f} {lam.imag:+.4f}i · |λ| = {abs(lam):.4f}"

        else:
            return ""
        if not len(pts):
            return ""
        d = ax.transData.transform(np.asarray(pts, dtype=float)) - np.array([x, y])
        j = int(np.argmin((d**2).sum(1)))
        if np.hypot(*d[j]) <= REACH + 6 * (ax is self.ax_map):
            return name(j)
        surf = self.surfaces.get(self._key()) if ax is self.ax_path else None
        if surf is not None:  # off the paths: the loss on the plane under the pointer
            a, b = ax.transData.inverted().transform((x, y))
            if surf.alpha[0] <= a <= surf.alpha[-1] and surf.beta[0] <= b <= surf.beta[-1]:
                i, k = np.abs(surf.alpha - a).argmin(), np.abs(surf.beta - b).argmin()
                return (f"loss on the plane {surf.loss[i, k]:.4g} at PC 1 {surf.alpha[i]:.3g}, PC 2 "
                        f"{surf.beta[k]:.3g} (the runs pass near the plane, not on it)")  # fmt: skip
        return ""
