"""Guards: the Python values a compiled step reads by name, checked before every replay.

A replay runs none of the step's Python, so what the step read outside its arguments
when it was recorded is baked into the tape: a number (``scale``, ``self.temperature``)
became a constant, an object (``model``, ``opt``, a weight tensor) the one the tape
works on. If the program later rebinds such a name, a replay would silently compute
with the old value. ``watch`` reads the step's bytecode for what it loads by name: its
closure variables, the globals it names, and the chains of attributes and string-keyed
dict items it reads on those and on ``self`` (``self.cfg.t``, ``state["scale"]``, up
to three steps). ``changed`` names the first one that no longer holds its value
(numbers, strings, None: an equal value of the same type; anything else: the same
object), so the step records again. Modules, classes and functions are code, not
state: their attributes are not watched, nor is anything read inside the functions
the step calls; docs/compiler.md says to pass such values as arguments.
"""

from __future__ import annotations

import dis
import functools
import inspect
import types
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .tensor import Tensor

DEPTH = 3  # attributes and items followed below a closure variable, a global or ``self``
_VALUES = (int, float, complex, bool, str, bytes, type(None), np.generic)  # compared by value
_CODE = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType, types.MethodType)
_MISSING = object()


class Guard(NamedTuple):
    """One name the step reads: how to read it now, and what it held when the step was recorded."""

    label: str  # as the step's code spells it: ``scale``, ``self.model``, ``state['lr']``
    read: Callable[[], Any]
    value: Any


def _same(now: Any, then: Any) -> bool:
    if now is then:
        return True
    if not isinstance(then, _VALUES) or type(now) is not type(then):
        return False
    return bool(now == then or (now != now and then != then))  # NaN holds NaN


def changed(guards: list[Guard]) -> str | None:
    """The label of the first guard whose name now holds something else (None: all hold)."""
    for label, read, value in guards:
        if not _same(read(), value):
            return label
    return None


def differ(first: list[Guard], second: list[Guard]) -> str | None:
    """The label of a name two recordings saw with different values, or saw only once (None: they agree)."""
    then, now = {g.label: g.value for g in first}, {g.label: g.value for g in second}
    for label in [*now, *then]:
        if label not in then or label not in now or not _same(now[label], then[label]):
            return label
    return None


def _codes(code: types.CodeType) -> list[types.CodeType]:
    """``code`` and the code of the functions, lambdas and comprehensions defined inside it."""
    found, todo = [], [code]
    while todo:
        c = todo.pop()
        found.append(c)
        todo += [k for k in c.co_consts if isinstance(k, types.CodeType)]
    return found


def _paths(code: types.CodeType) -> set[tuple]:
    """What the bytecode reads by name: ``(root, step, ...)`` for ``scale``, ``self.config.scale``,
    ``state["lr"]``; a root is ``("global", name)`` or ``("local", name)``, a step ``("attr", name)``
    or ``("item", key)`` (a string key). A path ends at any other instruction."""
    paths: set[tuple] = set()
    path: tuple | None = None
    key: str | None = None
    for ins in dis.get_instructions(code):
        op, arg = ins.opname, ins.argval
        if path is not None and key is None and op in ("LOAD_ATTR", "LOAD_METHOD"):
            path = (*path, ("attr", arg))
        elif path is not None and key is None and op == "LOAD_CONST" and type(arg) is str:
            key = arg
            continue
        elif path is not None and key is not None and op == "BINARY_SUBSCR":
            path = (*path, ("item", key))
        elif op in ("LOAD_GLOBAL", "LOAD_NAME"):
            path = (("global", arg),)
        elif op in ("LOAD_DEREF", "LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_LOAD_FAST"):
            path = (("local", arg[-1] if type(arg) is tuple else arg),)  # the last one loaded is on top
        else:
            path = None
        key = None
        if path is not None:
            paths.add(path)
    return paths


def _function_and_self(step: Callable) -> tuple[Any, Any]:
    """The plain function behind ``step`` and the object it is bound to (``self``; None if unbound)."""
    while isinstance(step, functools.partial):
        step = step.func
    if inspect.ismethod(step):
        return step.__func__, step.__self__
    call = vars(type(step)).get("__call__")  # a callable object: its method, bound to it
    if not inspect.isfunction(step) and inspect.isfunction(call):
        return call, step
    return step, None


def _cell_reader(cell: types.CellType) -> Callable[[], Any]:
    def read() -> Any:
        try:
            return cell.cell_contents
        except ValueError:  # the variable was deleted
            return _MISSING

    return read


def _item_reader(mapping: dict, key: str) -> Callable[[], Any]:
    return lambda: mapping.get(key, _MISSING)


def _root(fn: Any, bound: Any, kind: str, name: str) -> tuple[Guard | None, Any]:
    """A path's first name: the guard on it (None for ``self``, which is bound) and its value."""
    code = fn.__code__
    if kind == "global":
        namespace = fn.__globals__
        if name not in namespace:
            return None, _MISSING  # a builtin
        return Guard(name, _item_reader(namespace, name), namespace[name]), None
    if bound is not None and code.co_argcount and name == code.co_varnames[0]:
        return None, bound
    if name in code.co_freevars:
        read = _cell_reader(fn.__closure__[code.co_freevars.index(name)])
        return Guard(name, read, read()), None
    return None, _MISSING  # a local variable of the step


def watch(step: Callable) -> list[Guard]:
    """Guards on every value ``step``'s code reads by name, as they are now (taken before each recording)."""
    fn, bound = _function_and_self(step)
    if getattr(fn, "__code__", None) is None:
        return []
    guards: dict[str, Guard] = {}
    for path in sorted({p for code in _codes(fn.__code__) for p in _paths(code)}, key=lambda p: (len(p), repr(p))):
        (kind, name), steps = path[0], path[1 : 1 + DEPTH]
        guard, value = _root(fn, bound, kind, name)
        label = name
        if guard is not None:
            guards.setdefault(label, guard)
            value = guard.value
        for how, key in steps:
            if value is _MISSING or isinstance(value, _VALUES + _CODE + (Tensor, np.ndarray)):
                break
            mapping = value if how == "item" else getattr(value, "__dict__", None)
            if type(mapping) is not dict or key not in mapping:
                break
            label = f"{label}[{key!r}]" if how == "item" else f"{label}.{key}"
            value = mapping[key]
            guards.setdefault(label, Guard(label, _item_reader(mapping, key), value))
    return list(guards.values())
