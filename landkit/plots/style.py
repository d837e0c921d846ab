"""The house look: a colour-blind-safe palette (Okabe–Ito), readable sizes, exportable figures."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import matplotlib

# Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

RC = {
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    # titles just above the axes: no search for top-side tick labels at every drawing (a fifth of
    # a two-panel figure's drawing time); no landkit figure puts tick labels on top
    "axes.titley": 1.0,
    "figure.dpi": 100,
    "savefig.dpi": 120,
    "savefig.bbox": "tight",
}


_DISPLAY_HOOKED = False
_SCALE = 1.0  # the projector scale: text, lines and markers this much larger in the same pixels


_RC_LOCK = threading.RLock()


@contextlib.contextmanager
def house_style():
    """landkit's style (:data:`RC`) for the duration of one drawing, one drawing at a time.

    matplotlib's rcParams are one global dict and ``rc_context`` saves and restores it without a lock:
    two explorers drawing in background threads (or a thread and the notebook) interleave their save
    and restore, and the house style stays set for every later figure of the user's (seen: a test's
    figures grew from 500 to 550 pixels after an Atlas mapped in the background). Every landkit drawing
    goes through this one lock.
    """
    with _RC_LOCK, matplotlib.rc_context(RC):
        yield


@contextlib.contextmanager
def rendering():
    """One rendering of a figure (an Agg draw, a ``savefig``) at a time, with every landkit drawing.

    matplotlib shares one FreeType font object per font file between figures, and it is not
    thread-safe: an explorer rendering in its work thread while another figure renders elsewhere
    (the notebook, a canvas drawing for the browser) fails now and then with "failed to load glyph"
    (seen in the test suite once the atlas computed more in the background). The same lock as
    :func:`house_style`, so a drawing and a rendering never interleave either.
    """
    with _RC_LOCK:
        yield


def projector(on: bool = True, *, scale: float = 1.5) -> float:
    """One switch for a room: every figure drawn afterwards (notebook cells and every explorer) keeps
    its size in pixels but draws text, lines and markers ``scale`` times larger. ``projector(False)``
    goes back. Returns the scale now in force.

    Example
    -------
    >>> lk.plots.projector(True)
    1.5
    >>> fig, ax = lk.plots.new_figure()
    >>> round(fig.get_dpi())                       # 1.5 × 100 dpi on a figure 1.5 × smaller in inches
    150
    >>> lk.plots.projector(False)
    1.0
    """
    global _SCALE
    if on:
        scale = float(scale)
        if not 1.0 <= scale <= 4.0:
            from ..errors import InvalidArgument

            raise InvalidArgument(f"scale must be between 1 and 4, got {scale}")
    _SCALE = float(scale) if on else 1.0
    return _SCALE


def scale() -> float:
    """The projector scale in force (1.0 when off)."""
    return _SCALE


def _hook_display():
    """Let Jupyter show landkit's pyplot-free figures as PNG when a cell returns one."""
    global _DISPLAY_HOOKED
    if _DISPLAY_HOOKED:
        return
    _DISPLAY_HOOKED = True
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    from matplotlib.figure import Figure

    def png(fig):
        import io

        buf = io.BytesIO()
        with rendering():
            fig.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()

    shell.display_formatter.formatters["image/png"].for_type(Figure, png)


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 4.6, height: float = 3.4, **kw):
    """A figure with the house style and ``nrows × ncols`` axes (an array when more than one)."""
    from matplotlib.figure import Figure

    # A pyplot-free Figure: safe to draw from a widget's background thread, never shown twice by
    # the inline backend, garbage-collected like any object. Jupyter displays it when returned.
    _hook_display()
    k = _SCALE  # projector: fewer inches at more dots per inch, so points (text, markers) grow
    with house_style():
        fig = Figure(figsize=(width * ncols / k, height * nrows / k), dpi=RC["figure.dpi"] * k,
                     layout="constrained")  # fmt: skip
        axes = fig.subplots(nrows, ncols, squeeze=True, **kw)
    return fig, axes


def save_figure(fig, path: str | Path, *, formats=("png", "svg")) -> list[Path]:
    """Save ``fig`` as ``path.png`` and ``path.svg`` (or the given formats); returns the paths."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        p = path.with_suffix(f".{fmt}")
        with rendering():
            fig.savefig(p, format=fmt)
        out.append(p)
    return out
