"""Tests of dlfeval / dlgradient (dlteach.autodiff).

References: central finite differences in float64, hand-derived formulas (Rosenbrock, x^3, a gradient
penalty), and MATLAB's documented rules (outputs untraced, gradients shaped like the inputs).
"""

import numpy as np
import pytest
from autograd.extend import defvjp, primitive
from autograd.tracer import isbox, trace_stack
from finite_differences import numeric_grad  # tests/finite_differences.py

import dlteach.autodiff as autodiff
from dlteach import dims, dlarray, dlfeval, dlgradient, extractdata, stripdims
from dlteach.errors import DisconnectedGradientWarning, DLTeachError, NonScalarLossError, NotTracedError
from dlteach.formats import data_of, wrap_like


def value_and_gradient(loss_fn, *xs):
    def model_loss(*args):
        loss = loss_fn(*args)
        return loss, dlgradient(loss, *args)

    return dlfeval(model_loss, *xs)


# --------------------------------------------------------------------------------------------
# gradients against finite differences

COMPOSITIONS = {
    "poly": lambda x: np.sum(x**3 - 2 * x**2 + x),
    "exp_log": lambda x: np.sum(np.log(1 + np.exp(x))),
    "sin_cos": lambda x: np.sum(np.sin(x) * np.cos(2 * x)),
    "tanh_mean": lambda x: np.mean(np.tanh(x) ** 2),
    "sqrt_abs": lambda x: np.sum(np.sqrt(np.abs(x) + 1.0)),
    "softmax": lambda x: np.sum(np.exp(x) / np.sum(np.exp(x), axis=0, keepdims=True) * np.arange(1.0, 5.0)[:, None]),
    "max": lambda x: np.max(x * np.arange(1.0, 13.0).reshape(4, 3)),
    "max_axis": lambda x: np.sum(np.max(x, axis=0) ** 2),
    "min_axis": lambda x: np.sum(np.min(x, axis=1) * np.arange(1.0, 5.0)),
    "maximum": lambda x: np.sum(np.maximum(x, 0.1) ** 2),
    "minimum": lambda x: np.sum(np.minimum(x, np.float64(0.2)) * x),
    "where": lambda x: np.sum(np.where(np.asarray(x if not hasattr(x, "_data") else extractdata(x)) > 0, x**2, -x)),
    "var_std": lambda x: np.var(x) + np.sum(np.std(x, axis=1)),
    "matmul": lambda x: np.sum((np.arange(8.0).reshape(2, 4) @ x) ** 2),
    "reshape_T": lambda x: np.sum(np.reshape(x, (3, 4)).T @ np.ones((3, 2))),
    "index": lambda x: np.sum(x[1:3, ::2] ** 2) + np.sum(x[np.array([0, 3]), np.array([1, 2])]),
    "concat": lambda x: np.sum(np.concatenate([x, 2 * x], axis=1) ** 3),
    "prod": lambda x: np.prod(x[0] + 2.0),
    "division": lambda x: np.sum(1.0 / (1.0 + x**2)),
    "power": lambda x: np.sum((x**2 + 1) ** 1.5),
}


@pytest.mark.parametrize("wrap", ["dlarray", "ndarray"])
@pytest.mark.parametrize("name", sorted(COMPOSITIONS))
def test_gradient_equals_finite_differences(name, wrap, rng):
    f = COMPOSITIONS[name]
    x = rng.standard_normal((4, 3))
    arg = dlarray(x, "CB") if wrap == "dlarray" else x
    loss, g = value_and_gradient(f, arg)
    if wrap == "dlarray":
        assert type(g) is dlarray and dims(g) == "CB"
        g = extractdata(g)
    else:
        assert type(g) is np.ndarray
    assert g.dtype == np.float64 and g.shape == x.shape
    expected = numeric_grad(lambda v: float(f(v)), x)
    np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(float(loss), float(f(x)), rtol=1e-12)


def test_gradient_of_several_inputs_through_a_network(rng):
    W1, b1 = rng.standard_normal((5, 4)), rng.standard_normal((5, 1))
    W2 = rng.standard_normal((2, 5))
    X = rng.standard_normal((4, 6))

    def loss_fn(W1, b1, W2):
        h = np.tanh(W1 @ X + b1)
        return np.mean((W2 @ h) ** 2)

    _, (g1, gb, g2) = value_and_gradient(loss_fn, dlarray(W1), dlarray(b1), W2)
    np.testing.assert_allclose(extractdata(g1), numeric_grad(lambda w: float(loss_fn(w, b1, W2)), W1), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(extractdata(gb), numeric_grad(lambda b: float(loss_fn(W1, b, W2)), b1), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(g2, numeric_grad(lambda w: float(loss_fn(W1, b1, w)), W2), rtol=1e-5, atol=1e-8)


# --------------------------------------------------------------------------------------------
# MATLAB's documented examples


def test_rosenbrock_at_minus1_2():
    def rosenbrock(x):
        y = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
        return y, dlgradient(y, x)

    y, g = dlfeval(rosenbrock, dlarray(np.array([-1.0, 2.0])))
    assert float(y) == 104.0
    np.testing.assert_array_equal(extractdata(g), [396.0, 200.0])


# --------------------------------------------------------------------------------------------
# structure and dtypes


def test_nested_structure_and_dtypes_are_preserved(rng, monkeypatch):
    monkeypatch.setattr(autodiff, "WARN_DISCONNECTED", True)
    params = {
        "enc": {"W": dlarray(rng.standard_normal((3, 2)).astype(np.float32)), "b": np.zeros((3, 1), np.float32)},
        "dec": [dlarray(rng.standard_normal((2, 3)), "CB"), (np.float64(0.5), 1.5)],
        "unused": dlarray(np.ones(4, np.float32)),
        "steps": np.arange(3),
        "name": "net",
    }
    x = rng.standard_normal((2, 5)).astype(np.float32)

    def loss_fn(p):
        h = np.tanh(p["enc"]["W"] @ x + p["enc"]["b"])
        out = extractdata(p["dec"][0]).astype(np.float32) @ h * p["dec"][1][0] + p["dec"][1][1]
        return np.sum(out**2) + np.sum(p["dec"][0] ** 2)

    def model_loss(p):
        loss = loss_fn(p)
        return loss, dlgradient(loss, p)

    with pytest.warns(DisconnectedGradientWarning, match=r"\['unused'\]"):
        loss, g = dlfeval(model_loss, params)
    assert set(g) == set(params)
    assert type(g["enc"]) is dict and type(g["dec"]) is list and type(g["dec"][1]) is tuple
    assert type(g["enc"]["W"]) is dlarray and g["enc"]["W"].dtype == np.float32 and dims(g["enc"]["W"]) == ""
    assert type(g["enc"]["b"]) is np.ndarray and g["enc"]["b"].dtype == np.float32
    assert type(g["dec"][0]) is dlarray and dims(g["dec"][0]) == "CB" and g["dec"][0].dtype == np.float64
    assert isinstance(g["dec"][1][0], np.float64) and isinstance(g["dec"][1][1], float)
    assert type(g["unused"]) is dlarray and g["unused"].dtype == np.float32
    np.testing.assert_array_equal(extractdata(g["unused"]), np.zeros(4))
    assert g["steps"] is None and g["name"] is None
    # values: d/d dec[0] only through the explicit sum (extractdata cut the other path)
    np.testing.assert_allclose(extractdata(g["dec"][0]), 2 * extractdata(params["dec"][0]), rtol=1e-12)
    # d/d(scalar offset) = 2 * sum(out)
    W, b = extractdata(params["enc"]["W"]), params["enc"]["b"]
    out = extractdata(params["dec"][0]).astype(np.float32) @ np.tanh(W @ x + b) * 0.5 + 1.5
    assert np.isclose(g["dec"][1][1], 2 * out.sum(), rtol=1e-5)


def test_unused_input_gets_zeros_of_its_shape(monkeypatch):
    monkeypatch.setattr(autodiff, "WARN_DISCONNECTED", True)
    def f(a, b):
        loss = np.sum(a**2)
        return dlgradient(loss, a, b)

    with pytest.warns(DisconnectedGradientWarning, match="argument 3"):
        ga, gb = dlfeval(f, dlarray(np.ones((2, 3))), dlarray(np.ones((4, 1), np.float32), "CB"))
    np.testing.assert_array_equal(extractdata(ga), 2 * np.ones((2, 3)))
    assert gb.shape == (4, 1) and gb.dtype == np.float32 and dims(gb) == "CB"
    assert not np.any(extractdata(gb))


def test_two_wrt_arguments_return_a_tuple_and_one_returns_the_value():
    def f(a, b):
        loss = np.sum(a * b)
        one = dlgradient(loss, a)
        both = dlgradient(loss, a, b)
        return one, both

    one, both = dlfeval(f, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    assert isinstance(one, np.ndarray)
    assert isinstance(both, tuple) and len(both) == 2
    np.testing.assert_array_equal(both[0], [3.0, 4.0])
    np.testing.assert_array_equal(both[1], [1.0, 2.0])
    np.testing.assert_array_equal(one, both[0])


def test_several_dlgradient_calls_on_one_trace():
    def f(x, y):
        h = x * y
        l1 = np.sum(h**2)
        l2 = np.sum(np.sin(h))
        return dlgradient(l1, x), dlgradient(l2, y), dlgradient(l1 + l2, x)

    x, y = np.array([0.5, -1.0]), np.array([2.0, 0.3])
    g1, g2, g3 = dlfeval(f, x, y)
    np.testing.assert_allclose(g1, 2 * x * y**2)
    np.testing.assert_allclose(g2, np.cos(x * y) * x)
    np.testing.assert_allclose(g3, 2 * x * y**2 + np.cos(x * y) * y)


def test_same_leaf_twice_and_gradient_of_intermediate_leafs():
    def f(x):
        loss = np.sum(x**2)
        return dlgradient(loss, [x, x])

    g = dlfeval(f, np.array([1.0, 3.0]))
    assert type(g) is list
    np.testing.assert_array_equal(g[0], [2.0, 6.0])
    np.testing.assert_array_equal(g[1], [2.0, 6.0])


def test_python_float_leaves_are_differentiable():
    def f(a, x):
        loss = np.sum(a * x**2)
        return dlgradient(loss, a)

    g = dlfeval(f, 3.0, np.array([1.0, 2.0]))
    assert type(g) is float and g == 5.0


# --------------------------------------------------------------------------------------------
# higher derivatives


def test_second_derivative_of_sum_of_cubes():
    def f(x):
        y = np.sum(x**3)
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        assert isbox(data_of(g))  # still traced: can be differentiated again
        return g, dlgradient(np.sum(g), x)

    x = np.array([-1.0, 0.5, 2.0])
    g, h = dlfeval(f, dlarray(x))
    np.testing.assert_allclose(extractdata(g), 3 * x**2)
    np.testing.assert_allclose(extractdata(h), 6 * x)
    assert not g.is_traced and not h.is_traced


def test_gradient_penalty_matches_analytic_formula(rng):
    # L = sum(sin x), total = L + ||dL/dx||^2 = sum(sin x) + sum(cos^2 x)
    # d total / dx = cos x - 2 cos x sin x
    def f(x):
        L = np.sum(np.sin(x))
        g = dlgradient(L, x, EnableHigherDerivatives=True)
        total = L + np.sum(g**2)
        return total, dlgradient(total, x)

    x = rng.standard_normal(5)
    total, g = dlfeval(f, dlarray(x))
    np.testing.assert_allclose(float(total), np.sum(np.sin(x)) + np.sum(np.cos(x) ** 2), rtol=1e-12)
    np.testing.assert_allclose(extractdata(g), np.cos(x) - 2 * np.cos(x) * np.sin(x), rtol=1e-10)


def test_gradient_penalty_of_a_model_matches_finite_differences(rng):
    # penalty on the input-gradient of a tiny tanh model, differentiated w.r.t. the weights
    W = rng.standard_normal((3, 2))
    X = rng.standard_normal((2, 4))

    def total(W, X):
        loss = np.sum(np.tanh(W @ X) ** 2)
        gx = dlgradient(loss, X, EnableHigherDerivatives=True)
        return loss + np.sum(gx**2)

    def model(W, X):
        t = total(W, X)
        return dlgradient(t, W)

    g = dlfeval(model, W, X)

    def reference(Wv):
        T = np.tanh(Wv @ X)
        gx = Wv.T @ (2 * T * (1 - T**2))
        return np.sum(T**2) + np.sum(gx**2)

    np.testing.assert_allclose(g, numeric_grad(reference, W), rtol=1e-5, atol=1e-7)


def _burgers_like(w, X, T, nested):
    """PINN-style residual of u = tanh(w0 x + w1 t): u_t + u u_x (- 0.1 u_xx when nested)."""
    U = np.tanh(w[0] * X + w[1] * T)
    Ux = dlgradient(np.sum(U), X, EnableHigherDerivatives=True)
    Ut = dlgradient(np.sum(U), T, EnableHigherDerivatives=True)
    r = Ut + U * Ux
    if nested:
        r = r - 0.1 * dlgradient(np.sum(Ux), X, EnableHigherDerivatives=True)
    return np.mean(r**2)


def _burgers_reference(w, x, t, nested):
    u = np.tanh(w[0] * x + w[1] * t)
    d = 1 - u**2
    r = w[1] * d + u * w[0] * d
    if nested:
        r = r - 0.1 * (-2 * u * d * w[0] ** 2)
    return np.mean(r**2)


@pytest.mark.parametrize("nested", [False, True])
def test_pinn_style_independent_and_nested_higher_derivatives(nested, rng):
    # MATLAB's PINN pattern: several EnableHigherDerivatives calls on one forward pass (Ux, Ut, and Uxx
    # from Ux when nested), then a plain dlgradient w.r.t. the parameters.
    w, x, t = np.array([0.7, -0.4]), rng.standard_normal(6), rng.standard_normal(6)

    def model_loss(w, X, T):
        loss = _burgers_like(w, X, T, nested)
        return loss, dlgradient(loss, w)

    loss, g = dlfeval(model_loss, dlarray(w), dlarray(x), dlarray(t))
    np.testing.assert_allclose(float(loss), _burgers_reference(w, x, t, nested), rtol=1e-12)
    np.testing.assert_allclose(extractdata(g), numeric_grad(lambda v: _burgers_reference(v, x, t, nested), w), rtol=1e-6)


def test_higher_derivative_of_a_gradient_penalty_includes_the_path_through_the_first_gradient():
    # total = sum(sin x) + sum(cos^2 x); d total = cos x - sin 2x; d sum(d total) = -sin x - 2 cos 2x.
    # Differentiating total with EnableHigherDerivatives must include the path through the first gradient.
    def f(x):
        L = np.sum(np.sin(x))
        g = dlgradient(L, x, EnableHigherDerivatives=True)
        total = L + np.sum(g**2)
        d = dlgradient(total, x, EnableHigherDerivatives=True)
        return d, dlgradient(np.sum(d), x)

    x = np.array([0.3, -1.1, 2.0])
    d, h = dlfeval(f, dlarray(x))
    np.testing.assert_allclose(extractdata(d), np.cos(x) - np.sin(2 * x), rtol=1e-12)
    np.testing.assert_allclose(extractdata(h), -np.sin(x) - 2 * np.cos(2 * x), rtol=1e-12)


def test_third_derivative():
    def f(x):
        g = dlgradient(np.sum(x**4), x, EnableHigherDerivatives=True)
        g2 = dlgradient(np.sum(g), x, EnableHigherDerivatives=True)
        return dlgradient(np.sum(g2), x)

    x = np.array([1.0, -2.0])
    np.testing.assert_allclose(dlfeval(f, x), 24 * x)


def test_derivatives_nest_to_any_depth():
    # d^k/dx^k of sum(exp(2x) + x^6), k = 1..5, each from the previous one (no depth limit to configure)
    def f(x):
        out = []
        y = np.sum(np.exp(2 * x) + x**6)
        for _ in range(5):
            d = dlgradient(y, x, EnableHigherDerivatives=True)
            out.append(d)
            y = np.sum(d)
        return out

    x = np.array([0.3, -0.7])
    ds = dlfeval(f, x)
    falling = [6, 30, 120, 360, 720]  # 6!/(6-k)!
    for k, d in enumerate(ds, start=1):
        np.testing.assert_allclose(d, 2**k * np.exp(2 * x) + falling[k - 1] * x ** (6 - k), rtol=1e-12)


def test_higher_derivative_replay_keeps_dtype_and_structure():
    # float32 leaves in a dict: the traced gradients keep float32 and the dict's keys
    def f(p):
        loss = np.sum(p["a"] ** 3 * p["b"])
        g = dlgradient(loss, p, EnableHigherDerivatives=True)
        assert set(g) == {"a", "b"}
        return dlgradient(np.sum(g["a"]), p)

    p = {"a": np.array([1.0, 2.0], np.float32), "b": np.array([3.0, -1.0], np.float32)}
    h = dlfeval(f, p)
    # d/da sum(3 a^2 b) = 6 a b; d/db = 3 a^2
    np.testing.assert_allclose(h["a"], 6 * p["a"] * p["b"])
    np.testing.assert_allclose(h["b"], 3 * p["a"] ** 2)
    assert h["a"].dtype == np.float32 and h["b"].dtype == np.float32


# --------------------------------------------------------------------------------------------
# nesting, outputs, integer arrays


def test_nested_dlfeval():
    # values computed by an inner dlfeval stay traced by the outer one:
    # d/dx [sum(x^2) * sum(x)] = 2x sum(x) + sum(x^2)
    def outer(x):
        inner_loss = dlfeval(lambda y: np.sum(y**2) * np.sum(x), x)
        return dlgradient(inner_loss, x)

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(dlfeval(outer, x), 2 * x * x.sum() + np.sum(x**2))


@pytest.mark.parametrize("higher", [False, True])
def test_gradient_from_inner_dlfeval_is_traced_only_with_higher_derivatives(higher):
    # Like MATLAB, a plain dlgradient returns untraced gradients: the outer dlfeval then sees gi = 2x
    # as a constant (d/dx sum(gi * x) = 2x); with EnableHigherDerivatives it is traced (4x).
    def inner(y):
        return dlgradient(np.sum(y**2), y, EnableHigherDerivatives=higher)

    def outer(x):
        gi = dlfeval(inner, x)
        return gi, dlgradient(np.sum(gi * x), x)

    x = np.array([1.0, -2.0])
    gi, go = dlfeval(outer, x)
    np.testing.assert_allclose(gi, 2 * x)
    np.testing.assert_allclose(go, (4 if higher else 2) * x)


def test_outputs_of_dlfeval_are_untraced():
    def f(p, X):
        Y = np.tanh(p["W"] @ X)
        loss = np.mean(Y)
        return loss, Y, {"g": dlgradient(loss, p)}, [X * 2], "text", 3

    p = {"W": dlarray(np.ones((2, 3), np.float32))}
    X = dlarray(np.ones((3, 4), np.float32), "CB")
    loss, Y, g, lst, s, n = dlfeval(f, p, X)
    for v in (loss, Y, g["g"]["W"], lst[0]):
        assert type(v) is dlarray and not v.is_traced and not isbox(data_of(v))
        np.asarray(v)  # would raise NotTracedError if still traced
    assert dims(lst[0]) == "CB" and s == "text" and n == 3


def test_integer_arrays_are_not_boxed_and_index():
    def f(scores, labels, flags):
        assert not isbox(labels) and not isbox(flags)
        picked = scores[labels, np.arange(3)]
        loss = -np.sum(np.log(picked))
        return loss, dlgradient(loss, scores)

    s = np.full((4, 3), 0.25)
    loss, g = dlfeval(f, s, np.array([0, 2, 3]), np.array([True, False, True]))
    expected = np.zeros((4, 3))
    expected[[0, 2, 3], [0, 1, 2]] = -4.0
    np.testing.assert_allclose(g, expected)
    assert np.isclose(float(loss), 3 * np.log(4))


# --------------------------------------------------------------------------------------------
# float32 end to end, including inside the backward pass

_SEEN = []


@primitive
def _probe(x):
    return x


defvjp(_probe, lambda ans, x: lambda g: (_SEEN.append(np.asarray(g).dtype), g)[1])


def probe(X):
    """Identity whose backward pass records the dtype of the gradient arriving at X."""
    return wrap_like(_probe(data_of(X)), X)


FLOAT32_LOSSES = {
    "mean": lambda a: np.mean(a**2),
    "mean_axis": lambda a: np.sum(np.mean(a, axis=1) ** 2),
    "maximum": lambda a: np.sum(np.maximum(a, 0.0)),
    "maximum_float64_array": lambda a: np.sum(np.maximum(a, np.zeros((3, 4)))),
    "max": lambda a: np.max(a),
    "max_method": lambda a: a.max(),
    "min_axis": lambda a: np.sum(np.min(a, axis=0)),
    "var": lambda a: np.var(a),
    "std": lambda a: np.std(a),
    "where": lambda a: np.sum(np.where(extractdata(a) > 0, a, 0.0)),
    "float64_array_product": lambda a: np.sum(a * np.ones((3, 4))),
    "float64_scalar": lambda a: np.sum(a * np.float64(2.0)),
    "float64_matmul": lambda a: np.sum(np.ones((2, 3)) @ a),
    "float64_reshape": lambda a: np.sum(a.reshape(12) * np.linspace(0, 1, 12)),
    "float64_concat": lambda a: np.sum(np.concatenate([a, np.ones((3, 4))]) ** 2),
    "softmax_like": lambda a: np.sum(np.exp(a) / np.sum(np.exp(a), axis=0) * np.arange(3.0)[:, None]),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_LOSSES))
def test_float32_gradients_stay_float32_inside_the_backward_pass(name, rng):
    f = FLOAT32_LOSSES[name]
    x = rng.standard_normal((3, 4)).astype(np.float32)

    def model_loss(a):
        loss = f(probe(a))
        return loss, dlgradient(loss, a)

    _SEEN.clear()
    loss, g = dlfeval(model_loss, dlarray(x, "CB"))
    assert loss.dtype == np.float32
    assert g.dtype == np.float32
    assert _SEEN == [np.float32], f"gradient reached the input as {_SEEN}"
    # and it is the right gradient (float64 finite differences of the same function)
    expected = numeric_grad(lambda v: float(f(dlarray(v, "CB"))), x.astype(np.float64))
    np.testing.assert_allclose(extractdata(g), expected, rtol=2e-3, atol=2e-4)


def test_float64_leaf_mixed_with_float32_gets_float64_gradient():
    def f(a, b):
        loss = np.sum(a * b)
        return dlgradient(loss, a, b)

    a = np.array([1.0, 2.0], np.float32)
    b = np.array([3.0, 4.0])
    ga, gb = dlfeval(f, dlarray(a), dlarray(b))
    assert ga.dtype == np.float32 and gb.dtype == np.float64
    np.testing.assert_allclose(extractdata(ga), b)
    np.testing.assert_allclose(extractdata(gb), a)


# --------------------------------------------------------------------------------------------
# teaching errors


def test_dlgradient_outside_dlfeval_is_explained():
    X = dlarray(np.ones(3))
    with pytest.raises(NotTracedError) as info:
        dlgradient(np.sum(X), X)
    msg = str(info.value)
    assert "outside dlfeval" in msg
    assert "dlfeval(modelLoss, net, X, T)" in msg
    assert isinstance(info.value, DLTeachError)


def test_calling_the_model_loss_directly_is_explained():
    def modelLoss(X):
        loss = np.sum(X**2)
        return loss, dlgradient(loss, X)

    with pytest.raises(NotTracedError, match=r"dlfeval\(modelLoss"):
        modelLoss(dlarray(np.ones(3)))


def test_non_scalar_loss_suggests_sum_or_mean():
    def f(x):
        return dlgradient(x**2, x)

    with pytest.raises(NonScalarLossError) as info:
        dlfeval(f, dlarray(np.ones((2, 3))))
    msg = str(info.value)
    assert "non-scalar" in msg and "2x3" in msg and "np.sum" in msg and "np.mean" in msg


def test_complex_loss_is_explained():
    def f(x):
        return dlgradient(np.sum(x * 1j), x)

    with pytest.raises(NonScalarLossError, match="complex"):
        dlfeval(f, np.ones(2))


def test_wrt_created_inside_the_function_is_explained():
    def f(x):
        w = dlarray(np.ones(2))
        return dlgradient(np.sum(x * w), w)

    with pytest.raises(NotTracedError) as info:
        dlfeval(f, np.ones(2))
    msg = str(info.value)
    assert "not traced" in msg and "argument of dlfeval" in msg


def test_wrt_passed_through_extractdata_is_explained():
    def f(x):
        return dlgradient(np.sum(x**2), extractdata(x))

    with pytest.raises(NotTracedError, match="extractdata"):
        dlfeval(f, dlarray(np.ones(2)))


@pytest.mark.parametrize("cut", ["extractdata", "constant"])
def test_untraced_loss_is_explained(cut):
    def f(x):
        if cut == "extractdata":
            loss = dlarray(np.sum(extractdata(x) ** 2))
        else:
            loss = dlarray(np.array(3.0))
        return dlgradient(loss, x)

    with pytest.raises(NotTracedError) as info:
        dlfeval(f, dlarray(np.ones(2)))
    msg = str(info.value)
    assert "not traced" in msg and "extractdata" in msg


def test_dlgradient_without_wrt_and_dlfeval_without_function():
    with pytest.raises(TypeError, match="respect to"):
        dlfeval(lambda x: dlgradient(np.sum(x)), np.ones(2))
    with pytest.raises(TypeError, match="function to evaluate"):
        dlfeval(np.ones(2), np.ones(2))


@pytest.mark.parametrize("where", ["forward", "dlgradient", "after_gradient"])
def test_exception_inside_fun_leaves_no_tracing_state(where):
    top = trace_stack.top

    def f(x):
        if where == "forward":
            raise ValueError("boom")
        loss = np.sum(x**2)
        if where == "dlgradient":
            dlgradient(x, x)  # non-scalar: raises inside
        dlgradient(loss, x)
        raise ValueError("boom")

    with pytest.raises((ValueError, NonScalarLossError)):
        dlfeval(f, np.ones(2))
    assert trace_stack.top == top == -1
    assert autodiff._TAPES == []
    # and dlfeval works normally afterwards
    assert dlfeval(lambda x: dlgradient(np.sum(x**2), x), np.ones(2)).tolist() == [2.0, 2.0]


def test_inputs_not_requested_are_not_differentiated(rng):
    # the backward pass only follows paths to the requested inputs: no gradient is computed for the data X
    W = dlarray(rng.standard_normal((3, 4)).astype(np.float32))
    X = dlarray(rng.standard_normal((4, 5)).astype(np.float32), "CB")

    def model_loss(W, X):
        loss = np.sum(np.tanh(W @ probe(X)) ** 2)
        return dlgradient(loss, W), dlgradient(loss, X)

    _SEEN.clear()

    def only_w(W, X):
        loss = np.sum(np.tanh(W @ probe(X)) ** 2)
        return dlgradient(loss, W)

    gW = dlfeval(only_w, W, X)
    assert _SEEN == []
    gW2, gX = dlfeval(model_loss, W, X)
    assert _SEEN == [np.float32]
    np.testing.assert_array_equal(extractdata(gW), extractdata(gW2))
    w, x = extractdata(W).astype(np.float64), extractdata(X).astype(np.float64)
    np.testing.assert_allclose(extractdata(gW), numeric_grad(lambda v: np.sum(np.tanh(v @ x) ** 2), w), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(extractdata(gX), numeric_grad(lambda v: np.sum(np.tanh(w @ v) ** 2), x), rtol=1e-3, atol=1e-4)


def test_gradient_penalty_through_fused_fullyconnect_and_softmax(rng):
    # fullyconnect and softmax are single fused primitives with hand VJPs: their VJPs must be
    # differentiable again (EnableHigherDerivatives), checked against finite differences in float64
    from dlteach import fullyconnect, softmax

    W = rng.standard_normal((3, 4))
    b = rng.standard_normal((3, 1))
    X = rng.standard_normal((4, 5))
    C = rng.standard_normal((3, 5))

    def model(W, b, X):
        Y = softmax(fullyconnect(dlarray(X, "CB"), W, b))
        loss = np.sum(stripdims(Y) * C)
        gx = dlgradient(loss, X, EnableHigherDerivatives=True)
        return dlgradient(np.sum(gx ** 2), W, b)

    gW, gb = dlfeval(model, W, b, X)

    def penalty(Wv, bv):  # d loss / d X by hand: Wᵀ (y ⊙ (C − Σ_c C ⊙ y))
        Z = Wv @ X + bv
        E = np.exp(Z - Z.max(axis=0))
        Y = E / E.sum(axis=0)
        gx = Wv.T @ (Y * (C - np.sum(C * Y, axis=0)))
        return np.sum(gx ** 2)

    np.testing.assert_allclose(gW, numeric_grad(lambda Wv: penalty(Wv, b), W), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gb, numeric_grad(lambda bv: penalty(W, bv), b), rtol=1e-5, atol=1e-7)


def test_operation_without_gradient_fails_only_when_differentiated():
    # VJPs are built in the reverse pass, only on the paths it follows: an operation without a gradient
    # is fine on a side path (a logged statistic) and named in the error when the loss goes through it
    @primitive
    def no_grad_op(x):
        return x * 2.0

    def side_path(x):
        stat = no_grad_op(x)  # recorded, but the loss does not use it
        return stat, dlgradient(np.sum(x**2), x)

    stat, g = dlfeval(side_path, np.array([1.0, 3.0]))
    np.testing.assert_allclose(stat, [2.0, 6.0])
    np.testing.assert_allclose(g, [2.0, 6.0])
    with pytest.raises(NotImplementedError, match="no_grad_op"):
        dlfeval(lambda x: dlgradient(np.sum(no_grad_op(x)), x), np.array([1.0, 3.0]))
    assert autodiff._TAPES == [] and trace_stack.top == -1


def test_gradient_penalty_through_convolution_and_pooling(rng):
    # EnableHigherDerivatives replays the recorded graph: through dlconv (im2col hand-off), relu,
    # maxpool, fullyconnect, softmax and crossentropy; float64 against central differences
    from dlteach import crossentropy, dlconv, fullyconnect, maxpool, relu, softmax

    X = rng.standard_normal((6, 6, 2, 3))
    Wc = rng.standard_normal((3, 3, 2, 4)) * 0.5
    bc = rng.standard_normal((4, 1)) * 0.1
    Wf = rng.standard_normal((3, 2 * 2 * 4)) * 0.5
    T = np.eye(3)[:, [0, 2, 1]]

    def loss_fn(Wc, X):
        Y = relu(dlconv(dlarray(X, "SSCB"), Wc, bc))
        Y = maxpool(Y, 2, Stride=2)
        return crossentropy(softmax(fullyconnect(Y, Wf, np.zeros((3, 1)))), dlarray(T, "CB"))

    def penalty(Wc, X):
        gx = dlgradient(loss_fn(Wc, X), X, EnableHigherDerivatives=True)
        p = np.sum(gx**2)
        return p, dlgradient(p, Wc)

    p, g = dlfeval(penalty, Wc, X)
    value = lambda w: float(dlfeval(lambda w, x: penalty(w, x)[0], w, X))  # noqa: E731
    np.testing.assert_allclose(float(p), value(Wc), rtol=1e-12)
    assert np.abs(g).max() > 1e-3  # the penalty does depend on the weights
    np.testing.assert_allclose(g, numeric_grad(value, Wc), rtol=1e-5, atol=1e-8)


# --------------------------------------------------------------------------------------------
# crossentropy of a softmax: the reverse pass gives the logits their gradient in one step

from dlteach import crossentropy, softmax  # noqa: E402  (this section's own imports)
from dlteach import primitives as _prim  # noqa: E402


@pytest.fixture
def fused_spy(monkeypatch):
    """Counts the one-step gradients dlgradient used; ``off()`` makes it always decline (the three VJPs run)."""
    used = []
    real = autodiff.softmax_crossentropy_gradient

    def spy(*args):
        out = real(*args)
        used.append(out is not None)
        return out

    monkeypatch.setattr(autodiff, "softmax_crossentropy_gradient", spy)

    def off():
        monkeypatch.setattr(autodiff, "softmax_crossentropy_gradient", lambda *args: None)

    spy.used, spy.off = used, off
    return spy


def _ce_grads(Z, T, extra=None, wrt_targets=False):
    def model_loss(Z, T):
        Y = softmax(Z)
        loss = crossentropy(Y, T)
        if extra is not None:
            loss = loss + extra(Y)
        if wrt_targets:
            return dlgradient(loss, Z, T)
        return dlgradient(loss, Z)

    out = dlfeval(model_loss, dlarray(Z, "CB"), dlarray(T, "CB"))
    return tuple(extractdata(g) for g in out) if wrt_targets else extractdata(out)


def _one_hot(labels, k, dtype):
    T = np.zeros((k, len(labels)), dtype)
    T[labels, np.arange(len(labels))] = 1
    return T


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_crossentropy_one_step_gradient_is_the_hand_formula(rng, fused_spy, dtype):
    Z = rng.standard_normal((5, 7)).astype(dtype)
    labels = rng.integers(0, 5, 7)
    T = _one_hot(labels, 5, dtype)
    g = _ce_grads(Z, T)
    assert fused_spy.used == [True] and g.dtype == dtype
    E = np.exp(Z.astype(np.float64) - Z.max(axis=0))
    hand = (E / E.sum(axis=0) - T) / 7  # d/dZ of mean over the batch of -log softmax(Z)[label]
    np.testing.assert_allclose(g, hand, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-7 if dtype == np.float32 else 1e-15)
    fused_spy.off()
    chain = _ce_grads(Z, T)  # the three VJPs
    np.testing.assert_allclose(g, chain, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-8 if dtype == np.float32 else 1e-16)


def test_softmax_crossentropy_one_step_gradient_with_soft_labels_matches_torch(rng, fused_spy):
    torch = pytest.importorskip("torch")
    Z = rng.standard_normal((4, 6))
    T = rng.random((4, 6))
    T /= T.sum(axis=0)
    g = _ce_grads(Z, T)
    assert fused_spy.used == [True]
    z = torch.tensor(Z.T, requires_grad=True)
    torch.nn.functional.cross_entropy(z, torch.tensor(T.T)).backward()  # probabilities as targets: mean over batch
    np.testing.assert_allclose(g, z.grad.numpy().T, rtol=1e-12, atol=1e-15)


def test_softmax_crossentropy_clamped_probabilities_of_zero_targets_keep_the_one_step(rng, fused_spy):
    # huge logit gaps: the non-target probabilities underflow below eps; their chain gradient is 0 either way
    Z = np.array([[60.0, 0.0, 1.0], [0.0, 70.0, 2.0], [-5.0, 0.0, 3.0]], np.float32)
    T = _one_hot([0, 1, 2], 3, np.float32)
    Y = extractdata(softmax(dlarray(Z, "CB")))
    assert Y.min() < np.finfo(np.float32).eps  # the clamp is active
    g = _ce_grads(Z, T)
    assert fused_spy.used == [True]
    fused_spy.off()
    np.testing.assert_allclose(g, _ce_grads(Z, T), rtol=1e-6, atol=1e-9)


def test_softmax_crossentropy_clamped_target_probability_uses_the_three_vjps(fused_spy):
    # the target class has probability < eps: its clamped gradient is 0 (the chain), not Y - T
    Z = np.array([[80.0, 0.0], [0.0, 1.0]], np.float32)
    T = _one_hot([1, 1], 2, np.float32)
    g = _ce_grads(Z, T)
    assert fused_spy.used == [False]
    np.testing.assert_array_equal(g[:, 0], 0.0)  # no gradient through max(Y, eps) below eps
    fused_spy.off()
    np.testing.assert_array_equal(g, _ce_grads(Z, T))


def test_softmax_crossentropy_other_uses_keep_the_three_vjps(rng, fused_spy):
    Z = rng.standard_normal((3, 4))
    T = _one_hot([0, 1, 2, 0], 3, np.float64)
    # Y used again in the loss, and the gradient of the targets asked for: the one step does not apply
    g = _ce_grads(Z, T, extra=lambda Y: np.sum(Y[0] ** 2))
    gz, gt = _ce_grads(Z, T, wrt_targets=True)
    assert fused_spy.used == []
    loss = lambda z: float(extractdata(crossentropy(softmax(dlarray(z, "CB")), dlarray(T, "CB"))))  # noqa: E731
    sm = lambda z: np.exp(z) / np.exp(z).sum(axis=0)  # noqa: E731
    np.testing.assert_allclose(g, numeric_grad(lambda z: loss(z) + np.sum(sm(z)[0] ** 2), Z), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(gz, numeric_grad(loss, Z), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(gt, -np.log(sm(Z)) / 4, rtol=1e-12)


def test_softmax_crossentropy_one_step_declines_nan_and_mixed_dtypes():
    y = np.array([[0.5, np.nan], [0.5, 0.3]], np.float32)
    t = np.array([[1, 0], [0, 1]], np.float32)
    one = np.array(1, np.float32)
    assert _prim.softmax_crossentropy_gradient(one, 0.5, y, t, 1e-7, 0) is None
    assert _prim.softmax_crossentropy_gradient(one, 0.5, y.astype(np.float64), t, 1e-7, 0) is None  # mixed dtypes
    ok = np.array([[0.25, 0.5], [0.75, 0.5]], np.float32)
    out = _prim.softmax_crossentropy_gradient(one, 0.5, ok, t, 1e-7, 0)
    np.testing.assert_array_equal(out, (ok - t) * np.float32(0.5))
    assert out.dtype == np.float32


def test_softmax_crossentropy_one_step_also_inside_a_larger_loss(rng, fused_spy):
    # crossentropy + weight decay, or scaled: the same one step, so the gradient of a parameter the penalty does
    # not touch (the bias) is bit for bit the one of crossentropy alone
    from dlteach import fullyconnect

    W = dlarray(rng.standard_normal((4, 3)).astype(np.float32))
    b = dlarray(rng.standard_normal((4, 1)).astype(np.float32))
    X = dlarray(rng.standard_normal((3, 5)).astype(np.float32), "CB")
    T = dlarray(_one_hot([0, 1, 2, 3, 0], 4, np.float32), "CB")

    def model_loss(W, b, X, T, decay, factor):
        loss = factor * crossentropy(softmax(fullyconnect(X, W, b)), T)
        if decay:
            loss = loss + decay * np.sum(W * W)
        return dlgradient(loss, W, b)

    gW, gb = (extractdata(g) for g in dlfeval(model_loss, W, b, X, T, 0.0, 1.0))
    gW2, gb2 = (extractdata(g) for g in dlfeval(model_loss, W, b, X, T, 0.01, 1.0))
    gW3, gb3 = (extractdata(g) for g in dlfeval(model_loss, W, b, X, T, 0.0, 3.0))
    assert fused_spy.used == [True, True, True]
    np.testing.assert_array_equal(gb2, gb)
    np.testing.assert_allclose(gW2, gW + 0.02 * extractdata(W), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gb3, 3 * gb, rtol=1e-5, atol=1e-7)
