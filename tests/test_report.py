import re

import pytest

import landkit as lk
from landkit import cli


@pytest.mark.slow
def test_tour_writes_a_self_contained_report(tmp_path):
    index = cli.tour(str(tmp_path / "report"), str(tmp_path / "runs"), fast=True, workers=2)
    html = index.read_text()
    assert "<h2>Training runs</h2>" in html
    for src in re.findall(r"(?:src|href)='([^']+)'", html):
        assert not src.startswith(("http:", "https:", "//")), f"external reference {src}"
        assert (index.parent / src).exists(), src
    training, rest = html.split("<h2>Koopman spectra</h2>")
    koopman, rest = rest.split("<h2>Loss landscape</h2>")
    landscape, rest = rest.split("<h2>Global dynamics</h2>")
    dynamics, rest = rest.split("<h2>Aging</h2>")
    aging, phases = rest.split("<h2>Phases (local vs global)</h2>")
    # the tour's runs vary one knob: its phase section comes from the shipped taxonomy sweep
    assert "From the shipped taxonomy sweep" in phases and "figures/phase_map.png" in phases
    assert len(re.findall(r"<tr><td>width=", aging)) == 3 and "figures/aging_curves.png" in aging
    assert len(re.findall(r"<tr><td>width=", dynamics)) == 3  # one Mapper graph per width
    assert "figures/mapper_graphs.png" in dynamics and "at least 5 runs" in dynamics
    assert len(re.findall(r"<tr><td>", training)) == 6  # 3 widths × 2 seeds
    assert len(re.findall(r"<tr><td>", koopman)) == 3  # 8 vs 32, 8 vs 128, 32 vs 128
    assert "figures/koopman_eigenvalues.png" in koopman
    # one profiled model per width, with its Hessian and topology numbers, and the path figure
    assert len(re.findall(r"<tr><td>width=", landscape)) == 3
    assert "lambda_max" in landscape and "n_minima" in landscape
    assert "figures/landscape_path.png" in landscape
    assert "6 runs recorded (6 finished)" in html
    runs = lk.load_runs(tmp_path / "runs")
    assert sorted({c["width"] for c in runs.configs}) == [8, 32, 128]

    # the same report for runs recorded elsewhere, and for a single run
    again = cli.report(str(tmp_path / "runs"), str(tmp_path / "report2"))
    assert "6 runs recorded" in again.read_text()
    assert "Skipped: the taxonomy needs a sweep over two knobs" in again.read_text()
    one = cli.report(str(runs[0].path), str(tmp_path / "report3"))
    assert "1 runs recorded" in one.read_text()
