"""Functional transforms beside ``tg.grad``: ``vjp``, ``jvp``, ``jacobian``, ``hessian``, ``hvp``.

Names and semantics are PyTorch's ``torch.autograd.functional``: each takes a
function of one tensor or a tuple of tensors and returns results in the same
structure. All are built on ``tg.grad``:

* ``vjp`` is one reverse pass with ``v`` as the output gradient;
* ``jvp`` uses the double-backward trick: ``g(u) = J^T u`` is linear in a dummy
  ``u``, so differentiating ``<g(u), v>`` with respect to ``u`` gives ``J v``;
* ``jacobian`` is one ``vjp`` per output element (reverse mode), ``hessian`` the
  Jacobian of the gradient, ``hvp`` the gradient of ``<grad f, v>``.

Inputs are differentiated as given: without ``create_graph`` they are detached
first and the results are plain tensors; with ``create_graph=True`` the results
stay connected to the inputs' graph and can be differentiated again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import enable_grad, grad
from .tensor import Tensor
from .tensor_functions import stack

Inputs = Tensor | Sequence[Tensor]


def _inputs(inputs: Any, create_graph: bool, what: str) -> tuple[bool, list[Tensor]]:
    """(was a tuple?, tensors to differentiate): detached copies, or connected aliases under create_graph."""
    is_tuple = isinstance(inputs, tuple | list)
    xs = list(inputs) if is_tuple else [inputs]
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor) or x.dtype.kind != "f":
            kind = type(x).__name__ if not isinstance(x, Tensor) else f"a {x.dtype} Tensor"
            raise TypeError(f"{what}: inputs must be float Tensors or a tuple of them; input {i} is {kind}")
    if not xs:
        raise ValueError(f"{what}: no inputs given")
    return is_tuple, [
        x.reshape(x.shape) if create_graph and x.requires_grad else x.detach().requires_grad_() for x in xs
    ]


def _outputs(out: Any, what: str) -> tuple[bool, list[Tensor]]:
    is_tuple = isinstance(out, tuple | list)
    outs = list(out) if is_tuple else [out]
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(
                f"{what}: func must return a Tensor or a tuple of Tensors; output {k} is {type(o).__name__}"
            )
    return is_tuple, outs


def _vectors(v: Any, like: list[Tensor], is_tuple: bool, what: str, of: str) -> list[Tensor]:
    """``v`` as one tensor per ``like`` tensor (a tuple when ``like`` came as one), shapes checked.

    ``None`` means ones, allowed only where every ``like`` tensor holds a single number.
    """
    if v is None:
        if any(t.size != 1 for t in like):
            shapes = [t.shape for t in like]
            raise ValueError(f"{what}: v is required when the {of} are not single numbers (shapes {shapes})")
        return [Tensor(np.ones(t.shape, t.dtype)) for t in like]
    if is_tuple and not isinstance(v, tuple | list):
        raise TypeError(f"{what}: the {of} are a tuple, so v must be a tuple with one entry each")
    vs = list(v) if is_tuple else [v]
    if len(vs) != len(like):
        raise ValueError(f"{what}: v has {len(vs)} entries for {len(like)} {of}")
    vs = [e if isinstance(e, Tensor) else Tensor(e, dtype=t.dtype) for e, t in zip(vs, like)]
    for k, (e, t) in enumerate(zip(vs, like)):
        if e.shape != t.shape:
            where = f"[{k}]" if is_tuple else ""
            raise ValueError(f"{what}: v{where} has shape {e.shape}, but the {of[:-1]}{where} has shape {t.shape}")
    return vs


def _grad(outs: list[Tensor], xs: list[Tensor], vs: list[Tensor], create_graph: bool) -> list[Tensor]:
    """sum_k v_k^T d outs_k / d xs, with zeros (not None) where nothing depends on an input."""
    live = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
    grads: Sequence[Tensor | None] = [None] * len(xs)
    if live:
        grads = grad([o for o, _ in live], xs, [v for _, v in live], True, create_graph, allow_unused=True)
    return [Tensor(np.zeros(x.shape, x.dtype)) if g is None else g for g, x in zip(grads, xs)]


def _pack(is_tuple: bool, items: list[Any]) -> Any:
    return tuple(items) if is_tuple else items[0]


def _result(out: Any, create_graph: bool) -> Any:
    """The function's own output, detached unless the caller asked for a graph."""
    if create_graph:
        return out
    return tuple(o.detach() for o in out) if isinstance(out, tuple | list) else out.detach()


def _scalar(out: Any, what: str) -> Tensor:
    if not isinstance(out, Tensor) or out.size != 1:
        shape = out.shape if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"{what}: func must return a single-element Tensor, got {shape}")
    return out


def vjp(func: Callable[..., Any], inputs: Inputs, v: Any = None, create_graph: bool = False) -> tuple[Any, Any]:
    """(func(inputs), vᵀ J): the gradient of <func(inputs), v>, shaped like the inputs."""
    with enable_grad():
        is_tuple, xs = _inputs(inputs, create_graph, "vjp")
        out = func(*xs)
        out_tuple, outs = _outputs(out, "vjp")
        grads = _grad(outs, xs, _vectors(v, outs, out_tuple, "vjp", "outputs"), create_graph)
    return _result(out, create_graph), _pack(is_tuple, grads)


def jvp(func: Callable[..., Any], inputs: Inputs, v: Any = None, create_graph: bool = False) -> tuple[Any, Any]:
    """(func(inputs), J v): the directional derivative along ``v``, shaped like the outputs."""
    with enable_grad():
        in_tuple, xs = _inputs(inputs, create_graph, "jvp")
        vs = _vectors(v, xs, in_tuple, "jvp", "inputs")
        out = func(*xs)
        out_tuple, outs = _outputs(out, "jvp")
        dummies = [Tensor(np.zeros(o.shape, o.dtype), requires_grad=True) for o in outs]
        transposed = _grad(outs, xs, dummies, create_graph=True)  # Jᵀu, linear in u
        tangents = _grad(transposed, dummies, vs, create_graph)
    return _result(out, create_graph), _pack(out_tuple, tangents)


def jacobian(func: Callable[..., Any], inputs: Inputs, create_graph: bool = False) -> Any:
    """d outputs / d inputs, one reverse pass per output element.

    One input and one output: a Tensor of shape ``output.shape + input.shape``. A tuple
    of inputs gives a tuple over the inputs; a tuple of outputs, a tuple (over outputs) of those.
    """
    with enable_grad():
        in_tuple, xs = _inputs(inputs, create_graph, "jacobian")
        out_tuple, outs = _outputs(func(*xs), "jacobian")
        blocks = [_jacobian_of(o, xs, create_graph) for o in outs]
    return _pack(out_tuple, [_pack(in_tuple, row) for row in blocks])


def _jacobian_of(out: Tensor, xs: list[Tensor], create_graph: bool) -> list[Tensor]:
    rows = []
    for j in range(out.size):
        seed = np.zeros(out.size, out.dtype)
        seed[j] = 1
        rows.append(_grad([out], xs, [Tensor(seed.reshape(out.shape))], create_graph))
    if not rows:
        return [Tensor(np.zeros(out.shape + x.shape, x.dtype)) for x in xs]
    return [stack([r[k] for r in rows]).reshape(out.shape + x.shape) for k, x in enumerate(xs)]


def hessian(func: Callable[..., Any], inputs: Inputs, create_graph: bool = False) -> Any:
    """Second derivatives of a scalar function: ``H[i][j]`` of shape ``inputs[i].shape + inputs[j].shape``.

    One input gives one Tensor of shape ``x.shape + x.shape``.
    """
    in_tuple = isinstance(inputs, tuple | list)

    def gradient(*xs: Tensor) -> Any:
        out = _scalar(func(*xs), "hessian")
        return _pack(in_tuple, _grad([out], list(xs), [Tensor(np.ones(out.shape, out.dtype))], create_graph=True))

    return jacobian(gradient, inputs, create_graph=create_graph)


def hvp(func: Callable[..., Any], inputs: Inputs, v: Any = None, create_graph: bool = False) -> tuple[Any, Any]:
    """(func(inputs), H v) for a scalar function, by differentiating <grad func, v> (no Hessian is formed)."""
    with enable_grad():
        is_tuple, xs = _inputs(inputs, create_graph, "hvp")
        vs = _vectors(v, xs, is_tuple, "hvp", "inputs")
        out = _scalar(func(*xs), "hvp")
        gradient = _grad([out], xs, [Tensor(np.ones(out.shape, out.dtype))], create_graph=True)
        products = _grad(gradient, xs, vs, create_graph)
    return _result(out, create_graph), _pack(is_tuple, products)


__all__ = ["hessian", "hvp", "jacobian", "jvp", "vjp"]
