"""PyTorch eager (CPU): the same expressions with ``torch.nn.functional`` losses.

Its intra-op thread count is set to NumPy's BLAS thread count, so neither side
gets more cores than the other.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..machine import blas_threads
from . import CHAIN_FACTOR, CHAIN_SIZE, Trainer

VERSION = torch.__version__
_threads = blas_threads()
if _threads:
    torch.set_num_threads(_threads)


def note() -> str:
    matched = "as many as NumPy's BLAS" if torch.get_num_threads() == _threads else "NumPy's BLAS threads unknown"
    return (
        f"torch.set_num_threads({torch.get_num_threads()}) ({matched}); float64 where the workload is float64; "
        "update: p.sub_(lr * g) under no_grad"
    )


def logistic(params: list[torch.Tensor], X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    w, b = params
    return F.binary_cross_entropy_with_logits(X @ w + b, y)


def softmax(params: list[torch.Tensor], X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    W, b = params
    return F.cross_entropy(X @ W + b, y)


def mlp(params: list[torch.Tensor], X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    W0, b0, W1, b1 = params
    return F.cross_entropy(torch.tanh(X @ W0 + b0) @ W1 + b1, y)


LOSSES = {"logistic": logistic, "softmax": softmax, "mlp": mlp}


class SystemTrainer(Trainer):
    def __init__(self, kind: str, params: dict[str, np.ndarray], lr: float) -> None:
        super().__init__(kind, params, lr)
        self.params = [torch.tensor(v, requires_grad=True) for v in params.values()]
        self.loss_fn = LOSSES[kind]

    def prepare(self, X: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(X), torch.from_numpy(y)

    def loss_and_grads(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        loss = self.loss_fn(self.params, X, y)
        loss.backward()
        grads = [p.grad for p in self.params]
        for p in self.params:
            p.grad = None
        return loss, grads

    def update(self, grads: list[torch.Tensor]) -> None:
        with torch.no_grad():
            for p, g in zip(self.params, grads):
                p.sub_(self.lr * g)

    @staticmethod
    def to_numpy(value: torch.Tensor) -> np.ndarray:
        return value.detach().numpy()


def chain(depth: int):
    x = torch.ones(CHAIN_SIZE, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(depth):
        y = y * CHAIN_FACTOR
    out = y.sum()
    del y

    def backward() -> torch.Tensor:
        out.backward()
        return x.grad

    return backward
