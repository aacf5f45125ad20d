"""Each built-in model's parameter gradients checked two ways: closed form and finite differences.

The experiment behind ``tinygrad-lr gradcheck``: on small random non-square data
(so a missing transpose cannot hide), every parameter's autograd gradient of
``model.loss`` is compared with the hand-derived one (:mod:`tinygrad_lr.reference`)
and with central differences (:func:`tinygrad_lr.gradcheck.numerical_grad`), and
the second order (Hessian-vector products) with :func:`tinygrad_lr.gradcheck.check_model`.
Both difference checks differentiate a closure over the model's own parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import models, reference
from .gradcheck import GradcheckError, check_model, numerical_grad
from .tensor import Tensor

MODELS = ("logistic", "softmax", "mlp")
ATOL, RTOL = 1e-7, 1e-5  # gradcheck's defaults: |autograd - numerical| <= atol + rtol·|numerical|
REFERENCE_RTOL = 1e-10  # autograd and the closed forms differ only by rounding
N_SAMPLES, N_FEATURES, N_CLASSES, N_HIDDEN = 7, 5, 3, 4


@dataclass
class GradientRow:
    """One parameter's check: the largest absolute differences and whether both are in tolerance."""

    model: str
    parameter: str
    shape: tuple[int, ...]
    reference: float  # max |autograd - closed form|
    numerical: float  # max |autograd - central differences|
    ok: bool


def small_problem(kind: str, seed: int = 0) -> tuple[models.Model, np.ndarray, np.ndarray]:
    """A freshly initialised ``kind`` model and 7 random rows of 5 features (labels of 3 classes, 2 for logistic)."""
    if kind not in MODELS:
        raise ValueError(f"small_problem: unknown model {kind!r}; expected one of {', '.join(MODELS)}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES))
    if kind == "logistic":
        return models.LogisticRegression(N_FEATURES, seed=seed), X, rng.integers(0, 2, N_SAMPLES).astype(np.float64)
    y = rng.integers(0, N_CLASSES, N_SAMPLES)
    if kind == "softmax":
        return models.SoftmaxRegression(N_FEATURES, N_CLASSES, seed=seed), X, y
    return models.MLP([N_FEATURES, N_HIDDEN, N_CLASSES], activation="tanh", seed=seed), X, y


def closed_form_grads(model: models.Model, X: np.ndarray, y: np.ndarray, l2: float) -> dict[str, np.ndarray]:
    """The hand-derived gradient of ``model.loss`` (tinygrad_lr.reference), by parameter name."""
    if isinstance(model, models.MLP):
        n_layers = len(model.sizes) - 1
        Ws = [getattr(model, f"W{i}").data for i in range(n_layers)]
        bs = [getattr(model, f"b{i}").data for i in range(n_layers)]
        gW, gb = reference.mlp_grad(X, y, Ws, bs, l2=l2, activation=model.activation)
        return {**{f"W{i}": g for i, g in enumerate(gW)}, **{f"b{i}": g for i, g in enumerate(gb)}}
    if isinstance(model, models.SoftmaxRegression):
        gW, gb = reference.softmax_grad(X, y, model.W.data, model.b.data, l2=l2)
        return {"W": gW, "b": gb}
    gw, gb = reference.logistic_grad(X, y, model.w.data, model.b.data, l2=l2)
    return {"w": gw, "b": gb}


def gradcheck_rows(kind: str, seed: int = 0, l2: float = 0.1) -> list[GradientRow]:
    """Per parameter of a small ``kind`` model: autograd vs the closed form and vs central differences."""
    model, X, y = small_problem(kind, seed)
    params = model.named_parameters()
    names = list(params)

    def loss_of(*_params: Tensor) -> Tensor:  # a closure, as users write it: gradcheck perturbs the tensors
        return model.loss(X, y, l2=l2)

    originals = [params[n] for n in names]
    loss_of().backward()
    autograd = {n: params[n].grad.data for n in names}
    closed = closed_form_grads(model, X, y, l2)
    numerical = numerical_grad(loss_of, originals)
    rows = []
    for name, num in zip(names, numerical):
        a, ref = autograd[name], closed[name]
        ref_ok = np.max(np.abs(a - ref)) <= REFERENCE_RTOL * max(1.0, float(np.max(np.abs(ref))))
        num_ok = bool(np.all(np.abs(a - num) <= ATOL + RTOL * np.abs(num)))
        rows.append(
            GradientRow(
                kind,
                name,
                params[name].shape,
                float(np.max(np.abs(a - ref))),
                float(np.max(np.abs(a - num))),
                bool(ref_ok and num_ok),
            )
        )
    return rows


def second_order_failure(kind: str, seed: int = 0, l2: float = 0.1) -> str | None:
    """``check_model`` (first and second order) on the same small problem: None, or the first line of its report."""
    model, X, y = small_problem(kind, seed)
    try:
        check_model(model, X, y, l2=l2, batch=N_SAMPLES)
    except GradcheckError as e:
        return str(e).splitlines()[0]
    return None
