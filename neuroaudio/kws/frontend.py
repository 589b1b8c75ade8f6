"""Front-ends: what the spiking network sees. ``[B, samples]`` audio -> ``[B, F, T]`` features.

- ``raw``: the waveform itself (F = 1, T = samples), divided by its peak; the D-RF dendrites then
  resonate on the audio directly (branch frequencies in cycles per sample).
- ``logmel``: log-mel spectrum (F = n_mels, one frame per ``hop`` samples): ``torch.stft`` with a
  Hann window (no centring: frame t covers samples [t·hop, t·hop + n_fft)), power, a triangular
  mel filterbank (HTK mel scale), natural log, relative to the clip's maximum and floored
  ``floor_db`` below it, scaled by 1/10. Level-independent by construction. No torchaudio.
  Options: per-channel mean (``cmn``) and variance (``cvn``, CMVN: zero mean, unit variance, output
  clamped to ±``CVN_CLIP``) normalisation over the clip's active frames; per-utterance mean and
  variance normalisation (``mvn``: one mean and one deviation over all channels and frames of the
  clip, :func:`utterance_mvn`, replacing the 1/10 scale); for training, a per-clip vocal-tract
  length warp of the filterbank (:func:`vtlp_warp`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .config import FrontendConfig


def mel_points_hz(n_mels: int, fs: int, fmin_hz: float = 20.0, fmax_hz: float | None = None) -> np.ndarray:
    """The n_mels + 2 edge/centre frequencies (Hz) of the triangular filters (HTK mel scale)."""
    fmax_hz = fs / 2 if fmax_hz is None else fmax_hz

    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10 ** (np.asarray(m) / 2595.0) - 1.0)

    return hz(np.linspace(mel(fmin_hz), mel(fmax_hz), n_mels + 2))


def mel_filterbank(n_fft: int, n_mels: int, fs: int, fmin_hz: float = 20.0,
                   fmax_hz: float | None = None) -> np.ndarray:
    """Triangular mel filters ``[n_mels, n_fft // 2 + 1]`` (HTK mel: 2595 log10(1 + f/700))."""
    pts = mel_points_hz(n_mels, fs, fmin_hz, fmax_hz)
    freqs = np.linspace(0, fs / 2, n_fft // 2 + 1)
    lo, ce, hi = pts[:-2, None], pts[1:-1, None], pts[2:, None]
    up = (freqs - lo) / np.maximum(ce - lo, 1e-9)
    down = (hi - freqs) / np.maximum(hi - ce, 1e-9)
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32)


VTLP_BOUNDARY = 0.8
"""VTLP: frequencies below ``VTLP_BOUNDARY · Nyquist · min(α, 1) / α`` are scaled by α; above, a
second linear piece maps the rest so that Nyquist stays at Nyquist (Jaitly & Hinton 2013 use
4.8 kHz of 8 kHz, 0.6; at 8 kHz audio 0.8 keeps the warp linear over the formant range, < 3.2 kHz)."""


def vtlp_warp(freqs: torch.Tensor, alpha: torch.Tensor, nyquist: float) -> torch.Tensor:
    """Piecewise-linear VTLP warp of ``freqs [bins]`` (Hz) by ``alpha [B]`` -> ``[B, bins]`` (Hz)."""
    a = alpha[:, None].to(freqs.dtype)
    b = VTLP_BOUNDARY * nyquist * a.clamp(max=1.0) / a                     # breakpoint (input Hz)
    hi = nyquist - (nyquist - VTLP_BOUNDARY * nyquist * a.clamp(max=1.0)) / (nyquist - b) * (nyquist - freqs)
    return torch.where(freqs <= b, freqs * a, hi)


CVN_CLIP = 5.0
"""CMVN (``cmn`` + ``cvn``) output bound, in standard deviations. Mean and standard deviation of a
mel channel come from the same frame set, the clip's active frames (within 40 dB of its loudest
frame), so zero padding and silence do not change them. The frames outside that set sit at the
front-end's floor (``floor_db`` below the clip maximum), which in units of a narrow channel's active
standard deviation is far below anything spoken (down to -63 for FSDD speaker nicolas, whose
20-60 Hz channel varies by 1.5 dB): unbounded, they dominate the input. Clamping to ±5 maps them to
-5 while leaving the active frames as they are (FSDD: < 1e-4 of active values reach |x| > 5)."""


def utterance_mvn(feats: torch.Tensor) -> torch.Tensor:
    """Per-utterance mean and variance normalisation of ``feats [B, F, T]``: each clip minus its mean
    over all channels and frames, divided by its standard deviation over the same (floored at 1e-5,
    so a constant clip gives zeros)."""
    mean = feats.mean(dim=(1, 2), keepdim=True)
    std = feats.std(dim=(1, 2), keepdim=True, unbiased=False).clamp_min(1e-5)
    return (feats - mean) / std


class Frontend(nn.Module):
    """Audio ``[B, samples]`` (float, Hz = ``fs``) -> features ``[B, F, T]``."""

    def __init__(self, cfg: FrontendConfig, fs: int):
        super().__init__()
        self.cfg, self.fs = cfg, int(fs)
        if cfg.kind == "logmel":
            self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
            fb = mel_filterbank(cfg.n_fft, cfg.n_mels, self.fs, cfg.fmin_hz, cfg.fmax_hz)
            self.register_buffer("mel", torch.from_numpy(fb), persistent=False)

    @property
    def n_features(self) -> int:
        return 1 if self.cfg.kind == "raw" else self.cfg.n_mels

    def n_frames(self, samples: int) -> int:
        if self.cfg.kind == "raw":
            return samples
        return max(0, 1 + (samples - self.cfg.n_fft) // self.cfg.hop)

    @property
    def hop_s(self) -> float:
        """Seconds per output step."""
        return (1 if self.cfg.kind == "raw" else self.cfg.hop) / self.fs

    def warped_filterbank(self, alpha: torch.Tensor) -> torch.Tensor:
        """Per-clip mel filterbanks ``[B, n_mels, bins]`` on a VTLP-warped frequency axis: a clip's
        bin at f Hz feeds the filters as if it were at warp(f), i.e. formants move by α."""
        nyq = self.fs / 2
        freqs = torch.linspace(0, nyq, self.cfg.n_fft // 2 + 1, dtype=torch.float64, device=alpha.device)
        pts = torch.from_numpy(mel_points_hz(self.cfg.n_mels, self.fs, self.cfg.fmin_hz,
                                             self.cfg.fmax_hz)).to(alpha.device)
        fw = vtlp_warp(freqs, alpha.to(torch.float64), nyq)[:, None, :]         # [B, 1, bins]
        lo, ce, hi = pts[:-2, None], pts[1:-1, None], pts[2:, None]
        fb = torch.minimum((fw - lo) / (ce - lo), (hi - fw) / (hi - ce)).clamp_min(0.0)
        return fb.to(self.mel.dtype)

    def forward(self, audio: torch.Tensor, warp: torch.Tensor | None = None) -> torch.Tensor:
        """``audio [B, samples]`` -> ``[B, F, T]``; ``warp [B]``: VTLP factors α (log-mel, training)."""
        if self.cfg.kind == "raw":
            peak = audio.abs().amax(-1, keepdim=True).clamp_min(1e-4)
            return (audio / peak).unsqueeze(1)
        spec = torch.stft(audio, self.cfg.n_fft, self.cfg.hop, window=self.window, center=False,
                          return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2                               # [B, bins, T]
        fb = self.mel if warp is None else self.warped_filterbank(warp)
        logmel = torch.log(fb @ power + 1e-12)
        ref = logmel.amax(dim=(1, 2), keepdim=True)
        floor = self.cfg.floor_db * math.log(10) / 10
        feats = (logmel - ref).clamp_min(-floor)
        if self.cfg.cmn:
            frame = feats.amax(dim=1, keepdim=True)                            # [B, 1, T]
            active = (frame > -40 * math.log(10) / 10).to(feats.dtype)
            mean = (feats * active).sum(-1, keepdim=True) / active.sum(-1, keepdim=True).clamp_min(1)
            feats = feats - mean
            if self.cfg.cvn:
                n_active = active.sum(-1, keepdim=True).clamp_min(1)
                var = (feats.pow(2) * active).sum(-1, keepdim=True) / n_active
                std = var.sqrt().clamp_min(math.log(10) / 10)                  # ≥ 1 dB
                feats = (feats / std).clamp(-CVN_CLIP, CVN_CLIP)
                return utterance_mvn(feats) if self.cfg.mvn else feats
        return utterance_mvn(feats) if self.cfg.mvn else feats / 10.0
