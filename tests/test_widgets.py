"""The explorers driven from Python (the browser test drives one in JupyterLab)."""

import time

import pytest

import landkit as lk


def test_train_explorer_trains_records_and_stops(tmp_path):
    ex = lk.widgets.TrainExplorer(root=tmp_path, steps=60, width=8)
    assert bytes(ex.image.value) == b""
    ex.start(wait=True)
    assert bytes(ex.image.value).startswith(b"\x89PNG")
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


def test_spectrum_explorer_compares_groups():
    d = lk.examples.omd_ogd()
    ex = lk.widgets.SpectrumExplorer(d, n_permutations=19)
    ex.pick.value = ("ogd", "bisection")
    ex.start(wait=True)
    assert set(ex.spectra) == {"ogd", "bisection"}
    assert ex.result.p_value == pytest.approx(0.05)
    assert "W = 0.86" in ex.message.value and bytes(ex.image.value).startswith(b"\x89PNG")
    ex.rank.value = 3
    ex.n_perm.value = 0
    ex.start(wait=True)
    assert all(len(s.eigenvalues) == 3 for s in ex.spectra.values())


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
