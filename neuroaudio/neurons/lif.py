"""Leaky integrate-and-fire (LIF) neurons with surrogate gradients (torch), as in the MAA network.

Discrete dynamics (Zhang et al., NeurIPS 2024; SpikingJelly's convention), per time step t::

    U[t] = H[t−1] + X[t]                       charge: membrane potential before the spike
    S[t] = Θ(U[t] − V_th)                       fire (surrogate gradient in backward)
    H[t] = V_reset · S[t] + τ · U[t] · (1 − S[t])   hard reset / leak

``τ`` is the leak factor per step (0 < τ ≤ 1, e.g. 0.5), ``V_th`` the threshold, ``V_reset``
the reset potential. ``H[−1] = 0``. The recurrence through the reset is nonlinear, so it runs
step by step over the (few, e.g. T = 4) time steps; every step is vectorised over the rest.

Design follows Norse's shape: a pure step function (:func:`lif_step`) plus a thin module
(:class:`LIF`, a :class:`~neuroaudio.neurons.base.Neuron`, registry name ``"lif-reset"``) that loops
over the time axis. Every element of ``x_t`` is a neuron (all share τ, V_th, V_reset); the state
is the membrane ``H`` shaped like ``x_t``. Input in threshold units (V_th = 1 by default).
"""

from __future__ import annotations

import torch

from .base import Neuron, as_shape
from .surrogate import spike


def lif_step(x: torch.Tensor, h: torch.Tensor, tau: float = 0.5, v_th: float = 1.0,
             v_reset: float = 0.0, surrogate: str = "atan", detach_reset: bool = False
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """One LIF step. ``x``, ``h``: same shape. Returns ``(S[t], H[t])``."""
    u = h + x
    s = spike(u - v_th, surrogate)
    sr = s.detach() if detach_reset else s
    h_new = v_reset * sr + tau * u * (1.0 - sr)
    return s, h_new


class LIF(Neuron):
    """LIF layer over a time axis (hard reset).

    Args:
        tau: leak factor per step (0 < τ ≤ 1).
        v_th: threshold. v_reset: reset potential.
        surrogate: surrogate-gradient shape (atan, sigmoid, rect, double_gaussian).
        detach_reset: stop gradients through the reset (a common stabiliser).
        time_dim: which input axis is time (default 0: ``[T, batch, ...]``).

    ``forward(x)`` returns spikes of the same shape. With ``stateful=True`` the membrane ``H``
    is carried to the next call (streaming) until :meth:`reset`; :meth:`stream` carries an
    explicit state instead (the :class:`~neuroaudio.neurons.base.Neuron` contract).
    """

    summary = "leaky integrate-and-fire with hard reset (SpikingJelly form; the MAA network's), loop over T"
    neuron_ndim = 0

    def __init__(self, tau: float = 0.5, v_th: float = 1.0, v_reset: float = 0.0,
                 surrogate: str = "atan", detach_reset: bool = False, time_dim: int = 0,
                 stateful: bool = False):
        super().__init__()
        if not 0.0 < tau <= 1.0:
            raise ValueError("tau (leak factor per step) must be in (0, 1]")
        self.tau, self.v_th, self.v_reset = float(tau), float(v_th), float(v_reset)
        self.surrogate, self.detach_reset = surrogate, detach_reset
        self.time_dim, self.stateful = time_dim, stateful
        self.h: torch.Tensor | None = None

    def reset(self) -> None:
        """Forget the carried membrane potential."""
        self.h = None

    def init_state(self, batch_shape: int | tuple[int, ...], device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``H[−1] = 0``, shaped ``batch_shape`` (the whole shape of ``x_t``: every element is a neuron)."""
        return torch.zeros(as_shape(batch_shape), device=device, dtype=dtype)

    def step(self, x_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(S[t], H[t])`` from ``X[t]`` and ``H[t−1]`` (:func:`lif_step`)."""
        return lif_step(x_t, state, self.tau, self.v_th, self.v_reset, self.surrogate, self.detach_reset)

    def membrane(self, state: torch.Tensor) -> torch.Tensor:
        """``H[t]``, the membrane after the step's reset."""
        return state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes of ``x`` (time on ``time_dim``), same shape; from rest unless ``stateful``."""
        xs = x.unbind(self.time_dim)
        h = self.h if (self.stateful and self.h is not None) else torch.zeros_like(xs[0])
        out = []
        for xt in xs:   # loop over the T time steps (e.g. 4), not samples
            s, h = lif_step(xt, h, self.tau, self.v_th, self.v_reset, self.surrogate,
                            self.detach_reset)
            out.append(s)
        if self.stateful:
            self.h = h.detach()
        return torch.stack(out, self.time_dim)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, v_th={self.v_th}, v_reset={self.v_reset}, surrogate={self.surrogate}"
