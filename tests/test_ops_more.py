"""The ops of issue 13, first and second order, against central differences and against PyTorch.

Every case draws its shapes, axes and options with Hypothesis and returns
``(our function, torch's function, input arrays)``; the same draw is checked both
ways. Values are kept off kinks (|x| at 0, ties of maximum, clip's bounds, the
jumps of floor/round) where a finite difference measures nonsense; the behaviour
exactly at those points is pinned down against PyTorch in the tests below the table.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import SMALL, check
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lr as tg
from tinygrad_lr import Tensor
from tinygrad_lr import testing as tgt

try:
    import torch
except ImportError:  # the PyTorch half of each case is skipped, the finite differences still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def draw_array(data, min_dims=0, shape=None, lo=-3.0, hi=3.0):
    return data.draw(tgt.arrays(shape if shape is not None else tgt.shapes(min_dims=min_dims, **SMALL), lo, hi))


def on_grid(a, offset=0.0):
    """Values on the grid 0.25·k + offset: two arrays on grids offset by 0.1 never come within 0.1."""
    return np.round(np.asarray(a) * 4) / 4 + offset


def off_integers(a):
    """floor(a) + 0.3: never an integer nor a half, so floor, ceil and round are flat nearby."""
    return np.floor(a) + 0.3


def dims(axis, ndim):
    """torch's ``dim`` (a tuple) for one of our ``axis`` values."""
    return tuple(range(ndim)) if axis is None else tuple(int(a) for a in np.atleast_1d(axis))


# ---- elementwise ------------------------------------------------------------------------------------

UNARY = {
    "abs": (lambda x: x.abs(), "abs", tgt.away_from_zero),
    "builtin-abs": (abs, "abs", tgt.away_from_zero),
    "sign": (lambda x: x.sign(), "sign", tgt.away_from_zero),
    "floor": (lambda x: x.floor(), "floor", off_integers),
    "ceil": (lambda x: x.ceil(), "ceil", off_integers),
    "round": (lambda x: x.round(), "round", off_integers),
    "sin": (lambda x: x.sin(), "sin", None),
    "cos": (lambda x: x.cos(), "cos", None),
    "log1p": (lambda x: x.log1p(), "log1p", lambda a: tgt.positive(a) - 0.9),
    "expm1": (lambda x: x.expm1(), "expm1", None),
    "log2": (lambda x: x.log2(), "log2", tgt.positive),
    "log10": (lambda x: x.log10(), "log10", tgt.positive),
    "exp2": (lambda x: x.exp2(), "exp2", None),
    "square": (lambda x: x.square(), "square", None),
}


def unary_case(name):
    f, torch_name, fix = UNARY[name]

    def case(data):
        x = draw_array(data)
        return f, lambda t: getattr(torch, torch_name)(t), [fix(x) if fix else x]

    return case


def round_decimals(data):
    decimals = data.draw(st.integers(0, 2))
    x = off_integers(draw_array(data) * 10**decimals) / 10**decimals
    return lambda t: t.round(decimals), lambda t: torch.round(t, decimals=decimals), [x]


def clip(data):
    x = draw_array(data)
    low = data.draw(st.one_of(st.none(), st.floats(-2, 0)))
    high = data.draw(st.floats(0.5, 2)) if low is None else data.draw(st.one_of(st.none(), st.floats(0.5, 2)))
    for bound in (low, high):  # keep x 0.05 away from each bound
        if bound is not None:
            x = np.where(np.abs(x - bound) < 0.05, bound - 0.05, x)
    return lambda t: t.clip(low, high), lambda t: torch.clamp(t, low, high), [x]


def binary(data):
    sx, sy = data.draw(tgt.broadcastable_shapes(2, **SMALL))
    return draw_array(data, shape=sx), draw_array(data, shape=sy)


def maximum(data):
    x, y = binary(data)
    return tg.maximum, torch.maximum, [on_grid(x, 0.1), on_grid(y)]


def minimum(data):
    x, y = binary(data)
    return tg.minimum, torch.minimum, [on_grid(x, 0.1), on_grid(y)]


def logaddexp(data):
    return tg.logaddexp, torch.logaddexp, list(binary(data))


def where(data):
    sc, sx, sy = data.draw(tgt.broadcastable_shapes(3, **SMALL))
    cond = data.draw(hnp.arrays(bool, sc))
    f = lambda x, y: tg.where(cond, x, y)  # noqa: E731
    return (
        f,
        lambda x, y: torch.where(torch.tensor(cond), x, y),
        [draw_array(data, shape=sx), draw_array(data, shape=sy)],
    )


# ---- reductions and scans ------------------------------------------------------------------------------


def var_or_std(name):
    def case(data):
        x = tgt.untied(draw_array(data, min_dims=1))
        axis, keep = data.draw(tgt.axes_and_keepdims(x.ndim))
        count = x.size if axis is None else int(np.prod(np.array(x.shape)[list(np.atleast_1d(axis))]))
        ddof = data.draw(st.integers(0, min(1, count - 1)))
        f = lambda t: getattr(t, name)(axis=axis, ddof=ddof, keepdims=keep)  # noqa: E731
        tf = lambda t: getattr(torch, name)(t, dim=dims(axis, x.ndim), correction=ddof, keepdim=keep)  # noqa: E731
        return f, tf, [x]

    return case


def prod(data):
    # Hypothesis likes zeros, so both of prod's rules get drawn. Entries within 1e-3 of zero become
    # zero: prod/x's second derivative cancels to eps·prod/x² there (PyTorch's rule does the same).
    x = draw_array(data, lo=-2, hi=2)
    x = np.where(np.abs(x) < 1e-3, 0.0, x)
    axis, keep = data.draw(tgt.axes_and_keepdims(x.ndim))
    tf = lambda t: torch.prod(t) if x.ndim == 0 else _torch_prod(t, dims(axis, x.ndim), keep)  # noqa: E731
    return lambda t: t.prod(axis=axis, keepdims=keep), tf, [x]


def _torch_prod(t, axis, keep):
    for a in sorted(np.atleast_1d(axis) % t.ndim, reverse=True):  # torch.prod takes one dim at a time
        t = torch.prod(t, dim=int(a), keepdim=keep)
    return t


def cumsum(data):
    x = draw_array(data, min_dims=1)
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    tf = lambda t: torch.cumsum(t.flatten() if axis is None else t, dim=0 if axis is None else axis)  # noqa: E731
    return lambda t: t.cumsum(axis), tf, [x]


# ---- joining and splitting ------------------------------------------------------------------------------


def concatenate(data):
    shape = data.draw(tgt.shapes(min_dims=1, **SMALL))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    sizes = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
    shapes = [shape[: axis % len(shape)] + (n,) + shape[axis % len(shape) + 1 :] for n in sizes]
    arrays = [draw_array(data, shape=s) for s in shapes]
    return lambda *ts: tg.concatenate(ts, axis=axis), lambda *ts: torch.cat(ts, dim=axis), arrays


def stack(data):
    shape = data.draw(tgt.shapes(**SMALL))
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    arrays = [draw_array(data, shape=shape) for _ in range(data.draw(st.integers(1, 3)))]
    return lambda *ts: tg.stack(ts, axis=axis), lambda *ts: torch.stack(ts, dim=axis), arrays


def split(data):
    x = draw_array(data, min_dims=1)
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    side = x.shape[axis]
    cuts = data.draw(
        st.one_of(
            st.sampled_from([n for n in range(1, side + 1) if side % n == 0]),
            st.lists(st.integers(0, side + 1), max_size=3).map(sorted),
        )
    )
    f = lambda t: tuple(tg.split(t, cuts, axis=axis))  # noqa: E731
    return f, lambda t: torch.tensor_split(t, cuts, dim=axis), [x]


# ---- shapes ------------------------------------------------------------------------------------------------


def flatten(data):
    return lambda t: t.flatten(), torch.flatten, [draw_array(data)]


def ravel(data):
    return lambda t: t.ravel(), torch.ravel, [draw_array(data)]


def squeeze(data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=2))
    ones = tuple(i for i, n in enumerate(shape) if n == 1)
    axis = data.draw(st.one_of(st.none(), st.sampled_from(ones), st.just(ones))) if ones else None
    tf = lambda t: t.squeeze() if axis is None else t.squeeze(axis)  # noqa: E731
    return lambda t: t.squeeze(axis), tf, [draw_array(data, shape=shape)]


def expand_dims(data):
    x = draw_array(data)
    axis = data.draw(st.integers(-x.ndim - 1, x.ndim))
    return lambda t: t.expand_dims(axis), lambda t: t.unsqueeze(axis), [x]


def unsqueeze(data):
    x = draw_array(data)
    axis = data.draw(st.integers(-x.ndim - 1, x.ndim))
    return lambda t: t.unsqueeze(axis), lambda t: t.unsqueeze(axis), [x]


def expand_dims_several(data):
    x = draw_array(data)
    axes = data.draw(hnp.valid_tuple_axes(x.ndim + 2, min_size=2, max_size=2))
    weights = np.arange(1.0, 1 + x.size).reshape(np.expand_dims(x, axes).shape)  # NumPy gives the shape
    return lambda t: t.expand_dims(axes) * weights, None, [x]  # torch.unsqueeze takes one axis


def swapaxes(data):
    x = draw_array(data, min_dims=1)
    a, b = data.draw(st.integers(-x.ndim, x.ndim - 1)), data.draw(st.integers(-x.ndim, x.ndim - 1))
    return lambda t: t.swapaxes(a, b), lambda t: torch.swapaxes(t, a, b), [x]


def moveaxis(data):
    x = draw_array(data, min_dims=1)
    source = data.draw(hnp.valid_tuple_axes(x.ndim, min_size=1))
    destination = data.draw(st.permutations(range(x.ndim)))[: len(source)]
    return lambda t: t.moveaxis(source, destination), lambda t: torch.movedim(t, source, tuple(destination)), [x]


def flip(data):
    x = draw_array(data)
    axis = data.draw(tgt.axes(x.ndim))
    return lambda t: t.flip(axis), lambda t: torch.flip(t, dims(axis, x.ndim)), [x]


def repeat(data):
    x = draw_array(data, min_dims=1)
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    n = x.size if axis is None else x.shape[axis]
    repeats = data.draw(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    r = torch.tensor(repeats) if torch is not None else None
    tf = lambda t: torch.repeat_interleave(t.flatten() if axis is None else t, r, dim=0 if axis is None else axis)  # noqa: E731
    return lambda t: t.repeat(repeats, axis), tf, [x]


def tile(data):
    x = draw_array(data)
    reps = data.draw(st.one_of(st.integers(0, 3), st.lists(st.integers(1, 3), max_size=4).map(tuple)))
    return lambda t: t.tile(reps), lambda t: torch.tile(t, (reps,) if isinstance(reps, int) else reps), [x]


# ---- products -------------------------------------------------------------------------------------------------


def outer(data):
    a, b = draw_array(data), draw_array(data)
    return tg.outer, lambda s, t: torch.outer(s.flatten(), t.flatten()), [a, b]


DOT_SHAPES = [((), (2, 3)), ((3,), ()), ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)),
              ((2, 2, 3), (3, 2)), ((3,), (2, 3, 4)), ((2, 3), (2, 3, 4)), ((2, 1, 3), (2, 3, 2))]  # fmt: skip


def dot(data):
    sa, sb = data.draw(st.sampled_from(DOT_SHAPES))

    def tf(a, b):
        if a.ndim == 0 or b.ndim == 0:
            return a * b
        return torch.tensordot(a, b, dims=([-1], [b.ndim - 2 if b.ndim > 1 else 0]))

    return tg.dot, tf, [draw_array(data, shape=sa), draw_array(data, shape=sb)]


EINSUM = ["ij,jk->ik", "ij,jk", "ij,ij->i", "i,j->ij", "bij,bjk->bik", "ij,j->", "ij->j", "ij,jk->i", "ij,k->jk",
          "ni,nj->ij", "ijk,k->ji", "i,i"]  # fmt: skip


def einsum(data):
    spec = data.draw(st.sampled_from(EINSUM))
    sizes = {c: data.draw(st.integers(1, 3)) for c in sorted(set(spec) - set(",->"))}
    terms = spec.split("->")[0].split(",")
    arrays = [draw_array(data, shape=tuple(sizes[c] for c in term)) for term in terms]
    return lambda *ts: tg.einsum(spec, *ts), lambda *ts: torch.einsum(spec, *ts), arrays


CASES = {
    **{name: unary_case(name) for name in UNARY},
    "round-decimals": round_decimals,
    "clip": clip,
    "maximum": maximum,
    "minimum": minimum,
    "logaddexp": logaddexp,
    "where": where,
    "var": var_or_std("var"),
    "std": var_or_std("std"),
    "prod": prod,
    "cumsum": cumsum,
    "concatenate": concatenate,
    "stack": stack,
    "split": split,
    "flatten": flatten,
    "ravel": ravel,
    "squeeze": squeeze,
    "expand_dims": expand_dims,
    "unsqueeze": unsqueeze,
    "swapaxes": swapaxes,
    "moveaxis": moveaxis,
    "flip": flip,
    "repeat": repeat,
    "tile": tile,
    "outer": outer,
    "dot": dot,
    "einsum": einsum,
}
FD_ONLY = {"expand_dims-several": expand_dims_several}


@pytest.mark.parametrize("name", sorted(CASES) + sorted(FD_ONLY))
@given(data=st.data())
def test_first_and_second_order_against_central_differences(name, data):
    f, _, arrays = {**CASES, **FD_ONLY}[name](data)
    check(f, *arrays)


def as_list(out):
    return list(out) if isinstance(out, tuple | list) else [out]


def hessian_vector(grad_fn, pairs, inputs):
    """grad_fn(sum <g, u>, inputs) over the gradients that depend on the inputs (None where none do)."""
    live = [(g * u).sum() for g, u in pairs if g is not None and g.requires_grad]
    if not live:
        return [None] * len(inputs)
    return grad_fn(sum(live[1:], live[0]), inputs, allow_unused=True)


def zeros_for_none(values, arrays):
    """Arrays, with zeros for None (torch's lazily-zero gradients need force=True)."""
    if torch is not None:
        values = [v.detach().numpy(force=True) if isinstance(v, torch.Tensor) else v for v in values]
    values = [v.numpy() if isinstance(v, Tensor) else v for v in values]
    return [np.zeros(a.shape) if v is None else v for v, a in zip(values, arrays)]


def assert_matches_torch(f, torch_f, arrays, rng, tol=1e-10):
    """Forward, backward with a random upstream gradient, and a Hessian-vector product, to ``tol``."""
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    outs, t_outs = as_list(f(*xs)), as_list(torch_f(*ts))
    assert len(outs) == len(t_outs)
    for o, t in zip(outs, t_outs):
        assert o.shape == tuple(t.shape)
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=tol, atol=tol)
    live = [k for k, o in enumerate(outs) if o.requires_grad and o.size]
    if not live:
        return
    ups = [rng.standard_normal(outs[k].shape) for k in live]
    grads = tg.grad([outs[k] for k in live], xs, grad_outputs=ups, create_graph=True, allow_unused=True)
    t_grads = torch.autograd.grad(
        [t_outs[k] for k in live], ts, grad_outputs=[torch.tensor(u) for u in ups], create_graph=True, allow_unused=True
    )
    for g, t in zip(zeros_for_none(grads, arrays), zeros_for_none(t_grads, arrays)):
        np.testing.assert_allclose(g, t, rtol=tol, atol=tol)
    us = [rng.standard_normal(a.shape) for a in arrays]
    second = hessian_vector(tg.grad, [(g, Tensor(u)) for g, u in zip(grads, us)], xs)
    t_second = hessian_vector(torch.autograd.grad, [(g, torch.tensor(u)) for g, u in zip(t_grads, us)], ts)
    for s, t in zip(zeros_for_none(second, arrays), zeros_for_none(t_second, arrays)):
        np.testing.assert_allclose(s, t, rtol=tol, atol=tol)


@needs_torch
@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_first_and_second_order_against_pytorch(name, data):
    f, torch_f, arrays = CASES[name](data)
    assert_matches_torch(f, torch_f, arrays, np.random.default_rng(0))


# ---- the points a finite difference cannot judge, pinned to PyTorch ----------------------------------------------

KINKS = {  # name: (ours, torch's (looked up when the test runs), inputs)
    "maximum-ties": (tg.maximum, lambda a, b: torch.maximum(a, b), [[1.0, 2.0, 3.0, -1.0], [1.0, 1.0, 4.0, -1.0]]),
    "minimum-ties": (tg.minimum, lambda a, b: torch.minimum(a, b), [[1.0, 2.0, 3.0, -1.0], [1.0, 1.0, 4.0, -1.0]]),
    "maximum-broadcast-ties": (tg.maximum, lambda a, b: torch.maximum(a, b), [[[0.0], [1.0]], [0.0, 1.0, 2.0]]),
    "abs-at-zero": (lambda t: t.abs(), lambda t: t.abs(), [[-1.0, 0.0, 2.0]]),
    "clip-at-the-bounds": (lambda t: t.clip(-1.0, 1.0), lambda t: t.clamp(-1, 1), [[-2.0, -1.0, 0.0, 1.0, 2.0]]),
    "prod-one-zero": (lambda t: t.prod(), lambda t: t.prod(), [[2.0, 0.0, 3.0, -1.5]]),
    "prod-two-zeros": (lambda t: t.prod(), lambda t: t.prod(), [[2.0, 0.0, 3.0, 0.0]]),
    "std-of-a-constant": (
        lambda t: t.std(axis=1),
        lambda t: t.std(1, correction=0),
        [[[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]]],
    ),
    "sign-at-zero": (lambda t: t.sign(), lambda t: t.sign(), [[-2.0, 0.0, 3.0]]),
    "round-halves-to-even": (lambda t: t.round(), lambda t: t.round(), [[-1.5, -0.5, 0.5, 1.5, 2.5]]),
    "floor-at-integers": (lambda t: t.floor(), lambda t: t.floor(), [[-1.0, 0.0, 2.0]]),
}


@needs_torch
@pytest.mark.parametrize("name", sorted(KINKS))
def test_behaviour_at_kinks_matches_pytorch(name):
    f, torch_f, arrays = KINKS[name]
    assert_matches_torch(f, torch_f, [np.array(a) for a in arrays], np.random.default_rng(1))


def test_logaddexp_takes_log_zero():
    """log-probabilities of 0 are -inf: the other input gets the whole gradient (PyTorch's values)."""
    x, y = Tensor([-np.inf, 0.0, 2.0], requires_grad=True), Tensor([0.0, -np.inf, 2.0], requires_grad=True)
    out = tg.logaddexp(x, y)
    np.testing.assert_allclose(out.numpy(), [0.0, 0.0, 2.0 + np.log(2.0)])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.5])
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 0.0, 0.5])


def test_maximum_splits_the_gradient_equally_at_ties():
    x, y = Tensor([1.0, 2.0, 3.0], requires_grad=True), Tensor([1.0, 1.0, 4.0], requires_grad=True)
    tg.maximum(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(y.grad.numpy(), [0.5, 0.0, 1.0])


def test_clip_passes_the_gradient_at_its_bounds():
    x = Tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True)
    x.clip(-1, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0, 1.0, 0.0])


def test_piecewise_constant_ops_have_a_zero_gradient_not_none():
    x = Tensor([0.3, -1.7], requires_grad=True)
    for op in ("sign", "floor", "ceil", "round"):
        (g,) = tg.grad(getattr(x, op)().sum(), x)
        np.testing.assert_array_equal(g.numpy(), [0.0, 0.0])


@given(data=st.data())
def test_argmax_and_argmin_match_numpy_and_carry_no_gradient(data):
    x = draw_array(data, min_dims=1)
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    keep = data.draw(st.booleans())
    t = Tensor(x, requires_grad=True)
    for name in ("argmax", "argmin"):
        out = getattr(t, name)(axis=axis, keepdims=keep)
        np.testing.assert_array_equal(out.numpy(), getattr(np, name)(x, axis=axis, keepdims=keep))
        assert out.dtype == np.int64 and not out.requires_grad


@given(data=st.data())
def test_new_ops_keep_float32(data):
    """float32 in, float32 out and float32 gradients, with Python numbers as the other operand."""
    x = Tensor(draw_array(data, min_dims=1).astype(np.float32), requires_grad=True)
    outs = [x.abs(), x.clip(-1, 1), tg.maximum(x, 0.5), tg.where(x.numpy() > 0, x, 0.0), x.var(), x.prod(),
            x.cumsum(), tg.logaddexp(x, 0), tg.concatenate([x, x]), x.sin(), x.abs().log1p().exp2(), x.square(),
            tg.einsum("i,i->", x.ravel(), x.ravel()), x.tile(2), x.repeat(2), x.flip()]  # fmt: skip
    for out in outs:
        assert out.dtype == np.float32
        (g,) = tg.grad(out.sum(), x)
        assert g.dtype == np.float32


def test_where_does_not_leak_nan_from_the_branch_not_taken():
    x = Tensor([-1.0, 4.0], requires_grad=True)
    safe = x.clip(1e-12, None)
    y = tg.where(x.numpy() > 0, safe.log(), 0.0)  # log(-1) is never selected...
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.25])  # ...and its gradient is 0, not NaN


def test_split_pieces_join_back_and_share_the_gradient():
    x = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    pieces = tg.split(x, [1, 3], axis=1)
    assert [p.shape for p in pieces] == [(3, 1), (3, 2), (3, 1)]
    np.testing.assert_array_equal(tg.concatenate(pieces, axis=1).numpy(), x.numpy())
    (pieces[0] * 1 + pieces[2] * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0], [1.0, 0.0, 0.0, 3.0])


def test_einsum_matches_matmul_in_the_models_form():
    rng = np.random.default_rng(0)
    X, W = rng.standard_normal((5, 3)), rng.standard_normal((3, 2))
    np.testing.assert_allclose(tg.einsum("ni,ij->nj", X, Tensor(W)).numpy(), X @ W, rtol=1e-14)
