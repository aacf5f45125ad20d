"""One rule everywhere (wrong kind: TypeError, wrong value: ValueError), pandas by position, state after errors."""

import numpy as np
import pandas as pd  # a test dependency (the dev extra)
import pytest

from tinygrad_lr import data, models, optim, solvers
from tinygrad_lr.estimators import LogisticRegressionClassifier, MLPClassifier, SoftmaxRegressionClassifier
from tinygrad_lr.train import fit

RNG = np.random.default_rng(0)
X = RNG.standard_normal((40, 3))
Y = (X[:, 0] - X[:, 2] > 0).astype(np.int64)


def snapshot(model):
    return [p.data.tobytes() for p in model.parameters()]


# ---- the same kind of mistake gets the same exception everywhere -------------------------------


COUNTS = {
    "fit epochs": lambda v: fit(models.LogisticRegression(3), X, Y, epochs=v),
    "fit batch_size": lambda v: fit(models.LogisticRegression(3), X, Y, batch_size=v),
    "batches": lambda v: next(data.batches(X, Y, v)),
    "newton_cg max_iter": lambda v: solvers.newton_cg(models.LogisticRegression(3), X, Y.astype(float), max_iter=v),
    "lbfgs max_iter": lambda v: solvers.lbfgs(models.LogisticRegression(3), X, Y.astype(float), max_iter=v),
    "estimator max_iter": lambda v: SoftmaxRegressionClassifier(max_iter=v).fit(X, Y),
    "load_mnist n_train": lambda v: data.load_mnist("/nonexistent", n_train=v),
    "model size": lambda v: models.SoftmaxRegression(v, 2),
}


@pytest.mark.parametrize("where", COUNTS)
@pytest.mark.parametrize("value, error", [(2.5, TypeError), ("3", TypeError), (True, TypeError), (0, ValueError)])
def test_a_count_of_the_wrong_kind_is_a_type_error_and_a_bad_count_a_value_error(where, value, error):
    with pytest.raises(error, match=repr(value) if error is TypeError else "0"):
        COUNTS[where](value)


@pytest.mark.parametrize("value", ["no", "False", 0.5, None, 1])
def test_fit_intercept_must_be_a_bool_as_in_scikit_learn(value):
    with pytest.raises(TypeError, match=f"fit_intercept must be True or False, got {value!r}"):
        LogisticRegressionClassifier(fit_intercept=value).fit(X, Y)


def test_fit_intercept_false_and_numpy_bools_are_accepted():
    est = LogisticRegressionClassifier(fit_intercept=np.False_).fit(X, Y)
    assert est.intercept_.tolist() == [0.0]


@pytest.mark.parametrize("solver", [solvers.newton_cg, solvers.lbfgs])
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(l2=-0.1), ValueError, "l2 must be finite and >= 0, got -0.1"),
        (dict(l2=float("nan")), ValueError, "l2 must be finite and >= 0, got nan"),
        (dict(l2="0.1"), TypeError, "l2 must be a real number"),
        (dict(X=np.where(np.arange(120).reshape(40, 3) == 0, np.nan, X)), ValueError, r"X contains NaN or inf .*row 0"),
        (dict(X=X.astype(complex)), TypeError, "X must hold real numbers, got dtype complex128"),
    ],
)
def test_solvers_refuse_nan_in_x_and_bad_l2(solver, kwargs, error, message):
    model, kwargs = models.LogisticRegression(3), dict(kwargs)
    before = snapshot(model)
    with pytest.raises(error, match=f"{solver.__name__}: {message}"):
        solver(model, kwargs.pop("X", X), Y.astype(float), **kwargs)
    assert snapshot(model) == before


# ---- pandas: rows by position at every entry point ------------------------------------------------


def shuffled_frames():
    index = RNG.permutation(len(X)) + 100  # as after a split: not 0..n-1, not in order
    return pd.DataFrame(X, index=index, columns=["a", "b", "c"]), pd.Series(Y, index=index)


ENTRY_POINTS = {
    "fit": lambda X, y: fit(models.SoftmaxRegression(3, 2), X, y, epochs=2, batch_size=7).loss,
    "fit validation": lambda X, y: fit(models.SoftmaxRegression(3, 2), X, y, epochs=2, validation=(X, y)).val_loss,
    "newton_cg": lambda X, y: solvers.newton_cg(models.LogisticRegression(3), X, y.astype(float)).loss,
    "lbfgs": lambda X, y: solvers.lbfgs(models.SoftmaxRegression(3, 2), X, y).loss,
    "value_and_grad": lambda X, y: solvers.value_and_grad(models.LogisticRegression(3), X, y.astype(float))(np.ones(4))[
        0
    ],
    "loss": lambda X, y: models.SoftmaxRegression(3, 2).loss(X, y).item(),
    "predict": lambda X, y: models.MLP([3, 4, 2]).predict(X).tolist(),
    "Standardizer": lambda X, y: data.Standardizer().fit_transform(X).tolist(),
    "batches": lambda X, y: [(xb.tolist(), yb.tolist()) for xb, yb in data.batches(X, y, 6, seed=2)],
    "estimator": lambda X, y: SoftmaxRegressionClassifier().fit(X, y).predict_proba(X).tolist(),
    "mlp estimator": lambda X, y: MLPClassifier(max_iter=3, random_state=0).fit(X, y).predict(X).tolist(),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pandas_input_gives_what_its_values_give(entry):
    frame, series = shuffled_frames()
    assert ENTRY_POINTS[entry](frame, series) == ENTRY_POINTS[entry](frame.to_numpy(), series.to_numpy())


# ---- state after an error ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.SGD(p, lr=1e200),
        lambda p: optim.SGD(p, lr=1e200, momentum=0.5),
        lambda p: optim.Adam(p, lr=1e200),
    ],
)
def test_a_step_that_would_write_inf_is_refused_before_writing(make):
    model = models.SoftmaxRegression(3, 2, dtype=np.float32)
    opt = make(model.parameters())
    model.loss(X, Y).backward()
    before = snapshot(model)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match=r"step: the update would make parameter"):
        opt.step()
    assert snapshot(model) == before and opt.steps == 0


def test_plain_sgd_refuses_a_non_finite_gradient_through_the_new_values():
    model = models.SoftmaxRegression(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    model.loss(X, Y).backward()
    model.W.grad.data[0, 0] = np.inf
    before = snapshot(model)
    with pytest.raises(FloatingPointError, match="SGD.step: the update would make parameter 0 of shape"):
        opt.step()
    assert snapshot(model) == before and opt.steps == 0


def test_a_non_finite_gradient_is_refused_before_any_buffer_changes():
    model = models.SoftmaxRegression(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.loss(X, Y).backward()
    opt.step()
    state, before = opt.state_dict(), snapshot(model)
    model.zero_grad()
    model.loss(X, Y).backward()
    model.b.grad.data[1] = np.nan
    with pytest.raises(FloatingPointError, match="SGD.step: the gradient of parameter 1 is not finite"):
        opt.step()
    assert snapshot(model) == before and opt.steps == state["steps"]
    for a, b in zip(state["buffers"]["momentum"], opt.state_dict()["buffers"]["momentum"]):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize(
    "callbacks, message",
    [([print, 3], r"callbacks\[1\] is a int, not a function"), (print, "callbacks must be a list of functions")],
)
def test_fit_checks_callbacks_before_the_first_step(callbacks, message):
    model = models.SoftmaxRegression(3, 2)
    before = snapshot(model)
    with pytest.raises(TypeError, match=f"fit: {message}"):
        fit(model, X, Y, epochs=2, callbacks=callbacks)
    assert snapshot(model) == before


def test_a_non_finite_loss_on_the_first_batch_blames_the_data_not_the_learning_rate():
    model = models.SoftmaxRegression(3, 2, dtype=np.float32)
    huge = np.full((4, 3), 1e300)  # finite in float64, inf in the model's float32
    cast = pytest.warns(UserWarning, match="every batch is cast")  # float64 data into a float32 model
    with np.errstate(all="ignore"), cast, pytest.raises(FloatingPointError) as info:
        fit(model, huge, np.array([0, 1, 0, 1]), batch_size=4)
    message = str(info.value)
    assert "on the first batch, before any step" in message and "float32" in message
    assert "learning rate" not in message
