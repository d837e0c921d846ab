"""Training curves: scalars of recorded runs against the training step."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InvalidArgument
from .style import PALETTE, house_style, new_figure

_LABELS = {
    "loss": "train loss",
    "train_loss": "train loss",
    "test_loss": "test loss",
    "test_acc": "test accuracy",
    "train_acc": "train accuracy",
    "grad_norm": "gradient norm ‖∇L‖",
    "lr": "learning rate",
    "batch_loss": "minibatch loss",
}


def _label(metric: str) -> str:
    return _LABELS.get(metric, metric.replace("_", " "))


def plot_curves(
    runs,
    metrics: Sequence[str] = ("loss", "test_acc"),
    *,
    group_by: str | None = None,
    logx: bool = True,
    logy: bool | None = None,
    axes=None,
):
    """Plot recorded scalars against the training step, one panel per metric.

    ``runs``: a :class:`landkit.Trajectory`, a list of them, or a :class:`landkit.RunSet`. With
    ``group_by="width"`` runs of one config value share a colour and their median is drawn bold over
    the individual runs (thin). Step 0 is drawn at the left edge of a log axis.

    Returns the figure.

    Example
    -------
    >>> fig = lk.plots.plot_curves(runs, group_by="width")
    """

    trajs = [runs] if hasattr(runs, "scalars") else list(runs)
    if not trajs:
        raise InvalidArgument("no runs to plot")
    configs = getattr(runs, "configs", None) or [t.config for t in trajs]
    metrics = [m for m in metrics if any(m in t.scalars for t in trajs)]
    if not metrics:
        raise InvalidArgument(
            f"none of the metrics is recorded; available: {sorted(trajs[0].scalars)}"
        )
    if axes is None:
        _, axes = new_figure(len(metrics))
    axes = np.atleast_1d(axes)
    fig = axes[0].figure
    keys = [c.get(group_by) for c in configs] if group_by else [None] * len(trajs)
    levels = list(dict.fromkeys(keys))
    with house_style():
        for ax, metric in zip(axes, metrics):
            for li, level in enumerate(levels):
                colour = PALETTE[li % len(PALETTE)]
                members = [t for t, k in zip(trajs, keys) if k == level and metric in t.scalars]
                for t in members:
                    x = np.maximum(t.steps, 0.5) if logx else t.steps  # step 0 at the left edge
                    y = np.asarray(t.scalars[metric], dtype=float)
                    ok = ~np.isnan(y)  # a metric evaluated at some snapshots only: its points
                    ax.plot(
                        x[ok],
                        y[ok],
                        color=colour,
                        lw=0.8,
                        alpha=0.35 if len(members) > 1 else 1,
                    )
                if len(members) > 1 and len({len(t) for t in members}) == 1:
                    med = np.median(np.stack([t.scalars[metric] for t in members]), axis=0)
                    x = np.maximum(members[0].steps, 0.5) if logx else members[0].steps
                    ok = ~np.isnan(med)
                    ax.plot(
                        x[ok],
                        med[ok],
                        color=colour,
                        lw=2.2,
                        label=f"{group_by}={level} (median of {len(members)})"
                        if group_by
                        else f"median of {len(members)}",
                    )
                elif group_by:
                    ax.plot([], [], color=colour, lw=2, label=f"{group_by}={level}")
            if logx:
                ax.set_xscale("log")
            if logy or (logy is None and "loss" in metric):
                ax.set_yscale("log")
            ax.set_xlabel("training step" + (" (log scale; 0 drawn at 0.5)" if logx else ""))
            ax.set_ylabel(_label(metric))
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(frameon=False)
    return fig


def plot_history(result, metrics: Sequence[str] = ("train_loss", "test_loss"), *, ax=None,
                 title: str | None = None, log_steps: bool = False):  # fmt: skip
    """Curves of a :class:`landkit.TrainResult`'s evaluation history (or of a history dict with a
    ``"step"`` array): losses on a log scale, accuracies on a linear one; ``log_steps`` puts the
    steps on a log scale too (long runs such as grokking).

    Example
    -------
    >>> h = {"step": np.array([0, 10, 100]), "train_acc": np.array([0.1, 0.9, 1.0]),
    ...      "test_acc": np.array([0.1, 0.1, 0.95])}
    >>> fig = lk.plots.plot_history(h, ("train_acc", "test_acc"), log_steps=True)
    """

    history = getattr(result, "history", result)
    if not isinstance(history, dict) or "step" not in history:
        raise InvalidArgument("result: a TrainResult or a history dict with a 'step' array")
    missing = [m for m in metrics if m not in history]
    if len(missing) == len(metrics):
        raise InvalidArgument(
            f"none of {list(metrics)} is in the history; it holds {sorted(history)}"
        )
    if ax is None:
        _, ax = new_figure()
    with house_style():
        steps = np.asarray(history["step"], dtype=float)
        for m in metrics:
            if m in history:
                x, y = steps, np.asarray(history[m], dtype=float)
                if log_steps:  # step 0 has no place on a log axis
                    x, y = x[steps > 0], y[steps > 0]
                ax.plot(x, y, label=_label(m))
        ax.set_xlabel("training step")
        if all("loss" in m for m in metrics):
            ax.set_ylabel("loss (cross-entropy)")
            ax.set_yscale("log")
        elif all("acc" in m for m in metrics):
            ax.set_ylabel("accuracy")
        else:
            ax.set_ylabel(_label(metrics[0]) if len(metrics) == 1 else "value")
        if log_steps:
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
        if title:
            ax.set_title(title)
    return ax.figure
