#!/usr/bin/env python
"""Run notebooks in fresh kernels and report wall time, slowest cell and the kernel's peak RSS.

    python tools/profile_notebooks.py                     # all notebooks/NN_*.ipynb
    python tools/profile_notebooks.py notebooks/03_*.ipynb --json profile.json

Peak RSS is the kernel process's own high-water mark, read with ``resource.getrusage`` in a cell
appended after the notebook's last cell (exact, no polling; Linux reports it in KiB). mybinder.org
guarantees 1 GB and kills kernels above 2 GB, so a notebook above ~800 MB is flagged. Nothing is
written back to the notebooks.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KERNEL_NAME, lesson_notebooks, use_tool_env  # noqa: E402

BINDER_BUDGET_MB = 800.0
_PROBE = ("import resource as _r, sys as _s\n"
          "_k = 1 if _s.platform != 'darwin' else 1024\n"
          "print('DLTEACH_PEAK_RSS_KIB', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss // _k)")


def _cell_seconds(cell):
    ex = cell.metadata.get("execution", {})
    start, end = ex.get("iopub.status.busy"), ex.get("shell.execute_reply")
    if not start or not end:
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def profile(path: Path, timeout: int = 1800) -> dict:
    """Execute ``path`` in a fresh "python3" kernel; return the measurements."""
    use_tool_env()
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    nb.cells.append(nbformat.v4.new_code_cell(_PROBE))
    client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL_NAME, record_timing=True,
                            resources={"metadata": {"path": str(path.parent)}})
    status = "ok"
    t0 = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as err:
        first_line = str(err).strip().splitlines()[-1][:80] if str(err).strip() else "error"
        status = f"error: {first_line}"
    wall = time.perf_counter() - t0
    peak_kib = None
    for out in nb.cells[-1].get("outputs", []):
        for line in out.get("text", "").splitlines():
            if line.startswith("DLTEACH_PEAK_RSS_KIB"):
                peak_kib = int(line.split()[1])
    times = [(_cell_seconds(c), i) for i, c in enumerate(nb.cells[:-1]) if c.cell_type == "code"]
    times = [(t, i) for t, i in times if t is not None]
    slowest = max(times) if times else (None, None)
    return {
        "notebook": path.name,
        "code_cells": n_code,
        "wall_s": round(wall, 2),
        "slowest_cell_s": None if slowest[0] is None else round(slowest[0], 2),
        "slowest_cell_index": slowest[1],
        "peak_rss_mb": None if peak_kib is None else round(peak_kib / 1024, 1),
        "status": status,
    }


def format_table(rows: list[dict]) -> str:
    head = (f"{'notebook':<36} {'cells':>5} {'wall [s]':>9} {'slowest cell [s]':>18} "
            f"{'peak RSS [MB]':>14}  status")
    lines = [head, "-" * len(head)]
    for r in rows:
        slow = ("-" if r["slowest_cell_s"] is None
                else f"{r['slowest_cell_s']:.2f} (#{r['slowest_cell_index']})")
        rss = "-" if r["peak_rss_mb"] is None else f"{r['peak_rss_mb']:.1f}"
        flag = ("  > Binder budget" if r["peak_rss_mb"] and r["peak_rss_mb"] > BINDER_BUDGET_MB
                else "")
        lines.append(f"{r['notebook']:<36} {r['code_cells']:>5} {r['wall_s']:>9.2f} "
                     f"{slow:>18} {rss:>14}  {r['status']}{flag}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path,
                    help="notebooks to profile (default: notebooks/NN_*.ipynb)")
    ap.add_argument("--timeout", type=int, default=1800, help="per-cell timeout in seconds")
    ap.add_argument("--json", type=Path, help="also write the measurements as JSON")
    args = ap.parse_args(argv)
    notebooks = args.notebooks or lesson_notebooks()
    rows = [profile(p, args.timeout) for p in notebooks]
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
