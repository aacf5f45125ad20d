"""The tinygrad-lr command: every subcommand end to end, and one-line errors with the right exit status."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from conftest import MNIST_DIR
from test_graph import assert_only_the_old_file, disk_fills_up_writing

from tinygrad_lr import cli, io, reference
from tinygrad_lr.estimators import LogisticRegressionClassifier

PNG = b"\x89PNG\r\n\x1a\n"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Subprocesses import this checkout of tinygrad_lr, whatever is pip-installed.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
SVG = "{http://www.w3.org/2000/svg}"


def run(capsys, *argv):
    """main(argv) -> (exit status, stdout, stderr)."""
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def svg_texts(path):
    return [t.text for t in ET.parse(path).getroot().iter(f"{SVG}text") if t.text]


# ---- help ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["train", "evaluate", "graph", "gradcheck", "sweep"])
def test_every_subcommand_has_help(capsys, command):
    status, out, _ = run(capsys, command, "--help")
    assert status == 0
    assert out.startswith(f"usage: tinygrad-lr {command}")


def test_top_level_help_lists_the_subcommands(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0
    for command in ("train", "evaluate", "graph", "gradcheck", "sweep"):
        assert command in out


# ---- train and evaluate ---------------------------------------------------------------------


def test_train_writes_checkpoint_metrics_plots_and_graph_and_evaluate_agrees(capsys, tmp_path):
    out_dir = tmp_path / "run"
    status, out, _ = run(
        capsys, "train", "--model", "logistic", "--dataset", "iris", "--epochs", "5", "--out", str(out_dir), "--quiet"
    )
    assert status == 0
    assert "iris classes 0 and 1" in out  # logistic on iris says that it binarised
    assert (out_dir / "history.png").read_bytes()[:8] == PNG
    texts = svg_texts(out_dir / "graph.svg")
    assert "w" in texts and "(4,) float64" in texts and "loss" in texts
    assert not (out_dir / "decision_boundary.png").exists()  # 4 features
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["dataset"] == "iris" and len(metrics["history"]["loss"]) == 5
    model = io.load(out_dir / "model.npz")
    assert type(model).__name__ == "LogisticRegression" and model.n_features == 4
    assert f"test  accuracy {metrics['test_accuracy']:.4f}" in out

    status, out, _ = run(capsys, "evaluate", str(out_dir / "model.npz"))
    assert status == 0
    assert f"accuracy {metrics['test_accuracy']:.4f}  log-loss {metrics['test_log_loss']:.4f}" in out
    status, out, _ = run(capsys, "evaluate", str(out_dir / "model.npz"), "--split", "train")
    assert f"accuracy {metrics['train_accuracy']:.4f}  log-loss {metrics['train_log_loss']:.4f}" in out


def test_readme_command_trains_digits_with_all_defaults(tmp_path):
    """`tinygrad-lr train` alone, as the README says: digits, softmax regression, results in runs/."""
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_lr.cli", "train"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("digits: 1347 train / 450 test rows, 64 features, 10 classes")
    runs = tmp_path / "runs"
    for name in ("model.npz", "metrics.json", "history.png", "misclassified.png", "graph.svg"):
        assert (runs / name).is_file(), name
    assert (runs / "misclassified.png").read_bytes()[:8] == PNG
    assert "W" in svg_texts(runs / "graph.svg")
    metrics = json.loads((runs / "metrics.json").read_text())
    assert metrics["model"] == "SoftmaxRegression" and metrics["epochs"] == 20
    assert metrics["test_accuracy"] > 0.9  # well above the 0.1 of guessing


def test_train_on_a_two_feature_dataset_draws_the_decision_boundary(capsys, tmp_path):
    status, _, _ = run(
        capsys,
        "train",
        "--model",
        "mlp",
        "--dataset",
        "moons",
        "--hidden",
        "6",
        "--epochs",
        "3",
        "--optimizer",
        "momentum",
        "--out",
        str(tmp_path),
        "--quiet",
    )
    assert status == 0
    assert (tmp_path / "decision_boundary.png").read_bytes()[:8] == PNG
    texts = svg_texts(tmp_path / "graph.svg")
    assert "layer 0" in texts and "layer 1" in texts  # the MLP's graph is clustered per layer
    assert io.load(tmp_path / "model.npz").sizes == [2, 6, 2]


def test_train_without_dot_still_writes_everything_else(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    status, out, err = run(
        capsys,
        "train",
        "--dataset",
        "breast_cancer",
        "--model",
        "logistic",
        "--epochs",
        "1",
        "--out",
        str(tmp_path),
        "--quiet",
    )
    assert status == 0
    assert "apt-get install graphviz" in err and err.count("\n") == 1
    assert (tmp_path / "graph.gv").read_text().startswith("digraph")
    assert not (tmp_path / "graph.svg").exists()
    assert (tmp_path / "model.npz").is_file() and (tmp_path / "history.png").is_file()
    assert "graph.gv" in out


@pytest.mark.skipif(not os.path.isdir(MNIST_DIR), reason="the MNIST IDX files are not at ../shared/data/mnist")
def test_train_on_mnist_from_idx_files(capsys, tmp_path):
    status, out, _ = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        MNIST_DIR,
        "--epochs",
        "1",
        "--batch-size",
        "256",
        "--out",
        str(tmp_path),
        "--quiet",
    )
    assert status == 0
    assert out.startswith("mnist: 8000 train / 2000 test rows, 784 features, 10 classes")
    assert (tmp_path / "misclassified.png").read_bytes()[:8] == PNG


# ---- graph ----------------------------------------------------------------------------------


def test_graph_writes_svg_with_parameter_names_and_shapes(capsys, tmp_path):
    path = tmp_path / "graph.svg"
    status, _, _ = run(capsys, "graph", "--model", "mlp", "--features", "3", "--hidden", "5", "-o", str(path))
    assert status == 0
    texts = svg_texts(path)
    for name, shape in (("W0", (3, 5)), ("b0", (5,)), ("W1", (5, 2)), ("b1", (2,))):
        assert name in texts and f"{shape} float64" in texts


def test_graph_writes_dot_source_for_gv_files(capsys, tmp_path):
    path = tmp_path / "softmax.gv"
    status, _, _ = run(capsys, "graph", "--model", "softmax", "--classes", "4", "-o", str(path))
    assert status == 0
    source = path.read_text()
    assert source.startswith("digraph") and "(2, 4) float64" in source and "cross_entropy" in source


# ---- gradcheck --------------------------------------------------------------------------------


def test_gradcheck_prints_a_passing_table(capsys):
    status, out, _ = run(capsys, "gradcheck")
    assert status == 0
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["logistic"], ["softmax"], ["mlp"])]
    assert [(r[0], r[1]) for r in rows] == [
        ("logistic", "w"),
        ("logistic", "b"),
        ("softmax", "W"),
        ("softmax", "b"),
        ("mlp", "W0"),
        ("mlp", "b0"),
        ("mlp", "W1"),
        ("mlp", "b1"),
    ]
    assert all(r[-1] == "ok" for r in rows)
    assert "8 of 8 parameter gradients agree" in out


def test_gradcheck_fails_with_status_1_when_a_closed_form_disagrees(capsys, monkeypatch):
    right = reference.logistic_grad
    monkeypatch.setattr(reference, "logistic_grad", lambda *a, **k: (right(*a, **k)[0] * 1.01, right(*a, **k)[1]))
    status, out, _ = run(capsys, "gradcheck", "--model", "logistic")
    assert status == 1
    assert [line.split()[-1] for line in out.splitlines() if line.startswith("logistic")] == ["FAIL", "ok"]
    assert "1 of 2 parameter gradients agree" in out


# ---- sweep ------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 10 epochs, on purpose
def test_sweep_runs_gridsearchcv_in_parallel_and_matches_a_direct_fit(capsys, tmp_path):
    status, out, _ = run(
        capsys, "sweep", "--lrs", "0.01", "0.9", "--ratios", "0.2", "0.4", "--n-jobs", "2", "--out", str(tmp_path)
    )
    assert status == 0
    results = json.loads((tmp_path / "sweep.json").read_text())
    assert [(r["lr"], r["test_size"]) for r in results] == [(0.01, 0.2), (0.01, 0.4), (0.9, 0.2), (0.9, 0.4)]
    assert (tmp_path / "sweep.png").read_bytes()[:8] == PNG
    assert len([line for line in out.splitlines() if line.split()[:1] in (["0.01"], ["0.9"])]) == 4

    # The same cell fitted by hand: GridSearchCV must have used exactly this split and estimator.
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedShuffleSplit
    from sklearn.preprocessing import StandardScaler

    from tinygrad_lr import data

    X, y = data.load_iris(binary=True)
    train, test = next(StratifiedShuffleSplit(n_splits=1, test_size=0.4, random_state=0).split(X, y))
    scaler = StandardScaler().fit(X[train])
    clf = LogisticRegressionClassifier(solver="sgd", learning_rate=0.9, max_iter=10, batch_size=150, random_state=0)
    clf.fit(scaler.transform(X[train]), y[train])
    cell = results[3]
    assert cell["test_accuracy"] == clf.score(scaler.transform(X[test]), y[test])
    expected = log_loss(y[test], clf.predict_proba(scaler.transform(X[test])))
    assert np.isclose(cell["test_log_loss"], expected, rtol=1e-9)


# ---- nothing is written half-way ----------------------------------------------------------------

SWEEP = [
    {"lr": lr, "test_size": 0.2, "train_accuracy": 1.0, "test_accuracy": 0.9, "test_log_loss": loss}
    for lr, loss in ((0.1, 0.5), (1.0, 0.2))
]
# The command, and a file it writes (each after the files before it).
WRITES = {
    "train metrics.json": (["train", "--dataset", "iris", "--epochs", "1", "--quiet"], "metrics.json"),
    "train history.png": (["train", "--dataset", "iris", "--epochs", "1", "--quiet"], "history.png"),
    "train graph.svg": (["train", "--dataset", "iris", "--epochs", "1", "--quiet"], "graph.svg"),
    "graph DOT source": (["graph", "-o", "{out}/graph.gv"], "graph.gv"),
    "sweep sweep.png": (["sweep"], "sweep.png"),
    "sweep sweep.json": (["sweep"], "sweep.json"),
}


@pytest.mark.parametrize("argv, name", WRITES.values(), ids=WRITES.keys())
def test_a_failed_write_leaves_the_old_file_with_one_line_and_status_1(capsys, tmp_path, monkeypatch, argv, name):
    monkeypatch.setattr(cli, "sweep_results", lambda *args: SWEEP)
    argv = [a.format(out=tmp_path) for a in argv] + (["--out", str(tmp_path)] if argv[0] != "graph" else [])
    path = tmp_path / name
    path.write_bytes(b"the previous run's file, which must survive")
    disk_fills_up_writing(monkeypatch, path)
    status, _, err = run(capsys, *argv)
    assert (status, err) == (1, "tinygrad-lr: error: [Errno 28] No space left on device\n")
    assert_only_the_old_file(path, b"the previous run's file, which must survive")


def test_an_interrupt_during_a_write_leaves_the_old_file_with_status_130(capsys, tmp_path, monkeypatch):
    (tmp_path / "metrics.json").write_bytes(b"{}")
    disk_fills_up_writing(monkeypatch, tmp_path / "metrics.json", error=KeyboardInterrupt())
    status, _, err = run(capsys, "train", "--dataset", "iris", "--epochs", "1", "--quiet", "--out", str(tmp_path))
    assert (status, err) == (130, "tinygrad-lr: interrupted\n")
    assert_only_the_old_file(tmp_path / "metrics.json", b"{}")


def test_sweep_draws_its_figure_with_plots_plot_sweep(capsys, tmp_path, monkeypatch):
    from tinygrad_lr import plots

    drawn = []
    monkeypatch.setattr(cli, "sweep_results", lambda *args: SWEEP)
    monkeypatch.setattr(plots, "plot_sweep", lambda results, path, **kw: drawn.append((results, path)))
    status, out, _ = run(capsys, "sweep", "--out", str(tmp_path))
    assert status == 0 and f"wrote {tmp_path / 'sweep.png'}" in out
    assert drawn == [(SWEEP, tmp_path / "sweep.png")]
    assert json.loads((tmp_path / "sweep.json").read_text()) == SWEEP


# ---- errors: one line, no traceback, status 2 for usage and 1 for the rest -------------------------

USAGE_ERRORS = {
    "unknown dataset": (["train", "--dataset", "cifar"], "invalid choice: 'cifar'"),
    "unknown model": (["train", "--model", "svm"], "invalid choice: 'svm'"),
    "negative lr": (["train", "--lr", "-1"], "argument --lr: must be > 0, got -1"),
    "zero epochs": (["train", "--epochs", "0"], "argument --epochs: must be > 0, got 0"),
    "non-integer epochs": (["train", "--epochs", "2.5"], "expected an integer, got '2.5'"),
    "nan lr": (["train", "--lr", "nan"], "argument --lr: must be > 0, got nan"),
    "test size of 1": (["train", "--test-size", "1"], "must be between 0 and 1"),
    "mnist without data dir": (["train", "--dataset", "mnist"], "--dataset mnist needs --data-dir DIR"),
    "missing data dir": (["train", "--dataset", "mnist", "--data-dir", "/no/such/dir"], "no such directory"),
    "logistic on digits": (["train", "--model", "logistic"], "--model logistic is binary but the dataset has 10"),
    "no command": ([], "the following arguments are required: COMMAND"),
    "unknown command": (["fit"], "invalid choice: 'fit'"),
    "evaluate without checkpoint": (["evaluate"], "the following arguments are required: CHECKPOINT"),
    "negative sweep lr": (["sweep", "--lrs", "0.1", "-2"], "argument --lrs: must be > 0, got -2"),
}


@pytest.mark.parametrize("argv, message", USAGE_ERRORS.values(), ids=USAGE_ERRORS.keys())
def test_usage_errors_are_one_line_with_status_2(capsys, tmp_path, argv, message):
    status, out, err = run(capsys, *argv, *(["--out", str(tmp_path)] if argv[:1] == ["train"] else []))
    assert status == 2
    assert message in err
    assert err.count("\n") == 1 and err.startswith("tinygrad-lr")
    assert "Traceback" not in err and out == ""


RUNTIME_ERRORS = {
    "--out is a file": (
        ["train", "--dataset", "iris", "--epochs", "1", "--quiet", "--out", "{tmp}/file"],
        "File exists: '{tmp}/file'",
    ),
    "a directory where the metrics go": (
        ["train", "--dataset", "iris", "--epochs", "1", "--quiet", "--out", "{tmp}"],
        "write: {tmp}/metrics.json is a directory, not a file name",
    ),
    "graph onto a directory": (
        ["graph", "-o", "{tmp}/metrics.json"],
        "render: {tmp}/metrics.json is a directory, not a file name",
    ),
    "graph in a file": (["graph", "-o", "{tmp}/file/g.svg"], "File exists: '{tmp}/file'"),
    "graph format": (["graph", "-o", "{tmp}/g.jpgz"], "render: unknown output format 'jpgz'"),
    "sweep --out is a file": (["sweep", "--out", "{tmp}/file"], "File exists: '{tmp}/file'"),
}


@pytest.mark.parametrize("argv, message", RUNTIME_ERRORS.values(), ids=RUNTIME_ERRORS.keys())
def test_runtime_errors_are_one_line_with_status_1_and_leave_no_temporary(capsys, tmp_path, monkeypatch, argv, message):
    (tmp_path / "file").write_text("not a directory")
    (tmp_path / "metrics.json").mkdir()
    monkeypatch.setattr(cli, "sweep_results", lambda *args: SWEEP)
    status, _, err = run(capsys, *(a.format(tmp=tmp_path) for a in argv))
    assert status == 1
    assert err.startswith("tinygrad-lr: error: ") and message.format(tmp=tmp_path) in err and err.count("\n") == 1
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_a_diverging_fit_is_one_line_with_status_1(capsys, tmp_path, monkeypatch):
    def diverge(*args, **kwargs):
        raise FloatingPointError("fit: the loss is nan at epoch 1")

    monkeypatch.setattr(cli, "fit", diverge)
    status, _, err = run(capsys, "train", "--dataset", "iris", "--quiet", "--out", str(tmp_path))
    assert (status, err) == (1, "tinygrad-lr: error: fit: the loss is nan at epoch 1\n")


def test_evaluate_errors_are_one_line_with_status_1(capsys, tmp_path):
    status, _, err = run(capsys, "evaluate", str(tmp_path / "missing.npz"))
    assert (status, err) == (1, f"tinygrad-lr: error: load: no such checkpoint file: {tmp_path / 'missing.npz'}\n")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    status, _, err = run(capsys, "evaluate", str(tmp_path / "junk.npz"))
    assert status == 1 and "is not an .npz archive" in err and err.count("\n") == 1


def test_evaluate_refuses_a_dataset_of_the_wrong_width(capsys, tmp_path):
    run(capsys, "train", "--dataset", "iris", "--epochs", "1", "--out", str(tmp_path), "--quiet")
    status, _, err = run(capsys, "evaluate", str(tmp_path / "model.npz"), "--dataset", "breast_cancer")
    assert status == 2
    assert "holds a model for 4 features; breast_cancer has 30" in err and err.count("\n") == 1


def test_the_installed_command_exits_2_without_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_lr.cli", "train", "--epochs", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "tinygrad-lr train: error: argument --epochs: must be > 0, got 0 (see tinygrad-lr train --help)"
    ]
