"""scikit-learn estimators around the models, so they work in Pipeline, cross_val_score and GridSearchCV.

With the same ``C`` they minimise scikit-learn's ``LogisticRegression`` objective
(as of 1.9: mean log-loss + ||W||²/(2·C·n), intercept unpenalised; binary problems
use one weight vector, multiclass the full multinomial W), i.e. ``model.loss`` with
``l2 = 1/(C·n)``. The full-batch solvers start from zeros, as scikit-learn does.

- ``LogisticRegressionClassifier`` is binary only: more than two classes raise a
  ValueError pointing to ``SoftmaxRegressionClassifier`` (one-vs-rest would not be
  scikit-learn's multinomial objective).
- ``SoftmaxRegressionClassifier`` always fits one weight column per class, also for
  two classes (then it is the multinomial, not the binary, objective).
- ``MLPClassifier`` exposes ``coefs_``/``intercepts_`` (one per layer) as scikit-learn's does.

Solvers: "newton" (Newton-CG on the framework's own Hessian-vector products, see
``solvers.newton_cg``), "lbfgs" (SciPy), and the minibatch "adam" and "sgd", trained
by ``train.fit``: ``max_iter`` counts epochs and ``tol`` stops training once the epoch
loss has not improved by ``tol`` for 10 epochs (as in scikit-learn's MLPClassifier).
"sgd" takes scikit-learn's MLPClassifier ``momentum`` (0.9) and ``nesterovs_momentum``
(True); ``momentum=0`` is plain gradient descent (Nesterov then has nothing to act on).
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from . import optim, solvers, train
from .autograd import no_grad
from .models import MLP, LogisticRegression, Model, SoftmaxRegression
from .tensor import Tensor

N_ITER_NO_CHANGE = 10  # stochastic solvers: epochs without a tol improvement before stopping


class _Classifier(ClassifierMixin, BaseEstimator, ABC):
    """Validation, label encoding, the solvers and prediction; subclasses build the model."""

    _solvers: tuple[str, ...] = ("newton", "lbfgs", "adam", "sgd")

    @abstractmethod
    def _make_model(self, n_features: int, n_classes: int, seed: int) -> Model:
        """The untrained model for this estimator's parameters."""

    def _targets(self, codes: np.ndarray) -> np.ndarray:
        """Labels as the model's loss wants them (class indices 0..K-1 by default)."""
        return codes

    def _check_target(self, y: np.ndarray) -> None:
        """Refuse targets this classifier cannot fit (after scikit-learn's own checks)."""

    def _check_params(self) -> None:
        name = type(self).__name__
        if self.solver not in self._solvers:
            raise ValueError(f"{name}: solver must be one of {self._solvers}, got {self.solver!r}")
        for param, integer in (
            ("C", False),
            ("tol", False),
            ("learning_rate", False),
            ("max_iter", True),
            ("batch_size", True),
        ):
            value = getattr(self, param)
            kind = (int, np.integer) if integer else (int, float, np.integer, np.floating)
            if isinstance(value, bool) or not isinstance(value, kind) or not (math.isfinite(value) and value > 0):
                what = "an integer >= 1" if integer else "a finite number > 0"
                raise ValueError(f"{name}: {param} must be {what}, got {value!r}")
        momentum = self.momentum
        is_number = isinstance(momentum, int | float | np.integer | np.floating) and not isinstance(momentum, bool)
        if not (is_number and 0 <= momentum < 1):
            raise ValueError(f"{name}: momentum must be a number in [0, 1), got {momentum!r}")
        if not isinstance(self.nesterovs_momentum, bool | np.bool_):
            raise ValueError(f"{name}: nesterovs_momentum must be True or False, got {self.nesterovs_momentum!r}")

    def fit(self, X: Any, y: Any) -> _Classifier:
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        check_classification_targets(y)
        self._check_target(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__}: needs samples of at least 2 classes, "
                f"but the data contains only one class: {self.classes_[0]!r}"
            )
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        model = self._make_model(X.shape[1], len(self.classes_), seed)
        if not getattr(self, "fit_intercept", True):
            model.b.requires_grad_(False)
        l2 = 1.0 / (self.C * X.shape[0])
        if self.solver in ("newton", "lbfgs"):
            n_iter, converged = self._solve_full_batch(model, X, self._targets(codes), l2)
        else:
            n_iter, converged = self._solve_minibatch(model, X, codes, l2, seed)
        if not converged:
            warnings.warn(
                f"{type(self).__name__}: solver {self.solver!r} did not converge in max_iter={self.max_iter} "
                "iterations; increase max_iter or scale the data",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.model_, self.n_iter_ = model, n_iter
        self._set_fitted_attributes(model)
        return self

    def _solve_full_batch(self, model: Model, X: np.ndarray, target: np.ndarray, l2: float) -> tuple[int, bool]:
        if self._zero_init:
            for p in model.parameters():
                p.data[...] = 0
        if self.solver == "lbfgs":
            result = solvers.lbfgs(model, X, target, l2=l2, tol=self.tol, max_iter=self.max_iter)
        else:
            result = solvers.newton_cg(model, X, target, l2=l2, tol=self.tol, max_iter=self.max_iter)
        return result.n_iter, result.converged

    def _solve_minibatch(
        self, model: Model, X: np.ndarray, codes: np.ndarray, l2: float, seed: int
    ) -> tuple[int, bool]:
        """``train.fit`` on the same penalised objective (an unbiased estimate per batch); converged: stopped on tol."""
        params = [p for p in model.parameters() if p.requires_grad]
        if self.solver == "adam":
            optimizer: optim.Optimizer = optim.Adam(params, lr=self.learning_rate)
        else:
            nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
            optimizer = optim.SGD(params, lr=self.learning_rate, momentum=self.momentum, nesterov=nesterov)
        try:
            history = train.fit(
                model, X, codes, optimizer=optimizer, epochs=self.max_iter, batch_size=self.batch_size, seed=seed,
                l2=l2, progress=False, tol=self.tol, patience=N_ITER_NO_CHANGE,
            )  # fmt: skip
        except FloatingPointError as e:  # name the estimator, not the function it calls
            raise FloatingPointError(f"{type(self).__name__}: {str(e).removeprefix('fit: ')}") from None
        return history.epochs, history.stopped_early

    def _logits(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        with no_grad():
            return self.model_(Tensor(X)).data

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        logits = self._logits(X)
        with no_grad():
            return self.model_.proba(Tensor(logits)).data

    def predict(self, X: Any) -> np.ndarray:
        best = self.predict_proba(X).argmax(axis=1)
        return self.classes_[best]


class _LinearClassifier(_Classifier):
    """The two linear models share their parameters (scikit-learn reads them from this signature)."""

    _zero_init = True

    def __init__(
        self,
        C: float = 1.0,
        fit_intercept: bool = True,
        solver: str = "newton",
        max_iter: int = 100,
        tol: float = 1e-4,
        learning_rate: float = 0.01,
        batch_size: int = 200,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.C = C
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.random_state = random_state

    def decision_function(self, X: Any) -> np.ndarray:
        """The logits (n, n_classes); for two classes the margin of classes_[1], shape (n,), as scikit-learn wants."""
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if logits.ndim == 2 and logits.shape[1] == 2 else logits


class LogisticRegressionClassifier(_LinearClassifier):
    """Binary logistic regression, p(y = classes_[1] | x) = σ(x·w + b)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _check_target(self, y: np.ndarray) -> None:
        y_type = type_of_target(y, input_name="y")
        if y_type != "binary":
            raise ValueError(
                f"Only binary classification is supported. The type of the target is {y_type}; "
                "use SoftmaxRegressionClassifier for more than two classes."
            )

    def _make_model(self, n_features: int, n_classes: int, seed: int) -> Model:
        return LogisticRegression(n_features, seed=seed)

    def _targets(self, codes: np.ndarray) -> np.ndarray:
        return codes.astype(np.float64)

    def _set_fitted_attributes(self, model: Model) -> None:
        self.coef_ = model.w.data[None, :].copy()
        self.intercept_ = model.b.data.reshape(1).copy()
        self.n_iter_ = np.array([self.n_iter_], dtype=np.int32)

    def predict_proba(self, X: Any) -> np.ndarray:
        p = super().predict_proba(X)
        return np.column_stack([1 - p, p])


class SoftmaxRegressionClassifier(_LinearClassifier):
    """Multinomial logistic regression, p(y = classes_[k] | x) = softmax(x W + b)_k."""

    def _make_model(self, n_features: int, n_classes: int, seed: int) -> Model:
        return SoftmaxRegression(n_features, n_classes, seed=seed)

    def _set_fitted_attributes(self, model: Model) -> None:
        self.coef_ = model.W.data.T.copy()
        self.intercept_ = model.b.data.copy()
        self.n_iter_ = np.array([self.n_iter_], dtype=np.int32)


class MLPClassifier(_Classifier):
    """A multilayer perceptron with ``hidden_layer_sizes`` and a softmax output (one unit per class)."""

    _solvers = ("adam", "sgd", "lbfgs")
    _zero_init = False  # zeros are a saddle point of an MLP: keep the seeded initialisation

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (10,),
        activation: str = "tanh",
        C: float = 1.0,
        solver: str = "adam",
        max_iter: int = 200,
        tol: float = 1e-4,
        learning_rate: float = 0.01,
        batch_size: int = 200,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.C = C
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.random_state = random_state

    def _make_model(self, n_features: int, n_classes: int, seed: int) -> Model:
        hidden = self.hidden_layer_sizes
        hidden = (hidden,) if isinstance(hidden, int | np.integer) else hidden
        return MLP([n_features, *hidden, n_classes], activation=self.activation, seed=seed)

    def _set_fitted_attributes(self, model: Model) -> None:
        layers = len(model.sizes) - 1
        self.coefs_ = [getattr(model, f"W{i}").data.copy() for i in range(layers)]
        self.intercepts_ = [getattr(model, f"b{i}").data.copy() for i in range(layers)]
