"""How alike are two trained models? CKA of their representations and the connectivity of their minima
(Yang et al., "Taxonomizing local versus global structure in neural network loss landscapes", 2021).

Example
-------
>>> X = np.random.default_rng(0).standard_normal((50, 8))
>>> round(lk.similarity.cka(X, 3 * X @ np.linalg.qr(np.random.default_rng(1).standard_normal((8, 8)))[0]), 6)
1.0
>>> 0 < lk.similarity.model_cka(model, model_b, task, mixup=16, n=128, seed=0) <= 1
True
>>> mc = lk.similarity.mode_connectivity(model, model_b, task, curve="line", n_points=5)
>>> len(mc.t), mc.curve
(5, 'line')
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Literal

import numpy as np
import torch
from torch import nn

from .errors import InvalidArgument, InvalidType
from .layout import flat_parameters
from .results import Result
from .validate import choice, integer, number

__all__ = ["Connectivity", "cka", "mc_from_profile", "mode_connectivity", "model_cka"]


def _hsic_unbiased(K: np.ndarray, L: np.ndarray) -> float:
    """Song et al. (2012)'s unbiased HSIC of two n × n kernel matrices (n > 3)."""
    n = len(K)
    K = K.copy()
    L = L.copy()
    np.fill_diagonal(K, 0)
    np.fill_diagonal(L, 0)
    ones = np.ones(n)
    term = np.sum(K * L) + (ones @ K @ ones) * (ones @ L @ ones) / ((n - 1) * (n - 2))
    term -= 2 / (n - 2) * (ones @ K @ (L @ ones))
    return float(term / (n * (n - 3)))


def cka(X, Y, *, debiased: bool = False) -> float:
    """Linear centred kernel alignment of two feature matrices on the same n inputs, (n, d1) and (n, d2):
    ‖Ycᵀ Xc‖²_F / (‖Xcᵀ Xc‖_F ‖Ycᵀ Yc‖_F) with column-centred Xc, Yc (Kornblith et al. 2019). 1 for
    X against XQ (Q orthogonal) or aX; symmetric. ``debiased=True`` uses the unbiased HSIC estimator
    (near 0 for independent features, where the plain estimate is biased upward for small n).

    Example
    -------
    >>> X = np.random.default_rng(0).standard_normal((100, 5))
    >>> round(lk.similarity.cka(X, 2 * X + 1), 6)          # invariant to scale and shift
    1.0
    """
    X, Y = _features_matrix("X", X), _features_matrix("Y", Y)
    if len(X) != len(Y):
        raise InvalidArgument(f"X and Y must describe the same inputs: {len(X)} vs {len(Y)} rows")
    if len(X) < 4:
        raise InvalidArgument(f"CKA needs at least 4 inputs, got {len(X)}")
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    for name, A, C in (("X", X, Xc), ("Y", Y, Yc)):
        if not np.abs(C).max(initial=0) > 1e-12 * max(np.abs(A).max(initial=0), 1e-300):
            raise InvalidArgument(
                f"{name} is constant across the inputs (no variation after centring): CKA is undefined"
            )
    if debiased:
        K, L = X @ X.T, Y @ Y.T
        kl, kk, ll = _hsic_unbiased(K, L), _hsic_unbiased(K, K), _hsic_unbiased(L, L)
        if not (kk > 0 and ll > 0):
            raise InvalidArgument(
                f"the debiased self-similarity of {'X' if not kk > 0 else 'Y'} is not positive "
                f"({min(kk, ll):.3g}): too few inputs or near-constant features for debiased CKA"
            )
        return float(kl / np.sqrt(kk * ll))
    num = np.linalg.norm(Yc.T @ Xc) ** 2
    den = np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc)
    return float(num / den) if den > 0 else float("nan")


def _features_matrix(name, A) -> np.ndarray:
    """A feature matrix as float64 (n, d), finite."""
    try:
        A = np.asarray(A, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InvalidType(f"{name} must be a numeric (n, d) array, got {type(A).__name__}") from e
    if A.ndim == 0:
        raise InvalidArgument(f"{name} must be a (n, d) array of features, got a scalar")
    A = A.reshape(len(A), -1)
    if not np.isfinite(A).all():
        raise InvalidArgument(f"{name} holds NaN or infinite features")
    return A


def _device(model) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _features(model, x, layer, output=None):
    model = model.eval()
    x = x.to(_device(model))
    if layer is None:
        with torch.no_grad():
            out = model(x)
            out = out if output is None else output(out)
            return out.reshape(len(x), -1).double().cpu().numpy()
    grabbed = {}
    handle = model.get_submodule(layer).register_forward_hook(
        lambda m, a, out: grabbed.update(out=out)
    )
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return grabbed["out"].reshape(len(x), -1).double().cpu().numpy()


def _mixed_inputs(x: torch.Tensor, n: int, mixup: float | None, seed: int) -> torch.Tensor:
    """``n`` seeded inputs of ``x``, mixed up with a permutation of themselves (λ ~ Beta(mixup,
    mixup) per input) when ``mixup``; on ``x``'s device (the mixing weights too)."""
    g = torch.Generator().manual_seed(seed)
    x = x[torch.randperm(len(x), generator=g)[: min(n, len(x))]]
    if mixup:
        rng = np.random.default_rng(seed)
        lam = torch.as_tensor(rng.beta(mixup, mixup, len(x)), dtype=x.dtype, device=x.device)
        lam = lam.view(-1, *([1] * (x.dim() - 1)))
        x = lam * x + (1 - lam) * x[torch.randperm(len(x), generator=g)]
    return x


def model_cka(model_a, model_b, task, *, mixup: float | None = 16, n: int = 640, seed: int = 0,
              layer: str | None = None, debiased: bool = False, output=None) -> float:  # fmt: skip
    """CKA between two models' outputs (or the outputs of submodule ``layer``) on the same ``n``
    training inputs. With ``mixup`` (the paper's choice) the inputs are x̃ = λx + (1 − λ)x_perm,
    λ ~ Beta(mixup, mixup), so that models that fit the training set do not agree trivially.
    ``output`` maps a model's output to the features compared (``lambda o: o.logits`` for a model
    that returns a structure); ``task`` may be a Task, ``(x, y)`` tensors or a DataLoader.

    Example
    -------
    >>> 0 < lk.similarity.model_cka(model, model_b, task, n=128) <= 1
    True
    """
    from .tasks import as_task

    task = as_task(task)
    n = integer("n", n, minimum=4)
    if mixup is not None:
        mixup = number("mixup", mixup, minimum=0)
    if layer is not None:
        for name, m in (("model_a", model_a), ("model_b", model_b)):
            try:
                m.get_submodule(layer)
            except AttributeError:
                names = [k for k, _ in m.named_modules() if k][:8]
                raise InvalidArgument(
                    f"layer={layer!r} is not a submodule of {name}; its submodules: {names}"
                ) from None
    x = _mixed_inputs(task.x_train, n, mixup, seed)
    return cka(_features(model_a, x, layer, output), _features(model_b, x, layer, output),
               debiased=debiased)  # fmt: skip


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Connectivity(Result):
    """Mode connectivity of two models: ``value`` the signed measure mc = ½(L(w₁) + L(w₂)) − L(γ(t*)),
    t* = argmax |½(L(w₁) + L(w₂)) − L(γ(t))| over the curve, L the training error (loss for
    regression): mc < 0 a barrier, ≈ 0 well connected, > 0 the endpoints are not converged. ``t``,
    ``error`` and ``loss`` profile the curve; ``curve`` is "bezier" or "line"; ``theta`` the trained
    control point (flat)."""

    _headline = ("value", "t_star", "curve")

    value: float
    t_star: float
    t: np.ndarray
    error: np.ndarray
    loss: np.ndarray
    curve: str
    theta: np.ndarray | None = None
    history: dict = dataclasses.field(default_factory=dict)


def mc_from_profile(t, err) -> tuple[float, float]:
    """The signed mode-connectivity measure of an error profile along a curve from t = 0 to t = 1.

    Example
    -------
    >>> lk.similarity.mc_from_profile([0, 0.5, 1], [0.1, 0.4, 0.1])   # a barrier of 0.3 at the middle
    (-0.30000000000000004, 0.5)
    """
    t, err = np.asarray(t, dtype=float), np.asarray(err, dtype=float)
    if t.ndim != 1 or t.shape != err.shape or len(t) < 3:
        raise InvalidArgument(
            f"t and err must be two profiles of one length >= 3, got {t.shape} and {err.shape}"
        )
    if not (np.isfinite(t).all() and np.isfinite(err).all()):
        raise InvalidArgument("t or err holds NaN or inf")
    if not (np.diff(t) > 0).all():
        raise InvalidArgument("t must increase along the curve (from 0 to 1)")
    mid = 0.5 * (err[0] + err[-1])
    dev = mid - err
    k = int(np.argmax(np.abs(dev)))
    return float(dev[k]), float(t[k])


class _BezierCurve(nn.Module):
    """γ(t) = (1 − t)² w₁ + 2t(1 − t) θ + t² w₂ as a module: in training mode every call draws a fresh
    t ~ U(0, 1) (so :func:`landkit.train` trains θ, the only parameter); in eval mode it uses ``self.t``."""

    def __init__(self, base, w1, w2, seed):
        super().__init__()
        self.base = [copy.deepcopy(base)]  # not a submodule: its parameters are not trained
        self.names = [n for n, _ in base.named_parameters()]
        self.shapes = [p.shape for _, p in base.named_parameters()]
        self.w1, self.w2 = w1, w2
        self.theta = nn.Parameter(0.5 * (w1 + w2))
        self.t = 0.5
        self.gen = torch.Generator().manual_seed(seed)

    def point(self, t):
        return (1 - t) ** 2 * self.w1 + 2 * t * (1 - t) * self.theta + t**2 * self.w2

    def params_at(self, t):
        flat, out, i = self.point(t), {}, 0
        for n, s in zip(self.names, self.shapes):
            k = int(np.prod(s)) if len(s) else 1
            out[n] = flat[i : i + k].view(s)
            i += k
        return out

    def forward(self, x):
        from torch.func import functional_call

        t = float(torch.rand((), generator=self.gen)) if self.training else self.t
        base = self.base[0]
        base.train(self.training)
        return functional_call(base, self.params_at(t), (x,))


def _has_batchnorm(model) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@torch.no_grad()
def _profile(curve: _BezierCurve, task, ts, batch_size=1024):
    """Loss and error along the curve; batch-norm statistics recomputed at every t on the training set
    (a cumulative average over one pass in training mode) before evaluating in eval mode."""
    from torch.func import functional_call

    base = curve.base[0]
    bns = [m for m in base.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    losses, errors = [], []
    x, y = task.x_train.to(curve.theta.device), task.y_train.to(curve.theta.device)
    curve.eval()
    for t in ts:
        curve.t = float(t)
        if bns:
            for m in bns:
                m.reset_running_stats()
                m.momentum = None
            base.train(True)
            params = curve.params_at(curve.t)
            for i in range(0, len(x), batch_size):
                functional_call(base, params, (x[i : i + batch_size],))
        out = torch.cat([curve(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
        losses.append(float(task.loss_fn(out, y)))
        if task.kind == "classification":
            errors.append(float((out.argmax(-1) != y).float().mean()))
        else:
            errors.append(losses[-1])
    return np.array(losses), np.array(errors)


def mode_connectivity(model_a, model_b, task, *, curve: Literal["bezier", "line"] = "bezier", epochs: int = 50,
                      lr: float = 0.05, batch_size: int = 64, n_points: int = 21, seed: int = 0,
                      progress: bool = False) -> Connectivity:  # fmt: skip
    """The signed mode connectivity mc between two trained models of one architecture.

    ``curve="bezier"``: the quadratic Bezier curve between them with its control point θ trained
    (initialised at the midpoint; a fresh t ~ U(0, 1) at every minibatch; SGD with momentum 0.9 for
    ``epochs`` passes over the training set, through :func:`landkit.train`, the learning rate held at
    ``lr`` for the first half, then lowered linearly to ``lr``/100 at 90% as in Garipov et al.'s curve
    training: an under-trained curve reads as a barrier that is not there — 50 epochs at 0.05 converge
    on the digits MLPs, 5 at 0.01 do not); ``curve="line"``: the
    straight line (θ at the midpoint, untrained). The error and loss are then profiled at ``n_points``
    values of t, batch-norm statistics recomputed at each t. See :class:`Connectivity`.

    Example
    -------
    >>> mc = lk.similarity.mode_connectivity(model, model_b, task, curve="line", n_points=7)
    >>> len(mc.t), bool(np.isfinite(mc.value))
    (7, True)
    """
    from .tasks import as_task
    from .training import train

    task = as_task(task)
    choice("curve", curve, ("bezier", "line"))
    epochs = integer("epochs", epochs, minimum=0)
    lr = number("lr", lr, minimum=0, strict=True)
    batch_size = integer("batch_size", batch_size, minimum=1)
    n_points = integer("n_points", n_points, minimum=3)
    sa = [(n, p.shape) for n, p in model_a.named_parameters()]
    sb = [(n, p.shape) for n, p in model_b.named_parameters()]
    if sa != sb:
        raise InvalidArgument(
            "the two models must share one architecture (same parameter names and shapes)"
        )
    w1, w2 = flat_parameters(model_a), flat_parameters(model_b)
    bez = _BezierCurve(model_a, w1, w2, seed)
    history = {}
    if curve == "bezier" and epochs > 0:
        steps = max(1, epochs * int(np.ceil(task.n_train / batch_size)))

        def schedule(step, lr=lr, steps=steps):  # Garipov et al.: flat, linear decay, then 1%
            f = step / steps
            return lr * (1.0 if f <= 0.5 else max(0.01, 1.0 - 0.99 * (f - 0.5) / 0.4))

        res = train(bez, task, steps=steps, lr=schedule, momentum=0.9, batch_size=batch_size,
                    seed=seed, progress=progress, device=w1.device)  # fmt: skip
        history = {k: np.asarray(v).tolist() for k, v in res.history.items()}
    ts = np.linspace(0, 1, n_points)
    losses, errors = _profile(bez, task, ts)
    value, t_star = mc_from_profile(ts, errors)
    return Connectivity(value, t_star, ts, errors, losses, curve,
                        bez.theta.detach().cpu().numpy().copy() if curve == "bezier" else None, history)  # fmt: skip
