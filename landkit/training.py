"""One training loop for every lens: :func:`train`."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import numpy as np
import torch

from .capture.noise import gradient_noise
from .capture.recorder import Recorder
from .errors import InvalidArgument, InvalidType
from .progress import Cancelled
from .results import Result
from .tasks import Task
from .validate import device as resolve_device
from .validate import integer, number
from .validate import seed as validate_seed

__all__ = ["StopTraining", "TrainResult", "train"]


class StopTraining(Exception):
    """Raise from a ``callback`` to end training gracefully (the run is marked interrupted).

    Example
    -------
    >>> def stop_early(step, metrics):
    ...     if step >= 20:
    ...         raise lk.StopTraining
    >>> res = lk.train(lk.models.mlp(64, [8], 10), task, steps=100, lr=0.1, eval_every=10,
    ...                callback=stop_early, progress=False)
    >>> res.interrupted, res.steps
    (True, 20)
    """


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class TrainResult(Result):
    """What :func:`train` returns.

    Attributes
    ----------
    final : metrics of the final model on the whole train and test sets (``train_loss``,
        ``test_loss``, ``test_acc``, ...), empty when the run diverged
    history : dict of arrays at the evaluation points (``step``, ``train_loss``, ``test_loss``, ...)
    steps : number of optimisation steps taken
    diverged : whether a non-finite loss stopped training; ``diverged_step`` says when
    interrupted : whether a callback (or Ctrl-C) stopped training early
    seconds : wall time of the loop
    path : where the recorder wrote the run (or None)
    config : the training configuration
    """

    final: dict
    history: dict
    steps: int
    diverged: bool = False
    diverged_step: int | None = None
    interrupted: bool = False
    seconds: float = 0.0
    path: str | None = None
    config: dict = dataclasses.field(default_factory=dict)

    def __repr__(self):
        state = (
            f"diverged at step {self.diverged_step}"
            if self.diverged
            else ("interrupted" if self.interrupted else "finished")
        )
        shown = {k: round(v, 4) for k, v in self.final.items()}
        return f"TrainResult({state}, steps={self.steps}, final={shown}, {self.seconds:.1f}s)"


def _optimizer(name, params, lr, momentum, weight_decay):
    if callable(name) and not isinstance(name, str):
        return name(params)
    key = str(name).lower()
    if key == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if key == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if key == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise InvalidArgument(
        f"optimizer must be 'sgd', 'adam', 'adamw' or a callable params -> torch.optim.Optimizer, got {name!r}"
    )


class _Batches:
    """Minibatches without replacement, reshuffled each epoch from a seeded generator."""

    def __init__(self, n, batch_size, generator, device):
        self.n, self.bs, self.g, self.device = n, batch_size, generator, device
        self.perm, self.pos = None, n

    def next(self):
        if self.bs is None:
            return None
        if self.pos + self.bs > self.n:
            self.perm = torch.randperm(self.n, generator=self.g).to(self.device)
            self.pos = 0
        idx = self.perm[self.pos : self.pos + self.bs]
        self.pos += self.bs
        return idx


def train(
    model: torch.nn.Module,
    task: Task,
    *,
    steps: int,
    lr: float | Callable[[int], float],
    batch_size: int | None = None,
    optimizer="sgd",
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    seed: int = 0,
    recorder: Recorder | None = None,
    device: str | torch.device | None = None,
    eval_every: int | None = None,
    progress=True,
    update: Callable | None = None,
    callback: Callable[[int, dict], None] | None = None,
    noise_samples: int = 256,
) -> TrainResult:
    """Train ``model`` on ``task`` for ``steps`` optimisation steps, optionally recording the run.

    Parameters
    ----------
    steps : number of updates. Step ``s`` denotes the weights after ``s`` updates (0 = initialisation).
    lr : learning rate, or a function ``step -> lr``.
    batch_size : minibatch size (sampled without replacement, reshuffled each epoch); ``None`` = full batch.
    optimizer : ``"sgd"`` (with ``momentum``), ``"adam"``, ``"adamw"``, or a callable
        ``params -> torch.optim.Optimizer``.
    update : a custom update rule ``update(params, grads, lr, step)`` that changes ``params`` in place
        (e.g. mirror descent); replaces the optimizer.
    seed : seeds the data order and any randomness in the forward pass (dropout); the global RNG is
        left untouched. Same seed, same numbers: bit-identical on the CPU.
    recorder : a :class:`landkit.Recorder`; records step 0, the scheduled steps and the last step.
    device : where to train; default the device the model's parameters are on.
    eval_every : evaluate on the whole train/test sets every this many steps (history); default
        about 20 evaluations per run. ``0`` evaluates only at the end.
    progress : True for a progress bar (a widget in Jupyter) with step and loss, False for none, or a
        callable ``(steps done, steps)``; raising :class:`StopTraining` from it (or from
        ``callback``) ends training gracefully.
    callback : ``callback(step, metrics)`` at every evaluation point; raise :class:`StopTraining`
        in it to stop early.
    noise_samples : training samples used for the gradient-noise estimate when the recorder asks for it.

    A non-finite loss stops training at that step: the result says ``diverged`` and everything
    recorded before it is kept (the run's status is ``"diverged"``).

    Example
    -------
    >>> import landkit as lk
    >>> task = lk.tasks.digits(seed=0)
    >>> model = lk.models.mlp(task.in_features, [32], task.n_classes, seed=0)
    >>> res = lk.train(model, task, steps=200, lr=0.1, batch_size=32, progress=False)
    >>> res.final["test_acc"] > 0.8
    True
    """
    steps, batch_size, lr_at, eval_every = _check(model, task, steps, lr, batch_size, eval_every,
                                                  recorder)  # fmt: skip
    momentum = number("momentum", momentum, minimum=0, below=1)
    weight_decay = number("weight_decay", weight_decay, minimum=0)
    noise_samples = integer("noise_samples", noise_samples, minimum=1)
    seed = validate_seed(seed)
    if device is None:  # where the model already is (a CUDA model stays on its GPU)
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    device = resolve_device(device)
    model.to(device)
    model.train()
    x_all, y_all = task.x_train.to(device), task.y_train.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = (
        _UpdateRule(params, update, lr_at(0))
        if update is not None
        else _optimizer(optimizer, params, lr_at(0), momentum, weight_decay)
    )
    config = dict(
        steps=steps, lr=lr if not callable(lr) else repr(lr), batch_size=batch_size,
        optimizer=optimizer if isinstance(optimizer, str) and update is None else repr(update or optimizer),
        momentum=momentum, weight_decay=weight_decay, seed=int(seed), task=task.name, task_info=task.info,
        model=type(model).__name__, n_params=sum(p.numel() for p in model.parameters()),
    )  # fmt: skip
    if getattr(model, "landkit_spec", None):
        config["model_spec"] = model.landkit_spec
    if recorder is not None and not recorder.started:
        recorder.start(model, max_step=steps, config=config, seed=int(seed))
    gen = torch.Generator().manual_seed(int(seed))
    batches = _Batches(task.n_train, batch_size, gen, device)
    noise_idx = torch.randperm(
        task.n_train, generator=torch.Generator().manual_seed(int(seed) + 1)
    )[:noise_samples]

    history: dict[str, list] = {"step": []}
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=f"train {task.name}", unit="step", leave=False)
    elif callable(progress):
        bar = _CallbackBar(progress, steps)
    bar_every = max(1, steps // 200)
    diverged_step = None
    interrupted = False
    step = 0
    metrics: dict = {}
    t0 = time.perf_counter()
    fork_devices = [device] if device.type == "cuda" else []
    failure = (
        None  # the one exit path: set when the loop leaves by an exception other than StopTraining
    )
    try:
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(int(seed))
            for step in range(steps + 1):
                idx = batches.next()
                x, y = (x_all, y_all) if idx is None else (x_all[idx], y_all[idx])
                loss = task.loss(model, x, y)
                if not torch.isfinite(loss):
                    diverged_step = step
                    break
                opt.zero_grad(set_to_none=True)
                loss.backward()
                snap = recorder is not None and (recorder.due(step) or step == steps)
                evaluate = step == steps or bool(eval_every and step % eval_every == 0)
                metrics = (task.evaluate(model) if evaluate or (snap and recorder.evaluates(step))
                           else {})  # fmt: skip
                if evaluate:
                    history["step"].append(step)
                    for k, v in metrics.items():
                        history.setdefault(k, []).append(v)
                if snap:
                    _snapshot(recorder, step, model, loss, metrics, params, lr_at(step), task,
                              x_all, y_all, noise_idx, batch_size)  # fmt: skip
                if evaluate and callback is not None:
                    callback(step, metrics)
                if bar is not None and (step % bar_every == 0 or step == steps):
                    bar.set_postfix(loss=f"{float(loss.detach()):.4g}", refresh=False)
                    bar.update(step - bar.n)  # redraws at most every tqdm mininterval
                if step == steps:
                    break
                if callable(lr):
                    for group in opt.param_groups:
                        group["lr"] = lr_at(step)
                opt.step()
    except (StopTraining, Cancelled):
        interrupted = True
    except BaseException as e:
        failure = e
        raise
    finally:
        if bar is not None:
            bar.close()
        if failure is not None and recorder is not None:
            if isinstance(failure, KeyboardInterrupt):
                recorder.close("interrupted", steps=step)
            else:
                recorder.close("failed", error=repr(failure), steps=step)
    seconds = time.perf_counter() - t0
    if diverged_step is not None:
        final = {}
    elif not interrupted and metrics:  # the evaluation at the last step
        final = metrics
    else:
        final = task.evaluate(model)
    done = diverged_step if diverged_step is not None else step
    status = (
        "diverged" if diverged_step is not None else ("interrupted" if interrupted else "finished")
    )
    if recorder is not None:
        recorder.close(status, steps=done, diverged_step=diverged_step, seconds=seconds, **final)
    return TrainResult(
        final=final,
        history={k: np.asarray(v) for k, v in history.items()},
        steps=done,
        diverged=diverged_step is not None,
        diverged_step=diverged_step,
        interrupted=interrupted,
        seconds=seconds,
        path=str(recorder.path) if recorder is not None else None,
        config=config,
    )


def _check(model, task, steps, lr, batch_size, eval_every, recorder):
    """Validate train()'s arguments; returns (steps, batch_size, lr_at, eval_every) normalised."""
    if not isinstance(task, Task):
        raise InvalidType(
            f"task must be a landkit Task (lk.tasks.digits(), ...), got {type(task).__name__}"
        )
    if not isinstance(model, torch.nn.Module):
        raise InvalidType(f"model must be a torch.nn.Module, got {type(model).__name__}")
    steps = integer("steps", steps, minimum=0)
    if batch_size is not None:
        batch_size = integer("batch_size", batch_size, minimum=1)
        if batch_size > task.n_train:
            raise InvalidArgument(
                f"batch_size {batch_size} is larger than the {task.n_train} training examples of "
                f"{task.name}; pass batch_size=None (or {task.n_train}) for full-batch training"
            )
        if batch_size == task.n_train:
            batch_size = None  # the whole training set: full batch
    if not callable(lr):
        number("lr", lr, minimum=0, strict=True)
    lr_at = lr if callable(lr) else (lambda _s, _lr=float(lr): _lr)
    if eval_every is None:
        eval_every = max(1, steps // 20)
    eval_every = integer("eval_every", eval_every, minimum=0)
    if recorder is not None and not isinstance(recorder, Recorder):
        raise InvalidType(f"recorder must be a landkit.Recorder, got {type(recorder).__name__}")
    if recorder is not None and recorder.grad_noise and task.objective is not None:
        raise InvalidArgument(
            f"grad_noise needs a per-sample loss; {task.name}'s objective is not a mean over samples"
        )
    return steps, batch_size, lr_at, eval_every


def at_chance(accuracy: float, n_classes: int | None) -> bool:
    """Whether an accuracy is no better than guessing among ``n_classes`` (at most 1.5 / n_classes): a
    run that learned nothing, whatever its number says."""
    return bool(n_classes) and accuracy <= 1.5 / n_classes


class _CallbackBar:
    """The tqdm calls train() makes, forwarded to a ``progress(done, total)`` callable."""

    def __init__(self, fn, total):
        self.fn, self.total, self.n = fn, total, 0

    def set_postfix(self, **_):
        pass

    def update(self, k):
        self.n += k
        self.fn(self.n, self.total)

    def close(self):
        pass


class _UpdateRule(torch.optim.Optimizer):
    """A custom ``update(params, grads, lr, step)`` as an optimizer, so that train() has one optimiser
    path; the learning rate lives in the param group like any optimizer's."""

    def __init__(self, params, update, lr):
        super().__init__(params, {"lr": lr})
        self.update, self.t = update, 0

    @torch.no_grad()
    def step(self, closure=None):
        ps = [p for group in self.param_groups for p in group["params"]]
        self.update(ps, [p.grad for p in ps], self.param_groups[0]["lr"], self.t)
        self.t += 1


def _snapshot(
    rec, step, model, loss, metrics, params, lr, task, x_all, y_all, noise_idx, batch_size
):
    scalars = {"batch_loss": loss.detach(), "lr": lr}
    grads = [p.grad for p in params if p.grad is not None]
    if grads:
        norms = torch._foreach_norm(grads)
        # on the CPU, Python's hypot of the per-tensor norms costs half of stacking them into one
        # more tensor; elsewhere one tensor, so that the recorder synchronises once
        scalars["grad_norm"] = (
            math.hypot(*map(float, norms)) if grads[0].device.type == "cpu"
            else torch.linalg.vector_norm(torch.stack(norms))
        )  # fmt: skip
    if rec.evaluate is not False:  # NaN at the snapshots that were not evaluated
        scalars["loss"] = metrics.get("train_loss", np.nan)
        scalars.update({k: v for k, v in metrics.items() if k != "train_loss"})
    else:
        scalars["loss"] = loss.detach()
    if rec.grad_noise:
        idx = noise_idx.to(x_all.device)
        scalars.update(
            gradient_noise(
                model, task.loss_fn, x_all[idx], y_all[idx], batch_size=batch_size or task.n_train
            )
        )
    rec.capture(step, model, force=True, **scalars)
