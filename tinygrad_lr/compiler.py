"""``tg.compile(step)``: record a training step's NumPy work once, then replay it as a flat tape.

The first call with a new *signature* (the arguments' shapes and dtypes, grad and anomaly modes,
Python scalars by value) runs ``step`` eagerly while a recorder, hooked into the
engine, writes every array computation down in order: each op's ``forward``, each
node's backward rule, the gradient sums and un-broadcasts, the leaves' ``.grad``
and the optimizer's update. The second call records again and the two tapes must
agree: anything that changed between them (a branch taken on a value, a tensor
built from NumPy work outside the ops) means the step is not traceable, and it
runs eagerly from then on with a one-line warning (``strict=True`` raises). Later
calls replay the tape: the very same NumPy calls in the same order on the new
arrays, so results are bit-identical, without Tensors, nodes, toposort or the
step's Python code. docs/compiler.md explains tape, signature and fallback.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from . import autograd, guards, kernels
from .autograd import _as_gradient, _as_tuple, _checked_backward, _zero_d_output, unbroadcast_array
from .grad_mode import current as _mode
from .tensor import Tensor

__all__ = ["CompileWarning", "Compiled", "UntraceableError", "compile"]

CACHE_SIZE = 8  # tapes kept per compiled step (least recently used dropped first)
RENEWALS = 2  # recordings in a row a watched name may change between before the step runs eagerly
_SCALARS = (int, float, bool, str, type(None))


class CompileWarning(UserWarning):
    """A compiled step runs eagerly; the message says why."""


class UntraceableError(RuntimeError):
    """``tg.compile(step, strict=True)``: the step cannot be recorded as a tape."""


# ---- the tape ----------------------------------------------------------------------------------


class Tape:
    """One signature's recording: where each slot's array comes from, and the entries that fill the rest.

    ``sources`` are read at the start of a replay: ``("arg", i)`` an argument,
    ``("tensor", t)`` a tensor that lives outside the step (a parameter: its array is
    read afresh, so in-place updates and ``.data =`` are seen), ``("const", a)``.
    ``keys`` describe the entries, so two recordings can be compared.
    """

    def __init__(self) -> None:
        self.n = 1  # slot 0 holds the arguments
        self.sources: list[tuple[int, str, Any]] = []
        self.entries: list[Callable[[list], None]] = []
        self.keys: list[tuple] = []
        self.result: Any = None  # the step's return value, with slots for tensors
        self.guards: list[tuple[Tensor, int, tuple, np.dtype, bool]] = []
        self.template: list = []
        self.arg_slots: list[tuple[int, int, bool]] = []
        self.uses: list[tuple[int, ...]] = []  # per entry, the slots it reads or writes
        self.infos: list[Any] = []  # per entry, what kernels.lower needs to know (None: nothing to lower)
        self.steps: list[tuple[Callable[[list], None], tuple[int, ...]]] = []  # entries, slots to free after
        self.kernel_ops: list[type] = []  # the ops that replay as kernels (once lowered)
        self.kept: set[int] = set()  # the slots of the tensors the step returns (never freed)
        self.name_guards: list[guards.Guard] = []  # the names the step's code reads, as they were
        self.holds: Callable[[], bool] = lambda: False  # checks them all; set when the tape is confirmed
        self.renewals = 0  # recordings replaced because a watched name changed between two of them
        self.cleared: list[Tensor] = []  # outside leaves whose .grad the step cleared before its backward
        self.cleared_at_end: list[Tensor] = []  # ... and those it cleared after (zero_grad() last)

    def seal(self) -> None:
        """Precompute what replays need: the constant slots filled in, guards on outside tensors."""
        self.template = [None] * self.n
        for slot, kind, ref in self.sources:
            if kind == "const":
                self.template[slot] = ref
            elif kind == "tensor":
                self.guards.append((ref, slot, ref._data.shape, ref._data.dtype, ref.requires_grad))
            else:
                self.arg_slots.append((slot, ref[0], ref[1]))
        self.kept = {r.slot for r in _slots_in(self.result)}
        self.steps = list(zip(self.entries, self._frees(self.uses)))

    def lower(self) -> None:
        """Replay with kernels from now on: the hot ops' NumPy work without ctx objects or checks."""
        runs, uses, self.kernel_ops = kernels.lower(self.entries, self.infos, self.uses, self.kept)
        self.steps = list(zip(runs, self._frees(uses)))

    def _frees(self, uses: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        """Per entry, the slots to drop after it: those no later entry reads and the step does not return."""
        last = {slot: i for i, used in enumerate(uses) for slot in used}  # the later entry wins
        frees: list[list[int]] = [[] for _ in uses]
        for slot, i in last.items():
            if slot not in self.kept:
                frees[i].append(slot)
        return [tuple(free) for free in frees]

    def replay(self, args: list) -> Any:
        """Run the entries on ``args``; ``_STALE`` when a name the step reads holds another value, or an
        outside tensor changed shape, dtype or requires_grad."""
        if not self.holds():  # the program rebound a name the step reads
            return _STALE
        env = self.template.copy()
        env[0] = args
        for t, slot, shape, dtype, needs in self.guards:
            a = t._data
            if a.shape != shape or (a.dtype is not dtype and a.dtype != dtype) or t.requires_grad is not needs:
                return _STALE
            env[slot] = a
        for slot, i, is_tensor in self.arg_slots:
            env[slot] = args[i]._data if is_tensor else args[i]
        for t in self.cleared:  # as the step's zero_grad() did: a replay that fails leaves them None too
            t.grad = None
        for run, free in self.steps:  # values nobody reads later are dropped as soon as possible
            run(env)
            for slot in free:
                env[slot] = None
        for t in self.cleared_at_end:
            t.grad = None
        return _unpack(self.result, env)

    def differs(self, other: Tape) -> str | None:
        """Why two recordings of one signature disagree (None: they agree, the tape can be replayed)."""
        if self.keys != other.keys or self.n != other.n:
            where = next((i for i, (a, b) in enumerate(zip(self.keys, other.keys)) if a != b), len(self.keys))
            return f"the step did different work on its second call (entry {where}: Python control flow on values?)"
        if len(self.sources) != len(other.sources) or _freeze(self.result) != _freeze(other.result):
            return "the step read different tensors or returned different things on its second call"
        for (_, kind, ref), (_, kind2, ref2) in zip(self.sources, other.sources):
            if kind != kind2:
                return "the step read its values from different places on its second call"
            if kind == "tensor" and ref is not ref2:
                a, b = ref._data, ref2._data
                if a.ndim > 0 or not _same_array(a, b):  # a 0-d one the same both times: a number, a constant
                    return (
                        f"a tensor of shape {a.shape} is made inside the step from values computed outside "
                        "tinygrad_lr ops (NumPy on .data or on the arguments); pass it as an argument"
                    )
            elif kind == "const" and not _same_array(ref, ref2):
                return f"an array of shape {ref.shape} computed outside tinygrad_lr ops changed between calls"
            elif kind == "arg" and ref != ref2:
                return "the step used its arguments differently on its second call"
        return None


_STALE = object()
_recording = threading.Lock()  # one recording at a time: the engine's hook slot is global


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


def _freeze(v: Any) -> Any:
    """A comparable stand-in for an option or a result (arrays by content)."""
    if isinstance(v, np.ndarray):
        return ("array", v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, tuple | list):
        return (type(v).__name__, *map(_freeze, v))
    if isinstance(v, dict):
        return ("dict", *((k, _freeze(x)) for k, x in v.items()))
    return v


class _Slot:
    """A tensor in the recorded result: rebuilt from its slot's array at each replay."""

    __slots__ = ("slot",)

    def __init__(self, slot: int) -> None:
        self.slot = slot

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Slot) and other.slot == self.slot

    def __hash__(self) -> int:
        return hash(self.slot)


def _slots_in(result: Any) -> list[_Slot]:
    if type(result) is _Slot:
        return [result]
    items = result.values() if isinstance(result, dict) else result if isinstance(result, tuple | list) else ()
    return [s for item in items for s in _slots_in(item)]


def _unpack(result: Any, env: list) -> Any:
    if type(result) is _Slot:
        return Tensor._make(env[result.slot], None)
    if isinstance(result, tuple | list):
        return type(result)(_unpack(r, env) for r in result)
    if isinstance(result, dict):
        return {k: _unpack(v, env) for k, v in result.items()}
    return result


# ---- the entries (each the same NumPy work the eager engine does) ---------------------------------


def _forward_entry(cls: type, ins: list[int], options: dict, option_slots: list, needs: Any, out: int, ctx_slot: int):
    """``cls.forward`` on the input slots, as ``Function.apply`` calls it (0-d results made arrays)."""
    forward, new = cls.forward, cls.__new__

    def run(env: list) -> None:
        ctx = new(cls)
        if needs is not None:
            ctx.needs_input_grad = needs
        opts = options
        if option_slots:
            opts = dict(options)
            for name, slot in option_slots:
                opts[name] = env[slot]
        data = forward(ctx, *[env[s] for s in ins], **opts)
        env[out] = data if type(data) is np.ndarray else _zero_d_output(ctx, data)
        env[ctx_slot] = ctx

    if len(ins) != 2 or option_slots or options:
        return run
    a, b = ins

    def run2(env: list) -> None:  # the common case (binary ops without options), without the list
        ctx = new(cls)
        if needs is not None:
            ctx.needs_input_grad = needs
        data = forward(ctx, env[a], env[b])
        env[out] = data if type(data) is np.ndarray else _zero_d_output(ctx, data)
        env[ctx_slot] = ctx

    return run2


def _stub(shape: tuple, dtype: np.dtype) -> Tensor:
    """A stand-in parent for ``_as_gradient``, which reads only its shape and dtype (no memory)."""
    return Tensor._make(np.broadcast_to(np.zeros((), dtype), shape), None)


def _node_gradients(ctx: Any, g: np.ndarray, arrays_rule: bool, likes: tuple, needed: tuple) -> list:
    """One node's input gradients as arrays, exactly as ``_backprop`` makes them (recording and replay share this).

    A gradient of the right dtype in a broadcast shape goes straight to ``unbroadcast_array``,
    which is what ``_as_gradient`` does with it; anything else goes through ``_as_gradient``.
    """
    cls = type(ctx)
    in_grads = cls.backward_arrays(ctx, g) if arrays_rule else cls.backward(ctx, Tensor._make(g, None))
    if type(in_grads) is not tuple:
        in_grads = (in_grads,)
    if len(in_grads) != len(likes):
        in_grads = _as_tuple(in_grads, ctx)  # raises, naming the op
    out = []
    for i, (like, pg) in enumerate(zip(likes, in_grads)):
        if pg is None or not needed[i]:
            out.append(None)
            continue
        a = pg._data if type(pg) is Tensor else pg
        data = like._data
        if type(a) is np.ndarray and a.dtype == data.dtype:
            if a.shape == data.shape:
                out.append(a)
                continue
            try:
                out.append(unbroadcast_array(a, data.shape))
                continue
            except ValueError:
                pass  # _as_gradient raises it again, naming the op
        out.append(_as_gradient(pg, like, ctx, i, False)._data)
    return out


def _node_entry(
    ctx_slot: int, ins: list[int], out_slot: int, g_slot: int, arrays_rule: bool, parents: bool, likes, needed, outs
):
    """A node's backward; a Tensor rule that saved values gets its inputs and output back as tensors
    (``saved_tensors`` finds them there; the package's rules read nothing else of the graph)."""
    pairs = [(slot, i) for i, slot in enumerate(outs) if slot is not None]

    def run(env: list) -> None:
        ctx = env[ctx_slot]
        if parents:
            ctx.parents = tuple([Tensor._make(env[s], None) for s in ins])
            ctx._output = Tensor._make(env[out_slot], None)
        grads = _node_gradients(ctx, env[g_slot], arrays_rule, likes, needed)
        for slot, i in pairs:
            env[slot] = grads[i]

    return run


def _grad_entry(leaf: Any, how: str, g_slot: int, old_slot: int | None, out: int):
    """A leaf's ``.grad`` as ``_finish`` sets it: the gradient itself, a copy, or a sum with the earlier one."""

    def run(env: list) -> None:
        t = env[0][leaf] if type(leaf) is int else leaf
        g = env[g_slot]
        a = g if how == "assign" else g.copy() if how == "copy" else env[old_slot] + g
        t.grad = Tensor._make(a, None)
        env[out] = a

    return run


def _optimizer_entry(opt: Any, without_grad: list):
    """``opt.step()`` itself, on the gradients the replay just stored (and None where the recording had none)."""

    def run(env: list) -> None:
        for p in without_grad:
            p.grad = None
        opt.step()

    return run


def _array_entry(how: Any, src: int, out: int):
    """What ``Tensor(array)`` did to a known array: ``astype(dtype)`` (see ``_to_array``) or a copy."""

    def run(env: list) -> None:
        env[out] = env[src].copy() if how == "copy" else env[src].astype(how)

    return run


def _numpy_entry(fn: Any, args: list, kwargs: dict, out: int):
    """A comparison or an argmax on the tape's arrays (slots) and numbers, as ``Tensor`` made it."""

    def run(env: list) -> None:
        env[out] = np.asarray(fn(*(c if s is None else env[s] for s, c in args), **kwargs))

    return run


def _same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    """Views of the same numbers (``Tensor(x)`` takes ``x.view()``)."""
    return a.strides == b.strides and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]


# ---- recording ------------------------------------------------------------------------------------


class _Recorder:
    """Called by the engine's hooks while a step runs eagerly; writes the tape, or a reason it cannot."""

    def __init__(self, args: list) -> None:
        self.tape = Tape()
        self.reason: str | None = None
        self.thread = threading.get_ident()
        self.depth = 0  # > 0 inside work that an entry replays as a whole
        self.slots: dict[int, int] = {}  # id(array) -> slot
        self.keep: list = []  # every array seen, so ids stay unique while recording
        self.args = args
        self.watched: list[tuple[Tensor, np.ndarray, np.ndarray]] = []  # outside tensors, their array, a copy
        self.updated: set[int] = set()  # ids of tensors an optimizer step updated
        self.pending_bumps: set[int] = set()
        self.grad_leaves: list[Tensor] = []  # outside leaves the backward gave a .grad
        self.before: dict = {}
        self.arg_copies: list[tuple[int, Any, np.ndarray]] = []  # to see NumPy writes into them
        for i, a in enumerate(args):
            if isinstance(a, Tensor | np.ndarray):
                array = a._data if isinstance(a, Tensor) else a
                slot = self._new_slot(array)
                self.tape.sources.append((slot, "arg", (i, isinstance(a, Tensor))))
                self.arg_copies.append((i, a, array.copy()))

    def untraceable(self, reason: str) -> None:
        if self.reason is None and self.depth == 0 and threading.get_ident() == self.thread:
            self.reason = reason

    def _active(self) -> bool:
        return self.reason is None and self.depth == 0 and threading.get_ident() == self.thread

    def _new_slot(self, array: Any) -> int:
        slot = self.tape.n
        self.tape.n += 1
        self.slots[id(array)] = slot
        self.keep.append(array)
        return slot

    def _slot(self, array: np.ndarray, tensor: Tensor | None) -> int:
        """The slot of an array an op reads: known, or a new source (an outside tensor, else a constant)."""
        slot = self.slots.get(id(array))
        if slot is not None:
            return slot
        slot = self._new_slot(array)
        if tensor is None:
            self.tape.sources.append((slot, "const", array.copy()))
        else:
            self.tape.sources.append((slot, "tensor", tensor))
            self.watched.append((tensor, array, array.copy() if tensor.requires_grad else array))
        return slot

    def _add(self, key: tuple, entry: Callable[[list], None], uses: tuple = (), info: Any = None) -> None:
        """Append an entry; ``uses`` are the slots it reads or writes (freed after their last use)."""
        self.tape.keys.append(key)
        self.tape.entries.append(entry)
        self.tape.uses.append(tuple(s for s in uses if s is not None))
        self.tape.infos.append(info)

    # ---- the hooks ----
    def op(self, cls: type, ctx: Any, inputs: tuple, options: dict, out: Tensor) -> None:
        if not self._active():
            return
        if _mode.get().anomaly:
            self.reason = "anomaly mode is on"
            return
        ins = [self._slot(x._data, x) for x in inputs]
        static, option_slots = {}, []
        for name, value in options.items():
            if type(value) is np.ndarray:
                option_slots.append((name, self._slot(value, None)))
            else:
                static[name] = value
        needs = ctx.needs_input_grad if out._ctx is not None else None
        ctx_slot, out_slot = self._new_slot(ctx), self._new_slot(out._data)
        key = ("op", cls, tuple(ins), _freeze(static), tuple(option_slots), needs, out_slot)
        uses = (*ins, *(slot for _, slot in option_slots), out_slot, ctx_slot)
        metas = tuple((x._data.shape, x._data.dtype) for x in inputs)
        info = kernels.OpInfo(cls, tuple(ins), dict(option_slots), needs, out_slot, ctx_slot, metas, static)
        self._add(key, _forward_entry(cls, ins, static, option_slots, needs, out_slot, ctx_slot), uses, info)

    def node(self, ctx: Any, t: Tensor, g: Tensor, create_graph: bool, check: bool) -> Any:
        """A node's backward during recording: computed here, so the same function can replay it."""
        cls = type(ctx)
        if create_graph or check:
            self.untraceable("create_graph=True" if create_graph else "anomaly mode is on")
        if t._hooks is not None:
            self.untraceable("a tensor in the step has a hook or retain_grad()")
        if not self._active():
            if check:
                return _checked_backward(ctx, g)
            return cls.backward(ctx, g) if create_graph or cls.backward_arrays is None else cls.backward_arrays(ctx, g)
        arrays_rule = cls.backward_arrays is not None
        likes = tuple(_stub(p._data.shape, p._data.dtype) for p in ctx.parents)
        needed = tuple(p.requires_grad for p in ctx.parents)
        g_slot = self._slot(g._data, g)
        ctx_slot, out_slot = self.slots.get(id(ctx)), self.slots.get(id(t._data))
        ins = [self.slots.get(id(p._data)) for p in ctx.parents]
        if ctx_slot is None or out_slot is None or None in ins:
            self.reason = f"backward reached {ctx.op_name()}, made before the step (its graph came from outside)"
            return cls.backward_arrays(ctx, g._data) if arrays_rule else cls.backward(ctx, g)
        self.depth += 1
        try:
            arrays = _node_gradients(ctx, g._data, arrays_rule, likes, needed)
        finally:
            self.depth -= 1
        grads = tuple(None if a is None else Tensor._make(a, None) for a in arrays)
        outs = tuple(None if a is None else self._new_slot(a) for a in arrays)
        key = ("node", ctx_slot, out_slot, tuple(ins), g_slot, arrays_rule, needed, outs)
        parents = not arrays_rule and (
            getattr(ctx, "_saved", None) is not None or not cls.__module__.startswith("tinygrad_lr.")
        )
        entry = _node_entry(ctx_slot, ins, out_slot, g_slot, arrays_rule, parents, likes, needed, outs)
        info = kernels.NodeInfo(ctx_slot, g_slot, g._data.shape, g._data.dtype, outs)
        self._add(key, entry, (ctx_slot, g_slot, *outs, *((*ins, out_slot) if parents else ())), info)
        return grads

    def finish_begins(self, grads: dict, capture: dict | None) -> None:
        if threading.get_ident() != self.thread:
            return
        if capture is not None:
            self.untraceable("tg.grad inside the step (use backward and .grad)")
        if any(t._hooks is not None for t in grads):
            self.untraceable("a leaf tensor in the step has a hook")
        self.before = {t: t.grad for t in grads}

    def finish_ends(self, grads: dict) -> None:
        if not self._active():
            return
        for t, g in grads.items():
            before = self.before[t]
            g_slot, old_slot = self._slot(g._data, g), None
            if before is None:
                how = "assign" if t.grad._data is g._data else "copy"
            else:
                how, old_slot = "add", self.slots.get(id(before._data))
                if old_slot is None:
                    self.reason = "a gradient accumulates onto one from before the step (call zero_grad() in the step)"
                    return
            leaf = next((i for i, a in enumerate(self.args) if a is t), t)
            if type(leaf) is not int and all(c is not t for c in self.grad_leaves):
                self.grad_leaves.append(t)
                if before is None:  # cleared by the step (zero_grad()) before its backward
                    self.tape.cleared.append(t)
            out = self._new_slot(t.grad._data)
            key = ("grad", leaf if type(leaf) is int else id(leaf), how, g_slot, old_slot, out)
            self._add(key, _grad_entry(leaf, how, g_slot, old_slot, out), (g_slot, old_slot, out))

    def optimizer_step(self, opt: Any) -> None:
        if not self._active():
            return
        without = [p for p in opt.params if p.grad is None]
        for p in opt.params:
            if p.grad is not None and id(p.grad._data) not in self.slots:
                self.reason = "the optimizer steps on a gradient from before the step (call zero_grad() in the step)"
                return
            if p.grad is not None:
                self.pending_bumps.add(id(p))
                self.updated.add(id(p))
        grad_slots = tuple((i, p, self.slots[id(p.grad._data)]) for i, p in enumerate(opt.params) if p.grad is not None)
        info = kernels.StepInfo(opt, tuple(without), grad_slots)
        key, uses = ("step", id(opt), tuple(id(p) for p in without)), tuple(s for *_, s in grad_slots)
        self._add(key, _optimizer_entry(opt, without), uses, info)

    def bumped(self, t: Tensor) -> None:
        if id(t) in self.pending_bumps:
            self.pending_bumps.discard(id(t))
        else:
            self.untraceable("a tensor is changed in place inside the step (only optimizer steps are recorded)")

    def read(self, what: str) -> None:
        self.untraceable(f"{what} reads a tensor's value inside the step (return the tensor, read it outside)")

    def made(self, t: Tensor, source: Any) -> None:
        """``Tensor(array)`` inside the step: the same numbers as an array the tape knows, a cast or a copy."""
        if not self._active() or type(source) is not np.ndarray or id(source) not in self.slots:
            return
        slot, a = self.slots[id(source)], t._data
        if a.shape != source.shape:
            return  # not one of Tensor()'s own conversions: a source of its own if an op reads it
        if a.dtype == source.dtype and _same_memory(a, source):
            self.slots[id(a)] = slot
            self.keep.append(a)
            return
        how = "copy" if a.dtype == source.dtype else a.dtype
        out = self._new_slot(a)
        self._add(("array", str(how), slot, out), _array_entry(how, slot, out), (slot, out))

    def outside_graph(self, fn: Any, operands: tuple, kwargs: dict, out: Tensor) -> None:
        """NumPy work on tensors that makes no node (a comparison, argmax): the same call, replayed."""
        if not self._active():
            return
        args = []
        for o in operands:
            if isinstance(o, Tensor):
                args.append((self._slot(o._data, o), None))
            elif isinstance(o, np.ndarray):
                args.append((self._slot(o, None), None))
            elif isinstance(o, _SCALARS + (np.generic,)):  # a number: a constant of the entry
                args.append((None, o))
            else:
                self.untraceable(f"{fn.__name__} on a {type(o).__name__} inside the step")
                return
        slot = self._new_slot(out._data)
        key = ("numpy", fn.__name__, tuple(args), tuple(sorted(kwargs.items())), slot)
        self._add(key, _numpy_entry(fn, args, kwargs, slot), (*(s for s, _ in args if s is not None), slot))

    def close(self, result: Any) -> None:
        """The step has returned: check outside tensors were left alone, describe the result."""
        for i, arg, copy in self.arg_copies:  # (a parameter passed in may be updated by the optimizer)
            array = arg._data if isinstance(arg, Tensor) else arg
            if id(arg) not in self.updated and not _same_array(array, copy):
                self.untraceable(f"argument {i} is changed in place inside the step (x *= 2: write x = x * 2)")
        for t, array, copy in self.watched:
            if t._data is not array:
                self.untraceable("a tensor's .data was replaced inside the step (p.data -= ...: use an optimizer)")
            elif id(t) not in self.updated and t.requires_grad and not _same_array(array, copy):
                self.untraceable("a tensor was changed in place without an optimizer (p.data -= ...)")
        self.tape.cleared_at_end = [t for t in self.grad_leaves if t.grad is None]
        if self.reason is None:
            self.tape.result = self._pack(result)
        self.tape.seal()

    def _pack(self, value: Any) -> Any:
        if isinstance(value, Tensor):
            return _Slot(self._slot(value._data, value))
        if isinstance(value, tuple | list):
            return type(value)(self._pack(v) for v in value)
        if isinstance(value, dict):
            return {k: self._pack(v) for k, v in value.items()}
        if isinstance(value, _SCALARS):
            return value
        self.untraceable(f"the step returns a {type(value).__name__} (return Tensors, numbers or tuples of them)")
        return None


# ---- the compiled step ----------------------------------------------------------------------------


def _signature(args: tuple) -> tuple | None:
    """Shapes and dtypes of arrays and tensors, scalars by value, the grad and anomaly modes; None for other
    arguments. (A tape recorded without anomaly mode must not replay under it: replays check nothing.)"""
    key: list = [_mode.get()]  # one interned Mode per (grad enabled, anomaly)
    for a in args:
        t = type(a)
        if t is Tensor:
            key.append((a._data.shape, a._data.dtype, a.requires_grad))
        elif t is np.ndarray:
            key.append((a.shape, a.dtype))
        elif t in _SCALARS:
            key.append((t, a))
        else:
            return None
    return tuple(key)


class Compiled:
    """A step with its tapes: call it like the step itself (``tg.compile`` makes these)."""

    def __init__(self, step: Callable, strict: bool = False, kernels: bool = True, quiet: bool = False) -> None:
        """``quiet=True`` falls back to eager without the warning (``fit`` compiling by default)."""
        if not callable(step):
            raise TypeError(f"compile: expected a function, got {type(step).__name__}")
        self.step, self.strict, self.kernels, self.quiet = step, bool(strict), bool(kernels), bool(quiet)
        self.tapes: OrderedDict[tuple, Tape | str] = OrderedDict()
        self.pending: dict[tuple, Tape] = {}
        functools.update_wrapper(self, step)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if autograd._recorder is not None:  # inside another recording (or another thread's): run the ops
            return self.step(*args, **kwargs)
        if kwargs:
            args = (*args, *kwargs.values())
            names = tuple(kwargs)
            step = functools.partial(_call_with_names, self.step, len(args) - len(names), names)
        else:
            step = self.step
        sig = _signature(args)
        if sig is None:
            kinds = sorted({type(a).__name__ for a in args if type(a) not in (Tensor, np.ndarray, *_SCALARS)})
            return self._eager(("unsupported", *kinds), f"arguments of type {', '.join(kinds)}", step, args)
        if kwargs:
            sig = (*sig, tuple(kwargs))
        tape = self.tapes.get(sig)
        if type(tape) is Tape:
            if len(self.tapes) > 1:
                self.tapes.move_to_end(sig)
            result = tape.replay(args)
            if result is not _STALE:
                return result
            del self.tapes[sig]
        elif type(tape) is str:
            return step(*args)
        return self._record(sig, step, args)

    def _record(self, sig: tuple, step: Callable, args: tuple) -> Any:
        if not _recording.acquire(blocking=False):  # another thread is recording: this call runs eagerly
            return step(*args)
        recorder = _Recorder(list(args))
        recorder.tape.name_guards = guards.watch(self.step)  # what the step's names hold as it starts
        autograd._recorder = recorder
        try:
            result = step(*args)
            recorder.close(result)
        finally:
            autograd._recorder = None
            _recording.release()
        reason = recorder.reason
        tape = recorder.tape
        outside = [ref for _, kind, ref in tape.sources if kind == "tensor"]
        tape.name_guards += guards.reaching(self.step, outside, tape.name_guards)
        first = self.pending.pop(sig, None)
        renamed = first is not None and guards.differ(first.name_guards, recorder.tape.name_guards)
        if reason is None and renamed and first.renewals < RENEWALS:  # set up on a first call: record again
            recorder.tape.renewals = first.renewals + 1
            self.pending[sig] = recorder.tape
            return result
        if reason is None and renamed:
            reason = f"{renamed} holds a new value on every call (pass what changes as an argument)"
        if reason is None and first is not None:
            reason = first.differs(recorder.tape)
        if reason is not None:
            self._store(sig, reason)
            self._give_up(reason)
        elif first is None:
            self.pending[sig] = recorder.tape
            if len(self.pending) > CACHE_SIZE:
                del self.pending[next(iter(self.pending))]
        else:
            if self.kernels:
                first.lower()
            first.holds = guards.holds(first.name_guards)
            self._store(sig, first)
        return result

    def _store(self, sig: tuple, value: Tape | str) -> None:
        self.tapes[sig] = value
        if len(self.tapes) > CACHE_SIZE:
            self.tapes.popitem(last=False)

    def _eager(self, sig: tuple, reason: str, step: Callable, args: tuple) -> Any:
        if sig not in self.tapes:
            self._store(sig, reason)
            self._give_up(reason)
        return step(*args)

    def _give_up(self, reason: str) -> None:
        name = getattr(self.step, "__qualname__", repr(self.step))
        message = f"compile: {name} runs eagerly: {reason}"
        if self.strict:
            raise UntraceableError(message)
        if not self.quiet:
            warnings.warn(message, CompileWarning, stacklevel=4)


def _call_with_names(step: Callable, n_positional: int, names: tuple, *args: Any) -> Any:
    return step(*args[:n_positional], **dict(zip(names, args[n_positional:])))


def compile(step: Callable | None = None, *, strict: bool = False, kernels: bool = True) -> Any:  # noqa: A001
    """Record ``step`` once per signature and replay it (bit-identical to eager); ``@tg.compile`` works too.

    ``strict=True`` raises :class:`UntraceableError` instead of warning and running eagerly.
    ``kernels=False`` replays every op through its own ``forward`` and rule (the plain tape
    the kernels are tested against) instead of the hot ops' kernels.
    """
    if step is None:
        return lambda fn: Compiled(fn, strict=strict, kernels=kernels)
    return Compiled(step, strict=strict, kernels=kernels)
