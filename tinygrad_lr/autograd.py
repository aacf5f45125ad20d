"""The reverse-mode engine: the op base class, version counters, un-broadcasting and backprop.

Every op is a subclass of :class:`Function`. Calling ``Op.apply(*tensors)`` runs
``forward`` on NumPy arrays and, when recording, keeps an instance of the op as
the node behind the output tensor. The node holds its input tensors (its parents)
and whatever ``forward`` saved; it never holds its output, so graphs have no
reference cycles and are freed as soon as the last tensor is dropped.

``backward`` rules are written with Tensor operations: that is *the* definition of
each derivative, and with ``create_graph=True`` it is recorded, so gradients can be
differentiated again. An op may also have ``backward_arrays``, the same rule on plain
arrays; the engine picks it once per node when nothing is recorded (a first-order
pass), and a test proves every such pair equal.

This module imports nothing from the package: ``tensor.py`` registers the Tensor
class with :func:`register_tensor_type` (HIPS autograd's ``Box.register`` pattern).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import anomaly
from .anomaly import AnomalyError
from .grad_mode import current as _mode
from .grad_mode import detect_anomaly, enable_grad, is_grad_enabled, no_grad, set_grad_enabled

# Grad mode and anomaly mode live in their own modules; the engine's public names are all here too.
__all__ = [
    "AnomalyError",
    "Function",
    "GraphFreedError",
    "ModifiedInPlaceError",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "unbroadcast",
]

if TYPE_CHECKING:  # pragma: no cover
    from .tensor import Tensor

_T: Any = None  # the Tensor class, registered by tensor.py

# ---- compiler hook (tinygrad_lr/compiler.py) -------------------------------------------------
# None except while tg.compile records a step; every hook below is one `if _recorder is not None:`.
_recorder: Any = None


def register_tensor_type(cls: type) -> None:
    """Tell the engine which class its values are (called once, by ``tensor.py``)."""
    global _T
    _T = cls


class GraphFreedError(RuntimeError):
    """Backward reached a node whose saved values were freed by an earlier backward."""


class ModifiedInPlaceError(RuntimeError):
    """A value saved for backward was changed in place after it was saved."""


# ---- version counters ------------------------------------------------------------------
# Every in-place change of a tensor's buffer bumps the buffer's counter (shared by views)
# and stamps it with a tick of one global clock; a node remembers the clock when it was
# made. Backward re-checks a node's saved values only when the clock moved since then,
# so ordinary training (no in-place change between forward and backward) pays one compare.


class Version:
    """How often a buffer was changed in place (``count``), and when last (``stamp``)."""

    __slots__ = ("count", "stamp")

    def __init__(self) -> None:
        self.count = 0
        self.stamp = 0


_ticks = itertools.count(1)
_clock = [0]  # the stamp of the latest in-place change anywhere


def version_of(t: Tensor) -> Version:
    """``t``'s counter, made on first use (most tensors are never changed in place)."""
    vc = t._vc
    if vc is None:
        vc = t._vc = Version()
    return vc


def bump_version(t: Tensor) -> None:
    """Record that ``t``'s buffer was just changed in place (in-place ops, optimizers)."""
    vc = t._vc
    if vc is None:
        vc = t._vc = Version()
    vc.count += 1
    vc.stamp = _clock[0] = next(_ticks)
    if _recorder is not None:
        _recorder.bumped(t)


def _check_versions(ctx: Function, out: Tensor) -> None:
    """Raise if a saved input or the saved output was changed in place after ``ctx`` was made."""
    saved = getattr(ctx, "_saved", None)
    if not saved:
        return
    saved_ids = {id(a) for a in saved}
    tensors = (*ctx.parents, out)
    for i, x in enumerate(tensors):
        vc = x._vc
        if vc is not None and vc.stamp > ctx._t and id(x._data) in saved_ids:
            what = "its output" if i == len(tensors) - 1 else f"input {i}"
            label = f" '{x.name}'" if x.name else ""
            raise ModifiedInPlaceError(
                f"{ctx.op_name()}: {what}{label} of shape {x.shape} was modified by an in-place operation "
                f"(now at version {vc.count}) after it was saved for backward; compute the loss again after "
                "the update, or update out of place"
            )


# ---- the op base class ------------------------------------------------------------------


class Function:
    """Base class of every op: ``forward`` on arrays, ``backward`` on Tensors.

    Subclass it with two static methods and call ``MyOp.apply(*inputs, **options)``.
    Positional inputs are tensors (numbers and arrays become constants: numbers and
    integer arrays in the dtype of the first float tensor input, so a Python scalar
    never changes a tensor's dtype); keyword options are passed to ``forward``
    unchanged and are not differentiated. ``backward(ctx, grad)`` returns one
    gradient per positional input (or ``None``); gradients may have the broadcast
    shape, the engine sums them back. A ``forward`` may return a tuple of arrays:
    ``apply`` then returns a tuple of tensors and ``backward(ctx, *grads)`` gets one
    gradient per output (zeros for outputs that received none).

    The engine's fields are slots; the built-in ops declare what they keep on ``ctx``
    in ``__slots__`` too. A subclass without ``__slots__`` gets an ordinary
    ``__dict__``, so your own ops can set anything.
    """

    __slots__ = ("parents", "needs_input_grad", "_saved", "_output", "_created_at", "_t", "__weakref__")
    parents: tuple[Tensor, ...]
    needs_input_grad: tuple[bool, ...]
    backward_arrays: Callable | None = None  # optional first-order rule on arrays (see the module doc)
    is_view = False  # outputs may share the first input's memory (then they share its version counter)

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
        """The saved arrays as tensors: a saved input (or the output) is that very graph tensor.

        Matched by array identity: distinct tensors never share an array object (``detach``
        and ``Tensor(array)`` take a view), so a detached copy of ``x`` stays a constant.
        """
        saved = self.saved_arrays
        known = {id(t._data): t for t in self.parents}
        out = getattr(self, "_output", None)
        if out is not None:
            known[id(out._data)] = out
        return tuple([known[id(a)] if id(a) in known else _T._make(a, None) for a in saved])

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Any:
        for x in inputs:
            if not isinstance(x, _T):
                inputs = _T._constants(inputs)
                break
        if len(inputs) == 2:  # the common case, without building lists
            a, b = inputs
            needs, arrays = (a.requires_grad, b.requires_grad), (a._data, b._data)
        else:
            needs, arrays = tuple([t.requires_grad for t in inputs]), [t._data for t in inputs]
        ctx = cls.__new__(cls)
        mode = _mode.get()
        record = mode.enabled and True in needs
        if record:
            ctx.needs_input_grad = needs
        try:
            data = cls.forward(ctx, *arrays, **options)
        except (ValueError, IndexError, TypeError) as e:
            raise _forward_error(cls, e, inputs) from e
        if type(data) is not np.ndarray:
            if type(data) is tuple:
                if _recorder is not None:
                    _recorder.untraceable(f"{cls.op_name()} has several outputs")
                return _several_outputs(ctx, data, inputs, record)
            data = _zero_d_output(ctx, data)
        if mode.anomaly:
            anomaly.check_forward(ctx, data, inputs)
        out = _new_tensor(_T)
        out._data, out.grad, out.name, out._hooks = data, None, None, None
        out._vc = _shared_version(inputs[0], data) if cls.is_view else None
        if record:
            ctx.parents, ctx._t = inputs, _clock[0]
            out.requires_grad, out._ctx = True, ctx
        else:
            out.requires_grad, out._ctx = False, None
        if _recorder is not None:
            _recorder.op(cls, ctx, inputs, options, out)
        return out


_new_tensor = object.__new__


def _owner(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s memory (NumPy points every view at it)."""
    return a if a.base is None else a.base


def _shared_version(source: Tensor, data: np.ndarray) -> Version | None:
    """A view op's output shares its input's counter when it really shares its memory."""
    return version_of(source) if _owner(data) is _owner(source._data) else None


def _forward_error(cls: type[Function], e: Exception, inputs: tuple) -> Exception:
    """A forward's error as the plain built-in type, prefixed with the op and the input shapes."""
    name = cls.op_name()
    message = str(e)
    if not message.startswith(name + ":"):
        shapes = ", ".join(str(t.shape) for t in inputs)
        message = f"{name}: {message} (input shapes {shapes})"
    # NumPy's subclasses (AxisError, UFuncTypeError) are implementation details.
    kind = next(k for k in (ValueError, IndexError, TypeError) if isinstance(e, k))
    return kind(message)


def _zero_d_output(ctx: Function, value: Any) -> np.ndarray:
    """NumPy returns scalars for 0-d results: make an array, and keep 'saved the output' recognisable."""
    data = np.asarray(value)
    saved = getattr(ctx, "_saved", None)
    if saved:
        ctx._saved = tuple([data if s is value else s for s in saved])
    return data


class OutputOf(Function):
    """Output ``index`` of an op whose forward returned several arrays.

    Its backward calls the op's own backward with zeros for the other outputs. That
    is linear in the output gradients, so the parts' contributions add up to the whole.
    """

    __slots__ = ("op", "index", "outputs")

    @staticmethod
    def backward(ctx: OutputOf, grad: Tensor) -> Any:
        grads = [grad if i == ctx.index else _T._make(np.zeros_like(a), None) for i, a in enumerate(ctx.outputs)]
        op = ctx.op
        return type(op).backward(op, *grads)

    def op_name(self) -> str:  # type: ignore[override]
        return f"{self.op.op_name()}[{self.index}]"


def _several_outputs(ctx: Function, arrays: tuple, inputs: tuple, record: bool) -> tuple:
    arrays = tuple(np.asarray(a) for a in arrays)
    if record:
        ctx.parents, ctx._t = inputs, _clock[0]
    outs = []
    for i, a in enumerate(arrays):
        part = None
        if record:
            part = OutputOf.__new__(OutputOf)
            part.op, part.index, part.outputs = ctx, i, arrays
            part.parents, part.needs_input_grad, part._t = inputs, ctx.needs_input_grad, ctx._t
            part._saved = getattr(ctx, "_saved", ())
        outs.append(_T._make(a, part))
    return tuple(outs)


# ---- un-broadcasting -----------------------------------------------------------------------


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
    """Sum a gradient back to ``shape`` (the one place broadcasting is undone), as a graph op."""
    if grad.shape == shape:
        return grad
    summed = grad.sum(axis=_summed_axes(grad.shape, shape))
    return summed if summed.shape == shape else summed.reshape(shape)


def unbroadcast_array(g: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...] | None = None) -> np.ndarray:
    """:func:`unbroadcast` on a plain array (first-order passes); proven equal by a test.

    ``axes``: ``_summed_axes(g.shape, shape)`` when the caller already knows it (compiled kernels).
    """
    if axes is None:
        axes = _summed_axes(g.shape, shape)
    if axes == (0,) and g.ndim == 2:  # a bias gradient: column sums as one BLAS product, 3-4x faster
        summed = ones((len(g),), g.dtype) @ g
    else:
        summed = np.asarray(np.add.reduce(g, axis=axes))  # a full sum gives a NumPy scalar
    return summed if summed.shape == shape else summed.reshape(shape)


SMALL_CACHE_BYTES = 1 << 16  # arrays above this are made afresh each time, never kept in a cache


def small_cache(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Cache ``fn``'s read-only results up to 32 entries of at most ``SMALL_CACHE_BYTES`` each.

    Batch-sized helpers (ones vectors, offsets) repeat every step, but a cache must not
    keep a million-row array alive after the data it served is gone.
    """
    cached = functools.lru_cache(maxsize=32)(fn)

    @functools.wraps(fn)
    def wrapper(shape: Any, *args: Any) -> np.ndarray:
        n = math.prod(shape) if isinstance(shape, tuple) else shape
        if n * 8 > SMALL_CACHE_BYTES:
            return fn(shape, *args)
        return cached(shape, *args)

    wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    wrapper.small = cached  # type: ignore[attr-defined]  # for callers whose arrays are small by construction
    return wrapper


@small_cache
def ones(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A read-only array of ones: seeds of scalar losses, column sums."""
    a = np.ones(shape, dtype)
    a.flags.writeable = False  # shared by every call (a seed never becomes a leaf's .grad)
    return a


# ---- backprop ---------------------------------------------------------------------------------


def _toposort(roots: Sequence[Tensor], targets: set[Tensor] | None = None) -> list[Tensor]:
    """The op outputs behind ``roots``, each after all of its inputs (iterative DFS, no recursion).

    Leaves are not listed: nothing flows out of them, their gradients just wait to be
    accumulated. With ``targets`` (``tg.grad``'s inputs) only the nodes whose backward
    leads to a target are kept, so the rest of the graph is left intact. Tensors hash
    by identity.
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
    if targets is None:
        return order
    wanted, kept = set(targets), []
    for t in order:
        if any(p in wanted for p in t._ctx.parents):
            wanted.add(t)
            kept.append(t)
    return kept


def _as_gradient(g: Any, like: Tensor, ctx: Function, index: int, create_graph: bool) -> Tensor:
    """A backward's result as a Tensor of its input's shape and dtype (broadcasts summed back)."""
    if not isinstance(g, _T | np.ndarray | int | float | np.number):
        raise TypeError(
            f"{ctx.op_name()}: backward returned a {type(g).__name__} for input {index}; "
            "return a Tensor, a NumPy array or None per input"
        )
    if not isinstance(g, _T):
        g = _T._make(np.asarray(g, dtype=like._data.dtype), None)
    try:
        if create_graph:
            g = unbroadcast(g, like._data.shape)
        elif g._data.shape != like._data.shape:
            g = _T._make(unbroadcast_array(g._data, like._data.shape), None)
    except ValueError:
        raise ValueError(
            f"{ctx.op_name()}: backward returned a gradient of shape {g.shape} for input {index} of shape {like.shape}"
        ) from None
    if g._data.dtype != like._data.dtype:
        g = g.astype(like._data.dtype)
    return g


def _checked_backward(ctx: Function, g: Tensor) -> Any:
    """A node's rule (the definition) under anomaly mode: its forward ops are named as parts of this backward."""
    token = anomaly.backward_of.set(ctx)
    try:
        return type(ctx).backward(ctx, g)
    finally:
        anomaly.backward_of.reset(token)


def _as_tuple(in_grads: Any, ctx: Function) -> tuple:
    """A rule's result as one gradient per input, or an error naming the op."""
    if type(in_grads) is not tuple:
        in_grads = (in_grads,)
    if len(in_grads) != len(ctx.parents):
        raise ValueError(f"{ctx.op_name()}: backward returned {len(in_grads)} gradients for {len(ctx.parents)} inputs")
    return in_grads


def _backprop(
    roots: Sequence[Tensor],
    seeds: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    capture: dict[Tensor, Tensor | None] | None = None,
) -> None:
    """Propagate ``seeds`` from ``roots`` to every tensor that needs a gradient.

    With ``capture`` (``tg.grad``'s inputs) only the nodes leading to those tensors run
    and their gradients are stored there, leaves' ``.grad`` untouched; otherwise leaves
    accumulate.
    """
    grads: dict[Tensor, Tensor] = {}
    for r, s in zip(roots, seeds):
        grads[r] = grads[r] + s if r in grads else s
    order = _toposort(roots, None if capture is None else set(capture))
    mode = _mode.get()
    check = mode.anomaly
    token = _mode.set(mode.with_(enabled=create_graph))  # record the rules only for create_graph
    try:
        for t in reversed(order):
            g = grads.pop(t, None)
            if g is None:
                continue
            if t._hooks is not None:
                g = _run_hooks(t, g, create_graph)
            if capture is not None and t in capture:
                capture[t] = g
            ctx = t._ctx
            if _clock[0] > ctx._t:  # something changed in place since this node was made
                _check_versions(ctx, t)
            cls = type(ctx)
            ctx._output = t  # reachable for saved_tensors while its backward runs
            try:
                if _recorder is not None:
                    in_grads = _recorder.node(ctx, t, g, create_graph, check)
                elif check:
                    in_grads = _checked_backward(ctx, g)
                elif create_graph or cls.backward_arrays is None:
                    in_grads = cls.backward(ctx, g)
                else:  # a first-order pass: the op's array twin of its rule
                    in_grads = cls.backward_arrays(ctx, g._data)
            finally:
                ctx._output = None
            if not retain_graph:
                ctx._saved = None
            if type(in_grads) is not tuple or len(in_grads) != len(ctx.parents):
                in_grads = _as_tuple(in_grads, ctx)
            for i, (p, pg) in enumerate(zip(ctx.parents, in_grads)):
                if pg is None or not p.requires_grad:
                    continue
                if type(pg) is np.ndarray and pg.shape == p._data.shape and pg.dtype == p._data.dtype:
                    pg = _T._make(pg, None)  # what array rules return
                elif type(pg) is not _T or pg._data.shape != p._data.shape or pg._data.dtype != p._data.dtype:
                    pg = _as_gradient(pg, p, ctx, i, create_graph)
                if check:
                    anomaly.check_backward(ctx, i, pg._data)
                prev = grads.get(p)
                grads[p] = pg if prev is None else prev + pg
        _finish(grads, seeds, create_graph, capture)
    finally:
        _mode.reset(token)


def _finish(grads: dict[Tensor, Tensor], seeds: Sequence[Tensor], create_graph: bool, capture: dict | None) -> None:
    """Store what is left, the leaves' (or tg.grad's inputs') gradients, only now: a failed
    backward leaves every ``.grad`` untouched."""
    if _recorder is not None:
        _recorder.finish_begins(grads, capture)
    if capture is not None:
        grads = {t: g for t, g in grads.items() if t in capture}
    for t, g in grads.items():
        if t._hooks is not None:
            grads[t] = _run_hooks(t, g, create_graph)
    if capture is not None:
        capture.update(grads)
        return
    # A leaf keeps g's buffer as its own unless someone else may hold it: a view (reshape,
    # expand), a seed (maybe the caller's array), another leaf's grad.
    shared = {id(s._data) for s in seeds}
    for t, g in grads.items():
        owned = g._data.base is None and id(g._data) not in shared
        shared.add(id(g._data))
        if t.grad is not None:  # under create_graph the sum stays differentiable
            t.grad = t.grad + g if create_graph else _T._make(t.grad._data + g._data, None)
        elif owned or g._ctx is not None:  # a graph tensor (create_graph) must stay itself
            t.grad = g
        else:
            t.grad = _T._make(g._data.copy(), None)
    if _recorder is not None:
        _recorder.finish_ends(grads)


# ---- hooks ------------------------------------------------------------------------------------

_RETAIN = object()  # the marker retain_grad() puts among a tensor's hooks


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` takes the hook off again."""

    _ids = itertools.count()

    def __init__(self, hooks: dict[int, Any]) -> None:
        self.hooks, self.id = hooks, next(self._ids)

    def remove(self) -> None:
        self.hooks.pop(self.id, None)


def add_hook(t: Tensor, fn: Any) -> RemovableHandle:
    if t._hooks is None:
        t._hooks = {}
    handle = RemovableHandle(t._hooks)
    t._hooks[handle.id] = fn
    return handle


def _run_hooks(t: Tensor, g: Tensor, create_graph: bool) -> Tensor:
    """Call ``t``'s hooks in order, each with the gradient so far (a hook may return a new one)."""
    for fn in list(t._hooks.values()):
        if fn is _RETAIN:
            continue
        new = fn(g)
        if new is not None:
            if not isinstance(new, _T) or new.shape != g.shape:
                shape = getattr(new, "shape", None)
                raise TypeError(
                    f"hook {getattr(fn, '__name__', fn)!r}: must return None or a Tensor of shape {g.shape}, "
                    f"got {type(new).__name__}" + (f" of shape {shape}" if shape is not None else "")
                )
            g = new
    if _RETAIN in t._hooks.values() and t._ctx is not None:
        copy = g if create_graph else _T._make(g._data.copy(), None)
        t.grad = copy if t.grad is None else t.grad + copy
    return g


# ---- entry points -------------------------------------------------------------------------------


def _seed(output: Tensor, gradient: Any, what: str) -> Tensor:
    if gradient is None:
        if output._data.size != 1:
            raise ValueError(
                f"{what}: output of shape {output.shape} is not a scalar; pass a gradient of the same shape"
            )
        return _T._make(ones.small(output._data.shape, output._data.dtype), None)  # one element
    g = gradient if isinstance(gradient, _T) else _T(gradient, dtype=output.dtype)
    if g.shape != output.shape:
        raise ValueError(f"{what}: gradient of shape {g.shape} does not match output of shape {output.shape}")
    return g


def _check_requires_grad(t: Any, what: str) -> None:
    if not isinstance(t, _T):
        raise TypeError(f"{what}: expected Tensors, got a {type(t).__name__}")
    if not t.requires_grad:
        label = f" '{t.name}'" if t.name else ""
        raise RuntimeError(
            f"{what}: tensor{label} of shape {t.shape} does not require grad "
            "(create it with requires_grad=True, outside no_grad)"
        )


def _as_list(x: Any, n: int | None, what: str) -> list:
    """One tensor (or gradient) or a sequence of them, as a list (of ``n`` items when given)."""
    items = [x] if isinstance(x, _T) or not isinstance(x, list | tuple) else list(x)
    if n is not None and len(items) != n:
        raise ValueError(f"{what}: {len(items)} gradients for {n} outputs")
    return items


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(sum of tensors)/d(leaf) into every leaf's ``.grad``.

    ``tensors`` is one tensor or a list; ``grad_tensors`` one gradient per tensor
    (``None`` for a scalar, which is seeded with 1).
    """
    if isinstance(tensors, _T):  # the usual loss.backward()
        _check_requires_grad(tensors, "backward")
        outs, seeds = [tensors], [_seed(tensors, grad_tensors, "backward")]
    else:
        outs = _as_list(tensors, None, "backward")
        grad_tensors = [None] * len(outs) if grad_tensors is None else _as_list(grad_tensors, len(outs), "backward")
        for o in outs:
            _check_requires_grad(o, "backward")
        seeds = [_seed(o, g, "backward") for o, g in zip(outs, grad_tensors)]
    keep = create_graph if retain_graph is None else retain_graph
    _backprop(outs, seeds, keep, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated).

    Walks only the nodes between them (an intermediate input's own graph stays intact).
    With ``create_graph=True`` the returned tensors are part of a graph and can be
    differentiated again (Hessian-vector products, second derivatives).
    """
    outs = _as_list(outputs, None, "grad")
    ins = _as_list(inputs, None, "grad")
    if grad_outputs is None:
        grad_outputs = [None] * len(outs)
    elif isinstance(outputs, _T) or not isinstance(grad_outputs, list | tuple):
        grad_outputs = [grad_outputs]
    grad_outputs = _as_list(grad_outputs, len(outs), "grad")
    for t in (*outs, *ins):
        _check_requires_grad(t, "grad")
    seeds = [_seed(o, g, "grad") for o, g in zip(outs, grad_outputs)]
    capture: dict[Tensor, Tensor | None] = dict.fromkeys(ins)
    keep = create_graph if retain_graph is None else retain_graph
    _backprop(outs, seeds, keep, create_graph, capture)
    # d x / d x is the seed itself (or a view of it): a constant one may be shared (a cached
    # ones array, the caller's array), so it is copied; a seed in a graph stays itself.
    seed_buffers = {id(_owner(s._data)) for s in seeds}
    result = []
    for i, x in enumerate(ins):
        g = capture[x]
        if g is None and not allow_unused:
            label = f" '{x.name}'" if x.name else ""
            raise ValueError(
                f"grad: input {i}{label} of shape {x.shape} is not used to compute the outputs "
                "(pass allow_unused=True to get None for it)"
            )
        if g is not None and not g.requires_grad and id(_owner(g._data)) in seed_buffers:
            g = _T._make(g._data.copy(), None)
        result.append(g)
    return tuple(result)
