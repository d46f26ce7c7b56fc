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
