"""User-defined ops through tg.Function: forward on arrays, backward on Tensors."""

import numpy as np
import pytest

import tinygrad_lr as tg
from tinygrad_lr import Tensor


class Square(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


class ScaledDot(tg.Function):
    """Two inputs and a keyword option that is not differentiated."""

    @staticmethod
    def forward(ctx, a, b, scale=1.0):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        return scale * (a * b).sum()

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad * b * ctx.scale, grad * a * ctx.scale


def test_custom_function_first_and_second_order():
    t = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = Square.apply(t)
    np.testing.assert_array_equal(y.numpy(), [1.0, 4.0, 9.0])
    (g,) = tg.grad(y.sum(), t, create_graph=True)
    np.testing.assert_array_equal(g.numpy(), [2.0, -4.0, 6.0])
    (h,) = tg.grad(g.sum(), t)
    np.testing.assert_array_equal(h.numpy(), [2.0, 2.0, 2.0])


def test_custom_function_with_options_and_constant_inputs():
    a = Tensor([1.0, 2.0], requires_grad=True)
    out = ScaledDot.apply(a, np.array([3.0, 4.0]), scale=0.5)
    assert out.item() == 0.5 * 11
    out.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.5, 2.0])


def test_custom_function_wrong_number_of_gradients_is_reported():
    class Bad(tg.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            return grad

    a = Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="bad: backward returned 1 gradients for 2 inputs"):
        Bad.apply(a, a).sum().backward()


def test_custom_function_wrong_gradient_shape_is_reported():
    class BadShape(tg.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, grad):
            return Tensor(np.ones(5))

    a = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"badshape.*\(5,\).*input 0 of shape \(3,\)"):
        BadShape.apply(a).sum().backward()


def test_saved_arrays_are_the_plain_arrays_and_refuse_after_the_graph_is_freed():
    seen = []

    class Cube(tg.Function):  # no __slots__: a user op keeps its own __dict__
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            ctx.note = "kept"
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_arrays
            seen.append((type(x), ctx.note))
            return Tensor(3 * x**2) * grad

    t = Tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(t).sum()
    y.backward()
    np.testing.assert_array_equal(t.grad.numpy(), [3.0, 12.0])
    assert seen == [(np.ndarray, "kept")]
    with pytest.raises(tg.GraphFreedError, match="cube: its saved values were freed"):
        y.backward()
