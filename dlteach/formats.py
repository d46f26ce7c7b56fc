"""Data formats and the dlarray seam: the one place other modules read and build dlarrays.

MATLAB counterpart: the rules behind ``dlarray(X, fmt)``, ``dims``, ``finddim`` and the size text MATLAB
prints (``28(S) x 28(S) x 1(C) x 128(B)``), and the "single wins" rule (single combined with double
gives single).

Labels: ``S`` spatial, ``C`` channel, ``B`` batch (observations), ``T`` time, ``U`` unspecified. A
formatted array is stored permuted into MATLAB's order S..., C, B, T, U...; ``C``, ``B`` and ``T``
appear at most once.

Seam: modules other than ``dlarray.py`` never touch a dlarray's attributes. They use

* :func:`data_of` (the data: an ndarray or, while traced, an autograd box), :func:`value_of` (the untraced
  data), :func:`fmt_of` (the format, '' for anything unformatted) to read one, and
* :func:`wrap` / :func:`wrap_like` to build one without validation or permutation (the fast path of
  every operation), :func:`parse_format` / :func:`apply_format` to validate and permute,
* :func:`is_single` / :func:`to_single` / :func:`as_single` for MATLAB's single-wins rule,
* :func:`size_text` for every size in a message, :func:`reduced_format` / :func:`result_format` for the
  format of a reduction / an elementwise result.

``dlarray.py`` binds its class here when it is imported (``bind_array_class``), so this module does not
import it (no import cycle); the helpers are plain functions with one type test each (hot path).
"""

from __future__ import annotations

import numbers

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval, isbox

from .errors import FormatError

__all__ = [
    "LABELS", "LABEL_ORDER", "parse_format", "apply_format", "size_text", "data_of", "value_of", "fmt_of",
    "wrap", "wrap_like", "is_single", "to_single", "as_single", "float_dtype", "reduced_format",
    "result_format",
]

#: the labels in MATLAB's storage order
LABELS = "SCBTU"
#: rank of each label in MATLAB's storage order S..., C, B, T, U...
LABEL_ORDER = {"S": 0, "C": 1, "B": 2, "T": 3, "U": 4}
_UNIQUE_LABELS = "CBT"

_ARRAY = None  # the dlarray class, bound by dlteach/dlarray.py
_new = object.__new__


def bind_array_class(cls):
    """Called once by ``dlteach/dlarray.py``: the class that :func:`data_of`, :func:`wrap` ... work with."""
    global _ARRAY
    _ARRAY = cls


# -------------------------------------------------------------------------------------------------
# formats

def parse_format(fmt) -> str:
    """Validate a format string ('' for None); raises FormatError naming the bad label."""
    if fmt is None:
        return ""
    if not isinstance(fmt, str):
        raise FormatError(f"A dlarray format must be a string such as 'SSCB' or 'CB', not {type(fmt).__name__}.")
    bad = [ch for ch in fmt if ch not in LABEL_ORDER]
    if bad:
        raise FormatError(
            f"Invalid dlarray format {fmt!r}: unknown label(s) {''.join(sorted(set(bad)))!r}. "
            "Use S (spatial), C (channel), B (batch), T (time) and U (unspecified), e.g. 'SSCB' for images."
        )
    for label in _UNIQUE_LABELS:
        if fmt.count(label) > 1:
            raise FormatError(
                f"Invalid dlarray format {fmt!r}: label {label!r} appears {fmt.count(label)} times. "
                "C, B and T may appear at most once; only S and U may repeat."
            )
    return fmt


def apply_format(data, fmt: str):
    """``(data permuted into MATLAB order, sorted format)`` for raw data labelled by a parsed ``fmt``.

    Trailing singleton dimensions may be left out of the labels, and missing trailing dimensions are
    size 1 (MATLAB: a 28x28x1 image labelled 'SSCB' is one observation). Traced data stays traced.
    """
    shape = np.shape(getval(data))
    nd = len(shape)
    if len(fmt) < nd:
        extra = shape[len(fmt):]
        if all(s == 1 for s in extra):
            data = anp.reshape(data, shape[: len(fmt)])
        else:
            raise FormatError(
                f"The format {fmt!r} has {len(fmt)} labels but the data has {nd} dimensions "
                f"(size {size_text(shape)}). Give one label per dimension."
            )
    elif len(fmt) > nd:
        data = anp.reshape(data, shape + (1,) * (len(fmt) - nd))
    perm = sorted(range(len(fmt)), key=lambda i: (LABEL_ORDER[fmt[i]], i))
    if perm != list(range(len(fmt))):
        data = anp.transpose(data, perm)
        if not isbox(data):
            data = np.ascontiguousarray(data)
    return data, "".join(fmt[i] for i in perm)


def reduced_format(fmt: str, ndim: int, axis, keepdims: bool) -> str:
    """Format of a reduction over ``axis`` (None = all): the reduced labels drop unless ``keepdims``."""
    if not fmt:
        return ""
    if axis is None:
        return fmt if keepdims else ""
    if keepdims:
        return fmt
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    axes = {a % ndim for a in axes}
    return "".join(lab for i, lab in enumerate(fmt) if i not in axes)


def result_format(out, *operands) -> str:
    """Elementwise rule: the format of the first formatted operand with the result's number of dims."""
    nd = np.ndim(getval(out))
    for op in operands:
        if type(op) is _ARRAY and op._fmt and len(op._fmt) == nd:
            return op._fmt
    return ""


def size_text(x, fmt=None) -> str:
    """MATLAB's size text: ``28(S) x 28(S) x 1(C) x 128(B)`` for a formatted array, ``784x128`` otherwise.

    ``x`` is a dlarray, an array (or box) or a shape (tuple or list of sizes); ``fmt`` labels a shape
    (default: x's format).
    A scalar is ``1x1`` as in MATLAB.
    """
    if isinstance(x, (tuple, list)):
        shape = x
    elif type(x) is _ARRAY:
        shape = np.shape(getval(x._data))
        if fmt is None:
            fmt = x._fmt
    else:
        shape = np.shape(getval(x))
    if fmt:
        return " x ".join(f"{int(n)}({lab})" for n, lab in zip(shape, fmt))
    return "x".join(str(int(n)) for n in shape) if shape else "1x1"


# -------------------------------------------------------------------------------------------------
# reading and building dlarrays

def data_of(x):
    """The data of a dlarray (ndarray or, while traced, autograd box); anything else unchanged."""
    return x._data if type(x) is _ARRAY else x


def value_of(x):
    """The untraced data of a dlarray, array or box (no copy)."""
    return getval(x._data if type(x) is _ARRAY else x)


def fmt_of(x) -> str:
    """The format of a dlarray ('' when unformatted or not a dlarray)."""
    return x._fmt if type(x) is _ARRAY else ""


def wrap(data, fmt: str = ""):
    """A dlarray around ``data`` (ndarray or box) labelled ``fmt``, without validation or permutation."""
    obj = _new(_ARRAY)
    obj._data = data
    obj._fmt = fmt
    return obj


def wrap_like(data, like):
    """A dlarray around ``data`` with the format of ``like`` ('' when ``like`` is not a dlarray)."""
    obj = _new(_ARRAY)
    obj._data = data
    obj._fmt = like._fmt if type(like) is _ARRAY else ""
    return obj


def datas_of(xs) -> list:
    """``[data_of(x) for x in xs]`` in one call (the updaters read every leaf of a container)."""
    A = _ARRAY
    return [x._data if type(x) is A else x for x in xs]


def wrap_each_like(datas, likes) -> list:
    """``[wrap_like(d, like) if like is a dlarray else d for d, like in zip(datas, likes)]`` (an updater's new
    parameters or states, made from its parameter leaves: a dlarray parameter gives a dlarray with its format, an
    ndarray parameter the ndarray). Stops at the shorter of the two."""
    A = _ARRAY
    new = _new
    out = []
    append = out.append
    for data, like in zip(datas, likes):
        if type(like) is A:
            obj = new(A)
            obj._data = data
            obj._fmt = like._fmt
            append(obj)
        else:
            append(data)
    return out


# -------------------------------------------------------------------------------------------------
# MATLAB's single-wins rule

def float_dtype(x):
    """dtype of x's data if it is floating (array, NumPy scalar, box or dlarray), else None."""
    dt = getattr(getval(x._data if type(x) is _ARRAY else x), "dtype", None)
    if dt is not None and dt.kind == "f":
        return dt
    return None


def is_single(*xs) -> bool:
    """True if any of xs (dlarrays, arrays, boxes, scalars) holds float32 data."""
    for x in xs:
        if getattr(getval(x._data if type(x) is _ARRAY else x), "dtype", None) == np.float32:
            return True
    return False


def to_single(out):
    """Cast float64 data (array, scalar or box) to float32 (MATLAB's single-wins rule); else unchanged."""
    v = getval(out)
    if getattr(v, "dtype", None) == np.float64:
        return anp.astype(out, np.float32) if isbox(out) else np.asarray(v, dtype=np.float32)
    return out


def as_single(x):
    """x cast to float32 if it is float64 data (array, NumPy scalar or box); otherwise x unchanged.

    Casting the double operands *before* an operation (rather than the result after it) keeps the
    backward pass in float32 as well: the cast of a constant is not recorded, and the gradient
    flowing back through a recorded cast is converted to the double input's own dtype.
    """
    v = getval(x)
    if getattr(v, "dtype", None) != np.float64:
        return x
    if isbox(x):
        return anp.astype(x, np.float32)
    if isinstance(v, np.ndarray):
        return v.astype(np.float32)
    return np.float32(v)
