"""End-to-end nbgrader workflow on every lesson notebook (and the worked exercise example).

For each instructor notebook, in a temporary course directory that loads the repository's
``nbgrader_config.py`` (so the shipped config is what is tested):

1. ``generate_assignment`` -> release (student) version;
2. four submissions autograded in ONE ``nbgrader autograde`` run:
   ``full``   = the instructor notebook            -> full marks,
   ``blank``  = the untouched student version      -> zero, no crash,
   ``tamper`` = first answer left out AND every test cell replaced by ``pass``
                -> the original tests are restored, same scores as ``loop``, not full marks,
   ``loop``   = an endless loop in the first answer -> that cell times out, the rest is graded;
3. ``generate_feedback``: hidden tests do not appear in the HTML (visible tests do);
4. ``nbgrader export``: grades.csv has the expected scores.

Timeouts: ordinary cells get ``DLTEACH_GRADE_TIMEOUT`` seconds (default 300, enough for lesson
training cells); the endless-loop cell, recognised by a marker comment, gets 3 s through
nbclient's ``timeout_func`` so the test does not wait minutes. The mechanism exercised (timeout,
kernel interrupt, grading continues) is the same as with the production timeout.
"""

from __future__ import annotations

import csv
import html
import os
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

pytest.importorskip("nbgrader")

from _common import EXAMPLE_SOURCE, example_notebook, lesson_notebooks, run_nbgrader  # noqa: E402
from generate_student import generate  # noqa: E402

NOTEBOOKS = lesson_notebooks() + [EXAMPLE_SOURCE]  # the example's jupytext source becomes a notebook in the test
ASSIGNMENT = "lessons"
STUDENTS = ("full", "blank", "tamper", "loop")
LOOP_MARKER = "DLTEACH_TEST_ENDLESS_LOOP"
LOOP_TIMEOUT = 3
CELL_TIMEOUT = int(os.environ.get("DLTEACH_GRADE_TIMEOUT", "300"))


def _nbg(cell):
    return cell.metadata.get("nbgrader", {})


def _is_grade(cell):
    return cell.cell_type == "code" and _nbg(cell).get("grade") and not _nbg(cell).get("solution")


def _is_solution(cell):
    return cell.cell_type == "code" and _nbg(cell).get("solution")


def _first_solution_index(nb):
    for i, cell in enumerate(nb.cells):
        if _is_solution(cell):
            return i
    raise AssertionError("notebook has no solution (exercise) cell")


def _make_submissions(instructor, release):
    """name -> notebook, see the module docstring."""
    subs = {"full": instructor, "blank": release}
    first = _first_solution_index(instructor)

    tamper = nbformat.from_dict(instructor)
    tamper.cells[first].source = "pass  # the student did not answer this one"
    for cell in tamper.cells:
        if _is_grade(cell):
            cell.source = "pass"
    subs["tamper"] = tamper

    loop = nbformat.from_dict(instructor)
    loop.cells[first].source = f"while True:  # {LOOP_MARKER}\n    pass"
    subs["loop"] = loop
    return subs


def _html_text(path):
    """Visible text of an nbconvert HTML page (tags removed, entities decoded, spaces folded)."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    text = re.sub(r"<[^>]+>", "", text)
    return " ".join(html.unescape(text).split())


def _fold(line):
    return " ".join(line.split())


def _hidden_and_visible_lines(source):
    hidden, visible, inside = [], [], False
    for line in source.splitlines():
        if "BEGIN HIDDEN TESTS" in line:
            inside = True
        elif "END HIDDEN TESTS" in line:
            inside = False
        elif line.strip():
            (hidden if inside else visible).append(_fold(line))
    return hidden, visible


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=lambda p: p.stem)
def graded(request, tmp_path_factory):
    """Run the whole workflow once per notebook; return everything the tests look at."""
    src = request.param
    course = tmp_path_factory.mktemp(f"course-{src.stem}")
    if src == EXAMPLE_SOURCE:
        src = example_notebook(course / "example_source")
    overrides = {
        "Execute.timeout": str(CELL_TIMEOUT),
        "Execute.timeout_func": (f"lambda cell: {LOOP_TIMEOUT} if {LOOP_MARKER!r} in cell.source"
                                 f" else {CELL_TIMEOUT}"),
    }
    t0 = time.perf_counter()
    generate([src], out_dir=None, assignment=ASSIGNMENT, course_dir=course,
             config_overrides=overrides)
    instructor = nbformat.read(src, as_version=4)
    release = nbformat.read(course / "release" / ASSIGNMENT / src.name, as_version=4)

    for student, nb in _make_submissions(instructor, release).items():
        dest = course / "submitted" / student / ASSIGNMENT
        dest.mkdir(parents=True)
        nbformat.write(nb, dest / src.name)

    autograde = run_nbgrader(["autograde", ASSIGNMENT, "--force"], course)
    run_nbgrader(["generate_feedback", ASSIGNMENT, "--force"], course)
    run_nbgrader(["export"], course)
    elapsed = time.perf_counter() - t0

    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="dlteach") as gb:
        for student in STUDENTS:
            sub = gb.find_submission_notebook(src.stem, ASSIGNMENT, student)
            scores[student] = {g.name: (g.score, g.max_score) for g in sub.grades
                               if g.cell_type == "code"}
    with open(course / "grades.csv", newline="") as f:
        csv_rows = {row["student_id"]: row for row in csv.DictReader(f)}

    return {
        "src": src,
        "course": course,
        "instructor": instructor,
        "release": release,
        "scores": scores,
        "csv": csv_rows,
        "autograde_log": autograde.stdout + autograde.stderr,
        "autograded": {s: nbformat.read(course / "autograded" / s / ASSIGNMENT / src.name, 4)
                       for s in STUDENTS},
        "feedback": {s: course / "feedback" / s / ASSIGNMENT / f"{src.stem}.html"
                     for s in STUDENTS},
        "seconds": elapsed,
    }


def _points(nb):
    return {_nbg(c)["grade_id"]: float(_nbg(c)["points"]) for c in nb.cells if _is_grade(c)}


def test_release_has_no_solutions_or_hidden_tests(graded):
    release, instructor = graded["release"], graded["instructor"]
    assert [c.cell_type for c in release.cells] == [c.cell_type for c in instructor.cells]
    for cell in release.cells:
        assert "BEGIN SOLUTION" not in cell.source and "BEGIN HIDDEN TESTS" not in cell.source
        if _is_solution(cell) and cell.cell_type == "code":
            assert "# YOUR CODE HERE" in cell.source and "____" in cell.source  # nbgrader_config code_stub
    assert _points(release) == _points(instructor)


def test_instructor_copy_gets_full_marks(graded):
    points = _points(graded["instructor"])
    assert points, "the notebook has no graded test cell"
    got = graded["scores"]["full"]
    assert got == {gid: (p, p) for gid, p in points.items()}


def test_blank_student_version_scores_zero(graded):
    got = graded["scores"]["blank"]
    assert got == {gid: (0.0, p) for gid, p in _points(graded["instructor"]).items()}
    for cell in graded["autograded"]["blank"].cells:          # graded, not crashed: all ran
        if cell.cell_type == "code":
            assert cell.execution_count is not None


def test_tampered_test_cells_are_restored(graded):
    instructor = graded["instructor"]
    restored = graded["autograded"]["tamper"]
    for orig, cell in zip(instructor.cells, restored.cells):
        if _is_grade(orig):
            assert cell.source == orig.source           # original (incl. hidden) tests are back
    tamper, loop = graded["scores"]["tamper"], graded["scores"]["loop"]
    # Both submissions define nothing in the first answer cell, so restored tests must give
    # identical scores; "pass" test cells would have given full marks.
    assert tamper == loop
    assert sum(s for s, _ in tamper.values()) < sum(_points(instructor).values())


def test_endless_loop_times_out_and_notebook_is_still_graded(graded):
    nb = graded["autograded"]["loop"]
    first = _first_solution_index(graded["instructor"])
    errors = [o for o in nb.cells[first].outputs if o.output_type == "error"]
    assert errors, "the endless-loop cell should have an error output"
    assert errors[-1].ename in ("CellTimeoutError", "KeyboardInterrupt")
    later = [c for c in nb.cells[first + 1:] if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in later), "cells after the loop not run"
    assert set(graded["scores"]["loop"]) == set(_points(graded["instructor"]))
    # the rest of the class was graded in the same run
    assert set(graded["scores"]) == set(STUDENTS)


def test_example_expected_scores(graded):
    if graded["src"].name != "exercise_example.ipynb":
        pytest.skip("exact expectations are known for the worked example only")
    # ex1 (2 + 1 points) depends on the first answer, q1 (1 point) does not.
    expected = {"ex1_values": (0.0, 2.0), "ex1_inputs": (0.0, 1.0), "q1_tests": (1.0, 1.0)}
    assert graded["scores"]["tamper"] == expected
    assert graded["scores"]["loop"] == expected
    # the hidden block really ran during autograding: ex1_values shows the visible and the hidden verdict
    cell = next(c for c in graded["autograded"]["full"].cells if _nbg(c).get("grade_id") == "ex1_values")
    texts = [o.data["text/plain"] for o in cell.outputs if o.output_type == "display_data"]
    assert len(texts) == 2 and all(t.startswith("Correct") for t in texts), texts
    assert "also correct on other inputs" in texts[1]


def test_feedback_hides_hidden_tests(graded):
    cells = [c for c in graded["instructor"].cells if _is_grade(c)
             and "BEGIN HIDDEN TESTS" in c.source]
    if not cells:
        pytest.skip("notebook has no hidden tests")
    all_visible = set()
    for cell in graded["instructor"].cells:
        all_visible.update(_hidden_and_visible_lines(cell.source)[1])
    for student in STUDENTS:
        text = _html_text(graded["feedback"][student])
        for cell in cells:
            hidden, visible = _hidden_and_visible_lines(cell.source)
            distinctive = [h for h in hidden if h not in all_visible and len(h) > 8]
            assert distinctive, "hidden test block has no line distinguishable from visible code"
            assert any(v in text for v in visible if len(v) > 8), "visible test not found"
            leaked = [h for h in distinctive if h in text]
            assert not leaked, f"hidden tests leaked into {student}'s feedback: {leaked}"


def test_export_csv_scores(graded):
    total = sum(_points(graded["instructor"]).values())   # auto-graded (code) cells
    # written answers (markdown cells with grade=True) count in max_score, and score only once an
    # instructor has graded them by hand (formgrader): 0 until then
    written = sum(float(_nbg(c)["points"]) for c in graded["instructor"].cells
                  if c.cell_type == "markdown" and _nbg(c).get("grade"))
    rows = graded["csv"]
    assert set(rows) == set(STUDENTS)
    for student in STUDENTS:
        row = rows[student]
        assert row["assignment"] == ASSIGNMENT
        assert float(row["max_score"]) == total + written
        expected = sum(s for s, _ in graded["scores"][student].values())
        assert float(row["score"]) == pytest.approx(expected)
    assert float(rows["full"]["score"]) == total
    assert float(rows["blank"]["score"]) == 0.0

