"""Resonate-and-fire (RF) neurons: a fast numpy resonator bank and a trainable torch layer.

The RF neuron (Izhikevich 2001; discrete form of the RF-PLC paper, Zhang et al. NeurIPS 2024)
has a complex state ``z = x + i·y`` driven by a real input ``I``::

    z[t] = λ · e^{iωΔt} · z[t−1] + I[t]

``ω`` (rad/s) is the resonant frequency, ``λ ≤ 1`` the damping per sample, ``Δt = 1/fs``.
The state is a causal linear filter of the input with the complex kernel ``h[n] = p^n``,
``p = λ e^{iωΔt}``; with ``λ = 1`` and ``ω_k = 2πk/N`` a bank of these neurons is a running
DFT: ``z_k[t] − z_k[t−N]`` is the DFT of the last ``N`` samples (up to the phase factor
``e^{iω_k t}``), the sliding DFT.

Two implementations:

- :class:`ResonatorBank` (numpy, for encoding): the whole bank for all channels at once, with the
  state carried between blocks. A block of length ``L`` is solved in closed form,
  ``z[t] = p^{t+1} z[−1] + p^t Σ_{m≤t} p^{−m} I[m]``, in chunks short enough that ``|p^{−m}|``
  stays small (vectorised cumulative sums, no per-sample Python loop).
- :class:`RFNeuron` (torch, for training; a :class:`~neuroaudio.neurons.base.Neuron`, registry name
  ``"rf-hz"``): the same recurrence with learnable ``ω`` and decay; the state of a whole sequence
  is computed in parallel by FFT convolution with ``h[n]``
  (:func:`~neuroaudio.neurons.fft_conv.causal_fft_conv`), spikes by ``S = Θ(Re z − θ)`` with a
  surrogate gradient (:mod:`neuroaudio.neurons.surrogate`). The layer has no reset (as D-RF-style
  parallel layers), so the state stays linear in the input; :meth:`RFNeuron.forward_sequential`
  is the plain step-by-step reference.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .base import Neuron, as_shape
from .fft_conv import causal_fft_conv
from .surrogate import spike


def resonator_poles(freqs_hz: np.ndarray, fs: float, decay: float | np.ndarray = 1.0) -> np.ndarray:
    """Per-sample complex multipliers ``p_k = λ_k e^{i 2π f_k / fs}``, shape ``[neurons]``."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    lam = np.broadcast_to(np.asarray(decay, dtype=np.float64), f.shape)
    if np.any(lam <= 0) or np.any(lam > 1):
        raise ValueError("decay λ must be in (0, 1]")
    return lam * np.exp(2j * np.pi * f / fs)


def dft_bank_freqs(n_neurons: int, fs: float) -> np.ndarray:
    """Frequencies (Hz) of ``n_neurons`` resonators spread over ``[0, fs/2)`` on DFT bins.

    ``f_k = k · fs / (2 n_neurons)``, k = 0 … n_neurons−1, i.e. the bins of a DFT of length
    ``N = 2 n_neurons``: with λ = 1 the bank is that DFT's sliding version.
    """
    return np.arange(n_neurons) * fs / (2.0 * n_neurons)


class ResonatorBank:
    """A bank of RF neurons (no spiking) for every channel, streaming.

    Args:
        freqs_hz: resonant frequencies, shape ``[neurons]`` (Hz).
        fs: sample rate (Hz).
        decay: λ per sample (scalar or ``[neurons]``), in (0, 1].
        channels: number of input channels (mics).

    ``process(block [samples, channels])`` returns the states ``[samples, channels, neurons]``
    (complex128) and carries the last state to the next call, so processing in blocks of any
    size equals processing the signal whole.
    """

    def __init__(self, freqs_hz: np.ndarray, fs: float, decay: float | np.ndarray = 1.0,
                 channels: int = 1):
        self.freqs_hz = np.asarray(freqs_hz, dtype=np.float64)
        self.fs = float(fs)
        self.p = resonator_poles(self.freqs_hz, fs, decay)
        self.channels = int(channels)
        lam_min = float(np.abs(self.p).min())
        # |p^-m| <= 1e6 inside a chunk keeps the cumulative sums accurate in float64
        self.chunk = 1024 if lam_min >= 1.0 else int(max(1, min(1024, math.log(1e6) / -math.log(lam_min))))
        self.reset()

    def reset(self) -> None:
        """Zero state (``[channels, neurons]``)."""
        self.state = np.zeros((self.channels, len(self.p)), dtype=np.complex128)

    def process(self, block: np.ndarray) -> np.ndarray:
        """States after each sample: ``block [samples, channels]`` → ``[samples, channels, neurons]``."""
        x = np.asarray(block, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        out = np.empty((len(x), self.channels, len(self.p)), dtype=np.complex128)
        logp = np.log(self.p)   # principal log: exp(m·logp) = p^m exactly for integer m
        for s in range(0, len(x), self.chunk):   # loop over chunks (~1000 samples), not samples
            xc = x[s:s + self.chunk]
            m = np.arange(len(xc), dtype=np.float64)[:, None]
            pw = np.exp(m * logp[None, :])                       # p^m, [L, K]
            acc = np.cumsum(xc[:, :, None] / pw[:, None, :], axis=0)   # Σ p^{-m} I[m]
            out[s:s + len(xc)] = pw[:, None, :] * (acc + self.p[None, None, :] * self.state[None])
            self.state = out[s + len(xc) - 1].copy()
        return out


def resonator_reference(x: np.ndarray, p: np.ndarray, z0: np.ndarray | None = None) -> np.ndarray:
    """Plain per-sample loop of the recurrence (slow; for tests and benchmarks only).

    Args:
        x: input ``[samples, channels]``; p: poles ``[neurons]``; z0: state ``[channels, neurons]``.

    Returns:
        states ``[samples, channels, neurons]``.
    """
    x = np.asarray(x, dtype=np.float64)
    z = np.zeros((x.shape[1], len(p)), np.complex128) if z0 is None else z0.astype(np.complex128)
    out = np.empty((len(x), x.shape[1], len(p)), np.complex128)
    for t in range(len(x)):
        z = p[None, :] * z + x[t][:, None]
        out[t] = z
    return out


# --------------------------------------------------------------------------------------------
# torch
# --------------------------------------------------------------------------------------------

class RFNeuron(Neuron):
    """A layer of resonate-and-fire neurons with surrogate-gradient spikes (torch).

    ``z[t] = λ e^{iωΔt} z[t−1] + I[t]``, ``S[t] = Θ(Re z[t] − θ)`` (no reset: the state is a
    linear filter of the input, so a whole sequence is computed in parallel).

    Args:
        n: number of neurons.
        freqs_hz: initial resonant frequencies ``[n]`` (Hz); default: spread over 0…fs/2.
        fs: sample rate (Hz) of the input sequence (Δt = 1/fs).
        decay_s: initial damping time constant (s); λ = exp(−Δt/decay_s).
        threshold: θ, in input units.
        learnable: learn ω and the time constant.
        surrogate: surrogate-gradient shape (see :func:`neuroaudio.neurons.surrogate.spike`).

    Shapes: input ``[batch, time, n]`` real (time on axis 1); ``forward`` returns the spikes
    ``[batch, time, n]``, :meth:`states` the complex states ``[batch, time, n]``, :meth:`trace`
    the spikes and the membrane ``Re z``. Streaming state: ``z [*batch, n]`` complex.
    """

    summary = "resonate-and-fire bank, poles λ·e^(iωΔt) in Hz and s (RF-PLC form), no reset; parallel (FFT)"
    time_dim = 1
    parallel = True

    def __init__(self, n: int, fs: float = 16000.0, freqs_hz: torch.Tensor | None = None,
                 decay_s: float = 0.01, threshold: float = 1.0, learnable: bool = True,
                 surrogate: str = "atan"):
        super().__init__()
        if freqs_hz is None:
            freqs_hz = torch.linspace(50.0, fs / 2 * 0.95, n)
        omega = 2 * math.pi * torch.as_tensor(freqs_hz, dtype=torch.float32) / fs   # rad/sample
        log_tau = torch.full((n,), math.log(decay_s * fs))                            # samples
        self.omega = nn.Parameter(omega, requires_grad=learnable)
        self.log_tau = nn.Parameter(log_tau, requires_grad=learnable)
        self.fs, self.threshold, self.surrogate = float(fs), float(threshold), surrogate

    def pole(self) -> torch.Tensor:
        """``p = λ e^{iω}`` per neuron, ``[n]`` complex64."""
        lam = torch.exp(-torch.exp(-self.log_tau))
        return torch.polar(lam, self.omega)

    def states(self, x: torch.Tensor) -> torch.Tensor:
        """Parallel states by FFT convolution, ``[batch, time, n]`` → complex ``[batch, time, n]``."""
        length = x.shape[1]
        n = torch.arange(length, dtype=torch.float32, device=x.device)
        # h[n] = p^n = λ^n e^{iωn}, computed from its polar form (no repeated products)
        lam = torch.exp(-torch.exp(-self.log_tau))
        h = torch.polar(lam[:, None] ** n[None, :], self.omega[:, None] * n[None, :])   # [n, L]
        return causal_fft_conv(x.transpose(1, 2), h[None]).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes ``[batch, time, n]`` of a whole sequence from rest (parallel)."""
        return spike(self.states(x).real - self.threshold, self.surrogate)

    def trace(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Spikes and membrane ``Re z``, both ``[batch, time, n]`` (parallel)."""
        z = self.states(x).real
        return spike(z - self.threshold, self.surrogate), z

    def init_state(self, batch_shape: int | tuple[int, ...], device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``z = 0``, ``[*batch, n]``, complex (complex128 for float64 inputs)."""
        cdt = torch.complex128 if dtype == torch.float64 else torch.complex64
        return torch.zeros(*as_shape(batch_shape), self.omega.shape[0], device=device, dtype=cdt)

    def step(self, x_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``z[t] = p z[t−1] + I[t]``, ``S[t] = Θ(Re z[t] − θ)``; ``x_t [*batch, n]``."""
        z = self.pole().to(state.dtype) * state + x_t.to(state.dtype)
        return spike(z.real - self.threshold, self.surrogate), z

    def membrane(self, state: torch.Tensor) -> torch.Tensor:
        """``Re z``, ``[*batch, n]``."""
        return state.real

    def forward_sequential(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The plain step-by-step reference of :meth:`forward` (slow; for tests)."""
        p = self.pole()
        z = torch.zeros(x.shape[0], x.shape[2], dtype=torch.complex64, device=x.device)
        zs, ss = [], []
        for t in range(x.shape[1]):
            z = p * z + x[:, t].to(torch.complex64)
            zs.append(z)
            ss.append(spike(z.real - self.threshold, self.surrogate))
        return torch.stack(ss, 1), torch.stack(zs, 1)
