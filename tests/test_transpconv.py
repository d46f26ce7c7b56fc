"""dltranspconv / conv2d_transpose and dlconv/maxpool/avgpool on unbatched "SSC" images.

References: PyTorch's conv_transpose2d (forward and gradients; MATLAB's h x w x F x C weights are
PyTorch's w.transpose(3, 2, 0, 1)), float64 finite differences (autograd's check_grads, second order too),
and the batched form for the unbatched one.
"""

import numpy as np
import pytest
from autograd.test_util import check_grads

from dlteach import (
    avgpool,
    dlarray,
    dlconv,
    dlfeval,
    dlgradient,
    dltranspconv,
    extractdata,
    maxpool,
)
from dlteach._spatial import SpatialArgumentError, conv2d, conv2d_transpose
from dlteach.errors import FormatError, SizeMismatchError

torch = pytest.importorskip("torch", reason="PyTorch is the reference implementation for these tests")
TF = torch.nn.functional

# x (H, W, C, N), (kh, kw, F), stride, cropping ((t, b), (l, r)), dilation
CASES = [
    ((4, 5, 3, 2), (3, 3, 2), (1, 1), ((0, 0), (0, 0)), (1, 1)),
    ((3, 4, 2, 3), (4, 4, 3), (2, 2), ((1, 1), (1, 1)), (1, 1)),
    ((5, 3, 1, 2), (3, 2, 4), (3, 2), ((2, 0), (0, 1)), (1, 1)),
    ((4, 4, 3, 1), (3, 3, 2), (2, 1), ((1, 2), (2, 1)), (2, 3)),
    ((2, 2, 4, 20), (5, 5, 3), (2, 2), ((1, 1), (2, 2)), (1, 1)),   # N >= 16: the batched im2col layout
]


def _nchw(a):
    return np.ascontiguousarray(a.transpose(3, 2, 0, 1))


def _torch_transpconv(x, w, b, stride, crop, dilation, gy):
    xt = torch.from_numpy(_nchw(x)).requires_grad_()
    wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1))).requires_grad_()   # (C, F, kh, kw)
    bt = torch.from_numpy(b).requires_grad_()
    full = TF.conv_transpose2d(xt, wt, bt, stride=stride, dilation=dilation)
    (t, bo), (l, r) = crop
    y = full[:, :, t: full.shape[2] - bo, l: full.shape[3] - r]          # asymmetric cropping by slicing
    y.backward(torch.from_numpy(_nchw(gy)))
    back = lambda a: a.detach().numpy().transpose(2, 3, 1, 0)
    return back(y), back(xt.grad), wt.grad.numpy().transpose(2, 3, 1, 0), bt.grad.numpy()


@pytest.mark.parametrize("xs, ks, stride, crop, dilation", CASES)
def test_dltranspconv_forward_and_gradients_match_torch(xs, ks, stride, crop, dilation):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ks[:2] + (ks[2], xs[2])).astype(np.float32)
    b = rng.standard_normal(ks[2]).astype(np.float32)
    crop4 = [crop[0][0], crop[0][1], crop[1][0], crop[1][1]]
    Y = dltranspconv(dlarray(x, "SSCB"), w, b, Stride=stride, Cropping=crop4, DilationFactor=dilation)
    gy = rng.standard_normal(Y.shape).astype(np.float32)
    y_ref, gx_ref, gw_ref, gb_ref = _torch_transpconv(x, w, b, stride, crop, dilation, gy)
    assert dims_of(Y) == "SSCB" and extractdata(Y).dtype == np.float32
    np.testing.assert_allclose(extractdata(Y), y_ref, rtol=1e-4, atol=1e-4)

    def loss(X, W, B):
        Z = dltranspconv(X, W, B, Stride=stride, Cropping=crop4, DilationFactor=dilation)
        L = (Z * gy).sum()
        return dlgradient(L, X, W, B)

    gx, gw, gb = dlfeval(loss, dlarray(x, "SSCB"), dlarray(w), dlarray(b))
    for ours, ref in ((gx, gx_ref), (gw, gw_ref), (gb, gb_ref)):
        assert extractdata(ours).dtype == np.float32
        np.testing.assert_allclose(extractdata(ours).reshape(ref.shape), ref, rtol=1e-4, atol=1e-3)


def dims_of(Y):
    from dlteach import dims
    return dims(Y)


def test_transposed_convolution_is_the_adjoint_of_convolution():
    """<conv2d(u, w), v> = <u, conv2d_transpose(v, w)> with the same stride / padding = cropping."""
    rng = np.random.default_rng(2)
    u = rng.standard_normal((8, 9, 3, 2))                          # sizes where conv drops no row/column
    w = rng.standard_normal((3, 4, 3, 5))                         # conv: C=3 -> F=5
    pad = ((1, 2), (0, 1))
    y = conv2d(u, w, stride=(2, 3), padding=pad)
    v = rng.standard_normal(y.shape)
    back = conv2d_transpose(v, w, stride=(2, 3), cropping=pad)    # weights h x w x F(=3 out) x C(=5 in)
    assert back.shape == u.shape
    np.testing.assert_allclose(np.sum(y * v), np.sum(u * back), rtol=1e-10)


def test_second_order_gradients_by_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 3, 2, 2))
    w = rng.standard_normal((3, 3, 2, 2))
    f = lambda x, w: np.sum(conv2d_transpose(x, w, stride=(2, 1), cropping=((1, 0), (0, 1))) ** 2)
    check_grads(f, modes=["rev"], order=2)(x, w)


def test_cropping_same_gives_stride_times_input_and_matches_torch_padding():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 6, 3, 2)).astype(np.float32)
    w = rng.standard_normal((4, 4, 2, 3)).astype(np.float32)
    b = np.zeros(2, np.float32)
    Y = dltranspconv(dlarray(x, "SSCB"), w, b, Stride=2, Cropping="same")
    assert Y.shape == (10, 12, 2, 2)
    # total crop 4 - 2 = 2: one row/column each side = PyTorch's padding=1
    ref = TF.conv_transpose2d(torch.from_numpy(_nchw(x)), torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1))),
                              stride=2, padding=1).numpy().transpose(2, 3, 1, 0)
    np.testing.assert_allclose(extractdata(Y), ref, rtol=1e-5, atol=1e-5)
    # odd total (3 - 2 = 1): the extra row goes to the bottom / right
    w3 = rng.standard_normal((3, 3, 2, 3)).astype(np.float32)
    Y3 = dltranspconv(dlarray(x, "SSCB"), w3, b, Stride=2, Cropping="same")
    full = dltranspconv(dlarray(x, "SSCB"), w3, b, Stride=2)
    assert Y3.shape == (10, 12, 2, 2)
    np.testing.assert_array_equal(extractdata(Y3), extractdata(full)[:10, :12])


def test_dltranspconv_errors_teach():
    x = dlarray(np.zeros((4, 4, 3, 1), np.float32), "SSCB")
    with pytest.raises(SizeMismatchError, match="swap dimensions 3 and 4"):
        dltranspconv(x, np.zeros((3, 3, 3, 2), np.float32), np.zeros(2))     # dlconv's order h x w x C x F
    with pytest.raises(SpatialArgumentError, match="at least as large as the stride"):
        dltranspconv(x, np.zeros((1, 1, 2, 3), np.float32), 0, Stride=2, Cropping="same")
    with pytest.raises(SpatialArgumentError, match="removes the whole output"):
        dltranspconv(x, np.zeros((1, 1, 2, 3), np.float32), 0, Cropping=3)
    with pytest.raises(FormatError, match="SSCB"):
        dltranspconv(dlarray(np.zeros((4, 3), np.float32), "CB"), np.zeros((1, 1, 2, 4)), 0)


# -- unbatched "SSC" -------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["dlconv", "dltranspconv", "maxpool", "avgpool"])
def test_unbatched_ssc_equals_the_batched_form_with_one_observation(op):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((7, 6, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    fun = {
        "dlconv": lambda X: dlconv(X, w, b, Stride=2, Padding="same"),
        "dltranspconv": lambda X: dltranspconv(X, w.transpose(0, 1, 3, 2), b, Stride=2, Cropping=1),
        "maxpool": lambda X: maxpool(X, 2, Stride=2),
        "avgpool": lambda X: avgpool(X, [3, 2], Stride=1, Padding=1),
    }[op]
    Y = fun(dlarray(x, "SSC"))
    Yb = fun(dlarray(x[..., None], "SSCB"))
    assert dims_of(Y) == "SSC" and extractdata(Y).dtype == np.float32
    np.testing.assert_array_equal(extractdata(Y), extractdata(Yb)[..., 0])

    def grad_of(X):
        return dlgradient(fun(X).sum(), X)

    g = dlfeval(grad_of, dlarray(x, "SSC"))
    gb = dlfeval(grad_of, dlarray(x[..., None], "SSCB"))
    assert g.shape == x.shape
    np.testing.assert_allclose(extractdata(g), extractdata(gb)[..., 0], rtol=1e-6)


def test_unbatched_with_dataformat_returns_unformatted():
    x = np.ones((4, 4, 1), np.float32)
    Y = maxpool(x, 2, Stride=2, DataFormat="SSC")
    assert type(Y) is dlarray and Y.shape == (2, 2, 1) and dims_of(Y) == ""
