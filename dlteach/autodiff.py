"""``dlfeval`` and ``dlgradient``: MATLAB's automatic differentiation, on HIPS autograd.

MATLAB counterpart: ``[y1,...] = dlfeval(fun, x1, ...)``; ``[g1,...] = dlgradient(y, x1, ...,
RetainData=tf, EnableHigherDerivatives=tf)``.

How it works (see HIPS autograd's ``tracer.py``/``core.py``): ``dlfeval`` opens a trace level and wraps
every floating leaf of its arguments in an autograd *box*, each leaf its own root node, then runs
``fun``. Every primitive applied to a box is recorded as a node that keeps the primitive, its arguments
and its result. ``dlgradient(loss, x)`` runs the reverse pass from the loss's node: it visits only the
nodes on a path from the loss to a requested input, builds the vector-Jacobian products (VJPs) of those
nodes for just the parents that lead there, and reads the gradient arriving at each requested node.

Higher derivatives (``EnableHigherDerivatives=True``): the recorded graph is *replayed* one trace level
up, with the requested inputs boxed again on that new level, and the reverse pass runs there. Its VJPs
then compute with the boxes of dlfeval's level, so the gradient itself is recorded on that level: it can
be used in the loss and differentiated by a later ``dlgradient`` (gradient penalties, PINN residuals
``Ux``, ``Uxx`` ...). The replay costs one more forward pass, only in those calls; nesting depth is
unlimited.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
from autograd.core import VJPNode, add_outgrads, primitive_vjps, vspace
from autograd.numpy.numpy_boxes import ArrayBox
from autograd.tracer import Node, box_types, getval, isbox, new_box, notrace_primitives, trace_stack

from . import _recording
from . import validate as _v
from .dlarray import dlarray
from .errors import ArgumentError, DisconnectedGradientWarning, NonScalarLossError, NotTracedError
from .formats import data_of, size_text, wrap_like
from .network import dlnetwork
from .primitives import (
    DIRECT_VJPS,
    scaled_sum,
    set_plain_node_type,
    softmax_crossentropy_chain,
    softmax_crossentropy_gradient,
)
from .tree import flatten_as, tree_map

_TAPES: list[_Tape] = []

#: dlgradient warns (DisconnectedGradientWarning) when a requested value is not on any path from the loss
#: (not in a dlfeval that computed a higher derivative, where structurally zero derivatives are common).
WARN_DISCONNECTED = True

_OUTSIDE_MESSAGE = (
    "dlgradient was called outside dlfeval: the value to differentiate is not traced.\n"
    "dlgradient can only differentiate values computed inside a function that dlfeval evaluates, "
    "because dlfeval is what records the operations. Do not call your model loss function directly; "
    "evaluate it through dlfeval:\n\n"
    "    loss, gradients = dlfeval(modelLoss, net, X, T)\n\n"
    "(MATLAB: [loss,gradients] = dlfeval(@modelLoss,net,X,T))"
)


class _Node(Node):
    """One recorded operation: the primitive, its arguments (unboxed on this level) and its result.

    Unlike autograd's VJPNode, nothing is computed when the operation is recorded: the VJPs are built
    during the reverse pass, only for the parents on a path to a requested input (so ``W @ X`` never
    computes the gradient of the data X), and the stored call can be replayed for higher derivatives.
    """

    __slots__ = ("parents", "value", "fun", "args", "kwargs", "argnums")

    def __init__(self, value, fun, args, kwargs, parent_argnums, parents):
        # primitives.f_wrapped makes these nodes with the same six slot stores, without this call
        # (set_plain_node_type below): keep the two in step
        self.parents = parents
        self.value = value
        self.fun = fun
        self.args = args
        self.kwargs = kwargs
        self.argnums = parent_argnums


set_plain_node_type(_Node)

# functions that are never recorded (comparisons, argmax, floor, ...): the very same set as autograd's
notrace_primitives[_Node] = notrace_primitives[VJPNode]


class _AccNode(_Node):
    """A node recorded by ``dlaccelerate`` (accelerate.py): also appended, in creation order, to the
    recording in progress, which later turns the recorded nodes into a replayable program."""

    __slots__ = ()

    def __init__(self, value, fun, args, kwargs, parent_argnums, parents):
        self.parents = parents
        self.value = value
        self.fun = fun
        self.args = args
        self.kwargs = kwargs
        self.argnums = parent_argnums
        if _recording.RECORDERS:
            _recording.RECORDERS[-1].nodes.append(self)


# While dlaccelerate records, the functions whose result depends on the VALUES of their inputs
# (comparisons, sign, floor, argmax, any, ...) are recorded too, as operations without a gradient, so a
# replay recomputes them: only the functions of shapes and dtypes stay unrecorded.
_SHAPE_ONLY = {"shape", "ndim", "size", "result_type", "iscomplexobj", "isscalar", "empty_like", "zeros_like",
               "ones_like", "full_like"}
notrace_primitives[_AccNode] = {f for f in notrace_primitives[VJPNode] if getattr(f, "__name__", "") in _SHAPE_ONLY}
_recording.NONDIFF.update(f for f in notrace_primitives[VJPNode] if getattr(f, "__name__", "") not in _SHAPE_ONLY)

#: the AcceleratedFunction class and its call (set by accelerate.py through set_accelerator): dlfeval hands
#: such a function its arguments
_ACCELERATED = None
_ACCELERATED_CALL = None


def set_accelerator(cls, call):
    """Called once by accelerate.py: ``dlfeval(f, ...)`` with ``type(f) is cls`` returns ``call(f, args, kwargs)``."""
    global _ACCELERATED, _ACCELERATED_CALL
    _ACCELERATED, _ACCELERATED_CALL = cls, call


# -------------------------------------------------------------------------------------------------
# the seam for dlaccelerate's recordings (accelerate.py)

@contextmanager
def recording(recorder):
    """A dlaccelerate recording: a new trace level, acting as a dlfeval (dlgradient works in it), whose nodes
    are appended to ``recorder.nodes`` in creation order (``recorder`` also gets ``.trace``). Yields the level."""
    with _new_trace() as trace:
        recorder.trace = trace
        tape = _Tape(trace, recorder)
        _TAPES.append(tape)
        _recording.RECORDERS.append(recorder)
        try:
            yield trace
        finally:
            _recording.RECORDERS.remove(recorder)
            _TAPES.remove(tape)


def recorded_leaf(value, trace, fun=None, index=None):
    """``(box, node)``: ``value`` boxed on the recording level ``trace`` as a node without parents - an input
    (``fun`` None, ``node.args == (index,)``) or a value a recorded operation produced (``fun`` names it)."""
    node = _AccNode.__new__(_AccNode)
    node.parents = ()
    node.value = value
    node.fun = fun
    node.args = () if index is None else (index,)
    node.kwargs = {}
    node.argnums = ()
    return new_box(value, trace, node), node


def node_at(x, trace):
    """The recorded node of ``x`` (raw data or box) on trace level ``trace``, or None if it is not traced there."""
    b = _down_to(x, trace)
    return None if b is None else b._node


def untraced(leaf, trace):
    """``leaf`` (a dlarray, box or anything) without its boxes of level ``trace`` and above."""
    return _strip_leaf(leaf, trace)


def is_traceable(v) -> bool:
    """True for the values dlfeval traces: floating NumPy arrays and float scalars."""
    return _is_float_leaf(v)


class _Tape:
    """One dlfeval call: its trace level (and, for a dlaccelerate recording, the recorder)."""

    __slots__ = ("trace", "plain_gradients", "higher_used", "recorder")

    def __init__(self, trace, recorder=None):
        self.trace = trace
        self.recorder = recorder
        self.plain_gradients = False  # True once dlgradient returned untraced gradients in this dlfeval
        self.higher_used = False  # True once dlgradient(..., EnableHigherDerivatives=True) ran in this dlfeval


@contextmanager
def _new_trace():
    """A new trace level (autograd's ``trace_stack.new_trace``, but also left cleanly on an exception)."""
    trace_stack.top += 1
    try:
        yield trace_stack.top
    finally:
        trace_stack.top -= 1


def _is_float_leaf(v) -> bool:
    if isinstance(v, (float, np.floating)):
        return True
    return isinstance(v, np.ndarray) and v.dtype.kind in "fc"


_NEW = object.__new__


def _new_root(value):
    """The node of an input leaf: no parents, no call; ``value`` is the leaf's value."""
    node = _Node.__new__(_Node)
    node.parents = ()
    node.value = value
    node.fun = None
    return node


def _box_value(x, tape):
    return new_box(x, tape.trace, _new_root(x))


def _box_leaf(leaf, tape):
    t = type(leaf)
    if t is dlarray:
        data = data_of(leaf)
        if _is_float_leaf(getval(data)):
            return wrap_like(_box_value(data, tape), leaf)
        return leaf
    if isbox(leaf) or _is_float_leaf(leaf):
        return _box_value(leaf, tape)
    return leaf


def _strip_value(x, trace):
    while isbox(x) and x._trace >= trace:
        x = x._value
    return x


def _strip_leaf(leaf, trace):
    if type(leaf) is dlarray:
        data = data_of(leaf)
        return wrap_like(_strip_value(data, trace), leaf) if isbox(data) else leaf
    if isbox(leaf):
        return _strip_value(leaf, trace)
    return leaf


def dlfeval(fun, *args, **kwargs):
    """Evaluate ``fun(*args, **kwargs)`` with automatic differentiation enabled (MATLAB ``dlfeval``).

    Every floating array inside the arguments - dlarrays, NumPy arrays, and those nested in dicts,
    lists, tuples, Tables and dlnetworks - is traced, so ``fun`` may call :func:`dlgradient`. The
    outputs are returned untraced (plain values, dlarrays stay dlarrays).
    """
    if not callable(fun):
        _v.fail("dlfeval", "the first argument (fun)", "the function to evaluate, e.g. dlfeval(modelLoss, net, X, T)",
                fun, hint="In MATLAB it is a function handle, @modelLoss; in Python pass the function itself, not "
                          "the result of calling it.")
    if type(fun) is _ACCELERATED:  # dlfeval(dlaccelerate(modelLoss), ...): the trace cache (accelerate.py)
        return _ACCELERATED_CALL(fun, args, kwargs)
    if _recording.RECORDERS:  # the gradients of an inner dlfeval would be constants of the recording
        _recording.note("dlfeval")
    trace_stack.top += 1  # a new trace level (autograd's trace_stack.new_trace), left in `finally`
    trace = trace_stack.top
    tape = _Tape(trace)
    _TAPES.append(tape)
    try:
        def box(leaf):  # _box_leaf, with the common case (a dlarray of a float ndarray) inline
            if type(leaf) is dlarray:
                data = data_of(leaf)
                if type(data) is np.ndarray and data.dtype.kind in "fc":
                    node = _NEW(_Node)  # _new_root(data)
                    node.parents = ()
                    node.value = data
                    node.fun = None
                    box = _NEW(ArrayBox)  # ArrayBox(data, trace, node): Box.__init__'s three slot stores
                    box._value = data
                    box._node = node
                    box._trace = trace
                    return wrap_like(box, leaf)
            return _box_leaf(leaf, tape)

        def strip(leaf):  # _strip_leaf, with the common case (an untraced dlarray, e.g. a gradient) inline
            if type(leaf) is dlarray and type(data_of(leaf)) is np.ndarray:
                return leaf
            return _strip_leaf(leaf, trace)

        out = fun(*tree_map(box, args), **(tree_map(box, kwargs) if kwargs else {}))
        return tree_map(strip, out)
    finally:
        _TAPES.remove(tape)
        trace_stack.top -= 1


def _down_to(x, t):
    """The box of x on trace level t, or None if x is not traced there."""
    while isbox(x):
        if x._trace == t:
            return x
        if x._trace < t:
            return None
        x = x._value
    return None


def _find_tape(loss_raw):
    """The tape of the innermost dlfeval that recorded ``loss_raw`` (None if none did)."""
    traces = set()
    x = loss_raw
    while isbox(x):
        traces.add(x._trace)
        x = x._value
    for tape in reversed(_TAPES):
        if tape.trace in traces:
            return tape
    return None


def dlgradient(loss, *wrt, RetainData=False, EnableHigherDerivatives=False):
    """Gradients of a scalar ``loss`` with respect to traced inputs (MATLAB ``dlgradient``).

    ``dlgradient(loss, x)`` returns one gradient with the structure and dtypes of ``x`` (a dlarray, an
    array, a dict / list of them, a Table such as ``net.Learnables``); ``dlgradient(loss, x1, x2)``
    returns a tuple. Inputs the loss does not depend on get zeros.

    Only floating-point values are differentiated: an integer or logical array asked for directly raises an
    ArgumentError; integer / text / None entries inside a container get ``None``. A requested value the loss
    does not depend on gets zeros and a :class:`~dlteach.errors.DisconnectedGradientWarning` (the usual
    cause: a global network used inside the model loss function).

    ``EnableHigherDerivatives=True`` returns gradients that are themselves traced, so they can be used in
    the loss and differentiated again. ``RetainData`` is accepted for compatibility; the recorded graph is
    always kept until dlfeval returns.
    """
    if not wrt:
        raise ArgumentError("dlgradient needs what to differentiate with respect to: dlgradient(loss, parameters).")
    if loss is None:
        _v.fail("dlgradient", "the loss (first argument)", "a traced real scalar dlarray", None)
    for i, w in enumerate(wrt):
        if w is None or isinstance(w, str):
            _v.fail("dlgradient", f"argument {i + 2} (what to differentiate with respect to)",
                    "a traced dlarray or a container of them (e.g. net.Learnables)", w)
        if isinstance(w, dlnetwork):
            raise ArgumentError(
                f"dlgradient: argument {i + 2} is a dlnetwork. Differentiate with respect to its learnable "
                "parameters, the table net.Learnables:\n\n    gradients = dlgradient(loss, net.Learnables)\n\n"
                "(MATLAB: gradients = dlgradient(loss, net.Learnables)); then adamupdate(net, gradients, ...) "
                "updates the network."
            )
    raw_loss = data_of(loss)
    if not _TAPES:
        raise NotTracedError(_OUTSIDE_MESSAGE)
    if not isbox(raw_loss):
        if isinstance(loss, tuple):
            _v.fail("dlgradient", "the loss (first argument)", "a traced real scalar dlarray", loss,
                    hint="Unpack the outputs of the function that produced it and pass only the loss.")
        hint = ""
        if _TAPES and _TAPES[-1].plain_gradients:
            hint = (" This dlfeval already called dlgradient without EnableHigherDerivatives=True: those gradients "
                    "are plain (untraced) values, so a loss computed from them cannot be differentiated again. "
                    "To differentiate a gradient, request it with dlgradient(..., EnableHigherDerivatives=True).")
        raise NotTracedError(
            "The value to differentiate is not traced: it does not depend on any input of the function that "
            "dlfeval evaluates. Typical causes: the loss was computed from extractdata(...) or float(...) of a "
            "traced value (which cuts the trace), from arrays created inside the function, or from the outputs of "
            "a network that was not passed to dlfeval (a global `net` used inside the model loss function "
            "instead of its argument). Compute the loss from the traced inputs with dlarray / NumPy operations."
            + hint
        )
    tape = _find_tape(raw_loss)
    if tape is None or (tape.recorder is not None and not tape.recorder.gradients_allowed):
        raise NotTracedError(_OUTSIDE_MESSAGE)
    value = getval(raw_loss)
    vt = type(value)  # a real scalar (np.float32 / float64, or a 1-element float array) passes the checks below
    if vt is np.float32 or vt is np.float64 or (vt is np.ndarray and value.dtype.kind == "f" and value.size == 1):
        pass
    elif np.iscomplexobj(value):
        raise NonScalarLossError(
            "The value to differentiate is complex. dlgradient needs a real scalar: use a real loss such as "
            "np.sum(np.abs(Z)**2)."
        )
    elif np.size(value) != 1:
        raise NonScalarLossError(
            f"The value to differentiate is non-scalar (size {size_text(value)}); dlgradient needs a traced real "
            "dlarray scalar. Reduce it to one number first, e.g. loss = np.mean(...) or np.sum(...) (the loss "
            "functions crossentropy, mse, l2loss already return a scalar). For the derivative of every element, "
            "differentiate np.sum(Y)."
        )

    trace = tape.trace
    loss_box = _down_to(raw_loss, trace)
    if loss_box is None:
        raise NotTracedError(_OUTSIDE_MESSAGE)

    # the requested values, by their node on dlfeval's level
    wanted = {}

    flat = []  # per argument: its leaves and structure (a training loop asks for the same structure every time)
    for w in wrt:
        leaves, treedef = flatten_as(w, _LAST_WRT[0])
        if treedef.compiled:
            _LAST_WRT[0] = treedef
        flat.append((leaves, treedef))
        for leaf in leaves:
            raw = data_of(leaf)
            b = raw if type(raw) in box_types and raw._trace == trace else _down_to(raw, trace)
            if b is not None:
                wanted[b._node] = None
    if EnableHigherDerivatives:
        if tape.recorder is not None:
            _recording.note("higher")
        found = _replayed_gradients(loss_box._node, wanted, tape)
        tape.higher_used = True
    else:
        found = _backward(loss_box._node, wanted)
        tape.plain_gradients = True
    disconnected = []  # leaf indices (in tree order) of requested values the loss does not depend on

    def finish(leaf, index):
        raw = data_of(leaf)
        v = getval(raw)
        if not _is_float_leaf(v):
            if leaf is None or isinstance(leaf, str):
                return None
            dt = getattr(v, "dtype", None)
            if dt is None and isinstance(v, (bool, int, np.integer, np.bool_)):
                dt = np.asarray(v).dtype
            if dt is not None and dt.kind in "iub" and (leaf is top[0] or type(leaf) is dlarray):
                raise ArgumentError(
                    f"dlgradient: a value to differentiate with respect to is {_v.describe(leaf)}. Only "
                    "floating-point values are traced and differentiated (integers and logicals are constants: "
                    "their derivative is undefined). Make it floating-point BEFORE dlfeval, e.g. "
                    "x = dlarray(x.astype(np.float32)), and pass it to dlfeval."
                )
            return None
        b = _down_to(raw, trace)
        if b is None:
            raise NotTracedError(
                "dlgradient: one of the values to differentiate with respect to is not traced. Only inputs of the "
                "function evaluated by dlfeval (and values computed from them) can be differentiated. Pass it as an "
                "argument of dlfeval instead of creating it inside the function, and do not pass it through "
                "extractdata."
            )
        g = found.get(b._node)
        dtype = v.dtype if isinstance(v, np.ndarray) else np.asarray(v).dtype
        if g is None:
            disconnected.append(index)
            g = np.zeros(np.shape(v), dtype=dtype)
        elif not EnableHigherDerivatives:
            if isbox(g):  # an outer dlfeval's box (nested dlfeval): the gradient is a value here
                g = getval(g)
            if not isinstance(g, np.ndarray):
                g = np.asarray(g)
            if g.dtype != dtype:
                g = np.real(g) if np.iscomplexobj(g) and dtype.kind != "c" else g
                g = g.astype(dtype)
            if g.shape != np.shape(v):
                g = np.array(np.broadcast_to(g, np.shape(v)))
        else:
            if getattr(getval(g), "dtype", dtype) != dtype:
                g = g.astype(dtype) if isbox(g) else np.asarray(g, dtype=dtype)
        if type(leaf) is dlarray:
            return wrap_like(g, leaf)
        if isinstance(v, (float, np.floating)) and not isbox(g):
            return type(v)(np.asarray(g).reshape(()))
        return g

    grads = []
    top = [None]
    plain = not EnableHigherDerivatives
    for position, w in enumerate(wrt):
        top[0] = w
        del disconnected[:]
        leaves, treedef = flat[position]
        out = []
        for i, leaf in enumerate(leaves):
            raw = data_of(leaf)
            if plain and type(raw) in box_types and raw._trace == trace:
                # the common case: an input of this dlfeval, an ndarray gradient of its own shape and dtype
                g = found.get(raw._node)
                v = raw._value
                if type(g) is np.ndarray and type(v) is np.ndarray and g.dtype == v.dtype and g.shape == v.shape:
                    out.append(wrap_like(g, leaf) if type(leaf) is dlarray else g)
                    continue
            out.append(finish(leaf, i))
        grads.append(treedef.unflatten(out))
        # (not after a higher derivative: second derivatives are often structurally zero, e.g. for biases)
        if disconnected and WARN_DISCONNECTED and not tape.higher_used:
            _warn_disconnected(w, disconnected, len(wrt) > 1, position)
    if tape.recorder is not None and not EnableHigherDerivatives:  # dlaccelerate records this dlgradient call
        grads = tape.recorder.gradient_call(loss_box._node, wrt, grads)
    return grads[0] if len(grads) == 1 else tuple(grads)


#: the structure of the last value dlgradient differentiated with respect to (tree.flatten_as reuses it only if
#: identical: a training loop asks for the gradients of the same parameters every time)
_LAST_WRT = [None]


def _warn_disconnected(w, indices, several, position):
    """One DisconnectedGradientWarning naming the requested values the loss does not depend on."""
    prefix = f"argument {position + 2}" if several else ""
    names = [n.lstrip(".") or "the requested value" for n in _v.leaf_names(w, prefix)]
    listed = [names[i] if i < len(names) else "the requested value" for i in indices]
    shown = ", ".join(listed[:6]) + (f" and {len(listed) - 6} more" if len(listed) > 6 else "")
    if len(listed) == len(names) and len(names) > 1:
        what = f"any of the {len(names)} values you asked the gradient of ({shown}), so all their gradients are"
    else:
        what = f"{shown}, so {'its gradient is' if len(listed) == 1 else 'their gradients are'}"
    warnings.warn(
        f"dlgradient: the loss does not depend on {what} zero (MATLAB returns zeros too). The usual cause: the "
        "model loss function uses a global network or global parameters instead of its arguments - e.g. "
        "forward(net, X) on a `net` defined outside the function, while dlfeval traced the `net` it passed in. "
        "Use the function's own arguments. If a value really does not affect the loss (an unused layer), "
        "ignore this warning.",
        DisconnectedGradientWarning, stacklevel=3)


def _backward(loss_node, wanted):
    """Reverse pass from ``loss_node``: ``{node: d loss / d node}`` for the nodes of ``wanted``.

    Visits only the nodes on a path from the loss to a wanted node, and builds each node's VJPs only for
    the parents on such a path (autograd's ``vjp_argnums`` makers, given just those argnums).
    """
    uses = {}  # node -> number of children (crossentropy of a softmax, below)
    order = _toposort(loss_node, uses)  # children before parents
    useful = set()
    nondiff = _recording.NONDIFF
    for node in reversed(order):  # parents before children
        if node in wanted:
            useful.add(node)
            continue
        if node.fun in nondiff:  # recorded by dlaccelerate without a gradient (a comparison, ...)
            continue
        for parent in node.parents:
            if parent in useful:
                useful.add(node)
                break
    found = {}
    if loss_node not in useful:
        return found
    v = getval(loss_node.value)
    if isinstance(v, (np.ndarray, np.generic)):
        ones = np.array(1, v.dtype) if v.shape == () else np.ones(v.shape, v.dtype)
    else:
        ones = vspace(v).ones()
    outgrads = {loss_node: (ones, False)}  # autograd's (sum, mutable) pairs
    direct_vjps = DIRECT_VJPS
    for node in order:
        if node not in useful:
            continue
        entry = outgrads.pop(node, None)
        if entry is None:  # reaches the loss only through operations without a gradient
            continue
        g = entry[0]
        if node in wanted:
            found[node] = g
        parents = node.parents
        if not parents:
            continue
        if node.fun is scaled_sum:  # crossentropy of a softmax: the gradient of the logits Z in one step
            chain = softmax_crossentropy_chain(node, useful, wanted, uses)
            if chain is not None:
                e, y, z = chain
                gz = softmax_crossentropy_gradient(g, node.args[1], y.value, e.args[0], e.args[2], y.args[1])
                if gz is not None:  # E and Y (used only here) get no entry, so this loop passes over them
                    prev = outgrads.get(z)
                    outgrads[z] = (gz, False) if prev is None else add_outgrads(prev, gz)
                    continue
        if len(parents) == 1 and parents[0] in useful:
            argnums = node.argnums
            useful_parents = parents
        else:
            useful_parents = []
            argnums = []
            for a, p in zip(node.argnums, parents):
                if p in useful:
                    useful_parents.append(p)
                    argnums.append(a)
            if not useful_parents:  # a requested intermediate value: nothing to pass further back
                continue
            argnums = tuple(argnums)
        direct = direct_vjps.get(node.fun)
        if direct is not None:  # the fused primitives of a training step: one call, no closures
            ingrads = direct(g, argnums, node.value, *node.args, **node.kwargs)
        else:
            try:
                vjpmaker = primitive_vjps[node.fun]
            except KeyError:
                name = getattr(node.fun, "__name__", node.fun)
                raise NotImplementedError(f"The gradient (VJP) of {name} is not defined, so dlgradient cannot "
                                          "differentiate through it.") from None
            ingrads = vjpmaker(argnums, node.value, node.args, node.kwargs)(g)
        for parent, ingrad in zip(useful_parents, ingrads):
            prev = outgrads.get(parent)
            if prev is None and type(ingrad) is np.ndarray:  # add_outgrads' first arrival of a dense gradient
                outgrads[parent] = (ingrad, False)
            else:
                outgrads[parent] = add_outgrads(prev, ingrad)
    return found


def _toposort(end, uses=None):
    """The nodes ``end`` depends on, each after all of its children (as autograd's ``util.toposort``).

    ``uses`` (a dict), if given, receives per node the number of its children among these nodes (``end``: 1)."""
    child_counts = {}
    stack = [end]
    while stack:
        node = stack.pop()
        if node in child_counts:
            child_counts[node] += 1
        else:
            child_counts[node] = 1
            stack.extend(node.parents)
    if uses is not None:
        uses.update(child_counts)
    order = []
    ready = [end]
    while ready:
        node = ready.pop()
        order.append(node)
        for parent in node.parents:
            if child_counts[parent] == 1:
                ready.append(parent)
            else:
                child_counts[parent] -= 1
    return order


def _replayed_gradients(loss_node, wanted, tape):
    """Gradients that are themselves recorded on dlfeval's level (EnableHigherDerivatives=True).

    The graph from the inputs to the loss is called again, operation by operation, with every wanted
    value boxed once more on a new, higher trace level. The reverse pass on that level computes with
    the boxes of dlfeval's level, so the gradients it returns are recorded there.
    """
    order = _toposort(loss_node)
    with _new_trace() as upper:
        replayed = {}
        upper_wanted = {}
        for node in reversed(order):  # parents before children
            if not node.parents:  # an input leaf: its box on dlfeval's level
                value = new_box(node.value, tape.trace, node)
            else:
                args = list(node.args)
                for argnum, parent in zip(node.argnums, node.parents):
                    args[argnum] = replayed[parent]
                value = node.fun(*args, **node.kwargs)
            if node in wanted:
                if not (isbox(value) and value._trace == upper):
                    value = new_box(value, upper, _new_root(value))
                upper_wanted[value._node] = node
            replayed[node] = value
        top = replayed[loss_node]
        if not (isbox(top) and top._trace == upper):
            return {}
        found = _backward(top._node, upper_wanted)
    return {upper_wanted[n]: g for n, g in found.items()}

