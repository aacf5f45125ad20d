"""The tinygrad-lr command: every subcommand end to end, and one-line errors with the right exit status."""

import argparse
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from helpers import MNIST_DIR, assert_only_the_old_file, disk_fills_up_writing, write_idx

from tinygrad_lr import cli, io, reference, sweep, train

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
    for kind in ("logistic", "softmax", "mlp"):
        assert f"second order (Hessian-vector products vs central differences), {kind}: ok" in out


def test_gradcheck_fails_with_status_1_when_a_closed_form_disagrees(capsys, monkeypatch):
    right = reference.logistic_grad
    monkeypatch.setattr(reference, "logistic_grad", lambda *a, **k: (right(*a, **k)[0] * 1.01, right(*a, **k)[1]))
    status, out, _ = run(capsys, "gradcheck", "--model", "logistic")
    assert status == 1
    assert [line.split()[-1] for line in out.splitlines() if line.startswith("logistic")] == ["FAIL", "ok"]
    assert "1 of 2 parameter gradients agree" in out


# ---- sweep ------------------------------------------------------------------------------------


def test_sweep_prints_and_writes_the_library_sweep_and_its_figure(capsys, tmp_path):
    """The real study (no mock): sweep.json holds exactly what sweep_results gives, the table shows each cell."""
    argv = ["--lrs", "0.01", "0.9", "--ratios", "0.2", "0.4", "--epochs", "4", "--seed", "3"]
    status, out, _ = run(capsys, "sweep", *argv, "--n-jobs", "2", "--out", str(tmp_path))
    assert status == 0
    results = json.loads((tmp_path / "sweep.json").read_text())
    assert results == sweep.sweep_results([0.01, 0.9], [0.2, 0.4], epochs=4, seed=3)
    table = [line.split() for line in out.splitlines() if line.split()[:1] in (["0.01"], ["0.9"])]
    assert [[float(v) for v in row] for row in table] == [
        pytest.approx([r["lr"], r["test_size"], r["train_accuracy"], r["test_accuracy"], r["test_log_loss"]], rel=1e-3)
        for r in results
    ]
    image = matplotlib.image.imread(tmp_path / "sweep.png")
    assert np.mean(np.ptp(image[..., :3], axis=-1) > 0.2) > 1e-3  # coloured curves drawn, not a blank canvas


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
    monkeypatch.setattr(sweep, "sweep_results", lambda *args: SWEEP)
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


# ---- errors: one line, no traceback, status 2 for usage and 1 for the rest -------------------------

USAGE_ERRORS = {
    "unknown dataset": (["train", "--dataset", "cifar"], "invalid choice: 'cifar'"),
    "unknown model": (["train", "--model", "svm"], "invalid choice: 'svm'"),
    "negative lr": (["train", "--lr", "-1"], "argument --lr: must be > 0, got -1"),
    "zero epochs": (["train", "--epochs", "0"], "argument --epochs: must be > 0, got 0"),
    "non-integer epochs": (["train", "--epochs", "2.5"], "expected an integer, got '2.5'"),
    "nan lr": (["train", "--lr", "nan"], "argument --lr: must be > 0, got nan"),
    "test size of 1": (["train", "--test-size", "1"], "must be between 0 and 1"),
    "mnist without data dir": (
        ["train", "--dataset", "mnist"],
        "--dataset mnist needs a folder (--data-dir DIR)",
    ),
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
        "[Errno 21] Is a directory: '{tmp}/metrics.json'",
    ),
    "graph onto a directory": (["graph", "-o", "{tmp}/metrics.json"], "Is a directory: '{tmp}/metrics.json'"),
    "graph in a file": (["graph", "-o", "{tmp}/file/g.svg"], "File exists: '{tmp}/file'"),
    "graph format": (["graph", "-o", "{tmp}/g.jpgz"], "render: unknown output format 'jpgz'"),
    "sweep --out is a file": (["sweep", "--out", "{tmp}/file"], "File exists: '{tmp}/file'"),
}


@pytest.mark.parametrize("argv, message", RUNTIME_ERRORS.values(), ids=RUNTIME_ERRORS.keys())
def test_runtime_errors_are_one_line_with_status_1_and_leave_no_temporary(capsys, tmp_path, monkeypatch, argv, message):
    (tmp_path / "file").write_text("not a directory")
    (tmp_path / "metrics.json").mkdir()
    monkeypatch.setattr(sweep, "sweep_results", lambda *args: SWEEP)
    status, _, err = run(capsys, *(a.format(tmp=tmp_path) for a in argv))
    assert status == 1
    assert err.startswith("tinygrad-lr: error: ") and message.format(tmp=tmp_path) in err and err.count("\n") == 1
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_a_diverging_fit_is_one_line_with_status_1(capsys, tmp_path, monkeypatch):
    def diverge(*args, **kwargs):
        raise FloatingPointError("fit: the loss is nan at epoch 1")

    monkeypatch.setattr(train, "fit", diverge)
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


# ---- a command line that explains itself -------------------------------------------------------------


def test_version_names_the_package_version(capsys):
    import tinygrad_lr

    status, out, _ = run(capsys, "--version")
    assert (status, out) == (0, f"tinygrad-lr {tinygrad_lr.__version__}\n")


def every_option():
    """(subcommand, argparse action) of every option of every subcommand."""
    sub = next(a for a in cli.make_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [
        (name, action)
        for name, parser in sub.choices.items()
        for action in parser._actions
        if action.option_strings and action.dest != "help"
    ]


@pytest.mark.parametrize("command, action", every_option(), ids=lambda x: getattr(x, "dest", x))
def test_every_option_has_help_with_at_most_one_default(capsys, command, action):
    assert action.help and len(action.help) > 5
    _, out, _ = run(capsys, command, "--help")
    flat = " ".join(out.split())
    assert "(default: None)" not in flat and "(default: False)" not in flat
    described = flat[flat.index(" ".join(action.option_strings[-1:])) :]
    entry = described.split(" --")[1] if described.count(" --") else described
    assert entry.count("default") <= 1, entry


def test_help_speaks_of_what_things_are_not_of_internal_names(capsys):
    texts = [run(capsys, *argv, "--help")[1] for argv in ([], ["sweep"], ["train"])]
    for text in texts:
        assert "seed 000" not in text.lower() and "seed experiment" not in text.lower()
    assert "the iris learning-rate sweep" in texts[0]


REFUSED = {
    "--hidden with softmax": (["train", "--hidden", "5"], "--hidden sets the hidden layers of --model mlp"),
    "--hidden with logistic graph": (["graph", "--model", "logistic", "--hidden", "3"], "--model logistic has none"),
    "--classes with logistic graph": (["graph", "--model", "logistic", "--classes", "3"], "--classes applies to"),
    "--data-dir with iris": (
        ["train", "--dataset", "iris", "--data-dir", "."],
        "--data-dir applies to --dataset mnist",
    ),
    "--test-size with mnist": (
        ["train", "--dataset", "mnist", "--data-dir", ".", "--test-size", "0.3"],
        "--test-size does not apply to mnist",
    ),
    "negative seed": (["train", "--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    "negative graph seed": (["graph", "--seed", "-3"], "argument --seed: must be >= 0, got -3"),
    "zero jobs": (["sweep", "--n-jobs", "0"], "argument --n-jobs: must be >= 1, or -1 for all cores, got 0"),
    "-2 jobs": (["sweep", "--n-jobs", "-2"], "must be >= 1, or -1 for all cores, got -2"),
}


@pytest.mark.parametrize("argv, message", REFUSED.values(), ids=REFUSED.keys())
def test_options_that_do_not_apply_and_bad_numbers_exit_2(capsys, tmp_path, argv, message):
    status, out, err = run(capsys, *argv, *(["--out", str(tmp_path)] if argv[0] in ("train", "sweep") else []))
    assert (status, out) == (2, "")
    assert message in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_mnist_without_its_files_names_them_with_checksums_and_the_option(capsys, tmp_path):
    status, _, err = run(capsys, "train", "--dataset", "mnist", "--out", str(tmp_path))
    assert status == 2 and err.count("\n") == 1
    for name, md5 in (
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ):
        assert f"{name} (md5 {md5})" in err
    assert "--data-dir" in err
    status, _, err = run(capsys, "train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path))
    assert status == 1 and f"mnist: {tmp_path} has no t10k-images-idx3-ubyte.gz (md5 9fb6" in err
    assert err.count("\n") == 1


def test_the_md5_sums_in_the_message_are_the_ones_of_the_shipped_files():
    from tinygrad_lr.splits import MNIST_MD5

    sums = os.path.join(MNIST_DIR, "MD5SUMS")
    if not os.path.isfile(sums):
        pytest.skip(f"no {sums}")
    for line in Path(sums).read_text().splitlines():
        md5, name = line.split()
        assert MNIST_MD5[name] == md5


def tiny_mnist(directory, n=10_000):
    """t10k IDX files of ``n`` random 28×28 images (mostly blank: small and fast), labels 0..9 in turn."""
    rng = np.random.default_rng(0)
    images = np.zeros((n, 28, 28), np.uint8)
    images[:, 10:14, 10:14] = rng.integers(0, 256, (n, 4, 4))
    write_idx(directory / "t10k-images-idx3-ubyte.gz", images)
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8) % 10)
    return directory


def test_mnist_metrics_record_the_real_split_and_evaluate_finds_the_files_again(capsys, tmp_path):
    data_dir = tiny_mnist(tmp_path)
    out = tmp_path / "run"
    argv = ["--dataset", "mnist", "--data-dir", str(data_dir), "--epochs", "1", "--batch-size", "500"]
    status, stdout, _ = run(capsys, "train", *argv, "--out", str(out), "--quiet")
    assert status == 0 and stdout.startswith("mnist: 8000 train / 2000 test rows, 784 features, 10 classes")
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["train_rows"], metrics["test_rows"], metrics["test_size"]) == (8000, 2000, 0.2)
    extra = io.load_checkpoint(out / "model.npz").extra
    assert extra["data_dir"] == str(data_dir) and extra["test_size"] is None
    status, stdout, err = run(capsys, "evaluate", str(out / "model.npz"))  # no --data-dir: the checkpoint knows
    assert status == 0, err
    assert f"(test, 2000 rows): accuracy {metrics['test_accuracy']:.4f}" in stdout
    moved = data_dir.rename(tmp_path.parent / f"{tmp_path.name}-moved")
    status, _, err = run(capsys, "evaluate", str(moved / "run" / "model.npz"))
    assert status == 2 and f"was trained on files in {data_dir}, which is gone; pass --data-dir" in err
    status, stdout, _ = run(capsys, "evaluate", str(moved / "run" / "model.npz"), "--data-dir", str(moved))
    assert status == 0 and f"accuracy {metrics['test_accuracy']:.4f}" in stdout


def test_the_generated_datasets_are_the_tutorials_data():
    from sklearn.datasets import make_moons

    from tinygrad_lr import data
    from tinygrad_lr.splits import load_split

    for name, (X, y) in {
        "moons": make_moons(n_samples=400, noise=0.2, random_state=0),
        "classification": data.make_classification(
            n_samples=500, n_features=2, n_redundant=0, n_informative=2, n_clusters_per_class=1, random_state=1
        ),
    }.items():
        X_train, X_test, y_train, y_test = data.train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
        scaler = data.Standardizer().fit(X_train)
        split = load_split(name, seed=0)
        np.testing.assert_array_equal(split.X_test, scaler.transform(X_test))
        np.testing.assert_array_equal(split.y_train, y_train)


def test_train_on_classification_and_the_printed_figures_say_what_they_are(capsys, tmp_path):
    """The tutorial's model, data, split and seed: the tutorial's test accuracy (0.968), to the last digit."""
    argv = ["--dataset", "classification", "--model", "logistic", "--epochs", "30", "--lr", "0.05"]
    status, out, _ = run(capsys, "train", *argv, "--out", str(tmp_path), "--quiet")
    assert status == 0
    assert "log-loss without the L2 term" in out and "running means over the epoch's minibatches" in out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_accuracy"] == 121 / 125 == 0.968
    assert metrics["test_accuracy"] == metrics["history"]["val_accuracy"][-1]  # the bar's val_accuracy agrees
    assert (tmp_path / "decision_boundary.png").read_bytes()[:8] == PNG


# ---- checked before any work --------------------------------------------------------------------------


def test_train_creates_missing_parent_directories_of_out(capsys, tmp_path):
    out = tmp_path / "a" / "b" / "c"
    status, _, _ = run(capsys, "train", "--dataset", "iris", "--epochs", "1", "--out", str(out), "--quiet")
    assert status == 0 and (out / "model.npz").is_file()
    status, _, _ = run(capsys, "graph", "-o", str(tmp_path / "x" / "y" / "g.gv"))
    assert status == 0 and (tmp_path / "x" / "y" / "g.gv").read_text().startswith("digraph")


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_an_unusable_out_is_refused_before_any_work(capsys, tmp_path, monkeypatch, command):
    def no_work(*args, **kwargs):
        raise AssertionError("the data were loaded before --out was checked")

    monkeypatch.setattr("tinygrad_lr.splits.load_split", no_work)
    monkeypatch.setattr(sweep, "sweep_results", no_work)
    name = "graph.svg" if command == "train" else "sweep.json"
    (tmp_path / name).mkdir()
    status, out, err = run(capsys, command, "--out", str(tmp_path))
    assert (status, out) == (1, "")
    assert err == f"tinygrad-lr: error: [Errno 21] Is a directory: '{tmp_path / name}'\n"


def test_a_model_too_large_for_memory_is_one_line_with_status_1(capsys, tmp_path):
    argv = ["graph", "--features", "1000000000", "--hidden", "1000000000", "-o", str(tmp_path / "g.gv")]
    status, _, err = run(capsys, *argv)
    assert status == 1 and err.startswith("tinygrad-lr: error: out of memory") and err.count("\n") == 1


def test_an_interrupt_while_loading_the_data_is_one_line_with_status_130(capsys, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("tinygrad_lr.splits.load_split", interrupted)
    status, _, err = run(capsys, "train", "--out", str(tmp_path))
    assert (status, err) == (130, "tinygrad-lr: interrupted\n")


def test_an_interrupt_while_importing_at_start_up_prints_no_traceback(tmp_path):
    """Ctrl-C while the installed command imports its libraries (scikit-learn's import takes a second)."""
    script = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, *args):\n"
        "        if name.split('.')[0] in ('sklearn', 'matplotlib'):\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from tinygrad_lr.cli import main\n"  # what the installed tinygrad-lr script runs
        "sys.exit(main())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "train", "--epochs", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    assert (result.returncode, result.stderr) == (130, "tinygrad-lr: interrupted\n")


# ---- evaluate trusts no checkpoint ---------------------------------------------------------------------

BAD_FIELDS = {
    "unknown dataset": ({"dataset": "cifar"}, "records dataset 'cifar'; expected one of digits"),
    "test size of 5": ({"dataset": "iris", "test_size": 5}, "records test_size 5; expected a fraction"),
    "binary as a string": ({"dataset": "iris", "binary": "no"}, "records binary 'no'; expected true or false"),
    "negative seed": ({"dataset": "iris", "seed": -1}, "records seed -1; expected an integer >= 0"),
    "seed as a bool": ({"dataset": "iris", "seed": True}, "records seed True"),
    "data_dir as a list": ({"dataset": "mnist", "data_dir": ["a"]}, "records data_dir ['a']; expected a path"),
}


@pytest.mark.parametrize("extra, message", BAD_FIELDS.values(), ids=BAD_FIELDS.keys())
def test_evaluate_refuses_bad_fields_of_a_checkpoint_in_one_line(capsys, tmp_path, extra, message):
    from tinygrad_lr import models

    path = tmp_path / "model.npz"
    io.save(models.SoftmaxRegression(4, 3), path, extra=extra)
    status, _, err = run(capsys, "evaluate", str(path))
    assert status == 1 and err.count("\n") == 1
    assert err.startswith(f"tinygrad-lr: error: evaluate: {path} ") and message in err


def test_evaluate_refuses_a_model_with_fewer_classes_than_the_dataset(capsys, tmp_path):
    from tinygrad_lr import models

    io.save(models.SoftmaxRegression(4, 2), tmp_path / "two.npz", extra={"dataset": "iris"})
    status, _, err = run(capsys, "evaluate", str(tmp_path / "two.npz"))
    assert status == 2 and f"{tmp_path / 'two.npz'} predicts 2 classes; iris has 3" in err and err.count("\n") == 1


# ---- graph and gradcheck --------------------------------------------------------------------------------


def test_graph_of_logistic_regression_has_w_b_and_the_binary_loss(capsys, tmp_path):
    status, out, _ = run(capsys, "graph", "--model", "logistic", "--features", "3", "-o", str(tmp_path / "g.gv"))
    assert status == 0 and "LogisticRegression on 4 random rows" in out
    source = (tmp_path / "g.gv").read_text()
    assert "<B>w</B><BR/>(3,) float64" in source and "<B>b</B><BR/>() float64" in source  # one weight per feature
    assert "<B>X</B><BR/>(4, 3) float64" in source and "<B>W</B>" not in source  # not softmax's matrix


def test_gradcheck_columns_are_the_largest_differences_it_found(capsys, monkeypatch):
    right = reference.logistic_grad
    monkeypatch.setattr(reference, "logistic_grad", lambda *a, **k: (right(*a, **k)[0] + 0.125, right(*a, **k)[1]))
    status, out, _ = run(capsys, "gradcheck", "--model", "logistic")
    rows = {line.split()[1]: line.split() for line in out.splitlines() if line.startswith("logistic")}
    assert status == 1
    assert float(rows["w"][-3]) == pytest.approx(0.125, rel=1e-6)  # |autograd - closed form|, the offset we added
    assert float(rows["w"][-2]) < 1e-7 and float(rows["b"][-3]) < 1e-12  # autograd itself is still right


def test_graph_shows_the_values_of_tensors_up_to_max_data_entries(capsys, tmp_path):
    argv = ["graph", "--model", "softmax", "--features", "3", "--classes", "2", "--show-data"]
    run(capsys, *argv, "-o", str(tmp_path / "small.gv"))
    run(capsys, *argv, "--max-data", "6", "-o", str(tmp_path / "six.gv"))
    small, six = ((tmp_path / name).read_text().splitlines() for name in ("small.gv", "six.gv"))

    def shows_values(lines, name):
        (line,) = [line for line in lines if f"<B>{name}</B>" in line]
        return "[[" in line

    assert shows_values(small, "X") and shows_values(small, "W")  # 12 and 6 entries <= 16
    assert not shows_values(six, "X") and shows_values(six, "W")  # 12 > 6 >= 6
    status, _, err = run(capsys, *argv, "--max-data", "-1", "-o", str(tmp_path / "never.gv"))
    assert status == 2 and "argument --max-data: must be >= 0, got -1" in err
    assert not (tmp_path / "never.gv").exists()


def test_graph_leaves_the_layout_to_draw_unless_told(capsys, tmp_path):
    """Deep graphs are drawn top to bottom by default (graph.draw decides), --rankdir overrides."""
    sources = {}
    for name, extra in (("deep", []), ("shallow", ["--model", "logistic"]), ("told", ["--rankdir", "LR"])):
        deep = ["--hidden", "8", "8", "8"] if name != "shallow" else []
        run(capsys, "graph", *deep, *extra, "-o", str(tmp_path / f"{name}.gv"))
        sources[name] = (tmp_path / f"{name}.gv").read_text()
    assert "rankdir=TB" in sources["deep"]
    assert "rankdir=LR" in sources["shallow"] and "rankdir=LR" in sources["told"]


def test_the_moons_line_of_the_docs_scores_as_the_mlp_tutorial(capsys, tmp_path):
    argv = ["--model", "mlp", "--hidden", "10", "--dataset", "moons", "--epochs", "60", "--lr", "0.05"]
    status, _, _ = run(capsys, "train", *argv, "--out", str(tmp_path), "--quiet")
    assert status == 0
    assert json.loads((tmp_path / "metrics.json").read_text())["test_accuracy"] == 0.98  # 98 of 100, as cli.md says


def test_graph_of_the_mlp_boxes_each_layer_and_the_glms_have_no_boxes(capsys, tmp_path):
    run(capsys, "graph", "--model", "mlp", "--features", "3", "--hidden", "5", "-o", str(tmp_path / "mlp.gv"))
    run(capsys, "graph", "--model", "softmax", "--features", "3", "-o", str(tmp_path / "softmax.gv"))
    assert (tmp_path / "mlp.gv").read_text().count("subgraph cluster") == 2  # one box per layer
    assert "subgraph cluster" not in (tmp_path / "softmax.gv").read_text()


@pytest.mark.parametrize("name, described", [("momentum", "SGD(lr=0.05, momentum=0.9)"), ("sgd", "SGD(lr=0.1)")])
def test_the_optimizers_defaults(capsys, tmp_path, name, described):
    argv = ["train", "--dataset", "iris", "--optimizer", name, "--epochs", "1", "--quiet"]
    status, out, _ = run(capsys, *argv, "--out", str(tmp_path))
    assert status == 0 and f"SoftmaxRegression, {described}, 1 epochs" in out
