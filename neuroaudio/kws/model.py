"""Residual spiking keyword network: D-RF blocks (or a baseline neuron), time-mean readout.

Shapes: features ``[B, F, T]`` -> logits ``[B, K]``.

    front:  optional (``model.stem: conv2d``) spiking 2-D convolutions over (mel, time),
            :class:`ConvStem2d`: F mel bands → C·F' spike channels, causal in time
    stem:   1×1 conv F→W (or C·F'→W) + BatchNorm (+ average pool by ``pool`` steps)
    block:  x ← x + BN(conv1×1(LIF(BN(conv1×1(neuron(x))))))          × depth
            neuron = D-RF (or RF / BRF / ALIF: ``model.neuron``), LIF = ``model.spiking_neuron``
    head:   mean over time of x, dropout, linear W→K

Both 1×1 convs of a block receive spikes only (accumulate operations on neuromorphic hardware);
the stem and the dendrites receive real values (multiply-accumulates). :meth:`KWSNet.forward`
also returns each spiking layer's spikes for firing rates and the SOP energy estimate.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..energy import E_AC_PJ, E_MAC_PJ  # the one definition (neuroaudio/energy.py)
from ..neurons.layer import make_spiking_layer
from .config import ModelConfig


def _neuron_kwargs(kind: str, kwargs: dict) -> dict:
    out = dict(kwargs)
    for k in ("tau_range", "freq_range", "omega_range", "b_offset_range", "tau_mem_range", "tau_adapt_range"):
        if k in out:
            out[k] = tuple(out[k])
    return out


class Block(nn.Module):
    """One residual block (see module docstring). ``[B, W, T]`` -> ``[B, W, T]``."""

    def __init__(self, width: int, neuron: str, neuron_kwargs: dict, spiking_neuron: str):
        super().__init__()
        self.neuron = make_spiking_layer(neuron, width, **_neuron_kwargs(neuron, neuron_kwargs))
        self.conv1 = nn.Conv1d(width, width, 1, bias=False)
        self.bn1 = nn.BatchNorm1d(width)
        self.lif = make_spiking_layer(spiking_neuron, width)
        self.conv2 = nn.Conv1d(width, width, 1, bias=False)
        self.bn2 = nn.BatchNorm1d(width)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        s1 = self.neuron(x)
        s2 = self.lif(self.bn1(self.conv1(s1)))
        return x + self.bn2(self.conv2(s2)), [s1, s2]


class ConvStem2d(nn.Module):
    """Spiking 2-D convolution front over (mel band, time): ``feats [B, F, T]`` -> spikes
    ``[B, C·F', T]`` (channel-major: index c·F' + f), plus each layer's spikes ``[B, C_l·F_l, T]``.

    Per layer l: ``Conv2d(C_{l-1} → C_l, kernel k × k, stride (freq_stride, 1))`` over (mel, time),
    BatchNorm2d, then a spiking layer (``model.spiking_neuron``, default LIF) with one neuron per
    (channel, band) pair. Padding: ``k // 2`` bands on each side in frequency; ``k − 1`` frames on the
    *past* side only in time, so the output at frame t depends on frames ≤ t (causal: streamable
    block by block, :meth:`stream`). The kernels are shared over frequency: a formant pattern
    shifted by a few bands (another vocal tract, speed perturbation) gives the same response a few
    bands away, which a dense first layer over all bands does not. Layer 1 receives real values
    (MACs); every later layer and the 1×1 stem after the front receive spikes (ACs).
    With ``spiking=False`` (``model.stem_spiking: false``, an ablation) each layer ends in a ReLU
    instead: real values all the way to the 1×1 stem (all MACs), no spiking layers in the front.
    """

    def __init__(self, n_features: int, channels: list[int], kernel: int = 3, freq_stride: int = 2,
                 spiking_neuron: str = "lif", spiking: bool = True):
        super().__init__()
        self.spiking = bool(spiking)
        self.kernel, self.freq_stride = int(kernel), int(freq_stride)
        self.convs, self.bns, self.lifs = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        self.bands: list[int] = []                       # F_l, mel positions after layer l
        c_in, f = 1, n_features
        for c in channels:
            self.convs.append(nn.Conv2d(c_in, c, (self.kernel, self.kernel), stride=(self.freq_stride, 1),
                                        padding=(self.kernel // 2, 0), bias=False))
            self.bns.append(nn.BatchNorm2d(c))
            f = (f + 2 * (self.kernel // 2) - self.kernel) // self.freq_stride + 1
            if self.spiking:
                self.lifs.append(make_spiking_layer(spiking_neuron, c * f))
            self.bands.append(f)
            c_in = c
        self.channels = [int(c) for c in channels]
        self.out_features = self.channels[-1] * self.bands[-1]

    def _layer(self, i: int, h: torch.Tensor, past: torch.Tensor | None, lif_state: Any
               ) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """Layer i on ``h [B, C, F, T]`` with the previous ``k − 1`` input frames ``past`` (None:
        zeros) -> (spikes ``[B, C_i, F_i, T]`` (ReLU values when not ``spiking``), the new past, the
        spiking layer's new state)."""
        k = self.kernel
        if past is None:
            past = h.new_zeros(*h.shape[:-1], k - 1)
        x = torch.cat([past, h], dim=-1)
        new_past = x[..., x.shape[-1] - (k - 1):]
        a = self.bns[i](self.convs[i](x))                                        # [B, C_i, F_i, T]
        b, c, f, t = a.shape
        if not self.spiking:
            return torch.relu(a), new_past, None
        if lif_state is None:
            s = self.lifs[i](a.reshape(b, c * f, t))
            new_state = None
        else:
            s, new_state = self.lifs[i].stream(a.reshape(b, c * f, t), lif_state)
        return s.reshape(b, c, f, t), new_past, new_state

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``feats [B, F, T]`` from rest -> (spikes ``[B, C·F', T]``, per-layer spikes)."""
        h = feats.unsqueeze(1)
        spikes: list[torch.Tensor] = []
        for i in range(len(self.convs)):
            h, _, _ = self._layer(i, h, None, None)
            if self.spiking:
                spikes.append(h.flatten(1, 2))
        return h.flatten(1, 2), spikes

    def init_state(self, batch: int, device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float32) -> dict[str, list]:
        """Rest: zero past frames (as the causal padding) and rest states of the spiking layers."""
        return {"past": [None] * len(self.convs),
                "lif": [lif.init_state(batch, device, dtype) for lif in self.lifs] if self.spiking
                else [None] * len(self.convs)}

    def stream(self, feats: torch.Tensor, state: dict[str, list]
               ) -> tuple[torch.Tensor, list[torch.Tensor], dict[str, list]]:
        """A block ``feats [B, F, T]`` after ``state`` -> (spikes ``[B, C·F', T]``, per-layer
        spikes, new state). Consecutive blocks give :meth:`forward` of their concatenation (eval
        mode: BatchNorm with running statistics)."""
        h = feats.unsqueeze(1)
        spikes: list[torch.Tensor] = []
        past, lif = list(state["past"]), list(state["lif"])
        for i in range(len(self.convs)):
            h, past[i], lif[i] = self._layer(i, h, past[i], lif[i] if self.spiking else None)
            if self.spiking:
                spikes.append(h.flatten(1, 2))
        return h.flatten(1, 2), spikes, {"past": past, "lif": lif}

    def fan_outs(self, width: int) -> list[float]:
        """Accumulates one spike of each layer costs: the next conv's ``C_next · k · k / stride``
        (a band feeds ``k / stride`` output bands on average), the last layer's the 1×1 stem's W."""
        nxt = [c * self.kernel * self.kernel / self.freq_stride for c in self.channels[1:]]
        return [*nxt, float(width)]

    def macs_per_step(self, dense: bool = False) -> float:
        """Multiply-accumulates per time step: layer 1 (real input); with ``dense`` also the later
        layers (as if their inputs were real values, for the dense comparison)."""
        k2 = self.kernel * self.kernel
        ops, c_in = 0.0, 1
        for i, (c, f) in enumerate(zip(self.channels, self.bands, strict=True)):
            if i == 0 or dense:
                ops += c * f * c_in * k2
            c_in = c
        return ops


STEMS = ("none", "conv2d")
"""``model.stem`` choices: the plain 1×1 stem, or :class:`ConvStem2d` in front of it."""


class KWSNet(nn.Module):
    """Features ``[B, F, T]`` -> (logits ``[B, K]``, spikes of every spiking layer ``[B, W, T']``)."""

    def __init__(self, cfg: ModelConfig, n_features: int, n_classes: int):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.front: ConvStem2d | None = None
        if cfg.stem == "conv2d":
            self.front = ConvStem2d(n_features, cfg.stem_channels, cfg.stem_kernel, cfg.stem_freq_stride,
                                    cfg.spiking_neuron, cfg.stem_spiking)
        n_in = self.front.out_features if self.front is not None else n_features
        self.stem = nn.Sequential(nn.Conv1d(n_in, w, 1, bias=False), nn.BatchNorm1d(w))
        self.pool = nn.AvgPool1d(cfg.pool) if cfg.pool > 1 else nn.Identity()
        self.blocks = nn.ModuleList(Block(w, cfg.neuron, cfg.neuron_kwargs, cfg.spiking_neuron)
                                    for _ in range(cfg.depth))
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(w, n_classes)

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        emb, spikes = self.embed(feats)
        return self.head(self.dropout(emb)), spikes

    def embed(self, feats: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The read-out's input, the time-mean of the last block ``[B, W]``, and the spikes."""
        spikes: list[torch.Tensor] = []
        if self.front is not None:
            feats, spikes = self.front(feats)
        x = self.pool(self.stem(feats))
        for blk in self.blocks:
            x, s = blk(x)
            spikes += s
        return x.mean(-1), spikes

    def spiking_layers(self) -> list[nn.Module]:
        out = list(self.front.lifs) if self.front is not None else []
        for blk in self.blocks:
            out += [blk.neuron, blk.lif]
        return out

    def energy_pj(self, n_features: int, steps_in: int, spikes: list[torch.Tensor]) -> dict[str, float]:
        """SOP energy estimate per clip (mean over the batch), E_AC = 0.9 pJ, E_MAC = 4.6 pJ.

        MACs: stem (F·W per input step; with the 2-D front its first convolution instead, the 1×1
        stem then receives spikes), neuron dynamics (``dense_ops_per_step`` per neuron per step),
        head. ACs: each spike reaching a convolution costs its fan-out (W for a 1×1 conv; in the
        2-D front :meth:`ConvStem2d.fan_outs`), plus the residual additions and the time-mean.
        Also the MACs of the same network with dense (non-spiking) activations, for comparison.
        """
        w, k = self.cfg.width, self.head.out_features
        steps = spikes[-1].shape[-1] if spikes else steps_in
        fan = [float(w)] * (2 * len(self.blocks))
        if self.front is not None and not self.front.spiking:       # real values into the 1×1 stem
            macs = (self.front.macs_per_step(dense=True) + self.front.out_features * w) * steps_in + w * k
            dense_extra = 0.0
        elif self.front is not None:
            fan = self.front.fan_outs(w) + fan
            macs = self.front.macs_per_step() * steps_in + w * k
            dense_extra = (self.front.macs_per_step(dense=True) - self.front.macs_per_step()
                           + self.front.out_features * w) * steps_in
        else:
            macs = n_features * w * steps_in + w * k
            dense_extra = 0.0
        acs = 0.0
        for layer, s, f in zip(self.spiking_layers(), spikes, fan, strict=True):
            macs += layer.dense_ops_per_step() * s.shape[1] * s.shape[-1]
            acs += float(s.sum()) / s.shape[0] * f
        acs += (len(self.blocks) + 1) * w * steps
        dense_macs = macs + 2 * len(self.blocks) * w * w * steps + dense_extra
        e = E_MAC_PJ * macs + E_AC_PJ * acs
        return {"mac": macs, "ac": acs, "energy_pj": e, "energy_dense_pj": E_MAC_PJ * dense_macs + E_AC_PJ
                * (len(self.blocks) + 1) * w * steps}
