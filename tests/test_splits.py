"""splits, metrics and model_gradcheck: the library behind the CLI, tested without it."""

import numpy as np
import pytest
from helpers import write_idx

from tinygrad_lr import data, models, reference
from tinygrad_lr.metrics import measure
from tinygrad_lr.model_gradcheck import (
    MODELS,
    closed_form_grads,
    gradcheck_rows,
    second_order_failure,
    small_problem,
)
from tinygrad_lr.splits import DATASETS, MNIST_MD5, load_split, missing_mnist_message

# ---- splits -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [d for d in DATASETS if d != "mnist"])
def test_a_split_is_seeded_stratified_and_scaled_with_the_training_rows(name):
    split = load_split(name, seed=3)
    again = load_split(name, seed=3)
    np.testing.assert_array_equal(split.X_train, again.X_train)
    assert not np.array_equal(load_split(name, seed=4).y_test, split.y_test)  # the seed picks the rows
    n = len(split.y_train) + len(split.y_test)
    assert len(split.y_test) == int(np.ceil(0.25 * n)) and split.test_size == len(split.y_test) / n
    if split.image_shape is None:  # tabular: standardised with the training rows' statistics only
        np.testing.assert_allclose(split.X_train.mean(axis=0), 0, atol=1e-9)
        scale = split.X_train.std(axis=0)
        np.testing.assert_allclose(scale[scale > 0], 1)
        assert abs(split.X_test.mean()) > 1e-12  # the test rows were not scaled with their own mean
    else:  # images keep their pixels in [0, 1] and are shown unscaled
        assert split.X_train.min() >= 0 and split.X_train.max() <= 1
        np.testing.assert_array_equal(split.images_test, split.X_test)
    classes = np.bincount(split.y_train) / len(split.y_train)
    np.testing.assert_allclose(np.bincount(split.y_test) / len(split.y_test), classes, atol=0.05)


def test_the_digits_split_is_the_unscaled_pixels_over_16():
    X, y = data.load_digits()
    split = load_split("digits", seed=0, test_size=0.5)
    X_train, X_test, y_train, y_test = data.train_test_split(X / 16, y, test_size=0.5, stratify=y, random_state=0)
    np.testing.assert_array_equal(split.X_train, X_train)
    assert split.image_shape == (8, 8) and split.n_classes == 10


def test_binary_keeps_classes_0_and_1():
    split = load_split("iris", binary=True)
    assert set(split.y_train) | set(split.y_test) == {0, 1} and split.n_classes == 2 and split.binary
    assert len(split.y_train) + len(split.y_test) == 100


def test_unknown_datasets_and_a_test_size_for_mnist_are_refused(tmp_path):
    with pytest.raises(ValueError, match="load_split: unknown dataset 'cifar'; expected one of digits"):
        load_split("cifar")
    with pytest.raises(ValueError, match="mnist is split by its files; test_size does not apply"):
        load_split("mnist", tmp_path, test_size=0.3)


def test_missing_mnist_files_are_named_with_their_checksums(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_split("mnist", tmp_path)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert f"{name} (md5 {MNIST_MD5[name]})" in str(e.value)
    assert "--data-dir" in str(e.value) and "optional" in str(e.value)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(3))  # raw (unpacked) files count too
    message = missing_mnist_message(tmp_path)
    assert "t10k-images-idx3-ubyte.gz (md5" in message and "has no t10k-labels" not in message
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28)))
    assert missing_mnist_message(tmp_path) is None
    assert "needs a folder (--data-dir DIR) with" in missing_mnist_message(None)


def test_mnist_keeps_the_files_split_and_reports_the_real_fraction(tmp_path):
    n = 10_000
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.full((n, 28, 28), 51))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(n) % 10)
    split = load_split("mnist", tmp_path)
    assert (len(split.y_train), len(split.y_test), split.test_size) == (8000, 2000, 0.2)
    assert split.X_train.shape == (8000, 784) and np.all(split.X_train == 0.2)  # 51/255, unscaled
    assert split.image_shape == (28, 28) and split.n_classes == 10


# ---- metrics ------------------------------------------------------------------------------------------


def test_measure_is_accuracy_and_the_unpenalised_mean_log_loss(rng):
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 3, 20)
    model = models.SoftmaxRegression(3, 3, seed=1)
    accuracy, loss = measure(model, X, y)
    assert accuracy == np.mean(model.predict(X) == y)
    assert loss == pytest.approx(reference.softmax_loss(X, y, model.W.data, model.b.data, l2=0))
    logistic = models.LogisticRegression(3, seed=2)
    yb = y % 2
    accuracy, loss = measure(logistic, X, yb)
    assert accuracy == np.mean(logistic.predict(X) == yb)
    assert loss == pytest.approx(reference.logistic_loss(X, yb, logistic.w.data, logistic.b.data, l2=0))


# ---- model_gradcheck ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", MODELS)
def test_every_parameter_of_every_model_passes(kind):
    rows = gradcheck_rows(kind, seed=1, l2=0.3)
    model, _, _ = small_problem(kind, seed=1)
    assert [r.parameter for r in rows] == list(model.named_parameters())
    assert all(r.ok and r.reference < 1e-12 and r.numerical < 1e-6 for r in rows)
    assert [r.shape for r in rows] == [p.shape for p in model.parameters()]


def test_the_problem_is_small_and_non_square():
    model, X, y = small_problem("mlp")
    assert X.shape == (7, 5) and model.sizes == [5, 4, 3] and set(y) <= {0, 1, 2}
    _, _, yb = small_problem("logistic")
    assert yb.dtype == np.float64 and set(yb) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="small_problem: unknown model 'svm'"):
        small_problem("svm")


@pytest.mark.parametrize("l2", [0.0, 0.5])
def test_the_closed_forms_are_the_reference_module(l2):
    model, X, y = small_problem("softmax", seed=2)
    gW, gb = reference.softmax_grad(X, y, model.W.data, model.b.data, l2=l2)
    closed = closed_form_grads(model, X, y, l2)
    np.testing.assert_array_equal(closed["W"], gW)
    np.testing.assert_array_equal(closed["b"], gb)


def test_a_wrong_closed_form_or_a_wrong_autograd_fails_its_row(monkeypatch):
    right = reference.mlp_grad

    def wrong_b1(*args, **kwargs):
        gW, gb = right(*args, **kwargs)
        return gW, [gb[0], gb[1] * 1.001]

    monkeypatch.setattr(reference, "mlp_grad", wrong_b1)
    rows = {r.parameter: r for r in gradcheck_rows("mlp")}
    assert [name for name, r in rows.items() if not r.ok] == ["b1"]
    assert rows["b1"].reference > 1e-6 and rows["b1"].numerical < 1e-7  # the closed form is wrong, not autograd


@pytest.mark.parametrize("kind", MODELS)
def test_second_order_holds_for_every_model(kind):
    assert second_order_failure(kind, seed=1, l2=0.3) is None


def test_a_wrong_second_derivative_fails_the_second_order_check(monkeypatch):
    from tinygrad_lr import ops

    def tanh_rule_missing_its_square(ctx, grad):  # right values, wrong derivative of them: 1 - out, not 1 - out²
        (out,) = ctx.saved_tensors
        return grad * (1 - out * out.detach())

    monkeypatch.setattr(ops.Tanh, "backward", staticmethod(tanh_rule_missing_its_square))
    assert "disagrees with central differences" in second_order_failure("mlp")
    assert second_order_failure("softmax") is None  # no tanh in it
