"""Built-in tasks: data, loss and metrics, all offline and deterministic given ``seed``.

A :class:`Task` carries its train/test tensors, its loss, its metrics and what a model needs to know
about it (``in_features``, ``n_classes`` or ``out_features``, ``input_shape``).

Example
-------
>>> import landkit as lk
>>> task = lk.tasks.digits(seed=0)
>>> task.x_train.shape[1], task.n_classes
(64, 10)
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import validate
from .errors import InvalidArgument, InvalidType

__all__ = [
    "Task",
    "as_task",
    "convection",
    "digits",
    "from_config",
    "iris",
    "modular_addition",
    "subset",
    "teacher_student",
]


def _accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return (outputs.argmax(dim=-1) == targets).float().mean()


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
    """A supervised learning problem small enough for a laptop.

    Attributes
    ----------
    name : str
    x_train, y_train, x_test, y_test : torch.Tensor
    loss_fn : callable ``(outputs, targets) -> scalar tensor`` (mean over the batch)
    kind : ``"classification"`` or ``"regression"``
    in_features : int, the flattened input size
    input_shape : tuple, the shape of one input (``(64,)`` flat, ``(1, 8, 8)`` as an image, ...)
    n_classes : int or None, for classification
    out_features : int, what the model's last layer must produce
    metrics : dict name -> ``(outputs, targets) -> scalar tensor``
    info : dict of the options that built the task (JSON-serialisable)
    objective : None, or ``(f, x, y) -> scalar tensor``: a training loss that needs the model as a
        function ``f`` rather than its outputs (a PINN's residual uses derivatives of ``f`` with
        respect to its inputs). When set it is the training loss (``train_loss``), evaluated on the
        whole training set at once; ``loss_fn`` and ``metrics`` still score ``x_test``/``y_test``.

    Example
    -------
    >>> t = lk.tasks.digits(seed=0)
    >>> t.in_features, t.n_classes, sorted(t.evaluate(lk.models.mlp(64, [8], 10)))[:2]
    (64, 10, ['test_acc', 'test_loss'])
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    kind: str
    in_features: int
    input_shape: tuple
    out_features: int
    n_classes: int | None = None
    metrics: dict = dataclasses.field(default_factory=dict)
    info: dict = dataclasses.field(default_factory=dict)
    objective: Callable | None = None

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    def loss(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The task's loss of ``model`` on the batch ``(x, y)``."""
        if self.objective is not None:
            return self.objective(model, x, y)
        return self.loss_fn(model(x), y)

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, *, batch_size: int = 4096) -> dict[str, float]:
        """Loss and metrics on the whole train and test sets: ``train_loss``, ``test_loss``,
        and ``train_<metric>``/``test_<metric>`` for each metric (e.g. ``test_acc``)."""
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        out = {}
        try:
            for split, x, y in (
                ("train", self.x_train, self.y_train),
                ("test", self.x_test, self.y_test),
            ):
                if len(x) == 0:
                    continue
                if split == "train" and self.objective is not None:
                    out["train_loss"] = float(self.objective(model, x.to(device), y.to(device)))
                    continue
                outputs = torch.cat(
                    [model(x[i : i + batch_size].to(device)) for i in range(0, len(x), batch_size)]
                )
                y = y.to(device)
                out[f"{split}_loss"] = float(self.loss_fn(outputs, y))
                for name, fn in self.metrics.items():
                    out[f"{split}_{name}"] = float(fn(outputs, y))
        finally:
            model.train(was_training)
        return out

    def replace(self, **changes) -> Task:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


def _keep_classes(x, y, classes, n_classes: int):
    """The samples of ``classes`` (at least two distinct labels in 0..n_classes-1, increasing),
    relabelled 0..k-1; returns (x, y, classes as a list)."""
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise InvalidType(f"classes must be a list of class labels, got {classes!r}")
    classes = [validate.integer("classes", c) for c in classes]
    if len(set(classes)) < 2 or not all(0 <= c < n_classes for c in classes):
        raise InvalidArgument(
            f"classes must be at least two distinct classes in 0..{n_classes - 1}, got {classes}"
        )
    if classes != sorted(classes):
        raise InvalidArgument(f"classes must be given in increasing order, got {classes}")
    keep = np.isin(y, classes)
    return x[keep], np.searchsorted(classes, y[keep]), classes


def _check_seed(seed) -> int:
    return validate.seed(seed)


def _split(n: int, test_frac: float, rng: np.random.Generator, y: np.ndarray | None = None):
    """A (stratified when ``y`` is given) random split into train and test indices."""
    test_frac = validate.number("test_frac", test_frac, minimum=0, strict=True, below=1)
    if y is None:
        perm = rng.permutation(n)
        n_test = round(test_frac * n)
        return np.sort(perm[n_test:]), np.sort(perm[:n_test])
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = round(test_frac * len(idx))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _noisy_labels(y: np.ndarray, n_classes: int, frac: float, rng: np.random.Generator):
    frac = validate.number("label_noise", frac)
    if not 0.0 <= frac <= 1.0:
        raise InvalidArgument(f"label_noise must be a fraction in [0, 1], got {frac}")
    y = y.copy()
    flip = rng.random(len(y)) < frac
    # a uniformly random *other* class for each flipped label
    y[flip] = (y[flip] + rng.integers(1, n_classes, flip.sum())) % n_classes
    return y


def _classification(
    name, x, y, n_classes, *, seed, test_frac, n_train, label_noise, input_shape, info
):
    rng = np.random.default_rng(seed)
    tr, te = _split(len(x), test_frac, rng, y)
    if n_train is not None:
        n_train = validate.integer("n_train", n_train)
        if not 0 < n_train <= len(tr):
            raise InvalidArgument(f"n_train must be in [1, {len(tr)}] for {name}, got {n_train}")
        tr = np.sort(rng.choice(tr, n_train, replace=False))
    y_tr = y[tr]
    if label_noise:
        y_tr = _noisy_labels(y_tr, n_classes, label_noise, rng)
    return Task(
        name=name,
        x_train=torch.as_tensor(x[tr], dtype=torch.float32),
        y_train=torch.as_tensor(y_tr, dtype=torch.long),
        x_test=torch.as_tensor(x[te], dtype=torch.float32),
        y_test=torch.as_tensor(y[te], dtype=torch.long),
        loss_fn=F.cross_entropy,
        kind="classification",
        in_features=int(np.prod(input_shape)),
        input_shape=tuple(input_shape),
        out_features=n_classes,
        n_classes=n_classes,
        metrics={"acc": _accuracy},
        info=info,
    )


@functools.cache
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(pixels 0–16, labels) of scikit-learn's bundled digits, read once per process from the data file
    it ships, without importing scikit-learn: that import costs about 1.5 s, paid by every fresh
    process (a sweep's workers, a notebook's kernel) before its first run. Where the file is not where
    scikit-learn keeps it, ``load_digits()`` (the same numbers; ``tests/test_tasks_models.py``)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")
    for root in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",")
            if table.shape == (1797, 65):
                x, y = table[:, :-1], table[:, -1].astype(np.int64)
                break
    else:
        from sklearn.datasets import load_digits

        data = load_digits()
        x, y = np.asarray(data.data, dtype=np.float64), data.target.astype(np.int64)
    x.flags.writeable = y.flags.writeable = False  # shared by every call in this process
    return x, y


def digits(
    *,
    seed: int = 0,
    classes: Sequence[int] | None = None,
    n_train: int | None = None,
    flatten: bool = True,
    test_frac: float = 0.2,
    label_noise: float = 0.0,
) -> Task:
    """scikit-learn's bundled 8×8 handwritten digits (1797 images, no download).

    Pixels are scaled to [0, 1]. ``classes=(0, 1)`` keeps a subset, relabelled 0..k-1;
    ``n_train`` subsamples the training set; ``flatten=False`` gives ``(1, 8, 8)`` images for a CNN;
    ``label_noise`` flips that fraction of training labels to another class. The split is stratified.

    Example
    -------
    >>> t = digits(classes=(0, 1), flatten=False, seed=1)
    >>> tuple(t.x_train.shape[1:]), t.n_classes
    ((1, 8, 8), 2)
    """
    seed = _check_seed(seed)
    pixels, labels = _digits_arrays()
    x = (pixels / 16.0).astype(np.float32)
    y = labels.copy()
    if classes is not None:
        x, y, classes = _keep_classes(x, y, classes, 10)
    n_classes = int(y.max()) + 1
    shape = (64,) if flatten else (1, 8, 8)
    x = x.reshape((-1, *shape))
    info = dict(
        seed=seed,
        classes=classes,
        n_train=n_train,
        flatten=flatten,
        test_frac=test_frac,
        label_noise=label_noise,
    )
    return _classification(
        "digits", x, y, n_classes, seed=seed, test_frac=test_frac, n_train=n_train,
        label_noise=label_noise, input_shape=shape, info=info,
    )  # fmt: skip


def iris(
    *,
    seed: int = 0,
    features: Sequence[int | str] | None = None,
    classes: Sequence[int] | None = None,
    standardize: bool = True,
    test_frac: float = 0.2,
    label_noise: float = 0.0,
) -> Task:
    """scikit-learn's bundled iris data (150 flowers, 3 classes: 0 setosa, 1 versicolor, 2 virginica).

    ``features`` picks columns by index or name (``"petal length"``, ``"petal width"``, ...),
    e.g. ``features=("petal length", "petal width")`` for the two-input problem of DOODL3.
    ``classes=(1, 2)`` keeps a subset of the species, relabelled 0..k-1 (versicolor against virginica:
    the two that overlap).
    ``standardize`` scales each feature to zero mean and unit variance (statistics of the training split).

    Example
    -------
    >>> t = lk.tasks.iris(seed=0)
    >>> t.in_features, t.n_classes, t.n_train + t.n_test
    (4, 3, 150)
    """
    from sklearn.datasets import load_iris

    seed = _check_seed(seed)
    data = load_iris()
    x = data.data.astype(np.float32)
    names = [n.replace(" (cm)", "") for n in data.feature_names]
    if features is not None:
        cols = []
        if isinstance(features, (str, bytes)) or not hasattr(features, "__iter__") or not features:
            raise InvalidArgument(
                f"features must be a non-empty list of names or indices, got {features!r}"
            )
        for f in features:
            if isinstance(f, str):
                if f not in names:
                    raise InvalidArgument(
                        f"features: unknown iris feature {f!r}; choose from {names}"
                    )
                cols.append(names.index(f))
            else:
                if not 0 <= validate.integer("features", f) < 4:
                    raise InvalidArgument(
                        f"features: an iris feature index must be in 0..3, got {f}"
                    )
                cols.append(int(f))
        x = x[:, cols]
    y = data.target.astype(np.int64)
    if classes is not None:
        x, y, classes = _keep_classes(x, y, classes, 3)
    n_classes = int(y.max()) + 1
    rng = np.random.default_rng(seed)
    tr, te = _split(len(x), test_frac, rng, y)
    if standardize:
        mu, sd = x[tr].mean(0), x[tr].std(0)
        x = (x - mu) / sd
    y_tr = _noisy_labels(y[tr], n_classes, label_noise, rng) if label_noise else y[tr]
    return Task(
        name="iris",
        x_train=torch.as_tensor(x[tr]),
        y_train=torch.as_tensor(y_tr),
        x_test=torch.as_tensor(x[te]),
        y_test=torch.as_tensor(y[te]),
        loss_fn=F.cross_entropy,
        kind="classification",
        in_features=x.shape[1],
        input_shape=(x.shape[1],),
        out_features=n_classes,
        n_classes=n_classes,
        metrics={"acc": _accuracy},
        info=dict(seed=seed, features=None if features is None else list(features), classes=classes, standardize=standardize, test_frac=test_frac, label_noise=label_noise),
    )  # fmt: skip


def teacher_student(
    n: int = 512,
    d: int = 16,
    width: int = 8,
    noise: float = 0.0,
    *,
    seed: int = 0,
    n_test: int = 512,
    out_features: int = 1,
) -> Task:
    """Regression on the outputs of a random one-hidden-layer tanh "teacher" network.

    Inputs are standard Gaussian in ``d`` dimensions; targets are ``teacher(x) + noise * N(0, 1)``
    (the test targets are noiseless). The teacher is ``tanh(x W1ᵀ / √d) W2ᵀ / √width``. Loss: mean
    squared error (mean over samples and outputs). A student wider than ``width`` is over-parametrised.

    Example
    -------
    >>> t = lk.tasks.teacher_student(n=64, d=4, width=3, seed=0)
    >>> t.x_train.shape, t.kind
    (torch.Size([64, 4]), 'regression')
    """
    seed = _check_seed(seed)
    n, d, width, n_test, out_features = (
        validate.integer(name, v, minimum=1)
        for name, v in (("n", n), ("d", d), ("width", width), ("n_test", n_test),
                        ("out_features", out_features))
    )  # fmt: skip
    noise = validate.number("noise", noise, minimum=0)
    g = torch.Generator().manual_seed(seed)
    w1 = torch.randn(width, d, generator=g)
    w2 = torch.randn(out_features, width, generator=g)

    def teacher(x):
        return torch.tanh(x @ w1.T / d**0.5) @ w2.T / width**0.5

    x_tr = torch.randn(n, d, generator=g)
    x_te = torch.randn(n_test, d, generator=g)
    y_tr = teacher(x_tr) + noise * torch.randn(n, out_features, generator=g)
    return Task(
        name="teacher_student",
        x_train=x_tr,
        y_train=y_tr,
        x_test=x_te,
        y_test=teacher(x_te),
        loss_fn=F.mse_loss,
        kind="regression",
        in_features=d,
        input_shape=(d,),
        out_features=out_features,
        info=dict(
            n=n, d=d, width=width, noise=noise, seed=seed, n_test=n_test, out_features=out_features
        ),
    )


def modular_addition(p: int = 113, train_frac: float = 0.3, *, seed: int = 0) -> Task:
    """The grokking task: predict ``(a + b) mod p`` from the token pair ``(a, b)``.

    Inputs are ``(N, 3)`` integer tokens ``[a, b, p]`` (``p`` is the "=" token, as in Nanda et al.);
    all ``p²`` pairs are split at random into train (``train_frac``) and test. Use with
    :func:`landkit.models.transformer` (vocabulary ``p + 1``, ``p`` output classes).

    Example
    -------
    >>> t = lk.tasks.modular_addition(p=7, train_frac=0.5, seed=0)
    >>> t.n_train + t.n_test, t.n_classes
    (49, 7)
    """
    seed = _check_seed(seed)
    p = validate.integer("p", p, minimum=2)
    train_frac = validate.number("train_frac", train_frac, minimum=0, strict=True, below=1)
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    x = torch.stack([a.reshape(-1), b.reshape(-1), torch.full((p * p,), p)], dim=1)
    y = (x[:, 0] + x[:, 1]) % p
    perm = torch.randperm(p * p, generator=torch.Generator().manual_seed(seed))
    k = round(train_frac * p * p)
    tr, te = perm[:k].sort().values, perm[k:].sort().values
    return Task(
        name="modular_addition",
        x_train=x[tr],
        y_train=y[tr],
        x_test=x[te],
        y_test=y[te],
        loss_fn=F.cross_entropy,
        kind="classification",
        in_features=3,
        input_shape=(3,),
        out_features=p,
        n_classes=p,
        metrics={"acc": _accuracy},
        info=dict(p=p, train_frac=train_frac, seed=seed, vocab=p + 1),
    )


def subset(task: Task, n_train: int, *, seed: int = 0) -> Task:
    """The same task with a random ``n_train`` of its training examples (less data = more "load").

    Example
    -------
    >>> lk.tasks.subset(task, 50, seed=0).n_train
    50
    """
    n_train = validate.integer("n_train", n_train, minimum=1, maximum=task.n_train)
    seed = _check_seed(seed)
    idx = (
        torch.randperm(task.n_train, generator=torch.Generator().manual_seed(seed))[:n_train]
        .sort()
        .values
    )
    return task.replace(
        x_train=task.x_train[idx],
        y_train=task.y_train[idx],
        info={**task.info, "subset": n_train, "subset_seed": seed},
    )


def _convection_objective(f, x, y, *, beta: float):
    """PINN loss of u = f(x, t) for u_t + β u_x = 0 on rows tagged by ``y[:, 0]``: 0 collocation
    (squared residual), 1 initial condition (u − y[:, 1])², 2 periodic boundary (u(0, t) − u(2π, t))²;
    each term a mean over its own rows. Derivatives are forward-mode (one ``jvp`` per input axis),
    exact and per row because the model acts on each row independently."""
    from torch.func import jvp

    ones, zeros = torch.ones_like(x[:, 0]), torch.zeros_like(x[:, 0])
    u, ux = jvp(f, (x,), (torch.stack([ones, zeros], 1),))
    _, ut = jvp(f, (x,), (torch.stack([zeros, ones], 1),))
    u, ux, ut = u[:, 0], ux[:, 0], ut[:, 0]
    u_end = f(x + torch.stack([ones * (2 * np.pi), zeros], 1))[:, 0]
    kind, target = y[:, 0], y[:, 1]
    terms = ((ut + beta * ux) ** 2, (u - target) ** 2, (u - u_end) ** 2)
    loss = x.new_zeros(())
    for k, term in enumerate(terms):
        mask = (kind == k).to(x.dtype)
        loss = loss + (term * mask).sum() / mask.sum().clamp_min(1.0)
    return loss


def _relative_l2(outputs, targets):
    return (outputs - targets).norm() / targets.norm().clamp_min(1e-12)


def convection(beta: float = 1.0, *, n_collocation: int = 1000, n_initial: int = 128,
               n_boundary: int = 128, test_grid: int = 64, seed: int = 0) -> Task:  # fmt: skip
    """A physics-informed task: the 1-D convection equation u_t + β u_x = 0 on x ∈ [0, 2π], t ∈ [0, 1],
    u(x, 0) = sin x, periodic in x; the exact solution is u = sin(x − βt).

    Training rows are points ``(x, t)``: random collocation points (the residual), points at t = 0 (the
    initial condition) and points at x = 0 (periodicity, compared with x = 2π); ``y_train[:, 0]``
    tags each row's kind and ``y_train[:, 1]`` holds its target. The training loss is
    :attr:`Task.objective` (PINN loss, Krishnapriyan et al. 2021); the test set is a
    ``test_grid × test_grid`` grid with the exact solution, scored by MSE and ``rel_l2``
    (‖u − u*‖ / ‖u*‖). Use a tanh MLP with 2 inputs and 1 output, trained full batch.

    Example
    -------
    >>> pinn = lk.tasks.convection(beta=10.0)
    >>> net = lk.models.mlp(2, [32, 32, 32], 1, activation="tanh")
    >>> result = lk.train(net, pinn, steps=20, lr=1e-3, optimizer="adam", batch_size=pinn.n_train,
    ...                   progress=False)
    >>> sorted(pinn.evaluate(net))[:2]
    ['test_loss', 'test_rel_l2']
    """
    seed = _check_seed(seed)
    beta = validate.number("beta", beta)
    n_collocation, n_initial, n_boundary = (
        validate.integer(name, v, minimum=1)
        for name, v in (("n_collocation", n_collocation), ("n_initial", n_initial),
                        ("n_boundary", n_boundary))
    )  # fmt: skip
    test_grid = validate.integer("test_grid", test_grid, minimum=2)
    g = torch.Generator().manual_seed(seed)
    two_pi = 2 * np.pi
    col = torch.rand(n_collocation, 2, generator=g) * torch.tensor([two_pi, 1.0])
    ini = torch.stack([torch.rand(n_initial, generator=g) * two_pi, torch.zeros(n_initial)], 1)
    bnd = torch.stack([torch.zeros(n_boundary), torch.rand(n_boundary, generator=g)], 1)
    x = torch.cat([col, ini, bnd])
    kind = torch.cat(
        [torch.zeros(n_collocation), torch.ones(n_initial), 2 * torch.ones(n_boundary)]
    )
    target = torch.cat([torch.zeros(n_collocation), torch.sin(ini[:, 0]), torch.zeros(n_boundary)])
    gx, gt = torch.meshgrid(torch.linspace(0, two_pi, test_grid), torch.linspace(0, 1, test_grid),
                            indexing="ij")  # fmt: skip
    x_test = torch.stack([gx.reshape(-1), gt.reshape(-1)], 1)
    y_test = torch.sin(x_test[:, 0] - beta * x_test[:, 1])[:, None]
    import functools

    return Task(
        name=f"convection(beta={beta:g})",
        x_train=x,
        y_train=torch.stack([kind, target], 1),
        x_test=x_test,
        y_test=y_test,
        loss_fn=F.mse_loss,
        kind="regression",
        in_features=2,
        input_shape=(2,),
        out_features=1,
        metrics={"rel_l2": _relative_l2},
        info=dict(
            beta=float(beta),
            n_collocation=n_collocation,
            n_initial=n_initial,
            n_boundary=n_boundary,
            test_grid=test_grid,
            seed=seed,
        ),
        objective=functools.partial(_convection_objective, beta=float(beta)),
    )


def from_config(config: dict) -> Task:
    """Rebuild the built-in task a run was trained on from its recorded config (``task`` name and
    ``task_info``), e.g. ``lk.tasks.from_config(traj.config)``.

    Example
    -------
    >>> again = lk.tasks.from_config(traj.config)    # the task a run was trained on, rebuilt
    >>> again.name == traj.task().name
    True
    """
    name = str(config.get("task", "")).split("(")[0]
    info = dict(config.get("task_info") or {})
    if name not in ("digits", "iris", "teacher_student", "modular_addition", "convection"):
        raise InvalidArgument(
            f"task {config.get('task')!r} is not a built-in task; pass the task yourself"
        )
    sub = info.pop("subset", None)
    sub_seed = info.pop("subset_seed", 0)
    if name == "modular_addition":
        info.pop("vocab", None)
    if name == "convection":
        beta = info.pop("beta")
        task = convection(beta, **info)
    else:
        task = globals()[name](**info)
    return subset(task, sub, seed=sub_seed) if sub is not None else task


def as_task(data, loss_fn=None, *, test=None, name: str = "data") -> Task:
    """A landkit :class:`Task` from what a user has: a Task (returned as it is), an ``(inputs,
    targets)`` pair of tensors, or a DataLoader of such pairs (read once). Integer targets make a
    classification task (cross-entropy, accuracy), float targets a regression (MSE); ``loss_fn``
    overrides the loss. ``test`` is another such source for the test split (default: the training
    data itself, so test metrics then repeat the training ones).

    Example
    -------
    >>> t = lk.tasks.as_task((torch.randn(20, 3), torch.randint(0, 4, (20,))))
    >>> t.kind, t.n_classes, t.n_train
    ('classification', 4, 20)
    """
    from .data import resolve

    if isinstance(data, Task):
        return data
    d = resolve(data, loss_fn)
    x, y = d.tensors()
    xt, yt = (x, y) if test is None else resolve(test, loss_fn).tensors()
    classify = d.classify
    n_classes = int(max(int(y.max()), int(yt.max())) + 1) if classify else None
    out = n_classes if classify else (y.shape[1] if y.dim() > 1 else 1)
    return Task(name=name, x_train=x, y_train=y, x_test=xt, y_test=yt, loss_fn=d.loss_fn,
                kind="classification" if classify else "regression",
                in_features=int(np.prod(x.shape[1:])), input_shape=tuple(x.shape[1:]),
                out_features=int(out), n_classes=n_classes,
                metrics={"acc": _accuracy} if classify else {})  # fmt: skip
