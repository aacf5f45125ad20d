"""The engine keeps PyTorch's contract where users expect it: in-place updates, version
counters, per-thread grad mode, detach under second order, the dtype rule, NumPy protocols."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lr as tg
from tinygrad_lr import Tensor, models, optim
from tinygrad_lr import testing as tgt
from tinygrad_lr.gradcheck import check_model, gradcheck

# ---- 1. in-place updates --------------------------------------------------------------------


@pytest.mark.parametrize(
    "update, expected",
    [
        (lambda w: w.__isub__(0.5), [0.5, 1.5]),
        (lambda w: w.__iadd__(Tensor([1.0, 1.0])), [2.0, 3.0]),
        (lambda w: w.__imul__(3), [3.0, 6.0]),
        (lambda w: w.__itruediv__(np.array([2.0, 4.0])), [0.5, 0.5]),
    ],
)
def test_in_place_update_under_no_grad_keeps_the_same_leaf_and_buffer(update, expected):
    w = Tensor([1.0, 2.0], requires_grad=True, name="w")
    buffer = w.data
    with tg.no_grad():
        result = update(w)
    assert result is w and w.data is buffer
    assert w.is_leaf and w.requires_grad and w._version == 1
    np.testing.assert_array_equal(w.data, expected)


def test_sgd_by_hand_the_pytorch_way():
    w = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for _ in range(2):
        loss = (w * w).sum()
        loss.backward()
        with tg.no_grad():
            w -= 0.25 * w.grad
        w.zero_grad()
    np.testing.assert_allclose(w.data, [0.25, 0.5, 0.75])  # each step halves w
    assert w.is_leaf and w.requires_grad


def test_setitem_under_no_grad_writes_in_place():
    w = Tensor(np.zeros(4), requires_grad=True)
    with tg.no_grad():
        w[1:3] = 5.0
        w[np.array([0])] = Tensor([1.0])
    np.testing.assert_array_equal(w.data, [1.0, 5.0, 5.0, 0.0])
    assert w._version == 2 and w.is_leaf


def test_in_place_on_a_leaf_that_requires_grad_outside_no_grad_names_the_fix():
    w = Tensor([1.0, 2.0], requires_grad=True, name="w")
    with pytest.raises(RuntimeError, match=r"leaf tensor 'w' that requires grad.*no_grad"):
        w -= 1.0
    with pytest.raises(RuntimeError, match="no_grad"):
        w[0] = 3.0
    np.testing.assert_array_equal(w.data, [1.0, 2.0])  # nothing written


def test_in_place_on_a_recorded_tensor_records_a_new_node_with_correct_gradients():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h *= x  # h = 2x², recorded
    h += 1
    h.sum().backward()
    np.testing.assert_allclose(x.grad.data, 4 * x.data)


def test_in_place_with_a_tensor_that_requires_grad_records_it():
    x = Tensor([1.0, 2.0], requires_grad=True)
    total = Tensor(0.0)
    total += (x * x).sum()
    total.backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0])


def test_setitem_on_a_recorded_tensor_raises():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    with pytest.raises(RuntimeError, match="setitem: cannot assign into a tensor that is part of a recorded graph"):
        h[0] = 0.0
    c = Tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="recorded graph"):
        c[0] = x[0]


def test_in_place_on_constants_stays_in_place_and_keeps_the_dtype():
    t = Tensor(np.ones(3, dtype=np.float32))
    buffer = t.data
    t += 2.5
    t *= np.array([1.0, 2.0, 3.0])  # a float64 array: cast to the tensor's dtype, as NumPy's same_kind rule
    assert t.data is buffer and t.dtype == np.float32
    np.testing.assert_allclose(t.data, [3.5, 7.0, 10.5])


IN_PLACE = {"+=": np.add, "-=": np.subtract, "*=": np.multiply, "/=": np.divide}


@given(st.data(), st.sampled_from(sorted(IN_PLACE)), st.booleans())
def test_in_place_updates_match_numpys(data, symbol, as_tensor):
    target_shape, value_shape = data.draw(tgt.broadcastable_shapes(2))
    target = np.broadcast_to(data.draw(tgt.arrays(target_shape)), np.broadcast_shapes(target_shape, value_shape))
    value = tgt.away_from_zero(data.draw(tgt.arrays(value_shape)))
    expected = IN_PLACE[symbol](target, value)
    t = Tensor(target.copy(), requires_grad=True)
    buffer = t.data
    with tg.no_grad():
        operand = Tensor(value) if as_tensor else value
        t = {"+=": t.__iadd__, "-=": t.__isub__, "*=": t.__imul__, "/=": t.__itruediv__}[symbol](operand)
    assert t.data is buffer and t._version == 1
    np.testing.assert_array_equal(t.data, expected)


def test_in_place_errors_name_the_operation_and_shapes():
    t = Tensor(np.zeros(3))
    with pytest.raises(ValueError, match=r"\+=: cannot update a tensor of shape \(3,\)"):
        t += np.ones((2, 3))
    with pytest.raises(IndexError, match=r"setitem: .*shape \(3,\)"):
        t[5] = 1.0


# ---- 2. version counters ---------------------------------------------------------------------


def test_backward_after_an_optimizer_step_raises_instead_of_using_the_new_values():
    w = Tensor([1.0, 2.0, 3.0], requires_grad=True, name="w")
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    np.testing.assert_array_equal(w.grad.data, [2.0, 4.0, 6.0])
    optim.SGD([w], lr=0.1).step()
    with pytest.raises(tg.ModifiedInPlaceError, match=r"mul: input 0 'w' of shape \(3,\) was modified by an in-place"):
        loss.backward()


def test_gradient_accumulation_over_two_batches_with_a_step_between_raises():
    model = models.SoftmaxRegression(3, 2)
    rng = np.random.default_rng(0)
    X1, X2 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    y = np.array([0, 1, 0, 1])
    opt = optim.SGD(model.parameters(), lr=0.1)
    first, second = model.loss(X1, y), model.loss(X2, y)
    first.backward()
    opt.step()
    with pytest.raises(tg.ModifiedInPlaceError, match="matmul: input 1 'W'"):
        second.backward()


def test_the_ordinary_loop_never_trips_the_check():
    model = models.SoftmaxRegression(3, 2)
    X, y = np.random.default_rng(1).standard_normal((6, 3)), np.array([0, 1] * 3)
    opt = optim.Adam(model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        model.loss(X, y).backward()
        opt.step()
    assert model.W._version == 3


def test_an_output_saved_for_backward_and_changed_under_no_grad_is_detected():
    x = Tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()
    with tg.no_grad():
        y += 1
    with pytest.raises(tg.ModifiedInPlaceError, match="exp: its output"):
        y.sum().backward()


def test_changes_through_a_view_or_a_detached_copy_are_seen():
    for make_alias in (lambda w: w.reshape(2, 2), lambda w: w.detach(), lambda w: w[1:]):
        w = Tensor(np.arange(1.0, 5.0), requires_grad=True)
        loss = (w * w).sum()
        with tg.no_grad():
            alias = make_alias(w)
            alias += 1
        with pytest.raises(tg.ModifiedInPlaceError):
            loss.backward()


def test_an_index_array_changed_after_indexing_does_not_change_the_gradient():
    u = Tensor(np.arange(4.0), requires_grad=True)
    idx = np.array([0, 1])
    v = u[idx]
    idx[0] = 3
    (v * v).sum().backward()
    np.testing.assert_array_equal(u.grad.data, [0.0, 2.0, 0.0, 0.0])


def test_writes_through_data_are_not_tracked_as_in_pytorch():
    w = Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * 3).sum()
    w.data[0] = 10.0  # documented: bypasses the version counter
    loss.backward()
    assert w._version == 0
    np.testing.assert_array_equal(w.grad.data, [3.0, 3.0])


# ---- 3. grad mode per thread --------------------------------------------------------------------


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    inside, release = threading.Event(), threading.Event()

    def idle_without_grad():
        with tg.no_grad():
            inside.set()
            release.wait(5)

    other = threading.Thread(target=idle_without_grad)
    other.start()
    try:
        assert inside.wait(5)
        x = Tensor([1.0], requires_grad=True)
        assert tg.is_grad_enabled() and (x * 2).requires_grad
    finally:
        release.set()
        other.join()


def test_two_threads_fitting_at_once_match_the_sequential_fits():
    from tinygrad_lr.train import fit

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((120, 4)), rng.integers(0, 3, 120)

    def train(seed):
        model = models.SoftmaxRegression(4, 3, seed=seed)
        fit(
            model,
            X,
            y,
            optimizer=optim.SGD(model.parameters(), lr=0.1),
            epochs=3,
            batch_size=16,
            seed=seed,
            progress=False,
        )
        return model.W.data.copy()

    sequential = [train(s) for s in (0, 1)]
    results: dict[int, np.ndarray] = {}
    threads = [threading.Thread(target=lambda s=s: results.__setitem__(s, train(s))) for s in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in (0, 1):
        np.testing.assert_array_equal(results[s], sequential[s])


@pytest.mark.filterwarnings("ignore:.*did not converge")  # five epochs are enough to compare the two runs
def test_cross_val_score_on_joblib_threads_equals_the_sequential_one():
    from joblib import parallel_backend
    from sklearn.model_selection import cross_val_score

    from tinygrad_lr.estimators import SoftmaxRegressionClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((160, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    est = SoftmaxRegressionClassifier(solver="adam", max_iter=5, batch_size=16, random_state=0)
    sequential = cross_val_score(est, X, y, cv=8)
    with parallel_backend("threading", n_jobs=4):
        threaded = cross_val_score(est, X, y, cv=8, n_jobs=4)
    assert not np.isnan(threaded).any()
    np.testing.assert_array_equal(threaded, sequential)


def test_no_grad_on_a_generator_function_covers_its_body_only():
    @tg.no_grad()
    def gen():
        for _ in range(2):
            yield tg.is_grad_enabled()

    it = gen()
    assert next(it) is False
    assert tg.is_grad_enabled()  # suspended: the caller records again
    assert next(it) is False
    with pytest.raises(StopIteration):
        next(it)


def test_enable_grad_decorator_and_set_grad_enabled():
    @tg.enable_grad()
    def record():
        return tg.is_grad_enabled()

    with tg.no_grad():
        assert record() is True
    with tg.set_grad_enabled(False):
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()


# ---- 4. detach cuts every order ----------------------------------------------------------------


def test_detach_cuts_second_derivatives():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (g,) = tg.grad((x.detach() * x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.data, x.data)
    assert not g.requires_grad  # d/dx of a constant: the Hessian is 0


def test_a_constant_made_from_the_same_array_is_a_constant():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (g,) = tg.grad((Tensor(x.numpy()) * x * x).sum(), x, create_graph=True)
    (h,) = tg.grad(g.sum(), x)  # the Hessian's diagonal: 2c = 2x, not 3x
    np.testing.assert_allclose(h.data, 2 * x.data)


# ---- 5. tg.grad walks only what it needs --------------------------------------------------------


def test_grad_of_an_intermediate_leaves_the_rest_of_the_graph_intact():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    loss = (h * h).sum()
    (gh,) = tg.grad(loss, h)
    np.testing.assert_allclose(gh.data, 2 * h.data)
    h.backward(np.ones(2))
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


PASS_THROUGH = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "sum": lambda x, y: (x.sum() - y.sum()) * Tensor(np.ones(3)),
    "reshape": lambda x, y: x.reshape(3, 1).reshape(3) - y,
    "transpose": lambda x, y: x.reshape(1, 3).T.reshape(3) + 2 * y,
    "bias add": lambda x, y: (Tensor(np.ones((2, 3))) * x + y).sum(axis=0),
}


@pytest.mark.parametrize("name", PASS_THROUGH)
def test_forward_mode_by_double_backward_loses_no_path(name):
    f = PASS_THROUGH[name]
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal(3), requires_grad=True)
    y = Tensor(rng.standard_normal(3), requires_grad=True)
    vx, vy = rng.standard_normal(3), rng.standard_normal(3)
    out = f(x, y)
    u = Tensor(np.zeros(out.shape), requires_grad=True)
    gx, gy = tg.grad(out, [x, y], grad_outputs=u, create_graph=True)
    (jv,) = tg.grad([gx, gy], u, grad_outputs=[Tensor(vx), Tensor(vy)])
    eps = 1e-6
    plus = f(Tensor(x.data + eps * vx), Tensor(y.data + eps * vy)).data
    minus = f(Tensor(x.data - eps * vx), Tensor(y.data - eps * vy)).data
    np.testing.assert_allclose(jv.data, (plus - minus) / (2 * eps), atol=1e-7)


def test_forward_mode_of_a_difference_is_the_difference_of_the_tangents():
    x, y = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 5.0], requires_grad=True)
    u = Tensor(np.zeros(2), requires_grad=True)
    gx, gy = tg.grad(x - y, [x, y], grad_outputs=u, create_graph=True)
    (jv,) = tg.grad([gx, gy], u, grad_outputs=[Tensor([1.0, 1.0]), Tensor([0.5, 2.0])])
    np.testing.assert_array_equal(jv.data, [0.5, -1.0])


# ---- 7. x ** p at 0 -----------------------------------------------------------------------------


def test_power_gradients_at_zero_are_masked_as_in_pytorch():
    x = Tensor([0.0, 2.0], requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    p = Tensor([0.0, 1.0, 2.5], requires_grad=True)
    (Tensor(0.0) ** p).sum().backward()
    np.testing.assert_array_equal(p.grad.data, [0.0, 0.0, 0.0])


def test_power_at_zero_keeps_second_derivatives():
    p = Tensor(2.0, requires_grad=True)
    x = Tensor([0.0, 3.0], requires_grad=True)
    (gx,) = tg.grad((x**p).sum(), x, create_graph=True)
    np.testing.assert_allclose(gx.data, [0.0, 6.0])
    (hx,) = tg.grad(gx.sum(), x)
    np.testing.assert_allclose(hx.data, [2.0, 2.0])


# ---- 8. one dtype rule --------------------------------------------------------------------------


class Scale(tg.Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x * k

    @staticmethod
    def backward(ctx, grad):
        return grad * Tensor(ctx.k), None


@given(st.floats(-1e3, 1e3, allow_nan=False), st.sampled_from([np.float32, np.float64]))
def test_python_scalars_never_change_a_float_dtype(k, dtype):
    t = Tensor(np.ones(3, dtype=dtype), requires_grad=True)
    for result in (t * k, k * t, t + k, k - t, t / (abs(k) + 1), t**2, t + np.array([1, 2, 3]), Scale.apply(t, k)):
        assert result.dtype == dtype


def test_bool_tensors_promote_to_float_like_numpy():
    p = Tensor([0.9, 0.2, 0.7, 0.4])
    y = np.array([1, 0, 0, 0])
    accuracy = ((p > 0.5) == y).mean()
    assert accuracy.dtype == np.float64 and accuracy.item() == 0.75
    assert ((p > 0.5) * 1.5).data.tolist() == [1.5, 0.0, 1.5, 0.0]


# ---- 9. NumPy and Python protocols ----------------------------------------------------------------


def test_numpy_protocol_gives_the_numbers_with_numpy2_copy_semantics():
    t = Tensor([1.0, 2.0])
    assert np.asarray(t) is t.data
    assert np.array(t, dtype=np.float32).dtype == np.float32
    copied = np.array(t, copy=True)
    copied[0] = 9
    assert t.data[0] == 1.0
    with pytest.raises(ValueError):
        np.array(t, dtype=np.float32, copy=False)


def test_iteration():
    assert [v.item() for v in Tensor([1.0, 2.0])] == [1.0, 2.0]
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(Tensor(1.0))


def test_data_setter_accepts_only_an_array_of_the_same_shape():
    t = Tensor([1.0, 2.0], requires_grad=True)
    t.data = np.array([3.0, 4.0], dtype=np.float32)
    assert t.dtype == np.float32
    with pytest.raises(TypeError, match=r"assign a NumPy array, not a Tensor \(write t.data = other.numpy\(\)"):
        t.data = Tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"shape \(3,\) does not match the tensor's shape \(2,\)"):
        t.data = np.zeros(3)
    with pytest.raises(TypeError, match="expected a NumPy array, got list"):
        t.data = [1.0, 2.0]


def test_tensor_names_must_be_strings():
    with pytest.raises(TypeError, match="name must be a string or None, got int"):
        Tensor([1.0], name=3)


# ---- 10. the documented calls ---------------------------------------------------------------------


def test_backward_of_several_tensors_with_their_gradients():
    x = Tensor([1.0, 2.0], requires_grad=True)
    tg.backward([x * 2, (x * x).sum()], [np.array([1.0, 10.0]), None])
    np.testing.assert_array_equal(x.grad.data, [2.0 + 2.0, 20.0 + 4.0])


def test_requires_grad_on_a_recorded_result():
    x = Tensor([1.0], requires_grad=True)
    h = x * 2
    assert h.requires_grad_() is h
    with pytest.raises(RuntimeError, match="only leaf tensors can stop requiring grad"):
        h.requires_grad_(False)


# ---- 11. gradcheck of a closure -------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [models.LogisticRegression(3), models.SoftmaxRegression(3, 4), models.MLP([3, 5, 4])],
    ids=["logistic", "softmax", "mlp"],
)
def test_gradcheck_of_a_closure_over_a_models_parameters(model):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 3))
    y = rng.integers(0, 2, 6).astype(float) if isinstance(model, models.LogisticRegression) else rng.integers(0, 4, 6)
    before = [p.data.copy() for p in model.parameters()]
    assert gradcheck(lambda *ps: model.loss(X, y, l2=0.1), model.parameters())
    assert check_model(model, X, y, l2=0.1)
    for b, p in zip(before, model.parameters()):
        np.testing.assert_array_equal(b, p.data)


def test_check_model_finds_a_wrong_gradient():
    class Wrong(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return np.tanh(x)

        @staticmethod
        def backward(ctx, grad):
            return grad  # the derivative of tanh is not 1

    class Broken(models.SoftmaxRegression):
        def forward(self, X):
            return Wrong.apply(X @ self.W + self.b)

    X, y = np.random.default_rng(0).standard_normal((6, 3)), np.array([0, 1, 2, 0, 1, 2])
    with pytest.raises(AssertionError, match="disagrees with central differences"):
        check_model(Broken(3, 3), X, y, second_order=False)


# ---- hooks and intermediate gradients ---------------------------------------------------------------


def test_hooks_see_and_may_replace_gradients():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    seen = []
    handle = h.register_hook(lambda g: seen.append(g.data.copy()))
    x.register_hook(lambda g: g * 10)
    (h * h).sum().backward(retain_graph=True)
    np.testing.assert_array_equal(seen[0], 2 * h.data)
    np.testing.assert_array_equal(x.grad.data, 10 * 3 * 2 * h.data)
    handle.remove()
    x.zero_grad()
    (h.sum()).backward()
    assert len(seen) == 1


def test_retain_grad_keeps_an_intermediate_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad.data, 2 * h.data)


def test_a_hook_returning_the_wrong_thing_is_named():
    x = Tensor([1.0, 2.0], requires_grad=True)

    def bad_hook(g):
        return np.zeros(3)

    x.register_hook(bad_hook)
    with pytest.raises(TypeError, match="hook 'bad_hook': must return None or a Tensor of shape"):
        (x * 2).sum().backward()
    assert x.grad is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).register_hook(print)


# ---- custom ops: several outputs, wrong results, errors -------------------------------------------


class SplitHalves(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        n = len(x) // 2
        return x[:n] * x[:n], x[n:] * 3

    @staticmethod
    def backward(ctx, g_first, g_second):
        (x,) = ctx.saved_tensors
        n = len(x) // 2
        mask = np.zeros(len(x))
        mask[:n] = 1
        padded_first = Tensor(np.concatenate([np.eye(n), np.zeros((n, n))], axis=1))
        padded_second = Tensor(np.concatenate([np.zeros((n, n)), np.eye(n)], axis=1))
        return (g_first @ padded_first) * 2 * x * Tensor(mask) + (g_second @ padded_second) * 3


def test_a_function_with_several_outputs():
    x = Tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    a, b = SplitHalves.apply(x)
    np.testing.assert_array_equal(a.data, [1.0, 4.0])
    (a.sum() + 2 * b.sum()).backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0, 6.0, 6.0])
    x.zero_grad()
    a2, _ = SplitHalves.apply(x)  # an output nobody uses gets a zero gradient
    a2.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0, 0.0, 0.0])
    assert gradcheck(lambda t: SplitHalves.apply(t), [x])


def test_a_backward_returning_the_wrong_type_is_named():
    class ListBack(tg.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, grad):
            return grad, [1.0, 2.0]

    x, y = Tensor([1.0, 2.0], requires_grad=True), Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="listback: backward returned a list for input 1"):
        ListBack.apply(x, y).sum().backward()


def test_forward_errors_keep_the_users_frame():
    a, b = Tensor(np.ones((5, 3))), Tensor(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"matmul: shapes \(5, 3\) and \(4, 2\) are not aligned") as info:
        a @ b
    assert info.value.__cause__ is not None


# ---- caches -----------------------------------------------------------------------------------------


def test_caches_keep_no_batch_sized_arrays():
    from tinygrad_lr import autograd

    small, big = (16,), (autograd.SMALL_CACHE_BYTES,)
    assert autograd.ones(small, np.dtype(np.float64)) is autograd.ones(small, np.dtype(np.float64))
    assert autograd.ones(big, np.dtype(np.float64)) is not autograd.ones(big, np.dtype(np.float64))


def test_no_batch_sized_array_outlives_a_step():
    import gc
    import tracemalloc

    rng = np.random.default_rng(0)

    def steps(n):
        for model, y in [(models.SoftmaxRegression(4, 3), rng.integers(0, 3, n)), (models.LogisticRegression(4), None)]:
            X = rng.standard_normal((n, 4))
            y = rng.integers(0, 2, n).astype(float) if y is None else y
            opt = optim.SGD(model.parameters(), lr=0.1)
            for _ in range(2):
                opt.zero_grad()
                model.loss(X, y).backward()
                opt.step()

    steps(100)  # imports and small cached helpers
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        steps(100_003)  # 0.8 MB per batch-sized vector
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 100_000, f"{kept} bytes still allocated after the steps"
