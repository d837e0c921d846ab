"""One parameter layout: how a model's (selected) parameters sit in one flat vector.

Every lens that treats a model as a point in parameter space (the Hessian, slices, mode connectivity)
goes through :class:`ParamLayout`, so flattening and unflattening exist once. Parameters shared by
several modules (tied weights) appear once, under their first name, as ``model.named_parameters()``
gives them.

Example
-------
>>> import torch, landkit as lk
>>> model = torch.nn.Linear(3, 2)
>>> lay = lk.layout.ParamLayout.of(model)
>>> lay.names, lay.size
(['weight', 'bias'], 8)
>>> flat = lay.flatten(model)
>>> {n: tuple(t.shape) for n, t in lay.unflatten(flat).items()}
{'weight': (2, 3), 'bias': (2,)}
>>> {n: tuple(t.shape) for n, t in lay.unflatten(torch.stack([flat, flat])).items()}
{'weight': (2, 2, 3), 'bias': (2, 2)}
"""

from __future__ import annotations

import dataclasses
import math

import torch

from .errors import InvalidArgument

__all__ = ["ParamLayout", "flat_parameters"]


@dataclasses.dataclass(frozen=True)
class ParamLayout:
    """Names and shapes of the parameters laid end to end in a flat vector (in this order)."""

    names: list
    shapes: list

    @classmethod
    def of(cls, model, params=None) -> ParamLayout:
        """The layout of ``model``'s parameters (``params``: names or globs to select, as everywhere)."""
        named = dict(model.named_parameters())
        names = list(named)
        if params is not None:
            from .store import select_names

            names = select_names(names, params)
        return cls(names, [tuple(named[n].shape) for n in names])

    @property
    def sizes(self) -> list[int]:
        return [math.prod(s) for s in self.shapes]

    @property
    def size(self) -> int:
        """The length of the flat vector."""
        return sum(self.sizes)

    def flatten(self, source, dtype=None) -> torch.Tensor:
        """The flat vector (detached) of a model or a ``{name: tensor}`` dict in this layout."""
        named = dict(source.named_parameters()) if hasattr(source, "named_parameters") else source
        missing = [n for n in self.names if n not in named]
        if missing:
            raise InvalidArgument(f"the source has no parameter(s) {missing[:5]} of this layout")
        flat = torch.cat([named[n].detach().reshape(-1) for n in self.names])
        return flat if dtype is None else flat.to(dtype)

    def unflatten(self, flat: torch.Tensor) -> dict:
        """``{name: view}`` of a flat vector (P,) or a batch of them (B, P) → (B, *shape)."""
        if flat.shape[-1] != self.size:
            raise InvalidArgument(
                f"a flat vector of this layout has {self.size} entries, got shape {tuple(flat.shape)}"
            )
        lead = tuple(flat.shape[:-1])
        parts = torch.split(flat, self.sizes, dim=-1)
        return {n: p.reshape(*lead, *s) for n, p, s in zip(self.names, parts, self.shapes)}


def flat_parameters(model) -> torch.Tensor:
    """All of ``model``'s parameters (tied ones once), detached, as one flat vector.

    Example
    -------
    >>> import torch, landkit as lk
    >>> lk.layout.flat_parameters(torch.nn.Linear(3, 2)).shape
    torch.Size([8])
    """
    return ParamLayout.of(model).flatten(model)
