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
    assert topo.n_minima >= 1


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
    with pytest.raises(ValueError, match="different parameter counts"):
        lk.landscape.line(model, lk.models.mlp(64, [8], 10), task)
