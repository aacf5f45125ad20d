"""Logistic regression, softmax regression and the MLP: each forward pass is one expression.

``loss(X, y, l2=λ)`` is the mean log-loss over *samples* plus ``λ/2·||W||²`` on
the weights (biases are not penalised). scikit-learn's ``C`` is ``λ = 1/(C·n)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import functional as F
from .autograd import no_grad
from .tensor import Tensor


def _count(value: Any, name: str, model: str) -> int:
    """A layer size: an integer >= 1 (not 2.5 silently truncated, not 0)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{model}: {name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{model}: {name} must be >= 1, got {value}")
    return int(value)


class Model(ABC):
    """What every model shares: its parameters, predictions and the penalised loss."""

    n_features: int

    def named_parameters(self) -> dict[str, Tensor]:
        return {name: p for name, p in vars(self).items() if isinstance(p, Tensor)}

    def parameters(self) -> list[Tensor]:
        return list(self.named_parameters().values())

    def weights(self) -> list[Tensor]:
        """The parameters that L2 penalises (not the biases)."""
        return [p for name, p in self.named_parameters().items() if not name.startswith("b")]

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Constructor arguments: enough to rebuild the model (checkpoints)."""

    def __call__(self, X: Any) -> Tensor:
        X = X if isinstance(X, Tensor) else Tensor(X)
        if X.data.ndim != 2 or X.data.shape[1] != self.n_features:
            raise ValueError(
                f"{type(self).__name__}: expected X of shape (n_samples, {self.n_features}), got {X.shape}"
            )
        return self.forward(X)

    @abstractmethod
    def forward(self, X: Tensor) -> Tensor:
        """The logits, as one readable expression of X and the parameters."""

    @abstractmethod
    def data_loss(self, logits: Tensor, y: Any) -> Tensor:
        """Mean log-loss of ``logits`` against the labels ``y``, unpenalised."""

    def penalty(self, l2: float) -> Tensor | float:
        """``λ/2·||W||²`` over ``weights()`` (the one place this formula is written); 0.0 when ``l2`` is 0."""
        return 0.5 * l2 * F.l2(self.weights()) if l2 else 0.0

    def loss(self, X: Any, y: Any, l2: float = 0.0) -> Tensor:
        total = self.data_loss(self(X), y)
        return total + self.penalty(l2) if l2 else total

    def predict_proba(self, X: Any) -> np.ndarray:
        with no_grad():
            return self.proba(self(X)).data

    @abstractmethod
    def proba(self, logits: Tensor) -> Tensor:
        """Class probabilities from logits, as a Tensor."""

    @abstractmethod
    def predict(self, X: Any) -> np.ndarray:
        """Integer class labels for ``X``."""

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def __repr__(self) -> str:
        """``MLP(sizes=[2, 3, 2], activation='tanh'): W0 (2, 3), b0 (3,), …; 17 float64 parameters``."""
        config = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        params = self.named_parameters()
        shapes = ", ".join(f"{name} {p.shape}" + ("" if p.requires_grad else " frozen") for name, p in params.items())
        dtype = next(iter(params.values())).dtype if params else ""
        return f"{type(self).__name__}({config}): {shapes}; {sum(p.size for p in params.values())} {dtype} parameters"


def _init(shape: tuple[int, ...], fan_in: int, rng: np.random.Generator, dtype: Any, name: str) -> Tensor:
    """Normal entries scaled by 1/sqrt(fan_in), so activations keep unit scale."""
    data = (rng.standard_normal(shape) / np.sqrt(max(fan_in, 1))).astype(dtype)
    return Tensor(data, requires_grad=True, name=name)


def _zeros(shape: tuple[int, ...], dtype: Any, name: str) -> Tensor:
    return Tensor(np.zeros(shape, dtype=dtype), requires_grad=True, name=name)


class LogisticRegression(Model):
    """p(y=1 | x) = σ(x·w + b)."""

    def __init__(self, n_features: int, seed: int | None = 0, dtype: Any = np.float64) -> None:
        self.n_features = _count(n_features, "n_features", "LogisticRegression")
        rng = np.random.default_rng(seed)
        self.w = _init((self.n_features,), self.n_features, rng, dtype, "w")
        self.b = _zeros((), dtype, "b")

    def config(self) -> dict[str, Any]:
        return {"n_features": self.n_features}

    def forward(self, X: Tensor) -> Tensor:
        return X @ self.w + self.b

    def data_loss(self, logits: Tensor, y: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, y)

    def proba(self, logits: Tensor) -> Tensor:
        return logits.sigmoid()

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X) >= 0.5).astype(np.int64)


class SoftmaxRegression(Model):
    """p(y=k | x) = softmax(x W + b)_k, per row."""

    def __init__(self, n_features: int, n_classes: int, seed: int | None = 0, dtype: Any = np.float64) -> None:
        self.n_features = _count(n_features, "n_features", "SoftmaxRegression")
        self.n_classes = _count(n_classes, "n_classes", "SoftmaxRegression")
        rng = np.random.default_rng(seed)
        self.W = _init((self.n_features, self.n_classes), self.n_features, rng, dtype, "W")
        self.b = _zeros((self.n_classes,), dtype, "b")

    def config(self) -> dict[str, Any]:
        return {"n_features": self.n_features, "n_classes": self.n_classes}

    def forward(self, X: Tensor) -> Tensor:
        return X @ self.W + self.b

    def data_loss(self, logits: Tensor, y: Any) -> Tensor:
        return F.cross_entropy(logits, y)

    def proba(self, logits: Tensor) -> Tensor:
        return F.softmax(logits, axis=1)

    def predict(self, X: Any) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)


ACTIVATIONS = {"tanh": Tensor.tanh, "relu": Tensor.relu, "sigmoid": Tensor.sigmoid}


class MLP(SoftmaxRegression):
    """sizes = (n_features, hidden..., n_classes); hidden layers use ``activation``."""

    def __init__(
        self, sizes: Sequence[int], activation: str = "tanh", seed: int | None = 0, dtype: Any = np.float64
    ) -> None:
        if isinstance(sizes, str) or not isinstance(sizes, Sequence | np.ndarray):
            raise TypeError(f"MLP: sizes must be a sequence of integers (n_features, ..., n_classes), got {sizes!r}")
        if not all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in sizes):
            raise TypeError(f"MLP: sizes must be integers, got {list(sizes)!r}")
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"MLP: sizes must be at least (n_features, n_classes), all >= 1; got {sizes}")
        if sizes[-1] == 1:  # a sigmoid head is LogisticRegression's job; the MLP's is softmax
            raise ValueError(
                f"MLP: sizes {sizes} end in 1 output, but the MLP has one output per class (softmax); "
                f"for binary labels use 2 outputs, MLP({sizes[:-1] + [2]}), or LogisticRegression"
            )
        if activation not in ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        self.sizes, self.activation = sizes, activation
        self.n_features, self.n_classes = sizes[0], sizes[-1]
        rng = np.random.default_rng(seed)
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            setattr(self, f"W{i}", _init((fan_in, fan_out), fan_in, rng, dtype, f"W{i}"))
            setattr(self, f"b{i}", _zeros((fan_out,), dtype, f"b{i}"))

    def config(self) -> dict[str, Any]:
        return {"sizes": self.sizes, "activation": self.activation}

    def forward(self, X: Tensor) -> Tensor:
        act = ACTIVATIONS[self.activation]
        h = X
        for i in range(len(self.sizes) - 1):
            h = h @ getattr(self, f"W{i}") + getattr(self, f"b{i}")
            if i < len(self.sizes) - 2:
                h = act(h)
        return h
