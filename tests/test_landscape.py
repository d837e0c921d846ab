import numpy as np
import pytest
import torch

import landkit as lk


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    task = lk.tasks.digits(seed=0, n_train=200)
    model = lk.models.mlp(64, [16], 10, seed=0)
    path = tmp_path_factory.mktemp("run") / "r"
    rec = lk.Recorder(path, schedule=lk.schedules.every(5), evaluate=False)
    lk.train(model, task, steps=60, lr=0.2, batch_size=32, recorder=rec, progress=False)
    return task, model, lk.load(path)


def test_plane_center_and_points_match_direct_evaluation(trained):
    task, model, _ = trained
    surf = lk.landscape.plane(
        model, task, directions="filter", span=1.0, resolution=5, seed=0, progress=False
    )
    assert surf.loss.shape == (5, 5) and surf.alpha.shape == (5,)
    assert surf.loss[2, 2] == pytest.approx(task.evaluate(model)["train_loss"], rel=1e-5)
    # one off-centre point by hand
    d1, d2 = (torch.from_numpy(d) for d in surf.directions)
    probe = lk.models.mlp(64, [16], 10)
    flat = torch.from_numpy(surf.center) + surf.alpha[0] * d1 + surf.beta[4] * d2
    torch.nn.utils.vector_to_parameters(flat, probe.parameters())
    assert surf.loss[0, 4] == pytest.approx(task.evaluate(probe)["train_loss"], rel=1e-5)
    assert surf.accuracy[2, 2] == pytest.approx(task.evaluate(model)["train_acc"])


def test_filter_normalisation(trained):
    _, model, _ = trained
    d, _ = lk.landscape.directions(model, "filter", seed=3)
    i = 0
    for p in model.parameters():
        di = d[i : i + p.numel()].view(p.shape)
        if p.dim() == 1:
            assert torch.all(di == 0)  # biases zeroed (Li et al.)
        else:
            torch.testing.assert_close(di.norm(dim=1), p.detach().norm(dim=1), rtol=1e-5, atol=1e-6)
        i += p.numel()


def test_pca_plane_contains_the_path(trained):
    task, model, traj = trained
    surf = lk.landscape.plane(
        model, task, directions="pca", trajectory=traj, resolution=7, progress=False
    )
    assert surf.path.shape == (len(traj), 2)
    np.testing.assert_allclose(surf.path[-1], 0, atol=1e-5)  # the final model is the centre
    assert np.abs(surf.path).max() <= surf.alpha.max()
    # the streamed Gram route equals a dense SVD of the displacements (directions up to sign)
    D = np.asarray(traj.weights[:], dtype=np.float64) - surf.center.astype(np.float64)
    *_, vt = np.linalg.svd(D, full_matrices=False)
    for k in range(2):
        sign = np.sign(vt[k] @ surf.directions[k])
        np.testing.assert_allclose(sign * surf.directions[k], vt[k], atol=1e-5)
        np.testing.assert_allclose(sign * surf.path[:, k], D @ vt[k], rtol=1e-5, atol=1e-6)
    assert np.linalg.norm(surf.directions[0]) == pytest.approx(1.0, rel=1e-5)


def test_line_endpoints(trained):
    task, model, _ = trained
    other = lk.models.mlp(64, [16], 10, seed=1)
    ln = lk.landscape.line(model, other, task, steps=11)
    assert ln.loss[0] == pytest.approx(task.evaluate(model)["train_loss"], rel=1e-5)
    assert ln.loss[-1] == pytest.approx(task.evaluate(other)["train_loss"], rel=1e-5)


def test_surface_feeds_topology(trained):
    task, model, _ = trained
    surf = lk.landscape.plane(model, task, resolution=9, span=0.5, progress=False)
    topo = lk.topology.persistence(surf, threshold=0.01)
    raw = lk.topology.persistence(surf.loss, threshold=0.01)  # the same grid as a bare array
    assert (topo.n_minima, topo.n_saddles) == (raw.n_minima, raw.n_saddles)
    np.testing.assert_allclose(topo.diagram, raw.diagram)
    # the global minimum of the slice is the first minimum found, and its value is the grid's minimum
    assert topo.minima[0] == np.argmin(surf.loss)  # flat (C-order) grid index
    assert topo.minimum_values[0] == pytest.approx(surf.loss.min())


def test_bad_input(trained):
    task, model, _ = trained
    with pytest.raises(ValueError, match="resolution must be an int >= 2"):
        lk.landscape.plane(model, task, resolution=1)
    with pytest.raises(ValueError, match="directions must each have"):
        lk.landscape.plane(model, task, directions=[np.zeros(3), np.zeros(3)], resolution=3)
    with pytest.raises(ValueError, match="needs trajectory"):
        lk.landscape.plane(model, task, directions="pca")
    with pytest.raises(ValueError, match="empty"):
        lk.landscape.plane(model, (task.x_train[:0], task.y_train[:0]), resolution=3)
    with pytest.raises(ValueError, match=r"model_b has .* parameters but model_a"):
        lk.landscape.line(model, lk.models.mlp(64, [8], 10), task)


def _direct(model, surf, i, j, x, y, loss_fn):
    import copy

    probe = copy.deepcopy(model).eval()
    d1, d2 = (torch.from_numpy(d) for d in surf.directions)
    flat = torch.from_numpy(surf.center) + surf.alpha[i] * d1 + surf.beta[j] * d2
    torch.nn.utils.vector_to_parameters(flat, probe.parameters())
    with torch.no_grad():
        return float(loss_fn(probe(x), y))


@pytest.mark.parametrize(
    "name, first",
    [("mlp", "fc1"), ("cnn", "conv1"), ("resnet", "stem"), ("flatten-mlp", None)],
)
def test_every_strategy_matches_direct_evaluation(name, first, monkeypatch):
    monkeypatch.setattr(
        lk.landscape, "_MIN_FAN_IN", 0
    )  # the first-layer shortcut on thin layers too
    task = lk.tasks.digits(seed=0, n_train=120, flatten=name == "mlp")
    model = {
        "mlp": lambda: lk.models.mlp(64, [16, 8], 10, seed=1),
        "cnn": lambda: lk.models.cnn(10, seed=1),
        "resnet": lambda: lk.models.resnet(10, residual=True, batchnorm=True, seed=1),  # eval mode
        "flatten-mlp": lambda: torch.nn.Sequential(torch.nn.Flatten(), lk.models.mlp(64, [8], 10)),
    }[name]()
    if name == "resnet":  # non-trivial running statistics
        model.train()
        with torch.no_grad():
            model(task.x_train)
    strategies = ["loop", "vmap"] + (["batched"] if name == "mlp" else [])
    surfs = {
        s: lk.landscape.plane(model, task, resolution=5, span=0.7, backend=s, progress=False)
        for s in [*strategies, "auto"]
    }
    ref = surfs["loop"]
    assert ref.info["first_layer"] == first
    # the loop fuses the CNN's and the ResNet's convolutions with what follows them, beside the first
    # layer's shortcut (the ResNet: five batch norms folded, two ReLUs run inside a convolution)
    expected = {"resnet": {"batchnorm": 5, "relu": 2}, "cnn": {"batchnorm": 0, "relu": 1}}
    assert ref.info["fused"] == expected.get(name, {"batchnorm": 0, "relu": 0})
    for i, j in [(0, 0), (1, 3), (4, 2)]:
        direct = _direct(model, ref, i, j, task.x_train, task.y_train, task.loss_fn)
        for s, surf in surfs.items():
            assert surf.loss[i, j] == pytest.approx(direct, rel=2e-5), s
    for surf in surfs.values():
        np.testing.assert_allclose(surf.accuracy, ref.accuracy, atol=1e-6)
    with pytest.raises(ValueError, match="backend"):
        lk.landscape.plane(model, task, resolution=3, backend="fast")


def test_the_first_layer_shortcut_only_where_it_saves():
    """Precomputing the first layer's outputs pays when its fan-in is well above the k + 1 outputs
    streamed per point: digits' 64-input Linear takes it, a one-channel 3×3 convolution (fan-in 9)
    does not; the values are the same either way."""
    flat = lk.tasks.digits(seed=0, n_train=60)
    images = lk.tasks.digits(seed=0, n_train=60, flatten=False)
    mlp = lk.models.mlp(64, [8], 10, seed=0)
    cnn = lk.models.cnn(10, seed=0)
    assert lk.landscape.plane(mlp, flat, resolution=3, progress=False).info["first_layer"] == "fc1"
    surf = lk.landscape.plane(cnn, images, resolution=3, progress=False)
    assert surf.info["first_layer"] is None
    d = [torch.from_numpy(v) for v in surf.directions]
    probe = __import__("copy").deepcopy(cnn).eval()
    c = torch.from_numpy(surf.center)
    torch.nn.utils.vector_to_parameters(
        c + surf.alpha[0] * d[0] + surf.beta[2] * d[1], probe.parameters()
    )
    with torch.no_grad():
        direct = float(images.loss_fn(probe(images.x_train), images.y_train))
    assert surf.loss[0, 2] == pytest.approx(direct, rel=2e-5)


def test_dataloader_memory_bound_and_test_split(trained):
    task, model, _ = trained
    ref = lk.landscape.plane(model, task, resolution=6, progress=False, backend="loop")
    ds = torch.utils.data.TensorDataset(task.x_train, task.y_train)
    loader = torch.utils.data.DataLoader(ds, batch_size=37, shuffle=True)
    via_loader = lk.landscape.plane(model, loader, resolution=6, progress=False)
    np.testing.assert_allclose(via_loader.loss, ref.loss, rtol=1e-5)
    # a tiny memory bound splits the data into batches; the result does not change
    small = lk.landscape.plane(model, task, resolution=6, max_memory=64 * 1024, progress=False)
    assert small.info["data_batch"] < task.n_train
    np.testing.assert_allclose(small.loss, ref.loss, rtol=1e-5)
    test = lk.landscape.plane(model, task, resolution=3, data="test", progress=False)
    assert test.loss[1, 1] == pytest.approx(task.evaluate(model)["test_loss"], rel=1e-5)


def test_resume_from_a_partial_grid(trained, tmp_path):
    task, model, _ = trained
    path = tmp_path / "grid.npz"
    full = lk.landscape.plane(model, task, resolution=12, progress=False)

    def stop_early(done, total):
        if done >= 40:
            raise lk.Cancelled

    with pytest.raises(lk.Cancelled):
        lk.landscape.plane(model, task, resolution=12, resume=path, progress=stop_early)
    assert path.exists()
    again = lk.landscape.plane(model, task, resolution=12, progress=False, resume=path)
    assert 40 <= again.info["resumed"] < 144
    np.testing.assert_allclose(again.loss, full.loss, rtol=1e-6)
    with pytest.raises(ValueError, match="different model, directions, grid"):
        lk.landscape.plane(model, task, resolution=11, progress=False, resume=path)


def test_line_barrier_and_surface_roundtrip(trained, tmp_path):
    ln = lk.landscape.Line(np.linspace(0, 1, 5), np.array([1.0, 2.0, 3.0, 2.0, 0.0]), None)
    assert ln.barrier == pytest.approx(3.0 - 0.5)  # midpoint 3 vs the chord's 0.5
    task, model, _ = trained
    surf = lk.landscape.plane(model, task, resolution=4, progress=False)
    back = lk.landscape.Surface.from_npz(surf.to_npz(tmp_path / "s.npz"))
    np.testing.assert_array_equal(back.loss, surf.loss)
    assert back.method == surf.method and back.span == surf.span


def test_non_finite_values_warn_and_topology_refuses():
    x = torch.randn(20, 3)
    y = torch.randn(20, 1)
    model = lk.models.mlp(3, [4], 1, seed=0)
    with pytest.warns(UserWarning, match="non-finite"):
        surf = lk.landscape.plane(model, (x, y), directions="none", span=1e25, resolution=3,
                                  progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="non-finite"):
        lk.topology.persistence(surf)


def test_slice_topology_is_plane_then_persistence_per_seed():
    """Each (seed, threshold) count is the persistence of that seed's slice (an independent
    composition of plane and persistence), and a threshold only removes pairs."""
    task = lk.tasks.digits(seed=0, n_train=128)
    model = lk.models.mlp(64, [8], 10, seed=0)
    lk.train(model, task, steps=60, lr=0.5, progress=False)
    st = lk.landscape.slice_topology(model, task, seeds=(3, 4), thresholds=(0.0, 0.05), resolution=9,
                                     span=2.0)  # fmt: skip
    for i, seed in enumerate((3, 4)):
        surf = lk.landscape.plane(model, task, resolution=9, span=2.0, seed=seed, progress=False)
        for j, t in enumerate((0.0, 0.05)):
            p = lk.topology.persistence(surf, threshold=t)
            assert (st.minima[i, j], st.saddles[i, j]) == (p.n_minima, p.n_saddles)
    assert (st.minima[:, 0] >= st.minima[:, 1]).all() and (
        st.saddles[:, 0] >= st.saddles[:, 1]
    ).all()
    np.testing.assert_allclose(st.mean_minima, st.minima.mean(0))
    with pytest.raises(lk.InvalidArgument, match="thresholds"):
        lk.landscape.slice_topology(model, task, thresholds=(-0.1,))


def test_profile_counts_minima_over_slices_reusing_its_own():
    """profile(slices=) gives the same counts as slice_topology, and reuses the slice it drew."""
    task = lk.tasks.digits(seed=0, n_train=128)
    model = lk.models.mlp(64, [8], 10, seed=0)
    lk.train(model, task, steps=60, lr=0.5, progress=False)
    calls = []
    real = lk.landscape.plane

    def counting(*a, **k):
        calls.append(k.get("seed"))
        return real(*a, **k)

    lk.landscape.plane = counting
    try:
        p = lk.landscape.profile(model, task, resolution=9, hessian=False, slices=(0, 3),
                                 progress=False)  # fmt: skip
    finally:
        lk.landscape.plane = real
    assert calls == [0, 3]  # seed 0's slice drawn once
    st = lk.landscape.slice_topology(model, task, seeds=(0, 3), resolution=9)
    np.testing.assert_array_equal(p.slices.minima, st.minima)
    assert p.row()["mean_minima@0"] == st.mean_minima[0]
    assert "minima over 2 slices" in lk.landscape.format_row(p)


def test_colour_bars_read_in_loss_units_and_panels_share_a_scale():
    import matplotlib

    matplotlib.use("Agg")
    task = lk.tasks.digits(seed=0, n_train=200)
    a = lk.models.mlp(64, [8], 10, seed=0)
    lk.train(a, task, steps=200, lr=0.2, batch_size=32, seed=0, progress=False)
    b = lk.models.mlp(64, [8], 10, seed=1)  # untrained: a flat, high surface
    sa = lk.landscape.plane(a, task, resolution=9, span=2.0, progress=False)
    sb = lk.landscape.plane(b, task, resolution=9, span=2.0, progress=False)
    lo, hi = lk.plots.surface_limits([sa, sb])
    assert lo == pytest.approx(min(sa.loss.min(), sb.loss.min()))
    assert hi == pytest.approx(max(sa.loss.max(), sb.loss.max()))
    fig, axes = lk.plots.new_figure(2)
    ranges, labels = [], []
    for ax, s in zip(axes, (sa, sb)):
        lk.plots.plot_surface(s, ax=ax, limits=(lo, hi), log=True)
    fig.canvas.draw()
    for bar in [x for x in fig.axes if x.get_label() == "<colorbar>"]:
        ranges.append(tuple(np.round(bar.get_ylim(), 9)))
        labels.append([float(t.get_text()) for t in bar.get_yticklabels() if t.get_text()])
    assert len(ranges) == 2 and ranges[0] == ranges[1]  # one colour means one loss in both panels
    for ticks in labels:  # loss values (1, 2, 5 × 10^k), not their logarithms
        assert ticks and all(lo * 0.99 <= t <= hi * 1.01 for t in ticks)
        assert all(round(t / 10 ** np.floor(np.log10(t)), 6) in (1.0, 2.0, 5.0) for t in ticks)
    assert "log scale" in next(x for x in fig.axes if x.get_label() == "<colorbar>").get_ylabel()
    with pytest.raises(lk.InvalidArgument, match="low < high"):
        lk.plots.plot_surface(sa, limits=(2.0, 1.0))
    with pytest.raises(lk.InvalidArgument, match="positive limits"):
        lk.plots.plot_surface(sa, limits=(0.0, 1.0), log=True)


def test_the_ensemble_plane_lies_under_the_pca_picture_of_the_runs():
    """The joint principal plane of three recorded runs: its axes are orthonormal and give back the
    snapshots' PCA scores; a grid point's loss is the task's loss of the model rebuilt at
    mean + α·d1 + β·d2 (evaluated directly); given scores (a picture's, here with PC 2 flipped), the
    axes follow them, sign included."""
    runs = lk.examples.example_runs("digits-widths").where(width=8)[:3]
    surf = lk.landscape.ensemble_plane(runs, resolution=5, progress=False)
    d = surf.directions
    np.testing.assert_allclose(d @ d.T, np.eye(2), atol=1e-6)
    W = np.concatenate([np.asarray(t.weights, dtype=np.float64) for t in runs])
    D = W - W.mean(0)
    np.testing.assert_allclose(surf.center, W.mean(0), rtol=1e-5, atol=1e-7)  # the zoo MLP's order
    S = D @ d.T
    lam = np.linalg.eigvalsh(D @ D.T)[::-1][:2]
    np.testing.assert_allclose((S**2).sum(0), lam, rtol=1e-5)  # the top two principal components
    model, task = runs[0].model(), runs[0].task()
    i, j = 1, 3
    with torch.no_grad():
        flat = torch.as_tensor(surf.center + surf.alpha[i] * d[0] + surf.beta[j] * d[1])
        for name, v in lk.layout.ParamLayout.of(model).unflatten(flat).items():
            model.get_parameter(name).copy_(v)
    assert surf.loss[i, j] == pytest.approx(task.evaluate(model)["train_loss"], rel=1e-4)
    flipped = lk.landscape.ensemble_plane(runs, scores=S * [1, -1], resolution=3, progress=False)
    np.testing.assert_allclose(flipped.directions, d * [[1], [-1]], atol=1e-6)


def test_a_subset_plane_states_its_error_against_all_the_data(trained):
    """n_samples= plane: up to subset_check points are evaluated again on all the data, within a
    tenth of the grid's cost; the stated errors are the differences from the full-data plane at
    exactly those points (the corners first), never more than the plane's largest difference."""
    from landkit.landscape import _check_points

    task, model, _ = trained  # 200 training samples
    kw = dict(resolution=11, seed=0, progress=False)
    full = lk.landscape.plane(model, task, **kw)
    sub = lk.landscape.plane(model, task, n_samples=100, **kw)
    info = sub.info["subset"]
    # a point on all the data costs 2 subset points: 0.1 × 121 / 2 = 6 fit, of the 16 asked
    assert (info["n_samples"], info["of"], info["checked_points"]) == (100, 200, 6)
    coords = np.stack(np.meshgrid(sub.alpha, sub.beta, indexing="ij"), -1).reshape(-1, 2)
    idx = _check_points(coords, 6, 0)
    assert {tuple(np.abs(coords[i])) for i in idx[:4]} == {(1.0, 1.0)}  # the four corners first
    diff = np.abs(sub.loss.reshape(-1) - full.loss.reshape(-1))
    assert info["max_abs_error"] == pytest.approx(diff[idx].max(), rel=1e-5, abs=1e-7)
    rel = diff[idx] / full.loss.reshape(-1)[idx]
    assert info["max_rel_error"] == pytest.approx(rel.max(), rel=1e-5)
    assert 0 < info["max_abs_error"] <= diff.max() + 1e-7
    assert sub.params["subset_check"] == 16
    assert f"subset_error='{info['max_abs_error']:.2g} (max of 6 checks on all 200)'" in repr(sub)
    assert "subset_error" in sub._repr_html_() and "subset_error" not in repr(full)
    # no check: asked for none, no subset taken, or one full point costs more than the budget
    assert "subset" not in lk.landscape.plane(model, task, n_samples=100, subset_check=0, **kw).info
    assert "subset" not in lk.landscape.plane(model, task, n_samples=500, **kw).info
    tiny = lk.landscape.plane(model, task, n_samples=10, resolution=3, progress=False).info[
        "subset"
    ]
    assert (
        tiny["checked_points"] == 0
        and tiny["max_abs_error"] is None
        and "not checked" in tiny["note"]
    )
