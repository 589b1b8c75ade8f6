"""Front-ends: what the spiking network sees. ``[B, samples]`` audio -> ``[B, F, T]`` features.

- ``raw``: the waveform itself (F = 1, T = samples), divided by its peak; the D-RF dendrites then
  resonate on the audio directly (branch frequencies in cycles per sample).
- ``logmel``: log-mel spectrum (F = n_mels, one frame per ``hop`` samples): ``torch.stft`` with a
  Hann window (no centring: frame t covers samples [t·hop, t·hop + n_fft)), power, a triangular
  mel filterbank (HTK mel scale), natural log, relative to the clip's maximum and floored
  ``floor_db`` below it, scaled by 1/10. Level-independent by construction. No torchaudio.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .config import FrontendConfig


def mel_filterbank(n_fft: int, n_mels: int, fs: int, fmin_hz: float = 20.0,
                   fmax_hz: float | None = None) -> np.ndarray:
    """Triangular mel filters ``[n_mels, n_fft // 2 + 1]`` (HTK mel: 2595 log10(1 + f/700))."""
    fmax_hz = fs / 2 if fmax_hz is None else fmax_hz

    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10 ** (np.asarray(m) / 2595.0) - 1.0)

    pts = hz(np.linspace(mel(fmin_hz), mel(fmax_hz), n_mels + 2))
    freqs = np.linspace(0, fs / 2, n_fft // 2 + 1)
    lo, ce, hi = pts[:-2, None], pts[1:-1, None], pts[2:, None]
    up = (freqs - lo) / np.maximum(ce - lo, 1e-9)
    down = (hi - freqs) / np.maximum(hi - ce, 1e-9)
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32)


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

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        if self.cfg.kind == "raw":
            peak = audio.abs().amax(-1, keepdim=True).clamp_min(1e-4)
            return (audio / peak).unsqueeze(1)
        spec = torch.stft(audio, self.cfg.n_fft, self.cfg.hop, window=self.window, center=False,
                          return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2                               # [B, bins, T]
        logmel = torch.log(self.mel @ power + 1e-12)
        ref = logmel.amax(dim=(1, 2), keepdim=True)
        floor = self.cfg.floor_db * math.log(10) / 10
        feats = (logmel - ref).clamp_min(-floor)
        if self.cfg.cmn:
            frame = feats.amax(dim=1, keepdim=True)                            # [B, 1, T]
            active = (frame > -40 * math.log(10) / 10).to(feats.dtype)
            mean = (feats * active).sum(-1, keepdim=True) / active.sum(-1, keepdim=True).clamp_min(1)
            feats = feats - mean
        return feats / 10.0
