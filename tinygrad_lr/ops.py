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
        return mul_grads_arrays(grad, *ctx.saved_arrays, *ctx.needs_input_grad)


def mul_grads_arrays(grad: np.ndarray, x: np.ndarray, y: np.ndarray, need_x: bool, need_y: bool) -> tuple:
    """Mul's rule on arrays (shared with tg.compile's kernels); broadcast shapes are summed by the caller."""
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
        return tanh_grad_arrays(grad, *ctx.saved_arrays)


def tanh_grad_arrays(grad: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Tanh's rule in one buffer (the MLP's hidden layers; shared with tg.compile's kernels)."""
    d = np.multiply(out, out, out=np.empty(out.shape, out.dtype))  # out=: an array even when 0-d
    np.subtract(1, d, out=d)
    d *= grad
    return d


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """1/(1+exp(-x)) as exp(-softplus(-x)): the exponent is never positive, so no overflow (and 1 at +inf)."""
    return np.exp(-np.logaddexp(0.0, -x))


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
        return matmul_grads_arrays(grad, *ctx.saved_arrays, *ctx.needs_input_grad)


def matmul_grads_arrays(grad: np.ndarray, a: np.ndarray, b: np.ndarray, need_a: bool, need_b: bool) -> tuple:
    """MatMul's two rules on arrays: the 2-D cases straight to BLAS, the rest through the helpers above."""
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


# ==== more ops (issue 13): NumPy's everyday functions ===================================
# Piecewise-constant factors (signs, masks, tie shares) are constants in backward: their
# own derivative is zero almost everywhere, so second order stays exact.


def _like(a, grad):
    """A constant factor in the gradient's dtype (float32 stays float32)."""
    return np.asarray(a, dtype=grad.dtype)


class Abs(Function):
    """|x|; the gradient at 0 is 0, as PyTorch's."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_arrays
        return grad * _like(np.sign(x), grad)


class _ZeroGradient(Function):
    """Piecewise-constant ops (sign, floor, ceil, round): the gradient is zero, not missing."""

    __slots__ = ()

    @staticmethod
    def backward(ctx, grad):
        return np.zeros(grad.shape, grad.dtype)


class Sign(_ZeroGradient):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        return np.sign(x)


class Floor(_ZeroGradient):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        return np.floor(x)


class Ceil(_ZeroGradient):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        return np.ceil(x)


class Round(_ZeroGradient):
    """Halves go to the even neighbour, as in NumPy and PyTorch."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, decimals):
        return np.round(x, decimals)


class Sin(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x.cos()


class Cos(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return -grad * x.sin()


class Log1p(Function):
    """log(1 + x), accurate for tiny x."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log1p(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (1 + x)


class Expm1(Function):
    """exp(x) - 1, accurate for tiny x."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        out = np.expm1(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out + 1)


class Log2(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log2(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (x * np.log(2.0))


class Log10(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log10(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (x * np.log(10.0))


class Exp2(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        out = np.exp2(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * np.log(2.0)


class Maximum(Function):
    """Elementwise max; at a tie each input gets half the gradient (PyTorch's rule)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.maximum(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_arrays
        share_x = (x > y) + 0.5 * (x == y)
        return grad * _like(share_x, grad), grad * _like(1 - share_x, grad)


class LogAddExp(Function):
    """log(exp(x) + exp(y)) without overflow; the gradients are sigmoid(x - y) and sigmoid(y - x)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.logaddexp(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        return (grad * (x - y).sigmoid() if need_x else None), (grad * (y - x).sigmoid() if need_y else None)


class Where(Function):
    """``x`` where ``condition`` holds, else ``y``; the condition is a constant boolean array."""

    __slots__ = ("condition",)

    @staticmethod
    def forward(ctx, x, y, condition):
        ctx.condition = condition
        return np.where(condition, x, y)

    @staticmethod
    def backward(ctx, grad):
        need_x, need_y = ctx.needs_input_grad
        return (
            Where.apply(grad, 0.0, condition=ctx.condition) if need_x else None,
            Where.apply(0.0, grad, condition=ctx.condition) if need_y else None,
        )


class Clip(Function):
    """``x`` limited to [low, high] (constants); the gradient passes where low <= x <= high, as in PyTorch."""

    __slots__ = ("inside",)

    @staticmethod
    def forward(ctx, x, low, high):
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        ctx.inside = inside
        return np.clip(x, low, high).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return grad * _like(ctx.inside, grad)


class Concatenate(Function):
    """Join tensors along ``axis``; each input's gradient is its slice of the output's."""

    __slots__ = ("axis", "bounds")

    @staticmethod
    def forward(ctx, *xs, axis):
        out = np.concatenate(xs, axis=axis)
        ctx.axis = axis % out.ndim
        ctx.bounds = np.cumsum([0] + [x.shape[ctx.axis] for x in xs])
        return out

    @staticmethod
    def backward(ctx, grad):
        lead = (slice(None),) * ctx.axis
        return tuple(
            grad[lead + (slice(int(start), int(stop)),)] if need else None
            for start, stop, need in zip(ctx.bounds[:-1], ctx.bounds[1:], ctx.needs_input_grad)
        )


class Prod(Function):
    """Product over ``axis`` (a tuple); the gradient is the product of the other entries.

    Without zeros that is prod / x (PyTorch's rule; its second derivative cancels to
    about eps·prod/x² for entries very near zero); with zeros it is formed exactly.
    """

    __slots__ = ("axis", "kept")

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        kept = np.prod(x, axis=axis, keepdims=True)
        ctx.axis, ctx.kept = axis, kept.shape
        out = kept if keepdims else kept.reshape([n for i, n in enumerate(kept.shape) if i not in axis])
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        grad = grad.reshape(ctx.kept)
        if np.all(x.data != 0):  # the usual case: prod / x
            return grad * out.reshape(ctx.kept) / x
        return grad * _product_of_others(x, ctx.axis)


def _product_of_others(x, axes: tuple[int, ...]):
    """For each entry, the product over ``axes`` of all the other entries (exact with zeros; n² memory)."""
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = x.transpose(*rest, *axes)
    n = int(np.prod([x.shape[a] for a in axes]))
    rows = moved.reshape(*moved.shape[: len(rest)], 1, n)
    eye = np.eye(n, dtype=x.dtype)
    others = (rows * (1 - eye) + eye).prod(axis=-1)  # row i: the entries with entry i replaced by 1
    return others.reshape(moved.shape).transpose(*np.argsort(rest + list(axes)))


class Cumsum(Function):
    """Running sum along ``axis``; its adjoint is the running sum from the other end."""

    __slots__ = ("axis",)

    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        return np.cumsum(x, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        return grad.flip(ctx.axis).cumsum(ctx.axis).flip(ctx.axis)


class Einsum(Function):
    """Einstein summation over explicit subscripts ``"ij,jk->ik"`` (no ``...``, no repeated index in a term).

    The gradient of operand k is the einsum of the output gradient with the other
    operands, written back to operand k's subscripts; an index summed in operand k
    alone is broadcast back.
    """

    __slots__ = ("terms", "output", "sizes")

    @staticmethod
    def forward(ctx, *operands, subscripts):
        ctx.save_for_backward(*operands)
        terms, ctx.output = subscripts.split("->")
        ctx.terms = terms.split(",")
        ctx.sizes = {c: n for term, x in zip(ctx.terms, operands) for c, n in zip(term, x.shape)}
        out = np.einsum(subscripts, *operands, optimize=True)  # BLAS where a contraction allows
        if any(np.may_share_memory(out, x) for x in operands):  # 'ij->ji' is a view: outputs own their memory
            out = out.copy()
        return out

    @staticmethod
    def backward(ctx, grad):
        xs = ctx.saved_tensors
        return tuple(_einsum_grad(ctx, grad, xs, k) if need else None for k, need in enumerate(ctx.needs_input_grad))


def _einsum_grad(ctx, grad, xs, k: int):
    others = [j for j in range(len(xs)) if j != k]
    seen = ctx.output + "".join(ctx.terms[j] for j in others)
    term = ctx.terms[k]
    kept = "".join(c for c in term if c in seen)
    inputs = ",".join([ctx.output] + [ctx.terms[j] for j in others])
    g = Einsum.apply(grad, *[xs[j] for j in others], subscripts=f"{inputs}->{kept}")
    if kept == term:
        return g
    return g.reshape(tuple(ctx.sizes[c] if c in kept else 1 for c in term)).broadcast_to(xs[k].shape)


class StdRoot(Function):
    """The square root that ends ``std``: at 0 (a constant sample) the gradient is 0, not inf, as in PyTorch."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        out = np.sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        spread = out.data > 0
        safe = Where.apply(out, 1.0, condition=spread)  # 1 where the spread is 0: no 1/0
        return Where.apply(grad / (2 * safe), 0.0, condition=spread)
