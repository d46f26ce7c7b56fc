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


def test_every_public_name_documents_its_matlab_counterpart():
    # the convention of ARCHITECTURE.md: each public function / class says which MATLAB function it mirrors
    # (or that it has none), with a formula where there is one
    import inspect

    missing = [name for name in dlteach.__all__ if not inspect.ismodule(getattr(dlteach, name))
               and "MATLAB" not in (inspect.getdoc(getattr(dlteach, name)) or "")]
    assert missing == []


def test_every_registered_layer_is_exported_with_its_matlab_name():
    import inspect

    from dlteach.layers import constructors

    names = set(constructors())
    assert {"featureInputLayer", "fullyConnectedLayer", "convolution2dLayer", "reluLayer", "flattenLayer"} <= names
    for name in names:
        fn = getattr(dlteach, name)
        assert name in dlteach.__all__ and fn is constructors()[name] and fn.__name__ == name
        required = [p for p in inspect.signature(fn).parameters.values() if p.default is inspect.Parameter.empty]
        if not required:
            layer = fn()
            assert layer.constructor == name and repr(layer) == f"{name}()"


def test_import_does_not_load_plotting_or_widgets():
    code = ("import sys, dlteach; "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'IPython', 'dlteach.debug') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
