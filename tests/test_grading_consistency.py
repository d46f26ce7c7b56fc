"""Grading consistency: what a learner sees agrees with the grade nbgrader gives.

For every notebook with a submission file tests/grading/<name>.py (format: tests/grading/README.md)
the submissions -- always "solution" and "blank", plus the file's own (different-but-correct
solutions, typical mistakes, per-exercise blanks) -- are autograded in ONE nbgrader run, and for
every graded cell of every submission the test asserts

(a) the nbgrader score is the expected one;
(b) the visible check's verdict (what the learner sees interactively: the same check on the same
    inputs) is the expected one AND agrees with the score: full points <=> "correct";
(c) the feedback HTML contains no line of hidden-test source and shows the failure message, and no
    graded cell's output contains a traceback (other cells may show one on purpose).

Plus: every exercise has a different-but-correct submission, two mistakes and a blank.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")
pytest.importorskip("jupytext")

sys.path.insert(0, str(Path(__file__).resolve().parent / "grading"))
import _harness as H  # noqa: E402

SPECS = H.spec_files()


@pytest.fixture(scope="module", params=SPECS, ids=lambda p: p.stem)
def graded(request, tmp_path_factory):
    spec = H.load_spec(request.param)
    return spec, H.run(spec, tmp_path_factory.mktemp(f"grading-{request.param.stem}"))


def _report(results):
    lines = []
    for name, r in results.items():
        for gid, (score, verdict, needle) in r["expected"].items():
            got_v, text = r["verdicts"].get(gid, ("missing", ""))
            got_s = r["scores"].get(gid)
            ok = got_s == score and got_v == verdict and (needle is None or needle in text)
            if not ok:
                lines.append(f"{name} / {gid}: score {got_s} (expected {score}), verdict {got_v} "
                             f"(expected {verdict})" + (f", message lacks {needle!r}" if needle and
                                                        needle not in text else "")
                             + f"\n      {text[:300]!r}")
    return lines


def test_scores_and_visible_verdicts_are_the_expected_ones(graded):
    _, run = graded
    bad = _report(run["results"])
    assert not bad, "unexpected grading results:\n  " + "\n  ".join(bad)


def test_visible_verdict_agrees_with_the_score(graded):
    _, run = graded
    bad = []
    for name, r in run["results"].items():
        for gid, points in run["points"].items():
            verdict = r["verdicts"][gid][0]
            full = r["scores"][gid] == points
            if full != (verdict == "correct"):
                bad.append(f"{name} / {gid}: score {r['scores'][gid]}/{points} but the learner "
                           f"sees {verdict!r}")
    assert not bad, "\n".join(bad)


def test_feedback_shows_messages_and_no_hidden_test_source(graded):
    _, run = graded
    assert run["hidden"], "the notebook has no hidden tests"
    for name, r in run["results"].items():
        leaked = [h for h in run["hidden"] if h in r["feedback"]]
        assert not leaked, f"{name}: hidden test source in the feedback: {leaked}"
        tracebacks = [g for g, text in r["graded_outputs"].items() if "Traceback" in text or "File \"" in text]
        assert not tracebacks, f"{name}: a traceback in the output of graded cell(s) {tracebacks}"
        for gid, (verdict, text) in r["verdicts"].items():
            if verdict in ("incorrect", "not_attempted"):
                first = " ".join(text.splitlines()[0].split())
                assert first in r["feedback"], f"{name} / {gid}: message {first!r} not in feedback"


def test_every_exercise_has_enough_submissions(graded):
    spec, run = graded
    exercises = sorted({H.exercise_of(g) for g in run["points"]})
    for ex in exercises:
        cells = [g for g in run["points"] if H.exercise_of(g) == ex]
        correct = mistakes = 0
        blanks = 1  # the automatic "blank" submission (the untouched student version)
        for name, entry in spec.SUBMISSIONS.items():
            touched = [a for a in entry["answers"] if H.exercise_of(a) == ex]
            if not touched:
                continue
            exp = run["results"][name]["expected"]
            if all(entry["answers"][a] == H.BLANK for a in touched):
                continue
            if all(exp[g][1] == "correct" for g in cells):
                correct += 1
            elif any(exp[g][1] == "incorrect" for g in cells):
                mistakes += 1
        assert correct >= 1 and mistakes >= 2 and blanks >= 1, (
            f"{ex}: {correct} different-but-correct and {mistakes} mistake submission(s); need >= 1 and >= 2")
