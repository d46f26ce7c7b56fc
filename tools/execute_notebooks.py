#!/usr/bin/env python
"""Execute instructor notebooks in place (fresh kernel each) so they can be committed with outputs.

    python tools/execute_notebooks.py                      # all notebooks/NN_*.ipynb
    python tools/execute_notebooks.py notebooks/02_*.ipynb --timeout 3600

* kernel: always "python3" (the interpreter running this script, i.e. the project venv); the
  notebook's kernelspec metadata is rewritten to the standard python3 one;
* working directory: the notebook's folder; the working tree is put first on PYTHONPATH so the
  checkout's ``dlteach`` is imported;
* seeds are the notebook's job (nbval compares outputs in strict mode);
* a cell that raises stops the run (nothing is written) unless it is tagged ``raises-exception``
  (nbval honours the same tag: use it for a deliberate error demonstration);
* per-run metadata (nbclient timings) is not recorded, so re-running a deterministic notebook
  gives a byte-identical file apart from images.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KERNEL_NAME, lesson_notebooks, use_tool_env  # noqa: E402

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": KERNEL_NAME}


def _coalesce_streams(outputs):
    """Merge consecutive stream outputs of the same name (how they are split depends on timing)."""
    merged = []
    for out in outputs:
        if (out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream"
                and merged[-1].get("name") == out.get("name")):
            merged[-1]["text"] += out["text"]
        else:
            merged.append(out)
    return merged


def execute(path: Path, timeout: int = 1800, write: bool = True) -> nbformat.NotebookNode:
    """Execute ``path`` in a fresh kernel; write it back (atomically) if ``write``."""
    use_tool_env()
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        allow_errors=False,
    )
    client.execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
    if write:
        tmp = path.with_suffix(".ipynb.tmp")
        nbformat.write(nb, tmp)
        tmp.replace(path)
    return nb


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path,
                    help="notebooks to execute (default: notebooks/NN_*.ipynb)")
    ap.add_argument("--timeout", type=int, default=1800, help="per-cell timeout in seconds")
    args = ap.parse_args(argv)
    notebooks = args.notebooks or lesson_notebooks()
    failed = 0
    for nb_path in notebooks:
        t0 = time.perf_counter()
        try:
            execute(nb_path, timeout=args.timeout)
        except CellExecutionError as err:
            failed += 1
            print(f"FAILED {nb_path} (not written):\n{err}")
            continue
        print(f"executed {nb_path} in {time.perf_counter() - t0:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
