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


@pytest.mark.parametrize(
    "backend, batch_size",
    [("auto", None), ("jvp", None), ("jvp", 17), ("linearize", None), ("reverse", None)],
)
def test_matvec_equals_dense_product(tiny, backend, batch_size):
    model, task, dense = tiny
    op = H.HessianOperator(model, task, dtype=torch.float64, backend=backend, batch_size=batch_size)
    v = torch.randn(op.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for _ in range(2):  # a kept graph or linearisation gives the same product twice
        np.testing.assert_allclose(op.matvec(v).numpy(), dense @ v.numpy(), rtol=1e-9, atol=1e-11)
    assert np.allclose(dense, dense.T, atol=1e-10)
    with pytest.raises(ValueError, match="needs batch_size=None"):
        H.HessianOperator(model, task, backend="reverse", batch_size=17)


def test_top_and_bottom_eigenvalues_match_dense(tiny):
    model, task, dense = tiny
    exact = np.linalg.eigvalsh(dense)
    top = H.top_eigenvalues(model, task, k=3, tol=1e-8, dtype=torch.float64)
    np.testing.assert_allclose(top.eigenvalues, exact[::-1][:3], rtol=1e-6)
    assert top.converged and top.iterations > 0
    # reported residuals are the true ‖Hv − θv‖
    true_res = [
        np.linalg.norm(dense @ u - t * u) for u, t in zip(top.eigenvectors, top.eigenvalues)
    ]
    np.testing.assert_allclose(top.residuals, true_res, rtol=1e-6, atol=1e-12)
    assert np.all(top.residuals <= 1e-8 * np.abs(top.eigenvalues))
    bottom = H.top_eigenvalues(model, task, k=2, tol=1e-8, which="smallest", dtype=torch.float64)
    np.testing.assert_allclose(bottom.eigenvalues, exact[:2], rtol=1e-6, atol=1e-9)
    # eigenvectors: H v = λ v
    v = top.eigenvectors[0]
    np.testing.assert_allclose(
        dense @ v, top.eigenvalues[0] * v, atol=1e-6 * abs(top.eigenvalues[0])
    )


def test_trace_within_its_standard_error(tiny):
    model, task, dense = tiny
    est = H.trace(model, task, num_matvecs=200, seed=1, dtype=torch.float64)
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
    with pytest.raises(TypeError, match="landkit Task, an"):
        H.HessianOperator(model, task.x_train)


def test_hutchpp_is_exact_for_low_rank_and_beats_hutchinson():
    rng = np.random.default_rng(0)
    U = np.linalg.qr(rng.standard_normal((200, 5)))[0]
    A = U @ np.diag([50.0, 20.0, 10.0, 5.0, 1.0]) @ U.T  # rank 5 < n_samples / 3
    est = H.trace(H.MatrixOperator(A), num_matvecs=30, method="hutch++")
    assert est.estimate == pytest.approx(np.trace(A), rel=1e-10) and est.num_matvecs == 30
    # a decaying full-rank spectrum: hutch++ has a much smaller error bar at equal cost
    V = np.linalg.qr(rng.standard_normal((200, 200)))[0]
    B = V @ np.diag(100.0 / (1 + np.arange(200)) ** 2) @ V.T
    hp = H.trace(H.MatrixOperator(B), num_matvecs=60, method="hutch++", seed=1)
    hu = H.trace(H.MatrixOperator(B), num_matvecs=60, seed=1)
    assert hp.stderr < hu.stderr / 5
    assert abs(hp.estimate - np.trace(B)) < 4 * hp.stderr + 1e-9
    with pytest.raises(ValueError, match="hutch"):
        H.trace(H.MatrixOperator(B), num_matvecs=60, method="hutchplus")


def test_per_layer_blocks_match_dense_blocks(tiny):
    model, task, dense = tiny
    blocks = H.per_layer(model, task, k=1, tol=1e-9, dtype=torch.float64, trace_matvecs=4)
    assert list(blocks) == ["fc1", "fc2"]
    sizes = [sum(p.numel() for p in m.parameters()) for m in (model.fc1, model.fc2)]
    lo = 0
    for b, size in zip(blocks.values(), sizes):
        block = dense[lo : lo + size, lo : lo + size]
        assert b["eigen"].eigenvalues[0] == pytest.approx(np.linalg.eigvalsh(block)[-1], rel=1e-6)
        assert b["trace"].num_matvecs == 4
        lo += size


def test_dataloader_input_equals_tensors(tiny):
    model, task, _ = tiny
    ds = torch.utils.data.TensorDataset(task.x_train, task.y_train)
    loader = torch.utils.data.DataLoader(ds, batch_size=16, shuffle=True)
    a = H.HessianOperator(model, loader, dtype=torch.float64)
    b = H.HessianOperator(model, (task.x_train, task.y_train), dtype=torch.float64)
    v = torch.randn(a.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    np.testing.assert_allclose(a.matvec(v).numpy(), b.matvec(v).numpy(), rtol=1e-9, atol=1e-12)


def test_pinn_objective_hessian_and_surface():
    """A PINN's loss (derivatives of the model in its inputs) through the Hessian and a slice."""
    task = lk.tasks.convection(beta=2.0, n_collocation=40, n_initial=10, n_boundary=10)
    model = lk.models.mlp(2, [5], 1, activation="tanh", seed=0)
    op = H.HessianOperator(model, task, dtype=torch.float64)
    dense = op.dense().numpy()
    v = torch.randn(op.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    np.testing.assert_allclose(op.matvec(v).numpy(), dense @ v.numpy(), rtol=1e-8, atol=1e-10)
    top = H.top_eigenvalues(model, task, k=1, tol=1e-8, dtype=torch.float64)
    assert top.eigenvalues[0] == pytest.approx(np.linalg.eigvalsh(dense)[-1], rel=1e-6)
    surf = lk.landscape.plane(model, task, resolution=3, progress=False)
    assert surf.loss[1, 1] == pytest.approx(task.evaluate(model)["train_loss"], rel=1e-5)
    assert surf.info["first_layer"] is None


def test_ggn_equals_dense_gauss_newton_and_is_psd(tiny):
    """G = JᵀH_ℓJ built densely from the Jacobian of the outputs and the loss Hessian in the outputs."""
    model, task, _ = tiny
    x, y = task.x_train[:40].double(), task.y_train[:40]
    G = H.GGNOperator(model, (x, y), dtype=torch.float64)
    f = lambda th: G.outputs(th).reshape(-1)  # noqa: E731
    J = torch.autograd.functional.jacobian(f, G.theta)  # (n·c, P)
    out = G.outputs()
    HL = torch.autograd.functional.hessian(
        lambda o: torch.nn.functional.cross_entropy(o.view_as(out), y), out.reshape(-1)
    )
    ref = (J.T @ HL @ J).numpy()
    np.testing.assert_allclose(G.dense().numpy(), ref, rtol=1e-8, atol=1e-12)
    assert np.linalg.eigvalsh(ref).min() > -1e-10  # PSD
    top = H.top_eigenvalues(G, k=2, tol=1e-10)
    np.testing.assert_allclose(top.eigenvalues, np.linalg.eigvalsh(ref)[::-1][:2], rtol=1e-7)


def test_ggn_equals_hessian_for_a_linear_least_squares_model():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2).double()
    x, y = torch.randn(30, 4, dtype=torch.float64), torch.randn(30, 2, dtype=torch.float64)
    G = H.GGNOperator(model, (x, y)).dense().numpy()
    Hd = H.HessianOperator(model, (x, y)).dense().numpy()
    np.testing.assert_allclose(G, Hd, rtol=1e-10, atol=1e-12)


def test_ggn_refuses_objectives():
    task = lk.tasks.convection(beta=2.0, n_collocation=20, n_initial=5, n_boundary=5)
    with pytest.raises(lk.InvalidArgument, match="Gauss–Newton"):
        H.GGNOperator(lk.models.mlp(2, [5], 1, seed=0), task)


class _Seen(Exception):
    pass


class _DeviceRecorder:
    """An operator that claims the ``meta`` device and float64: the algorithms must hand it probes
    made there (the first matvec records where its vector lives and stops the run)."""

    size, device, dtype = 12, torch.device("meta"), torch.float64

    def __init__(self):
        self.seen = []

    def matvec(self, v):
        self.seen.append((v.device.type, v.dtype))
        raise _Seen


@pytest.mark.parametrize(
    "call",
    [
        lambda op: H.top_eigenvalues(op, k=1),
        lambda op: H.trace(op, num_matvecs=6),
        lambda op: H.trace(op, num_matvecs=6, method="hutch++"),
        lambda op: H.density(op, steps=3),
    ],
    ids=["top_eigenvalues", "hutchinson", "hutch++", "density"],
)
def test_probes_are_made_on_the_operators_device_and_dtype(call):
    op = _DeviceRecorder()
    with pytest.raises(_Seen):
        call(op)
    assert op.seen == [("meta", torch.float64)]


def test_operator_and_model_forms_agree_and_do_not_mix(tiny):
    model, task, _ = tiny
    op = H.HessianOperator(model, task, dtype=torch.float64)
    a = H.trace(op, num_matvecs=10, seed=3)
    b = H.trace(model, task, num_matvecs=10, seed=3, dtype=torch.float64)
    np.testing.assert_allclose(a.samples, b.samples, rtol=1e-12)
    with pytest.raises(lk.InvalidArgument, match="already holds its data"):
        H.trace(op, task)
    with pytest.raises(lk.InvalidArgument, match="needs its data"):
        H.top_eigenvalues(model)
    with pytest.raises(lk.InvalidType, match="curvature operator"):
        H.density("model")
    with pytest.raises(ValueError, match="sigma"):
        H.density(op, sigma=-1)


def test_progress_callback_counts_products_and_cancels(tiny):
    model, task, _ = tiny
    op = H.HessianOperator(model, task)
    calls = []
    H.trace(op, num_matvecs=5, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(i, 5) for i in range(1, 6)]

    def stop_at_3(done, total):
        if done == 3:
            raise lk.Cancelled

    before = op.n_matvecs
    with pytest.raises(lk.Cancelled):
        H.top_eigenvalues(op, k=1, tol=1e-12, progress=stop_at_3)
    assert op.n_matvecs - before == 3


class _Attention(torch.nn.Module):
    """One head of self-attention through PyTorch's fused scaled_dot_product_attention."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.qkv = torch.nn.Parameter(0.3 * torch.randn(3, 4, 4, generator=g))
        self.out = torch.nn.Linear(4, 3)

    def forward(self, x):  # x: (n, 5 tokens, 4)
        q, k, v = (x @ w for w in self.qkv)
        return self.out(torch.nn.functional.scaled_dot_product_attention(q, k, v).mean(1))


def test_hvp_through_fused_attention_matches_dense():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 5, 4, generator=g), torch.randint(0, 3, (16,), generator=g)
    model = _Attention()
    dense = H.HessianOperator(model, (x, y), dtype=torch.float64).dense()
    v = torch.randn(dense.shape[0], generator=g, dtype=torch.float64)
    for backend in ("reverse", "jvp", "linearize"):  # float32: PyTorch's fused CPU kernel otherwise
        op = H.HessianOperator(model, (x, y), backend=backend)
        np.testing.assert_allclose(op.matvec(v.float()).double().numpy(), (dense @ v).numpy(),
                                   rtol=1e-4, atol=1e-5)  # fmt: skip


def test_hessian_plane_directions_use_the_tasks_objective():
    """plane(directions="hessian") on a PINN: the directions are the objective's top eigenvectors."""
    task = lk.tasks.convection(beta=2.0, n_collocation=40, n_initial=10, n_boundary=10)
    model = lk.models.mlp(2, [5], 1, activation="tanh", seed=0)
    surf = lk.landscape.plane(model, task, directions="hessian", resolution=3, progress=False)
    dense = H.HessianOperator(model, task, dtype=torch.float64).dense().numpy()
    _, V = np.linalg.eigh(dense)
    for d, ref in zip(surf.directions, V[:, ::-1].T):
        cos = abs(d @ ref) / (np.linalg.norm(d) * np.linalg.norm(ref))
        assert cos > 0.999


def _spectrum_matrix(values, seed=0):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((len(values), len(values))))[0]
    return Q @ np.diag(values) @ Q.T


@pytest.mark.parametrize(
    "values, k",
    [
        ([5.0, 5.0, 5.0, 3.0, *(1.0 / (i + 1) for i in range(40))], 3),  # a triple eigenvalue
        (
            [2.0, 2.0 - 1e-4, 2.0 - 2e-4, 1.0, *np.linspace(-0.5, 0.5, 40)],
            3,
        ),  # a tight cluster
        ([4.0, 1.0, 1.0, 1.0, 0.5, *np.linspace(-0.2, 0.2, 40)], 4),  # repeats below a gap
    ],
    ids=["triple", "cluster", "repeats-after-gap"],
)
def test_repeated_and_clustered_eigenvalues_are_all_found(values, k):
    A = _spectrum_matrix(values)
    exact = np.sort(np.linalg.eigvalsh(A))[::-1][:k]
    for seed in range(10):
        top = H.top_eigenvalues(H.MatrixOperator(A), k=k, tol=1e-6, seed=seed)
        assert top.converged, seed
        np.testing.assert_allclose(top.eigenvalues, exact, rtol=2e-6, err_msg=f"seed {seed}")


def _tiny_models():
    g = torch.Generator().manual_seed(0)
    digits = lk.tasks.digits(seed=0, n_train=120)
    mlp = lk.models.mlp(64, [6, 6], 10, activation="tanh", seed=0)
    lk.train(mlp, digits, steps=100, lr=0.2, batch_size=32, seed=0, progress=False)
    images = lk.tasks.digits(seed=0, n_train=80, flatten=False)
    cnn = lk.models.cnn(10, channels=(2, 3), seed=0)
    lk.train(cnn, images, steps=60, lr=0.1, batch_size=32, seed=0, progress=False)
    x, y = torch.randn(24, 5, 4, generator=g), torch.randint(0, 3, (24,), generator=g)
    return [("mlp", mlp, digits), ("cnn", cnn, images), ("attention", _Attention(), (x, y))]


def test_no_seed_reports_a_wrong_converged_eigenvalue():
    """20 seeds × 3 models against the dense float64 Hessian: a value flagged converged is within the
    tolerance of the true k-th eigenvalue, for k = 5 and for the bottom 2."""
    tol = 1e-3
    for name, model, data in _tiny_models():
        op = H.HessianOperator(model, data, dtype=torch.float64)
        exact = np.linalg.eigvalsh(op.dense().numpy())
        top5, bottom2 = exact[::-1][:5], exact[:2]
        for seed in range(20):
            top = H.top_eigenvalues(op, k=5, tol=tol, seed=seed)
            assert top.converged, (name, seed)
            err = np.abs(top.eigenvalues - top5)
            assert np.all(err <= tol * np.abs(top5) + 1e-12), (name, seed, top.eigenvalues, top5)
            low = H.top_eigenvalues(op, k=2, tol=tol, seed=seed, which="smallest")
            scale = np.abs(exact).max()
            assert np.all(
                np.abs(low.eigenvalues - bottom2)
                <= tol * np.maximum(np.abs(bottom2), 1e-8 * scale) + 1e-10
            ), (name, seed)


def test_lanczos_residuals_are_the_explicit_ones_on_a_float32_hessian():
    """When the first Lanczos run finds every value, the reported residuals are its |β_m s_m| (no
    extra products): they must equal ‖Hv − θv‖ measured with an explicit product, float32 products
    included."""
    task = lk.tasks.digits(seed=0)
    model = lk.models.mlp(64, [32], 10, seed=0)
    lk.train(model, task, steps=300, lr=0.1, batch_size=32, progress=False)
    op = H.HessianOperator(model, task)
    for k, seed in ((1, 0), (3, 2)):
        top = H.top_eigenvalues(op, k=k, tol=1e-3, seed=seed)
        assert top.converged and top.params["missed_then_found"] == 0
        explicit = []
        for u, t in zip(top.eigenvectors, top.eigenvalues):
            u = torch.as_tensor(u, dtype=op.dtype)
            explicit.append(float((op.matvec(u).double() - t * u.double()).norm()))
        np.testing.assert_allclose(top.residuals, explicit, atol=1e-6 * abs(top.eigenvalues[0]))
        assert np.all(top.residuals <= 1e-3 * np.abs(top.eigenvalues))
