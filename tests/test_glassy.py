"""The glassy lens against exact two-time behaviour of simple processes."""

import numpy as np
import pytest

import landkit as lk
from landkit import glassy

T, P = 20000, 300
REC = np.r_[0, np.unique(np.geomspace(1, T, 60).round().astype(int))]


def _walk(step_sd, seed=0):
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, 1, (T, P)) * step_sd[:, None]
    return np.cumsum(np.r_[np.zeros((1, P)), steps], 0)[REC]


def test_brownian_motion_is_stationary_with_alpha_one():
    W = _walk(np.full(T, 0.5))
    ag = glassy.two_time(REC, W)
    # Δ = σ² t whatever t_w
    for i in range(len(ag.waiting_times)):
        lag, m = ag.curve(i)
        np.testing.assert_allclose(m[lag > 30], 0.25 * lag[lag > 30], rtol=0.2)
    assert ag.aging_score < 0.05
    c = glassy.collapse(ag)
    assert abs(c.mu) < 0.1
    alpha, err = glassy.diffusion_exponent(ag)
    assert alpha == pytest.approx(1.0, abs=0.08) and err < 0.05


def test_a_walk_with_decaying_variance_ages_simply():
    W = _walk(1 / np.sqrt(np.arange(1, T + 1)))
    ag = glassy.two_time(REC, W)
    for i in range(1, len(ag.waiting_times)):
        tw = ag.waiting_times[i]
        lag, m = ag.curve(i)
        np.testing.assert_allclose(m, np.log((tw + lag + 0.5) / (tw + 0.5)), rtol=0.25, atol=0.02)
    assert ag.aging_score > 0.2
    c = glassy.collapse(ag)
    assert c.mu == pytest.approx(1.0, abs=0.15) and c.mu_stderr < 0.15


def test_ornstein_uhlenbeck_in_equilibrium_is_stationary_and_saturates():
    rng = np.random.default_rng(3)
    theta = 0.01
    var = 1 / (2 * theta - theta**2)
    x = rng.normal(0, np.sqrt(var), P)
    rows = [x.copy()]
    for _ in range(T):
        x = x - theta * x + rng.normal(0, 1, P)
        rows.append(x.copy())
    ag = glassy.two_time(REC, np.array(rows)[REC])
    assert ag.aging_score < 0.05 and abs(glassy.collapse(ag).mu) < 0.15
    lag, m = ag.curve(0)
    assert np.mean(m[lag > 2000]) == pytest.approx(2 * var, rel=0.15)  # the plateau 2σ²


def test_store_in_column_blocks_equals_arrays_and_seeds_average(tmp_path):
    task = lk.tasks.digits(seed=0, n_train=200)
    runs = []
    for seed in range(2):
        model = lk.models.mlp(64, [8], 10, seed=seed)
        rec = lk.Recorder(tmp_path / f"r{seed}", schedule=lk.schedules.geometric(1, 200, 25),
                          evaluate=False, grad_noise=True)  # fmt: skip
        lk.train(model, task, steps=200, lr=0.1, batch_size=16, seed=seed, recorder=rec,
                 progress=False)  # fmt: skip
        runs.append(lk.load(tmp_path / f"r{seed}"))
    t = runs[0]
    a = glassy.two_time(t, max_memory=8 * len(t) * 50, per_layer=True)  # 50 columns per block
    b = glassy.two_time(t.steps, np.asarray(t.weights[:]))
    np.testing.assert_allclose(a.pair_msd, b.pair_msd, rtol=1e-9, atol=1e-12)
    direct = np.mean((np.asarray(t.weights[5]) - np.asarray(t.weights[2])) ** 2)
    assert a.pair_msd[2, 5] == pytest.approx(direct, rel=1e-6)
    assert set(a.per_layer) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    # each layer's Δ is the two-time MSD of that layer's columns alone, and the parameter-weighted
    # mean of the layers' Δ is the whole model's
    sizes = {p.name: p.numel for p in t.params}
    for name, grid in a.per_layer.items():
        alone = glassy.two_time(t.steps, np.asarray(t.weights[:, t.param_slice(name)]),
                                waiting_times=a.waiting_times, lags=a.lags)  # fmt: skip
        np.testing.assert_allclose(grid, alone.msd, rtol=1e-9, equal_nan=True)
    W = np.asarray(t.weights[:], dtype=np.float64)
    pair = {}
    for name in sizes:
        Wl = W[:, t.param_slice(name)]
        pair[name] = ((Wl[:, None] - Wl[None]) ** 2).mean(-1)  # every (s_i, s_j) pair, directly
    mix = sum(sizes[n] * pair[n] for n in sizes) / sum(sizes.values())
    np.testing.assert_allclose(mix, a.pair_msd, rtol=1e-6, atol=1e-14)
    # the noise scale D(t_w) = lr² · grad_noise / P at each waiting time, from the recorded scalars
    rows = [int(np.flatnonzero(t.steps == tw)[0]) for tw in a.waiting_times]
    lr, gn = np.asarray(t.scalars["lr"])[rows], np.asarray(t.scalars["grad_noise"])[rows]
    np.testing.assert_allclose(a.noise, lr**2 * gn / t.weights.shape[1], rtol=1e-12)
    np.testing.assert_allclose(a.normalised(), a.msd / a.noise[:, None], rtol=1e-12)
    both = glassy.two_time(runs)
    assert both.n_runs == 2 and both.msd_std is not None
    np.testing.assert_allclose(both.pair_msd, (a.pair_msd + glassy.two_time(runs[1]).pair_msd) / 2)
    # correlations against a direct computation at one (t_w, t_w + t) pair: C(t_w, t) is the cosine of
    # the weights, C0 the cosine of the displacements from w(0)
    i, j = 3, 9  # two recorded snapshots, asked for exactly
    one = glassy.two_time(t, waiting_times=[t.steps[i]], lags=[t.steps[j] - t.steps[i]])
    cos = W[i] @ W[j] / np.linalg.norm(W[i]) / np.linalg.norm(W[j])
    d_i, d_j = W[i] - W[0], W[j] - W[0]
    assert one.correlation[0, 0] == pytest.approx(cos, rel=1e-9)
    assert one.correlation_init[0, 0] == pytest.approx(
        d_i @ d_j / np.linalg.norm(d_i) / np.linalg.norm(d_j), rel=1e-9
    )
    assert one.msd[0, 0] == pytest.approx(np.mean((W[j] - W[i]) ** 2), rel=1e-9)
    assert np.nanmax(np.abs(a.correlation_init)) <= 1 + 1e-9


def test_bad_input():
    with pytest.raises(ValueError, match="at least 4 snapshots"):
        glassy.two_time(np.arange(3), np.zeros((3, 5)))
    W = np.random.default_rng(0).normal(size=(10, 4))
    with pytest.raises(ValueError, match="not a recorded step"):
        glassy.two_time(np.arange(0, 100, 10), W, waiting_times=[15])
    W[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        glassy.two_time(np.arange(10), W)
    with pytest.raises(ValueError, match="steps must increase"):
        glassy.two_time(np.r_[0, 2, 1, 3, 4], np.zeros((5, 2)))


def test_under_parametrised_student_ages_the_over_parametrised_one_diffuses(tmp_path):
    """Baity-Jesi et al.'s contrast on the shipped students (notebook 05 §2, full mode; ~25 s): the
    width-1 student stalls at a non-zero loss and ages (μ > 0.5 over three decades of t_w, Δ no longer
    grows: α ≈ 0); the width-64 student reaches zero loss and then diffuses (α ≈ 1)."""
    runs = lk.examples.student_runs(tmp_path / "students", widths=(1, 64), steps=20_000)
    shipped = lk.examples.example_runs("students")  # what the tour shows: the same runs
    assert shipped.configs == runs.configs
    for a, b in zip(shipped, runs):
        np.testing.assert_allclose(
            np.asarray(a.weights[:]), np.asarray(b.weights[:]), rtol=1e-3, atol=1e-4
        )
    s = {c["width"]: glassy.summary(glassy.two_time(t)) for t, c in zip(runs, runs.configs)}
    ag = glassy.two_time(runs.where(width=1)[0])
    assert ag.waiting_times[-1] / ag.waiting_times[0] >= 1000  # three decades of waiting times
    assert s[1]["final_loss"] > 0.01 and s[64]["final_loss"] < 1e-3
    assert s[1]["mu"] - 2 * s[1]["mu_stderr"] > 0.5  # ages
    assert abs(s[1]["alpha"]) < 0.3  # stuck: Δ stops growing
    assert abs(s[64]["alpha"] - 1) < 0.25  # diffuses
    assert glassy.verdict(s[1]).startswith("ages") and "stuck" in glassy.verdict(s[1])
    assert "diffusion" in glassy.verdict(s[64])


def test_verdicts_of_the_exact_processes():
    brownian = glassy.two_time(REC, _walk(np.full(T, 0.5)))
    assert glassy.verdict(brownian).startswith("stationary") and "diffusion" in glassy.verdict(
        brownian
    )
    decaying = glassy.two_time(REC, _walk(1 / np.sqrt(np.arange(1, T + 1))))
    assert glassy.verdict(decaying).startswith("ages")
    with pytest.raises(TypeError, match="AgingResult"):
        glassy.verdict({"mu": 1.0})


def test_a_dense_run_evaluated_at_some_snapshots_still_has_its_regimes(tmp_path):
    """Recorder(evaluate="auto") evaluates ~100 of a dense run's snapshots (NaN between): the aging
    summary and the regimes plot use the evaluated ones instead of refusing the NaNs."""
    task = lk.tasks.digits(n_train=200, seed=0)
    model = lk.models.mlp(task.in_features, [16], task.n_classes, seed=0)
    rec = lk.Recorder(tmp_path / "d", schedule=lk.schedules.every(1))
    lk.train(model, task, steps=400, lr=0.1, batch_size=16, seed=0, recorder=rec, progress=False,
             eval_every=0)  # fmt: skip
    traj = lk.load(tmp_path / "d")
    ag = lk.glassy.two_time(traj)
    assert np.isnan(ag.loss).any() and np.isfinite(ag.loss).sum() >= 60
    steps, loss = lk.glassy.evaluated_loss(ag)
    assert np.isfinite(loss).all() and steps[0] == 0 and steps[-1] == 400
    s = lk.glassy.summary(ag)
    assert s["final_loss"] == pytest.approx(traj.scalars["loss"][-1])
    assert s["plateau_end"] <= s["bottom_start"]
    fig = lk.plots.plot_regimes(ag)
    assert len(fig.axes[0].lines[0].get_xdata()) == (steps > 0).sum()
