"""Balanced resonate-and-fire (BRF) neurons (Higuchi, Otte, Bohte et al., ICML 2024).

Per neuron (Euler step δ, complex membrane u, refractory trace q):

    b_t = p(ω) − b′ − q_{t−1},   p(ω) = (−1 + √(1 − (δω)²)) / δ      (divergence boundary)
    u_t = u_{t−1} + δ((b_t + iω) u_{t−1} + x_t)
    z_t = Θ(Re u_t − ϑ_t),       ϑ_t = ϑ + q_{t−1}  (ϑ = 1)
    q_t = 0.9 q_{t−1} + z_t                                           (refractory + smooth reset)

The spike feeds back into the dynamics through q, so the layer is a nonlinear recurrence and is
trained step by step (BPTT): a loop over time, as in the paper. ω must satisfy δω < 1 (p real);
it is clamped there. Learnable: ω, b′ (kept positive through |b′|) and an input gain g per
neuron (x_t = g · input; g starts at 2b′ so the gain at resonance starts near 1, as γ does for D-RF;
in the paper the input weights of the previous layer play this role). Defaults follow the paper's
SHD setting (δ = 0.01, ω ~ U(5, 10), b′ ~ U(2, 3)); ``omega_range`` in rad per unit of δ.
Tensors ``[batch, channels, time]``; streaming state ``(u_re, u_im, q)``.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import as_shape
from .layer import RecurrentLayer
from .surrogate import spike


class BRF(RecurrentLayer):
    """BRF layer of ``channels`` neurons (depth-wise: neuron c gets input channel c).

    Membrane: Re u (the potential compared with the threshold ϑ + q).
    """

    summary = "balanced resonate-and-fire (Higuchi 2024): refractory reset, BPTT loop over time"

    def __init__(self, channels: int, dt: float = 0.01, omega_range: tuple[float, float] = (5.0, 10.0),
                 b_offset_range: tuple[float, float] = (2.0, 3.0), theta: float = 1.0,
                 q_decay: float = 0.9, surrogate: str = "double_gaussian", seed: int | None = None):
        super().__init__()
        self.channels, self.dt = int(channels), float(dt)
        self.theta, self.q_decay = float(theta), float(q_decay)
        self.surrogate = surrogate
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        u = torch.rand(2, channels, generator=g)
        self.omega = nn.Parameter(omega_range[0] + (omega_range[1] - omega_range[0]) * u[0])
        self.b_offset = nn.Parameter(b_offset_range[0] + (b_offset_range[1] - b_offset_range[0]) * u[1])
        self.input_gain = nn.Parameter(2 * self.b_offset.detach().clone())

    def _omega(self) -> torch.Tensor:
        return self.omega.clamp(min=0.0, max=(1 - 1e-4) / self.dt)

    def divergence_boundary(self) -> torch.Tensor:
        """p(ω) = (−1 + √(1 − (δω)²)) / δ, ``[C]``."""
        w = self._omega()
        return (-1 + torch.sqrt(1 - (self.dt * w) ** 2)) / self.dt

    def dense_ops_per_step(self) -> float:
        return 8.0  # complex multiply-add (6) + refractory trace and threshold (2)

    def init_state(self, batch_shape: int | tuple[int, ...], device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(Re u, Im u, q)``, each ``[*batch, C]``, zero."""
        z = torch.zeros(*as_shape(batch_shape), self.channels, device=device, dtype=dtype)
        return (z, z.clone(), z.clone())

    def membrane(self, state: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Re u, ``[*batch, C]``."""
        return state[0]

    def run(self, x: torch.Tensor, state: tuple[torch.Tensor, ...], keep_membrane: bool
            ) -> tuple[torch.Tensor, torch.Tensor | None, tuple[torch.Tensor, ...]]:
        """The loop over time: (spikes, membrane Re u or None, state), ``[B, C, T]``."""
        ur, ui, q = state
        w = self._omega().to(x.dtype)
        p_minus_b = (self.divergence_boundary() - self.b_offset.abs()).to(x.dtype)
        dt = self.dt
        x = x * self.input_gain.to(x.dtype).unsqueeze(-1)
        out, mem = [], []
        for t in range(x.shape[-1]):
            b = p_minus_b - q
            ur, ui = ur + dt * (b * ur - w * ui + x[..., t]), ui + dt * (b * ui + w * ur)
            z = spike(ur - self.theta - q, self.surrogate)
            q = self.q_decay * q + z
            out.append(z)
            if keep_membrane:
                mem.append(ur)
        return (torch.stack(out, dim=-1), torch.stack(mem, dim=-1) if keep_membrane else None,
                (ur, ui, q))
