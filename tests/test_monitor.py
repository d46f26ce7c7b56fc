"""Headless tests of dlteach.monitor (trainingProgressMonitor), no browser, no kernel."""
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from dlteach import _jupyter
from dlteach.monitor import (
    MonitorError,
    groupSubPlot,
    recordMetrics,
    trainingProgressMonitor,
    updateInfo,
    yscale,
)


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class ScalarLike:
    """Stands in for a scalar dlarray: only __float__ and a shape."""

    shape = ()

    def __init__(self, v):
        self.v = v

    def __float__(self):
        return float(self.v)


def _scalar_dlarray(v):
    try:
        from dlteach import dlarray
    except Exception:
        return ScalarLike(v)
    return dlarray(np.array(v, dtype=np.float32))


def _panels(m):
    """(y label, [line labels], y scale) of each subplot of the monitor's figure."""
    return [(a.get_ylabel(), [ln.get_label() for ln in a.lines], a.get_yscale()) for a in m.plot().axes]


def _child(m, kind):
    """The ipywidgets child of the live monitor of the given class name (Button, Image, ...)."""
    todo = [m.widget]
    while todo:
        w = todo.pop(0)
        if type(w).__name__ == kind:
            return w
        todo.extend(getattr(w, "children", ()))
    raise LookupError(kind)


# ------------------------------------------------------------------ recording


def test_metricdata_is_n_by_2_step_value():
    m = trainingProgressMonitor(Metrics=["Loss", "Accuracy"], frontend="none")
    for it in range(1, 6):
        recordMetrics(m, it, Loss=1.0 / it, Accuracy=0.1 * it)
    data = m.MetricData
    assert set(data) == {"Loss", "Accuracy"}
    assert data["Loss"].shape == (5, 2) and data["Loss"].dtype == np.float64
    np.testing.assert_allclose(data["Loss"][:, 0], [1, 2, 3, 4, 5])
    np.testing.assert_allclose(data["Loss"][:, 1], [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    np.testing.assert_allclose(data["Accuracy"][:, 1], [0.1, 0.2, 0.3, 0.4, 0.5])


def test_metrics_recorded_at_different_steps_and_struct_form():
    m = trainingProgressMonitor(Metrics=["TrainingLoss", "ValidationLoss"], frontend="none")
    for it in range(1, 11):
        m.recordMetrics(it, TrainingLoss=float(it))
        if it % 5 == 0:
            recordMetrics(m, it, {"ValidationLoss": 2.0 * it})
    d = m.MetricData
    assert d["TrainingLoss"].shape == (10, 2)
    np.testing.assert_allclose(d["ValidationLoss"], [[5, 10], [10, 20]])


def test_metricdata_is_a_copy():
    m = trainingProgressMonitor(Metrics="Loss", frontend="none")
    recordMetrics(m, 1, Loss=3.0)
    d = m.MetricData
    d["Loss"][0, 1] = -1
    assert m.MetricData["Loss"][0, 1] == 3.0


@pytest.mark.parametrize(
    "value",
    [np.float32(0.25), np.float64(0.25), np.array(0.25), np.array([0.25], dtype=np.float32), 0.25,
     ScalarLike(0.25)],
    ids=["np.float32", "np.float64", "0-d", "1-element", "float", "__float__"],
)
def test_scalar_kinds_accepted(value):
    m = trainingProgressMonitor(Metrics="Loss", frontend="none")
    recordMetrics(m, np.int64(7), Loss=value)
    np.testing.assert_allclose(m.MetricData["Loss"], [[7.0, 0.25]])


def test_dlarray_scalar_accepted():
    m = trainingProgressMonitor(Metrics="Loss", frontend="none")
    recordMetrics(m, 1, Loss=_scalar_dlarray(0.5))
    assert m.MetricData["Loss"][0, 1] == 0.5


def test_nonscalar_value_is_rejected_with_shape():
    m = trainingProgressMonitor(Metrics="Loss", frontend="none")
    with pytest.raises(MonitorError, match=r"scalar.*shape \(3,\)"):
        recordMetrics(m, 1, Loss=np.ones(3))
    with pytest.raises(MonitorError, match="complex"):
        recordMetrics(m, 1, Loss=1 + 2j)
    with pytest.raises(MonitorError, match="string"):
        recordMetrics(m, 1, Loss="0.5")
    assert m.MetricData["Loss"].shape == (0, 2)


def test_unknown_metric_names_the_fix_and_records_nothing():
    m = trainingProgressMonitor(Metrics=["Loss"], frontend="none")
    with pytest.raises(MonitorError, match=r"unknown metric 'Acc'.*Metrics=\['Loss', 'Acc'\]"):
        recordMetrics(m, 1, Loss=1.0, Acc=0.5)
    assert m.MetricData["Loss"].shape == (0, 2)  # all-or-nothing


def test_bad_names_and_arguments():
    with pytest.raises(MonitorError, match="must start with a letter"):
        trainingProgressMonitor(Metrics=["1loss"], frontend="none")
    with pytest.raises(MonitorError, match="must start with a letter"):
        trainingProgressMonitor(Info=["learning rate"], frontend="none")
    with pytest.raises(MonitorError, match="more than once"):
        trainingProgressMonitor(Metrics=["Loss", "Loss"], frontend="none")
    with pytest.raises(MonitorError, match="strings"):
        trainingProgressMonitor(Metrics=[3], frontend="none")
    m = trainingProgressMonitor(Metrics="Loss", frontend="none")
    with pytest.raises(MonitorError, match="at least one metric"):
        recordMetrics(m, 1)
    with pytest.raises(MonitorError, match="finite"):
        recordMetrics(m, float("nan"), Loss=1.0)
    with pytest.raises(MonitorError, match="given twice"):
        recordMetrics(m, 1, {"Loss": 1.0}, Loss=2.0)
    with pytest.raises(MonitorError, match="first argument must be the trainingProgressMonitor"):
        recordMetrics(None, 1, Loss=1.0)
    assert issubclass(MonitorError, ValueError)


def test_metrics_can_be_extended_later():
    m = trainingProgressMonitor(Metrics="Loss", frontend="none")
    recordMetrics(m, 1, Loss=1.0)
    m.Metrics = ["Loss", "Accuracy"]
    recordMetrics(m, 2, Loss=0.5, Accuracy=0.9)
    assert m.MetricData["Loss"].shape == (2, 2)
    assert m.MetricData["Accuracy"].tolist() == [[2.0, 0.9]]


# ------------------------------------------------------------------------ info


def test_info_data_keeps_values_in_order():
    m = trainingProgressMonitor(Info=["Epoch", "LearningRate"], frontend="none")
    updateInfo(m, Epoch="1 of 3", LearningRate=np.float32(0.01))
    m.updateInfo({"Epoch": "2 of 3"})
    updateInfo(m, LearningRate=_scalar_dlarray(0.5))
    info = m.InfoData
    assert info["Epoch"] == ["1 of 3", "2 of 3"]
    assert info["LearningRate"][0] == pytest.approx(0.01) and isinstance(info["LearningRate"][0], float)
    assert info["LearningRate"][1] == 0.5
    with pytest.raises(MonitorError, match=r"unknown info field 'Lr'.*Info=\['Epoch', 'LearningRate', 'Lr'\]"):
        updateInfo(m, Lr=0.1)


# ------------------------------------------------------- grouping and scales


def test_group_subplot_and_panels():
    m = trainingProgressMonitor(Metrics=["TrainingLoss", "ValidationLoss", "Accuracy"], frontend="none")
    groupSubPlot(m, "Loss", ["TrainingLoss", "ValidationLoss"])
    assert _panels(m) == [("Loss", ["TrainingLoss", "ValidationLoss"], "linear"),
                          ("Accuracy", ["Accuracy"], "linear")]
    # name=value form, regrouping moves the metric
    groupSubPlot(m, Score=["ValidationLoss", "Accuracy"])
    assert _panels(m) == [("Loss", ["TrainingLoss"], "linear"),
                          ("Score", ["ValidationLoss", "Accuracy"], "linear")]
    with pytest.raises(MonitorError, match=r"\['Nope'\] not in Metrics"):
        groupSubPlot(m, "G", ["Nope"])
    with pytest.raises(MonitorError, match="already a metric name"):
        groupSubPlot(m, "Accuracy", ["TrainingLoss"])
    with pytest.raises(MonitorError, match="needs the metric names"):
        groupSubPlot(m, "G")


def test_yscale_on_metric_and_group():
    m = trainingProgressMonitor(Metrics=["TrainingLoss", "ValidationLoss", "LR"], frontend="none")
    groupSubPlot(m, "Loss", ["TrainingLoss", "ValidationLoss"])
    yscale(m, "Loss", "log")
    yscale(m, "LR", "log")
    assert [p[2] for p in _panels(m)] == ["log", "log"]
    with pytest.raises(MonitorError, match="set the scale of the group"):
        yscale(m, "TrainingLoss", "log")
    with pytest.raises(MonitorError, match='"linear" or "log"'):
        yscale(m, "LR", "logarithmic")
    with pytest.raises(MonitorError, match="neither a metric"):
        yscale(m, "Foo", "log")


def test_rendered_figure_has_one_axes_per_panel_with_labels_and_scale():
    m = trainingProgressMonitor(Metrics=["TrainingLoss", "ValidationLoss", "Accuracy"],
                                XLabel="Epoch", frontend="none")
    groupSubPlot(m, "Loss", ["TrainingLoss", "ValidationLoss"])
    yscale(m, "Loss", "log")
    for it in range(1, 4):
        recordMetrics(m, it, TrainingLoss=1.0 / it, ValidationLoss=2.0 / it, Accuracy=0.3 * it)
    fig = m.plot()
    assert _jupyter.figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
    axes = fig.axes
    assert len(axes) == 2
    assert [a.get_ylabel() for a in axes] == ["Loss", "Accuracy"]
    assert all(a.get_xlabel() == "Epoch" for a in axes)
    assert axes[0].get_yscale() == "log" and axes[1].get_yscale() == "linear"
    assert len(axes[0].lines) == 2
    np.testing.assert_allclose(axes[0].lines[1].get_ydata(), [2.0, 1.0, 2.0 / 3])
    assert _jupyter.figure_text(fig) == "<Figure size 960x260 with 2 Axes>"


# --------------------------------------------------------- progress / status


def test_progress_and_status_validation():
    m = trainingProgressMonitor(Metrics="Loss", frontend="none")
    m.Progress = np.float32(42.5)
    assert m.Progress == 42.5
    for bad in (-1, 100.5, float("nan")):
        with pytest.raises(MonitorError, match=r"\[0, 100\]"):
            m.Progress = bad
    with pytest.raises(MonitorError, match="string"):
        m.Status = 3
    m.Status = "Running"
    assert m.Status == "Running"
    with pytest.raises(MonitorError, match="XLabel must be a string"):
        m.XLabel = None
    with pytest.raises(MonitorError, match="frontend must be one of"):
        trainingProgressMonitor(frontend="qt")


def test_progress_100_finishes():
    m = trainingProgressMonitor(Metrics="Loss", frontend="widget")
    assert m.widget is not None and m.frontend == "widget"
    m.Progress = 100  # finished: the live widget is closed (the static figure replaces it in Jupyter)
    assert m.widget is None


# --------------------------------------------------------------------- Stop


def test_stop_is_read_only_and_set_by_the_button():
    m = trainingProgressMonitor(Metrics="Loss", frontend="widget")
    assert m.Stop is False
    with pytest.raises(MonitorError, match="read-only"):
        m.Stop = True
    _child(m, "Button").click()
    assert m.Stop is True


def test_widget_button_click_ends_the_loop():
    clock = FakeClock()
    m = trainingProgressMonitor(Metrics="Loss", frontend="widget", _clock=clock)
    it = 0
    while it < 1000 and not m.Stop:
        it += 1
        clock.t += 0.01
        recordMetrics(m, it, Loss=1.0 / it)
        if it == 37:
            _child(m, "Button").click()  # what the browser's click does (ipywidgets Button.click)
    assert it == 37 and m.Stop is True
    assert _child(m, "Button").disabled and _child(m, "Button").description == "Stopping..."
    assert m.MetricData["Loss"].shape == (37, 2)


# ------------------------------------------------------------------ throttling


def test_redraws_are_time_throttled():
    clock = FakeClock()
    m = trainingProgressMonitor(Metrics="Loss", frontend="widget", redraw_interval=0.5, _clock=clock)
    m._draw_cost = 0.0
    base = m.redraw_count  # the initial empty frame
    for it in range(1, 25):  # 3 s of fake time, 125 ms per step (exact in binary)
        clock.t += 0.125
        recordMetrics(m, it, Loss=1.0 / it)
        m._draw_cost = 0.0  # ignore real render time for this check
    assert m.redraw_count - base == 6  # at t = 0.5, 1.0, ..., 3.0
    before = _child(m, "Image").value
    clock.t += 0.6
    recordMetrics(m, 25, Loss=0.001)
    assert _child(m, "Image").value != before  # the plot image really changes


def test_slow_draws_back_off_to_stay_under_5_percent():
    clock = FakeClock()
    m = trainingProgressMonitor(Metrics="Loss", frontend="widget", redraw_interval=0.5, _clock=clock)
    base = m.redraw_count
    for it in range(1, 81):  # 10 s of fake time, 125 ms per step
        clock.t += 0.125
        m._draw_cost = 0.1  # pretend each draw costs 100 ms -> at most one draw per 2 s
        recordMetrics(m, it, Loss=1.0)
    assert m.redraw_count - base == 5


# ------------------------------------------------------------------- headless


def test_frontend_detection_outside_a_kernel(monkeypatch):
    monkeypatch.delenv("DLTEACH_HEADLESS", raising=False)
    assert _jupyter.detect_frontend() == "none"
    monkeypatch.setenv("DLTEACH_HEADLESS", "0")
    assert _jupyter.detect_frontend() == "none"  # no kernel: nothing to show anyway


def test_frontend_detection_in_a_fake_zmq_kernel(monkeypatch):
    class Kernel:
        def __init__(self, meta):
            self.meta = meta

        def get_parent(self, channel="shell"):
            return {"header": {"msg_type": "execute_request"}, "metadata": self.meta}

    class ZMQInteractiveShell:
        def __init__(self, kernel):
            self.kernel = kernel

    monkeypatch.delenv("DLTEACH_HEADLESS", raising=False)
    lab = ZMQInteractiveShell(Kernel({"cellId": "abc", "deletedCells": []}))
    nbclient = ZMQInteractiveShell(Kernel({}))
    monkeypatch.setattr(_jupyter, "get_ipython", lambda: lab)
    assert _jupyter.detect_frontend() == "widget"
    monkeypatch.setenv("DLTEACH_HEADLESS", "1")
    assert _jupyter.detect_frontend() == "headless"
    monkeypatch.setattr(_jupyter, "get_ipython", lambda: nbclient)
    monkeypatch.delenv("DLTEACH_HEADLESS")
    assert _jupyter.detect_frontend() == "headless"
    monkeypatch.setenv("DLTEACH_HEADLESS", "false")
    assert _jupyter.detect_frontend() == "widget"


def test_frontend_property_reports_the_detected_or_chosen_front_end(monkeypatch):
    monkeypatch.delenv("DLTEACH_HEADLESS", raising=False)
    assert trainingProgressMonitor(Metrics=["Loss"]).frontend == "none"          # plain Python: auto -> "none"
    assert trainingProgressMonitor(Metrics=["Loss"], frontend="headless").frontend == "headless"
    m = trainingProgressMonitor(Metrics=["Loss"], frontend="none")
    with pytest.raises(AttributeError):
        m.frontend = "widget"                                                     # read-only


def test_plain_script_prints_nothing_and_does_not_import_widgets():
    code = textwrap.dedent(
        """
        import sys
        from dlteach.monitor import trainingProgressMonitor, recordMetrics, updateInfo
        assert "ipywidgets" not in sys.modules and "matplotlib" not in sys.modules
        m = trainingProgressMonitor(Metrics=["Loss"], Info=["Epoch"])
        for i in range(1, 201):
            recordMetrics(m, i, Loss=1.0 / i)
            updateInfo(m, Epoch=str(i))
            m.Progress = i / 2
        m.close()
        assert m.MetricData["Loss"].shape == (200, 2)
        assert "ipywidgets" not in sys.modules and "matplotlib" not in sys.modules
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""


def test_headless_kernel_emits_one_deterministic_figure(tmp_path):
    """Real kernel through nbclient: one display_data (PNG + fixed text/plain), no per-step output."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    import os
    from pathlib import Path

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from dlteach.monitor import trainingProgressMonitor, recordMetrics\n"
            "m = trainingProgressMonitor(Metrics=['TrainingLoss', 'ValidationLoss'])\n"
            "m.groupSubPlot('Loss', ['TrainingLoss', 'ValidationLoss'])\n"
            "for i in range(1, 301):\n"
            "    recordMetrics(m, i, TrainingLoss=1.0 / i, ValidationLoss=2.0 / i)\n"
            "print(m.frontend, m.MetricData['TrainingLoss'].shape)"
        ),
        nbformat.v4.new_code_cell("m.Progress = 100\nprint('done')"),
    ]
    repo = str(Path(__file__).resolve().parents[1])
    env_pp = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = repo + (os.pathsep + env_pp if env_pp else "")
    try:
        client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                         resources={"metadata": {"path": str(tmp_path)}})
        client.execute()
    finally:
        os.environ["PYTHONPATH"] = env_pp
        if not env_pp:
            del os.environ["PYTHONPATH"]
    out1, out2 = nb.cells[0].outputs, nb.cells[1].outputs
    assert [o.output_type for o in out1] == ["stream", "display_data"]  # print, then figure after the cell
    assert out1[0].text == "headless (300, 2)\n"
    assert out1[1].data["text/plain"] == "<Figure size 640x260 with 1 Axes>"
    assert out1[1].data["image/png"]
    # the monitor already finished with its cell: Progress=100 later adds no second figure
    assert [o.output_type for o in out2] == ["stream"]


# ------------------------------------------------------------------ live SVG plot


def _polylines(svg):
    import re

    out = []
    for pts in re.findall(r'<polyline [^>]*points="([^"]*)"', svg):
        out.append(np.array([[float(v) for v in p.split(",")] for p in pts.split()]))
    return out


def _frames(svg):
    import re

    return [tuple(float(v) for v in m) for m in re.findall(
        r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="white" stroke', svg)]


def test_live_plot_is_svg_with_the_data_mapped_into_the_frame():
    clock = FakeClock()
    m = trainingProgressMonitor(Metrics="Loss", XLabel="Epoch", frontend="widget", _clock=clock)
    assert _child(m, "Image").format == "svg+xml"
    x = np.arange(1, 12.0)
    y = 10.0 - x  # 9 .. -1
    for a, b in zip(x, y):
        clock.t += 1.0  # every record redraws
        recordMetrics(m, a, Loss=b)
    svg = bytes(_child(m, "Image").value).decode()
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert ">Epoch<" in svg and ">Loss<" in svg
    (fx, fy, fw, fh), = _frames(svg)
    (pts,) = _polylines(svg)
    assert pts.shape == (11, 2)
    # 5 % margins on both axes: data range [lo, hi] spans the middle 1/1.1 of the frame
    np.testing.assert_allclose(pts[:, 0], fx + fw * (0.05 + (x - 1) / 10) / 1.1, atol=0.06)
    np.testing.assert_allclose(pts[:, 1], fy + fh - fh * (0.05 + (y + 1) / 10) / 1.1, atol=0.06)


def test_live_svg_groups_log_scale_nonfinite_and_many_points():
    clock = FakeClock()
    m = trainingProgressMonitor(Metrics=["Train", "Val", "Acc"], frontend="widget", _clock=clock)
    groupSubPlot(m, "Loss", ["Train", "Val"])
    yscale(m, "Loss", "log")
    n = 5000
    spike = 1234
    for it in range(1, n + 1):
        train = 100.0 if it == spike else 1.0 / it
        recordMetrics(m, it, Train=train, Acc=it / n)
        if it % 100 == 0:
            recordMetrics(m, it, Val=2.0 / it)
    clock.t += 1.0  # the next record redraws
    recordMetrics(m, n + 1, Acc=float("nan"))
    svg = bytes(_child(m, "Image").value).decode()
    assert len(_frames(svg)) == 2  # one subplot per panel
    lines = _polylines(svg)
    assert len(lines) == 3  # Train, Val, Acc
    (fx, fy, fw, fh) = _frames(svg)[0]
    assert len(lines[0]) <= 2 * fw + 1  # decimated to about two points per pixel column ...
    assert lines[0][:, 1].min() == pytest.approx(fy + fh * 0.05 / 1.1, abs=0.06)  # ... the spike kept
    assert len(lines[1]) == n // 100
    for decade in (">0.001<", ">0.01<", ">0.1<", ">1<", ">10<", ">100<"):
        assert decade in svg  # log axis: ticks at decades
    assert ">Train<" in svg and ">Val<" in svg  # legend of the group
    assert "nan" not in svg.lower()


def test_live_plot_png_option_and_bad_value():
    clock = FakeClock()
    m = trainingProgressMonitor(Metrics="Loss", frontend="widget", live_plot="png", _clock=clock)
    clock.t += 1.0
    recordMetrics(m, 1, Loss=1.0)
    assert _child(m, "Image").format == "png" and _child(m, "Image").value[:4] == b"\x89PNG"
    with pytest.raises(MonitorError, match="live_plot"):
        trainingProgressMonitor(Metrics="Loss", live_plot="gif")


def test_status_set_after_the_final_figure_redraws_it():
    m = trainingProgressMonitor(Metrics="Loss", frontend="none")
    m.Status = "Running"
    recordMetrics(m, 1, Loss=1.0)
    m.Progress = 100  # finishes: the final figure shows "Running"
    shown = []
    m._emit_static = lambda: shown.append(m.Status)
    m.finish()
    assert shown == []  # nothing changed: no second figure
    m.Status = "Training complete"
    m.finish()  # what the post-cell hook does
    assert shown == ["Training complete"]


def test_log_scale_tick_labels_fit_in_the_final_figure():
    m = trainingProgressMonitor(Metrics=["A", "B"], frontend="none")
    groupSubPlot(m, "Loss", ["A", "B"])
    yscale(m, "Loss", "log")
    for i in range(1, 50):
        recordMetrics(m, i, A=2.4 - i / 100, B=2.2 - i / 200)  # a narrow log range: labels like 2x10^0
    fig = m.plot()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    label_box = ax.yaxis.label.get_window_extent(renderer)
    assert label_box.x0 >= 0, "the y label is cut off at the left edge"
    for tick in ax.get_yticklabels() + ax.get_yticklabels(minor=True):
        if tick.get_text():
            assert tick.get_window_extent(renderer).x0 >= 0


# ------------------------------------------------------- never fail the loop (issue 13)


def test_a_value_too_large_to_draw_degrades_the_plot_once_and_recording_goes_on():
    clock = FakeClock()
    m = trainingProgressMonitor(Metrics=["Loss", "Accuracy"], frontend="widget", _clock=clock)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for it, loss in enumerate([2.3, 1.79e308, float("inf"), 0.7, 0.5], start=1):
            clock.t += 1.0  # every record redraws the live plot
            recordMetrics(m, it, Loss=loss, Accuracy=0.1 * it)
        m.Progress = 100  # the final static figure too
    assert m.MetricData["Loss"].shape == (5, 2) and m.MetricData["Loss"][1, 1] == 1.79e308
    assert m.widget is None  # finished normally
    fig = m.plot()  # the final figure skips what it cannot place on an axis
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata()[[0, 3, 4]], [2.3, 0.7, 0.5])
    assert np.isnan(fig.axes[0].lines[0].get_ydata()[1:3]).all()
    assert all("could not be drawn" not in str(w.message) for w in rec)  # nothing failed: degraded, not broken


def test_a_failing_drawing_is_reported_once_and_never_reaches_the_loop(monkeypatch):
    from dlteach import _svgplot

    clock = FakeClock()
    m = trainingProgressMonitor(Metrics="Loss", frontend="widget", _clock=clock)

    def broken(*_a, **_k):
        raise OverflowError("cannot draw")

    monkeypatch.setattr(_svgplot, "figure", broken)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for it in range(1, 6):
            clock.t += 1.0
            recordMetrics(m, it, Loss=1.0 / it)  # each record tries to redraw: must not raise
    msgs = [str(w.message) for w in rec if "could not be drawn" in str(w.message)]
    assert len(msgs) == 1 and "OverflowError: cannot draw" in msgs[0] and "keeps recording" in msgs[0]
    assert m.MetricData["Loss"].shape == (5, 2)


@pytest.mark.parametrize("off", ["off", "OFF", False, 0])
def test_visible_off_stays_off(off):
    m = trainingProgressMonitor(Metrics="Loss", Visible=off, frontend="widget")
    assert m.Visible is False and m.widget is None  # nothing shown, data recorded
    recordMetrics(m, 1, Loss=1.0)
    assert m.MetricData["Loss"].shape == (1, 2)
    m.Visible = "on"
    assert m.Visible is True and m.widget is not None
    with pytest.raises(MonitorError, match='"on"/"off"'):
        m.Visible = "maybe"
