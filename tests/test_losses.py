"""Tests of dlteach.losses (MATLAB crossentropy / mse / l1loss / l2loss / huber).

References: hand formulas in float64 NumPy (written independently of the code under test), PyTorch as
an oracle where it has the same loss, and central finite differences in float64 for gradients (first
and second order) through dlfeval / dlgradient.
"""

import numpy as np
import pytest
from finite_differences import numeric_grad  # tests/finite_differences.py

from dlteach import dims, dlarray, dlfeval, dlgradient, extractdata
from dlteach.errors import FormatError, ProbabilityError, SizeMismatchError
from dlteach.formats import data_of
from dlteach.losses import LossArgumentError, crossentropy, huber, l1loss, l2loss, mse
from dlteach.ops import sigmoid, softmax
from dlteach.primitives import softmax_axis

TORCH_REASON = "PyTorch is the oracle for these loss values"


def rng(seed=0):
    return np.random.default_rng(seed)


def np_softmax(z, axis=0):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def onehot(labels, C):
    T = np.zeros((C, len(labels)))
    T[labels, np.arange(len(labels))] = 1.0
    return T


def value(loss):
    assert isinstance(loss, dlarray)
    assert dims(loss) == ""
    assert loss.size == 1
    return float(extractdata(loss))


def classification_data(C=10, N=12, seed=0, dtype=np.float64):
    r = rng(seed)
    Z = r.random((C, N))
    labels = r.integers(0, C, N)
    return np_softmax(Z).astype(dtype), onehot(labels, C).astype(dtype), labels


# -------------------------------------------------------------------------------------------------
# crossentropy: values

def test_crossentropy_matlab_doc_example_formula():
    # MATLAB doc: softmax of rand(10,12) 'CB' vs one-hot -> 2.3343 (about ln 10)
    P, T, _ = classification_data()
    loss = value(crossentropy(dlarray(P, "CB"), T))
    expected = -np.sum(T * np.log(P)) / 12
    assert loss == pytest.approx(expected, rel=1e-12)
    assert abs(loss - np.log(10)) < 0.3  # random scores in [0,1): close to guessing one class in ten


def test_crossentropy_single_label_matches_torch_nll_on_probabilities():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    P, T, labels = classification_data(C=5, N=7, seed=1)
    ref = torch.nn.functional.nll_loss(torch.log(torch.tensor(P.T)), torch.tensor(labels)).item()
    assert value(crossentropy(dlarray(P, "CB"), T)) == pytest.approx(ref, rel=1e-10)


def test_crossentropy_soft_targets_match_torch_cross_entropy_on_logits():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    r = rng(2)
    Z = r.standard_normal((4, 6))
    T = np_softmax(r.standard_normal((4, 6)))  # soft targets (label smoothing style)
    ref = torch.nn.functional.cross_entropy(torch.tensor(Z.T), torch.tensor(T.T)).item()
    assert value(crossentropy(softmax(dlarray(Z, "CB")), T)) == pytest.approx(ref, rel=1e-10)


def test_crossentropy_multilabel_matches_torch_bce_and_old_spelling():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    r = rng(3)
    P = 1 / (1 + np.exp(-r.standard_normal((3, 8))))
    T = (r.random((3, 8)) > 0.5).astype(np.float64)
    ref = torch.nn.functional.binary_cross_entropy(torch.tensor(P), torch.tensor(T), reduction="sum").item() / 8
    hand = -np.sum(T * np.log(P) + (1 - T) * np.log(1 - P)) / 8
    a = value(crossentropy(dlarray(P, "CB"), T, ClassificationMode="multilabel"))
    b = value(crossentropy(dlarray(P, "CB"), T, TargetCategories="independent"))
    assert a == pytest.approx(ref, rel=1e-10)
    assert a == pytest.approx(hand, rel=1e-12)
    assert b == a


def test_crossentropy_exclusive_is_single_label():
    P, T, _ = classification_data(seed=4)
    Y = dlarray(P, "CB")
    assert value(crossentropy(Y, T, TargetCategories="exclusive")) == value(crossentropy(Y, T))
    assert value(crossentropy(Y, T, ClassificationMode="single-label")) == value(crossentropy(Y, T))


def test_crossentropy_images_sum_over_pixels_divide_by_observations():
    r = rng(5)
    P = np_softmax(r.standard_normal((4, 5, 3, 2)), axis=2)  # H W C N
    lab = r.integers(0, 3, (4, 5, 2))
    T = (np.arange(3)[None, None, :, None] == lab[:, :, None, :]).astype(float)
    expected = -np.sum(T * np.log(P)) / 2
    assert value(crossentropy(dlarray(P, "SSCB"), T)) == pytest.approx(expected, rel=1e-12)


def test_crossentropy_sequences_divide_by_observations_not_time_steps():
    r = rng(6)
    P = np_softmax(r.standard_normal((3, 4, 5)), axis=0)  # C B T
    T = np_softmax(r.standard_normal((3, 4, 5)) * 3, axis=0)
    expected = -np.sum(T * np.log(P)) / 4
    assert value(crossentropy(dlarray(P, "CBT"), T)) == pytest.approx(expected, rel=1e-12)


def test_crossentropy_unformatted_with_dataformat_bc():
    P, T, _ = classification_data(C=4, N=6, seed=7)
    ref = value(crossentropy(dlarray(P, "CB"), T))
    # N x C data described as 'BC': targets in the same (N x C) layout
    got = value(crossentropy(P.T.copy(), T.T.copy(), DataFormat="BC"))
    assert got == pytest.approx(ref, rel=1e-12)


def test_crossentropy_formatted_targets_in_other_order():
    P, T, _ = classification_data(C=4, N=6, seed=8)
    Y = dlarray(P, "CB")
    assert value(crossentropy(Y, dlarray(T.T, "BC"))) == pytest.approx(value(crossentropy(Y, T)), rel=1e-14)


def test_crossentropy_class_weights_match_torch():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    P, T, labels = classification_data(C=5, N=9, seed=9)
    w = np.array([1.0, 2.0, 0.5, 3.0, 1.5])
    ref = torch.nn.functional.nll_loss(torch.log(torch.tensor(P.T)), torch.tensor(labels),
                                       weight=torch.tensor(w), reduction="sum").item() / 9
    Y = dlarray(P, "CB")
    assert value(crossentropy(Y, T, dlarray(w, "C"))) == pytest.approx(ref, rel=1e-10)
    assert value(crossentropy(Y, T, w, WeightsFormat="C")) == pytest.approx(ref, rel=1e-10)


def test_crossentropy_observation_and_elementwise_weights():
    P, T, _ = classification_data(C=3, N=5, seed=10)
    wb = np.array([0.0, 1.0, 2.0, 1.0, 0.5])
    expected = -np.sum(wb[None, :] * T * np.log(P)) / 5
    Y = dlarray(P, "CB")
    assert value(crossentropy(Y, T, wb, WeightsFormat="B")) == pytest.approx(expected, rel=1e-12)
    W = rng(11).random((3, 5))
    assert value(crossentropy(Y, T, W)) == pytest.approx(-np.sum(W * T * np.log(P)) / 5, rel=1e-12)


def test_crossentropy_normalization_factors():
    r = rng(12)
    P = np_softmax(r.standard_normal((3, 4, 2, 5)), axis=2)  # S S C B: 3*4 pixels, 2 classes, 5 obs
    lab = r.integers(0, 2, (3, 4, 5))
    T = (np.arange(2)[None, None, :, None] == lab[:, :, None, :]).astype(float)
    Y = dlarray(P, "SSCB")
    total = -np.sum(T * np.log(P))
    assert value(crossentropy(Y, T)) == pytest.approx(total / 5, rel=1e-12)
    assert value(crossentropy(Y, T, NormalizationFactor="none")) == pytest.approx(total, rel=1e-12)
    assert value(crossentropy(Y, T, NormalizationFactor=7.5)) == pytest.approx(total / 7.5, rel=1e-12)
    # single-label "all-elements": per prediction (numel / C) - documented decision
    assert value(crossentropy(Y, T, NormalizationFactor="all-elements")) == pytest.approx(total / (3 * 4 * 5), rel=1e-12)
    # multilabel "all-elements": numel
    tot_ml = -np.sum(T * np.log(P) + (1 - T) * np.log(1 - P))
    got = value(crossentropy(Y, T, ClassificationMode="multilabel", NormalizationFactor="all-elements"))
    assert got == pytest.approx(tot_ml / P.size, rel=1e-12)


def test_crossentropy_mask_and_mask_included():
    r = rng(13)
    P = np_softmax(r.standard_normal((3, 4, 2, 5)), axis=2)
    lab = r.integers(0, 2, (3, 4, 5))
    T = (np.arange(2)[None, None, :, None] == lab[:, :, None, :]).astype(float)
    mask = (r.random((3, 4, 1, 5)) > 0.4).astype(float)  # per pixel, broadcast over C
    masked_total = -np.sum(mask * T * np.log(P))
    Y = dlarray(P, "SSCB")
    assert value(crossentropy(Y, T, Mask=mask)) == pytest.approx(masked_total / 5, rel=1e-12)
    got = value(crossentropy(Y, T, Mask=dlarray(mask, "SSCB"), NormalizationFactor="mask-included"))
    assert got == pytest.approx(masked_total / mask.sum(), rel=1e-12)
    # boolean mask works the same
    assert value(crossentropy(Y, T, Mask=mask.astype(bool))) == pytest.approx(masked_total / 5, rel=1e-12)


def test_crossentropy_reduction_none_elementwise_in_callers_layout():
    P, T, _ = classification_data(C=3, N=4, seed=14)
    out = crossentropy(dlarray(P, "CB"), T, Reduction="none")
    assert dims(out) == "CB"
    np.testing.assert_allclose(extractdata(out), -T * np.log(P), rtol=1e-12)
    out2 = crossentropy(P.T.copy(), T.T.copy(), DataFormat="BC", Reduction="none")
    assert dims(out2) == "" and out2.shape == (4, 3)
    np.testing.assert_allclose(extractdata(out2), (-T * np.log(P)).T, rtol=1e-12)


def test_crossentropy_clamps_at_eps_of_class():
    P = np.array([[0.0, 0.5], [1.0, 0.5]])
    T = np.array([[1.0, 1.0], [0.0, 0.0]])
    for dt in (np.float32, np.float64):
        loss = value(crossentropy(dlarray(P.astype(dt), "CB"), T.astype(dt)))
        expected = (-np.log(np.finfo(dt).eps) - np.log(0.5)) / 2
        assert np.isfinite(loss)
        assert loss == pytest.approx(expected, rel=1e-5)


# -------------------------------------------------------------------------------------------------
# crossentropy: teaching errors

def test_crossentropy_rejects_logits_with_softmax_hint():
    Z = rng(15).standard_normal((10, 12))
    _, T, _ = classification_data()
    with pytest.raises(ProbabilityError, match="softmax") as e:
        crossentropy(dlarray(Z, "CB"), T)
    assert "logits" in str(e.value) and "probabilities" in str(e.value)


def test_crossentropy_multilabel_rejects_logits_with_sigmoid_hint():
    Z = rng(16).standard_normal((3, 5)) * 3
    with pytest.raises(ProbabilityError, match="sigmoid"):
        crossentropy(dlarray(Z, "CB"), np.ones((3, 5)), ClassificationMode="multilabel")


def test_crossentropy_single_label_rejects_columns_not_summing_to_one():
    P = 1 / (1 + np.exp(-rng(17).standard_normal((4, 6))))  # sigmoid outputs, inside [0, 1]
    _, T, _ = classification_data(C=4, N=6)
    with pytest.raises(ProbabilityError, match="sum to 1") as e:
        crossentropy(dlarray(P, "CB"), T)
    assert "softmax" in str(e.value) and "multilabel" in str(e.value)
    # a single sigmoid output (binary classifier): point to multilabel mode
    with pytest.raises(ProbabilityError, match="ClassificationMode='multilabel'"):
        crossentropy(dlarray(P[:1], "CB"), np.ones((1, 6)))


def test_crossentropy_trusts_only_a_traced_softmax_over_the_class_dimension():
    """Inside dlfeval, Y straight from softmax over 'C' is a distribution by construction (the logits scan is
    skipped); any other traced Y is still scanned: logits, sigmoid outputs, a softmax over another dimension."""
    Z = dlarray(rng(19).standard_normal((4, 6)), "CB")
    _, T, _ = classification_data(C=4, N=6)

    def loss_of(make_y):
        return dlfeval(lambda z: crossentropy(make_y(z), T), Z)

    expected = -np.sum(np.asarray(T) * np.log(np.asarray(extractdata(softmax(Z))))) / 6
    assert float(extractdata(loss_of(softmax))) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ProbabilityError, match="logits"):
        loss_of(lambda z: z)
    with pytest.raises(ProbabilityError, match="sum to 1"):
        loss_of(sigmoid)
    with pytest.raises(ProbabilityError, match="sum to 1"):  # normalised over the observations, not the classes
        loss_of(lambda z: dlarray(softmax_axis(data_of(z), 1), "CB"))


def test_crossentropy_tolerates_rounding_in_probabilities():
    P, T, _ = classification_data(C=10, N=12, seed=18, dtype=np.float32)
    P = P * np.float32(1 + 2e-4)  # sums off by 2e-4 relative, values tiny bit off
    assert np.isfinite(value(crossentropy(dlarray(P, "CB"), T)))


def test_transposed_targets_give_size_error_with_fix():
    P, T, _ = classification_data()
    with pytest.raises(SizeMismatchError) as e:
        crossentropy(dlarray(P, "CB"), T.T)
    msg = str(e.value)
    for part in ("12x10", "10(C) x 12(B)", "T.T", "dlarray(T, 'BC')"):
        assert part in msg


def test_targets_of_wrong_size_no_permutation_fits():
    P, _, _ = classification_data(C=4, N=6)
    with pytest.raises(SizeMismatchError, match="onehotencode") as e:
        l2loss(dlarray(P, "CB"), np.zeros((4, 5)))
    assert "4x5" in str(e.value) and "4(C) x 6(B)" in str(e.value)


def test_formatted_targets_with_other_format_rejected():
    P, T, _ = classification_data(C=4, N=6)
    with pytest.raises(FormatError, match="same format") as e:
        crossentropy(dlarray(P, "CB"), dlarray(T, "CT"))
    assert "'CT'" in str(e.value) and "'CB'" in str(e.value)


def test_logical_targets_rejected_with_conversion_hint():
    # decision: like MATLAB (deep:dlarray:LogicalsNotSupported) logical targets are rejected
    P, T, _ = classification_data(C=4, N=6)
    with pytest.raises(LossArgumentError, match=r"astype\(np.float32\)") as e:
        crossentropy(dlarray(P, "CB"), T.astype(bool))
    assert "logical" in str(e.value)
    with pytest.raises(LossArgumentError, match="logical"):
        l2loss(dlarray(P, "CB"), T.astype(bool))


def test_integer_targets_are_converted():
    P, T, _ = classification_data(C=4, N=6)
    a = value(crossentropy(dlarray(P, "CB"), T.astype(np.int64)))
    assert a == value(crossentropy(dlarray(P, "CB"), T))


def test_unformatted_y_needs_dataformat():
    P, T, _ = classification_data(C=4, N=6)
    for fun in (crossentropy, mse, l2loss, l1loss, huber):
        with pytest.raises(FormatError, match="DataFormat") as e:
            fun(P, T)
        assert "dlarray(Y, 'CB')" in str(e.value)
    with pytest.raises(FormatError, match="already"):
        l2loss(dlarray(P, "CB"), T, DataFormat="CB")


def test_both_mode_options_rejected():
    P, T, _ = classification_data(C=4, N=6)
    with pytest.raises(LossArgumentError, match="not both"):
        crossentropy(dlarray(P, "CB"), T, ClassificationMode="single-label", TargetCategories="exclusive")


def test_bad_options_rejected():
    P, T, _ = classification_data(C=4, N=6)
    Y = dlarray(P, "CB")
    with pytest.raises(LossArgumentError, match="Reduction must be one of 'sum', 'none'"):
        l2loss(Y, T, Reduction="mean")
    with pytest.raises(LossArgumentError, match="positive"):
        l2loss(Y, T, NormalizationFactor=-2)
    with pytest.raises(LossArgumentError, match="NormalizationFactor"):
        l2loss(Y, T, NormalizationFactor="batch")
    with pytest.raises(LossArgumentError, match="ClassificationMode"):
        crossentropy(Y, T, ClassificationMode="binary")
    with pytest.raises(LossArgumentError, match="TransitionPoint"):
        huber(Y, T, TransitionPoint=0)


def test_unformatted_weights_of_other_size_need_weights_format():
    P, T, _ = classification_data(C=4, N=6)
    with pytest.raises(FormatError, match="WeightsFormat='C'"):
        crossentropy(dlarray(P, "CB"), T, np.ones(4))


def test_mask_that_does_not_fit_is_rejected():
    P, T, _ = classification_data(C=4, N=6)
    with pytest.raises(SizeMismatchError, match="'B' dimension has 5"):
        l2loss(dlarray(P, "CB"), T, Mask=np.ones((1, 5)))


# -------------------------------------------------------------------------------------------------
# mse, l2loss, l1loss, huber

def test_mse_is_half_sum_of_squares_per_observation():
    r = rng(20)
    Y, T = r.random((3, 7)), r.random((3, 7))
    expected = np.sum((Y - T) ** 2) / (2 * 7)
    assert value(mse(dlarray(Y, "CB"), T)) == pytest.approx(expected, rel=1e-12)
    assert value(mse(dlarray(Y, "CB"), T)) == pytest.approx(0.5 * value(l2loss(dlarray(Y, "CB"), T)), rel=1e-14)


def test_mse_matlab_doc_example_formula():
    # MATLAB doc: 6x6x1x1 'SSCB' rand vs ones -> 5.2061 (expected value 36 * (1/3) / 2 = 6)
    X = rng(21).random((6, 6, 1, 1))
    loss = value(mse(dlarray(X, "SSCB"), np.ones((6, 6, 1, 1))))
    assert loss == pytest.approx(np.sum((X - 1) ** 2) / 2, rel=1e-12)
    assert 3.5 < loss < 8.5


def test_mse_matches_torch_and_no_batch_dim_means_n_equals_1():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    r = rng(22)
    Y, T = r.standard_normal((5, 4)), r.standard_normal((5, 4))
    ref = torch.nn.functional.mse_loss(torch.tensor(Y), torch.tensor(T), reduction="sum").item() / (2 * 4)
    assert value(mse(dlarray(Y, "CB"), T)) == pytest.approx(ref, rel=1e-12)
    Z, U = r.random((3, 3, 2)), r.random((3, 3, 2))
    assert value(mse(dlarray(Z, "SSC"), U)) == pytest.approx(np.sum((Z - U) ** 2) / 2, rel=1e-12)


def test_l2loss_matches_torch_and_doc_example():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    r = rng(23)
    Y, T = r.random((10, 12)), r.random((10, 12))  # MATLAB doc example shape: 1.4748 there
    got = value(l2loss(dlarray(Y, "CB"), T))
    ref = torch.nn.functional.mse_loss(torch.tensor(Y), torch.tensor(T), reduction="sum").item() / 12
    assert got == pytest.approx(ref, rel=1e-12)
    assert 1.0 < got < 2.4  # expected 120 * (1/6) / 12 = 1.67; a halved loss would be ~0.83
    mean_ref = torch.nn.functional.mse_loss(torch.tensor(Y), torch.tensor(T)).item()
    got_all = value(l2loss(dlarray(Y, "CB"), T, NormalizationFactor="all-elements"))
    assert got_all == pytest.approx(mean_ref, rel=1e-12)


def test_l1loss_matches_torch():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    r = rng(24)
    Y, T = r.standard_normal((4, 3, 2, 5)), r.standard_normal((4, 3, 2, 5))
    ref = torch.nn.functional.l1_loss(torch.tensor(Y), torch.tensor(T), reduction="sum").item() / 5
    assert value(l1loss(dlarray(Y, "SSCB"), T)) == pytest.approx(ref, rel=1e-12)
    mean_ref = torch.nn.functional.l1_loss(torch.tensor(Y), torch.tensor(T)).item()
    assert value(l1loss(dlarray(Y, "SSCB"), T, NormalizationFactor="all-elements")) == pytest.approx(mean_ref, rel=1e-12)


@pytest.mark.parametrize("delta", [1.0, 0.5, 2.5])
def test_huber_matches_torch_and_hand_formula(delta):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    r = rng(25)
    Y, T = r.standard_normal((3, 8)) * 2, r.standard_normal((3, 8))
    e = np.abs(Y - T)
    hand = np.sum(np.where(e <= delta, 0.5 * e**2, delta * e - 0.5 * delta**2)) / 8
    ref = torch.nn.functional.huber_loss(torch.tensor(Y), torch.tensor(T), reduction="sum", delta=delta).item() / 8
    got = value(huber(dlarray(Y, "CB"), T, TransitionPoint=delta))
    assert got == pytest.approx(hand, rel=1e-12)
    assert got == pytest.approx(ref, rel=1e-12)
    if delta == 1.0:
        smooth = torch.nn.functional.smooth_l1_loss(torch.tensor(Y), torch.tensor(T), reduction="sum").item() / 8
        assert value(huber(dlarray(Y, "CB"), T)) == pytest.approx(smooth, rel=1e-12)


def test_regression_losses_weights_mask_and_reduction_none():
    r = rng(26)
    Y, T = r.standard_normal((3, 6)), r.standard_normal((3, 6))
    w = np.array([1.0, 0.0, 2.0])
    m = (r.random((1, 6)) > 0.3).astype(float)
    e = Y - T
    Yd = dlarray(Y, "CB")
    hand = np.sum(w[:, None] * m * e**2) / 6
    assert value(l2loss(Yd, T, dlarray(w, "C"), Mask=m)) == pytest.approx(hand, rel=1e-12)
    hand_mi = np.sum(w[:, None] * m * np.abs(e)) / (3 * m.sum())
    got = value(l1loss(Yd, T, w, WeightsFormat="C", Mask=dlarray(m.ravel(), "B"), NormalizationFactor="mask-included"))
    assert got == pytest.approx(hand_mi, rel=1e-12)
    # mask-included without a mask = all elements
    assert value(l2loss(Yd, T, NormalizationFactor="mask-included")) == pytest.approx(np.mean(e**2), rel=1e-12)
    # an all-zero mask gives 0, not NaN
    assert value(l2loss(Yd, T, Mask=np.zeros((3, 6)), NormalizationFactor="mask-included")) == 0.0
    out = huber(Yd, T, Mask=m, Reduction="none")
    assert dims(out) == "CB"
    a = np.abs(e)
    np.testing.assert_allclose(extractdata(out), m * np.where(a <= 1, 0.5 * a**2, a - 0.5), rtol=1e-12)


# -------------------------------------------------------------------------------------------------
# gradients (finite differences in float64), second order, dtypes

def _grad_through_dlfeval(fun, Yd, T, **kw):
    def model_loss(Y):
        loss = fun(Y, T, **kw)
        return loss, dlgradient(loss, Y)

    return dlfeval(model_loss, Yd)


@pytest.mark.parametrize("fun,kw", [
    (l2loss, {}), (l1loss, {}), (huber, {"TransitionPoint": 0.7}), (mse, {}),
    (l2loss, {"NormalizationFactor": "all-elements"}),
])
def test_regression_gradients_match_finite_differences(fun, kw):
    r = rng(30)
    Y, T = r.standard_normal((3, 5)), r.standard_normal((3, 5))
    loss, g = _grad_through_dlfeval(fun, dlarray(Y, "CB"), T, **kw)
    assert dims(g) == "CB" and g.dtype == np.float64
    ref = numeric_grad(lambda y: value(fun(dlarray(y, "CB"), T, **kw)), Y)
    np.testing.assert_allclose(extractdata(g), ref, rtol=1e-6, atol=1e-8)


def test_crossentropy_gradient_wrt_probabilities_is_minus_t_over_y_over_n():
    P, T, _ = classification_data(C=4, N=5, seed=31)
    _, g = _grad_through_dlfeval(crossentropy, dlarray(P, "CB"), T)
    np.testing.assert_allclose(extractdata(g), -T / P / 5, rtol=1e-12)


@pytest.mark.parametrize("mode", ["single-label", "multilabel"])
def test_crossentropy_gradient_through_activation_matches_finite_differences(mode):
    r = rng(32)
    Z = r.standard_normal((4, 5))
    T = onehot(r.integers(0, 4, 5), 4) if mode == "single-label" else (r.random((4, 5)) > 0.5).astype(float)
    act = softmax if mode == "single-label" else sigmoid
    w = dlarray(r.random(4) + 0.5, "C")

    def f(z):
        return crossentropy(act(dlarray(z, "CB")), T, w, ClassificationMode=mode)

    def model_loss(Zd):
        loss = crossentropy(act(Zd), T, w, ClassificationMode=mode)
        return dlgradient(loss, Zd)

    g = dlfeval(model_loss, dlarray(Z, "CB"))
    np.testing.assert_allclose(extractdata(g), numeric_grad(lambda z: value(f(z)), Z), rtol=1e-6, atol=1e-9)
    if mode == "single-label":  # softmax + crossentropy: (w_label) * (softmax - onehot)/N when unweighted
        g1 = dlfeval(lambda Zd: dlgradient(crossentropy(softmax(Zd), T), Zd), dlarray(Z, "CB"))
        np.testing.assert_allclose(extractdata(g1), (np_softmax(Z) - T) / 5, rtol=1e-10, atol=1e-12)


def test_gradient_with_respect_to_targets():
    r = rng(33)
    Y, T = r.standard_normal((2, 4)), r.standard_normal((2, 4))

    def model_loss(Yd, Td):
        loss = l2loss(Yd, Td)
        return dlgradient(loss, Yd, Td)

    gy, gt = dlfeval(model_loss, dlarray(Y, "CB"), T)
    np.testing.assert_allclose(extractdata(gy), 2 * (Y - T) / 4, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gt), -2 * (Y - T) / 4, rtol=1e-12)


@pytest.mark.parametrize("name", ["crossentropy", "huber", "l2loss"])
def test_second_order_gradient_penalty_matches_finite_differences(name):
    r = rng(34)
    Z = r.standard_normal((3, 4))
    T = onehot(r.integers(0, 3, 4), 3)
    funs = {
        "crossentropy": lambda Zd: crossentropy(softmax(Zd), T),
        "huber": lambda Zd: huber(Zd * Zd, T, TransitionPoint=0.8),
        "l2loss": lambda Zd: l2loss(Zd * Zd, T, Mask=np.ones((1, 4))),
    }
    f = funs[name]

    def penalty(Zd):  # |dL/dZ|^2, differentiated again
        g = dlgradient(f(Zd), Zd, EnableHigherDerivatives=True)
        s = np.sum(g * g)
        return s, dlgradient(s, Zd)

    def penalty_value(z):
        return value(dlfeval(lambda Zd: penalty(Zd)[0], dlarray(z, "CB")))

    _, g2 = dlfeval(penalty, dlarray(Z, "CB"))
    ref = numeric_grad(penalty_value, Z, h=1e-5)
    np.testing.assert_allclose(extractdata(g2), ref, rtol=1e-5, atol=1e-7 * np.abs(ref).max())


_F32_CALLS = {
    "crossentropy": lambda Zd, T: crossentropy(softmax(Zd), T, dlarray(np.ones(4), "C"), Mask=np.ones((4, 6))),
    "multilabel": lambda Zd, T: crossentropy(sigmoid(Zd), T, ClassificationMode="multilabel"),
    "mse": lambda Zd, T: mse(Zd, T),
    "l2loss": lambda Zd, T: l2loss(Zd, T, np.ones((4, 6))),
    "l1loss": lambda Zd, T: l1loss(Zd, T, Mask=np.ones((1, 6)), NormalizationFactor="mask-included"),
    "huber": lambda Zd, T: huber(Zd, T, TransitionPoint=0.5),
}


@pytest.mark.parametrize("name", sorted(_F32_CALLS))
def test_float32_in_float32_loss_and_gradients(name):
    r = rng(35)
    Z = r.standard_normal((4, 6)).astype(np.float32)
    T = onehot(r.integers(0, 4, 6), 4)  # float64 NumPy targets: single still wins
    f = _F32_CALLS[name]

    def model_loss(Zd):
        loss = f(Zd, T)
        g = dlgradient(loss, Zd, EnableHigherDerivatives=True)
        # l1loss: the gradient sign(Y - T) is piecewise constant, nothing to differentiate again
        return loss, g, None if name == "l1loss" else dlgradient(np.sum(g * g), Zd)

    loss, g, g2 = dlfeval(model_loss, dlarray(Z, "CB"))
    assert loss.dtype == np.float32 and g.dtype == np.float32
    assert name == "l1loss" or g2.dtype == np.float32
    assert f(dlarray(Z.astype(np.float64), "CB"), T).dtype == np.float64


@pytest.mark.parametrize("name", sorted(_F32_CALLS))
def test_float32_stays_float32_inside_forward_and_backward(name, monkeypatch):
    # dlgradient and the losses cast their results back to float32 at the end; check that nothing in
    # between was float64 (slow, and a sign of NumPy's upcasting) by removing the final cast.
    import autograd

    import dlteach.losses as losses_module

    monkeypatch.setattr(losses_module, "to_single", lambda x: x)
    r = rng(36)
    Z = r.standard_normal((4, 6)).astype(np.float32)
    T = onehot(r.integers(0, 4, 6), 4)
    f = _F32_CALLS[name]

    def raw_loss(z):
        return data_of(f(dlarray(z, "CB"), T))

    assert np.asarray(raw_loss(Z)).dtype == np.float32
    assert autograd.grad(raw_loss)(Z).dtype == np.float32
    if name == "l1loss":
        return
    hess_penalty = autograd.grad(lambda z: np.sum(autograd.grad(raw_loss)(z) ** 2))(Z)
    assert hess_penalty.dtype == np.float32


def test_float64_y_with_float32_targets_gives_single():
    r = rng(36)
    Y, T = r.standard_normal((2, 3)), r.standard_normal((2, 3)).astype(np.float32)
    assert l2loss(dlarray(Y, "CB"), T).dtype == np.float32  # MATLAB: single wins


def test_crossentropy_gradient_by_hand_including_the_clamped_entries():
    # d/dY of -sum(T .* log(max(Y, eps))) / N is -T ./ (N Y) where Y > eps, and 0 where Y is clamped
    P = np.array([[0.0, 0.2, 0.7], [1.0, 0.8, 0.3]], dtype=np.float32)
    T = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    g = dlfeval(lambda Y: dlgradient(crossentropy(Y, T), Y), dlarray(P, "CB"))
    expected = np.where(P > 0, -T / (3 * np.where(P > 0, P, 1)), 0).astype(np.float32)
    assert extractdata(g).dtype == np.float32
    np.testing.assert_allclose(extractdata(g), expected, rtol=1e-6)


def test_crossentropy_gradient_at_exactly_eps_is_halved():
    # max(Y, eps) splits the gradient of a tie in half, as ``maximum`` does: at Y == eps the gradient is
    # half of -T/(N eps); checked for the plain reverse pass and for the traced one (EnableHigherDerivatives)
    eps = float(np.finfo(np.float32).eps)
    P = np.array([[eps, 0.5], [1.0 - eps, 0.5]], dtype=np.float32)
    T = np.array([[1.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    expected = np.array([[-0.5 / (2 * eps), -1.0 / (2 * 0.5)], [0.0, 0.0]], dtype=np.float32)
    for higher in (False, True):
        g = dlfeval(lambda Y, h=higher: dlgradient(crossentropy(Y, T), Y, EnableHigherDerivatives=h), dlarray(P, "CB"))
        assert extractdata(g).dtype == np.float32
        np.testing.assert_allclose(extractdata(g), expected, rtol=1e-6)


def _clamped_gradient_by_hand(P, T, N, eps):
    """-T / (N Y) where Y > eps, half of -T / (N eps) where Y == eps, 0 below (float64, then rounded)."""
    P64, T64 = P.astype(np.float64), T.astype(np.float64)
    share = np.where(P64 > eps, 1.0, np.where(P64 == eps, 0.5, 0.0))
    return -T64 / (N * np.maximum(P64, eps)) * share


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ties", [False, True])
def test_crossentropy_gradient_of_a_confident_softmax(dtype, ties):
    # once a classifier fits its data the softmax puts less than eps on the wrong classes: those entries are
    # clamped (no gradient, half of it at exactly eps); the gradient through the softmax is then the chain
    # rule with that clamped gradient (checked against the hand formula, computed in float64)
    eps = float(np.finfo(dtype).eps)
    r = rng(44)
    C, N = 10, 16
    labels = r.integers(0, C, N)
    T = onehot(labels, C).astype(dtype)
    Z = (r.standard_normal((C, N)) + 60 * T).astype(dtype)  # the right class far ahead: the others < eps
    P = np_softmax(Z.astype(np.float64)).astype(dtype)
    if ties:  # the probability of the right class at exactly eps in one column (a confident *wrong* answer)
        P[:, 3] = (1 - eps) / (C - 1)
        P[labels[3], 3] = eps
        T[:, 4] = 0.5  # and soft targets in another, so that clamped entries meet nonzero targets
        T[:, 4] = T[:, 4] / T[:, 4].sum()
    assert (P < eps).any() and ((P == eps).any() == ties)
    gY = dlfeval(lambda Y: dlgradient(crossentropy(Y, T), Y), dlarray(P, "CB"))
    assert extractdata(gY).dtype == dtype
    np.testing.assert_allclose(extractdata(gY), _clamped_gradient_by_hand(P, T, N, eps), rtol=1e-6 if dtype == np.float32 else 1e-12)
    # through the softmax: dZ = Y .* (gY - sum_C(gY .* Y)) with the clamped gY
    loss, gZ = dlfeval(lambda Z: (lambda l: (l, dlgradient(l, Z)))(crossentropy(softmax(Z), T)), dlarray(Z, "CB"))
    Y64 = np_softmax(Z.astype(np.float64))
    gY64 = _clamped_gradient_by_hand(Y64, T.astype(np.float64), N, eps)
    expected = Y64 * (gY64 - (gY64 * Y64).sum(axis=0, keepdims=True))
    assert extractdata(gZ).dtype == dtype
    np.testing.assert_allclose(extractdata(gZ), expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_neg_xlog_clamped_gradient_share_is_bit_exact(dtype):
    # the clamped-branch VJP (comparisons in Y's dtype) against the formula written out: the upstream
    # gradient times -t / max(y, eps) times the share 1 (y > eps) / 0.5 (y == eps) / 0 (below), applied when
    # min(y) <= eps (never with a NaN in y); bit for bit, including the signs of zeros, NaN and Inf gradients
    from dlteach.primitives import _neg_xlog_vjps, _neg_xlog_y_vjp

    eps = float(np.finfo(dtype).eps)
    r = rng(45)
    specials = np.array([eps, 0.0, -0.0, 1e-30, eps * (1 + 2 ** -20), eps * (1 - 2 ** -20), 5e-324, np.inf, 0.5, 1.0])
    for trial in range(60):
        y = r.random((4, 6))
        pick = r.random((4, 6)) < [0.0, 0.1, 0.4, 0.9][trial % 4]
        y[pick] = r.choice(specials, pick.sum())
        if trial % 5 == 4:
            y[0, 0] = np.nan
        y = y.astype(dtype)
        t = r.choice([0.0, -0.0, 0.25, 1.0], y.shape).astype(dtype)
        g = r.choice([1.0, -2.0, 0.0, -0.0, np.inf, np.nan, 3e38], y.shape).astype(dtype)
        with np.errstate(all="ignore"):
            q = g * t / np.maximum(y, dtype(eps)) * dtype(-1)
            if np.min(y) <= eps:
                q = q * np.where(y > eps, dtype(1), np.where(y == eps, dtype(0.5), dtype(0)))
            (direct,) = _neg_xlog_vjps(g.copy(), (1,), None, t, y, eps)
            maker = _neg_xlog_y_vjp(np.zeros_like(y), t, y, eps)(g.copy())
        for got in (direct, maker):
            assert got.dtype == dtype
            assert got.tobytes() == q.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_crossentropy_gradient_around_eps_matches_finite_differences(dtype):
    # away from the kink at eps the clamped loss is smooth: its derivative is 0 below eps (the loss does not
    # depend on y there) and -t / (N y) above; central differences with a step smaller than the distance to eps
    eps = float(np.finfo(dtype).eps)
    P = np.array([[0.25 * eps, 0.5, 1.0 - 3 * eps], [1.0 - 0.25 * eps, 0.5, 3 * eps]])
    T = np.array([[1.0, 0.5, 0.0], [0.0, 0.5, 1.0]])
    g = extractdata(dlfeval(lambda Y: dlgradient(crossentropy(Y, T.astype(dtype)), Y), dlarray(P.astype(dtype), "CB")))
    P64 = P.astype(dtype).astype(np.float64)
    fd = np.zeros_like(P64)
    for i in np.ndindex(P.shape):  # a step per entry: 1/256 of the distance to eps, or 1e-6 for the large ones
        h = min(abs(P64[i] - eps) / 256, 1e-6)
        fd[i] = numeric_grad(lambda y, t=T[i]: -(t * np.log(np.maximum(y, eps))) / 3, P64[i], h=h)  # N = 3
    assert g[0, 0] == 0 and fd[0, 0] == 0
    np.testing.assert_allclose(g, fd, rtol=1e-5)


# -------------------------------------------------------------------------------------------------
# the common call (issue 11: checked inline) and the calls next to it, which take the general path


def _traced_and_not(fun, *args):
    """fun(*args) untraced and inside dlfeval (where Y and the targets are traced)."""
    return fun(*args), dlfeval(fun, *args)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_crossentropy_targets_at_the_edges_of_the_probability_range(dtype):
    P, T, _ = classification_data(C=4, N=5, seed=40, dtype=dtype)
    Y = dlarray(P, "CB")
    # -0.0 (the bit pattern of a negative number) and values within the tolerance are probabilities
    for ok in (np.where(T > 0, T, -0.0), T * (1 + 5e-5), T - 5e-5 * (1 - T)):
        expected = -(ok.astype(dtype).astype(np.float64) * np.log(P.astype(np.float64))).sum() / 5
        for Tx in (ok.astype(dtype), dlarray(ok.astype(dtype), "CB")):
            for loss in _traced_and_not(crossentropy, Y, Tx):
                assert value(loss) == pytest.approx(expected, rel=1e-5)
    for bad, text in ((T * 2, "values from 0 to 2"), (T - 0.01, "values from -0.01 to 0.99"),
                      (np.full_like(T, np.nan), "have NaN"), (np.where(T > 0, np.nan, 2.0), "values from 2 to 2 and NaN")):
        for Tx in (bad.astype(dtype), dlarray(bad.astype(dtype), "CB")):
            with pytest.raises(LossArgumentError, match=text):
                crossentropy(Y, Tx)
            with pytest.raises(LossArgumentError, match=text):
                dlfeval(crossentropy, Y, Tx)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_crossentropy_probabilities_at_the_edges(dtype):
    P, T, _ = classification_data(C=4, N=5, seed=41, dtype=dtype)
    sure = np.where(T > 0, 1.0, -0.0).astype(dtype)  # certain and right: loss 0; -0.0 is a probability
    for loss in _traced_and_not(crossentropy, dlarray(sure, "CB"), T):
        assert value(loss) == 0.0
    logits = P.copy()
    logits[0, 0] = -0.01
    with pytest.raises(ProbabilityError, match="values from -0.01"):
        crossentropy(dlarray(logits, "CB"), T)
    with pytest.raises(ProbabilityError, match="sum to 1"):
        dlfeval(crossentropy, dlarray(P * dtype(0.9), "CB"), T)


@pytest.mark.parametrize("fun", [crossentropy, mse, l2loss])
def test_common_call_neighbours_keep_their_errors_and_dtypes(fun):
    P, T, _ = classification_data(C=4, N=6, seed=42, dtype=np.float32)
    Y = dlarray(P, "CB")
    with pytest.raises(SizeMismatchError, match=r"T\.T"):  # unformatted targets in PyTorch's layout
        fun(Y, T.T.copy())
    with pytest.raises(SizeMismatchError, match=r"T\.T"):
        dlfeval(fun, Y, T.T.copy())
    with pytest.raises(FormatError, match="same format"):
        fun(Y, dlarray(T, "CU"))
    with pytest.raises(LossArgumentError, match="Y is empty|0 observations"):
        fun(dlarray(np.zeros((4, 0), np.float32), "CB"), np.zeros((4, 0), np.float32))
    with pytest.raises(LossArgumentError, match="logical"):
        fun(Y, T.astype(bool))
    # single wins: float64 targets with float32 Y, float32 targets with float64 Y, untraced and traced
    for Yx, Tx in ((Y, T.astype(np.float64)), (dlarray(P.astype(np.float64), "CB"), dlarray(T, "CB"))):
        for loss in _traced_and_not(fun, Yx, Tx):
            assert loss.dtype == np.float32
            assert value(loss) == pytest.approx(value(fun(dlarray(P.astype(np.float64), "CB"), T.astype(np.float64))),
                                                rel=1e-6)
    # float16 targets are converted (to Y's float32) by the general path
    assert value(fun(Y, T.astype(np.float16))) == value(fun(Y, T))


def test_crossentropy_options_next_to_the_defaults():
    P, T, _ = classification_data(C=4, N=6, seed=43)
    Y = dlarray(P, "CB")
    base = value(crossentropy(Y, T))
    assert value(crossentropy(Y, T, ClassificationMode="single-label")) == base
    assert value(crossentropy(Y, T, ClassificationMode="Single-Label")) == base  # MATLAB options ignore case
    assert value(crossentropy(Y, T, Reduction="SUM")) == base
    with pytest.raises(LossArgumentError, match="Reduction"):
        crossentropy(Y, T, Reduction=np.array(["sum"]))
    with pytest.raises(LossArgumentError, match="ClassificationMode"):
        crossentropy(Y, T, ClassificationMode=np.array(["single-label"]))
