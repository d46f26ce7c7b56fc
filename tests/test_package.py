"""The package's public surface: every exported name exists, matches its home module, and MATLAB's
``next`` does not leak into ``import *``."""

import builtins
import importlib
import subprocess
import sys

import dlteach


def test_every_name_in_all_is_importable():
    missing = [name for name in dlteach.__all__ if not hasattr(dlteach, name)]
    assert missing == []


def test_star_import_does_not_shadow_builtin_next():
    namespace = {}
    exec("from dlteach import *", namespace)
    assert "next" not in namespace
    assert "dlfeval" in namespace and "adamupdate" in namespace and "fullyConnectedLayer" in namespace
    assert dlteach.next is importlib.import_module("dlteach.minibatchqueue").next
    assert dlteach.next is not builtins.next


def test_top_level_names_are_the_module_objects():
    from dlteach import autodiff, losses, network, ops, updaters
    assert dlteach.dlfeval is autodiff.dlfeval
    assert dlteach.crossentropy is losses.crossentropy
    assert dlteach.forward is network.forward
    assert dlteach.fullyconnect is ops.fullyconnect
    assert dlteach.adamupdate is updaters.adamupdate


def test_import_does_not_load_plotting_or_widgets():
    code = ("import sys, dlteach; "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'IPython', 'dlteach.debug') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
