"""Keep freed array memory in the process, so a training loop does not page-fault on every step.

A training step allocates and frees the same large arrays every iteration (im2col patch matrices,
activations, gradients, the updaters' new parameter arrays). glibc's malloc serves allocations above
its mmap threshold with fresh ``mmap`` pages and gives freed memory at the top of the heap back to the
system above its trim threshold; both adapt only up to a few times the largest freed block. With the
tens of MB a convolutional step churns through, the memory goes back to the system at the end of a
step and has to be faulted in (and zeroed by the kernel) again in the next one: measured on the CNN of
``benchmarks/bench_training_step.py``, that is about half of the step's time (17 ms vs 9 ms).

:func:`tune` raises both thresholds with ``mallopt``: blocks up to ``MMAP_THRESHOLD`` come from the
heap, and up to ``TRIM_THRESHOLD`` of free memory stays in the process to be reused. ``import dlteach``
calls it once. It does nothing

* on anything but Linux with glibc (macOS, Windows and musl allocators behave differently);
* when ``DLTEACH_MALLOC_TUNING=0`` is set in the environment (opt out);
* when the user has set ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` themselves.

No MATLAB counterpart (MATLAB manages its own memory pool).
"""

from __future__ import annotations

import os
import sys

#: blocks up to this size are served from the heap instead of fresh mmap pages (glibc's dynamic maximum)
MMAP_THRESHOLD = 32 * 2**20
#: up to this much free memory at the top of the heap stays in the process
TRIM_THRESHOLD = 128 * 2**20

_M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
_M_MMAP_THRESHOLD = -3

#: True once :func:`tune` has set the thresholds in this process
tuned = False


def tune() -> bool:
    """Raise glibc's mmap and trim thresholds (see the module docstring). Returns True if it did."""
    global tuned
    if tuned:
        return True
    if os.environ.get("DLTEACH_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        import platform

        if platform.libc_ver()[0] != "glibc":
            return False
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, ValueError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    tuned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return tuned
