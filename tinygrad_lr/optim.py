"""First-order optimizers: they update each parameter's ``data`` in place, outside the graph.

An optimizer's whole state (hyper-parameters, step count, per-parameter buffers)
is a plain dict of numbers and arrays (``state_dict``), so a checkpoint can store
it in an ``.npz`` and training can resume bit for bit (``load_state_dict``).

The full-batch second-order solvers live in ``solvers`` and are re-exported here
(loaded on first use, so the optimizers don't import the models),
so every way of minimising a model's loss is found in one place:
``newton_cg(model, X, y, l2=...)`` (Newton-CG on Hessian-vector products) and
``lbfgs(model, X, y, l2=...)`` (SciPy's L-BFGS-B). Unlike the optimizers they run
the whole minimisation themselves and return a ``SolverResult``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from . import autograd
from .autograd import bump_version
from .tensor import Tensor
from .validation import check_number

if TYPE_CHECKING:  # re-exported lazily by __getattr__ below
    from .solvers import SolverResult, lbfgs, newton_cg

__all__ = ["Adam", "Optimizer", "SGD", "SolverResult", "from_state_dict", "lbfgs", "newton_cg"]
_SOLVERS = ("SolverResult", "lbfgs", "newton_cg")


def __getattr__(name: str) -> Any:
    """``newton_cg``, ``lbfgs``, ``SolverResult`` from ``solvers``, imported when first asked for."""
    if name in _SOLVERS:
        from . import solvers

        return getattr(solvers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _finite(a: np.ndarray) -> bool:
    """No NaN or inf in ``a``. A finite sum of squares proves it (no term is negative, and a NaN or an
    inf makes the sum NaN or inf, without a warning), in one BLAS pass: 1.5-2.5x faster than
    ``isfinite(a).all()`` or a plain sum. Only if the squares overflow (|values| above ~1e19 in
    float32, ~1e154 in float64; NumPy then warns) does the exact test decide."""
    flat = a.reshape(-1)
    return math.isfinite(np.dot(flat, flat)) or bool(np.isfinite(a).all())


class Optimizer(ABC):
    """Holds the parameters and, per parameter, named buffers (e.g. Adam's ``m`` and ``v``).

    Subclasses set ``buffer_names`` and define ``_update(i, p, g)`` on arrays (returning the new value);
    ``step()`` calls it for every parameter that has a gradient.
    """

    buffer_names: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = self._check_params(params)
        self.lr = check_number(lr, f"{type(self).__name__}: lr", 0.0, low_open=True)
        self.steps = 0
        self.buffers: dict[str, list[np.ndarray | None]] = {k: [None] * len(self.params) for k in self.buffer_names}
        self._scratch: list[np.ndarray | None] = [None] * len(self.params)

    def _check_params(self, params: Iterable[Tensor]) -> list[Tensor]:
        name = type(self).__name__
        if isinstance(params, Tensor):
            params = [params]
        params = list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if not p.requires_grad or not p.is_leaf:
                raise ValueError(f"{name}: parameter {i} of shape {p.shape} is not a leaf tensor that requires grad")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: the same parameter appears more than once")
        return params

    def hyper(self) -> dict[str, Any]:
        """Constructor arguments besides ``params``: enough to rebuild this optimizer."""
        return {"lr": self.lr}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def __repr__(self) -> str:
        """``Adam(lr=0.01, betas=[0.9, 0.999], eps=1e-08, weight_decay=0.0): 4 parameters, steps=120``."""
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.hyper().items())
        return f"{type(self).__name__}({hyper}): {len(self.params)} parameters, steps={self.steps}"

    def step(self) -> None:
        """One update of every parameter with a gradient; parameters without one are skipped.

        Updates work on the arrays in place, so nothing is recorded and no grad mode is needed;
        each updated parameter's version is bumped, so a backward through a graph that saved
        the old values raises instead of using the new ones.
        A step that would write NaN or inf raises ``FloatingPointError`` and changes no parameter:
        a non-finite gradient is refused before anything (buffers included) is touched, an update
        that overflows before any parameter is written.
        """
        if autograd._recorder is not None:  # tg.compile is recording this step
            autograd._recorder.optimizer_step(self)
        self._step_on([(i, p, p.grad._data) for i, p in enumerate(self.params) if p.grad is not None])

    def _step_on(self, active: list[tuple[int, Tensor, np.ndarray]]) -> None:
        """``step()`` on given gradients: ``(index, parameter, gradient array)`` for each one to update.

        A compiled step's replay calls this with the gradients its tape computed.
        """
        name = type(self).__name__
        for i, _, g in active if self._keeps_state() else ():  # else the new values' check below sees it
            if not _finite(g):
                raise FloatingPointError(f"{name}.step: the gradient of parameter {i} is not finite; nothing changed")
        new = [self._update(i, p._data, g) for i, p, g in active]
        for (i, p, _), value in zip(active, new):
            if not _finite(value):
                raise FloatingPointError(
                    f"{name}.step: the update would make parameter {i} of shape {p.shape} NaN or inf "
                    f"(lr={self.lr:g}); no parameter was changed"
                )
        for (_, p, _), value in zip(active, new):
            np.copyto(p._data, value)
            bump_version(p)  # values saved for an earlier backward are stale now
        self.steps += 1

    def _keeps_state(self) -> bool:
        """Whether ``_update`` writes buffers (so a bad gradient must be refused before it runs)."""
        return bool(self.buffer_names)

    @abstractmethod
    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Parameter ``i``'s new value, in a scratch array (``p`` itself is not written), from ``p`` and ``g``."""

    def _buffer(self, name: str, i: int, like: np.ndarray) -> np.ndarray:
        """The buffer ``name`` of parameter ``i``, created as zeros on first use."""
        buf = self.buffers[name][i]
        if buf is None:
            buf = self.buffers[name][i] = np.zeros_like(like)
        return buf

    def _scratch_for(self, i: int, like: np.ndarray) -> np.ndarray:
        """A reusable work array, so updates allocate nothing after the first step."""
        s = self._scratch[i]
        if s is None or s.shape != like.shape or s.dtype != like.dtype:
            s = self._scratch[i] = np.empty_like(like)
        return s

    # ---- checkpointing -------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain numbers and copies of the buffers (None where a parameter never had a gradient)."""
        return {
            "type": type(self).__name__,
            "hyper": self.hyper(),
            "steps": self.steps,
            "buffers": {k: [None if b is None else b.copy() for b in bufs] for k, bufs in self.buffers.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict`` (checked against these parameters) exactly."""
        name = type(self).__name__
        if state.get("type") != name:
            raise ValueError(f"{name}.load_state_dict: the state is of a {state.get('type')!r} optimizer")
        fresh = type(self)(self.params, **state["hyper"])  # validates the hyper-parameters
        buffers = state.get("buffers", {})
        if sorted(buffers) != sorted(self.buffer_names):
            raise ValueError(
                f"{name}.load_state_dict: expected buffers {sorted(self.buffer_names)}, got {sorted(buffers)}"
            )
        restored: dict[str, list[np.ndarray | None]] = {}
        for key, bufs in buffers.items():
            if len(bufs) != len(self.params):
                raise ValueError(
                    f"{name}.load_state_dict: buffer {key!r} has {len(bufs)} entries for {len(self.params)} parameters"
                )
            restored[key] = []
            for i, (b, p) in enumerate(zip(bufs, self.params)):
                if b is not None and np.shape(b) != p.shape:
                    raise ValueError(
                        f"{name}.load_state_dict: buffer {key!r}[{i}] has shape {np.shape(b)}, "
                        f"parameter {i} has shape {p.shape}"
                    )
                restored[key].append(None if b is None else np.array(b, dtype=p.dtype))
        for key in self.hyper():
            setattr(self, key, getattr(fresh, key))
        self.steps = int(state["steps"])
        self.buffers = restored


class SGD(Optimizer):
    """p ← p − lr·d, with d = g + wd·p, or the momentum buffer v ← μ·v + d (PyTorch's convention).

    Nesterov uses d + μ·v instead of v.
    """

    buffer_names = ("momentum",)

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = check_number(momentum, "SGD: momentum", 0.0, 1.0)
        self.weight_decay = check_number(weight_decay, "SGD: weight_decay", 0.0)
        if nesterov and not self.momentum:
            raise ValueError("SGD: nesterov=True needs a momentum > 0, got momentum=0")
        self.nesterov = bool(nesterov)

    def hyper(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov, "weight_decay": self.weight_decay}

    def _keeps_state(self) -> bool:
        return bool(self.momentum)

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        d = self._scratch_for(i, p)
        if not self.weight_decay and not self.momentum:  # plain SGD: p - lr·g, one pass fewer
            np.multiply(g, self.lr, out=d)
            return np.subtract(p, d, out=d)
        if self.weight_decay:
            np.multiply(p, self.weight_decay, out=d)
            d += g
        else:
            np.copyto(d, g)
        if self.momentum:
            v = self._buffer("momentum", i, p)
            v *= self.momentum
            v += d
            if self.nesterov:
                d += self.momentum * v
            else:
                np.copyto(d, v)
        d *= self.lr
        return np.subtract(p, d, out=d)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; ``weight_decay`` adds wd·p to the gradient (L2, not AdamW)."""

    buffer_names = ("m", "v")

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (
            check_number(betas[0], "Adam: betas[0]", 0.0, 1.0),
            check_number(betas[1], "Adam: betas[1]", 0.0, 1.0),
        )
        self.eps = check_number(eps, "Adam: eps", 0.0)
        self.weight_decay = check_number(weight_decay, "Adam: weight_decay", 0.0)

    def hyper(self) -> dict[str, Any]:
        return {"lr": self.lr, "betas": list(self.betas), "eps": self.eps, "weight_decay": self.weight_decay}

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        beta1, beta2 = self.betas
        t = self.steps + 1  # this step's number, for the bias corrections
        if self.weight_decay:
            g = g + self.weight_decay * p
        m, v, s = self._buffer("m", i, p), self._buffer("v", i, p), self._scratch_for(i, p)
        m *= beta1
        np.multiply(g, 1 - beta1, out=s)
        m += s
        v *= beta2
        np.multiply(g, g, out=s)
        s *= 1 - beta2
        v += s
        # p -= lr/(1-β1^t) · m / (sqrt(v/(1-β2^t)) + eps)
        np.sqrt(v, out=s)
        s *= 1 / math.sqrt(1 - beta2**t)
        s += self.eps
        np.divide(m, s, out=s)
        s *= self.lr / (1 - beta1**t)
        return np.subtract(p, s, out=s)


OPTIMIZERS: dict[str, type[Optimizer]] = {"SGD": SGD, "Adam": Adam}


def from_state_dict(params: Iterable[Tensor], state: dict[str, Any]) -> Optimizer:
    """Rebuild the optimizer a ``state_dict`` came from, over ``params`` (resuming from a checkpoint)."""
    kind = state.get("type")
    if kind not in OPTIMIZERS:
        raise ValueError(f"from_state_dict: unknown optimizer type {kind!r}; known: {sorted(OPTIMIZERS)}")
    opt = OPTIMIZERS[kind](params, **state["hyper"])
    opt.load_state_dict(state)
    return opt
