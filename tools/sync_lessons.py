#!/usr/bin/env python
"""Keep each lesson's two files in sync: ``notebooks/NN_name.py`` (py:percent, THE source) and
``notebooks/NN_name.ipynb`` (the executed instructor notebook: same cells + outputs).

    python tools/sync_lessons.py                     # .py -> .ipynb for every lesson (outputs kept)
    python tools/sync_lessons.py notebooks/03_*.py   # only these lessons
    python tools/sync_lessons.py --check             # exit 1 (with a diff) if a pair differs
    python tools/sync_lessons.py --from-ipynb notebooks/03_*.ipynb
        # .ipynb -> .py, after editing the .ipynb in a Jupyter WITHOUT jupytext

The pairing is configured in ``notebooks/jupytext.toml`` (``formats = "ipynb,py:percent"``): with
jupytext installed (instructor/test extras), JupyterLab writes both files on every save, and
``jupytext --sync notebooks/NN_name.py`` does the same job from the command line (it takes the newer
file as the source; this script always takes the .py unless ``--from-ipynb``).

Cells keep their nbgrader metadata (``metadata.nbgrader``), dlteach's (``metadata.dlteach``) and
their tags in the .py cell headers; the notebook's ``dlteach`` metadata and kernelspec go into the
.py header. Cells whose text did not change keep their outputs and ids in the .ipynb; after an edit
re-execute the notebook (``python tools/execute_notebooks.py notebooks/NN_name.ipynb``) so that
the outputs match the text again (nbval checks that).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

import jupytext
import nbformat
from jupytext.combine import combine_inputs_with_outputs
from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import NOTEBOOK_DIR, lesson_notebooks  # noqa: E402

TEXT_FORMAT = "py:percent"


def config():
    """The jupytext configuration of notebooks/ (notebooks/jupytext.toml)."""
    return load_jupytext_configuration_file(find_jupytext_configuration_file(str(NOTEBOOK_DIR)))


def twin(path: Path) -> Path:
    """The other file of the pair: ``NN_name.py`` <-> ``NN_name.ipynb``."""
    path = Path(path)
    return path.with_suffix(".ipynb" if path.suffix == ".py" else ".py")


def to_text(nb: nbformat.NotebookNode) -> str:
    """The py:percent text of ``nb`` as jupytext writes it with the notebooks/ configuration."""
    return jupytext.writes(nb, fmt=TEXT_FORMAT, config=config())


def differences(ipynb: Path) -> list[str]:
    """Unified diff lines between ``NN_name.py`` and the text of ``NN_name.ipynb``; [] if in sync."""
    ipynb = Path(ipynb)
    py = twin(ipynb)
    if not py.exists():
        return [f"{py.name}: missing (run: python tools/sync_lessons.py --from-ipynb {ipynb})"]
    if not ipynb.exists():
        return [f"{ipynb.name}: missing (run: python tools/sync_lessons.py {py})"]
    expected = to_text(nbformat.read(ipynb, as_version=4))
    actual = py.read_text(encoding="utf-8")
    # compare what jupytext would write for both files (normalises the .py's formatting)
    actual = to_text(jupytext.reads(actual, fmt=TEXT_FORMAT))
    if actual == expected:
        return []
    return list(difflib.unified_diff(actual.splitlines(), expected.splitlines(),
                                     f"{py.name}", f"text of {ipynb.name}", lineterm="", n=1))


def py_to_ipynb(py: Path) -> Path:
    """Write ``NN_name.ipynb`` from ``NN_name.py``, keeping outputs and ids of unchanged cells."""
    py = Path(py)
    ipynb = twin(py)
    nb = jupytext.read(py, fmt=TEXT_FORMAT, config=config())
    if ipynb.exists():
        nb = combine_inputs_with_outputs(nb, nbformat.read(ipynb, as_version=4), fmt=TEXT_FORMAT)
    nb.metadata.pop("jupytext", None)   # the pairing lives in notebooks/jupytext.toml
    nbformat.validate(nb)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise SystemExit(f"{py}: duplicate nbgrader grade_ids {dup}")
    nbformat.write(nb, ipynb)
    return ipynb


def ipynb_to_py(ipynb: Path) -> Path:
    ipynb = Path(ipynb)
    py = twin(ipynb)
    py.write_text(to_text(nbformat.read(ipynb, as_version=4)), encoding="utf-8")
    return py


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path, help="lesson files (default: every notebooks/NN_*)")
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 if a pair differs")
    ap.add_argument("--from-ipynb", action="store_true", help="write the .py from the .ipynb")
    args = ap.parse_args(argv)
    lessons = [Path(f).with_suffix(".ipynb") for f in args.files] or lesson_notebooks()
    lessons += [p.with_suffix(".ipynb") for p in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
                if not args.files and p.with_suffix(".ipynb") not in lessons]
    if args.check:
        bad = 0
        for ipynb in lessons:
            diff = differences(ipynb)
            if diff:
                bad += 1
                print("\n".join(diff[:60]))
        if bad:
            print(f"{bad} lesson pair(s) out of sync: edit notebooks/NN_name.py, then run "
                  "python tools/sync_lessons.py")
        return 1 if bad else 0
    for ipynb in lessons:
        if args.from_ipynb:
            print(f"wrote {ipynb_to_py(ipynb)}")
        else:
            print(f"wrote {py_to_ipynb(twin(ipynb))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
