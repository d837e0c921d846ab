"""Static pictures of live widgets, for pages that have no kernel (``make site``).

A widget in a saved notebook is only a reference to a model in a running kernel: without one, a page
shows nothing, or an error. :func:`static_html` draws what a widget shows at this moment as plain HTML
(an explorer: its title, the settings it ran with, its message and its figure as an embedded PNG);
:func:`write_snapshots` does it for every widget on show in a kernel, after running each explorer that
was never run (so the page has its figure), and writes them to a JSON file by model id, which the site
builder puts where each widget stood.

Example
-------
>>> import json, pathlib, tempfile
>>> import landkit.widgets.static as static
>>> ex = lk.widgets.SpectrumExplorer(lk.examples.omd_ogd(), delays=2, n_resamples=9)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "widgets.json"
>>> static.write_snapshots(path, roots=[ex])       # runs the explorer (never run), then draws it
1
>>> page = json.loads(path.read_text())[ex.model_id]
>>> "data:image/png;base64," in page and "delays" in page and "W = " in page
True
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import ipywidgets as W

__all__ = ["live_roots", "static_html", "write_snapshots"]

_BOX = "border:1px solid #bbb;border-radius:4px;padding:8px 12px;margin:4px 0;font-size:14px"
_CAPTION = ("<div style='color:#666;font-size:12px;margin-top:4px'>A picture of this explorer as the "
            "notebook left it. Open the notebook in JupyterLab (<code>make lab</code>) to move its "
            "controls.</div>")  # fmt: skip


def _png(data: bytes, alt: str = "figure") -> str:
    return (f"<img alt='{html.escape(alt)}' style='max-width:100%' "
            f"src='data:image/png;base64,{base64.b64encode(data).decode()}'>")  # fmt: skip


def _figure_png(fig) -> bytes:
    from ..plots.style import rendering, scale

    buf = io.BytesIO()
    with rendering():
        fig.savefig(buf, format="png", dpi=90 * scale())
    return buf.getvalue()


def _text(v) -> str:
    return ", ".join(map(str, v)) if isinstance(v, (tuple, list)) else str(v)


def _settings_table(settings: dict) -> str:
    if not settings:
        return ""
    cells = "".join(
        f"<tr><th style='text-align:right;padding:1px 8px;font-weight:normal;color:#555'>"
        f"{html.escape(str(k))}</th><td style='padding:1px 8px'>{html.escape(_text(v))}</td></tr>"
        for k, v in settings.items()
    )
    return f"<table style='border-collapse:collapse;margin:4px 0'>{cells}</table>"


def _explorer_html(ex) -> str:
    from .atlas import Atlas

    parts = [f"<div><b>{html.escape(ex.title)}</b></div>"]
    parts.append(_settings_table(ex._shown_settings or ex.settings()))
    if ex.message.value:
        parts.append(f"<div style='margin:4px 0'>{ex.message.value}</div>")
    if isinstance(ex, Atlas):
        with ex._lock:
            parts.append(_png(_figure_png(ex.fig), ex.title))
    elif ex.canvas is not None and ex._figure is not None:  # shown on ipympl's canvas
        parts.append(_png(_figure_png(ex._figure), ex.title))
    elif ex.image.value and ex.image.layout.display != "none":
        parts.append(_png(bytes(ex.image.value), ex.title))
    return f"<div class='lk-static' style='{_BOX}'>{''.join(parts)}{_CAPTION}</div>"


def static_html(widget) -> str:
    """What ``widget`` shows now, as HTML with no script and no request off the page."""
    from .base import Explorer

    w = widget
    if isinstance(w, Explorer):
        return _explorer_html(w)
    if isinstance(w, W.Box):
        flow = "row" if isinstance(w, W.HBox) else "column"
        inner = "".join(static_html(c) for c in w.children)
        return (
            f"<div style='display:flex;flex-direction:{flow};flex-wrap:wrap;gap:8px'>{inner}</div>"
        )
    if isinstance(w, (W.HTML, W.HTMLMath)):
        return f"<div>{w.value}</div>"
    if isinstance(w, W.Label):
        return f"<div>{html.escape(w.value)}</div>"
    if isinstance(w, W.Image):
        return _png(bytes(w.value)) if w.value and w.format == "png" else ""
    if isinstance(w, W.Output):
        out = []
        for o in w.outputs:
            data = o.get("data", {})
            if "image/png" in data:
                out.append(
                    f"<img style='max-width:100%' src='data:image/png;base64,{data['image/png']}'>"
                )
            elif "text/html" in data:
                out.append(data["text/html"])
            elif "text/plain" in data or "text" in o:
                out.append(f"<pre>{html.escape(data.get('text/plain', o.get('text', '')))}</pre>")
        return "".join(out)
    if isinstance(w, (W.FloatProgress, W.IntProgress)):
        return f"<progress value='{w.value - w.min}' max='{w.max - w.min}'></progress>"
    if isinstance(w, W.Button):
        return f"<button disabled>{html.escape(w.description)}</button>"
    if hasattr(w, "value"):
        label = getattr(w, "description", "") or ""
        return f"<div>{html.escape(label)} <b>{html.escape(_text(w.value))}</b></div>"
    return ""


def live_roots() -> list:
    """The widgets of this kernel that no box holds: the ones a cell displayed."""
    from ipywidgets.widgets.widget import _instances

    doms = [w for w in list(_instances.values()) if isinstance(w, W.DOMWidget)]
    held = {id(c) for w in doms if isinstance(w, W.Box) for c in w.children}
    return [w for w in doms if id(w) not in held]


def write_snapshots(path, *, roots=None, run: bool = True, timeout: float = 600.0) -> int:
    """Write a static picture of every displayed widget (or of ``roots``) to ``path`` (JSON: model id
    -> HTML). With ``run``, every explorer that was never run is run first with the settings it shows
    (its figure is what a reader of the page wants to see); one still running is waited for (at most
    ``timeout`` seconds). Returns the number written."""
    from .base import Explorer

    roots = live_roots() if roots is None else list(roots)

    def explorers(w):
        if isinstance(w, Explorer):
            yield w
        elif isinstance(w, W.Box):
            for c in w.children:
                yield from explorers(c)

    for root in roots:
        for ex in explorers(root):
            thread = ex._thread
            if thread is not None:
                thread.join(timeout)
            elif run and ex._figure is None and ex.run_label:
                try:
                    ex.start(wait=True)
                except Exception:  # the explorer's message says what went wrong
                    pass
    pictures = {w.model_id: static_html(w) for w in roots}
    Path(path).write_text(json.dumps(pictures))
    return len(pictures)
