import re

import pytest

import landkit as lk
from landkit import cli


@pytest.mark.slow
def test_tour_writes_a_self_contained_report(tmp_path):
    index = cli.tour(str(tmp_path / "report"), str(tmp_path / "runs"), fast=True, workers=2)
    html = index.read_text()
    sec = dict(re.findall(r"<h2 id='s\d+'>([^<]+)</h2>(.*?)(?=<h2 |</body>)", html, re.S))
    assert list(sec) == ["Training runs", "Koopman spectra", "Loss landscape", "Global dynamics",
                         "Aging", "Phases (local vs global)"]  # fmt: skip
    # a table of contents links every section
    assert all(f"<a href='#s{i}'>" in html for i in range(6)) and "<nav>" in html
    for src in re.findall(r"(?:src|href)='([^'#]+)'", html):
        assert not src.startswith(("http:", "https:", "//")), f"external reference {src}"
        assert (index.parent / src).exists(), src
    assert "<td>nan</td>" not in html  # a value that does not apply reads "—"
    training, koopman, landscape = (
        sec["Training runs"],
        sec["Koopman spectra"],
        sec["Loss landscape"],
    )
    dynamics, aging, phases = sec["Global dynamics"], sec["Aging"], sec["Phases (local vs global)"]
    # the tour's runs vary one knob: its phase section comes from the shipped taxonomy sweep
    assert "From the shipped taxonomy sweep" in phases and "figures/phase_map.png" in phases
    assert "phase IV-B" in phases  # the best accuracy's phase
    for name, body in sec.items():  # every section ends in a plain-language verdict
        assert "<b>Verdict:</b>" in body, name
    assert len(re.findall(r"<tr><td>width=", aging)) == 3 and "figures/aging_curves.png" in aging
    assert len(re.findall(r"<tr><td>reference: width ", aging)) == 2
    assert len(re.findall(r"<tr><td>width=", dynamics)) == 3  # one Mapper graph per width
    assert "figures/mapper_graphs.png" in dynamics and "at least 5 runs" in dynamics
    # a Morse graph with two attractors whose runs differ in accuracy (the exact map of a ReLU unit)
    assert re.search(r"2 attractors: attractor at \(w, v\) = \([^)]*\) holds \d+ of 20 runs, balanced "
                     r"accuracy 0\.(50|90); attractor at [^;]*accuracy 0\.(50|90)\.", dynamics)  # fmt: skip
    assert "figures/morse_reference.png" in dynamics
    # and Mapper, on the same runs, splits them the way the attractors do
    assert re.search(r"Mapper of the same runs' snapshots .*?: [1-9] split\(s\).*?every end node holds "
                     r"runs of one attractor", dynamics)  # fmt: skip
    assert "figures/mapper_reference.png" in dynamics
    assert len(re.findall(r"<tr><td>", training)) == 6  # 3 widths × 2 seeds
    # 8 vs 32, 8 vs 128, 32 vs 128, then the two reference pairs with known answers
    assert len(re.findall(r"<tr><td>width=", koopman)) == 3
    assert "figures/koopman_eigenvalues.png" in koopman
    # the tour shows what a difference looks like: the reference contrasts with the papers' numbers
    assert re.search(r"OMD vs OGD: <b>conjugate</b> \(W 0\.008\d*; the paper 0\.008\)", koopman)
    assert re.search(
        r"OGD vs bisection: <b>not conjugate</b> \(W 0\.753\d*; the paper 0\.753\)", koopman
    )
    assert "figures/koopman_reference.png" in koopman
    assert (
        re.search(r"width 1 ages: .*?μ = 1\.6\d", aging) and "figures/aging_reference.png" in aging
    )
    assert re.search(r"width 64 weak aging at most [^<]*?diffusion \(α = 1\.1\d", aging)
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
    assert "For contrast" not in again.read_text()  # the references are the tour's, not a user's
    one = cli.report(str(runs[0].path), str(tmp_path / "report3"))
    assert "1 runs recorded" in one.read_text()
