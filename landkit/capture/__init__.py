"""What to keep while training: the :class:`Recorder`, its schedules, sketches and noise estimates."""

from . import schedules
from .noise import gradient_noise
from .recorder import Recorder, RecordingSlowWarning
from .schedules import at, every, geometric
from .sketch import CountSketch

__all__ = [
    "CountSketch",
    "Recorder",
    "RecordingSlowWarning",
    "at",
    "every",
    "geometric",
    "gradient_noise",
    "schedules",
]
