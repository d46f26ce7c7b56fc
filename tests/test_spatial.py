"""Tests of dlteach._spatial: conv2d / maxpool2d / avgpool2d / same_padding on H x W x C x N arrays.

References: PyTorch (NCHW, transposed to MATLAB's layout), finite differences in float64
(autograd.test_util.check_grads, which also checks second order), and hand formulas.
"""

import numpy as np
import pytest
from autograd import grad
from autograd.test_util import check_grads

import dlteach._spatial as spatial
from dlteach._spatial import (
    SpatialArgumentError,
    avgpool2d,
    conv2d,
    maxpool2d,
    normalize_padding,
    same_padding,
)

TORCH_REASON = "PyTorch is the reference implementation for these tests"

# (x shape H,W,C,N), (kh, kw, F), stride, padding ((t,b),(l,r)), dilation
CONV_CASES = [
    ((8, 8, 1, 2), (3, 3, 4), (1, 1), ((0, 0), (0, 0)), (1, 1)),
    ((9, 7, 3, 3), (3, 2, 5), (2, 2), ((1, 2), (0, 1)), (1, 1)),
    ((10, 11, 2, 2), (3, 3, 3), (1, 1), ((2, 1), (1, 2)), (2, 2)),
    ((12, 12, 4, 2), (5, 5, 6), (2, 1), ((2, 2), (2, 2)), (1, 2)),
    ((6, 6, 3, 1), (1, 1, 2), (2, 2), ((0, 0), (0, 0)), (1, 1)),
    ((5, 5, 2, 3), (5, 5, 2), (1, 1), ((0, 0), (0, 0)), (1, 1)),
    ((7, 9, 3, 4), (4, 3, 7), (3, 2), ((0, 3), (2, 0)), (1, 1)),
]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _to_nchw(a):  # H W C N -> N C H W (also kh kw C F -> F C kh kw)
    return np.ascontiguousarray(a.transpose(3, 2, 0, 1))


def _from_nchw(a):
    return a.transpose(2, 3, 1, 0)


def _assert_close32(ours, ref, rtol=1e-5):
    """float32 comparison: relative to the largest reference magnitude (sums of many products)."""
    scale = max(float(np.max(np.abs(ref))), 1e-30)
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * scale * 4)


def _torch_conv(x, w, stride, padding, dilation, gy):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    F = torch.nn.functional
    xt = torch.from_numpy(_to_nchw(x)).requires_grad_()
    wt = torch.from_numpy(_to_nchw(w)).requires_grad_()
    (pt, pb), (pl, pr) = padding
    yt = F.conv2d(F.pad(xt, (pl, pr, pt, pb)), wt, stride=stride, dilation=dilation)
    yt.backward(torch.from_numpy(_to_nchw(gy)))
    return _from_nchw(yt.detach().numpy()), _from_nchw(xt.grad.numpy()), _from_nchw(wt.grad.numpy())


# ------------------------------------------------------------------------------------------ conv


@pytest.fixture(params=["flat", "batched", "batched-chunked"])
def layout(request, monkeypatch):
    """Run a test on each im2col layout (conv2d picks one by batch size; both must be exact)."""
    if request.param == "flat":
        monkeypatch.setattr(spatial, "_BATCHED_MIN_N", 10**9)
    else:
        monkeypatch.setattr(spatial, "_BATCHED_MIN_N", 1)
        monkeypatch.setattr(spatial, "_BATCHED_MAX_K", 10**9)
    if request.param == "batched-chunked":  # weight gradient accumulated over many position chunks
        monkeypatch.setattr(spatial, "_CHUNK_ELEMS", 1)
    return request.param


@pytest.mark.parametrize("xs, ks, stride, padding, dilation", CONV_CASES)
def test_conv2d_forward_and_gradients_match_torch(xs, ks, stride, padding, dilation, layout):
    pytest.importorskip("torch", reason=TORCH_REASON)
    rng = _rng(1)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((ks[0], ks[1], xs[2], ks[2])).astype(np.float32)
    y = conv2d(x, w, stride, padding, dilation)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    y_ref, gx_ref, gw_ref = _torch_conv(x, w, stride, padding, dilation, gy)
    assert y.shape == y_ref.shape
    assert y.dtype == np.float32
    _assert_close32(y, y_ref)

    loss = lambda x, w: np.sum(conv2d(x, w, stride, padding, dilation) * gy)
    gx, gw = grad(loss, (0, 1))(x, w)
    assert gx.dtype == np.float32 and gw.dtype == np.float32
    assert gx.shape == x.shape and gw.shape == w.shape
    _assert_close32(gx, gx_ref)
    _assert_close32(gw, gw_ref)


def test_conv2d_float64_matches_torch_tightly():
    pytest.importorskip("torch", reason=TORCH_REASON)
    rng = _rng(2)
    x = rng.standard_normal((11, 10, 3, 2))
    w = rng.standard_normal((3, 4, 3, 5))
    args = ((2, 1), ((1, 0), (2, 1)), (1, 2))
    y = conv2d(x, w, *args)
    gy = rng.standard_normal(y.shape)
    y_ref, gx_ref, gw_ref = _torch_conv(x, w, *args, gy)
    gx, gw = grad(lambda x, w: np.sum(conv2d(x, w, *args) * gy), (0, 1))(x, w)
    for ours, ref in ((y, y_ref), (gx, gx_ref), (gw, gw_ref)):
        assert ours.dtype == np.float64
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


def test_conv2d_is_cross_correlation_by_hand():
    # 3x3 input, 2x2 kernel, no flip: y[0,0] = sum(x[0:2,0:2] * w)
    x = np.arange(9.0).reshape(3, 3, 1, 1)
    w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)
    y = conv2d(x, w)
    X, K = x[:, :, 0, 0], w[:, :, 0, 0]
    expected = np.array([[np.sum(X[i:i + 2, j:j + 2] * K) for j in range(2)] for i in range(2)])
    np.testing.assert_array_equal(y[:, :, 0, 0], expected)


@pytest.mark.parametrize("case", [1, 2, 3, 6])
def test_conv2d_vjps_and_second_order_by_finite_differences(case, layout):
    xs, ks, stride, padding, dilation = CONV_CASES[case]
    rng = _rng(3)
    np.random.seed(3)  # check_grads draws its random directions from NumPy's global generator
    # smaller batch keeps it fast
    xs = xs[:3] + (min(xs[3], 2),)
    x = rng.standard_normal(xs)
    w = rng.standard_normal((ks[0], ks[1], xs[2], ks[2]))
    f = lambda x, w: conv2d(x, w, stride, padding, dilation)
    # order=2 checks the VJPs and the VJPs of the VJPs (conv2d_transpose / filter-gradient primitives)
    check_grads(f, (0, 1), modes=["rev"], order=2)(x, w)


def test_conv2d_gradient_penalty_second_order_matches_torch(layout):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    rng = _rng(4)
    x = rng.standard_normal((8, 7, 2, 2))
    w = rng.standard_normal((3, 3, 2, 3))
    args = ((2, 1), ((1, 1), (0, 2)), (1, 1))

    def penalty(x, w):  # || d/dx sum(tanh(conv(x, w))) ||^2, differentiated again w.r.t. x and w
        gx = grad(lambda x: np.sum(np.tanh(conv2d(x, w, *args))))(x)
        return np.sum(gx ** 2)

    px, pw = grad(penalty, (0, 1))(x, w)

    F = torch.nn.functional
    xt = torch.from_numpy(_to_nchw(x)).requires_grad_()
    wt = torch.from_numpy(_to_nchw(w)).requires_grad_()
    yt = torch.tanh(F.conv2d(F.pad(xt, (0, 2, 1, 1)), wt, stride=(2, 1))).sum()
    (gxt,) = torch.autograd.grad(yt, xt, create_graph=True)
    (gxt ** 2).sum().backward()
    np.testing.assert_allclose(px, _from_nchw(xt.grad.numpy()), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(pw, _from_nchw(wt.grad.numpy()), rtol=1e-10, atol=1e-10)


def test_conv2d_dtypes_are_preserved(layout):
    rng = _rng(5)
    x32 = rng.standard_normal((6, 6, 2, 2)).astype(np.float32)
    w32 = rng.standard_normal((3, 3, 2, 3)).astype(np.float32)
    x64, w64 = x32.astype(np.float64), w32.astype(np.float64)
    loss = lambda x, w: np.sum(conv2d(x, w, 1, 1) ** 2)
    for x, w, ydt in [(x32, w32, np.float32), (x64, w64, np.float64), (x64, w32, np.float32), (x32, w64, np.float32)]:
        assert conv2d(x, w).dtype == ydt  # MATLAB single-wins rule
        gx, gw = grad(loss, (0, 1))(x, w)
        assert gx.dtype == x.dtype and gw.dtype == w.dtype  # each gradient in its input's dtype
    # second-order gradients stay float32 too
    pen = lambda x, w: np.sum(grad(loss, 0)(x, w) ** 2)
    hx, hw = grad(pen, (0, 1))(x32, w32)
    assert hx.dtype == np.float32 and hw.dtype == np.float32


def test_conv2d_large_batch_default_path_matches_torch():
    # N = 20 with K = 3*3*3 takes the batched layout without any patching (K = 3*3*8 does not)
    pytest.importorskip("torch", reason=TORCH_REASON)
    assert spatial._batched(spatial._conv_geometry((9, 8, 3, 20), (3, 3, 3, 4), 1, 0, 1))
    assert not spatial._batched(spatial._conv_geometry((9, 8, 8, 20), (3, 3, 8, 4), 1, 0, 1))
    rng = _rng(13)
    x = rng.standard_normal((9, 8, 3, 20)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    args = ((2, 1), ((1, 2), (0, 1)), (1, 2))
    y = conv2d(x, w, *args)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    y_ref, gx_ref, gw_ref = _torch_conv(x, w, *args, gy)
    gx, gw = grad(lambda x, w: np.sum(conv2d(x, w, *args) * gy), (0, 1))(x, w)
    _assert_close32(y, y_ref)
    _assert_close32(gx, gx_ref)
    _assert_close32(gw, gw_ref)


def test_conv2d_only_weights_traced_reuses_forward_and_matches_full(layout, monkeypatch):
    # the weight gradient alone (input not traced) reuses the forward's patch matrix (one im2col in
    # all) and must equal the one computed with both traced
    rng = _rng(6)
    x = rng.standard_normal((9, 9, 3, 2)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    loss = lambda x, w: np.sum(np.sin(conv2d(x, w, 2, ((1, 0), (0, 1)))))
    calls = []
    im2col = spatial._im2col
    monkeypatch.setattr(spatial, "_im2col", lambda *a: calls.append(1) or im2col(*a))
    gw_only = grad(loss, 1)(x, w)
    assert len(calls) == 1
    assert spatial._COLS_BY_OUTPUT == {}  # the hand-off of the forward patches does not keep memory alive
    _, gw_both = grad(loss, (0, 1))(x, w)
    np.testing.assert_array_equal(gw_only, gw_both)


# --------------------------------------------------------------------------------------- maxpool


def _torch_maxpool(x, pool, stride, padding, gy):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    F = torch.nn.functional
    xt = torch.from_numpy(_to_nchw(x)).requires_grad_()
    (pt, pb), (pl, pr) = padding
    xpad = F.pad(xt, (pl, pr, pt, pb), value=-np.inf)
    yt = F.max_pool2d(xpad, pool, stride)
    yt.backward(torch.from_numpy(_to_nchw(gy)))
    return _from_nchw(yt.detach().numpy()), _from_nchw(xt.grad.numpy())


POOL_CASES = [
    ((8, 8, 3, 2), (2, 2), (2, 2), ((0, 0), (0, 0))),
    ((9, 7, 2, 3), (2, 2), (2, 2), ((0, 0), (0, 0))),  # odd sizes: last row/col dropped
    ((9, 9, 2, 2), (3, 3), (2, 2), ((1, 1), (1, 0))),  # overlapping, asymmetric padding
    ((7, 8, 2, 2), (2, 3), (1, 1), ((1, 0), (0, 2))),  # stride 1, rectangular pool
    ((10, 10, 1, 2), (2, 2), (3, 3), ((1, 1), (1, 1))),  # stride > pool
]


@pytest.mark.parametrize("xs, pool, stride, padding", POOL_CASES)
def test_maxpool_forward_and_gradient_match_torch(xs, pool, stride, padding):
    pytest.importorskip("torch", reason=TORCH_REASON)
    rng = _rng(7)
    x = rng.standard_normal(xs).astype(np.float32)
    y = maxpool2d(x, pool, stride, padding)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    y_ref, gx_ref = _torch_maxpool(x, pool, stride, padding, gy)
    assert y.dtype == np.float32 and y.shape == y_ref.shape
    np.testing.assert_array_equal(y, y_ref)
    gx = grad(lambda x: np.sum(maxpool2d(x, pool, stride, padding) * gy))(x)
    assert gx.dtype == np.float32
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("xs, pool, stride, padding", POOL_CASES)
def test_maxpool_ties_route_to_first_max_like_torch(xs, pool, stride, padding):
    pytest.importorskip("torch", reason=TORCH_REASON)
    rng = _rng(8)
    x = rng.integers(0, 3, size=xs).astype(np.float32)  # many ties
    y = maxpool2d(x, pool, stride, padding)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    _, gx_ref = _torch_maxpool(x, pool, stride, padding, gy)
    gx = grad(lambda x: np.sum(maxpool2d(x, pool, stride, padding) * gy))(x)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-6, atol=1e-6)


def test_maxpool_tie_goes_to_first_in_scan_order_by_hand():
    # one 2x3 window full of equal values: rows outer, columns inner -> element (0, 0)
    x = np.full((2, 3, 1, 1), 5.0, dtype=np.float32)
    gx = grad(lambda x: np.sum(maxpool2d(x, (2, 3), (2, 3)) * 7.0))(x)
    expected = np.zeros_like(x)
    expected[0, 0] = 7.0
    np.testing.assert_array_equal(gx, expected)
    # tie between (0, 2) and (1, 0): scan order reaches (0, 2) first
    x = np.zeros((2, 3, 1, 1))
    x[0, 2] = x[1, 0] = 1.0
    gx = grad(lambda x: np.sum(maxpool2d(x, (2, 3), (2, 3))))(x)
    assert gx[0, 2, 0, 0] == 1.0 and gx.sum() == 1.0


def test_maxpool_padding_never_wins():
    # all real values are -inf: the output is -inf and the gradient still lands on real positions
    x = np.full((4, 4, 1, 2), -np.inf)
    pads = ((1, 1), (1, 1))
    y = maxpool2d(x, (2, 2), (2, 2), pads)
    assert y.shape == (3, 3, 1, 2) and np.all(y == -np.inf)
    gx = grad(lambda x: np.sum(maxpool2d(x, (2, 2), (2, 2), pads) * 1.0))(x)
    assert gx.sum() == y.size  # no cotangent lost in the padding
    # every output gets its own input: the first real element of each window
    assert np.all(gx[[0, 1, 3], :][:, [0, 1, 3]] == 1.0)
    # negative data with padding: max is the real value, never the (-inf) pad
    x = -np.arange(1.0, 10.0).reshape(3, 3, 1, 1)
    y = maxpool2d(x, (2, 2), (2, 2), ((1, 0), (1, 0)))
    np.testing.assert_array_equal(y[:, :, 0, 0], [[-1.0, -2.0], [-4.0, -5.0]])


def test_maxpool_and_avgpool_second_order_by_finite_differences():
    np.random.seed(9)
    rng = _rng(9)
    x = rng.standard_normal((7, 6, 2, 2))  # distinct values: no ties, FD is valid
    for f in (
        lambda x: maxpool2d(x, (3, 2), (2, 1), ((1, 1), (0, 1))),
        lambda x: maxpool2d(x, (2, 2), (2, 2)),
        lambda x: avgpool2d(x, (3, 2), (2, 1), ((1, 1), (0, 1))),
        lambda x: avgpool2d(x, (2, 2), (2, 2)),
    ):
        check_grads(f, modes=["rev"], order=2)(x)
    # a genuinely second-order use: gradient penalty through conv + maxpool
    w = rng.standard_normal((3, 3, 2, 3))
    h = lambda x, w: np.sum(np.tanh(maxpool2d(conv2d(x, w, 1, 1), (2, 2), (2, 2))) ** 2)
    check_grads(h, (0, 1), modes=["rev"], order=2)(x, w)


# --------------------------------------------------------------------------------------- avgpool


def _avgpool_by_hand(x, pool, stride, padding):
    (pt, pb), (pl, pr) = padding
    xp = np.pad(x, ((pt, pb), (pl, pr), (0, 0), (0, 0)))
    Ho = (xp.shape[0] - pool[0]) // stride[0] + 1
    Wo = (xp.shape[1] - pool[1]) // stride[1] + 1
    y = np.zeros((Ho, Wo) + x.shape[2:])
    for i in range(Ho):
        for j in range(Wo):
            win = xp[i * stride[0]: i * stride[0] + pool[0], j * stride[1]: j * stride[1] + pool[1]]
            y[i, j] = win.sum(axis=(0, 1)) / (pool[0] * pool[1])
    return y


@pytest.mark.parametrize("xs, pool, stride, padding", POOL_CASES)
def test_avgpool_matches_hand_formula_and_torch(xs, pool, stride, padding):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    rng = _rng(10)
    x = rng.standard_normal(xs).astype(np.float32)
    y = avgpool2d(x, pool, stride, padding)
    assert y.dtype == np.float32
    _assert_close32(y, _avgpool_by_hand(x.astype(np.float64), pool, stride, padding))
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx = grad(lambda x: np.sum(avgpool2d(x, pool, stride, padding) * gy))(x)
    assert gx.dtype == np.float32
    F = torch.nn.functional
    xt = torch.from_numpy(_to_nchw(x)).requires_grad_()
    (pt, pb), (pl, pr) = padding
    yt = F.avg_pool2d(F.pad(xt, (pl, pr, pt, pb)), pool, stride)  # explicit zero pad counts in the divisor
    yt.backward(torch.from_numpy(_to_nchw(gy)))
    _assert_close32(y, _from_nchw(yt.detach().numpy()))
    _assert_close32(gx, _from_nchw(xt.grad.numpy()))


def test_avgpool_padding_counts_in_divisor():
    x = np.ones((4, 4, 1, 1))
    y = avgpool2d(x, (3, 3), (3, 3), ((1, 1), (1, 1)))
    # corner window holds 4 real ones and 5 padded zeros: 4/9 (not 4/4)
    assert y.shape == (2, 2, 1, 1)
    np.testing.assert_allclose(y[:, :, 0, 0], np.full((2, 2), 4.0 / 9.0))
    pytest.importorskip("torch", reason=TORCH_REASON)
    import torch

    yt = torch.nn.functional.avg_pool2d(torch.ones(1, 1, 4, 4, dtype=torch.float64), 3, 3, padding=1,
                                        count_include_pad=True)
    np.testing.assert_allclose(y[:, :, 0, 0], yt[0, 0].numpy())


def test_pooling_dtypes_float64():
    x = _rng(11).standard_normal((6, 6, 2, 2))
    for f in (maxpool2d, avgpool2d):
        assert f(x).dtype == np.float64
        assert grad(lambda x, f=f: np.sum(f(x) ** 2))(x).dtype == np.float64


# ---------------------------------------------------------------------------------- same padding

# (in, filter, stride, dilation) -> (before, after), worked out by hand from MATLAB's rule
SAME_TABLE = [
    (28, 5, 1, 1, (2, 2)),
    (28, 5, 2, 1, (1, 2)),   # out 14, total 13*2+5-28 = 3
    (28, 4, 1, 1, (1, 2)),   # even filter: extra goes after
    (7, 3, 2, 2, (2, 2)),    # out 4, total 3*2+(3-1)*2+1-7 = 4
    (5, 1, 1, 1, (0, 0)),
    (1, 3, 1, 1, (1, 1)),
    (10, 2, 3, 1, (0, 1)),   # out 4, total 9+2-10 = 1
    (6, 3, 4, 1, (0, 1)),    # out 2, total 4+3-6 = 1
    (3, 5, 5, 1, (1, 1)),    # out 1, total 0+5-3 = 2
    (8, 2, 2, 1, (0, 0)),    # out 4, total 6+2-8 = 0
    (9, 3, 2, 3, (3, 3)),    # out 5, total 8+7-9 = 6
    (12, 3, 5, 1, (0, 1)),   # out 3, total 10+3-12 = 1
]


@pytest.mark.parametrize("n, f, s, d, expected", SAME_TABLE)
def test_same_padding_table(n, f, s, d, expected):
    # symmetric and rectangular use
    assert same_padding((n, n), (f, f), (s, s), (d, d)) == (expected, expected)
    assert same_padding((n, 9), (f, 1), (s, 1), (d, 1)) == (expected, (0, 0))
    # cross-check with the formula written independently
    out = int(np.ceil(n / s))
    total = max((out - 1) * s + (f - 1) * d + 1 - n, 0)
    assert expected == (total // 2, total - total // 2)
    # and with the conv output size it produces: ceil(in / stride)
    x = np.zeros((n, 3, 1, 1))
    w = np.zeros((f, 1, 1, 1))
    y = conv2d(x, w, (s, 1), same_padding((n, 3), (f, 1), (s, 1), (d, 1)), (d, 1))
    assert y.shape[:2] == (out, 3)
    assert conv2d(x, w, (s, 1), "same", (d, 1)).shape == y.shape


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@pytest.mark.parametrize("f, d", [(3, 1), (4, 1), (5, 2), (2, 3)])
def test_same_padding_matches_torch_same_for_stride_one(f, d):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    rng = _rng(12)
    x = rng.standard_normal((9, 8, 2, 2))
    w = rng.standard_normal((f, f, 2, 3))
    y = conv2d(x, w, 1, "same", d)
    yt = torch.nn.functional.conv2d(torch.from_numpy(_to_nchw(x)), torch.from_numpy(_to_nchw(w)),
                                    padding="same", dilation=d)
    np.testing.assert_allclose(y, _from_nchw(yt.numpy()), rtol=1e-12, atol=1e-12)


def test_normalize_padding_forms():
    assert normalize_padding(2) == ((2, 2), (2, 2))
    assert normalize_padding((1, 3)) == ((1, 1), (3, 3))
    assert normalize_padding((1, 2, 3, 4)) == ((1, 2), (3, 4))  # MATLAB [t b l r]
    assert normalize_padding(((1, 2), (3, 4))) == ((1, 2), (3, 4))
    for bad in (-1, (1, 2, 3), 1.5, "valid", ((1, -2), (0, 0))):
        with pytest.raises(SpatialArgumentError):
            normalize_padding(bad)


# ------------------------------------------------------------------------------------ validation


def test_conv2d_errors_name_the_mistake():
    x = np.zeros((5, 6, 3, 2), dtype=np.float32)
    with pytest.raises(SpatialArgumentError, match=r"filter 8 x 3.*padded input 7 x 6"):
        conv2d(x, np.zeros((8, 3, 3, 4), np.float32), padding=((1, 1), (0, 0)))
    with pytest.raises(SpatialArgumentError, match=r"dilated by \(3, 1\) to 7 x 3"):
        conv2d(x, np.zeros((3, 3, 3, 4), np.float32), dilation=(3, 1))
    with pytest.raises(SpatialArgumentError, match=r"C=3 channels.*expect C=2"):
        conv2d(x, np.zeros((3, 3, 2, 4), np.float32))
    with pytest.raises(SpatialArgumentError, match=r"4-D.*3-D"):
        conv2d(x[..., 0], np.zeros((3, 3, 3, 4), np.float32))
    with pytest.raises(SpatialArgumentError, match=r"uint8.*astype"):
        conv2d(x.astype(np.uint8), np.zeros((3, 3, 3, 4), np.float32))
    with pytest.raises(SpatialArgumentError, match=r"stride must be a positive integer"):
        conv2d(x, np.zeros((3, 3, 3, 4), np.float32), stride=0)
    with pytest.raises(SpatialArgumentError, match=r"NumPy array"):
        conv2d(x.tolist(), np.zeros((3, 3, 3, 4), np.float32))


def test_pool_errors_name_the_mistake():
    x = np.zeros((4, 4, 1, 1))
    with pytest.raises(SpatialArgumentError, match=r"smaller than the pool size"):
        maxpool2d(x, (2, 2), (2, 2), ((2, 0), (0, 0)))
    with pytest.raises(SpatialArgumentError, match=r"pool window 5 x 2 is larger than the padded input 4 x 4"):
        avgpool2d(x, (5, 2))
    with pytest.raises(SpatialArgumentError, match=r"pool size"):
        maxpool2d(x, (2, 2, 2))
