"""Checkpoints: a model (and optionally optimizer and RNG state) in one ``.npz`` file.

Safe by construction: the file holds only numeric arrays and one JSON string,
it is read by ``npzfile.NpzReader`` (no pickle; sizes checked against the file
before anything is allocated), and the model class comes from a fixed list.
Loading a checkpoint never executes code, whatever the file contains, and any
defect raises ``CheckpointError``. Saving goes through ``atomic.atomic_write``:
an interrupted save leaves the old file intact.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import models, optim
from .atomic import atomic_write
from .models import Model
from .npzfile import NpzError, NpzReader

FORMAT = "tinygrad_lr checkpoint"
FORMAT_VERSION = 1
MODELS: dict[str, type[Model]] = {
    cls.__name__: cls for cls in (models.LogisticRegression, models.SoftmaxRegression, models.MLP)
}
# Bit generators whose state JSON can hold (integers; SFC64's array is stored as a list).
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "SFC64")
META_MAX_BYTES = 1 << 24  # the metadata of a real checkpoint is a few kilobytes; extra has room to spare
MAX_STEPS = 2**63  # an optimizer step count is a non-negative int64


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
        named = self.model.named_parameters()
        names = self.optimizer_state.get("parameters", list(named))  # frozen parameters are left out
        return optim.from_state_dict([named[n] for n in names], self.optimizer_state)


# ---- saving ------------------------------------------------------------------------------


def _plain(state: Any) -> Any:
    """An RNG state with its arrays (SFC64 has one) as lists: JSON-safe, and comparable with ``==``."""
    if isinstance(state, dict):
        return {k: _plain(v) for k, v in state.items()}
    return state.tolist() if isinstance(state, np.ndarray) else state


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"save: rng must be a np.random.Generator, got {type(rng).__name__}")
    state = rng.bit_generator.state
    if state["bit_generator"] not in BIT_GENERATORS:
        raise ValueError(f"save: cannot store a {state['bit_generator']} generator; use one of {BIT_GENERATORS}")
    return _plain(state)


def _optimizer_meta(optimizer: optim.Optimizer, model: Model) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The optimizer's state as metadata (its parameters by name, in its order) and its buffers as arrays."""
    names = {id(p): name for name, p in model.named_parameters().items()}
    if any(id(p) not in names for p in optimizer.params):
        raise ValueError("save: the optimizer holds a parameter that is not one of the model's")
    frozen = [names[id(p)] for p in optimizer.params if not p.requires_grad]
    if frozen:  # load would refuse to rebuild such an optimizer: refuse to write it
        raise ValueError(f"save: the optimizer holds {frozen}, frozen since (requires_grad=False)")
    state = optimizer.state_dict()
    meta = {
        "type": state["type"],
        "hyper": state["hyper"],
        "steps": state["steps"],
        "parameters": [names[id(p)] for p in optimizer.params],
        "buffers": {k: [b is not None for b in bufs] for k, bufs in state["buffers"].items()},
    }
    arrays = {
        f"optimizer/{key}/{i}": b for key, bufs in state["buffers"].items() for i, b in enumerate(bufs) if b is not None
    }
    return meta, arrays


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
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"save: extra must be a dict, got {type(extra).__name__}")
    config = model.config()
    try:
        json.dumps(config)
    except TypeError as e:
        raise TypeError(f"save: {type(model).__name__}.config() must be JSON-serialisable ({e})") from None
    state, named = model.state_dict(), model.named_parameters()
    arrays = {f"param/{name}": value for name, value in state.items()}
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model": type(model).__name__,  # a name only: load rebuilds from MODELS, never imports it
        "config": config,
        "parameters": list(state),
        "frozen": [name for name, p in named.items() if not p.requires_grad],
        "optimizer": None,
        "rng": None if rng is None else _rng_state(rng),
        "extra": extra or {},
    }
    if optimizer is not None:
        meta["optimizer"], buffers = _optimizer_meta(optimizer, model)
        arrays.update(buffers)
    try:
        arrays["meta"] = np.array(json.dumps(meta))
    except TypeError as e:
        raise TypeError(f"save: extra must be JSON-serialisable ({e})") from None
    if arrays["meta"].nbytes > META_MAX_BYTES - 1024:  # what load would refuse (1 KB for the .npy header)
        raise ValueError(
            f"save: the metadata takes {arrays['meta'].nbytes} bytes (4 per character), "
            f"more than load reads ({META_MAX_BYTES}); make extra smaller"
        )
    with atomic_write(path, "save") as f:
        np.savez(f, allow_pickle=False, **arrays)


# ---- loading -----------------------------------------------------------------------------
#
# Nothing is built from the file before it has been checked: the metadata is read
# first, the schema it implies (member names, shapes) is compared with the zip
# directory and the .npy headers, and only then are arrays read and the model made.


def _fail(path: str, problem: str) -> CheckpointError:
    return CheckpointError(f"load: {path}: {problem}")


def _meta(reader: NpzReader, path: str) -> dict[str, Any]:
    if "meta" not in reader.members:
        raise CheckpointError(
            f"load: {path} is an .npz but not a tinygrad_lr checkpoint "
            f"(no 'meta' entry; it has {sorted(reader.members)[:8]})"
        )
    if reader.members["meta"].file_size > META_MAX_BYTES:
        raise _fail(path, f"its metadata declares {reader.members['meta'].file_size} bytes (at most {META_MAX_BYTES})")
    shape, dtype = reader.header("meta")
    if dtype.kind != "U" or shape != ():
        raise CheckpointError(f"load: {path} has a 'meta' entry of dtype {dtype}, shape {shape}, not a string")
    try:
        meta = json.loads(str(reader.read("meta")))
    except (ValueError, RecursionError) as e:  # JSONDecodeError, 4300-digit integers, deep nesting
        raise CheckpointError(f"load: {path} has unreadable metadata ({type(e).__name__}: {e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"load: {path} is not a tinygrad_lr checkpoint (format {meta!r:.80})")
    version = meta.get("version")
    if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(
            f"load: {path} has format version {version!r:.40}; this tinygrad_lr reads versions 1..{FORMAT_VERSION}"
        )
    return meta


def _sizes(config: dict[str, Any], key: str, path: str) -> list[int]:
    """``config[key]``: an int >= 1, or for ``sizes`` a list of them (what the shapes are computed from)."""
    value = config[key]
    values = value if key == "sizes" and isinstance(value, list) else [value]
    if not values or not all(type(v) is int and v >= 1 for v in values):
        raise _fail(path, f"the model's {key} must be integers >= 1, got {value!r:.80}")
    return values


def _param_shapes(meta: dict[str, Any], path: str) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape, from the model name and config alone (nothing is allocated)."""
    name, config = meta.get("model"), meta.get("config")
    if not isinstance(name, str) or name not in MODELS:
        raise CheckpointError(
            f"load: {path} names model {name!r:.80}; io.load rebuilds only the built-in models {sorted(MODELS)}. "
            "For a model of your own, build it and pass it: io.load(path, model=my_model)"
        )
    if not isinstance(config, dict):
        raise CheckpointError(f"load: {path} has a model config that is not a dict: {config!r:.80}")
    keys = {"LogisticRegression": {"n_features"}, "SoftmaxRegression": {"n_features", "n_classes"}}
    if set(config) != keys.get(name, {"sizes", "activation"}):
        raise CheckpointError(f"load: {path}: cannot build {name} from config {config!r:.200}")
    if name == "LogisticRegression":
        (n,) = _sizes(config, "n_features", path)
        return {"w": (n,), "b": ()}
    if name == "SoftmaxRegression":
        (n,), (k,) = _sizes(config, "n_features", path), _sizes(config, "n_classes", path)
        return {"W": (n, k), "b": (k,)}
    sizes = _sizes(config, "sizes", path)
    if len(sizes) < 2:
        raise _fail(path, f"the model's sizes must be at least (n_features, n_classes), got {sizes}")
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes[f"W{i}"], shapes[f"b{i}"] = (fan_in, fan_out), (fan_out,)
    return shapes


def _shapes_of(model: Model) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape of a model the caller built (``load(path, model=...)``)."""
    return {n: p.shape for n, p in model.named_parameters().items()}


def _names(value: Any, known: list[str], what: str, path: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v in known for v in value):
        raise _fail(path, f"{what} must be a list of the model's parameter names {known}, got {value!r:.80}")
    if len(set(value)) != len(value):
        raise _fail(path, f"{what} names a parameter twice: {value}")
    return value


def _schema(meta: dict[str, Any], shapes: dict[str, tuple[int, ...]], path: str) -> dict[str, tuple[int, ...]]:
    """Every array member the metadata says the file holds, with its shape."""
    if meta.get("parameters") != list(shapes):
        raise CheckpointError(
            f"load: {path} lists parameters {meta.get('parameters')!r:.80}; {meta['model']} has {list(shapes)}"
        )
    members = {f"param/{n}": shape for n, shape in shapes.items()}
    saved = meta.get("optimizer")
    if saved is None:
        return members
    if not isinstance(saved, dict) or not isinstance(saved.get("buffers"), dict):
        raise _fail(path, f"the optimizer state is not a dict with buffers: {saved!r:.80}")
    names = _names(saved.get("parameters", list(shapes)), list(shapes), "the optimizer's parameters", path)
    for key, flags in saved["buffers"].items():
        if not (key.isidentifier() and isinstance(flags, list) and [type(f) for f in flags] == [bool] * len(names)):
            raise _fail(path, f"the optimizer buffer {key!r:.40} needs one true/false per parameter ({len(names)})")
        members.update({f"optimizer/{key}/{i}": shapes[n] for i, (n, flag) in enumerate(zip(names, flags)) if flag})
    return members


def _arrays(reader: NpzReader, schema: dict[str, tuple[int, ...]], path: str) -> dict[str, np.ndarray]:
    """The members of the schema, each checked from its header before its data is read; others are refused."""
    unknown = sorted(set(reader.members) - set(schema) - {"meta"})
    if unknown:
        raise _fail(path, f"holds {unknown[0]!r}, which is not part of this checkpoint; refusing to read it")
    for key, shape in schema.items():
        if key not in reader.members:
            raise CheckpointError(f"load: {path} lacks the array {key!r}")
        stored_shape, dtype = reader.header(key)
        if dtype not in (np.float32, np.float64):
            raise _fail(path, f"{key} has dtype {dtype}; expected float32 or float64")
        if stored_shape != shape:
            raise _fail(path, f"{key} has shape {stored_shape} but the model's config needs {shape}")
    return {key: reader.read(key) for key in schema}


def _build(meta: dict[str, Any], dtype: np.dtype, path: str) -> Model:
    """A fresh built-in model from the file's class name and config (checked by ``_param_shapes``)."""
    name, config = meta["model"], meta["config"]
    try:
        return MODELS[name](**config, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"load: {path}: cannot build {name} from config {config} ({e})") from None


def _model(meta: dict[str, Any], arrays: dict[str, np.ndarray], path: str, model: Model | None) -> Model:
    """The file's parameters in ``model``, or in a built-in model built only now that they fit its config."""
    params = {key.removeprefix("param/"): a for key, a in arrays.items() if key.startswith("param/")}
    dtypes = sorted({str(a.dtype) for a in params.values()})
    if len(dtypes) > 1:
        raise CheckpointError(f"load: {path} mixes parameter dtypes {dtypes}")
    frozen = _names(meta.get("frozen", []), list(params), "'frozen'", path)
    model = _build(meta, np.dtype(dtypes[0]), path) if model is None else model
    try:
        model.load_state_dict(params)
    except ValueError as e:
        raise CheckpointError(f"load: {path}: {e}") from None
    for n, p in model.named_parameters().items():
        p.requires_grad_(n not in frozen)
    return model


def _optimizer_state(meta: dict[str, Any], arrays: dict[str, np.ndarray], model: Model, path: str) -> dict | None:
    saved = meta.get("optimizer")
    if saved is None:
        return None
    steps = saved.get("steps")
    if type(steps) is not int or not 0 <= steps < MAX_STEPS:
        raise _fail(path, f"the optimizer's step count must be an integer in [0, 2**63), got {steps!r:.40}")
    named = model.named_parameters()
    names = saved.get("parameters", list(named))
    buffers = {
        key: [arrays.get(f"optimizer/{key}/{i}") if flag else None for i, flag in enumerate(flags)]
        for key, flags in saved["buffers"].items()
    }
    state = {"type": saved.get("type"), "hyper": saved.get("hyper"), "steps": steps, "buffers": buffers}
    try:
        optim.from_state_dict([named[n] for n in names], state)  # checks type, hyper-parameters and shapes
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as e:
        raise CheckpointError(f"load: {path} has an unusable optimizer state ({type(e).__name__}: {e})") from None
    return {**state, "parameters": names}


def _rng(meta: dict[str, Any], path: str) -> np.random.Generator | None:
    state = meta.get("rng")
    if state is None:
        return None
    kind = state.get("bit_generator") if isinstance(state, dict) else None
    if not isinstance(kind, str) or kind not in BIT_GENERATORS:
        raise CheckpointError(f"load: {path} has an RNG of unsupported kind {kind!r:.80}")
    bit_generator = getattr(np.random, kind)()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise CheckpointError(f"load: {path} has an invalid {kind} state ({type(e).__name__}: {e})") from None
    if _plain(bit_generator.state) != state:  # NumPy may take a malformed state without complaint and change it
        raise CheckpointError(f"load: {path} has an invalid {kind} state (it does not survive being set)")
    return np.random.Generator(bit_generator)


def load_checkpoint(path: str | os.PathLike, model: Model | None = None) -> Checkpoint:
    """Read a checkpoint written by :func:`save`: model, optimizer state, RNG and ``extra``.

    Without ``model`` the built-in class named in the file is rebuilt from its config;
    with ``model`` (any Model, e.g. your own) the saved parameters are loaded into it.
    Any defect of the file, however the file was made, raises :class:`CheckpointError`.
    """
    path = os.fspath(path)
    if model is not None and not isinstance(model, Model):
        raise TypeError(f"load: model must be a models.Model instance to load into, got {type(model).__name__}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load: no such checkpoint file: {path}")
    try:
        with NpzReader(path) as reader:
            meta = _meta(reader, path)
            shapes = _param_shapes(meta, path) if model is None else _shapes_of(model)
            arrays = _arrays(reader, _schema(meta, shapes, path), path)
    except NpzError as e:
        raise CheckpointError(f"load: {path} {e}") from None
    extra = meta.get("extra")
    if not isinstance(extra, dict):
        raise CheckpointError(f"load: {path} has 'extra' metadata that is not a dict")
    model = _model(meta, arrays, path, model)
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
