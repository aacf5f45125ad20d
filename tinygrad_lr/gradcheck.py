"""Check analytic gradients against central finite differences, in float64.

``gradcheck(f, inputs)`` differentiates ``f`` with respect to every input Tensor
that has ``requires_grad=True`` in two ways and compares them:

* a vector-Jacobian product with a random upstream gradient (one backward pass),
  against the same product of the numerical Jacobian;
* when the outputs have at most ``FULL_JACOBIAN_MAX_OUTPUTS`` elements, the whole
  Jacobian, one backward pass per output element.

Elements must satisfy ``|analytic - numerical| <= atol + rtol * |numerical|``.
A mismatch raises :class:`GradcheckError`, a subclass of ``AssertionError``
(a failed check is a failed assertion, so pytest reports it as a test failure),
naming the input (index and name), the element, both values and the worst
relative error. ``gradgradcheck`` does the same for the gradient itself, computed
with ``create_graph=True``.

Finite differences need float64: with ``eps=1e-6`` a float32 perturbation is at
the level of its rounding error. Float32 inputs or outputs are refused with a
``TypeError`` (cast with ``x.astype(np.float64)`` first) rather than checked badly.

Inputs are never mutated: while an input is perturbed, that same Tensor object
reads a private copy of its array, so ``f`` may be a closure over the tensors
(``lambda *ps: model.loss(X, y)`` over ``model.parameters()``) and still see the
perturbation; the caller's array is never written. The check fails if ``f`` or
its backward mutates an input or the upstream gradient. ``check_model`` runs the
first- and second-order checks on a model's loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import grad
from .tensor import Tensor

FULL_JACOBIAN_MAX_OUTPUTS = 32
"""Above this many output elements only the random vector-Jacobian product is checked."""


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with central differences (details in the message and attributes)."""

    def __init__(
        self,
        message: str,
        input_index: int | None = None,
        input_name: str | None = None,
        element: tuple[int, ...] | None = None,
        analytic: float | None = None,
        numerical: float | None = None,
        relative_error: float | None = None,
    ) -> None:
        super().__init__(message)
        self.input_index, self.input_name, self.element = input_index, input_name, element
        self.analytic, self.numerical, self.relative_error = analytic, numerical, relative_error


Fn = Callable[..., Tensor | Sequence[Tensor]]


def _outputs(f: Fn, args: Sequence[Any], what: str) -> list[Tensor]:
    out = f(*args)
    outs = list(out) if isinstance(out, list | tuple) else [out]
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"{what}: f must return a Tensor or a tuple of Tensors; output {k} is {type(o).__name__}")
        if o.dtype != np.float64:
            raise TypeError(
                f"{what}: output {k} of f is {o.dtype}; finite differences need float64 end to end "
                "(make f compute in float64)"
            )
    return outs


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(k) for k in np.unravel_index(flat, shape))


def _element(i: int, t: Tensor, index: tuple[int, ...]) -> str:
    """'w[3, 0]' (or 'input1[3, 0]' for an unnamed tensor)."""
    return (t.name or f"input{i}") + (str(list(index)) if index else "")


def _label(i: int, t: Tensor) -> str:
    return f"input {i}" + (f" '{t.name}'" if t.name else "") + f" (shape {t.shape})"


def _differentiated(inputs: Sequence[Any], what: str) -> list[int]:
    """Indices of the inputs to differentiate: the Tensors with requires_grad, all float64."""
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError(f"{what}: no input has requires_grad=True, so there is nothing to check")
    for i in wrt:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"{what}: {_label(i, inputs[i])} is {inputs[i].dtype}; finite differences are unreliable "
                "below float64 (eps is near float32 rounding); pass x.astype(np.float64)"
            )
    return wrt


def _as_list(inputs: Tensor | Sequence[Any]) -> list[Any]:
    return [inputs] if isinstance(inputs, Tensor) else list(inputs)


def _numerical_columns(f: Fn, inputs: list[Any], i: int, eps: float, what: str):
    """Yield (flat element index, d(all outputs, flattened)/d input[i][element]) by central differences.

    The input tensor itself reads a private copy while it is perturbed (its ``_data`` is
    swapped, then restored), so closures over the tensor see the change and the caller's
    array is never written.
    """
    x = inputs[i]
    original_array = x._data
    buffer = np.array(original_array, dtype=np.float64)
    flat = buffer.reshape(-1)
    x._data = buffer
    try:
        for j in range(flat.size):
            original = flat[j]
            values = []
            for step in (eps, -eps):
                flat[j] = original + step
                values.append(np.concatenate([o.data.reshape(-1) for o in _outputs(f, inputs, what)]))
            flat[j] = original
            yield j, (values[0] - values[1]) / (2 * eps)
    finally:
        x._data = original_array


def _random_upstream(outs: Sequence[Tensor], rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.standard_normal(o.shape) for o in outs]


def numerical_grad(
    f: Fn,
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    grad_output: Any = None,
    seed: int = 0,
) -> list[np.ndarray | None]:
    """Central-difference gradient of ``sum(grad_output * f(*inputs))`` for each input.

    Returns one float64 array per input (``None`` for inputs that are not Tensors
    with ``requires_grad=True``). For a scalar output ``grad_output`` defaults to 1,
    which gives the plain gradient. For a non-scalar output it defaults to a
    standard-normal vector from ``seed`` (a vector-Jacobian product: an all-ones
    vector would hide errors that sum to zero, such as softmax's); pass your own to
    choose. With several outputs, pass a list with one array per output.
    """
    inputs = _as_list(inputs)
    wrt = _differentiated(inputs, "numerical_grad")
    outs = _outputs(f, inputs, "numerical_grad")
    if grad_output is None:
        if sum(o.size for o in outs) == 1:
            vs = [np.ones(o.shape) for o in outs]
        else:
            vs = _random_upstream(outs, np.random.default_rng(seed))
    else:
        vs = [np.asarray(g, dtype=np.float64) for g in (grad_output if len(outs) > 1 else [grad_output])]
        for k, (o, v) in enumerate(zip(outs, vs)):
            if v.shape != o.shape:
                raise ValueError(f"numerical_grad: grad_output {k} has shape {v.shape}, output has shape {o.shape}")
    v = np.concatenate([g.reshape(-1) for g in vs])
    result: list[np.ndarray | None] = [None] * len(inputs)
    for i in wrt:
        g = np.empty(inputs[i].size)
        for j, column in _numerical_columns(f, inputs, i, eps, "numerical_grad"):
            g[j] = v @ column
        result[i] = g.reshape(inputs[i].shape)
    return result


def _analytic(outs: list[Tensor], wrt_tensors: list[Tensor], seeds: list[np.ndarray]) -> list[np.ndarray]:
    """sum_k seeds[k]·d outs[k]/d x for each x; outputs that do not depend on any input contribute 0."""
    live = [(o, s) for o, s in zip(outs, seeds) if o.requires_grad]
    if not live:
        return [np.zeros(x.shape) for x in wrt_tensors]
    grads = grad(
        [o for o, _ in live],
        wrt_tensors,
        grad_outputs=[Tensor(s) for _, s in live],
        retain_graph=True,
        allow_unused=True,
    )
    result = []
    for x, g in zip(wrt_tensors, grads):
        if g is not None and (g.shape != x.shape or g.dtype != x.dtype):
            raise GradcheckError(
                f"the gradient for a tensor of shape {x.shape} and dtype {x.dtype} "
                f"has shape {g.shape} and dtype {g.dtype}"
            )
        result.append(np.zeros(x.shape) if g is None else np.array(g.data, dtype=np.float64))
    return result


def _compare(
    analytic: np.ndarray,
    numerical: np.ndarray,
    atol: float,
    rtol: float,
    where: str,
    i: int,
    x: Tensor,
    locate: Callable[[tuple[int, ...]], tuple[str, tuple[int, ...]]],
) -> None:
    """Raise on the entry that most exceeds the tolerance; ``locate`` names it and its input element."""
    error = np.abs(analytic - numerical)
    bad = error > atol + rtol * np.abs(numerical)
    if not bad.any():
        return
    scale = np.maximum(np.abs(analytic), np.abs(numerical))
    relative = np.divide(error, scale, out=np.zeros_like(error), where=scale > 0)
    worst = _unravel(int(np.argmax(np.where(bad, error / (atol + rtol * np.abs(numerical)), -1))), error.shape)
    a, n, r = float(analytic[worst]), float(numerical[worst]), float(relative[worst])
    text, element = locate(worst)
    raise GradcheckError(
        f"{where}: {_label(i, x)} disagrees with central differences\n"
        f"  at {text}: analytic {a!r} vs numerical {n!r} "
        f"(abs error {error[worst]:.3e}, relative error {r:.3e})\n"
        f"  {int(bad.sum())} of {bad.size} entries outside atol={atol:g} + rtol={rtol:g}·|numerical|; "
        f"worst relative error {float(relative[bad].max()):.3e}",
        input_index=i,
        input_name=x.name,
        element=element,
        analytic=a,
        numerical=n,
        relative_error=r,
    )


def _snapshot(values: Sequence[Any]) -> list[np.ndarray | None]:
    return [np.array(v.data if isinstance(v, Tensor) else v, copy=True) if _is_array_like(v) else None for v in values]


def _is_array_like(v: Any) -> bool:
    return isinstance(v, Tensor | np.ndarray)


def _check_unchanged(before: list[np.ndarray | None], values: Sequence[Any], what: str, kind: str) -> None:
    for k, (old, v) in enumerate(zip(before, values)):
        if old is not None and not np.array_equal(old, v.data if isinstance(v, Tensor) else v, equal_nan=True):
            raise GradcheckError(f"{what}: f or its backward mutated {kind} {k} in place")


def _check(
    f: Fn,
    inputs: list[Any],
    eps: float,
    atol: float,
    rtol: float,
    seed: int,
    what: str,
) -> None:
    wrt = _differentiated(inputs, what)
    wrt_tensors = [inputs[i] for i in wrt]
    before = _snapshot(inputs)
    outs = _outputs(f, inputs, what)
    shapes = [o.shape for o in outs]
    n_out = sum(o.size for o in outs)
    rng = np.random.default_rng(seed)
    upstream = _random_upstream(outs, rng)
    upstream_before = [u.copy() for u in upstream]
    vjp = _analytic(outs, wrt_tensors, upstream)
    _check_unchanged(upstream_before, upstream, what, "upstream gradient")
    full = n_out <= FULL_JACOBIAN_MAX_OUTPUTS
    if full:
        jac_rows = []  # jac_rows[k][m]: d(flat output k) / d(input wrt[m])
        for k in range(n_out):
            onehot = np.zeros(n_out)
            onehot[k] = 1.0
            seeds, start = [], 0
            for s in shapes:
                size = int(np.prod(s))
                seeds.append(onehot[start : start + size].reshape(s))
                start += size
            jac_rows.append(_analytic(outs, wrt_tensors, seeds))
    _check_unchanged(before, inputs, what, "input")
    v = np.concatenate([u.reshape(-1) for u in upstream])
    out_index = _output_index(shapes)
    for m, i in enumerate(wrt):
        x = inputs[i]
        numerical_jac = np.empty((n_out, x.size)) if full else None
        numerical_vjp = np.empty(x.size)
        for j, column in _numerical_columns(f, inputs, i, eps, what):
            numerical_vjp[j] = v @ column
            if full:
                numerical_jac[:, j] = column
        if full:
            analytic_jac = np.stack([row[m].reshape(-1) for row in jac_rows]) if n_out else np.empty((0, x.size))

            def entry(idx, i=i, x=x):
                element = _unravel(idx[1], x.shape)
                return f"d {out_index(idx[0])} / d {_element(i, x, element)}", element

            _compare(analytic_jac, numerical_jac, atol, rtol, f"{what} (full Jacobian)", i, x, entry)
        _compare(
            vjp[m],
            numerical_vjp.reshape(x.shape),
            atol,
            rtol,
            f"{what} (vector-Jacobian product, random upstream gradient seed={seed})",
            i,
            x,
            lambda idx, i=i, x=x: (_element(i, x, idx), idx),
        )
    _check_unchanged(before, inputs, what, "input")


def _output_index(shapes: list[tuple[int, ...]]) -> Callable[[int], str]:
    """Name a flat index into the concatenated outputs: 'output[2, 0]' or 'output 1 [3]'."""

    def name(k: int) -> str:
        for n, s in enumerate(shapes):
            size = int(np.prod(s))
            if k < size:
                prefix = "output" if len(shapes) == 1 else f"output {n}"
                return prefix + (str(list(_unravel(k, s))) if s else "")
            k -= size
        raise IndexError(k)

    return name


def _run(check: Callable[[], None], raise_exception: bool) -> bool:
    try:
        check()
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def gradcheck(
    f: Fn,
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-7,
    rtol: float = 1e-5,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """True when ``f``'s gradients with respect to ``inputs`` match central differences.

    ``f(*inputs)`` returns a Tensor (or a tuple of Tensors) computed in float64.
    Only Tensors with ``requires_grad=True`` are differentiated; other inputs are
    passed through unchanged. On a mismatch raises :class:`GradcheckError`, or
    returns False when ``raise_exception=False``.
    """
    inputs = _as_list(inputs)
    return _run(lambda: _check(f, inputs, eps, atol, rtol, seed, "gradcheck"), raise_exception)


def gradgradcheck(
    f: Fn,
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-7,
    rtol: float = 1e-5,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Second order: the gradient computed with ``create_graph=True`` is right, and so is its derivative.

    The gradient is a vector-Jacobian product of ``f`` with a fixed random upstream
    gradient (from ``seed``). Its values are compared with central differences of
    ``f`` (backward rules often take a different path when recording), then its own
    derivative, a Hessian-vector product, with central differences of the gradient.
    """
    inputs = _as_list(inputs)
    wrt = _differentiated(inputs, "gradgradcheck")
    upstream = _random_upstream(_outputs(f, inputs, "gradgradcheck"), np.random.default_rng(seed + 1))

    def first_derivative(*args: Any) -> tuple[Tensor, ...]:
        outs = _outputs(f, args, "gradgradcheck")
        live = [(o, Tensor(u)) for o, u in zip(outs, upstream) if o.requires_grad]
        xs = [args[i] for i in wrt]
        if not live:
            return tuple(Tensor(np.zeros(x.shape)) for x in xs)
        gs = grad([o for o, _ in live], xs, grad_outputs=[u for _, u in live], create_graph=True, allow_unused=True)
        return tuple(Tensor(np.zeros(x.shape)) if g is None else g for x, g in zip(xs, gs))

    def check() -> None:
        recorded = first_derivative(*inputs)
        numerical = numerical_grad(f, inputs, eps, grad_output=upstream if len(upstream) > 1 else upstream[0])
        for g, i in zip(recorded, wrt):
            _compare(
                np.asarray(g.data, dtype=np.float64),
                numerical[i],
                atol,
                rtol,
                "gradgradcheck (first derivative computed with create_graph=True)",
                i,
                inputs[i],
                lambda idx, i=i: (_element(i, inputs[i], idx), idx),
            )
        _check(first_derivative, inputs, eps, atol, rtol, seed, "gradgradcheck")

    return _run(check, raise_exception)


def check_model(
    model: Any,
    X: Any,
    y: Any,
    l2: float = 0.0,
    batch: int = 8,
    second_order: bool = True,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    seed: int = 0,
) -> bool:
    """Check ``model.loss(X, y, l2)``'s gradient (and its Hessian-vector products) on the first ``batch`` rows.

    Differentiates with respect to ``model.parameters()`` through a closure, exactly as a
    user would write it. The model must compute in float64 (finite differences need it).
    Raises :class:`GradcheckError` on a mismatch; returns True otherwise.
    """
    params = model.parameters()
    for k, p in enumerate(params):
        if p.dtype != np.float64:
            raise TypeError(
                f"check_model: parameter {k} '{p.name}' is {p.dtype}; build the model with dtype=np.float64 to check it"
            )
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"check_model: batch must be an integer >= 1, got {batch!r}")
    Xb, yb = np.asarray(X[:batch], dtype=np.float64), np.asarray(y[:batch])

    def loss(*_params: Tensor) -> Tensor:
        return model.loss(Xb, yb, l2=l2)

    gradcheck(loss, params, eps=eps, atol=atol, rtol=rtol, seed=seed)
    if second_order:
        gradgradcheck(loss, params, eps=eps, atol=atol, rtol=rtol, seed=seed)
    return True
