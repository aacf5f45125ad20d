"""Hand-written NumPy with tinygrad_lr's two layout choices: how much of its lead they are.

The same steps as ``numpy_hand`` except that the cross-entropy works on a classes ×
samples copy of the logits (the row max and sum then run across a wide axis, and the
label entries are picked by flat position), and bias gradients are column sums done as
one BLAS product, ``ones @ G``. It is not the baseline: ratios stay against plain hand
NumPy, as the targets are; this row says what a user who knew those two tricks would get.
"""

from __future__ import annotations

import functools

import numpy as np

from . import numpy_hand

VERSION = np.__version__


def note() -> str:
    return "numpy_hand with a classes-major cross-entropy and bias gradients as ones @ G"


def column_sums(g: np.ndarray) -> np.ndarray:
    return np.ones(len(g), g.dtype) @ g


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[np.floating, np.ndarray]:
    """Mean log-loss and its gradient with respect to ``logits``, from a classes-major softmax."""
    n = len(y)
    e = np.array(logits.T, order="C")
    e -= e.max(axis=0)
    flat = e.reshape(-1)  # a view: e is a fresh C-ordered copy
    picks = y * n + np.arange(n)
    picked = flat[picks].sum()
    np.exp(e, out=e)
    total = e.sum(axis=0)
    loss = (np.log(total).sum() - picked) / n
    e *= (1.0 / n) / total
    flat[picks] -= 1.0 / n
    return loss, e.T


LOSSES = {
    "logistic": numpy_hand.logistic,
    "softmax": functools.partial(numpy_hand.softmax, cross_entropy=cross_entropy, column_sums=column_sums),
    "mlp": functools.partial(numpy_hand.mlp, cross_entropy=cross_entropy, column_sums=column_sums),
}


class SystemTrainer(numpy_hand.SystemTrainer):
    def __init__(self, kind: str, params: dict[str, np.ndarray], lr: float) -> None:
        super().__init__(kind, params, lr)
        self.loss_fn = LOSSES[kind]
