"""One progress and cancel protocol for every call that can take more than a second.

``progress=True`` shows a bar (``tqdm.auto``: a widget in Jupyter, text in a terminal),
``progress=False`` nothing, and a callable ``progress(done, total)`` is called as work advances; it may
raise :class:`Cancelled` to stop the work (the explorers' Stop button does exactly that).

Example
-------
>>> import landkit as lk
>>> seen = []
>>> with lk.progress.Progress(lambda done, total: seen.append((done, total)), 3) as bar:
...     for _ in range(3):
...         bar.update()
>>> seen
[(1, 3), (2, 3), (3, 3)]
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import InvalidType, LandkitError

__all__ = ["Cancelled", "Progress"]


class Cancelled(LandkitError):
    """Raised by a progress callback to stop the work that calls it."""


class Progress:
    """Counts work done and reports it the way ``progress`` asks (see the module docstring).

    Used as a context manager: ``with Progress(progress, total, "what") as bar: bar.update()``.
    Where ``progress`` is False, ``bar`` is None, so a loop can skip the bookkeeping.
    """

    def __init__(self, progress: bool | Callable[[int, int], None], total: int, desc: str = "",
                 unit: str = "it", initial: int = 0):  # fmt: skip
        if not (isinstance(progress, bool) or callable(progress) or progress is None):
            raise InvalidType(
                "progress must be True, False or a callable (done, total), "
                f"got {type(progress).__name__}"
            )
        self.total, self.done = int(total), int(initial)
        self._fn = progress if callable(progress) and not isinstance(progress, bool) else None
        self._bar = None
        if progress is True:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=False)

    def __enter__(self):
        return self if (self._bar is not None or self._fn is not None) else None

    def __exit__(self, *exc):
        self.close()
        return False

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        if self._fn is not None:
            self._fn(self.done, self.total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
