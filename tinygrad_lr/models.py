"""Logistic regression, softmax regression and the MLP: each forward pass is one expression.

A model is a list of :class:`Dense` layers (``model.layers``) and a ``forward`` that
composes them; everything else (parameters by name, the penalised loss, predictions,
``state_dict``) is shared by :class:`Model`, so a model of your own needs little more
than ``forward`` (see docs/models.md).

``loss(X, y, l2=λ)`` is the mean log-loss over *samples* plus ``λ/2·||W||²`` on
the weights (biases are not penalised). scikit-learn's ``C`` is ``λ = 1/(C·n)``.
Models compute in their parameters' dtype: ``model(X)`` casts ``X`` to it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from . import functional as F
from .autograd import no_grad
from .tensor import Tensor

HessianProduct = Callable[[list[np.ndarray]], list[np.ndarray]]


def _count(value: Any, name: str, model: str) -> int:
    """A layer size: an integer >= 1 (not 2.5 silently truncated, not 0)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{model}: {name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{model}: {name} must be >= 1, got {value}")
    return int(value)


class Dense:
    """One affine layer, ``x @ W + b``, with its two parameters named for checkpoints and graphs.

    ``W`` has shape ``(n_in, n_out)`` and ``b`` shape ``(n_out,)``; with ``n_out=None``
    they are a vector ``(n_in,)`` and a scalar (one logit per row, as logistic regression
    has). Weights are normal with scale ``1/sqrt(n_in)`` (activations keep unit scale),
    biases zero. ``rng`` is a seed or a ``np.random.Generator``.
    """

    __slots__ = ("W", "b", "names")

    def __init__(
        self,
        n_in: int,
        n_out: int | None,
        rng: int | np.random.Generator | None = 0,
        dtype: Any = np.float64,
        names: tuple[str, str] = ("W", "b"),
    ) -> None:
        n_in = _count(n_in, "n_in", "Dense")
        shape = (n_in,) if n_out is None else (n_in, _count(n_out, "n_out", "Dense"))
        weights = np.random.default_rng(rng).standard_normal(shape) / np.sqrt(n_in)
        self.names = names
        self.W = Tensor(weights.astype(dtype), requires_grad=True, name=names[0])
        self.b = Tensor(np.zeros(shape[1:], dtype=dtype), requires_grad=True, name=names[1])

    def __call__(self, x: Tensor) -> Tensor:
        return x @ self.W + self.b

    def named_parameters(self) -> dict[str, Tensor]:
        return dict(zip(self.names, (self.W, self.b)))

    def replace(self, name: str, value: Tensor) -> None:
        """Put ``value`` in place of the parameter called ``name`` (one of ``names``)."""
        setattr(self, "W" if name == self.names[0] else "b", value)

    def __repr__(self) -> str:
        return f"Dense({self.names[0]}: {self.W.shape}, {self.names[1]}: {self.b.shape}, {self.W.dtype})"


class Model(ABC):
    """What every model shares: parameters by name, the penalised loss, predictions, state.

    A subclass sets ``n_features`` and ``n_classes`` and its parameters (``self.layers``, a
    list of :class:`Dense`, and/or Tensor attributes) in ``__init__``, and defines ``forward``.
    The defaults are a softmax classifier over ``n_classes`` logits; override ``data_loss``
    and ``proba`` for another output (as :class:`LogisticRegression` does).
    """

    n_features: int
    n_classes: int
    layers: Sequence[Dense] = ()

    # ---- parameters ---------------------------------------------------------------------

    def named_parameters(self) -> dict[str, Tensor]:
        """Every layer's weight and bias, then every Tensor attribute, by name (checkpoints key on it)."""
        found = [item for layer in self.layers for item in layer.named_parameters().items()]
        found += [(name, value) for name, value in vars(self).items() if isinstance(value, Tensor)]
        named = dict(found)
        if len(named) < len(found):
            seen = [name for name, _ in found]
            twice = sorted({name for name in seen if seen.count(name) > 1})
            raise ValueError(
                f"{type(self).__name__}: two parameters are named {twice}; give each layer its own names=(...)"
            )
        return named

    def __getattr__(self, name: str) -> Tensor:
        """``model.W0``, ``model.w``, ``model.b``: a layer's parameter by its name (only after normal lookup failed)."""
        if not name.startswith("_"):
            for layer in self.layers:
                if name in layer.names:
                    return layer.named_parameters()[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        """``model.W0 = t`` replaces that layer's parameter (as ``model.W0`` reads it), not shadows it."""
        for layer in self.layers:
            if name in layer.names:
                layer.replace(name, value)
                return
        object.__setattr__(self, name, value)

    def parameters(self) -> list[Tensor]:
        return list(self.named_parameters().values())

    def weights(self) -> list[Tensor]:
        """The parameters that L2 penalises (not the biases, whose names start with ``b``)."""
        return [p for name, p in self.named_parameters().items() if not name.startswith("b")]

    @property
    def dtype(self) -> np.dtype:
        """The float dtype the model computes in: its (first) parameter's."""
        if self.layers:
            return self.layers[0].W._data.dtype
        params = self.parameters()
        if not params:
            raise ValueError(
                f"{type(self).__name__} has no parameters: set self.layers or Tensor attributes in __init__"
            )
        return params[0].data.dtype

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

    def config(self) -> dict[str, Any]:
        """Constructor arguments, enough to rebuild the model (checkpoints store them; JSON-able)."""
        return {}

    # ---- state ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's values, by name."""
        return {name: p.data.copy() for name, p in self.named_parameters().items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Copy ``state``'s arrays into the parameters in place; all are checked before any is written."""
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{where}: expected a dict of arrays by name, got {type(state).__name__}")
        params = self.named_parameters()
        missing, unexpected = [k for k in params if k not in state], [k for k in state if k not in params]
        if missing or unexpected:
            raise ValueError(f"{where}: missing parameters {missing}, unexpected {unexpected}")
        arrays = {}
        for name, p in params.items():
            value = state[name].data if isinstance(state[name], Tensor) else state[name]
            if not isinstance(value, np.ndarray):
                raise TypeError(f"{where}: {name} must be a NumPy array, got {type(value).__name__}")
            if value.shape != p.data.shape:
                raise ValueError(f"{where}: {name} has shape {value.shape}, the model's is {p.data.shape}")
            if value.dtype != p.data.dtype:
                raise ValueError(
                    f"{where}: {name} has dtype {value.dtype}, the model's is {p.data.dtype} "
                    f"(build the model with dtype=np.{value.dtype} or cast the array)"
                )
            arrays[name] = value
        with no_grad():  # in place, as an optimizer step: versions bump, so stale graphs refuse to backward
            for name, p in params.items():
                p[...] = arrays[name]

    # ---- forward and loss -------------------------------------------------------------------

    def __call__(self, X: Any) -> Tensor:
        """The logits of ``X``, computed in the model's dtype."""
        return self.forward(self.as_input(X))

    def as_input(self, X: Any) -> Tensor:
        """``X`` as a Tensor of the model's dtype (cast only when it differs) and shape (n, n_features)."""
        dtype = self.dtype  # one call per step: the checks read ._data, not the .data property
        if not isinstance(X, Tensor):
            X = Tensor(X) if type(X) is np.ndarray and X.dtype == dtype else Tensor(X, dtype=dtype)
        elif X._data.dtype != dtype:
            X = X.astype(dtype)
        shape = X._data.shape
        if len(shape) != 2 or shape[1] != self.n_features:
            raise ValueError(
                f"{type(self).__name__}: expected X of shape (n_samples, {self.n_features}), got {X.shape}"
            )
        return X

    @abstractmethod
    def forward(self, X: Tensor) -> Tensor:
        """The logits, as one readable expression of X and the parameters."""

    def data_loss(self, logits: Tensor, y: Any) -> Tensor:
        """Mean log-loss of ``logits`` against the labels ``y``, unpenalised (softmax cross-entropy)."""
        return F.cross_entropy(logits, y)

    def penalty(self, l2: float) -> Tensor | float:
        """``λ/2·||W||²`` over ``weights()`` (the one place this formula is written); 0.0 when ``l2`` is 0."""
        return 0.5 * l2 * F.l2(self.weights()) if l2 else 0.0

    def objective(self, logits: Tensor, y: Any, l2: float = 0.0) -> Tensor:
        """What training minimises: ``data_loss + penalty`` (``loss``, ``fit`` and the solvers all use this)."""
        loss = self.data_loss(logits, y)
        return loss + self.penalty(l2) if l2 else loss

    def loss(self, X: Any, y: Any, l2: float = 0.0) -> Tensor:
        return self.objective(self(X), y, l2)

    def hessian_product(self, X: Any, l2: float = 0.0) -> HessianProduct | None:
        """``[v per parameter] -> [H v per parameter]`` of ``loss(X, y, l2)`` in closed form; None if unknown.

        Directions and products are arrays in ``parameters()`` order. Newton-CG's
        ``hvp="closed_form"`` uses it (as scikit-learn's ``LinearModelLoss.gradient_hessian_product``).
        """
        return None

    # ---- predictions --------------------------------------------------------------------------

    def proba(self, logits: Tensor) -> Tensor:
        """Class probabilities from logits, as a Tensor (softmax over each row)."""
        return F.softmax(logits, axis=1)

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._probabilities(X, "predict_proba")

    def predict(self, X: Any) -> np.ndarray:
        """Integer class labels: the most probable class (p >= 0.5 for a single probability per row)."""
        p = self._probabilities(X, "predict")
        return p.argmax(axis=1) if p.ndim == 2 else (p >= 0.5).astype(np.int64)

    def _probabilities(self, X: Any, op: str) -> np.ndarray:
        """``proba`` as an array, refusing rows with NaN/inf (they would get an arbitrary class)."""
        values = X.data if isinstance(X, Tensor) else np.asarray(X)
        if values.ndim == 2 and values.dtype.kind in "fc":
            rows = np.flatnonzero(~np.isfinite(values).all(axis=1))
            if rows.size:
                shown = ", ".join(map(str, rows[:10])) + (", ..." if rows.size > 10 else "")
                raise ValueError(
                    f"{type(self).__name__}.{op}: X has NaN or inf in {rows.size} of {len(values)} rows "
                    f"(rows {shown}); clean or drop them first"
                )
        with no_grad():
            return self.proba(self(X)).data


def _one_layer_hessian_product(
    model: Model, X: Any, l2: float, curvature: Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]]
) -> HessianProduct:
    """H v for ``x @ W + b`` under a log-loss: direction U = X v_W + v_b on the logits, back through Xᵀ.

    ``curvature(p)`` gives ``U -> (d²loss/dlogits²) U`` at the probabilities ``p`` (divided by n);
    the penalty adds ``λ v_W``. y drops out: the log-loss's curvature depends on p only.
    """
    x = model.as_input(X)
    with no_grad():
        on_logits = curvature(model.proba(model.forward(x)).data)
    x = x.data

    def product(v: list[np.ndarray]) -> list[np.ndarray]:
        v_w, v_b = v
        hu = on_logits(x @ v_w + v_b)
        return [x.T @ hu + l2 * v_w, hu.sum(axis=0)]

    return product


class LogisticRegression(Model):
    """p(y=1 | x) = σ(x·w + b)."""

    n_classes = 2

    def __init__(self, n_features: int, seed: int | None = 0, dtype: Any = np.float64) -> None:
        self.n_features = _count(n_features, "n_features", "LogisticRegression")
        self.layers = [Dense(self.n_features, None, seed, dtype, names=("w", "b"))]

    @property
    def w(self) -> Tensor:
        return self.layers[0].W

    @property
    def b(self) -> Tensor:
        return self.layers[0].b

    def config(self) -> dict[str, Any]:
        return {"n_features": self.n_features}

    def forward(self, X: Tensor) -> Tensor:
        return X @ self.w + self.b

    def data_loss(self, logits: Tensor, y: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, y)

    def proba(self, logits: Tensor) -> Tensor:
        return logits.sigmoid()

    def hessian_product(self, X: Any, l2: float = 0.0) -> HessianProduct:
        """H = Xᵀ diag(σ(1-σ)) X / n, plus λ on w."""

        def curvature(p: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
            c = p * (1 - p) / len(p)
            return lambda u: c * u

        return _one_layer_hessian_product(self, X, l2, curvature)


class SoftmaxRegression(Model):
    """p(y=k | x) = softmax(x W + b)_k, per row."""

    def __init__(self, n_features: int, n_classes: int, seed: int | None = 0, dtype: Any = np.float64) -> None:
        self.n_features = _count(n_features, "n_features", "SoftmaxRegression")
        self.n_classes = _count(n_classes, "n_classes", "SoftmaxRegression")
        self.layers = [Dense(self.n_features, self.n_classes, seed, dtype)]

    @property
    def W(self) -> Tensor:
        return self.layers[0].W

    @property
    def b(self) -> Tensor:
        return self.layers[0].b

    def config(self) -> dict[str, Any]:
        return {"n_features": self.n_features, "n_classes": self.n_classes}

    def forward(self, X: Tensor) -> Tensor:
        return X @ self.W + self.b

    def hessian_product(self, X: Any, l2: float = 0.0) -> HessianProduct:
        """Per row, the softmax curvature acts on a logit direction u as ``p ⊙ u - p · (p·u)``, over n."""

        def curvature(p: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
            def on_logits(u: np.ndarray) -> np.ndarray:
                pu = p * u
                return (pu - p * pu.sum(axis=1, keepdims=True)) / len(p)

            return on_logits

        return _one_layer_hessian_product(self, X, l2, curvature)


ACTIVATIONS = {"tanh": Tensor.tanh, "relu": Tensor.relu, "sigmoid": Tensor.sigmoid}


def _sizes(sizes: Any) -> list[int]:
    """(n_features, hidden..., n_classes): integers >= 1, at least two outputs."""
    if isinstance(sizes, str) or not isinstance(sizes, Sequence | np.ndarray):
        raise TypeError(f"MLP: sizes must be a sequence of integers (n_features, ..., n_classes), got {sizes!r}")
    if not all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in sizes):
        raise TypeError(f"MLP: sizes must be integers, got {list(sizes)!r}")
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"MLP: sizes must be at least (n_features, n_classes), all >= 1; got {sizes}")
    if sizes[-1] == 1:
        raise ValueError(
            f"MLP: sizes {sizes} end in 1 output, but the output is a softmax over classes (one class "
            "is always probability 1); use 2 outputs for two classes, or LogisticRegression for one sigmoid output"
        )
    return sizes


class MLP(Model):
    """sizes = (n_features, hidden..., n_classes): Dense layers with ``activation`` between, softmax output."""

    def __init__(
        self, sizes: Sequence[int], activation: str = "tanh", seed: int | None = 0, dtype: Any = np.float64
    ) -> None:
        sizes = _sizes(sizes)
        if activation not in ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        self.sizes, self.activation = sizes, activation
        self.n_features, self.n_classes = sizes[0], sizes[-1]
        rng = np.random.default_rng(seed)
        shapes = zip(sizes[:-1], sizes[1:])
        self.layers = [Dense(n_in, n_out, rng, dtype, (f"W{i}", f"b{i}")) for i, (n_in, n_out) in enumerate(shapes)]

    def config(self) -> dict[str, Any]:
        return {"sizes": self.sizes, "activation": self.activation}

    def forward(self, X: Tensor) -> Tensor:
        act = ACTIVATIONS[self.activation]
        h = X
        for layer in self.layers[:-1]:
            h = act(layer(h))
        return self.layers[-1](h)
