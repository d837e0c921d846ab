"""Loss-landscape slices: lines between models and planes around a model (Li et al. 2018).

A model is a pure function of its parameters (``torch.func.functional_call``), so a grid of parameter
points is evaluated without touching the model; losses stay on the device until the end (no ``.item()``
per point). Models are evaluated in eval mode (batch norm uses its running statistics).

Example
-------
>>> import landkit as lk                                                    # doctest: +SKIP
>>> surf = lk.landscape.plane(model, task, directions="filter", span=1.0, resolution=51, seed=0)
>>> surf.alpha.shape, surf.loss.shape
((51,), (51, 51))
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

__all__ = ["Line", "Surface", "directions", "line", "plane"]


@dataclasses.dataclass(frozen=True)
class Surface:
    """A 2-D slice: ``loss[i, j]`` at ``center + alpha[i]·d1 + beta[j]·d2`` (``accuracy`` likewise for
    classification); ``path`` is a trajectory projected on the plane (PCA directions) or None."""

    alpha: np.ndarray
    beta: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray | None
    directions: np.ndarray
    center: np.ndarray
    kind: str
    path: np.ndarray | None = None
    path_steps: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class Line:
    """Losses along ``(1 − t)·a + t·b``."""

    t: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray | None


def _flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _data(task, loss_fn, data, n_samples, seed):
    from .tasks import Task

    if isinstance(task, Task):
        x, y = (task.x_train, task.y_train) if data == "train" else (task.x_test, task.y_test)
        loss_fn = loss_fn or task.loss_fn
        classify = task.kind == "classification"
    elif isinstance(task, (tuple, list)) and len(task) == 2:
        x, y = task
        loss_fn = loss_fn or torch.nn.functional.cross_entropy
        classify = not y.is_floating_point()
    else:
        raise TypeError(
            f"task must be a landkit Task or an (inputs, targets) pair, got {type(task).__name__}"
        )
    if data not in ("train", "test"):
        raise ValueError(f"data must be 'train' or 'test', got {data!r}")
    if len(x) == 0:
        raise ValueError("the data is empty: nothing to evaluate the loss on")
    if n_samples is not None and n_samples < len(x):
        idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n_samples]
        x, y = x[idx], y[idx]
    return x, y, loss_fn, classify


class _Evaluator:
    def __init__(self, model, x, y, loss_fn, classify):
        self.model, self.loss_fn, self.classify = model, loss_fn, classify
        self.names = [n for n, _ in model.named_parameters()]
        self.shapes = [p.shape for _, p in model.named_parameters()]
        self.sizes = [p.numel() for _, p in model.named_parameters()]
        self.buffers = dict(model.named_buffers())
        dev = next(model.parameters()).device
        self.x, self.y = x.to(dev), y.to(dev)

    @torch.no_grad()
    def __call__(self, flat):
        from torch.func import functional_call

        parts = torch.split(flat, self.sizes)
        params = {n: p.view(s) for n, p, s in zip(self.names, parts, self.shapes)}
        out = functional_call(self.model, (params, self.buffers), (self.x,))
        loss = self.loss_fn(out, self.y)
        acc = (out.argmax(-1) == self.y).float().mean() if self.classify else torch.zeros(())
        return loss, acc


def _filter_normalise(model, d, *, keep_1d: bool = False):
    """Li et al.'s filter normalisation: each filter (output row) of d scaled to the norm of the model's
    filter; 1-D parameters (biases, norm layers) zeroed unless ``keep_1d``."""
    out, i = [], 0
    for p in model.parameters():
        n = p.numel()
        di = d[i : i + n].view(p.shape).clone()
        w = p.detach()
        if p.dim() <= 1:
            di = di * (w.norm() / di.norm().clamp_min(1e-12)) if keep_1d else torch.zeros_like(di)
        else:
            wn = w.reshape(w.shape[0], -1).norm(dim=1)
            dn = di.reshape(di.shape[0], -1).norm(dim=1).clamp_min(1e-12)
            di = di * (wn / dn).view(-1, *([1] * (p.dim() - 1)))
        out.append(di.reshape(-1))
        i += n
    return torch.cat(out)


def directions(model, kind: str = "filter", *, seed: int = 0, keep_1d: bool = False, n: int = 2):
    """``n`` random Gaussian directions in parameter space, normalised filter-wise (``"filter"``, Li et al.
    default: biases/norm parameters zeroed), layer-wise (``"layer"``) or not at all (``"none"``)."""
    if kind not in ("filter", "layer", "none"):
        raise ValueError(f"kind must be 'filter', 'layer' or 'none', got {kind!r}")
    g = torch.Generator().manual_seed(seed)
    flat = _flat(model)
    dirs = []
    for _ in range(n):
        d = torch.randn(flat.shape, generator=g, dtype=flat.dtype).to(flat.device)
        if kind == "filter":
            d = _filter_normalise(model, d, keep_1d=keep_1d)
        elif kind == "layer":
            parts, i = [], 0
            for p in model.parameters():
                di = d[i : i + p.numel()]
                parts.append(di * (p.detach().norm() / di.norm().clamp_min(1e-12)))
                i += p.numel()
            d = torch.cat(parts)
        dirs.append(d)
    return dirs


_random_directions = directions  # plane() takes a keyword of the same name


def plane(model, task, *, directions="filter", span: float = 1.0, resolution: int = 51, seed: int = 0,
          trajectory=None, data: str = "train", n_samples: int | None = None, loss_fn=None,
          progress: bool = True) -> Surface:  # fmt: skip
    """The loss on the plane ``center + α·d1 + β·d2``, α, β in [−span, span] (``resolution`` points each).

    ``directions``: ``"filter"``/``"layer"`` (seeded random, normalised), ``"pca"`` (top-2 principal
    directions of ``trajectory`` around the model, with the path projected), ``"hessian"`` (top-2 Hessian
    eigenvectors), or two flat tensors/arrays of the model's parameter count.
    """
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    x, y, loss_fn, classify = _data(task, loss_fn, data, n_samples, seed)
    center = _flat(model)
    P = center.numel()
    path = path_steps = None
    kind = directions if isinstance(directions, str) else "given"
    if isinstance(directions, str):
        if directions in ("filter", "layer", "none"):
            d1, d2 = _random_directions(model, directions, seed=seed)
        elif directions == "pca":
            if trajectory is None:
                raise ValueError(
                    "directions='pca' needs trajectory= (a recorded run of this model)"
                )
            W = np.asarray(trajectory.weights, dtype=np.float64)
            if W.shape[1] != P:
                raise ValueError(
                    f"the trajectory records {W.shape[1]} values but the model has {P} parameters"
                )
            D = W - center.cpu().numpy().astype(np.float64)
            _, _, vt = np.linalg.svd(D, full_matrices=False)
            d1, d2 = (torch.as_tensor(v, dtype=center.dtype) for v in vt[:2])
            path = D @ vt[:2].T
            path_steps = np.asarray(trajectory.steps)
            if span == 1.0:  # default: frame the path
                span = float(np.abs(path).max() * 1.2) or 1.0
        elif directions == "hessian":
            from .hessian import top_eigenvalues

            top = top_eigenvalues(model, task if loss_fn is None else (x, y), k=2, seed=seed)
            d1, d2 = (torch.as_tensor(v, dtype=center.dtype) for v in top.eigenvectors)
        else:
            raise ValueError(
                f"directions must be 'filter', 'layer', 'none', 'pca', 'hessian' or two vectors, got {directions!r}"
            )
    else:
        d1, d2 = (
            torch.as_tensor(np.asarray(d), dtype=center.dtype).reshape(-1) for d in directions
        )
        if d1.numel() != P or d2.numel() != P:
            raise ValueError(
                f"directions must each have {P} entries (the model's parameter count), got {d1.numel()} and {d2.numel()}"
            )
    d1, d2 = d1.to(center.device), d2.to(center.device)
    alpha = np.linspace(-span, span, resolution)
    beta = np.linspace(-span, span, resolution)
    ev = _Evaluator(model, x, y, loss_fn, classify)
    loss = torch.empty(resolution, resolution, device=center.device)
    acc = torch.empty(resolution, resolution, device=center.device)
    rows = range(resolution)
    if progress:
        from tqdm.auto import tqdm

        rows = tqdm(rows, desc="landscape", unit="row", leave=False)
    was = model.training
    model.eval()
    try:
        for i in rows:
            base = center + float(alpha[i]) * d1
            for j in range(resolution):
                loss[i, j], acc[i, j] = ev(base + float(beta[j]) * d2)
    finally:
        model.train(was)
    return Surface(alpha, beta, loss.cpu().numpy(), acc.cpu().numpy() if classify else None,
                   torch.stack([d1, d2]).cpu().numpy(), center.cpu().numpy(), kind, path, path_steps)  # fmt: skip


def line(
    model_a,
    model_b,
    task,
    steps: int = 41,
    *,
    data: str = "train",
    loss_fn=None,
    extend: float = 0.0,
) -> Line:
    """The loss along the straight line from ``model_a`` (t = 0) to ``model_b`` (t = 1), ``steps`` points
    (``extend`` adds that much on either side)."""
    a, b = _flat(model_a), _flat(model_b)
    if a.shape != b.shape:
        raise ValueError(
            f"the models have different parameter counts ({a.numel()} vs {b.numel()}): same architecture needed"
        )
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    x, y, loss_fn, classify = _data(task, loss_fn, data, None, 0)
    ev = _Evaluator(model_a, x, y, loss_fn, classify)
    t = np.linspace(-extend, 1 + extend, steps)
    was = model_a.training
    model_a.eval()
    try:
        res = [ev((1 - float(s)) * a + float(s) * b) for s in t]
    finally:
        model_a.train(was)
    loss = torch.stack([r[0] for r in res]).cpu().numpy()
    acc = torch.stack([r[1] for r in res]).cpu().numpy() if classify else None
    return Line(t, loss, acc)
