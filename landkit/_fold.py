"""Batch norm folded into the convolution before it, for evaluating a model at many parameter points.

In eval mode ``bn(conv(x))`` is one convolution with per-output-channel scaled weights and a new bias:
``s = γ / √(σ² + ε)``, ``W' = W·s``, ``b' = β + (b − μ)·s``. A loss plane evaluates the model once per
point, and there the normalisation pass over the activations is about a tenth of a ResNet's forward
on a CPU, while rescaling the (small) weights costs almost nothing. The folded pair reads the live
parameters at every call, so a copy of the model whose parameters are views into one flat buffer stays
correct as the buffer moves from point to point.

:func:`fold_batchnorm` returns None whenever it cannot fold safely: the model does not trace with
``torch.fx``, it has no Conv→BatchNorm pair whose convolution feeds only the normalisation, or the
folded model's output at the current parameters differs from the model's own.
"""

from __future__ import annotations

import torch
from torch import nn

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


class _ConvBN(nn.Module):
    """``bn(conv(x))`` in eval mode as one convolution; the two modules are shared, not copied."""

    def __init__(self, conv: nn.Module, bn: nn.Module):
        super().__init__()
        self.conv, self.bn = conv, bn
        self._shape = (-1,) + (1,) * (conv.weight.dim() - 1)

    def forward(self, x):
        conv, bn = self.conv, self.bn
        inv_std = torch.rsqrt(bn.running_var + bn.eps)  # read at every call, like the parameters
        s = inv_std if bn.weight is None else bn.weight * inv_std
        shift = -bn.running_mean if conv.bias is None else conv.bias - bn.running_mean
        bias = shift * s if bn.bias is None else torch.addcmul(bn.bias, shift, s)
        return conv._conv_forward(x, conv.weight * s.view(self._shape), bias)


def _foldable(conv, bn) -> bool:
    return (
        type(conv) in _CONVS
        and type(bn) in _NORMS
        and bn.track_running_stats
        and bn.running_mean is not None
        and not bn.training
        and conv.out_channels == bn.num_features
    )


def fold_batchnorm(model: nn.Module, x: torch.Tensor, *, rtol: float = 1e-4, leaves=()):
    """A module computing ``model`` (in eval mode) with every foldable Conv→BatchNorm pair as one
    convolution, sharing ``model``'s parameters and buffers; None when nothing folds or the result is
    not the model's own to ``rtol`` on the sample input ``x``.

    ``torch.fx`` inlines the ``forward`` of modules outside ``torch.nn``, so whatever plain Python
    state such a forward reads is fixed at the trace; modules whose state changes between calls must be
    named in ``leaves`` (types), and are then called as they are. Parameters and buffers are always
    read live.

    Example
    -------
    >>> from torch import nn
    >>> m = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    >>> folded = fold_batchnorm(m, torch.randn(2, 1, 8, 8))
    >>> folded is not None and sum(isinstance(s, _ConvBN) for s in folded.modules())
    1
    """
    if model.training:
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
    folded = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or len(node.args) != 1 or node.kwargs:
            continue
        bn = modules.get(node.target)
        src = node.args[0]
        if (
            not isinstance(src, fx.Node)
            or src.op != "call_module"
            or len(src.users) != 1
            or len(src.args) != 1
            or src.kwargs
        ):
            continue
        conv = modules.get(src.target)
        if not _foldable(conv, bn):
            continue
        name = f"_landkit_fold_{folded}"
        gm.add_submodule(name, _ConvBN(conv, bn))
        with gm.graph.inserting_before(node):
            new = gm.graph.call_module(name, (src.args[0],))
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
        gm.graph.erase_node(src)
        folded += 1
    if not folded:
        return None
    gm.graph.lint()
    gm.recompile()
    gm.eval()
    with torch.no_grad():
        try:
            want, got = model(x), gm(x)
        except Exception:
            return None
    if not _close(want, got, rtol):
        return None
    return gm


def _close(a, b, rtol) -> bool:
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
            type(a) is type(b)
            and len(a) == len(b)
            and all(_close(u, v, rtol) for u, v in zip(a, b))
        )
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(_close(a[k], b[k], rtol) for k in a)
    return a == b
