"""tg.vjp, jvp, jacobian, hessian, hvp: against central differences, torch.autograd.functional and closed forms.

Each function of the table is drawn at Hypothesis-chosen shapes; the results are
checked against finite differences always and against PyTorch when it is installed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lr as tg
import tinygrad_lr.functional as F
from tinygrad_lr import Tensor, models, reference
from tinygrad_lr import testing as tgt

try:
    import torch
    import torch.autograd.functional as TF
except ImportError:  # the PyTorch comparisons are skipped; finite differences still run
    torch = TF = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
EPS = 1e-6
TOL = {"rtol": 1e-5, "atol": 1e-7}  # finite differences
EXACT = {"rtol": 1e-10, "atol": 1e-12}  # PyTorch, closed forms


def _tuple_out(a, v):
    return (a * v).tanh(), (a * a).sum() * v


# name: (function, number of inputs); the same code runs on our tensors and on torch's, inputs share one shape
FUNCTIONS = {
    "tanh-scaled": (lambda x: x.tanh() * x.sum(), 1),
    "two-inputs": (lambda x, y: (x * y.exp()).sin(), 2),
    "tuple-outputs": (_tuple_out, 2),
    "difference": (lambda x, y: 2 * x - y, 2),  # linear: the double-backward trick passes grads through
    "identity": (lambda x: x, 1),
    "unused-input": (lambda x, y: y.exp() * 2, 2),  # d/dx is zero, not missing
}


@st.composite
def problems(draw, names=tuple(FUNCTIONS)):
    name = draw(st.sampled_from(sorted(names)))
    f, n_inputs = FUNCTIONS[name]
    shape = draw(tgt.shapes(max_dims=2, max_side=3))
    arrays = [draw(tgt.arrays(shape, -1.5, 1.5)) for _ in range(n_inputs)]
    packed = draw(st.booleans()) if n_inputs == 1 else True  # one input: as a Tensor or a 1-tuple
    return name, f, arrays, packed


def as_list(value):
    return list(value) if isinstance(value, tuple | list) else [value]


def inputs_of(arrays, packed, kind=Tensor):
    ts = [kind(a) if kind is Tensor else torch.tensor(a) for a in arrays]
    return tuple(ts) if packed else ts[0]


def numbers(value):
    """Tensors (ours or torch's), nested in tuples, as nested lists of arrays."""
    if isinstance(value, tuple | list):
        return [numbers(v) for v in value]
    return value.detach().numpy() if torch is not None and isinstance(value, torch.Tensor) else value.numpy()


def assert_close(ours, theirs, tol):
    if isinstance(ours, list):
        assert isinstance(theirs, list) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_close(a, b, tol)
    else:
        assert ours.shape == np.shape(theirs)
        np.testing.assert_allclose(ours, theirs, **tol)


# ---- finite differences ------------------------------------------------------------------------


def evaluate(f, arrays):
    return [o.numpy().copy() for o in as_list(f(*[Tensor(a) for a in arrays]))]


def numerical_jacobian(f, arrays):
    """J[k][i] = d output k / d input i, shape output.shape + input.shape, by central differences."""
    outs = evaluate(f, arrays)
    blocks = [[np.zeros(o.shape + a.shape) for a in arrays] for o in outs]
    for i, a in enumerate(arrays):
        for j in np.ndindex(a.shape):
            plus, minus = [b.copy() for b in arrays], [b.copy() for b in arrays]
            plus[i][j] += EPS
            minus[i][j] -= EPS
            for k, (p, m) in enumerate(zip(evaluate(f, plus), evaluate(f, minus))):
                blocks[k][i][(...,) + j] = (p - m) / (2 * EPS)
    return blocks


def contract(block, v, n_axes):
    """Sum over the last ``n_axes`` axes of ``block`` against ``v``."""
    return np.tensordot(block, v, axes=n_axes) if n_axes else block * v


def scalar_of(f, weights):
    """A scalar function from f: every output weighted by a fixed array and summed."""

    def s(*xs):
        outs = as_list(f(*xs))
        lift = Tensor if isinstance(outs[0], Tensor) else torch.tensor
        return sum(((o * lift(w)).sum() for o, w in zip(outs, weights)), start=outs[0].sum() * 0)

    return s


@given(problem=problems(), data=st.data())
def test_jacobian_vjp_and_jvp_against_central_differences(problem, data):
    name, f, arrays, packed = problem
    J = numerical_jacobian(f, arrays)
    outs = evaluate(f, arrays)
    ours = tg.jacobian(f, inputs_of(arrays, packed))
    ours = [as_list(row) for row in as_list(ours)] if len(outs) > 1 else [as_list(ours)]
    assert_close(numbers(ours), J, TOL)

    vs = [data.draw(tgt.arrays(o.shape)) for o in outs]
    _, vjp = tg.vjp(f, inputs_of(arrays, packed), tuple(Tensor(v) for v in vs) if len(outs) > 1 else Tensor(vs[0]))
    expected = [sum(np.tensordot(v, J[k][i], axes=v.ndim) for k, v in enumerate(vs)) for i in range(len(arrays))]
    assert_close(numbers(as_list(vjp)), expected, TOL)

    us = [data.draw(tgt.arrays(a.shape)) for a in arrays]
    _, jvp = tg.jvp(f, inputs_of(arrays, packed), inputs_of(us, packed))
    expected = [sum(contract(J[k][i], u, u.ndim) for i, u in enumerate(us)) for k in range(len(outs))]
    assert_close(numbers(as_list(jvp)), expected, TOL)


@given(problem=problems(), data=st.data())
def test_hessian_and_hvp_against_central_differences_of_the_gradient(problem, data):
    name, f, arrays, packed = problem
    weights = [data.draw(tgt.arrays(o.shape)) for o in evaluate(f, arrays)]
    s = scalar_of(f, weights)

    def gradient(*xs):
        return tg.grad(s(*xs), list(xs), create_graph=True, allow_unused=True)

    def dense_gradient(*xs):  # zeros for inputs s does not use, as the transforms give
        return tuple(Tensor(np.zeros(x.shape)) if g is None else g for g, x in zip(gradient(*xs), xs))

    leaves = lambda arrays: [Tensor(a, requires_grad=True) for a in arrays]  # noqa: E731
    H = numerical_jacobian(lambda *xs: dense_gradient(*leaves([x.numpy() for x in xs])), arrays)
    ours = tg.hessian(s, inputs_of(arrays, packed))
    ours = [as_list(row) for row in as_list(ours)] if packed else [[ours]]
    assert_close(numbers(ours), H, TOL)

    us = [data.draw(tgt.arrays(a.shape)) for a in arrays]
    _, hv = tg.hvp(s, inputs_of(arrays, packed), inputs_of(us, packed))
    expected = [sum(contract(H[i][j], u, u.ndim) for j, u in enumerate(us)) for i in range(len(arrays))]
    assert_close(numbers(as_list(hv)), expected, TOL)


# ---- PyTorch --------------------------------------------------------------------------------------


@needs_torch
@given(problem=problems(), data=st.data())
def test_every_transform_matches_torch_autograd_functional(problem, data):
    name, f, arrays, packed = problem
    ours_in, torch_in = (lambda: inputs_of(arrays, packed)), (lambda: inputs_of(arrays, packed, torch))
    assert_close(numbers(tg.jacobian(f, ours_in())), numbers(TF.jacobian(f, torch_in())), EXACT)

    outs = evaluate(f, arrays)
    vs = [data.draw(tgt.arrays(o.shape)) for o in outs]
    pick = (lambda ts: tuple(ts)) if len(outs) > 1 else (lambda ts: ts[0])
    ours = tg.vjp(f, ours_in(), pick([Tensor(v) for v in vs]))
    theirs = TF.vjp(f, torch_in(), pick([torch.tensor(v) for v in vs]))
    assert_close(numbers(ours), numbers(theirs), EXACT)

    us = [data.draw(tgt.arrays(a.shape)) for a in arrays]
    ours = tg.jvp(f, ours_in(), inputs_of(us, packed))
    theirs = TF.jvp(f, torch_in(), inputs_of(us, packed, torch))
    assert_close(numbers(ours), numbers(theirs), EXACT)

    s = scalar_of(f, [data.draw(tgt.arrays(o.shape)) for o in outs])
    assert_close(numbers(tg.hessian(s, ours_in())), numbers(TF.hessian(s, torch_in())), EXACT)
    ours = tg.hvp(s, ours_in(), inputs_of(us, packed))
    theirs = TF.hvp(s, torch_in(), inputs_of(us, packed, torch))
    assert_close(numbers(ours), numbers(theirs), EXACT)


@needs_torch
def test_create_graph_gives_third_derivatives_like_torch():
    """d/dx <H(x) v, 1> for sum(x⁴ y): the result of hvp(create_graph=True) is differentiable again."""
    a, b, v = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.3, -0.7]), np.array([1.0, 2.0, -1.0])

    def f(x, y):
        return (x**4 * y).sum()

    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    _, (hx, hy) = tg.hvp(f, (x, y), (Tensor(v), Tensor(v)), create_graph=True)
    ours = tg.grad((hx.sum() + hy.sum()), [x, y])
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    _, (thx, thy) = TF.hvp(f, (tx, ty), (torch.tensor(v), torch.tensor(v)), create_graph=True)
    theirs = torch.autograd.grad(thx.sum() + thy.sum(), [tx, ty])
    assert_close(numbers(list(ours)), numbers(list(theirs)), EXACT)


# ---- closed forms: the three models ----------------------------------------------------------------------


def test_hessian_of_the_logistic_loss_is_the_closed_form():
    """H = X₁ᵀ S X₁ / n (+ λ on w): reference.logistic_hessian, written by hand."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    w, b, l2 = rng.standard_normal(3), 0.3, 0.1

    def loss(w, b):
        return F.binary_cross_entropy_with_logits(X @ w + b, y) + 0.5 * l2 * (w * w).sum()

    (Hww, Hwb), (Hbw, Hbb) = tg.hessian(loss, (Tensor(w), Tensor(b)))
    H = np.block([[Hww.numpy(), Hwb.numpy()[:, None]], [Hbw.numpy()[None, :], Hbb.numpy().reshape(1, 1)]])
    np.testing.assert_allclose(H, reference.logistic_hessian(X, w, b, l2), **EXACT)


def test_hvp_of_the_softmax_loss_is_the_closed_form_product():
    from tinygrad_lr.solvers import closed_form_hvp

    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((15, 4)), rng.integers(0, 3, 15)
    model = models.SoftmaxRegression(4, 3, seed=2)
    v_W, v_b = rng.standard_normal((4, 3)), rng.standard_normal(3)

    def loss(W, b):
        return F.cross_entropy(X @ W + b, y) + 0.5 * 0.05 * (W * W).sum()

    _, (hW, hb) = tg.hvp(loss, (model.W, model.b), (Tensor(v_W), Tensor(v_b)))
    expected = closed_form_hvp(model, Tensor(X), [model.W, model.b], 0.05)(np.concatenate([v_W.ravel(), v_b]))
    np.testing.assert_allclose(np.concatenate([hW.numpy().ravel(), hb.numpy()]), expected, **EXACT)


def test_mlp_hessian_is_symmetric_and_agrees_with_hvp():
    """Two routes to the MLP's curvature over W0: the full Hessian times v, and hvp (no Hessian formed)."""
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((6, 2)), rng.integers(0, 2, 6)
    model = models.MLP([2, 3, 2], seed=1)
    v = rng.standard_normal((2, 3))

    def loss(W0):
        return F.cross_entropy((X @ W0 + model.b0).tanh() @ model.W1 + model.b1, y)

    H = tg.hessian(loss, model.W0).numpy().reshape(6, 6)
    np.testing.assert_allclose(H, H.T, atol=1e-14)
    _, hv = tg.hvp(loss, model.W0, Tensor(v))
    np.testing.assert_allclose(hv.numpy().ravel(), H @ v.ravel(), **EXACT)


# ---- structure and side effects ------------------------------------------------------------------------


def test_results_have_the_inputs_structure_and_no_graph_without_create_graph():
    x, y = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    out, g = tg.vjp(lambda x: x * 2, x, Tensor(np.ones((2, 3))))
    assert isinstance(g, Tensor) and g.shape == (2, 3) and not g.requires_grad and not out.requires_grad
    _, gs = tg.vjp(lambda x, y: (x * y).sum(), (x, y))
    assert isinstance(gs, tuple) and [g.shape for g in gs] == [(2, 3), (3,)]
    J = tg.jacobian(lambda x, y: x * y, (x, y))
    assert [j.shape for j in J] == [(2, 3, 2, 3), (2, 3, 3)]
    H = tg.hessian(lambda x, y: (x * y).sum(), (x, y))
    assert [[h.shape for h in row] for row in H] == [[(2, 3, 2, 3), (2, 3, 3)], [(3, 2, 3), (3, 3)]]
    assert x.grad is None and y.grad is None  # the transforms return gradients, they never accumulate


def test_inputs_are_not_changed_and_need_not_require_grad():
    a = np.array([1.0, -2.0, 0.5])
    x = Tensor(a.copy())
    _, g = tg.vjp(lambda t: (t**3).sum(), x)
    np.testing.assert_allclose(g.numpy(), 3 * a**2)
    np.testing.assert_array_equal(x.numpy(), a)
    assert not x.requires_grad and x.grad is None


def test_works_inside_no_grad():
    with tg.no_grad():
        _, g = tg.vjp(lambda t: (t * t).sum(), Tensor([3.0]))
    assert g.item() == 6.0


def test_jvp_of_a_difference_and_of_the_identity():
    """The double-backward trick's pass-through cases: J v for x - y is vx - vy; for x it is v."""
    x, y = Tensor([1.0, 2.0]), Tensor([5.0, 7.0])
    vx, vy = Tensor([1.0, 10.0]), Tensor([100.0, 1000.0])
    _, d = tg.jvp(lambda x, y: x - y, (x, y), (vx, vy))
    np.testing.assert_array_equal(d.numpy(), [-99.0, -990.0])
    _, d = tg.jvp(lambda x: x, x, vx)
    np.testing.assert_array_equal(d.numpy(), [1.0, 10.0])
