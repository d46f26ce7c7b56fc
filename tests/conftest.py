"""Shared fixtures for dlteach's tests.

PyTorch is the oracle of several test modules (``pytest.importorskip("torch")``). Locally a missing
torch only shows up as skips; in CI (environment variable ``CI`` set) a missing torch is an error,
so the oracle tests can never be skipped silently there.
"""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest


def pytest_sessionstart(session):
    if not os.environ.get("CI"):
        return
    try:
        importlib.import_module("torch")
    except Exception as err:  # ImportError, or a broken install raising something else
        pytest.exit(
            f"CI is set but PyTorch cannot be imported ({type(err).__name__}: {err}). The PyTorch-oracle tests "
            "(test_ops.py, test_model_function_torch.py, ...) would be skipped. Install the test extra: "
            "pip install -e '.[test]'.",
            returncode=3,
        )


@pytest.fixture
def rng():
    """A seeded NumPy Generator, fresh for every test."""
    return np.random.default_rng(12345)
