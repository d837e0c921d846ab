"""PhaseExplorer: the phase map of a sweep; pick a cell to see its metrics, its curve and its CKA."""

from __future__ import annotations

import math

import ipywidgets as W

from .. import plots
from ..errors import InvalidType
from ..taxonomy import MEANING, PhaseTable
from .base import Explorer


class PhaseExplorer(Explorer):
    """A measured :class:`landkit.taxonomy.PhaseTable`: the phase map, and for the chosen cell (pick it
    with the two dropdowns, click a button of the cell grid or a cell of the map) its numbers and the error profile of its
    mode-connectivity curves.

    Example
    -------
    >>> rows = [dict(load=w, temperature=b, loss=0.05 * b / w, mc=0.0, mc_std=0.01, cka=0.8,
    ...              test_acc=0.9, lambda_max=5.0, trace=40.0, n_seeds=2)
    ...         for w in (4, 16) for b in (8, 32)]
    >>> table = lk.taxonomy.PhaseTable("width", "batch_size", rows, lk.taxonomy.classify(rows),
    ...                                lk.taxonomy.Thresholds())
    >>> ex = lk.widgets.PhaseExplorer(table)
    >>> ex.start(wait=True)          # what the Show button does
    """

    run_label = "Show"
    title = "Phases: which cell is where, and why?"

    def __init__(self, table):
        if not isinstance(table, PhaseTable):
            raise InvalidType(
                f"table must be a landkit.taxonomy.PhaseTable, got {type(table).__name__}: measure "
                "the sweep's runs first, table = lk.taxonomy.measure(runs)"
            )
        self.table = table
        loads = sorted({r["load"] for r in table.rows})
        temps = sorted({r["temperature"] for r in table.rows})
        self.load = W.Dropdown(options=loads, value=loads[0], description=table.load)
        self.temp = W.Dropdown(options=temps, value=temps[0], description=table.temperature)
        for w in (self.load, self.temp):
            w.style.description_width = "100px"
        cell = W.Layout(width="60px")
        head = [W.Label(f"{table.load} \\ {table.temperature}", layout=W.Layout(width="120px"))]
        buttons = [W.HBox(head + [W.Label(str(tv), layout=cell) for tv in temps])]
        for lv in reversed(loads):
            row = [W.Label(str(lv), layout=W.Layout(width="120px"))]
            for tv in temps:
                phase = self._phase(lv, tv)
                b = W.Button(description=f"{phase}", tooltip=f"{table.load}={lv}, {table.temperature}={tv}",
                             layout=cell)  # fmt: skip
                b.on_click(lambda _b, lv=lv, tv=tv: self.pick(lv, tv))
                row.append(b)
            buttons.append(W.HBox(row))
        self.cells = W.VBox(buttons)
        super().__init__(
            [W.VBox([self.load, self.temp]), self.cells], css_class="lk-phase-explorer"
        )
        self.message.value = "Pick a cell (or click one in the grid) and press <b>Show</b>."

    def _row(self, lv, tv):
        for r, p in zip(self.table.rows, self.table.phase):
            if r["load"] == lv and r["temperature"] == tv:
                return r, p
        raise KeyError((lv, tv))

    def _phase(self, lv, tv):
        return self._row(lv, tv)[1]

    def pick(self, load_value, temperature_value):
        """Select a cell and show it (what a click on the grid does)."""
        self.load.value, self.temp.value = load_value, temperature_value
        self.start(wait=True)

    def cell_at(self, ax, x: float, y: float):
        """The (load, temperature) of the phase-map cell under display point (x, y), or None."""
        if ax is not getattr(self, "_map_ax", None):
            return None
        j, i = (math.floor(v + 0.5) for v in ax.transData.inverted().transform((x, y)))
        loads = sorted({r["load"] for r in self.table.rows})
        temps = sorted({r["temperature"] for r in self.table.rows})
        if not (0 <= i < len(loads) and 0 <= j < len(temps)):
            return None
        return loads[i], temps[j]

    def describe(self, ax, x: float, y: float) -> str:
        cell = self.cell_at(ax, x, y)
        if cell is None:
            return super().describe(ax, x, y)
        try:
            r, phase = self._row(*cell)
        except KeyError:
            return ""
        t = self.table
        return (f"<b>{t.load}={cell[0]}, {t.temperature}={cell[1]}: phase {phase}</b> · loss "
                f"{r['loss']:.3g} · test acc {r['test_acc']:.3f} · λ_max {r['lambda_max']:.3g} · mc "
                f"{r['mc']:+.3f} · CKA {r['cka']:.3f} · click: show it")  # fmt: skip

    def click(self, ax, x: float, y: float, *, add: bool = False) -> None:
        """A click on a cell of the phase map shows that cell (as its button in the grid does)."""
        cell = self.cell_at(ax, x, y)
        if cell is None:
            return super().click(ax, x, y, add=add)
        try:
            self._row(*cell)
        except KeyError:
            return
        self.load.value, self.temp.value = cell
        self.start()

    def work(self):
        r, phase = self._row(self.load.value, self.temp.value)
        fig, axes = plots.new_figure(2, width=4.8, height=3.8)
        plots.plot_phase_map(self.table, ax=axes[0], chosen=(self.load.value, self.temp.value))
        self._map_ax = axes[0]
        for k, prof in enumerate(r.get("mc_profiles", [])):
            import numpy as np

            t = np.linspace(0, 1, len(prof))
            axes[1].plot(t, prof, lw=1.6, label=f"seed pair {k + 1}")
        axes[1].set_xlabel("t along the Bezier curve")
        axes[1].set_ylabel("training error")
        axes[1].set_title(f"{self.table.load}={r['load']}, {self.table.temperature}={r['temperature']}: phase {phase}",
                          fontsize=10)  # fmt: skip
        if r.get("mc_profiles"):
            axes[1].legend(fontsize=10)
        self.show_figure(fig)
        self.progress(1.0, f"phase <b>{phase}</b>: loss {r['loss']:.3g}, test acc {r['test_acc']:.3f}, "
                           f"λ_max {r['lambda_max']:.3g}, trace {r['trace']:.3g}, mc {r['mc']:+.3f} ± {r['mc_std']:.3f}, "
                           f"CKA {r['cka']:.3f} ({r['n_seeds']} seeds) — <b>{MEANING.get(phase, phase)}</b>")  # fmt: skip
