"""Tests of dlteach.minibatchqueue (MATLAB minibatchqueue over in-memory arrays)."""

from __future__ import annotations

import builtins

import numpy as np
import pytest

from dlteach.dlarray import dims, dlarray, extractdata
from dlteach.errors import DLTeachError, FormatError, SizeMismatchError
from dlteach.minibatchqueue import (
    MiniBatchQueueError,
    NoDataError,
    hasdata,
    minibatchqueue,
    next,
    partition,
    reset,
    shuffle,
)


def _data(n=10):
    """Features 2 x N with X[0, j] = j, X[1, j] = -j; labels (N,) = j; so every column is traceable."""
    j = np.arange(n)
    X = np.stack([j, -j]).astype(np.float64)
    return X, j.astype(np.int64)


def _ids(batch):
    """Observation ids in a mini-batch output (X or labels), as a plain int array."""
    a = extractdata(batch) if isinstance(batch, dlarray) else np.asarray(batch)
    return (a[0] if a.ndim == 2 else a).astype(np.int64)


def _epoch(mbq):
    out = []
    while hasdata(mbq):
        X, L = next(mbq)
        ids = _ids(X)
        np.testing.assert_array_equal(ids, _ids(L))  # inputs stay aligned
        np.testing.assert_array_equal(extractdata(X)[1], -ids)
        out.append(ids)
    return out


# ---------------------------------------------------------------------------- sizes and coverage

@pytest.mark.parametrize("n, size, partial, expected", [
    (10, 4, "return", [4, 4, 2]),
    (10, 4, "discard", [4, 4]),
    (8, 4, "return", [4, 4]),
    (8, 4, "discard", [4, 4]),
    (3, 5, "return", [3]),
    (3, 5, "discard", []),
    (7, 1, "return", [1] * 7),
    (5, 128, "return", [5]),
])
def test_batch_sizes(n, size, partial, expected):
    X, L = _data(n)
    mbq = minibatchqueue(X, L, MiniBatchSize=size, PartialMiniBatch=partial)
    sizes = [len(b) for b in _epoch(mbq)]
    assert sizes == expected
    assert not hasdata(mbq)


def test_unshuffled_order_is_data_order():
    X, L = _data(10)
    mbq = minibatchqueue(X, L, MiniBatchSize=4)
    np.testing.assert_array_equal(np.concatenate(_epoch(mbq)), np.arange(10))


@pytest.mark.parametrize("partial", ["return", "discard"])
def test_every_observation_once_per_epoch_with_shuffle(partial):
    X, L = _data(23)
    mbq = minibatchqueue(X, L, MiniBatchSize=5, PartialMiniBatch=partial, seed=1)
    orders = []
    for _ in range(3):
        shuffle(mbq)
        ids = np.concatenate(_epoch(mbq))
        if partial == "return":
            np.testing.assert_array_equal(np.sort(ids), np.arange(23))
        else:
            assert len(ids) == 20 and len(np.unique(ids)) == 20  # 3 dropped, none repeated
        orders.append(ids)
    assert not np.array_equal(orders[0], orders[1])


def test_shuffle_restarts_and_reset_keeps_order():
    X, L = _data(12)
    mbq = minibatchqueue(X, L, MiniBatchSize=5, seed=0)
    next(mbq)
    shuffle(mbq)  # restarts the epoch: all 12 observations again
    first = _epoch(mbq)
    assert sum(len(b) for b in first) == 12
    reset(mbq)
    second = _epoch(mbq)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_shuffle_with_seed_is_reproducible_and_documented():
    """seed -> numpy.random.default_rng(seed).permutation, one draw per shuffle."""
    X, L = _data(17)
    a = minibatchqueue(X, L, MiniBatchSize=17, seed=42)
    b = minibatchqueue(X, L, MiniBatchSize=17, seed=42)
    c = minibatchqueue(X, L, MiniBatchSize=17, seed=43)
    ref = np.random.default_rng(42)
    for _ in range(3):
        shuffle(a), shuffle(b), shuffle(c)
        ia, ib, ic = _ids(next(a)[1]), _ids(next(b)[1]), _ids(next(c)[1])
        np.testing.assert_array_equal(ia, ref.permutation(17))
        np.testing.assert_array_equal(ia, ib)
        assert not np.array_equal(ia, ic)


def test_shuffle_without_seed_uses_global_numpy_rng():
    X, L = _data(17)
    mbq = minibatchqueue(X, L, MiniBatchSize=17)
    np.random.seed(0)
    shuffle(mbq)
    got1 = _ids(next(mbq)[1])
    np.random.seed(0)
    expected = np.random.permutation(17)
    np.testing.assert_array_equal(got1, expected)
    np.random.seed(0)
    shuffle(mbq)
    np.testing.assert_array_equal(_ids(next(mbq)[1]), got1)


# ---------------------------------------------------------------------------- outputs: formats, casts

def test_default_outputs_are_unformatted_single_dlarrays():
    X, L = _data(6)
    mbq = minibatchqueue(X, L, MiniBatchSize=4)
    Xb, Lb = next(mbq)
    for out in (Xb, Lb):
        assert isinstance(out, dlarray)
        assert dims(out) == ""
        assert out.dtype == np.float32
    assert Xb.shape == (2, 4) and Lb.shape == (4,)
    np.testing.assert_array_equal(extractdata(Xb), X[:, :4].astype(np.float32))
    assert mbq.OutputCast == ["single", "single"]
    assert mbq.OutputAsDlarray == [True, True]
    assert mbq.MiniBatchFormat == ["", ""]
    assert mbq.MiniBatchSize == 4 and mbq.PartialMiniBatch == "return"
    assert mbq.MiniBatchFcn == "collate" and mbq.NumOutputs == 2


def test_image_formats_and_values():
    rng = np.random.default_rng(0)
    X = rng.random((5, 4, 1, 9))  # H x W x C x N, float64
    T = np.eye(3)[:, rng.integers(0, 3, 9)]  # 3 x N one-hot
    mbq = minibatchqueue(X, T, MiniBatchSize=4, MiniBatchFormat=["SSCB", "CB"])
    Xb, Tb = next(mbq)
    assert dims(Xb) == "SSCB" and Xb.shape == (5, 4, 1, 4) and Xb.dtype == np.float32
    assert dims(Tb) == "CB" and Tb.shape == (3, 4) and Tb.dtype == np.float32
    np.testing.assert_array_equal(extractdata(Xb), X[..., :4].astype(np.float32))
    np.testing.assert_array_equal(extractdata(Tb), T[:, :4].astype(np.float32))


def test_per_output_casts_and_plain_arrays():
    X, L = _data(7)
    mbq = minibatchqueue(X, L, MiniBatchSize=3, OutputCast=["double", "int64"],
                         OutputAsDlarray=[True, False])
    Xb, Lb = next(mbq)
    assert isinstance(Xb, dlarray) and Xb.dtype == np.float64
    assert type(Lb) is np.ndarray and Lb.dtype == np.int64
    np.testing.assert_array_equal(Lb, [0, 1, 2])


def test_output_as_dlarray_false_for_all_and_logical_cast():
    X = np.array([[0.0, 2.0, 0.0, 1.0]])
    mbq = minibatchqueue(X, MiniBatchSize=4, OutputCast="logical", OutputAsDlarray=False)
    assert mbq.NumOutputs == 1
    out = next(mbq)  # one output -> a single value, not a tuple
    assert type(out) is np.ndarray and out.dtype == np.bool_
    np.testing.assert_array_equal(out, [[False, True, False, True]])


@pytest.mark.parametrize("fmt", ["CB", "BC"])
def test_one_dimensional_labels_with_two_label_format(fmt):
    _, L = _data(6)
    mbq = minibatchqueue(L, MiniBatchSize=4, MiniBatchFormat=fmt)
    Lb = next(mbq)
    assert dims(Lb) == "CB" and Lb.shape == (1, 4)
    np.testing.assert_array_equal(extractdata(Lb), [[0, 1, 2, 3]])


def test_outputs_do_not_share_memory_with_inputs():
    X, L = _data(6)
    X32 = X.astype(np.float32)
    mbq = minibatchqueue(X32, MiniBatchSize=6, OutputAsDlarray=False)
    out = next(mbq)
    out[...] = 99
    np.testing.assert_array_equal(X32, X.astype(np.float32))
    mbq2 = minibatchqueue(X32, MiniBatchSize=6, MiniBatchFcn=lambda x: X32, OutputAsDlarray=False)
    out2 = next(mbq2)
    out2[...] = 99
    np.testing.assert_array_equal(X32, X.astype(np.float32))


def test_dlarray_inputs_are_accepted():
    X, L = _data(5)
    mbq = minibatchqueue(dlarray(X), L, MiniBatchSize=5)
    np.testing.assert_array_equal(extractdata(next(mbq)[0]), X.astype(np.float32))


# ---------------------------------------------------------------------------- MiniBatchFcn

def test_minibatchfcn_receives_slices_and_returns_outputs():
    X, L = _data(10)
    seen = []

    def preprocess(x, labels):
        seen.append((x.copy(), labels.copy()))
        assert isinstance(x, np.ndarray) and isinstance(labels, np.ndarray)
        T = np.zeros((10, labels.shape[0]))
        T[labels, np.arange(labels.shape[0])] = 1
        return x * 2.0, T

    mbq = minibatchqueue(X, L, MiniBatchSize=4, MiniBatchFcn=preprocess, MiniBatchFormat=["CB", "CB"])
    Xb, Tb = next(mbq)
    x_seen, l_seen = seen[-1]
    np.testing.assert_array_equal(x_seen, X[:, :4])
    np.testing.assert_array_equal(l_seen, L[:4])
    np.testing.assert_array_equal(extractdata(Xb), 2 * X[:, :4].astype(np.float32))
    np.testing.assert_array_equal(extractdata(Tb).argmax(0), L[:4])
    assert dims(Tb) == "CB" and Tb.dtype == np.float32
    assert mbq.MiniBatchFcn is preprocess


def test_minibatchfcn_decides_number_of_outputs():
    X, L = _data(5)
    mbq = minibatchqueue(X, L, MiniBatchSize=5, MiniBatchFcn=lambda x, l: (x, l, l * 10))
    assert mbq.NumOutputs == 3
    a, b, c = next(mbq)
    np.testing.assert_array_equal(extractdata(c), 10 * L.astype(np.float32))
    single = minibatchqueue(X, L, MiniBatchSize=5, MiniBatchFcn=lambda x, l: x + l)
    assert single.NumOutputs == 1
    out = next(single)
    assert isinstance(out, dlarray)
    np.testing.assert_array_equal(extractdata(out), (X + L).astype(np.float32))


def test_minibatchfcn_may_transpose_features():
    """MiniBatchFcn output is formatted as returned (like dlarray(Y, fmt)): 'BC' is permuted to C x B."""
    X, L = _data(6)
    mbq = minibatchqueue(X, MiniBatchSize=3, MiniBatchFcn=lambda x: x.T, MiniBatchFormat="BC")
    out = next(mbq)
    assert dims(out) == "CB" and out.shape == (2, 3)
    np.testing.assert_array_equal(extractdata(out), X[:, :3].astype(np.float32))


def test_minibatchfcn_changing_number_of_outputs_is_an_error():
    X, L = _data(10)
    calls = {"n": 0}

    def flaky(x, l):
        calls["n"] += 1
        return (x, l) if calls["n"] == 1 else (x, l, l)

    mbq = minibatchqueue(X, L, MiniBatchSize=4, MiniBatchFcn=flaky)
    next(mbq)
    with pytest.raises(MiniBatchQueueError, match=r"returned 3 output\(s\).*has 2 output\(s\).*first call"):
        next(mbq)


def test_minibatchfcn_disagreeing_with_format_list():
    X, L = _data(10)
    mbq = minibatchqueue(X, L, MiniBatchSize=4, MiniBatchFcn=lambda x, l: x,
                         MiniBatchFormat=["CB", ""])
    with pytest.raises(MiniBatchQueueError, match=r"returned 1 output\(s\).*2 output\(s\).*MiniBatchFormat"):
        next(mbq)


def test_numoutputs_keyword_checks_minibatchfcn():
    X, L = _data(4)
    mbq = minibatchqueue(X, L, numOutputs=3, MiniBatchFcn=lambda x, l: (x, l))
    assert mbq.NumOutputs == 3
    with pytest.raises(MiniBatchQueueError, match="numOutputs"):
        next(mbq)


# ---------------------------------------------------------------------------- iteration protocol

def test_for_loop_runs_over_remaining_batches():
    X, L = _data(10)
    mbq = minibatchqueue(X, L, MiniBatchSize=3)
    next(mbq)
    seen = [(_ids(x), _ids(l)) for x, l in mbq]
    assert [len(a) for a, _ in seen] == [3, 3, 1]
    np.testing.assert_array_equal(np.concatenate([a for a, _ in seen]), np.arange(3, 10))
    assert list(mbq) == []
    shuffle(mbq)
    assert len(list(mbq)) == 4


def test_builtin_next_and_module_next():
    X, L = _data(2)
    mbq = minibatchqueue(X, MiniBatchSize=2)
    assert isinstance(builtins.next(mbq), dlarray)
    # Python's built-in next (what `from dlteach import *` leaves in place) gets the teaching error, not a
    # bare StopIteration; NoDataError is not a StopIteration, so it cannot end a loop silently
    with pytest.raises(NoDataError, match="hasdata") as info:
        builtins.next(mbq)
    assert "reset(mbq)" in str(info.value) and not isinstance(info.value, StopIteration)
    assert next(mbq, "done") == "done"
    # module-level next falls back to Python's next for anything else
    it = iter([1, 2])
    assert next(it) == 1 and next(it) == 2
    assert next(it, None) is None
    with pytest.raises(StopIteration):
        next(it)


def test_methods_mirror_functions():
    X, L = _data(5)
    mbq = minibatchqueue(X, L, MiniBatchSize=5, seed=0)
    assert mbq.hasdata()
    mbq.next()
    assert not mbq.hasdata()
    mbq.reset()
    assert mbq.hasdata()
    mbq.next()
    mbq.shuffle()
    assert mbq.hasdata()


def test_repr_shows_matlab_properties():
    X, L = _data(10)
    text = repr(minibatchqueue(X, L, MiniBatchSize=4, MiniBatchFormat=["CB", ""]))
    assert "minibatchqueue with 2 outputs" in text
    assert "MiniBatchSize: 4" in text and "'CB'" in text and "3 mini-batches per epoch" in text


# ---------------------------------------------------------------------------- partition

def test_partition_covers_data_once():
    X, L = _data(11)
    mbq = minibatchqueue(X, L, MiniBatchSize=2, seed=5)
    shuffle(mbq)
    order = np.concatenate(_epoch(mbq))
    parts = [partition(mbq, 3, k) for k in range(3)]
    got = [np.concatenate(_epoch(p)) for p in parts]
    assert [len(g) for g in got] == [4, 4, 3]
    np.testing.assert_array_equal(np.concatenate(got), order)
    assert parts[0].MiniBatchSize == 2 and parts[0].NumOutputs == 2
    shuffle(parts[2])
    np.testing.assert_array_equal(np.sort(np.concatenate(_epoch(parts[2]))), np.sort(got[2]))


@pytest.mark.parametrize("num, idx, pattern", [(3, 3, "0 to 2.*0-based"), (0, 0, "numParts"), (2, -1, "0 to 1")])
def test_partition_errors(num, idx, pattern):
    X, L = _data(4)
    with pytest.raises(MiniBatchQueueError, match=pattern):
        partition(minibatchqueue(X, L), num, idx)


# ---------------------------------------------------------------------------- errors

def test_observation_count_mismatch_names_each_input():
    X = np.zeros((2, 5))
    T = np.zeros((3, 4))
    with pytest.raises(SizeMismatchError) as e:
        minibatchqueue(X, T)
    msg = str(e.value)
    assert "input 1 has size 2x5 -> 5 observations" in msg
    assert "input 2 has size 3x4 -> 4 observations" in msg
    assert "LAST dimension" in msg and "X.T" in msg
    assert isinstance(e.value, DLTeachError)


def test_observations_first_layout_is_caught():
    """A learner passing N x features data with labels of length N gets the transpose hint."""
    X = np.zeros((100, 2))
    L = np.zeros(100)
    with pytest.raises(SizeMismatchError, match=r"100x2 -> 2 observations.*X\.T"):
        minibatchqueue(X, L)


@pytest.mark.parametrize("bad", [0, -4, 2.5, True, "128", None])
def test_bad_minibatchsize(bad):
    X, L = _data(4)
    with pytest.raises(MiniBatchQueueError, match="MiniBatchSize must be a positive integer"):
        minibatchqueue(X, L, MiniBatchSize=bad)


def test_integral_float_minibatchsize_is_accepted():
    X, L = _data(4)
    assert minibatchqueue(X, L, MiniBatchSize=2.0).MiniBatchSize == 2


@pytest.mark.parametrize("bad", ["keep", "", None])
def test_bad_partial(bad):
    X, L = _data(4)
    with pytest.raises(MiniBatchQueueError, match="PartialMiniBatch must be 'return'.*'discard'"):
        minibatchqueue(X, L, PartialMiniBatch=bad)


def test_next_without_data_says_how_to_continue():
    X, L = _data(3)
    mbq = minibatchqueue(X, L, MiniBatchSize=3)
    next(mbq)
    with pytest.raises(NoDataError, match=r"reset\(mbq\) or shuffle\(mbq\).*hasdata"):
        next(mbq)
    empty = minibatchqueue(X, L, MiniBatchSize=5, PartialMiniBatch="discard")
    assert not hasdata(empty)
    with pytest.raises(NoDataError, match="never has data.*3 observations.*MiniBatchSize=5"):
        next(empty)


def test_integer_cast_with_dlarray_is_an_error():
    X, L = _data(4)
    with pytest.raises(MiniBatchQueueError, match=r"OutputAsDlarray=\[True, False\]"):
        minibatchqueue(X, L, OutputCast=["single", "int64"])


@pytest.mark.parametrize("bad, hint", [("float32", "'single'"), ("float64", "'double'"), ("half", "MATLAB class")])
def test_unknown_cast(bad, hint):
    X, L = _data(4)
    with pytest.raises(MiniBatchQueueError, match=hint):
        minibatchqueue(X, L, OutputCast=bad)


def test_format_list_length_mismatch():
    X, L = _data(4)
    with pytest.raises(MiniBatchQueueError, match="the 3 entries of MiniBatchFormat says 3"):
        minibatchqueue(X, L, MiniBatchFormat=["CB", "", ""])


def test_single_format_for_several_outputs():
    X, L = _data(4)
    with pytest.raises(MiniBatchQueueError, match=r"one format per output"):
        minibatchqueue(X, L, MiniBatchFormat="CB")


def test_format_without_dlarray():
    X, L = _data(4)
    with pytest.raises(MiniBatchQueueError, match="only a dlarray carries a format"):
        minibatchqueue(X, MiniBatchFormat="CB", OutputAsDlarray=False)


def test_invalid_format_label():
    X, L = _data(4)
    with pytest.raises(FormatError, match="unknown label"):
        minibatchqueue(X, MiniBatchFormat="CX")


def test_image_without_channel_dimension_gets_hint():
    X = np.zeros((5, 4, 6))  # H x W x N: missing C
    mbq = minibatchqueue(X, MiniBatchSize=3, MiniBatchFormat="SSCB")
    with pytest.raises(FormatError, match=r"5x4x3.*'SSCB' has 4 labels.*np\.newaxis"):
        next(mbq)


def test_batch_label_must_be_observation_dimension():
    X, L = _data(4)
    mbq = minibatchqueue(X, MiniBatchSize=2, MiniBatchFormat="BC")
    with pytest.raises(FormatError, match="'B'.*dimension 1.*ending in 'B', e.g. 'CB'"):
        next(mbq)


def test_properties_are_read_only():
    X, L = _data(4)
    mbq = minibatchqueue(X, L)
    with pytest.raises(MiniBatchQueueError, match="read-only.*minibatchqueue\\(..., MiniBatchSize=...\\)"):
        mbq.MiniBatchSize = 8


def test_functions_reject_non_queues():
    for f in (hasdata, reset, shuffle):
        with pytest.raises(MiniBatchQueueError, match="expects a minibatchqueue"):
            f(np.zeros(3))


def test_no_inputs_and_bad_fcn():
    with pytest.raises(MiniBatchQueueError, match="needs the data"):
        minibatchqueue()
    X, L = _data(4)
    with pytest.raises(MiniBatchQueueError, match="MiniBatchFcn must be a function"):
        minibatchqueue(X, MiniBatchFcn=3)


# ---------------------------------------------------------------------------- with the shipped digits

def test_digits_epoch():
    from dlteach.data import load_digits

    X, labels, T = load_digits("test")
    mbq = minibatchqueue(X, T, labels, MiniBatchSize=128, MiniBatchFormat=["SSCB", "CB", ""],
                         OutputCast=["single", "single", "int64"], OutputAsDlarray=[True, True, False], seed=0)
    shuffle(mbq)
    total, sizes = 0, []
    while hasdata(mbq):
        Xb, Tb, lb = next(mbq)
        assert dims(Xb) == "SSCB" and Xb.shape[:3] == (28, 28, 1)
        np.testing.assert_array_equal(extractdata(Tb).argmax(0), lb)
        total += lb.sum()
        sizes.append(len(lb))
    assert sizes == [128] * 7 + [104]
    assert total == labels.sum()
