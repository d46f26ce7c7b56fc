"""Datastores for a custom training loop: ``arrayDatastore``, ``combine``, ``transform``.

MATLAB counterparts: ``arrayDatastore`` (ArrayDatastore), ``combine`` (CombinedDatastore),
``transform`` (TransformedDatastore) and their functions ``read``, ``readall``, ``preview``,
``hasdata``, ``reset``, ``shuffle``, ``partition``, ``numpartitions``. A datastore is what
``minibatchqueue(ds, ...)`` reads its observations from::

    dsX = arrayDatastore(XTrain, OutputType="same")     # XTrain: a list of C x T sequences
    dsT = arrayDatastore(TTrain)                         # TTrain: N labels
    dsTrain = combine(dsX, dsT)                          # read(dsTrain) -> [X_i, t_i]
    mbq = minibatchqueue(dsTrain, MiniBatchSize=32, MiniBatchFcn=preprocessMiniBatch,
                         MiniBatchFormat=["CTB", ""])

cell -> list: where MATLAB's ``read`` returns a cell array, dlteach returns a Python list.

arrayDatastore(A, IterationDimension=1, OutputType="cell", ReadSize=1)
    ``A`` is an array (observations along ``IterationDimension``, counted from 1 as in MATLAB: 1 = rows)
    or a list (MATLAB cell array: one observation per element). One observation of an array is the
    slice at index i along IterationDimension, which keeps that dimension with size 1 (MATLAB's
    ``A(i,:)``). ``read`` returns ``ReadSize`` observations:

    * ``OutputType="cell"`` (default): a list of the observations (a ReadSize x 1 cell array). For a
      list ``A`` each observation is itself a one-element list (MATLAB's cell of cells).
    * ``OutputType="same"``: the data in A's own type: ``A[i:i+ReadSize]`` (an array; needs
      IterationDimension 1, as in MATLAB) or a sublist of the list A. This is the form for a list of
      variable-length sequences: ``read`` returns ``[X_i]``.

combine(ds1, ds2, ...)
    Reads every datastore and puts the results side by side: a read of ReadSize 1 gives one row,
    ``[data_1, data_2, ...]`` (MATLAB's 1 x N cell); k observations give a list of k rows.
    The datastores must hold the same number of observations.

transform(ds, fcn)
    ``read`` returns ``fcn(read(ds))``. For ``minibatchqueue`` the result is read as MATLAB does: a list
    of lists is one row per observation, a flat list is the variables of one observation, anything
    else one observation with one variable.

shuffle(ds) returns a NEW datastore with the observations in a random order (NumPy's global random
state: ``np.random.seed(0)`` makes it reproducible, as ``rng(0)`` in MATLAB); combined datastores are
shuffled together, so observations stay aligned. ``partition(ds, N, idx)`` returns part ``idx``
(0-based, as ``partition(mbq, ...)``; MATLAB counts from 1) of N contiguous parts;
``numpartitions(ds)`` is the number of observations (the most parts a datastore can have).
``preview(ds)`` is the first ``read`` of a reset copy; ``readall(ds)`` every observation, formatted as one
read.
"""

from __future__ import annotations

import copy
import numbers

import numpy as np

from . import validate as _v
from .errors import DLTeachError

__all__ = ["arrayDatastore", "combine", "transform", "read", "readall", "preview", "numpartitions",
           "DatastoreError", "ArrayDatastore", "CombinedDatastore", "TransformedDatastore"]


class DatastoreError(DLTeachError, ValueError):
    """A datastore was created or read the wrong way (the message names the fix)."""


def _positive_int(v, fname, name, hint=""):
    return _v.integer(fname, name, v, cls=DatastoreError, hint=hint.strip())


class Datastore:
    """Base class of dlteach's datastores: MATLAB's read / hasdata / reset / shuffle / partition protocol.

    Subclasses implement ``_num_obs()``, ``_rows(indices)`` (one row per observation: the list of its
    variables), ``_format(rows)`` (what ``read`` shows for those rows), ``_permuted(order)`` and
    ``_read_size``. Position and order are per object; ``shuffle``/``partition`` return new objects.
    """

    _pos = 0

    def _read_rows(self):
        n = self._num_obs()
        k = min(self._read_size(), n - self._pos)
        if k <= 0:
            raise DatastoreError(
                f"read: no data is left in this {type(self).__name__} (all {n} observations have been read). "
                "Call reset(ds) to start again, and loop with 'while hasdata(ds):'.")
        rows = self._rows(range(self._pos, self._pos + k))
        self._pos += k
        return rows

    # MATLAB functions as methods ------------------------------------------------------------------
    def read(self):
        """The next ReadSize observations (MATLAB ``data = read(ds)``)."""
        return self._format(self._read_rows())

    def hasdata(self) -> bool:
        """True if ``read`` can return data (MATLAB ``hasdata``)."""
        return self._pos < self._num_obs()

    def reset(self) -> None:
        """Back to the first observation (MATLAB ``reset``)."""
        self._pos = 0

    def readall(self):
        """All observations, formatted as one read (MATLAB ``readall``)."""
        return self._format(self._rows(range(self._num_obs())))

    def preview(self):
        """The first read of this datastore, without moving its position (MATLAB ``preview``)."""
        return self._format(self._rows(range(min(self._read_size(), self._num_obs()))))

    def shuffle(self):
        """A new datastore with the observations in random order (MATLAB ``dsNew = shuffle(ds)``)."""
        return self._permuted(np.random.permutation(self._num_obs()))

    def partition(self, numPartitions, idx):
        """Part ``idx`` (0-based) of ``numPartitions`` contiguous parts (MATLAB ``partition``, 1-based there)."""
        n = _positive_int(numPartitions, "partition", "numPartitions")
        if isinstance(idx, bool) or not isinstance(idx, numbers.Integral) or not 0 <= idx < n:
            raise DatastoreError(f"partition: idx must be an integer from 0 to {n - 1} (0-based; MATLAB counts "
                                 f"from 1); got {idx!r}.")
        return self._permuted(np.array_split(np.arange(self._num_obs()), n)[idx])

    def numpartitions(self) -> int:
        """The number of observations: the most parts ``partition`` can make (MATLAB ``numpartitions``)."""
        return self._num_obs()

    def __len__(self):
        return self._num_obs()

    def _copy(self):
        return copy.copy(self)


# -------------------------------------------------------------------------------------------------
# arrayDatastore

class ArrayDatastore(Datastore):
    """Datastore over in-memory data (MATLAB ``ArrayDatastore``); create it with :func:`arrayDatastore`."""

    def __init__(self, A, IterationDimension=1, OutputType="cell", ReadSize=1):
        if A is None:
            raise DatastoreError("arrayDatastore: the data is None (a function that forgot `return`?).")
        if isinstance(A, tuple):
            A = list(A)
        self._is_list = isinstance(A, list)
        if not self._is_list:
            from .dlarray import dlarray, extractdata

            A = extractdata(A) if isinstance(A, dlarray) else np.asarray(A)
            if A.ndim == 0:
                A = A.reshape(1, 1)
        self._data = A
        self._order = None
        self._dim = _positive_int(IterationDimension, "arrayDatastore", "IterationDimension",
                                  " It counts from 1 as in MATLAB: 1 = rows, 2 = columns, ndims = last.")
        if self._is_list and self._dim != 1:
            raise DatastoreError("arrayDatastore: a list (MATLAB cell array) is read one element at a time; "
                                 "IterationDimension must be 1.")
        if not self._is_list and self._dim > max(A.ndim, 2):
            raise DatastoreError(f"arrayDatastore: IterationDimension={self._dim} but the data has {A.ndim} "
                                 f"dimensions (size {'x'.join(map(str, A.shape))}).")
        self.OutputType = OutputType
        self.ReadSize = ReadSize
        self._pos = 0

    # properties with MATLAB's names -----------------------------------------------------------------
    @property
    def IterationDimension(self) -> int:
        return self._dim

    @property
    def OutputType(self) -> str:
        return self._output

    @OutputType.setter
    def OutputType(self, value):
        v = _v.option("arrayDatastore", "OutputType", value, ("cell", "same"), cls=DatastoreError)
        if v == "same" and not self._is_list and self._dim != 1:
            raise DatastoreError(
                "arrayDatastore: OutputType='same' needs IterationDimension=1 (MATLAB's rule): 'same' returns "
                "rows of the array. Use the default OutputType='cell' to read along another dimension.")
        self._output = v
        self._pos = 0

    @property
    def ReadSize(self) -> int:
        return self._rs

    @ReadSize.setter
    def ReadSize(self, value):
        self._rs = _positive_int(value, "arrayDatastore", "ReadSize")

    def _read_size(self):
        return self._rs

    # protocol ---------------------------------------------------------------------------------------
    def _num_obs(self):
        if self._order is not None:
            return len(self._order)
        return len(self._data) if self._is_list else (self._data.shape[self._dim - 1] if self._dim <= self._data.ndim else 1)

    def _index(self, i):
        return int(self._order[i]) if self._order is not None else i

    def _obs(self, j):
        if self._is_list:
            v = self._data[j]
            return v if self._output == "same" else [v]
        A = self._data
        if self._dim > A.ndim:
            return A[..., None]
        # basic slicing + copy: O(one observation). np.take(A, [j], axis) first copies all of A when A is a
        # non-contiguous view (e.g. XTrain[..., :3000]): 1 ms per observation for 3,000 digits.
        return A[(slice(None),) * (self._dim - 1) + (slice(j, j + 1),)].copy()

    def _rows(self, indices):
        return [[self._obs(self._index(i))] for i in indices]

    def _format(self, rows):
        values = [r[0] for r in rows]
        if self._output == "cell" or self._is_list:
            return values
        return np.concatenate(values, axis=0) if values else self._data[:0]

    def _permuted(self, order):
        new = self._copy()
        base = self._order if self._order is not None else np.arange(self._num_obs())
        new._order = base[np.asarray(order, dtype=np.int64)]
        new._pos = 0
        return new

    def __repr__(self):
        kind = f"list of {len(self._data)}" if self._is_list else f"{'x'.join(map(str, self._data.shape))} {self._data.dtype} array"
        return (f"ArrayDatastore with properties:\n\n            ReadSize: {self._rs}\n  IterationDimension: {self._dim}\n"
                f"          OutputType: '{self._output}'\n\n  {self._num_obs()} observations ({kind})")


def arrayDatastore(A, *, IterationDimension=1, OutputType="cell", ReadSize=1):
    """Datastore for in-memory data (MATLAB ``arrds = arrayDatastore(A, Name=Value)``).

    ``A``: an array (observations along ``IterationDimension``, counted from 1: 1 = rows, the default)
    or a list of arrays (MATLAB cell array, e.g. variable-length sequences). ``read`` returns
    ``ReadSize`` observations: a list of them (``OutputType="cell"``, default) or the data in A's type
    (``"same"``: rows of the array, or a sublist). See the module docstring.
    """
    return ArrayDatastore(A, IterationDimension=IterationDimension, OutputType=OutputType, ReadSize=ReadSize)


# -------------------------------------------------------------------------------------------------
# combine / transform

def rows_of(data):
    """A read result -> rows (MATLAB's reading of a cell array / other data by minibatchqueue). Used by
    minibatchqueue; no MATLAB counterpart."""
    if isinstance(data, (list, tuple)):
        if data and all(isinstance(r, (list, tuple)) for r in data):
            return [list(r) for r in data]
        return [list(data)]
    return [[data]]


def _format_rows(rows):
    if len(rows) == 1:
        return list(rows[0])
    return [list(r) for r in rows]


class CombinedDatastore(Datastore):
    """Datastores read side by side (MATLAB ``CombinedDatastore``); create it with :func:`combine`."""

    def __init__(self, datastores):
        self.UnderlyingDatastores = list(datastores)
        self._pos = 0
        counts = [d._num_obs() for d in self.UnderlyingDatastores]
        if len(set(counts)) > 1:
            raise DatastoreError(
                "combine: the datastores hold different numbers of observations ("
                + ", ".join(f"datastore {i + 1}: {n}" for i, n in enumerate(counts))
                + "). Each read takes the next observation of every datastore, so they must have as many.")
        sizes = {d._read_size() for d in self.UnderlyingDatastores}
        if len(sizes) > 1:
            raise DatastoreError(f"combine: the datastores have different ReadSize values {sorted(sizes)}; give "
                                 "them the same ReadSize.")

    def _num_obs(self):
        return self.UnderlyingDatastores[0]._num_obs()

    def _read_size(self):
        return self.UnderlyingDatastores[0]._read_size()

    def _rows(self, indices):
        indices = list(indices)
        parts = [d._rows(indices) for d in self.UnderlyingDatastores]
        return [sum((p[i] for p in parts), []) for i in range(len(indices))]

    def _format(self, rows):
        return _format_rows(rows)

    def _permuted(self, order):
        new = self._copy()
        new.UnderlyingDatastores = [d._permuted(order) for d in self.UnderlyingDatastores]
        new._pos = 0
        return new

    def __repr__(self):
        return (f"CombinedDatastore of {len(self.UnderlyingDatastores)} datastores, {self._num_obs()} observations; "
                "read(ds) returns one value per datastore.")


class TransformedDatastore(Datastore):
    """A datastore whose reads pass through a function (MATLAB ``TransformedDatastore``)."""

    def __init__(self, ds, fcn):
        self.UnderlyingDatastores = [ds]
        self.Transforms = [fcn]
        self._pos = 0

    def _num_obs(self):
        return self.UnderlyingDatastores[0]._num_obs()

    def _read_size(self):
        return self.UnderlyingDatastores[0]._read_size()

    def _apply(self, rows):
        data = self.UnderlyingDatastores[0]._format(rows)
        for f in self.Transforms:
            data = f(data)
        return data

    def _read_rows(self):
        n = self._num_obs()
        k = min(self._read_size(), n - self._pos)
        if k <= 0:
            raise DatastoreError("read: no data is left in this TransformedDatastore. Call reset(ds) to start again.")
        rows = self.UnderlyingDatastores[0]._rows(range(self._pos, self._pos + k))
        self._pos += k
        return rows_of(self._apply(rows))

    def read(self):
        n = self._num_obs()
        k = min(self._read_size(), n - self._pos)
        if k <= 0:
            raise DatastoreError("read: no data is left in this TransformedDatastore. Call reset(ds) to start again.")
        rows = self.UnderlyingDatastores[0]._rows(range(self._pos, self._pos + k))
        self._pos += k
        return self._apply(rows)

    def _rows(self, indices):
        out = []
        ds = self.UnderlyingDatastores[0]
        indices = list(indices)
        k = ds._read_size()
        for s in range(0, len(indices), k):  # the function sees reads of ReadSize observations
            out.extend(rows_of(self._apply(ds._rows(indices[s:s + k]))))
        return out

    def readall(self):
        rows = self._rows(range(self._num_obs()))
        return _format_rows(rows)

    def preview(self):
        ds = self.UnderlyingDatastores[0]
        return self._apply(ds._rows(range(min(ds._read_size(), ds._num_obs()))))

    def _format(self, rows):
        return _format_rows(rows)

    def _permuted(self, order):
        new = self._copy()
        new.UnderlyingDatastores = [self.UnderlyingDatastores[0]._permuted(order)]
        new._pos = 0
        return new

    def __repr__(self):
        names = ", ".join(getattr(f, "__name__", repr(f)) for f in self.Transforms)
        return f"TransformedDatastore ({names}) over {type(self.UnderlyingDatastores[0]).__name__}, {self._num_obs()} observations"


def _require_ds(obj, fname):
    if isinstance(obj, Datastore):
        return obj
    raise DatastoreError(f"{fname} expects a datastore (arrayDatastore, combine, transform); got {type(obj).__name__}.")


def combine(*datastores, ReadOrder="associated"):
    """Combine datastores (MATLAB ``dsnew = combine(ds1, ds2, ...)``): each read returns the reads of
    all of them side by side, ``[data1, data2, ...]``. Only ``ReadOrder="associated"`` (the default)."""
    if not datastores:
        raise DatastoreError("combine needs at least one datastore: combine(dsX, dsT).")
    for i, d in enumerate(datastores):
        if not isinstance(d, Datastore):
            raise DatastoreError(f"combine: input {i + 1} is {type(d).__name__}, not a datastore. Wrap arrays first: "
                                 "combine(arrayDatastore(X), arrayDatastore(T)).")
    if str(ReadOrder).lower() != "associated":
        raise DatastoreError("combine: only ReadOrder='associated' is available in dlteach.")
    return CombinedDatastore(datastores)


def transform(ds, fcn, *, IncludeInfo=False):
    """Transform a datastore (MATLAB ``dsnew = transform(ds, @fcn)``): ``read(dsnew)`` is ``fcn(read(ds))``."""
    _require_ds(ds, "transform")
    if not callable(fcn):
        raise DatastoreError(f"transform: the second argument must be a function (MATLAB: @fcn); got {type(fcn).__name__}.")
    if IncludeInfo:
        raise DatastoreError("transform: IncludeInfo=True is not available in dlteach (datastores have no info).")
    if isinstance(ds, TransformedDatastore):
        new = ds._copy()
        new.Transforms = ds.Transforms + [fcn]
        new._pos = 0
        return new
    return TransformedDatastore(ds, fcn)


def read(ds):
    """The next data of the datastore (MATLAB ``data = read(ds)``)."""
    return _require_ds(ds, "read").read()


def readall(ds):
    """All the data of the datastore (MATLAB ``data = readall(ds)``)."""
    return _require_ds(ds, "readall").readall()


def preview(ds):
    """The first read of the datastore, leaving its position (MATLAB ``preview``)."""
    return _require_ds(ds, "preview").preview()


def numpartitions(ds):
    """The number of observations: the most parts ``partition`` can make (MATLAB ``numpartitions``)."""
    return _require_ds(ds, "numpartitions").numpartitions()
