"""``Tensor``: a NumPy array that remembers the operation that made it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import autograd, ops

SUPPORTED_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def _asarray(data: Any, dtype: Any = None, op: str = "Tensor") -> np.ndarray:
    """``np.asarray``, with its conversion errors (ragged lists, ints beyond float range) named."""
    try:
        return np.asarray(data, dtype=dtype)
    except (ValueError, OverflowError) as e:
        raise ValueError(f"{op}: cannot make an array from the data given ({e})") from None


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    """float64 by default, float32 kept; refuse what cannot be differentiated."""
    if dtype is None and type(data) is np.ndarray and data.dtype in SUPPORTED_DTYPES:
        return data  # the common case (a batch each step): nothing to convert or check
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except (TypeError, ValueError):
            raise TypeError(f"Tensor: {dtype!r} is not a dtype; use float64 or float32") from None
        if dtype not in SUPPORTED_DTYPES:
            raise TypeError(f"Tensor: dtype {dtype} is not supported; use float64 or float32")
    arr = _asarray(data)
    kind = arr.dtype.kind
    if kind not in "fiub":
        # tolist() gives plain Python values: 'abc', not np.str_('abc')
        example = f" (e.g. {arr.ravel()[:1].tolist()[0]!r:.60})" if arr.size else ""
        raise TypeError(
            f"Tensor: cannot make a tensor from data of dtype {arr.dtype}{example}; only real numbers are supported"
        )
    if dtype is None:
        dtype = arr.dtype if arr.dtype in SUPPORTED_DTYPES else np.dtype(np.float64)
        if kind == "f" and arr.dtype not in SUPPORTED_DTYPES:
            raise TypeError(f"Tensor: dtype {arr.dtype} is not supported; use float64 or float32")
    return arr if arr.dtype == dtype else arr.astype(dtype)


class Tensor:
    """An n-dimensional array with an optional gradient and the node that made it.

    ``Tensor(array)`` shares memory with ``array``; with ``requires_grad=True`` it
    takes its own copy, so optimizers updating it in place never touch your array.
    """

    __slots__ = ("data", "grad", "requires_grad", "name", "_ctx", "__weakref__")
    __array_ufunc__ = None  # make NumPy defer to our reflected operators (ndarray + Tensor)

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        arr = _to_array(data, dtype)
        source = data.data if isinstance(data, Tensor) else data
        if requires_grad and isinstance(source, np.ndarray) and np.may_share_memory(arr, source):
            arr = arr.copy()
        self.data: np.ndarray = arr
        self.grad: Tensor | None = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._ctx: autograd.Function | None = None

    @classmethod
    def _make(cls, data: np.ndarray, ctx: autograd.Function | None) -> Tensor:
        """The fast path for op outputs: no conversion, no checks."""
        t = cls.__new__(cls)
        t.data = data
        t.grad = None
        t.requires_grad = ctx is not None
        t.name = None
        t._ctx = ctx
        return t

    # ---- factories -------------------------------------------------------
    @classmethod
    def zeros(
        cls, *shape: int, dtype: Any = np.float64, requires_grad: bool = False, name: str | None = None
    ) -> Tensor:
        return cls(np.zeros(_sizes(shape, "zeros")), dtype=dtype, requires_grad=requires_grad, name=name)

    @classmethod
    def ones(cls, *shape: int, dtype: Any = np.float64, requires_grad: bool = False, name: str | None = None) -> Tensor:
        return cls(np.ones(_sizes(shape, "ones")), dtype=dtype, requires_grad=requires_grad, name=name)

    @classmethod
    def randn(
        cls,
        *shape: int,
        seed: int | np.random.Generator | None = None,
        dtype: Any = np.float64,
        requires_grad: bool = False,
        name: str | None = None,
    ) -> Tensor:
        """Standard normal entries from ``np.random.default_rng(seed)``."""
        data = np.random.default_rng(seed).standard_normal(_sizes(shape, "randn"))
        return cls(data, requires_grad=requires_grad, name=name, dtype=dtype)

    # ---- plain properties --------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(
                f"item(): tensor of shape {self.shape} has {self.data.size} elements; item() needs exactly one"
            )
        return self.data.item()

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor._make(self.data, None)

    def zero_grad(self) -> None:
        self.grad = None

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self._ctx is not None:
            raise RuntimeError("requires_grad_: only leaf tensors can change requires_grad")
        self.requires_grad = requires_grad
        return self

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="Tensor(")
        extras = ""
        if self.data.dtype != np.float64:
            extras += f", dtype={self.data.dtype}"
        if self.requires_grad:
            extras += ", requires_grad=True"
        if self.name:
            extras += f", name={self.name!r}"
        if self._ctx is not None:
            extras += f", op={self._ctx.op_name()}"
        return f"Tensor({body}{extras})"

    __hash__ = object.__hash__  # identity, although == is elementwise

    # ---- autodiff ----------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad."""
        autograd.backward(self, gradient, retain_graph, create_graph)

    def _accumulate_grad(self, g: Tensor, owned: bool) -> None:
        """Add ``g`` to ``.grad``; ``owned`` says g's buffer belongs to no one else (no copy needed)."""
        if self.grad is not None:  # under create_graph the sum stays differentiable
            self.grad = self.grad + g if autograd._GradMode.enabled else Tensor._make(self.grad.data + g.data, None)
        elif owned or g._ctx is not None:  # a graph tensor (create_graph) must stay itself
            self.grad = g
        else:
            self.grad = Tensor._make(g.data.copy(), None)

    # ---- operators ---------------------------------------------------------
    def _lift(self, other: Any) -> Tensor:
        """Numbers and integer arrays take this tensor's dtype; float arrays keep theirs."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, int | float | bool):
            return Tensor._make(_asarray(other, self.data.dtype), None)
        arr = _asarray(other)
        return Tensor(arr, dtype=None if arr.dtype.kind == "f" else self.data.dtype)

    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(self, self._lift(other))

    def __radd__(self, other: Any) -> Tensor:
        return ops.Add.apply(self._lift(other), self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self, self._lift(other))

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self._lift(other), self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self, self._lift(other))

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self._lift(other), self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self, self._lift(other))

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self._lift(other), self)

    def __pow__(self, other: Any) -> Tensor:
        return ops.Pow.apply(self, self._lift(other))

    def __rpow__(self, other: Any) -> Tensor:
        return ops.Pow.apply(self._lift(other), self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self, self._lift(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self._lift(other), self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    # comparisons: boolean tensors outside the graph
    def _compare(self, other: Any, fn: Any) -> Tensor:
        o = other.data if isinstance(other, Tensor) else other
        try:
            return Tensor._make(fn(self.data, o), None)
        except ValueError as e:
            raise ValueError(f"{fn.__name__}: {e}") from None

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    # ---- elementwise -------------------------------------------------------
    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return ops.Relu.apply(self)

    def sqrt(self) -> Tensor:
        return self**0.5

    def astype(self, dtype: Any) -> Tensor:
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"astype: {dtype!r} is not a dtype; use float64 or float32") from None
        if dtype not in SUPPORTED_DTYPES:
            raise TypeError(f"astype: dtype {dtype} is not supported; use float64 or float32")
        return ops.Cast.apply(self, dtype=dtype)

    # ---- reductions --------------------------------------------------------
    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return ops.Sum.apply(self, axis=_axes(axis, self.data.ndim, "sum"), keepdims=keepdims)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        axes = _axes(axis, self.data.ndim, "mean")
        count = int(np.prod([self.data.shape[a] for a in axes]))
        if count == 0:
            raise ValueError(f"mean: no elements to average over (shape {self.shape}, axis {axis})")
        return ops.Sum.apply(self, axis=axes, keepdims=keepdims) * (1.0 / count)

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return ops.Max.apply(self, axis=_axes(axis, self.data.ndim, "max"), keepdims=keepdims)

    def min(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return -((-self).max(axis=axis, keepdims=keepdims))

    # ---- shape -------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        return ops.Reshape.apply(self, shape=_shape(shape, "reshape"))

    def transpose(self, *axes: Any) -> Tensor:
        axes = _shape(axes, "transpose") if axes else tuple(reversed(range(self.data.ndim)))
        if sorted(a + self.data.ndim if a < 0 else a for a in axes) != list(range(self.data.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation for shape {self.shape}")
        return ops.Transpose.apply(self, axes=tuple(a % self.data.ndim for a in axes))

    @property
    def T(self) -> Tensor:
        return self if self.data.ndim < 2 else ops.Transpose.apply(self, axes=None)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        """NumPy's broadcasting, as a reshape to the full rank then an expand of the size-1 axes."""
        shape = _shape((shape,), "broadcast_to")
        extra = len(shape) - self.data.ndim
        padded = (1,) * extra + self.data.shape
        if extra < 0 or any(m != 1 and m != n for m, n in zip(padded, shape)):
            raise ValueError(f"broadcast_to: cannot broadcast shape {self.shape} to {shape}")
        axes = tuple(i for i, (m, n) in enumerate(zip(padded, shape)) if m != n)
        return ops.Expand.apply(self.reshape(padded), axis=axes, keepdims=True, shape=shape)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem.apply(self, index=_index(index))

    # ---- composites (defined in functional) ----------------------------------
    def softmax(self, axis: int = -1) -> Tensor:
        from . import functional

        return functional.softmax(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        from . import functional

        return functional.log_softmax(self, axis=axis)


def _shape(shape: tuple, op: str) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike; refuse non-integers rather than truncate 2.5 to 2."""
    if len(shape) == 1 and isinstance(shape[0], Sequence | np.ndarray) and not isinstance(shape[0], str):
        shape = tuple(shape[0])
    if not all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in shape):
        raise TypeError(f"{op}: sizes must be integers, got {shape!r}")
    return tuple(int(s) for s in shape)


def _sizes(shape: tuple, op: str) -> tuple[int, ...]:
    """The shape of a new tensor: integers >= 0."""
    shape = _shape(shape, op)
    if any(s < 0 for s in shape):
        raise ValueError(f"{op}: sizes must be >= 0, got {shape}")
    return shape


def _axes(axis: int | Sequence[int] | None, ndim: int, op: str) -> tuple[int, ...]:
    """Normalise ``axis`` to a sorted tuple of non-negative axes (``None`` = all)."""
    if axis is None:
        return tuple(range(ndim))
    is_sequence = isinstance(axis, Sequence) and not isinstance(axis, str)  # "" is not "no axes"
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis) if is_sequence else (axis,)
    if not all(isinstance(a, int | np.integer) and not isinstance(a, bool) for a in axes):
        raise TypeError(f"{op}: axis must be None, an integer or a tuple of integers, got {axis!r}")
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):  # a 0-d tensor takes axis 0 or -1, as in NumPy's sum
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out)) if ndim else ()


def _index(index: Any) -> Any:
    """Tensors and lists become arrays; boolean masks stay masks, so NumPy checks their shape."""
    items = index if isinstance(index, tuple) else (index,)
    out: list[Any] = []
    for item in items:
        if isinstance(item, Tensor):
            item = item.data
        if isinstance(item, list):
            item = _asarray(item, op="getitem")
            if item.size == 0:  # [] selects nothing, as in NumPy (not a float64 index)
                item = item.astype(np.intp)
        if isinstance(item, np.ndarray) and item.dtype.kind not in "iub":
            raise IndexError(f"getitem: index arrays must be integers or booleans, not {item.dtype}")
        out.append(item)
    return tuple(out) if isinstance(index, tuple) else out[0]
