"""Tests of dlteach.nnc: Neural Network Console layers with nnabla semantics, and NNC's loss rule.

References: hand formulas in float64 NumPy (the nnabla definitions), PyTorch as an oracle where it has
the same element-wise loss, and central finite differences in float64 for gradients.
"""

import numpy as np
import pytest
from finite_differences import numeric_grad  # tests/finite_differences.py

from dlteach import dims, dlarray, dlfeval, dlgradient, extractdata
from dlteach.errors import FormatError, ProbabilityError, SizeMismatchError
from dlteach.formats import data_of
from dlteach.nnc import (
    FLT_MIN,
    Abs,
    AbsoluteError,
    Add2,
    AddScalar,
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    Div2,
    Exp,
    HuberLoss,
    Log,
    Mean,
    Mul2,
    MulScalar,
    Pow2,
    PowScalar,
    RSubScalar,
    SigmoidCrossEntropy,
    SoftmaxCrossEntropy,
    SquaredError,
    Sub2,
    Sum,
    nnc_loss,
    optimized_loss,
)

TORCH_REASON = "PyTorch is the oracle for these element-wise losses"


def rng(seed=0):
    return np.random.default_rng(seed)


def data(x):
    return extractdata(x) if isinstance(x, dlarray) else np.asarray(x)


def grad_of_sum(layer, *args, wrt=0):
    """d sum(layer(*args)) / d args[wrt] through dlfeval / dlgradient."""

    def fun(*a):
        return dlgradient(Sum(layer(*a)), a[wrt])

    return data(dlfeval(fun, *args))


def np_softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# -------------------------------------------------------------------------------------------------
# loss layers: values

def test_squared_error_no_half_no_mean_matches_torch():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    r = rng(0)
    a, b = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    y = SquaredError(a, b)
    np.testing.assert_allclose(data(y), (a - b) ** 2, rtol=1e-14)
    ref = torch.nn.functional.mse_loss(torch.tensor(a), torch.tensor(b), reduction="none").numpy()
    np.testing.assert_allclose(data(y), ref, rtol=1e-14)
    np.testing.assert_allclose(grad_of_sum(SquaredError, a, b), 2 * (a - b), rtol=1e-12)
    np.testing.assert_allclose(grad_of_sum(SquaredError, a, b, wrt=1), -2 * (a - b), rtol=1e-12)


def test_absolute_error_matches_torch_and_gradient_is_minus_one_at_zero():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    r = rng(1)
    a, b = r.standard_normal((2, 5)), r.standard_normal((2, 5))
    b[0, 0] = a[0, 0]
    ref = torch.nn.functional.l1_loss(torch.tensor(a), torch.tensor(b), reduction="none").numpy()
    np.testing.assert_allclose(data(AbsoluteError(a, b)), ref, rtol=1e-14)
    g = grad_of_sum(AbsoluteError, a, b)
    expected = np.where(a - b > 0, 1.0, -1.0)  # nnabla: -1 where x0 - x1 <= 0
    np.testing.assert_array_equal(g, expected)
    assert g[0, 0] == -1.0


@pytest.mark.parametrize("delta", [1.0, 0.7, 2.0])
def test_huber_loss_is_twice_torch_huber(delta):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    r = rng(2)
    a, b = r.standard_normal((4, 6)) * 2, r.standard_normal((4, 6))
    d = a - b
    hand = np.where(np.abs(d) < delta, d**2, delta * (2 * np.abs(d) - delta))
    ref = 2 * torch.nn.functional.huber_loss(torch.tensor(a), torch.tensor(b), reduction="none", delta=delta).numpy()
    y = HuberLoss(a, b, delta=delta)
    np.testing.assert_allclose(data(y), hand, rtol=1e-12)
    np.testing.assert_allclose(data(y), ref, rtol=1e-12)
    g = grad_of_sum(lambda x0, x1: HuberLoss(x0, x1, delta=delta), a, b)
    np.testing.assert_allclose(g, 2 * np.where(np.abs(d) < delta, d, np.sign(d) * delta), rtol=1e-12)


def test_binary_cross_entropy_matches_torch_soft_targets_and_clamp():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    r = rng(3)
    x = r.uniform(0.02, 0.98, (3, 5))
    t = r.random((3, 5))  # soft targets
    ref = torch.nn.functional.binary_cross_entropy(torch.tensor(x), torch.tensor(t), reduction="none").numpy()
    np.testing.assert_allclose(data(BinaryCrossEntropy(x, t)), ref, rtol=1e-12)
    # gradient to the (soft) target: -(ln x - ln(1 - x))
    np.testing.assert_allclose(grad_of_sum(BinaryCrossEntropy, x, t, wrt=1), -(np.log(x) - np.log(1 - x)), rtol=1e-12)
    np.testing.assert_allclose(grad_of_sum(BinaryCrossEntropy, x, t), (x - t) / (x * (1 - x)), rtol=1e-10)
    # clamp ln(max(x, FLT_MIN)): a certain wrong answer costs -ln(FLT_MIN) ~ 87.3
    y = data(BinaryCrossEntropy(np.array([0.0, 1.0]), np.array([1.0, 0.0])))
    np.testing.assert_allclose(y, -np.log(float(np.finfo(np.float32).tiny)) * np.ones(2), rtol=1e-12)
    assert FLT_MIN == np.finfo(np.float32).tiny


def test_sigmoid_cross_entropy_matches_torch_and_is_stable():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    r = rng(4)
    x = r.standard_normal((3, 6)) * 4
    x[0, :3] = [0.0, 300.0, -300.0]
    t = (r.random((3, 6)) > 0.5).astype(float)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(x), torch.tensor(t), reduction="none")
    y = data(SigmoidCrossEntropy(x, t))
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-12, atol=1e-300)
    g = grad_of_sum(SigmoidCrossEntropy, x, t)
    np.testing.assert_allclose(g, 1 / (1 + np.exp(-x)) - t, rtol=1e-10, atol=1e-15)


def _cce_case(seed=5, C=4, N=7):
    r = rng(seed)
    z = r.standard_normal((C, N))
    labels = r.integers(0, C, N)
    labels[2] = -1
    return z, labels


def test_categorical_cross_entropy_matches_torch_nll_and_ignores_minus_one():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    z, labels = _cce_case()
    p = np_softmax(z, axis=0)
    t = labels.reshape(1, -1)
    y = CategoricalCrossEntropy(dlarray(p, "CB"), t)  # default axis: the 'C' dimension
    assert dims(y) == "CB" and y.shape == (1, 7)
    ref = torch.nn.functional.nll_loss(torch.log(torch.tensor(p.T)), torch.tensor(labels), reduction="none",
                                       ignore_index=-1).numpy()
    np.testing.assert_allclose(data(y)[0], ref, rtol=1e-12)
    assert data(y)[0, 2] == 0.0
    g = grad_of_sum(lambda x: CategoricalCrossEntropy(x, t), dlarray(p, "CB"))
    expected = np.zeros_like(p)
    ok = labels >= 0
    expected[labels[ok], np.nonzero(ok)[0]] = -1 / p[labels[ok], np.nonzero(ok)[0]]
    np.testing.assert_allclose(g, expected, rtol=1e-12)
    assert np.all(g[:, 2] == 0.0)


def test_softmax_cross_entropy_matches_torch_and_gradient_is_softmax_minus_onehot():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    z, labels = _cce_case(seed=6)
    t = labels.reshape(1, -1)
    y = SoftmaxCrossEntropy(dlarray(z, "CB"), t)
    ref = torch.nn.functional.cross_entropy(torch.tensor(z.T), torch.tensor(labels), reduction="none",
                                            ignore_index=-1).numpy()
    np.testing.assert_allclose(data(y)[0], ref, rtol=1e-12)
    g = grad_of_sum(lambda x: SoftmaxCrossEntropy(x, t), dlarray(z, "CB"))
    onehot = (np.arange(4)[:, None] == labels[None, :]).astype(float)
    expected = (np_softmax(z, 0) - onehot) * (labels >= 0)
    np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-14)
    assert np.all(g[:, 2] == 0.0)


def test_categorical_layers_with_explicit_axis_in_nnc_layout():
    # NNC data is N x C: axis=1, labels N x 1
    z, labels = _cce_case(seed=7)
    zt, tt = z.T.copy(), labels.reshape(-1, 1)
    a = data(SoftmaxCrossEntropy(zt, tt, axis=1))[:, 0]
    b = data(SoftmaxCrossEntropy(dlarray(z, "CB"), labels.reshape(1, -1)))[0]
    np.testing.assert_allclose(a, b, rtol=1e-14)
    c = data(CategoricalCrossEntropy(np_softmax(zt, 1), tt, axis=-1))[:, 0]
    np.testing.assert_allclose(c, b, rtol=1e-10)
    # unformatted: default axis 0 (MATLAB's C x N layout)
    np.testing.assert_allclose(data(SoftmaxCrossEntropy(z, labels.reshape(1, -1)))[0], b, rtol=1e-14)


def test_softmax_cross_entropy_equals_categorical_of_softmax_with_gradients():
    z, labels = _cce_case(seed=8)
    t = labels.reshape(1, -1)
    a = SoftmaxCrossEntropy(z, t)
    b = CategoricalCrossEntropy(np_softmax(z, 0), t)
    np.testing.assert_allclose(data(a), data(b), rtol=1e-10)

    def f(zz):
        return float(data(Sum(SoftmaxCrossEntropy(zz, t))))

    np.testing.assert_allclose(grad_of_sum(lambda x: SoftmaxCrossEntropy(x, t), z), numeric_grad(f, z), rtol=1e-6, atol=1e-9)


# -------------------------------------------------------------------------------------------------
# loss layers: teaching errors

def test_label_errors_teach():
    z, labels = _cce_case()
    onehot = (np.arange(4)[:, None] == labels[None, :]).astype(float)
    with pytest.raises(SizeMismatchError, match="INDICES") as e:
        SoftmaxCrossEntropy(z, onehot)
    assert "argmax" in str(e.value)
    with pytest.raises(SizeMismatchError, match=r"Reshape them: t.reshape\(\(1, 7\)\)"):
        SoftmaxCrossEntropy(z, labels)
    with pytest.raises(ValueError, match="0..3"):
        SoftmaxCrossEntropy(z, np.full((1, 7), 4))
    with pytest.raises(ValueError, match="integer class indices"):
        CategoricalCrossEntropy(np_softmax(z, 0), np.full((1, 7), 0.5))
    with pytest.raises(FormatError, match="'CB'"):
        SoftmaxCrossEntropy(dlarray(z, "CB"), dlarray(labels.reshape(1, -1), "CT"))


def test_probability_layers_reject_logits():
    z = rng(9).standard_normal((3, 4)) * 3
    with pytest.raises(ProbabilityError, match="SigmoidCrossEntropy"):
        BinaryCrossEntropy(z, np.ones((3, 4)))
    with pytest.raises(ProbabilityError, match="SoftmaxCrossEntropy"):
        CategoricalCrossEntropy(z, np.zeros((1, 4)))


def test_two_input_layers_follow_nnabla_shape_rule():
    a = np.ones((3, 4))
    np.testing.assert_allclose(data(Add2(a, np.arange(4.0).reshape(1, 4))), 1 + np.arange(4.0)[None, :] * a)
    with pytest.raises(SizeMismatchError, match="same number of dimensions") as e:
        Add2(a, np.ones(4))
    assert "3x4" in str(e.value)
    with pytest.raises(SizeMismatchError):
        SquaredError(a, np.ones((3, 5)))
    with pytest.raises(TypeError, match="AddScalar"):
        Add2(a, 2.0)


# -------------------------------------------------------------------------------------------------
# math / arithmetic layers

def test_arithmetic_values_and_defaults():
    r = rng(10)
    a, b = r.uniform(0.5, 2, (2, 3)), r.uniform(0.5, 2, (2, 3))
    np.testing.assert_allclose(data(Add2(a, b)), a + b)
    np.testing.assert_allclose(data(Sub2(a, b)), a - b)
    np.testing.assert_allclose(data(Mul2(a, b)), a * b)
    np.testing.assert_allclose(data(Div2(a, b)), a / b)
    np.testing.assert_allclose(data(Pow2(a, b)), a**b)
    np.testing.assert_allclose(data(AddScalar(a)), a + 1)
    np.testing.assert_allclose(data(AddScalar(a, 2.5)), a + 2.5)
    np.testing.assert_allclose(data(MulScalar(a)), a)
    np.testing.assert_allclose(data(MulScalar(a, -3)), -3 * a)
    np.testing.assert_allclose(data(PowScalar(a)), a)
    np.testing.assert_allclose(data(PowScalar(a, 0.5)), np.sqrt(a))
    np.testing.assert_allclose(data(RSubScalar(a)), 1 - a)
    np.testing.assert_allclose(data(RSubScalar(a, 4)), 4 - a)
    np.testing.assert_allclose(data(Exp(a)), np.exp(a))
    np.testing.assert_allclose(data(Log(a)), np.log(a))
    np.testing.assert_allclose(data(Abs(a - b)), np.abs(a - b))


@pytest.mark.parametrize("name", ["Add2", "Sub2", "Mul2", "Div2", "Pow2"])
def test_binary_layer_gradients_match_finite_differences(name):
    layer = {"Add2": Add2, "Sub2": Sub2, "Mul2": Mul2, "Div2": Div2, "Pow2": Pow2}[name]
    r = rng(11)
    a, b = r.uniform(0.5, 2, (2, 3)), r.uniform(0.5, 2, (1, 3))  # b broadcasts over a size-1 dim
    w = r.standard_normal((2, 3))

    def f(x0, x1):
        return Sum(Mul2(layer(x0, x1), w))

    ga, gb = dlfeval(lambda x0, x1: dlgradient(f(x0, x1), x0, x1), a, b)
    assert np.shape(ga) == a.shape and np.shape(gb) == b.shape
    np.testing.assert_allclose(data(ga), numeric_grad(lambda x: float(data(f(x, b))), a), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(data(gb), numeric_grad(lambda x: float(data(f(a, x))), b), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["AddScalar", "MulScalar", "PowScalar", "RSubScalar", "Exp", "Log", "Abs"])
def test_unary_layer_gradients_match_finite_differences(name):
    layer = {
        "AddScalar": lambda x: AddScalar(x, 0.3), "MulScalar": lambda x: MulScalar(x, -1.7),
        "PowScalar": lambda x: PowScalar(x, 2.5), "RSubScalar": lambda x: RSubScalar(x, 2.0),
        "Exp": Exp, "Log": Log, "Abs": lambda x: Abs(x - 1.2),
    }[name]
    x = rng(12).uniform(0.5, 2, (3, 2))
    w = rng(13).standard_normal((3, 2))

    def f(v):
        return Sum(Mul2(layer(v), w))

    g = dlfeval(lambda v: dlgradient(f(v), v), x)
    np.testing.assert_allclose(data(g), numeric_grad(lambda v: float(data(f(v))), x), rtol=1e-6, atol=1e-9)


SCALAR_LAYERS = {"AddScalar": AddScalar, "MulScalar": MulScalar, "PowScalar": PowScalar, "RSubScalar": RSubScalar}
# hand formulas of d sum(w * layer(x, v)) / dv
SCALAR_VAL_GRADIENTS = {
    "AddScalar": lambda x, v, w: np.sum(w),
    "MulScalar": lambda x, v, w: np.sum(w * x),
    "PowScalar": lambda x, v, w: np.sum(w * x**v * np.log(x)),
    "RSubScalar": lambda x, v, w: np.sum(w),
}
# how the learner passes the traced scale: a dlarray, a Python number, a one-element array
VAL_KINDS = {"dlarray": lambda v: dlarray(np.array(v)), "float": float, "1-element array": lambda v: np.array([v])}


@pytest.mark.parametrize("kind", sorted(VAL_KINDS))
@pytest.mark.parametrize("name", sorted(SCALAR_LAYERS))
def test_scalar_layers_differentiate_a_traced_val(name, kind):
    # NNC's val is a fixed number; passed through dlfeval it is traced and gets its gradient
    layer = SCALAR_LAYERS[name]
    r = rng(30)
    x = r.uniform(0.5, 2, (3, 2))
    w = r.standard_normal((3, 2))
    v = 1.7

    def f(xx, vv):
        return Sum(Mul2(layer(xx, vv), w))

    gx, gv = dlfeval(lambda xx, vv: dlgradient(f(xx, vv), xx, vv), x, VAL_KINDS[kind](v))
    assert np.shape(gv) == np.shape(VAL_KINDS[kind](v))
    assert float(np.ravel(data(gv))[0]) == pytest.approx(SCALAR_VAL_GRADIENTS[name](x, v, w), rel=1e-10)
    np.testing.assert_allclose(np.ravel(data(gv)), numeric_grad(lambda a: float(data(f(x, float(a)))), v).ravel(),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(data(gx), numeric_grad(lambda a: float(data(f(a, v))), x), rtol=1e-6, atol=1e-9)
    # the value itself is the one of the constant val
    np.testing.assert_allclose(data(dlfeval(lambda vv: layer(x, vv), VAL_KINDS[kind](v))), data(layer(x, v)), rtol=1e-15)


def test_mul_scalar_learns_a_scale_with_dlfeval():
    # the case of the bug report: MulScalar(x, lambda) with lambda traced; dL/dlambda = sum(x * dL/dy)
    x = np.array([[1.0, -2.0], [0.5, 3.0]])

    def model_loss(lam):
        loss = nnc_loss(SquaredError(MulScalar(x, lam), 2 * x))
        return loss, dlgradient(loss, lam)

    loss, g = dlfeval(model_loss, dlarray(np.array(1.5)))
    assert float(data(loss)) == pytest.approx(np.mean((1.5 * x - 2 * x) ** 2), rel=1e-14)
    assert float(data(g)) == pytest.approx(np.mean(2 * (1.5 * x - 2 * x) * x), rel=1e-14)


def test_pow_scalar_val_gradient_matches_torch_at_zero():
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle of d(x^v)/dv at x = 0")
    x = np.array([0.0, 0.5, 2.0, 0.0])
    for v in (0.0, 1.5, 3.0):
        gv = dlfeval(lambda vv: dlgradient(Sum(PowScalar(x, vv)), vv), dlarray(np.array(v)))
        vt = torch.tensor(v, dtype=torch.float64, requires_grad=True)
        torch.pow(torch.tensor(x), vt).sum().backward()
        assert np.isfinite(float(data(gv)))
        assert float(data(gv)) == pytest.approx(vt.grad.item(), rel=1e-12)


def test_pow_scalar_second_derivative_wrt_val():
    x = np.array([0.5, 1.5, 2.0])
    v = 1.3

    def fun(vv):
        g = dlgradient(Sum(PowScalar(x, vv)), vv, EnableHigherDerivatives=True)
        return g, dlgradient(g, vv)

    g, h = dlfeval(fun, dlarray(np.array(v)))
    assert float(data(g)) == pytest.approx(np.sum(x**v * np.log(x)), rel=1e-12)
    assert float(data(h)) == pytest.approx(np.sum(x**v * np.log(x) ** 2), rel=1e-12)


@pytest.mark.parametrize("name", sorted(SCALAR_LAYERS))
def test_scalar_layers_keep_float32_with_a_float64_val(name):
    layer = SCALAR_LAYERS[name]
    x = rng(31).uniform(0.5, 2, (3, 4)).astype(np.float32)
    X = dlarray(x, "CB")
    for val in (2.5, np.float64(2.5), np.array(2.5), dlarray(np.array(2.5)), np.int64(2)):
        y = layer(X, val)
        assert y.dtype == np.float32 and dims(y) == "CB"
        np.testing.assert_allclose(data(y), data(layer(x.astype(np.float64), float(val))), rtol=1e-6)
    # single wins the other way round too: a float32 val makes a float64 x's result single
    assert layer(x.astype(np.float64), np.float32(2.5)).dtype == np.float32

    def fun(xx, vv):
        loss = nnc_loss(layer(xx, vv))
        return loss, dlgradient(loss, xx, vv)

    loss, (gx, gv) = dlfeval(fun, X, dlarray(np.array(2.5)))
    assert loss.dtype == np.float32 and gx.dtype == np.float32
    assert gv.dtype == np.float64  # a gradient has its variable's class


def test_scalar_layers_explain_a_bad_val():
    from dlteach.errors import ArgumentError, DLTeachError

    x = np.ones((2, 3))
    with pytest.raises(ArgumentError, match="Mul2") as e:
        MulScalar(x, np.ones(3))
    assert isinstance(e.value, DLTeachError) and "one number" in str(e.value)
    with pytest.raises(ArgumentError, match="Pow2"):
        dlfeval(lambda v: PowScalar(x, v), dlarray(np.ones((2, 1))))
    with pytest.raises(ArgumentError, match="real number"):
        AddScalar(x, "2")


def test_abs_gradient_is_plus_one_at_zero():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(grad_of_sum(Abs, x), [-1.0, 1.0, 1.0])


def test_pow_scalar_second_derivative():
    x = np.array([0.5, 1.5, -2.0])

    def fun(v):
        g = dlgradient(Sum(PowScalar(v, 3)), v, EnableHigherDerivatives=True)
        return g, dlgradient(Sum(g), v)

    g, h = dlfeval(fun, x)
    np.testing.assert_allclose(data(g), 3 * x**2, rtol=1e-12)
    np.testing.assert_allclose(data(h), 6 * x, rtol=1e-12)


def test_sum_and_mean_axes_keep_dims_and_formats():
    r = rng(14)
    X = r.standard_normal((3, 4, 2))
    Xd = dlarray(X, "CBT")
    s = Sum(Xd, axes=1)
    assert dims(s) == "CT" and s.shape == (3, 2)
    np.testing.assert_allclose(data(s), X.sum(axis=1))
    m = Mean(Xd, axes=[0, 2], keep_dims=True)
    assert dims(m) == "CBT" and m.shape == (1, 4, 1)
    np.testing.assert_allclose(data(m), X.mean(axis=(0, 2), keepdims=True))
    total = Mean(Xd)
    assert dims(total) == "" and total.size == 1
    assert float(data(total)) == pytest.approx(X.mean(), rel=1e-14)
    assert float(data(Sum(X))) == pytest.approx(X.sum(), rel=1e-14)


def test_elementwise_layers_keep_format():
    X = dlarray(rng(15).random((3, 2)), "CB")
    for y in (SquaredError(X, np.zeros((3, 2))), Abs(X), Exp(X), AddScalar(X), HuberLoss(X, X),
              SigmoidCrossEntropy(X, np.ones((3, 2))), Add2(np.ones((3, 2)), X)):
        assert dims(y) == "CB"


LAYERS_F32 = {
    "SquaredError": lambda x, t: SquaredError(x, t),
    "AbsoluteError": lambda x, t: AbsoluteError(x, t),
    "HuberLoss": lambda x, t: HuberLoss(x, t, delta=0.5),
    "BinaryCrossEntropy": lambda x, t: BinaryCrossEntropy(RSubScalar(Exp(MulScalar(Abs(x), -1.0)), 1.0 + 1e-3), t),
    "SigmoidCrossEntropy": lambda x, t: SigmoidCrossEntropy(x, t),
    "SoftmaxCrossEntropy": lambda x, t: SoftmaxCrossEntropy(x, np.array([[0, 2, -1, 1]])),
    "CategoricalCrossEntropy": lambda x, t: CategoricalCrossEntropy(
        Div2(Exp(x), Sum(Exp(x), axes=0, keep_dims=True)), np.array([[0, 2, -1, 1]])),
    "arithmetic": lambda x, t: Sub2(Pow2(AddScalar(Abs(x), 1.0), t), Log(AddScalar(Mul2(x, x), 1.0))),
    "PowScalar": lambda x, t: PowScalar(x, 3.0),
}


@pytest.mark.parametrize("name", sorted(LAYERS_F32))
def test_float32_stays_float32(name):
    r = rng(16)
    x = r.standard_normal((3, 4)).astype(np.float32)
    t = r.random((3, 4))  # float64 targets: single wins
    layer = LAYERS_F32[name]

    def fun(v):
        loss = nnc_loss(layer(v, t))
        g = dlgradient(loss, v, EnableHigherDerivatives=True)
        # AbsoluteError: the gradient +-1 is piecewise constant, nothing to differentiate again
        return loss, g, None if name == "AbsoluteError" else dlgradient(Sum(Mul2(g, g)), v)

    loss, g, g2 = dlfeval(fun, dlarray(x, "CB"))
    assert data(layer(x, t)).dtype == np.float32
    assert loss.dtype == np.float32 and g.dtype == np.float32
    assert name == "AbsoluteError" or g2.dtype == np.float32


@pytest.mark.parametrize("name", sorted(LAYERS_F32))
def test_float32_inside_backward_pass(name):
    # no float64 anywhere in the backward pass (dlgradient's final cast removed by using autograd directly)
    import autograd

    r = rng(17)
    x = r.standard_normal((3, 4)).astype(np.float32)
    t = r.random((3, 4)).astype(np.float32)
    layer = LAYERS_F32[name]
    def f(v):
        return data_of(Sum(layer(v, t)))

    assert autograd.grad(f)(x).dtype == np.float32
    if name != "AbsoluteError":  # second order (gradient penalty)
        assert autograd.grad(lambda v: np.sum(autograd.grad(f)(v) ** 2))(x).dtype == np.float32


# -------------------------------------------------------------------------------------------------
# NNC's loss rule

def _two_terminal_network(params, x, y_target, labels):
    """A small network with two terminal layers (a regression head and a classification head)."""
    h = Exp(MulScalar(Abs(Mul2(params["W1"], x)), -0.5))          # 3 x 5
    recon = Mul2(params["W2"], h)                                   # 3 x 5
    scores = Add2(params["W3"], h)                                  # 3 x 5 (classes x observations)
    return SquaredError(recon, y_target), SoftmaxCrossEntropy(scores, labels)


def _net_data():
    r = rng(20)
    params = {"W1": r.standard_normal((3, 5)), "W2": r.standard_normal((3, 5)), "W3": r.standard_normal((3, 1))}
    x = r.standard_normal((3, 5))
    y_target = r.standard_normal((3, 5))
    labels = np.array([[0, 2, 1, -1, 2]])
    return params, x, y_target, labels


def test_nnc_loss_is_sum_of_terminal_means_same_loss_and_gradients():
    params, x, y_target, labels = _net_data()

    def loss_a(p):  # A: two terminal layers, NNC's rule
        loss = nnc_loss(*_two_terminal_network(p, x, y_target, labels))
        return loss, dlgradient(loss, p)

    def loss_b(p):  # B: one terminal, averaging and adding by hand with Mean and Add2 layers
        t1, t2 = _two_terminal_network(p, x, y_target, labels)
        loss = Add2(Mean(t1), Mean(t2))
        return loss, dlgradient(loss, p)

    la, ga = dlfeval(loss_a, params)
    lb, gb = dlfeval(loss_b, params)
    assert dims(la) == "" and la.size == 1
    assert float(data(la)) == pytest.approx(float(data(lb)), rel=1e-14)
    for k in params:
        np.testing.assert_allclose(data(ga[k]), data(gb[k]), rtol=1e-13, atol=1e-15)

    # independent reference: NumPy means, and finite differences of the loss
    t1, t2 = _two_terminal_network(params, x, y_target, labels)
    assert float(data(la)) == pytest.approx(np.mean(data(t1)) + np.mean(data(t2)), rel=1e-14)
    for k in params:
        def f(v, k=k):
            p = dict(params)
            p[k] = v
            return float(data(nnc_loss(_two_terminal_network(p, x, y_target, labels))))

        np.testing.assert_allclose(data(ga[k]), numeric_grad(f, params[k]), rtol=1e-6, atol=1e-9)
    assert optimized_loss is nnc_loss


def test_nnc_loss_terminals_of_different_sizes_are_each_averaged():
    a = np.arange(6.0).reshape(2, 3)
    b = np.array([[10.0, 20.0]])
    assert float(data(nnc_loss(a, b))) == pytest.approx(2.5 + 15.0, rel=1e-14)
    assert float(data(nnc_loss([a, b]))) == pytest.approx(17.5, rel=1e-14)
    with pytest.raises(TypeError, match="at least one"):
        nnc_loss()


def test_squared_error_from_sub2_and_pow_scalar_equals_squared_error():
    r = rng(21)
    y, x = r.standard_normal((4, 3)), r.standard_normal((4, 3))

    def built(v):
        loss = nnc_loss(PowScalar(Sub2(v, x), 2))
        return loss, dlgradient(loss, v)

    def layer(v):
        loss = nnc_loss(SquaredError(v, x))
        return loss, dlgradient(loss, v)

    l1, g1 = dlfeval(built, y)
    l2, g2 = dlfeval(layer, y)
    assert float(data(l1)) == pytest.approx(float(data(l2)), rel=1e-14)
    np.testing.assert_allclose(data(g1), data(g2), rtol=1e-14)
    np.testing.assert_allclose(data(g2), 2 * (y - x) / y.size, rtol=1e-12)


def test_nnc_squared_error_versus_matlab_losses():
    # teaching link: mean of NNC SquaredError = l2loss with "all-elements" = 2 * mse * N / numel
    from dlteach.losses import l2loss, mse

    r = rng(22)
    Y, T = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    nnc = float(data(nnc_loss(SquaredError(Y, T))))
    assert nnc == pytest.approx(float(data(l2loss(dlarray(Y, "CB"), T, NormalizationFactor="all-elements"))), rel=1e-14)
    assert nnc == pytest.approx(2 * float(data(mse(dlarray(Y, "CB"), T))) * 4 / 12, rel=1e-14)
