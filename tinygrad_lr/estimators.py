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

The minibatch solvers also learn incrementally (``partial_fit``, one pass per call) and
read an ``np.memmap`` or a ``dask.array`` block by block (``tinygrad_lr.streaming``), so
the data may be bigger than memory; see docs/scaling.md.
"""

from __future__ import annotations

import copy
import warnings
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d, validate_data

from . import optim, solvers, streaming, train
from .autograd import no_grad
from .models import MLP, LogisticRegression, Model, SoftmaxRegression
from .tensor import Tensor
from .validation import check_bool, check_int, check_number

N_ITER_NO_CHANGE = 10  # stochastic solvers: epochs without a tol improvement before stopping
FLOAT_DTYPES = (np.float64, np.float32)  # float32 data stays float32 (and so does the model); the rest becomes float64
MINIBATCH_SOLVERS = ("adam", "sgd")


class _Classifier(ClassifierMixin, BaseEstimator, ABC):
    """Validation, label encoding, the solvers and prediction; subclasses build the model."""

    _solvers: tuple[str, ...] = ("newton", "lbfgs", "adam", "sgd")
    _default_max_iter = 100

    @abstractmethod
    def _make_model(self, n_features: int, n_classes: int, seed: int, dtype: np.dtype) -> Model:
        """The untrained model for this estimator's parameters, computing in ``dtype`` (the data's)."""

    def _targets(self, codes: np.ndarray) -> np.ndarray:
        """Labels as the model's loss wants them (class indices 0..K-1 by default)."""
        return codes

    def _check_target(self, y: np.ndarray) -> None:
        """Refuse targets this classifier cannot fit (after scikit-learn's own checks)."""

    def _check_params(self) -> None:
        """scikit-learn's rule, with ours on kinds: a wrong kind is a TypeError, a wrong value a ValueError."""
        name = type(self).__name__
        if self.solver not in self._solvers:
            raise ValueError(f"{name}: solver must be one of {self._solvers}, got {self.solver!r}")
        for param in ("C", "tol", "learning_rate"):
            check_number(getattr(self, param), f"{name}: {param}", 0.0, low_open=True)
        for param in ("max_iter", "batch_size"):
            check_int(getattr(self, param), f"{name}: {param}")
        check_number(self.momentum, f"{name}: momentum", 0.0, 1.0)
        for param in ("nesterovs_momentum", "fit_intercept"):
            check_bool(getattr(self, param, True), f"{name}: {param}")

    def fit(self, X: Any, y: Any) -> _Classifier:
        self._check_params()
        X, y = self._check_data(X, y, reset=True)
        check_classification_targets(y)
        self._check_target(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__}: needs samples of at least 2 classes, "
                f"but the data contains only one class: {self.classes_[0]!r}"
            )
        seed = self._seed()
        model = self._new_model(X.shape[1], len(self.classes_), seed, X.dtype)
        l2 = 1.0 / (self.C * X.shape[0])
        optimizer = rng = None
        if self.solver in ("newton", "lbfgs"):
            n_iter, converged = self._solve_full_batch(model, X, self._targets(codes), l2)
        else:
            optimizer, rng = self._make_optimizer(model), np.random.default_rng(seed)
            n_iter, converged = self._solve_minibatch(model, optimizer, rng, X, codes, l2, self.max_iter)
        if not converged:
            warnings.warn(
                f"{type(self).__name__}: solver {self.solver!r} did not converge in max_iter={self.max_iter} "
                "iterations; increase max_iter or scale the data",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.model_, self.n_iter_, self._optimizer, self._rng = model, n_iter, optimizer, rng
        self._set_fitted_attributes(model)
        return self

    def _has_minibatch_solver(self) -> bool:
        """``partial_fit`` exists for the minibatch solvers only (as for scikit-learn's MLPClassifier)."""
        if self.solver not in MINIBATCH_SOLVERS:
            raise AttributeError(
                f"{type(self).__name__}: partial_fit needs a minibatch solver {MINIBATCH_SOLVERS}, "
                f"not solver={self.solver!r}"
            )
        return True

    @available_if(_has_minibatch_solver)
    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> _Classifier:
        """One pass over ``(X, y)`` in minibatches, continuing the model, optimizer and shuffling of the last call/fit.

        ``classes`` lists every label the stream can hold: required on the first call,
        checked against ``classes_`` when passed later. The first call is ``fit`` with
        ``max_iter=1``; each call penalises as ``fit`` would on its own rows
        (``l2 = 1/(C·len(X))``). A model fitted by a full-batch solver is not continued.
        """
        self._check_params()
        first = getattr(self, "_optimizer", None) is None
        X, y = self._check_data(X, y, reset=first)
        check_classification_targets(y)
        labels = self._stream_classes(classes, first)
        unknown = ~np.isin(y, labels)
        if unknown.any():
            raise ValueError(
                f"{type(self).__name__}: y holds {y[unknown][:1].tolist()[0]!r}, not one of classes {labels.tolist()}"
            )
        if first:
            seed = self._seed()
            model = self._new_model(X.shape[1], len(labels), seed, X.dtype)
            optimizer, rng, passes = self._make_optimizer(model), np.random.default_rng(seed), 0
        else:  # on copies: a call that fails midway (divergence, Ctrl-C) leaves the estimator as it was
            model, optimizer, rng = copy.deepcopy((self.model_, self._optimizer, self._rng))
            passes = int(np.max(self.n_iter_))
        codes = np.searchsorted(labels, y)
        self._solve_minibatch(model, optimizer, rng, X, codes, 1.0 / (self.C * X.shape[0]), epochs=1)
        self.classes_, self.model_, self.n_iter_, self._optimizer, self._rng = labels, model, passes + 1, optimizer, rng
        self._set_fitted_attributes(model)
        return self

    def _stream_classes(self, classes: Any, first: bool) -> np.ndarray:
        """The labels of a ``partial_fit`` stream: ``classes`` on the first call (required), ``classes_`` later."""
        name = type(self).__name__
        if not first:
            if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(
                    f"{name}: classes={np.unique(classes).tolist()} differ from {self.classes_.tolist()}, "
                    "the classes of the first partial_fit call"
                )
            return self.classes_
        if classes is None:
            raise ValueError(f"{name}: the first call to partial_fit needs classes=, every label the data can hold")
        labels = np.unique(column_or_1d(np.asarray(classes)))
        self._check_target(labels)
        if len(labels) < 2:
            raise ValueError(f"{name}: classes must hold at least 2 labels, got {labels.tolist()}")
        return labels

    def _check_data(self, X: Any, y: Any, reset: bool) -> tuple[Any, np.ndarray]:
        """scikit-learn's ``validate_data``, except for a memmap or dask array given to a minibatch solver.

        That one is left unread: ``train.fit`` checks its values and trains on it block by
        block (``streaming``); only its feature count is checked here, and ``y`` is read whole.
        """
        if self.solver not in MINIBATCH_SOLVERS or not streaming.is_blockwise(X):
            return validate_data(self, X, y, dtype=FLOAT_DTYPES, y_numeric=False, reset=reset)
        if reset:
            self.n_features_in_ = X.shape[1]
            vars(self).pop("feature_names_in_", None)
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {self.n_features_in_} "
                "features as input."
            )
        y = column_or_1d(np.asarray(y))
        check_consistent_length(X, y)
        return X, y

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _new_model(self, n_features: int, n_classes: int, seed: int, dtype: np.dtype) -> Model:
        """The model in the data's float dtype (float32 stays float32; anything else is float64)."""
        model = self._make_model(n_features, n_classes, seed, dtype if dtype in FLOAT_DTYPES else np.dtype(np.float64))
        if not getattr(self, "fit_intercept", True):
            model.b.requires_grad_(False)
        return model

    def _solve_full_batch(self, model: Model, X: np.ndarray, target: np.ndarray, l2: float) -> tuple[int, bool]:
        if self._zero_init:
            for p in model.parameters():
                p.data[...] = 0
        if self.solver == "lbfgs":
            result = solvers.lbfgs(model, X, target, l2=l2, tol=self.tol, max_iter=self.max_iter)
        else:
            result = solvers.newton_cg(model, X, target, l2=l2, tol=self.tol, max_iter=self.max_iter)
        return result.n_iter, result.converged

    def _make_optimizer(self, model: Model) -> optim.Optimizer:
        params = [p for p in model.parameters() if p.requires_grad]
        if self.solver == "adam":
            return optim.Adam(params, lr=self.learning_rate)
        nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
        return optim.SGD(params, lr=self.learning_rate, momentum=self.momentum, nesterov=nesterov)

    def _solve_minibatch(
        self, model: Model, optimizer: optim.Optimizer, rng: np.random.Generator, X: Any, codes: np.ndarray,
        l2: float, epochs: int,
    ) -> tuple[int, bool]:  # fmt: skip
        """``train.fit`` on the same penalised objective (an unbiased estimate per batch); converged: stopped on tol."""
        try:
            history = train.fit(
                model, X, codes, optimizer=optimizer, epochs=epochs, batch_size=self.batch_size, seed=rng,
                l2=l2, progress=False, tol=self.tol, patience=N_ITER_NO_CHANGE, compile=True,
            )  # fmt: skip
        except FloatingPointError as e:  # name the estimator, not the function it calls
            raise FloatingPointError(f"{type(self).__name__}: {str(e).removeprefix('fit: ')}") from None
        return history.epochs, history.stopped_early

    def _logits(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
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

    def _make_model(self, n_features: int, n_classes: int, seed: int, dtype: np.dtype) -> Model:
        return LogisticRegression(n_features, seed=seed, dtype=dtype)

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

    def _make_model(self, n_features: int, n_classes: int, seed: int, dtype: np.dtype) -> Model:
        return SoftmaxRegression(n_features, n_classes, seed=seed, dtype=dtype)

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

    def _make_model(self, n_features: int, n_classes: int, seed: int, dtype: np.dtype) -> Model:
        hidden = self.hidden_layer_sizes
        hidden = (hidden,) if isinstance(hidden, int | np.integer) else hidden
        return MLP([n_features, *hidden, n_classes], activation=self.activation, seed=seed, dtype=dtype)

    def _set_fitted_attributes(self, model: Model) -> None:
        self.coefs_ = [layer.W.data.copy() for layer in model.layers]
        self.intercepts_ = [layer.b.data.copy() for layer in model.layers]
