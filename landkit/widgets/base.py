"""The shared widget base: controls, a Run and a Stop button, a progress bar, a figure, a message line.

Long work runs in a background thread so that the notebook stays responsive and Stop works; a
subclass implements :meth:`Explorer.work` and calls :meth:`Explorer.show_figure` and
:meth:`Explorer.progress` as it goes.
"""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import ipywidgets as W

from ..plots.style import scale as projector_scale
from ..progress import Cancelled


def _leaves(widgets):
    """The controls inside boxes, depth first."""
    for w in widgets:
        children = getattr(w, "children", None)
        if children and not hasattr(w, "value"):
            yield from _leaves(children)
        else:
            yield w


class Explorer(W.VBox):
    """Base class of landkit's explorers (one look and set of controls for every lens)."""

    run_label = "Run"
    title = "landkit"

    def __init__(self, controls: list[W.Widget], *, css_class: str = "lk-explorer"):
        self.run_button = W.Button(description=self.run_label, button_style="primary", icon="play")
        self.stop_button = W.Button(description="Stop", icon="stop", disabled=True)
        self.export_button = W.Button(description="Export figure", icon="download", disabled=True)
        self.bar = W.FloatProgress(
            value=0.0, min=0.0, max=1.0, description="", layout=W.Layout(width="260px")
        )
        self.message = W.HTML(value="")
        # hidden until the first figure (an empty image shows as a broken-image icon)
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%", display="none"))
        self.run_button.on_click(lambda _b: self.start())
        self.stop_button.on_click(lambda _b: self.stop())
        self.export_button.on_click(lambda _b: self.export())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._figure = None
        self._last_draw = 0.0
        self._last_progress = 0.0
        self._last_stage = ""
        self._controls = list(controls)
        self._shown_settings: dict | None = None  # the settings the figure on show was made with
        self.error: BaseException | None = None
        for c in _leaves(self._controls):
            if hasattr(c, "continuous_update"):
                # a slider commits its value once, on release: a click on Run right after a drag
                # cannot overtake it (the work is then done with what the slider shows)
                c.continuous_update = False
            if hasattr(c, "observe") and hasattr(c, "value"):
                c.observe(lambda _change: self._mark_outdated(), names="value")
        buttons = W.HBox([self.run_button, self.stop_button, self.export_button, self.bar],
                         layout=W.Layout(flex_flow="row wrap"))  # fmt: skip
        # the controls in a side column beside the figure (the figure stays above the fold on a
        # 768-pixel screen); the toggle folds the column away to give the figure the whole width
        self.side = W.VBox(list(controls), layout=W.Layout(flex="0 0 auto", margin="0 12px 0 0"))
        self.side.add_class("lk-controls")
        self.main = W.VBox([buttons, self.message, self.image],
                           layout=W.Layout(flex="1 1 0%", min_width="0"))  # fmt: skip
        self.controls_toggle = W.ToggleButton(
            value=True, icon="sliders", tooltip="show or hide the controls",
            layout=W.Layout(width="36px", height="26px", padding="0"),
        )  # fmt: skip
        self.controls_toggle.observe(lambda ch: self.show_controls(ch["new"]), names="value")
        header = W.HBox([self.controls_toggle, W.HTML(f"<b>{self.title}</b>")],
                        layout=W.Layout(align_items="center"))  # fmt: skip
        body = W.HBox([self.side, self.main], layout=W.Layout(align_items="flex-start"))
        super().__init__([header, body])
        self.add_class(css_class)

    def show_controls(self, show: bool = True) -> None:
        """Unfold (``True``) or fold away (``False``) the side column of controls; the toggle button
        left of the title does the same. Folded, the figure has the explorer's whole width."""
        self.side.layout.display = None if show else "none"
        if self.controls_toggle.value != bool(show):
            self.controls_toggle.value = bool(show)

    # -- for subclasses ------------------------------------------------------------------------

    def work(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        """True once the user pressed Stop: long work should end at its next check."""
        return self._stop.is_set()

    def hook(self, lo: float = 0.05, hi: float = 0.95, text: str = "working"):
        """A ``progress=`` callable for a lens: maps its (done, total) onto this explorer's bar between
        ``lo`` and ``hi`` and raises :class:`landkit.Cancelled` once Stop is pressed."""

        def tick(done, total):
            self.progress(lo + (hi - lo) * done / max(total, 1), f"{text} {done}/{total}…")
            if self.stopping:
                raise Cancelled

        return tick

    def progress(self, fraction: float, text: str = "") -> None:
        """Move the bar and say what is happening; at most ~10 updates a second reach the browser
        (the start, the end and a changed stage always do)."""
        fraction = min(max(float(fraction), 0.0), 1.0)
        now = time.monotonic()
        stage = "".join(
            ch for ch in text if not ch.isdigit()
        )  # "runs 3/10" and "runs 4/10": one stage
        same_stage = stage == self._last_stage or not text
        if 0.0 < fraction < 1.0 and same_stage and now - self._last_progress < 0.1:
            return
        self._last_progress, self._last_stage = now, stage if text else self._last_stage
        self.bar.value = fraction
        if text:
            self.message.value = text

    def settings(self) -> dict:
        """The value of every control, by its label: what a run uses (echoed when it starts)."""
        out = {}
        for c in _leaves(self._controls):
            if hasattr(c, "value") and getattr(c, "description", ""):
                v = c.value
                out[c.description] = f"{v:.3g}" if isinstance(v, float) else v
        return out

    def _mark_outdated(self) -> None:
        if self._shown_settings is not None and self.settings() != self._shown_settings:
            if "outdated" not in self.message.value:
                self.message.value = ("<span style='color:#D55E00'>⚠ outdated: the figure shows the "
                                      "previous settings — press "
                                      f"<b>{self.run_label}</b></span>")  # fmt: skip

    def show_figure(self, fig, *, throttle: float = 0.0) -> None:
        """Render ``fig`` into the explorer (at most once per ``throttle`` seconds)."""
        now = time.monotonic()
        if throttle and now - self._last_draw < throttle:
            return
        self._last_draw = now
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90 * projector_scale())  # the projector keeps the pixels
        self.image.value = buf.getvalue()
        self.image.layout.display = None
        self._figure = fig
        in_run = threading.current_thread() is self._thread
        # a run shows what it started with; a live redraw (a cheap control) shows what is set now
        self._shown_settings = getattr(self, "_run_settings", None) if in_run else self.settings()
        if "⚠ outdated" in self.message.value and self.settings() == self._shown_settings:
            self.message.value = ""
        self.export_button.disabled = False

    # -- running -------------------------------------------------------------------------------

    def start(self, wait: bool = False) -> None:
        """Run :meth:`work` in a background thread (``wait=True``: block until it is done)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self.error = None
        self._run_settings = self.settings()
        if self._run_settings:
            self.message.value = "working with " + ", ".join(
                f"{k} = {v}" for k, v in self._run_settings.items()
            )
        self._last_progress = 0.0
        self.run_button.disabled = True
        self.stop_button.disabled = False
        self._thread = threading.Thread(target=self._guarded, daemon=True)
        self._thread.start()
        if wait:
            self.wait()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        self._stop.set()

    def _guarded(self):
        try:
            self.work()
        except Cancelled:
            self.progress(0.0, "stopped")
        except BaseException as e:  # shown in the widget, re-raised by wait()
            self.error = e
            old = " (the figure below is from an earlier run)" if self._figure is not None else ""
            self.bar.value = 0.0
            self.message.value = (
                f"<span style='color:#D55E00'>error: {type(e).__name__}: {e}{old}</span>"
            )
        finally:
            self.run_button.disabled = False
            self.stop_button.disabled = True

    def export_name(self) -> str:
        """A file name for the figure: the explorer and the settings it was made with."""
        import re

        parts = [type(self).__name__] + [
            f"{k}-{v}" for k, v in (self._shown_settings or {}).items()
        ]
        # no dots: a suffix is added to the name
        name = re.sub(r"[^A-Za-z0-9=_-]+", "-", "_".join(str(p) for p in parts)).strip("-")
        return name[:120] or "landkit-figure"

    def export(self, path: str | Path | None = None) -> list[Path]:
        """Save the current figure as PNG and SVG (default: named after the explorer and its settings,
        in the kernel's folder) and offer both as browser downloads (a link in the message: in Voilà
        the file on the server is out of the user's reach)."""
        import base64

        from ..plots import save_figure

        if self._figure is None:
            raise RuntimeError("nothing to export yet: run the explorer first")
        paths = save_figure(self._figure, Path(path or self.export_name()))
        links = []
        for p in paths:
            mime = "image/png" if p.suffix == ".png" else "image/svg+xml"
            data = base64.b64encode(p.read_bytes()).decode()
            links.append(f"<a download='{p.name}' href='data:{mime};base64,{data}'>{p.name}</a>")
        self.message.value = "saved; download " + " · ".join(links)
        return paths
