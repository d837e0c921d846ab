"""A small model zoo, each initialised deterministically from ``seed``.

Example
-------
>>> import landkit as lk
>>> m = lk.models.mlp(64, [32], 10, seed=0)
>>> sum(p.numel() for p in m.parameters())
2410
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from . import validate
from .errors import InvalidArgument, InvalidType
from .validate import choice, integer, number

__all__ = ["cnn", "from_spec", "mlp", "pinn", "relu_unit", "resnet", "transformer"]


def _jsonable(v):
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _zoo(factory):
    """Mark a zoo factory: the model it builds carries ``landkit_spec`` (factory name and every
    argument), which :func:`landkit.train` records so that a run can rebuild its model later."""

    sig = inspect.signature(factory)

    @functools.wraps(factory)
    def build(*args, **kwargs):
        model = factory(*args, **kwargs)
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        model.landkit_spec = {"factory": factory.__name__,
                              "kwargs": {k: _jsonable(v) for k, v in bound.arguments.items()}}  # fmt: skip
        return model

    return build


def from_spec(spec: dict) -> nn.Module:
    """Rebuild a zoo model from its ``landkit_spec`` (as recorded in a run's config).

    Example
    -------
    >>> net = lk.models.mlp(64, [8], 10, seed=0)
    >>> again = lk.models.from_spec(net.landkit_spec)
    >>> type(again).__name__, sum(p.numel() for p in again.parameters())
    ('Sequential', 610)
    """
    name = spec.get("factory") if isinstance(spec, dict) else None
    if name not in ("mlp", "cnn", "resnet", "transformer", "pinn", "relu_unit"):
        raise InvalidArgument(f"not a landkit model spec: {spec!r}")
    return globals()[name](**spec.get("kwargs", {}))


_ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


@contextlib.contextmanager
def _seeded(seed: int):
    """Run model construction under a fixed CPU RNG state, leaving the global RNG untouched."""
    seed = validate.seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _activation(name: str) -> nn.Module:
    if name not in _ACTIVATIONS:
        choice("activation", name, sorted(_ACTIVATIONS))
    return _ACTIVATIONS[name]()


def _positive(name: str, value) -> int:
    return integer(name, value, minimum=1)


def _widths(name: str, values) -> list[int]:
    """A list of layer widths (each an int >= 1)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InvalidType(f"{name} must be a list of layer widths, got {values!r}")
    return [_positive(f"each entry of {name}", v) for v in values]


@_zoo
def mlp(
    in_features: int,
    hidden: Sequence[int],
    out_features: int,
    *,
    bias: bool = True,
    activation: str = "relu",
    seed: int = 0,
) -> nn.Sequential:
    """A fully connected network ``in -> hidden[0] -> ... -> out`` (PyTorch's default init).

    Layers are named ``fc1, act1, fc2, ...`` so that ``params="fc2.*"`` selects the second layer.
    ``hidden=[]`` gives a linear (softmax-regression) model.

    Example
    -------
    >>> net = lk.models.mlp(64, [32, 16], 10, seed=0)
    >>> sum(p.numel() for p in net.parameters())
    2778
    """
    in_features = _positive("in_features", in_features)
    out_features = _positive("out_features", out_features)
    hidden = _widths("hidden", hidden)
    sizes = [in_features, *hidden, out_features]
    layers: dict[str, nn.Module] = {}
    with _seeded(seed):
        for i in range(len(sizes) - 1):
            layers[f"fc{i + 1}"] = nn.Linear(sizes[i], sizes[i + 1], bias=bias)
            if i < len(sizes) - 2:
                layers[f"act{i + 1}"] = _activation(activation)
    return nn.Sequential(OrderedDict(layers))


@_zoo
def pinn(hidden: Sequence[int] = (32, 32, 32), *, in_features: int = 2, out_features: int = 1,
         seed: int = 0) -> nn.Sequential:  # fmt: skip
    """The usual physics-informed network: a tanh MLP from (x, t) to u (smooth, so that its input
    derivatives exist everywhere). Pairs with :func:`landkit.tasks.convection`.

    Example
    -------
    >>> net = lk.models.pinn([16, 16], seed=0)
    >>> net(torch.zeros(5, 2)).shape
    torch.Size([5, 1])
    """
    return mlp(in_features, hidden, out_features, activation="tanh", seed=seed)


class _ReluUnit(nn.Module):
    def __init__(self, in_features, offset):
        super().__init__()
        self.unit = nn.Linear(in_features, 1, bias=False)
        self.readout = nn.Linear(1, 1, bias=False)
        self.offset = float(offset)

    def forward(self, x):
        z = self.readout(torch.relu(self.unit(x))) + self.offset
        return torch.cat([torch.zeros_like(z), z], -1)


@_zoo
def relu_unit(in_features: int = 1, *, offset: float = 0.0, init: float = 2.0,
              seed: int = 0) -> nn.Module:  # fmt: skip
    """The smallest non-convex classifier: one ReLU unit and one read-out weight, no biases, for two
    classes. Its logits are ``(0, v·relu(w·x) + offset)``, so with one input its whole weight space
    is the plane (w, v): a Morse graph of its exact training map needs no surrogate
    (:func:`landkit.morse.training_map`). Weights are drawn uniformly in [−init, init] (DOODL3's
    initialisation). Two outcomes: w > 0 with v > 0 learns "large input → class 1"; w < 0 switches
    the unit on for the other side, where it can only confirm class 0, and the model calls
    everything class 0.

    Example
    -------
    >>> net = lk.models.relu_unit(seed=0)
    >>> [tuple(p.shape) for p in net.parameters()], net(torch.zeros(3, 1)).shape
    ([(1, 1), (1, 1)], torch.Size([3, 2]))
    """
    in_features = _positive("in_features", in_features)
    init = number("init", init, minimum=0)
    model = _ReluUnit(in_features, number("offset", offset))
    g = torch.Generator().manual_seed(validate.seed(seed))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_((torch.rand(p.shape, generator=g, dtype=p.dtype) * 2 - 1) * init)
    return model


class _SmallCNN(nn.Module):
    def __init__(self, in_channels, channels, n_classes, image_size):
        super().__init__()
        c1, c2 = channels
        self.conv1 = nn.Conv2d(in_channels, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(c2 * (image_size // 4) ** 2, n_classes)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc(x.flatten(1))


@_zoo
def cnn(
    n_classes: int = 10,
    *,
    channels: Sequence[int] = (8, 16),
    in_channels: int = 1,
    image_size: int = 8,
    seed: int = 0,
) -> nn.Module:
    """A two-convolution CNN for small images (8×8 digits by default): conv-relu-pool twice, linear.

    Example
    -------
    >>> net = lk.models.cnn(10, seed=0)
    >>> net(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """
    _positive("n_classes", n_classes)
    channels = _widths("channels", channels)
    if len(channels) != 2:
        raise InvalidArgument(f"channels must be two ints (conv1, conv2), got {tuple(channels)}")
    _positive("in_channels", in_channels)
    if _positive("image_size", image_size) % 4:
        raise InvalidArgument(f"image_size must be divisible by 4, got {image_size}")
    with _seeded(seed):
        return _SmallCNN(in_channels, tuple(channels), n_classes, image_size)


class _Block(nn.Module):
    def __init__(self, c_in, c_out, stride, residual, batchnorm):
        super().__init__()
        norm = nn.BatchNorm2d if batchnorm else (lambda c: nn.Identity())
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=not batchnorm)
        self.bn1 = norm(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=not batchnorm)
        self.bn2 = norm(c_out)
        self.residual = residual
        self.shortcut = nn.Identity()
        if residual and (stride != 1 or c_in != c_out):
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), norm(c_out)
            )

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        if self.residual:
            out = out + self.shortcut(x)
        return torch.relu(out)


class _ResNet(nn.Module):
    def __init__(self, in_channels, width, depth, n_classes, residual, batchnorm):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, width, 3, padding=1)
        blocks, c = [], width
        for i in range(depth):
            stride = 2 if i == depth // 2 and depth > 1 else 1
            c_out = width * 2 if stride == 2 else c
            blocks.append(_Block(c, c_out, stride, residual, batchnorm))
            c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c, n_classes)

    def forward(self, x):
        x = self.blocks(torch.relu(self.stem(x)))
        return self.fc(x.mean(dim=(2, 3)))


@_zoo
def resnet(
    n_classes: int = 10,
    *,
    width: int = 8,
    depth: int = 2,
    residual: bool = True,
    batchnorm: bool = False,
    in_channels: int = 1,
    seed: int = 0,
) -> nn.Module:
    """A small ResNet for 8×8 images: a stem, ``depth`` basic blocks, global average pooling, linear.

    ``residual=False`` removes the skip connections and nothing else (Li et al. 2018's comparison).
    Batch norm is off by default so that the loss is a plain function of the weights.

    Example
    -------
    >>> plain = lk.models.resnet(10, residual=False, seed=0)   # the same network without skips
    >>> plain(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """
    _positive("n_classes", n_classes)
    _positive("width", width)
    _positive("depth", depth)
    _positive("in_channels", in_channels)
    with _seeded(seed):
        return _ResNet(in_channels, width, depth, n_classes, residual, batchnorm)


class _Transformer(nn.Module):
    """One-layer, attention + MLP, pre-embedding transformer; reads out at the last position."""

    def __init__(self, vocab, n_ctx, d_model, n_heads, d_mlp, n_out):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.randn(n_ctx, d_model) / math.sqrt(d_model))
        self.attn = nn.MultiheadAttention(d_model, n_heads, bias=False, batch_first=True)
        self.mlp_in = nn.Linear(d_model, d_mlp)
        self.mlp_out = nn.Linear(d_mlp, d_model)
        self.W_out = nn.Linear(d_model, n_out, bias=False)

    def forward(self, tokens):
        x = self.embed(tokens) + self.pos[: tokens.shape[1]]
        # one layer read out at the last position: only that position's query, attention output
        # and MLP reach the logits, so the others are not computed (same numbers, 3× less work)
        last = x[:, -1:]
        a, _ = self.attn(last, x, x, need_weights=False)
        h = (last + a)[:, 0]
        h = h + self.mlp_out(torch.relu(self.mlp_in(h)))
        return self.W_out(h)


@_zoo
def transformer(
    p: int = 113,
    *,
    d_model: int = 128,
    n_heads: int = 4,
    d_mlp: int = 512,
    n_ctx: int = 3,
    vocab: int | None = None,
    seed: int = 0,
) -> nn.Module:
    """A one-layer transformer for :func:`landkit.tasks.modular_addition` (no layer norm, as in
    Nanda et al.'s grokking model). ``vocab`` defaults to ``p + 1`` (the "=" token); ``p`` outputs.
    The unembedding is ``W_out``.

    Example
    -------
    >>> net = lk.models.transformer(7, d_model=16, n_heads=2, d_mlp=32, seed=0)   # (a + b) mod 7
    >>> net(torch.zeros(3, 3, dtype=torch.long)).shape
    torch.Size([3, 7])
    """
    _positive("p", p)
    _positive("d_model", d_model)
    _positive("n_heads", n_heads)
    _positive("d_mlp", d_mlp)
    _positive("n_ctx", n_ctx)
    if vocab is not None and integer("vocab", vocab) < p + 1:
        raise InvalidArgument(
            f"vocab must hold the p + 1 = {p + 1} tokens (0..p-1 and '='), got {vocab}"
        )
    if d_model % n_heads:
        raise InvalidArgument(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
    with _seeded(seed):
        return _Transformer(vocab or p + 1, n_ctx, d_model, n_heads, d_mlp, p)
