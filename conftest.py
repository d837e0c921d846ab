"""Shared by the test suite and the docstring examples (``--doctest-modules`` over ``landkit/``).

Every docstring example runs in CI with these names defined: ``lk``, ``np``, ``torch``, ``task`` (a
small digits task), ``model`` and ``model_b`` (two MLPs trained on it from different seeds), ``runs``
(the shipped digits-widths example runs), ``traj`` (one of them), and ``tmp_path`` (a fresh folder,
also the working directory while the example runs).
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
import torch

# One intra-op thread keeps the CPU numbers reproducible and the 2-core CI machine responsive.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def _doc_objects():
    import numpy as np

    import landkit as lk

    task = lk.tasks.digits(seed=0, n_train=400)
    trained = []
    for seed in (0, 1):
        model = lk.models.mlp(task.in_features, [16], task.n_classes, seed=seed)
        lk.train(model, task, steps=150, lr=0.1, batch_size=32, seed=seed, progress=False)
        trained.append(model)
    runs = lk.examples.example_runs("digits-widths")
    return {"lk": lk, "np": np, "torch": torch, "pytest": pytest, "task": task, "model": trained[0],
            "model_b": trained[1], "runs": runs, "traj": runs[0]}  # fmt: skip


@pytest.fixture(autouse=True)
def _doctest_names(request):
    from _pytest.doctest import DoctestItem

    if not isinstance(request.node, DoctestItem):
        yield
        return
    import matplotlib.pyplot as plt

    tmp_path = request.getfixturevalue("tmp_path")
    ns = request.getfixturevalue("doctest_namespace")
    ns.update(request.getfixturevalue("_doc_objects"), tmp_path=tmp_path)
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        yield
    finally:
        os.chdir(old)
        plt.close("all")
