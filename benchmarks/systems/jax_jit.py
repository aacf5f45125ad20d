"""JAX on the CPU: ``jax.jit`` over the whole step (loss, ``value_and_grad``, SGD), as a JAX user writes it.

The parameters are a list of JAX arrays; a step returns new ones (JAX arrays are
immutable), and each step waits for its result, so no work is left queued when
the clock stops. Full-batch data become JAX arrays once; minibatches go into the
jitted step as the NumPy arrays they are (measured here: about 0.3 ms a step
cheaper than ``jnp.asarray`` on each batch). XLA's CPU thread pool is sized from ``PJRT_NPROC``, read when
the CPU client is created (at the first computation): it is set here, before
``jax`` is imported, to NumPy's BLAS thread count, as PyTorch's is. The XLA flag
``--xla_cpu_multi_thread_eigen=false`` is not used: with jaxlib 0.10.2 a float64
matmul still kept two cores busy under it, and with ``PJRT_NPROC=1`` one.

No ``chain``: the system is jit-compiled, and a jitted Python loop of 100 000
multiplies is unrolled into as many XLA ops, which takes far too long to compile
(the loop primitives, ``lax.fori_loop`` / ``scan``, would not be a chain of
recorded ops); so JAX is absent from workload 7, as numpy-layout is.
"""

from __future__ import annotations

import os

import numpy as np

from ..machine import blas_threads
from . import Trainer

_threads = blas_threads()
if _threads:
    os.environ["PJRT_NPROC"] = str(_threads)

import jax  # noqa: E402  (after PJRT_NPROC is set)
import jax.numpy as jnp  # noqa: E402

# float64 where the workload is float64 (JAX computes in float32 otherwise); float32 data stays float32
jax.config.update("jax_enable_x64", True)

VERSION = jax.__version__


def note() -> str:
    threads = os.environ.get("PJRT_NPROC", "unset: one per core")
    return (
        f"jax.jit over loss, value_and_grad and the SGD update (new params returned) on the CPU; "
        f"jax_enable_x64 set at import (float64 where the workload is float64); PJRT_NPROC={threads} "
        "(XLA's CPU threads, as many as NumPy's BLAS); each step blocks until done; "
        "compiles (once per batch shape) in the warm-up, except in workload 6, whose one epoch includes it"
    )


def logistic(params: list[jax.Array], X: jax.Array, y: jax.Array) -> jax.Array:
    w, b = params
    z = X @ w + b
    return jnp.mean(jnp.logaddexp(0.0, z) - y * z)


def cross_entropy(logits: jax.Array, y: jax.Array) -> jax.Array:
    """Mean log-loss: log-sum-exp with a max shift, the label column gathered."""
    log_probs = logits - jax.nn.logsumexp(logits, axis=1, keepdims=True)
    return -jnp.mean(jnp.take_along_axis(log_probs, y[:, None], axis=1))


def softmax(params: list[jax.Array], X: jax.Array, y: jax.Array) -> jax.Array:
    W, b = params
    return cross_entropy(X @ W + b, y)


def mlp(params: list[jax.Array], X: jax.Array, y: jax.Array) -> jax.Array:
    W0, b0, W1, b1 = params
    return cross_entropy(jnp.tanh(X @ W0 + b0) @ W1 + b1, y)


LOSSES = {"logistic": logistic, "softmax": softmax, "mlp": mlp}


class SystemTrainer(Trainer):
    def __init__(self, kind: str, params: dict[str, np.ndarray], lr: float) -> None:
        super().__init__(kind, params, lr)
        self.params = [jnp.array(v) for v in params.values()]
        value_and_grad = jax.value_and_grad(LOSSES[kind])

        def sgd(params: list[jax.Array], grads: list[jax.Array]) -> list[jax.Array]:
            return [p - lr * g for p, g in zip(params, grads)]

        def whole_step(params: list[jax.Array], X: jax.Array, y: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
            loss, grads = value_and_grad(params, X, y)
            return loss, sgd(params, grads)

        self.value_and_grad = jax.jit(value_and_grad)
        self.sgd = jax.jit(sgd)
        self.whole_step = jax.jit(whole_step)

    def prepare(self, X: np.ndarray, y: np.ndarray) -> tuple[jax.Array, jax.Array]:
        return jnp.asarray(X), jnp.asarray(y)

    def prepare_batch(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return X, y  # the jitted call converts NumPy arguments itself, cheaper than jnp.asarray per batch

    def loss_and_grads(self, X: jax.Array, y: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
        return self.value_and_grad(self.params, X, y)

    def update(self, grads: list[jax.Array]) -> None:
        self.params = self.sgd(self.params, grads)

    def step(self, X: jax.Array, y: jax.Array) -> jax.Array:
        loss, self.params = jax.block_until_ready(self.whole_step(self.params, X, y))
        return loss
