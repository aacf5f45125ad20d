"""Composites built from the primitives, each numerically stable by construction.

``softplus`` and ``cross_entropy`` are fused ops: their forward passes never
overflow (max-shift, ``exp(-|x|)``), and their backward rules are written with
Tensor operations so Newton's method can take Hessian-vector products.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from . import autograd
from .autograd import Function, small_cache
from .tensor import Tensor


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def sigmoid(x: Tensor) -> Tensor:
    return _tensor(x).sigmoid()


def logsumexp(x: Tensor, axis: int = -1, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) shifted by the (constant) max, so exp never overflows."""
    x = _tensor(x)
    m = x.max(axis=axis, keepdims=True).detach()
    out = (x - m).exp().sum(axis=axis, keepdims=True).log() + m
    return out if keepdims else out.reshape(np.squeeze(out.data, axis=axis).shape)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    x = _tensor(x)
    return x - logsumexp(x, axis=axis, keepdims=True)


class Softmax(Function):
    """exp(x - max) / sum along ``axis``, fused; its gradient is s ⊙ (g - Σ g ⊙ s)."""

    __slots__ = ("axis",)

    @staticmethod
    def forward(ctx, x, axis):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(e)
        ctx.axis = axis
        return e

    @staticmethod
    def backward(ctx, grad):
        (s,) = ctx.saved_tensors
        return s * (grad - (grad * s).sum(axis=ctx.axis, keepdims=True))


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """Per row (``axis=-1``), never over the whole matrix."""
    return Softmax.apply(_tensor(x), axis=axis)


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) as log(exp(0) + exp(x)), which NumPy evaluates without overflow."""
    return np.logaddexp(0.0, x)


class Softplus(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _softplus(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x.sigmoid()


def softplus(x: Tensor) -> Tensor:
    return Softplus.apply(_tensor(x))


def bce_forward_arrays(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean loss and softplus(z), which backward reuses (shared with tg.compile's kernels)."""
    softplus = _softplus(z)
    return np.asarray(np.add.reduce(softplus - z * y, axis=None) / z.size), softplus  # not .mean(): a wrapper


def bce_grad_arrays(z: np.ndarray, y: np.ndarray, softplus: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """d/dz = (σ(z) - y)·grad/n with σ(z) = exp(z - softplus(z)), in one buffer."""
    dz = np.exp(z - softplus)
    dz -= y
    dz *= float(grad) / z.size
    return np.asarray(dz)


class BinaryCrossEntropyWithLogits(Function):
    """Mean of softplus(z) - y·z, fused: one pass forward, d/dz = (σ(z) - y)/n."""

    __slots__ = ("softplus",)

    @staticmethod
    def forward(ctx, z, y):
        ctx.save_for_backward(z, y)
        loss, ctx.softplus = bce_forward_arrays(z, y)
        return loss

    @staticmethod
    def backward(ctx, grad):
        z, y = ctx.saved_tensors
        need_z, need_y = ctx.needs_input_grad
        scale = grad / z.data.size
        return ((z.sigmoid() - y) * scale if need_z else None), (-z * scale if need_y else None)

    @staticmethod
    def backward_arrays(ctx, grad):
        """The same rule with σ(z) = exp(z - softplus(z)), reusing forward's softplus."""
        z, y = ctx.saved_arrays
        need_z, need_y = ctx.needs_input_grad
        dz = bce_grad_arrays(z, y, ctx.softplus, grad) if need_z else None
        return dz, (np.asarray(-z * (float(grad) / z.size)) if need_y else None)


def binary_cross_entropy_with_logits(logits: Tensor, targets: Any) -> Tensor:
    """Mean of -[y log σ(z) + (1-y) log(1-σ(z))], computed from logits: no log(0), no overflow."""
    logits = _tensor(logits)
    y = targets if isinstance(targets, Tensor) else Tensor(np.asarray(targets), dtype=logits.dtype)
    if y._data.shape != logits._data.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: targets of shape {y.shape} do not match logits of shape {logits.shape}"
        )
    if logits._data.size == 0:
        raise ValueError("binary_cross_entropy_with_logits: empty batch (0 samples)")
    return BinaryCrossEntropyWithLogits.apply(logits, y)


def check_labels(labels: Any, n: int, n_classes: int, op: str, what: str = "labels") -> np.ndarray:
    """Integer class labels in [0, n_classes), one per sample, as intp (what NumPy indexes with;
    no copy if already). The one label check: losses, ``one_hot`` and ``fit`` all use it."""
    labels = labels._data if isinstance(labels, Tensor) else np.asarray(labels)
    if labels.dtype.kind not in "iub":
        example = f" (e.g. {labels.flat[:1].tolist()[0]!r})" if labels.size else ""  # a plain value
        raise TypeError(
            f"{op}: {what} must be integer class labels, got dtype {labels.dtype}{example}; use .astype(int)"
        )
    if labels.shape != (n,):
        raise ValueError(f"{op}: {what} must have shape ({n},), one label per sample, got shape {labels.shape}")
    as_index = labels if labels.dtype == np.intp else labels.astype(np.intp)
    check_label_range(as_index, n_classes, op, what)
    return as_index


def check_label_range(labels: np.ndarray, n_classes: int, op: str, what: str = "labels") -> None:
    """Raise unless every intp label is in [0, n_classes). Also run by ``CrossEntropy``'s forward, so a
    compiled step's replays (which skip ``check_labels``) refuse a -1 instead of picking the last class."""
    # Viewed as unsigned, negative labels are huge: one max finds bad labels at either end.
    if labels.size and np.maximum.reduce(labels.view(np.uintp)) >= n_classes:
        bad = int(np.flatnonzero((labels < 0) | (labels >= n_classes))[0])
        raise ValueError(f"{op}: {what} must be in [0, {n_classes}); got {labels[bad]} at index {bad}")


def _shifted_exp(logits: np.ndarray) -> np.ndarray:
    """z - max per sample, as a fresh classes × samples array (exp is taken in place after).

    Transposed because NumPy reduces over a short last axis one row at a time:
    with fewer classes than samples, the sums and maxes run 5-15x faster across a
    classes-major buffer (and the bias gradient's column sum after it, too).
    ``np.add.reduce`` and friends skip the Python wrappers of ``.sum()``/``.max()``.
    """
    n, c = logits.shape
    e = np.array(logits.T, order="C" if c < n else "F")
    e -= np.maximum.reduce(e, axis=0)
    return e


@small_cache
def _sample_offsets(n: int, step: int) -> np.ndarray:
    """0, step, 2·step, ...: where each sample's column starts (cached: batches repeat their size)."""
    offsets = np.arange(0, n * step, step)
    offsets.flags.writeable = False
    return offsets


def ce_forward_arrays(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The mean loss, and what backward reuses: the label positions, exp(z - max) classes-major, its sums.

    Shared by the op and tg.compile's kernels, so the two compute the very same numbers.
    """
    labels = labels if labels.dtype == np.intp else labels.astype(np.intp)
    check_label_range(labels, logits.shape[1], "cross_entropy")
    e = _shifted_exp(logits)
    # Where each sample's label entry sits in e's memory: flat indexing is 3-4x faster
    # than e[labels, rows], and backward's scatter reuses the positions.
    step_class, step_sample = e.strides[0] // e.itemsize, e.strides[1] // e.itemsize
    picks = labels * step_class
    picks += _sample_offsets(len(labels), step_sample)
    picked = np.add.reduce(e.ravel(order="K")[picks])
    np.exp(e, out=e)
    total = np.add.reduce(e, axis=0)
    loss = (float(np.add.reduce(np.log(total))) - float(picked)) / len(labels)  # Python floats: no ufunc calls
    return np.asarray(loss, dtype=logits.dtype), picks, e, total


def ce_grad_arrays(e: np.ndarray, picks: np.ndarray, total: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """(softmax - onehot)·grad/n written over forward's exp buffer ``e``, returned samples-major."""
    scale = float(grad) / len(picks)  # a Python float keeps e's dtype, and is cheaper than a 0-d array
    e *= scale / total
    e.ravel(order="K")[picks] -= scale  # ravel of a contiguous array: a view
    return e.T


class CrossEntropy(Function):
    """Mean of -log softmax(logits)[i, labels[i]], fused: one n×C buffer, no one-hot."""

    __slots__ = ("labels", "picks", "exp", "total")

    @staticmethod
    def forward(ctx, logits, labels):
        loss, ctx.picks, ctx.exp, ctx.total = ce_forward_arrays(logits, labels)
        ctx.save_for_backward(logits)
        ctx.labels = labels.copy()  # the caller may reuse its array
        return loss

    @staticmethod
    def backward(ctx, grad):
        """(softmax(logits) - onehot) · grad / n, with softmax in the graph for second order."""
        (logits,) = ctx.saved_tensors
        n = len(ctx.labels)
        onehot = np.zeros(logits.shape, dtype=logits.dtype)
        onehot[np.arange(n), ctx.labels] = 1
        return (softmax(logits, axis=1) - onehot) * (grad / n)

    @staticmethod
    def backward_arrays(ctx, grad):
        """The same rule over forward's exp buffer (taken, so a retained graph's second
        backward recomputes it, in the same layout)."""
        e, ctx.exp = ctx.exp, None
        if e is None:
            e = np.exp(_shifted_exp(*ctx.saved_arrays))
        return ce_grad_arrays(e, ctx.picks, ctx.total, grad)


def cross_entropy(logits: Tensor, labels: Any) -> Tensor:
    """Mean multiclass log-loss from logits (n, C) and integer labels (n,)."""
    logits = _tensor(logits)
    if logits._data.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (n, C), got {logits.shape}")
    n, c = logits._data.shape
    if n == 0:
        raise ValueError("cross_entropy: empty batch (0 samples)")
    return CrossEntropy.apply(logits, labels=check_labels(labels, n, c, "cross_entropy"))


def mse(pred: Tensor, target: Any) -> Tensor:
    pred = _tensor(pred)
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target), dtype=pred.dtype)
    if pred.shape != target.shape:
        raise ValueError(f"mse: target of shape {target.shape} does not match prediction of shape {pred.shape}")
    return ((pred - target) ** 2).mean()


def one_hot(labels: Any, n_classes: int, dtype: Any = np.float64) -> Tensor:
    labels = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    labels = check_labels(labels, len(labels), n_classes, "one_hot")
    options = {"n_classes": n_classes, "dtype": np.dtype(dtype)}
    out = Tensor(one_hot_array(labels, **options))
    if autograd._recorder is not None:  # tg.compile is recording: computed again from each call's labels
        autograd._recorder.outside_graph(one_hot_array, (labels,), options, out)
    return out


def one_hot_array(labels: np.ndarray, n_classes: int, dtype: np.dtype) -> np.ndarray:
    """The rows of ``one_hot`` for intp labels; checks their range itself, as replays skip ``check_labels``."""
    check_label_range(labels, n_classes, "one_hot")
    out = np.zeros((len(labels), n_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def l2(params: Tensor | Iterable[Tensor]) -> Tensor:
    """Sum of squares of all entries: ||W||² (no factor ½)."""
    params = [params] if isinstance(params, Tensor) else list(params)
    if not params:
        raise ValueError("l2: no parameters given")
    total = (params[0] * params[0]).sum()
    for p in params[1:]:
        total = total + (p * p).sum()
    return total
