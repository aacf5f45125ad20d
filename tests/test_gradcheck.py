"""gradcheck itself: it passes correct hand-derived ops and fails, readably, on wrong ones."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given

import tinygrad_lr as tg
import tinygrad_lr.functional as F
from tinygrad_lr import Tensor
from tinygrad_lr import testing as tgt
from tinygrad_lr.gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_grad

N_SAMPLES, N_FEATURES = 7, 3  # non-square: n_samples != n_features


def logistic_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES))
    y = (rng.random(N_SAMPLES) > 0.5).astype(np.float64)
    return X, y


def logistic_loss_op(divide_by):
    """Mean logistic loss of weights w as a custom op; its backward divides by ``divide_by(X)``."""

    class LogisticLoss(tg.Function):
        @staticmethod
        def forward(ctx, w, X, y):
            ctx.save_for_backward(w, X, y)
            z = X @ w
            return np.mean(np.logaddexp(0, z) - y * z)

        @staticmethod
        def backward(ctx, grad):
            w, X, y = ctx.saved_tensors
            return X.T @ ((X @ w).sigmoid() - y) * (grad / divide_by(X.data)), None, None

    return LogisticLoss


def assert_fails_readably(excinfo, index, name):
    err = excinfo.value
    message = str(err)
    assert isinstance(err, AssertionError)
    assert err.input_index == index and err.input_name == name
    assert f"input {index} '{name}'" in message
    assert f"analytic {err.analytic!r} vs numerical {err.numerical!r}" in message
    assert "worst relative error" in message
    assert abs(err.analytic - err.numerical) > 1e-3
    return err


def test_passes_a_correct_logistic_regression_gradient():
    X, y = logistic_data()
    op = logistic_loss_op(lambda X: X.shape[0])
    w = Tensor(np.random.default_rng(1).standard_normal(N_FEATURES), requires_grad=True, name="w")
    assert gradcheck(lambda w: op.apply(w, X, y), [w])
    assert gradgradcheck(lambda w: op.apply(w, X, y), [w])


def test_fails_when_dividing_by_n_features_instead_of_n_samples():
    X, y = logistic_data()
    op = logistic_loss_op(lambda X: X.shape[1])
    w = Tensor(np.random.default_rng(1).standard_normal(N_FEATURES), requires_grad=True, name="w")
    with pytest.raises(GradcheckError) as excinfo:
        gradcheck(lambda w: op.apply(w, X, y), [w])
    err = assert_fails_readably(excinfo, 0, "w")
    assert err.element in [(j,) for j in range(N_FEATURES)]
    np.testing.assert_allclose(err.analytic / err.numerical, N_SAMPLES / N_FEATURES, rtol=1e-6)
    assert not gradcheck(lambda w: op.apply(w, X, y), [w], raise_exception=False)


class MatMulDroppedTranspose(tg.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad @ b, a.T @ grad  # grad @ b.T is right


class MatMulFlippedSign(tg.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad @ b.T, -(a.T @ grad)


class MatMulCorrect(tg.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad @ b.T, a.T @ grad


def square_inputs(seed=0):
    rng = np.random.default_rng(seed)
    return [Tensor(rng.standard_normal((3, 3)), requires_grad=True, name=n) for n in "ab"]


def test_passes_a_correct_matmul_first_and_second_order():
    assert gradcheck(MatMulCorrect.apply, square_inputs())
    assert gradgradcheck(MatMulCorrect.apply, square_inputs())


@pytest.mark.parametrize("op, bad_index, bad_name", [(MatMulDroppedTranspose, 0, "a"), (MatMulFlippedSign, 1, "b")])
def test_fails_on_a_dropped_transpose_and_a_flipped_sign(op, bad_index, bad_name):
    with pytest.raises(GradcheckError) as excinfo:
        gradcheck(op.apply, square_inputs())
    err = assert_fails_readably(excinfo, bad_index, bad_name)
    assert "full Jacobian" in str(err) and "d output[" in str(err)


def test_large_outputs_are_checked_by_a_random_vector_jacobian_product():
    rng = np.random.default_rng(0)
    a = Tensor(rng.standard_normal((8, 6)), requires_grad=True, name="a")
    b = Tensor(rng.standard_normal((6, 6)), requires_grad=True, name="b")  # 48 outputs: no full Jacobian
    assert gradcheck(MatMulCorrect.apply, [a, b])
    with pytest.raises(GradcheckError, match="vector-Jacobian product") as excinfo:
        gradcheck(MatMulFlippedSign.apply, [a, b])
    assert excinfo.value.input_name == "b"


class SquareDetached(tg.Function):
    """Right first derivative, but the backward cuts x out of the graph: no second derivative."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x.detach() * grad


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True, name="x")
    assert gradcheck(SquareDetached.apply, [x])
    with pytest.raises(GradcheckError, match="gradgradcheck") as excinfo:
        gradgradcheck(SquareDetached.apply, [x])
    assert excinfo.value.input_name == "x"


class ExpWrongWhenRecording(tg.Function):
    """Right in the plain first-order pass, wrong (by a factor 2) when create_graph records it."""

    @staticmethod
    def forward(ctx, x):
        out = np.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * (2.0 if tg.is_grad_enabled() else 1.0)


def test_gradgradcheck_checks_the_values_of_the_recorded_gradient():
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True, name="x")
    assert gradcheck(ExpWrongWhenRecording.apply, [x])
    with pytest.raises(GradcheckError, match="create_graph=True"):
        gradgradcheck(ExpWrongWhenRecording.apply, [x])


class MutatesUpstream(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return 3 * x

    @staticmethod
    def backward(ctx, grad):
        grad.data *= 3
        return grad


def test_a_backward_that_mutates_the_upstream_gradient_is_caught():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="x")
    with pytest.raises(GradcheckError, match="mutated upstream gradient"):
        gradcheck(MutatesUpstream.apply, [x])


def test_numerical_grad_of_known_functions():
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    t = Tensor(x, requires_grad=True)
    (g,) = numerical_grad(lambda t: (t**3).sum(), [t])
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-8)
    v = np.array([[1.0, -2.0], [0.5, 3.0]])
    (g,) = numerical_grad(lambda t: t.exp(), t, grad_output=v)
    np.testing.assert_allclose(g, v * np.exp(x), rtol=1e-8)
    a = Tensor(x, requires_grad=True)
    c = Tensor(np.ones(2))  # no requires_grad: passed through, not differentiated
    ga, gc = numerical_grad(lambda a, c: (a @ c).sum(), [a, c])
    np.testing.assert_allclose(ga, np.ones((2, 2)), rtol=1e-8)
    assert gc is None


def test_numerical_grad_of_a_non_scalar_output_uses_a_seeded_random_upstream():
    x = Tensor(np.array([0.1, 0.2, 0.3]), requires_grad=True)
    f = F.softmax
    (g0,) = numerical_grad(f, [x], seed=0)
    (g0_again,) = numerical_grad(f, [x], seed=0)
    (ones,) = numerical_grad(f, [x], grad_output=np.ones(3))
    np.testing.assert_array_equal(g0, g0_again)
    assert np.abs(g0).max() > 1e-3  # an all-ones upstream gives ~0 for softmax
    np.testing.assert_allclose(ones, 0.0, atol=1e-9)


@given(x=tgt.arrays(tgt.shapes(max_side=3)))
def test_gradcheck_never_mutates_inputs_or_their_grad(x):
    before = x.copy()
    t = Tensor(x, requires_grad=True, name="x")
    data_before = t.data.copy()
    assert gradcheck(lambda t: (t * t).tanh(), [t])
    assert gradgradcheck(lambda t: (t * t).tanh(), [t])
    np.testing.assert_array_equal(x, before)
    np.testing.assert_array_equal(t.data, data_before)
    assert t.grad is None


def test_float32_is_refused_with_a_clear_error():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True, name="x")
    with pytest.raises(TypeError, match=r"input 0 'x' \(shape \(3,\)\) is float32"):
        gradcheck(lambda t: t * t, [x])
    y = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(TypeError, match="output 0 of f is float32"):
        gradcheck(lambda t: t.astype(np.float32), [y])


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="no input has requires_grad=True"):
        gradcheck(lambda t: t * 2, [Tensor(np.ones(2))])
    with pytest.raises(TypeError, match="must return a Tensor"):
        gradcheck(lambda t: t.data, [Tensor(np.ones(2), requires_grad=True)])
    with pytest.raises(ValueError, match="grad_output 0 has shape"):
        numerical_grad(lambda t: t * 2, [Tensor(np.ones(2), requires_grad=True)], grad_output=np.ones(3))


def test_multiple_outputs_and_constant_outputs():
    x = Tensor(np.array([0.4, -0.3]), requires_grad=True, name="x")
    assert gradcheck(lambda t: (t.exp(), t.sum() * 2, Tensor(np.ones(3))), [x])
    assert gradgradcheck(lambda t: (t.tanh(), t * 3), [x])
    with pytest.raises(GradcheckError, match=r"d output 0\["):
        gradcheck(lambda t: (MatMulFlippedSign.apply(t.reshape(1, 2), t.reshape(2, 1)), t * 3), [x])


def test_the_package_and_gradcheck_import_without_hypothesis():
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import tinygrad_lr, tinygrad_lr.gradcheck, tinygrad_lr.reference\n"
        "try:\n    import tinygrad_lr.testing\nexcept ImportError:\n    print('testing needs hypothesis')\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "testing needs hypothesis"
