"""The iris learning-rate sweep: test accuracy and log-loss per learning rate and test fraction.

Binary iris (classes 0 and 1), ``StandardScaler`` + ``LogisticRegressionClassifier(solver="sgd")``
in a scikit-learn pipeline, run by ``GridSearchCV``: one candidate per learning rate, one
stratified split per test fraction as its "folds". GridSearchCV runs the fits through joblib,
so ``n_jobs`` workers run them locally, and under ``joblib.parallel_backend(...)`` (for
example Dask's) the backend decides where they run.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import data


def sweep_results(
    lrs: Sequence[float],
    ratios: Sequence[float],
    epochs: int = 10,
    batch_size: int = 150,
    seed: int = 0,
    n_jobs: int | None = None,
) -> list[dict[str, float]]:
    """One dict per (learning rate, test fraction) cell, in that order.

    Each cell holds ``lr``, ``test_size``, ``train_accuracy``, ``test_accuracy`` and
    ``test_log_loss``. ``epochs`` is the estimator's ``max_iter``, ``batch_size`` its
    minibatch size (150, at least the training rows, is full-batch gradient descent);
    ``seed`` seeds the splits and the estimator. ``n_jobs=None`` leaves the worker
    count to the active joblib backend (one process outside any). A fit that fails
    (a learning rate that diverges) gives NaN in its cell; when every fit fails,
    ``FloatingPointError`` names the last failure.
    """
    from sklearn.model_selection import StratifiedShuffleSplit

    X, y = data.load_iris(binary=True)
    splits = [
        next(StratifiedShuffleSplit(n_splits=1, test_size=ratio, random_state=seed).split(X, y)) for ratio in ratios
    ]
    search = _grid_search(lrs, splits, epochs, batch_size, seed, n_jobs)
    _fit_quietly(search, X, y)
    cv = search.cv_results_
    return [
        {
            "lr": float(lr),
            "test_size": float(ratio),
            "train_accuracy": float(cv[f"split{k}_train_accuracy"][i]),
            "test_accuracy": float(cv[f"split{k}_test_accuracy"][i]),
            "test_log_loss": -float(cv[f"split{k}_test_log_loss"][i]),
        }
        for i, lr in enumerate(cv["param_logisticregressionclassifier__learning_rate"])
        for k, ratio in enumerate(ratios)
    ]


def _grid_search(
    lrs: Sequence[float], splits: list[Any], epochs: int, batch_size: int, seed: int, n_jobs: int | None
) -> Any:
    """GridSearchCV over the learning rate of the scaled pipeline, one "fold" per split, NaN for a failed fit."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .estimators import LogisticRegressionClassifier

    estimator = make_pipeline(
        StandardScaler(),
        LogisticRegressionClassifier(solver="sgd", max_iter=epochs, batch_size=batch_size, random_state=seed),
    )
    return GridSearchCV(
        estimator,
        {"logisticregressionclassifier__learning_rate": list(lrs)},
        scoring={"accuracy": "accuracy", "log_loss": "neg_log_loss"},
        cv=splits,
        refit=False,
        return_train_score=True,
        n_jobs=n_jobs,
        error_score=np.nan,
    )


def _fit_quietly(search: Any, X: np.ndarray, y: np.ndarray) -> None:
    """Run the search; the warnings a short or diverging cell raises on purpose are its NaN, not noise."""
    from sklearn.exceptions import ConvergenceWarning, FitFailedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FitFailedWarning)
        warnings.filterwarnings("ignore", "One or more of the .* scores are non-finite", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow in a diverging fit: its cell is NaN
        try:
            search.fit(X, y)
        except ValueError as e:  # scikit-learn's "All the n fits failed", with the tracebacks
            if "fits failed" not in str(e):
                raise
            last = str(e).strip().splitlines()[-1]
            raise FloatingPointError(f"sweep_results: every fit failed; the last one with {last}") from None
