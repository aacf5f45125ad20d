"""plots: each figure has the expected axes, lines and data, and writes a valid PNG or SVG."""

import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import assert_only_the_old_file, disk_fills_up_writing
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from tinygrad_lr import Tensor, models, plots
from tinygrad_lr.train import History

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_image(path):
    assert path.exists()
    if path.suffix == ".png":
        assert path.read_bytes()[:8] == PNG_MAGIC
    else:
        assert ET.parse(path).getroot().tag == "{http://www.w3.org/2000/svg}svg"


def scatters(ax):
    return [c for c in ax.collections if isinstance(c, PathCollection)]


# ---- history -----------------------------------------------------------------------------


HISTORY = {
    "loss": [0.9, 0.5, 0.3],
    "accuracy": [0.6, 0.8, 0.9],
    "val_loss": [1.0, 0.7, 0.6],
    "val_accuracy": [0.5, 0.7, 0.75],
}


@pytest.mark.parametrize("as_object", [False, True])
def test_history_has_loss_and_accuracy_panels_with_train_and_validation(tmp_path, as_object):
    history = SimpleNamespace(**HISTORY) if as_object else HISTORY
    fig = plots.plot_history(history, tmp_path / "history.png", title="run")
    assert isinstance(fig, Figure)
    assert_image(tmp_path / "history.png")
    loss_ax, acc_ax = fig.axes
    for ax, what in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == what
        train, val = ax.get_lines()
        assert (train.get_label(), val.get_label()) == ("train", "validation")
        np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
        np.testing.assert_array_equal(train.get_ydata(), HISTORY[what])
        np.testing.assert_array_equal(val.get_ydata(), HISTORY["val_" + what])
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]
    assert fig._suptitle.get_text() == "run"


def test_history_has_whole_epochs_accuracy_up_to_1_and_says_if_the_loss_has_the_penalty():
    history = History(
        loss=[0.9, 0.5, 0.3], accuracy=[0.5, 0.9, 1.0], val_loss=[1.0, 0.6, 0.4], val_accuracy=[0.4, 0.8, 1.0]
    )
    history.l2 = 0.01
    loss_ax, acc_ax = plots.plot_history(history).axes
    for ax in (loss_ax, acc_ax):
        ax.figure.canvas.draw()  # let the locators place the ticks
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)  # no epoch 1.5
    assert acc_ax.get_ylim()[1] == 1.0
    labels = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert labels == ["train (log-loss + L2 penalty, λ=0.01)", "validation (log-loss + L2 penalty, λ=0.01)"]
    assert [t.get_text() for t in acc_ax.get_legend().get_texts()] == ["train", "validation"]
    history.l2 = 0.0
    no_penalty = plots.plot_history(history).axes[0].get_legend().get_texts()
    assert [t.get_text() for t in no_penalty] == ["train (log-loss, no penalty)", "validation (log-loss, no penalty)"]
    from_dict = plots.plot_history({**HISTORY, "l2": 0.5}).axes[0].get_legend().get_texts()[0].get_text()
    assert from_dict == "train (log-loss + L2 penalty, λ=0.5)"


def test_history_leaves_out_missing_series_and_writes_svg(tmp_path):
    fig = plots.plot_history(SimpleNamespace(loss=[3.0, 2.0], val_loss=[]), tmp_path / "h.svg")
    assert_image(tmp_path / "h.svg")
    (ax,) = fig.axes
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_ydata(), [3.0, 2.0])
    with pytest.raises(ValueError, match="plot_history: the history has no 'loss'"):
        plots.plot_history({"loss": []})


def test_unknown_file_type_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"plot_history: can write \.png or \.svg files, not 'h\.jpg'"):
        plots.plot_history(HISTORY, tmp_path / "h.jpg")
    assert not (tmp_path / "h.jpg").exists()


@pytest.mark.parametrize("name", ["h.png", "h.svg"])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, name):
    path = tmp_path / name
    plots.plot_history(HISTORY, path)
    old = path.read_bytes()
    disk_fills_up_writing(monkeypatch, path)
    with pytest.raises(OSError, match="No space left on device"):
        plots.plot_history(HISTORY, path, title="the second run")
    assert_only_the_old_file(path, old)
    monkeypatch.undo()
    plots.plot_history(HISTORY, path, title="the second run")
    assert_image(path)
    assert path.read_bytes() != old


# ---- decision boundary -------------------------------------------------------------------


def test_boundary_of_a_logistic_regression_is_its_half_probability_line(tmp_path):
    model = models.LogisticRegression(2)
    model.w.data[:] = [1.0, -1.0]  # p = 1/2 exactly on the diagonal x1 = x2
    model.b.data[...] = 0.0
    X = np.random.default_rng(0).uniform(-2, 2, size=(40, 2))
    y = (X[:, 0] > X[:, 1]).astype(int)
    fig = plots.plot_decision_boundary(model, X, y, tmp_path / "lr.png", resolution=101)
    assert_image(tmp_path / "lr.png")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x₁", "x₂")
    boundary = next(c for c in ax.collections if getattr(c, "levels", None) is not None and list(c.levels) == [0.5])
    vertices = np.concatenate([p.vertices for p in boundary.get_paths()])
    assert len(vertices) > 10
    np.testing.assert_allclose(vertices[:, 0], vertices[:, 1], atol=1e-4)  # linear interpolation between grid points
    points = scatters(ax)
    assert [p.get_label() for p in points] == ["y = 0", "y = 1"]
    for p, label in zip(points, (0, 1)):
        np.testing.assert_array_equal(p.get_offsets(), X[y == label])
    assert fig.axes[1].get_ylabel() == "p(y = 1)"  # the colour bar


def test_boundary_of_a_predict_only_multiclass_model(tmp_path):
    class Nearest:  # no predict_proba: regions from predict
        centres = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])

        def predict(self, X):
            return np.argmin(((X[:, None, :] - self.centres) ** 2).sum(-1), axis=1)

    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], 10)
    X = Nearest.centres[y] + 0.3 * rng.standard_normal((30, 2))
    fig = plots.plot_decision_boundary(Nearest(), X, y, tmp_path / "nearest.svg", feature_names=("a", "b"))
    assert_image(tmp_path / "nearest.svg")
    (ax,) = fig.axes  # no colour bar without probabilities
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("a", "b")
    assert [p.get_label() for p in scatters(ax)] == ["y = 0", "y = 1", "y = 2"]
    regions = next(c for c in ax.collections if getattr(c, "levels", None) is not None)
    np.testing.assert_array_equal(regions.levels, [-0.5, 0.5, 1.5, 2.5])


def test_boundary_of_a_multiclass_sklearn_estimator_names_classes_by_classes_():
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(2)
    y = np.repeat(np.array(["a", "b", "c"]), 15)
    X = np.repeat([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]], 15, axis=0) + rng.standard_normal((45, 2))
    fig = plots.plot_decision_boundary(sklearn.LogisticRegression().fit(X, y), X, y)
    assert [p.get_label() for p in scatters(fig.axes[0])] == ["y = a", "y = b", "y = c"]
    assert fig.axes[0].get_title() == "decision boundary of LogisticRegression"


def test_boundary_input_errors():
    model = models.LogisticRegression(2)
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 2\), got \(4, 3\)"):
        plots.plot_decision_boundary(model, np.ones((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"y must have shape \(4,\), got \(3,\)"):
        plots.plot_decision_boundary(model, np.ones((4, 2)), np.zeros(3))
    with pytest.raises(TypeError, match="object has neither predict_proba nor predict"):
        plots.plot_decision_boundary(object(), np.ones((4, 2)), np.zeros(4))


# ---- distance to the optimum -----------------------------------------------------------------


def test_distance_of_snapshots_to_a_given_optimum(tmp_path):
    optimum = np.array([1.0, 2.0])
    snapshots = [np.array([4.0, 6.0]), np.array([1.0, 2.5]), Tensor([1.0, 2.0 + 1e-3])]
    fig = plots.plot_distance_to_optimum(snapshots, optimum, tmp_path / "d.png")
    assert_image(tmp_path / "d.png")
    ax = fig.axes[0]
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(line.get_ydata(), [5.0, 0.5, 1e-3])
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "‖θ − θ*‖₂"


def test_distance_to_the_final_snapshot_of_several_runs(tmp_path):
    def run(rate):  # gradient descent on ||θ||²/2 from (3, 4): θ_t = (1-rate)^t θ_0
        return [{"w": np.array([3.0]) * (1 - rate) ** t, "b": np.array(4.0) * (1 - rate) ** t} for t in range(6)]

    fig = plots.plot_distance_to_optimum({"slow": run(0.1), "fast": run(0.5)}, path=tmp_path / "d.svg", xlabel="epoch")
    assert_image(tmp_path / "d.svg")
    ax = fig.axes[0]
    slow, fast = ax.get_lines()
    assert (slow.get_label(), fast.get_label()) == ("slow", "fast")
    t = np.arange(6)
    np.testing.assert_allclose(fast.get_ydata()[:5], 5 * (0.5 ** t[:5] - 0.5**5))
    assert np.isnan(fast.get_ydata()[5])  # distance 0 has no place on a log axis
    assert ax.get_ylabel() == "‖θ − θ_final‖₂" and ax.get_xlabel() == "epoch"
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["slow", "fast"]


def test_distance_from_precomputed_distances_on_a_linear_axis():
    fig = plots.plot_distance_to_optimum([3.0, 1.0, 0.0], log_scale=False)
    (line,) = fig.axes[0].get_lines()
    np.testing.assert_array_equal(line.get_ydata(), [3.0, 1.0, 0.0])
    assert fig.axes[0].get_yscale() == "linear"


def test_distance_input_errors():
    with pytest.raises(ValueError, match="snapshot 1 has 3 parameters, the optimum has 2"):
        plots.plot_distance_to_optimum([np.zeros(2), np.zeros(3)], np.ones(2))
    with pytest.raises(ValueError, match="got distances and an optimum"):
        plots.plot_distance_to_optimum([1.0, 0.5], np.ones(2))
    with pytest.raises(ValueError, match="the trajectory is empty"):
        plots.plot_distance_to_optimum([])


# ---- misclassified digits ------------------------------------------------------------------


@pytest.mark.parametrize("side", [8, 28])
def test_misclassified_grid_shows_only_the_wrong_ones(tmp_path, side):
    rng = np.random.default_rng(side)
    images = rng.uniform(size=(12, side * side))
    y_true = np.arange(12) % 10
    y_pred = y_true.copy()
    wrong = [1, 4, 5, 9, 11]
    y_pred[wrong] = (y_true[wrong] + 3) % 10
    fig = plots.plot_misclassified(images, y_true, y_pred, tmp_path / "mis.png", ncols=3)
    assert_image(tmp_path / "mis.png")
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 6 and len(shown) == 5  # a 2×3 grid, one cell empty
    for ax, i in zip(shown, wrong):
        np.testing.assert_array_equal(ax.images[0].get_array(), images[i].reshape(side, side))
        assert ax.get_title() == f"true {y_true[i]}, pred {y_pred[i]}"
    assert fig._suptitle.get_text() == "5 of 12 misclassified"


def test_misclassified_grid_caps_the_count_and_handles_no_mistakes(tmp_path):
    images = np.zeros((30, 8, 8))
    y_true, y_pred = np.zeros(30, dtype=int), np.ones(30, dtype=int)
    fig = plots.plot_misclassified(images, y_true, y_pred, max_images=4)
    assert sum(bool(ax.images) for ax in fig.axes) == 4
    assert fig._suptitle.get_text() == "30 of 30 misclassified (first 4 shown)"
    fig = plots.plot_misclassified(images, y_true, y_true, tmp_path / "none.svg")
    assert_image(tmp_path / "none.svg")
    assert fig.axes[0].texts[0].get_text() == "no misclassified images (of 30)"


def test_misclassified_input_errors():
    with pytest.raises(ValueError, match="images of 10 pixels are not square"):
        plots.plot_misclassified(np.zeros((2, 10)), [0, 1], [1, 1])
    with pytest.raises(ValueError, match="2 images but 3 true and 2 predicted labels"):
        plots.plot_misclassified(np.zeros((2, 64)), [0, 1, 2], [1, 1])


# ---- sweep --------------------------------------------------------------------------------------


def sweep_cell(lr, test_size, accuracy, loss):
    return {"lr": lr, "test_size": test_size, "train_accuracy": 1.0, "test_accuracy": accuracy, "test_log_loss": loss}


def test_sweep_has_one_line_per_test_fraction_in_learning_rate_order(tmp_path):
    # Cells out of order on purpose: each line must run left to right.
    results = [
        sweep_cell(1.0, 0.4, 0.8, 0.9),
        sweep_cell(0.1, 0.2, 0.7, 0.6),
        sweep_cell(0.01, 0.4, 0.5, 0.65),
        sweep_cell(1.0, 0.2, 0.95, 0.1),
        sweep_cell(0.1, 0.4, 0.9, 0.3),
        sweep_cell(0.01, 0.2, 0.6, 0.68),
    ]
    fig = plots.plot_sweep(results, tmp_path / "sweep.svg", title="iris")
    assert isinstance(fig, Figure)
    assert_image(tmp_path / "sweep.svg")
    accuracy_ax, loss_ax = fig.axes
    assert (accuracy_ax.get_ylabel(), loss_ax.get_ylabel()) == ("test accuracy", "test log-loss")
    assert accuracy_ax.get_xscale() == loss_ax.get_xscale() == loss_ax.get_yscale() == "log"
    assert accuracy_ax.get_yscale() == "linear"
    for ax, key in ((accuracy_ax, "test_accuracy"), (loss_ax, "test_log_loss")):
        assert ax.get_xlabel() == "learning rate"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["test fraction 0.2", "test fraction 0.4"]
        for line, ratio in zip(ax.get_lines(), (0.2, 0.4)):
            mine = sorted((r for r in results if r["test_size"] == ratio), key=lambda r: r["lr"])
            np.testing.assert_array_equal(line.get_xdata(), [0.01, 0.1, 1.0])
            np.testing.assert_array_equal(line.get_ydata(), [r[key] for r in mine])
    assert fig._suptitle.get_text() == "iris"


def test_sweep_input_errors():
    with pytest.raises(ValueError, match="plot_sweep: no results"):
        plots.plot_sweep([])
    with pytest.raises(ValueError, match=r"plot_sweep: result 1 lacks \['test_log_loss'\]"):
        plots.plot_sweep([sweep_cell(0.1, 0.2, 0.9, 0.3), {"lr": 1.0, "test_size": 0.2, "test_accuracy": 0.9}])
    with pytest.raises(ValueError, match="plot_sweep: result 0 has learning rate 0; the log axis needs lr > 0"):
        plots.plot_sweep([sweep_cell(0, 0.2, 0.9, 0.3)])
