"""Medians of repeated wall-clock samples, taken round-robin across systems.

Each sample times ``number`` back-to-back calls with ``time.perf_counter`` and
divides, so microsecond-sized steps are not drowned by the timer. Systems are
sampled in turn (A B C A B C ...) rather than one after the other, so a noisy
neighbour or a frequency change slows all of them alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Timing:
    samples: list[float]  # seconds per call, one per repeat

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """(max - min) / median: how noisy this measurement was."""
        return (max(self.samples) - min(self.samples)) / self.median


def calls_per_sample(fn: Callable[[], object], target: float) -> int:
    """How many calls of ``fn`` take about ``target`` seconds (at least one); also warms it up."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= target / 4 or number >= 1 << 20:
            return max(1, round(number * target / max(elapsed, 1e-9)))
        number *= 4


def side_by_side(
    fns: dict[str, Callable[[], object]],
    repeats: int,
    target: float = 0.0,
    warmup: int = 1,
) -> dict[str, Timing]:
    """Median-ready samples for every function, interleaved.

    With ``target`` > 0 each sample runs as many calls as take about ``target``
    seconds (tiny steps); with 0 each sample is one call (an epoch).
    """
    numbers = {}
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
        numbers[name] = calls_per_sample(fn, target) if target > 0 else 1
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            number = numbers[name]
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - start) / number)
    return {name: Timing(s) for name, s in samples.items()}


def side_by_side_once(
    setups: dict[str, Callable[[], Callable[[], object]]], repeats: int
) -> tuple[dict[str, Timing], dict[str, object]]:
    """Time calls that can run only once per setup (a backward pass), interleaved; and their last results.

    ``setup()`` does the untimed preparation (recording a forward pass) and
    returns the call to time.
    """
    samples: dict[str, list[float]] = {name: [] for name in setups}
    results: dict[str, object] = {}
    for _ in range(repeats):
        for name, setup in setups.items():
            fn = setup()
            start = time.perf_counter()
            results[name] = fn()
            samples[name].append(time.perf_counter() - start)
            del fn
    return {name: Timing(s) for name, s in samples.items()}, results
