"""Shared by the lesson builders ``tools/lessons/build_NN.py``: cells with nbgrader metadata, one notebook.

    LESSON = Lesson(3, "03_custom_training_loops.ipynb", minutes=50, seed="MATLAB: ...")
    md, code = LESSON.md, LESSON.code
    md("# Lesson 3 ...", grade_id="intro")                       # locked markdown
    code("import numpy as np", grade_id="setup", kind="locked")    # locked setup code
    code("def f(): ...", grade_id="ex1_solution", kind="solution") # the learner writes it
    code("with ex1: ...", grade_id="ex1_tests", kind="tests", points=2)
    ...
    if __name__ == "__main__":
        LESSON.write(sys.argv[1:])

Cell metadata is nbgrader's schema 3; cell ids are stable (``l03-000``, ...), so rebuilding a lesson
changes only what its builder changed.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[2]
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _nbgrader(grade_id, *, grade=False, solution=False, locked=True, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    return meta


class Lesson:
    """The cells of one lesson notebook, in order."""

    def __init__(self, number, filename, *, minutes, seed):
        self.number = number
        self.out = REPO / "notebooks" / filename
        self.metadata = {"dlteach": {"lesson": number, "estimated_minutes": minutes, "seed": seed},
                         "kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
        self.cells = []

    def md(self, text, grade_id=None):
        """A markdown cell; with ``grade_id`` it is locked for nbgrader."""
        cell = new_markdown_cell(textwrap.dedent(text).strip("\n"))
        if grade_id:
            cell.metadata["nbgrader"] = _nbgrader(grade_id)
        self.cells.append(cell)

    def code(self, src, grade_id=None, *, kind=None, points=None, tags=None, requires_solutions=False):
        """A code cell. ``kind``: None (ordinary; locked if it has a ``grade_id``), "locked" (setup),
        "solution" (the learner writes it), "tests" (graded, ``points``)."""
        cell = new_code_cell(textwrap.dedent(src).strip("\n"))
        if kind is None and grade_id:
            kind = "locked"
        if kind == "locked":
            cell.metadata["nbgrader"] = _nbgrader(grade_id)
        elif kind == "solution":
            cell.metadata["nbgrader"] = _nbgrader(grade_id, solution=True, locked=False)
        elif kind == "tests":
            cell.metadata["nbgrader"] = _nbgrader(grade_id, grade=True, points=points)
        elif kind is not None:
            raise ValueError(f"unknown cell kind {kind!r}")
        if tags:
            cell.metadata["tags"] = list(tags)
        if requires_solutions:
            cell.metadata["dlteach"] = {"requires_solutions": True}
        self.cells.append(cell)

    def solution(self, src, grade_id):
        self.code(src, grade_id, kind="solution")

    def tests(self, src, grade_id, points):
        self.code(src, grade_id, kind="tests", points=points)

    def notebook(self) -> nbformat.NotebookNode:
        nb = new_notebook(cells=self.cells, metadata=self.metadata)
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"l{self.number:02d}-{i:03d}"
        nbformat.validate(nb)
        ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate nbgrader grade_ids: {duplicates}")
        return nb

    def write(self, argv=()):
        """Write the notebook (to ``argv[0]`` if given, else ``notebooks/NN_name.ipynb``)."""
        out = Path(argv[0]) if argv else self.out
        nb = self.notebook()
        nbformat.write(nb, out)
        print(f"wrote {out} ({len(nb.cells)} cells)")
        return 0
