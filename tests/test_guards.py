"""guards: what a compiled step reads by name, and the generated check proven equal to the plain one."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_lr import Tensor, guards

SCALE = 2.0


class Config:
    pass


class Layer:
    __slots__ = ("W",)

    def __init__(self, w):
        self.W = w


class Holder:
    def __init__(self):
        self.config = Config()
        self.config.temperature = 1.5
        self.state = {"shift": 0.5, "odd key!": 3}
        self.layers = [Layer(Tensor(np.ones(2))), Layer(Tensor(np.zeros(2)))]
        setattr(self, "not an identifier", 7)

    def step(self, x):
        odd = getattr(self, "not an identifier")
        total = self.config.temperature * SCALE + self.state["shift"] + odd + self.state["odd key!"]
        return sum((layer.W * x).sum() for layer in self.layers) * total


MUTATIONS = {
    "same temperature": lambda h: setattr(h.config, "temperature", 1.5),
    "new temperature": lambda h: setattr(h.config, "temperature", 3.0),
    "NaN temperature": lambda h: setattr(h.config, "temperature", math.nan),
    "int temperature": lambda h: setattr(h.config, "temperature", 1),
    "new config": lambda h: setattr(h, "config", Config()),
    "same shift": lambda h: h.state.update(shift=0.5),
    "dropped shift": lambda h: h.state.pop("shift", None),
    "new weight": lambda h: setattr(h.layers[0], "W", Tensor(np.ones(2))),
    "new layer list": lambda h: setattr(h, "layers", list(h.layers)),
    "shorter layer list": lambda h: h.layers.pop() if len(h.layers) > 1 else None,
    "odd attribute": lambda h: setattr(h, "not an identifier", 8),
    "odd key": lambda h: h.state.update({"odd key!": 4}),
    "global scale": lambda h: globals().update(SCALE=SCALE + 1.0),
}


def guarded(holder: Holder) -> list[guards.Guard]:
    named = guards.watch(holder.step)
    return named + guards.reaching(holder.step, [layer.W for layer in holder.layers], named)


def test_watch_names_what_the_step_reads():
    labels = {g.label for g in guarded(Holder())}
    assert {"SCALE", "self.config", "self.config.temperature", "self.state", "self.state['shift']"} <= labels
    assert {"self.layers", "self.layers[0].W", "self.layers[1].W"} <= labels


@settings(max_examples=60)
@given(st.lists(st.sampled_from(sorted(MUTATIONS)), max_size=4))
def test_the_generated_check_agrees_with_the_plain_one(mutations):
    global SCALE
    scale, holder = SCALE, Holder()
    try:
        watched = guarded(holder)
        holds = guards.holds(watched)
        assert holds() and guards.changed(watched) is None
        for name in mutations:
            MUTATIONS[name](holder)
            assert holds() == (guards.changed(watched) is None), name
    finally:
        SCALE = scale


def test_a_nan_still_holds_a_nan():
    holder = Holder()
    holder.config.temperature = math.nan
    watched = guarded(holder)
    holder.config.temperature = float("nan")  # another NaN object
    assert guards.changed(watched) is None and guards.holds(watched)()
