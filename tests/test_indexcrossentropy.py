"""indexcrossentropy: cross-entropy against integer class indices (0-based in dlteach).

Oracles: PyTorch's nll_loss of log(Y) (the same formula: -mean log Y[t_j, j]) for value and gradient,
and crossentropy with one-hot targets (the definition MATLAB's page gives).
"""

import numpy as np
import pytest

from dlteach import crossentropy, dlarray, dlfeval, dlgradient, extractdata, indexcrossentropy, onehotencode, softmax
from dlteach.errors import FormatError, LossArgumentError, SizeMismatchError

torch = pytest.importorskip("torch", reason="PyTorch oracle tests need the test extra")


def _probs(rng, C, N):
    return extractdata(softmax(dlarray(rng.standard_normal((C, N)).astype(np.float32), "CB")))


def test_value_and_gradient_match_torch_nll_of_log(rng):
    Y = _probs(rng, 5, 7)
    t = rng.integers(0, 5, 7)

    def f(Y):
        loss = indexcrossentropy(Y, t)
        return loss, dlgradient(loss, Y)

    loss, g = dlfeval(f, dlarray(Y, "CB"))
    Yt = torch.tensor(Y.T.copy(), requires_grad=True)
    ref = torch.nn.functional.nll_loss(torch.log(Yt), torch.tensor(t))
    ref.backward()
    assert loss.dtype == np.float32 and g.dtype == np.float32
    np.testing.assert_allclose(float(loss), ref.item(), rtol=1e-6)
    np.testing.assert_allclose(extractdata(g), Yt.grad.numpy().T, rtol=1e-5, atol=1e-7)


def test_equals_crossentropy_with_one_hot_targets_incl_time_steps_and_options(rng):
    Y = extractdata(softmax(dlarray(rng.standard_normal((4, 3, 6)), "CBT")))  # C x B x T, float64
    t = rng.integers(0, 4, (3, 6))
    T = np.zeros_like(Y)
    for b in range(3):
        for s in range(6):
            T[t[b, s], b, s] = 1
    Yd = dlarray(Y, "CBT")
    for kw in ({}, {"NormalizationFactor": "all-elements"}, {"NormalizationFactor": "none"}):
        np.testing.assert_allclose(float(indexcrossentropy(Yd, t, **kw)),
                                   float(crossentropy(Yd, dlarray(T, "CBT"), **kw)), rtol=1e-12)
    w = dlarray(np.array([1.0, 2.0, 0.5, 3.0]), "C")
    np.testing.assert_allclose(float(indexcrossentropy(Yd, t, w)), float(crossentropy(Yd, dlarray(T, "CBT"), w)),
                               rtol=1e-12)
    per = indexcrossentropy(Yd, t, Reduction="none")
    assert per.fmt == "BT" and per.shape == (3, 6)
    np.testing.assert_allclose(extractdata(per), -np.log(np.take_along_axis(Y, t[None], 0)[0]), rtol=1e-12)


def test_formatted_targets_and_the_mathworks_style_example(rng):
    Y = _probs(rng, 5, 7)
    t = rng.integers(0, 5, 7)
    a = indexcrossentropy(dlarray(Y, "CB"), dlarray(t[None].astype(np.float32), "CB"))
    b = indexcrossentropy(dlarray(Y, "CB"), t)
    c = crossentropy(dlarray(Y, "CB"), onehotencode(t, 1, ClassNames=range(5)))
    assert float(a) == pytest.approx(float(b)) == pytest.approx(float(c))
    # unformatted Y in "BC" layout with DataFormat
    d = indexcrossentropy(Y.T, t, DataFormat="BC")
    assert float(d) == pytest.approx(float(b))


def test_teaching_errors(rng):
    Y = dlarray(_probs(rng, 3, 4), "CB")
    with pytest.raises(LossArgumentError, match="look 1-based"):
        indexcrossentropy(Y, np.array([1, 2, 3, 3]))
    with pytest.raises(LossArgumentError, match="from 0 to 2"):
        indexcrossentropy(Y, np.array([0, -1, 2, 1]))
    with pytest.raises(LossArgumentError, match="non-integer"):
        indexcrossentropy(Y, np.array([0.5, 1, 2, 1]))
    with pytest.raises(SizeMismatchError, match="one class index each"):
        indexcrossentropy(Y, np.array([0, 1, 2]))
    with pytest.raises(SizeMismatchError, match="use crossentropy"):
        indexcrossentropy(Y, dlarray(np.eye(3)[:, [0, 1, 2, 1]], "CB"))
    with pytest.raises(FormatError, match="'C'"):
        indexcrossentropy(dlarray(np.full((2, 4), 0.5), "BT"), np.zeros((2, 4)))
    with pytest.raises(LossArgumentError, match="None"):
        indexcrossentropy(Y, None)
