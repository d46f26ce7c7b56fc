"""Model-function operations on dlarrays, in MATLAB's data layout.

MATLAB counterparts: ``fullyconnect``, ``dlconv``, ``dltranspconv``, ``batchnorm``, ``relu``, ``leakyrelu``, ``sigmoid``,
``tanh``, ``softmax``, ``maxpool``, ``avgpool``, ``onehotencode``, ``onehotdecode`` (+ ``dropout``,
which MATLAB only has as a layer).

Inputs are formatted dlarrays (e.g. "SSCB" images, "CB" features); an unformatted input needs
``DataFormat="..."`` and then gives an unformatted output, as in MATLAB. Everything is differentiable
inside :func:`dlteach.dlfeval` and keeps float32 as float32.
"""

from __future__ import annotations

import math

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval, isbox

from . import _recording
from . import primitives as _prim
from . import validate as _v
from .dlarray import dlarray, isdlarray
from .errors import FormatError, SizeMismatchError, SpatialArgumentError
from .formats import (
    apply_format,
    as_single,
    data_of,
    fmt_of,
    size_text,
    value_of,
    wrap,
    wrap_like,
)

# -------------------------------------------------------------------------------------------------
# helpers

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)

# The raw function of the fused softmax primitive: with an untraced (ndarray) operand the primitive calls just
# this, so the common untraced call of softmax calls it directly (the same result, without the primitive's look
# for boxes). fullyconnect and relu compute what affine / relu would inline (w @ x, += b; np.maximum(x, 0)).
_SOFTMAX = _prim.softmax_axis.fun
_untraced = _prim.untraced


def _float_data(X):
    """The data of a dlarray X holding (or, traced, boxing) a float32 / float64 ndarray: the common input,
    which needs no validation; None for anything else."""
    if type(X) is dlarray:
        d = data_of(X)
        v = _untraced(d)
        if type(v) is np.ndarray:
            dt = v.dtype
            if dt is _F32 or dt is _F64:
                return d
    return None


def _x(X, fname, name="X"):
    """Raw floating data of an input array (dlarray, array or box), validated (None, dtype, ...)."""
    d = _float_data(X)
    return d if d is not None else _v.array(fname, name, X, "f")


def _prepare(X, DataFormat, fname):
    """Return (raw data in MATLAB order, format, output-is-formatted)."""
    fmt = fmt_of(X)
    if fmt:
        if DataFormat is not None:
            raise FormatError(f"{fname}: X is already formatted ({fmt!r}); do not also pass DataFormat.")
        return _x(X, fname), fmt, True
    raw = _x(X, fname)
    if DataFormat is None:
        raise FormatError(
            f"{fname} needs to know which dimension is which: pass a formatted dlarray, e.g. "
            f"X = dlarray(X, 'SSCB') for images or dlarray(X, 'CB') for feature vectors, "
            f"or give the format of unformatted data with DataFormat='CB'."
        )
    data, fmt = apply_format(raw, _v.data_format(fname, "DataFormat", DataFormat))
    return data, fmt, False


def _out(data, fmt, formatted):
    return wrap(data, fmt if formatted else "")


def _param(p, fname="", name="the parameter"):
    """Raw floating data of a parameter (dlarray or array), validated; keeps traced boxes."""
    if type(p) is dlarray:
        d = data_of(p)
    elif isbox(p) or type(p) is np.ndarray:
        d = p
    else:
        d = None
    if d is not None:
        dt = getattr(getval(d), "dtype", None)
        if dt is not None and dt.kind == "f" and dt.itemsize >= 4:  # the common case
            return d
    d = _v.array(fname, name, p, "fiu")
    return np.asarray(d, dtype=np.float64) if getval(d).dtype.kind in "iu" else d  # integers are MATLAB doubles


def _dtype(x):
    return getval(x).dtype


def _single_wins(*raws):
    """MATLAB's single-wins rule: when any operand is float32, the float64 ones are cast to float32.

    Applies to the data as well as to the parameters: a float32 network given float64 data (NumPy's
    default) computes, and returns, float32. The casts of traced values are recorded, so gradients
    come back in each input's own dtype.
    """
    f32 = f64 = False
    for r in raws:
        dt = getval(r).dtype
        if dt == _F32:
            f32 = True
        elif dt == _F64:
            f64 = True
    if f32 and f64:
        return tuple(as_single(r) for r in raws)
    return raws


def _pair(v, name, fname=""):
    return _v.pair(fname, name, v, 1)


def _padding(Padding, in_hw, filter_hw, stride, dilation, fname=""):
    from . import _spatial

    p = _v.padding(fname, "Padding", Padding)
    if p == "same":
        return _spatial.same_padding(in_hw, filter_hw, stride, dilation)
    if (in_hw[0] + p[0] + p[1]) * (in_hw[1] + p[2] + p[3]) > _MAX_PADDED_PIXELS:
        _v.fail(fname, "Padding", f"a padding that keeps the padded image below {_MAX_PADDED_PIXELS} pixels", Padding,
                hint=f"The input is {in_hw[0]}x{in_hw[1]}: padding adds rows and columns of zeros on each side, "
                     "usually a few (e.g. (filterSize - 1) / 2), or use Padding='same'.")
    return ((p[0], p[1]), (p[2], p[3]))


#: padding that makes an image larger than this (per channel and observation) is refused before allocating
_MAX_PADDED_PIXELS = 2**26


def _channel_axis(fmt, fname):
    if "C" not in fmt:
        raise FormatError(f"{fname} needs a channel dimension 'C' in the format; got {fmt!r}.")
    return fmt.index("C")


def _spatial_check(fmt, fname):
    if fmt not in ("SSCB", "SSC"):
        raise FormatError(
            f"{fname} works on 2-D images with format 'SSCB' (height x width x channels x observations) or one "
            f"unbatched image 'SSC'; got {fmt!r}. Use dlarray(X, 'SSCB')."
        )


def _spatial_input(X, DataFormat, fname):
    """(H x W x C x N raw data, format, formatted, unbatched): one "SSC" image gets N = 1 for the kernel."""
    x, fmt, formatted = _prepare(X, DataFormat, fname)
    _spatial_check(fmt, fname)
    if fmt == "SSC":
        return anp.reshape(x, np.shape(getval(x)) + (1,)), fmt, formatted, True
    return x, fmt, formatted, False


def _spatial_output(y, fmt, formatted, unbatched):
    if unbatched:
        y = anp.reshape(y, np.shape(getval(y))[:3])
    return _out(y, fmt, formatted)


# -------------------------------------------------------------------------------------------------
# operations

def fullyconnect(X, weights, bias, DataFormat=None):
    """Fully connected operation (MATLAB ``fullyconnect``): Y = W * X + b for each observation.

    All S, C (and U) dimensions of an observation are flattened into one input vector; W is
    OutputSize x InputSize (or OutputSize x h x w x c), b has OutputSize elements. Output "CB"
    (or "CBT" with a time dimension).

    Flattening order: an h x w x c observation is flattened in C (row-major) order, so a 2-D weight
    matrix equals the 4-D weights reshaped with ``W4.reshape(OutputSize, -1)``. (MATLAB flattens
    column-major: weights exported from MATLAB as OutputSize x InputSize must be reordered.)
    """
    if type(X) is dlarray and DataFormat is None:
        # The common call, checked inline: X a formatted float32 / float64 dlarray whose last dimension is its
        # only observation dimension (B or T: "CB", "SSCB", "CT", ...), weights a matrix OutputSize x InputSize
        # and bias a column of OutputSize values (dlarrays, arrays or boxes), all of X's dtype. Nothing is then
        # wrong or to be converted, and the result is the general code's. Anything else: the general code below.
        fmt = fmt_of(X)
        plan = _FC_FORMATS.get(fmt) if fmt else None
        if plan is None and fmt and fmt not in _FC_FORMATS:
            plan = _fc_format(fmt)
        if plan is not None:
            x, w, b = data_of(X), data_of(weights), data_of(bias)
            untraced = type(x) is np.ndarray and type(w) is np.ndarray and type(b) is np.ndarray
            if untraced:
                xv, wv, bv = x, w, b
            else:
                xv, wv, bv = _untraced(x), _untraced(w), _untraced(b)
            if untraced or type(xv) is np.ndarray and type(wv) is np.ndarray and type(bv) is np.ndarray:
                dt, shape, wshape = xv.dtype, xv.shape, wv.shape
                first = plan[0]
                if ((dt is _F32 or dt is _F64) and wv.dtype is dt and bv.dtype is dt and len(shape) == first + 1
                        and len(wshape) == 2 and bv.shape == (wshape[0], 1)
                        and wshape[1] == (shape[0] if first == 1 else math.prod(shape[:first]))):
                    if untraced:  # what the primitive would compute (affine: b is a column of out's dtype)
                        out = w @ (x if first == 1 else x.reshape(wshape[1], -1))
                        out += b
                        return wrap(out, plan[1])
                    return wrap(_prim.affine(w, x, b), plan[1])  # w @ x + b (N-D x: flattened in the node)
    x, fmt, formatted = _prepare(X, DataFormat, "fullyconnect")
    w, b = _param(weights, "fullyconnect", "weights"), _param(bias, "fullyconnect", "bias")
    if "B" in fmt:
        first = fmt.index("B")
    elif "T" in fmt:
        first = fmt.index("T")
    else:
        first = len(fmt)
    xv = getval(x)
    shape = xv.shape
    n_in = math.prod(shape[:first])
    rest = shape[first:]
    wv, bv = getval(w), getval(b)
    if not (xv.dtype == wv.dtype == bv.dtype):  # single wins
        x, w, b = _single_wins(x, w, b)
        wv, bv = getval(w), getval(b)
    wshape, bshape = wv.shape, bv.shape
    n_out = wshape[0]
    if math.prod(wshape[1:]) != n_in:
        raise SizeMismatchError(
            f"fullyconnect: the weights are {size_text(wshape)}, so each observation must have "
            f"{math.prod(wshape[1:])} input values, but X ({fmt}, size {size_text(shape)}) has "
            f"{n_in} per observation. Weights must be OutputSize x InputSize."
        )
    if math.prod(bshape) not in (1, n_out):
        raise SizeMismatchError(f"fullyconnect: bias has {math.prod(bshape)} elements; expected OutputSize = {n_out}.")
    # reshape only where needed: every reshape of a traced array is one more recorded operation
    w2 = anp.reshape(w, (n_out, n_in)) if len(wshape) != 2 else w
    # an N-D batch whose observation dims come first (H x W x C x N) is flattened inside affine's node
    x2 = x if (len(shape) == 2 and first == 1) or len(rest) == 1 else anp.reshape(x, (n_in, -1))
    if bshape not in ((n_out, 1), (1, 1)):
        b2 = anp.reshape(b, (-1, 1)) if math.prod(bshape) == n_out else anp.reshape(b, (1, 1))
    else:
        b2 = b
    y = _prim.affine(w2, x2, b2)  # w2 @ x2 + b2 as one recorded operation
    if len(rest) != 1:
        y = anp.reshape(y, (n_out,) + tuple(rest))
    return _out(y, "C" + fmt[first:], formatted)


#: format of X -> (index of its first observation dimension, B or T; format of the output), None if it has neither
_FC_FORMATS: dict = {}


def _fc_format(fmt):
    first = fmt.find("B")
    if first < 0:
        first = fmt.find("T")
    plan = _FC_FORMATS[fmt] = (first, "C" + fmt[first:]) if first >= 0 else None
    return plan


def dlconv(X, weights, bias, Stride=1, Padding=0, DilationFactor=1, DataFormat=None):
    """2-D convolution (MATLAB ``dlconv``; deep-learning convolution = cross-correlation).

    X: H x W x C x N ("SSCB"); weights: h x w x C x F; bias: F values. Output (Ho x Wo x F x N) with
    Ho = floor((H + pad_top + pad_bottom - ((h-1)*d + 1)) / stride) + 1. ``Padding="same"`` keeps
    Ho = ceil(H / stride).
    """
    from . import _spatial

    x, fmt, formatted, unbatched = _spatial_input(X, DataFormat, "dlconv")
    x, w, b = _single_wins(x, _param(weights, "dlconv", "weights"), _param(bias, "dlconv", "bias"))
    wshape = np.shape(getval(w))
    if len(wshape) == 3:
        w = anp.reshape(w, wshape + (1,))
        wshape = wshape + (1,)
    if len(wshape) != 4:
        raise SizeMismatchError(f"dlconv: weights must be h x w x C x F; got size {size_text(wshape)}.")
    C = np.shape(getval(x))[2]
    if wshape[2] != C:
        raise SizeMismatchError(
            f"dlconv: the input has {C} channels but the weights expect {wshape[2]} "
            f"(weights {size_text(wshape)} are h x w x C x F)."
        )
    stride = _pair(Stride, "Stride", "dlconv")
    dilation = _pair(DilationFactor, "DilationFactor", "dlconv")
    pad = _padding(Padding, np.shape(getval(x))[:2], wshape[:2], stride, dilation, "dlconv")
    y = _spatial.conv2d(x, w, stride=stride, padding=pad, dilation=dilation)
    F = wshape[3]
    nb = int(np.size(getval(b)))
    if nb == F:
        y = y + anp.reshape(b, (1, 1, F, 1))
    elif nb == 1:
        y = y + anp.reshape(b, (1, 1, 1, 1))
    else:
        raise SizeMismatchError(f"dlconv: bias has {nb} elements; expected one per filter ({F}).")
    return _spatial_output(y, fmt, formatted, unbatched)


def dltranspconv(X, weights, bias, Stride=1, DilationFactor=1, Cropping=0, DataFormat=None):
    """Transposed 2-D convolution (MATLAB ``dltranspconv``), the adjoint ("transpose") of ``dlconv``.

    X: H x W x C x N ("SSCB", or one "SSC" image); weights: h x w x F x C (F = numFilters = output
    channels, C = input channels: MATLAB's order, the reverse of dlconv's); bias: F values. Each input
    pixel spreads ``x[i, j, c] * w[:, :, f, c]`` over an h x w output window placed ``Stride`` apart,
    then ``Cropping`` rows/columns are removed:
    Ho = (H - 1) * stride + (h - 1) * d + 1 - crop_top - crop_bottom. ``Cropping``: integer, [h w],
    [t b l r] or "same" (output = stride * input; the odd extra row is cropped at the bottom/right).
    Same numbers as ``torch.nn.functional.conv_transpose2d`` with weight ``w.transpose(3, 2, 0, 1)``.
    """
    from . import _spatial

    x, fmt, formatted, unbatched = _spatial_input(X, DataFormat, "dltranspconv")
    x, w, b = _single_wins(x, _param(weights, "dltranspconv", "weights"), _param(bias, "dltranspconv", "bias"))
    wshape = np.shape(getval(w))
    if len(wshape) == 3:
        w = anp.reshape(w, wshape + (1,))
        wshape = wshape + (1,)
    if len(wshape) != 4:
        raise SizeMismatchError(f"dltranspconv: weights must be h x w x F x C; got size {'x'.join(map(str, wshape))}.")
    C = np.shape(getval(x))[2]
    if wshape[3] != C:
        hint = (" (dlconv's weights are h x w x C x F; dltranspconv's are h x w x F x C: swap dimensions 3 and 4)"
                if wshape[2] == C else "")
        raise SizeMismatchError(
            f"dltranspconv: the input has {C} channels but the weights expect {wshape[3]} "
            f"(weights {'x'.join(map(str, wshape))} are h x w x F x C){hint}."
        )
    y = _spatial.conv2d_transpose(x, w, stride=_pair(Stride, "Stride", "dltranspconv"), cropping=Cropping,
                                  dilation=_pair(DilationFactor, "DilationFactor", "dltranspconv"))
    F = wshape[2]
    nb = int(np.size(getval(b)))
    if nb == F:
        y = y + anp.reshape(b, (1, 1, F, 1))
    elif nb == 1:
        y = y + anp.reshape(b, (1, 1, 1, 1))
    else:
        raise SizeMismatchError(f"dltranspconv: bias has {nb} elements; expected one per filter ({F}).")
    return _spatial_output(y, fmt, formatted, unbatched)


def _bn_shape(fmt, c_axis, C):
    shape = [1] * len(fmt)
    shape[c_axis] = C
    return tuple(shape)


class BatchnormOutputs(tuple):
    """The three outputs ``(Y, mu, sigmaSq)`` of ``batchnorm(X, offset, scale)``: a tuple to unpack.

    MATLAB returns only Y when one output is requested (``Y = batchnorm(X, offset, scale)``); Python
    cannot know how many outputs the caller wants, so the three come back together. Unpack them
    (``Y, mu, sigmaSq = batchnorm(...)``) or take the first (``batchnorm(...)[0]``). Using the tuple as
    if it were Y (arithmetic, NumPy functions, any dlteach function) raises an ArgumentError that says
    so, instead of NumPy's "'>' not supported between 'float' and 'tuple'" (or, for ``2 * Y``, a
    silently repeated tuple).
    """

    __slots__ = ()
    __array_priority__ = 2000

    def _misuse(self, *args, **kwargs):
        raise _v.ArgumentError(_BATCHNORM_TUPLE_TEXT)

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _misuse
    __pow__ = __rpow__ = __neg__ = __pos__ = __abs__ = __matmul__ = __rmatmul__ = _misuse
    __lt__ = __le__ = __gt__ = __ge__ = _misuse
    __array__ = _misuse

    def __array_ufunc__(self, *args, **kwargs):
        raise _v.ArgumentError(_BATCHNORM_TUPLE_TEXT)

    def __array_function__(self, *args, **kwargs):
        raise _v.ArgumentError(_BATCHNORM_TUPLE_TEXT)

    @property
    def shape(self):
        raise _v.ArgumentError(_BATCHNORM_TUPLE_TEXT)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise _v.ArgumentError(_BATCHNORM_TUPLE_TEXT)


_BATCHNORM_TUPLE_TEXT = (
    "This value is the tuple (Y, mu, sigmaSq) that batchnorm(X, offset, scale) returns, not Y. MATLAB's "
    "one-output form Y = batchnorm(X, offset, scale) is written in Python as\n\n"
    "    Y, mu, sigmaSq = batchnorm(X, offset, scale)     # or:  Y = batchnorm(X, offset, scale)[0]\n\n"
    "(Python cannot know how many outputs you asked for, so batchnorm always returns all three.)"
)
_v.register_multiple_outputs(BatchnormOutputs, _BATCHNORM_TUPLE_TEXT)


def batchnorm(X, offset, scaleFactor, trainedMean=None, trainedVariance=None, *, training=None,
              Epsilon=1e-5, MeanDecay=0.1, VarianceDecay=0.1, DataFormat=None):
    """Batch normalization (MATLAB ``batchnorm``), over all dimensions except C.

    x̂ = (x − μ_c) / sqrt(σ²_c + ε);  y = scaleFactor · x̂ + offset.

    Call forms (MATLAB chooses by the number of outputs; Python says it with ``training=``):

    * ``Y, mu, sigmaSq = batchnorm(X, offset, scale)`` - batch statistics, returned too (a
      :class:`BatchnormOutputs` tuple). MATLAB's one-output form ``Y = batchnorm(X, offset, scale)``
      is ``Y = batchnorm(X, offset, scale)[0]``; using the whole tuple as Y raises an error saying so.
    * ``Y, mean, var = batchnorm(X, offset, scale, mean, var, training=True)`` - normalise with the
      batch statistics and return updated running statistics
      s_new = decay · s_batch + (1 − decay) · s_old (decay 0.1; the batch variance in this update is
      the unbiased one, M/(M−1), as in PyTorch and nnabla).
    * ``Y = batchnorm(X, offset, scale, mean, var, training=False)`` - inference: normalise with the
      given statistics.

    offset, scaleFactor (and the statistics) have one value per channel. float32 anywhere makes the
    computation float32 (MATLAB's single-wins rule).
    """
    fname = "batchnorm"
    x, fmt, formatted = _prepare(X, DataFormat, fname)
    c_axis = _channel_axis(fmt, fname)
    shape = np.shape(getval(x))
    C = shape[c_axis]
    bshape = _bn_shape(fmt, c_axis, C)
    off = _bn_param(offset, fname, "offset", C)
    scl = _bn_param(scaleFactor, fname, "scaleFactor", C)
    have_stats = trainedMean is not None or trainedVariance is not None
    if have_stats and (trainedMean is None or trainedVariance is None):
        missing = "trainedMean" if trainedMean is None else "trainedVariance"
        _v.fail(fname, missing, "an array of one value per channel when the other statistic is given", None,
                hint="Give both trainedMean and trainedVariance, or neither.")
    if training is not None:
        training = _v.flag(fname, "training", training)
    if have_stats and training is None:
        raise _v.ArgumentError(
            "batchnorm(X, offset, scale, mean, var) is ambiguous in Python. MATLAB decides by the number of outputs; "
            "here say it: training=True returns (Y, updatedMean, updatedVariance) and normalises with the batch "
            "statistics; training=False returns Y normalised with the given statistics (inference)."
        )
    eps = _v.real(fname, "Epsilon", Epsilon, low=0.0, low_open=True)
    mdecay = _v.real(fname, "MeanDecay", MeanDecay, 0.0, 1.0)
    vdecay = _v.real(fname, "VarianceDecay", VarianceDecay, 0.0, 1.0)
    axes = tuple(i for i in range(len(fmt)) if i != c_axis)
    M = int(np.prod([shape[i] for i in axes]))
    if M == 0:
        _v.fail(fname, "X", "an array with at least one value per channel", X,
                hint="The batch is empty (0 observations): there is nothing to normalise.")

    if have_stats and not training:
        mu = _bn_param(trainedMean, fname, "trainedMean", C)
        var = _bn_param(trainedVariance, fname, "trainedVariance", C)
        x, off, scl, mu, var = _single_wins(x, off, scl, mu, var)
        mu, var = anp.reshape(mu, bshape), anp.reshape(var, bshape)
        y = (x - mu) / anp.sqrt(var + eps) * anp.reshape(scl, bshape) + anp.reshape(off, bshape)
        return _out(y, fmt, formatted)

    x, off, scl = _single_wins(x, off, scl)
    off, scl = anp.reshape(off, bshape), anp.reshape(scl, bshape)
    mu = anp.sum(x, axis=axes, keepdims=True) * (1.0 / M)
    xc = x - mu
    var = anp.sum(xc * xc, axis=axes, keepdims=True) * (1.0 / M)
    y = xc / anp.sqrt(var + eps) * scl + off
    Y = _out(y, fmt, formatted)
    if not have_stats:
        return BatchnormOutputs((Y, _stat_like(_recording.derived(np.asarray, mu), None, C),
                                 _stat_like(_recording.derived(np.asarray, var), None, C)))
    _bn_param(trainedMean, fname, "trainedMean", C)
    _bn_param(trainedVariance, fname, "trainedVariance", C)
    unbiased = M / max(M - 1, 1)

    def running(stat, old, decay, factor):  # the running statistic: constants for the gradient
        b = np.asarray(stat).reshape(-1) * factor if factor != 1 else np.asarray(stat).reshape(-1)
        return decay * b.reshape(np.shape(old)) + (1.0 - decay) * np.asarray(old)

    new_m = _recording.derived(running, mu, data_of(trainedMean), mdecay, 1)
    new_v = _recording.derived(running, var, data_of(trainedVariance), vdecay, unbiased)
    return Y, _stat_like(new_m, trainedMean, C), _stat_like(new_v, trainedVariance, C)


def _bn_param(p, fname, name, C):
    """A per-channel batchnorm argument: floating data with exactly C values."""
    raw = _param(p, fname, name)
    n = np.size(getval(raw))
    if n != C:
        raise SizeMismatchError(
            f"{fname}: {name} has {n} values but X has {C} channels; {name} needs one value per channel "
            f"(size {C} x 1)."
        )
    return raw


def _stat_like(value, like, C):
    if isbox(value):  # recorded by dlaccelerate (_recording.derived)
        if like is None:
            return wrap(anp.reshape(value, (C, 1)), "")
        dt = value_of(like).dtype
        value = anp.reshape(value if getval(value).dtype == dt else anp.astype(value, dt), np.shape(value_of(like)))
        return wrap_like(value, like) if isdlarray(like) else value
    value = np.asarray(value)
    if like is None:
        return wrap(value.reshape(C, 1), "")
    dt = value_of(like).dtype
    value = value.astype(dt, copy=False).reshape(np.shape(value_of(like)))
    if isdlarray(like):
        return wrap_like(value, like)
    return value


def relu(X):
    """Rectified linear unit (MATLAB ``relu``): max(x, 0); gradient 0 at x = 0."""
    if type(X) is dlarray:  # the common call, a float32 / float64 dlarray (_float_data inline): no checks needed
        x = data_of(X)
        if type(x) is np.ndarray:  # untraced: what the primitive would compute
            dt = x.dtype
            if dt is _F32 or dt is _F64:
                return wrap_like(np.maximum(x, 0), X)
        else:
            v = _untraced(x)
            if type(v) is np.ndarray:
                dt = v.dtype
                if dt is _F32 or dt is _F64:
                    return wrap_like(_prim.relu(x), X)
    return wrap_like(_prim.relu(_x(X, "relu")), X)  # one pass forward; VJP g .* (y > 0)


def leakyrelu(X, scaleFactor=0.01):
    """Leaky ReLU (MATLAB ``leakyrelu``): x for x > 0, scaleFactor · x otherwise."""
    x = _x(X, "leakyrelu")
    scale = _v.real("leakyrelu", "scaleFactor", scaleFactor)
    slope = _recording.derived(lambda v: np.where(v > 0, 1.0, scale).astype(v.dtype), x)  # a constant for the gradient
    return wrap_like(x * slope, X)


def sigmoid(X):
    """Logistic sigmoid (MATLAB ``sigmoid``): 1 / (1 + e^−x), computed as (tanh(x/2) + 1) / 2 (no overflow)."""
    x = _x(X, "sigmoid")
    y = (_prim.tanh(x * 0.5) + 1.0) * 0.5
    return wrap_like(y, X)


def tanh(X):
    """Hyperbolic tangent (MATLAB ``tanh``)."""
    return wrap_like(_prim.tanh(_x(X, "tanh")), X)


def softmax(X, DataFormat=None):
    """Softmax over the channel dimension (MATLAB ``softmax``): y_c = e^{x_c} / Σ_k e^{x_k}."""
    if type(X) is dlarray and DataFormat is None:
        fmt = fmt_of(X)
        c = fmt.find("C")
        if c >= 0:  # the common call: a formatted float32 / float64 dlarray with a 'C' dimension (_float_data inline)
            x = data_of(X)
            if type(x) is np.ndarray:
                dt = x.dtype
                if dt is _F32 or dt is _F64:
                    return wrap(_SOFTMAX(x, c), fmt)  # untraced: what the primitive would call
            else:
                v = _untraced(x)
                if type(v) is np.ndarray:
                    dt = v.dtype
                    if dt is _F32 or dt is _F64:
                        return wrap(_prim.softmax_axis(x, c), fmt)
    x, fmt, formatted = _prepare(X, DataFormat, "softmax")
    c = _channel_axis(fmt, "softmax")
    y = _prim.softmax_axis(x, c)  # one fused primitive: shifted by the max, VJP y * (g - sum(g * y))
    return _out(y, fmt, formatted)


def _pool(kind, X, poolsize, Stride, Padding, DataFormat):
    from . import _spatial

    x, fmt, formatted, unbatched = _spatial_input(X, DataFormat, kind)
    pool = _pair(poolsize, "poolsize", kind)
    stride = _pair(Stride, "Stride", kind)
    pad = _padding(Padding, np.shape(getval(x))[:2], pool, stride, (1, 1), kind)
    H, W = np.shape(getval(x))[:2]
    if pool[0] > H + pad[0][0] + pad[0][1] or pool[1] > W + pad[1][0] + pad[1][1]:
        _v.fail(kind, "poolsize", f"at most the padded input size ({H + pad[0][0] + pad[0][1]} x "
                f"{W + pad[1][0] + pad[1][1]})", poolsize, cls=SpatialArgumentError)
    fun = _spatial.maxpool2d if kind == "maxpool" else _spatial.avgpool2d
    y = fun(x, pool=pool, stride=stride, padding=pad)
    return _spatial_output(y, fmt, formatted, unbatched)


def maxpool(X, poolsize, Stride=1, Padding=0, DataFormat=None):
    """2-D max pooling (MATLAB ``maxpool``): the maximum of each pool window (Stride default 1)."""
    return _pool("maxpool", X, poolsize, Stride, Padding, DataFormat)


def avgpool(X, poolsize, Stride=1, Padding=0, DataFormat=None):
    """2-D average pooling (MATLAB ``avgpool``): the mean of each window; padding counts as zeros."""
    return _pool("avgpool", X, poolsize, Stride, Padding, DataFormat)


def dropout(X, probability=0.5, training=True):
    """Inverted dropout (MATLAB ``dropoutLayer`` behaviour).

    Training: each element is zeroed with the given probability and the survivors are scaled by
    1 / (1 − probability), so the expected value is unchanged. Inference (``training=False``): identity.
    The mask comes from NumPy's global random state (``np.random.seed`` makes it reproducible).
    """
    p = _v.probability("dropout", "probability", probability)
    x = _x(X, "dropout")
    if not _v.flag("dropout", "training", training) or p == 0.0:
        return X
    v = getval(x)
    _recording.note("random")  # random numbers: dlaccelerate cannot replay this call
    mask = (np.random.random_sample(np.shape(v)) >= p).astype(v.dtype) * v.dtype.type(1.0 / (1.0 - p))
    return wrap_like(x * mask, X)


def onehotencode(labels, featureDim, ClassNames=None, dtype="single"):
    """One-hot encode labels (MATLAB ``onehotencode``); featureDim counts from 1 as in MATLAB.

    ``onehotencode(labels, 1)`` on N labels gives a (numClasses x N) array: the MATLAB "CB" layout.
    ``ClassNames`` lists the classes in order (default: the sorted unique labels - pass all classes,
    e.g. ``ClassNames=range(10)``, when a batch may miss some). Returns a float32 NumPy array.
    """
    _v.not_none("onehotencode", "labels", labels, "an array of labels")
    fd = _v.integer("onehotencode", "featureDim", featureDim, 1, 2,
                    hint="1 puts the classes along the rows (MATLAB's 'CB' layout), 2 along the columns.")
    lab = np.asarray(value_of(labels)).reshape(-1)
    classes = np.unique(lab) if ClassNames is None else np.asarray(list(ClassNames))
    index = {c.item() if hasattr(c, "item") else c: i for i, c in enumerate(classes)}
    try:
        idx = np.array([index[v.item() if hasattr(v, "item") else v] for v in lab], dtype=np.int64)
    except KeyError as err:
        raise ValueError(f"onehotencode: label {err.args[0]!r} is not one of ClassNames {list(classes)}.") from None
    out = np.zeros((len(classes), lab.size), dtype=np.float32 if dtype == "single" else np.float64)
    out[idx, np.arange(lab.size)] = 1
    return out if fd == 1 else np.ascontiguousarray(out.T)


def onehotdecode(scores, classes, featureDim):
    """Decode probability vectors into labels (MATLAB ``onehotdecode``): the class of the largest score.

    featureDim counts from 1 as in MATLAB (1 for a C x N array of scores).
    """
    _recording.note_if_traced(data_of(scores), "onehotdecode")
    s = np.asarray(getval(_v.array("onehotdecode", "scores", scores, "fiub")))
    if classes is None or isinstance(classes, str) or not hasattr(classes, "__len__") and not hasattr(classes, "__iter__"):
        _v.fail("onehotdecode", "classes", "a list of the class names, one per score", classes)
    classes = np.asarray(list(classes))
    fd = _v.integer("onehotdecode", "featureDim", featureDim, 1, max(s.ndim, 1),
                    hint="It is the dimension (counting from 1) along which the classes lie: 1 for C x N scores.")
    if s.shape[fd - 1] != len(classes):
        raise SizeMismatchError(
            f"onehotdecode: dimension {fd} of the scores has {s.shape[fd - 1]} entries "
            f"but {len(classes)} classes were given."
        )
    return classes[np.argmax(s, axis=fd - 1)]
