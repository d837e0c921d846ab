"""No CPU-only assumption: the Hessian, slice and similarity paths keep tensors on the model's device.

PyTorch's ``meta`` device stands in for an accelerator on a CPU-only machine: tensors there have
shapes and dtypes but no values, so a path that silently builds something on the CPU fails with a
device mismatch. Where a numeric result is needed (a Python float), the meta device cannot go; those
paths run on CUDA when it is available (a GPU machine) and are compared with the CPU numbers.
"""

import numpy as np
import pytest
import torch

import landkit as lk

META = torch.device("meta")


@pytest.fixture
def meta_model():
    return lk.models.mlp(6, [5], 3, seed=0).to(META)


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(20, 6, generator=g), torch.randint(0, 3, (20,), generator=g)


def test_layout_and_directions_stay_on_the_models_device(meta_model):
    flat = lk.layout.flat_parameters(meta_model)
    assert flat.device == META
    lay = lk.layout.ParamLayout.of(meta_model)
    assert all(t.device == META for t in lay.unflatten(flat).values())
    for method in ("filter", "layer", "none"):
        assert all(d.device == META for d in lk.landscape.directions(meta_model, method))


@pytest.mark.parametrize("cls", [lk.hessian.HessianOperator, lk.hessian.GGNOperator])
def test_operators_hold_their_data_and_products_on_the_models_device(meta_model, data, cls):
    op = cls(meta_model, data)  # data given on the CPU
    assert op.device == META and op.x.device == META and op.theta.device == META
    # a probe made on the CPU is moved to the operator's device, never the reverse
    out = op.matvec(torch.ones(op.size))
    assert out.device == META and out.shape == (op.size,)


def test_similarity_features_run_on_the_models_device(meta_model, data):
    from landkit.similarity import _features

    # the inputs go to the model's device: the only failure left on meta is reading values back
    with pytest.raises((NotImplementedError, RuntimeError), match="meta"):
        _features(meta_model, data[0], None)
    try:
        _features(meta_model, data[0], None)
    except (NotImplementedError, RuntimeError) as e:
        assert "expected" not in str(e) and "same device" not in str(e), e


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
def test_every_numeric_path_on_cuda_matches_the_cpu():
    task = lk.tasks.digits(seed=0, n_train=300)
    cpu = lk.models.mlp(64, [16], 10, seed=0)
    lk.train(cpu, task, steps=50, lr=0.1, batch_size=32, seed=0, progress=False)
    gpu = lk.models.mlp(64, [16], 10, seed=0).cuda()
    gpu.load_state_dict(cpu.state_dict())
    other = lk.models.mlp(64, [16], 10, seed=1)
    other_gpu = lk.models.mlp(64, [16], 10, seed=1).cuda()
    other_gpu.load_state_dict(other.state_dict())
    kw = dict(dtype=torch.float64)
    for fn in (lambda m: lk.hessian.top_eigenvalues(m, task, k=2, tol=1e-8, **kw).eigenvalues,
               lambda m: lk.hessian.trace(m, task, num_matvecs=10, **kw).samples,
               lambda m: lk.hessian.density(m, task, steps=10, **kw).nodes):  # fmt: skip
        np.testing.assert_allclose(fn(gpu), fn(cpu), rtol=1e-6, atol=1e-8)
    a = lk.landscape.plane(cpu, task, resolution=5, progress=False).loss
    b = lk.landscape.plane(gpu, task, resolution=5, progress=False).loss
    np.testing.assert_allclose(a, b, rtol=1e-4)
    a = lk.landscape.line(cpu, other, task, steps=5).loss
    b = lk.landscape.line(gpu, other_gpu, task, steps=5).loss
    np.testing.assert_allclose(a, b, rtol=1e-4)
    assert lk.similarity.model_cka(gpu, other_gpu, task) == pytest.approx(
        lk.similarity.model_cka(cpu, other, task), rel=1e-4
    )
    mc = lk.similarity.mode_connectivity(gpu, other_gpu, task, curve="line", n_points=5)
    assert np.isfinite(mc.value)
    res = lk.train(gpu, task, steps=5, lr=0.1, progress=False)  # stays on its GPU
    assert next(gpu.parameters()).is_cuda and np.isfinite(res.final["train_loss"])


@pytest.mark.parametrize(
    "loss_fn, y, classify",
    [
        (torch.nn.functional.cross_entropy, torch.zeros(7, dtype=torch.long), True),
        (torch.nn.functional.mse_loss, torch.zeros(7, 3), False),  # the fused MSE branch
        (torch.nn.functional.l1_loss, torch.zeros(7, 3), False),  # any other loss: vmapped
        (torch.nn.functional.nll_loss, torch.zeros(7, dtype=torch.long), True),
    ],
)
def test_the_batched_plane_plans_losses_and_accuracies_on_the_outputs_device(loss_fn, y, classify):
    """The MLP plan's per-point loss and accuracy (a regression's zero accuracy included) are made on
    the outputs' device, never on the CPU beside a GPU grid."""
    from landkit.landscape import _batched_loss

    out = torch.zeros(5, 3, 7, device=META)  # (points, outputs, samples)
    loss, acc = _batched_loss(loss_fn, out, y.to(META), classify)
    assert loss.device == META and acc.device == META and acc.shape == (5,)


def test_cka_mixup_inputs_stay_on_the_data_device():
    """model_cka's mixed-up inputs (and their mixing weights) live where the data does."""
    from landkit.similarity import _mixed_inputs

    x = torch.zeros(30, 6, device=META)
    mixed = _mixed_inputs(x, 20, 16.0, seed=0)
    assert mixed.device == META and mixed.shape == (20, 6)
    # on the CPU: a convex mix of two inputs, the same for the same seed
    xc = torch.randn(30, 6, generator=torch.Generator().manual_seed(1))
    a, b = _mixed_inputs(xc, 20, 16.0, seed=0), _mixed_inputs(xc, 20, 16.0, seed=0)
    assert torch.equal(a, b) and not torch.equal(a, _mixed_inputs(xc, 20, None, seed=0))
    assert torch.equal(_mixed_inputs(xc, 40, None, seed=0).sort(0).values, xc.sort(0).values)
