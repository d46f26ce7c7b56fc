"""Each lesson has one source: ``notebooks/NN_name.py`` (py:percent) paired with the executed
instructor notebook ``notebooks/NN_name.ipynb`` through jupytext (tools/sync_lessons.py).

These tests fail when a pair is out of sync (someone edited one file and did not run
``python tools/sync_lessons.py``), and prove that the pairing keeps what nbgrader and dlteach need.
"""

from __future__ import annotations

import copy
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
import nbformat  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _sync():
    spec = importlib.util.spec_from_file_location("sync_lessons", REPO / "tools" / "sync_lessons.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(REPO / "tools"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO / "tools"))
    return module


sync = _sync()


def test_every_lesson_has_a_text_twin_and_no_orphans():
    assert LESSONS, "no lesson notebooks found"
    pys = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    assert [p.stem for p in pys] == [p.stem for p in LESSONS]
    assert not (REPO / "tools" / "lessons").exists(), "the string-literal lesson builders are gone"


@pytest.mark.parametrize("ipynb", LESSONS, ids=lambda p: p.stem)
def test_pair_in_sync(ipynb):
    diff = sync.differences(ipynb)
    assert not diff, ("notebook and text twin differ; edit notebooks/NN_name.py and run "
                      "python tools/sync_lessons.py\n" + "\n".join(diff[:40]))


def _cells(nb):
    return [(c.cell_type, c.source, {k: v for k, v in c.metadata.items() if k != "execution"})
            for c in nb.cells]


@pytest.mark.parametrize("ipynb", LESSONS, ids=lambda p: p.stem)
def test_text_twin_round_trips_nbgrader_dlteach_metadata_and_tags(ipynb):
    nb = nbformat.read(ipynb, as_version=4)
    back = jupytext.reads(sync.to_text(nb), fmt="py:percent")
    assert _cells(back) == _cells(nb)
    assert back.metadata["dlteach"] == nb.metadata["dlteach"]
    assert any("nbgrader" in c.metadata for c in nb.cells)


def test_check_detects_changed_source_and_changed_metadata(tmp_path):
    src = LESSONS[0]
    ipynb = tmp_path / src.name
    shutil.copy(src, ipynb)
    shutil.copy(src.with_suffix(".py"), ipynb.with_suffix(".py"))
    assert sync.differences(ipynb) == []

    nb = nbformat.read(ipynb, as_version=4)
    graded = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    changed = copy.deepcopy(nb)
    next(c for c in changed.cells if c.get("id") == graded.get("id")).metadata["nbgrader"]["points"] = 99
    nbformat.write(changed, ipynb)
    assert any("99" in line for line in sync.differences(ipynb))

    nbformat.write(nb, ipynb)
    py = ipynb.with_suffix(".py")
    py.write_text(py.read_text(encoding="utf-8").replace("import numpy as np", "import numpy as npx", 1),
                  encoding="utf-8")
    assert any("npx" in line for line in sync.differences(ipynb))


def test_py_to_ipynb_keeps_outputs_and_ids_of_unchanged_cells(tmp_path):
    src = LESSONS[0]
    ipynb = tmp_path / src.name
    shutil.copy(src, ipynb)
    py = ipynb.with_suffix(".py")
    text = src.with_suffix(".py").read_text(encoding="utf-8")
    py.write_text(text.replace("# %% [markdown]", "# %% [markdown]\n# An added remark.\n\n# %% [markdown]", 1),
                  encoding="utf-8")
    before = nbformat.read(ipynb, as_version=4)
    sync.py_to_ipynb(py)
    after = nbformat.read(ipynb, as_version=4)
    assert len(after.cells) == len(before.cells) + 1
    assert sync.differences(ipynb) == []
    kept = {c.id: c for c in after.cells}
    for cell in before.cells:
        assert cell.id in kept
        assert kept[cell.id].metadata.get("nbgrader") == cell.metadata.get("nbgrader")
        if cell.cell_type == "code":
            assert kept[cell.id].outputs == cell.outputs
