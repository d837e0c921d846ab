"""`make app`'s Voilà server keeps its kernels bounded: a cap on live kernels (HTTP 503 beyond it) and
idle kernels culled (issue 17: every anonymous page view used to start a kernel that lived forever).
A real Voilà server on 127.0.0.1 with a one-cell notebook; no browser needed."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_browser import _free_port, _stop_server

ROOT = Path(__file__).parent.parent

pytest.importorskip("voila")


def _make_flags(name: str) -> list[str]:
    """The flags of a Makefile variable (so the test runs what `make app` runs)."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    m = re.search(rf"^{name}\s*=\s*(.*)$", text, re.M)
    assert m, f"no {name} in the Makefile"
    return shlex.split(m.group(1))


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_make_app_caps_and_culls_kernels(tmp_path):
    flags = _make_flags("APP_PAINT") + _make_flags("APP_CULL")
    assert any("CappedKernelManager" in f for f in flags)
    # the same settings, scaled down for a test: at most 1 kernel, culled after 2 s idle
    flags = [f for f in flags if "max_kernels" not in f and "cull_idle_timeout" not in f
             and "cull_interval" not in f]  # fmt: skip
    flags += ["--CappedKernelManager.max_kernels=1", "--MappingKernelManager.cull_idle_timeout=2",
              "--MappingKernelManager.cull_interval=1"]  # fmt: skip
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": "x = 1", "outputs": [],
                     "execution_count": None}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}  # fmt: skip
    (tmp_path / "one.ipynb").write_text(json.dumps(nb))
    port = _free_port()
    log = open(tmp_path / "voila.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "voila", "one.ipynb", "--no-browser", "--Voila.ip=127.0.0.1",
         f"--port={port}", *flags],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "JUPYTER_PATH": str(ROOT / "app")},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while _get_quiet(f"{url}voila/static/voila.js") != 200:
            assert proc.poll() is None and time.monotonic() < deadline, (
                tmp_path / "voila.log"
            ).read_text()
            time.sleep(0.5)
        assert _get(url) == 200  # the first visitor gets a kernel
        assert _get(url) == 503  # a second one, while it lives, is refused (the cap)
        deadline = time.monotonic() + 60
        while (status := _get(url)) == 503 and time.monotonic() < deadline:
            time.sleep(1)  # the idle kernel is culled, and then a visitor gets one again
        assert status == 200, (tmp_path / "voila.log").read_text()[-3000:]
        text = (tmp_path / "voila.log").read_text()
        assert "Culling kernel" in text or "culling" in text.lower(), text[-3000:]
    finally:
        _stop_server(proc)
        log.close()


def _get_quiet(url):
    try:
        return _get(url)
    except OSError:
        return None


def test_lab_saves_notebooks_without_live_widget_outputs(tmp_path):
    """make lab's pre-save hook (the import string the Makefile passes): a notebook saved with an
    explorer's output reopens with a note, not "Error displaying widget: model not found"."""
    import json

    import nbformat
    from jupyter_server.services.contents.filemanager import FileContentsManager

    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    hook = "landkit.widgets.save_hook.strip_widget_outputs"
    assert f"--ContentsManager.pre_save_hook={hook}" in makefile
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("lk.widgets.TrainExplorer()")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "f00", "version_major": 2,
                                                         "version_minor": 0},
            "text/plain": "TrainExplorer(...)"}),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="}),
    ]  # fmt: skip
    nb.cells.append(cell)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    cm = FileContentsManager(root_dir=str(tmp_path), pre_save_hook=hook)
    cm.save({"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(nb))},
            "lesson.ipynb")  # fmt: skip
    saved = json.loads((tmp_path / "lesson.ipynb").read_text())
    outs = saved["cells"][0]["outputs"]
    assert "application/vnd.jupyter.widget-view+json" not in json.dumps(saved)
    assert "run the cell again" in "".join(outs[0]["data"]["text/plain"])
    assert outs[1]["data"]["image/png"] == "iVBORw0KGgo="  # figures are kept
    assert "widgets" not in saved["metadata"]
