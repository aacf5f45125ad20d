"""Graphviz pictures of the DAG behind a tensor: what was computed, from what.

``draw(loss)`` walks ``tensor._ctx.parents`` back to the leaves (iteratively, so a
100 000-op chain is fine) and returns a ``graphviz.Digraph``: ellipses for ops,
boxes for tensors, coloured by role like torchviz's ``make_dot`` (parameters
blue, inputs and constants grey, the output green). Building the graph needs
only the ``graphviz`` Python package; turning it into a picture needs the
Graphviz ``dot`` program, and when it is missing the error says what to install.

Files are written with ``atomic.atomic_write``, as everywhere in the package.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from .atomic import atomic_write
from .tensor import Tensor

INSTALL_HINT = (
    "rendering needs the Graphviz 'dot' program, which was not found on PATH "
    "(the Python package 'graphviz' only writes DOT text). "
    "Install Graphviz itself: `apt-get install graphviz` (Debian/Ubuntu), `dnf install graphviz` (Fedora), "
    "`brew install graphviz` (macOS), `conda install -c conda-forge graphviz`, "
    "or `choco install graphviz` / https://graphviz.org/download/ (Windows)"
)

RANKDIRS = ("LR", "RL", "TB", "BT")

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


def _walk(root: Tensor) -> tuple[dict[int, Tensor], dict[int, Any]]:
    """Every tensor and op node reachable from ``root``, found with an explicit stack (no recursion)."""
    tensors: dict[int, Tensor] = {}
    ops: dict[int, Any] = {}
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


def _role(t: Tensor, root: Tensor) -> str:
    if t is root:
        return "output"
    if t._ctx is not None:
        return "intermediate"
    return "parameter" if t.requires_grad else "input"


def _format_array(a: np.ndarray, max_data: int) -> str:
    text = np.array2string(a, precision=4, separator=", ", threshold=max_data, max_line_width=60)
    return '<BR ALIGN="LEFT"/>'.join(html.escape(line) for line in text.splitlines())


def _tensor_label(t: Tensor, role: str, show_grad: bool, show_data: bool, max_data: int) -> str:
    lines = []
    if t.name:
        lines.append(f"<B>{html.escape(t.name)}</B>")
    lines.append(f"{t.shape} {t.dtype}")
    # An unnamed scalar constant (the 0.5 in 0.5 * x) is known only by its value, so show it always.
    if show_data and t.size <= max_data or role == "input" and not t.name and t.size == 1:
        lines.append(_format_array(t.data, max_data))
    if show_grad and t.grad is not None:
        g = t.grad.data
        if g.size <= max_data:
            lines.append(f"<I>grad</I> {_format_array(g, max_data)}")
        else:
            lines.append(f"<I>‖grad‖</I> = {np.linalg.norm(g):.4g}")
    return "<" + "<BR/>".join(lines) + ">"


def _model_clusters(model: Any) -> dict[str, list[Tensor]]:
    """One cluster per layer: parameters ending in the same number (W0, b0) go together."""
    clusters: dict[str, list[Tensor]] = {}
    for name, p in model.named_parameters().items():
        match = re.search(r"(\d+)$", name)
        label = f"layer {match.group(1)}" if match else type(model).__name__
        clusters.setdefault(label, []).append(p)
    return clusters


def _assign_clusters(
    clusters: Mapping[str, Iterable[Tensor]] | Any,
    tensors: dict[int, Tensor],
    ops: dict[int, Any],
) -> dict[int, str]:
    """Node id -> cluster label: the listed tensors, the ops that consume them and those ops' outputs."""
    from_model = hasattr(clusters, "named_parameters")
    if from_model:
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
            member[id(t)] = label
    listed = dict(member)
    for op_id, ctx in ops.items():
        label = next((listed[id(p)] for p in ctx.parents if id(p) in listed), None)
        if label is not None:
            member[op_id] = label
    for t_id, t in tensors.items():
        if t._ctx is not None and id(t._ctx) in member and t_id not in member:
            member[t_id] = member[id(t._ctx)]
    return member


def _legend(roles: set[str]) -> str:
    rows = "".join(
        f'<TR><TD BGCOLOR="{STYLE[r]["fillcolor"]}" WIDTH="18"> </TD><TD ALIGN="LEFT">{LEGEND_TEXT[r]}</TD></TR>'
        for r in STYLE
        if r in roles
    )
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="2">{rows}</TABLE>>'


def draw(
    tensor: Tensor,
    show_grad: bool = False,
    show_data: bool = False,
    rankdir: str = "LR",
    clusters: Mapping[str, Iterable[Tensor]] | Any = None,
    max_data: int = 16,
    legend: bool = True,
) -> graphviz.Digraph:
    """The computation graph behind ``tensor`` as a ``graphviz.Digraph`` (shown as SVG in Jupyter).

    Tensor boxes show the name, shape and dtype; ``show_grad`` adds the gradient
    (its values when it has at most ``max_data`` entries, else its norm) and
    ``show_data`` the values of tensors with at most ``max_data`` entries.
    ``clusters`` groups nodes in labelled boxes: ``{"layer 0": [W0, b0], ...}`` or
    a model (one box per layer, from its ``named_parameters()``), each holding the
    tensors, the ops that consume them and those ops' outputs.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw: expected a Tensor, got {type(tensor).__name__}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw: rankdir must be one of {RANKDIRS}, got {rankdir!r}")
    if int(max_data) < 0:
        raise ValueError(f"draw: max_data must be >= 0, got {max_data}")
    tensors, ops = _walk(tensor)
    member = _assign_clusters(clusters, tensors, ops) if clusters is not None else {}

    g = Digraph(
        name=tensor.name or "graph",
        graph_attr={"rankdir": rankdir},
        node_attr={"style": "filled", "fontname": "Helvetica", "fontsize": "11", **DEFAULT_STYLE},
        edge_attr={"arrowsize": "0.7"},
    )
    cluster_bodies: dict[str, list[tuple[str, dict[str, str]]]] = {label: [] for label in member.values()}
    roles = set()

    def add(node_id: int, kind: str, attrs: dict[str, str]) -> None:
        node = (f"{kind}{node_id}", attrs)
        if node_id in member:
            cluster_bodies[member[node_id]].append(node)
        else:
            g.node(node[0], **node[1])

    for t_id, t in tensors.items():
        role = _role(t, tensor)
        roles.add(role)
        add(t_id, "t", {"label": _tensor_label(t, role, show_grad, show_data, int(max_data)), **OWN_STYLE[role]})
    for op_id, ctx in ops.items():
        roles.add("op")
        add(op_id, "op", {"label": ctx.op_name(), **OWN_STYLE["op"]})
    for i, (label, nodes) in enumerate(cluster_bodies.items()):
        with g.subgraph(name=f"cluster_{i}") as c:
            c.attr(label=label, style="rounded,dashed", color="gray40", fontname="Helvetica")
            for name, attrs in nodes:
                c.node(name, **attrs)

    for op_id, ctx in ops.items():
        for p in ctx.parents:
            g.edge(f"t{id(p)}", f"op{op_id}")
    for t_id, t in tensors.items():
        if t._ctx is not None:
            g.edge(f"op{id(t._ctx)}", f"t{t_id}")
    if legend:
        g.node("legend", label=_legend(roles), shape="plaintext", style="", fontsize="10")
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
