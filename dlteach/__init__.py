"""dlteach: MATLAB's custom-training-loop API on HIPS autograd, for teaching.

Everything a custom training loop needs is importable from here, under MATLAB's names::

    from dlteach import dlarray, dlfeval, dlgradient, fullyconnect, relu, softmax, crossentropy, adamupdate

Plotting and widget code (the monitor's front end, the debugging inspectors) load lazily, so
``import dlteach`` stays fast.
"""

from . import _allocator, errors, nnc
from .accelerate import AcceleratedFunction, clearCache, dlaccelerate
from .autodiff import dlfeval, dlgradient
from .data import (
    digitDatasetPath,
    digitTest4DArrayData,
    digitTrain4DArrayData,
    load_digits,
    load_waveforms,
    make_moons,
    make_regression_line,
)
from .datastore import arrayDatastore, combine, numpartitions, preview, read, readall, transform
from .dlarray import dims, dlarray, extractdata, finddim, isdlarray, stripdims
from .images import (
    augment,
    augmentedImageDatastore,
    cat,
    categories,
    countEachLabel,
    imageDataAugmenter,
    imageDatastore,
    splitEachLabel,
)
from .initializers import (
    initializeGaussian,
    initializeGlorot,
    initializeHe,
    initializeOnes,
    initializeOrthogonal,
    initializeUniform,
    initializeUnitForgetGate,
    initializeZeros,
)
from .layers import CustomLayer, functionLayer, networkDataLayout
from .layers import constructors as _layer_constructors
from .lbfgs import lbfgsState, lbfgsupdate
from .losses import crossentropy, huber, indexcrossentropy, l1loss, l2loss, mse
from .minibatchqueue import hasdata, minibatchqueue, partition, reset, shuffle
from .minibatchqueue import next as next  # importable, but not in __all__ (see below)
from .monitor import groupSubPlot, recordMetrics, trainingProgressMonitor, updateInfo, yscale
from .network import (
    addLayers,
    analyzeNetwork,
    connectLayers,
    disconnectLayers,
    dlnetwork,
    forward,
    getL2Factor,
    getLearnRateFactor,
    initialize,
    predict,
    removeLayers,
    replaceLayer,
    resetState,
    setL2Factor,
    setLearnRateFactor,
)
from .network import plot as plot  # importable, but not in __all__ (see below)
from .ops import (
    avgpool,
    batchnorm,
    dlconv,
    dltranspconv,
    dropout,
    fullyconnect,
    leakyrelu,
    maxpool,
    onehotdecode,
    onehotencode,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from .recurrent import gru, lstm, padsequences
from .serialization import load, save
from .table import Table
from .updaters import adamupdate, dlupdate, rmspropupdate, sgdmupdate

__version__ = "0.1.0"

_allocator.tune()  # keep freed array memory for reuse: no page faults each step (glibc; DLTEACH_MALLOC_TUNING=0 opts out)

# ``next`` (MATLAB's next(mbq)) and ``plot`` (MATLAB's plot(net)) are importable by name but left out of
# ``import *`` so that they never shadow Python's builtin ``next`` or matplotlib's ``plot`` by accident.
__all__ = [
    "dlarray", "dims", "extractdata", "stripdims", "finddim", "isdlarray",
    "dlfeval", "dlgradient", "dlaccelerate", "AcceleratedFunction", "clearCache",
    "fullyconnect", "dlconv", "dltranspconv", "batchnorm", "relu", "leakyrelu", "sigmoid", "tanh", "softmax",
    "maxpool", "avgpool", "dropout", "onehotencode", "onehotdecode",
    "crossentropy", "indexcrossentropy", "mse", "l1loss", "l2loss", "huber", "nnc",
    "lstm", "gru", "padsequences",
    "adamupdate", "rmspropupdate", "sgdmupdate", "dlupdate", "lbfgsupdate", "lbfgsState",
    "initializeGlorot", "initializeHe", "initializeGaussian", "initializeUniform", "initializeOrthogonal",
    "initializeUnitForgetGate", "initializeOnes", "initializeZeros",
    "functionLayer", "CustomLayer", "networkDataLayout",
    "dlnetwork", "forward", "predict", "initialize", "resetState", "analyzeNetwork", "Table", "save", "load",
    "addLayers", "connectLayers", "disconnectLayers", "removeLayers", "replaceLayer",
    "getLearnRateFactor", "setLearnRateFactor", "getL2Factor", "setL2Factor",
    "load_digits", "digitTrain4DArrayData", "digitTest4DArrayData", "make_regression_line", "make_moons",
    "load_waveforms",
    "minibatchqueue", "hasdata", "reset", "shuffle", "partition",
    "arrayDatastore", "combine", "transform", "read", "readall", "preview", "numpartitions",
    "imageDatastore", "splitEachLabel", "countEachLabel", "imageDataAugmenter", "augment", "augmentedImageDatastore",
    "categories", "cat", "digitDatasetPath",
    "trainingProgressMonitor", "recordMetrics", "updateInfo", "groupSubPlot", "yscale",
    "errors", "debug",
]

# every registered layer constructor (featureInputLayer, fullyConnectedLayer, reluLayer, ...: dlteach/layers.py)
globals().update(_layer_constructors())
__all__ += list(_layer_constructors())


def __getattr__(name):
    """Load the debugging helpers (matplotlib, ipywidgets) only when first used."""
    if name == "debug":
        import importlib
        module = importlib.import_module(".debug", __name__)
        globals()["debug"] = module
        return module
    raise AttributeError(f"module 'dlteach' has no attribute {name!r}")
