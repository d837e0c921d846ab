"""Exceptions raised by landkit.

Every error a user can provoke is a ``ValueError``/``TypeError`` naming the argument, or one of the
classes below, so that ``except landkit.LandkitError`` catches everything the kit raises on purpose.
"""


class LandkitError(Exception):
    """Base class of the errors landkit raises on purpose."""


class StoreError(LandkitError):
    """A trajectory store on disk is missing, truncated, corrupted or of another schema."""


class RunExistsError(LandkitError, FileExistsError):
    """Recording into a directory that already holds a run, without ``overwrite`` or ``resume``."""
