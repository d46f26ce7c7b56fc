"""``Table``: the Layer / Parameter / Value table of ``net.Learnables`` and ``net.State``.

MATLAB counterpart: the ``table`` that ``dlnetwork`` uses for ``Learnables`` and ``State`` (variables
``Layer``, ``Parameter``, ``Value``), and what ``dlgradient(loss, net.Learnables)`` returns.

What works, with the MATLAB spelling next to it::

    t.Layer, t.Parameter          # string columns (NumPy str arrays): t.Parameter == "Weights" is a bool mask
    t.Value                       # list of dlarrays (MATLAB: cell array t.Value{i}); assignable: t.Value = [...]
    t[mask], t[[0, 2]], t[1:3]    # a new Table with those rows      (MATLAB: t(mask,:))
    t[mask, :]                    # same, MATLAB-like spelling
    t[mask, :] = other_table      # assign rows                      (MATLAB: t(mask,:) = other)
    t[0]                          # one row: a namedtuple Row(Layer, Parameter, Value)
    t["Value"]                    # a column by name                 (MATLAB: t.("Value"))
    len(t), t.height, height(t)   # number of rows                   (MATLAB: height(t))
    for row in t: row.Layer ...   # iterate over rows
    t.value("fc", "Weights")      # the Value of one row (no MATLAB counterpart; convenience)

Decision: a Table is a small mutable container (``t.Value[i] = x`` and ``t.Value = [...]`` change that
table), but ``net.Learnables`` builds a *new* Table on every access, so changing it never changes the
network: write it back with ``net.Learnables = t`` (exactly like MATLAB's value semantics).
Tables are containers for :mod:`dlteach.tree`: ``dlfeval`` traces their values and the updaters
rebuild them; two tables match when their Layer and Parameter columns are equal row by row.
"""

from __future__ import annotations

import html
from collections import namedtuple

import numpy as np
from autograd.tracer import getval

from . import tree
from .dlarray import dlarray
from .errors import StructureMismatchError
from .formats import data_of, size_text

__all__ = ["Table", "Row", "height", "describe_value"]

Row = namedtuple("Row", ["Layer", "Parameter", "Value"])

_CLASS = {np.dtype("float32"): "single", np.dtype("float64"): "double", np.dtype("bool"): "logical"}


def describe_value(v) -> str:
    """Short MATLAB-like description of a value, e.g. ``'5x5x1x20 single dlarray'``."""
    if v is None:
        return "[]"
    raw = data_of(v)
    data = getval(raw)
    shape = np.shape(data)
    size = size_text((shape[0], 1) if len(shape) == 1 else shape)  # MATLAB has no 1-D arrays: a column
    dtype = getattr(data, "dtype", None)
    cls = _CLASS.get(dtype, str(dtype) if dtype is not None else type(data).__name__)
    kind = "dlarray" if type(v) is dlarray else type(v).__name__
    traced = " (traced)" if raw is not data else ""
    return f"{size} {cls} {kind}{traced}"


class Table:
    """Table with variables ``Layer`` (str), ``Parameter`` (str) and ``Value`` (dlarray), one row per parameter.

    MATLAB counterpart: the ``table`` of ``net.Learnables`` / ``net.State`` (dot access ``T.Value``,
    rows by index or logical mask).

    ``Table(Layer=[...], Parameter=[...], Value=[...])`` - the three columns must have the same length.
    """

    __slots__ = ("_layer", "_param", "_value")

    def __init__(self, Layer=(), Parameter=(), Value=()):
        layer = tuple([str(x) for x in Layer])
        param = tuple([str(x) for x in Parameter])
        value = list(Value)
        if not (len(layer) == len(param) == len(value)):
            raise StructureMismatchError(
                f"A Table needs columns of equal length; got {len(layer)} Layer, {len(param)} Parameter and "
                f"{len(value)} Value entries."
            )
        self._layer = layer  # tuples of str: never changed (a table shares them with its copies)
        self._param = param
        self._value = value

    @classmethod
    def from_columns(cls, layers: tuple, parameters: tuple, values: list) -> Table:
        """A Table from trusted columns, without checks or copies (for the code that builds tables on every
        training step: ``net.Learnables``, the tracer, the updaters).

        ``layers`` and ``parameters`` are tuples of str of one length, kept by reference (they are never
        changed); ``values`` is a list of that length that the new table owns. Anything else: use ``Table(...)``.
        (No MATLAB counterpart.)
        """
        t = object.__new__(cls)
        t._layer = layers
        t._param = parameters
        t._value = values
        return t

    def has_rows(self, layers: tuple, parameters: tuple) -> bool:
        """True if the Layer and Parameter columns are ``layers`` and ``parameters`` (tuples of str), row by row.
        (No MATLAB counterpart.)"""
        mine, theirs = self._layer, self._param
        return ((mine is layers or mine == layers) and (theirs is parameters or theirs == parameters))

    # -- columns -------------------------------------------------------------------------------
    @property
    def Layer(self) -> np.ndarray:
        """Layer names as a NumPy string array (``t.Layer == "fc"`` gives a bool mask)."""
        return np.array(self._layer, dtype=str) if self._layer else np.array([], dtype=str)

    @property
    def Parameter(self) -> np.ndarray:
        """Parameter names as a NumPy string array (``t.Parameter == "Weights"`` gives a bool mask)."""
        return np.array(self._param, dtype=str) if self._param else np.array([], dtype=str)

    @property
    def Value(self) -> list:
        """The values (a list; MATLAB's cell array ``t.Value``). ``t.Value[i] = x`` changes this table."""
        return self._value

    @Value.setter
    def Value(self, values):
        values = list(values)
        if len(values) != len(self._value):
            raise StructureMismatchError(
                f"t.Value = ... needs {len(self._value)} values (one per row), got {len(values)}."
            )
        self._value = values

    @property
    def height(self) -> int:
        """Number of rows (MATLAB ``height(t)``)."""
        return len(self._value)

    @property
    def shape(self):
        return (len(self._value), 3)

    @property
    def VariableNames(self):
        """Column names (MATLAB ``t.Properties.VariableNames``)."""
        return ["Layer", "Parameter", "Value"]

    def __len__(self):
        return len(self._value)

    def __iter__(self):
        return (Row(*r) for r in zip(self._layer, self._param, self._value))

    def rows(self):
        """List of ``Row(Layer, Parameter, Value)`` namedtuples."""
        return list(self)

    # -- indexing ------------------------------------------------------------------------------
    def _indices(self, idx):
        n = len(self)
        if isinstance(idx, slice):
            return list(range(n))[idx]
        arr = np.asarray(idx)
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise IndexError(
                    f"A logical row mask must have one entry per row: this table has {n} rows, the mask has "
                    f"shape {arr.shape}."
                )
            return [int(i) for i in np.flatnonzero(arr)]
        if arr.dtype.kind in "iu":
            out = []
            for i in arr.ravel().tolist():
                if not -n <= i < n:
                    raise IndexError(f"Row index {i} is out of range for a table with {n} rows.")
                out.append(i % n)
            return out
        raise IndexError(
            "Select rows with a bool mask (t[t.Parameter == 'Weights']), a list of row numbers (t[[0, 2]]) or a "
            f"slice; got {type(idx).__name__}."
        )

    def __getitem__(self, idx):
        if isinstance(idx, str):
            if idx in ("Layer", "Parameter", "Value"):
                return getattr(self, idx)
            raise KeyError(f"A Table has the variables 'Layer', 'Parameter' and 'Value'; no {idx!r}.")
        if isinstance(idx, tuple):
            if len(idx) == 2 and isinstance(idx[1], slice) and idx[1] == slice(None):
                idx = idx[0]
            elif len(idx) == 2 and isinstance(idx[1], str):
                return self[idx[0]][idx[1]] if not isinstance(idx[0], (int, np.integer)) else getattr(self[idx[0]], idx[1])
            else:
                raise IndexError("Use t[rows] or t[rows, :] (MATLAB t(rows,:)).")
        if isinstance(idx, (int, np.integer)) and not isinstance(idx, bool):
            i = self._indices([int(idx)])[0]
            return Row(self._layer[i], self._param[i], self._value[i])
        rows = self._indices(idx)
        return Table.from_columns(tuple([self._layer[i] for i in rows]), tuple([self._param[i] for i in rows]),
                                  [self._value[i] for i in rows])

    def __setitem__(self, idx, new):
        """Assign rows (MATLAB ``t(idx,:) = other``), e.g. the L2-regularization recipe::

            idx = gradients.Parameter == "Weights"
            gradients[idx, :] = dlupdate(lambda g, w: g + l2Regularization * w, gradients[idx, :],
                                         net.Learnables[idx, :])

        ``new`` is a Table with one row per selected row and the same Layer / Parameter entries (in the
        same order) -- the rows keep their meaning -- or a list of values (only the Value column changes).
        ``t[i] = value`` with one integer row number sets that row's Value. Changes this table.
        """
        if isinstance(idx, str):
            if idx == "Value":
                self.Value = new
                return
            raise KeyError(f"Only the Value column of a Table can be assigned (t['Value'] = [...]); got {idx!r}.")
        if isinstance(idx, tuple):
            if len(idx) == 2 and isinstance(idx[1], slice) and idx[1] == slice(None):
                idx = idx[0]
            elif len(idx) == 2 and idx[1] == "Value":
                idx = idx[0]
                if not isinstance(new, Table) and not isinstance(idx, (int, np.integer)):
                    new = list(new)
            else:
                raise IndexError("Assign rows with t[rows, :] = other (MATLAB t(rows,:) = other) or t[rows] = other.")
        if isinstance(idx, (int, np.integer)) and not isinstance(idx, bool):
            i = self._indices([int(idx)])[0]
            if isinstance(new, Row):
                new = Table([new.Layer], [new.Parameter], [new.Value])
            else:
                self._value[i] = new
                return
            rows = [i]
        else:
            rows = self._indices(idx)
        if isinstance(new, Table):
            if len(new) != len(rows):
                raise StructureMismatchError(
                    f"t[rows, :] = other: {len(rows)} rows are selected but the assigned table has {len(new)} rows. "
                    "Assign a table with the same rows, e.g. the result of dlupdate(fun, t[rows, :], ...)."
                )
            for i, key in zip(rows, new.keys()):
                if (self._layer[i], self._param[i]) != key:
                    raise StructureMismatchError(
                        f"t[rows, :] = other: row {i} is {self._layer[i]}/{self._param[i]} but the assigned row is "
                        f"{key[0]}/{key[1]}. Select the same rows on both sides (the same mask, in the same order), "
                        "so each value lands on its own parameter."
                    )
            values = list(new.Value)
        else:
            if isinstance(new, (dlarray, np.ndarray)) or not isinstance(new, (list, tuple)):
                raise StructureMismatchError(
                    f"t[rows, :] = ... needs a Table (or a list of {len(rows)} values), got {type(new).__name__}."
                )
            values = list(new)
            if len(values) != len(rows):
                raise StructureMismatchError(
                    f"t[rows, :] = values: {len(rows)} rows are selected but {len(values)} values were given."
                )
        for i, v in zip(rows, values):
            self._value[i] = v

    def value(self, layer: str, parameter: str):
        """The Value of the row (layer, parameter). Raises KeyError naming the available rows."""
        for lay, par, val in zip(self._layer, self._param, self._value):
            if lay == layer and par == parameter:
                return val
        names = ", ".join(f"{a}/{b}" for a, b in zip(self._layer, self._param)) or "(no rows)"
        raise KeyError(f"No row with Layer={layer!r} and Parameter={parameter!r}. Rows: {names}.")

    def keys(self):
        """``[(Layer, Parameter), ...]`` row keys."""
        return list(zip(self._layer, self._param))

    def copy(self) -> Table:
        return Table.from_columns(tuple(self._layer), tuple(self._param), list(self._value))

    __copy__ = copy

    # -- display -------------------------------------------------------------------------------
    def __repr__(self):
        n = len(self)
        head = f"{n}x3 Table"
        if n == 0:
            return head + " (no rows)"
        cols = [["Layer"] + list(self._layer), ["Parameter"] + list(self._param),
                ["Value"] + [describe_value(v) for v in self._value]]
        widths = [max(len(s) for s in c) for c in cols]
        lines = [head, ""]
        lines.append("    " + "  ".join(c[0].ljust(w) for c, w in zip(cols, widths)))
        lines.append("    " + "  ".join("_" * w for w in widths))
        for i in range(1, n + 1):
            lines.append("    " + "  ".join(c[i].ljust(w) for c, w in zip(cols, widths)))
        return "\n".join(line.rstrip() for line in lines)

    __str__ = __repr__

    def _repr_html_(self):
        n = len(self)
        esc = html.escape
        parts = [f"<div><b>{n}x3 Table</b>"]
        parts.append('<table class="dlteach-table"><thead><tr><th></th><th>Layer</th><th>Parameter</th>'
                     "<th>Value</th></tr></thead><tbody>")
        for i, (lay, par, val) in enumerate(zip(self._layer, self._param, self._value)):
            parts.append(f"<tr><td>{i}</td><td>{esc(lay)}</td><td>{esc(par)}</td>"
                         f"<td>{esc(describe_value(val))}</td></tr>")
        parts.append("</tbody></table></div>")
        return "".join(parts)

    # -- tree protocol -------------------------------------------------------------------------
    @staticmethod
    def _tree_child_key(aux, i):
        layers, params = aux
        return f"{layers[i]}/{params[i]}"

    @staticmethod
    def _tree_child_path(aux, i):
        return f".Value{{{Table._tree_child_key(aux, i)}}}"

    @staticmethod
    def _tree_aux_difference(aux, raux):
        (l1, p1), (l2, p2) = aux, raux
        for i, (a, b) in enumerate(zip(zip(l1, p1), zip(l2, p2))):
            if a != b:
                return (f"the tables differ at row {i}: Layer/Parameter {a[0]}/{a[1]} vs {b[0]}/{b[1]}")
        if len(l1) != len(l2):
            longer, extra = (l1, p1) if len(l1) > len(l2) else (l2, p2)
            k = min(len(l1), len(l2))
            return (f"the tables have {len(l1)} and {len(l2)} rows (first extra row {k}: "
                    f"{longer[k]}/{extra[k]})")
        return "the tables differ"


def _flatten(t: Table):
    return list(t._value), (tuple(t._layer), tuple(t._param))  # tuple() of a tuple: the same object, no copy


def _unflatten(aux, children):
    t = object.__new__(Table)
    t._layer, t._param = aux
    t._value = list(children)
    return t


tree.register(Table, _flatten, _unflatten, child_path=Table._tree_child_path, child_key=Table._tree_child_key,
              explain_difference=Table._tree_aux_difference, aux_is_data=True)


def height(t) -> int:
    """Number of rows of a Table (MATLAB ``height``)."""
    return len(t)
