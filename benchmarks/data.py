"""The workloads' data and starting parameters, identical for every system.

Nothing is downloaded: iris and digits ship with scikit-learn, and the
MNIST-sized set is synthetic (or the real 10 000-image test set, tiled, when a
directory holding it is given).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

MNIST_SHAPE = (60_000, 784)
MNIST_CLASSES = 10


def iris_binary() -> tuple[np.ndarray, np.ndarray]:
    """The first two iris classes: 100×4 float64 features, 0/1 float64 targets."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    keep = y < 2
    return np.ascontiguousarray(X[keep], dtype=np.float64), y[keep].astype(np.float64)


def digits() -> tuple[np.ndarray, np.ndarray]:
    """1797×64 float64 pixels scaled to [0, 1], integer labels 0..9."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y.astype(np.int64)


def mnist_like(
    n: int = MNIST_SHAPE[0], seed: int = 0, mnist_dir: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``n``×784 float32 in [0, 1] with int64 labels: synthetic, or real MNIST test images tiled.

    The synthetic labels come from a random linear teacher, so training on them
    is a real (if easy) problem; the cost of a step does not depend on the values.
    """
    if mnist_dir is not None:
        images, labels = _read_mnist_test(Path(mnist_dir))
        reps = -(-n // len(labels))
        return np.tile(images, (reps, 1))[:n], np.tile(labels, reps)[:n]
    rng = np.random.default_rng(seed)
    X = rng.random((n, MNIST_SHAPE[1]), dtype=np.float32)
    teacher = rng.standard_normal((MNIST_SHAPE[1], MNIST_CLASSES)).astype(np.float32)
    # (X - 0.5) @ teacher without a temporary the size of X (it would inflate workload 6's peak)
    y = (X @ teacher - 0.5 * teacher.sum(axis=0)).argmax(axis=1).astype(np.int64)
    return X, y


def _read_mnist_test(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """The IDX test files (t10k-*), gzipped as published."""
    images_path = directory / "t10k-images-idx3-ubyte.gz"
    labels_path = directory / "t10k-labels-idx1-ubyte.gz"
    for path in (images_path, labels_path):
        if not path.exists():
            raise FileNotFoundError(f"MNIST test file {path} not found")
    with gzip.open(images_path) as f:
        images = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    with gzip.open(labels_path) as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    if images.size != labels.size * MNIST_SHAPE[1]:
        raise ValueError(f"MNIST files in {directory}: {images.size} pixels for {labels.size} labels")
    return images.reshape(-1, MNIST_SHAPE[1]).astype(np.float32) / 255, labels.astype(np.int64)


def batches(n: int, batch_size: int, rng: np.random.Generator):
    """Index arrays of one shuffled epoch (the last batch may be short)."""
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def initial_params(kind: str, sizes: list[int], dtype: type = np.float64, seed: int = 0) -> dict[str, np.ndarray]:
    """Starting parameters, named as tinygrad_lr's models name them: weights N(0, 1/fan_in), zero biases.

    ``sizes`` is (n_features, n_outputs) or, for the MLP, (n_features, hidden, n_classes).
    """
    rng = np.random.default_rng(seed)

    def weight(fan_in: int, *shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(dtype)

    if kind == "logistic":
        return {"w": weight(sizes[0], sizes[0]), "b": np.zeros((), dtype)}
    if kind == "softmax":
        return {"W": weight(sizes[0], sizes[0], sizes[1]), "b": np.zeros(sizes[1], dtype)}
    if kind == "mlp":
        d, h, c = sizes
        return {"W0": weight(d, d, h), "b0": np.zeros(h, dtype), "W1": weight(h, h, c), "b1": np.zeros(c, dtype)}
    raise ValueError(f"initial_params: unknown model kind {kind!r}")
