"""fit(): the seeds' experiments end to end, History, seeding, early stopping, callbacks, and bad input."""

import os
import sys
import warnings

import numpy as np
import pytest
from helpers import MNIST_DIR

from tinygrad_lr import data, models, optim
from tinygrad_lr.compiler import CompileWarning
from tinygrad_lr.train import History, fit


def params_of(model):
    return [p.data.copy() for p in model.parameters()]


def toy(n=120, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (X @ np.arange(1.0, d + 1) > 0).astype(np.int64)
    return X, y


# ---- the seeds' experiments --------------------------------------------------------------------


@pytest.mark.parametrize("test_size", [0.2, 0.4])
@pytest.mark.parametrize("lr", [0.01, 0.1, 0.9, 10])
def test_iris_binary_logistic_regression_any_learning_rate(lr, test_size):
    X, y = data.load_iris(binary=True)
    X_train, X_test, y_train, y_test = data.train_test_split(X, y, test_size=test_size, random_state=0, stratify=y)
    model = models.LogisticRegression(4)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")  # any RuntimeWarning fails the test
        history = fit(model, X_train, y_train, optimizer=optim.SGD(model.parameters(), lr=lr), epochs=100,
                      batch_size=len(X_train), validation=(X_test, y_test))  # fmt: skip
    assert np.isfinite(history.loss).all() and np.isfinite(history.val_loss).all()
    assert all(np.isfinite(p).all() for p in params_of(model))
    assert history.loss[-1] < history.loss[0]
    assert history.val_accuracy[-1] == 1.0  # setosa vs versicolor is linearly separable


@pytest.mark.slow
@pytest.mark.skipif(
    not os.path.isfile(os.path.join(MNIST_DIR, "t10k-images-idx3-ubyte.gz")),
    reason="MNIST files not in ../shared/data/mnist",
)
def test_softmax_regression_on_real_mnist_reaches_90_percent():
    X_train, y_train, X_test, y_test = data.load_mnist(MNIST_DIR)  # 8 000 / 2 000 of the t10k set
    model = models.SoftmaxRegression(784, 10, dtype=np.float32)
    history = fit(model, X_train, y_train, optimizer=optim.Adam(model.parameters(), lr=0.01), epochs=10,
                  batch_size=128, validation=(X_test, y_test), seed=0)  # fmt: skip
    accuracy = float(np.mean(model.predict(X_test) == y_test))
    assert accuracy >= 0.90
    assert history.val_accuracy[-1] == pytest.approx(accuracy)
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_tanh_mlp_beats_the_linear_model_on_noisy_2d_data():
    X, y = data.make_classification(
        n_samples=1000, n_features=2, n_informative=2, n_redundant=0, flip_y=0.2, random_state=3
    )
    X_train, X_test, y_train, y_test = data.train_test_split(X, y, test_size=0.3, random_state=0)
    accuracy = {}
    for name, model in {"linear": models.LogisticRegression(2), "mlp": models.MLP([2, 10, 2], "tanh")}.items():
        fit(model, X_train, y_train, optimizer=optim.Adam(model.parameters(), lr=0.05), epochs=60, batch_size=32)
        accuracy[name] = np.mean(model.predict(X_test) == y_test)
    assert accuracy["mlp"] > accuracy["linear"] + 0.02, accuracy


# ---- History, seeding, options -------------------------------------------------------------------


def test_history_has_one_entry_per_epoch():
    X, y = toy()
    model = models.LogisticRegression(3)
    h = fit(model, X[:90], y[:90], optimizer=optim.SGD(model.parameters(), lr=0.5), epochs=7, batch_size=16,
            validation=(X[90:], y[90:]))  # fmt: skip
    assert isinstance(h, History) and h.epochs == 7 and not h.stopped_early
    assert len(h.loss) == len(h.accuracy) == len(h.val_loss) == len(h.val_accuracy) == 7
    assert all(0 <= a <= 1 for a in h.accuracy + h.val_accuracy)
    assert h.loss[-1] < h.loss[0] and h.val_accuracy[-1] >= 0.9
    # val figures are those of the final model
    assert h.val_loss[-1] == pytest.approx(model.loss(X[90:], y[90:]).item(), rel=1e-12)
    assert h.val_accuracy[-1] == np.mean(model.predict(X[90:]) == y[90:])


def test_accuracy_counts_a_zero_logit_as_the_model_predicts_it():
    """At logit 0 (p = 0.5) the model predicts class 1; the epoch's accuracy must count it the same way."""
    X, y = toy()
    model = models.LogisticRegression(3)
    model.w.data[...] = 0.0  # every logit is exactly 0 during the single full-batch step
    expected = np.mean(model.predict(X) == y)
    h = fit(model, X, y, optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=1, batch_size=len(X))
    assert h.accuracy == [expected] and expected == np.mean(y == 1)


def test_a_fresh_history_is_empty():
    assert History() == History([], [], [], [], 0, False)


def test_without_validation_the_val_lists_stay_empty():
    X, y = toy()
    h = fit(models.LogisticRegression(3), X, y, epochs=2)
    assert h.val_loss == [] and h.val_accuracy == [] and len(h.loss) == 2


def test_same_seed_same_parameters_other_seed_other_parameters():
    X, y = toy()
    runs = {}
    for seed in (0, 0, 1):
        model = models.MLP([3, 4, 2])
        fit(model, X, y, optimizer=optim.SGD(model.parameters(), lr=0.1, momentum=0.9), epochs=3, batch_size=10,
            seed=seed)  # fmt: skip
        runs.setdefault(seed, []).append(params_of(model))
    for a, b in zip(*runs[0]):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(runs[0][0], runs[1][0]))


def test_default_optimizer_is_adam_and_trains():
    X, y = toy()
    model = models.LogisticRegression(3)
    before = params_of(model)
    h = fit(model, X, y, epochs=3)
    assert not np.array_equal(before[0], model.w.data) and h.loss[-1] < h.loss[0]


def test_defaults_are_adam_10_epochs_batches_of_32_seed_0_no_penalty_no_early_stop():
    X, y = toy()
    default, explicit = models.MLP([3, 4, 2], seed=5), models.MLP([3, 4, 2], seed=5)
    h = fit(default, X, y)
    h_explicit = fit(explicit, X, y, optimizer=optim.Adam(explicit.parameters(), lr=1e-3), epochs=10,
                     batch_size=32, seed=0, l2=0.0, tol=None)  # fmt: skip
    assert h.epochs == 10 and not h.stopped_early and h.loss == h_explicit.loss
    for a, b in zip(params_of(default), params_of(explicit)):
        np.testing.assert_array_equal(a, b)
    # and batch_size=32 is what makes the difference to a neighbouring size
    other = models.MLP([3, 4, 2], seed=5)
    assert fit(other, X, y, batch_size=33).loss != h.loss


def test_default_patience_is_5_epochs():
    X, y = toy()
    h = fit(models.LogisticRegression(3), X, y, epochs=50, tol=10.0)  # no epoch improves by 10
    assert h.stopped_early and h.epochs == 6


def test_l2_shrinks_the_weights():
    X, y = toy()
    norms = {}
    for l2 in (0.0, 0.5):
        model = models.SoftmaxRegression(3, 2)
        fit(model, X, y, optimizer=optim.SGD(model.parameters(), lr=0.5), epochs=20, batch_size=120, l2=l2)
        norms[l2] = np.linalg.norm(model.W.data)
    assert norms[0.5] < 0.5 * norms[0.0]


def test_reported_loss_is_the_penalised_objective():
    X, y = toy()
    model = models.SoftmaxRegression(3, 2)
    initial, unpenalised = model.loss(X, y, l2=0.3).item(), model.loss(X, y).item()
    h = fit(model, X, y, optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=1, batch_size=len(X), l2=0.3)
    assert h.loss[0] == pytest.approx(initial, rel=1e-12)  # one full batch: the loss before its step
    assert initial > unpenalised + 0.01  # the penalty is not negligible here


def test_float64_data_trains_a_float32_model_without_copying_its_dtype():
    X, y = toy()
    model = models.SoftmaxRegression(3, 2, dtype=np.float32)
    with pytest.warns(UserWarning, match="fit: X is float64 but SoftmaxRegression computes in float32"):
        fit(model, X, y, optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=2)
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_fit_trains_on_a_memmap(tmp_path):
    X, y = toy(n=300)
    np.save(tmp_path / "X.npy", X.astype(np.float32))
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    model = models.LogisticRegression(3, dtype=np.float32)
    h = fit(model, X_map, y, optimizer=optim.SGD(model.parameters(), lr=0.5), epochs=5, batch_size=32)
    assert h.accuracy[-1] > 0.9


def test_early_stopping_on_tolerance():
    X, y = toy()
    model = models.LogisticRegression(3)
    h = fit(model, X, y, optimizer=optim.SGD(model.parameters(), lr=0.01), epochs=50, tol=10.0, patience=3)
    # no epoch improves by more than 10, so training stops after 1 + patience epochs
    assert h.stopped_early and h.epochs == 4 and len(h.loss) == 4
    h = fit(model, X, y, optimizer=optim.SGD(model.parameters(), lr=0.01), epochs=6, tol=0.0, patience=3)
    assert not h.stopped_early and h.epochs == 6  # still improving: never stops


def test_a_flat_loss_stops_even_with_tol_0():
    """No change at all is no improvement: with tol=0 a loss that stays exactly equal stops after patience."""
    X, y = toy()
    model = models.LogisticRegression(3)
    model.w.data[...], model.b.data[...] = [0.5, -0.25, 0.125], 0.75
    before = params_of(model)
    optimizer = optim.SGD(model.parameters(), lr=1e-300)  # steps vanish next to 0.125: nothing changes
    h = fit(model, X, y, optimizer=optimizer, epochs=20, batch_size=len(X), tol=0.0, patience=2)
    assert all(np.array_equal(a, b) for a, b in zip(before, params_of(model)))
    assert h.loss == [h.loss[0]] * 3 and h.stopped_early and h.epochs == 3


@pytest.mark.parametrize("l2, tol", [(np.float32(0.1), np.float32(1e-3)), (np.int64(1), np.int32(0))])
def test_numpy_scalars_are_accepted_as_l2_and_tol(l2, tol):
    X, y = toy()
    runs = []
    for l2_, tol_ in ((l2, tol), (float(l2), float(tol))):
        model = models.LogisticRegression(3)
        h = fit(model, X, y, optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=4, l2=l2_, tol=tol_, patience=2)
        runs.append((h.loss, model.w.data.copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_callbacks_are_called_every_epoch_with_epoch_history_model():
    X, y = toy()
    model = models.LogisticRegression(3)
    calls = []
    fit(model, X, y, epochs=4, callbacks=[lambda e, h, m: calls.append((e, len(h.loss), m))])
    assert [(e, n) for e, n, _ in calls] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert all(m is model for _, _, m in calls)


def test_progress_bar_forced_on_and_off(capsys):
    X, y = toy()
    fit(models.LogisticRegression(3), X, y, epochs=2, progress=True)
    out, err = capsys.readouterr()
    assert "fit" in err and "2/2" in err and out == ""  # on stderr: stdout stays clean for piping
    fit(models.LogisticRegression(3), X, y, epochs=2, progress=False)
    assert capsys.readouterr() == ("", "")
    fit(models.LogisticRegression(3), X, y, epochs=2)  # stderr is not a terminal under pytest
    assert capsys.readouterr() == ("", "")


def test_progress_bar_by_default_only_when_stderr_is_a_terminal(capsys, monkeypatch):
    X, y = toy()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    fit(models.LogisticRegression(3), X, y, epochs=2)
    out, err = capsys.readouterr()
    assert "fit" in err and "2/2" in err and out == ""
    fit(models.LogisticRegression(3), X, y, epochs=2, progress=False)
    assert capsys.readouterr() == ("", "")


def test_a_diverging_loss_stops_with_a_clear_error():
    X = np.array([[1e30], [-1e30]], dtype=np.float32)
    model = models.MLP([1, 4, 2], activation="relu", dtype=np.float32)
    with (
        np.errstate(all="ignore"),
        pytest.raises(FloatingPointError, match=r"NaN or inf in epoch 1 of 5; .*lr=1e\+30"),  # the 1st step would
    ):
        fit(model, X, np.array([0, 1]), optimizer=optim.SGD(model.parameters(), lr=1e30), epochs=5, batch_size=2)


# ---- bad input is refused before any training ----------------------------------------------------

X_OK, Y_OK = toy(n=20)


def with_nan_in_last_row(value):
    return with_value_at(-1, 2, value)


def with_value_at(row, col, value):
    X = X_OK.copy()
    X[row, col] = value
    return X


@pytest.mark.parametrize("row", [0, 1023, 1024, 2500])
def test_nan_is_found_in_every_chunk_of_a_large_X(row):
    """X is scanned in chunks of rows: a bad value in the first row of any chunk is reported at its row."""
    X, y = toy(n=2600)
    X[row, 1] = np.nan
    with pytest.raises(ValueError, match=f"X contains nan at row {row}, column 1"):
        fit(models.LogisticRegression(3), X, y)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(X=with_nan_in_last_row(np.nan)), ValueError, "X contains nan at row 19, column 2"),
        (dict(X=with_nan_in_last_row(np.inf)), ValueError, "X contains inf at row 19, column 2"),
        (dict(X=with_nan_in_last_row(-np.inf)), ValueError, "X contains -inf at row 19, column 2"),
        (dict(X=with_value_at(0, 0, np.nan)), ValueError, "X contains nan at row 0, column 0"),
        (dict(X=with_value_at(0, 1, np.inf)), ValueError, "X contains inf at row 0, column 1"),
        (dict(X=np.zeros((0, 3)), y=np.zeros(0, int)), ValueError, r"X is empty \(shape \(0, 3\)\)"),
        (dict(X=X_OK[:, :2]), ValueError, "X has 2 features, the model expects 3"),
        (dict(X=X_OK[0]), ValueError, r"X must be 2-D .*got shape \(3,\)"),
        (dict(X=X_OK.astype(complex)), TypeError, "X must hold real numbers, got dtype complex128"),
        (dict(X=np.full((20, 3), "a")), TypeError, "X must hold real numbers, got dtype <U1"),
        (dict(y=Y_OK[:-1]), ValueError, r"y must have shape \(20,\), one label per sample, got shape \(19,\)"),
        (dict(y=np.r_[Y_OK[:-1], -1]), ValueError, r"y must be in \[0, 2\); got -1 at index 19"),
        (dict(y=np.r_[Y_OK[:-1], 2]), ValueError, r"y must be in \[0, 2\); got 2 at index 19"),
        (dict(y=np.zeros(20) + 0.5), TypeError, r"y must be integer class labels, got dtype float64 \(e.g. 0.5\); use"),
        (dict(y=np.array(list("ab" * 10))), TypeError, r"got dtype <U1 \(e.g. 'a'\); use .astype\(int\)"),
        (dict(epochs=0), ValueError, "epochs must be an integer >= 1, got 0"),
        (dict(epochs=2.5), TypeError, "epochs must be an integer >= 1, got 2.5"),
        (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1, got 0"),
        (dict(batch_size=-4), ValueError, "batch_size must be an integer >= 1, got -4"),
        (dict(patience=0), ValueError, "patience must be an integer >= 1, got 0"),
        (dict(l2=-1.0), ValueError, "fit: l2 must be finite and >= 0, got -1.0"),
        (dict(l2=np.nan), ValueError, "fit: l2 must be finite and >= 0, got nan"),
        (dict(l2="0.1"), TypeError, "fit: l2 must be a real number, got '0.1' of type str"),
        (dict(l2=True), TypeError, "fit: l2 must be a real number, got True of type bool"),
        (dict(tol=-0.1), ValueError, "fit: tol must be finite and >= 0, got -0.1"),
        (dict(tol=np.float32(np.inf)), ValueError, "fit: tol must be finite and >= 0, got inf"),
        (dict(validation=(X_OK,)), ValueError, r"validation must be a pair \(X_val, y_val\)"),
        (dict(validation=(with_nan_in_last_row(np.nan), Y_OK)), ValueError, "validation X contains nan at row 19"),
        (dict(validation=(X_OK, np.full(20, 5))), ValueError, r"validation y must be in \[0, 2\); got 5 at index 0"),
    ],
)
def test_bad_input_fails_before_training(kwargs, error, message):
    model = models.LogisticRegression(3)
    before = params_of(model)
    args = {"X": X_OK, "y": Y_OK, **kwargs}
    X, y = args.pop("X"), args.pop("y")
    with pytest.raises(error, match=message):
        fit(model, X, y, **args)
    for a, b in zip(before, params_of(model)):
        np.testing.assert_array_equal(a, b)


def test_labels_are_checked_against_the_number_of_classes():
    model = models.SoftmaxRegression(3, 4)
    with pytest.raises(ValueError, match=r"y must be in \[0, 4\); got 4 at index 0"):
        fit(model, X_OK, np.full(20, 4))
    fit(model, X_OK, np.arange(20) % 4, epochs=1)  # labels 0..3 are fine


def test_optimizer_of_another_model_is_refused():
    model, other = models.LogisticRegression(3), models.LogisticRegression(3)
    with pytest.raises(ValueError, match="does not hold this model's parameters"):
        fit(model, X_OK, Y_OK, optimizer=optim.SGD(other.parameters(), lr=0.1))


@pytest.mark.parametrize("make_optimizer", [None, lambda params: optim.SGD(params, lr=0.1)])
def test_a_frozen_bias_is_left_out_and_kept(make_optimizer):
    model = models.SoftmaxRegression(3, 2)
    model.b.data[...] = [0.25, -0.5]
    model.b.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = None if make_optimizer is None else make_optimizer(trainable)
    W_before = model.W.data.copy()
    fit(model, X_OK, Y_OK, optimizer=optimizer, epochs=2)
    np.testing.assert_array_equal(model.b.data, [0.25, -0.5])
    assert not np.array_equal(model.W.data, W_before)


def test_an_optimizer_over_a_parameter_frozen_since_is_refused():
    model = models.LogisticRegression(3)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    model.b.requires_grad_(False)
    with pytest.raises(ValueError, match="does not hold this model's parameters that require grad"):
        fit(model, X_OK, Y_OK, optimizer=optimizer)
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="fit: LogisticRegression has no parameter that requires grad"):
        fit(model, X_OK, Y_OK)


@pytest.mark.parametrize(
    "model", [models.LogisticRegression(3), models.SoftmaxRegression(3, 2), models.MLP([3, 4, 2])], ids=type
)
def test_model_penalty_is_half_lambda_times_the_squared_weights(model):
    for p in model.parameters():
        p.data[...] = np.random.default_rng(p.size).standard_normal(p.shape)
    squares = sum(np.sum(p.data**2) for name, p in model.named_parameters().items() if not name.startswith("b"))
    assert model.penalty(0.0) == 0.0 and model.penalty(0) == 0.0
    np.testing.assert_allclose(float(model.penalty(0.3)), 0.15 * squares, rtol=1e-12)
    np.testing.assert_allclose(
        model.loss(X_OK, Y_OK, l2=0.3).item(), model.loss(X_OK, Y_OK).item() + 0.15 * squares, rtol=1e-12
    )


def test_fit_takes_the_penalty_from_the_model(monkeypatch):
    """train has no copy of the L2 formula: a model with another penalty is trained and measured with that one."""
    model = models.LogisticRegression(3)
    monkeypatch.setattr(model, "penalty", lambda l2: 100.0 * l2 * model.w.sum())  # pushes w down, linearly
    w_before = model.w.data.copy()
    h = fit(
        model,
        X_OK,
        Y_OK,
        optimizer=optim.SGD(model.parameters(), lr=0.01),
        epochs=1,
        batch_size=20,
        l2=0.5,
        validation=(X_OK, Y_OK),
    )
    data_loss = model.loss(X_OK, Y_OK).item()
    assert np.all(model.w.data < w_before - 0.4)  # the gradient of 50·sum(w) is 50 per weight
    np.testing.assert_allclose(h.val_loss[0], data_loss + 50.0 * model.w.data.sum(), rtol=1e-12)


class _CountingSoftmax(models.SoftmaxRegression):
    """Counts how often its forward's Python runs (a compiled step's replays don't run it)."""

    calls = 0

    def forward(self, X):
        type(self).calls += 1
        return super().forward(X)


class _ReadingSoftmax(models.SoftmaxRegression):
    """Reads a value inside forward: a tape cannot represent it."""

    def forward(self, X):
        logits = super().forward(X)
        logits.max().item()
        return logits


def test_fit_replays_its_steps_by_default_and_compile_false_does_not():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 3)), rng.integers(0, 2, 64)
    counts, histories = {}, {}
    for compile_ in (None, False):
        _CountingSoftmax.calls = 0
        model = _CountingSoftmax(3, 2)
        histories[compile_] = fit(model, X, y, epochs=3, batch_size=16, compile=compile_, progress=False)
        counts[compile_] = _CountingSoftmax.calls
    assert counts == {None: 2, False: 12}  # 12 batches; the default records the first two and replays the rest
    assert histories[None].loss == histories[False].loss


def test_fit_falls_back_quietly_by_default_and_warns_when_compile_is_asked_for():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 3)), rng.integers(0, 2, 32)
    results = {}
    for compile_ in (None, True, False):
        model = _ReadingSoftmax(3, 2)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = fit(model, X, y, epochs=2, batch_size=8, compile=compile_, progress=False)
        results[compile_] = (history.loss, [w for w in caught if issubclass(w.category, CompileWarning)])
    assert results[None][0] == results[True][0] == results[False][0]
    assert not results[None][1] and not results[False][1]
    assert len(results[True][1]) == 1 and "item() reads a tensor's value" in str(results[True][1][0].message)
