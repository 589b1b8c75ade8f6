"""Synaptic-operation (SOP) energy accounting of spiking networks, counted with forward hooks.

The convention of the spiking-network literature (Horowitz, ISSCC 2014, 45 nm; used by the MAA
paper for its 9.58 µJ per inference):

- a **spiking** (binary) input to a weight layer costs one *accumulate* (AC, ``E_AC = 0.9 pJ``)
  per synapse it reaches: each spike times its fan-out, i.e. the number of (weight, output) pairs
  it enters — counted exactly here (borders of a padded convolution included) by convolving the
  input's non-zero mask with a kernel of ones, so ``SOPs = Σ_spikes fan-out``;
- a **non-spiking** (real-valued) input costs one *multiply-accumulate* (MAC, ``E_MAC = 4.6 pJ``)
  per weight × output, dense (zeros included: a MAC unit does not skip them);
- the **ANN** reference is the same network with every layer dense: all of its weight layers'
  MACs at ``E_MAC``. Dense counts charge every weight × output, the taps that fall on a
  convolution's zero padding included (NeuroBench's ``Dense`` leaves those out: 0.90 M of the MAA
  network's 12.40 M per frame, docs/nir.md).

Also reported, as an alternative for sparse real-valued inputs (e.g. log spike counts gated by an
attention map, mostly zeros): ``macs_nonzero``, the MACs that only the non-zero real inputs
trigger (each times its fan-out, as an event-driven MAC unit would do), and ``energy_nonzero_pj``
with them in place of the dense MACs. The convention (dense MACs) is the headline number.

What is counted: every ``nn.Conv1d``/``nn.Conv2d``/``nn.Linear`` call inside the model (any module
that runs through ``forward``), and the neurons' own dynamics for spiking layers that declare it:
a module with ``dense_ops_per_step()`` (MACs per neuron per step, e.g. the D-RF dendrites'
complex oscillators, neuroaudio.neurons) adds that many MACs per output element, in the SNN and
the ANN alike. Not counted (the convention, and small here): BatchNorm (folded into the weights
at inference), LIF membrane updates, pooling, element-wise gating, averaging. A tensor is
"spiking" when every element is 0 or 1.

Use::

    counter = OpCounter(model, spiking_layers={"block1": model.blocks[0].sn})
    with counter:
        model(x)                              # any number of calls
    report = counter.report(n_items=len(x))   # per item (e.g. per frame)

The same counter works for any torch network (MAA, KWS, D-RF); :mod:`neuroaudio.profile` holds
the per-model front ends.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

E_AC_PJ = 0.9
"""Energy of one accumulate (pJ), 32-bit float, 45 nm (Horowitz 2014)."""
E_MAC_PJ = 4.6
"""Energy of one multiply-accumulate (pJ), 32-bit float, 45 nm (Horowitz 2014)."""

WEIGHT_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Linear)


def energy_pj(acs: float, macs: float) -> float:
    """``E_AC·ACs + E_MAC·MACs`` (pJ)."""
    return E_AC_PJ * acs + E_MAC_PJ * macs


def is_binary(x: torch.Tensor) -> bool:
    """Whether every element of ``x`` is 0 or 1 (a spike tensor)."""
    return bool(((x == 0) | (x == 1)).all())


def dense_macs(layer: nn.Module, out: torch.Tensor) -> int:
    """MACs of one call of a Conv/Linear layer computing ``out`` densely (weights × outputs)."""
    if isinstance(layer, nn.Linear):
        return out.numel() * layer.in_features
    k = layer.in_channels // layer.groups
    for s in layer.kernel_size:
        k *= s
    return out.numel() * k


def fan_out_ops(layer: nn.Module, x: torch.Tensor) -> int:
    """Accumulates triggered by the non-zero elements of ``x`` in ``layer`` (exact, padding included).

    Linear: non-zeros × out_features. Conv: Σ over outputs of the non-zero inputs in its receptive
    field (per group) × out_channels per group, computed by convolving the non-zero mask with ones.
    """
    mask = (x != 0).to(torch.float32)
    if isinstance(layer, nn.Linear):
        return int(mask.sum().item()) * layer.out_features
    conv = F.conv1d if isinstance(layer, nn.Conv1d) else F.conv2d
    g = layer.groups
    per_group_out = layer.out_channels // g
    ones = torch.ones(g, layer.in_channels // g, *layer.kernel_size)
    padding = layer.padding if isinstance(layer.padding, str) else tuple(layer.padding)
    cover = conv(mask, ones, None, layer.stride, padding, layer.dilation, g)
    return int(round(cover.sum().item())) * per_group_out


@dataclass
class LayerOps:
    """Totals of one weight layer over the counted calls.

    Attributes:
        name: module path in the model. kind: ``conv``/``linear``, or ``neuron`` (a spiking
            layer's own dynamics, ``<name>.dynamics``).
        calls: forward calls. spiking_input: every call's input was binary.
        input_rate: non-zero fraction of the input elements.
        acs: accumulates (spiking input) — the SOPs. macs: multiply-accumulates (real input).
        macs_nonzero: the MACs of the non-zero real inputs only (× fan-out; module docstring).
        dense_macs: the MACs of the same layer run densely (the ANN reference).
    """

    name: str
    kind: str
    calls: int = 0
    spiking_input: bool = True
    input_nonzero: int = 0
    input_elems: int = 0
    acs: int = 0
    macs: int = 0
    macs_nonzero: int = 0
    dense_macs: int = 0

    @property
    def input_rate(self) -> float:
        return self.input_nonzero / max(self.input_elems, 1)


@dataclass
class Report:
    """Per-item (e.g. per-frame) firing rates, operations and energy (pJ) of counted calls."""

    n_items: int
    firing_rates: dict[str, float]
    layers: list[dict[str, Any]]
    sops: float
    macs: float
    energy_pj: float
    ann_macs: float
    ann_energy_pj: float
    macs_nonzero: float = 0.0
    energy_nonzero_pj: float = 0.0
    e_ac_pj: float = E_AC_PJ
    e_mac_pj: float = E_MAC_PJ
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """ANN energy / SNN energy (how many times less the spiking network needs)."""
        return self.ann_energy_pj / self.energy_pj if self.energy_pj else float("inf")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ann_over_snn": self.ratio}


class OpCounter:
    """Forward hooks counting ACs/MACs of every weight layer and the firing rate of spiking layers.

    Args:
        model: the network (hooks go on its Conv1d/Conv2d/Linear submodules).
        spiking_layers: ``{name: module}`` whose outputs are spikes; their firing rate = spikes /
            (neurons × steps) over all calls.

    Hooks are added on ``__enter__`` and removed on ``__exit__``; the model's computation is not
    changed (hooks only read inputs/outputs).
    """

    def __init__(self, model: nn.Module, spiking_layers: dict[str, nn.Module] | None = None):
        self.model = model
        self.spiking_layers = dict(spiking_layers or {})
        self.layers: dict[str, LayerOps] = {}
        self.spikes: dict[str, list[int]] = {k: [0, 0] for k in self.spiking_layers}
        self._handles: list[Any] = []

    def reset(self) -> None:
        self.layers.clear()
        self.spikes = {k: [0, 0] for k in self.spiking_layers}

    def __enter__(self) -> OpCounter:
        for name, mod in self.model.named_modules():
            if isinstance(mod, WEIGHT_LAYERS):
                self._handles.append(mod.register_forward_hook(self._weight_hook(name)))
        for name, mod in self.spiking_layers.items():
            self._handles.append(mod.register_forward_hook(self._spike_hook(name)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _weight_hook(self, name: str):
        def hook(mod: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            x = inputs[0].detach()
            rec = self.layers.setdefault(name, LayerOps(name, "linear" if isinstance(mod, nn.Linear)
                                                        else "conv"))
            dm = dense_macs(mod, out)
            rec.calls += 1
            rec.dense_macs += dm
            rec.input_elems += x.numel()
            rec.input_nonzero += int((x != 0).sum().item())
            if is_binary(x):
                rec.acs += fan_out_ops(mod, x)
            else:
                rec.spiking_input = False
                rec.macs += dm
                rec.macs_nonzero += fan_out_ops(mod, x)
        return hook

    def _spike_hook(self, name: str):
        def hook(mod: nn.Module, inputs: Any, out: torch.Tensor) -> None:
            s = out.detach()
            self.spikes[name][0] += int((s != 0).sum().item())
            self.spikes[name][1] += s.numel()
            ops = getattr(mod, "dense_ops_per_step", None)
            if callable(ops) and ops():                 # the neuron's own dynamics (MACs)
                rec = self.layers.setdefault(f"{name}.dynamics", LayerOps(f"{name}.dynamics", "neuron",
                                                                         spiking_input=False))
                macs = int(round(float(ops()) * s.numel()))
                rec.calls += 1
                rec.macs += macs
                rec.macs_nonzero += macs
                rec.dense_macs += macs
        return hook

    def report(self, n_items: int) -> Report:
        """Per-item averages over everything counted since the last :meth:`reset`."""
        n = max(int(n_items), 1)
        rates = {k: v[0] / v[1] if v[1] else float("nan") for k, v in self.spikes.items()}
        layers = []
        for rec in self.layers.values():
            layers.append({"name": rec.name, "kind": rec.kind, "calls": rec.calls,
                           "spiking_input": rec.spiking_input, "input_rate": rec.input_rate,
                           "acs": rec.acs / n, "macs": rec.macs / n, "dense_macs": rec.dense_macs / n,
                           "macs_nonzero": rec.macs_nonzero / n,
                           "energy_pj": energy_pj(rec.acs, rec.macs) / n,
                           "ann_energy_pj": E_MAC_PJ * rec.dense_macs / n})
        acs = sum(r.acs for r in self.layers.values()) / n
        macs = sum(r.macs for r in self.layers.values()) / n
        ann = sum(r.dense_macs for r in self.layers.values()) / n
        nz = sum(r.macs_nonzero for r in self.layers.values()) / n
        return Report(n, rates, layers, acs, macs, energy_pj(acs, macs), ann, E_MAC_PJ * ann, nz,
                      energy_pj(acs, nz))


def format_report(rep: Report, title: str = "") -> str:
    """Plain-text tables of a :class:`Report` (firing rates, per-layer operations, totals)."""
    lines = [title] if title else []
    lines.append(f"firing rate per spiking layer (spikes / neurons / steps), {rep.n_items} items:")
    for k, v in rep.firing_rates.items():
        lines.append(f"  {k:<24}{100 * v:8.2f}%")
    lines.append(f"{'layer':<28}{'input':>8}{'in rate':>9}{'SOPs':>12}{'MACs':>12}{'ANN MACs':>12}"
                 f"{'E (nJ)':>9}{'ANN E (nJ)':>11}")
    for r in rep.layers:
        kind = "neuron" if r["kind"] == "neuron" else ("spikes" if r["spiking_input"] else "real")
        rate = "      -  " if r["kind"] == "neuron" else f"{100 * r['input_rate']:8.1f}%"
        lines.append(f"{r['name']:<28}{kind:>8}"
                     f"{rate}{r['acs']:12.4g}{r['macs']:12.4g}{r['dense_macs']:12.4g}"
                     f"{r['energy_pj'] / 1e3:9.2f}{r['ann_energy_pj'] / 1e3:11.2f}")
    lines.append(f"per item: SOPs {rep.sops:.4g} (x {E_AC_PJ} pJ) + MACs {rep.macs:.4g} (x {E_MAC_PJ} pJ) "
                 f"= {rep.energy_pj / 1e6:.3f} uJ; ANN: MACs {rep.ann_macs:.4g} = "
                 f"{rep.ann_energy_pj / 1e6:.3f} uJ; ANN/SNN {rep.ratio:.1f}x")
    if rep.macs:
        lines.append(f"  (MACs of the non-zero real inputs only, event-driven: {rep.macs_nonzero:.4g} -> "
                     f"{rep.energy_nonzero_pj / 1e6:.3f} uJ, ANN/SNN "
                     f"{rep.ann_energy_pj / max(rep.energy_nonzero_pj, 1e-12):.1f}x)")
    return "\n".join(lines)
