"""tinygrad_lr through its public API: the models, ``loss``, ``backward`` and a plain SGD update."""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_lr
from tinygrad_lr import Tensor, models

from . import CHAIN_FACTOR, CHAIN_SIZE, Trainer

VERSION = tinygrad_lr.__version__


def note() -> str:
    return "update: p.data -= lr * p.grad.data; p.grad = None"


def build_model(kind: str, params: dict[str, np.ndarray]) -> models.Model:
    """The library's own model, with the shapes (and dtype) of ``params``."""
    dtype = next(iter(params.values())).dtype
    if kind == "logistic":
        return models.LogisticRegression(params["w"].shape[0], dtype=dtype)
    if kind == "softmax":
        return models.SoftmaxRegression(*params["W"].shape, dtype=dtype)
    return models.MLP([params["W0"].shape[0], params["W0"].shape[1], params["W1"].shape[1]], dtype=dtype)


class SystemTrainer(Trainer):
    def __init__(self, kind: str, params: dict[str, np.ndarray], lr: float) -> None:
        super().__init__(kind, params, lr)
        self.model = build_model(kind, params)
        named = self.model.named_parameters()
        if list(named) != list(params):
            raise ValueError(f"tinygrad_lr {kind}: parameters {list(named)}, benchmark expects {list(params)}")
        for name, value in params.items():
            named[name].data[...] = value
        self.params = self.model.parameters()

    def prepare(self, X: np.ndarray, y: np.ndarray) -> tuple[Tensor, Any]:
        # Integer labels stay an array (cross_entropy wants them so); 0/1 targets become a Tensor.
        return Tensor(X), (Tensor(y) if y.dtype.kind == "f" else y)

    def loss_and_grads(self, X: Tensor, y: Any) -> tuple[Tensor, list[Tensor]]:
        loss = self.model.loss(X, y)
        loss.backward()
        grads = [p.grad for p in self.params]
        for p in self.params:
            p.grad = None
        return loss, grads

    def update(self, grads: list[Tensor]) -> None:
        for p, g in zip(self.params, grads):
            p.data -= self.lr * g.data

    @staticmethod
    def to_numpy(value: Tensor) -> np.ndarray:
        return value.data


def chain(depth: int):
    x = Tensor(np.ones(CHAIN_SIZE), requires_grad=True)
    y = x
    for _ in range(depth):
        y = y * CHAIN_FACTOR
    out = y.sum()
    del y

    def backward() -> np.ndarray:
        out.backward()
        return x.grad.data

    return backward
