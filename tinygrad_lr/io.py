"""Checkpoints: a model (and optionally optimizer and RNG state) in one ``.npz`` file.

Safe by construction: the file holds only numeric arrays and one JSON string,
it is read with ``np.load(..., allow_pickle=False)``, and the model class comes
from a fixed list. Loading a checkpoint never executes code, whatever the file
contains. Saving is atomic: the new file is written next to the old one and
swapped in with ``os.replace``, so an interrupted save leaves the old file intact; it
gets the old file's permissions, or those ``open()`` would give a new one.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import models, optim
from .models import Model

FORMAT = "tinygrad_lr checkpoint"
FORMAT_VERSION = 1
MODELS: dict[str, type[Model]] = {
    cls.__name__: cls for cls in (models.LogisticRegression, models.SoftmaxRegression, models.MLP)
}
# Bit generators whose state is plain integers (JSON-safe).
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "SFC64")
_ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(ValueError):
    """A file is not a readable tinygrad_lr checkpoint (truncated, foreign, pickled or inconsistent)."""


@dataclass
class Checkpoint:
    """Everything a checkpoint holds: the model, and what is needed to resume training."""

    model: Model
    optimizer_state: dict[str, Any] | None = None
    rng: np.random.Generator | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def __repr__(self) -> str:
        """The model, the optimizer's type and step count, the RNG and the extra keys; not the arrays."""
        state = self.optimizer_state
        opt = "None" if state is None else f"{state.get('type')} at steps={state.get('steps')}"
        rng = "None" if self.rng is None else type(self.rng.bit_generator).__name__
        return (
            f"Checkpoint(model={self.model!r}, optimizer={opt}, rng={rng}, "
            f"extra={self.extra!r}, format_version={self.format_version})"
        )

    def restore_optimizer(self) -> optim.Optimizer:
        """The saved optimizer, rebuilt over this checkpoint's model with its state restored."""
        if self.optimizer_state is None:
            raise CheckpointError("restore_optimizer: this checkpoint was saved without an optimizer")
        return optim.from_state_dict(self.model.parameters(), self.optimizer_state)


# ---- saving ------------------------------------------------------------------------------


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"save: rng must be a np.random.Generator, got {type(rng).__name__}")
    state = rng.bit_generator.state
    if state["bit_generator"] not in BIT_GENERATORS:
        raise ValueError(f"save: cannot store a {state['bit_generator']} generator; use one of {BIT_GENERATORS}")
    return state


def save(
    model: Model,
    path: str | os.PathLike,
    optimizer: optim.Optimizer | None = None,
    rng: np.random.Generator | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``model`` (plus optimizer state, RNG state and JSON-able ``extra``) to ``path`` atomically."""
    if not isinstance(model, Model):
        raise TypeError(f"save: can only save a models.Model (built in or a subclass), got {type(model).__name__}")
    config = model.config()
    try:
        json.dumps(config)
    except TypeError as e:
        raise TypeError(f"save: {type(model).__name__}.config() must be JSON-serialisable ({e})") from None
    state = model.state_dict()
    arrays = {f"param/{name}": value for name, value in state.items()}
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model": type(model).__name__,  # a name only: load rebuilds from MODELS, never imports it
        "config": config,
        "parameters": list(state),
        "optimizer": None,
        "rng": None if rng is None else _rng_state(rng),
        "extra": extra or {},
    }
    if optimizer is not None:
        state = optimizer.state_dict()
        present = {k: [b is not None for b in bufs] for k, bufs in state["buffers"].items()}
        meta["optimizer"] = {
            "type": state["type"],
            "hyper": state["hyper"],
            "steps": state["steps"],
            "buffers": present,
        }
        for key, bufs in state["buffers"].items():
            arrays.update({f"optimizer/{key}/{i}": b for i, b in enumerate(bufs) if b is not None})
    try:
        arrays["meta"] = np.array(json.dumps(meta))
    except TypeError as e:
        raise TypeError(f"save: extra must be JSON-serialisable ({e})") from None
    _write_atomically(os.fspath(path), arrays)


def _new_file_mode(path: str) -> int:
    """The permissions ``path`` should end up with: the old file's when overwriting, else what ``open()`` gives."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)  # the only portable way to read the umask is to set it...
        os.umask(umask)  # ...and put it back at once
        return 0o666 & ~umask


def _write_atomically(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write a temporary file next to ``path`` (mkstemp makes it 0600), give it the final mode, swap it in."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"save: {path} is a directory, not a file name")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"save: the directory {directory} does not exist") from None
    except OSError as e:
        raise OSError(e.errno, f"save: cannot create a file in the directory {directory} ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, allow_pickle=False, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# ---- loading -----------------------------------------------------------------------------


def _open(path: str) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz``, read without pickle; any defect becomes a CheckpointError."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load: no such checkpoint file: {path}")
    with open(path, "rb") as f:
        head = f.read(4)
    if head != _ZIP_MAGIC:
        kind = "a pickle file" if head[:1] == b"\x80" else "not an .npz archive"
        raise CheckpointError(f"load: {path} is {kind} (starts with {head!r}); refusing to read it")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except ValueError as e:
        if "pickle" in str(e) or "Object arrays" in str(e):
            raise CheckpointError(f"load: {path} contains pickled (object) arrays; refusing to unpickle them") from None
        raise CheckpointError(f"load: {path} is corrupt ({e})") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as e:
        raise CheckpointError(f"load: {path} is truncated or corrupt ({type(e).__name__}: {e})") from None
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray):  # np.load hands back other zip members as raw bytes
            raise CheckpointError(f"load: {path} holds {key!r}, which is not a NumPy array; not a checkpoint")
    return arrays


def _meta(arrays: dict[str, np.ndarray], path: str) -> dict[str, Any]:
    raw = arrays.get("meta")
    if raw is None:
        raise CheckpointError(
            f"load: {path} is an .npz but not a tinygrad_lr checkpoint (no 'meta' entry; it has {sorted(arrays)[:8]})"
        )
    if raw.dtype.kind != "U" or raw.shape != ():
        raise CheckpointError(f"load: {path} has a 'meta' entry of dtype {raw.dtype}, shape {raw.shape}, not a string")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"load: {path} has unreadable metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"load: {path} is not a tinygrad_lr checkpoint (format {meta!r:.80})")
    version = meta.get("version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(
            f"load: {path} has format version {version!r}; this tinygrad_lr reads versions 1..{FORMAT_VERSION}"
        )
    return meta


def _float_array(arrays: dict[str, np.ndarray], key: str, shape: tuple[int, ...], path: str) -> np.ndarray:
    if key not in arrays:
        raise CheckpointError(f"load: {path} lacks the array {key!r}")
    a = arrays[key]
    if a.dtype not in (np.float32, np.float64):
        raise CheckpointError(f"load: {path}: {key} has dtype {a.dtype}; expected float32 or float64")
    if a.shape != shape:
        raise CheckpointError(f"load: {path}: {key} has shape {a.shape} but the model's config needs {shape}")
    return a


def _build(meta: dict[str, Any], arrays: dict[str, np.ndarray], path: str) -> Model:
    """A fresh built-in model from the file's class name and config, in its parameters' dtype."""
    name, config, names = meta.get("model"), meta.get("config"), meta.get("parameters")
    if name not in MODELS:
        raise CheckpointError(
            f"load: {path} names model {name!r}; io.load rebuilds only the built-in models {sorted(MODELS)}. "
            "For a model of your own, build it and pass it: io.load(path, model=my_model)"
        )
    if not isinstance(config, dict):
        raise CheckpointError(f"load: {path} has a model config that is not a dict: {config!r:.80}")
    first = arrays.get(f"param/{names[0]}") if isinstance(names, list) and names else None
    dtype = first.dtype if first is not None and first.dtype in (np.float32, np.float64) else np.float64
    try:
        return MODELS[name](**config, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"load: {path}: cannot build {name} from config {config} ({e})") from None


def _model(meta: dict[str, Any], arrays: dict[str, np.ndarray], path: str, model: Model | None) -> Model:
    """The file's parameters, checked, in ``model`` (or in a built-in model rebuilt from the file)."""
    if model is None:
        model = _build(meta, arrays, path)
    elif not isinstance(model, Model):
        raise TypeError(f"load: model must be a models.Model instance to load into, got {type(model).__name__}")
    name, params = type(model).__name__, model.named_parameters()
    if meta.get("parameters") != list(params):
        raise CheckpointError(f"load: {path} lists parameters {meta.get('parameters')}; {name} has {list(params)}")
    loaded = {n: _float_array(arrays, f"param/{n}", p.shape, path) for n, p in params.items()}
    if len({a.dtype for a in loaded.values()}) > 1:
        raise CheckpointError(f"load: {path} mixes parameter dtypes {sorted({str(a.dtype) for a in loaded.values()})}")
    try:
        model.load_state_dict(loaded)
    except ValueError as e:
        raise CheckpointError(f"load: {path}: {e}") from None
    return model


def _optimizer_state(meta: dict[str, Any], arrays: dict[str, np.ndarray], model: Model, path: str) -> dict | None:
    saved = meta.get("optimizer")
    if saved is None:
        return None
    shapes = [p.shape for p in model.parameters()]
    try:
        buffers = {
            key: [
                _float_array(arrays, f"optimizer/{key}/{i}", shapes[i], path) if present else None
                for i, present in enumerate(flags)
            ]
            for key, flags in saved["buffers"].items()
        }
        state = {"type": saved["type"], "hyper": saved["hyper"], "steps": saved["steps"], "buffers": buffers}
        optim.from_state_dict(model.parameters(), state)  # checks type, hyper-parameters and shapes
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"load: {path} has an unusable optimizer state ({type(e).__name__}: {e})") from None
    return state


def _rng(meta: dict[str, Any], path: str) -> np.random.Generator | None:
    state = meta.get("rng")
    if state is None:
        return None
    kind = state.get("bit_generator") if isinstance(state, dict) else None
    if kind not in BIT_GENERATORS:
        raise CheckpointError(f"load: {path} has an RNG of unsupported kind {kind!r}")
    bit_generator = getattr(np.random, kind)()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"load: {path} has an invalid {kind} state ({e})") from None
    return np.random.Generator(bit_generator)


def load_checkpoint(path: str | os.PathLike, model: Model | None = None) -> Checkpoint:
    """Read a checkpoint written by :func:`save`: model, optimizer state, RNG and ``extra``.

    Without ``model`` the built-in class named in the file is rebuilt from its config;
    with ``model`` (any Model, e.g. your own) the saved parameters are loaded into it.
    """
    path = os.fspath(path)
    arrays = _open(path)
    meta = _meta(arrays, path)
    model = _model(meta, arrays, path, model)
    extra = meta.get("extra")
    if not isinstance(extra, dict):
        raise CheckpointError(f"load: {path} has 'extra' metadata that is not a dict")
    return Checkpoint(
        model=model,
        optimizer_state=_optimizer_state(meta, arrays, model, path),
        rng=_rng(meta, path),
        extra=extra,
        format_version=meta["version"],
    )


def load(path: str | os.PathLike, model: Model | None = None) -> Model:
    """The model saved in ``path``: a rebuilt built-in one, or ``model`` with the saved parameters loaded.

    Use :func:`load_checkpoint` for optimizer and RNG state too.
    """
    return load_checkpoint(path, model).model
