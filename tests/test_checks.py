"""Tests of dlteach.checks: outcomes, messages, silence on stderr, behaviour in a real kernel."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlteach.checks import (CheckFailed, Exercise, Feedback, NotAttempted, ____, check_close,
                            check_dtype, check_equal, check_function, check_shape,
                            check_structure, check_true)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_stderr(capsys):
    """Every test: nothing may reach stderr (nbgrader scores a test cell with stderr 0)."""
    yield
    assert capsys.readouterr().err == ""


def _fail_text(fn, *args, exc=CheckFailed, **kwargs):
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    assert isinstance(info.value, AssertionError)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# correct / incorrect / not attempted
# ---------------------------------------------------------------------------------------------
def test_correct_prints_short_green_message_and_returns_none(capsys):
    assert check_close("loss", np.float32(0.25), 0.25) is None
    out = capsys.readouterr().out
    assert out == "Correct: loss matches the expected value.\n"


def test_wrong_value_raises_assertion_subclass_with_expected_and_hint(capsys):
    text = _fail_text(check_close, "loss", 0.5, 0.25, hint="average, do not sum")
    assert text.startswith("Incorrect: loss")
    assert "got:      0.5" in text and "expected: 0.25" in text
    assert "Hint: average, do not sum" in text
    # the same text was displayed (stdout outside IPython) before raising
    assert capsys.readouterr().out.strip() == text


@pytest.mark.parametrize("check, args", [
    (check_close, (1.0,)), (check_equal, (1,)), (check_shape, ((2,),)),
    (check_dtype, (np.float32,)), (check_structure, ({"a": 1},)), (check_true, ("msg",)),
])
def test_placeholder_is_not_attempted(check, args):
    text = _fail_text(check, "answer", ____, *args, exc=NotAttempted)
    assert text.startswith("Not attempted yet: answer")
    assert "____" in text


def test_placeholder_equals_only_itself():
    assert ____ == ____ and ____ != 0 and ____ != "____"
    with pytest.raises(NotAttempted):
        bool(____)


def test_tolerance_rule_matches_hand_formula_examples():
    check_close("x", 1.0 + 0.9e-5, 1.0)              # |d| = 0.9e-5 <= 1e-8 + 1e-5
    _fail_text(check_close, "x", 1.0 + 1.2e-5, 1.0)  # |d| = 1.2e-5 >  1e-8 + 1e-5
    check_close("x", 1e-9, 0.0)                      # atol alone
    _fail_text(check_close, "x", 1e-7, 0.0)


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3), st.sampled_from([1e-5, 1e-3]),
       st.sampled_from([0.0, 1e-8, 1e-3]))
def test_check_close_agrees_with_definition(v, e, rtol, atol):
    expected_ok = abs(v - e) <= atol + rtol * abs(e)
    margin = 1e-12 * (1 + abs(e))  # avoid the float-rounding boundary itself
    if abs(abs(v - e) - (atol + rtol * abs(e))) < margin:
        return
    try:
        check_close("x", v, e, rtol=rtol, atol=atol)
        ok = True
    except CheckFailed:
        ok = False
    assert ok == expected_ok


def test_shape_mismatch_is_reported_before_values():
    text = _fail_text(check_close, "W", np.zeros((3, 2)), np.zeros((2, 3)))
    assert "got shape      (3, 2)" in text and "expected shape (2, 3)" in text


def test_worst_element_is_located():
    e = np.arange(6.0).reshape(2, 3)
    v = e.copy()
    v[1, 2] += 0.5
    text = _fail_text(check_close, "A", v, e)
    assert "largest difference 0.5 at index (1, 2)" in text


def test_nan_and_inf_get_a_diagnosis():
    assert "contains NaN" in _fail_text(check_close, "p", np.array([np.nan, 1.0]), [0.5, 0.5])
    assert "contains inf" in _fail_text(check_close, "p", np.array([np.inf, 1.0]), [0.5, 0.5])


def test_float32_dtype_requirement_explains_upcast():
    x32 = np.ones(3, np.float32)
    check_close("y", x32 * np.float32(2), [2, 2, 2], dtype=np.float32)
    text = _fail_text(check_close, "y", x32 * np.float64(2.0) + np.zeros(3), [2, 2, 2],
                      dtype=np.float32)
    assert "got dtype      float64" in text and "upcasts" in text
    check_dtype("y", x32, np.float32)
    _fail_text(check_dtype, "y", x32.astype(np.float64), np.float32)


def test_check_equal_exact_and_with_tolerance():
    check_equal("n", 3, 3)
    check_equal("s", "relu", "relu")
    check_equal("a", np.array([1, 2]), np.array([1, 2]))
    _fail_text(check_equal, "x", 0.1 + 0.2, 0.3)          # exact: 0.30000000000000004 != 0.3
    check_equal("x", 0.1 + 0.2, 0.3, rtol=1e-12)
    assert "got 'tanh', expected 'relu'" in _fail_text(check_equal, "s", "tanh", "relu")


def test_check_shape_with_wildcards():
    check_shape("X", np.zeros((28, 28, 1, 128)), (28, 28, 1, None))
    text = _fail_text(check_shape, "X", np.zeros((28, 28, 128)), (28, 28, 1, None))
    assert "expected shape (28, 28, 1, any)" in text
    assert "return" in _fail_text(check_shape, "X", None, (1,))


def test_check_structure_names_the_first_mismatching_path():
    want = {"fc1": {"Weights": np.zeros((10, 5), np.float32), "Bias": np.zeros((10, 1),
                                                                             np.float32)},
            "fc2": {"Weights": np.zeros((2, 10), np.float32)}}
    got = {"fc1": {"Weights": np.zeros((5, 10), np.float32), "Bias": np.zeros((10, 1),
                                                                            np.float32)},
           "fc2": {"Weights": np.zeros((2, 10), np.float32)}}
    text = _fail_text(check_structure, "params", got, want)
    assert "value['fc1']['Weights'] has shape (5, 10), expected (10, 5)" in text
    got["fc1"]["Weights"] = np.zeros((10, 5), np.float64)
    assert "has dtype float64, expected float32" in _fail_text(check_structure, "p", got, want)
    del got["fc2"]
    assert "missing key(s) 'fc2'" in _fail_text(check_structure, "p", got, want)
    check_structure("p", [np.zeros(2), (1, 2)], [np.ones(2), (3, 4)])           # shapes only
    _fail_text(check_structure, "p", [np.zeros(2)], [np.ones(2)], values=True)  # values too


def test_check_true():
    check_true("loss decreased", 0.1 < 0.5, "the loss should go down")
    assert "the loss should go down" in _fail_text(check_true, "loss", False,
                                                   "the loss should go down")


# ---------------------------------------------------------------------------------------------
# check_function
# ---------------------------------------------------------------------------------------------
CASES = [((np.array([1.0, 2.0]), np.array([1.0, 4.0])), 2.0),
         ((np.zeros(3), np.zeros(3)), 0.0)]


def test_check_function_correct(capsys):
    check_function(lambda y, t: np.mean((y - t) ** 2), CASES, name="mse")
    assert capsys.readouterr().out == "Correct: mse passed 2 test cases.\n"


def test_check_function_wrong_names_the_call():
    text = _fail_text(check_function, lambda y, t: np.sum((y - t) ** 2), CASES, name="mse")
    assert "mse(array([1., 2.]), array([1., 4.])):" in text
    assert "got:      4.0" in text and "expected: 2.0" in text


def test_check_function_stub_is_not_attempted():
    def mse(y, t):
        # YOUR CODE HERE
        raise NotImplementedError()
    text = _fail_text(check_function, mse, CASES, exc=NotAttempted)
    assert "still raises NotImplementedError" in text


def test_check_function_missing_return():
    def mse(y, t):
        np.mean((y - t) ** 2)
    assert "forget a `return`" in _fail_text(check_function, mse, CASES)


def test_check_function_reports_learner_exception_without_crashing():
    def mse(y, t):
        return np.mean((y - t.reshape(3, -1)) ** 2)  # 2 elements cannot be 3 rows
    text = _fail_text(check_function, mse, CASES)
    assert "raised ValueError" in text


def test_check_function_detects_in_place_modification():
    def mse(y, t):
        y -= t
        return np.mean(y ** 2)
    args = (np.array([1.0, 2.0]), np.array([1.0, 4.0]))
    text = _fail_text(check_function, mse, [(args, 2.0)])
    assert "modified its input in place" in text
    assert np.array_equal(args[0], [1.0, 2.0])  # the caller's arrays are untouched (copied)


def test_check_function_warnings_are_captured_and_quoted():
    def softmax(z):
        e = np.exp(z)
        return e / e.sum()
    big = np.array([1000.0, 1001.0])
    text = _fail_text(check_function, softmax, [(big, [1 / (1 + np.e), np.e / (1 + np.e)])])
    assert "contains NaN" in text
    assert "RuntimeWarning: overflow encountered in exp" in text
    # no_stderr fixture asserts the warning did not go to stderr


def test_check_function_kwargs_single_arg_and_dtype():
    def scale(x, factor=1.0):
        return x * factor
    x = np.ones(2, np.float32)
    check_function(scale, [(x, {"factor": np.float32(2)}, [2, 2])], dtype=np.float32)
    text = _fail_text(check_function, scale, [(x, {"factor": 2.0 + np.zeros(1)}, [2, 2])],
                      dtype=np.float32)
    assert "returned dtype float64, expected float32" in text


def test_check_function_tuple_results():
    check_function(lambda a: (a.min(), a.max()), [(np.array([3, 1, 2]), (1, 3))])
    text = _fail_text(check_function, lambda a: (a.max(), a.min()), [(np.array([3, 1, 2]),
                                                                     (1, 3))])
    assert "result[0]" in text


# ---------------------------------------------------------------------------------------------
# Exercise
# ---------------------------------------------------------------------------------------------
def _ex():
    return Exercise("ex1", "Mean squared error", hints=["Square first.", "Then np.mean."])


def test_exercise_success_summary_counts_checks(capsys):
    ex = _ex()
    with ex:
        check_close("a", 1.0, 1.0)
        check_function(lambda y, t: np.mean((y - t) ** 2), CASES)
    out = capsys.readouterr().out
    assert out == "Correct: Exercise ex1 (Mean squared error): 3 checks passed.\n"


def test_exercise_failure_adds_hint_prompt_and_is_displayed_once(capsys):
    ex = _ex()
    with pytest.raises(CheckFailed) as info:
        with ex:
            check_close("loss", 2.0, 1.0, hint="average, do not sum")
    text = str(info.value)
    assert text.splitlines()[0] == "Incorrect: Exercise ex1 (Mean squared error)"
    assert "Hint: average, do not sum" in text and "Run ex1.hint()" in text
    assert capsys.readouterr().out.strip() == text  # one display, equal to the exception text


def test_exercise_nameerror_and_stub_are_not_attempted():
    ex = _ex()
    with pytest.raises(NotAttempted) as info:
        with ex:
            check_close("loss", loss_never_defined, 1.0)  # noqa: F821
    assert "`loss_never_defined` is not defined yet" in str(info.value)
    with pytest.raises(NotAttempted) as info:
        with ex:
            raise NotImplementedError()
    assert "still raises NotImplementedError" in str(info.value)


def test_exercise_other_errors_propagate_unchanged(capsys):
    with pytest.raises(ZeroDivisionError):
        with _ex():
            _ = 1 / 0
    assert "ZeroDivisionError: division by zero" in capsys.readouterr().out


def test_hints_and_solution(capsys, monkeypatch):
    monkeypatch.delenv("DLTEACH_SOLUTIONS", raising=False)
    ex = Exercise("q", hints=["one", "two"], solution="y = 2 * x")
    ex.hint()
    ex.hint(2)
    ex.hint(5)
    ex.solution()
    Exercise("r").solution()
    out = capsys.readouterr().out
    assert "Hint: 1/2 for Exercise q\n  one\nNext: q.hint() for hint 2." in out
    assert "Hint: 2/2 for Exercise q\n  two\nStill stuck? q.solution() shows a full solution." in out
    assert "There are 2 hints: q.hint(1) ... q.hint(2)." in out
    assert "Solution: Exercise q\n    y = 2 * x" in out
    assert "No solution is published" in out


def test_feedback_html_is_escaped_and_deterministic():
    fb = Feedback("incorrect", "x < y", ["got <b>"], hint="a & b")
    html1 = fb._repr_html_()
    assert html1 == Feedback("incorrect", "x < y", ["got <b>"], hint="a & b")._repr_html_()
    assert "x &lt; y" in html1 and "&lt;b&gt;" in html1 and "a &amp; b" in html1
    assert "0x" not in html1 and repr(fb) == fb.text


# ---------------------------------------------------------------------------------------------
# In a real kernel: rich display, short traceback, no stderr, nbgrader's scoring rule
# ---------------------------------------------------------------------------------------------
def test_in_kernel_display_traceback_and_nbgrader_score():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    sys.path.insert(0, str(REPO / "tools"))
    from _common import use_tool_env

    use_tool_env()
    grade = {"grade": True, "solution": False, "locked": True, "points": 2, "grade_id": "t",
             "schema_version": 3}
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import numpy as np\nfrom dlteach.checks import *\n"
                                  "ex = Exercise('ex', hints=['h'])\n"
                                  "def f(x):\n    return 2 * x"),
        nbformat.v4.new_code_cell("with ex:\n    check_function(f, [(1.0, 2.0)])",
                                  metadata={"nbgrader": dict(grade, grade_id="ok")}),
        nbformat.v4.new_code_cell("with ex:\n    check_function(f, [(1.0, 3.0)])",
                                  metadata={"nbgrader": dict(grade, grade_id="bad")}),
        nbformat.v4.new_code_cell("def g(x):\n    raise NotImplementedError()\n"
                                  "with ex:\n    check_function(g, [(1.0, 3.0)])",
                                  metadata={"nbgrader": dict(grade, grade_id="todo")}),
    ]
    nbclient.NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=60).execute()
    ok, bad, todo = nb.cells[1:]
    for cell in (ok, bad, todo):
        assert not [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
        shown = [o for o in cell.outputs if o.output_type == "display_data"]
        assert len(shown) == 1
        assert set(shown[0].data) == {"text/plain", "text/html"}
    assert ok.outputs[0].data["text/plain"] == "Correct: Exercise ex: 1 check passed."
    assert "dlteach-correct" in ok.outputs[0].data["text/html"]
    err = [o for o in bad.outputs if o.output_type == "error"][0]
    assert err.ename == "CheckFailed"
    assert err.evalue == bad.outputs[0].data["text/plain"]
    # short traceback: the cell, one "hidden frames" note, the tiny raising frame
    frames = [line for line in err.traceback if "File " in line and "checks.py" in line]
    assert len(frames) <= 1
    assert not any("_compare" in line or "def check_function" in line for line in err.traceback)
    assert [o for o in todo.outputs if o.output_type == "error"][0].ename == "NotAttempted"

    from nbgrader.utils import determine_grade
    assert determine_grade(ok) == (2, 2)
    assert determine_grade(bad) == (0, 2)
    assert determine_grade(todo) == (0, 2)
