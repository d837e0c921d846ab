"""The static site (make site): executed notebooks as pages that open from disk with no network."""

import json
import time
from pathlib import Path

import pytest

import landkit as lk

ROOT = Path(__file__).parent.parent


def _nb(cells, metadata=None):
    return {"cells": cells, "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": 5}


def test_a_page_has_no_internet_loader_and_widgets_become_notes():
    widget = {"output_type": "display_data", "metadata": {},
              "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2,
                                                                     "version_minor": 0},
                       "text/plain": "Explorer(...)"}}  # fmt: skip
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Title\n", "$\\Delta = t^\\alpha$"]},
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": 1,
            "source": "x",
            "outputs": [widget],
        },
    ]
    page = lk.site.to_html(_nb(cells, {"widgets": {"state": {}}}))
    assert lk.site.offline_problems(page) == []
    assert "cdnjs" not in page and "unpkg" not in page and "require.min.js" not in page
    assert "mathjax/MathJax.js" in page and "STIX-Web" in page
    assert "An interactive explorer stood here" in page and "Explorer(...)" not in page
    # the checker itself finds what would be fetched, and leaves plain links alone
    bad = '<script src="https://cdn.example/x.js"></script><a href="https://arxiv.org/abs/1">paper</a>'
    assert lk.site.offline_problems(bad) == ["https://cdn.example/x.js"]


def test_a_widget_becomes_the_picture_its_kernel_drew(tmp_path):
    """An explorer never run is run, then drawn as HTML (settings, verdict, figure as an embedded
    PNG); the page puts that picture where the widget stood, and a widget with no picture gets the
    note. A box of widgets is drawn child by child."""
    import ipywidgets as W

    from landkit.widgets import static

    ex = lk.widgets.AgingExplorer(lk.examples.example_runs("students"))
    box = W.VBox([W.HTML("<i>two views</i>"), W.IntSlider(value=7, description="lag")])
    path = tmp_path / "pictures.json"
    assert static.write_snapshots(path, roots=[ex, box]) == 2
    pictures = json.loads(path.read_text())
    assert ex._figure is not None  # it was run
    picture = pictures[ex.model_id]
    assert picture.count("data:image/png;base64,") == 1 and "fitted" in picture
    assert "<script" not in picture and lk.site.offline_problems(picture) == []
    assert "<i>two views</i>" in pictures[box.model_id] and "lag <b>7</b>" in pictures[box.model_id]

    def widget(model_id):
        return {"output_type": "display_data", "metadata": {},
                "data": {"application/vnd.jupyter.widget-view+json": {"model_id": model_id},
                         "text/plain": "Explorer(...)"}}  # fmt: skip

    cell = {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "x",
            "outputs": [widget(ex.model_id), widget("gone")]}  # fmt: skip
    page = lk.site.to_html(_nb([cell]), pictures)
    assert "lk-static" in page and "fitted" in page  # the picture
    assert page.count("An interactive explorer stood here") == 1  # the widget with no picture
    assert lk.site.offline_problems(page) == []


@pytest.mark.slow
def test_the_site_opens_from_disk_with_no_network(tmp_path):
    """A lesson executed (FAST) and rendered; opened in Chromium from file://, nothing is requested
    off the machine and the equations are typeset by the local MathJax."""
    import shutil

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("no chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    from landkit.cli import main

    main(
        [
            "site",
            str(ROOT / "notebooks"),
            str(tmp_path / "site"),
            "--fast",
            "--only",
            "05_glassy_aging",
        ]
    )
    index = tmp_path / "site" / "index.html"
    page_file = tmp_path / "site" / "05_glassy_aging.html"
    assert (
        "05_glassy_aging.html" in index.read_text() and "Teaching with landkit" in index.read_text()
    )
    text = page_file.read_text()
    assert "matches landkit on 5 random inputs" in text  # executed: the exercise checks ran
    # the explorer as its kernel drew it once run: its figure and verdict, not a note
    assert "lk-static" in text and "An interactive explorer stood here" not in text
    assert "Aging: does training slow down" in text and "fitted" in text
    requests = []
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
            "--disable-background-networking", "--disable-component-update"]  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=args)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(f"file://{index}")
            page.goto(f"file://{page_file}")
            deadline = time.monotonic() + 30
            while page.locator(".MathJax").count() < 5 and time.monotonic() < deadline:
                time.sleep(0.3)
            typeset = page.locator(".MathJax").count()
            shown = page.locator(".lk-static img").evaluate_all(
                "imgs => imgs.map(i => i.naturalWidth)"
            )
        finally:
            browser.close()
    outside = [u for u in requests if not u.startswith(("file://", "data:", "blob:", "about:"))]
    assert not outside, outside[:5]
    assert any("mathjax/MathJax.js" in u for u in requests)
    assert typeset >= 5, f"{typeset} equations typeset"
    assert shown and min(shown) > 300, shown  # the explorer's figure opens from the page itself
