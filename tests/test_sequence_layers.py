"""sequenceInputLayer, lstmLayer, gruLayer in a dlnetwork; resetState.

References: the model-function ops (dlteach.recurrent.lstm / gru, themselves checked against PyTorch in
test_recurrent.py) with the network's own parameters; the initializers' definitions (glorot bound,
orthogonality, unit forget gate); MATLAB's parameter shapes.
"""

import os

import numpy as np
import pytest

from dlteach import (
    adamupdate,
    dlarray,
    dlfeval,
    dlgradient,
    dlnetwork,
    extractdata,
    forward,
    fullyconnect,
    fullyConnectedLayer,
    gru,
    gruLayer,
    load,
    lstm,
    lstmLayer,
    predict,
    resetState,
    save,
    sequenceInputLayer,
    softmax,
    softmaxLayer,
)
from dlteach.errors import NetworkError


def _net(mode="last", H=6, C=3, seed=0):
    np.random.seed(seed)
    return dlnetwork([sequenceInputLayer(C), lstmLayer(H, OutputMode=mode), fullyConnectedLayer(4), softmaxLayer()])


def _params(net):
    return {(r[0], r[1]): r[2] for r in zip(net.Learnables.Layer, net.Learnables.Parameter, net.Learnables.Value)}


def test_shapes_names_and_initializers():
    net = _net(H=5, C=3)
    p = _params(net)
    assert list(net.Learnables.Parameter[:3]) == ["InputWeights", "RecurrentWeights", "Bias"]
    assert list(net.State.Parameter) == ["HiddenState", "CellState"]
    W, R, b = (extractdata(p[("lstm", k)]) for k in ("InputWeights", "RecurrentWeights", "Bias"))
    assert W.shape == (20, 3) and R.shape == (20, 5) and b.shape == (20, 1) and W.dtype == np.float32
    assert np.abs(W).max() <= np.sqrt(6 / (3 + 20)) + 1e-7  # glorot: numIn = C, numOut = 4H
    np.testing.assert_allclose(R.T @ R, np.eye(5), atol=1e-5)  # orthogonal columns
    np.testing.assert_array_equal(b.ravel(), [0] * 5 + [1] * 5 + [0] * 10)  # unit forget gate (rows i f g o)
    assert all(extractdata(v).shape == (5, 1) and not extractdata(v).any() for v in net.State.Value)
    g = dlnetwork([sequenceInputLayer(3), gruLayer(4)])
    assert [extractdata(v).shape for v in g.Learnables.Value] == [(12, 3), (12, 4), (12, 1)]
    assert not extractdata(g.Learnables.Value[2]).any()
    g6 = dlnetwork([sequenceInputLayer(3), gruLayer(4, ResetGateMode="recurrent-bias-after-multiplication")])
    assert extractdata(g6.Learnables.Value[2]).shape == (24, 1)


def test_forward_equals_model_function_and_gradients_match():
    net = _net(mode="last")
    p = _params(net)
    rng = np.random.default_rng(0)
    X = dlarray(rng.standard_normal((3, 5, 7)).astype(np.float32), "CBT")
    T = dlarray(np.eye(4, dtype=np.float32)[:, rng.integers(0, 4, 5)], "CB")
    H0 = np.zeros((6, 1), np.float32)

    def model(pp, X):
        _, h, _ = lstm(X, H0, H0, pp["W"], pp["R"], pp["b"], return_state=True)
        return softmax(fullyconnect(h, pp["fW"], pp["fb"]))

    pp = {"W": p[("lstm", "InputWeights")], "R": p[("lstm", "RecurrentWeights")], "b": p[("lstm", "Bias")],
          "fW": p[("fc", "Weights")], "fb": p[("fc", "Bias")]}
    Y = forward(net, X)
    assert Y.fmt == "CB"
    np.testing.assert_allclose(extractdata(Y), extractdata(model(pp, X)), rtol=1e-6)

    def loss_net(net, X, T):
        loss = -np.sum(T * np.log(forward(net, X))) / 5
        return dlgradient(loss, net.Learnables)

    def loss_fn(pp, X, T):
        loss = -np.sum(T * np.log(model(pp, X))) / 5
        return dlgradient(loss, pp)

    gnet = dlfeval(loss_net, net, X, T)
    gfn = dlfeval(loss_fn, pp, X, T)
    for (layer, param), key in [(("lstm", "InputWeights"), "W"), (("lstm", "RecurrentWeights"), "R"),
                                (("lstm", "Bias"), "b"), (("fc", "Weights"), "fW")]:
        got = dict(zip(zip(gnet.Layer, gnet.Parameter), gnet.Value))[(layer, param)]
        np.testing.assert_allclose(extractdata(got), extractdata(gfn[key]), rtol=1e-5, atol=1e-7)
    net2, _, _ = adamupdate(net, gnet, None, None, 1)  # the network syntax (learn-rate factors) works
    assert not np.array_equal(extractdata(net2.Learnables.Value[0]), extractdata(net.Learnables.Value[0]))


def test_output_modes_state_and_reset_state():
    rng = np.random.default_rng(1)
    X = dlarray(rng.standard_normal((3, 4, 6)).astype(np.float32), "CBT")
    seq = dlnetwork([sequenceInputLayer(3), gruLayer(5)])
    Y, state = forward(seq, X, return_state=True)
    assert Y.fmt == "CBT" and Y.shape == (5, 4, 6)
    np.testing.assert_allclose(extractdata(state.Value[0]), extractdata(Y)[:, :, -1])  # h_T of every sequence
    net = _net(mode="last")
    _, st = forward(net, X, return_state=True)
    net.State = st  # H x B state accepted
    assert extractdata(net.State.Value[0]).shape == (6, 4)
    with pytest.raises(NetworkError, match="resetState"):
        predict(net, X[:, :2])
    fresh = resetState(net)
    assert extractdata(fresh.State.Value[0]).shape == (6, 1)
    np.testing.assert_allclose(extractdata(predict(fresh, X)), extractdata(predict(_net(mode="last"), X)), rtol=1e-6)
    # the stored state IS the initial state of the next call
    carried = extractdata(predict(net, X))
    assert not np.allclose(carried, extractdata(predict(fresh, X)))


def test_input_layer_errors_and_unformatted_input():
    net = _net()
    x = np.zeros((3, 2, 5), np.float32)
    assert predict(net, x).shape == (4, 2)  # unformatted 3-D data is read as C x B x T
    with pytest.raises(NetworkError, match="'TCB'"):
        predict(net, dlarray(np.zeros((5, 3, 2), np.float32).transpose(1, 0, 2)[:2], "CBT"))
    with pytest.raises(NetworkError, match="'CBT'"):
        predict(net, dlarray(x, "SSC"))
    with pytest.raises(NetworkError, match="positive integer"):
        sequenceInputLayer([28, 28, 1])
    with pytest.raises(NetworkError, match="OutputMode"):
        lstmLayer(4, OutputMode="all")
    with pytest.raises(NetworkError, match="forget gate"):
        dlnetwork([sequenceInputLayer(3), gruLayer(4, BiasInitializer="unit-forget-gate")])


def test_save_load_round_trip(tmp_path):
    np.random.seed(2)
    net = dlnetwork([sequenceInputLayer(3), gruLayer(5, ResetGateMode="before-multiplication"),
                     lstmLayer(4, OutputMode="last", Name="L"), fullyConnectedLayer(2)])
    X = dlarray(np.random.default_rng(3).standard_normal((3, 2, 6)).astype(np.float32), "CBT")
    path = save(os.path.join(tmp_path, "seq.npz"), net)
    back = load(path)
    np.testing.assert_array_equal(extractdata(predict(back, X)), extractdata(predict(net, X)))
    assert back.Layers[1].ResetGateMode == "before-multiplication" and back.Layers[2].OutputMode == "last"
    Y = gru(X, np.zeros((5, 1), np.float32), *net.Learnables.Value[:3], ResetGateMode="before-multiplication")
    np.testing.assert_allclose(extractdata(forward(net, X, Outputs="gru")), extractdata(Y), rtol=1e-6)
