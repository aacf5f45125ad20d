"""Memory stays flat: each training step's graph is freed when its loss is dropped.

A node keeps its input tensors and never its output, so a graph has no reference
cycles and reference counting frees it at once; ``backward`` also drops each
node's saved arrays as it passes. Measured three ways: the resident set size
(RSS, from /proc/self/statm) over 10 000 softmax-regression steps, weak references
to every tensor and node of one step's graph, and a control showing that the RSS
probe does see a leak when the graphs are kept alive.
"""

import gc
import os
import weakref

import numpy as np
import pytest

from tinygrad_lr import Tensor, models, optim

STEPS = 10_000
BOUND = 5 * 2**20  # bytes of RSS growth allowed over all the steps (allocator noise, not per step)

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="RSS is read from /proc (Linux)")


def rss() -> int:
    """Resident set size of this process in bytes (field 2 of /proc/self/statm, in pages)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def problem():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 20)), rng.integers(0, 5, 64)
    model = models.SoftmaxRegression(20, 5)
    return X, y, model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def graph_of(root: Tensor) -> tuple[list[Tensor], list[object]]:
    """Every tensor and node reachable from ``root`` (iteratively)."""
    tensors, nodes, stack, seen = [], [], [root], set()
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        tensors.append(t)
        if t._ctx is not None:
            nodes.append(t._ctx)
            stack.extend(t._ctx.parents)
    return tensors, nodes


def test_ten_thousand_training_steps_keep_rss_flat():
    X, y, model, opt = problem()

    def step() -> float:
        loss = model.loss(X, y, l2=1e-3)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(500):  # warm-up: optimizer buffers, NumPy's and the allocator's caches
        step()
    gc.collect()
    before = rss()
    losses = [step() for _ in range(STEPS)]
    gc.collect()
    growth = rss() - before
    assert growth < BOUND, f"RSS grew by {growth / 2**20:.1f} MiB over {STEPS} steps"
    assert losses[-1] < losses[0]  # it really trained


def test_no_tensor_or_node_of_a_step_survives_it_even_without_the_cycle_collector():
    X, y, model, opt = problem()
    gc.disable()
    try:
        loss = model.loss(X, y, l2=1e-3)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tensors, nodes = graph_of(loss)
        assert len(nodes) >= 5
        assert all(node._saved is None for node in nodes if hasattr(node, "_saved"))  # backward freed them
        params = {id(p) for p in model.parameters()}
        refs = [weakref.ref(t) for t in tensors if id(t) not in params] + [weakref.ref(n) for n in nodes]
        del loss, tensors, nodes
        dead = [r() is None for r in refs]
        assert all(dead), f"{dead.count(False)} of {len(refs)} graph objects outlived the step"
        assert all(p.grad is not None and p.grad._ctx is None for p in model.parameters())  # grads hold no graph
    finally:
        gc.enable()


def test_the_rss_probe_sees_a_leak_when_graphs_are_kept():
    """The control: keeping each step's graph (retain_graph, loss stored) grows RSS far past the bound."""
    X, y, model, opt = problem()
    kept = []

    def step(retain: bool) -> None:
        loss = model.loss(X, y, l2=1e-3)
        opt.zero_grad()
        loss.backward(retain_graph=retain)
        opt.step()
        if retain:
            kept.append(loss)

    for _ in range(500):
        step(retain=False)
    gc.collect()
    before = rss()
    for _ in range(2_000):
        step(retain=True)
    assert rss() - before > BOUND
