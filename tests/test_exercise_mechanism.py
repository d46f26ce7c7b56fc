"""The exercise mechanism of dlteach.checks (``ex1.check()``): verdicts, messages, the two modes
(interactive: one box, no exception; grading: an exception shown as its message only), hashed
answers, hints and solutions. Real-kernel tests drive ipykernel the way JupyterLab
(allow_stdin=True) and nbclient/nbgrader/nbval (allow_stdin=False) do."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from dlteach import checks
from dlteach.checks import (
    Choice,
    Exercise,
    ExerciseIncorrect,
    ExerciseNotAttempted,
    NotAttempted,
    Sealed,
    ____,
    digest,
    seal,
    unseal,
)
from dlteach.dlarray import dlarray

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def grading_mode(monkeypatch, capsys):
    monkeypatch.delenv(checks.MODE_ENV, raising=False)
    monkeypatch.delenv(checks.SOLUTIONS_ENV, raising=False)
    yield
    assert capsys.readouterr().err == "", "checks must never write to stderr"


def _double():
    ex = Exercise("ex9", "Double", hints=["idea", "where", "code"], solution="def f(x): return 2 * x")

    @ex.part("values", "f doubles")
    def _(c):
        f = c.get("f", "function")
        x = c.rng.standard_normal((4, 6)).astype(np.float32)
        y = c.call("f(x)", f, x)
        c.close("f(x)", y, 2 * x, rtol=1e-6, atol=0, dtype=np.float32, why="exact in float32")
    return ex


def _verdict(ex, ns, **kw):
    """Run ex.check in namespace ``ns`` (as a notebook cell would); return the exception text."""
    ns = dict(ns, ex=ex)
    try:
        exec(f"ex.check(**{kw!r})", ns)
    except (ExerciseIncorrect, ExerciseNotAttempted) as err:
        return type(err).__name__, str(err)
    return "ok", ""


def test_placeholder_equals_only_itself_and_has_no_truth_value():
    assert ____ == ____ and ____ != 0 and ____ != "____" and repr(____) == "____"
    with pytest.raises(NotAttempted, match="Replace the blank ____"):
        bool(____)
    import pickle
    assert pickle.loads(pickle.dumps(____)) is ____


class _Kernel:
    """Stand-in for an ipykernel Kernel: ``get_parent`` as in ipykernel >= 6 (``new``) or < 6."""

    def __init__(self, content=None, new=True, flag=None, broken=False):
        self.content, self.new, self.broken = content, new, broken
        if flag is not None:
            self._allow_stdin = flag

    def get_parent(self, *channel):
        if self.broken:
            raise RuntimeError("no parent")
        if channel and not self.new:
            raise TypeError("get_parent() takes no arguments")
        return None if self.content is None else {"content": self.content}


class _Shell:
    def __init__(self, kernel=None):
        self.kernel = kernel


@pytest.mark.parametrize("kernel, expected", [
    (_Kernel({"allow_stdin": True}), True),                 # JupyterLab, Notebook 7, VS Code
    (_Kernel({"allow_stdin": False}), False),               # nbclient (nbgrader, nbconvert, papermill), nbval
    (_Kernel({"allow_stdin": True}, new=False), True),      # ipykernel < 6
    (_Kernel({}, flag=False), False),                       # no flag in the request: the kernel's own
    (_Kernel(None, broken=True, flag=True), True),
    (_Kernel({}), None),                                    # unknown
    (None, None),                                           # terminal IPython: no kernel
])
def test_the_jupyter_module_reads_the_requests_allow_stdin(kernel, expected):
    from dlteach import _jupyter

    assert _jupyter.request_allows_stdin(_Shell(kernel)) is expected


@pytest.mark.parametrize("shell, expected", [
    (None, "grading"),                                      # plain Python
    (_Shell(None), "interactive"),                          # terminal IPython
    (_Shell(_Kernel({"allow_stdin": True})), "interactive"),
    (_Shell(_Kernel({"allow_stdin": False})), "grading"),
    (_Shell(_Kernel({})), "grading"),                       # unknown: a wrong answer must never score
])
def test_mode_uses_the_jupyter_modules_detection(shell, expected, monkeypatch):
    from dlteach import _jupyter

    monkeypatch.delenv(checks.MODE_ENV, raising=False)
    monkeypatch.setattr(_jupyter, "get_ipython", lambda: shell)
    assert checks.mode() == expected
    monkeypatch.setenv(checks.MODE_ENV, "grading" if expected == "interactive" else "interactive")
    assert checks.mode() != expected                        # the environment variable wins


def test_mode_detection_outside_a_kernel(monkeypatch):
    assert checks.mode() == "grading"          # plain Python / pytest: failures raise
    monkeypatch.setenv(checks.MODE_ENV, "interactive")
    assert checks.mode() == "interactive"
    monkeypatch.setenv(checks.MODE_ENV, "grading")
    assert checks.mode() == "grading"


def test_correct_answer_lists_what_was_checked(capsys):
    ex = _double()
    assert _verdict(ex, {"f": lambda x: x + x}) == ("ok", "")
    out = capsys.readouterr().out
    assert out.startswith("Correct: Exercise ex9 (Double)\n  Checked:\n  - f(x): shape (4, 6), "
                          "dtype float32, values (rtol 1e-06, atol 0: exact in float32)")
    assert "Grading runs the same checks on other inputs as well." in out


@pytest.mark.parametrize("ns, kind, text", [
    ({}, "ExerciseNotAttempted", "`f` is not defined yet"),
    ({"f": ____}, "ExerciseNotAttempted", "`f` is still the blank ____"),
    ({"f": 3}, "ExerciseIncorrect", "`f` should be a function"),
])
def test_not_attempted_and_wrong_kinds(ns, kind, text):
    got_kind, msg = _verdict(_double(), ns)
    assert got_kind == kind and text in msg


def test_function_still_containing_the_blank_or_the_stub_is_not_attempted():
    ns = {"____": ____}
    exec("def f(x):\n    # YOUR CODE HERE\n    ____", ns)
    assert _verdict(_double(), ns)[0] == "ExerciseNotAttempted"
    exec("def f(x):\n    raise NotImplementedError()", ns)
    kind, msg = _verdict(_double(), ns)
    assert kind == "ExerciseNotAttempted" and "NotImplementedError" in msg


def test_learner_exception_is_incorrect_with_its_message():
    kind, msg = _verdict(_double(), {"f": lambda x: x / 0 if False else x @ x})
    assert kind == "ExerciseIncorrect"
    assert msg.startswith("Incorrect: Exercise ex9 (Double)\n  f(x) raised ValueError: matmul")
    assert "Traceback" not in msg and "raised an error" not in msg


def test_array_mismatch_is_summarised_not_dumped():
    def f(x):
        y = 2 * x
        y[2, 5] += 0.5
        return y
    kind, msg = _verdict(_double(), {"f": f})
    assert kind == "ExerciseIncorrect"
    assert "1 of 24 values differ (tolerance rtol=1e-06, atol=0);" in msg
    assert "largest difference 0.5 at index (2, 5)" in msg
    assert len(msg.splitlines()) <= 6 and "[[" not in msg


def test_shape_dtype_and_sign_messages():
    assert "has shape (6, 4), expected (4, 6)" in _verdict(_double(), {"f": lambda x: 2 * x.T})[1]
    msg = _verdict(_double(), {"f": lambda x: 2.0 * x.astype(np.float64)})[1]
    assert "dtype float64, expected float32" in msg and "keep everything float32" in msg
    assert "every value has the wrong sign" in _verdict(_double(), {"f": lambda x: -2 * x})[1]
    assert "every value is 1.5 times the expected one" in _verdict(_double(), {"f": lambda x: 3 * x})[1]
    assert "is None: did you forget `return`?" in _verdict(_double(), {"f": lambda x: None})[1]


def _relu_ex():
    ex = Exercise("ex8", "ReLU")

    @ex.part("values")
    def _(c):
        f = c.get("f", "function")
        x = dlarray(c.rng.standard_normal((3, 4)).astype(np.float32), "CB")
        y = c.call("f(x)", f, x)
        c.close("f(x)", y, np.maximum(np.asarray(x), 0), rtol=0, atol=0)
    return ex


def test_dlarray_changed_in_place_is_reported_before_values():
    # issue 13's learner: the right values, but x itself is changed (x[x < 0] = 0)
    def f(x):
        x[x < 0] = 0
        return x
    kind, msg = _verdict(_relu_ex(), {"f": f})
    assert kind == "ExerciseIncorrect"
    assert "f(x) changed its input `x` in place" in msg


def test_correct_relu_with_dlarray_passes():
    from dlteach.ops import relu
    assert _verdict(_relu_ex(), {"f": relu}) == ("ok", "")


def test_hidden_seed_changes_inputs_so_hard_coding_fails():
    ex = _double()
    x0 = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    hard = {"f": lambda x: 2 * x0}
    assert _verdict(ex, hard) == ("ok", "")
    assert _verdict(ex, hard, seed=5)[0] == "ExerciseIncorrect"


def test_interactive_mode_shows_one_box_and_never_raises(monkeypatch, capsys):
    monkeypatch.setenv(checks.MODE_ENV, "interactive")
    assert _verdict(_double(), {}) == ("ok", "")
    assert _verdict(_double(), {"f": lambda x: x}) == ("ok", "")
    out = capsys.readouterr().out
    assert out.count("Not attempted yet: Exercise ex9") == 1
    assert out.count("Incorrect: Exercise ex9") == 1


def test_parts_give_partial_credit_and_check_all_runs_every_part(capsys):
    ex = Exercise("ex7", "Two parts")
    ex.part("a")(lambda c: c.equal("a", c.get("a"), 1))
    ex.part("b")(lambda c: c.equal("b", c.get("b"), 2))
    ns = {"a": 1, "b": 3, "ex": ex}
    exec("ex.check('a')", ns)
    with pytest.raises(ExerciseIncorrect, match="part 'b'"):
        exec("ex.check('b')", ns)
    with pytest.raises(ExerciseIncorrect, match="part 'b': b is 3, expected 2"):
        exec("ex.check()", ns)
    with pytest.raises(KeyError, match="no part 'c'"):
        exec("ex.check('c')", ns)


def test_multiple_choice_is_hashed_and_validated():
    q = Choice("q5", "Pick", variable="ans", options="ABC", digests=digest("q5", "C"))
    assert _verdict(q, {"ans": " c "}) == ("ok", "")
    assert "is not the right choice" in _verdict(q, {"ans": "A"})[1]
    assert "choose one of 'A', 'B', 'C'" in _verdict(q, {"ans": "Z"})[1]
    assert "write the letter as a string" in _verdict(q, {"ans": 3})[1]
    assert _verdict(q, {"ans": ____})[0] == "ExerciseNotAttempted"


def test_example_module_keeps_its_answer_out_of_plain_text(capsys):
    from dlteach.exercises import example
    source = Path(example.__file__).read_text()
    assert 'answer_q1 = "B"' not in source and "'B'" not in source
    example.q1.solution()
    assert 'answer_q1 = "B"' in capsys.readouterr().out
    assert unseal(seal("x = 1")) == "x = 1" and isinstance(example.q1.solution_text, Sealed)


LESSON_MODULES = sorted(p.stem for p in (REPO / "dlteach" / "exercises").glob("lesson[0-9][0-9].py"))


@pytest.mark.parametrize("module", LESSON_MODULES)
def test_lesson_solutions_are_sealed_shown_by_solution_and_switched_off(module, monkeypatch, capsys):
    """A learner who reads the installed check module finds no solution in plain text (issue 12); exN.solution()
    still shows it, and DLTEACH_SOLUTIONS=off hides it."""
    import importlib

    lesson = importlib.import_module(f"dlteach.exercises.{module}")
    source = Path(lesson.__file__).read_text(encoding="utf-8")
    exercises = {k: v for k, v in vars(lesson).items() if isinstance(v, Exercise) and v.solution_text is not None}
    assert exercises, f"{module} publishes no solution"
    monkeypatch.delenv(checks.SOLUTIONS_ENV, raising=False)
    for name, ex in exercises.items():
        assert isinstance(ex.solution_text, Sealed), f"{module}.{name}: solution in plain text; seal it"
        text = unseal(ex.solution_text)
        code = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
        # the solution as a whole is not in the file (single lines may be: hints give partial code)
        assert "\n".join(code) not in "\n".join(line.strip() for line in source.splitlines())
        ex.solution()
        shown = capsys.readouterr().out
        assert all(line in shown for line in code), f"{module}.{name}.solution() does not show the solution"
    monkeypatch.setenv(checks.SOLUTIONS_ENV, "off")
    for name, ex in exercises.items():
        ex.solution()
        shown = capsys.readouterr().out
        assert "switched off" in shown, name
        assert not any(len(line) > 12 and line in shown for line in unseal(ex.solution_text).splitlines()), name


def test_solution_can_be_switched_off(monkeypatch, capsys):
    ex = _double()
    ex.solution()
    assert "def f(x): return 2 * x" in capsys.readouterr().out
    monkeypatch.setenv(checks.SOLUTIONS_ENV, "off")
    ex.solution()
    out = capsys.readouterr().out
    assert "switched off" in out and "2 * x" not in out


def test_hints_go_idea_where_code_and_then_point_to_the_solution(capsys):
    ex = _double()
    ex.hint(), ex.hint(), ex.hint()
    out = capsys.readouterr().out
    assert "Hint: 1/3 (the idea) for Exercise ex9" in out
    assert "Hint: 2/3 (where to look)" in out and "Hint: 3/3 (partial code)" in out
    assert out.rstrip().endswith("Still stuck? ex9.solution() shows a full solution.")


def test_warnings_in_learner_code_are_quoted_not_written_to_stderr():
    def f(x):
        import warnings
        warnings.warn("careful", stacklevel=2)
        return np.log(x - 100)
    kind, msg = _verdict(_double(), {"f": f})
    assert kind == "ExerciseIncorrect" and "a warning was raised: UserWarning: careful" in msg


def test_solved_property_guards_cells_that_use_the_answer():
    ex = _double()
    ns = {"ex": ex}
    exec("ok = ex.solved", ns)
    assert ns["ok"] is False
    ns["f"] = lambda x: 2 * x
    exec("ok = ex.solved", ns)
    assert ns["ok"] is True


# ---------------------------------------------------------------------------------------------
# Real kernel: JupyterLab-like (allow_stdin=True) vs nbclient/nbgrader/nbval-like (False)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kernel():
    jupyter_client = pytest.importorskip("jupyter_client")
    import os
    os.environ.pop(checks.MODE_ENV, None)
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    yield kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def _execute(kc, code, allow_stdin):
    msg_id = kc.execute(textwrap.dedent(code), allow_stdin=allow_stdin)
    outputs = []
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            break
        if kind in ("stream", "display_data", "execute_result", "error"):
            outputs.append(msg)
    while True:
        reply = kc.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"]["status"], outputs


def _stdout(outputs):
    """All stdout text of an execution (the kernel may split one print into several messages)."""
    return "".join(o["content"]["text"] for o in outputs
                   if o["msg_type"] == "stream" and o["content"]["name"] == "stdout")


SETUP = """
import numpy as np
from dlteach.checks import Exercise, mode, ____
ex = Exercise("ex1", "Double")
@ex.part("values")
def _(c):
    f = c.get("f", "function")
    x = c.rng.standard_normal(5).astype(np.float32)
    c.close("f(x)", c.call("f(x)", f, x), 2 * x, rtol=1e-6, atol=0)
def f(x):
    return x
"""

CELL = """
ex.check("values")
# HIDDEN-SOURCE-LINE-xyz
ex.check("values", seed=3)
"""


def test_kernel_interactive_front_end_gets_one_box_and_the_cell_succeeds(kernel):
    assert _execute(kernel, SETUP, False)[0] == "ok"
    status, outs = _execute(kernel, "print(mode())", True)
    assert _stdout(outs) == "interactive\n"
    status, outs = _execute(kernel, CELL, True)
    assert status == "ok"   # Run All goes on
    boxes = [o for o in outs if o["msg_type"] == "display_data"]
    assert [b["content"]["metadata"]["dlteach"]["verdict"] for b in boxes] == ["incorrect", "incorrect"]
    assert not [o for o in outs if o["msg_type"] == "error"]


def test_kernel_headless_executor_gets_an_error_without_source_lines(kernel):
    assert _execute(kernel, SETUP, False)[0] == "ok"
    status, outs = _execute(kernel, "print(mode())", False)
    assert _stdout(outs) == "grading\n"
    status, outs = _execute(kernel, CELL, False)
    assert status == "error"  # nbgrader: 0 points; nbval: failure
    assert [o["msg_type"] for o in outs] == ["error"]   # one box: no display before the error
    err = outs[0]["content"]
    assert err["ename"] == "ExerciseIncorrect"
    assert len(err["traceback"]) == 1 and err["traceback"][0].startswith("Incorrect: Exercise ex1")
    text = "\n".join(err["traceback"])
    assert "HIDDEN-SOURCE-LINE" not in text and "ex.check" not in text and "File " not in text


def test_parts_without_other_inputs_do_not_claim_them(capsys):
    ex = Exercise("ex6", "Prediction")
    ex.part("rows", other_inputs=False)(lambda c: c.equal("n", c.get("n"), 4))
    exec("ex.check('rows')", {"ex": ex, "n": 4})
    out = capsys.readouterr().out
    assert "Grading runs the same check." in out and "other inputs" not in out


def _labels_ex():
    ex = checks.Exercise("ex8", "labels")

    @ex.part("a")
    def _(c):
        f = c.get("f", "function")
        labels = [np.array(["Sine"]), np.array(["Square"])]      # what arrayDatastore reads from string labels
        out = c.call("f(labels)", f, labels)
        c.equal("f(labels)", list(out), ["Sine", "Square"])
    return ex


def test_string_arrays_as_inputs_are_compared_without_equal_nan():
    # equal_nan on a string array raises TypeError: the in-place check must still work on labels
    assert _verdict(_labels_ex(), {"f": lambda labels: np.concatenate(labels)}) == ("ok", "")

    def relabel(labels):
        labels[0][0] = "Sawtooth"
        return np.concatenate(labels)
    kind, msg = _verdict(_labels_ex(), {"f": relabel})
    assert kind == "ExerciseIncorrect" and "changed its input `labels` in place" in msg
