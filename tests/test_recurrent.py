"""lstm / gru (fused primitives with hand-written backpropagation through time) and padsequences.

Oracles: PyTorch's nn.LSTM / nn.GRU (forward values and every gradient, float32), central finite
differences in float64, and a plain NumPy step-by-step reference written from the equations in
dlteach/recurrent.py's docstring (the reset-gate mode PyTorch does not have).

Gate-order mapping (documented in dlteach/recurrent.py): MATLAB's LSTM rows [i; f; g; o] are
PyTorch's (i, f, g, o); MATLAB's GRU rows [r; z; h~] are PyTorch's (r, z, n). MATLAB has one bias,
PyTorch two: bias_ih = bias, bias_hh = 0 (GRU "recurrent-bias-after-multiplication": bias_hh = the
second half of the 6H bias).
"""

import numpy as np
import pytest
from finite_differences import numeric_grad

from dlteach import dlarray, dlfeval, dlgradient, extractdata
from dlteach.errors import FormatError, SizeMismatchError
from dlteach.recurrent import RecurrentArgumentError, gru, lstm, padsequences

torch = pytest.importorskip("torch", reason="PyTorch oracle tests need the test extra")


def _data(rng, C, B, T, H, gates, dtype=np.float32, bias_rows=None):
    bias_rows = bias_rows or gates
    x = rng.standard_normal((C, B, T)).astype(dtype)
    W = (rng.standard_normal((gates * H, C)) * 0.4).astype(dtype)
    R = (rng.standard_normal((gates * H, H)) * 0.4).astype(dtype)
    b = (rng.standard_normal((bias_rows * H, 1)) * 0.4).astype(dtype)
    h0 = rng.standard_normal((H, B)).astype(dtype)
    c0 = rng.standard_normal((H, B)).astype(dtype)
    return x, W, R, b, h0, c0


def _np(v):
    return extractdata(v) if isinstance(v, dlarray) else np.asarray(v)


def _close32(ours, ref, name):
    ours = _np(ours)
    assert ours.dtype == np.float32, f"{name} is {ours.dtype}"
    scale = max(float(np.abs(ref).max()), 1e-3)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=3e-6 * scale, err_msg=name)


def _torch_seq(x):  # (C, B, T) -> (T, B, C)
    return torch.tensor(np.ascontiguousarray(x.transpose(2, 1, 0)), requires_grad=True)


def _torch_state(s):  # (H, B) -> (1, B, H)
    return torch.tensor(np.ascontiguousarray(s.T[None]), requires_grad=True)


# ------------------------------------------------------------------------------------------- LSTM

def test_lstm_matches_torch_values_and_all_gradients(rng):
    C, B, T, H = 5, 4, 7, 6
    x, W, R, b, h0, c0 = _data(rng, C, B, T, H, 4)
    gY = rng.standard_normal((H, B, T)).astype(np.float32)
    gh = rng.standard_normal((H, B)).astype(np.float32)
    gc = rng.standard_normal((H, B)).astype(np.float32)

    def loss_fn(x, h0, c0, W, R, b):
        Y, h, c = lstm(x, h0, c0, W, R, b, return_state=True)
        loss = np.sum(Y * gY) + np.sum(h * gh) + np.sum(c * gc)
        return loss, Y, h, c, dlgradient(loss, x, h0, c0, W, R, b)

    _, Y, h, c, grads = dlfeval(loss_fn, dlarray(x, "CBT"), h0, c0, W, R, b)
    assert Y.fmt == "CBT" and h.fmt == "CB" and c.fmt == "CB"

    m = torch.nn.LSTM(C, H)
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.tensor(W))
        m.weight_hh_l0.copy_(torch.tensor(R))
        m.bias_ih_l0.copy_(torch.tensor(b[:, 0]))
        m.bias_hh_l0.zero_()
    xt, h0t, c0t = _torch_seq(x), _torch_state(h0), _torch_state(c0)
    Yt, (ht, ct) = m(xt, (h0t, c0t))
    L = ((Yt * torch.tensor(gY.transpose(2, 1, 0))).sum() + (ht[0] * torch.tensor(gh.T)).sum()
         + (ct[0] * torch.tensor(gc.T)).sum())
    L.backward()
    _close32(Y, Yt.detach().numpy().transpose(2, 1, 0), "Y")
    _close32(h, ht.detach().numpy()[0].T, "hiddenState")
    _close32(c, ct.detach().numpy()[0].T, "cellState")
    refs = [xt.grad.numpy().transpose(2, 1, 0), h0t.grad.numpy()[0].T, c0t.grad.numpy()[0].T,
            m.weight_ih_l0.grad.numpy(), m.weight_hh_l0.grad.numpy(), m.bias_ih_l0.grad.numpy()[:, None]]
    for name, g, r in zip(["dX", "dH0", "dC0", "dW", "dR", "db"], grads, refs):
        _close32(g, r, name)


def _lstm_ref(x, h0, c0, W, R, b):
    """Step-by-step NumPy LSTM from the documented equations (gate rows i, f, g, o)."""
    H = R.shape[1]
    h, c = h0, c0
    sig = lambda v: 1 / (1 + np.exp(-v))
    ys = []
    for t in range(x.shape[2]):
        z = W @ x[:, :, t] + R @ h + b
        i, f, g, o = sig(z[:H]), sig(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), sig(z[3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        ys.append(h)
    return np.stack(ys, axis=2), h, c


def test_lstm_float64_gradients_match_finite_differences(rng):
    C, B, T, H = 3, 2, 4, 3
    x, W, R, b, h0, c0 = _data(rng, C, B, T, H, 4, dtype=np.float64)
    gY = rng.standard_normal((H, B, T))

    def scalar(W_, R_):
        return float(np.sum(_lstm_ref(x, h0, c0, W_, R_, b)[0] * gY))

    def loss_fn(W, R):
        loss = np.sum(lstm(dlarray(x, "CBT"), h0, c0, W, R, b) * gY)
        return dlgradient(loss, W, R)

    gW, gR = dlfeval(loss_fn, W, R)
    assert gW.dtype == np.float64
    np.testing.assert_allclose(gW, numeric_grad(lambda v: scalar(v, R), W), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gR, numeric_grad(lambda v: scalar(W, v), R), rtol=1e-6, atol=1e-8)
    Y = lstm(dlarray(x, "CBT"), h0, c0, W, R, b)
    np.testing.assert_allclose(extractdata(Y), _lstm_ref(x, h0, c0, W, R, b)[0], rtol=1e-12, atol=1e-12)


def test_lstm_initial_state_column_broadcasts_and_its_gradient_sums(rng):
    C, B, T, H = 2, 3, 5, 4
    x, W, R, b, _, _ = _data(rng, C, B, T, H, 4)
    h0 = np.zeros((H, 1), np.float32)
    c0 = rng.standard_normal(H).astype(np.float32)  # a vector is H x 1

    def loss_fn(h0, c0):
        loss = np.sum(lstm(dlarray(x, "CBT"), h0, c0, W, R, b))
        return dlgradient(loss, h0, c0)

    g0, gc0 = dlfeval(loss_fn, h0, c0)
    assert g0.shape == (H, 1) and gc0.shape == (H,)
    full = np.repeat(h0, B, axis=1)
    cfull = np.repeat(c0[:, None], B, axis=1)
    gfull, gcfull = dlfeval(loss_fn, full, cfull)
    np.testing.assert_allclose(g0[:, 0], gfull.sum(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gc0, gcfull.sum(axis=1), rtol=1e-5, atol=1e-6)


def test_lstm_formats_without_batch_or_time_and_with_spatial_dims(rng):
    C, T, H = 3, 6, 2
    x, W, R, b, _, _ = _data(rng, C, 1, T, H, 4)
    h0 = np.zeros((H, 1), np.float32)
    full = lstm(dlarray(x, "CBT"), h0, h0, W, R, b)
    ct = lstm(dlarray(x[:, 0, :], "CT"), h0, h0, W, R, b)
    assert ct.fmt == "CT" and ct.shape == (H, T)
    np.testing.assert_allclose(extractdata(ct), extractdata(full)[:, 0, :])
    cb = lstm(dlarray(x[:, :, 0], "CB"), h0, h0, W, R, b)
    assert cb.fmt == "CB"
    np.testing.assert_allclose(extractdata(cb), extractdata(full)[:, :, 0])
    # unformatted input with DataFormat -> unformatted output; "TCB" data is permuted first
    un = lstm(x.transpose(2, 0, 1), h0, h0, W, R, b, DataFormat="TCB")
    assert un.fmt == "" and un.shape == (H, 1, T)
    np.testing.assert_allclose(extractdata(un), extractdata(full))
    # S dimensions are flattened into the channels (row-major, as fullyconnect)
    xs = rng.standard_normal((2, 3, 1, 1, T)).astype(np.float32)  # S x S x C x B x T
    Ws = (rng.standard_normal((4 * H, 6)) * 0.3).astype(np.float32)
    ys = lstm(dlarray(xs, "SSCBT"), h0, h0, Ws, R, b)
    yf = lstm(dlarray(xs.reshape(6, 1, T), "CBT"), h0, h0, Ws, R, b)
    assert ys.fmt == "CBT"
    np.testing.assert_allclose(extractdata(ys), extractdata(yf))


def test_lstm_single_wins_and_no_trace_outside_dlfeval(rng):
    C, B, T, H = 2, 2, 3, 2
    x, W, R, b, h0, c0 = _data(rng, C, B, T, H, 4)
    Y = lstm(dlarray(x.astype(np.float64), "CBT"), h0, c0, W, R, b)
    assert Y.dtype == np.float32
    Y = lstm(dlarray(x, "CBT"), h0.astype(np.float64), c0, W.astype(np.float64), R, b)
    assert Y.dtype == np.float32
    Y64 = lstm(dlarray(x.astype(np.float64), "CBT"), h0.astype(np.float64), c0.astype(np.float64),
               W.astype(np.float64), R.astype(np.float64), b.astype(np.float64))
    assert Y64.dtype == np.float64


def test_lstm_teaching_errors(rng):
    C, B, T, H = 2, 2, 3, 2
    x, W, R, b, h0, c0 = _data(rng, C, B, T, H, 4)
    X = dlarray(x, "CBT")
    with pytest.raises(SizeMismatchError, match="4\\*NumHiddenUnits x InputSize = 8x2"):
        lstm(X, h0, c0, W[:, :1], R, b)
    with pytest.raises(SizeMismatchError, match="recurrentWeights must be 4\\*NumHiddenUnits"):
        lstm(X, h0, c0, W, R[:5], b)
    with pytest.raises(SizeMismatchError, match="bias must have 4\\*NumHiddenUnits = 8"):
        lstm(X, h0, c0, W, R, b[:4])
    with pytest.raises(SizeMismatchError, match="initial hidden state"):
        lstm(X, np.zeros((3, 1), np.float32), c0, W, R, b)
    with pytest.raises(FormatError, match="DataFormat"):
        lstm(x, h0, c0, W, R, b)
    with pytest.raises(RecurrentArgumentError, match="forgot `return`"):
        lstm(None, h0, c0, W, R, b)
    with pytest.raises(RecurrentArgumentError, match="StateActivationFunction='tanh'"):
        lstm(X, h0, c0, W, R, b, StateActivationFunction="softsign")



@pytest.mark.parametrize("op", ["lstm", "gru-after", "gru-before", "gru-rbam"])
def test_second_derivatives_gradient_penalty_match_finite_differences(rng, op):
    """EnableHigherDerivatives=True: d/dW sum((dL/dW)^2) against finite differences of the first-order gradient."""
    C, B, T, H = 2, 2, 3, 2
    gates = 4 if op == "lstm" else 3
    mode = {"gru-after": "after-multiplication", "gru-before": "before-multiplication",
            "gru-rbam": "recurrent-bias-after-multiplication"}.get(op)
    x, W, R, b, h0, c0 = _data(rng, C, B, T, H, gates, dtype=np.float64,
                               bias_rows=6 if op == "gru-rbam" else gates)
    gY = rng.standard_normal((H, B, T))
    X = dlarray(x, "CBT")

    def run(W, R):
        if op == "lstm":
            return lstm(X, h0, c0, W, R, b)
        return gru(X, h0, W, R, b, ResetGateMode=mode)

    def first(W, R):
        return dlgradient(np.sum(run(W, R) * gY), W)

    def penalty(W, R):
        gW = dlgradient(np.sum(run(W, R) * gY), W, EnableHigherDerivatives=True)
        loss = np.sum(gW * gW)
        return gW, dlgradient(loss, W, R)

    gW_traced, (dW, dR) = dlfeval(penalty, W, R)
    np.testing.assert_allclose(gW_traced, dlfeval(first, W, R), rtol=1e-10, atol=1e-12)  # same first derivative

    def scalar(Wv, Rv):
        g = dlfeval(first, Wv, Rv)
        return float(np.sum(g * g))

    np.testing.assert_allclose(dW, numeric_grad(lambda v: scalar(v, R), W), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dR, numeric_grad(lambda v: scalar(W, v), R), rtol=1e-5, atol=1e-7)


# -------------------------------------------------------------------------------------------- GRU

@pytest.mark.parametrize("mode", ["after-multiplication", "recurrent-bias-after-multiplication"])
def test_gru_matches_torch(rng, mode):
    C, B, T, H = 4, 3, 6, 5
    rows = 6 if mode.startswith("recurrent") else 3
    x, W, R, b, h0, _ = _data(rng, C, B, T, H, 3, bias_rows=rows)
    gY = rng.standard_normal((H, B, T)).astype(np.float32)
    gh = rng.standard_normal((H, B)).astype(np.float32)

    def loss_fn(x, h0, W, R, b):
        Y, h = gru(x, h0, W, R, b, ResetGateMode=mode, return_state=True)
        loss = np.sum(Y * gY) + np.sum(h * gh)
        return Y, h, dlgradient(loss, x, h0, W, R, b)

    Y, h, grads = dlfeval(loss_fn, dlarray(x, "CBT"), h0, W, R, b)
    m = torch.nn.GRU(C, H)
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.tensor(W))
        m.weight_hh_l0.copy_(torch.tensor(R))
        m.bias_ih_l0.copy_(torch.tensor(b[:3 * H, 0]))
        if rows == 6:
            m.bias_hh_l0.copy_(torch.tensor(b[3 * H:, 0]))
        else:
            m.bias_hh_l0.zero_()
    xt, h0t = _torch_seq(x), _torch_state(h0)
    Yt, ht = m(xt, h0t)
    ((Yt * torch.tensor(gY.transpose(2, 1, 0))).sum() + (ht[0] * torch.tensor(gh.T)).sum()).backward()
    _close32(Y, Yt.detach().numpy().transpose(2, 1, 0), "Y")
    _close32(h, ht.detach().numpy()[0].T, "hiddenState")
    gb_ref = m.bias_ih_l0.grad.numpy()
    if rows == 6:
        gb_ref = np.concatenate([gb_ref, m.bias_hh_l0.grad.numpy()])
    refs = [xt.grad.numpy().transpose(2, 1, 0), h0t.grad.numpy()[0].T, m.weight_ih_l0.grad.numpy(),
            m.weight_hh_l0.grad.numpy(), gb_ref[:, None]]
    for name, g, r in zip(["dX", "dH0", "dW", "dR", "db"], grads, refs):
        _close32(g, r, name)


def _gru_before_ref(x, h0, W, R, b):
    H = R.shape[1]
    sig = lambda v: 1 / (1 + np.exp(-v))
    h = h0
    ys = []
    for t in range(x.shape[2]):
        xp = W @ x[:, :, t] + b
        r = sig(xp[:H] + R[:H] @ h)
        z = sig(xp[H:2 * H] + R[H:2 * H] @ h)
        n = np.tanh(xp[2 * H:] + R[2 * H:] @ (r * h))
        h = (1 - z) * n + z * h
        ys.append(h)
    return np.stack(ys, axis=2)


def test_gru_before_multiplication_against_reference_and_finite_differences(rng):
    C, B, T, H = 3, 2, 4, 3
    x, W, R, b, h0, _ = _data(rng, C, B, T, H, 3, dtype=np.float64)
    gY = rng.standard_normal((H, B, T))
    Y = gru(dlarray(x, "CBT"), h0, W, R, b, ResetGateMode="before-multiplication")
    np.testing.assert_allclose(extractdata(Y), _gru_before_ref(x, h0, W, R, b), rtol=1e-12, atol=1e-12)
    after = gru(dlarray(x, "CBT"), h0, W, R, b)
    assert not np.allclose(extractdata(after), extractdata(Y))  # the two modes really differ

    def loss_fn(x, h0, W, R, b):
        loss = np.sum(gru(x, h0, W, R, b, ResetGateMode="before-multiplication") * gY)
        return dlgradient(loss, x, h0, W, R, b)

    grads = dlfeval(loss_fn, dlarray(x, "CBT"), h0, W, R, b)
    args = [x, h0, W, R, b]
    for k, name in enumerate(["x", "h0", "W", "R", "b"]):
        def scalar(v, k=k):
            a = list(args)
            a[k] = v
            return float(np.sum(_gru_before_ref(*a) * gY))
        np.testing.assert_allclose(_np(grads[k]), numeric_grad(scalar, args[k]), rtol=1e-6, atol=1e-8,
                                   err_msg=name)


def test_gru_teaching_errors(rng):
    x, W, R, b, h0, _ = _data(rng, 2, 2, 3, 2, 3)
    X = dlarray(x, "CBT")
    with pytest.raises(RecurrentArgumentError, match="ResetGateMode"):
        gru(X, h0, W, R, b, ResetGateMode="after")
    with pytest.raises(SizeMismatchError, match="6\\*NumHiddenUnits = 12"):
        gru(X, h0, W, R, b, ResetGateMode="recurrent-bias-after-multiplication")
    with pytest.raises(SizeMismatchError, match="3\\*NumHiddenUnits x InputSize"):
        gru(X, h0, W[:, :1], R, b)


# ------------------------------------------------------------------------------------ padsequences

def test_padsequences_right_left_and_mask():
    s1 = np.arange(6, dtype=np.float32).reshape(2, 3)       # C=2 x T=3
    s2 = 10 + np.arange(10, dtype=np.float32).reshape(2, 5)  # T=5
    XPad, mask = padsequences([s1, s2], 2, return_mask=True)
    assert XPad.shape == (2, 5, 2) and XPad.dtype == np.float32 and mask.dtype == bool
    np.testing.assert_array_equal(XPad[:, :3, 0], s1)
    np.testing.assert_array_equal(XPad[:, 3:, 0], 0)
    np.testing.assert_array_equal(XPad[:, :, 1], s2)
    np.testing.assert_array_equal(mask[:, :, 0], [[1, 1, 1, 0, 0]] * 2)
    assert mask[:, :, 1].all()
    left = padsequences([s1, s2], 2, Direction="left", PaddingValue=-1)
    np.testing.assert_array_equal(left[:, 2:, 0], s1)
    np.testing.assert_array_equal(left[:, :2, 0], -1)


def test_padsequences_length_truncates_and_nonuniform_output():
    s1 = np.arange(3.0).reshape(3, 1)  # T x C with paddingDim 1
    s2 = np.arange(5.0).reshape(5, 1)
    short = padsequences([s1, s2], 1, Length="shortest")
    assert short.shape == (3, 1, 2)
    np.testing.assert_array_equal(short[:, 0, 1], [0, 1, 2])
    short_left = padsequences([s1, s2], 1, Length="shortest", Direction="left")
    np.testing.assert_array_equal(short_left[:, 0, 1], [2, 3, 4])
    four, mask = padsequences([s1, s2], 1, Length=4, UniformOutput=False, return_mask=True)
    assert isinstance(four, list) and [a.shape for a in four] == [(4, 1), (4, 1)]
    np.testing.assert_array_equal(mask[0][:, 0], [1, 1, 1, 0])


def test_padsequences_errors():
    with pytest.raises(SizeMismatchError, match="other than paddingDim"):
        padsequences([np.zeros((2, 3)), np.zeros((3, 4))], 2)
    with pytest.raises(RecurrentArgumentError, match="counted from 1"):
        padsequences([np.zeros((2, 3))], 0)
    with pytest.raises(RecurrentArgumentError, match="Direction"):
        padsequences([np.zeros((2, 3))], 2, Direction="both")
    with pytest.raises(RecurrentArgumentError, match="None"):
        padsequences(None, 2)
