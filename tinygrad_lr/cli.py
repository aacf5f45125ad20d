"""The ``tinygrad-lr`` command: train, evaluate, graph, gradcheck and sweep from the shell.

Every failure a user can cause (a bad option, a missing file, a run that diverges)
ends in one line on stderr and a non-zero exit status, never a traceback:
2 for usage errors (as argparse does), 1 for everything else. Every file is written
atomically, so a failed or interrupted run never leaves half a file behind.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import data, io, models, optim, plots, reference
from .atomic import atomic_write
from .autograd import no_grad
from .gradcheck import numerical_grad
from .graph import GraphvizNotFoundError, draw, render
from .tensor import Tensor
from .train import fit

PROG = "tinygrad-lr"
MODELS = ("logistic", "softmax", "mlp")
DATASETS = ("digits", "iris", "breast_cancer", "moons", "classification", "mnist")
OPTIMIZERS = ("adam", "sgd", "momentum")
DEFAULT_LR = {"adam": 0.01, "sgd": 0.1, "momentum": 0.05}
GRADCHECK_ATOL, GRADCHECK_RTOL = 1e-7, 1e-5  # gradcheck's defaults: |analytic - numerical| <= atol + rtol·|numerical|
REFERENCE_RTOL = 1e-10  # autograd and the closed forms differ only by rounding


class UsageError(Exception):
    """The command line itself is wrong (exit status 2)."""


# ---- argument parsing ---------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (raised, so ``main`` decides how to exit)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


def _number(kind: type, low: float, strict: bool) -> Callable[[str], Any]:
    bound = f"{'>' if strict else '>='} {low:g}"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(value) or (value <= low if strict else value < low):
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    parse.__name__ = f"{kind.__name__} {bound}"
    return parse


_positive_int = _number(int, 0, strict=True)
_positive_float = _number(float, 0, strict=True)
_nonnegative_float = _number(float, 0, strict=False)


def _fraction(text: str) -> float:
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


# ---- datasets -----------------------------------------------------------------------------


@dataclass
class Split:
    """A dataset split for training: scaled features, labels, and what the plots need."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    image_shape: tuple[int, int] | None  # images are shown unscaled by plot_misclassified
    images_test: np.ndarray | None


def _raw_dataset(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int] | None]:
    """All rows of ``name`` (``X`` in [0, 1] for images), and the image shape if it is one."""
    from sklearn.datasets import make_classification, make_moons

    if name == "iris":
        X, y = data.load_iris()
    elif name == "digits":
        X, y = data.load_digits()
        return X / 16, y, (8, 8)
    elif name == "breast_cancer":
        X, y = data.load_breast_cancer()
    elif name == "moons":
        X, y = make_moons(n_samples=500, noise=0.25, random_state=seed)
    elif name == "classification":
        X, y = make_classification(
            n_samples=500, n_features=2, n_redundant=0, n_informative=2, n_clusters_per_class=1, random_state=seed
        )
    else:
        raise AssertionError(name)
    return X, y.astype(np.int64), None


def load_split(name: str, data_dir: str | None, seed: int, test_size: float, binary: bool) -> Split:
    """The train/test split every subcommand agrees on (same name, seed and test size → same rows).

    Tabular features are standardised with the training rows' mean and std; image
    pixels are already in [0, 1]. ``binary`` keeps classes 0 and 1 of iris (the seeds' subset).
    """
    if name == "mnist":
        X_train, y_train, X_test, y_test = data.load_mnist(data_dir, seed=seed, dtype=np.float64)
        if test_size != 0.25:  # load_mnist's own split of the 10 000 test images is 8 000 / 2 000
            X = np.concatenate([X_train, X_test])
            y = np.concatenate([y_train, y_test])
            X_train, X_test, y_train, y_test = data.train_test_split(
                X, y, test_size=test_size, stratify=y, random_state=seed
            )
        image_shape: tuple[int, int] | None = (28, 28)
    else:
        X, y, image_shape = _raw_dataset(name, seed)
        if binary:
            keep = y < 2
            X, y = X[keep], y[keep]
        X_train, X_test, y_train, y_test = data.train_test_split(
            X, y, test_size=test_size, stratify=y, random_state=seed
        )
    images_test = X_test if image_shape else None
    if image_shape is None:
        scaler = data.Standardizer().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    return Split(name, X_train, y_train, X_test, y_test, n_classes, image_shape, images_test)


def _check_dataset_args(args: argparse.Namespace) -> None:
    if args.dataset == "mnist" and not args.data_dir:
        raise UsageError(f"{PROG}: error: --dataset mnist needs --data-dir DIR (the folder with the MNIST IDX files)")
    if args.data_dir and not os.path.isdir(args.data_dir):
        raise UsageError(f"{PROG}: error: --data-dir {args.data_dir}: no such directory")


# ---- models, optimizers, metrics -----------------------------------------------------------


def build_model(kind: str, n_features: int, n_classes: int, hidden: Sequence[int], seed: int) -> models.Model:
    if kind == "logistic":
        if n_classes > 2:
            raise UsageError(
                f"{PROG}: error: --model logistic is binary but the dataset has {n_classes} classes; "
                "use --model softmax or mlp"
            )
        return models.LogisticRegression(n_features, seed=seed)
    if kind == "softmax":
        return models.SoftmaxRegression(n_features, n_classes, seed=seed)
    return models.MLP([n_features, *hidden, n_classes], activation="tanh", seed=seed)


def build_optimizer(name: str, params: list[Tensor], lr: float | None) -> optim.Optimizer:
    lr = DEFAULT_LR[name] if lr is None else lr
    if name == "adam":
        return optim.Adam(params, lr=lr)
    return optim.SGD(params, lr=lr, momentum=0.9 if name == "momentum" else 0.0)


def measure(model: models.Model, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Accuracy and mean log-loss (unpenalised) of ``model`` on ``(X, y)``."""
    with no_grad():
        logits = model(X)
        loss = model.data_loss(logits, y.astype(logits.dtype) if logits.ndim == 1 else y).item()
    predicted = model.predict(X)
    return float(np.mean(predicted == y)), float(loss)


def _describe(optimizer: optim.Optimizer) -> str:
    hyper = ", ".join(f"{k}={v:g}" for k, v in optimizer.hyper().items() if k in ("lr", "momentum") and v)
    return f"{type(optimizer).__name__}({hyper})"


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path) as f:
        f.write(text.encode("utf-8"))


# ---- train ----------------------------------------------------------------------------------


def _write_graph(model: models.Model, split: Split, out: Path) -> str:
    """The loss on the first few training rows, with gradient norms, as graph.svg (or graph.gv without dot)."""
    rows = min(8, len(split.y_train))
    X = Tensor(split.X_train[:rows], name="X")
    y = split.y_train[:rows]
    loss = model.loss(X, y.astype(np.float64) if isinstance(model, models.LogisticRegression) else y)
    loss.name = "loss"
    model.zero_grad()
    loss.backward()
    graph = draw(loss, show_grad=True, clusters=model if isinstance(model, models.MLP) else None)
    model.zero_grad()
    try:
        return str(render(graph, out / "graph.svg"))
    except GraphvizNotFoundError as e:
        source = out / "graph.gv"
        _write_text(source, graph.source)
        print(f"{PROG}: warning: {e}; wrote the DOT source {source} instead", file=sys.stderr)
        return str(source)


def _cmd_train(args: argparse.Namespace) -> int:
    _check_dataset_args(args)
    binary = args.model == "logistic" and args.dataset == "iris"
    split = load_split(args.dataset, args.data_dir, args.seed, args.test_size, binary)
    model = build_model(args.model, split.X_train.shape[1], split.n_classes, args.hidden, args.seed)
    optimizer = build_optimizer(args.optimizer, model.parameters(), args.lr)
    note = " (logistic regression is binary: iris classes 0 and 1 only)" if binary else ""
    print(
        f"{split.name}: {len(split.y_train)} train / {len(split.y_test)} test rows, "
        f"{split.X_train.shape[1]} features, {split.n_classes} classes{note}"
    )
    print(f"{type(model).__name__}, {_describe(optimizer)}, {args.epochs} epochs, batch size {args.batch_size}")
    history = fit(
        model,
        split.X_train,
        split.y_train,
        optimizer=optimizer,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation=(split.X_test, split.y_test),
        seed=args.seed,
        l2=args.l2,
        progress=False if args.quiet else None,  # None: a bar only when stderr is a terminal
    )
    train_acc, train_loss = measure(model, split.X_train, split.y_train)
    test_acc, test_loss = measure(model, split.X_test, split.y_test)
    print(f"train accuracy {train_acc:.4f}  log-loss {train_loss:.4f}")
    print(f"test  accuracy {test_acc:.4f}  log-loss {test_loss:.4f}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = {"dataset": split.name, "seed": args.seed, "test_size": args.test_size, "binary": binary}
    io.save(model, out / "model.npz", optimizer=optimizer, extra=extra)
    metrics = {
        **extra,
        "model": type(model).__name__,
        "optimizer": _describe(optimizer),
        "epochs": history.epochs,
        "train_accuracy": train_acc,
        "train_log_loss": train_loss,
        "test_accuracy": test_acc,
        "test_log_loss": test_loss,
        "history": {k: v for k, v in vars(history).items() if isinstance(v, list)},
    }
    _write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    written = [out / "model.npz", out / "metrics.json"]
    title = f"{type(model).__name__} on {split.name}"
    plots.plot_history(history, out / "history.png", title=title)
    written.append(out / "history.png")
    if split.X_train.shape[1] == 2:
        plots.plot_decision_boundary(
            model,
            split.X_test,
            split.y_test,
            out / "decision_boundary.png",
            feature_names=("x₁ (standardised)", "x₂ (standardised)"),
            title=f"{title}: test set",
        )
        written.append(out / "decision_boundary.png")
    if split.image_shape is not None:
        images = split.images_test.reshape(-1, *split.image_shape)
        plots.plot_misclassified(images, split.y_test, model.predict(split.X_test), out / "misclassified.png")
        written.append(out / "misclassified.png")
    written.append(_write_graph(model, split, out))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


# ---- evaluate -------------------------------------------------------------------------------


def _cmd_evaluate(args: argparse.Namespace) -> int:
    checkpoint = io.load_checkpoint(args.checkpoint)
    extra, model = checkpoint.extra, checkpoint.model
    args.dataset = args.dataset or extra.get("dataset")
    if args.dataset is None:
        raise UsageError(f"{PROG} evaluate: error: {args.checkpoint} does not name its dataset; pass --dataset")
    _check_dataset_args(args)
    seed = extra.get("seed", 0) if args.seed is None else args.seed
    test_size = extra.get("test_size", 0.25) if args.test_size is None else args.test_size
    binary = bool(extra.get("binary", isinstance(model, models.LogisticRegression) and args.dataset == "iris"))
    split = load_split(args.dataset, args.data_dir, seed, test_size, binary)
    if split.X_test.shape[1] != model.n_features:
        raise UsageError(
            f"{PROG} evaluate: error: {args.checkpoint} holds a model for {model.n_features} features; "
            f"{args.dataset} has {split.X_test.shape[1]}"
        )
    if split.n_classes > getattr(model, "n_classes", 2):
        raise UsageError(
            f"{PROG} evaluate: error: {args.checkpoint} predicts {getattr(model, 'n_classes', 2)} classes; "
            f"{args.dataset} has {split.n_classes}"
        )
    X, y = (split.X_train, split.y_train) if args.split == "train" else (split.X_test, split.y_test)
    accuracy, loss = measure(model, X, y)
    print(
        f"{type(model).__name__} on {args.dataset} ({args.split}, {len(y)} rows): "
        f"accuracy {accuracy:.4f}  log-loss {loss:.4f}"
    )
    return 0


# ---- graph ----------------------------------------------------------------------------------


def _cmd_graph(args: argparse.Namespace) -> int:
    rng = np.random.default_rng(args.seed)
    n_classes = 2 if args.model == "logistic" else args.classes
    model = build_model(args.model, args.features, n_classes, args.hidden, args.seed)
    X = Tensor(rng.standard_normal((args.rows, args.features)), name="X")
    y = rng.integers(0, n_classes, args.rows)
    loss = model.loss(X, y.astype(np.float64) if args.model == "logistic" else y, l2=args.l2)
    loss.name = "loss"
    if args.show_grad:
        loss.backward()
    graph = draw(
        loss,
        show_grad=args.show_grad,
        show_data=args.show_data,
        rankdir=args.rankdir,
        clusters=model if args.model == "mlp" else None,
    )
    out = Path(args.output)
    if out.suffix in (".gv", ".dot"):
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_text(out, graph.source)
    else:
        render(graph, out)
    print(f"wrote {out} (the loss of {type(model).__name__} on {args.rows} random rows)")
    return 0


# ---- gradcheck ------------------------------------------------------------------------------


def _closed_form(model: models.Model, X: np.ndarray, y: np.ndarray, l2: float) -> dict[str, np.ndarray]:
    """The hand-derived gradient of ``model.loss`` (tinygrad_lr.reference), by parameter name."""
    if isinstance(model, models.MLP):
        n_layers = len(model.sizes) - 1
        Ws = [getattr(model, f"W{i}").data for i in range(n_layers)]
        bs = [getattr(model, f"b{i}").data for i in range(n_layers)]
        gW, gb = reference.mlp_grad(X, y, Ws, bs, l2=l2, activation=model.activation)
        return {**{f"W{i}": g for i, g in enumerate(gW)}, **{f"b{i}": g for i, g in enumerate(gb)}}
    if isinstance(model, models.SoftmaxRegression):
        gW, gb = reference.softmax_grad(X, y, model.W.data, model.b.data, l2=l2)
        return {"W": gW, "b": gb}
    gw, gb = reference.logistic_grad(X, y, model.w.data, model.b.data, l2=l2)
    return {"w": gw, "b": gb}


def gradcheck_rows(kind: str, seed: int, l2: float) -> list[dict[str, Any]]:
    """Per parameter: autograd vs the closed form, and autograd vs central differences."""
    rng = np.random.default_rng(seed)
    n_samples, n_features, n_classes = 7, 5, 3  # small and non-square, so transposes cannot hide
    model = build_model(kind, n_features, 2 if kind == "logistic" else n_classes, (4,), seed)
    X = rng.standard_normal((n_samples, n_features))
    y = rng.integers(0, 2 if kind == "logistic" else n_classes, n_samples)
    if kind == "logistic":
        y = y.astype(np.float64)
    params = model.named_parameters()
    names = list(params)

    def loss_of(*values: Tensor) -> Tensor:
        for name, value in zip(names, values):
            setattr(model, name, value)
        return model.loss(X, y, l2=l2)

    originals = [params[n] for n in names]
    loss = loss_of(*originals)
    loss.backward()
    autograd = {n: params[n].grad.data for n in names}
    closed = _closed_form(model, X, y.astype(np.int64) if kind != "logistic" else y, l2)
    numerical = numerical_grad(loss_of, originals)
    loss_of(*originals)  # put the model's own parameters back
    rows = []
    for name, num in zip(names, numerical):
        a = autograd[name]
        ref_error = float(np.max(np.abs(a - closed[name]), initial=0.0))
        num_error = float(np.max(np.abs(a - num), initial=0.0))
        ref_ok = ref_error <= REFERENCE_RTOL * max(1.0, float(np.max(np.abs(closed[name]), initial=0.0)))
        num_ok = bool(np.all(np.abs(a - num) <= GRADCHECK_ATOL + GRADCHECK_RTOL * np.abs(num)))
        rows.append(
            {
                "model": kind,
                "parameter": name,
                "shape": params[name].shape,
                "reference": ref_error,
                "numerical": num_error,
                "ok": ref_ok and num_ok,
            }
        )
    return rows


def _cmd_gradcheck(args: argparse.Namespace) -> int:
    kinds = MODELS if args.model == "all" else (args.model,)
    rows = [row for kind in kinds for row in gradcheck_rows(kind, args.seed, args.l2)]
    columns = ("|autograd - closed form|", "|autograd - numerical|")
    header = f"{'model':<9} {'param':<6} {'shape':<8} {columns[0]:>25} {columns[1]:>23}  result"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['model']:<9} {r['parameter']:<6} {str(r['shape']):<8} {r['reference']:>25.2e} "
            f"{r['numerical']:>23.2e}  {'ok' if r['ok'] else 'FAIL'}"
        )
    failed = [r for r in rows if not r["ok"]]
    print(
        f"{len(rows) - len(failed)} of {len(rows)} parameter gradients agree "
        f"(closed form: rtol {REFERENCE_RTOL:g}; numerical: atol {GRADCHECK_ATOL:g} + rtol {GRADCHECK_RTOL:g})"
    )
    return 1 if failed else 0


# ---- sweep ----------------------------------------------------------------------------------


def sweep_results(
    lrs: Sequence[float], ratios: Sequence[float], epochs: int, batch_size: int, seed: int, n_jobs: int
) -> list[dict[str, float]]:
    """Seed 000's study through GridSearchCV: one candidate per learning rate, one CV split per test ratio."""
    from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
    from sklearn.model_selection import GridSearchCV, StratifiedShuffleSplit
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .estimators import LogisticRegressionClassifier

    X, y = data.load_iris(binary=True)
    splits = [
        next(StratifiedShuffleSplit(n_splits=1, test_size=ratio, random_state=seed).split(X, y)) for ratio in ratios
    ]
    estimator = make_pipeline(
        StandardScaler(),
        LogisticRegressionClassifier(solver="sgd", max_iter=epochs, batch_size=batch_size, random_state=seed),
    )
    search = GridSearchCV(
        estimator,
        {"logisticregressionclassifier__learning_rate": list(lrs)},
        scoring={"accuracy": "accuracy", "log_loss": "neg_log_loss"},
        cv=splits,
        refit=False,
        return_train_score=True,
        n_jobs=n_jobs,
        error_score=np.nan,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FitFailedWarning)
        search.fit(X, y)
    cv = search.cv_results_
    return [
        {
            "lr": float(lr),
            "test_size": float(ratio),
            "train_accuracy": float(cv[f"split{k}_train_accuracy"][i]),
            "test_accuracy": float(cv[f"split{k}_test_accuracy"][i]),
            "test_log_loss": -float(cv[f"split{k}_test_log_loss"][i]),
        }
        for i, lr in enumerate(cv["param_logisticregressionclassifier__learning_rate"])
        for k, ratio in enumerate(ratios)
    ]


def _cmd_sweep(args: argparse.Namespace) -> int:
    results = sweep_results(args.lrs, args.ratios, args.epochs, args.batch_size, args.seed, args.n_jobs)
    print(f"{'lr':>8} {'test fraction':>14} {'train acc':>10} {'test acc':>9} {'test log-loss':>14}")
    for r in results:
        print(
            f"{r['lr']:>8g} {r['test_size']:>14g} {r['train_accuracy']:>10.4f} {r['test_accuracy']:>9.4f} "
            f"{r['test_log_loss']:>14.4g}"
        )
    out = Path(args.out)
    plots.plot_sweep(
        results, out / "sweep.png", title="iris (classes 0/1), logistic regression: learning rate × split ratio"
    )
    _write_text(out / "sweep.json", json.dumps(results, indent=2) + "\n")
    print(f"wrote {out / 'sweep.png'}, {out / 'sweep.json'}")
    return 0


# ---- the parser -------------------------------------------------------------------------------


def _dataset_options(p: argparse.ArgumentParser, default: str | None) -> None:
    p.add_argument(
        "--dataset",
        choices=DATASETS,
        default=default,
        help="bundled (iris, digits, breast_cancer), generated (moons, classification: 2 features), "
        "or mnist from IDX files in --data-dir" + (f" (default: {default})" if default else ""),
    )
    p.add_argument("--data-dir", metavar="DIR", help="folder of the MNIST IDX files (.gz or raw) for --dataset mnist")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Train, inspect and check the tinygrad_lr models from the shell.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    defaults = argparse.ArgumentDefaultsHelpFormatter

    train = sub.add_parser(
        "train",
        help="train a model; write a checkpoint, plots and the graph",
        formatter_class=defaults,
        description="Train a model with minibatches and write, in --out: model.npz (checkpoint), "
        "metrics.json, history.png, decision_boundary.png (2-feature datasets), "
        "misclassified.png (image datasets) and graph.svg. Logistic regression is "
        "binary: on iris it keeps classes 0 and 1, on other multiclass datasets "
        "it is an error.",
    )
    train.add_argument("--model", choices=MODELS, default="softmax", help="which model")
    _dataset_options(train, "digits")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="momentum is SGD with momentum 0.9")
    train.add_argument("--epochs", type=_positive_int, default=20, help="passes over the training set")
    train.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="learning rate (default: " + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")",
    )
    train.add_argument("--batch-size", type=_positive_int, default=32, help="rows per minibatch")
    train.add_argument("--l2", type=_nonnegative_float, default=0.0, help="L2 penalty l2/2·||W||² (biases free)")
    train.add_argument(
        "--hidden",
        type=_positive_int,
        nargs="+",
        default=[10],
        metavar="N",
        help="hidden layer sizes of --model mlp (tanh)",
    )
    train.add_argument("--test-size", type=_fraction, default=0.25, help="fraction of rows held out for testing")
    train.add_argument("--seed", type=int, default=0, help="seeds the split, the initialisation and the shuffling")
    train.add_argument("--out", default="runs", metavar="DIR", help="where the checkpoint, plots and graph go")
    train.add_argument("--quiet", action="store_true", help="no progress bar (none anyway when stderr is no terminal)")
    train.set_defaults(run=_cmd_train)

    evaluate = sub.add_parser(
        "evaluate",
        help="accuracy and log-loss of a checkpoint",
        formatter_class=defaults,
        description="Load a checkpoint (io.load_checkpoint) and measure it on the same split "
        "train used (dataset, seed and test size come from the checkpoint "
        "unless given).",
    )
    evaluate.add_argument("checkpoint", metavar="CHECKPOINT", help="a .npz written by train or io.save")
    _dataset_options(evaluate, None)
    evaluate.add_argument("--split", choices=("test", "train"), default="test", help="which rows to measure")
    evaluate.add_argument("--seed", type=int, default=None, help="split seed (default: the checkpoint's)")
    evaluate.add_argument("--test-size", type=_fraction, default=None, help="(default: the checkpoint's)")
    evaluate.set_defaults(run=_cmd_evaluate)

    graph = sub.add_parser(
        "graph",
        help="draw the computation graph of a model's loss",
        formatter_class=defaults,
        description="Build a model's loss on a small random batch and draw its DAG "
        "(.svg/.png/.pdf need Graphviz's dot; .gv/.dot write the DOT source).",
    )
    graph.add_argument("--model", choices=MODELS, default="mlp", help="which model")
    graph.add_argument("-o", "--output", default="graph.svg", metavar="FILE", help="output file; format from suffix")
    graph.add_argument("--features", type=_positive_int, default=2, help="input features")
    graph.add_argument("--classes", type=_positive_int, default=2, help="classes (softmax and mlp)")
    graph.add_argument("--hidden", type=_positive_int, nargs="+", default=[10], metavar="N", help="mlp hidden sizes")
    graph.add_argument("--rows", type=_positive_int, default=4, help="rows in the batch")
    graph.add_argument("--l2", type=_nonnegative_float, default=0.0, help="adds the L2 penalty to the graph")
    graph.add_argument("--show-grad", action="store_true", help="run backward and show gradients")
    graph.add_argument("--show-data", action="store_true", help="show the values of small tensors")
    graph.add_argument("--rankdir", choices=("LR", "TB", "RL", "BT"), default="LR", help="layout direction")
    graph.add_argument("--seed", type=int, default=0, help="seeds the data and the initialisation")
    graph.set_defaults(run=_cmd_graph)

    check = sub.add_parser(
        "gradcheck",
        help="check gradients against closed forms and finite differences",
        formatter_class=defaults,
        description="On small random non-square data, compare each parameter's autograd "
        "gradient with the hand-derived one (tinygrad_lr.reference) and with "
        "central differences (tinygrad_lr.gradcheck). Exit status 1 if any "
        "disagrees.",
    )
    check.add_argument("--model", choices=(*MODELS, "all"), default="all", help="which model(s)")
    check.add_argument("--l2", type=_nonnegative_float, default=0.1, help="L2 penalty in the checked loss")
    check.add_argument("--seed", type=int, default=0, help="seeds the data and the initialisation")
    check.set_defaults(run=_cmd_gradcheck)

    sweep = sub.add_parser(
        "sweep",
        help="seed 000's learning-rate × split-ratio study (GridSearchCV)",
        formatter_class=defaults,
        description="Binary iris logistic regression (tinygrad_lr.estimators, solver sgd: Nesterov "
        "momentum, standardised features) for each learning rate and test fraction, "
        "run by scikit-learn's GridSearchCV with n_jobs workers; prints a table and "
        "writes sweep.png and sweep.json to --out.",
    )
    sweep.add_argument("--lrs", type=_positive_float, nargs="+", default=[0.01, 0.1, 0.9, 10.0], metavar="LR")
    sweep.add_argument("--ratios", type=_fraction, nargs="+", default=[0.2, 0.4], metavar="R", help="test fractions")
    sweep.add_argument("--epochs", type=_positive_int, default=10, help="max_iter of the estimator")
    sweep.add_argument(
        "--batch-size",
        type=_positive_int,
        default=150,
        help="rows per minibatch (at least the training rows: full-batch gradient descent)",
    )
    sweep.add_argument("--n-jobs", type=int, default=2, help="joblib workers (-1: all cores)")
    sweep.add_argument("--seed", type=int, default=0, help="seeds the splits and the estimator")
    sweep.add_argument("--out", default="runs", metavar="DIR", help="where sweep.png and sweep.json go")
    sweep.set_defaults(run=_cmd_sweep)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 ok, 1 failure, 2 usage error)."""
    try:
        args = make_parser().parse_args(argv)
        return args.run(args)
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    except UsageError as e:
        print(e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, TypeError, FloatingPointError, GraphvizNotFoundError) as e:
        message = " ".join(str(e).split())
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
