"""How ``primitives.primitive`` records a traced call, and the inline fast paths of relu / softmax /
fullyconnect / crossentropy (issue 11).

``f_wrapped`` takes the common call (ArrayBoxes over ndarrays, one trace level, at the leading positions of
1 to 3 arguments) through unrolled type tests, and every other call through the general scan. Both must record
the same node: the primitive, the unboxed arguments, the positions of the boxes and their nodes. The
references here are read off the inputs themselves (which arguments are boxes, what they hold), and the
gradients are checked against hand formulas.
"""

import numpy as np
import pytest

from dlteach import dlarray, dlfeval, dlgradient, extractdata
from dlteach import primitives as P
from dlteach.formats import data_of
from dlteach.losses import LossArgumentError, crossentropy
from dlteach.ops import fullyconnect, relu, softmax


def _expected(args):
    """(argnums, parent nodes, unboxed args) of a call on ONE trace level, read off the arguments."""
    argnums = tuple(i for i, a in enumerate(args) if type(a) in P.box_types)
    return argnums, tuple(args[i]._node for i in argnums), tuple(a._value if i in argnums else a
                                                                   for i, a in enumerate(args))


def _check_node(out, fun, args, kwargs=None):
    node = out._node
    argnums, parents, values = _expected(args)
    assert node.fun is fun
    assert node.argnums == argnums and type(node.argnums) is tuple
    assert type(node.parents) is tuple and len(node.parents) == len(parents)
    assert all(p is q for p, q in zip(node.parents, parents))
    assert type(node.args) is tuple and len(node.args) == len(values)
    assert all(a is v for a, v in zip(node.args, values))
    assert node.kwargs == (kwargs or {})
    assert node.value is out._value
    assert out._trace == args[argnums[0]]._trace


PATTERNS = {  # name -> (primitive, argument builder from (w, x, b boxes; W, X, B arrays), kwargs)
    "box": (P.relu, lambda w, x, b, W, X, B: (x,), None),
    "box, kwarg": (P.softmax_axis, lambda w, x, b, W, X, B: (x,), {"axis": 0}),
    "box, constant": (P.softmax_axis, lambda w, x, b, W, X, B: (x, 1), None),
    "box, box, box": (P.affine, lambda w, x, b, W, X, B: (w, x, b), None),
    "box, box, constant": (P.affine, lambda w, x, b, W, X, B: (w, x, B), None),
    # the general scan
    "constant, box": (P.maximum, lambda w, x, b, W, X, B: (X, x), None),
    "box, box": (P.maximum, lambda w, x, b, W, X, B: (x, x), None),
    "constant, box, box": (P.affine, lambda w, x, b, W, X, B: (W, x, b), None),
    "box, constant, box": (P.affine, lambda w, x, b, W, X, B: (w, X, b), None),
    "box, constant, constant": (P.neg_xlog_clamped, lambda w, x, b, W, X, B: (x, X, 1e-7), None),
    "nothing traced": (P.relu, lambda w, x, b, W, X, B: (X,), None),
}


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_a_traced_call_records_its_boxes_arguments_and_nodes(pattern, rng):
    fun, build, kwargs = PATTERNS[pattern]
    W, X, B = (rng.standard_normal((3, 4)), rng.random((4, 5)) + 0.1, rng.standard_normal((3, 1)))
    seen = {}

    def f(w, x, b):
        args = build(data_of(w), data_of(x), data_of(b), W, X, B)
        out = fun(*args, **(kwargs or {}))
        seen["raw"] = fun.fun(*[a._value if type(a) in P.box_types else a for a in args], **(kwargs or {}))
        if pattern == "nothing traced":  # no box: the raw function's value itself, nothing recorded
            assert type(out) is np.ndarray
            seen["value"] = out
            return None
        _check_node(out, fun, args, kwargs)
        seen["value"] = out._value
        return dlarray(P.scaled_sum(out, 1.0))

    dlfeval(f, dlarray(W), dlarray(X), dlarray(B))
    np.testing.assert_array_equal(seen["value"], seen["raw"])


def test_a_box_over_a_box_or_of_another_level_takes_the_general_scan_with_the_right_gradients(rng):
    # inner dlfeval: w, x boxed on the inner level, b a box of the OUTER level (a constant there): the call
    # (box, box, lower box) is recorded on the inner level and repeated on the outer one.
    W, X, B = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal((3, 1))

    def outer(b):
        bd = data_of(b)

        def inner(w, x):
            s = P.scaled_sum(P.affine(data_of(w), data_of(x), bd), 1.0)  # sum(w @ x + b)
            s = dlarray(s)
            return s, dlgradient(s, w)

        s, gw = dlfeval(inner, dlarray(W), dlarray(X))
        return dlgradient(s, b), gw

    gb, gw = dlfeval(outer, dlarray(B))
    np.testing.assert_allclose(extractdata(gb), np.full((3, 1), 5.0))  # d sum / d b_i = number of columns
    np.testing.assert_allclose(extractdata(gw), np.ones((3, 5)) @ X.T)


def test_fast_and_general_recordings_give_the_same_mlp_gradients(rng):
    # the same model through the fast patterns (every argument a box) and the general scan (the first argument
    # a constant box-free copy, the rest as before): gradients of the boxes agree with the hand formulas
    W, X, B = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal((3, 1))

    def f(w, b):
        z = P.affine(data_of(w), X, data_of(b))  # (box, constant, box): general scan
        r = P.relu(z)  # (box): fast
        return dlgradient(dlarray(P.scaled_sum(r, 0.5)), [w, b])

    gw, gb = dlfeval(f, dlarray(W), dlarray(B))
    mask = (W @ X + B > 0) * 0.5
    np.testing.assert_allclose(extractdata(gw), mask @ X.T)
    np.testing.assert_allclose(extractdata(gb), mask.sum(axis=1, keepdims=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fmt, shape", [("CB", (4, 5)), ("SSCB", (2, 2, 3, 5)), ("CT", (4, 5))])
def test_untraced_and_traced_fullyconnect_relu_softmax_agree_with_hand_formulas_bit_for_bit(dtype, fmt, shape, rng):
    x = rng.standard_normal(shape).astype(dtype)
    n_in = int(np.prod(shape[:-1]))
    W, b = rng.standard_normal((6, n_in)).astype(dtype), rng.standard_normal((6, 1)).astype(dtype)
    x[(0,) * len(shape)] = np.nan
    hand = W @ x.reshape(n_in, -1) + b
    y = fullyconnect(dlarray(x, fmt), dlarray(W), dlarray(b))
    assert y.fmt == "C" + fmt[-1] and extractdata(y).dtype == dtype
    np.testing.assert_array_equal(extractdata(y), hand)
    r, s = relu(y), softmax(y)
    np.testing.assert_array_equal(extractdata(r), np.maximum(hand, 0))
    assert r.fmt == y.fmt and s.fmt == y.fmt
    e = np.exp(hand - hand.max(axis=0, keepdims=True))
    np.testing.assert_array_equal(extractdata(s), e / e.sum(axis=0, keepdims=True))

    def f(X, W, b):
        y2 = fullyconnect(X, W, b)
        return y2, relu(y2), softmax(y2)

    y2, r2, s2 = dlfeval(f, dlarray(x, fmt), dlarray(W), dlarray(b))
    for a, c in ((y, y2), (r, r2), (s, s2)):
        assert a.fmt == c.fmt
        np.testing.assert_array_equal(extractdata(a), extractdata(c))


def test_crossentropy_targets_of_an_equal_but_distinct_float32_dtype_are_checked_exactly(rng):
    # the unit-interval shortcut recognises float32 / float64 by identity; an equal dtype object (here one with
    # metadata) takes the exact check: the same loss for valid targets, the same error for invalid ones
    y = rng.random((3, 4)).astype(np.float32)
    y /= y.sum(axis=0, keepdims=True)
    t = np.eye(3, dtype=np.float32)[:, [0, 2, 1, 0]]
    other = np.dtype(np.float32, metadata={"note": 1})
    assert other == np.float32 and other is not np.dtype(np.float32)
    loss = crossentropy(dlarray(y, "CB"), t.astype(other))
    np.testing.assert_array_equal(extractdata(loss), extractdata(crossentropy(dlarray(y, "CB"), t)))
    np.testing.assert_allclose(float(extractdata(loss)), -np.sum(t * np.log(y.astype(np.float64))) / 4, rtol=1e-6)
    with pytest.raises(LossArgumentError, match="values from -1 to 1"):
        crossentropy(dlarray(y, "CB"), (t - 2 * (t == 0) * 0.5).astype(other))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_crossentropy_targets_outside_the_bit_test_get_the_exact_check(dtype, rng):
    # the fast path tests "all targets in [+0, 1]" on the bit patterns; -0.0 (sign bit set) fails that test but
    # is a valid target: the exact check accepts it, with the loss of +0.0. Values below 0 or above 1 (beyond
    # the tolerance) fail both and get the teaching error; 1 + 1e-5 (within the tolerance) is accepted.
    y = rng.random((3, 4)).astype(dtype)
    y /= y.sum(axis=0, keepdims=True)
    t = np.eye(3, dtype=dtype)[:, [0, 2, 1, 0]]
    ref = extractdata(crossentropy(dlarray(y, "CB"), dlarray(t, "CB")))
    neg0 = np.where(t == 0, dtype(-0.0), t)
    assert np.signbit(neg0).any()
    np.testing.assert_array_equal(extractdata(crossentropy(dlarray(y, "CB"), dlarray(neg0, "CB"))), ref)
    near = t.copy()
    near[0, 0] = 1 + 1e-5
    got = float(extractdata(crossentropy(dlarray(y, "CB"), near)))
    np.testing.assert_allclose(got, -np.sum(near.astype(np.float64) * np.log(y.astype(np.float64))) / 4, rtol=1e-5)
    bad = t.copy()
    bad[1, 1] = -0.5
    with pytest.raises(LossArgumentError, match="values from -0.5 to 1"):
        crossentropy(dlarray(y, "CB"), dlarray(bad, "CB"))
    bad[1, 1] = 1.5
    with pytest.raises(LossArgumentError, match="values from 0 to 1.5"):
        crossentropy(dlarray(y, "CB"), bad)

    def f(T):  # traced targets take the same test
        return crossentropy(dlarray(y, "CB"), T)

    np.testing.assert_array_equal(extractdata(dlfeval(f, dlarray(neg0, "CB"))), ref)
    with pytest.raises(LossArgumentError, match="values from 0 to 1.5"):
        dlfeval(f, dlarray(bad, "CB"))
