"""Worked example of the exercise mechanism (notebooks/README.md, section "Writing an exercise").

Notebook side (tests/fixtures/exercise_example.py is the complete notebook)::

    from dlteach.exercises.example import ex1, q1, ____        # setup cell

    def weightedMSE(Y, T, w):                                   # answer cell (solution=True)
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

    ex1.check("values")                                         # test cell ex1_values, 2 points
    ### BEGIN HIDDEN TESTS
    ex1.check("values", seed=11)
    ### END HIDDEN TESTS

    ex1.check("inputs")                                         # test cell ex1_inputs, 1 point

    answer_q1 = ____                                            # answer cell q1_answer
    q1.check()                                                  # test cell q1_tests, 1 point
"""

from __future__ import annotations

import numpy as np

from ..checks import Choice, Exercise, Sealed, ____  # noqa: F401  (____ is re-exported for the notebook)

ex1 = Exercise(
    "ex1", "Weighted mean squared error",
    hints=[
        # 1. the idea
        "Each observation (column of Y) gets its own weight: square the errors, sum them over "
        "the rows (channels), multiply column j by w[j], then average over the batch.",
        # 2. where to look
        "Section 2 computes the unweighted loss with np.sum(..., axis=0); broadcasting a "
        "(1, B) row against a (C, B) array multiplies column by column.",
        # 3. partial code
        "perObs = np.sum((Y - T) ** 2, axis=0)    # shape (B,)\n"
        "loss = ____                              # weight, then average over the batch",
    ],
    solution=(
        "def weightedMSE(Y, T, w):\n"
        "    perObs = np.sum((Y - T) ** 2, axis=0)   # (B,)\n"
        "    return np.mean(w * perObs) / 2"
    ),
)


def _batch(c, C=3, B=5):
    """A (C, B) float32 prediction/target pair and (B,) float32 weights, some negative entries."""
    if c.hidden:  # other sizes when grading: a hard-coded answer fails
        C, B = int(c.rng.integers(2, 6)), int(c.rng.integers(4, 9))
    Y = c.rng.standard_normal((C, B)).astype(np.float32)
    T = c.rng.standard_normal((C, B)).astype(np.float32)
    w = c.rng.uniform(0.0, 2.0, B).astype(np.float32)
    return Y, T, w


def _reference(Y, T, w):
    Y64, T64, w64 = (np.asarray(a, np.float64) for a in (Y, T, w))
    return np.float32(np.mean(w64 * np.sum((Y64 - T64) ** 2, axis=0)) / 2)


@ex1.part("values", "the weighted loss of a batch")
def _values(c):
    f = c.get("weightedMSE", "function")
    Y, T, w = _batch(c)
    loss = c.call("weightedMSE(Y, T, w)", f, Y, T, w)
    # float32 inputs, a sum of C*B terms: 1e-5 relative covers the float32 rounding of any
    # summation order (about (C*B) * 6e-8), and a wrong formula is off by far more
    c.close("weightedMSE(Y, T, w)", loss, _reference(Y, T, w), rtol=1e-5, atol=1e-7,
            why="float32 sum of C*B terms")
    ones = c.call("weightedMSE(Y, T, ones)", f, Y, T, np.ones_like(w))
    c.close("with all weights 1", ones, _reference(Y, T, np.ones_like(w)), rtol=1e-5, atol=1e-7,
            why="same computation")


@ex1.part("inputs", "float32 in, float32 out, inputs unchanged")
def _inputs(c):
    f = c.get("weightedMSE", "function")
    Y, T, w = _batch(c)
    loss = c.call("weightedMSE(Y, T, w)", f, Y, T, w)  # also verifies Y, T, w are unchanged
    c.passed("Y, T and w are unchanged after the call")
    c.close("weightedMSE(Y, T, w)", loss, _reference(Y, T, w), rtol=1e-5, atol=1e-7,
            dtype=np.float32, why="float32 stays float32")


q1 = Choice(
    "q1", "Precision of float32",
    variable="answer_q1", options="ABCD",
    digests="e4afa257211b09c9ca97ee86",   # python -m dlteach.checks digest q1 B
    hints=["float32 stores a 24-bit significand.",
           "2**-23 is about 1.2e-7: how many decimal digits is that?"],
    solution=Sealed("eNpNzD0OQEAQBtDeKb7QUJAsEiHRuIgMu5iE9TMjrk+pfcUjL4+7+tOgRdiFQYRp3UmLHAsJCHmZDqwQnj1PPJK3D"
                    "WjYb0X1Q4V1I2+0wvLMKojdId9oMlO7tEqyF7KrIM8="),
)
