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


# ---- Newton-CG's line search and CG, on one-parameter losses where every step is known ---------------


class Curve:
    """A one-parameter stand-in for a model: ``loss`` is ``f(θ)`` and every θ it is evaluated at is recorded."""

    def __init__(self, f, theta0):
        self.theta = Tensor(np.array([theta0]), requires_grad=True)
        self.f = f
        self.evaluated = []

    def parameters(self):
        return [self.theta]

    def as_input(self, X):
        return Tensor(X)

    def loss(self, X, y, l2=0.0):
        self.evaluated.append(float(self.theta.data[0]))
        return self.f(self.theta).sum()


def hyperbola(t):  # sqrt(1 + θ²): convex, but a full Newton step from |θ| >= 1 overshoots
    return (t * t + 1.0).sqrt()


def newton_on(curve, **kwargs):
    return solvers.newton_cg(curve, np.zeros((1, 1)), np.zeros(1), **kwargs)


def test_line_search_halves_an_overshooting_newton_step_and_max_iter_1_takes_exactly_one():
    # From θ=2 the Newton step is -θ(1+θ²) = -10: θ=-8 and θ=-3 raise the loss, θ=-0.5 lowers it.
    curve = Curve(hyperbola, 2.0)
    result = newton_on(curve, max_iter=1)
    np.testing.assert_allclose(curve.evaluated, [2.0, -8.0, -3.0, -0.5], rtol=1e-12)
    assert curve.theta.item() == pytest.approx(-0.5, rel=1e-12)
    assert result.n_iter == 1 and not result.converged
    assert result.loss == pytest.approx(np.sqrt(1.25), rel=1e-12)
    assert result.grad_max == pytest.approx(0.5 / np.sqrt(1.25), rel=1e-12)


def test_line_search_requires_the_armijo_decrease_not_just_any_decrease():
    # From θ=a just below 1 the full step lands at -a³: a decrease (~1.4e-5), but far below the
    # Armijo fraction 1e-4·|slope| (~1.4e-4). Halving lands near 0, where Newton converges cubically.
    a = 1 - 1e-5
    curve = Curve(hyperbola, a)
    result = newton_on(curve, tol=1e-10)
    assert curve.evaluated[1] == pytest.approx(-(a**3), rel=1e-9)  # tried ...
    assert abs(curve.evaluated[2]) < 1e-4  # ... refused, halved and accepted
    assert result.converged and result.n_iter == 2 and abs(curve.theta.item()) < 1e-10


def test_negative_curvature_falls_back_to_steepest_descent():
    # f = θ⁴/4 - θ²/2 has f'' = 3θ² - 1 < 0 at θ=0.1: CG meets negative curvature at once and
    # returns -g, a step to θ - f'(θ) = 0.199; from there Newton reaches the minimum at θ=1.
    curve = Curve(lambda t: t**4 / 4 - t * t / 2, 0.1)
    result = newton_on(curve, tol=1e-10)
    assert curve.evaluated[1] == pytest.approx(0.1 - (0.1**3 - 0.1), rel=1e-12)
    assert result.converged and curve.theta.item() == pytest.approx(1.0, rel=1e-9)
    assert result.loss == pytest.approx(-0.25, rel=1e-12)


def test_conjugate_gradient_keeps_the_last_descent_direction_at_negative_curvature():
    # H = diag(2, -1), g = (1, 1): the first direction has curvature 1 (step to p = (-2, -2)),
    # the second has curvature -72: CG stops there and returns p, not -g.
    H = np.diag([2.0, -1.0])
    p, steps = solvers._conjugate_gradient(lambda v: H @ v, np.array([1.0, 1.0]), floor=0.0, max_steps=10)
    np.testing.assert_allclose(p, [-2.0, -2.0], rtol=1e-12)
    assert steps == 2
    p, steps = solvers._conjugate_gradient(lambda v: -v, np.array([1.0, -3.0]), floor=0.0, max_steps=10)
    np.testing.assert_array_equal(p, [-1.0, 3.0])
    assert steps == 1
    # positive definite, a small gradient (tight relative target): CG solves H p = -g in n = 2 steps
    H, g = np.array([[4.0, 1.0], [1.0, 3.0]]), np.array([1e-3, 2e-3])
    p, steps = solvers._conjugate_gradient(lambda v: H @ v, g, floor=0.0, max_steps=10)
    np.testing.assert_allclose(H @ p, -g, rtol=1e-10)
    assert steps == 2
    # ill-conditioned: after one step the residual is 0.98·||g||, above the target 0.5·||g||, so a second step
    H, g = np.diag([1.0, 100.0]), np.array([10.0, 10.0])
    p, steps = solvers._conjugate_gradient(lambda v: H @ v, g, floor=0.0, max_steps=10)
    np.testing.assert_allclose(H @ p, -g, rtol=1e-10)
    assert steps == 2
    assert solvers._conjugate_gradient(lambda v: H @ v, g, floor=0.0, max_steps=2)[1] == 2  # the budget is inclusive
    p, steps = solvers._conjugate_gradient(lambda v: H @ v, g, floor=0.0, max_steps=1)  # out of steps: the last p
    np.testing.assert_allclose(p, -(g @ g) / (g @ H @ g) * g, rtol=1e-12)
    assert steps == 1
    # a large one, well conditioned (target 0.5·||g||): one step is enough
    H, g = np.array([[4.0, 1.0], [1.0, 3.0]]), np.array([1e-3, 2e-3])
    assert solvers._conjugate_gradient(lambda v: H @ v, 1e3 * g, floor=0.0, max_steps=10)[1] == 1


@pytest.mark.parametrize("solve", [solvers.newton_cg, solvers.lbfgs], ids=["newton_cg", "lbfgs"])
def test_solver_defaults_are_no_penalty_tol_1e_4_and_100_iterations(solve, rng):
    X = rng.standard_normal((40, 3))
    y = (X @ [1.0, -1.0, 0.5] + rng.standard_normal(40) > 0).astype(float)
    runs = []
    for kwargs in ({}, dict(l2=0.0, tol=1e-4, max_iter=100)):
        model = _zeros(models.LogisticRegression(3))
        result = solve(model, X, y, **kwargs)
        runs.append((result.n_iter, result.loss, model.w.data.copy(), model.b.data.copy()))
    assert runs[0][:2] == runs[1][:2] and 1 < runs[0][0] < 100
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    np.testing.assert_array_equal(runs[0][3], runs[1][3])


def test_newton_cg_default_budget_is_100_iterations():
    # θ⁴: Newton shrinks θ by a third per step (linear convergence), far from tol=1e-300 after 100 steps.
    curve = Curve(lambda t: t**4, 1.0)
    result = newton_on(curve, tol=1e-300)
    assert result.n_iter == 100 and not result.converged
    assert curve.theta.item() == pytest.approx((2 / 3) ** 100, rel=1e-6)


def test_lbfgs_passes_scikit_learns_settings_to_scipy(monkeypatch, rng):
    """gtol=tol, ftol=64·eps, maxls=50 and maxiter=max_iter, as the docstring promises (and scikit-learn uses)."""
    import scipy.optimize

    seen, real = [], scipy.optimize.minimize
    monkeypatch.setattr(scipy.optimize, "minimize", lambda *a, **kw: seen.append(kw) or real(*a, **kw))
    X, y = rng.standard_normal((30, 2)), rng.integers(0, 2, 30).astype(float)
    solvers.lbfgs(models.LogisticRegression(2), X, y)
    solvers.lbfgs(models.LogisticRegression(2), X, y, tol=1e-6, max_iter=7)
    eps64 = 64 * np.finfo(float).eps
    assert [kw["options"] for kw in seen] == [
        {"maxiter": 100, "maxls": 50, "gtol": 1e-4, "ftol": eps64},
        {"maxiter": 7, "maxls": 50, "gtol": 1e-6, "ftol": eps64},
    ]
    assert all(kw["method"] == "L-BFGS-B" and kw["jac"] is True for kw in seen)
