"""CKA against its definition and invariances; mode connectivity on profiles and a known barrier."""

import copy

import numpy as np
import pytest
import torch

import landkit as lk
from landkit import similarity as S


def test_cka_invariances_and_direct_hsic():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 8))
    Q = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    assert S.cka(X, X @ Q) == pytest.approx(1.0, abs=1e-10)
    assert S.cka(X, 3.7 * X) == pytest.approx(1.0, abs=1e-10)
    Y = rng.normal(size=(50, 5)) + X[:, :5]
    assert S.cka(X, Y) == pytest.approx(S.cka(Y, X), abs=1e-12)
    # the definition through HSIC with centred linear kernels
    H = np.eye(50) - 1 / 50
    K, L = H @ X @ X.T @ H, H @ Y @ Y.T @ H
    direct = np.trace(K @ L) / np.sqrt(np.trace(K @ K) * np.trace(L @ L))
    assert S.cka(X, Y) == pytest.approx(direct, rel=1e-10)
    # independent features: the plain estimate is biased upward, the debiased one is near 0
    A, B = rng.normal(size=(60, 40)), rng.normal(size=(60, 40))
    assert S.cka(A, B) > 0.3
    assert abs(S.cka(A, B, debiased=True)) < 0.05
    assert S.cka(X, X @ Q, debiased=True) == pytest.approx(1.0, abs=1e-10)
    with pytest.raises(ValueError, match="same inputs"):
        S.cka(X, Y[:10])


def test_mc_on_synthetic_profiles():
    t = np.linspace(0, 1, 11)
    barrier = 0.05 + 0.4 * np.sin(np.pi * t)
    value, t_star = S.mc_from_profile(t, barrier)
    assert value == pytest.approx(-0.4) and t_star == pytest.approx(0.5)
    flat = np.full(11, 0.02)
    assert S.mc_from_profile(t, flat)[0] == pytest.approx(0.0)
    dip = 0.3 - 0.2 * np.sin(np.pi * t)  # the endpoints are worse than the middle: not converged
    assert S.mc_from_profile(t, dip)[0] == pytest.approx(0.2)


def _permuted_pair():
    task = lk.tasks.digits(seed=0, n_train=300)
    a = lk.models.mlp(64, [16], 10, seed=0)
    lk.train(a, task, steps=500, lr=0.2, batch_size=32, progress=False)
    b = copy.deepcopy(a)
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        b.fc1.weight.copy_(a.fc1.weight[perm])
        b.fc1.bias.copy_(a.fc1.bias[perm])
        b.fc2.weight.copy_(a.fc2.weight[:, perm])
    return task, a, b


def test_bezier_training_removes_a_known_barrier():
    """Two hidden-unit permutations of one network compute the same function; the straight line
    between them crosses a barrier, a trained Bezier curve goes around it."""
    task, a, b = _permuted_pair()
    line = S.mode_connectivity(a, b, task, curve="line")
    assert line.error[0] == pytest.approx(line.error[-1])  # the same function at both ends
    assert line.value < -0.1
    bez = S.mode_connectivity(a, b, task, curve="bezier", epochs=20, lr=0.05)
    assert bez.value > line.value / 4 and bez.loss.max() < line.loss.max() / 2
    assert S.model_cka(a, b, task) == pytest.approx(1.0, abs=1e-6)
    other = lk.models.mlp(64, [16], 10, seed=5)
    assert S.model_cka(a, other, task) < 0.9
    with pytest.raises(ValueError, match="one architecture"):
        S.mode_connectivity(a, lk.models.mlp(64, [8], 10), task)


def test_batchnorm_statistics_are_recomputed_along_the_curve():
    task = lk.tasks.digits(seed=0, n_train=200, flatten=False)
    a = lk.models.resnet(10, batchnorm=True, seed=0)
    b = lk.models.resnet(10, batchnorm=True, seed=1)
    for m in (a, b):
        lk.train(m, task, steps=60, lr=0.05, batch_size=32, progress=False)
    mc = S.mode_connectivity(a, b, task, curve="line", n_points=3)
    # at t = 0 the recomputed statistics are those of the training set under a's weights
    ref = copy.deepcopy(a)
    for m in ref.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    ref.train()
    with torch.no_grad():
        ref(task.x_train)
    ref.eval()
    with torch.no_grad():
        err = float((ref(task.x_train).argmax(-1) != task.y_train).float().mean())
    assert mc.error[0] == pytest.approx(err, abs=1e-6)
