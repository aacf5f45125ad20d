"""The seeded train/test splits of the named datasets, as the CLI and the tutorials use them.

Same name, seed and test size give the same rows, so ``train`` and ``evaluate``
(and a user re-running an experiment) agree. ``moons`` and ``classification``
are the tutorials' data (``tutorial-mlp-decision-boundary.md``,
``tutorial-classification-inference.md``): generated once with the tutorials'
own settings, whatever the seed, which only picks the split.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import data

DATASETS = ("digits", "iris", "breast_cancer", "moons", "classification", "mnist")
DEFAULT_TEST_SIZE = 0.25
# The official MNIST files and their MD5 sums (as published with the data set).
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


@dataclass
class Split:
    """A dataset split for training: scaled features, labels, and what the plots need."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    image_shape: tuple[int, int] | None  # images are shown unscaled by plot_misclassified
    images_test: np.ndarray | None
    binary: bool = False  # classes 0 and 1 only, of a dataset with more

    @property
    def test_size(self) -> float:
        """The fraction of rows actually held out (MNIST's comes from its files)."""
        return len(self.y_test) / (len(self.y_train) + len(self.y_test))


def _raw_dataset(name: str) -> tuple[np.ndarray, np.ndarray, tuple[int, int] | None]:
    """All rows of ``name`` (``X`` in [0, 1] for images), and the image shape if it is one."""
    if name == "iris":
        X, y = data.load_iris()
    elif name == "digits":
        X, y = data.load_digits()
        return X / 16, y, (8, 8)
    elif name == "breast_cancer":
        X, y = data.load_breast_cancer()
    elif name == "moons":
        from sklearn.datasets import make_moons

        X, y = make_moons(n_samples=400, noise=0.2, random_state=0)
    else:
        X, y = data.make_classification(
            n_samples=500, n_features=2, n_redundant=0, n_informative=2, n_clusters_per_class=1, random_state=1
        )
    return X, y.astype(np.int64), None


def missing_mnist_message(data_dir: str | os.PathLike | None) -> str | None:
    """The MNIST files ``data_dir`` lacks, with MD5 sums and where they go (None: the test files are there)."""
    needed = [name for name in MNIST_MD5 if name.startswith("t10k")]
    if data_dir is not None and os.path.isdir(data_dir):
        present = set(os.listdir(data_dir))
        needed = [n for n in needed if n not in present and n.removesuffix(".gz") not in present]
        if not needed:
            return None
    files = ", ".join(f"{name} (md5 {MNIST_MD5[name]})" for name in needed)
    optional = " and ".join(f"{name} (md5 {MNIST_MD5[name]})" for name in MNIST_MD5 if name.startswith("train"))
    if data_dir is None:
        return f"mnist needs a folder (--data-dir DIR) with {files}, .gz or unpacked; {optional} are optional"
    return (
        f"mnist: {os.fspath(data_dir)} has no {files}; put the IDX files there (.gz or unpacked) "
        f"or pass their folder as --data-dir; {optional} are optional"
    )


def load_split(
    name: str,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    test_size: float | None = None,
    binary: bool = False,
) -> Split:
    """The stratified, seeded train/test split of ``name`` (one of :data:`DATASETS`).

    Tabular features are standardised with the training rows' mean and std; image
    pixels are already in [0, 1]. ``binary`` keeps classes 0 and 1 (iris's two-class
    subset). ``test_size`` defaults to 0.25; MNIST comes split by its files
    (``data.load_mnist``: the official 60 000 / 10 000, or 8 000 / 2 000 of the
    ``t10k`` files alone), so a ``test_size`` is refused there.
    """
    if name not in DATASETS:
        raise ValueError(f"load_split: unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    if name == "mnist":
        if test_size is not None:
            raise ValueError("load_split: mnist is split by its files; test_size does not apply")
        message = missing_mnist_message(data_dir)
        if message:
            raise FileNotFoundError(message)
        X_train, y_train, X_test, y_test = data.load_mnist(data_dir, seed=seed, dtype=np.float64)
        image_shape: tuple[int, int] | None = (28, 28)
    else:
        X, y, image_shape = _raw_dataset(name)
        if binary:
            keep = y < 2
            X, y = X[keep], y[keep]
        test_size = DEFAULT_TEST_SIZE if test_size is None else test_size
        X_train, X_test, y_train, y_test = data.train_test_split(
            X, y, test_size=test_size, stratify=y, random_state=seed
        )
    images_test = X_test if image_shape else None
    if image_shape is None:
        scaler = data.Standardizer().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    return Split(
        name, X_train, y_train, X_test, y_test, n_classes, image_shape, images_test, binary and name != "mnist"
    )
