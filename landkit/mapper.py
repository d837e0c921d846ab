"""Mapper graphs (KeplerMapper underneath) of training trajectories, loss surfaces or any point cloud.

Mapper covers the range of a *lens* (a value per point: loss, step, a principal component, distance to
the end of the run) with ``n_cubes`` overlapping intervals, clusters the points of each interval, and
links clusters that share points. For an ensemble of runs the result is a small graph: where runs travel
together, where they split into different end regions, where training lingers (large nodes) or loops.

Example
-------
>>> wide = runs.where(width=32)        # one architecture: Mapper compares points of one space
>>> g = lk.mapper.graph(wide, lens="loss", n_cubes=8, overlap=0.3, pca=5)
>>> len(g.nodes) > 1, sorted(g.node_table[0])[:3]
(True, ['mean_distance_to_end', 'mean_lens', 'mean_loss'])
>>> fig = lk.plots.plot_mapper(g, color_by="mean_step")
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .errors import InvalidArgument
from .progress import Progress
from .results import Result, with_params
from .validate import integer, memory, number

__all__ = ["MapperGraph", "graph"]


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class MapperGraph(Result):
    """A Mapper graph.

    Attributes
    ----------
    nodes : dict node id -> indices of its member points
    links : list of (node, node) pairs sharing points
    points : (n, d) the clustered points (PCA coordinates for trajectories)
    lens : (n,) the lens value of each point
    members : (n, 2) (run index, step) of each point for trajectories, else None
    values : dict name -> (n,) per-point attributes averaged per node (``loss``, ``step``, ...)
    kmapper_graph : KeplerMapper's own graph dict (for its HTML output)

    ``params`` says how it was built (lens, n_cubes, overlap, clusterer, eps, pca).
    """

    nodes: dict
    links: list
    points: np.ndarray
    lens: np.ndarray
    members: np.ndarray | None
    values: dict
    kmapper_graph: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def node_table(self) -> list[dict]:
        """One row per node: ``node``, ``size``, mean of every per-point value, ``runs`` present."""
        rows = []
        for node, idx in self.nodes.items():
            row = {"node": node, "size": len(idx), "mean_lens": float(np.mean(self.lens[idx]))}
            for name, v in self.values.items():
                row[f"mean_{name}"] = float(np.mean(v[idx]))
            if self.members is not None:
                row["runs"] = sorted({int(r) for r in self.members[idx, 0]})
            rows.append(row)
        return rows

    def to_networkx(self):
        """The graph as a networkx Graph; node attributes are the node table's columns."""
        import networkx as nx

        g = nx.Graph()
        for row in self.node_table:
            g.add_node(row["node"], **{k: v for k, v in row.items() if k != "node"})
        g.add_edges_from(self.links)
        return g

    def components(self) -> list[set]:
        import networkx as nx

        return [set(c) for c in nx.connected_components(self.to_networkx())]

    def loops(self) -> list[list]:
        """Independent cycles of the graph (a cycle basis): regions that trajectories circle."""
        import networkx as nx

        return nx.cycle_basis(self.to_networkx())

    def _node_of_point(self):
        # each point's nodes (a point may sit in two overlapping nodes)
        out: dict[int, list] = {}
        for node, idx in self.nodes.items():
            for i in idx:
                out.setdefault(int(i), []).append(node)
        return out

    def run_paths(self) -> dict[int, list]:
        """For trajectories: each run's sequence of nodes in step order (repeats collapsed)."""
        if self.members is None:
            raise InvalidArgument(
                "run paths need trajectories (this graph was built from plain points)"
            )
        where = self._node_of_point()
        paths: dict[int, list] = {}
        for r in np.unique(self.members[:, 0]):
            idx = np.flatnonzero(self.members[:, 0] == r)
            idx = idx[np.argsort(self.members[idx, 1], kind="stable")]
            seq = []
            for i in idx:
                for node in sorted(where.get(int(i), [])):
                    if not seq or seq[-1] != node:
                        seq.append(node)
            paths[int(r)] = seq
        return paths

    def branches(self) -> list[dict]:
        """Where runs that share a start split: for each group of runs whose first snapshots share a
        node, the nodes holding their last snapshots. A group with more than one end node is a split
        (``"split": True``); ``"path_lengths"`` counts the nodes each run visits (long paths: elongated
        training)."""
        if self.members is None:
            raise InvalidArgument(
                "branches need trajectories (this graph was built from plain points)"
            )
        where = self._node_of_point()
        first, last = {}, {}
        for r in np.unique(self.members[:, 0]):
            idx = np.flatnonzero(self.members[:, 0] == r)
            order = idx[np.argsort(self.members[idx, 1], kind="stable")]
            first[int(r)] = set(where.get(int(order[0]), []))
            last[int(r)] = tuple(sorted(where.get(int(order[-1]), [])))
        paths = self.run_paths()
        groups: list[dict] = []
        for r in sorted(first):
            for g in groups:
                if g["start_nodes"] & first[r]:
                    g["runs"].append(r)
                    g["start_nodes"] |= first[r]
                    break
            else:
                groups.append({"start_nodes": set(first[r]), "runs": [r]})
        out = []
        for g in groups:
            ends: dict = {}
            for r in g["runs"]:
                ends.setdefault(last[r], []).append(r)
            out.append({"start_nodes": sorted(g["start_nodes"]), "runs": g["runs"],
                        "end_nodes": {" | ".join(k) or "(noise)": v for k, v in ends.items()},
                        "split": len(ends) > 1,
                        "path_lengths": {r: len(paths[r]) for r in g["runs"]}})  # fmt: skip
        return out

    def to_html(self, path, title: str = "landkit Mapper graph") -> str:
        """kmapper's interactive HTML (it loads d3 from a CDN: it draws nothing offline)."""
        import kmapper as km

        return km.KeplerMapper(verbose=0).visualize(
            self.kmapper_graph, path_html=str(path), title=title, color_values=self.lens,
            color_function_name="lens",
        )  # fmt: skip


def _auto_eps(X: np.ndarray, min_samples: int) -> float:
    """DBSCAN's eps from the data: 1.5 × the (1 − 2/n) quantile of the edge lengths of a minimum
    spanning tree of the points (over their 10-nearest-neighbour graph). The tree's edges are the gaps
    a cluster must bridge to stay in one piece; the two longest (between separated clusters) are left
    out. Pass ``eps=`` when the clusters you expect are more than two or unevenly dense."""
    from scipy.sparse.csgraph import minimum_spanning_tree
    from sklearn.neighbors import NearestNeighbors

    k = min(max(10, min_samples + 1), len(X))
    knn = NearestNeighbors(n_neighbors=k).fit(X).kneighbors_graph(X, mode="distance")
    edges = minimum_spanning_tree(knn.maximum(knn.T)).data
    edges = edges[edges > 0]
    q = max(0.9, 1 - 2 / max(len(edges), 1))
    eps = 1.5 * float(np.quantile(edges, q)) if len(edges) else 0.0
    return eps if eps > 0 else 1e-9


def _trajectory_points(runs, pca, max_snapshots, bar=None, max_memory=2 * 2**30):
    runs = list(runs)
    if not runs:
        raise InvalidArgument("no runs given")
    dims = {t.weights.shape[1] for t in runs}
    if len(dims) > 1:
        raise InvalidArgument(
            f"the runs record different numbers of values {sorted(dims)}: a Mapper graph of runs "
            "needs one network layout; choose them, for example runs.where(width=8)"
        )
    picks = []
    for t in runs:
        idx = np.arange(len(t))
        if max_snapshots and len(idx) > max_snapshots:
            idx = np.unique(np.linspace(0, len(t) - 1, max_snapshots).round().astype(int))
        picks.append(idx)
    members, values, end = _point_labels(runs, picks)
    P = runs[0].weights.shape[1]
    if pca and pca < P and (P > len(members) or 8 * P * len(members) > max_memory):
        # wider than long (every network) or too large to stack: PCA scores and distances from the
        # joint Gram matrix, chunk by chunk — exact, and N × N memory instead of ~3 copies of N × P
        from .linalg import joint_gram

        w0 = np.asarray(runs[0].weights[0], dtype=np.float64)
        done = [0]

        def tick(fraction):  # in runs read: one per run when one pass covers every column
            if bar is not None and round(fraction * len(runs)) > done[0]:
                bar.update(round(fraction * len(runs)) - done[0])
                done[0] = round(fraction * len(runs))

        G = joint_gram([t.weights for t in runs], picks, w0, max_memory, tick=tick)
        n, i = np.diag(G), np.arange(len(G))
        values["distance_to_end"] = np.sqrt(np.maximum(n + n[end] - 2 * G[i, end], 0))
        J = np.eye(len(G)) - 1.0 / len(G)
        lam, U = np.linalg.eigh(J @ G @ J)  # the centred Gram matrix: scikit-learn's PCA up to sign
        lam, U = lam[::-1][:pca], U[:, ::-1][:, :pca]
        return U * np.sqrt(np.maximum(lam, 0)), members, values
    W = []
    for t, idx in zip(runs, picks):
        W.append(np.asarray(t.weights[idx], dtype=np.float64))
        if bar is not None:
            bar.update()
    W = np.vstack(W)
    values["distance_to_end"] = np.linalg.norm(W - W[end], axis=1)
    if pca and pca < W.shape[1]:
        from sklearn.decomposition import PCA

        W = PCA(n_components=pca, random_state=0).fit_transform(W)
    return W, members, values


def _point_labels(runs, picks):
    """(run, step) of every selected snapshot, its step and loss, and the row of its run's last one."""
    members, values, ends, at = [], {"step": [], "loss": []}, [], 0
    for r, (t, idx) in enumerate(zip(runs, picks)):
        members.append(np.stack([np.full(len(idx), r), t.steps[idx]], 1))
        values["step"].append(t.steps[idx].astype(float))
        loss = t.scalars.get("loss")
        values["loss"].append(
            np.asarray(loss)[idx] if loss is not None else np.full(len(idx), np.nan)
        )
        ends.append(np.full(len(idx), at + len(idx) - 1))
        at += len(idx)
    values = {k: np.concatenate(v) for k, v in values.items()}
    if np.isnan(values["loss"]).all():
        values.pop("loss")
    return np.vstack(members), values, np.concatenate(ends)


def graph(source, /, lens="loss", *, n_cubes: int = 12, overlap: float = 0.3, clusterer=None,
          eps: float | None = None, min_samples: int = 2, pca: int | None = 10,
          max_snapshots: int | None = None, max_memory: float = 2 * 2**30,
          progress=False) -> MapperGraph:  # fmt: skip
    """A Mapper graph of trajectories, a landscape surface, or a point cloud.

    ``source``: runs (a list of Trajectories or a RunSet: every snapshot of every run, jointly PCA-reduced to
    ``pca`` components; ``max_snapshots`` thins each run evenly); a :class:`landkit.landscape.Surface`
    (the grid points (α, β, loss), loss as the default lens); or an (n, d) array, with ``lens`` an
    array of length n.

    ``lens``: ``"loss"``, ``"step"`` (log step), ``"pca0"``/``"pca1"`` (a principal component),
    ``"distance"`` (to the run's final point), or an array of per-point values. ``clusterer``: any
    scikit-learn clusterer; default DBSCAN with ``eps`` from the data (:func:`_auto_eps`) and
    ``min_samples``. Snapshots larger than ``max_memory`` bytes (float64) are never stacked: their PCA
    comes from the joint Gram matrix, read chunk by chunk. ``progress``: True for a bar, or a callable ``(done, total)`` over the runs read
    (raise :class:`landkit.Cancelled` to stop).

    Example
    -------
    >>> t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    >>> circle = np.c_[np.cos(t), np.sin(t)]
    >>> g = lk.mapper.graph(circle, lens=circle[:, 0], n_cubes=6, overlap=0.3)
    >>> len(g.loops())                            # Mapper sees the circle's hole
    1
    """
    import kmapper as km
    from sklearn.cluster import DBSCAN

    n_cubes = integer("n_cubes", n_cubes, minimum=1, maximum=10_000)
    overlap = number("overlap", overlap, minimum=0, below=1)
    if eps is not None:
        eps = number("eps", eps, minimum=0, strict=True)
    min_samples = integer("min_samples", min_samples, minimum=1)
    if pca is not None:
        pca = integer("pca", pca, minimum=1)
    if max_snapshots is not None:
        max_snapshots = integer("max_snapshots", max_snapshots, minimum=2)
    max_memory = memory("max_memory", max_memory)
    members = None
    values: dict = {}
    if hasattr(source, "alpha") and hasattr(source, "loss"):  # a Surface
        A, B = np.meshgrid(source.alpha, source.beta, indexing="ij")
        loss = np.asarray(source.loss, dtype=float).ravel()
        X = np.stack([A.ravel(), B.ravel(), loss], 1)
        values = {"loss": loss}
        lens_values = loss if isinstance(lens, str) else np.asarray(lens, dtype=float)
        lens_name = "loss" if isinstance(lens, str) else "custom"
    elif isinstance(source, np.ndarray) or (isinstance(source, (list, tuple)) and source and
                                            np.ndim(source[0]) == 1 and not hasattr(source[0], "weights")):  # fmt: skip
        X = np.asarray(source, dtype=float)
        if X.ndim != 2:
            raise InvalidArgument(f"points must be an (n, d) array, got shape {X.shape}")
        if isinstance(lens, str):
            raise InvalidArgument("for a point cloud give lens= an array of one value per point")
        lens_values, lens_name = np.asarray(lens, dtype=float), "custom"
    else:
        runs = list(source)
        with Progress(progress, len(runs), "reading runs", unit="run") as bar:
            X, members, values = _trajectory_points(runs, pca, max_snapshots, bar, max_memory)
        if isinstance(lens, str):
            named = {"loss": values.get("loss"), "step": np.log10(1 + values["step"]),
                     "distance": values["distance_to_end"], "pca0": X[:, 0],
                     "pca1": X[:, 1] if X.shape[1] > 1 else None}  # fmt: skip
            if lens not in named or named[lens] is None:
                raise InvalidArgument(
                    f"lens must be one of {[k for k, v in named.items() if v is not None]} or an array"
                )
            lens_values, lens_name = named[lens], lens
            if lens == "loss" and not np.isfinite(lens_values).all():
                raise InvalidArgument(
                    f"lens='loss': {int((~np.isfinite(lens_values)).sum())} of {len(lens_values)} "
                    "snapshots have no full training loss (lk.Recorder evaluates about 100 snapshots "
                    "of a densely recorded run, or the run diverged); use lens='step' or "
                    "'distance', or record with lk.Recorder(evaluate=True)"
                )
        else:
            lens_values, lens_name = np.asarray(lens, dtype=float), "custom"
    if len(X) < 2:
        raise InvalidArgument(f"need at least 2 points, got {len(X)}")

    if lens_values.shape != (len(X),):
        raise InvalidArgument(
            f"lens must have one value per point ({len(X)}), got shape {lens_values.shape}"
        )
    if not (np.isfinite(X).all() and np.isfinite(lens_values).all()):
        raise InvalidArgument("the points or the lens contain NaN or inf")
    if n_cubes > len(X):
        raise InvalidArgument(
            f"n_cubes={n_cubes} is more intervals than the {len(X)} points: most would be empty; "
            f"take n_cubes <= {len(X)} (10 to 30 is usual)"
        )
    if clusterer is None:
        eps = eps or _auto_eps(X, min_samples)
        clusterer = DBSCAN(eps=eps, min_samples=min_samples)
    mapper = km.KeplerMapper(verbose=0)
    g = mapper.map(lens_values[:, None], X, clusterer=clusterer,
                   cover=km.Cover(n_cubes=n_cubes, perc_overlap=overlap))  # fmt: skip
    nodes = {k: np.asarray(v, dtype=int) for k, v in g["nodes"].items()}
    links = sorted({tuple(sorted((a, b))) for a, bs in g["links"].items() for b in bs})
    params = dict(lens=lens_name, n_cubes=n_cubes, overlap=overlap, clusterer=repr(clusterer),
                  eps=eps, pca=pca, n_points=len(X))  # fmt: skip
    return with_params(MapperGraph(nodes, links, X, lens_values, members, values, g), **params)
