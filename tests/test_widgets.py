"""The explorers driven from Python (the browser test drives one in JupyterLab)."""

import itertools
import time

import numpy as np
import pytest
from matplotlib.text import Text

import landkit as lk


def test_train_explorer_trains_records_and_stops(tmp_path):
    ex = lk.widgets.TrainExplorer(root=tmp_path, steps=60, width=8)
    assert ex.png() == b""
    ex.start(wait=True)
    assert ex.png().startswith(b"\x89PNG")
    assert ex.trajectory.status == "finished" and ex.trajectory.steps[-1] == 60
    assert "done: test accuracy" in ex.message.value and not ex.run_button.disabled
    # Stop ends a long run gracefully and the recording says so
    ex.steps.max = 100_000
    ex.steps.value = 100_000
    ex.start()
    time.sleep(1.0)
    ex.stop()
    ex.wait(timeout=60)
    assert ex.result.interrupted and ex.result.steps < 100_000
    assert ex.trajectory.status == "interrupted"
    assert "stopped" in ex.message.value
    paths = ex.export(tmp_path / "fig")
    assert all(p.exists() for p in paths) and {p.suffix for p in paths} == {".png", ".svg"}


def test_train_explorer_says_when_a_run_learned_nothing(tmp_path):
    """lr 3.16 on the digits: the run diverges or ends at chance, and the message says so."""
    ex = lk.widgets.TrainExplorer(root=tmp_path, steps=100, width=8, lr=3.16)
    ex.start(wait=True)
    acc = ex.result.final.get("test_acc", 0.0)
    assert ex.result.diverged or acc <= 0.15
    assert "no better than chance" in ex.message.value or "infinite" in ex.message.value
    ok = lk.widgets.TrainExplorer(root=tmp_path / "ok", steps=100, width=8, lr=0.1)
    ok.start(wait=True)
    assert "chance" not in ok.message.value and "infinite" not in ok.message.value


def test_explorer_echoes_settings_marks_outdated_figures_and_offers_downloads(
    tmp_path, monkeypatch
):
    ex = lk.widgets.TrainExplorer(root=tmp_path, steps=60, width=8)
    seen = []
    orig = type(ex).work

    def spy(self):
        seen.append(self.message.value)  # what the user reads as the work starts
        return orig(self)

    monkeypatch.setattr(type(ex), "work", spy)
    ex.start(wait=True)
    assert "working with" in seen[0] and "width = 8" in seen[0] and "steps = 60" in seen[0]
    assert "outdated" not in ex.message.value
    ex.width.value = 40  # the figure still shows width 8: say so, naming the change
    assert "outdated" in ex.message.value and ex.run_label in ex.message.value
    assert "width is now 40 (the figure: 8)" in ex.message.value
    ex.width.value = 36  # a later value replaces the earlier one in the message
    assert "width is now 36 (the figure: 8)" in ex.message.value and "40" not in ex.message.value
    said = ex._said
    ex.width.value = 8  # back to what the figure shows: its run's own message again
    assert "outdated" not in ex.message.value and ex.message.value == said and "done" in said
    ex.width.value = 40
    monkeypatch.chdir(tmp_path)
    paths = ex.export()
    assert all(p.exists() for p in paths)
    assert "width-8" in paths[0].name and "steps-60" in paths[0].name  # named after its settings
    assert "download=" in ex.message.value and "data:image/png;base64," in ex.message.value
    # at most ~10 bar updates a second reach the browser
    updates = []
    ex.bar.observe(lambda c: updates.append(c["new"]), names="value")
    for i in range(1, 200):
        ex.progress(i / 200, f"tick {i}")
    assert len(updates) <= 3
    ex.progress(0.5, "a new stage")  # a changed stage always reaches the user
    assert ex.message.value == "a new stage"


class _Slow(lk.widgets.Explorer):
    """An explorer whose run waits for ``go``: it records the setting each run used."""

    run_label = "Go"

    def __init__(self):
        import threading

        import ipywidgets as W

        self.k = W.IntSlider(value=1, min=0, max=9, description="k")
        self.shade = W.Dropdown(options=["a", "b"], value="a", description="shade")
        super().__init__([self.k, self.shade])
        self.live(self.shade, lambda: self.drawn.append(self.shade.value))
        self.go, self.used, self.drawn = threading.Event(), [], []

    def work(self):
        k = self.k.value
        self.used.append(k)
        while not self.go.wait(0.01):
            if self.stopping:
                raise lk.Cancelled
        fig, _ax = lk.plots.new_figure(1, width=2, height=2)
        self.show_figure(fig)
        self.progress(1.0, f"done with k = {k}")


def test_a_control_that_arrives_just_after_the_press_restarts_the_run():
    """The browser holds a slider's later values back until the kernel answers its first, while a
    press goes at once: two arrow-key steps and a click reach the kernel as step, click, step. A
    value that arrives while the run it follows is still young restarts it, so the figure shows what
    the slider shows; the run's own changes, a live control and a late change do not."""
    ex = _Slow()
    ex.k.value = 2  # the first step, before the press
    ex.start()
    ex.k.value = 3  # the held-back step, just after it
    ex.go.set()
    ex.wait(timeout=30)
    assert ex.used[-1] == 3 and ex._shown_settings["k"] == 3
    assert "done with k = 3" in ex.message.value and not ex.run_button.disabled
    assert ex.used[0] == 2 and len(ex.used) == 2  # the first run was stopped and run again
    # a live control redraws and leaves the run alone
    ex.go.clear()
    ex.start()
    ex.shade.value = "b"
    assert ex.drawn == ["b"] and not ex._restart
    ex.go.set()
    ex.wait(timeout=30)
    assert ex.used[-1] == 3 and len(ex.used) == 3
    # a change long after the press marks the figure outdated and waits for a press
    ex.go.clear()
    ex.restart_window = 0.0
    ex.start()
    ex.k.value = 5
    ex.go.set()
    ex.wait(timeout=30)
    assert ex.used[-1] == 3 and len(ex.used) == 4
    assert "outdated" in ex.message.value


def test_controls_sit_in_a_side_column_that_folds_away(tmp_path):
    """Every explorer's controls are in a column beside its figure; the toggle left of the title
    (or ``show_controls``) folds the column away and unfolds it, and the two stay in step."""
    ex = lk.widgets.TrainExplorer(root=tmp_path, steps=60, width=8)
    header, body = ex.children
    assert ex.controls_toggle in header.children
    assert body.children == (ex.side, ex.main)  # the controls beside the figure, not above it
    assert ex.width in ex.side.children and ex.figure_box in ex.main.children
    assert ex.run_button in ex.main.children[0].children  # Run stays visible when folded
    ex.controls_toggle.value = False  # what a click on the toggle does
    assert ex.side.layout.display == "none"
    ex.show_controls(True)
    assert ex.side.layout.display is None and ex.controls_toggle.value is True
    ex.show_controls(False)
    assert ex.controls_toggle.value is False and ex.side.layout.display == "none"


def test_figures_answer_the_pointer_with_what_lies_under_it():
    """With ipympl the figure is a canvas: a pointer event over an eigenvalue names its group and
    modulus (read from the spectrum itself), over an image the value of the pixel under it."""
    from matplotlib.backend_bases import MouseEvent

    ex = lk.widgets.SpectrumExplorer(lk.examples.omd_ogd(), n_resamples=9)
    ex.start(wait=True)
    assert ex.canvas is not None and ex.canvas.figure is ex._figure  # pointable, not a PNG
    ax = next(a for a in ex._figure.axes if "Re" in a.get_xlabel())
    lam = ex.spectra["omd"].eigenvalues
    # the eigenvalue in view lying farthest from every other point drawn (the other group's, the
    # unit circle's): the read-out must name it
    others = np.vstack([ax.collections[1].get_offsets()] + [ln.get_xydata() for ln in ax.lines])
    far = ax.transData.transform(others)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    ok = [i for i, v in enumerate(lam) if x0 < v.real < x1 and y0 < v.imag < y1]
    pts = ax.transData.transform(np.c_[lam.real, lam.imag])
    k = max(ok, key=lambda i: np.hypot(*(far - pts[i]).T).min())
    x, y = pts[k]
    ex.canvas.callbacks.process(
        "motion_notify_event", MouseEvent("motion_notify_event", ex.canvas, x, y)
    )
    text = ex.readout.value
    assert "omd" in text and f"|λ| {abs(lam[k]):.4f}" in text, text
    assert ex.describe(ax, x + 200, y + 200) == ""  # nothing within reach: no read-out

    import matplotlib.figure

    fig = matplotlib.figure.Figure()
    ax = fig.add_subplot()
    grid = np.arange(12.0).reshape(3, 4)
    ax.imshow(grid, origin="lower", extent=(0, 4, 0, 3))
    fig.canvas.draw()
    x, y = ax.transData.transform((2.5, 1.5))  # the pixel of column 2, row 1
    assert "value 6" in lk.widgets.Explorer([]).describe(ax, x, y)


def test_the_canvas_does_not_draw_a_figure_while_the_explorer_changes_it():
    """ipympl draws when the browser asks (the kernel's main thread) while an explorer may be changing
    the figure in its work thread: the canvas's draw waits for the explorer's drawing lock."""
    import threading

    ex = lk.widgets.SpectrumExplorer(lk.examples.omd_ogd(), n_resamples=9)
    ex.start(wait=True)
    drawn = threading.Event()

    def draw():
        ex.canvas.draw()
        drawn.set()

    with ex.drawing:  # the explorer is changing the figure
        t = threading.Thread(target=draw)
        t.start()
        assert not drawn.wait(0.5)  # the canvas waits
    assert drawn.wait(30)  # and draws once the change is done
    t.join()


def test_clicking_a_mapper_node_selects_the_runs_through_it(tmp_path):
    runs = lk.examples.doodl3_ensemble(tmp_path / "iris", "iris", n_runs=6, steps=40)
    sel = lk.widgets.Selection()
    mx = lk.widgets.MapperExplorer(runs, selection=sel)
    mx.n_cubes.value = 4
    mx.start(wait=True)
    ax = mx._node_ax
    xy = ax.collections[0].get_offsets()
    table = {row["node"]: row for row in mx.graph.node_table}
    for k, node in enumerate(mx._nodes):
        x, y = ax.transData.transform(xy[k])
        assert mx.node_at(ax, x, y) == node
        mx.click(ax, x, y)
        expect = table[node]["runs"]  # the lens's own account of the node's runs
        assert sel.runs == tuple(lk.widgets.atlas.run_key(runs[i]) for i in expect)
        assert (
            f"{table[node]['size']} points" in mx.readout.value
            and f"node {node}" in mx.readout.value
        )
    # a shift-click adds a node's runs to the selection, and a second one takes them out again
    key = lk.widgets.atlas.run_key
    first = mx._nodes[0]
    other = next(n for n in mx._nodes if set(table[n]["runs"]) - set(table[first]["runs"]))
    mx.click(ax, *ax.transData.transform(xy[mx._nodes.index(first)]))
    mx.click(ax, *ax.transData.transform(xy[mx._nodes.index(other)]), add=True)
    both = {key(runs[i]) for i in set(table[first]["runs"]) | set(table[other]["runs"])}
    assert set(sel.runs) == both
    mx.click(ax, *ax.transData.transform(xy[mx._nodes.index(other)]), add=True)
    assert set(sel.runs) == both - {key(runs[i]) for i in table[other]["runs"]}


def test_spectrum_explorer_compares_groups():
    d = lk.examples.omd_ogd()
    ex = lk.widgets.SpectrumExplorer(d, n_resamples=19)
    ex.pick.value = ("ogd", "bisection")
    ex.start(wait=True)
    assert set(ex.spectra) == {"ogd", "bisection"}
    assert ex.result.p_value == pytest.approx(1 / 39) and ex.result.verdict == "not conjugate"
    assert "W = 0.753" in ex.message.value and ex.png().startswith(b"\x89PNG")
    ex.rank.value = 3
    ex.n_perm.value = 0
    ex.start(wait=True)
    assert all(len(s.eigenvalues) == 3 for s in ex.spectra.values())


def test_spectrum_explorer_windows_recorded_runs():
    """The steps window: the spectra of the snapshots inside it, exactly the lens on those snapshots."""
    runs = lk.examples.example_runs("digits-widths")
    groups = lk.koopman.uniform_groups(runs, by="width")
    ex = lk.widgets.SpectrumExplorer(groups, delays=2, rank=6, pca=8, n_resamples=0)
    assert ex.window.value == (0, 1000)
    ex.window.value = (0, 400)
    ex.start(wait=True)
    for label, trajs in groups.items():
        early = [t.select(np.asarray(t.steps) <= 400) for t in trajs]
        ref = lk.koopman.spectrum(early, delays=2, rank=6, pca=8)
        np.testing.assert_allclose(
            np.sort_complex(ex.spectra[label].eigenvalues), np.sort_complex(ref.eigenvalues)
        )
    late = dict(ex.spectra)
    ex.window.value = (500, 1000)
    ex.start(wait=True)
    assert lk.koopman.wasserstein(ex.spectra["width=8"], late["width=8"]) > 1e-3
    ex.window.value = (0, 50)  # two snapshots: too few for DMD with 2 delays
    with pytest.raises(ValueError, match="widen the step window"):
        ex.start(wait=True)
    assert lk.widgets.SpectrumExplorer(lk.examples.omd_ogd()).window is None  # arrays: no steps


def test_spectrum_explorer_errors():
    d = lk.examples.omd_ogd()
    with pytest.raises(ValueError, match="at least two groups"):
        lk.widgets.SpectrumExplorer({"omd": d["omd"]})
    ex = lk.widgets.SpectrumExplorer(d)
    ex.delays.value = 10
    ex.pick.value = ("omd", "ogd")
    ex.rank.value = 30
    with pytest.raises(ValueError, match="rank=30 is larger"):
        ex.start(wait=True)
    assert "rank=30 is larger" in ex.message.value


def test_landscape_explorer_draws_pca_plane_and_stops(tmp_path):
    task = lk.tasks.digits(seed=0, n_train=300)
    model = lk.models.mlp(64, [16], 10, seed=0)
    rec = lk.Recorder(tmp_path / "r", schedule=lk.schedules.every(10), evaluate=False)
    lk.train(model, task, steps=100, lr=0.2, batch_size=32, recorder=rec, progress=False)
    ex = lk.widgets.LandscapeExplorer(model, task, trajectory=lk.load(tmp_path / "r"), resolution=9)
    assert ex.directions.value == "pca"
    ex.start(wait=True)
    assert ex.surface.loss.shape == (9, 9) and ex.surface.path is not None
    assert ex.topology.n_minima >= 1 and "minim" in ex.message.value
    first = ex.png()
    assert first.startswith(b"\x89PNG")
    # the pointer over the slice reads the loss of the grid point under it
    ax, s = ex._surface_ax, ex.surface
    x, y = ax.transData.transform((s.alpha[2], s.beta[6]))
    assert f"loss value {s.loss[2, 6]:.4g}" in ex.describe(ax, x, y)
    ex.directions.value = "filter"
    ex.span.value = 0.5
    ex.view.value = "3d"
    ex.subset.value = 128
    ex.start(wait=True)
    assert ex.surface.method == "filter" and ex.surface.alpha[-1] == 0.5
    # the subset's error, measured at 3 points on all 300 samples (a tenth of 81 points' cost)
    assert "on 128 of 300 samples: within" in ex.message.value and "at 3 points" in ex.message.value
    assert ex.png() != first
    # Stop during a large grid ends it cleanly: the grid is abandoned, the last surface kept
    ex.resolution.value = 101
    ex.view.value = "contour"
    ex.start()
    time.sleep(0.3)
    ex.stop()
    ex.wait(timeout=60)
    assert ex.error is None
    assert "stopped" in ex.message.value or ex.surface.loss.shape == (
        101,
        101,
    )  # a race: it may finish
    # deterministic: Stop already pressed when the work starts → nothing is computed
    before = ex.surface
    ex._stop.set()
    ex._guarded()
    assert ex.surface is before and "stopped" in ex.message.value and ex.error is None


def test_mapper_and_morse_explorers(tmp_path):
    runs = lk.examples.doodl3_ensemble(tmp_path / "iris", "iris", n_runs=8, steps=40)
    mx = lk.widgets.MapperExplorer(runs)
    mx.start(wait=True)
    assert mx.graph is not None and "nodes" in mx.message.value
    first = mx.png()
    mx.lens.value = "step"
    mx.n_cubes.value = 5
    mx.start(wait=True)
    assert mx.graph.params["lens"] == "step" and mx.png() != first
    # recolouring is live: a new figure at once, no press, no new graph, not marked outdated
    graph, before = mx.graph, mx.png()
    mx.color.value = "size"
    assert mx.png() != before and mx.graph is graph and mx._thread.is_alive() is False
    # recoloured in place: the colours and the colour bar a fresh drawing by size has
    fresh = lk.plots.plot_mapper(graph, color_by="size").axes
    shown = mx._node_ax.collections[-1]
    np.testing.assert_allclose(shown.get_array(), fresh[0].collections[-1].get_array())
    assert shown.get_clim() == fresh[0].collections[-1].get_clim()
    assert mx._figure.axes[1].get_ylabel() == fresh[1].get_ylabel() == "snapshots in the node"
    assert "outdated" not in mx.message.value
    # back to the first settings: the graph comes from the cache, the very same object
    mx.lens.value, mx.n_cubes.value = "loss", 10
    assert "outdated" in mx.message.value  # a new graph needs a press
    mx.start(wait=True)
    assert "(from the cache)" in mx.message.value and mx.graph.params["lens"] == "loss"
    assert len(mx.cache) == 2
    ex = lk.widgets.MorseExplorer(runs, start_step=10, subdiv=8)
    ex.start(wait=True)
    assert ex.result.subdiv == 8 and "attractor" in ex.message.value
    ex.coords.value = "4, 5"
    ex.start(wait=True)
    assert ex.result.coords == [4, 5]
    ex.coords.value = "1"
    with pytest.raises(ValueError, match="exactly two"):
        ex.start(wait=True)
    with pytest.raises(ValueError, match="at least 5 runs"):
        lk.widgets.MorseExplorer(list(runs)[:3])


def test_aging_explorer(tmp_path):
    task = lk.tasks.teacher_student(n=64, d=4, width=2, seed=0)
    model = lk.models.mlp(4, [3], 1, activation="tanh", seed=0)
    rec = lk.Recorder(tmp_path / "r", schedule=lk.schedules.geometric(1, 400, 30), evaluate=False,
                      grad_noise=True)  # fmt: skip
    lk.train(model, task, steps=400, lr=0.05, batch_size=8, recorder=rec, progress=False)
    ex = lk.widgets.AgingExplorer({"student": tmp_path / "r"})
    ex.start(wait=True)
    assert ex.result is not None and "fitted μ" in ex.message.value
    assert ex.mu.value == pytest.approx(ex.fit.mu, abs=0.01)
    before, fig = ex.png(), ex._figure
    ex.mu.value = 0.0  # the collapse redraws at once, in place: what a fresh drawing at μ = 0 shows
    assert ex.png() != before and ex._figure is fig
    fresh = lk.plots.plot_collapse(ex.result, mu=0.0).axes[0]
    moved = ex._collapse[1]
    for a, b in zip(moved.lines, fresh.lines, strict=True):
        np.testing.assert_allclose(a.get_xydata(), b.get_xydata())
    np.testing.assert_allclose(moved.get_xlim(), fresh.get_xlim())
    assert "μ = 0.00" in moved.get_xlabel() and "μ = 0.00" in moved.get_title()
    if ex.canvas is not None:  # on ipympl's canvas the μ slider draws the collapse panel alone
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        ex.canvas._lk_asked, ex.canvas.syncing_data_url = True, False  # a page shows it
        ex.mu.value = 0.3
        assert ex._blank is not None  # the picture of the other panel, kept
        part = np.asarray(ex.canvas.get_renderer().buffer_rgba()).copy()
        FigureCanvasAgg.draw(ex.canvas)  # the whole figure, drawn afresh: the same pixels
        np.testing.assert_array_equal(part, np.asarray(ex.canvas.get_renderer().buffer_rgba()))
        ex.canvas.draw()  # what a zoom or pan does: the kept picture is out of date, taken again
        assert ex._blank is None
        ex._prepare.join(timeout=10)
        assert ex._blank is not None and ex._blank[1] == ("panel", id(ex._collapse[1]))
    ex.layer.value = "fc1.weight"
    ex.normalise.value = True
    ex.start(wait=True)
    assert ex.result.n_params == 12


def test_aging_explorer_follows_a_selection_made_elsewhere():
    """A run selected in another view (here: set on the shared Selection, as an Atlas click or a
    Mapper node does) is computed in the aging explorer: the same curves as the lens on that run."""
    runs = lk.examples.example_runs("digits-widths")
    sel = lk.widgets.Selection()
    ex = lk.widgets.AgingExplorer({"w8": runs.where(width=8)[0], "w32": runs.where(width=32)[0]},
                                  selection=sel)  # fmt: skip
    sel.runs = (lk.widgets.atlas.run_key(runs.where(width=32)[0]),)
    ex._follow.join(timeout=10)  # it waits 0.6 s (the view that chose redraws first), then computes
    ex.wait(timeout=60)
    assert ex.pick.value == "w32" and ex.result is not None
    ref = lk.glassy.two_time(runs.where(width=32)[0], n_waiting=ex.n_waiting.value)
    np.testing.assert_allclose(ex.result.msd, ref.msd)
    sel.runs = (lk.widgets.atlas.run_key(runs.where(width=32)[1]),)  # a run it does not hold
    assert ex.follow_selection() is None and ex.pick.value == "w32"


def test_phase_explorer():
    from landkit import taxonomy

    rows = [{"load": w, "temperature": b, "loss": 0.1, "test_acc": 0.9, "lambda_max": 2.0, "trace": 9.0,
             "mc": mc, "mc_std": 0.01, "cka": 0.9, "n_seeds": 2, "mc_profiles": [[0.1, 0.3, 0.1]]}
            for (w, b), mc in zip([(4, 8), (4, 64), (32, 8), (32, 64)], [-0.2, -0.1, 0.0, 0.01])]  # fmt: skip
    table = taxonomy.PhaseTable(
        "width", "batch_size", rows, taxonomy.classify(rows), taxonomy.Thresholds()
    )
    ex = lk.widgets.PhaseExplorer(table)
    ex.pick(32, 64)
    assert "phase <b>IV" in ex.message.value and ex.png().startswith(b"\x89PNG")
    ex.cells.children[2].children[1].click()  # rows: header, load 32, load 4; column 0 the labels
    assert ex.load.value == 4 and ex.temp.value == 8 and "phase <b>III" in ex.message.value
    # the phase map answers the pointer: the cell under it (row load 32, column batch size 64)
    ax = ex._map_ax
    x, y = ax.transData.transform((1.2, 0.8))
    assert ex.cell_at(ax, x, y) == (32, 64)
    assert "width=32, batch_size=64: phase IV" in ex.describe(ax, x, y)
    ex.click(ax, x, y)  # and a click shows that cell
    ex.wait(timeout=30)
    assert (ex.load.value, ex.temp.value) == (32, 64) and "phase <b>IV" in ex.message.value


def test_every_tour_explorer_runs_on_the_shipped_runs():
    runs = lk.examples.example_runs("digits-widths")
    spec = lk.widgets.SpectrumExplorer(lk.koopman.uniform_groups(runs, by="width"), delays=2,
                                       n_resamples=9, pca=8, rank=6)  # fmt: skip
    traj = runs.where(width=32)[0]
    land = lk.widgets.LandscapeExplorer(traj.model(), traj.task(), trajectory=traj, resolution=7)
    mapx = lk.widgets.MapperExplorer(runs.where(width=8))
    morse = lk.widgets.MorseExplorer(runs.where(width=32), start_step=50, subdiv=8)
    aging = lk.widgets.AgingExplorer({"w8": runs.where(width=8)[0], "w32": traj})
    rows = [dict(load=w, temperature=b, loss=0.05 * b / w, mc=0.0, mc_std=0.01, cka=0.8,
                 test_acc=0.9, lambda_max=5.0, trace=40.0, n_seeds=2, mc_profiles=[[0.1, 0.3, 0.1]])
            for w in (4, 16) for b in (8, 32)]  # fmt: skip
    phase = lk.widgets.PhaseExplorer(
        lk.taxonomy.PhaseTable(
            "width", "batch_size", rows, lk.taxonomy.classify(rows), lk.taxonomy.Thresholds()
        )
    )
    atlas = lk.widgets.Atlas(runs)
    for ex in (spec, land, mapx, morse, aging, phase, atlas):
        ex.start(wait=True)
        assert ex.error is None and ex.png().startswith(b"\x89PNG"), type(ex).__name__
        # readable on a 1024-pixel projector: every text at least 11 px as drawn (an explorer shows
        # its figure at its own pixels; the browser test measures the atlas's scale at 1024 px)
        fig = ex._figure
        sizes = {t.get_text(): t.get_fontsize() * fig.dpi / 72 for t in fig.findobj(Text)
                 if t.get_visible() and t.get_text().strip()}  # fmt: skip
        small = {k: round(v, 1) for k, v in sizes.items() if v < 11}
        assert not small, (type(ex).__name__, small)
    # each message ends in a plain-language verdict, the lens's own words
    assert land.message.value.endswith(f"<b>{land.topology.verdict}</b>")
    assert aging.message.value.endswith(
        f"<b>{lk.glassy.verdict(lk.glassy.summary(aging.result))}</b>"
    )
    assert mapx.message.value.endswith("</b>") and "split" in mapx.message.value.rsplit("<b>", 1)[1]
    shown = phase.message.value.split("phase <b>", 1)[1].split("</b>", 1)[0]
    assert phase.message.value.endswith(f"<b>{lk.taxonomy.MEANING[shown]}</b>")
    # the chosen cell is outlined on the map (load 4 is row 0, temperature 8 column 0)
    (box,) = [p for p in phase._map_ax.patches if p.get_gid() == "chosen"]
    assert box.get_xy() == pytest.approx((-0.46, -0.46))
    phase.load.value, phase.temp.value = 16, 32
    phase.start(wait=True)
    (box,) = [p for p in phase._map_ax.patches if p.get_gid() == "chosen"]
    assert box.get_xy() == pytest.approx((1 - 0.46, 1 - 0.46))
    with pytest.raises(lk.LandkitError, match=r"PhaseTable.*lk\.taxonomy\.measure"):
        lk.widgets.PhaseExplorer(runs)


def _stopped_before_start(ex):
    """Run an explorer's work with Stop already pressed (what a press at its first progress tick does)."""
    ex._stop.set()
    ex._guarded()
    assert ex.error is None and "stopped" in ex.message.value, ex.message.value


def test_stop_reaches_the_lens_in_every_long_explorer():
    runs = lk.examples.example_runs("digits-widths")
    wide = runs.where(width=32)
    mx = lk.widgets.MapperExplorer(wide)
    _stopped_before_start(mx)
    assert mx.graph is None
    mo = lk.widgets.MorseExplorer(runs.where(width=8), subdiv=8)
    _stopped_before_start(mo)
    assert mo.result is None
    ag = lk.widgets.AgingExplorer({"a": runs[0]})
    _stopped_before_start(ag)
    assert ag.result is None
    sp = lk.widgets.SpectrumExplorer(lk.examples.omd_ogd(), n_resamples=50)
    sp.pick.value = ("ogd", "bisection")
    sp._stop.set()
    sp._guarded()  # the spectra are drawn; the permutation test is skipped
    assert sp.result is None and sp.error is None and "W(ogd, bisection)" in sp.message.value


def test_every_long_lens_reports_progress_and_honours_cancel():
    runs = lk.examples.example_runs("digits-widths")
    wide = list(runs.where(width=32))

    def counting(log, stop_at=None):
        def tick(done, total):
            log.append((done, total))
            if stop_at is not None and done >= stop_at:
                raise lk.Cancelled

        return tick

    calls = []
    lk.glassy.two_time(wide[0], progress=counting(calls))
    assert calls[-1] == (1000, 1000) and all(a[0] <= b[0] for a, b in itertools.pairwise(calls))
    calls = []
    lk.mapper.graph(wide, lens="loss", n_cubes=4, progress=counting(calls))
    assert calls == [(i, 5) for i in range(1, 6)]
    calls = []
    lk.morse.from_runs(list(runs.where(width=8)), start_step=10, subdiv=8, progress=counting(calls))
    assert calls == [(i, 7) for i in range(1, 8)]
    d = lk.examples.omd_ogd()
    calls = []
    with pytest.raises(lk.Cancelled):
        lk.koopman.conjugacy_test(d["omd"], d["ogd"], n_resamples=50,
                                  progress=counting(calls, stop_at=3))  # fmt: skip
    assert calls[-1] == (3, 100)  # two groups × 50 resample pairs
    with pytest.raises(lk.Cancelled):
        lk.mapper.graph(wide, lens="loss", progress=counting([], stop_at=2))


def test_the_projector_switch_enlarges_text_in_the_same_pixels():
    """lk.plots.projector(): every figure (and every explorer's image) keeps its pixel size while text
    and markers grow by the scale; off again, everything is as before."""
    import io

    from PIL import Image

    def title_height_and_png():
        fig, ax = lk.plots.new_figure(width=5, height=4)
        ax.plot([0, 1], [0, 1], "o-")
        t = ax.set_title("a title to read from the back of the room")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=fig.get_dpi())
        fig.canvas.draw()
        return t.get_window_extent().height, Image.open(io.BytesIO(buf.getvalue())).size

    def explorer_png():
        rows = [dict(load=w, temperature=b, loss=0.05 * b / w, mc=0.0, mc_std=0.01, cka=0.8,
                     test_acc=0.9, lambda_max=5.0, trace=40.0, n_seeds=2)
                for w in (4, 16) for b in (8, 32)]  # fmt: skip
        table = lk.taxonomy.PhaseTable("width", "batch_size", rows, lk.taxonomy.classify(rows),
                                       lk.taxonomy.Thresholds())  # fmt: skip
        ex = lk.widgets.PhaseExplorer(table)
        ex.start(wait=True)
        return Image.open(io.BytesIO(ex.png())).size

    try:
        h_off, size_off = title_height_and_png()
        ex_off = explorer_png()
        assert lk.plots.projector(True, scale=1.5) == 1.5
        h_on, size_on = title_height_and_png()
        ex_on = explorer_png()
    finally:
        lk.plots.projector(False)
    assert h_on / h_off == pytest.approx(1.5, rel=0.05)
    assert abs(size_on[0] - size_off[0]) <= 2 and abs(size_on[1] - size_off[1]) <= 2
    assert abs(ex_on[0] - ex_off[0]) <= 0.1 * ex_off[0]  # bbox="tight" trims a little differently
    assert title_height_and_png()[0] == pytest.approx(h_off)
    with pytest.raises(lk.InvalidArgument, match="between 1 and 4"):
        lk.plots.projector(True, scale=10)


def test_explorers_drawing_in_threads_leave_the_users_style_alone():
    """matplotlib's rc_context is not thread-safe: explorers drawing in background threads interleaved
    their save/restore and left landkit's style set globally (font 11, savefig.bbox "tight"), so the
    user's next figures changed. Every landkit drawing now takes one lock."""
    import threading

    import matplotlib

    keys = ("font.size", "savefig.bbox", "savefig.dpi", "axes.prop_cycle", "figure.dpi")
    before = {k: matplotlib.rcParams[k] for k in keys}
    spectra = {"a": np.array([0.9, 0.5 + 0.2j, 0.5 - 0.2j])}

    def draw():
        for _ in range(40):
            lk.plots.plot_eigenvalues(spectra)

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {k: matplotlib.rcParams[k] for k in keys} == before
