"""Causal convolution of long sequences by FFT, O(L log L) (torch, differentiable).

A linear time-invariant recurrence (a leaky or resonant neuron without reset) is the causal
convolution of its input with its impulse response. Computing that convolution with an FFT costs
O(L log L) for all L steps at once instead of L dependent steps, which is what makes D-RF and
RF training parallel over time. The one implementation, for real kernels (D-RF's soma response)
and complex ones (the RF neuron's ``p^n``).
"""

from __future__ import annotations

import torch


def fft_size(n: int) -> int:
    """Smallest power of two >= n (the FFT is fastest there)."""
    return 1 << max(0, int(n - 1).bit_length())


def causal_fft_conv(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``y[..., c, t] = Σ_{s=0..t} kernel[c, s] · x[..., c, t − s]`` for t = 0..L−1.

    Args:
        x: input, ``[..., C, L]``, real or complex.
        kernel: impulse response per channel, ``[C, K]`` (or any shape broadcastable against
            ``x`` on the leading axes), real or complex; only its first L taps matter.
    Returns:
        ``[..., C, L]``. Real kernel and real ``x``: real, same dtype as ``x`` (``rfft``). A complex
        kernel: complex, of the kernel's dtype (a real ``x`` is cast to it). Exact up to FFT
        rounding (no circular wrap-around: the transform length is at least L + K − 1).
    """
    length = x.shape[-1]
    k = kernel[..., :length]
    n = fft_size(length + k.shape[-1] - 1)
    if not (k.is_complex() or x.is_complex()):
        y = torch.fft.irfft(torch.fft.rfft(x, n=n) * torch.fft.rfft(k, n=n), n=n)
        return y[..., :length]
    if not x.is_complex():
        x = x.to(k.dtype)
    y = torch.fft.ifft(torch.fft.fft(x, n=n) * torch.fft.fft(k, n=n), n=n)
    return y[..., :length]


def causal_conv_taps(x: torch.Tensor, taps: torch.Tensor, history: torch.Tensor | None = None
                     ) -> torch.Tensor:
    """Short causal conv1d over the past only: ``y[..., c, t] = Σ_{k=1..m} taps[c, k−1] x[..., c, t−k]``.

    Args:
        x: ``[B, C, L]``.
        taps: ``[C, m]`` weights of lags 1..m.
        history: ``[B, C, m]`` the m inputs before ``x`` (oldest first); zeros when None.
    Returns:
        ``[B, C, L]``. Depth-wise ``torch.nn.functional.conv1d`` (groups = C).
    """
    b, c, _ = x.shape
    m = taps.shape[-1]
    if history is None:
        history = x.new_zeros(b, c, m)
    xp = torch.cat([history, x], dim=-1)[..., :-1]          # [B, C, m + L − 1]; drop the current step
    w = taps.flip(-1).unsqueeze(1)                          # conv1d correlates: oldest lag first
    return torch.nn.functional.conv1d(xp, w.to(x.dtype), groups=c)
