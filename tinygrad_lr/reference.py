"""Hand-derived losses and gradients in plain NumPy: the closed forms of docs/math.md.

These are test oracles, written once and independently of the autograd engine:
no Tensor appears here. Every loss is the mean over the ``n`` samples (rows of
``X``) plus ``l2/2 · ||W||²`` on the weights only (biases are not penalised),
which is exactly ``models.Model.loss(X, y, l2=l2)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# ---- stable building blocks ------------------------------------------------------


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1/(1+e^{-z}), computed from e^{-|z|} so it never overflows."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) = max(z, 0) + log1p(e^{-|z|})."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def log_softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise log softmax with the max shift."""
    shifted = Z - Z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(Z: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(Z))


def one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    Y = np.zeros((len(y), n_classes))
    Y[np.arange(len(y)), y] = 1.0
    return Y


# ---- losses -----------------------------------------------------------------------


def binary_cross_entropy_with_logits(z: np.ndarray, y: np.ndarray) -> float:
    """mean_i [softplus(z_i) - y_i z_i] = mean_i -[y_i log σ(z_i) + (1 - y_i) log(1 - σ(z_i))]."""
    return float(np.mean(softplus(z) - y * z))


def cross_entropy(Z: np.ndarray, y: np.ndarray) -> float:
    """mean_i -log softmax(Z_i)[y_i] for integer labels y."""
    return float(-log_softmax(Z)[np.arange(len(y)), y].mean())


def _penalty(weights: Sequence[np.ndarray], l2: float) -> float:
    return 0.5 * l2 * sum(float(np.sum(W * W)) for W in weights)


# ---- logistic regression: z = Xw + b ------------------------------------------------


def logistic_loss(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, l2: float = 0.0) -> float:
    return binary_cross_entropy_with_logits(X @ w + b, y) + _penalty([w], l2)


def logistic_grad(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, l2: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """∂L/∂w = Xᵀ(σ(Xw + b) - y)/n + λw,   ∂L/∂b = mean(σ(Xw + b) - y)."""
    n = X.shape[0]
    residual = sigmoid(X @ w + b) - y
    return X.T @ residual / n + l2 * w, np.asarray(residual.sum() / n)


# ---- softmax regression: Z = XW + b ---------------------------------------------------


def softmax_loss(X: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray, l2: float = 0.0) -> float:
    return cross_entropy(X @ W + b, y) + _penalty([W], l2)


def softmax_grad(
    X: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray, l2: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """With G = (softmax(XW + b) - onehot(y))/n:   ∂L/∂W = XᵀG + λW,   ∂L/∂b = Σ_i G_i."""
    n = X.shape[0]
    G = (softmax(X @ W + b) - one_hot(y, W.shape[1])) / n
    return X.T @ G + l2 * W, G.sum(axis=0)


# ---- MLP: h_0 = X, h_{l+1} = act(h_l W_l + b_l), logits = h_L W_L + b_L ----------------

# Each activation with its derivative written in terms of its *output* h = act(z).
ACTIVATIONS = {
    "tanh": (np.tanh, lambda h: 1 - h * h),
    "sigmoid": (sigmoid, lambda h: h * (1 - h)),
    "relu": (lambda z: np.maximum(z, 0), lambda h: (h > 0).astype(h.dtype)),
}


def _mlp_forward(
    X: np.ndarray, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], activation: str
) -> tuple[list[np.ndarray], np.ndarray]:
    """The inputs of every layer (h_0 = X, h_1, ...) and the logits."""
    act = ACTIVATIONS[activation][0]
    hs = [X]
    for W, b in zip(weights[:-1], biases[:-1]):
        hs.append(act(hs[-1] @ W + b))
    return hs, hs[-1] @ weights[-1] + biases[-1]


def mlp_loss(
    X: np.ndarray,
    y: np.ndarray,
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    l2: float = 0.0,
    activation: str = "tanh",
) -> float:
    return cross_entropy(_mlp_forward(X, weights, biases, activation)[1], y) + _penalty(weights, l2)


def mlp_grad(
    X: np.ndarray,
    y: np.ndarray,
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    l2: float = 0.0,
    activation: str = "tanh",
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Backprop by hand, for any number of layers.

    δ_L = (softmax(logits) - onehot(y))/n; for each layer l from the last:
    ∂L/∂W_l = h_lᵀ δ_l + λW_l,  ∂L/∂b_l = Σ_i δ_l,  δ_{l-1} = (δ_l W_lᵀ) ⊙ act'(h_l).
    """
    derivative = ACTIVATIONS[activation][1]
    hs, logits = _mlp_forward(X, weights, biases, activation)
    delta = (softmax(logits) - one_hot(y, logits.shape[1])) / X.shape[0]
    grad_W: list[np.ndarray] = []
    grad_b: list[np.ndarray] = []
    for layer in reversed(range(len(weights))):
        grad_W.insert(0, hs[layer].T @ delta + l2 * weights[layer])
        grad_b.insert(0, delta.sum(axis=0))
        if layer:
            delta = (delta @ weights[layer].T) * derivative(hs[layer])
    return grad_W, grad_b


# ---- second derivatives -----------------------------------------------------------------


def logistic_hessian(X: np.ndarray, w: np.ndarray, b: float, l2: float = 0.0) -> np.ndarray:
    """The Hessian of ``logistic_loss`` over (w, b), as one (d+1, d+1) matrix.

    With s = σ(z)(1 - σ(z)) and X₁ = [X, 1]: H = X₁ᵀ diag(s) X₁ / n, plus λ on the w block.
    The labels drop out: the loss is linear in y.
    """
    n, d = X.shape
    p = sigmoid(X @ w + b)
    X1 = np.hstack([X, np.ones((n, 1))])
    H = X1.T @ (X1 * (p * (1 - p))[:, None]) / n
    H[:d, :d] += l2 * np.eye(d)
    return H
