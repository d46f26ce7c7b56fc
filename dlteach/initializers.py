"""Initializers for the learnable parameters of a model function.

MATLAB counterpart: the example functions of the documentation page "Initialize Learnable Parameters
for Model Function" (``initializeGlorot``, ``initializeHe``, ``initializeGaussian``,
``initializeUniform``, ``initializeOrthogonal``, ``initializeUnitForgetGate``, ``initializeOnes``,
``initializeZeros``). In MATLAB they are supporting files of the examples, not toolbox functions;
dlteach ships them under the same names and with the same arguments so that MATLAB's model-function
examples run as written::

    parameters = {"fc": {}}
    parameters["fc"]["Weights"] = initializeGlorot([outputSize, inputSize], outputSize, inputSize)
    parameters["fc"]["Bias"] = initializeZeros([outputSize, 1])

Every function returns an unformatted float32 ``dlarray`` (MATLAB: ``dlarray`` of ``single``) of size
``sz``. ``sz`` is a size vector with at least two entries, as in MATLAB (``[numChannels, 1]`` for a
column); a single number is refused because MATLAB's ``zeros(n)`` is n-by-n, which is rarely what is
meant. Random draws come from NumPy's global generator (``np.random.seed(0)`` = MATLAB's
``rng("default")`` for reproducibility; the values differ from MATLAB's).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import validate as _v
from .dlarray import dlarray, isdlarray

__all__ = [
    "initializeGaussian", "initializeGlorot", "initializeHe", "initializeOnes", "initializeOrthogonal",
    "initializeUniform", "initializeUnitForgetGate", "initializeZeros",
]

#: a parameter larger than this many values (2^31, 8 GB in float32) is refused before it is allocated
MAX_ELEMENTS = 2**31


def _size(fname, sz, *, matrix=False):
    """``sz`` as a tuple of non-negative ints (at least two entries; exactly two if ``matrix``)."""
    expected = ("a size vector of two non-negative integers, [numRows, numColumns]" if matrix else
                "a size vector of at least two non-negative integers, e.g. [numChannels, 1] or [5, 5, 3, 16]")
    if type(sz) in (list, tuple) and len(sz) >= 2 and all(type(s) is int and s >= 0 for s in sz) \
            and not (matrix and len(sz) != 2):
        shape = tuple(sz)  # the common case
    else:
        if sz is None or isinstance(sz, (str, bytes, bool, dict)) or isdlarray(sz):
            _v.fail(fname, "sz", expected, sz)
        if isinstance(sz, (numbers.Number, np.generic)) or (isinstance(sz, np.ndarray) and sz.ndim == 0):
            _v.fail(fname, "sz", expected, sz,
                    hint=f"Write the size as a vector: [{sz}, 1] for a column. (MATLAB's zeros({sz}) would be "
                         f"{sz}-by-{sz}: write [{sz}, {sz}] if you mean a square matrix.)")
        try:
            flat = list(np.ravel(np.asarray(sz, dtype=object)))
        except (TypeError, ValueError):
            _v.fail(fname, "sz", expected, sz)
        if len(flat) < 2 or (matrix and len(flat) != 2):
            _v.fail(fname, "sz", expected, sz,
                    hint="initializeOrthogonal makes a matrix: give [numRows, numColumns]." if matrix else "")
        shape = tuple(_v.integer(fname, f"sz (entry {i + 1})", s, minimum=0) for i, s in enumerate(flat))
    n = float(np.prod(shape, dtype=np.float64))
    if n > MAX_ELEMENTS:
        _v.fail(fname, "sz", f"a size of at most {MAX_ELEMENTS:.3g} values", sz,
                hint=f"This size asks for {n:.3g} values ({n * 4 / 2**30:.3g} GB in float32): one entry is far too "
                     "large.")
    return shape


def _count(fname, name, v):
    """A positive number of inputs/outputs (numIn, numOut: products of sizes, so whole numbers > 0)."""
    return _v.integer(fname, name, v, minimum=1,
                      hint=f"{name} is a number of values (for a convolution prod(filterSize) times the number of "
                           "channels or filters).")


def _wrap(values):
    return dlarray(np.asarray(values, dtype=np.float32))


def initializeGlorot(sz, numOut, numIn):
    """Glorot (Xavier) uniform initialization (MATLAB example function ``initializeGlorot(sz,numOut,numIn)``).

    W ~ U(-b, b) with b = sqrt(6 / (numIn + numOut)), so Var(W) = b²/3 = 2 / (numIn + numOut).
    For ``fullyconnect``: numOut = outputSize, numIn = inputSize; for ``dlconv``:
    numOut = prod(filterSize)·numFilters, numIn = prod(filterSize)·numChannels; for ``lstm`` input
    weights: numOut = 4·numHiddenUnits, numIn = inputSize (3·numHiddenUnits for ``gru``).
    Returns a float32 dlarray of size sz.
    """
    fname = "initializeGlorot"
    shape = _size(fname, sz)
    n_out = _count(fname, "numOut", numOut)
    n_in = _count(fname, "numIn", numIn)
    Z = 2 * np.random.random_sample(shape).astype(np.float32) - 1
    bound = np.float32(np.sqrt(6.0 / (n_in + n_out)))
    return _wrap(bound * Z)


def initializeHe(sz, numIn):
    """He (Kaiming) normal initialization (MATLAB example function ``initializeHe(sz,numIn)``).

    W ~ N(0, 2 / numIn): ``randn(sz) * sqrt(2/numIn)``. numIn as for :func:`initializeGlorot`
    (``fullyconnect``: inputSize; ``dlconv``: prod(filterSize)·numChannels).
    Returns a float32 dlarray of size sz.
    """
    fname = "initializeHe"
    shape = _size(fname, sz)
    n_in = _count(fname, "numIn", numIn)
    return _wrap(np.random.standard_normal(shape).astype(np.float32) * np.float32(np.sqrt(2.0 / n_in)))


def initializeGaussian(sz, mu=0, sigma=0.01):
    """Gaussian initialization (MATLAB example function ``initializeGaussian(sz,mu,sigma)``).

    W ~ N(mu, sigma²): ``randn(sz)*sigma + mu``. MATLAB's ``wordEmbeddingLayer`` default is mu = 0,
    sigma = 0.01 (the defaults here). Returns a float32 dlarray of size sz.
    """
    fname = "initializeGaussian"
    shape = _size(fname, sz)
    mu = _v.real(fname, "mu", mu)
    sigma = _v.real(fname, "sigma", sigma, low=0.0,
                    hint="sigma is a standard deviation (the square root of the variance), so it is >= 0.")
    return _wrap(np.random.standard_normal(shape).astype(np.float32) * np.float32(sigma) + np.float32(mu))


def initializeUniform(sz, bound):
    """Uniform initialization (MATLAB example function ``initializeUniform(sz,bound)``).

    W ~ U(-bound, bound): ``bound * (2*rand(sz) - 1)``, so Var(W) = bound²/3.
    Returns a float32 dlarray of size sz.
    """
    fname = "initializeUniform"
    shape = _size(fname, sz)
    bound = _v.real(fname, "bound", bound, low=0.0, hint="The values are drawn from [-bound, bound].")
    Z = 2 * np.random.random_sample(shape).astype(np.float32) - 1
    return _wrap(np.float32(bound) * Z)


def initializeOrthogonal(sz):
    """Orthogonal initialization (MATLAB example function ``initializeOrthogonal(sz)``).

    Z ~ N(0, 1) of size sz; economy QR decomposition Z = QR; Q·diag(sign(diag(R))) (the sign
    correction makes the result the unique QR factor with a positive diagonal in R, so it is uniformly
    distributed over the orthogonal matrices). For a tall or square sz (rows >= columns, e.g. the
    4·numHiddenUnits x numHiddenUnits recurrent weights of ``lstm``) the columns are orthonormal,
    QᵀQ = I. For a wide sz the page's code would return a rows x rows matrix, the wrong size; dlteach
    then orthogonalises the transpose instead, so the rows are orthonormal, QQᵀ = I (as MATLAB's
    layers and PyTorch's ``nn.init.orthogonal_`` do). The QR runs in float64; the result is float32.
    """
    fname = "initializeOrthogonal"
    shape = _size(fname, sz, matrix=True)
    rows, cols = shape
    tall = rows >= cols
    Z = np.random.standard_normal(shape).astype(np.float32).astype(np.float64)
    Q, R = np.linalg.qr(Z if tall else Z.T)  # economy ("reduced") QR, MATLAB's qr(Z,0)
    D = np.diag(R)
    Q = Q * np.where(D < 0, -1.0, 1.0)       # Q * diag(D ./ abs(D)), with sign(0) taken as +1
    return _wrap(Q if tall else Q.T)


def initializeUnitForgetGate(numHiddenUnits):
    """Unit-forget-gate bias of an LSTM (MATLAB example function ``initializeUnitForgetGate(numHiddenUnits)``).

    A 4·numHiddenUnits x 1 vector in MATLAB's gate order [input; forget; cell candidate; output]
    (the order of ``lstm``): ones for the forget gate (rows numHiddenUnits+1 .. 2·numHiddenUnits in
    MATLAB's 1-based numbering), zeros elsewhere. With f = sigmoid(1) ≈ 0.73 at the start, the cell
    state is mostly kept from one time step to the next. Returns a float32 dlarray.
    """
    fname = "initializeUnitForgetGate"
    H = _v.integer(fname, "numHiddenUnits", numHiddenUnits)
    if 4.0 * H > MAX_ELEMENTS:
        _v.fail(fname, "numHiddenUnits", f"at most {MAX_ELEMENTS // 4}", numHiddenUnits)
    bias = np.zeros((4 * H, 1), np.float32)
    bias[H:2 * H] = 1
    return _wrap(bias)


def initializeOnes(sz):
    """Ones (MATLAB example function ``initializeOnes(sz)``): e.g. the Scale of ``batchnorm``.

    Returns ``ones(sz,'single')`` as a dlarray.
    """
    return _wrap(np.ones(_size("initializeOnes", sz), np.float32))


def initializeZeros(sz):
    """Zeros (MATLAB example function ``initializeZeros(sz)``): biases, the Offset of ``batchnorm``.

    Returns ``zeros(sz,'single')`` as a dlarray.
    """
    return _wrap(np.zeros(_size("initializeZeros", sz), np.float32))
