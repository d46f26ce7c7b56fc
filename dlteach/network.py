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

Graph networks (MATLAB ``addLayers`` / ``connectLayers`` / ``removeLayers`` / ``disconnectLayers`` /
``replaceLayer`` on a dlnetwork, the R2024 style without ``layerGraph``)::

    net = dlnetwork()                                   # MATLAB: net = dlnetwork;
    net = addLayers(net, [imageInputLayer([28, 28, 1], Normalization="none"), convolution2dLayer(3, 8),
                          reluLayer(Name="relu_1"), additionLayer(2, Name="add"), fullyConnectedLayer(10)])
    net = addLayers(net, convolution2dLayer(3, 8, Name="conv_skip"))
    net = connectLayers(net, "imageinput", "conv_skip")
    net = connectLayers(net, "conv_skip", "add/in2")    # "layer/port": additionLayer's inputs are in1, in2
    net = initialize(net)
    Y = forward(net, X)                                 # outputs: the layers whose outputs are unconnected

A list of layers is connected in order (each layer's first output to the next layer's first input).
Layers run in topological order (ties in the order of ``net.Layers``). Every input port must be
connected; the inputs of the network are its input layers (``net.InputNames``, in layer order; ``forward``
takes one array per input), the outputs the unconnected output ports (``net.OutputNames``).
Adding, connecting or removing layers returns an *uninitialized* network that keeps the values of its
layers: ``initialize`` creates only the missing ones.
"""

from __future__ import annotations

import html
import warnings
from collections import namedtuple
from itertools import repeat
from operator import is_, itemgetter

import numpy as np
from autograd.tracer import getval, isbox

from . import tree
from . import validate as _v
from .dlarray import dlarray
from .errors import FormatError, NetworkError, StateNotUpdatedWarning
from .formats import data_of, datas_of, fmt_of, size_text, value_of, wrap
from .layers import Layer
from .table import Table

__all__ = ["dlnetwork", "forward", "predict", "initialize", "resetState", "analyzeNetwork", "addLayers", "connectLayers",
           "disconnectLayers", "removeLayers", "replaceLayer", "plot", "StateNotUpdatedWarning",
           "getLearnRateFactor", "setLearnRateFactor", "getL2Factor", "setL2Factor",
           "learn_rate_factors", "with_learnables"]



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


def _assign_names(layers, existing=()):
    """Copies of the layers with unique names (MATLAB's rule for unnamed layers); ``existing``: names in use."""
    layers = [lay._copy() for lay in layers]
    taken = {name: "existing" for name in existing}
    for i, lay in enumerate(layers):
        if lay.Name:
            if lay.Name in taken:
                where = ("a layer of the network" if taken[lay.Name] == "existing"
                         else f"layers {taken[lay.Name]} and {i}")
                raise NetworkError(
                    f"Two layers are named {lay.Name!r} ({where}). Layer names must be unique: rename one "
                    "(Name=...) or leave names empty to get automatic names."
                )
            taken[lay.Name] = i
    counts = {}
    for lay in layers:
        if not lay.Name:
            counts[lay.default_name] = counts.get(lay.default_name, 0) + 1
    next_index = {}
    for i, lay in enumerate(layers):
        if lay.Name:
            continue
        prefix = lay.default_name
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
        return (tuple((lay.Name, type(lay).__name__) for lay in n._layers), tuple(n._lkeys), tuple(n._skeys),
                tuple(n._conns))

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

    def __init__(self, layers=None, Initialize=True):
        if layers is None:  # MATLAB: net = dlnetwork;  an empty network to add layers to
            _setup(self, [], [])
            return
        layers = _assign_names(_flatten_layers(layers))
        if not layers:
            raise NetworkError("dlnetwork needs at least an input layer and one more layer.")
        if Initialize and not layers[0].is_input:
            raise NetworkError(
                f"The first layer must be an input layer (featureInputLayer(numFeatures) or imageInputLayer([h w c])); "
                f"got {layers[0]!r}. The input layer tells the network the size of one observation. (To build a graph "
                "piece by piece use dlnetwork(layers, Initialize=False), addLayers / connectLayers, then initialize.)"
            )
        _setup(self, layers, _chain(layers))
        if Initialize:
            _initialize_in_place(self)
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
        layers, params = self._lcols
        return Table.from_columns(layers, params, list(self._lvals))

    @Learnables.setter
    def Learnables(self, table):
        self._lvals = _checked_values(self, table, self._lkeys, self._lvals, "Learnables")

    @property
    def State(self) -> Table:
        """Table of state parameters (batch norm TrainedMean/TrainedVariance); 0 rows if there are none."""
        layers, params = self._scols
        return Table.from_columns(layers, params, list(self._svals))

    @State.setter
    def State(self, table):
        self._svals = _checked_values(self, table, self._skeys, self._svals, "State")

    @property
    def Initialized(self) -> bool:
        """True after initialization (dlnetwork(layers) or initialize(net)); adding, connecting or removing
        layers gives an uninitialized network."""
        return self._initialized and not any(map(is_, self._lvals, repeat(None))) and \
            not any(map(is_, self._svals, repeat(None)))

    @property
    def InputNames(self):
        """Names of the input layers, in layer order (one array per input in forward / predict)."""
        return [lay.Name for lay in self._layers if lay.is_input]

    @property
    def OutputNames(self):
        """The unconnected outputs ("layer", or "layer/port" for a layer with several outputs), in layer order."""
        return [_port_text(self._layers[i], k, "out") for i, k in _output_ports_default(self)]

    @property
    def Connections(self):
        """The connections as a list of ``Connection(Source, Destination)`` (MATLAB's Connections table)."""
        by = {lay.Name: lay for lay in self._layers}
        return [Connection(_port_text(by[s], sp, "out"), _port_text(by[d], dp, "in"))
                for s, sp, d, dp in self._conns]

    # -- methods (same as the functions) -----------------------------------------------------------
    def forward(self, *X, return_state=False, Outputs=None):
        return forward(self, *X, return_state=return_state, Outputs=Outputs)

    def predict(self, *X, Outputs=None):
        return predict(self, *X, Outputs=Outputs)

    def plot(self, ax=None):
        """Same as ``plot(net)``."""
        return plot(self, ax=ax)

    def summary(self, X=None):
        """Same as ``analyzeNetwork(net, X)``."""
        return analyzeNetwork(self, X)

    # -- display -----------------------------------------------------------------------------------
    def __repr__(self):
        lines = ["dlnetwork with properties:", ""]
        if self._conns == _chain(self._layers):
            lines.append(f"         Layers: [{len(self._layers)}x1 layers] " +
                         " -> ".join(lay.Name for lay in self._layers))
        else:
            lines.append(f"         Layers: [{len(self._layers)}x1 layers] " + ", ".join(lay.Name for lay in self._layers))
            lines.append(f"    Connections: [{len(self._conns)}x2] " +
                         ", ".join(f"{c.Source} -> {c.Destination}" for c in self.Connections))
        lines.append(f"     Learnables: [{len(self._lkeys)}x3 Table]")
        lines.append(f"          State: [{len(self._skeys)}x3 Table]")
        lines.append(f"     InputNames: {self.InputNames}")
        lines.append(f"    OutputNames: {self.OutputNames}")
        lines.append(f"    Initialized: {int(self.Initialized)}")
        lines.append("")
        lines.append("  analyzeNetwork(net) shows the layers, activation sizes and learnable counts.")
        return "\n".join(lines)

    # -- tree protocol -------------------------------------------------------------------------------
    @staticmethod
    def _tree_child_key(aux, i):
        n = aux.net
        layer, param = n._lkeys[i] if i < len(n._lkeys) else n._skeys[i - len(n._lkeys)]
        return f"{layer}/{param}"

    @staticmethod
    def _tree_child_path(aux, i):
        where = "Learnables" if i < len(aux.net._lkeys) else "State"
        return f".{where}{{{dlnetwork._tree_child_key(aux, i)}}}"

    @staticmethod
    def _tree_aux_difference(aux, raux):
        a, b = aux.net, raux.net
        la = [(lay.Name, _kind(lay)) for lay in a._layers]
        lb = [(lay.Name, _kind(lay)) for lay in b._layers]
        if la != lb:
            for i, (x, y) in enumerate(zip(la, lb)):
                if x != y:
                    return f"the networks differ at layer {i}: {x[0]} ({x[1]}) vs {y[0]} ({y[1]})"
            return f"the networks have {len(la)} and {len(lb)} layers"
        for what, ka, kb in (("Learnables", a._lkeys, b._lkeys), ("State", a._skeys, b._skeys)):
            if ka != kb:
                return f"the networks' {what} rows differ"
        if a._conns != b._conns:
            return "the networks' connections differ"
        return "the networks differ"


Connection = namedtuple("Connection", ["Source", "Destination"])


# -------------------------------------------------------------------------------------------------
# graph structure

def _setup(net, layers, conns):
    """Fill a dlnetwork's fields from named layers and connections (values: the layers' presets)."""
    net._layers = tuple(layers)
    net._conns = list(conns)
    net._lkeys = [(lay.Name, p) for lay in layers for p in lay.learnable_names]
    net._skeys = [(lay.Name, p) for lay in layers for p in lay.state_names]
    # the Layer / Parameter columns of net.Learnables / net.State (made once: a network's rows never change)
    net._lcols = (tuple([str(k[0]) for k in net._lkeys]), tuple([str(k[1]) for k in net._lkeys]))
    net._scols = (tuple([str(k[0]) for k in net._skeys]), tuple([str(k[1]) for k in net._skeys]))
    net._lvals = [_preset_value(lay, p) for lay in layers for p in lay.learnable_names]
    net._svals = [_preset_value(lay, p) for lay in layers for p in lay.state_names]
    net._index = _param_index(layers)
    net._family = _Family()
    net._initialized = False
    net._order = None
    net._plan = _PlanCache()


def _preset_value(lay, name):
    v = lay._preset(name)
    if v is None or isinstance(v, dlarray):
        return v
    return wrap(np.asarray(getval(v), dtype=np.float32), "")


def _chain(layers):
    """Connections of a layer array: each layer's first output to the next layer's first input."""
    out = []
    for prev, cur in zip(layers[:-1], layers[1:]):
        if prev.NumOutputs and cur.NumInputs:
            out.append((prev.Name, 0, cur.Name, 0))
    return out


def _port_text(lay, k, kind):
    ports = lay.OutputNames if kind == "out" else lay.InputNames
    return lay.Name if len(ports) == 1 else f"{lay.Name}/{ports[k]}"


def _find_layer(net, name, what):
    for i, lay in enumerate(net._layers):
        if lay.Name == name:
            return i, lay
    known = ", ".join(lay.Name for lay in net._layers) or "(none yet: use addLayers first)"
    raise NetworkError(f"{what}: the network has no layer named {name!r}. Layers: {known}.")


def _parse_port(net, spec, kind, what):
    """'layer' or 'layer/port' -> (layer index, port index); kind 'out' (source) or 'in' (destination)."""
    if not isinstance(spec, str):
        raise NetworkError(f"{what}: layer and port names are strings such as 'fc' or 'add/in2'; got {spec!r}.")
    name, slash, port = spec.partition("/")
    i, lay = _find_layer(net, name, what)
    ports = list(lay.OutputNames if kind == "out" else lay.InputNames)
    word = "output" if kind == "out" else "input"
    if not ports:
        raise NetworkError(
            f"{what}: layer {name!r} has no {word}s" + (
                " (it is an input layer: the data comes in there; connect FROM it)." if kind == "in" else ".")
        )
    if not slash:
        if len(ports) > 1:
            raise NetworkError(
                f"{what}: layer {name!r} has {len(ports)} {word}s ({', '.join(ports)}); name the one you mean, "
                f"e.g. '{name}/{ports[0]}'."
            )
        return i, 0
    if port not in ports:
        raise NetworkError(
            f"{what}: layer {name!r} has no {word} named {port!r}; its {word}s are {', '.join(ports)} "
            f"(e.g. '{name}/{ports[-1]}')."
        )
    return i, ports.index(port)


def _check_net(net, fname):
    if not isinstance(net, dlnetwork):
        raise NetworkError(f"{fname} expects a dlnetwork as its first argument; got {type(net).__name__}.")


def _derive(net, layers, conns, forget=()):
    """A new, uninitialized network with these layers and connections, keeping the values of ``net``
    (except those of the layers named in ``forget``)."""
    new = object.__new__(dlnetwork)
    layers = [lay._copy() for lay in layers]
    _setup(new, layers, conns)
    old = {k: v for k, v in zip(net._lkeys, net._lvals) if k[0] not in forget}
    old.update((k, v) for k, v in zip(net._skeys, net._svals) if k[0] not in forget)
    new._lvals = [old.get(k) if old.get(k) is not None else v for k, v in zip(new._lkeys, new._lvals)]
    new._svals = [old.get(k) if old.get(k) is not None else v for k, v in zip(new._skeys, new._svals)]
    new._family.record(new._lvals, new._svals)
    return new


def addLayers(net, layers):
    """Add layers to a network (MATLAB ``net = addLayers(net, layers)``); returns a new, uninitialized network.

    A list of layers is connected in order among itself (not to the layers already there: use
    :func:`connectLayers`). Unnamed layers get automatic names that are not used yet; a name already in
    the network is an error.
    """
    _check_net(net, "addLayers")
    new_layers = _assign_names(_flatten_layers(layers), existing=[lay.Name for lay in net._layers])
    return _derive(net, list(net._layers) + new_layers, list(net._conns) + _chain(new_layers))


def connectLayers(net, s, d):
    """Connect output ``s`` to input ``d`` (MATLAB ``net = connectLayers(net, s, d)``).

    ``s``: "layer" or "layer/out2"; ``d``: "layer" (one input) or "layer/in2" (e.g. additionLayer's
    in1, in2, ...). An input takes one connection; an output may feed several layers. A connection that
    would close a cycle is refused. Returns a new, uninitialized network.
    """
    _check_net(net, "connectLayers")
    si, sp = _parse_port(net, s, "out", "connectLayers (source)")
    di, dp = _parse_port(net, d, "in", "connectLayers (destination)")
    layers = net._layers
    src, dst = layers[si].Name, layers[di].Name
    for c in net._conns:
        if (c[2], c[3]) == (dst, dp):
            other = _port_text(layers[_find_layer(net, c[0], "")[0]], c[1], "out")
            raise NetworkError(
                f"connectLayers: input {_port_text(layers[di], dp, 'in')!r} is already connected to {other!r}. An input "
                f"takes one connection: disconnectLayers(net, {other!r}, {_port_text(layers[di], dp, 'in')!r}) first, or "
                "add an additionLayer / concatenationLayer to combine several outputs."
            )
    path = _path(net._conns, dst, src)
    if path is not None:
        raise NetworkError(
            f"connectLayers: connecting {src!r} to {dst!r} would make a cycle ({' -> '.join(path + [dst])}). "
            "A dlnetwork is a directed acyclic graph: data flows from the input layers to the outputs."
        )
    return _derive(net, layers, list(net._conns) + [(src, sp, dst, dp)])


def _path(conns, a, b):
    """A list of layer names leading from a to b along the connections, or None."""
    nxt = {}
    for s, _, d, _ in conns:
        nxt.setdefault(s, []).append(d)
    stack, seen = [(a, [a])], {a}
    while stack:
        node, path = stack.pop()
        if node == b:
            return path
        for m in nxt.get(node, ()):
            if m not in seen:
                seen.add(m)
                stack.append((m, path + [m]))
    return None


def disconnectLayers(net, s, d):
    """Remove the connection from ``s`` to ``d`` (MATLAB ``net = disconnectLayers(net, s, d)``)."""
    _check_net(net, "disconnectLayers")
    si, sp = _parse_port(net, s, "out", "disconnectLayers (source)")
    di, dp = _parse_port(net, d, "in", "disconnectLayers (destination)")
    key = (net._layers[si].Name, sp, net._layers[di].Name, dp)
    if key not in net._conns:
        raise NetworkError(f"disconnectLayers: {s!r} is not connected to {d!r}. Connections: "
                           + (", ".join(f"{c.Source} -> {c.Destination}" for c in net.Connections) or "(none)") + ".")
    return _derive(net, net._layers, [c for c in net._conns if c != key])


def removeLayers(net, layerNames):
    """Remove layers and their connections (MATLAB ``net = removeLayers(net, layerNames)``)."""
    _check_net(net, "removeLayers")
    names = [layerNames] if isinstance(layerNames, str) else [str(n) for n in layerNames]
    for n in names:
        _find_layer(net, n, "removeLayers")
    gone = set(names)
    return _derive(net, [lay for lay in net._layers if lay.Name not in gone],
                   [c for c in net._conns if c[0] not in gone and c[2] not in gone])


def replaceLayer(net, layerName, larray, ReconnectBy="name"):
    """Replace a layer by a layer (array) (MATLAB ``net = replaceLayer(net, layerName, larray)``).

    The layers of ``larray`` are connected in order; the connections into the old layer go to the first
    new layer, those out of it leave from the last one, matched by port name (``ReconnectBy="name"``,
    default) or by port position (``"order"``). The new layers start without values (unless they carry
    presets); the rest of the network keeps its values. Returns a new, uninitialized network.
    """
    _check_net(net, "replaceLayer")
    if ReconnectBy not in ("name", "order"):
        raise NetworkError(f"replaceLayer: ReconnectBy must be 'name' or 'order'; got {ReconnectBy!r}.")
    i, old = _find_layer(net, layerName, "replaceLayer")
    others = [lay.Name for lay in net._layers if lay.Name != layerName]
    new_layers = _assign_names(_flatten_layers(larray), existing=others)
    first, last = new_layers[0], new_layers[-1]

    def port(k, old_ports, new_layer, kind):
        new_ports = new_layer.InputNames if kind == "in" else new_layer.OutputNames
        if ReconnectBy == "order":
            if k < len(new_ports):
                return k
        elif old_ports[k] in new_ports:
            return new_ports.index(old_ports[k])
        word = "input" if kind == "in" else "output"
        raise NetworkError(
            f"replaceLayer: layer {layerName!r}'s {word} {old_ports[k]!r} is connected, but the new layer "
            f"{new_layer.Name!r} has the {word}s {', '.join(new_ports) or '(none)'}. Use ReconnectBy='order' or a "
            f"layer with a matching {word}."
        )

    conns = []
    for s_, sp, d, dp in net._conns:
        if d == layerName:
            conns.append((s_, sp, first.Name, port(dp, old.InputNames, first, "in")))
        elif s_ == layerName:
            conns.append((last.Name, port(sp, old.OutputNames, last, "out"), d, dp))
        else:
            conns.append((s_, sp, d, dp))
    layers = list(net._layers[:i]) + new_layers + list(net._layers[i + 1:])
    return _derive(net, layers, conns + _chain(new_layers), forget={layerName})


def _incoming(net):
    """Per layer index: the (source layer index, output port) of each of its inputs (None: unconnected)."""
    pos = {lay.Name: i for i, lay in enumerate(net._layers)}
    inc = [[None] * lay.NumInputs for lay in net._layers]
    for s, sp, d, dp in net._conns:
        inc[pos[d]][dp] = (pos[s], sp)
    return inc


def _validate_graph(net):
    """Check that the graph can run; return (topological order, incoming). Errors name the fix."""
    layers = net._layers
    if not any(lay.is_input for lay in layers):
        raise NetworkError(
            "The network has no input layer. Add one (featureInputLayer(numFeatures) or imageInputLayer([h w c])) "
            "and connect it: it tells the network the size of one observation."
        )
    inc = _incoming(net)
    missing = [_port_text(lay, k, "in") for lay, ins in zip(layers, inc) for k, src in enumerate(ins) if src is None]
    if missing:
        first = missing[0]
        raise NetworkError(
            f"Unconnected input(s): {', '.join(missing)}. Every input of a layer needs a connection: e.g. "
            f"net = connectLayers(net, 'someLayer', {first!r}); or remove the layer with removeLayers."
        )
    # Kahn's algorithm; ties in layer order
    indeg = [len(ins) for ins in inc]
    users = [[] for _ in layers]
    for i, ins in enumerate(inc):
        for src, _ in ins:
            users[src].append(i)
    ready = [i for i, d in enumerate(indeg) if d == 0]
    order = []
    import heapq

    heapq.heapify(ready)
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            indeg[u] -= 1
            if indeg[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(layers):  # pragma: no cover - connectLayers refuses cycles
        stuck = [layers[i].Name for i, d in enumerate(indeg) if d > 0]
        raise NetworkError(f"The network has a cycle through {', '.join(stuck)}; remove a connection.")
    for lay in layers:
        if lay.is_input:
            lay._validate_normalization()
    return order, inc


def _output_ports_default(net):
    used = {(s, sp) for s, sp, _, _ in net._conns}
    return [(i, k) for i, lay in enumerate(net._layers) for k in range(lay.NumOutputs)
            if (lay.Name, k) not in used]


def _param_index(layers):
    """Per layer: {parameter name: ("L" or "S", row index)}."""
    out = []
    li = si = 0
    for lay in layers:
        d = {}
        for p in lay.learnable_names:
            d[p] = ("L", li)
            li += 1
        for p in lay.state_names:
            d[p] = ("S", si)
            si += 1
        out.append(d)
    return out


def _rebuild(net, lvals, svals):
    return _rebuild_owned(net, list(lvals), list(svals))


def _rebuild_owned(net, lvals, svals):
    """Like ``_rebuild``, taking the lists as they are (a network's value lists are never changed in place)."""
    new = object.__new__(dlnetwork)
    fields = net.__dict__.copy()
    fields["_lvals"] = lvals
    fields["_svals"] = svals
    new.__dict__ = fields
    return new


def _flatten_net(net):
    return [*net._lvals, *net._svals], _NetAux(net)


def _unflatten_net(aux, children):
    n = aux.net
    k = len(n._lkeys)
    if type(children) is not list:
        children = list(children)
    return _rebuild_owned(n, children[:k], children[k:])


tree.register(dlnetwork, _flatten_net, _unflatten_net, child_path=dlnetwork._tree_child_path,
              child_key=dlnetwork._tree_child_key, explain_difference=dlnetwork._tree_aux_difference)


def _kind(lay):
    """A layer's kind in messages: MATLAB's constructor name (a custom layer: its class name)."""
    return lay.constructor or type(lay).__name__


def _shape_of(v):
    return tuple(np.shape(value_of(v)))


def _same_sizes(values, current) -> bool:
    """True if every new value and its current one are dlarrays of ndarrays of one size (the rows an update
    returns): the assignment then needs no conversion and no further check."""
    ndarray = np.ndarray
    for new, old in zip(values, current):
        if type(new) is not dlarray or type(old) is not dlarray:
            return False
    for a, b in zip(datas_of(values), datas_of(current)):
        if type(a) is not ndarray or type(b) is not ndarray or a.shape != b.shape:
            return False
    return True


def _checked_values(net, table, keys, current, what):
    """Validate a Table assigned to net.<what>; return its values as a list."""
    if not isinstance(table, Table):
        raise NetworkError(
            f"net.{what} must be assigned a Table with the same rows as net.{what} (the one forward / dlgradient / "
            f"the updaters return); got {type(table).__name__}."
            + (" (forward(net, X) without return_state=True returns only the output: use "
               "Y, state = forward(net, X, return_state=True).)" if what == "State" and isinstance(table, dlarray) else "")
        )
    if not table.has_rows(*(net._lcols if what == "Learnables" else net._scols)) and table.keys() != list(keys):
        tkeys = table.keys()
        detail = Table._tree_aux_difference(
            (tuple(k[0] for k in keys), tuple(k[1] for k in keys)),
            (tuple(k[0] for k in tkeys), tuple(k[1] for k in tkeys)))
        raise NetworkError(
            f"The table assigned to net.{what} does not match this network: {detail}. Assign the table that belongs "
            f"to this network (e.g. the state returned by forward on this very network) with the rows unchanged."
        )
    values = list(table.Value)
    if _same_sizes(values, current):  # the common case: nothing to convert or check further
        return values
    for i, ((layer, param), new, old) in enumerate(zip(keys, values, current)):
        if new is None:
            continue
        if type(new) is not dlarray:
            new = wrap(new if isbox(new) else np.asarray(new), "")
            values[i] = new
        if type(old) is dlarray and data_of(new).shape == data_of(old).shape:  # same size (traced boxes too)
            continue
        if old is not None and _shape_of(new) != _shape_of(old) and not _batch_sized_state(net, what, layer, param,
                                                                                     new, old):
            raise NetworkError(
                f"net.{what}: the value for {layer}/{param} has size {size_text(_shape_of(new))} but the network "
                f"needs {size_text(_shape_of(old))}."
            )
    return values


def _batch_sized_state(net, what, layer, param, new, old):
    """A recurrent layer's HiddenState / CellState may hold one column per observation (H x B)."""
    if what != "State" or param not in ("HiddenState", "CellState"):
        return False
    a, b = _shape_of(new), _shape_of(old)
    return len(a) == 2 and len(b) == 2 and a[0] == b[0]


def resetState(net):
    """Reset the state of the recurrent layers (MATLAB ``net = resetState(net)``).

    HiddenState / CellState go back to their initial values (the layer's preset, else zeros H x 1);
    other state (batch-normalization statistics) is kept. Returns a new network.
    """
    if not isinstance(net, dlnetwork):
        raise NetworkError(f"resetState expects a dlnetwork; got {type(net).__name__}.")
    svals = list(net._svals)
    for i, lay in enumerate(net._layers):
        for name, (kind, j) in net._index[i].items():
            if kind == "S" and name in ("HiddenState", "CellState") and svals[j] is not None:
                preset = lay._preset(name)
                H = _shape_of(svals[j])[0]
                svals[j] = preset if preset is not None else wrap(np.zeros((H, 1), np.float32), "")
    return _rebuild(net, list(net._lvals), svals)


# -------------------------------------------------------------------------------------------------
# size propagation and initialization

def _example_input(inp, batch=1):
    return wrap(np.zeros(tuple(inp.InputSize) + (batch,), np.float32), inp.input_format + "B")


def _per_obs(Y):
    fmt = fmt_of(Y)
    b = fmt.index("B")
    return tuple(s for i, s in enumerate(Y.shape) if i != b), fmt.replace("B", "")


def _fill(net, make):
    """Propagate example inputs through the graph, creating missing values with ``make``.

    Records per layer (in layer order) (input size, input format, output size, output format) in
    the returned list (lists of sizes / formats for a layer with several inputs); sets ``net._order``.
    """
    order, inc = _validate_graph(net)
    layers = net._layers
    lvals, svals = list(net._lvals), list(net._svals)
    sizes = [None] * len(layers)
    acts = {}
    for i in order:
        lay = layers[i]
        if lay.is_input:
            X = _example_input(lay)
            size, fmt = tuple(lay.InputSize), lay.input_format
            shapes = {}
        else:
            ins = [acts[src] for src in inc[i]]
            per = [_per_obs(x) for x in ins]
            if lay.NumInputs == 1:
                X, (size, fmt) = ins[0], per[0]
            else:
                X, size, fmt = ins, [q[0] for q in per], [q[1] for q in per]
            lay._check_input(size, fmt)
            current = {name: (lvals if kind == "L" else svals)[j] for name, (kind, j) in net._index[i].items()}
            try:
                shapes = lay._shapes_given(size, fmt, current)
            except NetworkError:
                raise
            except Exception as err:
                raise NetworkError(
                    f"Layer '{lay.Name}' ({_kind(lay)}) cannot take an input of size {_sizes_text(size)} ({fmt}): "
                    f"{err}"
                ) from err
        p = {}
        for name, (kind, j) in net._index[i].items():
            vals = lvals if kind == "L" else svals
            shape = shapes[name]
            if vals[j] is None:
                vals[j] = make(lay, name, shape)
            elif kind == "S" and _batch_sized_state(net, "State", lay.Name, name, vals[j], np.zeros(shape)):
                p[name] = wrap(np.zeros(shape, np.float32), "")  # the example input has 1 observation
                continue
            elif _shape_of(vals[j]) != tuple(shape):
                raise NetworkError(
                    f"Layer '{lay.Name}': {name} has size {size_text(_shape_of(vals[j]))}, but with an input of size "
                    f"{_sizes_text(size)} ({fmt}) it must be {size_text(shape)}."
                )
            p[name] = vals[j]
        if lay.NumInputs == 1:
            _set_sizes(lay, size, fmt)
        try:
            Y, _ = lay._forward(X, p, False)
        except NetworkError:
            raise
        except Exception as err:  # an op rejected the sizes: say which layer and which input
            raise NetworkError(
                f"Layer '{lay.Name}' ({_kind(lay)}) cannot take an input of size {_sizes_text(size)} ({fmt}): "
                f"{err}"
            ) from err
        outs = (Y,) if lay.NumOutputs == 1 else tuple(Y)
        for k, y in enumerate(outs):
            acts[(i, k)] = y
        out_size, out_fmt = _per_obs(outs[0])
        sizes[i] = (size, fmt, out_size, out_fmt)
    net._lvals, net._svals = lvals, svals
    net._order = order
    net._inc = inc
    net._plan = _PlanCache()
    return sizes


def _sizes_text(size):
    if size and isinstance(size[0], (tuple, list)):
        return " and ".join(size_text(s) for s in size)
    return size_text(size)


def _set_sizes(lay, size, fmt):
    if hasattr(lay, "InputSize") and lay.InputSize == "auto":
        lay.InputSize = int(np.prod(size))
    if getattr(lay, "NumChannels", None) == "auto" and "C" in fmt:
        lay.NumChannels = int(size[fmt.index("C")])


def _initialize_in_place(net):
    _fill(net, lambda lay, name, shape: wrap(lay._init_value(name, shape), ""))
    net._initialized = True


def initialize(net):
    """Initialize the unset learnables and state of ``net`` (MATLAB ``net = initialize(net)``).

    Values already set (presets such as ``fullyConnectedLayer(10, Weights=W)``, values of a network
    that is already initialized, or of the layers of a network that addLayers / connectLayers changed)
    are kept; the others are created from the input layers' sizes with each layer's initializers.
    The graph is checked first (every input connected, an input layer, no cycle). Returns a new network.
    """
    if not isinstance(net, dlnetwork):
        raise NetworkError(f"initialize expects a dlnetwork; got {type(net).__name__}.")
    new = _rebuild(net, net._lvals, net._svals)
    new._layers = tuple(lay._copy() for lay in net._layers)
    new._family = _Family()
    _initialize_in_place(new)
    new._family.record(new._lvals, new._svals)
    return new


def with_values(net, learnables, state, initialized=True):
    """A new network like ``net`` holding the given Learnables and State values (lists in row order).

    ``None`` leaves a value unset. When every value is set (and ``initialized``), the sizes are checked by
    propagating example inputs (a value that does not fit raises NetworkError) and the network is
    initialized; it counts as freshly created for ``predict``'s forgotten-state warning. Used by ``load``.
    (No MATLAB counterpart.)
    """
    if len(learnables) != len(net._lkeys) or len(state) != len(net._skeys):
        raise NetworkError(f"with_values: the network has {len(net._lkeys)} Learnables and {len(net._skeys)} State "
                           f"rows; got {len(learnables)} and {len(state)} values.")
    new = _rebuild(net, learnables, state)
    new._layers = tuple(lay._copy() for lay in net._layers)
    if initialized and all(v is not None for v in new._lvals + new._svals):
        def refuse(lay, name, shape):  # pragma: no cover - every value is set
            raise NetworkError(f"{lay.Name}/{name} is missing")

        _fill(new, refuse)
        new._initialized = True
    new._family = _Family()
    new._family.record(new._lvals, new._svals)
    return new


def assemble(layers, connections=None, learnables=None, state=None, initialized=True):
    """A network from the parts ``save`` stores: layers, connections ``(source, out port, destination, in
    port)`` (None: the layers in order), Learnables and State values in row order (None = unset).

    Raises NetworkError for connections that name unknown layers or ports, or values that do not fit.
    Used by ``load``. (No MATLAB counterpart.)
    """
    net = dlnetwork(layers, Initialize=False)
    if connections is not None:
        names = {lay.Name: lay for lay in net._layers}
        for c in connections:
            ok = (isinstance(c, (list, tuple)) and len(c) == 4 and c[0] in names and c[2] in names
                  and isinstance(c[1], int) and isinstance(c[3], int)
                  and 0 <= c[1] < names[c[0]].NumOutputs and 0 <= c[3] < names[c[2]].NumInputs)
            if not ok:
                raise NetworkError(f"assemble: connection {c!r} does not name an output and an input of the layers.")
        net = _derive(net, list(net._layers), [tuple(c) for c in connections])
    if learnables is None and state is None:
        return net
    return with_values(net, learnables, state, initialized)


def unwatched(net):
    """A network with the same layers and values whose ``forward`` calls are not counted for ``net``.

    For tools (gradient check, activation inspection): ``predict``'s warning "forward ran but the State
    was never stored" must only count the learner's own training steps. (No MATLAB counterpart.)
    """
    if not isinstance(net, dlnetwork):
        raise NetworkError(f"unwatched expects a dlnetwork; got {type(net).__name__}.")
    new = _rebuild(net, net._lvals, net._svals)
    new._family = _Family()
    new._family.record(new._lvals, new._svals)
    return new


# -------------------------------------------------------------------------------------------------
# learn-rate and L2 factors (MATLAB get/setLearnRateFactor, get/setL2Factor); the updaters' network API

def learn_rate_factors(net) -> list:
    """The learn-rate factor of every ``net.Learnables`` row, in row order (floats).

    What ``adamupdate(net, ...)`` / ``rmspropupdate`` / ``sgdmupdate`` multiply the learning rate by, row by
    row (MATLAB: ``getLearnRateFactor`` of each row). (No MATLAB counterpart as one call.)
    """
    _check_net(net, "learn_rate_factors")
    cache = net._plan  # a network's layers are its own copies, never changed in place: computed once per layers
    if cache.factors_for is not net._layers:
        by_name = {lay.Name: lay for lay in net._layers}
        cache.factors = tuple(by_name[layer].factor(param, "LearnRateFactor") for layer, param in net._lkeys)
        cache.factors_for = net._layers
    return list(cache.factors)


def architecture_of(net):
    """An object shared by ``net`` and every network derived from it by an update, ``net.State = ...`` or
    ``with_learnables``, and by no other network: its layers and connections. ``dlaccelerate`` keys a network
    by it (plus the sizes and dtypes of its values). (No MATLAB counterpart.)"""
    return net._layers, net._conns


def with_learnables(net, learnables):
    """A NEW network like ``net`` (same layers, same State, same training history) whose Learnables are
    the Table ``learnables`` (its rows must be those of ``net.Learnables``; sizes are checked).

    ``net`` is not changed. What the updaters return for the network syntax; equivalent to
    ``new = copy(net); new.Learnables = learnables``. (No MATLAB counterpart.)
    """
    if type(net) is dlnetwork and type(learnables) is Table and learnables.has_rows(*net._lcols):
        values = list(learnables.Value)
        if _same_sizes(values, net._lvals):
            return _rebuild_owned(net, values, net._svals)
    _check_net(net, "with_learnables")
    values = _checked_values(net, learnables, net._lkeys, net._lvals, "Learnables")  # a new list
    return _rebuild_owned(net, values, net._svals)


def _factor_target(fname, args, setter):
    """Split ``(net, layerName, parameterName)`` / ``(net, "layer/param")`` / ``(layer, parameterName)`` (then
    ``factor`` for a setter) -> (net or None, layer index or None, layer, parameter name, factor or None)."""
    f = ", factor" if setter else ""
    target, factor = (args[:-1], args[-1]) if setter and args else (args, None)
    layer_form = bool(target) and isinstance(target[0], Layer)
    if len(target) not in ((2,) if layer_form else (2, 3)):
        raise NetworkError(f"{fname} takes (net, layerName, parameterName{f}), (net, 'layerName/parameterName'{f}) "
                           f"or (layer, parameterName{f}); got {len(args)} argument(s).")
    first = target[0]
    if layer_form:
        net, index, lay, param = None, None, first, target[1]
    elif isinstance(first, dlnetwork):
        net = first
        if len(target) == 2:
            path = target[1]
            if not isinstance(path, str) or path.count("/") != 1:
                _v.fail(fname, "parameterPath", "a string 'layerName/parameterName', e.g. 'fc/Weights'", path)
            name, param = path.split("/")
        else:
            name, param = target[1], target[2]
        if not isinstance(name, str):
            _v.fail(fname, "layerName", "a string (the name of a layer of the network)", name)
        names = [lay.Name for lay in net._layers]
        if name not in names:
            raise NetworkError(f"{fname}: the network has no layer named {name!r}; its layers are {names}.")
        index = names.index(name)
        lay = net._layers[index]
    else:
        _v.fail(fname, "the first argument", "a dlnetwork or a layer", first)
    if not isinstance(param, str):
        _v.fail(fname, "parameterName", "a string (the name of a learnable, e.g. 'Weights')", param)
    if param not in lay.learnable_names:
        raise NetworkError(f"{fname}: layer '{lay.Name}' has no learnable parameter {param!r}; its learnables are "
                           f"{list(lay.learnable_names)}.")
    if setter:
        factor = _v.real(fname, "factor", factor, low=0.0)
    return net, index, lay, param, factor


def _get_factor(kind, fname, args):
    _, _, lay, param, _ = _factor_target(fname, args, setter=False)
    return lay.factor(param, kind)


def _set_factor(kind, fname, args):
    net, index, lay, param, factor = _factor_target(fname, args, setter=True)
    new_layer = lay._copy()
    attrs = (param + kind, param[:-1] + kind)  # MATLAB: BiasLearnRateFactor, but WeightLearnRateFactor for Weights
    setattr(new_layer, next((a for a in attrs if getattr(lay, a, None) is not None), attrs[0]), factor)
    if net is None:
        return new_layer
    new = _rebuild(net, net._lvals, net._svals)
    new._layers = net._layers[:index] + (new_layer,) + net._layers[index + 1:]
    new._plan = _PlanCache()  # the cached plan holds the layer objects
    return new


def getLearnRateFactor(*args) -> float:
    """Learn-rate factor of a learnable (MATLAB ``getLearnRateFactor``).

    ``factor = getLearnRateFactor(net, layerName, parameterName)``, ``getLearnRateFactor(net,
    "layerName/parameterName")`` or ``getLearnRateFactor(layer, parameterName)``. The updaters' network
    syntax uses ``learnRate * factor`` for that learnable (0 freezes it).
    """
    return _get_factor("LearnRateFactor", "getLearnRateFactor", args)


def setLearnRateFactor(*args):
    """Set the learn-rate factor of a learnable (MATLAB ``setLearnRateFactor``); returns a NEW network or layer.

    ``net = setLearnRateFactor(net, layerName, parameterName, factor)``, ``setLearnRateFactor(net,
    "layerName/parameterName", factor)`` or ``layer = setLearnRateFactor(layer, parameterName, factor)``;
    ``factor`` >= 0. The learnable and state values are kept; the original is not changed.
    """
    return _set_factor("LearnRateFactor", "setLearnRateFactor", args)


def getL2Factor(*args) -> float:
    """L2 regularization factor of a learnable (MATLAB ``getL2Factor``).

    ``factor = getL2Factor(net, layerName, parameterName)``, ``getL2Factor(net, "layerName/parameterName")``
    or ``getL2Factor(layer, parameterName)``. No updater applies it (nor do MATLAB's): in a custom loop add
    ``l2 * factor * w`` to the gradient yourself (dlteach.layers' docstring shows the ``dlupdate`` recipe).
    """
    return _get_factor("L2Factor", "getL2Factor", args)


def setL2Factor(*args):
    """Set the L2 regularization factor of a learnable (MATLAB ``setL2Factor``); returns a NEW network or layer.

    ``net = setL2Factor(net, layerName, parameterName, factor)``, ``setL2Factor(net,
    "layerName/parameterName", factor)`` or ``layer = setL2Factor(layer, parameterName, factor)``; ``factor`` >= 0.
    """
    return _set_factor("L2Factor", "setL2Factor", args)


# -------------------------------------------------------------------------------------------------
# forward / predict

def _shape_hint(inp, shape):
    """Suggest a format when the data looks like another framework's layout."""
    want = tuple(inp.InputSize)
    if inp.input_format == "C" and len(shape) == 2 and shape[1] == want[0]:
        return (" The data looks like observations x features (one observation per row): MATLAB's layout is "
                "features x observations. Use dlarray(X, 'BC') (or X.T).")
    if inp.input_format == "SSC" and len(shape) == 4:
        if tuple(shape[1:]) == want:
            return " The data looks like N x H x W x C (Keras layout): use dlarray(X, 'BSSC')."
        if (shape[1], shape[2], shape[3]) == (want[2], want[0], want[1]):
            return " The data looks like N x C x H x W (PyTorch layout): use dlarray(X, 'BCSS')."
    if inp.input_format == "SSC" and len(shape) == 3 and want[2] == 1 and tuple(shape[:2]) == want[:2]:
        return None  # h x w x N with one channel: handled by the caller
    return ""


def _prepare_input(inp, X):
    if hasattr(inp, "_prepare_data"):  # an input layer with its own layout (sequenceInputLayer: "CBT")
        return inp._prepare_data(X)
    fmt = inp.input_format + "B"
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


def _output_ports(net, Outputs):
    """[(layer index, port)], single: the ports to return."""
    if Outputs is None:
        ports = _output_ports_default(net)
        return ports, len(ports) == 1
    single = isinstance(Outputs, str)
    names = [Outputs] if single else [str(n) for n in Outputs]
    return [_parse_port(net, n, "out", "Outputs") for n in names], single


def _run(net, Xs, training, Outputs, fname):
    if not isinstance(net, dlnetwork):
        _v.fail(fname, "net", "a dlnetwork (the first argument of " + fname + "(net, X))", net, cls=NetworkError)
    arrays = True  # every X a dlarray or an ndarray (so none is a bool)
    for X in Xs:
        if type(X) is not dlarray and type(X) is not np.ndarray:
            arrays = False
    if not arrays:
        for k, X in enumerate(Xs):
            if type(X) is not dlarray and type(X) is not np.ndarray:
                _v.array(fname, "X" if len(Xs) == 1 else f"input {k + 1} (X{k + 1})", X, "fiub", cls=NetworkError,
                         expected="a numeric array (a dlarray or NumPy array)")
    if not (net._initialized and not any(map(is_, net._lvals, repeat(None)))
            and not (net._svals and any(map(is_, net._svals, repeat(None))))):  # not net.Initialized
        raise NetworkError(
            f"{fname}: the network is not initialized (its learnables are empty, or layers were added / connected / "
            "removed since). Use net = initialize(net) first, or create it with dlnetwork(layers) (Initialize=True "
            "is the default)."
        )
    cache = net._plan
    if cache.layers is net._layers and cache.conns is net._conns and cache.order is net._order:
        plan = cache.plan
    else:
        plan = _make_plan(net)
    steps, inputs, default_ports, chain = plan
    if len(Xs) != len(inputs) or not arrays and any(isinstance(x, (bool, np.bool_)) for x in Xs):
        _wrong_inputs(net, Xs, inputs, fname)
    if chain is not None and Outputs is None:  # e.g. an MLP: no activations to keep, no state
        (inp, spec, f), calls = chain
        X = Xs[0]
        if type(X) is not dlarray or fmt_of(X) != spec[0] or getattr(value_of(X), "shape", ())[:-1] != spec[1]:
            X = _prepare_input(inp, X)
        if f is not _identity:
            X = f(X)
        lvals = net._lvals
        for f, a, b in calls:
            if b >= 0:
                X = f(X, lvals[a], lvals[b])
            elif a >= 0:
                X = f(X, lvals[a])
            else:
                X = f(X)
        return X, net._svals  # the caller copies it for a State table
    if Outputs is None:
        ports, single = default_ports, len(default_ports) == 1
    else:
        ports, single = _output_ports(net, Outputs)
    lvals, svals0 = net._lvals, net._svals
    svals = list(svals0)
    acts = {}
    feed = iter(Xs)
    for i, lay, params, srcs, one_in, n_out, fn, args, spec in steps:
        if srcs is None:
            X = next(feed)
            # the common case: a dlarray in the input layer's format, of its size per observation ("B" is last)
            if spec is None or type(X) is not dlarray or fmt_of(X) != spec[0] \
                    or getattr(value_of(X), "shape", ())[:-1] != spec[1]:
                X = _prepare_input(lay, X)
        elif one_in:
            X = acts[srcs[0]]
        else:
            X = [acts[src] for src in srcs]
        if fn is not None:  # Y = fn(X, *learnables), no state (the layer's forward_function)
            acts[(i, 0)] = fn(X, *args(lvals)) if args is not None else fn(X)
            continue
        p = {name: (lvals if kind == "L" else svals0)[j] for name, kind, j in params}
        H, new_state = lay._forward(X, p, training)
        if new_state:
            index = net._index[i]
            for name, v in new_state.items():
                svals[index[name][1]] = v
        if n_out == 1:
            acts[(i, 0)] = H
        else:
            for k, h in enumerate(H):
                acts[(i, k)] = h
    outs = acts[ports[0]] if single else tuple(acts[q] for q in ports)
    return outs, svals


class _PlanCache:
    """The execution plan of a network, shared (through ``_rebuild``'s copy of the fields) by every network
    derived from it by an update, dlfeval's tracing or ``net.State = ...``, so it is made once, not once per
    training step. Valid while the network's layers, connections and order are the objects it was made for.
    Also holds the learn-rate factors (the updaters read them on every call)."""

    __slots__ = ("layers", "conns", "order", "plan", "factors_for", "factors")

    def __init__(self):
        self.layers = self.conns = self.order = self.plan = None
        self.factors_for = self.factors = None  # learn_rate_factors, valid for the layers tuple factors_for


def _make_plan(net):
    """The execution plan of a network (cached in ``net._plan``; a network's graph never changes in place)."""
    if net._order is None:
        net._order, net._inc = _validate_graph(net)
    layers = net._layers
    steps = []
    for i in net._order:
        lay = layers[i]
        params = tuple((name, kind, j) for name, (kind, j) in net._index[i].items())
        srcs = None if lay.is_input else tuple(net._inc[i])
        fn, args = _direct_call(lay, net._index[i])
        spec = _input_spec(lay) if lay.is_input else None
        steps.append((i, lay, params, srcs, lay.NumInputs == 1, lay.NumOutputs, fn, args, spec))
    # inputs are fed in layer order (net.InputNames), whatever the topological order
    inputs = [i for i, lay in enumerate(layers) if lay.is_input]
    rank = {i: k for k, i in enumerate(inputs)}
    in_order = [s[0] for s in steps if s[3] is None]
    if in_order != inputs:  # reorder the input steps' feed to follow InputNames
        steps = _feed_in_layer_order(steps, rank)
    default_ports = _output_ports_default(net)
    plan = (tuple(steps), inputs, default_ports, _chain_plan(net, steps, default_ports))
    cache = net._plan
    cache.layers, cache.conns, cache.order, cache.plan = net._layers, net._conns, net._order, plan
    return plan


def _chain_plan(net, steps, default_ports):
    """For a chain of layers that the network calls directly (one input layer, each layer fed by the one
    before, at most two learnables each, the last one's output the network's output):
    ((input layer, its spec, its f), ((f, row of learnable 1 or -1, row of learnable 2 or -1), ...)).
    None for anything else."""
    first = steps[0]
    if first[3] is not None or first[6] is None or first[8] is None:
        return None
    calls = []
    for prev, step in zip(steps, steps[1:]):
        i, lay, _params, srcs, one_in, n_out, fn, _args, _spec = step
        if fn is None or not one_in or n_out != 1 or srcs != ((prev[0], 0),):
            return None
        rows = [net._index[i][name][1] for name in lay.forward_function()[1]]
        if len(rows) > 2:
            return None
        calls.append((fn, *rows, *[-1] * (2 - len(rows))))
    if default_ports != [(steps[-1][0], 0)]:
        return None
    return (first[1], first[8], first[6]), tuple(calls)


def _direct_call(lay, index):
    """(f, args) when the layer's forward pass is ``f(X, *args(net._lvals))`` (its ``forward_function``;
    ``args`` None: ``f(X)``; f None in forward_function: the identity), else (None, None)."""
    direct = lay.forward_function()
    if direct is None or lay.NumOutputs != 1 or lay.NumInputs > 1:
        return None, None
    f, names = direct
    if set(names) != set(index) or any(index[name][0] != "L" for name in names):
        return None, None
    if f is None:
        f = _identity
    rows = [index[name][1] for name in names]
    if not rows:
        return f, None
    if len(rows) == 1:
        return f, lambda vals, j=rows[0]: (vals[j],)
    return f, itemgetter(*rows)  # the learnables of the layer, as a tuple


def _identity(X):
    """A layer that passes its input on (``forward_function`` gave f None)."""
    return X


def _input_spec(inp):
    """(format, size per observation) of the data an input layer takes as it is (see ``_prepare_input``);
    None for an input layer with its own layout."""
    if hasattr(inp, "_prepare_data"):
        return None
    want = tuple(inp.InputSize)
    if len(want) != len(inp.input_format):
        return None
    return inp.input_format + "B", want


def _feed_in_layer_order(steps, rank):
    """Move the input layers to the front, in layer order (they depend on nothing)."""
    firsts = sorted((s for s in steps if s[3] is None), key=lambda s: rank[s[0]])
    return firsts + [s for s in steps if s[3] is not None]


def _wrong_inputs(net, Xs, inputs, fname):
    if any(isinstance(x, (bool, np.bool_)) for x in Xs):
        raise NetworkError(f"{fname}: give return_state / Outputs by name: {fname}(net, X, return_state=True).")
    names = ", ".join(net._layers[i].Name for i in inputs)
    raise NetworkError(
        f"{fname}: the network has {len(inputs)} input(s) ({names}) but {len(Xs)} array(s) were given. Pass one "
        f"array per input, in the order of net.InputNames: {fname}(net, " +
        ", ".join(f"X{k + 1}" for k in range(len(inputs))) + ")."
    )


def forward(net, *X, return_state=False, Outputs=None):
    """Forward pass in *training* mode (MATLAB ``forward``).

    Batch normalization uses the mini-batch statistics, dropout is active. The network is not changed:

    * ``Y = forward(net, X)``; a network with several inputs takes ``forward(net, X1, X2)`` in the order
      of ``net.InputNames``
    * ``Y, state = forward(net, X, return_state=True)`` - also the updated State table
      (MATLAB ``[Y,state] = forward(net,X)``); store it with ``net.State = state``.
    * ``Outputs="relu"`` returns that layer's activation; ``Outputs=["softmax", "fc_2"]`` a tuple in that
      order (MATLAB ``[Y1,Y2] = forward(net,X,Outputs=["softmax" "fc_2"])``; with ``return_state=True``:
      ``Y1, Y2, state = ...``). Without ``Outputs``: the network's outputs (``net.OutputNames``), a tuple
      when there are several.

    X is a formatted dlarray ("SSCB" images, "CB" features); an unformatted dlarray or NumPy array is
    read in the input layer's format.
    """
    outs, svals = _run(net, X, True, Outputs, "forward")
    net._family.forward_calls += 1
    if not return_state:
        return outs
    state = Table.from_columns(*net._scols, list(svals) if svals is net._svals else svals)
    return (*outs, state) if isinstance(outs, tuple) else (outs, state)


_BN_STATE = ("TrainedMean", "TrainedVariance")


def _state_is_initial(net):
    """True if the batch-normalization statistics still hold their initial values (recurrent layers' hidden
    and cell states are not statistics: they are left out)."""
    fam = net._family
    if len(fam.initial_state) != len(net._svals):
        return False
    for (_, param), v, v0 in zip(net._skeys, net._svals, fam.initial_state):
        if param not in _BN_STATE:
            continue
        if v is None or v0 is None or not np.array_equal(value_of(v), v0):
            return False
    return True


def _learnables_changed(net):
    fam = net._family
    return any(v is not None and value_of(v) is not v0 for v, v0 in zip(net._lvals, fam.initial_learnables))


def predict(net, *X, Outputs=None):
    """Forward pass in *inference* mode (MATLAB ``predict``).

    This is NNC's Runtime network: the training network without its loss, with batch statistics off -
    batch normalization uses the stored ``TrainedMean``/``TrainedVariance`` and dropout is the identity.
    ``Outputs=`` as in :func:`forward`.

    Hint: when a network with batch normalization has been trained (forward ran and the learnables
    changed) but its State still holds the initial statistics, a :class:`StateNotUpdatedWarning` says
    so - the usual cause is a missing ``net.State = state`` after ``dlfeval``.
    """
    if isinstance(net, dlnetwork) and any(p in _BN_STATE for _, p in net._skeys) and net._family.forward_calls \
            and _state_is_initial(net) \
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

    def __init__(self, rows, total):
        self.rows = rows
        self.TotalLearnables = total

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
        first = next(lay for lay in net._layers if lay.is_input)
        Xf = _prepare_input(first, X)
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
            "Name": lay.Name, "Type": lay.Type, "Description": lay.Description,
            "Activations": size_text(full, fmt),
            "Learnables": learn, "NumLearnables": count, "State": state,
        })
    return NetworkAnalysis(rows, total)


# -------------------------------------------------------------------------------------------------
# plot(net)

def _graph_layout(net):
    """x, y per layer name: y = -(longest path from an input layer); x = mean x of the layer's sources,
    spread so that layers on one row stay at least one unit apart (chains stay straight)."""
    inc = _incoming(net)
    layers = net._layers
    n = len(layers)
    depth = [0] * n
    try:
        order, _ = _validate_graph(net)
    except NetworkError:
        order = list(range(n))  # incomplete graphs are drawn too (an unconnected input starts a new chain)
    for _ in range(2):
        for i in order:
            srcs = [src for src in inc[i] if src is not None]
            if srcs:
                depth[i] = max(depth[i], 1 + max(depth[s] for s, _ in srcs))
    x = [0.0] * n
    rows = {}
    for i in range(n):
        rows.setdefault(depth[i], []).append(i)
    for d in sorted(rows):
        want = []
        for k, i in enumerate(rows[d]):
            srcs = [s for s, _ in (src for src in inc[i] if src is not None)]
            want.append((sum(x[s] for s in srcs) / len(srcs) if srcs else float(k), k, i))
        want.sort()
        placed = []
        for w, _, i in want:
            xi = w if not placed else max(w, placed[-1] + 1.0)
            placed.append(xi)
            x[i] = xi
        shift = (placed[0] + placed[-1]) / 2.0 - sum(w for w, _, _ in want) / len(want)
        for _, _, i in want:  # keep the row centred on what its layers wanted
            x[i] -= shift
    return {lay.Name: (x[i], -float(depth[i])) for i, lay in enumerate(layers)}


def plot(net, ax=None):
    """Draw the layer graph of a network with matplotlib (MATLAB ``plot(net)``).

    One box per layer (name and type), arrows along the connections, inputs at the top; a connection to a
    port of a multi-input layer is labelled with the port ("in2"). Unconnected inputs are drawn in red.
    Returns the matplotlib Axes.
    """
    _check_net(net, "plot")
    import matplotlib.pyplot as plt  # lazy: import dlteach stays fast

    layers = net._layers
    pos = _graph_layout(net)
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 2.2 * (max(xs) - min(xs) + 1.6)), max(2.0, 0.8 * (1 - min(ys)))))
    inc = _incoming(net)
    boxes = {}
    for i, lay in enumerate(layers):
        x, y = pos[lay.Name]
        missing = any(src is None for src in inc[i])
        face = "#dbe9f6" if lay.is_input else ("#f8d7d7" if missing else "#f3f3f3")
        boxes[lay.Name] = ax.text(x, y, f"{lay.Name}\n{lay.Type}", ha="center", va="center", fontsize=8, zorder=3,
                                  bbox=dict(boxstyle="round,pad=0.3", fc=face, ec="#c0392b" if missing else "0.4"))
    by_name = {lay.Name: lay for lay in layers}
    for s_name, _sp, d_name, dp in net._conns:
        (x0, y0), (x1, y1) = pos[s_name], pos[d_name]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=4,
                    arrowprops=dict(arrowstyle="-|>", color="0.35", shrinkA=1, shrinkB=1, mutation_scale=12,
                                    patchA=boxes[s_name].get_bbox_patch(), patchB=boxes[d_name].get_bbox_patch()))
        dst = by_name[d_name]
        if dst.NumInputs > 1:  # name the port near the arrow's end
            ax.text(x0 + 0.6 * (x1 - x0) + 0.05, y0 + 0.6 * (y1 - y0), dst.InputNames[dp], fontsize=7,
                    color="0.3", ha="left", va="center", zorder=4)
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_axis_off()
    ax.set_title(f"dlnetwork: {len(layers)} layers, {len(net._conns)} connections", fontsize=9)
    return ax
