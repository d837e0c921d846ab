"""How fast the Atlas answers, in the kernel: a change of selection against pressing Run on an explorer.

On the shipped digits-widths runs (10 runs, widths 8 and 32): the time to open the atlas, to map the
first size (background), to redraw after a new selection (its spectrum computed) and after a selection
seen before (cached), each including the full Agg render and PNG of the ipympl canvas, and a cached
selection on a canvas a page shows (only the changed panels drawn, the changed pixels sent) — against the baseline of the
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


def _press_run(runs, chosen, rest):
    """The same answer the press-Run way: a Mapper explorer and a Spectrum explorer, each run."""
    m = lk.widgets.MapperExplorer(runs.where(width=32))
    m.start(wait=True)
    groups = {"selected": [t.every(50) for t in chosen], "rest": [t.every(50) for t in rest]}
    s = lk.widgets.SpectrumExplorer(groups, delays=2, rank=6, pca=8, n_resamples=0)
    s.start(wait=True)


def _one_repeat(runs, r: int) -> dict:
    out = {}
    t0 = time.perf_counter()
    atlas = lk.widgets.Atlas(runs, interactive=True, start=False)
    atlas.fig.canvas.draw()
    out["open"] = time.perf_counter() - t0
    out["map"] = _timed(lambda: (atlas.start(wait=True), atlas.fig.canvas.draw()))
    first, other = (0, 1 + r % 4), (2, 3)
    out["new_selection"] = _timed(lambda: (atlas.select(runs=first), atlas.fig.canvas.draw()))
    atlas.select(runs=other)
    out["cached_selection"] = _timed(lambda: (atlas.select(runs=first), atlas.fig.canvas.draw()))
    # a page shows the canvas: a selection draws only what it changes, over a picture of the rest
    # (taken in the background after the last whole drawing), and sends the changed pixels itself
    atlas.canvas._lk_asked, atlas.canvas.syncing_data_url = True, False
    atlas.fig.canvas.draw()
    atlas._prepare.join()
    atlas.select(runs=other)
    out["cached_selection_shown"] = _timed(lambda: atlas.select(runs=first))
    assert atlas._blank is not None, "the quick redraw was not taken"
    chosen = [runs[i] for i in first]
    rest = [runs[i] for i in range(5) if i not in first]
    out["press_run"] = _timed(lambda: _press_run(runs, chosen, rest))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    runs = lk.examples.example_runs("digits-widths")
    rows: dict = {}
    for r in range(args.repeats):
        for k, v in _one_repeat(runs, r).items():
            rows.setdefault(k, []).append(v)
    med = {k: statistics.median(v) for k, v in rows.items()}
    med["press_run_over_new_selection"] = med["press_run"] / med["new_selection"]
    med["press_run_over_cached_selection"] = med["press_run"] / med["cached_selection"]
    med["press_run_over_cached_selection_shown"] = med["press_run"] / med["cached_selection_shown"]
    print(json.dumps({k: round(v, 3) for k, v in med.items()}, indent=1))


if __name__ == "__main__":
    main()
