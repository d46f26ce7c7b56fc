"""Lesson 04's exercises rest on measured behaviour of the library: keep it true.

* Exercise 5 (a): the three mystery runs must stay distinguishable -- P flat (the learnables are
  never stored), Q jumping above its start (learning rate too large), R falling slowly (too small).
* Exercise 5 (b): a learning rate that passes the notebook's run must pass grading's other run, and
  a rate that fails one fails the other, at the ends of the range the solution names (2e-4 .. 3e-3).
* Exercise 3 (b): softmax applied twice has a loss floor of log(1 + 9/e) ~ 1.46 (hand formula),
  which the overfit test cannot get below; the reference perceptron overfits 8 digits.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlteach.debug import diagnose
from dlteach.exercises import lesson04 as L


def test_mystery_runs_show_three_distinct_symptoms():
    runs = L.mystery_runs()
    assert set(runs) == {"P", "Q", "R"} and all(len(v) == 30 for v in runs.values())
    p, q, r = (np.asarray(runs[k]) for k in "PQR")
    first = p[0]
    assert q[0] == pytest.approx(first) and r[0] == pytest.approx(first)   # same network, same first batch
    # P: never below 0.8 x its start, no trend (the network never changes)
    assert p.min() > 0.8 * first and "loss_not_falling" in diagnose(losses=p)
    # Q: more than 3 x its start within 3 iterations
    assert q[:3].max() > 3 * first and "loss_rising" in diagnose(losses=q)
    # R: falls, but its last 5 iterations stay above half the start
    assert 0.5 * first < r[-5:].mean() < 0.8 * first and diagnose(losses=r).ok


@pytest.mark.parametrize("lr, passes", [(2e-4, True), (3e-3, True), (4.5e-3, False)])
def test_learning_rate_verdict_is_the_same_on_both_runs(lr, passes):
    verdicts = []
    for seed, limit in ((0, 0.5), (2, 0.52)):           # the notebook's run, grading's run (ex5 part b)
        losses = L._train_briefly(L._net(seed), learnRate=lr, seed=seed)
        verdicts.append(diagnose(losses=losses).ok and np.mean(losses[-5:]) / losses[0] < limit)
    assert verdicts == [passes, passes]


def test_softmax_twice_has_a_loss_floor_and_the_reference_overfits():
    X, T = L._batch(0, 8)
    floor = np.log(1 + 9 / np.e)                    # one-hot target: -log(e / (e + 9)) at best
    twice = L._overfit_reference(L._modelLossTwice, L._parameters(0), X, T, 60, 0.01)
    assert min(twice) >= floor - 1e-4 and twice[-1] < floor + 0.01
    ok = L._overfit_reference(L._modelLossMLP, L._parameters(0), X, T, 60, 0.01)
    assert ok[-1] < 1e-3 < ok[0]
