"""First-generation exercise checks (``with ex1: check_function(...)``), kept while the lessons
move to the exercise mechanism of :mod:`dlteach.checks` (``ex1.check()``); import from
``dlteach.checks``. Original description:

Immediate, friendly feedback for notebook exercises (in the spirit of Kaggle's learntools).

Used in the *test cells* of the lesson notebooks. The same cells serve a learner alone on Binder
(they see a short green "Correct" or a red box saying what was expected, plus a hint) and the
graders (nbgrader, nbval), which only look at whether the cell raised::

    from dlteach.checks import Exercise, ____, check_close, check_function, check_shape

    ex1 = Exercise("ex1", "Mean squared error",
                   hints=["Square the differences first.", "Then average with np.mean."],
                   solution="loss = np.mean((Y - T) ** 2)")

    # ... solution cell defines mse(Y, T) ...

    with ex1:                                   # test cell (nbgrader: grade=True, points=2)
        check_function(mse, [((np.array([1., 2.]), np.array([1., 4.])), 2.0)])

    ex1.hint()      # learner asks for help;  ex1.hint(2) for the next one;  ex1.solution()

Outcomes
--------
* correct        -> displays "Correct: ..." (green HTML, deterministic text/plain), returns None;
* wrong          -> displays what was expected and the hint, then raises :class:`CheckFailed`
                    (an ``AssertionError``) whose message is the same friendly text;
* not attempted  -> (``NotImplementedError`` from nbgrader's stub, a ``____`` placeholder, or a
                    ``NameError`` inside ``with exercise:``) displays and raises
                    :class:`NotAttempted` (a ``CheckFailed``) with its own message.

Design decisions (documented here because no reference fixes them):

* Nothing is ever written to stderr: nbgrader scores a test cell with any stderr output 0 and nbval
  compares stderr. Warnings raised while checking (e.g. NumPy overflow in the learner's code) are
  recorded and quoted in the failure text instead of being emitted.
* Display goes through IPython's ``display`` when an IPython shell is running, otherwise the
  text/plain form is printed to stdout (plain Python, pytest).
* Tracebacks stay short: frames of this module carry ``__tracebackhide__`` (honoured by IPython and
  pytest) and exceptions are raised ``from None``.
* Tolerances default to ``rtol=1e-5, atol=1e-8``: loose enough for float32 learnables (eps ~1.2e-7)
  and tight enough to catch a wrong formula.
"""

from __future__ import annotations

import copy
import html
import numbers
import warnings

import numpy as np

__all__ = [
    "CheckFailed",
    "NotAttempted",
    "Exercise",
    "Feedback",
    "____",
    "check_equal",
    "check_close",
    "check_shape",
    "check_dtype",
    "check_structure",
    "check_function",
    "check_true",
]

DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-8


# --------------------------------------------------------------------------------------------
# Exceptions and the placeholder
# --------------------------------------------------------------------------------------------
class CheckFailed(AssertionError):
    """A check found a wrong answer. ``str(exc)`` is the friendly feedback text.

    Subclass of ``AssertionError`` so that nbgrader, nbval and pytest count it as a failed test.
    ``exc.feedback`` is the :class:`Feedback` object that was displayed.
    """

    def __init__(self, message, feedback=None):
        super().__init__(message)
        self.feedback = feedback


class NotAttempted(CheckFailed):
    """The exercise has not been attempted yet (stub still raises, placeholder ``____`` left)."""


class _Placeholder:
    """The ``____`` blank in starter code: equal only to itself, so "not attempted" is detectable."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self):
        return "____"

    def __eq__(self, other):
        return other is self

    def __hash__(self):
        return 0

    def __bool__(self):
        raise NotAttempted(
            "Replace the blank ____ with your own code before running this cell."
        )

    def __reduce__(self):
        return (_Placeholder, ())


#: Put ``____`` in starter code where the learner has to write something.
____ = _Placeholder()


# --------------------------------------------------------------------------------------------
# Feedback objects (what gets displayed)
# --------------------------------------------------------------------------------------------
_STYLES = {
    # kind: (label, text colour, background, border)
    "correct": ("Correct", "#1a7f37", "#e8f5e9", "#1a7f37"),
    "incorrect": ("Incorrect", "#b42318", "#fdecea", "#b42318"),
    "not_attempted": ("Not attempted yet", "#1f4e99", "#e8f0fe", "#1f4e99"),
    "error": ("Your code raised an error", "#b42318", "#fdecea", "#b42318"),
    "hint": ("Hint", "#7a5b00", "#fff8e1", "#c79100"),
    "solution": ("Solution", "#374151", "#f3f4f6", "#6b7280"),
}


class Feedback:
    """A displayable feedback message.

    ``repr()`` is the deterministic text/plain form; ``_repr_html_`` the coloured HTML form
    (also deterministic: no ids, no timestamps, so nbval can compare it).
    """

    def __init__(self, kind, title, details=(), hint=None, code=None, footer=None):
        if kind not in _STYLES:
            raise ValueError(f"unknown feedback kind {kind!r}")
        self.kind = kind
        self.title = title
        self.details = list(details)
        self.hint = hint
        self.code = code
        self.footer = footer

    @property
    def label(self):
        return _STYLES[self.kind][0]

    @property
    def text(self):
        lines = [f"{self.label}: {self.title}" if self.title else self.label]
        lines += ["  " + line for d in self.details for line in str(d).splitlines()]
        if self.code is not None:
            lines += ["    " + line for line in self.code.splitlines()]
        if self.hint:
            lines.append(f"Hint: {self.hint}")
        if self.footer:
            lines.append(self.footer)
        return "\n".join(lines)

    def __repr__(self):
        return self.text

    def __str__(self):
        return self.text

    def _repr_html_(self):
        label, fg, bg, border = _STYLES[self.kind]
        esc = html.escape
        parts = [
            f'<div class="dlteach-feedback dlteach-{self.kind}" style="border-left:4px solid '
            f'{border};background:{bg};padding:4px 10px;margin:2px 0;">',
            f'<span style="color:{fg};font-weight:bold;">{esc(label)}</span>',
        ]
        if self.title:
            parts.append(f": {esc(self.title)}")
        if self.details:
            body = "\n".join(str(d) for d in self.details)
            parts.append(f'<pre style="margin:4px 0;background:none;">{esc(body)}</pre>')
        if self.code is not None:
            parts.append(f'<pre style="margin:4px 0;"><code>{esc(self.code)}</code></pre>')
        if self.hint:
            parts.append(f'<div><span style="color:#7a5b00;font-weight:bold;">Hint</span>: '
                         f"{esc(self.hint)}</div>")
        if self.footer:
            parts.append(f"<div>{esc(self.footer)}</div>")
        parts.append("</div>")
        return "".join(parts)


def _show(feedback):
    """Display ``feedback``: rich display inside IPython, else print to stdout (never stderr)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of ipywidgets
        get_ipython = None
    shell = get_ipython() if get_ipython is not None else None
    if shell is not None:
        from IPython.display import display

        display(feedback)
    else:
        print(feedback.text)


# --------------------------------------------------------------------------------------------
# Exercise: hints, solution, and a context manager for test cells
# --------------------------------------------------------------------------------------------
_ACTIVE = []  # stack of Exercise objects whose ``with`` block is running


class Exercise:
    """One exercise of a lesson: hints, a solution and a ``with`` block for its test cell.

    ``Exercise(name, title=None, hints=(), solution=None)``; ``name`` should be the variable
    the notebook binds it to (used in "run ex1.hint()" prompts).

    Inside ``with ex:`` the individual checks stay silent on success and one summary line
    ("Correct: Exercise ex1 (Mean squared error): 3 checks passed.") is displayed at the end.
    A ``NameError`` or ``NotImplementedError`` escaping the block is reported as
    :class:`NotAttempted`; a failed check is re-raised with the exercise's hint prompt added.
    """

    def __init__(self, name, title=None, *, hints=(), solution=None):
        if isinstance(hints, str):
            hints = [hints]
        self.name = str(name)
        self.title = title
        self.hints = list(hints)
        self.solution_text = solution
        self._passed = 0

    # -- learner-facing helpers -------------------------------------------------------------
    @property
    def label(self):
        return f"Exercise {self.name}" + (f" ({self.title})" if self.title else "")

    def hint(self, n=1):
        """Display hint number ``n`` (1-based)."""
        if not self.hints:
            fb = Feedback("hint", f"{self.label}", ["There is no hint for this exercise."])
        elif not isinstance(n, numbers.Integral) or not 1 <= n <= len(self.hints):
            fb = Feedback("hint", f"{self.label}",
                          [f"There are {len(self.hints)} hint(s): use {self.name}.hint(1)"
                           + (f" ... {self.name}.hint({len(self.hints)})."
                              if len(self.hints) > 1 else ".")])
        else:
            more = (f" (more: {self.name}.hint({n + 1}))" if n < len(self.hints) else "")
            fb = Feedback("hint", f"{n}/{len(self.hints)} for {self.label}{more}",
                          [self.hints[n - 1]])
        _show(fb)

    def solution(self):
        """Display the model solution (if the instructor provided one)."""
        if self.solution_text is None:
            fb = Feedback("solution", self.label, ["No solution is published for this exercise."])
        else:
            fb = Feedback("solution", self.label, code=self.solution_text)
        _show(fb)

    def _prompt(self):
        if self.hints:
            return f"Stuck? Run {self.name}.hint() for a hint."
        return None

    # -- context manager for test cells -----------------------------------------------------
    def __enter__(self):
        self._passed = 0
        _ACTIVE.append(self)
        return self

    def __exit__(self, exc_type, exc, tb):
        __tracebackhide__ = True
        if _ACTIVE and _ACTIVE[-1] is self:
            _ACTIVE.pop()
        if exc_type is None:
            n = self._passed
            _show(Feedback("correct", f"{self.label}: "
                           f"{n} check{'s' if n != 1 else ''} passed."))
            return False
        if issubclass(exc_type, CheckFailed):
            old = getattr(exc, "feedback", None) or Feedback("incorrect", str(exc))
            kind = "not_attempted" if isinstance(exc, NotAttempted) else "incorrect"
            details = list(old.details)
            if old.title and not (details and details[0].startswith(old.title)):
                details = [f"{old.title}:"] + ["  " + d for d in details]
            fb = Feedback(kind, self.label, details,
                          hint=None if kind == "not_attempted" else old.hint,
                          footer=self._prompt())
            _show(fb)
            _raise(type(exc)(fb.text, fb))
        if issubclass(exc_type, NameError):
            missing = getattr(exc, "name", None) or str(exc)
            fb = Feedback(
                "not_attempted", self.label,
                [f"`{missing}` is not defined yet.",
                 "Write your answer in the exercise cell above, run that cell, "
                 "then run this cell again."],
                footer=self._prompt())
            _show(fb)
            _raise(NotAttempted(fb.text, fb))
        if issubclass(exc_type, NotImplementedError):
            fb = Feedback("not_attempted", self.label, _NOT_IMPLEMENTED_DETAILS,
                          footer=self._prompt())
            _show(fb)
            _raise(NotAttempted(fb.text, fb))
        # Any other error comes from the learner's code (or the test code): name it, and let the
        # original exception propagate so its traceback points at the learner's line.
        if issubclass(exc_type, Exception):
            _show(Feedback("error", self.label, [f"{exc_type.__name__}: {exc}"],
                           footer=self._prompt()))
        return False


_NOT_IMPLEMENTED_DETAILS = [
    "The exercise cell still raises NotImplementedError.",
    "Replace `raise NotImplementedError()` with your code, run that cell, "
    "then run this cell again.",
]


# --------------------------------------------------------------------------------------------
# Reporting helpers
# --------------------------------------------------------------------------------------------
def _raise(exc):
    # Every failure is raised here: IPython always shows the frame that raises, so keep it tiny.
    __tracebackhide__ = True
    raise exc from None


def _passed(name, what="matches the expected value.", n=1):
    if _ACTIVE:
        _ACTIVE[-1]._passed += n
        return
    _show(Feedback("correct", f"{name} {what}"))


def _fail(kind, title, details, hint):
    """Display (unless an Exercise block will) and raise CheckFailed/NotAttempted."""
    __tracebackhide__ = True
    fb = Feedback(kind, title, details, hint=hint)
    if not _ACTIVE:
        _show(fb)
    exc_type = NotAttempted if kind == "not_attempted" else CheckFailed
    _raise(exc_type(fb.text, fb))


def _not_attempted(name, hint, why="is still the blank ____."):
    __tracebackhide__ = True
    _fail("not_attempted", name, [f"{name} {why}"], hint)


def _is_placeholder(x):
    return x is ____


def _to_array(x):
    """dlarray / array-like -> ndarray (dlteach's dlarray is unwrapped with extractdata)."""
    if type(x).__name__ == "dlarray":
        try:
            from dlteach.dlarray import extractdata
        except ImportError:  # pragma: no cover - dlarray module not available
            return np.asarray(getattr(x, "_data", x))
        return np.asarray(extractdata(x))
    return np.asarray(x)


def _fmt(x, limit=400):
    """Short deterministic description of a value for feedback text."""
    if _is_placeholder(x):
        return "____"
    if type(x).__name__ == "dlarray" or isinstance(x, np.ndarray):
        a = _to_array(x)
        head = f"{type(x).__name__} of shape {tuple(a.shape)}, dtype {a.dtype}"
        if a.size == 0:
            return head + " (empty)"
        body = np.array2string(a, precision=6, threshold=24, edgeitems=3, separator=", ")
        text = head + ":\n" + body
    elif isinstance(x, np.generic):
        text = f"{x.item()!r} ({x.dtype})"
    else:
        text = repr(x)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def _warning_details(caught):
    seen = []
    for w in caught:
        line = f"{w.category.__name__}: {w.message}"
        if line not in seen:
            seen.append(line)
    return [f"(your code emitted a warning: {line})" for line in seen[:3]]


def _is_arraylike(x):
    return (isinstance(x, (np.ndarray, np.generic, numbers.Number))
            or type(x).__name__ == "dlarray") and not isinstance(x, bool)


# --------------------------------------------------------------------------------------------
# Value comparison (shared by all checks). Returns None if equal, else a list of detail lines.
# --------------------------------------------------------------------------------------------
def _compare_numeric(value, expected, rtol, atol, exact):
    try:
        v = _to_array(value)
    except Exception:  # noqa: BLE001 - anything that cannot become an array is wrong here
        return [f"got:      {_fmt(value)}", f"expected: {_fmt(expected)}",
                "Your value could not be converted to a NumPy array."]
    e = _to_array(expected)
    if v.shape != e.shape:
        return [f"got shape      {tuple(v.shape)}", f"expected shape {tuple(e.shape)}",
                "Check which axis you reduced over or whether you transposed."]
    if v.dtype == object or not np.issubdtype(v.dtype, np.number) and v.dtype != bool:
        return [f"got:      {_fmt(value)}", f"expected: {_fmt(expected)}",
                "Your result is not numeric."]
    with np.errstate(all="ignore"):
        if exact or not (np.issubdtype(e.dtype, np.inexact) or np.issubdtype(v.dtype, np.inexact)):
            ok = np.array_equal(v, e, equal_nan=np.issubdtype(e.dtype, np.inexact))
            tol = ""
        else:
            ok = bool(np.allclose(v, e, rtol=rtol, atol=atol, equal_nan=True))
            tol = f" (rtol={rtol:g}, atol={atol:g})"
        if ok:
            return None
        details = [f"got:      {_fmt(value)}", f"expected: {_fmt(expected)}{tol}"]
        vf, ef = v.astype(np.float64, copy=False), e.astype(np.float64, copy=False)
        if np.isnan(vf).any() and not np.isnan(ef).any():
            details.append("Your result contains NaN: look for overflow (exp of a large number), "
                           "log(0) or 0/0.")
        elif np.isinf(vf).any() and not np.isinf(ef).any():
            details.append("Your result contains inf: look for overflow or division by zero.")
        elif v.ndim > 0 and v.size > 1:
            diff = np.abs(vf - ef)
            diff = np.where(np.isnan(diff), np.inf, diff)
            idx = np.unravel_index(int(np.argmax(diff)), diff.shape)
            details.append(f"largest difference {float(diff[idx]):.6g} at index "
                           f"{tuple(int(i) for i in idx)}")
        return details


def _compare(value, expected, rtol, atol, exact, path):
    """Recursive comparison of (nested) values; returns None or detail lines naming ``path``."""
    if _is_placeholder(value):
        return [f"{path} is still the blank ____."]
    if isinstance(expected, dict):
        if not isinstance(value, dict):
            return [f"{path} should be a dict, got {type(value).__name__}."]
        missing = [k for k in expected if k not in value]
        extra = [k for k in value if k not in expected]
        if missing or extra:
            out = [f"{path} has keys {sorted(map(repr, value))}"]
            if missing:
                out.append(f"missing: {', '.join(map(repr, missing))}")
            if extra:
                out.append(f"unexpected: {', '.join(map(repr, extra))}")
            return out
        for k in expected:
            d = _compare(value[k], expected[k], rtol, atol, exact, f"{path}[{k!r}]")
            if d:
                return d
        return None
    if isinstance(expected, (list, tuple)) and (
            isinstance(value, (np.ndarray, np.generic)) or type(value).__name__ == "dlarray"):
        # a nested list of numbers as the expected value of an array result
        try:
            expected = np.asarray(expected, dtype=np.float64)
        except (TypeError, ValueError):
            pass
    if isinstance(expected, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            return [f"{path} should be a {type(expected).__name__} of length {len(expected)}, "
                    f"got {type(value).__name__}."]
        if len(value) != len(expected):
            return [f"{path} has length {len(value)}, expected {len(expected)}."]
        for i, (v, e) in enumerate(zip(value, expected)):
            d = _compare(v, e, rtol, atol, exact, f"{path}[{i}]")
            if d:
                return d
        return None
    if value is None and expected is not None:
        return [f"{path} is None. Did you forget a `return` statement?"]
    if _is_arraylike(expected) and not isinstance(expected, bool):
        d = _compare_numeric(value, expected, rtol, atol, exact)
        if d:
            return d if path in ("value", "result") else [f"{path}:"] + ["  " + x for x in d]
        return None
    try:
        same = bool(value == expected)
    except Exception:  # noqa: BLE001 - e.g. ambiguous array truth value
        same = False
    if same:
        return None
    return [f"{path}: got {_fmt(value)}, expected {_fmt(expected)}"]


# --------------------------------------------------------------------------------------------
# Public checks
# --------------------------------------------------------------------------------------------
def check_equal(name, value, expected, *, hint=None, rtol=None, atol=None):
    """Check ``value == expected`` (exact; with ``rtol``/``atol`` given, a tolerance check).

    Works for numbers, arrays (shape and all elements), strings and nested dict/list/tuple.
    """
    __tracebackhide__ = True
    if _is_placeholder(value):
        _not_attempted(name, hint)
    exact = rtol is None and atol is None
    details = _compare(value, expected, DEFAULT_RTOL if rtol is None else rtol,
                       0.0 if atol is None else atol, exact, "value")
    if details:
        _fail("incorrect", name, details, hint)
    _passed(name)


def check_close(name, value, expected, *, rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL, dtype=None,
                hint=None):
    """Check ``|value - expected| <= atol + rtol * |expected|`` elementwise, with equal shapes.

    ``dtype`` (e.g. ``np.float32``) additionally requires that exact dtype (float32 learnables
    must stay float32).
    """
    __tracebackhide__ = True
    if _is_placeholder(value):
        _not_attempted(name, hint)
    if value is None:
        _fail("incorrect", name, ["got None. Did you forget a `return` statement or assign the "
                                  "result to a variable?"], hint)
    if dtype is not None:
        _check_dtype_details(name, value, dtype, hint)
    details = _compare(value, expected, rtol, atol, False, "value")
    if details:
        _fail("incorrect", name, details, hint)
    _passed(name, "matches the expected value." if dtype is None
            else f"matches the expected value and has dtype {np.dtype(dtype)}.")


def _check_dtype_details(name, value, dtype, hint):
    __tracebackhide__ = True
    want = np.dtype(dtype)
    try:
        got = _to_array(value).dtype
    except Exception:  # noqa: BLE001
        got = None
    if got != want:
        details = [f"got dtype      {got}", f"expected dtype {want}"]
        if want == np.float32 and got == np.float64:
            details.append("NumPy upcasts float32 to float64 when you mix in float64 arrays or "
                           "np.float64 scalars; keep everything float32 "
                           "(e.g. np.float32(0.5), x.astype(np.float32)).")
        _fail("incorrect", name, details, hint)


def check_dtype(name, value, dtype, *, hint=None):
    """Check that ``value`` (array / dlarray / NumPy scalar) has exactly ``dtype``."""
    __tracebackhide__ = True
    if _is_placeholder(value):
        _not_attempted(name, hint)
    _check_dtype_details(name, value, dtype, hint)
    _passed(name, f"has dtype {np.dtype(dtype)}.")


def check_shape(name, value, shape, *, hint=None):
    """Check ``value.shape == shape``; ``None`` entries in ``shape`` match any size."""
    __tracebackhide__ = True
    if _is_placeholder(value):
        _not_attempted(name, hint)
    if value is None:
        _fail("incorrect", name, ["got None. Did you forget a `return` statement?"], hint)
    try:
        got = tuple(_to_array(value).shape) if not hasattr(value, "shape") else tuple(value.shape)
    except Exception:  # noqa: BLE001
        _fail("incorrect", name, [f"got {_fmt(value)}, which has no shape."], hint)
    shape = tuple(shape)
    ok = len(got) == len(shape) and all(s is None or g == s for g, s in zip(got, shape))
    if not ok:
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + \
            ("," if len(shape) == 1 else "") + ")"
        _fail("incorrect", name, [f"got shape      {got}", f"expected shape {want}"], hint)
    _passed(name, f"has shape {got}.")


def check_structure(name, value, expected, *, values=False, rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL,
                    hint=None):
    """Check that nested dict/list/tuple ``value`` has the structure of ``expected``.

    Same keys, lengths and container types; array leaves must have the expected shape (and dtype
    when the expected leaf is a floating array). With ``values=True`` leaves are also compared
    with :func:`check_close`'s tolerance. The first mismatch is reported by its path, e.g.
    ``value['fc1']['Weights']``.
    """
    __tracebackhide__ = True
    if _is_placeholder(value):
        _not_attempted(name, hint)
    details = _structure(value, expected, "value")
    if details is None and values:
        details = _compare(value, expected, rtol, atol, False, "value")
    if details:
        _fail("incorrect", name, details, hint)
    _passed(name, "has the expected structure." if not values
            else "has the expected structure and values.")


def _structure(value, expected, path):
    if _is_placeholder(value):
        return [f"{path} is still the blank ____."]
    if isinstance(expected, dict):
        if not isinstance(value, dict):
            return [f"{path} should be a dict, got {type(value).__name__}."]
        missing = [k for k in expected if k not in value]
        extra = [k for k in value if k not in expected]
        if missing:
            return [f"{path} is missing key(s) {', '.join(map(repr, missing))}."]
        if extra:
            return [f"{path} has unexpected key(s) {', '.join(map(repr, extra))}."]
        for k in expected:
            d = _structure(value[k], expected[k], f"{path}[{k!r}]")
            if d:
                return d
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            return [f"{path} should be a {type(expected).__name__}, got {type(value).__name__}."]
        if len(value) != len(expected):
            return [f"{path} has length {len(value)}, expected {len(expected)}."]
        for i, (v, e) in enumerate(zip(value, expected)):
            d = _structure(v, e, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(expected, np.ndarray) or type(expected).__name__ == "dlarray":
        e = _to_array(expected)
        if value is None:
            return [f"{path} is None."]
        try:
            v = _to_array(value)
        except Exception:  # noqa: BLE001
            return [f"{path} should be an array, got {type(value).__name__}."]
        if v.shape != e.shape:
            return [f"{path} has shape {tuple(v.shape)}, expected {tuple(e.shape)}."]
        if np.issubdtype(e.dtype, np.floating) and v.dtype != e.dtype:
            return [f"{path} has dtype {v.dtype}, expected {e.dtype}."]
    return None


def check_true(name, condition, message, *, hint=None):
    """Generic check: pass if ``condition`` is truthy, else fail with ``message``."""
    __tracebackhide__ = True
    if _is_placeholder(condition):
        _not_attempted(name, hint)
    if not bool(condition):
        _fail("incorrect", name, [message], hint)
    _passed(name, "is correct.")


def _short(x):
    """One-line description of an argument for "f(...) returned ..." messages."""
    if isinstance(x, np.ndarray):
        if x.size <= 8:
            with np.printoptions(precision=4, threshold=8):
                return " ".join(repr(x).split())
        return f"array(shape={tuple(x.shape)}, dtype={x.dtype})"
    if type(x).__name__ == "dlarray":
        return f"dlarray(shape={tuple(_to_array(x).shape)}, dtype={_to_array(x).dtype})"
    text = _fmt(x, limit=60).replace("\n", " ")
    return text


def _call_repr(fname, args, kwargs):
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"{fname}({', '.join(parts)})"


def _normalize_case(case):
    if not isinstance(case, (tuple, list)) or len(case) not in (2, 3):
        raise TypeError("each case must be (args, expected) or (args, kwargs, expected)")
    if len(case) == 2:
        args, expected = case
        kwargs = {}
    else:
        args, kwargs, expected = case
    if not isinstance(args, tuple):
        args = (args,)
    return args, dict(kwargs), expected


def _copy(x):
    try:
        return copy.deepcopy(x)
    except Exception:  # noqa: BLE001 - uncopyable argument: pass it as is
        return x


def _mutated(after, before):
    """True if an array (possibly nested in dict/list/tuple) differs from its original copy."""
    if after is before:
        return False
    if isinstance(before, dict) and isinstance(after, dict):
        return any(_mutated(after.get(k), v) for k, v in before.items())
    if isinstance(before, (list, tuple)) and isinstance(after, (list, tuple)):
        if len(before) != len(after):
            return True
        return any(_mutated(a, b) for a, b in zip(after, before))
    if isinstance(before, np.ndarray) and isinstance(after, np.ndarray):
        return before.shape != after.shape or not np.array_equal(before, after, equal_nan=True)
    return False


def check_function(fn, cases, *, name=None, rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL, exact=False,
                   dtype=None, hint=None):
    """Call ``fn`` on each case and compare with the expected result.

    ``cases``: list of ``(args, expected)`` or ``(args, kwargs, expected)``; a non-tuple ``args``
    is a single argument. Arguments are deep-copied, and a function that modifies its inputs in
    place fails with a message saying so. Floating results are compared with ``rtol``/``atol``
    (``exact=True`` for exact equality); tuples/lists/dicts are compared element by element.
    ``dtype`` additionally requires every array result to have that dtype.
    """
    __tracebackhide__ = True
    fname = name or getattr(fn, "__name__", "your function")
    if _is_placeholder(fn):
        _not_attempted(fname, hint)
    if not callable(fn):
        _fail("incorrect", fname, [f"{fname} should be a function, got {_fmt(fn)}."], hint)
    for case in cases:
        args, kwargs, expected = _normalize_case(case)
        call_args, call_kwargs = _copy(args), _copy(kwargs)
        call = _call_repr(fname, args, kwargs)
        with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
            warnings.simplefilter("always")
            try:
                result = fn(*call_args, **call_kwargs)
            except NotImplementedError:
                _fail("not_attempted", fname, _NOT_IMPLEMENTED_DETAILS, hint)
            except CheckFailed:
                raise
            except Exception as err:  # noqa: BLE001 - learner code: report, don't crash
                _fail("incorrect", fname,
                      [f"{call} raised {type(err).__name__}: {err}"] + _warning_details(caught),
                      hint)
        if _is_placeholder(result):
            _fail("not_attempted", fname, [f"{fname} still returns the blank ____."], hint)
        details = None
        if dtype is not None:
            arrays = [r for r in (result if isinstance(result, tuple) else (result,))
                      if isinstance(r, (np.ndarray, np.generic)) or type(r).__name__ == "dlarray"]
            bad = [r for r in arrays if _to_array(r).dtype != np.dtype(dtype)]
            if bad or not arrays:
                got = _to_array(bad[0]).dtype if bad else type(result).__name__
                details = [f"{call} returned dtype {got}, expected {np.dtype(dtype)}."]
                if np.dtype(dtype) == np.float32 and got == np.float64:
                    details.append("NumPy upcasts float32 to float64 when you mix in float64 "
                                   "values; keep everything float32.")
        if details is None:
            details = _compare(result, expected, rtol, atol, exact, "result")
            if details:
                details = [f"{call}:"] + ["  " + d for d in details]
        if details is None and (_mutated(call_args, args) or _mutated(call_kwargs, kwargs)):
            details = [f"{call} returned the right value but modified its input in place.",
                       "Work on a copy (e.g. x = x.copy()) or build a new array instead."]
        if details:
            _fail("incorrect", fname, details + _warning_details(caught), hint)
    n = len(cases)
    _passed(fname, f"passed {n} test case{'s' if n != 1 else ''}.", n=n)

