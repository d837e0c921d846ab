"""The notebooks as a static website that opens from disk with no network (``make site``).

Each notebook is executed (``FAST`` as asked), converted to HTML with nbconvert's lab template, and
cleaned of everything that would reach the internet: MathJax is served from a local copy (the
``jupyter-server-mathjax`` package), the require.js and mermaid loaders are dropped (no widget or
diagram needs them offline), and each live widget is replaced by a picture of what it shows (an explorer
is run first if the notebook left it unrun): its settings, its message and its figure, with a note that
its controls need a running kernel (:mod:`landkit.widgets.static`). ``index.html`` lists the lessons and the teacher's guide.

Example
-------
>>> import pathlib, tempfile
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> page = lk.site.to_html({"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Hi $x^2$"}],
...                          "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
>>> "cdnjs" in page, "mathjax/MathJax.js" in page
(False, True)
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from .errors import InvalidArgument

__all__ = ["build_site", "offline_problems", "to_html"]

MATHJAX = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_NOTE = ("<div style='border:1px dashed #888;padding:8px 12px;color:#444;font-size:14px'>An interactive "
         "explorer stood here. Its controls need a running kernel: open this notebook in JupyterLab "
         "(<code>make lab</code>) to use it.</div>")  # fmt: skip


_SNAPSHOT_TAG = "landkit-site-snapshot"


def _static_widgets(nb: dict, pictures: dict | None = None) -> int:
    """Replace every live-widget output by its static picture from the kernel (``pictures``: model
    id -> HTML, see :func:`landkit.widgets.static.write_snapshots`), or by a note where there is none
    (keeping any static image beside it). Returns the number of pictures used."""
    n = 0
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_MIME in data:
                keep = {k: v for k, v in data.items() if k.startswith("image/")}
                picture = (pictures or {}).get(data[WIDGET_MIME].get("model_id"))
                out["data"] = {**keep, "text/html": picture or _NOTE}
                n += bool(picture)
    nb.get("metadata", {}).pop("widgets", None)
    return n


def to_html(nb, pictures: dict | None = None) -> str:
    """One notebook (a dict or a NotebookNode, executed or not) as an offline HTML page; each widget
    drawn from ``pictures`` (model id -> static HTML) where given, else replaced by a note."""
    import nbformat
    from nbconvert import HTMLExporter

    node = nbformat.reads(json.dumps(nb), as_version=4)  # joins list sources, validates
    _static_widgets(node, pictures)
    body, _ = HTMLExporter(template_name="lab", mathjax_url=MATHJAX).from_notebook_node(node)
    body = re.sub(r'<script[^>]*src="https://cdnjs[^"]*require[^"]*"[^>]*>\s*</script>', "", body)
    body = re.sub(r'<script type="module">(?:(?!</script>).)*mermaid(?:(?!</script>).)*</script>', "",
                  body, flags=re.S)  # fmt: skip
    # the local MathJax carries the STIX-Web fonts only: use them (the default TeX fonts would be missing)
    fonts = ('<script type="text/x-mathjax-config">MathJax.Hub.Config({"HTML-CSS": {availableFonts: '
             '["STIX-Web"], preferredFont: "STIX-Web", webFont: "STIX-Web", imageFont: null}});</script>')  # fmt: skip
    return body.replace(f'<script src="{MATHJAX}">', fonts + f'<script src="{MATHJAX}">', 1)


def offline_problems(page: str) -> list[str]:
    """The URLs a page would fetch from off the machine (scripts, stylesheets, images, fonts, imports)."""
    found = re.findall(r'(?:src|href)\s*=\s*"(https?://[^"]+)"', page)
    found += re.findall(r'<link[^>]+href="(//[^"]+)"', page)
    found += re.findall(r'import\s*\(?\s*["\'](https?://[^"\']+)', page)
    found += re.findall(r'url\(\s*["\']?(https?://[^)"\']+)', page)
    anchors = set(re.findall(r'<a\s[^>]*href="(https?://[^"]+)"', page))  # links are not requests
    return sorted({u for u in found if u not in anchors})


def _title(nb: dict, default: str) -> str:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            src = "".join(cell.get("source", ""))
            m = re.search(r"^#\s+(.+)$", src, re.M)
            if m:
                return m.group(1).strip()
    return default


def _execute(path: Path, fast: bool, work: Path, pictures: bool = True) -> tuple[dict, dict]:
    """Run one notebook; with ``pictures``, a last cell (removed again) runs every explorer that was
    never run and draws every widget as static HTML. Returns the notebook and the pictures."""
    import papermill as pm

    src = json.loads(path.read_text())
    snap = work / f"{path.stem}.widgets.json"
    if pictures:
        code = (
            f"import landkit.widgets.static\nlandkit.widgets.static.write_snapshots({str(snap)!r})"
        )
        src["cells"].append({"cell_type": "code", "id": "lk-site-snapshot", "execution_count": None, "outputs": [],
                             "metadata": {"tags": [_SNAPSHOT_TAG]}, "source": code})  # fmt: skip
    staged = work / f"{path.stem}.in.ipynb"
    staged.write_text(json.dumps(src))
    out = work / path.name
    pm.execute_notebook(str(staged), str(out), parameters={"FAST": fast}, kernel_name="python3",
                        cwd=str(work), progress_bar=False)  # fmt: skip
    nb = json.loads(out.read_text())
    nb["cells"] = [
        c for c in nb["cells"] if _SNAPSHOT_TAG not in c.get("metadata", {}).get("tags", [])
    ]
    return nb, (json.loads(snap.read_text()) if snap.exists() else {})


def build_site(src: str | os.PathLike = "notebooks", out: str | os.PathLike = "site", *,
               fast: bool = False, names=None, execute: bool = True) -> Path:  # fmt: skip
    """Execute the notebooks of ``src`` (``FAST = fast``) and write them, with an index and the
    teacher's guide, as a static site in ``out`` that opens from disk with no network. ``names``: only
    these notebooks (file names or stems). Returns the path of ``index.html``."""
    from nbconvert.filters import markdown2html

    src, out = Path(src), Path(out)
    paths = sorted(src.glob("*.ipynb"))
    if names is not None:
        wanted = {Path(n).stem for n in names}
        paths = [p for p in paths if p.stem in wanted]
    if not paths:
        raise InvalidArgument(
            f"no notebooks to render in {src}" + (f" named {names}" if names else "")
        )
    try:
        import jupyter_server_mathjax
    except ImportError as e:
        raise InvalidArgument(
            "make site needs the local MathJax: pip install jupyter-server-mathjax"
        ) from e
    out.mkdir(parents=True, exist_ok=True)
    mathjax = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (out / "mathjax").exists():
        shutil.copytree(mathjax, out / "mathjax")
    items = []
    with tempfile.TemporaryDirectory(prefix="landkit-site-") as tmp:
        for path in paths:
            t0 = time.perf_counter()
            if execute:
                nb, pictures = _execute(path, fast, Path(tmp))
            else:
                nb, pictures = json.loads(path.read_text()), {}
            page = to_html(nb, pictures)
            bad = offline_problems(page)
            if bad:
                raise RuntimeError(f"{path.name}: the page would fetch {bad[:3]} from the internet")
            (out / f"{path.stem}.html").write_text(page)
            items.append((path.stem, _title(nb, path.stem), time.perf_counter() - t0))
            print(f"{path.stem}.html ({items[-1][2]:.0f} s)", flush=True)
    guide = src / "TEACHING.md"
    links = "\n".join(
        f"<li><a href='{html.escape(s)}.html'>{html.escape(t)}</a></li>" for s, t, _ in items
    )
    index = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>landkit lessons</title>"
             "<style>body{font-family:sans-serif;max-width:52em;margin:2em auto;line-height:1.5}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style></head>"
             f"<body><h1>landkit: the lessons</h1><p>Executed {'in FAST mode' if fast else 'in full'} on "
             f"{time.strftime('%Y-%m-%d')}; the explorers need JupyterLab (<code>make lab</code>).</p>"
             f"<ul>{links}</ul>"
             + (f"<hr>{markdown2html(guide.read_text())}" if guide.exists() else "") + "</body></html>")  # fmt: skip
    (out / "index.html").write_text(index)
    return out / "index.html"
