"""Every result type: identity comparison, a short repr, an HTML summary, and a save/load round trip
without pickle (arrays, nested results, NaN, complex numbers, dicts with non-text keys)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

import landkit as lk
from landkit.results import Result

RESULT_NAMES = ["TrainResult", "HessianEigen", "TraceEstimate", "HessianDensity", "KoopmanSpectrum",
                "ConjugacyResult", "WindowedSpectra", "AgingResult", "Collapse", "Surface", "Line",
                "Persistence", "Profile", "SliceTopology", "MapperGraph", "MorseGraph", "Connectivity",
                "PhaseTable"]  # fmt: skip


def _linear_runs(n=4, T=40, seed=0):
    rng = np.random.default_rng(seed)
    A = np.array([[0.95, 0.1], [-0.1, 0.95]])
    out = []
    for _ in range(n):
        x = [rng.standard_normal(2)]
        for _ in range(T - 1):
            x.append(A @ x[-1])
        out.append(np.array(x))
    return out


@pytest.fixture(scope="module")
def results():
    """One result of every type, built from small exact inputs."""
    task = lk.tasks.digits(seed=0, n_train=120)
    model = lk.models.mlp(64, [6], 10, seed=0)
    train = lk.train(model, task, steps=20, lr=0.1, batch_size=32, seed=0, progress=False)
    op = lk.hessian.MatrixOperator(np.diag([4.0, 2.0, 1.0, 0.5]))
    runs = _linear_runs()
    spec = lk.koopman.spectrum(runs, delays=1)
    conj = lk.koopman.conjugacy_test(runs[:2], runs[2:], delays=1, n_resamples=10)
    steps = np.arange(60)
    walk = np.cumsum(np.random.default_rng(0).standard_normal((60, 5)), 0)
    aging = lk.glassy.two_time(steps, walk)
    surf = lk.landscape.plane(model, task, resolution=5, progress=False)
    pts = np.random.default_rng(1).standard_normal((60, 2))
    morse = lk.morse.from_map(lambda x: 0.5 * x, [-1, -1], [1, 1], subdiv=6)
    rows = [dict(load=1, temperature=1, loss=0.01, mc=0.0, cka=0.9, test_acc=0.9)]
    return {
        "TrainResult": train,
        "HessianEigen": lk.hessian.top_eigenvalues(op, k=2),
        "TraceEstimate": lk.hessian.trace(op, num_matvecs=6),
        "HessianDensity": lk.hessian.density(op, steps=4),
        "KoopmanSpectrum": spec,
        "ConjugacyResult": conj,
        "WindowedSpectra": lk.koopman.windowed(runs, window=20, stride=10, delays=1),
        "AgingResult": aging,
        "Collapse": lk.glassy.collapse(aging),
        "Surface": surf,
        "Line": lk.landscape.line(model, lk.models.mlp(64, [6], 10, seed=1), task, steps=5),
        "Persistence": lk.topology.persistence(surf),
        "Profile": lk.landscape.profile(
            model,
            task,
            resolution=5,
            trace_matvecs=6,
            density_steps=5,
            n_samples=64,
            progress=False,
        ),
        "SliceTopology": lk.landscape.slice_topology(
            model, task, seeds=(0, 1), resolution=5, n_samples=64
        ),
        "MapperGraph": lk.mapper.graph(pts, lens=pts[:, 0], n_cubes=4),
        "MorseGraph": morse,
        "Connectivity": lk.similarity.mode_connectivity(
            model, lk.models.mlp(64, [6], 10, seed=1), task, curve="line", n_points=5
        ),
        "PhaseTable": lk.taxonomy.PhaseTable(
            "load", "temperature", rows, lk.taxonomy.classify(rows), lk.taxonomy.Thresholds()
        ),
    }


def test_every_result_class_is_covered(results):
    from landkit.results import _REGISTRY

    classes = {n for n, c in _REGISTRY.items() if issubclass(c, Result)}
    assert classes == set(results) == set(RESULT_NAMES)


def _same(a, b, path="r"):
    """Deep equality of two result trees (arrays exactly, NaN equal to NaN)."""
    if isinstance(a, Result) or dataclasses.is_dataclass(a):
        assert type(a) is type(b), path
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
        if isinstance(a, Result):
            _same(a.params, b.params, f"{path}.params")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, path
        if a.dtype == object:
            _same(a.tolist(), b.tolist(), path)
        else:
            np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            _same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.generic):  # numpy scalars come back as the Python number
        _same(a.item(), b, path)
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), path
    else:
        assert a == b and type(a) is type(b), (path, a, b)


@pytest.mark.parametrize("name", RESULT_NAMES)
def test_result_protocol(results, name, tmp_path):
    r = results[name]
    assert type(r).__name__ == name and isinstance(r, Result)
    # identity comparison: never raises, hashable
    assert r == r and r != dataclasses.replace(r) and hash(r) == hash(r)
    assert len({r, r}) == 1
    # a short repr and an HTML summary naming the type
    text = repr(r)
    assert text.startswith(name) and len(text) <= 200 and "\n" not in text
    page = r._repr_html_()
    assert name in page and len(page) < 20_000
    assert isinstance(r.params, dict)
    # round trip, no pickle
    path = r.save(tmp_path / "r")
    assert path.suffix == ".npz"
    with np.load(path, allow_pickle=False) as z:
        json.loads(str(z["__landkit__"]))
    back = lk.load_result(path)
    _same(r, back)
    assert back is not r and back != r


def test_params_record_the_settings(results):
    assert results["HessianEigen"].params["k"] == 2
    assert results["TraceEstimate"].params["method"] == "hutchinson"
    assert results["MapperGraph"].params["n_cubes"] == 4


def test_load_result_refuses_foreign_and_damaged_files(tmp_path):
    np.savez(tmp_path / "plain.npz", x=np.arange(3))
    with pytest.raises(lk.StoreError, match="not a landkit result"):
        lk.load_result(tmp_path / "plain.npz")
    # a class outside the registry is never built, whatever the file says
    meta = {"format": "landkit-result", "version": 1,
            "tree": {"__result__": "Popen", "fields": {"args": "true"}}}  # fmt: skip
    np.savez(tmp_path / "evil.npz", __landkit__=np.array(json.dumps(meta)))
    with pytest.raises(lk.StoreError, match="unknown result type"):
        lk.load_result(tmp_path / "evil.npz")
    # an object array (pickle inside) is refused by numpy, reported as a damaged file
    np.savez(tmp_path / "obj.npz", __landkit__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(lk.StoreError):
        lk.load_result(tmp_path / "obj.npz")
    with pytest.raises(lk.StoreError, match="no result file"):
        lk.load_result(tmp_path / "missing.npz")


def test_a_field_without_a_file_form_is_refused(tmp_path):
    est = lk.hessian.TraceEstimate(1.0, 0.0, 2, np.ones(2))
    lk.results.with_params(est, fn=print)
    with pytest.raises(lk.InvalidArgument, match="builtin_function_or_method"):
        est.save(tmp_path / "x")


@pytest.mark.parametrize("name", RESULT_NAMES)
def test_one_plot_entry_point_draws_every_result(results, name):
    import matplotlib.figure

    fig = lk.plots.plot(results[name], title=f"my {name}")
    assert isinstance(fig, matplotlib.figure.Figure)
    assert f"my {name}" in [ax.get_title() for ax in fig.axes]
    drawn = sum(
        len(ax.lines) + len(ax.collections) + len(ax.patches) + len(ax.images) for ax in fig.axes
    )
    assert drawn > 0  # something was drawn, not only a titled empty frame
    # into given axes
    fig2, ax = lk.plots.new_figure()
    assert lk.plots.plot(results[name], ax=ax) is fig2


def test_plot_refuses_what_is_not_a_result():
    with pytest.raises(lk.InvalidType, match="dedicated plot_"):
        lk.plots.plot(np.zeros(3))


def test_comparison_verdicts_points_and_ranges():
    t = lk.results.compare([
        ("a point, inside", 0.753, 0.7549, 0.002),
        ("a point, outside", 0.753, 0.7551, 0.002),
        ("a range, inside", (1.035, 1.040), 1.0305, 0.005),
        ("a range, below", (1.035, 1.040), 1.0299, 0.005),
        ("a range, above", (1.035, 1.040), 1.0451, 0.005),
        ("not finite", 1.0, float("nan"), 10.0, "diverged"),
    ])  # fmt: skip
    assert [c.verdict for c in t] == ["reproduced", "differs", "reproduced", "differs", "differs",
                                      "differs"]  # fmt: skip
    text = repr(t)
    assert "1.035–1.04" in text and "0.753 " in text and "diverged" in text
    assert "<td>1.035–1.04</td>" in t._repr_html_()
    with pytest.raises(ValueError, match=r"low ≤ high"):
        lk.results.compare([("backwards", (1.04, 1.035), 1.0, 0.1)])
    with pytest.raises(ValueError, match="each row is"):
        lk.results.compare([("too short", 1.0, 1.0)])
