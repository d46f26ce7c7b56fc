"""Tests of the model-function operations (dlteach.ops) against PyTorch and hand formulas.

Layout: MATLAB's H x W x C x N ("SSCB") and C x N ("CB"); PyTorch's N x C x H x W and N x C.
Values and gradients are compared in float64; float32 runs check that float32 is kept.
"""

import warnings

import numpy as np
import pytest

from dlteach import dims, dlarray, dlfeval, dlgradient, extractdata, ops
from dlteach.errors import FormatError, SizeMismatchError

torch = pytest.importorskip("torch", reason="PyTorch oracle tests need the test extra")
F = torch.nn.functional

pytestmark = pytest.mark.torch


def t(a):
    """NumPy -> torch (float64 stays float64), with gradients."""
    return torch.tensor(np.asarray(a), requires_grad=True)


def sscb_to_nchw(a):
    return np.transpose(a, (3, 2, 0, 1))


def nchw_to_sscb(a):
    return np.transpose(a, (2, 3, 1, 0))


def hwcf_to_fchw(w):
    return np.transpose(w, (3, 2, 0, 1))


def grads(loss_fn, *args):
    """(loss, gradients) of loss_fn w.r.t. every argument, through dlfeval/dlgradient."""

    def model_loss(*a):
        loss = loss_fn(*a)
        return loss, dlgradient(loss, *a)

    loss, g = dlfeval(model_loss, *args)
    return loss, (g if isinstance(g, tuple) else (g,))


def ex(x):
    return extractdata(x) if isinstance(x, dlarray) else np.asarray(x)


# --------------------------------------------------------------------------------------------
# fullyconnect


def test_fullyconnect_matches_torch_linear(rng):
    X = rng.standard_normal((7, 5))  # C x B
    W = rng.standard_normal((3, 7))
    b = rng.standard_normal(3)
    R = rng.standard_normal((3, 5))
    loss, (gX, gW, gb) = grads(lambda X, W, b: np.sum(ops.fullyconnect(X, W, b) * R), dlarray(X, "CB"), W, b)
    Y = ops.fullyconnect(dlarray(X, "CB"), W, b)
    assert dims(Y) == "CB" and Y.shape == (3, 5)
    tx, tw, tb = t(X.T), t(W), t(b)
    ty = F.linear(tx, tw, tb)
    (ty * torch.tensor(R.T)).sum().backward()
    np.testing.assert_allclose(extractdata(Y), ty.detach().numpy().T, rtol=1e-12)
    np.testing.assert_allclose(extractdata(gX), tx.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(gW, tw.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gb, tb.grad.numpy(), rtol=1e-10)


def test_fullyconnect_on_images_flattens_each_observation(rng):
    X = rng.standard_normal((4, 3, 2, 5))  # H x W x C x N
    W4 = rng.standard_normal((6, 4, 3, 2))  # OutputSize x H x W x C
    b = rng.standard_normal((6, 1))
    Y = ops.fullyconnect(dlarray(X, "SSCB"), W4, b)
    assert dims(Y) == "CB" and Y.shape == (6, 5)
    expected = np.einsum("ohwc,hwcn->on", W4, X) + b
    np.testing.assert_allclose(extractdata(Y), expected, rtol=1e-12)
    # a 2-D weight matrix is the same weights with the h, w, c dimensions flattened in C order
    Y2 = ops.fullyconnect(dlarray(X, "SSCB"), W4.reshape(6, -1), b.ravel())
    np.testing.assert_allclose(extractdata(Y2), expected, rtol=1e-12)


def test_fullyconnect_with_time_and_dataformat(rng):
    X = rng.standard_normal((4, 2, 3))  # C x B x T
    W, b = rng.standard_normal((5, 4)), np.zeros(5)
    Y = ops.fullyconnect(dlarray(X, "CBT"), W, b)
    assert dims(Y) == "CBT" and Y.shape == (5, 2, 3)
    np.testing.assert_allclose(extractdata(Y), np.einsum("oc,cbt->obt", W, X), rtol=1e-12)
    U = ops.fullyconnect(dlarray(X[:, :, 0].T), W, b, DataFormat="BC")
    assert dims(U) == "" and U.shape == (5, 2)
    np.testing.assert_allclose(extractdata(U), W @ X[:, :, 0], rtol=1e-12)


def test_fullyconnect_errors(rng):
    X = dlarray(rng.standard_normal((7, 5)), "CB")
    with pytest.raises(SizeMismatchError, match="OutputSize x InputSize"):
        ops.fullyconnect(X, np.ones((3, 6)), np.zeros(3))
    with pytest.raises(SizeMismatchError, match="bias has 2 elements"):
        ops.fullyconnect(X, np.ones((3, 7)), np.zeros(2))
    with pytest.raises(FormatError, match="DataFormat='CB'"):
        ops.fullyconnect(np.ones((7, 5)), np.ones((3, 7)), np.zeros(3))
    with pytest.raises(FormatError, match="already formatted"):
        ops.fullyconnect(X, np.ones((3, 7)), np.zeros(3), DataFormat="CB")


def test_fullyconnect_float32_with_float64_parameters(rng):
    X = dlarray(rng.standard_normal((7, 5)).astype(np.float32), "CB")
    W, b = rng.standard_normal((3, 7)), rng.standard_normal(3)
    _, (gX, gW, gb) = grads(lambda X, W, b: np.sum(ops.fullyconnect(X, W, b) ** 2), X, W, b)
    assert ops.fullyconnect(X, W, b).dtype == np.float32
    assert gX.dtype == np.float32 and gW.dtype == np.float64 and gb.dtype == np.float64


# --------------------------------------------------------------------------------------------
# batchnorm


def _bn_data(rng, dtype=np.float64):
    X = (rng.standard_normal((4, 5, 3, 6)) * 2 + 1).astype(dtype)
    offset = rng.standard_normal(3).astype(dtype)
    scale = (rng.random(3) + 0.5).astype(dtype)
    return X, offset, scale


def test_batchnorm_batch_statistics_match_torch(rng):
    X, off, sc = _bn_data(rng)
    R = rng.standard_normal(X.shape)

    def loss_fn(X, off, sc):
        Y, mu, var = ops.batchnorm(X, off, sc)
        return np.sum(Y * R)

    Y, mu, var = ops.batchnorm(dlarray(X, "SSCB"), off, sc)
    assert dims(Y) == "SSCB"
    _, (gX, goff, gsc) = grads(loss_fn, dlarray(X, "SSCB"), off, sc)
    tx, toff, tsc = t(sscb_to_nchw(X)), t(off), t(sc)
    ty = F.batch_norm(tx, None, None, weight=tsc, bias=toff, training=True, eps=1e-5)
    (ty * torch.tensor(sscb_to_nchw(R))).sum().backward()
    np.testing.assert_allclose(extractdata(Y), nchw_to_sscb(ty.detach().numpy()), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(extractdata(gX), nchw_to_sscb(tx.grad.numpy()), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(goff, toff.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gsc, tsc.grad.numpy(), rtol=1e-8)
    # returned statistics: batch mean and (biased) batch variance per channel, C x 1
    np.testing.assert_allclose(ex(mu).ravel(), X.mean(axis=(0, 1, 3)), rtol=1e-12)
    np.testing.assert_allclose(ex(var).ravel(), X.var(axis=(0, 1, 3)), rtol=1e-12)
    assert ex(mu).shape == (3, 1)


def test_batchnorm_training_updates_running_statistics_like_torch(rng):
    X, off, sc = _bn_data(rng, np.float32)
    rm = rng.standard_normal(3).astype(np.float32)
    rv = (rng.random(3) + 0.5).astype(np.float32)
    Y, m_new, v_new = ops.batchnorm(dlarray(X, "SSCB"), off, sc, rm, rv, training=True)
    trm, trv = torch.tensor(rm.copy()), torch.tensor(rv.copy())
    ty = F.batch_norm(torch.tensor(sscb_to_nchw(X)), trm, trv, weight=torch.tensor(sc), bias=torch.tensor(off),
                      training=True, momentum=0.1, eps=1e-5)
    np.testing.assert_allclose(extractdata(Y), nchw_to_sscb(ty.numpy()), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m_new, trm.numpy(), rtol=1e-5)
    np.testing.assert_allclose(v_new, trv.numpy(), rtol=1e-5)
    # the formula, by hand: s_new = 0.1 * s_batch + 0.9 * s_old, unbiased batch variance
    M = 4 * 5 * 6
    Xd = X.astype(np.float64)
    np.testing.assert_allclose(m_new, 0.1 * Xd.mean(axis=(0, 1, 3)) + 0.9 * rm, rtol=1e-5)
    np.testing.assert_allclose(v_new, 0.1 * Xd.var(axis=(0, 1, 3)) * M / (M - 1) + 0.9 * rv, rtol=1e-5)
    assert Y.dtype == np.float32 and m_new.dtype == np.float32 and v_new.dtype == np.float32
    assert m_new.shape == rm.shape
    # decays are options
    _, m2, _ = ops.batchnorm(dlarray(X, "SSCB"), off, sc, rm, rv, training=True, MeanDecay=0.5)
    np.testing.assert_allclose(m2, 0.5 * Xd.mean(axis=(0, 1, 3)) + 0.5 * rm, rtol=1e-5)


def test_batchnorm_running_statistics_as_dlarrays_keep_type():
    X = dlarray(np.arange(24.0).reshape(2, 2, 3, 2), "SSCB")
    m, v = dlarray(np.zeros((3, 1))), dlarray(np.ones((3, 1)))
    _, m2, v2 = ops.batchnorm(X, np.zeros(3), np.ones(3), m, v, training=True)
    assert type(m2) is dlarray and m2.shape == (3, 1) and type(v2) is dlarray


def test_batchnorm_inference_matches_torch(rng):
    X, off, sc = _bn_data(rng)
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5
    Y = ops.batchnorm(dlarray(X, "SSCB"), off, sc, rm, rv, training=False, Epsilon=1e-3)
    assert type(Y) is dlarray and dims(Y) == "SSCB"
    ty = F.batch_norm(torch.tensor(sscb_to_nchw(X)), torch.tensor(rm), torch.tensor(rv), weight=torch.tensor(sc),
                      bias=torch.tensor(off), training=False, eps=1e-3)
    np.testing.assert_allclose(extractdata(Y), nchw_to_sscb(ty.numpy()), rtol=1e-12)


def test_batchnorm_on_features_cb(rng):
    X = rng.standard_normal((4, 10))
    Y, mu, var = ops.batchnorm(dlarray(X, "CB"), np.zeros(4), np.ones(4))
    expected = (X - X.mean(1, keepdims=True)) / np.sqrt(X.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(extractdata(Y), expected, rtol=1e-10)


def test_batchnorm_ambiguous_call_is_explained(rng):
    X, off, sc = _bn_data(rng)
    with pytest.raises(TypeError) as info:
        ops.batchnorm(dlarray(X, "SSCB"), off, sc, np.zeros(3), np.ones(3))
    msg = str(info.value)
    assert "ambiguous" in msg and "training=True" in msg and "training=False" in msg
    with pytest.raises(TypeError, match="both trainedMean and trainedVariance"):
        ops.batchnorm(dlarray(X, "SSCB"), off, sc, np.zeros(3), training=True)
    with pytest.raises(FormatError, match="channel dimension"):
        ops.batchnorm(dlarray(X.reshape(-1, 6), "SB"), off, sc)


# --------------------------------------------------------------------------------------------
# activations


ACTIVATIONS = {
    "relu": (ops.relu, F.relu),
    "leakyrelu": (ops.leakyrelu, lambda x: F.leaky_relu(x, 0.01)),
    "leakyrelu_0.2": (lambda x: ops.leakyrelu(x, 0.2), lambda x: F.leaky_relu(x, 0.2)),
    "sigmoid": (ops.sigmoid, torch.sigmoid),
    "tanh": (ops.tanh, torch.tanh),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_match_torch(name, rng):
    ours, theirs = ACTIVATIONS[name]
    x = rng.standard_normal((3, 4, 2, 5)) * 3
    x[0, 0, 0, 0] = 0.0  # gradient convention at 0: torch's relu gives 0
    R = rng.standard_normal(x.shape)
    Y = ours(dlarray(x, "SSCB"))
    assert dims(Y) == "SSCB"
    _, (g,) = grads(lambda a: np.sum(ours(a) * R), dlarray(x, "SSCB"))
    tx = t(x)
    ty = theirs(tx)
    (ty * torch.tensor(R)).sum().backward()
    np.testing.assert_allclose(extractdata(Y), ty.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(extractdata(g), tx.grad.numpy(), rtol=1e-10, atol=1e-15)
    # float32 in, float32 out, unformatted stays unformatted
    y32 = ours(dlarray(x.astype(np.float32)))
    assert y32.dtype == np.float32 and dims(y32) == ""


def test_softmax_matches_torch_and_sums_to_one(rng):
    x = rng.standard_normal((5, 4)) * 3  # C x B
    R = rng.standard_normal(x.shape)
    Y = ops.softmax(dlarray(x, "CB"))
    assert dims(Y) == "CB"
    np.testing.assert_allclose(np.sum(extractdata(Y), axis=0), np.ones(4), rtol=1e-12)
    _, (g,) = grads(lambda a: np.sum(ops.softmax(a) * R), dlarray(x, "CB"))
    tx = t(x.T)
    ty = F.softmax(tx, dim=1)
    (ty * torch.tensor(R.T)).sum().backward()
    np.testing.assert_allclose(extractdata(Y), ty.detach().numpy().T, rtol=1e-12)
    np.testing.assert_allclose(extractdata(g), tx.grad.numpy().T, rtol=1e-9, atol=1e-14)


def test_softmax_over_channels_of_images_and_dataformat(rng):
    x = rng.standard_normal((3, 3, 4, 2))
    Y = ops.softmax(dlarray(x, "SSCB"))
    np.testing.assert_allclose(extractdata(Y).sum(axis=2), np.ones((3, 3, 2)), rtol=1e-12)
    ref = F.softmax(torch.tensor(sscb_to_nchw(x)), dim=1).numpy()
    np.testing.assert_allclose(extractdata(Y), nchw_to_sscb(ref), rtol=1e-12)
    U = ops.softmax(dlarray(x[0, 0].T), DataFormat="BC")  # B x C data
    assert dims(U) == "" and U.shape == (4, 2)
    np.testing.assert_allclose(extractdata(U).sum(axis=0), np.ones(2))
    with pytest.raises(FormatError, match="DataFormat"):
        ops.softmax(np.ones((3, 2)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_are_stable_for_large_inputs(dtype):
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0], [0.0, 0.0, 88.0], [1e4, -1e4, 89.0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        S = extractdata(ops.softmax(dlarray(x, "CB")))
        G = extractdata(ops.sigmoid(dlarray(x, "CB")))
        T = extractdata(ops.tanh(dlarray(x, "CB")))

        def loss(a):
            return np.sum(ops.softmax(a) * np.arange(4.0)[:, None]) + np.sum(ops.sigmoid(a)) + np.sum(ops.tanh(a))

        _, (g,) = grads(loss, dlarray(x, "CB"))
    for arr in (S, G, T, extractdata(g)):
        assert np.all(np.isfinite(arr)) and arr.dtype == dtype
    np.testing.assert_allclose(S.sum(axis=0), 1.0, rtol=1e-6)
    np.testing.assert_allclose(S[:, 0], [0, 0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(S[:, 1], [0, 1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(G[0], [1.0, 0.0, 0.5], atol=1e-7)


# --------------------------------------------------------------------------------------------
# dropout


def test_dropout_zeroes_and_scales():
    np.random.seed(0)
    X = dlarray(np.ones((200, 100), np.float32), "CB")
    Y = extractdata(ops.dropout(X, 0.25))
    assert Y.dtype == np.float32
    kept = Y != 0
    np.testing.assert_allclose(Y[kept], 1 / 0.75, rtol=1e-6)
    assert abs(kept.mean() - 0.75) < 0.01  # 20000 Bernoulli(0.75): sd 0.003
    assert abs(Y.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation


def test_dropout_is_seeded_and_identity_at_inference(rng):
    X = dlarray(rng.standard_normal((10, 8)), "CB")
    np.random.seed(7)
    a = extractdata(ops.dropout(X))
    np.random.seed(7)
    b = extractdata(ops.dropout(X))
    np.testing.assert_array_equal(a, b)
    c = extractdata(ops.dropout(X))
    assert not np.array_equal(a, c)
    assert ops.dropout(X, 0.5, training=False) is X
    np.testing.assert_array_equal(extractdata(ops.dropout(X, 0.0)), extractdata(X))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        ops.dropout(X, 1.0)


def test_dropout_gradient_is_the_mask():
    np.random.seed(3)
    x = np.ones((6, 5))

    def f(a):
        y = ops.dropout(a, 0.5)
        return np.sum(y), y

    def model(a):
        loss, y = f(a)
        return dlgradient(loss, a), y

    g, y = dlfeval(model, dlarray(x, "CB"))
    np.testing.assert_array_equal(extractdata(g), extractdata(y))  # d sum(x*mask)/dx = mask = y for x = 1


# --------------------------------------------------------------------------------------------
# onehotencode / onehotdecode


def test_onehot_round_trip():
    labels = np.array([3, 0, 9, 3, 5])
    T = ops.onehotencode(labels, 1, ClassNames=range(10))
    assert T.shape == (10, 5) and T.dtype == np.float32
    np.testing.assert_array_equal(T.sum(axis=0), np.ones(5))
    np.testing.assert_array_equal(np.argmax(T, axis=0), labels)
    np.testing.assert_array_equal(ops.onehotdecode(T, range(10), 1), labels)
    T2 = ops.onehotencode(labels, 2, ClassNames=range(10))
    assert T2.shape == (5, 10)
    np.testing.assert_array_equal(ops.onehotdecode(T2, range(10), 2), labels)
    # default classes: sorted unique labels
    words = np.array(["cat", "dog", "cat"])
    W = ops.onehotencode(words, 1)
    np.testing.assert_array_equal(W, [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(ops.onehotdecode(W, ["cat", "dog"], 1), words)
    # decoding probabilities picks the largest
    P = dlarray(np.array([[0.1, 0.7], [0.6, 0.2], [0.3, 0.1]]), "CB")
    np.testing.assert_array_equal(ops.onehotdecode(P, ["a", "b", "c"], 1), ["b", "a"])
    assert ops.onehotencode([1, 2], 1, dtype="double").dtype == np.float64


def test_onehot_errors():
    with pytest.raises(ValueError, match="not one of ClassNames"):
        ops.onehotencode([1, 12], 1, ClassNames=range(10))
    with pytest.raises(SizeMismatchError, match="3 classes"):
        ops.onehotdecode(np.ones((4, 2)), ["a", "b", "c"], 1)


# --------------------------------------------------------------------------------------------
# dlconv, maxpool, avgpool (dlteach._spatial underneath)


def torch_conv(x, w, b, stride, pad, dilation=(1, 1)):
    """Reference convolution with explicit ((t, b), (l, r)) padding, on NCHW tensors."""
    (pt, pb), (pl, pr) = pad
    xp = F.pad(x, (pl, pr, pt, pb))
    return F.conv2d(xp, w, b, stride=stride, dilation=dilation)


CONV_CASES = [
    # padding argument, stride, dilation, expected ((t,b),(l,r)) for a 9 x 8 input and 3 x 2 filter
    (0, 1, 1, ((0, 0), (0, 0))),
    (2, 1, 1, ((2, 2), (2, 2))),
    ([1, 2], 2, 1, ((1, 1), (2, 2))),
    ([0, 1, 2, 0], [2, 1], 1, ((0, 1), (2, 0))),
    ("same", 1, 1, ((1, 1), (0, 1))),
    ("same", 2, 1, ((1, 1), (0, 1))),  # out = ceil(9/2)=5: total 2*4+3-9=2; ceil(8/2)=4: 2*3+2-8=0
    ("same", 1, 2, ((2, 2), (1, 1))),
]


@pytest.mark.parametrize("padding, stride, dilation, expected_pad", CONV_CASES)
def test_dlconv_matches_torch(padding, stride, dilation, expected_pad, rng):
    if padding == "same" and stride == 2:
        expected_pad = ((1, 1), (0, 0))
    X = rng.standard_normal((9, 8, 3, 2))
    W = rng.standard_normal((3, 2, 3, 4))  # h x w x C x F
    b = rng.standard_normal(4)
    Y = ops.dlconv(dlarray(X, "SSCB"), W, b, Stride=stride, Padding=padding, DilationFactor=dilation)
    assert dims(Y) == "SSCB"
    R = rng.standard_normal(Y.shape)
    _, (gX, gW, gb) = grads(
        lambda X, W, b: np.sum(ops.dlconv(X, W, b, Stride=stride, Padding=padding, DilationFactor=dilation) * R),
        dlarray(X, "SSCB"), W, b,
    )
    s = (stride, stride) if np.ndim(stride) == 0 else tuple(stride)
    d = (dilation, dilation)
    tx, tw, tb = t(sscb_to_nchw(X)), t(hwcf_to_fchw(W)), t(b)
    ty = torch_conv(tx, tw, tb, s, expected_pad, d)
    (ty * torch.tensor(sscb_to_nchw(R))).sum().backward()
    np.testing.assert_allclose(extractdata(Y), nchw_to_sscb(ty.detach().numpy()), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(extractdata(gX), nchw_to_sscb(tx.grad.numpy()), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gW, np.transpose(tw.grad.numpy(), (2, 3, 1, 0)), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb, tb.grad.numpy(), rtol=1e-10)


def test_dlconv_same_keeps_size_and_float32(rng):
    X = dlarray(rng.standard_normal((28, 28, 1, 4)).astype(np.float32), "SSCB")
    W = (rng.standard_normal((5, 5, 1, 20)) * 0.1).astype(np.float32)
    Y = ops.dlconv(X, W, np.zeros(20, np.float32), Padding="same")
    assert Y.shape == (28, 28, 20, 4) and Y.dtype == np.float32
    Y2 = ops.dlconv(X, W, np.zeros(20, np.float32), Stride=2, Padding="same")
    assert Y2.shape == (14, 14, 20, 4)
    U = ops.dlconv(extractdata(X), W, 0.0, DataFormat="SSCB")
    assert dims(U) == "" and U.shape == (24, 24, 20, 4)


def test_dlconv_errors(rng):
    X = dlarray(rng.standard_normal((8, 8, 3, 2)), "SSCB")
    with pytest.raises(SizeMismatchError, match="3 channels"):
        ops.dlconv(X, np.ones((3, 3, 2, 4)), np.zeros(4))
    with pytest.raises(SizeMismatchError, match="one per filter"):
        ops.dlconv(X, np.ones((3, 3, 3, 4)), np.zeros(3))
    with pytest.raises(FormatError, match="SSCB"):
        ops.dlconv(dlarray(np.ones((3, 4)), "CB"), np.ones((3, 3, 3, 4)), np.zeros(4))
    with pytest.raises(ValueError, match="Padding"):
        ops.dlconv(X, np.ones((3, 3, 3, 4)), np.zeros(4), Padding="valid")
    with pytest.raises(ValueError, match="Padding"):
        ops.dlconv(X, np.ones((3, 3, 3, 4)), np.zeros(4), Padding=[1, 2, 3])


POOL_CASES = [
    # poolsize, stride, padding, expected ((t,b),(l,r)) for a 7 x 6 input
    (2, 2, 0, ((0, 0), (0, 0))),
    (3, 1, 1, ((1, 1), (1, 1))),
    ([3, 2], [2, 1], [1, 0], ((1, 1), (0, 0))),
    (2, 2, [0, 1, 1, 0], ((0, 1), (1, 0))),
    (3, 2, "same", ((1, 1), (1, 1))),  # out 4 x 3: total 2*3+3-7=2, 2*2+3-6=1 -> (0, 1)
]


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
@pytest.mark.parametrize("poolsize, stride, padding, expected_pad", POOL_CASES)
def test_pooling_matches_torch(kind, poolsize, stride, padding, expected_pad, rng):
    if padding == "same":
        expected_pad = ((1, 1), (0, 1))
    X = rng.standard_normal((7, 6, 3, 2))
    fun = getattr(ops, kind)
    Y = fun(dlarray(X, "SSCB"), poolsize, Stride=stride, Padding=padding)
    assert dims(Y) == "SSCB"
    R = rng.standard_normal(Y.shape)
    _, (gX,) = grads(lambda X: np.sum(fun(X, poolsize, Stride=stride, Padding=padding) * R), dlarray(X, "SSCB"))
    k = (poolsize, poolsize) if np.ndim(poolsize) == 0 else tuple(poolsize)
    s = (stride, stride) if np.ndim(stride) == 0 else tuple(stride)
    (pt, pb), (pl, pr) = expected_pad
    tx = t(sscb_to_nchw(X))
    if kind == "maxpool":
        ty = F.max_pool2d(F.pad(tx, (pl, pr, pt, pb), value=-np.inf), k, s)
    else:  # padding counts as zeros (count_include_pad)
        ty = F.avg_pool2d(F.pad(tx, (pl, pr, pt, pb)), k, s)
    (ty * torch.tensor(sscb_to_nchw(R))).sum().backward()
    np.testing.assert_allclose(extractdata(Y), nchw_to_sscb(ty.detach().numpy()), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(extractdata(gX), nchw_to_sscb(tx.grad.numpy()), rtol=1e-12, atol=1e-14)


def test_pooling_defaults_float32_and_errors(rng):
    X = dlarray(rng.standard_normal((6, 6, 2, 3)).astype(np.float32), "SSCB")
    assert ops.maxpool(X, 2).shape == (5, 5, 2, 3)  # MATLAB's default Stride is 1
    assert ops.maxpool(X, 2, Stride=2).dtype == np.float32
    assert ops.avgpool(X, 3, Stride=3).shape == (2, 2, 2, 3)
    with pytest.raises(FormatError, match="SSCB"):
        ops.maxpool(dlarray(np.ones((3, 4)), "CB"), 2)
    with pytest.raises(FormatError, match="DataFormat"):
        ops.avgpool(np.ones((4, 4, 1, 1)), 2)
    with pytest.raises(ValueError, match="poolsize"):
        ops.maxpool(X, [2, 2, 2])


def test_second_derivatives_of_tanh_and_sigmoid():
    # d2/dx2 tanh = -2 tanh (1 - tanh^2); d2/dx2 sigmoid = s (1 - s) (1 - 2 s)
    x = np.array([-3.0, -0.5, 0.0, 0.7, 2.0, 800.0])

    def f(a):
        d1 = dlgradient(np.sum(ops.tanh(a)), a, EnableHigherDerivatives=True)
        d2 = dlgradient(np.sum(d1), a)
        s1 = dlgradient(np.sum(ops.sigmoid(a)), a, EnableHigherDerivatives=True)
        return d1, d2, s1

    def g(a):
        s1 = dlgradient(np.sum(ops.sigmoid(a)), a, EnableHigherDerivatives=True)
        return dlgradient(np.sum(s1), a)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d1, d2, s1 = dlfeval(f, dlarray(x))
        s2 = dlfeval(g, dlarray(x))
    th = np.tanh(x)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(extractdata(d1), 1 - th**2, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(extractdata(d2), -2 * th * (1 - th**2), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(extractdata(s1), s * (1 - s), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(extractdata(s2), s * (1 - s) * (1 - 2 * s), rtol=1e-8, atol=1e-300)


def test_fullyconnect_errors_with_the_shapes_of_the_common_call(rng):
    # weights a matrix, bias a column, all float32 dlarrays (issue 11's inline common call), sizes wrong
    X = dlarray(rng.standard_normal((7, 5)).astype(np.float32), "CB")
    W6, W7 = dlarray(np.ones((3, 6), np.float32)), dlarray(np.ones((3, 7), np.float32))
    b2, b3 = dlarray(np.zeros((2, 1), np.float32)), dlarray(np.zeros((3, 1), np.float32))
    for call in (ops.fullyconnect, lambda *a: dlfeval(ops.fullyconnect, *a)):
        with pytest.raises(SizeMismatchError, match="OutputSize x InputSize"):
            call(X, W6, b3)
        with pytest.raises(SizeMismatchError, match="bias has 2 elements"):
            call(X, W7, b2)
        with pytest.raises(FormatError, match="already formatted"):
            ops.fullyconnect(X, W7, b3, DataFormat="CB")
    with pytest.raises(Exception, match="weights"):
        ops.fullyconnect(X, None, b3)
    with pytest.raises(Exception, match="float16"):
        ops.fullyconnect(X, np.ones((3, 7), np.float16), b3)
    # the same values whatever the form of the parameters (vector bias, 4-D weights, NumPy arrays, a time dim)
    Wn, bn = rng.standard_normal((3, 7)).astype(np.float32), rng.standard_normal((3, 1)).astype(np.float32)
    want = extractdata(ops.fullyconnect(X, dlarray(Wn), dlarray(bn)))
    np.testing.assert_array_equal(want, Wn @ extractdata(X) + bn)
    for W, b in ((Wn, bn), (dlarray(Wn), bn.ravel()), (Wn.reshape(3, 7, 1, 1), bn)):
        np.testing.assert_array_equal(extractdata(ops.fullyconnect(X, W, b)), want)
    Y = ops.fullyconnect(dlarray(extractdata(X)[:, :, None], "CBT"), Wn, bn)
    assert dims(Y) == "CBT"
    np.testing.assert_array_equal(extractdata(Y)[:, :, 0], want)


def test_relu_and_softmax_on_other_inputs(rng):
    x = rng.standard_normal((3, 4))
    for X in (x, x.astype(np.float32), dlarray(x), dlarray(x.astype(np.float32), "CB")):
        np.testing.assert_array_equal(ex(ops.relu(X)), np.maximum(ex(X), 0))
    with pytest.raises(Exception, match="float16"):
        ops.relu(x.astype(np.float16))
    with pytest.raises(FormatError, match="'C'"):
        ops.softmax(dlarray(x, "SB"))
    with pytest.raises(FormatError, match="already formatted"):
        ops.softmax(dlarray(x, "CB"), DataFormat="CB")
    np.testing.assert_array_equal(ex(ops.softmax(dlarray(x.T.copy(), "BC"))), ex(ops.softmax(x, DataFormat="CB")))
