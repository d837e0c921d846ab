"""Exceptions raised by landkit.

Every error landkit raises on purpose is a :class:`LandkitError`, so ``except landkit.LandkitError``
catches all of them. The argument errors are also the builtin they stand for: ``InvalidArgument`` is a
``ValueError`` and ``InvalidType`` a ``TypeError``, so ``except ValueError`` keeps working.

Example
-------
>>> import landkit as lk
>>> try:
...     lk.tasks.digits(n_train=-3)
... except lk.LandkitError as e:
...     print(type(e).__name__, isinstance(e, ValueError))
InvalidArgument True
"""


class LandkitError(Exception):
    """Base class of the errors landkit raises on purpose."""


class InvalidArgument(LandkitError, ValueError):
    """An argument has a value landkit cannot use; the message names it and says what to do."""


class InvalidType(LandkitError, TypeError):
    """An argument has a type landkit cannot use; the message names it and what was expected."""


class StoreError(LandkitError):
    """A trajectory store on disk is missing, truncated, corrupted or of another schema."""


class RunExistsError(LandkitError, FileExistsError):
    """Recording into a directory that already holds a run, without ``overwrite`` or ``resume``."""
