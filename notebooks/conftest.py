"""pytest/nbval configuration for the lesson notebooks.

Run the instructor notebooks in strict mode (outputs compared) with::

    pytest --nbval --nbval-current-env notebooks/[0-9]*.ipynb

* ``notebooks/student/`` is never collected: student versions raise NotImplementedError by design.
* The sanitize patterns of ``nbval_sanitize.cfg`` (kernel temp-file names in warnings, memory
  addresses) are applied automatically, no ``--nbval-sanitize-with`` needed.
* Kernels inherit ``OPENBLAS_NUM_THREADS=1`` (as tools/execute_notebooks.py runs them) and
  ``PYTHONPATH`` with the repository root first, so the notebooks import this checkout's
  ``dlteach`` even if it is not installed.

Cells whose output is a plot, a widget or a timing must carry ``# NBVAL_IGNORE_OUTPUT``; a cell
that demonstrates an error carries the cell tag ``raises-exception`` (honoured by nbval and by
nbclient in tools/execute_notebooks.py).
"""

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
SANITIZE_FILE = HERE / "nbval_sanitize.cfg"

collect_ignore = ["student"]
collect_ignore_glob = [".ipynb_checkpoints", "*/.ipynb_checkpoints"]

_parts = [str(HERE.parent)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(_parts))
# one BLAS thread per kernel, as tools/execute_notebooks.py executes them (see tools/_common.py)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def pytest_collectstart(collector):
    patterns = getattr(collector, "sanitize_patterns", None)
    if patterns is None or not str(getattr(collector, "path", "")).endswith(".ipynb"):
        return
    from nbval.plugin import get_sanitize_patterns

    patterns.update(get_sanitize_patterns(SANITIZE_FILE.read_text(encoding="utf-8")))
