"""Layer constructors for :func:`dlteach.network.dlnetwork` (MATLAB names, options and defaults).

MATLAB counterparts: ``featureInputLayer``, ``imageInputLayer``, ``fullyConnectedLayer``,
``convolution2dLayer``, ``batchNormalizationLayer``, ``reluLayer``, ``leakyReluLayer``, ``sigmoidLayer``,
``tanhLayer``, ``softmaxLayer``, ``dropoutLayer``, ``maxPooling2dLayer``, ``averagePooling2dLayer``,
``flattenLayer``, ``additionLayer``, ``concatenationLayer``, ``depthConcatenationLayer``,
``transposedConv2dLayer``, ``sequenceInputLayer``, ``lstmLayer``, ``gruLayer``, ``functionLayer``, custom layers (:class:`CustomLayer`, MATLAB ``nnet.layer.Layer``)
and ``networkDataLayout``.

A layer is a description (options + optional preset values). It holds no data until it is part of a
``dlnetwork``: ``net.Layers`` returns copies with the current ``Weights``/``Bias``/... filled in.

Learnable shapes (MATLAB's):

=====================  ====================================  =====================================
layer                  learnables                            state
=====================  ====================================  =====================================
fullyConnectedLayer    Weights OutputSize x InputSize,
                       Bias OutputSize x 1
convolution2dLayer     Weights h x w x C x F, Bias 1 x 1 x F
batchNormalizationLayer Offset, Scale: 1 x 1 x C after images TrainedMean (0), TrainedVariance (1),
                       (C x 1 after feature input)           same shape as Offset
=====================  ====================================  =====================================

Learnables are float32 ("single"). Initializers (``WeightsInitializer``):

* ``"glorot"`` (default): U(-b, b), b = sqrt(6 / (numIn + numOut)). Fully connected: numIn = InputSize,
  numOut = OutputSize. Convolution: numIn = h*w*C, numOut = h*w*F (the convolution2dLayer
  documentation's definition). *Decision:* the MathWorks "Train Network Using Model Function" example
  helper computes numIn = h*w*F for convolutions (a quirk copied into many repositories); we follow
  the layer, not that helper.
* ``"he"``: N(0, 2/numIn); ``"narrow-normal"``: N(0, 0.01^2); ``"orthogonal"`` (fully connected only):
  Q of the QR decomposition of an OutputSize x InputSize normal matrix, sign-corrected by diag(R);
  ``"zeros"``; ``"ones"``; or a function ``f(sz) -> array of size sz`` (MATLAB function handle).
* ``BiasInitializer``: ``"zeros"`` (default), ``"ones"``, ``"narrow-normal"`` or a function.

Random initial values come from NumPy's *global* random state, so ``np.random.seed(0)`` before
``dlnetwork(...)`` makes a network reproducible (MATLAB: ``rng(0)``).

Learn-rate factors (``WeightLearnRateFactor=1``, ``BiasLearnRateFactor=1``; batch norm
``OffsetLearnRateFactor``/``ScaleLearnRateFactor`` = 1) scale the learning rate of each learnable in
``adamupdate(net, grad, ...)`` / ``rmspropupdate`` / ``sgdmupdate`` (the network syntax), as in MATLAB.

L2 factors (``WeightL2Factor=1``, ``BiasL2Factor=0``, ``OffsetL2Factor``/``ScaleL2Factor`` = 1) are
stored, shown and saved, but **no updater applies them** - neither do MATLAB's: in a custom training
loop, L2 regularization is added by hand to the gradients, with ``dlupdate``::

    l2 = 1e-4                                             # the global L2 regularization factor
    factor = [getL2Factor(net, r.Layer, r.Parameter) for r in net.Learnables]
    grad.Value = [g + l2 * f * w for g, w, f in zip(grad.Value, net.Learnables.Value, factor)]

(MATLAB's example: ``gradients = dlupdate(@(g,w) g + l2Regularization*w, gradients, net.Learnables)``,
usually for the weights only. ``getL2Factor`` / ``setL2Factor`` and ``getLearnRateFactor`` /
``setLearnRateFactor`` (dlteach.network, MATLAB's functions) read and set a factor on a network or a layer.)

Unnamed layers get names when put in a network: the type's default name ("fc", "conv", "batchnorm",
"relu", ...) when it occurs once, and MATLAB's numbering "conv_1", "conv_2", ... when several unnamed
layers share it (names already used are skipped).

Defining a layer (ONE place; see ARCHITECTURE.md "Adding a layer")
-----------------------------------------------------------------
A layer type is a subclass of :class:`Layer` decorated with :func:`register_layer`. The registration
names MATLAB's constructor and lists its arguments as :class:`Option` s (name, default, validator,
the property it sets); it creates the constructor function (signature, docstring = the class's,
exported from this module and from ``dlteach``), ``repr``, and the save/load entry::

    @register_layer("fullyConnectedLayer",
                    Option("outputSize", check=_v.integer, prop="OutputSize", positional=True),
                    Option("WeightsInitializer", "glorot", _initializer), ...,
                    default_name="fc", Type="Fully Connected", learnables=("Weights", "Bias"))
    class FullyConnectedLayer(Layer):
        '''Fully connected layer (MATLAB ``fullyConnectedLayer``): Y = W X + b. ...'''
        def _shapes(self, in_size, in_fmt): ...
        def _forward(self, X, p, training): ...

A parameter-free elementwise layer is one line::

    activation_layer("reluLayer", ops.relu, "ReLU", default_name="relu", doc="ReLU layer (MATLAB reluLayer): max(x, 0).")
"""

from __future__ import annotations

import copy
import difflib
import functools
import inspect
import sys

import autograd.numpy as anp
import numpy as np
from autograd.tracer import isbox

from . import ops
from . import validate as _v
from .dlarray import dlarray, isdlarray
from .errors import ArgumentError, NetworkError
from .formats import data_of, fmt_of, size_text, value_of, wrap

__all__ = [
    "Layer", "InputLayer", "Option", "register_layer", "activation_layer", "constructors", "constructor_name",
    "layer_options", "layer_from_options", "functionLayer", "CustomLayer", "networkDataLayout",
]  # + every registered constructor (register_layer appends it)

REQUIRED = inspect.Parameter.empty

_LAYERS: dict = {}  # MATLAB constructor name -> layer class


# -------------------------------------------------------------------------------------------------
# the registry: one declaration per layer type

class Option:
    """One argument of a layer constructor (MATLAB's positional argument or name-value option).

    ``name``: the argument as MATLAB spells it (``outputSize``, ``Stride``); ``default``: REQUIRED for a
    required argument; ``check(fname, name, value) -> value``: validates and normalizes (the signature of
    :mod:`dlteach.validate`'s helpers; None accepts anything); ``prop``: the layer property it sets
    (default ``name``; MATLAB's ``outputSize`` argument sets the ``OutputSize`` property);
    ``positional``: may be given by position; ``saved``: written by ``save`` (preset learnables such as
    ``Weights`` are not: the network saves its values).
    """

    __slots__ = ("name", "default", "check", "prop", "positional", "saved")

    def __init__(self, name, default=REQUIRED, check=None, *, prop=None, positional=False, saved=True):
        self.name = name
        self.default = default
        self.check = check
        self.prop = prop or name
        self.positional = positional
        self.saved = saved

    def __repr__(self):
        return f"Option({self.name!r}, default={self.default!r})"


def _check_name(fname, name, v):
    if not isinstance(v, str):
        _v.fail(fname, name, "a string (the layer's name; '' for an automatic one)", v)
    if "/" in v:
        raise NetworkError(f"Layer name {v!r} contains '/', which separates a layer from its port ('add/in2'); "
                           "choose another name.")
    return v


_NAME = Option("Name", "", _check_name)


def register_layer(constructor, *options, default_name, Type, learnables=(), states=()):
    """Class decorator: register a :class:`Layer` subclass under MATLAB's constructor name.

    Creates the constructor function ``constructor(*args, **options)`` (validated options, MATLAB's
    defaults, ``Name=''`` always last), puts it into the class's module (and its ``__all__``) and into
    :func:`constructors` (exported by ``dlteach`` and used by ``load``).
    """
    def decorate(cls):
        if constructor in _LAYERS and _LAYERS[constructor] is not cls:
            raise ValueError(f"register_layer: {constructor!r} is already registered.")
        cls.options_spec = tuple(options) + (_NAME,)
        cls.constructor = constructor
        cls.default_name = default_name
        cls.Type = Type
        cls.learnable_names = tuple(learnables)
        cls.state_names = tuple(states)
        _LAYERS[constructor] = cls
        fn = _make_constructor(cls)
        cls.constructor_function = staticmethod(fn)
        module = sys.modules[cls.__module__]
        setattr(module, constructor, fn)
        exported = getattr(module, "__all__", None)
        if isinstance(exported, list) and constructor not in exported:
            exported.append(constructor)
        return cls

    return decorate


def _make_constructor(cls):
    spec = cls.options_spec
    params = [inspect.Parameter(o.name, inspect.Parameter.POSITIONAL_OR_KEYWORD if o.positional
                                else inspect.Parameter.KEYWORD_ONLY, default=o.default) for o in spec]
    params.sort(key=lambda p: p.kind)  # positional ones first, in their order

    def construct(*args, **kwargs):
        return cls._from_arguments(args, kwargs)

    construct.__name__ = construct.__qualname__ = cls.constructor
    construct.__doc__ = cls.__doc__
    construct.__module__ = cls.__module__
    construct.__signature__ = inspect.Signature(params)
    construct.layer_class = cls
    return construct


def activation_layer(constructor, fun, Type, *, default_name, doc, **properties):
    """Register a parameter-free elementwise layer ``Y = fun(X)``; returns its constructor.

    ``activation_layer("reluLayer", ops.relu, "ReLU", default_name="relu", doc="ReLU layer ...", rectifies=True)``;
    ``properties`` set class properties such as ``rectifies`` / ``passes_zeros``.
    """
    module = sys._getframe(1).f_globals.get("__name__", __name__)
    cls = type(constructor[0].upper() + constructor[1:], (ActivationLayer,),
               {"__doc__": doc, "__module__": module, "_fun": staticmethod(fun), **properties})
    setattr(sys.modules[module], cls.__name__, cls)  # importable by name (pickle, copy)
    register_layer(constructor, default_name=default_name, Type=Type)(cls)
    return _LAYERS[constructor].constructor_function


def constructors() -> dict:
    """MATLAB constructor name -> constructor function, for every registered layer type."""
    return {name: cls.constructor_function for name, cls in _LAYERS.items()}


def constructor_name(layer):
    """MATLAB's constructor name of a registered layer (``fullyConnectedLayer``); None for a functionLayer or a
    custom layer (their code is not data: ``save`` refuses them)."""
    name = type(layer).constructor
    return name if _LAYERS.get(name) is type(layer) else None


def layer_options(layer) -> dict:
    """The saved options of a layer: argument name -> current value (what ``save`` writes)."""
    return {o.name: getattr(layer, o.prop) for o in layer.options_spec if o.saved and (o.name != "Name" or layer.Name)}


def layer_from_options(constructor, options: dict):
    """Rebuild a layer from :func:`layer_options` (``load``); property names are accepted for argument names."""
    cls = _LAYERS.get(constructor)
    if cls is None:
        raise NetworkError(f"Unknown layer type {constructor!r}; known: {', '.join(sorted(_LAYERS))}.")
    by_prop = {o.prop: o.name for o in cls.options_spec}
    opts = {by_prop.get(k, k) if k not in {o.name for o in cls.options_spec} else k: v for k, v in options.items()}
    return cls._from_arguments((), opts)


# -------------------------------------------------------------------------------------------------
# option validators (signature of dlteach.validate's helpers: (fname, name, value) -> value)

_nonnegative = functools.partial(_v.real, low=0.0)


def _padding_text(padding):
    """MATLAB's display of a Padding option: 'same' or [t b l r]."""
    return "'same'" if padding == "same" else "[" + " ".join(map(str, padding)) + "]"


def _as_value(fname, name, v):
    """Preset learnable/state value -> float32 unformatted dlarray (keeps dlarray data); None stays None."""
    if v is None:
        return None
    return wrap(np.array(value_of(v), dtype=np.float32), "")


def _stat_array(fname, name, v):
    """Mean / StandardDeviation of an input layer: float32 array or None."""
    return None if v is None else np.asarray(value_of(v), dtype=np.float32)


_INITIALIZERS = ("glorot", "he", "narrow-normal", "orthogonal", "zeros", "ones", "unit-forget-gate")


def _initializer(fname, name, v):
    """An initializer name (case-insensitive), a function of the size, or 'custom' (a loaded function)."""
    if callable(v) or (isinstance(v, str) and (v.lower() in _INITIALIZERS or v.lower().startswith("custom"))):
        return v
    what = name[: -len("Initializer")].lower()
    raise NetworkError(
        f"{fname}: unknown {what} initializer {v!r}. Use 'glorot', 'he', 'narrow-normal', 'orthogonal', "
        "'zeros', 'ones' or a function of the size."
    )


def _feature_count(fname, name, v):
    """numFeatures -> (n,) (a saved layer gives [n])."""
    return _v.integers(fname, name, v, (1,))


def _image_size(fname, name, v):
    """inputSize [h w] or [h w c] -> (h, w, c)."""
    size = _v.integers(fname, name, v, (2, 3))
    return size + (1,) if len(size) == 2 else size


def _require_images(layer, kind, in_size, in_fmt, advice=""):
    """A 2-D layer needs SSC(B) input; the error names the layer, what it received and how to fix it."""
    if in_fmt != "SSC":
        raise NetworkError(
            f"Layer '{layer.Name}' ({kind}) needs images (format SSCB) as input, but it receives "
            f"{in_fmt}B data of size {size_text(in_size)}.{advice}"
        )


# -------------------------------------------------------------------------------------------------
# initializers

#: a learnable larger than this many values (2^31, 8 GB in float32) is refused before it is allocated
MAX_LEARNABLE_ELEMENTS = 2**31


def _initialize(init, shape, layer, what):
    """Initial values of the given shape (float32) from an initializer name or function."""
    shape = tuple(int(s) for s in shape)
    if np.prod(shape, dtype=np.float64) > MAX_LEARNABLE_ELEMENTS:
        raise NetworkError(
            f"Layer '{layer.Name}': its {what} would have size {size_text(shape)} "
            f"({np.prod(shape, dtype=np.float64):.3g} values, {np.prod(shape, dtype=np.float64) * 4 / 2**30:.3g} GB "
            "in float32). Check the layer's size options (outputSize, numFilters, filterSize) - one is far too large."
        )
    if callable(init):
        out = init(shape)
        out = np.asarray(value_of(out))
        if out.size != int(np.prod(shape)):
            raise NetworkError(
                f"Layer '{layer.Name}': the {what} initializer function returned an array of size "
                f"{size_text(out.shape)}; it must return an array of size {size_text(shape)} (it is called with sz)."
            )
        return out.reshape(shape).astype(np.float32)
    name = str(init).lower()
    if name == "zeros":
        return np.zeros(shape, np.float32)
    if name == "ones":
        return np.ones(shape, np.float32)
    if name == "narrow-normal":
        return (np.random.standard_normal(shape) * 0.01).astype(np.float32)
    if name in ("glorot", "he", "orthogonal"):
        fan_in, fan_out = layer._fans(shape)
        if name == "glorot":
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            return np.random.uniform(-bound, bound, size=shape).astype(np.float32)
        if name == "he":
            return (np.random.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        if len(shape) != 2:
            raise NetworkError(
                f"Layer '{layer.Name}': the 'orthogonal' initializer is only available for fully connected weights "
                "in dlteach; use 'glorot' or 'he' for convolutions."
            )
        z = np.random.standard_normal(shape if shape[0] >= shape[1] else shape[::-1])
        q, r = np.linalg.qr(z)
        q = q * np.sign(np.diag(r))
        return (q if shape[0] >= shape[1] else q.T).astype(np.float32)
    if name.startswith("custom"):
        raise NetworkError(
            f"Layer '{layer.Name}' was loaded from a file and its custom {what} initializer function was not saved; "
            "its values are already set, so initialize() has nothing to do for it."
        )
    raise NetworkError(
        f"Layer '{layer.Name}': unknown {what} initializer {init!r}. Use 'glorot', 'he', 'narrow-normal', 'orthogonal', "
        "'zeros', 'ones' or a function of the size."
    )


# -------------------------------------------------------------------------------------------------
# base class

class Layer:
    """Base class of dlteach layers (register subclasses with :func:`register_layer`).

    Properties every layer has: ``Name``, ``Type`` (as in analyzeNetwork), ``Description``; and, for
    the network and the tools: ``learnable_names`` / ``state_names`` (parameter names),
    ``default_name`` (prefix of automatic names), ``is_input`` (an input layer), ``rectifies``
    (outputs are >= 0 with exact zeros, like ReLU) and ``passes_zeros`` (a unit that is 0 for every
    observation stays 0: pooling, dropout, flatten) - the debugging tools read these, never class names.

    The protocol a layer type implements (called by dlnetwork): ``_shapes(in_size, in_fmt)`` (shapes
    of its parameters for this per-observation input), ``_init_value(name, shape)``,
    ``_forward(X, p, training) -> (Y, new_state or None)``, optionally ``_check_input``, ``_describe``
    and ``_setup`` (derived properties after the options are set).
    """

    constructor = ""
    default_name = "layer"
    Type = "Layer"
    learnable_names: tuple = ()
    state_names: tuple = ()
    options_spec: tuple = (_NAME,)
    is_input = False
    rectifies = False
    passes_zeros = False
    _in_ports: tuple = ("in",)
    _out_ports: tuple = ("out",)

    @classmethod
    def _from_arguments(cls, args, kwargs):
        """A layer from constructor arguments: bound to the options, validated, defaults filled in."""
        spec = cls.options_spec
        fname = cls.constructor or cls.__name__
        positional = [o for o in spec if o.positional]
        if len(args) > len(positional):
            raise ArgumentError(
                f"{fname} takes {len(positional)} positional argument(s) "
                f"({', '.join(o.name for o in positional) or 'none'}), got {len(args)}. "
                "Give the other options by name, e.g. Name='fc1'."
            )
        values = {o.name: a for o, a in zip(positional, args)}
        names = {o.name: o for o in spec}
        for k, v in kwargs.items():
            if k not in names:
                close = difflib.get_close_matches(k, list(names), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ArgumentError(
                    f"{fname}: unknown option {k!r}.{hint} Its options are: {', '.join(names)}."
                )
            if k in values:
                raise ArgumentError(f"{fname}: {k} was given twice (by position and by name).")
            values[k] = v
        self = object.__new__(cls)
        for o in spec:
            if o.name in values:
                v = values[o.name]
                if o.check is not None:
                    v = o.check(fname, o.name, v)
            elif o.default is REQUIRED:
                raise ArgumentError(f"{fname}: the argument {o.name} is missing, e.g. {fname}({o.name}=...).")
            else:
                v = o.default
            setattr(self, o.prop, v)
        self._setup()
        return self

    def _setup(self):
        """Set derived properties once the options are set (override)."""

    def __repr__(self):
        opts = layer_options(self)
        defaults = {o.name: o.default for o in self.options_spec}
        pos = [repr(_plain(opts.pop(o.name))) for o in self.options_spec if o.positional
               and (o.default is REQUIRED or _plain(o.default) != _plain(opts[o.name]))]
        kw = [f"{k}={_plain(v)!r}" for k, v in opts.items()
              if k == "Name" or isinstance(v, np.ndarray) or _plain(defaults.get(k, object())) != _plain(v)]
        return f"{self.constructor}({', '.join(pos + kw)})"

    @property
    def Description(self) -> str:
        return self._describe()

    def _describe(self) -> str:
        return self.Type

    # ports (MATLAB's NumInputs / InputNames / NumOutputs / OutputNames properties) -----------------
    @property
    def InputNames(self):
        return list(self._in_ports)

    @property
    def NumInputs(self) -> int:
        return len(self._in_ports)

    @property
    def OutputNames(self):
        return list(self._out_ports)

    @property
    def NumOutputs(self) -> int:
        return len(self._out_ports)

    def factor(self, param, kind) -> float:
        """The learn-rate (``kind="LearnRateFactor"``) or L2 factor (``"L2Factor"``) of learnable ``param``.

        MATLAB's option names: ``BiasLearnRateFactor`` for ``Bias``, ``WeightLearnRateFactor`` for ``Weights``.
        """
        for attr in (param + kind, param[:-1] + kind):
            v = getattr(self, attr, None)
            if v is not None:
                return float(v)
        return 1.0

    # network protocol ------------------------------------------------------------------------
    def _check_input(self, in_size, in_fmt):
        """Raise NetworkError if this layer cannot take an input of that size/format."""

    def _shapes(self, in_size, in_fmt) -> dict:
        """Shapes of learnables and state for this input (per-observation size, format without B)."""
        return {}

    def _shapes_given(self, in_size, in_fmt, current) -> dict:
        """Like ``_shapes``, also told the current parameter values (dict; None when unset)."""
        return self._shapes(in_size, in_fmt)

    def _fans(self, shape):
        """(numIn, numOut) of a weight array of this shape for the glorot / he initializers."""
        return shape[1], shape[0]

    def _init_value(self, name, shape):
        raise NotImplementedError

    def _preset(self, name):
        return getattr(self, name, None)

    def _forward(self, X, p, training):
        """(Y, new_state_dict) for input X with parameter dict p."""
        raise NotImplementedError

    def forward_function(self):
        """``(f, learnable names)`` when this layer computes ``Y = f(X, *learnables)`` in ``forward`` and
        ``predict`` alike, without state: the network then calls ``f`` directly instead of ``_forward``
        (``f`` None: ``Y = X``). None (the default) for anything else, e.g. a subclass with its own ``_forward``.
        (No MATLAB counterpart.)"""
        return None

    def _copy(self):
        return copy.copy(self)


def _plain(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple):
        return v[0] if len(v) == 1 else list(v)  # MATLAB shows [3] as 3
    return v


# -------------------------------------------------------------------------------------------------
# input layers

_NORMALIZATION = (Option("Mean", None, _stat_array), Option("StandardDeviation", None, _stat_array))


class InputLayer(Layer):
    """Base of the input layers: ``InputSize`` per observation and ``input_format`` (its format without B)."""

    is_input = True
    input_format = ""
    _in_ports = ()

    def _normalize(self, X):
        norm = self.Normalization
        if norm == "none":
            return X
        mean = self._stat("Mean")
        if norm == "zerocenter":
            return X - mean
        std = self._stat("StandardDeviation")
        return (X - mean) / std

    def _stat(self, name):
        v = np.asarray(getattr(self, name), dtype=np.float32)
        full = tuple(self.InputSize)
        if v.size == 1:
            v = v.reshape(())
        elif v.size == full[-1] and len(full) > 1:
            v = v.reshape((1,) * (len(full) - 1) + (full[-1],))
        else:
            v = v.reshape(full)
        return v.reshape(v.shape + (1,)) if v.ndim else v

    def _validate_normalization(self):
        norm = self.Normalization
        if callable(norm):
            raise NetworkError(f"Layer '{self.Name}': function-handle normalization is not supported in dlteach.")
        if norm not in ("none", "zerocenter", "zscore"):
            raise NetworkError(
                f"Layer '{self.Name}': Normalization={norm!r} is not supported in dlteach; use 'none', 'zerocenter' "
                "(with Mean=...) or 'zscore' (with Mean=... and StandardDeviation=...)."
            )
        if norm in ("zerocenter", "zscore") and self.Mean is None:
            raise NetworkError(
                f"Layer '{self.Name}' has Normalization={norm!r} but no Mean. trainnet computes the mean from the "
                "training data; a dlnetwork for a custom training loop cannot (MATLAB: 'you must set the Mean property'). "
                "Either pass Normalization='none' (as the MathWorks custom-loop examples do) and normalize the data "
                "yourself, or give Mean=... (a scalar or one value per channel)."
            )
        if norm == "zscore" and self.StandardDeviation is None:
            raise NetworkError(
                f"Layer '{self.Name}' has Normalization='zscore' but no StandardDeviation. Give StandardDeviation=... "
                "or use Normalization='none' or 'zerocenter'."
            )

    def _forward(self, X, p, training):
        return self._normalize(X), None

    def forward_function(self):
        if type(self)._forward is InputLayer._forward and self.Normalization == "none":
            return None, ()  # Y = X
        return None


@register_layer("featureInputLayer",
                Option("numFeatures", check=_feature_count, prop="InputSize", positional=True),
                Option("Normalization", "none"), *_NORMALIZATION,
                default_name="input", Type="Feature Input")
class FeatureInputLayer(InputLayer):
    """Feature input layer (MATLAB ``featureInputLayer``): input ``numFeatures x N`` data, format "CB".

    ``Normalization`` "none" (default), "zerocenter" (needs ``Mean``) or "zscore" (``Mean``,
    ``StandardDeviation``).
    """

    input_format = "C"

    def _describe(self):
        return f"{self.InputSize[0]} features"


@register_layer("imageInputLayer",
                Option("inputSize", check=_image_size, prop="InputSize", positional=True),
                Option("Normalization", "zerocenter"), *_NORMALIZATION,
                default_name="imageinput", Type="Image Input")
class ImageInputLayer(InputLayer):
    """Image input layer (MATLAB ``imageInputLayer``): ``h x w x c x N`` images, format "SSCB".

    ``Normalization`` defaults to "zerocenter" as in MATLAB, which subtracts ``Mean``. *Decision:* a
    dlnetwork cannot compute the mean itself (trainnet does that from the training set; MATLAB's doc
    says a custom training loop must set ``Mean``), so zerocenter/zscore without ``Mean`` is a clear
    NetworkError when the network is created. Pass ``Normalization="none"`` as the MathWorks
    custom-loop examples do, or give ``Mean=`` (scalar, one per channel, or h x w x c).
    """

    input_format = "SSC"

    def _describe(self):
        return f"{size_text(self.InputSize)} images" + (
            f" with '{self.Normalization}' normalization" if self.Normalization != "none" else "")


# -------------------------------------------------------------------------------------------------
# learnable layers

def _factors(*learnables):
    """Learn-rate and L2 factor options of the learnables (MATLAB: WeightLearnRateFactor=1, BiasL2Factor=0, ...)."""
    out = []
    for name, _l2 in learnables:
        out.append(Option(name + "LearnRateFactor", 1.0, _nonnegative))
    for name, l2 in learnables:
        out.append(Option(name + "L2Factor", l2, _nonnegative))
    return out


def _presets(*names):
    """Options that preset learnable / state values (not saved with the layer: the network saves them)."""
    return [Option(n, None, _as_value, saved=False) for n in names]


@register_layer("fullyConnectedLayer",
                Option("outputSize", check=_v.integer, prop="OutputSize", positional=True),
                Option("WeightsInitializer", "glorot", _initializer), Option("BiasInitializer", "zeros", _initializer),
                *_presets("Weights", "Bias"), *_factors(("Weight", 1.0), ("Bias", 0.0)),
                default_name="fc", Type="Fully Connected", learnables=("Weights", "Bias"))
class FullyConnectedLayer(Layer):
    """Fully connected layer (MATLAB ``fullyConnectedLayer``): Y = W X + b.

    Weights OutputSize x InputSize (InputSize = prod of h, w, c after images), Bias OutputSize x 1.
    Options: WeightsInitializer ("glorot"), BiasInitializer ("zeros"), Weights, Bias,
    WeightLearnRateFactor (1), BiasLearnRateFactor (1), WeightL2Factor (1), BiasL2Factor (0), Name.
    """

    def _setup(self):
        self.InputSize = "auto"

    def _describe(self):
        return f"{self.OutputSize} fully connected layer"

    def _shapes(self, in_size, in_fmt):
        n_in = int(np.prod(in_size))
        return {"Weights": (self.OutputSize, n_in), "Bias": (self.OutputSize, 1)}

    def _init_value(self, name, shape):
        if name == "Weights":
            return _initialize(self.WeightsInitializer, shape, self, "weights")
        return _initialize(self.BiasInitializer, shape, self, "bias")

    def _forward(self, X, p, training):
        return ops.fullyconnect(X, p["Weights"], p["Bias"]), None

    def forward_function(self):
        if type(self)._forward is FullyConnectedLayer._forward:
            return ops.fullyconnect, ("Weights", "Bias")
        return None


@register_layer("convolution2dLayer",
                Option("filterSize", check=_v.pair, prop="FilterSize", positional=True),
                Option("numFilters", check=_v.integer, prop="NumFilters", positional=True),
                Option("Stride", (1, 1), _v.pair), Option("Padding", (0, 0, 0, 0), _v.padding),
                Option("DilationFactor", (1, 1), _v.pair),
                Option("WeightsInitializer", "glorot", _initializer), Option("BiasInitializer", "zeros", _initializer),
                *_presets("Weights", "Bias"), *_factors(("Weight", 1.0), ("Bias", 0.0)),
                default_name="conv", Type="2-D Convolution", learnables=("Weights", "Bias"))
class Convolution2DLayer(Layer):
    """2-D convolution layer (MATLAB ``convolution2dLayer``): F filters of size h x w.

    Weights h x w x C x F, Bias 1 x 1 x F. Options: Stride (1), Padding (0, or "same", [h w],
    [t b l r]), DilationFactor (1), WeightsInitializer ("glorot": numIn = h*w*C, numOut = h*w*F),
    BiasInitializer ("zeros"), Weights, Bias, learn-rate / L2 factors, Name.
    """

    def _setup(self):
        self.NumChannels = "auto"

    def _describe(self):
        return (f"{self.NumFilters} {size_text(self.FilterSize)} convolutions with stride "
                f"[{' '.join(map(str, self.Stride))}] and padding {_padding_text(self.Padding)}")

    def _check_input(self, in_size, in_fmt):
        _require_images(self, "convolution2dLayer", in_size, in_fmt,
                        " Put it after an imageInputLayer or another 2-D layer.")

    def _shapes(self, in_size, in_fmt):
        self._check_input(in_size, in_fmt)
        h, w = self.FilterSize
        return {"Weights": (h, w, in_size[2], self.NumFilters), "Bias": (1, 1, self.NumFilters)}

    def _shapes_given(self, in_size, in_fmt, current) -> dict:
        """Like ``_shapes``, also told the current parameter values (dict; None when unset)."""
        return self._shapes(in_size, in_fmt)

    def _fans(self, shape):
        h, w, c, f = shape
        return h * w * c, h * w * f

    _init_value = FullyConnectedLayer._init_value

    def _forward(self, X, p, training):
        return ops.dlconv(X, p["Weights"], p["Bias"], Stride=self.Stride, Padding=self.Padding,
                          DilationFactor=self.DilationFactor), None


@register_layer("batchNormalizationLayer",
                Option("Epsilon", 1e-5, functools.partial(_v.real, low=0.0, low_open=True)),
                Option("MeanDecay", 0.1, functools.partial(_v.real, low=0.0, high=1.0)),
                Option("VarianceDecay", 0.1, functools.partial(_v.real, low=0.0, high=1.0)),
                Option("OffsetInitializer", "zeros", _initializer), Option("ScaleInitializer", "ones", _initializer),
                *_presets("Offset", "Scale", "TrainedMean", "TrainedVariance"),
                *_factors(("Offset", 1.0), ("Scale", 1.0)),
                default_name="batchnorm", Type="Batch Normalization", learnables=("Offset", "Scale"),
                states=("TrainedMean", "TrainedVariance"))
class BatchNormalizationLayer(Layer):
    """Batch normalization layer (MATLAB ``batchNormalizationLayer``).

    ``forward``: y = Scale (x - mu_B)/sqrt(var_B + Epsilon) + Offset with the mini-batch statistics, and
    the state update TrainedMean <- MeanDecay mu_B + (1 - MeanDecay) TrainedMean (variance likewise,
    with the unbiased batch variance). ``predict``: the same with TrainedMean / TrainedVariance.
    Options: Epsilon (1e-5), MeanDecay (0.1), VarianceDecay (0.1), OffsetInitializer ("zeros"),
    ScaleInitializer ("ones"), Offset, Scale, TrainedMean, TrainedVariance, learn-rate / L2 factors, Name.
    """

    def _setup(self):
        self.NumChannels = "auto"

    def _describe(self):
        return "Batch normalization" + (f" with {self.NumChannels} channels" if self.NumChannels != "auto" else "")

    def _shapes(self, in_size, in_fmt):
        c = in_size[in_fmt.index("C")]
        shape = (1, 1, c) if in_fmt == "SSC" else (c, 1)
        return {k: shape for k in ("Offset", "Scale", "TrainedMean", "TrainedVariance")}

    def _init_value(self, name, shape):
        if name == "Offset":
            return _initialize(self.OffsetInitializer, shape, self, "offset")
        if name == "Scale":
            return _initialize(self.ScaleInitializer, shape, self, "scale")
        if name == "TrainedMean":
            return np.zeros(shape, np.float32)
        return np.ones(shape, np.float32)

    def _forward(self, X, p, training):
        kw = dict(Epsilon=self.Epsilon, MeanDecay=self.MeanDecay, VarianceDecay=self.VarianceDecay)
        if training:
            Y, m, v = ops.batchnorm(X, p["Offset"], p["Scale"], p["TrainedMean"], p["TrainedVariance"],
                                    training=True, **kw)
            return Y, {"TrainedMean": m, "TrainedVariance": v}
        return ops.batchnorm(X, p["Offset"], p["Scale"], p["TrainedMean"], p["TrainedVariance"],
                             training=False, **kw), None


# -------------------------------------------------------------------------------------------------
# parameter-free layers

class ActivationLayer(Layer):
    """An elementwise layer ``Y = _fun(X)`` without options (see :func:`activation_layer`)."""

    _fun = None

    def _forward(self, X, p, training):
        return type(self)._fun(X), None

    def forward_function(self):
        if type(self)._forward is ActivationLayer._forward:
            return type(self)._fun, ()
        return None


reluLayer = activation_layer("reluLayer", ops.relu, "ReLU", default_name="relu",
                             doc="ReLU layer (MATLAB ``reluLayer``): max(x, 0).", rectifies=True)
sigmoidLayer = activation_layer("sigmoidLayer", ops.sigmoid, "Sigmoid", default_name="sigmoid",
                                doc="Sigmoid layer (MATLAB ``sigmoidLayer``): 1 / (1 + exp(-x)).")
tanhLayer = activation_layer("tanhLayer", ops.tanh, "Tanh", default_name="tanh",
                             doc="Tanh layer (MATLAB ``tanhLayer``).")
softmaxLayer = activation_layer("softmaxLayer", ops.softmax, "Softmax", default_name="softmax",
                                doc="Softmax layer (MATLAB ``softmaxLayer``): softmax over the channel dimension.")


@register_layer("leakyReluLayer", Option("scale", 0.01, _v.real, prop="Scale", positional=True),
                default_name="leakyrelu", Type="Leaky ReLU")
class LeakyReLULayer(Layer):
    """Leaky ReLU layer (MATLAB ``leakyReluLayer(scale)``): x if x > 0 else scale * x."""

    def _describe(self):
        return f"Leaky ReLU with scale {self.Scale:g}"

    def _forward(self, X, p, training):
        return ops.leakyrelu(X, self.Scale), None


@register_layer("dropoutLayer", Option("probability", 0.5, _v.probability, prop="Probability", positional=True),
                default_name="dropout", Type="Dropout")
class DropoutLayer(Layer):
    """Dropout layer (MATLAB ``dropoutLayer(p)``): in ``forward`` each element is zeroed with probability p
    and survivors are scaled by 1/(1-p) (inverted dropout); in ``predict`` it is the identity."""

    passes_zeros = True

    def _describe(self):
        return f"{self.Probability * 100:g}% dropout"

    def _forward(self, X, p, training):
        return ops.dropout(X, self.Probability, training=training), None


_POOLING = (Option("poolSize", check=_v.pair, prop="PoolSize", positional=True),
            Option("Stride", (1, 1), _v.pair), Option("Padding", (0, 0, 0, 0), _v.padding))


class _Pooling2DLayer(Layer):
    _op = None

    def _describe(self):
        return (f"{size_text(self.PoolSize)} {self.Type[5:].lower()} with stride [{' '.join(map(str, self.Stride))}] "
                f"and padding {_padding_text(self.Padding)}")

    def _check_input(self, in_size, in_fmt):
        _require_images(self, self.constructor, in_size, in_fmt)

    def _shapes(self, in_size, in_fmt):
        self._check_input(in_size, in_fmt)
        return {}

    def _forward(self, X, p, training):
        return type(self)._op(X, self.PoolSize, Stride=self.Stride, Padding=self.Padding), None


@register_layer("maxPooling2dLayer", *_POOLING, default_name="maxpool", Type="2-D Max Pooling")
class MaxPooling2DLayer(_Pooling2DLayer):
    """2-D max pooling layer (MATLAB ``maxPooling2dLayer``); Stride defaults to 1 as in MATLAB."""

    _op = staticmethod(ops.maxpool)
    passes_zeros = True


@register_layer("averagePooling2dLayer", *_POOLING, default_name="avgpool", Type="2-D Average Pooling")
class AveragePooling2DLayer(_Pooling2DLayer):
    """2-D average pooling layer (MATLAB ``averagePooling2dLayer``); Stride defaults to 1."""

    _op = staticmethod(ops.avgpool)


@register_layer("flattenLayer", default_name="flatten", Type="Flatten")
class FlattenLayer(Layer):
    """Flatten layer (MATLAB ``flattenLayer``): h x w x c x N images -> (h*w*c) x N features ("CB").

    Element order: the same as ``fullyconnect`` uses for images (NumPy's row-major order of h x w x c), so
    ``flattenLayer`` followed by ``fullyConnectedLayer`` equals ``fullyConnectedLayer`` alone.
    """

    passes_zeros = True

    def _forward(self, X, p, training):
        fmt = fmt_of(X)
        if fmt == "CB":
            return X, None
        shape = X.shape
        b = fmt.index("B")
        return wrap(anp.reshape(data_of(X), (int(np.prod(shape[:b])), shape[b])), "CB"), None


# -------------------------------------------------------------------------------------------------
# sequences: sequenceInputLayer, lstmLayer, gruLayer

def _sequence_channels(fname, name, v):
    """inputSize of a sequenceInputLayer: the number of channels per time step -> (C,)."""
    try:
        flat = [float(a) for a in np.ravel(v)]
    except (TypeError, ValueError):
        flat = []
    if len(flat) != 1 or flat[0] < 1 or flat[0] != int(flat[0]) or isinstance(v, bool):
        raise NetworkError(
            f"{fname}: inputSize must be the number of channels of each time step, a positive "
            f"integer (image sequences [h w c] are not available in dlteach); got {v!r}.")
    return (int(flat[0]),)


def _min_length(fname, name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer, float)) or int(v) != v or v < 1:
        raise NetworkError(f"{fname}: MinLength must be a positive integer; got {v!r}.")
    return int(v)


@register_layer("sequenceInputLayer",
                Option("inputSize", check=_sequence_channels, prop="InputSize", positional=True),
                Option("Normalization", "none"), *_NORMALIZATION, Option("MinLength", 1, _min_length),
                default_name="sequenceinput", Type="Sequence Input")
class SequenceInputLayer(InputLayer):
    """Sequence input layer (MATLAB ``sequenceInputLayer(inputSize)``): sequences of ``inputSize``
    channels, format "CBT" (channels x observations x time steps). Normalization "none" (default)."""

    input_format = "C"  # per observation and time step; the example input used for sizes has one time step

    def _describe(self):
        return f"Sequence input with {self.InputSize[0]} dimensions"

    def _prepare_data(self, X):
        """X (formatted 'CBT'/'CB', or unformatted C x B x T) -> formatted dlarray, sizes checked."""
        C = self.InputSize[0]
        if fmt_of(X):
            fmt = fmt_of(X)
            if fmt not in ("CBT", "CB"):
                raise NetworkError(
                    f"Layer '{self.Name}' expects sequences labelled 'CBT' (channels x observations x time steps), "
                    f"but X has format {fmt!r}. Label the dimensions: dlarray(X, 'CTB') for C x T x B data, "
                    "dlarray(X, 'TCB') for T x C x B, ...")
            Xf = X
        else:
            raw = data_of(X)
            shape = tuple(np.shape(value_of(raw)))
            if len(shape) != 3:
                raise NetworkError(
                    f"Layer '{self.Name}' expects sequences: give a formatted dlarray, e.g. dlarray(X, 'CTB') for "
                    f"C x T x B data (X has size {size_text(shape)}).")
            Xf = dlarray(raw, "CBT")
        if Xf.shape[0] != C:
            raise NetworkError(
                f"Wrong input size for layer '{self.Name}': it expects {C} channels per time step ('C'), but X "
                f"({fmt_of(Xf)}) has size {size_text(Xf.shape)}. If the data is T x C (time steps down the rows, as "
                "MATLAB's cell arrays of sequences often are), label it accordingly, e.g. 'TCB'.")
        if "T" in fmt_of(Xf) and Xf.shape[2] < self.MinLength:
            raise NetworkError(f"Layer '{self.Name}': the sequences have {Xf.shape[2]} time steps, fewer than "
                               f"MinLength={self.MinLength}.")
        return self._normalize(Xf)


def _ones_forget_bias(H, gates=4):
    b = np.zeros((gates * H, 1), np.float32)
    b[H:2 * H] = 1.0  # rows of the forget gate (order i, f, g, o)
    return b


def _hidden_units(fname, name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer, float)) or int(v) != v or v < 1:
        raise NetworkError(f"{fname}: numHiddenUnits must be a positive integer; got {v!r}.")
    return int(v)


def _output_mode(fname, name, v):
    mode = str(v).lower()
    if mode not in ("sequence", "last"):
        raise NetworkError(f"{fname}: OutputMode must be 'sequence' (every time step) or 'last' (the last time "
                           f"step only, e.g. for sequence classification); got {v!r}.")
    return mode


def _default_activation(default):
    def check(fname, name, v):
        if str(v).lower() != default:
            raise NetworkError(f"{fname}: dlteach implements the default activations only (StateActivationFunction="
                               "'tanh', GateActivationFunction='sigmoid').")
        return default
    return check


def _reset_gate_mode(fname, name, v):
    mode = str(v).lower()
    if mode not in ("after-multiplication", "before-multiplication", "recurrent-bias-after-multiplication"):
        raise NetworkError("gruLayer: ResetGateMode must be 'after-multiplication' (default), "
                           f"'before-multiplication' or 'recurrent-bias-after-multiplication'; got {v!r}.")
    return mode


def _recurrent(bias_init, *extra, states):
    """The options of lstmLayer / gruLayer, in MATLAB's order."""
    return (Option("numHiddenUnits", check=_hidden_units, prop="NumHiddenUnits", positional=True),
            Option("OutputMode", "sequence", _output_mode), *extra,
            Option("InputWeightsInitializer", "glorot", _initializer),
            Option("RecurrentWeightsInitializer", "orthogonal", _initializer),
            Option("BiasInitializer", bias_init, _initializer),
            *_presets("InputWeights", "RecurrentWeights", "Bias", *states),
            Option("StateActivationFunction", "tanh", _default_activation("tanh"), saved=False),
            Option("GateActivationFunction", "sigmoid", _default_activation("sigmoid"), saved=False),
            *_factors(("InputWeights", 1.0), ("RecurrentWeights", 1.0), ("Bias", 0.0)))


class _RecurrentLayer(Layer):
    _gates = 4

    def _setup(self):
        self.InputSize = "auto"

    def _shapes(self, in_size, in_fmt):
        if "C" not in in_fmt:
            raise NetworkError(f"Layer '{self.Name}' needs an input with channels ('C'); it receives {in_fmt}.")
        C = int(np.prod(in_size))
        H = self.NumHiddenUnits
        out = {"InputWeights": (self._gates * H, C), "RecurrentWeights": (self._gates * H, H),
               "Bias": (self._bias_rows() * H, 1), "HiddenState": (H, 1)}
        if "CellState" in self.state_names:
            out["CellState"] = (H, 1)
        return out

    def _bias_rows(self):
        return self._gates

    def _init_value(self, name, shape):
        if name == "InputWeights":
            return _initialize(self.InputWeightsInitializer, shape, self, "input weights")
        if name == "RecurrentWeights":
            return _initialize(self.RecurrentWeightsInitializer, shape, self, "recurrent weights")
        if name == "Bias":
            init = self.BiasInitializer
            if isinstance(init, str) and init.lower() == "unit-forget-gate":
                if self._gates != 4:
                    raise NetworkError(f"Layer '{self.Name}': 'unit-forget-gate' is an LSTM bias initializer; a GRU "
                                       "has no forget gate. Use 'zeros', 'ones' or 'narrow-normal'.")
                return _ones_forget_bias(self.NumHiddenUnits)
            return _initialize(init, shape, self, "bias")
        return np.zeros(shape, np.float32)  # HiddenState / CellState

    def _initial_state(self, v, B, name):
        shape = np.shape(value_of(v))
        if len(shape) == 2 and shape[1] not in (1, B):
            raise NetworkError(
                f"Layer '{self.Name}': its {name} holds {shape[1]} observations (from an earlier forward/predict "
                f"whose state was stored with net.State = state), but this mini-batch has {B}. The stored state "
                "is the initial state of every sequence of the next call: for independent sequences (e.g. "
                "sequence classification) do not store it, or start afresh with net = resetState(net).")
        return v

    def _describe_common(self, kind):
        return f"{kind} with {self.NumHiddenUnits} hidden units"

    def _output(self, Y, h):
        return h if self.OutputMode == "last" else Y


@register_layer("lstmLayer", *_recurrent("unit-forget-gate", states=("HiddenState", "CellState")),
                default_name="lstm", Type="LSTM", learnables=("InputWeights", "RecurrentWeights", "Bias"),
                states=("HiddenState", "CellState"))
class LSTMLayer(_RecurrentLayer):
    """LSTM layer (MATLAB ``lstmLayer(numHiddenUnits, Name=Value)``), see :func:`dlteach.recurrent.lstm`.

    Learnables InputWeights 4H x C, RecurrentWeights 4H x H, Bias 4H x 1 (gate rows input, forget,
    cell candidate, output); State HiddenState, CellState (H x 1 zeros; after forward/predict, H x B).
    ``OutputMode``: "sequence" (default; "CBT" output) or "last" (the last time step, "CB").
    Initializers (MATLAB's defaults): InputWeightsInitializer "glorot" (numIn = C, numOut = 4H),
    RecurrentWeightsInitializer "orthogonal" (Q of the QR decomposition of a 4H x H normal matrix),
    BiasInitializer "unit-forget-gate" (forget-gate biases 1, the others 0). Learn-rate / L2 factors as
    fullyConnectedLayer's (InputWeights..., RecurrentWeights..., Bias...).
    """

    def _describe(self):
        return self._describe_common("LSTM")

    def _forward(self, X, p, training):
        from .recurrent import lstm

        fmt = fmt_of(X)
        B = X.shape[fmt.index("B")] if "B" in fmt else 1
        h0 = self._initial_state(p["HiddenState"], B, "HiddenState")
        c0 = self._initial_state(p["CellState"], B, "CellState")
        Y, h, c = lstm(X, h0, c0, p["InputWeights"], p["RecurrentWeights"], p["Bias"], return_state=True)
        return self._output(Y, h), {"HiddenState": wrap(data_of(h), ""), "CellState": wrap(data_of(c), "")}


@register_layer("gruLayer",
                *_recurrent("zeros", Option("ResetGateMode", "after-multiplication", _reset_gate_mode),
                            states=("HiddenState",)),
                default_name="gru", Type="GRU", learnables=("InputWeights", "RecurrentWeights", "Bias"),
                states=("HiddenState",))
class GRULayer(_RecurrentLayer):
    """GRU layer (MATLAB ``gruLayer(numHiddenUnits, Name=Value)``), see :func:`dlteach.recurrent.gru`.

    Learnables InputWeights 3H x C, RecurrentWeights 3H x H, Bias 3H x 1 (6H x 1 with
    ResetGateMode="recurrent-bias-after-multiplication"); gate rows reset, update, candidate; State
    HiddenState. ``ResetGateMode`` "after-multiplication" (default). Initializers: "glorot",
    "orthogonal", BiasInitializer "zeros". ``OutputMode`` "sequence" | "last".
    """

    _gates = 3

    def _bias_rows(self):
        return 6 if self.ResetGateMode == "recurrent-bias-after-multiplication" else 3

    def _describe(self):
        return self._describe_common("GRU")

    def _forward(self, X, p, training):
        from .recurrent import gru

        fmt = fmt_of(X)
        B = X.shape[fmt.index("B")] if "B" in fmt else 1
        h0 = self._initial_state(p["HiddenState"], B, "HiddenState")
        Y, h = gru(X, h0, p["InputWeights"], p["RecurrentWeights"], p["Bias"], ResetGateMode=self.ResetGateMode,
                   return_state=True)
        return self._output(Y, h), {"HiddenState": wrap(data_of(h), "")}


# -------------------------------------------------------------------------------------------------
# layers with several inputs

class _MultiInputLayer(Layer):
    """Inputs in1, in2, ... (MATLAB's numInputs argument sets NumInputs)."""

    @property
    def NumInputs(self) -> int:
        return len(self._in_ports)

    @NumInputs.setter
    def NumInputs(self, n):
        self._in_ports = tuple(f"in{k + 1}" for k in range(n))

    def _sizes_list(self, in_size, in_fmt):
        if self.NumInputs == 1:
            return [tuple(in_size)], [in_fmt]
        return [tuple(x) for x in in_size], list(in_fmt)

    def _inputs_text(self, sizes, fmts):
        return ", ".join(f"{p} is {size_text(sz)} ({f})" for p, sz, f in zip(self._in_ports, sizes, fmts))


_NUM_INPUTS = Option("numInputs", check=functools.partial(_v.integer, hint="It is the number of inputs of the layer."),
                     prop="NumInputs", positional=True)


@register_layer("additionLayer", _NUM_INPUTS, default_name="addition", Type="Addition")
class AdditionLayer(_MultiInputLayer):
    """Addition layer (MATLAB ``additionLayer(numInputs)``): Y = X1 + X2 + ... element by element.

    Inputs are named in1, in2, ...: connect with ``connectLayers(net, "fc_2", "add/in2")``. All inputs must
    have the same size and format.
    """

    def _describe(self):
        return f"Element-wise addition of {self.NumInputs} inputs"

    def _check_input(self, in_size, in_fmt):
        sizes, fmts = self._sizes_list(in_size, in_fmt)
        if any(sz != sizes[0] or f != fmts[0] for sz, f in zip(sizes, fmts)):
            raise NetworkError(
                f"Layer '{self.Name}' (additionLayer) adds its inputs element by element, so they must have the same "
                f"size and format: {self._inputs_text(sizes, fmts)}. Change a branch (e.g. a 1x1 convolution with "
                "the right number of filters and stride) so that both arrive with the same size."
            )

    def _forward(self, X, p, training):
        Xs = X if isinstance(X, list) else [X]
        out = data_of(Xs[0])
        for x in Xs[1:]:
            out = out + data_of(x)
        return wrap(out, fmt_of(Xs[0])), None


@register_layer("concatenationLayer", Option("dim", check=functools.partial(_v.integer, hint="dim counts from 1, as in MATLAB."), prop="Dim",
                       positional=True), _NUM_INPUTS,
                default_name="concat", Type="Concatenation")
class ConcatenationLayer(_MultiInputLayer):
    """Concatenation layer (MATLAB ``concatenationLayer(dim, numInputs)``): joins its inputs along dimension
    ``dim`` (1-based in MATLAB's layout: 3 is C for "SSCB" images, 1 is C for "CB" features; the batch
    dimension is refused). Inputs in1, in2, ...; all other dimensions must agree."""

    def _describe(self):
        return f"Concatenation of {self.NumInputs} inputs along dimension {self.Dim}"

    def _axis(self, fmt):
        """0-based axis in the per-observation format (the batch dimension is refused)."""
        full = fmt + "B"
        if self.Dim > len(full):
            raise NetworkError(
                f"Layer '{self.Name}' (concatenationLayer) concatenates along dimension {self.Dim}, but its inputs "
                f"have format {full} ({len(full)} dimensions). For images (SSCB) dimension 3 is C; for features "
                "(CB) dimension 1 is C."
            )
        label = full[self.Dim - 1]
        if label == "B":
            raise NetworkError(
                f"Layer '{self.Name}' (concatenationLayer): dimension {self.Dim} of {full} is the batch dimension B; "
                "a layer cannot concatenate observations. Use the channel dimension (3 for SSCB, 1 for CB)."
            )
        return self.Dim - 1

    def _check_input(self, in_size, in_fmt):
        sizes, fmts = self._sizes_list(in_size, in_fmt)
        if any(f != fmts[0] for f in fmts):
            raise NetworkError(f"Layer '{self.Name}' ({self.Type}): its inputs have different formats: "
                               f"{self._inputs_text(sizes, fmts)}.")
        ax = self._axis(fmts[0])
        rest = [tuple(s for k, s in enumerate(sz) if k != ax) for sz in sizes]
        if any(r != rest[0] for r in rest):
            raise NetworkError(
                f"Layer '{self.Name}' ({self.Type}) concatenates along dimension {ax + 1} ({fmts[0][ax]}); every other "
                f"dimension must agree, but {self._inputs_text(sizes, fmts)}."
            )

    def _forward(self, X, p, training):
        Xs = X if isinstance(X, list) else [X]
        ax = self._axis(fmt_of(Xs[0]).replace("B", ""))
        return wrap(anp.concatenate([data_of(x) for x in Xs], axis=ax), fmt_of(Xs[0])), None


@register_layer("depthConcatenationLayer", _NUM_INPUTS, default_name="depthcat", Type="Depth concatenation")
class DepthConcatenationLayer(ConcatenationLayer):
    """Depth concatenation layer (MATLAB ``depthConcatenationLayer(numInputs)``): joins its inputs along the
    channel dimension C. Inputs in1, in2, ...; the spatial sizes must agree."""

    def _setup(self):
        self.Dim = None

    def _describe(self):
        return f"Depth concatenation of {self.NumInputs} inputs"

    def _axis(self, fmt):
        if "C" not in fmt:
            raise NetworkError(f"Layer '{self.Name}' (depthConcatenationLayer) needs inputs with a channel dimension C; "
                               f"got {fmt}B.")
        return fmt.index("C")


# -------------------------------------------------------------------------------------------------
# transposed convolution

@register_layer("transposedConv2dLayer",
                Option("filterSize", check=_v.pair, prop="FilterSize", positional=True),
                Option("numFilters", check=_v.integer, prop="NumFilters", positional=True),
                Option("Stride", (1, 1), _v.pair), Option("Cropping", (0, 0, 0, 0), _v.padding),
                Option("WeightsInitializer", "glorot", _initializer), Option("BiasInitializer", "zeros", _initializer),
                *_presets("Weights", "Bias"), *_factors(("Weight", 1.0), ("Bias", 0.0)),
                default_name="transconv", Type="2-D Transposed Convolution", learnables=("Weights", "Bias"))
class TransposedConvolution2DLayer(Layer):
    """Transposed 2-D convolution layer (MATLAB ``transposedConv2dLayer``): upsampling, see ``dltranspconv``.

    Weights h x w x NumFilters x NumChannels (MATLAB's order), Bias 1 x 1 x NumFilters. Output size
    (H - 1) * Stride + h - cropping. Options: Stride (1), Cropping (0, [h w], [t b l r] or "same":
    output = Stride * input), WeightsInitializer ("glorot": numIn = h*w*NumChannels, numOut =
    h*w*NumFilters -- *decision*, the convolution layer's definition), BiasInitializer ("zeros"), Weights, Bias,
    learn-rate / L2 factors, Name.
    """

    def _setup(self):
        self.NumChannels = "auto"

    def _describe(self):
        return (f"{self.NumFilters} {size_text(self.FilterSize)} transposed convolutions with stride "
                f"[{' '.join(map(str, self.Stride))}] and cropping {_padding_text(self.Cropping)}")

    def _check_input(self, in_size, in_fmt):
        _require_images(self, "transposedConv2dLayer", in_size, in_fmt,
                        " Put it after an imageInputLayer or another 2-D layer (in a GAN generator: after a layer "
                        "that reshapes the features into SSCB images).")

    def _shapes(self, in_size, in_fmt):
        self._check_input(in_size, in_fmt)
        h, w = self.FilterSize
        return {"Weights": (h, w, self.NumFilters, in_size[2]), "Bias": (1, 1, self.NumFilters)}

    def _fans(self, shape):  # weights h x w x F x C (C = input channels)
        h, w, f, c = shape
        return h * w * c, h * w * f

    _init_value = FullyConnectedLayer._init_value

    def _forward(self, X, p, training):
        return ops.dltranspconv(X, p["Weights"], p["Bias"], Stride=self.Stride, Cropping=self.Cropping), None


# -------------------------------------------------------------------------------------------------
# custom layers: functionLayer and the class protocol

class networkDataLayout:
    """Size and format of the data a layer receives (MATLAB ``networkDataLayout``), given to a custom layer's
    ``initialize(self, layout)``. ``Size`` includes the batch dimension as NaN (MATLAB), e.g. (4, NaN)
    with ``Format`` "CB"; ``finddim(layout, "C")`` and ``dims(layout)`` work on it."""

    def __init__(self, Size, Format=""):
        self.Size = tuple(Size)
        self.Format = str(Format)

    def __repr__(self):
        return f"networkDataLayout(Size={list(self.Size)}, Format={self.Format!r})"


def _layout(size, fmt):
    return networkDataLayout(tuple(int(s) for s in size) + (float("nan"),), fmt + "B")


class _PortsMixin:
    """Settable NumInputs / InputNames / NumOutputs / OutputNames (MATLAB custom-layer properties)."""

    @property
    def InputNames(self):
        return list(self._in_ports)

    @InputNames.setter
    def InputNames(self, names):
        self._in_ports = tuple(str(n) for n in ([names] if isinstance(names, str) else names))

    @property
    def NumInputs(self):
        return len(self._in_ports)

    @NumInputs.setter
    def NumInputs(self, n):
        n = int(n)
        if n < 1:
            raise ValueError(f"NumInputs must be a positive integer; got {n!r}.")
        self._in_ports = ("in",) if n == 1 else tuple(f"in{k + 1}" for k in range(n))

    @property
    def OutputNames(self):
        return list(self._out_ports)

    @OutputNames.setter
    def OutputNames(self, names):
        self._out_ports = tuple(str(n) for n in ([names] if isinstance(names, str) else names))

    @property
    def NumOutputs(self):
        return len(self._out_ports)

    @NumOutputs.setter
    def NumOutputs(self, n):
        n = int(n)
        if n < 1:
            raise ValueError(f"NumOutputs must be a positive integer; got {n!r}.")
        self._out_ports = ("out",) if n == 1 else tuple(f"out{k + 1}" for k in range(n))


def _call_layer_code(layer, fun, Xs, formattable, what, n_out, state_names=()):
    """Run user code on the inputs; return (outputs list, state dict). Errors name the layer and the fix."""
    fmt0 = fmt_of(Xs[0])
    args = Xs if formattable else [wrap(data_of(x), "") for x in Xs]
    result = fun(*args)
    parts = list(result) if isinstance(result, tuple) else [result]
    want = n_out + len(state_names)
    if len(parts) != want:
        extra = f" and then one value per State property ({', '.join(state_names)})" if state_names else ""
        raise NetworkError(
            f"Layer '{layer.Name}': {what} returned {len(parts)} value(s) but the layer has {n_out} output(s){extra}; "
            f"return {want} value(s) (a tuple when several)."
        )
    outs = []
    for k, y in enumerate(parts[:n_out]):
        if not isdlarray(y):
            y = wrap(y if isbox(y) else np.asarray(y), "")
        if formattable:
            if not fmt_of(y):
                raise NetworkError(
                    f"Layer '{layer.Name}': output {k + 1} of {what} is an unformatted dlarray. A Formattable layer "
                    "must label its outputs, e.g. return dlarray(Z, 'SSCB') (as the MATLAB example does)."
                )
        else:
            if y.ndim != len(fmt0):
                raise NetworkError(
                    f"Layer '{layer.Name}': output {k + 1} of {what} has {y.ndim} dimensions but the input has format "
                    f"{fmt0!r} ({len(fmt0)} dimensions). A layer that is not Formattable gets unformatted data and "
                    "its outputs get the input's format; to change the layout, make it Formattable "
                    "(functionLayer(..., Formattable=True) / Formattable = True) and return a formatted dlarray."
                )
            y = wrap(data_of(y), fmt0)
        outs.append(y)
    state = {}
    for name, v in zip(state_names, parts[n_out:]):
        raw = data_of(v)
        state[name] = wrap(raw if isbox(raw) else np.asarray(raw, dtype=np.float32), "")
    return outs, state


class FunctionLayer(_PortsMixin, Layer):
    """A layer that applies a function (MATLAB ``functionLayer``); not registered: its code cannot be saved."""

    default_name = "layer"
    Type = "Function"

    def __init__(self, fun, Formattable=False, NumInputs=None, NumOutputs=None, InputNames=None, OutputNames=None,
                 Description="", Acceleratable=False, Name=""):
        self.Name = _check_name("functionLayer", "Name", Name)
        if not callable(fun):
            raise TypeError(f"functionLayer: fun must be a function (MATLAB function handle @(X) ...); got {fun!r}.")
        self.PredictFcn = fun
        self.Formattable = bool(Formattable)
        self.Acceleratable = bool(Acceleratable)
        self._in_ports, self._out_ports = ("in",), ("out",)
        if InputNames is not None:
            self.InputNames = InputNames
        elif NumInputs is not None:
            self.NumInputs = NumInputs
        if OutputNames is not None:
            self.OutputNames = OutputNames
        elif NumOutputs is not None:
            self.NumOutputs = NumOutputs
        self._description = str(Description) or f"Function layer: {getattr(fun, '__name__', 'function')}"

    @property
    def Description(self):
        return self._description

    def _describe(self):
        return self._description

    def __repr__(self):
        name = getattr(self.PredictFcn, "__name__", "fun")
        return f"functionLayer({name}, Formattable={self.Formattable}, Name={self.Name!r})"

    def _forward(self, X, p, training):
        Xs = X if isinstance(X, list) else [X]
        outs, _ = _call_layer_code(self, self.PredictFcn, Xs, self.Formattable, "the function", self.NumOutputs)
        return (outs[0] if self.NumOutputs == 1 else tuple(outs)), None


class CustomLayer(_PortsMixin, Layer):
    """Base class of your own layers (MATLAB ``classdef myLayer < nnet.layer.Layer``).

    The MATLAB class and its Python translation, side by side (the GAN example's layer)::

        classdef projectAndReshapeLayer < nnet.layer.Layer ...      class projectAndReshapeLayer(CustomLayer):
                & nnet.layer.Formattable                                Formattable = True
            properties                                                  # ordinary attributes: self.OutputSize
                OutputSize
            end
            properties (Learnable)                                      Learnable = ("Weights", "Bias")
                Weights
                Bias
            end
            methods                                                     def __init__(self, outputSize, Name=""):
                function layer = projectAndReshapeLayer(outputSize,...)     super().__init__(Name=Name)
                    layer.Name = name; layer.OutputSize = outputSize;       self.OutputSize = outputSize
                    layer.Type = "Project and Reshape"; ...                 self.Type = "Project and Reshape"
                end                                                         self.Weights = self.Bias = None
                function layer = initialize(layer,layout)               def initialize(self, layout):
                    ... layer.Weights = initializeGlorot(...)               ...; self.Weights = ...; return self
                end
                function Z = predict(layer,X)                           def predict(self, X):
                    ... Z = dlarray(Z,"SSCB");                              ...; return dlarray(Z, "SSCB")
                end
            end
        end

    Protocol:

    * ``Learnable = (...)`` and ``State = (...)``: names of the learnable / state attributes (MATLAB
      ``properties (Learnable)`` / ``properties (State)``). Their rows appear in ``net.Learnables`` /
      ``net.State``; inside ``predict`` / ``forward`` the attributes hold the current (traced) values.
    * ``predict(self, X1, ..., Xn)`` (required): the outputs, followed by one new value per State name
      (MATLAB ``[Z,state1,...] = predict(layer,X)``). ``forward`` (optional, training mode) has the same
      signature and defaults to ``predict``.
    * ``initialize(self, layout1, ...)`` (optional): set the learnables that are still None from the
      input layouts (:class:`networkDataLayout`: ``Size`` with NaN for the batch, ``Format``); return self.
      Values are stored as float32.
    * ``Formattable = True``: receive formatted dlarrays and return formatted ones (MATLAB
      ``nnet.layer.Formattable``); otherwise inputs arrive unformatted and outputs get the input's format.
    * ``NumInputs`` / ``InputNames`` / ``NumOutputs`` / ``OutputNames``, ``Name``, ``Type``,
      ``Description`` can be set in the constructor, as in MATLAB.

    A network with a custom layer trains, predicts and prints like any other; ``save`` refuses it (no
    pickle: the class's code is not data) -- save ``net.Learnables`` instead and rebuild the network in code.
    """

    Learnable: tuple = ()
    State: tuple = ()
    Formattable = False
    Type = "Custom"
    default_name = "layer"

    def __init__(self, Name="", Description=""):
        self.Name = _check_name(type(self).__name__, "Name", Name)
        self._in_ports, self._out_ports = ("in",), ("out",)
        self._description = Description

    @property
    def learnable_names(self):
        return tuple(type(self).Learnable)

    @property
    def state_names(self):
        return tuple(type(self).State)

    @property
    def Description(self):
        return self._description or self.Type

    @Description.setter
    def Description(self, text):
        self._description = str(text)

    def _describe(self):
        return self.Description

    def __repr__(self):
        return f"{type(self).__name__}(Name={self.Name!r})"

    def predict(self, *X):  # pragma: no cover - the subclass defines it
        raise NetworkError(f"Custom layer {type(self).__name__} must define predict(self, X).")

    def forward(self, *X):
        return self.predict(*X)

    def initialize(self, *layouts):
        return self

    def _shapes_given(self, in_size, in_fmt, current):
        c = copy.copy(self)
        for name, v in current.items():
            if v is not None:
                setattr(c, name, v)
        multi = self.NumInputs > 1
        layouts = [_layout(sz, f) for sz, f in zip(in_size, in_fmt)] if multi else [_layout(in_size, in_fmt)]
        got = c.initialize(*layouts)
        c = c if got is None else got
        values, shapes = {}, {}
        for name in self.learnable_names + self.state_names:
            v = getattr(c, name, None)
            if v is None:
                raise NetworkError(
                    f"Layer '{self.Name}' ({type(self).__name__}): {name} is still empty after initialize. Set it in "
                    "the constructor or in initialize(self, layout) (MATLAB: if isempty(layer.Weights), layer.Weights = ...)."
                )
            data = np.array(value_of(v), dtype=np.float32)
            values[name] = data
            shapes[name] = data.shape
        self._initial_values = values
        return shapes

    def _init_value(self, name, shape):
        return self._initial_values[name]

    def _forward(self, X, p, training):
        c = copy.copy(self)
        for name, v in p.items():
            setattr(c, name, v)
        Xs = X if isinstance(X, list) else [X]
        fun, what = (c.forward, "forward") if training else (c.predict, "predict")
        outs, state = _call_layer_code(self, fun, Xs, type(self).Formattable, what, self.NumOutputs, self.state_names)
        return (outs[0] if self.NumOutputs == 1 else tuple(outs)), (state or None)


def functionLayer(fun, Formattable=False, NumInputs=None, NumOutputs=None, InputNames=None, OutputNames=None,
                  Description="", Acceleratable=False, Name=""):
    """Function layer (MATLAB ``functionLayer(fun, Name=Value)``): Y = fun(X1, ..., Xn).

    ``fun`` is any function of dlarrays built from dlteach operations (it is traced like the rest of the
    network; no learnables). ``Formattable=False`` (default, as in MATLAB): fun receives unformatted
    dlarrays and its outputs get the format of the first input (the number of dimensions must stay);
    ``Formattable=True``: fun receives formatted dlarrays and must return formatted ones.
    ``NumInputs`` / ``NumOutputs`` (or ``InputNames`` / ``OutputNames``): ports in1, in2 / out1, out2 ...
    when there are several; several outputs are returned by fun as a tuple. ``Acceleratable`` is accepted
    for MATLAB compatibility and has no effect. ``save`` cannot store the function (no pickle).
    """
    return FunctionLayer(fun, Formattable=Formattable, NumInputs=NumInputs, NumOutputs=NumOutputs,
                         InputNames=InputNames, OutputNames=OutputNames, Description=Description,
                         Acceleratable=Acceleratable, Name=Name)
