"""``fit``: minibatch training with seeded shuffling, validation, early stopping and callbacks.

Everything the user passes is checked before the first step, so a bad label or a
NaN in ``X`` fails at once with the offending value, not halfway through an epoch.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from . import compiler, streaming
from .autograd import no_grad
from .functional import check_labels
from .models import Model
from .optim import Adam, Optimizer
from .validation import check_bool, check_int, check_number

Callback = Callable[[int, "History", Model], Any]


@dataclass
class History:
    """Per-epoch figures of one ``fit``.

    ``loss``/``accuracy`` are means over the epoch's minibatches, measured as they
    were trained on (no extra pass over the data); ``loss`` is the minimised
    objective (data loss + the L2 penalty ``l2``/2·||W||², so it includes the
    penalty when ``l2 > 0``). ``val_loss``/``val_accuracy`` are measured on the
    validation set after each epoch (empty without one); ``val_loss`` includes
    the same penalty.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    epochs: int = 0
    stopped_early: bool = False
    l2: float = 0.0

    def __repr__(self) -> str:
        """``History(epochs=10, loss 0.6931 → 0.1234, accuracy 0.52 → 0.96, l2=0.0)``: first and last values."""
        series = [
            f"{name} {values[0]:.4g}" + (f" → {values[-1]:.4g}" if len(values) > 1 else "")
            for name, values in vars(self).items()
            if isinstance(values, list) and values
        ]
        stopped = ", stopped early" if self.stopped_early else ""
        return f"History(epochs={self.epochs}{stopped}, {', '.join(series + [f'l2={self.l2:g}'])})"


def _n_correct(logits: np.ndarray, y: np.ndarray) -> int:
    pred = logits >= 0 if logits.ndim == 1 else logits.argmax(axis=1)  # logit 0 is p = 0.5: class 1, as in predict
    return int(np.count_nonzero(pred == y))


def _check_callbacks(callbacks: Any) -> list[Callback]:
    """A sequence of callables (not one function on its own), checked before the first step."""
    if callable(callbacks) or not isinstance(callbacks, Sequence) or isinstance(callbacks, str):
        raise TypeError(f"fit: callbacks must be a list of functions, got {type(callbacks).__name__}")
    for i, callback in enumerate(callbacks):
        if not callable(callback):
            raise TypeError(f"fit: callbacks[{i}] is a {type(callback).__name__}, not a function")
    return list(callbacks)


def _check_X(X: Any, model: Model, what: str) -> np.ndarray:
    """A 2-D real array with the model's feature count and no NaN/inf (not copied; memmaps, dask arrays: by blocks)."""
    if not isinstance(X, np.ndarray) and not streaming.is_blockwise(X):
        X = np.asarray(X)
    if X.dtype.kind not in "fiub":
        raise TypeError(f"fit: {what} must hold real numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"fit: {what} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if len(X) == 0:
        raise ValueError(f"fit: {what} is empty (shape {X.shape})")
    if X.shape[1] != model.n_features:
        raise ValueError(f"fit: {what} has {X.shape[1]} features, the model expects {model.n_features}")
    if X.dtype.kind == "f":
        for start, block in streaming.blocks(X, streaming.block_rows(X.shape[1])):
            bad = ~np.isfinite(block)
            if bad.any():
                row, col = np.argwhere(bad)[0]
                raise ValueError(f"fit: {what} contains {block[row, col]} at row {start + row}, column {col}")
    return X


def _warn_on_cast(model: Model, X: np.ndarray) -> None:
    """Casting every batch costs a copy per step and computes in a dtype the data did not ask for: say so, once."""
    if X.dtype.kind == "f" and X.dtype != model.dtype:
        warnings.warn(
            f"fit: X is {X.dtype} but {type(model).__name__} computes in {model.dtype}, so every batch is cast; "
            f"build the model with dtype=np.{X.dtype} to train in {X.dtype}",
            stacklevel=3,
        )


def _evaluate(model: Model, X: np.ndarray, y: np.ndarray, l2: float) -> tuple[float, float]:
    """Objective and accuracy on a whole set, in chunks (flat memory for large sets)."""
    total = correct = 0.0
    with no_grad():
        for start, xb in streaming.blocks(X, 8192):
            yb = y[start : start + len(xb)]
            logits = model(xb)
            total += model.data_loss(logits, yb).item() * len(yb)
            correct += _n_correct(logits.data, yb)
        penalty = float(model.penalty(l2))
    return total / len(y) + penalty, correct / len(y)


def fit(
    model: Model,
    X: Any,
    y: Any,
    optimizer: Optimizer | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    validation: tuple[Any, Any] | None = None,
    seed: int | np.random.Generator | None = 0,
    l2: float = 0.0,
    progress: bool | None = None,
    tol: float | None = None,
    patience: int = 5,
    callbacks: Sequence[Callback] = (),
    compile: bool | None = None,  # noqa: A002 (tg.compile's name)
) -> History:
    """Train ``model`` on ``(X, y)`` with minibatches; returns the :class:`History`.

    - ``optimizer`` defaults to Adam; it must hold exactly the model's parameters that require grad,
      so a frozen parameter (``model.b.requires_grad_(False)``) is left out and stays as it is.
    - ``seed`` seeds the shuffling; pass a ``np.random.Generator`` to draw from it instead
      (to resume bit-identically, save its state with the checkpoint and pass it back).
    - ``l2`` adds ``l2/2·||W||²`` (biases unpenalised) to the minibatch loss.
    - ``progress``: a tqdm bar over epochs; ``None`` shows it only when stderr is a terminal.
    - ``tol``: stop once the monitored loss (``val_loss`` with a validation set, else ``loss``)
      has not improved by more than ``tol`` for ``patience`` epochs in a row.
    - ``callbacks`` are called after every epoch as ``callback(epoch, history, model)``.
    - ``compile`` replays each batch's forward and backward from a tape (``tg.compile``): the
      same numbers, less Python per step. By default (``None``) a model the tape cannot represent
      trains eagerly without a word; ``True`` warns when that happens, ``False`` never records.

    ``X`` is read block by block (``tinygrad_lr.streaming``: a ``np.memmap`` or a ``dask.array``
    bigger than memory works): rows are shuffled within blocks of 64 MiB, visited in a random
    order; smaller data is shuffled as a whole. The model casts each batch to its dtype, with
    one warning when ``X`` holds floats of another dtype (build the model in the data's).
    """
    X, y, validation, optimizer = _checked_data(model, X, y, validation, optimizer)
    epochs, batch_size = check_int(epochs, "fit: epochs"), check_int(batch_size, "fit: batch_size")
    patience = check_int(patience, "fit: patience")
    l2 = check_number(l2, "fit: l2", 0.0)
    tol = None if tol is None else check_number(tol, "fit: tol", 0.0)
    callbacks = _check_callbacks(callbacks)
    eager = compile is not None and not check_bool(compile, "fit: compile (or None)")
    _warn_on_cast(model, X)
    rng = np.random.default_rng(seed)
    show = sys.stderr.isatty() if progress is None else bool(progress)

    def forward_backward(xb: np.ndarray, yb: np.ndarray) -> tuple[Any, Any]:
        optimizer.zero_grad()
        logits = model(xb)
        loss = model.objective(logits, yb, l2)
        loss.backward()
        return loss, logits

    train_step = forward_backward if eager else compiler.Compiled(forward_backward, quiet=compile is None)
    history = History(l2=l2)
    best, stale = math.inf, 0
    with tqdm(total=epochs, desc="fit", unit="epoch", disable=not show) as bar:
        for epoch in range(epochs):
            loss, accuracy = _train_epoch(train_step, optimizer, model, X, y, batch_size, rng, (epoch, epochs))
            history.loss.append(loss)
            history.accuracy.append(accuracy)
            if validation is not None:
                val_loss, val_accuracy = _evaluate(model, *validation, l2)
                history.val_loss.append(val_loss)
                history.val_accuracy.append(val_accuracy)
            history.epochs = epoch + 1
            bar.set_postfix({k: f"{v[-1]:.4g}" for k, v in vars(history).items() if isinstance(v, list) and v})
            bar.update()
            for callback in callbacks:
                callback(epoch, history, model)
            if tol is not None:
                monitored = (history.val_loss or history.loss)[-1]
                stale = 0 if monitored < best - tol else stale + 1
                best = min(best, monitored)
                if stale >= patience:
                    history.stopped_early = True
                    break
    return history


def _checked_data(
    model: Model, X: Any, y: Any, validation: tuple[Any, Any] | None, optimizer: Optimizer | None
) -> tuple[Any, np.ndarray, tuple[Any, np.ndarray] | None, Optimizer]:
    """fit's data, validation pair and optimizer, checked before the first step (Adam by default)."""
    n_classes = model.n_classes
    X = _check_X(X, model, "X")
    y = check_labels(y, len(X), n_classes, "fit", "y")
    if validation is not None:
        if not isinstance(validation, tuple | list) or len(validation) != 2:
            raise ValueError("fit: validation must be a pair (X_val, y_val)")
        X_val = _check_X(validation[0], model, "validation X")
        validation = (X_val, check_labels(validation[1], len(X_val), n_classes, "fit", "validation y"))
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"fit: {type(model).__name__} has no parameter that requires grad; nothing to train")
    optimizer = Adam(params) if optimizer is None else optimizer
    if {id(p) for p in optimizer.params} != {id(p) for p in params}:
        raise ValueError(
            "fit: the optimizer does not hold this model's parameters that require grad "
            "(build it from [p for p in model.parameters() if p.requires_grad])"
        )
    return X, y, validation, optimizer


def _train_epoch(
    train_step: Callable,
    optimizer: Optimizer,
    model: Model,
    X: Any,
    y: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    where: tuple[int, int],
) -> tuple[float, float]:
    """One pass, a step per minibatch: the mean loss and accuracy as the batches were trained on."""
    epoch, epochs = where
    total = correct = 0.0
    for k, (xb, yb) in enumerate(streaming.shuffled_batches(X, y, batch_size, rng)):
        loss, logits = train_step(xb, yb)
        value = loss.item()
        if not math.isfinite(value) and epoch == 0 and k == 0:
            raise FloatingPointError(
                f"fit: the loss is {value} on the first batch, before any step: the data overflows in "
                f"the model's dtype {model.dtype} (scale X, or use float64)"
            )
        if not math.isfinite(value):
            raise FloatingPointError(
                f"fit: the loss became {value} in epoch {epoch + 1} of {epochs}; "
                f"try a smaller learning rate (lr={optimizer.lr})"
            )
        try:
            optimizer.step()
        except FloatingPointError as e:  # refused before writing: the parameters are still finite
            raise FloatingPointError(
                f"fit: the step would make a parameter NaN or inf in epoch {epoch + 1} of {epochs}; "
                f"try a smaller learning rate (lr={optimizer.lr})"
            ) from e
        total += value * len(yb)
        correct += _n_correct(logits.data, yb)
    return total / len(y), correct / len(y)
