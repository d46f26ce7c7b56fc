"""Containers of arrays: walk them leaf by leaf and rebuild them with the same structure.

MATLAB counterpart: the way ``dlfeval``, ``dlgradient`` and the updaters accept a ``dlarray``, a struct
(dict), a cell array (list), a table with a ``Value`` column, or a ``dlnetwork``, and return the same
kind of thing. Python's dict / list / tuple are built in; :func:`register` adds other container types
(dlteach's ``Table`` and ``dlnetwork`` register themselves).

Everything that is not a container is a *leaf* (dlarray, ndarray, number, None, str, ...).
"""

from __future__ import annotations

import numpy as np

from .errors import StructureMismatchError

_REGISTRY: dict[type, tuple] = {}

#: types that are certainly leaves (checked first, to skip a recursive call per leaf); dlarray adds itself
_LEAF_TYPES = {np.ndarray, float, int, str, type(None)}


def register(cls, flatten, unflatten):
    """Register a container type.

    ``flatten(obj) -> (children: list, aux)``; ``unflatten(aux, children) -> obj``. ``aux`` is compared
    with ``==`` to check that two containers have the same structure.
    """
    _REGISTRY[cls] = (flatten, unflatten)


def is_container(x) -> bool:
    return isinstance(x, (dict, list, tuple)) or type(x) in _REGISTRY


def _describe(x) -> str:
    if isinstance(x, dict):
        return f"a dict with keys {sorted(map(str, x))}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"a {type(x).__name__}"


def _mismatch(path, what):
    where = path or "the top level"
    return StructureMismatchError(
        f"The containers do not have the same structure at {where}: {what}. Gradients, parameters and "
        "optimizer state must have exactly the same structure (same keys, same lengths, same table rows) - "
        "for example pass the gradients that dlgradient returned for these very parameters, and None as "
        "the state on the first call."
    )


def tree_map(f, tree, *rest, path: str = ""):
    """Apply ``f`` to every leaf of ``tree`` (and the matching leaves of ``rest``), keeping the structure.

    Raises StructureMismatchError naming the first key / index where the structures differ.
    """
    if not rest:
        return _map1(f, tree)
    return _map_checked(f, tree, *rest, path=path)


def _map_checked(f, tree, *rest, path=""):
    t = type(tree)
    if t is dict or isinstance(tree, dict):
        for r in rest:
            if not isinstance(r, dict):
                raise _mismatch(path, f"expected a dict, got {_describe(r)}")
            if r.keys() != tree.keys():
                missing = [k for k in tree if k not in r]
                extra = [k for k in r if k not in tree]
                detail = f"missing key {missing[0]!r}" if missing else f"unexpected key {extra[0]!r}"
                raise _mismatch(path, detail)
        out = {k: tree_map(f, v, *(r[k] for r in rest), path=f"{path}[{k!r}]") for k, v in tree.items()}
        return out if t is dict else t(out)
    if t is list or t is tuple or isinstance(tree, (list, tuple)):
        for r in rest:
            if not isinstance(r, (list, tuple)):
                raise _mismatch(path, f"expected {_describe(tree)}, got {_describe(r)}")
            if len(r) != len(tree):
                raise _mismatch(path, f"lengths differ ({len(tree)} vs {len(r)})")
        items = [tree_map(f, v, *(r[i] for r in rest), path=f"{path}[{i}]") for i, v in enumerate(tree)]
        if t is list or t is tuple:
            return t(items)
        if hasattr(tree, "_fields"):  # namedtuple
            return t(*items)
        return t(items)
    spec = _REGISTRY.get(t)
    if spec is not None:
        flatten, unflatten = spec
        children, aux = flatten(tree)
        rest_children = []
        for r in rest:
            if type(r) is not t:
                raise _mismatch(path, f"expected a {t.__name__}, got {_describe(r)}")
            rc, raux = flatten(r)
            if raux != aux:
                raise _mismatch(path, _aux_difference(t, aux, raux))
            rest_children.append(rc)
        new = [
            tree_map(f, c, *(rc[i] for rc in rest_children), path=f"{path}{_child_name(t, aux, i)}")
            for i, c in enumerate(children)
        ]
        return unflatten(aux, new)
    return f(tree, *rest)


def _map1(f, tree):
    """tree_map over one tree: no structures to compare, so no paths to build (the fast, common case)."""
    t = type(tree)
    if t is dict:
        out = {}
        for k, v in tree.items():
            out[k] = f(v) if type(v) in _LEAF_TYPES else _map1(f, v)
        return out
    if t is list or t is tuple:
        return t([f(v) if type(v) in _LEAF_TYPES else _map1(f, v) for v in tree])
    if t in _REGISTRY:
        flatten, unflatten = _REGISTRY[t]
        children, aux = flatten(tree)
        return unflatten(aux, [_map1(f, c) for c in children])
    if isinstance(tree, (dict, list, tuple)):  # subclasses (OrderedDict, namedtuple, ...)
        return _map_checked(f, tree)
    return f(tree)


def _child_name(t, aux, i):
    namer = getattr(t, "_tree_child_name", None)
    return namer(aux, i) if namer else f"[{i}]"


def _aux_difference(t, aux, raux):
    explain = getattr(t, "_tree_aux_difference", None)
    if explain:
        return explain(aux, raux)
    return f"the two {t.__name__}s differ"


def tree_leaves(tree) -> list:
    """All leaves of ``tree`` in a fixed order."""
    out = []
    tree_map(out.append, tree)
    return out


def tree_flatten(tree):
    """``(leaves, rebuild)`` where ``rebuild(new_leaves)`` gives a container like ``tree``."""
    leaves = tree_leaves(tree)

    def rebuild(new_leaves):
        it = iter(new_leaves)
        return tree_map(lambda _: next(it), tree)

    return leaves, rebuild
