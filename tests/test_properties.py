"""Hypothesis properties of every op and loss: inputs are never modified, gradients match finite differences.

References: the inputs' own copies taken before the call; central finite differences in float64
(tests/finite_differences.py).
"""

import numpy as np
import pytest
from finite_differences import numeric_grad  # tests/finite_differences.py
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import dlteach as dt
from dlteach import dlarray, dlfeval, dlgradient

# op -> (function of (X, p), data shape, data format, parameter shapes)
OPS = {
    "fullyconnect": (lambda X, p: dt.fullyconnect(X, p[0], p[1]), (3, 4), "CB", [(2, 3), (2, 1)]),
    "dlconv": (lambda X, p: dt.dlconv(X, p[0], p[1], Padding=1), (4, 4, 2, 2), "SSCB", [(3, 3, 2, 2), (2,)]),
    "batchnorm": (lambda X, p: dt.batchnorm(X, p[0], p[1])[0], (4, 4, 2, 2), "SSCB", [(2,), (2,)]),
    "batchnorm_infer": (lambda X, p: dt.batchnorm(X, p[0], p[1], np.zeros(2), np.ones(2), training=False),
                        (4, 4, 2, 2), "SSCB", [(2,), (2,)]),
    "relu": (lambda X, p: dt.relu(X * p[0]), (3, 4), "CB", [(1,)]),
    "leakyrelu": (lambda X, p: dt.leakyrelu(X * p[0], 0.2), (3, 4), "CB", [(1,)]),
    "sigmoid": (lambda X, p: dt.sigmoid(X * p[0]), (3, 4), "CB", [(1,)]),
    "tanh": (lambda X, p: dt.tanh(X * p[0]), (3, 4), "CB", [(1,)]),
    "softmax": (lambda X, p: dt.softmax(X * p[0]), (3, 4), "CB", [(1,)]),
    "maxpool": (lambda X, p: dt.maxpool(X * p[0], 2, Stride=2), (4, 4, 2, 2), "SSCB", [(1,)]),
    "avgpool": (lambda X, p: dt.avgpool(X * p[0], 2, Stride=1, Padding=1), (4, 4, 2, 2), "SSCB", [(1,)]),
    "crossentropy": (lambda X, p: dt.crossentropy(dt.softmax(X * p[0]), np.eye(3)[:, [0, 1, 2, 0]]),
                     (3, 4), "CB", [(1,)]),
    "mse": (lambda X, p: dt.mse(X * p[0], np.ones((3, 4))), (3, 4), "CB", [(1,)]),
    "huber": (lambda X, p: dt.huber(X * p[0], np.ones((3, 4))), (3, 4), "CB", [(1,)]),
}

_values = st.floats(-2, 2, allow_nan=False, width=64)


@st.composite
def _case(draw, name):
    _f, shape, _fmt, pshapes = OPS[name]
    X = draw(arrays(np.float64, shape, elements=_values))
    params = [draw(arrays(np.float64, s, elements=st.floats(0.5, 1.5, width=64))) for s in pshapes]
    return X, params


@pytest.mark.parametrize("name", sorted(OPS))
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_inputs_are_never_modified(name, data):
    f, _shape, fmt, _ps = OPS[name]
    X, params = data.draw(_case(name))
    X0, p0 = X.copy(), [p.copy() for p in params]
    Xd = dlarray(X, fmt)
    Xd0 = dt.extractdata(Xd)
    np.random.seed(0)
    f(Xd, params)

    def model_loss(Xd, params):
        Y = f(Xd, params)
        return dlgradient(np.sum(Y * Y), Xd, params)

    dlfeval(model_loss, Xd, params)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(dt.extractdata(Xd), Xd0)
    for p, q in zip(params, p0):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("name", sorted(OPS))
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_gradients_match_finite_differences(name, data):
    f, _shape, fmt, _ps = OPS[name]
    X, params = data.draw(_case(name))
    if name == "batchnorm":  # a constant channel has variance 0: finite differences are ill-conditioned there
        X = X + np.random.default_rng(0).standard_normal(X.shape)
    if name == "maxpool":  # ties make the max non-differentiable: keep the values distinct
        X = X + np.arange(X.size).reshape(X.shape) * 1e-3
    if name in ("relu", "leakyrelu"):  # away from the kink at 0
        X = np.where(np.abs(X) < 1e-3, 0.5, X)
    if name == "huber":  # away from the transition at |e| = 1
        X = np.where(np.abs(np.abs(X - 1) - 1) < 1e-3, 0.5, X)

    def scalar(Xv, pv):
        Y = f(dlarray(Xv, fmt), pv)
        return float(np.sum(dt.extractdata(Y) ** 2)) if dt.extractdata(Y).size > 1 else float(Y)

    def model_loss(Xd, params):
        Y = f(Xd, params)
        loss = np.sum(Y * Y) if Y.size > 1 else Y
        return dlgradient(loss, Xd, params)

    gX, gp = dlfeval(model_loss, dlarray(X, fmt), params)
    np.testing.assert_allclose(dt.extractdata(gX), numeric_grad(lambda v: scalar(v, params), X),
                               rtol=1e-4, atol=1e-6)
    for i, p in enumerate(params):
        def fp(v, i=i):
            q = list(params)
            q[i] = v
            return scalar(X, q)

        np.testing.assert_allclose(gp[i], numeric_grad(fp, p), rtol=1e-4, atol=1e-6)
