"""The initializers of "Initialize Learnable Parameters for Model Function" (dlteach/initializers.py).

Oracles: the variance formulas (sample moments within 5 standard errors of a large sample, seeded),
PyTorch's ``nn.init`` (same bounds / standard deviations for the same fan-in and fan-out), the defining
property of the sign-corrected QR factor (QᵀZ upper triangular with a positive diagonal), and the LSTM
cell equations (dlteach's ``lstm`` and PyTorch's ``nn.LSTM`` with the unit-forget-gate bias).
"""

import numpy as np
import pytest

import dlteach as dt
from dlteach import (
    dlarray,
    extractdata,
    initializeGaussian,
    initializeGlorot,
    initializeHe,
    initializeOnes,
    initializeOrthogonal,
    initializeUniform,
    initializeUnitForgetGate,
    initializeZeros,
)
from dlteach.errors import ArgumentError

ALL = [
    (initializeGlorot, ((3, 4), 3, 4)), (initializeHe, ((3, 4), 4)), (initializeGaussian, ((3, 4), 0, 0.01)),
    (initializeUniform, ((3, 4), 0.1)), (initializeOrthogonal, ((3, 4),)), (initializeOnes, ((3, 4),)),
    (initializeZeros, ((3, 4),)),
]


def _values(x):
    assert isinstance(x, dlarray) and dt.dims(x) == ""
    v = extractdata(x)
    assert v.dtype == np.float32
    return v


@pytest.mark.parametrize(("fn", "args"), ALL, ids=[f.__name__ for f, _ in ALL])
def test_size_dtype_and_unformatted_dlarray(fn, args):
    v = _values(fn(*args))
    assert v.shape == (3, 4)
    v4 = _values(fn([5, 5, 3, 8], *args[1:])) if fn is not initializeOrthogonal else None
    assert v4 is None or v4.shape == (5, 5, 3, 8)


@pytest.mark.parametrize(("fn", "args"), ALL, ids=[f.__name__ for f, _ in ALL])
def test_seeded_draws_repeat(fn, args):
    np.random.seed(7)
    a = _values(fn(*args))
    np.random.seed(7)
    b = _values(fn(*args))
    np.testing.assert_array_equal(a, b)


def _check_moments(v, mean, var):
    n = v.size
    v = v.astype(np.float64).ravel()
    # standard errors of the sample mean and variance (fourth moment estimated from the sample)
    se_mean = np.sqrt(var / n)
    se_var = np.sqrt(max(np.mean((v - mean) ** 4) - var**2, 1e-30) / n)
    assert abs(v.mean() - mean) < 5 * se_mean, (v.mean(), mean)
    assert abs(v.var() - var) < 5 * se_var, (v.var(), var)


def test_glorot_fully_connect_bound_and_variance():
    np.random.seed(0)
    numOut, numIn = 300, 200
    v = _values(initializeGlorot([numOut, numIn], numOut, numIn))
    bound = np.sqrt(6 / (numIn + numOut))
    assert np.abs(v).max() <= bound * (1 + 1e-6) and np.abs(v).max() > 0.999 * bound
    _check_moments(v, 0.0, 2 / (numIn + numOut))


def test_glorot_convolution_matches_the_layer_formula():
    np.random.seed(1)
    filterSize, numChannels, numFilters = (5, 5), 3, 128
    numOut = np.prod(filterSize) * numFilters
    numIn = np.prod(filterSize) * numChannels
    v = _values(initializeGlorot([*filterSize, numChannels, numFilters], numOut, numIn))
    assert v.shape == (5, 5, 3, 128)
    _check_moments(v, 0.0, 2 / (numIn + numOut))


@pytest.mark.torch
def test_glorot_and_he_agree_with_pytorch_nn_init():
    torch = pytest.importorskip("torch", reason="PyTorch oracle tests need the test extra")
    torch.manual_seed(0)
    np.random.seed(0)
    # convolution: dlteach h x w x C x F, PyTorch F x C x h x w; fans from PyTorch's own rule
    w_torch = torch.nn.init.xavier_uniform_(torch.empty(64, 3, 5, 5)).numpy()
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(64, 3, 5, 5))
    w = _values(initializeGlorot([5, 5, 3, 64], fan_out, fan_in))
    assert abs(np.abs(w).max() - np.abs(w_torch).max()) < 2e-3 * np.abs(w_torch).max()
    assert abs(w.std() - w_torch.std()) < 0.02 * w_torch.std()
    # He for a fully connected weight (PyTorch: fan_in mode, gain sqrt(2) for ReLU)
    h_torch = torch.nn.init.kaiming_normal_(torch.empty(400, 300), mode="fan_in", nonlinearity="relu").numpy()
    h = _values(initializeHe([400, 300], 300))
    assert abs(h.std() - h_torch.std()) < 0.02 * h_torch.std()
    _check_moments(h, 0.0, 2 / 300)


def test_gaussian_and_uniform_moments():
    np.random.seed(2)
    g = _values(initializeGaussian([300, 5000], 0, 0.01))
    _check_moments(g, 0.0, 0.01**2)
    g2 = _values(initializeGaussian([200, 200], 1.5, 2.0))
    _check_moments(g2, 1.5, 4.0)
    u = _values(initializeUniform([100, 100], 0.1))
    assert np.abs(u).max() <= 0.1 * (1 + 1e-6)
    _check_moments(u, 0.0, 0.1**2 / 3)


@pytest.mark.parametrize("shape", [(400, 100), (50, 50), (100, 400)])
def test_orthogonal_is_the_sign_corrected_qr_factor(shape):
    np.random.seed(3)
    Z = np.random.standard_normal(shape).astype(np.float32).astype(np.float64)
    np.random.seed(3)
    Q = _values(initializeOrthogonal(list(shape))).astype(np.float64)
    assert Q.shape == shape
    tall = shape[0] >= shape[1]
    G = Q.T @ Q if tall else Q @ Q.T
    np.testing.assert_allclose(G, np.eye(min(shape)), atol=2e-6)
    # Z = Q R (tall) or Zᵀ = Qᵀ R (wide) with R upper triangular and a positive diagonal
    R = Q.T @ Z if tall else Q @ Z.T
    assert np.abs(np.tril(R, -1)).max() < 1e-4 * np.abs(R).max()
    assert (np.diag(R) > 0).all()


@pytest.mark.torch
def test_orthogonal_singular_values_match_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch oracle tests need the test extra")
    torch.manual_seed(0)
    for shape in ((400, 100), (100, 400)):
        q_torch = torch.nn.init.orthogonal_(torch.empty(*shape)).numpy()
        q = _values(initializeOrthogonal(list(shape)))
        np.testing.assert_allclose(np.linalg.svd(q, compute_uv=False), np.linalg.svd(q_torch, compute_uv=False),
                                   atol=1e-5)


def test_unit_forget_gate_values():
    b = _values(initializeUnitForgetGate(3))
    np.testing.assert_array_equal(b[:, 0], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    assert b.shape == (12, 1)


def test_unit_forget_gate_opens_the_forget_gate_of_lstm():
    # zero weights, x = 0, h0 = 0, c0 = 1: c1 = f*c0 + i*g = sigmoid(1)*1 + sigmoid(0)*tanh(0) = sigmoid(1)
    H = 4
    bias = initializeUnitForgetGate(H)
    X = dlarray(np.zeros((2, 1, 1), np.float32), "CBT")
    _, _, c1 = dt.lstm(X, np.zeros((H, 1), np.float32), np.ones((H, 1), np.float32),
                       initializeZeros([4 * H, 2]), initializeZeros([4 * H, H]), bias, return_state=True)
    np.testing.assert_allclose(extractdata(c1)[:, 0], 1 / (1 + np.exp(-1.0)), rtol=1e-6)


@pytest.mark.torch
def test_unit_forget_gate_is_pytorchs_forget_slot():
    torch = pytest.importorskip("torch", reason="PyTorch oracle tests need the test extra")
    H = 4
    cell = torch.nn.LSTM(2, H)
    with torch.no_grad():
        for p in cell.parameters():
            p.zero_()
        cell.bias_ih_l0.copy_(torch.from_numpy(extractdata(initializeUnitForgetGate(H))[:, 0]))
    _, (_, c1) = cell(torch.zeros(1, 1, 2), (torch.zeros(1, 1, H), torch.ones(1, 1, H)))
    np.testing.assert_allclose(c1.detach().numpy().ravel(), 1 / (1 + np.exp(-1.0)), rtol=1e-6)


def test_ones_and_zeros():
    np.testing.assert_array_equal(_values(initializeOnes([128, 1])), np.ones((128, 1), np.float32))
    np.testing.assert_array_equal(_values(initializeZeros((128, 1))), np.zeros((128, 1), np.float32))
    assert _values(initializeZeros(np.array([2, 0]))).shape == (2, 0)


def _message(fn, *args):
    with pytest.raises(ArgumentError) as info:
        fn(*args)
    return str(info.value)


def test_a_scalar_size_is_refused_with_matlabs_meaning():
    msg = _message(initializeZeros, 10)
    assert "sz" in msg and "[10, 1]" in msg and "10-by-10" in msg


@pytest.mark.parametrize("sz", [None, "10", [10], [10, -1], [10, 2.5], [[1, 2], [3]], [10, True]])
def test_bad_sizes_name_sz(sz):
    assert "sz" in _message(initializeOnes, sz)


def test_a_huge_size_is_refused_before_allocating():
    msg = _message(initializeGlorot, [10**6, 10**6], 1, 1)
    assert "sz" in msg and "GB" in msg


def test_orthogonal_needs_a_matrix():
    msg = _message(initializeOrthogonal, [5, 5, 3, 16])
    assert "sz" in msg and "[numRows, numColumns]" in msg


def test_bad_scalars_name_their_argument():
    assert "numIn" in _message(initializeGlorot, [3, 4], 3, 0)
    assert "numOut" in _message(initializeGlorot, [3, 4], None, 4)
    assert "numIn" in _message(initializeHe, [3, 4], 2.5)
    assert "sigma" in _message(initializeGaussian, [3, 4], 0, -1)
    assert "mu" in _message(initializeGaussian, [3, 4], np.nan, 1)
    assert "bound" in _message(initializeUniform, [3, 4], -0.1)
    assert "numHiddenUnits" in _message(initializeUnitForgetGate, 0)
    assert "numHiddenUnits" in _message(initializeUnitForgetGate, [4, 1])
