"""dlaccelerate / AcceleratedFunction (issue 14 item 9): a real trace cache.

The reference of every comparison is the same function evaluated WITHOUT acceleration (dlfeval of the
plain function: itself checked against PyTorch and finite differences elsewhere), plus one finite-difference
check of replayed gradients. "The function body did not run" is counted with a call counter.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from dlteach import (
    AcceleratedFunction,
    adamupdate,
    batchNormalizationLayer,
    clearCache,
    convolution2dLayer,
    crossentropy,
    dlaccelerate,
    dlarray,
    dlfeval,
    dlgradient,
    dlnetwork,
    dropout,
    extractdata,
    forward,
    fullyconnect,
    fullyConnectedLayer,
    imageInputLayer,
    indexcrossentropy,
    leakyrelu,
    maxPooling2dLayer,
    relu,
    reluLayer,
    softmax,
    softmaxLayer,
)
from dlteach.errors import AccelerationCheckError, AccelerationWarning, ArgumentError, NotTracedError
from tests.finite_differences import numeric_grad


def _values(x):
    """The leaves of x as float64 arrays (dlarrays, arrays, Tables, dicts, tuples), for comparisons."""
    from dlteach import tree

    return [np.asarray(extractdata(v) if isinstance(v, dlarray) else v, dtype=np.float64)
            for v in tree.tree_leaves(x) if isinstance(v, (dlarray, np.ndarray, float, np.floating))]


def _assert_same(a, b, rtol=1e-5, atol=1e-6):  # float32: the replay may round differently (fused softmax-crossentropy)
    va, vb = _values(a), _values(b)
    assert len(va) == len(vb) > 0
    for x, y in zip(va, vb):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def _dtypes(x):
    from dlteach import tree

    return [extractdata(v).dtype if isinstance(v, dlarray) else np.asarray(v).dtype
            for v in tree.tree_leaves(x) if isinstance(v, (dlarray, np.ndarray))]


# -------------------------------------------------------------------------------------------------
# models

def _mlp_params(rng, dtype=np.float32, n_in=20, hidden=16):
    def init(*shape):
        return dlarray((rng.standard_normal(shape) * 0.3).astype(dtype))

    return {"fc1": {"Weights": init(hidden, n_in), "Bias": init(hidden, 1)},
            "fc2": {"Weights": init(10, hidden), "Bias": init(10, 1)}}


def _batch(rng, n=12, dtype=np.float32, n_in=20):
    X = dlarray(rng.standard_normal((n_in, n)).astype(dtype), "CB")
    labels = rng.integers(0, 10, n)
    T = np.zeros((10, n), dtype)
    T[labels, np.arange(n)] = 1
    return X, dlarray(T, "CB")


class Counted:
    """A model loss function that counts how often its Python body runs."""

    def __init__(self, fun):
        self.fun, self.calls = fun, 0
        self.__name__ = fun.__name__

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fun(*args, **kwargs)


def mlp_loss(p, X, T):
    Y = fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"])
    Y = leakyrelu(Y, 0.1)  # its slope mask depends on the data: recomputed on every replay
    Y = fullyconnect(Y, p["fc2"]["Weights"], p["fc2"]["Bias"])
    loss = crossentropy(softmax(Y), T)
    return loss, dlgradient(loss, p)


def _cnn(seed=0):
    np.random.seed(seed)
    return dlnetwork([imageInputLayer([10, 10, 1], Normalization="none"), convolution2dLayer(3, 4),
                      batchNormalizationLayer(), reluLayer(), maxPooling2dLayer(2, Stride=2),
                      fullyConnectedLayer(5), softmaxLayer()])


def cnn_loss(net, X, T):
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, net.Learnables), state


def _images(rng, n=6):
    X = dlarray(rng.random((10, 10, 1, n)).astype(np.float32), "SSCB")
    T = np.zeros((5, n), np.float32)
    T[rng.integers(0, 5, n), np.arange(n)] = 1
    return X, dlarray(T, "CB")


# -------------------------------------------------------------------------------------------------
# accelerated == unaccelerated, and the body does not run on a hit

def test_mlp_model_function_matches_and_body_runs_once(rng):
    params_a = params_p = _mlp_params(rng)
    fun = Counted(mlp_loss)
    accfun = dlaccelerate(fun)
    assert isinstance(accfun, AcceleratedFunction) and accfun.Function is fun
    avg_a = avg_p = sq_a = sq_p = None
    for it in range(1, 6):
        X, T = _batch(rng)  # new values every iteration, same signature
        loss_a, grad_a = dlfeval(accfun, params_a, X, T)
        loss_p, grad_p = dlfeval(mlp_loss, params_p, X, T)
        assert isinstance(loss_a, dlarray) and not loss_a.is_traced
        _assert_same((loss_a, grad_a), (loss_p, grad_p))
        assert _dtypes(grad_a) == [np.float32] * 4 and extractdata(loss_a).dtype == np.float32
        assert all(isinstance(g, dlarray) and not g.is_traced for d in grad_a.values() for g in d.values())
        params_a, avg_a, sq_a = adamupdate(params_a, grad_a, avg_a, sq_a, it)
        params_p, avg_p, sq_p = adamupdate(params_p, grad_p, avg_p, sq_p, it)
    assert fun.calls == 1  # recorded once, replayed four times
    assert accfun.HitRate == pytest.approx(80.0)


def test_replayed_gradients_match_finite_differences(rng):
    p = _mlp_params(rng, np.float64, n_in=3, hidden=4)
    X, T = _batch(rng, n=5, dtype=np.float64, n_in=3)
    accfun = dlaccelerate(mlp_loss)
    dlfeval(accfun, p, X, T)  # records
    X2, T2 = _batch(rng, n=5, dtype=np.float64, n_in=3)
    loss, grad = dlfeval(accfun, p, X2, T2)  # replays, on other data
    assert accfun.HitRate == 50.0

    def f(w):
        q = {"fc1": dict(p["fc1"], Weights=dlarray(w)), "fc2": p["fc2"]}
        Y = fullyconnect(X2, q["fc1"]["Weights"], q["fc1"]["Bias"])
        Y = fullyconnect(leakyrelu(Y, 0.1), q["fc2"]["Weights"], q["fc2"]["Bias"])
        return float(crossentropy(softmax(Y), T2))

    expected = numeric_grad(f, extractdata(p["fc1"]["Weights"]))
    np.testing.assert_allclose(extractdata(grad["fc1"]["Weights"]), expected, rtol=1e-5, atol=1e-8)


def test_dlnetwork_cnn_with_batchnorm_state(rng):
    net_a = _cnn()
    fun = Counted(cnn_loss)
    accfun = dlaccelerate(fun)
    avg_a = sq_a = None
    for it in range(1, 5):
        X, T = _images(rng)
        # the reference on the same network: two trajectories would drift apart (Adam amplifies the rounding
        # noise of the convolution bias, whose gradient through batch normalization is 0)
        loss_a, grad_a, state_a = dlfeval(accfun, net_a, X, T)
        loss_p, grad_p, state_p = dlfeval(cnn_loss, net_a, X, T)
        # (the convolution bias is followed by batch normalization: its true gradient is 0, both give ~1e-6 noise)
        _assert_same((loss_a, grad_a, state_a), (loss_p, grad_p, state_p), atol=1e-5)
        assert type(grad_a).__name__ == "Table" and list(grad_a.Parameter) == list(net_a.Learnables.Parameter)
        assert type(state_a).__name__ == "Table" and list(state_a.Parameter) == ["TrainedMean", "TrainedVariance"]
        assert set(_dtypes((grad_a, state_a))) == {np.dtype(np.float32)}
        net_a.State = state_a
        net_a, avg_a, sq_a = adamupdate(net_a, grad_a, avg_a, sq_a, it)
    # the running statistics moved (they are recomputed on replay, not frozen constants)
    assert not np.allclose(extractdata(net_a.State.Value[0]), 0)
    assert fun.calls == 1


def test_several_outputs_nested_containers_and_gradients_used_inside(rng):
    """Outputs: (loss, dict of gradients changed after dlgradient (L2 term), [Y, a constant], a string)."""
    def model(p, X, T, lam):
        Y = fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"])
        Y = Y * (Y > 0)  # a comparison: recorded, recomputed on replay
        Y = softmax(fullyconnect(Y, p["fc2"]["Weights"], p["fc2"]["Bias"]))
        loss = crossentropy(Y, T)
        g = dlgradient(loss, p)
        g = {k: {n: v + lam * p[k][n] for n, v in d.items()} for k, d in g.items()}  # L2 regularization
        extras = [Y, np.float32(3.0), None]
        return loss, g, extras, "done"

    fun = Counted(model)
    accfun = dlaccelerate(fun)
    p = _mlp_params(rng)
    for _ in range(3):
        X, T = _batch(rng)
        out_a = dlfeval(accfun, p, X, T, 0.01)
        out_p = dlfeval(model, p, X, T, 0.01)
        assert out_a[3] == "done" and out_a[2][2] is None and isinstance(out_a[2][0], dlarray)
        assert out_a[2][0].fmt == out_p[2][0].fmt == "CB"
        _assert_same(out_a, out_p)
        assert _dtypes(out_a[1]) == [np.float32] * 4
    assert fun.calls == 1


def test_keyword_arguments_and_a_different_non_array_value(rng):
    def model(p, X, T, *, lam=0.0):
        loss, g = mlp_loss(p, X, T)
        return loss + lam * np.sum(p["fc1"]["Weights"] ** 2), g

    fun = Counted(model)
    accfun = dlaccelerate(fun)
    p = _mlp_params(rng)
    X, T = _batch(rng)
    for lam in (0.0, 0.5, 0.5, 0.0):
        _assert_same(dlfeval(accfun, p, X, T, lam=lam), dlfeval(model, p, X, T, lam=lam))
    assert fun.calls == 2  # one recording per value of lam
    assert accfun.Occupancy == pytest.approx(100 * 2 / 50)


# -------------------------------------------------------------------------------------------------
# the cache: signatures, HitRate, Occupancy, CacheSize, Enabled, clearCache

def test_new_signatures_make_new_entries(rng):
    fun = Counted(mlp_loss)
    accfun = dlaccelerate(fun)
    p32 = _mlp_params(rng)
    p64 = {k: {n: dlarray(extractdata(v).astype(np.float64)) for n, v in d.items()} for k, d in p32.items()}
    X12, T12 = _batch(rng, 12)
    X7, T7 = _batch(rng, 7)
    X64, T64 = _batch(rng, 12, np.float64)
    calls = [(p32, X12, T12), (p32, X12, T12), (p32, X7, T7), (p64, X64, T64), (p64, X64, T64), (p32, X7, T7)]
    for args in calls:
        out = dlfeval(accfun, *args)
        _assert_same(out, dlfeval(mlp_loss, *args))
    assert fun.calls == 3  # batch 12 float32, batch 7 float32, batch 12 float64
    assert _dtypes(dlfeval(accfun, p64, X64, T64)[1]) == [np.float64] * 4
    assert fun.calls == 3 and accfun.Occupancy == pytest.approx(100 * 3 / 50)


def test_the_format_is_part_of_the_key(rng):
    fun = Counted(lambda X: np.exp(X) * 2)
    accfun = dlaccelerate(fun)
    data = rng.standard_normal((3, 4))
    for fmt in ("CB", "CU", None, "CB", "CU", None):
        Y = accfun(dlarray(data, fmt))
        assert Y.fmt == (fmt or "")
        np.testing.assert_allclose(extractdata(Y), np.exp(data) * 2)
    assert fun.calls == 3 and accfun.HitRate == 50


def test_hit_rate_and_occupancy_by_hand(rng):
    accfun = dlaccelerate(mlp_loss)
    accfun.CacheSize = 4
    p = _mlp_params(rng)
    A, B, C = _batch(rng, 3), _batch(rng, 4), _batch(rng, 5)
    assert accfun.HitRate == 0 and accfun.Occupancy == 0
    for X, T in (A, A, B, A, C):  # misses: A, B, C; hits: A, A
        dlfeval(accfun, p, X, T)
    assert accfun.HitRate == pytest.approx(100 * 2 / 5)
    assert accfun.Occupancy == pytest.approx(100 * 3 / 4)
    assert "HitRate: 40" in repr(accfun) and "CacheSize: 4" in repr(accfun)


def test_cache_size_evicts_least_recently_used(rng):
    fun = Counted(mlp_loss)
    accfun = dlaccelerate(fun)
    accfun.CacheSize = 2
    p = _mlp_params(rng)
    A, B, C = _batch(rng, 3), _batch(rng, 4), _batch(rng, 5)
    for X, T in (A, B, A, C):  # C evicts B (A was used more recently)
        dlfeval(accfun, p, X, T)
    assert fun.calls == 3 and accfun.Occupancy == 100
    dlfeval(accfun, p, *A)
    assert fun.calls == 3  # A is still cached
    dlfeval(accfun, p, *B)
    assert fun.calls == 4  # B was evicted: recorded again
    accfun.CacheSize = 1  # shrinking drops the oldest entries
    assert accfun.Occupancy == 100
    dlfeval(accfun, p, *B)
    assert fun.calls == 4
    dlfeval(accfun, p, *A)
    assert fun.calls == 5


def test_enabled_false_calls_the_function(rng):
    fun = Counted(mlp_loss)
    accfun = dlaccelerate(fun)
    accfun.Enabled = False
    p = _mlp_params(rng)
    X, T = _batch(rng)
    for _ in range(3):
        _assert_same(dlfeval(accfun, p, X, T), dlfeval(mlp_loss, p, X, T))
    assert fun.calls == 3 and accfun.Occupancy == 0 and accfun.HitRate == 0
    accfun.Enabled = True
    dlfeval(accfun, p, X, T)
    dlfeval(accfun, p, X, T)
    assert fun.calls == 4 and accfun.HitRate == 50


def test_clear_cache(rng):
    """After an edit (here: a global the function reads), the cache replays the old recording until clearCache."""
    setting = {"scale": 1.0}

    def model(p, X, T):
        loss, g = mlp_loss(p, X, T)
        return loss * setting["scale"]

    fun = Counted(model)
    accfun = dlaccelerate(fun)
    p = _mlp_params(rng)
    X, T = _batch(rng)
    first = float(dlfeval(accfun, p, X, T))
    setting["scale"] = 2.0
    assert float(dlfeval(accfun, p, X, T)) == pytest.approx(first)  # stale: the recording holds scale 1
    clearCache(accfun)
    assert accfun.Occupancy == 0 and accfun.HitRate == 0
    assert float(dlfeval(accfun, p, X, T)) == pytest.approx(2 * first)
    assert fun.calls == 2
    with pytest.raises(ArgumentError):
        clearCache(mlp_loss)


def test_check_mode_tolerance_catches_an_undetectable_data_dependent_function(rng):
    def noisy(p, X, T):  # NumPy random numbers: invisible to the recording
        loss, g = mlp_loss(p, X, T)
        return loss * (1 + np.random.rand()), g

    accfun = dlaccelerate(noisy)
    p = _mlp_params(rng)
    X, T = _batch(rng)
    dlfeval(accfun, p, X, T)
    dlfeval(accfun, p, X, T)  # CheckMode "none": the frozen random number goes unnoticed
    accfun.CheckMode = "tolerance"
    with pytest.raises(AccelerationCheckError, match=r"output\[0\].*random"):
        dlfeval(accfun, p, X, T)

    good = dlaccelerate(mlp_loss)
    good.CheckMode = "tolerance"
    assert good.CheckTolerance == 1e-4
    for _ in range(3):
        dlfeval(good, p, *_batch(rng))  # a correct function passes the check
    assert good.HitRate == pytest.approx(200 / 3)


def test_properties_are_validated():
    accfun = dlaccelerate(mlp_loss)
    assert (accfun.Enabled, accfun.CacheSize, accfun.CheckMode, accfun.CheckTolerance) == (True, 50, "none", 1e-4)
    with pytest.raises(ArgumentError):
        accfun.CacheSize = 0
    with pytest.raises(ArgumentError):
        accfun.CheckMode = "exact"
    with pytest.raises(ArgumentError):
        dlaccelerate(42)
    assert dlaccelerate(accfun) is accfun


# -------------------------------------------------------------------------------------------------
# functions that must not be accelerated: detected, warned, and still correct

def _data_dependent(p, X, T):
    loss, g = mlp_loss(p, X, T)
    if np.sum(fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"])) > 0:  # control flow on a value
        loss = loss * 2
    return loss, g


def _uses_float(p, X, T):
    loss, g = mlp_loss(p, X, T)
    return loss * (1.0 + 0.0 * float(loss)), g


def _uses_extractdata(p, X, T):
    loss, g = mlp_loss(p, X, T)
    return loss + dlarray(extractdata(loss)), g


def _uses_dropout(p, X, T):
    Y = dropout(fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"]), 0.5)
    loss = crossentropy(softmax(fullyconnect(Y, p["fc2"]["Weights"], p["fc2"]["Bias"])), T)
    return loss, dlgradient(loss, p)


@pytest.mark.parametrize("fun, words", [
    (_data_dependent, "Python bool"), (_uses_float, "Python number"), (_uses_extractdata, "extractdata"),
    (_uses_dropout, "random numbers"),
])
def test_data_dependent_functions_are_not_cached(rng, fun, words):
    counted = Counted(fun)
    accfun = dlaccelerate(counted)
    p = _mlp_params(rng)
    with pytest.warns(AccelerationWarning, match=words):
        dlfeval(accfun, p, *_batch(rng))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per reason
        for _ in range(3):
            X, T = _batch(rng)
            np.random.seed(5)
            out_a = dlfeval(accfun, p, X, T)
            np.random.seed(5)
            _assert_same(out_a, dlfeval(fun, p, X, T))
    assert counted.calls == 4 and accfun.Occupancy == 0 and accfun.HitRate == 0


def test_control_flow_both_branches_stay_correct(rng):
    accfun = dlaccelerate(_data_dependent)
    p = _mlp_params(rng)
    X, T = _batch(rng)
    with pytest.warns(AccelerationWarning):
        a = dlfeval(accfun, p, X, T)
    _assert_same(a, dlfeval(_data_dependent, p, X, T))
    Xneg = dlarray(-extractdata(X) - 10, "CB")  # the other branch
    _assert_same(dlfeval(accfun, p, Xneg, T), dlfeval(_data_dependent, p, Xneg, T))


def test_higher_derivatives_fall_back_with_a_warning():
    def model(x):
        y = np.sum(x ** 3)
        g = dlgradient(y, x, EnableHigherDerivatives=True)  # 3 x^2
        loss = np.sum(g)
        return loss, dlgradient(loss, x)  # 6 x

    accfun = dlaccelerate(model)
    x = dlarray(np.array([1.0, -2.0, 0.5]))
    with pytest.warns(AccelerationWarning, match="EnableHigherDerivatives"):
        loss, g = dlfeval(accfun, x)
    for _ in range(2):
        loss, g = dlfeval(accfun, x)
        np.testing.assert_allclose(extractdata(g), 6 * extractdata(x))
        assert float(loss) == pytest.approx(3 * np.sum(extractdata(x) ** 2))


# -------------------------------------------------------------------------------------------------
# called directly, and inside a function that dlfeval evaluates

def test_accelerated_model_called_directly_and_inside_dlfeval(rng):
    p = _mlp_params(rng)
    fun = Counted(lambda p, X: softmax(fullyconnect(relu(fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"])),
                                                    p["fc2"]["Weights"], p["fc2"]["Bias"])))
    model = dlaccelerate(fun)

    def loss_acc(p, X, T):
        loss = crossentropy(model(p, X), T)
        return loss, dlgradient(loss, p)

    def loss_plain(p, X, T):
        loss = crossentropy(fun.fun(p, X), T)
        return loss, dlgradient(loss, p)

    for _ in range(3):
        X, T = _batch(rng)
        _assert_same(dlfeval(loss_acc, p, X, T), dlfeval(loss_plain, p, X, T))  # replay inside a trace
        Y = model(p, X)  # predictions outside dlfeval
        assert isinstance(Y, dlarray) and Y.fmt == "CB" and not Y.is_traced
        _assert_same(Y, fun.fun(p, X))
    assert fun.calls == 1 and model.HitRate == pytest.approx(500 / 6)


def test_dlgradient_in_an_accelerated_function_called_outside_dlfeval(rng):
    accfun = dlaccelerate(mlp_loss)
    with pytest.raises(NotTracedError, match="outside dlfeval"):
        accfun(_mlp_params(rng), *_batch(rng))


def test_integer_labels_are_part_of_the_key(rng):
    def model(p, X, labels):
        Y = softmax(fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"]))
        loss = indexcrossentropy(Y, labels)
        return loss, dlgradient(loss, p["fc1"])

    fun = Counted(model)
    accfun = dlaccelerate(fun)
    p = _mlp_params(rng, hidden=10)
    X, _ = _batch(rng, 6)
    for labels in ([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6], [0, 0, 1, 1, 2, 9]):
        labels = np.array(labels)
        _assert_same(dlfeval(accfun, p, X, labels), dlfeval(model, p, X, labels))
    assert fun.calls == 2


def test_a_traced_mask_count_is_not_frozen(rng):
    """NormalizationFactor="mask-included" divides by the number of unmasked values: from a traced mask that count
    is a value, so the recording is not cached (a replay would keep the first mask's count)."""
    def model(p, X, T, mask):
        Y = softmax(fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"]))
        loss = crossentropy(Y, T, Mask=mask, NormalizationFactor="mask-included")
        return loss, dlgradient(loss, p["fc1"])

    accfun = dlaccelerate(model)
    p = _mlp_params(rng, hidden=10)
    X, T = _batch(rng, 6)
    masks = [dlarray(np.array([[1, 1, 0, 1, 0, 1]], np.float32), "CB"),
             dlarray(np.array([[1, 0, 0, 0, 0, 1]], np.float32), "CB")]
    with pytest.warns(AccelerationWarning, match="Python number"):
        dlfeval(accfun, p, X, T, masks[0])
    for m in masks:
        _assert_same(dlfeval(accfun, p, X, T, m), dlfeval(model, p, X, T, m))
    assert accfun.Occupancy == 0
