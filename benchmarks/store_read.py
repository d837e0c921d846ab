"""What reading a run costs with row checksums, against zarr reading the same store.

A 1M-parameter BatchNorm ResNet recorded for 60 snapshots (253 MB, float32) with ``lk.train``. Three
reads of the whole weight matrix, best of ``--repeat`` (the page cache warm for all three):

- ``landkit, first read``: a fresh ``lk.load`` each time, so every row's CRC-32 is verified;
- ``landkit, verified``: the same Trajectory read again (rows already verified are not re-checked);
- ``zarr``: ``zarr.open_group(...)["weights"][:n]`` (no checksums).

    python benchmarks/store_read.py [--repeat 5] [--root /tmp/landkit-store-read]

Prints the times and the ratios against zarr measured in the same run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--root", default="/tmp/landkit-store-read")
    args = ap.parse_args()

    import zarr

    import landkit as lk

    path = f"{args.root}/run"
    task = lk.tasks.digits(n_train=64, flatten=False, seed=0)
    model = lk.models.resnet(10, width=80, depth=4, batchnorm=True, seed=0)
    rec = lk.Recorder(path, schedule=lk.schedules.every(1), evaluate=False, overwrite=True)
    lk.train(model, task, steps=59, lr=0.05, batch_size=32, recorder=rec, progress=False)
    traj = lk.load(path)
    n = len(traj)
    print(f"{traj.weights.nbytes / 1e6:.0f} MB ({n} snapshots of {traj.weights.shape[1]:,} values)")
    first = best(lambda: np.asarray(lk.load(path).weights), args.repeat)
    again = best(lambda: np.asarray(traj.weights), args.repeat)
    group = zarr.open_group(path, mode="r")
    z = best(lambda: np.asarray(group["weights"][:n]), args.repeat)
    for name, t in (
        ("landkit, first read (verifies)", first),
        ("landkit, verified", again),
        ("zarr", z),
    ):
        print(f"  {name:32s} {t:.3f} s   {t / z:.2f}x zarr")


if __name__ == "__main__":
    main()
