"""Lesson 05's exercises rest on facts about the library and on the module's own references: keep them true.

* Exercise 1: the closed form of the piecewise schedule equals the learn rates the notebook's loop records
  (the rate is multiplied at the END of every learnRateDropPeriod-th epoch).
* Exercise 3 (d): the gradients of the lesson's untrained network on the first 100 digits keep the margins
  the question rests on (each row's norm and largest entry far enough from the thresholds 0.25 and 0.1).
* Exercise 4: the reference rule (smallest earlier loss, a counter) stops where MATLAB's sliding window
  of validationPatience + 1 losses stops, ties included, and never for an Inf patience.
* Exercise 5: a checkpoint of everything (save/load of a dict holding the network) resumes the module's
  loop bit for bit, and one without the iteration counter does not.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from dlteach import load, save
from dlteach.exercises import lesson05 as L


def _recorded_rates(lr0, period, factor, nipe, numEpochs):
    rates, learnRate = [], lr0
    for epoch in range(1, numEpochs + 1):
        rates += [learnRate] * nipe
        if epoch % period == 0:
            learnRate = learnRate * factor
    return rates


@pytest.mark.parametrize("lr0, period, factor, nipe", [(0.01, 10, 0.5, 5), (0.1, 3, 0.1, 7), (0.02, 1, 0.9, 1)])
def test_piecewise_closed_form_equals_the_loop(lr0, period, factor, nipe):
    rates = _recorded_rates(lr0, period, factor, nipe, 4 * period + 1)
    got = [L._piecewise(k, lr0, period, factor, nipe) for k in range(1, len(rates) + 1)]
    np.testing.assert_allclose(got, rates, rtol=1e-12)


def test_clipping_question_has_clear_margins():
    _net, grads = L._gradients(0, "lesson", start=0)
    norms = [float(np.linalg.norm(L._arr(g))) for g in grads.Value]
    largest = [float(np.max(np.abs(L._arr(g)))) for g in grads.Value]
    assert all(abs(n - 0.25) > 0.03 for n in norms)        # l2norm threshold 0.25
    assert all(abs(m - 0.1) > 0.005 for m in largest)       # absolute-value threshold 0.1 (fc_1/Weights: 0.092)
    assert np.sqrt(sum(n ** 2 for n in norms)) > 1           # global-l2norm 0.25 scales every row
    assert all(m > 0 for m in largest)                      # ... and changes every row (no all-zero gradient)
    # a large norm without a large entry: the row that tells "absolute-value" from "l2norm" apart
    assert any(n > 0.25 and m < 0.1 for n, m in zip(norms, largest))


def _sliding_window(losses, patience):
    """MATLAB's page: keep the last patience + 1 losses; stop when the oldest is the smallest."""
    if not np.isfinite(patience):
        return None
    window = [np.inf] * int(patience)
    for k, loss in enumerate(losses, start=1):
        window = window + [loss]
        if min(window) == window[0]:
            return k
        window.pop(0)
    return None


def test_patience_reference_equals_matlabs_sliding_window():
    rng = np.random.default_rng(0)
    stops = 0
    for trial in range(300):
        losses = L._random_losses(rng, int(rng.integers(5, 40)), ties=bool(trial % 2))
        patience = int(rng.integers(1, 8))
        want = _sliding_window(losses, patience)
        assert L._stops_at(losses, patience) == want, (losses, patience)
        stops += want is not None
    assert 50 < stops < 290                                  # both kinds of run occur
    assert L._stops_at([3, 2, 1], np.inf) is None
    assert L._stops_at([0.8, 0.5, 0.5, 0.5, 0.5], 3) == 5    # equal is not better


def test_full_checkpoint_resumes_bit_for_bit_and_the_iteration_matters(tmp_path):
    net, avg, avgSq, it, _ = L._train(L._net(0), None, None, 0, 10)
    path = save(tmp_path / "c.npz", {"net": net, "averageGrad": avg, "averageSqGrad": avgSq, "iteration": it})
    S = load(path)
    *_, straight = L._train(copy.deepcopy(net), copy.deepcopy(avg), copy.deepcopy(avgSq), it, 10)
    *_, resumed = L._train(S["net"], S["averageGrad"], S["averageSqGrad"], S["iteration"], 10)
    assert resumed == straight
    *_, restarted = L._train(load(path)["net"], load(path)["averageGrad"], load(path)["averageSqGrad"], 0, 10)
    assert not np.allclose(restarted, straight, rtol=1e-6, atol=0)
