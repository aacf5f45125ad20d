"""The models' autograd gradients equal the hand-derived closed forms of tinygrad_lr.reference.

Data are never square (n_samples != n_features), so dividing by the wrong count,
or dropping a transpose, changes the result or its shape.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lr as tg
from tinygrad_lr import Tensor, models, reference

TOL = 1e-12


def data(n, d, n_classes, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, n_classes, size=n)
    if n_classes == 2 and n > 1:
        y[:2] = [0, 1]  # both classes present
    return X, y


def randomise(model, seed=1):
    """Non-zero biases too, so a dropped bias term shows."""
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    return model


def reference_grads(model, X, y, l2):
    """The closed form for ``model``, keyed like ``model.named_parameters()``, plus the loss."""
    p = {name: t.data for name, t in model.named_parameters().items()}
    if isinstance(model, models.MLP):
        n_layers = len(model.sizes) - 1
        Ws, bs = [p[f"W{i}"] for i in range(n_layers)], [p[f"b{i}"] for i in range(n_layers)]
        gW, gb = reference.mlp_grad(X, y, Ws, bs, l2, model.activation)
        loss = reference.mlp_loss(X, y, Ws, bs, l2, model.activation)
        return loss, {**{f"W{i}": g for i, g in enumerate(gW)}, **{f"b{i}": g for i, g in enumerate(gb)}}
    if isinstance(model, models.SoftmaxRegression):
        gW, gb = reference.softmax_grad(X, y, p["W"], p["b"], l2)
        return reference.softmax_loss(X, y, p["W"], p["b"], l2), {"W": gW, "b": gb}
    gw, gb = reference.logistic_grad(X, y.astype(np.float64), p["w"], p["b"], l2)
    return reference.logistic_loss(X, y.astype(np.float64), p["w"], p["b"], l2), {"w": gw, "b": gb}


def autograd_grads(model, X, y, l2):
    targets = y.astype(np.float64) if isinstance(model, models.LogisticRegression) else y
    loss = model.loss(X, targets, l2=l2)
    params = model.named_parameters()
    grads = tg.grad(loss, list(params.values()))
    return loss.item(), dict(zip(params, grads))


def assert_matches_reference(model, X, y, l2):
    X_before, y_before = X.copy(), y.copy()
    loss, grads = autograd_grads(model, X, y, l2)
    ref_loss, ref = reference_grads(model, X, y, l2)
    np.testing.assert_allclose(loss, ref_loss, rtol=TOL, atol=TOL)
    assert set(grads) == set(ref)
    for name, g in grads.items():
        param = model.named_parameters()[name]
        assert g.shape == param.shape and g.dtype == param.dtype, name
        np.testing.assert_allclose(g.numpy(), ref[name], rtol=TOL, atol=TOL, err_msg=name)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


MODELS = {
    "logistic": (lambda d, c: models.LogisticRegression(d), 2),
    "softmax-binary": (lambda d, c: models.SoftmaxRegression(d, 2), 2),
    "softmax": (lambda d, c: models.SoftmaxRegression(d, c), 4),
    "mlp-1-hidden": (lambda d, c: models.MLP([d, 5, c]), 3),
    "mlp-3-hidden": (lambda d, c: models.MLP([d, 6, 4, 3, c]), 3),
    "mlp-sigmoid": (lambda d, c: models.MLP([d, 4, c], activation="sigmoid"), 3),
}


@pytest.mark.parametrize("l2", [0.0, 0.3])
@pytest.mark.parametrize("n, d", [(7, 3), (3, 5)])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_autograd_equals_hand_derived_gradient(kind, n, d, l2):
    make, n_classes = MODELS[kind]
    X, y = data(n, d, n_classes)
    assert_matches_reference(randomise(make(d, n_classes)), X, y, l2)


@given(
    n=st.integers(1, 9),
    d=st.integers(1, 6),
    n_classes=st.integers(2, 4),
    l2=st.sampled_from([0.0, 0.01, 1.0]),
    kind=st.sampled_from(["logistic", "softmax", "mlp"]),
    seed=st.integers(0, 2**16),
)
def test_autograd_equals_hand_derived_gradient_any_size(n, d, n_classes, l2, kind, seed):
    if n == d:
        n += 1
    X, y = data(n, d, 2 if kind == "logistic" else n_classes, seed)
    model = {
        "logistic": lambda: models.LogisticRegression(d),
        "softmax": lambda: models.SoftmaxRegression(d, n_classes),
        "mlp": lambda: models.MLP([d, 3, n_classes]),
    }[kind]()
    assert_matches_reference(randomise(model, seed + 1), X, y, l2)


def test_relu_mlp_equals_hand_derived_gradient():
    X, y = data(8, 3, 3)
    model = randomise(models.MLP([3, 5, 3], activation="relu"))
    assert np.all(np.abs(X @ model.W0.data + model.b0.data) > 1e-3)  # no unit sits on the kink
    assert_matches_reference(model, X, y, 0.2)


def test_reference_gradients_are_the_derivative_of_the_reference_losses():
    """The oracle checks itself: central differences of each reference loss."""
    X, y = data(6, 4, 3)
    rng = np.random.default_rng(2)

    def check(loss, params, grads):
        for k, (p, g) in enumerate(zip(params, grads)):
            numeric = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                plus, minus = [q.copy() for q in params], [q.copy() for q in params]
                plus[k][idx] += 1e-6
                minus[k][idx] -= 1e-6
                numeric[idx] = (loss(*plus) - loss(*minus)) / 2e-6
            np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8)

    yb = (y > 0).astype(np.float64)
    w, b = rng.standard_normal(4), np.array(0.3)
    check(lambda w, b: reference.logistic_loss(X, yb, w, b, 0.5), [w, b], reference.logistic_grad(X, yb, w, b, 0.5))
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    check(lambda W, b: reference.softmax_loss(X, y, W, b, 0.5), [W, b], reference.softmax_grad(X, y, W, b, 0.5))
    Ws = [rng.standard_normal((4, 5)), rng.standard_normal((5, 3))]
    bs = [rng.standard_normal(5), rng.standard_normal(3)]
    gW, gb = reference.mlp_grad(X, y, Ws, bs, 0.5)
    check(lambda W0, W1, b0, b1: reference.mlp_loss(X, y, [W0, W1], [b0, b1], 0.5), Ws + bs, gW + gb)


def test_gradients_keep_float32_and_the_parameter_shapes():
    X, y = data(5, 3, 3)
    cases = [
        (models.LogisticRegression(3, dtype=np.float32), (y % 2).astype(np.float32)),
        (models.MLP([3, 4, 3], dtype=np.float32), y),
    ]
    for model, targets in cases:
        model.loss(X.astype(np.float32), targets, l2=0.1).backward()
        for name, p in model.named_parameters().items():
            assert p.grad.shape == p.shape and p.grad.dtype == np.float32, name


def test_upstream_gradient_and_inputs_are_not_mutated():
    X, y = data(6, 4, 3)
    model = randomise(models.SoftmaxRegression(4, 3))
    Xt = Tensor(X.copy(), requires_grad=True)
    logits = model.forward(Xt)
    upstream = np.random.default_rng(3).standard_normal(logits.shape)
    upstream_before, X_before = upstream.copy(), X.copy()
    logits.backward(upstream)
    np.testing.assert_array_equal(upstream, upstream_before)
    np.testing.assert_array_equal(Xt.numpy(), X_before)
    np.testing.assert_allclose(Xt.grad.numpy(), upstream @ model.W.data.T, rtol=TOL)
    np.testing.assert_allclose(model.W.grad.numpy(), X.T @ upstream, rtol=TOL)
    np.testing.assert_allclose(model.b.grad.numpy(), upstream.sum(axis=0), rtol=TOL)
