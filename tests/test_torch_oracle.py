"""Every op against PyTorch (CPU, float64): forward, backward and a second derivative, to 1e-10."""

import zlib

import numpy as np
import pytest

import tinygrad_lr as tg
import tinygrad_lr.functional as F
from tinygrad_lr import Tensor

torch = pytest.importorskip("torch", reason="PyTorch, the optional test oracle, is not installed (see the README)")

TOL = 1e-10
LABELS = np.array([2, 0, 1, 2, 2])


def positive(shape):
    return lambda rng: np.abs(rng.standard_normal(shape)) + 0.2


def normal(shape):
    return lambda rng: rng.standard_normal(shape)


def distinct(shape):
    return lambda rng: rng.permutation(np.prod(shape)).reshape(shape) * 0.1 - 0.3


# name: (tinygrad_lr function, torch function, input generators); the two functions take the same arguments
CASES = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, [normal((4, 1, 3)), normal((2, 3))]),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, [normal((2, 3)), normal((3,))]),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, [normal((4, 1)), normal((1, 5))]),
    "div": (lambda a, b: a / b, lambda a, b: a / b, [normal((3, 4)), positive((4,))]),
    "pow": (lambda a, b: a**b, lambda a, b: a**b, [positive((3, 2)), normal((2,))]),
    "pow-scalar": (lambda a: a**2.5, lambda a: a**2.5, [positive((5,))]),
    "rpow": (lambda a: 1.5**a, lambda a: 1.5**a, [normal((5,))]),
    "rdiv": (lambda a: 2 / a, lambda a: 2 / a, [positive((5,))]),
    "neg": (lambda a: -a, lambda a: -a, [normal((3, 2))]),
    "exp": (lambda a: a.exp(), torch.exp, [normal((3, 2))]),
    "log": (lambda a: a.log(), torch.log, [positive((3, 2))]),
    "sqrt": (lambda a: a.sqrt(), torch.sqrt, [positive((3, 2))]),
    "tanh": (lambda a: a.tanh(), torch.tanh, [normal((3, 2))]),
    "sigmoid": (lambda a: a.sigmoid(), torch.sigmoid, [normal((3, 2))]),
    "relu": (lambda a: a.relu(), torch.relu, [normal((3, 4))]),
    "relu-at-zero": (lambda a: a.relu(), torch.relu, [lambda rng: np.array([-1.0, 0.0, 2.0])]),  # relu'(0) = 0
    "matmul-mm": (lambda a, b: a @ b, torch.matmul, [normal((4, 3)), normal((3, 2))]),
    "matmul-mv": (lambda a, b: a @ b, torch.matmul, [normal((4, 3)), normal((3,))]),
    "matmul-vm": (lambda a, b: a @ b, torch.matmul, [normal((3,)), normal((3, 2))]),
    "matmul-vv": (lambda a, b: a @ b, torch.matmul, [normal((3,)), normal((3,))]),
    "matmul-batched": (lambda a, b: a @ b, torch.matmul, [normal((2, 4, 3)), normal((3, 5))]),
    "matmul-batched-both": (lambda a, b: a @ b, torch.matmul, [normal((2, 1, 4, 3)), normal((3, 3, 2))]),
    "sum-all": (lambda a: a.sum(), lambda a: a.sum(), [normal((3, 4))]),
    "sum-axis": (lambda a: a.sum(axis=1), lambda a: a.sum(dim=1), [normal((2, 3, 4))]),
    "sum-axes-keepdims": (
        lambda a: a.sum(axis=(0, 2), keepdims=True),
        lambda a: a.sum(dim=(0, 2), keepdim=True),
        [normal((2, 3, 4))],
    ),
    "mean-axis": (lambda a: a.mean(axis=-1), lambda a: a.mean(dim=-1), [normal((2, 3, 4))]),
    "max-axis": (lambda a: a.max(axis=0), lambda a: a.amax(dim=0), [distinct((4, 3))]),
    "max-keepdims": (
        lambda a: a.max(axis=1, keepdims=True),
        lambda a: a.amax(dim=1, keepdim=True),
        [distinct((2, 3, 4))],
    ),
    "max-all": (lambda a: a.max(), lambda a: a.amax(), [distinct((3, 4))]),
    "max-ties": (
        lambda a: a.max(axis=1),
        lambda a: a.amax(dim=1),
        [lambda rng: np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, 5.0, 1.0]])],  # 2, 3 and 1 winners
    ),
    "min-axis": (lambda a: a.min(axis=1), lambda a: a.amin(dim=1), [distinct((4, 3))]),
    "reshape": (lambda a: a.reshape(6, 2), lambda a: a.reshape(6, 2), [normal((3, 4))]),
    "transpose": (lambda a: a.transpose(2, 0, 1), lambda a: a.permute(2, 0, 1), [normal((2, 3, 4))]),
    "T": (lambda a: a.T, lambda a: a.T, [normal((2, 3))]),
    "broadcast_to": (
        lambda a: a.broadcast_to((2, 4, 3)),
        lambda a: a.broadcast_to((2, 4, 3)),
        [normal((4, 1))],
    ),
    "getitem-basic": (lambda a: a[1:, ::-2], lambda a: a[1:].flip(1)[:, ::2], [normal((3, 4))]),
    "getitem-int-array": (
        lambda a: a[np.array([0, 2, 0, -1])],
        lambda a: a[torch.tensor([0, 2, 0, -1])],
        [normal((3, 2))],
    ),
    "getitem-pairs": (
        lambda a: a[np.array([0, 1, 1]), np.array([2, 0, 2])],
        lambda a: a[torch.tensor([0, 1, 1]), torch.tensor([2, 0, 2])],
        [normal((2, 3))],
    ),
    "getitem-bool-mask": (
        lambda a: a[np.array([True, False, True])],
        lambda a: a[torch.tensor([True, False, True])],
        [normal((3, 2))],
    ),
    "softmax": (lambda a: F.softmax(a, axis=0), lambda a: torch.softmax(a, dim=0), [normal((4, 3))]),
    "log_softmax": (lambda a: F.log_softmax(a), lambda a: torch.log_softmax(a, dim=-1), [normal((4, 3))]),
    "logsumexp": (lambda a: F.logsumexp(a, axis=1), lambda a: torch.logsumexp(a, dim=1), [normal((4, 3))]),
    "softplus": (F.softplus, torch.nn.functional.softplus, [normal((4, 3))]),
    "bce-with-logits": (
        lambda z, y: F.binary_cross_entropy_with_logits(z, y),
        torch.nn.functional.binary_cross_entropy_with_logits,
        [normal((6,)), lambda rng: rng.random(6)],
    ),
    "cross_entropy": (
        lambda z: F.cross_entropy(z, LABELS),
        lambda z: torch.nn.functional.cross_entropy(z, torch.tensor(LABELS)),
        [normal((5, 3))],
    ),
    "mse": (F.mse, torch.nn.functional.mse_loss, [normal((4, 2)), normal((4, 2))]),
    "l2": (lambda a, b: F.l2([a, b]), lambda a, b: (a * a).sum() + (b * b).sum(), [normal((3, 2)), normal((4,))]),
}


def hessian_vector(grad_fn, grads_and_vectors, inputs):
    """grad_fn(sum <g, u>, inputs) over the gradients that depend on the inputs (None where none do)."""
    live = [(g * u).sum() for g, u in grads_and_vectors if g.requires_grad]
    if not live:
        return [None] * len(inputs)
    return grad_fn(sum(live[1:], live[0]), inputs, allow_unused=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_pytorch(name):
    f, torch_f, makers = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [make(rng) for make in makers]
    before = [a.copy() for a in arrays]
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, t_out = f(*xs), torch_f(*ts)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=TOL, atol=TOL)

    upstream = rng.standard_normal(out.shape)
    upstream_before = upstream.copy()
    grads = tg.grad(out, xs, grad_outputs=upstream, create_graph=True)
    t_grads = torch.autograd.grad(t_out, ts, grad_outputs=torch.tensor(upstream), create_graph=True)
    for x, g, tg_ in zip(xs, grads, t_grads):
        assert g.shape == x.shape and g.dtype == x.dtype
        np.testing.assert_allclose(g.numpy(), tg_.detach().numpy(), rtol=TOL, atol=TOL)

    # Second order: d/dx of sum_i <u_i, grad_i> (a Hessian-vector product); zero where a rule is constant.
    us = [rng.standard_normal(a.shape) for a in arrays]
    second = hessian_vector(tg.grad, [(g, Tensor(u)) for g, u in zip(grads, us)], xs)
    t_second = hessian_vector(torch.autograd.grad, [(g, torch.tensor(u)) for g, u in zip(t_grads, us)], ts)
    for a, s, t in zip(arrays, second, t_second):
        np.testing.assert_allclose(
            np.zeros(a.shape) if s is None else s.numpy(), np.zeros(a.shape) if t is None else t.numpy(), atol=TOL
        )

    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(upstream, upstream_before)


def test_models_match_pytorch():
    """Whole model losses with L2, gradients against torch on the same parameters."""
    from tinygrad_lr import models

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((7, 3)), rng.integers(0, 3, 7)
    model = models.MLP([3, 5, 4, 3])
    for p in model.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    loss = model.loss(X, y, l2=0.1)
    loss.backward()
    tp = {k: torch.tensor(v.data, requires_grad=True) for k, v in model.named_parameters().items()}
    h = torch.tensor(X)
    for i in range(3):
        h = h @ tp[f"W{i}"] + tp[f"b{i}"]
        h = torch.tanh(h) if i < 2 else h
    t_loss = torch.nn.functional.cross_entropy(h, torch.tensor(y)) + 0.05 * sum(
        (tp[f"W{i}"] ** 2).sum() for i in range(3)
    )
    t_loss.backward()
    np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=TOL)
    for name, p in model.named_parameters().items():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=TOL, atol=TOL, err_msg=name)
