"""Public paths that had no test of their own, each checked against an independent computation."""

import numpy as np
import pytest
import torch

import landkit as lk


@pytest.fixture(scope="module")
def trained():
    task = lk.tasks.digits(seed=0, n_train=300)
    model = lk.models.mlp(64, [16], 10, seed=0)
    lk.train(model, task, steps=150, lr=0.1, batch_size=32, seed=0, progress=False)
    return task, model


def test_layer_normalised_plane(trained):
    """directions="layer": every layer's block of each direction has that layer's norm, and the
    slice's centre is the model's own loss."""
    task, model = trained
    surf = lk.landscape.plane(model, task, directions="layer", resolution=5, progress=False)
    assert surf.method == "layer" and surf.params["directions"] == "layer"
    lay = lk.layout.ParamLayout.of(model)
    for d in surf.directions:
        blocks = lay.unflatten(torch.as_tensor(d))
        for name, p in model.named_parameters():
            assert float(blocks[name].norm()) == pytest.approx(float(p.detach().norm()), rel=1e-5)
    assert surf.loss[2, 2] == pytest.approx(task.evaluate(model)["train_loss"], rel=1e-5)


def test_profile_agrees_with_its_parts(trained):
    task, model = trained
    p = lk.landscape.profile(model, task, resolution=7, n_samples=200, trace_matvecs=9,
                             density_steps=8, progress=False)  # fmt: skip
    op = lk.hessian.HessianOperator(model, task, n_samples=200)
    lam = lk.hessian.top_eigenvalues(op, k=1).eigenvalues[0]
    assert p.row()["lambda_max"] == pytest.approx(lam, rel=1e-3)
    topo = lk.topology.persistence(p.surface, threshold=0.01)
    assert (p.row()["n_minima"], p.row()["n_saddles"]) == (topo.n_minima, topo.n_saddles)
    # the SLQ density integrates to one and its nodes lie inside [λ_min, λ_max] of the same operator
    d = p.density
    assert np.trapezoid(d.density, d.grid) == pytest.approx(1.0, abs=0.02)
    assert np.nanmax(d.nodes) <= lam * (1 + 1e-3)


def test_regimes_of_an_exact_curve():
    """A loss on a plateau until step 100 that falls linearly to a bottom reached at step 300: the
    plateau ends when 5% of the drop is gone (step 110), the bottom starts within 5% of it (step 290)."""
    steps = np.arange(500)
    loss = np.where(steps < 100, 2.0, np.where(steps < 300, 2.0 - 1.9 * (steps - 100) / 200, 0.1))
    r = lk.glassy.regimes(steps, loss)
    assert r["plateau_end"] in (110, 111)  # 110 exactly, or the next step by rounding
    assert r["bottom_start"] in (290, 291)


def test_compare_groups_accuracy_is_each_models_own():
    runs = list(lk.examples.example_runs("digits-widths").where(width=8))
    m = lk.morse.from_runs(runs, start_step=10, subdiv=8)
    rows = lk.morse.compare_groups(m, runs)
    assert sum(r["runs"] for r in rows) == len(runs)
    assert all(r["runs"] > 0 for r in rows)  # no empty group is listed
    task = runs[0].task()
    from sklearn.metrics import balanced_accuracy_score

    for r in rows:
        accs = []
        for i in r["run_ids"]:
            model = runs[i].model().eval()
            with torch.no_grad():
                pred = model(task.x_test).argmax(-1).numpy()
            accs.append(balanced_accuracy_score(task.y_test.numpy(), pred))
        assert r["balanced_accuracy"] == pytest.approx(np.mean(accs), abs=1e-12)


def test_the_plots_no_other_test_draws():
    runs = lk.examples.example_runs("digits-widths")
    m = lk.morse.from_map(lambda X: 0.5 * X, lower=[-1, -1], upper=[1, 1], subdiv=6)
    fig = lk.plots.plot_morse_graph(m)
    assert fig.axes and len(fig.axes[0].patches) + len(fig.axes[0].collections) > 0
    fig = lk.plots.plot_regimes(lk.glassy.two_time(runs[0]))
    assert fig.axes[0].lines
    rows = [dict(load=w, temperature=b, loss=0.05 * b / w, mc=0.0, mc_std=0.01, cka=0.8,
                 test_acc=0.9, lambda_max=5.0, trace=40.0, n_seeds=2)
            for w in (4, 16) for b in (8, 32)]  # fmt: skip
    table = lk.taxonomy.PhaseTable("width", "batch_size", rows, lk.taxonomy.classify(rows),
                                   lk.taxonomy.Thresholds())  # fmt: skip
    fig = lk.plots.plot_phase_diagrams(table)
    assert len(fig.axes) >= 6
