"""tinygrad_lr: a small, fast, honest autograd framework on NumPy."""

from .autograd import (  # noqa: I001  (first: tensor.py builds on it)
    AnomalyError,
    Function,
    GraphFreedError,
    detect_anomaly,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
)
from .tensor import Tensor
from .graph import draw  # noqa: E402  (after Tensor: graph.py draws tensors)
from .tensor_functions import concatenate, dot, einsum, logaddexp, maximum, minimum, outer, split, stack, where
from .transforms import hessian, hvp, jacobian, jvp, vjp

__all__ = [
    "AnomalyError",
    "Function",
    "GraphFreedError",
    "Tensor",
    "concatenate",
    "dot",
    "einsum",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "logaddexp",
    "maximum",
    "minimum",
    "outer",
    "split",
    "stack",
    "vjp",
    "where",
    "detect_anomaly",
    "draw",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "no_grad",
]
__version__ = "0.1.0"
