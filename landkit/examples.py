"""Generated example systems with known dynamics (no downloads).

``omd_ogd()`` — online mirror descent, online gradient descent and bisection on f(x) = Σ tan(x_i), the
known conjugate (OMD ~ OGD, through x = e^u) and non-conjugate (bisection) pair of Redman et al. (2024).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InvalidArgument
from .validate import choice, integer, number

__all__ = [
    "data_dir",
    "digits_width_runs",
    "doodl3_ensemble",
    "example_runs",
    "grokking_curve",
    "grokking_observables",
    "grokking_runs",
    "make_example_data",
    "omd_ogd",
    "pspin",
    "student_runs",
]


def omd_ogd(n_steps: int = 100, eta: float = 0.01, grid: int = 5) -> dict[str, np.ndarray]:
    """Trajectories of OMD, OGD and bisection minimising f(x) = tan(x_1) + tan(x_2) on [0.01, 1]².

    - ``"omd"``: mirror descent with mirror map R(x) = −Σ log x_i: ``x ← clip(x / (1 + η x sec²x))``,
      from x₀ on a ``grid × grid`` grid of ``linspace(0.1, 0.9)²``;
    - ``"ogd"``: gradient descent on u with x = e^u: ``u ← clip(u − η e^u sec²(e^u), [ln 0.01, 0])``,
      from u₀ on ``linspace(−2.3, −0.1)²``; the trajectory is u (OMD and OGD are conjugate via u = log x);
    - ``"bisection"``: bisection on the sign of Σ tan z with a₀ ∈ [−4/3, −1/3]², b₀ ∈ [1/7, 8/7]²
      (grids paired index by index); the trajectory is the midpoint z = (a + b)/2. As in Redman et
      al.'s code, a trajectory stops once Σ tan z is exactly 0 and is zero from there on (without the
      stop the iterates repeat one floating-point point: rank-deficient data, condition number 8e16).

    Returns arrays of shape ``(grid², n_steps, 2)``: ``n_steps`` iterates including the initial point.

    Example
    -------
    >>> d = omd_ogd()
    >>> d["omd"].shape, d["ogd"].shape, d["bisection"].shape
    ((25, 100, 2), (25, 100, 2), (25, 100, 2))
    """
    n_steps = integer("n_steps", n_steps, minimum=1)
    eta = number("eta", eta, minimum=0, strict=True)
    grid = integer("grid", grid, minimum=1)
    lo, hi = 0.01, 1.0

    def sec2(v):
        return 1.0 / np.cos(v) ** 2

    def grid2(a, b):
        g = np.linspace(a, b, grid)
        return np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)

    out = {}
    x = grid2(0.1, 0.9)
    traj = [x]
    for _ in range(n_steps - 1):
        x = np.clip(x / (1.0 + eta * x * sec2(x)), lo, hi)
        traj.append(x)
    out["omd"] = np.stack(traj, axis=1)

    u = grid2(-2.3, -0.1)
    traj = [u]
    for _ in range(n_steps - 1):
        u = np.clip(u - eta * np.exp(u) * sec2(np.exp(u)), np.log(lo), 0.0)
        traj.append(u)
    out["ogd"] = np.stack(traj, axis=1)

    a, b = grid2(-4 / 3, -1 / 3), grid2(1 / 7, 8 / 7)
    z = (a + b) / 2
    traj = [z]
    stopped = np.zeros(len(z), dtype=bool)
    for _ in range(n_steps - 1):
        f = np.tan(z).sum(axis=1)
        # as the authors' routine: it returns once f(z) is exactly 0 (steps 52-57 for 20 of the 25
        # starts) and the rest of its fixed-length trajectory stays zero
        stopped |= f == 0
        positive = (f > 0)[:, None]
        b = np.where(positive, z, b)
        a = np.where(positive, a, z)
        z = (a + b) / 2
        traj.append(np.where(stopped[:, None], 0.0, z))
    out["bisection"] = np.stack(traj, axis=1)
    return out


def _width_run(
    width: int, seed: int, perturbation: int, steps: int, lr: float, eps: float, run_dir: str
):
    import torch

    from . import models, tasks
    from .capture import Recorder
    from .training import train

    task = tasks.digits(seed=0)
    model = models.mlp(task.in_features, [width], task.n_classes, bias=False, seed=seed)
    if perturbation:
        g = torch.Generator().manual_seed(10_000 * seed + perturbation)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(eps * p.abs().mean() * torch.randn(p.shape, generator=g))
    rec = Recorder(
        run_dir,
        params="fc2.weight",
        evaluate=False,
        config={"width": width, "seed": seed, "perturbation": perturbation},
    )
    return train(
        model, task, steps=steps, lr=lr, batch_size=None, seed=seed, recorder=rec, progress=False
    )


def digits_width_runs(
    root,
    widths=(5, 10, 40),
    n_seeds: int = 3,
    n_perturbations: int = 2,
    steps: int = 100,
    lr: float = 0.5,
    eps: float = 0.01,
    max_workers: int | None = None,
):
    """Narrow and wide MLPs ``64 → h → 10`` without bias on the digits, full-batch SGD, the output layer
    (``fc2.weight``) recorded every step: ``n_seeds`` initialisations × ``n_perturbations`` small
    perturbations (relative size ``eps``) of each (0 = the unperturbed one). Runs through
    :func:`landkit.sweep` (resumable); returns the :class:`landkit.RunSet`.

    Example
    -------
    >>> rs = lk.examples.digits_width_runs("widths", widths=(5,), n_seeds=1, n_perturbations=1, steps=10,
    ...                                    max_workers=1)
    >>> len(rs) >= 1
    True
    """
    from .sweep import grid, sweep

    g = grid(width=list(widths), seed=list(range(n_seeds)), perturbation=list(range(n_perturbations)),
             steps=steps, lr=lr, eps=eps)  # fmt: skip
    res = sweep(_width_run, g, root, max_workers=max_workers, progress=False)
    if res.failed:
        raise RuntimeError(f"{len(res.failed)} runs failed; first error:\n{res.failed[0]['error']}")
    return res.load()


class _NormConstrainedAdamW:
    """AdamW whose every step ends by rescaling each parameter tensor back to its initial norm."""

    def __new__(cls, params, lr, weight_decay=0.0):
        import torch

        class _Opt(torch.optim.AdamW):
            def __init__(self, params):
                super().__init__(params, lr=lr, weight_decay=weight_decay)
                self.norms = [p.detach().norm() for g in self.param_groups for p in g["params"]]

            @torch.no_grad()
            def step(self, closure=None):
                out = super().step(closure)
                for p, n in zip((p for g in self.param_groups for p in g["params"]), self.norms):
                    p.mul_(n / p.norm().clamp_min(1e-12))
                return out

        return _Opt(params)


def _grok_model(*, p, d_model, n_heads, d_mlp, seed, perturbation, eps, dtype):
    import torch

    from . import models

    model = models.transformer(p, d_model=d_model, n_heads=n_heads, d_mlp=d_mlp, seed=seed)
    model = model.to(getattr(torch, dtype))
    with torch.no_grad():  # embeddings N(0, 1/d) as in Nanda et al.'s model
        model.embed.weight.normal_(0, d_model**-0.5, generator=torch.Generator().manual_seed(seed))
        if perturbation:  # a slightly perturbed copy of this seed's initialisation
            g = torch.Generator().manual_seed(10_000 * seed + perturbation)
            for q in model.parameters():
                q.add_(eps * q.abs().mean() * torch.randn(q.shape, generator=g, dtype=q.dtype))
    return model


def _grok_adamw(lr):
    """The grokking regime's optimizer (Nanda et al.): AdamW, betas (0.9, 0.98), weight decay 1.0."""
    import torch

    return lambda params: torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.98), weight_decay=1.0)


def _grok_run(regime: str, seed: int, perturbation: int, p: int, d_model: int, n_heads: int,
              d_mlp: int, steps: int, lr: float, eps: float, scale: float, dtype: str,
              run_dir: str):  # fmt: skip
    import torch

    from . import tasks
    from .capture import Recorder
    from .training import train

    task = tasks.modular_addition(p=p, train_frac=0.3, seed=0)
    model = _grok_model(p=p, d_model=d_model, n_heads=n_heads, d_mlp=d_mlp, seed=seed,
                        perturbation=perturbation, eps=eps, dtype=dtype)  # fmt: skip
    if regime == "grokking":
        optimizer = _grok_adamw(lr)
    else:  # scaled-down initialisation, norms held fixed, no weight decay: no grokking
        with torch.no_grad():
            for q in model.parameters():
                q.mul_(scale)

        def optimizer(params):
            return _NormConstrainedAdamW(params, lr=lr)

    config = {"regime": regime, "seed": seed, "perturbation": perturbation}
    rec = Recorder(run_dir, params="mlp_out.weight", evaluate=False, dtype=dtype, config=config)
    return train(model, task, steps=steps, lr=lr, optimizer=optimizer, seed=seed, recorder=rec,
                 eval_every=0, progress=False)  # fmt: skip


def grokking_runs(root, *, regimes=("grokking", "constrained"), p: int = 113, d_model: int = 128,
                  n_heads: int = 4, d_mlp: int = 512, n_seeds: int = 3, n_perturbations: int = 10,
                  steps: int = 100, lr: float = 1e-3, eps: float = 0.01, scale: float = 0.5,
                  dtype: str = "float64", max_workers: int | None = None):  # fmt: skip
    """Redman et al.'s grokking runs: the one-layer transformer of Nanda et al. on (a + b) mod ``p``
    (30% of the pairs for training, full batch, embeddings N(0, 1/d), float64), the first ``steps``
    steps, the MLP output weight (``mlp_out.weight``) recorded every step. ``n_seeds`` initialisations
    × ``n_perturbations`` copies of each (perturbation 0 is the seed's own; the others add noise of
    relative size ``eps``), in two regimes (config key ``regime``):

    - ``"grokking"``: AdamW, lr 1e-3, betas (0.9, 0.98), weight decay 1.0 — it groks (test accuracy
      jumps thousands of steps after training accuracy);
    - ``"constrained"``: the initialisation scaled by ``scale``, every parameter tensor held at its
      initial norm, no weight decay — it does not.

    The defaults are the paper's set-up (about 25 s per run on one CPU core). Runs through
    :func:`landkit.sweep` (resumable); returns the :class:`landkit.RunSet`.

    Example
    -------
    >>> rs = lk.examples.grokking_runs("grok", p=7, d_model=8, d_mlp=16, n_seeds=1, n_perturbations=1,
    ...                                steps=5, max_workers=1)
    >>> sorted({c["regime"] for c in rs.configs})
    ['constrained', 'grokking']
    """
    from .sweep import grid, sweep

    for r in regimes:
        choice("regime", r, ("grokking", "constrained"))
    choice("dtype", dtype, ("float32", "float64"))
    g = grid(regime=list(regimes), seed=list(range(integer("n_seeds", n_seeds, minimum=1))),
             perturbation=list(range(integer("n_perturbations", n_perturbations, minimum=1))),
             p=p, d_model=d_model, n_heads=n_heads, d_mlp=d_mlp, steps=steps, lr=lr, eps=eps,
             scale=scale, dtype=dtype)  # fmt: skip
    res = sweep(_grok_run, g, root, max_workers=max_workers, progress=False)
    if res.failed:
        raise RuntimeError(f"{len(res.failed)} runs failed; first error:\n{res.failed[0]['error']}")
    return res.load()


def grokking_observables(runs, *, steps: int = 100, pca: int = 10) -> dict[str, np.ndarray]:
    """What Redman et al. analyse of :func:`grokking_runs`, seed by seed: the first ``steps``
    snapshots of each seed's perturbed copies, projected on ``pca`` principal axes fitted to that
    seed's copies (centred) and applied to the uncentred weights
    (:func:`landkit.koopman.observables` with ``keep_mean=True``).

    Returns ``{"REGIME/seedS": array (copies, steps, pca)}``, what
    :func:`landkit.koopman.spectrum` takes (the paper: ``delays=32, rank=10``).

    Example
    -------
    >>> rs = lk.examples.grokking_runs("grok", p=7, d_model=8, d_mlp=16, n_seeds=1, n_perturbations=2,
    ...                                steps=8, max_workers=1)
    >>> {k: v.shape for k, v in lk.examples.grokking_observables(rs, steps=6, pca=3).items()}
    {'constrained/seed0': (2, 6, 3), 'grokking/seed0': (2, 6, 3)}
    """
    from . import koopman

    steps = integer("steps", steps, minimum=2)
    groups: dict = {}
    for t in runs:
        c = t.config
        groups.setdefault(f"{c['regime']}/seed{c['seed']}", []).append(t)
    out = {}
    for key in sorted(groups):
        copies = sorted(groups[key], key=lambda t: t.config["perturbation"])
        short = [t for t in copies if len(t) < steps]
        if short:
            raise InvalidArgument(
                f"{key}: {len(short)} run(s) hold fewer than steps={steps} snapshots "
                f"({len(short[0])}): train them longer or lower steps"
            )
        uneven = [t for t in copies if not np.array_equal(t.steps[:steps], np.arange(steps))]
        if uneven:  # DMD reads snapshot k as step k: a sparser schedule would be a wrong spectrum
            raise InvalidArgument(
                f"{key}: the first {steps} snapshots must be steps 0..{steps - 1}, recorded every "
                f"step; run {uneven[0].path} has steps {uneven[0].steps[:5].tolist()}..."
            )
        arrays = [np.asarray(t.weights[:steps], dtype=np.float64) for t in copies]
        out[key] = np.stack(koopman.observables(arrays, pca=pca, keep_mean=True))
    return out


def grokking_curve(*, seed: int = 0, p: int = 113, d_model: int = 128, n_heads: int = 4,
                   d_mlp: int = 512, lr: float = 1e-3, max_steps: int = 30_000,
                   eval_every: int = 100, until: float = 0.99, dtype: str = "float64",
                   progress=False, callback=None) -> dict:  # fmt: skip
    """Train one grokking run of :func:`grokking_runs` (regime ``"grokking"``, perturbation 0) long
    enough to see it grok: train and test accuracy and loss every ``eval_every`` steps, until the
    test accuracy reaches ``until`` (or ``max_steps``). Returns the history as a dict of arrays
    (``step``, ``train_acc``, ``test_acc``, ``train_loss``, ``test_loss``). At the paper's size this
    takes about 0.2 s a step on one CPU core; Nanda et al.'s run groks after about 10 000 steps.
    ``callback(step, metrics)`` is called at every evaluation (a live plot, a log line).

    Example
    -------
    >>> h = lk.examples.grokking_curve(p=7, d_model=8, d_mlp=16, max_steps=20, eval_every=10)
    >>> h["step"].tolist()
    [0, 10, 20]
    """

    from . import tasks
    from .training import StopTraining, train

    choice("dtype", dtype, ("float32", "float64"))
    until = number("until", until, minimum=0, maximum=1)
    task_args = dict(p=p, d_model=d_model, n_heads=n_heads, d_mlp=d_mlp)
    model = _grok_model(seed=seed, perturbation=0, eps=0.0, dtype=dtype, **task_args)
    task = tasks.modular_addition(p=p, train_frac=0.3, seed=0)

    def stop(step, metrics):
        if callback is not None:
            callback(step, metrics)
        if metrics.get("test_acc", 0.0) >= until:
            raise StopTraining

    res = train(model, task, steps=integer("max_steps", max_steps, minimum=1), lr=lr,
                optimizer=_grok_adamw(lr), seed=seed, eval_every=eval_every, callback=stop,
                progress=progress)  # fmt: skip
    return {k: np.asarray(v) for k, v in res.history.items()}


def _doodl3_run(problem: str, seed: int, steps: int, lr: float, batch_size, init: float, run_dir: str,
                start_step: int, weight_decay: float):  # fmt: skip
    import torch

    from . import models, tasks
    from .capture import Recorder, schedules
    from .training import train

    if problem == "iris":
        task = tasks.iris(seed=0, features=("petal length", "petal width"))
        model = models.mlp(2, [], 3, seed=seed)  # a softmax layer: 9 weights
    elif problem == "iris-unit":  # two weights: the whole weight space is the plane
        task = tasks.iris(seed=0, features=("petal width",), classes=(1, 2))
        model = models.relu_unit(init=init, seed=seed)
        init = 0  # drawn by the factory, the same way
    else:
        task = tasks.digits(seed=0, classes=(0, 1), flatten=False)
        model = models.cnn(2, channels=(2, 2), seed=seed)
    if init:
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * init)
    schedule = schedules.at([0, start_step, steps]) | schedules.geometric(1, steps, 30)
    rec = Recorder(run_dir, schedule=schedule, evaluate=False,
                   config={"problem": problem, "batch_size": batch_size, "steps": steps})  # fmt: skip
    return train(model, task, steps=steps, lr=lr, batch_size=batch_size, seed=seed, recorder=rec,
                 weight_decay=weight_decay, progress=False)  # fmt: skip


def doodl3_ensemble(root, problem: str = "iris", *, n_runs: int = 100, steps: int = 300,
                    lr: float = 0.1, batch_size: int | None = 16, init: float = 2.0,
                    start_step: int = 10, weight_decay: float = 1e-2,
                    max_workers: int | None = 1):  # fmt: skip
    """DOODL3's ensembles (Eslami et al. 2021): ``n_runs`` trainings that differ only in their seed.

    ``problem="iris"``: a softmax layer on the two petal features (standardised), weights drawn
    uniformly in [−init, init]; ``problem="iris-unit"``: :func:`landkit.models.relu_unit` (two weights)
    on petal width, versicolor against virginica, whose exact map is
    :func:`landkit.morse.training_map` (train it full batch, ``batch_size=None``, to follow that map);
    ``problem="digits01"``: a tiny CNN (2 and 2 channels) on digits 0 vs 1.
    Steps 0, ``start_step`` and the last are always recorded (with a geometric schedule), so that
    ``lk.morse.from_runs(runs, start_step=start_step)`` sees the training map. A little weight decay
    keeps the map's orbits bounded (without it a separable problem's weights grow for ever, and the
    map has no recurrent set to find). Runs through
    :func:`landkit.sweep` (resumable; one process by default: the runs take milliseconds).

    Example
    -------
    >>> ens = lk.examples.doodl3_ensemble("iris-runs", n_runs=5, steps=20)
    >>> len(ens)
    5
    """
    from .sweep import grid, sweep

    choice("problem", problem, ("iris", "iris-unit", "digits01"))
    g = grid(problem=problem, seed=list(range(n_runs)), steps=steps, lr=lr, batch_size=batch_size,
             init=init, start_step=start_step, weight_decay=weight_decay)  # fmt: skip
    if max_workers == 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as ex:  # in-process: no start-up cost for tiny runs
            res = sweep(_doodl3_run, g, root, executor=ex, progress=False)
    else:
        res = sweep(_doodl3_run, g, root, max_workers=max_workers, progress=False)
    if res.failed:
        raise RuntimeError(f"{len(res.failed)} runs failed; first error:\n{res.failed[0]['error']}")
    return res.load()


def _student_run(width: int, seed: int, steps: int, lr: float, batch_size: int, n_snapshots: int,
                 run_dir: str):  # fmt: skip
    from . import models, tasks
    from .capture import Recorder, schedules
    from .training import train

    teacher = tasks.teacher_student(n=256, d=16, width=8, seed=0)
    model = models.mlp(16, [width], 1, activation="tanh", seed=seed)
    rec = Recorder(run_dir, schedule=schedules.geometric(1, steps, n_snapshots), evaluate=False,
                   grad_noise=True, config={"width": width, "seed": seed})  # fmt: skip
    return train(model, teacher, steps=steps, lr=lr, batch_size=batch_size, seed=seed,
                 recorder=rec, progress=False)  # fmt: skip


def student_runs(root, *, widths=(1, 64), n_seeds: int = 1, steps: int = 20_000, lr: float = 0.05,
                 batch_size: int = 16, n_snapshots: int = 60):  # fmt: skip
    """Under- and over-parametrised students of one teacher (Baity-Jesi et al.'s contrast): tanh MLPs
    16 → ``width`` → 1 learning :func:`landkit.tasks.teacher_student` (256 samples, a teacher of 8 hidden
    units), plain SGD, the weights and the minibatch gradient noise recorded on a geometric schedule of
    ``n_snapshots`` steps. A student narrower than 8 cannot fit the teacher: its loss stalls and it
    ages; a wide one fits it and then diffuses. Runs in this process, in order (deterministic, about
    10 s per run of 20 000 steps); returns the :class:`landkit.RunSet` (config keys ``width``,
    ``seed``).

    Example
    -------
    >>> rs = lk.examples.student_runs("students", widths=(1, 64), steps=50, n_snapshots=10)
    >>> sorted(c["width"] for c in rs.configs)
    [1, 64]
    """
    from concurrent.futures import ThreadPoolExecutor

    from .sweep import grid, sweep

    g = grid(width=[integer("width", w, minimum=1) for w in widths],
             seed=list(range(integer("n_seeds", n_seeds, minimum=1))),
             steps=integer("steps", steps, minimum=4), lr=lr, batch_size=batch_size,
             n_snapshots=integer("n_snapshots", n_snapshots, minimum=4))  # fmt: skip
    with ThreadPoolExecutor(1) as ex:  # tiny runs: in-process, in order
        res = sweep(_student_run, g, root, executor=ex, progress=False)
    if res.failed:
        raise RuntimeError(f"{len(res.failed)} runs failed; first error:\n{res.failed[0]['error']}")
    return res.load()


def pspin(n: int = 100, temperature: float = 0.5, steps: int = 20000, dt: float = 0.05, *,
          n_snapshots: int = 80, seed: int = 0):  # fmt: skip
    """The spherical 3-spin glass under Langevin dynamics, quenched from a random start: a reference for
    what aging looks like (Cugliandolo & Kurchan 1993).

    H(s) = −Σ_{i<j<k} J_ijk s_i s_j s_k with J_ijk ~ N(0, 3/N²) and Σ s_i² = N; the dynamics
    s ← s − dt ∇H + √(2T dt) ξ, projected back to the sphere each step. Below the dynamical temperature
    T_d = √(3/8) ≈ 0.61 it never equilibrates: it ages. Returns a :class:`landkit.Trajectory` (in
    memory) of the spins on a geometric schedule of ``n_snapshots`` steps, with the energy per spin as
    its ``loss``.

    Example
    -------
    >>> glass = lk.examples.pspin(n=30, steps=400, n_snapshots=20, seed=0)
    >>> len(glass.steps), glass.weights.shape[1]
    (20, 30)
    """
    import torch

    from .capture import schedules
    from .store import Trajectory

    n = integer("n", n, minimum=3, maximum=400)  # the coupling tensor is n³ doubles
    temperature = number("temperature", temperature, minimum=0)
    steps = integer("steps", steps, minimum=1)
    dt = number("dt", dt, minimum=0, strict=True)
    n_snapshots = integer("n_snapshots", n_snapshots, minimum=1)
    g = torch.Generator().manual_seed(integer("seed", seed))
    A = torch.randn(n, n, n, generator=g, dtype=torch.float64) * np.sqrt(3.0) / n
    i, j, k = torch.meshgrid(*(torch.arange(n),) * 3, indexing="ij")
    A = A * ((i < j) & (j < k))
    J = sum(
        A.permute(*p) for p in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))
    )
    Jm = J.reshape(n, n * n).contiguous()  # the gradient is one matrix-vector product
    s = torch.randn(n, generator=g, dtype=torch.float64)
    s *= np.sqrt(n) / s.norm()
    record = set(schedules.geometric(1, steps, n_snapshots).steps(steps)) | {0}
    out_steps, spins, energy = [], [], []
    noise = np.sqrt(2 * temperature * dt)
    for t in range(steps + 1):
        if t in record:
            e = -float(s @ (Jm @ torch.outer(s, s).reshape(-1))) / 6 / n
            out_steps.append(t)
            spins.append(s.numpy().copy())
            energy.append(e)
        if t == steps:
            break
        grad = -0.5 * (Jm @ torch.outer(s, s).reshape(-1))
        s = s - dt * grad + noise * torch.randn(n, generator=g, dtype=torch.float64)
        s *= np.sqrt(n) / s.norm()
    meta = {"config": {"model": "spherical 3-spin", "n": n, "temperature": temperature, "dt": dt,
                       "steps": steps, "seed": seed}}  # fmt: skip
    return Trajectory(np.array(out_steps), np.array(spins), {"loss": np.array(energy)}, meta)


# -- the example runs shipped in data/ ----------------------------------------------------------------

EXAMPLE_SETS = (
    "digits-widths",
    "omd-ogd",
    "taxonomy-fast",
    "taxonomy-fast-phases",
    "students",
    "grokking",
    "grokking-curve",
)
_NPZ_SETS = ("omd-ogd", "grokking", "grokking-curve")
_RESULT_SETS = ("taxonomy-fast-phases",)  # a saved landkit result (lk.load_result)
#: how the shipped phase table was measured from the taxonomy-fast runs (the tour's phase map)
PHASES_MEASURE = {"mc_epochs": 50, "hessian_samples": 256}
_MAKE_TIME = {
    "students": "about 20 seconds",
    "taxonomy-fast-phases": "about 10 seconds, after the taxonomy-fast runs (a few minutes)",
    "grokking": "about 20 minutes",
    "grokking-curve": "about 75 minutes",
}


def _example_width_run(width: int, seed: int, run_dir: str):
    from . import models, tasks
    from .capture import Recorder, schedules
    from .training import train

    task = tasks.digits(seed=0)
    model = models.mlp(64, [width], 10, seed=seed)
    steps = 1000
    schedule = schedules.geometric(1, steps, 40) | schedules.every(50)
    rec = Recorder(run_dir, schedule=schedule, grad_noise=True, config={"width": width})
    return train(model, task, steps=steps, lr=0.1, batch_size=32, seed=seed, recorder=rec,
                 progress=False)  # fmt: skip


def make_example_data(
    root, sets=EXAMPLE_SETS, *, max_workers: int | None = 1, progress=False
) -> Path:
    """Record the example runs that ship in ``data/`` (deterministic: same seeds, same schedules):

    - ``digits-widths/``: digits MLPs of widths 8 and 32, 5 seeds each, 1000 SGD steps (batch 32,
      lr 0.1) on a geometric schedule united with every 50 steps, test metrics and gradient noise recorded;
    - ``omd-ogd.npz``: :func:`omd_ogd`'s three sets of trajectories;
    - ``taxonomy-fast/``: a small taxonomy grid (widths 4/16/64 × batch 8/32/128 × 2 seeds, 2000 steps),
      first and last weights only;
    - ``taxonomy-fast-phases.npz``: that grid measured, ``lk.taxonomy.measure(runs, **PHASES_MEASURE)``
      (a :class:`landkit.taxonomy.PhaseTable`: the tour's phase map without its 8 s of measuring);
    - ``students/``: :func:`student_runs` of widths 1 and 64 (one seed each, 20 000 steps; about
      20 s): an under-parametrised student that ages beside an over-parametrised one that diffuses;
    - ``grokking.npz``: :func:`grokking_runs` at the paper's set-up (3 seeds × 10 copies × 2 regimes,
      100 steps) reduced by :func:`grokking_observables` (about 20 CPU-minutes);
    - ``grokking-curve.npz``: :func:`grokking_curve` of seed 0, trained until it groks (18 400 steps,
      75 CPU-minutes).

    Example
    -------
    >>> root = lk.examples.make_example_data("my-data", sets=("omd-ogd",))
    >>> sorted(p.name for p in root.iterdir())
    ['omd-ogd.npz']
    """
    from concurrent.futures import ThreadPoolExecutor

    from . import taxonomy
    from .sweep import grid, sweep

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if "digits-widths" in sets:
        g = grid(width=[8, 32], seed=list(range(5)))
        with ThreadPoolExecutor(1) as ex:  # in-process and in order: deterministic
            res = sweep(_example_width_run, g, root / "digits-widths", executor=ex,
                        progress=progress)  # fmt: skip
        if res.failed:
            raise RuntimeError(res.failed[0]["error"])
    if "omd-ogd" in sets:
        np.savez(root / "omd-ogd.npz", **omd_ogd())
    if "taxonomy-fast" in sets:
        with ThreadPoolExecutor(1) as ex:
            taxonomy.digits_sweep(root / "taxonomy-fast", widths=[4, 16, 64], batch_sizes=[8, 32, 128],
                                  seeds=2, steps=2000, executor=ex, threads_per_run=1)  # fmt: skip
    if "taxonomy-fast-phases" in sets:
        from .store import load_runs

        if not (root / "taxonomy-fast").exists():
            make_example_data(root, sets=("taxonomy-fast",), max_workers=max_workers)
        with ThreadPoolExecutor(1) as ex:  # in order: deterministic
            table = taxonomy.measure(load_runs(root / "taxonomy-fast"), executor=ex,
                                     threads_per_cell=1, **PHASES_MEASURE)  # fmt: skip
        table.save(root / "taxonomy-fast-phases.npz")
    if "students" in sets:
        student_runs(root / "students", widths=(1, 64), n_seeds=1, steps=20_000)
    if "grokking" in sets:
        import shutil

        tmp = root / "grokking-runs"  # resumable; removed once reduced
        np.savez(
            root / "grokking.npz",
            **grokking_observables(grokking_runs(tmp, max_workers=max_workers)),
        )
        shutil.rmtree(tmp)
    if "grokking-curve" in sets:
        np.savez(root / "grokking-curve.npz", **grokking_curve(progress=progress))
    return root


def data_dir() -> Path:
    """Where the example runs are: ``$LANDKIT_DATA``, else the ones shipped with landkit (the repository's
    ``data/`` folder, which an installed wheel carries as ``landkit/_data``), else a cache folder where
    they are recorded on first use.

    Example
    -------
    >>> (lk.examples.data_dir() / "omd-ogd.npz").exists()   # shipped with the source, or made on first use
    True
    """
    import os

    env = os.environ.get("LANDKIT_DATA")
    if env:
        return Path(env)
    shipped = (
        Path(__file__).parent / "_data"
    )  # the repository's data/ (a link), or the wheel's copy
    if (shipped / "digits-widths").exists():
        return shipped.resolve()
    return Path.home() / ".cache" / "landkit" / "data"


def example_runs(name: str = "digits-widths"):
    """One of the shipped example sets: a :class:`landkit.RunSet` (``"digits-widths"``,
    ``"taxonomy-fast"``, ``"students"``), the phase table measured from ``"taxonomy-fast"``
    (``"taxonomy-fast-phases"``: a :class:`landkit.taxonomy.PhaseTable`) or a dict of arrays
    (``"omd-ogd"``; ``"grokking"``: ``{"REGIME/seedS": array}``; ``"grokking-curve"``:
    ``{"step": ..., "test_acc": ...}``; see :func:`make_example_data`); recorded into the cache on
    first use when this installation has no ``data/`` folder.

    Example
    -------
    >>> runs = lk.examples.example_runs("digits-widths")
    >>> sorted({c["width"] for c in runs.configs})
    [8, 32]
    """
    from .store import load_runs

    choice("name", name, EXAMPLE_SETS)
    root = data_dir()
    target = root / (name + ".npz" if name in _NPZ_SETS + _RESULT_SETS else name)
    if not target.exists():
        import warnings

        warnings.warn(
            f"landkit: the example runs {name!r} are not installed with this copy of landkit (a "
            f"source checkout ships them in data/); recording them once into {root} — "
            f"{_MAKE_TIME.get(name, 'a few minutes')} on a laptop CPU, with a progress bar. Set "
            "LANDKIT_DATA to use a copy you already have.",
            stacklevel=2,
        )
        make_example_data(root, sets=(name,), progress=True)
    if name in _RESULT_SETS:
        from .results import load_result

        return load_result(target)
    if name in _NPZ_SETS:
        with np.load(target, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    return load_runs(target)
