"""Datasets, the IDX reader on real and hand-made (good and broken) files, standardisation and minibatches."""

import gzip
import hashlib
import os
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import sklearn.datasets
import sklearn.model_selection
from helpers import MNIST_DIR

from tinygrad_lr import data

MNIST_PRESENT = os.path.isfile(os.path.join(MNIST_DIR, "t10k-images-idx3-ubyte.gz"))
needs_mnist = pytest.mark.skipif(not MNIST_PRESENT, reason="MNIST files not in ../shared/data/mnist")


# ---- bundled datasets ----------------------------------------------------------------------


def test_iris_binary_is_the_seeds_100_rows_of_classes_0_and_1():
    X, y = data.load_iris(binary=True)
    full_X, full_y = data.load_iris()
    assert X.shape == (100, 4) and set(y) == {0, 1}
    np.testing.assert_array_equal(X, full_X[full_y < 2])
    assert full_X.shape == (150, 4) and set(full_y) == {0, 1, 2}
    assert X.dtype == np.float64 and y.dtype == np.int64


def test_digits_and_breast_cancer():
    X, y = data.load_digits(dtype=np.float32)
    assert X.shape == (1797, 64) and X.dtype == np.float32 and set(y) == set(range(10))
    X, y = data.load_breast_cancer()
    assert X.shape == (569, 30) and set(y) == {0, 1}


def test_sklearn_functions_are_passed_through_not_rewritten():
    assert data.train_test_split is sklearn.model_selection.train_test_split
    assert data.make_classification is sklearn.datasets.make_classification


# ---- IDX files ---------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(data.IDX_DTYPES[code]).tobytes()


def write(path, payload: bytes, compress: bool) -> str:
    path = str(path) + (".gz" if compress else "")
    with gzip.open(path, "wb") if compress else open(path, "wb") as f:
        f.write(payload)
    return path


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    "code, array",
    [
        (0x08, np.arange(24, dtype=np.uint8).reshape(2, 3, 4)),
        (0x09, np.array([-128, 0, 127], dtype=np.int8)),
        (0x0B, np.array([[-300, 7], [2, 30000]], dtype=np.int16)),
        (0x0C, np.array([-(2**31), 5, 2**31 - 1], dtype=np.int32)),
        (0x0D, np.array([[1.5, -2.25]], dtype=np.float32)),
        (0x0E, np.array([np.pi, -1e300])),
    ],
)
def test_idx_round_trip_every_type(tmp_path, code, array, compress):
    path = write(tmp_path / "a.idx", idx_bytes(array, code), compress)
    out = data.load_idx(path)
    np.testing.assert_array_equal(out, array)
    assert out.shape == array.shape and out.dtype.isnative and out.flags.writeable


def test_idx_gzip_is_recognised_by_content_not_name(tmp_path):
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    gz = write(tmp_path / "a", idx_bytes(array, 0x08), compress=True)
    os.rename(gz, tmp_path / "no_suffix")
    np.testing.assert_array_equal(data.load_idx(tmp_path / "no_suffix"), array)


GOOD = idx_bytes(np.arange(60, dtype=np.uint8).reshape(3, 4, 5), 0x08)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\x12\x34" + GOOD[2:], "not an IDX file .*magic number starts with 1234"),
        (GOOD[:2] + b"\x07" + GOOD[3:], "unknown data type code 0x07"),
        (GOOD[:3] + b"\x00" + GOOD[4:], "declares 0 dimensions"),
        (GOOD[:3], "truncated: expected 4 bytes of header, got 3"),
        (GOOD[:10], "truncated: expected 12 bytes of dimensions, got 6"),
        (GOOD[:-1], r"truncated: dimensions \(3, 4, 5\) need 60 bytes of data, the file has 59"),
        (GOOD + b"\x00", r"bytes after the 60 bytes that dimensions \(3, 4, 5\) describe"),
        (b"", "truncated: expected 4 bytes of header, got 0"),
    ],
)
def test_idx_defects_are_named(tmp_path, payload, message, compress):
    path = write(tmp_path / "bad.idx", payload, compress)
    with pytest.raises(data.IDXError, match=message):
        data.load_idx(path)


def test_idx_damaged_gzip_stream(tmp_path):
    path = write(tmp_path / "x.idx", GOOD * 50, compress=True)
    raw = Path(path).read_bytes()
    Path(path).write_bytes(raw[: len(raw) // 2])  # cut mid-stream
    with pytest.raises(data.IDXError, match="corrupt or truncated gzip"):
        data.load_idx(path)
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0xFF
    Path(path).write_bytes(bytes(flipped))
    with pytest.raises(data.IDXError):
        data.load_idx(path)


def test_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file: .*nothing.idx"):
        data.load_idx(tmp_path / "nothing.idx")


# ---- MNIST layout -------------------------------------------------------------------------------


def fake_mnist(directory, n_test=100, n_train=0, compress=True):
    rng = np.random.default_rng(0)
    for prefix, n in (("t10k", n_test), ("train", n_train)):
        if n:
            write(directory / f"{prefix}-images-idx3-ubyte", idx_bytes(rng.integers(0, 256, (n, 4, 3)), 0x08), compress)
            write(directory / f"{prefix}-labels-idx1-ubyte", idx_bytes(np.arange(n) % 10, 0x08), compress)


def test_load_mnist_splits_the_test_set_when_it_is_alone(tmp_path):
    fake_mnist(tmp_path, n_test=100)
    X_train, y_train, X_test, y_test = data.load_mnist(tmp_path, n_train=80, dtype=np.float64)
    assert X_train.shape == (80, 12) and X_test.shape == (20, 12) and X_train.dtype == np.float64
    assert np.bincount(y_test).tolist() == [2] * 10  # stratified
    assert X_train.min() >= 0 and X_train.max() <= 1
    again = data.load_mnist(tmp_path, n_train=80, dtype=np.float64)
    np.testing.assert_array_equal(again[0], X_train)  # seeded
    other = data.load_mnist(tmp_path, n_train=80, seed=1)
    assert not np.array_equal(other[1], y_train)


def test_load_mnist_uses_train_files_when_present(tmp_path):
    fake_mnist(tmp_path, n_test=30, n_train=50, compress=False)
    X_train, y_train, X_test, y_test = data.load_mnist(tmp_path)
    assert X_train.shape == (50, 12) and X_test.shape == (30, 12) and X_train.dtype == np.float32
    X_train, _, X_test, _ = data.load_mnist(tmp_path, n_train=10, n_test=5)
    assert len(X_train) == 10 and len(X_test) == 5


def test_load_mnist_missing_pieces(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        data.load_mnist(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="has no t10k-images-idx3-ubyte"):
        data.load_mnist(tmp_path)
    fake_mnist(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(FileNotFoundError, match="not t10k-labels-idx1-ubyte"):
        data.load_mnist(tmp_path)


def test_load_mnist_images_and_labels_must_agree(tmp_path):
    fake_mnist(tmp_path)
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros(99), 0x08), compress=True)
    with pytest.raises(data.IDXError, match=r"images of shape \(100, 4, 3\) and labels of shape \(99,\)"):
        data.load_mnist(tmp_path)


@needs_mnist
def test_mnist_files_match_their_md5sums():
    sums = os.path.join(MNIST_DIR, "MD5SUMS")
    if not os.path.isfile(sums):
        pytest.skip("no MD5SUMS beside the MNIST files")
    lines = [line.split() for line in Path(sums).read_text().splitlines() if line.strip()]
    assert lines
    for digest, name in lines:
        assert hashlib.md5(Path(MNIST_DIR, name).read_bytes()).hexdigest() == digest, name


@needs_mnist
def test_real_mnist_test_set_split_8000_2000():
    X_train, y_train, X_test, y_test = data.load_mnist(MNIST_DIR)
    assert X_train.shape == (8000, 784) and X_test.shape == (2000, 784)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    assert set(y_test) == set(range(10))
    images = data.load_idx(os.path.join(MNIST_DIR, "t10k-images-idx3-ubyte.gz"))
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8


# ---- standardisation ---------------------------------------------------------------------------


def test_standardizer_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    train = rng.normal(5.0, 3.0, size=(200, 3))
    test = rng.normal(-5.0, 1.0, size=(50, 3))
    s = data.Standardizer().fit(train)
    z = s.transform(train)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1, rtol=1e-12)
    np.testing.assert_allclose(s.transform(test), (test - train.mean(0)) / train.std(0))


def test_standardizer_zero_variance_column_becomes_zero_not_nan():
    X = np.column_stack([np.arange(5.0), np.full(5, 7.0)])
    z = data.Standardizer().fit_transform(X)
    np.testing.assert_array_equal(z[:, 1], 0.0)
    assert np.isfinite(z).all()


def test_standardizer_keeps_float32():
    X = np.random.default_rng(0).random((10, 2)).astype(np.float32)
    assert data.Standardizer().fit_transform(X).dtype == np.float32


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match="call fit"):
        data.Standardizer().transform(np.ones((2, 2)))
    s = data.Standardizer().fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"expected shape \(n, 2\) as in fit, got \(3, 5\)"):
        s.transform(np.ones((3, 5)))
    with pytest.raises(ValueError, match="NaN or inf"):
        data.Standardizer().fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(ValueError, match=r"non-empty 2-D array, got shape \(0, 3\)"):
        data.Standardizer().fit(np.ones((0, 3)))


# ---- minibatches ---------------------------------------------------------------------------------


def test_batches_cover_every_row_once_in_seeded_order():
    X = np.arange(23 * 2).reshape(23, 2)
    y = np.arange(23)
    got = list(data.batches(X, y, 5, seed=3))
    assert [len(b) for _, b in got] == [5, 5, 5, 5, 3]
    seen = np.concatenate([b for _, b in got])
    assert sorted(seen) == list(range(23)) and seen.tolist() != list(range(23))
    for xb, yb in got:
        np.testing.assert_array_equal(xb, X[yb])
    again = np.concatenate([b for _, b in data.batches(X, y, 5, seed=3)])
    np.testing.assert_array_equal(again, seen)
    other = np.concatenate([b for _, b in data.batches(X, y, 5, seed=4)])
    assert other.tolist() != seen.tolist()


def test_batches_without_shuffle_and_with_a_generator():
    X, y = np.zeros((7, 1)), np.arange(7)
    assert [b.tolist() for _, b in data.batches(X, y, 3, shuffle=False)] == [[0, 1, 2], [3, 4, 5], [6]]
    rng = np.random.default_rng(0)
    first = np.concatenate([b for _, b in data.batches(X, y, 3, seed=rng)])
    second = np.concatenate([b for _, b in data.batches(X, y, 3, seed=rng)])
    assert first.tolist() != second.tolist()  # the generator's stream continues


def test_batches_errors():
    with pytest.raises(ValueError, match="X has 4 rows but y has 3 labels"):
        next(data.batches(np.zeros((4, 1)), np.zeros(3), 2))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match=f"batch_size must be an integer >= 1, got {bad!r}"):
            next(data.batches(np.zeros((4, 1)), np.zeros(4), bad))


def test_batches_on_a_memmap_gather_rows_without_loading_the_file(tmp_path):
    n, d, batch = 20_000, 100, 128
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=(n, d))
    X[:] = np.arange(n, dtype=np.float32)[:, None]
    X.flush()
    del X
    X = np.load(tmp_path / "X.npy", mmap_mode="r")
    y = np.arange(n)
    tracemalloc.start()
    count = 0
    for xb, yb in data.batches(X, y, batch, seed=0):
        assert type(xb) is np.ndarray and xb.shape[1] == d
        np.testing.assert_array_equal(xb[:, 0], yb)  # each row is the one its label names
        count += len(yb)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == n
    file_bytes = n * d * 4  # 8 MB
    assert peak < file_bytes / 10, f"peak {peak} bytes while iterating over a {file_bytes}-byte memmap"
