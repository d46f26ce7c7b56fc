"""Layer constructors for :func:`dlteach.network.dlnetwork` (MATLAB names, options and defaults).

MATLAB counterparts: ``featureInputLayer``, ``imageInputLayer``, ``fullyConnectedLayer``,
``convolution2dLayer``, ``batchNormalizationLayer``, ``reluLayer``, ``leakyReluLayer``, ``sigmoidLayer``,
``tanhLayer``, ``softmaxLayer``, ``dropoutLayer``, ``maxPooling2dLayer``, ``averagePooling2dLayer``,
``flattenLayer``, ``additionLayer``, ``concatenationLayer``, ``depthConcatenationLayer``,
``transposedConv2dLayer``, ``functionLayer``, custom layers (:class:`CustomLayer`, MATLAB ``nnet.layer.Layer``)
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

Learn-rate and L2 factors (``WeightLearnRateFactor=1``, ``BiasLearnRateFactor=1``, ``WeightL2Factor=1``,
``BiasL2Factor=0``; batch norm ``OffsetLearnRateFactor``/``ScaleLearnRateFactor`` = 1,
``OffsetL2Factor``/``ScaleL2Factor`` = 1) are honoured by the updaters only with the network syntax
``adamupdate(net, grad, ...)``, as in MATLAB.

Unnamed layers get names when put in a network: the type's default name ("fc", "conv", "batchnorm",
"relu", ...) when it occurs once, and MATLAB's numbering "conv_1", "conv_2", ... when several unnamed
layers share it (names already used are skipped).
"""

from __future__ import annotations

import copy

import autograd.numpy as anp
import numpy as np
from autograd.tracer import isbox

from . import ops
from . import validate as _v
from .dlarray import dlarray, isdlarray
from .errors import NetworkError
from .formats import data_of, fmt_of, size_text, value_of, wrap

__all__ = [
    "Layer",
    "featureInputLayer",
    "imageInputLayer",
    "fullyConnectedLayer",
    "convolution2dLayer",
    "batchNormalizationLayer",
    "reluLayer",
    "leakyReluLayer",
    "sigmoidLayer",
    "tanhLayer",
    "softmaxLayer",
    "dropoutLayer",
    "maxPooling2dLayer",
    "averagePooling2dLayer",
    "flattenLayer",
    "additionLayer",
    "concatenationLayer",
    "depthConcatenationLayer",
    "transposedConv2dLayer",
    "functionLayer",
    "CustomLayer",
    "networkDataLayout",
    "sequenceInputLayer",
    "lstmLayer",
    "gruLayer",
]

_SIZE_FMT = {"SSC": "SSCB", "C": "CB"}


def _pair(v, name, fname="layer"):
    return _v.pair(fname, name, v, 1)


def _padding_text(padding):
    """MATLAB's display of a Padding option: 'same' or [t b l r]."""
    return "'same'" if padding == "same" else "[" + " ".join(map(str, padding)) + "]"


def _require_images(layer, kind, in_size, in_fmt, advice=""):
    """A 2-D layer needs SSC(B) input; the error names the layer, what it received and how to fix it."""
    if in_fmt != "SSC":
        raise NetworkError(
            f"Layer '{layer.Name}' ({kind}) needs images (format SSCB) as input, but it receives "
            f"{in_fmt}B data of size {size_text(in_size)}.{advice}"
        )


def _padding_option(p, fname="layer"):
    return _v.padding(fname, "Padding", p)


def _as_value(v, name):
    """Preset learnable/state value -> float32 unformatted dlarray (keeps dlarray data)."""
    if v is None:
        return None
    data = value_of(v)
    data = np.array(data, dtype=np.float32)
    return wrap(data, "")


# -------------------------------------------------------------------------------------------------
# initializers

def _fans(layer, shape):
    if isinstance(layer, TransposedConvolution2DLayer):  # weights h x w x F x C (C = input channels)
        h, w, f, c = shape
        return h * w * c, h * w * f
    if isinstance(layer, Convolution2DLayer):
        h, w, c, f = shape
        return h * w * c, h * w * f
    return shape[1], shape[0]


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
        fan_in, fan_out = _fans(layer, shape)
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
    """Base class of dlteach layers.

    Subclasses define ``_prefix`` (default name), ``Type`` (as in analyzeNetwork), ``_learnables`` and
    ``_states`` (parameter names), and implement ``_shapes`` (parameter shapes from the input size),
    ``_forward`` and ``_describe``.
    """

    _prefix = "layer"
    Type = "Layer"
    _learnables: tuple = ()
    _states: tuple = ()
    _ctor: tuple = ()  # (option name, default) pairs saved by serialization, in constructor order
    _positional: tuple = ()  # names of positional constructor arguments

    _in_ports: tuple = ("in",)
    _out_ports: tuple = ("out",)

    def __init__(self, Name=""):
        if not isinstance(Name, str):
            raise TypeError(f"Name must be a string; got {Name!r}.")
        if "/" in Name:
            raise NetworkError(f"Layer name {Name!r} contains '/', which separates a layer from its port ('add/in2'); "
                               "choose another name.")
        self.Name = Name

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

    # options for save/load and repr --------------------------------------------------------------
    def _options(self) -> dict:
        out = {}
        for key in self._positional:
            out[key] = getattr(self, "_arg_" + key)
        for key, _default in self._ctor:
            out[key] = getattr(self, key)
        if self.Name:
            out["Name"] = self.Name
        return out

    @classmethod
    def _from_options(cls, opts: dict):
        """Rebuild a layer from :meth:`_options` (used by serialization)."""
        opts = dict(opts)
        args = [opts.pop(k) for k in cls._positional]
        kwargs = {cls._rename.get(k, k): v for k, v in opts.items()}
        return cls(*args, **kwargs)

    _rename: dict = {}

    def __repr__(self):
        opts = self._options()
        pos = [repr(_plain(opts.pop(k))) for k in self._positional]
        defaults = dict(self._ctor)
        kw = [f"{k}={_plain(v)!r}" for k, v in opts.items()
              if k == "Name" or isinstance(v, np.ndarray) or defaults.get(k, object()) != v]
        return f"{_CONSTRUCTOR[type(self)]}({', '.join(pos + kw)})"

    @property
    def Description(self) -> str:
        return self._describe()

    def _describe(self) -> str:
        return self.Type

    # network protocol ------------------------------------------------------------------------
    def _check_input(self, in_size, in_fmt):
        """Raise NetworkError if this layer cannot take an input of that size/format."""

    def _shapes(self, in_size, in_fmt) -> dict:
        """Shapes of learnables and state for this input (per-observation size, format without B)."""
        return {}

    def _shapes_given(self, in_size, in_fmt, current) -> dict:
        """Like ``_shapes``, also told the current parameter values (dict; None when unset)."""
        return self._shapes(in_size, in_fmt)

    def _init_value(self, name, shape):
        raise NotImplementedError

    def _preset(self, name):
        return getattr(self, name, None)

    def _forward(self, X, p, training):
        """(Y, new_state_dict) for input X with parameter dict p."""
        raise NotImplementedError

    def _factor(self, name, kind):
        return 1.0

    def _copy(self):
        return copy.copy(self)


def _plain(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple):
        return list(v)
    return v


# -------------------------------------------------------------------------------------------------
# input layers

class _InputLayer(Layer):
    _in_fmt = ""
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


class FeatureInputLayer(_InputLayer):
    _prefix = "input"
    Type = "Feature Input"
    _in_fmt = "C"
    _positional = ("numFeatures",)
    _ctor = (("Normalization", "none"), ("Mean", None), ("StandardDeviation", None))

    def __init__(self, numFeatures, Normalization="none", Mean=None, StandardDeviation=None, Name=""):
        super().__init__(Name)
        n = _v.integer("featureInputLayer", "numFeatures", numFeatures)
        self._arg_numFeatures = n
        self.InputSize = (n,)
        self.Normalization = Normalization
        self.Mean = None if Mean is None else np.asarray(Mean, dtype=np.float32)
        self.StandardDeviation = None if StandardDeviation is None else np.asarray(StandardDeviation, np.float32)

    def _describe(self):
        return f"{self.InputSize[0]} features"


class ImageInputLayer(_InputLayer):
    _prefix = "imageinput"
    Type = "Image Input"
    _in_fmt = "SSC"
    _positional = ("inputSize",)
    _ctor = (("Normalization", "zerocenter"), ("Mean", None), ("StandardDeviation", None))

    def __init__(self, inputSize, Normalization="zerocenter", Mean=None, StandardDeviation=None, Name=""):
        super().__init__(Name)
        size = list(_v.integers("imageInputLayer", "inputSize", inputSize, (2, 3)))
        if len(size) == 2:
            size.append(1)
        self._arg_inputSize = tuple(size)
        self.InputSize = tuple(size)
        self.Normalization = Normalization
        self.Mean = None if Mean is None else np.asarray(Mean, dtype=np.float32)
        self.StandardDeviation = None if StandardDeviation is None else np.asarray(StandardDeviation, np.float32)

    def _describe(self):
        return f"{size_text(self.InputSize)} images" + (
            f" with '{self.Normalization}' normalization" if self.Normalization != "none" else "")


def featureInputLayer(numFeatures, Normalization="none", Mean=None, StandardDeviation=None, Name=""):
    """Feature input layer (MATLAB ``featureInputLayer``): input ``numFeatures x N`` data, format "CB".

    ``Normalization`` "none" (default), "zerocenter" (needs ``Mean``) or "zscore" (``Mean``,
    ``StandardDeviation``).
    """
    return FeatureInputLayer(numFeatures, Normalization=Normalization, Mean=Mean,
                             StandardDeviation=StandardDeviation, Name=Name)


def imageInputLayer(inputSize, Normalization="zerocenter", Mean=None, StandardDeviation=None, Name=""):
    """Image input layer (MATLAB ``imageInputLayer``): ``h x w x c x N`` images, format "SSCB".

    ``Normalization`` defaults to "zerocenter" as in MATLAB, which subtracts ``Mean``. *Decision:* a
    dlnetwork cannot compute the mean itself (trainnet does that from the training set; MATLAB's doc
    says a custom training loop must set ``Mean``), so zerocenter/zscore without ``Mean`` is a clear
    NetworkError when the network is created. Pass ``Normalization="none"`` as the MathWorks
    custom-loop examples do, or give ``Mean=`` (scalar, one per channel, or h x w x c).
    """
    return ImageInputLayer(inputSize, Normalization=Normalization, Mean=Mean,
                           StandardDeviation=StandardDeviation, Name=Name)


# -------------------------------------------------------------------------------------------------
# learnable layers

class FullyConnectedLayer(Layer):
    _prefix = "fc"
    Type = "Fully Connected"
    _learnables = ("Weights", "Bias")
    _positional = ("outputSize",)
    _ctor = (("WeightsInitializer", "glorot"), ("BiasInitializer", "zeros"), ("WeightLearnRateFactor", 1.0),
             ("BiasLearnRateFactor", 1.0), ("WeightL2Factor", 1.0), ("BiasL2Factor", 0.0))

    def __init__(self, outputSize, WeightsInitializer="glorot", BiasInitializer="zeros", Weights=None, Bias=None,
                 WeightLearnRateFactor=1.0, BiasLearnRateFactor=1.0, WeightL2Factor=1.0, BiasL2Factor=0.0, Name=""):
        super().__init__(Name)
        n = _v.integer("fullyConnectedLayer", "outputSize", outputSize)
        self._arg_outputSize = n
        self.OutputSize = n
        self.InputSize = "auto"
        self.WeightsInitializer = WeightsInitializer
        self.BiasInitializer = BiasInitializer
        self.Weights = _as_value(Weights, "Weights")
        self.Bias = _as_value(Bias, "Bias")
        self.WeightLearnRateFactor = _v.real("layer", "WeightLearnRateFactor", WeightLearnRateFactor, low=0.0)
        self.BiasLearnRateFactor = _v.real("layer", "BiasLearnRateFactor", BiasLearnRateFactor, low=0.0)
        self.WeightL2Factor = _v.real("layer", "WeightL2Factor", WeightL2Factor, low=0.0)
        self.BiasL2Factor = _v.real("layer", "BiasL2Factor", BiasL2Factor, low=0.0)

    def _describe(self):
        return f"{self.OutputSize} fully connected layer"

    def _shapes(self, in_size, in_fmt):
        n_in = int(np.prod(in_size))
        return {"Weights": (self.OutputSize, n_in), "Bias": (self.OutputSize, 1)}

    def _init_value(self, name, shape):
        if name == "Weights":
            return _initialize(self.WeightsInitializer, shape, self, "weights")
        return _initialize(self.BiasInitializer, shape, self, "bias")

    def _factor(self, name, kind):
        return getattr(self, ("Weight" if name == "Weights" else "Bias") + kind)

    def _forward(self, X, p, training):
        return ops.fullyconnect(X, p["Weights"], p["Bias"]), None


class Convolution2DLayer(Layer):
    _prefix = "conv"
    Type = "2-D Convolution"
    _learnables = ("Weights", "Bias")
    _positional = ("filterSize", "numFilters")
    _ctor = (("Stride", (1, 1)), ("Padding", (0, 0, 0, 0)), ("DilationFactor", (1, 1)),
             ("WeightsInitializer", "glorot"), ("BiasInitializer", "zeros"), ("WeightLearnRateFactor", 1.0),
             ("BiasLearnRateFactor", 1.0), ("WeightL2Factor", 1.0), ("BiasL2Factor", 0.0))

    def __init__(self, filterSize, numFilters, Stride=1, Padding=0, DilationFactor=1, WeightsInitializer="glorot",
                 BiasInitializer="zeros", Weights=None, Bias=None, WeightLearnRateFactor=1.0, BiasLearnRateFactor=1.0,
                 WeightL2Factor=1.0, BiasL2Factor=0.0, Name=""):
        super().__init__(Name)
        self.FilterSize = _pair(filterSize, "filterSize", "convolution2dLayer")
        self._arg_filterSize = self.FilterSize
        nf = _v.integer("convolution2dLayer", "numFilters", numFilters)
        self.NumFilters = nf
        self._arg_numFilters = nf
        self.NumChannels = "auto"
        self.Stride = _pair(Stride, "Stride", "convolution2dLayer")
        self.Padding = _padding_option(Padding, "convolution2dLayer")
        self.DilationFactor = _pair(DilationFactor, "DilationFactor", "convolution2dLayer")
        self.WeightsInitializer = WeightsInitializer
        self.BiasInitializer = BiasInitializer
        self.Weights = _as_value(Weights, "Weights")
        self.Bias = _as_value(Bias, "Bias")
        self.WeightLearnRateFactor = _v.real("layer", "WeightLearnRateFactor", WeightLearnRateFactor, low=0.0)
        self.BiasLearnRateFactor = _v.real("layer", "BiasLearnRateFactor", BiasLearnRateFactor, low=0.0)
        self.WeightL2Factor = _v.real("layer", "WeightL2Factor", WeightL2Factor, low=0.0)
        self.BiasL2Factor = _v.real("layer", "BiasL2Factor", BiasL2Factor, low=0.0)

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

    _init_value = FullyConnectedLayer._init_value
    _factor = FullyConnectedLayer._factor

    def _forward(self, X, p, training):
        pad = "same" if self.Padding == "same" else list(self.Padding)
        return ops.dlconv(X, p["Weights"], p["Bias"], Stride=self.Stride, Padding=pad,
                          DilationFactor=self.DilationFactor), None


class BatchNormalizationLayer(Layer):
    _prefix = "batchnorm"
    Type = "Batch Normalization"
    _learnables = ("Offset", "Scale")
    _states = ("TrainedMean", "TrainedVariance")
    _ctor = (("Epsilon", 1e-5), ("MeanDecay", 0.1), ("VarianceDecay", 0.1), ("OffsetInitializer", "zeros"),
             ("ScaleInitializer", "ones"), ("OffsetLearnRateFactor", 1.0), ("ScaleLearnRateFactor", 1.0),
             ("OffsetL2Factor", 1.0), ("ScaleL2Factor", 1.0))

    def __init__(self, Epsilon=1e-5, MeanDecay=0.1, VarianceDecay=0.1, OffsetInitializer="zeros",
                 ScaleInitializer="ones", Offset=None, Scale=None, TrainedMean=None, TrainedVariance=None,
                 OffsetLearnRateFactor=1.0, ScaleLearnRateFactor=1.0, OffsetL2Factor=1.0, ScaleL2Factor=1.0, Name=""):
        super().__init__(Name)
        self.Epsilon = _v.real("batchNormalizationLayer", "Epsilon", Epsilon, low=0.0, low_open=True)
        self.MeanDecay = _v.real("batchNormalizationLayer", "MeanDecay", MeanDecay, 0.0, 1.0)
        self.VarianceDecay = _v.real("batchNormalizationLayer", "VarianceDecay", VarianceDecay, 0.0, 1.0)
        self.NumChannels = "auto"
        self.OffsetInitializer = OffsetInitializer
        self.ScaleInitializer = ScaleInitializer
        self.Offset = _as_value(Offset, "Offset")
        self.Scale = _as_value(Scale, "Scale")
        self.TrainedMean = _as_value(TrainedMean, "TrainedMean")
        self.TrainedVariance = _as_value(TrainedVariance, "TrainedVariance")
        self.OffsetLearnRateFactor = _v.real("layer", "OffsetLearnRateFactor", OffsetLearnRateFactor, low=0.0)
        self.ScaleLearnRateFactor = _v.real("layer", "ScaleLearnRateFactor", ScaleLearnRateFactor, low=0.0)
        self.OffsetL2Factor = _v.real("layer", "OffsetL2Factor", OffsetL2Factor, low=0.0)
        self.ScaleL2Factor = _v.real("layer", "ScaleL2Factor", ScaleL2Factor, low=0.0)

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

    def _factor(self, name, kind):
        return getattr(self, name + kind)

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

class _Elementwise(Layer):
    _fun = None

    def _forward(self, X, p, training):
        return type(self)._fun(X), None


class ReLULayer(_Elementwise):
    _prefix = "relu"
    Type = "ReLU"
    _fun = staticmethod(ops.relu)


class SigmoidLayer(_Elementwise):
    _prefix = "sigmoid"
    Type = "Sigmoid"
    _fun = staticmethod(ops.sigmoid)


class TanhLayer(_Elementwise):
    _prefix = "tanh"
    Type = "Tanh"
    _fun = staticmethod(ops.tanh)


class SoftmaxLayer(_Elementwise):
    _prefix = "softmax"
    Type = "Softmax"
    _fun = staticmethod(ops.softmax)


class LeakyReLULayer(Layer):
    _prefix = "leakyrelu"
    Type = "Leaky ReLU"
    _positional = ()
    _ctor = (("Scale", 0.01),)
    _rename = {"Scale": "scale"}

    def __init__(self, scale=0.01, Name=""):
        super().__init__(Name)
        self.Scale = _v.real("leakyReluLayer", "scale", scale)

    def _describe(self):
        return f"Leaky ReLU with scale {self.Scale:g}"

    def _forward(self, X, p, training):
        return ops.leakyrelu(X, self.Scale), None


class DropoutLayer(Layer):
    _prefix = "dropout"
    Type = "Dropout"
    _ctor = (("Probability", 0.5),)
    _rename = {"Probability": "probability"}

    def __init__(self, probability=0.5, Name=""):
        super().__init__(Name)
        self.Probability = _v.probability("dropoutLayer", "probability", probability)

    def _describe(self):
        return f"{self.Probability * 100:g}% dropout"

    def _forward(self, X, p, training):
        return ops.dropout(X, self.Probability, training=training), None


class _Pooling2DLayer(Layer):
    _positional = ("poolSize",)
    _ctor = (("Stride", (1, 1)), ("Padding", (0, 0, 0, 0)))
    _what = ""

    def __init__(self, poolSize, Stride=1, Padding=0, Name=""):
        super().__init__(Name)
        self.PoolSize = _pair(poolSize, "poolSize", type(self).__name__[0].lower() + type(self).__name__[1:])
        self._arg_poolSize = self.PoolSize
        self.Stride = _pair(Stride, "Stride", "poolingLayer")
        self.Padding = _padding_option(Padding, "poolingLayer")

    def _describe(self):
        return (f"{size_text(self.PoolSize)} {self._what} pooling with stride [{' '.join(map(str, self.Stride))}] "
                f"and padding {_padding_text(self.Padding)}")

    def _check_input(self, in_size, in_fmt):
        _require_images(self, f"{self._prefix} pooling", in_size, in_fmt)

    def _shapes(self, in_size, in_fmt):
        self._check_input(in_size, in_fmt)
        return {}

    def _forward(self, X, p, training):
        pad = "same" if self.Padding == "same" else list(self.Padding)
        fun = ops.maxpool if self._what == "max" else ops.avgpool
        return fun(X, self.PoolSize, Stride=self.Stride, Padding=pad), None


class MaxPooling2DLayer(_Pooling2DLayer):
    _prefix = "maxpool"
    Type = "2-D Max Pooling"
    _what = "max"


class AveragePooling2DLayer(_Pooling2DLayer):
    _prefix = "avgpool"
    Type = "2-D Average Pooling"
    _what = "average"


class FlattenLayer(Layer):
    """Flatten the spatial and channel dimensions into C (MATLAB ``flattenLayer``).

    Element order: the same as ``fullyconnect`` uses for images (NumPy's row-major order of h x w x c), so
    ``flattenLayer`` followed by ``fullyConnectedLayer`` equals ``fullyConnectedLayer`` alone.
    """

    _prefix = "flatten"
    Type = "Flatten"

    def _forward(self, X, p, training):
        fmt = fmt_of(X)
        if fmt == "CB":
            return X, None
        shape = X.shape
        b = fmt.index("B")
        return wrap(anp.reshape(data_of(X), (int(np.prod(shape[:b])), shape[b])), "CB"), None


# -------------------------------------------------------------------------------------------------
# layers with several inputs

def _numbered_ports(n, who):
    n = int(n)
    if n < 1:
        raise ValueError(f"{who}: numInputs must be a positive integer; got {n!r}.")
    return tuple(f"in{k + 1}" for k in range(n))


class _MultiInputLayer(Layer):
    def __init__(self, numInputs, Name, who):
        super().__init__(Name)
        numInputs = _v.integer(who, "numInputs", numInputs, hint="It is the number of inputs of the layer.")
        self._in_ports = _numbered_ports(numInputs, who)
        self._arg_numInputs = int(numInputs)

    def _sizes_list(self, in_size, in_fmt):
        if self.NumInputs == 1:
            return [tuple(in_size)], [in_fmt]
        return [tuple(x) for x in in_size], list(in_fmt)

    def _inputs_text(self, sizes, fmts):
        return ", ".join(f"{p} is {size_text(sz)} ({f})" for p, sz, f in zip(self._in_ports, sizes, fmts))


class AdditionLayer(_MultiInputLayer):
    """Element-wise sum of its inputs (MATLAB ``additionLayer``); inputs in1, in2, ..."""

    _prefix = "addition"
    Type = "Addition"
    _positional = ("numInputs",)

    def __init__(self, numInputs, Name=""):
        super().__init__(numInputs, Name, "additionLayer")

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


class ConcatenationLayer(_MultiInputLayer):
    """Concatenation along dimension ``dim`` (MATLAB ``concatenationLayer(dim, numInputs)``)."""

    _prefix = "concat"
    Type = "Concatenation"
    _positional = ("dim", "numInputs")

    def __init__(self, dim, numInputs, Name=""):
        super().__init__(numInputs, Name, "concatenationLayer")
        self.Dim = _v.integer("concatenationLayer", "dim", dim, hint="dim counts from 1, as in MATLAB.")
        self._arg_dim = int(dim)

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


class DepthConcatenationLayer(ConcatenationLayer):
    """Concatenation along the channel dimension (MATLAB ``depthConcatenationLayer(numInputs)``)."""

    _prefix = "depthcat"
    Type = "Depth concatenation"
    _positional = ("numInputs",)

    def __init__(self, numInputs, Name=""):
        _MultiInputLayer.__init__(self, numInputs, Name, "depthConcatenationLayer")
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

class TransposedConvolution2DLayer(Layer):
    _prefix = "transconv"
    Type = "2-D Transposed Convolution"
    _learnables = ("Weights", "Bias")
    _positional = ("filterSize", "numFilters")
    _ctor = (("Stride", (1, 1)), ("Cropping", (0, 0, 0, 0)),
             ("WeightsInitializer", "glorot"), ("BiasInitializer", "zeros"), ("WeightLearnRateFactor", 1.0),
             ("BiasLearnRateFactor", 1.0), ("WeightL2Factor", 1.0), ("BiasL2Factor", 0.0))

    def __init__(self, filterSize, numFilters, Stride=1, Cropping=0, WeightsInitializer="glorot",
                 BiasInitializer="zeros", Weights=None, Bias=None, WeightLearnRateFactor=1.0, BiasLearnRateFactor=1.0,
                 WeightL2Factor=1.0, BiasL2Factor=0.0, Name=""):
        super().__init__(Name)
        self.FilterSize = _pair(filterSize, "filterSize")
        self._arg_filterSize = self.FilterSize
        nf = int(numFilters)
        if nf < 1:
            raise ValueError(f"transposedConv2dLayer: numFilters must be a positive integer; got {numFilters!r}.")
        self.NumFilters = nf
        self._arg_numFilters = nf
        self.NumChannels = "auto"
        self.Stride = _pair(Stride, "Stride")
        if isinstance(Cropping, str):
            if Cropping.lower() != "same":
                raise ValueError(f"Cropping must be 'same', an integer, [h w] or [top bottom left right]; got {Cropping!r}.")
            self.Cropping = "same"
        else:
            self.Cropping = _padding_option(Cropping)
        self.WeightsInitializer = WeightsInitializer
        self.BiasInitializer = BiasInitializer
        self.Weights = _as_value(Weights, "Weights")
        self.Bias = _as_value(Bias, "Bias")
        self.WeightLearnRateFactor = float(WeightLearnRateFactor)
        self.BiasLearnRateFactor = float(BiasLearnRateFactor)
        self.WeightL2Factor = float(WeightL2Factor)
        self.BiasL2Factor = float(BiasL2Factor)

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

    _init_value = FullyConnectedLayer._init_value
    _factor = FullyConnectedLayer._factor

    def _forward(self, X, p, training):
        crop = "same" if self.Cropping == "same" else list(self.Cropping)
        return ops.dltranspconv(X, p["Weights"], p["Bias"], Stride=self.Stride, Cropping=crop), None


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
    """A layer that applies a function (MATLAB ``functionLayer``)."""

    _prefix = "layer"
    Type = "Function"

    def __init__(self, fun, Formattable=False, NumInputs=None, NumOutputs=None, InputNames=None, OutputNames=None,
                 Description="", Acceleratable=False, Name=""):
        super().__init__(Name)
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
    _prefix = "layer"

    def __init__(self, Name="", Description=""):
        Layer.__init__(self, Name)
        self._in_ports, self._out_ports = ("in",), ("out",)
        self._description = Description

    @property
    def _learnables(self):
        return tuple(type(self).Learnable)

    @property
    def _states(self):
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
        for name in self._learnables + self._states:
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
        outs, state = _call_layer_code(self, fun, Xs, type(self).Formattable, what, self.NumOutputs, self._states)
        return (outs[0] if self.NumOutputs == 1 else tuple(outs)), (state or None)


# -------------------------------------------------------------------------------------------------
# sequences: sequenceInputLayer, lstmLayer, gruLayer

class SequenceInputLayer(_InputLayer):
    """Input of vector sequences: data "CBT" (channels x observations x time steps)."""

    _prefix = "sequenceinput"
    Type = "Sequence Input"
    _in_fmt = "C"  # per observation and time step; the example input used for sizes has one time step
    _positional = ("inputSize",)
    _ctor = (("Normalization", "none"), ("Mean", None), ("StandardDeviation", None), ("MinLength", 1))

    def __init__(self, inputSize, Normalization="none", Mean=None, StandardDeviation=None, MinLength=1, Name=""):
        super().__init__(Name)
        size = [int(v) for v in np.ravel(inputSize)]
        if len(size) != 1 or size[0] < 1 or float(np.ravel(inputSize)[0]) != size[0]:
            raise NetworkError(
                f"sequenceInputLayer: inputSize must be the number of channels of each time step, a positive "
                f"integer (image sequences [h w c] are not available in dlteach); got {inputSize!r}.")
        self._arg_inputSize = size[0]
        self.InputSize = (size[0],)
        self.Normalization = Normalization
        self.Mean = None if Mean is None else np.asarray(Mean, dtype=np.float32)
        self.StandardDeviation = None if StandardDeviation is None else np.asarray(StandardDeviation, np.float32)
        if isinstance(MinLength, bool) or int(MinLength) != MinLength or MinLength < 1:
            raise NetworkError(f"sequenceInputLayer: MinLength must be a positive integer; got {MinLength!r}.")
        self.MinLength = int(MinLength)

    def _describe(self):
        return f"Sequence input with {self.InputSize[0]} dimensions"

    def _prepare_data(self, X):
        """X (formatted 'CBT'/'CB', or unformatted C x B x T) -> formatted dlarray, sizes checked."""
        C = self.InputSize[0]
        if type(X) is dlarray and X._fmt:
            fmt = X._fmt
            if fmt not in ("CBT", "CB"):
                raise NetworkError(
                    f"Layer '{self.Name}' expects sequences labelled 'CBT' (channels x observations x time steps), "
                    f"but X has format {fmt!r}. Label the dimensions: dlarray(X, 'CTB') for C x T x B data, "
                    "dlarray(X, 'TCB') for T x C x B, ...")
            Xf = X
        else:
            raw = X._data if type(X) is dlarray else X
            shape = tuple(np.shape(value_of(raw)))
            if len(shape) != 3:
                raise NetworkError(
                    f"Layer '{self.Name}' expects sequences: give a formatted dlarray, e.g. dlarray(X, 'CTB') for "
                    f"C x T x B data (X has size {size_text(shape)}).")
            Xf = dlarray(raw, "CBT")
        if Xf.shape[0] != C:
            raise NetworkError(
                f"Wrong input size for layer '{self.Name}': it expects {C} channels per time step ('C'), but X "
                f"({Xf._fmt}) has size {size_text(Xf.shape)}. If the data is T x C (time steps down the rows, as "
                "MATLAB's cell arrays of sequences often are), label it accordingly, e.g. 'TCB'.")
        if "T" in Xf._fmt and Xf.shape[2] < self.MinLength:
            raise NetworkError(f"Layer '{self.Name}': the sequences have {Xf.shape[2]} time steps, fewer than "
                               f"MinLength={self.MinLength}.")
        return self._normalize(Xf)


def _ones_forget_bias(H, gates=4):
    b = np.zeros((gates * H, 1), np.float32)
    b[H:2 * H] = 1.0  # rows of the forget gate (order i, f, g, o)
    return b


class _RecurrentLayer(Layer):
    _gates = 4
    _states = ("HiddenState",)
    _default_bias = "zeros"

    def _shapes(self, in_size, in_fmt):
        if "C" not in in_fmt:
            raise NetworkError(f"Layer '{self.Name}' needs an input with channels ('C'); it receives {in_fmt}.")
        C = int(np.prod(in_size))
        H = self.NumHiddenUnits
        out = {"InputWeights": (self._gates * H, C), "RecurrentWeights": (self._gates * H, H),
               "Bias": (self._bias_rows() * H, 1), "HiddenState": (H, 1)}
        if "CellState" in self._states:
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

    def _preset(self, name):
        return getattr(self, name, None)

    def _factor(self, name, kind):
        return getattr(self, name + kind)

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


def _recurrent_options(layer, numHiddenUnits, OutputMode, weights_init, recurrent_init, bias_init, presets,
                       factors, StateActivationFunction, GateActivationFunction, fname):
    H = numHiddenUnits
    if isinstance(H, bool) or not isinstance(H, (int, np.integer, float)) or int(H) != H or H < 1:
        raise NetworkError(f"{fname}: numHiddenUnits must be a positive integer; got {numHiddenUnits!r}.")
    layer._arg_numHiddenUnits = int(H)
    layer.NumHiddenUnits = int(H)
    layer.InputSize = "auto"
    mode = str(OutputMode).lower()
    if mode not in ("sequence", "last"):
        raise NetworkError(f"{fname}: OutputMode must be 'sequence' (every time step) or 'last' (the last time "
                           f"step only, e.g. for sequence classification); got {OutputMode!r}.")
    layer.OutputMode = mode
    if str(StateActivationFunction).lower() != "tanh" or str(GateActivationFunction).lower() != "sigmoid":
        raise NetworkError(f"{fname}: dlteach implements the default activations only (StateActivationFunction="
                           "'tanh', GateActivationFunction='sigmoid').")
    layer.StateActivationFunction = "tanh"
    layer.GateActivationFunction = "sigmoid"
    layer.InputWeightsInitializer = weights_init
    layer.RecurrentWeightsInitializer = recurrent_init
    layer.BiasInitializer = bias_init
    for k, v in presets.items():
        setattr(layer, k, _as_value(v, k))
    for k, v in factors.items():
        setattr(layer, k, float(v))


_RECURRENT_FACTORS = (("InputWeightsLearnRateFactor", 1.0), ("RecurrentWeightsLearnRateFactor", 1.0),
                      ("BiasLearnRateFactor", 1.0), ("InputWeightsL2Factor", 1.0), ("RecurrentWeightsL2Factor", 1.0),
                      ("BiasL2Factor", 0.0))


class LSTMLayer(_RecurrentLayer):
    _prefix = "lstm"
    Type = "LSTM"
    _learnables = ("InputWeights", "RecurrentWeights", "Bias")
    _states = ("HiddenState", "CellState")
    _positional = ("numHiddenUnits",)
    _ctor = (("OutputMode", "sequence"), ("InputWeightsInitializer", "glorot"),
             ("RecurrentWeightsInitializer", "orthogonal"), ("BiasInitializer", "unit-forget-gate")) + _RECURRENT_FACTORS

    def __init__(self, numHiddenUnits, OutputMode="sequence", InputWeightsInitializer="glorot",
                 RecurrentWeightsInitializer="orthogonal", BiasInitializer="unit-forget-gate", InputWeights=None,
                 RecurrentWeights=None, Bias=None, HiddenState=None, CellState=None, StateActivationFunction="tanh",
                 GateActivationFunction="sigmoid", InputWeightsLearnRateFactor=1.0, RecurrentWeightsLearnRateFactor=1.0,
                 BiasLearnRateFactor=1.0, InputWeightsL2Factor=1.0, RecurrentWeightsL2Factor=1.0, BiasL2Factor=0.0,
                 Name=""):
        super().__init__(Name)
        _recurrent_options(self, numHiddenUnits, OutputMode, InputWeightsInitializer, RecurrentWeightsInitializer,
                           BiasInitializer, dict(InputWeights=InputWeights, RecurrentWeights=RecurrentWeights,
                                                 Bias=Bias, HiddenState=HiddenState, CellState=CellState),
                           dict(InputWeightsLearnRateFactor=InputWeightsLearnRateFactor,
                                RecurrentWeightsLearnRateFactor=RecurrentWeightsLearnRateFactor,
                                BiasLearnRateFactor=BiasLearnRateFactor, InputWeightsL2Factor=InputWeightsL2Factor,
                                RecurrentWeightsL2Factor=RecurrentWeightsL2Factor, BiasL2Factor=BiasL2Factor),
                           StateActivationFunction, GateActivationFunction, "lstmLayer")

    def _describe(self):
        return self._describe_common("LSTM")

    def _forward(self, X, p, training):
        from .recurrent import lstm

        B = X.shape[X._fmt.index("B")] if "B" in X._fmt else 1
        h0 = self._initial_state(p["HiddenState"], B, "HiddenState")
        c0 = self._initial_state(p["CellState"], B, "CellState")
        Y, h, c = lstm(X, h0, c0, p["InputWeights"], p["RecurrentWeights"], p["Bias"], return_state=True)
        return self._output(Y, h), {"HiddenState": wrap(data_of(h), ""), "CellState": wrap(data_of(c), "")}


class GRULayer(_RecurrentLayer):
    _prefix = "gru"
    Type = "GRU"
    _gates = 3
    _learnables = ("InputWeights", "RecurrentWeights", "Bias")
    _states = ("HiddenState",)
    _positional = ("numHiddenUnits",)
    _ctor = (("OutputMode", "sequence"), ("ResetGateMode", "after-multiplication"),
             ("InputWeightsInitializer", "glorot"), ("RecurrentWeightsInitializer", "orthogonal"),
             ("BiasInitializer", "zeros")) + _RECURRENT_FACTORS

    def __init__(self, numHiddenUnits, OutputMode="sequence", ResetGateMode="after-multiplication",
                 InputWeightsInitializer="glorot", RecurrentWeightsInitializer="orthogonal", BiasInitializer="zeros",
                 InputWeights=None, RecurrentWeights=None, Bias=None, HiddenState=None, StateActivationFunction="tanh",
                 GateActivationFunction="sigmoid", InputWeightsLearnRateFactor=1.0, RecurrentWeightsLearnRateFactor=1.0,
                 BiasLearnRateFactor=1.0, InputWeightsL2Factor=1.0, RecurrentWeightsL2Factor=1.0, BiasL2Factor=0.0,
                 Name=""):
        super().__init__(Name)
        mode = str(ResetGateMode).lower()
        if mode not in ("after-multiplication", "before-multiplication", "recurrent-bias-after-multiplication"):
            raise NetworkError("gruLayer: ResetGateMode must be 'after-multiplication' (default), "
                               f"'before-multiplication' or 'recurrent-bias-after-multiplication'; got {ResetGateMode!r}.")
        self.ResetGateMode = mode
        _recurrent_options(self, numHiddenUnits, OutputMode, InputWeightsInitializer, RecurrentWeightsInitializer,
                           BiasInitializer, dict(InputWeights=InputWeights, RecurrentWeights=RecurrentWeights,
                                                 Bias=Bias, HiddenState=HiddenState),
                           dict(InputWeightsLearnRateFactor=InputWeightsLearnRateFactor,
                                RecurrentWeightsLearnRateFactor=RecurrentWeightsLearnRateFactor,
                                BiasLearnRateFactor=BiasLearnRateFactor, InputWeightsL2Factor=InputWeightsL2Factor,
                                RecurrentWeightsL2Factor=RecurrentWeightsL2Factor, BiasL2Factor=BiasL2Factor),
                           StateActivationFunction, GateActivationFunction, "gruLayer")

    def _bias_rows(self):
        return 6 if self.ResetGateMode == "recurrent-bias-after-multiplication" else 3

    def _describe(self):
        return self._describe_common("GRU")

    def _forward(self, X, p, training):
        from .recurrent import gru

        B = X.shape[X._fmt.index("B")] if "B" in X._fmt else 1
        h0 = self._initial_state(p["HiddenState"], B, "HiddenState")
        Y, h = gru(X, h0, p["InputWeights"], p["RecurrentWeights"], p["Bias"], ResetGateMode=self.ResetGateMode,
                   return_state=True)
        return self._output(Y, h), {"HiddenState": wrap(data_of(h), "")}


def sequenceInputLayer(inputSize, Normalization="none", Mean=None, StandardDeviation=None, MinLength=1, Name=""):
    """Sequence input layer (MATLAB ``sequenceInputLayer(inputSize)``): sequences of ``inputSize``
    channels, format "CBT" (channels x observations x time steps). Normalization "none" (default)."""
    return SequenceInputLayer(inputSize, Normalization=Normalization, Mean=Mean, StandardDeviation=StandardDeviation,
                              MinLength=MinLength, Name=Name)


def lstmLayer(numHiddenUnits, **options):
    """LSTM layer (MATLAB ``lstmLayer(numHiddenUnits, Name=Value)``), see :func:`dlteach.recurrent.lstm`.

    Learnables InputWeights 4H x C, RecurrentWeights 4H x H, Bias 4H x 1 (gate rows input, forget,
    cell candidate, output); State HiddenState, CellState (H x 1 zeros; after forward/predict, H x B).
    ``OutputMode``: "sequence" (default; "CBT" output) or "last" (the last time step, "CB").
    Initializers (MATLAB's defaults): InputWeightsInitializer "glorot" (numIn = C, numOut = 4H),
    RecurrentWeightsInitializer "orthogonal" (Q of the QR decomposition of a 4H x H normal matrix),
    BiasInitializer "unit-forget-gate" (forget-gate biases 1, the others 0). Learn-rate / L2 factors as
    fullyConnectedLayer's (InputWeights..., RecurrentWeights..., Bias...).
    """
    return LSTMLayer(numHiddenUnits, **options)


def gruLayer(numHiddenUnits, **options):
    """GRU layer (MATLAB ``gruLayer(numHiddenUnits, Name=Value)``), see :func:`dlteach.recurrent.gru`.

    Learnables InputWeights 3H x C, RecurrentWeights 3H x H, Bias 3H x 1 (6H x 1 with
    ResetGateMode="recurrent-bias-after-multiplication"); gate rows reset, update, candidate; State
    HiddenState. ``ResetGateMode`` "after-multiplication" (default). Initializers: "glorot",
    "orthogonal", BiasInitializer "zeros". ``OutputMode`` "sequence" | "last".
    """
    return GRULayer(numHiddenUnits, **options)


def fullyConnectedLayer(outputSize, **options):
    """Fully connected layer (MATLAB ``fullyConnectedLayer``): Y = W X + b.

    Weights OutputSize x InputSize (InputSize = prod of h, w, c after images), Bias OutputSize x 1.
    Options: WeightsInitializer ("glorot"), BiasInitializer ("zeros"), Weights, Bias,
    WeightLearnRateFactor (1), BiasLearnRateFactor (1), WeightL2Factor (1), BiasL2Factor (0), Name.
    """
    return FullyConnectedLayer(outputSize, **options)


def convolution2dLayer(filterSize, numFilters, **options):
    """2-D convolution layer (MATLAB ``convolution2dLayer``): F filters of size h x w.

    Weights h x w x C x F, Bias 1 x 1 x F. Options: Stride (1), Padding (0, or "same", [h w],
    [t b l r]), DilationFactor (1), WeightsInitializer ("glorot": numIn = h*w*C, numOut = h*w*F),
    BiasInitializer ("zeros"), Weights, Bias, learn-rate / L2 factors, Name.
    """
    return Convolution2DLayer(filterSize, numFilters, **options)


def batchNormalizationLayer(**options):
    """Batch normalization layer (MATLAB ``batchNormalizationLayer``).

    ``forward``: y = Scale (x - mu_B)/sqrt(var_B + Epsilon) + Offset with the mini-batch statistics, and
    the state update TrainedMean <- MeanDecay mu_B + (1 - MeanDecay) TrainedMean (variance likewise,
    with the unbiased batch variance). ``predict``: the same with TrainedMean / TrainedVariance.
    Options: Epsilon (1e-5), MeanDecay (0.1), VarianceDecay (0.1), OffsetInitializer ("zeros"),
    ScaleInitializer ("ones"), Offset, Scale, TrainedMean, TrainedVariance, learn-rate / L2 factors, Name.
    """
    return BatchNormalizationLayer(**options)


def reluLayer(Name=""):
    """ReLU layer (MATLAB ``reluLayer``): max(x, 0)."""
    return ReLULayer(Name)


def leakyReluLayer(scale=0.01, Name=""):
    """Leaky ReLU layer (MATLAB ``leakyReluLayer(scale)``): x if x > 0 else scale * x."""
    return LeakyReLULayer(scale, Name=Name)


def sigmoidLayer(Name=""):
    """Sigmoid layer (MATLAB ``sigmoidLayer``): 1 / (1 + exp(-x))."""
    return SigmoidLayer(Name)


def tanhLayer(Name=""):
    """Tanh layer (MATLAB ``tanhLayer``)."""
    return TanhLayer(Name)


def softmaxLayer(Name=""):
    """Softmax layer (MATLAB ``softmaxLayer``): softmax over the channel dimension."""
    return SoftmaxLayer(Name)


def dropoutLayer(probability=0.5, Name=""):
    """Dropout layer (MATLAB ``dropoutLayer(p)``): in ``forward`` each element is zeroed with probability p
    and survivors are scaled by 1/(1-p) (inverted dropout); in ``predict`` it is the identity."""
    return DropoutLayer(probability, Name=Name)


def maxPooling2dLayer(poolSize, Stride=1, Padding=0, Name=""):
    """2-D max pooling layer (MATLAB ``maxPooling2dLayer``); Stride defaults to 1 as in MATLAB."""
    return MaxPooling2DLayer(poolSize, Stride=Stride, Padding=Padding, Name=Name)


def averagePooling2dLayer(poolSize, Stride=1, Padding=0, Name=""):
    """2-D average pooling layer (MATLAB ``averagePooling2dLayer``); Stride defaults to 1."""
    return AveragePooling2DLayer(poolSize, Stride=Stride, Padding=Padding, Name=Name)


def flattenLayer(Name=""):
    """Flatten layer (MATLAB ``flattenLayer``): h x w x c x N images -> (h*w*c) x N features ("CB")."""
    return FlattenLayer(Name)


def additionLayer(numInputs, Name=""):
    """Addition layer (MATLAB ``additionLayer(numInputs)``): Y = X1 + X2 + ... element by element.

    Inputs are named in1, in2, ...: connect with ``connectLayers(net, "fc_2", "add/in2")``. All inputs must
    have the same size and format.
    """
    return AdditionLayer(numInputs, Name=Name)


def concatenationLayer(dim, numInputs, Name=""):
    """Concatenation layer (MATLAB ``concatenationLayer(dim, numInputs)``): joins its inputs along dimension
    ``dim`` (1-based in MATLAB's layout: 3 is C for "SSCB" images, 1 is C for "CB" features; the batch
    dimension is refused). Inputs in1, in2, ...; all other dimensions must agree."""
    return ConcatenationLayer(dim, numInputs, Name=Name)


def depthConcatenationLayer(numInputs, Name=""):
    """Depth concatenation layer (MATLAB ``depthConcatenationLayer(numInputs)``): joins its inputs along the
    channel dimension C. Inputs in1, in2, ...; the spatial sizes must agree."""
    return DepthConcatenationLayer(numInputs, Name=Name)


def transposedConv2dLayer(filterSize, numFilters, **options):
    """Transposed 2-D convolution layer (MATLAB ``transposedConv2dLayer``): upsampling, see ``dltranspconv``.

    Weights h x w x NumFilters x NumChannels (MATLAB's order), Bias 1 x 1 x NumFilters. Output size
    (H - 1) * Stride + h - cropping. Options: Stride (1), Cropping (0, [h w], [t b l r] or "same":
    output = Stride * input), WeightsInitializer ("glorot": numIn = h*w*NumChannels, numOut =
    h*w*NumFilters -- *decision*, the convolution layer's definition), BiasInitializer ("zeros"), Weights, Bias,
    learn-rate / L2 factors, Name.
    """
    return TransposedConvolution2DLayer(filterSize, numFilters, **options)


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


_CONSTRUCTOR = {
    FeatureInputLayer: "featureInputLayer", ImageInputLayer: "imageInputLayer",
    FullyConnectedLayer: "fullyConnectedLayer", Convolution2DLayer: "convolution2dLayer",
    BatchNormalizationLayer: "batchNormalizationLayer", ReLULayer: "reluLayer", LeakyReLULayer: "leakyReluLayer",
    SigmoidLayer: "sigmoidLayer", TanhLayer: "tanhLayer", SoftmaxLayer: "softmaxLayer", DropoutLayer: "dropoutLayer",
    MaxPooling2DLayer: "maxPooling2dLayer", AveragePooling2DLayer: "averagePooling2dLayer", FlattenLayer: "flattenLayer",
    AdditionLayer: "additionLayer", ConcatenationLayer: "concatenationLayer",
    DepthConcatenationLayer: "depthConcatenationLayer", TransposedConvolution2DLayer: "transposedConv2dLayer",
    SequenceInputLayer: "sequenceInputLayer", LSTMLayer: "lstmLayer", GRULayer: "gruLayer",
}

#: constructor name -> layer class (used by serialization)
LAYER_CLASSES = {v: k for k, v in _CONSTRUCTOR.items()}
