"""The MAA spiking network (Zhang et al., NeurIPS 2024), built of LIF neurons.

Input: RF-PLC coincidence frames ``[B, T, pairs, delays, bands]`` (counts); the mic pairs are the
channels and (delays, bands) the two spatial axes of every 2-D convolution. Internally time comes
first: ``[T, B, C, D, F]``; convolutions and BatchNorm run on all steps at once (``T·B`` images),
LIF neurons step through the T steps (:class:`neuroaudio.neurons.lif.LIF`).

Pipeline::

    x = log1p(sumpool(counts, input_pool))     [T, B, P, D/pd, F/pf]   (input_pool = (1, 1): none)
    x = FSJA(x)        (optional)              spiking attention map gates x element-wise
    s = ST-M(x)        (or In[t] if off)       [T, B, C0, D, F] spikes
    s = ConvBlock(s) × (len(channels) − 1)     conv3×3 + BN + LIF + max-pool 2×2
    y = Linear(flatten(s))                     [T, B, 360] logits (1° bins)

Choices (the paper's text leaves them open; written down here and in docs/maa.md):

- Input scaling ``log1p(counts)``: counts grow with the number of RF neurons in a band (high bands
  hold more), the log keeps the bands comparable before the first BatchNorm.
- FSJA: the input is averaged over the delay axis (a frequency profile per pair, ``[P, 1, F]``)
  and over the band axis (a delay profile per pair, ``[P, D, 1]``); each profile passes a
  1-D convolution (kernel 3, across pairs) + BatchNorm, the two are added by broadcasting into a
  joint frequency × delay map, and a LIF neuron turns it into a binary map ``A`` that gates the
  input, ``x·A`` (a selection, no multiplication on spiking hardware). The attention BatchNorm
  biases start at V_th/2 each (their sum at the threshold), so about half the gate is open at start.
- ST-M: ``In[t] = SN(ConvBN(X[t]))``, ``ST[t] = SN(α·ConvBN_r(ST[t−1]) + (1−α)·In[t])`` with
  α = 3/7 (the authors' code), ``ST[−1] = 0``; both SN are LIF neurons (leak τ) whose membranes
  run over t. Without ST-M the block is ``In[t]`` alone (no recurrent conv). The recurrent
  BatchNorm's bias starts at :func:`stm_rec_bias` (≈1.1 V_th) instead of 0: with (1−α) < V_th a
  lone ``In`` spike could not fire ST, so ST started silent and training crawled (measured in
  docs/maa.md); with this start ST ≈ In at first and the recurrence is learnt from there.
- ``input_pool = (pd, pf)``: optional sum of ``pd`` adjacent delay detectors and ``pf`` adjacent
  bands before everything else (ceil mode: a last partial group is summed too). Summing two
  neighbouring coincidence detectors is one detector of twice the delay width (it fires when
  either does); this makes the network's maps smaller, hence cheaper, at the price of coarser delay
  resolution. Measured against the full resolution in docs/maa.md: at the full budget the
  paper's 51 detectors over-fit and are no more accurate, at twice the network's CPU.
- Max pooling after the spikes keeps the activations binary.
- Read-out: a linear layer per step (no spiking), so the T outputs can be averaged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import InputError
from ..neurons.lif import LIF, lif_step

N_AZIMUTH = 360


@dataclass(frozen=True)
class MAAConfig:
    """Network hyper-parameters.

    Attributes:
        channels: C0 (the ST-M output) then the output channels of each conv block
            (the authors' code: 6 → 12 → 24 → 48).
        fsja: use Frequency-Spatial Joint Attention. stm: use Short-Term Memory.
        alpha: ST-M memory weight (3/7 in the authors' code).
        tau: LIF leak factor per step. v_th: LIF threshold.
        surrogate: surrogate-gradient shape (neurons.surrogate).
        n_azimuth: output bins over [0, 360) (360 = 1°).
        dropout: dropout before the read-out (0 = none).
        input_pool: ``(delays, bands)`` group sizes summed at the input (module docstring).
    """

    channels: tuple[int, ...] = (6, 12, 24, 48)
    fsja: bool = True
    stm: bool = True
    alpha: float = 3.0 / 7.0
    tau: float = 0.5
    v_th: float = 1.0
    surrogate: str = "atan"
    n_azimuth: int = N_AZIMUTH
    dropout: float = 0.0
    input_pool: tuple[int, int] = (1, 1)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        d["input_pool"] = list(self.input_pool)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> MAAConfig:
        d = dict(d or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"model config: unknown key(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        if "channels" in d:
            d["channels"] = tuple(int(c) for c in d["channels"])
            if len(d["channels"]) < 1 or min(d["channels"]) < 1:
                raise InputError("model.channels: give at least one positive channel count, "
                                 "e.g. [6, 12, 24, 48]")
        if "input_pool" in d:
            d["input_pool"] = tuple(int(c) for c in d["input_pool"])
            if len(d["input_pool"]) != 2 or min(d["input_pool"]) < 1:
                raise InputError("model.input_pool: give two group sizes >= 1 (delays, bands), e.g. [2, 1]")
        return cls(**d)


def sum_pool(x: torch.Tensor, pd: int, pf: int) -> torch.Tensor:
    """``[..., D, F]`` → ``[..., ceil(D/pd), ceil(F/pf)]``: sums of ``pd × pf`` neighbours (zero-padded)."""
    d, f = x.shape[-2:]
    x = nn.functional.pad(x, (0, -f % pf, 0, -d % pd))
    d2, f2 = x.shape[-2] // pd, x.shape[-1] // pf
    return x.reshape(*x.shape[:-2], d2, pd, f2, pf).sum(dim=(-3, -1))


def _tb(fn, x: torch.Tensor) -> torch.Tensor:
    """Apply a per-image module to ``[T, B, ...]`` by folding T into the batch."""
    t, b = x.shape[:2]
    y = fn(x.reshape(t * b, *x.shape[2:]))
    return y.reshape(t, b, *y.shape[1:])


class FSJA(nn.Module):
    """Frequency-Spatial Joint Attention: a binary map from delay and band profiles gates the input.

    ``x [T, B, C, D, F]`` → ``x · A``, ``A = LIF(BN(conv_f(mean_D x)) ⊕ BN(conv_d(mean_F x)))``
    where ⊕ adds ``[C, 1, F]`` and ``[C, D, 1]`` by broadcasting.
    """

    def __init__(self, channels: int, tau: float, v_th: float, surrogate: str):
        super().__init__()
        self.conv_f = nn.Conv1d(channels, channels, 3, padding=1, bias=False)
        self.bn_f = nn.BatchNorm1d(channels)
        self.conv_d = nn.Conv1d(channels, channels, 3, padding=1, bias=False)
        self.bn_d = nn.BatchNorm1d(channels)
        for bn in (self.bn_f, self.bn_d):
            nn.init.constant_(bn.bias, 0.5 * v_th)     # the sum starts near threshold: gate half open
        self.sn = LIF(tau=tau, v_th=v_th, surrogate=surrogate)
        self.last_map: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f_prof = _tb(lambda z: self.bn_f(self.conv_f(z)), x.mean(dim=3))     # [T, B, C, F]
        d_prof = _tb(lambda z: self.bn_d(self.conv_d(z)), x.mean(dim=4))     # [T, B, C, D]
        joint = d_prof.unsqueeze(-1) + f_prof.unsqueeze(-2)                  # [T, B, C, D, F]
        a = self.sn(joint)
        self.last_map = a.detach()
        return x * a


def stm_rec_bias(alpha: float, v_th: float, margin: float = 0.1) -> float:
    """Initial bias of ST-M's recurrent BatchNorm: ``α·b + (1 − α) = V_th + α·margin`` (a lone
    ``In`` spike fires ST; see :class:`STM`)."""
    return (v_th - (1.0 - alpha)) / alpha + margin


class STM(nn.Module):
    """Short-Term Memory: ``ST[t] = SN(α·ConvBN_r(ST[t−1]) + (1−α)·In[t])``, ``In[t] = SN(ConvBN(X[t]))``.

    With ``memory=False`` it returns ``In[t]`` (the ablation).
    """

    def __init__(self, c_in: int, c_out: int, alpha: float, tau: float, v_th: float, surrogate: str,
                 memory: bool = True):
        super().__init__()
        self.conv_in = nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))
        self.sn_in = LIF(tau=tau, v_th=v_th, surrogate=surrogate)
        self.memory = memory
        self.alpha, self.tau, self.v_th, self.surrogate = alpha, tau, v_th, surrogate
        if memory:
            self.conv_rec = nn.Sequential(nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
                                          nn.BatchNorm2d(c_out))
            # (1 - α) = 0.57 < V_th: an In spike alone cannot fire ST, and ST[-1] = 0 gives the
            # recurrent BN only its bias, so with a zero bias ST stays silent at the start and the
            # network learns only through surrogate gradients of a silent layer (measured: 3x slower,
            # docs/maa.md). The bias starts where a lone In spike just fires ST, while the bias alone
            # (0.47 V_th, leak τ) never reaches the threshold within the T steps.
            nn.init.constant_(self.conv_rec[1].bias, stm_rec_bias(alpha, v_th))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inp = self.sn_in(_tb(self.conv_in, x))                        # In[t], [T, B, C, D, F]
        if not self.memory:
            return inp
        st = torch.zeros_like(inp[0])
        h = torch.zeros_like(inp[0])
        out = []
        for t in range(inp.shape[0]):                                 # T steps (e.g. 4)
            drive = self.alpha * self.conv_rec(st) + (1 - self.alpha) * inp[t]
            st, h = lif_step(drive, h, self.tau, self.v_th, 0.0, self.surrogate)
            out.append(st)
        return torch.stack(out)


class ConvBlock(nn.Module):
    """conv3×3 + BN + LIF + max-pool 2×2 (ceil mode, so odd sizes keep their last row)."""

    def __init__(self, c_in: int, c_out: int, tau: float, v_th: float, surrogate: str):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))
        self.sn = LIF(tau=tau, v_th=v_th, surrogate=surrogate)
        self.pool = nn.MaxPool2d(2, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _tb(self.pool, self.sn(_tb(self.conv, x)))


@dataclass
class SpikeStats:
    """Firing rates per spiking layer of the last forward (fraction of neurons × steps)."""

    rates: dict[str, float] = field(default_factory=dict)


class MAANet(nn.Module):
    """The MAA network for RF-PLC input of ``pairs × delays × bands``.

    ``forward(x)`` with ``x [B, T, pairs, delays, bands]`` → logits ``[T, B, n_azimuth]``.
    :meth:`predict_proba` → time-averaged softmax ``[B, n_azimuth]``.
    """

    def __init__(self, cfg: MAAConfig, n_pairs: int, n_delays: int, n_bands: int):
        super().__init__()
        self.cfg = cfg
        self.input_shape = (n_pairs, n_delays, n_bands)
        ch = cfg.channels
        pd, pf = cfg.input_pool
        self.pool_in = (pd, pf) if (pd, pf) != (1, 1) else None
        n_delays, n_bands = -(-n_delays // pd), -(-n_bands // pf)
        self.fsja = FSJA(n_pairs, cfg.tau, cfg.v_th, cfg.surrogate) if cfg.fsja else None
        self.stm = STM(n_pairs, ch[0], cfg.alpha, cfg.tau, cfg.v_th, cfg.surrogate, memory=cfg.stm)
        self.blocks = nn.ModuleList(ConvBlock(a, b, cfg.tau, cfg.v_th, cfg.surrogate)
                                    for a, b in zip(ch[:-1], ch[1:], strict=True))
        d, f = n_delays, n_bands
        for _ in self.blocks:
            d, f = -(-d // 2), -(-f // 2)
        self.feature_shape = (ch[-1], d, f)
        self.dropout = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        self.readout = nn.Linear(ch[-1] * d * f, cfg.n_azimuth)
        self.stats = SpikeStats()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5 or tuple(x.shape[2:]) != self.input_shape:
            raise InputError(f"MAA input of shape {list(x.shape)}: expected [batch, T, "
                             f"{', '.join(map(str, self.input_shape))}] (pairs, delays, bands); the "
                             "encoder settings must match the model's")
        x = x.float().clamp_min(0)
        if self.pool_in is not None:                                    # sum of neighbouring detectors
            x = sum_pool(x, *self.pool_in)
        x = torch.log1p(x).transpose(0, 1)                              # [T, B, P, D, F]
        rates = {}
        if self.fsja is not None:
            x = self.fsja(x)
            rates["fsja"] = float(self.fsja.last_map.mean())
        s = self.stm(x)
        rates["stm"] = float(s.detach().mean())
        for i, blk in enumerate(self.blocks):
            s = blk(s)
            rates[f"block{i + 1}"] = float(s.detach().mean())
        self.stats = SpikeStats(rates)
        t, b = s.shape[:2]
        return self.readout(self.dropout(s.reshape(t, b, -1)))

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax over the azimuth bins averaged over the T steps, ``[B, n_azimuth]``."""
        return torch.softmax(self.forward(x), dim=-1).mean(dim=0)
