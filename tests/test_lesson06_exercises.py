"""Lesson 06's exercises and text rest on measured behaviour of the library: keep it true.

* Exercise 6 (b): a loss weight that passes the notebook's check (weighted angle term between 1/3 and 3 x the
  cross-entropy of the untrained netTwo on the first 128 digits) passes grading's other network and mini-batch
  (0.3 .. 3.3 x), at both ends of the range; MATLAB's 0.1 fails both.
* Section 4's remark: an untrained LSTM (unit-forget-gate bias: cell-candidate bias 0) fed zeros from a zero state
  stays exactly at zero, so left padding changes nothing before training; with a nonzero cell-candidate bias
  (as after training) it does.
* Exercise 3's premise: OutputMode="last" is the "sequence" output at the last time step of the padded array.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlteach import dlarray, dlfeval, dlnetwork, extractdata, forward, lstmLayer, padsequences, sequenceInputLayer
from dlteach.exercises import lesson06 as L


def _ratio(net, start, n, w):
    X, T1, T2, _ = L._digit_batch(start, n)
    _l, _g, _s, ce, ms = dlfeval(L._two_head_loss, net, X, T1, T2, 1.0)
    return w * float(ms) / float(ce)


def test_loss_weights_at_the_ends_of_the_visible_range_pass_the_hidden_check():
    seed = 70                                                     # the notebook's hidden block: ex6.check("b", seed=70)
    visible_net, hidden_net = L.lesson_two_head_network(0), L.lesson_two_head_network(seed, seed + 1)
    per_unit = _ratio(visible_net, *L._EX6_BATCH, 1.0)            # ratio for angleWeight = 1
    assert 100 < per_unit < 200                                   # the text: ~370 / ~2.8
    hidden_start = 1000 + 64 * (seed % 30)
    for w in (1.001 / 3 / per_unit, 2.999 / per_unit):           # the ends of the visible range
        assert 1 / 3 <= _ratio(visible_net, *L._EX6_BATCH, w) <= 3
        assert 0.3 <= _ratio(hidden_net, hidden_start, 128, w) <= 3.3
    assert _ratio(visible_net, *L._EX6_BATCH, 0.1) > 3 and _ratio(hidden_net, hidden_start, 128, 0.1) > 3.3


def test_untrained_lstm_stays_at_zero_on_zero_input_but_not_with_a_cell_candidate_bias():
    np.random.seed(0)
    net = dlnetwork([sequenceInputLayer(3), lstmLayer(5, OutputMode="last")])
    zeros = dlarray(np.zeros((7, 3, 2), np.float32), "TCB")
    assert np.all(extractdata(forward(net, zeros)) == 0)
    bias = extractdata(net.Learnables.Value[2]).copy()
    bias[10:15] = 0.5                                             # rows 2H..3H-1: the cell candidate g
    table = net.Learnables
    table.Value[2] = dlarray(bias)
    net.Learnables = table
    assert np.abs(extractdata(forward(net, zeros))).max() > 0.01


def test_output_mode_last_reads_the_last_step_of_the_padded_array():
    np.random.seed(1)
    seqs = [np.random.rand(L, 3).astype(np.float32) for L in (4, 9, 6)]
    last = dlnetwork([sequenceInputLayer(3), lstmLayer(5, OutputMode="last")])
    seq = dlnetwork([sequenceInputLayer(3), lstmLayer(5)])
    seq.Learnables = last.Learnables
    X = dlarray(padsequences(seqs, 1), "TCB")
    np.testing.assert_allclose(extractdata(forward(last, X)), extractdata(forward(seq, X))[:, :, -1], rtol=1e-6)
    # with right padding, the short sequences' "last" output differs from the sequence run alone
    alone = extractdata(forward(last, dlarray(seqs[0][:, :, None], "TCB")))[:, 0]
    assert np.abs(extractdata(forward(last, X))[:, 0] - alone).max() > 1e-3


@pytest.mark.parametrize("exercise", [L.ex1, L.ex2, L.ex3, L.ex4, L.ex5, L.ex6, L.ex7])
def test_every_exercise_has_three_hints_and_a_solution(exercise):
    assert len(exercise.hints) == 3 and exercise.solution_text
