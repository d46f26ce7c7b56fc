"""Image datastores and augmentation: ``imageDatastore``, ``augmentedImageDatastore``, ``imageDataAugmenter``.

MATLAB counterparts: ``imageDatastore`` (with ``splitEachLabel``, ``countEachLabel``), ``imageDataAugmenter``
(with ``augment``), ``augmentedImageDatastore``, and ``cat`` / ``categories`` as the pages'
``preprocessMiniBatch`` functions use them::

    imds = imageDatastore(digitDatasetPath(), IncludeSubfolders=True, LabelSource="foldernames")
    imdsTrain, imdsTest = splitEachLabel(imds, 0.9, "randomized")
    aug = imageDataAugmenter(RandXTranslation=[-5, 5], RandYTranslation=[-5, 5])
    augimdsTrain = augmentedImageDatastore([28, 28], imdsTrain, DataAugmentation=aug)
    classes = categories(imdsTrain.Labels)

    def preprocessMiniBatch(dataX, dataT):          # MATLAB: X = cat(4, dataX{:});
        X = cat(4, *dataX)                          #         T = onehotencode(cat(2, dataT{:}), 1);
        T = onehotencode(cat(2, *dataT), 1, ClassNames=classes)
        return X, T

    mbq = minibatchqueue(augimdsTrain, MiniBatchSize=128, MiniBatchFcn=preprocessMiniBatch,
                         MiniBatchFormat=["SSCB", ""])

Decisions (MATLAB -> Python; each is tested in tests/test_image_datastore.py):

* Images are NumPy arrays in MATLAB's layout, in the class they have in the file (``imread``): grey
  H x W, colour H x W x 3, usually uint8. Files are read with Pillow (RGBA and palette images become
  RGB, as ``imread`` returns them without the alpha channel).
* ``Labels`` (MATLAB: a categorical array) is a NumPy string array, one folder name per file;
  ``categories(labels)`` gives the sorted class names, as the categories of MATLAB's foldername labels.
  A NumPy array does not remember its categories, so ``onehotencode`` needs ``ClassNames=classes``
  where MATLAB's categorical brings them (a mini-batch may miss a class).
* ``read(imds)`` returns the image (ReadSize 1) or a list of ReadSize images (MATLAB's cell array);
  ``readall`` a list. For ``minibatchqueue`` an observation of an imageDatastore has one variable (the
  image), as ``read`` has in MATLAB.
* ``read(augimds)`` returns MATLAB's table as a dict of columns: ``{"input": [images], "response":
  labels}`` (``data["input"][0]`` is MATLAB's ``data.input{1}``); without labels only ``"input"``. Each
  output image is H x W x C (grey: H x W x 1, the same array MATLAB's H x W is), so
  ``cat(4, *dataX)`` and ``np.stack(dataX, axis=3)`` give H x W x C x B. For ``minibatchqueue`` an
  observation has the variables ``input`` and ``response`` (a 1-element string array, so that
  ``cat(2, *dataT)`` / ``np.concatenate(dataT)`` give the labels of the mini-batch).
* Random choices (``shuffle``, ``splitEachLabel(..., "randomized")``, every augmentation) draw from
  NumPy's global generator, as ``shuffle(mbq)`` and ``dropout`` do: ``np.random.seed(0)`` makes a run
  reproducible, as ``rng(0)`` does in MATLAB (the numbers differ from MATLAB's).
* ``partition(ds, N, idx)`` counts ``idx`` from 0 (MATLAB from 1), as for every dlteach datastore.
"""

from __future__ import annotations

import glob
import numbers
import os
from pathlib import Path

import numpy as np

from . import validate as _v
from .datastore import Datastore, DatastoreError

__all__ = ["imageDatastore", "splitEachLabel", "countEachLabel", "imageDataAugmenter", "augment",
           "augmentedImageDatastore", "categories", "cat", "ImageDatastore", "ImageDataAugmenter",
           "AugmentedImageDatastore", "ImageDatastoreError"]

# Formats Pillow reads, a subset of MATLAB's imformats list (the default of FileExtensions).
DEFAULT_EXTENSIONS = (".bmp", ".gif", ".ico", ".jpeg", ".jpg", ".pbm", ".pcx", ".pgm", ".png", ".pnm",
                      ".ppm", ".tif", ".tiff")


class ImageDatastoreError(DatastoreError):
    """An image datastore or augmenter was created or used the wrong way (the message names the fix)."""


def _fail(fname, name, expected, given, hint=""):
    _v.fail(fname, name, expected, given, hint, cls=ImageDatastoreError)


# -------------------------------------------------------------------------------------------------
# small MATLAB helpers used by preprocessMiniBatch

def cat(dim, *arrays):
    """Concatenate arrays along dimension ``dim`` counted from 1 (MATLAB ``cat(dim, A1, A2, ...)``).

    As in MATLAB, every array has trailing dimensions of size 1 as far as needed: ``cat(4, *images)``
    stacks H x W (or H x W x C) images into H x W x 1 x B (H x W x C x B), ``cat(2, *labels)`` puts
    1-element label arrays side by side (1 x B). A NumPy 1-D array of n elements counts as n x 1.
    MATLAB's ``cat(4, dataX{:})`` is ``cat(4, *dataX)``.
    """
    d = _v.integer("cat", "dim", dim, 1, 32, cls=ImageDatastoreError,
                   hint="It counts from 1 as in MATLAB: cat(4, *images) stacks images.")
    if len(arrays) == 1 and isinstance(arrays[0], (list, tuple)):
        raise ImageDatastoreError(
            "cat: give the arrays themselves, not a list of them: MATLAB's cat(4, dataX{:}) is cat(4, *dataX) "
            "(the star unpacks the list, as {:} does).")
    if not arrays:
        raise ImageDatastoreError("cat: no arrays to concatenate (MATLAB's cat(dim) returns []); give at least one.")
    from .dlarray import dlarray, extractdata

    arrs = [np.asarray(extractdata(a) if isinstance(a, dlarray) else a) for a in arrays]
    nd = max(d, *(a.ndim for a in arrs), 2)
    arrs = [a.reshape(a.shape + (1,) * (nd - a.ndim)) for a in arrs]
    shapes = {a.shape[:d - 1] + a.shape[d:] for a in arrs}
    if len(shapes) > 1:
        from .formats import size_text

        raise ImageDatastoreError(
            f"cat: the arrays must have the same size in every dimension except dimension {d}; got sizes "
            + ", ".join(size_text(a.shape) for a in arrs[:4]) + (" ..." if len(arrs) > 4 else "")
            + ". Resize the images to one size first (augmentedImageDatastore(outputSize, imds) does it).")
    return np.concatenate(arrs, axis=d - 1)


def categories(labels):
    """The class names of a label array, sorted (MATLAB ``categories(C)`` of foldername labels).

    dlteach's labels are NumPy string (or integer) arrays; their categories are the sorted unique values,
    which is the order MATLAB gives the folder names of an imageDatastore. Returns a list.
    """
    _v.not_none("categories", "labels", labels, "an array of labels (imds.Labels)")
    lab = np.asarray(labels).reshape(-1)
    if lab.size == 0:
        raise ImageDatastoreError(
            "categories: the labels are empty. An imageDatastore created with LabelSource='none' (the default) "
            "has no labels: use LabelSource='foldernames'.")
    return [v.item() for v in np.unique(lab)]


# -------------------------------------------------------------------------------------------------
# reading images

def _read_image(filename):
    """MATLAB ``imread``: an H x W (grey) or H x W x 3 (colour) array in the file's class."""
    from PIL import Image

    with Image.open(filename) as im:
        mode = im.mode
        if mode in ("L", "I;16", "I;16B", "I;16L", "I", "F", "1"):
            a = np.asarray(im)
            if mode.startswith("I;16"):
                a = a.astype(np.uint16)
            return np.array(a)
        if mode == "LA":
            return np.array(np.asarray(im.convert("L")))
        return np.array(np.asarray(im.convert("RGB")))


def _as_path_list(location, fname):
    if location is None:
        _fail(fname, "location", "a folder, a file, or a list of them", location)
    if isinstance(location, (str, os.PathLike)):
        return [os.fspath(location)]
    if isinstance(location, (list, tuple)) and location and all(isinstance(p, (str, os.PathLike)) for p in location):
        return [os.fspath(p) for p in location]
    _fail(fname, "location", "a folder, a file, or a list of them (a str or pathlib.Path)", location)


def _find_files(locations, include_subfolders, extensions):
    files = []
    for loc in locations:
        if any(ch in loc for ch in "*?["):
            matches = sorted(glob.glob(loc, recursive=include_subfolders))
            if not matches:
                raise ImageDatastoreError(f"imageDatastore: no file or folder matches the pattern {loc!r}.")
            cand = matches
        else:
            cand = [loc]
        for c in cand:
            p = Path(c)
            if p.is_dir():
                walker = p.rglob("*") if include_subfolders else p.iterdir()
                files.extend(str(f) for f in walker if f.is_file() and f.suffix.lower() in extensions)
            elif p.is_file():
                if p.suffix.lower() not in extensions:
                    raise ImageDatastoreError(
                        f"imageDatastore: {str(p)!r} does not have one of the FileExtensions "
                        f"{list(extensions)}. Add its extension: FileExtensions=[{p.suffix.lower()!r}].")
                files.append(str(p))
            else:
                raise ImageDatastoreError(
                    f"imageDatastore: the folder or file {str(p)!r} does not exist (looked in "
                    f"{str(p.resolve().parent)!r}). Check the path; for MATLAB's DigitDataset use "
                    "digitDatasetPath().")
    # one ordering on every machine: by path components (MATLAB lists folders and files alphabetically)
    files = sorted(dict.fromkeys(files), key=lambda f: Path(f).parts)
    return files


def _no_images_message(locations, include_subfolders, extensions):
    hint = ""
    for loc in locations:
        p = Path(loc)
        if p.is_dir() and not include_subfolders:
            sub = [d for d in p.iterdir() if d.is_dir()]
            if sub and any(f.suffix.lower() in extensions for d in sub for f in d.iterdir() if f.is_file()):
                hint = (f" The images are in its subfolders ({', '.join(sorted(d.name for d in sub)[:4])}"
                        f"{' ...' if len(sub) > 4 else ''}): add IncludeSubfolders=True.")
                break
    return (f"imageDatastore: no image files found in {', '.join(repr(x) for x in locations)} "
            f"(FileExtensions {list(extensions)}).{hint}")


class ImageDatastore(Datastore):
    """Datastore over image files (MATLAB ``ImageDatastore``); create it with :func:`imageDatastore`."""

    def __init__(self, files, labels, read_size=1, read_fcn=None, extensions=DEFAULT_EXTENSIONS, folders=()):
        self._files = list(files)
        self._labels = labels
        self._order = None
        self.ReadSize = read_size
        self._read_fcn = read_fcn
        self.FileExtensions = list(extensions)
        self.Folders = list(folders)
        self._pos = 0

    # properties with MATLAB's names ---------------------------------------------------------------
    @property
    def Files(self) -> list:
        """The image files, one per observation (MATLAB: a cell array of file names)."""
        if self._order is None:
            return list(self._files)
        return [self._files[i] for i in self._order]

    @property
    def Labels(self):
        """The label of every file (MATLAB: categorical), a NumPy string array; empty without labels."""
        if self._labels is None:
            return np.array([], dtype=str)
        return self._labels.copy() if self._order is None else self._labels[self._order]

    @Labels.setter
    def Labels(self, value):
        lab = np.asarray(value)
        if lab.ndim != 1 or lab.shape[0] != self._num_obs():
            raise ImageDatastoreError(
                f"imageDatastore: Labels needs one label per file ({self._num_obs()}); got an array of size "
                f"{'x'.join(map(str, lab.shape))}.")
        if self._order is not None:  # a shuffled / partitioned view: its files in its order become its own
            self._files, self._order = self.Files, None
        self._labels = lab.copy()

    @property
    def ReadSize(self) -> int:
        return self._rs

    @ReadSize.setter
    def ReadSize(self, value):
        self._rs = _v.integer("imageDatastore", "ReadSize", value, 1, cls=ImageDatastoreError)

    @property
    def ReadFcn(self):
        """The function that reads one file (default: Pillow, as MATLAB's ``imread``)."""
        return self._read_fcn if self._read_fcn is not None else _read_image

    def _read_size(self):
        return self._rs

    # protocol ---------------------------------------------------------------------------------------
    def _num_obs(self):
        return len(self._files) if self._order is None else len(self._order)

    def _index(self, i):
        return int(self._order[i]) if self._order is not None else i

    def _image(self, j):
        f = self._files[j]
        try:
            img = self.ReadFcn(f)
        except FileNotFoundError:
            raise ImageDatastoreError(f"read: the file {f!r} no longer exists (was it moved or deleted after "
                                      "imageDatastore listed it?). Create the datastore again.") from None
        except Exception as err:
            if self._read_fcn is not None:
                raise
            raise ImageDatastoreError(f"read: cannot read {f!r} as an image ({type(err).__name__}: {err}).") from None
        return img

    def _rows(self, indices):
        return [[self._image(self._index(i))] for i in indices]

    def _format(self, rows):
        images = [r[0] for r in rows]
        return images[0] if self._rs == 1 and len(images) == 1 else images

    def readall(self):
        """All images, a list (MATLAB ``readall(imds)``: a cell array)."""
        return [r[0] for r in self._rows(range(self._num_obs()))]

    def _label_rows(self, indices):
        """Per observation its label as a 1-element string array (MATLAB: a categorical scalar)."""
        if self._labels is None:
            return None
        return [self._labels[j:j + 1] for j in map(self._index, indices)]

    def _permuted(self, order):
        new = self._copy()
        base = self._order if self._order is not None else np.arange(len(self._files))
        new._order = base[np.asarray(order, dtype=np.int64)]
        new._pos = 0
        return new

    def _subset(self, positions):
        """A new datastore with these observations (positions in the current order) as its files."""
        pos = np.asarray(positions, dtype=np.int64)
        idx = pos if self._order is None else self._order[pos]
        new = self._copy()
        new._files = [self._files[i] for i in idx]
        new._labels = None if self._labels is None else self._labels[idx]
        new._order = None
        new._pos = 0
        return new

    def __repr__(self):
        n = self._num_obs()
        files = self.Files
        shown = "\n".join(f"                       '{f}'" for f in files[:3]) + ("\n                        ... and "
                                                                               f"{n - 3} more" if n > 3 else "")
        labels = self.Labels
        lab = (f"{len(labels)} labels, categories {categories(labels)}" if labels.size else "none (LabelSource='none')")
        return ("ImageDatastore with properties:\n\n"
                f"                       Files: {n} files\n{shown}\n"
                f"                     Folders: {self.Folders}\n"
                f"                      Labels: {lab}\n"
                f"                    ReadSize: {self._rs}\n"
                f"              FileExtensions: {self.FileExtensions}")


def imageDatastore(location, *, IncludeSubfolders=False, LabelSource="none", FileExtensions=None, ReadSize=1,
                   ReadFcn=None, Labels=None):
    """Datastore of image files (MATLAB ``imds = imageDatastore(location, Name=Value)``).

    ``location``: a folder, a file, a wildcard pattern, or a list of them. ``IncludeSubfolders=True``
    also lists the files of every subfolder. ``LabelSource="foldernames"`` labels each file with the
    name of the folder it is in (``Labels``, a string array); ``"none"`` (default): no labels.
    ``FileExtensions``: the extensions to list (default: the image formats Pillow reads).
    ``read`` returns one image per call (``ReadSize=1``): H x W (grey) or H x W x 3, in the file's class
    (uint8 for 8-bit files). ``ReadFcn``: a function ``image = fcn(filename)`` that replaces Pillow.
    """
    fname = "imageDatastore"
    locations = _as_path_list(location, fname)
    inc = _v.flag(fname, "IncludeSubfolders", IncludeSubfolders, cls=ImageDatastoreError)
    source = _v.option(fname, "LabelSource", LabelSource, ("none", "foldernames"), cls=ImageDatastoreError)
    if FileExtensions is None:
        ext = DEFAULT_EXTENSIONS
    else:
        exts = [FileExtensions] if isinstance(FileExtensions, str) else FileExtensions
        if not isinstance(exts, (list, tuple)) or not exts or not all(isinstance(e, str) for e in exts):
            _fail(fname, "FileExtensions", "an extension or a list of them, e.g. '.png' or ['.png', '.jpg']",
                  FileExtensions)
        bad = [e for e in exts if not e.startswith(".")]
        if bad:
            _fail(fname, "FileExtensions", "extensions that start with a dot", FileExtensions,
                  f"Write {'.' + bad[0]!r}, not {bad[0]!r}.")
        ext = tuple(e.lower() for e in exts)
    if ReadFcn is not None and not callable(ReadFcn):
        _fail(fname, "ReadFcn", "a function image = fcn(filename)", ReadFcn)
    files = _find_files(locations, inc, ext)
    if not files:
        raise ImageDatastoreError(_no_images_message(locations, inc, ext))
    labels = None
    if source == "foldernames":
        labels = np.array([Path(f).parent.name for f in files])
        if Labels is not None:
            raise ImageDatastoreError("imageDatastore: give LabelSource='foldernames' or Labels=..., not both.")
        flat = [loc for loc in locations if Path(loc).is_dir() and all(Path(f).parent == Path(loc) for f in files)]
        if len(np.unique(labels)) == 1 and flat:
            raise ImageDatastoreError(
                f"imageDatastore: LabelSource='foldernames' labels each image with the name of the folder it is "
                f"in, but all {len(files)} images are directly in {flat[0]!r}, so every label would be "
                f"{labels[0]!r}. Put each class in its own subfolder (e.g. {flat[0]}/0, {flat[0]}/1, ...) and "
                "use IncludeSubfolders=True, or use LabelSource='none'.")
    elif Labels is not None:
        labels = np.asarray(Labels)
        if labels.ndim != 1 or labels.shape[0] != len(files):
            raise ImageDatastoreError(f"imageDatastore: Labels needs one label per file ({len(files)} files); got "
                                      f"{labels.shape[0] if labels.ndim else 'a scalar'}.")
    folders = [os.path.abspath(loc) for loc in locations]
    return ImageDatastore(files, labels, ReadSize, ReadFcn, ext, folders)


def _require_imds(imds, fname):
    if isinstance(imds, ImageDatastore):
        return imds
    raise ImageDatastoreError(f"{fname} expects an imageDatastore; got {_v.describe(imds)}. Create one with "
                              "imageDatastore(folder, IncludeSubfolders=True, LabelSource='foldernames').")


def _require_labels(imds, fname):
    if imds._labels is None:
        raise ImageDatastoreError(
            f"{fname}: this imageDatastore has no labels. Create it with LabelSource='foldernames' (one subfolder "
            "per class) or set imds.Labels.")


def countEachLabel(imds):
    """The number of files of each label (MATLAB ``tbl = countEachLabel(imds)``): a dict label -> count,
    in the order of ``categories(imds.Labels)`` (MATLAB: a table with variables Label and Count)."""
    _require_labels(_require_imds(imds, "countEachLabel"), "countEachLabel")
    vals, counts = np.unique(imds.Labels, return_counts=True)
    return {v.item(): int(c) for v, c in zip(vals, counts)}


def splitEachLabel(imds, *args, Include=None, Exclude=None):
    """Split an image datastore label by label (MATLAB ``[imds1, imds2, ...] = splitEachLabel(imds, p1, ...)``).

    ``p`` is a proportion (0 < p < 1: ``floor(p * n)`` files of a label with n files) or a count (an
    integer >= 1: that many files of every label). With ``p1, ..., pN`` the result has N + 1
    datastores, the last one holding the files left over. The files of each label are taken in order,
    or at random with ``"randomized"`` as the last argument (NumPy's global generator: seed it with
    ``np.random.seed``). ``Include`` / ``Exclude``: the labels to keep / leave out first. Each datastore
    keeps the files in the order of ``imds``.
    Proportions round down, as MATLAB's page says ("rounds down to the nearest integer").
    """
    fname = "splitEachLabel"
    _require_imds(imds, fname)
    _require_labels(imds, fname)
    args = list(args)
    randomized = False
    if args and isinstance(args[-1], str):
        word = args.pop()
        if word.lower() not in ("randomized", "randomize"):
            _fail(fname, "the last argument", "'randomized' (or a proportion)", word)
        randomized = True
    if not args:
        raise ImageDatastoreError(f"{fname}: give the proportion of each label for the first datastore, e.g. "
                                  "splitEachLabel(imds, 0.9, 'randomized') (90% / 10%).")
    props = []
    for k, p in enumerate(args):
        name = "p" if len(args) == 1 else f"p{k + 1}"
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real) or not np.isfinite(p) or p <= 0:
            _fail(fname, name, "a proportion between 0 and 1 (0.9 = 90%) or a number of files (an integer >= 1)", p)
        if p >= 1 and not float(p).is_integer():
            _fail(fname, name, "a proportion between 0 and 1 or a whole number of files", p,
                  f"For {p}% write {p / 100:g}.")
        props.append(float(p))
    fractions = [p < 1 for p in props]
    if any(fractions) and not all(fractions):
        raise ImageDatastoreError(f"{fname}: give all proportions (between 0 and 1) or all numbers of files, not a "
                                  f"mix; got {args}.")
    if all(fractions) and sum(props) > 1 + 1e-12:
        raise ImageDatastoreError(f"{fname}: the proportions add up to {sum(props):g}, more than 1 (all the files); "
                                  "they must add up to at most 1, e.g. splitEachLabel(imds, 0.7, 0.15) for "
                                  "70% / 15% / 15%.")
    labels = imds.Labels
    keep = np.ones(len(labels), dtype=bool)
    for opt, flag in (("Include", True), ("Exclude", False)):
        val = Include if flag else Exclude
        if val is not None:
            chosen = np.atleast_1d(np.asarray(val)).astype(labels.dtype)
            unknown = [c.item() for c in chosen if c not in set(labels.tolist())]
            if unknown:
                raise ImageDatastoreError(f"{fname}: {opt} names labels that are not in the datastore: {unknown}; "
                                          f"the labels are {categories(labels)}.")
            keep &= np.isin(labels, chosen) if flag else ~np.isin(labels, chosen)
    groups = [(lab, np.flatnonzero((labels == lab) & keep)) for lab in np.unique(labels[keep])]
    asked = [[int(np.floor(p * len(pos) + 1e-9)) if p < 1 else int(p) for p in props] for _, pos in groups]
    short = [(len(pos), lab.item(), sum(c)) for (lab, pos), c in zip(groups, asked) if sum(c) > len(pos)]
    if short:
        n, lab, want = min(short)
        per = " + ".join(str(int(p)) for p in props)
        raise ImageDatastoreError(
            f"{fname}: {per}{f' = {want}' if len(props) > 1 else ''} files of every label were asked for, but label "
            f"{lab!r} has only {n} files (counts: {', '.join(f'{g.item()}: {len(q)}' for g, q in groups)}). A number "
            ">= 1 is a count of files per label; for a proportion give a value between 0 and 1 (e.g. 0.9 for 90%).")
    parts = [[] for _ in range(len(props) + 1)]
    for (_lab, pos), counts in zip(groups, asked):
        n = len(pos)
        if randomized:
            pos = pos[np.random.permutation(n)]
        start = 0
        for k, c in enumerate(counts):
            parts[k].append(pos[start:start + c])
            start += c
        parts[-1].append(pos[start:])
    out = [imds._subset(np.sort(np.concatenate(p)) if p else np.array([], dtype=np.int64)) for p in parts]
    return tuple(out)


# -------------------------------------------------------------------------------------------------
# imageDataAugmenter

_RANGE_OPTIONS = ("RandRotation", "RandScale", "RandXScale", "RandYScale", "RandXShear", "RandYShear",
                  "RandXTranslation", "RandYTranslation")
_DEFAULTS = {"RandRotation": (0.0, 0.0), "RandScale": (1.0, 1.0), "RandXScale": (1.0, 1.0),
             "RandYScale": (1.0, 1.0), "RandXShear": (0.0, 0.0), "RandYShear": (0.0, 0.0),
             "RandXTranslation": (0.0, 0.0), "RandYTranslation": (0.0, 0.0)}


def _range(name, value):
    if callable(value):
        return value
    fname = "imageDataAugmenter"
    arr = np.asarray(value, dtype=object).reshape(-1) if value is not None else None
    if arr is None or arr.size != 2 or not all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))
                                                for v in arr):
        _fail(fname, name, "a range [low, high] of two numbers (or a function that returns one value)", value,
              f"e.g. {name}=[-5, 5].")
    lo, hi = float(arr[0]), float(arr[1])
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        _fail(fname, name, "a range [low, high] of finite numbers with low <= high", value)
    if "Scale" in name and lo <= 0:
        _fail(fname, name, "a range of positive scale factors (1 = unchanged)", value)
    if "Shear" in name and (lo <= -90 or hi >= 90):
        _fail(fname, name, "a range of shear angles in degrees, strictly between -90 and 90", value)
    return (lo, hi)


class ImageDataAugmenter:
    """Random affine augmentation of images (MATLAB ``imageDataAugmenter``); create it with
    :func:`imageDataAugmenter`. Apply it with :func:`augment` or through ``augmentedImageDatastore``."""

    def __init__(self, **opts):
        for name in _RANGE_OPTIONS:
            setattr(self, name, _range(name, opts.get(name, _DEFAULTS[name])))
        for name in ("RandXReflection", "RandYReflection"):
            setattr(self, name, _v.flag("imageDataAugmenter", name, opts.get(name, False), cls=ImageDatastoreError))
        fill = opts.get("FillValue", 0.0)
        arr = np.asarray(fill, dtype=np.float64) if isinstance(fill, (numbers.Real, list, tuple, np.ndarray)) else None
        if arr is None or arr.ndim > 1 or not np.all(np.isfinite(arr)):
            _fail("imageDataAugmenter", "FillValue", "a number (or one number per channel)", fill)
        self.FillValue = fill

    def _draw(self, name):
        v = getattr(self, name)
        if callable(v):
            return float(v())
        lo, hi = v
        return lo if lo == hi else float(np.random.uniform(lo, hi))

    def _random_matrix(self):
        """Draw one transform: the 2 x 3 forward matrix on centred (x = column, y = row, y down) coordinates.

        Order of the draws and of the composition (decision; MATLAB does not document it): reflection,
        rotation, scale, shear, translation, i.e. ``p' = T + Sh * S * R * F * p``.
        """
        fx = -1.0 if self.RandXReflection and np.random.random() < 0.5 else 1.0
        fy = -1.0 if self.RandYReflection and np.random.random() < 0.5 else 1.0
        theta = np.deg2rad(self._draw("RandRotation"))
        if self.RandScale != (1.0, 1.0):
            sx = sy = self._draw("RandScale")
        else:
            sx, sy = self._draw("RandXScale"), self._draw("RandYScale")
        shx, shy = np.deg2rad(self._draw("RandXShear")), np.deg2rad(self._draw("RandYShear"))
        tx, ty = self._draw("RandXTranslation"), self._draw("RandYTranslation")
        return transform_matrix(fx, fy, theta, sx, sy, shx, shy, tx, ty)

    def __repr__(self):
        lines = [f"{n:>17}: {getattr(self, n)}" for n in
                 ("FillValue", "RandXReflection", "RandYReflection", *_RANGE_OPTIONS)]
        return "imageDataAugmenter with properties:\n\n" + "\n".join(lines)


def transform_matrix(fx=1.0, fy=1.0, theta=0.0, sx=1.0, sy=1.0, shx=0.0, shy=0.0, tx=0.0, ty=0.0):
    """The forward affine map on centred image coordinates (x right, y DOWN, as MATLAB's image axes):
    ``[x'; y'] = A [x; y] + t`` with ``A = Sh S R F``: F = diag(fx, fy) (reflection: -1), R = rotation by
    ``theta`` radians counterclockwise as displayed ``[[cos, sin], [-sin, cos]]``, S = diag(sx, sy),
    Sh = ``[[1, tan(shx)], [tan(shy), 1]]``, t = (tx, ty) (positive tx: right, positive ty: down)."""
    F = np.diag([fx, fy])
    c, s = np.cos(theta), np.sin(theta)
    R = np.array([[c, s], [-s, c]])
    S = np.diag([sx, sy])
    Sh = np.array([[1.0, np.tan(shx)], [np.tan(shy), 1.0]])
    return np.hstack([Sh @ S @ R @ F, [[tx], [ty]]])


def _warp(images, mats, fill):
    """Apply each forward matrix (N x 2 x 3) to each image (N x H x W x C, float64) about the image centre:
    bilinear interpolation of the inverse map; samples from outside the image are ``fill``."""
    N, H, W, C = images.shape
    cy, cx = (H - 1) / 2.0, (W - 1) / 2.0
    rows, cols = np.meshgrid(np.arange(H, dtype=np.float64), np.arange(W, dtype=np.float64), indexing="ij")
    out_x, out_y = cols - cx, rows - cy
    A = mats[:, :, :2]
    t = mats[:, :, 2]
    Ainv = np.linalg.inv(A)  # N x 2 x 2
    dx = out_x[None] - t[:, 0, None, None]
    dy = out_y[None] - t[:, 1, None, None]
    xs = Ainv[:, 0, 0, None, None] * dx + Ainv[:, 0, 1, None, None] * dy + cx
    ys = Ainv[:, 1, 0, None, None] * dx + Ainv[:, 1, 1, None, None] * dy + cy
    # snap coordinates within rounding error of a pixel centre (exact flips, 90-degree turns, shifts)
    for a in (xs, ys):
        r = np.rint(a)
        close = np.abs(a - r) < 1e-9
        a[close] = r[close]
    r0, c0 = np.floor(ys), np.floor(xs)
    fr, fc = ys - r0, xs - c0
    r0, c0 = r0.astype(np.int64), c0.astype(np.int64)
    src = images.reshape(N * H * W, C)
    base = (np.arange(N) * (H * W))[:, None, None]
    fill = np.broadcast_to(np.asarray(fill, dtype=np.float64), (C,))
    out = np.zeros((N, H, W, C))
    for dr, dc, wgt in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        rr, cc = r0 + dr, c0 + dc
        ok = (rr >= 0) & (rr < H) & (cc >= 0) & (cc < W)
        flat = base + np.clip(rr, 0, H - 1) * W + np.clip(cc, 0, W - 1)
        w_in = np.where(ok, wgt, 0.0)
        out += w_in[..., None] * np.take(src, flat.ravel(), axis=0).reshape(N, H, W, C)
        if np.any(fill):
            out += np.where(ok, 0.0, wgt)[..., None] * fill
    return out


def _to_class(out, like):
    """Back to the input's class: integers are rounded and clipped to their range (as MATLAB's imwarp)."""
    if like.dtype.kind in "ui":
        info = np.iinfo(like.dtype)
        return np.clip(np.rint(out), info.min, info.max).astype(like.dtype)
    if like.dtype == np.bool_:
        return out >= 0.5
    return out.astype(like.dtype if like.dtype.kind == "f" else np.float64)


def imageDataAugmenter(*, FillValue=0, RandXReflection=False, RandYReflection=False, RandRotation=(0, 0),
                       RandScale=(1, 1), RandXScale=(1, 1), RandYScale=(1, 1), RandXShear=(0, 0),
                       RandYShear=(0, 0), RandXTranslation=(0, 0), RandYTranslation=(0, 0)):
    """Random image augmentation (MATLAB ``aug = imageDataAugmenter(Name=Value)``).

    For every image, one affine transform about the image centre is drawn: reflection left-right
    (``RandXReflection``, probability 1/2) and up-down (``RandYReflection``), a rotation in degrees
    (``RandRotation=[a, b]``, uniform; positive = counterclockwise as displayed, as ``imrotate``: a decision,
    the augmenter's page does not say), a scale (``RandScale``, or
    ``RandXScale`` / ``RandYScale``; RandScale wins), shears in degrees (``RandXShear``: x' = x + tan(s) y),
    and a translation in pixels (``RandXTranslation`` positive = right, ``RandYTranslation`` positive =
    down). Each range may be a function returning one value (MATLAB: a function handle). The image is
    resampled bilinearly; pixels from outside the image get ``FillValue`` (0). Draws come from NumPy's
    global generator (``np.random.seed``, MATLAB ``rng``).
    """
    return ImageDataAugmenter(FillValue=FillValue, RandXReflection=RandXReflection, RandYReflection=RandYReflection,
                              RandRotation=RandRotation, RandScale=RandScale, RandXScale=RandXScale,
                              RandYScale=RandYScale, RandXShear=RandXShear, RandYShear=RandYShear,
                              RandXTranslation=RandXTranslation, RandYTranslation=RandYTranslation)


def _hwc(img, fname="augment"):
    a = np.asarray(img)
    if a.ndim == 2:
        return a[:, :, None]
    if a.ndim == 3:
        return a
    raise ImageDatastoreError(f"{fname}: an image must be H x W or H x W x C; got an array of size "
                              f"{'x'.join(map(str, a.shape))}.")


def augment(augmenter, I):
    """Apply one random transform of the augmenter (MATLAB ``augI = augment(augmenter, I)``).

    ``I``: an image (H x W or H x W x C) or a list of images of one size, which all get the SAME random
    transform (MATLAB: a cell array). Returns the same kind and class.
    """
    if not isinstance(augmenter, ImageDataAugmenter):
        _fail("augment", "augmenter", "an imageDataAugmenter", augmenter)
    many = isinstance(I, (list, tuple))
    imgs = list(I) if many else [I]
    A = augmenter._random_matrix()
    out = []
    for img in imgs:
        a = np.asarray(img)
        w = _warp(_hwc(a).astype(np.float64)[None], A[None], augmenter.FillValue)[0]
        out.append(_to_class(w.reshape(a.shape), a))
    return out if many else out[0]


# -------------------------------------------------------------------------------------------------
# augmentedImageDatastore

def _resize(img, h, w):
    """Bilinear resize with Pillow, channel by channel in float (decision: MATLAB's imresize differs slightly)."""
    from PIL import Image

    H, W, C = img.shape
    if (H, W) == (h, w):
        return img
    chans = [np.asarray(Image.fromarray(img[:, :, c].astype(np.float32), mode="F").resize((w, h), Image.BILINEAR))
             for c in range(C)]
    return np.stack(chans, axis=2).astype(np.float64)


class AugmentedImageDatastore(Datastore):
    """Resized / augmented images (MATLAB ``augmentedImageDatastore``); create it with
    :func:`augmentedImageDatastore`."""

    def __init__(self, outputSize, source, labels, aug, color, mode, batch):
        self.OutputSize = outputSize
        self._src = source          # an ImageDatastore or an N-list of images
        self._labels = labels       # (N,) array or None, for an in-memory source
        self.DataAugmentation = aug
        self.ColorPreprocessing = color
        self.OutputSizeMode = mode
        self.MiniBatchSize = batch
        self._order = None
        self._pos = 0

    @property
    def NumObservations(self) -> int:
        return self._num_obs()

    def _read_size(self):
        return self.MiniBatchSize

    def _num_obs(self):
        n = self._src._num_obs() if isinstance(self._src, ImageDatastore) else len(self._src)
        return n if self._order is None else len(self._order)

    def _index(self, i):
        return int(self._order[i]) if self._order is not None else i

    def _raw(self, indices):
        idx = [self._index(i) for i in indices]
        if isinstance(self._src, ImageDatastore):
            imgs = [r[0] for r in self._src._rows(idx)]
            labels = self._src._label_rows(idx)
        else:
            imgs = [self._src[j] for j in idx]
            labels = None if self._labels is None else [self._labels[j:j + 1] for j in idx]
        return imgs, labels

    def _color(self, a):
        c = a.shape[2]
        if self.ColorPreprocessing == "gray2rgb" and c == 1:
            return np.repeat(a, 3, axis=2)
        if self.ColorPreprocessing == "rgb2gray" and c == 3:
            w = np.array([0.298936021293776, 0.587043074451121, 0.114020904255103])  # MATLAB rgb2gray
            return (a.astype(np.float64) @ w)[:, :, None]
        return a

    def _process(self, imgs):
        h, w = self.OutputSize[:2]
        dtypes = [np.asarray(img).dtype for img in imgs]
        prepared = [self._color(_hwc(img, "augmentedImageDatastore")) for img in imgs]
        if self.DataAugmentation is not None:
            mats = np.stack([self.DataAugmentation._random_matrix() for _ in prepared]) if prepared else None
            groups = {}
            for k, p in enumerate(prepared):
                groups.setdefault(p.shape, []).append(k)
            warped = [None] * len(prepared)
            for ks in groups.values():  # one vectorised warp per image size
                batch = np.stack([prepared[k].astype(np.float64) for k in ks])
                for k, o in zip(ks, _warp(batch, mats[ks], self.DataAugmentation.FillValue)):
                    warped[k] = o
            prepared = warped
        out = []
        for p, dt in zip(prepared, dtypes):
            H, W = p.shape[:2]
            if self.OutputSizeMode == "resize":
                p = _resize(p.astype(np.float64) if p.dtype.kind != "f" else p, h, w) if (H, W) != (h, w) else p
            else:
                if H < h or W < w:
                    raise ImageDatastoreError(
                        f"augmentedImageDatastore: OutputSizeMode='{self.OutputSizeMode}' crops, but an image of "
                        f"size {H}x{W} is smaller than OutputSize {h}x{w}. Use OutputSizeMode='resize'.")
                if self.OutputSizeMode == "centercrop":
                    r, c = (H - h) // 2, (W - w) // 2
                else:
                    r, c = np.random.randint(0, H - h + 1), np.random.randint(0, W - w + 1)
                p = p[r:r + h, c:c + w]
            if len(self.OutputSize) == 3 and p.shape[2] != self.OutputSize[2]:
                raise ImageDatastoreError(
                    f"augmentedImageDatastore: OutputSize asks for {self.OutputSize[2]} channels but an image has "
                    f"{p.shape[2]}. Use ColorPreprocessing='gray2rgb' or 'rgb2gray', or give OutputSize=[h, w].")
            out.append(_to_class(p, np.empty(0, dtype=dt)) if p.dtype != dt else p)
        return out

    def _rows(self, indices):
        imgs, labels = self._raw(list(indices))
        imgs = self._process(imgs)
        if labels is None:
            return [[x] for x in imgs]
        return [[x, y] for x, y in zip(imgs, labels)]

    def _format(self, rows):
        out = {"input": [r[0] for r in rows]}
        if rows and len(rows[0]) > 1:
            out["response"] = np.concatenate([r[1] for r in rows])
        elif self._has_labels():
            out["response"] = np.array([], dtype=str)
        return out

    def _has_labels(self):
        if isinstance(self._src, ImageDatastore):
            return self._src._labels is not None
        return self._labels is not None

    def _permuted(self, order):
        new = self._copy()
        base = self._order if self._order is not None else np.arange(self._num_obs())
        new._order = base[np.asarray(order, dtype=np.int64)]
        new._pos = 0
        return new

    def __repr__(self):
        return ("augmentedImageDatastore with properties:\n\n"
                f"         NumObservations: {self._num_obs()}\n"
                f"           MiniBatchSize: {self.MiniBatchSize}\n"
                f"        DataAugmentation: {'none' if self.DataAugmentation is None else 'imageDataAugmenter'}\n"
                f"      ColorPreprocessing: '{self.ColorPreprocessing}'\n"
                f"              OutputSize: {list(self.OutputSize)}\n"
                f"          OutputSizeMode: '{self.OutputSizeMode}'")


def augmentedImageDatastore(outputSize, data, responses=None, *, DataAugmentation=None, ColorPreprocessing="none",
                            OutputSizeMode="resize", MiniBatchSize=128, DispatchInBackground=False):
    """Images resized to ``outputSize`` and randomly augmented at every read (MATLAB
    ``auimds = augmentedImageDatastore(outputSize, imds, Name=Value)``).

    ``data``: an imageDatastore, or in-memory images H x W x C x N (then ``responses``: N labels or None).
    Each read takes the next ``MiniBatchSize`` (128) images and, per image: ``ColorPreprocessing``
    ("none", "gray2rgb": repeat the grey channel, "rgb2gray": 0.2989 R + 0.5870 G + 0.1140 B), then a
    fresh random transform of ``DataAugmentation`` (an imageDataAugmenter), then ``OutputSizeMode``:
    "resize" (bilinear, Pillow), "centercrop" or "randcrop". ``read`` returns ``{"input": [H x W x C
    images], "response": labels}`` (MATLAB's table with variables input and response). Images keep their
    class (uint8 stays uint8; interpolated values are rounded).
    """
    fname = "augmentedImageDatastore"
    size = _v.integers(fname, "outputSize", outputSize, counts=(2, 3), cls=ImageDatastoreError)
    if len(size) == 1:
        _fail(fname, "outputSize", "[height, width] or [height, width, channels]", outputSize,
              f"For square images write outputSize=[{size[0]}, {size[0]}].")
    if max(size) > 65535:
        _fail(fname, "outputSize", "sizes of at most 65535 pixels (Pillow's limit)", outputSize)
    color = _v.option(fname, "ColorPreprocessing", ColorPreprocessing, ("none", "gray2rgb", "rgb2gray"),
                      cls=ImageDatastoreError)
    mode = _v.option(fname, "OutputSizeMode", OutputSizeMode, ("resize", "centercrop", "randcrop"),
                     cls=ImageDatastoreError)
    batch = _v.integer(fname, "MiniBatchSize", MiniBatchSize, 1, cls=ImageDatastoreError)
    _v.flag(fname, "DispatchInBackground", DispatchInBackground, cls=ImageDatastoreError)
    if DataAugmentation is not None and not isinstance(DataAugmentation, ImageDataAugmenter):
        if isinstance(DataAugmentation, str) and DataAugmentation.lower() == "none":
            DataAugmentation = None
        else:
            _fail(fname, "DataAugmentation", "an imageDataAugmenter (or 'none')", DataAugmentation,
                  "Create one with imageDataAugmenter(RandRotation=[-10, 10], ...).")
    if isinstance(data, ImageDatastore):
        if responses is not None:
            raise ImageDatastoreError(f"{fname}: the labels of an imageDatastore come from imds.Labels; do not give "
                                      "responses as well.")
        return AugmentedImageDatastore(size, data._copy(), None, DataAugmentation, color, mode, batch)
    if isinstance(data, Datastore):
        _fail(fname, "data", "an imageDatastore or an H x W x C x N array of images", data,
              "Other datastores are not image sources.")
    from .dlarray import dlarray, extractdata

    X = np.asarray(extractdata(data) if isinstance(data, dlarray) else _v.not_none(fname, "data", data,
                                                                                   "an imageDatastore or images"))
    if X.ndim not in (3, 4) or X.dtype == object:
        _fail(fname, "data", "an imageDatastore or an H x W x C x N array of images (observations last)", data)
    if X.ndim == 3:  # H x W x N grey images
        X = X[:, :, None, :]
    imgs = [X[..., n] for n in range(X.shape[3])]
    labels = None
    if responses is not None:
        labels = np.asarray(responses).reshape(-1)
        if labels.shape[0] != len(imgs):
            raise ImageDatastoreError(f"{fname}: {len(imgs)} images (the last dimension of the data) but "
                                      f"{labels.shape[0]} responses.")
    return AugmentedImageDatastore(size, imgs, labels, DataAugmentation, color, mode, batch)

