"""Drawings of the Koopman lens: eigenvalues on the unit circle, distance heatmaps, the permutation null."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .style import PALETTE, house_style, new_figure

_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def plot_eigenvalues(spectra, labels: Sequence[str] | None = None, *, ax=None,
                     zoom: bool | str = "auto", title: str | None = None):  # fmt: skip
    """Koopman eigenvalues in the complex plane with the unit circle, one colour per group.

    ``spectra``: a KoopmanSpectrum, a list of them, or a dict label -> spectrum (or eigenvalue array).
    ``zoom=True`` frames the eigenvalues instead of the whole unit disc; ``"auto"`` (default) zooms
    when they crowd into a small part of it (training spectra cluster near 1, where the whole disc
    shows one blob).

    Example
    -------
    >>> fig = lk.plots.plot_eigenvalues({"a": np.array([0.99, 0.98 + 0.01j, 0.98 - 0.01j])})
    >>> ax = fig.axes[0]; bool(ax.get_xlim()[1] - ax.get_xlim()[0] < 0.5)   # zoomed in on the cluster
    True
    """
    if isinstance(spectra, Mapping):
        labels, spectra = list(spectra), list(spectra.values())
    elif not isinstance(spectra, (list, tuple)):
        spectra = [spectra]
    labels = list(labels) if labels is not None else [f"group {i + 1}" for i in range(len(spectra))]
    if ax is None:
        _, ax = new_figure(width=4.6, height=4.4)
    with house_style():
        t = np.linspace(0, 2 * np.pi, 400)
        ax.plot(np.cos(t), np.sin(t), color="0.6", lw=1, ls="--", label="|λ| = 1")
        ax.axhline(0, color="0.85", lw=0.8)
        ax.axvline(0, color="0.85", lw=0.8)
        for i, (s, lab) in enumerate(zip(spectra, labels)):
            eig = np.asarray(getattr(s, "eigenvalues", s))
            ax.scatter(eig.real, eig.imag, s=36, marker=_MARKERS[i % len(_MARKERS)], facecolor="none",
                       edgecolor=PALETTE[i % len(PALETTE)], lw=1.4, label=lab)  # fmt: skip
        ax.set_aspect("equal")
        ax.set_xlabel("Re λ")
        ax.set_ylabel("Im λ")
        allz = np.concatenate([np.asarray(getattr(s, "eigenvalues", s)).ravel() for s in spectra])
        if zoom == "auto":
            zoom = bool(len(allz)) and max(np.ptp(allz.real), np.ptp(allz.imag)) < 0.5
        if (
            zoom
        ):  # frame the eigenvalues (the unit circle passes through the frame as a reference arc)
            # the middle of their range, not their mean: a frame centred on the mean of a skewed set
            # cuts the outlying eigenvalue in half at its edge
            cx = (allz.real.min() + allz.real.max()) / 2
            cy = (allz.imag.min() + allz.imag.max()) / 2
            half = max(np.ptp(allz.real), np.ptp(allz.imag), 0.02) * 0.6
            ax.set_xlim(cx - half, cx + half)
            ax.set_ylim(cy - half, cy + half)
            from matplotlib.ticker import MaxNLocator

            for axis in (ax.xaxis, ax.yaxis):  # a narrow frame: few ticks, or their labels collide
                axis.set_major_locator(MaxNLocator(nbins=4))
        else:
            lim = max(1.1, np.abs(allz).max() * 1.05)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
        ax.legend(
            frameon=True, framealpha=0.9, fontsize=10, loc="upper left", bbox_to_anchor=(1.01, 1.0)
        )
        ax.set_title(title or "Koopman eigenvalues")
    return ax.figure


def plot_distance_matrix(distances, labels: Sequence[str] | None = None, *, ax=None, log: bool = False,
                         title: str = "Wasserstein distance\nbetween spectra"):  # fmt: skip
    """A heatmap of a distance matrix (``log=True`` colours by log10 distance), values annotated when small."""
    d = np.asarray(distances, dtype=float)
    if ax is None:
        _, ax = new_figure(width=5.0, height=4.4)
    with house_style():
        shown = np.log10(np.where(d > 0, d, np.nan)) if log else d
        im = ax.imshow(shown, cmap="viridis")
        cb = ax.figure.colorbar(im, ax=ax, shrink=0.85)
        cb.set_label("log10 W" if log else "W")
        n = len(d)
        if labels is not None:
            ax.set_xticks(range(n), labels, rotation=45, ha="right")
            ax.set_yticks(range(n), labels)
        if n <= 8:
            for i in range(n):
                for j in range(n):
                    ax.text(j, i, f"{d[i, j]:.3g}", ha="center", va="center", fontsize=9,
                            color="white" if np.isfinite(shown[i, j]) and shown[i, j] < np.nanmean(shown) else "black")  # fmt: skip
        ax.set_title(title)
    return ax.figure


def plot_null(result, *, ax=None, label: str | None = None, title: str | None = None):
    """The permutation null of a conjugacy test with the observed distance and the within-group spread."""
    if ax is None:
        _, ax = new_figure(width=5.0, height=3.4)
    with house_style():
        ax.hist(
            result.null,
            bins=30,
            color=PALETTE[5],
            alpha=0.8,
            label=(
                f"null ({len(result.null)} resample pairs)"
                if result.method == "bootstrap"
                else f"null ({result.n_resamples} re-splits)"
            ),
        )
        ax.axvline(
            result.distance,
            color=PALETTE[3],
            lw=2.2,
            label=f"observed W = {result.distance:.3g} (p = {result.p_value:.3g})",
        )
        if np.isfinite(result.within):
            ax.axvline(
                result.within,
                color=PALETTE[2],
                lw=1.6,
                ls="--",
                label=f"within-group ≈ {result.within:.3g}",
            )
        ax.set_xlabel("Wasserstein distance between spectra")
        ax.set_ylabel("count")
        ax.set_title(title or label or "conjugacy test")
        ax.legend(frameon=False, fontsize=10)
    return ax.figure
