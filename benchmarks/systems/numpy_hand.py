"""Hand-written NumPy: gradients derived on paper, written as a careful user would.

Stable (log-sum-exp with a max shift, ``logaddexp`` for the softplus), vectorised,
in place where that is natural, and a gather of the label column instead of a
one-hot matrix. This is the baseline every ratio is measured against.
"""

from __future__ import annotations

import numpy as np

from . import CHAIN_FACTOR, CHAIN_SIZE, Trainer

VERSION = np.__version__


def logistic(params: list[np.ndarray], X: np.ndarray, y: np.ndarray) -> tuple[np.floating, list[np.ndarray]]:
    """Mean of softplus(z) - y·z with z = Xw + b; dz = σ(z) - y."""
    w, b = params
    z = X @ w
    z += b
    softplus = np.logaddexp(0.0, z)
    loss = np.mean(softplus - y * z)
    dz = np.exp(z - softplus)  # σ(z), stable: z - softplus(z) <= 0
    dz -= y
    dz /= len(y)
    return loss, [X.T @ dz, dz.sum()]


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[np.floating, np.ndarray]:
    """Mean log-loss and its gradient with respect to ``logits`` (overwritten), from one softmax."""
    n = len(y)
    rows = np.arange(n)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    total = e.sum(axis=1, keepdims=True)
    loss = np.log(total).mean() - logits[rows, y].mean()
    e /= total
    e[rows, y] -= 1
    e /= n
    return loss, e


def column_sums(g: np.ndarray) -> np.ndarray:
    """The bias gradient."""
    return g.sum(axis=0)


# numpy_layout passes its own cross_entropy and column_sums to the two functions below.


def softmax(
    params: list[np.ndarray], X: np.ndarray, y: np.ndarray, cross_entropy=cross_entropy, column_sums=column_sums
) -> tuple[np.floating, list[np.ndarray]]:
    W, b = params
    logits = X @ W
    logits += b
    loss, d = cross_entropy(logits, y)
    return loss, [X.T @ d, column_sums(d)]


def mlp(
    params: list[np.ndarray], X: np.ndarray, y: np.ndarray, cross_entropy=cross_entropy, column_sums=column_sums
) -> tuple[np.floating, list[np.ndarray]]:
    """One tanh hidden layer; dh = (d W1ᵀ) ⊙ (1 - h²)."""
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


LOSSES = {"logistic": logistic, "softmax": softmax, "mlp": mlp}


class SystemTrainer(Trainer):
    def __init__(self, kind: str, params: dict[str, np.ndarray], lr: float) -> None:
        super().__init__(kind, params, lr)
        self.params = [np.array(v) for v in params.values()]
        self.loss_fn = LOSSES[kind]

    def prepare(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return X, y

    def loss_and_grads(self, X: np.ndarray, y: np.ndarray) -> tuple[np.floating, list[np.ndarray]]:
        return self.loss_fn(self.params, X, y)

    def update(self, grads: list[np.ndarray]) -> None:
        for p, g in zip(self.params, grads):
            p -= self.lr * g


def chain(depth: int):
    """The floor of any reverse pass through the chain: one NumPy multiply per op."""

    def backward() -> np.ndarray:
        g = np.ones(CHAIN_SIZE)
        for _ in range(depth):
            g = g * CHAIN_FACTOR
        return g

    return backward
