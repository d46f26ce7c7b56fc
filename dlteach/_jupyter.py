"""The Jupyter front end: detection, the Stop-button channel, figures as PNG, live-then-static display.

(Internal; no MATLAB counterpart.) Everything that knows about IPython, ipykernel and ipywidgets lives
here; ``monitor``, ``debug`` and ``checks`` use it:

* :func:`get_ipython` (never imports IPython: a plain script stays plain), :func:`zmq_kernel`,
  :func:`kernel_shell` (the shell when a Jupyter kernel runs, else None), :func:`detect_frontend` ->
  "widget" | "headless" | "none" (see ``dlteach/monitor.py``'s docstring; ``DLTEACH_HEADLESS``),
  :func:`request_allows_stdin` (the running execute request's ``allow_stdin``: how ``dlteach.checks``
  tells an interactive front end from nbgrader / nbval).
* :class:`StopChannel`: makes a widget button's click reach Python while a cell runs (ipykernel 7
  subshell, ipykernel 6 + jupyter-ui-poll, or between cells).
* :func:`new_figure` (matplotlib Figure without pyplot), :func:`figure_png`, :func:`figure_text`.
* :class:`LiveDisplay`: one display slot that shows a live widget while the cell runs and is replaced
  by a static PNG (same ``display_id``) when finished, so saved notebooks keep the final figure.
* :func:`warn_once`.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import uuid
import warnings

import numpy as np

__all__ = ["get_ipython", "zmq_kernel", "kernel_shell", "detect_frontend", "request_allows_stdin", "StopChannel",
           "new_figure", "figure_png", "figure_text", "LiveDisplay", "warn_once"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_headless():
    """True / False from DLTEACH_HEADLESS, None when unset or unrecognised."""
    raw = os.environ.get("DLTEACH_HEADLESS", "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    return None


def get_ipython():
    """The running IPython shell, or None; never imports IPython (a plain script stays plain)."""
    if "IPython" not in sys.modules:
        return None
    try:
        from IPython import get_ipython as _get
    except Exception:
        return None
    return _get()


def zmq_kernel(ip):
    """The ipykernel Kernel behind shell ip, or None (terminal IPython, no IPython)."""
    if ip is None:
        return None
    if not any(c.__name__ == "ZMQInteractiveShell" for c in type(ip).__mro__):
        return None
    return getattr(ip, "kernel", None)


def kernel_shell():
    """The IPython shell if it runs in a Jupyter (ZMQ) kernel, else None."""
    ip = get_ipython()
    return ip if zmq_kernel(ip) is not None else None


def detect_frontend():
    """'widget', 'headless' or 'none'.

    'widget': a Jupyter kernel whose current request came from a front end that identifies cells
    (JupyterLab, Notebook 7, VS Code send ``cellId``); 'headless': a kernel driven by nbclient /
    nbconvert / nbval (no cellId) or ``DLTEACH_HEADLESS=1``; 'none': no kernel (script, terminal).
    ``DLTEACH_HEADLESS=0`` forces 'widget' in any kernel.
    """
    kernel = zmq_kernel(get_ipython())
    if kernel is None:
        return "none"
    env = env_headless()
    if env is True:
        return "headless"
    if env is False:
        return "widget"
    try:
        parent = kernel.get_parent("shell")
    except Exception:
        parent = getattr(kernel, "_parent_header", {}) or {}
    meta = (parent or {}).get("metadata") or {}
    return "widget" if meta.get("cellId") else "headless"


def request_allows_stdin(ip):
    """``allow_stdin`` of the execute request that the kernel behind shell ``ip`` is running: True from
    interactive front ends (JupyterLab, Notebook 7, VS Code: they can answer ``input()``), False from
    headless executors (nbclient - hence nbgrader, nbconvert, papermill - and nbval); None when ``ip``
    has no kernel or the flag cannot be read."""
    kernel = getattr(ip, "kernel", None)
    if kernel is None:
        return None
    parent = None
    try:
        parent = kernel.get_parent("shell")
    except TypeError:  # ipykernel < 6: get_parent() without a channel
        try:
            parent = kernel.get_parent()
        except Exception:  # noqa: BLE001
            parent = None
    except Exception:  # noqa: BLE001
        parent = None
    content = (parent or {}).get("content") or {}
    if "allow_stdin" in content:
        return bool(content["allow_stdin"])
    flag = getattr(kernel, "_allow_stdin", None)
    return None if flag is None else bool(flag)


# --------------------------------------------------------------- Stop while running

_SUBSHELLS = {}  # id(kernel) -> subshell id used for Stop buttons
_SUBSHELL_LOCK = threading.Lock()
_WARNED = set()


def warn_once(key, msg, category=RuntimeWarning):
    """Warn with ``msg`` the first time ``key`` is seen in this process (e.g. a front-end limitation)."""
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(msg, category, stacklevel=3)


def _stop_subshell(kernel, timeout=5.0):
    """ipykernel 7: id of a kernel subshell (created once) that handles Stop clicks, or None."""
    with _SUBSHELL_LOCK:
        if id(kernel) in _SUBSHELLS:
            return _SUBSHELLS[id(kernel)]
        sid = None
        thread = getattr(kernel, "shell_channel_thread", None)
        manager = getattr(thread, "manager", None)
        create = getattr(manager, "_create_subshell", None)
        loop = getattr(thread, "io_loop", None)
        if create is not None and loop is not None:
            done = threading.Event()
            box = {}

            def _make():  # runs in the shell channel thread, as ipykernel requires
                try:
                    box["sid"] = create()
                except BaseException as err:  # pragma: no cover - ipykernel internals
                    box["err"] = err
                finally:
                    done.set()

            loop.add_callback(_make)
            if done.wait(timeout):
                sid = box.get("sid")
        _SUBSHELLS[id(kernel)] = sid
        return sid


class StopChannel:
    """Makes a Stop-button click reach the monitor while the cell is still running."""

    def __init__(self, button, poll_interval, clock):
        self.mode = "between-cells"
        self._poll = None
        self._ui = None
        self._last = -np.inf
        self._interval = poll_interval
        self._clock = clock
        kernel = zmq_kernel(get_ipython())
        if kernel is None:
            return
        comm = getattr(button, "comm", None)
        if (
            getattr(kernel, "_supports_kernel_subshells", False)
            and comm is not None
            and hasattr(comm, "_reply_subshell_for")
        ):
            sid = _stop_subshell(kernel)
            if sid is not None:
                # Route every message of this comm to our subshell thread.
                comm._reply_subshell_for = lambda data, default, _sid=sid: _sid
                self.mode = "subshell"
                return
        if hasattr(kernel, "do_one_iteration"):
            try:
                from jupyter_ui_poll import ui_events  # noqa: F401
            except ImportError:
                warn_once(
                    "ui-poll",
                    "trainingProgressMonitor: with ipykernel 6 the Stop button needs "
                    "jupyter-ui-poll during a running cell; `pip install jupyter-ui-poll`. "
                    "Until then Stop takes effect after the cell.",
                )
                return
            self.mode = "ui-poll"
            return
        warn_once(
            "no-stop",
            "trainingProgressMonitor: this kernel cannot deliver the Stop button while a cell "
            "runs; Stop takes effect after the cell (interrupt the kernel to stop now).",
        )

    def poll(self):
        """ipykernel 6 only: process pending widget messages, at most every poll_interval."""
        if self.mode != "ui-poll":
            return
        now = self._clock()
        if now - self._last < self._interval:
            return
        self._last = now
        if self._poll is None:
            from jupyter_ui_poll import ui_events

            self._ui = ui_events()
            self._poll = self._ui.__enter__()
        self._poll(20)

    def close(self):
        if self._ui is not None:
            ui, self._ui, self._poll = self._ui, None, None
            ui.__exit__(None, None, None)
        self.mode = "closed"


# --------------------------------------------------------------- figures


def new_figure(w, h, dpi=100):
    """A matplotlib Figure of w x h inches on the Agg canvas (no pyplot); displayable in Jupyter."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=dpi)
    FigureCanvasAgg(fig)
    fig._repr_png_ = lambda: figure_png(fig)  # displayable in Jupyter without pyplot
    return fig


def figure_png(fig, dpi=None) -> bytes:
    """PNG bytes of a matplotlib Figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def figure_text(fig) -> str:
    """``<Figure size WxH with N Axes>``: the deterministic text/plain of a figure (no timings: nbval)."""
    w, h = (fig.get_size_inches() * fig.dpi).round().astype(int)
    return f"<Figure size {w}x{h} with {len(fig.axes)} Axes>"


class LiveDisplay:
    """One display slot: a live widget while the cell runs, then a static figure in the saved notebook.

    ``show_live(widget)`` displays the widget (once); ``show_static(png, text)`` replaces it (same
    ``display_id``) by a PNG with a deterministic text/plain, or displays the PNG if nothing was shown;
    ``after_cell(fn)`` calls ``fn()`` after the current cell (IPython's post_run_cell) until
    :meth:`stop_after_cell`. Without a Jupyter kernel every method does nothing.
    """

    def __init__(self):
        self.shell = kernel_shell()
        self.display_id = None
        self._hook = None

    def show_live(self, widget):
        if self.shell is None:
            return
        from IPython.display import display

        self.display_id = uuid.uuid4().hex
        display(widget, display_id=self.display_id)

    def show_static(self, png, text):
        if self.shell is None:
            return
        from IPython.display import display, update_display

        bundle = {"image/png": png, "text/plain": text} if png is not None else {"text/plain": text}
        if self.display_id is not None:
            update_display(bundle, raw=True, display_id=self.display_id)
        else:
            self.display_id = uuid.uuid4().hex
            display(bundle, raw=True, display_id=self.display_id)

    def after_cell(self, fn):
        if self.shell is None or self._hook is not None:
            return
        self._hook = lambda *_a, **_k: fn()
        self.shell.events.register("post_run_cell", self._hook)

    def stop_after_cell(self):
        hook, self._hook = self._hook, None
        if hook is not None and self.shell is not None:
            try:
                self.shell.events.unregister("post_run_cell", hook)
            except ValueError:
                pass
