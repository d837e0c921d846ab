"""Recording a ResNet-18 (11.2M parameters) in the user's own training loop, against the same loop
without a recorder, in one run.

A standard ResNet-18 (basic blocks, 64-128-256-512 channels, batch norm; defined here, as a user would
bring it: torchvision is not installable beside the CPU build of torch on this machine) on CIFAR-shaped
random batches (32 × 3 × 32 × 32, generated, no download), SGD with momentum, ``--steps`` steps.
Variants, interleaved ``--repeats`` times, medians reported, ratios against the baseline's median:

- ``baseline``: the loop alone;
- ``every_10``: ``Recorder.capture`` on ``every(10)`` (the issue's goal: ≤ 1.10×);
- ``every_2``: ``every(2)`` (the issue's first measurement: capture was up to 37% of loop time);
- ``every_2_float16``: ``every(2)`` stored as float16.

Every recorder stores parameters and batch-norm buffers, the minibatch loss and the learning rate.

    python benchmarks/capture_resnet18.py [--steps 40] [--repeats 3] [--threads 2]

Results: ``benchmarks/out/capture_resnet18.json`` (and the table printed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

import landkit as lk


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.skip = nn.Sequential()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        return torch.relu(self.b2(self.c2(y)) + self.skip(x))


class ResNet18(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()
        )
        layers, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(512, n_classes)

    def forward(self, x):
        return self.head(self.layers(self.stem(x)).mean((2, 3)))


def run(steps: int, schedule, tmp: Path, dtype: str = "float32") -> float:
    torch.manual_seed(0)
    model = ResNet18()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(32, 3, 32, 32, generator=g), torch.randint(0, 10, (32,), generator=g))
               for _ in range(4)]  # fmt: skip
    rec = None
    if schedule is not None:
        rec = lk.Recorder(tmp / "run", schedule=schedule, dtype=dtype, overwrite=True)
    t0 = time.perf_counter()
    for step in range(steps + 1):
        x, y = batches[step % len(batches)]
        loss = nn.functional.cross_entropy(model(x), y)
        if rec is not None:
            rec.capture(step, model, loss=loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if rec is not None:
        rec.close()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    n = sum(p.numel() for p in ResNet18().parameters())
    variants = {
        "baseline": (None, "float32"),
        "every_10": (lk.schedules.every(10), "float32"),
        "every_2": (lk.schedules.every(2), "float32"),
        "every_2_float16": (lk.schedules.every(2), "float16"),
    }
    times: dict = {k: [] for k in variants}
    sizes: dict = {}
    tmp = Path(tempfile.mkdtemp(prefix="lk-resnet18-"))
    try:
        run(2, None, tmp)  # warm-up: first-call allocations
        for _ in range(args.repeats):
            for name, (schedule, dtype) in variants.items():
                times[name].append(run(args.steps, schedule, tmp, dtype))
                if schedule is not None:
                    sizes[name] = sum(
                        f.stat().st_size for f in (tmp / "run").rglob("*") if f.is_file()
                    )
                shutil.rmtree(tmp / "run", ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = statistics.median(times["baseline"])
    out = {"parameters": n, "steps": args.steps, "threads": args.threads, "repeats": args.repeats,
           "variants": {k: {"median_s": statistics.median(v), "ratio": statistics.median(v) / base,
                            "runs_s": v, "bytes": sizes.get(k)} for k, v in times.items()}}  # fmt: skip
    Path(__file__).parent.joinpath("out").mkdir(exist_ok=True)
    Path(__file__).parent.joinpath("out", "capture_resnet18.json").write_text(
        json.dumps(out, indent=1)
    )
    print(f"ResNet-18, {n:,} parameters, {args.steps} steps, {args.threads} threads")
    for k, v in out["variants"].items():
        mb = f"{v['bytes'] / 2**20:.0f} MB" if v["bytes"] else ""
        print(f"{k:18s} {v['median_s']:7.1f} s  {v['ratio']:.3f}×  {mb}")


if __name__ == "__main__":
    main()
