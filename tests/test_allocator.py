"""dlteach._allocator: after ``import dlteach``, memory freed by one training step is reused by the next
instead of being returned to the system and page-faulted in again.

Measured with the process's minor page faults (``ru_minflt``) while a loop allocates and frees three
8 MB arrays per iteration, the pattern of a training step; each case runs in a fresh interpreter
because the allocator settings are per process.
"""

import os
import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="the tuning applies to glibc's malloc only",
)

CHURN = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    if sys.argv[1] == "import":
        import dlteach
        print(dlteach._allocator.tuned)
    else:
        print(None)

    def step():  # three 8 MB arrays, all freed at the end of the step
        a = np.ones(2_000_000, np.float32)
        b = np.ones(2_000_000, np.float32)
        c = np.ones(2_000_000, np.float32)
        return float(a[0] + b[0] + c[0])

    for _ in range(5):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        step()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)

PAGES_PER_STEP = 3 * 8_000_000 // 4096  # faulting all three arrays in again: ~5,900 pages (untuned: 20 steps fault ~25,000-35,000)


def _run(mode, **env):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "DLTEACH_MALLOC"))}
    full_env.update(env)
    out = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, env=full_env,
                         check=True).stdout.split()
    return out[0], int(out[1])


def test_without_dlteach_every_step_faults_its_memory_in_again():
    # the reference: glibc's defaults give the freed 24 MB back to the system at the end of each step
    _, faults = _run("plain")
    assert faults > 2 * PAGES_PER_STEP


def test_after_import_dlteach_freed_memory_is_reused():
    tuned, faults = _run("import")
    assert tuned == "True"
    assert faults < PAGES_PER_STEP  # 20 steps: (almost) no new pages at all


def test_opt_out_and_user_settings_are_respected():
    tuned, faults = _run("import", DLTEACH_MALLOC_TUNING="0")
    assert tuned == "False" and faults > 2 * PAGES_PER_STEP
    # a user's own glibc tunables win: dlteach does not override them
    tuned, _ = _run("import", MALLOC_TRIM_THRESHOLD_=str(64 * 2**20), MALLOC_MMAP_THRESHOLD_=str(16 * 2**20))
    assert tuned == "False"
