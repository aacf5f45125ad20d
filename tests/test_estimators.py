"""The scikit-learn estimators: sklearn's own checks, its optimum, and its tooling."""

import warnings

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
from tinygrad_lr.models import SoftmaxRegression


# No check is exempted: all of scikit-learn 1.9's checks run and pass for the three estimators.
@parametrize_with_checks([LogisticRegressionClassifier(), SoftmaxRegressionClassifier(), MLPClassifier()])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # the checks' tiny data, default max_iter
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
    with pytest.warns(ConvergenceWarning, match="max_iter=60"):  # 60 epochs get close, not to tol
        ours.fit(X_train, y_train)
    assert 1 <= ours.n_iter_[0] <= 60

    def objective(coef, intercept):  # scikit-learn's: mean log-loss + ||w||²/(2·C·n)
        z = X_train @ coef[0] + intercept[0]
        return np.mean(np.logaddexp(0, z) - y_train * z) + coef[0] @ coef[0] / (2 * len(y_train))

    assert objective(ours.coef_, ours.intercept_) <= 1.1 * objective(sk.coef_, sk.intercept_)
    assert ours.score(X_test, y_test) >= sk.score(X_test, y_test) - 0.02


def test_string_labels_and_probabilities():
    X, y = make_classification(n_samples=120, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=0)
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
    with pytest.raises(ValueError, match="C must be finite and > 0"):
        LogisticRegressionClassifier(C=0).fit(X, y)
    with pytest.raises(TypeError, match="batch_size must be an integer >= 1"):
        SoftmaxRegressionClassifier(solver="adam", batch_size=2.5).fit(X, y)


def test_not_converging_warns():
    X, y = make_classification(n_samples=80, random_state=0)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        LogisticRegressionClassifier(max_iter=1, tol=1e-12).fit(X, y)


def test_mlp_lbfgs_and_fitted_layers():
    X, y = make_classification(n_samples=200, n_features=2, n_redundant=0, random_state=1)
    with pytest.warns(ConvergenceWarning, match="max_iter=300"):
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


def _plain_gradient_descent(model, X, codes, lr, l2, epochs):
    """The seeds' experiment: full-batch W ← W − lr·∇L(W), on the framework's loss."""
    for _ in range(epochs):
        model.zero_grad()
        model.loss(X, codes, l2=l2).backward()
        for p in model.parameters():
            p.data -= lr * p.grad.data
    return model


def test_sgd_with_momentum_zero_is_plain_gradient_descent(monkeypatch):
    X, y = make_classification(n_samples=90, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=0)
    est = SoftmaxRegressionClassifier(
        solver="sgd", momentum=0, learning_rate=0.1, batch_size=len(X), max_iter=7, tol=1e-12, random_state=0
    )
    initial = []  # the estimator's seeded starting point, recorded as it builds the model
    make_model = est._make_model

    def recording(*args):
        model = make_model(*args)
        initial.append({name: p.data.copy() for name, p in model.named_parameters().items()})
        return model

    monkeypatch.setattr(est, "_make_model", recording)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    ref = SoftmaxRegression(4, 3)
    for name, p in ref.named_parameters().items():
        p.data[...] = initial[0][name]
    _plain_gradient_descent(ref, X, y, lr=0.1, l2=1.0 / len(X), epochs=7)
    np.testing.assert_allclose(est.coef_, ref.W.data.T, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(est.intercept_, ref.b.data, rtol=1e-12, atol=1e-15)
    assert est.n_iter_[0] == 7


def test_momentum_and_nesterov_are_used():
    X, y = make_classification(n_samples=90, n_features=4, random_state=0)
    coefs = {}
    for momentum, nesterov in ((0.0, True), (0.0, False), (0.5, False), (0.5, True), (0.9, True)):
        est = LogisticRegressionClassifier(
            solver="sgd", momentum=momentum, nesterovs_momentum=nesterov, max_iter=5, tol=1e-12, random_state=0
        )
        with pytest.warns(ConvergenceWarning):
            coefs[momentum, nesterov] = est.fit(X, y).coef_
    np.testing.assert_array_equal(coefs[0.0, True], coefs[0.0, False])  # nesterov needs momentum: ignored at 0
    distinct = [coefs[k] for k in ((0.0, False), (0.5, False), (0.5, True), (0.9, True))]
    assert all(not np.allclose(a, b) for i, a in enumerate(distinct) for b in distinct[i + 1 :])
    assert LogisticRegressionClassifier().get_params()["momentum"] == 0.9
    assert MLPClassifier().get_params()["nesterovs_momentum"] is True


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_stochastic_solvers_stop_after_10_epochs_without_improvement(solver):
    X, y = make_classification(n_samples=60, random_state=0)
    est = MLPClassifier(hidden_layer_sizes=(3,), solver=solver, tol=100.0, max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)  # no epoch improves by 100: stopped (converged) after the first + 10 epochs
    assert est.n_iter_ == 11
    with pytest.warns(ConvergenceWarning, match=f"solver '{solver}' did not converge in max_iter=4"):
        est.set_params(tol=1e-12, max_iter=4).fit(X, y)
    assert est.n_iter_ == 4


def test_sgd_without_intercept_keeps_it_at_zero():
    X, y = make_classification(n_samples=60, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=30"):
        est = SoftmaxRegressionClassifier(solver="sgd", fit_intercept=False, max_iter=30, random_state=0).fit(X, y)
    assert np.all(est.intercept_ == 0) and est.score(X, y) > 0.8


@pytest.mark.parametrize(
    "params, error, message",
    [
        (dict(momentum=1.0), ValueError, r"momentum must be finite and >= 0 and < 1, got 1.0"),
        (dict(momentum=-0.1), ValueError, r"momentum must be finite and >= 0 and < 1, got -0.1"),
        (dict(momentum="0.9"), TypeError, r"momentum must be a real number, got '0.9'"),
        (dict(momentum=True), TypeError, r"momentum must be a real number, got True"),
        (dict(nesterovs_momentum="yes"), TypeError, "nesterovs_momentum must be True or False, got 'yes'"),
    ],
)
def test_bad_momentum_parameters_raise_at_fit(params, error, message):
    X, y = make_classification(n_samples=30, random_state=0)
    with pytest.raises(error, match=f"MLPClassifier: {message}"):
        MLPClassifier(solver="sgd", **params).fit(X, y)
