"""The speech-oriented mask network: log-spectrogram of a frame → time-frequency mask in [0, 1].

Input ``[n, S, K]``: log10 power (mean over mics) of the frame's STFT snapshots (``S`` ≈ 9
snapshots of 32 ms, ``K`` bins of 31.25 Hz from ``fmin_hz`` to ``fmax_hz``). Each frame is
standardised (zero mean, unit deviation over its snapshots and bins), so the mask does not depend
on the recording level, and a second input channel carries the bin's frequency (−1 … 1) so that
the network can treat low and high bands differently.

Architecture (a choice; the paper's network is not described in the abstract): a stack of 2-D
convolutions over (time, frequency) with kernels of 3 snapshots × 5 bins whose *frequency*
dilation doubles per layer (1, 2, 4, 8, ...). With 4 layers the receptive field spans 61 bins
(≈ 1.9 kHz) × 9 snapshots: wide enough to see several harmonics of a voice and their spacing
(F0), i.e. to tell a harmonic comb from noise, while staying small (≈ 6 k parameters with 12
channels). A 1×1 convolution and a sigmoid give the mask; its bias starts at +1 (mask ≈ 0.73
everywhere) so that an untrained mask is close to plain PHAT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ..errors import InputError
from ..train.config_section import ConfigSection


@dataclass(frozen=True)
class MaskConfig(ConfigSection):
    """Mask network size (the ``model.mask`` section of a config)."""

    section: ClassVar[str] = "model.mask"

    channels: int = 12
    """Convolution channels per layer."""
    layers: int = 4
    """Dilated convolutions; the frequency dilation doubles per layer (1, 2, 4, ...)."""
    kernel_t: int = 3
    """Kernel height in STFT snapshots (odd)."""
    kernel_f: int = 5
    """Kernel width in frequency bins (odd)."""

    def __post_init__(self) -> None:
        if self.channels < 1 or self.layers < 1 or self.kernel_t % 2 == 0 or self.kernel_f % 2 == 0:
            raise InputError("mask: channels and layers must be >= 1 and kernels odd, e.g. channels=12 "
                             "layers=4 kernel_t=3 kernel_f=5")

    def receptive_field_bins(self) -> int:
        return 1 + sum((self.kernel_f - 1) * 2 ** k for k in range(self.layers))


class MaskNet(nn.Module):
    """``logpow [n, S, K]`` → ``mask [n, S, K]`` in (0, 1) (module docstring)."""

    def __init__(self, cfg: MaskConfig):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        c_in = 2
        for k in range(cfg.layers):
            d = 2 ** k
            layers += [nn.Conv2d(c_in, cfg.channels, (cfg.kernel_t, cfg.kernel_f), dilation=(1, d),
                                 padding=(cfg.kernel_t // 2, d * (cfg.kernel_f // 2))), nn.ReLU()]
            c_in = cfg.channels
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(c_in, 1, 1)
        nn.init.constant_(self.head.bias, 1.0)

    def logits(self, logpow: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid mask ``[n, S, K]``."""
        x = logpow - logpow.mean(dim=(1, 2), keepdim=True)
        x = x / x.std(dim=(1, 2), keepdim=True).clamp_min(1e-3)
        n, s, k = x.shape
        pos = torch.linspace(-1.0, 1.0, k, device=x.device, dtype=x.dtype).expand(n, s, k)
        h = self.body(torch.stack([x, pos], dim=1))
        return self.head(h)[:, 0]

    def forward(self, logpow: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(logpow))
