"""The bad-input campaign (issue 17), kept as a test so its count of raw tracebacks and silent
nonsense stays at zero.

Every public function is called with valid arguments except one, set to a value it cannot use: a
negative or fractional count, NaN, infinity, a string for a number, a bool for a count, an unknown
option, an absurd size. Each call must raise a :class:`landkit.LandkitError` whose message names the
argument — never a raw torch / numpy / scikit-learn traceback, never a result computed from nonsense.
The cases the 2026 campaign found silent (``top_eigenvalues(batch_size=-1)`` returning ``[0.0]``,
``density(sigma=-1)``, the debiased CKA of a constant matrix, ``classify`` of NaN metrics, ``two_time``
averaging runs of different sizes, ...) are listed by name below, with the same rule.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import landkit as lk

NAN, INF = float("nan"), float("inf")

# the bad values each kind of argument is tried with (all of them must be refused)
COUNT = [0, -1, 2.5, "3", True, INF]  # an int >= 1
INDEX = [-1, 2.5, "3", True]  # an int >= 0
POSITIVE = [0.0, -1.0, NAN, INF, "x"]  # a finite number > 0
NONNEG = [-1.0, NAN, INF, "x"]  # a finite number >= 0
FRACTION = [-0.1, 1.5, NAN, "x"]  # a number in [0, 1]
MEMORY = [0, -1, NAN, "1GB"]
OPTION = ["nonsense", 3]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("bad")
    task = lk.tasks.digits(n_train=64, seed=0)
    runs = []
    for s in range(5):
        m = lk.models.mlp(64, [6], 10, seed=s)
        rec = lk.Recorder(root / f"run{s}", schedule=lk.schedules.every(1), evaluate=False,
                          config={"group": "a" if s < 2 else "b"})  # fmt: skip
        lk.train(m, task, steps=14, lr=0.1, batch_size=16, seed=s, recorder=rec, progress=False)
        runs.append(lk.load(root / f"run{s}"))
    model, model_b = runs[0].model(), runs[1].model()
    surface = lk.landscape.plane(model, task, resolution=5, progress=False)
    ag = lk.glassy.two_time(runs, waiting_times=[1, 2, 3, 4])
    X = np.random.default_rng(0).normal(size=(40, 5))
    return {"task": task, "runs": runs, "model": model, "model_b": model_b, "surface": surface,
            "ag": ag, "X": X, "root": root}  # fmt: skip


def _op(w):
    return lk.hessian.HessianOperator(w["model"], w["task"], n_samples=32)


# (function label, call(world, **kwargs), {argument: [bad values]}) — every value must be refused
CASES = [
    ("tasks.digits", lambda w, **k: lk.tasks.digits(**k),
     {"n_train": COUNT, "test_frac": [0.0, 1.0, -0.2, NAN], "label_noise": FRACTION, "seed": [2.5, "1"],
      "classes": [[], [3, 3], [11], "x"]}),
    ("tasks.iris", lambda w, **k: lk.tasks.iris(**k),
     {"test_frac": [0.0, 1.0, NAN], "label_noise": FRACTION, "features": [[], [9], ["nope"]]}),
    ("tasks.modular_addition", lambda w, **k: lk.tasks.modular_addition(**k),
     {"p": [1, -3, 2.5, "7"], "train_frac": [0.0, 1.5, NAN]}),
    ("tasks.teacher_student", lambda w, **k: lk.tasks.teacher_student(**k),
     {"n": COUNT, "d": COUNT, "width": COUNT, "noise": NONNEG, "n_test": COUNT, "out_features": COUNT}),
    ("tasks.convection", lambda w, **k: lk.tasks.convection(**k),
     {"beta": [NAN, INF, "x"], "n_collocation": COUNT, "n_initial": COUNT, "n_boundary": COUNT,
      "test_grid": [1, 0, -2, 2.5]}),
    ("tasks.subset", lambda w, **k: lk.tasks.subset(w["task"], **{"n_train": 10, **k}),
     {"n_train": [*COUNT, 10**6]}),
    ("models.mlp", lambda w, **k: lk.models.mlp(**{"in_features": 4, "hidden": [3], "out_features": 2, **k}),
     {"in_features": COUNT, "hidden": [[0], [-2], [2.5], "8", 8], "out_features": COUNT,
      "activation": OPTION}),
    ("models.cnn", lambda w, **k: lk.models.cnn(**k),
     {"n_classes": COUNT, "channels": [[], [0], [-4], "8"], "in_channels": COUNT, "image_size": [0, -8, 2.5, 2]}),
    ("models.resnet", lambda w, **k: lk.models.resnet(**k),
     {"n_classes": COUNT, "width": COUNT, "depth": COUNT, "in_channels": COUNT}),
    ("models.transformer", lambda w, **k: lk.models.transformer(**{"p": 7, "d_model": 8, "d_mlp": 8, "n_heads": 2, **k}),
     {"p": COUNT, "d_model": [*COUNT, 9], "n_heads": [*COUNT, 3], "d_mlp": COUNT, "n_ctx": COUNT, "vocab": [0, -1, 3]}),
    ("models.pinn", lambda w, **k: lk.models.pinn(**k),
     {"hidden": [[0], "32", 32], "in_features": COUNT, "out_features": COUNT}),
    ("schedules.every", lambda w, **k: lk.schedules.every(**{"k": 2, **k}), {"k": COUNT, "start": INDEX}),
    ("schedules.geometric", lambda w, **k: lk.schedules.geometric(**{"first": 1, "last": 100, "num": 5, **k}),
     {"first": [0, -1, 2.5], "last": [0, -1, 2.5], "num": COUNT}),
    ("schedules.at", lambda w, **k: lk.schedules.at(**k), {"steps": [[-1], [2.5], "12", 12, [NAN]]}),
    ("Recorder", lambda w, **k: lk.Recorder(**{"path": w["root"] / "rec", **k}),
     {"sketch": COUNT, "flush_every": POSITIVE, "dtype": ["int8", "foo", 3], "chunk_mb": POSITIVE,
      "schedule": ["every 10", 5]}),
    ("train", lambda w, **k: lk.train(**{"model": lk.models.mlp(64, [4], 10, seed=0), "task": w["task"],
                                        "steps": 3, "lr": 0.1, "progress": False, **k}),
     {"steps": [-1, 2.5, "3", True], "lr": [-0.1, NAN, INF, "x"], "batch_size": [0, -1, 2.5, 10**6],
      "optimizer": OPTION, "momentum": [-0.5, 1.5, NAN], "weight_decay": [-1.0, NAN], "eval_every": [-1, 2.5],
      "noise_samples": COUNT, "seed": [2.5], "device": ["gpu9", 3], "task": ["digits", None]}),
    ("landscape.plane", lambda w, **k: lk.landscape.plane(**{"model": w["model"], "task": w["task"], "resolution": 3,
                                                           "progress": False, **k}),
     {"span": POSITIVE, "resolution": [*COUNT, 1, 10**6], "directions": OPTION, "n_samples": COUNT,
      "max_memory": MEMORY, "norm_stats": OPTION, "data": OPTION, "backend": OPTION}),
    ("landscape.line", lambda w, **k: lk.landscape.line(**{"model_a": w["model"], "model_b": w["model_b"],
                                                         "task": w["task"], "steps": 3, **k}),
     {"steps": [*COUNT, 1, 10**9], "extend": NONNEG, "n_samples": COUNT, "norm_stats": OPTION,
      "max_memory": MEMORY, "model_b": [lk.models.mlp(64, [7], 10), "x"]}),
    ("landscape.directions", lambda w, **k: lk.landscape.directions(**{"model": w["model"], **k}),
     {"method": OPTION, "n": COUNT}),
    ("landscape.profile", lambda w, **k: lk.landscape.profile(**{"model": w["model"], "task": w["task"], "resolution": 3,
                                                               "hessian": False, "progress": False, **k}),
     {"resolution": [0, -1, 2.5], "span": POSITIVE, "threshold": [-0.1, NAN, 1.5], "trace_matvecs": [-1, 2.5],
      "density_steps": [-1, 2.5], "n_samples": COUNT}),
    ("hessian.HessianOperator", lambda w, **k: lk.hessian.HessianOperator(**{"model": w["model"], "data": w["task"], **k}),
     {"n_samples": COUNT, "batch_size": COUNT, "backend": OPTION, "params": ["nomatch*", 3],
      "dtype": ["float8", 3]}),
    ("hessian.top_eigenvalues", lambda w, **k: lk.hessian.top_eigenvalues(**{"op": _op(w), **k}),
     {"k": [*COUNT, 10**7], "tol": POSITIVE, "which": OPTION, "max_iter": COUNT}),
    ("hessian.top_eigenvalues(model)", lambda w, **k: lk.hessian.top_eigenvalues(w["model"], w["task"], **{"k": 1, **k}),
     {"batch_size": COUNT, "n_samples": COUNT}),
    ("hessian.trace", lambda w, **k: lk.hessian.trace(**{"op": _op(w), "num_matvecs": 4, **k}),
     {"num_matvecs": [*COUNT, 1], "method": OPTION}),
    ("hessian.density", lambda w, **k: lk.hessian.density(**{"op": _op(w), "n_runs": 1, "steps": 5, **k}),
     {"n_runs": COUNT, "steps": COUNT, "grid_points": [*COUNT, 1], "sigma": POSITIVE}),
    ("hessian.per_layer", lambda w, **k: lk.hessian.per_layer(**{"model": w["model"], "data": w["task"], "n_samples": 32, **k}),
     {"k": COUNT, "tol": POSITIVE, "trace_matvecs": [-1, 2.5]}),
    ("hessian.MatrixOperator", lambda w, **k: lk.hessian.MatrixOperator(**k),
     {"matrix": [np.ones((2, 3)), np.full((2, 2), NAN), "x", np.ones(3)]}),
    ("koopman.spectrum", lambda w, **k: lk.koopman.spectrum(**{"runs": w["runs"], "delays": 2, "rank": 3, **k}),
     {"delays": [-1, 2.5, "3", True, INF, 10**6], "rank": [0, -1, 2.5, "3"], "pca": [0, -1, 2.5], "method": OPTION,
      "max_memory": MEMORY, "runs": [[], "runs", [np.zeros((1, 3))]]}),
    ("koopman.conjugacy_test", lambda w, **k: lk.koopman.conjugacy_test(
        **{"runs_a": w["runs"][:2], "runs_b": w["runs"][2:4], "delays": 2, "rank": 3, "n_resamples": 5, **k}),
     {"n_resamples": COUNT, "alpha": [0.0, 1.0, -0.1, NAN], "margin": [-0.1, NAN], "delays": [-1, 2.5],
      "runs_b": [[]]}),
    ("koopman.permutation_test", lambda w, **k: lk.koopman.permutation_test(
        **{"runs_a": w["runs"][:2], "runs_b": w["runs"][2:4], "delays": 2, "rank": 3, "n_resamples": 5, **k}),
     {"n_resamples": COUNT, "alpha": [0.0, 1.0, NAN]}),
    ("koopman.windowed", lambda w, **k: lk.koopman.windowed(**{"runs": w["runs"], "window": 8, "stride": 4,
                                                              "delays": 2, "rank": 2, **k}),
     {"window": [*COUNT, 10**6], "stride": COUNT}),
    ("koopman.observables", lambda w, **k: lk.koopman.observables(**{"runs": w["runs"], **k}),
     {"pca": [0, -1, 2.5, 10**6], "params": ["nomatch*"]}),
    ("koopman.uniform_groups", lambda w, **k: lk.koopman.uniform_groups(**{"runs": w["runs"], **k}),
     {"by": ["nokey"], "every": COUNT}),
    ("koopman.wasserstein", lambda w, **k: lk.koopman.wasserstein(**{"a": [1, 2], "b": [1, 3], **k}),
     {"a": [[], [NAN], "x"]}),
    ("glassy.two_time", lambda w, **k: lk.glassy.two_time(**{"runs": w["runs"], **k}),
     {"n_waiting": COUNT, "max_memory": MEMORY, "waiting_times": [[-1], [10**6], [2.5]],
      "lags": [[0], [-3], [NAN], [], "x"]}),
    ("glassy.regimes", lambda w, **k: lk.glassy.regimes(**{"steps": np.arange(5), "loss": np.ones(5), **k}),
     {"plateau": [-0.1, NAN], "bottom": [-0.1, NAN], "loss": [np.ones(4), np.full(5, NAN)]}),
    ("glassy.collapse", lambda w, **k: lk.glassy.collapse(**{"ag": w["ag"], **k}), {"mus": [[], [NAN], "x"]}),
    ("glassy.diffusion_exponent", lambda w, **k: lk.glassy.diffusion_exponent(**{"ag": w["ag"], **k}),
     {"min_lag": [-1.0, NAN]}),
    ("mapper.graph", lambda w, **k: lk.mapper.graph(w["runs"], **k),
     {"n_cubes": [*COUNT, 10**6, 5000], "overlap": [1.0, -0.1, NAN], "eps": POSITIVE, "min_samples": COUNT,
      "pca": [0, -1, 2.5], "max_snapshots": COUNT, "max_memory": MEMORY, "lens": ["nolens", 3]}),
    ("morse.from_runs", lambda w, **k: lk.morse.from_runs(**{"runs": w["runs"], "start_step": 2, **k}),
     {"start_step": [-1, 2.5, 10**6], "end_step": [1, 10**6, 2.5], "subdiv": [*COUNT, 40], "coords": [0, 10**6, "x", [-1]]}),
    ("morse.from_pairs", lambda w, **k: lk.morse.from_pairs(**{"X_start": w["X"][:, :2], "X_end": w["X"][:, :2] * 0.5, **k}),
     {"subdiv": COUNT, "margin": NONNEG, "X_end": [np.ones((3, 2)), np.full((40, 2), NAN)]}),
    ("morse.from_map", lambda w, **k: lk.morse.from_map(**{"f": lambda x: 0.5 * x, "lower": [-1, -1], "upper": [1, 1], **k}),
     {"subdiv": COUNT, "upper": [[-2, -2], [1], [NAN, 1]]}),
    ("similarity.cka", lambda w, **k: lk.similarity.cka(**{"X": w["X"], "Y": w["X"] ** 2, **k}),
     {"Y": [w_ for w_ in (np.ones((39, 5)), np.full((40, 5), NAN), "x")]}),
    ("similarity.model_cka", lambda w, **k: lk.similarity.model_cka(**{"model_a": w["model"], "model_b": w["model_b"],
                                                                     "task": w["task"], "n": 64, **k}),
     {"n": [*COUNT, 1], "mixup": [-1.0, NAN], "layer": ["nolayer"]}),
    ("similarity.mode_connectivity", lambda w, **k: lk.similarity.mode_connectivity(
        **{"model_a": w["model"], "model_b": w["model_b"], "task": w["task"], "epochs": 1, "n_points": 3, **k}),
     {"curve": OPTION, "epochs": [-1, 2.5], "lr": POSITIVE, "batch_size": COUNT, "n_points": [*COUNT, 1]}),
    ("similarity.mc_from_profile", lambda w, **k: lk.similarity.mc_from_profile(**{"t": [0, 0.5, 1], "err": [0, 1, 0], **k}),
     {"err": [[0, 1], [NAN, 0, 0]], "t": [[1, 0.5, 0]]}),
    ("topology.persistence", lambda w, **k: lk.topology.persistence(**{"surface": w["surface"], **k}),
     {"threshold": [-0.1, NAN, 1.5], "connectivity": [3, 5, 2.5], "surface": [np.full((4, 4), NAN), "x"]}),
    ("taxonomy.classify", lambda w, **k: lk.taxonomy.classify(**k),
     {"rows": [[{"loss": NAN, "mc": 0.0, "cka": 0.5}], [{}], "x", [3]]}),
    ("taxonomy.Thresholds", lambda w, **k: lk.taxonomy.Thresholds(**k),
     {"mc_eps": [-0.1, NAN], "loss": [-0.1, NAN], "cka": [1.5, NAN]}),
    ("load", lambda w, **k: lk.load(**k), {"path": [3, None]}),
    ("load_runs", lambda w, **k: lk.load_runs(**k), {"root": [3, None]}),
    ("from_checkpoints", lambda w, **k: lk.from_checkpoints(**{"paths": ["x.pt"], **k}),
     {"paths": [[], "x.pt", 3], "steps": [[-1], [2.5], [1, 2]]}),
    ("grid", lambda w, **k: lk.grid(**k), {"lr": [[], ()]}),
    ("sweep", lambda w, **k: lk.sweep(**{"fn": lambda: None, "grid": [{}], "root": w["root"] / "sw", "progress": False, **k}),
     {"max_workers": COUNT, "threads_per_run": COUNT, "timeout": POSITIVE, "fn": [3], "grid": [3, [3]]}),
    ("examples.pspin", lambda w, **k: lk.examples.pspin(**{"n": 10, "steps": 50, **k}),
     {"n": [*COUNT, 2], "temperature": NONNEG, "steps": COUNT, "dt": POSITIVE, "n_snapshots": COUNT}),
    ("examples.omd_ogd", lambda w, **k: lk.examples.omd_ogd(**{"n_steps": 5, "grid": 2, **k}),
     {"n_steps": COUNT, "eta": POSITIVE, "grid": COUNT}),
    ("examples.example_runs", lambda w, **k: lk.examples.example_runs(**k), {"name": OPTION}),
]  # fmt: skip

CALLS = [
    (label, fn, arg, v) for label, fn, bad in CASES for arg, values in bad.items() for v in values
]


def _text(v):
    return v if isinstance(v, (int, float, str, type(None))) else type(v).__name__


def _outcome(w, fn, arg, value):
    """'clear' (a LandkitError naming the argument), 'vague' (one that does not), 'raw' (any other
    exception), or 'silent' (it returned)."""
    import signal

    def too_long(*_):
        raise TimeoutError("still running after 60 s")

    old = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(60)  # an absurd size must be refused, not attempted
    try:
        fn(w, **{arg: value})
    except lk.LandkitError as e:
        return "clear" if arg in str(e) else f"vague: {e}"
    except Exception as e:
        return f"raw: {type(e).__name__}: {str(e)[:200]}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return "silent"


@pytest.mark.parametrize(
    "label, fn, arg, value", CALLS, ids=[f"{c[0]}-{c[2]}={_text(c[3])!r}" for c in CALLS]
)
def test_bad_input_is_a_clear_error_naming_the_argument(world, label, fn, arg, value):
    assert _outcome(world, fn, arg, value) == "clear"


# -- the silent-nonsense cases of the campaign, each by name ----------------------------------------


def test_top_eigenvalues_refuses_a_negative_batch_size(world):
    with pytest.raises(lk.InvalidArgument, match="batch_size"):
        lk.hessian.top_eigenvalues(world["model"], world["task"], k=1, batch_size=-1)


def test_density_refuses_a_negative_sigma(world):
    with pytest.raises(lk.InvalidArgument, match="sigma"):
        lk.hessian.density(_op(world), n_runs=1, steps=5, sigma=-1)


def test_debiased_cka_of_a_constant_matrix_is_refused_not_huge():
    X = np.random.default_rng(0).normal(size=(30, 4))
    with pytest.raises(lk.InvalidArgument, match="constant"):
        lk.similarity.cka(np.ones((30, 4)), X, debiased=True)
    with pytest.raises(lk.InvalidArgument, match="constant"):
        lk.similarity.cka(np.ones((30, 4)), X)


def test_classify_refuses_nan_metrics():
    row = {"loss": NAN, "mc": 0.0, "cka": 0.9}  # a diverged cell: it used to come out "IV-A"
    with pytest.raises(lk.InvalidArgument, match="loss"):
        lk.taxonomy.classify([row])


def test_two_time_refuses_runs_of_different_sizes(world, tmp_path):
    task = world["task"]
    rec = lk.Recorder(tmp_path / "wide", schedule=lk.schedules.every(1), evaluate=False)
    lk.train(
        lk.models.mlp(64, [12], 10, seed=0), task, steps=14, lr=0.1, recorder=rec, progress=False
    )
    with pytest.raises(lk.InvalidArgument, match="runs"):
        lk.glassy.two_time([world["runs"][0], lk.load(tmp_path / "wide")])


def test_recorder_capture_refuses_a_model_of_another_size(tmp_path):
    rec = lk.Recorder(tmp_path / "r", evaluate=False)
    rec.capture(0, lk.models.mlp(4, [3], 2, seed=0))
    with pytest.raises(lk.InvalidArgument, match="model"):
        rec.capture(1, lk.models.mlp(4, [5], 2, seed=0))
    rec.close()
    assert len(lk.load(tmp_path / "r")) == 1


def test_from_checkpoints_refuses_duplicate_steps(tmp_path):
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"c{i}.pt")
        torch.save(lk.models.mlp(4, [3], 2, seed=i).state_dict(), paths[-1])
    with pytest.raises(lk.InvalidArgument, match="steps"):
        lk.from_checkpoints(paths, steps=[5, 5])


def test_a_malicious_checkpoint_is_refused_naming_the_file(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("ran code",))

    f = tmp_path / "evil.pt"
    f.write_bytes(pickle.dumps({"w": Evil()}))
    with pytest.raises(lk.StoreError, match=r"evil\.pt") as e:
        lk.from_checkpoints([f])
    assert "weights_only=False" not in str(e.value)


def test_mapper_refuses_more_cubes_than_points(world):
    with pytest.raises(lk.InvalidArgument, match="n_cubes"):
        lk.mapper.graph(world["runs"], n_cubes=10**6)


def test_the_campaign_size():
    """The campaign covers at least as many calls and functions as the one the issue reports."""
    assert len({c[0] for c in CASES}) >= 55 and len(CALLS) >= 374, (len(CASES), len(CALLS))
    assert math.isfinite(len(CALLS))
