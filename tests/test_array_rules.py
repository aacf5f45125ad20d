"""Every op's optional array rule (``backward_arrays``, run in first-order passes) equals
its definition (``backward`` on Tensors, run when the pass is recorded)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lr as tg
from tinygrad_lr import Tensor, autograd, functional, ops


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


RNG = np.random.default_rng(0)


def leaf(*shape):
    return Tensor(RNG.standard_normal(shape), requires_grad=True)


def const(*shape):
    return Tensor(RNG.standard_normal(shape))


# Each case builds the op's output from fresh inputs; None marks an input that needs no gradient.
CASES = {
    "mul": lambda: [ops.Mul.apply(leaf(3, 4), leaf(4))],
    "mul, one input constant": lambda: [ops.Mul.apply(const(3, 4), leaf(3, 4))],
    "mul 0-d": lambda: [ops.Mul.apply(leaf(), leaf())],
    "tanh": lambda: [ops.Tanh.apply(leaf(5, 2))],
    "tanh 0-d": lambda: [ops.Tanh.apply(leaf())],
    "matmul 2-D @ 2-D": lambda: [ops.MatMul.apply(leaf(5, 3), leaf(3, 2))],
    "matmul 2-D @ 1-D": lambda: [ops.MatMul.apply(leaf(5, 3), leaf(3))],
    "matmul 1-D @ 2-D": lambda: [ops.MatMul.apply(leaf(3), leaf(3, 2))],
    "matmul 1-D @ 1-D": lambda: [ops.MatMul.apply(leaf(3), leaf(3))],
    "matmul 3-D @ 2-D": lambda: [ops.MatMul.apply(leaf(2, 5, 3), leaf(3, 4))],
    "matmul constant @ 2-D": lambda: [ops.MatMul.apply(const(5, 3), leaf(3, 2))],
    "bce with logits": lambda: [functional.BinaryCrossEntropyWithLogits.apply(leaf(6), Tensor(RNG.random(6)))],
    "bce with logits, targets too": lambda: [functional.BinaryCrossEntropyWithLogits.apply(leaf(6), leaf(6))],
    "cross entropy, few classes": lambda: [functional.CrossEntropy.apply(leaf(7, 3), labels=RNG.integers(0, 3, 7))],
    "cross entropy, many classes": lambda: [functional.CrossEntropy.apply(leaf(2, 9), labels=np.array([8, 0]))],
}


def _leaves(out):
    seen, stack, leaves = set(), [out], []
    while stack:
        t = stack.pop()
        if t._ctx is None:
            if t.requires_grad and t not in seen:
                seen.add(t)
                leaves.append(t)
            continue
        stack.extend(t._ctx.parents)
    return leaves


def _both_ways(out):
    """Leaf gradients by the array rules (first order) and by the Tensor rules (create_graph)."""
    leaves = _leaves(out)
    seed = Tensor(RNG.standard_normal(out.shape))
    by_arrays = tg.grad(out, leaves, grad_outputs=seed, retain_graph=True)
    by_tensors = tg.grad(out, leaves, grad_outputs=seed, create_graph=True)
    return by_arrays, by_tensors


@pytest.mark.parametrize("case", CASES)
def test_array_rule_equals_its_definition(case):
    (out,) = CASES[case]()
    by_arrays, by_tensors = _both_ways(out)
    for a, t in zip(by_arrays, by_tensors):
        assert a.shape == t.shape and a.dtype == t.dtype
        np.testing.assert_allclose(a.data, t.data, rtol=1e-12, atol=1e-15)


def test_every_array_rule_has_a_case():
    with_rules = {cls.__name__ for cls in _subclasses(autograd.Function) if cls.backward_arrays is not None}
    covered = {type(CASES[case]()[0]._ctx).__name__ for case in CASES}
    assert with_rules <= covered, f"array rules without a test case: {sorted(with_rules - covered)}"


@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(1, 6),
    st.sampled_from([np.float32, np.float64]),
)
def test_matmul_rules_agree_on_drawn_shapes(n, k, m, dtype):
    a = Tensor(RNG.standard_normal((n, k)).astype(dtype), requires_grad=True)
    b = Tensor(RNG.standard_normal((k, m)).astype(dtype), requires_grad=True)
    by_arrays, by_tensors = _both_ways((a @ b).tanh() * b.sum())
    for x, y in zip(by_arrays, by_tensors):
        assert x.dtype == y.dtype == dtype
        np.testing.assert_allclose(x.data, y.data, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


def test_unbroadcast_array_equals_unbroadcast():
    g = Tensor(RNG.standard_normal((4, 3, 2)))
    for shape in [(4, 3, 2), (3, 2), (1, 2), (3, 1), (4, 1, 1), ()]:
        with tg.no_grad():
            expected = autograd.unbroadcast(g, shape).data
        np.testing.assert_allclose(autograd.unbroadcast_array(g.data, shape), expected, rtol=1e-12)
