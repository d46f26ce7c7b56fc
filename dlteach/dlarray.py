"""``dlarray``: a NumPy array with MATLAB's data-format labels, traceable by ``dlfeval``.

MATLAB counterpart: ``dlarray``, ``dims``, ``extractdata``, ``stripdims``, ``finddim``.

Labels: ``S`` spatial, ``C`` channel, ``B`` batch (observations), ``T`` time, ``U`` unspecified.
A formatted array is stored permuted into MATLAB's order S..., C, B, T, U...:
``dlarray(x, "TCB")`` has ``dims`` ``"CBT"`` and ``dlarray(x, "BC")`` is stored C x B.

Arithmetic operators and plain NumPy functions (``np.exp``, ``np.sum``, ``np.mean``, ...) work on
dlarrays and are recorded when the array is traced inside :func:`dlteach.dlfeval`. Elementwise
results keep the format; a reduction to a scalar is unformatted.

Indexing keeps the labels of the dimensions it keeps. MATLAB's ``Y(:,:,end)`` keeps all three dimensions
("CBT", T of size 1); Python's integer index drops the dimension, so ``Y[:, :, -1]`` is "CB" (its label
is dropped too), while ``Y[:, :, -1:]`` is "CBT" like MATLAB. Slices, ``...``, missing trailing entries
and a 1-D index array along one dimension keep labels; ``None`` and other array indices give an
unformatted result (see ``dlarray.__getitem__``).

float32 ("single") stays float32: like MATLAB, where single combined with double gives single, an
operation that involves float32 data never returns float64.
"""

from __future__ import annotations

import numbers

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval, isbox

from . import _recording
from . import formats as _f
from . import primitives as _prim
from . import tree as _tree
from .errors import FormatError, NotTracedError
from .formats import (
    LABEL_ORDER,
    apply_format,
    as_single,
    data_of,
    is_single,
    parse_format,
    reduced_format,
    result_format,
    size_text,
    to_single,
    value_of,
    wrap,
)

_MATLAB_CLASS = {np.dtype("float32"): "single", np.dtype("float64"): "double", np.dtype("bool"): "logical"}



def _shape(x):
    return np.shape(getval(x))


def _elementwise(fun, *operands, **kwargs):
    """Apply an elementwise (broadcasting) function to dlarrays / arrays / scalars."""
    data = [data_of(o) for o in operands]
    if is_single(*data):
        data = [as_single(r) for r in data]
        out = to_single(fun(*data, **kwargs))
    else:
        out = fun(*data, **kwargs)
    return wrap(out, result_format(out, *operands))


class dlarray:
    """Deep-learning array with optional data-format labels (MATLAB ``dlarray``).

    ``dlarray(X)`` wraps X unformatted; ``dlarray(X, fmt)`` labels its dimensions and permutes the
    data into MATLAB order (S..., C, B, T, U...). Integer input becomes float64 ("double", as MATLAB
    literals are double); float32 and bool are kept.
    """

    __slots__ = ("_data", "_fmt", "__weakref__")
    __array_priority__ = 1000
    __hash__ = None

    def __init__(self, X, fmt=None):
        fmt = parse_format(fmt)
        if type(X) is dlarray:
            data = X._data
        elif isbox(X):
            data = X
        else:
            if type(X) is not np.ndarray:
                from . import validate as _v

                X = _v.array("dlarray", "X", X, "fbiu",
                             expected="numeric or logical data (MATLAB: single, double, logical)")
            data = np.array(X, copy=True)
            if data.dtype.kind in "iu":
                data = data.astype(np.float64)
            elif data.dtype.kind not in "fb" or data.dtype.itemsize < 4 and data.dtype.kind == "f":
                from . import validate as _v

                _v.array("dlarray", "X", data, "fb",
                         expected="floating-point or logical data (MATLAB: single, double, logical)")
        if fmt:
            data, fmt = apply_format(data, fmt)
        self._data = data
        self._fmt = fmt

    # -- basic properties -------------------------------------------------------------------
    @property
    def fmt(self) -> str:
        """The format string ('' when unformatted). Same as ``dims(X)``."""
        return self._fmt

    @property
    def shape(self):
        return _shape(self._data)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def dtype(self):
        return getval(self._data).dtype if hasattr(getval(self._data), "dtype") else np.dtype(type(getval(self._data)))

    @property
    def is_traced(self) -> bool:
        """True while this array is being recorded by dlfeval."""
        return isbox(self._data)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d dlarray")
        return self.shape[0]

    # -- conversion ---------------------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        if isbox(self._data):
            raise NotTracedError(
                "This dlarray is being traced by dlfeval, and converting it to a NumPy array here would "
                "silently cut the gradient. Use NumPy functions directly on the dlarray (np.exp(X), "
                "np.sum(X), ...), or call extractdata(X) if you really mean to stop the gradient."
            )
        arr = self._data
        if dtype is not None:
            arr = np.asarray(arr, dtype=dtype)
        return np.array(arr, copy=True) if copy else np.asarray(arr)

    def _scalar(self, how="float"):
        v = self._data
        if type(v) is np.float32 or type(v) is np.float64:  # the usual loss: an untraced NumPy scalar
            return v
        if _recording.RECORDERS and isbox(self._data):  # a Python number from a traced value: dlaccelerate
            _recording.note(how)
        v = getval(self._data)
        if np.size(v) != 1:
            raise TypeError(f"Only a dlarray with one element can be converted to a Python number; this one has size {size_text(self)}.")
        return np.asarray(v).reshape(())

    def __float__(self):
        return float(self._scalar())

    def __int__(self):
        return int(self._scalar())

    def __bool__(self):
        return bool(self._scalar("bool"))

    def __index__(self):
        v = self._scalar()
        if v.dtype.kind not in "iub":
            raise TypeError("a floating dlarray cannot be used as an index")
        return int(v)

    def item(self):
        return self._scalar().item()

    def tolist(self):
        _recording.note_if_traced(self._data, "float")
        return np.asarray(getval(self._data)).tolist()

    # -- display ----------------------------------------------------------------------------
    def __repr__(self):
        data = np.asarray(getval(self._data))
        traced = " (traced)" if isbox(self._data) else ""
        cls = _MATLAB_CLASS.get(data.dtype, str(data.dtype))
        body = np.array2string(data, precision=4, threshold=60, edgeitems=3)
        return f"{size_text(self)} {cls} dlarray{traced}\n{body}"

    __str__ = __repr__

    # -- arithmetic -------------------------------------------------------------------------
    def __add__(self, other):
        return _elementwise(anp.add, self, other)

    def __radd__(self, other):
        return _elementwise(anp.add, other, self)

    def __sub__(self, other):
        return _elementwise(anp.subtract, self, other)

    def __rsub__(self, other):
        return _elementwise(anp.subtract, other, self)

    def __mul__(self, other):
        return _elementwise(anp.multiply, self, other)

    def __rmul__(self, other):
        return _elementwise(anp.multiply, other, self)

    def __truediv__(self, other):
        return _elementwise(anp.true_divide, self, other)

    def __rtruediv__(self, other):
        return _elementwise(anp.true_divide, other, self)

    def __pow__(self, other):
        return _elementwise(anp.power, self, other)

    def __rpow__(self, other):
        return _elementwise(anp.power, other, self)

    def __neg__(self):
        return _elementwise(anp.negative, self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _elementwise(anp.abs, self)

    def __matmul__(self, other):
        return _matmul(self._data, data_of(other))

    def __rmatmul__(self, other):
        return _matmul(data_of(other), self._data)

    def __eq__(self, other):
        return _elementwise(anp.equal, self, other)

    def __ne__(self, other):
        return _elementwise(anp.not_equal, self, other)

    def __lt__(self, other):
        return _elementwise(anp.less, self, other)

    def __le__(self, other):
        return _elementwise(anp.less_equal, self, other)

    def __gt__(self, other):
        return _elementwise(anp.greater, self, other)

    def __ge__(self, other):
        return _elementwise(anp.greater_equal, self, other)

    def __invert__(self):
        return _elementwise(anp.logical_not, self)

    def __and__(self, other):
        return _elementwise(anp.logical_and, self, other)

    def __or__(self, other):
        return _elementwise(anp.logical_or, self, other)

    # -- indexing ---------------------------------------------------------------------------
    def __getitem__(self, idx):
        """``X[idx]``: NumPy indexing; the result keeps the labels of the dimensions it keeps.

        MATLAB ``X(:,:,end)`` keeps every dimension ("CBT" with T of size 1); a Python integer index drops
        the dimension, and dlteach drops its label with it: ``Y[:, :, -1]`` on "CBT" is "CB". Slices and
        a 1-D integer or boolean array along one dimension keep the label; ``...`` and missing trailing
        entries are full slices (``X[0]`` on "SSCB" is "SCB"). ``None`` (np.newaxis), arrays of 2 or more
        dimensions, several array indices, or an array together with an integer give an unformatted result
        (NumPy may move dimensions there): label it again with ``dlarray(Y, fmt)``.
        """
        idx = _unwrap_index(idx)
        out = self._data[idx]
        return wrap(out, _indexed_format(self._fmt, idx, np.ndim(getval(out))) if self._fmt else "")

    def __setitem__(self, idx, value):
        if isbox(self._data) or isbox(data_of(value)):
            raise TypeError(
                "Assigning into part of a traced dlarray (X[i] = ...) cannot be differentiated. Build the "
                "array from whole-array operations instead: np.where(mask, A, B), np.concatenate, or a mask product."
            )
        self._data = np.array(self._data, copy=True)
        self._data[_unwrap_index(idx)] = value_of(value)

    # -- NumPy protocol ------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or "out" in kwargs:
            return NotImplemented
        fun = _UFUNC_OVERRIDES.get(ufunc.__name__) or getattr(anp, ufunc.__name__, None)
        if fun is None:
            return NotImplemented
        return _elementwise(fun, *inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        handler = _FUNCTION_HANDLERS.get(func.__name__)
        if handler is not None:
            return handler(*args, **kwargs)
        fun = getattr(anp, func.__name__, None)
        if fun is None:
            return NotImplemented
        raw_args = _unwrap_tree(args)
        raw_kwargs = _unwrap_tree(kwargs)
        operands = [a for a in _flat_args(args) if type(a) is dlarray]
        if is_single(*[a._data for a in operands]):
            raw_args = _single_tree(raw_args)
        out = fun(*raw_args, **raw_kwargs)
        return _wrap_outputs(out, operands, func.__name__, raw_args)

    # -- convenience methods (same as the NumPy functions) ---------------------------------------
    def sum(self, axis=None, keepdims=False):
        return np.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return np.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return np.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return np.min(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return wrap(anp.reshape(self._data, shape), "")

    def astype(self, dtype):
        return wrap(anp.astype(self._data, dtype) if isbox(self._data) else self._data.astype(dtype), self._fmt)

    @property
    def T(self):
        return wrap(anp.transpose(self._data), "")

    def __copy__(self):
        return wrap(self._data if isbox(self._data) else np.array(self._data, copy=True), self._fmt)

    def __deepcopy__(self, memo):
        return self.__copy__()


def _matmul(a, b):
    if is_single(a, b):
        return wrap(to_single(anp.matmul(as_single(a), as_single(b))), "")
    return wrap(anp.matmul(a, b), "")


# -------------------------------------------------------------------------------------------------
# format helpers

def _unwrap_index(idx):
    if type(idx) is dlarray:
        return getval(idx._data)
    if isinstance(idx, tuple):
        return tuple(getval(i._data) if type(i) is dlarray else i for i in idx)
    return idx


def _indexed_format(fmt, idx, out_ndim):
    """Format of ``X[idx]`` for X labelled ``fmt`` (see ``dlarray.__getitem__``); '' when unknowable."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    n_ell = 0
    n_used = 0
    n_arrays = 0
    has_int = False
    for i in idx:
        if i is Ellipsis:
            n_ell += 1
        elif i is None or isinstance(i, slice):
            if i is None:
                return ""  # a new axis has no label
            n_used += 1
        elif isinstance(i, numbers.Integral) and not isinstance(i, (bool, np.bool_)):
            has_int = True
            n_used += 1
        else:
            a = getval(i)
            a = a if isinstance(a, np.ndarray) else np.asarray(a)
            if a.ndim == 0 and a.dtype.kind in "iu":
                has_int = True
                n_used += 1
            elif a.ndim == 1 and (a.dtype.kind in "iub" or a.size == 0):
                n_arrays += 1
                n_used += 1
            else:
                return ""  # 0-d bool, n-d arrays: NumPy adds or merges dimensions
    if n_ell > 1 or n_arrays > 1 or n_arrays and has_int:
        return ""  # several advanced indices: NumPy may move the broadcast dimension to the front
    labels = []
    pos = 0
    for i in idx:
        if i is Ellipsis:
            labels.extend(fmt[pos:pos + len(fmt) - n_used])
            pos += len(fmt) - n_used
            continue
        if isinstance(i, slice) or not isinstance(i, numbers.Integral) and np.ndim(getval(i)) == 1:
            labels.append(fmt[pos])
        pos += 1
    labels.extend(fmt[pos:])  # missing trailing entries are full slices
    out = "".join(labels)
    if len(out) != out_ndim:
        return ""
    return parse_format(out)


def _unwrap_tree(x):
    if type(x) is dlarray:
        return x._data
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap_tree(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap_tree(v) for k, v in x.items()}
    return x


def _single_tree(x):
    if isinstance(x, (list, tuple)) and not isbox(x):
        return type(x)(_single_tree(v) for v in x)
    return as_single(x)


def _flat_args(args):
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from _flat_args(a)
        else:
            yield a


_REDUCTIONS = {"sum", "mean", "max", "min", "amax", "amin", "prod", "var", "std", "all", "any", "argmax", "argmin", "logsumexp"}
_UNFORMAT = {"reshape", "transpose", "swapaxes", "moveaxis", "rollaxis", "ravel", "flatten", "squeeze", "expand_dims", "dot", "matmul", "tensordot", "einsum", "outer", "kron", "inner"}


def _wrap_outputs(out, operands, name, raw_args):
    if isinstance(out, (list, tuple)) and not isbox(out):
        return type(out)(_wrap_outputs(o, operands, name, raw_args) for o in out)
    v = getval(out)
    if not isinstance(v, (np.ndarray, np.generic, float, int, bool)):
        return out
    if is_single(*[a._data for a in operands]):
        out = to_single(out)
    fmt = "" if name in _UNFORMAT or name in _REDUCTIONS else result_format(out, *operands)
    return wrap(out, fmt)


# -------------------------------------------------------------------------------------------------
# functions that need their own handling (dtype-preserving means, formats of reductions)

def _reduction(anp_fun, name):
    def handler(x, axis=None, dtype=None, out=None, keepdims=False, **kw):
        if out is not None:
            raise TypeError(f"np.{name}(..., out=...) is not supported on dlarray.")
        data = data_of(x)
        nd = np.ndim(getval(data))
        if name == "mean":
            res = _mean(data, axis=axis, keepdims=keepdims)
        elif name in ("var", "std"):
            res = _var(data, axis=axis, keepdims=keepdims, ddof=kw.pop("ddof", 0))
            if name == "std":
                res = anp.sqrt(res)
        else:
            res = anp_fun(data, axis=axis, keepdims=keepdims, **kw)
        if is_single(data):
            res = to_single(res)
        fmt = reduced_format(x._fmt if type(x) is dlarray else "", nd, axis, keepdims)
        if np.ndim(getval(res)) == 0:
            fmt = ""
        return wrap(res, fmt)

    return handler


def _reduced_count(x, axis):
    """Number of elements a reduction over ``axis`` (None = all) combines into each result."""
    shape = _shape(x)
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    return int(np.prod([shape[a] for a in axes]))


def _mean(x, axis=None, keepdims=False):
    """Mean as sum times a Python float: keeps float32 in the forward and the backward pass."""
    n = _reduced_count(x, axis)
    return anp.sum(x, axis=axis, keepdims=keepdims) * (1.0 / n)


def _var(x, axis=None, keepdims=False, ddof=0):
    """Variance from dtype-preserving means: sum((x - mean)^2) / (n - ddof)."""
    n = _reduced_count(x, axis)
    d = x - _mean(x, axis=axis, keepdims=True)
    scale = 1.0 / (n - ddof) if n > ddof else np.inf
    return anp.sum(d * d, axis=axis, keepdims=keepdims) * scale


def _where(condition, x=None, y=None):
    """np.where on dlarrays: the 3-argument form is differentiable and keeps float32."""
    if x is None and y is None:
        return np.where(value_of(condition))
    operands = (condition, x, y)
    data = [value_of(condition), data_of(x), data_of(y)]
    if is_single(data[1], data[2]):
        data[1], data[2] = as_single(data[1]), as_single(data[2])
    out = _prim.where(*data)
    return wrap(out, result_format(out, *operands))


_FUNCTION_HANDLERS = {
    "sum": _reduction(anp.sum, "sum"),
    "mean": _reduction(None, "mean"),
    "max": _reduction(_prim.amax, "max"),
    "amax": _reduction(_prim.amax, "max"),
    "min": _reduction(_prim.amin, "min"),
    "amin": _reduction(_prim.amin, "min"),
    "prod": _reduction(anp.prod, "prod"),
    "var": _reduction(anp.var, "var"),
    "std": _reduction(anp.std, "std"),
    "where": _where,
}


_UFUNC_OVERRIDES = {"maximum": _prim.maximum, "minimum": _prim.minimum, "tanh": _prim.tanh}


# -------------------------------------------------------------------------------------------------
# MATLAB-style functions

def dims(X) -> str:
    """Data format of X as a string, '' when unformatted (MATLAB ``dims``); also of a networkDataLayout."""
    if type(X) is dlarray:
        return X._fmt
    if type(X).__name__ == "networkDataLayout":
        return X.Format
    return ""


def extractdata(X):
    """The data of X as a plain NumPy array (MATLAB ``extractdata``).

    Inside dlfeval this cuts the trace: nothing computed from the result can be differentiated.
    """
    if type(X) is dlarray:
        _recording.note_if_traced(X._data, "extractdata")
        return np.array(getval(X._data), copy=True)
    _recording.note_if_traced(X, "extractdata")
    return np.array(getval(X), copy=True)


def stripdims(X):
    """Remove the format, keeping the data in its current (permuted) order (MATLAB ``stripdims``)."""
    if type(X) is not dlarray:
        raise TypeError("stripdims expects a dlarray.")
    return wrap(X._data, "")


def finddim(X, label: str):
    """Indices (0-based) of the dimensions of X with the given label (MATLAB ``finddim``, 1-based there)."""
    if not isinstance(label, str) or label not in LABEL_ORDER:
        raise FormatError(f"finddim: label must be one of S, C, B, T, U, not {label!r}.")
    return [i for i, lab in enumerate(dims(X)) if lab == label]


def isdlarray(X) -> bool:
    """True if X is a dlarray (MATLAB ``isdlarray``)."""
    return type(X) is dlarray


_f.bind_array_class(dlarray)  # formats.raw / wrap / ... work with this class
_tree.register_leaf(dlarray)  # a dlarray is a leaf of every container walk (dlteach/tree.py)
