"""Figures of a trained model on a whole data set, as the CLI prints and records them."""

from __future__ import annotations

import numpy as np

from .autograd import no_grad
from .models import Model


def measure(model: Model, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Accuracy and mean log-loss of ``model`` on all of ``(X, y)``, without any L2 term.

    The data loss alone, so models trained with different penalties compare; ``fit``'s
    ``History.loss`` is instead the running mean over an epoch's minibatches of the
    objective it minimised (data loss + penalty).
    """
    with no_grad():
        logits = model(X)
        loss = model.data_loss(logits, y.astype(logits.dtype) if logits.ndim == 1 else y).item()
    return float(np.mean(model.predict(X) == y)), float(loss)
