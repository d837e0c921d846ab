"""Matplotlib drawings of landkit's results, one module per lens. Plots never compute heavy things."""

from .style import PALETTE, new_figure, save_figure
from .training import plot_curves, plot_history

__all__ = ["PALETTE", "new_figure", "plot_curves", "plot_history", "save_figure"]
