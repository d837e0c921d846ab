"""The shipped example runs are what data/make_data.py makes."""

from pathlib import Path

import numpy as np
import pytest

import landkit as lk

DATA = Path(__file__).resolve().parent.parent / "data"


def test_shipped_example_runs_match_the_script(tmp_path):
    lk.examples.make_example_data(tmp_path, sets=("digits-widths", "omd-ogd", "taxonomy-fast"))
    for name in ("digits-widths", "taxonomy-fast"):
        shipped, fresh = lk.load_runs(DATA / name), lk.load_runs(tmp_path / name)
        assert len(shipped) == len(fresh) > 0
        for a, b in zip(shipped, fresh):
            assert a.path.name == b.path.name and a.config == b.config and a.status == b.status
            np.testing.assert_array_equal(a.steps, b.steps)
            assert [p.name for p in a.params] == [p.name for p in b.params]
            assert sorted(a.scalars) == sorted(b.scalars)
            # float tolerance: another CPU may round the same arithmetic differently
            np.testing.assert_allclose(
                np.asarray(a.weights[:]), np.asarray(b.weights[:]), rtol=1e-3, atol=1e-4
            )
            for k in a.scalars:
                np.testing.assert_allclose(
                    a.scalars[k], b.scalars[k], rtol=1e-3, atol=1e-4, err_msg=k
                )
    with np.load(DATA / "omd-ogd.npz") as f, np.load(tmp_path / "omd-ogd.npz") as g:
        assert sorted(f.files) == sorted(g.files) == ["bisection", "ogd", "omd"]
        for k in f.files:
            np.testing.assert_allclose(f[k], g[k], rtol=1e-12)


def test_shipped_phase_table_is_what_measure_gives():
    """The tour's phase map loads the shipped measurements of the taxonomy-fast runs instead of
    measuring them (8 s): they are what lk.taxonomy.measure gives on those runs, phases included."""
    shipped = lk.examples.example_runs("taxonomy-fast-phases")
    assert isinstance(shipped, lk.taxonomy.PhaseTable)
    fresh = lk.taxonomy.measure(
        lk.examples.example_runs("taxonomy-fast"), **lk.examples.PHASES_MEASURE
    )
    assert shipped.phase == fresh.phase and {"I", "II", "IV-A", "IV-B"} <= set(shipped.phase)
    assert (shipped.load, shipped.temperature) == (fresh.load, fresh.temperature)
    for a, b in zip(shipped.rows, fresh.rows):
        assert (a["load"], a["temperature"]) == (b["load"], b["temperature"])
        for k in ("loss", "test_acc", "mc", "cka", "lambda_max", "trace"):
            np.testing.assert_allclose(a[k], b[k], rtol=1e-3, atol=1e-4, err_msg=k)


def test_example_runs_load_from_the_repository():
    runs = lk.examples.example_runs("digits-widths")
    assert sorted({c["width"] for c in runs.configs}) == [8, 32] and len(runs) == 10
    assert "grad_noise" in runs[0].scalars and "test_acc" in runs[0].scalars
    assert set(lk.examples.example_runs("omd-ogd")) == {"omd", "ogd", "bisection"}


def test_example_runs_outside_a_checkout_say_what_they_do(tmp_path, monkeypatch):
    """Installed from a wheel (no data/ folder), the first use records the runs: it must say so."""
    monkeypatch.setenv("LANDKIT_DATA", str(tmp_path / "cache"))
    with pytest.warns(UserWarning, match="recording them once into"):
        d = lk.examples.example_runs("omd-ogd")
    assert set(d) == {"omd", "ogd", "bisection"}
    assert (tmp_path / "cache" / "omd-ogd.npz").exists()


def test_shipped_grokking_set_shows_the_phenomenon():
    """The shipped grokking set (20 CPU-minutes to make; its seed 0 is retrained by the slow test in
    test_koopman.py): Redman et al.'s growing modes in every grokking seed."""
    d = lk.examples.example_runs("grokking")
    keys = sorted(d)
    assert keys == [f"{r}/seed{s}" for r in ("constrained", "grokking") for s in range(3)]
    for k in keys:
        assert d[k].shape == (10, 100, 10)
        top = lk.koopman.spectrum(d[k], delays=32, rank=10).moduli
        if k.startswith("grokking"):
            assert top.max() >= 1.025 and (top > 1).mean() >= 0.8, k  # paper 1.035-1.040, 91%


def test_shipped_grokking_run_groks():
    """Seed 0 of the grokking regime, trained on: training accuracy first, test accuracy thousands of
    steps later (the shipped curve; 75 CPU-minutes to make)."""
    c = lk.examples.example_runs("grokking-curve")
    memorised = c["step"][np.argmax(c["train_acc"] >= 0.99)]
    generalised = c["step"][np.argmax(c["test_acc"] >= 0.95)]
    assert c["train_acc"].max() >= 0.99 and c["test_acc"][-1] >= 0.99
    assert generalised >= 10 * memorised  # test accuracy comes long after training accuracy
    at_memorised = c["test_acc"][np.argmax(c["train_acc"] >= 0.99)]
    assert at_memorised < 0.05  # and at that point the test set is at chance (1/113)
