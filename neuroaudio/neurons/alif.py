"""Adaptive leaky integrate-and-fire (ALIF) neurons (Bellec et al. 2018 form), a KWS baseline.

Per neuron, time step δ (steps), soft reset:

    v_t = β v_{t−1} + (1 − β) x_t − ϑ_{t−1} z_{t−1},   β = exp(−δ/τ_m)
    a_t = ρ a_{t−1} + (1 − ρ) z_{t−1},                 ρ = exp(−δ/τ_a)
    ϑ_t = b_0 + κ a_t
    z_t = Θ((v_t − ϑ_t) / ϑ_t)

The reset and the adaptation make it a nonlinear recurrence: trained step by step (BPTT).
Learnable: τ_m and τ_a (log-parametrised, per neuron). Tensors ``[batch, channels, time]``;
streaming state ``(v, a, z, ϑ)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import as_shape
from .layer import RecurrentLayer
from .surrogate import spike


class ALIF(RecurrentLayer):
    """Adaptive LIF layer of ``channels`` neurons (depth-wise). Membrane: v (before its soft reset)."""

    summary = "adaptive leaky integrate-and-fire (Bellec 2018): soft reset, BPTT loop over time"

    def __init__(self, channels: int, tau_mem_range: tuple[float, float] = (2.0, 20.0),
                 tau_adapt_range: tuple[float, float] = (20.0, 200.0), b0: float = 1.0, kappa: float = 1.8,
                 dt: float = 1.0, surrogate: str = "double_gaussian", seed: int | None = None):
        super().__init__()
        self.channels, self.b0, self.kappa, self.dt = int(channels), float(b0), float(kappa), float(dt)
        self.surrogate = surrogate
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        u = torch.rand(2, channels, generator=g)

        def logu(r, v):
            return math.log(r[0]) + (math.log(r[1]) - math.log(r[0])) * v

        self.log_tau_mem = nn.Parameter(logu(tau_mem_range, u[0]))
        self.log_tau_adapt = nn.Parameter(logu(tau_adapt_range, u[1]))

    def dense_ops_per_step(self) -> float:
        return 5.0  # leak, input scale, adaptation trace, threshold, reset

    def init_state(self, batch_shape: int | tuple[int, ...], device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, ...]:
        """``(v, a, z, ϑ)``, each ``[*batch, C]``: zero, ϑ = b_0."""
        z = torch.zeros(*as_shape(batch_shape), self.channels, device=device, dtype=dtype)
        return (z, z.clone(), z.clone(), z + self.b0)

    def membrane(self, state: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """v, ``[*batch, C]``."""
        return state[0]

    def run(self, x: torch.Tensor, state: tuple[torch.Tensor, ...], keep_membrane: bool
            ) -> tuple[torch.Tensor, torch.Tensor | None, tuple[torch.Tensor, ...]]:
        """The loop over time: (spikes, membrane v or None, state), ``[B, C, T]``."""
        v, a, z, thr = state
        beta = torch.exp(-self.dt / self.log_tau_mem.exp()).to(x.dtype)
        rho = torch.exp(-self.dt / self.log_tau_adapt.exp()).to(x.dtype)
        out, mem = [], []
        for t in range(x.shape[-1]):
            v = beta * v + (1 - beta) * x[..., t] - thr * z
            a = rho * a + (1 - rho) * z
            thr = self.b0 + self.kappa * a
            z = spike((v - thr) / thr, self.surrogate)
            out.append(z)
            if keep_membrane:
                mem.append(v)
        return (torch.stack(out, dim=-1), torch.stack(mem, dim=-1) if keep_membrane else None,
                (v, a, z, thr))
