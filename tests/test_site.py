"""The static site (make site): executed notebooks as pages that open from disk with no network."""

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
        finally:
            browser.close()
    outside = [u for u in requests if not u.startswith(("file://", "data:", "blob:", "about:"))]
    assert not outside, outside[:5]
    assert any("mathjax/MathJax.js" in u for u in requests)
    assert typeset >= 5, f"{typeset} equations typeset"
