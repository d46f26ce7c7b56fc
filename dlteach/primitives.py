"""Autograd primitives with hand-written, dtype-preserving VJPs.

HIPS autograd's own VJPs for ``maximum``/``minimum`` (and ``mean``, ``max``, ``where``) build float64
masks, so a float32 network would silently compute its backward pass in float64 (slower, and the
gradients come back as float64). The primitives here keep the dtype of the upstream gradient, and
their VJPs are written with autograd-traceable operations, so higher derivatives still work.

The fused ones (``affine``, ``softmax_axis``, ``relu``, ``neg_xlog_clamped``, ``scaled_sum``) replace
several recorded operations by one: each recorded node costs a few microseconds of Python, which is a
large part of a small network's training step. ``primitive`` and ``defvjp`` below are autograd's, with
the generic layers these functions do not need taken out.

*Decision:* EVERY dlteach primitive is made with this ``primitive`` / ``defvjp`` (here, in
``_spatial.py`` and in ``nnc.py``), never autograd's originals: one recording behaviour under one name.
None of dlteach's primitives is a NumPy ufunc or an untraced function, which is all autograd's extra
layers handle; the lean versions record the same nodes (the box of the highest trace level, parents,
argnums) in about half the time, and their VJPs still nest (higher derivatives through conv / pool /
the NNC layers are tested). ``defvjp_argnums`` (one VJP maker for several arguments, conv2d) stays
autograd's: it only registers the maker.
"""

from __future__ import annotations

import functools

import autograd.numpy as anp
import numpy as np
from autograd.core import translate_vjp
from autograd.extend import defvjp_argnums
from autograd.numpy.numpy_boxes import ArrayBox
from autograd.numpy.numpy_vjps import unbroadcast_f
from autograd.tracer import Box, box_types, getval, isbox, new_box


def primitive(f_raw):
    """autograd's ``primitive`` decorator, without what dlteach's own primitives never need.

    Records a call the same way (the boxes of the highest trace level are unboxed, the call is repeated
    for lower levels, a node of that box's node type is made), but skips autograd's ufunc dispatch and
    "notrace" table: none of these functions is a ufunc or untraced. About 1.5 µs per recorded call
    instead of 3, which is a few percent of a small network's training step. The common call (ArrayBoxes
    over ndarrays of one trace level at the leading positions of 1 to 3 arguments: relu, softmax_axis,
    scaled_sum, affine, neg_xlog_clamped in a training step) is recognised with a few type tests instead
    of the scan (2.4k - 4.3k fewer instructions per call); it records the same node.
    """

    @functools.wraps(f_raw)
    def f_wrapped(*args, **kwargs):
        # The common traced call first, unrolled for 1 to 3 positional arguments: ArrayBoxes over ndarrays
        # (not over boxes: no lower trace level), all of one trace level, at the leading positions - (box),
        # (box, constant), (box, box, box) or (box, box, constant). It sets what the general scan below
        # would (argvals, boxed, parents, top) with a few type tests instead of a loop.
        argvals = None
        n = len(args)
        if n == 1:
            a = args[0]
            if type(a) is ArrayBox:
                v = a._value
                if type(v) is _NDARRAY:
                    top, argvals, boxed, parents = a._trace, (v,), _ARGNUMS_0, (a._node,)
        elif n == 2:
            a, c = args
            if type(a) is ArrayBox and type(c) not in box_types:
                v = a._value
                if type(v) is _NDARRAY:
                    top, argvals, boxed, parents = a._trace, (v, c), _ARGNUMS_0, (a._node,)
        elif n == 3:
            a, b, c = args
            if type(a) is ArrayBox and type(b) is ArrayBox:
                top = a._trace
                v, w = a._value, b._value
                if type(v) is _NDARRAY and type(w) is _NDARRAY and b._trace == top:
                    if type(c) is ArrayBox:
                        u = c._value
                        if type(u) is _NDARRAY and c._trace == top:
                            argvals, boxed, parents = (v, w, u), _ARGNUMS_012, (a._node, b._node, c._node)
                    elif type(c) not in box_types:
                        argvals, boxed, parents = (v, w, c), _ARGNUMS_01, (a._node, b._node)
        if argvals is None:
            # the general scan: the boxes of the highest trace level are unboxed into argvals as they are found
            top = -1
            boxed = parents = None  # (trace levels are >= 0: t == top finds a box of a level seen)
            lower = False  # a box of a lower trace level (nested dlfeval): the call is repeated for it
            i = 0
            for a in args:
                if type(a) in box_types:
                    t = a._trace
                    if t == top:
                        v = argvals[i] = a._value
                        boxed.append(i)
                        parents.append(a._node)
                        if type(v) in box_types:
                            lower = True
                    elif t > top:
                        if top != -1:
                            lower = True
                        top = t
                        argvals = list(args)  # afresh: the boxes found so far are of a lower level
                        v = argvals[i] = a._value
                        boxed = [i]
                        parents = [a._node]
                        if type(v) in box_types:
                            lower = True
                    else:
                        lower = True
                i += 1
            if argvals is None:
                return f_raw(*args, **kwargs)
            argvals = tuple(argvals)
            boxed = tuple(boxed)
            parents = tuple(parents)
            ans = f_wrapped(*argvals, **kwargs) if lower else f_raw(*argvals, **kwargs)
        elif kwargs:
            ans = f_raw(*argvals, **kwargs)
        else:
            ans = f_raw(*argvals)
        nt = type(parents[0])
        if nt is _PLAIN_NODE[0]:  # dlfeval's node: its __init__ only sets these slots
            node = _new(nt)
            node.parents = parents
            node.value = ans
            node.fun = f_wrapped
            node.args = argvals
            node.kwargs = kwargs
            node.argnums = boxed
        else:
            node = nt(ans, f_wrapped, argvals, kwargs, boxed, parents)
        if type(ans) in _ARRAY_BOXED:  # new_box's choice for an ndarray or NumPy scalar, made directly
            box = _new(ArrayBox)
            box._value = ans
            box._node = node
            box._trace = top
            return box
        return new_box(ans, top, node)

    f_wrapped.fun = f_raw
    f_wrapped._is_autograd_primitive = True
    return f_wrapped


def untraced(x):
    """autograd's ``getval`` (the value under any boxes) as one loop, not two lambdas per level."""
    while type(x) in box_types:
        x = x._value
    return x


_new = object.__new__
_NDARRAY = np.ndarray
_ARGNUMS_0, _ARGNUMS_01, _ARGNUMS_012 = (0,), (0, 1), (0, 1, 2)
#: the value types that autograd boxes in an ArrayBox (ndarray, NumPy's scalar types)
_ARRAY_BOXED = frozenset(t for t, b in Box.type_mappings.items() if b is ArrayBox and t is not ArrayBox)
#: the node type whose nodes f_wrapped builds with ``object.__new__`` and six slot stores instead of a call:
#: dlfeval's (autodiff registers its ``_Node``, whose ``__init__`` sets exactly parents, value, fun, args,
#: kwargs, argnums). Any other node type (dlaccelerate's appends its nodes to a recording, autograd's VJPNode
#: computes VJPs) is called as usual.
_PLAIN_NODE = [None]


def set_plain_node_type(node_type):
    """Called once by autodiff.py with its node class (see ``_PLAIN_NODE``)."""
    _PLAIN_NODE[0] = node_type


def defvjp(fun, *vjpmakers, argnums=None):
    """autograd's ``defvjp``: one VJP maker per argument (``None``: a zero gradient), optionally for the
    given ``argnums``. Registered as one ``vjp_argnums`` function without autograd's per-call generator
    layers (the reverse pass asks for the VJPs of just the arguments it needs)."""
    makers = {a: translate_vjp(m, fun, a) for a, m in zip(range(len(vjpmakers)) if argnums is None else argnums,
                                                          vjpmakers)}

    def vjp_argnums(argnums, ans, args, kwargs):
        vjps = []
        for a in argnums:
            if a not in makers:
                raise NotImplementedError(f"VJP of {fun.__name__} wrt argnum {a} not defined")
            vjps.append(makers[a](ans, *args, **kwargs))
        if len(vjps) == 1:
            vjp = vjps[0]
            return lambda g: (vjp(g),)
        return lambda g: tuple([vjp(g) for vjp in vjps])

    defvjp_argnums(fun, vjp_argnums)


#: first-order VJPs of the hottest primitives as ONE call: ``vjps(g, argnums, ans, *args, **kwargs)`` returns the
#: gradients for ``argnums`` (a tuple / list in that order). The reverse pass of dlgradient uses them instead of
#: building a closure per argument (autograd's makers, still registered with defvjp for higher derivatives and
#: every other use); each computes exactly what its defvjp makers compute.
DIRECT_VJPS = {}


def _mask(cond, g):
    return np.asarray(cond, dtype=getattr(getval(g), "dtype", np.float64))


@primitive
def maximum(a, b):
    """Elementwise maximum. Gradient: to ``a`` where a > b, to ``b`` where b > a, split 1/2 on ties."""
    return np.maximum(a, b)


@primitive
def minimum(a, b):
    """Elementwise minimum. Gradient: to ``a`` where a < b, to ``b`` where b < a, split 1/2 on ties."""
    return np.minimum(a, b)


def _share(a, b, greater):
    a_, b_ = np.asarray(getval(a)), np.asarray(getval(b))
    win = (a_ > b_) if greater else (a_ < b_)
    return win + 0.5 * (a_ == b_)


defvjp(
    maximum,
    lambda ans, a, b: unbroadcast_f(a, lambda g: g * _mask(_share(a, b, True), g)),
    lambda ans, a, b: unbroadcast_f(b, lambda g: g * _mask(_share(b, a, True), g)),
)
defvjp(
    minimum,
    lambda ans, a, b: unbroadcast_f(a, lambda g: g * _mask(_share(a, b, False), g)),
    lambda ans, a, b: unbroadcast_f(b, lambda g: g * _mask(_share(b, a, False), g)),
)


# -------------------------------------------------------------------------------------------------
# max / min reductions (autograd's grad_chooser divides by an int64 count -> float64 gradients)

def _keep_shape(shape, axis):
    """Shape of a keepdims reduction of an array of ``shape`` over ``axis``."""
    if axis is None:
        return (1,) * len(shape)
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    axes = {int(a) % len(shape) for a in axes} if shape else set()
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


@primitive
def amax(x, axis=None, keepdims=False):
    """Maximum over ``axis``. Gradient: to the maximal elements, shared equally between ties."""
    return np.max(x, axis=axis, keepdims=keepdims)


@primitive
def amin(x, axis=None, keepdims=False):
    """Minimum over ``axis``. Gradient: to the minimal elements, shared equally between ties."""
    return np.min(x, axis=axis, keepdims=keepdims)


def _chooser_vjp(ans, x, axis=None, keepdims=False):
    xv = np.asarray(getval(x))
    kshape = _keep_shape(xv.shape, axis)
    win = xv == np.reshape(np.asarray(getval(ans)), kshape)
    weights = win / np.sum(win, axis=axis, keepdims=True)

    def vjp(g):
        return anp.reshape(g, kshape) * _mask(weights, g)

    return vjp


defvjp(amax, _chooser_vjp)
defvjp(amin, _chooser_vjp)


# -------------------------------------------------------------------------------------------------
# where (autograd's VJP selects against float64 zeros)

@primitive
def where(cond, x, y):
    """``np.where(cond, x, y)``. Gradient: to ``x`` where cond holds, to ``y`` elsewhere."""
    return np.where(cond, x, y)


def _where_vjp(pick_x):
    def maker(ans, cond, x, y):
        c = np.asarray(getval(cond), dtype=bool)
        sel = c if pick_x else ~c
        target = x if pick_x else y
        return unbroadcast_f(target, lambda g: g * _mask(np.broadcast_to(sel, np.shape(g)), g))

    return maker


defvjp(where, None, _where_vjp(True), _where_vjp(False))


# -------------------------------------------------------------------------------------------------
# tanh (autograd's VJP is g / cosh(x)**2, which overflows - with a RuntimeWarning - for |x| > ~710,
# or |x| > ~89 in float32)

@primitive
def tanh(x):
    """Hyperbolic tangent. Gradient: g * (1 - tanh(x)^2), finite and warning-free for large |x|."""
    return np.tanh(x)


defvjp(tanh, lambda ans, x: lambda g: g * (1.0 - ans * ans))


# -------------------------------------------------------------------------------------------------
# fused operations: one recorded node instead of several

@primitive
def affine(w, x, b):
    """``w @ x + b`` (fullyconnect's core) as one node; an N-D ``x`` (observation dims first, e.g. an
    h x w x c x N image batch) is flattened to ``w.shape[1]`` rows first, inside the node.
    VJPs: g xᵀ, (wᵀ g) in x's shape, and g summed to b's shape."""
    out = w @ _flat(x, w.shape[1])
    if type(b) is np.ndarray and b.dtype == out.dtype and b.shape in ((out.shape[0], 1), (1, 1)):
        out += b  # in place (a column of biases): one array less per call
        return out
    return out + b


def _flat(x, n_in):
    return x if x.ndim == 2 else x.reshape(n_in, -1)


def _affine_bias_vjp(ans, w, x, b):
    if np.shape(getval(b)) == np.shape(getval(ans))[:1] + (1,):  # one bias per output row: sum over columns
        return lambda g: g.sum(axis=1, keepdims=True)
    return unbroadcast_f(b, lambda g: g)


def _affine_x_vjp(ans, w, x, b):
    if x.ndim == 2:
        return lambda g: w.T @ g
    shape = x.shape
    return lambda g: (w.T @ g).reshape(shape)


# Operators and methods (``@``, ``.T``, ``.sum``, ``.reshape``) rather than autograd.numpy functions: on
# plain arrays (a first-order dlgradient) they are NumPy's own, on boxes (EnableHigherDerivatives) they
# are recorded.
defvjp(
    affine,
    lambda ans, w, x, b: lambda g: g @ _flat(x, w.shape[1]).T,
    _affine_x_vjp,
    _affine_bias_vjp,
)


def _affine_vjps(g, argnums, ans, w, x, b):
    out = []
    for a in argnums:
        if a == 0:
            out.append(g @ _flat(x, w.shape[1]).T)
        elif a == 1:
            out.append(w.T @ g if x.ndim == 2 else (w.T @ g).reshape(x.shape))
        elif type(g) is np.ndarray and type(b) is np.ndarray and b.shape == (g.shape[0], 1):
            out.append(np.add.reduce(g, axis=1, keepdims=True))  # what g.sum(axis=1, keepdims=True) calls
        else:
            out.append(_affine_bias_vjp(ans, w, x, b)(g))
    return out


DIRECT_VJPS[affine] = _affine_vjps


@primitive
def softmax_axis(x, axis):
    """Softmax along ``axis`` (shifted by the max for stability) as one node.

    VJP: y ⊙ (g − Σ_axis g ⊙ y), written with traceable operations so higher derivatives work.
    """
    x = np.asarray(x)
    e = x - np.maximum.reduce(x, axis=axis, keepdims=True)  # x.max(...), without ndarray.max's Python layer
    if e.dtype.kind != "f":  # integer scores
        e = e.astype(np.float64)
    np.exp(e, out=e)
    e /= np.add.reduce(e, axis=axis, keepdims=True)
    return e


defvjp(softmax_axis, lambda ans, x, axis: lambda g: ans * (g - (g * ans).sum(axis=axis, keepdims=True)))
def _softmax_vjps(g, argnums, ans, x, axis):
    if type(g) is np.ndarray and type(ans) is np.ndarray:  # the same operations, on arrays we own
        t = g * ans
        s = np.add.reduce(t, axis=axis, keepdims=True)
        np.subtract(g, s, out=t)
        t *= ans
        return (t,)
    return (ans * (g - (g * ans).sum(axis=axis, keepdims=True)),)


DIRECT_VJPS[softmax_axis] = _softmax_vjps


def is_softmax_output(y, axis) -> bool:
    """True if ``y`` is a traced value that :func:`softmax_axis` along ``axis`` just produced: probabilities
    that sum to one along that axis by construction, so crossentropy's logits check can skip the scan."""
    if type(y) not in box_types:
        return False
    node = y._node  # dlfeval's nodes record the call (autograd's own VJPNode, under autograd.grad, does not)
    return getattr(node, "fun", None) is softmax_axis and node.args[1] == axis


@primitive
def neg_xlog_clamped(t, y, eps):
    """``-t * log(max(y, eps))``, crossentropy's element loss, as one node.

    VJPs: ``-t / y`` for y (where y > eps, half at y == eps, as ``maximum`` splits ties; 0 below) and
    ``-log(max(y, eps))`` for t.
    """
    return -(t * np.log(np.maximum(y, eps)))


def _clamp_share(y, eps):
    y_ = np.asarray(getval(y))
    return (y_ > eps) + 0.5 * (y_ == eps)


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def _clamp_grad(out, y, eps):
    """The gradient of ``max(y, eps)`` applied to ``out`` (in place for an ndarray) when anything is clamped:
    ``out *= _mask(_clamp_share(y, eps), out)`` if ``min(y) <= eps`` (False with a NaN in y), else ``out``.

    For float32 / float64 ``y`` and ``out`` (``eps`` exact in that dtype) the share is found with comparisons
    in y's dtype, no float64 temporaries: with no tie (``y > eps`` or ``y < eps`` everywhere) it is the boolean
    ``y > eps``; otherwise it is ``heaviside(y - eps, 0.5)`` - exact, as ``y - eps`` is 0 only for y == eps and
    otherwise has the sign of the exact difference (IEEE arithmetic: a nonzero difference of two floats is at
    least the smallest subnormal).
    """
    if not np.minimum.reduce(y, axis=None) <= eps:  # nothing clamped (the usual case), or a NaN in y: no mask
        return out
    dt = y.dtype
    if (dt is _F32 or dt is _F64) and type(out) is np.ndarray and out.dtype is dt:
        e = dt.type(eps)
        if e == eps:
            above = y > e
            if np.count_nonzero(above) + np.count_nonzero(y < e) == y.size:  # no tie
                out *= above
            else:
                out *= np.heaviside(y - e, 0.5)
            return out
    out *= _mask(_clamp_share(y, eps), out)  # clamped entries: no gradient below eps, half of it at eps
    return out


def _neg_xlog_y_vjp(ans, t, y, eps):
    def vjp(g):
        if isbox(g) or isbox(y) or isbox(t):  # traced (higher derivatives): recordable operations
            return -g * t / maximum(y, eps) * _mask(_clamp_share(y, eps), g)
        y_ = np.asarray(y)
        out = g * t
        out /= np.maximum(y_, y_.dtype.type(eps))
        out *= -1
        return _clamp_grad(out, y_, eps)

    if np.shape(getval(y)) == np.shape(getval(ans)):
        return vjp
    return unbroadcast_f(y, vjp)


def _neg_xlog_t_vjp(ans, t, y, eps):
    return unbroadcast_f(t, lambda g: -g * anp.log(maximum(y, eps)))


defvjp(neg_xlog_clamped, _neg_xlog_t_vjp, _neg_xlog_y_vjp, argnums=(0, 1))


def _neg_xlog_vjps(g, argnums, ans, t, y, eps):
    if any(a not in (0, 1) for a in argnums):
        raise NotImplementedError("VJP of neg_xlog_clamped wrt eps not defined")
    if (argnums == (1,) and type(g) is np.ndarray and type(y) is np.ndarray and type(t) is np.ndarray
            and y.shape == g.shape):  # _neg_xlog_y_vjp's array branch, without its closure
        out = g * t
        out /= np.maximum(y, y.dtype.type(eps))
        out *= -1
        return (_clamp_grad(out, y, eps),)
    return [(_neg_xlog_t_vjp if a == 0 else _neg_xlog_y_vjp)(ans, t, y, eps)(g) for a in argnums]


DIRECT_VJPS[neg_xlog_clamped] = _neg_xlog_vjps


@primitive
def scaled_sum(x, scale):
    """``sum(x) * scale`` (a loss's reduction, e.g. the sum over all elements divided by the batch size)
    as one node. VJP: ``g * scale`` in every element, in x's dtype."""
    return (np.add.reduce(x, axis=None) if type(x) is np.ndarray else np.sum(x)) * scale


def _scaled_sum_vjp(ans, x, scale):
    v = getval(x)
    shape, dtype = np.shape(v), getattr(v, "dtype", np.dtype(float))
    return lambda g: g * np.full(shape, scale, dtype=dtype)


defvjp(scaled_sum, _scaled_sum_vjp)
def _scaled_sum_vjps(g, argnums, ans, x, scale):
    if type(g) is np.ndarray and type(x) is np.ndarray and g.ndim == 0 and g.dtype == x.dtype:
        out = np.empty(x.shape, x.dtype)  # g * full(scale): one value, written once
        out.fill(g * x.dtype.type(scale))
        return (out,)
    return (_scaled_sum_vjp(ans, x, scale)(g),)


DIRECT_VJPS[scaled_sum] = _scaled_sum_vjps


@primitive
def relu(x):
    """max(x, 0) in one pass. VJP: g where the output is positive (0 at x = 0, as MATLAB's relu)."""
    if type(x) is np.ndarray:
        return np.maximum(x, 0)  # a Python 0 keeps x's dtype (NEP 50), as x.dtype.type(0) does
    return np.maximum(x, x.dtype.type(0)) if hasattr(x, "dtype") else max(x, 0.0)


defvjp(relu, lambda ans, x: lambda g: g * (getval(ans) > 0))
DIRECT_VJPS[relu] = lambda g, argnums, ans, x: (g * ((ans if type(ans) is np.ndarray else getval(ans)) > 0),)


# -------------------------------------------------------------------------------------------------
# crossentropy of a softmax in the reverse pass: one step instead of three VJPs (autodiff and accelerate)

def softmax_crossentropy_chain(loss, useful, wanted, uses):
    """``(E, Y, Z)`` when the recorded ``loss`` node is ``scaled_sum(E)``, ``E = neg_xlog_clamped(T, Y, eps)`` and
    ``Y = softmax_axis(Z)``, with no other use on the way back (crossentropy of a softmax, the usual
    classification loss), else None. ``useful``: the nodes that pass gradients on; ``wanted``: the requested
    nodes; ``uses[node]``: how many recorded operations take ``node`` (at least those among ``useful``)."""
    if loss.fun is not scaled_sum or loss.argnums != (0,) or loss in wanted:
        return None
    e = loss.parents[0]
    if e.fun is not neg_xlog_clamped or e in wanted or 1 not in e.argnums:
        return None
    if 0 in e.argnums and e.parents[e.argnums.index(0)] in useful:  # the gradient of the targets is needed
        return None
    y = e.parents[e.argnums.index(1)]
    if y.fun is not softmax_axis or y in wanted or y.argnums != (0,) or y.parents[0] not in useful:
        return None
    if uses.get(e) != 1 or uses.get(y) != 1:
        return None
    shape = np.shape(getval(y.value))
    if np.shape(getval(e.value)) != shape or np.shape(getval(e.args[0])) != shape:
        return None
    return e, y, y.parents[0]


def softmax_crossentropy_gradient(g, scale, y, t, eps, axis):
    """d loss / d Z for ``loss = scale * sum(-T .* log(max(Y, eps)))``, ``Y = softmax(Z)`` along ``axis``, upstream
    gradient ``g`` (a NumPy scalar or 0-d array): ``(Y .* sum_axis(T) - T) * (g * scale)``, what hand-written
    backpropagation computes.

    Equal (up to rounding) to the chain of the three VJPs where no probability is clamped, and also where only
    probabilities with a zero target are (their gradient is zero either way). Otherwise - a clamped
    probability of a nonzero target, NaN, boxed (traced) values - None: the chain runs.
    """
    if (type(y) is not np.ndarray or type(t) is not np.ndarray or y.dtype != t.dtype or y.dtype.kind != "f"
            or not (type(g) is np.ndarray and g.ndim == 0 or isinstance(g, np.generic))):
        return None
    lo = np.minimum.reduce(y, axis=None)
    if not lo > eps and (lo != lo or not np.minimum.reduce(y, axis=None, where=t != 0, initial=np.inf) > eps):
        return None
    out = y * np.add.reduce(t, axis=axis, keepdims=True)
    out -= t
    out *= (g * scale).astype(y.dtype)
    return out
