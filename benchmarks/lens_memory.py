"""Peak memory of every lens at 100k, 1M and 11M parameters (ResNet-18 size), each in a fresh process.

The model is the zoo's BatchNorm ResNet (``lk.models.resnet(depth=4, batchnorm=True)``) at widths 25,
80 and 260 (104k, 1.05M and 11.1M parameters) on 64 digits images. For each size an ensemble of
``--runs`` runs of ``--snapshots`` snapshots is trained and recorded once with ``lk.train`` (float32:
1.3 GB a run at 11M), under ``--root``. Then each lens runs in its own subprocess, which reports its
peak resident memory (``VmHWM``, reset just before the lens starts through ``/proc/self/clear_refs``:
the whole process — Python, torch, the model, the lens; ``ru_maxrss`` is not used because Linux
carries the parent's peak across ``exec``), the rise over what it held before the lens started
(imports, the model and the data), and its time.

    python benchmarks/lens_memory.py [--sizes 100k,1M,11M] [--runs 5] [--snapshots 30]
                                     [--root /tmp/landkit-lens-memory] [--lenses plane,koopman,...]

Results: ``benchmarks/out/lens_memory.json`` and a table on stdout. The goal (issue 13): every lens
within 4 GB peak on an 11M-parameter ensemble.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

WIDTHS = {"100k": 25, "1M": 80, "11M": 260}

# each lens as the call a user would type; `runs` (lazy Trajectories), `model` (the first run's
# final state), `task` are set up before the measurement starts
LENSES = {
    "plane": "lk.landscape.plane(model, task, resolution=11, progress=False)",
    "plane_pca": "lk.landscape.plane(model, task, directions='pca', trajectory=runs[0], resolution=11, progress=False)",
    "line": "lk.landscape.line(runs[0].model(), runs[1].model(), task, steps=11)",
    "hessian_top": "lk.hessian.top_eigenvalues(model, task, k=1)",
    "hessian_trace": "lk.hessian.trace(lk.hessian.HessianOperator(model, task), num_matvecs=10)",
    "hessian_density": "lk.hessian.density(lk.hessian.HessianOperator(model, task), n_runs=1, steps=30)",
    "koopman": "lk.koopman.spectrum(runs, delays=2, rank=6)",
    "conjugacy": "lk.koopman.conjugacy_test(runs[:3], runs[3:], delays=2, pca=8, n_resamples=50)",
    "mapper": "lk.mapper.graph(runs)",
    "aging": "lk.glassy.two_time(runs)",
    "morse": "lk.morse.from_runs(runs, start_step=0)",
    "cka": "lk.similarity.model_cka(runs[0].model(), runs[1].model(), task)",
}

CHILD = r"""
import json, sys, time, warnings
import torch, landkit as lk
warnings.simplefilter("ignore")
torch.set_num_threads(int(sys.argv[4]))
root, lens, call = sys.argv[1], sys.argv[2], sys.argv[3]
runs = [lk.load(p) for p in sorted(__import__("pathlib").Path(root).glob("run*"))]
model, task = runs[0].model(), runs[0].task()
def status(key):  # kB from /proc/self/status: VmRSS now, VmHWM the peak since the last reset
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
before = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")  # reset the peak to the current RSS
t0 = time.perf_counter()
eval(call)
seconds = time.perf_counter() - t0
peak = status("VmHWM")
print(json.dumps({"lens": lens, "peak_gib": peak / 2**20, "rise_gib": (peak - before) / 2**20,
                  "base_gib": before / 2**20, "seconds": seconds}))
"""


def record(root: Path, width: int, runs: int, snapshots: int):
    import landkit as lk

    task = lk.tasks.digits(n_train=64, flatten=False, seed=0)
    for r in range(runs):
        path = root / f"run{r}"
        if (path / "zarr.json").exists() and len(lk.load(path)) == snapshots:
            continue
        model = lk.models.resnet(10, width=width, depth=4, batchnorm=True, seed=r)
        rec = lk.Recorder(path, schedule=lk.schedules.every(1), evaluate=False, overwrite=True)
        lk.train(model, task, steps=snapshots - 1, lr=0.05, batch_size=32, recorder=rec,
                 seed=r, progress=False)  # fmt: skip


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="/tmp/landkit-lens-memory")
    ap.add_argument("--sizes", default="100k,1M,11M")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--snapshots", type=int, default=30)
    ap.add_argument("--lenses", default=",".join(LENSES))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    out = Path(__file__).parent / "out" / "lens_memory.json"
    out.parent.mkdir(exist_ok=True)
    rows = json.loads(out.read_text()) if out.exists() else []
    for size in args.sizes.split(","):
        root = Path(args.root) / size
        t0 = time.perf_counter()
        record(root, WIDTHS[size], args.runs, args.snapshots)
        print(
            f"# {size}: {args.runs} runs recorded in {time.perf_counter() - t0:.0f} s", flush=True
        )
        for lens in args.lenses.split(","):
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, str(root), lens, LENSES[lens], str(args.threads)],
                capture_output=True, text=True,
            )  # fmt: skip
            if proc.returncode:
                row = {"lens": lens, "error": proc.stderr.strip().splitlines()[-1][:300]}
            else:
                row = json.loads(proc.stdout.strip().splitlines()[-1])
            row.update(size=size, width=WIDTHS[size])
            rows = [r for r in rows if (r["lens"], r["size"]) != (lens, size)] + [row]
            out.write_text(json.dumps(rows, indent=1))
            if "error" in row:
                print(f"{size:>5} {lens:<16} FAILED: {row['error']}", flush=True)
            else:
                print(f"{size:>5} {lens:<16} peak {row['peak_gib']:6.2f} GiB  rise {row['rise_gib']:6.2f} GiB"
                      f"  {row['seconds']:7.1f} s", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
