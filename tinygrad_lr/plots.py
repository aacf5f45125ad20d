"""Matplotlib figures of a model learning: curves, decision boundaries, convergence, mistakes, sweeps.

Every function builds a ``matplotlib.figure.Figure`` directly (no pyplot), so
library code never opens a window, never touches the global backend or pyplot's
list of open figures, and works the same on a headless server. Pass ``path``
(ending in ``.png`` or ``.svg``) to write the figure (atomically: an interrupted
write leaves the old file intact); it is always returned, and Jupyter displays it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .atomic import atomic_write
from .tensor import Tensor

FORMATS = (".png", ".svg")
CLASS_COLORS = (
    "tab:blue",
    "tab:red",
    "tab:green",
    "tab:orange",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:gray",
    "tab:olive",
    "tab:cyan",
)


def _save(fig: Figure, path: str | Path | None, who: str) -> None:
    if path is None:
        return
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"{who}: can write {' or '.join(FORMATS)} files, not {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, who) as f:
        fig.savefig(f, format=path.suffix[1:].lower(), dpi=120, bbox_inches="tight")


# ---- loss and accuracy per epoch ---------------------------------------------------


def _series(history: Any, name: str) -> list[float]:
    values = history.get(name) if isinstance(history, Mapping) else getattr(history, name, None)
    return [] if values is None else [float(v) for v in values]


def _penalty_note(history: Any) -> str:
    """How the loss curves were measured: with or without the L2 penalty, when the history says."""
    l2 = history.get("l2") if isinstance(history, Mapping) else getattr(history, "l2", None)
    if l2 is None:
        return ""
    return f" (log-loss + L2 penalty, λ={float(l2):g})" if l2 else " (log-loss, no penalty)"


def plot_history(history: Any, path: str | Path | None = None, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch, train and validation, side by side.

    ``history`` is anything with ``loss``, ``accuracy``, ``val_loss`` and
    ``val_accuracy`` lists (``train.History``) or a dict with those keys; empty or
    missing series are left out. When it has ``l2`` (``History`` does), the loss
    legend says whether the curves include the L2 penalty. Epochs are whole
    numbers on the x axis; the accuracy axis ends at 1.
    """
    loss = _series(history, "loss")
    if not loss:
        raise ValueError("plot_history: the history has no 'loss' values to plot")
    panels = [("loss", loss, _series(history, "val_loss"), _penalty_note(history))]
    accuracy, val_accuracy = _series(history, "accuracy"), _series(history, "val_accuracy")
    if accuracy or val_accuracy:
        panels.append(("accuracy", accuracy, val_accuracy, ""))
    fig = Figure(figsize=(5 * len(panels), 3.6), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (what, train, val, note) in zip(axes, panels):
        for label, values in (("train", train), ("validation", val)):
            if values:
                marker = "o" if len(values) <= 30 else None
                # clip_on=False: a marker at accuracy 1 is drawn whole on the capped axis
                ax.plot(
                    range(1, len(values) + 1), values, marker=marker, markersize=3, label=label + note, clip_on=False
                )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if what == "accuracy":
            ax.set_ylim(top=1.0)
        ax.set_xlabel("epoch")
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    _save(fig, path, "plot_history")
    return fig


# ---- decision boundary of a 2-feature classifier -------------------------------------


def _predictions(model: Any, points: np.ndarray) -> tuple[str, np.ndarray]:
    """("proba", p(second class)) for binary probabilities, else ("label", predicted labels)."""
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(points))
        if proba.ndim == 1:
            return "proba", proba
        if proba.shape[1] == 2:
            return "proba", proba[:, 1]
        # Column k is class k for the models; scikit-learn-style estimators name their columns in classes_.
        columns = np.asarray(getattr(model, "classes_", np.arange(proba.shape[1])))
        return "label", columns[proba.argmax(axis=1)]
    if hasattr(model, "predict"):
        return "label", np.asarray(model.predict(points))
    raise TypeError(f"plot_decision_boundary: {type(model).__name__} has neither predict_proba nor predict")


def plot_decision_boundary(
    model: Any,
    X: Any,
    y: Any,
    path: str | Path | None = None,
    resolution: int = 200,
    feature_names: Sequence[str] = ("x₁", "x₂"),
    title: str | None = None,
) -> Figure:
    """The regions a 2-feature classifier assigns to each class, with the data points on top.

    Works with anything that has ``predict_proba`` or ``predict`` (the models,
    the estimators, scikit-learn). With binary probabilities the background is
    p(second class) and the boundary is the 0.5 contour; otherwise it is the
    predicted class (the most probable column, named by ``classes_`` if the
    model has it).
    """
    X = np.asarray(X.data if isinstance(X, Tensor) else X, dtype=np.float64)
    y = np.asarray(y.data if isinstance(y, Tensor) else y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must have shape (n_samples, 2), got {X.shape}")
    if y.shape != (len(X),):
        raise ValueError(f"plot_decision_boundary: y must have shape ({len(X)},), got {y.shape}")
    if int(resolution) < 2:
        raise ValueError(f"plot_decision_boundary: resolution must be >= 2, got {resolution}")
    lo, hi = X.min(axis=0), X.max(axis=0)
    margin = 0.1 * (hi - lo) + 0.1
    xs, ys = (np.linspace(lo[i] - margin[i], hi[i] + margin[i], int(resolution)) for i in range(2))
    xx, yy = np.meshgrid(xs, ys)
    kind, predicted = _predictions(model, np.column_stack([xx.ravel(), yy.ravel()]))

    fig = Figure(figsize=(6, 5), layout="constrained")
    ax = fig.subplots()
    if kind == "proba":
        classes = np.unique(y)
        p = predicted.reshape(xx.shape)
        shading = ax.contourf(xx, yy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.75)
        ax.contour(xx, yy, p, levels=[0.5], colors="black", linewidths=1.5)
        fig.colorbar(shading, ax=ax, label=f"p(y = {classes[-1]})")
        colors: Sequence[str] = ("tab:blue", "tab:red")
    else:
        classes = np.unique(np.concatenate([np.unique(y), np.unique(predicted)]))
        if len(classes) > len(CLASS_COLORS):
            raise ValueError(f"plot_decision_boundary: at most {len(CLASS_COLORS)} classes, got {len(classes)}")
        colors = CLASS_COLORS[: len(classes)]
        region = np.searchsorted(classes, predicted).reshape(xx.shape)
        ax.contourf(xx, yy, region, levels=np.arange(len(classes) + 1) - 0.5, cmap=ListedColormap(colors), alpha=0.3)
    for i, c in enumerate(classes):
        mine = y == c
        if mine.any():
            ax.scatter(
                X[mine, 0],
                X[mine, 1],
                s=18,
                color=colors[min(i, len(colors) - 1)],
                edgecolors="black",
                linewidths=0.5,
                label=f"y = {c}",
            )
    ax.set_xlabel(feature_names[0])
    ax.set_ylabel(feature_names[1])
    ax.legend(loc="best")
    ax.set_title(title or f"decision boundary of {type(model).__name__}")
    _save(fig, path, "plot_decision_boundary")
    return fig


# ---- distance of the parameters to the optimum ---------------------------------------


def _flatten(snapshot: Any) -> np.ndarray:
    """One parameter vector from an array, a Tensor, a list of them or a dict name -> array."""
    if isinstance(snapshot, Mapping):
        snapshot = [snapshot[k] for k in sorted(snapshot)]
    elif isinstance(snapshot, Tensor | np.ndarray):
        snapshot = [snapshot]
    parts = [np.asarray(p.data if isinstance(p, Tensor) else p, dtype=np.float64).ravel() for p in snapshot]
    return np.concatenate(parts) if parts else np.zeros(0)


def _distances(trajectory: Sequence[Any], optimum: Any, who: str) -> np.ndarray:
    if len(trajectory) == 0:
        raise ValueError(f"{who}: the trajectory is empty")
    if all(isinstance(d, int | float | np.number) for d in trajectory):
        if optimum is not None:
            raise ValueError(f"{who}: got distances and an optimum; pass parameter snapshots with an optimum")
        return np.asarray(trajectory, dtype=np.float64)
    target = _flatten(trajectory[-1] if optimum is None else optimum)
    out = np.empty(len(trajectory))
    for i, snapshot in enumerate(trajectory):
        theta = _flatten(snapshot)
        if theta.shape != target.shape:
            raise ValueError(f"{who}: snapshot {i} has {theta.size} parameters, the optimum has {target.size}")
        out[i] = np.linalg.norm(theta - target)
    return out


def plot_distance_to_optimum(
    trajectory: Sequence[Any] | Mapping[str, Sequence[Any]],
    optimum: Any = None,
    path: str | Path | None = None,
    log_scale: bool = True,
    xlabel: str = "iteration",
    title: str | None = None,
) -> Figure:
    """‖θ_t − θ*‖₂ over iterations: how fast an optimizer approaches the solution.

    ``trajectory`` is a list of parameter snapshots (arrays, Tensors, lists of
    them, or ``named_parameters``-style dicts) or of precomputed distances, or a
    dict ``{label: trajectory}`` to compare several runs. ``optimum`` is θ*; when
    omitted it is each run's final snapshot. The log scale shows linear
    convergence as a straight line; zero distances (the final snapshot itself)
    are left out there.
    """
    who = "plot_distance_to_optimum"
    runs = trajectory if isinstance(trajectory, Mapping) else {None: trajectory}
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for label, run in runs.items():
        d = _distances(list(run), optimum, who)
        if log_scale:
            d = np.where(d > 0, d, np.nan)
        ax.plot(np.arange(len(d)), d, label=label)
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("‖θ − θ*‖₂" if optimum is not None else "‖θ − θ_final‖₂")
    ax.grid(alpha=0.3, which="both")
    if isinstance(trajectory, Mapping):
        ax.legend()
    ax.set_title(title or "distance of the parameters to the optimum")
    _save(fig, path, who)
    return fig


# ---- misclassified digits ---------------------------------------------------------------


def plot_misclassified(
    images: Any,
    y_true: Any,
    y_pred: Any,
    path: str | Path | None = None,
    max_images: int = 25,
    ncols: int = 5,
) -> Figure:
    """A grid of the first ``max_images`` images whose prediction is wrong, titled true/predicted.

    ``images`` holds all samples, flattened (8×8 → 64, 28×28 → 784: any square)
    or as (n, h, w); the wrong ones are picked here.
    """
    images = np.asarray(images.data if isinstance(images, Tensor) else images)
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    n = len(images)
    if y_true.shape != (n,) or y_pred.shape != (n,):
        raise ValueError(f"plot_misclassified: {n} images but {y_true.size} true and {y_pred.size} predicted labels")
    if images.ndim == 2:
        side = math.isqrt(images.shape[1])
        if side * side != images.shape[1]:
            raise ValueError(
                f"plot_misclassified: images of {images.shape[1]} pixels are not square; pass shape (n, h, w)"
            )
        images = images.reshape(n, side, side)
    elif images.ndim != 3:
        raise ValueError(f"plot_misclassified: images must have shape (n, pixels) or (n, h, w), got {images.shape}")
    if int(max_images) < 1 or int(ncols) < 1:
        raise ValueError(f"plot_misclassified: max_images and ncols must be >= 1, got {max_images} and {ncols}")

    wrong = np.flatnonzero(y_true != y_pred)
    shown = wrong[: int(max_images)]
    if len(shown) == 0:
        fig = Figure(figsize=(4, 1.5), layout="constrained")
        ax = fig.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, f"no misclassified images (of {n})", ha="center", va="center")
        _save(fig, path, "plot_misclassified")
        return fig
    cols = min(int(ncols), len(shown))
    rows = math.ceil(len(shown) / cols)
    fig = Figure(figsize=(1.5 * cols, 1.75 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, i in zip(axes, shown):
        ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
        ax.set_title(f"true {y_true[i]}, pred {y_pred[i]}", fontsize=9)
    more = f" (first {len(shown)} shown)" if len(shown) < len(wrong) else ""
    fig.suptitle(f"{len(wrong)} of {n} misclassified{more}")
    _save(fig, path, "plot_misclassified")
    return fig


# ---- a learning-rate × split-ratio sweep ---------------------------------------------------

SWEEP_KEYS = ("lr", "test_size", "test_accuracy", "test_log_loss")


def plot_sweep(
    results: Sequence[Mapping[str, float]], path: str | Path | None = None, title: str | None = None
) -> Figure:
    """Test accuracy and test log-loss against the learning rate, one line per test fraction.

    ``results`` holds one dict per cell with ``lr``, ``test_size``, ``test_accuracy``
    and ``test_log_loss`` (what ``tinygrad-lr sweep`` writes to sweep.json). Both
    axes of the loss panel are logarithmic, as is the learning-rate axis; a NaN
    (a fit that failed) leaves a gap.
    """
    if len(results) == 0:
        raise ValueError("plot_sweep: no results to plot")
    for i, r in enumerate(results):
        missing = [k for k in SWEEP_KEYS if k not in r]
        if missing:
            raise ValueError(f"plot_sweep: result {i} lacks {missing} (each needs {list(SWEEP_KEYS)})")
        if not r["lr"] > 0:
            raise ValueError(f"plot_sweep: result {i} has learning rate {r['lr']}; the log axis needs lr > 0")
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    for ratio in sorted({float(r["test_size"]) for r in results}):
        mine = sorted((r for r in results if float(r["test_size"]) == ratio), key=lambda r: r["lr"])
        for ax, key in zip(axes, ("test_accuracy", "test_log_loss")):
            ax.plot([r["lr"] for r in mine], [r[key] for r in mine], marker="o", label=f"test fraction {ratio:g}")
    for ax, label in zip(axes, ("test accuracy", "test log-loss")):
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    axes[1].set_yscale("log")
    fig.suptitle(title or "learning rate × test fraction")
    _save(fig, path, "plot_sweep")
    return fig
