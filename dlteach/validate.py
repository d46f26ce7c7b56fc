"""The one argument-validation layer of dlteach's public functions.

Every public function checks its arguments through these helpers, so every learner's mistake gets
the same kind of message::

    <function>: <argument> must be <what was expected>; got <what was given>. <how to fix it>

``None`` is always named as such, with its usual cause (a function that forgot ``return``). Each
helper returns the value in the form the caller needs (``integer`` an ``int``, ``pair`` a 2-tuple,
``array`` the raw data) and raises :class:`~dlteach.errors.ArgumentError` (a TypeError *and* a
ValueError) or the subclass of :class:`~dlteach.errors.DLTeachError` given as ``cls``.

Cost: every helper starts with a fast path for the common, valid case (one or two ``type(...) is``
tests); the message-building code only runs when something is wrong. Nothing here is called per
array element.

API (``fname``: the public function's name, ``name``: the argument's name as the learner wrote it)::

    describe(x)                                   -> "None", "the float 2.5", "a float64 array of size 3x4", ...
    fail(fname, name, expected, given, hint="", cls=ArgumentError)        raises
    not_none(fname, name, x, expected="an array")                         -> x
    array(fname, name, x, kinds="fb", ...)        -> raw data (ndarray or traced box) of x
    integer(fname, name, v, minimum=1)            -> int   (2.0 accepted; 2.5, True, NaN, "2" refused)
    integers(fname, name, v, counts=(1, 2), minimum=1) -> tuple of ints
    pair(fname, name, v, minimum=1)               -> (a, b) from a scalar, [a] or [a b]
    padding(fname, name, v)                       -> "same" or (top, bottom, left, right)
    real(fname, name, v, low=None, high=None, low_open=False, high_open=False) -> float (finite)
    probability(fname, name, v, high_open=True)   -> float in [0, 1) (or [0, 1])
    option(fname, name, v, allowed)               -> the lower-cased allowed string
    flag(fname, name, v)                          -> bool (True/False/0/1 only)
    data_format(fname, name, v)                   -> a valid format string (S, C, B, T, U labels)
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from autograd.tracer import getval, isbox

from .dlarray import isdlarray
from .errors import ArgumentError, FormatError, NoneArgumentError
from .formats import data_of, fmt_of, parse_format

__all__ = [
    "NONE_HINT",
    "ArgumentError",
    "array",
    "data_format",
    "describe",
    "fail",
    "flag",
    "integer",
    "integers",
    "not_none",
    "option",
    "padding",
    "pair",
    "probability",
    "real",
    "register_multiple_outputs",
]

#: appended to every "is None" message
NONE_HINT = (
    "None usually comes from a function that forgot `return` (a Python function without a return "
    "statement returns None): check the function that produced this value."
)

_KIND_TEXT = {
    "f": "floating-point (float32 = MATLAB single, or float64 = double)",
    "b": "logical (bool)",
    "i": "integer",
    "u": "unsigned integer",
    "c": "complex",
}


# -------------------------------------------------------------------------------------------------
# describing what was given

def _size(shape) -> str:
    return "x".join(map(str, shape)) if len(shape) else "1x1 (a scalar)"


def describe(x) -> str:
    """A short text naming what ``x`` is: kind, dtype and size (for error messages)."""
    if x is None:
        return "None"
    t = type(x)
    if t is bool or isinstance(x, np.bool_):
        return f"the logical value {bool(x)}"
    if isinstance(x, numbers.Number) and not isinstance(x, np.ndarray):
        return f"the {type(x).__name__} {x!r}"
    if isinstance(x, str):
        text = x if len(x) <= 40 else x[:37] + "..."
        return f"the text {text!r}"
    data = data_of(x) if isdlarray(x) else None
    if data is not None:
        v = getval(data)
        fmt = fmt_of(x)
        shape = np.shape(v)
        size = " x ".join(f"{n}({lab})" for n, lab in zip(shape, fmt)) if fmt else _size(shape)
        dt = getattr(v, "dtype", type(v).__name__)
        return f"{_a(str(dt))} {dt} dlarray of size {size}"
    if isbox(x):
        v = getval(x)
        return f"a traced {getattr(v, 'dtype', type(v).__name__)} array of size {_size(np.shape(v))}"
    if isinstance(x, np.ndarray):
        return f"{_a(str(x.dtype))} {x.dtype} NumPy array of size {_size(x.shape)}"
    if isinstance(x, tuple):
        return f"a tuple of {len(x)} values ({', '.join(_short(v) for v in x[:4])}{', ...' if len(x) > 4 else ''})"
    if isinstance(x, list):
        return f"a list of {len(x)} values"
    if isinstance(x, dict):
        keys = list(x)[:5]
        return f"a dict with keys {keys}{' ...' if len(x) > 5 else ''}"
    if callable(x) and hasattr(x, "__name__"):
        return f"the function {x.__name__} (not its result: call it)"
    return f"a {t.__name__}"


def _a(word) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _short(v) -> str:
    if v is None:
        return "None"
    if isdlarray(v):
        return "dlarray"
    if isinstance(v, np.ndarray):
        return "array"
    return type(v).__name__


# -------------------------------------------------------------------------------------------------
# raising

#: tuple types that stand for several outputs of one function (e.g. batchnorm's (Y, mu, sigmaSq)),
#: with the text that says how to unpack them
_MULTIPLE_OUTPUTS: dict = {}


def register_multiple_outputs(cls, text):
    """Name a tuple type returned for several outputs: a misuse of it as one array quotes ``text``."""
    _MULTIPLE_OUTPUTS[cls] = text

def fail(fname, name, expected, given, hint="", cls=ArgumentError):
    """Raise ``cls`` (an ArgumentError by default) saying ``fname``'s ``name`` must be ``expected``."""
    if given is None:
        msg = f"{fname}: {name} is None; expected {expected}. {NONE_HINT}"
        if cls is ArgumentError:
            cls = NoneArgumentError
    else:
        msg = f"{fname}: {name} must be {expected}; got {describe(given)}."
        if type(given) in _MULTIPLE_OUTPUTS:
            msg += " " + _MULTIPLE_OUTPUTS[type(given)]
        elif isinstance(given, tuple) and given and any(isdlarray(v) for v in given):
            msg += (" A function that returns several values returns them as a tuple: unpack it, e.g. "
                    "Y, mu, sigmaSq = batchnorm(X, offset, scale), or Y, state = forward(net, X).")
    if hint:
        msg += " " + hint
    raise cls(msg)


def not_none(fname, name, x, expected="an array"):
    """``x`` unchanged, or a message that ``name`` is None (and why None usually appears)."""
    if x is None:
        fail(fname, name, expected, None)
    return x


# -------------------------------------------------------------------------------------------------
# arrays

def _kinds_text(kinds) -> str:
    return " or ".join(_KIND_TEXT[k] for k in kinds if k in _KIND_TEXT)


def array(fname, name, x, kinds="fb", *, allow_empty=True, ndim=None, cls=ArgumentError, expected=None):
    """The raw data of an array argument (dlarray, NumPy array, traced box, number or nested list).

    ``kinds``: the accepted NumPy dtype kinds ("f" floating, "b" bool, "i"/"u" integer, "c" complex).
    float16 is refused (MATLAB has single and double only; its epsilon underflows). Returns the
    dlarray's data (possibly a traced box), the ndarray itself, or ``np.asarray`` of anything else.
    """
    t = type(x)
    if isdlarray(x):
        data = data_of(x)
    elif t is np.ndarray or isbox(x):
        data = x
    elif x is None:
        fail(fname, name, expected or f"a {_kinds_text(kinds)} array", None, cls=cls)
    elif (isinstance(x, (str, bytes, dict, set)) or callable(x)
          or (isinstance(x, tuple) and any(isdlarray(v) or v is None for v in x))):
        fail(fname, name, expected or f"a {_kinds_text(kinds)} array", x, cls=cls)
    else:
        try:
            data = np.asarray(x)
        except (ValueError, TypeError):
            fail(fname, name, expected or f"a {_kinds_text(kinds)} array", x,
                 hint="Nested lists must be rectangular (all rows the same length); sequences of different "
                      "lengths must be padded first.", cls=cls)
    v = getval(data)
    dt = getattr(v, "dtype", None)
    if dt is None:  # a Python scalar inside a box
        dt = np.asarray(v).dtype
    if dt.kind not in kinds or (dt.kind == "f" and dt.itemsize < 4):
        hint = ""
        if dt.kind == "f" and dt.itemsize < 4:
            hint = ("float16 (half precision) is not supported: MATLAB has single and double only, and "
                    "float16's epsilon underflows. Convert with .astype(np.float32).")
        elif dt.kind == "c":
            hint = "Complex values are not supported here: use the real part (np.real) or the magnitude (np.abs)."
        elif dt.kind == "O":
            hint = ("An object array usually comes from a list that mixes arrays and numbers or has rows of "
                    "different lengths: build a numeric array first.")
        elif dt.kind in "iu" and "f" in kinds:
            hint = "Convert it with .astype(np.float32) (MATLAB: single(X))."
        elif dt.kind in "US":
            hint = "This is text, not numbers."
        fail(fname, name, expected or f"a {_kinds_text(kinds)} array", x if t is not np.ndarray else v,
             hint=hint, cls=cls)
    if not allow_empty and np.size(v) == 0:
        fail(fname, name, "a non-empty array", x, cls=cls)
    if ndim is not None and np.ndim(v) not in ((ndim,) if isinstance(ndim, int) else tuple(ndim)):
        fail(fname, name, f"an array with {ndim} dimensions", x, cls=cls)
    return data


# -------------------------------------------------------------------------------------------------
# numbers

def _scalar_value(v):
    """A Python number from an int / float / NumPy scalar / 1-element array or dlarray, else raise TypeError."""
    if isdlarray(v):
        v = getval(data_of(v))
    if isinstance(v, (bool, np.bool_)) or v is None or isinstance(v, (str, bytes)):
        raise TypeError
    arr = np.asarray(getval(v))
    if arr.size != 1 or arr.dtype.kind not in "fiu":
        raise TypeError
    return arr.reshape(()).item()


def integer(fname, name, v, minimum=1, maximum=None, cls=ArgumentError, hint=""):
    """``v`` as an int: an integer number (2 and 2.0 are fine; 2.5, True, NaN, "2" and None are refused)."""
    if type(v) is int and v >= minimum and (maximum is None or v <= maximum):  # the common case
        return v
    expected = _int_expected(minimum, maximum)
    try:
        x = _scalar_value(v)
    except TypeError:
        fail(fname, name, expected, v, hint=hint, cls=cls)
    if isinstance(x, float) and (not math.isfinite(x) or x != int(x)):
        fail(fname, name, expected, v,
             hint=hint or "Sizes, strides and counts are whole numbers: sizes are not rounded for you.", cls=cls)
    x = int(x)
    if x < minimum or (maximum is not None and x > maximum):
        fail(fname, name, expected, v, hint=hint, cls=cls)
    return x


def _int_expected(minimum, maximum):
    if maximum is not None:
        return f"an integer from {minimum} to {maximum}"
    if minimum == 1:
        return "a positive integer"
    if minimum == 0:
        return "a non-negative integer"
    return f"an integer >= {minimum}"


def integers(fname, name, v, counts=(1, 2), minimum=1, cls=ArgumentError):
    """A tuple of ints from a scalar or a vector of ``counts`` entries (each an integer >= ``minimum``)."""
    if type(v) is int and v >= minimum:
        return (v,)
    n_text = " or ".join(str(c) for c in counts)
    expected = f"{_int_expected(minimum, None)} or a vector of {n_text} of them"
    if v is None or isinstance(v, (str, bytes, bool, dict)):
        fail(fname, name, expected, v, cls=cls)
    if isdlarray(v):
        v = getval(data_of(v))
    try:
        flat = np.ravel(np.asarray(v)) if not isinstance(v, numbers.Number) else [v]
    except (TypeError, ValueError):
        fail(fname, name, expected, v, cls=cls)
    if len(flat) not in counts and not (len(flat) == 1 and 1 not in counts):
        fail(fname, name, expected, v, cls=cls)
    return tuple(integer(fname, f"{name} (entry {i + 1})" if len(flat) > 1 else name, a, minimum, cls=cls)
                 for i, a in enumerate(flat))


def pair(fname, name, v, minimum=1, cls=ArgumentError):
    """``(a, b)`` from a scalar, ``[a]`` or ``[a b]`` of integers >= ``minimum`` (pool sizes, strides, ...)."""
    if type(v) is int and v >= minimum:  # the common case
        return (v, v)
    if type(v) is tuple and len(v) == 2 and type(v[0]) is int and type(v[1]) is int and min(v) >= minimum:
        return v
    vals = integers(fname, name, v, (1, 2), minimum, cls=cls)
    return (vals[0], vals[0]) if len(vals) == 1 else vals


def padding(fname, name, v, cls=ArgumentError):
    """``"same"`` or ``(top, bottom, left, right)`` from a scalar, [h w] or [t b l r] of integers >= 0."""
    if isinstance(v, str):
        if v.lower() == "same":
            return "same"
        fail(fname, name, "'same', a non-negative integer, [h w] or [top bottom left right]", v, cls=cls)
    if type(v) is int and v >= 0:
        return (v, v, v, v)
    vals = integers(fname, name, v, (1, 2, 4), 0, cls=cls)
    if len(vals) == 1:
        return vals * 4
    if len(vals) == 2:
        return (vals[0], vals[0], vals[1], vals[1])
    return vals


def real(fname, name, v, low=None, high=None, low_open=False, high_open=False, finite=True,
         cls=ArgumentError, hint=""):
    """``v`` as a float in the given range (NaN always refused, Inf unless ``finite=False``)."""
    if type(v) is float or type(v) is int:  # the common case: checked below without conversion
        x = float(v)
    else:
        try:
            x = float(_scalar_value(v))
        except TypeError:
            fail(fname, name, _range_text(low, high, low_open, high_open), v, hint=hint, cls=cls)
    if (math.isnan(x) or (finite and not math.isfinite(x))
            or (low is not None and (x < low or (low_open and x == low)))
            or (high is not None and (x > high or (high_open and x == high)))):
        fail(fname, name, _range_text(low, high, low_open, high_open), v, hint=hint, cls=cls)
    return x


def _range_text(low, high, low_open, high_open):
    if low is None and high is None:
        return "a finite real number"
    if high is None:
        return f"a real number {'>' if low_open else '>='} {low:g}" if low else (
            "a positive number" if low_open else "a non-negative number")
    if low is None:
        return f"a real number {'<' if high_open else '<='} {high:g}"
    return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def probability(fname, name, v, high_open=True, cls=ArgumentError):
    """A probability: a float in [0, 1) (``high_open=True``, e.g. a dropout rate) or [0, 1]."""
    return real(fname, name, v, 0.0, 1.0, high_open=high_open, cls=cls)


def option(fname, name, v, allowed, cls=ArgumentError):
    """The lower-cased value of a text option that must be one of ``allowed`` (case-insensitive)."""
    if isinstance(v, str):
        low = v.lower()
        for a in allowed:
            if a.lower() == low:
                return a
    fail(fname, name, "one of " + ", ".join(repr(a) for a in allowed), v, cls=cls)


def flag(fname, name, v, cls=ArgumentError):
    """A logical option: True / False (or 1 / 0, as MATLAB allows)."""
    if v is True or v is False:
        return v
    if isinstance(v, (np.bool_, numbers.Integral)) and int(v) in (0, 1):
        return bool(v)
    fail(fname, name, "True or False", v, cls=cls)


def data_format(fname, name, v):
    """A valid dlarray format string (labels S, C, B, T, U; C, B and T at most once)."""
    if v is None or not isinstance(v, str):
        fail(fname, name, "a format string such as 'SSCB' or 'CB'", v, cls=FormatError)
    try:
        return parse_format(v)
    except FormatError as err:
        raise FormatError(f"{fname}: {name}: {err}") from None


# -------------------------------------------------------------------------------------------------
# naming the leaves of a container (for messages only: not on the hot path)

def leaf_names(obj, prefix) -> list:
    """Names of the leaves of ``obj`` in tree order, e.g. ``params['fc1']['Weights']`` or a Table row
    (:func:`dlteach.tree.leaf_paths`: the one leaf-path spelling)."""
    from . import tree

    return tree.leaf_paths(obj, prefix)
