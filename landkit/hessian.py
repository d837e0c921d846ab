"""The Hessian of the training loss as a matrix-free operator: top eigenvalues (Lanczos), trace
(Hutchinson), spectral density (stochastic Lanczos quadrature).

Hessian-vector products are forward-over-reverse with ``torch.func`` (``jvp`` of ``grad``): one HVP costs
about two gradient evaluations and never forms the P × P matrix.

Example
-------
>>> import landkit as lk                                              # doctest: +SKIP
>>> top = lk.hessian.top_eigenvalues(model, task, k=3, tol=1e-3, seed=0)
>>> top.eigenvalues, top.residuals, top.iterations
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

__all__ = [
    "HessianDensity",
    "HessianEigen",
    "HessianOperator",
    "TraceEstimate",
    "density",
    "per_layer",
    "top_eigenvalues",
    "trace",
]


@dataclasses.dataclass(frozen=True)
class HessianEigen:
    """Extreme Hessian eigenpairs from Lanczos.

    ``eigenvalues`` sorted (largest first for ``which="largest"``), ``eigenvectors`` as rows (k, P),
    ``residuals`` ‖Hv − λv‖ for each pair, ``iterations`` the number of Hessian-vector products,
    ``converged`` whether every residual is below ``tol · max(|λ|, tiny)``.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    residuals: np.ndarray
    iterations: int
    converged: bool
    which: str


@dataclasses.dataclass(frozen=True)
class TraceEstimate:
    """Estimate of tr(H) with its standard error; ``n_samples`` Hessian-vector products were used and
    ``samples`` are the per-probe values whose mean is ``estimate``."""

    estimate: float
    stderr: float
    n_samples: int
    samples: np.ndarray


@dataclasses.dataclass(frozen=True)
class HessianDensity:
    """Spectral density from stochastic Lanczos quadrature: ``density`` on ``grid`` (integrates to ≈ 1),
    and the quadrature ``nodes``/``weights`` of each run (weights of a run sum to 1)."""

    grid: np.ndarray
    density: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    sigma: float


class HessianOperator:
    """H = ∇²L(θ) of ``model`` on the data as a matrix-free operator on flat parameter vectors.

    ``params`` selects parameters by name/glob (the Hessian block of those, others held fixed);
    ``dtype=torch.float64`` evaluates in double precision (on a copy of the parameters);
    ``n_samples`` uses a fixed random subset of the data; the model is evaluated in eval mode.

    ``mode`` picks how a product Hv is computed:

    - ``"jvp"``: forward-over-reverse, ``torch.func.jvp`` of ``torch.func.grad`` — nothing kept between
      products (each costs a forward and a backward with tangents); used per batch when ``batch_size``
      splits the data;
    - ``"linearize"``: the same, linearised once at θ (``torch.func.linearize``): each product is one
      tangent pass, after a one-off trace (≈ 0.4 s here);
    - ``"reverse"``: reverse-over-reverse, the gradient's graph built once (``create_graph=True``) and
      differentiated again per product — as fast per product as ``linearize`` with no trace;
    - ``"auto"`` (default): ``"reverse"`` on unbatched data, ``"jvp"`` per batch otherwise.

    All modes agree to rounding (tested against the dense Hessian).
    """

    def __init__(
        self,
        model,
        task,
        *,
        loss_fn=None,
        params=None,
        dtype=None,
        n_samples=None,
        seed=0,
        batch_size=None,
        mode="auto",
    ):
        from .store import select_names

        self.model = model
        named = dict(model.named_parameters())
        self.names = select_names(list(named), params)
        device = next(model.parameters()).device
        self.dtype = dtype or next(model.parameters()).dtype
        self.theta = torch.cat([named[n].detach().reshape(-1) for n in self.names]).to(self.dtype)
        self.shapes = [named[n].shape for n in self.names]
        self.fixed = {n: p.detach().to(self.dtype) for n, p in named.items() if n not in self.names}
        self.buffers = {
            n: b.to(self.dtype) if b.is_floating_point() else b for n, b in model.named_buffers()
        }
        from .data import resolve

        data = resolve(task, loss_fn, n_samples=n_samples, seed=seed)
        x, y = data.tensors()
        self.loss_fn, self.objective = data.loss_fn, data.objective
        self.x = x.to(device, self.dtype if x.is_floating_point() else x.dtype)
        self.y = y.to(device, self.dtype if y.is_floating_point() else y.dtype)
        if self.objective is not None and batch_size is not None and batch_size < len(self.x):
            raise ValueError(
                "this task's objective is evaluated on all its data at once: no batch_size"
            )
        self.batch_size = batch_size or len(self.x)
        self.dim = self.theta.numel()
        self.n_matvecs = 0
        if mode not in ("auto", "jvp", "linearize", "reverse"):
            raise ValueError(f"mode must be 'auto', 'jvp', 'linearize' or 'reverse', got {mode!r}")
        if mode == "auto":
            mode = "reverse" if self.batch_size >= len(self.x) else "jvp"
        if mode != "jvp" and self.batch_size < len(self.x):
            raise ValueError(
                f"mode={mode!r} keeps the whole data's graph: it needs batch_size=None"
            )
        self.mode, self._product = mode, None

    def _unflatten(self, flat):
        out, i = {}, 0
        for n, shape in zip(self.names, self.shapes):
            k = int(np.prod(shape)) if len(shape) else 1
            out[n] = flat[i : i + k].view(shape)
            i += k
        return out

    def loss(self, flat=None, x=None, y=None):
        from torch.func import functional_call

        flat = self.theta if flat is None else flat
        x = self.x if x is None else x
        y = self.y if y is None else y
        was = self.model.training
        self.model.eval()
        params = ({**self._unflatten(flat), **self.fixed}, self.buffers)
        try:
            if self.objective is not None:
                return self.objective(lambda inp: functional_call(self.model, params, (inp,)), x, y)
            out = functional_call(self.model, params, (x,))
        finally:
            self.model.train(was)
        return self.loss_fn(out, y)

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """H v for a flat vector ``v`` (the mean loss over the data; see ``mode``)."""
        from torch.func import grad, jvp

        v = v.to(self.theta.dtype)
        self.n_matvecs += 1
        if self.mode != "jvp":
            if self._product is None:
                self._product = self._prepare()
            return self._product(v)
        total = torch.zeros_like(self.theta)
        n = len(self.x)
        for i in range(0, n, self.batch_size):
            xb, yb = self.x[i : i + self.batch_size], self.y[i : i + self.batch_size]
            g = grad(lambda th, xb=xb, yb=yb: self.loss(th, xb, yb))
            _, hv = jvp(g, (self.theta,), (v,))
            total += hv * (len(xb) / n)
        return total

    def _prepare(self):
        if self.mode == "linearize":
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
        return torch.autograd.functional.hessian(lambda th: self.loss(th), self.theta)


def _lanczos(op: HessianOperator, m: int, v0: torch.Tensor, stop=None):
    """Up to m Lanczos steps with full reorthogonalisation; returns (alphas, betas, V (steps × P)).
    ``stop(alphas, betas)``, called after every step, ends the run early when it returns True."""
    V = torch.zeros(m, op.dim, dtype=op.theta.dtype, device=op.theta.device)
    alphas, betas = [], []
    v = v0 / v0.norm()
    beta = 0.0
    for j in range(m):
        V[j] = v
        w = op.matvec(v)
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


def top_eigenvalues(model, task, k: int = 5, tol: float = 1e-3, seed: int = 0, *, which: str = "largest",
                    max_iter: int | None = None, residual_tol: float | None = None, verify: bool = False,
                    op: HessianOperator | None = None, **op_kwargs) -> HessianEigen:  # fmt: skip
    """The ``k`` largest (``which="largest"``, algebraic) or most negative (``which="smallest"``) Hessian
    eigenvalues by Lanczos with full reorthogonalisation, one Hessian-vector product (HVP) per step.

    After every step the Ritz pairs (θ, v) of the tridiagonal matrix are checked; the run stops when
    each selected θ is accurate to ``tol`` relative, judged by the a-posteriori bound
    min(r, r²/gap) ≤ tol·|θ|, where r = ‖Hv − θv‖ = |β_m s_m| (the Lanczos residual) and gap the
    distance to the nearest other Ritz value (Kato–Temple); with ``residual_tol`` the vectors must
    also satisfy r ≤ residual_tol·|θ|. ``verify=True`` recomputes every residual with one extra HVP
    per pair (``residuals`` are otherwise the Lanczos values, equal to the true ones up to rounding).
    ``op_kwargs`` go to :class:`HessianOperator` (``params=``, ``dtype=``, ``n_samples=``, ``loss_fn=``,
    ``batch_size=``).

    Example
    -------
    >>> top = lk.hessian.top_eigenvalues(model, task, k=2, tol=1e-3, seed=0)   # doctest: +SKIP
    >>> top.eigenvalues, top.iterations        # λ₁ ≥ λ₂ and the number of HVPs used
    """
    if which not in ("largest", "smallest"):
        raise ValueError(f"which must be 'largest' or 'smallest', got {which!r}")
    op = op or HessianOperator(model, task, seed=seed, **op_kwargs)
    if not 1 <= k <= op.dim:
        raise ValueError(f"k must be in [1, {op.dim}] (the number of parameters), got {k}")
    start = op.n_matvecs
    max_iter = min(op.dim, max_iter or max(10 * k, 100))
    g = torch.Generator().manual_seed(seed)
    v0 = torch.randn(op.dim, generator=g, dtype=op.theta.dtype).to(op.theta.device)

    def ritz(alphas, betas):
        T = np.diag(alphas) + np.diag(betas[:-1], 1) + np.diag(betas[:-1], -1)
        theta, S = np.linalg.eigh(T)
        order = np.argsort(-theta) if which == "largest" else np.argsort(theta)
        sel = order[: min(k, len(alphas))]
        return theta, S, sel, np.abs(betas[-1] * S[-1, sel])

    def converged(alphas, betas):
        m = len(alphas)
        if m < min(k + 2, op.dim):
            return False
        theta, _, sel, res = ritz(alphas, betas)
        scale = np.maximum(np.abs(theta[sel]), 1e-12)
        gap = np.array([np.min(np.abs(np.delete(theta, i) - theta[i])) if m > 1 else np.inf
                        for i in sel])  # fmt: skip
        bound = np.minimum(res, res**2 / np.maximum(gap, 1e-300))
        ok = bool(np.all(bound <= tol * scale))
        return ok and (residual_tol is None or bool(np.all(res <= residual_tol * scale)))

    alphas, betas, V = _lanczos(op, max_iter, v0, stop=converged)
    m = len(alphas)
    theta, S, sel, res = ritz(alphas, betas)
    invariant = betas[-1] < 1e-12 * max(1.0, abs(alphas[-1]))
    done = invariant or converged(list(alphas), list(betas))
    vecs = (torch.from_numpy(S[:, sel].T.copy()).to(V) @ V[:m]).detach()
    iterations = op.n_matvecs - start
    if verify:
        res = np.array(
            [float((op.matvec(u) - float(t) * u).norm()) for u, t in zip(vecs, theta[sel])]
        )
    return HessianEigen(theta[sel], vecs.cpu().numpy(), res, iterations, done, which)


def trace(model, task, n_samples: int = 100, seed: int = 0, *, method: str = "hutchinson",
          op: HessianOperator | None = None, **op_kwargs) -> TraceEstimate:  # fmt: skip
    """tr(H) from ``n_samples`` Hessian-vector products, with a standard error.

    ``method="hutchinson"``: the mean of zᵀHz over Rademacher probes z (unbiased; stderr the standard
    error of that mean). ``method="hutch++"`` (Meyer et al. 2021): a third of the products find the
    dominant subspace Q of H, whose trace tr(QᵀHQ) is computed exactly, and Hutchinson runs on the
    deflated remainder (I − QQᵀ)H(I − QQᵀ) with the last third; for a spectrum dominated by a few large
    eigenvalues — the usual case for trained networks — its variance is far smaller. Its ``stderr`` is
    that of the remainder's Hutchinson part.

    Example
    -------
    >>> est = lk.hessian.trace(model, task, n_samples=99, method="hutch++")   # doctest: +SKIP
    >>> est.estimate, est.stderr
    """
    if method not in ("hutchinson", "hutch++"):
        raise ValueError(f"method must be 'hutchinson' or 'hutch++', got {method!r}")
    op = op or HessianOperator(model, task, seed=seed, **op_kwargs)
    g = torch.Generator().manual_seed(seed)

    def rademacher(*shape):
        return (torch.randint(0, 2, shape, generator=g) * 2 - 1).to(op.theta.dtype)

    if method == "hutchinson":
        if n_samples < 2:
            raise ValueError(f"n_samples must be >= 2 to report a standard error, got {n_samples}")
        vals = []
        for _ in range(n_samples):
            z = rademacher(op.dim)
            vals.append(float(z @ op.matvec(z)))
        vals = np.array(vals)
        return TraceEstimate(
            float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(n_samples)), n_samples, vals
        )
    third = n_samples // 3
    if third < 2:
        raise ValueError(f"hutch++ needs n_samples >= 6 (three groups of >= 2), got {n_samples}")
    S = rademacher(third, op.dim)
    Q, _ = torch.linalg.qr(torch.stack([op.matvec(s) for s in S]).T)  # (P, third)
    exact = float(sum(q @ op.matvec(q) for q in Q.T))
    vals = []
    for _ in range(third):
        z = rademacher(op.dim)
        z = z - Q @ (Q.T @ z)
        vals.append(float(z @ op.matvec(z)))
    vals = np.array(vals) + exact
    return TraceEstimate(
        float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(third)), 3 * third, vals
    )


def per_layer(model, task, k: int = 1, tol: float = 1e-3, seed: int = 0, *, trace_samples: int = 0,
              **op_kwargs) -> dict:  # fmt: skip
    """The Hessian's diagonal blocks, one per module that owns parameters (a layer): for each, the top
    ``k`` eigenvalues (:func:`top_eigenvalues` with ``params="<layer>.*"``) and, when
    ``trace_samples`` > 0, the block's trace. Returns ``{layer: {"eigen": HessianEigen, "trace": ...}}``.

    Example
    -------
    >>> blocks = lk.hessian.per_layer(model, task, k=1)                         # doctest: +SKIP
    >>> {name: b["eigen"].eigenvalues[0] for name, b in blocks.items()}
    """
    out = {}
    for name, mod in model.named_modules():
        if next(mod.parameters(recurse=False), None) is None:
            continue
        own = [f"{name}.{pn}" if name else pn for pn, _ in mod.named_parameters(recurse=False)]
        op = HessianOperator(model, task, params=own, seed=seed, **op_kwargs)
        kk = min(k, op.dim)
        entry = {"eigen": top_eigenvalues(model, task, k=kk, tol=tol, seed=seed, op=op)}
        if trace_samples:
            entry["trace"] = trace(model, task, n_samples=trace_samples, seed=seed, op=op)
        out[name] = entry
    return out


def density(model, task, n_runs: int = 3, steps: int = 80, seed: int = 0, *, grid_points: int = 1000,
            sigma: float | None = None, op: HessianOperator | None = None, **op_kwargs) -> HessianDensity:  # fmt: skip
    """Hessian spectral density by stochastic Lanczos quadrature (Ghorbani et al. 2019): ``n_runs``
    Lanczos runs of ``steps`` steps from random unit vectors; each gives Ritz nodes θ_j with weights
    τ_j (squared first components, summing to 1), smoothed by Gaussians of width ``sigma``."""
    op = op or HessianOperator(model, task, seed=seed, **op_kwargs)
    g = torch.Generator().manual_seed(seed)
    nodes, weights = [], []
    for _ in range(n_runs):
        v0 = torch.randn(op.dim, generator=g, dtype=op.theta.dtype)
        alphas, betas, _ = _lanczos(op, min(steps, op.dim), v0)
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
    return HessianDensity(
        grid,
        dens,
        np.stack([pad(n) for n in nodes]),
        np.stack([pad(w) for w in weights]),
        float(sigma),
    )
