"""``dlnetwork``: a network of layers with Learnables and State tables (MATLAB ``dlnetwork``).

MATLAB counterparts: ``dlnetwork``, ``forward``, ``predict``, ``initialize``, ``analyzeNetwork``.

::

    net = dlnetwork([imageInputLayer([28, 28, 1], Normalization="none"), convolution2dLayer(5, 20),
                     batchNormalizationLayer(), reluLayer(), maxPooling2dLayer(2, Stride=2),
                     fullyConnectedLayer(10), softmaxLayer()])

    def modelLoss(net, X, T):
        Y, state = forward(net, X, return_state=True)   # MATLAB: [Y,state] = forward(net,X)
        loss = crossentropy(Y, T)
        gradients = dlgradient(loss, net.Learnables)
        return loss, gradients, state

    loss, gradients, state = dlfeval(modelLoss, net, X, T)
    net.State = state                                    # forward never changes the network
    net, avgG, avgSqG = adamupdate(net, gradients, avgG, avgSqG, iteration)

Networks are values: ``forward``, ``predict`` and the updaters never change a network; the updaters
return a new one. Assigning ``net.State = ...`` / ``net.Learnables = ...`` changes that network object
(the MATLAB statement with the same spelling), after checking that the table rows match.

A network is a container for :mod:`dlteach.tree` (children: the learnable values, then the state
values), so ``dlfeval`` traces it and ``dlgradient(loss, net.Learnables)`` works.
"""

from __future__ import annotations

import html
import warnings

import numpy as np
from autograd.tracer import getval, isbox

from . import tree
from .dlarray import dlarray
from .errors import FormatError, NetworkError
from .formats import data_of, fmt_of, size_text, value_of, wrap
from .layers import Layer, _InputLayer
from .table import Table

__all__ = ["dlnetwork", "forward", "predict", "initialize", "analyzeNetwork", "StateNotUpdatedWarning"]

from .errors import StateNotUpdatedWarning  # noqa: E402  (defined with the other teaching errors)


class _Family:
    """Shared by a network and every network derived from it (traced copies, updater results).

    Records how many times ``forward`` ran on the family, and the values the family started with, so
    ``predict`` can tell "trained, but State never stored" apart from "State stored" or "never trained".
    """

    __slots__ = ("forward_calls", "initial_learnables", "initial_state")

    def __init__(self):
        self.forward_calls = 0
        self.initial_learnables = []
        self.initial_state = []

    def record(self, lvals, svals):
        self.initial_learnables = [None if v is None else value_of(v) for v in lvals]
        self.initial_state = [None if v is None else np.array(value_of(v), copy=True) for v in svals]


def _flatten_layers(layers):
    if isinstance(layers, Layer):
        return [layers]
    if isinstance(layers, (list, tuple)):
        out = []
        for item in layers:
            out.extend(_flatten_layers(item))
        return out
    raise NetworkError(
        f"dlnetwork expects a list of layers, e.g. dlnetwork([featureInputLayer(4), fullyConnectedLayer(3)]); "
        f"got {type(layers).__name__}."
    )


def _assign_names(layers):
    """Copies of the layers with unique names (MATLAB's rule for unnamed layers)."""
    layers = [lay._copy() for lay in layers]
    taken = {}
    for i, lay in enumerate(layers):
        if lay.Name:
            if lay.Name in taken:
                raise NetworkError(
                    f"Two layers are named {lay.Name!r} (layers {taken[lay.Name]} and {i}). Layer names must be "
                    "unique: rename one (Name=...) or leave names empty to get automatic names."
                )
            taken[lay.Name] = i
    counts = {}
    for lay in layers:
        if not lay.Name:
            counts[lay._prefix] = counts.get(lay._prefix, 0) + 1
    next_index = {}
    for i, lay in enumerate(layers):
        if lay.Name:
            continue
        prefix = lay._prefix
        if counts[prefix] == 1 and prefix not in taken:
            name = prefix
        else:
            k = next_index.get(prefix, 1)
            while f"{prefix}_{k}" in taken:
                k += 1
            name = f"{prefix}_{k}"
            next_index[prefix] = k + 1
        lay.Name = name
        taken[name] = i
    return layers


class _NetAux:
    """Tree structure of a network: compared by layer names/types and parameter rows only."""

    __slots__ = ("net",)

    def __init__(self, net):
        self.net = net

    def key(self):
        n = self.net
        return (tuple((lay.Name, type(lay).__name__) for lay in n._layers), tuple(n._lkeys), tuple(n._skeys))

    def __eq__(self, other):
        return isinstance(other, _NetAux) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())


class dlnetwork:
    """Deep learning network for custom training loops (MATLAB ``dlnetwork``).

    ``dlnetwork(layers, Initialize=True)``: ``layers`` is a list of layers starting with an input layer
    (nested lists are concatenated, like MATLAB's ``[layers1; layers2]``). With ``Initialize=False`` the
    learnables stay empty (None) until ``net = initialize(net)``.

    Properties: ``Layers``, ``Learnables`` (Table), ``State`` (Table; 0 rows without stateful layers),
    ``Initialized``, ``InputNames``, ``OutputNames``.
    """

    def __init__(self, layers, Initialize=True):
        layers = _assign_names(_flatten_layers(layers))
        if not layers:
            raise NetworkError("dlnetwork needs at least an input layer and one more layer.")
        if not isinstance(layers[0], _InputLayer):
            raise NetworkError(
                f"The first layer must be an input layer (featureInputLayer(numFeatures) or imageInputLayer([h w c])); "
                f"got {layers[0]!r}. The input layer tells the network the size of one observation."
            )
        for lay in layers[1:]:
            if isinstance(lay, _InputLayer):
                raise NetworkError(
                    f"Layer '{lay.Name}' is an input layer but is not the first layer; dlteach networks have one input."
                )
        layers[0]._validate_normalization()
        self._layers = tuple(layers)
        self._lkeys = [(lay.Name, p) for lay in layers for p in lay._learnables]
        self._skeys = [(lay.Name, p) for lay in layers for p in lay._states]
        self._lvals = [lay._preset(p) for lay in layers for p in lay._learnables]
        self._svals = [lay._preset(p) for lay in layers for p in lay._states]
        self._index = _param_index(layers)
        self._family = _Family()
        if Initialize:
            _fill(self, lambda lay, name, shape: wrap(lay._init_value(name, shape), ""))
        self._family.record(self._lvals, self._svals)

    # -- properties ------------------------------------------------------------------------------
    @property
    def Layers(self):
        """Copies of the layers with the current learnable and state values filled in."""
        out = []
        for i, lay in enumerate(self._layers):
            c = lay._copy()
            for name, (kind, j) in self._index[i].items():
                setattr(c, name, (self._lvals if kind == "L" else self._svals)[j])
            out.append(c)
        return tuple(out)

    @property
    def Learnables(self) -> Table:
        """Table of learnable parameters (Layer, Parameter, Value); a new Table on every access."""
        return Table([k[0] for k in self._lkeys], [k[1] for k in self._lkeys], list(self._lvals))

    @Learnables.setter
    def Learnables(self, table):
        self._lvals = _checked_values(self, table, self._lkeys, self._lvals, "Learnables")

    @property
    def State(self) -> Table:
        """Table of state parameters (batch norm TrainedMean/TrainedVariance); 0 rows if there are none."""
        return Table([k[0] for k in self._skeys], [k[1] for k in self._skeys], list(self._svals))

    @State.setter
    def State(self, table):
        self._svals = _checked_values(self, table, self._skeys, self._svals, "State")

    @property
    def Initialized(self) -> bool:
        return all(v is not None for v in self._lvals) and all(v is not None for v in self._svals)

    @property
    def InputNames(self):
        return [self._layers[0].Name]

    @property
    def OutputNames(self):
        return [self._layers[-1].Name]

    # -- methods (same as the functions) -----------------------------------------------------------
    def forward(self, X, return_state=False, Outputs=None):
        return forward(self, X, return_state=return_state, Outputs=Outputs)

    def predict(self, X, Outputs=None):
        return predict(self, X, Outputs=Outputs)

    def summary(self, X=None):
        """Same as ``analyzeNetwork(net, X)``."""
        return analyzeNetwork(self, X)

    # -- hooks used by the updaters ------------------------------------------------------------------
    def _learn_rate_factors(self):
        """Learn-rate factor of every Learnables row, in row order."""
        by_name = {lay.Name: lay for lay in self._layers}
        return [float(by_name[layer]._factor(param, "LearnRateFactor")) for layer, param in self._lkeys]

    def _l2_factors(self):
        """L2 regularization factor of every Learnables row, in row order."""
        by_name = {lay.Name: lay for lay in self._layers}
        return [float(by_name[layer]._factor(param, "L2Factor")) for layer, param in self._lkeys]

    def _with_learnables(self, table):
        """A NEW dlnetwork sharing layers and state with this one, with the given learnables table."""
        values = _checked_values(self, table, self._lkeys, self._lvals, "Learnables")
        return _rebuild(self, values, list(self._svals))

    def _with_state(self, table):
        values = _checked_values(self, table, self._skeys, self._svals, "State")
        return _rebuild(self, list(self._lvals), values)

    # -- display -----------------------------------------------------------------------------------
    def __repr__(self):
        lines = ["dlnetwork with properties:", ""]
        lines.append(f"         Layers: [{len(self._layers)}x1 layers] " +
                     " -> ".join(lay.Name for lay in self._layers))
        lines.append(f"     Learnables: [{len(self._lkeys)}x3 Table]")
        lines.append(f"          State: [{len(self._skeys)}x3 Table]")
        lines.append(f"     InputNames: {self.InputNames}")
        lines.append(f"    OutputNames: {self.OutputNames}")
        lines.append(f"    Initialized: {int(self.Initialized)}")
        lines.append("")
        lines.append("  analyzeNetwork(net) shows the layers, activation sizes and learnable counts.")
        return "\n".join(lines)

    # -- tree protocol -------------------------------------------------------------------------------
    @classmethod
    def _tree_child_name(cls, aux, i):
        n = aux.net
        if i < len(n._lkeys):
            layer, param = n._lkeys[i]
            return f".Learnables{{{layer}/{param}}}"
        layer, param = n._skeys[i - len(n._lkeys)]
        return f".State{{{layer}/{param}}}"

    @classmethod
    def _tree_aux_difference(cls, aux, raux):
        a, b = aux.net, raux.net
        la = [(lay.Name, type(lay).__name__) for lay in a._layers]
        lb = [(lay.Name, type(lay).__name__) for lay in b._layers]
        if la != lb:
            for i, (x, y) in enumerate(zip(la, lb)):
                if x != y:
                    return f"the networks differ at layer {i}: {x[0]} ({x[1]}) vs {y[0]} ({y[1]})"
            return f"the networks have {len(la)} and {len(lb)} layers"
        for what, ka, kb in (("Learnables", a._lkeys, b._lkeys), ("State", a._skeys, b._skeys)):
            if ka != kb:
                return f"the networks' {what} rows differ"
        return "the networks differ"


def _param_index(layers):
    """Per layer: {parameter name: ("L" or "S", row index)}."""
    out = []
    li = si = 0
    for lay in layers:
        d = {}
        for p in lay._learnables:
            d[p] = ("L", li)
            li += 1
        for p in lay._states:
            d[p] = ("S", si)
            si += 1
        out.append(d)
    return out


def _rebuild(net, lvals, svals):
    new = object.__new__(dlnetwork)
    new.__dict__.update(net.__dict__)
    new._lvals = list(lvals)
    new._svals = list(svals)
    return new


def _flatten_net(net):
    return list(net._lvals) + list(net._svals), _NetAux(net)


def _unflatten_net(aux, children):
    n = aux.net
    k = len(n._lkeys)
    return _rebuild(n, children[:k], children[k:])


tree.register(dlnetwork, _flatten_net, _unflatten_net)


def _shape_of(v):
    return tuple(np.shape(value_of(v)))


def _checked_values(net, table, keys, current, what):
    """Validate a Table assigned to net.<what>; return its values as a list."""
    if not isinstance(table, Table):
        raise NetworkError(
            f"net.{what} must be assigned a Table with the same rows as net.{what} (the one forward / dlgradient / "
            f"the updaters return); got {type(table).__name__}."
            + (" (forward(net, X) without return_state=True returns only the output: use "
               "Y, state = forward(net, X, return_state=True).)" if what == "State" and isinstance(table, dlarray) else "")
        )
    tkeys = table.keys()
    if tkeys != list(keys):
        detail = Table._tree_aux_difference(
            (tuple(k[0] for k in keys), tuple(k[1] for k in keys)),
            (tuple(k[0] for k in tkeys), tuple(k[1] for k in tkeys)))
        raise NetworkError(
            f"The table assigned to net.{what} does not match this network: {detail}. Assign the table that belongs "
            f"to this network (e.g. the state returned by forward on this very network) with the rows unchanged."
        )
    values = list(table.Value)
    for i, ((layer, param), new, old) in enumerate(zip(keys, values, current)):
        if new is None:
            continue
        if type(new) is not dlarray:
            new = wrap(new if isbox(new) else np.asarray(new), "")
            values[i] = new
        if old is not None and _shape_of(new) != _shape_of(old):
            raise NetworkError(
                f"net.{what}: the value for {layer}/{param} has size {size_text(_shape_of(new))} but the network "
                f"needs {size_text(_shape_of(old))}."
            )
    return values


# -------------------------------------------------------------------------------------------------
# size propagation and initialization

def _example_input(inp, batch=1):
    return wrap(np.zeros(tuple(inp.InputSize) + (batch,), np.float32), inp._in_fmt + "B")


def _per_obs(Y):
    fmt = fmt_of(Y)
    b = fmt.index("B")
    return tuple(s for i, s in enumerate(Y.shape) if i != b), fmt.replace("B", "")


def _fill(net, make):
    """Propagate an example input through the layers, creating missing values with ``make``.

    Records per layer (input size, input format, output size, output format) in ``net._sizes``.
    """
    layers = net._layers
    inp = layers[0]
    X = _example_input(inp)
    size, fmt = tuple(inp.InputSize), inp._in_fmt
    sizes = []
    lvals, svals = list(net._lvals), list(net._svals)
    for i, lay in enumerate(layers):
        shapes = lay._shapes(size, fmt) if i else {}
        lay._check_input(size, fmt)
        p = {}
        for name, (kind, j) in net._index[i].items():
            vals = lvals if kind == "L" else svals
            shape = shapes[name]
            if vals[j] is None:
                vals[j] = make(lay, name, shape)
            elif _shape_of(vals[j]) != tuple(shape):
                raise NetworkError(
                    f"Layer '{lay.Name}': {name} has size {size_text(_shape_of(vals[j]))}, but with an input of size "
                    f"{size_text(size)} ({fmt}) it must be {size_text(shape)}."
                )
            p[name] = vals[j]
        _set_sizes(lay, size, fmt)
        try:
            Y, _ = lay._forward(X, p, False)
        except NetworkError:
            raise
        except Exception as err:  # an op rejected the sizes: say which layer and which input
            raise NetworkError(
                f"Layer '{lay.Name}' ({type(lay).__name__}) cannot take an input of size {size_text(size)} ({fmt}): "
                f"{err}"
            ) from err
        out_size, out_fmt = _per_obs(Y)
        sizes.append((size, fmt, out_size, out_fmt))
        X, size, fmt = Y, out_size, out_fmt
    net._lvals, net._svals = lvals, svals
    net._sizes = sizes
    return sizes


def _set_sizes(lay, size, fmt):
    if hasattr(lay, "InputSize") and lay.InputSize == "auto":
        lay.InputSize = int(np.prod(size))
    if getattr(lay, "NumChannels", None) == "auto":
        lay.NumChannels = int(size[fmt.index("C")])


def initialize(net):
    """Initialize the unset learnables and state of ``net`` (MATLAB ``net = initialize(net)``).

    Values already set (presets such as ``fullyConnectedLayer(10, Weights=W)`` or values of a network
    that is already initialized) are kept; the others are created from the input layer's size with each
    layer's initializers. Returns a new network.
    """
    if not isinstance(net, dlnetwork):
        raise NetworkError(f"initialize expects a dlnetwork; got {type(net).__name__}.")
    new = _rebuild(net, net._lvals, net._svals)
    new._layers = tuple(lay._copy() for lay in net._layers)
    new._family = _Family()
    _fill(new, lambda lay, name, shape: wrap(lay._init_value(name, shape), ""))
    new._family.record(new._lvals, new._svals)
    return new


# -------------------------------------------------------------------------------------------------
# forward / predict

def _shape_hint(inp, shape):
    """Suggest a format when the data looks like another framework's layout."""
    want = tuple(inp.InputSize)
    if inp._in_fmt == "C" and len(shape) == 2 and shape[1] == want[0]:
        return (" The data looks like observations x features (one observation per row): MATLAB's layout is "
                "features x observations. Use dlarray(X, 'BC') (or X.T).")
    if inp._in_fmt == "SSC" and len(shape) == 4:
        if tuple(shape[1:]) == want:
            return " The data looks like N x H x W x C (Keras layout): use dlarray(X, 'BSSC')."
        if (shape[1], shape[2], shape[3]) == (want[2], want[0], want[1]):
            return " The data looks like N x C x H x W (PyTorch layout): use dlarray(X, 'BCSS')."
    if inp._in_fmt == "SSC" and len(shape) == 3 and want[2] == 1 and tuple(shape[:2]) == want[:2]:
        return None  # h x w x N with one channel: handled by the caller
    return ""


def _prepare_input(net, X):
    inp = net._layers[0]
    fmt = inp._in_fmt + "B"
    want = tuple(inp.InputSize)
    if fmt_of(X):
        if fmt_of(X) != fmt:
            raise NetworkError(
                f"Layer '{inp.Name}' expects {fmt} data ({'height x width x channels x observations' if fmt == 'SSCB' else 'features x observations'}), "
                f"but X has format {fmt_of(X)!r} (size {size_text(X.shape)}). Label the dimensions as {fmt!r}: "
                f"dlarray(X, {fmt!r})."
            )
        Xf = X
    else:
        raw = data_of(X)
        if not hasattr(getval(raw), "shape"):
            raw = np.asarray(raw)
        shape = tuple(np.shape(getval(raw)))
        hint = _shape_hint(inp, shape)
        if hint is None:  # h x w x N single-channel images: insert the channel dimension
            import autograd.numpy as anp

            raw = anp.reshape(raw, shape[:2] + (1, shape[2]))
            hint = ""
        try:
            Xf = dlarray(raw, fmt)
        except (FormatError, TypeError) as err:
            raise NetworkError(
                f"Layer '{inp.Name}' expects input of size {size_text(want)} per observation ({fmt}); X has size "
                f"{size_text(shape)} and cannot be read as {fmt}: {err}{hint}"
            ) from None
    got, _ = _per_obs(Xf)
    if tuple(got) != want:
        shape = tuple(np.shape(value_of(X)))
        hint = "" if fmt_of(X) else (_shape_hint(inp, shape) or "")
        raise NetworkError(
            f"Wrong input size for layer '{inp.Name}': it expects {size_text(want)} per observation ({fmt}), but X is "
            f"{size_text(Xf.shape)} ({fmt_of(Xf)}), i.e. {size_text(got)} per observation.{hint}"
        )
    return Xf


def _output_names(net, Outputs):
    if Outputs is None:
        return None, True
    single = isinstance(Outputs, str)
    names = [Outputs] if single else list(Outputs)
    known = [lay.Name for lay in net._layers]
    out = []
    for n in names:
        n = str(n)
        if n.endswith("/out"):
            n = n[:-4]
        if n not in known:
            raise NetworkError(f"Outputs: the network has no layer named {n!r}. Layers: {', '.join(known)}.")
        out.append(n)
    return out, single


def _run(net, X, training, Outputs, fname):
    if not isinstance(net, dlnetwork):
        raise NetworkError(f"{fname}(net, X): the first argument must be a dlnetwork, got {type(net).__name__}.")
    if not net.Initialized:
        raise NetworkError(
            f"{fname}: the network is not initialized (its learnables are empty). Use net = initialize(net) first, "
            "or create it with dlnetwork(layers) (Initialize=True is the default)."
        )
    names, single = _output_names(net, Outputs)
    H = _prepare_input(net, X)
    svals = list(net._svals)
    acts = {}
    for i, lay in enumerate(net._layers):
        p = {name: (net._lvals if kind == "L" else net._svals)[j] for name, (kind, j) in net._index[i].items()}
        H, new_state = lay._forward(H, p, training)
        if new_state:
            for name, v in new_state.items():
                svals[net._index[i][name][1]] = v
        if names is not None and lay.Name in names:
            acts[lay.Name] = H
    if names is None:
        outs = H
    elif single:
        outs = acts[names[0]]
    else:
        outs = tuple(acts[n] for n in names)
    return outs, svals


def forward(net, X, return_state=False, Outputs=None):
    """Forward pass in *training* mode (MATLAB ``forward``).

    Batch normalization uses the mini-batch statistics, dropout is active. The network is not changed:

    * ``Y = forward(net, X)``
    * ``Y, state = forward(net, X, return_state=True)`` - also the updated State table
      (MATLAB ``[Y,state] = forward(net,X)``); store it with ``net.State = state``.
    * ``Outputs="relu"`` returns that layer's activation; ``Outputs=["relu", "fc"]`` a tuple in that order
      (with ``return_state=True``: ``Y1, Y2, state = ...``).

    X is a formatted dlarray ("SSCB" images, "CB" features); an unformatted dlarray or NumPy array is
    read in the input layer's format.
    """
    outs, svals = _run(net, X, True, Outputs, "forward")
    net._family.forward_calls += 1
    if not return_state:
        return outs
    state = Table([k[0] for k in net._skeys], [k[1] for k in net._skeys], svals)
    return (*outs, state) if isinstance(outs, tuple) else (outs, state)


def _state_is_initial(net):
    fam = net._family
    if len(fam.initial_state) != len(net._svals):
        return False
    for v, v0 in zip(net._svals, fam.initial_state):
        if v is None or v0 is None or not np.array_equal(value_of(v), v0):
            return False
    return True


def _learnables_changed(net):
    fam = net._family
    return any(v is not None and value_of(v) is not v0 for v, v0 in zip(net._lvals, fam.initial_learnables))


def predict(net, X, Outputs=None):
    """Forward pass in *inference* mode (MATLAB ``predict``).

    This is NNC's Runtime network: the training network without its loss, with batch statistics off -
    batch normalization uses the stored ``TrainedMean``/``TrainedVariance`` and dropout is the identity.
    ``Outputs=`` as in :func:`forward`.

    Hint: when a network with batch normalization has been trained (forward ran and the learnables
    changed) but its State still holds the initial statistics, a :class:`StateNotUpdatedWarning` says
    so - the usual cause is a missing ``net.State = state`` after ``dlfeval``.
    """
    if isinstance(net, dlnetwork) and net._skeys and net._family.forward_calls and _state_is_initial(net) \
            and _learnables_changed(net):
        warnings.warn(StateNotUpdatedWarning(
            f"predict is using the INITIAL batch-normalization statistics (TrainedMean = 0, TrainedVariance = 1) of "
            f"a network that has been trained: forward ran {net._family.forward_calls} time(s) on it and its learnables "
            "changed, but net.State was never updated. forward does not change the network; it returns the new "
            "state, which you must store yourself after each dlfeval:\n\n"
            "    loss, gradients, state = dlfeval(modelLoss, net, X, T)\n"
            "    net.State = state\n\n"
            "Did you forget net.State = state? Until then predict's outputs are probably poor."),
            stacklevel=2)
    outs, _ = _run(net, X, False, Outputs, "predict")
    return outs


# -------------------------------------------------------------------------------------------------
# analyzeNetwork

class NetworkAnalysis:
    """Result of :func:`analyzeNetwork`: a table of layers (HTML in Jupyter, text in a terminal).

    ``rows``: list of dicts with keys Name, Type, Description, Activations, Learnables (list of
    (name, size)), NumLearnables; ``TotalLearnables``.
    """

    def __init__(self, rows, total, batch):
        self.rows = rows
        self.TotalLearnables = total
        self.batch = batch

    def _cells(self, r):
        learn = ", ".join(f"{n} {size_text(s)}" for n, s in r["Learnables"]) or "-"
        state = ", ".join(f"{n} {size_text(s)}" for n, s in r["State"]) or "-"
        return [r["Name"], r["Type"], r["Activations"], learn, f"{r['NumLearnables']:,}" if r["NumLearnables"] else "0",
                state]

    _HEAD = ["Name", "Type", "Activations", "Learnables", "Count", "State"]

    def __repr__(self):
        rows = [self._HEAD] + [self._cells(r) for r in self.rows]
        w = [max(len(str(r[j])) for r in rows) for j in range(len(self._HEAD))]
        lines = [f"Network analysis: {len(self.rows)} layers, {self.TotalLearnables:,} learnables"]
        lines.append("  ".join(h.ljust(w[j]) for j, h in enumerate(self._HEAD)))
        lines.append("  ".join("-" * x for x in w))
        for i, r in enumerate(rows[1:]):
            lines.append("  ".join(str(c).ljust(w[j]) for j, c in enumerate(r)))
            lines.append("  " + " " * w[0] + self.rows[i]["Description"])
        lines.append(f"Total learnables: {self.TotalLearnables:,}")
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self):
        esc = html.escape
        out = [f"<div><b>Network analysis</b>: {len(self.rows)} layers, {self.TotalLearnables:,} learnables",
               '<table class="dlteach-analysis"><thead><tr><th></th>']
        out += [f"<th>{h}</th>" for h in self._HEAD] + ["</tr></thead><tbody>"]
        for i, r in enumerate(self.rows):
            c = self._cells(r)
            out.append(f"<tr><td>{i + 1}</td><td><b>{esc(c[0])}</b><br><small>{esc(r['Description'])}</small></td>")
            out += [f"<td>{esc(str(x))}</td>" for x in c[1:]]
            out.append("</tr>")
        out.append(f"</tbody><tfoot><tr><td></td><td colspan='4'>Total learnables</td>"
                   f"<td>{self.TotalLearnables:,}</td><td></td></tr></tfoot></table></div>")
        return "".join(out)


def analyzeNetwork(net, X=None):
    """Summary of a network (MATLAB ``analyzeNetwork``): per layer its name, type, activation size and
    learnables (sizes and count), plus the total number of learnables.

    Returns a :class:`NetworkAnalysis` (rendered as an HTML table in Jupyter, text when printed).
    With an example input ``X`` the activation sizes show its batch size; works on uninitialized
    networks too (sizes come from the input layer).
    """
    if not isinstance(net, dlnetwork):
        raise NetworkError(f"analyzeNetwork expects a dlnetwork; got {type(net).__name__}.")
    probe = _rebuild(net, net._lvals, net._svals)
    probe._layers = tuple(lay._copy() for lay in net._layers)
    sizes = _fill(probe, lambda lay, name, shape: wrap(np.zeros(shape, np.float32), ""))
    batch = 1
    if X is not None:
        Xf = _prepare_input(net, X)
        batch = Xf.shape[fmt_of(Xf).index("B")]
    rows = []
    total = 0
    for i, (lay, (_isz, _ifmt, osz, ofmt)) in enumerate(zip(probe._layers, sizes)):
        learn, state = [], []
        for name, (kind, j) in probe._index[i].items():
            shape = _shape_of((probe._lvals if kind == "L" else probe._svals)[j])
            (learn if kind == "L" else state).append((name, shape))
        count = int(sum(int(np.prod(s)) for _, s in learn))
        total += count
        full = list(osz) + [batch]
        fmt = ofmt + "B"
        rows.append({
            "Name": lay.Name, "Type": lay.Type, "Description": lay._describe(),
            "Activations": size_text(full, fmt),
            "Learnables": learn, "NumLearnables": count, "State": state,
        })
    return NetworkAnalysis(rows, total, batch)
