"""Data sets shipped with dlteach (nothing is downloaded at run time).

* :func:`load_digits` -- 5,000 real MNIST handwritten digits (28x28 grey), MATLAB layout, like
  MATLAB's ``digitTrain4DArrayData`` / ``digitTest4DArrayData`` (which return H x W x C x N images).
* :func:`digitTrain4DArrayData` / :func:`digitTest4DArrayData` -- the same digits, each rotated by a
  known angle, ``X, labels, angles`` like MATLAB's functions of the same names (synthetic rotated digits).
* :func:`digitDatasetPath` -- the shipped digits as MATLAB's ``DigitDataset`` folder of PNG files (one
  subfolder per digit), written once to a cache folder, for ``imageDatastore``.
* :func:`make_regression_line` -- noisy points on a line, for the first regression lesson.
* :func:`make_moons` -- two interleaving half circles, a two-class problem that is not linearly separable.
* :func:`load_waveforms` -- synthetic sequences of 4 waveform types (MATLAB's ``WaveformData`` stand-in).

Layout follows MATLAB: observations are the LAST dimension (images H x W x C x N = "SSCB",
features C x N = "CB"). Provenance and licences: README.md in this folder.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..errors import DLTeachError
from .waveforms import load_waveforms  # it imports DataArgumentError (below) when called, not at import

__all__ = ["load_digits", "digitTrain4DArrayData", "digitTest4DArrayData", "digitDatasetPath", "make_regression_line",
           "make_moons", "load_waveforms"]

_DIGITS_FILE = Path(__file__).with_name("digits5k.npz")
_RAW: dict[str, np.ndarray] = {}

NUM_CLASSES = 10


class DataArgumentError(DLTeachError, ValueError):
    """A bad argument to a dlteach.data loader or generator."""


def _raw_digits() -> dict[str, np.ndarray]:
    """Read digits5k.npz once (lazily) and keep the uint8 arrays; callers copy before returning."""
    if not _RAW:
        with np.load(_DIGITS_FILE) as f:
            images = f["images"]
            labels = f["labels"]
            num_train = int(f["num_train"])
        images.setflags(write=False)
        labels.setflags(write=False)
        _RAW.update(images=images, labels=labels, num_train=num_train)
    return _RAW


def _onehot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """One-hot targets, classes x observations ("CB"), float32: T[k, n] = (labels[n] == k)."""
    T = np.zeros((num_classes, labels.shape[0]), dtype=np.float32)
    T[labels, np.arange(labels.shape[0])] = 1.0
    return T


def load_digits(split: str = "train"):
    """Real MNIST handwritten digits: ``X, labels, T = load_digits("train")``.

    MATLAB counterpart: ``[XTrain, YTrain] = digitTrain4DArrayData`` (images H x W x C x N, "SSCB").

    Parameters
    ----------
    split : "train" (4,000 images, 400 per digit), "test" (1,000 images, 100 per digit) or "all"
        (the 5,000 images, training ones first). The split is fixed: it was drawn once (stratified,
        seeded) when the data file was built and is stored in the file, so it is the same on every
        machine and every NumPy version.

    Returns
    -------
    X : float32 array 28 x 28 x 1 x N, pixel values in [0, 1] (= uint8 / 255). ``X[:, :, 0, n]`` is
        image n the right way up (row 0 at the top): ``plt.imshow(X[:, :, 0, n], cmap="gray")``.
    labels : int64 array (N,), the digit 0..9 of each image.
    T : float32 array 10 x N ("CB"), one-hot targets: ``T[k, n] = 1`` iff ``labels[n] == k``.

    Every call returns new arrays, so changing them does not affect later calls.
    """
    if not isinstance(split, str) or split.lower() not in ("train", "test", "all"):
        raise DataArgumentError(
            f"load_digits: unknown split {split!r}. Use split='train' (4000 images), "
            "split='test' (1000 images) or split='all' (5000 images)."
        )
    raw = _raw_digits()
    n_train = raw["num_train"]
    sel = {"train": slice(0, n_train), "test": slice(n_train, None), "all": slice(None)}[split.lower()]
    images = raw["images"][sel]  # (N, 28, 28) uint8, [n, row, col]
    labels = raw["labels"][sel].astype(np.int64)
    # (N, H, W) -> (H, W, 1, N): observation dimension last, as in MATLAB.
    X = np.ascontiguousarray(np.transpose(images, (1, 2, 0))[:, :, np.newaxis, :], dtype=np.float32)
    X /= np.float32(255.0)
    return X, labels, _onehot(labels, NUM_CLASSES)


ANGLE_RANGE = (-45.0, 45.0)
_ANGLE_SEEDS = {"train": 20240601, "test": 20240602}


def rotate_images(X, angles):
    """Rotate each image of an H x W x C x N array by its angle in degrees (counterclockwise, as displayed
    with row 0 at the top: MATLAB ``imrotate(I, angle, "bilinear", "crop")``) about the image centre.

    Bilinear interpolation; pixels that come from outside the image are 0 (the digits' background).
    ``out[r, c] = bilinear(X, r_s, c_s)`` with, for x = c - m_c and y = m_r - r (m = (size - 1) / 2),
    ``c_s = m_c + cos(a) x + sin(a) y`` and ``r_s = m_r + sin(a) x - cos(a) y``.
    The images are rotated in chunks of :data:`_ROTATE_CHUNK` (the float64 work arrays of all 4,000
    training digits at once took about 0.5 GB and several seconds of page faults).
    """
    X = np.asarray(X)
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    H, W, C, N = X.shape
    if angles.shape[0] != N:
        raise DataArgumentError(f"rotate_images: {N} images but {angles.shape[0]} angles.")
    dtype = X.dtype if X.dtype.kind == "f" else np.float32
    out = np.empty((H, W, C, N), dtype=dtype)
    for start in range(0, N, _ROTATE_CHUNK):
        stop = min(start + _ROTATE_CHUNK, N)
        out[..., start:stop] = _rotate_chunk(X[..., start:stop], angles[start:stop])
    return out


#: images per chunk of :func:`rotate_images`
_ROTATE_CHUNK = 256


def _rotate_chunk(X, angles):
    H, W, C, N = X.shape
    mr, mc = (H - 1) / 2.0, (W - 1) / 2.0
    rows, cols = np.meshgrid(np.arange(H, dtype=np.float64), np.arange(W, dtype=np.float64), indexing="ij")
    x, y = cols - mc, mr - rows
    a = np.deg2rad(angles)[:, None, None]
    cs, sn = np.cos(a), np.sin(a)
    cs_, rs_ = mc + cs * x + sn * y, mr + sn * x - cs * y  # (N, H, W) source coordinates
    r0, c0 = np.floor(rs_), np.floor(cs_)
    fr, fc = rs_ - r0, cs_ - c0
    r0, c0 = r0.astype(np.int64), c0.astype(np.int64)
    src = np.transpose(X, (3, 0, 1, 2)).reshape(N * H * W, C)  # row (n, r, c) of the flat image stack
    base = (np.arange(N) * (H * W))[:, None, None]
    out = np.zeros((N, H, W, C))
    for dr, dc, wgt in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        rr, cc = r0 + dr, c0 + dc
        ok = (rr >= 0) & (rr < H) & (cc >= 0) & (cc < W)
        flat = base + np.clip(rr, 0, H - 1) * W + np.clip(cc, 0, W - 1)
        out += (wgt * ok)[..., None] * np.take(src, flat.ravel(), axis=0).reshape(N, H, W, C)
    return np.transpose(out, (1, 2, 3, 0))


_ROTATED: dict = {}


def _rotated_digits(split):
    if split not in _ROTATED:  # computed once per process (about a second), then copied
        X, labels, _ = load_digits(split)
        rng = np.random.default_rng(_ANGLE_SEEDS[split])
        angles = rng.uniform(ANGLE_RANGE[0], ANGLE_RANGE[1], size=labels.shape[0]).astype(np.float32)
        _ROTATED[split] = (rotate_images(X, angles), labels, angles)
    return tuple(a.copy() for a in _ROTATED[split])


def digitTrain4DArrayData():
    """Rotated handwritten digits with their angles: ``X, labels, angles = digitTrain4DArrayData()``.

    MATLAB counterpart: ``[XTrain, YTrain, anglesTrain] = digitTrain4DArrayData`` (the data of "Train
    Network with Multiple Outputs"). Made deterministically from the shipped MNIST digits
    (``load_digits("train")``, 4,000 images; MATLAB's synthetic set has 5,000): image n is rotated by
    ``angles[n]`` degrees, drawn once from U(-45, 45) with a fixed seed (MATLAB's range), counterclockwise
    as displayed, with bilinear interpolation (:func:`rotate_images`). Nothing is downloaded.

    Returns X float32 28 x 28 x 1 x N ("SSCB", values in [0, 1]), labels int64 (N,) (MATLAB: categorical),
    angles float32 (N,) in degrees (MATLAB: N x 1). Every call returns the same values in new arrays.
    """
    return _rotated_digits("train")


def digitTest4DArrayData():
    """Rotated test digits with their angles: ``X, labels, angles = digitTest4DArrayData()``.

    MATLAB counterpart: ``[XTest, YTest, anglesTest] = digitTest4DArrayData``. The 1,000 test digits of
    ``load_digits("test")``, rotated like :func:`digitTrain4DArrayData` (angles from another fixed seed).
    """
    return _rotated_digits("test")


DIGIT_DATASET_ENV = "DLTEACH_DATA_DIR"
_DIGIT_DATASET_MARKER = "README.txt"


def _cache_root() -> Path:
    """Where dlteach writes data folders: $DLTEACH_DATA_DIR, else the user cache dir + /dlteach."""
    env = os.environ.get(DIGIT_DATASET_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "dlteach"


def _write_digit_dataset(folder: Path) -> None:
    from PIL import Image

    raw = _raw_digits()
    counts = np.zeros(NUM_CLASSES, dtype=np.int64)
    for d in range(NUM_CLASSES):
        (folder / str(d)).mkdir(parents=True)
    for img, lab in zip(raw["images"], raw["labels"]):
        counts[lab] += 1
        Image.fromarray(np.ascontiguousarray(img), mode="L").save(folder / str(int(lab)) / f"image{counts[lab]:04d}.png")
    (folder / _DIGIT_DATASET_MARKER).write_text(
        "DigitDataset written by dlteach.digitDatasetPath() from dlteach/data/digits5k.npz:\n"
        f"{int(counts.sum())} MNIST digits (28x28 grey PNG), one folder per digit 0..9 ({int(counts[0])} each).\n"
        "MNIST: Yann LeCun and Corinna Cortes, CC BY-SA 3.0. Delete this folder to have it written again.\n")


def digitDatasetPath() -> str:
    """The folder of MATLAB's ``DigitDataset`` layout, made from the shipped digits: ``imageDatastore`` reads it.

    MATLAB counterpart: ``fullfile(matlabroot, 'toolbox', 'nnet', 'nndemos', 'nndatasets', 'DigitDataset')``
    (10,000 synthetic 28x28 digits). Here: the 5,000 real MNIST digits of :func:`load_digits` (500 per
    digit), as 28x28 grey 8-bit PNG files in ten subfolders ``"0"`` ... ``"9"`` (``0/image0001.png`` ...).
    Written once (about a second) to ``$DLTEACH_DATA_DIR/DigitDataset`` if that variable is set, else to
    the user cache folder (``~/.cache/dlteach/DigitDataset`` on Linux); later calls return the path at once.
    Nothing is downloaded. Safe when several processes call it at once: each writes a private temporary
    folder and renames it into place; the first rename wins, the others discard their copy.
    """
    root = _cache_root()
    folder = root / "DigitDataset"
    if (folder / _DIGIT_DATASET_MARKER).is_file():
        return str(folder)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="DigitDataset.tmp-", dir=root))
    except OSError as err:
        raise DataArgumentError(
            f"digitDatasetPath: cannot write the DigitDataset folder under {str(root)!r} ({err}). Set the "
            f"environment variable {DIGIT_DATASET_ENV} to a folder you can write to.") from None
    try:
        _write_digit_dataset(tmp / "DigitDataset")
        try:
            os.rename(tmp / "DigitDataset", folder)
        except OSError:
            # another process renamed its copy first (the target exists), or an incomplete folder is in the way
            if not (folder / _DIGIT_DATASET_MARKER).is_file():
                stale = root / f"DigitDataset.stale-{os.getpid()}-{os.urandom(4).hex()}"
                try:
                    os.rename(folder, stale)
                    shutil.rmtree(stale, ignore_errors=True)
                except OSError:
                    pass
                try:
                    os.rename(tmp / "DigitDataset", folder)
                except OSError:
                    pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not (folder / _DIGIT_DATASET_MARKER).is_file():
        raise DataArgumentError(f"digitDatasetPath: could not create {str(folder)!r}; delete it and try again.")
    return str(folder)


def make_regression_line(n: int = 100, slope: float = 2.0, intercept: float = -1.0,
                         noise: float = 0.1, seed: int = 0):
    """Noisy points on a line: ``X, Y = make_regression_line()``; both float32 1 x N ("CB").

    No MATLAB counterpart (a synthetic teaching data set; MATLAB examples build it inline with ``rand``).

    x ~ Uniform(-1, 1), y = slope * x + intercept + noise * e with e ~ N(0, 1), drawn from
    ``numpy.random.default_rng(seed)`` (the same seed gives the same points).
    """
    n = _check_count(n, "make_regression_line")
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=n)
    y = slope * x + intercept + noise * rng.standard_normal(n)
    return x.astype(np.float32)[np.newaxis, :], y.astype(np.float32)[np.newaxis, :]


def make_moons(n: int = 200, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles: ``X, labels, T = make_moons()``.

    No MATLAB counterpart (scikit-learn's ``make_moons``, as a teaching data set).

    Class 0 (first ceil(n/2) points): (cos t, sin t), t ~ Uniform(0, pi).
    Class 1 (the rest):                (1 - cos t, 0.5 - sin t).
    Gaussian noise with standard deviation ``noise`` is added to both coordinates; the order of the
    points is then shuffled. Everything is drawn from ``numpy.random.default_rng(seed)``.

    Returns X float32 2 x N ("CB"), labels int64 (N,), T float32 one-hot 2 x N ("CB").
    """
    n = _check_count(n, "make_moons")
    rng = np.random.default_rng(seed)
    n0 = (n + 1) // 2
    n1 = n - n0
    t0 = rng.uniform(0.0, np.pi, size=n0)
    t1 = rng.uniform(0.0, np.pi, size=n1)
    pts = np.concatenate([
        np.stack([np.cos(t0), np.sin(t0)]),
        np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)]),
    ], axis=1)
    pts += noise * rng.standard_normal(pts.shape)
    labels = np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])
    order = rng.permutation(n)
    labels = labels[order]
    return pts[:, order].astype(np.float32), labels, _onehot(labels, 2)


def _check_count(n, who: str) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise DataArgumentError(f"{who}: n must be a positive integer (the number of points), got {n!r}.")
    return int(n)

