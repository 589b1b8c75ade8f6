"""Spiking neurons: surrogate gradients, LIF, resonate-and-fire (RF, BRF, D-RF), SRM/MPD-AL.

Every neuron implements one contract, :class:`neuroaudio.neurons.base.Neuron` (``init_state``,
``step``, ``membrane``; ``stream``, ``trace`` and ``forward`` over a sequence), and is built by
name through :mod:`neuroaudio.neurons.registry` (``make_neuron``, ``neuron_names``). Depth-wise
layers ``[B, C, T]`` (the KWS network's) are :class:`neuroaudio.neurons.layer.SpikingLayer`.
:mod:`.srm` is MPD-AL's event-driven SRM (numpy only); :mod:`.srm_neuron` puts it on a time grid.

Import the submodule you need; this package imports nothing heavy by itself.
"""
