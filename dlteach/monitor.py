"""trainingProgressMonitor: live training plot with a working Stop button (MATLAB R2022b+).

MATLAB counterpart::

    monitor = trainingProgressMonitor(Metrics="Loss", Info="Epoch", XLabel="Iteration");
    while epoch < numEpochs && ~monitor.Stop
        ...
        recordMetrics(monitor, iteration, Loss=loss);
        updateInfo(monitor, Epoch=epoch + " of " + numEpochs);
        monitor.Progress = 100 * iteration / numIterations;
    end

Python::

    monitor = trainingProgressMonitor(Metrics=["Loss"], Info=["Epoch"], XLabel="Iteration")
    while epoch < numEpochs and not monitor.Stop:
        ...
        recordMetrics(monitor, iteration, Loss=loss)          # or monitor.recordMetrics(...)
        updateInfo(monitor, Epoch=f"{epoch} of {numEpochs}")
        monitor.Progress = 100 * iteration / numIterations

``MetricData[name]`` is an N x 2 float64 array of ``[step, value]`` rows, ``InfoData[name]``
the list of values given to ``updateInfo``.

Front ends (decided by ``_detect_frontend``; override with ``frontend=`` or the environment
variable ``DLTEACH_HEADLESS``):

* ``"widget"`` -- an IPython ZMQ kernel whose current ``execute_request`` came from a front end
  that identifies cells (JupyterLab 3/4, Notebook 7 and VS Code put ``cellId`` into the request
  metadata).  Shows an ipywidgets box: one subplot per metric or group (a live SVG drawn by this
  module in an ``ipywidgets.Image``; ``live_plot="png"`` uses matplotlib instead), info fields,
  progress bar, elapsed time, Status and a Stop button.
* ``"headless"`` -- a ZMQ kernel driven by nbclient / nbconvert / nbval / jupyter console (they
  send no ``cellId``) or ``DLTEACH_HEADLESS=1``: data are recorded, nothing is shown per step, and
  one static figure is emitted when the monitor finishes.
* ``"none"`` -- plain Python script or terminal IPython (no rich display): data only, no output
  at all (decision: scripts are tests/CI/benchmarks; read ``monitor.MetricData``).
  ``DLTEACH_HEADLESS=0`` forces ``"widget"`` inside any ZMQ kernel.

"Finished" = ``Progress`` reaches 100, ``monitor.close()``/``finish()``, or at the latest
IPython's ``post_run_cell`` of a cell that recorded something.  Then the widget is replaced (same
``display_id``) by a static PNG of the final curves, so saved notebooks show them on GitHub /
nbviewer.  Its text/plain is only ``<Figure size WxH with N Axes>`` (deterministic for nbval:
no timings in text; the elapsed time is only drawn into the image).

Cost control: recordMetrics only appends to lists; the live plot is redrawn at most every
``redraw_interval`` seconds (default 0.5) and never more often than 20 x the last draw time, so
drawing costs <= ~5 % of the loop; widget state is sent only at those redraws.  The live frame is
an SVG written directly from the data (frame, nice ticks, polylines decimated to min/max per pixel
column): ~0.2-0.5 ms for a few hundred points, against ~25-70 ms for a matplotlib draw + PNG, and
there is no expensive first frame (matplotlib's first draw of a new figure with font cache and
layout was 0.1-0.5 s, the main cost of short loops).  matplotlib renders only the final static PNG.

The Stop button while a cell runs (the hard part)
-------------------------------------------------
A kernel processes widget (comm) messages on the main thread only between cells, so a click on
Stop during ``while ...: ...`` would normally be seen after the loop.  What we do, by kernel:

* ipykernel >= 7 (tested 7.4.0): ipykernel 7 has no ``Kernel.do_one_iteration`` any more; shell
  messages are read by a "shell channel" thread and forwarded over inproc sockets to the main
  thread or to *subshell* threads, and comm messages are routed to the subshell returned by
  ``comm._reply_subshell_for(data, default)``.  jupyter-ui-poll 1.1 calls
  ``kernel.do_one_iteration()``, gets an AttributeError, swallows it and polls nothing -- that is
  why the trial failed on 7.4.  We instead create one kernel subshell (a thread with its own
  event loop; via the subshell manager, in the shell channel thread) and route the Stop button's
  comm to it.  The click is then handled concurrently in that thread and just sets
  ``monitor.Stop = True``; the main thread needs no polling at all.  Other messages (the next
  cell's execute_request, completions, ...) are untouched and keep their order.
* ipykernel 6.x: ``do_one_iteration`` exists; we poll with jupyter-ui-poll's ``ui_events()``
  (which also defers execute requests of queued cells until this cell ends) at most every
  ``poll_interval`` = 0.2 s, from recordMetrics/updateInfo and from reading ``monitor.Stop``.
* anything else: the monitor still works, Stop takes effect only between cells (a warning says
  so once).

Declared support (tell pyproject): ``ipykernel>=6.29,<8``; ``jupyter-ui-poll>=1.1,<2`` is only
needed with ipykernel 6.  The ipykernel 7 path uses private ipykernel 7 internals
(``shell_channel_thread.manager._create_subshell``, ``comm._reply_subshell_for``); it is feature
detected and falls back to "Stop between cells" if they change.  Verified end to end in
Chromium (tests/e2e/test_monitor_browser.py) with ipykernel 7.4.0 (subshell route) and with
ipykernel 6.31.0 + jupyter-ui-poll 1.1.0 (kernel from another env via DLTEACH_E2E_PYTHON); with
the subshell route disabled the same test fails on 7.4 (the loop runs to the end).

Measured cost (benchmarks/bench_monitor.py, 200 iterations of the lesson-03 MLP / a CNN step on
digits, on a busy 2-core machine): in-loop monitor time < ~1 % of the step time headless and
~0.5-1.5 % in widget mode; plus a one-time ~25-75 ms for the final static PNG (both modes; with a
cold matplotlib import add ~0.3 s once per kernel).
"""
from __future__ import annotations

import re
import time

import numpy as np

from . import _jupyter, _svgplot
from .errors import MonitorError

__all__ = [
    "trainingProgressMonitor",
    "recordMetrics",
    "updateInfo",
    "groupSubPlot",
    "yscale",
    "MonitorError",
]

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_FRONTENDS = ("auto", "widget", "headless", "none")


# --------------------------------------------------------------------------- helpers


def _on_off(value, what):
    """MATLAB's on/off option: True, False, 1, 0, "on" or "off"."""
    if isinstance(value, str):
        if value.lower() in ("on", "off"):
            return value.lower() == "on"
    elif value is True or value is False or (isinstance(value, (int, np.integer, np.bool_)) and int(value) in (0, 1)):
        return bool(value)
    raise MonitorError(f"{what} must be True/False or \"on\"/\"off\", got {value!r}.")


def _as_names(value, what):
    """Metrics/Info given as one string or a list of strings -> validated list."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    try:
        names = list(value)
    except TypeError:
        raise MonitorError(
            f"{what} must be a string or a list of strings such as [\"Loss\"], "
            f"not {type(value).__name__}."
        ) from None
    for n in names:
        _check_name(n, what)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise MonitorError(f"{what} lists {dup} more than once; give every name only once.")
    return names


def _check_name(name, what):
    if not isinstance(name, str):
        raise MonitorError(f"{what} names must be strings, got {name!r} ({type(name).__name__}).")
    if not _NAME_RE.match(name):
        raise MonitorError(
            f"{what} name {name!r} is not valid: names must start with a letter and contain only "
            f"letters, digits and underscores (like MATLAB variable names), e.g. "
            f"{re.sub(r'[^A-Za-z0-9_]', '_', name).lstrip('_0123456789') or 'Loss'!r}."
        )


def _to_float(value, what):
    """Python/NumPy scalar, 0-d or 1-element array, or dlarray scalar -> float."""
    if isinstance(value, (str, bytes)):
        raise MonitorError(f"{what} must be a number, got the string {value!r}.")
    if isinstance(value, (bool, np.bool_, int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, (complex, np.complexfloating)):
        raise MonitorError(f"{what} must be a real number, got the complex value {value!r}.")
    shape = getattr(value, "shape", None)
    if shape is not None:
        try:
            size = int(np.prod(tuple(shape)))
        except Exception:
            size = None
        if size is not None and size != 1:
            raise MonitorError(
                f"{what} must be a scalar, got an array of shape {tuple(shape)}. Record one number "
                f"per step, e.g. the mean: loss = mean(...) (a loss function must reduce to a "
                f"scalar)."
            )
    if isinstance(value, np.ndarray):
        if np.iscomplexobj(value):
            raise MonitorError(f"{what} must be a real number, got a complex array.")
        return float(value.reshape(()))
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise MonitorError(
            f"{what} must be a real scalar (number, NumPy scalar or scalar dlarray); could not "
            f"convert {type(value).__name__}: {err}"
        ) from None


def _struct_and_kwargs(args, kwargs, fname):
    """recordMetrics(m, step, {"Loss": 1}) / recordMetrics(m, step, Loss=1) -> dict."""
    if len(args) > 1:
        raise MonitorError(
            f"{fname} takes at most one dict of name -> value after the monitor"
            f"{' and step' if fname == 'recordMetrics' else ''}; pass the others as Name=value."
        )
    merged = {}
    if args:
        struct = args[0]
        if not isinstance(struct, dict):
            raise MonitorError(
                f"{fname}: expected a dict like {{'Loss': loss}} or keyword arguments Loss=loss, "
                f"got {type(struct).__name__}."
            )
        merged.update(struct)
    for k, v in kwargs.items():
        if k in merged:
            raise MonitorError(f"{fname}: {k!r} is given twice (in the dict and as Name=value).")
        merged[k] = v
    return merged


# ------------------------------------------------------------------------- monitor


class trainingProgressMonitor:
    """Monitor and plot training progress; Stop button ends your loop (MATLAB trainingProgressMonitor).

    Parameters (MATLAB name-value options): ``Metrics``, ``Info``, ``XLabel``, ``Visible``,
    ``Progress`` (0-100), ``Status``.  Extra options: ``frontend`` ("auto", "widget",
    "headless", "none"), ``redraw_interval`` (s, default 0.5), ``poll_interval`` (s, default 0.2),
    ``live_plot`` ("svg": fast live frames, default; "png": matplotlib live frames).
    The timer starts at creation: create the monitor right before the loop.
    """

    def __init__(
        self,
        *,
        Metrics=None,
        Info=None,
        XLabel="Iteration",
        Visible=True,
        Progress=0,
        Status="",
        frontend="auto",
        redraw_interval=0.5,
        poll_interval=0.2,
        live_plot="svg",
        _clock=None,
    ):
        if frontend not in _FRONTENDS:
            raise MonitorError(f"frontend must be one of {_FRONTENDS}, got {frontend!r}.")
        if live_plot not in ("svg", "png"):
            raise MonitorError(f"live_plot must be \"svg\" or \"png\", got {live_plot!r}.")
        self._live_plot = live_plot
        self._clock = _clock or time.perf_counter
        self._t0 = self._clock()
        self._redraw_interval = float(redraw_interval)
        self._poll_interval = float(poll_interval)
        self._metrics = []
        self._steps = {}
        self._values = {}
        self._cache = {}
        self._info = []
        self._info_data = {}
        self._groups = {}  # group name -> list of metric names
        self._scales = {}  # metric-or-group name -> "linear" | "log"
        self._stop = False
        self._xlabel = "Iteration"
        self._progress = 0.0
        self._status = ""
        self._visible = _on_off(Visible, "Visible")
        self._finished = False
        self._dirty = False  # recorded since the last static figure
        self._used_in_cell = False
        self._last_draw = -np.inf
        self._draw_cost = 0.0
        self.redraw_count = 0  # number of plot renders (tests/benchmarks)
        self._fig = None
        self._axes = {}
        self._lines = {}
        self._layout_key = None
        self._ui = None
        self._stop_channel = None
        self._display = _jupyter.LiveDisplay()
        self._watching = False
        self._plot_failed = False

        self.Metrics = Metrics
        self.Info = Info
        self.XLabel = XLabel
        self.Status = Status
        self._set_progress(Progress, finish=False)

        self._frontend = _jupyter.detect_frontend() if frontend == "auto" else frontend
        self._watch_cells()
        if self._frontend == "widget" and self._visible:
            self._build_widget()

    # ------------------------------------------------------------------ properties
    @property
    def widget(self):
        """The live ipywidgets box while the monitor is shown live (None otherwise; no MATLAB counterpart)."""
        return self._ui

    @property
    def Metrics(self):
        """Names of the metrics to plot (list of str)."""
        return list(self._metrics)

    @Metrics.setter
    def Metrics(self, value):
        names = _as_names(value, "Metrics")
        for n in names:
            if n not in self._steps:
                self._steps[n], self._values[n] = [], []
        removed = [n for n in self._metrics if n not in names]
        for n in removed:
            for members in self._groups.values():
                if n in members:
                    members.remove(n)
        self._groups = {g: m for g, m in self._groups.items() if m}
        self._metrics = names
        self._layout_key = None

    @property
    def Info(self):
        """Names of the information fields shown as text (list of str)."""
        return list(self._info)

    @Info.setter
    def Info(self, value):
        names = _as_names(value, "Info")
        for n in names:
            self._info_data.setdefault(n, [])
        self._info = names

    @property
    def XLabel(self):
        """Label of the x axis of every subplot."""
        return self._xlabel

    @XLabel.setter
    def XLabel(self, value):
        if not isinstance(value, str):
            raise MonitorError(f"XLabel must be a string such as \"Iteration\", got {value!r}.")
        self._xlabel = value
        self._layout_key = None

    @property
    def Progress(self):
        """Training progress in percent, 0..100 (set it; 100 finishes the monitor)."""
        return self._progress

    @Progress.setter
    def Progress(self, value):
        self._set_progress(value, finish=True)

    def _set_progress(self, value, finish):
        p = _to_float(value, "Progress")
        if not (0.0 <= p <= 100.0):
            raise MonitorError(
                f"Progress is a percentage and must lie in [0, 100], got {p:g}. Use "
                f"100 * iteration / numIterations."
            )
        self._progress = p
        if finish and p >= 100.0 and not self._finished:
            self._used_in_cell = True
            self.finish()

    @property
    def Status(self):
        """Free status text, e.g. "Running" or "Training complete"."""
        return self._status

    @Status.setter
    def Status(self, value):
        if not isinstance(value, str):
            raise MonitorError(f"Status must be a string such as \"Running\", got {value!r}.")
        changed = value != self._status
        self._status = value
        if changed and self._finished:
            self._touch()  # e.g. Status = "Training complete" after the loop: redraw the final figure

    @property
    def Stop(self):
        """True once the Stop button was clicked (read-only; test it in your loop condition)."""
        if self._stop_channel is not None and not self._stop:
            self._stop_channel.poll()
        return self._stop

    @Stop.setter
    def Stop(self, value):
        raise MonitorError(
            "monitor.Stop is read-only: it becomes True when the Stop button is clicked. To end "
            "your loop yourself use `break` (or a loop condition of your own)."
        )

    @property
    def frontend(self):
        """Where the monitor draws (read-only; no MATLAB counterpart): "widget" (a live front end, so a Stop
        click can arrive), "headless" (a kernel without a front end: nbconvert, nbgrader, nbval) or "none"
        (plain Python). Lets a notebook train longer only when someone can watch and click Stop."""
        return self._frontend

    @property
    def Visible(self):
        """Whether the monitor is shown (False: only record data)."""
        return self._visible

    @Visible.setter
    def Visible(self, value):
        value = _on_off(value, "Visible")
        if value and not self._visible and self._frontend == "widget" and not self._finished:
            self._visible = True
            self._build_widget()
        self._visible = value

    @property
    def MetricData(self):
        """dict metric name -> N x 2 float64 array of [step, value] rows."""
        out = {}
        for n in self._metrics:
            arr = self._cache.get(n)
            if arr is None or arr.shape[0] != len(self._steps[n]):
                arr = np.column_stack(
                    [np.asarray(self._steps[n], dtype=np.float64),
                     np.asarray(self._values[n], dtype=np.float64)]
                ).reshape(-1, 2)
                self._cache[n] = arr
            out[n] = arr.copy()
        return out

    @property
    def InfoData(self):
        """dict info name -> list of the values given to updateInfo."""
        return {n: list(self._info_data[n]) for n in self._info}

    # ------------------------------------------------------------------- functions
    def recordMetrics(self, step, *struct, **metrics):
        """Append [step, value] for each metric; MATLAB ``recordMetrics(monitor, step, Name=value)``."""
        values = _struct_and_kwargs(struct, metrics, "recordMetrics")
        if not values:
            raise MonitorError(
                "recordMetrics needs at least one metric value, e.g. "
                "recordMetrics(monitor, iteration, Loss=loss)."
            )
        s = _to_float(step, "recordMetrics step")
        if not np.isfinite(s):
            raise MonitorError(f"recordMetrics step must be a finite number, got {s}.")
        converted = []
        for name, v in values.items():
            if name not in self._metrics:
                _check_name(name, "Metrics")
                raise MonitorError(
                    f"recordMetrics: unknown metric {name!r}; this monitor has Metrics="
                    f"{self._metrics}. Declare it first: trainingProgressMonitor(Metrics="
                    f"{self._metrics + [name]}) or monitor.Metrics = {self._metrics + [name]}."
                )
            converted.append((name, _to_float(v, f"Metric {name!r}")))
        for name, f in converted:  # all-or-nothing
            self._steps[name].append(s)
            self._values[name].append(f)
        self._touch()

    def updateInfo(self, *struct, **info):
        """Show text information; MATLAB ``updateInfo(monitor, Name=value)``."""
        values = _struct_and_kwargs(struct, info, "updateInfo")
        for name in values:
            if name not in self._info:
                _check_name(name, "Info")
                raise MonitorError(
                    f"updateInfo: unknown info field {name!r}; this monitor has Info="
                    f"{self._info}. Declare it first: trainingProgressMonitor(Info="
                    f"{self._info + [name]})."
                )
        converted = []
        for name, v in values.items():
            if isinstance(v, np.generic):
                v = v.item()
            elif not isinstance(v, (str, int, float, bool)):
                v = _to_float(v, f"Info {name!r}")
            converted.append((name, v))
        for name, v in converted:
            self._info_data[name].append(v)
        self._touch()

    def groupSubPlot(self, groupName=None, metricNames=None, **groups):
        """Plot several metrics in one subplot; ``groupSubPlot(monitor, "Loss", ["Train","Val"])``."""
        pairs = []
        if groupName is not None:
            if metricNames is None:
                raise MonitorError(
                    "groupSubPlot needs the metric names: groupSubPlot(monitor, \"Loss\", "
                    "[\"TrainingLoss\", \"ValidationLoss\"])."
                )
            pairs.append((groupName, metricNames))
        pairs.extend(groups.items())
        if not pairs:
            raise MonitorError("groupSubPlot needs a group name and a list of metric names.")
        for g, members in pairs:
            _check_name(g, "Group")
            members = _as_names(members, "groupSubPlot metricNames")
            unknown = [m for m in members if m not in self._metrics]
            if unknown:
                raise MonitorError(
                    f"groupSubPlot: {unknown} not in Metrics={self._metrics}; declare the metrics "
                    f"first, then group them."
                )
            if g in self._metrics and g not in members:
                raise MonitorError(
                    f"groupSubPlot: group name {g!r} is already a metric name; choose another "
                    f"group name."
                )
            scales = {self._scales.get(m, "linear") for m in members}
            if len(scales) > 1:
                raise MonitorError(
                    f"groupSubPlot: {members} use different y scales {sorted(scales)}; grouped "
                    f"metrics share one axis, so set yscale on the group afterwards."
                )
            for other in self._groups.values():  # a metric lives in one group only
                for m in members:
                    if m in other:
                        other.remove(m)
            self._groups = {k: v for k, v in self._groups.items() if v}
            self._groups[g] = members
            for m in members:
                self._scales.pop(m, None)
            if scales == {"log"}:
                self._scales[g] = "log"
        self._layout_key = None

    def yscale(self, name, scale):
        """Set a subplot's y-axis scale, "linear" or "log" (MATLAB ``yscale(monitor, name, scale)``)."""
        if not isinstance(scale, str) or scale.lower() not in ("linear", "log"):
            raise MonitorError(f"yscale: scale must be \"linear\" or \"log\", got {scale!r}.")
        for g, members in self._groups.items():
            if name in members:
                raise MonitorError(
                    f"yscale: metric {name!r} is plotted in group {g!r}; set the scale of the "
                    f"group: yscale(monitor, {g!r}, {scale!r})."
                )
        if name not in self._metrics and name not in self._groups:
            raise MonitorError(
                f"yscale: {name!r} is neither a metric {self._metrics} nor a group "
                f"{list(self._groups)}."
            )
        self._scales[name] = scale.lower()
        self._layout_key = None

    def close(self):
        """Finish now (final static figure) and detach from IPython's cell events."""
        self.finish()
        self._unregister()

    def finish(self):
        """Mark the monitor finished and leave a static PNG of the final curves.

        Called automatically when Progress reaches 100 and after the cell that used the monitor.
        Data recorded after finishing are kept; the figure is refreshed after that cell.
        """
        if self._finished and not self._dirty:
            return
        self._finished = True
        if self._stop_channel is not None:
            self._stop_channel.close()
        self._emit_static()

    # ------------------------------------------------------------------ internals
    def _watch_cells(self):
        """Finish (and refresh the static figure) after the cell that used the monitor."""
        if not self._watching and self._display.shell is not None:
            self._watching = True
            self._display.after_cell(self._post_run_cell)

    def _touch(self):
        self._dirty = True
        self._used_in_cell = True
        if self._finished:
            self._watch_cells()  # refresh the static figure after this cell
            return
        if self._stop_channel is not None:
            self._stop_channel.poll()
        if self._ui is not None:
            now = self._clock()
            interval = max(self._redraw_interval, 20.0 * self._draw_cost)
            if now - self._last_draw >= interval:
                try:
                    self._refresh(now)
                except Exception as err:  # drawing must never end the learner's training loop
                    self._plot_error(err)
                    self._last_draw = now

    def _panels(self):
        """[(title, [metric names], scale)] in Metrics order; groups at their first member."""
        panels, seen = [], set()
        for m in self._metrics:
            group = next((g for g, ms in self._groups.items() if m in ms), None)
            if group is None:
                panels.append((m, [m], self._scales.get(m, "linear")))
            elif group not in seen:
                seen.add(group)
                panels.append((group, list(self._groups[group]), self._scales.get(group, "linear")))
        return panels

    def _figure(self):
        """(Re)build the matplotlib Figure (Agg, no pyplot) when the layout changed."""
        panels = self._panels()
        key = (tuple((t, tuple(ms), s) for t, ms, s in panels), self._xlabel)
        if self._fig is not None and key == self._layout_key:
            return panels
        n = max(1, len(panels))
        ncols = min(n, 2)
        nrows = -(-n // ncols)
        fig = _jupyter.new_figure(6.4 if ncols == 1 else 4.8 * ncols, 2.6 * nrows)
        self._axes, self._lines = {}, {}
        for i, (title, members, scale) in enumerate(panels):
            ax = fig.add_subplot(nrows, ncols, i + 1)
            for m in members:
                (self._lines[m],) = ax.plot([], [], label=m, linewidth=1.2)
            ax.set_xlabel(self._xlabel)
            ax.set_ylabel(title)
            ax.set_yscale(scale)
            ax.grid(True, alpha=0.3)
            if len(members) > 1:
                ax.legend(loc="upper right", fontsize="small")
            self._axes[title] = ax
        # fixed margins: a layout engine (tight/constrained) doubles the cost of every redraw
        w_in, h_in = fig.get_figwidth(), fig.get_figheight()
        fig.subplots_adjust(left=0.95 / w_in,  # room for log-scale tick labels such as 2x10^0
                            right=1 - 0.2 / w_in, bottom=0.55 / h_in,
                            top=1 - 0.35 / h_in, wspace=0.35, hspace=0.6)
        self._fig, self._layout_key = fig, key
        return panels

    def plot(self, title=None):
        """A matplotlib Figure of the curves recorded so far (the monitor's final static figure; no MATLAB counterpart)."""
        panels = self._figure()
        for t, members, _scale in panels:
            ax = self._axes[t]
            for m in members:
                y = np.asarray(self._values[m], dtype=np.float64)
                y = np.where(np.abs(y) < _svgplot.LARGEST, y, np.nan)  # Inf, NaN, ~1e308: not plottable
                self._lines[m].set_data(self._steps[m], y)
            ax.relim()
            ax.autoscale_view()
        self._fig.suptitle(title or "", fontsize="medium")
        return self._fig

    def _render_png(self, title=None):
        png = _jupyter.figure_png(self.plot(title))
        self.redraw_count += 1
        return png

    def _render_svg(self):
        """Live frame as SVG text (bytes): same panels as the final figure, ~1 ms instead of ~30 ms."""
        panels = [(title, [(m, np.asarray(self._steps[m], dtype=np.float64),
                            np.asarray(self._values[m], dtype=np.float64)) for m in members], scale)
                  for title, members, scale in self._panels()]
        self.redraw_count += 1
        return _svgplot.figure(panels, self._xlabel)

    def _plot_error(self, err):
        """A drawing failed: say so once, keep recording (the data stay in MetricData)."""
        if not self._plot_failed:
            self._plot_failed = True
            _jupyter.warn_once(
                ("monitor-plot", id(self)),
                f"trainingProgressMonitor: the plot could not be drawn ({type(err).__name__}: {err}); "
                "the monitor keeps recording (see monitor.MetricData) and shows what it can.",
            )

    def _elapsed(self):
        s = int(self._clock() - self._t0)
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"

    def _info_html(self):
        import html

        rows = "".join(
            f"<tr><td style='padding-right:1em'><b>{html.escape(n)}</b></td>"
            f"<td>{html.escape(str(self._info_data[n][-1]) if self._info_data[n] else '')}</td></tr>"
            for n in self._info
        )
        return f"<table>{rows}</table>"

    def _header_html(self):
        import html

        status = html.escape(self._status) if self._status else "&nbsp;"
        return (
            f"<b>Training progress</b> &nbsp; Status: <span class='dlteach-status'>{status}</span>"
            f" &nbsp; Elapsed: <span class='dlteach-elapsed'>{self._elapsed()}</span>"
        )

    def _build_widget(self):
        import ipywidgets as W

        self._w_header = W.HTML(self._header_html())
        self._w_stop = W.Button(description="Stop", button_style="danger", icon="stop",
                                tooltip="Stop training: sets monitor.Stop = True")
        self._w_stop.add_class("dlteach-stop")
        self._w_stop.on_click(self._on_stop_clicked)
        self._w_progress = W.FloatProgress(value=self._progress, min=0.0, max=100.0,
                                           description="Progress")
        self._w_info = W.HTML(self._info_html())
        self._w_plot = W.Image(format="svg+xml" if self._live_plot == "svg" else "png")
        self._w_plot.add_class("dlteach-plot")
        self._ui = W.VBox([W.HBox([self._w_header, self._w_stop]), self._w_progress,
                           self._w_info, self._w_plot])
        self._ui.add_class("dlteach-monitor")
        self._stop_channel = _jupyter.StopChannel(self._w_stop, self._poll_interval, self._clock)
        if self._stop_channel.mode == "between-cells":
            self._w_stop.tooltip += " (takes effect after this cell with this kernel)"
        self._refresh_widgets()
        self._last_draw = self._clock()  # first plot after redraw_interval, not an empty frame
        self._display.show_live(self._ui)

    def _refresh(self, now):
        """Throttled widget update: live plot (SVG or PNG), info, progress, status, elapsed time."""
        t0 = time.perf_counter()
        if self._live_plot == "svg":
            self._w_plot.value = self._render_svg()
            rebuild = False
        else:
            rebuild = self._fig is None or self._layout_key is None
            self._w_plot.value = self._render_png()
        self._refresh_widgets()
        if not rebuild:  # the first matplotlib draw (imports, font cache, layout) is a one-time cost
            self._draw_cost = time.perf_counter() - t0
        self._last_draw = now

    def _refresh_widgets(self):
        self._w_info.value = self._info_html()
        self._w_header.value = self._header_html()
        self._w_progress.value = self._progress

    def _on_stop_clicked(self, _button):
        """Stop button callback (runs in the kernel subshell thread on ipykernel 7)."""
        self._stop = True
        w = getattr(self, "_w_stop", None)
        if w is not None:
            w.description = "Stopping..."
            w.disabled = True

    def _emit_static(self):
        """Replace the live widget by (or show) one static PNG of the final curves."""
        self._dirty = False
        if not self._visible or self._frontend == "none" or self._display.shell is None:
            if self._ui is not None:
                self._close_widgets()
            return
        title = "  ".join(
            p for p in (self._status, *(f"{n}: {self._info_data[n][-1]}" for n in self._info
                                        if self._info_data[n]),
                        f"Elapsed {self._elapsed()}") if p
        )
        try:
            png = self._render_png(title=title)
            text = _jupyter.figure_text(self._fig)
        except Exception as err:  # never raise from drawing (this may run inside the loop: Progress = 100)
            self._plot_error(err)
            png, text = None, f"trainingProgressMonitor: {self._summary()} (the figure could not be drawn)"
        self._display.show_static(png, text)
        if self._ui is not None:
            self._close_widgets()

    def _close_widgets(self):
        ui, self._ui = self._ui, None
        for w in (self._w_header, self._w_stop, self._w_progress, self._w_info, self._w_plot):
            w.close()
        for child in ui.children:
            child.close()
        ui.close()

    def _post_run_cell(self, *_args, **_kwargs):
        if not self._used_in_cell:
            return  # created in this cell and not used yet: stay live for a later cell
        self._used_in_cell = False
        self.finish()
        self._unregister()

    def _unregister(self):
        self._watching = False
        self._display.stop_after_cell()

    def _summary(self):
        return ", ".join(f"{m}: {len(self._steps[m])} points" for m in self._metrics)

    def __repr__(self):
        counts = ", ".join(f"{m}: {len(self._steps[m])}" for m in self._metrics)
        return (f"trainingProgressMonitor(Metrics={self._metrics}, Info={self._info}, "
                f"Progress={self._progress:g}, Stop={self._stop}, points={{{counts}}})")


# --------------------------------------------------------- MATLAB-style functions


def _need_monitor(monitor, fname):
    if not isinstance(monitor, trainingProgressMonitor):
        raise MonitorError(
            f"{fname}: the first argument must be the trainingProgressMonitor, got "
            f"{type(monitor).__name__}. Call it as {fname}(monitor, ...)."
        )


def recordMetrics(monitor, step, *struct, **metrics):
    """MATLAB ``recordMetrics(monitor, step, Loss=loss)`` / ``recordMetrics(monitor, step, {"Loss": loss})``."""
    _need_monitor(monitor, "recordMetrics")
    monitor.recordMetrics(step, *struct, **metrics)


def updateInfo(monitor, *struct, **info):
    """MATLAB ``updateInfo(monitor, Epoch="1 of 3")``."""
    _need_monitor(monitor, "updateInfo")
    monitor.updateInfo(*struct, **info)


def groupSubPlot(monitor, groupName=None, metricNames=None, **groups):
    """MATLAB ``groupSubPlot(monitor, "Loss", ["TrainingLoss", "ValidationLoss"])``."""
    _need_monitor(monitor, "groupSubPlot")
    monitor.groupSubPlot(groupName, metricNames, **groups)


def yscale(monitor, name, scale):
    """MATLAB ``yscale(monitor, "Loss", "log")``."""
    _need_monitor(monitor, "yscale")
    monitor.yscale(name, scale)
