"""Datasets (scikit-learn's bundled ones, MNIST from IDX files) and minibatching.

Nothing here downloads: the small datasets ship with scikit-learn, and MNIST is
read from IDX files you already have (``.gz`` or raw).
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

if TYPE_CHECKING:  # loaded on first use by __getattr__ below
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

from .validation import as_array, check_int, check_real_array

__all__ = [
    "IDXError",
    "Standardizer",
    "batches",
    "load_breast_cancer",
    "load_digits",
    "load_idx",
    "load_iris",
    "load_mnist",
    "make_classification",
    "train_test_split",
]


# ---- scikit-learn's bundled datasets ---------------------------------------------


def __getattr__(name: str) -> Any:
    """scikit-learn's ``make_classification`` and ``train_test_split``, imported on first use (~1 s)."""
    if name == "make_classification":
        from sklearn.datasets import make_classification

        return make_classification
    if name == "train_test_split":
        from sklearn.model_selection import train_test_split

        return train_test_split
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _sklearn_dataset(name: str) -> Any:
    from sklearn import datasets

    return getattr(datasets, name)()


def _xy(bunch: Any, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    return bunch.data.astype(dtype), bunch.target.astype(np.int64)


def load_iris(binary: bool = False, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Iris: 150 rows, 4 features, 3 classes; ``binary=True`` keeps the seeds' 100 rows of classes 0 and 1."""
    X, y = _xy(_sklearn_dataset("load_iris"), dtype)
    if binary:
        keep = y < 2
        X, y = X[keep], y[keep]
    return X, y


def load_digits(dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """8×8 digits: 1797 rows, 64 features (pixel values 0..16), 10 classes."""
    return _xy(_sklearn_dataset("load_digits"), dtype)


def load_breast_cancer(dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Wisconsin breast cancer: 569 rows, 30 features, binary labels."""
    return _xy(_sklearn_dataset("load_breast_cancer"), dtype)


# ---- IDX files (MNIST) ------------------------------------------------------------


class IDXError(ValueError):
    """An IDX file is truncated, corrupt or not an IDX file at all."""


# The IDX type byte -> big-endian element type.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_exact(f: BinaryIO, n: int, path: str, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise IDXError(f"load_idx: {path} is truncated: expected {n} bytes of {what}, got {len(data)}")
    return data


def _read_idx(f: BinaryIO, path: str, size: int, compressed: bool) -> np.ndarray:
    """The array of an IDX stream, allocated only once the header's size fits the file's ``size`` in bytes."""
    header = _read_exact(f, 4, path, "header")
    if header[:2] != b"\x00\x00":
        raise IDXError(f"load_idx: {path} is not an IDX file (magic number starts with {header[:2].hex()}, not 0000)")
    code, ndim = header[2], header[3]
    if code not in IDX_DTYPES:
        raise IDXError(
            f"load_idx: {path} has unknown data type code 0x{code:02x}; "
            f"known: {', '.join(f'0x{c:02x}' for c in IDX_DTYPES)}"
        )
    if ndim == 0:
        raise IDXError(f"load_idx: {path} declares 0 dimensions")
    dims = tuple(int(d) for d in np.frombuffer(_read_exact(f, 4 * ndim, path, "dimensions"), dtype=">u4"))
    dtype = IDX_DTYPES[code]
    nbytes = math.prod(dims) * dtype.itemsize  # a Python int: no overflow however absurd the dimensions
    if nbytes == 0:
        raise IDXError(f"load_idx: {path} holds 0 items (dimensions {dims})")
    if compressed and nbytes > GZIP_MAX_RATIO * size:
        raise IDXError(
            f"load_idx: {path} declares dimensions {dims}, {nbytes} bytes of data, "
            f"more than a gzip file of {size} bytes can hold"
        )
    if not compressed and nbytes > size - 4 - 4 * ndim:
        raise IDXError(
            f"load_idx: {path} is truncated: dimensions {dims} need {nbytes} bytes of data, "
            f"the file has {size - 4 - 4 * ndim}"
        )
    out = np.empty(dims, dtype=dtype)
    view = memoryview(out).cast("B")  # read straight into the result: no second copy
    filled = 0
    while filled < out.nbytes:
        n = f.readinto(view[filled:])
        if not n:
            raise IDXError(
                f"load_idx: {path} is truncated: dimensions {dims} need {out.nbytes} bytes of data, "
                f"the file has {filled}"
            )
        filled += n
    if f.read(1):
        raise IDXError(f"load_idx: {path} has bytes after the {out.nbytes} bytes that dimensions {dims} describe")
    return out if dtype.isnative or dtype.itemsize == 1 else out.astype(dtype.newbyteorder("="))


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw, told apart by content) into an array.

    Checks the magic number, the type code and that the data is exactly as long as
    the dimensions say; anything else raises :class:`IDXError`.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_idx: no such file: {path}")
    with open(path, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
    size = os.path.getsize(path)
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as f:
            return _read_idx(f, path, size, compressed)
    except (EOFError, OSError, zlib.error) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise IDXError(f"load_idx: {path} is a corrupt or truncated gzip file ({e})") from None


GZIP_MAX_RATIO = 1032  # deflate cannot expand data more than this: bounds what a .gz file can claim to hold

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find(directory: str, name: str) -> str | None:
    for candidate in (name + ".gz", name):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


def _mnist_part(directory: str, part: str, dtype: Any) -> tuple[np.ndarray, np.ndarray] | None:
    paths = [_find(directory, name) for name in MNIST_FILES[part]]
    if paths == [None, None]:
        return None
    if None in paths:
        missing = MNIST_FILES[part][paths.index(None)]
        raise FileNotFoundError(f"load_mnist: {directory} has the {part} images or labels but not {missing}[.gz]")
    images, labels = load_idx(paths[0]), load_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise IDXError(
            f"load_mnist: {part} images of shape {images.shape} and labels of shape {labels.shape} "
            "do not match (expected (n, rows, cols) and (n,))"
        )
    if labels.dtype.kind not in "iu":
        raise IDXError(f"load_mnist: {paths[1]} holds labels of dtype {labels.dtype}; MNIST labels are integers")
    if labels.min() < 0 or labels.max() > 9:
        bad = labels.min() if labels.min() < 0 else labels.max()
        raise IDXError(f"load_mnist: {paths[1]} has label {bad}; MNIST labels are 0..9")
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        raise IDXError(f"load_mnist: {paths[0]} has NaN or infinite pixels")
    X = images.reshape(len(images), -1).astype(dtype)
    X *= 1 / 255
    return X, labels.astype(np.int64)


def load_mnist(
    path: str | os.PathLike,
    n_train: int | None = None,
    n_test: int | None = None,
    dtype: Any = np.float32,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST from the IDX files in ``path``: ``X_train, y_train, X_test, y_test``.

    Rows are flattened images with pixels scaled to [0, 1] (``dtype`` float32 or
    float64), labels are int64. With the usual four files, ``n_train``/``n_test``
    keep the first rows of each set. With only the test files (``t10k-*``), the
    10 000 test images are split, stratified by a seeded shuffle, into
    ``n_train`` (default 8 000) training rows and ``n_test`` (default: the rest,
    2 000) test rows.
    """
    n_train = None if n_train is None else check_int(n_train, "load_mnist: n_train")
    n_test = None if n_test is None else check_int(n_test, "load_mnist: n_test")
    directory = os.fspath(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"load_mnist: no such directory: {directory}")
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"load_mnist: dtype must be float32 or float64, got {dtype}")
    train, test = _mnist_part(directory, "train", dtype), _mnist_part(directory, "test", dtype)
    if test is None:
        raise FileNotFoundError(
            f"load_mnist: {directory} has no {MNIST_FILES['test'][0]}[.gz] and {MNIST_FILES['test'][1]}[.gz]"
        )
    if train is None:
        from sklearn.model_selection import train_test_split

        n_train = 8000 if n_train is None else n_train
        X_train, X_test, y_train, y_test = train_test_split(
            *test, train_size=n_train, test_size=n_test, stratify=test[1], random_state=seed
        )
        return X_train, y_train, X_test, y_test
    (X_train, y_train), (X_test, y_test) = train, test
    for name, n, have in (("n_train", n_train, len(X_train)), ("n_test", n_test, len(X_test))):
        if n is not None and n > have:
            raise ValueError(f"load_mnist: {name}={n}, but {directory} has only {have} such images")
    return X_train[:n_train], y_train[:n_train], X_test[:n_test], y_test[:n_test]


# ---- preprocessing and batching ------------------------------------------------------


class Standardizer:
    """x → (x − mean) / std per feature, with mean and std from the training set only.

    Features with zero variance keep scale 1 (they become 0, never NaN).
    """

    def fit(self, X: Any) -> Standardizer:
        X = check_real_array(X, "Standardizer.fit: X")
        if X.ndim != 2 or len(X) == 0:
            raise ValueError(f"Standardizer.fit: expected a non-empty 2-D array, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("Standardizer.fit: X contains NaN or inf")
        self.mean_ = X.mean(axis=0, dtype=np.float64)
        std = X.std(axis=0, dtype=np.float64)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X: Any) -> np.ndarray:
        if not hasattr(self, "mean_"):
            raise RuntimeError("Standardizer.transform: call fit(X_train) first")
        X = check_real_array(X, "Standardizer.transform: X")
        if X.ndim != 2 or X.shape[1] != len(self.mean_):
            raise ValueError(f"Standardizer.transform: expected shape (n, {len(self.mean_)}) as in fit, got {X.shape}")
        dtype = X.dtype if X.dtype.kind == "f" else np.float64
        return ((X - self.mean_) / self.scale_).astype(dtype, copy=False)

    def fit_transform(self, X: Any) -> np.ndarray:
        return self.fit(X).transform(X)


def batches(
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    shuffle: bool = True,
    seed: int | np.random.Generator | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Minibatches ``(X[idx], y[idx])`` covering every row once, in a seeded random order.

    Only the rows of one batch are gathered at a time, so ``X`` may be an
    ``np.memmap`` larger than memory. Indices within a batch are sorted: the same
    rows, read front to back. A pandas ``DataFrame``/``Series`` is taken by position.
    Pass a ``np.random.Generator`` as ``seed`` to draw the order from it (and so
    continue its stream, e.g. after a checkpoint).
    """
    X, y = as_array(X), as_array(y)  # pandas: rows by position, not by index label
    n = len(X)
    if len(y) != n:
        raise ValueError(f"batches: X has {n} rows but y has {len(y)} labels")
    batch_size = check_int(batch_size, "batches: batch_size")
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        if shuffle:
            idx.sort()
        yield np.asarray(X[idx]), np.asarray(y[idx])
