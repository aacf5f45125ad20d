"""Hand-written NumPy with tinygrad_lr's two layout choices: how much of its lead they are.

The same steps as ``numpy_hand`` except that the cross-entropy works on a classes ×
samples copy of the logits (the row max and sum then run across a wide axis, and the
label entries are picked by flat position), and bias gradients are column sums done as
one BLAS product, ``ones @ G``. It is not the baseline: ratios stay against plain hand
NumPy, as the targets are; this row says what a user who knew those two tricks would get.
"""

from __future__ import annotations

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


def softmax(params: list[np.ndarray], X: np.ndarray, y: np.ndarray) -> tuple[np.floating, list[np.ndarray]]:
    W, b = params
    logits = X @ W
    logits += b
    loss, d = cross_entropy(logits, y)
    return loss, [X.T @ d, column_sums(d)]


def mlp(params: list[np.ndarray], X: np.ndarray, y: np.ndarray) -> tuple[np.floating, list[np.ndarray]]:
    W0, b0, W1, b1 = params
    h = X @ W0
    h += b0
    np.tanh(h, out=h)
    logits = h @ W1
    logits += b1
    loss, d = cross_entropy(logits, y)
    dh = d @ W1.T
    dh *= 1 - h * h
    return loss, [X.T @ dh, column_sums(dh), h.T @ d, column_sums(d)]


LOSSES = {"logistic": numpy_hand.logistic, "softmax": softmax, "mlp": mlp}


class SystemTrainer(numpy_hand.SystemTrainer):
    def __init__(self, kind: str, params: dict[str, np.ndarray], lr: float) -> None:
        super().__init__(kind, params, lr)
        self.loss_fn = LOSSES[kind]
