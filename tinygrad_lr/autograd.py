"""The reverse-mode engine: the op base class, grad mode, un-broadcasting and backprop.

Every op is a subclass of :class:`Function`. Calling ``Op.apply(*tensors)`` runs
``forward`` on NumPy arrays and, when recording, keeps an instance of the op as
the node behind the output tensor. The node holds its input tensors (its parents)
and whatever ``forward`` saved; it never holds its output, so graphs have no
reference cycles and are freed as soon as the last tensor is dropped.

``backward`` rules are written with Tensor operations. In the ordinary
first-order pass they run with recording off (cheap), and with
``create_graph=True`` they are recorded, so gradients can be differentiated again.
"""

from __future__ import annotations

import functools
import operator
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .tensor import Tensor


class _State:
    """Whether new operations are recorded, and whether they are checked for NaN/inf.

    An instance, not class attributes: writing a class attribute invalidates
    CPython's attribute caches, and the switches flip on every backward.
    """

    __slots__ = ("enabled", "anomaly", "backward_of")

    def __init__(self) -> None:
        self.enabled = True
        self.anomaly = False
        self.backward_of: Function | None = None  # under detect_anomaly: the node whose backward runs


_GradMode = _State()


class _set_grad_enabled:
    """Context manager and decorator that sets the grad mode and restores it."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.previous: list[bool] = []

    def __enter__(self) -> None:
        self.previous.append(_GradMode.enabled)
        _GradMode.enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        _GradMode.enabled = self.previous.pop()

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_set_grad_enabled):
    """Record nothing inside the block or decorated function (inference, updates)."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(_set_grad_enabled):
    """Record again inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)


def is_grad_enabled() -> bool:
    return _GradMode.enabled


class AnomalyError(FloatingPointError):
    """A NaN or inf appeared in a forward value or a gradient under ``detect_anomaly``."""


class detect_anomaly:
    """Check every forward value and gradient for NaN/inf; name the op and where it was made.

    Costs a full scan of every array, so it is for debugging, not training runs.
    """

    def __init__(self) -> None:
        self.previous: list[bool] = []

    def __enter__(self) -> None:
        self.previous.append(_GradMode.anomaly)
        _GradMode.anomaly = True

    def __exit__(self, *exc: object) -> None:
        _GradMode.anomaly = self.previous.pop()

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly():
                return fn(*args, **kwargs)

        return wrapper


def _caller() -> str:
    """The first frame outside this package: the user's line that made the op."""
    package = os.path.dirname(__file__)
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == package:
        frame = frame.f_back
    return "unknown" if frame is None else f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _bad_values(a: np.ndarray) -> str:
    if a.dtype.kind != "f" or np.isfinite(a).all():
        return ""
    n_nan = int(np.isnan(a).sum())
    return f"{n_nan} NaN and {a.size - n_nan - int(np.isfinite(a).sum())} inf of {a.size} values"


def _created_at(ctx: Function) -> str:
    return getattr(ctx, "_created_at", "unknown (made outside detect_anomaly)")


def _check_forward(ctx: Function, data: np.ndarray, tensors: list[Tensor]) -> None:
    where = _caller()
    ctx._created_at = where
    bad = _bad_values(data)
    node = _GradMode.backward_of
    if bad and node is not None:
        raise AnomalyError(
            f"{node.op_name()} backward produced {bad} (in its {ctx.op_name()} step); "
            f"the {node.op_name()} was created at {_created_at(node)}"
        )
    if bad:
        sources = [f"input {i} ({_bad_values(t.data)})" for i, t in enumerate(tensors) if _bad_values(t.data)]
        origin = "from non-finite " + ", ".join(sources) if sources else "from finite inputs"
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise AnomalyError(f"{ctx.op_name()} produced {bad} {origin} (input shapes {shapes}), at {where}")


def _check_backward(ctx: Function, i: int, g: Tensor) -> None:
    bad = _bad_values(g.data)
    if bad:
        raise AnomalyError(
            f"{ctx.op_name()} backward produced {bad} in the gradient of input {i} "
            f"(shape {ctx.parents[i].shape}); the {ctx.op_name()} was created at {_created_at(ctx)}"
        )


class GraphFreedError(RuntimeError):
    """Backward reached a node whose saved values were freed by an earlier backward."""


class Function:
    """Base class of every op: ``forward`` on arrays, ``backward`` on Tensors.

    Subclass it with two static methods and call ``MyOp.apply(*inputs, **options)``.
    Positional inputs are tensors (arrays and numbers become constants); keyword
    options are passed to ``forward`` unchanged and are not differentiated.
    ``backward(ctx, grad)`` returns one gradient per positional input (or ``None``);
    gradients may have the broadcast shape, the engine sums them back.

    The engine's fields are slots; the built-in ops declare what they keep on ``ctx``
    in ``__slots__`` too (smaller nodes, faster attribute access). A subclass without
    ``__slots__`` gets an ordinary ``__dict__``, so your own ops can set anything.
    """

    __slots__ = ("parents", "needs_input_grad", "_saved", "_output", "_created_at", "__weakref__")
    parents: tuple[Tensor, ...]
    needs_input_grad: tuple[bool, ...]

    @staticmethod
    def forward(ctx: Function, *inputs: np.ndarray, **options: Any) -> np.ndarray:
        raise NotImplementedError("a Function subclass must define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx: Function, grad: Tensor) -> Tensor | None | tuple[Tensor | None, ...]:
        raise NotImplementedError("a Function subclass must define backward(ctx, grad)")

    @classmethod
    def op_name(cls) -> str:
        return cls.__name__.lower()

    def save_for_backward(self, *arrays: np.ndarray) -> None:
        """Keep arrays for backward; inputs and the output come back as graph tensors."""
        self._saved = arrays

    @property
    def saved_arrays(self) -> tuple[np.ndarray, ...]:
        """What ``forward`` saved, as the plain arrays: for first-order rules written in NumPy."""
        saved = getattr(self, "_saved", ())
        if saved is None:
            raise GraphFreedError(
                f"{self.op_name()}: its saved values were freed by an earlier backward; "
                "call backward(retain_graph=True) the first time to go through the graph twice"
            )
        return saved

    @property
    def saved_tensors(self) -> tuple[Tensor, ...]:
        saved = self.saved_arrays
        # Identity, not equality: a saved input (or the output) is that very tensor, so a
        # second derivative flows through it. Anything else saved is a constant.
        known = {id(t.data): t for t in self.parents}
        out = getattr(self, "_output", None)
        if out is not None:
            known[id(out.data)] = out
        return tuple([known[id(a)] if id(a) in known else Tensor(a) for a in saved])

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Tensor:
        tensors = inputs
        for x in inputs:
            if not isinstance(x, Tensor):  # numbers and arrays become constants
                tensors = tuple([x if isinstance(x, Tensor) else Tensor(x) for x in inputs])
                break
        ctx = cls.__new__(cls)
        record = False
        if _GradMode.enabled:
            needs = tuple(map(_requires_grad, tensors))
            if True in needs:
                record, ctx.needs_input_grad = True, needs
        try:
            if len(tensors) == 2:  # the common cases without building an argument list
                data = cls.forward(ctx, tensors[0].data, tensors[1].data, **options)
            elif len(tensors) == 1:
                data = cls.forward(ctx, tensors[0].data, **options)
            else:
                data = cls.forward(ctx, *[t.data for t in tensors], **options)
        except (ValueError, IndexError, TypeError) as e:
            name = cls.op_name()
            message = str(e)
            if not message.startswith(name + ":"):
                shapes = ", ".join(str(t.shape) for t in tensors)
                message = f"{name}: {message} (input shapes {shapes})"
            # The plain built-in type: NumPy's subclasses (AxisError, UFuncTypeError) are implementation details.
            kind = next(k for k in (ValueError, IndexError, TypeError) if isinstance(e, k))
            raise kind(message) from None
        if type(data) is not np.ndarray:  # NumPy returns scalars for 0-d results
            scalar, data = data, np.asarray(data)
            saved = getattr(ctx, "_saved", None)
            if saved:  # keep "saved the output" recognisable
                ctx._saved = tuple([data if s is scalar else s for s in saved])
        if _GradMode.anomaly:
            _check_forward(ctx, data, tensors)
        out = _new_tensor(Tensor)
        out.data, out.grad, out.name = data, None, None
        if record:
            ctx.parents = tensors
            out.requires_grad, out._ctx = True, ctx
        else:
            out.requires_grad, out._ctx = False, None
        return out


_new_tensor = object.__new__
_requires_grad = operator.attrgetter("requires_grad")


def _wrap(data: np.ndarray) -> Tensor:
    """An array as a tensor outside the graph (first-order fast paths; constants)."""
    return Tensor._make(data, None)


@functools.lru_cache(maxsize=256)
def _summed_axes(gshape: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes to sum so a gradient of ``gshape`` gets ``shape`` (cached: a model repeats them every step)."""
    extra = len(gshape) - len(shape)
    if extra < 0:
        raise ValueError(f"gradient of shape {gshape} cannot be summed to shape {shape}")
    axes = list(range(extra))  # leading axes the broadcast added
    for i, n in enumerate(shape):
        if n != gshape[extra + i]:
            if n != 1:
                raise ValueError(f"gradient of shape {gshape} cannot be summed to shape {shape}")
            axes.append(extra + i)  # size-1 axes the broadcast stretched
    return tuple(axes)


def unbroadcast(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum a gradient back to ``shape`` (the one place broadcasting is undone)."""
    gshape = grad.data.shape
    if gshape == shape:
        return grad
    axes = _summed_axes(gshape, shape)
    if _GradMode.enabled:  # create_graph: the sum must be part of the graph
        summed = ops.Sum.apply(grad, axis=axes, keepdims=False)
        return summed if summed.data.shape == shape else summed.reshape(shape)
    g = grad.data
    if axes == (0,) and g.ndim == 2:  # a bias gradient: column sums as one BLAS product, 3-4x faster
        summed = _ones((len(g),), g.dtype) @ g
    else:
        summed = np.asarray(np.add.reduce(g, axis=axes))  # a full sum gives a NumPy scalar
    return _wrap(summed if summed.shape == shape else summed.reshape(shape))


@functools.lru_cache(maxsize=32)
def _ones(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A read-only array of ones, made once per shape: seeds of scalar losses, column sums."""
    ones = np.ones(shape, dtype)
    ones.flags.writeable = False  # shared by every call (a seed never becomes a leaf's .grad)
    return ones


def _toposort(roots: Sequence[Tensor]) -> list[Tensor]:
    """The op outputs behind ``roots``, each after all of its inputs (iterative DFS, no recursion).

    Leaves are not listed: nothing flows out of them, their gradients just wait to be
    accumulated. Tensors go into sets and dicts as themselves: they hash by identity,
    and distinct objects never share a hash, so their elementwise ``==`` is never called.
    """
    order: list[Tensor] = []
    seen: set[Tensor] = set()
    for root in roots:
        if root._ctx is None or root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root._ctx.parents))]
        while stack:
            t, parents = stack[-1]
            for p in parents:  # resumes where this node's last visit stopped
                if p._ctx is not None and p not in seen:  # an op output always requires grad
                    seen.add(p)
                    stack.append((p, iter(p._ctx.parents)))
                    break
            else:
                stack.pop()
                order.append(t)
    return order


def _as_gradient(g: Any, like: Tensor, ctx: Function, index: int) -> Tensor:
    """A backward's result as a Tensor of its input's shape and dtype (broadcasts summed back)."""
    g = g if isinstance(g, Tensor) else Tensor(g, dtype=like.dtype)
    try:
        g = unbroadcast(g, like.data.shape)
    except ValueError:
        raise ValueError(
            f"{ctx.op_name()}: backward returned a gradient of shape {g.shape} for input {index} of shape {like.shape}"
        ) from None
    if g.data.dtype != like.data.dtype:
        g = g.astype(like.data.dtype)
    return g


def _backprop(
    roots: Sequence[Tensor],
    seeds: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    capture: dict[int, Tensor | None] | None = None,
) -> None:
    """Propagate ``seeds`` from ``roots`` to every tensor that needs a gradient.

    With ``capture`` (ids of wanted tensors) the gradients are stored there and
    leaves' ``.grad`` are left alone (``tg.grad``); otherwise leaves accumulate.
    """
    grads: dict[Tensor, Tensor] = {}
    shared: set[int] = set()  # buffers a leaf must not keep as its own .grad (see the end)
    for r, s in zip(roots, seeds):
        grads[r] = grads[r] + s if r in grads else s
        shared.add(id(s.data))
    order = _toposort(roots)
    previous_mode, _GradMode.enabled = _GradMode.enabled, create_graph  # record the rules only for create_graph
    try:
        for t in reversed(order):
            g = grads.pop(t, None)
            if g is None:
                continue
            if capture is not None and id(t) in capture:
                capture[id(t)] = g
            ctx = t._ctx
            ctx._output = t  # reachable for saved_tensors while its backward runs
            if _GradMode.anomaly:
                _GradMode.backward_of = ctx
            try:
                in_grads = type(ctx).backward(ctx, g)
            finally:
                ctx._output = _GradMode.backward_of = None
            if not retain_graph:
                ctx._saved = None
            parents = ctx.parents
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            if len(in_grads) != len(parents):
                raise ValueError(
                    f"{ctx.op_name()}: backward returned {len(in_grads)} gradients for {len(parents)} inputs"
                )
            for i, p in enumerate(parents):
                pg = in_grads[i]
                if pg is None or not p.requires_grad:
                    continue
                if type(pg) is not Tensor or pg.data.shape != p.data.shape or pg.data.dtype != p.data.dtype:
                    pg = _as_gradient(pg, p, ctx, i)
                if _GradMode.anomaly:
                    _check_backward(ctx, i, pg)
                prev = grads.get(p)
                grads[p] = pg if prev is None else prev + pg
        # What is left are the leaves' gradients, stored only now: a failed backward leaves .grad untouched.
        if capture is not None:
            for t, g in grads.items():
                if id(t) in capture:
                    capture[id(t)] = g
            return
        # A leaf keeps g's buffer as its .grad unless someone else may hold it: a view
        # (reshape, expand, ...), a seed (maybe the caller's array), another leaf's grad.
        for t, g in grads.items():
            t._accumulate_grad(g, g.data.base is None and id(g.data) not in shared)
            shared.add(id(g.data))
    finally:
        _GradMode.enabled = previous_mode


def _owner(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s memory (NumPy points every view at it)."""
    return a if a.base is None else a.base


def _seed(output: Tensor, gradient: Any, what: str) -> Tensor:
    if gradient is None:
        if output.data.size != 1:
            raise ValueError(
                f"{what}: output of shape {output.shape} is not a scalar; pass a gradient of the same shape"
            )
        return Tensor._make(_ones(output.data.shape, output.data.dtype), None)
    g = gradient if isinstance(gradient, Tensor) else Tensor(gradient, dtype=output.dtype)
    if g.shape != output.shape:
        raise ValueError(f"{what}: gradient of shape {g.shape} does not match output of shape {output.shape}")
    return g


def _check_requires_grad(t: Tensor, what: str) -> None:
    if not t.requires_grad:
        label = f" '{t.name}'" if t.name else ""
        raise RuntimeError(
            f"{what}: tensor{label} of shape {t.shape} does not require grad "
            "(create it with requires_grad=True, outside no_grad)"
        )


def backward(
    output: Tensor,
    gradient: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(output)/d(leaf) into every leaf's ``.grad``."""
    _check_requires_grad(output, "backward")
    seed = _seed(output, gradient, "backward")
    keep = create_graph if retain_graph is None else retain_graph
    _backprop([output], [seed], keep, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated).

    With ``create_graph=True`` the returned tensors are part of a graph and can be
    differentiated again (Hessian-vector products, second derivatives).
    """
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outs)
    elif not isinstance(grad_outputs, list | tuple):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outs)} outputs")
    for o in outs:
        _check_requires_grad(o, "grad")
    for x in ins:
        _check_requires_grad(x, "grad")
    seeds = [_seed(o, g, "grad") for o, g in zip(outs, grad_outputs)]
    capture: dict[int, Tensor | None] = {id(x): None for x in ins}
    keep = create_graph if retain_graph is None else retain_graph
    _backprop(outs, seeds, keep, create_graph, capture)
    result = tuple(capture[id(x)] for x in ins)
    # d x / d x is the seed itself (or a view of it), which may be shared (a cached ones array,
    # the caller's array): copy it.
    seed_buffers = {id(_owner(s.data)) for s in seeds}
    result = tuple(_wrap(g.data.copy()) if g is not None and id(_owner(g.data)) in seed_buffers else g for g in result)
    for i, (x, g) in enumerate(zip(ins, result)):
        if g is None and not allow_unused:
            label = f" '{x.name}'" if x.name else ""
            raise ValueError(
                f"grad: input {i}{label} of shape {x.shape} is not used to compute the outputs "
                "(pass allow_unused=True to get None for it)"
            )
    return result


# Imported last: tensor.py and ops.py build on the names above.
from . import ops  # noqa: E402
from .tensor import Tensor  # noqa: E402
