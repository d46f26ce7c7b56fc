"""Tests of dlteach.dlarray: formats and permutation, helpers, dtype rules, NumPy interoperability.

References: MATLAB's documented behaviour (auto-permutation to S..., C, B, T, U; single wins over
double), and NumPy itself on the underlying data.
"""

import numpy as np
import pytest

from dlteach import dims, dlarray, dlfeval, extractdata, finddim, isdlarray, stripdims
from dlteach.errors import DLTeachError, FormatError, NotTracedError

# --------------------------------------------------------------------------------------------
# construction, formats, permutation


def test_tcb_is_permuted_to_cbt(rng):
    x = rng.standard_normal((2, 3, 4))  # T x C x B
    X = dlarray(x, "TCB")
    assert dims(X) == "CBT"
    assert X.shape == (3, 4, 2)
    np.testing.assert_array_equal(extractdata(X), np.transpose(x, (1, 2, 0)))


def test_bc_is_stored_c_by_b(rng):
    x = rng.standard_normal((5, 3))  # 5 observations of 3 features
    X = dlarray(x, "BC")
    assert dims(X) == "CB"
    assert X.shape == (3, 5)
    np.testing.assert_array_equal(extractdata(X), x.T)


def test_sscb_keeps_order_and_data(rng):
    x = rng.standard_normal((6, 5, 3, 2)).astype(np.float32)
    X = dlarray(x, "SSCB")
    assert dims(X) == "SSCB" and X.fmt == "SSCB"
    assert X.shape == (6, 5, 3, 2)
    np.testing.assert_array_equal(extractdata(X), x)


def test_bssc_becomes_sscb(rng):
    x = rng.standard_normal((2, 6, 5, 3))  # N x H x W x C (TensorFlow layout)
    X = dlarray(x, "BSSC")
    assert dims(X) == "SSCB"
    np.testing.assert_array_equal(extractdata(X), np.transpose(x, (1, 2, 3, 0)))


def test_repeated_s_keep_their_relative_order(rng):
    x = rng.standard_normal((3, 4, 5))
    X = dlarray(x, "SCS")
    assert dims(X) == "SSC"
    np.testing.assert_array_equal(extractdata(X), np.transpose(x, (0, 2, 1)))


def test_ts_becomes_st():
    # MATLAB doc example: dlarray(randn(3,4),'TS') has dims 'ST'
    X = dlarray(np.ones((3, 4)), "TS")
    assert dims(X) == "ST" and X.shape == (4, 3)


def test_trailing_singleton_labels_are_added():
    X = dlarray(np.arange(3.0), "CB")
    assert X.shape == (3, 1) and dims(X) == "CB"


def test_extra_singleton_dimension_may_be_dropped():
    X = dlarray(np.ones((3, 2, 1)), "CB")
    assert X.shape == (3, 2) and dims(X) == "CB"


def test_reformatting_a_dlarray_applies_the_new_format(rng):
    x = rng.standard_normal((3, 4))
    X = dlarray(dlarray(x), "BC")
    assert dims(X) == "CB"
    np.testing.assert_array_equal(extractdata(X), x.T)


def test_construction_copies_the_data():
    x = np.ones(3)
    X = dlarray(x)
    x[0] = 5.0
    assert extractdata(X)[0] == 1.0


@pytest.mark.parametrize(
    "fmt, words",
    [
        ("SXB", ["unknown label", "'X'", "S (spatial)"]),
        ("cb", ["unknown label", "'bc'"]),
        ("CCB", ["'C' appears 2 times", "at most once"]),
        ("SSBB", ["'B' appears 2 times"]),
        ("CTT", ["'T' appears 2 times"]),
    ],
)
def test_invalid_formats_are_explained(fmt, words):
    with pytest.raises(FormatError) as info:
        dlarray(np.ones((2, 2, 2, 2)[: len(fmt)]), fmt)
    for w in words:
        assert w in str(info.value)
    assert isinstance(info.value, DLTeachError) and isinstance(info.value, ValueError)


def test_repeated_s_and_u_are_allowed():
    assert dims(dlarray(np.ones((2, 2, 2, 2)), "UUSS")) == "SSUU"


def test_too_few_labels_is_explained():
    with pytest.raises(FormatError) as info:
        dlarray(np.ones((2, 3, 4)), "CB")
    msg = str(info.value)
    assert "2 labels" in msg and "3 dimensions" in msg and "2x3x4" in msg and "one label per dimension" in msg


def test_format_must_be_a_string():
    with pytest.raises(FormatError, match="must be a string"):
        dlarray(np.ones(3), 3)


def test_integer_data_becomes_double_and_strings_are_rejected():
    assert dlarray(np.arange(4)).dtype == np.float64
    assert dlarray(np.array([True, False])).dtype == np.bool_
    with pytest.raises(TypeError, match="floating-point or logical"):
        dlarray(np.array(["a", "b"]))


# --------------------------------------------------------------------------------------------
# helpers


def test_dims_extractdata_stripdims_finddim(rng):
    x = rng.standard_normal((4, 5, 3, 2)).astype(np.float32)
    X = dlarray(x, "SSCB")
    assert finddim(X, "S") == [0, 1]
    assert finddim(X, "C") == [2]
    assert finddim(X, "B") == [3]
    assert finddim(X, "T") == []
    Y = stripdims(dlarray(x, "BSSC"))
    assert dims(Y) == "" and Y.shape == (5, 3, 2, 4)  # data stay permuted
    assert finddim(Y, "C") == []
    assert dims(np.ones(3)) == ""
    assert isdlarray(X) and not isdlarray(x)
    e = extractdata(X)
    assert type(e) is np.ndarray and e.dtype == np.float32
    e[0, 0, 0, 0] = 99.0  # a copy
    assert extractdata(X)[0, 0, 0, 0] != 99.0
    with pytest.raises(FormatError, match="S, C, B, T, U"):
        finddim(X, "Q")
    with pytest.raises(TypeError, match="stripdims expects a dlarray"):
        stripdims(x)


def test_repr_shows_size_labels_class_and_values():
    X = dlarray(np.array([[1.5, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=np.float32), "CB")
    r = repr(X)
    assert r.startswith("3(C) x 2(B) single dlarray")
    assert "1.5" in r and "6." in r
    assert "double" in repr(dlarray(np.ones(2)))
    assert "logical" in repr(dlarray(np.ones(2) > 0))
    assert repr(dlarray(np.float64(2.0))).startswith("1x1 double dlarray")


def test_float_int_item_and_len():
    X = dlarray(np.array([[2.5]]), "CB")
    assert float(X) == 2.5 and int(X) == 2 and X.item() == 2.5
    assert len(dlarray(np.ones((3, 2)))) == 3
    with pytest.raises(TypeError, match="one element"):
        float(dlarray(np.ones(3)))


# --------------------------------------------------------------------------------------------
# dtype: float32 ("single") wins

F32_OPS = {
    "add": lambda a: a + 1.5,
    "radd": lambda a: 1.5 + a,
    "sub": lambda a: a - 0.5,
    "rsub": lambda a: 0.5 - a,
    "mul": lambda a: a * 3.0,
    "div": lambda a: a / 3.0,
    "rdiv": lambda a: 1.0 / (a + 2.0),
    "pow": lambda a: a**2,
    "powf": lambda a: abs(a) ** 1.5,
    "rpow": lambda a: 2.0**a,
    "neg": lambda a: -a,
    "exp": np.exp,
    "log": lambda a: np.log(abs(a) + 1.0),
    "sqrt": lambda a: np.sqrt(abs(a)),
    "abs": np.abs,
    "tanh": np.tanh,
    "maximum": lambda a: np.maximum(a, 0.0),
    "minimum": lambda a: np.minimum(a, 0.0),
    "sum": np.sum,
    "mean": np.mean,
    "mean_axis": lambda a: np.mean(a, axis=1),
    "max": np.max,
    "min": lambda a: a.min(),
    "var": np.var,
    "std": lambda a: np.std(a, axis=0),
    "prod": np.prod,
    "clip": lambda a: np.clip(a, -1, 1),
    "where": lambda a: np.where(extractdata(a) > 0, a, 0.0),
    "matmul": lambda a: np.ones((2, 3), dtype=np.float32) @ a,
    "concatenate": lambda a: np.concatenate([a, a]),
    "transpose": np.transpose,
    "reshape": lambda a: a.reshape(-1),
}

# float64 operands of every kind: arrays, NumPy float64 scalars
F64_MIXES = {
    "array64": lambda a: a * np.full((3, 4), 2.0),
    "array64_left": lambda a: np.full((3, 4), 2.0) - a,
    "scalar64": lambda a: a + np.float64(1.0),
    "scalar64_left": lambda a: np.float64(2.0) * a,
    "scalar64_pow": lambda a: a ** np.float64(2.0),
    "dlarray64": lambda a: a + dlarray(np.ones((3, 4))),
    "maximum64": lambda a: np.maximum(a, np.zeros((3, 4))),
    "matmul64": lambda a: np.ones((2, 3)) @ a,
    "rmatmul64": lambda a: a.T @ np.ones((3, 2)),
    "concat64": lambda a: np.concatenate([a, np.ones((3, 4))]),
    "where64": lambda a: np.where(extractdata(a) > 0, a, np.zeros((3, 4))),
    "ufunc64": lambda a: np.add(np.ones(4), a),
}


@pytest.mark.parametrize("name", sorted(F32_OPS))
def test_float32_stays_float32(name, rng):
    X = dlarray(rng.standard_normal((3, 4)).astype(np.float32), "CB")
    Y = F32_OPS[name](X)
    assert isdlarray(Y)
    assert Y.dtype == np.float32, f"{name} gave {Y.dtype}"


@pytest.mark.parametrize("name", sorted(F64_MIXES))
def test_float32_wins_over_float64(name, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    Y = F64_MIXES[name](dlarray(x, "CB"))
    assert Y.dtype == np.float32, f"{name} gave {Y.dtype}"
    # values agree with the float64 computation to float32 precision
    ref = F64_MIXES[name](dlarray(x.astype(np.float64), "CB"))
    assert ref.dtype == np.float64
    np.testing.assert_allclose(extractdata(Y), extractdata(ref), rtol=1e-6, atol=1e-6)


def test_float64_stays_float64(rng):
    X = dlarray(rng.standard_normal((3, 4)), "CB")
    assert (X * 2.0 + np.exp(X)).dtype == np.float64
    assert np.mean(X).dtype == np.float64


# --------------------------------------------------------------------------------------------
# formats of results


def test_elementwise_results_keep_the_format(rng):
    X = dlarray(rng.standard_normal((4, 4, 3, 2)), "SSCB")
    for Y in (X + 1, 2 * X, X * X, np.exp(X), -X, abs(X), np.maximum(X, 0), X > 0, X**2, np.tanh(X)):
        assert dims(Y) == "SSCB"
    # broadcasting against a plain array keeps the dlarray's format
    assert dims(X + np.ones((1, 1, 3, 1))) == "SSCB"
    assert dims(np.ones((1, 1, 3, 1)) + X) == "SSCB"


def test_reductions(rng):
    x = rng.standard_normal((4, 5, 3, 2))
    X = dlarray(x, "SSCB")
    s = np.sum(X)
    assert dims(s) == "" and s.shape == () and np.isclose(float(s), x.sum())
    assert dims(np.mean(X)) == ""
    m = np.mean(X, axis=3)
    assert dims(m) == "SSC" and m.shape == (4, 5, 3)
    np.testing.assert_allclose(extractdata(m), x.mean(axis=3))
    m2 = np.sum(X, axis=(0, 1))
    assert dims(m2) == "CB"
    np.testing.assert_allclose(extractdata(m2), x.sum(axis=(0, 1)))
    k = np.max(X, axis=2, keepdims=True)
    assert dims(k) == "SSCB" and k.shape == (4, 5, 1, 2)
    np.testing.assert_allclose(extractdata(k), x.max(axis=2, keepdims=True))
    np.testing.assert_allclose(extractdata(np.var(X, axis=-1)), x.var(axis=-1))
    np.testing.assert_allclose(extractdata(np.std(X, axis=0, ddof=1)), x.std(axis=0, ddof=1))
    np.testing.assert_allclose(float(X.min()), x.min())


def test_reshape_and_matmul_drop_the_format(rng):
    X = dlarray(rng.standard_normal((3, 4)), "CB")
    assert dims(X.reshape(12)) == "" and dims(np.transpose(X)) == "" and dims(X.T @ X) == ""


# --------------------------------------------------------------------------------------------
# indexing


def test_indexing(rng):
    x = rng.standard_normal((4, 5, 3, 2))
    X = dlarray(x, "SSCB")
    Y = X[1:3, :, :, :]
    assert dims(Y) == "SSCB"
    np.testing.assert_array_equal(extractdata(Y), x[1:3])
    Z = X[0, 0]
    assert dims(Z) == "" and Z.shape == (3, 2)
    idx = dlarray(np.array([True, False, True]))
    np.testing.assert_array_equal(extractdata(X[:, :, idx, :]), x[:, :, [0, 2], :])
    X2 = dlarray(x.copy())
    X2[0] = 0.0
    assert np.all(extractdata(X2)[0] == 0) and np.all(extractdata(X2)[1] == x[1])


def test_numpy_conversion_of_untraced_dlarrays(rng):
    x = rng.standard_normal((3, 2)).astype(np.float32)
    X = dlarray(x, "CB")
    a = np.asarray(X)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, x)
    assert np.asarray(X, dtype=np.float64).dtype == np.float64


def test_array_conversion_of_traced_dlarray_is_refused():
    def f(X):
        np.asarray(X)

    with pytest.raises(NotTracedError) as info:
        dlfeval(f, dlarray(np.ones(3)))
    msg = str(info.value)
    assert "traced" in msg and "extractdata" in msg and "np.exp(X)" in msg


def test_setitem_into_traced_dlarray_is_refused():
    def f(X):
        X[0] = 1.0

    with pytest.raises(TypeError, match="np.where"):
        dlfeval(f, dlarray(np.ones(3)))


def test_traced_flag_and_repr_inside_dlfeval():
    seen = {}

    def f(X):
        seen["traced"] = X.is_traced
        seen["repr"] = repr(X)
        seen["float"] = float(np.sum(X))
        return X

    out = dlfeval(f, dlarray(np.ones(2)))
    assert seen["traced"] and "(traced)" in seen["repr"] and seen["float"] == 2.0
    assert not out.is_traced and "(traced)" not in repr(out)
