"""``dlfeval`` and ``dlgradient``: MATLAB's automatic differentiation, on HIPS autograd.

MATLAB counterpart: ``[y1,...] = dlfeval(fun, x1, ...)``; ``[g1,...] = dlgradient(y, x1, ...,
RetainData=tf, EnableHigherDerivatives=tf)``.

How it works (see HIPS autograd's ``tracer.py``/``core.py``): ``dlfeval`` wraps every floating leaf of
its arguments in autograd *boxes*, each leaf its own root node, and runs ``fun``. Every NumPy operation
on a box is recorded. ``dlgradient(loss, x)`` runs the reverse pass from the loss's node and reads the
gradient that arrives at each requested leaf: d loss / d x.

Each leaf is boxed on two nested trace levels. The backward pass of the upper level computes with the
boxes of the lower level, so it is itself recorded: that is what ``EnableHigherDerivatives=True`` uses
(gradient penalties, second derivatives). A plain ``dlgradient`` runs on the lowest level, whose graph
holds the forward pass and every recorded backward pass.

Level of an ``EnableHigherDerivatives=True`` call: the highest level on which the loss is recorded,
but below the level of every earlier higher-derivative call whose results the loss depends on (on a
higher level those results are constants, so their contribution would be silently lost). Independent
calls (PINN-style ``Ux = dlgradient(sum(U), X, ...)``, ``Ut = dlgradient(sum(U), T, ...)``) therefore
share the top level, and only truly nested ones (``Uxx`` from ``Ux``) need another level.
"""

from __future__ import annotations

import numpy as onp
from autograd.core import VJPNode, add_outgrads, primitive_vjps, vspace
from autograd.tracer import getval, isbox, new_box, notrace_primitives, toposort, trace_stack

from .dlarray import dlarray
from .errors import NonScalarLossError, NotTracedError
from .tree import tree_map

#: number of nested trace levels per dlfeval: k levels allow k-1 nested EnableHigherDerivatives calls.
TRACE_LEVELS = 2

_TAPES: list["_Tape"] = []

_OUTSIDE_MESSAGE = (
    "dlgradient was called outside dlfeval: the value to differentiate is not traced.\n"
    "dlgradient can only differentiate values computed inside a function that dlfeval evaluates, "
    "because dlfeval is what records the operations. Do not call your model loss function directly; "
    "evaluate it through dlfeval:\n\n"
    "    loss, gradients = dlfeval(modelLoss, net, X, T)\n\n"
    "(MATLAB: [loss,gradients] = dlfeval(@modelLoss,net,X,T))"
)


class _Node(VJPNode):
    """Graph node with one VJP per parent, so dlgradient computes only the gradients it needs.

    autograd's VJPNode has one VJP for all parents: the backward pass of ``W @ X`` would also compute
    the gradient for the data X, and that of the first convolution the gradient for the input images.
    Here the VJP makers still run at forward time (same errors, same captured values), one per parent,
    and :func:`dlgradient` calls only those on a path to a requested input.
    """

    __slots__ = ("vjps",)

    def __init__(self, value, fun, args, kwargs, parent_argnums, parents):
        self.parents = parents
        try:
            vjpmaker = primitive_vjps[fun]
        except KeyError:
            fun_name = getattr(fun, "__name__", fun)
            raise NotImplementedError(f"VJP of {fun_name} wrt argnums {parent_argnums} not defined") from None
        self.vjps = [vjpmaker((argnum,), value, args, kwargs) for argnum in parent_argnums]

    def initialize_root(self):
        self.parents = []
        self.vjps = []

    @property
    def vjp(self):  # autograd's interface: all parents at once
        return lambda g: tuple(next(iter(v(g))) for v in self.vjps)


# functions that are never recorded (comparisons, argmax, floor, ...): the very same set as autograd's
notrace_primitives[_Node] = notrace_primitives[VJPNode]


class _Tape:
    __slots__ = ("traces", "higher")

    def __init__(self, traces):
        self.traces = traces
        # one entry per EnableHigherDerivatives call: (level index, level-0 nodes of its results)
        self.higher = []


def _is_float_leaf(v) -> bool:
    if isinstance(v, (float, onp.floating)):
        return True
    return isinstance(v, onp.ndarray) and v.dtype.kind in "fc"


def _box_value(x, traces):
    for t in traces:
        x = new_box(x, t, _Node.new_root())
    return x


def _box_leaf(leaf, traces):
    if type(leaf) is dlarray:
        if _is_float_leaf(getval(leaf._data)):
            return dlarray._wrap(_box_value(leaf._data, traces), leaf._fmt)
        return leaf
    if isbox(leaf) or _is_float_leaf(leaf):
        return _box_value(leaf, traces)
    return leaf


def _strip_value(x, traces):
    while isbox(x) and x._trace in traces:
        x = x._value
    return x


def _strip_leaf(leaf, traces):
    if type(leaf) is dlarray:
        return dlarray._wrap(_strip_value(leaf._data, traces), leaf._fmt)
    if isbox(leaf):
        return _strip_value(leaf, traces)
    return leaf


def dlfeval(fun, *args, **kwargs):
    """Evaluate ``fun(*args, **kwargs)`` with automatic differentiation enabled (MATLAB ``dlfeval``).

    Every floating array inside the arguments - dlarrays, NumPy arrays, and those nested in dicts,
    lists, tuples, Tables and dlnetworks - is traced, so ``fun`` may call :func:`dlgradient`. The
    outputs are returned untraced (plain values, dlarrays stay dlarrays).
    """
    if not callable(fun):
        raise TypeError(
            f"dlfeval's first argument must be the function to evaluate (e.g. dlfeval(modelLoss, net, X, T)), "
            f"not {type(fun).__name__}. In MATLAB it is a function handle, @modelLoss; in Python pass the function itself."
        )
    managers = [trace_stack.new_trace() for _ in range(TRACE_LEVELS)]
    traces = []
    tape = None
    try:
        for cm in managers:
            traces.append(cm.__enter__())
        tape = _Tape(tuple(traces))
        _TAPES.append(tape)
        box = lambda leaf: _box_leaf(leaf, traces)  # noqa: E731
        out = fun(*tree_map(box, args), **tree_map(box, kwargs))
        trace_set = set(traces)
        return tree_map(lambda leaf: _strip_leaf(leaf, trace_set), out)
    finally:
        if tape is not None:
            _TAPES.remove(tape)
        for cm in reversed(managers[: len(traces)]):
            cm.__exit__(None, None, None)


def _down_to(x, t):
    """The box of x on trace level t, or None if x is not traced there."""
    while isbox(x):
        if x._trace == t:
            return x
        if x._trace < t:
            return None
        x = x._value
    return None


def _raw(x):
    return x._data if type(x) is dlarray else x


def _find_tape(loss_raw):
    traces = set()
    x = loss_raw
    while isbox(x):
        traces.add(x._trace)
        x = x._value
    for tape in reversed(_TAPES):
        if traces.intersection(tape.traces):
            return tape
    return None


def _size_text(v):
    shape = onp.shape(v)
    return "x".join(map(str, shape)) if shape else "1x1"


def dlgradient(loss, *wrt, RetainData=False, EnableHigherDerivatives=False):
    """Gradients of a scalar ``loss`` with respect to traced inputs (MATLAB ``dlgradient``).

    ``dlgradient(loss, x)`` returns one gradient with the structure and dtypes of ``x`` (a dlarray, an
    array, a dict / list of them, a Table such as ``net.Learnables``); ``dlgradient(loss, x1, x2)``
    returns a tuple. Inputs the loss does not depend on get zeros.

    ``EnableHigherDerivatives=True`` returns gradients that are themselves traced, so they can be used in
    the loss and differentiated again. ``RetainData`` is accepted for compatibility; the recorded graph is
    always kept until dlfeval returns.
    """
    if not wrt:
        raise TypeError("dlgradient needs what to differentiate with respect to: dlgradient(loss, parameters).")
    raw_loss = _raw(loss)
    if not _TAPES:
        raise NotTracedError(_OUTSIDE_MESSAGE)
    if not isbox(raw_loss):
        raise NotTracedError(
            "The value to differentiate is not traced: it does not depend on any input of the function that "
            "dlfeval evaluates. Typical causes: the loss was computed from extractdata(...) or float(...) of a "
            "traced value (which cuts the trace), from arrays created inside the function, or from the outputs of "
            "a network that was not passed to dlfeval. Compute the loss from the traced inputs with dlarray / "
            "NumPy operations."
        )
    tape = _find_tape(raw_loss)
    if tape is None:
        raise NotTracedError(_OUTSIDE_MESSAGE)
    value = getval(raw_loss)
    if onp.iscomplexobj(value):
        raise NonScalarLossError(
            "The value to differentiate is complex. dlgradient needs a real scalar: use a real loss such as "
            "np.sum(np.abs(Z)**2)."
        )
    if onp.size(value) != 1:
        raise NonScalarLossError(
            f"The value to differentiate is non-scalar (size {_size_text(value)}); dlgradient needs a traced real "
            "dlarray scalar. Reduce it to one number first, e.g. loss = np.mean(...) or np.sum(...) (the loss "
            "functions crossentropy, mse, l2loss already return a scalar). For the derivative of every element, "
            "differentiate np.sum(Y)."
        )

    if EnableHigherDerivatives:
        index = _higher_level(tape, raw_loss)
        level = tape.traces[index]
    else:
        level = tape.traces[0]

    loss_box = _down_to(raw_loss, level)
    if loss_box is None:
        raise NotTracedError(_OUTSIDE_MESSAGE)

    # leaves requested, keyed by their node on this level
    wanted = {}

    def collect(leaf):
        b = _down_to(_raw(leaf), level)
        if b is not None:
            wanted[b._node] = None
        return leaf

    tree_map(collect, wrt)

    # reverse pass, restricted to the nodes on a path from the loss to a requested input
    order = list(toposort(loss_box._node))
    useful = set()
    for node in reversed(order):  # parents before children
        if node in wanted or any(p in useful for p in node.parents):
            useful.add(node)
    outgrads = {loss_box._node: (vspace(loss_box._value).ones(), False)}
    for node in order:
        if node not in useful:
            continue
        g = outgrads.pop(node)[0]
        if node in wanted:
            wanted[node] = g
        vjps = getattr(node, "vjps", None)
        if vjps is None:  # a node made by autograd itself
            for parent, ingrad in zip(node.parents, node.vjp(g)):
                if parent in useful:
                    outgrads[parent] = add_outgrads(outgrads.get(parent), ingrad)
            continue
        for parent, vjp in zip(node.parents, vjps):
            if parent in useful:
                outgrads[parent] = add_outgrads(outgrads.get(parent), next(iter(vjp(g))))

    def finish(leaf):
        raw = _raw(leaf)
        v = getval(raw)
        if not _is_float_leaf(v) and not isinstance(v, (onp.ndarray, onp.generic)):
            return None
        if not _is_float_leaf(v):
            return None
        b = _down_to(raw, level)
        if b is None:
            raise NotTracedError(
                "dlgradient: one of the values to differentiate with respect to is not traced. Only inputs of the "
                "function evaluated by dlfeval (and values computed from them) can be differentiated. Pass it as an "
                "argument of dlfeval instead of creating it inside the function, and do not pass it through "
                "extractdata."
            )
        g = wanted.get(b._node)
        dtype = onp.asarray(v).dtype
        if g is None:
            g = onp.zeros(onp.shape(v), dtype=dtype)
        else:
            gv = getval(g)
            if onp.iscomplexobj(gv) and not onp.iscomplexobj(v):
                g = onp.real(gv) if not EnableHigherDerivatives else g
            if not EnableHigherDerivatives:
                g = onp.asarray(getval(g))
                if g.dtype != dtype:
                    g = g.astype(dtype)
                if g.shape != onp.shape(v):
                    g = onp.array(onp.broadcast_to(g, onp.shape(v)))
            elif getattr(getval(g), "dtype", dtype) != dtype:
                g = g.astype(dtype) if isbox(g) else onp.asarray(g, dtype=dtype)
        if type(leaf) is dlarray:
            return dlarray._wrap(g, leaf._fmt)
        if isinstance(v, (float, onp.floating)) and not isbox(g):
            return type(v)(onp.asarray(g).reshape(()))
        return g

    grads = tuple(tree_map(finish, w) for w in wrt)
    if EnableHigherDerivatives:
        base = tape.traces[0]
        nodes = set()

        def record(leaf):
            b = _down_to(_raw(leaf), base)
            if b is not None:
                nodes.add(b._node)
            return leaf

        tree_map(record, grads)
        tape.higher.append((index, nodes))
    return grads[0] if len(grads) == 1 else grads


def _reached(start, targets):
    """The nodes of ``targets`` that ``start`` depends on (walks the recorded graph)."""
    found = set()
    seen = {start}
    stack = [start]
    while stack:
        node = stack.pop()
        if node in targets:
            found.add(node)
        for parent in node.parents:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return found


def _higher_level(tape, raw_loss):
    """Index of the trace level an EnableHigherDerivatives=True dlgradient must run on (see module doc)."""
    index = max(i for i, t in enumerate(tape.traces) if _down_to(raw_loss, t) is not None)
    nested = 0
    if tape.higher:
        base = _down_to(raw_loss, tape.traces[0])
        targets = set().union(*(nodes for _, nodes in tape.higher))
        reached = _reached(base._node, targets) if base is not None else set()
        for level, nodes in tape.higher:
            if nodes & reached:
                index = min(index, level - 1)
                nested += 1
    if index < 1:
        raise NotImplementedError(
            f"This dlgradient(..., EnableHigherDerivatives=True) differentiates a value that already depends on "
            f"the results of {nested} earlier EnableHigherDerivatives=True call(s): derivatives nested this deep need "
            f"more trace levels than the {len(tape.traces)} this dlfeval has. Set dlteach.autodiff.TRACE_LEVELS = "
            f"{len(tape.traces) + 1} (or more) before calling dlfeval."
        )
    return index
