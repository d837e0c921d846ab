"""ipywidgets explorers: thin compositions of a lens and its plots, with one shared look."""

from .atlas import Atlas, Selection
from .base import Explorer
from .dynamics import MapperExplorer, MorseExplorer
from .glassy import AgingExplorer
from .koopman import SpectrumExplorer
from .landscape import LandscapeExplorer
from .taxonomy import PhaseExplorer
from .train import TrainExplorer

__all__ = [
    "AgingExplorer",
    "Atlas",
    "Explorer",
    "LandscapeExplorer",
    "MapperExplorer",
    "MorseExplorer",
    "PhaseExplorer",
    "Selection",
    "SpectrumExplorer",
    "TrainExplorer",
]
