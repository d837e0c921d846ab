"""The Hessian lens against the dense Hessian of tiny models (torch.autograd.functional.hessian)."""

import numpy as np
import pytest
import torch

import landkit as lk
from landkit import hessian as H


@pytest.fixture(scope="module")
def tiny():
    task = lk.tasks.digits(seed=0, n_train=60)
    model = lk.models.mlp(64, [4], 10, activation="tanh", seed=0)
    lk.train(model, task, steps=50, lr=0.5, progress=False)  # somewhere non-trivial
    op = H.HessianOperator(model, task, dtype=torch.float64)
    dense = op.dense().numpy()
    return model, task, dense


def test_matvec_equals_dense_product(tiny):
    model, task, dense = tiny
    op = H.HessianOperator(
        model, task, dtype=torch.float64, batch_size=17
    )  # batched sums agree too
    v = torch.randn(op.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    np.testing.assert_allclose(op.matvec(v).numpy(), dense @ v.numpy(), rtol=1e-9, atol=1e-11)
    assert np.allclose(dense, dense.T, atol=1e-10)


def test_top_and_bottom_eigenvalues_match_dense(tiny):
    model, task, dense = tiny
    exact = np.linalg.eigvalsh(dense)
    top = H.top_eigenvalues(model, task, k=3, tol=1e-8, dtype=torch.float64)
    np.testing.assert_allclose(top.eigenvalues, exact[::-1][:3], rtol=1e-6)
    assert (
        top.converged
        and top.iterations > 0
        and np.all(top.residuals < 1e-6 * abs(top.eigenvalues[0]))
    )
    bottom = H.top_eigenvalues(model, task, k=2, tol=1e-8, which="smallest", dtype=torch.float64)
    np.testing.assert_allclose(bottom.eigenvalues, exact[:2], rtol=1e-6, atol=1e-9)
    # eigenvectors: H v = λ v
    v = top.eigenvectors[0]
    np.testing.assert_allclose(
        dense @ v, top.eigenvalues[0] * v, atol=1e-6 * abs(top.eigenvalues[0])
    )


def test_trace_within_its_standard_error(tiny):
    model, task, dense = tiny
    est = H.trace(model, task, n_samples=200, seed=1, dtype=torch.float64)
    assert abs(est.estimate - np.trace(dense)) < 3.5 * est.stderr
    assert est.stderr > 0 and len(est.samples) == 200


def test_density_integrates_to_one_and_locates_the_spectrum(tiny):
    model, task, dense = tiny
    d = H.density(model, task, n_runs=3, steps=60, seed=0, dtype=torch.float64)
    integral = np.trapezoid(d.density, d.grid)
    assert integral == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(np.nansum(d.weights, axis=1), 1.0, atol=1e-9)
    exact = np.linalg.eigvalsh(dense)
    assert np.nanmax(d.nodes) == pytest.approx(exact[-1], rel=1e-6)


def test_params_block_and_bad_input(tiny):
    model, task, dense = tiny
    op = H.HessianOperator(model, task, params="fc2.*", dtype=torch.float64)
    n1 = sum(p.numel() for n, p in model.named_parameters() if n.startswith("fc1"))
    np.testing.assert_allclose(op.dense().numpy(), dense[n1:, n1:], atol=1e-10)
    with pytest.raises(ValueError, match="which"):
        H.top_eigenvalues(model, task, which="middle")
    with pytest.raises(ValueError, match="k must be"):
        H.top_eigenvalues(model, task, k=0)
    with pytest.raises(ValueError, match="empty"):
        H.HessianOperator(model, (task.x_train[:0], task.y_train[:0]))
    with pytest.raises(TypeError, match="Task or an"):
        H.HessianOperator(model, task.x_train)
