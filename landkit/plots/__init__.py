"""Matplotlib drawings of landkit's results, one module per lens. Plots never compute heavy things.

``lk.plots.plot(result, ax=None, **style)`` draws any result with its lens's drawing; every drawing is
``plot_x(result, *, ax=None, title=None, ...)`` and returns the Figure.
"""

from .dispatch import plot, plot_collapse_quality, plot_eigenpairs, plot_slice_topology, plot_trace
from .dynamics import plot_mapper, plot_morse, plot_morse_graph
from .glassy import plot_aging, plot_collapse, plot_regimes
from .koopman import plot_distance_matrix, plot_eigenvalues, plot_null
from .landscape import (
    plot_density,
    plot_line,
    plot_merge_tree,
    plot_persistence,
    plot_surface,
    surface_limits,
)
from .style import PALETTE, new_figure, projector, save_figure
from .taxonomy import plot_connectivity, plot_phase_diagrams, plot_phase_map
from .training import plot_curves, plot_history

__all__ = [
    "PALETTE",
    "new_figure",
    "plot",
    "plot_aging",
    "plot_collapse",
    "plot_collapse_quality",
    "plot_connectivity",
    "plot_curves",
    "plot_density",
    "plot_distance_matrix",
    "plot_eigenpairs",
    "plot_eigenvalues",
    "plot_history",
    "plot_line",
    "plot_mapper",
    "plot_merge_tree",
    "plot_morse",
    "plot_morse_graph",
    "plot_null",
    "plot_persistence",
    "plot_phase_diagrams",
    "plot_phase_map",
    "plot_regimes",
    "plot_slice_topology",
    "plot_surface",
    "plot_trace",
    "projector",
    "save_figure",
    "surface_limits",
]
