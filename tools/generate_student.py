#!/usr/bin/env python
"""Generate the student notebooks ``notebooks/student/NN_name.ipynb`` with nbgrader.

The instructor notebooks ``notebooks/NN_name.ipynb`` (solutions, hidden tests) are copied into a
course directory ``source/<assignment>/``, ``nbgrader generate_assignment`` produces
``release/<assignment>/``, and the release notebooks are written to ``notebooks/student/`` in a
normalised, deterministic form (nbformat's sorted-key JSON, no outputs, no execution counts), so
that a test can regenerate them and compare.

    python tools/generate_student.py                  # all lessons -> notebooks/student/
    python tools/generate_student.py --check          # exit 1 if notebooks/student/ is stale
    python tools/generate_student.py notebooks/03_*.ipynb
    python tools/generate_student.py --course-dir course --assignment week03 notebooks/03_*.ipynb
        # keep a real course directory (gradebook.db, release/) for grading with nbgrader

The course directory is temporary unless ``--course-dir`` is given. nbgrader must be installed
(``pip install -e '.[instructor]'``); its ``alembic`` call needs the venv's ``bin/`` on PATH,
which this script arranges.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import STUDENT_DIR, lesson_notebooks, run_nbgrader, write_course_config  # noqa: E402

DEFAULT_ASSIGNMENT = "lessons"


def normalize(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Deterministic student notebook: no outputs/counts, no volatile per-run metadata."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)      # nbclient timing
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)
    nb.metadata.pop("widgets", None)               # widget state of an executed notebook
    return nb


def generate(notebooks: list[Path], out_dir: Path | None = STUDENT_DIR,
             assignment: str = DEFAULT_ASSIGNMENT, course_dir: Path | None = None,
             config_overrides: dict | None = None) -> dict[str, str]:
    """Generate student versions of ``notebooks``; return {file name: notebook JSON text}.

    Writes them into ``out_dir`` unless it is None. ``course_dir`` keeps the nbgrader course
    directory (otherwise a temporary one is used and deleted).
    """
    notebooks = [Path(p) for p in notebooks]
    if not notebooks:
        return {}
    names = [p.name for p in notebooks]
    if len(set(names)) != len(names):
        raise SystemExit(f"duplicate notebook names: {names}")
    tmp = None
    if course_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="dlteach-course-")
        course = Path(tmp.name)
    else:
        course = Path(course_dir).resolve()
    try:
        write_course_config(course, **(config_overrides or {}))
        source = course / "source" / assignment
        if source.exists():
            shutil.rmtree(source)
        source.mkdir(parents=True)
        for nb_path in notebooks:
            shutil.copy2(nb_path, source / nb_path.name)
        run_nbgrader(["generate_assignment", assignment, "--force"], course)
        result = {}
        for nb_path in notebooks:
            released = course / "release" / assignment / nb_path.name
            nb = nbformat.read(released, as_version=4)
            result[nb_path.name] = nbformat.writes(normalize(nb), version=4)
    finally:
        if tmp is not None:
            tmp.cleanup()
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, text in result.items():
            (out_dir / name).write_text(text, encoding="utf-8")
    return result


def signature(nb_text_or_node) -> dict:
    """What must match between a committed and a regenerated student notebook."""
    nb = (nbformat.reads(nb_text_or_node, as_version=4) if isinstance(nb_text_or_node, str)
          else nb_text_or_node)
    nb = normalize(nb)
    return {
        "metadata": json.loads(json.dumps(nb.metadata)),
        "cells": [
            {"cell_type": c.cell_type, "source": c.source,
             "metadata": json.loads(json.dumps(c.metadata))}
            for c in nb.cells
        ],
    }


def stale(notebooks: list[Path], student_dir: Path = STUDENT_DIR) -> list[str]:
    """Names of committed student notebooks that differ from a fresh generation (or are missing,
    or have no instructor source)."""
    fresh = generate(notebooks, out_dir=None)
    problems = []
    for name, text in fresh.items():
        committed = Path(student_dir) / name
        if not committed.exists():
            problems.append(f"{name}: missing in {student_dir}")
        elif signature(committed.read_text(encoding="utf-8")) != signature(text):
            problems.append(f"{name}: out of date")
    for orphan in sorted(Path(student_dir).glob("*.ipynb")):
        if orphan.name not in fresh:
            problems.append(f"{orphan.name}: no instructor notebook notebooks/{orphan.name}")
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path,
                    help="instructor notebooks (default: notebooks/NN_*.ipynb)")
    ap.add_argument("--out", type=Path, default=STUDENT_DIR, help="output directory")
    ap.add_argument("--assignment", default=DEFAULT_ASSIGNMENT, help="nbgrader assignment id")
    ap.add_argument("--course-dir", type=Path, default=None,
                    help="keep this nbgrader course directory instead of a temporary one")
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if the committed student notebooks are stale")
    args = ap.parse_args(argv)
    notebooks = args.notebooks or lesson_notebooks()
    if not notebooks:
        print("no instructor notebooks found (notebooks/NN_*.ipynb)")
        return 0
    if args.check:
        problems = stale(notebooks, args.out)
        for p in problems:
            print(p)
        if problems:
            print("run: python tools/generate_student.py")
        return 1 if problems else 0
    written = generate(notebooks, args.out, args.assignment, args.course_dir)
    for name in written:
        print(f"wrote {Path(args.out) / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
