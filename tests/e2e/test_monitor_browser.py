"""End to end: the monitor's Stop button ends a running training loop in real JupyterLab."""
import re
from pathlib import Path

import pytest

from .conftest import open_notebook, run_cell_and_stop

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

NOTEBOOKS = Path(__file__).parent / "notebooks"


def test_stop_button_ends_running_loop(jupyterlab_server, lab_page):
    path = jupyterlab_server.add_notebook(NOTEBOOKS / "monitor_stop.ipynb")
    open_notebook(lab_page, jupyterlab_server, path)
    result = run_cell_and_stop(lab_page, cell_index=0, changes_before_stop=2)
    print("timings (s since run):", result["timings"], "output:", result["output_text"][-200:])

    # The live plot changed while the cell was running, i.e. redraws reach the browser.
    assert len(set(result["srcs"])) >= 3
    assert result["still_running_at_click"]
    # The click reached the running loop: it ended early and the cell completed normally.
    m = re.search(r"stopped=(\w+) iterations=(\d+) planned=(\d+)", result["output_text"])
    assert m, f"no summary line in the cell output: {result['output_text']!r}\n{jupyterlab_server.log()}"
    assert m.group(1) == "True"
    assert 0 < int(m.group(2)) < int(m.group(3))
    assert isinstance(result["execution_count"], int)
    assert result["kernel_status"] == "idle"
    # The live widget was replaced by a static PNG of the final curves.
    assert result["static_images"] == 1
    assert "Error" not in result["output_text"]


# ------------------------------------------------------------------------------------ lesson 03

LESSON03 = Path(__file__).resolve().parents[2] / "notebooks" / "03_custom_training_loops.ipynb"
SUMMARY03 = re.compile(
    r"(Stopped|Training complete) after (\d+) of (\d+) iterations \(epoch (\d+) of (\d+)\); monitor\.Stop = (True|False)"
)


def _lesson03_monitor_cell(nb):
    """Index of the code cell that trains under a trainingProgressMonitor for numEpochsWatched epochs."""
    for i, cell in enumerate(nb.cells):
        src = cell.source
        if (cell.cell_type == "code" and "trainingProgressMonitor(" in src
                and "while epoch < numEpochsWatched and not monitor.Stop" in src):
            return i
    raise AssertionError("lesson 03 has no monitored training cell "
                         "'while epoch < numEpochsWatched and not monitor.Stop'")


def test_lesson03_training_cell_stops_with_the_button(jupyterlab_server, lab_page, tmp_path):
    import nbformat

    from .conftest import execute_in_kernel, run_cells, strip_outputs

    nb = nbformat.read(LESSON03, as_version=4)
    target = _lesson03_monitor_cell(nb)
    above = [i for i, c in enumerate(nb.cells[:target]) if c.cell_type == "code"]
    assert above, "the monitored cell needs the cells above it"

    path = jupyterlab_server.add_notebook(strip_outputs(LESSON03, tmp_path / LESSON03.name))
    open_notebook(lab_page, jupyterlab_server, path)
    errors = run_cells(lab_page, above)
    # The instructor version runs without error up to the training cell (exercises solved).
    assert not errors, f"cells above the training cell failed: {errors}\n{jupyterlab_server.log()}"

    # Watched in JupyterLab, the cell itself trains for 100 epochs instead of the lesson's 2 (monitor.frontend is
    # "widget"), so that the loop is still running when we click Stop -- no help from the test needed.
    planned_epochs = 100

    result = run_cell_and_stop(lab_page, cell_index=target, changes_before_stop=2, timeout=90_000)
    print("timings (s since run):", result["timings"], "output:", result["output_text"][-300:])

    # The live monitor plot changed while the training cell was running.
    assert len(set(result["srcs"])) >= 3
    assert result["still_running_at_click"]
    # The Stop click ended the loop early; the cell completed normally.
    m = SUMMARY03.search(result["output_text"])
    assert m, f"no summary line in the cell output: {result['output_text']!r}\n{jupyterlab_server.log()}"
    status, done, planned, epoch, num_epochs, stopped = m.groups()
    assert (status, stopped) == ("Stopped", "True")
    assert int(num_epochs) == planned_epochs
    assert 0 < int(done) < int(planned)
    assert int(epoch) < planned_epochs
    assert isinstance(result["execution_count"], int)
    assert result["kernel_status"] == "idle"
    assert "Error" not in result["output_text"] and "Traceback" not in result["output_text"]
    # The live widget was replaced by the static PNG of the curves recorded until the click.
    assert result["static_images"] == 1
    # The loop really stopped: the kernel agrees with the printed iteration count.
    assert execute_in_kernel(
        lab_page, f"assert monitor.Stop and iteration == {int(done)} and "
                  f"monitor.MetricData['Loss'].shape[0] == {int(done)}"
    ) == "ok"
