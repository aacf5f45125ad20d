"""Graphviz pictures of the DAG behind a tensor: what was computed, from what.

``draw(loss)`` walks ``tensor._ctx.parents`` back to the leaves (iteratively, so a
100 000-op chain is fine) and returns a ``graphviz.Digraph``: ellipses for ops,
boxes for tensors, coloured by role like torchviz's ``make_dot`` (parameters
blue, inputs and constants grey, the output green). Labels stay short; the
details (values, gradient, the op's derivative rule, the line that made it) are
tooltips, shown on hover in the SVG. Building the graph needs only the
``graphviz`` Python package; turning it into a picture needs the Graphviz ``dot``
program, and when it is missing the error says what to install.

Files are written with ``atomic.atomic_write``, as everywhere in the package.
"""

from __future__ import annotations

import html
import linecache
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from .anomaly import caller
from .atomic import atomic_write
from .autograd import Function
from .tensor import Tensor

INSTALL_HINT = (
    "rendering needs the Graphviz 'dot' program, which was not found on PATH "
    "(the Python package 'graphviz' only writes DOT text). "
    "Install Graphviz itself: `apt-get install graphviz` (Debian/Ubuntu), `dnf install graphviz` (Fedora), "
    "`brew install graphviz` (macOS), `conda install -c conda-forge graphviz`, "
    "or `choco install graphviz` / https://graphviz.org/download/ (Windows)"
)

RANKDIRS = ("LR", "RL", "TB", "BT")
NAME_LIMIT = 24  # longer names are shortened in labels; tooltips keep them whole
FEW = 3  # gradient values shown in a label
TOOLTIP_LIMIT = 5_000  # nodes; larger graphs get no tooltips: dot lays them out too slowly to look at anyway
DEEP = 7  # graphs whose longest path has more nodes than this are laid out top to bottom

# Fill colours per role (torchviz's make_dot uses lightblue for parameters, darkolivegreen1 for the output).
STYLE = {
    "parameter": {"shape": "box", "fillcolor": "lightblue"},
    "input": {"shape": "box", "fillcolor": "gray88"},
    "intermediate": {"shape": "box", "fillcolor": "white"},
    "output": {"shape": "box", "fillcolor": "darkolivegreen1"},
    "op": {"shape": "ellipse", "fillcolor": "lemonchiffon"},
}
# Intermediate tensors are most nodes: make their style the default so big graphs carry fewer attributes.
DEFAULT_STYLE = STYLE["intermediate"]
OWN_STYLE = {role: {k: v for k, v in style.items() if DEFAULT_STYLE[k] != v} for role, style in STYLE.items()}
LEGEND_TEXT = {
    "parameter": "parameter (requires grad)",
    "input": "input / constant",
    "intermediate": "intermediate tensor",
    "output": "output",
    "op": "operation",
}


class GraphvizNotFoundError(RuntimeError):
    """Rendering needs the Graphviz ``dot`` program, which is not installed."""


class Digraph(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering (files, ``pipe``, Jupyter's SVG) says what to install."""

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().pipe(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFoundError(INSTALL_HINT) from None

    def render(self, *args: Any, **kwargs: Any) -> str:
        try:
            return super().render(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFoundError(INSTALL_HINT) from None


# Op classes whose lowercased class name is hard to read.
OP_NAMES = {
    "BinaryCrossEntropyWithLogits": "bce_with_logits",
    "CrossEntropy": "cross_entropy",
    "IndexAdd": "index_add",
}

# One line per op for its tooltip: the forward, then each input's gradient from g, the output's gradient.
RULES = {
    "Add": "z = x + y; grad x = g, grad y = g (each summed over its broadcast axes)",
    "Sub": "z = x − y; grad x = g, grad y = −g",
    "Mul": "z = x·y; grad x = g·y, grad y = g·x",
    "Div": "z = x / y; grad x = g / y, grad y = −g·x / y²",
    "Pow": "z = x^y; grad x = g·y·x^(y−1), grad y = g·z·ln x",
    "Neg": "z = −x; grad x = −g",
    "Exp": "z = exp x; grad x = g·z",
    "Log": "z = ln x; grad x = g / x",
    "Tanh": "z = tanh x; grad x = g·(1 − z²)",
    "Sigmoid": "z = σ(x); grad x = g·z·(1 − z)",
    "Relu": "z = max(x, 0); grad x = g where x > 0, else 0",
    "Cast": "z = x in another dtype; grad x = g cast back",
    "MatMul": "Z = X @ W; grad X = G @ Wᵀ, grad W = Xᵀ @ G",
    "Sum": "z = Σ x over the axes; grad x = g broadcast back",
    "Expand": "z = x copied along an axis; grad x = Σ g over it",
    "Max": "z = max x; grad x = g at the maxima, shared equally by ties",
    "Reshape": "z = x reshaped; grad x = g reshaped back",
    "Transpose": "z = xᵀ; grad x = g transposed back",
    "GetItem": "z = x[i]; grad x = g scattered into zeros at i",
    "IndexAdd": "z = x added at i into zeros; grad x = g[i]",
    "Softmax": "s = softmax(x); grad x = s·(g − Σ g·s)",
    "Softplus": "z = ln(1 + exp x); grad x = g·σ(x)",
    "BinaryCrossEntropyWithLogits": "L = mean(softplus(z) − y·z); grad z = g·(σ(z) − y) / n",
    "CrossEntropy": "L = mean(−log softmax(Z)[i, yᵢ]); grad Z = g·(softmax(Z) − onehot(y)) / n",
}

# Losses whose labels are drawn as an input named y: their index among the op's inputs, or the
# attribute that holds them when the op takes them as an option rather than an input.
TARGETS: dict[str, int | str] = {"BinaryCrossEntropyWithLogits": 1, "CrossEntropy": "labels"}


def op_label(ctx: Function) -> str:
    """The name an op node shows: ``cross_entropy``, ``matmul``, ``tanh``."""
    return OP_NAMES.get(type(ctx).__name__, ctx.op_name())


def _rule(ctx: Function) -> str:
    cls = type(ctx)
    if cls.__name__ in RULES:
        return RULES[cls.__name__]
    doc = (cls.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else f"see {cls.__module__}.{cls.__qualname__}.backward"


def _target(ctx: Function) -> Tensor | np.ndarray | None:
    """The labels a loss op compares against (a parent tensor or an array option), else None."""
    where = TARGETS.get(type(ctx).__name__)
    return ctx.parents[where] if isinstance(where, int) else getattr(ctx, where, None) if where else None


# ---- recording the user's line behind each op -------------------------------------------------

_APPLY = Function.apply.__func__.__code__


@contextmanager
def record_source() -> Iterator[None]:
    """Remember, for every op made inside the block, the user's line that made it (shown by ``draw``).

    It watches ``Function.apply`` return with a profile hook of this thread, so it slows
    the block down (drawing is what it is for) and costs nothing anywhere else.
    ``detect_anomaly`` records the same lines.
    """
    previous = sys.getprofile()

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event == "return" and frame.f_code is _APPLY:
            for out in arg if isinstance(arg, tuple) else (arg,):
                if isinstance(out, Tensor) and out._ctx is not None:
                    out._ctx._created_at = caller()
        if previous is not None:
            previous(frame, event, arg)

    sys.setprofile(hook)
    try:
        yield
    finally:
        sys.setprofile(previous)


def _source(ctx: Function) -> str:
    where = getattr(ctx, "_created_at", None)
    if where is None:
        return "made at: not recorded (build it inside graph.record_source() to see the line)"
    file, _, line = where.rpartition(":")
    code = linecache.getline(file, int(line)).strip() if line.isdigit() else ""
    return f"made at {where}" + (f": {code}" if code else "")


# ---- what a node says: a short label, and the details as a tooltip --------------------------------


def _short(name: str) -> str:
    """``name``, or its start and end around an ellipsis when longer than NAME_LIMIT."""
    return name if len(name) <= NAME_LIMIT else name[: NAME_LIMIT - 9] + "…" + name[-8:]


def _num(v: Any) -> str:
    """The one number format of the pictures."""
    return f"{v:.4g}"


def _format_array(a: np.ndarray, max_data: int) -> str:
    text = np.array2string(a, separator=", ", threshold=max_data, max_line_width=60, formatter={"float_kind": _num})
    return '<BR ALIGN="LEFT"/>'.join(html.escape(line) for line in text.splitlines())


def _grad_lines(g: np.ndarray) -> tuple[str, str]:
    """The norm and the shape, then the first few values: ``‖0.4521‖ (3, 2)`` and ``[0.1, -0.2, 0.05, …]``."""
    flat = g.ravel()
    values = ", ".join(_num(v) for v in flat[:FEW]) + (", …" if flat.size > FEW else "")
    return f"‖{_num(np.linalg.norm(flat))}‖ {g.shape}", f"[{values}]"


def _summary(a: np.ndarray) -> str:
    if a.size == 0:
        return f"{a.shape} {a.dtype}, empty"
    return f"{a.shape} {a.dtype}, min {_num(a.min())}, mean {_num(a.mean())}, max {_num(a.max())}"


def _tensor_label(
    data: np.ndarray, grad: np.ndarray | None, name: str, role: str, show_grad: bool, show_data: bool, max_data: int
) -> str:
    lines = []
    if name:
        lines.append(f"<B>{html.escape(_text(_short(name)))}</B>")
    lines.append(f"{data.shape} {data.dtype}")
    # An unnamed scalar constant (the 0.5 in 0.5 * x) is known only by its value, so show it always.
    if show_data and data.size <= max_data or role == "input" and not name and data.size == 1:
        lines.append(_format_array(data, max_data))
    if show_grad and grad is not None:
        norm, values = _grad_lines(grad)
        lines.append(f"<I>grad</I> {html.escape(norm)}<BR/>{html.escape(values)}")
    return "<" + "<BR/>".join(lines) + ">"


def _tensor_tooltip(data: np.ndarray, grad: np.ndarray | None, ctx: Function | None, name: str, role: str) -> str:
    lines = [f"{name or 'tensor'}: {LEGEND_TEXT[role]}", f"value {_summary(data)}"]
    lines.append("grad none" if grad is None else f"grad {_summary(grad)}, norm {_num(np.linalg.norm(grad))}")
    if ctx is not None:
        lines.append(f"output of {op_label(ctx)}, {_source(ctx)}")
    return "\n".join(lines)


def _op_tooltip(ctx: Function) -> str:
    return f"{op_label(ctx)}: {_rule(ctx)}\n(g is the gradient of the output)\n{_source(ctx)}"


def _text(text: str) -> str:
    """Text graphviz shows as it is: not HTML (``<B>`` in a name stays text) and with no escapes.

    Graphviz reads ``\\N``, ``\\G``, ``\\l`` in labels and tooltips as escape sequences, and
    how many backslashes undo that depends on its version, so a backslash is shown as ⧵.
    """
    return graphviz.nohtml(text.replace("\\", "⧵"))


# ---- the walk, roles, names and layers --------------------------------------------------------------


def _walk(root: Tensor) -> tuple[dict[int, Tensor], dict[int, Function]]:
    """Every tensor and op node reachable from ``root``, found with an explicit stack (no recursion)."""
    tensors: dict[int, Tensor] = {}
    ops: dict[int, Function] = {}
    stack = [root]
    while stack:
        t = stack.pop()
        if id(t) in tensors:
            continue
        tensors[id(t)] = t
        ctx = t._ctx
        if ctx is not None and id(ctx) not in ops:
            ops[id(ctx)] = ctx
            stack.extend(p for p in ctx.parents if id(p) not in tensors)
    return tensors, ops


def _depth(root: Tensor) -> int:
    """Nodes (tensors and ops) on the longest path from a leaf to ``root``, found without recursion."""
    depth: dict[int, int] = {}
    stack = [root]
    while stack:
        t = stack[-1]
        if id(t) in depth:
            stack.pop()
            continue
        parents = t._ctx.parents if t._ctx is not None else ()
        pending = [p for p in parents if id(p) not in depth]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        depth[id(t)] = 2 + max(depth[id(p)] for p in parents) if parents else 1
    return depth[id(root)]


def _role(t: Tensor, root: Tensor) -> str:
    if t is root:
        return "output"
    if t._ctx is not None:
        return "intermediate"
    return "parameter" if t.requires_grad else "input"


def _names(tensors: dict[int, Tensor], ops: dict[int, Function]) -> dict[int, str]:
    """What each tensor is called in the picture: its name, or ``y`` for the unnamed labels of a loss."""
    names = {t_id: t.name for t_id, t in tensors.items() if t.name}
    for ctx in ops.values():
        target = _target(ctx)
        if isinstance(target, Tensor):
            names.setdefault(id(target), "y")
    return names


def _model_clusters(model: Any) -> dict[str, list[Tensor]]:
    """One cluster per layer: parameters ending in the same number (W0, b0) go together."""
    clusters: dict[str, list[Tensor]] = {}
    for name, p in model.named_parameters().items():
        match = re.search(r"(\d+)$", name)
        label = f"layer {match.group(1)}" if match else type(model).__name__
        clusters.setdefault(label, []).append(p)
    return clusters


def _listed(clusters: Mapping[str, Iterable[Tensor]] | Any, tensors: dict[int, Tensor]) -> dict[int, str]:
    """Tensor id -> cluster label for the tensors the user listed (or the model's parameters), checked."""
    if hasattr(clusters, "named_parameters"):
        clusters = {
            label: [p for p in params if id(p) in tensors] for label, params in _model_clusters(clusters).items()
        }
    elif not isinstance(clusters, Mapping):
        raise TypeError(
            "draw: clusters must be a dict {label: [tensors]} or a model with named_parameters(), "
            f"not {type(clusters).__name__}"
        )
    member: dict[int, str] = {}
    for label, members in clusters.items():
        for t in members:
            if not isinstance(t, Tensor):
                raise TypeError(f"draw: cluster {label!r} holds a {type(t).__name__}, not a Tensor")
            if id(t) not in tensors:
                what = f"'{t.name}' " if t.name else ""
                raise ValueError(f"draw: tensor {what}of shape {t.shape} in cluster {label!r} is not in the graph")
            if id(t) in member:
                raise ValueError(f"draw: a tensor of shape {t.shape} is in clusters {member[id(t)]!r} and {label!r}")
            member[id(t)] = str(label)
    return member


def _assign_clusters(
    clusters: Mapping[str, Iterable[Tensor]] | Any, tensors: dict[int, Tensor], ops: dict[int, Function]
) -> dict[int, str]:
    """Node id -> cluster label: the listed tensors, the ops that consume them and those ops' outputs,
    the activation after them (an op of one of those outputs that keeps its shape, like tanh), and
    the activation's output in the box of the next layer, which reads it.
    """
    listed = _listed(clusters, tensors)
    member = dict(listed)
    for op_id, ctx in ops.items():
        label = next((listed[id(p)] for p in ctx.parents if id(p) in listed), None)
        if label is not None:
            member[op_id] = label
    outputs = {id(t._ctx): t for t in tensors.values() if t._ctx is not None}
    for op_id, t in outputs.items():
        if op_id in member:
            member.setdefault(id(t), member[op_id])
    readers: dict[int, set[str | None]] = {}
    for op_id, ctx in ops.items():
        (x, *more) = ctx.parents
        if not more and op_id not in member and id(x) in member and outputs[op_id].shape == x.shape:
            member[op_id] = member[id(x)]
        for p in ctx.parents:
            readers.setdefault(id(p), set()).add(member.get(op_id))
    for op_id, t in outputs.items():  # after the loop above, so the activations are in their boxes
        if id(t) not in member and op_id in member and len(readers.get(id(t), {None})) == 1:
            (label,) = readers[id(t)]
            if label is not None:
                member[id(t)] = label
    return member


def _legend(roles: set[str]) -> str:
    rows = "".join(
        f'<TR><TD BGCOLOR="{STYLE[r]["fillcolor"]}" WIDTH="18"> </TD><TD ALIGN="LEFT">{LEGEND_TEXT[r]}</TD></TR>'
        for r in STYLE
        if r in roles
    )
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="2">{rows}</TABLE>>'


def _check_max_data(max_data: Any) -> int:
    if isinstance(max_data, bool) or not isinstance(max_data, int | np.integer):
        raise TypeError(f"draw: max_data must be an integer, got {max_data!r}")
    if max_data < 0:
        raise ValueError(f"draw: max_data must be >= 0, got {max_data}")
    return int(max_data)


def _nodes(
    root: Tensor, tensors: dict[int, Tensor], ops: dict[int, Function], show_grad: bool, show_data: bool, max_data: int
) -> Iterator[tuple[int, str, dict[str, str]]]:
    """(id, node name, attributes) of every node: tensors, ops, and the labels ops take as options."""
    names = _names(tensors, ops)
    tips = len(tensors) + len(ops) <= TOOLTIP_LIMIT

    def box(data: np.ndarray, grad: np.ndarray | None, ctx: Function | None, name: str, role: str) -> dict[str, str]:
        attrs = {"label": _tensor_label(data, grad, name, role, show_grad, show_data, max_data), **OWN_STYLE[role]}
        return {**attrs, "tooltip": _text(_tensor_tooltip(data, grad, ctx, name, role))} if tips else attrs

    for t_id, t in tensors.items():
        yield (
            t_id,
            f"t{t_id}",
            box(t.data, None if t.grad is None else t.grad.data, t._ctx, names.get(t_id, ""), _role(t, root)),
        )
    for op_id, ctx in ops.items():
        attrs = {"label": op_label(ctx), **OWN_STYLE["op"]}
        yield op_id, f"op{op_id}", {**attrs, "tooltip": _text(_op_tooltip(ctx))} if tips else attrs
        target = _target(ctx)
        if isinstance(target, np.ndarray):
            yield -op_id, f"y{op_id}", box(target, None, None, "y", "input")


def draw(
    tensor: Tensor,
    show_grad: bool = False,
    show_data: bool = False,
    rankdir: str | None = None,
    clusters: Mapping[str, Iterable[Tensor]] | Any = None,
    max_data: int = 16,
    legend: bool = True,
) -> graphviz.Digraph:
    """The computation graph behind ``tensor`` as a ``graphviz.Digraph`` (shown as SVG in Jupyter).

    Tensor boxes show the name, shape and dtype; ``show_grad`` adds the gradient
    (its norm, shape and first few values) and ``show_data`` the values of tensors
    with at most ``max_data`` entries. Every node has a tooltip with the details.
    ``rankdir`` is the layout direction; by default left to right, or top to bottom
    for deep graphs. ``clusters`` groups nodes in labelled boxes: ``{"layer 0": [W0, b0], ...}``
    or a model (one box per layer, from its ``named_parameters()``), each holding the
    tensors, the ops that consume them and those ops' outputs, and the activation after them.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw: expected a Tensor, got {type(tensor).__name__}")
    if rankdir is not None and rankdir not in RANKDIRS:
        raise ValueError(f"draw: rankdir must be one of {RANKDIRS} or None, got {rankdir!r}")
    max_data = _check_max_data(max_data)
    tensors, ops = _walk(tensor)
    member = _assign_clusters(clusters, tensors, ops) if clusters is not None else {}
    if rankdir is None:
        rankdir = "TB" if _depth(tensor) > DEEP else "LR"

    g = Digraph(
        name=_text(_short(tensor.name or "graph")),
        graph_attr={"rankdir": rankdir},
        node_attr={"style": "filled", "fontname": "Helvetica", "fontsize": "11", **DEFAULT_STYLE},
        edge_attr={"arrowsize": "0.7", "weight": "10"},
    )
    bodies: dict[str, list[tuple[str, dict[str, str]]]] = {label: [] for label in member.values()}
    for node_id, name, attrs in _nodes(tensor, tensors, ops, show_grad, show_data, max_data):
        if node_id in member:
            bodies[member[node_id]].append((name, attrs))
        else:
            g.node(name, **attrs)
    for i, (label, nodes) in enumerate(bodies.items()):
        with g.subgraph(name=f"cluster_{i}") as c:
            c.attr(label=_text(_short(label)), style="rounded,dashed", color="gray40", fontname="Helvetica")
            for name, attrs in nodes:
                c.node(name, **attrs)

    for op_id, ctx in ops.items():
        for p in ctx.parents:  # edges from leaves pull less than the data path, which stays straight
            g.edge(f"t{id(p)}", f"op{op_id}", **({"weight": "1"} if p._ctx is None else {}))
        if isinstance(_target(ctx), np.ndarray):
            g.edge(f"y{op_id}", f"op{op_id}", weight="1")
    for t_id, t in tensors.items():
        if t._ctx is not None:
            g.edge(f"op{id(t._ctx)}", f"t{t_id}")
    if legend:
        roles = {_role(t, tensor) for t in tensors.values()} | ({"op"} if ops else set())
        roles |= {"input"} if any(isinstance(_target(ctx), np.ndarray) for ctx in ops.values()) else set()
        g.node("legend", label=_legend(roles), shape="plaintext", style="", fontsize="10", tooltip="legend")
    return g


def render(graph: graphviz.Digraph | Tensor, path: str | Path, format: str | None = None, **draw_options: Any) -> Path:
    """Write ``graph`` (a Digraph, or a Tensor to ``draw``) to ``path``; the format defaults to the file suffix.

    Needs the Graphviz ``dot`` program; without it raises ``GraphvizNotFoundError`` saying what to install.
    The file is replaced atomically: a failed write leaves the old one intact.
    """
    if isinstance(graph, Tensor):
        graph = draw(graph, **draw_options)
    elif not isinstance(graph, graphviz.Digraph):
        raise TypeError(f"render: expected a graphviz.Digraph or a Tensor, got {type(graph).__name__}")
    elif draw_options:
        raise TypeError(f"render: draw options {sorted(draw_options)} apply only when rendering a Tensor")
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".") or "svg").lower()
    if fmt not in graphviz.FORMATS:
        raise ValueError(f"render: unknown output format {fmt!r} for {path} (e.g. 'svg', 'png', 'pdf')")
    try:
        data = graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(INSTALL_HINT) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "render") as f:
        f.write(data)
    return path
