"""tinygrad_lr: a small, fast, honest autograd framework on NumPy."""

from typing import TYPE_CHECKING, Any

from .anomaly import AnomalyError
from .autograd import Function, GraphFreedError, ModifiedInPlaceError, backward, grad
from .compiler import compile
from .grad_mode import detect_anomaly, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import Tensor
from .tensor_functions import concatenate, dot, einsum, logaddexp, maximum, minimum, outer, split, stack, where
from .transforms import hessian, hvp, jacobian, jvp, vjp

if TYPE_CHECKING:  # loaded on first use by __getattr__ below (graph.py needs graphviz)
    from .graph import draw

__all__ = [
    "AnomalyError",
    "Function",
    "GraphFreedError",
    "ModifiedInPlaceError",
    "Tensor",
    "backward",
    "compile",
    "concatenate",
    "detect_anomaly",
    "dot",
    "draw",
    "einsum",
    "enable_grad",
    "grad",
    "hessian",
    "hvp",
    "is_grad_enabled",
    "jacobian",
    "jvp",
    "logaddexp",
    "maximum",
    "minimum",
    "no_grad",
    "outer",
    "set_grad_enabled",
    "split",
    "stack",
    "vjp",
    "where",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``draw`` from ``graph``, imported when first asked for: ``import tinygrad_lr`` needs only NumPy."""
    if name == "draw":
        from .graph import draw

        return draw
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
