"""Matplotlib drawings of landkit's results, one module per lens. Plots never compute heavy things."""

from .koopman import plot_distance_matrix, plot_eigenvalues, plot_null
from .style import PALETTE, new_figure, save_figure
from .training import plot_curves, plot_history

__all__ = [
    "PALETTE",
    "new_figure",
    "plot_curves",
    "plot_distance_matrix",
    "plot_eigenvalues",
    "plot_history",
    "plot_null",
    "save_figure",
]
