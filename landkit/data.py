"""What the landscape and Hessian lenses evaluate a model on: a Task, an ``(inputs, targets)`` pair or a
DataLoader, resolved into one :class:`Data` object.

The loss function must return the *mean* over a batch (PyTorch's default reduction); landkit weights
each batch by its size so that the result is the mean over the whole data set.

Example
-------
>>> import torch, landkit as lk
>>> d = lk.data.resolve((torch.zeros(4, 3), torch.tensor([0, 1, 0, 1])))
>>> d.n, d.classify
(4, True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Literal

import torch

from .errors import InvalidArgument, InvalidType
from .validate import choice, integer

__all__ = ["Data", "resolve"]


@dataclasses.dataclass
class Data:
    """Resolved evaluation data: tensors (``x``, ``y``) or a re-iterable ``loader``; ``n`` samples."""

    loss_fn: Callable
    classify: bool
    n: int
    x: torch.Tensor | None = None
    y: torch.Tensor | None = None
    loader: Iterable | None = None
    name: str = "data"
    objective: Callable | None = (
        None  # a Task's (f, x, y) -> loss, evaluated on all the data at once
    )
    output: Callable | None = None  # the model's output -> what loss_fn takes (structured outputs)

    def batches(self, device=None, batch_size: int | None = None):
        """Yield ``(x, y)`` batches on ``device`` (tensors split by ``batch_size``; a loader as it is)."""
        if self.loader is not None:
            for batch in self.loader:
                x, y = _pair(batch)
                yield x.to(device), y.to(device)
            return
        step = batch_size or self.n
        for i in range(0, self.n, step):
            yield self.x[i : i + step].to(device), self.y[i : i + step].to(device)

    def tensors(self):
        """All the data as two tensors (a loader is read once and concatenated)."""
        if self.loader is None:
            return self.x, self.y
        xs, ys = zip(*(_pair(b) for b in self.loader))
        return torch.cat(xs), torch.cat(ys)


def _pair(batch):
    if isinstance(batch, dict):
        batch = (batch.get("x", batch.get("input")), batch.get("y", batch.get("target")))
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise InvalidType(
            "each batch of the DataLoader must be an (inputs, targets) pair, "
            f"got {type(batch).__name__}"
        )
    return batch[0], batch[1]


def resolve(task, loss_fn=None, *, data: Literal["train", "test"] = "train", n_samples: int | None = None,
            seed: int = 0, output: Callable | None = None) -> Data:  # fmt: skip
    """Resolve ``task`` into :class:`Data`.

    ``task``: a landkit Task (``data="train"`` or ``"test"`` picks the split), an ``(inputs, targets)``
    pair (``loss_fn`` defaults to cross-entropy for integer targets, MSE for float targets), or a
    DataLoader / any re-iterable of ``(inputs, targets)`` batches. ``n_samples`` keeps a fixed random
    subset (seeded) of tensor data.

    Example
    -------
    >>> d = lk.data.resolve(task, n_samples=100)
    >>> d.n, d.classify, lk.data.resolve(d) is d          # a resolved Data passes through
    (100, True, True)
    """
    from .tasks import Task

    if isinstance(task, Data):  # already resolved: unchanged (its objective kept)
        if loss_fn is not None or n_samples is not None or data != "train" or output is not None:
            raise InvalidArgument(
                "the data is already resolved (a landkit Data): pass loss_fn=, n_samples= and data= "
                "to the first resolve, not again"
            )
        return task
    choice("data", data, ("train", "test"))
    if n_samples is not None:  # at most this many (all of them when there are fewer)
        n_samples = integer("n_samples", n_samples, minimum=1)
    seed = integer("seed", seed)
    if isinstance(task, Task):
        x, y = (task.x_train, task.y_train) if data == "train" else (task.x_test, task.y_test)
        out = Data(task.loss_fn if loss_fn is None else loss_fn, task.kind == "classification",
                   len(x), x, y, name=f"{task.name} ({data})")  # fmt: skip
        if data == "train" and loss_fn is None:
            out.objective = task.objective
    elif isinstance(task, (tuple, list)) and len(task) == 2 and torch.is_tensor(task[0]):
        x, y = task
        if len(x) != len(y):
            raise InvalidArgument(f"inputs and targets differ in length: {len(x)} vs {len(y)}")
        classify = not y.is_floating_point()
        if loss_fn is None:
            loss_fn = (
                torch.nn.functional.cross_entropy if classify else torch.nn.functional.mse_loss
            )
        out = Data(loss_fn, classify, len(x), x, y, name="tensors")
    elif isinstance(task, Iterable) and not isinstance(task, (str, bytes, torch.Tensor)):
        first = next(iter(task), None)
        if first is None:
            raise InvalidArgument("the data is empty: the DataLoader yields no batches")
        _, y0 = _pair(first)
        classify = not y0.is_floating_point()
        if loss_fn is None:
            loss_fn = (
                torch.nn.functional.cross_entropy if classify else torch.nn.functional.mse_loss
            )
        n = sum(len(_pair(b)[0]) for b in task)
        if n_samples is not None:
            raise InvalidArgument(
                "n_samples= subsets tensor data; for a DataLoader, give a smaller one"
            )
        out = Data(loss_fn, classify, n, loader=task, name="loader")
    else:
        raise InvalidType(
            "task must be a landkit Task, an (inputs, targets) pair of tensors or a DataLoader, "
            f"got {type(task).__name__}"
        )
    if out.n == 0:
        raise InvalidArgument("the data is empty: nothing to evaluate the loss on")
    if n_samples is not None and out.loader is None and n_samples < out.n:
        idx = torch.randperm(out.n, generator=torch.Generator().manual_seed(seed))[:n_samples]
        out.x, out.y, out.n = out.x[idx], out.y[idx], n_samples
    if output is not None:
        if not callable(output):
            raise InvalidType(
                f"output must be a function of the model's output, got {type(output).__name__}"
            )
        out.output = output
    return out
