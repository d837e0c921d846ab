import itertools
import math

import numpy as np
import pytest
import torch

import landkit as lk


def test_train_learns_digits(digits):
    model = lk.models.mlp(64, [32], 10, seed=0)
    res = lk.train(model, digits, steps=300, lr=0.1, batch_size=32, progress=False)
    assert res.final["test_acc"] > 0.85
    assert res.history["step"][0] == 0 and res.history["step"][-1] == 300
    assert res.history["train_loss"][-1] < res.history["train_loss"][0] / 3
    assert not res.diverged and res.steps == 300


def test_full_batch_gd_matches_hand_written_loop(digits):
    """train() with batch_size=None is plain gradient descent: compare with a manual loop."""
    a = lk.models.mlp(64, [8], 10, seed=1)
    b = lk.models.mlp(64, [8], 10, seed=1)
    lk.train(a, digits, steps=5, lr=0.2, progress=False)
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(b(digits.x_train), digits.y_train)
        b.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in b.parameters():
                p -= 0.2 * p.grad
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-6, atol=1e-7)


def test_same_seed_bit_identical_trajectories(tmp_path, digits):
    def run(name, seed):
        model = lk.models.mlp(64, [16], 10, seed=0)
        rec = lk.Recorder(tmp_path / name, schedule=lk.schedules.every(7))
        lk.train(
            model, digits, steps=60, lr=0.1, batch_size=16, seed=seed, recorder=rec, progress=False
        )
        return lk.load(tmp_path / name)

    a, b, c = run("a", 0), run("b", 0), run("c", 1)
    assert np.array_equal(np.asarray(a.weights), np.asarray(b.weights))
    assert np.array_equal(a.scalars["loss"], b.scalars["loss"])
    assert not np.array_equal(np.asarray(a.weights[-1]), np.asarray(c.weights[-1]))


def test_divergence_stops_and_keeps_the_record(tmp_path):
    # linear least squares with a step far above 2/lambda_max: the loss grows geometrically to inf
    task = lk.tasks.teacher_student(n=64, d=8, width=4, seed=0)
    model = lk.models.mlp(8, [], 1, seed=0)
    rec = lk.Recorder(tmp_path / "div", evaluate=False)
    res = lk.train(model, task, steps=500, lr=50.0, recorder=rec, progress=False)
    assert res.diverged and 0 < res.diverged_step < 500
    traj = lk.load(tmp_path / "div")
    assert traj.status == "diverged"
    assert traj.meta["summary"]["diverged_step"] == res.diverged_step
    # every step before the divergence was recorded, and all of them are finite losses
    assert traj.steps.tolist() == list(range(res.diverged_step))
    assert np.isfinite(traj.scalars["loss"]).all()


def test_optimizers_and_custom_update(digits):
    for opt in ("sgd", "adam", "adamw"):
        r = lk.train(
            lk.models.mlp(64, [8], 10),
            digits,
            steps=30,
            lr=0.3 if opt == "sgd" else 0.01,
            optimizer=opt,
            progress=False,
        )
        assert r.final["train_loss"] < 0.9 * math.log(10), opt
    with pytest.raises(ValueError, match="optimizer"):
        lk.train(
            lk.models.mlp(64, [8], 10), digits, steps=1, lr=0.1, optimizer="lion", progress=False
        )

    calls = []

    def sign_descent(params, grads, lr, step):
        calls.append(step)
        for p, g in zip(params, grads):
            p -= lr * g.sign()

    m = lk.models.mlp(64, [8], 10, seed=0)
    before = [p.detach().clone() for p in m.parameters()]
    lk.train(m, digits, steps=3, lr=0.01, update=sign_descent, progress=False)
    assert calls == [0, 1, 2]
    # every entry moved by a multiple of lr (exactly ±0.03, ±0.01 or 0 after 3 sign steps)
    moved = torch.cat([(p.detach() - b).reshape(-1) for p, b in zip(m.parameters(), before)])
    steps_taken = torch.round(moved / 0.01)
    torch.testing.assert_close(moved, steps_taken * 0.01, atol=1e-6, rtol=0)


def test_lr_schedule_recorded(tmp_path, digits):
    rec = lk.Recorder(tmp_path / "r", evaluate=False)
    lk.train(
        lk.models.mlp(64, [8], 10),
        digits,
        steps=4,
        lr=lambda s: 0.1 / (s + 1),
        recorder=rec,
        progress=False,
    )
    np.testing.assert_allclose(
        lk.load(tmp_path / "r").scalars["lr"], [0.1 / (s + 1) for s in range(5)]
    )


def test_callback_can_stop_training(tmp_path, digits):
    def stop(step, metrics):
        if step >= 10:
            raise lk.StopTraining

    rec = lk.Recorder(tmp_path / "s")
    res = lk.train(lk.models.mlp(64, [8], 10), digits, steps=100, lr=0.1, eval_every=5,
                   callback=stop, recorder=rec, progress=False)  # fmt: skip
    assert res.interrupted and res.steps == 10
    assert lk.load(tmp_path / "s").status == "interrupted"


def test_bad_arguments(digits):
    m = lk.models.mlp(64, [8], 10)
    with pytest.raises(ValueError, match="steps"):
        lk.train(m, digits, steps=-1, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        lk.train(m, digits, steps=1, lr=float("nan"))
    with pytest.raises(ValueError, match="batch_size"):
        lk.train(m, digits, steps=1, lr=0.1, batch_size=0)
    with pytest.raises(TypeError, match="task"):
        lk.train(m, (digits.x_train, digits.y_train), steps=1, lr=0.1)


def test_gradient_noise_matches_direct_computation(digits):
    from landkit.capture import gradient_noise

    model = lk.models.mlp(64, [6], 10, seed=0)
    x, y = digits.x_train[:20], digits.y_train[:20]
    est = gradient_noise(model, digits.loss_fn, x, y, batch_size=4, chunk=7)
    grads = []
    for xi, yi in zip(x, y):
        model.zero_grad()
        digits.loss_fn(model(xi[None]), yi[None]).backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]).double())
    g = torch.stack(grads)
    var = float(((g - g.mean(0)) ** 2).sum() / (len(g) - 1))
    assert est["grad_var"] == pytest.approx(var, rel=1e-6)
    assert est["grad_noise"] == pytest.approx(var / 4, rel=1e-6)
    assert est["grad_mean_sq"] == pytest.approx(float(g.mean(0) @ g.mean(0)), rel=1e-6)


def test_recorder_grad_noise_under_train(tmp_path, digits):
    rec = lk.Recorder(tmp_path / "g", schedule=lk.schedules.at([0, 5]), grad_noise=True)
    lk.train(
        lk.models.mlp(64, [8], 10),
        digits,
        steps=5,
        lr=0.1,
        batch_size=16,
        recorder=rec,
        progress=False,
    )
    t = lk.load(tmp_path / "g")
    assert np.all(t.scalars["grad_var"] > 0)
    np.testing.assert_allclose(t.scalars["grad_noise"], t.scalars["grad_var"] / 16)


def _reference_loop(model, task, *, steps, lr_at, batch_size, seed, make_update):
    """Hand-written minibatch loop with landkit's documented data order (a seeded generator, one
    permutation per epoch) and an update written out from the optimizer's formulas."""
    g = torch.Generator().manual_seed(seed)
    n, perm, pos = task.n_train, None, task.n_train
    state: dict = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for step in range(steps):
            if pos + batch_size > n:
                perm, pos = torch.randperm(n, generator=g), 0
            idx = perm[pos : pos + batch_size]
            pos += batch_size
            model.zero_grad()
            task.loss(model, task.x_train[idx], task.y_train[idx]).backward()
            with torch.no_grad():
                for i, p in enumerate(model.parameters()):
                    make_update(p, p.grad, lr_at(step), state.setdefault(i, {}), step + 1)


def _sgd_momentum_wd(mu, wd):
    def upd(p, g, lr, st, t):
        d = g + wd * p
        st["buf"] = d.clone() if "buf" not in st else mu * st["buf"] + d
        p -= lr * st["buf"]

    return upd


def _adam(wd, decoupled, b1=0.9, b2=0.999, eps=1e-8):
    def upd(p, g, lr, st, t):
        if decoupled:
            p.mul_(1 - lr * wd)
        else:
            g = g + wd * p
        st["m"] = b1 * st.get("m", torch.zeros_like(p)) + (1 - b1) * g
        st["v"] = b2 * st.get("v", torch.zeros_like(p)) + (1 - b2) * g * g
        mhat, vhat = st["m"] / (1 - b1**t), st["v"] / (1 - b2**t)
        p -= lr * mhat / (vhat.sqrt() + eps)

    return upd


@pytest.mark.parametrize(
    "optimizer, kwargs, update",
    [
        ("sgd", dict(momentum=0.9, weight_decay=5e-3), _sgd_momentum_wd(0.9, 5e-3)),
        ("adam", dict(weight_decay=1e-2), _adam(1e-2, decoupled=False)),
        ("adamw", dict(weight_decay=1e-2), _adam(1e-2, decoupled=True)),
    ],
)
def test_optimizers_match_a_reference_loop_with_momentum_and_weight_decay(
    digits, optimizer, kwargs, update
):
    """Minibatches, an lr schedule, momentum / Adam moments and weight decay: train() takes exactly
    the steps the formulas give."""
    lr_at = (lambda s: 0.05 / (1 + 0.1 * s)) if optimizer == "sgd" else (lambda s: 0.01)
    a = lk.models.mlp(64, [8], 10, seed=3)
    b = lk.models.mlp(64, [8], 10, seed=3)
    lk.train(a, digits, steps=25, lr=lr_at if optimizer == "sgd" else 0.01, batch_size=64, seed=7,
             optimizer=optimizer, progress=False, eval_every=0, **kwargs)  # fmt: skip
    _reference_loop(b, digits, steps=25, lr_at=lr_at, batch_size=64, seed=7, make_update=update)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)


def test_progress_callable_counts_steps_and_cancel_interrupts(digits):
    seen = []

    def tick(done, total):
        seen.append((done, total))
        if done >= 30:
            raise lk.Cancelled

    res = lk.train(lk.models.mlp(64, [8], 10), digits, steps=400, lr=0.1, progress=tick)
    assert res.interrupted and 30 <= res.steps < 40
    assert seen[0][1] == 400 and all(a[0] < b[0] for a, b in itertools.pairwise(seen))
