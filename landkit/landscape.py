"""Loss-landscape slices: lines between models and planes around a model (Li et al. 2018).

A model is a pure function of its parameters (``torch.func.functional_call``), so a grid of parameter
points is evaluated without touching the model; losses stay on the device until the end (no ``.item()``
per point). Models are evaluated in eval mode (batch norm uses its running statistics).

Example
-------
>>> surf = lk.landscape.plane(model, task, directions="filter", span=1.0, resolution=21, seed=0,
...                           progress=False)
>>> surf.alpha.shape, surf.loss.shape
((21,), (21, 21))
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from . import _fold
from .data import resolve
from .errors import InvalidArgument, InvalidType
from .layout import ParamLayout, flat_parameters
from .linalg import displacement_gram, project_displacements
from .progress import Progress
from .results import Result, with_params
from .validate import choice, integer, memory, number

__all__ = [
    "Line",
    "Profile",
    "SliceTopology",
    "Surface",
    "directions",
    "ensemble_plane",
    "format_row",
    "line",
    "plane",
    "profile",
    "slice_topology",
]


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Surface(Result):
    """A 2-D slice: ``loss[i, j]`` at ``center + alpha[i]·d1 + beta[j]·d2`` (``accuracy`` likewise for
    classification); ``path`` is a trajectory projected on the plane (PCA directions) or None."""

    _headline = ("method", "span", "data")

    alpha: np.ndarray
    beta: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray | None
    directions: np.ndarray
    center: np.ndarray
    method: str
    path: np.ndarray | None = None
    path_steps: np.ndarray | None = None
    span: float = 1.0
    data: str = ""
    info: dict = dataclasses.field(default_factory=dict)

    def _headline_items(self):
        items = super()._headline_items()
        sub = self.info.get("subset")  # a plane on a subset says what it measured
        if sub and sub.get("max_abs_error") is not None:
            items.append(("subset_error", f"{sub['max_abs_error']:.2g} (max of {sub['checked_points']} "
                                          f"checks on all {sub['of']})"))  # fmt: skip
        return items

    def to_npz(self, path) -> Path:
        """Save as a NumPy ``.npz`` (no pickle); :meth:`from_npz` reads it back."""
        path = Path(path)
        arrays = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                  if isinstance(getattr(self, f.name), np.ndarray)}  # fmt: skip
        np.savez(path, method=np.array(self.method), span=np.array(self.span), data=np.array(self.data),
                 **arrays)  # fmt: skip
        return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")

    @classmethod
    def from_npz(cls, path) -> Surface:
        with np.load(path, allow_pickle=False) as f:
            kw = {k: f[k] for k in f.files}
        return cls(alpha=kw["alpha"], beta=kw["beta"], loss=kw["loss"], accuracy=kw.get("accuracy"),
                   directions=kw["directions"], center=kw["center"], method=str(kw["method"] if "method" in kw else kw["kind"]),
                   path=kw.get("path"), path_steps=kw.get("path_steps"), span=float(kw["span"]),
                   data=str(kw["data"]))  # fmt: skip


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Line(Result):
    """Losses along ``(1 − t)·a + t·b``."""

    _headline = ("barrier",)

    t: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray | None

    @property
    def barrier(self) -> float:
        """max over t in [0, 1] of L(t) − ((1 − t)·L(0) + t·L(1)): > 0 a barrier between the models."""
        inside = (self.t >= 0) & (self.t <= 1)
        t, loss = self.t[inside], self.loss[inside]
        l0, l1 = np.interp([0.0, 1.0], self.t, self.loss)
        return float(np.max(loss - ((1 - t) * l0 + t * l1)))


_LINEAR_IN_PARAMS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Embedding)


class _Injected(nn.Module):
    """Stands in for the first layer: its output at grid coordinates c is Z₀ + Σ_k c_k Z_k."""

    def __init__(self):
        super().__init__()
        self.Z = self.c = None

    def forward(self, *args, **kwargs):
        c = self.c
        if isinstance(c, (tuple, list)):  # host floats (loop): fused adds
            out = self.Z[0]
            for ck, zk in zip(c, self.Z[1:]):
                out = torch.add(out, zk, alpha=ck)
            return out
        # one small GEMM: (k,) @ (k, N·h), batched over points under vmap
        return (self.Z[0].reshape(-1) + c @ self.Z[1:].reshape(len(c), -1)).view(self.Z.shape[1:])


def _probe(model, x):
    """One forward pass on ``x``: the first parameterised module (if it sees the input itself and is
    linear in its parameters) and the activation elements per sample."""
    calls, acts, handles = [], [0], []
    for name, m in model.named_modules():
        if next(m.parameters(recurse=False), None) is not None:
            hook = lambda mod, args, name=name: calls.append((name, bool(args) and args[0] is x))  # noqa: E731
            handles.append(m.register_forward_pre_hook(hook))
        if not list(m.children()):

            def count(mod, args, out):
                if torch.is_tensor(out):
                    acts[0] += out.numel()

            handles.append(m.register_forward_hook(count))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    first = None
    if calls and calls[0][1] and sum(c[0] == calls[0][0] for c in calls) == 1:
        mod = model.get_submodule(calls[0][0])
        linear = isinstance(mod, _LINEAR_IN_PARAMS)
        if isinstance(mod, nn.Embedding) and mod.max_norm is not None:
            linear = False
        first = calls[0][0] if linear else None
    return first, max(acts[0], 1) / max(len(x), 1)


def _shared_elsewhere(model, module_name: str) -> bool:
    """Whether a parameter of ``module_name`` is also used by another module (tied weights)."""
    owners: dict[int, set] = {}
    for n, p in model.named_parameters(remove_duplicate=False):
        owners.setdefault(id(p), set()).add(n.rsplit(".", 1)[0] if "." in n else "")
    mod = model.get_submodule(module_name)
    return any(len(owners.get(id(p), ())) > 1 for p in mod.parameters(recurse=False))


_MIN_FAN_IN = 8  # the first-layer shortcut needs a fan-in of at least this × (directions + 1)


def _fan_in(mod) -> int:
    """Multiply-adds per output element of a layer that is linear in its parameters."""
    if isinstance(mod, nn.Linear):
        return mod.in_features
    if isinstance(mod, nn.modules.conv._ConvNd):
        return mod.in_channels // mod.groups * int(np.prod(mod.kernel_size))
    return 1  # an embedding is a lookup


_INPLACE_ACTIVATIONS = {
    nn.ReLU: lambda h: h.clamp_min_(0),
    nn.Tanh: torch.Tensor.tanh_,
    nn.Sigmoid: torch.Tensor.sigmoid_,
    nn.Identity: lambda h: h,
    nn.Dropout: lambda h: h,  # eval mode
    nn.GELU: lambda h: torch.nn.functional.gelu(h),
}


def _batched_loss(loss_fn, out, y, classify):
    """Per-point mean loss and accuracy of the transposed outputs ``out`` (C, K, N) against ``y`` (N,
    ...). Cross-entropy and MSE are fused, reducing over K as the outer axis (PyTorch's log_softmax and
    argmax over a short last axis are slow on CPUs); any other loss is vmapped over the points."""
    C = len(out)
    if loss_fn is torch.nn.functional.cross_entropy and y.dim() == 1 and not y.is_floating_point():
        mx = out.amax(1)  # (C, N)
        lse = (out - mx.unsqueeze(1)).exp_().sum(1).log_().add_(mx)
        picked = out.gather(1, y.view(1, 1, -1).expand(C, 1, -1)).squeeze(1)
        return (lse - picked).mean(-1), (picked >= mx).to(out.dtype).mean(-1)
    if loss_fn is torch.nn.functional.mse_loss and y.dim() == 2 and y.shape[1] == out.shape[1]:
        return (out - y.T).square_().flatten(1).mean(-1), out.new_zeros(C)
    outs = out.transpose(1, 2)
    loss = vmap(lambda o: loss_fn(o, y))(outs)
    acc = (outs.argmax(-1) == y).to(out.dtype).mean(-1) if classify else out.new_zeros(C)
    return loss, acc


class _MLPPlan:
    """A Sequential of Linear layers and elementwise activations, evaluated for C points at once with
    batched GEMMs (``baddbmm``), in-place activations and a fused loss: no per-point Python, no vmap."""

    def __init__(self, work, names):
        self.steps = []
        for child_name, mod in work.named_children():
            if isinstance(mod, nn.Linear):
                w, b = f"{child_name}.weight", f"{child_name}.bias"
                self.steps.append(("linear", names.index(w), names.index(b) if mod.bias is not None
                                   else None, mod.weight.shape))  # fmt: skip
            elif isinstance(mod, _Injected):
                self.steps.append(("injected", mod))
            elif isinstance(mod, nn.Flatten) and not self.steps and mod.start_dim == 1:
                self.steps.append(("flatten",))
            else:
                self.steps.append(("act", _INPLACE_ACTIVATIONS[type(mod)]))

        linear = [i for i, st in enumerate(self.steps) if st[0] == "linear"]
        tail = self.steps[linear[-1] + 1 :] if linear else [None]
        identity = (_INPLACE_ACTIVATIONS[nn.Identity], _INPLACE_ACTIVATIONS[nn.Dropout])
        self.last = linear[-1] if all(st[0] == "act" and st[1] in identity for st in tail) else -1

    @staticmethod
    def applies(work, names) -> bool:
        if type(work) is not nn.Sequential:
            return False
        for mod in work.children():
            if isinstance(mod, (nn.Linear, _Injected, nn.Flatten)):
                continue
            if type(mod) not in _INPLACE_ACTIVATIONS:
                return False
        return set(names) == {n for n, _ in work.named_parameters()}

    def __call__(self, params, c, xb, yb, Z, loss_fn, classify):
        """params: list of (C, *shape) tensors; c: (C, k); ``Z`` the first layer's outputs (k + 1, N, h)
        for the centre and each direction. Hidden activations are (C, N, features); the last layer is
        computed transposed, (C, K, N), so that the loss reduces over K as an outer axis.
        Returns per-point loss and accuracy."""
        C = len(c)
        c1 = torch.cat([torch.ones(C, 1, dtype=c.dtype, device=c.device), c], 1)
        h, transposed = None, False
        for i, step in enumerate(self.steps):
            kind = step[0]
            if kind == "injected":
                # [1, c] @ [Z0; Z1; ...]: one GEMM, no copy of Z0 for a bias
                h = (c1 @ Z.reshape(len(Z), -1)).view(C, *Z.shape[1:])
            elif kind == "flatten":
                h = xb.flatten(1).expand(C, -1, -1)
            elif kind == "linear":
                _, wi, bi, _ = step
                if h is None:
                    h = xb.expand(C, -1, -1)
                W, b = params[wi], (params[bi] if bi is not None else None)
                if i == self.last:  # logits transposed: (C, K, N)
                    if C == 1:
                        out = (
                            W[0] @ h[0].T if b is None else torch.addmm(b[0, :, None], W[0], h[0].T)
                        )
                        h = out.unsqueeze(0)
                    else:
                        hT = h.transpose(1, 2)
                        h = torch.bmm(W, hT) if b is None else torch.baddbmm(b.unsqueeze(-1), W, hT)
                    transposed = True
                elif C == 1:  # a plain GEMM: BLAS reads the transposed weight without a copy
                    out = h[0] @ W[0].T if b is None else torch.addmm(b[0], h[0], W[0].T)
                    h = out.unsqueeze(0)
                else:
                    hT = W.transpose(1, 2)
                    h = torch.bmm(h, hT) if b is None else torch.baddbmm(b.unsqueeze(1), h, hT)
            else:
                h = step[1](h)
        return _batched_loss(loss_fn, h if transposed else h.transpose(1, 2), yb, classify)


class _GridEvaluator:
    """Loss (and accuracy) of ``model`` at the parameter points ``center + c @ dirs`` for rows c of a
    coordinate array, as fast as the device allows (see :func:`plane`)."""

    def __init__(self, model, data, center, dirs, *, max_memory, strategy="auto", buffer_line=None,
                 recompute_stats=False):  # fmt: skip
        choice("backend", strategy, ("auto", *BACKENDS))
        # normalisation layers whose running statistics are re-estimated at every point
        self.norms = [(n, m) for n, m in model.named_modules()
                      if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats
                      ] if recompute_stats else []  # fmt: skip
        if self.norms:
            if strategy not in ("auto", "loop"):
                raise InvalidArgument(
                    f"norm_stats='recompute' evaluates one point at a time: backend={strategy!r} "
                    "cannot be used with it (leave backend='auto')"
                )
            strategy = "loop"
        self.data, self.strategy = data, strategy
        # (buffers at t = 0, their change to t = 1): normalisation statistics along a line
        self.buffer_line = buffer_line
        self._stats = None
        self.device, self.dtype = center.device, center.dtype
        named = list(model.named_parameters())
        x0, _ = next(data.batches(self.device, 64))
        was = model.training
        model.eval()
        try:
            first, act_per_sample = _probe(model, x0)
        finally:
            model.train(was)
        if data.objective is not None:
            first = (
                None  # the objective differentiates the model in its inputs: no precomputed layer
            )
        if first is not None and _shared_elsewhere(model, first):
            first = None  # tied weights (an output layer sharing the embedding): no shortcut
        if self.norms:
            first = None  # the statistics pass runs the whole model in training mode
        if first is not None and _fan_in(model.get_submodule(first)) < _MIN_FAN_IN * (
            len(dirs) + 1
        ):
            # a thin layer (a 3×3 convolution of one channel, an embedding): computing it costs less
            # than streaming k + 1 precomputed outputs of its size through memory at every point
            first = None
        self.first = first
        # keep only the parameters that the evaluated module still owns
        keep, self.names, self.shapes, first_params, i = [], [], [], {}, 0
        for n, p in named:
            owner = n.rsplit(".", 1)[0] if "." in n else ""
            sl = slice(i, i + p.numel())
            if first is not None and owner == first:
                first_params[n.rsplit(".", 1)[-1]] = sl
            else:
                keep.append(sl)
                self.names.append(n)
                self.shapes.append(p.shape)
            i += p.numel()
        self.sizes = [int(np.prod(s)) if len(s) else 1 for s in self.shapes]
        idx = torch.cat([torch.arange(s.start, s.stop) for s in keep]) if keep else None
        self.center = center[idx] if idx is not None else center[:0]
        self.dirs = dirs[:, idx] if idx is not None else dirs[:, :0]
        if first is not None:
            self.work = copy.deepcopy(model).eval()
            parent, _, child = first.rpartition(".")
            self.layer = copy.deepcopy(model.get_submodule(first)).eval()
            self.injected = _Injected()
            setattr(self.work.get_submodule(parent) if parent else self.work, child, self.injected)
            self.layer_params = [{k: center[s].view(getattr(self.layer, k).shape)
                                  for k, s in first_params.items()}]  # fmt: skip
            for d in dirs:
                self.layer_params.append(
                    {k: d[s].view(getattr(self.layer, k).shape) for k, s in first_params.items()}
                )
        else:
            self.work = model
        self._owns_work = first is not None
        self._bound = self._forward = None
        self.fused = {"batchnorm": 0, "relu": 0}  # folded into / run inside a convolution (loop)
        itemsize = torch.finfo(self.dtype).bits // 8
        self.sample_bytes = 3 * act_per_sample * itemsize  # activations, their temporaries
        self.max_memory = max_memory
        if data.objective is not None:
            self.batch_size = data.n  # an objective is not a mean over samples: one batch
        elif data.loader is None:
            fit = int(max_memory // 2 // max(self.sample_bytes, 1))
            self.batch_size = max(1, min(data.n, fit))
        else:
            self.batch_size = None
        self._cache = None
        mlp = (x0.dim() == 2 and data.objective is None and data.output is None
               and _MLPPlan.applies(self.work, self.names))  # fmt: skip
        self.plan = _MLPPlan(self.work, self.names) if mlp else None
        if strategy == "batched" and self.plan is None:
            raise InvalidArgument(
                "backend='batched' needs an nn.Sequential of Linear layers and elementwise "
                "activations; use 'auto', 'loop' or 'vmap' for this model"
            )

    # -- data and first-layer pre-activations ------------------------------------------------

    @torch.no_grad()
    def _batches(self):
        """(x, y, Z or None) per data batch; tensors' batches are computed once and cached."""
        if self._cache is not None:
            yield from self._cache
            return
        cache = [] if self.data.loader is None else None
        for xb, yb in self.data.batches(self.device, self.batch_size):
            Z = None
            if self.first is not None:
                Z = torch.stack([functional_call(self.layer, p, (xb,)) for p in self.layer_params])
            item = (xb, yb, Z)
            if cache is not None:
                cache.append(item)
            yield item
        self._cache = cache

    def _params(self, flat):
        parts = torch.split(flat, self.sizes)
        return {n: p.view(s) for n, p, s in zip(self.names, parts, self.shapes)}

    @torch.no_grad()
    def _recompute(self, params):
        """Running statistics of every BatchNorm layer re-estimated at these parameters: one pass over
        the evaluation data in training mode, as a cumulative average (momentum None), starting from
        reset statistics — what ``torch.optim.swa_utils.update_bn`` does, on a copy of the buffers."""
        stats = {}
        for n, m in self.norms:
            pre = f"{n}." if n else ""
            stats[pre + "running_mean"] = torch.zeros_like(m.running_mean)
            stats[pre + "running_var"] = torch.ones_like(m.running_var)
            stats[pre + "num_batches_tracked"] = torch.zeros_like(m.num_batches_tracked)
        saved = [(m, m.momentum) for _, m in self.norms]
        was = self.work.training
        try:
            for m, _ in saved:
                m.momentum = None
            self.work.train()
            for xb, _, _ in self._batches():
                functional_call(self.work, {**params, **stats}, (xb,))
        finally:
            for m, mom in saved:
                m.momentum = mom
            self.work.train(was)
        return stats

    def _point(self, flat, c, xb, yb, Z):
        if Z is not None:
            self.injected.Z, self.injected.c = Z, c
        params = self._params(flat)
        if self._stats is not None:
            params = {**params, **self._stats}
        if self.buffer_line is not None:
            t = c[0]
            base, delta = self.buffer_line
            params = {**params, **{n: base[n] + t * delta[n] for n in base}}
        if self.data.objective is not None:
            f = lambda inp: functional_call(self.work, params, (inp,))  # noqa: E731
            return self.data.objective(f, xb, yb), torch.zeros((), dtype=self.dtype)
        out = functional_call(self.work, params, (xb,))
        if self.data.output is not None:
            out = self.data.output(out)
        loss = self.data.loss_fn(out, yb)
        acc = (out.argmax(-1) == yb).float().mean() if self.data.classify else torch.zeros(())
        return loss, acc

    # -- the two strategies ---------------------------------------------------------------------

    def _bind(self):
        """The evaluated model with its parameters made views into one flat buffer: a point is then
        an in-place ``center + Σ c_k d_k`` and a plain forward call, as fast as the model itself runs
        (``functional_call`` costs about 0.1–0.4 ms per call in swapping the parameters). None when
        the plain path does not apply (statistics recomputed, buffers along a line, an objective)."""
        if self.norms or self.buffer_line is not None or self.data.objective is not None:
            return None
        if self._bound is None:
            work = self.work if self._owns_work else copy.deepcopy(self.work).eval()
            named = dict(work.named_parameters())
            if set(named) != set(self.names):
                self._bound = False
                return None
            buf = self.center.clone()
            for n, part in zip(self.names, torch.split(buf, self.sizes)):
                p = named[n]
                p.requires_grad_(False)
                p.data = part.view(p.shape)
            self.work, self._owns_work, self._bound = work, True, buf
            self._forward = self._fused(work)
        return self._bound if self._bound is not False else None

    def _move(self, buf, c):
        """The bound flat buffer to the point ``center + Σ c_k d_k``, in place."""
        torch.add(self.center, self.dirs[0], alpha=c[0], out=buf)
        for ck, dk in zip(c[1:], self.dirs[1:]):
            buf.add_(dk, alpha=ck)

    @torch.no_grad()
    def _fused(self, work):
        """``work`` with each convolution fused with the BatchNorm (folded into its weights) and the
        ReLU after it (eval mode: about a tenth of a ResNet's plane saved on a CPU, measured),
        or ``work`` itself when nothing fuses. The fused model is checked against ``work`` on the first
        batch at the centre (where the flat buffer stands now) and at a second point of the grid's
        plane, so that nothing fixed at the trace goes unseen."""
        if self.plan is not None or not any(isinstance(m, _fold._CONVS) for m in work.modules()):
            return work
        xb, _, Z = next(iter(self._batches()))
        buf, k = self._bound, len(self.dirs)

        def at(c):
            self._move(buf, c)
            if Z is not None:
                self.injected.Z, self.injected.c = Z, c

        was = work.training
        work.eval()
        try:
            at([0.0] * k)
            fused = _fold.fuse(work, xb, leaves=(_Injected,))
            if fused is not None:
                at([0.5 / (i + 1) for i in range(k)])
                try:
                    got = fused(xb)  # first, as in _fold.fuse
                    if not _fold.close(work(xb), got, 1e-4):
                        fused = None
                except Exception:  # the fused kernel refused these inputs: evaluate as it is
                    fused = None
        finally:
            at([0.0] * k)
            work.train(was)
        if fused is None:
            return work
        self.fused = _fold.counts(fused)
        return fused

    @torch.no_grad()
    def _loop_bound(self, coords, buf):
        n = self.data.n
        batches = list(self._batches()) if self.data.loader is None else None
        work, out_fn, loss_fn = self.work, self.data.output, self.data.loss_fn
        forward = self._forward  # work, or work with its convolutions fused (same parameters)
        classify = self.data.classify
        losses, hits = [], []  # per point: Σ_batches loss·|batch| and correct predictions
        was = work.training
        work.eval()
        try:
            for c in coords:
                c = [float(v) for v in c]
                self._move(buf, c)
                lsum = hsum = 0
                for xb, yb, Z in batches if batches is not None else self._batches():
                    if Z is not None:
                        self.injected.Z, self.injected.c = Z, c
                    out = forward(xb)
                    if out_fn is not None:
                        out = out_fn(out)
                    lsum = lsum + loss_fn(out, yb) * len(xb)
                    if classify:
                        hsum = hsum + (out.argmax(-1) == yb).sum()
                losses.append(lsum)
                hits.append(hsum)
        finally:
            work.train(was)
        if not losses:
            empty = torch.zeros(0, device=self.device, dtype=self.dtype)
            return empty, empty.clone()
        loss = torch.stack(losses).to(self.dtype) / n
        acc = (torch.stack(hits).to(self.dtype) / n if classify
               else torch.zeros_like(loss))  # fmt: skip
        return loss, acc

    @torch.no_grad()
    def loop(self, coords):
        """One forward call per point (and data batch); coords a (m, k) float64 array."""
        buf = self._bind() if len(self.dirs) else None
        if buf is not None:
            return self._loop_bound(coords, buf)
        m = len(coords)
        loss = torch.zeros(m, device=self.device, dtype=self.dtype)
        acc = torch.zeros(m, device=self.device, dtype=self.dtype)
        n = self.data.n
        batches = list(self._batches()) if self.data.loader is None else None
        for i, c in enumerate(coords):
            c = [float(v) for v in c]
            flat = self.center
            for ck, dk in zip(c, self.dirs):
                flat = torch.add(flat, dk, alpha=ck)
            self._stats = self._recompute(self._params(flat)) if self.norms else None
            was = self.work.training
            self.work.eval()
            for xb, yb, Z in batches if batches is not None else self._batches():
                lb, ab = self._point(flat, c, xb, yb, Z)
                w = len(xb) / n
                loss[i] += lb * w
                acc[i] += ab * w
            self.work.train(was)
        self._stats = None
        return loss, acc

    @torch.no_grad()
    def vmap(self, coords):
        """Many points per call: ``torch.func.vmap`` over points, in chunks that fit ``max_memory``."""
        m = len(coords)
        c_all = torch.as_tensor(np.asarray(coords), dtype=self.dtype, device=self.device)
        flats = self.center + c_all @ self.dirs
        loss = torch.zeros(m, device=self.device, dtype=self.dtype)
        acc = torch.zeros(m, device=self.device, dtype=self.dtype)
        n = self.data.n
        for xb, yb, Z in self._batches():
            f = vmap(lambda flat, c, xb=xb, yb=yb, Z=Z: self._point(flat, c, xb, yb, Z))
            lb, ab = f(flats, c_all)
            loss += lb * (len(xb) / n)
            acc += ab * (len(xb) / n)
        return loss, acc

    @torch.no_grad()
    def batched(self, coords):
        """An MLP's points in one batched pass per data batch (see :class:`_MLPPlan`)."""
        c_all = torch.as_tensor(np.asarray(coords), dtype=self.dtype, device=self.device)
        m = len(c_all)
        ones = torch.ones(m, 1, dtype=self.dtype, device=self.device)
        flats = torch.cat([ones, c_all], 1) @ torch.cat([self.center[None], self.dirs])
        params = [p.view(m, *s) for p, s in zip(torch.split(flats, self.sizes, 1), self.shapes)]
        loss = torch.zeros(m, device=self.device, dtype=self.dtype)
        acc = torch.zeros(m, device=self.device, dtype=self.dtype)
        n = self.data.n
        for xb, yb, Z in self._batches():
            lb, ab = self.plan(params, c_all, xb, yb, Z, self.data.loss_fn, self.data.classify)
            loss += lb * (len(xb) / n)
            acc += ab * (len(xb) / n)
        return loss, acc

    def chunk(self) -> int:
        """Points per vmap call within ``max_memory``."""
        per_point = self.sample_bytes * (self.batch_size or 256) + 8 * self.center.numel()
        return int(max(1, min(4096, self.max_memory // max(per_point, 1))))


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _grid_key(center, dirs, coords, data) -> str:
    h = hashlib.sha256()
    for t in (center, dirs):
        h.update(t.detach().cpu().numpy().tobytes())
    h.update(np.ascontiguousarray(coords, dtype=np.float64).tobytes())
    h.update(f"{data.name}|{data.n}".encode())
    return h.hexdigest()


def _load_partial(path: Path, key: str, m: int):
    with np.load(path, allow_pickle=False) as f:
        if str(f["key"]) != key:
            raise InvalidArgument(
                f"{path} holds a partial grid of a different model, directions, grid or data set; "
                "delete it or give another resume= path"
            )
        return f["loss"], f["accuracy"], f["done"]


def _save_partial(path: Path, key: str, loss, acc, done):
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, key=np.array(key), loss=loss, accuracy=acc, done=done)
    os.replace(tmp, path)


def _evaluate(ev: _GridEvaluator, coords: np.ndarray, *, progress=True, resume=None,
              resume_every: float = 10.0, desc="landscape"):  # fmt: skip
    """Evaluate every row of ``coords``; returns (loss, accuracy) as numpy arrays and an info dict."""
    t_start = time.perf_counter()
    m = len(coords)
    loss = torch.full((m,), float("nan"), device=ev.device, dtype=ev.dtype)
    acc = torch.full((m,), float("nan"), device=ev.device, dtype=ev.dtype)
    done = np.zeros(m, dtype=bool)
    path = key = None
    if resume is not None:
        path = Path(resume)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        key = _grid_key(ev.center, ev.dirs, coords, ev.data)
        if path.exists():
            l0, a0, done = _load_partial(path, key, m)
            loss = torch.as_tensor(l0, device=ev.device, dtype=ev.dtype)
            acc = torch.as_tensor(a0, device=ev.device, dtype=ev.dtype)
    todo = np.flatnonzero(~done)
    resumed = m - len(todo)

    def store(idx, res):
        i = torch.as_tensor(idx, device=ev.device)
        loss[i], acc[i] = res
        done[idx] = True

    tracker = Progress(progress, m, desc, unit="pt", initial=resumed)
    bar = tracker if (progress is True or callable(progress)) else None
    strategy, pos = ev.strategy, 0
    try:
        if strategy == "auto":
            strategy, pos = _choose(ev, coords, todo, store)
            if bar is not None:
                bar.update(pos)
        backend = BACKENDS[strategy]
        chunk = backend.chunk(ev, len(todo))
        fn = functools.partial(backend.run, ev)
        last_save = time.monotonic()
        while pos < len(todo):
            idx = todo[pos : pos + chunk]
            store(idx, fn(coords[idx]))
            pos += len(idx)
            if bar is not None:
                bar.update(len(idx))
            if path is not None and time.monotonic() - last_save > resume_every:
                _save_partial(path, key, loss.cpu().numpy(), acc.cpu().numpy(), done)
                last_save = time.monotonic()
    finally:
        tracker.close()
        if path is not None and pos:
            _save_partial(path, key, loss.cpu().numpy(), acc.cpu().numpy(), done)
    _sync(ev.device)
    seconds = time.perf_counter() - t_start
    info = {"backend": strategy, "chunk": chunk, "data_batch": ev.batch_size, "first_layer": ev.first,
            "fused": ev.fused, "points": m, "resumed": resumed,
            "seconds": seconds}  # fmt: skip
    return loss.cpu().numpy(), acc.cpu().numpy(), info


@dataclasses.dataclass(frozen=True)
class GridBackend:
    """One way to evaluate a batch of grid points: ``applies(ev)`` says whether it can run this model,
    ``run(ev, coords)`` returns (loss, accuracy) tensors, ``chunk(ev, n)`` the points per call."""

    name: str
    applies: Callable
    run: Callable
    chunk: Callable


#: the grid backends by name; ``backend="auto"`` picks among them (see :func:`_choose`)
BACKENDS = {
    "batched": GridBackend("batched", lambda ev: ev.plan is not None, _GridEvaluator.batched,
                           lambda ev, n: min(ev.chunk(), 256, max(16, n // 20))),
    "vmap": GridBackend("vmap", lambda ev: True, _GridEvaluator.vmap, lambda ev, n: ev.chunk()),
    "loop": GridBackend("loop", lambda ev: True, _GridEvaluator.loop,
                        lambda ev, n: max(1, min(64, n // 50 or 1))),
}  # fmt: skip


def _choose(ev, coords, todo, store, *, rounds: int = 3, margin: float = 0.7, budget: float = 0.05):
    """The automatic backend: a safe default per model family that timing overrides only on a clear win.

    - an ``nn.Sequential`` MLP takes the batched plan (no trial: it does the same arithmetic as one
      matrix product per layer, far fewer calls than any alternative);
    - any other model takes the loop on a CPU (no trial); on another device (a GPU) the loop,
      unless ``vmap`` is faster by a clear ``margin`` (median of ``rounds`` interleaved timings of
      each, loop and vmap alternating so that a burst of load hits both) — and the trial runs only
      when it costs at most ``budget`` of the grid's points.

    The timed points are part of the grid: their results are kept. Returns (backend, points done).
    """
    if BACKENDS["batched"].applies(ev):
        return "batched", 0
    if ev.device.type == "cpu":
        # measured on CPUs (benchmarks/README.md): vmap never beat the loop by the margin on a CNN or
        # a ResNet, and its trial (the first vmap call traces the model) cost about 5% of a 41² grid
        return "loop", 0
    per_round = 4
    trial = 2 + rounds * 2 * per_round  # warm-ups and the interleaved rounds
    if len(todo) * budget < trial:
        return "loop", 0
    pos = 0

    def timed(fn, n):
        nonlocal pos
        idx = todo[pos : pos + n]
        _sync(ev.device)
        t = time.perf_counter()
        store(idx, fn(coords[idx]))
        _sync(ev.device)
        pos += len(idx)
        return (time.perf_counter() - t) / len(idx)

    timed(ev.loop, 1)  # warm-ups
    try:
        timed(ev.vmap, 1)
        t_loop, t_vmap = [], []
        for _ in range(rounds):
            t_loop.append(timed(ev.loop, per_round))
            t_vmap.append(timed(ev.vmap, per_round))
    except (RuntimeError, NotImplementedError) as e:  # an op without a batching rule
        warnings.warn(f"vmap cannot evaluate this model ({e}); using a loop", stacklevel=3)
        return "loop", pos
    return ("vmap" if np.median(t_vmap) < margin * np.median(t_loop) else "loop"), pos


def _check_points(coords: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` indices of grid points to check: the corners (where the loss is highest), the
    centre-most point (where it is lowest), then random ones."""
    a = np.abs(coords)
    picks = [int(i) for i in np.flatnonzero((a >= a.max(0) * (1 - 1e-9)).all(1))]
    picks.append(int(np.argmin(a.sum(1))))
    picks.extend(int(i) for i in np.random.default_rng(seed).permutation(len(coords)))
    return np.array(list(dict.fromkeys(picks))[:n])


def _subset_error(model, full, n_subset, center, dirs, coords, loss, *, max_memory, recompute_stats,
                  n_check, seed, budget: float = 0.1) -> dict:  # fmt: skip
    """How far a plane on ``n_subset`` samples is from the same plane on all the data (``full``): the
    largest differences at up to ``n_check`` points evaluated again on all of it, as many as cost
    at most ``budget`` of the grid (a point on all the data costs ``full.n / n_subset`` points)."""
    fit = int(budget * len(coords) * n_subset / full.n)
    n = min(n_check, fit)
    out = {"n_samples": int(n_subset), "of": int(full.n), "checked_points": int(max(n, 0))}
    if n < 1:
        return {**out, "max_abs_error": None, "max_rel_error": None,
                "note": "not checked: one point on all the data costs more than a tenth of the grid"}  # fmt: skip
    idx = _check_points(coords, n, seed)
    ev = _GridEvaluator(model, full, center, dirs, max_memory=max_memory,
                        recompute_stats=recompute_stats)  # fmt: skip
    exact, _, _ = _evaluate(ev, coords[idx], progress=False)
    exact = exact.astype(np.float64)
    diff = np.abs(loss[idx].astype(np.float64) - exact)
    ok = np.isfinite(diff)
    if not ok.any():
        return {**out, "max_abs_error": None, "max_rel_error": None}
    rel = diff[ok] / np.maximum(np.abs(exact[ok]), 1e-12)
    return {**out, "max_abs_error": float(diff[ok].max()), "max_rel_error": float(rel.max())}


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


def directions(model, method: Literal["filter", "layer", "none"] = "filter", *, seed: int = 0,
               keep_1d: bool = False, n: int = 2):  # fmt: skip
    """``n`` random Gaussian directions in parameter space, normalised filter-wise (``"filter"``, Li et al.
    default: biases/norm parameters zeroed), layer-wise (``"layer"``) or not at all (``"none"``).

    Example
    -------
    >>> d1, d2 = lk.landscape.directions(model, "filter", seed=0)
    >>> d1.shape == lk.layout.flat_parameters(model).shape
    True
    """
    choice("method", method, ("filter", "layer", "none"))
    n = integer("n", n, minimum=1)
    g = torch.Generator().manual_seed(integer("seed", seed))
    flat = flat_parameters(model)
    dirs = []
    for _ in range(n):
        d = torch.randn(flat.shape, generator=g, dtype=flat.dtype).to(flat.device)
        if method == "filter":
            d = _filter_normalise(model, d, keep_1d=keep_1d)
        elif method == "layer":
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
          keep_1d: bool = False, backend: str = "auto", max_memory: float = 2 * 2**30,
          norm_stats: Literal["center", "recompute"] = "center", resume=None, output=None,
          subset_check: int = 16, progress=True) -> Surface:  # fmt: skip
    """The loss on the plane ``center + α·d1 + β·d2``, α, β in [−span, span] (``resolution`` points each).

    Parameters
    ----------
    directions : ``"filter"`` / ``"layer"`` / ``"none"`` (seeded random Gaussian directions, normalised
        filter-wise as in Li et al. 2018, layer-wise, or not; 1-D parameters such as biases and norm
        layers are zeroed unless ``keep_1d=True``), ``"pca"`` (the top-2 principal directions of
        ``trajectory`` around the model, with the path projected: ``surf.path``), ``"hessian"`` (the top-2
        Hessian eigenvectors), or two flat tensors/arrays with the model's parameter count.
    task : a landkit Task, an ``(inputs, targets)`` pair (``loss_fn`` defaults to cross-entropy), or a
        DataLoader of ``(inputs, targets)`` batches. ``data="test"`` uses a Task's test split,
        ``n_samples`` a fixed random subset (seeded).
    n_samples, subset_check : a plane on a subset of the data costs that fraction of the full one, and
        its error is measured, not assumed: up to ``subset_check`` points (the corners, the centre,
        then random ones) are evaluated again on all the data, as many as fit in a tenth of the
        grid's cost, and ``surf.info["subset"]`` holds the largest absolute and relative differences
        found there (a sample of the plane, not a bound on every point). ``subset_check=0``: no check.
    backend : ``"loop"`` (one forward call per point, on a copy whose parameters are rewritten in
        place), ``"vmap"`` (many points per call), ``"batched"`` (an ``nn.Sequential`` MLP: many points
        per batched matrix product) or ``"auto"``: batched for such an MLP, the loop for any other
        model on a CPU, and on a GPU the loop unless vmap is clearly faster on the first points.
    max_memory : bytes the evaluation may use for activations (sets the data batch and points per call).
    norm_stats : what BatchNorm's running statistics are at each point. ``"center"`` (default, fast):
        the centre model's, at every point — a slice of the eval-mode function with the statistics
        frozen, which is not the loss of a network trained to that point. ``"recompute"``: re-estimated
        at every point on the evaluation data (one extra pass in training mode, as
        ``torch.optim.swa_utils.update_bn`` and :func:`landkit.similarity.mode_connectivity` do);
        about twice the time, one point at a time. Models without BatchNorm: no difference.
    output : a function from the model's output to what ``loss_fn`` takes, for models that return a
        structure (``output=lambda o: o.logits`` for a Hugging Face model).
    resume : a file path (``.npz``): the partial grid is saved there every few seconds and a rerun
        with the same model, directions, grid and data continues from it.
    progress : True for a bar, False for none, or a callable ``(points done, total)``; raising
        :class:`landkit.Cancelled` (or any exception) from it stops the grid (a ``resume`` file keeps
        what was done).

    The model is evaluated in eval mode: batch norm uses running statistics (see ``norm_stats``).
    When the first parameterised layer (Linear, Conv or Embedding) sees the input directly, its output
    is linear in the grid coordinates and is computed once per direction, not once per point — where
    that saves time: a fan-in (inputs per output) of at least 8 per precomputed output (24 for a
    plane), so a 64-input Linear takes it and a one-channel 3×3 convolution does not.
    In the loop, a convolution is fused with a BatchNorm after it (folded into its weights at every
    point, ``W·γ/√(σ²+ε)``) and a ReLU after that (run inside the convolution on a CPU): a CNN's or a
    BN ResNet's plane takes about 0.9 of the time. The fused model is checked against the model at
    two points before use; ``surf.info["fused"]`` counts what was fused (nothing when the model does
    not trace with ``torch.fx``). ``surf.info`` also says which backend ran and how long it took.

    Example
    -------
    >>> surf = lk.landscape.plane(model, task, resolution=15, progress=False)
    >>> float(surf.loss[7, 7]) == pytest.approx(task.evaluate(model)["train_loss"], rel=1e-5)
    True
    >>> fig = lk.plots.plot_surface(surf)
    """
    resolution = integer("resolution", resolution, minimum=2, maximum=2001)  # 4M points at most
    choice("norm_stats", norm_stats, ("center", "recompute"))
    span = number("span", span, minimum=0, strict=True)
    max_memory = memory("max_memory", max_memory)
    if not isinstance(directions, str) and (
        not hasattr(directions, "__len__") or isinstance(directions, bytes)
    ):
        raise InvalidType(
            "directions must be 'filter', 'layer', 'none', 'pca', 'hessian' or two vectors, "
            f"got {directions!r}"
        )
    dat = resolve(task, loss_fn, data=data, n_samples=n_samples, seed=seed, output=output)
    center = flat_parameters(model)
    P = center.numel()
    path = path_steps = None
    method = directions if isinstance(directions, str) else "given"
    if isinstance(directions, str):
        if directions in ("filter", "layer", "none"):
            d1, d2 = _random_directions(model, directions, seed=seed, keep_1d=keep_1d)
        elif directions == "pca":
            if trajectory is None:
                raise InvalidArgument(
                    "directions='pca' needs trajectory= (a recorded run of this model)"
                )
            W = trajectory.weights  # read chunk by chunk: never a (T, P) float64 copy
            if W.shape[1] != P:
                raise InvalidArgument(
                    f"the trajectory records {W.shape[1]} values but the model has {P} parameters "
                    "(record all parameters, no sketch, to project a path)"
                )
            # the top-2 principal directions of the displacements D = W − centre, from the T × T Gram
            # matrix D Dᵀ = U Σ² Uᵀ: directions Dᵀ u / σ, path coordinates u σ (an SVD of D, streamed)
            c = center.detach().cpu().numpy().astype(np.float64)
            G, _ = displacement_gram(W, c, max_memory)
            lam, U = np.linalg.eigh(G)
            lam, U = lam[::-1][:2], U[:, ::-1][:, :2]
            if len(lam) < 2 or lam[1] <= 1e-24 * max(lam[0], 1e-300):
                raise InvalidArgument(
                    "the trajectory moves along fewer than two directions around the model: "
                    "no PCA plane (record more snapshots, or use directions='filter')"
                )
            sigma = np.sqrt(lam)
            V = project_displacements(W, c, U / sigma)
            d1, d2 = (torch.as_tensor(v, dtype=center.dtype) for v in V.T)
            path = U * sigma
            path_steps = np.asarray(trajectory.steps)
            if span == 1.0:  # default: frame the path
                span = float(np.abs(path).max() * 1.2) or 1.0
        elif directions == "hessian":
            from .hessian import top_eigenvalues

            top = top_eigenvalues(model, dat, k=2, seed=seed)  # the Data keeps a task's objective
            d1, d2 = (torch.as_tensor(v, dtype=center.dtype) for v in top.eigenvectors)
        else:
            raise InvalidArgument(
                "directions must be 'filter', 'layer', 'none', 'pca', 'hessian' or two vectors, "
                f"got {directions!r}"
            )
    else:
        if len(directions) != 2:
            raise InvalidArgument(f"give exactly two directions, got {len(directions)}")
        d1, d2 = (
            torch.as_tensor(np.asarray(d), dtype=center.dtype).reshape(-1) for d in directions
        )
        if d1.numel() != P or d2.numel() != P:
            raise InvalidArgument(
                f"directions must each have {P} entries (the model's parameter count), "
                f"got {d1.numel()} and {d2.numel()}"
            )
        if not (torch.isfinite(d1).all() and torch.isfinite(d2).all()):
            raise InvalidArgument("the directions contain NaN or inf")
    dirs = torch.stack([d1, d2]).to(center.device)
    alpha = np.linspace(-span, span, resolution)
    beta = np.linspace(-span, span, resolution)
    coords = np.stack(np.meshgrid(alpha, beta, indexing="ij"), -1).reshape(-1, 2)
    ev = _GridEvaluator(model, dat, center, dirs, max_memory=max_memory, strategy=backend,
                        recompute_stats=norm_stats == "recompute")  # fmt: skip
    loss, acc, info = _evaluate(ev, coords, progress=progress, resume=resume)
    subset_check = integer("subset_check", subset_check, minimum=0)
    if n_samples is not None and subset_check:
        full = resolve(task, loss_fn, data=data, seed=seed, output=output)
        if full.n > dat.n:
            info["subset"] = _subset_error(
                model, full, dat.n, center, dirs, coords, loss, max_memory=max_memory,
                recompute_stats=norm_stats == "recompute", n_check=subset_check, seed=seed,
            )  # fmt: skip
    loss = loss.reshape(resolution, resolution)
    if not np.isfinite(loss).all():
        warnings.warn(
            f"{int((~np.isfinite(loss)).sum())} grid points have a non-finite loss "
            "(the span reaches a region where the model overflows): reduce span",
            stacklevel=2,
        )
    surf = Surface(alpha, beta, loss, acc.reshape(resolution, resolution) if dat.classify else None,
                   dirs.cpu().numpy(), center.cpu().numpy(), method, path, path_steps,
                   span=float(span), data=dat.name, info=info)  # fmt: skip
    return with_params(surf, directions=method, span=float(span), resolution=resolution, seed=seed,
                       data=data, n_samples=n_samples, keep_1d=keep_1d, backend=info["backend"],
                       norm_stats=norm_stats, subset_check=subset_check)  # fmt: skip


def ensemble_plane(runs, *, members=None, scores=None, resolution: int = 21, margin: float = 1.2,
                   data: str = "train", n_samples: int | None = None, progress=True) -> Surface:  # fmt: skip
    """The loss on the joint principal plane of several runs of one model: the plane through the mean
    of their snapshots spanned by their top two principal axes, the plane a PCA picture of the
    ensemble's paths is drawn on (``α``, ``β`` in the units of the PCA scores).

    ``runs``: recorded runs of one landkit zoo model on one built-in task (each rebuilds them:
    ``traj.model()``, ``traj.task()``). ``members``: the (run index, step) rows of the snapshots that
    span the plane (default: every snapshot). ``scores``: their (n, 2) coordinates on the plane when a
    picture already has them (a Mapper graph's points): the axes are then the ones those coordinates
    describe, signs included, so the surface lies exactly under that picture. The grid spans
    ``margin`` times the largest coordinate each way. The snapshots lie near the plane, not on it (the
    other components are dropped): the loss *along a run* is not the loss under its projected path.
    Buffers (BatchNorm statistics) are the first run's at its last snapshot, held fixed over the plane.

    Example
    -------
    >>> surf = lk.landscape.ensemble_plane(runs.where(width=8)[:3], resolution=7, progress=False)
    >>> surf.loss.shape, surf.method
    ((7, 7), 'ensemble-pca')
    """
    runs = list(runs)
    if not runs:
        raise InvalidArgument("give at least one run")
    if members is None:
        members = np.concatenate([np.stack([np.full(len(t), r), np.asarray(t.steps)], 1)
                                  for r, t in enumerate(runs)])  # fmt: skip
    members = np.asarray(members).astype(np.int64)
    rows = []
    for r, step in members:
        steps = np.asarray(runs[r].steps)
        k = int(np.searchsorted(steps, step))
        if k >= len(steps) or steps[k] != step:
            raise InvalidArgument(f"run {r} recorded no snapshot at step {step}")
        rows.append(np.asarray(runs[r].weights[k], dtype=np.float64))
    W = np.stack(rows)
    mean = W.mean(0)
    D = W - mean
    if scores is None:
        lam, U = np.linalg.eigh(D @ D.T)
        S = U[:, ::-1][:, :2] * np.sqrt(np.maximum(lam[::-1][:2], 0))
    else:
        S = np.asarray(scores, dtype=np.float64)[:, :2]
        if len(S) != len(W):
            raise InvalidArgument(f"{len(S)} scores for {len(W)} snapshots")
    power = (S**2).sum(0)
    if S.shape[1] < 2 or power.min() <= 1e-24 * max(power.max(), 1e-300):
        raise InvalidArgument("the snapshots spread along fewer than two directions: no plane")
    # PCA scores S = D V with orthonormal axes V, and Dᵀ S = V Λ: the axes from the scores
    V = D.T @ S / power
    model, task = runs[0].model(), runs[0].task()
    layout = ParamLayout.of(model)
    if layout.size != W.shape[1]:
        raise InvalidArgument(
            f"the runs record {W.shape[1]} values but their model has {layout.size} parameters"
        )
    # the recorded vector in the model's own parameter order (flat_parameters'), name by name
    order = np.concatenate([np.arange(W.shape[1])[runs[0].param_slice(n)] for n in layout.names])
    mean, V = mean[order], V[order]
    with torch.no_grad():
        for name, value in layout.unflatten(torch.as_tensor(mean)).items():
            model.get_parameter(name).copy_(value)
    span = float(margin * np.abs(S).max())
    surf = plane(model, task, directions=(V[:, 0], V[:, 1]), span=span, resolution=resolution,
                 data=data, n_samples=n_samples, progress=progress)  # fmt: skip
    return dataclasses.replace(surf, method="ensemble-pca")


def line(model_a, model_b, task, steps: int = 41, *, data: str = "train", n_samples=None,
         loss_fn=None, extend: float = 0.0, backend: str = "auto", max_memory: float = 2 * 2**30,
         norm_stats: Literal["interpolate", "a", "recompute"] = "interpolate", output=None,
         progress=False) -> Line:  # fmt: skip
    """The loss along the straight line from ``model_a`` (t = 0) to ``model_b`` (t = 1), ``steps`` points
    (``extend`` adds that much on either side). Same data and backend options as :func:`plane`.

    Models are evaluated in eval mode, so normalisation layers (BatchNorm) use running statistics.
    ``norm_stats="interpolate"`` (default) moves those buffers along the line with the parameters,
    (1 − t)·a + t·b, so that L(0) and L(1) are each model's own loss; ``"a"`` keeps model a's at every
    t (what a plane does around its centre by default); ``"recompute"`` re-estimates them at every t
    on the evaluation data, as :func:`landkit.similarity.mode_connectivity` does (then L(0) and L(1)
    are the end models' losses with re-estimated statistics, not with their own).

    Example
    -------
    >>> ln = lk.landscape.line(model, model_b, task, steps=21)
    >>> ln.barrier > 0   # max over t of L(t) − the linear interpolation of the end losses
    True
    """
    for name, m in (("model_a", model_a), ("model_b", model_b)):
        if not isinstance(m, torch.nn.Module):
            raise InvalidType(f"{name} must be a torch.nn.Module, got {type(m).__name__}")
    a, b = flat_parameters(model_a), flat_parameters(model_b)
    if a.shape != b.shape:
        raise InvalidArgument(
            f"model_b has {b.numel()} parameters but model_a {a.numel()}: the line needs two "
            "models of the same architecture"
        )
    steps = integer("steps", steps, minimum=2, maximum=100_001)
    extend = number("extend", extend, minimum=0)
    max_memory = memory("max_memory", max_memory)
    choice("norm_stats", norm_stats, ("interpolate", "a", "recompute"))
    dat = resolve(task, loss_fn, data=data, n_samples=n_samples, output=output)
    t = np.linspace(-extend, 1 + extend, steps)
    ev = _GridEvaluator(model_a, dat, a, (b - a)[None].to(a.device), max_memory=max_memory,
                        strategy=backend, recompute_stats=norm_stats == "recompute",
                        buffer_line=_buffer_line(model_a, model_b) if norm_stats == "interpolate" else None)  # fmt: skip
    loss, acc, info = _evaluate(ev, t[:, None], progress=progress, desc="line")
    return with_params(Line(t, loss, acc if dat.classify else None), steps=steps, extend=extend,
                       data=data, n_samples=n_samples, backend=info["backend"],
                       norm_stats=norm_stats)  # fmt: skip


def _buffer_line(model_a, model_b):
    """(a's floating buffers, b − a) for the buffers that differ between the models, or None."""
    ba, bb = dict(model_a.named_buffers()), dict(model_b.named_buffers())
    if set(ba) != set(bb):
        raise InvalidArgument("the two models have different buffers: same architecture needed")
    base, delta = {}, {}
    for n, x in ba.items():
        if x.is_floating_point() and not torch.equal(x, bb[n]):
            base[n], delta[n] = x.detach(), (bb[n].detach().to(x.device) - x.detach())
    return (base, delta) if base else None


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Profile(Result):
    """The landscape lens's measurements of one model, local and global: a slice and its topology, the
    Hessian's λ_max, trace and spectral density. ``row()`` gives the numbers as a flat dict."""

    surface: Surface
    topology: object
    top: object | None
    trace: object | None
    density: object | None
    slices: SliceTopology | None = None  # minima/saddles over several slices (profile(slices=))

    def _headline_items(self):
        return list(self.row().items())

    def row(self) -> dict:
        s, t = self.surface, self.topology
        r = len(s.alpha) // 2
        out = {"loss": float(s.loss[r, r]), "n_minima": t.n_minima, "n_saddles": t.n_saddles,
               "average_persistence": t.average_persistence, "smad": t.smad}  # fmt: skip
        if self.top is not None:
            out["lambda_max"] = float(self.top.eigenvalues[0])
        if self.trace is not None:
            out["trace"], out["trace_stderr"] = self.trace.estimate, self.trace.stderr
        if self.slices is not None:
            for t, m in zip(self.slices.thresholds, self.slices.mean_minima):
                out[f"mean_minima@{t:g}"] = float(m)
        return out


def format_row(p: Profile) -> str:
    """One line of a :class:`Profile`'s numbers for a notebook or a log.

    Example
    -------
    >>> p = lk.landscape.profile(model, task, resolution=7, hessian=False, progress=False)
    >>> lk.landscape.format_row(p).startswith("loss ")
    True
    """
    r = p.row()
    parts = [f"loss {r['loss']:.4g}", f"minima {r['n_minima']}", f"saddles {r['n_saddles']}"]
    if r["n_saddles"]:
        parts.append(f"avg persistence {r['average_persistence']:.3g}")
    if "lambda_max" in r:
        parts.append(f"λ_max {r['lambda_max']:.4g}")
    if "trace" in r:
        parts.append(f"trace {r['trace']:.4g} ± {r['trace_stderr']:.2g}")
    if p.slices is not None:
        counts = " / ".join(f"{m:.1f} ({'raw' if t == 0 else f'{t:g}'})"
                            for t, m in zip(p.slices.thresholds, p.slices.mean_minima))  # fmt: skip
        parts.append(f"minima over {len(p.slices.seeds)} slices {counts}")
    return " · ".join(parts)


def profile(model, task, *, directions="filter", resolution: int = 31, span: float = 1.0,
            threshold: float = 0.01, hessian: bool = True, trace_matvecs: int = 30,
            density_steps: int = 40, n_samples: int | None = None, seed: int = 0,
            slices=None, progress: bool = True) -> Profile:  # fmt: skip
    """Everything the landscape lens says about one model, as used by notebook 04 and the report: a
    ``resolution``² slice (:func:`plane`), its H0 persistence (``threshold`` relative to the loss
    range), and — with ``hessian=True`` — λ_max (Lanczos, tol 1e-3), the trace (Hutch++ with
    ``trace_matvecs`` products) and the spectral density (one SLQ run of ``density_steps`` steps), on
    the same data (``n_samples`` a fixed subset). ``slices``: direction seeds whose slices'
    minima are counted raw and above 1% (:func:`slice_topology`; the slice of ``seed`` is reused).

    Example
    -------
    >>> p = lk.landscape.profile(model, task, resolution=9, n_samples=128, progress=False)
    >>> sorted(p.row())
    ['average_persistence', 'lambda_max', 'loss', 'n_minima', 'n_saddles', 'smad', 'trace', 'trace_stderr']
    """
    from .hessian import HessianOperator, density, top_eigenvalues, trace
    from .topology import persistence

    trace_matvecs = integer("trace_matvecs", trace_matvecs, minimum=0)
    density_steps = integer("density_steps", density_steps, minimum=1)
    surf = plane(model, task, directions=directions, span=span, resolution=resolution, seed=seed,
                 n_samples=n_samples, subset_check=0, progress=progress)  # fmt: skip
    topo = persistence(surf, threshold=threshold)
    top = tr = dens = None
    if hessian:
        op = HessianOperator(model, task, n_samples=n_samples, seed=seed)  # one graph for all three
        top = top_eigenvalues(op, k=1, seed=seed)
        tr = trace(op, num_matvecs=max(trace_matvecs, 6), method="hutch++", seed=seed)
        dens = density(op, n_runs=1, steps=density_steps, seed=seed)
    st = None
    if slices is not None:
        st = slice_topology(model, task, seeds=slices, resolution=resolution, span=span,
                            directions=directions, n_samples=n_samples, _known={seed: surf})  # fmt: skip
    return Profile(surf, topo, top, tr, dens, st)


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class SliceTopology(Result):
    """Minima and saddles of several random slices of one model, at several noise thresholds:
    ``minima[i, j]`` and ``saddles[i, j]`` for direction seed ``seeds[i]`` and threshold
    ``thresholds[j]`` (threshold 0: the raw merge tree, as Xie, Geniesse et al. count).
    ``mean_minima`` / ``mean_saddles``: the averages over slices, one per threshold."""

    _headline = ("mean_minima", "mean_saddles", "thresholds")

    seeds: np.ndarray
    thresholds: np.ndarray
    minima: np.ndarray
    saddles: np.ndarray

    @property
    def mean_minima(self) -> np.ndarray:
        return self.minima.mean(0)

    @property
    def mean_saddles(self) -> np.ndarray:
        return self.saddles.mean(0)


def slice_topology(model, task, *, seeds=(0, 1, 2), thresholds=(0.0, 0.01), resolution: int = 31,
                   span: float = 1.0, directions: str = "filter", n_samples: int | None = None,
                   progress=False, _known=None) -> SliceTopology:  # fmt: skip
    """How many minima and saddles the loss has around ``model``, averaged over random slices (one
    per direction seed) and counted at each noise threshold: one slice is a small sample of a
    landscape's topology, and a 1% threshold hides the small basins a raw merge tree counts.

    Example
    -------
    >>> st = lk.landscape.slice_topology(model, task, seeds=(0, 1), resolution=9, n_samples=128)
    >>> st.minima.shape, bool((st.minima[:, 0] >= st.minima[:, 1]).all())   # raw >= thresholded
    ((2, 2), True)
    """
    from .progress import Progress
    from .topology import persistence

    seeds = [integer("seeds", s) for s in np.atleast_1d(seeds).tolist()]
    thresholds = [number("thresholds", t, minimum=0, maximum=1) for t in np.atleast_1d(thresholds)]
    if not seeds or not thresholds:
        raise InvalidArgument("seeds and thresholds need at least one value each")
    minima = np.zeros((len(seeds), len(thresholds)), dtype=int)
    saddles = np.zeros_like(minima)
    bar = Progress(progress, len(seeds), "slices", unit="slice")
    with bar:
        for i, s in enumerate(seeds):
            surf = (_known or {}).get(s)
            if surf is None:  # (profile passes the slice it already has)
                surf = plane(model, task, directions=directions, span=span, resolution=resolution,
                             seed=s, n_samples=n_samples, subset_check=0, progress=False)  # fmt: skip
            for j, t in enumerate(thresholds):
                p = persistence(surf, threshold=t)
                minima[i, j], saddles[i, j] = p.n_minima, p.n_saddles
            bar.update()
    out = SliceTopology(np.array(seeds), np.array(thresholds), minima, saddles)
    return with_params(out, resolution=resolution, span=span, directions=directions,
                       n_samples=n_samples)  # fmt: skip
