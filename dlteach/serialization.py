"""``save`` / ``load`` of networks and parameter containers, without pickle (MATLAB ``save`` / ``load``).

``save(path, net)`` or ``save(path, parameters)`` writes one ``.npz`` file (``np.savez``; ".npz" is
appended when the path has no suffix ".npz", like NumPy does). ``load(path)`` returns what was saved.

File layout: every array is an entry ``a0``, ``a1``, ... stored with its exact dtype and bytes (a
dlarray in its internal S..C B T order, with its format kept in the manifest), plus an entry
``__dlteach_manifest__``: a JSON string ``{"format": "dlteach", "version": 1, "kind": ...}`` with

* kind ``"dlnetwork"``: the layers (constructor name + options), and the Learnables / State rows
  (Layer, Parameter, array entry, format);
* kind ``"parameters"``: the nested structure (dict / list / tuple / Table / dlarray / ndarray /
  numbers / str / None / dlnetwork, the last as a network description like the one above) pointing
  at the array entries.

Loading uses ``allow_pickle=False``, so a file can never run code. The round trip is exact (bit for
bit, dtypes, formats). A corrupt, truncated or foreign file raises :class:`FileFormatError` and nothing
is returned; the file is written to a temporary name first and renamed, so an interrupted ``save``
never leaves a half-written file under the real name.

A custom initializer *function* of a layer cannot be saved (no pickle); it is recorded as "custom" -
harmless, because a saved network's values are already set.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile

import numpy as np
from autograd.tracer import getval

from .dlarray import dlarray, isdlarray
from .errors import DLTeachError, FileFormatError, FormatError
from .formats import fmt_of, parse_format, value_of, wrap
from .layers import constructor_name, constructors, layer_from_options, layer_options
from .table import Table

__all__ = ["save", "load", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "dlteach"
FORMAT_VERSION = 1
#: the oldest format version this dlteach reads
MIN_FORMAT_VERSION = 1
#: containers nested deeper than this are refused by save and by load (a RecursionError otherwise)
MAX_DEPTH = 200
_MANIFEST = "__dlteach_manifest__"


class SaveError(DLTeachError, TypeError):
    """``save`` was given something it cannot store (the message names the entry and what is supported)."""


class MissingFolderError(DLTeachError, FileNotFoundError):
    """``save`` was asked to write into a folder that does not exist."""


# -------------------------------------------------------------------------------------------------
# encoding

class _Writer:
    def __init__(self):
        self.arrays = {}

    def add(self, arr):
        key = f"a{len(self.arrays)}"
        arr = np.asarray(arr)
        if arr.dtype.kind not in "biufc":
            raise SaveError(f"save: cannot store an array of dtype {arr.dtype} without pickle (only numbers and "
                            "logicals; an object array usually is a list that mixes arrays and numbers).")
        self.arrays[key] = arr
        return key


def _array_of(v):
    return np.asarray(value_of(v))


def _encode(x, w: _Writer, path="value", depth=0, active=None):
    if depth >= MAX_DEPTH:
        shown = path if len(path) < 80 else path[:40] + " ... " + path[-20:]
        raise SaveError(f"save: {shown} is nested more than {MAX_DEPTH} levels deep; load could not read it back. "
                        "Flatten the structure (or save its parts separately).")
    if isinstance(x, (dict, list, tuple, Table)):
        active = set() if active is None else active
        if id(x) in active:
            raise SaveError(f"save: {path} contains itself (a cycle: a list or dict that holds a reference to one of "
                            "its own containers). Such a structure cannot be written; remove the cycle.")
        active.add(id(x))
        try:
            return _encode_container(x, w, path, depth, active)
        finally:
            active.discard(id(x))
    if type(x) is dlarray:
        return {"t": "dlarray", "key": w.add(_array_of(x)), "fmt": fmt_of(x)}
    v = getval(x)
    if isinstance(v, np.generic):
        return {"t": "npscalar", "key": w.add(np.asarray(v))}
    if isinstance(v, np.ndarray):
        return {"t": "ndarray", "key": w.add(v)}
    if x is None:
        return {"t": "none"}
    if isinstance(x, bool):
        return {"t": "bool", "v": x}
    if isinstance(x, int):
        return {"t": "int", "v": str(x)}
    if isinstance(x, float):
        return {"t": "float", "v": float.__repr__(float(x))}
    if isinstance(x, str):
        return {"t": "str", "v": x}
    from .network import dlnetwork

    if isinstance(x, dlnetwork):  # a checkpoint: {"net": net, "averageGrad": ..., "iteration": ...}
        return {"t": "dlnetwork", "network": _encode_network(x, w)}
    raise SaveError(
        f"save: cannot store {path} of type {type(x).__name__} without pickle. Supported: dlnetwork, dlarray, NumPy "
        "arrays, numbers, strings, None, and dicts / lists / tuples / Tables of them."
    )


def _encode_container(x, w, path, depth, active):
    if isinstance(x, Table):
        return {"t": "table", "rows": [[r.Layer, r.Parameter,
                                        _encode(r.Value, w, f"{path}.Value{{{r.Layer}/{r.Parameter}}}", depth + 1, active)]
                                       for r in x]}
    if isinstance(x, dict):
        for k in x:
            if not isinstance(k, str):
                raise SaveError(f"save: dict keys must be strings (MATLAB struct fields); {path} has key {k!r}.")
        return {"t": "dict", "items": [[k, _encode(v, w, f"{path}[{k!r}]", depth + 1, active)] for k, v in x.items()]}
    return {"t": type(x).__name__ if type(x) in (list, tuple) else "list",
            "items": [_encode(v, w, f"{path}[{i}]", depth + 1, active) for i, v in enumerate(x)]}


def _layer_entry(lay, w: _Writer):
    opts = {}
    arrays = {}
    name = constructor_name(lay)
    if name is None:
        raise TypeError(
            f"save: layer '{lay.Name}' ({type(lay).__name__}: a functionLayer or a custom layer) cannot be saved "
            "without pickle -- its code is not data. Save the values instead, save(path, net.Learnables) (and "
            "net.State), and rebuild the network in code before assigning them back."
        )
    for k, v in layer_options(lay).items():
        if isinstance(v, np.ndarray):
            arrays[k] = w.add(v)
        elif callable(v):
            opts[k] = "custom"
        elif isinstance(v, tuple):
            opts[k] = list(v)
        else:
            opts[k] = v
    return {"class": name, "options": opts, "arrays": arrays}


def _encode_network(net, w: _Writer):
    def rows(table):
        out = []
        for r in table:
            v = r.Value
            if v is None:
                out.append([r.Layer, r.Parameter, None, ""])
            else:
                out.append([r.Layer, r.Parameter, w.add(_array_of(v)), fmt_of(v) if isdlarray(v) else None])
        return out

    layers = net.Layers
    ports = {lay.Name: (lay.OutputNames, lay.InputNames) for lay in layers}

    def port(name, text, k):  # "fc" or "add/in2" -> index of the port
        return ports[name][k].index(text.split("/", 1)[1]) if "/" in text else 0

    return {
        "layers": [_layer_entry(lay, w) for lay in layers],
        "connections": [[c.Source.split("/")[0], port(c.Source.split("/")[0], c.Source, 0),
                         c.Destination.split("/")[0], port(c.Destination.split("/")[0], c.Destination, 1)]
                        for c in net.Connections],
        "learnables": rows(net.Learnables),
        "state": rows(net.State),
        "initialized": bool(net.Initialized),
    }


def save(path, obj):
    """Save a dlnetwork or a container of parameters to ``path`` (.npz + JSON manifest, no pickle).

    MATLAB counterpart: ``save(filename, "net")``. ``obj`` may be a dlnetwork, or a dlarray / ndarray /
    dict / list / tuple / Table nesting them (e.g. the parameters of a model function, or Adam's
    averageGrad) and dlnetworks. Several variables go into one file as a dict, like MATLAB's
    ``save(filename, "net", "averageGrad", "averageSqGrad", "iteration")``::

        save(path, {"net": net, "averageGrad": averageGrad, "averageSqGrad": averageSqGrad, "iteration": iteration})
        S = load(path); net = S["net"]          # MATLAB: S = load(filename); net = S.net;

    Returns the path written.
    """
    from .network import dlnetwork

    if obj is None:
        raise SaveError(f"save: the value to save in {path!r} is None. A function that forgot `return` gives None: "
                        "check the function that produced it.")
    if not isinstance(path, (str, os.PathLike)):
        raise SaveError(f"save: the first argument must be the file name (MATLAB: save(filename, \"net\")), got "
                        f"{type(path).__name__}. Python's order is save(path, net).")
    user_path = path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise MissingFolderError(
            f"save: cannot write {user_path!r}: the folder {os.path.dirname(path) or directory!r} does not exist. "
            f"Create it first (os.makedirs({os.path.dirname(path)!r}, exist_ok=True)) or choose another path."
        )
    w = _Writer()
    if isinstance(obj, dlnetwork):
        manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "kind": "dlnetwork",
                    "network": _encode_network(obj, w)}
    else:
        manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "kind": "parameters",
                    "tree": _encode(obj, w)}
    text = json.dumps(manifest, allow_nan=False)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".dlteach-", suffix=".npz", dir=directory)
    except OSError as err:
        raise OSError(f"save: cannot write {user_path!r} ({err.strerror or err}).") from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{_MANIFEST: np.array(text)}, **w.arrays)
        os.replace(tmp, path)
    except OSError as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise OSError(f"save: writing {user_path!r} failed ({err.strerror or err}).") from None
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


# -------------------------------------------------------------------------------------------------
# decoding

class _Bad(Exception):
    pass


def _need(cond, what):
    if not cond:
        raise _Bad(what)


def _get(arrays, key):
    _need(isinstance(key, str) and key in arrays, f"the manifest refers to a missing array entry {key!r}")
    return arrays[key]


def _real_array(arr, what, bool_ok=True):
    """Learnables, State values and dlarrays hold real floating-point (float32/float64) or logical data."""
    kind = arr.dtype.kind
    _need(kind == "f" and arr.dtype.itemsize >= 4 or (bool_ok and kind == "b"),
          f"{what} has dtype {arr.dtype}; only real floating-point (float32, float64)"
          f"{' or logical' if bool_ok else ''} arrays are accepted there")
    return arr


def _fmt_ok(fmt, arr):
    _need(isinstance(fmt, str), "a dlarray format in the manifest is not a string")
    try:
        parse_format(fmt)
    except FormatError:
        raise _Bad(f"invalid dlarray format {fmt!r} in the manifest") from None
    _need(not fmt or len(fmt) == arr.ndim, f"the format {fmt!r} does not match an array of {arr.ndim} dimensions")
    return fmt


def _decode(node, arrays, depth=0):
    _need(depth < MAX_DEPTH, f"the manifest is nested more than {MAX_DEPTH} levels deep")
    _need(isinstance(node, dict) and "t" in node, "a manifest entry is malformed")
    t = node["t"]
    if t == "dlarray":
        arr = _real_array(_get(arrays, node.get("key")), "a dlarray entry")
        return wrap(arr, _fmt_ok(node.get("fmt"), arr))
    if t == "ndarray":
        return _get(arrays, node.get("key"))
    if t == "npscalar":
        arr = _get(arrays, node.get("key"))
        _need(arr.ndim == 0, "a scalar entry is not 0-dimensional")
        return arr[()]
    if t == "none":
        return None
    if t == "bool":
        _need(isinstance(node.get("v"), bool), "a bool entry is malformed")
        return node["v"]
    if t == "int":
        try:
            return int(node.get("v"))
        except (TypeError, ValueError):
            raise _Bad("an int entry is malformed") from None
    if t == "float":
        v = node.get("v")
        _need(isinstance(v, str), "a float entry is malformed")
        try:
            out = float(v)
        except ValueError:
            raise _Bad("a float entry is malformed") from None
        _need(math.isfinite(out) or v in ("nan", "inf", "-inf"), "a float entry is malformed")
        return out
    if t == "str":
        _need(isinstance(node.get("v"), str), "a str entry is malformed")
        return node["v"]
    if t == "dict":
        items = node.get("items")
        _need(isinstance(items, list) and all(isinstance(i, list) and len(i) == 2 and isinstance(i[0], str)
                                              for i in items), "a dict entry is malformed")
        return {k: _decode(v, arrays, depth + 1) for k, v in items}
    if t in ("list", "tuple"):
        items = node.get("items")
        _need(isinstance(items, list), f"a {t} entry is malformed")
        out = [_decode(v, arrays, depth + 1) for v in items]
        return out if t == "list" else tuple(out)
    if t == "dlnetwork":
        return _decode_network(node.get("network"), arrays)
    if t == "table":
        rows = node.get("rows")
        _need(isinstance(rows, list) and all(isinstance(r, list) and len(r) == 3 and isinstance(r[0], str)
                                             and isinstance(r[1], str) for r in rows), "a table entry is malformed")
        return Table([r[0] for r in rows], [r[1] for r in rows], [_decode(r[2], arrays, depth + 1) for r in rows])
    raise _Bad(f"unknown entry type {t!r} in the manifest")


def _decode_network(spec, arrays):
    from .network import assemble

    _need(isinstance(spec, dict), "the network description is malformed")
    entries = spec.get("layers")
    _need(isinstance(entries, list) and entries, "the network has no layers")
    layers = []
    for e in entries:
        _need(isinstance(e, dict) and e.get("class") in constructors(), f"unknown layer type {e.get('class') if isinstance(e, dict) else e!r}")
        opts = e.get("options")
        arr_opts = e.get("arrays", {})
        _need(isinstance(opts, dict) and isinstance(arr_opts, dict), "a layer description is malformed")
        opts = dict(opts)
        for k, key in arr_opts.items():
            opts[k] = _get(arrays, key)
        try:
            layers.append(layer_from_options(e["class"], opts))
        except Exception as err:
            raise _Bad(f"layer {e['class']} cannot be rebuilt from the saved options ({err})") from None
    conns = spec.get("connections")  # graph networks (files without it: a layer array, connected in order)
    _need(conns is None or isinstance(conns, list), "the connections are malformed")

    def values(rows, keys, what):
        _need(isinstance(rows, list) and len(rows) == len(keys), f"the {what} rows do not match the layers")
        out = []
        for row, key in zip(rows, keys):
            _need(isinstance(row, list) and len(row) == 4 and (row[0], row[1]) == key,
                  f"the {what} rows do not match the layers (expected {key[0]}/{key[1]})")
            if row[2] is None:
                out.append(None)
                continue
            arr = _real_array(_get(arrays, row[2]), f"{what} value {key[0]}/{key[1]}", bool_ok=False)
            fmt = row[3]
            out.append(wrap(arr, _fmt_ok(fmt, arr)) if fmt is not None else arr)
        return out

    try:
        plain = assemble(layers, conns)  # the rows the layers define, checked below
    except Exception as err:
        raise _Bad(f"the saved layers do not form a valid network ({err})") from None
    learnables = values(spec.get("learnables"), [(r.Layer, r.Parameter) for r in plain.Learnables], "Learnables")
    state = values(spec.get("state"), [(r.Layer, r.Parameter) for r in plain.State], "State")
    try:
        return assemble(layers, conns, learnables, state, initialized=spec.get("initialized", True))
    except Exception as err:
        raise _Bad(f"the saved values do not fit the layers ({err})") from None


def _check_entry_sizes(path):
    """Compare each entry's declared size (its .npy header) with its size in the archive, before allocating.

    A crafted header can declare a huge shape: reading it would allocate that much memory first.
    """
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as f:
                try:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                except ValueError as err:
                    raise _Bad(f"entry {info.filename[:-4]!r} has an invalid header ({err})") from None
                header = f.tell()
            if dtype.hasobject:
                raise _Bad(f"entry {info.filename[:-4]!r} holds Python objects (pickle), which dlteach never writes")
            declared = math.prod(shape) * dtype.itemsize
            if declared != info.file_size - header:
                raise _Bad(f"entry {info.filename[:-4]!r} declares size {'x'.join(map(str, shape)) or '1x1'} "
                           f"({declared} bytes) but holds {info.file_size - header} bytes")


def load(path):
    """Load what :func:`save` wrote (MATLAB ``load``). Raises FileFormatError for corrupt or foreign files."""
    if not isinstance(path, (str, os.PathLike)):
        raise FileFormatError(f"load: the argument must be a file name, got {type(path).__name__}.")
    user_path = path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no file {user_path!r}.")
    if os.path.isdir(path):
        raise FileFormatError(f"load: {user_path!r} is a folder, not a file.")
    path_text = repr(user_path) if path == user_path else f"{user_path!r} ({path!r})"
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic == b"\x93NUMPY":
        raise FileFormatError(
            f"load: {path_text} is a .npy file (one NumPy array, written by np.save), not a dlteach file. Read it "
            "with np.load(path); dlteach's save writes .npz files with a manifest."
        )
    names = []
    try:
        if zipfile.is_zipfile(path):
            _check_entry_sizes(path)
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            if _MANIFEST not in names:
                raise _Bad("__foreign__")
            arrays = {k: z[k] for k in names}  # reads (and CRC-checks) every entry now
    except _Bad as err:
        if str(err) != "__foreign__":
            raise FileFormatError(f"load: {path_text} is not a valid dlteach file: {err}.") from None
        raise FileFormatError(
            f"{path_text} is a .npz file but not a dlteach file (it has the arrays {names[:8]} and no dlteach manifest). "
            "Load it with np.load(path) instead, or save networks and parameters with dlteach's save."
        ) from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, RuntimeError, MemoryError,
            AttributeError) as err:
        raise FileFormatError(
            f"{path_text} cannot be read as a dlteach file: it is corrupt, truncated or not a .npz file ({type(err).__name__}: "
            f"{err}). Save it again with dlteach's save."
        ) from None
    try:
        m = arrays.pop(_MANIFEST)
        _need(m.dtype.kind == "U" and m.ndim == 0, "the manifest entry is not a text string")
        try:
            manifest = json.loads(str(m))
        except ValueError as err:
            raise _Bad(f"the manifest is not valid JSON ({err})") from None
        _need(isinstance(manifest, dict) and manifest.get("format") == FORMAT_NAME, "the manifest does not name the dlteach format")
        version = manifest.get("version")
        _need(isinstance(version, int) and not isinstance(version, bool), "the manifest has no format version")
        if version > FORMAT_VERSION:
            raise _Bad(f"it was written by a newer dlteach (format version {version}; this one reads up to "
                       f"{FORMAT_VERSION}). Update dlteach")
        _need(version >= MIN_FORMAT_VERSION, f"its format version {version} does not exist (versions "
                                             f"{MIN_FORMAT_VERSION} to {FORMAT_VERSION})")
        kind = manifest.get("kind")
        if kind == "dlnetwork":
            out = _decode_network(manifest.get("network"), arrays)
        elif kind == "parameters":
            out = _decode(manifest.get("tree"), arrays)
        else:
            raise _Bad(f"unknown content kind {kind!r}")
    except _Bad as err:
        raise FileFormatError(f"{path_text} is not a valid dlteach file: {err}.") from None
    except RecursionError:
        raise FileFormatError(f"{path_text} is not a valid dlteach file: its manifest is nested too deeply.") from None
    return out
