"""TrainExplorer: train a digits MLP with sliders, watch the loss live, then inspect the recording."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as W

from .. import models, plots, tasks
from ..capture import Recorder, schedules
from ..store import load
from ..training import StopTraining, at_chance, train
from .base import Explorer


class TrainExplorer(Explorer):
    """Sliders for width, learning rate, batch size and steps; Train records a run under ``root``.

    After a run, ``explorer.trajectory`` is the recorded :class:`landkit.Trajectory` and
    ``explorer.result`` the :class:`landkit.TrainResult`.

    Example
    -------
    >>> ex = lk.widgets.TrainExplorer(root="runs/explorer")
    >>> ex.steps.value = 50
    >>> ex.start(wait=True)          # what the Train button does
    """

    run_label = "Train"
    title = "Train an MLP on the digits and record it"

    def __init__(self, root: str | Path = "runs/explorer", *, width: int = 32, lr: float = 0.1,
                 batch_size: int = 32, steps: int = 1000, max_steps: int = 5000, task=None):  # fmt: skip
        self.root = Path(root)
        self.task = task if task is not None else tasks.digits(seed=0)
        self.width = W.IntSlider(value=width, min=2, max=256, step=2, description="width")
        self.lr = W.FloatLogSlider(
            value=lr, base=10, min=-3, max=0.5, step=0.05, description="learning rate"
        )
        self.batch_size = W.Dropdown(
            options=[8, 16, 32, 64, 128, 256, ("full", 0)],
            value=batch_size,
            description="batch size",
        )
        self.steps = W.IntSlider(value=steps, min=10, max=max_steps, step=10, description="steps")
        for w in (self.width, self.lr, self.batch_size, self.steps):
            w.style.description_width = "90px"
        super().__init__(
            [self.width, self.lr, self.batch_size, self.steps], css_class="lk-train-explorer"
        )
        self.trajectory = None
        self.result = None
        self.message.value = "Choose the hyper-parameters and press <b>Train</b>."

    def work(self):
        width, lr, steps = self.width.value, self.lr.value, self.steps.value
        bs = self.batch_size.value or None
        name = f"w{width}-lr{lr:.3g}-bs{bs or 'full'}-{steps}steps"
        path = self.root / name
        model = models.mlp(self.task.in_features, [width], self.task.n_classes, seed=0)
        rec = Recorder(path, schedule=schedules.geometric(1, steps, 60), overwrite=True)
        history: dict[str, list] = {"step": [], "train_loss": [], "test_loss": []}
        fig, ax = plots.new_figure(width=6.0, height=3.4)

        def redraw(final=False):
            with self.drawing:  # the canvas may be drawing this figure for the browser meanwhile
                ax.clear()
                for i, key in enumerate(("train_loss", "test_loss")):
                    ax.plot(history["step"], history[key], label=key.replace("_", " "), marker=".",
                            color=plots.PALETTE[i])  # fmt: skip
                ax.set_xlim(0, steps)
                ax.set_yscale("log")
                ax.set_xlabel("training step")
                ax.set_ylabel("cross-entropy loss")
                ax.set_title(f"width {width}, lr {lr:.3g}, batch {bs or 'full'}")
                ax.grid(alpha=0.3)
                ax.legend(frameon=False)
            self.show_figure(fig, throttle=0.0 if final else 0.25)

        def on_eval(step, metrics):
            for k in ("train_loss", "test_loss"):
                history[k].append(metrics[k])
            history["step"].append(step)
            self.progress(step / steps, f"step {step}/{steps}: train loss {metrics['train_loss']:.4f}, "
                                        f"test accuracy {metrics.get('test_acc', float('nan')):.3f}")  # fmt: skip
            redraw()
            if self.stopping:
                raise StopTraining

        self.progress(0.0, "training...")
        self.result = train(model, self.task, steps=steps, lr=lr, batch_size=bs, seed=0, recorder=rec,
                            eval_every=max(1, steps // 50), callback=on_eval, progress=False)  # fmt: skip
        redraw(final=True)
        self.trajectory = load(path)
        state = (
            "stopped"
            if self.result.interrupted
            else ("diverged" if self.result.diverged else "done")
        )
        acc = self.result.final.get("test_acc", float("nan"))
        self.progress(1.0 if state == "done" else self.bar.value,
                      f"{state}: test accuracy {acc:.3f}{_chance_note(self.result, self.task)}; "
                      f"{len(self.trajectory)} snapshots recorded in <code>{path}</code>")  # fmt: skip


def _chance_note(result, task) -> str:
    """A warning when a run ended no better than guessing, or diverged: a number alone says nothing."""
    if result.diverged:
        return (" — <b>the loss became infinite</b>: the learning rate is too high for this model; "
                "lower it")  # fmt: skip
    n = getattr(task, "n_classes", None)
    acc = result.final.get("test_acc")
    if acc is not None and at_chance(acc, n):
        return (f" — <b>no better than chance</b> (1/{n} = {1 / n:.3f}): the model learned nothing; "
                "a learning rate this high often does that")  # fmt: skip
    return ""
