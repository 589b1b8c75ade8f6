"""The SRM neuron of :mod:`.srm` (MPD-AL's) as a :class:`~neuroaudio.neurons.base.Neuron` on a time grid.

:mod:`.srm` is event-driven and numpy-only (MPD-AL imports it without torch): its input is a list of
spike *events* with exact sub-grid times and a weight matrix, and it fires by rounds over output
spikes. This module is the same neuron behind the common contract, with the same constants
(:class:`~.srm.SRMParams`: τ_m, τ_s, θ in threshold units, grid step ``dt`` in s) and the same
output at the grid points ``t_n = n·dt``::

    V[n] = V0 Σ_{k≥1} (a_m^k − a_s^k) x[n−k]  −  θ Σ_{spikes n_s < n} a_m^(n−n_s),
    a = exp(−dt/τ),  S[n] = Θ(V[n] − θ)

Where it differs from the event-driven form (and why it is kept apart from MPD-AL's path):

- The input is already on the grid: ``x[..., n]`` is the weighted count of input spikes at
  ``t_n`` (``Σ_i w_i · #spikes of afferent i at t_n``, the weights applied outside). An input
  spike between grid points is thereby moved to the next one; :func:`.srm.free_potential` keeps
  sub-grid times exact (two amplitudes per spike). For on-grid spike times the two agree
  (tests/test_neurons_contract.py).
- No surrogate gradient: the spikes carry no gradient, as MPD-AL learns from the potential at
  chosen times analytically (:mod:`neuroaudio.mpdal.rules`), not by backpropagation.
- ``forward``/``trace`` run in numpy float64 (``scipy.signal.lfilter`` and :func:`.srm.fire`, no
  loop over time) and return ``x``'s dtype and device; ``step`` is the exact grid recurrence in
  torch. Time is the last axis; every element of ``x_t`` is one neuron (``neuron_ndim = 0``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.signal import lfilter

from .base import Neuron, as_shape
from .srm import SRMParams, fire


class SRMNeuron(Neuron):
    """Current-based LIF in SRM form (MPD-AL's neuron) on a grid of ``dt`` seconds; see the module docstring.

    Args:
        tau_m: membrane time constant (s). tau_s: synaptic time constant (s), < tau_m.
        theta: threshold (potential units: a unit input peaks at 1).
        dt: grid step (s), in (0, tau_s].

    Streaming state ``(p_m, p_s, q, v)``, each ``[*batch]``: the two synaptic traces, the reset
    trace including the last spike, and the membrane V of the last step.
    """

    summary = "current-based LIF in spike-response form (MPD-AL's); time in s on a dt grid; no gradient"
    neuron_ndim = 0
    parallel = True

    def __init__(self, tau_m: float = 0.020, tau_s: float = 0.005, theta: float = 1.0, dt: float = 0.001):
        super().__init__()
        self.params = SRMParams(tau_m=tau_m, tau_s=tau_s, theta=theta, dt=dt)

    def _decays(self) -> tuple[float, float]:
        p = self.params
        return math.exp(-p.dt / p.tau_m), math.exp(-p.dt / p.tau_s)

    def trace(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Spikes and membrane V (with resets; pre-reset at a spike's own grid point), both like ``x``."""
        p = self.params
        am, as_ = self._decays()
        xn = x.detach().cpu().double().numpy()
        v_free = p.v0 * (lfilter([1.0], [1.0, -am], xn, axis=-1) - lfilter([1.0], [1.0, -as_], xn, axis=-1))
        v, spikes = fire(v_free, p.theta, p)
        s = np.zeros(v.shape).reshape(-1, v.shape[-1])       # rows in C order, as fire() lists them
        for r, idx in enumerate(spikes):
            s[r, idx] = 1.0
        return (torch.from_numpy(s.reshape(v.shape)).to(x.device, x.dtype),
                torch.from_numpy(v).to(x.device, x.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes ``[..., T]`` (0/1) of the grid input ``x [..., T]``, from rest."""
        return self.trace(x)[0]

    def init_state(self, batch_shape: int | tuple[int, ...], device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, ...]:
        """Rest: all four traces zero, ``[*batch]``."""
        z = torch.zeros(as_shape(batch_shape), device=device, dtype=dtype)
        return (z, z.clone(), z.clone(), z.clone())

    def step(self, x_t: torch.Tensor, state: tuple[torch.Tensor, ...]
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """One grid step: traces decay and take ``x_t``; V against θ; a spike adds θ to the reset trace."""
        pm, ps, q, _ = state
        am, as_ = self._decays()
        theta = self.params.theta
        pm = am * pm + x_t
        ps = as_ * ps + x_t
        r = am * q
        v = self.params.v0 * (pm - ps) - r
        s = (v >= theta).to(x_t.dtype)
        return s, (pm, ps, r + theta * s, v)

    def membrane(self, state: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """V of the last step (pre-reset when it spiked)."""
        return state[3]
