import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import landkit as lk


def test_digits_shapes_and_split():
    t = lk.tasks.digits(seed=0)
    assert t.in_features == 64 and t.n_classes == 10 and t.out_features == 10
    assert t.n_train + t.n_test == 1797
    assert t.x_train.dtype == torch.float32 and t.y_train.dtype == torch.long
    assert float(t.x_train.max()) <= 1.0 and float(t.x_train.min()) >= 0.0
    # stratified: every class in both splits
    assert set(t.y_test.tolist()) == set(range(10))


def test_digits_are_scikit_learns_without_importing_it(monkeypatch):
    """The digits come from scikit-learn's own data file, read without importing scikit-learn (a
    fresh process pays no 1.5 s import): the same pixels and labels as ``load_digits()``, also through
    the fallback taken where the file is not found."""
    import subprocess
    import sys

    from sklearn.datasets import load_digits

    from landkit import tasks

    ref = load_digits()
    x, y = tasks._digits_arrays()
    np.testing.assert_array_equal(x, ref.data)
    np.testing.assert_array_equal(y, ref.target)
    assert not x.flags.writeable
    code = "import sys, landkit as lk; lk.tasks.digits(); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    fx, fy = tasks._digits_arrays.__wrapped__()  # not cached: the fallback itself
    np.testing.assert_array_equal(fx, ref.data)
    np.testing.assert_array_equal(fy, ref.target)


def test_digits_options():
    t = lk.tasks.digits(classes=(0, 1), flatten=False, n_train=50, seed=3)
    assert tuple(t.x_train.shape) == (50, 1, 8, 8)
    assert t.n_classes == 2 and set(t.y_train.tolist()) <= {0, 1}
    with pytest.raises(ValueError, match="classes"):
        lk.tasks.digits(classes=(1, 0))
    with pytest.raises(ValueError, match="n_train"):
        lk.tasks.digits(n_train=100_000)
    with pytest.raises(TypeError, match="seed"):
        lk.tasks.digits(seed=1.5)


def test_label_noise_flips_the_asked_fraction():
    clean = lk.tasks.digits(seed=0)
    noisy = lk.tasks.digits(seed=0, label_noise=0.3)
    assert torch.equal(clean.x_train, noisy.x_train)
    frac = float((clean.y_train != noisy.y_train).float().mean())
    assert 0.25 < frac < 0.35  # binomial(1437, 0.3): sd ≈ 0.012
    assert torch.equal(clean.y_test, noisy.y_test)


def test_tasks_are_deterministic_given_seed():
    for make in (lambda s: lk.tasks.digits(seed=s), lambda s: lk.tasks.iris(seed=s),
                 lambda s: lk.tasks.teacher_student(64, 4, 3, 0.1, seed=s),
                 lambda s: lk.tasks.modular_addition(11, 0.5, seed=s)):  # fmt: skip
        a, b, c = make(1), make(1), make(2)
        assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_train, b.y_train)
        assert not (torch.equal(a.x_train, c.x_train) and torch.equal(a.y_train, c.y_train))


def test_iris_two_features_standardised():
    t = lk.tasks.iris(features=("petal length", "petal width"), seed=0)
    assert t.in_features == 2 and t.n_classes == 3
    np.testing.assert_allclose(t.x_train.mean(0).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(t.x_train.std(0, unbiased=False).numpy(), 1, atol=1e-4)
    with pytest.raises(ValueError, match="unknown iris feature"):
        lk.tasks.iris(features=("petal colour",))


def test_modular_addition_is_exact():
    t = lk.tasks.modular_addition(p=7, train_frac=0.5, seed=0)
    x = torch.cat([t.x_train, t.x_test])
    y = torch.cat([t.y_train, t.y_test])
    assert len(x) == 49 and torch.equal(y, (x[:, 0] + x[:, 1]) % 7)
    assert (x[:, 2] == 7).all()
    assert len({tuple(r) for r in x.tolist()}) == 49


def _teacher(seed, d, width, out=1):
    """The documented teacher, tanh(x W1ᵀ / √d) W2ᵀ / √width, as a student network."""
    g = torch.Generator().manual_seed(seed)
    w1, w2 = torch.randn(width, d, generator=g), torch.randn(out, width, generator=g)
    net = torch.nn.Sequential(torch.nn.Linear(d, width, bias=False), torch.nn.Tanh(),
                              torch.nn.Linear(width, out, bias=False))  # fmt: skip
    with torch.no_grad():
        net[0].weight.copy_(w1 / d**0.5)
        net[2].weight.copy_(w2 / width**0.5)
    return net


def test_teacher_student_targets_are_the_teachers_outputs():
    t = lk.tasks.teacher_student(n=32, d=5, width=4, noise=0.0, seed=0)
    assert t.kind == "regression" and t.out_features == 1
    teacher = _teacher(0, 5, 4)
    ev = t.evaluate(teacher)
    assert ev["test_loss"] < 1e-12 and ev["train_loss"] < 1e-12  # the teacher itself fits exactly
    assert t.evaluate(torch.nn.Linear(5, 1))["test_loss"] > 1e-3
    # label noise σ on the training targets only: the teacher's training loss is ≈ σ², test stays 0
    noisy = lk.tasks.teacher_student(n=4000, d=5, width=4, noise=0.3, seed=0)
    ev = noisy.evaluate(_teacher(0, 5, 4))
    assert ev["train_loss"] == pytest.approx(0.09, rel=0.1) and ev["test_loss"] < 1e-12


def test_subset():
    t = lk.tasks.digits(seed=0)
    s = lk.tasks.subset(t, 100, seed=1)
    assert s.n_train == 100 and s.n_test == t.n_test


@given(seed=st.integers(0, 2**31 - 1))
@settings(max_examples=10, deadline=None)
def test_models_deterministic_and_rng_untouched(seed):
    state = torch.random.get_rng_state()
    a = lk.models.mlp(8, [5], 3, seed=seed)
    b = lk.models.mlp(8, [5], 3, seed=seed)
    assert torch.equal(torch.random.get_rng_state(), state)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_model_zoo_shapes():
    x = torch.rand(4, 1, 8, 8)
    assert lk.models.cnn(10)(x).shape == (4, 10)
    for residual in (True, False):
        assert lk.models.resnet(10, residual=residual)(x).shape == (4, 10)
    m = lk.models.mlp(64, [32, 16], 10, bias=False)
    assert [n for n, _ in m.named_parameters()] == ["fc1.weight", "fc2.weight", "fc3.weight"]
    t = lk.tasks.modular_addition(p=11)
    tr = lk.models.transformer(11, d_model=16, n_heads=2, d_mlp=32)
    assert tr(t.x_train[:5]).shape == (5, 11)
    assert tr.W_out.weight.shape == (11, 16)


def test_model_bad_input():
    with pytest.raises(ValueError, match="activation"):
        lk.models.mlp(4, [3], 2, activation="swish!")
    with pytest.raises(ValueError, match="each entry of hidden"):
        lk.models.mlp(4, [0], 2)
    with pytest.raises(ValueError, match="divisible"):
        lk.models.transformer(11, d_model=10, n_heads=3)


def test_convection_pinn_objective_matches_the_exact_solution(tmp_path):
    """The exact solution u = sin(x − βt) has zero PINN loss; a wrong β does not."""
    import math

    task = lk.tasks.convection(beta=3.0, n_collocation=200, n_initial=40, n_boundary=40)

    def exact(inp, beta=3.0):
        return torch.sin(inp[:, :1] - beta * inp[:, 1:2])

    x, y = task.x_train.double(), task.y_train.double()
    assert float(task.objective(exact, x, y)) < 1e-12  # targets stored in float32
    # with u = sin(x − t) the residual is u_t + 3 u_x = 2 cos(x − t); its mean square ≈ 2
    wrong = float(task.objective(lambda inp: exact(inp, beta=1.0), x, y))
    col = task.x_train[y[:, 0] == 0].double()
    expect = float((4 * torch.cos(col[:, 0] - col[:, 1]) ** 2).mean())
    assert wrong == pytest.approx(expect, rel=1e-6)
    assert task.y_test.shape == (64 * 64, 1) and task.x_test[:, 0].max() == pytest.approx(
        2 * math.pi
    )
    # the objective is what training and evaluation use
    model = lk.models.mlp(2, [8], 1, activation="tanh", seed=0)
    before = task.evaluate(model)["train_loss"]
    lk.train(
        model, task, steps=100, lr=1e-2, optimizer="adam", batch_size=task.n_train, progress=False
    )
    after = task.evaluate(model)
    assert after["train_loss"] < before and "test_rel_l2" in after
    with pytest.raises(ValueError, match="grad_noise"):
        lk.train(
            model, task, steps=1, lr=0.1, recorder=lk.Recorder(tmp_path / "r", grad_noise=True)
        )


def test_transformer_reads_out_the_last_position_as_the_full_computation_does():
    """The forward pass computes attention and the MLP at the read-out position only; the logits must
    equal those of the whole sequence computed and the last position taken."""
    net = lk.models.transformer(11, d_model=16, n_heads=4, d_mlp=32, seed=3).double()
    tokens = torch.randint(0, 12, (50, 3), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = net.embed(tokens) + net.pos[:3]
        x = x + net.attn(x, x, x, need_weights=False)[0]
        x = x + net.mlp_out(torch.relu(net.mlp_in(x)))
        full = net.W_out(x[:, -1])
        torch.testing.assert_close(net(tokens), full, rtol=1e-12, atol=1e-12)


def test_iris_classes_keeps_and_relabels_a_subset():
    full = lk.tasks.iris(seed=0, features=("petal width",))
    two = lk.tasks.iris(seed=0, features=("petal width",), classes=(1, 2))
    assert two.n_classes == 2 and two.out_features == 2
    assert two.n_train + two.n_test == 100
    assert sorted(set(two.y_train.tolist())) == [0, 1]
    # versicolor's petals are narrower than virginica's (means 1.33 vs 2.03 cm): class 0 below class 1
    x, y = two.x_train[:, 0], two.y_train
    assert x[y == 0].mean() < 0 < x[y == 1].mean()
    assert (
        full.n_classes == 3
        and lk.tasks.from_config({"task": "iris", "task_info": two.info}).n_train == 80
    )
    with pytest.raises(lk.LandkitError, match="distinct classes"):
        lk.tasks.iris(classes=(1, 1))


def test_relu_unit_is_two_weights_and_rebuilds_from_its_spec():
    net = lk.models.relu_unit(seed=5, offset=0.5)
    w, v = (float(p) for p in net.parameters())
    out = net(torch.tensor([[1.0], [-1.0]]))
    expected = v * max(w, 0) + 0.5, v * max(-w, 0) + 0.5
    np.testing.assert_allclose(out[:, 1].detach().numpy(), expected, rtol=1e-6)
    assert (out[:, 0] == 0).all()
    again = lk.models.from_spec(net.landkit_spec)
    assert [float(p) for p in again.parameters()] == [w, v]
