"""The engine on small cases worked out by hand: values, first and second derivatives."""

import sys

import numpy as np
import pytest

import tinygrad_lr as tg
from tinygrad_lr import Tensor


def leaf(values, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def test_reused_non_leaf_accumulates():
    a = leaf(3.0)
    b = a + a
    c = b + b
    c.backward()
    assert c.item() == 12.0
    assert a.grad.item() == 4.0


def test_repeated_use_in_products():
    x = leaf(2.0)
    y = x * x * x  # x³: dy/dx = 3x² = 12
    y.backward()
    assert x.grad.item() == 12.0


def test_broadcast_column_with_row():
    a = leaf([[1.0], [2.0], [3.0]])  # (3, 1)
    b = leaf([1.0, 2.0, 3.0, 4.0])  # (4,)
    out = a * b
    assert out.shape == (3, 4)
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [[10.0], [10.0], [10.0]])  # sum of b
    np.testing.assert_array_equal(b.grad.numpy(), [6.0, 6.0, 6.0, 6.0])  # sum of a
    assert a.grad.shape == a.shape and b.grad.shape == b.shape


def test_broadcast_scalar_with_matrix():
    s = leaf(2.0)
    m = leaf(np.arange(6.0).reshape(2, 3))
    (s * m + s).sum().backward()
    assert s.grad.shape == ()
    assert s.grad.item() == 15.0 + 6.0  # sum(m) + one per element
    np.testing.assert_array_equal(m.grad.numpy(), np.full((2, 3), 2.0))


def test_python_scalars_and_arrays_on_either_side():
    x = leaf([1.0, 2.0])
    arr = np.array([3.0, 4.0])
    out = 1 + x
    out = arr * out - 2 / x + x**2 + 2**x + arr - x
    out.sum().backward()
    xv = np.array([1.0, 2.0])
    expected = arr + 2 / xv**2 + 2 * xv + np.log(2) * 2**xv - 1
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    assert isinstance(arr + x, Tensor) and isinstance(arr @ leaf([[1.0], [1.0]]), Tensor)


def test_unary_ops_values_and_grads():
    v = np.array([-1.5, 0.3, 2.0])
    for op, f, df in [
        ("exp", np.exp, np.exp),
        ("tanh", np.tanh, lambda z: 1 - np.tanh(z) ** 2),
        ("sigmoid", lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
        ("relu", lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
    ]:
        x = leaf(v)
        y = getattr(x, op)()
        np.testing.assert_allclose(y.numpy(), f(v), rtol=1e-12)
        y.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), df(v), rtol=1e-12, err_msg=op)
    x = leaf([0.5, 2.0])
    x.log().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.5])


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        x = leaf([-1e4, -800.0, 0.0, 800.0, 1e4])
        y = x.sigmoid()
        y.sum().backward()
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.0, 0.5, 1.0, 1.0])
    assert np.all(np.isfinite(x.grad.numpy()))


def test_reductions_with_axis_and_keepdims():
    v = np.arange(24.0).reshape(2, 3, 4)
    x = leaf(v)
    s = x.sum(axis=(0, 2), keepdims=True)
    assert s.shape == (1, 3, 1)
    np.testing.assert_array_equal(s.numpy(), v.sum(axis=(0, 2), keepdims=True))
    m = x.mean(axis=-1)
    np.testing.assert_array_equal(m.numpy(), v.mean(axis=-1))
    (s.sum() + m.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(v.shape, 1 + 1 / 4))


def test_max_routes_gradient_and_splits_ties():
    x = leaf([[1.0, 5.0, 5.0], [7.0, 2.0, 0.0]])
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0.5], [1, 0, 0]])
    y = leaf([[1.0, 3.0], [2.0, 0.0]])
    out = y.max(axis=0, keepdims=True)
    assert out.shape == (1, 2)
    np.testing.assert_array_equal(y.min().numpy(), 0.0)


@pytest.mark.parametrize(
    "sa, sb",
    [
        ((3,), (3,)),
        ((3,), (3, 2)),
        ((4, 3), (3,)),
        ((4, 3), (3, 2)),
        ((2, 4, 3), (3, 5)),
        ((2, 4, 3), (2, 3, 5)),
        ((3,), (2, 3, 5)),
    ],
)
def test_matmul_all_ranks(sa, sb, rng):
    a_v, b_v = rng.standard_normal(sa), rng.standard_normal(sb)
    a, b = leaf(a_v), leaf(b_v)
    out = a @ b
    np.testing.assert_allclose(out.numpy(), a_v @ b_v, rtol=1e-12)
    g = rng.standard_normal(out.shape)
    (out * g).sum().backward()
    # d/da sum(g * (a@b)) computed by NumPy broadcasting rules, summed back to a's shape
    a2 = a_v if a_v.ndim > 1 else a_v[None, :]
    b2 = b_v if b_v.ndim > 1 else b_v[:, None]
    g2 = g.reshape(np.matmul(a2, b2).shape)
    ga = g2 @ np.swapaxes(b2, -1, -2)
    gb = np.swapaxes(a2, -1, -2) @ g2
    ga = ga.reshape(-1, *a_v.shape).sum(axis=0) if ga.size != a_v.size else ga.reshape(a_v.shape)
    gb = gb.reshape(-1, *b_v.shape).sum(axis=0) if gb.size != b_v.size else gb.reshape(b_v.shape)
    np.testing.assert_allclose(a.grad.numpy(), ga, rtol=1e-10)
    np.testing.assert_allclose(b.grad.numpy(), gb, rtol=1e-10)


def test_reshape_transpose_and_T():
    v = np.arange(6.0).reshape(2, 3)
    x = leaf(v)
    assert x.T.shape == (3, 2) and x.reshape(3, 2).shape == (3, 2) and x.reshape((6,)).shape == (6,)
    w = np.arange(6.0).reshape(3, 2)
    (x.T * w).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), w.T)
    y = leaf(np.arange(24.0).reshape(2, 3, 4))
    t = y.transpose(2, 0, 1)
    assert t.shape == (4, 2, 3)
    (t * np.arange(24.0).reshape(4, 2, 3)).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), np.arange(24.0).reshape(4, 2, 3).transpose(1, 2, 0))


def test_indexing_basic_and_integer_arrays_accumulate_repeats():
    x = leaf([10.0, 20.0, 30.0, 40.0])
    x[np.array([0, 0, 3, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 0.0, 1.0])
    m = leaf(np.arange(12.0).reshape(3, 4))
    picked = m[np.array([0, 2, 2]), np.array([1, 3, 3])]
    np.testing.assert_array_equal(picked.numpy(), [1.0, 11.0, 11.0])
    (m[1:, ::2].sum() + picked.sum()).backward()
    expected = np.zeros((3, 4))
    expected[1:, ::2] += 1
    expected[0, 1] += 1
    expected[2, 3] += 2
    np.testing.assert_array_equal(m.grad.numpy(), expected)
    assert m[1].shape == (4,) and m[..., 0].shape == (3,) and m[None].shape == (1, 3, 4)
    mask = Tensor([1.0, -1.0, 2.0]) > 0  # a boolean tensor from a comparison
    assert m[mask].shape == (2, 4)


def test_comparisons_are_boolean_and_outside_the_graph():
    x = leaf([1.0, 2.0, 3.0])
    for c in (x > 2, x >= 2, x < 2, x <= 2, x == 2, x != 2):
        assert c.dtype == np.bool_ and not c.requires_grad
    np.testing.assert_array_equal((x > 1.5).numpy(), [False, True, True])


def test_second_derivatives():
    x = leaf(0.7)
    y = x.tanh() * x.exp()
    (g,) = tg.grad(y, x, create_graph=True)
    (h,) = tg.grad(g, x)
    v = 0.7
    t, e = np.tanh(v), np.exp(v)
    d1 = (1 - t**2) * e + t * e
    d2 = -2 * t * (1 - t**2) * e + 2 * (1 - t**2) * e + t * e
    np.testing.assert_allclose(g.item(), d1, rtol=1e-12)
    np.testing.assert_allclose(h.item(), d2, rtol=1e-12)


def test_hessian_vector_product_of_a_quadratic():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    x = leaf([0.5, -1.0])
    f = 0.5 * (x @ (Tensor(a) @ x))
    (g,) = tg.grad(f, x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), a @ x.numpy())
    v = np.array([1.0, 2.0])
    (hv,) = tg.grad((g * v).sum(), x)
    np.testing.assert_allclose(hv.numpy(), a @ v)


def test_backward_with_create_graph_gives_differentiable_leaf_grads():
    x = leaf(2.0)
    (x**3).backward(create_graph=True)
    assert x.grad.requires_grad
    g = x.grad
    x.zero_grad()
    g.backward()
    assert x.grad.item() == 12.0  # d(3x²)/dx = 6x


def test_deep_chain_has_no_recursion_limit():
    x = leaf(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad.item() == 1.0


def test_backward_work_is_linear_in_depth():
    """Counts the Python and C function calls backward makes (deterministic, unlike a wall-clock ratio)."""

    def calls(depth):
        x = leaf(1.0)
        y = x
        for _ in range(depth):
            y = y * 1.0
        count = 0

        def profile(frame, event, arg):
            nonlocal count
            count += event in ("call", "c_call")

        sys.setprofile(profile)
        try:
            y.backward()
        finally:
            sys.setprofile(None)
        return count

    # The calls per extra node, measured at depth ~1 500 and at ~12 000: constant for a linear
    # walk; a walk that rescans what it has seen (quadratic) would grow ~8x between the two.
    shallow = (calls(2_000) - calls(1_000)) / 1_000
    deep = (calls(16_000) - calls(8_000)) / 8_000
    assert shallow >= 1  # the count sees the per-node work
    assert deep <= 1.01 * shallow


def test_no_grad_context_and_decorator():
    x = leaf(1.0)
    with tg.no_grad():
        y = x * 2
    assert not y.requires_grad and y._ctx is None

    @tg.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad
    assert (x * 2).requires_grad and tg.is_grad_enabled()
    with tg.no_grad(), tg.enable_grad():
        assert (x * 2).requires_grad


def test_grad_does_not_touch_leaf_grads_and_reaches_non_leaves():
    x = leaf([1.0, 2.0])
    h = x * 3
    y = (h * h).sum()
    gx, gh = tg.grad(y, [x, h])
    np.testing.assert_array_equal(gh.numpy(), 2 * h.numpy())
    np.testing.assert_array_equal(gx.numpy(), 18 * x.numpy())
    assert x.grad is None


def test_grad_errors():
    x = leaf(1.0)
    unused = leaf(2.0)
    y = x * 2
    with pytest.raises(ValueError, match="not used"):
        tg.grad(y, [x, unused], retain_graph=True)
    assert tg.grad(y, [x, unused], allow_unused=True)[1] is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.grad(y, [Tensor(1.0)])


def test_gradient_accumulates_across_backward_calls_and_zero_grad_resets():
    x = leaf(1.0)
    (x * 2).backward()
    (x * 3).backward()
    assert x.grad.item() == 5.0
    x.zero_grad()
    assert x.grad is None


def test_backward_on_non_scalar_needs_a_gradient():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(ValueError, match=r"not a scalar.*\(2,\)|\(2,\).*not a scalar"):
        y.backward()
    y.backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 20.0])
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_twice_through_freed_graph_is_a_clear_error():
    x = leaf(1.0)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(tg.GraphFreedError, match="mul.*retain_graph"):
        y.backward()
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    assert x.grad.item() == 2.0 + 2.0 + 2.0


def test_backward_on_tensor_without_grad_is_a_clear_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


def test_error_messages_name_op_and_shapes():
    with pytest.raises(ValueError) as e:
        Tensor(np.ones((5, 3))) @ Tensor(np.ones((4, 2)))
    assert "matmul" in str(e.value) and "(5, 3)" in str(e.value) and "(4, 2)" in str(e.value)
    for op in ("add", "sub", "mul", "div"):
        a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4,)))
        with pytest.raises(ValueError, match=rf"{op}.*\(2, 3\).*\(4,\)"):
            {"add": a.__add__, "sub": a.__sub__, "mul": a.__mul__, "div": a.__truediv__}[op](b)
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\)"):
        Tensor(np.ones((2, 3))).reshape(4)
    with pytest.raises(ValueError, match="sum: axis 2 is out of range"):
        Tensor(np.ones((2, 3))).sum(axis=2)
    with pytest.raises(IndexError, match="getitem"):
        Tensor(np.ones(3))[5]


def test_item_on_non_scalar_is_a_clear_error():
    assert Tensor([[4.0]]).item() == 4.0
    with pytest.raises(ValueError, match=r"item\(\).*\(3, 2\).*6 elements"):
        Tensor(np.ones((3, 2))).item()


def test_factories_and_dtypes():
    assert Tensor([1, 2, 3]).dtype == np.float64
    assert Tensor(np.ones(2, dtype=np.float32)).dtype == np.float32
    assert Tensor(3).shape == () and Tensor(3).dtype == np.float64
    assert Tensor.zeros(2, 3).shape == (2, 3) and Tensor.ones((2,)).numpy().sum() == 2
    a = Tensor.randn(3, 2, seed=0, requires_grad=True, name="w")
    b = Tensor.randn(3, 2, seed=0)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.name == "w" and a.requires_grad and "name='w'" in repr(a)
    assert Tensor.randn(2, seed=1, dtype=np.float32).dtype == np.float32
    with pytest.raises(TypeError, match="complex"):
        Tensor(np.array([1 + 2j]))
    with pytest.raises(TypeError, match="<U"):
        Tensor(["a", "b"])
    with pytest.raises(TypeError, match="float16"):
        Tensor(np.ones(2, dtype=np.float16))


def test_float32_stays_float32_through_ops_and_gradients():
    x = Tensor(np.ones((4, 3), dtype=np.float32), requires_grad=True)
    w = Tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    y = ((x @ w) * 2 + 1).tanh().sigmoid().exp().mean()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_gradient_is_cast_to_the_input_dtype_under_mixed_precision():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    (x * np.ones(3, dtype=np.float64)).sum().backward()
    assert x.grad.dtype == np.float32


def test_detach_and_leaf_copy_semantics():
    arr = np.array([1.0, 2.0])
    p = Tensor(arr, requires_grad=True)
    p.data -= 1.0  # an optimizer step in place
    np.testing.assert_array_equal(arr, [1.0, 2.0])  # the caller's array is untouched
    d = (p * 2).detach()
    assert not d.requires_grad and d.is_leaf


def test_inputs_and_seed_gradient_are_never_mutated(rng):
    a_v, b_v = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    a_copy, b_copy = a_v.copy(), b_v.copy()
    a, b = Tensor(a_v, requires_grad=True), Tensor(b_v)
    seed = rng.standard_normal((3,))
    seed_copy = seed.copy()
    out = ((a * b + b).exp() @ b).tanh()
    out.backward(seed)
    out2 = (a[np.array([0, 0])] + 1).sum()
    out2.backward()
    np.testing.assert_array_equal(b_v, b_copy)
    np.testing.assert_array_equal(seed, seed_copy)
    np.testing.assert_array_equal(a.numpy(), a_copy)
    a.grad.data[...] = 0  # writing to a grad buffer must not leak anywhere else
    np.testing.assert_array_equal(seed, seed_copy)


def test_graph_holds_no_reference_cycles():
    import gc
    import weakref

    x = leaf(np.ones(3))
    y = (x * 2).exp().sum()
    ref = weakref.ref(y._ctx)
    gc.disable()
    try:
        del y
        assert ref() is None  # freed by reference counting alone
    finally:
        gc.enable()


def test_leaf_grads_never_share_a_buffer_with_each_other_or_the_seed():
    w, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (w + b).sum().backward()  # add passes one gradient buffer to both inputs
    assert not np.shares_memory(w.grad.numpy(), b.grad.numpy())
    seed = np.array([1.0, 1.0])
    x = leaf([5.0, 6.0])
    (x + 0.0).backward(seed)  # the seed itself reaches x
    assert not np.shares_memory(x.grad.numpy(), seed)
    m = leaf(np.ones((2, 2)))
    m.reshape(4).sum().backward()  # a reshaped (view) gradient
    assert m.grad.numpy().base is None and m.grad.numpy().flags.writeable


@pytest.mark.parametrize("sa, sb", [((5, 3), (3,)), ((5, 3), (3, 2)), ((2, 5, 3), (3, 2))])
def test_first_order_fast_paths_agree_with_the_recorded_rules(sa, sb, rng):
    """Where nothing is recorded some rules run straight in NumPy; create_graph runs the Tensor-op rule."""
    import tinygrad_lr.functional as F

    a, b = leaf(rng.standard_normal(sa)), leaf(rng.standard_normal(sb))
    labels = rng.integers(0, 2, 5)

    def loss():
        z = (a @ b).reshape(5, -1) if len(sa) == 2 else (a @ b).sum(axis=0)
        if z.shape[-1] == 1 or z.ndim == 1:
            return F.binary_cross_entropy_with_logits(z.reshape(5), labels * 1.0)
        return F.cross_entropy(z, labels) + (z * z).mean()

    fast = tg.grad(loss(), [a, b])
    recorded = tg.grad(loss(), [a, b], create_graph=True)
    for f, r in zip(fast, recorded):
        assert r.requires_grad and not f.requires_grad
        np.testing.assert_allclose(f.numpy(), r.numpy(), rtol=1e-13, atol=1e-15)


def test_first_order_fast_paths_give_arrays_for_0d_inputs():
    """NumPy turns 0-d results into scalars; every gradient must still be an ndarray."""
    import tinygrad_lr.functional as F

    for loss in (lambda z: z.tanh(), lambda z: F.binary_cross_entropy_with_logits(z, 1.0)):
        z = leaf(0.3)
        loss(z).backward()
        assert type(z.grad.numpy()) is np.ndarray and z.grad.shape == ()


@pytest.mark.parametrize("n, c", [(6, 3), (3, 6), (4, 4)])
def test_fast_cross_entropy_and_tanh_agree_with_the_recorded_rules(n, c, rng):
    """Cross-entropy works classes-major when c < n and samples-major otherwise; both match."""
    import tinygrad_lr.functional as F

    z = leaf(rng.standard_normal((n, c)))
    labels = rng.integers(0, c, n)

    def loss():
        return F.cross_entropy(z.tanh() * 3.0, labels)

    fast = tg.grad(loss(), z)[0]
    recorded = tg.grad(loss(), z, create_graph=True)[0]
    assert recorded.requires_grad and not fast.requires_grad
    np.testing.assert_allclose(fast.numpy(), recorded.numpy(), rtol=1e-13, atol=1e-15)


def test_grad_of_a_tensor_with_respect_to_itself_is_a_fresh_writable_array():
    """The seed of a scalar output is a shared read-only ones array; tg.grad must not hand it out."""
    x = leaf(2.0)
    (g,) = tg.grad(x * 1.0, x)
    (same,) = tg.grad(x, x)
    assert same.numpy().flags.writeable and same.item() == 1.0 and g.item() == 1.0
    same.numpy()[...] = 5.0  # the caller's to change
    (again,) = tg.grad(x, x)
    assert again.item() == 1.0
    mine = np.array(3.0)
    (passed,) = tg.grad(x, x, grad_outputs=mine)
    assert not np.shares_memory(passed.numpy(), mine)
    (viewed,) = tg.grad(x.reshape(1), x)  # the seed of shape (1,) comes back as a 0-d view of it
    assert viewed.numpy().flags.writeable and viewed.item() == 1.0


def test_create_graph_leaf_grads_do_not_share_the_seed():
    """Add passes its gradient to both inputs; with create_graph the seed itself reached both leaves."""
    x, y = leaf(2.0), leaf(3.0)
    (x + y).backward(create_graph=True)
    assert x.grad.numpy().flags.writeable and not np.shares_memory(x.grad.numpy(), y.grad.numpy())
    w = leaf([1.0, 2.0])
    (w * w).sum().backward(create_graph=True)
    assert w.grad.requires_grad  # a graph tensor stays itself, differentiable
    (h,) = tg.grad(w.grad.sum(), w)
    np.testing.assert_allclose(h.numpy(), [2.0, 2.0])
