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
    assert dims(Z) == "CB" and Z.shape == (3, 2)  # the two integer-indexed S dimensions are dropped
    idx = dlarray(np.array([True, False, True]))
    np.testing.assert_array_equal(extractdata(X[:, :, idx, :]), x[:, :, [0, 2], :])
    X2 = dlarray(x.copy())
    X2[0] = 0.0
    assert np.all(extractdata(X2)[0] == 0) and np.all(extractdata(X2)[1] == x[1])


# index -> (labels of the result of indexing a "SSCB" array of size 4 x 5 x 3 x 2), by the documented rule:
# an integer drops its dimension's label, slices / `...` / missing trailing entries / one 1-D array keep them
SSCB_INDEXING = {
    "X[0]": (lambda X: X[0], "SCB"),
    "X[0, 0]": (lambda X: X[0, 0], "CB"),
    "X[:, :, 1]": (lambda X: X[:, :, 1], "SSB"),
    "X[..., -1]": (lambda X: X[..., -1], "SSC"),
    "X[1, ..., 0]": (lambda X: X[1, ..., 0], "SC"),
    "X[..., 0, :]": (lambda X: X[..., 0, :], "SSB"),
    "X[:, 2, ...]": (lambda X: X[:, 2, ...], "SCB"),
    "X[1:3, ::2]": (lambda X: X[1:3, ::2], "SSCB"),
    "X[np.int64(2)]": (lambda X: X[np.int64(2)], "SCB"),
    "X[dlarray index]": (lambda X: X[:, :, :, dlarray(np.array([True, False]))], "SSCB"),
    "X[:, [0, 4, 4]]": (lambda X: X[:, [0, 4, 4]], "SSCB"),
    "X[:, :, mask]": (lambda X: X[:, :, np.array([True, False, True])], "SSCB"),
    "X[0, 1, 2, 1]": (lambda X: X[0, 1, 2, 1], ""),
}


@pytest.mark.parametrize("name", sorted(SSCB_INDEXING))
def test_integer_index_drops_only_its_label(name, rng):
    x = rng.standard_normal((4, 5, 3, 2))
    index, want = SSCB_INDEXING[name]
    Y = index(dlarray(x, "SSCB"))
    np.testing.assert_array_equal(extractdata(Y), index(x) if "dlarray" not in name else x[..., [0]])
    assert dims(Y) == want
    assert len(dims(Y)) in (0, Y.ndim)
    if want:
        assert dims(dlarray(extractdata(Y), want)) == want  # a valid format, already in MATLAB order


def test_last_time_step_is_cb_and_minus_one_slice_keeps_t(rng):
    # MATLAB Y(:,:,end) keeps "CBT" with T of size 1; Python Y[:, :, -1] drops T, Y[:, :, -1:] keeps it
    y = rng.standard_normal((3, 4, 5)).astype(np.float32)
    Y = dlarray(y, "CBT")
    last = Y[:, :, -1]
    assert dims(last) == "CB" and last.shape == (3, 4) and last.dtype == np.float32
    np.testing.assert_array_equal(extractdata(last), y[:, :, -1])
    assert dims(Y[:, :, -1:]) == "CBT" and Y[:, :, -1:].shape == (3, 4, 1)
    assert dims(Y[:, 0]) == "CT" and dims(Y[0]) == "BT"


def test_indexed_labels_follow_the_dimensions(rng):
    # independent check: every dimension has its own size, so a kept dimension is recognised by its size
    x = rng.standard_normal((2, 3, 5, 7, 11))
    X = dlarray(x, "SSCBT")
    label_of_size = dict(zip(x.shape, "SSCBT"))
    r = np.random.default_rng(7)
    for _ in range(200):
        idx = []
        for n in x.shape:
            kind = r.integers(4)
            idx.append(slice(None) if kind == 0 else int(r.integers(-n, n)) if kind == 1
                       else r.permutation(n) if kind == 2 else slice(None))
        if r.integers(2):
            idx = idx[: r.integers(len(idx) + 1)]  # fewer entries: the rest are full slices
        arrays = [i for i, v in enumerate(idx) if isinstance(v, np.ndarray)]
        if len(arrays) > 1 or arrays and any(isinstance(v, int) for v in idx):
            continue  # NumPy's mixed advanced indexing: unformatted, tested below
        if r.integers(2) and len(idx) >= 1:
            k = int(r.integers(len(idx) + 1))
            if all(isinstance(v, slice) for v in idx[k:]):
                idx = idx[:k] + [Ellipsis]  # `...` for a run of full slices
        Y = X[tuple(idx)]
        want = "".join(label_of_size[n] for n in Y.shape)
        assert dims(Y) == want, (idx, Y.shape)
        np.testing.assert_array_equal(extractdata(Y), x[tuple(idx)])


UNKNOWN_LABELS = {
    "new axis": lambda X: X[None],
    "new axis inside": lambda X: X[:, None, :, 0],
    "two arrays": lambda X: X[[0, 1], :, [1, 2]],
    "integer and array": lambda X: X[0, :, [1, 2]],
    "2-D mask": lambda X: X[np.ones((3, 4), bool)],
    "2-D integer array": lambda X: X[:, np.array([[0, 1], [2, 3]])],
    "0-d bool": lambda X: X[True],
}


@pytest.mark.parametrize("name", sorted(UNKNOWN_LABELS))
def test_indexing_that_moves_or_adds_dimensions_is_unformatted(name, rng):
    y = rng.standard_normal((3, 4, 5))
    Y = UNKNOWN_LABELS[name](dlarray(y, "CBT"))
    assert dims(Y) == ""
    np.testing.assert_array_equal(extractdata(Y), UNKNOWN_LABELS[name](y))


def test_indexing_unformatted_dlarrays_is_unchanged(rng):
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    X = dlarray(x)
    for index in (lambda a: a[:, 0], lambda a: a[0], lambda a: a[..., 1], lambda a: a[1:, :2], lambda a: a[None]):
        Y = index(X)
        assert dims(Y) == "" and Y.dtype == np.float32
        np.testing.assert_array_equal(extractdata(Y), index(x))


def test_indexing_a_traced_dlarray_keeps_labels_and_gradient(rng):
    from finite_differences import numeric_grad  # tests/finite_differences.py

    from dlteach import dlgradient

    y = rng.standard_normal((3, 4, 5))
    w = rng.standard_normal((3, 4))
    seen = {}

    def loss_of(Y):
        last = Y[:, :, -1]
        seen["dims"], seen["traced"] = dims(last), last.is_traced
        return np.sum(np.tanh(last) * w)

    g = dlfeval(lambda Y: dlgradient(loss_of(Y), Y), dlarray(y, "CBT"))
    assert seen == {"dims": "CB", "traced": True}
    assert dims(g) == "CBT"
    ref = numeric_grad(lambda v: float(np.sum(np.tanh(v[:, :, -1]) * w)), y)
    np.testing.assert_allclose(extractdata(g), ref, rtol=1e-6, atol=1e-9)
    assert np.all(extractdata(g)[:, :, :-1] == 0)


def test_last_time_step_feeds_fullyconnect_and_crossentropy(rng):
    from dlteach import crossentropy, dlgradient, fullyconnect, softmax

    y = rng.standard_normal((3, 4, 5)).astype(np.float32)
    W = rng.standard_normal((2, 3)).astype(np.float32)
    b = rng.standard_normal((2, 1)).astype(np.float32)
    T = np.eye(2, dtype=np.float32)[:, [0, 1, 1, 0]]

    def model_loss(Y, W):
        Z = fullyconnect(Y[:, :, -1], W, b)  # MATLAB: fullyconnect(Y(:,:,end),W,b)
        seen["Z"] = (dims(Z), Z.shape)
        loss = crossentropy(softmax(Z), T)
        return loss, dlgradient(loss, W)

    seen = {}
    loss, gW = dlfeval(model_loss, dlarray(y, "CBT"), dlarray(W))
    assert seen["Z"] == ("CB", (2, 4))
    # hand formula: mean over the 4 observations of -log softmax(W y_T + b)[class]
    z = W.astype(np.float64) @ y[:, :, -1] + b
    p = np.exp(z - z.max(0)) / np.exp(z - z.max(0)).sum(0)
    assert float(loss) == pytest.approx(-np.sum(T * np.log(p)) / 4, rel=1e-5)
    np.testing.assert_allclose(extractdata(gW), (p - T) @ y[:, :, -1].T / 4, rtol=1e-4, atol=1e-6)
    assert loss.dtype == np.float32 and gW.dtype == np.float32


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
