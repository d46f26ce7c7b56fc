"""Private names stay private to their module (issue 11: "public, narrow seams").

A module of dlteach may read ``x._name`` only if it defines ``_name`` itself (a function, class, class
member, ``__slots__`` entry or an attribute it assigns), and may not import a private name from another
module (``from .network import _fill``; importing a private *module* such as ``dlteach._jupyter`` is
fine). The exceptions are the short allow-list below, each with its reason; ARCHITECTURE.md documents
the two protocols in it. The scan is static (ast): it reads attribute names, not types, so a private
name defined in the reading module itself is never reported.
"""

from __future__ import annotations

import ast
import collections
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "dlteach"

# name -> (modules allowed to read it although they do not define it, reason)
ALLOWED = {
    # third-party internals dlteach builds on (autograd's Box fields _value, _trace, _node need no entry: autodiff and
    # primitives, the modules that read them, also make boxes with slot stores, which counts as defining them)
    "_getframe": ({"dlteach.checks", "dlteach.layers"}, "sys._getframe: the caller's namespace"),
    "_fields": ({"dlteach.tree"}, "a namedtuple's field names (public namedtuple API)"),
    "_showtraceback": ({"dlteach.checks"}, "IPython's traceback display hook (compact failure boxes)"),
    "_allow_stdin": ({"dlteach._jupyter"}, "ipykernel: the executing request's allow_stdin flag"),
    "_parent_header": ({"dlteach._jupyter"}, "ipykernel: the header of the executing request"),
    "_create_subshell": ({"dlteach._jupyter"}, "ipykernel >= 7: kernel subshells (Stop button)"),
    "_supports_kernel_subshells": ({"dlteach._jupyter"}, "ipykernel >= 7: kernel subshells (Stop button)"),
    # the layer protocol (network.py <-> layers.py; ARCHITECTURE.md "Layer protocol")
    **{name: ({"dlteach.network"}, "the layer protocol") for name in (
        "_check_input", "_shapes_given", "_forward", "_init_value", "_preset", "_copy", "_prepare_data",
        "_validate_normalization")},
    # the datastore protocol (minibatchqueue.py <-> datastore.py; ARCHITECTURE.md, dlteach/datastore.py)
    **{name: ({"dlteach.minibatchqueue"}, "the datastore protocol") for name in (
        "_num_obs", "_rows", "_read_rows", "_permuted", "_copy")},
}
ALLOWED["_copy"] = ({"dlteach.network", "dlteach.minibatchqueue", "dlteach.images"},
                    "the layer and datastore protocols: a shallow copy")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined(tree: ast.AST) -> set:
    """Private names a module defines: functions, classes, members, assigned attributes, arguments, slots."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            out.add(node.attr)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets):
            out.update(c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and isinstance(c.value, str))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) \
                and isinstance(node.slice, ast.Constant):  # self.__dict__["_x"] = ...
            out.add(node.slice.value)
        elif isinstance(node, ast.Call) and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and (
                (isinstance(node.func, ast.Name) and node.func.id == "setattr")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "__setattr__")):
            out.add(node.args[1].value)  # setattr(obj, "_x", v), object.__setattr__(self, "_x", v)
    return {n for n in out if isinstance(n, str) and _private(n)}


def private_reads(module: str, source: str, private_modules: set) -> list:
    """(name, line, how) for every private name ``module`` reads without defining it."""
    tree = ast.parse(source)
    own = _defined(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if _private(alias.name) and alias.name not in private_modules:
                    found.append((alias.name, node.lineno, f"from {'.' * node.level}{node.module or ''} import"))
        elif isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in own:
            found.append((node.attr, node.lineno, "attribute"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("getattr", "hasattr", "setattr") and len(node.args) >= 2 \
                and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str) \
                and _private(node.args[1].value) and node.args[1].value not in own:
            found.append((node.args[1].value, node.lineno, node.func.id))
    return found


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        yield ".".join(rel.parts).removesuffix(".__init__"), path


def _private_modules():
    return {p.stem for p in ROOT.rglob("_*.py")} | {p.name for p in ROOT.rglob("_*") if p.is_dir()}


def test_no_module_reads_another_modules_private_names():
    private_modules = _private_modules()
    bad, used = [], collections.defaultdict(set)
    for module, path in _modules():
        for name, line, how in private_reads(module, path.read_text(encoding="utf-8"), private_modules):
            allowed = ALLOWED.get(name)
            if allowed and module in allowed[0]:
                used[name].add(module)
            else:
                bad.append(f"{path.relative_to(ROOT.parent)}:{line}: {how} {name}")
    assert not bad, ("Private names read outside their module (give the owning module a public function, or add "
                     "a documented entry to ALLOWED):\n" + "\n".join(bad))
    stale = sorted(f"{name} in {m}" for name, (mods, _) in ALLOWED.items() for m in mods - used[name])
    assert not stale, "ALLOWED entries no longer needed (remove them): " + ", ".join(stale)


@pytest.mark.parametrize("source, expected", [
    ("def f(net):\n    return net._learn_rate_factors()\n", [("_learn_rate_factors", 2, "attribute")]),
    ("from .network import _fill\n", [("_fill", 1, "from .network import")]),
    ("from dlteach.network import _fill as fill\n", [("_fill", 1, "from dlteach.network import")]),
    ("def f(t):\n    return hasattr(t, '_with_learnables')\n", [("_with_learnables", 2, "hasattr")]),
    ("from . import _jupyter\n", []),                                              # a private module
    ("class A:\n    def __init__(self):\n        self._x = 1\n    def f(self):\n        return self._x\n", []),
    ("class A:\n    __slots__ = ('_n',)\n    def f(self, o):\n        return o._n\n", []),
    ("class A:\n    def __init__(self):\n        self.__dict__['_m'] = 1\n    def f(self):\n        return self._m\n", []),
    ("def f(x):\n    return x.__class__, x.__dict__\n", []),                          # dunders are public
])
def test_the_scan_finds_private_reads(source, expected):
    assert private_reads("m", source, {"_jupyter"}) == expected
