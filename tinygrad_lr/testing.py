"""Hypothesis strategies for testing gradients, and helpers that keep inputs off kinks.

Importing this module needs ``hypothesis`` (a dev dependency); importing
``tinygrad_lr`` does not. Everything is float64 with bounded, finite, normal
(non-subnormal) elements, so central differences are meaningful.

Kinks: a finite difference straddling a point where the function is not
differentiable (relu at 0, a tie in max, a pole of log or 1/x) measures nonsense.
``away_from_zero``, ``positive`` and ``untied`` move drawn values off those
points; use them with ``.map``: ``arrays().map(untied)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .tensor import Tensor

Shape = tuple[int, ...]


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy[Shape]:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def elements(min_value: float = -3.0, max_value: float = 3.0) -> st.SearchStrategy[float]:
    """Finite float64 values in [min_value, max_value], no NaN, no infinities, no subnormals."""
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=64)


def arrays(
    shape: Shape | st.SearchStrategy[Shape] | None = None,
    min_value: float = -3.0,
    max_value: float = 3.0,
) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays with bounded finite elements; ``shape`` may be a shape, a strategy, or None (any small)."""
    return hnp.arrays(np.float64, shapes() if shape is None else shape, elements=elements(min_value, max_value))


def tensors(
    shape: Shape | st.SearchStrategy[Shape] | None = None,
    min_value: float = -3.0,
    max_value: float = 3.0,
    requires_grad: bool = True,
    name: str | None = None,
) -> st.SearchStrategy[Tensor]:
    """Leaf Tensors over :func:`arrays` (requires_grad by default, ready for gradcheck)."""
    return arrays(shape, min_value, max_value).map(lambda a: Tensor(a, requires_grad=requires_grad, name=name))


def broadcastable_shapes(
    num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[tuple[Shape, ...]]:
    """``num_shapes`` shapes that broadcast together, e.g. ((3, 1), (4,)) or ((), (2, 3))."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda b: b.input_shapes)


def axes(ndim: int, allow_none: bool = True) -> st.SearchStrategy[int | tuple[int, ...] | None]:
    """A valid ``axis`` argument for ``ndim`` dimensions: None, an int (maybe negative) or a tuple of distinct ints."""
    options: list[st.SearchStrategy[Any]] = [st.just(None)] if allow_none else [st.just(())]
    if ndim:
        options.append(st.integers(-ndim, ndim - 1))
        options.append(hnp.valid_tuple_axes(ndim, min_size=1))
    return st.one_of(*options)


def axes_and_keepdims(ndim: int) -> st.SearchStrategy[tuple[int | tuple[int, ...] | None, bool]]:
    return st.tuples(axes(ndim), st.booleans())


def basic_indices(shape: Shape) -> st.SearchStrategy[Any]:
    """Ints, slices (any step), None and Ellipsis, as NumPy's basic indexing accepts them."""
    return hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True)


@st.composite
def integer_array_indices(draw: st.DrawFn, shape: Shape) -> Any:
    """Integer-array (advanced) indices, repeats and negatives included.

    Either one array per dimension, or one array on a single axis with full
    slices elsewhere (mixed advanced and basic indexing). Needs a non-empty shape
    with no zero-length side.
    """
    if not shape or 0 in shape:
        raise ValueError(f"integer_array_indices: need a non-empty shape with no zero side, got {shape}")
    if draw(st.booleans()):
        return draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)))
    axis = draw(st.integers(0, len(shape) - 1))
    side = shape[axis]
    picks = draw(hnp.arrays(np.int64, st.integers(1, 5), elements=st.integers(-side, side - 1)))
    return (slice(None),) * axis + (picks,)


def indices(shape: Shape) -> st.SearchStrategy[Any]:
    """Basic or integer-array indices for ``shape``."""
    if not shape or 0 in shape:
        return basic_indices(shape)
    return st.one_of(basic_indices(shape), integer_array_indices(shape))


# ---- keeping inputs off kinks -------------------------------------------------------


def away_from_zero(a: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """Push entries with |a| < margin out to ±margin (0 goes to +margin): for relu, |x|, 1/x."""
    a = np.array(a, dtype=np.float64)
    small = np.abs(a) < margin
    a[small] = np.where(a[small] < 0, -margin, margin)
    return a


def positive(a: np.ndarray, low: float = 0.1) -> np.ndarray:
    """|a| + low: strictly positive, for log, sqrt, non-integer powers and divisors."""
    return np.abs(np.asarray(a, dtype=np.float64)) + low


def untied(a: np.ndarray, gap: float = 0.01) -> np.ndarray:
    """Same order, but every two entries at least ``gap`` apart: max/min have a unique winner.

    The k-th smallest entry is raised by k·gap, which keeps the order and
    separates equal values; ``gap`` must exceed the finite-difference step.
    """
    a = np.asarray(a, dtype=np.float64)
    flat = a.reshape(-1)
    order = np.argsort(flat, kind="stable")
    out = np.empty_like(flat)
    out[order] = flat[order] + gap * np.arange(flat.size)
    return out.reshape(a.shape)


def labels(n_samples: int, n_classes: int) -> st.SearchStrategy[np.ndarray]:
    """Integer class labels in [0, n_classes) for cross-entropy."""
    return hnp.arrays(np.int64, (n_samples,), elements=st.integers(0, n_classes - 1))


def shape_pairs_for_matmul(max_side: int = 4) -> st.SearchStrategy[tuple[Shape, Shape]]:
    """Shapes (a, b) that ``a @ b`` accepts: vectors, matrices and broadcast batches."""

    def pair(k: int) -> st.SearchStrategy[tuple[Shape, Shape]]:
        leading = hnp.array_shapes(min_dims=1, max_dims=2, max_side=max_side)
        return st.tuples(
            st.one_of(st.just((k,)), leading.map(lambda s: s + (k,))),
            st.one_of(st.just((k,)), st.integers(1, max_side).map(lambda m: (k, m))),
        )

    return st.integers(1, max_side).flatmap(pair).flatmap(_batched)


def _batched(pair: tuple[Shape, Shape]) -> st.SearchStrategy[tuple[Shape, Shape]]:
    a, b = pair
    if len(a) > 2 and len(b) == 2:  # a batch of matrices: b may carry a broadcastable batch too
        return st.sampled_from([(a, b), (a, (1,) + b), (a, a[:1] + b)])
    return st.just(pair)


__all__ = [
    "arrays",
    "away_from_zero",
    "axes",
    "axes_and_keepdims",
    "basic_indices",
    "broadcastable_shapes",
    "elements",
    "indices",
    "integer_array_indices",
    "labels",
    "positive",
    "shape_pairs_for_matmul",
    "shapes",
    "tensors",
    "untied",
]
