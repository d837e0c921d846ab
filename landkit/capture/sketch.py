"""Seeded random sketches of a flat weight vector, for models too large to store whole."""

from __future__ import annotations

import torch

from ..errors import InvalidArgument
from ..validate import integer

__all__ = ["CountSketch"]


class CountSketch:
    """A CountSketch projection ``R^P -> R^k``: parameter ``i`` is added, with a random sign, to one of
    ``k`` random buckets. O(P) per vector (one scatter-add), and norms and inner products are preserved
    in expectation (``E‖Sx‖² = ‖x‖²``, relative error about ``sqrt(2/k)``).

    The buckets and signs depend only on ``(P, k, seed)``, so sketches of different runs recorded with
    the same seed are comparable.

    Example
    -------
    >>> s = CountSketch(dim=10_000, k=256, seed=0)
    >>> x = torch.randn(10_000)
    >>> abs(float(s(x).norm() / x.norm()) - 1) < 0.3
    True
    """

    def __init__(self, dim: int, k: int, seed: int = 0):
        k = integer("sketch", k, minimum=1)
        self.dim, self.k, self.seed = int(dim), int(k), int(seed)
        g = torch.Generator().manual_seed(self.seed)
        self.buckets = torch.randint(0, self.k, (self.dim,), generator=g)
        self.signs = torch.randint(0, 2, (self.dim,), generator=g).to(torch.float32).mul_(2).sub_(1)

    def to(self, device) -> CountSketch:
        self.buckets = self.buckets.to(device)
        self.signs = self.signs.to(device)
        return self

    def __call__(self, flat: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        if flat.shape != (self.dim,):
            raise InvalidArgument(
                f"expected a flat vector of shape ({self.dim},), got {tuple(flat.shape)}"
            )
        if self.buckets.device != flat.device:
            self.to(flat.device)
        res = torch.zeros(self.k, dtype=flat.dtype, device=flat.device)
        res.index_add_(0, self.buckets, flat * self.signs.to(flat.dtype))
        if out is not None:
            out.copy_(res)
            return out
        return res

    def to_json(self) -> dict:
        return {"method": "countsketch", "k": self.k, "seed": self.seed, "dim": self.dim}
