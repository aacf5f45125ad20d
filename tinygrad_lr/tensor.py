"""``Tensor``: a NumPy array that remembers the operation that made it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import autograd, ops
from .grad_mode import current as _mode

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
        data = data._data
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
    Two tensors never hold the same array *object* (a view at most): the engine
    tells saved inputs apart by identity.
    """

    __slots__ = ("_data", "grad", "requires_grad", "name", "_ctx", "_vc", "_hooks", "__weakref__")
    __array_ufunc__ = None  # make NumPy defer to our reflected operators (ndarray + Tensor)

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        arr = _to_array(data, dtype)
        source = data._data if isinstance(data, Tensor) else data
        if requires_grad and isinstance(source, np.ndarray) and np.may_share_memory(arr, source):
            arr = arr.copy()
        elif arr is source:
            arr = arr.view()
        self._data: np.ndarray = arr
        self.grad: Tensor | None = None
        self.requires_grad = bool(requires_grad)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Tensor: name must be a string or None, got {type(name).__name__} {name!r:.60}")
        self.name = name
        self._ctx: autograd.Function | None = None
        self._vc: autograd.Version | None = None
        self._hooks: dict | None = None
        if autograd._recorder is not None:  # tg.compile is recording: how this array relates to data
            autograd._recorder.made(self, source)

    @classmethod
    def _make(cls, data: np.ndarray, ctx: autograd.Function | None) -> Tensor:
        """The fast path for op outputs: no conversion, no checks."""
        t = cls.__new__(cls)
        t._data, t.grad, t.requires_grad, t.name = data, None, ctx is not None, None
        t._ctx, t._vc, t._hooks = ctx, None, None
        return t

    @staticmethod
    def _constants(inputs: tuple) -> tuple[Tensor, ...]:
        """An op's inputs with numbers and arrays made constants (the one dtype rule).

        Numbers and integer/bool arrays take the dtype of the first float tensor input,
        so ``t32 * 2`` stays float32 and a Python scalar never changes a float dtype;
        float arrays keep theirs (NumPy's promotion then applies).
        """
        like = next((x._data.dtype for x in inputs if isinstance(x, Tensor) and x._data.dtype.kind == "f"), None)
        return tuple([x if isinstance(x, Tensor) else _constant(x, like) for x in inputs])

    # ---- the array ---------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The underlying array. Writes through it are not seen by version counters (as in PyTorch)."""
        return self._data

    @data.setter
    def data(self, value: np.ndarray) -> None:
        if value is self._data:  # ``t.data -= u`` updated the array in place and assigns it back
            return
        if isinstance(value, Tensor):
            raise TypeError(
                "data: assign a NumPy array, not a Tensor (write t.data = other.numpy(), "
                "or update in place under tg.no_grad(): t -= ...)"
            )
        if not isinstance(value, np.ndarray):
            raise TypeError(f"data: expected a NumPy array, got {type(value).__name__}")
        if value.shape != self._data.shape:
            raise ValueError(f"data: array of shape {value.shape} does not match the tensor's shape {self.shape}")
        if value.dtype not in SUPPORTED_DTYPES:
            raise TypeError(f"data: dtype {value.dtype} is not supported; use float64 or float32")
        self._data = value.view()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(t)``: the numbers (NumPy 2's ``copy=`` semantics)."""
        if copy is False and dtype is not None and np.dtype(dtype) != self._data.dtype:
            raise ValueError(f"__array__: converting {self._data.dtype} to {np.dtype(dtype)} needs a copy")
        a = self._data if dtype is None else self._data.astype(dtype, copy=False)
        return a.copy() if copy else a

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
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self) -> Any:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self._data

    def item(self) -> float:
        if autograd._recorder is not None:
            autograd._recorder.read("item()")
        if self._data.size != 1:
            raise ValueError(
                f"item(): tensor of shape {self.shape} has {self._data.size} elements; item() needs exactly one"
            )
        return self._data.item()

    def __bool__(self) -> bool:
        if autograd._recorder is not None:
            autograd._recorder.read("bool()")
        if self._data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def detach(self) -> Tensor:
        """The same memory (and version counter), cut from the graph for first and higher derivatives."""
        t = Tensor._make(self._data.view(), None)
        t._vc = autograd.version_of(self)
        if autograd._recorder is not None:  # tg.compile is recording: the same numbers as self
            autograd._recorder.made(t, self._data)
        return t

    def zero_grad(self) -> None:
        self.grad = None

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self._ctx is not None:
            if requires_grad:
                return self  # a recorded result already requires grad
            raise RuntimeError(
                "requires_grad_: only leaf tensors can stop requiring grad; "
                "use .detach() for a tensor outside the graph"
            )
        self.requires_grad = bool(requires_grad)
        return self

    @property
    def _version(self) -> int:
        """How many times this tensor's buffer was changed in place (by its in-place ops or an optimizer)."""
        return 0 if self._vc is None else self._vc.count

    def register_hook(self, fn: Any) -> autograd.RemovableHandle:
        """Call ``fn(grad)`` when this tensor's gradient is computed; it may return a replacement."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: the tensor does not require grad, so no gradient will reach it")
        if not callable(fn):
            raise TypeError(f"register_hook: expected a function of the gradient, got {type(fn).__name__}")
        return autograd.add_hook(self, fn)

    def retain_grad(self) -> None:
        """Keep this intermediate tensor's gradient in ``.grad`` after backward (leaves always do)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        if self._ctx is not None and (self._hooks is None or autograd._RETAIN not in self._hooks.values()):
            autograd.add_hook(self, autograd._RETAIN)

    def __repr__(self) -> str:
        body = np.array2string(self._data, precision=4, separator=", ", prefix="Tensor(")
        extras = ""
        if self._data.dtype != np.float64:
            extras += f", dtype={self._data.dtype}"
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

    # ---- operators (numbers and arrays become constants in Function.apply) ----

    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return ops.Add.apply(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return ops.Pow.apply(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return ops.Pow.apply(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(other, self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    # ---- in place: PyTorch's contract -----------------------------------------
    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(ops.Add, np.add, other, "+=")

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(ops.Sub, np.subtract, other, "-=")

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(ops.Mul, np.multiply, other, "*=")

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(ops.Div, np.divide, other, "/=")

    def _inplace(self, op: type[autograd.Function], ufunc: np.ufunc, other: Any, symbol: str) -> Tensor:
        """``t op= v``: on the same buffer when nothing is recorded (bumping its version);
        inside a recorded graph a new node, and Python rebinds the name to it."""
        if self._recording_write(other, symbol):
            return op.apply(self, other)
        value = other._data if isinstance(other, Tensor) else other
        if isinstance(value, int | float | bool):
            value = np.asarray(value, dtype=self._data.dtype if self._data.dtype.kind == "f" else None)
        try:
            ufunc(self._data, value, out=self._data, casting="same_kind")
        except (ValueError, TypeError) as e:
            message = f"{symbol}: cannot update a tensor of shape {self.shape} ({self.dtype}) in place ({e})"
            raise type(e)(message) from e
        autograd.bump_version(self)
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        if self._recording_write(value, "setitem"):
            raise RuntimeError(
                "setitem: cannot assign into a tensor that is part of a recorded graph; build the new tensor "
                "out of place, or assign under tg.no_grad()"
            )
        try:
            self._data[_index(index)] = value._data if isinstance(value, Tensor) else value
        except (ValueError, TypeError, IndexError) as e:
            raise type(e)(f"setitem: {e} (tensor of shape {self.shape})") from e
        autograd.bump_version(self)

    def _recording_write(self, other: Any, what: str) -> bool:
        """Whether ``self op= other`` must be recorded; refuse a leaf that requires grad (PyTorch's rule)."""
        if not _mode.get().enabled:
            return False
        if self.requires_grad and self._ctx is None:
            label = f" '{self.name}'" if self.name else ""
            raise RuntimeError(
                f"{what}: a leaf tensor{label} that requires grad cannot be changed in place while gradients are "
                "recorded; update it inside `with tg.no_grad():` (as an optimizer does)"
            )
        return self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)

    # comparisons: boolean tensors outside the graph
    def _compare(self, other: Any, fn: Any) -> Tensor:
        o = other._data if isinstance(other, Tensor) else other
        try:
            out = Tensor._make(np.asarray(fn(self._data, o)), None)
        except ValueError as e:
            raise ValueError(f"{fn.__name__}: {e}") from None
        if autograd._recorder is not None:  # tg.compile is recording: a mask it must compute again
            autograd._recorder.outside_graph(fn, (self, other), {}, out)
        return out

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
        return ops.Sum.apply(self, axis=_axes(axis, self._data.ndim, "sum"), keepdims=keepdims)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        axes = _axes(axis, self._data.ndim, "mean")
        count = int(np.prod([self._data.shape[a] for a in axes]))
        if count == 0:
            raise ValueError(f"mean: no elements to average over (shape {self.shape}, axis {axis})")
        return ops.Sum.apply(self, axis=axes, keepdims=keepdims) * (1.0 / count)

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return ops.Max.apply(self, axis=_axes(axis, self._data.ndim, "max"), keepdims=keepdims)

    def min(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return -((-self).max(axis=axis, keepdims=keepdims))

    # ---- shape -------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        return ops.Reshape.apply(self, shape=_shape(shape, "reshape"))

    def transpose(self, *axes: Any) -> Tensor:
        axes = _shape(axes, "transpose") if axes else tuple(reversed(range(self._data.ndim)))
        if sorted(a + self._data.ndim if a < 0 else a for a in axes) != list(range(self._data.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation for shape {self.shape}")
        return ops.Transpose.apply(self, axes=tuple(a % self._data.ndim for a in axes))

    @property
    def T(self) -> Tensor:
        return self if self._data.ndim < 2 else ops.Transpose.apply(self, axes=None)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        """NumPy's broadcasting, as a reshape to the full rank then an expand of the size-1 axes."""
        shape = _shape((shape,), "broadcast_to")
        extra = len(shape) - self._data.ndim
        padded = (1,) * extra + self._data.shape
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

    # ---- more ops (issue 13): NumPy's names and signatures -------------------------------
    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    def __abs__(self) -> Tensor:  # abs(t), as for arrays
        return ops.Abs.apply(self)

    def sign(self) -> Tensor:
        """-1, 0 or 1; the gradient is zero (as for floor, ceil and round)."""
        return ops.Sign.apply(self)

    def floor(self) -> Tensor:
        return ops.Floor.apply(self)

    def ceil(self) -> Tensor:
        return ops.Ceil.apply(self)

    def round(self, decimals: int = 0) -> Tensor:
        return ops.Round.apply(self, decimals=_integer(decimals, "round", "decimals"))

    def sin(self) -> Tensor:
        return ops.Sin.apply(self)

    def cos(self) -> Tensor:
        return ops.Cos.apply(self)

    def log1p(self) -> Tensor:
        return ops.Log1p.apply(self)

    def expm1(self) -> Tensor:
        return ops.Expm1.apply(self)

    def log2(self) -> Tensor:
        return ops.Log2.apply(self)

    def log10(self) -> Tensor:
        return ops.Log10.apply(self)

    def exp2(self) -> Tensor:
        return ops.Exp2.apply(self)

    def square(self) -> Tensor:
        return self * self

    def clip(self, a_min: Any = None, a_max: Any = None) -> Tensor:
        """Limit to [a_min, a_max]; the bounds are constants (use tg.maximum/minimum to differentiate them)."""
        if a_min is None and a_max is None:
            raise ValueError("clip: give a_min, a_max or both")
        return ops.Clip.apply(self, low=_bound(a_min, self), high=_bound(a_max, self))

    def var(self, axis: int | Sequence[int] | None = None, ddof: float = 0, keepdims: bool = False) -> Tensor:
        """Mean squared deviation, divided by n - ddof (ddof=1: the unbiased estimate)."""
        axes = _axes(axis, self.data.ndim, "var")
        n = int(np.prod([self.data.shape[a] for a in axes]))
        if isinstance(ddof, bool) or not isinstance(ddof, int | float | np.integer | np.floating):
            raise TypeError(f"var: ddof must be a number, got {ddof!r}")
        if not 0 <= ddof < n:
            raise ValueError(f"var: ddof={ddof} needs more than {ddof} elements, got {n} (shape {self.shape})")
        d = self - self.mean(axis=axes, keepdims=True)
        return (d * d).sum(axis=axes, keepdims=keepdims) * (1.0 / (n - ddof))

    def std(self, axis: int | Sequence[int] | None = None, ddof: float = 0, keepdims: bool = False) -> Tensor:
        """The square root of ``var``; its gradient is 0 where the spread is 0 (as PyTorch's)."""
        return ops.StdRoot.apply(self.var(axis=axis, ddof=ddof, keepdims=keepdims))

    def prod(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return ops.Prod.apply(self, axis=_axes(axis, self.data.ndim, "prod"), keepdims=keepdims)

    def cumsum(self, axis: int | None = None) -> Tensor:
        """Running sum along ``axis`` (None: over the flattened tensor)."""
        if axis is None:
            return ops.Cumsum.apply(self.ravel(), axis=0)
        return ops.Cumsum.apply(self, axis=_one_axis(axis, self.data.ndim, "cumsum"))

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Indices of the maxima (int64, outside the graph: an index has no gradient)."""
        return _indices_of(np.argmax, self, axis, keepdims, "argmax")

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return _indices_of(np.argmin, self, axis, keepdims, "argmin")

    def flatten(self) -> Tensor:
        return self.reshape(-1)

    def ravel(self) -> Tensor:
        return self.reshape(-1)

    def squeeze(self, axis: int | Sequence[int] | None = None) -> Tensor:
        """Drop axes of size 1 (all of them, or the ones named)."""
        shape = self.data.shape
        if axis is None:
            return self.reshape(tuple(n for n in shape if n != 1))
        axes = _axes(axis, self.data.ndim, "squeeze")
        for a in axes:
            if shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} has size {shape[a]} (shape {shape}); only size-1 axes can go")
        return self.reshape(tuple(n for i, n in enumerate(shape) if i not in axes))

    def expand_dims(self, axis: int | Sequence[int]) -> Tensor:
        """Insert size-1 axes at the positions ``axis`` of the result."""
        sizes = iter(self.data.shape)
        new = _axes(axis, self.data.ndim + (len(axis) if isinstance(axis, Sequence) else 1), "expand_dims")
        return self.reshape(tuple(1 if i in new else next(sizes) for i in range(self.data.ndim + len(new))))

    def unsqueeze(self, dim: int) -> Tensor:
        """PyTorch's spelling of ``expand_dims`` (one axis)."""
        return self.expand_dims(dim)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        perm = list(range(self.data.ndim))
        a, b = _one_axis(axis1, self.data.ndim, "swapaxes"), _one_axis(axis2, self.data.ndim, "swapaxes")
        perm[a], perm[b] = perm[b], perm[a]
        return self.transpose(*perm)

    def moveaxis(self, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
        """Move axes to new positions, the others keeping their order (NumPy's ``moveaxis``)."""
        src, dst = _axis_list(source, self.data.ndim, "moveaxis"), _axis_list(destination, self.data.ndim, "moveaxis")
        if len(src) != len(dst):
            raise ValueError(f"moveaxis: source {source} and destination {destination} name different numbers of axes")
        order = [a for a in range(self.data.ndim) if a not in src]
        for d, s in sorted(zip(dst, src)):
            order.insert(d, s)
        return self.transpose(*order)

    def flip(self, axis: int | Sequence[int] | None = None) -> Tensor:
        """Reverse the order along ``axis`` (None: every axis)."""
        axes = _axes(axis, self.data.ndim, "flip")
        return self[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(self.data.ndim))]

    def repeat(self, repeats: int | Sequence[int], axis: int | None = None) -> Tensor:
        """Repeat each element ``repeats`` times along ``axis`` (None: of the flattened tensor)."""
        x = self.ravel() if axis is None else self
        a = 0 if axis is None else _one_axis(axis, self.data.ndim, "repeat")
        if np.any(np.asarray(repeats) < 0):
            raise ValueError(f"repeat: repeats must be >= 0, got {repeats}")
        picks = _numpy_call("repeat", np.repeat, np.arange(x.shape[a]), repeats)
        return x[(slice(None),) * a + (picks,)]

    def tile(self, reps: int | Sequence[int]) -> Tensor:
        """The whole tensor repeated ``reps`` times along each axis (NumPy's ``tile``)."""
        reps = _sizes((reps,), "tile")
        d = max(len(reps), self.data.ndim)
        reps, shape = (1,) * (d - len(reps)) + reps, (1,) * (d - self.data.ndim) + self.data.shape
        spaced = self.reshape(tuple(v for n in shape for v in (1, n)))
        copies = spaced.broadcast_to(tuple(v for r, n in zip(reps, shape) for v in (r, n)))
        return copies.reshape(tuple(r * n for r, n in zip(reps, shape)))

    def dot(self, other: Any) -> Tensor:
        """NumPy's ``dot``: ``*`` for scalars, ``@`` up to 2-D, else a sum over a's last and b's second-to-last axis."""
        other = Tensor._constants((self, other))[1]
        if self.data.ndim == 0 or other.data.ndim == 0:
            return self * other
        if self.data.ndim == 1 or other.data.ndim <= 2:
            return self @ other
        a, b = "abcdefghijkl"[: self.data.ndim - 1], "mnopqrstuvwx"[: other.data.ndim - 1]
        return ops.Einsum.apply(self, other, subscripts=f"{a}y,{b[:-1]}y{b[-1]}->{a}{b}")


def _constant(x: Any, like: np.dtype | None) -> Tensor:
    if isinstance(x, int | float | bool):
        return Tensor._make(_asarray(x, like or np.float64), None)
    arr = _asarray(x)
    return Tensor(arr, dtype=None if like is None or arr.dtype.kind == "f" else like)


autograd.register_tensor_type(Tensor)


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
            item = item._data
        if isinstance(item, list):
            item = _asarray(item, op="getitem")
            if item.size == 0:  # [] selects nothing, as in NumPy (not a float64 index)
                item = item.astype(np.intp)
        if isinstance(item, np.ndarray) and item.dtype.kind not in "iub":
            raise IndexError(f"getitem: index arrays must be integers or booleans, not {item.dtype}")
        out.append(item)
    return tuple(out) if isinstance(index, tuple) else out[0]


# ---- helpers of the more-ops section (issue 13) ----------------------------------------


def _numpy_call(op: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A NumPy call outside any op, its errors named as the op's (built-in types, as Function.apply does)."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError, IndexError) as e:
        kind = next(k for k in (ValueError, TypeError, IndexError) if isinstance(e, k))
        raise kind(f"{op}: {e}") from None


def _one_axis(axis: Any, ndim: int, op: str) -> int:
    if not isinstance(axis, int | np.integer) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be an integer, got {axis!r}")
    if ndim == 0:
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor with 0 dimensions")
    return _axes(axis, ndim, op)[0]


def _axis_list(axis: Any, ndim: int, op: str) -> list[int]:
    """Checked axes in the order given (``_axes`` sorts them)."""
    _axes(axis, ndim, op)
    return [int(a) % ndim for a in (axis if isinstance(axis, Sequence) else (axis,))]


def _integer(value: Any, op: str, name: str) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an integer, got {value!r}")
    return int(value)


def _bound(value: Any, x: Tensor) -> Any:
    """A clip bound as a constant: numbers stay numbers (keeping x's dtype), a tensor's gradient is refused."""
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise TypeError("clip: bounds are constants; for a bound that needs a gradient use tg.maximum / tg.minimum")
        return value.data
    if value is None or isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return _asarray(value, op="clip")


def _indices_of(fn: Any, x: Tensor, axis: Any, keepdims: bool, op: str) -> Tensor:
    if axis is not None:
        axis = _one_axis(axis, x.data.ndim, op)
    out = Tensor._make(np.asarray(_numpy_call(op, fn, x.data, axis=axis, keepdims=keepdims)), None)
    if autograd._recorder is not None:  # tg.compile is recording: indices it must compute again
        autograd._recorder.outside_graph(fn, (x,), {"axis": axis, "keepdims": keepdims}, out)
    return out
