"""The one contract every spiking neuron implements: :class:`Neuron`.

A neuron module holds the parameters of a population of neurons and runs it over time three ways,
which give the same spikes (tests/test_neurons_contract.py checks it for every registered neuron):

- ``forward(x)``: a whole sequence from rest (the training path; parallel over time where the
  dynamics allow, :attr:`Neuron.parallel`);
- ``state = init_state(batch_shape)``, then ``spikes_t, state = step(x_t, state)`` per time step;
- ``spikes, state = stream(block, state)`` on consecutive blocks of any length.

``trace(x)`` is ``forward`` that also returns the membrane potential, and ``membrane(state)`` the
potential a state holds after a step: the two agree too.

Shapes. Time is the axis :attr:`Neuron.time_dim` of ``x`` (``-1``, time last as for ``Conv1d``,
unless the neuron says otherwise; the MAA network's LIF runs ``[T, B, ...]``). ``x_t`` is ``x``
without that axis; its last :attr:`Neuron.neuron_ndim` axes index the neurons (1: ``[.., C]`` for
a layer of C neurons with their own parameters; 0: every element is a neuron sharing scalar
parameters) and the axes before them are the batch, ``batch_shape``. Spikes are 0/1 in ``x``'s
dtype and shape. Units: the input is a current in units of the neuron's threshold scale (its
docstring says which), one time step per sample of ``x`` (a neuron's ``dt`` or ``fs`` converts
its time constants, where it has one).

To add a neuron: subclass :class:`Neuron` (or :class:`~neuroaudio.neurons.layer.SpikingLayer`
for a depth-wise layer ``[B, C, T]``), implement ``init_state``, ``step`` and ``membrane``
(and ``forward``/``trace`` when a faster path exists), and register it in
:data:`neuroaudio.neurons.registry.NEURONS` (CONTRIBUTING.md, "Add a neuron").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from torch import nn


def as_shape(batch_shape: int | tuple[int, ...] | torch.Size) -> tuple[int, ...]:
    """``batch_shape`` as a tuple (an int ``B`` is ``(B,)``)."""
    return (int(batch_shape),) if isinstance(batch_shape, int) else tuple(int(b) for b in batch_shape)


class Neuron(nn.Module, ABC):
    """A population of spiking neurons (see the module docstring for the contract).

    Subclasses implement :meth:`init_state`, :meth:`step` and :meth:`membrane`; the base runs
    ``stream``, ``trace`` and ``forward`` by looping ``step`` over the time axis, and a subclass
    replaces them by a parallel or vectorised path where its dynamics allow one.
    """

    summary: ClassVar[str] = ""
    """One line for the neuron listing (`neuroaudio.neurons.registry.neuron_summaries`)."""
    time_dim: int = -1
    """The time axis of ``x`` in ``forward``/``trace``/``stream``."""
    neuron_ndim: int = 1
    """How many trailing axes of ``x_t`` index neurons (the rest are the batch)."""
    parallel: bool = False
    """True when ``forward`` runs all time steps at once (no loop over time)."""

    @abstractmethod
    def init_state(self, batch_shape: int | tuple[int, ...], device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float32) -> Any:
        """The resting state for inputs ``x_t [*batch_shape, *neurons]`` (``forward`` starts from it)."""

    @abstractmethod
    def step(self, x_t: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """One time step: input ``x_t`` (``x`` without its time axis) -> (spikes like ``x_t``, new state)."""

    @abstractmethod
    def membrane(self, state: Any) -> torch.Tensor:
        """The membrane potential held by ``state`` (after the step that produced it), shaped like ``x_t``."""

    def batch_shape(self, x: torch.Tensor, has_time: bool = True) -> tuple[int, ...]:
        """The batch axes of ``x`` (a sequence, or one step ``x_t`` with ``has_time=False``)."""
        shape = list(x.shape)
        if has_time:
            del shape[self.time_dim]
        return tuple(shape[:len(shape) - self.neuron_ndim])

    def stream(self, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """A block ``x`` (time on :attr:`time_dim`) from ``state`` -> (spikes like ``x``, state after it).

        Consecutive blocks give the same spikes as ``forward`` on their concatenation.
        """
        out = []
        for x_t in x.unbind(self.time_dim):
            s, state = self.step(x_t, state)
            out.append(s)
        return (torch.stack(out, self.time_dim) if out else torch.zeros_like(x)), state

    def trace(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Spikes and membrane potential over a whole sequence from rest, both shaped like ``x``."""
        state = self.init_state(self.batch_shape(x), x.device, x.dtype)
        spikes, mem = [], []
        for x_t in x.unbind(self.time_dim):
            s, state = self.step(x_t, state)
            spikes.append(s)
            mem.append(self.membrane(state))
        return torch.stack(spikes, self.time_dim), torch.stack(mem, self.time_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes of a whole sequence ``x`` from rest, shaped like ``x``."""
        return self.stream(x, self.init_state(self.batch_shape(x), x.device, x.dtype))[0]

    def dense_ops_per_step(self) -> float:
        """Multiply-accumulates per neuron per time step of the neuron's own dynamics (for SOP energy)."""
        return 0.0
