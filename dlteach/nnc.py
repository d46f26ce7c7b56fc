"""Sony Neural Network Console (NNC) layers as functions, with NNC / nnabla semantics.

NNC counterpart: the layers of NNC's "Loss" and "Math / Arithmetic" groups (nnabla functions
``F.squared_error``, ``F.add2``, ...). They are written in NNC's spelling (``SquaredError``, ``Add2``)
so a notebook can rebuild an NNC graph line by line and compare it with MATLAB's losses.

Two things to learn from NNC:

1. **Loss layers are element-wise.** ``SquaredError(y, t)`` is ``(y - t)^2`` for every element - no 1/2,
   no mean. A "loss" is just the output of any element-wise network that ends in a terminal layer, so
   ``PowScalar(Sub2(y, t), 2)`` is the same loss as ``SquaredError(y, t)``.
2. **The optimised loss is formed by a rule** (:func:`nnc_loss`): NNC averages every terminal output of
   the network over all its elements and adds the averages.

Arguments may be dlarrays (formatted or not), NumPy arrays or Python numbers (for the 2-input layers
both must be arrays). Results are dlarrays; element-wise results keep the format of the first
formatted input. Everything is differentiable inside :func:`dlteach.dlfeval` and float32 stays float32.
The ``val`` of the scalar layers (AddScalar, MulScalar, PowScalar, RSubScalar) is a fixed number in NNC;
dlteach also accepts a one-element (d)array passed through dlfeval and differentiates it (a learnable scale).

Layout: NNC's data is N-first (N x C), dlteach's is MATLAB's (C x N). Only the categorical layers care:
their ``axis`` (the class axis) defaults to the 'C' dimension of a formatted dlarray and otherwise to
axis 0 (MATLAB's C x N layout) - note that nnabla's own default is the *last* axis (N x C data).
"""

from __future__ import annotations

import numbers

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval, isbox

from . import validate as _v
from .dlarray import isdlarray
from .errors import FormatError, ProbabilityError, SizeMismatchError
from .formats import as_single, data_of, fmt_of, is_single, reduced_format, result_format, size_text, to_single, wrap
from .primitives import defvjp, maximum, minimum, primitive

__all__ = [
    "SquaredError", "AbsoluteError", "HuberLoss", "BinaryCrossEntropy", "SigmoidCrossEntropy",
    "CategoricalCrossEntropy", "SoftmaxCrossEntropy", "Add2", "Sub2", "Mul2", "Div2", "Pow2", "AddScalar",
    "MulScalar", "PowScalar", "RSubScalar", "Abs", "Exp", "Log", "Sum", "Mean", "nnc_loss", "optimized_loss",
]

#: smallest normal float32, nnabla's clamp for the logarithms of the cross-entropy layers
FLT_MIN = float(np.finfo(np.float32).tiny)

_PROB_TOL = 1e-4


# -------------------------------------------------------------------------------------------------
# helpers

def _raw(x):
    """An operand's data: a dlarray's data (box while traced), a number, or an ndarray (integers become double)."""
    if isdlarray(x):
        return data_of(x)
    if isbox(x) or isinstance(x, numbers.Number):
        return x
    a = x if type(x) is np.ndarray else np.asarray(_v.array("nnc layer", "an input", x, "fiub",
                                                                   expected="a numeric array (a layer output)"))
    if a.dtype.kind not in "fiub" or a.dtype.kind == "f" and a.dtype.itemsize < 4:
        _v.array("nnc layer", "an input", a, "fiub")
    return a.astype(np.float64) if a.dtype.kind in "iub" else a


def _wrap(out, *operands):
    if is_single(*operands):
        out = to_single(out)
    return wrap(out, result_format(out, *operands))


def _unary(fun, x):
    return _wrap(fun(_raw(x)), x)


def _check_binary(name, x0, x1):
    """nnabla's rule for 2-input layers: same number of dimensions; a size may differ only where one is 1."""
    s0, s1 = np.shape(getval(_raw(x0))), np.shape(getval(_raw(x1)))
    if isinstance(x0, numbers.Number) or isinstance(x1, numbers.Number):
        raise TypeError(
            f"{name} takes two arrays (two layer outputs). For an array and a number use the scalar layers: "
            "AddScalar(x, val), MulScalar(x, val), PowScalar(x, val), RSubScalar(x, val)."
        )
    if len(s0) != len(s1) or any(a != b and a != 1 and b != 1 for a, b in zip(s0, s1)):
        raise SizeMismatchError(
            f"{name}: the inputs must have the same number of dimensions and equal sizes (a size may differ only "
            f"where one of them is 1), but they are {size_text(x0)} and {size_text(x1)}. NNC does not broadcast across a "
            "missing dimension: reshape one input (NNC: a Reshape layer) first."
        )


def _binary(name, fun, x0, x1):
    _check_binary(name, x0, x1)
    return _wrap(fun(_raw(x0), _raw(x1)), x0, x1)


@primitive
def _abs_nnabla(x, sign_at_zero):
    """|x| whose derivative is sign(x), with the given value (+1, -1 or 0) at x == 0; keeps the dtype."""
    return np.abs(x)


def _abs_vjp(ans, x, sign_at_zero):
    v = np.asarray(getval(x))
    s = np.where(v > 0, 1.0, np.where(v < 0, -1.0, float(sign_at_zero)))

    def vjp(g):
        return g * s.astype(getattr(getval(g), "dtype", np.float64), copy=False)

    return vjp


defvjp(_abs_nnabla, _abs_vjp, None)


@primitive
def _pow_scalar(x, val):
    return np.power(x, val)


def _pow_scalar_vjp_val(ans, x, val):
    """d(x^val)/dval = x^val ln x, summed to the scalar val; 0 where x = 0 and val >= 0 (as PyTorch)."""
    zero = anp.logical_and(anp.equal(x, 0), anp.greater_equal(val, 0))
    return lambda g: anp.sum(g * anp.where(zero, 0.0 * ans, ans * anp.log(anp.where(zero, 1.0, x))))


defvjp(_pow_scalar, lambda ans, x, val: lambda g: g * (val * _pow_scalar(x, val - 1.0)), _pow_scalar_vjp_val)


# -------------------------------------------------------------------------------------------------
# Loss layers (element-wise, no reduction)

def SquaredError(x0, x1):
    """NNC ``SquaredError`` (nnabla ``F.squared_error``): ``y = (x0 - x1)^2`` per element - no 1/2, no mean.

    Gradient ``2 (x0 - x1)``. Compare MATLAB: ``l2loss`` sums these and divides by the batch size;
    ``mse`` halves that.
    """
    _check_binary("SquaredError", x0, x1)
    d = _raw(x0) - _raw(x1)
    return _wrap(d * d, x0, x1)


def AbsoluteError(x0, x1):
    """NNC ``AbsoluteError``: ``y = |x0 - x1|``; gradient to x0 is +1 where x0 > x1, else -1 (also at 0)."""
    _check_binary("AbsoluteError", x0, x1)
    return _wrap(_abs_nnabla(_raw(x0) - _raw(x1), -1.0), x0, x1)


def HuberLoss(x0, x1, delta=1.0):
    """NNC ``HuberLoss``: d = x0 - x1; ``y = d^2`` if ``|d| < δ`` else ``δ(2|d| - δ)``.

    This is TWICE the textbook Huber loss (and MATLAB's ``huber``: 0.5 d^2 / δ|d| - 0.5 δ^2).
    Computed as ``q^2 + 2δ(|d| - q)``, ``q = min(|d|, δ)``; gradient ``2d`` inside, ``2δ sign(d)`` outside.
    """
    _check_binary("HuberLoss", x0, x1)
    delta = float(delta)
    if not delta > 0:
        raise ValueError(f"HuberLoss: delta must be positive; got {delta}.")
    a = _abs_nnabla(_raw(x0) - _raw(x1), 0.0)
    q = minimum(a, delta)
    return _wrap(q * q + (2.0 * delta) * (a - q), x0, x1)


def _check_probs(name, x, instead):
    v = np.asarray(getval(_raw(x)))
    if v.size and (np.nanmin(v) < -_PROB_TOL or np.nanmax(v) > 1.0 + _PROB_TOL):
        raise ProbabilityError(
            f"{name} expects probabilities (values between 0 and 1) but its input has values from "
            f"{float(np.nanmin(v)):.4g} to {float(np.nanmax(v)):.4g} - these look like logits. {instead}"
        )


def BinaryCrossEntropy(x, t):
    """NNC ``BinaryCrossEntropy``: ``y = -(t ln x + (1 - t) ln(1 - x))`` per element; x are probabilities.

    As in nnabla the logs are clamped: ``ln(max(x, FLT_MIN))``, ``ln(max(1 - x, FLT_MIN))`` (FLT_MIN ≈ 1.18e-38).
    t may be soft (between 0 and 1) and receives a gradient. dlteach raises a ProbabilityError if x is
    outside [0, 1] (NNC silently computes nonsense); for logits use :func:`SigmoidCrossEntropy`.
    """
    _check_binary("BinaryCrossEntropy", x, t)
    _check_probs("BinaryCrossEntropy", x, "Put a Sigmoid layer before it, or use SigmoidCrossEntropy on the logits.")
    xr, tr = _raw(x), _raw(t)
    y = -(tr * anp.log(maximum(xr, FLT_MIN)) + (1.0 - tr) * anp.log(maximum(1.0 - xr, FLT_MIN)))
    return _wrap(y, x, t)


def SigmoidCrossEntropy(x, t):
    """NNC ``SigmoidCrossEntropy``: BinaryCrossEntropy(Sigmoid(x), t) computed stably from the logits x.

    ``y = max(x, 0) - x t + ln(1 + e^-|x|)``; gradient to x is ``sigmoid(x) - t``. (nnabla passes no
    gradient to the integer label t; dlteach allows soft t and differentiates it: -x.)
    """
    _check_binary("SigmoidCrossEntropy", x, t)
    xr, tr = _raw(x), _raw(t)
    y = maximum(xr, 0.0) - xr * tr + anp.log1p(anp.exp(-_abs_nnabla(xr, 0.0)))
    return _wrap(y, x, t)


def _class_axis(x, axis, name):
    nd = np.ndim(getval(_raw(x)))
    if axis is None:
        f = fmt_of(x)
        axis = f.index("C") if "C" in f else 0
    if not -nd <= int(axis) < nd:
        raise ValueError(f"{name}: axis {axis} is out of range for an input with {nd} dimensions.")
    return int(axis) % nd


def _labels(x, t, axis, name):
    """Index labels t (size 1 on axis) -> (one-hot constant in x's dtype, valid-mask constant)."""
    xv = getval(_raw(x))
    xs = np.shape(xv)
    tv = np.asarray(getval(_raw(t)))  # labels are constants: never differentiated
    if fmt_of(t) and fmt_of(x) and fmt_of(t) != fmt_of(x):
        raise FormatError(
            f"{name}: the labels have format {fmt_of(t)!r} but x has format {fmt_of(x)!r}; they must match "
            "(or pass the labels unformatted, in x's layout)."
        )
    want = xs[:axis] + (1,) + xs[axis + 1:]
    if tv.shape != want:
        extra = ""
        if tv.shape == xs:
            extra = (" These look like one-hot targets: the NNC categorical layers take class INDICES (0, 1, 2, ...), "
                     f"e.g. t = np.argmax(T, axis={axis}, keepdims=True).")
        elif tv.size == int(np.prod(want)):
            extra = f" Reshape them: t.reshape({want})."
        raise SizeMismatchError(
            f"{name}: x is {size_text(x)} (classes along axis {axis}), so the labels t must have size "
            f"{size_text(tuple(want))} (one class index per prediction, size 1 on the class axis), but t is "
            f"{size_text(tv.shape)}.{extra}"
        )
    C = xs[axis]
    if tv.size and (np.any(tv != np.round(tv)) or np.any(tv >= C) or np.any((tv < 0) & (tv != -1))):
        raise ValueError(
            f"{name}: labels must be integer class indices 0..{C - 1} (or -1 to ignore a prediction); got values "
            f"from {tv.min():g} to {tv.max():g}."
        )
    classes = np.arange(C).reshape((1,) * axis + (C,) + (1,) * (len(xs) - axis - 1))
    dt = xv.dtype if xv.dtype.kind == "f" else np.float64
    onehot = (classes == tv).astype(dt)
    valid = (tv >= 0).astype(dt)
    return onehot, valid


def CategoricalCrossEntropy(x, t, axis=None):
    """NNC ``CategoricalCrossEntropy``: ``y = -ln x[t]`` per prediction; x are probabilities along ``axis``.

    ``t`` holds class INDICES with size 1 on ``axis`` (not one-hot); the output has x's size with size 1
    on ``axis``. A label of -1 means "ignore": loss 0 and no gradient. Log clamped at FLT_MIN as in nnabla.
    ``axis`` defaults to the 'C' dimension of a formatted x, else 0 (MATLAB's C x N layout; nnabla's
    default is the last axis). For logits use :func:`SoftmaxCrossEntropy`.
    """
    name = "CategoricalCrossEntropy"
    axis = _class_axis(x, axis, name)
    _check_probs(name, x, "Put a Softmax layer before it, or use SoftmaxCrossEntropy on the logits.")
    onehot, valid = _labels(x, t, axis, name)
    xr = _raw(x)
    picked = anp.sum(xr * onehot, axis=axis, keepdims=True) + (1.0 - valid)  # ignored -> 1, ln 1 = 0
    y = -anp.log(maximum(picked, FLT_MIN)) * valid
    return _wrap(y, x)


def SoftmaxCrossEntropy(x, t, axis=None):
    """NNC ``SoftmaxCrossEntropy``: ``y = -ln softmax(x)[t]`` per prediction, from logits (via log-softmax).

    Same label convention as :func:`CategoricalCrossEntropy` (indices, size 1 on ``axis``, -1 ignored).
    Gradient ``softmax(x) - onehot(t)`` (0 for ignored predictions).
    """
    name = "SoftmaxCrossEntropy"
    axis = _class_axis(x, axis, name)
    onehot, valid = _labels(x, t, axis, name)
    xr = _raw(x)
    shift = np.max(getval(xr), axis=axis, keepdims=True)  # constant: log-softmax is shift-invariant
    z = xr - shift
    logp = z - anp.log(anp.sum(anp.exp(z), axis=axis, keepdims=True))
    y = -anp.sum(logp * onehot, axis=axis, keepdims=True) * valid
    return _wrap(y, x)


# -------------------------------------------------------------------------------------------------
# Math / Arithmetic layers

def Add2(x0, x1):
    """NNC ``Add2``: ``x0 + x1`` (same ndim; sizes may differ only where one is 1)."""
    return _binary("Add2", anp.add, x0, x1)


def Sub2(x0, x1):
    """NNC ``Sub2``: ``x0 - x1``."""
    return _binary("Sub2", anp.subtract, x0, x1)


def Mul2(x0, x1):
    """NNC ``Mul2``: ``x0 * x1`` (element-wise)."""
    return _binary("Mul2", anp.multiply, x0, x1)


def Div2(x0, x1):
    """NNC ``Div2``: ``x0 / x1`` (element-wise)."""
    return _binary("Div2", anp.true_divide, x0, x1)


def Pow2(x0, x1):
    """NNC ``Pow2``: ``x0 ** x1``; gradients ``x1 x0^(x1-1)`` and ``ln(x0) x0^x1``."""
    return _binary("Pow2", anp.power, x0, x1)


def _scalar_layer(name, fun, x, val):
    """``fun(x, val)`` for the scalar layers. In NNC ``val`` is a fixed layer property (a number); dlteach
    also takes a one-element array or dlarray, traced or not, and then differentiates with respect to it
    and applies the single-wins rule to it (a float64 val never upcasts a float32 x)."""
    if isinstance(val, (int, float)):  # Python numbers (and bool, np.float64): the NNC case
        return _unary(lambda r: fun(r, float(val)), x)
    v = data_of(val) if isdlarray(val) else val
    if np.asarray(getval(v)).dtype.kind not in "fiub":
        raise _v.ArgumentError(
            f"{name}(x, val): val must be a real number (or a one-element array or dlarray), not "
            f"{type(val).__name__}."
        )
    if np.size(getval(v)) != 1:
        raise _v.ArgumentError(
            f"{name}(x, val): val must be one number, but it has size {size_text(v)}. For an element-wise "
            f"operation of two arrays use the 2-input layer ({_TWO_INPUT[name]})."
        )
    if isbox(v):
        v = anp.reshape(v, ())
    else:
        v = np.reshape(np.asarray(v), ())
        if v.dtype.kind != "f":
            v = v.astype(np.float64)
    r = _raw(x)
    if is_single(r, v):
        r, v = as_single(r), as_single(v)
    return _wrap(fun(r, v), x, v)


_TWO_INPUT = {"AddScalar": "Add2", "MulScalar": "Mul2", "PowScalar": "Pow2", "RSubScalar": "Sub2"}


def AddScalar(x, val=1.0):
    """NNC ``AddScalar``: ``x + val`` (default val = 1). A traced val gets the gradient ``sum(dL/dy)``."""
    return _scalar_layer("AddScalar", anp.add, x, val)


def MulScalar(x, val=1.0):
    """NNC ``MulScalar``: ``val * x`` (default val = 1). A traced val gets ``sum(x dL/dy)``."""
    return _scalar_layer("MulScalar", anp.multiply, x, val)


def PowScalar(x, val=1.0):
    """NNC ``PowScalar``: ``x ** val`` (default val = 1); gradient ``val x^(val-1)`` (and ``sum(x^val ln x dL/dy)``
    for a traced val)."""
    return _scalar_layer("PowScalar", _pow_scalar, x, val)


def RSubScalar(x, val=1.0):
    """NNC ``RSubScalar``: ``val - x`` (default val = 1). A traced val gets ``sum(dL/dy)``."""
    return _scalar_layer("RSubScalar", lambda r, v: v - r, x, val)


def Abs(x):
    """NNC ``Abs``: ``|x|``; gradient sign(x) with **+1 at x = 0** as in nnabla (autograd's abs uses 0)."""
    return _unary(lambda r: _abs_nnabla(r, 1.0), x)


def Exp(x):
    """NNC ``Exp``: ``e^x``."""
    return _unary(anp.exp, x)


def Log(x):
    """NNC ``Log``: ``ln x`` (no clamping: ln 0 = -inf as in nnabla)."""
    return _unary(anp.log, x)


def _axes(x, axes):
    nd = np.ndim(getval(_raw(x)))
    if axes is None:
        return tuple(range(nd))
    if isinstance(axes, numbers.Integral):
        axes = (axes,)
    return tuple(sorted({int(a) % nd for a in axes}))


def _reduce(name, x, axes, keep_dims, mean):
    r = _raw(x)
    if not (isbox(r) or isinstance(r, np.ndarray)):
        r = np.asarray(r)
    ax = _axes(x, axes)
    out = anp.sum(r, axis=ax, keepdims=keep_dims)
    if mean:
        n = int(np.prod([np.shape(getval(r))[a] for a in ax]))
        out = out * (1.0 / n)
    if is_single(r):
        out = to_single(out)
    nd = np.ndim(getval(r))
    fmt = reduced_format(fmt_of(x), nd, ax, keep_dims) if np.ndim(getval(out)) else ""
    return wrap(out, fmt)


def Sum(x, axes=None, keep_dims=False):
    """NNC ``Sum``: sum over ``axes`` (default: all), ``keep_dims`` keeps them with size 1."""
    return _reduce("Sum", x, axes, keep_dims, mean=False)


def Mean(x, axes=None, keep_dims=False):
    """NNC ``Mean``: mean over ``axes`` (default: all), ``keep_dims`` keeps them with size 1."""
    return _reduce("Mean", x, axes, keep_dims, mean=True)


# -------------------------------------------------------------------------------------------------
# the loss NNC optimises

def nnc_loss(*terminal_outputs):
    """The loss NNC minimises for a network whose terminal (final) layers output ``terminal_outputs``.

    NNC's rule (tutorial "Using original loss functions", in our words): NNC averages the output values of
    each final layer of the network selected for the Optimizer (CONFIG tab) and minimises the sum of those
    averages. So ``loss = Σ_k mean(terminal_k)`` - a network with two terminal layers trains exactly like
    one that explicitly averages both outputs and adds them with Mean / Add2 layers.

    Accepts the terminal outputs as separate arguments or as one list. Returns an unformatted scalar dlarray
    (differentiable inside dlfeval). Alias: ``optimized_loss``.
    """
    if len(terminal_outputs) == 1 and isinstance(terminal_outputs[0], (list, tuple)):
        terminal_outputs = tuple(terminal_outputs[0])
    if not terminal_outputs:
        raise _v.ArgumentError("nnc_loss needs at least one terminal output: nnc_loss(y1, y2, ...).")
    total = None
    single = False
    for y in terminal_outputs:
        m = data_of(Mean(y))
        single = single or is_single(m)
        total = m if total is None else total + m
    if single:
        total = to_single(total)
    return wrap(total, "")


optimized_loss = nnc_loss
