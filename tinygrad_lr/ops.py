"""The primitive ops: each ``forward`` (NumPy) sits next to its ``backward`` (Tensors).

Backward rules use Tensor operations only, so with ``create_graph=True`` they are
recorded and can be differentiated again. Gradients may come back in the
broadcast shape; ``autograd.unbroadcast`` sums them to each input's shape.
Inputs whose gradient is not needed (``ctx.needs_input_grad``) get ``None``.

A few ops on the hot paths of the three models also have ``backward_arrays``: the
same rule written on plain arrays, which the engine runs in first-order passes
(no Tensor objects per step). ``tests/test_array_rules.py`` proves each equal to
its definition.
"""

from __future__ import annotations

import numpy as np

from .autograd import Function

# ---- elementwise binary -------------------------------------------------------


class Add(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, y):
        return x - y

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)


class Mul(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        return (grad * y if need_x else None), (grad * x if need_y else None)

    @staticmethod
    def backward_arrays(ctx, grad):
        x, y = ctx.saved_arrays
        need_x, need_y = ctx.needs_input_grad
        return (np.asarray(grad * y) if need_x else None), (np.asarray(grad * x) if need_y else None)


class Div(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x / y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        return (grad / y if need_x else None), (-grad * x / (y * y) if need_y else None)


class Pow(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, p):
        out = x**p
        ctx.save_for_backward(x, p, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        """p·x^(p-1) and x^p·log x, with PyTorch's and HIPS's masks at 0: d/dx 0^0 = 0 and
        d/dp 0^p = 0 for p >= 0 (the base is shifted off 0 there, so no 0·inf makes a NaN)."""
        x, p, out = ctx.saved_tensors
        need_x, need_p = ctx.needs_input_grad
        gx = gp = None
        if need_x:
            zero_power = (p.data == 0) & (x.data == 0)
            gx = grad * p * (x + zero_power if zero_power.any() else x) ** (p - 1)
        if need_p:
            base_zero = (x.data == 0) & (p.data >= 0)
            gp = grad * out * (x + base_zero if base_zero.any() else x).log()
        return gx, gp


# ---- elementwise unary ----------------------------------------------------------


class Neg(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Exp(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        out = np.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out


class Log(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / x


class Tanh(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (1 - out * out)

    @staticmethod
    def backward_arrays(ctx, grad):
        """The same rule in one buffer (the MLP's hidden layers)."""
        (out,) = ctx.saved_arrays
        d = np.multiply(out, out, out=np.empty(out.shape, out.dtype))  # out=: an array even when 0-d
        np.subtract(1, d, out=d)
        d *= grad
        return d


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """1/(1+exp(-x)) as exp(x - softplus(x)): the exponent is never positive, so no overflow."""
    return np.exp(x - np.logaddexp(0.0, x))


class Sigmoid(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        out = stable_sigmoid(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * (1 - out)


class Relu(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x > 0)


class Cast(Function):
    __slots__ = ("dtype",)

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.dtype)


# ---- linear algebra ---------------------------------------------------------------


def _matmul_error(sa: tuple[int, ...], sb: tuple[int, ...]) -> str:
    if not sa or not sb:
        return f"matmul: shapes {sa} and {sb}: scalars cannot be matrix-multiplied (use *)"
    k_b = sb[-2] if len(sb) > 1 else sb[0]
    if sa[-1] != k_b:
        dims = f"{sa[-1]} (dim {len(sa) - 1}) != {k_b} (dim {max(len(sb) - 2, 0)})"
        return f"matmul: shapes {sa} and {sb} are not aligned ({dims})"
    return f"matmul: shapes {sa} and {sb}: batch dimensions {sa[:-2]} and {sb[:-2]} do not broadcast"


def _swap_last(t):
    return t.T if t.ndim == 2 else t.transpose(*range(t.ndim - 2), t.ndim - 1, t.ndim - 2)


def _as_matrices(grad, a, b):
    """Vectors as a row (a) or a column (b), and ``grad`` reshaped to match (Tensors or arrays alike)."""
    a2 = a if a.ndim > 1 else a.reshape(1, -1)
    b2 = b if b.ndim > 1 else b.reshape(-1, 1)
    if a.ndim == 1:
        grad = grad.reshape(*grad.shape[:-1], 1, grad.shape[-1]) if b.ndim > 1 else grad.reshape(1, 1)
    elif b.ndim == 1:
        grad = grad.reshape(*grad.shape, 1)
    return grad, a2, b2


def _matmul_grad_a(grad, a, b):
    """d(a @ b)/da applied to ``grad``: grad @ bᵀ."""
    if a.ndim == 2 and b.ndim == 1:  # X @ w, the logistic-regression case: an outer product
        return grad.reshape(-1, 1) * b
    g, _, b2 = _as_matrices(grad, a, b)
    ga = g @ _swap_last(b2)
    return ga.reshape(*ga.shape[:-2], ga.shape[-1]) if a.ndim == 1 else ga


def _matmul_grad_b(grad, a, b):
    """d(a @ b)/db applied to ``grad``: aᵀ @ grad."""
    if a.ndim == 2 and b.ndim == 1:  # Xᵀg = gX, no reshapes
        return grad @ a
    g, a2, _ = _as_matrices(grad, a, b)
    gb = _swap_last(a2) @ g
    return gb.reshape(*gb.shape[:-1]) if b.ndim == 1 else gb


class MatMul(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            return a @ b
        except ValueError:  # explain NumPy's gufunc message in terms of the two shapes
            raise ValueError(_matmul_error(a.shape, b.shape)) from None

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (_matmul_grad_a(grad, a, b) if need_a else None), (_matmul_grad_b(grad, a, b) if need_b else None)

    @staticmethod
    def backward_arrays(ctx, grad):
        """The same two rules on arrays: the 2-D cases straight to BLAS, the rest through the shared helpers."""
        a, b = ctx.saved_arrays
        need_a, need_b = ctx.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:  # straight to BLAS
            return (grad @ b.T if need_a else None), (a.T @ grad if need_b else None)
        if a.ndim == 2 and b.ndim == 1:
            return (np.outer(grad, b) if need_a else None), (grad @ a if need_b else None)
        return (_matmul_grad_a(grad, a, b) if need_a else None), (_matmul_grad_b(grad, a, b) if need_b else None)


# ---- reductions ------------------------------------------------------------------


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    __slots__ = ("in_shape", "axis", "keepdims")

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        ctx.in_shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        return Expand.apply(grad, axis=ctx.axis, keepdims=ctx.keepdims, shape=ctx.in_shape)


class Expand(Function):
    """The adjoint of Sum: copy ``x`` along ``axis`` up to ``shape`` (a read-only view)."""

    __slots__ = ("axis", "keepdims")
    is_view = True

    @staticmethod
    def forward(ctx, x, axis, keepdims, shape):
        ctx.axis, ctx.keepdims = axis, keepdims
        return np.broadcast_to(x if keepdims else x.reshape(_kept_shape(shape, axis)), shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.sum(axis=ctx.axis, keepdims=ctx.keepdims)


class Max(Function):
    """Ties share the gradient equally, so the rule is symmetric in the tied entries."""

    __slots__ = ("kept", "axis")

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        kept = x.max(axis=axis, keepdims=True)
        ctx.save_for_backward(x)
        ctx.kept, ctx.axis = kept, axis
        return kept if keepdims else kept.reshape([n for i, n in enumerate(kept.shape) if i not in axis])

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        mask = x.data == ctx.kept
        share = mask / mask.sum(axis=ctx.axis, keepdims=True)
        return grad.reshape(ctx.kept.shape) * share.astype(x.dtype)


# ---- shape --------------------------------------------------------------------------


class Reshape(Function):
    __slots__ = ("in_shape",)
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape)


class Transpose(Function):
    __slots__ = ("axes",)
    is_view = True

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, grad):
        return grad.T if ctx.axes is None else grad.transpose(*np.argsort(ctx.axes))


# ---- indexing -------------------------------------------------------------------------


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, slice | int | np.integer) or i is None or i is Ellipsis for i in items)


def _own_index(index):
    """The index with its arrays copied: a user changing them later must not change the gradient."""
    if isinstance(index, np.ndarray):
        return index.copy()
    if isinstance(index, tuple):
        return tuple(i.copy() if isinstance(i, np.ndarray) else i for i in index)
    return index


class GetItem(Function):
    __slots__ = ("in_shape", "index")
    is_view = True  # basic indexing; the engine checks whether the output really is a view

    @staticmethod
    def forward(ctx, x, index):
        ctx.in_shape, ctx.index = x.shape, _own_index(index)
        return x[index]

    @staticmethod
    def backward(ctx, grad):
        return IndexAdd.apply(grad, index=ctx.index, shape=ctx.in_shape)


class IndexAdd(Function):
    """Scatter ``grad`` into zeros of ``shape``; repeated integer indices accumulate."""

    __slots__ = ("index",)

    @staticmethod
    def forward(ctx, grad, index, shape):
        ctx.index = index
        out = np.zeros(shape, dtype=grad.dtype)
        if _is_basic(index):
            out[index] = grad
        else:
            np.add.at(out, index, grad)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.index]
