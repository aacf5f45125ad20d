"""Fuzz: random shapes, dtypes and values thrown at the public Tensor API and the estimators.

Every call either succeeds (and then agrees with NumPy on the result's shape and
values, and backward gives each input a gradient of its own shape) or raises one
of the exception types documented in docs/errors.md, exactly (a NumPy AxisError
or UFuncTypeError subclass does not count), with a message that starts with the
name of the operation (``"add: ..."``, ``"Tensor: ..."``). A bare NumPy message
(``"index 5 is out of bounds ..."``) or an AttributeError/ZeroDivisionError is a
failure.
"""

import operator
import re
import warnings

import numpy as np
import pytest
from helpers import documented_exceptions
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SklearnLR
from sklearn.neural_network import MLPClassifier as SklearnMLP

from tinygrad_lr import Tensor
from tinygrad_lr.estimators import LogisticRegressionClassifier, MLPClassifier, SoftmaxRegressionClassifier

DOCUMENTED = documented_exceptions()
# The Tensor API raises only the plain built-in types (the subclasses belong to io, data, graph, ...).
TENSOR_ERRORS = {ValueError, TypeError, IndexError, RuntimeError} & DOCUMENTED
NAMED = re.compile(r"^[A-Za-z_][\w.]*(\(\))?: ")  # "add: ...", "Tensor: ...", "item(): ..."

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow, 0/0: values, not errors
# Fuzzing is about volume and each example is cheap: at least 200 examples, more under the `deep` profile.
fuzz = settings(max_examples=max(200, settings().max_examples))

# ---- strategies -----------------------------------------------------------------------------------

small_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)
REAL_DTYPES = [np.float64, np.float32, np.int64, np.int8, np.uint8, np.bool_]
OTHER_DTYPES = [np.float16, np.complex128]


def any_array(dtypes=REAL_DTYPES + OTHER_DTYPES, shape=small_shapes):
    """Arrays of many dtypes; floats include NaN, ±inf and huge values (Hypothesis' default elements)."""
    numeric = hnp.arrays(st.sampled_from(dtypes), shape)
    text = hnp.arrays(hnp.unicode_string_dtypes(max_len=3), shape)
    objects = hnp.arrays(object, shape, elements=st.one_of(st.none(), st.integers(), st.text(max_size=2)))
    return st.one_of(numeric, numeric, numeric, text, objects)


raw_values = st.one_of(
    any_array(),
    st.floats(),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.complex_numbers(),
    st.text(max_size=3),
    st.none(),
    st.lists(st.floats(), max_size=4),
    st.lists(st.lists(st.integers(0, 3), max_size=3), max_size=3),  # often ragged
)

float_arrays = hnp.arrays(st.sampled_from([np.float64, np.float32]), small_shapes)
tensors = st.builds(lambda a, rg: Tensor(a, requires_grad=rg), float_arrays, st.booleans())


def is_real_array(x) -> bool:
    """Data the engine accepts: bool, integers, float32/64 (not float16, complex, object, str)."""
    a = np.asarray(x) if not isinstance(x, Tensor) else x.data
    return a.dtype.kind in "biu" or a.dtype in (np.float32, np.float64)


def check_error(e: Exception, allowed=TENSOR_ERRORS) -> None:
    """The exception is one we document, exactly, and its message names the operation."""
    assert type(e) in allowed, f"undocumented {type(e).__name__}: {e}"
    assert NAMED.match(str(e)), f"{type(e).__name__} without the operation's name: {e}"


def attempt(fn):
    """(result, None) or (None, exception) for the documented-error check."""
    try:
        return fn(), None
    except Exception as e:  # sorted out by check_error
        return None, e


def numpy_result(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(), True
    except Exception:  # only "did NumPy accept it?" matters
        return None, False


def backward_reaches_every_input(out: Tensor, inputs: list[Tensor]) -> None:
    """After a successful op, backward works and gives each input a gradient of its own shape and dtype."""
    if not out.requires_grad:
        return
    before = [t.data.copy() for t in inputs]
    out.sum().backward()
    for t, data in zip(inputs, before):
        np.testing.assert_array_equal(t.data, data)  # never mutated
        if t.requires_grad:
            assert t.grad is not None and t.grad.shape == t.shape and t.grad.dtype == t.dtype


def same_values(ours: np.ndarray, theirs) -> None:
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs.astype(ours.dtype), rtol=1e-6, atol=0, equal_nan=True)


# ---- constructors -----------------------------------------------------------------------------------


@fuzz
@given(
    data=raw_values,
    requires_grad=st.booleans(),
    dtype=st.sampled_from([None, np.float64, np.float32, np.int64, np.complex128, "U3", object, "nonsense"]),
)
def test_constructor(data, requires_grad, dtype):
    t, error = attempt(lambda: Tensor(data, requires_grad=requires_grad, dtype=dtype))
    if error is not None:
        check_error(error)
        array, numpy_ok = numpy_result(lambda: np.asarray(data))
        wanted_ok = dtype in (None, np.float64, np.float32)
        assert not (numpy_ok and is_real_array(array) and wanted_ok), f"refused real data: {error}"
        return
    assert t.dtype in (np.float64, np.float32) and t.requires_grad == requires_grad
    assert t.shape == np.shape(np.asarray(data))


@fuzz
@given(shape=st.lists(st.one_of(st.integers(-2, 3), st.floats(0, 3), st.text(max_size=1)), max_size=3),
       factory=st.sampled_from(["zeros", "ones", "randn"]),
       dtype=st.sampled_from([np.float64, np.float32, np.int64, "nonsense"]))  # fmt: skip
def test_factories(shape, factory, dtype):
    t, error = attempt(lambda: getattr(Tensor, factory)(*shape, dtype=dtype))
    _, numpy_ok = numpy_result(lambda: np.zeros(tuple(shape), dtype=dtype))
    valid = numpy_ok and dtype in (np.float64, np.float32)  # the engine holds float64/float32 only
    if error is not None:
        check_error(error)
        assert not valid, f"{factory}{tuple(shape)} with dtype {dtype} refused, NumPy accepts it: {error}"
        return
    assert valid, f"{factory}{tuple(shape)} with dtype {dtype} accepted, NumPy refuses it"
    assert t.shape == tuple(shape) and t.dtype == np.dtype(dtype)


# ---- binary operators ---------------------------------------------------------------------------------

BINARY = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": operator.pow,
    "@": operator.matmul,
}


@fuzz
@given(
    a=tensors,
    other=st.one_of(tensors, raw_values),
    op=st.sampled_from(sorted(BINARY)),
    reflected=st.booleans(),
)
def test_binary_operators(a, other, op, reflected):
    fn = BINARY[op]
    out, error = attempt(lambda: fn(other, a) if reflected else fn(a, other))  # ndarray @ Tensor: our __rmatmul__
    b = operand_array(other, a)
    expected, numpy_ok = numpy_result(lambda: fn(b, a.data) if reflected else fn(a.data, b))
    if error is not None:
        check_error(error)
        assert not (numpy_ok and is_real_array(b)), f"{op} refused operands NumPy accepts: {error}"
        return
    assert numpy_ok, f"{op} accepted operands NumPy refuses"
    same_values(out.data, expected)
    backward_reaches_every_input(out, [a] + ([other] if isinstance(other, Tensor) else []))


def operand_array(x, like: Tensor):
    """What the engine computes with (``Tensor._constants``): numbers and int/bool arrays take the tensor's dtype."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, int | float | bool):
        return np.asarray(x, dtype=like.dtype)
    try:
        arr = np.asarray(x)
    except ValueError:  # ragged lists
        return np.asarray(x, dtype=object)
    return arr.astype(like.dtype) if arr.dtype.kind in "biu" else arr


# ---- reductions, shapes, indexing ---------------------------------------------------------------------

axes = st.one_of(
    st.none(),
    st.integers(-4, 4),
    st.tuples(st.integers(-4, 4)),
    st.tuples(st.integers(-4, 4), st.integers(-4, 4)),
    st.lists(st.integers(-3, 3), max_size=2),
    st.floats(-2, 2),
    st.text(max_size=1),
)


@fuzz
@given(x=tensors, reduction=st.sampled_from(["sum", "mean", "max", "min"]), axis=axes, keepdims=st.booleans())
def test_reductions(x, reduction, axis, keepdims):
    out, error = attempt(lambda: getattr(x, reduction)(axis=axis, keepdims=keepdims))
    numpy_axis = tuple(axis) if isinstance(axis, list) else axis  # a list of axes is accepted, as a tuple
    expected, numpy_ok = numpy_result(lambda: getattr(np, reduction)(x.data, axis=numpy_axis, keepdims=keepdims))
    if x.ndim == 0 and numpy_axis not in (None, ()):
        # NumPy itself has no one verdict here (np.sum(0-d, axis=0) works, axis=(0,) or np.mean(0-d, axis=0)
        # does not): only a documented error or a value, checked as for any shape.
        numpy_ok = error is None
    if error is not None:
        check_error(error)
        # the one documented departure: a mean over no elements is refused, not NaN with a warning
        reduced = range(x.ndim) if numpy_axis is None else np.atleast_1d(numpy_axis) if numpy_ok else []
        mean_of_nothing = reduction == "mean" and numpy_ok and np.prod([x.shape[a] for a in reduced]) == 0
        assert not numpy_ok or mean_of_nothing, f"{reduction}(axis={axis!r}) refused, NumPy accepts it: {error}"
        return
    assert numpy_ok, f"{reduction}(axis={axis!r}) accepted for shape {x.shape}, NumPy refuses it"
    if expected is not None:
        same_values(out.data, expected)
    backward_reaches_every_input(out, [x])


sizes = st.lists(st.one_of(st.integers(-2, 6), st.floats(0, 4), st.text(max_size=1), st.none()), max_size=4)


@fuzz
@given(x=tensors, shape=sizes, how=st.sampled_from(["reshape", "transpose", "broadcast_to"]))
def test_shape_ops(x, shape, how):
    out, error = attempt(lambda: getattr(x, how)(*shape) if how != "broadcast_to" else x.broadcast_to(shape))
    numpy_op = {"reshape": np.reshape, "transpose": lambda a, axes: np.transpose(a, axes or None),
                "broadcast_to": np.broadcast_to}[how]  # fmt: skip
    expected, numpy_ok = numpy_result(lambda: numpy_op(x.data, tuple(shape)))
    if error is not None:
        check_error(error)
        assert not numpy_ok, f"{how}{tuple(shape)} refused for shape {x.shape}, NumPy accepts it: {error}"
        return
    assert numpy_ok, f"{how}{tuple(shape)} accepted for shape {x.shape}, NumPy refuses it"
    same_values(out.data, expected)
    backward_reaches_every_input(out, [x])


index_items = st.one_of(
    st.integers(-4, 4),
    st.slices(4),
    st.none(),
    st.just(Ellipsis),
    st.lists(st.integers(-4, 4), max_size=4),
    hnp.arrays(np.int64, st.integers(0, 4), elements=st.integers(-4, 4)),
    hnp.arrays(np.bool_, st.integers(0, 4)),
    st.floats(-2, 2),
    st.text(max_size=1),
    hnp.arrays(np.float64, st.integers(0, 3)),
)


@fuzz
@given(x=tensors, index=st.one_of(index_items, st.tuples(index_items, index_items)))
def test_indexing(x, index):
    out, error = attempt(lambda: x[index])
    expected, numpy_ok = numpy_result(lambda: x.data[index])
    if error is not None:
        check_error(error)
        supported = all(not isinstance(i, float | str) for i in (index if isinstance(index, tuple) else (index,)))
        assert not (numpy_ok and supported and _integer_arrays(index)), f"x[{index!r}] refused, NumPy accepts it"
        return
    assert numpy_ok, f"x[{index!r}] accepted for shape {x.shape}, NumPy refuses it"
    same_values(out.data, expected)
    backward_reaches_every_input(out, [x])


def _integer_arrays(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(not isinstance(i, np.ndarray) or i.dtype.kind in "biu" for i in items)


# ---- backward -------------------------------------------------------------------------------------------


@fuzz
@given(
    x=tensors,
    unary=st.sampled_from(["exp", "log", "tanh", "sigmoid", "relu", "sqrt", "T", "neg"]),
    gradient=st.one_of(st.none(), raw_values, float_arrays),
    reduce=st.booleans(),
)
def test_backward(x, unary, gradient, reduce):
    y = -x if unary == "neg" else x.T if unary == "T" else getattr(x, unary)()
    y = y.sum() if reduce else y
    _, error = attempt(lambda: y.backward(gradient))
    # valid: x requires grad, and the gradient is omitted for a one-element output or is real data of y's shape
    if gradient is None:
        valid = y.size == 1
    else:
        array, numpy_ok = numpy_result(lambda: np.asarray(gradient))
        # a gradient takes the output's dtype, as Tensor(g, dtype=...) does: any real dtype, float16 too
        valid = numpy_ok and array.dtype.kind in "biuf" and array.shape == y.shape
    valid = valid and x.requires_grad
    if error is not None:
        check_error(error)
        assert not valid, f"backward({gradient!r}) refused for an output of shape {y.shape}: {error}"
        return
    assert valid, f"backward({gradient!r}) accepted for an output of shape {y.shape}"
    assert x.grad.shape == x.shape


@fuzz
@given(x=tensors, n=st.integers(0, 3))
def test_item_and_grad_need_the_right_tensors(x, n):
    _, error = attempt(lambda: x.item())
    if error is not None:
        check_error(error)
        assert x.size != 1
    y = (x * 2).sum()
    unused = Tensor(np.ones(n), requires_grad=bool(n % 2))
    _, error = attempt(lambda: __import__("tinygrad_lr").grad(y, [x, unused]))
    assert error is not None  # x may not require grad, `unused` is never used
    check_error(error)


# ---- estimators -----------------------------------------------------------------------------------------

ESTIMATORS = {
    "logistic": lambda solver: LogisticRegressionClassifier(solver=solver, max_iter=3, batch_size=4),
    "softmax": lambda solver: SoftmaxRegressionClassifier(solver=solver, max_iter=3, batch_size=4),
    "mlp": lambda solver: MLPClassifier(hidden_layer_sizes=(3,), solver="lbfgs" if solver == "newton" else solver,
                                        max_iter=3, batch_size=4),
}  # fmt: skip
# scikit-learn's own validation (NaN, complex, strings, too few samples) raises ValueError or TypeError;
# a diverging stochastic solver raises FloatingPointError.
ESTIMATOR_ERRORS = {ValueError, TypeError, FloatingPointError} & DOCUMENTED


@st.composite
def estimator_data(draw):
    """(X, y): often a clean float problem of matching length, else anything (NaN, strings, wrong lengths)."""
    n = draw(st.one_of(st.integers(4, 12), st.integers(0, 12)))
    d = draw(st.one_of(st.integers(1, 3), st.integers(0, 3)))
    clean = hnp.arrays(np.float64, (n, d), elements=st.floats(-10, 10))
    X = draw(st.one_of(clean, clean, any_array(shape=st.just((n, d)))))
    length = draw(st.sampled_from([n, n, n, max(n - 1, 0), n + 1]))
    balanced = st.builds(lambda k, seed: np.random.default_rng(seed).permutation(np.arange(length) % k),
                         st.integers(2, 3), st.integers(0, 2**16))  # fmt: skip
    y = draw(st.one_of(
        balanced,
        balanced,
        hnp.arrays(np.int64, length, elements=st.integers(-1, 3)),
        hnp.arrays(np.float64, length),
        hnp.arrays(hnp.unicode_string_dtypes(max_len=1), length),
    ))  # fmt: skip
    return X, y


# scikit-learn's own estimators are the oracle for what counts as valid data (as NumPy is above).
SKLEARN_TWINS = {
    "logistic": lambda: SklearnLR(max_iter=3),
    "softmax": lambda: SklearnLR(max_iter=3),
    "mlp": lambda: SklearnMLP(hidden_layer_sizes=(3,), max_iter=3),
}


def sklearn_verdict(kind, X, y, X_new):
    """(fit accepted, predict_proba accepted) by scikit-learn's twin of the estimator."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        twin, fit_ok = numpy_result(lambda: SKLEARN_TWINS[kind]().fit(X, y))
        _, predict_ok = numpy_result(lambda: twin.predict_proba(X_new)) if fit_ok else (None, False)
    return fit_ok, predict_ok


def valid_training_data(kind, X, y, fit_ok) -> bool:
    """Data every solver must fit: scikit-learn accepts it, two or more classes (exactly two for
    the binary-only logistic model) and moderate values (huge ones may make a stochastic solver diverge)."""
    if not fit_ok:
        return False
    n_classes = len(np.unique(y))
    moderate = np.asarray(X, dtype=np.float64).size == 0 or np.abs(np.asarray(X, dtype=np.float64)).max() <= 1e3
    return n_classes >= 2 and (kind != "logistic" or n_classes == 2) and moderate


@fuzz
@given(
    Xy=estimator_data(),
    kind=st.sampled_from(sorted(ESTIMATORS)),
    solver=st.sampled_from(["newton", "lbfgs", "adam", "sgd"]),
    X_new=any_array(shape=st.tuples(st.integers(0, 3), st.integers(0, 3))),
)
def test_estimators_fit_and_predict(Xy, kind, solver, X_new):
    X, y = Xy
    est = ESTIMATORS[kind](solver)
    fit_ok, predict_ok = sklearn_verdict(kind, X, y, X_new)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _, error = attempt(lambda: est.fit(X, y))
    if error is not None:
        assert type(error) in ESTIMATOR_ERRORS, f"fit: undocumented {type(error).__name__}: {error}"
        assert not valid_training_data(kind, X, y, fit_ok), f"fit refused data scikit-learn accepts: {error}"
        event(f"fit refused: {type(error).__name__}")
        return
    assert fit_ok, "fit accepted data scikit-learn refuses"
    event("fit succeeded")
    proba, error = attempt(lambda: est.predict_proba(X_new))
    if error is not None:
        assert type(error) in ESTIMATOR_ERRORS, f"predict_proba: undocumented {type(error).__name__}: {error}"
        assert not predict_ok, f"predict_proba refused data scikit-learn accepts: {error}"
        return
    assert predict_ok, "predict_proba accepted data scikit-learn refuses"
    assert proba.shape == (len(X_new), len(est.classes_))
    assert np.all(np.isfinite(proba)) and np.allclose(proba.sum(axis=1), 1)
    assert set(est.predict(X_new)) <= set(est.classes_)
