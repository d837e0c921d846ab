"""How fast the Atlas answers, in the kernel: a change of selection against pressing Run on an explorer.

On the shipped digits-widths runs (10 runs, widths 8 and 32): the time to open the atlas, to map the
first size (background), to redraw after a new selection (its spectrum computed) and after a selection
seen before (cached), each including the full Agg render and PNG of the ipympl canvas — against the baseline of the
same answer the press-Run way: MapperExplorer.start + SpectrumExplorer.start on that selection. Medians
of ``--repeats``. The browser side (pointer to read-out, click to redraw) is measured by
``tests/test_browser.py::test_tour_app_in_voila`` (``test-artifacts/atlas-latency.json``).

    python benchmarks/atlas.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

import landkit as lk


def _timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    runs = lk.examples.example_runs("digits-widths")
    rows = {k: [] for k in ("open", "map", "new_selection", "cached_selection", "press_run")}
    for r in range(args.repeats):
        atlas = None

        def open_():
            nonlocal atlas
            atlas = lk.widgets.Atlas(runs, interactive=True, start=False)
            atlas.fig.canvas.draw()

        rows["open"].append(_timed(open_))
        rows["map"].append(_timed(lambda: (atlas.start(wait=True), atlas.fig.canvas.draw())))
        sel = [(0, 1 + r % 4), (2, 3)]
        rows["new_selection"].append(
            _timed(lambda: (atlas.select(runs=sel[0]), atlas.fig.canvas.draw()))
        )
        atlas.select(runs=sel[1])
        rows["cached_selection"].append(
            _timed(lambda: (atlas.select(runs=sel[0]), atlas.fig.canvas.draw()))
        )
        chosen = [runs[i] for i in sel[0]]
        rest = [runs[i] for i in range(5) if i not in sel[0]]

        def press_run():
            m = lk.widgets.MapperExplorer(runs.where(width=32))
            m.start(wait=True)
            groups = {
                "selected": [t.every(50) for t in chosen],
                "rest": [t.every(50) for t in rest],
            }
            s = lk.widgets.SpectrumExplorer(groups, delays=2, rank=6, pca=8, n_resamples=0)
            s.start(wait=True)

        rows["press_run"].append(_timed(press_run))
    med = {k: statistics.median(v) for k, v in rows.items()}
    med["press_run_over_new_selection"] = med["press_run"] / med["new_selection"]
    med["press_run_over_cached_selection"] = med["press_run"] / med["cached_selection"]
    print(json.dumps({k: round(v, 3) for k, v in med.items()}, indent=1))


if __name__ == "__main__":
    main()
