"""``minibatchqueue``: mini-batches for a custom training loop, from a datastore or in-memory arrays.

MATLAB counterpart: ``minibatchqueue`` with ``hasdata``, ``next``, ``reset``, ``shuffle``, ``partition``::

    mbq = minibatchqueue(dsTrain, MiniBatchSize=128, MiniBatchFcn=preprocessMiniBatch,
                         MiniBatchFormat=["SSCB", ""])          # from a datastore, as in MATLAB
    mbq = minibatchqueue(XTrain, TTrain, MiniBatchSize=128, MiniBatchFormat=["SSCB", "CB"])  # shortcut
    for epoch in range(numEpochs):
        shuffle(mbq)
        while hasdata(mbq):
            X, T = next(mbq)
            ...

From a datastore (:mod:`dlteach.datastore`: ``arrayDatastore``, ``combine``, ``transform``), as in
MATLAB: ``minibatchqueue(ds)`` or ``minibatchqueue(ds, numOutputs, ...)``. Every read gives rows of
observations; each mini-batch takes MiniBatchSize of them and, per variable (column), makes a list
(MATLAB: a cell array) of the MiniBatchSize values:

* with ``MiniBatchFcn``, the function receives one list per variable, ``fcn(dataX, dataT)``, and
  returns the outputs (e.g. ``X = padsequences(dataX, 2)``, ``T = onehotencode(...)``); a function that
  takes fewer positional arguments than the reads have variables gets the first ones, as in MATLAB
  (``preprocessMiniBatchPredictors(dataX)`` on an augmentedImageDatastore with labels: the images only);
* without it ("collate"), each variable's values are concatenated along their first dimension of
  size 1 (a new last dimension if there is none; an array counts as at least 2-D, trailing
  dimensions of size 1 included, as MATLAB's sizes do): rows 1 x F give B x F, columns F x 1 give
  F x B, C x T sequences give C x T x B, scalars give B x 1. Values of different sizes cannot be
  concatenated: variable-length sequences must be padded (``padsequences`` in the MiniBatchFcn).
  *Decision*: "first dimension of size 1" is our reading of MATLAB's collate, chosen because it
  reproduces the sizes of MATLAB's documented examples (e.g. 100x100 images give 100x100xB).

``shuffle(mbq)`` puts the datastore's observations in a new random order (combined datastores stay
aligned), ``partition`` partitions the datastore. A custom datastore (MATLAB: a subclass of
``matlab.io.Datastore``) is any object with ``read()``, ``hasdata()`` and ``reset()`` methods; the queue
reads it as it reads a transformed datastore, calls its ``shuffle()`` (which must return a shuffled copy)
and ``partition(n, idx)`` if it has them, and does not know its number of observations before reading.

The in-memory shortcut (no datastore), by design:

* Each input array holds ALL observations along its LAST dimension (MATLAB layout: images
  H x W x C x N, features C x N); a 1-D array (labels) holds one observation per element.
  ``minibatchqueue(X, T)`` plays the part of ``minibatchqueue(arrayDatastore(...))``.
* An input that is a list of arrays is a cell array of observations (one per element, e.g. sequences):
  MiniBatchFcn receives the list of the mini-batch's elements; without MiniBatchFcn they are stacked
  along a new last dimension, which needs equal sizes (variable-length sequences: pad them with
  ``padsequences`` in a MiniBatchFcn).
* The number of outputs is ``len(inputs)`` (in-memory) or the number of variables of a read (datastore)
  without MiniBatchFcn, or the number of arrays MiniBatchFcn returns (a tuple or list = several
  outputs, anything else = one output). ``numOutputs`` may be given, as MATLAB's second positional
  argument (``minibatchqueue(X, 1, MiniBatchSize=4)``, ``minibatchqueue(ds, 2, ...)``) or as
  ``numOutputs=``, to check it.
* ``shuffle`` draws its permutation from ``numpy.random.default_rng(seed)`` when ``seed`` is given
  (each later shuffle continues that generator), otherwise from NumPy's global generator
  (``np.random.permutation``), so ``np.random.seed(0)`` makes a run reproducible, as ``rng(0)`` does
  in MATLAB. ``reset`` restarts without changing the current order.
* ``partition(mbq, numParts, idx)``: ``idx`` is 0-based (MATLAB's is 1-based); part ``idx`` holds a
  contiguous block of the current order, parts differ in size by at most one (``np.array_split``).
* ``OutputCast`` takes MATLAB class names ("single" = float32, "double" = float64, "logical" = bool,
  "int8" ... "uint64"). An integer cast together with ``OutputAsDlarray=True`` is an error, because a
  dlarray holds only single, double or logical data: use ``OutputAsDlarray=False`` for that output.
* No PreprocessingEnvironment / OutputEnvironment (everything runs on the CPU, in the caller's thread).

Each mini-batch: take the next ``MiniBatchSize`` observations of the current order; slice every input
(observation dimension last; the slices are new arrays); apply ``MiniBatchFcn`` if given; cast each
output to its ``OutputCast``; wrap it as ``dlarray(output, MiniBatchFormat[i])`` if
``OutputAsDlarray[i]``.

After the last mini-batch, ``next(mbq)`` raises :class:`NoDataError` naming ``hasdata``/``reset`` (also
through Python's built-in ``next``, which ``from dlteach import *`` leaves in place); ``for X, T in mbq``
stops there quietly.
"""

from __future__ import annotations

import builtins
import inspect
import numbers

import numpy as np

from .dlarray import dlarray, extractdata
from .errors import FormatError, MiniBatchQueueError, NoDataError, SizeMismatchError
from .formats import parse_format, size_text, wrap

__all__ = ["minibatchqueue", "hasdata", "next", "reset", "shuffle", "partition",
           "MiniBatchQueueError", "NoDataError"]


_CASTS = {
    "single": np.float32, "double": np.float64, "logical": np.bool_,
    "int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
    "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64,
}
_DLARRAY_CASTS = ("single", "double", "logical")
_PARTIAL = ("return", "discard")


_PAD_HINT = (
    "Mini-batches need observations of equal size: pad the sequences in a MiniBatchFcn, as MATLAB does with "
    "padsequences:\n\n"
    "    def preprocessMiniBatch(dataX, dataT):\n"
    "        X = padsequences(dataX, 2)     # C x T sequences -> C x maxT x B\n"
    "        T = onehotencode(np.concatenate(dataT), 1, ClassNames=classes)\n"
    "        return X, T\n\n"
    "    mbq = minibatchqueue(combine(arrayDatastore(XTrain, OutputType='same'), arrayDatastore(TTrain)), "
    "MiniBatchFcn=preprocessMiniBatch, MiniBatchFormat=['CTB', ''])"
)


class _Cell(list):
    """An in-memory input given as a list of arrays: a cell array of observations."""


def _size_list(arrays, n=4):
    return ", ".join(size_text(np.shape(a)) for a in arrays[:n]) + (" ..." if len(arrays) > n else "")


def _as_array(x, k: int):
    if isinstance(x, dlarray):
        return extractdata(x)
    if isinstance(x, (list, tuple)) and x and all(isinstance(v, (np.ndarray, dlarray)) and np.ndim(v) >= 1
                                                for v in x):
        return _Cell(extractdata(v) if isinstance(v, dlarray) else v for v in x)
    try:
        arr = np.asarray(x)
    except ValueError as err:  # NumPy: "inhomogeneous shape" - a list of sequences of different lengths
        raise MiniBatchQueueError(
            f"minibatchqueue: input {k} is a list whose elements have different sizes ({err}). " + _PAD_HINT
        ) from None
    if arr.dtype == object:
        raise MiniBatchQueueError(
            f"minibatchqueue: input {k} is not a numeric array (NumPy made an object array from it). "
            "Pass NumPy arrays with the observations along the last dimension."
        )
    return arr


def _is_datastore(x) -> bool:
    """A dlteach datastore, or any object with MATLAB's datastore methods read / hasdata / reset (a custom
    datastore, MATLAB: a subclass of matlab.io.Datastore)."""
    from .datastore import Datastore

    if isinstance(x, Datastore):
        return True
    return all(callable(getattr(x, m, None)) for m in ("read", "hasdata", "reset")) and not isinstance(x, minibatchqueue)


def _is_dlteach_ds(x) -> bool:
    from .datastore import Datastore

    return isinstance(x, Datastore)


def _first_rows(ds):
    """The rows of the first read of a fresh copy of ``ds`` (its position is left unchanged when possible)."""
    from .datastore import rows_of

    if _is_dlteach_ds(ds):
        probe = ds._copy()
        probe.reset()
        return probe._read_rows()
    ds.reset()  # a custom datastore: read once, then start again
    rows = rows_of(ds.read())
    ds.reset()
    return rows


def _collate(values, i):
    """MATLAB's default MiniBatchFcn for a datastore variable: concatenate along the first size-1 dimension."""
    from .dlarray import dlarray, extractdata

    arrs = []
    for v in values:
        if isinstance(v, dlarray):
            v = extractdata(v)
        a = np.asarray(v)
        if a.dtype == object or a.dtype.kind in "USO":
            if isinstance(v, list):
                hint = (" The values are lists (cell arrays): for a list of sequences create the datastore with "
                        "arrayDatastore(X, OutputType='same'), which returns the sequences themselves.")
            else:
                hint = (" Convert them in a MiniBatchFcn, e.g. labels to one-hot targets with onehotencode.")
            raise MiniBatchQueueError(
                f"minibatchqueue: output {i + 1} cannot be collated: its values are not numeric arrays "
                f"({type(v).__name__}).{hint}")
        arrs.append(a.reshape(a.shape + (1,) * (2 - a.ndim)) if a.ndim < 2 else a)
    shapes = {a.shape for a in arrs}
    if len(shapes) > 1:
        nd = {len(sh) for sh in shapes}
        differ = sorted({d for sh in shapes for d in range(len(sh)) if len(nd) == 1
                         and len({s2[d] for s2 in shapes}) > 1})
        what = (f"they differ along dimension {differ[0] + 1} only (variable-length sequences?). "
                if len(differ) == 1 else "")
        raise MiniBatchQueueError(
            f"minibatchqueue: output {i + 1} cannot be collated: its observations have different sizes "
            f"({_size_list(arrs)}); {what}" + _PAD_HINT)
    shape = arrs[0].shape
    axis = next((d for d, n in enumerate(shape) if n == 1), len(shape))
    if axis == len(shape):
        return np.stack(arrs, axis=axis)
    return np.concatenate(arrs, axis=axis)


def _positional_count(fcn):
    """How many positional arguments ``fcn`` takes (None: any number, or unknown)."""
    try:
        params = inspect.signature(fcn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _check_size(size) -> int:
    ok = isinstance(size, numbers.Real) and not isinstance(size, (bool, np.bool_))
    if ok and not isinstance(size, numbers.Integral):
        ok = float(size).is_integer()
    if not ok or size < 1:
        raise MiniBatchQueueError(
            f"minibatchqueue: MiniBatchSize must be a positive integer (the number of observations in "
            f"each mini-batch), got {size!r}. Example: MiniBatchSize=128."
        )
    return int(size)


def _check_partial(value) -> str:
    if not isinstance(value, str) or value.lower() not in _PARTIAL:
        raise MiniBatchQueueError(
            f"minibatchqueue: PartialMiniBatch must be 'return' (keep the last, smaller mini-batch) or "
            f"'discard' (drop it), got {value!r}."
        )
    return value.lower()


def _check_cast(value, i: int) -> str:
    if not isinstance(value, str) or value not in _CASTS:
        hint = ""
        if isinstance(value, str) and value in ("float32", "float64", "bool"):
            hint = f" For {value} use {({'float32': 'single', 'float64': 'double', 'bool': 'logical'})[value]!r}."
        raise MiniBatchQueueError(
            f"minibatchqueue: OutputCast for output {i + 1} is {value!r}; use a MATLAB class name: "
            f"{', '.join(repr(c) for c in _CASTS)} ('single' is float32, 'double' is float64).{hint}"
        )
    return value


class minibatchqueue:
    """Mini-batches over in-memory arrays (MATLAB ``minibatchqueue``). See the module docstring.

    ``minibatchqueue(X1, ..., Xn, MiniBatchSize=128, PartialMiniBatch="return", MiniBatchFcn=None,
    MiniBatchFormat=None, OutputCast="single", OutputAsDlarray=True, numOutputs=None, seed=None)``

    MiniBatchFormat, OutputCast and OutputAsDlarray take one value for every output or a list with
    one value per output; a format string is "" (unformatted) or labels such as "SSCB" / "CB".
    Without MiniBatchFcn, a format labels the collated array as it is (observations last), so "B"
    must be its last label; a 1-D input with a two-label format becomes 1 x B (e.g. "CB").
    """

    def __init__(self, *inputs, MiniBatchSize=128, PartialMiniBatch="return", MiniBatchFcn=None,
                 MiniBatchFormat=None, OutputCast="single", OutputAsDlarray=True, numOutputs=None,
                 seed=None):
        if not inputs:
            raise MiniBatchQueueError(
                "minibatchqueue needs the data: minibatchqueue(ds, MiniBatchSize=128) for a datastore, or "
                "minibatchqueue(X, T, MiniBatchSize=128) with each array's observations along its last dimension."
            )
        if len(inputs) >= 2 and isinstance(inputs[-1], numbers.Integral) and not isinstance(inputs[-1], (bool, np.bool_)):
            # MATLAB's positional numOutputs: minibatchqueue(ds, numOutputs, ...) / minibatchqueue(X, 1, ...)
            if numOutputs is not None and numOutputs != inputs[-1]:
                raise MiniBatchQueueError(
                    f"minibatchqueue: numOutputs is given twice ({inputs[-1]} as the last positional argument "
                    f"and numOutputs={numOutputs!r}); give it once.")
            numOutputs = int(inputs[-1])
            inputs = inputs[:-1]
        self._ds = None
        if any(_is_datastore(x) for x in inputs):
            if len(inputs) > 1:
                raise MiniBatchQueueError(
                    "minibatchqueue takes ONE datastore (MATLAB: minibatchqueue(ds, numOutputs, ...)); to read "
                    "several datastores together, combine them first: minibatchqueue(combine(dsX, dsT), ...).")
            self._init_datastore(inputs[0], MiniBatchSize, PartialMiniBatch, MiniBatchFcn, MiniBatchFormat,
                                 OutputCast, OutputAsDlarray, numOutputs, seed)
            return
        arrays = [_as_array(x, k + 1) for k, x in enumerate(inputs)]
        for k, a in enumerate(arrays):
            if not isinstance(a, _Cell) and a.ndim == 0:
                raise MiniBatchQueueError(
                    f"minibatchqueue: input {k + 1} is a scalar; every input needs one observation per "
                    "entry of its last dimension."
                    + (" (To give the number of outputs, MATLAB's second argument, pass an integer: "
                       f"minibatchqueue(X, {a.item()!r}, ...) or numOutputs=....)" if k == len(arrays) - 1 else "")
                )
        counts = [len(a) if isinstance(a, _Cell) else a.shape[-1] for a in arrays]
        if len(set(counts)) > 1:
            lines = "; ".join(
                f"input {k + 1} is a list of {len(a)} observations" if isinstance(a, _Cell) else
                f"input {k + 1} has size {size_text(a.shape)} -> {a.shape[-1]} observations"
                for k, a in enumerate(arrays)
            )
            raise SizeMismatchError(
                f"minibatchqueue: the inputs have different numbers of observations ({lines}). The "
                "observations are the LAST dimension of each input (MATLAB layout: images H x W x C x N, "
                "features C x N, labels of length N). If an array is N x features, pass its transpose (X.T)."
            )
        self._inputs = arrays
        self._n = counts[0]
        self._common_options(MiniBatchSize, PartialMiniBatch, MiniBatchFcn, seed)
        self._order = np.arange(self._n)
        self._pos = 0
        self._output_options(MiniBatchFormat, OutputCast, OutputAsDlarray, numOutputs,
                             {"the number of inputs": len(arrays)} if self._fcn is None else {})

    def _common_options(self, MiniBatchSize, PartialMiniBatch, MiniBatchFcn, seed):
        self._size = _check_size(MiniBatchSize)
        self._partial = _check_partial(PartialMiniBatch)
        if isinstance(MiniBatchFcn, str) and MiniBatchFcn == "collate":
            MiniBatchFcn = None
        if MiniBatchFcn is not None and not callable(MiniBatchFcn):
            raise MiniBatchQueueError(
                f"minibatchqueue: MiniBatchFcn must be a function (it receives the mini-batch slices of "
                f"each input and returns the outputs), got {type(MiniBatchFcn).__name__}."
            )
        self._fcn = MiniBatchFcn
        self._seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def _init_datastore(self, ds, MiniBatchSize, PartialMiniBatch, MiniBatchFcn, MiniBatchFormat, OutputCast,
                        OutputAsDlarray, numOutputs, seed):
        self._ds0 = ds
        self._ds = ds._copy() if _is_dlteach_ds(ds) else ds
        self._ds.reset()
        self._buffer = []
        self._n = ds._num_obs() if _is_dlteach_ds(ds) else None  # a custom datastore: unknown until read
        self._common_options(MiniBatchSize, PartialMiniBatch, MiniBatchFcn, seed)
        self._order = None
        self._pos = 0
        known = {}
        if self._fcn is None and self._n != 0 and self._ds.hasdata():
            known["the number of variables a read of the datastore returns"] = len(_first_rows(self._ds0)[0])
        self._output_options(MiniBatchFormat, OutputCast, OutputAsDlarray, numOutputs, known)

    def _output_options(self, MiniBatchFormat, OutputCast, OutputAsDlarray, numOutputs, known):
        MiniBatchFcn = self._fcn
        self._fmt_opt = MiniBatchFormat
        self._cast_opt = OutputCast
        self._dl_opt = OutputAsDlarray
        # Number of outputs: known from the inputs, numOutputs, or a per-output list; else from the
        # first call of MiniBatchFcn.
        known = dict(known)
        if numOutputs is not None:
            if isinstance(numOutputs, bool) or not isinstance(numOutputs, numbers.Integral) or numOutputs < 1:
                raise MiniBatchQueueError(f"minibatchqueue: numOutputs must be a positive integer, got {numOutputs!r}.")
            known["numOutputs"] = int(numOutputs)
        for name, opt in (("MiniBatchFormat", MiniBatchFormat), ("OutputCast", OutputCast),
                          ("OutputAsDlarray", OutputAsDlarray)):
            if isinstance(opt, (list, tuple)):
                known[f"the {len(opt)} entries of {name}"] = len(opt)
        if len(set(known.values())) > 1:
            raise MiniBatchQueueError(
                "minibatchqueue: the number of outputs does not add up: "
                + ", ".join(f"{k} says {v}" for k, v in known.items())
                + ". Give MiniBatchFormat / OutputCast / OutputAsDlarray one entry per output"
                + (" (without MiniBatchFcn there is one output per input)." if MiniBatchFcn is None else
                   " (one per array MiniBatchFcn returns).")
            )
        self._num_outputs = None
        self._num_outputs_source = None
        if known:
            source, n = builtins.next(iter(known.items()))
            self._set_num_outputs(n, source)
        self._warned = False

    # -- number of outputs and per-output options ------------------------------------------------
    def _set_num_outputs(self, n: int, source: str):
        self._num_outputs = n
        self._num_outputs_source = source
        self._formats = self._per_output(self._fmt_opt, "", "MiniBatchFormat")
        for i, f in enumerate(self._formats):
            if not isinstance(f, str):
                raise MiniBatchQueueError(
                    f"minibatchqueue: MiniBatchFormat for output {i + 1} must be a string such as 'SSCB', "
                    f"'CB' or '' (unformatted), got {f!r}."
                )
            if f:
                parse_format(f)
        self._casts = [_check_cast(c, i) for i, c in
                       enumerate(self._per_output(self._cast_opt, "single", "OutputCast"))]
        self._as_dl = [bool(b) for b in self._per_output(self._dl_opt, True, "OutputAsDlarray")]
        for i, (c, d) in enumerate(zip(self._casts, self._as_dl)):
            if d and c not in _DLARRAY_CASTS:
                raise MiniBatchQueueError(
                    f"minibatchqueue: output {i + 1} has OutputCast={c!r} and OutputAsDlarray=True, but a "
                    "dlarray holds only 'single', 'double' or 'logical' data. For integer outputs such as "
                    "class labels set OutputAsDlarray to False for that output, e.g. "
                    "OutputAsDlarray=[True, False]."
                )
            if not d and self._formats[i]:
                raise MiniBatchQueueError(
                    f"minibatchqueue: output {i + 1} has MiniBatchFormat={self._formats[i]!r} but "
                    "OutputAsDlarray=False; only a dlarray carries a format. Set its format to '' or "
                    "OutputAsDlarray to True."
                )

    def _per_output(self, opt, default, name):
        n = self._num_outputs
        if opt is None:
            return [default] * n
        if isinstance(opt, (list, tuple)):
            return list(opt)
        if name == "MiniBatchFormat" and opt != "" and n > 1:
            raise MiniBatchQueueError(
                f"minibatchqueue: this queue has {n} outputs but MiniBatchFormat is the single format "
                f"{opt!r}. Give one format per output, e.g. MiniBatchFormat=['SSCB', 'CB'] (use '' to leave "
                "an output unformatted)."
            )
        return [opt] * n

    def _ensure_num_outputs(self):
        if self._num_outputs is None:
            # Only reachable with a MiniBatchFcn and no per-output list: ask the function once.
            if self._ds is not None and _is_dlteach_ds(self._ds0):
                probe = self._ds0._copy()
                probe.reset()
                outs = self._call_fcn_columns(self._columns(probe._rows(range(min(self._size, self._n)))))
            elif self._ds is not None:
                outs = self._call_fcn_columns(self._columns(_first_rows(self._ds0)))
            else:
                idx = np.arange(min(self._size, self._n))
                outs = self._call_fcn(idx)
            self._set_num_outputs(len(outs), "the first call of MiniBatchFcn")

    # -- properties (MATLAB names; read-only as in MATLAB) ------------------------------------------
    @property
    def MiniBatchSize(self) -> int:
        return self._size

    @property
    def PartialMiniBatch(self) -> str:
        return self._partial

    @property
    def MiniBatchFcn(self):
        """The preprocessing function, or 'collate' (MATLAB's name for the default) when none was given."""
        return self._fcn if self._fcn is not None else "collate"

    @property
    def NumOutputs(self) -> int:
        self._ensure_num_outputs()
        return self._num_outputs

    @property
    def MiniBatchFormat(self) -> list:
        self._ensure_num_outputs()
        return list(self._formats)

    @property
    def OutputCast(self) -> list:
        self._ensure_num_outputs()
        return list(self._casts)

    @property
    def OutputAsDlarray(self) -> list:
        self._ensure_num_outputs()
        return list(self._as_dl)

    def __setattr__(self, name, value):
        if name in ("MiniBatchSize", "PartialMiniBatch", "MiniBatchFcn", "NumOutputs", "MiniBatchFormat",
                    "OutputCast", "OutputAsDlarray"):
            raise MiniBatchQueueError(
                f"minibatchqueue: {name} cannot be changed after the queue is created (it is read-only, as "
                f"in MATLAB). Create a new queue: minibatchqueue(..., {name}=...)."
            )
        object.__setattr__(self, name, value)

    # -- the queue ------------------------------------------------------------------------------------
    def _num_batches(self):
        if self._n is None:
            return None
        if self._partial == "discard":
            return self._n // self._size
        return -(-self._n // self._size)

    def hasdata(self) -> bool:
        """True if ``next`` can return a mini-batch (MATLAB ``hasdata``)."""
        need = self._size if self._partial == "discard" else 1
        if self._ds is not None:
            self._fill()
            return len(self._buffer) >= need
        return self._n - self._pos >= need

    def _fill(self):
        """Read from the datastore until a full mini-batch is buffered (or the datastore is empty)."""
        from .datastore import rows_of

        ds = self._ds
        while len(self._buffer) < self._size and ds.hasdata():
            rows = ds._read_rows() if hasattr(ds, "_read_rows") else rows_of(ds.read())
            self._buffer.extend(rows)

    @staticmethod
    def _columns(rows):
        nvar = len(rows[0])
        for r in rows:
            if len(r) != nvar:
                raise MiniBatchQueueError(
                    f"minibatchqueue: the datastore's reads have different numbers of variables ({nvar} and "
                    f"{len(r)}); every read must return the same variables.")
        return [[r[j] for r in rows] for j in range(nvar)]

    def _call_fcn_columns(self, columns):
        k = _positional_count(self._fcn)
        if k is not None and 1 <= k < len(columns):
            # MATLAB passes a MiniBatchFcn as many variables as it takes: preprocessMiniBatchPredictors(dataX)
            # on a datastore whose reads have the variables input and response gets the images only.
            columns = columns[:k]
        out = self._fcn(*columns)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        if not outs:
            raise MiniBatchQueueError("minibatchqueue: MiniBatchFcn returned nothing; it must return the outputs.")
        return outs

    def next(self):
        """The next mini-batch (MATLAB ``[X1,...,Xn] = next(mbq)``): a tuple if NumOutputs > 1."""
        if not self.hasdata():
            extra = ""
            if self._num_batches() == 0 and self._n is not None:
                extra = (f" This queue never has data: it has {self._n} observations, fewer than "
                         f"MiniBatchSize={self._size}, and PartialMiniBatch='discard' drops the partial "
                         "mini-batch; use a smaller MiniBatchSize or PartialMiniBatch='return'.")
            raise NoDataError(
                "next(mbq): no mini-batch is left in this minibatchqueue (all the data of this epoch has "
                "been returned). Call reset(mbq) or shuffle(mbq) to start again, and loop with "
                "'while hasdata(mbq):'." + extra
            )
        if self._ds is not None:
            rows, self._buffer = self._buffer[:self._size], self._buffer[self._size:]
            self._pos += len(rows)
            outs = self._make_batch_ds(rows)
        else:
            idx = self._order[self._pos:self._pos + self._size]
            self._pos += len(idx)
            outs = self._make_batch(idx)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def reset(self) -> None:
        """Restart at the first mini-batch, keeping the current order (MATLAB ``reset``)."""
        self._pos = 0
        if self._ds is not None:
            self._ds.reset()
            self._buffer = []

    def shuffle(self) -> None:
        """New random order of the observations, and restart (MATLAB ``shuffle``).

        Draws from ``default_rng(seed)`` if the queue has a seed, else from ``np.random`` (global).
        """
        if self._ds is not None:
            if not _is_dlteach_ds(self._ds0):
                if not callable(getattr(self._ds0, "shuffle", None)):
                    raise MiniBatchQueueError(
                        f"shuffle(mbq): this datastore ({type(self._ds0).__name__}) has no shuffle method. Give it "
                        "one that returns a shuffled copy (MATLAB: dsNew = shuffle(ds)), or use a dlteach datastore.")
                self._ds = self._ds0.shuffle()
                self._ds.reset()
                self._buffer = []
                self._pos = 0
                return
            perm = self._rng.permutation(self._n) if self._rng is not None else np.random.permutation(self._n)
            self._ds = self._ds0._permuted(perm)
            self._buffer = []
            self._pos = 0
            return
        if self._rng is not None:
            self._order = self._rng.permutation(self._n)
        else:
            self._order = np.random.permutation(self._n)
        self._pos = 0

    def partition(self, numParts, idx):
        """Part ``idx`` (0-based) of ``numParts`` contiguous parts of the current order (MATLAB ``partition``).

        The part is a new minibatchqueue with the same properties; reset / shuffle act on its own data.
        """
        if isinstance(numParts, bool) or not isinstance(numParts, numbers.Integral) or numParts < 1:
            raise MiniBatchQueueError(f"partition: numParts must be a positive integer, got {numParts!r}.")
        if isinstance(idx, bool) or not isinstance(idx, numbers.Integral) or not 0 <= idx < numParts:
            raise MiniBatchQueueError(
                f"partition: idx must be an integer from 0 to {numParts - 1} (0-based; MATLAB counts from 1), "
                f"got {idx!r}."
            )
        sub = object.__new__(minibatchqueue)
        d = dict(self.__dict__)
        if self._ds is not None:
            if not callable(getattr(self._ds, "partition", None)):
                raise MiniBatchQueueError(f"partition(mbq): this datastore ({type(self._ds).__name__}) has no "
                                          "partition method.")
            part = self._ds.partition(numParts, idx)
            d.update(_ds0=part, _ds=part._copy() if _is_dlteach_ds(part) else part, _buffer=[],
                     _n=part._num_obs() if _is_dlteach_ds(part) else None, _pos=0,
                     _rng=np.random.default_rng(self._seed) if self._seed is not None else None)
            sub.__dict__.update(d)
            sub._ds.reset()
            return sub
        rows = np.array_split(self._order, numParts)[idx]
        d["_inputs"] = [_Cell(a[i] for i in rows) if isinstance(a, _Cell) else a[..., rows] for a in self._inputs]
        d["_n"] = len(rows)
        d["_order"] = np.arange(len(rows))
        d["_pos"] = 0
        d["_rng"] = np.random.default_rng(self._seed) if self._seed is not None else None
        sub.__dict__.update(d)
        return sub

    # -- building a mini-batch --------------------------------------------------------------------
    def _slices(self, idx):
        return [_Cell(a[i] for i in idx) if isinstance(a, _Cell) else a[..., idx] for a in self._inputs]

    def _make_batch_ds(self, rows):
        columns = self._columns(rows)
        if self._fcn is None:
            self._ensure_num_outputs()
            if len(columns) != self._num_outputs:
                raise MiniBatchQueueError(
                    f"minibatchqueue: the datastore's reads have {len(columns)} variable(s) but the queue has "
                    f"{self._num_outputs} output(s) (set by {self._num_outputs_source}). Without MiniBatchFcn each "
                    "variable is one output; to make a different number of outputs, give a MiniBatchFcn.")
            outs = [_collate(col, i) for i, col in enumerate(columns)]
            for i, out in enumerate(outs):
                self._check_batch_label(out, i, columns[i])
        else:
            outs = self._call_fcn_columns(columns)
            self._check_count(outs)
        return self._finish(outs, len(rows), collated=False)

    def _check_count(self, outs):
        if self._num_outputs is None:
            self._set_num_outputs(len(outs), "the first call of MiniBatchFcn")
        elif len(outs) != self._num_outputs:
            raise MiniBatchQueueError(
                f"minibatchqueue: MiniBatchFcn returned {len(outs)} output(s) for this mini-batch, but the "
                f"queue has {self._num_outputs} output(s) (set by {self._num_outputs_source}). A "
                "MiniBatchFcn must always return the same number of arrays, one per output; return "
                "several outputs as a tuple: 'return X, T'."
            )

    def _call_fcn(self, idx):
        out = self._fcn(*self._slices(idx))
        if isinstance(out, (tuple, list)):
            outs = list(out)
        else:
            outs = [out]
        if not outs:
            raise MiniBatchQueueError("minibatchqueue: MiniBatchFcn returned nothing; it must return the outputs.")
        return outs

    def _make_batch(self, idx):
        if self._fcn is None:
            self._ensure_num_outputs()
            outs = self._slices(idx)
            outs = [_stack_cell(o, i) if isinstance(o, _Cell) else o for i, o in enumerate(outs)]
        else:
            outs = self._call_fcn(idx)
            self._check_count(outs)
        return self._finish(outs, len(idx), collated=self._fcn is None)

    def _check_batch_label(self, arr, i, values):
        """Collated datastore data: 'B' in MiniBatchFormat must label the dimension the observations were
        concatenated along (the first size-1 dimension of one observation), or the labels are silently wrong."""
        fmt = self._formats[i] if self._as_dl[i] else ""
        if not fmt or "B" not in fmt:
            return
        one = tuple(np.shape(values[0]))
        one = one + (1,) * (2 - len(one))
        axis = builtins.next((d for d, n in enumerate(one) if n == 1), len(one))
        if fmt.index("B") == axis:
            return
        rest = fmt.replace("B", "")
        suggestion = rest[:axis] + "B" + rest[axis:]
        raise FormatError(
            f"minibatchqueue: output {i + 1} is collated from observations of size {size_text(one)}: they are "
            f"concatenated along their first dimension of size 1 (dimension {axis + 1}), giving an array of size "
            f"{size_text(arr.shape)}, but MiniBatchFormat {fmt!r} puts 'B' on dimension {fmt.index('B') + 1}. "
            f"Label the observation dimension 'B' (here {suggestion!r}), or concatenate the observations yourself "
            "in a MiniBatchFcn, e.g. X = np.concatenate(dataX, axis=3) for H x W x C x 1 images "
            "(MATLAB: cat(4, dataX{:})).")

    def _finish(self, outs, nobs, collated):
        from .dlarray import dlarray, extractdata

        result = []
        for i, out in enumerate(outs):
            keep_fmt = ""
            if isinstance(out, dlarray):
                keep_fmt = out.fmt
                out = extractdata(out)
            if isinstance(out, (list, tuple)) and out and all(isinstance(v, np.ndarray) for v in out) and \
                    len({np.shape(v) for v in out}) > 1:
                raise MiniBatchQueueError(
                    f"minibatchqueue: output {i + 1} of MiniBatchFcn is a list of {len(out)} arrays of different "
                    f"sizes ({_size_list(out)}), not one array. " + _PAD_HINT)
            try:
                arr = np.asarray(out)
            except ValueError:
                raise MiniBatchQueueError(
                    f"minibatchqueue: output {i + 1} of the mini-batch is a list of arrays of different sizes. "
                    + _PAD_HINT) from None
            if arr.dtype == object:
                raise MiniBatchQueueError(
                    f"minibatchqueue: output {i + 1} of the mini-batch is not a numeric array."
                )
            # Collated slices are new arrays already; whatever MiniBatchFcn returns is copied so that
            # a mini-batch never shares memory with the caller's arrays.
            arr = arr.astype(_CASTS[self._casts[i]], copy=self._fcn is not None)
            if not self._as_dl[i]:
                result.append(arr)
                continue
            fmt = self._formats[i]
            if not fmt:
                result.append(wrap(arr, keep_fmt))
                continue
            if collated:
                arr = self._collated_layout(arr, fmt, i, nobs)
            try:
                result.append(dlarray(arr, fmt))
            except FormatError as e:
                raise FormatError(f"minibatchqueue output {i + 1} (size {size_text(arr.shape)}): {e}") from None
        return result

    def _collated_layout(self, arr, fmt: str, i: int, nobs: int):
        """Check that 'B' labels the observation (last) dimension of a collated input."""
        shape = arr.shape
        if arr.ndim == 1 and len(fmt) == 2 and "B" in fmt:
            new = [1, 1]
            new[fmt.index("B")] = nobs
            return arr.reshape(new)
        if len(fmt) != arr.ndim:
            hint = ""
            if len(fmt) == arr.ndim + 1 and fmt.endswith("CB"):
                hint = (" To give images a channel dimension, add it to the input: "
                        "X = X[:, :, np.newaxis, :] (H x W x 1 x N).")
            raise FormatError(
                f"minibatchqueue: input {i + 1} gives mini-batches of size {size_text(shape)} "
                f"({arr.ndim} dimensions, observations last) but MiniBatchFormat {fmt!r} has {len(fmt)} "
                f"labels. Give one label per dimension, with 'B' last.{hint}"
            )
        if "B" in fmt and fmt.index("B") != arr.ndim - 1:
            raise FormatError(
                f"minibatchqueue: MiniBatchFormat {fmt!r} for input {i + 1} puts 'B' (the observations) on "
                f"dimension {fmt.index('B') + 1}, but the observations of the input are its last dimension. "
                f"Use a format ending in 'B', e.g. {fmt.replace('B', '') + 'B'!r}."
            )
        return arr

    # -- Python protocols ----------------------------------------------------------------------------
    def __iter__(self):
        """``for X, T in mbq:`` runs over the mini-batches that are left (call shuffle/reset first)."""
        while self.hasdata():
            yield self.next()

    def __next__(self):
        # Python's built-in next(mbq) (``from dlteach import *`` leaves it in place): a teaching error
        # after the last mini-batch, not a bare StopIteration.
        return self.next()

    def __repr__(self):
        try:
            n_out = self.NumOutputs
            casts, dl, fmts = self._casts, self._as_dl, self._formats
        except Exception:  # a failing MiniBatchFcn must not break the display
            n_out, casts, dl, fmts = "?", ["?"], ["?"], ["?"]
        fcn = "'collate'" if self._fcn is None else getattr(self._fcn, "__name__", repr(self._fcn))
        nb = self._num_batches()
        done = -(-self._pos // self._size) if nb is None else min(-(-self._pos // self._size), nb)
        source = f"   from a {type(self._ds0).__name__}, " if self._ds is not None else "   "
        return (
            f"minibatchqueue with {n_out} output{'s' if n_out != 1 else ''} and properties:\n\n"
            f"   Mini-batch creation:\n"
            f"           MiniBatchSize: {self._size}\n"
            f"        PartialMiniBatch: '{self._partial}'\n"
            f"            MiniBatchFcn: {fcn}\n\n"
            f"   Outputs:\n"
            f"              OutputCast: {casts}\n"
            f"         OutputAsDlarray: {dl}\n"
            f"         MiniBatchFormat: {fmts}\n\n"
            f"{source}{'?' if self._n is None else self._n} observations, "
            f"{'?' if nb is None else nb} mini-batches per epoch, {done} returned"
        )


def _stack_cell(items, i):
    """A list input's mini-batch without MiniBatchFcn: stacked along a new last dimension."""
    shapes = {np.shape(a) for a in items}
    if len(shapes) > 1:
        raise MiniBatchQueueError(
            f"minibatchqueue: input {i + 1} is a list of observations of different sizes ({_size_list(items)}); "
            "without a MiniBatchFcn they are stacked into one array, which needs equal sizes. " + _PAD_HINT)
    return np.stack([np.asarray(a) for a in items], axis=-1)


# -------------------------------------------------------------------------------------------------
# MATLAB-style functions

def _require_queue_or_ds(obj, fname):
    if isinstance(obj, minibatchqueue) or _is_datastore(obj):
        return obj
    raise MiniBatchQueueError(
        f"{fname} expects a minibatchqueue or a datastore, got {type(obj).__name__}. Create one with "
        "mbq = minibatchqueue(X, T, MiniBatchSize=128) or ds = arrayDatastore(X)."
    )


def hasdata(mbq) -> bool:
    """True if ``next(mbq)`` / ``read(ds)`` can return data (MATLAB ``hasdata``)."""
    return _require_queue_or_ds(mbq, "hasdata").hasdata()


def next(obj, *default):  # noqa: A001 - deliberately MATLAB's name; falls back to builtins.next
    """MATLAB ``[X, T] = next(mbq)``; for anything else, Python's built-in ``next(iterator[, default])``."""
    if isinstance(obj, minibatchqueue):
        if len(default) > 1:
            raise TypeError(f"next expected at most 2 arguments, got {1 + len(default)}")
        if default and not obj.hasdata():
            return default[0]
        return obj.next()
    return builtins.next(obj, *default)


def reset(mbq) -> None:
    """Restart the queue / datastore at its first mini-batch / observation (MATLAB ``reset``)."""
    _require_queue_or_ds(mbq, "reset").reset()


def shuffle(mbq):
    """Shuffle a queue's observations and restart it (MATLAB ``shuffle(mbq)``); for a datastore, return
    a shuffled copy (MATLAB ``dsNew = shuffle(ds)``)."""
    return _require_queue_or_ds(mbq, "shuffle").shuffle()


def partition(mbq, numParts, idx):
    """Part ``idx`` (0-based) of ``numParts`` parts of a queue's or datastore's data (MATLAB ``partition``)."""
    return _require_queue_or_ds(mbq, "partition").partition(numParts, idx)
