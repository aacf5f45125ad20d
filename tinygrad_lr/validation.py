"""Argument checks shared by every entry point: the wrong kind is a TypeError, the wrong value a ValueError.

Each check takes the name to put in the message (``"fit: epochs"``), so errors read
the same wherever a number enters. ``as_array`` is where tabular input (pandas
``DataFrame``/``Series``) becomes a positional NumPy array.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def check_int(value: Any, name: str, low: int = 1) -> int:
    """An integer (not a bool, not 2.5) >= ``low``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_number(value: Any, name: str, low: float, high: float = math.inf, low_open: bool = False) -> float:
    """A finite real in [low, high) (or (low, high) with ``low_open``)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    too_low = value <= low if low_open else value < low
    if not math.isfinite(value) or too_low or value >= high:
        bound = f"{'>' if low_open else '>='} {low:g}" + ("" if high == math.inf else f" and < {high:g}")
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return value


def check_bool(value: Any, name: str) -> bool:
    """True or False, as scikit-learn's parameter validation wants: not 'no', 0.5 or None."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def as_array(data: Any) -> Any:
    """A pandas ``DataFrame``/``Series`` as its values in row order; anything else unchanged.

    Rows are then taken by position, never by index label (``y[idx]`` on a shuffled
    Series would pair rows with the wrong labels).
    """
    if not isinstance(data, np.ndarray) and hasattr(data, "to_numpy") and hasattr(data, "iloc"):
        return data.to_numpy()
    return data


def check_real_array(X: Any, name: str) -> np.ndarray:
    """``X`` as an array of real numbers (integers and bools included): not complex, object or strings."""
    X = np.asarray(as_array(X))
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    return X
