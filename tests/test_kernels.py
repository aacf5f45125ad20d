"""tg.compile's kernels (tinygrad_lr/kernels.py): replays with them are bit-identical to plain replays
(every op through its own forward and rule) and to eager steps, on drawn shapes, for every kernel."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import training_step
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lr as tg
from tinygrad_lr import Tensor, kernels, models, ops, optim
from tinygrad_lr import functional as F

# Broadcast shapes of a (n, d) batch that a parameter can take.
BROADCASTS = {
    "full": lambda n, d: (n, d),
    "row": lambda n, d: (d,),
    "column": lambda n, d: (n, 1),
    "scalar": lambda n, d: (),
}


def _parameter_shapes(case: str, n: int, d: int, broadcast: str) -> list[tuple[int, ...]]:
    b = BROADCASTS[broadcast](n, d)
    return {
        "add": [b],
        "mul": [b, b],
        "matmul 2-D": [(d, 3)],
        "matmul 2-D @ 1-D": [(d,)],
        "matmul, both sides": [(n, d), (d, 2)],
        "tanh": [b],
        "bce": [(d,), ()],
        "bce, targets with a gradient": [(d,), (n,)],
        "cross entropy": [(d, 3), (3,)],
        "add 0-d": [()],
        "temporaries read twice": [(d, 3), (3,)],
    }[case]


def _loss(case: str, params: list[Tensor], X: np.ndarray, y: np.ndarray) -> Tensor:
    x = Tensor(X)
    if case == "add":
        return ((x + params[0]) + params[0]).sum()
    if case == "mul":
        return (x * params[0] * params[1]).sum()
    if case == "matmul 2-D":
        return (x @ params[0]).sum()
    if case == "matmul 2-D @ 1-D":
        return (x @ params[0]).sum()
    if case == "matmul, both sides":
        return ((params[0] * x) @ params[1]).sum()
    if case == "tanh":
        return (x + params[0]).tanh().sum()
    if case == "bce":
        return F.binary_cross_entropy_with_logits(x @ params[0] + params[1], y)  # targets 0, 1, 2: any numbers
    if case == "bce, targets with a gradient":
        return F.binary_cross_entropy_with_logits(x @ params[0], params[1].sigmoid())
    if case == "cross entropy":
        return F.cross_entropy(x @ params[0] + params[1], y)
    if case == "temporaries read twice":  # neither h nor t may be overwritten by the adds that read them
        h = x @ params[0]
        t = (h + params[1]).tanh()
        return ((t + h) * t).sum()
    return (params[0] + params[0]).sum() + (x * x).sum()  # add 0-d


# The kernel each case exists to exercise (None: a case the kernels leave to the plain entry).
CASES = {
    "add": ops.Add,
    "mul": ops.Mul,
    "matmul 2-D": ops.MatMul,
    "matmul 2-D @ 1-D": ops.MatMul,
    "matmul, both sides": ops.MatMul,
    "tanh": ops.Tanh,
    "bce": F.BinaryCrossEntropyWithLogits,
    "cross entropy": F.CrossEntropy,
    "bce, targets with a gradient": None,
    "add 0-d": None,
    "temporaries read twice": ops.Tanh,
}
UNCOVERED = {"bce, targets with a gradient": F.BinaryCrossEntropyWithLogits, "add 0-d": ops.Add}


def test_every_kernel_has_a_case():
    assert set(kernels.KERNELS) <= set(CASES.values())


def _train(case, shapes, data, dtype, make_opt, how):
    rng = np.random.default_rng(7)
    params = [Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]
    opt = make_opt(params)

    def step(X, y):
        opt.zero_grad()
        loss = _loss(case, params, X, y)
        loss.backward()
        opt.step()
        return loss

    run = step if how == "eager" else tg.compile(step, strict=True, kernels=how == "kernels")
    losses = [run(X, y).numpy().copy() for X, y in data]
    return params, losses, run


def _same_runs(case, shapes, data, dtype, make_opt):
    results = {how: _train(case, shapes, data, dtype, make_opt, how) for how in ("eager", "plain", "kernels")}
    eager_params, eager_losses, _ = results["eager"]
    for how in ("plain", "kernels"):
        params, losses, _ = results[how]
        assert all(np.array_equal(a, b) for a, b in zip(losses, eager_losses)), how
        for p, q in zip(params, eager_params):
            assert np.array_equal(p.numpy(), q.numpy()) and np.array_equal(p.grad.numpy(), q.grad.numpy()), how
    return results["kernels"][2]


@given(
    case=st.sampled_from(sorted(CASES)),
    n=st.integers(1, 6),
    d=st.integers(1, 5),
    broadcast=st.sampled_from(sorted(BROADCASTS)),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_kernel_replays_are_bit_identical_to_plain_replays_and_eager(case, n, d, broadcast, dtype, seed):
    rng = np.random.default_rng(seed)
    data = [(rng.standard_normal((n, d)).astype(dtype), rng.integers(0, 3, n)) for _ in range(5)]
    shapes = _parameter_shapes(case, n, d, broadcast)
    run = _same_runs(case, shapes, data, dtype, lambda ps: optim.SGD(ps, lr=0.05, momentum=0.5))
    (tape,) = run.tapes.values()
    if CASES[case] is not None:
        assert CASES[case] in tape.kernel_ops  # the case really ran its kernel
    else:
        assert UNCOVERED[case] not in tape.kernel_ops


@pytest.mark.parametrize("case", [c for c, cls in CASES.items() if cls is not None])
def test_each_kernel_runs_in_its_case(case):
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((4, 3)), rng.integers(0, 3, 4)) for _ in range(4)]
    run = _same_runs(case, _parameter_shapes(case, 4, 3, "row"), data, np.float64, lambda ps: optim.SGD(ps, lr=0.1))
    assert CASES[case] in next(iter(run.tapes.values())).kernel_ops


OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1),
    "sgd-momentum-nesterov-decay": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda ps: optim.Adam(ps, lr=0.01),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_the_optimizer_step_replays_like_eager(name):
    rng = np.random.default_rng(1)
    data = [(rng.standard_normal((6, 3)), rng.integers(0, 3, 6)) for _ in range(6)]
    _same_runs("cross entropy", _parameter_shapes("cross entropy", 6, 3, "row"), data, np.float64, OPTIMIZERS[name])


def test_a_replayed_step_that_would_overflow_changes_nothing_and_says_so_like_eager():
    data = [(np.ones((2, 2)), np.zeros(2, dtype=int))] * 3
    messages = []
    for how in ("eager", "kernels"):
        w = Tensor(np.ones(2), requires_grad=True)
        opt = optim.SGD([w], lr=1e308)

        def step(X, y, w=w, opt=opt):
            opt.zero_grad()
            loss = (Tensor(X) @ w).sum()
            loss.backward()
            opt.step()
            return loss

        run = step if how == "eager" else tg.compile(step, strict=True)
        opt.lr = 1.0
        for X, y in data[:2]:
            run(X, y)  # recorded twice (the kernels' tape is replayed from the third call)
        before = w.numpy().copy()
        opt.lr = 1e308
        with np.errstate(over="ignore"), pytest.raises(FloatingPointError, match="would make parameter 0") as caught:
            run(*data[2])
        assert np.array_equal(w.numpy(), before)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]


def test_plain_sgds_kernel_follows_the_optimizer_when_its_settings_change():
    """A learning-rate schedule, then momentum switched on: the replay reads them as eager steps do."""
    rng = np.random.default_rng(3)
    data = [(rng.standard_normal((5, 3)), rng.integers(0, 3, 5)) for _ in range(8)]
    results = []
    for compiled in (False, True):
        params = [Tensor(np.full((3, 3), 0.1), requires_grad=True), Tensor(np.zeros(3), requires_grad=True)]
        opt = optim.SGD(params, lr=0.1)

        def step(X, y, params=params, opt=opt):
            opt.zero_grad()
            loss = F.cross_entropy(Tensor(X) @ params[0] + params[1], y)
            loss.backward()
            opt.step()
            return loss

        run = tg.compile(step, strict=True) if compiled else step
        for k, (X, y) in enumerate(data):
            opt.lr = 0.1 / (k + 1)
            opt.momentum = 0.9 if k >= 5 else 0.0
            run(X, y)
        results.append([p.numpy().copy() for p in params] + [opt.steps])
    assert all(np.array_equal(a, b) for a, b in zip(results[0], results[1]))


def test_adds_and_tanh_write_over_temporaries_nothing_else_reads():
    """The MLP's hidden layer: x @ W0 + b0 is added into the product, tanh into that sum."""
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((6, 4)), rng.integers(0, 3, 6)) for _ in range(3)]
    model = models.MLP([4, 5, 3])
    step = tg.compile(training_step(model, optim.SGD(model.parameters(), lr=0.1)), strict=True)

    for X, y in data:
        step(X, y)
    names = [run.__qualname__.split(".")[0] for run, _ in next(iter(step.tapes.values())).steps]
    assert names.count("_elementwise_in_place") == 2 and names.count("_tanh_in_place") == 1
