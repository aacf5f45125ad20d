"""Anomaly mode's checks: which op made a NaN or inf, from what, and on which user line.

Only called while ``detect_anomaly`` is on (the engine tests one switch per op),
so none of this costs anything in ordinary training.
"""

from __future__ import annotations

import contextvars
import os
import sys
from typing import Any

import numpy as np


class AnomalyError(FloatingPointError):
    """A NaN or inf appeared in a forward value or a gradient under ``detect_anomaly``."""


# The node whose backward is running, per thread (its forward ops are then parts of that backward).
backward_of: contextvars.ContextVar[Any] = contextvars.ContextVar("tinygrad_lr_backward_of", default=None)

_PACKAGE = os.path.dirname(__file__)


def caller() -> str:
    """The first frame outside this package: the user's line that made the op."""
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == _PACKAGE:
        frame = frame.f_back
    return "unknown" if frame is None else f"{frame.f_code.co_filename}:{frame.f_lineno}"


def bad_values(a: np.ndarray) -> str:
    """'3 NaN and 1 inf of 10 values', or '' when every value is finite (or not a float)."""
    if a.dtype.kind != "f" or np.isfinite(a).all():
        return ""
    n_nan = int(np.isnan(a).sum())
    return f"{n_nan} NaN and {a.size - n_nan - int(np.isfinite(a).sum())} inf of {a.size} values"


def created_at(ctx: Any) -> str:
    return getattr(ctx, "_created_at", "unknown (made outside detect_anomaly)")


def check_forward(ctx: Any, data: np.ndarray, inputs: tuple) -> None:
    """Note where ``ctx`` was made; raise if its output is not finite, naming the source."""
    where = caller()
    ctx._created_at = where
    bad = bad_values(data)
    if not bad:
        return
    node = backward_of.get()
    if node is not None:
        raise AnomalyError(
            f"{node.op_name()} backward produced {bad} (in its {ctx.op_name()} step); "
            f"the {node.op_name()} was created at {created_at(node)}"
        )
    sources = [f"input {i} ({bad_values(t.data)})" for i, t in enumerate(inputs) if bad_values(t.data)]
    origin = "from non-finite " + ", ".join(sources) if sources else "from finite inputs"
    shapes = ", ".join(str(t.shape) for t in inputs)
    raise AnomalyError(f"{ctx.op_name()} produced {bad} {origin} (input shapes {shapes}), at {where}")


def check_backward(ctx: Any, index: int, grad: np.ndarray) -> None:
    """Raise if the gradient ``ctx`` returned for input ``index`` is not finite."""
    bad = bad_values(grad)
    if bad:
        raise AnomalyError(
            f"{ctx.op_name()} backward produced {bad} in the gradient of input {index} "
            f"(shape {ctx.parents[index].shape}); the {ctx.op_name()} was created at {created_at(ctx)}"
        )
