"""Every row of docs/errors.md, run: bad input raises exactly the documented type and message.

The doc is the single place the expected messages live. Each table row there is
``| `id` | bad input | `ExceptionType` | `message … fragments` |``; this file holds,
under the same ids and in the same order, the call that makes each bad input.
A test checks that the two lists match, so a row cannot lose its test and a test
cannot lose its row. The message fragments (split at ``…``) must appear in the
raised message in order.

The second half shows that nothing is written half-way: a failed save keeps the
old checkpoint and leaves no temporary file, a failed ``fit``/``backward``/refit/
``load_state_dict`` leaves parameters, gradients and optimizer state as they were.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import EXCEPTIONS, doc_rows, documented_exceptions
from sklearn.exceptions import NotFittedError

import tinygrad_lr as tg
from tinygrad_lr import Tensor, data, io, model_gradcheck, models, optim, solvers, splits, sweep
from tinygrad_lr import functional as F
from tinygrad_lr.compiler import UntraceableError
from tinygrad_lr.data import IDXError
from tinygrad_lr.estimators import LogisticRegressionClassifier, MLPClassifier, SoftmaxRegressionClassifier
from tinygrad_lr.graph import GraphvizNotFoundError, render
from tinygrad_lr.io import CheckpointError
from tinygrad_lr.train import fit

# ---- the bad inputs -------------------------------------------------------------------------------


@dataclass
class Env:
    """What a case may need: a scratch directory and pytest's monkeypatch."""

    tmp: Path
    monkeypatch: pytest.MonkeyPatch


@dataclass
class Case:
    id: str
    error: type[Exception]
    run: Callable[[Env], Any]


def t23() -> Tensor:
    return Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, name="w")


def freed_graph(env: Env) -> None:
    w = t23()
    y = (w * w).sum()
    y.backward()
    y.backward()


def grad_of_unused_input(env: Env) -> None:
    w, u = t23(), Tensor(np.ones(2), requires_grad=True, name="u")
    tg.grad((w * 2).sum(), [w, u])


class WrongGradientCount(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


def anomaly(env: Env) -> None:
    with tg.detect_anomaly():
        Tensor([-1.0], requires_grad=True).log()


def update_leaf_outside_no_grad(env: Env) -> None:
    w = t23()
    w -= 1


def assign_into_recorded(env: Env) -> None:
    (t23() * 2)[0] = 1.0


def backward_after_step(env: Env) -> None:
    w = t23()
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    optim.SGD([w], lr=0.1).step()
    loss.backward()


def set_data(value: Any) -> Callable[[Env], None]:
    def run(env: Env) -> None:
        t23().data = value

    return run


class ListGradient(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, grad):
        return [1.0]


def bad_hook_result(env: Env) -> None:
    def bad_hook(g):
        return np.zeros(3)

    w = t23()
    w.register_hook(bad_hook)
    (w * 2).sum().backward()


def check_float32_model(env: Env) -> None:
    from tinygrad_lr.gradcheck import check_model

    check_model(models.SoftmaxRegression(3, 2, dtype=np.float32), X20, Y20)


def logits32() -> np.ndarray:
    return np.zeros((3, 2))


RNG = np.random.default_rng(0)
X20 = RNG.standard_normal((20, 3))
Y20 = np.arange(20) % 2


def with_value(value: float) -> np.ndarray:
    X = X20.copy()
    X[4, 1] = value
    return X


def fit20(X: Any = X20, y: Any = Y20, model: models.Model | None = None, **kwargs: Any) -> Any:
    return fit(models.SoftmaxRegression(3, 2) if model is None else model, X, y, **kwargs)


def diverging_fit(env: Env) -> None:
    model = models.MLP([1, 4, 2], activation="relu", dtype=np.float32)
    with np.errstate(all="ignore"):
        fit(model, np.array([[1e30], [-1e30]], np.float32), np.array([0, 1]), batch_size=2, epochs=5,
            optimizer=optim.SGD(model.parameters(), lr=1e30))  # fmt: skip


def write(env: Env, name: str, content: bytes) -> Path:
    path = env.tmp / name
    path.write_bytes(content)
    return path


def idx_header(n: int) -> bytes:
    return b"\x00\x00\x08\x01" + n.to_bytes(4, "big")


def checkpoint(env: Env, model: models.Model | None = None) -> Path:
    path = env.tmp / "model.npz"
    io.save(models.SoftmaxRegression(4, 2) if model is None else model, path)
    return path


def truncated_checkpoint(env: Env) -> None:
    content = checkpoint(env).read_bytes()
    io.load(write(env, "cut.npz", content[: len(content) // 2]))


def object_array_checkpoint(env: Env) -> None:
    with np.load(checkpoint(env)) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["param/W"] = np.array([None, 1], dtype=object)
    np.savez(env.tmp / "objects.npz", **arrays)
    io.load(env.tmp / "objects.npz")


def shape_mismatched_checkpoint(env: Env) -> None:
    with np.load(checkpoint(env)) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["param/W"] = np.ones((5, 2))
    np.savez(env.tmp / "shape.npz", **arrays)
    io.load(env.tmp / "shape.npz")


def first_batch_overflow(env: Env) -> None:
    with np.errstate(all="ignore"), pytest.warns(UserWarning, match="every batch is cast"):
        fit20(np.full((20, 3), 1e300), model=models.SoftmaxRegression(3, 2, dtype=np.float32))


def step_with_gradient(value: float, lr: float, momentum: float = 0.0) -> None:
    w = t23()
    opt = optim.SGD([w], lr=lr, momentum=momentum)
    (w * value).sum().backward()
    with np.errstate(all="ignore"):
        opt.step()


def with_value_at(row: int, value: float) -> np.ndarray:
    X = X20.copy()
    X[row, 0] = value
    return X


def huge_idx_header() -> bytes:
    return b"\x00\x00\x08\x03" + (2**32 - 1).to_bytes(4, "big") + (1000).to_bytes(4, "big") * 2


def idx_file(array: np.ndarray, code: int) -> bytes:
    dims = b"".join(n.to_bytes(4, "big") for n in array.shape)
    return bytes([0, 0, code, array.ndim]) + dims + array.astype(data.IDX_DTYPES[code]).tobytes()


def mnist_with_labels(env: Env, labels: np.ndarray, code: int) -> None:
    write(env, "t10k-images-idx3-ubyte", idx_file(np.zeros((len(labels), 2, 2)), 0x08))
    write(env, "t10k-labels-idx1-ubyte", idx_file(labels, code))
    data.load_mnist(env.tmp)


def save_onto_a_fifo(env: Env) -> None:
    os.mkfifo(env.tmp / "pipe")
    io.save(models.LogisticRegression(2), env.tmp / "pipe")


def save_onto_a_read_only_file(env: Env) -> None:
    write(env, "kept.npz", b"").chmod(0o444)
    io.save(models.LogisticRegression(2), env.tmp / "kept.npz")


SGD_STATE = {"type": "SGD", "hyper": {"lr": 0.1}, "steps": 0, "buffers": {"momentum": [False, False]}}
PCG64_NEGATIVE = {"bit_generator": "PCG64", "state": {"state": -1, "inc": 1}, "has_uint32": 0, "uinteger": 0}


def edited_checkpoint(env: Env, change: Callable[[dict, dict], None], savez: Callable = np.savez) -> None:
    """A checkpoint whose arrays and metadata ``change`` edits (as a tampering user would), then loaded."""
    with np.load(checkpoint(env)) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    change(arrays, meta)
    arrays.setdefault("meta", np.array(json.dumps(meta)))
    savez(env.tmp / "edited.npz", **arrays)
    io.load_checkpoint(env.tmp / "edited.npz")


def save_with_an_optimizer_over_a_frozen_parameter(env: Env) -> None:
    model = models.LogisticRegression(2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    model.b.requires_grad_(False)
    io.save(model, env.tmp / "m.npz", optimizer=opt)


def missing_dot(env: Env) -> None:
    env.monkeypatch.setenv("PATH", str(env.tmp))  # an empty directory: no `dot` anywhere
    render((t23() * 2).sum(), env.tmp / "graph.svg")


class Custom(models.Model):
    """A user's model: one Dense layer; ``config`` and layer names are set per test."""

    def __init__(self, config: Any = None, names: tuple[tuple[str, str], ...] = (("W", "b"),)) -> None:
        self.n_features, self.n_classes, self._config = 3, 2, config or {}
        self.layers = [models.Dense(3, 2, names=n) for n in names]

    def config(self) -> dict[str, Any]:
        return self._config

    def forward(self, X: Tensor) -> Tensor:
        return self.layers[0](X)


class Empty(Custom):
    def __init__(self) -> None:
        super().__init__(names=())


class Twice(Custom):
    def __init__(self) -> None:
        super().__init__(names=(("W", "b"), ("W", "b")))


def rows_with_nan(env: Env) -> None:
    X = X20[:5].copy()
    X[3, 1] = np.nan
    models.SoftmaxRegression(3, 2).predict(X)


def softmax_3_2() -> models.SoftmaxRegression:
    return models.SoftmaxRegression(3, 2)


def estimator(**params: Any) -> SoftmaxRegressionClassifier:
    return SoftmaxRegressionClassifier(**params)


def streamed(X: Any) -> SoftmaxRegressionClassifier:
    """An estimator after a first partial_fit on X (20 rows, classes 0 and 1)."""
    return estimator(solver="sgd").partial_fit(X, Y20, classes=[0, 1])


def memmap(env: Env, X: np.ndarray) -> np.ndarray:
    np.save(env.tmp / f"X{X.shape[1]}.npy", X)
    return np.load(env.tmp / f"X{X.shape[1]}.npy", mmap_mode="r")


CASES = [
    # Tensor: shapes and dtypes
    Case("add-shape", ValueError, lambda env: Tensor(np.ones((2, 3))) + Tensor(np.ones(4))),
    Case("sub-shape", ValueError, lambda env: Tensor(np.ones((2, 3))) - Tensor(np.ones(4))),
    Case("mul-shape", ValueError, lambda env: Tensor(np.ones((2, 3))) * Tensor(np.ones(4))),
    Case("div-shape", ValueError, lambda env: Tensor(np.ones((2, 3))) / Tensor(np.ones(4))),
    Case("pow-shape", ValueError, lambda env: Tensor(np.ones((2, 3))) ** Tensor(np.ones(4))),
    Case("array-operand-shape", ValueError, lambda env: np.ones(4) + Tensor(np.ones((2, 3)))),
    Case("matmul-shape", ValueError, lambda env: Tensor(np.ones((5, 3))) @ Tensor(np.ones((4, 2)))),
    Case("matmul-batch-shape", ValueError, lambda env: Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((5, 4, 2)))),
    Case("matmul-scalar", ValueError, lambda env: Tensor(2.0) @ Tensor(np.ones(3))),
    Case("data-string", TypeError, lambda env: Tensor("abc")),
    Case("data-object", TypeError, lambda env: Tensor([None, 1])),
    Case("data-complex", TypeError, lambda env: Tensor([1 + 2j])),
    Case("data-float16", TypeError, lambda env: Tensor(np.ones(2, np.float16))),
    Case("data-ragged", ValueError, lambda env: Tensor([[1, 2], [3]])),
    Case("dtype-argument", TypeError, lambda env: Tensor([1.0], dtype=np.int64)),
    Case("operand-string", TypeError, lambda env: Tensor(np.ones(3)) * "2"),
    Case("bool-arithmetic", TypeError, lambda env: (Tensor(np.ones(3)) > 0) - (Tensor(np.ones(3)) > 0)),
    Case("astype-int", TypeError, lambda env: t23().astype(np.int64)),
    Case("axis-range", ValueError, lambda env: t23().sum(axis=2)),
    Case("axis-type", TypeError, lambda env: t23().max(axis=1.5)),
    Case("axis-repeated", ValueError, lambda env: t23().sum(axis=(0, -2))),
    Case("mean-empty", ValueError, lambda env: Tensor(np.ones((0, 3))).mean()),
    Case("max-empty", ValueError, lambda env: Tensor(np.ones((0, 3))).max(axis=0)),
    Case("reshape-size", ValueError, lambda env: t23().reshape(4, 4)),
    Case("reshape-type", TypeError, lambda env: t23().reshape(2.5, 3)),
    Case("size-negative", ValueError, lambda env: Tensor.zeros(2, -1)),
    Case("transpose-axes", ValueError, lambda env: t23().transpose(0, 0)),
    Case("broadcast-shape", ValueError, lambda env: t23().broadcast_to((3, 3))),
    Case("index-range", IndexError, lambda env: t23()[5]),
    Case("index-float", IndexError, lambda env: t23()[np.array([0.5])]),
    Case("item-non-scalar", ValueError, lambda env: t23().item()),
    # autograd
    Case("backward-non-scalar", ValueError, lambda env: (t23() * 2).backward()),
    Case("backward-gradient-shape", ValueError, lambda env: (t23() * 2).backward(np.ones(3))),
    Case("backward-no-grad", RuntimeError, lambda env: Tensor(np.ones(3)).sum().backward()),
    Case("backward-freed-graph", tg.GraphFreedError, freed_graph),
    Case("grad-no-grad", RuntimeError, lambda env: tg.grad((t23() * 2).sum(), [Tensor(np.ones(2))])),
    Case("grad-unused", ValueError, grad_of_unused_input),
    Case("custom-backward-count", ValueError, lambda env: WrongGradientCount.apply(t23()).sum().backward()),
    Case("requires-grad-non-leaf", RuntimeError, lambda env: (t23() * 2).requires_grad_(False)),
    Case("anomaly-nan", tg.AnomalyError, anomaly),
    Case("inplace-leaf", RuntimeError, update_leaf_outside_no_grad),
    Case("inplace-shape", ValueError, lambda env: Tensor(np.zeros((2, 3))).__iadd__(np.ones((3, 3)))),
    Case("setitem-recorded", RuntimeError, assign_into_recorded),
    Case("modified-in-place", tg.ModifiedInPlaceError, backward_after_step),
    Case("data-set-tensor", TypeError, set_data(Tensor(np.zeros((2, 3))))),
    Case("data-set-shape", ValueError, set_data(np.zeros(3))),
    Case("iterate-0d", TypeError, lambda env: iter(Tensor(1.0))),
    Case("custom-backward-type", TypeError, lambda env: ListGradient.apply(t23()).sum().backward()),
    Case("hook-result", TypeError, bad_hook_result),
    Case("hook-no-grad", RuntimeError, lambda env: Tensor(np.ones(2)).register_hook(print)),
    Case("tensor-name", TypeError, lambda env: Tensor([1.0], name=3)),
    Case("check-model-float32", TypeError, check_float32_model),
    # more ops and functional transforms
    Case("concatenate-not-a-list", TypeError, lambda env: tg.concatenate(t23(), t23())),
    Case("concatenate-shape", ValueError, lambda env: tg.concatenate([t23(), Tensor(np.ones((2, 4)))])),
    Case("stack-shapes", ValueError, lambda env: tg.stack([t23(), Tensor(np.ones(3))])),
    Case("split-unequal", ValueError, lambda env: tg.split(t23(), 2, axis=1)),
    Case("where-condition", TypeError, lambda env: tg.where(t23(), 1.0, 0.0)),
    Case("clip-no-bounds", ValueError, lambda env: t23().clip()),
    Case("clip-tensor-bound", TypeError, lambda env: t23().clip(t23(), None)),
    Case("var-ddof", ValueError, lambda env: t23().var(axis=0, ddof=2)),
    Case("squeeze-size", ValueError, lambda env: t23().squeeze(1)),
    Case("moveaxis-count", ValueError, lambda env: t23().moveaxis((0, 1), 0)),
    Case("argmax-axis", TypeError, lambda env: t23().argmax(axis=(0, 1))),
    Case("repeat-negative", ValueError, lambda env: t23().repeat(-1, axis=0)),
    Case("einsum-ellipsis", ValueError, lambda env: tg.einsum("...i,ij->...j", t23(), t23())),
    Case("einsum-repeated", ValueError, lambda env: tg.einsum("ii->i", Tensor(np.eye(3)))),
    Case("einsum-shape", ValueError, lambda env: tg.einsum("ij,jk->ik", t23(), t23())),
    Case("vjp-v-missing", ValueError, lambda env: tg.vjp(lambda x: x * 2, t23())),
    Case("vjp-v-shape", ValueError, lambda env: tg.vjp(lambda x: x * 2, t23(), np.ones(3))),
    Case("jvp-v-tuple", TypeError, lambda env: tg.jvp(lambda x, y: x * y, (t23(), t23()), np.ones((2, 3)))),
    Case("transform-input", TypeError, lambda env: tg.jacobian(lambda x: x, np.ones(3))),
    Case("transform-output", TypeError, lambda env: tg.jacobian(lambda x: x.numpy(), t23())),
    Case("hessian-not-scalar", ValueError, lambda env: tg.hessian(lambda x: x * 2, t23())),
    # losses
    Case("ce-float-labels", TypeError, lambda env: F.cross_entropy(logits32(), np.array([0.0, 1.0, 1.0]))),
    Case("ce-negative-label", ValueError, lambda env: F.cross_entropy(logits32(), np.array([0, -1, 1]))),
    Case("ce-label-range", ValueError, lambda env: F.cross_entropy(logits32(), np.array([0, 2, 1]))),
    Case("ce-labels-length", ValueError, lambda env: F.cross_entropy(logits32(), np.array([0, 1]))),
    Case("ce-empty", ValueError, lambda env: F.cross_entropy(np.zeros((0, 2)), np.zeros(0, int))),
    Case("bce-shape", ValueError, lambda env: F.binary_cross_entropy_with_logits(np.zeros(3), np.zeros(2))),
    Case("one-hot-range", ValueError, lambda env: F.one_hot([0, 5], 3)),
    # models
    Case("model-features", ValueError, lambda env: models.SoftmaxRegression(3, 2)(np.ones((2, 4)))),
    Case("model-size", ValueError, lambda env: models.SoftmaxRegression(3, 0)),
    Case("model-size-type", TypeError, lambda env: models.LogisticRegression(2.5)),
    Case("mlp-activation", ValueError, lambda env: models.MLP([2, 3, 2], activation="gelu")),
    Case("mlp-one-output", ValueError, lambda env: models.MLP([2, 3, 1])),
    Case("dense-size", ValueError, lambda env: models.Dense(2, 0)),
    Case("parameter-names-twice", ValueError, lambda env: Twice().parameters()),
    Case("model-no-parameters", ValueError, lambda env: Empty()(X20)),
    Case("predict-nan", ValueError, rows_with_nan),
    Case("state-dict-not-dict", TypeError, lambda env: softmax_3_2().load_state_dict(softmax_3_2().parameters())),
    Case("state-dict-missing", ValueError, lambda env: softmax_3_2().load_state_dict({"W": np.ones((3, 2))})),
    Case("state-dict-not-array", TypeError,
         lambda env: softmax_3_2().load_state_dict({"W": np.ones((3, 2)).tolist(), "b": np.ones(2)})),
    Case("state-dict-shape", ValueError,
         lambda env: softmax_3_2().load_state_dict({"W": np.ones((2, 3)), "b": np.ones(2)})),
    Case("state-dict-dtype", ValueError,
         lambda env: softmax_3_2().load_state_dict({"W": np.ones((3, 2), np.float32), "b": np.ones(2)})),
    # fit
    Case("fit-nan", ValueError, lambda env: fit20(with_value(np.nan))),
    Case("fit-inf", ValueError, lambda env: fit20(with_value(-np.inf))),
    Case("fit-label-range", ValueError, lambda env: fit20(y=np.r_[Y20[:-1], 2])),
    Case("fit-label-negative", ValueError, lambda env: fit20(y=np.r_[-1, Y20[1:]])),
    Case("fit-label-float", TypeError, lambda env: fit20(y=Y20 + 0.5)),
    Case("fit-labels-length", ValueError, lambda env: fit20(y=Y20[:-1])),
    Case("fit-empty", ValueError, lambda env: fit20(X20[:0], Y20[:0])),
    Case("fit-x-dtype", TypeError, lambda env: fit20(X20.astype(str))),
    Case("fit-epochs", ValueError, lambda env: fit20(epochs=0)),
    Case("fit-batch-size", ValueError, lambda env: fit20(batch_size=0)),
    Case("fit-other-optimizer", ValueError,
         lambda env: fit20(optimizer=optim.SGD(models.SoftmaxRegression(3, 2).parameters(), lr=0.1))),
    Case("fit-diverges", FloatingPointError, diverging_fit),
    Case("fit-epochs-type", TypeError, lambda env: fit20(epochs=2.5)),
    Case("fit-callbacks", TypeError, lambda env: fit20(callbacks=[3])),
    Case("fit-compile", TypeError, lambda env: fit20(compile="no")),
    Case("fit-first-batch-overflow", FloatingPointError, first_batch_overflow),
    # optimizers
    Case("lr-zero", ValueError, lambda env: optim.SGD(t23(), lr=0)),
    Case("lr-negative", ValueError, lambda env: optim.Adam([t23()], lr=-0.1)),
    Case("lr-nan", ValueError, lambda env: optim.SGD([t23()], lr=float("nan"))),
    Case("lr-type", TypeError, lambda env: optim.SGD([t23()], lr="0.1")),
    Case("optimizer-no-parameters", ValueError, lambda env: optim.Adam([])),
    Case("step-gradient-nan", FloatingPointError, lambda env: step_with_gradient(np.nan, lr=0.1, momentum=0.9)),
    Case("step-overflow", FloatingPointError, lambda env: step_with_gradient(10.0, lr=1e308)),
    Case("solver-nan", ValueError,
         lambda env: solvers.newton_cg(models.SoftmaxRegression(3, 2), with_value_at(0, np.nan), Y20)),
    Case("solver-l2", ValueError, lambda env: solvers.lbfgs(models.SoftmaxRegression(3, 2), X20, Y20, l2=-1)),
    Case("solver-max-iter-type", TypeError,
         lambda env: solvers.newton_cg(models.SoftmaxRegression(3, 2), X20, Y20, max_iter=2.5)),
    # data
    Case("batch-size", ValueError, lambda env: list(data.batches(X20, Y20, 0))),
    Case("batch-labels-length", ValueError, lambda env: list(data.batches(X20, Y20[:5], 4))),
    Case("batch-size-type", TypeError, lambda env: list(data.batches(X20, Y20, 2.5))),
    Case("standardizer-complex", TypeError, lambda env: data.Standardizer().fit(X20 + 1j)),
    Case("idx-missing", FileNotFoundError, lambda env: data.load_idx(env.tmp / "nope-idx1-ubyte")),
    Case("idx-magic", IDXError, lambda env: data.load_idx(write(env, "f.idx", b"\x01\x02\x08\x01"))),
    Case("idx-truncated", IDXError, lambda env: data.load_idx(write(env, "f.idx", idx_header(16) + b"abc"))),
    Case("idx-gzip-corrupt", IDXError,
         lambda env: data.load_idx(write(env, "f.gz", gzip.compress(idx_header(16) + bytes(16))[:-12]))),
    Case("idx-empty", IDXError,
         lambda env: data.load_idx(write(env, "f.idx", b"\x00\x00\x08\x03" + bytes(4) + bytes([0, 0, 0, 28]) * 2))),
    Case("idx-huge", IDXError, lambda env: data.load_idx(write(env, "f.idx", huge_idx_header() + bytes(100)))),
    Case("idx-gzip-huge", IDXError,
         lambda env: data.load_idx(write(env, "f.gz", gzip.compress(huge_idx_header() + bytes(100))))),
    Case("mnist-missing", FileNotFoundError, lambda env: data.load_mnist(env.tmp)),
    Case("mnist-n-train", ValueError, lambda env: data.load_mnist(env.tmp, n_train=0)),
    Case("mnist-n-train-type", TypeError, lambda env: data.load_mnist(env.tmp, n_train=2.5)),
    Case("mnist-label-negative", IDXError, lambda env: mnist_with_labels(env, np.r_[-1, np.arange(9)], 0x09)),
    Case("mnist-label-dtype", IDXError, lambda env: mnist_with_labels(env, np.arange(10), 0x0D)),
    # checkpoints
    Case("checkpoint-missing", FileNotFoundError, lambda env: io.load(env.tmp / "nope.npz")),
    Case("checkpoint-truncated", CheckpointError, truncated_checkpoint),
    Case("checkpoint-not-npz", CheckpointError, lambda env: io.load(write(env, "notes.npz", b"hello"))),
    Case("checkpoint-foreign-npz", CheckpointError,
         lambda env: (np.savez(env.tmp / "other.npz", a=np.ones(3)), io.load(env.tmp / "other.npz"))),
    Case("checkpoint-pickle", CheckpointError,
         lambda env: io.load(write(env, "evil.npz", pickle.dumps({"a": 1})))),
    Case("checkpoint-object-array", CheckpointError, object_array_checkpoint),
    Case("checkpoint-shape", CheckpointError, shape_mismatched_checkpoint),
    Case("checkpoint-config-size", CheckpointError,
         lambda env: edited_checkpoint(env, lambda a, m: m["config"].update(n_features=10000, n_classes=10000))),
    Case("checkpoint-unknown-member", CheckpointError,
         lambda env: edited_checkpoint(env, lambda a, m: a.update(unused=np.zeros(9)))),
    Case("checkpoint-compressed", CheckpointError,
         lambda env: edited_checkpoint(env, lambda a, m: None, np.savez_compressed)),
    Case("checkpoint-deep-meta", CheckpointError,
         lambda env: edited_checkpoint(env, lambda a, m: a.update(meta=np.array("[" * 100000 + "]" * 100000)))),
    Case("checkpoint-steps", CheckpointError,
         lambda env: edited_checkpoint(env, lambda a, m: m.update(optimizer=dict(SGD_STATE, steps=-1)))),
    Case("checkpoint-rng", CheckpointError,
         lambda env: edited_checkpoint(env, lambda a, m: m.update(rng=PCG64_NEGATIVE))),
    Case("checkpoint-no-optimizer", CheckpointError,
         lambda env: io.load_checkpoint(checkpoint(env)).restore_optimizer()),
    Case("save-not-a-model", TypeError, lambda env: io.save({"W": np.ones(2)}, env.tmp / "m.npz")),
    Case("save-extra-not-json", TypeError,
         lambda env: io.save(models.LogisticRegression(2), env.tmp / "m.npz", extra={"when": object()})),
    Case("save-extra-not-dict", TypeError,
         lambda env: io.save(models.LogisticRegression(2), env.tmp / "m.npz", extra=[1])),
    Case("save-foreign-optimizer", ValueError,
         lambda env: io.save(models.LogisticRegression(2), env.tmp / "m.npz", optimizer=optim.SGD(t23(), lr=0.1))),
    Case("save-frozen-optimizer", ValueError, save_with_an_optimizer_over_a_frozen_parameter),
    Case("save-meta-too-large", ValueError,
         lambda env: io.save(models.LogisticRegression(2), env.tmp / "m.npz", extra={"s": "x" * (1 << 22)})),
    Case("save-empty-name", ValueError, lambda env: io.save(models.LogisticRegression(2), "")),
    Case("save-trailing-slash", ValueError, lambda env: io.save(models.LogisticRegression(2), f"{env.tmp}/out/")),
    Case("save-fifo", ValueError, save_onto_a_fifo),
    Case("save-read-only", PermissionError, save_onto_a_read_only_file),
    Case("save-config-not-json", TypeError, lambda env: io.save(Custom({"act": np.tanh}), env.tmp / "m.npz")),
    Case("checkpoint-own-model", CheckpointError, lambda env: io.load(checkpoint(env, Custom()))),
    Case("load-into-not-a-model", TypeError, lambda env: io.load(checkpoint(env), model=object())),
    # graph
    Case("dot-missing", GraphvizNotFoundError, missing_dot),
    Case("draw-not-tensor", TypeError, lambda env: tg.draw(np.ones(3))),
    Case("draw-max-data", TypeError, lambda env: tg.draw(Tensor(np.ones(2), requires_grad=True).sum(), max_data=2.5)),
    # estimators
    Case("estimator-nan", ValueError, lambda env: estimator().fit(with_value(np.nan), Y20)),
    Case("estimator-complex", ValueError, lambda env: estimator().fit(X20 + 1j, Y20)),
    Case("estimator-labels-continuous", ValueError, lambda env: estimator().fit(X20, Y20 + 0.5)),
    Case("estimator-labels-length", ValueError, lambda env: estimator().fit(X20, Y20[:-1])),
    Case("estimator-empty", ValueError, lambda env: estimator().fit(X20[:0], Y20[:0])),
    Case("estimator-one-class", ValueError, lambda env: estimator().fit(X20, np.zeros(20, int))),
    Case("estimator-binary-only", ValueError, lambda env: LogisticRegressionClassifier().fit(X20, np.arange(20) % 3)),
    Case("estimator-c", ValueError, lambda env: estimator(C=0).fit(X20, Y20)),
    Case("estimator-learning-rate", ValueError, lambda env: estimator(solver="adam", learning_rate=-1).fit(X20, Y20)),
    Case("estimator-max-iter", ValueError, lambda env: estimator(max_iter=0).fit(X20, Y20)),
    Case("estimator-batch-size", ValueError, lambda env: estimator(solver="sgd", batch_size=0).fit(X20, Y20)),
    Case("estimator-fit-intercept", TypeError, lambda env: estimator(fit_intercept="no").fit(X20, Y20)),
    Case("estimator-max-iter-type", TypeError, lambda env: estimator(max_iter=2.5).fit(X20, Y20)),
    Case("estimator-solver", ValueError, lambda env: MLPClassifier(solver="newton").fit(X20, Y20)),
    Case("estimator-not-fitted", NotFittedError, lambda env: estimator().predict(X20)),
    Case("estimator-features", ValueError, lambda env: estimator().fit(X20, Y20).predict(X20[:, :2])),
    Case("estimator-diverges", FloatingPointError,
         lambda env: estimator(solver="sgd", max_iter=5).fit(X20 * 1e300, Y20)),
    Case("partial-fit-no-classes", ValueError, lambda env: estimator(solver="sgd").partial_fit(X20, Y20)),
    Case("partial-fit-one-class", ValueError, lambda env: estimator(solver="sgd").partial_fit(X20, Y20, classes=[0])),
    Case("partial-fit-unknown-label", ValueError,
         lambda env: estimator(solver="sgd").partial_fit(X20, np.arange(20) % 3, classes=[0, 1])),
    Case("partial-fit-classes-changed", ValueError,
         lambda env: streamed(X20).partial_fit(X20, Y20, classes=[0, 1, 2])),
    Case("partial-fit-features", ValueError,
         lambda env: streamed(memmap(env, X20)).partial_fit(memmap(env, X20[:, :2]), Y20)),
    Case("split-unknown", ValueError, lambda env: splits.load_split("cifar")),
    Case("split-mnist-test-size", ValueError, lambda env: splits.load_split("mnist", env.tmp, test_size=0.3)),
    Case("split-mnist-missing", FileNotFoundError, lambda env: splits.load_split("mnist", env.tmp)),
    Case("gradcheck-unknown-model", ValueError, lambda env: model_gradcheck.gradcheck_rows("svm")),
    Case("sweep-every-fit-fails", FloatingPointError, lambda env: sweep.sweep_results([1e300], [0.2])),
    # compiled steps
    Case("compile-not-callable", TypeError, lambda env: tg.compile(3)),
    Case("compile-strict-item", UntraceableError, lambda env: strict_steps(lambda x, w: (Tensor(x) * w).sum().item())),
    Case("compile-strict-numpy", UntraceableError, lambda env: strict_steps(lambda x, w: (Tensor(x * 2) * w).sum())),
    Case("compile-strict-rebound", UntraceableError, lambda env: counting_steps()),
]  # fmt: skip


def strict_steps(body: Callable[[np.ndarray, Tensor], Any]) -> None:
    """Two calls of ``tg.compile(body, strict=True)`` on different data (the second recording is compared)."""
    w = Tensor(np.ones(3), requires_grad=True)
    step = tg.compile(lambda x: body(x, w), strict=True)
    step(np.ones(3))
    step(np.arange(3.0))


def counting_steps() -> None:
    """A strict compiled step that multiplies by how often it ran: a closure number new on every call."""
    w, calls = Tensor(np.ones(3), requires_grad=True), 0

    def step(x):
        nonlocal calls
        calls += 1
        return (Tensor(x) * w).sum() * calls

    compiled = tg.compile(step, strict=True)
    for _ in range(10):
        compiled(np.ones(3))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_bad_input_raises_the_documented_error(case, tmp_path, monkeypatch):
    row = {r.id: r for r in doc_rows()}[case.id]
    with pytest.raises(Exception) as info:
        case.run(Env(tmp_path, monkeypatch))
    error = info.value
    assert type(error) is case.error, f"{case.id}: {type(error).__name__}: {error}"
    assert row.error == case.error.__name__
    message, position = str(error), 0
    for fragment in row.fragments:
        found = message.find(fragment, position)
        assert found >= 0, f"{case.id}: {fragment!r} not in {message[position:]!r}"
        position = found + len(fragment)


def test_the_doc_and_the_cases_list_the_same_ids_in_the_same_order():
    rows = doc_rows()
    assert [r.id for r in rows] == [c.id for c in CASES]
    assert len(rows) >= 25
    assert all(r.error in EXCEPTIONS for r in rows)


def test_documented_errors_are_specific_and_mostly_built_in():
    documented = documented_exceptions()
    assert Exception not in documented and not any(issubclass(e, (AttributeError, KeyError)) for e in documented
                                                   if e is not NotFittedError)  # fmt: skip
    assert {ValueError, TypeError, IndexError} <= documented


# ---- nothing is written half-way ----------------------------------------------------------------------


def snapshot(model: models.Model) -> list[bytes]:
    return [p.data.tobytes() for p in model.parameters()]


def files_in(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


@pytest.mark.parametrize("failing", ["savez", "fsync", "replace"])
def test_a_save_failing_at_any_step_keeps_the_old_checkpoint_and_leaves_no_temp_file(tmp_path, monkeypatch, failing):
    """test_io covers an interrupt in the middle of writing; here the disk fills up, fsync fails, the rename fails."""
    path = tmp_path / "model.npz"
    io.save(models.SoftmaxRegression(4, 3, seed=1), path)
    old = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    target = {"savez": io.np, "fsync": io.os, "replace": io.os}[failing]
    monkeypatch.setattr(target, failing, disk_full)
    with pytest.raises(OSError, match="No space left"):
        io.save(models.SoftmaxRegression(4, 3, seed=2), path)
    monkeypatch.undo()
    assert path.read_bytes() == old and files_in(tmp_path) == ["model.npz"]
    assert snapshot(io.load(path)) == snapshot(models.SoftmaxRegression(4, 3, seed=1))


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (dict(extra={"when": object()}), TypeError, "extra"),  # not JSON: the wrong kind of value
        (dict(rng=np.random.RandomState(0)), TypeError, "RandomState"),  # not a Generator at all
        (dict(rng=np.random.Generator(np.random.MT19937(0))), ValueError, "MT19937"),  # a Generator we cannot store
    ],
    ids=["extra-not-json", "legacy-rng", "mt19937-rng"],
)
def test_a_save_refused_for_bad_arguments_touches_nothing(tmp_path, bad, error, message):
    path = tmp_path / "model.npz"
    io.save(models.LogisticRegression(3), path)
    old = path.read_bytes()
    with pytest.raises(error, match=message) as info:
        io.save(models.LogisticRegression(3, seed=9), path, **bad)
    assert type(info.value) is error
    assert path.read_bytes() == old and files_in(tmp_path) == ["model.npz"]


def test_a_refused_fit_leaves_parameters_optimizer_and_rng_untouched():
    """test_train checks the parameters for every bad input; here also the optimizer state and the caller's RNG."""
    model = models.SoftmaxRegression(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.1)
    rng = np.random.default_rng(3)
    fit(model, X20, Y20, optimizer=opt, epochs=2, seed=rng)
    before = snapshot(model), opt.steps, [b.copy() for b in opt.buffers["m"]], rng.bit_generator.state
    with pytest.raises(ValueError, match="X contains nan"):
        fit(model, with_value(np.nan), Y20, optimizer=opt, epochs=2, seed=rng)
    assert snapshot(model) == before[0] and opt.steps == before[1]
    assert all(np.array_equal(a, b) for a, b in zip(opt.buffers["m"], before[2]))
    assert rng.bit_generator.state == before[3]


def test_a_failed_backward_leaves_every_grad_untouched():
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    y = a.sum() + (b * b).sum()  # a's gradient is ready before the freed Mul is reached
    y.backward()
    grads = a.grad.data.copy(), b.grad.data.copy()
    with pytest.raises(tg.GraphFreedError):
        y.backward()
    np.testing.assert_array_equal(a.grad.data, grads[0])
    np.testing.assert_array_equal(b.grad.data, grads[1])


@pytest.mark.parametrize(
    "bad_fit, error",
    [
        (lambda est: est.fit(with_value(np.nan), Y20), ValueError),
        (lambda est: est.set_params(solver="sgd", max_iter=5).fit(X20 * 1e300, Y20), FloatingPointError),  # mid-fit
    ],
    ids=["bad-input", "diverges"],
)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_failed_refit_keeps_the_fitted_estimator(bad_fit, error):
    est = estimator(solver="newton").fit(X20, Y20)
    coef, proba = est.coef_.copy(), est.predict_proba(X20)
    with pytest.raises(error) as info:
        bad_fit(est)
    assert type(info.value) is error
    np.testing.assert_array_equal(est.coef_, coef)
    np.testing.assert_array_equal(est.predict_proba(X20), proba)


def test_a_refused_optimizer_state_leaves_the_optimizer_as_it_was():
    model = models.SoftmaxRegression(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.1)
    fit(model, X20, Y20, optimizer=opt, epochs=1)
    state = opt.state_dict()
    bad = {**state, "buffers": {**state["buffers"], "v": [np.ones((9, 9)), None]}}
    with pytest.raises(ValueError, match="has shape"):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert after["steps"] == state["steps"] and after["hyper"] == state["hyper"]
    for key, bufs in state["buffers"].items():
        assert all(np.array_equal(x, y) for x, y in zip(bufs, after["buffers"][key]))
