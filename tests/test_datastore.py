"""Datastores (arrayDatastore, combine, transform) and minibatchqueue reading from them.

References: the slices of the data written by hand (np.take / indexing) and MATLAB's documented
semantics (read returns ReadSize observations; OutputType "cell" a list, "same" the data's own type;
combine reads side by side; MiniBatchFcn receives one list per variable).
"""

import builtins

import numpy as np
import pytest

from dlteach import (
    arrayDatastore,
    combine,
    dlarray,
    extractdata,
    hasdata,
    minibatchqueue,
    next,
    numpartitions,
    padsequences,
    partition,
    preview,
    read,
    readall,
    reset,
    shuffle,
    transform,
)
from dlteach.datastore import DatastoreError
from dlteach.errors import FormatError, MiniBatchQueueError, NoDataError


def _ids(x):
    return np.asarray(extractdata(x) if isinstance(x, dlarray) else x)


# ------------------------------------------------------------------------------------ arrayDatastore

def test_array_rows_cell_and_same_and_readsize():
    A = np.arange(12.0).reshape(6, 2)  # 6 observations (rows)
    ds = arrayDatastore(A)
    first = read(ds)
    assert isinstance(first, list) and len(first) == 1
    np.testing.assert_array_equal(first[0], A[0:1])  # MATLAB's A(1,:), a 1 x 2 row
    ds.ReadSize = 4
    nxt = read(ds)
    assert len(nxt) == 4 and all(v.shape == (1, 2) for v in nxt)
    np.testing.assert_array_equal(np.concatenate(nxt), A[1:5])
    last = read(ds)
    assert len(last) == 1 and hasdata(ds) is False
    with pytest.raises(DatastoreError, match="reset"):
        read(ds)
    reset(ds)
    assert hasdata(ds)
    same = arrayDatastore(A, OutputType="same", ReadSize=4)
    np.testing.assert_array_equal(read(same), A[:4])
    np.testing.assert_array_equal(read(same), A[4:])
    np.testing.assert_array_equal(readall(same), A)


def test_iteration_dimension_last_keeps_a_singleton():
    X = np.random.default_rng(0).random((3, 4, 1, 5))  # H x W x C x N
    ds = arrayDatastore(X, IterationDimension=4)
    assert numpartitions(ds) == 5
    obs = read(ds)[0]
    assert obs.shape == (3, 4, 1, 1)
    np.testing.assert_array_equal(obs[..., 0], X[..., 0])
    with pytest.raises(DatastoreError, match="IterationDimension=1"):
        arrayDatastore(X, IterationDimension=4, OutputType="same")
    with pytest.raises(DatastoreError, match="counts from 1"):
        arrayDatastore(X, IterationDimension=0)


def test_a_view_of_the_data_reads_the_same_observations_as_a_copy_and_reads_are_copies():
    # XTrain[..., :n] is a non-contiguous view: each read must give that observation (and not copy all of X)
    X = np.random.default_rng(1).random((3, 4, 1, 9)).astype(np.float32)
    view = X[..., 2:8]
    for dim, data in ((4, view), (2, X[:, 1:3, 0, 0])):
        got = readall(arrayDatastore(data, IterationDimension=dim))
        want = [np.take(np.ascontiguousarray(data), [j], axis=dim - 1) for j in range(data.shape[dim - 1])]
        assert len(got) == len(want) and all(np.array_equal(g, w) and g.shape == w.shape for g, w in zip(got, want))
    obs = read(arrayDatastore(view, IterationDimension=4))[0]
    obs[...] = -1                                   # MATLAB's read returns a copy: the source is unchanged
    assert (X >= 0).all()


def test_list_of_sequences_same_vs_cell():
    seqs = [np.ones((3, n)) * n for n in (4, 2, 5)]
    same = arrayDatastore(seqs, OutputType="same")
    r = read(same)
    assert isinstance(r, list) and len(r) == 1 and r[0] is seqs[0]
    cell = arrayDatastore(seqs)
    r = read(cell)
    assert isinstance(r[0], list) and r[0][0] is seqs[0]  # MATLAB's cell of cells
    assert len(readall(same)) == 3 and preview(same)[0] is seqs[0]


def test_combine_transform_shuffle_partition_keep_observations_aligned():
    X = np.arange(10.0).reshape(10, 1) * np.array([[1.0, -1.0]])  # row j = [j, -j]
    T = np.arange(10)
    ds = combine(arrayDatastore(X), arrayDatastore(T))
    x0, t0 = read(ds)
    np.testing.assert_array_equal(x0, [[0.0, -0.0]])
    assert t0.shape == (1,) and t0[0] == 0
    np.random.seed(3)
    sh = shuffle(ds)
    assert sh is not ds and hasdata(ds)
    seen = []
    while hasdata(sh):
        x, t = read(sh)
        assert x[0, 0] == t[0] == -x[0, 1]
        seen.append(int(t[0]))
    assert sorted(seen) == list(range(10)) and seen != list(range(10))
    parts = [readall(partition(ds, 3, i)) for i in range(3)]
    assert [len(p) for p in parts] == [4, 3, 3]
    assert [int(row[1][0]) for p in parts for row in p] == list(range(10))
    tr = transform(ds, lambda data: [data[0] * 10, data[1]])
    x, t = read(tr)
    np.testing.assert_array_equal(x, [[0.0, -0.0]])
    x, t = read(tr)
    np.testing.assert_array_equal(x, [[10.0, -10.0]])
    with pytest.raises(DatastoreError, match="different numbers of observations"):
        combine(arrayDatastore(X), arrayDatastore(T[:9]))
    with pytest.raises(DatastoreError, match="not a datastore"):
        combine(arrayDatastore(X), T)


# ------------------------------------------------------------------------- minibatchqueue(datastore)

def test_mbq_from_datastore_collates_like_matlab():
    X = np.arange(20.0).reshape(10, 2)  # rows: observations
    T = np.arange(10)
    mbq = minibatchqueue(combine(arrayDatastore(X), arrayDatastore(T)), MiniBatchSize=4, MiniBatchFormat=["BC", "BC"])
    assert mbq.NumOutputs == 2
    sizes = []
    while hasdata(mbq):
        Xb, Tb = next(mbq)
        assert Xb.fmt == "CB" and Tb.fmt == "CB"  # B x C rows -> C x B
        np.testing.assert_array_equal(_ids(Xb)[0], 2 * _ids(Tb)[0])
        sizes.append(Xb.shape[1])
    assert sizes == [4, 4, 2]
    with pytest.raises(NoDataError, match="hasdata"):
        builtins.next(mbq)
    # columns of a C x N array with IterationDimension=2 collate to C x B
    mbq2 = minibatchqueue(arrayDatastore(X.T, IterationDimension=2), MiniBatchSize=3, MiniBatchFormat="CB")
    np.testing.assert_array_equal(_ids(next(mbq2)), X.T[:, :3])


def test_mbq_minibatchfcn_gets_lists_and_padsequences_pads_variable_lengths():
    rng = np.random.default_rng(1)
    lengths = [5, 3, 7, 4, 6]
    seqs = [rng.random((2, n)).astype(np.float32) for n in lengths]
    labels = np.array([0, 1, 2, 1, 0])
    seen = {}

    def preprocessMiniBatch(dataX, dataT):
        seen["types"] = (type(dataX), type(dataT), len(dataX))
        X = padsequences(dataX, 2)
        T = np.concatenate(dataT)
        return X, T

    ds = combine(arrayDatastore(seqs, OutputType="same"), arrayDatastore(labels))
    mbq = minibatchqueue(ds, MiniBatchSize=2, MiniBatchFcn=preprocessMiniBatch, MiniBatchFormat=["CTB", ""],
                         OutputAsDlarray=[True, False], OutputCast=["single", "int64"])
    X, T = next(mbq)
    assert seen["types"] == (list, list, 2)
    assert X.fmt == "CBT" and X.shape == (2, 2, 5)
    np.testing.assert_array_equal(extractdata(X)[:, 1, :3], seqs[1])
    np.testing.assert_array_equal(extractdata(X)[:, 1, 3:], 0)
    np.testing.assert_array_equal(T, [0, 1])
    # without padding the collate step names padsequences
    mbq_bad = minibatchqueue(ds, MiniBatchSize=2)
    with pytest.raises(MiniBatchQueueError, match="padsequences"):
        next(mbq_bad)


def test_mbq_datastore_shuffle_seed_partition_discard_and_numoutputs():
    X = np.arange(11.0).reshape(11, 1)
    ds = combine(arrayDatastore(X), arrayDatastore(np.arange(11)))
    mbq = minibatchqueue(ds, 2, MiniBatchSize=4, PartialMiniBatch="discard", seed=0)  # positional numOutputs
    assert mbq.NumOutputs == 2
    orders = []
    for _ in range(2):
        shuffle(mbq)
        ids = []
        while hasdata(mbq):
            x, t = next(mbq)
            np.testing.assert_array_equal(_ids(x).ravel(), _ids(t).ravel())
            ids.extend(_ids(t).ravel().astype(int).tolist())
        assert len(ids) == 8 and len(set(ids)) == 8
        orders.append(ids)
    assert orders[0] != orders[1]
    reset(mbq)
    assert hasdata(mbq)
    part = partition(mbq, 2, 1)
    assert part.hasdata() and "from a CombinedDatastore, 5 observations" in repr(part)
    with pytest.raises(MiniBatchQueueError, match="numOutputs"):
        minibatchqueue(ds, 3, MiniBatchSize=4)
    with pytest.raises(MiniBatchQueueError, match="ONE datastore"):
        minibatchqueue(arrayDatastore(X), arrayDatastore(X))


# ------------------------------------------------------------------ in-memory shortcut: new behaviour

def test_positional_numoutputs_in_memory():
    X = np.arange(12.0).reshape(2, 6)
    mbq = minibatchqueue(X, 1, MiniBatchSize=4)
    assert mbq.NumOutputs == 1 and next(mbq).shape == (2, 4)
    with pytest.raises(MiniBatchQueueError, match="number of outputs does not add up"):
        minibatchqueue(X, 2, MiniBatchSize=4)


def test_list_of_sequences_in_memory_needs_padding_and_works_with_minibatchfcn():
    seqs = [np.ones((3, n), np.float32) for n in (4, 2, 5)]
    with pytest.raises(MiniBatchQueueError, match="padsequences"):
        next(minibatchqueue(seqs, MiniBatchSize=2))
    with pytest.raises(MiniBatchQueueError, match="padsequences"):
        minibatchqueue([[1.0, 2.0], [3.0]], MiniBatchSize=2)  # NumPy's "inhomogeneous shape", named
    mbq = minibatchqueue(seqs, np.array([0, 1, 2]), MiniBatchSize=2,
                         MiniBatchFcn=lambda xs, t: (padsequences(xs, 2), t), MiniBatchFormat=["CTB", ""])
    X, T = next(mbq)
    assert X.fmt == "CBT" and X.shape == (3, 2, 4) and _ids(T).tolist() == [0, 1]
    equal = [np.full((3, 4), k, np.float32) for k in range(3)]
    Xb = next(minibatchqueue(equal, MiniBatchSize=3, MiniBatchFormat="CTB"))
    assert Xb.shape == (3, 3, 4)  # C x T x B: stacked along a new last dimension
    np.testing.assert_array_equal(extractdata(Xb)[0, :, 0], [0, 1, 2])


def test_mbq_from_transformed_datastore_and_star_import_next():
    seqs = [np.full((2, n), float(n), np.float32) for n in (3, 5, 4, 6)]
    ds = transform(combine(arrayDatastore(seqs, OutputType="same"), arrayDatastore(np.arange(4))),
                   lambda data: [padsequences([data[0]], 2, Length=6)[..., 0], data[1]])  # pad each to 6 steps
    mbq = minibatchqueue(ds, MiniBatchSize=3, MiniBatchFormat=["CTB", "BC"])
    X, T = next(mbq)
    assert X.fmt == "CBT" and X.shape == (2, 3, 6) and T.fmt == "CB" and T.shape == (1, 3)
    np.testing.assert_array_equal(extractdata(X)[0, :, 0], [3, 5, 4])
    np.testing.assert_array_equal(extractdata(X)[0, 0, 3:], 0)
    namespace = {"mbq": mbq}
    exec("from dlteach import *\nX, T = next(mbq)", namespace)  # Python's built-in next, as in the lessons
    assert namespace["X"].shape == (2, 1, 6)
    with pytest.raises(NoDataError, match="hasdata"):
        exec("from dlteach import *\nnext(mbq)", namespace)


def test_collate_refuses_a_format_whose_B_is_not_the_concatenated_dimension():
    X = np.random.default_rng(0).random((4, 4, 1, 6)).astype(np.float32)  # grey images H x W x 1 x N
    ds = arrayDatastore(X, IterationDimension=4)
    with pytest.raises(FormatError, match="'SSBC'"):
        next(minibatchqueue(ds, MiniBatchSize=3, MiniBatchFormat="SSCB"))
    Xb = next(minibatchqueue(ds, MiniBatchSize=3, MiniBatchFormat="SSBC"))  # MATLAB's doc example's format
    assert Xb.fmt == "SSCB" and Xb.shape == (4, 4, 1, 3)
    np.testing.assert_array_equal(extractdata(Xb), X[..., :3])
    with pytest.raises(FormatError, match="'BC'"):
        next(minibatchqueue(arrayDatastore(np.arange(6)), MiniBatchSize=3, MiniBatchFormat="CB"))
    assert next(minibatchqueue(arrayDatastore(np.arange(6)), MiniBatchSize=3, MiniBatchFormat="BC")).shape == (1, 3)
    # a MiniBatchFcn that concatenates along dimension 4 makes SSCB right, as in MATLAB's examples
    mbq = minibatchqueue(ds, 1, MiniBatchSize=3, MiniBatchFcn=lambda dataX: np.concatenate(dataX, axis=3),
                         MiniBatchFormat="SSCB")
    np.testing.assert_array_equal(extractdata(next(mbq)), X[..., :3])


class _SquaresDatastore:
    """A custom datastore (MATLAB: a subclass of matlab.io.Datastore): read / hasdata / reset (+ shuffle)."""

    def __init__(self, n, order=None):
        self.n, self.order, self.i = n, list(range(n)) if order is None else order, 0

    def read(self):
        k = self.order[self.i]
        self.i += 1
        return [np.array([[k, k * k]], np.float32), np.array([k])]  # one observation: 1 x 2 row and a label

    def hasdata(self):
        return self.i < self.n

    def reset(self):
        self.i = 0

    def shuffle(self):
        return _SquaresDatastore(self.n, list(np.random.permutation(self.n)))


def test_mbq_reads_a_custom_datastore():
    ds = _SquaresDatastore(7)
    mbq = minibatchqueue(ds, MiniBatchSize=3, MiniBatchFormat=["BC", "BC"])
    assert mbq.NumOutputs == 2 and "? observations" in repr(mbq)
    sizes = []
    while hasdata(mbq):
        X, T = next(mbq)
        np.testing.assert_array_equal(_ids(X)[1], _ids(X)[0] ** 2)
        np.testing.assert_array_equal(_ids(X)[0], _ids(T)[0])
        sizes.append(X.shape[1])
    assert sizes == [3, 3, 1]
    np.random.seed(0)
    shuffle(mbq)
    ids = []
    while hasdata(mbq):
        ids.extend(_ids(next(mbq)[1])[0].astype(int).tolist())
    assert sorted(ids) == list(range(7)) and ids != list(range(7))
    with pytest.raises(MiniBatchQueueError, match="partition"):
        partition(mbq, 2, 0)
