"""Models users bring: tied weights (an output layer sharing the embedding), checked against hand
evaluation of the same parameter points."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

import landkit as lk


class TiedLM(nn.Module):
    """nanoGPT-style: embedding → MLP → an output layer whose weight *is* the embedding."""

    def __init__(self, vocab=11, d=8):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.mlp = nn.Sequential(nn.Linear(d, d), nn.Tanh())
        self.out = nn.Linear(d, vocab, bias=False)
        self.out.weight = self.emb.weight  # tied

    def forward(self, x):  # x: (n,) token ids -> logits of the next token
        return self.out(self.mlp(self.emb(x)))


def _hand_loss(model, flat, x, y):
    m = copy.deepcopy(model)
    torch.nn.utils.vector_to_parameters(torch.as_tensor(flat, dtype=torch.float32), m.parameters())
    with torch.no_grad():
        return float(nn.functional.cross_entropy(m.eval()(x), y))


@pytest.fixture
def tied():
    torch.manual_seed(0)
    model = TiedLM()
    x = torch.randint(0, 11, (64,))
    y = (x + 1) % 11
    assert model.out.weight is model.emb.weight
    return model, x, y


def test_plane_on_a_tied_model_equals_hand_evaluation(tied):
    model, x, y = tied
    surf = lk.landscape.plane(model, (x, y), resolution=5, span=1.0, progress=False)
    assert surf.info["first_layer"] is None  # the shortcut is exact only for an untied first layer
    for i, j in [(0, 0), (1, 3), (4, 2)]:
        flat = surf.center + surf.alpha[i] * surf.directions[0] + surf.beta[j] * surf.directions[1]
        assert surf.loss[i, j] == pytest.approx(_hand_loss(model, flat, x, y), rel=1e-5)


def test_line_between_tied_models_equals_hand_evaluation(tied):
    model, x, y = tied
    other = TiedLM()
    ln = lk.landscape.line(model, other, (x, y), steps=5)
    a = lk.layout.flat_parameters(model).numpy()
    b = lk.layout.flat_parameters(other).numpy()
    for t, loss in zip(ln.t, ln.loss):
        assert loss == pytest.approx(_hand_loss(model, (1 - t) * a + t * b, x, y), rel=1e-5)


def test_untied_first_layer_keeps_the_shortcut_and_agrees(tied, monkeypatch):
    # an embedding is a lookup (fan-in 1): the shortcut is off by default, forced on here to test it
    monkeypatch.setattr(lk.landscape, "_MIN_FAN_IN", 0)
    _, x, y = tied
    untied = TiedLM()
    untied.out.weight = nn.Parameter(untied.emb.weight.detach().clone())
    surf = lk.landscape.plane(untied, (x, y), resolution=3, progress=False)
    assert surf.info["first_layer"] == "emb"
    flat = surf.center + surf.alpha[2] * surf.directions[0] + surf.beta[0] * surf.directions[1]
    assert surf.loss[2, 0] == pytest.approx(_hand_loss(untied, flat, x, y), rel=1e-5)


def test_hessian_of_a_tied_model_matches_the_dense_hessian(tied):
    model, x, y = tied
    op = lk.hessian.HessianOperator(model, (x, y), dtype=torch.float64)
    assert op.size == sum(p.numel() for p in model.parameters())  # the shared matrix once
    dense = op.dense().numpy()
    top = lk.hessian.top_eigenvalues(op, k=2, tol=1e-8)
    np.testing.assert_allclose(top.eigenvalues, np.linalg.eigvalsh(dense)[::-1][:2], rtol=1e-6)


def _bn_model(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 10))


def test_line_between_batchnorm_models_ends_at_each_models_own_loss():
    """The issue's reproducer: Linear–BatchNorm1d–ReLU–Linear, two trained copies in eval mode."""
    task = lk.tasks.digits(seed=0, n_train=400)
    a, b = _bn_model(0), _bn_model(1)
    for m, seed in ((a, 0), (b, 1)):
        lk.train(m, task, steps=150, lr=0.1, batch_size=32, seed=seed, progress=False)
    la, lb = task.evaluate(a)["train_loss"], task.evaluate(b)["train_loss"]
    ln = lk.landscape.line(a, b, task, steps=5)
    assert ln.loss[0] == pytest.approx(la, rel=1e-5) and ln.loss[-1] == pytest.approx(lb, rel=1e-5)
    # the midpoint is the model whose parameters and running statistics are both halfway
    mid = copy.deepcopy(a)
    with torch.no_grad():
        for pm, pb in zip(mid.parameters(), b.parameters()):
            pm.mul_(0.5).add_(0.5 * pb)
        for bm, bb in zip(mid.buffers(), b.buffers()):
            if bm.is_floating_point():
                bm.mul_(0.5).add_(0.5 * bb)
    assert ln.loss[2] == pytest.approx(task.evaluate(mid)["train_loss"], rel=1e-5)
    # the old behaviour, on request: a's statistics everywhere — the far end is not b's loss
    frozen = lk.landscape.line(a, b, task, steps=5, norm_stats="a")
    assert frozen.loss[0] == pytest.approx(la, rel=1e-5)
    assert abs(frozen.loss[-1] - lb) > 1e-3


def _update_bn_loss(model, flat, x, y, batch_size):
    """Independent reference: parameters set by hand, statistics re-estimated by PyTorch's own
    ``torch.optim.swa_utils.update_bn`` on the same batches, then the eval-mode loss."""
    m = copy.deepcopy(model)
    torch.nn.utils.vector_to_parameters(torch.as_tensor(flat, dtype=torch.float32), m.parameters())
    loader = [x[i : i + batch_size] for i in range(0, len(x), batch_size)]
    torch.optim.swa_utils.update_bn(loader, m)
    with torch.no_grad():
        return float(nn.functional.cross_entropy(m.eval()(x), y))


@pytest.mark.parametrize("batch", [None, 37])
def test_recomputed_batchnorm_statistics_equal_update_bn_at_every_point(batch):
    task = lk.tasks.digits(seed=0, n_train=200)
    a, b = _bn_model(0), _bn_model(1)
    for m, seed in ((a, 0), (b, 1)):
        lk.train(m, task, steps=100, lr=0.1, batch_size=32, seed=seed, progress=False)
    x, y = task.x_train, task.y_train
    a.train()
    before = {n: t.clone() for n, t in a.state_dict().items()}
    kw = {} if batch is None else {"max_memory": batch * 3 * 4 * (64 + 16 * 3 + 10 * 3) * 2}
    surf = lk.landscape.plane(a, task, resolution=3, norm_stats="recompute", progress=False, **kw)
    bs = surf.info["data_batch"]
    if batch is not None:
        assert bs < len(x)  # several batches: a cumulative average, not the last batch's
    d1, d2 = surf.directions
    for i, al in enumerate(surf.alpha):
        for j, be in enumerate(surf.beta):
            ref = _update_bn_loss(a, surf.center + al * d1 + be * d2, x, y, bs)
            assert surf.loss[i, j] == pytest.approx(ref, rel=1e-4)
    # the default keeps the centre's statistics: it differs away from the centre
    frozen = lk.landscape.plane(a, task, resolution=3, progress=False, **kw)
    assert abs(frozen.loss[0, 0] - surf.loss[0, 0]) > 1e-3
    ln = lk.landscape.line(a, b, task, steps=3, norm_stats="recompute")
    fa, fb = (torch.nn.utils.parameters_to_vector(m.parameters()).detach().numpy() for m in (a, b))
    for t, value in zip(ln.t, ln.loss):
        assert value == pytest.approx(
            _update_bn_loss(a, (1 - t) * fa + t * fb, x, y, len(x)), rel=1e-4
        )
    # the user's model is left as it was: its mode, its statistics, its momentum
    assert a.training and a[1].momentum == 0.1
    assert all(torch.equal(before[n], t) for n, t in a.state_dict().items())


def test_similarity_lenses_take_tensors_and_loaders_like_every_other_lens():
    task = lk.tasks.digits(seed=0, n_train=300)
    a, b = lk.models.mlp(64, [8], 10, seed=0), lk.models.mlp(64, [8], 10, seed=1)
    pair = (task.x_train, task.y_train)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*pair), batch_size=50)
    ref = lk.similarity.model_cka(a, b, task, n=200)
    assert lk.similarity.model_cka(a, b, pair, n=200) == pytest.approx(ref, rel=1e-12)
    assert lk.similarity.model_cka(a, b, loader, n=200) == pytest.approx(ref, rel=1e-12)
    mc_task = lk.similarity.mode_connectivity(a, b, task, curve="line", n_points=5)
    mc_pair = lk.similarity.mode_connectivity(a, b, pair, curve="line", n_points=5)
    np.testing.assert_allclose(mc_pair.loss, mc_task.loss, rtol=1e-6)
    t = lk.tasks.as_task(pair)
    assert t.kind == "classification" and t.n_classes == 10 and t.in_features == 64


def test_recorded_runs_restore_batchnorm_and_tied_models_strictly(tmp_path):
    """The README's own example, model.load_state_dict(traj.state_dict(i)), on a BN and a tied model:
    strict, and the restored model's loss equals the live model's at that step."""
    task = lk.tasks.digits(seed=0, n_train=300)
    bn = _bn_model(0)
    seen = {}

    def remember(step, metrics):
        seen[step] = metrics["train_loss"]

    rec = lk.Recorder(tmp_path / "bn", schedule=lk.schedules.every(20), evaluate=False)
    lk.train(bn, task, steps=60, lr=0.1, batch_size=32, recorder=rec, eval_every=20,
             callback=remember, progress=False)  # fmt: skip
    traj = lk.load(tmp_path / "bn")
    for i, step in enumerate(traj.steps):
        fresh = _bn_model(5)
        fresh.load_state_dict(traj.state_dict(i))  # strict
        assert task.evaluate(fresh)["train_loss"] == pytest.approx(seen[int(step)], rel=1e-5)
    # a tied model from a hand-written loop: the shared matrix is stored once, restored to both names
    model = TiedLM()
    x = torch.randint(0, 11, (64,))
    y = (x + 1) % 11
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    rec = lk.Recorder(tmp_path / "tied", schedule=lk.schedules.every(5))
    for step in range(11):
        loss = nn.functional.cross_entropy(model(x), y)
        rec.capture(step, model, loss=loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    rec.close()
    traj = lk.load(tmp_path / "tied")
    assert traj.weights.shape[1] == sum(p.numel() for p in model.parameters())
    other = TiedLM()
    other.load_state_dict(traj.state_dict(-1))  # strict: out.weight is filled too
    assert torch.equal(other.out.weight, other.emb.weight)
    assert traj.meta["tied"] == {"out.weight": "emb.weight"}


class Structured(nn.Module):
    """A model that returns a structure, like Hugging Face's CausalLMOutput."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10))

    def forward(self, x):
        return {"logits": self.net(x), "hidden": x}


def test_structured_outputs_through_output_hook():
    task = lk.tasks.digits(seed=0, n_train=200)
    s = Structured()
    plain = s.net  # the same parameters as a plain model
    logits = lambda o: o["logits"]  # noqa: E731
    a = lk.landscape.plane(s, task, resolution=3, output=logits, progress=False)
    b = lk.landscape.plane(plain, task, resolution=3, progress=False)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-5)
    np.testing.assert_allclose(a.accuracy, b.accuracy)
    other = Structured()
    ln = lk.landscape.line(s, other, task, steps=3, output=logits)
    np.testing.assert_allclose(ln.loss, lk.landscape.line(plain, other.net, task, steps=3).loss,
                               rtol=1e-5)  # fmt: skip
    assert lk.similarity.model_cka(s, other, task, output=logits) == pytest.approx(
        lk.similarity.model_cka(plain, other.net, task), rel=1e-12
    )
    op = lk.hessian.HessianOperator(s, task, output=logits, dtype=torch.float64)
    ref = lk.hessian.HessianOperator(plain, task, dtype=torch.float64)
    v = torch.randn(op.size, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(op.matvec(v).numpy(), ref.matvec(v).numpy(), rtol=1e-8)
    with pytest.raises(lk.InvalidType, match="output must be a function"):
        lk.landscape.plane(s, task, resolution=3, output="logits")


# -- convolutions fused with the BatchNorm and ReLU after them (the plane's loop) ------------------


class _Residual(nn.Module):
    """A ResNet block: conv–BN–ReLU–conv–BN plus the input; the second BN has no affine part."""

    def __init__(self, c=4):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2 = nn.Conv2d(c, c, 3, padding=1)
        self.b2 = nn.BatchNorm2d(c, affine=False)

    def forward(self, x):
        return torch.relu(x + self.b2(self.c2(torch.relu(self.b1(self.c1(x))))))


class _Activations(nn.Module):
    """ReLU written every way a user writes it, after a convolution and after a BatchNorm."""

    def __init__(self):
        super().__init__()
        self.c = nn.ModuleList(nn.Conv2d(3, 3, 3, padding=1, stride=s) for s in (1, 1, 2, 1, 1))
        self.bn = nn.BatchNorm2d(3)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        x = nn.functional.relu(self.c[0](x))
        x = self.c[1](x).relu()
        x = self.act(self.c[2](x))
        x = torch.relu(self.bn(self.c[3](x)))
        return nn.functional.relu(self.c[4](x), inplace=True)


class _Shared(nn.Module):
    """Each convolution's output also feeds a skip: fusing it would drop the skip."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(2, 2, 3, padding=1), nn.BatchNorm2d(2)
        self.conv2 = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        h = self.conv(x)
        g = self.conv2(h)
        return self.bn(h) + h + torch.relu(g) + g


class _Branching(nn.Module):
    """Control flow on the input's values: torch.fx cannot trace it."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(2, 2, 3), nn.BatchNorm2d(2)

    def forward(self, x):
        return self.bn(self.conv(x)) if float(x.sum()) > 0 else self.conv(x)


def _scrambled(model, seed=0):
    """Non-trivial parameters and running statistics, in eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5 + (1.0 if p.dim() == 1 else 0.0))
        for n, b in model.named_buffers():
            if n.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g))
            elif n.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) * 2 + 0.1)
    return model.eval()


@pytest.mark.parametrize(
    "build, shape, fused",
    [
        (lambda: nn.Sequential(nn.Conv2d(3, 5, 3), nn.BatchNorm2d(5), nn.ReLU()), (4, 3, 7, 7), (1, 1)),
        (lambda: nn.Sequential(nn.Conv1d(2, 3, 3, bias=False), nn.BatchNorm1d(3)), (4, 2, 9), (1, 0)),
        (lambda: nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReLU()), (4, 2, 9), (0, 1)),
        (lambda: nn.Sequential(nn.Conv3d(1, 2, 2), nn.BatchNorm3d(2, affine=False)), (2, 1, 4, 4, 4), (1, 0)),
        (lambda: nn.Sequential(nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4), _Residual()), (3, 4, 6, 6), (3, 1)),
        (lambda: _Activations(), (2, 3, 9, 9), (1, 5)),
        (lambda: nn.Sequential(nn.Conv2d(4, 4, 3, groups=2, padding="same"), nn.ReLU()), (2, 4, 5, 5), (0, 1)),
    ],
)  # fmt: skip
def test_fused_convolutions_are_the_model_at_every_point(build, shape, fused):
    """Fused modules read the live parameters and statistics: after they move in place (as a plane's
    flat buffer moves), the fused model is still the model, on inputs it was not checked on."""
    from landkit import _fold

    model = _scrambled(build())
    out = _fold.fuse(model, torch.randn(shape))
    assert out is not None
    assert _fold.counts(out) == {"batchnorm": fused[0], "relu": fused[1]}
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=g) * 0.3)
            for n, b in model.named_buffers():
                if n.endswith("running_var"):
                    b.mul_(1.5)
            x = torch.randn(shape, generator=g)
            want, got = model(x), out(x)
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-5 * float(want.abs().max()))


def test_convolutions_are_not_fused_where_it_would_change_the_model():
    from landkit import _fold

    x = torch.randn(2, 2, 6, 6)
    assert _fold.fuse(_scrambled(_Shared()), x) is None  # the convolutions' outputs are used twice
    assert _fold.fuse(_scrambled(_Branching()), x) is None  # not traceable
    assert _fold.fuse(_scrambled(_Residual(2)).train(), x) is None  # training mode
    plain = nn.Sequential(nn.Conv2d(2, 2, 3), nn.Tanh(), nn.BatchNorm2d(2))  # nothing right after
    assert _fold.fuse(_scrambled(plain), x) is None


def test_a_plane_with_fused_convolutions_equals_hand_evaluation():
    """The loop fuses the ResNet's convolutions; every point is still the model's own loss there."""
    torch.manual_seed(0)
    stem = [nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU()]
    model = _scrambled(nn.Sequential(*stem, _Residual(), nn.Flatten(), nn.Linear(4 * 64, 10)))
    task = lk.tasks.digits(seed=0, n_train=128)
    x, y = task.x_train.view(-1, 1, 8, 8), task.y_train
    surf = lk.landscape.plane(model, (x, y), resolution=5, span=0.5, backend="loop", progress=False)
    assert surf.info["fused"] == {"batchnorm": 3, "relu": 2}
    for i, j in [(0, 0), (2, 2), (1, 4), (4, 3)]:
        flat = surf.center + surf.alpha[i] * surf.directions[0] + surf.beta[j] * surf.directions[1]
        assert surf.loss[i, j] == pytest.approx(_hand_loss(model, flat, x, y), rel=1e-5)
    # a model without convolutions fuses nothing
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    assert lk.landscape.plane(mlp, (x, y), resolution=3, progress=False).info["fused"] == {
        "batchnorm": 0,
        "relu": 0,
    }


def test_a_pruned_convolution_is_not_fused_and_its_plane_is_exact():
    """torch.nn.utils.prune computes the weight in a forward pre-hook at every call; a fused module
    never calls it, so a pruned convolution is left alone (it would read the last call's weight)."""
    from torch.nn.utils import prune

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 64, 10))  # fmt: skip
    model = _scrambled(model)
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    task = lk.tasks.digits(seed=0, n_train=96)
    x, y = task.x_train.view(-1, 1, 8, 8), task.y_train
    surf = lk.landscape.plane(model, (x, y), resolution=5, span=0.5, backend="loop", progress=False)
    assert surf.info["fused"] == {"batchnorm": 0, "relu": 1}  # the second convolution only
    for i, j in [(0, 0), (2, 2), (4, 1)]:
        flat = surf.center + surf.alpha[i] * surf.directions[0] + surf.beta[j] * surf.directions[1]
        assert surf.loss[i, j] == pytest.approx(_hand_loss(model, flat, x, y), rel=1e-5)
