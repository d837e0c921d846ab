"""Mapper graphs of point clouds with known shape, of trajectories that split, and of surfaces."""

import numpy as np
import pytest

import landkit as lk
from landkit import mapper


def test_two_separated_clusters_give_two_components():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.1, (100, 2)), rng.normal(5, 0.1, (100, 2))])
    g = mapper.graph(X, lens=X[:, 0], n_cubes=6)
    comps = g.components()
    assert len(comps) == 2
    sides = [{bool(np.mean(X[g.nodes[n], 0]) > 2.5) for n in c} for c in comps]
    assert sorted(map(tuple, sides)) == [(False,), (True,)]


def test_a_circle_gives_one_loop():
    rng = np.random.default_rng(1)
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    C = np.c_[np.cos(t), np.sin(t)] + rng.normal(0, 0.02, (400, 2))
    g = mapper.graph(C, lens=C[:, 0], n_cubes=8, overlap=0.3)
    assert len(g.components()) == 1 and len(g.loops()) == 1
    # a line (the same points' x coordinate only) has no loop
    line = mapper.graph(C[:, :1], lens=C[:, 0], n_cubes=8, overlap=0.3)
    assert len(line.loops()) == 0


def _runs_that_split(n=6, steps=40):
    """Runs from one start: half drift to (+4, 0), half to (−4, 0); loss falls along the way."""
    rng = np.random.default_rng(2)
    runs = []
    for r in range(n):
        goal = np.array([4.0 if r % 2 else -4.0, 0.0])
        s = np.linspace(0, 1, steps)[:, None]
        w = s * goal + rng.normal(0, 0.02, (steps, 2))
        loss = np.exp(-3 * s[:, 0]) + 0.01 * r
        runs.append(lk.Trajectory(np.arange(steps), w.astype(np.float32), {"loss": loss}, {}))
    return runs


def test_trajectories_that_split_into_two_end_regions():
    runs = _runs_that_split()
    g = mapper.graph(runs, lens="step", n_cubes=6, overlap=0.3, pca=None)
    (branch,) = g.branches()
    assert branch["split"] and len(branch["end_nodes"]) == 2
    ends = sorted(sorted(v) for v in branch["end_nodes"].values())
    assert ends == [[0, 2, 4], [1, 3, 5]]
    table = g.node_table
    assert {"node", "size", "mean_lens", "mean_loss", "mean_step", "runs"} <= set(table[0])
    assert sum(len(p) for p in g.run_paths().values()) >= 6
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == len(g.nodes)


def test_surface_and_bad_input():
    task = lk.tasks.digits(seed=0, n_train=100)
    model = lk.models.mlp(64, [8], 10, seed=0)
    surf = lk.landscape.plane(model, task, resolution=9, progress=False)
    g = mapper.graph(surf, n_cubes=5)
    assert g.params["lens"] == "loss" and sum(map(len, g.nodes.values())) >= 81
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="one value per point"):
        mapper.graph(X, lens=np.zeros(5))
    with pytest.raises(ValueError, match="lens= an array"):
        mapper.graph(X, lens="loss")
    with pytest.raises(ValueError, match="n_cubes"):
        mapper.graph(X, lens=X[:, 0], n_cubes=0)
    with pytest.raises(ValueError, match="NaN"):
        mapper.graph(np.full((5, 2), np.nan), lens=np.zeros(5))
    with pytest.raises(ValueError, match="lens must be one of"):
        mapper.graph(_runs_that_split(), lens="accuracy")


def test_streamed_points_equal_the_in_memory_ones():
    """Runs too large to stack: the Gram route gives the same PCA coordinates (up to sign per
    component), distances to the end and graph."""
    from landkit.mapper import _trajectory_points

    runs = list(lk.examples.example_runs("digits-widths").where(width=32))
    X, members, values = _trajectory_points(runs, 5, None)
    Xs, members_s, values_s = _trajectory_points(runs, 5, None, max_memory=1e5)  # streams
    np.testing.assert_array_equal(members, members_s)
    np.testing.assert_allclose(values_s["distance_to_end"], values["distance_to_end"], rtol=1e-6,
                               atol=1e-9)  # fmt: skip
    for k in range(5):
        sign = np.sign(X[:, k] @ Xs[:, k])
        np.testing.assert_allclose(sign * Xs[:, k], X[:, k], rtol=1e-5, atol=1e-6)
    a = lk.mapper.graph(runs, lens="loss", n_cubes=6, pca=5)
    b = lk.mapper.graph(runs, lens="loss", n_cubes=6, pca=5, max_memory=1e5)
    assert (len(a.nodes), len(a.links)) == (len(b.nodes), len(b.links))


def test_colour_bars_say_what_the_colour_is():
    runs = lk.examples.example_runs("digits-widths").where(width=32)
    g = lk.mapper.graph(list(runs)[:3], lens="loss", n_cubes=6, pca=5)
    labels = []
    for column in ("mean_lens", "mean_step", "size"):
        fig = lk.plots.plot_mapper(g, color_by=column)
        labels.append(fig.axes[-1].get_ylabel())
    assert labels == [
        "mean training loss (the lens)",
        "mean training step",
        "snapshots in the node",
    ]
