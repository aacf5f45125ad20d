"""MyGrad: tensors that record their graph, with its fused ``softmax_crossentropy``."""

from __future__ import annotations

import mygrad as mg
import numpy as np
from mygrad.nnet.losses import softmax_crossentropy

from . import CHAIN_FACTOR, CHAIN_SIZE, Trainer

VERSION = mg.__version__


def note() -> str:
    return "update: p.data -= lr * p.grad; p.null_grad()"


def logistic(params, X, y):
    w, b = params
    z = mg.matmul(X, w) + b
    return mg.mean(mg.logaddexp(0.0, z) - y * z)


def softmax(params, X, y):
    W, b = params
    return softmax_crossentropy(mg.matmul(X, W) + b, y)


def mlp(params, X, y):
    W0, b0, W1, b1 = params
    return softmax_crossentropy(mg.matmul(mg.tanh(mg.matmul(X, W0) + b0), W1) + b1, y)


LOSSES = {"logistic": logistic, "softmax": softmax, "mlp": mlp}


class SystemTrainer(Trainer):
    def __init__(self, kind: str, params: dict[str, np.ndarray], lr: float) -> None:
        super().__init__(kind, params, lr)
        self.params = [mg.tensor(v, copy=True) for v in params.values()]
        self.loss_fn = LOSSES[kind]

    def prepare(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return X, y

    def loss_and_grads(self, X: np.ndarray, y: np.ndarray):
        loss = self.loss_fn(self.params, X, y)
        loss.backward()
        grads = [p.grad for p in self.params]
        for p in self.params:
            p.null_grad()
        return loss, grads

    def update(self, grads) -> None:
        for p, g in zip(self.params, grads):
            p.data -= self.lr * g


def chain(depth: int):
    x = mg.tensor(np.ones(CHAIN_SIZE))
    y = x
    for _ in range(depth):
        y = y * CHAIN_FACTOR
    out = mg.sum(y)
    del y

    def backward() -> np.ndarray:
        out.backward()
        return x.grad

    return backward
