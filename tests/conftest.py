import os

import pytest
import torch

# One intra-op thread keeps the CPU numbers reproducible and the 2-core CI machine responsive.
torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def digits():
    import landkit as lk

    return lk.tasks.digits(seed=0)
