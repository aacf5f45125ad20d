"""Newton-CG and L-BFGS: the framework's Hessian-vector products, and scikit-learn's optimum."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression as SklearnLR
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from tinygrad_lr import Tensor, models, solvers


def _standardised(loader):
    X, y = loader(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=0)
    return StandardScaler().fit_transform(X_train), y_train


def _zeros(model):
    for p in model.parameters():
        p.data[...] = 0
    return model


def _glm(kind, n_features, rng):
    if kind == "binary":
        return models.LogisticRegression(n_features, seed=1), rng.integers(0, 2, 40).astype(float)
    return models.SoftmaxRegression(n_features, 4, seed=1), rng.integers(0, 4, 40)


@pytest.mark.parametrize("kind", ["binary", "softmax"])
@pytest.mark.parametrize("frozen_bias", [False, True])
def test_autograd_hvp_equals_closed_form(kind, frozen_bias, rng):
    X = Tensor(rng.standard_normal((40, 5)))
    model, y = _glm(kind, 5, rng)
    if frozen_bias:
        model.b.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    g, autograd_product = solvers.autograd_hvp(model.loss(X, y, l2=0.3), params)
    closed_product = solvers.closed_form_hvp(model, X, params, l2=0.3)
    assert g.size == sum(p.size for p in params)
    for _ in range(3):
        v = rng.standard_normal(g.size)
        np.testing.assert_allclose(autograd_product(v), closed_product(v), rtol=1e-10, atol=1e-12)


def test_autograd_hvp_matches_finite_differences_of_the_gradient_for_an_mlp(rng):
    """The framework path is generic: it needs no formula, so it works for a non-convex model too."""
    X, y = rng.standard_normal((30, 3)), rng.integers(0, 2, 30)
    model = models.MLP([3, 4, 2], seed=0)
    params = model.parameters()
    theta = np.concatenate([p.data.ravel() for p in params])
    f = solvers.value_and_grad(model, X, y, l2=0.1)
    v, eps = rng.standard_normal(theta.size), 1e-5
    numeric = (f(theta + eps * v)[1] - f(theta - eps * v)[1]) / (2 * eps)
    f(theta)
    _, product = solvers.autograd_hvp(model.loss(X, y, l2=0.1), params)
    np.testing.assert_allclose(product(v), numeric, rtol=1e-6, atol=1e-8)


def _sklearn_optimum(X, y):
    sk = SklearnLR(C=1.0, tol=1e-12, max_iter=10000).fit(X, y)
    return sk.coef_, sk.intercept_


@pytest.mark.parametrize("solve", ["newton-autograd", "newton-closed", "lbfgs"])
def test_breast_cancer_reaches_sklearn_optimum(solve):
    X, y = _standardised(load_breast_cancer)
    coef, intercept = _sklearn_optimum(X, y)
    model, l2 = _zeros(models.LogisticRegression(X.shape[1])), 1.0 / len(y)
    if solve == "lbfgs":
        result = solvers.lbfgs(model, X, y.astype(float), l2=l2, tol=1e-12, max_iter=10000)
    else:
        hvp = "autograd" if solve == "newton-autograd" else "closed_form"
        result = solvers.newton_cg(model, X, y.astype(float), l2=l2, tol=1e-10, max_iter=100, hvp=hvp)
        assert result.grad_max <= 1e-10
    assert result.converged and result.n_iter >= 1
    assert np.abs(model.w.data - coef[0]).max() <= 1e-5
    assert abs(model.b.item() - intercept[0]) <= 1e-5


def test_digits_newton_with_framework_hvps_reaches_sklearn_optimum():
    X, y = _standardised(load_digits)
    coef, intercept = _sklearn_optimum(X, y)
    model = _zeros(models.SoftmaxRegression(X.shape[1], 10))
    result = solvers.newton_cg(model, X, y, l2=1.0 / len(y), tol=1e-10, max_iter=100)
    assert result.converged and result.grad_max <= 1e-10
    assert np.abs(model.W.data.T - coef).max() <= 1e-5
    # scikit-learn's L-BFGS stops on its ftol at max|g| ~ 5e-9, which leaves its intercepts
    # about 1e-5 from the exact optimum (Newton gets max|g| < 1e-10), hence the wider bound.
    assert np.abs(model.b.data - intercept).max() <= 5e-5


def test_frozen_bias_stays_put_and_result_reports_max_iter(rng):
    X, y = rng.standard_normal((50, 3)), rng.integers(0, 2, 50).astype(float)
    for solve in (solvers.newton_cg, solvers.lbfgs):
        model = models.LogisticRegression(3)
        model.b.requires_grad_(False)
        result = solve(model, X, y, l2=0.01, tol=1e-14, max_iter=1)
        assert model.b.item() == 0.0
        assert result.n_iter == 1 and not result.converged
        assert result.loss == pytest.approx(model.loss(X, y, l2=0.01).item())


def test_newton_cg_lowers_the_loss_of_an_mlp(rng):
    X, y = rng.standard_normal((60, 2)), rng.integers(0, 2, 60)
    model = models.MLP([2, 5, 2], seed=0)
    before = model.loss(X, y, l2=0.01).item()
    result = solvers.newton_cg(model, X, y, l2=0.01, tol=1e-6, max_iter=20)
    assert result.loss < before
    assert result.loss == pytest.approx(model.loss(X, y, l2=0.01).item())


def test_bad_arguments_raise_clear_errors(rng):
    X, y = rng.standard_normal((10, 2)), rng.integers(0, 2, 10)
    with pytest.raises(ValueError, match="tol must be finite and > 0"):
        solvers.newton_cg(models.LogisticRegression(2), X, y.astype(float), tol=0)
    with pytest.raises(ValueError, match="max_iter must be an integer >= 1"):
        solvers.lbfgs(models.LogisticRegression(2), X, y.astype(float), max_iter=0)
    with pytest.raises(ValueError, match="hvp must be one of"):
        solvers.newton_cg(models.LogisticRegression(2), X, y.astype(float), hvp="exact")
    with pytest.raises(TypeError, match="closed_form_hvp: only LogisticRegression"):
        solvers.newton_cg(models.MLP([2, 3, 2]), X, y, hvp="closed_form")
    frozen = models.LogisticRegression(2)
    for p in frozen.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no parameter that requires grad"):
        solvers.lbfgs(frozen, X, y.astype(float))
