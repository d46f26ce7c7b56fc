"""End to end: Run All on every BLANK student lesson in real JupyterLab reaches the last cell.

JupyterLab's Run All stops at the first cell that raises. The exercise checks must therefore show
their "Not attempted yet" box without raising in a real front end (dlteach.checks reads the
execute request's allow_stdin=True), and every other cell must work with no exercise solved.
"""
from pathlib import Path

import nbformat
import pytest

from .conftest import open_notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

STUDENT = Path(__file__).resolve().parents[2] / "notebooks" / "student"


def _lessons():
    """Every blank student lesson on disk (lessons added later are picked up when they land)."""
    return sorted(STUDENT.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("lesson", _lessons(), ids=lambda p: p.stem)
def test_run_all_on_blank_student_lesson_reaches_the_last_cell(jupyterlab_server, lab_page, lesson):
    path = jupyterlab_server.add_notebook(lesson)
    open_notebook(lab_page, jupyterlab_server, path)
    n = lab_page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets.length")
    last = max(i for i in range(n) if lab_page.evaluate(
        "(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].model.type", i) == "code")
    lab_page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    lab_page.wait_for_function(
        """(i) => {
            const w = window.jupyterapp.shell.currentWidget;
            return w.content.widgets[i].model.executionCount !== null
                && w.sessionContext.session.kernel.status === 'idle';
        }""",
        arg=last, timeout=240_000,
    )
    summary = lab_page.evaluate(
        """() => {
            const cells = window.jupyterapp.shell.currentWidget.content.widgets;
            let errors = [], verdicts = [], unexecuted = 0;
            for (const c of cells) {
                if (c.model.type !== 'code') continue;
                if (c.model.executionCount === null) unexecuted++;
                const outs = c.model.outputs;
                for (let j = 0; j < outs.length; j++) {
                    const o = outs.get(j).toJSON();
                    if (o.output_type === 'error') errors.push(o.ename);
                    if (o.metadata && o.metadata.dlteach && o.metadata.dlteach.verdict)
                        verdicts.push(o.metadata.dlteach.verdict);
                }
            }
            return {errors, verdicts, unexecuted};
        }"""
    )
    assert summary["errors"] == [], f"cells raised during Run All: {summary}\n{jupyterlab_server.log()}"
    assert summary["unexecuted"] == 0, summary
    graded = [c for c in nbformat.read(lesson, as_version=4).cells
              if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    # one "Not attempted yet" box per graded test cell, and no other verdict on a blank notebook
    assert summary["verdicts"] == ["not_attempted"] * len(graded), summary
