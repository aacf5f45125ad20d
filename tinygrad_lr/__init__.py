"""tinygrad_lr: a small, fast, honest autograd framework on NumPy."""

from .anomaly import AnomalyError
from .autograd import Function, GraphFreedError, ModifiedInPlaceError, backward, grad
from .grad_mode import detect_anomaly, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .graph import draw
from .tensor import Tensor
from .tensor_functions import concatenate, dot, einsum, logaddexp, maximum, minimum, outer, split, stack, where
from .transforms import hessian, hvp, jacobian, jvp, vjp

__all__ = [
    "AnomalyError",
    "Function",
    "GraphFreedError",
    "ModifiedInPlaceError",
    "Tensor",
    "backward",
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
