"""Adversarial inputs for every public function: each bad input ends well, or in a documented legal result.

For every public function, every argument is replaced in turn by bad values of each kind: None, a
wrong type (text, dict, the 3-tuple that batchnorm returns), wrong dtypes (int, bool, complex, float16,
object), NaN / Inf, empty, a wrong shape, a wrong format, and - for sizes - non-integers, zero,
negative, logical and huge values. Each case must end in

* a :class:`~dlteach.errors.DLTeachError` subclass whose message names the argument, or
* a documented legal result (``LEGAL`` below: each entry says why it is legal and checks the result).

Anything else - NumPy's or autograd's own traceback, a result that is silently wrong, a MemoryError - fails.
``CASES`` is the full list; ``python tests/test_adversarial.py`` prints how the cases end.
"""

from __future__ import annotations

import re
import sys
import warnings

import numpy as np
import pytest

import dlteach as dt
from dlteach import dlarray
from dlteach.errors import DLTeachError, DLTeachWarning

R = np.random.default_rng(0)


def _feat(c=3, n=4):
    return dlarray(R.random((c, n)).astype(np.float32), "CB")


def _img(h=6, c=2, n=2):
    return dlarray(R.random((h, h, c, n)).astype(np.float32), "SSCB")


def _probs():
    return dt.softmax(_feat())


def _onehot():
    return np.eye(3, dtype=np.float32)[:, [0, 1, 2, 0]]


# -------------------------------------------------------------------------------------------------
# bad values by kind of argument

def _array_bad(good_shape, fmt):
    """Bad values for an array argument whose good value has ``good_shape`` (and format ``fmt``)."""
    n = int(np.prod(good_shape))
    bad = {
        "None": None,
        "text": "abc",
        "dict": {"a": 1},
        "batchnorm tuple": dt.batchnorm(_img(), np.zeros(2), np.ones(2)),
        "function": np.sum,
        "int": np.arange(n).reshape(good_shape),
        "bool": np.ones(good_shape, bool),
        "complex": np.ones(good_shape) * (1 + 1j),
        "float16": np.ones(good_shape, np.float16),
        "object": np.array([1, None, "x"], dtype=object),
        "ragged list": [[1.0, 2.0], [3.0]],
        "NaN": np.full(good_shape, np.nan, np.float32),
        "Inf": np.full(good_shape, np.inf, np.float32),
        "empty": np.zeros(good_shape[:-1] + (0,), np.float32) if len(good_shape) else np.zeros(0, np.float32),
        "wrong shape": np.ones(tuple(s + 1 for s in good_shape) + (2,), np.float32),
    }
    if fmt:
        bad["wrong format"] = dlarray(np.ones((2, 2, 2, 2), np.float32), "SSCB") if fmt != "SSCB" else \
            dlarray(np.ones((3, 4), np.float32), "CB")
        bad = {k: (dlarray(v, fmt) if k in ("NaN", "Inf", "empty") else v) for k, v in bad.items()}
    return bad


INT_BAD = {"None": None, "text": "2", "fraction": 2.5, "zero": 0, "negative": -1, "logical": True,
           "NaN": float("nan"), "Inf": float("inf"), "huge": 10**12, "three entries": [1, 2, 3]}
REAL_BAD = {"None": None, "text": "0.1", "NaN": float("nan"), "Inf": float("inf"), "array": np.ones(3)}
PROB_BAD = {**REAL_BAD, "negative": -0.1, "above one": 1.5}
SZ_BAD = {"None": None, "text": "3 4", "dict": {"a": 1}, "scalar": 10, "one entry": [10], "negative": [3, -1],
          "fraction": [3, 2.5], "logical": [3, True], "NaN": [3, float("nan")], "huge": [10**6, 10**6],
          "dlarray": dlarray(np.array([3.0, 4.0]))}
FMT_BAD = {"number": 5, "unknown label": "XYZ", "repeated C": "CC"}
NAME_BAD = {"None": None, "number": 1, "unknown": "fc9", "list": ["fc"]}


# -------------------------------------------------------------------------------------------------
# the functions: name -> (call(**args), good arguments, {argument: bad values})

def _net():
    np.random.seed(0)
    return dt.dlnetwork([dt.featureInputLayer(3), dt.fullyConnectedLayer(2), dt.softmaxLayer()])


def _params():
    return {"W": dlarray(np.ones((2, 3), np.float32)), "b": dlarray(np.zeros((2, 1), np.float32))}


def _grads():
    return {"W": dlarray(np.full((2, 3), 0.1, np.float32)), "b": dlarray(np.full((2, 1), 0.1, np.float32))}


def _grad_bad():
    g = _grads()
    out = {"None": None, "text": "abc", "network": _net(), "list": [1, 2]}
    for kind, leaf in (("None leaf", None), ("complex leaf", np.ones((2, 3)) * 1j),
                       ("object leaf", np.array([[1, None, 2]] * 2, dtype=object)),
                       ("wrong-shape leaf", np.ones((3, 2), np.float32)), ("text leaf", "abc")):
        out[kind] = {**g, "W": leaf}
    return out


def _params_bad():
    p = _params()
    return {"None": None, "text": "abc", "int leaf": {**p, "W": np.ones((2, 3), int)},
            "float16 leaf": {**p, "W": np.ones((2, 3), np.float16)}, "None leaf": {**p, "W": None},
            "uninitialized network": dt.dlnetwork([dt.featureInputLayer(3), dt.fullyConnectedLayer(2)],
                                                  Initialize=False)}


def _in_dlfeval_gradient(loss_kind=None, wrt_kind=None):
    x = dlarray(np.ones(3, np.float32))

    def f(x):
        loss = np.sum(x * x)
        if loss_kind is not None:
            loss = {"None": None, "tuple": (loss, loss), "vector": x * x, "untraced": np.float32(1.0),
                    "text": "loss"}[loss_kind]
        wrt = x if wrt_kind is None else {"int array": np.arange(3), "network": _net(), "None": None,
                                          "text": "x", "bool dlarray": dlarray(np.ones(3, bool))}[wrt_kind]
        return dt.dlgradient(loss, wrt)

    return dt.dlfeval(f, x)


def _lbfgs_loss(p):
    def modelLoss(p):
        loss = np.sum(p["W"] ** 2) + np.sum(p["b"] ** 2)
        return loss, dt.dlgradient(loss, p)
    return dt.dlfeval(modelLoss, p)


FUNCTIONS = {
    "dlarray": (lambda X=None, fmt="CB": dlarray(X, fmt), {"X": np.ones((3, 4))},
                {"X": {k: v for k, v in _array_bad((3, 4), "").items()}, "fmt": FMT_BAD}),
    "fullyconnect": (lambda X, weights, bias: dt.fullyconnect(X, weights, bias),
                     {"X": _feat(), "weights": np.ones((2, 3), np.float32), "bias": np.zeros(2, np.float32)},
                     {"X": _array_bad((3, 4), "CB"), "weights": _array_bad((2, 3), ""), "bias": _array_bad((2,), "")}),
    "dlconv": (lambda X, weights, bias, Stride=1, Padding=0: dt.dlconv(X, weights, bias, Stride=Stride, Padding=Padding),
               {"X": _img(), "weights": np.ones((3, 3, 2, 4), np.float32), "bias": np.zeros(4, np.float32)},
               {"X": _array_bad((6, 6, 2, 2), "SSCB"), "weights": _array_bad((3, 3, 2, 4), ""),
                "bias": _array_bad((4,), ""), "Stride": INT_BAD, "Padding": {**INT_BAD, "zero": None, "word": "valid"}}),
    "batchnorm": (lambda X, offset, scaleFactor: dt.batchnorm(X, offset, scaleFactor)[0],
                  {"X": _img(), "offset": np.zeros(2, np.float32), "scaleFactor": np.ones(2, np.float32)},
                  {"X": _array_bad((6, 6, 2, 2), "SSCB"), "offset": _array_bad((2,), ""),
                   "scaleFactor": _array_bad((2,), "")}),
    "relu": (lambda X: dt.relu(X), {"X": _feat()}, {"X": _array_bad((3, 4), "CB")}),
    "leakyrelu": (lambda X, scaleFactor=0.01: dt.leakyrelu(X, scaleFactor), {"X": _feat()},
                  {"X": _array_bad((3, 4), "CB"), "scaleFactor": REAL_BAD}),
    "sigmoid": (lambda X: dt.sigmoid(X), {"X": _feat()}, {"X": _array_bad((3, 4), "CB")}),
    "tanh": (lambda X: dt.tanh(X), {"X": _feat()}, {"X": _array_bad((3, 4), "CB")}),
    "softmax": (lambda X: dt.softmax(X), {"X": _feat()}, {"X": _array_bad((3, 4), "CB")}),
    "maxpool": (lambda X, poolsize=2, Stride=1: dt.maxpool(X, poolsize, Stride=Stride), {"X": _img()},
                {"X": _array_bad((6, 6, 2, 2), "SSCB"), "poolsize": INT_BAD, "Stride": INT_BAD}),
    "avgpool": (lambda X, poolsize=2, Stride=1: dt.avgpool(X, poolsize, Stride=Stride), {"X": _img()},
                {"X": _array_bad((6, 6, 2, 2), "SSCB"), "poolsize": INT_BAD, "Stride": INT_BAD}),
    "dropout": (lambda X, probability=0.5: dt.dropout(X, probability), {"X": _feat()},
                {"X": _array_bad((3, 4), "CB"), "probability": PROB_BAD}),
    "crossentropy": (lambda Y, targets: dt.crossentropy(Y, targets), {"Y": _probs(), "targets": _onehot()},
                     {"Y": _array_bad((3, 4), "CB"), "targets": {**_array_bad((3, 4), ""), "negative": -_onehot(),
                                                                 "above one": 2 * _onehot()}}),
    "mse": (lambda Y, targets: dt.mse(Y, targets), {"Y": _feat(), "targets": _onehot()},
            {"Y": _array_bad((3, 4), "CB"), "targets": _array_bad((3, 4), "")}),
    "l1loss": (lambda Y, targets: dt.l1loss(Y, targets), {"Y": _feat(), "targets": _onehot()},
               {"Y": _array_bad((3, 4), "CB"), "targets": _array_bad((3, 4), "")}),
    "huber": (lambda Y, targets, TransitionPoint=1: dt.huber(Y, targets, TransitionPoint=TransitionPoint),
              {"Y": _feat(), "targets": _onehot()},
              {"Y": _array_bad((3, 4), "CB"), "TransitionPoint": {**REAL_BAD, "zero": 0, "negative": -1}}),
    "onehotencode": (lambda labels, featureDim=1: dt.onehotencode(labels, featureDim), {"labels": np.array([0, 1, 2])},
                     {"labels": {"None": None, "empty": np.array([])}, "featureDim": INT_BAD}),
    "onehotdecode": (lambda scores, classes=(0, 1, 2), featureDim=1: dt.onehotdecode(scores, classes, featureDim),
                     {"scores": _probs()},
                     {"scores": {"None": None, "text": "abc", "wrong shape": np.ones((4, 4))},
                      "classes": {"None": None, "too few": [0, 1]}, "featureDim": INT_BAD}),
    "adamupdate": (lambda params, grad, iteration=1, learnRate=0.001: dt.adamupdate(params, grad, None, None, iteration,
                                                                                    learnRate),
                   {"params": _params(), "grad": _grads()},
                   {"params": _params_bad(), "grad": _grad_bad(), "iteration": INT_BAD,
                    "learnRate": {**REAL_BAD, "negative": -0.1}}),
    "rmspropupdate": (lambda params, grad, learnRate=0.001: dt.rmspropupdate(params, grad, None, learnRate),
                      {"params": _params(), "grad": _grads()},
                      {"params": _params_bad(), "grad": _grad_bad(), "learnRate": {**REAL_BAD, "negative": -0.1}}),
    "sgdmupdate": (lambda params, grad, momentum=0.9: dt.sgdmupdate(params, grad, None, 0.01, momentum),
                   {"params": _params(), "grad": _grads()},
                   {"params": _params_bad(), "grad": _grad_bad(), "momentum": PROB_BAD}),
    "lbfgsupdate": (lambda params, lossFcn=_lbfgs_loss, MaxNumLineSearchIterations=20, LineSearchMethod="weak-wolfe":
                    dt.lbfgsupdate(params, lossFcn, dt.lbfgsState(),
                                   MaxNumLineSearchIterations=MaxNumLineSearchIterations,
                                   LineSearchMethod=LineSearchMethod),
                    {"params": _params()},
                    {"params": _params_bad(),
                     "lossFcn": {"None": None, "text": "modelLoss", "number": 0.1, "gradients": _grads(),
                                 "dlfeval result": (np.float32(1.0), _grads())},
                     "MaxNumLineSearchIterations": INT_BAD,
                     "LineSearchMethod": {"None": None, "unknown": "wolfe", "number": 1}}),
    "dlupdate": (lambda fun, params: dt.dlupdate(fun, params, _grads()),
                 {"fun": lambda w, g: w - 0.1 * g, "params": _params()},
                 {"fun": {"None": None, "text": "sgd", "number": 0.1}}),
    "dlfeval": (lambda fun: dt.dlfeval(fun, dlarray(np.ones(3))), {"fun": np.sum},
                {"fun": {"None": None, "text": "modelLoss", "result instead of function": np.float64(1.0)}}),
    "dlaccelerate": (lambda fun: dt.dlfeval(dt.dlaccelerate(fun), dlarray(np.ones(3))), {"fun": np.sum},
                     {"fun": {"None": None, "text": "modelLoss", "result instead of function": np.float64(1.0)}}),
    "dlgradient": (lambda loss=None, wrt=None: _in_dlfeval_gradient(loss, wrt), {},
                   {"loss": {"None": "None", "tuple": "tuple", "vector": "vector", "untraced": "untraced",
                             "text": "text"},
                    "wrt": {"int array": "int array", "network": "network", "None": "None", "text": "text",
                            "bool dlarray": "bool dlarray"}}),
    "initializeGlorot": (lambda sz=(3, 4), numOut=3, numIn=4: dt.initializeGlorot(sz, numOut, numIn), {},
                         {"sz": SZ_BAD, "numOut": INT_BAD, "numIn": INT_BAD}),
    "initializeGaussian": (lambda sz=(3, 4), mu=0, sigma=0.01: dt.initializeGaussian(sz, mu, sigma), {},
                           {"sz": SZ_BAD, "mu": REAL_BAD, "sigma": {**REAL_BAD, "negative": -1}}),
    "initializeOrthogonal": (lambda sz=(4, 3): dt.initializeOrthogonal(sz), {},
                             {"sz": {**SZ_BAD, "four entries": [5, 5, 3, 16]}}),
    "initializeUnitForgetGate": (lambda numHiddenUnits=3: dt.initializeUnitForgetGate(numHiddenUnits), {},
                                 {"numHiddenUnits": INT_BAD}),
    "fullyConnectedLayer": (lambda outputSize=2: dt.fullyConnectedLayer(outputSize), {}, {"outputSize": INT_BAD}),
    "convolution2dLayer": (lambda filterSize=3, numFilters=4, Stride=1: dt.convolution2dLayer(filterSize, numFilters,
                                                                                              Stride=Stride),
                           {}, {"filterSize": INT_BAD, "numFilters": INT_BAD, "Stride": INT_BAD}),
    "featureInputLayer": (lambda numFeatures=3: dt.featureInputLayer(numFeatures), {}, {"numFeatures": INT_BAD}),
    "imageInputLayer": (lambda inputSize=(6, 6, 2): dt.imageInputLayer(inputSize, Normalization="none"), {},
                        {"inputSize": {k: v for k, v in INT_BAD.items() if k != "three entries"}}),
    "maxPooling2dLayer": (lambda poolSize=2, Stride=2: dt.maxPooling2dLayer(poolSize, Stride=Stride), {},
                          {"poolSize": INT_BAD, "Stride": INT_BAD}),
    "averagePooling2dLayer": (lambda poolSize=2: dt.averagePooling2dLayer(poolSize), {}, {"poolSize": INT_BAD}),
    "batchNormalizationLayer": (lambda Epsilon=1e-5, MeanDecay=0.1: dt.batchNormalizationLayer(
        Epsilon=Epsilon, MeanDecay=MeanDecay), {},
        {"Epsilon": {**REAL_BAD, "zero": 0, "negative": -1}, "MeanDecay": PROB_BAD}),
    "dropoutLayer": (lambda probability=0.5: dt.dropoutLayer(probability), {}, {"probability": PROB_BAD}),
    "leakyReluLayer": (lambda scale=0.01: dt.leakyReluLayer(scale), {}, {"scale": REAL_BAD}),
    "dlnetwork(huge layer)": (lambda outputSize=2: dt.dlnetwork([dt.featureInputLayer(3000),
                                                                 dt.fullyConnectedLayer(outputSize)]),
                              {}, {"outputSize": {"huge": 10**9}}),
    "augmentedImageDatastore": (lambda outputSize=(4, 4): dt.augmentedImageDatastore(outputSize,
                                                                                     np.zeros((6, 6, 1, 2), np.uint8)),
                                {}, {"outputSize": {**INT_BAD, "one entry": 28}}),
    "imageDataAugmenter": (lambda RandRotation=(-5, 5): dt.imageDataAugmenter(RandRotation=RandRotation), {},
                           {"RandRotation": {"None": None, "text": "5", "scalar": 5, "NaN": [float("nan"), 1],
                                             "Inf": [0, float("inf")], "reversed": [5, -5], "three entries": [1, 2, 3],
                                             "logical": [True, False]}}),
    "cat": (lambda dim=4: dt.cat(dim, np.zeros((2, 2)), np.ones((2, 2))), {}, {"dim": INT_BAD}),
    "forward": (lambda net, X: dt.forward(net, X), {"net": _net(), "X": _feat()},
                {"net": {"None": None, "text": "net", "parameters dict": _params()},
                 "X": {k: v for k, v in _array_bad((3, 4), "CB").items()}}),
    "predict": (lambda net, X: dt.predict(net, X), {"net": _net(), "X": _feat()},
                {"net": {"None": None, "text": "net"}, "X": {k: v for k, v in _array_bad((3, 4), "CB").items()}}),
    "setLearnRateFactor": (lambda net, layerName="fc", parameterName="Weights", factor=2.0: dt.setLearnRateFactor(
        net, layerName, parameterName, factor), {"net": _net()},
        {"net": {"None": None, "text": "net", "parameters dict": _params()}, "layerName": NAME_BAD,
         "parameterName": {**NAME_BAD, "singular": "Weight"}, "factor": {**REAL_BAD, "negative": -1}}),
    "getL2Factor": (lambda net, layerName="fc", parameterName="Weights": dt.getL2Factor(net, layerName, parameterName),
                    {"net": _net()}, {"net": {"None": None, "text": "net"}, "layerName": NAME_BAD,
                                      "parameterName": NAME_BAD}),
}


# -------------------------------------------------------------------------------------------------
# documented legal results: (function, argument, kind) -> (why it is legal, check of the result)

def _has_nan(r):
    return np.isnan(dt.extractdata(r)).any()


def _has_inf_or_nan(r):
    return not np.isfinite(dt.extractdata(r)).all()


def _is_float(r):
    return dt.extractdata(r).dtype.kind == "f"


def _empty(r):
    return dt.extractdata(r).size == 0


_NAN_PROPAGATES = ("NaN in, NaN out (MATLAB's behaviour: NaN is data, not an argument error)", _has_inf_or_nan)
_INF_PROPAGATES = ("Inf in, Inf/NaN out (MATLAB's behaviour)", lambda r: True)
_EMPTY_OK = ("an empty batch gives an empty result, as in MATLAB", _empty)
_INT_DATA = ("integer data is converted to double, as MATLAB's dlarray(int) is", _is_float)

LEGAL = {}
for _f in ("fullyconnect", "dlconv", "batchnorm", "relu", "leakyrelu", "sigmoid", "tanh", "softmax", "maxpool",
           "avgpool", "dropout", "forward", "predict"):
    LEGAL[(_f, "X", "NaN")] = _NAN_PROPAGATES
    LEGAL[(_f, "X", "Inf")] = _INF_PROPAGATES
for _f in ("fullyconnect", "relu", "leakyrelu", "sigmoid", "tanh", "softmax", "maxpool", "avgpool", "dropout",
           "dlconv", "forward", "predict"):
    LEGAL[(_f, "X", "empty")] = _EMPTY_OK
for _f, _a in (("fullyconnect", "weights"), ("fullyconnect", "bias"), ("dlconv", "weights"), ("dlconv", "bias"),
               ("batchnorm", "offset"), ("batchnorm", "scaleFactor")):
    LEGAL[(_f, _a, "NaN")] = _NAN_PROPAGATES
    LEGAL[(_f, _a, "Inf")] = _INF_PROPAGATES
for _f in ("mse", "l1loss", "huber"):
    LEGAL[(_f, "Y", "NaN")] = _NAN_PROPAGATES
    LEGAL[(_f, "Y", "Inf")] = _INF_PROPAGATES
    LEGAL[(_f, "targets", "NaN")] = _NAN_PROPAGATES
    LEGAL[(_f, "targets", "Inf")] = _INF_PROPAGATES
    LEGAL[(_f, "targets", "int")] = ("integer targets are converted to Y's type (MATLAB accepts numeric targets)",
                                     _is_float)
LEGAL[("crossentropy", "Y", "NaN")] = ("NaN probabilities give a NaN loss (the probability check ignores NaN)",
                                       _has_nan)
LEGAL[("dlarray", "X", "int")] = _INT_DATA
LEGAL[("dlarray", "X", "bool")] = ("logical data is kept (MATLAB: logical dlarray)", lambda r: r.dtype == bool)
LEGAL[("dlarray", "X", "NaN")] = ("a dlarray may hold NaN", _has_nan)
LEGAL[("dlarray", "X", "Inf")] = ("a dlarray may hold Inf", _has_inf_or_nan)
LEGAL[("dlarray", "X", "empty")] = ("an empty dlarray is legal (MATLAB: dlarray(zeros(3,0)))", _empty)
LEGAL[("dlarray", "X", "wrong shape")] = ("any shape that fits the format", lambda r: True)
LEGAL[("dlarray", "X", "float16")] = None  # refused: see test
for _f in ("adamupdate", "rmspropupdate", "sgdmupdate"):
    LEGAL[(_f, "grad", "list")] = None
LEGAL[("dlconv", "Padding", "zero")] = None
for _f in ("forward", "predict"):
    LEGAL[(_f, "X", "int")] = _INT_DATA
    LEGAL[(_f, "X", "wrong shape")] = None
for _f in ("relu", "leakyrelu", "sigmoid", "tanh", "dropout"):
    LEGAL[(_f, "X", "wrong shape")] = ("an elementwise op accepts any size (MATLAB too)",
                                       lambda r: r.shape == (4, 5, 2))
    LEGAL[(_f, "X", "wrong format")] = ("an elementwise op accepts any format and keeps it",
                                        lambda r: dt.dims(r) == "SSCB")
LEGAL[("softmax", "X", "wrong format")] = ("softmax of images normalises over their C dimension",
                                           lambda r: np.allclose(dt.extractdata(r).sum(axis=2), 1, atol=1e-6))
for _f in ("dlconv", "maxpool", "avgpool"):
    LEGAL[(_f, "Stride", "huge")] = ("a stride beyond the image leaves one window per image, as in MATLAB",
                                     lambda r: r.shape[:2] == (1, 1))
for _f in ("crossentropy", "mse", "l1loss"):
    LEGAL[(_f, "targets", "float16")] = ("numeric targets are converted to Y's type (float32 here)",
                                         lambda r: r.dtype == np.float32)
LEGAL[("augmentedImageDatastore", "outputSize", "three entries")] = (
    "[height, width, channels] is MATLAB's other form of outputSize", lambda r: tuple(r.OutputSize) == (1, 2, 3))
LEGAL[("onehotencode", "labels", "empty")] = ("no labels give a 0 x 0 one-hot array", lambda r: r.size == 0)
LEGAL[("adamupdate", "iteration", "huge")] = ("any positive integer iteration is valid (bias correction -> 1)",
                                              lambda r: np.isfinite(dt.extractdata(r[0]["W"])).all())
_LAZY = ("layer constructors are lazy: sizes are only allocated by dlnetwork/initialize, which refuses learnables "
         "above 2^31 values (case 'dlnetwork(huge layer)')", lambda r: True)
for _f, _a in (("fullyConnectedLayer", "outputSize"), ("convolution2dLayer", "filterSize"),
               ("convolution2dLayer", "numFilters"), ("convolution2dLayer", "Stride"),
               ("featureInputLayer", "numFeatures"), ("imageInputLayer", "inputSize"),
               ("maxPooling2dLayer", "poolSize"), ("maxPooling2dLayer", "Stride"),
               ("averagePooling2dLayer", "poolSize")):
    LEGAL[(_f, _a, "huge")] = _LAZY
for _f, _a in (("fullyconnect", "weights"), ("fullyconnect", "bias"), ("dlconv", "weights"), ("dlconv", "bias"),
               ("batchnorm", "offset"), ("batchnorm", "scaleFactor")):
    LEGAL[(_f, _a, "int")] = ("integer parameters are MATLAB doubles (bias = 0 is common); with float32 data the "
                              "result is float32 (single wins)", lambda r: r.dtype == np.float32)
for _a in ("numOut", "numIn"):
    LEGAL[("initializeGlorot", _a, "huge")] = ("a huge fan only makes the bound sqrt(6/(numIn+numOut)) tiny",
                                               lambda r: np.abs(dt.extractdata(r)).max() < 1e-5)
LEGAL = {k: v for k, v in LEGAL.items() if v is not None}

# Synonyms: words a message may use for the argument (MATLAB's name first).
ARG_WORDS = {
    "params": ("params", "parameters", "net.Learnables", "network"),
    "grad": ("grad", "gradient"),
    "loss": ("loss", "value to differentiate"),
    "wrt": ("differentiate with respect to", "dlnetwork", "argument 2"),
    "X": ("X", "input", "data"),
    "Y": ("Y",),
    "net": ("net", "dlnetwork"),
    "fun": ("function", "fun"),
    "fmt": ("format",),
    "outputSize": ("outputSize", "size"),
    "targets": ("targets",),
    "parameterName": ("parameterName", "learnable parameter"),
    "layerName": ("layerName", "no layer named"),
}


def _cases():
    cases = []
    for fname, (_call, _good, bad) in FUNCTIONS.items():
        for arg, values in bad.items():
            for kind in values:
                cases.append((fname, arg, kind))
    return cases


CASES = _cases()


def run_case(fname, arg, kind):
    """('error', message) | ('legal', why) | ('other', text) | ('silent', text) for one case."""
    call, good, bad = FUNCTIONS[fname]
    args = dict(good)
    args[arg] = bad[arg][kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DLTeachWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            result = call(**args)
        except DLTeachError as err:
            return "error", str(err)
        except Exception as err:  # noqa: BLE001 - classifying every ending is the point
            return "other", f"{type(err).__name__}: {err}"
    legal = LEGAL.get((fname, arg, kind))
    if legal is None:
        return "silent", f"returned {type(result).__name__} without an error"
    why, check = legal
    if not check(result):
        return "silent", f"legal kind ({why}) but the result fails its check"
    return "legal", why


def _names_argument(message, arg):
    words = ARG_WORDS.get(arg, (arg,))
    return any(re.search(r"(?<![A-Za-z])" + re.escape(w) + r"(?![A-Za-z])", message) for w in words)


@pytest.mark.parametrize(("fname", "arg", "kind"), CASES, ids=[f"{f}-{a}-{k}" for f, a, k in CASES])
def test_bad_input_ends_well(fname, arg, kind):
    how, text = run_case(fname, arg, kind)
    assert how in ("error", "legal"), f"{fname}({arg}={kind}): {how}: {text}"
    if how == "error":
        assert _names_argument(text, arg), f"{fname}({arg}={kind}): the message does not name {arg!r}: {text}"


def test_none_messages_name_the_forgotten_return():
    for fname, (_call, _good, bad) in FUNCTIONS.items():
        for arg, values in bad.items():
            if "None" in values and values["None"] is None:
                how, text = run_case(fname, arg, "None")
                assert how == "error" and "None" in text, (fname, arg, text)
                assert "return" in text, (fname, arg, text)


def test_the_suite_is_large():
    assert len(CASES) >= 300


if __name__ == "__main__":  # a summary: how the cases end
    from collections import Counter

    endings = Counter()
    for case in CASES:
        how, text = run_case(*case)
        endings[how] += 1
        if how not in ("error", "legal"):
            print(case, how, text[:200])
    print(f"{len(CASES)} cases: {dict(endings)}")
    sys.exit(0)
