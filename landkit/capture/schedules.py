"""When to take snapshots: ``every(k)``, ``geometric(first, last, num)``, ``at(steps)``, combined with ``|``.

Example
-------
>>> from landkit.capture import schedules
>>> s = schedules.every(100) | schedules.at([5, 7])
>>> s.steps(300).tolist()
[0, 5, 7, 100, 200, 300]
>>> schedules.geometric(1, 1000, 7).steps().tolist()
[1, 3, 10, 32, 100, 316, 1000]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..errors import InvalidArgument
from ..validate import integer

__all__ = ["Schedule", "at", "every", "geometric"]


class Schedule:
    """A set of training steps. ``step in schedule`` tests membership; ``steps(upto)`` lists them."""

    def __contains__(self, step: int) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def steps(self, upto: int | None = None) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def count(self, upto: int) -> int:
        """How many steps in ``0..upto`` are scheduled."""
        return len(self.steps(upto))

    def __or__(self, other: Schedule) -> Schedule:
        if not isinstance(other, Schedule):
            return NotImplemented
        return _Union((self, other))

    def to_json(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError


def _int(name, v, minimum=0):
    return integer(name, v, minimum=minimum)


class every(Schedule):
    """Every ``k``-th step from ``start``: start, start+k, start+2k, ...

    Example
    -------
    >>> lk.schedules.every(10).steps(35).tolist()
    [0, 10, 20, 30]
    >>> 20 in lk.schedules.every(10)
    True
    """

    def __init__(self, k: int, start: int = 0):
        self.k = _int("k", k, 1)
        self.start = _int("start", start)

    def __contains__(self, step):
        return step >= self.start and (step - self.start) % self.k == 0

    def steps(self, upto=None):
        if upto is None:
            raise InvalidArgument("every(k) is unbounded: pass upto= to list its steps")
        return np.arange(self.start, int(upto) + 1, self.k, dtype=np.int64)

    def count(self, upto):
        return 0 if upto < self.start else (int(upto) - self.start) // self.k + 1

    def __repr__(self):
        return f"every({self.k}" + (f", start={self.start})" if self.start else ")")

    def to_json(self):
        return {"every": self.k, "start": self.start}


class at(Schedule):
    """Exactly the given steps.

    Example
    -------
    >>> lk.schedules.at([0, 3, 7]).steps(10).tolist()
    [0, 3, 7]
    """

    def __init__(self, steps: Iterable[int]):
        if isinstance(steps, (str, bytes)) or not hasattr(steps, "__iter__"):
            raise InvalidArgument(f"steps must be a list of training steps, got {steps!r}")
        arr = np.unique(np.asarray([_int("steps", v) for v in steps], dtype=np.int64))
        self._steps = arr
        self._set = set(arr.tolist())

    def __contains__(self, step):
        return int(step) in self._set

    def steps(self, upto=None):
        return self._steps if upto is None else self._steps[self._steps <= upto]

    def __repr__(self):
        return f"at({self._steps.tolist()})"

    def to_json(self):
        return {"at": self._steps.tolist()}


class geometric(at):
    """Log-spaced integer steps from ``first`` to ``last`` (both included), deduplicated.

    Asking for more points than there are integers early on gives fewer than ``num`` steps (every
    integer is kept once): ``geometric(1, 10, 20)`` is ``1..10``. These are the waiting times of aging plots.

    Example
    -------
    >>> lk.schedules.geometric(1, 1000, 8).steps().tolist()   # log-spaced: dense early, sparse late
    [1, 3, 7, 19, 52, 139, 373, 1000]
    >>> (lk.schedules.geometric(1, 1000, 8) | lk.schedules.every(250)).count(1000)   # a union
    12
    """

    def __init__(self, first: int, last: int, num: int):
        first, last, num = _int("first", first, 1), _int("last", last, 1), _int("num", num, 1)
        if last < first:
            raise InvalidArgument(f"last ({last}) must be >= first ({first})")
        if num < 2 and last != first:
            raise InvalidArgument(
                f"num must be >= 2 to include both first ({first}) and last ({last}), got {num}"
            )
        self.first, self.last, self.num = first, last, num
        super().__init__(np.round(np.geomspace(first, last, num)).astype(np.int64))

    def __repr__(self):
        return f"geometric({self.first}, {self.last}, {self.num})"

    def to_json(self):
        return {"geometric": [self.first, self.last, self.num]}


class _Union(Schedule):
    def __init__(self, parts):
        self.parts = []
        for p in parts:
            self.parts.extend(p.parts if isinstance(p, _Union) else [p])

    def __contains__(self, step):
        return any(step in p for p in self.parts)

    def steps(self, upto=None):
        return np.unique(np.concatenate([p.steps(upto) for p in self.parts]))

    def __repr__(self):
        return " | ".join(map(repr, self.parts))

    def to_json(self):
        return {"union": [p.to_json() for p in self.parts]}
