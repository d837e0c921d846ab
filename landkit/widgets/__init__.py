"""ipywidgets explorers: thin compositions of a lens and its plots, with one shared look."""

from .base import Explorer
from .koopman import SpectrumExplorer
from .landscape import LandscapeExplorer
from .train import TrainExplorer

__all__ = ["Explorer", "LandscapeExplorer", "SpectrumExplorer", "TrainExplorer"]
