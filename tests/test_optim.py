"""SGD and Adam: the update rules against hand-written NumPy and PyTorch, state round trips, bad hyper-parameters."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lr as tg
from tinygrad_lr import Tensor, models, optim, solvers

ROOT = Path(__file__).resolve().parent.parent


def quadratic_params(dtype=np.float64):
    """Two parameters and a loss whose gradient changes every step (so momentum matters)."""
    rng = np.random.default_rng(1)
    a = Tensor(rng.standard_normal((3, 2)).astype(dtype), requires_grad=True)
    b = Tensor(rng.standard_normal(2).astype(dtype), requires_grad=True)
    target = rng.standard_normal((3, 2)).astype(dtype)
    return a, b, lambda: ((a - target) ** 2).sum() + (b * b * b).sum() + (a * a).sum() * (b * b).sum()


def run(opt, loss_fn, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss_fn().backward()
        opt.step()


def reference_sgd(params, grads_fn, lr, momentum, nesterov, weight_decay, steps):
    """PyTorch's SGD rule written out in NumPy, one parameter at a time."""
    bufs = [None] * len(params)
    for _ in range(steps):
        grads = grads_fn()
        for i, (p, g) in enumerate(zip(params, grads)):
            d = g + weight_decay * p
            if momentum:
                bufs[i] = d.copy() if bufs[i] is None else momentum * bufs[i] + d
                d = d + momentum * bufs[i] if nesterov else bufs[i]
            p -= lr * d


def reference_adam(params, grads_fn, lr, betas, eps, weight_decay, steps):
    """Kingma & Ba's Adam with bias correction and L2 weight decay (PyTorch's Adam), written out in NumPy."""
    beta1, beta2 = betas
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t in range(1, steps + 1):
        grads = grads_fn()
        for i, (p, g) in enumerate(zip(params, grads)):
            g = g + weight_decay * p
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            m_hat = m[i] / (1 - beta1**t)
            v_hat = v[i] / (1 - beta2**t)
            p -= lr * m_hat / (np.sqrt(v_hat) + eps)


def compare_with_reference(make, reference, steps=10, **hyper):
    """Run ``make(params, **hyper)`` and the written-out ``reference`` side by side for ``steps`` steps."""
    a, b, loss_fn = quadratic_params()
    start = a.data.copy(), b.data.copy()
    run(make([a, b], **hyper), loss_fn, steps)
    ra, rb, ref_loss_fn = quadratic_params()
    grads = lambda: [g.numpy() for g in tg.grad(ref_loss_fn(), [ra, rb])]  # noqa: E731
    reference([ra.data, rb.data], grads, steps=steps, **hyper)
    np.testing.assert_allclose(a.data, ra.data, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(b.data, rb.data, rtol=1e-13, atol=1e-15)
    assert not np.allclose(a.data, start[0]) and not np.allclose(b.data, start[1])  # both moved


# Non-default values everywhere (lr/(1-β1) != 1, wd large enough to matter), ten steps: a wrong
# sign, factor or buffer update in any term changes the result far beyond the tolerance.
@pytest.mark.parametrize(
    "momentum, nesterov, weight_decay",
    [(0.0, False, 0.0), (0.0, False, 0.3), (0.7, False, 0.0), (0.7, True, 0.0), (0.6, False, 0.25), (0.5, True, 0.4)],
)
def test_sgd_matches_the_written_out_rule(momentum, nesterov, weight_decay):
    compare_with_reference(
        optim.SGD, reference_sgd, lr=0.013, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay
    )


@pytest.mark.parametrize(
    "lr, betas, eps, weight_decay",
    [(0.03, (0.8, 0.95), 1e-8, 0.0), (0.02, (0.7, 0.9), 0.05, 0.3), (0.011, (0.85, 0.99), 1e-3, 1.5)],
)
def test_adam_matches_the_written_out_rule(lr, betas, eps, weight_decay):
    compare_with_reference(optim.Adam, reference_adam, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def test_defaults_are_pinned():
    """Adam's defaults are PyTorch's (and ``fit``'s optimizer); SGD has no momentum or decay unless asked."""
    p = Tensor(np.ones(2), requires_grad=True)
    assert optim.Adam([p]).hyper() == {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0}
    assert optim.SGD([p], lr=0.5).hyper() == {"lr": 0.5, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0}
    compare_with_reference(lambda params, **_: optim.Adam(params), reference_adam,
                           lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)  # fmt: skip


class SignSGD(optim.Optimizer):
    """A user-written optimizer: only ``_update`` is defined, everything else comes from the base class."""

    def _update(self, i, p, g):
        return p - self.lr * np.sign(g)


def test_a_subclass_defining_only_update_steps_checkpoints_and_resumes():
    a, b, loss_fn = quadratic_params()
    opt = SignSGD([a, b], lr=0.125)
    before = a.data.copy()
    run(opt, loss_fn, 1)
    assert np.all(np.abs(a.data - before) == 0.125)
    state = opt.state_dict()
    assert state == {"type": "SignSGD", "hyper": {"lr": 0.125}, "steps": 1, "buffers": {}}
    fresh = SignSGD([a, b], lr=1.0)
    fresh.load_state_dict(state)
    assert fresh.lr == 0.125 and fresh.steps == 1


@pytest.mark.parametrize(
    "make", [lambda p: optim.SGD(p, lr=0.1), lambda p: optim.SGD(p, lr=0.1, momentum=0.9), optim.Adam]
)
def test_updates_reuse_their_work_arrays(make):
    """After the first step an update allocates nothing: the same scratch and buffer arrays every step."""
    a, b, loss_fn = quadratic_params()
    opt = make([a, b])
    run(opt, loss_fn, 1)
    arrays = [id(s) for s in opt._scratch] + [id(x) for bufs in opt.buffers.values() for x in bufs]
    run(opt, loss_fn, 3)
    assert [id(s) for s in opt._scratch] + [id(x) for bufs in opt.buffers.values() for x in bufs] == arrays


def test_plain_sgd_step_is_p_minus_lr_g():
    p = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    (p * p).sum().backward()
    data_before = p.data
    optim.SGD([p], lr=0.25).step()
    np.testing.assert_array_equal(p.data, [1.0 - 0.5, -2.0 + 1.0, 3.0 - 1.5])
    assert p.data is data_before  # updated in place
    assert p.is_leaf and p.grad is not None  # no graph recorded, gradient left alone


@pytest.mark.parametrize("name", ["sgd", "sgd_nesterov", "adam", "adam_wd"])
def test_against_torch(name):
    torch = pytest.importorskip("torch")
    a, b, loss_fn = quadratic_params()
    ta = torch.tensor(a.data.copy(), requires_grad=True)
    tb = torch.tensor(b.data.copy(), requires_grad=True)
    rng = np.random.default_rng(1)
    rng.standard_normal((3, 2)), rng.standard_normal(2)
    target = torch.tensor(rng.standard_normal((3, 2)))
    make = {
        "sgd": (lambda p: optim.SGD(p, lr=0.01, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
        "sgd_nesterov": (
            lambda p: optim.SGD(p, lr=0.01, momentum=0.8, nesterov=True, weight_decay=0.05),
            lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.8, nesterov=True, weight_decay=0.05),
        ),
        "adam": (lambda p: optim.Adam(p, lr=0.05), lambda p: torch.optim.Adam(p, lr=0.05)),
        "adam_wd": (
            lambda p: optim.Adam(p, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
            lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        ),
    }[name]
    ours, theirs = make[0]([a, b]), make[1]([ta, tb])
    run(ours, loss_fn, 10)
    for _ in range(10):
        theirs.zero_grad()
        (((ta - target) ** 2).sum() + (tb**3).sum() + (ta * ta).sum() * (tb * tb).sum()).backward()
        theirs.step()
    np.testing.assert_allclose(a.data, ta.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.data, tb.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_adam_first_step_moves_each_entry_by_lr():
    # With bias correction, step 1 is lr * g/|g| (up to eps) whatever the gradient's scale.
    p = Tensor(np.array([1.0, -2.0, 1e-3]), requires_grad=True)
    (p * np.array([1e4, -1e-2, 1.0])).sum().backward()
    optim.Adam([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.9, -1.9, 1e-3 - 0.1], rtol=1e-6)


@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9), lambda p: optim.Adam(p, lr=0.1)])
def test_parameters_without_gradient_are_skipped(make):
    used = Tensor(np.ones(2), requires_grad=True)
    unused = Tensor(np.ones(3), requires_grad=True)
    opt = make([used, unused])
    (used * used).sum().backward()
    opt.step()
    np.testing.assert_array_equal(unused.data, np.ones(3))
    assert not np.array_equal(used.data, np.ones(2))
    assert all(bufs[1] is None for bufs in opt.state_dict()["buffers"].values())


@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9), lambda p: optim.Adam(p, lr=0.1)])
def test_float32_parameters_stay_float32(make):
    m = models.SoftmaxRegression(3, 2, dtype=np.float32)
    opt = make(m.parameters())
    X = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    run(opt, lambda: m.loss(X, np.arange(8) % 2), 3)
    assert all(p.dtype == np.float32 for p in m.parameters())
    assert all(b.dtype == np.float32 for bufs in opt.state_dict()["buffers"].values() for b in bufs)


def test_zero_grad_clears_every_gradient():
    a, b, loss_fn = quadratic_params()
    opt = optim.SGD([a, b], lr=0.1)
    loss_fn().backward()
    opt.zero_grad()
    assert a.grad is None and b.grad is None


@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True), optim.Adam])
def test_state_dict_round_trip_continues_identically(make):
    a, b, loss_fn = quadratic_params()
    opt = make([a, b])
    run(opt, loss_fn, 3)
    state = opt.state_dict()
    saved = [a.data.copy(), b.data.copy()]
    run(opt, loss_fn, 4)
    after_uninterrupted = [a.data.copy(), b.data.copy()]

    a.data[...], b.data[...] = saved
    resumed = optim.from_state_dict([a, b], state)
    assert type(resumed) is type(opt) and resumed.steps == 3 and resumed.hyper() == opt.hyper()
    run(resumed, loss_fn, 4)
    np.testing.assert_array_equal(a.data, after_uninterrupted[0])
    np.testing.assert_array_equal(b.data, after_uninterrupted[1])


def test_state_dict_is_a_copy():
    a, b, loss_fn = quadratic_params()
    opt = optim.Adam([a, b])
    run(opt, loss_fn, 1)
    state = opt.state_dict()
    m0 = state["buffers"]["m"][0].copy()
    run(opt, loss_fn, 1)
    np.testing.assert_array_equal(state["buffers"]["m"][0], m0)


def test_load_state_dict_rejects_mismatches():
    a, b, loss_fn = quadratic_params()
    adam = optim.Adam([a, b])
    run(adam, loss_fn, 1)
    with pytest.raises(ValueError, match="'Adam' optimizer"):
        optim.SGD([a, b], lr=0.1).load_state_dict(adam.state_dict())
    other = Tensor(np.ones(5), requires_grad=True)
    with pytest.raises(ValueError, match=r"shape \(3, 2\).*shape \(5,\)"):
        optim.Adam([other, b]).load_state_dict(adam.state_dict())
    with pytest.raises(ValueError, match="1 parameters"):
        optim.Adam([a]).load_state_dict(adam.state_dict())
    state = adam.state_dict()
    with pytest.raises(ValueError, match=r"expected buffers \['m', 'v'\], got \['m'\]"):
        optim.Adam([a, b]).load_state_dict({**state, "buffers": {"m": state["buffers"]["m"]}})
    with pytest.raises(ValueError, match="unknown optimizer type 'RMSprop'"):
        optim.from_state_dict([a, b], {**adam.state_dict(), "type": "RMSprop"})


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: optim.SGD(p, lr=0), "lr must be finite and > 0, got 0"),
        (lambda p: optim.SGD(p, lr=-0.1), "lr must be finite and > 0, got -0.1"),
        (lambda p: optim.SGD(p, lr=float("nan")), "lr must be finite and > 0, got nan"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), "momentum must be finite and >= 0 and < 1, got -0.5"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=1.0), "momentum must be finite and >= 0 and < 1, got 1.0"),
        (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov=True needs a momentum > 0"),
        (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), "weight_decay must be finite and >= 0, got -1"),
        (lambda p: optim.Adam(p, lr=-1e-3), "lr must be finite and > 0, got -0.001"),
        (lambda p: optim.Adam(p, betas=(0.9, 1.0)), r"betas\[1\] must be finite and >= 0 and < 1, got 1.0"),
        (lambda p: optim.Adam(p, betas=(-0.1, 0.999)), r"betas\[0\] must be finite and >= 0 and < 1, got -0.1"),
        (lambda p: optim.Adam(p, betas=0.9), r"betas must be a pair \(beta1, beta2\), got 0.9"),
        (lambda p: optim.Adam(p, eps=-1e-8), "eps must be finite and >= 0, got -1e-08"),
        (lambda p: optim.Adam([]), "empty parameter list"),
        (lambda p: optim.Adam([p[0], p[0]]), "more than once"),
        (lambda p: optim.Adam([Tensor(np.ones(2))]), "not a leaf tensor that requires grad"),
    ],
)
def test_bad_hyper_parameters_name_the_value(make, message):
    params = [Tensor(np.ones(2), requires_grad=True)]
    with pytest.raises(ValueError, match=message):
        make(params)


def test_non_numbers_and_non_tensors_are_type_errors():
    p = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match="lr must be a real number, got '0.1'"):
        optim.SGD([p], lr="0.1")
    with pytest.raises(TypeError, match="parameter 0 is a ndarray, not a Tensor"):
        optim.SGD([np.ones(2)], lr=0.1)


def test_the_second_order_solvers_are_reexported_and_run():
    assert optim.newton_cg is solvers.newton_cg and optim.lbfgs is solvers.lbfgs
    assert {"newton_cg", "lbfgs", "SolverResult"} <= set(optim.__all__)
    assert "newton_cg" in optim.__doc__ and "lbfgs" in optim.__doc__
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    y = (X @ [1.0, -2.0, 0.5] + 0.3 * rng.standard_normal(50) > 0).astype(np.int64)
    for solve in (optim.newton_cg, optim.lbfgs):
        model = models.LogisticRegression(3)
        result = solve(model, X, y, l2=0.1, tol=1e-8, max_iter=100)
        assert isinstance(result, optim.SolverResult) and result.converged and result.grad_max <= 1e-8


def test_optim_imports_first_in_a_fresh_interpreter():
    """optim imports solvers (which imports models and autograd, never optim): no import cycle."""
    code = "import tinygrad_lr.optim as o; from tinygrad_lr.optim import *; print(newton_cg.__module__, lbfgs.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.split() == ["tinygrad_lr.solvers", "lbfgs"]


_special = st.sampled_from([0.0, 1.0, -2.5, 1e30, -3e38, 1e300, np.inf, -np.inf, np.nan])


@given(
    values=st.lists(_special, min_size=0, max_size=40),
    dtype=st.sampled_from([np.float32, np.float64]),
    layout=st.sampled_from(["flat", "matrix", "transposed", "every other", "0-d"]),
)
def test_the_finite_check_is_exactly_isfinite_all(values, dtype, layout):
    """optim._finite (a sum of squares, the exact test when they overflow) decides as np.isfinite(a).all()."""
    with np.errstate(over="ignore"):
        a = np.array(values or [0.0]).astype(dtype)
    a = {
        "flat": a,
        "matrix": a[: len(a) // 2 * 2].reshape(-1, 2) if len(a) > 1 else a,
        "transposed": a[: len(a) // 2 * 2].reshape(-1, 2).T if len(a) > 1 else a,
        "every other": a[::2],
        "0-d": a[0].reshape(()),
    }[layout]
    with np.errstate(over="ignore", invalid="ignore"):
        assert optim._finite(a) == bool(np.isfinite(a).all())
