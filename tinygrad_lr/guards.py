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
import keyword
import types
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .tensor import Tensor

DEPTH = 3  # attributes and items followed below a closure variable, a global or ``self``
REACH = 4  # how deep ``reaching`` looks for the tensors a tape reads (model.layers[1].W: 3)
MAX_ITEMS = 1000  # longer lists and dicts are data, not where parameters live
MAX_VISITS = 5000
_VALUES = (int, float, complex, bool, str, bytes, type(None), np.generic)  # compared by value
_CODE = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


class Guard(NamedTuple):
    """One value the step reads: where to start, the steps that lead from there to it, and what it
    was when the step was recorded (read again by following ``steps`` from ``start`` afresh)."""

    label: str  # as the step's code spells it: ``scale``, ``self.model``, ``state['lr']``
    start: Any  # the step's globals, a closure cell, or the object it is bound to
    steps: tuple[tuple[str, Any], ...]  # ("attr", name) / ("item", key)
    value: Any


def _same(now: Any, then: Any) -> bool:
    if now is then:
        return True
    if not isinstance(then, _VALUES) or type(now) is not type(then):
        return False
    return bool(now == then or (now != now and then != then))  # NaN holds NaN


def changed(guards: list[Guard]) -> str | None:
    """The label of the first guard whose value now is something else (None: all hold). The plain
    rule; replays run ``holds``, its generated sibling."""
    for label, start, steps, value in guards:
        now = start
        try:
            for how, key in steps:
                now = getattr(now, key) if how == "attr" else now[key]
        except (AttributeError, LookupError, TypeError, ValueError):  # gone (ValueError: an emptied cell)
            return label
        if now is not value and not _same(now, value):
            return label
    return None


def holds(guards: list[Guard]) -> Callable[[], bool]:
    """``changed(guards) is None`` as one generated function, without a Python loop (a replay runs
    it every call: 6 guards cost ~0.4 us instead of ~1.8). Its source is kept as ``.source``:
    ``return s0.model is v0 and s0.model.layers[0].W is v1 and _same(s1['scale'], v2)``."""
    namespace: dict[str, Any] = {"_same": _same}
    tests = []
    for i, g in enumerate(guards):
        namespace[f"s{i}"] = g.start
        expr = f"s{i}"
        for how, key in g.steps:
            if how == "item":
                expr = f"{expr}[{key!r}]"
            elif key.isidentifier() and not keyword.iskeyword(key):
                expr = f"{expr}.{key}"
            else:
                expr = f"getattr({expr}, {key!r})"
        namespace[f"v{i}"] = g.value
        tests.append(f"_same({expr}, v{i})" if isinstance(g.value, _VALUES) else f"{expr} is v{i}")
    bound = ", ".join(f"{n}={n}" for n in namespace if n != "_same")  # locals: faster than globals
    source = (
        f"def holds({bound}):\n    try:\n        return " + (" and ".join(tests) or "True") + "\n"
        "    except (AttributeError, LookupError, TypeError, ValueError):\n        return False\n"
    )
    exec(source, namespace)  # noqa: S102 (our own source, from names and keys checked above)
    check = namespace["holds"]
    check.source = source
    return check


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


@functools.cache
def _slots(cls: type) -> tuple[str, ...]:
    """The slot names of ``cls`` and its bases (``Dense`` keeps its W and b in slots)."""
    names = []
    for c in cls.__mro__:
        declared = vars(c).get("__slots__", ())
        names += [declared] if isinstance(declared, str) else list(declared)
    return tuple(sorted(set(names) - {"__dict__", "__weakref__"}))


def _inside(obj: Any) -> list[tuple[str, tuple[str, Any], Any]]:
    """What a plain object holds: ``(label suffix, step, value)`` per attribute, slot or item."""
    if isinstance(obj, _VALUES + _CODE + (Tensor, np.ndarray)):
        return []
    if isinstance(obj, list | tuple) and len(obj) <= MAX_ITEMS:
        return [(f"[{i}]", ("item", i), v) for i, v in enumerate(obj)]
    if isinstance(obj, dict) and len(obj) <= MAX_ITEMS:
        return [(f"[{k!r}]", ("item", k), v) for k, v in obj.items() if type(k) in (str, int)]
    mapping = getattr(obj, "__dict__", None)
    names = [k for k in mapping if type(k) is str] if type(mapping) is dict else []
    names += [n for n in _slots(type(obj)) if hasattr(obj, n)]
    return [(f".{n}", ("attr", n), getattr(obj, n)) for n in names]


def _root(fn: Any, bound: Any, kind: str, name: str) -> tuple[Any, tuple, Any] | None:
    """Where a path's first name is read from: ``(start, steps, value)``; None for a local or a builtin."""
    code = fn.__code__
    if kind == "global":
        return (fn.__globals__, (("item", name),), fn.__globals__[name]) if name in fn.__globals__ else None
    if bound is not None and code.co_argcount and name == code.co_varnames[0]:
        return bound, (), bound  # self: bound, so not itself guarded
    if name in code.co_freevars:
        cell = fn.__closure__[code.co_freevars.index(name)]
        try:
            return cell, (("attr", "cell_contents"),), cell.cell_contents
        except ValueError:  # not assigned yet
            return None
    return None


def watch(step: Callable) -> list[Guard]:
    """Guards on every value ``step``'s code reads by name, as they are now (taken before each recording)."""
    fn, bound = _function_and_self(step)
    if getattr(fn, "__code__", None) is None:
        return []
    guards: dict[str, Guard] = {}
    for path in sorted({p for code in _codes(fn.__code__) for p in _paths(code)}, key=lambda p: (len(p), repr(p))):
        (kind, name), later = path[0], path[1 : 1 + DEPTH]
        root = _root(fn, bound, kind, name)
        if root is None:
            continue
        start, steps, value = root
        label = name
        if steps:
            guards.setdefault(label, Guard(label, start, steps, value))
        for how, key in later:
            if isinstance(value, _VALUES + _CODE + (Tensor, np.ndarray)):
                break
            mapping = value if how == "item" else getattr(value, "__dict__", None)
            if type(mapping) is not dict or key not in mapping:
                break  # a method, a property: code, not a value the step holds
            label = f"{label}[{key!r}]" if how == "item" else f"{label}.{key}"
            steps, value = (*steps, (how, key)), mapping[key]
            guards.setdefault(label, Guard(label, start, steps, value))
    return list(guards.values())


def _ways(label: str, start: Any, steps: tuple, root: Any, wanted: dict[int, Tensor]) -> dict[str, Guard]:
    """From ``root`` (reached from ``start`` by ``steps``), the first way (breadth first, ``REACH``
    steps at most) to each wanted tensor."""
    guards: dict[str, Guard] = {}
    todo, seen, left = [(label, root, steps)], {id(root)}, set(wanted)
    for visits, (where, obj, path) in enumerate(todo):
        if visits == MAX_VISITS or not left:
            break
        if len(path) - len(steps) == REACH:
            continue
        for suffix, step, value in _inside(obj):
            if id(value) in seen:
                continue
            seen.add(id(value))
            if id(value) in left:
                left.discard(id(value))
                guards[where + suffix] = Guard(where + suffix, start, (*path, step), value)
            todo.append((where + suffix, value, (*path, step)))
    return guards


def reaching(step: Callable, tensors: list[Tensor], named: list[Guard]) -> list[Guard]:
    """A guard per way from a value the step names to a tensor the tape reads (``model.layers[1].W``,
    ``opt.params[1]``), followed afresh at each replay, so that replacing a parameter where the
    step finds it (``model.W1 = t``) records the step again. Only tensors no named value leads to
    are looked for from ``self`` and a partial's arguments; one found nowhere within ``REACH``
    steps (attributes, slots, list and dict items) gets no guard."""
    wanted = {id(t): t for t in tensors}
    found: dict[str, Guard] = {}
    for g in named:
        found.update(_ways(g.label, g.start, g.steps, g.value, wanted))
    reached = {id(g.value) for g in [*named, *found.values()]}
    rest = {i: t for i, t in wanted.items() if i not in reached}
    for label, obj in _bound_objects(step) if rest else ():
        found.update(_ways(label, obj, (), obj, rest))
    return [g for label, g in found.items() if label not in {n.label for n in named}]


def _bound_objects(step: Callable) -> list[tuple[str, Any]]:
    """What ``step`` carries besides its code: ``self``, and a ``functools.partial``'s arguments."""
    found = []
    while isinstance(step, functools.partial):
        found += [(f"partial arg {i}", a) for i, a in enumerate(step.args)]
        found += [(f"partial {k}=", v) for k, v in step.keywords.items()]
        step = step.func
    _, bound = _function_and_self(step)
    return found + ([("self", bound)] if bound is not None else [])
