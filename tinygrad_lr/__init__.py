"""tinygrad_lr: a small, fast, honest autograd framework on NumPy."""

from .autograd import Function, GraphFreedError, enable_grad, grad, is_grad_enabled, no_grad  # noqa: I001  (first: tensor.py builds on it)
from .tensor import Tensor

__all__ = ["Function", "GraphFreedError", "Tensor", "enable_grad", "grad", "is_grad_enabled", "no_grad"]
__version__ = "0.1.0"
