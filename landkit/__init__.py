"""landkit: see how a neural network learns.

The verbs a user types first::

    import landkit as lk
    task = lk.tasks.digits(seed=0)
    model = lk.models.mlp(task.in_features, [64], task.n_classes, seed=0)
    rec = lk.Recorder("runs/demo", schedule=lk.schedules.geometric(1, 2000, 60))
    result = lk.train(model, task, steps=2000, lr=0.1, batch_size=32, seed=0, recorder=rec)
    traj = lk.load("runs/demo")
"""

__version__ = "0.1.0"

from . import (
    data,
    examples,
    glassy,
    hessian,
    koopman,
    landscape,
    layout,
    linalg,
    mapper,
    models,
    morse,
    plots,
    progress,
    report,
    results,
    similarity,
    site,
    tasks,
    taxonomy,
    teach,
    topology,
)
from .capture import Recorder, RecordingSlowWarning, schedules
from .errors import InvalidArgument, InvalidType, LandkitError, RunExistsError, StoreError
from .progress import Cancelled
from .results import load_result
from .store import RunSet, Trajectory, from_checkpoints, load, load_runs
from .sweep import grid, sweep
from .training import StopTraining, TrainResult, train

__all__ = [
    "Cancelled",
    "InvalidArgument",
    "InvalidType",
    "LandkitError",
    "Recorder",
    "RecordingSlowWarning",
    "RunExistsError",
    "RunSet",
    "StopTraining",
    "StoreError",
    "TrainResult",
    "Trajectory",
    "__version__",
    "data",
    "examples",
    "from_checkpoints",
    "glassy",
    "grid",
    "hessian",
    "koopman",
    "landscape",
    "layout",
    "linalg",
    "load",
    "load_result",
    "load_runs",
    "mapper",
    "models",
    "morse",
    "plots",
    "progress",
    "report",
    "results",
    "schedules",
    "similarity",
    "site",
    "sweep",
    "tasks",
    "taxonomy",
    "teach",
    "topology",
    "train",
    "widgets",
]


def __getattr__(name):
    # ipywidgets is imported only when a notebook asks for the explorers
    if name == "widgets":
        import importlib

        return importlib.import_module(".widgets", __name__)
    raise AttributeError(f"module 'landkit' has no attribute {name!r}")
