"""imageDatastore, splitEachLabel, imageDataAugmenter / augment, augmentedImageDatastore, digitDatasetPath, cat.

References: image files written here with Pillow from known arrays (read back must give them exactly),
the shipped digits (``dlteach/data/digits5k.npz`` read with NumPy), hand-made transforms (``np.rot90``,
``np.fliplr``, shifted slices with zero fill, hand-computed bilinear values) and PyTorch's ``grid_sample``
(bilinear, zero padding) on source coordinates written out from the rotation / scale / shear formulas.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlteach import (
    augment,
    augmentedImageDatastore,
    cat,
    categories,
    countEachLabel,
    dims,
    hasdata,
    imageDataAugmenter,
    imageDatastore,
    minibatchqueue,
    next,
    numpartitions,
    onehotencode,
    partition,
    preview,
    read,
    readall,
    reset,
    shuffle,
    splitEachLabel,
)
from dlteach.data import digitDatasetPath
from dlteach.errors import DLTeachError, MiniBatchQueueError
from dlteach.images import ImageDatastoreError

DIGITS_NPZ = Path(__file__).resolve().parents[1] / "dlteach" / "data" / "digits5k.npz"


# ---------------------------------------------------------------------------------------------- fixtures

def _png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


@pytest.fixture
def tree(tmp_path):
    """Two classes in subfolders: cats (3 grey 4x5 images) and dogs (2 images: one RGB, one RGBA), plus a
    text file that is not an image."""
    rng = np.random.default_rng(7)
    arrays = {}
    for k in range(3):
        a = rng.integers(0, 256, (4, 5), dtype=np.uint8)
        arrays[f"cats/c{k}.png"] = a
    arrays["dogs/d0.png"] = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    rgba = rng.integers(0, 256, (4, 5, 4), dtype=np.uint8)
    arrays["dogs/d1.png"] = rgba
    for rel, a in arrays.items():
        _png(tmp_path / rel, a)
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    expected = dict(arrays)
    expected["dogs/d1.png"] = rgba[:, :, :3]  # imread drops the alpha channel
    return tmp_path, expected


@pytest.fixture
def labelled(tmp_path):
    """Three labels a, b, c with 5, 4 and 10 grey 3x3 images whose pixel (0, 0) is the image number."""
    counts = {"a": 5, "b": 4, "c": 10}
    n = 0
    for lab, c in counts.items():
        for k in range(c):
            a = np.zeros((3, 3), np.uint8)
            a[0, 0] = n
            _png(tmp_path / lab / f"img{k:02d}.png", a)
            n += 1
    return tmp_path, counts


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("dlteach_cache")
    old = os.environ.get("DLTEACH_DATA_DIR")
    os.environ["DLTEACH_DATA_DIR"] = str(root)
    try:
        yield digitDatasetPath()
    finally:
        if old is None:
            del os.environ["DLTEACH_DATA_DIR"]
        else:
            os.environ["DLTEACH_DATA_DIR"] = old


def _rel(path, root):
    return Path(path).relative_to(root).as_posix()


# ---------------------------------------------------------------------------------------------- imageDatastore

def test_files_labels_and_read_exact_pixels(tree):
    root, expected = tree
    imds = imageDatastore(root, IncludeSubfolders=True, LabelSource="foldernames")
    assert [_rel(f, root) for f in imds.Files] == sorted(expected)  # the .txt file is not listed
    assert imds.Labels.tolist() == ["cats"] * 3 + ["dogs"] * 2
    assert categories(imds.Labels) == ["cats", "dogs"]
    assert countEachLabel(imds) == {"cats": 3, "dogs": 2}
    assert numpartitions(imds) == 5
    for f in imds.Files:
        img = read(imds)
        want = expected[_rel(f, root)]
        assert img.dtype == np.uint8 and img.shape == want.shape  # grey H x W, colour H x W x 3
        np.testing.assert_array_equal(img, want)
    assert not hasdata(imds)
    with pytest.raises(DLTeachError, match="reset"):
        read(imds)
    reset(imds)
    assert hasdata(imds)
    np.testing.assert_array_equal(preview(imds), expected["cats/c0.png"])
    np.testing.assert_array_equal(read(imds), expected["cats/c0.png"])  # preview did not move the position
    imds.ReadSize = 2
    two = read(imds)
    assert isinstance(two, list) and len(two) == 2
    np.testing.assert_array_equal(two[1], expected["cats/c2.png"])
    everything = readall(imds)
    assert isinstance(everything, list) and len(everything) == 5


def test_no_labels_extensions_and_label_assignment(tree):
    root, expected = tree
    imds = imageDatastore(root, IncludeSubfolders=True)
    assert imds.Labels.size == 0
    with pytest.raises(ImageDatastoreError, match="LabelSource='foldernames'"):
        splitEachLabel(imds, 0.5)
    only_txt = imageDatastore(root / "dogs", FileExtensions=".txt", ReadFcn=lambda f: Path(f).read_text())
    assert read(only_txt) == "not an image"
    one = imageDatastore(root / "cats" / "c1.png")
    np.testing.assert_array_equal(read(one), expected["cats/c1.png"])
    imds.Labels = np.array(["x", "y", "x", "y", "y"])
    assert countEachLabel(imds) == {"x": 2, "y": 3}
    listed = imageDatastore([root / "dogs", root / "cats"], LabelSource="foldernames")
    assert listed.Labels.tolist() == ["cats"] * 3 + ["dogs"] * 2


def test_shuffle_keeps_files_labels_and_images_together(tree):
    root, expected = tree
    imds = imageDatastore(root, IncludeSubfolders=True, LabelSource="foldernames")
    np.random.seed(3)
    s1 = shuffle(imds)
    np.random.seed(3)
    s2 = shuffle(imds)
    assert s1.Files == s2.Files and sorted(s1.Files) == imds.Files
    for f, lab in zip(s1.Files, s1.Labels):
        assert Path(f).parent.name == lab
        np.testing.assert_array_equal(read(s1), expected[_rel(f, root)])
    assert imds.Files == sorted(imds.Files)  # the original is unchanged (MATLAB: dsNew = shuffle(ds))
    p0, p1 = partition(imds, 2, 0), partition(imds, 2, 1)
    assert p0.Files + p1.Files == imds.Files and len(p0.Files) == 3


def test_teaching_errors_of_imagedatastore(tmp_path, tree):
    root, _ = tree
    missing = tmp_path / "no_such_folder"
    with pytest.raises(ImageDatastoreError, match="does not exist") as e:
        imageDatastore(missing)
    assert str(missing) in str(e.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageDatastoreError, match="no image files found"):
        imageDatastore(empty)
    with pytest.raises(ImageDatastoreError, match="IncludeSubfolders=True"):
        imageDatastore(root, LabelSource="foldernames")  # images only in subfolders
    with pytest.raises(ImageDatastoreError, match="own subfolder") as e:
        imageDatastore(root / "cats", LabelSource="foldernames")  # a flat folder: one label for everything
    assert "'cats'" in str(e.value)
    with pytest.raises(ImageDatastoreError, match="LabelSource"):
        imageDatastore(root, LabelSource="folders")
    with pytest.raises(ImageDatastoreError, match="dot"):
        imageDatastore(root, FileExtensions="png")
    with pytest.raises(ImageDatastoreError, match="None"):
        imageDatastore(None)
    with pytest.raises(ImageDatastoreError, match="imageDatastore"):
        countEachLabel(np.zeros(3))


# ---------------------------------------------------------------------------------------------- splitEachLabel

def test_split_proportions_floor_and_order(labelled):
    root, counts = labelled
    imds = imageDatastore(root, IncludeSubfolders=True, LabelSource="foldernames")
    first, rest = splitEachLabel(imds, 0.5)
    # floor(0.5 * n) files of each label, the first ones, in the datastore's order
    assert countEachLabel(first) == {"a": 2, "b": 2, "c": 5}
    assert countEachLabel(rest) == {"a": 3, "b": 2, "c": 5}
    assert first.Files == [f for f in imds.Files if int(Path(f).stem[3:]) < {"a": 2, "b": 2, "c": 5}[Path(f).parent.name]]
    assert sorted(first.Files + rest.Files) == imds.Files
    a, b, c = splitEachLabel(imds, 0.4, 0.4)  # several outputs: N proportions -> N + 1 datastores
    assert countEachLabel(a) == {"a": 2, "b": 1, "c": 4} == countEachLabel(b)
    assert countEachLabel(c) == {"a": 1, "b": 2, "c": 2}
    assert not set(a.Files) & set(b.Files) and not set(b.Files) & set(c.Files)
    two, _ = splitEachLabel(imds, 2)  # a count of files per label
    assert countEachLabel(two) == {"a": 2, "b": 2, "c": 2}
    only, _ = splitEachLabel(imds, 1, Include=["b", "c"])
    assert only.Labels.tolist() == ["b", "c"]
    excl, _ = splitEachLabel(imds, 0.5, Exclude="c")
    assert categories(excl.Labels) == ["a", "b"]


def test_split_randomized_is_seeded_and_keeps_labels(labelled):
    root, _ = labelled
    imds = imageDatastore(root, IncludeSubfolders=True, LabelSource="foldernames")
    np.random.seed(0)
    r1, _ = splitEachLabel(imds, 0.5, "randomized")
    np.random.seed(0)
    r2, _ = splitEachLabel(imds, 0.5, "randomize")  # MATLAB's older spelling
    np.random.seed(1)
    r3, _ = splitEachLabel(imds, 0.5, "randomized")
    assert r1.Files == r2.Files
    assert countEachLabel(r1) == {"a": 2, "b": 2, "c": 5}
    ordered, _ = splitEachLabel(imds, 0.5)
    assert r1.Files != ordered.Files or r3.Files != ordered.Files
    for f, lab in zip(r1.Files, r1.Labels):
        assert Path(f).parent.name == lab
        img = read(r1)
        assert img[0, 0] == sorted(imds.Files).index(f)  # pixel (0, 0) is the image number


def test_split_teaching_errors(labelled):
    root, _ = labelled
    imds = imageDatastore(root, IncludeSubfolders=True, LabelSource="foldernames")
    with pytest.raises(ImageDatastoreError, match="more than 1"):
        splitEachLabel(imds, 0.7, 0.5)
    with pytest.raises(ImageDatastoreError, match="only 4 files.*0.9") as e:
        splitEachLabel(imds, 90)  # 90 files per label: a percentage written as a count
    assert "'b'" in str(e.value)
    with pytest.raises(ImageDatastoreError, match="0.015"):
        splitEachLabel(imds, 1.5)
    with pytest.raises(ImageDatastoreError, match="proportion"):
        splitEachLabel(imds, -0.1)
    with pytest.raises(ImageDatastoreError, match="not a mix"):
        splitEachLabel(imds, 0.5, 2)
    with pytest.raises(ImageDatastoreError, match="randomized"):
        splitEachLabel(imds, 0.5, "random")
    with pytest.raises(ImageDatastoreError, match="proportion"):
        splitEachLabel(imds)
    with pytest.raises(ImageDatastoreError, match="not in the datastore"):
        splitEachLabel(imds, 0.5, Include=["z"])


# ---------------------------------------------------------------------------------------------- digitDatasetPath

def test_digit_dataset_folder_holds_the_shipped_digits(digit_folder):
    root = Path(digit_folder)
    assert root.name == "DigitDataset"
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == [str(d) for d in range(10)]
    with np.load(DIGITS_NPZ) as f:
        images, labels = f["images"], f["labels"]
    for d in (0, 7):
        files = sorted((root / str(d)).glob("*.png"))
        assert len(files) == 500
        want = images[labels == d]  # in file order: image0001.png is the first image of that digit
        for k in (0, 123, 499):
            got = np.asarray(Image.open(files[k]))
            assert got.dtype == np.uint8 and got.shape == (28, 28)
            np.testing.assert_array_equal(got, want[k])
    imds = imageDatastore(digit_folder, IncludeSubfolders=True, LabelSource="foldernames")
    assert len(imds.Files) == 5000 and countEachLabel(imds) == {str(d): 500 for d in range(10)}


def test_digit_dataset_is_written_once(digit_folder):
    marker = Path(digit_folder) / "README.txt"
    before = marker.stat().st_mtime_ns
    assert digitDatasetPath() == digit_folder
    assert marker.stat().st_mtime_ns == before
    assert not [p for p in Path(digit_folder).parent.iterdir() if p.name != "DigitDataset"]  # no leftovers


def test_digit_dataset_two_processes_racing(tmp_path):
    code = textwrap.dedent("""
        from dlteach.data import digitDatasetPath
        print(digitDatasetPath())
    """)
    env = dict(os.environ, DLTEACH_DATA_DIR=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    paths = {o[0].strip() for o in outs}
    assert paths == {str(tmp_path / "DigitDataset")}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["DigitDataset"]
    assert sum(1 for _ in (tmp_path / "DigitDataset").rglob("*.png")) == 5000


# ---------------------------------------------------------------------------------------------- augmentation

def _aug_once(seed=0, I=None, **opts):
    np.random.seed(seed)
    return augment(imageDataAugmenter(**opts), I)


def test_rotation_by_90_is_rot90_counterclockwise():
    I = np.random.default_rng(1).random((5, 5)).astype(np.float32)
    out = _aug_once(I=I, RandRotation=[90, 90])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.rot90(I, 1), atol=1e-6)
    np.testing.assert_allclose(_aug_once(I=I, RandRotation=[-90, -90]), np.rot90(I, -1), atol=1e-6)


def test_reflections_are_flips_and_both_occur():
    I = np.arange(12, dtype=np.uint8).reshape(3, 4)
    seen = set()
    for seed in range(12):
        out = _aug_once(seed, I, RandXReflection=True)
        if np.array_equal(out, np.fliplr(I)):
            seen.add("flipped")
        else:
            np.testing.assert_array_equal(out, I)
            seen.add("same")
    assert seen == {"flipped", "same"}
    outs = [_aug_once(s, I, RandYReflection=True) for s in range(12)]
    assert all(np.array_equal(o, I) or np.array_equal(o, np.flipud(I)) for o in outs)
    assert any(np.array_equal(o, np.flipud(I)) for o in outs)


def test_translation_is_a_shift_with_zero_fill():
    I = np.arange(1, 31, dtype=np.uint8).reshape(5, 6)
    out = _aug_once(I=I, RandXTranslation=[2, 2], RandYTranslation=[-1, -1])  # 2 right, 1 up
    want = np.zeros_like(I)
    want[0:4, 2:6] = I[1:5, 0:4]
    np.testing.assert_array_equal(out, want)
    filled = _aug_once(I=I.astype(np.float64), RandXTranslation=[-3, -3], FillValue=7)
    np.testing.assert_array_equal(filled[:, 3:], np.full((5, 3), 7.0))
    np.testing.assert_array_equal(filled[:, :3], I[:, 3:])
    half = _aug_once(I=I.astype(np.float64), RandXTranslation=[0.5, 0.5])  # between two pixels: their mean
    np.testing.assert_allclose(half[:, 1:], (I[:, :-1] + I[:, 1:]) / 2.0)
    np.testing.assert_allclose(half[:, 0], I[:, 0] / 2.0)  # half of it comes from outside (0)


def _torch_sample(I, xs, ys):
    """Bilinear samples of I (H x W) at source pixel coordinates (xs = column, ys = row), zero outside."""
    torch = pytest.importorskip("torch")
    H, W = I.shape
    grid = np.stack([2 * xs / (W - 1) - 1, 2 * ys / (H - 1) - 1], axis=-1)[None]
    out = torch.nn.functional.grid_sample(torch.from_numpy(I[None, None]), torch.from_numpy(grid),
                                          mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.numpy()[0, 0]


@pytest.mark.torch
@pytest.mark.parametrize("opts", [dict(RandRotation=[30, 30]), dict(RandScale=[1.7, 1.7]),
                                  dict(RandXShear=[20, 20]), dict(RandYScale=[0.6, 0.6], RandXScale=[1.3, 1.3])])
def test_rotation_scale_shear_against_torch_grid_sample(opts):
    H, W = 7, 9
    I = np.random.default_rng(2).random((H, W))
    out = _aug_once(I=I, **opts)
    cy, cx = (H - 1) / 2, (W - 1) / 2
    r, c = np.meshgrid(np.arange(H, dtype=float), np.arange(W, dtype=float), indexing="ij")
    x, y = c - cx, r - cy  # output position, y down
    if "RandRotation" in opts:
        a = np.deg2rad(30)  # counterclockwise as displayed: undo it by turning the output back clockwise
        xs, ys = np.cos(a) * x - np.sin(a) * y, np.sin(a) * x + np.cos(a) * y
    elif "RandScale" in opts:
        xs, ys = x / 1.7, y / 1.7
    elif "RandXShear" in opts:
        xs, ys = x - np.tan(np.deg2rad(20)) * y, y
    else:
        xs, ys = x / 1.3, y / 0.6
    np.testing.assert_allclose(out, _torch_sample(I, xs + cx, ys + cy), atol=1e-6)


def test_augmentation_is_seeded_and_uint8_is_rounded():
    I = np.random.default_rng(3).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    opts = dict(RandRotation=[-20, 20], RandXTranslation=[-2, 2], RandXReflection=True)
    a1, a2, b = _aug_once(5, I, **opts), _aug_once(5, I, **opts), _aug_once(6, I, **opts)
    assert a1.dtype == np.uint8 and a1.shape == I.shape
    np.testing.assert_array_equal(a1, a2)
    assert not np.array_equal(a1, b)
    same = _aug_once(5, [I, I[:, :, 0]], **opts)  # a list gets ONE transform
    np.testing.assert_array_equal(same[0][:, :, 0], same[1])
    f = _aug_once(0, I.astype(np.float64), RandRotation=lambda: 90.0)  # a function as the range
    np.testing.assert_allclose(f, np.rot90(I.astype(np.float64), 1), atol=1e-9)


def test_augmenter_teaching_errors():
    with pytest.raises(ImageDatastoreError, match="RandRotation"):
        imageDataAugmenter(RandRotation=5)
    with pytest.raises(ImageDatastoreError, match="low <= high"):
        imageDataAugmenter(RandXTranslation=[5, -5])
    with pytest.raises(ImageDatastoreError, match="positive scale"):
        imageDataAugmenter(RandScale=[0, 1])
    with pytest.raises(ImageDatastoreError, match="RandXReflection"):
        imageDataAugmenter(RandXReflection="yes")
    with pytest.raises(ImageDatastoreError, match="imageDataAugmenter"):
        augment("flip", np.zeros((2, 2)))


# ---------------------------------------------------------------------------------------------- augmentedImageDatastore

def test_augmented_read_is_a_dict_of_columns(tree):
    root, expected = tree
    imds = imageDatastore(root / "cats", LabelSource="none")
    au = augmentedImageDatastore([4, 5], imds, MiniBatchSize=2)
    d = read(au)
    assert list(d) == ["input"] and len(d["input"]) == 2
    np.testing.assert_array_equal(d["input"][1], expected["cats/c1.png"][:, :, None])  # H x W x 1, uint8
    assert d["input"][1].dtype == np.uint8
    assert len(read(au)["input"]) == 1 and not hasdata(au)
    lab = imageDatastore(root, IncludeSubfolders=True, LabelSource="foldernames")
    au = augmentedImageDatastore([4, 5], lab, ColorPreprocessing="gray2rgb")
    d = read(au)
    assert list(d) == ["input", "response"] and d["response"].tolist() == ["cats"] * 3 + ["dogs"] * 2
    assert all(x.shape == (4, 5, 3) for x in d["input"])
    np.testing.assert_array_equal(d["input"][0], np.repeat(expected["cats/c0.png"][:, :, None], 3, axis=2))
    gray = augmentedImageDatastore([4, 5], lab, ColorPreprocessing="rgb2gray")
    rgb = expected["dogs/d0.png"].astype(np.float64)
    want = np.rint(0.298936021293776 * rgb[..., 0] + 0.587043074451121 * rgb[..., 1] + 0.114020904255103 * rgb[..., 2])
    np.testing.assert_array_equal(readall(gray)["input"][3][:, :, 0], want)


def test_augmented_crops_resize_and_in_memory_images():
    X = np.random.default_rng(4).integers(0, 256, (10, 12, 1, 6), dtype=np.uint8)
    y = np.array(list("abcabc"))
    au = augmentedImageDatastore([6, 8], X, y, OutputSizeMode="centercrop")
    d = readall(au)
    for n in range(6):
        np.testing.assert_array_equal(d["input"][n], X[2:8, 2:10, :, n])
    assert d["response"].tolist() == list("abcabc")
    np.random.seed(0)
    rc = readall(augmentedImageDatastore([6, 8], X, OutputSizeMode="randcrop"))["input"]
    windows = [[X[r:r + 6, c:c + 8, :, n] for r in range(5) for c in range(5)] for n in range(6)]
    assert all(any(np.array_equal(img, w) for w in windows[n]) for n, img in enumerate(rc))
    const = np.full((10, 12, 1, 2), 200, np.uint8)
    rs = readall(augmentedImageDatastore([5, 6], const))["input"]
    assert rs[0].shape == (5, 6, 1) and rs[0].dtype == np.uint8 and np.all(rs[0] == 200)
    with pytest.raises(ImageDatastoreError, match="smaller than OutputSize"):
        readall(augmentedImageDatastore([20, 20], X, OutputSizeMode="centercrop"))
    with pytest.raises(ImageDatastoreError, match="gray2rgb"):
        readall(augmentedImageDatastore([10, 12, 3], X))
    with pytest.raises(ImageDatastoreError, match="6 images.*5 responses"):
        augmentedImageDatastore([6, 8], X, y[:5])
    with pytest.raises(ImageDatastoreError, match="DataAugmentation"):
        augmentedImageDatastore([6, 8], X, DataAugmentation={"RandRotation": [0, 5]})


def test_augmented_shuffle_keeps_images_and_labels_together(labelled):
    root, _ = labelled
    imds = imageDatastore(root, IncludeSubfolders=True, LabelSource="foldernames")
    au = augmentedImageDatastore([3, 3], imds)
    np.random.seed(2)
    sh = shuffle(au)
    d = readall(sh)
    numbers = [int(x[0, 0, 0]) for x in d["input"]]
    assert sorted(numbers) == list(range(19)) and numbers != list(range(19))
    for num, lab in zip(numbers, d["response"]):
        assert Path(imds.Files[num]).parent.name == lab


def test_augmented_translation_matches_the_augmenter(labelled):
    root, _ = labelled
    imds = imageDatastore(root / "a")
    aug = imageDataAugmenter(RandXTranslation=[1, 1])
    d = readall(augmentedImageDatastore([3, 3], imds, DataAugmentation=aug))
    for k, img in enumerate(d["input"]):  # pixel (0, 0) moved one to the right, zero came in
        assert img[0, 1, 0] == k and img[0, 0, 0] == 0


# ---------------------------------------------------------------------------------------------- minibatchqueue

def _page_queue(au, classes, size=4):
    def preprocessMiniBatch(dataX, dataT):  # MATLAB: X = cat(4, dataX{:}); T = onehotencode(cat(2, dataT{:}), 1)
        X = cat(4, *dataX)
        T = onehotencode(cat(2, *dataT), 1, ClassNames=classes)
        return X, T
    return minibatchqueue(au, MiniBatchSize=size, MiniBatchFcn=preprocessMiniBatch, MiniBatchFormat=["SSCB", ""])


def test_minibatchqueue_with_the_pages_preprocess_functions(labelled):
    root, _ = labelled
    imds = imageDatastore(root, IncludeSubfolders=True, LabelSource="foldernames")
    classes = categories(imds.Labels)
    mbq = _page_queue(augmentedImageDatastore([3, 3], imds), classes, size=8)
    X, T = next(mbq)
    assert dims(X) == "SSCB" and X.shape == (3, 3, 1, 8) and X.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(X)[0, 0, 0, :], np.arange(8))  # image numbers 0..7 in order
    np.testing.assert_array_equal(np.asarray(T), onehotencode(np.array(["a"] * 5 + ["b"] * 3), 1, ClassNames=classes))
    batches = 1
    while hasdata(mbq):
        next(mbq)
        batches += 1
    assert batches == 3  # 19 images, 8 per mini-batch

    def preprocessMiniBatchPredictors(dataX):  # one argument: gets the images only, as in MATLAB
        return cat(4, *dataX)
    mbqTest = minibatchqueue(augmentedImageDatastore([3, 3], imds), 1, MiniBatchSize=8,
                             MiniBatchFcn=preprocessMiniBatchPredictors, MiniBatchFormat="SSCB")
    Xt = next(mbqTest)
    assert Xt.shape == (3, 3, 1, 8) and dims(Xt) == "SSCB"


def test_minibatchqueue_collate_and_imagedatastore_source(tree, labelled):
    root, _ = labelled
    imds = imageDatastore(root, IncludeSubfolders=True, LabelSource="foldernames")
    # MATLAB's next page: collated grey images concatenate along their first singleton dimension (3)
    mbq = minibatchqueue(augmentedImageDatastore([3, 3], imds), 1, MiniBatchSize=2,
                         MiniBatchFcn=lambda dataX: cat(4, *dataX), MiniBatchFormat="SSCB")
    assert next(mbq).shape == (3, 3, 1, 2)
    plain = minibatchqueue(imageDatastore(root / "c"), MiniBatchSize=4, MiniBatchFormat="SSB")
    X = next(plain)
    assert dims(X) == "SSB" and X.shape == (3, 3, 4)  # H x W images collated to H x W x B
    with pytest.raises(MiniBatchQueueError, match="onehotencode"):
        next(minibatchqueue(augmentedImageDatastore([3, 3], imds), MiniBatchSize=2, MiniBatchFormat=["SSBC", ""]))


# ---------------------------------------------------------------------------------------------- cat, categories

def test_cat_follows_matlab_trailing_singletons():
    imgs = [np.full((2, 3), k) for k in range(4)]
    X = cat(4, *imgs)
    assert X.shape == (2, 3, 1, 4)
    np.testing.assert_array_equal(X[..., 0, 2], imgs[2])
    assert cat(4, *[np.zeros((2, 3, 3))] * 5).shape == (2, 3, 3, 5)
    assert cat(2, *[np.array(["a"]), np.array(["b"])]).tolist() == [["a", "b"]]
    assert cat(1, np.ones((1, 2)), np.zeros((2, 2))).shape == (3, 2)
    with pytest.raises(ImageDatastoreError, match=r"cat\(4, \*dataX\)"):
        cat(4, imgs)
    with pytest.raises(ImageDatastoreError, match="same size"):
        cat(4, np.zeros((2, 2)), np.zeros((3, 3)))
    with pytest.raises(DLTeachError, match="counts from 1"):
        cat(0, imgs[0])


def test_categories_sorted_and_empty_error():
    assert categories(np.array(["9", "10", "1", "9"])) == ["1", "10", "9"]
    with pytest.raises(ImageDatastoreError, match="LabelSource='foldernames'"):
        categories(np.array([], dtype=str))
