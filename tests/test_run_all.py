"""Run All on a BLANK student notebook, as a learner's front end runs it, reaches the last cell.

The kernel is driven like JupyterLab / Notebook 7 / VS Code drive it (execute requests with
``allow_stdin=True``, which dlteach.checks reads as "interactive"), cells stop at the first error
(``allow_errors=False``, like Run All), and no ``DLTEACH_CHECKS`` override is set: an unsolved
exercise must show its box and let the notebook go on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from _common import STUDENT_DIR, example_notebook, use_tool_env  # noqa: E402


class InteractiveClient(nbclient.NotebookClient):
    """nbclient that sends execute requests with allow_stdin=True, as interactive front ends do."""

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        kc.allow_stdin = True
        return kc


def _uses_exercise_mechanism(nb):
    return any("dlteach.exercises" in c.source for c in nb.cells if c.cell_type == "code")


def _example_release(tmp_path):
    from generate_student import generate

    src = example_notebook(tmp_path / "src")
    return nbformat.reads(generate([src], out_dir=None)["exercise_example.ipynb"], as_version=4)


CASES = [p.stem for p in sorted(STUDENT_DIR.glob("[0-9][0-9]_*.ipynb"))] + ["exercise_example"]


@pytest.mark.parametrize("name", CASES)
def test_blank_student_notebook_runs_to_its_last_cell_interactively(name, tmp_path, monkeypatch):
    monkeypatch.delenv("DLTEACH_CHECKS", raising=False)
    use_tool_env()
    os.environ.pop("DLTEACH_CHECKS", None)
    if name == "exercise_example":
        nb = _example_release(tmp_path)
        where = tmp_path
    else:
        nb = nbformat.read(STUDENT_DIR / f"{name}.ipynb", as_version=4)
        where = STUDENT_DIR
    assert _uses_exercise_mechanism(nb), ("the setup cell must import the lesson's checks from dlteach.exercises "
                                          "(notebooks/README.md, section 1)")
    nb.cells.append(nbformat.v4.new_code_cell("from dlteach.checks import mode\nprint('LAST CELL', mode())"))
    InteractiveClient(nb, kernel_name="python3", timeout=600, allow_errors=False,
                      resources={"metadata": {"path": str(where)}}).execute()
    last = nb.cells[-1]
    assert last.execution_count is not None
    # the kernel may split one print into several stream messages
    assert "".join(o.get("text", "") for o in last.outputs if o.output_type == "stream") == "LAST CELL interactive\n"
    boxes = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if o.get("metadata", {}).get("dlteach", {}).get("verdict")]
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
              and c.cell_type == "code"]
    assert len(boxes) == len(graded), "one box per test cell"
    assert {b["metadata"]["dlteach"]["verdict"] for b in boxes} == {"not_attempted"}
