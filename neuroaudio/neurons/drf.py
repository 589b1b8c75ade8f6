"""Dendritic resonate-and-fire (D-RF) neurons, trained in parallel over time by FFT convolution.

D-RF (Zhang et al., NeurIPS 2025; ``notes/methods.md`` §3). Each neuron c has n dendritic branches,
each a complex resonator with decay τ_i (steps), frequency ω_i (rad/step) and input gain γ_i,
discretised with a zero-order hold (time step δ):

    z_i[t] = exp(δ(−1/τ_i + iω_i)) · z_i[t−1] + γ_i · I[t]
    H[t]   = Σ_i C_i · Re z_i[t]                                   (soma, learnable C)
    V_th[t] = V_pre + Σ_{k=1..m} α_k · Θ(H[t−k] − V_pre)           (adaptive threshold, α_k ∈ (0, 1))
    S[t]   = Θ(H[t] − V_th[t])                                     (double-Gaussian surrogate)

The branches and the soma are linear and time-invariant, so H is the causal convolution of I with
the neuron's combined real impulse response ``K[t] = Σ_i C_i γ_i r_i^t cos(ω_i δ t)``
(r_i = exp(−δ/τ_i)); :meth:`DRF.forward` computes it for all t at once with ``torch.fft.rfft``
(O(L log L)). The threshold depends on thresholded *past potentials*, not on the neuron's own
reset, so it is a short causal depth-wise conv1d; nothing is recurrent through a nonlinearity.

Three ways to run the same layer, which agree (tests/test_drf.py):
``forward`` (parallel, training), ``stream`` (blocks of any length with carried state: complex
branch states + the last m thresholded potentials; ``step`` is a block of one sample) and
``forward_sequential`` (the step-by-step recurrence, the BPTT reference of benchmarks/kws_speed.py;
``forward_sequential_scripted`` the branch recurrence and its adjoint stepped by TorchScript loops,
the fast sequential baseline).

Choices where the paper leaves room (written here so they can be changed and measured):
- γ_i and C_i are real; γ_i is initialised to unit gain at resonance (2(1 − r_i); 1 − r_i at ω = 0),
  C_i ~ N(0, 1). Branch frequencies tile ``freq_range`` (cycles per step): branch i of every
  neuron starts at a random frequency inside the i-th of n equal sub-bands.
- The thresholded potentials Θ(H[t−k] − V_pre) in the threshold also pass the surrogate gradient.
- α_k = sigmoid(a_k), per neuron; m = n taps by default.

Two baselines are D-RF with fixed settings (registry names in brackets):
:class:`RFLayer` (``"rf"``) — a plain RF neuron (one branch, fixed threshold, the same parallel path);
:class:`LIFLayer` (``"lif"``) — a leaky integrator (one branch at ω = 0; the block's second spiking
neuron). The others share the :class:`~neuroaudio.neurons.layer.SpikingLayer` interface:
``"brf"`` — balanced RF (Higuchi et al. 2024, :mod:`.brf`); ``"alif"`` — adaptive LIF (:mod:`.alif`).
All tensors are ``[batch, channels, time]``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .base import as_shape
from .fft_conv import causal_conv_taps, causal_fft_conv
from .layer import SpikingLayer
from .surrogate import spike


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


class DRF(SpikingLayer):
    """D-RF neurons (see module docstring). ``channels`` neurons, ``branches`` dendrites each.

    Args:
        channels: number of neurons C (one per input channel; the layer is depth-wise).
        branches: dendritic branches per neuron n.
        tau_range: initial decay times τ (steps), log-uniform.
        freq_range: initial branch frequencies (cycles per step, 0..0.5), tiled by the branches.
        taps: adaptive-threshold taps m (default n); 0 or ``adaptive=False`` = fixed threshold V_pre.
        v_pre: base threshold V_pre.
        alpha_init: initial α_k.
        dt: ZOH time step δ (τ in steps and ω in rad/step when δ = 1).
        learn_omega: False keeps ω fixed (e.g. ω = 0 for a leaky integrator).
        surrogate: surrogate gradient name (:mod:`.surrogate`).
    """

    summary = "dendritic resonate-and-fire: n resonant branches, adaptive threshold; parallel (FFT)"
    parallel = True

    def __init__(self, channels: int, branches: int = 4, tau_range: tuple[float, float] = (4.0, 64.0),
                 freq_range: tuple[float, float] = (0.0, 0.5), taps: int | None = None,
                 v_pre: float = 1.0, alpha_init: float = 0.3, adaptive: bool = True, dt: float = 1.0,
                 learn_omega: bool = True, surrogate: str = "double_gaussian", seed: int | None = None):
        super().__init__()
        self.channels, self.branches, self.dt = int(channels), int(branches), float(dt)
        self.v_pre, self.surrogate = float(v_pre), surrogate
        self.taps = (self.branches if taps is None else int(taps)) if adaptive else 0
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        c, n = self.channels, self.branches
        lo, hi = math.log(tau_range[0]), math.log(tau_range[1])
        log_tau = lo + (hi - lo) * torch.rand(c, n, generator=g)
        f0, f1 = freq_range
        edges = f0 + (f1 - f0) * torch.arange(n) / n
        freq = edges + (f1 - f0) / n * torch.rand(c, n, generator=g)
        omega = 2 * math.pi * freq / self.dt
        r = torch.exp(-self.dt / log_tau.exp())
        gamma = (1 - r) * torch.where(omega > 0, 2.0, 1.0)
        self.log_tau = nn.Parameter(log_tau)
        self.omega = nn.Parameter(omega, requires_grad=learn_omega)
        self.gamma = nn.Parameter(gamma)
        self.soma = nn.Parameter(torch.randn(c, n, generator=g))
        self.alpha_raw = nn.Parameter(torch.full((c, max(self.taps, 1)), _logit(alpha_init)),
                                      requires_grad=self.taps > 0)

    # -- parameters in physical form -------------------------------------------------------
    def log_a(self) -> torch.Tensor:
        """log of the complex branch multipliers, δ(−1/τ + iω), ``[C, n]`` complex."""
        return torch.complex(-self.dt / self.log_tau.exp(), self.dt * self.omega)

    def alpha(self) -> torch.Tensor:
        """Adaptive-threshold weights α_k, ``[C, m]`` in (0, 1)."""
        return torch.sigmoid(self.alpha_raw[:, :self.taps])

    def kernel(self, length: int) -> torch.Tensor:
        """The soma's real impulse response ``K[c, t] = Σ_i C_i γ_i r_i^t cos(ω_i δ t)``, ``[C, L]``."""
        t = torch.arange(length, device=self.log_tau.device, dtype=self.log_tau.dtype)
        decay = torch.exp(-(self.dt / self.log_tau.exp()).unsqueeze(-1) * t)        # [C, n, L]
        osc = torch.cos((self.dt * self.omega).unsqueeze(-1) * t)
        return ((self.soma * self.gamma).unsqueeze(-1) * decay * osc).sum(1)

    def dense_ops_per_step(self) -> float:
        # per branch: complex multiply (4) + input gain (1) + soma weight (1); threshold taps
        return 6.0 * self.branches + self.taps

    # -- firing ----------------------------------------------------------------------------
    def _fire(self, h: torch.Tensor, hist: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Spikes from soma potential ``h [B, C, L]``; ``hist [B, C, m]`` past Θ(H − V_pre)."""
        if self.taps == 0:
            return spike(h - self.v_pre, self.surrogate), None
        above = spike(h - self.v_pre, self.surrogate)
        v_th = self.v_pre + causal_conv_taps(above, self.alpha().to(h.dtype), hist)
        s = spike(h - v_th, self.surrogate)
        if hist is None:
            hist = h.new_zeros(h.shape[0], h.shape[1], self.taps)
        new_hist = torch.cat([hist, above], dim=-1)[..., -self.taps:]
        return s, new_hist

    def potential(self, x: torch.Tensor) -> torch.Tensor:
        """Soma potential H ``[B, C, L]`` from zero state, by FFT convolution."""
        return causal_fft_conv(x, self.kernel(x.shape[-1]).to(x.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Parallel forward: input current ``x [B, C, L]`` -> spikes ``[B, C, L]`` (zero initial state)."""
        return self._fire(self.potential(x), None)[0]

    def trace(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parallel: spikes and soma potential H, both ``[B, C, L]`` (zero initial state)."""
        h = self.potential(x)
        return self._fire(h, None)[0], h

    # -- streaming ---------------------------------------------------------------------------
    def init_state(self, batch_shape: int | tuple[int, ...], device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
        """Branch states ``z [*batch, C, n]`` (complex), the last m Θ(H − V_pre) ``hist [*batch, C, m]``."""
        b = as_shape(batch_shape)
        cdt = torch.complex128 if dtype == torch.float64 else torch.complex64
        return {"z": torch.zeros(*b, self.channels, self.branches, device=device, dtype=cdt),
                "hist": torch.zeros(*b, self.channels, max(self.taps, 1), device=device, dtype=dtype)}

    def membrane(self, state: dict[str, torch.Tensor]) -> torch.Tensor:
        """Soma potential ``H = Σ_i C_i Re z_i`` of the state, ``[*batch, C]``."""
        return (self.soma.to(state["z"].real.dtype) * state["z"].real).sum(-1)

    def stream(self, x: torch.Tensor, state: dict[str, torch.Tensor]
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """A block ``x [B, C, T]`` from carried state -> (spikes ``[B, C, T]``, new state).

        Zero-state response by FFT convolution, plus the free response of the carried branch
        states ``Σ_i C_i Re(a_i^{t+1} z_i)``; the new branch states are computed in closed form.
        """
        z0 = state["z"]
        length = x.shape[-1]
        log_a = self.log_a().to(z0.dtype)                                     # [C, n]
        k = torch.arange(length + 1, device=x.device, dtype=x.dtype)
        pw = torch.exp(log_a.unsqueeze(-1) * k)                                # a^k, [C, n, T+1]
        free = torch.einsum("bcn,cnt->bct", z0 * self.soma.to(x.dtype), pw[..., 1:]).real
        h = self.potential(x) + free
        drive = torch.einsum("bct,cnt->bcn", x.to(z0.dtype), pw[..., :length].flip(-1))
        z_new = z0 * pw[..., length] + self.gamma.to(x.dtype) * drive
        s, hist = self._fire(h, state["hist"][..., -self.taps:] if self.taps else None)
        return s, {"z": z_new, "hist": hist if hist is not None else state["hist"]}

    def forward_sequential(self, x: torch.Tensor) -> torch.Tensor:
        """The step-by-step recurrence (a Python loop over time; BPTT reference), ``[B, C, L]``."""
        b, c, length = x.shape
        a = torch.exp(self.log_a().to(torch.complex128 if x.dtype == torch.float64 else torch.complex64))
        gamma, soma = self.gamma.to(x.dtype), self.soma.to(x.dtype)
        alpha = self.alpha().to(x.dtype) if self.taps else None
        z = torch.zeros(b, c, self.branches, dtype=a.dtype, device=x.device)
        past: list[torch.Tensor] = [x.new_zeros(b, c)] * self.taps                 # Θ(H[t−k] − V_pre)
        out = []
        for t in range(length):
            z = a * z + gamma * x[:, :, t, None]
            h = (soma * z.real).sum(-1)
            if self.taps:
                v_th = self.v_pre + sum(alpha[:, k] * past[-1 - k] for k in range(self.taps))
                past = past[1:] + [spike(h - self.v_pre, self.surrogate)]
            else:
                v_th = self.v_pre
            out.append(spike(h - v_th, self.surrogate))
        return torch.stack(out, dim=-1)


    def forward_sequential_scripted(self, x: torch.Tensor) -> torch.Tensor:
        """BPTT as fast as this layer allows it, the sequential baseline of benchmarks/kws_speed.py.

        The branch states are stepped one time step after another by a TorchScript-compiled loop
        (:func:`_scan_forward`), and their gradients by the adjoint recurrence stepped backwards in
        time (:func:`_scan_backward`, hand-written BPTT in a :class:`torch.autograd.Function`); the
        threshold and spikes, which have no reset and so no recurrence, are computed for all steps at
        once as in :meth:`forward`. Spikes and gradients equal :meth:`forward_sequential`'s
        (tests/test_drf.py). ``[B, C, L]`` -> spikes ``[B, C, L]``."""
        la = self.log_a()
        r = torch.exp(la.real).to(x.dtype)
        a_re, a_im = r * torch.cos(la.imag).to(x.dtype), r * torch.sin(la.imag).to(x.dtype)
        h = _SequentialPotential.apply(x, a_re, a_im, self.gamma.to(x.dtype), self.soma.to(x.dtype))
        return self._fire(h, None)[0]


@torch.jit.script
def _scan_forward(x: torch.Tensor, a_re: torch.Tensor, a_im: torch.Tensor, gamma: torch.Tensor,
                  soma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Branch recurrence step by step: ``x [B, C, L]``, ``a_re, a_im, gamma, soma [C, n]`` ->
    soma potential ``[B, C, L]`` and branch states (real, imaginary) ``[B, C, n, L]``."""
    b, c, length = x.shape[0], x.shape[1], x.shape[2]
    z_re = x.new_zeros(b, c, a_re.shape[1])
    z_im = x.new_zeros(b, c, a_re.shape[1])
    zr, zi = [], []
    for t in range(length):
        z_re, z_im = a_re * z_re - a_im * z_im + gamma * x[:, :, t].unsqueeze(-1), a_re * z_im + a_im * z_re
        zr.append(z_re)
        zi.append(z_im)
    zr_all, zi_all = torch.stack(zr, -1), torch.stack(zi, -1)
    return (soma.unsqueeze(-1) * zr_all).sum(2), zr_all, zi_all


@torch.jit.script
def _scan_backward(gh: torch.Tensor, x: torch.Tensor, a_re: torch.Tensor, a_im: torch.Tensor,
                   gamma: torch.Tensor, soma: torch.Tensor, zr: torch.Tensor, zi: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The adjoint of :func:`_scan_forward`, stepped from the last time step to the first:
    gradients for ``x, a_re, a_im, gamma, soma`` from ``gh = dL/dH [B, C, L]``."""
    b, c, length = x.shape[0], x.shape[1], x.shape[2]
    g_re = x.new_zeros(b, c, a_re.shape[1])
    g_im = x.new_zeros(b, c, a_re.shape[1])
    d_ar, d_ai, d_gamma = torch.zeros_like(g_re), torch.zeros_like(g_re), torch.zeros_like(g_re)
    zero = torch.zeros_like(g_re)
    dx = []
    for t in range(length - 1, -1, -1):
        g_re = g_re + gh[:, :, t].unsqueeze(-1) * soma                 # dL/dRe z[t]
        xt = x[:, :, t].unsqueeze(-1)
        d_gamma = d_gamma + g_re * xt
        dx.append((g_re * gamma).sum(-1))
        p_re = zr[:, :, :, t - 1] if t > 0 else zero
        p_im = zi[:, :, :, t - 1] if t > 0 else zero
        d_ar = d_ar + g_re * p_re + g_im * p_im
        d_ai = d_ai - g_re * p_im + g_im * p_re
        g_re, g_im = a_re * g_re + a_im * g_im, a_re * g_im - a_im * g_re
    dx.reverse()
    d_soma = (gh.unsqueeze(2) * zr).sum(-1).sum(0)
    return torch.stack(dx, -1), d_ar.sum(0), d_ai.sum(0), d_gamma.sum(0), d_soma


class _SequentialPotential(torch.autograd.Function):
    """Soma potential by the sequential scan, gradients by the sequential adjoint (BPTT)."""

    @staticmethod
    def forward(ctx, x, a_re, a_im, gamma, soma):  # noqa: D102
        h, zr, zi = _scan_forward(x, a_re, a_im, gamma, soma)
        ctx.save_for_backward(x, a_re, a_im, gamma, soma, zr, zi)
        return h

    @staticmethod
    def backward(ctx, gh):  # noqa: D102
        return _scan_backward(gh.contiguous(), *ctx.saved_tensors)


class RFLayer(DRF):
    """Plain resonate-and-fire layer (registry ``"rf"``): D-RF with one branch and a fixed threshold.

    ``kwargs`` as for :class:`DRF`; ``branches`` and ``adaptive`` are fixed (1, False) whatever is given.
    """

    summary = "resonate-and-fire: one resonant D-RF branch, fixed threshold, no reset; parallel (FFT)"

    def __init__(self, channels: int, **kwargs: Any):
        super().__init__(channels, **{**kwargs, "branches": 1, "adaptive": False})


class LIFLayer(DRF):
    """Leaky integrate-and-fire layer without reset (registry ``"lif"``): D-RF with one branch at ω = 0.

    The KWS block's second spiking neuron. ``tau_range`` defaults to (2, 8) steps; ``branches``,
    ``freq_range`` and ``learn_omega`` are fixed (1, (0, 0), False) whatever is given. For the LIF
    with a hard reset (the MAA network's) see :class:`neuroaudio.neurons.lif.LIF` (``"lif-reset"``).
    """

    summary = "leaky integrate-and-fire without reset (one D-RF branch at 0 Hz), adaptive threshold; parallel"

    def __init__(self, channels: int, **kwargs: Any):
        super().__init__(channels, **{"tau_range": (2.0, 8.0), **kwargs, "branches": 1,
                                      "freq_range": (0.0, 0.0), "learn_omega": False})
