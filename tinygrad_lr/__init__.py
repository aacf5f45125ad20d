"""tinygrad_lr: a small, fast, honest autograd framework on NumPy."""

from .anomaly import AnomalyError
from .autograd import Function, GraphFreedError, ModifiedInPlaceError, backward, grad
from .grad_mode import detect_anomaly, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .graph import draw
from .tensor import Tensor

__all__ = [
    "AnomalyError",
    "Function",
    "GraphFreedError",
    "ModifiedInPlaceError",
    "Tensor",
    "backward",
    "detect_anomaly",
    "draw",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]
__version__ = "0.1.0"
