"""The generated student notebooks: up to date, clean, and runnable "as Binder would install it".

* Staleness: ``notebooks/student/NN_name.ipynb`` must equal a fresh ``tools/generate_student.py``
  run (cell types, sources and metadata; outputs/execution counts/timings ignored). Fix with
  ``python tools/generate_student.py``.
* Binder (marked ``binder``, slow): a fresh virtual environment gets ONLY
  ``pip install -r binder/requirements.txt`` run from the repository root (what repo2docker
  does), then every student notebook's non-exercise cells are executed with a kernel from that
  environment. Skipped cells: nbgrader solution cells, nbgrader test (grade) cells, and cells
  marked ``"metadata": {"dlteach": {"requires_solutions": true}}`` (cells that call a function the
  learner writes). Wheels are cached in ``$DLTEACH_WHEEL_CACHE`` (default
  ``~/.cache/dlteach/binder-wheels``): the first run downloads them from PyPI (``pip wheel``),
  later runs install offline with ``--no-index --find-links``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

from _common import STUDENT_DIR, example_notebook, lesson_notebooks  # noqa: E402

EXAMPLE = "exercise_example.ipynb"  # the worked example (tests/fixtures/exercise_example.py)
LESSONS = lesson_notebooks()
STUDENT_FILES = sorted(STUDENT_DIR.glob("*.ipynb"))
REQUIREMENTS = REPO / "binder" / "requirements.txt"
WHEEL_CACHE = Path(os.environ.get("DLTEACH_WHEEL_CACHE",
                                  Path.home() / ".cache" / "dlteach" / "binder-wheels"))


def _ids(paths):
    return [p.stem for p in paths]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    """Student versions of all lessons + the worked example, generated twice (two nbgrader runs)."""
    pytest.importorskip("nbgrader")
    from generate_student import generate

    notebooks = LESSONS + [example_notebook(tmp_path_factory.mktemp("example"))]
    return generate(notebooks, out_dir=None), generate(notebooks, out_dir=None)


def test_generation_is_deterministic(regenerated):
    first, second = regenerated
    assert set(first) == {p.name for p in LESSONS} | {EXAMPLE}
    for name in first:
        assert first[name] == second[name], f"{name}: two generations differ"


@pytest.mark.parametrize("lesson", LESSONS, ids=_ids(LESSONS))
def test_committed_student_notebook_is_current(lesson, regenerated):
    from generate_student import signature

    committed = STUDENT_DIR / lesson.name
    assert committed.exists(), f"{committed} missing: run python tools/generate_student.py"
    fresh = regenerated[0][lesson.name]
    assert signature(committed.read_text(encoding="utf-8")) == signature(fresh), (
        f"{committed} is stale: run python tools/generate_student.py")


def test_every_student_notebook_has_an_instructor_source():
    orphans = [p.name for p in STUDENT_FILES if not (REPO / "notebooks" / p.name).exists()]
    assert not orphans, f"student notebooks without notebooks/<name>: {orphans}"


def _check_clean(nb, name):
    for cell in nb.cells:
        assert "BEGIN SOLUTION" not in cell.source, f"{name}: solution left in the student copy"
        assert "HIDDEN TESTS" not in cell.source, f"{name}: hidden tests in the student copy"
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs left"
        nbg = cell.metadata.get("nbgrader", {})
        if nbg.get("solution") and cell.cell_type == "code":
            assert "# YOUR CODE HERE" in cell.source and "____" in cell.source  # nbgrader_config code_stub


@pytest.mark.parametrize("path", STUDENT_FILES, ids=_ids(STUDENT_FILES))
def test_committed_student_notebook_is_clean(path):
    _check_clean(nbformat.read(path, as_version=4), path.name)


def test_example_student_version_is_clean(regenerated):
    _check_clean(nbformat.reads(regenerated[0][EXAMPLE], as_version=4), EXAMPLE)


# ---------------------------------------------------------------------------------------------
# Binder: fresh venv from binder/requirements.txt only
# ---------------------------------------------------------------------------------------------
def _run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


def _pip(python, *args):
    return _run([python, "-m", "pip", "--disable-pip-version-check", *args], cwd=REPO)


@pytest.fixture(scope="module")
def binder_kernel(tmp_path_factory):
    """(kernel name, JUPYTER_PATH dir, python, seconds) for a venv built like Binder builds it."""
    root = tmp_path_factory.mktemp("binder")
    env_dir = root / "venv"
    t0 = time.perf_counter()
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    # cwd=REPO: like repo2docker, which runs pip in the repository root ("." = the repo)
    # --no-compile: byte-compiling numpy/matplotlib/IPython is ~3/4 of the install time here
    install = ["install", "--no-compile", "--no-index", "--find-links", WHEEL_CACHE,
               "-r", REQUIREMENTS]
    proc = _pip(python, *install)
    if proc.returncode != 0:  # cache empty or outdated: fill it from PyPI once
        fill = _pip(python, "wheel", "--wheel-dir", WHEEL_CACHE, "-r", REQUIREMENTS)
        build = _pip(python, "download", "--dest", WHEEL_CACHE, "setuptools>=68", "wheel")
        for stale in WHEEL_CACHE.glob("dlteach-*.whl"):  # always built fresh from the tree
            stale.unlink()
        assert fill.returncode == 0 and build.returncode == 0, (
            f"could not fill the wheel cache {WHEEL_CACHE}:\n{fill.stderr}\n{build.stderr}")
        proc = _pip(python, *install)
    assert proc.returncode == 0, f"pip install -r binder/requirements.txt failed:\n{proc.stderr}"
    seconds = time.perf_counter() - t0

    kernels = root / "jupyter" / "kernels" / "dlteach-binder"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "dlteach Binder venv",
        "language": "python",
        # the kernel must use the installed package, never the working tree
        "env": {"PYTHONPATH": "", "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
    }))
    print(f"\nBinder venv built in {seconds:.1f} s (wheel cache {WHEEL_CACHE})")
    return "dlteach-binder", root / "jupyter", python, seconds


def _binder_cells(nb):
    keep = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        nbg = cell.metadata.get("nbgrader", {})
        if nbg.get("solution") or nbg.get("grade"):
            continue
        if cell.metadata.get("dlteach", {}).get("requires_solutions"):
            continue
        keep.append(cell)
    return keep


def _student_versions():
    """(id, path or None) of the notebooks to run: committed student notebooks + the worked example."""
    return [(p.stem, p) for p in STUDENT_FILES] + [("exercise_example", None)]


@pytest.mark.binder
@pytest.mark.parametrize("name, path", _student_versions(), ids=[n for n, _ in _student_versions()])
def test_binder_environment_runs_student_notebooks(name, path, binder_kernel, tmp_path,
                                                   monkeypatch, request):
    from nbclient import NotebookClient

    kernel_name, jupyter_path, python, _ = binder_kernel
    if path is None:  # the example: generate its student version (no committed copy)
        text = request.getfixturevalue("regenerated")[0][EXAMPLE]
        path = tmp_path / EXAMPLE
        path.write_text(text, encoding="utf-8")
    nb = nbformat.read(path, as_version=4)
    cells = _binder_cells(nb)
    assert cells, f"{name}: no non-exercise code cell to run"
    probe = nbformat.v4.new_code_cell("import dlteach, sys\nprint(dlteach.__file__)")
    run_nb = nbformat.v4.new_notebook(cells=cells + [probe], metadata=nb.metadata)
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))
    NotebookClient(run_nb, kernel_name=kernel_name, timeout=600, allow_errors=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    site = str(python.parent.parent)
    where = run_nb.cells[-1].outputs[0].text.strip()
    assert where.startswith(site), f"dlteach imported from {where}, not from the Binder venv"


# ---------------------------------------------------------------------------------------------
# nbval configuration (notebooks/conftest.py + notebooks/nbval_sanitize.cfg)
# ---------------------------------------------------------------------------------------------
def _nbval(directory, *args):
    return _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval",
                 "--nbval-current-env", "-c", directory / "pytest.ini", "--rootdir", directory,
                 *args], cwd=directory)


def test_nbval_conftest_sanitizes_outputs_and_skips_student_copies(tmp_path):
    pytest.importorskip("nbval")
    from execute_notebooks import execute

    nbdir = tmp_path / "notebooks"
    (nbdir / "student").mkdir(parents=True)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import warnings\nwarnings.warn('check your learning rate')"),
        nbformat.v4.new_code_cell("object()"),
        nbformat.v4.new_code_cell("print(6 * 7)"),
    ])
    nbformat.write(nb, nbdir / "01_demo.ipynb")
    execute(nbdir / "01_demo.ipynb")           # outputs recorded by another kernel process
    stored = nbformat.read(nbdir / "01_demo.ipynb", as_version=4)
    assert "ipykernel_" in stored.cells[0].outputs[0].text and "0x" in str(stored.cells[1].outputs)
    student = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "raise NotImplementedError()")])
    nbformat.write(student, nbdir / "student" / "01_demo.ipynb")

    # control: without the conftest, strict nbval reports the pid/address differences
    # (and collects the failing student copy)
    bare = _nbval(tmp_path, nbdir)
    assert bare.returncode != 0
    assert "3 failed" in bare.stdout and "student" in bare.stdout, bare.stdout

    for name in ("conftest.py", "nbval_sanitize.cfg"):
        (nbdir / name).write_text((REPO / "notebooks" / name).read_text())
    sanitized = _nbval(tmp_path, nbdir)
    assert sanitized.returncode == 0, sanitized.stdout + sanitized.stderr
    assert "3 passed" in sanitized.stdout
