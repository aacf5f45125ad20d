"""Full-batch solvers for the convex models: Newton-CG on the framework's own
Hessian-vector products, and L-BFGS from SciPy fed by the framework's gradient.

Both minimise ``model.loss(X, y, l2=λ)`` (mean log-loss + ``λ/2·||W||²``, biases
unpenalised; scikit-learn's ``C`` is ``λ = 1/(C·n)``) over the parameters that
require grad (freeze a bias with ``b.requires_grad_(False)``), update them in
place and stop when ``max|gradient| <= tol``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .autograd import grad, no_grad
from .models import Model
from .tensor import Tensor
from .validation import as_array, check_int, check_number, check_real_array

HVP_METHODS = ("autograd", "closed_form")


@dataclass
class SolverResult:
    """What a solver did: iterations, whether ``max|gradient| <= tol`` (or SciPy's own test) held, where it ended."""

    n_iter: int
    converged: bool
    loss: float
    grad_max: float
    message: str


# ---- parameters as one flat vector ---------------------------------------------------


def _trainable(model: Model, solver: str) -> list[Tensor]:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{solver}: {type(model).__name__} has no parameter that requires grad")
    return params


def _flatten(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([a.ravel() for a in arrays])


def _split(flat: np.ndarray, params: list[Tensor]) -> list[np.ndarray]:
    out, start = [], 0
    for p in params:
        out.append(flat[start : start + p.size].reshape(p.shape))
        start += p.size
    return out


def _assign(params: list[Tensor], flat: np.ndarray) -> None:
    """Write ``flat`` into the parameters in place (bumping their versions, as an optimizer step does)."""
    with no_grad():
        for p, value in zip(params, _split(flat, params)):
            p[...] = value


def _check(model: Model, X: Any, l2: float, tol: float, max_iter: int, solver: str) -> Tensor:
    """The arguments every solver shares; X as the model's input, refused if it holds NaN or inf."""
    check_number(l2, f"{solver}: l2", 0.0)
    check_number(tol, f"{solver}: tol", 0.0, low_open=True)
    check_int(max_iter, f"{solver}: max_iter")
    if not isinstance(X, Tensor):
        X = check_real_array(X, f"{solver}: X")
        if X.dtype.kind == "f" and not np.isfinite(X).all():
            row, col = np.argwhere(~np.isfinite(X))[0] if X.ndim == 2 else (0, 0)
            raise ValueError(f"{solver}: X contains NaN or inf (e.g. at row {row}, column {col})")
    return model.as_input(X)  # cast to the model's dtype once, not at every evaluation


# ---- L-BFGS ------------------------------------------------------------------------------


def value_and_grad(model: Model, X: Any, y: Any, l2: float = 0.0) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """``f(flat) -> (loss, gradient)`` over the trainable parameters as one float64 vector.

    Calling it writes ``flat`` into the parameters, so the model ends where it was last evaluated.
    """
    params = _trainable(model, "value_and_grad")
    X, y = model.as_input(as_array(X)), as_array(y)

    def f(flat: np.ndarray) -> tuple[float, np.ndarray]:
        _assign(params, flat)
        loss = model.loss(X, y, l2=l2)
        grads = grad(loss, params)
        return loss.item(), _flatten([g.data for g in grads]).astype(np.float64)

    return f


def lbfgs(model: Model, X: Any, y: Any, l2: float = 0.0, tol: float = 1e-4, max_iter: int = 100) -> SolverResult:
    """SciPy's L-BFGS-B with scikit-learn's settings (gtol=tol, ftol=64·eps, maxls=50).

    Same objective, same start and same settings as ``sklearn.linear_model.LogisticRegression``
    give the same iterates, so results and iteration counts can be compared one to one.
    """
    from scipy.optimize import minimize  # here, not at import: SciPy's optimizers cost ~20 MB of RSS

    X = _check(model, X, l2, tol, max_iter, "lbfgs")
    params = _trainable(model, "lbfgs")
    f = value_and_grad(model, X, y, l2)
    res = minimize(
        f,
        _flatten([p.data for p in params]).astype(np.float64),
        method="L-BFGS-B",
        jac=True,
        options={"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": 64 * np.finfo(float).eps},
    )
    _assign(params, res.x)
    return SolverResult(int(res.nit), bool(res.success), float(res.fun), float(np.abs(res.jac).max()), str(res.message))


# ---- Hessian-vector products ------------------------------------------------------------


def autograd_hvp(loss: Tensor, params: list[Tensor]) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """The gradient of ``loss`` and ``v -> H v``, both by the framework (double backward).

    The gradient is taken once with ``create_graph=True``; each product is one more
    backward pass through that gradient's graph: ``H v = d(g·v)/dθ``.
    """
    grads = grad(loss, params, create_graph=True)

    def hvp(v: np.ndarray) -> np.ndarray:
        seeds = [Tensor(part) for part in _split(v, params)]
        return _flatten([h.data for h in grad(grads, params, grad_outputs=seeds, retain_graph=True)])

    return _flatten([g.data for g in grads]), hvp


def closed_form_hvp(model: Model, X: Any, params: list[Tensor], l2: float) -> Callable[[np.ndarray], np.ndarray]:
    """``v -> H v`` over ``params`` (a subset of the model's) from the model's own ``hessian_product``.

    The formula lives with the model (LogisticRegression and SoftmaxRegression write theirs
    out); frozen parameters get a zero direction. The framework's ``autograd_hvp`` computes
    the same products; the tests hold the two together.
    """
    product = model.hessian_product(X, l2)
    if product is None:
        raise TypeError(
            "closed_form_hvp: only LogisticRegression and SoftmaxRegression (or a model that defines "
            f"hessian_product) have a closed form; {type(model).__name__} has none, use hvp='autograd'"
        )
    every = model.parameters()
    where = [next(i for i, q in enumerate(every) if q is p) for p in params]

    def hvp(v: np.ndarray) -> np.ndarray:
        directions = [np.zeros(q.shape) for q in every]
        for i, part in zip(where, _split(v, params)):
            directions[i] = part
        products = product(directions)
        return _flatten([np.asarray(products[i]) for i in where])

    return hvp


# ---- Newton-CG ---------------------------------------------------------------------------


def _conjugate_gradient(
    hvp: Callable[[np.ndarray], np.ndarray], g: np.ndarray, floor: float, max_steps: int
) -> tuple[np.ndarray, int]:
    """Approximately solve H p = -g (truncated CG).

    Stops at relative residual min(0.5, sqrt(||g||)) (superlinear outer convergence),
    but not below ``floor``: the residual H p + g is the next gradient to first order,
    so solving past the tolerance buys nothing. Stops too at non-positive curvature,
    keeping the last descent direction found.
    """
    g_norm = np.linalg.norm(g)
    target = max(min(0.5, np.sqrt(g_norm)) * g_norm, floor)
    p = np.zeros_like(g)
    r = g.copy()  # residual H p + g
    d = -r
    rr = r @ r
    for step in range(1, max_steps + 1):
        hd = hvp(d)
        curvature = d @ hd
        if curvature <= 0:
            return (-g if step == 1 else p), step
        alpha = rr / curvature
        p += alpha * d
        r += alpha * hd
        rr_new = r @ r
        if np.sqrt(rr_new) <= target:
            return p, step
        d = -r + (rr_new / rr) * d
        rr = rr_new
    return p, max_steps


def newton_cg(
    model: Model,
    X: Any,
    y: Any,
    l2: float = 0.0,
    tol: float = 1e-4,
    max_iter: int = 100,
    hvp: str = "autograd",
) -> SolverResult:
    """Truncated Newton: CG on the Newton system with Hessian-vector products, then a backtracking line search.

    ``hvp="autograd"`` (default) takes every product from the framework's double
    backward; ``hvp="closed_form"`` uses the model's hand-written ``hessian_product``
    (LogisticRegression and SoftmaxRegression have one). The line search accepts the Armijo
    decrease, or, once the loss changes by no more than rounding (in the model's dtype), any
    step that shrinks the gradient.
    """
    X = _check(model, X, l2, tol, max_iter, "newton_cg")
    if hvp not in HVP_METHODS:
        raise ValueError(f"newton_cg: hvp must be one of {HVP_METHODS}, got {hvp!r}")
    params = _trainable(model, "newton_cg")

    def evaluate() -> tuple[float, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        loss = model.loss(X, y, l2=l2)
        if hvp == "autograd":
            g, product = autograd_hvp(loss, params)
        else:
            g = _flatten([gi.data for gi in grad(loss, params)])
            product = closed_form_hvp(model, X, params, l2)
        return loss.item(), g, product

    theta = _flatten([p.data for p in params]).astype(np.float64)
    eps = np.finfo(params[0].dtype).eps  # the loss is computed in the model's dtype
    f, g, product = evaluate()
    n_iter, message = 0, "maximum number of iterations reached"
    while True:
        g_max = float(np.abs(g).max())
        if g_max <= tol:
            return SolverResult(n_iter, True, f, g_max, "max|gradient| <= tol")
        if n_iter == max_iter:
            break
        n_iter += 1
        step, _ = _conjugate_gradient(product, g, floor=0.5 * tol, max_steps=max(2 * theta.size, 20))
        slope = g @ step
        for _ in range(40):
            _assign(params, theta + step)
            f_new, g_new, product_new = evaluate()
            rounding = 64 * eps * max(abs(f), 1.0)
            if f_new <= f + 1e-4 * slope or (f_new - f <= rounding and np.abs(g_new).max() < g_max):
                break
            step *= 0.5
        else:
            _assign(params, theta)
            message = "line search found no decrease (the loss is flat to rounding error)"
            break
        theta += step
        f, g, product = f_new, g_new, product_new
    return SolverResult(n_iter, False, f, float(np.abs(g).max()), message)
