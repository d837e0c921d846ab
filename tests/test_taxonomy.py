"""The phase taxonomy: the classifier on hand-made tables, and a sweep measured on a Dask cluster."""

import pytest

import landkit as lk
from landkit import taxonomy as T


def _row(mc, loss, cka, load=0, temp=0):
    return {"load": load, "temperature": temp, "mc": mc, "loss": loss, "cka": cka}


def test_classifier_on_hand_made_tables():
    rows = [
        _row(-0.3, 1.2, 0.5),  # poorly connected, high loss: I
        _row(0.2, 0.8, 0.6),  # endpoints not converged: II
        _row(-0.2, 0.01, 0.7),  # poorly connected, low loss: III
        _row(0.0, 0.01, 0.80),  # well connected, low loss, lower CKA: IV-A
        _row(0.005, 0.02, 0.95),  # well connected, low loss, higher CKA: IV-B
    ]
    assert T.classify(rows, T.Thresholds(cka=0.9)) == ["I", "II", "III", "IV-A", "IV-B"]
    # the default CKA threshold is fixed (0.99): a grid may have no IV-B cell at all
    assert T.classify(rows)[3:] == ["IV-A", "IV-A"]
    assert T.classify([_row(0.0, 0.01, 0.991), _row(0.0, 0.01, 0.992)]) == ["IV-B", "IV-B"]
    assert T.classify([_row(-0.05, 0.01, 0.995)], T.Thresholds(mc_eps=0.1)) == ["IV-B"]


def test_sweep_measured_on_a_dask_cluster(tmp_path):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=40) as cluster, Client(cluster) as client:  # fmt: skip
        ex = client.get_executor()
        runs = T.digits_sweep(tmp_path / "sw", widths=[4, 32], batch_sizes=[16, 128], seeds=2,
                              steps=150, n_train=300, executor=ex)  # fmt: skip
        ticks = []
        table = T.measure(runs, mc_epochs=1, hessian_samples=128, trace_matvecs=6, executor=ex,
                          progress=lambda d, t: ticks.append((d, t)))  # fmt: skip
    assert ticks == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert len(runs) == 8 and len(table.rows) == 4 and len(table.phase) == 4
    # the cluster computes exactly what this process computes
    local = T.measure(runs, mc_epochs=1, hessian_samples=128, trace_matvecs=6)
    for r, q in zip(table.rows, local.rows):
        for key in ("loss", "test_acc", "lambda_max", "trace", "mc", "cka"):
            assert r[key] == pytest.approx(q[key], rel=1e-5, abs=1e-7), key
    assert table.phase == local.phase
    assert {(r["load"], r["temperature"]) for r in table.rows} == {
        (4, 16),
        (4, 128),
        (32, 16),
        (32, 128),
    }
    for r in table.rows:
        assert (
            r["n_seeds"] == 2 and r["lambda_max"] > 0 and -1 <= r["mc"] <= 1 and 0 < r["cka"] <= 1
        )
        assert len(r["mc_profiles"][0]) == 21
    loads, temps, grid = table.grid("mc")
    assert loads == [4, 32] and temps == [16, 128] and grid.shape == (2, 2)
    assert set(table.phase) <= {"I", "II", "III", "IV-A", "IV-B"}


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        T.measure(lk.RunSet([]))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as ex:
        runs = T.digits_sweep(tmp_path / "one", widths=[4], batch_sizes=[32], seeds=1, steps=5,
                              n_train=100, executor=ex)  # fmt: skip
    with pytest.raises(ValueError, match="one seed"):
        T.measure(runs)
    with pytest.raises(ValueError, match="needs 'depth'"):
        T.measure(runs, load="depth")


def test_report_section_for_a_sweep(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from landkit import report

    with ThreadPoolExecutor(1) as ex:
        runs = T.digits_sweep(tmp_path / "sw", widths=[4, 8], batch_sizes=[16, 64], seeds=2, steps=40,
                              n_train=150, executor=ex)  # fmt: skip
    sec = report.taxonomy_section(runs)
    assert len(sec.table) == 4 and {"phase", "mc", "cka", "lambda_max"} <= set(sec.table[0])
    assert [name for name, _, _ in sec.figures] == ["phase_diagrams", "phase_map"]


def test_findings_read_the_table():
    rows = [
        {**_row(-0.2, 0.6, 0.7, load=4, temp=8), "test_acc": 0.80},
        {**_row(-0.1, 0.5, 0.7, load=4, temp=64), "test_acc": 0.82},
        {**_row(0.01, 0.05, 0.995, load=64, temp=8), "test_acc": 0.95},
        {**_row(-0.01, 0.04, 0.98, load=64, temp=64), "test_acc": 0.96},
    ]
    t = T.PhaseTable("width", "batch_size", rows, T.classify(rows), T.Thresholds())
    assert t.phase == ["I", "I", "IV-B", "IV-A"]
    f = t.findings()
    assert f[0] == (
        "smallest width (4), 2 cells: 2 poorly connected (mc < −ε); mc -0.200 to -0.100 (ε = 0.02)"
    )
    assert f[1] == (
        "largest width (64), 2 cells: 2 well connected (|mc| ≤ ε); mc -0.010 to +0.010 (ε = 0.02)"
    )
    assert f[2] == "the best test accuracy (0.960) is at width 64, batch_size 64: phase IV-A"
    assert f[3] == "phases reached: I, IV-A, IV-B; not reached: II, III"
