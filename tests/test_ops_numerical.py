"""Every differentiable op and composite, first and second order, against central differences.

Shapes, broadcasting partners, axes, keepdims and indices are drawn by Hypothesis
(``tinygrad_lr.testing``); values are float64 and kept off kinks and poles.
"""

import numpy as np
import pytest
from helpers import SMALL, check
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lr.functional as F
from tinygrad_lr import Tensor
from tinygrad_lr import testing as tgt
from tinygrad_lr.ops import IndexAdd

# ---- elementwise binary, over broadcastable shape pairs ------------------------------------

BINARY = {
    "add": (lambda x, y: x + y, None, None),
    "sub": (lambda x, y: x - y, None, None),
    "mul": (lambda x, y: x * y, None, None),
    "div": (lambda x, y: x / y, None, lambda a: tgt.away_from_zero(a, 0.5)),
    "pow": (lambda x, y: x**y, lambda a: tgt.positive(a, 0.2), None),
}


@pytest.mark.parametrize("op", sorted(BINARY))
@given(data=st.data())
def test_binary_op_broadcasting(op, data):
    f, fix_x, fix_y = BINARY[op]
    sx, sy = data.draw(tgt.broadcastable_shapes(2, **SMALL))
    x = data.draw(tgt.arrays(sx))
    y = data.draw(tgt.arrays(sy, -2.0, 2.0))
    check(f, fix_x(x) if fix_x else x, fix_y(y) if fix_y else y)


SCALAR_SIDES = {
    "radd": lambda x: 2.5 + x,
    "rsub": lambda x: 2.5 - x,
    "rmul": lambda x: 2.5 * x,
    "rdiv": lambda x: 2.5 / x,
    "rpow": lambda x: 1.7**x,
    "pow-int": lambda x: x**3,
    "pow-half": lambda x: x**0.5,
    "pow-negative": lambda x: x**-1.5,
    "sqrt": lambda x: x.sqrt(),
    "array-on-left": lambda x: np.arange(1.0, 1.0 + x.shape[-1]) * x if x.ndim else x * 1.5,
}


@pytest.mark.parametrize("op", sorted(SCALAR_SIDES))
@given(x=tgt.arrays(tgt.shapes(**SMALL)).map(tgt.positive))
def test_constants_on_either_side(op, x):
    check(SCALAR_SIDES[op], x)


# ---- elementwise unary ------------------------------------------------------------------------

UNARY = {
    "neg": (lambda x: -x, None),
    "exp": (lambda x: x.exp(), None),
    "log": (lambda x: x.log(), tgt.positive),
    "tanh": (lambda x: x.tanh(), None),
    "sigmoid": (lambda x: x.sigmoid(), None),
    "relu": (lambda x: x.relu(), tgt.away_from_zero),
    "cast-float64": (lambda x: x.astype(np.float64), None),
    "softplus": (F.softplus, None),
    "functional-sigmoid": (F.sigmoid, None),
}


@pytest.mark.parametrize("op", sorted(UNARY))
@given(x=tgt.arrays(tgt.shapes(**SMALL)))
def test_unary_op(op, x):
    f, fix = UNARY[op]
    check(f, fix(x) if fix else x)


def test_cast_backward_returns_the_input_dtype():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x.astype(np.float32)
    (y * y).sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


# ---- matmul, all rank combinations --------------------------------------------------------------


@given(data=st.data())
def test_matmul(data):
    sa, sb = data.draw(tgt.shape_pairs_for_matmul(max_side=3))
    check(lambda a, b: a @ b, data.draw(tgt.arrays(sa)), data.draw(tgt.arrays(sb)))


def test_matmul_non_square_needs_the_transpose():
    """(2, 3) @ (3, 4): a dropped transpose in backward cannot even produce the right shapes."""
    rng = np.random.default_rng(0)
    check(lambda a, b: a @ b, rng.standard_normal((2, 3)), rng.standard_normal((3, 4)))


# ---- reductions -------------------------------------------------------------------------------------

REDUCTIONS = {
    "sum": (lambda x, axis, keep: x.sum(axis=axis, keepdims=keep), None),
    "mean": (lambda x, axis, keep: x.mean(axis=axis, keepdims=keep), None),
    "max": (lambda x, axis, keep: x.max(axis=axis, keepdims=keep), tgt.untied),
    "min": (lambda x, axis, keep: x.min(axis=axis, keepdims=keep), tgt.untied),
    "logsumexp": (lambda x, axis, keep: F.logsumexp(x, axis=axis, keepdims=keep), None),
}


@pytest.mark.parametrize("op", sorted(REDUCTIONS))
@given(data=st.data())
def test_reduction_over_axes(op, data):
    f, fix = REDUCTIONS[op]
    x = data.draw(tgt.arrays(tgt.shapes(min_dims=1 if op == "logsumexp" else 0, **SMALL)))
    if op == "logsumexp":
        axis, keep = data.draw(st.integers(-x.ndim, x.ndim - 1)), data.draw(st.booleans())
    else:
        axis, keep = data.draw(tgt.axes_and_keepdims(x.ndim))
    check(lambda t: f(t, axis, keep), fix(x) if fix else x)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@given(data=st.data())
def test_softmax_family_per_axis(op, data):
    x = data.draw(tgt.arrays(tgt.shapes(min_dims=1, **SMALL)))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    check(lambda t: getattr(F, op)(t, axis=axis), x)


# ---- shape ops --------------------------------------------------------------------------------------


@given(data=st.data())
def test_reshape(data):
    x = data.draw(tgt.arrays(tgt.shapes(**SMALL)))
    factors = [n for n in range(1, x.size + 1) if x.size % n == 0]
    first = data.draw(st.sampled_from(factors))
    check(lambda t: t.reshape(first, -1) * np.arange(x.size).reshape(first, -1), x)


@given(data=st.data())
def test_transpose(data):
    x = data.draw(tgt.arrays(tgt.shapes(min_dims=1, **SMALL)))
    perm = data.draw(st.permutations(range(x.ndim)))
    weights = np.arange(x.size, dtype=np.float64).reshape(x.transpose(perm).shape)
    check(lambda t: t.transpose(*perm) * weights, x)
    check(lambda t: t.T * weights.reshape(x.T.shape), x)


@pytest.mark.parametrize("perm", [(1, 2, 0), (2, 0, 1), (0, 2, 1)])
def test_transpose_needs_the_inverse_permutation(perm):
    """A 3-cycle is not its own inverse, and unequal sides make a wrong one visible."""
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    weights = np.arange(24.0).reshape(x.transpose(perm).shape)
    check(lambda t: t.transpose(*perm) * weights, x)


@given(data=st.data())
def test_broadcast_to(data):
    small, big = data.draw(tgt.broadcastable_shapes(2, **SMALL))
    target = np.broadcast_shapes(small, big)
    weights = np.arange(1.0, 1.0 + np.prod(target)).reshape(target)
    check(lambda t: t.broadcast_to(target) * weights, data.draw(tgt.arrays(small)))


@given(data=st.data())
def test_getitem_basic(data):
    x = data.draw(tgt.arrays(tgt.shapes(**SMALL)))
    index = data.draw(tgt.basic_indices(x.shape))
    check(lambda t: t[index], x)


@given(data=st.data())
def test_getitem_integer_arrays_accumulates_repeats(data):
    x = data.draw(tgt.arrays(tgt.shapes(min_dims=1, **SMALL)))
    index = data.draw(tgt.integer_array_indices(x.shape))
    check(lambda t: t[index] * t[index], x)


def test_getitem_repeated_index_counts_every_use():
    x = np.array([1.0, 2.0, 3.0])
    check(lambda t: t[np.array([0, 0, 2, 0])], x)
    t = Tensor(x, requires_grad=True)
    t[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [3.0, 0.0, 1.0])


@given(data=st.data())
def test_index_add(data):
    shape = data.draw(tgt.shapes(min_dims=1, **SMALL))
    index = data.draw(tgt.indices(shape))
    taken_shape = np.zeros(shape)[index].shape
    check(lambda g: IndexAdd.apply(g, index=index, shape=shape) ** 2, data.draw(tgt.arrays(taken_shape)))


# ---- losses -------------------------------------------------------------------------------------------


@given(data=st.data())
def test_cross_entropy(data):
    n, c = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 4))
    labels = data.draw(tgt.labels(n, c))
    check(lambda z: F.cross_entropy(z, labels), data.draw(tgt.arrays((n, c))))


@given(data=st.data())
def test_binary_cross_entropy_with_logits(data):
    shape = data.draw(tgt.shapes(**SMALL))
    targets = data.draw(tgt.arrays(shape, 0.0, 1.0))
    logits = data.draw(tgt.arrays(shape))
    check(lambda z: F.binary_cross_entropy_with_logits(z, targets), logits)
    check(F.binary_cross_entropy_with_logits, logits, targets)  # soft targets are differentiable too


@given(data=st.data())
def test_mse_and_l2(data):
    shape = data.draw(tgt.shapes(**SMALL))
    x, y = data.draw(tgt.arrays(shape)), data.draw(tgt.arrays(shape))
    check(F.mse, x, y)
    check(lambda a, b: F.l2([a, b]), x, y)


def test_losses_are_finite_with_finite_gradients_at_huge_logits():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]])
    for f in [lambda t: F.cross_entropy(t, np.array([1, 1])), lambda t: F.binary_cross_entropy_with_logits(t, z > 0)]:
        t = Tensor(z, requires_grad=True)
        loss = f(t)
        loss.backward()
        assert np.isfinite(loss.item()) and np.all(np.isfinite(t.grad.numpy()))


# ---- a whole model expression -----------------------------------------------------------------------


@given(data=st.data())
def test_model_expression(data):
    n, d, h, c = (data.draw(st.integers(1, 4)) for _ in range(4))
    X = data.draw(tgt.arrays((n, d)))
    labels = data.draw(tgt.labels(n, c))

    def loss(W0, b0, W1, b1):
        return F.cross_entropy((X @ W0 + b0).tanh() @ W1 + b1, labels) + 0.05 * F.l2([W0, W1])

    check(loss, *(data.draw(tgt.arrays(s)) for s in [(d, h), (h,), (h, c), (c,)]))
