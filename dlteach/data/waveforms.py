"""A synthetic, deterministic stand-in for MATLAB's ``WaveformData`` (sequence classification).

MATLAB's example loads ``WaveformData.mat``: ``data``, a cell array of sequences (numTimeSteps x 3
channels, of different lengths) and ``labels``, one of the waveform types "Sawtooth", "Sine",
"Square", "Triangle". That file is not shipped with dlteach (nothing is downloaded), so
:func:`load_waveforms` makes a data set of the same shape from formulas: every sequence is one
waveform type with a random frequency, phase and amplitude per channel, plus Gaussian noise.
"""

from __future__ import annotations

import numpy as np

CLASSES = ("Sawtooth", "Sine", "Square", "Triangle")
#: frequency band (cycles per time step) of each class: the shape AND the speed tell the classes apart,
#: so that a small LSTM learns them in a few seconds (the point of the examples is the training loop)
_BANDS = ((0.03, 0.05), (0.06, 0.08), (0.09, 0.11), (0.12, 0.14))


def _wave(kind: int, t: np.ndarray) -> np.ndarray:
    """One period-1 waveform of the given kind at phases t (any real numbers)."""
    frac = t - np.floor(t)
    if kind == 0:  # sawtooth: rises from -1 to 1, then drops
        return 2 * frac - 1
    if kind == 1:
        return np.sin(2 * np.pi * t)
    if kind == 2:
        return np.where(frac < 0.5, 1.0, -1.0)
    return 1 - 4 * np.abs(frac - 0.5)  # triangle


def load_waveforms(n: int = 1000, *, min_length: int = 40, max_length: int = 80, noise: float = 0.1,
                   seed: int = 0):
    """``data, labels = load_waveforms()``: n sequences of 3 channels and their waveform names.

    MATLAB counterpart: ``load WaveformData`` (``data``: cell array of numTimeSteps x 3 sequences,
    ``labels``: categorical). ``data`` is a list of float32 arrays of size numTimeSteps x 3 (MATLAB's
    layout of that file: time steps down the rows), lengths uniform in [min_length, max_length];
    ``labels`` an array of the class names in :data:`CLASSES` (balanced, shuffled). Deterministic for
    a given ``seed``: x_c(t) = a_c * wave(f t + phi_c) + noise * N(0, 1), with a_c in [0.8, 1.2],
    phi_c in [0, 1) and f (cycles per time step) in the class's band: Sawtooth [0.03, 0.05], Sine
    [0.06, 0.08], Square [0.09, 0.11], Triangle [0.12, 0.14].
    """
    from . import DataArgumentError

    if isinstance(n, bool) or int(n) != n or n < 1:
        raise DataArgumentError(f"load_waveforms: n must be a positive integer; got {n!r}.")
    if not 1 <= min_length <= max_length:
        raise DataArgumentError(f"load_waveforms: need 1 <= min_length <= max_length; got {min_length}, {max_length}.")
    rng = np.random.default_rng(seed)
    kinds = rng.permutation(np.arange(int(n)) % len(CLASSES))
    data = []
    for k in kinds:
        T = int(rng.integers(min_length, max_length + 1))
        f = rng.uniform(*_BANDS[int(k)])
        amp = rng.uniform(0.8, 1.2, 3)
        phase = rng.uniform(0, 1, 3)
        t = np.arange(T)[:, None]
        x = amp * _wave(int(k), f * t + phase) + noise * rng.standard_normal((T, 3))
        data.append(x.astype(np.float32))
    labels = np.array([CLASSES[k] for k in kinds])
    return data, labels
