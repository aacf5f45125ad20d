"""Kernels: how ``tg.compile`` replays the hot ops' NumPy work with nothing around it.

A plain replay (``compiler.Tape``) runs each op's ``forward`` on a fresh ctx and each
node's rule through the engine's gradient checks, as an eager step does. Once a tape is
confirmed, ``lower`` swaps the entries of the ops the three models spend their steps in
for kernels: closures that call the very array functions the op's ``forward`` and
``backward_arrays`` call (``ops.matmul_grads_arrays``, ``functional.ce_forward_arrays``,
...) straight on the tape's slots. What a backward needs from its forward (softplus, the
exp buffer) is kept in the op's ctx slot; shapes and dtypes, fixed by the signature, are
settled once. An optimizer step calls ``Optimizer._step_on`` with the tape's gradients.
Any op without a kernel, or in a case a kernel does not cover, keeps its plain entry.
``tests/test_kernels.py`` proves replays with kernels bit-identical to plain ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from . import functional as F
from . import ops, optim
from .autograd import _summed_axes, bump_version, unbroadcast_array

Run = Callable[[list], None]
Grads = Callable[[list], tuple]


class OpInfo(NamedTuple):
    """An op entry: what ``Function.apply`` ran it on (slots), and how."""

    cls: type
    ins: tuple[int, ...]  # the input tensors' slots
    option_slots: dict[str, int]  # array options (CrossEntropy's labels) by name
    needs: tuple[bool, ...] | None  # needs_input_grad; None when no node was made
    out: int
    ctx: int  # the ctx object in a plain replay, the kernel's saved values in a lowered one
    metas: tuple[tuple[tuple[int, ...], np.dtype], ...]  # the inputs' shapes and dtypes
    static: dict  # the other options


class NodeInfo(NamedTuple):
    """A node's backward: the ctx slot of its op, the incoming gradient, the input gradients kept."""

    ctx: int
    g: int
    g_shape: tuple[int, ...]
    g_dtype: np.dtype
    outs: tuple[int | None, ...]  # a slot per input (None: no gradient needed)


class StepInfo(NamedTuple):
    """An optimizer step: the parameters it found without a gradient, and where the others' are."""

    opt: Any
    without: tuple
    grads: tuple[tuple[int, Any, int], ...]  # (index, parameter, gradient slot)


class Kernel(NamedTuple):
    """``forward(op)`` and ``backward(op, node)`` build closures (None: a case they don't cover).

    ``backward``'s closure returns one gradient per input as the op's rule does: in the
    inputs' shapes (``broadcast=False``) or in the output's (``True``), summed after; it
    reads the op's ``"inputs"``, its ``"output"`` or neither (``"saved"``: the ctx slot only).
    ``in_place(op)``, if given, builds a forward that writes over the first input.
    """

    forward: Callable[[OpInfo], Run | None]
    backward: Callable[[OpInfo, NodeInfo], Grads | None]
    broadcast: bool
    reads: str
    in_place: Callable[[OpInfo], Run] | None = None


# ---- the kernels ------------------------------------------------------------------------------


def _elementwise(ufunc: np.ufunc) -> Callable[[OpInfo], Run | None]:
    def forward(op: OpInfo) -> Run | None:
        if np.broadcast_shapes(*(shape for shape, _ in op.metas)) == ():
            return None  # NumPy gives a scalar: the plain entry makes it an array
        (a, b), o = op.ins, op.out

        def run(env: list) -> None:
            env[o] = ufunc(env[a], env[b])

        return run

    return forward


def _elementwise_in_place(ufunc: np.ufunc) -> Callable[[OpInfo], Run]:
    def forward(op: OpInfo) -> Run:
        (a, b), o = op.ins, op.out

        def run(env: list) -> None:
            env[o] = ufunc(env[a], env[b], out=env[a])

        return run

    return forward


def _add_backward(op: OpInfo, node: NodeInfo) -> Grads:
    g = node.g
    return lambda env: (env[g], env[g])


def _mul_backward(op: OpInfo, node: NodeInfo) -> Grads:
    (a, b), g, (need_a, need_b) = op.ins, node.g, op.needs
    return lambda env: ops.mul_grads_arrays(env[g], env[a], env[b], need_a, need_b)


def _matmul_forward(op: OpInfo) -> Run | None:
    (sa, _), (sb, _) = op.metas
    if len(sa) != 2 or len(sb) not in (1, 2):
        return None
    (a, b), o = op.ins, op.out

    def run(env: list) -> None:
        env[o] = env[a] @ env[b]

    return run


def _matmul_backward(op: OpInfo, node: NodeInfo) -> Grads:
    (a, b), g, (need_a, need_b) = op.ins, node.g, op.needs
    return lambda env: ops.matmul_grads_arrays(env[g], env[a], env[b], need_a, need_b)


def _tanh_forward(op: OpInfo) -> Run | None:
    if op.metas[0][0] == ():
        return None
    (a,), o = op.ins, op.out

    def run(env: list) -> None:
        env[o] = np.tanh(env[a])

    return run


def _tanh_in_place(op: OpInfo) -> Run:
    (a,), o = op.ins, op.out

    def run(env: list) -> None:
        env[o] = np.tanh(env[a], out=env[a])

    return run


def _tanh_backward(op: OpInfo, node: NodeInfo) -> Grads:
    g, o = node.g, op.out
    return lambda env: (ops.tanh_grad_arrays(env[g], env[o]),)


def _bce_forward(op: OpInfo) -> Run:
    (z, y), o, c = op.ins, op.out, op.ctx

    def run(env: list) -> None:
        env[o], env[c] = F.bce_forward_arrays(env[z], env[y])

    return run


def _bce_backward(op: OpInfo, node: NodeInfo) -> Grads | None:
    if op.needs[1]:
        return None  # a gradient for the targets: rare, the plain entry has it
    (z, y), c, g = op.ins, op.ctx, node.g
    return lambda env: (F.bce_grad_arrays(env[z], env[y], env[c], env[g]), None)


def _ce_forward(op: OpInfo) -> Run | None:
    if list(op.option_slots) != ["labels"] or op.static:
        return None
    (z,), labels, o, c = op.ins, op.option_slots["labels"], op.out, op.ctx

    def run(env: list) -> None:
        env[o], *saved = F.ce_forward_arrays(env[z], env[labels])
        env[c] = saved

    return run


def _ce_backward(op: OpInfo, node: NodeInfo) -> Grads:
    c, g = op.ctx, node.g

    def grads(env: list) -> tuple:
        picks, e, total = env[c]
        return (F.ce_grad_arrays(e, picks, total, env[g]),)

    return grads


KERNELS: dict[type, Kernel] = {
    ops.Add: Kernel(_elementwise(np.add), _add_backward, True, "saved", _elementwise_in_place(np.add)),
    ops.Mul: Kernel(_elementwise(np.multiply), _mul_backward, True, "inputs", _elementwise_in_place(np.multiply)),
    ops.MatMul: Kernel(_matmul_forward, _matmul_backward, False, "inputs"),
    ops.Tanh: Kernel(_tanh_forward, _tanh_backward, False, "output", _tanh_in_place),
    F.BinaryCrossEntropyWithLogits: Kernel(_bce_forward, _bce_backward, False, "inputs"),
    F.CrossEntropy: Kernel(_ce_forward, _ce_backward, False, "saved"),
}


# ---- lowering a tape ----------------------------------------------------------------------------


def _node_run(grads: Grads, op: OpInfo, node: NodeInfo, broadcast: bool) -> Run:
    """Store the gradients the tape keeps, summed to their inputs' shapes as ``_node_gradients`` does."""
    out_shape = node.g_shape
    kept = []
    for i, slot in enumerate(node.outs):
        if slot is not None:
            shape = op.metas[i][0]
            raw = out_shape if broadcast else shape
            kept.append((slot, i, shape, None if raw == shape else _summed_axes(raw, shape)))

    def run(env: list) -> None:
        computed = grads(env)
        for slot, i, shape, axes in kept:
            env[slot] = computed[i] if axes is None else unbroadcast_array(computed[i], shape, axes)

    return run


def _step_run(step: StepInfo) -> Run:
    """The optimizer's own update on the tape's gradients (plain SGD has a leaner sibling below)."""
    opt, without, grads = step

    def run(env: list) -> None:
        for p in without:
            p.grad = None
        opt._step_on([(i, p, env[slot]) for i, p, slot in grads])

    return _plain_sgd_run(step, run) if type(opt) is optim.SGD and not without else run


def _plain_sgd_run(step: StepInfo, general: Run) -> Run:
    """SGD without momentum or weight decay: ``p - lr·g`` computed as ``SGD._update`` does, into
    scratch views of one buffer made once (so one call checks every new value), then written and
    bumped as ``_step_on`` does. Whenever it would refuse (a NaN or inf), or the optimizer is no
    longer plain, ``general`` runs instead and does (or raises) exactly what eager does: nothing
    has been written by then. Parameters of several dtypes keep ``general``."""
    opt, _, grads = step
    arrays = [p._data for _, p, _ in grads]
    if len({a.dtype for a in arrays}) != 1:
        return general
    buffer = np.empty(sum(a.size for a in arrays), arrays[0].dtype)
    offsets = np.cumsum([0] + [a.size for a in arrays])
    plan = [
        (p, slot, buffer[lo:hi].reshape(a.shape))
        for (_, p, slot), a, lo, hi in zip(grads, arrays, offsets, offsets[1:])
    ]
    finite = optim._finite

    def run(env: list) -> None:
        if opt.momentum or opt.weight_decay:
            return general(env)
        lr = opt.lr
        for p, slot, d in plan:
            np.multiply(env[slot], lr, out=d)
            np.subtract(p._data, d, out=d)
        if not finite(buffer):
            return general(env)
        for p, _, d in plan:
            np.copyto(p._data, d)
            bump_version(p)
        opt.steps += 1

    return run


def _one_float_dtype(op: OpInfo, node: NodeInfo | None) -> bool:
    """Kernels skip the engine's casts: every input and the incoming gradient share one float dtype."""
    dtypes = {dtype for _, dtype in op.metas} | ({node.g_dtype} if node else set())
    return len(dtypes) == 1 and next(iter(dtypes)).kind == "f"


def _kernels_by_ctx(infos: list) -> dict[int, tuple[Run, Run | None, OpInfo]]:
    """For each op a kernel covers: its forward run, its node's run (None: no node), the op."""
    nodes = {info.ctx: info for info in infos if type(info) is NodeInfo}
    node_count = Counter(info.ctx for info in infos if type(info) is NodeInfo)
    chosen = {}
    for op in (info for info in infos if type(info) is OpInfo):
        kernel, node = KERNELS.get(op.cls), nodes.get(op.ctx)
        if kernel is None or node_count[op.ctx] > 1 or not _one_float_dtype(op, node):
            continue  # no kernel; a node run twice (retain_graph); casts to make
        forward = kernel.forward(op)
        grads = kernel.backward(op, node) if node is not None and forward is not None else None
        if forward is not None and (node is None or grads is not None):
            backward = _node_run(grads, op, node, kernel.broadcast) if grads is not None else None
            chosen[op.ctx] = (forward, backward, op)
    return chosen


def _reads(op: OpInfo) -> tuple[int, ...]:
    """The slots a kernel's backward reads besides its ctx slot and incoming gradient."""
    reads = KERNELS[op.cls].reads
    return (*op.ins, *op.option_slots.values()) if reads == "inputs" else (op.out,) if reads == "output" else ()


def _write_in_place(runs: list[Run], used: list[tuple], infos: list, lowered: set[int], kept: set[int]) -> None:
    """Elementwise kernels write over their first input when it is an array a kernel made that
    nothing reads afterwards (the same ufunc with ``out=``: the same numbers, one allocation fewer)."""
    last = {slot: i for i, slots in enumerate(used) for slot in slots}
    readers = Counter(slot for info in infos if type(info) is OpInfo for slot in info.ins)
    fresh: set[int] = set()  # outputs of kernel forwards: arrays the tape made and nothing else holds
    for i, op in enumerate(infos):
        if type(op) is not OpInfo or op.ctx not in lowered:
            continue
        a, in_place = op.ins[0], KERNELS[op.cls].in_place
        dead = a in fresh and readers[a] == 1 and last[a] == i and a not in kept
        if in_place and dead and op.metas[0][0] == np.broadcast_shapes(*(shape for shape, _ in op.metas)):
            runs[i] = in_place(op)  # (the first input has the output's shape)
        fresh.add(op.out)


def lower(
    entries: list[Run], infos: list, uses: list[tuple[int, ...]], kept: set[int]
) -> tuple[list[Run], list[tuple], list[type]]:
    """The tape's runs with kernels in place of plain entries, the slots each run reads or writes,
    and the ops that run as kernels (in tape order). ``kept``: the slots the step returns."""
    chosen = _kernels_by_ctx(infos)
    runs, used = [], []
    for entry, info, slots in zip(entries, infos, uses):
        kind, lowered = type(info), chosen.get(getattr(info, "ctx", None))
        if kind is OpInfo and lowered is not None:
            entry = lowered[0]
        elif kind is NodeInfo and lowered is not None:
            entry, slots = lowered[1], (*slots, *_reads(lowered[2]))
        elif kind is StepInfo:
            entry = _step_run(info)
        runs.append(entry)
        used.append(slots)
    _write_in_place(runs, used, infos, set(chosen), kept)
    return runs, used, [op.cls for _, _, op in chosen.values()]
