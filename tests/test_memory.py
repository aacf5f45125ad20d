"""Memory stays flat: each training step's graph is freed when its loss is dropped.

A node keeps its input tensors and never its output, so a graph has no reference
cycles and reference counting frees it at once; ``backward`` also drops each
node's saved arrays as it passes. Measured three ways: the resident set size
(RSS, from /proc/self/statm) over 10 000 softmax-regression steps, in a fresh
interpreter so pages freed by earlier tests cannot hide a leak; a control showing
that the same probe does see a leak when the graphs are kept alive; and weak
references to every tensor and node of one step's graph.
"""

import gc
import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

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


def train(steps: int, keep_graphs: bool) -> tuple[int, list[float]]:
    """RSS growth over ``steps`` steps after a warm-up, and the losses; ``keep_graphs`` leaks on purpose."""
    X, y, model, opt = problem()
    kept = []

    def step(keep: bool) -> float:
        loss = model.loss(X, y, l2=1e-3)
        opt.zero_grad()
        loss.backward(retain_graph=keep)
        opt.step()
        if keep:
            kept.append(loss)
        return loss.item()

    for _ in range(500):  # warm-up: optimizer buffers, NumPy's and the allocator's caches
        step(keep=False)
    gc.collect()
    before = rss()
    losses = [step(keep_graphs) for _ in range(steps)]
    gc.collect()
    return rss() - before, losses


def train_in_a_fresh_process(steps: int, keep_graphs: bool) -> tuple[int, list[float]]:
    """Run :func:`train` in a new interpreter: RSS in this one depends on what earlier tests freed
    (reused free pages would hide a leak)."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    args = [sys.executable, __file__, str(steps), "keep" if keep_graphs else "free"]
    done = subprocess.run(args, env=env, cwd=root, capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout)
    return result["growth"], result["losses"]


def test_ten_thousand_training_steps_keep_rss_flat():
    growth, losses = train_in_a_fresh_process(STEPS, keep_graphs=False)
    assert growth < BOUND, f"RSS grew by {growth / 2**20:.1f} MiB over {STEPS} steps"
    assert losses[-1] < losses[0]  # it really trained


def test_the_rss_probe_sees_a_leak_when_graphs_are_kept():
    """The control: keeping each step's graph (retain_graph, loss stored) grows RSS far past the bound."""
    growth, _ = train_in_a_fresh_process(2_000, keep_graphs=True)
    assert growth > BOUND


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


if __name__ == "__main__":  # the child of train_in_a_fresh_process
    growth, losses = train(int(sys.argv[1]), keep_graphs=sys.argv[2] == "keep")
    print(json.dumps({"growth": growth, "losses": losses[:1] + losses[-1:]}))
