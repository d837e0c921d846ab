"""The shared widget base: controls, a Run and a Stop button, a progress bar, a figure, a message line.

Long work runs in a background thread so that the notebook stays responsive and Stop works; a
subclass implements :meth:`Explorer.work` and calls :meth:`Explorer.show_figure` and
:meth:`Explorer.progress` as it goes.
"""

from __future__ import annotations

import html
import io
import sys
import threading
import time
from pathlib import Path

import ipywidgets as W
import matplotlib
import numpy as np

from ..plots.style import rendering
from ..plots.style import scale as projector_scale
from ..progress import Cancelled


def _ipympl():
    """ipympl's canvas and manager classes, imported without making ipympl the notebook's backend
    (importing ``ipympl.backend_nbagg`` sets ``rcParams["backend"]``: every later ``plt.figure`` of the
    user's would silently become a widget)."""
    if "ipympl.backend_nbagg" not in sys.modules:
        before, fallback = matplotlib.get_backend(), matplotlib.rcParams["backend_fallback"]
        try:
            import ipympl.backend_nbagg  # noqa: F401  (its package calls matplotlib.use on import)
        finally:
            if matplotlib.get_backend() != before:
                matplotlib.use(before)  # pyplot (inline in Jupyter, Agg in tests) as it was
            matplotlib.rcParams["backend_fallback"] = fallback
    from ipympl.backend_nbagg import Canvas, FigureManager

    return Canvas, FigureManager


def hold_while_drawing(canvas, lock, on_draw=None) -> None:
    """Make ``canvas.draw`` take ``lock``: ipympl draws when the browser asks, in the kernel's main
    thread, while an explorer may be changing the same figure in its work thread (clearing an axes,
    adding lines); holding one lock on both sides keeps a half-changed figure from being drawn. It
    renders under :func:`landkit.plots.style.rendering` too (one rendering at a time); ``on_draw()``
    is called after each draw."""
    draw, asked = canvas.draw, canvas.handle_draw

    def handle_draw(event):
        canvas._lk_asked = True  # a browser shows this canvas (see Explorer.refresh_canvas)
        return asked(event)

    canvas.handle_draw = handle_draw

    def locked(*args, **kwargs):
        with lock, rendering():  # the explorer's lock first, as everywhere
            out = draw(*args, **kwargs)
            if on_draw is not None:
                on_draw()
            return out

    canvas.draw = locked


def browser_shows(canvas) -> bool:
    """Whether a browser shows ipympl's ``canvas``: it has asked for a drawing and said it is ready
    for pictures. Only then may the kernel send one unasked: before, ipympl keeps the picture as the
    canvas's initial image too (as base64 without its ``data:`` prefix), and a page that builds the
    canvas from that state gets a broken image ("Failed to execute 'drawImage'")."""
    return bool(getattr(canvas, "_lk_asked", False)) and not getattr(
        canvas, "syncing_data_url", True
    )


def _fmt(value) -> str:
    """A setting as the user reads it (a multiple choice as its labels)."""
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(map(str, value)) + "]" if value else "none"
    return str(value)


def _leaves(widgets):
    """The controls inside boxes, depth first."""
    for w in widgets:
        children = getattr(w, "children", None)
        if children and not hasattr(w, "value"):
            yield from _leaves(children)
        else:
            yield w


class Explorer(W.VBox):
    """Base class of landkit's explorers (one look and set of controls for every lens).

    The controls sit in a column left of the figure (the toggle left of the title folds it away);
    Run, Stop, Export and the progress bar above the figure; the message says what was done and what
    it means. With ipympl installed the figure is a live canvas: zoom and pan from its toolbar, and a
    read-out below it of what lies under the pointer (:meth:`describe`; a subclass names its own
    things: a Mapper node, a phase cell, the loss at a point of a slice) and clicks (:meth:`click`).

    Example
    -------
    >>> ex = lk.widgets.SpectrumExplorer(lk.examples.omd_ogd(), n_resamples=9)
    >>> ex.start(wait=True)
    >>> ax = ex._figure.axes[0]                      # the eigenvalues of both groups
    >>> lam = ex.spectra["omd"].eigenvalues[0]
    >>> x, y = ax.transData.transform((lam.real, lam.imag))   # the pointer over it
    >>> ex.describe(ax, x, y)
    '<b>omd</b> · Re λ 0.9979 · Im λ 0 · |λ| 0.9979'
    """

    run_label = "Run"
    title = "landkit"
    #: None: the figure answers the pointer when ipympl is installed; False: always a PNG
    pointable: bool | None = None
    #: how near (pixels) the pointer must come to a point for the read-out to name it
    reach: float = 12.0

    def __init__(self, controls: list[W.Widget], *, css_class: str = "lk-explorer"):
        self.run_button = W.Button(description=self.run_label, button_style="primary", icon="play")
        self.stop_button = W.Button(description="Stop", icon="stop", disabled=True)
        self.export_button = W.Button(description="Export figure", icon="download", disabled=True)
        self.bar = W.FloatProgress(
            value=0.0, min=0.0, max=1.0, description="", layout=W.Layout(width="260px")
        )
        self.message = W.HTML(value="")
        self.message.add_class("lk-message")
        # hidden until the first figure (an empty image shows as a broken-image icon)
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%", display="none"))
        self.figure_box = W.Box([self.image])  # the PNG, or ipympl's canvas when it can point
        self.canvas = None
        if getattr(self, "readout", None) is None:
            self.readout = W.HTML(value="")
        self.readout.add_class("lk-readout")
        self._last_hover = 0.0
        self.run_button.on_click(lambda _b: self.start())
        self.stop_button.on_click(lambda _b: self.stop())
        self.export_button.on_click(lambda _b: self.export())
        self._stop = threading.Event()
        #: held while a figure on show is changed in place (``with self.drawing: ...``); the canvas
        #: draws under it too
        self.drawing = threading.RLock()
        self._thread: threading.Thread | None = None
        self._figure = None
        self._last_draw = 0.0
        self._last_progress = 0.0
        self._last_stage = ""
        self._controls = list(controls)
        self._shown_settings: dict | None = None  # the settings the figure on show was made with
        self._restart, self._started = False, 0.0
        self._blank = None  # (figure, panel, size, the picture of the figure without the panel)
        self._live_panel = self._prepare = None
        #: controls that redraw the figure on show with no run (see :meth:`live`)
        self._live: set = set()
        self.error: BaseException | None = None
        for c in _leaves(self._controls):
            if hasattr(c, "continuous_update"):
                # a slider commits its value once, on release: a click on Run right after a drag
                # cannot overtake it (the work is then done with what the slider shows)
                c.continuous_update = False
            if hasattr(c, "observe") and hasattr(c, "value"):
                c.observe(self._mark_outdated, names="value")
        buttons = W.HBox([self.run_button, self.stop_button, self.export_button, self.bar],
                         layout=W.Layout(flex_flow="row wrap"))  # fmt: skip
        # the controls in a side column beside the figure (the figure stays above the fold on a
        # 768-pixel screen); the toggle folds the column away to give the figure the whole width
        self.side = W.VBox(list(controls), layout=W.Layout(flex="0 0 auto", margin="0 12px 0 0"))
        self.side.add_class("lk-controls")
        self.main = W.VBox([buttons, self.message, self.figure_box, self.readout],
                           layout=W.Layout(flex="1 1 0%", min_width="0"))  # fmt: skip
        self.controls_toggle = W.ToggleButton(
            value=True, icon="sliders", tooltip="show or hide the controls",
            layout=W.Layout(width="36px", height="26px", padding="0"),
        )  # fmt: skip
        self.controls_toggle.observe(lambda ch: self.show_controls(ch["new"]), names="value")
        header = W.HBox([self.controls_toggle, W.HTML(f"<b>{self.title}</b>")],
                        layout=W.Layout(align_items="center"))  # fmt: skip
        # side by side where both fit, else the figure wraps below the controls at its full width
        # (the main column's minimum width is the figure's, set when a figure is shown)
        body = W.HBox([self.side, self.main],
                      layout=W.Layout(align_items="flex-start", flex_flow="row wrap"))  # fmt: skip
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
        """The value of every control, by its label: what a run uses (echoed when it starts). A
        choice (dropdown, selection slider) reads as the option's label, as the user sees it."""
        out = {}
        for c in _leaves(self._controls):
            if hasattr(c, "value") and getattr(c, "description", ""):
                v = getattr(c, "label", None)
                if v is None:
                    v = c.value
                out[c.description] = f"{v:.3g}" if isinstance(v, float) else v
        return out

    #: a control that changes this many seconds or less after a press, while that run is still at
    #: work, restarts it with what the controls show: the browser holds back a control's later
    #: values until the kernel answers its first (ipywidgets' message throttle) while a button's
    #: press goes at once, so two arrow-key steps and a click arrive as step, click, step
    restart_window = 3.0

    def live(self, control, redraw) -> None:
        """Make ``control`` live: a change calls ``redraw()`` (a cheap change of the figure on show,
        no run) and never restarts a run."""
        self._live.add(control)
        control.observe(lambda _change: redraw(), names="value")

    def _same(self, a: dict | None, b: dict | None) -> bool:
        """Whether two settings make the same run (a live control's value does not count: it redraws
        the figure on show by itself)."""
        if a is None or b is None:
            return a is b
        live = {getattr(c, "description", "") for c in self._live}
        return {k: v for k, v in a.items() if k not in live} == {
            k: v for k, v in b.items() if k not in live
        }

    def _mark_outdated(self, change=None) -> None:
        thread = self._thread
        busy = thread is not None and thread.is_alive()
        if (
            busy
            and threading.current_thread() is not thread  # not the run's own doing
            and (change is None or change.get("owner") not in self._live)
            and time.monotonic() - self._started < self.restart_window
            and not self._same(self.settings(), getattr(self, "_run_settings", None))
        ):
            self._restart = True
            self._stop.set()
            return
        now, shown = self.settings(), self._shown_settings
        if shown is not None and not self._same(now, shown):
            # name what changed, with the value the kernel has (what a press will use)
            live = {getattr(c, "description", "") for c in self._live}
            changed = ", ".join(
                f"{k} is now {_fmt(v)} (the figure: {_fmt(shown.get(k, '—'))})"
                for k, v in now.items()
                if k not in live and v != shown.get(k)
            )
            if "⚠ outdated" not in self.message.value:
                self._said = self.message.value  # what the figure's run said, for a return
            self.message.value = (
                f"<span style='color:#D55E00'>⚠ outdated: {html.escape(changed)} — press "
                f"<b>{self.run_label}</b></span>"
            )
        elif shown is not None and "⚠ outdated" in self.message.value and not busy:
            self.message.value = getattr(self, "_said", "")  # back to what the figure shows

    def _can_point(self) -> bool:
        if self.pointable is False:
            return False
        try:
            _ipympl()
        except ImportError:
            if self.pointable:
                from ..errors import InvalidArgument

                raise InvalidArgument(
                    "pointable figures need ipympl (pip install ipympl)"
                ) from None
            return False
        return True

    def show_figure(self, fig, *, throttle: float = 0.0) -> None:
        """Show ``fig`` in the explorer (at most once per ``throttle`` seconds): on ipympl's canvas
        (zoom and pan from its toolbar, a read-out of what lies under the pointer, clicks) when it is
        installed and :attr:`pointable` is not False, else as a PNG."""
        now = time.monotonic()
        if throttle and now - self._last_draw < throttle:
            return
        self._last_draw = now
        if self._can_point():
            if self.canvas is None or self.canvas.figure is not fig:
                Canvas, FigureManager = _ipympl()
                old = self.canvas
                fig.set_dpi(90 * projector_scale())  # the pixels of the PNG it replaces
                self.canvas = Canvas(fig)
                self.canvas.header_visible = False
                self.canvas.toolbar_position = "right"  # the left edge holds the y labels
                self.canvas.resizable = False
                self._manager = FigureManager(self.canvas, 0)
                # a whole drawing (a zoom, a pan, a change in place) outdates the picture that
                # redraw_panel keeps of the other panels
                hold_while_drawing(self.canvas, self.drawing, on_draw=self._after_draw)
                self.canvas.mpl_connect("motion_notify_event", self._on_hover)
                self.canvas.mpl_connect("button_press_event", self._on_click)
                self.canvas.footer_visible = False  # the read-out below says more than (x, y)
                # each canvas in a box of its own: a canvas put straight into a box stays on the
                # page after the box's children change (seen in Voilà: every run added a figure)
                self.figure_box.children = (W.Box([self.canvas]),)
                if old is not None:
                    old.close()
            else:
                self.refresh_canvas()
        else:
            buf = io.BytesIO()
            with rendering():  # the projector keeps the pixels
                fig.savefig(buf, format="png", dpi=90 * projector_scale())
            self.image.value = buf.getvalue()
            self.image.layout.display = None
        self._blank = None  # the other panels may have changed too
        self._on_show(fig)

    def refresh_canvas(self) -> None:
        """Send the browser the canvas's figure as it is now. In the kernel's main thread (a live
        control, a click) it is drawn at once and sent, with no round trip through the browser;
        from a work thread the browser is asked to fetch it when it can (several changes, one
        drawing)."""
        if self.canvas is None:
            return
        if threading.current_thread() is threading.main_thread() and browser_shows(self.canvas):
            self.canvas.draw()  # under the drawing lock (hold_while_drawing)
        else:
            self.canvas.draw_idle()

    def redraw_panel(self, ax) -> bool:
        """Draw panel ``ax`` of the figure on show again, alone, and send the browser the pixels that
        changed: for a live control that changes one panel in place (the aging explorer's μ
        slider), about half the time of drawing the whole figure, and no round trip through the
        browser. The other panels come from a picture of the figure without ``ax`` (see
        :meth:`prepare_panel`). Returns False (nothing done: call :meth:`show_figure`) where the
        figure is a PNG or not the one on show."""
        if not self.redraw_artists(("panel", id(ax)), [ax]):
            return False
        self._on_show(self._figure)
        return True

    def redraw_artists(self, tag, artists: list) -> bool:
        """Draw ``artists`` of the figure on show (in this order) over a picture of the figure
        without them, and send the browser the pixels that changed. The picture is taken once per
        ``tag`` (and figure and size) and again after every whole drawing: whatever is not in
        ``artists`` must not have changed since. Returns False (nothing done) where the figure is a
        PNG, not the canvas's, or not yet shown by a browser (:func:`browser_shows`)."""
        c, fig = self.canvas, self._figure
        if c is None or fig is None or c.figure is not fig or not browser_shows(c):
            return False
        with self.drawing, rendering():
            picture = self._picture_without(tag, artists)
            c.get_renderer().restore_region(picture)
            for a in artists:
                fig.draw_artist(a)
            c.blit()  # the changed pixels go to the browser now
        return True

    def prepare_panel(self, ax, delay: float = 0.3) -> None:
        """Take the picture of the figure without panel ``ax`` that :meth:`redraw_panel` needs, in
        the background after ``delay`` seconds, now and again after each whole drawing (a zoom, a
        pan): the first move of a live control is then as quick as the next."""
        self.prepare_artists(("panel", id(ax)), lambda: [ax], delay)

    def prepare_artists(self, tag, artists, delay: float = 0.3) -> None:
        """As :meth:`prepare_panel`, for :meth:`redraw_artists` (``artists()`` names them)."""
        self._live_panel = (tag, artists)
        if self.canvas is None or self._figure is None:
            return
        if self._prepare is not None:
            self._prepare.cancel()
        fig = self._figure

        def take():
            with self.drawing, rendering():
                if (
                    self._live_panel is not None
                    and self._live_panel[0] == tag
                    and fig is self._figure
                ):
                    self._picture_without(tag, artists())

        self._prepare = threading.Timer(delay, take)
        self._prepare.daemon = True
        self._prepare.start()

    def _picture_without(self, tag, artists: list):
        """The figure on show without ``artists``, drawn once (per figure, tag and size) in a renderer
        of its own (the canvas's holds what the browser has); call it holding the locks."""
        from matplotlib.backends.backend_agg import RendererAgg

        fig, renderer = self._figure, self.canvas.get_renderer()
        size = (renderer.width, renderer.height)
        kept = self._blank
        if kept is not None and kept[0] is fig and kept[1] == tag and kept[2] == size:
            return kept[3]
        other = RendererAgg(*size, fig.dpi)
        hidden = [a for a in artists if a.get_visible()]
        for a in hidden:
            a.set_visible(False)
        try:
            fig.draw(other)
        finally:
            for a in hidden:
                a.set_visible(True)
        self._blank = (fig, tag, size, other.copy_from_bbox(fig.bbox))
        return self._blank[3]

    def _after_draw(self) -> None:
        """After a whole drawing of the canvas: the picture of the other panels is out of date."""
        self._blank = None
        if self._live_panel is not None:
            self.prepare_artists(*self._live_panel)

    def _on_show(self, fig) -> None:
        """What showing ``fig`` records: its width, its settings, the outdated cue."""
        width = fig.get_figwidth() * 90 * projector_scale() + (50 if self.canvas is not None else 0)
        self.main.layout.min_width = f"{min(int(width), 1400)}px"  # its toolbar: 50 px
        self._figure = fig
        in_run = threading.current_thread() is self._thread
        # a run shows what it started with; a live redraw (a cheap control) shows what is set now
        self._shown_settings = getattr(self, "_run_settings", None) if in_run else self.settings()
        if "⚠ outdated" in self.message.value and self._same(self.settings(), self._shown_settings):
            self.message.value = ""
        self.export_button.disabled = False

    def png(self) -> bytes:
        """The figure on show as PNG bytes (empty before the first figure), whether it is shown on
        ipympl's canvas or as an image."""
        if self.canvas is not None and self._figure is not None:
            buf = io.BytesIO()
            with rendering():
                self._figure.savefig(buf, format="png", dpi=90 * projector_scale())
            return buf.getvalue()
        return bytes(self.image.value)

    # -- pointing ------------------------------------------------------------------------------

    def _on_hover(self, event):
        if event.inaxes is None or event.xdata is None:
            return
        now = time.monotonic()
        if now - self._last_hover < 0.05:  # at most 20 read-outs a second
            return
        self._last_hover = now
        text = self.describe(event.inaxes, event.x, event.y)
        if text:
            self.readout.value = text

    def _on_click(self, event):
        if event.inaxes is None or getattr(event, "button", 1) not in (1, None):
            return
        toolbar = getattr(event.canvas, "toolbar", None)
        if toolbar is not None and str(getattr(toolbar, "mode", "")):
            return  # zooming or panning, not choosing
        self.click(event.inaxes, event.x, event.y, add="shift" in (event.key or ""))

    def click(self, ax, x: float, y: float, *, add: bool = False) -> None:
        """What a click at display point (x, y) of panel ``ax`` does (``add``: a shift-click; an
        explorer that selects runs overrides it); the base shows the read-out of the point."""
        text = self.describe(ax, x, y)
        if text:
            self.readout.value = text

    def nearest(self, ax, x: float, y: float):
        """The data point of panel ``ax`` nearest to display point (x, y), within :attr:`reach`
        pixels: ``(artist, index, (x, y) in data units)``, or None. Lines and scatters count; on an
        image (a landscape) the pixel under the pointer counts."""
        best, found = self.reach, None
        for artist in [*ax.lines, *ax.collections]:
            if not artist.get_visible():
                continue
            if hasattr(artist, "get_xydata"):
                xy = np.asarray(artist.get_xydata(), dtype=float)
            elif hasattr(artist, "get_offsets") and type(artist).__name__ == "PathCollection":
                xy = np.asarray(artist.get_offsets(), dtype=float)
            else:
                continue
            if xy.ndim != 2 or not len(xy):
                continue
            d = ax.transData.transform(xy) - (x, y)
            dist = np.sqrt((d**2).sum(1))
            k = int(np.nanargmin(dist)) if np.isfinite(dist).any() else None
            if k is not None and dist[k] <= best:
                best, found = dist[k], (artist, k, tuple(xy[k]))
        if found is None and ax.images:
            im = ax.images[-1]
            xd, yd = ax.transData.inverted().transform((x, y))
            a = np.asarray(im.get_array())
            x0, x1, y0, y1 = im.get_extent()
            if (
                min(x0, x1) <= xd <= max(x0, x1)
                and min(y0, y1) <= yd <= max(y0, y1)
                and a.ndim == 2
            ):
                j = min(int((xd - x0) / (x1 - x0) * a.shape[1]), a.shape[1] - 1)
                i = min(int((yd - y0) / (y1 - y0) * a.shape[0]), a.shape[0] - 1)
                if im.origin == "upper":
                    i = a.shape[0] - 1 - i
                found = (im, (i, j), (xd, yd))
        return found

    def describe(self, ax, x: float, y: float) -> str:
        """The hover read-out at display point (x, y) of panel ``ax``: the name of the nearest curve
        or point (its legend label) and its coordinates in the axes' own words; on an image, the value
        under the pointer; on an eigenvalue plot, the modulus too."""
        import html

        hit = self.nearest(ax, x, y)
        if hit is None:
            return ""
        artist, k, (xd, yd) = hit
        xl = ax.get_xlabel().split("(")[0].strip() or "x"
        yl = ax.get_ylabel().split("(")[0].strip() or "y"
        label = artist.get_label() if not str(artist.get_label()).startswith("_") else ""
        parts = [f"<b>{html.escape(label)}</b>"] if label else []
        title = ax.get_title().split("\n")[0]
        if not label and title:
            parts.append(html.escape(title))
        parts += [f"{html.escape(xl)} {xd:.4g}", f"{html.escape(yl)} {yd:.4g}"]
        if type(artist).__name__ == "AxesImage":
            a = np.ma.getdata(artist.get_array())
            parts.append(f"value {a[k]:.4g}")
        if "Re" in ax.get_xlabel() and "Im" in ax.get_ylabel():
            parts.append(f"|λ| {np.hypot(xd, yd):.4f}")
        return " · ".join(parts)

    # -- running -------------------------------------------------------------------------------

    def start(self, wait: bool = False) -> None:
        """Run :meth:`work` in a background thread (``wait=True``: block until it is done)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._launch()
        if wait:
            self.wait()

    def _launch(self) -> None:
        self._restart = False
        self._started = time.monotonic()
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

    def wait(self, timeout: float | None = None) -> None:
        while self._thread is not None:
            thread = self._thread
            thread.join(timeout)
            if self._thread is thread:  # not restarted meanwhile
                break
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        self._stop.set()

    def _guarded(self):
        try:
            self.work()
        except Cancelled:
            if not self._restart:
                self.progress(0.0, "stopped")
        except BaseException as e:  # shown in the widget, re-raised by wait()
            self.error = e
            old = " (the figure below is from an earlier run)" if self._figure is not None else ""
            self.bar.value = 0.0
            self.message.value = (
                f"<span style='color:#D55E00'>error: {type(e).__name__}: {e}{old}</span>"
            )
        finally:
            if self._restart and self.error is None:
                self._launch()  # a control changed just after the press: again, with its value
            else:
                if self.error is None and not self.stopping:
                    self._mark_outdated()  # a control changed during the run: its last word says so
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
