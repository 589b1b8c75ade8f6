"""Depth-wise spiking layers ``[B, C, T]`` (the KWS network's neurons) and their factory.

A :class:`SpikingLayer` is a :class:`~neuroaudio.neurons.base.Neuron` of ``channels`` neurons,
neuron c driven by input channel c, time last (as ``Conv1d``/``BatchNorm1d`` around it). It runs
blocks natively (``stream``); ``step`` is a block of one sample. :func:`make_spiking_layer` builds
one by its registry name (:data:`~neuroaudio.neurons.registry.LAYER_KINDS`: drf, rf, lif, brf, alif).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch

from ..errors import InputError
from .base import Neuron
from .registry import LAYER_KINDS, make_neuron

"""The layer names :func:`make_spiking_layer` accepts (the KWS config's ``model.neuron`` choices)."""


class SpikingLayer(Neuron):
    """A layer of ``channels`` spiking neurons: ``forward(x [B, C, L]) -> spikes [B, C, L]`` (0/1, float).

    Streaming: ``state = init_state(batch)``; ``spikes, state = stream(block, state)`` on
    consecutive blocks gives the same spikes as ``forward`` on their concatenation.
    """

    channels: int
    time_dim = -1
    neuron_ndim = 1

    @abstractmethod
    def stream(self, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """A block ``x [B, C, T]`` from ``state`` -> (spikes ``[B, C, T]``, state after it)."""

    def step(self, x_t: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """One time step: ``x_t [B, C]`` -> (spikes ``[B, C]``, state)."""
        s, state = self.stream(x_t.unsqueeze(-1), state)
        return s[..., 0], state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes ``[B, C, L]`` of input ``x [B, C, L]`` from rest."""
        return self.stream(x, self.init_state(x.shape[:-2], x.device, x.dtype))[0]


class RecurrentLayer(SpikingLayer):
    """A :class:`SpikingLayer` whose spike feeds back into its dynamics (BRF, ALIF): a loop over time.

    Subclasses implement :meth:`run`, the loop over one block; ``stream`` and ``trace`` use it.
    """

    @abstractmethod
    def run(self, x: torch.Tensor, state: Any, keep_membrane: bool
            ) -> tuple[torch.Tensor, torch.Tensor | None, Any]:
        """A block ``x [B, C, T]`` from ``state`` -> (spikes, membrane ``[B, C, T]`` or None, state)."""

    def stream(self, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """A block ``x [B, C, T]`` from ``state`` -> (spikes ``[B, C, T]``, state after it)."""
        s, _, state = self.run(x, state, False)
        return s, state

    def trace(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Spikes and membrane, both ``[B, C, L]``, from rest."""
        s, mem, _ = self.run(x, self.init_state(x.shape[:-2], x.device, x.dtype), True)
        assert mem is not None
        return s, mem


def make_spiking_layer(kind: str, channels: int, **kwargs: Any) -> SpikingLayer:
    """Build a spiking layer by name: ``drf``, ``rf``, ``lif`` (parallel), ``brf``, ``alif`` (sequential).

    ``kwargs`` go to the layer's constructor (e.g. ``branches``, ``tau_range`` for D-RF).
    :class:`InputError` for a name that is not a layer.
    """
    if kind not in LAYER_KINDS:
        raise InputError(f"unknown neuron kind '{kind}': use one of {', '.join(LAYER_KINDS)}")
    return make_neuron(kind, channels, **kwargs)
