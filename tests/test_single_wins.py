"""MATLAB's single-wins rule over every op, layer and loss: float32 anywhere -> float32 everywhere.

Property: float32 learnables with float64 data (NumPy's default, e.g. np.random.rand) give float32
activations, a float32 loss and float32 gradients - for every operation of dlteach.ops, every layer of
a dlnetwork and every loss. Reference: the dtype MATLAB documents for mixed single/double operands.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlteach as dt
from dlteach import dlarray, dlfeval, dlgradient

F32 = np.float32


def _img(rng, n=2, c=2, h=6):
    return dlarray(rng.random((h, h, c, n)), "SSCB")  # float64 data


def _feat(rng, c=3, n=4):
    return dlarray(rng.random((c, n)), "CB")


# op name -> (make float32 parameters, apply(X, params) -> Y, make float64 data)
OPS = {
    "fullyconnect": (lambda r: {"W": r.random((5, 3)).astype(F32), "b": np.zeros((5, 1), F32)},
                     lambda X, p: dt.fullyconnect(X, p["W"], p["b"]), _feat),
    "fullyconnect_images": (lambda r: {"W": r.random((4, 72)).astype(F32), "b": np.zeros(4, F32)},
                            lambda X, p: dt.fullyconnect(X, p["W"], p["b"]), _img),
    "dlconv": (lambda r: {"W": r.random((3, 3, 2, 4)).astype(F32), "b": np.zeros(4, F32)},
               lambda X, p: dt.dlconv(X, p["W"], p["b"], Padding="same"), _img),
    "batchnorm_batch": (lambda r: {"o": np.zeros(2, F32), "s": np.ones(2, F32)},
                        lambda X, p: dt.batchnorm(X, p["o"], p["s"])[0], _img),
    "batchnorm_train": (lambda r: {"o": np.zeros(2, F32), "s": np.ones(2, F32)},
                        lambda X, p: dt.batchnorm(X, p["o"], p["s"], np.zeros(2), np.ones(2), training=True)[0], _img),
    "batchnorm_infer": (lambda r: {"o": np.zeros(2, F32), "s": np.ones(2, F32)},
                        lambda X, p: dt.batchnorm(X, p["o"], p["s"], np.zeros(2), np.ones(2), training=False), _img),
    # one-input ops: the float32 operand is a scale parameter multiplied in (as a model function would)
    "relu": (lambda r: {"a": np.ones(1, F32)}, lambda X, p: dt.relu(X * p["a"]), _feat),
    "leakyrelu": (lambda r: {"a": np.ones(1, F32)}, lambda X, p: dt.leakyrelu(X * p["a"] - 0.5, 0.1), _feat),
    "sigmoid": (lambda r: {"a": np.ones(1, F32)}, lambda X, p: dt.sigmoid(X * p["a"]), _feat),
    "tanh": (lambda r: {"a": np.ones(1, F32)}, lambda X, p: dt.tanh(X * p["a"]), _feat),
    "softmax": (lambda r: {"a": np.ones(1, F32)}, lambda X, p: dt.softmax(X * p["a"]), _feat),
    "maxpool": (lambda r: {"a": np.ones(1, F32)}, lambda X, p: dt.maxpool(X * p["a"], 2, Stride=2), _img),
    "avgpool": (lambda r: {"a": np.ones(1, F32)}, lambda X, p: dt.avgpool(X * p["a"], 2, Stride=2), _img),
    "dropout": (lambda r: {"a": np.ones(1, F32)}, lambda X, p: dt.dropout(X * p["a"], 0.3), _feat),
    "np.exp/np.mean": (lambda r: {"a": np.ones(1, F32)}, lambda X, p: np.exp(X * p["a"]) - np.mean(X), _feat),
}


@pytest.mark.parametrize("name", sorted(OPS))
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_single_wins_every_op(name, seed):
    make_params, apply, make_data = OPS[name]
    rng = np.random.default_rng(seed)
    params, X = make_params(rng), make_data(rng)
    assert X.dtype == np.float64

    def model_loss(p, X):
        Y = apply(X, p)
        loss = np.sum(Y * Y)
        return Y, loss, dlgradient(loss, p)

    Y, loss, grads = dlfeval(model_loss, params, X)
    assert Y.dtype == F32, name
    assert loss.dtype == F32, name
    for k, g in grads.items():
        assert g.dtype == F32, (name, k)
        assert np.all(np.isfinite(g)), (name, k)


LOSSES = {
    "crossentropy": lambda Y, T: dt.crossentropy(dt.softmax(Y), T),
    "crossentropy_multilabel": lambda Y, T: dt.crossentropy(dt.sigmoid(Y), T, ClassificationMode="multilabel"),
    "mse": dt.mse,
    "l1loss": dt.l1loss,
    "l2loss": dt.l2loss,
    "huber": dt.huber,
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_single_wins_every_loss(name):
    rng = np.random.default_rng(0)
    W = rng.random((3, 3)).astype(F32)
    X = dlarray(rng.random((3, 5)), "CB")
    T = np.eye(3)[:, rng.integers(0, 3, 5)]  # float64 targets

    def model_loss(W, X):
        loss = LOSSES[name](dt.fullyconnect(X, W, np.zeros(3)), T)
        return loss, dlgradient(loss, W)

    loss, g = dlfeval(model_loss, W, X)
    assert loss.dtype == F32 and g.dtype == F32


def _all_layers_network():
    return dt.dlnetwork([
        dt.imageInputLayer([6, 6, 2], Normalization="zscore", Mean=np.zeros((1, 1, 2)),
                           StandardDeviation=np.ones((1, 1, 2))),
        dt.convolution2dLayer(3, 4, Padding="same"), dt.batchNormalizationLayer(), dt.reluLayer(),
        dt.leakyReluLayer(), dt.maxPooling2dLayer(2, Stride=2), dt.averagePooling2dLayer(1), dt.dropoutLayer(0.3),
        dt.sigmoidLayer(), dt.tanhLayer(), dt.flattenLayer(), dt.fullyConnectedLayer(3), dt.softmaxLayer(),
    ])


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_single_wins_every_layer(seed):
    rng = np.random.default_rng(seed)
    np.random.seed(seed % 2**32)
    net = _all_layers_network()
    X = dlarray(rng.random((6, 6, 2, 4)), "SSCB")  # float64 data into a float32 network
    T = np.eye(3)[:, [0, 1, 2, 0]]

    def model_loss(net, X):
        Y, state = dt.forward(net, X, return_state=True)
        loss = dt.crossentropy(Y, T)
        return Y, loss, dlgradient(loss, net.Learnables), state

    Y, loss, grads, state = dlfeval(model_loss, net, X)
    assert Y.dtype == F32 and loss.dtype == F32
    assert {str(v.dtype) for v in grads.Value} == {"float32"}
    assert {str(v.dtype) for v in state.Value} == {"float32"}
    assert dt.predict(net, X).dtype == F32
    net2 = dt.dlnetwork([dt.featureInputLayer(3, Normalization="zerocenter", Mean=np.zeros(3)),
                         dt.fullyConnectedLayer(2)])
    assert dt.predict(net2, dlarray(rng.random((3, 4)), "CB")).dtype == F32


@pytest.mark.parametrize("name", sorted(OPS))
def test_double_stays_double(name):
    """The other half of the rule: all-double inputs give double results (nothing is cast down)."""
    make_params, apply, make_data = OPS[name]
    rng = np.random.default_rng(1)
    params = {k: v.astype(np.float64) for k, v in make_params(rng).items()}
    X = make_data(rng)

    def model_loss(p, X):
        Y = apply(X, p)
        loss = np.sum(Y * Y)
        return Y, loss, dlgradient(loss, p)

    Y, loss, grads = dlfeval(model_loss, params, X)
    assert Y.dtype == np.float64 and loss.dtype == np.float64
    assert all(g.dtype == np.float64 for g in grads.values())
