"""Residual spiking keyword network: D-RF blocks (or a baseline neuron), time-mean readout.

Shapes: features ``[B, F, T]`` -> logits ``[B, K]``.

    stem:   1×1 conv F→W + BatchNorm (+ average pool by ``pool`` steps)
    block:  x ← x + BN(conv1×1(LIF(BN(conv1×1(neuron(x))))))          × depth
            neuron = D-RF (or RF / BRF / ALIF: ``model.neuron``), LIF = ``model.spiking_neuron``
    head:   mean over time of x, dropout, linear W→K

Both 1×1 convs of a block receive spikes only (accumulate operations on neuromorphic hardware);
the stem and the dendrites receive real values (multiply-accumulates). :meth:`KWSNet.forward`
also returns each spiking layer's spikes for firing rates and the SOP energy estimate.
"""

from __future__ import annotations

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


class KWSNet(nn.Module):
    """Features ``[B, F, T]`` -> (logits ``[B, K]``, spikes of every spiking layer ``[B, W, T']``)."""

    def __init__(self, cfg: ModelConfig, n_features: int, n_classes: int):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.stem = nn.Sequential(nn.Conv1d(n_features, w, 1, bias=False), nn.BatchNorm1d(w))
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
        x = self.pool(self.stem(feats))
        spikes: list[torch.Tensor] = []
        for blk in self.blocks:
            x, s = blk(x)
            spikes += s
        return x.mean(-1), spikes

    def spiking_layers(self) -> list[nn.Module]:
        out = []
        for blk in self.blocks:
            out += [blk.neuron, blk.lif]
        return out

    def energy_pj(self, n_features: int, steps_in: int, spikes: list[torch.Tensor]) -> dict[str, float]:
        """SOP energy estimate per clip (mean over the batch), E_AC = 0.9 pJ, E_MAC = 4.6 pJ.

        MACs: stem (F·W per input step), neuron dynamics (``dense_ops_per_step`` per neuron per
        step), head. ACs: each spike reaching a 1×1 conv costs W accumulates (fan-out), plus the
        residual additions and the time-mean. Also the MACs of the same network with dense
        (non-spiking) activations, for comparison.
        """
        w, k = self.cfg.width, self.head.out_features
        steps = spikes[0].shape[-1] if spikes else steps_in
        macs = n_features * w * steps_in + w * k
        acs = 0.0
        for layer, s in zip(self.spiking_layers(), spikes, strict=True):
            macs += layer.dense_ops_per_step() * w * steps
            acs += float(s.sum()) / s.shape[0] * w
        acs += (len(self.blocks) + 1) * w * steps
        dense_macs = macs + 2 * len(self.blocks) * w * w * steps
        e = E_MAC_PJ * macs + E_AC_PJ * acs
        return {"mac": macs, "ac": acs, "energy_pj": e, "energy_dense_pj": E_MAC_PJ * dense_macs + E_AC_PJ
                * (len(self.blocks) + 1) * w * steps}
