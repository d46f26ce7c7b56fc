"""Exercise checks for the lesson notebooks: one line per test cell, one box per verdict.

A lesson's check code lives in ``dlteach/exercises/lessonNN.py``; the notebook imports the exercise
objects in its setup cell and each graded test cell is one line plus nbgrader's hidden block::

    from dlteach.exercises.lesson01 import ex1, ex2, q1, ____      # setup cell

    ex1.check("loss")                     # graded test cell (nbgrader grade_id ex1_loss, 2 points)
    ### BEGIN HIDDEN TESTS
    ex1.check("loss", seed=2718)          # same requirements, other inputs: hard-coding fails
    ### END HIDDEN TESTS

    ex1.hint()          # learners: the next hint (concept -> where to look -> partial code)
    ex1.solution()      # learners: the full solution (an instructor can switch it off)

The authoring API (``Exercise``, ``@ex.part``, the :class:`Context` helpers, ``Choice`` and
``Answer`` for hashed multiple-choice / short answers) is documented with a complete worked
exercise in notebooks/README.md.

Two modes (decided per check, see :func:`mode`)
------------------------------------------------
* **interactive** -- a learner in JupyterLab, Notebook 7, VS Code or Binder: a check shows ONE box
  (Correct / Incorrect / Not attempted yet) and never raises, so *Run All* goes through a blank
  notebook to its last cell.
* **grading** -- nbgrader (autograde, validate, generate_feedback's source run), nbval,
  ``jupyter nbconvert --execute``, papermill and plain Python/pytest: a failing check raises
  :class:`ExerciseIncorrect` / :class:`ExerciseNotAttempted` (``AssertionError`` subclasses), so
  the cell scores 0 and the test fails. In a kernel, the exception is shown as its message only
  (an IPython custom exception handler replaces the traceback), so nbgrader's feedback HTML
  contains "Incorrect: ..." and no source line of the (hidden) test code; the box is not displayed
  as well, so there is one box per failure in both modes.

How the mode is detected: an explicit ``DLTEACH_CHECKS=interactive|grading`` environment variable
wins. Otherwise, inside an IPython kernel, the check reads the ``allow_stdin`` flag of the
execute request that is running: every interactive front end sends ``allow_stdin=True`` (it can
answer ``input()``), while every headless executor sends ``False``: nbclient (used by nbgrader's
``Execute`` preprocessor, nbconvert and papermill) sets ``kc.allow_stdin = False``, and nbval
executes with ``allow_stdin=False``. Outside a kernel (plain Python, pytest) checks raise, and in
a terminal IPython they display. When the flag cannot be read the mode is "grading": a wrong
answer must never score.

Tolerances: every value comparison states its own ``rtol``/``atol`` (float32 learnables carry
about 7 significant digits; a float32 sum of n terms is accurate to about n * 6e-8 relative), and
the success box lists what was checked. Inputs are verified unchanged (arrays, dlarrays, dicts,
lists, dlnetwork learnables) right after each call, before any value is compared.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import sys
import types
import warnings
import zlib

import numpy as np

from . import _jupyter

__all__ = [
    "CheckFailed", "NotAttempted", "ExerciseIncorrect", "ExerciseNotAttempted",
    "Exercise", "Choice", "Answer", "Context", "____",
    "mode", "digest", "seal", "unseal",
]


class CheckFailed(AssertionError):
    """A check found a wrong answer (grading mode). ``str(exc)`` is the text of the box.

    Subclass of ``AssertionError`` so that nbgrader, nbval and pytest count it as a failed test.
    """

    def __init__(self, message, feedback=None):
        super().__init__(message)
        self.feedback = feedback


class NotAttempted(CheckFailed):
    """The exercise has not been attempted yet (the blank ``____`` is still there, or nothing is defined)."""


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
        raise NotAttempted("Replace the blank ____ with your own code before running this cell.")

    def __reduce__(self):
        return (_Placeholder, ())

    def _ipython_display_(self):
        """The blank ``____`` left alone as a cell's last line (nbgrader's stub) displays nothing."""


#: Put ``____`` in starter code where the learner has to write something.
____ = _Placeholder()

MODE_ENV = "DLTEACH_CHECKS"          # "interactive" | "grading" (overrides the detection)
SOLUTIONS_ENV = "DLTEACH_SOLUTIONS"  # "off" (or 0/false/no): exN.solution() shows no solution


# --------------------------------------------------------------------------------------------
# Mode detection
# --------------------------------------------------------------------------------------------
def mode() -> str:
    """"interactive" (show a box, never raise) or "grading" (raise on failure); see the module doc."""
    forced = os.environ.get(MODE_ENV, "").strip().lower()
    if forced in ("interactive", "grading"):
        return forced
    shell = _jupyter.get_ipython()
    if shell is None:
        return "grading"
    if getattr(shell, "kernel", None) is None:
        return "interactive"  # terminal IPython
    return "interactive" if _jupyter.request_allows_stdin(shell) else "grading"


# --------------------------------------------------------------------------------------------
# Exceptions raised in grading mode, and their compact display in a kernel
# --------------------------------------------------------------------------------------------
class ExerciseIncorrect(CheckFailed):
    """A graded check failed (grading mode). ``str(exc)`` is the whole feedback text."""


class ExerciseNotAttempted(NotAttempted):
    """A graded check found no answer yet (grading mode)."""


class _Fail(Exception):
    """Raised inside a part's check function; turned into the verdict by Exercise.check."""

    def __init__(self, kind, lines):
        super().__init__("\n".join(lines))
        self.kind = kind
        self.lines = list(lines)


def _compact_traceback(shell, etype, value, tb, tb_offset=None):
    # IPython custom exception handler: the "traceback" of a failed check is its message only,
    # so no line of the test cell (hidden tests included) reaches the output or nbgrader feedback.
    stb = [str(value)]
    shell._showtraceback(etype, value, stb)
    return stb


def _install_exception_display():
    shell = _jupyter.get_ipython()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return
    current = tuple(getattr(shell, "custom_exceptions", ()) or ())
    if current and not all(issubclass(c, CheckFailed) for c in current):
        return  # somebody else's handler: leave it alone (checks then show a normal traceback)
    shell.set_custom_exc((ExerciseIncorrect, ExerciseNotAttempted), _compact_traceback)


# --------------------------------------------------------------------------------------------
# Display
# --------------------------------------------------------------------------------------------
_STYLES = {
    "correct": ("Correct", "#1a7f37", "#e8f5e9"),
    "incorrect": ("Incorrect", "#b42318", "#fdecea"),
    "not_attempted": ("Not attempted yet", "#1f4e99", "#e8f0fe"),
    "hint": ("Hint", "#7a5b00", "#fff8e1"),
    "solution": ("Solution", "#374151", "#f3f4f6"),
    "info": ("Note", "#374151", "#f3f4f6"),
}


class Box:
    """One feedback box: deterministic text/plain and HTML (nbval compares them)."""

    def __init__(self, kind, title, lines=(), code=None, footer=None, meta=None):
        self.kind, self.title = kind, title
        self.lines, self.code, self.footer = list(lines), code, footer
        self.meta = dict(meta or {})

    @property
    def label(self):
        return _STYLES[self.kind][0]

    @property
    def text(self):
        out = [f"{self.label}: {self.title}"]
        out += ["  " + line for entry in self.lines for line in str(entry).splitlines()]
        if self.code is not None:
            out += ["    " + line for line in self.code.splitlines()]
        if self.footer:
            out.append(self.footer)
        return "\n".join(out)

    __str__ = __repr__ = lambda self: self.text

    def _repr_html_(self):
        label, fg, bg = _STYLES[self.kind]
        esc = html.escape
        parts = [f'<div class="dlteach-feedback dlteach-{self.kind}" style="border-left:4px solid {fg};'
                 f'background:{bg};padding:4px 10px;margin:2px 0;">'
                 f'<span style="color:{fg};font-weight:bold;">{esc(label)}</span>: {esc(self.title)}']
        if self.lines:
            body = "\n".join(str(x) for x in self.lines)
            parts.append(f'<pre style="margin:4px 0;background:none;white-space:pre-wrap;">{esc(body)}</pre>')
        if self.code is not None:
            parts.append(f'<pre style="margin:4px 0;"><code>{esc(self.code)}</code></pre>')
        if self.footer:
            parts.append(f"<div>{esc(self.footer)}</div>")
        parts.append("</div>")
        return "".join(parts)

    def show(self):
        shell = _jupyter.get_ipython()
        if shell is None:
            print(self.text)
            return
        from IPython.display import display

        display(self, metadata={"dlteach": {"verdict": self.kind, **self.meta}})


# --------------------------------------------------------------------------------------------
# Hashing and sealing (answers never stand in plain text in anything the learner has)
# --------------------------------------------------------------------------------------------
def digest(name: str, answer: str) -> str:
    """The stored form of the answer ``answer`` (already normalised) to question ``name``."""
    return hashlib.sha256(f"dlteach:{name}:{answer}".encode()).hexdigest()[:24]


def seal(text: str) -> str:
    """Encode ``text`` (a solution naming an answer) so that it is not readable in the source."""
    return base64.b64encode(zlib.compress(text.encode(), 9)).decode()


def unseal(blob: str) -> str:
    return zlib.decompress(base64.b64decode(blob)).decode()


class Sealed(str):
    """A sealed solution text: ``Sealed(seal(text))``."""


def _solutions_enabled():
    return os.environ.get(SOLUTIONS_ENV, "").strip().lower() not in ("off", "0", "false", "no")


# --------------------------------------------------------------------------------------------
# Describing values and comparing them
# --------------------------------------------------------------------------------------------
def _is_dlarray(x):
    return type(x).__name__ == "dlarray"


def _data(x):
    if _is_dlarray(x):
        from .formats import value_of

        return np.asarray(value_of(x))
    return np.asarray(x)


def _describe(x):
    """Short one-line description of a value (never a dump of a large array)."""
    if x is ____:
        return "the blank ____"
    if x is None:
        return "None"
    if _is_dlarray(x) or isinstance(x, np.ndarray):
        a = _data(x)
        fmt = ""
        if _is_dlarray(x):
            from .formats import fmt_of

            fmt = f', format "{fmt_of(x)}"' if fmt_of(x) else ""
        if a.size <= 6 and a.ndim <= 1:
            with np.printoptions(precision=6):
                return f"{type(x).__name__} {np.array2string(a, separator=', ')} ({a.dtype}{fmt})"
        return f"{type(x).__name__} of shape {tuple(a.shape)}, dtype {a.dtype}{fmt}"
    if isinstance(x, np.generic):
        return f"{x.item()!r} ({x.dtype})"
    if isinstance(x, (list, tuple)) and len(x) > 6:
        return f"a {type(x).__name__} of length {len(x)}"
    if isinstance(x, dict) and len(x) > 6:
        return f"a dict with keys {sorted(map(str, x))[:6]}..."
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def _array_mismatch(v, e, rtol, atol):
    """Summary lines of a value mismatch of two same-shape arrays (no dump)."""
    vf = v.astype(np.float64, copy=False)
    ef = e.astype(np.float64, copy=False)
    with np.errstate(all="ignore"):
        if np.isnan(vf).any() and not np.isnan(ef).any():
            n = int(np.isnan(vf).sum())
            return [f"{n} of {vf.size} values are NaN: look for log(0), 0/0 or overflow in exp."]
        if np.isinf(vf).any() and not np.isinf(ef).any():
            return ["values are inf: look for overflow or a division by zero."]
        diff = np.abs(vf - ef)
        bad = ~(diff <= atol + rtol * np.abs(ef))
        diff = np.where(np.isnan(diff), np.inf, diff)
    if vf.ndim == 0:
        return [f"got {float(vf):.7g}, expected {float(ef):.7g} "
                f"(difference {float(diff):.3g}; tolerance rtol={rtol:g}, atol={atol:g})"]
    idx = np.unravel_index(int(np.argmax(diff)), diff.shape)
    where = tuple(int(i) for i in idx)
    lines = [f"{int(bad.sum())} of {vf.size} values differ (tolerance rtol={rtol:g}, atol={atol:g});",
             f"largest difference {float(diff[idx]):.3g} at index {where}: "
             f"got {float(vf[idx]):.7g}, expected {float(ef[idx]):.7g}"]
    if np.allclose(vf, -ef, rtol=rtol, atol=atol):
        lines.append("every value has the wrong sign.")
    elif np.all(ef != 0):
        ratio = vf / ef
        if np.allclose(ratio, ratio.flat[0], rtol=1e-4) and abs(ratio.flat[0]) > 0:
            lines.append(f"every value is {ratio.flat[0]:.4g} times the expected one.")
    return lines


# --------------------------------------------------------------------------------------------
# Snapshots of inputs (in-place modification detection)
# --------------------------------------------------------------------------------------------
def _snapshot(x):
    if _is_dlarray(x) or isinstance(x, np.ndarray):
        return ("array", _data(x).copy())
    if isinstance(x, dict):
        return ("dict", {k: _snapshot(v) for k, v in x.items()})
    if isinstance(x, (list, tuple)):
        return ("seq", [_snapshot(v) for v in x])
    learnables = getattr(x, "Learnables", None)
    if learnables is not None and hasattr(learnables, "Value"):
        return ("net", [_data(v).copy() for v in learnables.Value])
    return ("other", None)


def _same_values(a, b):
    # NaN equals NaN for inexact data only: equal_nan on strings (labels a datastore reads) raises TypeError
    inexact = np.issubdtype(a.dtype, np.inexact) and np.issubdtype(b.dtype, np.inexact)
    return np.array_equal(a, b, equal_nan=inexact)


def _changed(x, snap):
    kind, data = snap
    if kind == "array":
        a = _data(x)
        return a.shape != data.shape or not _same_values(a, data)
    if kind == "dict":
        return (not isinstance(x, dict) or set(x) != set(data)
                or any(_changed(x[k], s) for k, s in data.items()))
    if kind == "seq":
        return (not isinstance(x, (list, tuple)) or len(x) != len(data)
                or any(_changed(v, s) for v, s in zip(x, data)))
    if kind == "net":
        values = x.Learnables.Value
        return len(values) != len(data) or any(
            not _same_values(_data(v), s) for v, s in zip(values, data))
    return False


def _uses_blank(fn):
    code = getattr(fn, "__code__", None)
    stack = [code] if code is not None else []
    while stack:
        c = stack.pop()
        if "____" in c.co_names:
            return True
        stack += [k for k in c.co_consts if isinstance(k, types.CodeType)]
    return False


# --------------------------------------------------------------------------------------------
# The context a part's check function works with
# --------------------------------------------------------------------------------------------
class Context:
    """What a part's check function receives.

    ``c.seed`` (None for the visible check, the hidden block's number when grading), ``c.rng``
    (a NumPy Generator seeded with ``seed`` or 0), ``c.hidden``; the helpers below raise the
    verdict themselves and record what passed for the success box.
    """

    def __init__(self, exercise, part, namespace, seed):
        self.exercise, self.part, self.ns = exercise, part, namespace
        self.seed = seed
        self.hidden = seed is not None
        self.rng = np.random.default_rng(0 if seed is None else seed)
        self.checked = []

    # -- verdicts --------------------------------------------------------------------------
    def fail(self, *lines):
        """Incorrect, with these explanation lines."""
        raise _Fail("incorrect", lines)

    def not_attempted(self, *lines):
        raise _Fail("not_attempted", lines)

    def passed(self, what):
        """Record a passed requirement (listed in the success box)."""
        self.checked.append(what)

    def require(self, condition, message, what=None):
        """Incorrect with ``message`` unless ``condition``; ``what`` is recorded on success."""
        if not condition:
            self.fail(message)
        if what:
            self.passed(what)

    # -- the learner's names ------------------------------------------------------------------
    def get(self, name, kind=None):
        """The learner's variable ``name`` from the notebook; ``kind="function"`` requires a
        function. Missing, still ``____``, or a function still containing ``____`` -> not attempted."""
        if name not in self.ns:
            self.not_attempted(f"`{name}` is not defined yet: write your answer in the exercise "
                               "cell, run that cell, then run this one again.")
        value = self.ns[name]
        if value is ____:
            self.not_attempted(f"`{name}` is still the blank ____.")
        if kind == "function":
            if not callable(value):
                self.fail(f"`{name}` should be a function (def {name}(...):), got {_describe(value)}.")
            if _uses_blank(value):
                self.not_attempted(f"`{name}` still contains the blank ____: replace it with your code.")
        return value

    def call(self, label, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``, described as ``label`` (e.g. ``"modelLoss(net, X, T)"``).

        An exception becomes Incorrect ("modelLoss(net, X, T) raised ValueError: ..."), a stub's
        NotImplementedError Not attempted; an argument changed in place is Incorrect, checked
        right after the call and before any value is compared.
        """
        snaps = [_snapshot(a) for a in args]
        ksnaps = {k: _snapshot(v) for k, v in kwargs.items()}
        try:
            result = fn(*args, **kwargs)
        except NotImplementedError:
            self.not_attempted(f"{label} still raises NotImplementedError: replace the stub "
                               "with your code.")
        except _Fail:
            raise
        except Exception as err:  # noqa: BLE001 - the learner's code: report it, don't crash
            self.fail(f"{label} raised {type(err).__name__}: {err}")
        names = _arg_names(label, len(args))
        for i, (a, s) in enumerate(zip(args, snaps)):
            if _changed(a, s):
                self.fail(f"{label} changed its input `{names[i]}` in place (for example "
                          f"`{names[i]}[mask] = 0` or `{names[i]} += ...`).",
                          "Leave the inputs as they are: build new arrays instead "
                          "(np.maximum, np.where, x = x + ...).")
        for k, s in ksnaps.items():
            if _changed(kwargs[k], s):
                self.fail(f"{label} changed its input `{k}` in place.",
                          "Leave the inputs as they are: build new arrays instead.")
        if result is ____:
            self.not_attempted(f"{label} still returns the blank ____.")
        return result

    # -- comparisons ---------------------------------------------------------------------------
    def close(self, what, value, expected, *, rtol, atol, dtype=None, why=""):
        """Array/number ``value`` within ``atol + rtol*|expected|`` of ``expected``, same shape;
        ``dtype`` (e.g. np.float32) is required exactly when given. ``why`` documents the
        tolerance in the success box."""
        if value is ____:
            self.not_attempted(f"{what} is still the blank ____.")
        if value is None:
            self.fail(f"{what} is None: did you forget `return`?")
        if isinstance(value, (str, bytes, dict, bool)) or callable(value):
            self.fail(f"{what} should be a number or an array, got {_describe(value)}.")
        try:
            v = _data(value)
        except Exception:  # noqa: BLE001
            self.fail(f"{what} should be a number or an array, got {_describe(value)}.")
        e = _data(expected)
        if v.dtype == object or not (np.issubdtype(v.dtype, np.number) or v.dtype == bool):
            self.fail(f"{what} should be numeric, got {_describe(value)}.")
        if v.shape != e.shape:
            self.fail(f"{what} has shape {tuple(v.shape)}, expected {tuple(e.shape)}.")
        if dtype is not None and v.dtype != np.dtype(dtype):
            extra = (" NumPy turns float32 into float64 when float64 values are mixed in; keep "
                     "everything float32." if np.dtype(dtype) == np.float32 and v.dtype == np.float64
                     else "")
            self.fail(f"{what} has dtype {v.dtype}, expected {np.dtype(dtype)}.{extra}")
        with np.errstate(all="ignore"):
            ok = np.allclose(v.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol)
        if not ok:
            self.fail(f"{what} is not what was expected:", *_array_mismatch(v, e, rtol, atol))
        tol = f"rtol {rtol:g}, atol {atol:g}" + (f": {why}" if why else "")
        self.passed(f"{what}: shape {tuple(v.shape)}"
                    + (f", dtype {np.dtype(dtype)}" if dtype is not None else "")
                    + f", values ({tol})")
        return v

    def equal(self, what, value, expected, *, describe=True):
        """Exact equality (ints, strings, tuples, bools). With ``describe=False`` the expected
        value is not shown (hidden answers)."""
        if value is ____:
            self.not_attempted(f"{what} is still the blank ____.")
        try:
            same = bool(value == expected) and type(value) is not bool or value is expected
        except Exception:  # noqa: BLE001
            same = False
        if isinstance(expected, bool):
            same = value is expected or (isinstance(value, np.bool_) and bool(value) is expected)
        if not same:
            self.fail(f"{what} is {_describe(value)}"
                      + (f", expected {_describe(expected)}." if describe else ", which is not right."))
        self.passed(f"{what} = {_describe(value)}" if describe else what)
        return value

    def shape(self, what, value, shape):
        if value is None:
            self.fail(f"{what} is None: did you forget `return`?")
        got = tuple(getattr(value, "shape", np.shape(value)))
        if got != tuple(shape):
            self.fail(f"{what} has shape {got}, expected {tuple(shape)}.")
        self.passed(f"{what}: shape {got}")

    def keys(self, what, value, keys):
        """``value`` is a dict with exactly ``keys`` (any order)."""
        if not isinstance(value, dict):
            self.fail(f"{what} should be a dict, got {_describe(value)}.")
        missing = [k for k in keys if k not in value]
        extra = [k for k in value if k not in keys]
        if missing or extra:
            self.fail(f"{what} has keys {sorted(map(str, value))}"
                      + (f"; missing {missing}" if missing else "")
                      + (f"; unexpected {extra}" if extra else "") + ".")
        self.passed(f"{what}: keys {sorted(map(str, keys))}")


def _arg_names(label, n):
    inside = label[label.find("(") + 1: label.rfind(")")] if "(" in label else ""
    names = [p.strip() for p in inside.split(",") if p.strip()]
    return names + [f"argument {i + 1}" for i in range(len(names), n)]


# --------------------------------------------------------------------------------------------
# Exercises
# --------------------------------------------------------------------------------------------
_HINT_LEVELS = ("the idea", "where to look", "partial code")


class Exercise:
    """An exercise: hints, a solution and one or more graded *parts*.

    ``Exercise(name, title, hints=[idea, where to look, partial code], solution=code_text)``.
    ``@ex.part("loss", "what it checks")`` registers a check function ``f(c: Context)``; each
    part is one graded test cell (``ex.check("loss")``), so a multi-requirement exercise gives
    partial credit. ``ex.check()`` without a name runs every part (for learners). ``name`` is the
    variable the notebook binds it to (used in "ex1.hint()" prompts).
    """

    def __init__(self, name, title=None, *, hints=(), solution=None):
        self.name = str(name)
        self.title = title
        self.hints = [hints] if isinstance(hints, str) else list(hints)
        self.solution_text = solution
        self.parts = {}
        self.results = {}
        self._next_hint = 1
        #: the success box says that grading re-runs the checks on other inputs (not for Answers)
        self.other_inputs = True
        self._other_inputs = {}

    def __repr__(self):
        return (f"<{self.label}: {len(self.parts)} part(s) {list(self.parts)}; "
                f"check code in {self.module}>")

    @property
    def label(self):
        return f"Exercise {self.name}" + (f" ({self.title})" if self.title else "")

    @property
    def module(self):
        return getattr(self, "_module", "dlteach/exercises")

    def part(self, name, description="", *, other_inputs=True):
        """Decorator registering the check function of part ``name``.

        ``other_inputs=False`` for a part whose hidden block cannot use other inputs (a prediction,
        a value read from the notebook): its success box then does not claim that grading does."""
        def register(fn):
            self.parts[name] = (fn, description)
            self._other_inputs[name] = other_inputs
            mod = sys.modules.get(fn.__module__)
            if mod is not None and getattr(mod, "__file__", None):
                self._module = "dlteach/" + os.path.relpath(mod.__file__, os.path.dirname(
                    os.path.abspath(__file__))).replace(os.sep, "/")
            return fn
        return register

    # -- learner helpers ----------------------------------------------------------------------
    def hint(self, n=None):
        """The next hint (or hint ``n``): the idea, then where to look, then partial code."""
        if not self.hints:
            return Box("hint", self.label, ["There is no hint for this exercise."]).show()
        if n is None:
            n = self._next_hint
        if not isinstance(n, int) or not 1 <= n <= len(self.hints):
            return Box("hint", self.label, [f"There are {len(self.hints)} hints: "
                                            f"{self.name}.hint(1) ... {self.name}.hint({len(self.hints)})."]).show()
        self._next_hint = min(n + 1, len(self.hints))
        level = f" ({_HINT_LEVELS[n - 1]})" if len(self.hints) == 3 else ""
        more = (f"Next: {self.name}.hint() for hint {n + 1}." if n < len(self.hints)
                else f"Still stuck? {self.name}.solution() shows a full solution.")
        Box("hint", f"{n}/{len(self.hints)}{level} for {self.label}", [self.hints[n - 1]],
            footer=more).show()

    def solution(self):
        """The full solution, unless the instructor switched solutions off (DLTEACH_SOLUTIONS=off)."""
        if not _solutions_enabled():
            return Box("solution", self.label, ["Solutions are switched off for this course "
                                                f"({SOLUTIONS_ENV}=off). Ask your instructor."]).show()
        text = self.solution_text
        if text is None:
            return Box("solution", self.label, ["No solution is published for this exercise."]).show()
        if isinstance(text, Sealed):
            text = unseal(text)
        Box("solution", self.label, code=text).show()

    @property
    def solved(self):
        """True if every part passes (checked silently): guard cells that use the answer."""
        ns = sys._getframe(1).f_globals
        return all(self._run(p, ns, None)[0] == "correct" for p in self.parts)

    # -- checking -----------------------------------------------------------------------------
    def _run(self, part, ns, seed):
        fn, _ = self.parts[part]
        c = Context(self, part, ns, seed)
        with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
            warnings.simplefilter("always")
            try:
                fn(c)
            except _Fail as fail:
                lines = list(fail.lines)
                seen = []
                for w in caught:
                    text = f"(a warning was raised: {w.category.__name__}: {w.message})"
                    if text not in seen:
                        seen.append(text)
                return fail.kind, lines + seen[:2], c
            except Exception as err:  # noqa: BLE001 - e.g. an answer of an unexpected type
                return "incorrect", [f"checking your answer raised {type(err).__name__}: {err}"], c
        return "correct", c.checked, c

    def check(self, part=None, *, seed=None):
        """Check part ``part`` (all parts if None) on the visible inputs, or -- ``seed`` given, as
        in the hidden block -- on other inputs. Interactive: one box, never raises. Grading:
        raises on failure (see the module docstring)."""
        ns = sys._getframe(1).f_globals
        if not self.parts:
            raise TypeError(f"{self.label} has no parts: define them with @{self.name}.part(...)")
        names = list(self.parts) if part is None else [part]
        for p in names:
            if p not in self.parts:
                raise KeyError(f"{self.label} has no part {p!r}; parts: {list(self.parts)}")
        verdicts = []
        for p in names:
            kind, lines, _ = self._run(p, ns, seed)
            self.results[p] = kind
            verdicts.append((p, kind, lines))
            if kind != "correct":
                break
        failed = [v for v in verdicts if v[1] != "correct"]
        title = self.label + (f", part {part!r}" if part is not None and len(self.parts) > 1 else "")
        meta = {"exercise": self.name, "part": part, "hidden": seed is not None}
        if not failed:
            if seed is not None:
                box = Box("correct", title, ["also correct on other inputs."], meta=meta)
            else:
                checked = [f"- {line}" for line in dict.fromkeys(x for (_p, _k, ls) in verdicts for x in ls)]
                other = self.other_inputs and all(self._other_inputs.get(p, True) for p, _k, _l in verdicts)
                footer = ("Grading runs the same checks on other inputs as well." if other
                          else "Grading runs the same check.")
                box = Box("correct", title, ["Checked:"] + checked, footer=footer, meta=meta)
            box.show()
            return None
        p, kind, lines = failed[0]
        if len(self.parts) > 1 and part is None:
            lines = [f"part {p!r}: " + lines[0]] + lines[1:]
        footer = None
        if kind == "incorrect" and self.hints:
            footer = f"Stuck? {self.name}.hint() gives a hint ({len(self.hints)} in all)."
        box = Box(kind, title, lines, footer=footer, meta=meta)
        if mode() == "interactive":
            box.show()
            return None
        _install_exception_display()
        exc = (ExerciseNotAttempted if kind == "not_attempted" else ExerciseIncorrect)(box.text, box)
        raise exc from None


class Answer(Exercise):
    """A short answer held in the learner's variable ``variable``, compared by hash.

    ``normalize`` turns the learner's value into the canonical string that was hashed with
    ``digest(name, canonical)`` (default: stripped, lower-case text); it may raise ``ValueError``
    with a message for a value of the wrong kind. The answer itself never appears in the source.
    """

    def __init__(self, name, title, *, variable, digests, normalize=None, hints=(), solution=None,
                 describe="answer"):
        super().__init__(name, title, hints=hints, solution=solution)
        self.variable = variable
        self.digests = {digests} if isinstance(digests, str) else set(digests)
        self.normalize = normalize or (lambda v: str(v).strip().lower())
        self.describe = describe
        self.other_inputs = False

        @self.part("answer", f"the {describe} in `{variable}`")
        def _answer(c):
            value = c.get(variable)
            try:
                canonical = self.normalize(value)
            except (TypeError, ValueError) as err:
                c.fail(f"`{variable}` = {_describe(value)}: {err}")
            if digest(self.name, canonical) not in self.digests:
                c.fail(f"`{variable}` = {_describe(value)} is not the right {describe}.",
                       "Re-read the question and the text above it; the hints help.")
            c.passed(f"`{variable}` holds the right {describe}")


class Choice(Answer):
    """A multiple-choice question: ``variable`` holds one of ``options`` (e.g. "A".."D")."""

    def __init__(self, name, title, *, variable, options, digests, hints=(), solution=None):
        opts = [str(o).upper() for o in options]

        def normalize(value):
            if not isinstance(value, str):
                raise ValueError(f"write the letter as a string, one of {', '.join(map(repr, opts))}.")
            v = value.strip().upper()
            if v not in opts:
                raise ValueError(f"choose one of {', '.join(map(repr, opts))}.")
            return v

        super().__init__(name, title, variable=variable, digests=digests, normalize=normalize,
                         hints=hints, solution=solution, describe="choice")
        self.options = opts


def _main(argv=None):
    """``python -m dlteach.checks digest NAME ANSWER`` / ``seal TEXT``: values for lesson modules."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 3 and argv[0] == "digest":
        print(digest(argv[1], argv[2]))
    elif len(argv) == 2 and argv[0] == "seal":
        print(seal(argv[1]))
    else:
        print("usage: python -m dlteach.checks digest NAME CANONICAL_ANSWER | seal TEXT")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
