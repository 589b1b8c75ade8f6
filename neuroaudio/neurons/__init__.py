"""Spiking neurons: surrogate gradients, LIF, resonate-and-fire (RF, BRF, D-RF), SRM/MPD-AL.

Import the submodule you need (``neuroaudio.neurons.surrogate``, ``.lif``, ``.rf`` ...); this
package imports nothing heavy by itself.
"""
