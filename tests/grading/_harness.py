"""Grading-consistency harness: build submissions from tests/grading/<lesson>.py, autograde them
with nbgrader in ONE run per notebook, and read back scores, visible verdicts and feedback HTML.

See tests/grading/README.md for the submission format.
"""

from __future__ import annotations

import copy
import html
import importlib.util
import re
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
GRADING = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "tools"))

from _common import run_nbgrader  # noqa: E402
from generate_student import generate  # noqa: E402

ASSIGNMENT = "grading"
BLANK = "<blank>"
VERDICTS = ("correct", "incorrect", "not_attempted")


def spec_files():
    return sorted(p for p in GRADING.glob("*.py") if not p.name.startswith("_"))


def load_spec(path):
    spec = importlib.util.spec_from_file_location(f"grading_spec_{Path(path).stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_instructor(notebook):
    path = REPO / notebook
    if path.suffix == ".py":
        import jupytext

        nb = jupytext.read(path)
        nb.metadata.pop("jupytext", None)
        return nb, path.stem + ".ipynb"
    return nbformat.read(path, as_version=4), path.name


def nbg(cell):
    return cell.metadata.get("nbgrader", {})


def graded_code_cells(nb):
    """grade_id -> points of the auto-graded (code, non-solution) cells."""
    return {nbg(c)["grade_id"]: float(nbg(c)["points"]) for c in nb.cells
            if c.cell_type == "code" and nbg(c).get("grade") and not nbg(c).get("solution")}


def exercise_of(grade_id):
    return grade_id.split("_")[0]


def hidden_lines(nb):
    """Non-trivial lines between BEGIN/END HIDDEN TESTS in any cell of the instructor notebook."""
    out = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 8:
                out.append(" ".join(line.split()))
    return out


def build_submissions(spec, instructor, release):
    """name -> (student id, notebook). "solution" and "blank" are always added."""
    by_id_release = {nbg(c).get("grade_id"): c for c in release.cells if nbg(c).get("grade_id")}
    solution = copy.deepcopy(release)
    for cell, icell in zip(solution.cells, instructor.cells):
        if nbg(icell).get("solution"):
            cell.source = icell.source
    subs = {"solution": solution, "blank": copy.deepcopy(release)}
    for name, entry in spec.SUBMISSIONS.items():
        nb = copy.deepcopy(solution)
        unknown = set(entry["answers"]) - set(by_id_release)
        if unknown:
            raise KeyError(f"{spec.__name__}: {name!r}: unknown grade_id(s) {sorted(unknown)}")
        for cell in nb.cells:
            gid = nbg(cell).get("grade_id")
            if gid in entry["answers"]:
                if not nbg(cell).get("solution"):
                    raise ValueError(f"{name!r}: {gid} is not an answer cell")
                text = entry["answers"][gid]
                cell.source = by_id_release[gid].source if text == BLANK else text.strip("\n")
        subs[name] = nb
    for nb in subs.values():
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
    return {name: (f"s{i:02d}", nb) for i, (name, nb) in enumerate(subs.items())}


def expected(spec, name, points):
    """grade_id -> (score, verdict, message substring or None) expected for submission ``name``."""
    if name == "blank":
        return {g: (0.0, "not_attempted", None) for g in points}
    entry = {} if name == "solution" else spec.SUBMISSIONS[name]["expect"]
    out = {}
    for g, p in points.items():
        e = entry.get(g, (p, "correct"))
        out[g] = (float(e[0]), e[1], e[2] if len(e) > 2 else None)
    unknown = set(entry) - set(points)
    if unknown:
        raise KeyError(f"{name!r}: expectations for unknown graded cells {sorted(unknown)}")
    return out


def visible_verdict(cell):
    """(verdict, text) of the FIRST check in an autograded test cell: the visible check, whose
    verdict is what the learner sees interactively (same code, same inputs; only the display
    differs by mode). ("missing", "") when the cell shows no verdict."""
    for out in cell.get("outputs", []):
        if out.output_type == "display_data":
            meta = out.get("metadata", {}).get("dlteach", {})
            if "verdict" in meta:
                return meta["verdict"], out.data.get("text/plain", "")
        if out.output_type == "error":
            kind = {"ExerciseIncorrect": "incorrect", "ExerciseNotAttempted": "not_attempted"}
            return kind.get(out.ename, f"error:{out.ename}"), out.evalue
    return "missing", ""


def output_text(cell):
    """All text of a cell's outputs (streams, text/plain, error name, value and traceback)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts += [out.ename, out.evalue, *out.traceback]
        else:
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def html_text(path):
    text = Path(path).read_text(encoding="utf-8")
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    text = re.sub(r"<[^>]+>", "", text)
    return " ".join(html.unescape(text).split())


def run(spec, workdir):
    """Autograde every submission of ``spec`` in one nbgrader run; return the results."""
    instructor, filename = read_instructor(spec.NOTEBOOK)
    workdir = Path(workdir)
    src = workdir / "instructor" / filename
    src.parent.mkdir(parents=True)
    nbformat.write(instructor, src)
    course = workdir / "course"
    generate([src], out_dir=None, assignment=ASSIGNMENT, course_dir=course)
    release = nbformat.read(course / "release" / ASSIGNMENT / filename, as_version=4)
    subs = build_submissions(spec, instructor, release)
    for student, nb in subs.values():
        dest = course / "submitted" / student / ASSIGNMENT
        dest.mkdir(parents=True)
        nbformat.write(nb, dest / filename)
    run_nbgrader(["autograde", ASSIGNMENT, "--force"], course)
    run_nbgrader(["generate_feedback", ASSIGNMENT, "--force"], course)

    from nbgrader.api import Gradebook

    points = graded_code_cells(instructor)
    results = {}
    stem = Path(filename).stem
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="dlteach") as gb:
        for name, (student, _) in subs.items():
            sub = gb.find_submission_notebook(stem, ASSIGNMENT, student)
            scores = {g.name: g.score for g in sub.grades if g.name in points}
            graded = nbformat.read(course / "autograded" / student / ASSIGNMENT / filename, 4)
            verdicts = {nbg(c)["grade_id"]: visible_verdict(c) for c in graded.cells
                        if nbg(c).get("grade_id") in points}
            outputs = {nbg(c)["grade_id"]: output_text(c) for c in graded.cells
                       if nbg(c).get("grade_id") in points}
            feedback = course / "feedback" / student / ASSIGNMENT / f"{stem}.html"
            results[name] = {"scores": scores, "verdicts": verdicts, "feedback": html_text(feedback),
                             "graded_outputs": outputs,
                             "expected": expected(spec, name, points)}
    return {"points": points, "hidden": hidden_lines(instructor), "results": results,
            "instructor": instructor, "release": release}
