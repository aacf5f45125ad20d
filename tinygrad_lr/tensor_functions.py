"""NumPy's functions of several tensors: ``tg.concatenate``, ``tg.where``, ``tg.maximum``, ``tg.einsum``, ...

Each is a one-liner over a primitive of ``ops`` or over other functions here, with
NumPy's name and signature. Arguments may be Tensors, arrays or numbers; numbers
take the dtype of the first tensor among the arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ops
from .tensor import Tensor, _numpy_call, _one_axis


def _tensors(values: Sequence[Any]) -> list[Tensor]:
    """Numbers and arrays made tensors the way operators do (numbers take the first float tensor's dtype)."""
    return list(Tensor._constants(tuple(values)))


def _sequence(tensors: Any, op: str) -> list[Tensor]:
    if isinstance(tensors, Tensor | np.ndarray) or not isinstance(tensors, Sequence):
        raise TypeError(f"{op}: takes a list or tuple of tensors (tg.{op}([a, b])), got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    return _tensors(tensors)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    xs = _sequence(tensors, "concatenate")
    _one_axis(axis, max(xs[0].ndim, 1), "concatenate")
    return ops.Concatenate.apply(*xs, axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis."""
    xs = _sequence(tensors, "stack")
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[x.shape for x in xs]}")
    axis = _one_axis(axis, xs[0].ndim + 1, "stack")
    return concatenate([x.expand_dims(axis) for x in xs], axis=axis)


def split(x: Tensor, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
    """Slices of ``x``: ``n`` equal parts, or cut before each index given (NumPy's ``split``)."""
    (x,) = _tensors([x])
    axis = _one_axis(axis, x.ndim, "split")
    side = x.shape[axis]
    if isinstance(indices_or_sections, int | np.integer) and indices_or_sections > 0 and side % indices_or_sections:
        raise ValueError(
            f"split: axis {axis} of shape {x.shape} does not divide into {indices_or_sections} equal parts "
            "(pass the indices to cut at instead)"
        )
    pieces = _numpy_call("split", np.split, np.arange(side), indices_or_sections)
    lead = (slice(None),) * axis
    starts = np.cumsum([0] + [len(p) for p in pieces])
    return [x[lead + (slice(int(a), int(b)),)] for a, b in zip(starts[:-1], starts[1:])]


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """``x`` where ``condition`` (a boolean array or tensor) holds, else ``y``; broadcasts all three."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be boolean (e.g. x > 0), got dtype {cond.dtype}")
    return ops.Where.apply(*_tensors([x, y]), condition=cond)


def maximum(x: Any, y: Any) -> Tensor:
    """Elementwise maximum; at ties each input gets half the gradient, as in PyTorch."""
    return ops.Maximum.apply(*_tensors([x, y]))


def minimum(x: Any, y: Any) -> Tensor:
    """Elementwise minimum (the same tie rule as ``maximum``)."""
    x, y = _tensors([x, y])
    return -maximum(-x, -y)


def logaddexp(x: Any, y: Any) -> Tensor:
    """log(exp(x) + exp(y)), without overflow."""
    return ops.LogAddExp.apply(*_tensors([x, y]))


def outer(a: Any, b: Any) -> Tensor:
    """``a[i] * b[j]`` of the flattened inputs."""
    a, b = _tensors([a, b])
    return a.reshape(-1, 1) * b.reshape(1, -1)


def dot(a: Any, b: Any) -> Tensor:
    """NumPy's ``dot`` (see ``Tensor.dot``)."""
    a, b = _tensors([a, b])
    return a.dot(b)


def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation, e.g. ``einsum("ni,ij->nj", X, W)``; implicit output as in NumPy.

    Not supported (a clear ValueError): ``...`` and an index repeated inside one term (traces, diagonals).
    """
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string like 'ij,jk->ik', got {type(subscripts).__name__}")
    spec = subscripts.replace(" ", "")
    if "." in spec:
        raise ValueError(f"einsum: '...' is not supported (in {subscripts!r}); write the axes out")
    terms, arrow, output = spec.partition("->")
    terms = terms.split(",")
    if not arrow:  # NumPy's implicit output: the indices used once, in alphabetical order
        output = "".join(sorted(c for c in set("".join(terms)) if "".join(terms).count(c) == 1))
    if len(terms) != len(operands):
        raise ValueError(f"einsum: {subscripts!r} has {len(terms)} terms for {len(operands)} operands")
    xs = _tensors(operands)
    _check_terms(terms, xs, subscripts)
    return ops.Einsum.apply(*xs, subscripts=f"{','.join(terms)}->{output}")


def _check_terms(terms: list[str], xs: list[Tensor], subscripts: str) -> None:
    """One letter per axis, no letter twice in a term, and one size per letter across the operands."""
    sizes: dict[str, tuple[int, int]] = {}
    for k, (term, x) in enumerate(zip(terms, xs)):
        repeated = sorted({c for c in term if term.count(c) > 1})
        if repeated:
            raise ValueError(
                f"einsum: index {repeated[0]!r} repeats within operand {k} ({term!r}); traces and diagonals "
                "are not supported"
            )
        if len(term) != x.ndim:
            raise ValueError(f"einsum: operand {k} has shape {x.shape} but its term {term!r} names {len(term)} axes")
        for c, n in zip(term, x.shape):
            first = sizes.setdefault(c, (n, k))
            if first[0] != n:
                raise ValueError(
                    f"einsum: index {c!r} has size {first[0]} in operand {first[1]} but {n} in operand {k} "
                    f"({subscripts!r} with shapes {', '.join(str(t.shape) for t in xs)})"
                )


__all__ = [
    "concatenate",
    "dot",
    "einsum",
    "logaddexp",
    "maximum",
    "minimum",
    "outer",
    "split",
    "stack",
    "where",
]
