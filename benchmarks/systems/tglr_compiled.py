"""tinygrad_lr with ``tg.compile``: the same step as ``tglr`` (SGD's update), recorded once and replayed."""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_lr as tg
from tinygrad_lr import optim

from . import tglr
from .tglr import VERSION, chain  # noqa: F401 (the system's version; the chain is eager either way)


def note() -> str:
    return "tg.compile over zero_grad, loss, backward and optim.SGD(lr).step(); replays after two recordings"


class SystemTrainer(tglr.SystemTrainer):
    def __init__(self, kind: str, params: dict[str, np.ndarray], lr: float) -> None:
        super().__init__(kind, params, lr)
        self.optimizer = optim.SGD(self.params, lr=lr)
        self.compiled = tg.compile(self._step, strict=True)

    def prepare(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return X, y  # arrays: the tape reads them as arguments

    def _step(self, X: np.ndarray, y: np.ndarray) -> tg.Tensor:
        self.optimizer.zero_grad()
        loss = self.model.loss(X, y)
        loss.backward()
        self.optimizer.step()
        return loss

    def step(self, X: Any, y: Any) -> Any:
        return self.compiled(X, y)
