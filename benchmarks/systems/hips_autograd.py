"""HIPS autograd: the loss as a function of a parameter list, differentiated by ``value_and_grad``."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd import make_vjp, value_and_grad
from autograd.scipy.special import logsumexp

from . import CHAIN_FACTOR, CHAIN_SIZE, Trainer

try:
    from importlib.metadata import version

    VERSION = version("autograd")
except Exception:  # noqa: BLE001  (metadata missing: a source checkout)
    VERSION = "unknown"


def logistic(params, X, y):
    w, b = params
    z = anp.dot(X, w) + b
    return anp.mean(anp.logaddexp(0.0, z) - y * z)


def cross_entropy(logits, y):
    log_probs = logits - logsumexp(logits, axis=1, keepdims=True)
    return -anp.mean(log_probs[np.arange(len(y)), y])


def softmax(params, X, y):
    W, b = params
    return cross_entropy(anp.dot(X, W) + b, y)


def mlp(params, X, y):
    W0, b0, W1, b1 = params
    return cross_entropy(anp.dot(anp.tanh(anp.dot(X, W0) + b0), W1) + b1, y)


LOSSES = {"logistic": logistic, "softmax": softmax, "mlp": mlp}


class SystemTrainer(Trainer):
    def __init__(self, kind: str, params: dict[str, np.ndarray], lr: float) -> None:
        super().__init__(kind, params, lr)
        self.params = [np.array(v) for v in params.values()]
        self.value_and_grad = value_and_grad(LOSSES[kind])

    def prepare(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return X, y

    def loss_and_grads(self, X: np.ndarray, y: np.ndarray):
        return self.value_and_grad(self.params, X, y)

    def update(self, grads) -> None:
        for p, g in zip(self.params, grads):
            p -= self.lr * g


def chain(depth: int):
    def forward(x):
        for _ in range(depth):
            x = x * CHAIN_FACTOR
        return anp.sum(x)

    vjp, _ = make_vjp(forward)(np.ones(CHAIN_SIZE))
    return lambda: vjp(1.0)
