"""tg.compile: replays are bit-identical to eager steps; what the tape cannot represent runs eagerly."""

from __future__ import annotations

import functools
import re
import warnings

import numpy as np
import pytest
from helpers import training_step
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lr as tg
from tinygrad_lr import Tensor, models, optim
from tinygrad_lr import functional as F
from tinygrad_lr.compiler import CACHE_SIZE, CompileWarning, Tape, UntraceableError
from tinygrad_lr.train import fit

MODELS = {
    "logistic": lambda dtype: models.LogisticRegression(5, dtype=dtype),
    "softmax": lambda dtype: models.SoftmaxRegression(5, 3, dtype=dtype),
    "mlp": lambda dtype: models.MLP([5, 7, 3], dtype=dtype),
}
OPTIMIZERS = {
    "sgd-momentum": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    "adam": lambda ps: optim.Adam(ps, lr=0.01),
}


def batches(kind, dtype, n_steps, seed=1):
    rng = np.random.default_rng(seed)
    for _ in range(n_steps):
        X = rng.standard_normal((8, 5)).astype(dtype)
        y = (rng.random(8) < 0.5).astype(dtype) if kind == "logistic" else rng.integers(0, 3, 8)
        yield X, y


def train(kind, dtype, opt_name, compiled, n_steps=7):
    model = MODELS[kind](dtype)
    opt = OPTIMIZERS[opt_name](model.parameters())

    def step(X, y):
        opt.zero_grad()
        loss = model.loss(X, y, l2=0.01)
        loss.backward()
        opt.step()
        return loss

    run = tg.compile(step, strict=True) if compiled else step
    losses = [run(X, y).numpy().copy() for X, y in batches(kind, dtype, n_steps)]
    return model, losses, run


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_replays_are_bit_identical_to_eager_steps(kind, opt_name, dtype):
    eager, eager_losses, _ = train(kind, dtype, opt_name, compiled=False)
    model, losses, run = train(kind, dtype, opt_name, compiled=True)
    assert [type(t) for t in run.tapes.values()] == [Tape]  # steps 3-7 were replays
    for (name, p), q in zip(model.named_parameters().items(), eager.parameters()):
        assert p.dtype == dtype
        assert np.array_equal(p.numpy(), q.numpy()), name
        assert np.array_equal(p.grad.numpy(), q.grad.numpy()), name
    for a, b in zip(losses, eager_losses):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_a_replay_runs_no_python_of_the_step():
    calls = []
    w = Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    @tg.compile
    def step(x):
        calls.append(1)
        opt.zero_grad()
        loss = (Tensor(x) * w).sum()
        loss.backward()
        opt.step()
        return loss

    expected = np.ones(3)
    for i in range(5):
        x = np.full(3, float(i))
        loss = step(x)
        expected_loss = np.add.reduce(x * expected)
        expected -= 0.1 * x
    assert len(calls) == 2  # two recordings, then replays
    assert loss.numpy() == expected_loss and not loss.requires_grad
    assert np.array_equal(w.numpy(), expected)
    assert np.array_equal(w.grad.numpy(), np.full(3, 4.0))


def test_a_new_signature_records_a_new_tape_and_the_cache_is_bounded():
    w = Tensor(np.ones(4), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    @tg.compile(strict=True)
    def step(x, scale):
        opt.zero_grad()
        loss = (Tensor(x) @ w).sum() * scale
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step(np.ones((2, 4)), 1.0)
    assert len(step.tapes) == 1
    for _ in range(3):
        step(np.ones((5, 4)), 1.0)  # new shape
        step(np.ones((2, 4)), 2.0)  # new scalar value
        step(np.ones((2, 4), np.float32), 1.0)  # new dtype
    assert len(step.tapes) == 4 and all(type(t) is Tape for t in step.tapes.values())
    for n in range(1, 2 * CACHE_SIZE):
        step(np.ones((n, 4)), 3.0)
        step(np.ones((n, 4)), 3.0)
    assert len(step.tapes) == CACHE_SIZE and len(step.pending) <= CACHE_SIZE


def test_results_match_eager_after_the_parameter_is_replaced_or_frozen():
    """Outside tensors are read at every replay: ``.data =`` is seen, a requires_grad change re-records."""
    w = Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([w], lr=0.5)

    @tg.compile(strict=True)
    def step(x):
        opt.zero_grad()
        loss = (Tensor(x) * w * w).sum()
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step(np.ones(3))
    w.data = np.array([1.0, 2.0, 3.0])
    assert np.array_equal(step(np.ones(3)).numpy(), np.array(14.0))
    assert np.array_equal(w.numpy(), np.array([1.0, 2.0, 3.0]) - 0.5 * 2 * np.array([1.0, 2.0, 3.0]))


STEPS = {}


def _register(fn):
    STEPS[fn.__name__] = fn
    return fn


W = Tensor(np.ones(3), requires_grad=True)
OPT = optim.SGD([W], lr=0.1)


@_register
def reads_item(x):
    OPT.zero_grad()
    loss = (Tensor(x) * W).sum()
    loss.backward()
    OPT.step()
    return loss.item()


@_register
def branches_on_a_value(x):
    OPT.zero_grad()
    loss = (Tensor(x) * W).sum()
    if loss > 0:
        loss = loss * 2
    loss.backward()
    OPT.step()
    return loss


@_register
def numpy_on_the_arguments(x):
    OPT.zero_grad()
    loss = (Tensor(x * 2) * W).sum()
    loss.backward()
    OPT.step()
    return loss


@_register
def numpy_in_place_on_an_argument(x):
    OPT.zero_grad()
    x *= 2  # the tape reads the argument as it is passed: the doubling would be lost
    loss = (Tensor(x) * W).sum()
    loss.backward()
    OPT.step()
    return loss


@_register
def updates_by_hand(x):
    W.grad = None
    loss = (Tensor(x) * W).sum()
    loss.backward()
    W.data -= 0.1 * W.grad.data
    return loss


@_register
def has_a_hook(x):
    OPT.zero_grad()
    h = Tensor(x) * W
    h.register_hook(lambda g: g * 2)
    loss = h.sum()
    loss.backward()
    OPT.step()
    return loss


@_register
def second_order(x):
    OPT.zero_grad()
    loss = (Tensor(x) * W * W).sum()
    loss.backward(create_graph=True)
    OPT.step()
    return loss


@_register
def accumulates_across_calls(x):
    loss = (Tensor(x) * W).sum()
    loss.backward()
    OPT.step()
    return loss


REASONS = {
    "reads_item": "item() reads a tensor's value",
    "branches_on_a_value": "bool() reads a tensor's value",
    "numpy_on_the_arguments": "made inside the step from values computed outside tinygrad_lr ops",
    "numpy_in_place_on_an_argument": "argument 0 is changed in place inside the step",
    "updates_by_hand": "changed in place without an optimizer",
    "has_a_hook": "has a hook",
    "second_order": "create_graph=True",
    "accumulates_across_calls": "accumulates onto one from before the step",
}


@pytest.mark.parametrize("name", sorted(STEPS))
def test_untraceable_steps_run_eagerly_with_a_warning_and_the_same_results(name):
    fn = STEPS[name]
    inputs = [np.random.default_rng(i).standard_normal(3) for i in range(5)]
    W.data[...] = 1.0
    W.grad = None
    for x in inputs:
        fn(x.copy())  # (a step may write into its argument)
    expected = W.numpy().copy()
    W.data[...] = 1.0
    W.grad = None
    compiled = tg.compile(fn)
    with pytest.warns(CompileWarning, match=re.escape(REASONS[name])) as record:
        for x in inputs:
            compiled(x.copy())
    assert len(record) == 1  # one line, once per signature
    assert np.array_equal(W.numpy(), expected)


@pytest.mark.parametrize("name", sorted(STEPS))
def test_strict_raises_instead(name):
    W.grad = None
    with pytest.raises(UntraceableError, match="runs eagerly"):
        compiled = tg.compile(STEPS[name], strict=True)
        for i in range(3):
            compiled(np.full(3, float(i + 1)))


def test_a_one_element_array_computed_outside_ops_is_not_taken_for_a_constant():
    def step(x):
        OPT.zero_grad()
        loss = (Tensor(x[:1] * 2) * W).sum()  # equal on the two recordings, not after
        loss.backward()
        OPT.step()
        return loss

    inputs = [np.ones(3), np.ones(3), np.full(3, 5.0), np.full(3, 7.0)]
    W.data[...], W.grad = 1.0, None
    expected = [step(x).item() for x in inputs]
    W.data[...], W.grad = 1.0, None
    compiled = tg.compile(step)
    with pytest.warns(CompileWarning, match=re.escape("a tensor of shape (1,) is made inside the step")):
        assert [compiled(x).item() for x in inputs] == expected


def test_unsupported_arguments_run_eagerly():
    @tg.compile
    def step(xs):
        return Tensor(xs[0]) * 2

    with pytest.warns(CompileWarning, match="arguments of type list"):
        out = step([np.ones(2)])
    assert np.array_equal(out.numpy(), np.full(2, 2.0))


def test_compile_refuses_a_non_function():
    with pytest.raises(TypeError, match="compile: expected a function, got int"):
        tg.compile(3)


# ---- the tape's ops on drawn shapes ----------------------------------------------------------------

shapes = st.tuples(st.integers(1, 4), st.integers(1, 5))


@settings(max_examples=25, deadline=None)
@given(shape=shapes, bias_kind=st.sampled_from(["row", "column", "scalar"]), seed=st.integers(0, 2**16))
def test_drawn_shapes_replay_like_eager(shape, bias_kind, seed):
    n, d = shape
    bias_shape = {"row": (d,), "column": (n, 1), "scalar": ()}[bias_kind]
    rng = np.random.default_rng(seed)
    W0, b0 = rng.standard_normal((d, d)), rng.standard_normal(bias_shape)
    W1, b1 = Tensor(W0, requires_grad=True), Tensor(b0, requires_grad=True)
    W2, b2 = Tensor(W0, requires_grad=True), Tensor(b0, requires_grad=True)
    data = [(rng.standard_normal((n, d)), rng.integers(0, d, n)) for _ in range(5)]

    def step_for(W, b, opt):
        def step(X, y):
            opt.zero_grad()
            h = (Tensor(X) @ W + b).tanh() * 1.5 - b
            loss = F.cross_entropy(h, y) + (h.exp().mean() * W).sum() / (h.sum() + 100.0)
            loss.backward()
            opt.step()
            return loss, h

        return step

    eager = step_for(W1, b1, optim.Adam([W1, b1], lr=0.1))
    compiled = tg.compile(step_for(W2, b2, optim.Adam([W2, b2], lr=0.1)), strict=True)
    for X, y in data:
        (l1, h1), (l2, h2) = eager(X, y), compiled(X, y)
        assert np.array_equal(l1.numpy(), l2.numpy()) and np.array_equal(h1.numpy(), h2.numpy())
    for p, q in ((W1, W2), (b1, b2)):
        assert np.array_equal(p.numpy(), q.numpy()) and np.array_equal(p.grad.numpy(), q.grad.numpy())


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_fit_compiled_trains_exactly_like_fit(kind):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 5)).astype(np.float32)  # the models' dtype: no cast, no warning
    y = rng.integers(0, 3 if kind != "logistic" else 2, 90)
    results = []
    for compiled in (False, True):
        model = MODELS[kind](np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("error", CompileWarning)
            history = fit(model, X, y, epochs=4, batch_size=16, l2=0.01, compile=compiled, progress=False)
        results.append((model, history))
    (m1, h1), (m2, h2) = results
    assert h1.loss == h2.loss and h1.accuracy == h2.accuracy
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert np.array_equal(p.numpy(), q.numpy())


def test_a_compiled_function_called_inside_a_recording_is_part_of_the_outer_tape():
    w = Tensor(np.arange(3.0), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    predict = tg.compile(lambda x: Tensor(x) * w)

    @tg.compile(strict=True)
    def step(x):
        opt.zero_grad()
        loss = predict(x).sum()
        loss.backward()
        opt.step()
        return loss

    expected = np.arange(3.0)
    for i in range(4):
        x = np.full(3, i + 1.0)
        step(x)
        expected -= 0.1 * x
    assert np.array_equal(w.numpy(), expected) and not predict.tapes


class BadShape(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad[:2]


def test_a_bad_rule_fails_while_recording_with_the_engines_message():
    w = Tensor(np.ones(3), requires_grad=True)

    @tg.compile
    def step():
        BadShape.apply(w).sum().backward()

    with pytest.raises(ValueError, match=r"badshape: backward returned a gradient of shape \(2,\) for input 0"):
        step()


# ---- names the step reads: rebinding one records again (tinygrad_lr/guards.py) --------------------


def run_both(step, values, assign, x=None):
    """The step's results, eager then compiled, as ``assign(v)`` rebinds what it reads before each call."""
    compiled, x = tg.compile(step, strict=True), np.arange(3.0) if x is None else x
    results = []
    for run in (step, compiled):
        out = []
        for v in values:
            assign(v)
            out.append(run(x).item())
        results.append(out)
    return results, compiled


SCHEDULE = [1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 0.5, 0.5, 0.5]


def test_a_rebound_closure_number_is_seen_by_the_replays():
    w, scale = Tensor(np.ones(3), requires_grad=True), 1.0

    def step(x):
        return (Tensor(x) * w).sum() * scale

    def assign(v):
        nonlocal scale
        scale = v

    (eager, compiled), run = run_both(step, SCHEDULE, assign)
    assert compiled == eager == [3.0 * v for v in SCHEDULE]
    assert [type(t) for t in run.tapes.values()] == [Tape]  # the last value replays


WEIGHTS = [Tensor(np.ones(3), requires_grad=True), Tensor(np.full(3, 5.0), requires_grad=True)]
CURRENT = WEIGHTS[0]


def test_a_rebound_global_tensor_is_seen_by_the_replays():
    def step(x):
        return (Tensor(x) * CURRENT).sum()

    def assign(i):
        global CURRENT
        CURRENT = WEIGHTS[i]

    (eager, compiled), _ = run_both(step, [0, 0, 0, 1, 1, 1, 0, 0, 0], assign)
    assert compiled == eager == [3.0, 3.0, 3.0, 15.0, 15.0, 15.0, 3.0, 3.0, 3.0]


class Scaled:
    """A step as a bound method reading ``self.config.scale`` and ``self.state['shift']``."""

    def __init__(self):
        self.w = Tensor(np.ones(3), requires_grad=True)
        self.config = type("Config", (), {})()
        self.config.scale = 1.0
        self.state = {"shift": 0.0}

    def step(self, x):
        return (Tensor(x) * self.w).sum() * self.config.scale + self.state["shift"]


@pytest.mark.parametrize("where", ["attribute", "dict item", "tensor attribute"])
def test_rebound_attributes_and_dict_items_are_seen_by_the_replays(where):
    s = Scaled()
    tensors = {v: Tensor(np.full(3, v), requires_grad=True) for v in set(SCHEDULE)}

    def assign(v):
        if where == "attribute":
            s.config.scale = v
        elif where == "dict item":
            s.state["shift"] = v
        else:
            s.w = tensors[v]

    (eager, compiled), _ = run_both(s.step, SCHEDULE, assign)
    assert compiled == eager
    assert len(set(eager)) == 3  # the rebinding did change the results


def test_a_step_that_rebinds_what_it_reads_on_every_call_runs_eagerly():
    class Counting:
        def __init__(self):
            self.calls, self.w = 0, Tensor(np.ones(3), requires_grad=True)

        def step(self, x):
            self.calls += 1
            return (Tensor(x) * self.w).sum() * self.calls

    reference = Counting()
    eager = [reference.step(np.arange(3.0)).item() for _ in range(6)]
    counting = Counting()
    compiled = tg.compile(counting.step)
    with pytest.warns(CompileWarning, match=re.escape("self.calls holds a new value on every call")):
        assert [compiled(np.arange(3.0)).item() for _ in range(6)] == eager
    assert counting.calls == 6  # every call ran the step's Python


def test_a_value_set_up_on_the_first_call_still_compiles():
    class Lazy:
        def __init__(self):
            self.w, self.opt = Tensor(np.ones(3), requires_grad=True), None

        def step(self, x):
            if self.opt is None:
                self.opt = optim.SGD([self.w], lr=0.1)
            self.opt.zero_grad()
            loss = (Tensor(x) * self.w).sum()
            loss.backward()
            self.opt.step()
            return loss

    lazy, eager = Lazy(), Lazy()
    compiled = tg.compile(lazy.step, strict=True)
    for i in range(6):
        x = np.full(3, float(i))
        assert compiled(x).item() == eager.step(x).item()
    assert np.array_equal(lazy.w.numpy(), eager.w.numpy())
    assert [type(t) for t in compiled.tapes.values()] == [Tape]


def test_unchanged_names_cost_no_recording():
    calls, scale = [], 2.0
    w = Tensor(np.ones(3), requires_grad=True)

    @tg.compile(strict=True)
    def step(x):
        calls.append(scale)
        return (Tensor(x) * w).sum() * scale

    for _ in range(10):
        step(np.ones(3))
    assert len(calls) == 2


class Holder:
    """A user's own container: the weight in a slot of an object in a list in a dict."""

    __slots__ = ("parts",)

    def __init__(self, w):
        self.parts = {"layers": [Scaled()]}
        self.parts["layers"][0].w = w

    def loss(self, x):
        return (Tensor(x) * self.parts["layers"][0].w).sum()


class Trainer:
    """The step as a method: ``self.params`` also holds the model's tensors, by the old names."""

    def __init__(self, model, y):
        self.model, self.y = model, y
        self.params = model.parameters()

    def step(self, x):
        return self.model.loss(x, self.y)


def partial_loss(model, y, x):
    return model.loss(x, y)


@pytest.mark.parametrize("where", ["model attribute", "own container", "trainer", "partial"])
def test_a_parameter_replaced_where_the_step_finds_it_is_seen_by_the_replays(where):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    model, holder = models.MLP([4, 5, 3], seed=0), Holder(Tensor(np.ones(4), requires_grad=True))
    trainer = Trainer(model, y)

    def step(x):  # reaches the tensor inside model.loss / holder.loss, not by a name in its own code
        return model.loss(x, y) if where == "model attribute" else holder.loss(x)

    shape = (4,) if where == "own container" else (5, 3)
    weights = {v: Tensor(v * np.arange(np.prod(shape)).reshape(shape), requires_grad=True) for v in SCHEDULE}

    def assign(v):  # a new tensor when the schedule moves on
        if where == "own container":
            holder.parts["layers"][0].w = weights[v]
        else:
            model.W1 = weights[v]

    chosen = {"trainer": trainer.step, "partial": functools.partial(partial_loss, model, y)}.get(where, step)
    (eager, compiled), _ = run_both(chosen, SCHEDULE, assign, X)
    assert compiled == eager
    assert len(set(eager)) == 3


def test_anomaly_mode_switched_on_after_recording_is_not_skipped_by_replays():
    w = Tensor(np.ones(3), requires_grad=True)
    compiled = tg.compile(lambda x: (Tensor(x) * w).log().sum())
    for _ in range(3):
        compiled(np.ones(3))  # a tape, replayed
    with tg.detect_anomaly(), np.errstate(invalid="ignore"), pytest.raises(tg.AnomalyError, match="log"):
        compiled(-np.ones(3))  # NaN from log: recorded (so run eagerly) under anomaly mode, and reported
    assert compiled(np.ones(3)).item() == 0.0  # and outside it the tape replays again


@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("bad", [-1, 3])
def test_replays_refuse_an_out_of_range_label_as_eager_does(kernels, bad):
    rng = np.random.default_rng(0)
    model = models.SoftmaxRegression(4, 3, seed=0)
    step = training_step(model, optim.SGD(model.parameters(), lr=0.1))
    compiled, X = tg.compile(step, strict=True, kernels=kernels), rng.standard_normal((8, 4))
    for _ in range(3):
        compiled(X, rng.integers(0, 3, 8))
    before = [p.numpy().copy() for p in model.parameters()]
    y = np.array([0, 1, 2, 0, 1, 2, 0, bad])
    with pytest.raises(ValueError, match=re.escape(f"labels must be in [0, 3); got {bad} at index 7")):
        compiled(X, y)
    assert all(np.array_equal(p.numpy(), b) for p, b in zip(model.parameters(), before))
    assert all(p.grad is None for p in model.parameters())  # zero_grad() ran, as in an eager step that fails


def test_grads_cleared_after_the_step_stay_cleared_after_a_replay():
    w = Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    @tg.compile(strict=True)
    def step(x):
        loss = (Tensor(x) * w).sum()
        loss.backward()
        opt.step()
        opt.zero_grad()  # last, as some loops do
        return loss

    for i in range(4):
        step(np.full(3, float(i)))
        assert w.grad is None
    assert np.array_equal(w.numpy(), 1 - 0.1 * np.full(3, 6.0))


OFF_GRAPH = {  # ops that read tensors outside the graph (a mask, detach's alias, argmax) inside a step
    "where on a mask": lambda t, y: tg.where(t > 0, t, t * 0.1).sum(),
    "mask against a NumPy number": lambda t, y: tg.where(t <= np.int64(0), t, t * 0.1).sum(),
    "log_softmax": lambda t, y: -(t.log_softmax(axis=1) * F.one_hot(y, 5)).sum(),
    "logsumexp": lambda t, y: F.logsumexp(t, axis=1).sum(),
    "mse on a detached target": lambda t, y: F.mse(t, t.detach() * 0.5),
    "argmax equals labels": lambda t, y: (t * (t.argmax(axis=1) == y).astype(t.dtype).unsqueeze(1)).sum(),
}


def train_off_graph(loss_of, compiled):
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((4, 5)), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = loss_of(Tensor(x) * w, y)
        loss.backward()
        opt.step()
        return loss

    run = tg.compile(step, strict=True) if compiled else step
    data = [(rng.standard_normal((4, 5)), rng.integers(0, 5, 4)) for _ in range(6)]
    return [run(x, y).item() for x, y in data], w.numpy()


@pytest.mark.parametrize("name", sorted(OFF_GRAPH))
def test_masks_detach_one_hot_and_argmax_inside_a_step_replay_like_eager(name):
    (eager, w_eager), (compiled, w_compiled) = (train_off_graph(OFF_GRAPH[name], c) for c in (False, True))
    assert eager == compiled and np.array_equal(w_eager, w_compiled)
    assert len(set(eager)) > 1  # the data did change the losses


def test_one_hot_in_a_replay_refuses_a_bad_label_as_eager_does():
    w = Tensor(np.ones((4, 3)), requires_grad=True)
    compiled = tg.compile(lambda x, y: (Tensor(x) @ w * F.one_hot(y, 3)).sum(), strict=True)
    x = np.ones((8, 4))
    for _ in range(3):
        compiled(x, np.arange(8) % 3)
    with pytest.raises(ValueError, match=re.escape("one_hot: labels must be in [0, 3); got -1 at index 7")):
        compiled(x, np.array([0, 1, 2, 0, 1, 2, 0, -1]))


def test_a_parameter_passed_as_an_argument_and_stepped_by_the_optimizer_compiles():
    """Only NumPy writes into an argument force eager, not the optimizer's update of one."""
    runs = []
    for compiled in (False, True):
        w = Tensor(np.ones(3), requires_grad=True)
        opt = optim.SGD([w], lr=0.1)

        def step(x, w, opt=opt):
            opt.zero_grad()
            loss = ((Tensor(x) * w) ** 2).sum()
            loss.backward()
            opt.step()
            return loss

        run = tg.compile(step, strict=True) if compiled else step
        runs.append(([run(np.arange(3.0) + i, w).item() for i in range(5)], w.numpy()))
    assert runs[0][0] == runs[1][0] and np.array_equal(runs[0][1], runs[1][1])
