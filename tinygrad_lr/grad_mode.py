"""Grad mode: whether new operations are recorded, and whether they are checked for NaN/inf.

The switches live in a ``ContextVar``, so each thread (and each asyncio task) has
its own: one thread's ``no_grad`` never stops another thread from recording.
A ``ContextVar`` read costs about two attribute reads; a ``threading.local`` would
cost six, and every op reads the mode once.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any


class Mode:
    """One immutable combination of the switches (four exist, made once)."""

    __slots__ = ("enabled", "anomaly")

    def __init__(self, enabled: bool, anomaly: bool) -> None:
        self.enabled, self.anomaly = enabled, anomaly

    def with_(self, enabled: bool | None = None, anomaly: bool | None = None) -> Mode:
        return _MODES[self.enabled if enabled is None else enabled, self.anomaly if anomaly is None else anomaly]


_MODES = {(e, a): Mode(e, a) for e in (False, True) for a in (False, True)}
current: contextvars.ContextVar[Mode] = contextvars.ContextVar("tinygrad_lr_grad_mode", default=_MODES[True, False])


class _ModeSwitch:
    """Context manager and decorator that sets switches and restores them on exit.

    As a decorator of a generator function it covers the generator's body: the
    switch is set on every resume and restored at every ``yield``.
    """

    def __init__(self, **switches: bool) -> None:
        self.switches = switches
        self.tokens: list[contextvars.Token] = []

    def __enter__(self) -> None:
        self.tokens.append(current.set(current.get().with_(**self.switches)))

    def __exit__(self, *exc: object) -> None:
        current.reset(self.tokens.pop())

    def _fresh(self) -> _ModeSwitch:
        return _ModeSwitch(**self.switches)

    def __call__(self, fn: Callable) -> Callable:
        if inspect.isgeneratorfunction(fn):
            return self._wrap_generator(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return fn(*args, **kwargs)

        return wrapper

    def _wrap_generator(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            gen = fn(*args, **kwargs)
            try:
                with self._fresh():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self._fresh():
                            gen.close()
                        raise
                    except BaseException as e:
                        with self._fresh():
                            response = gen.throw(e)
                    else:
                        with self._fresh():
                            response = gen.send(request)
            except StopIteration as stop:
                return stop.value

        return wrapper


class no_grad(_ModeSwitch):
    """Record nothing inside the block or decorated function (inference, parameter updates)."""

    def __init__(self) -> None:
        super().__init__(enabled=False)


class enable_grad(_ModeSwitch):
    """Record again inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(enabled=True)


class set_grad_enabled(_ModeSwitch):
    """Record (``True``) or not (``False``) inside the block."""

    def __init__(self, mode: bool) -> None:
        super().__init__(enabled=bool(mode))


class detect_anomaly(_ModeSwitch):
    """Check every forward value and gradient for NaN/inf; name the op and where it was made.

    Costs a full scan of every array, so it is for debugging, not training runs.
    """

    def __init__(self) -> None:
        super().__init__(anomaly=True)


def is_grad_enabled() -> bool:
    return current.get().enabled


def is_anomaly_enabled() -> bool:
    return current.get().anomaly
