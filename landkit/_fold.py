"""Convolutions fused with the BatchNorm and ReLU after them, for evaluating a model at many points.

In eval mode ``bn(conv(x))`` is one convolution with per-output-channel scaled weights and a new bias:
``s = γ / √(σ² + ε)``, ``W' = W·s``, ``b' = β + (b − μ)·s``; and a ReLU after a convolution can run
inside it (oneDNN's fused post-operation on a CPU). A loss plane evaluates the model once per point;
there the normalisation and activation passes over the activations are separate passes through memory
(on a CPU, profiled: 17% of a small BN ResNet's forward, 13% of a CNN's; measured saving about 10%),
while rescaling the (small) weights costs almost nothing. The fused modules read the live parameters
and statistics at every call, so a copy of the model whose parameters are views into one flat buffer
stays correct as the buffer moves from point to point.

:func:`fuse` returns None whenever it cannot fuse safely: the model does not trace with ``torch.fx``,
it has no convolution whose output feeds only a BatchNorm or a ReLU, or the fused model's output
differs from the model's own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_RELU_FUNCTIONS = (torch.relu, F.relu, torch.relu_)


def _pointwise_op():
    """oneDNN's convolution with a fused post-operation (what ``torch.compile`` emits on a CPU), or
    None in a build without it."""
    try:
        return torch.ops.mkldnn._convolution_pointwise
    except (AttributeError, RuntimeError):
        return None


class _ConvBNAct(nn.Module):
    """``relu?(bn?(conv(x)))`` in eval mode as one convolution; the modules are shared, not copied."""

    def __init__(self, conv: nn.Module, bn: nn.Module | None, relu: bool):
        super().__init__()
        self.conv, self.bn, self.relu = conv, bn, relu
        self._shape = (-1,) + (1,) * (conv.weight.dim() - 1)
        # the fused ReLU runs inside oneDNN's kernel: 2-D, zero padding given as numbers
        self._op = _pointwise_op() if (
            relu and type(conv) is nn.Conv2d and conv.padding_mode == "zeros"
            and not isinstance(conv.padding, str)
        ) else None  # fmt: skip

    def forward(self, x):
        conv, bn = self.conv, self.bn
        w, b = conv.weight, conv.bias
        if bn is not None:
            # the statistics are read at every call, like the parameters
            inv_std = torch.rsqrt(bn.running_var + bn.eps)
            s = inv_std if bn.weight is None else bn.weight * inv_std
            shift = -bn.running_mean if b is None else b - bn.running_mean
            b = shift * s if bn.bias is None else torch.addcmul(bn.bias, shift, s)
            w = w * s.view(self._shape)
        if self.relu:
            if (
                self._op is not None
                and x.device.type == "cpu"
                and x.dtype == torch.float32
                and x.dim() == 4
                and not torch.is_grad_enabled()
            ):
                c = self.conv
                return self._op(x, w, b, list(c.padding), list(c.stride), list(c.dilation), c.groups,
                                "relu", [], "")  # fmt: skip
            return torch.relu(conv._conv_forward(x, w, b))
        return conv._conv_forward(x, w, b)


def _hooked(m) -> bool:
    """Forward (pre-)hooks compute or change what a module uses (``torch.nn.utils.prune`` sets the
    weight in one at every call): a fused module, which never calls it, would read stale values."""
    return any(getattr(m, a, None) for a in ("_forward_hooks", "_forward_pre_hooks"))


def _global_hooks() -> bool:
    from torch.nn.modules import module

    return any(
        getattr(module, a, None) for a in ("_global_forward_hooks", "_global_forward_pre_hooks")
    )


def _only_user(node):
    return next(iter(node.users)) if len(node.users) == 1 else None


def _is_norm(node, modules, src) -> bool:
    bn = modules.get(node.target) if node.op == "call_module" else None
    return (
        type(bn) in _NORMS
        and node.args == (src,)
        and not node.kwargs
        and bn.track_running_stats
        and bn.running_mean is not None
        and not bn.training
        and bn.num_features == modules[src.target].out_channels
    )


def _is_relu(node, modules, src) -> bool:
    if not node.args or node.args[0] is not src or len(node.args) > 1:
        return False
    extra = set(node.kwargs) - {"inplace"}
    if node.op == "call_module":
        return type(modules.get(node.target)) is nn.ReLU and not extra
    if node.op == "call_function":
        return node.target in _RELU_FUNCTIONS and not extra
    return node.op == "call_method" and node.target in ("relu", "relu_") and not node.kwargs


def fuse(model: nn.Module, x: torch.Tensor, *, rtol: float = 1e-4, leaves=()):
    """A module computing ``model`` (in eval mode) with every convolution whose output feeds only a
    BatchNorm (folded into its weights) and/or only a ReLU (run inside it) as one fused module,
    sharing ``model``'s parameters and buffers; None when nothing fuses or the result is not the
    model's own to ``rtol`` on the sample input ``x``.

    ``torch.fx`` inlines the ``forward`` of modules outside ``torch.nn``, so whatever plain Python
    state such a forward reads is fixed at the trace; modules whose state changes between calls must be
    named in ``leaves`` (types), and are then called as they are. Parameters and buffers are always
    read live.

    Example
    -------
    >>> from torch import nn
    >>> m = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    >>> fused = fuse(m, torch.randn(2, 1, 8, 8))
    >>> [(f.bn is not None, f.relu) for f in fused.modules() if isinstance(f, _ConvBNAct)]
    [(True, True)]
    """
    if model.training or _global_hooks():
        return None
    try:
        import torch.fx as fx

        class _Tracer(fx.Tracer):
            def is_leaf_module(self, m, qualname):
                return isinstance(m, leaves) or super().is_leaf_module(m, qualname)

        gm = fx.GraphModule(model, _Tracer().trace(model))
    except Exception:  # control flow on the input, unsupported calls: evaluate it as it is
        return None
    modules = dict(gm.named_modules())
    fused = 0
    for node in list(gm.graph.nodes):
        if (
            node.op != "call_module"
            or type(modules.get(node.target)) not in _CONVS
            or len(node.args) != 1
            or node.kwargs
        ):
            continue
        chain, end = [node], node
        user = _only_user(end)
        bn = None
        if user is not None and _is_norm(user, modules, node):
            bn, end = modules[user.target], user
            chain.append(user)
            user = _only_user(end)
        relu = user is not None and _is_relu(user, modules, end)
        if relu:
            end = user
            chain.append(user)
        if len(chain) == 1 or any(
            _hooked(modules[n.target]) for n in chain if n.op == "call_module"
        ):
            continue
        name = f"_landkit_fused_{fused}"
        gm.add_submodule(name, _ConvBNAct(modules[node.target], bn, relu))
        with gm.graph.inserting_before(end):
            new = gm.graph.call_module(name, (node.args[0],))
        end.replace_all_uses_with(new)
        for n in reversed(chain):
            gm.graph.erase_node(n)
        fused += 1
    if not fused:
        return None
    gm.graph.lint()
    gm.recompile()
    gm.eval()
    with torch.no_grad():
        try:
            got = gm(x)  # first: anything the model's own call would refresh is seen stale
            want = model(x)
        except Exception:
            return None
    if not close(want, got, rtol):
        return None
    return gm


def counts(module: nn.Module) -> dict:
    """How many BatchNorms were folded and ReLUs fused in a module :func:`fuse` returned."""
    parts = [m for m in module.modules() if isinstance(m, _ConvBNAct)]
    return {"batchnorm": sum(m.bn is not None for m in parts), "relu": sum(m.relu for m in parts)}


def close(a, b, rtol) -> bool:
    """Outputs (tensors, or tuples/lists/dicts of them) equal to ``rtol`` of their largest value."""
    if isinstance(a, torch.Tensor):
        if not isinstance(b, torch.Tensor) or a.shape != b.shape:
            return False
        if not a.is_floating_point():
            return bool(torch.equal(a, b))
        scale = float(a.abs().max()) if a.numel() else 0.0
        return bool(torch.allclose(a, b, rtol=rtol, atol=rtol * max(scale, 1e-12)))
    if isinstance(a, (tuple, list)):
        return (
            type(a) is type(b) and len(a) == len(b) and all(close(u, v, rtol) for u, v in zip(a, b))
        )
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(close(a[k], b[k], rtol) for k in a)
    return a == b
