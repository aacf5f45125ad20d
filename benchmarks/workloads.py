"""The seven workloads of issue 6, each returning a table.

One training step is always: loss, gradients, in-place SGD update. Every
system starts from the same parameters and sees the same data in the same order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import data
from .systems import BASELINE, CHAIN_FACTOR, CHAIN_SIZE, System, Trainer
from .timing import Timing, side_by_side, side_by_side_once

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Config:
    """Sizes and repeats; ``quick`` shrinks everything for a smoke run."""

    quick: bool = False
    repeats: int | None = None  # None: each workload's own default
    mnist_dir: str | None = None  # tile the real MNIST test set instead of synthetic data
    lr: float = 0.1
    batch_size: int = 256

    def reps(self, full: int, quick: int) -> int:
        return self.repeats if self.repeats is not None else (quick if self.quick else full)

    @property
    def n_mnist(self) -> int:
        return 2_048 if self.quick else data.MNIST_SHAPE[0]

    @property
    def step_seconds(self) -> float:
        """Length of one timing sample for the tiny full-batch steps."""
        return 0.002 if self.quick else 0.05

    @property
    def chain_depths(self) -> tuple[int, ...]:
        return (100, 1_000) if self.quick else (1_000, 10_000, 100_000)


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        """A Markdown table, so a run can be pasted into docs/benchmarks.md as it is."""
        lines = [f"### {self.title}", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        lines += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines).rstrip() + "\n"


def _fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def _timing_table(title: str, unit: str, timings: dict[str, Timing], notes: list[str]) -> Table:
    base = timings[BASELINE].median
    table = Table(title, ["system", f"median per {unit}", "× hand NumPy", "spread (max-min)/median"], notes=notes)
    for name, t in timings.items():
        table.rows.append([name, _fmt_time(t.median), f"{t.median / base:.2f}", f"{t.spread:.0%}"])
    return table


def _trainers(systems: list[System], kind: str, params: dict[str, np.ndarray], lr: float) -> dict[str, Trainer]:
    return {s.name: s.trainer(kind, params, lr) for s in systems}


# ---- 1, 2: full-batch steps ---------------------------------------------------------------


def _full_batch(
    title: str, kind: str, X: np.ndarray, y: np.ndarray, sizes: list[int], systems: list[System], config: Config
) -> Table:
    trainers = _trainers(systems, kind, data.initial_params(kind, sizes, X.dtype.type), config.lr)
    prepared = {name: t.prepare(X, y) for name, t in trainers.items()}
    steps = {name: (lambda t=t, d=prepared[name]: t.step(*d)) for name, t in trainers.items()}
    timings = side_by_side(steps, config.reps(15, 3), target=config.step_seconds, warmup=5)
    shape = f"{X.shape[0]}×{X.shape[1]} {X.dtype}"
    notes = [f"{shape}, full batch; each sample times ~{config.step_seconds * 1e3:g} ms of steps"]
    return _timing_table(title, "step", timings, notes)


def logistic_iris(systems: list[System], config: Config) -> Table:
    X, y = data.iris_binary()
    return _full_batch("1. logistic regression, iris 100×4, float64", "logistic", X, y, [4], systems, config)


def softmax_digits(systems: list[System], config: Config) -> Table:
    X, y = data.digits()
    return _full_batch("2. softmax regression, digits 1797×64, float64", "softmax", X, y, [64, 10], systems, config)


# ---- 3, 4: one shuffled epoch of minibatches --------------------------------------------------


def run_epoch(trainer: Trainer, X: np.ndarray, y: np.ndarray, batch_size: int, seed: int = 0) -> None:
    """One epoch in shuffled minibatches; the batch gather is NumPy for every system."""
    for idx in data.batches(len(y), batch_size, np.random.default_rng(seed)):
        trainer.step(*trainer.prepare_batch(X[idx], y[idx]))


def floor_epoch(X: np.ndarray, y: np.ndarray, W: np.ndarray, batch_size: int, seed: int = 0) -> None:
    """What any softmax-regression epoch must do: gather each batch, X W, the label gather, Xᵀ G."""
    for idx in data.batches(len(y), batch_size, np.random.default_rng(seed)):
        Xb, yb = X[idx], y[idx]
        logits = Xb @ W
        logits[np.arange(len(yb)), yb]
        Xb.T @ logits


def _epoch_data(config: Config) -> tuple[np.ndarray, np.ndarray, str]:
    X, y = data.mnist_like(config.n_mnist, mnist_dir=config.mnist_dir)
    source = f"real MNIST test set tiled from {config.mnist_dir}" if config.mnist_dir else "synthetic, MNIST's shape"
    return X, y, f"{X.shape[0]}×{X.shape[1]} {X.dtype} ({source}), batch {config.batch_size}, shuffled"


def _epochs(title: str, kind: str, sizes: list[int], systems: list[System], config: Config, floor: bool) -> Table:
    X, y, described = _epoch_data(config)
    params = data.initial_params(kind, sizes, np.float32)
    trainers = _trainers(systems, kind, params, config.lr)
    epochs: dict[str, Callable[[], object]] = {
        name: (lambda t=t: run_epoch(t, X, y, config.batch_size)) for name, t in trainers.items()
    }
    notes = [described, "one sample = one epoch"]
    if floor:
        W = params["W"]
        epochs["floor (matmuls + gathers)"] = lambda: floor_epoch(X, y, W, config.batch_size)
        notes.append("floor: per batch only X[idx], X W, logits[rows, y] and Xᵀ G; no loss, no softmax, no update")
    timings = side_by_side(epochs, config.reps(5, 2), warmup=1)
    return _timing_table(title, "epoch", timings, notes)


def softmax_mnist(systems: list[System], config: Config) -> Table:
    title = "3. softmax regression, MNIST-sized, float32, one epoch"
    return _epochs(title, "softmax", [784, 10], systems, config, floor=True)


def mlp_mnist(systems: list[System], config: Config) -> Table:
    title = "4. 784-128-10 tanh MLP, MNIST-sized, float32, one epoch"
    return _epochs(title, "mlp", [784, 128, 10], systems, config, floor=False)


# ---- 5: second-order solver vs scikit-learn ------------------------------------------------------


SOLVER_C = 1.0
SOLVER_REACHED = 1e-10  # relative objective gap that counts as "at scikit-learn's optimum"


def softmax_objective(coef: np.ndarray, intercept: np.ndarray, X: np.ndarray, y: np.ndarray, C: float) -> float:
    """scikit-learn's multinomial objective per sample: mean log-loss + ||coef||² / (2 C n)."""
    logits = X @ coef.T + intercept
    shift = logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(logits - shift).sum(axis=1)) + shift[:, 0]
    return float(np.mean(log_norm - logits[np.arange(len(y)), y]) + (coef**2).sum() / (2 * C * len(y)))


def solver_digits(systems: list[System], config: Config) -> Table:
    from sklearn.linear_model import LogisticRegression

    X, y = data.digits()
    if config.quick:
        X, y = X[:300], y[:300]
    n, d = X.shape
    table = Table(
        f"5. time to scikit-learn's optimum, softmax regression on digits {n}×{d}, float64, C={SOLVER_C}",
        ["solver", "median fit time", "× sklearn lbfgs", "iterations", "tol used", "objective gap (relative)"],
    )
    repeats = config.reps(3, 1)

    def sklearn_fit() -> LogisticRegression:
        return LogisticRegression(C=SOLVER_C, solver="lbfgs", tol=1e-12, max_iter=10_000).fit(X, y)

    ref = sklearn_fit()
    f_star = softmax_objective(ref.coef_, ref.intercept_, X, y, SOLVER_C)
    sk_time = side_by_side({"sklearn": sklearn_fit}, repeats, warmup=0)["sklearn"].median
    table.rows.append(["sklearn lbfgs", _fmt_time(sk_time), "1.00", str(int(ref.n_iter_[0])), "1e-12", "0 (reference)"])
    table.notes.append(f"objective: mean log-loss + ||W||²/(2·C·n), n={n}, d={d}; reference value {f_star:.12g}")
    table.notes.append(
        f"each tinygrad_lr solver runs with tol 1e-4, 1e-6, ... until its objective is within "
        f"{SOLVER_REACHED:g} (relative) of scikit-learn's; that fit is timed"
    )

    if not any(s.name == "tinygrad_lr" for s in systems):
        table.notes.append("tinygrad_lr not selected: only the reference was run")
        return table
    try:
        from tinygrad_lr import models, solvers

        solver_fns = {"newton_cg": solvers.newton_cg, "lbfgs": solvers.lbfgs}
    except (ImportError, AttributeError) as e:
        table.notes.append(f"tinygrad_lr solvers skipped: tinygrad_lr.solvers.newton_cg / lbfgs not available ({e})")
        return table

    l2 = 1.0 / (SOLVER_C * n)
    for name, solve in solver_fns.items():

        def fit(tol: float, solve=solve):
            model = models.SoftmaxRegression(d, 10)
            for p in model.parameters():
                p.data[...] = 0  # scikit-learn's start
            result = solve(model, X, y, l2=l2, tol=tol, max_iter=10_000)
            return model, result

        for tol in (1e-4, 1e-6, 1e-8, 1e-10, 1e-12):
            model, result = fit(tol)
            f = softmax_objective(model.W.data.T, model.b.data, X, y, SOLVER_C)
            gap = (f - f_star) / abs(f_star)
            if gap <= SOLVER_REACHED:
                break
        t = side_by_side({name: lambda tol=tol, fit=fit: fit(tol)}, repeats, warmup=0)[name].median
        reached = "" if gap <= SOLVER_REACHED else " (not reached)"
        row = [f"tinygrad_lr {name}", _fmt_time(t), f"{t / sk_time:.2f}", str(result.n_iter), f"{tol:g}"]
        table.rows.append([*row, f"{gap:.1e}{reached}"])
    return table


# ---- 6: peak memory of workload 3 in a fresh process ----------------------------------------------


def peak_memory(systems: list[System], config: Config) -> Table:
    table = Table(
        "6. peak RSS of workload 3 (one epoch, softmax regression) in a fresh process",
        ["system", "RSS after setup", "peak during epoch", "epoch's own peak", "peak − hand NumPy's"],
        notes=[
            "a fresh `python -m benchmarks.memory` process per system; setup = imports, data, model",
            "peak: VmHWM, reset after setup (ru_maxrss off Linux, where it includes the setup's own peak)",
            f"data: {config.n_mnist}×784 float32 = {config.n_mnist * 784 * 4 / 2**20:.0f} MiB",
        ],
    )
    results = {s.name: measure_memory(s.name, config) for s in systems}
    if not all(r.get("peak_reset") for r in results.values()):
        table.notes.append("the peak counter could not be reset here: peaks include the setup's transients")
    base = results[BASELINE]["peak_kib"]
    for name, r in results.items():
        table.rows.append(
            [
                name,
                f"{r['setup_kib'] / 1024:.1f} MiB",
                f"{r['peak_kib'] / 1024:.1f} MiB",
                f"{(r['peak_kib'] - r['setup_kib']) / 1024:+.1f} MiB",
                f"{(r['peak_kib'] - base) / 1024:+.1f} MiB",
            ]
        )
    return table


def measure_memory(system: str, config: Config) -> dict[str, int]:
    """Run ``benchmarks.memory`` for one system in a fresh interpreter and read its JSON line."""
    cmd = [sys.executable, "-m", "benchmarks.memory", system, "--n", str(config.n_mnist)]
    if config.mnist_dir:
        cmd += ["--mnist-dir", config.mnist_dir]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"memory benchmark for {system} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- 7: backward through long chains -----------------------------------------------------------------


def chain_backward(systems: list[System], config: Config) -> Table:
    depths = config.chain_depths
    systems = [s for s in systems if s.chain is not None]
    table = Table(
        "7. backward through a chain of ops (µs per op; flat = linear)",
        ["system", *[f"depth {d:,}" for d in depths], f"per-op ratio {depths[-1]:,} / {depths[0]:,}", "gradient"],
        notes=[
            f"y = x; y = y * {CHAIN_FACTOR} repeated `depth` times; y.sum().backward(); x has {CHAIN_SIZE} float64 "
            "entries; only the backward pass is timed (the forward is recorded untimed before each sample)",
            "numpy row: the floor, one NumPy multiply per op in a Python loop",
        ],
    )
    per_op: dict[str, list[str]] = {s.name: [] for s in systems}
    firsts: dict[str, float] = {}
    lasts: dict[str, float] = {}
    correct: dict[str, bool] = {s.name: True for s in systems}
    for depth in depths:
        setups = {s.name: (lambda s=s, depth=depth: s.chain(depth)) for s in systems}
        timings, results = side_by_side_once(setups, config.reps(3, 2))
        expected = np.full(CHAIN_SIZE, CHAIN_FACTOR**depth)
        for name, t in timings.items():
            us = t.median / depth * 1e6
            per_op[name].append(f"{us:.2f}")
            firsts.setdefault(name, us)
            lasts[name] = us
            correct[name] &= bool(np.allclose(np.asarray(results[name]), expected, rtol=1e-9))
    for s in systems:
        ratio = lasts[s.name] / firsts[s.name]
        table.rows.append([s.name, *per_op[s.name], f"{ratio:.2f}", "ok" if correct[s.name] else "WRONG"])
    return table


WORKLOADS: dict[int, tuple[str, Callable[[list[System], Config], Table]]] = {
    1: ("logistic-iris", logistic_iris),
    2: ("softmax-digits", softmax_digits),
    3: ("softmax-mnist", softmax_mnist),
    4: ("mlp-mnist", mlp_mnist),
    5: ("solver-digits", solver_digits),
    6: ("memory", peak_memory),
    7: ("chain", chain_backward),
}


def run(numbers: list[int], systems: list[System], config: Config, emit: Callable[[str], None] = print) -> list[Table]:
    """Run the chosen workloads in order, emitting each table as soon as it is done."""
    tables = []
    for number in numbers:
        start = time.perf_counter()
        table = WORKLOADS[number][1](systems, config)
        table.notes.append(f"workload took {time.perf_counter() - start:.1f} s")
        emit(table.render())
        tables.append(table)
    return tables
