"""The Atlas: one selection of runs shared by four lenses, driven by the pointer and by controls."""

import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent

import landkit as lk


@pytest.fixture(scope="module")
def runs():
    return lk.examples.example_runs("digits-widths")  # widths 32 (runs 0-4) and 8 (runs 5-9)


def _click(atlas, ax, xy, key=None):
    atlas.fig.canvas.draw()  # the transforms of the panels as shown
    x, y = ax.transData.transform(xy)
    MouseEvent("button_press_event", atlas.fig.canvas, x, y, button=1, key=key)._process()


def _clear_point(atlas, i):
    """A point of run i's curve as far (on screen) from every other run's curve as can be."""
    atlas.fig.canvas.draw()
    ax, steps, loss = atlas.ax_curves, atlas.curves[i][0], atlas.curves[i][1]
    others = [
        ax.transData.transform(a.get_xydata())
        for a, what in atlas._artists.items()
        if what[0] == "run" and what[1] != i and a.axes is ax
    ]
    best, where = -1.0, None
    for k in range(1, len(steps)):
        p = ax.transData.transform((steps[k], loss[k]))
        gap = min(np.hypot(*(o - p).T).min() for o in others)
        if gap > best:
            best, where = gap, (steps[k], loss[k])
    assert best > 2  # the pointer lands on whole pixels: this point is unambiguous
    return where


def test_clicks_select_runs_and_every_panel_follows(runs):
    atlas = lk.widgets.Atlas(runs, interactive=True, start=False)
    assert type(atlas.canvas).__name__ == "Canvas"  # ipympl: the figure answers the pointer
    atlas.start(wait=True)
    g, _pos, ids = atlas.graphs[atlas._key()]
    assert ids == [0, 1, 2, 3, 4]  # the first run's size: the five width-32 runs
    assert sorted(atlas.spectra) == ["width=32", "width=8"]  # nothing selected: every run
    # under the paths: the loss on their plane, the lens's own on the same snapshots and coordinates
    surf = atlas.surfaces[atlas._key()]
    ref = lk.landscape.ensemble_plane([runs[i] for i in ids], members=g.members, scores=g.points[:, :2],
                                      resolution=surf.loss.shape[0], progress=False)  # fmt: skip
    np.testing.assert_allclose(surf.loss, ref.loss, rtol=1e-6)
    assert atlas.ax_path.collections and "shade: loss" in atlas.ax_path.get_title()
    off = atlas.ax_path.transData.transform(
        (surf.alpha[-2], surf.beta[1])
    )  # a corner: no path there
    assert f"loss on the plane {surf.loss[-2, 1]:.4g}" in atlas.describe(atlas.ax_path, *off)

    # a click on run 3's curve selects it; the list control and the shared selection follow
    _click(atlas, atlas.ax_curves, _clear_point(atlas, 3))
    assert atlas.selected == (3,) and atlas.pick.value == (3,)
    assert sorted(atlas.spectra) == ["width=32"]
    # shift-click on run 7 adds it; shift-click again removes it
    p7 = _clear_point(atlas, 7)
    _click(atlas, atlas.ax_curves, p7, key="shift")
    assert atlas.selected == (3, 7)
    _click(atlas, atlas.ax_curves, p7, key="shift")
    assert atlas.selected == (3,)

    # a click on a Mapper node selects exactly the runs whose snapshots it holds
    xy, nodes = atlas._mapper_xy
    for k in range(len(nodes)):  # a node that no other node overlaps on screen
        d = np.hypot(*(xy - xy[k]).T)
        if np.sort(d)[1] > 0.15:
            break
    _click(atlas, atlas.ax_map, xy[k])
    expected = tuple(sorted({ids[int(r)] for r in g.members[g.nodes[nodes[k]], 0]}))
    assert atlas.selected == expected and len(expected) >= 1

    # the hover read-out names the run, the step and the loss under the pointer
    steps, loss, _ = atlas.curves[2]
    x, y = atlas.ax_curves.transData.transform((steps[30], loss[30]))
    text = atlas.describe(atlas.ax_curves, x, y)
    assert "width=32 seed=2" in text and f"step {int(steps[30])}" in text
    assert f"{loss[30]:.4g}" in text
    assert atlas.describe(atlas.ax_curves, -500, -500) == ""  # far from everything: nothing
    # on a Mapper node: its size; on an eigenvalue: its modulus; on a path point: run and step
    xy, nodes = atlas._mapper_xy
    text = atlas.describe(atlas.ax_map, *atlas.ax_map.transData.transform(xy[k]))
    assert f"node of <b>{len(g.nodes[nodes[k]])}</b> snapshots" in text
    lam = np.asarray(next(iter(atlas.spectra.values())).eigenvalues)[0]
    text = atlas.describe(atlas.ax_spec, *atlas.ax_spec.transData.transform((lam.real, lam.imag)))
    assert f"|λ| = {abs(lam):.4f}" in text
    last = int(np.argmax(g.members[:, 1]))  # a run's end: apart from the other runs' paths
    text = atlas.describe(atlas.ax_path, *atlas.ax_path.transData.transform(g.points[last, :2]))
    assert f"<b>{atlas.labels[ids[int(g.members[last, 0])]]}</b> · step" in text
    # every panel's title (two lines once the graph is mapped) lies inside the figure
    with lk.plots.style.rendering():  # text is measured: not while a background map renders
        renderer = atlas.fig.canvas.get_renderer()
        for ax in atlas.fig.axes:
            box = ax.title.get_window_extent(renderer)
            assert box.y1 <= atlas.fig.bbox.height + 0.5, (ax.title.get_text(), box.y1)
    # once a browser shows the canvas, a new selection draws only what it changes (styles, the
    # spectrum, the Mapper panel) over a picture of the rest: the pixels of a whole drawing
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    atlas.canvas._lk_asked, atlas.canvas.syncing_data_url = True, False  # what a page says
    atlas.select(runs=[1, 2], window=(10, 600))
    assert atlas._blank is not None and atlas._blank[1] == "selection"  # the quick way was taken
    part = np.asarray(atlas.canvas.get_renderer().buffer_rgba()).copy()
    FigureCanvasAgg.draw(atlas.canvas)
    np.testing.assert_array_equal(part, np.asarray(atlas.canvas.get_renderer().buffer_rgba()))


def test_the_windowed_spectrum_is_the_lens_on_the_window_and_is_cached(runs):
    atlas = lk.widgets.Atlas(runs, interactive=False, start=False)
    atlas.select(runs=[5, 6, 7], window=(0, 400))
    got = atlas.spectra["width=8"]
    # independently: the same runs' evenly spaced snapshots in steps 0-400, the same DMD
    trajs = []
    for t in (runs[5], runs[6], runs[7]):
        e = t.every(t.schedule_period)
        trajs.append(e.select(np.asarray(e.steps) <= 400))
    ref = lk.koopman.spectrum(trajs, delays=2, rank=6, pca=8)
    np.testing.assert_allclose(np.sort_complex(got.eigenvalues), np.sort_complex(ref.eigenvalues))
    full = lk.widgets.Atlas(runs, interactive=False, start=False)
    full.select(runs=[5, 6, 7])
    assert lk.koopman.wasserstein(full.spectra["width=8"], got) > 1e-3  # the window matters
    n = len(atlas._spectrum_cache)
    atlas.select(window=(0, 1000))
    atlas.select(window=(0, 400))  # back: from the cache, the same object
    assert atlas.spectra["width=8"] is got and len(atlas._spectrum_cache) == n  # nothing new
    # a window too short for DMD says so in the panel instead of failing
    atlas.select(window=(0, 60))
    assert not atlas.spectra
    assert any("widen the window" in t.get_text() for t in atlas.ax_spec.texts)
    assert atlas.image.value[:4] == b"\x89PNG"  # no ipympl: the figure is a PNG


def test_a_shared_selection_links_two_views_and_a_new_size_is_mapped(runs):
    sel = lk.widgets.Selection()
    a = lk.widgets.Atlas(runs, selection=sel, interactive=False, start=False)
    b = lk.widgets.Atlas(runs.where(width=8), selection=lk.widgets.Selection(), start=False)
    c = lk.widgets.Atlas(runs, selection=sel, interactive=False, start=False)
    a.select(runs=[1, 2])
    assert c.pick.value == (1, 2) and sorted(c.spectra) == ["width=32"]
    assert b.selected == ()  # its own selection
    a.wait()
    c.select(runs=[8])  # a width-8 run: that size is mapped in the background
    c.wait()
    assert a.selected == (8,)
    assert c.graphs
    _g8, _pos, ids8 = next(iter(c.graphs.values()))
    assert ids8 == [5, 6, 7, 8, 9]  # the width-8 runs: that network's layout
    with pytest.raises(lk.InvalidArgument, match="run indices"):
        a.select(runs=[99])
    with pytest.raises(lk.InvalidArgument, match="at least one run"):
        lk.widgets.Atlas([])


def test_the_atlas_takes_a_users_own_runs(tmp_path):
    """Runs of a user's own model and loop (Recorder.capture, no landkit config): labels, curves,
    path, spectrum and graph all work; a run without evenly spaced snapshots gets a message."""
    import torch
    from torch import nn

    x = torch.randn(128, 4, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()

    def record(name, model):  # the user's own loop, recorded
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        rec = lk.Recorder(tmp_path / name, schedule=lk.schedules.every(5))
        for step in range(101):
            loss = nn.functional.cross_entropy(model(x), y)
            rec.capture(step, model, loss=loss)
            opt.zero_grad()
            loss.backward()
            opt.step()
        rec.close()
        return lk.load(tmp_path / name)

    trajs = []
    for seed in range(3):
        torch.manual_seed(seed)
        bn = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
        trajs.append(record(f"r{seed}", bn))
    # as many weights (56) in other layers: never put on one principal plane with the others
    other = record("other", nn.Sequential(nn.Linear(4, 6), nn.Linear(6, 2), nn.Linear(2, 4)))
    assert other.weights.shape[1] == trajs[0].weights.shape[1] == 56
    atlas = lk.widgets.Atlas([*trajs, other], interactive=False, start=False)
    atlas.start(wait=True)
    assert atlas.labels == ["run 0", "run 1", "run 2", "run 3"] and atlas.error is None
    # one spectrum per network: runs of other layers are not pooled into one DMD
    assert list(atlas.spectra) == ["all · network 1", "all · network 2"]
    assert atlas.spectra["all · network 1"].n_trajectories == 3
    g, _pos, ids = atlas.graphs[atlas._key()]
    assert ids == [0, 1, 2] and len(g.nodes) >= 1
    # a model landkit cannot rebuild: the paths stay, with no loss under them, and the message says so
    assert (
        atlas.surfaces[atlas._key()] is None
        and "no loss drawn under the paths" in atlas.message.value
    )
    np.testing.assert_allclose(atlas.curves[1][1][0], float(trajs[1].scalars["loss"][0]))
    sparse = lk.load(tmp_path / "r0").select([0, 1, 3, 7, 12])  # not evenly spaced
    lone = lk.widgets.Atlas([sparse], interactive=False, start=False)
    assert not lone.spectra
    assert any("not evenly spaced" in t.get_text() for t in lone.ax_spec.texts)


def test_choosing_an_attractor_in_the_morse_explorer_selects_its_runs_in_the_atlas(runs):
    """One selection across lenses: the Morse explorer holds only the width-32 runs, the atlas all
    ten; the runs of a basin show in the atlas by identity, not by position."""
    atlas = lk.widgets.Atlas(runs, interactive=False, start=False)
    wide = runs.where(width=32)
    morse = lk.widgets.MorseExplorer(wide, start_step=50, subdiv=8, selection=atlas.selection)
    morse.start(wait=True)
    a = morse.result.attractors[0]
    members = morse.select_basin(a)
    assert members and len(atlas.selected) == len(members)
    expected = [runs.trajectories.index(list(wide)[i]) for i in members]
    assert list(atlas.selected) == sorted(expected)
    assert all(runs.configs[i]["width"] == 32 for i in atlas.selected)
    assert sorted(atlas.spectra) == ["width=32"]  # the atlas's spectrum is now those runs'
    label = next(o for o in morse.choose.options if o[1] == a)[0]
    assert label.startswith(f"attractor {a} ({len(members)} runs)")
    morse.choose.value = None  # "—" leaves the selection alone
    assert len(atlas.selected) == len(members)


def test_opening_an_atlas_leaves_the_users_matplotlib_backend_alone():
    """ipympl's package calls matplotlib.use on import: without care, every later plt.figure of the
    user's (inline in Jupyter) would become a widget. Run in a fresh process: the import happens once."""
    import subprocess
    import sys

    code = (
        "import matplotlib, matplotlib.pyplot as plt, landkit as lk\n"
        "before = matplotlib.get_backend()\n"
        "a = lk.widgets.Atlas(lk.examples.example_runs('digits-widths'), start=False)\n"
        "assert type(a.canvas).__name__ == 'Canvas', type(a.canvas)\n"
        "assert matplotlib.get_backend() == before, (before, matplotlib.get_backend())\n"
        "assert type(plt.figure().canvas).__name__ == 'FigureCanvasAgg'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "MPLBACKEND": "agg"})  # fmt: skip
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
