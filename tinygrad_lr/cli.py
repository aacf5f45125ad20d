"""The ``tinygrad-lr`` command: train, evaluate, graph, gradcheck and sweep from the shell.

This module parses the command line and dispatches to the library (``splits``,
``train``, ``metrics``, ``model_gradcheck``, ``sweep``, ``io``, ``plots``, ``graph``),
which it imports only once a command runs, so ``--help`` answers at once.

Every failure a user can cause (a bad option, a missing file, a run that diverges)
ends in one line on stderr and a non-zero exit status, never a traceback:
2 for usage errors (as argparse does), 1 for everything else. Output paths are
checked before any work, and every file is written atomically, so a failed or
interrupted run never leaves half a file behind.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .splits import DATASETS, DEFAULT_TEST_SIZE, missing_mnist_message

if TYPE_CHECKING:
    from . import models, optim
    from .splits import Split
    from .tensor import Tensor

PROG = "tinygrad-lr"
MODELS = ("logistic", "softmax", "mlp")
OPTIMIZERS = ("adam", "sgd", "momentum")
DEFAULT_LR = {"adam": 0.01, "sgd": 0.1, "momentum": 0.05}
DEFAULT_HIDDEN = (10,)
TRAIN_FILES = ("model.npz", "metrics.json", "history.png", "decision_boundary.png", "misclassified.png")
GRAPH_FILES = ("graph.svg", "graph.gv")
SWEEP_FILES = ("sweep.png", "sweep.json")
SWEEP_TITLE = "iris (classes 0/1), logistic regression: learning rate × split ratio"


class UsageError(Exception):
    """The command line itself is wrong (exit status 2)."""


# ---- argument parsing ---------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (raised, so ``main`` decides how to exit)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


class _HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` once, and only when there is a value to show (not None or off)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if default is None or default is False or default is argparse.SUPPRESS or "default" in text:
            return text
        shown = " ".join(map(str, default)) if isinstance(default, list | tuple) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})"


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
_nonnegative_int = _number(int, 0, strict=False)
_positive_float = _number(float, 0, strict=True)
_nonnegative_float = _number(float, 0, strict=False)


def _fraction(text: str) -> float:
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _n_jobs(text: str) -> int:
    value = _number(int, -math.inf, strict=False)(text)
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"must be >= 1, or -1 for all cores, got {text}")
    return value


# ---- checks before any work ------------------------------------------------------------------


def _refuse(command: str, message: str) -> None:
    raise UsageError(f"{PROG} {command}: error: {message} (see {PROG} {command} --help)")


def _check_data_options(command: str, dataset: str, data_dir: str | None, test_size: float | None) -> None:
    """Options that do not apply to ``dataset`` are refused, and MNIST's files are named up front."""
    if dataset != "mnist":
        if data_dir is not None:
            _refuse(command, f"--data-dir applies to --dataset mnist only, not {dataset}")
        return
    if test_size is not None:
        _refuse(command, "--test-size does not apply to mnist, which its files split (see docs/cli.md)")
    if data_dir is None:
        _refuse(command, f"--dataset {missing_mnist_message(None)}")
    if not os.path.isdir(data_dir):
        _refuse(command, f"--data-dir {data_dir}: no such directory")


def _check_hidden(command: str, model: str, hidden: Sequence[int] | None) -> tuple[int, ...]:
    if hidden is not None and model != "mlp":
        _refuse(command, f"--hidden sets the hidden layers of --model mlp; --model {model} has none")
    return DEFAULT_HIDDEN if hidden is None else tuple(hidden)


def _output_dir(path: str, names: Sequence[str]) -> Path:
    """``path`` made ready for the files ``names`` before any work: created, writable, no directory in the way."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)  # a file in the way: FileExistsError naming it
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(out))
    for target in (out / name for name in names):
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
        if target.exists() and not os.access(target, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))
    return out


def _write_text(path: Path, text: str) -> None:
    from .atomic import atomic_write

    with atomic_write(path) as f:
        f.write(text.encode("utf-8"))


# ---- models and optimizers from option names ---------------------------------------------------


def build_model(kind: str, n_features: int, n_classes: int, hidden: Sequence[int], seed: int) -> models.Model:
    """The model ``--model kind`` names (hidden sizes for the MLP only)."""
    from . import models

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
    """The optimizer ``--optimizer name`` names; ``lr`` None takes its default from ``DEFAULT_LR``."""
    from . import optim

    lr = DEFAULT_LR[name] if lr is None else lr
    if name == "adam":
        return optim.Adam(params, lr=lr)
    return optim.SGD(params, lr=lr, momentum=0.9 if name == "momentum" else 0.0)


def _describe(optimizer: optim.Optimizer) -> str:
    hyper = ", ".join(f"{k}={v:g}" for k, v in optimizer.hyper().items() if k in ("lr", "momentum") and v)
    return f"{type(optimizer).__name__}({hyper})"


# ---- train ----------------------------------------------------------------------------------


def _write_graph(model: models.Model, split: Split, out: Path) -> str:
    """The loss on the first few training rows, with gradient norms, as graph.svg (or graph.gv without dot)."""
    import numpy as np

    from . import models
    from .graph import GraphvizNotFoundError, draw, render
    from .tensor import Tensor

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


def _write_plots(model: models.Model, split: Split, history: Any, out: Path) -> list[Path]:
    from . import plots

    title = f"{type(model).__name__} on {split.name}"
    plots.plot_history(history, out / "history.png", title=title)
    written = [out / "history.png"]
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
    return written


def _fit(args: argparse.Namespace, split: Split, hidden: Sequence[int]) -> tuple[Any, Any, Any, dict[str, float]]:
    """Build, train and measure the model: (model, optimizer, history, final figures)."""
    from . import train
    from .metrics import measure

    model = build_model(args.model, split.X_train.shape[1], split.n_classes, hidden, args.seed)
    optimizer = build_optimizer(args.optimizer, model.parameters(), args.lr)
    binary = " (logistic regression is binary: iris classes 0 and 1 only)" if split.binary else ""
    print(
        f"{split.name}: {len(split.y_train)} train / {len(split.y_test)} test rows, "
        f"{split.X_train.shape[1]} features, {split.n_classes} classes{binary}"
    )
    print(f"{type(model).__name__}, {_describe(optimizer)}, {args.epochs} epochs, batch size {args.batch_size}")
    history = train.fit(
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
    print(
        "after the last epoch, on all rows (log-loss without the L2 term; the progress bar's "
        "loss and accuracy are running means over the epoch's minibatches, its loss with the L2 term):"
    )
    print(f"train accuracy {train_acc:.4f}  log-loss {train_loss:.4f}")
    print(f"test  accuracy {test_acc:.4f}  log-loss {test_loss:.4f}")
    figures = {"train_accuracy": train_acc, "train_log_loss": train_loss}
    return model, optimizer, history, {**figures, "test_accuracy": test_acc, "test_log_loss": test_loss}


def _cmd_train(args: argparse.Namespace) -> int:
    from . import io
    from .splits import load_split

    _check_data_options("train", args.dataset, args.data_dir, args.test_size)
    hidden = _check_hidden("train", args.model, args.hidden)
    out = _output_dir(args.out, TRAIN_FILES + GRAPH_FILES)
    binary = args.model == "logistic" and args.dataset == "iris"
    split = load_split(args.dataset, args.data_dir, args.seed, args.test_size, binary)
    model, optimizer, history, figures = _fit(args, split, hidden)

    test_size = None if args.dataset == "mnist" else (args.test_size or DEFAULT_TEST_SIZE)
    extra = {"dataset": split.name, "seed": args.seed, "test_size": test_size, "binary": binary}
    if args.data_dir is not None:
        extra["data_dir"] = os.path.abspath(args.data_dir)
    io.save(model, out / "model.npz", optimizer=optimizer, extra=extra)
    metrics = {
        **extra,
        "test_size": split.test_size,  # the fraction actually held out
        "train_rows": len(split.y_train),
        "test_rows": len(split.y_test),
        "model": type(model).__name__,
        "optimizer": _describe(optimizer),
        "epochs": history.epochs,
        **figures,
        "history": {k: v for k, v in vars(history).items() if isinstance(v, list)},
    }
    _write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    written = [out / "model.npz", out / "metrics.json", *_write_plots(model, split, history, out)]
    written.append(_write_graph(model, split, out))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


# ---- evaluate -------------------------------------------------------------------------------

# What train stores in a checkpoint's ``extra``: a file may claim anything, so each is checked.
_STORED = {
    "dataset": (lambda v: v in DATASETS, f"one of {', '.join(DATASETS)}"),
    "seed": (lambda v: type(v) is int and v >= 0, "an integer >= 0"),
    "test_size": (lambda v: v is None or (type(v) in (int, float) and 0 < v < 1), "a fraction between 0 and 1"),
    "binary": (lambda v: type(v) is bool, "true or false"),
    "data_dir": (lambda v: type(v) is str, "a path"),
}


def _stored(path: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The split settings ``train`` stored in a checkpoint, each checked (ValueError naming the field)."""
    for key, (ok, expected) in _STORED.items():
        if key in extra and not ok(extra[key]):
            raise ValueError(f"evaluate: {path} records {key} {extra[key]!r}; expected {expected}")
    return {key: extra[key] for key in _STORED if key in extra}


def _evaluate_split(args: argparse.Namespace, model: models.Model, stored: dict[str, Any]) -> Split:
    from . import models
    from .splits import load_split

    dataset = args.dataset or stored.get("dataset")
    if dataset is None:
        _refuse("evaluate", f"{args.checkpoint} does not name its dataset; pass --dataset")
    same = dataset == stored.get("dataset")
    data_dir = args.data_dir or (stored.get("data_dir") if same else None)
    if data_dir is not None and args.data_dir is None and not os.path.isdir(data_dir):
        _refuse("evaluate", f"{args.checkpoint} was trained on files in {data_dir}, which is gone; pass --data-dir")
    _check_data_options("evaluate", dataset, data_dir, args.test_size)
    seed = stored.get("seed", 0) if args.seed is None else args.seed
    test_size = args.test_size or (stored.get("test_size") if same and dataset != "mnist" else None)
    binary = stored.get("binary", isinstance(model, models.LogisticRegression) and dataset == "iris")
    split = load_split(dataset, data_dir, seed, test_size, binary)
    if split.X_test.shape[1] != model.n_features:
        width = split.X_test.shape[1]
        _refuse("evaluate", f"{args.checkpoint} holds a model for {model.n_features} features; {dataset} has {width}")
    n_classes = getattr(model, "n_classes", 2)
    if split.n_classes > n_classes:
        _refuse("evaluate", f"{args.checkpoint} predicts {n_classes} classes; {dataset} has {split.n_classes}")
    return split


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from . import io
    from .metrics import measure

    checkpoint = io.load_checkpoint(args.checkpoint)
    split = _evaluate_split(args, checkpoint.model, _stored(args.checkpoint, checkpoint.extra))
    X, y = (split.X_train, split.y_train) if args.split == "train" else (split.X_test, split.y_test)
    accuracy, loss = measure(checkpoint.model, X, y)
    print(
        f"{type(checkpoint.model).__name__} on {split.name} ({args.split}, {len(y)} rows): "
        f"accuracy {accuracy:.4f}  log-loss {loss:.4f}"
    )
    return 0


# ---- graph ----------------------------------------------------------------------------------


def _cmd_graph(args: argparse.Namespace) -> int:
    import numpy as np

    from .graph import draw, render
    from .tensor import Tensor

    hidden = _check_hidden("graph", args.model, args.hidden)
    if args.model == "logistic" and args.classes is not None:
        _refuse("graph", "--classes applies to softmax and mlp; logistic regression has 2")
    out = Path(args.output)
    _output_dir(str(out.parent), [out.name])
    n_classes = 2 if args.classes is None else args.classes
    model = build_model(args.model, args.features, n_classes, hidden, args.seed)
    rng = np.random.default_rng(args.seed)
    X = Tensor(rng.standard_normal((args.rows, args.features)), name="X")
    y = rng.integers(0, n_classes, args.rows)
    loss = model.loss(X, y.astype(np.float64) if args.model == "logistic" else y, l2=args.l2)
    loss.name = "loss"
    if args.show_grad:
        loss.backward()
    clusters = model if args.model == "mlp" else None
    options = {"show_grad": args.show_grad, "show_data": args.show_data, "max_data": args.max_data}
    graph = draw(loss, rankdir=args.rankdir, clusters=clusters, **options)
    if out.suffix in (".gv", ".dot"):
        _write_text(out, graph.source)
    else:
        render(graph, out)
    print(f"wrote {out} (the loss of {type(model).__name__} on {args.rows} random rows)")
    return 0


# ---- gradcheck ------------------------------------------------------------------------------


def _cmd_gradcheck(args: argparse.Namespace) -> int:
    from .model_gradcheck import ATOL, MODELS, REFERENCE_RTOL, RTOL, gradcheck_rows, second_order_failure

    kinds = MODELS if args.model == "all" else (args.model,)
    rows = [row for kind in kinds for row in gradcheck_rows(kind, args.seed, args.l2)]
    columns = ("|autograd - closed form|", "|autograd - numerical|")
    header = f"{'model':<9} {'param':<6} {'shape':<8} {columns[0]:>25} {columns[1]:>23}  result"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.model:<9} {r.parameter:<6} {str(r.shape):<8} {r.reference:>25.2e} "
            f"{r.numerical:>23.2e}  {'ok' if r.ok else 'FAIL'}"
        )
    failed = [r for r in rows if not r.ok]
    print(
        f"{len(rows) - len(failed)} of {len(rows)} parameter gradients agree "
        f"(closed form: rtol {REFERENCE_RTOL:g}; numerical: atol {ATOL:g} + rtol {RTOL:g})"
    )
    second = {kind: second_order_failure(kind, args.seed, args.l2) for kind in kinds}
    for kind, failure in second.items():
        print(f"second order (Hessian-vector products vs central differences), {kind}: {failure or 'ok'}")
    return 1 if failed or any(second.values()) else 0


# ---- sweep ----------------------------------------------------------------------------------


def _cmd_sweep(args: argparse.Namespace) -> int:
    from . import plots
    from .cluster import on_cluster
    from .sweep import sweep_results

    out = _output_dir(args.out, SWEEP_FILES)
    with on_cluster(args.scheduler):
        results = sweep_results(args.lrs, args.ratios, args.epochs, args.batch_size, args.seed, args.n_jobs)
    print(f"{'lr':>8} {'test fraction':>14} {'train acc':>10} {'test acc':>9} {'test log-loss':>14}")
    for r in results:
        print(
            f"{r['lr']:>8g} {r['test_size']:>14g} {r['train_accuracy']:>10.4f} {r['test_accuracy']:>9.4f} "
            f"{r['test_log_loss']:>14.4g}"
        )
    plots.plot_sweep(results, out / "sweep.png", title=SWEEP_TITLE)
    _write_text(out / "sweep.json", json.dumps(results, indent=2) + "\n")
    print(f"wrote {out / 'sweep.png'}, {out / 'sweep.json'}")
    return 0


# ---- the parser -------------------------------------------------------------------------------


def _dataset_options(p: argparse.ArgumentParser, default: str | None) -> None:
    """--dataset and --data-dir; without a ``default`` (evaluate) they default to the checkpoint's."""
    stored = "" if default else " (default: the checkpoint's)"
    p.add_argument(
        "--dataset",
        choices=DATASETS,
        default=default,
        help="bundled (iris, digits, breast_cancer), the tutorials' generated 2-feature data "
        "(moons, classification), or mnist from IDX files in --data-dir" + stored,
    )
    p.add_argument(
        "--data-dir", metavar="DIR", help="folder of the MNIST IDX files (.gz or raw), for mnist only" + stored
    )


def _train_parser(sub: Any) -> None:
    train = sub.add_parser(
        "train",
        help="train a model; write a checkpoint, plots and the graph",
        formatter_class=_HelpFormatter,
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
    lrs = ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items())
    train.add_argument("--lr", type=_positive_float, help=f"learning rate (default per optimizer: {lrs})")
    train.add_argument("--batch-size", type=_positive_int, default=32, help="rows per minibatch")
    train.add_argument("--l2", type=_nonnegative_float, default=0.0, help="L2 penalty l2/2·||W||² (biases free)")
    train.add_argument(
        "--hidden",
        type=_positive_int,
        nargs="+",
        metavar="N",
        help=f"hidden layer sizes of --model mlp, tanh (default: {' '.join(map(str, DEFAULT_HIDDEN))})",
    )
    train.add_argument(
        "--test-size", type=_fraction, help="fraction of rows held out for testing (default: 0.25; not for mnist)"
    )
    train.add_argument(
        "--seed", type=_nonnegative_int, default=0, help="seeds the split, the initialisation and the shuffling"
    )
    train.add_argument("--out", default="runs", metavar="DIR", help="where the checkpoint, plots and graph go")
    train.add_argument("--quiet", action="store_true", help="no progress bar (none anyway when stderr is no terminal)")
    train.set_defaults(run=_cmd_train)


def _evaluate_parser(sub: Any) -> None:
    evaluate = sub.add_parser(
        "evaluate",
        help="accuracy and log-loss of a checkpoint",
        formatter_class=_HelpFormatter,
        description="Load a checkpoint (io.load_checkpoint) and measure it on the same split "
        "train used (dataset, seed, test size and MNIST's folder come from the checkpoint "
        "unless given).",
    )
    evaluate.add_argument("checkpoint", metavar="CHECKPOINT", help="a .npz written by train or io.save")
    _dataset_options(evaluate, None)
    evaluate.add_argument("--split", choices=("test", "train"), default="test", help="which rows to measure")
    evaluate.add_argument("--seed", type=_nonnegative_int, help="split seed (default: the checkpoint's)")
    evaluate.add_argument("--test-size", type=_fraction, help="fraction held out (default: the checkpoint's)")
    evaluate.set_defaults(run=_cmd_evaluate)


def _graph_parser(sub: Any) -> None:
    graph = sub.add_parser(
        "graph",
        help="draw the computation graph of a model's loss",
        formatter_class=_HelpFormatter,
        description="Build a model's loss on a small random batch and draw its DAG "
        "(.svg/.png/.pdf need Graphviz's dot; .gv/.dot write the DOT source).",
    )
    graph.add_argument("--model", choices=MODELS, default="mlp", help="which model")
    graph.add_argument("-o", "--output", default="graph.svg", metavar="FILE", help="output file; format from suffix")
    graph.add_argument("--features", type=_positive_int, default=2, help="input features")
    graph.add_argument("--classes", type=_positive_int, help="classes of softmax and mlp (default: 2)")
    graph.add_argument(
        "--hidden", type=_positive_int, nargs="+", metavar="N", help="hidden layer sizes of --model mlp (default: 10)"
    )
    graph.add_argument("--rows", type=_positive_int, default=4, help="rows in the batch")
    graph.add_argument("--l2", type=_nonnegative_float, default=0.0, help="adds the L2 penalty to the graph")
    graph.add_argument("--show-grad", action="store_true", help="run backward and show gradients")
    graph.add_argument("--show-data", action="store_true", help="show the values of small tensors")
    graph.add_argument(
        "--max-data", type=_nonnegative_int, default=16, help="largest tensor whose values --show-data shows"
    )
    graph.add_argument(
        "--rankdir",
        choices=("LR", "TB", "RL", "BT"),
        help="layout direction (default: left to right, top to bottom for deep graphs)",
    )
    graph.add_argument("--seed", type=_nonnegative_int, default=0, help="seeds the data and the initialisation")
    graph.set_defaults(run=_cmd_graph)


def _check_and_sweep_parsers(sub: Any) -> None:
    check = sub.add_parser(
        "gradcheck",
        help="check gradients against closed forms and finite differences",
        formatter_class=_HelpFormatter,
        description="On small random non-square data, compare each parameter's autograd "
        "gradient with the hand-derived one (tinygrad_lr.reference) and with "
        "central differences (tinygrad_lr.gradcheck). Exit status 1 if any "
        "disagrees.",
    )
    check.add_argument("--model", choices=(*MODELS, "all"), default="all", help="which model(s)")
    check.add_argument("--l2", type=_nonnegative_float, default=0.1, help="L2 penalty in the checked loss")
    check.add_argument("--seed", type=_nonnegative_int, default=0, help="seeds the data and the initialisation")
    check.set_defaults(run=_cmd_gradcheck)

    sweep = sub.add_parser(
        "sweep",
        help="the iris learning-rate sweep: learning rate × test fraction (GridSearchCV)",
        formatter_class=_HelpFormatter,
        description="Binary iris logistic regression (tinygrad_lr.estimators, solver sgd: Nesterov "
        "momentum, standardised features) for each learning rate and test fraction, "
        "run by scikit-learn's GridSearchCV with n_jobs workers, or on a Dask cluster "
        "with --scheduler; prints a table and writes sweep.png and sweep.json to --out.",
    )
    sweep.add_argument(
        "--lrs", type=_positive_float, nargs="+", default=[0.01, 0.1, 0.9, 10.0], metavar="LR", help="learning rates"
    )
    sweep.add_argument("--ratios", type=_fraction, nargs="+", default=[0.2, 0.4], metavar="R", help="test fractions")
    sweep.add_argument("--epochs", type=_positive_int, default=10, help="max_iter of the estimator")
    sweep.add_argument(
        "--batch-size",
        type=_positive_int,
        default=150,
        help="rows per minibatch (at least the training rows: full-batch gradient descent)",
    )
    sweep.add_argument("--n-jobs", type=_n_jobs, default=2, help="joblib workers (-1: all cores)")
    sweep.add_argument("--seed", type=_nonnegative_int, default=0, help="seeds the splits and the estimator")
    sweep.add_argument("--out", default="runs", metavar="DIR", help="where sweep.png and sweep.json go")
    sweep.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the fits on the Dask cluster of this scheduler (tcp://host:8786; the distributed extra); "
        "its workers' threads, not --n-jobs, set the parallelism",
    )
    sweep.set_defaults(run=_cmd_sweep)


def make_parser() -> argparse.ArgumentParser:
    """The argparse parser of all subcommands."""
    parser = _Parser(prog=PROG, description="Train, inspect and check the tinygrad_lr models from the shell.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    _train_parser(sub)
    _evaluate_parser(sub)
    _graph_parser(sub)
    _check_and_sweep_parsers(sub)
    return parser


_FAILURES = (OSError, ValueError, TypeError, FloatingPointError)


def _is_failure(e: BaseException) -> bool:
    """A failure to report in one line: the usual kinds, or Graphviz missing (if graph.py ever loaded)."""
    graph = sys.modules.get(f"{__package__}.graph")
    return isinstance(e, _FAILURES) or (graph is not None and isinstance(e, graph.GraphvizNotFoundError))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 ok, 1 failure, 2 usage error, 130 interrupted)."""
    try:
        args = make_parser().parse_args(argv)
        return args.run(args)
    except SystemExit as e:  # --help, --version
        return e.code if isinstance(e.code, int) else 0
    except UsageError as e:
        print(e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except MemoryError as e:
        print(f"{PROG}: error: out of memory ({' '.join(str(e).split())}); try smaller sizes", file=sys.stderr)
        return 1
    except Exception as e:
        if not _is_failure(e):
            raise
        print(f"{PROG}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
