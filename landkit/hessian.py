"""Curvature of the training loss as matrix-free operators, and the algorithms that read them.

Operator first (after hessian-eigenthings): an operator is anything with ``size``, ``device``,
``dtype`` and ``matvec(v)`` (the :class:`CurvatureOperator` protocol). landkit provides

- :class:`HessianOperator` — H = ∇²L(θ) of a model on its data, by ``torch.func`` Hessian-vector
  products (HVPs; one costs about two gradient evaluations, the P × P matrix is never formed);
- :class:`GGNOperator` — the generalised Gauss–Newton matrix G = JᵀH_ℓJ (J the Jacobian of the
  model's outputs, H_ℓ the Hessian of the loss in the outputs): positive semi-definite for convex
  losses (cross-entropy, MSE), the Fisher for cross-entropy, and what many users mean by "curvature";
- :class:`MatrixOperator` — an explicit symmetric matrix (for tests and teaching).

and the algorithms take an operator: :func:`top_eigenvalues` (Lanczos), :func:`trace`
(Hutchinson / Hutch++), :func:`density` (stochastic Lanczos quadrature). Given a model and data
instead, they build the :class:`HessianOperator` themselves (``n_samples=``, ``params=``, ...).

Random probes are drawn on the CPU from ``seed`` and moved to the operator's device and dtype, so a
seed gives the same probes on every device.

Example
-------
>>> import numpy as np, landkit as lk
>>> op = lk.hessian.MatrixOperator(np.diag([5.0, 3.0, 1.0, 0.5]))
>>> top = lk.hessian.top_eigenvalues(op, k=2, tol=1e-8)
>>> np.round(top.eigenvalues, 6), top.converged
(array([5., 3.]), True)
>>> round(lk.hessian.trace(op, num_matvecs=4).estimate, 6)   # Rademacher probes: exact on a diagonal
9.5
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import torch

from .errors import InvalidArgument, InvalidType
from .layout import ParamLayout
from .progress import Progress
from .results import Result, with_params
from .validate import choice, integer, number, torch_dtype

__all__ = [
    "CurvatureOperator",
    "GGNOperator",
    "HessianDensity",
    "HessianEigen",
    "HessianOperator",
    "MatrixOperator",
    "TraceEstimate",
    "density",
    "per_layer",
    "top_eigenvalues",
    "trace",
]


@runtime_checkable
class CurvatureOperator(Protocol):
    """A symmetric linear operator on flat vectors of length ``size`` (on ``device``, in ``dtype``)."""

    size: int
    device: torch.device
    dtype: torch.dtype

    def matvec(self, v: torch.Tensor) -> torch.Tensor: ...


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class HessianEigen(Result):
    """Extreme Hessian eigenpairs from Lanczos.

    ``eigenvalues`` sorted (largest first for ``which="largest"``), ``eigenvectors`` as rows (k, P),
    ``residuals`` ‖Hv − λv‖ for each pair, ``iterations`` the number of Hessian-vector products,
    ``converged`` whether every residual is below ``tol · max(|λ|, tiny)``.
    """

    _headline = ("eigenvalues", "iterations", "converged", "which")

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    residuals: np.ndarray
    iterations: int
    converged: bool
    which: str


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class TraceEstimate(Result):
    """Estimate of tr(H) with its standard error; ``num_matvecs`` Hessian-vector products were used and
    ``samples`` are the per-probe values whose mean is ``estimate``."""

    _headline = ("estimate", "stderr", "num_matvecs")

    estimate: float
    stderr: float
    num_matvecs: int
    samples: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class HessianDensity(Result):
    """Spectral density from stochastic Lanczos quadrature: ``density`` on ``grid`` (integrates to ≈ 1),
    and the quadrature ``nodes``/``weights`` of each run (weights of a run sum to 1)."""

    _headline = ("sigma",)

    grid: np.ndarray
    density: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    sigma: float


class MatrixOperator:
    """An explicit symmetric matrix as a :class:`CurvatureOperator` (tests, teaching, small problems).

    Example
    -------
    >>> import numpy as np, landkit as lk
    >>> op = lk.hessian.MatrixOperator(np.array([[2.0, 1.0], [1.0, 2.0]]))
    >>> op.matvec(torch.tensor([1.0, 1.0], dtype=torch.float64))
    tensor([3., 3.], dtype=torch.float64)
    """

    def __init__(self, matrix, *, device=None, dtype=None):
        try:
            A = torch.as_tensor(
                np.asarray(matrix, dtype=float) if not torch.is_tensor(matrix) else matrix
            )
        except (TypeError, ValueError) as e:
            raise InvalidType(
                f"matrix must be a square array of numbers, got {type(matrix).__name__}"
            ) from e
        if A.dim() != 2 or A.shape[0] != A.shape[1]:
            raise InvalidArgument(f"matrix must be square, got shape {tuple(A.shape)}")
        if not torch.isfinite(A).all():
            raise InvalidArgument("matrix holds NaN or infinite entries")
        if not torch.allclose(A, A.T, rtol=1e-6, atol=1e-8 * float(A.abs().max().clamp_min(1))):
            raise InvalidArgument("matrix must be symmetric (a Hessian is)")
        self.matrix = A.to(
            device=device, dtype=dtype or (A.dtype if A.is_floating_point() else torch.float64)
        )
        self.size, self.device, self.dtype = A.shape[0], self.matrix.device, self.matrix.dtype
        self.n_matvecs = 0

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        self.n_matvecs += 1
        return self.matrix @ v.to(self.dtype)


@contextlib.contextmanager
def _math_attention():
    """Scaled-dot-product attention through its math kernel: the fused kernels have no second
    derivative (PyTorch raises for HVPs through them); the math kernel is exact and differentiable."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:  # pragma: no cover - older torch
        yield
        return
    with sdpa_kernel(SDPBackend.MATH):
        yield


class _ModelOperator:
    """What the Hessian and GGN operators share: the model as a function of the selected parameters,
    the data (resolved once, the task's objective kept), device and dtype."""

    def __init__(self, model, data, *, loss_fn=None, params=None, dtype=None, n_samples=None,
                 seed=0, batch_size=None, output=None):  # fmt: skip
        from .data import resolve

        if not isinstance(model, torch.nn.Module):
            raise InvalidType(f"model must be a torch.nn.Module, got {type(model).__name__}")
        first = next(model.parameters(), None)
        if first is None:
            raise InvalidArgument("the model has no parameters")
        self.model = model
        self.layout = ParamLayout.of(model, params)
        self.names = self.layout.names
        self.device = first.device
        self.dtype = first.dtype if dtype is None else torch_dtype(dtype)
        self.theta = self.layout.flatten(model, self.dtype)
        self.size = self.layout.size
        self.fixed = {
            n: p.detach().to(self.dtype) for n, p in model.named_parameters() if n not in self.names
        }
        self.buffers = {
            n: b.to(self.dtype) if b.is_floating_point() else b for n, b in model.named_buffers()
        }
        resolved = resolve(data, loss_fn, n_samples=n_samples, seed=seed)
        x, y = resolved.tensors()
        self.loss_fn, self.objective = resolved.loss_fn, resolved.objective
        self.output = output if output is not None else resolved.output
        self.x = x.to(self.device, self.dtype if x.is_floating_point() else x.dtype)
        self.y = y.to(self.device, self.dtype if y.is_floating_point() else y.dtype)
        if batch_size is not None:
            batch_size = integer("batch_size", batch_size, minimum=1)
        if self.objective is not None and batch_size is not None and batch_size < len(self.x):
            raise InvalidArgument(
                "this task's objective is evaluated on all its data at once: no batch_size"
            )
        self.batch_size = batch_size or len(self.x)
        self.n_matvecs = 0

    @property
    def dim(self) -> int:  # the older name of ``size``
        return self.size

    def _params(self, flat):
        return {**self.layout.unflatten(flat), **self.fixed}, self.buffers

    def outputs(self, flat=None, x=None):
        """The model's outputs (through ``output=``) at parameters ``flat``, in eval mode."""
        from torch.func import functional_call

        flat = self.theta if flat is None else flat
        x = self.x if x is None else x
        was = self.model.training
        self.model.eval()
        try:
            out = functional_call(self.model, self._params(flat), (x,))
        finally:
            self.model.train(was)
        return out if self.output is None else self.output(out)

    def loss(self, flat=None, x=None, y=None):
        """The mean loss at parameters ``flat`` (default θ) on ``x``, ``y`` (default all the data)."""
        from torch.func import functional_call

        flat = self.theta if flat is None else flat
        x = self.x if x is None else x
        y = self.y if y is None else y
        if self.objective is not None:
            was = self.model.training
            self.model.eval()
            try:
                params = self._params(flat)
                return self.objective(lambda inp: functional_call(self.model, params, (inp,)), x, y)
            finally:
                self.model.train(was)
        return self.loss_fn(self.outputs(flat, x), y)

    def _batches(self):
        n = len(self.x)
        for i in range(0, n, self.batch_size):
            yield (
                self.x[i : i + self.batch_size],
                self.y[i : i + self.batch_size],
                min(self.batch_size, n - i) / n,
            )


class HessianOperator(_ModelOperator):
    """H = ∇²L(θ) of ``model`` on ``data`` as a matrix-free :class:`CurvatureOperator`.

    ``data``: a Task (its objective kept), ``(inputs, targets)`` tensors or a DataLoader;
    ``n_samples`` keeps a fixed random subset of it (seeded by ``seed``); ``params`` selects parameters
    by name/glob (the Hessian block of those, the others held fixed); ``dtype=torch.float64`` evaluates
    in double precision; ``output`` maps the model's output to what the loss takes (for models that
    return a structure). The model is evaluated in eval mode (batch norm uses running statistics).

    ``backend`` picks how a product Hv is computed (all agree to rounding; tested against the dense
    Hessian):

    - ``"jvp"``: forward-over-reverse, ``torch.func.jvp`` of ``torch.func.grad`` — nothing kept between
      products; the only backend for data split by ``batch_size``;
    - ``"linearize"``: the same, linearised once at θ (``torch.func.linearize``): each product is one
      tangent pass, after a one-off trace;
    - ``"reverse"``: reverse-over-reverse, the gradient's graph built once (``create_graph=True``) and
      differentiated again per product;
    - ``"auto"`` (default): ``"reverse"`` on unbatched data, ``"jvp"`` per batch otherwise.

    Attention runs through PyTorch's math kernel inside products (the fused kernels have no second
    derivative).

    Example
    -------
    >>> op = lk.hessian.HessianOperator(model, task, n_samples=256)
    >>> op.size == sum(p.numel() for p in model.parameters()), op.matvec(op.theta).shape == op.theta.shape
    (True, True)
    """

    def __init__(self, model, data, *, loss_fn=None, params=None, dtype=None, n_samples=None,
                 seed=0, batch_size=None, backend: Literal["auto", "jvp", "linearize", "reverse"] = "auto",
                 output=None):  # fmt: skip
        super().__init__(model, data, loss_fn=loss_fn, params=params, dtype=dtype,
                         n_samples=n_samples, seed=seed, batch_size=batch_size, output=output)  # fmt: skip
        choice("backend", backend, ("auto", "jvp", "linearize", "reverse"))
        if backend == "auto":
            backend = "reverse" if self.batch_size >= len(self.x) else "jvp"
        if backend != "jvp" and self.batch_size < len(self.x):
            raise InvalidArgument(
                f"backend={backend!r} keeps the whole data's graph: it needs batch_size=None"
            )
        self.backend, self._product = backend, None

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """H v for a flat vector ``v`` (the mean loss over the data)."""
        from torch.func import grad, jvp

        v = v.to(device=self.device, dtype=self.dtype)
        self.n_matvecs += 1
        with _math_attention():
            if self.backend != "jvp":
                if self._product is None:
                    self._product = self._prepare()
                return self._product(v)
            total = torch.zeros_like(self.theta)
            for xb, yb, w in self._batches():
                g = grad(lambda th, xb=xb, yb=yb: self.loss(th, xb, yb))
                _, hv = jvp(g, (self.theta,), (v,))
                total += hv * w
            return total

    def _prepare(self):
        if self.backend == "linearize":
            import warnings

            from torch.func import grad, linearize

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.fx's const-folding notes
                _, fn = linearize(grad(lambda th: self.loss(th)), self.theta)
            return fn
        theta = self.theta.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self.loss(theta), theta, create_graph=True)

        def product(v):
            with torch.enable_grad():
                (hv,) = torch.autograd.grad(g, theta, v, retain_graph=True)
            return hv.detach()

        return product

    def dense(self) -> torch.Tensor:
        """The full P × P Hessian (tiny models only; for tests and teaching)."""
        with _math_attention():
            return torch.autograd.functional.hessian(lambda th: self.loss(th), self.theta)


class GGNOperator(_ModelOperator):
    """The generalised Gauss–Newton matrix G = Σ_batches w·JᵀH_ℓJ of ``model`` on ``data``.

    J is the Jacobian of the model's outputs in the selected parameters and H_ℓ the Hessian of the
    loss in the outputs; for cross-entropy G is the Fisher information, for MSE it is 2JᵀJ/n (the
    Hessian without its second-order term). It is positive semi-definite whenever the loss is convex
    in the outputs, so its eigenvalues are ≥ 0 and Lanczos converges on it quickly. Same arguments
    as :class:`HessianOperator` (no ``backend``: one product is a forward-mode pass, a loss HVP in the
    outputs and a reverse pass). A task whose objective differentiates the model in its inputs (the
    PINN) has no GGN.

    Example
    -------
    >>> G = lk.hessian.GGNOperator(model, task, n_samples=128)
    >>> bool(lk.hessian.top_eigenvalues(G, k=1).eigenvalues[0] >= 0)
    True
    """

    def __init__(self, model, data, *, loss_fn=None, params=None, dtype=None, n_samples=None,
                 seed=0, batch_size=None, output=None):  # fmt: skip
        super().__init__(model, data, loss_fn=loss_fn, params=params, dtype=dtype,
                         n_samples=n_samples, seed=seed, batch_size=batch_size, output=output)  # fmt: skip
        if self.objective is not None:
            raise InvalidArgument(
                "this task's objective differentiates the model in its inputs: it has no "
                "Gauss–Newton form; use HessianOperator"
            )

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """G v for a flat vector ``v``."""
        from torch.func import grad, jvp, vjp

        v = v.to(device=self.device, dtype=self.dtype)
        self.n_matvecs += 1
        total = torch.zeros_like(self.theta)
        with _math_attention():
            for xb, yb, w in self._batches():
                f = lambda th, xb=xb: self.outputs(th, xb)  # noqa: E731
                out, jv = jvp(f, (self.theta,), (v,))
                # H_ℓ·Jv as the vjp of the loss gradient in the outputs (H_ℓ is symmetric; the
                # forward-mode form trips over MSE's zero second derivative in the target)
                _, loss_hvp = vjp(grad(lambda o, yb=yb: self.loss_fn(o, yb)), out)
                (hjv,) = loss_hvp(jv)
                _, pull = vjp(f, self.theta)
                (gv,) = pull(hjv)
                total += gv * w
        return total

    def dense(self) -> torch.Tensor:
        """The full P × P matrix (tiny models only; for tests)."""
        eye = torch.eye(self.size, dtype=self.dtype, device=self.device)
        return torch.stack([self.matvec(e) for e in eye])


def _operator(op, data, seed, op_kwargs) -> CurvatureOperator:
    """The operator given, or the Hessian of (model, data)."""
    if isinstance(op, CurvatureOperator) and not isinstance(op, torch.nn.Module):
        if data is not None or op_kwargs:
            raise InvalidArgument(
                "an operator already holds its data and settings: pass neither data nor "
                f"{sorted(op_kwargs) or 'operator options'} with it"
            )
        return op
    if isinstance(op, torch.nn.Module):
        if data is None:
            raise InvalidArgument(
                "a model needs its data: top_eigenvalues(model, task) (or a Task, (x, y) or DataLoader)"
            )
        return HessianOperator(op, data, seed=seed, **op_kwargs)
    raise InvalidType(
        "the first argument must be a curvature operator (HessianOperator, GGNOperator, "
        f"MatrixOperator or anything with size/device/dtype/matvec) or a torch model, got {type(op).__name__}"
    )


def _probe_generator(seed):
    return torch.Generator().manual_seed(integer("seed", seed))


def _on(op, t: torch.Tensor) -> torch.Tensor:
    return t.to(device=op.device, dtype=op.dtype)


def _lanczos(op, m: int, v0: torch.Tensor, stop=None, bar=None):
    """Up to m Lanczos steps with full reorthogonalisation; returns (alphas, betas, V (steps × P)).
    ``stop(alphas, betas)``, called after every step, ends the run early when it returns True. The
    basis grows in blocks, so memory follows the steps actually run, not ``m``."""
    block = min(m, 4)
    V = torch.zeros(block, op.size, dtype=op.dtype, device=op.device)
    alphas, betas = [], []
    v = v0 / v0.norm()
    beta = 0.0
    for j in range(m):
        if j == len(V):
            grown = torch.zeros(min(m, 2 * len(V)), op.size, dtype=op.dtype, device=op.device)
            grown[:j] = V
            V = grown
        V[j] = v
        w = op.matvec(v)
        if bar is not None:
            bar.update()
        alpha = float(w @ v)
        w = w - alpha * v - (beta * V[j - 1] if j else 0.0)
        w = w - V[: j + 1].T @ (V[: j + 1] @ w)  # full reorthogonalisation (twice is enough)
        w = w - V[: j + 1].T @ (V[: j + 1] @ w)
        beta = float(w.norm())
        alphas.append(alpha)
        betas.append(beta)
        if beta < 1e-12 * max(1.0, abs(alpha)) or (stop is not None and stop(alphas, betas)):
            break
        v = w / beta
    k = len(alphas)
    return np.array(alphas), np.array(betas), V[:k]


class _Deflated:
    """(I − QQᵀ) H (I − QQᵀ) for orthonormal rows Q: H with a found subspace removed."""

    def __init__(self, op, Q):
        self.op, self.Q = op, Q
        self.size, self.device, self.dtype = op.size, op.device, op.dtype

    def project(self, v):
        return v - self.Q.T @ (self.Q @ v)

    def matvec(self, v):
        return self.project(self.op.matvec(self.project(v)))


def _ritz(alphas, betas, k, which):
    """Ritz values θ, vectors S of the tridiagonal matrix, the ``k`` wanted (indices) and their
    Lanczos residuals |β_m s_m|."""
    T = np.diag(alphas) + np.diag(betas[:-1], 1) + np.diag(betas[:-1], -1)
    theta, S = np.linalg.eigh(T)
    order = np.argsort(-theta) if which == "largest" else np.argsort(theta)
    sel = order[: min(k, len(alphas))]
    return theta, S, sel, np.abs(betas[-1] * S[-1, sel])


def _scale(values, norm_estimate):
    """What "relative" tolerances are relative to: |θ|, but never below a tiny fraction of ‖H‖ (so an
    eigenvalue at zero can converge)."""
    return np.maximum(np.abs(values), 1e-8 * max(norm_estimate, 1e-30))


def top_eigenvalues(op, data=None, *, k: int = 5, tol: float = 1e-3, seed: int = 0,
                    which: Literal["largest", "smallest"] = "largest", max_iter: int | None = None,
                    verify: bool = True, progress=False, **op_kwargs) -> HessianEigen:  # fmt: skip
    """The ``k`` largest (``which="largest"``, algebraic) or most negative (``which="smallest"``)
    eigenvalues of a curvature operator by Lanczos with full reorthogonalisation, one product per step.

    ``op``: a :class:`CurvatureOperator`, or a model with its ``data`` (then the Hessian, built with
    ``op_kwargs``: ``n_samples=``, ``params=``, ``dtype=``, ``loss_fn=``, ``batch_size=``, ``backend=``).

    **When it stops.** A Ritz pair (θ, v) is accepted when its residual r = ‖Hv − θv‖ (the Lanczos value
    |β_m s_m|) is at most ``tol``·|θ|; then an eigenvalue of H lies within r of θ, and within
    r²/gap of it once the pair is the right one — so every reported value is accurate to ``tol``
    relative. (Bounds built on the gap between *current* Ritz values are not used: an eigenvalue not
    yet found makes that gap look large and the bound invalid.)

    **Is it the right one?** A single Krylov run can miss an eigenvalue — one that has not emerged
    yet, or a second copy of a repeated one. With ``verify=True`` (the default) a deflated Lanczos run
    on (I − QQᵀ)H(I − QQᵀ), Q the accepted vectors, looks for anything beyond the k-th value; what it
    finds is locked in (its residual recomputed on H) and the check repeats, at most k times.
    ``converged`` is True only when every reported pair meets ``tol`` on H itself and the check
    found nothing more. ``residuals`` are ‖Hv − θv‖: the Lanczos residuals |β_m s_m| when the first run
    found every value (exact to rounding under full reorthogonalisation), otherwise computed with
    explicit products (k more).

    ``progress``: True for a bar, or a callable ``(done, total)`` (raise :class:`landkit.Cancelled`
    to stop). ``iterations`` counts every product, the verification included.

    Example
    -------
    >>> top = lk.hessian.top_eigenvalues(model, task, k=2, tol=1e-3, n_samples=256)
    >>> bool(top.eigenvalues[0] >= top.eigenvalues[1]), top.converged
    (True, True)
    >>> op = lk.hessian.MatrixOperator(np.diag([5.0, 5.0, 3.0, 1.0]))   # a repeated eigenvalue
    >>> np.round(lk.hessian.top_eigenvalues(op, k=2, tol=1e-8).eigenvalues, 6)
    array([5., 5.])
    """
    choice("which", which, ("largest", "smallest"))
    tol = number("tol", tol, minimum=0, strict=True)
    op = _operator(op, data, seed, op_kwargs)
    k = integer("k", k, minimum=1, maximum=op.size)
    max_iter = min(
        op.size,
        integer("max_iter", max_iter, minimum=1) if max_iter is not None else max(10 * k, 100),
    )
    g = _probe_generator(seed)
    sign = 1.0 if which == "largest" else -1.0
    count = [0]

    class _Counted:  # counts the products, whatever the operator
        size, device, dtype = op.size, op.device, op.dtype

        @staticmethod
        def matvec(v):
            count[0] += 1
            return op.matvec(v)

    H = _Counted()
    norm = [0.0]  # a running estimate of ‖H‖ (the largest |Ritz value| seen)

    def accepted(alphas, betas):
        m = len(alphas)
        if m < min(k + 1, op.size):
            return False
        theta, _, sel, res = _ritz(np.asarray(alphas), np.asarray(betas), k, which)
        norm[0] = max(norm[0], float(np.abs(theta).max()))
        return bool(np.all(res <= tol * _scale(theta[sel], norm[0])))

    with Progress(progress, max_iter, "Lanczos", unit="HVP") as bar:
        v0 = _on(op, torch.randn(op.size, generator=g, dtype=torch.float64))
        alphas, betas, V = _lanczos(H, max_iter, v0, stop=accepted, bar=bar)
        theta, S, sel, lanczos_res = _ritz(alphas, betas, k, which)
        vals = theta[sel]
        vecs = (torch.from_numpy(S[:, sel].T.copy()).to(V) @ V).detach()
        invariant = betas[-1] < 1e-12 * max(1.0, abs(alphas[-1]))
        found_all = invariant or accepted(list(alphas), list(betas))
        missed = 0
        if verify and len(vals) < op.size:
            for _ in range(k):
                extra = _look_beyond(H, vecs, vals, which, tol, norm[0], g, bar)
                if extra is None:
                    break
                missed += 1
                val, vec = extra
                vals = np.append(vals, val)
                vecs = torch.cat([vecs, vec[None]])
                order = np.argsort(-sign * vals)[:k]
                vals, vecs = vals[order], vecs[torch.as_tensor(order.copy(), device=vecs.device)]
    if found_all and not missed:
        # the Lanczos relation H V = V T + β v eᵀ holds to rounding under full reorthogonalisation, so
        # |β_m s_m| is ‖Hv − θv‖ (checked against explicit products in the tests): k products saved
        residuals = np.asarray(lanczos_res, dtype=float)
    else:  # pairs found by the deflated check, or a run cut at max_iter: measured on H itself
        residuals = np.array(
            [float((H.matvec(u) - float(t) * u).norm()) for u, t in zip(vecs, vals)]
        )
    ok = bool(np.all(residuals <= tol * _scale(vals, max(norm[0], float(np.abs(vals).max())))))
    out = HessianEigen(vals, vecs.cpu().numpy(), residuals, count[0], bool(found_all and ok), which)
    return with_params(out, k=k, tol=tol, seed=seed, which=which, max_iter=max_iter, verify=verify,
                       missed_then_found=missed, operator=type(op).__name__)  # fmt: skip


def _look_beyond(H, vecs, vals, which, tol, norm, g, bar, max_steps: int = 60):
    """A deflated Lanczos run that looks for an eigenvalue beyond the k-th accepted one (larger for
    ``which="largest"``). Returns (value, unit vector) of one it finds, converged on H, or None."""
    Q, _ = torch.linalg.qr(vecs.T)  # orthonormal basis of the accepted vectors, (P, k)
    D = _Deflated(H, Q.T.contiguous())
    kth = float(vals[-1])
    beyond = (lambda t: t > kth + tol * abs(kth)) if which == "largest" else (
        lambda t: t < kth - tol * abs(kth))  # fmt: skip

    def settled(alphas, betas):
        theta, _, sel, res = _ritz(np.asarray(alphas), np.asarray(betas), 1, which)
        t, r = float(theta[sel[0]]), float(res[0])
        if r <= tol * _scale(np.array([t]), norm)[0]:
            return True  # converged: decide on it
        # clearly not beyond: the deflated extreme Ritz value and its error bar sit inside the k-th
        return r <= 0.05 * max(abs(t), 1e-30) and not beyond(t + (r if which == "largest" else -r))

    v0 = D.project(_on(H, torch.randn(H.size, generator=g, dtype=torch.float64)))
    if float(v0.norm()) < 1e-12:
        return None
    m = min(max_steps, H.size - len(vals))
    if m < 1:
        return None
    alphas, betas, V = _lanczos(D, m, v0, stop=settled, bar=bar)
    theta, S, sel, _ = _ritz(alphas, betas, 1, which)
    t = float(theta[sel[0]])
    if not beyond(t):
        return None
    u = (torch.from_numpy(S[:, sel].T.copy()).to(V) @ V)[0]
    u = D.project(u)
    return t, u / u.norm()


def trace(op, data=None, *, num_matvecs: int = 100, method: Literal["hutchinson", "hutch++"] = "hutchinson",
          seed: int = 0, progress=False, **op_kwargs) -> TraceEstimate:  # fmt: skip
    """tr(H) of a curvature operator from ``num_matvecs`` products, with a standard error.

    ``op``: a :class:`CurvatureOperator`, or a model with its ``data`` (``op_kwargs`` as in
    :func:`top_eigenvalues`; there ``n_samples`` is the data subset, never a probe count).
    ``method="hutchinson"``: the mean of zᵀHz over Rademacher probes z (unbiased; stderr the standard
    error of that mean). ``method="hutch++"`` (Meyer et al. 2021): a third of the products find the
    dominant subspace Q of H, whose trace tr(QᵀHQ) is computed exactly, and Hutchinson runs on the
    deflated remainder (I − QQᵀ)H(I − QQᵀ) with the last third; for a spectrum dominated by a few large
    eigenvalues — the usual case for trained networks — its variance is far smaller. Its ``stderr`` is
    that of the remainder's Hutchinson part.

    Example
    -------
    >>> est = lk.hessian.trace(model, task, num_matvecs=30, method="hutch++", n_samples=256)
    >>> est.num_matvecs, bool(est.stderr >= 0)
    (30, True)
    """
    choice("method", method, ("hutchinson", "hutch++"))
    op = _operator(op, data, seed, op_kwargs)
    num_matvecs = integer("num_matvecs", num_matvecs, minimum=2 if method == "hutchinson" else 6)
    g = _probe_generator(seed)

    def rademacher(*shape):
        return _on(op, torch.randint(0, 2, shape, generator=g) * 2 - 1)

    with Progress(progress, num_matvecs, "trace", unit="HVP") as bar:

        def mv(v):
            out = op.matvec(v)
            if bar is not None:
                bar.update()
            return out

        if method == "hutchinson":
            vals = []
            for _ in range(num_matvecs):
                z = rademacher(op.size)
                vals.append(float(z @ mv(z)))
            vals = np.array(vals)
            est = TraceEstimate(float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(num_matvecs)),
                                num_matvecs, vals)  # fmt: skip
            return with_params(est, method=method, seed=seed, operator=type(op).__name__)
        third = num_matvecs // 3
        S = rademacher(third, op.size)
        Q, _ = torch.linalg.qr(torch.stack([mv(s) for s in S]).T)  # (P, third)
        exact = float(sum(q @ mv(q) for q in Q.T))
        vals = []
        for _ in range(third):
            z = rademacher(op.size)
            z = z - Q @ (Q.T @ z)
            vals.append(float(z @ mv(z)))
    vals = np.array(vals) + exact
    est = TraceEstimate(
        float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(third)), 3 * third, vals
    )
    return with_params(est, method=method, seed=seed, operator=type(op).__name__)


def per_layer(model, data, *, k: int = 1, tol: float = 1e-3, seed: int = 0, trace_matvecs: int = 0,
              progress=False, **op_kwargs) -> dict:  # fmt: skip
    """The Hessian's diagonal blocks, one per module that owns parameters (a layer): for each, the top
    ``k`` eigenvalues (:func:`top_eigenvalues` on ``HessianOperator(params=<the layer's>)``) and, when
    ``trace_matvecs`` > 0, the block's trace. Returns ``{layer: {"eigen": HessianEigen, "trace": ...}}``.

    Example
    -------
    >>> blocks = lk.hessian.per_layer(model, task, k=1, n_samples=128)
    >>> sorted(blocks)
    ['fc1', 'fc2']
    """
    out = {}
    k = integer("k", k, minimum=1)
    trace_matvecs = integer("trace_matvecs", trace_matvecs, minimum=0)
    if trace_matvecs == 1:
        raise InvalidArgument("trace_matvecs must be 0 (no trace) or >= 2, got 1")
    layers = [(name, mod) for name, mod in model.named_modules()
              if next(mod.parameters(recurse=False), None) is not None]  # fmt: skip
    with Progress(progress, len(layers), "layers", unit="layer") as bar:
        for name, mod in layers:
            own = [f"{name}.{pn}" if name else pn for pn, _ in mod.named_parameters(recurse=False)]
            op = HessianOperator(model, data, params=own, seed=seed, **op_kwargs)
            entry = {"eigen": top_eigenvalues(op, k=min(k, op.size), tol=tol, seed=seed)}
            if trace_matvecs:
                entry["trace"] = trace(op, num_matvecs=trace_matvecs, seed=seed)
            out[name] = entry
            if bar is not None:
                bar.update()
    return out


def density(op, data=None, *, n_runs: int = 3, steps: int = 80, seed: int = 0,
            grid_points: int = 1000, sigma: float | None = None, progress=False,
            **op_kwargs) -> HessianDensity:  # fmt: skip
    """Spectral density of a curvature operator by stochastic Lanczos quadrature (Ghorbani et al.
    2019): ``n_runs`` Lanczos runs of ``steps`` steps from random unit vectors; each gives Ritz nodes
    θ_j with weights τ_j (squared first components, summing to 1), smoothed by Gaussians of width
    ``sigma`` (default: 1/200 of the spectrum's span). ``op`` and ``op_kwargs`` as in
    :func:`top_eigenvalues`.

    Example
    -------
    >>> import numpy as np
    >>> d = lk.hessian.density(lk.hessian.MatrixOperator(np.diag([1.0, 2.0, 3.0])), steps=3)
    >>> np.round(np.sort(d.nodes[0]), 6), round(float(d.weights[0].sum()), 6)
    (array([1., 2., 3.]), 1.0)
    """
    op = _operator(op, data, seed, op_kwargs)
    n_runs = integer("n_runs", n_runs, minimum=1)
    steps = integer("steps", steps, minimum=1)
    grid_points = integer("grid_points", grid_points, minimum=2)
    if sigma is not None:
        sigma = number("sigma", sigma, minimum=0, strict=True)
    g = _probe_generator(seed)
    nodes, weights = [], []
    m = min(steps, op.size)
    with Progress(progress, n_runs * m, "SLQ", unit="HVP") as bar:
        for _ in range(n_runs):
            v0 = _on(op, torch.randn(op.size, generator=g, dtype=torch.float64))
            alphas, betas, _ = _lanczos(op, m, v0, bar=bar)
            T = np.diag(alphas) + np.diag(betas[:-1], 1) + np.diag(betas[:-1], -1)
            theta, S = np.linalg.eigh(T)
            nodes.append(theta)
            weights.append(S[0] ** 2)
    allnodes = np.concatenate(nodes)
    lo, hi = allnodes.min(), allnodes.max()
    span = max(hi - lo, 1e-12)
    sigma = sigma or span / 200
    grid = np.linspace(lo - 5 * sigma - 0.02 * span, hi + 5 * sigma + 0.02 * span, grid_points)
    dens = np.zeros_like(grid)
    for th, w in zip(nodes, weights):
        dens += (w[:, None] * np.exp(-((grid[None] - th[:, None]) ** 2) / (2 * sigma**2))).sum(0)
    dens /= n_runs * sigma * np.sqrt(2 * np.pi)
    width = max(len(n) for n in nodes)
    pad = lambda a: np.pad(a, (0, width - len(a)), constant_values=np.nan)  # noqa: E731
    out = HessianDensity(grid, dens, np.stack([pad(n) for n in nodes]),
                         np.stack([pad(w) for w in weights]), float(sigma))  # fmt: skip
    return with_params(out, n_runs=n_runs, steps=steps, seed=seed, operator=type(op).__name__)
