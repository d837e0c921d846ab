"""Conley–Morse graphs on maps with known dynamics."""

import numpy as np
import pytest

import landkit as lk
from landkit import morse


def bistable(X):
    X = np.asarray(X, dtype=float)
    return np.stack([X[:, 0] - 0.3 * (X[:, 0] ** 3 - X[:, 0]), 0.5 * X[:, 1]], 1)


def contraction(X, c=(0.5, 0.5)):
    return 0.5 * (np.asarray(X, dtype=float) - c) + c


def _check_bistable(m):
    centres = m.centers()
    assert len(m.attractors) == 2
    xs = sorted(centres[m.attractors][:, 0])
    assert xs[0] == pytest.approx(-1, abs=0.1) and xs[1] == pytest.approx(1, abs=0.1)
    assert np.abs(centres[m.attractors][:, 1]).max() < 0.1
    # the unstable set at the origin sits above both attractors in the order
    import networkx as nx

    g = m.graph
    origin = [v for v in g.nodes if np.abs(centres[v]).max() < 0.05]
    assert origin and all(set(m.attractors) <= nx.descendants(g, v) for v in origin)
    # every point away from the separatrix flows to the attractor on its side
    rng = np.random.default_rng(1)
    pts = rng.uniform(-1.9, 1.9, (400, 2))
    pts = pts[np.abs(pts[:, 0]) > 0.3]
    basin = m.basin_of(pts)
    assert np.all(basin >= 0)
    side = np.sign(centres[basin, 0])
    assert np.all(side == np.sign(pts[:, 0]))
    assert m.basin_of([[0.0, 0.0]])[0] == -2 and m.basin_of([[5.0, 0.0]])[0] == -1


def test_exact_map_two_attractors_and_their_basins():
    _check_bistable(morse.from_map(bistable, [-2, -2], [2, 2], subdiv=14))


def test_surrogate_from_sampled_pairs():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (200, 2))
    m = morse.from_pairs(X, bistable(X), subdiv=14)
    assert min(m.info["surrogate_r2"]) > 0.999
    _check_bistable(m)


def test_no_surrogate_leaks_into_the_next_call():
    """DOODL3's script reused one fitted surrogate across calls; each landkit call fits its own."""
    rng = np.random.default_rng(0)
    A = rng.uniform(-2, 2, (120, 2))
    B = rng.uniform(0, 1, (120, 2))
    fresh = morse.from_pairs(B, contraction(B), subdiv=12)
    morse.from_pairs(A, bistable(A), subdiv=12)
    after = morse.from_pairs(B, contraction(B), subdiv=12)
    assert len(after.attractors) == 1
    np.testing.assert_allclose(after.centers()[after.attractors[0]], [0.5, 0.5], atol=0.05)
    np.testing.assert_array_equal(after.box_attractor, fresh.box_attractor)
    assert len(after.morse_sets) == len(fresh.morse_sets)


def test_from_runs_picks_the_spread_coordinates():
    rng = np.random.default_rng(2)
    runs = []
    for _ in range(60):
        x = rng.uniform(-2, 2, 2)
        rows = []
        for _step in range(11):
            rows.append([x[0], 7.0, x[1]])  # a constant middle coordinate: never chosen
            x = bistable(x[None])[0]
        runs.append(lk.Trajectory(np.arange(11), np.array(rows, dtype=np.float32), {}, {}))
    m = morse.from_runs(runs, start_step=0, end_step=1, coords=2, subdiv=12)
    assert sorted(m.coords) == [0, 2] and len(m.attractors) == 2
    with pytest.raises(ValueError, match="at least 5 runs"):
        morse.from_runs(runs[:3], start_step=0)
    with pytest.raises(ValueError, match="coords=4"):
        morse.from_runs(runs, start_step=0, coords=4)
    with pytest.raises(ValueError, match="subdiv"):
        morse.from_runs(runs, start_step=0, subdiv=40)


def test_bad_pairs():
    with pytest.raises(ValueError, match="at least 5"):
        morse.from_pairs(np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="one shape"):
        morse.from_pairs(np.zeros((8, 2)), np.zeros((8, 3)))
    with pytest.raises(ValueError, match="NaN"):
        morse.from_pairs(np.full((8, 2), np.nan), np.zeros((8, 2)))
    with pytest.raises(ValueError, match="subdiv"):
        morse.from_map(bistable, [-1, -1], [1, 1], subdiv=1)


def test_small_ensembles_report_a_heldout_fit_and_warn():
    """5 runs: the in-sample R² of a GP is ≈ 1 whatever the map; the held-out one says how much the
    surrogate can be trusted, and the user is told the ensemble is too small."""
    runs = list(lk.examples.example_runs("digits-widths").where(width=8))
    with pytest.warns(UserWarning, match="not reliable"):
        m = lk.morse.from_runs(runs, start_step=10, subdiv=8)
    train, held = m.info["surrogate_r2_train"], m.info["surrogate_r2"]
    assert min(train) > 0.99 and all(h < t for h, t in zip(held, train))
    # a well-sampled smooth map: held-out ≈ 1 and no warning
    X0 = np.random.default_rng(0).uniform(-1, 1, (60, 2))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = lk.morse.from_pairs(X0, 0.5 * X0, subdiv=8)
    assert min(m.info["surrogate_r2"]) > 0.99


def test_a_coordinate_the_start_does_not_predict_is_named():
    """Enough runs, but the end state's second coordinate is noise: the warning names it (and does
    not tell the user to record more runs, which would not help)."""
    rng = np.random.default_rng(0)
    X0 = rng.uniform(-1, 1, (100, 2))
    X1 = np.stack([0.5 * X0[:, 0], 0.01 * rng.normal(size=100)], 1)
    with pytest.warns(
        UserWarning, match=r"predicts coordinate\(s\) \[1\] of the end state poorly"
    ) as w:
        lk.morse.from_pairs(X0, X1, subdiv=6)
    assert not any("or more runs" in str(x.message) for x in w)


@pytest.mark.parametrize("seed", [1, 4])
def test_the_surrogate_does_not_stop_in_a_degenerate_optimum(seed):
    """A noisy step map (two basins): fitted from the data's length scales alone, scikit-learn's
    optimiser stopped at length scales 1e-3 of the data (log-likelihood -141.9 against -23 to -44 at the
    real optimum), explaining every run as noise: held-out R² about 0, and a bistable ensemble got one
    attractor. Seeded restarts find the real optimum."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (100, 2))
    Y = np.where(X[:, :1] > 0, 1.6, -0.5) + 0.3 * X + rng.normal(0, 0.3, (100, 2))
    f, scores = lk.morse.surrogate(X, Y)
    assert min(scores["heldout_r2"]) > 0.7, scores
    np.testing.assert_allclose(f(np.array([[1.0, 0.0], [-1.0, 0.0]]))[:, 0], [1.9, -0.8], atol=0.25)


def test_runs_of_different_networks_are_refused_naming_the_choice():
    """Coordinate 2157 of a width-8 network and of a width-32 one are different weights: a Morse graph
    (and the states drawn on it) of a mixed ensemble was a raw numpy error ('all input arrays must
    have the same shape'); it is refused, saying how to choose one layout."""
    runs = lk.examples.example_runs("digits-widths")
    assert len({c["width"] for c in runs.configs}) > 1
    with pytest.raises(lk.LandkitError, match=r"different numbers of weights.*runs.where"):
        lk.morse.from_runs(list(runs), start_step=50)
    with pytest.raises(lk.LandkitError, match="one network layout"):
        lk.morse.states(list(runs), coords=[0, 1])
    assert lk.morse.states(list(runs.where(width=8)), coords=[0, 1]).shape == (5, 2)
    with pytest.raises(lk.LandkitError, match=r"one network layout.*runs\.where"):
        lk.mapper.graph(list(runs))  # the Mapper graph of runs says the same


def test_training_map_is_gradient_descent_exactly():
    """Least squares has a closed-form gradient: the map must be k steps of w ← w − lr·(∇L + wd·w)."""
    import torch

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = X @ [1.5, -0.5] + 0.1 * rng.normal(size=30)
    task = lk.tasks.as_task((torch.tensor(X, dtype=torch.float32),
                             torch.tensor(y[:, None], dtype=torch.float32)),
                            torch.nn.functional.mse_loss)  # fmt: skip
    f = lk.morse.training_map(torch.nn.Linear(2, 1, bias=False), task, steps=3, lr=0.1,
                              weight_decay=0.05)  # fmt: skip
    Xd = task.x_train.double().numpy()
    yd = task.y_train.double().numpy()[:, 0]
    P = rng.uniform(-2, 2, (7, 2))
    W = P.copy()
    for _ in range(3):
        W = W - 0.1 * (2 / 30 * (W @ Xd.T - yd) @ Xd + 0.05 * W)
    np.testing.assert_allclose(f(P), W, rtol=1e-10, atol=1e-12)
    assert f.coords == [0, 1]
    # a task whose training loss needs the model as a function (a PINN's objective) takes that path
    by_objective = task.replace(objective=lambda net, x, y: ((net(x) - y) ** 2).mean())
    g = lk.morse.training_map(torch.nn.Linear(2, 1, bias=False), by_objective, steps=3, lr=0.1,
                              weight_decay=0.05)  # fmt: skip
    np.testing.assert_allclose(g(P), W, rtol=1e-10, atol=1e-12)
    # a frozen parameter stays where the point puts it; the other one moves as before
    lin = torch.nn.Linear(2, 1)
    lin.bias.requires_grad_(False)
    g = lk.morse.training_map(lin, task, steps=1, lr=0.1)
    out = g(np.array([[0.3, -0.2, 0.7]]))
    assert out[0, 2] == 0.7 and not np.allclose(out[0, :2], [0.3, -0.2])


def test_training_map_refuses_what_it_cannot_map():
    import torch

    task = lk.tasks.iris(features=("petal width",), classes=(1, 2))
    with pytest.raises(lk.LandkitError, match=r"at most 4.*from_runs"):
        lk.morse.training_map(lk.models.mlp(1, [2], 2), task, lr=0.1)
    bn = torch.nn.Sequential(
        torch.nn.Linear(1, 1, bias=False), torch.nn.BatchNorm1d(1, affine=False)
    )
    with pytest.raises(lk.LandkitError, match="buffers"):
        lk.morse.training_map(bn, task, lr=0.1)


@pytest.mark.parametrize("lower,upper,subdiv", [(-3, 3, 12), (-2.5, 2.5, 12), (-2.7, 2.9, 10)])
def test_a_relu_unit_has_two_attractors_of_different_accuracy(lower, upper, subdiv, tmp_path):
    """DOODL3's claim on a network whose whole weight space is the plane: the exact training map of one
    ReLU unit and a read-out (petal width, versicolor vs virginica) has two attracting fixed points —
    w = v ≈ 2.2, which separates the species (balanced accuracy 0.90 on the test split), and
    w = v ≈ −1.8, where the unit fires for the other side and the model calls every flower versicolor
    (0.50). Fixed points checked by iterating the map; the Morse graph finds both on every domain."""
    task = lk.tasks.iris(features=("petal width",), classes=(1, 2))
    f = lk.morse.training_map(lk.models.relu_unit(), task, steps=10, lr=0.5, weight_decay=1e-2)
    P = np.array([[1.0, 1.0], [-1.0, -1.0]])
    for _ in range(200):
        P = f(P)
    np.testing.assert_allclose(f(P), P, atol=1e-9)  # two fixed points
    np.testing.assert_allclose(P, [[2.17, 2.17], [-1.80, -1.80]], atol=0.02)
    m = lk.morse.from_map(f, [lower, lower], [upper, upper], subdiv=subdiv)
    assert len(m.attractors) == 2 and m.coords == [0, 1]
    assert sorted(m.basin_of(P).tolist()) == sorted(m.attractors)
    runs = lk.examples.doodl3_ensemble(tmp_path / "unit", "iris-unit", n_runs=12, steps=200,
                                       lr=0.5, batch_size=None)  # fmt: skip
    rows = {r["group"]: r for r in lk.morse.compare_groups(m, runs)}
    accs = sorted(round(r["balanced_accuracy"], 2) for r in rows.values())
    assert sum(r["runs"] for r in rows.values()) == 12 and len(rows) == 2
    assert accs == [0.5, 0.9]


def test_a_surrogate_of_the_short_map_finds_both_basins_the_long_one_smooths_them(tmp_path):
    """The same unit learned from an ensemble: the 10-step map (step 0 → 10) is smooth and a GP learns
    it (both attractors, each run's group as the exact map says); the map to the end sends every
    start to one of two points, a step the GP smooths over into one attractor."""
    runs = lk.examples.doodl3_ensemble(tmp_path / "unit", "iris-unit", n_runs=60, steps=200, lr=0.5,
                                       batch_size=None)  # fmt: skip
    short = lk.morse.from_runs(runs, start_step=0, end_step=10, coords=[0, 1], subdiv=12)
    assert len(short.attractors) == 2
    rows = lk.morse.compare_groups(short, runs)
    assert sorted(round(r["balanced_accuracy"], 2) for r in rows) == [0.5, 0.9]
    ends = lk.morse.states(runs, [0, 1])
    working = ends[:, 0] > 0
    for r in rows:  # every run is in the group of the fixed point it ends at
        assert len(set(working[r["run_ids"]])) == 1
    long = lk.morse.from_runs(runs, start_step=0, coords=[0, 1], subdiv=12)
    assert len(long.attractors) == 1
    (one,) = [r for r in lk.morse.compare_groups(long, runs) if r["group"].startswith("attractor")]
    assert set(working[one["run_ids"]]) == {True, False}  # runs of both kinds in one basin
