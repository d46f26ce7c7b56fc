"""Containers of arrays: THE container walker of dlteach (flatten to leaves, rebuild, name the leaves).

MATLAB counterpart: the way ``dlfeval``, ``dlgradient`` and the updaters accept a ``dlarray``, a struct
(dict), a cell array (list), a table with a ``Value`` column, or a ``dlnetwork``, and return the same
kind of thing. Python's dict / list / tuple (and their subclasses, namedtuples) are built in;
:func:`register` adds other container types (dlteach's ``Table`` and ``dlnetwork`` register
themselves), :func:`register_leaf` marks a type as a leaf.

Everything that is not a container is a *leaf* (dlarray, ndarray, number, None, str, ...).

API::

    leaves, treedef = flatten(x)          # leaves in a fixed order, and the structure
    treedef.unflatten(new_leaves)         # a container like x holding new_leaves
    treedef == other_treedef              # same structure (keys, lengths, table rows, network rows)?
    treedef.paths("params")               # one name per leaf: params['fc1']['Weights'], net.Learnables{fc/Weights}
    treedef.keys()                        # per leaf the tuple of keys: ('fc1', 'Weights'), (0, 2), ('fc/Weights',)
    tree_map(f, x, *rest, path="")        # f on every leaf (and the matching leaves of rest), same structure
    tree_leaves(x)

Path spelling (the one used in every message): ``[key!r]`` for a dict entry, ``[i]`` for a list / tuple
element, and the segment a registered container gives (``.Value{fc/Weights}`` for a Table row,
``.Learnables{fc/Weights}`` / ``.State{...}`` for a network row).
"""

from __future__ import annotations

import numpy as np

from .errors import StructureMismatchError

__all__ = ["flatten", "flatten_as", "TreeDef", "register", "register_leaf", "registered_children", "is_container", "tree_map", "tree_leaves",
           "tree_flatten", "leaf_paths"]

_REGISTRY: dict[type, tuple] = {}  # type -> (flatten, unflatten, child_path, child_key, explain)
_AUX_IS_DATA: set = set()  # registered types whose structures may be compiled (see register's aux_is_data)

#: types that are certainly leaves (checked first, to skip a call per leaf); extend with register_leaf
_LEAF_TYPES = {np.ndarray, float, int, str, bool, type(None)}


def register(cls, flatten, unflatten, *, child_path=None, child_key=None, explain_difference=None,
             aux_is_data=False):
    """Register a container type.

    ``flatten(obj) -> (children: list, aux)``; ``unflatten(aux, children) -> obj``. ``aux`` is compared
    with ``==`` to check that two containers have the same structure. Optional, for messages and labels:
    ``child_path(aux, i)`` the path segment of child i (default ``[i]``), ``child_key(aux, i)`` its key
    (default i), ``explain_difference(aux, other_aux)`` a sentence saying how two structures differ.
    ``aux_is_data=True`` says that equal auxes rebuild equal containers (a Table's row names), so structures
    holding this type may be compiled and share one aux; leave it False when ``unflatten`` reads more than
    the aux compares (a dlnetwork's aux compares the architecture but rebuilds from that very network).
    """
    _REGISTRY[cls] = (flatten, unflatten, child_path, child_key, explain_difference)
    _LEAF_TYPES.discard(cls)
    if aux_is_data:
        _AUX_IS_DATA.add(cls)
    else:
        _AUX_IS_DATA.discard(cls)


def register_leaf(cls):
    """Mark ``cls`` as a leaf type (its instances are never walked into)."""
    _REGISTRY.pop(cls, None)
    _AUX_IS_DATA.discard(cls)
    _LEAF_TYPES.add(cls)


def registered_children(x):
    """``(children, aux)`` of a container registered with :func:`register` (Table, dlnetwork); None otherwise."""
    spec = _REGISTRY.get(type(x))
    return None if spec is None else spec[0](x)


def is_container(x) -> bool:
    return isinstance(x, (dict, list, tuple)) or type(x) in _REGISTRY


# -------------------------------------------------------------------------------------------------
# flatten / unflatten

_UNSET = object()


class TreeDef:
    """The structure of a container (see :func:`flatten`): compare with ``==``, rebuild with :meth:`unflatten`.

    A node is None (a leaf) or ``(type, aux, children)``: aux is the dict's keys, the sequence's length or
    the registered container's aux.
    """

    __slots__ = ("_node", "num_leaves", "_code")

    def __init__(self, node, num_leaves):
        self._node = node
        self.num_leaves = num_leaves
        self._code = _UNSET  # the compiled functions of a plain structure (None: not plain), looked up once

    def _compiled(self):
        code = self._code
        if code is _UNSET:
            code = self._code = _compiled(self._node)
        return code

    @property
    def compiled(self) -> bool:
        """True for a plain structure (dicts, lists, tuples, Tables): :meth:`unflatten`, :meth:`leaves_of` and
        :func:`flatten_as` run generated code instead of walking it."""
        return self._compiled() is not None

    def unflatten(self, leaves):
        """A container with this structure holding ``leaves`` (in :func:`flatten`'s order)."""
        code = self._compiled()
        if code is not None:
            return code[0](leaves)
        return _unflatten(self._node, iter(leaves))

    def leaves_of(self, other):
        """The leaves of ``other`` in this structure's order if ``other`` has this structure, else None.

        Dict keys are matched by name (another key order is accepted, as :func:`tree_map` accepts it); a
        container where this structure has a leaf is a mismatch. The updaters gather the gradients and states
        with it; on None they fall back to :func:`tree_map`, whose error names the first difference.
        """
        code = self._compiled()
        if code is not None:
            return code[1](other)
        leaves, treedef = flatten(other)
        return leaves if treedef == self else None

    def functions(self):
        """``(unflatten, leaves_of)`` as plain functions: the compiled ones of a plain structure, else the two
        methods. For a caller that rebuilds / reads several containers of one structure per call (the updaters:
        parameters, gradients and states) and keeps them while the structure stays the same."""
        code = self._compiled()
        if code is not None:
            return code[0], code[1]
        return self.unflatten, self.leaves_of

    def __eq__(self, other):
        if not isinstance(other, TreeDef):
            return NotImplemented
        try:
            return bool(self._node == other._node)
        except Exception:  # an aux that does not compare to a bool (arrays)
            return False

    __hash__ = None

    def paths(self, prefix="") -> list:
        """The path of every leaf, e.g. ``params['fc1']['Weights']`` (prefix ``params``)."""
        out = []
        _walk(self._node, prefix, out, _path_segment, lambda p, s: p + s)
        return out

    def keys(self) -> list:
        """Per leaf the tuple of keys leading to it: dict keys, indices, registered containers' keys."""
        out = []
        _walk(self._node, (), out, _key, lambda p, k: p + (k,))
        return out

    def __repr__(self):
        return f"TreeDef({self.num_leaves} leaves)"


def flatten(x):
    """``(leaves, treedef)``: the leaves of ``x`` in a fixed order and its structure (:class:`TreeDef`)."""
    leaves = []
    node = _flatten(x, leaves)
    return leaves, TreeDef(node, len(leaves))


def flatten_as(x, treedef):
    """``flatten(x)``, reusing ``treedef`` (None: no guess) when ``x`` has exactly that structure.

    The check is the compiled one of a plain or registered structure: same container types, same dict keys
    in the same order (str keys), same lengths, equal registered aux. Otherwise ``flatten(x)``.
    """
    if treedef is not None:
        code = treedef._compiled()
        if code is not None:
            leaves = code[2](x)
            if leaves is not None:
                return leaves, treedef
    return flatten(x)


def _flatten(x, leaves):
    t = type(x)
    if t in _LEAF_TYPES:
        leaves.append(x)
        return None
    if t is dict:
        return (dict, tuple(x), _children(x.values(), leaves))
    if t is list or t is tuple:
        return (t, len(x), _children(x, leaves))
    spec = _REGISTRY.get(t)
    if spec is not None:
        children, aux = spec[0](x)
        return (t, aux, _children(children, leaves))
    if isinstance(x, dict):  # OrderedDict, defaultdict, ...
        return (t, tuple(x), _children(x.values(), leaves))
    if isinstance(x, (list, tuple)):  # namedtuple, list subclasses
        return (t, len(x), _children(x, leaves))
    leaves.append(x)
    return None


def _children(children, leaves):
    nodes = []
    for c in children:
        if type(c) in _LEAF_TYPES:  # a leaf: no call
            leaves.append(c)
            nodes.append(None)
        else:
            nodes.append(_flatten(c, leaves))
    return tuple(nodes)


def _unflatten(node, it):
    if node is None:
        return next(it)
    t, aux, children = node
    items = [next(it) if c is None else _unflatten(c, it) for c in children]
    if t is dict:
        return dict(zip(aux, items))
    if t is list or t is tuple:
        return t(items)
    spec = _REGISTRY.get(t)
    if spec is not None:
        return spec[1](aux, items)
    if issubclass(t, dict):
        return t(zip(aux, items))
    if hasattr(t, "_fields"):  # namedtuple
        return t(*items)
    return t(items)


# -------------------------------------------------------------------------------------------------
# compiled structures: a nest of plain dicts / lists / tuples (the parameters of a model function, their
# gradients and optimizer states) gets two generated functions, made once per structure and cached:
# build(leaves) -> container, and leaves_of(x) -> leaves or None. They do what _unflatten and flatten +
# compare do, without a call per node (a training step rebuilds the same few structures every iteration).

_COMPILED: dict = {}
_COMPILED_MAX = 256  # distinct structures kept (the cache is emptied when full)


def _plain(node) -> bool:
    if node is None:
        return True
    t, _, children = node
    return (t is dict or t is list or t is tuple or t in _AUX_IS_DATA) and all(_plain(c) for c in children)


def _compiled(node):
    """``(build, leaves_of, same_leaves)`` for a plain structure (dicts, lists, tuples and registered
    containers whose aux is data, such as Table), else None. ``same_leaves(x)`` is the strict check (see :func:`flatten_as`)."""
    try:
        code = _COMPILED.get(node)
    except TypeError:  # an aux that cannot be hashed
        return None
    if code is not None:
        return code or None
    code = _compile(node) if node is not None and _plain(node) else False
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[node] = code
    return code or None


def _compile(node):
    keys = []  # dict keys / registered aux and functions, referenced as K[j]
    lines = []  # leaves_of: checks and assignments
    strict = []  # same_leaves: checks and assignments
    counter = [0, 0]  # leaves, containers

    def key(k):
        keys.append(k)
        return f"K[{len(keys) - 1}]"

    def build(n):
        if n is None:
            counter[0] += 1
            return f"L[{counter[0] - 1}]"
        t, aux, children = n
        if t is dict:
            return "{" + ", ".join(f"{key(k)}: {build(c)}" for k, c in zip(aux, children)) + "}"
        items = ", ".join(build(c) for c in children)
        if t is list:
            return f"[{items}]"
        if t is tuple:
            return f"({items}{',' if len(children) == 1 else ''})"
        return f"{key(_REGISTRY[t][1])}({key(aux)}, [{items}])"

    def match(n, var):
        """Append the checks of variable ``var`` against node ``n``; return the leaf variables in order."""
        if n is None:
            lines.append(f"if type({var}) not in LEAF and is_container({var}): return None")
            return [var]
        t, aux, children = n
        out = []
        if t in _REGISTRY:
            counter[1] += 1
            src = f"c{counter[1]}"
            lines.append(f"if type({var}) is not {key(t)}: return None")
            lines.append(f"{src}, a{counter[1]} = {key(_REGISTRY[t][0])}({var})")
            lines.append(f"if a{counter[1]} != {key(aux)} or len({src}) != {len(children)}: return None")
            var = src
        else:
            lines.append(f"if type({var}) is not {t.__name__} or len({var}) != {len(children)}: return None")
        for i, c in enumerate(children):
            counter[1] += 1
            child = f"v{counter[1]}"
            # a missing key gives MISSING, a dict subclass: the type check of a container and the
            # is_container check of a leaf both reject it
            k = aux[i] if t is dict else None
            kref = repr(k) if type(k) is str else key(k)
            lines.append(f"{child} = {var}.get({kref}, MISSING)" if t is dict else f"{child} = {var}[{i}]")
            out.extend(match(c, child))
        return out

    def match_strict(n, var):
        """Like match, for same_leaves: dict keys compared in order (str keys only), children unpacked."""
        if n is None:
            strict.append(f"if type({var}) not in LEAF and is_container({var}): return None")
            return [var]
        t, aux, children = n
        counter[1] += 1
        names = [f"s{counter[1]}_{i}" for i in range(len(children))]
        unpack = (", ".join(names) + ("," if len(names) == 1 else "")) if names else None
        if t is dict:
            if not all(type(k) is str for k in aux):
                strict.append("return None")
                return []
            strict.append(f"if type({var}) is not dict or [*{var}] != {key(list(aux))}: return None")
            if unpack:
                strict.append(f"{unpack} = {var}.values()")
        elif t is list or t is tuple:
            strict.append(f"if type({var}) is not {t.__name__} or len({var}) != {len(children)}: return None")
            if unpack:
                strict.append(f"{unpack} = {var}")
        else:
            strict.append(f"if type({var}) is not {key(t)}: return None")
            strict.append(f"c{counter[1]}, a{counter[1]} = {key(_REGISTRY[t][0])}({var})")
            strict.append(f"if len(c{counter[1]}) != {len(children)} or a{counter[1]} != {key(aux)}: return None")
            if unpack:
                strict.append(f"{unpack} = c{counter[1]}")
        out = []
        for name, c in zip(names, children):
            out.extend(match_strict(c, name))
        return out

    build_src = f"def build(L):\n    return {build(node)}\n"
    leaves = match(node, "x")
    match_src = "def leaves_of(x):\n" + "".join(f"    {ln}\n" for ln in lines) + f"    return [{', '.join(leaves)}]\n"
    strict_leaves = match_strict(node, "x")
    strict_src = ("def same_leaves(x):\n" + "".join(f"    {ln}\n" for ln in strict)
                  + f"    return [{', '.join(strict_leaves)}]\n")
    namespace = {"K": tuple(keys), "LEAF": _LEAF_TYPES, "is_container": is_container, "MISSING": _MISSING}
    exec(build_src + match_src + strict_src, namespace)  # noqa: S102 - generated from the structure's types and counts
    return namespace["build"], namespace["leaves_of"], namespace["same_leaves"]


class _Missing(dict):
    """The type of the compiled leaves_of's default for a missing dict key (a container, never a match)."""


_MISSING = _Missing()


def _walk(node, here, out, segment, join):
    if node is None:
        out.append(here)
        return
    t, aux, children = node
    for i, c in enumerate(children):
        _walk(c, join(here, segment(t, aux, i)), out, segment, join)


def _path_segment(t, aux, i):
    if issubclass(t, dict):
        return f"[{aux[i]!r}]"
    spec = _REGISTRY.get(t)
    if spec is not None and spec[2] is not None:
        return spec[2](aux, i)
    return f"[{i}]"


def _key(t, aux, i):
    if issubclass(t, dict):
        return aux[i]
    spec = _REGISTRY.get(t)
    if spec is not None and spec[3] is not None:
        return spec[3](aux, i)
    return i


def leaf_paths(x, prefix="") -> list:
    """The path of every leaf of ``x`` (see :meth:`TreeDef.paths`)."""
    return flatten(x)[1].paths(prefix)


# -------------------------------------------------------------------------------------------------
# tree_map

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

    Raises StructureMismatchError naming the first key / index where the structures differ (``path`` is
    the name of ``tree`` in that message).
    """
    if not rest:
        return _map1(f, tree)
    return _map_checked(f, tree, *rest, path=path)


def _map_checked(f, tree, *rest, path=""):
    t = type(tree)
    if t in _LEAF_TYPES:
        return f(tree, *rest)
    if t is dict or isinstance(tree, dict):
        for r in rest:
            if not isinstance(r, dict):
                raise _mismatch(path, f"expected a dict, got {_describe(r)}")
            if r.keys() != tree.keys():
                missing = [k for k in tree if k not in r]
                extra = [k for k in r if k not in tree]
                detail = f"missing key {missing[0]!r}" if missing else f"unexpected key {extra[0]!r}"
                raise _mismatch(path, detail)
        out = {k: _map_checked(f, v, *(r[k] for r in rest), path=f"{path}[{k!r}]") for k, v in tree.items()}
        return out if t is dict else t(out)
    if t is list or t is tuple or isinstance(tree, (list, tuple)):
        for r in rest:
            if not isinstance(r, (list, tuple)):
                raise _mismatch(path, f"expected {_describe(tree)}, got {_describe(r)}")
            if len(r) != len(tree):
                raise _mismatch(path, f"lengths differ ({len(tree)} vs {len(r)})")
        items = [_map_checked(f, v, *(r[i] for r in rest), path=f"{path}[{i}]") for i, v in enumerate(tree)]
        if t is list or t is tuple:
            return t(items)
        if hasattr(tree, "_fields"):  # namedtuple
            return t(*items)
        return t(items)
    spec = _REGISTRY.get(t)
    if spec is not None:
        flat, unflat, child_path, _key_of, explain = spec
        children, aux = flat(tree)
        rest_children = []
        for r in rest:
            if type(r) is not t:
                raise _mismatch(path, f"expected a {t.__name__}, got {_describe(r)}")
            rc, raux = flat(r)
            if raux != aux:
                raise _mismatch(path, explain(aux, raux) if explain else f"the two {t.__name__}s differ")
            rest_children.append(rc)
        new = [
            _map_checked(f, c, *(rc[i] for rc in rest_children),
                         path=path + (child_path(aux, i) if child_path else f"[{i}]"))
            for i, c in enumerate(children)
        ]
        return unflat(aux, new)
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
        flat, unflat = _REGISTRY[t][:2]
        children, aux = flat(tree)
        return unflat(aux, [f(c) if type(c) in _LEAF_TYPES else _map1(f, c) for c in children])
    if isinstance(tree, (dict, list, tuple)):  # subclasses (OrderedDict, namedtuple, ...)
        return _map_checked(f, tree)
    return f(tree)


def tree_leaves(tree) -> list:
    """All leaves of ``tree`` in a fixed order (the order of :func:`flatten`)."""
    return flatten(tree)[0]


def tree_flatten(tree):
    """``(leaves, rebuild)`` where ``rebuild(new_leaves)`` gives a container like ``tree`` (see :func:`flatten`)."""
    leaves, treedef = flatten(tree)
    return leaves, treedef.unflatten
