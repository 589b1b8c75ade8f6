"""Name → neuron class registry (:class:`~neuroaudio.neurons.base.Neuron` subclasses).

Adding a neuron = one module with a :class:`~neuroaudio.neurons.base.Neuron` subclass, plus one line
in :data:`NEURONS` ("module:Class"); a depth-wise layer the KWS network may use also goes into
:data:`LAYER_KINDS`. Modules are imported only when their neuron is asked for, so importing this
registry imports no neuron module.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import InputError

NEURONS: dict[str, str] = {
    # name: "module path relative to neuroaudio.neurons:ClassName"
    "drf": "drf:DRF",
    "rf": "drf:RFLayer",
    "lif": "drf:LIFLayer",
    "brf": "brf:BRF",
    "alif": "alif:ALIF",
    "lif-reset": "lif:LIF",
    "rf-hz": "rf:RFNeuron",
    "srm": "srm_neuron:SRMNeuron",
}

LAYER_KINDS: tuple[str, ...] = ("drf", "rf", "lif", "brf", "alif")
"""The names whose class is a :class:`~neuroaudio.neurons.layer.SpikingLayer`: a depth-wise layer
``[B, C, T]`` built as ``cls(channels, **kw)``; the choices of the KWS network's ``model.neuron``
and ``model.spiking_neuron``."""


def neuron_names() -> list[str]:
    """Registered neuron names, in registration order."""
    return list(NEURONS)


def neuron_class(name: str) -> type:
    """The class registered under ``name``; :class:`InputError` (one line, naming the choices) if none."""
    if name not in NEURONS:
        raise InputError(f"unknown neuron '{name}': choose one of {', '.join(NEURONS)}")
    module, cls = NEURONS[name].split(":")
    return getattr(importlib.import_module(f"neuroaudio.neurons.{module}"), cls)


def make_neuron(name: str, *args: Any, **kwargs: Any) -> Any:
    """``neuron_class(name)(*args, **kwargs)``, e.g. ``make_neuron("drf", 64)`` (64 D-RF neurons)."""
    return neuron_class(name)(*args, **kwargs)


def neuron_summaries() -> dict[str, str]:
    """name → one-line description."""
    return {n: neuron_class(n).summary for n in NEURONS}
