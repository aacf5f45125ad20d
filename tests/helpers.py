"""What several test modules share: paths, a disk that fills up, and the error table of docs/errors.md.

Test modules import from here, never from each other (or from conftest, which
holds pytest's fixtures and settings only).
"""

from __future__ import annotations

import builtins
import errno
import gzip
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError

import tinygrad_lr as tg
from tinygrad_lr.compiler import UntraceableError
from tinygrad_lr.data import IDXError
from tinygrad_lr.gradcheck import gradcheck, gradgradcheck
from tinygrad_lr.graph import GraphvizNotFoundError
from tinygrad_lr.io import CheckpointError

ROOT = Path(__file__).resolve().parent.parent
# The MNIST IDX files: $MNIST_DIR, else ../shared/data/mnist beside the checkout (tests needing them skip without).
MNIST_DIR = os.environ.get("MNIST_DIR") or os.path.join(ROOT.parent, "shared", "data", "mnist")


# ---- gradients of ops, first and second order ------------------------------------------------------

SMALL = {"max_dims": 3, "max_side": 3}  # Hypothesis shapes small enough for finite differences


def check(f: Callable[..., Any], *arrays: np.ndarray) -> None:
    """gradcheck and gradgradcheck of f with respect to every array (as named leaf tensors)."""
    inputs = [tg.Tensor(a, requires_grad=True, name=f"x{i}") for i, a in enumerate(arrays)]
    before = [a.copy() for a in arrays]
    assert gradcheck(f, inputs)
    assert gradgradcheck(f, inputs)
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b)


def training_step(model: Any, opt: Any) -> Callable[[Any, Any], tg.Tensor]:
    """The usual step, to compile or run eagerly: zero_grad, loss, backward, step; returns the loss."""

    def step(X: Any, y: Any) -> tg.Tensor:
        opt.zero_grad()
        loss = model.loss(X, y)
        loss.backward()
        opt.step()
        return loss

    return step


# ---- a disk that fills up -----------------------------------------------------------------------


class _FullDisk:
    """A file that takes ``room`` bytes (or characters), then raises ``error`` (a full disk, an interrupt)."""

    def __init__(self, f, room, error):
        self._f, self._room, self._error = f, room, error

    def write(self, data):
        if len(data) > self._room:
            self._f.write(data[: self._room])
            self._f.flush()
            self._room = 0
            raise self._error
        self._room -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def disk_fills_up_writing(monkeypatch, path, room=100, error=None):
    """Writing ``path``, or a file next to it whose name contains its name (a temporary), fails after ``room`` bytes.

    Patches ``open`` itself (builtins, and ``io.open`` for pathlib), so any way of writing, ours
    or matplotlib's or PIL's, gets part of its data out before the failure. ``error`` replaces the
    full disk's ``OSError``.
    """
    path = Path(path)
    error = error or OSError(errno.ENOSPC, "No space left on device")
    real_open = builtins.open

    def open_(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if isinstance(file, str | os.PathLike) and set(mode) & set("wxa"):
            target = Path(os.path.abspath(file))
            if target.parent == path.parent and path.name in target.name:
                return _FullDisk(f, room, error)
        return f

    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)


def assert_only_the_old_file(path, old):
    """``path`` still holds ``old`` and no temporary file is left next to it."""
    assert path.read_bytes() == old
    assert [p.name for p in path.parent.iterdir() if path.name in p.name] == [path.name]


# ---- the error table of docs/errors.md ------------------------------------------------------------


DOC = ROOT / "docs" / "errors.md"
ROW = re.compile(r"^\| `(?P<id>[a-z0-9-]+)` \| (?P<input>.+?) \| `(?P<error>\w+)` \| `(?P<message>[^`]+)` \|$", re.M)

EXCEPTIONS: dict[str, type[Exception]] = {
    e.__name__: e
    for e in (
        ValueError,
        TypeError,
        IndexError,
        RuntimeError,
        FileNotFoundError,
        PermissionError,
        FloatingPointError,
        tg.GraphFreedError,
        tg.ModifiedInPlaceError,
        tg.AnomalyError,
        CheckpointError,
        IDXError,
        GraphvizNotFoundError,
        NotFittedError,
        UntraceableError,
    )
}


@dataclass
class Row:
    id: str
    error: str
    fragments: list[str]


def doc_rows() -> list[Row]:
    rows = ROW.finditer(DOC.read_text())
    return [Row(m["id"], m["error"], [f.strip() for f in m["message"].split("…")]) for m in rows]


def documented_exceptions() -> set[type[Exception]]:
    """The exception types the doc promises (test_fuzz accepts only these)."""
    return {EXCEPTIONS[row.error] for row in doc_rows()}


# ---- IDX files ----------------------------------------------------------------------------------------


def write_idx(path: Path, array: np.ndarray) -> Path:
    """``array`` (uint8) as an IDX file, gzip-compressed when ``path`` ends in .gz."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())
    return path
