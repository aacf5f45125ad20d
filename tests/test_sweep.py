"""sweep.sweep_results: each cell is the fit GridSearchCV was asked for, whatever runs it."""

import warnings

import numpy as np
import pytest
from joblib import parallel_backend
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.preprocessing import StandardScaler

from tinygrad_lr import data
from tinygrad_lr.estimators import LogisticRegressionClassifier
from tinygrad_lr.sweep import sweep_results


def fit_by_hand(lr, ratio, epochs=10, seed=0):
    """The cell (lr, ratio) computed without GridSearchCV: the same split, scaler and estimator."""
    X, y = data.load_iris(binary=True)
    train, test = next(StratifiedShuffleSplit(n_splits=1, test_size=ratio, random_state=seed).split(X, y))
    scaler = StandardScaler().fit(X[train])
    clf = LogisticRegressionClassifier(
        solver="sgd", learning_rate=lr, max_iter=epochs, batch_size=150, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a few epochs, on purpose
        clf.fit(scaler.transform(X[train]), y[train])
    X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
    return {
        "lr": lr,
        "test_size": ratio,
        "train_accuracy": clf.score(X_train, y[train]),
        "test_accuracy": clf.score(X_test, y[test]),
        "test_log_loss": log_loss(y[test], clf.predict_proba(X_test)),
    }


def test_every_cell_is_the_fit_of_its_learning_rate_on_its_split():
    results = sweep_results([0.01, 0.9], [0.2, 0.4], n_jobs=2)
    assert [(r["lr"], r["test_size"]) for r in results] == [(0.01, 0.2), (0.01, 0.4), (0.9, 0.2), (0.9, 0.4)]
    for cell in results:
        expected = fit_by_hand(cell["lr"], cell["test_size"])
        assert cell.keys() == expected.keys()
        for key, value in expected.items():
            assert np.isclose(cell[key], value, rtol=1e-9), (cell, key)


def test_epochs_seed_and_batch_size_reach_the_estimator():
    (cell,) = sweep_results([0.1], [0.3], epochs=3, batch_size=150, seed=5)
    assert cell == pytest.approx(fit_by_hand(0.1, 0.3, epochs=3, seed=5), rel=1e-9)
    (other,) = sweep_results([0.1], [0.3], epochs=3, batch_size=16, seed=5)
    assert other["test_log_loss"] != cell["test_log_loss"]  # minibatches of 16 are another run


def test_a_joblib_backend_around_the_sweep_decides_where_it_runs():
    """n_jobs=None leaves the workers to the active backend (how a Dask cluster takes the sweep)."""
    plain = sweep_results([0.01, 0.1], [0.25], n_jobs=1)
    with parallel_backend("threading", n_jobs=2):
        threaded = sweep_results([0.01, 0.1], [0.25])
    assert threaded == plain


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_a_diverging_learning_rate_gives_nan_in_its_cell():
    fine, diverged = sweep_results([0.01, 1e300], [0.2])
    assert np.isfinite(fine["test_log_loss"])
    assert np.isnan(diverged["test_log_loss"]) and np.isnan(diverged["test_accuracy"])


def test_when_every_fit_fails_the_error_is_one_readable_line():
    with pytest.raises(FloatingPointError) as e:
        sweep_results([1e300], [0.2])
    message = str(e.value)
    assert message.startswith("sweep_results: every fit failed; the last one with FloatingPointError: ")
    assert "the loss became" in message and "\n" not in message and "Traceback" not in message
