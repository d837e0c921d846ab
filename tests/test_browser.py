"""A real headless Chromium drives JupyterLab: run 01_capture, move a slider, press Train.

Needs Debian's chromium (``apt-get install chromium``) and the ``playwright`` Python package (never
``playwright install``: it would download a browser). Without them the test skips with a message,
unless ``LANDKIT_REQUIRE_BROWSER=1`` (set by CI), which turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
CHROMIUM = os.environ.get("LANDKIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
LATENCY: dict = {}  # what the browser tests measured: written to test-artifacts/explorer-latency.json
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]  # fmt: skip

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _require_browser():
    problem = None
    if not Path(CHROMIUM).exists():
        problem = f"no chromium at {CHROMIUM}: install Debian's package (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing: pip install playwright (no browser download needed)"
    if problem:
        if os.environ.get("LANDKIT_REQUIRE_BROWSER"):
            pytest.fail(f"browser test required (LANDKIT_REQUIRE_BROWSER is set) but {problem}")
        pytest.skip(f"browser test skipped: {problem}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab on 127.0.0.1 serving a FAST copy of the notebooks; stopped by its PID."""
    _require_browser()
    work = tmp_path / "lab"
    work.mkdir()
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        data = json.loads(nb.read_text())
        for cell in data["cells"]:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                cell["source"] = "FAST = True"
        (work / nb.name).write_text(json.dumps(data))
    # import once beforehand: in a fresh venv the kernel's first import compiles bytecode for long
    # enough that JupyterLab gives up on it and restarts it
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import landkit.widgets, ipykernel.kernelapp, matplotlib.pyplot, kmapper, "
            "CMGDB, networkx, sklearn.gaussian_process, scipy.sparse.csgraph",
        ],
        check=True,
    )
    # render every cell (JupyterLab 4 otherwise renders only the cells in view, so explorers further
    # down the tour would not be in the page)
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = _free_port(), secrets.token_hex(16)
    log = open(tmp_path / "jupyterlab.log", "w")
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]  # fmt: skip
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    # a fresh workspace per test: JupyterLab would otherwise reopen the previous test's notebooks
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces")}  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"JupyterLab did not start; log:\n{(tmp_path / 'jupyterlab.log').read_text()}"
                    ) from None
                time.sleep(0.5)
        yield url, token, work
    finally:
        _stop_server(proc)
        log.close()


def _stop_server(proc):
    """Stop a server and the kernels it started (one process group)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _kernel_idle(url, token) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/kernels?token={token}", timeout=5) as r:
            kernels = json.loads(r.read())
    except (
        OSError
    ):  # HTTP 500 while a kernel is still being set up (a known server race): not ready yet
        return False
    return bool(kernels) and all(k["execution_state"] == "idle" for k in kernels)


def _run_all(page, url, token, timeout=120):
    """Run > Run All Cells once the kernel is up; again if the first click found no kernel."""
    deadline = time.monotonic() + timeout
    while not _kernel_idle(url, token):
        assert time.monotonic() < deadline, "the kernel did not start"
        time.sleep(0.5)
    prompts = page.locator(".jp-CodeCell .jp-InputPrompt")
    for _ in range(3):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
        started = time.monotonic()
        while time.monotonic() - started < 20:
            if any(re.search(r"\[(\*|\d+)\]", t) for t in prompts.all_inner_texts()):
                return
            time.sleep(0.25)
    raise AssertionError("Run All Cells did not start the notebook")


def _wait_idle(page, timeout=240):
    """Until no cell shows the [*] busy prompt and the kernel says idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = page.locator(".jp-InputPrompt", has_text="[*]").count()
        if not busy and page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count():
            return
        time.sleep(0.5)
    raise AssertionError("the notebook did not finish running")


def test_capture_notebook_in_jupyterlab(jupyterlab, tmp_path):
    from playwright.sync_api import sync_playwright

    url, token, work = jupyterlab
    outside, console_errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.on(
                "request",
                lambda r: (
                    outside.append(r.url) if not r.url.startswith((url, "data:", "blob:")) else None
                ),
            )
            page.on(
                "console", lambda m: console_errors.append(m.text) if m.type == "error" else None
            )
            page.goto(f"{url}/lab/tree/01_capture.ipynb?reset&token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
            _run_all(page, url, token)
            explorer = page.locator(".lk-train-explorer")
            explorer.wait_for(timeout=120_000)
            _wait_idle(page)
            # figures returned by cells are drawn as images, not "<Figure size ...>" text
            assert page.locator(".jp-OutputArea-output img").count() >= 1
            assert not page.get_by_text(re.compile(r"<Figure size")).count()
            image = _figure(explorer)
            image.wait_for(timeout=30_000)
            deadline = time.monotonic() + 30
            while not _pixels(explorer) and time.monotonic() < deadline:
                time.sleep(0.2)  # the canvas draws once its view asks the kernel
            before_src = _pixels(explorer)
            before_png = image.screenshot()
            explorer.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "before.png"))

            # move the width slider four notches to the right (32 -> 40); once the kernel has 40
            # (the message names it: a user sees the same), press Train
            assert _slide(explorer, 4) == "40"
            _wait_received(explorer, "40")
            explorer.get_by_role("button", name="Train").click()
            message = explorer.locator(".lk-message")
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and "w40-" not in message.inner_text():
                time.sleep(0.5)
            text = message.inner_text()
            assert "done:" in text and "w40-" in text, text
            deadline = time.monotonic() + 30
            while _pixels(explorer) in (before_src, "") and time.monotonic() < deadline:
                time.sleep(0.2)
            after_src = _pixels(explorer)
            after_png = image.screenshot()
            page.screenshot(path=str(tmp_path / "after.png"))
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "browser-capture-FAILED.png"))
            print((tmp_path / "jupyterlab.log").read_text()[-5000:])
            raise
        finally:
            browser.close()
    ARTIFACTS.mkdir(exist_ok=True)
    for name in ("before.png", "after.png"):
        shutil.copy(tmp_path / name, ARTIFACTS / f"browser-capture-{name}")
    assert after_src != before_src and after_png != before_png, "the loss plot did not change"
    assert (work / "runs" / "explorer").is_dir() and any(
        d.name.startswith("w40-") for d in (work / "runs" / "explorer").iterdir()
    )
    assert not outside, f"requests left the machine: {outside[:5]}"


@pytest.fixture
def voila_app(tmp_path):
    """`make app`'s Voilà server (the landkit template) on 127.0.0.1 serving a FAST copy of the tour."""
    _require_browser()
    work = tmp_path / "app"
    work.mkdir()
    data = json.loads((ROOT / "notebooks" / "00_tour.ipynb").read_text())
    for cell in data["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cell["source"] = "FAST = True"
    (work / "00_tour.ipynb").write_text(json.dumps(data))
    port = _free_port()
    log = open(tmp_path / "voila.log", "w")
    env = {**os.environ, "JUPYTER_PATH": str(ROOT / "app")}
    cmd = [sys.executable, "-m", "voila", "00_tour.ipynb", "--template=landkit", "--no-browser",
           "--Voila.ip=127.0.0.1", f"--port={port}", "--VoilaConfiguration.progressive_rendering=True"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/voila/static/voila.js", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"Voilà did not start:\n{(tmp_path / 'voila.log').read_text()}"
                    ) from None
                time.sleep(0.5)
        yield url
    finally:
        _stop_server(proc)
        log.close()


def _figure(explorer):
    """The explorer's figure: ipympl's canvas (a pointable figure) or the PNG image."""
    canvas = explorer.locator("canvas")
    return canvas.first if canvas.count() else explorer.locator("img").first


def _pixels(explorer) -> str:
    """What the explorer's figure shows now, as a data URL (equal strings: the same picture)."""
    canvas = explorer.locator("canvas")
    if canvas.count():  # a canvas not drawn yet (all blank) counts as no picture
        # ipympl sizes and draws a canvas once it is laid out on screen: look at it, as a user would
        canvas.first.evaluate("c => c.scrollIntoView({block: 'center'})")
        return canvas.first.evaluate(_DRAWN)
    return explorer.locator("img").first.get_attribute("src") or ""


# the canvas's picture as a data URL, or "" while nothing is drawn on it (every pixel blank or white)
_DRAWN = """c => {
  if (!c.width || !c.height) return "";
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 0; i < d.length; i += 4 * 97) {
    if (d[i + 3] > 0 && (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250)) return c.toDataURL();
  }
  return "";
}"""


def _hover_readout(page, explorer, word: str) -> tuple[str, float, tuple]:
    """Move the pointer over the explorer's figure until its read-out contains ``word``; returns the
    read-out, the seconds from the move to it and where the pointer is."""
    canvas = explorer.locator("canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    readout = explorer.locator(".lk-readout")
    for fy in (0.5, 0.4, 0.6, 0.3, 0.7, 0.45, 0.55, 0.35, 0.65, 0.25, 0.75):
        for fx in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
            before = readout.inner_text()
            t0 = time.monotonic()
            x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
            page.mouse.move(x, y)
            while time.monotonic() - t0 < 0.4 and readout.inner_text() == before:
                time.sleep(0.02)
            if word in readout.inner_text() and readout.inner_text() != before:
                return readout.inner_text(), time.monotonic() - t0, (x, y)
    raise AssertionError(f"no read-out with {word!r} over the figure: {readout.inner_text()!r}")


def _press_and_wait(explorer, button: str, done: str, timeout=120, record: str | None = None):
    """Press the explorer's button; wait until its message changes to one containing ``done``.
    ``record``: keep, under that name, the time to the first answer (the button busy or the message
    changed: "working with …")."""
    message = explorer.locator(".lk-message")
    before = message.inner_text()
    press = explorer.get_by_role("button", name=button)
    t0 = time.monotonic()
    press.click()
    deadline = t0 + timeout
    busy = False  # the same answer again (a linked view ran it already) leaves the same message
    first = None
    while time.monotonic() < deadline:
        text = message.inner_text()
        busy = busy or press.is_disabled()
        if first is None and (busy or text != before):
            first = time.monotonic() - t0
            if record:
                LATENCY[record] = round(first, 2)
        if (text != before or (busy and not press.is_disabled())) and (
            done in text or "error" in text
        ):
            return text
        time.sleep(0.02 if first is None else 0.1)
    raise AssertionError(f"{button} did not finish: {message.inner_text()!r}")


def _drive(page, tmp_path, prefix, css, button, done, change):
    """Run one explorer, change one control, run it again: its figure must change."""
    ex = page.locator(css)
    ex.scroll_into_view_if_needed()
    text = _press_and_wait(ex, button, done)
    assert "error" not in text, f"{css}: {text}"
    first = _pixels(ex)
    _wait_received(ex, change(ex))
    t0 = time.monotonic()
    text = _press_and_wait(
        ex, button, done, record=f"{prefix} {css[4:]}: press to first answer (s)"
    )
    assert "error" not in text, f"{css}: {text}"
    deadline = time.monotonic() + 30
    while _pixels(ex) in (first, "") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pixels(ex) not in (first, ""), f"{css}: the figure did not change"
    LATENCY[f"{prefix} {css[4:]}: press to new figure (s)"] = round(time.monotonic() - t0, 2)
    page.screenshot(path=str(tmp_path / f"{prefix}-{css.split('-')[1]}.png"))


def _live(page, css, prefix, what, change):
    """Change a live control: the figure must change with no press of a button (timed)."""
    ex = page.locator(css)
    first = _pixels(ex)
    t0 = time.monotonic()
    change(ex)
    while _pixels(ex) in (first, "") and time.monotonic() - t0 < 20:
        time.sleep(0.02)
    assert _pixels(ex) not in (first, ""), f"{css}: {what} did not redraw the figure"
    LATENCY[f"{prefix} {css[4:]}: {what} to new figure, no press (s)"] = round(
        time.monotonic() - t0, 2
    )


def _wait_received(ex, shown: str, timeout=60):
    """Wait until the kernel has the value the page shows: the explorer's message names a changed
    setting with the value the kernel holds ("⚠ outdated: start step is now 84 …"). ipywidgets holds
    a control's later values back until the kernel answers its first, while a button press goes at
    once: a press made before this round trip may run with an earlier value, as a user's would."""
    message = ex.locator(".lk-message")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if f"is now {shown} " in message.inner_text().replace("\xa0", " "):
            return
        time.sleep(0.05)
    raise AssertionError(f"the kernel never had {shown!r}: {message.inner_text()!r}")


def _slide_nth(ex, n, times=2):
    slider = ex.locator(".widget-slider").nth(n)
    handle = slider.locator(".noUi-handle")
    handle.focus()
    for _ in range(times):
        handle.press("ArrowRight")
    return slider.locator(".widget-readout").inner_text().strip()


def _slide(ex, times=2):
    return _slide_nth(ex, 0, times)


def _choose(ex, *option, **by):
    """Choose an option of the explorer's first dropdown; returns its label."""
    select = ex.locator("select").first
    select.select_option(*option, **by)
    # ipywidgets writes an option's spaces as no-break spaces
    return select.evaluate("s => s.selectedOptions[0].textContent").replace("\xa0", " ").strip()


def _drive_tour_explorers(page, tmp_path, prefix):
    """The tour's explorers besides the landscape one: Mapper, Spectrum, Morse, Aging, Phase."""
    _drive(page, tmp_path, prefix, ".lk-mapper-explorer", "Map", "nodes",
           lambda ex: _choose(ex, "step"))  # fmt: skip
    # a Mapper node answers the pointer, and a click on it selects its runs in the atlas
    mapper = page.locator(".lk-mapper-explorer")
    text, hover_s, where = _hover_readout(page, mapper, "node")
    runs = int(re.search(r"(\d+) runs?:", text).group(1))
    chosen = page.locator(".lk-atlas select").first
    page.mouse.click(*where)
    deadline = time.monotonic() + 10
    while chosen.evaluate("s => s.selectedOptions.length") != runs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert chosen.evaluate("s => s.selectedOptions.length") == runs, (text, runs)
    LATENCY[f"{prefix} mapper-explorer: hover to node read-out (s)"] = round(hover_s, 2)
    _drive(page, tmp_path, prefix, ".lk-spectrum-explorer", "Compare", "W", _slide)
    _drive(page, tmp_path, prefix, ".lk-morse-explorer", "Compute", "Morse sets",
           lambda ex: _slide(ex, 3))  # fmt: skip
    # another run than the one on show (a click on a Mapper node above may have chosen one)
    _drive(page, tmp_path, prefix, ".lk-aging-explorer", "Compute", "fitted",
           lambda ex: _choose(ex, index=(ex.locator("select").first.evaluate("s => s.selectedIndex") + 1)
                              % ex.locator("select").first.evaluate("s => s.options.length")))  # fmt: skip
    # live controls: the figure changes with no press (the Mapper's colouring, the aging μ slider)
    _live(page, ".lk-mapper-explorer", prefix, "colour by",
          lambda ex: ex.locator("select").nth(1).select_option("size"))  # fmt: skip
    _live(page, ".lk-aging-explorer", prefix, "μ slider",
          lambda ex: _slide_nth(ex, 1))  # fmt: skip
    time.sleep(1.0)
    _live(page, ".lk-aging-explorer", prefix, "μ slider, a second move",
          lambda ex: _slide_nth(ex, 1, times=1))  # fmt: skip
    phase = page.locator(".lk-phase-explorer")
    phase.scroll_into_view_if_needed()
    phase.locator(".widget-hbox .widget-button").first.click()
    message = phase.locator(".lk-message")
    deadline = time.monotonic() + 60
    while "phase <b>" not in message.inner_html() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert "phase" in message.inner_text()
    deadline = time.monotonic() + 30  # the cell's figure: the phase map and its curves
    while not _pixels(phase) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _pixels(phase), "the phase explorer shows no figure"
    page.screenshot(path=str(tmp_path / f"{prefix}-phase.png"))


def _drive_atlas(page, tmp_path, *, app: bool = True) -> dict:
    """Hover the atlas's training curves until the read-out names a run, click there: the run is
    selected (the runs list follows) and the figure redraws. Returns the latencies in seconds."""
    atlas = page.locator(".lk-atlas")
    atlas.scroll_into_view_if_needed()
    message = atlas.locator(".lk-message")
    deadline = time.monotonic() + 120
    while "Cached" not in message.inner_text() and time.monotonic() < deadline:
        time.sleep(0.3)  # the Mapper graph is computed as the atlas opens
    assert "Cached" in message.inner_text(), message.inner_text()
    canvas = atlas.locator("canvas").first
    canvas.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    readout = atlas.locator(".lk-readout")
    before = readout.inner_text()
    found, hover_s = None, None
    for fy in (0.2, 0.25, 0.3, 0.15, 0.35):  # along the top-left panel, where the curves fall
        for fx in (0.12, 0.15, 0.18, 0.21, 0.24, 0.27, 0.3, 0.33, 0.36, 0.39, 0.42):
            x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
            t0 = time.monotonic()
            page.mouse.move(x, y)
            while time.monotonic() - t0 < 1.0 and readout.inner_text() == before:
                time.sleep(0.02)
            if "step" in readout.inner_text() and "width=" in readout.inner_text():
                found, hover_s = (x, y), time.monotonic() - t0
                break
            before = readout.inner_text()
        if found:
            break
    assert found, f"no hover read-out over the curves: {readout.inner_text()!r}"
    run = re.search(r"width=\d+ seed=\d+", readout.inner_text()).group(0)
    pixels = canvas.evaluate("c => c.toDataURL()")
    chosen = atlas.locator("select").first
    t0 = time.monotonic()
    page.mouse.click(*found)
    while time.monotonic() - t0 < 10 and not chosen.evaluate("s => s.selectedOptions.length"):
        time.sleep(0.02)
    select_s = time.monotonic() - t0
    names = chosen.evaluate(
        "s => Array.from(s.selectedOptions).map(o => o.text.replace(/\\s/g, ' '))"
    )
    assert names == [run], (names, run)  # the run under the pointer, and only it
    while time.monotonic() - t0 < 10 and canvas.evaluate("c => c.toDataURL()") == pixels:
        time.sleep(0.02)
    redraw_s = time.monotonic() - t0
    assert canvas.evaluate("c => c.toDataURL()") != pixels, "the atlas did not redraw"
    page.screenshot(path=str(tmp_path / "voila-atlas.png"))
    timing = {"hover_s": hover_s, "click_to_selection_s": select_s, "click_to_redraw_s": redraw_s}
    # at a laptop's and a projector's size: the figure is drawn at its own pixels (never shrunk or
    # stretched) and fits the page; the text's size as rendered follows from the scale
    viewport = page.viewport_size
    for w, h in ((1366, 768), (1024, 768)):
        page.set_viewport_size({"width": w, "height": h})
        canvas.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / f"voila-atlas-{w}.png"))
        shown, pixels, dpr = canvas.evaluate(
            "c => [c.getBoundingClientRect().width, c.width, window.devicePixelRatio]"
        )
        scale = shown * dpr / pixels
        right = canvas.evaluate("c => c.getBoundingClientRect().right")
        timing[f"scale_at_{w}"] = scale
        timing[f"title_px_at_{w}"] = 10 / 72 * 90 * scale  # 10-pt titles at 90 dpi
        timing[f"right_edge_at_{w}"] = right
        assert abs(scale - 1) < 0.02, (w, shown, pixels, dpr)  # its own pixels
        if app:  # JupyterLab's side bar and margins take width of their own; the notebook scrolls
            assert right <= w + 1, f"the atlas runs off a {w}-pixel page ({right:.0f})"
    page.set_viewport_size(viewport)
    print("atlas latencies:", timing)
    return timing


def test_tour_app_in_voila(voila_app, tmp_path):
    from playwright.sync_api import sync_playwright

    url = voila_app
    outside, console_errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.on("request", lambda r: outside.append(r.url)
                    if not r.url.startswith((url, "data:", "blob:")) else None)  # fmt: skip
            page.on(
                "console", lambda m: console_errors.append(m.text) if m.type == "error" else None
            )
            page.goto(url, timeout=180_000)
            land = page.locator(".lk-landscape-explorer")
            land.wait_for(timeout=180_000)
            assert not page.get_by_text("import landkit as lk").count()  # an app: no code shown
            # the landscape explorer: draw, change the directions, draw again
            text = _press_and_wait(land, "Draw", "minim")
            assert "error" not in text, text
            first = _pixels(land)
            _wait_received(land, _choose(land, "filter"))
            text = _press_and_wait(land, "Draw", "(batched)")
            deadline = time.monotonic() + 30
            while _pixels(land) in (first, "") and time.monotonic() < deadline:
                time.sleep(0.3)
            land.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "voila-landscape.png"))
            assert _pixels(land) not in (first, ""), "the landscape figure did not change"
            _, hover_s, _ = _hover_readout(page, land, "value")  # the landscape answers the pointer
            LATENCY["voila landscape-explorer: hover to loss read-out (s)"] = round(hover_s, 2)

            # the atlas answers the pointer: a hover read-out, a click that selects a run
            atlas_timing = _drive_atlas(page, tmp_path)
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "atlas-latency.json").write_text(json.dumps(atlas_timing, indent=1))

            # every other explorer: run it, change one control, run it again, the figure changes
            _drive_tour_explorers(page, tmp_path, "voila")
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "voila-tour-FAILED.png"))
            print((tmp_path / "voila.log").read_text()[-5000:])
            raise
        finally:
            browser.close()
    ARTIFACTS.mkdir(exist_ok=True)
    for name in (
        "voila-atlas.png",
        "voila-atlas-1366.png",
        "voila-atlas-1024.png",
        "voila-landscape.png",
        "voila-mapper.png",
        "voila-spectrum.png",
        "voila-morse.png",
        "voila-aging.png",
        "voila-phase.png",
    ):
        shutil.copy(tmp_path / name, ARTIFACTS / f"browser-{name}")
    (ARTIFACTS / "explorer-latency.json").write_text(json.dumps(LATENCY, indent=1))
    assert not outside, f"requests left the machine: {outside[:5]}"
    assert not console_errors, f"browser console errors: {console_errors[:5]}"


def test_tour_in_jupyterlab(jupyterlab, tmp_path):
    """Run All on the tour in JupyterLab; every explorer appears, is driven, and redraws."""
    from playwright.sync_api import sync_playwright

    url, token, _work = jupyterlab
    outside, console_errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.on("request", lambda r: outside.append(r.url)
                    if not r.url.startswith((url, "data:", "blob:")) else None)  # fmt: skip
            page.on(
                "console", lambda m: console_errors.append(m.text) if m.type == "error" else None
            )
            page.goto(f"{url}/lab/tree/00_tour.ipynb?reset&token={token}")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="attached", timeout=90_000)
            _run_all(page, url, token)
            _wait_idle(page)
            for css in (".lk-atlas", ".lk-spectrum-explorer", ".lk-landscape-explorer", ".lk-mapper-explorer",
                        ".lk-morse-explorer", ".lk-aging-explorer", ".lk-phase-explorer"):  # fmt: skip
                assert page.locator(css).count() == 1, f"{css} missing"
            assert not page.get_by_text(re.compile(r"<Figure size")).count()
            assert not page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                                    has_text="Error").count()  # fmt: skip
            # ipympl's JupyterLab extension: the pointer works here too
            _drive_atlas(page, tmp_path, app=False)
            land = page.locator(".lk-landscape-explorer")
            land.scroll_into_view_if_needed()
            _press_and_wait(land, "Draw", "minim")
            first = _pixels(land)
            _wait_received(land, _choose(land, "filter"))
            text = _press_and_wait(land, "Draw", "(batched)")
            assert "error" not in text, text
            deadline = time.monotonic() + 30
            while _pixels(land) in (first, "") and time.monotonic() < deadline:
                time.sleep(0.3)
            assert _pixels(land) not in (first, ""), "the landscape figure did not change"
            page.screenshot(path=str(tmp_path / "lab-tour.png"))
            _drive_tour_explorers(page, tmp_path, "lab")
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "browser-lab-tour-FAILED.png"))
            raise
        finally:
            browser.close()
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(tmp_path / "lab-tour.png", ARTIFACTS / "browser-lab-tour.png")
    (ARTIFACTS / "explorer-latency-lab.json").write_text(json.dumps(LATENCY, indent=1))
    assert not outside, f"requests left the machine: {outside[:5]}"
    assert not console_errors, f"browser console errors: {console_errors[:5]}"
