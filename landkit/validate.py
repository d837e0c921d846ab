"""The checks every public function runs on its arguments, in one place.

Each raises :class:`~landkit.errors.InvalidArgument` (a ``ValueError``) or
:class:`~landkit.errors.InvalidType` (a ``TypeError``) whose message names the argument, says what it
got and what it needs.

Example
-------
>>> from landkit.validate import integer, choice
>>> integer("steps", 5, minimum=1)
5
>>> choice("method", "hutch", ("hutchinson", "hutch++"))
Traceback (most recent call last):
...
landkit.errors.InvalidArgument: method must be one of 'hutchinson', 'hutch++'; got 'hutch'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from .errors import InvalidArgument, InvalidType

__all__ = ["choice", "device", "integer", "memory", "number", "seed", "torch_dtype"]


def integer(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as a Python int (a bool is refused), within ``[minimum, maximum]`` when given.

    Example
    -------
    >>> integer("k", 3, minimum=1), integer("k", np.int64(2))
    (3, 2)
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidType(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise InvalidArgument(f"{name} must be an int >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidArgument(f"{name} must be an int <= {maximum}, got {value}")
    return value


def number(name: str, value, *, minimum: float | None = None, maximum: float | None = None,
           strict: bool = False, below: float | None = None) -> float:  # fmt: skip
    """``value`` as a finite float within the bounds (``strict=True``: ``minimum`` itself refused;
    ``below``: an upper bound the value must stay under).

    Example
    -------
    >>> number("tol", 1e-3, minimum=0, strict=True)
    0.001
    >>> number("momentum", 0.9, minimum=0, below=1)
    0.9
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidType(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidArgument(f"{name} must be a finite number, got {value}")
    if minimum is not None and (value < minimum or (strict and value == minimum)):
        raise InvalidArgument(f"{name} must be {'>' if strict else '>='} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidArgument(f"{name} must be <= {maximum}, got {value}")
    if below is not None and not value < below:
        raise InvalidArgument(f"{name} must be < {below}, got {value}")
    return value


def choice(name: str, value, options: Sequence):
    """``value`` if it is one of ``options``; the error lists them.

    Example
    -------
    >>> choice("which", "largest", ("largest", "smallest"))
    'largest'
    """
    if value not in options:
        allowed = ", ".join(repr(o) for o in options)
        raise InvalidArgument(f"{name} must be one of {allowed}; got {value!r}")
    return value


def seed(value) -> int:
    """A random seed: any int.

    Example
    -------
    >>> seed(7)
    7
    """
    return integer("seed", value)


def memory(name: str, value) -> float:
    """A memory budget in bytes (a finite number > 0).

    Example
    -------
    >>> memory("max_memory", 2**30)
    1073741824.0
    """
    return number(name, value, minimum=0, strict=True)


def device(value, name: str = "device"):
    """``value`` as a ``torch.device`` that exists on this machine (a CUDA device needs a GPU).

    Example
    -------
    >>> device("cpu")
    device(type='cpu')
    """
    import torch

    if not isinstance(value, (str, torch.device)):
        raise InvalidType(f"{name} must be a device name such as 'cpu' or 'cuda', got {value!r}")
    try:
        dev = torch.device(value)
    except (RuntimeError, ValueError) as e:
        raise InvalidArgument(
            f"{name} {value!r} is not a device name ('cpu', 'cuda', 'cuda:1', ...)"
        ) from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgument(f"{name} {value!r}: this machine has no CUDA GPU that torch can use")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise InvalidArgument(
            f"{name} {value!r}: only {torch.cuda.device_count()} CUDA device(s) here"
        )
    return dev


def torch_dtype(value, name: str = "dtype"):
    """A floating-point ``torch.dtype`` (or its name: ``"float64"``).

    Example
    -------
    >>> torch_dtype("float64")
    torch.float64
    """
    import torch

    if isinstance(value, str):
        value = getattr(torch, value, None) if value.isidentifier() else None
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise InvalidArgument(
            f"{name} must be a floating-point torch dtype (torch.float32, 'float64', ...), got {value!r}"
        )
    return value
