"""The scikit-learn estimators: sklearn's own checks, its optimum, and its tooling."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SklearnLR
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from tinygrad_lr.estimators import LogisticRegressionClassifier, MLPClassifier, SoftmaxRegressionClassifier


# No check is exempted: all of scikit-learn 1.9's checks run and pass for the three estimators.
@parametrize_with_checks([LogisticRegressionClassifier(), SoftmaxRegressionClassifier(), MLPClassifier()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _split(loader):
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize(
    "loader, estimator",
    [(load_digits, SoftmaxRegressionClassifier), (load_breast_cancer, LogisticRegressionClassifier)],
)
def test_reaches_sklearn_optimum(loader, estimator, solver):
    X_train, X_test, y_train, y_test = _split(loader)
    sk = SklearnLR(C=1.0, tol=1e-12, max_iter=10000).fit(X_train, y_train)
    ours = estimator(C=1.0, solver=solver, tol=1e-12 if solver == "lbfgs" else 1e-10, max_iter=10000)
    ours.fit(X_train, y_train)
    assert ours.coef_.shape == sk.coef_.shape and ours.intercept_.shape == sk.intercept_.shape
    assert np.abs(ours.coef_ - sk.coef_).max() <= 1e-5
    # sklearn's L-BFGS stops on ftol at max|g| ~ 5e-9: its digits intercepts sit ~1e-5 from the exact optimum.
    assert np.abs(ours.intercept_ - sk.intercept_).max() <= 5e-5
    assert ours.score(X_test, y_test) == sk.score(X_test, y_test)
    np.testing.assert_allclose(ours.predict_proba(X_test), sk.predict_proba(X_test), atol=1e-5)
    assert 1 <= ours.n_iter_[0] < 10000


def test_no_intercept_matches_sklearn():
    X, _, y, _ = _split(load_breast_cancer)
    sk = SklearnLR(C=0.5, fit_intercept=False, tol=1e-12, max_iter=10000).fit(X, y)
    ours = LogisticRegressionClassifier(C=0.5, fit_intercept=False, tol=1e-10).fit(X, y)
    assert np.all(ours.intercept_ == 0)
    assert np.abs(ours.coef_ - sk.coef_).max() <= 1e-5


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_stochastic_solvers_count_epochs_and_get_close(solver):
    X_train, X_test, y_train, y_test = _split(load_breast_cancer)
    sk = SklearnLR(C=1.0).fit(X_train, y_train)
    ours = LogisticRegressionClassifier(solver=solver, learning_rate=0.01, batch_size=32, max_iter=60, random_state=0)
    ours.fit(X_train, y_train)
    assert 1 <= ours.n_iter_[0] <= 60

    def objective(coef, intercept):  # scikit-learn's: mean log-loss + ||w||²/(2·C·n)
        z = X_train @ coef[0] + intercept[0]
        return np.mean(np.logaddexp(0, z) - y_train * z) + coef[0] @ coef[0] / (2 * len(y_train))

    assert objective(ours.coef_, ours.intercept_) <= 1.1 * objective(sk.coef_, sk.intercept_)
    assert ours.score(X_test, y_test) >= sk.score(X_test, y_test) - 0.02


def test_string_labels_and_probabilities():
    X, y = make_classification(n_samples=120, n_features=4, n_informative=3, n_redundant=0, n_classes=3,
                               random_state=0)
    names = np.array(["cat", "dog", "emu"])[y]
    for est in (SoftmaxRegressionClassifier(), MLPClassifier(max_iter=300, random_state=0)):
        est.fit(X, names)
        assert list(est.classes_) == ["cat", "dog", "emu"]
        proba = est.predict_proba(X)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert set(est.predict(X)) <= set(est.classes_)
        assert est.score(X, names) > 0.7


def test_logistic_regression_refuses_more_than_two_classes():
    X, y = make_classification(n_samples=60, n_classes=3, n_informative=3, random_state=0)
    with pytest.raises(ValueError, match="Only binary classification is supported.*SoftmaxRegressionClassifier"):
        LogisticRegressionClassifier().fit(X, y)


def test_bad_parameters_raise_at_fit():
    X, y = make_classification(n_samples=30, random_state=0)
    with pytest.raises(ValueError, match="solver must be one of"):
        MLPClassifier(solver="newton").fit(X, y)
    with pytest.raises(ValueError, match="C must be a finite number > 0"):
        LogisticRegressionClassifier(C=0).fit(X, y)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        SoftmaxRegressionClassifier(solver="adam", batch_size=2.5).fit(X, y)


def test_not_converging_warns():
    X, y = make_classification(n_samples=80, random_state=0)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        LogisticRegressionClassifier(max_iter=1, tol=1e-12).fit(X, y)


def test_mlp_lbfgs_and_fitted_layers():
    X, y = make_classification(n_samples=200, n_features=2, n_redundant=0, random_state=1)
    est = MLPClassifier(hidden_layer_sizes=(6, 4), solver="lbfgs", max_iter=300, random_state=0).fit(X, y)
    assert [w.shape for w in est.coefs_] == [(2, 6), (6, 4), (4, 2)]
    assert [b.shape for b in est.intercepts_] == [(6,), (4,), (2,)]
    assert est.score(X, y) > 0.85


def test_pipeline_cross_val_score_and_grid_search():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), LogisticRegressionClassifier())
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.9
    grid = GridSearchCV(pipe, {"logisticregressionclassifier__C": [0.01, 1.0]}, cv=3).fit(X, y)
    assert grid.best_params_["logisticregressionclassifier__C"] in (0.01, 1.0)
    assert grid.best_estimator_.score(X, y) > 0.9
