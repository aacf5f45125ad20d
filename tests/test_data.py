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


@pytest.mark.parametrize("compress", [False, True])
def test_idx_with_no_items_is_a_named_error(tmp_path, compress):
    path = write(tmp_path / "empty.idx", idx_bytes(np.zeros((0, 28, 28), np.uint8), 0x08), compress)
    with pytest.raises(data.IDXError, match=r"empty.idx.* holds 0 items \(dimensions \(0, 28, 28\)\)"):
        data.load_idx(path)


@pytest.mark.parametrize(
    "compress, message",
    [(False, "is truncated: dimensions .* need 4294967295000000 bytes"), (True, "more than a gzip file of")],
)
def test_idx_absurd_sizes_are_refused_before_allocating(tmp_path, compress, message):
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2**32 - 1, 1000, 1000)
    path = write(tmp_path / "huge.idx", header + bytes(100), compress)
    tracemalloc.start()
    try:
        with pytest.raises(data.IDXError, match=message):
            data.load_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1e6


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


@pytest.mark.parametrize(
    "n, error, message",
    [(-1, ValueError, "n_train must be an integer >= 1, got -1"), (0, ValueError, ">= 1, got 0"),
     (2.5, TypeError, "n_train must be an integer >= 1, got 2.5"), (51, ValueError, "n_train=51, but .* only 50")],
)  # fmt: skip
def test_load_mnist_checks_n_train(tmp_path, n, error, message):
    fake_mnist(tmp_path, n_test=30, n_train=50, compress=False)
    with pytest.raises(error, match=message):
        data.load_mnist(tmp_path, n_train=n)


@pytest.mark.parametrize(
    "part, array, code, message",
    [
        ("labels", np.r_[np.arange(99) % 10, -1], 0x09, "has label -1; MNIST labels are 0..9"),
        (
            "labels",
            np.r_[np.arange(99) % 10, 10],
            0x08,
            r"t10k-labels-idx1-ubyte\S* has label 10; MNIST labels are 0..9",
        ),
        ("labels", np.arange(100) % 10, 0x0D, "holds labels of dtype float32; MNIST labels are integers"),
        (
            "images",
            np.where(np.arange(1200) == 7, np.nan, 0.5).reshape(100, 4, 3),
            0x0D,
            r"t10k-images-idx3-ubyte\S* has NaN or infinite pixels",
        ),
    ],
)
def test_load_mnist_refuses_bad_labels_and_pixels(tmp_path, part, array, code, message):
    fake_mnist(tmp_path)
    write(tmp_path / f"t10k-{part}-idx{array.ndim}-ubyte", idx_bytes(array, code), compress=True)
    with pytest.raises(data.IDXError, match=message):
        data.load_mnist(tmp_path)


def test_load_mnist_on_a_generated_test_set_scales_reshapes_and_splits_8000_2000(tmp_path):
    """The real files' layout without the real files: 10 000 distinct 28×28 images, labels i % 10."""
    i = np.arange(10000)
    images = (i[:, None, None] * 3 + np.arange(28)[:, None] * 5 + np.arange(28) * 11) % 256
    images[:, 0, 0], images[:, 0, 1] = i % 256, i // 256  # each image names its own number
    write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(images, 0x08), compress=False)
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(i % 10, 0x08), compress=False)
    X_train, y_train, X_test, y_test = data.load_mnist(tmp_path)
    assert X_train.shape == (8000, 784) and X_test.shape == (2000, 784) and X_train.dtype == np.float32
    assert np.bincount(y_train).tolist() == [800] * 10 and np.bincount(y_test).tolist() == [200] * 10
    numbers = []
    for X, y in ((X_train, y_train), (X_test, y_test)):
        number = np.rint(X[:, 0] * 255).astype(int) + 256 * np.rint(X[:, 1] * 255).astype(int)
        assert y.tolist() == (number % 10).tolist()  # each row keeps its label
        np.testing.assert_allclose(X, images[number].reshape(len(X), 784) / 255, rtol=1e-6)  # row-major, /255
        numbers += number.tolist()
    assert sorted(numbers) == i.tolist()  # every image once


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


@pytest.mark.parametrize("bad", [np.ones((3, 2)) + 1j, np.array([[1, None], [2, 3]]), np.array([["1", "2"]])])
def test_standardizer_refuses_complex_object_and_string_input(bad):
    with pytest.raises(TypeError, match="Standardizer.fit: X must hold real numbers, got dtype"):
        data.Standardizer().fit(bad)
    with pytest.raises(TypeError, match="Standardizer.transform: X must hold real numbers, got dtype"):
        data.Standardizer().fit(np.ones((3, bad.shape[1]))).transform(bad)


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
    for bad, error in ((0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError), ("2", TypeError)):
        with pytest.raises(error, match=f"batch_size must be an integer >= 1, got {bad!r}"):
            next(data.batches(np.zeros((4, 1)), np.zeros(4), bad))


def test_batches_of_one_row():
    X, y = np.arange(5.0)[:, None], np.arange(5)
    got = list(data.batches(X, y, 1, seed=0))
    assert [len(b) for _, b in got] == [1] * 5 and sorted(int(b[0]) for _, b in got) == list(range(5))


def test_batches_take_pandas_rows_by_position_not_by_label():
    import pandas as pd  # a test dependency (the dev extra), not a dependency of the package

    order = np.random.default_rng(0).permutation(10)  # a shuffled index, as after train_test_split
    X = pd.DataFrame({"a": np.arange(10.0), "b": -np.arange(10.0)}, index=order)
    y = pd.Series(np.arange(10), index=order)
    got = list(data.batches(X, y, 3, seed=1))
    for xb, yb in got:
        assert type(xb) is np.ndarray and type(yb) is np.ndarray
        np.testing.assert_array_equal(xb[:, 0], yb)  # every row keeps its own label
    assert sorted(np.concatenate([yb for _, yb in got])) == list(range(10))


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
