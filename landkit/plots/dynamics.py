"""Drawings of the global-dynamics lens: Mapper graphs (networkx layout, offline), Morse sets in phase
space with the runs' start and end points, and the Morse graph as a DAG.

Example
-------
>>> g = lk.mapper.graph(runs.where(width=32), lens="loss", n_cubes=6, pca=5)
>>> fig = lk.plots.plot_mapper(g, color_by="mean_step")
>>> m = lk.morse.from_map(lambda X: 0.5 * X, lower=[-1, -1], upper=[1, 1], subdiv=8)
>>> fig = lk.plots.plot_morse(m)
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument
from .style import PALETTE, house_style, new_figure

_ATTRACTOR_COLOURS = [PALETTE[i] for i in (0, 3, 2, 4, 1, 5, 7, 6)]


def _colour_label(g, column: str) -> str:
    """A colour bar's label in words: "mean lens" says nothing; "mean training loss of the node's
    snapshots" does."""
    words = {"loss": "training loss", "step": "training step", "distance_to_end": "distance to the end",
             "size": "snapshots in the node"}  # fmt: skip
    if column == "size":
        return words["size"]
    if column == "mean_lens":
        lens = (getattr(g, "params", None) or {}).get("lens", "lens")
        name = words.get(lens, str(lens).replace("_", " ")) if isinstance(lens, str) else "lens"
        return f"mean {name} (the lens)"
    key = column.removeprefix("mean_")
    return f"mean {words.get(key, key.replace('_', ' '))}"


def plot_mapper(g, *, color_by: str = "mean_lens", ax=None, seed: int = 0, labels: bool = False,
                title: str | None = None, cmap: str = "viridis"):  # fmt: skip
    """A Mapper graph drawn with a seeded spring layout: node area ∝ members, colour = a node-table
    column (``mean_lens``, ``mean_loss``, ``mean_step``, ``size``, ...)."""
    import networkx as nx

    nxg = g.to_networkx()
    table = {row["node"]: row for row in g.node_table}
    if ax is None:
        _, ax = new_figure(width=6.0, height=4.8)
    with house_style():
        if not len(nxg):
            ax.text(
                0.5, 0.5, "empty graph (every point was noise)", ha="center", transform=ax.transAxes
            )
            return ax.figure
        if color_by not in next(iter(table.values())):
            raise InvalidArgument(
                f"color_by must be a node-table column, one of {sorted(next(iter(table.values())))}"
            )
        pos = nx.spring_layout(nxg, seed=seed, k=1.5 / np.sqrt(len(nxg)))
        nodes = list(nxg.nodes)
        colours = np.array([table[n][color_by] for n in nodes], dtype=float)
        sizes = np.array([table[n]["size"] for n in nodes], dtype=float)
        for a, b in nxg.edges:
            ax.plot(*zip(pos[a], pos[b]), color="0.6", lw=1, zorder=1)
        xy = np.array([pos[n] for n in nodes])
        sc = ax.scatter(xy[:, 0], xy[:, 1], s=30 + 270 * sizes / sizes.max(), c=colours, cmap=cmap,
                        edgecolor="black", linewidth=0.6, zorder=2)  # fmt: skip
        ax.figure.colorbar(sc, ax=ax, label=_colour_label(g, color_by), shrink=0.8)
        if labels:
            for n, (x, y) in zip(nodes, xy):
                ax.annotate(n.replace("cube", "c").replace("_cluster", "·"), (x, y), fontsize=9,
                            ha="center", va="center")  # fmt: skip
        ax.set_axis_off()
        comps = nx.number_connected_components(nxg)
        ax.set_title(title or f"Mapper graph — {len(nodes)} nodes, {nxg.number_of_edges()} links, "
                              f"{comps} component{'s' if comps != 1 else ''}; lens: {g.params['lens']}",
                     fontsize=10)  # fmt: skip
    return ax.figure


def plot_morse(m, *, starts=None, ends=None, ax=None, dims=(0, 1), basins: bool = True,
               title: str | None = None):  # fmt: skip
    """Phase space: each box coloured by the attractor it flows to (the order retraction, light), the
    Morse sets (attractors saturated, the other sets grey), and the runs' start (o) and end (x) points
    coloured by their basin."""
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import to_rgba

    def boxes_as(rects, colours):  # one collection, not one patch per box (4870 patches took 4 s)
        x0, y0, x1, y1 = (np.asarray(c, dtype=float) for c in rects)
        verts = np.stack([np.c_[x0, y0], np.c_[x1, y0], np.c_[x1, y1], np.c_[x0, y1]], 1)
        return PolyCollection(verts, facecolors=colours, edgecolors="none", linewidths=0)

    k = len(m.lower)
    i, j = dims if k > 1 else (0, 0)
    if ax is None:
        _, ax = new_figure(width=5.4, height=4.8)
    colour = {
        a: _ATTRACTOR_COLOURS[n % len(_ATTRACTOR_COLOURS)] for n, a in enumerate(m.attractors)
    }
    with house_style():
        if basins and k == 2:
            b = np.asarray(m.boxes, dtype=float)
            shade = [to_rgba(colour.get(a, "white" if a == -1 else "0.85"), 0.18)
                     for a in m.box_attractor]  # fmt: skip
            ax.add_collection(boxes_as((b[:, 0], b[:, 1], b[:, 2], b[:, 3]), shade))
        order = [v for v in range(len(m.morse_sets)) if v not in colour] + list(colour)
        sets = [np.asarray(m.morse_sets[v], dtype=float).reshape(-1, 2 * k) for v in order]
        if sets and sum(len(S) for S in sets):
            S = np.vstack(sets)
            fills = [to_rgba(colour.get(v, "0.45"), 0.95 if v in colour else 0.6)
                     for v, part in zip(order, sets) for _ in range(len(part))]  # fmt: skip
            top = S[:, k + j] if k > 1 else S[:, j] * 0 + 0.05
            bottom = S[:, j] if k > 1 else S[:, j] * 0
            ax.add_collection(boxes_as((S[:, i], bottom, S[:, k + i], top), fills))
        for pts, marker, name in ((starts, "o", "start"), (ends, "x", "end")):
            if pts is None:
                continue
            pts = np.atleast_2d(np.asarray(pts, dtype=float))
            b = m.basin_of(pts)
            cs = [colour.get(a, "0.3") for a in b]
            ax.scatter(pts[:, i], pts[:, j] if k > 1 else np.zeros(len(pts)), c=cs, marker=marker,
                       s=22, linewidths=1.2, edgecolors="black" if marker == "o" else None,
                       label=f"run {name}s", zorder=3)  # fmt: skip
        ax.set_xlim(m.lower[i], m.upper[i])
        ax.set_ylim(m.lower[j], m.upper[j])
        names = (
            [f"w[{c}]" for c in m.coords] if m.coords is not None else [f"x{d}" for d in range(k)]
        )
        ax.set_xlabel(f"{names[i]} (weight value)" if m.coords is not None else names[i])
        ax.set_ylabel(f"{names[j]} (weight value)" if m.coords is not None else names[j])
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], marker="s", ls="none", color=colour[a], ms=8, label=f"attractor {a}")
                   for a in m.attractors]  # fmt: skip
        handles.append(
            Line2D([], [], marker="s", ls="none", color="0.45", ms=8, label="other Morse sets")
        )
        if starts is not None or ends is not None:
            handles += [Line2D([], [], marker="o", ls="none", color="0.3", label="run starts"),
                        Line2D([], [], marker="x", ls="none", color="0.3", label="run ends")]  # fmt: skip
        ax.legend(
            handles=handles,
            fontsize=10,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
        )
        ax.set_title(title or f"Morse sets and basins (subdivision {m.subdiv})", fontsize=11)
    return ax.figure


def plot_morse_graph(m, *, ax=None, title: str | None = None):
    """The Morse graph as a DAG: each set a node (attractors coloured, at the bottom), an arrow where
    the flow goes from one set down to another; nodes are laid out in layers by their height in the
    order."""
    import networkx as nx

    g = m.graph
    if ax is None:
        _, ax = new_figure(width=5.0, height=4.4)
    colour = {
        a: _ATTRACTOR_COLOURS[n % len(_ATTRACTOR_COLOURS)] for n, a in enumerate(m.attractors)
    }
    with house_style():
        height = {}
        for v in reversed(list(nx.topological_sort(g))):
            height[v] = 1 + max((height[w] for w in g.successors(v)), default=-1)
        layers: dict = {}
        for v, h in height.items():
            layers.setdefault(h, []).append(v)
        pos = {}
        for h, vs in layers.items():
            for n, v in enumerate(sorted(vs)):
                pos[v] = ((n + 1) / (len(vs) + 1), h)
        for u, v in g.edges:
            ax.annotate("", xy=pos[v], xytext=pos[u],
                        arrowprops=dict(arrowstyle="-|>", color="0.5", lw=0.8, shrinkA=9, shrinkB=9))  # fmt: skip
        for v, (x, y) in pos.items():
            ax.scatter([x], [y], s=260 if v in colour else 150, color=colour.get(v, "0.75"),
                       edgecolor="black", zorder=3)  # fmt: skip
            if v in colour or len(g) <= 25:
                ax.annotate(str(v), (x, y), ha="center", va="center", fontsize=9, zorder=4,
                            color="white" if v in colour else "black")  # fmt: skip
        ax.set_axis_off()
        n_att = len(m.attractors)
        ax.set_title(title or f"Morse graph — {len(g)} set{'s' if len(g) != 1 else ''}, {n_att} "
                              f"attractor{'s' if n_att != 1 else ''} (coloured, bottom)", fontsize=10)  # fmt: skip
    return ax.figure
