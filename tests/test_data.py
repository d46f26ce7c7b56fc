"""Tests of dlteach.data: the shipped MNIST subset and the synthetic data sets."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

import dlteach.data as data
from dlteach.data import load_digits, make_moons, make_regression_line
from dlteach.errors import DLTeachError

DATA_DIR = Path(data.__file__).parent
NPZ = DATA_DIR / "digits5k.npz"

SIZES = {"train": 4000, "test": 1000, "all": 5000}


# --------------------------------------------------------------------------- shipped file

def test_data_file_is_small_and_matches_documented_hash():
    """The README records the sha256 of digits5k.npz; rebuilding with another split must update it."""
    raw = NPZ.read_bytes()
    assert len(raw) <= 2_000_000
    readme = (DATA_DIR / "README.md").read_text()
    m = re.search(r"`dlteach/data/digits5k\.npz`.*?`([0-9a-f]{64})`", readme)
    assert m, "README.md must record the sha256 of digits5k.npz"
    assert hashlib.sha256(raw).hexdigest() == m.group(1)


def test_build_script_is_not_imported_by_the_package():
    import sys
    assert "dlteach.data._build_digits" not in sys.modules
    assert (DATA_DIR / "_build_digits.py").exists()


# --------------------------------------------------------------------------- load_digits

@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_shapes_dtypes_ranges(split):
    X, labels, T = load_digits(split)
    n = SIZES[split]
    assert X.shape == (28, 28, 1, n) and X.dtype == np.float32
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert T.shape == (10, n) and T.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0
    # pixel values are k/255 for integers k (uint8 source divided by 255)
    k = X * 255.0
    np.testing.assert_allclose(k, np.round(k), atol=1e-4)
    assert set(np.unique(labels)) == set(range(10))


@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_onehot_consistent_with_labels(split):
    _, labels, T = load_digits(split)
    assert set(np.unique(T)) == {0.0, 1.0}
    np.testing.assert_array_equal(T.sum(axis=0), np.ones(labels.shape[0], np.float32))
    np.testing.assert_array_equal(T.argmax(axis=0), labels)


def test_labels_balanced():
    assert np.array_equal(np.bincount(load_digits("train")[1], minlength=10), np.full(10, 400))
    assert np.array_equal(np.bincount(load_digits("test")[1], minlength=10), np.full(10, 100))
    assert np.array_equal(np.bincount(load_digits("all")[1], minlength=10), np.full(10, 500))


def test_split_is_fixed_and_matches_file():
    """train = first 4000 stored images, test = last 1000, all = train then test; read independently."""
    with np.load(NPZ) as f:
        images, lab, num_train = f["images"], f["labels"], int(f["num_train"])
        source_row = f["source_row"]
    assert num_train == 4000
    # every source row exactly once, classes interleaved (not the sorted source order)
    assert np.array_equal(np.sort(source_row), np.arange(5000))
    assert not np.all(np.diff(lab[:4000].astype(int)) >= 0)
    Xtr, ltr, _ = load_digits("train")
    Xte, lte, _ = load_digits("test")
    Xall, lall, Tall = load_digits("all")
    np.testing.assert_array_equal(np.round(Xtr[:, :, 0, :] * 255).astype(np.uint8),
                                  images[:4000].transpose(1, 2, 0))
    np.testing.assert_array_equal(np.round(Xte[:, :, 0, :] * 255).astype(np.uint8),
                                  images[4000:].transpose(1, 2, 0))
    np.testing.assert_array_equal(ltr, lab[:4000])
    np.testing.assert_array_equal(lte, lab[4000:])
    np.testing.assert_array_equal(Xall, np.concatenate([Xtr, Xte], axis=3))
    np.testing.assert_array_equal(lall, np.concatenate([ltr, lte]))
    # repeated calls give the same split
    X2, l2, _ = load_digits("train")
    np.testing.assert_array_equal(X2, Xtr)
    np.testing.assert_array_equal(l2, ltr)


def test_train_and_test_are_disjoint():
    Xtr, _, _ = load_digits("train")
    Xte, _, _ = load_digits("test")
    tr = {x.tobytes() for x in np.moveaxis(Xtr, 3, 0)}
    te = {x.tobytes() for x in np.moveaxis(Xte, 3, 0)}
    assert len(tr) == 4000 and len(te) == 1000
    assert not tr & te


def test_returns_fresh_arrays():
    X, labels, T = load_digits("test")
    X_ref, labels_ref, T_ref = X.copy(), labels.copy(), T.copy()
    X[...] = -1.0
    labels[...] = 99
    T[...] = 5.0
    X2, labels2, T2 = load_digits("test")
    np.testing.assert_array_equal(X2, X_ref)
    np.testing.assert_array_equal(labels2, labels_ref)
    np.testing.assert_array_equal(T2, T_ref)
    assert X2.flags.writeable and labels2.flags.writeable and T2.flags.writeable


def test_split_name_case_insensitive_and_default_is_train():
    np.testing.assert_array_equal(load_digits()[1], load_digits("TRAIN")[1])


@pytest.mark.parametrize("bad", ["validation", "", None, 3])
def test_bad_split_error(bad):
    with pytest.raises(DLTeachError, match=r"split='train'.*split='test'.*split='all'"):
        load_digits(bad)


def _mean_image(digit):
    X, labels, _ = load_digits("all")
    return X[:, :, 0, labels == digit].mean(axis=-1)  # rows x cols


def test_images_upright_not_transposed():
    """The mean '1' is a tall thin stroke: its mass spreads much more over rows than over columns."""
    M = _mean_image(1)
    r = np.arange(28)
    m = M.sum()
    row_c = (M.sum(1) * r).sum() / m
    col_c = (M.sum(0) * r).sum() / m
    row_var = (M.sum(1) * (r - row_c) ** 2).sum() / m
    col_var = (M.sum(0) * (r - col_c) ** 2).sum() / m
    assert row_var > 3 * col_var
    assert 12 < row_c < 16 and 12 < col_c < 16  # MNIST digits are centred by centre of mass


def test_images_upright_not_flipped_vertically():
    """A '6' has its loop at the bottom, a '7' its bar at the top."""
    six, seven = _mean_image(6), _mean_image(7)
    assert six[14:].sum() > 1.2 * six[:14].sum()
    assert seven[:14].sum() > 1.1 * seven[14:].sum()


def test_images_not_flipped_horizontally():
    """Handwritten '1's lean to the right: the top half's centre lies right of the bottom half's."""
    M = _mean_image(1)
    c = np.arange(28)
    top, bottom = M[:14].sum(0), M[14:].sum(0)
    assert (top * c).sum() / top.sum() > (bottom * c).sum() / bottom.sum() + 1.0


# --------------------------------------------------------------------------- synthetic

def test_regression_line_shapes_and_determinism():
    X, Y = make_regression_line()
    assert X.shape == (1, 100) and Y.shape == (1, 100)
    assert X.dtype == np.float32 and Y.dtype == np.float32
    X2, Y2 = make_regression_line()
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y, Y2)
    X3, _ = make_regression_line(seed=1)
    assert not np.array_equal(X, X3)


def test_regression_line_follows_the_line():
    """Least squares in float64 recovers slope and intercept; residual std ~ noise."""
    X, Y = make_regression_line(n=2000, slope=3.0, intercept=0.5, noise=0.2, seed=3)
    x, y = X[0].astype(np.float64), Y[0].astype(np.float64)
    A = np.stack([x, np.ones_like(x)], axis=1)
    (a, b), *_ = np.linalg.lstsq(A, y, rcond=None)
    assert abs(a - 3.0) < 0.05 and abs(b - 0.5) < 0.05
    assert abs(np.std(y - (a * x + b)) - 0.2) < 0.02
    assert x.min() >= -1.0 and x.max() <= 1.0


def test_regression_line_no_noise_is_exact():
    X, Y = make_regression_line(n=10, slope=-2.0, intercept=1.0, noise=0.0)
    np.testing.assert_allclose(Y, -2.0 * X + 1.0, rtol=1e-6, atol=1e-6)


def test_moons_shapes_and_determinism():
    X, labels, T = make_moons()
    assert X.shape == (2, 200) and X.dtype == np.float32
    assert labels.shape == (200,) and labels.dtype == np.int64
    assert T.shape == (2, 200) and T.dtype == np.float32
    np.testing.assert_array_equal(T.argmax(0), labels)
    np.testing.assert_array_equal(T.sum(0), np.ones(200, np.float32))
    assert np.bincount(labels).tolist() == [100, 100]
    X2, labels2, T2 = make_moons()
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(labels, labels2)
    X3, _, _ = make_moons(seed=1)
    assert not np.array_equal(X, X3)
    _, l_odd, _ = make_moons(n=7)
    assert np.bincount(l_odd).tolist() == [4, 3]


def test_moons_geometry_without_noise():
    """Noise 0: class 0 on the unit upper half circle, class 1 on the shifted lower half circle."""
    X, labels, _ = make_moons(n=300, noise=0.0, seed=5)
    x0 = X[:, labels == 0].astype(np.float64)
    x1 = X[:, labels == 1].astype(np.float64)
    np.testing.assert_allclose(np.hypot(x0[0], x0[1]), 1.0, atol=1e-6)
    assert np.all(x0[1] >= -1e-7)
    np.testing.assert_allclose(np.hypot(x1[0] - 1.0, x1[1] - 0.5), 1.0, atol=1e-6)
    assert np.all(x1[1] <= 0.5 + 1e-7)
    # classes are interleaved in the output order, not all 0s then all 1s
    assert 0 < np.argmax(labels == 1) < 10


def test_moons_not_linearly_separable_but_learnable():
    """A least-squares linear classifier misclassifies a fair share; the classes are still distinct."""
    X, labels, _ = make_moons(n=1000, noise=0.1, seed=0)
    A = np.concatenate([X.T.astype(np.float64), np.ones((1000, 1))], axis=1)
    w, *_ = np.linalg.lstsq(A, 2.0 * labels - 1.0, rcond=None)
    acc = np.mean((A @ w > 0) == (labels == 1))
    assert 0.75 < acc < 0.95


@pytest.mark.parametrize("fn", [make_moons, make_regression_line])
@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_synthetic_bad_n(fn, bad):
    with pytest.raises(DLTeachError, match="positive integer"):
        fn(n=bad)


# -- rotated digits with angles (MATLAB digitTrain4DArrayData / digitTest4DArrayData) -----------------

def test_rotated_digits_shapes_types_range_and_determinism():
    from dlteach import digitTest4DArrayData, digitTrain4DArrayData, load_digits

    X, labels, angles = digitTrain4DArrayData()
    X0, labels0, _ = load_digits("train")
    assert X.shape == (28, 28, 1, 4000) and X.dtype == np.float32 and angles.dtype == np.float32
    assert angles.shape == (4000,) and -45 <= angles.min() < -40 and 40 < angles.max() <= 45
    np.testing.assert_array_equal(labels, labels0)
    assert 0 <= X.min() and X.max() <= 1.0 + 1e-6
    X2, _, angles2 = digitTrain4DArrayData()
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(angles, angles2)
    X2[0, 0, 0, 0] = 7                                            # new arrays every call
    assert digitTrain4DArrayData()[0][0, 0, 0, 0] != 7
    Xt, lt, at = digitTest4DArrayData()
    assert Xt.shape == (28, 28, 1, 1000) and at.shape == (1000,)
    np.testing.assert_array_equal(lt, load_digits("test")[1])
    # a small angle changes the image little, a large one a lot (the angle is in the picture)
    small, large = np.argmin(np.abs(angles)), np.argmax(np.abs(angles))
    d = lambda n: np.abs(X[:, :, 0, n] - X0[:, :, 0, n]).sum() / X0[:, :, 0, n].sum()
    assert d(small) < 0.2 < d(large)


def test_rotate_images_against_numpy_rot90_and_pillow():
    Image = pytest.importorskip("PIL.Image", reason="Pillow (installed with matplotlib) is the rotation oracle")
    from dlteach.data import load_digits, rotate_images

    X = load_digits("test")[0][:, :, :, :3]
    img = X[:, :, 0, 0]
    np.testing.assert_allclose(rotate_images(X[..., :1], [90.0])[:, :, 0, 0], np.rot90(img), atol=1e-6)
    np.testing.assert_allclose(rotate_images(X[..., :1], [0.0])[:, :, 0, 0], img, atol=1e-7)
    u8 = np.round(img * 255).astype(np.uint8)
    for angle in (30.0, -17.0):                          # PIL: counterclockwise, bilinear, centre of the image
        ours = rotate_images(u8[:, :, None, None].astype(np.float64), [angle])[:, :, 0, 0]
        ref = np.asarray(Image.fromarray(u8).rotate(angle, resample=Image.BILINEAR), dtype=np.float64)
        assert np.abs(ours - ref).mean() < 0.5 and np.abs(ours - ref).max() < 12  # PIL rounds to 8 bits


def test_rotate_images_in_chunks_equals_one_image_at_a_time(monkeypatch):
    import dlteach.data as data

    X = data.load_digits("test")[0][:, :, :, :7]
    angles = np.linspace(-45, 45, 7)
    monkeypatch.setattr(data, "_ROTATE_CHUNK", 3)        # chunks of 3, 3 and 1 images
    chunked = data.rotate_images(X, angles)
    single = np.concatenate([data.rotate_images(X[..., n:n + 1], angles[n:n + 1]) for n in range(7)], axis=3)
    assert chunked.shape == X.shape and chunked.dtype == np.float32
    np.testing.assert_array_equal(chunked, single)
    # a 90-degree turn of each image, whatever chunk it falls in
    quarter = data.rotate_images(X, np.full(7, 90.0))
    np.testing.assert_allclose(quarter[:, :, 0, 6], np.rot90(X[:, :, 0, 6]), atol=1e-6)
