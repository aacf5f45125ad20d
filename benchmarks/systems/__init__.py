"""The systems under comparison, all behind one small ``Trainer`` interface.

A trainer owns the parameters of one model (``kind`` is ``"logistic"``,
``"softmax"`` or ``"mlp"``) in its library's own types and does one SGD step:
loss, gradients, in-place update. Every system starts from the same parameter
values, so the same data gives the same loss and gradients everywhere (the
tests check this), and the timings compare like with like.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

KINDS = ("logistic", "softmax", "mlp")
# The chain benchmark multiplies a vector by this factor ``depth`` times, then sums.
CHAIN_FACTOR = 1.0001
CHAIN_SIZE = 8

# name shown in tables -> module in this package
MODULES = {
    "numpy": "numpy_hand",
    "numpy-layout": "numpy_layout",
    "tinygrad_lr": "tglr",
    "tinygrad_lr-compiled": "tglr_compiled",
    "torch": "torch_eager",
    "jax": "jax_jit",
    "autograd": "hips_autograd",
    "mygrad": "mygrad_eager",
}
BASELINE = "numpy"


class Trainer(ABC):
    """One model's parameters and an SGD step, in one library."""

    def __init__(self, kind: str, params: dict[str, np.ndarray], lr: float) -> None:
        if kind not in KINDS:
            raise ValueError(f"Trainer: unknown model kind {kind!r}; choose from {KINDS}")
        self.kind, self.lr = kind, lr

    @abstractmethod
    def prepare(self, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        """The data in this library's own types (done once for full-batch work, per batch otherwise)."""

    def prepare_batch(self, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        """One minibatch's data for ``step``, made afresh per batch: ``prepare``, unless this library's
        users hand batches over another way (JAX: NumPy arrays straight into the jitted step)."""
        return self.prepare(X, y)

    @abstractmethod
    def loss_and_grads(self, X: Any, y: Any) -> tuple[Any, list[Any]]:
        """The mean loss and one gradient per parameter, in the library's own types."""

    @abstractmethod
    def update(self, grads: list[Any]) -> None:
        """p -= lr * g for every parameter, in place."""

    def step(self, X: Any, y: Any) -> Any:
        loss, grads = self.loss_and_grads(X, y)
        self.update(grads)
        return loss

    @staticmethod
    def to_numpy(value: Any) -> np.ndarray:
        """A loss or gradient as an ndarray (for checking, never inside a timed step)."""
        return np.asarray(value)


class System:
    """A loaded system module: its name, trainer class, chain benchmark and notes."""

    def __init__(self, name: str, module: ModuleType) -> None:
        self.name = name
        self.trainer: type[Trainer] = module.SystemTrainer
        # chain(depth) records the forward chain and returns the backward pass to time (None: not an autodiff system)
        self.chain: Callable[[int], Callable[[], Any]] | None = getattr(module, "chain", None)
        self.module = module
        self.version: str = module.VERSION

    @property
    def note(self) -> str:
        """How this system is set up (threads, update rule), when that needs saying."""
        return module_note() if (module_note := getattr(self.module, "note", None)) else ""


def load(names: list[str] | None = None) -> tuple[list[System], dict[str, str]]:
    """The systems that import, and for the others why they were skipped."""
    names = list(MODULES) if names is None else names
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        raise ValueError(f"unknown system(s) {unknown}; choose from {list(MODULES)}")
    if BASELINE not in names:
        names = [BASELINE, *names]  # every ratio is to hand-written NumPy
    systems, skipped = [], {}
    for name in names:
        try:
            module = importlib.import_module(f"{__name__}.{MODULES[name]}")
        except ImportError as e:
            skipped[name] = f"not importable ({e})"
            continue
        systems.append(System(name, module))
    return systems, skipped
