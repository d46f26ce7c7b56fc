"""Fixtures for end-to-end browser tests: a throw-away JupyterLab and a headless Chromium.

Reusable for lesson notebooks::

    def test_lesson(jupyterlab_server, lab_page):
        path = jupyterlab_server.add_notebook(NOTEBOOKS / "03_training_loop.ipynb")
        open_notebook(lab_page, jupyterlab_server, path)
        result = run_cell_and_stop(lab_page, cell_index=2)

Set ``DLTEACH_E2E_PYTHON=/path/to/python`` to run the kernels with another interpreter (used to
check the ipykernel 6 code path).  The browser is Debian's ``/usr/bin/chromium`` driven by python-playwright (never
``playwright install``).  Without it the tests skip, except when ``CI`` is set (then they fail).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("DLTEACH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _in_ci():
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_browser():
    """Skip (or fail under CI) when Chromium or python-playwright is missing."""
    problems = []
    if not Path(CHROMIUM).exists():
        problems.append(f"{CHROMIUM} not found (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("python-playwright is not installed (pip install playwright)")
    if problems:
        reason = "browser test needs " + "; ".join(problems)
        if _in_ci():
            pytest.fail(reason + " -- CI is set, so this is an error, not a skip.")
        pytest.skip(reason)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class JupyterLabServer:
    url: str
    root: Path
    process: subprocess.Popen
    log_path: Path
    extra: dict = field(default_factory=dict)

    def add_notebook(self, source: Path, name: str | None = None) -> str:
        """Copy a notebook into the server root; returns its path relative to the root."""
        name = name or Path(source).name
        shutil.copy(source, self.root / name)
        return name

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


@pytest.fixture(scope="session")
def jupyterlab_server():
    """A JupyterLab on 127.0.0.1:<free port>, no token, temp root; kernels import dlteach from the repo."""
    require_browser()
    tmp = Path(tempfile.mkdtemp(prefix="dlteach-e2e-"))
    root = tmp / "root"
    root.mkdir()
    port = _free_port()
    env = dict(os.environ)
    env.pop("DLTEACH_HEADLESS", None)  # the kernel must see a real front end
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["JUPYTER_RUNTIME_DIR"] = str(tmp / "runtime")
    env["JUPYTERLAB_SETTINGS_DIR"] = str(tmp / "settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(tmp / "workspaces")
    env["MPLBACKEND"] = "Agg"
    kernel_python = os.environ.get("DLTEACH_E2E_PYTHON")
    if kernel_python:  # run the notebooks' "python3" kernel from another environment (e.g. ipykernel 6)
        spec_dir = tmp / "data" / "kernels" / "python3"
        spec_dir.mkdir(parents=True)
        (spec_dir / "kernel.json").write_text(json.dumps({
            "argv": [kernel_python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (ipykernel)", "language": "python",
        }))
        env["JUPYTER_PATH"] = os.pathsep.join([str(tmp / "data"), env.get("JUPYTER_PATH", "")]).rstrip(os.pathsep)
    # No news/update popups over the notebook.
    settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
        "--LabApp.news_url=",
    ]
    log_path = tmp / "jupyterlab.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    server = JupyterLabServer(url=url, root=root, process=proc, log_path=log_path)
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{server.log()}")
            try:
                with urllib.request.urlopen(url + "/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start within 60 s:\n{server.log()}")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def chromium_browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def lab_page(chromium_browser):
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()


# ----------------------------------------------------------------------------- helpers


def open_notebook(page, server: JupyterLabServer, path: str, timeout=45_000):
    """Open a notebook in JupyterLab and wait until it is the current widget and its kernel is idle.

    ``?reset`` starts from an empty workspace: otherwise JupyterLab restores the notebooks an earlier
    test opened, and one of them may become the current widget.
    """
    page.goto(f"{server.url}/lab/tree/{path}?reset", timeout=timeout)
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=timeout)
    page.wait_for_function(
        """(path) => {
            const w = window.jupyterapp.shell.currentWidget;
            if (!w || !w.sessionContext || !w.content || !w.content.widgets) return false;
            if (!w.context || w.context.path !== path) return false;
            const k = w.sessionContext.session && w.sessionContext.session.kernel;
            return !!k && k.status === 'idle' && w.content.widgets.length > 0;
        }""",
        arg=path,
        timeout=timeout,
    )


def kernel_status(page) -> str:
    return page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
    )


def cell_locator(page, cell_index: int):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(cell_index)


def execution_count(page, cell_index: int):
    """Execution count of a code cell (None while queued/running or never run)."""
    return page.evaluate(
        "(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].model.executionCount",
        cell_index,
    )


def run_cell(page, cell_index: int):
    """Select cell `cell_index` and run it (returns immediately)."""
    page.evaluate(
        """(i) => {
            const panel = window.jupyterapp.shell.currentWidget;
            panel.content.activeCellIndex = i;
            void window.jupyterapp.commands.execute('notebook:run-cell');  // do not await completion
        }""",
        cell_index,
    )


def wait_cell_done(page, cell_index: int, timeout=60_000):
    """Wait until the cell has an execution count and the kernel is idle."""
    page.wait_for_function(
        """(i) => {
            const w = window.jupyterapp.shell.currentWidget;
            return w.content.widgets[i].model.executionCount !== null
                && w.sessionContext.session.kernel.status === 'idle';
        }""",
        arg=cell_index,
        timeout=timeout,
    )


def monitor_plot_src(page, cell_index: int):
    img = cell_locator(page, cell_index).locator(".dlteach-plot").first
    return img.get_attribute("src")


def run_cell_and_stop(page, cell_index: int, changes_before_stop=2, timeout=60_000):
    """Run a cell whose loop uses a trainingProgressMonitor, watch the plot, click Stop.

    Returns a dict: ``srcs`` (distinct plot image srcs seen while running), ``output_text``
    (the cell's text output after completion), ``execution_count`` and
    ``static_images`` (number of static PNGs left in the cell output).
    """
    t0 = time.monotonic()
    timings = {}
    run_cell(page, cell_index)
    cell = cell_locator(page, cell_index)
    plot = cell.locator("img.dlteach-plot").first
    plot.wait_for(state="visible", timeout=timeout)
    srcs = []

    def _new_src():
        src = plot.get_attribute("src")
        if src and (not srcs or srcs[-1] != src):
            srcs.append(src)
        return len(srcs)

    deadline = time.monotonic() + timeout / 1000
    while _new_src() < changes_before_stop + 1:
        assert execution_count(page, cell_index) is None, (
            "the cell finished before the plot changed -- make its loop longer"
        )
        if time.monotonic() > deadline:
            raise AssertionError(f"plot image did not change while the cell ran: {len(srcs)} srcs")
        page.wait_for_timeout(100)  # polling a condition, not a fixed sleep
    timings["plot_changed"] = time.monotonic() - t0
    still_running = execution_count(page, cell_index) is None
    cell.locator("button.dlteach-stop").click()
    timings["clicked"] = time.monotonic() - t0
    wait_cell_done(page, cell_index, timeout=timeout)
    timings["cell_done"] = time.monotonic() - t0
    cell.locator(".jp-OutputArea-output img:not(.dlteach-plot)").first.wait_for(
        state="visible", timeout=timeout
    )
    return {
        "srcs": srcs,
        "still_running_at_click": still_running,
        "output_text": cell.locator(".jp-OutputArea").inner_text(),
        "execution_count": execution_count(page, cell_index),
        "static_images": cell.locator(".jp-OutputArea-output img:not(.dlteach-plot)").count(),
        "kernel_status": kernel_status(page),
        "timings": timings,
    }


def execute_in_kernel(page, code: str, timeout=30_000) -> str:
    """Run ``code`` in the notebook's kernel directly (no cell); returns the reply status ("ok"/"error")."""
    return page.evaluate(
        """async ([code, timeout]) => {
            const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
            const future = k.requestExecute({code, silent: false, store_history: false});
            const reply = await Promise.race([
                future.done,
                new Promise((_, reject) => setTimeout(() => reject(new Error('kernel did not reply')), timeout)),
            ]);
            return reply.content.status;
        }""",
        [code, timeout],
    )


def run_cells(page, indices, timeout=120_000):
    """Run the given cells one after the other, each to completion; returns the error outputs seen."""
    errors = []
    for i in indices:
        run_cell(page, i)
        wait_cell_done(page, i, timeout=timeout)
        err = page.evaluate(
            """(i) => {
                const outputs = window.jupyterapp.shell.currentWidget.content.widgets[i].model.outputs;
                for (let j = 0; j < outputs.length; j++) {
                    const o = outputs.get(j);
                    if (o.type === 'error') return o.toJSON().ename + ': ' + o.toJSON().evalue;
                }
                return null;
            }""",
            i,
        )
        if err:
            errors.append((i, err))
    return errors


def strip_outputs(source: Path, dest: Path) -> Path:
    """Copy a notebook without outputs and execution counts (so 'cell finished' is unambiguous)."""
    import nbformat

    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, dest)
    return dest
