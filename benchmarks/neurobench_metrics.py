"""NeuroBench metrics of the shipped spiking models, beside `neuroaudio profile` (docs/nir.md).

NeuroBench (neurobench 2.3, ``Benchmark`` with its own static and workload metrics) runs on our
torch models as they are (``TorchModel``), with our spiking neuron classes registered as its
activation modules, so its counts and ours (``neuroaudio profile``) see the same layers:

- footprint (bytes of parameters + buffers), connection sparsity (zero weights / weights),
- activation sparsity (silent outputs of the spiking layers / outputs),
- synaptic operations per sample: ``Dense`` (every weight × output), ``Effective_MACs`` (layers
  whose input is not binary: non-zero inputs × non-zero weights), ``Effective_ACs`` (binary input).

MAA: every frame of the example recording (numbers per 170-ms frame). KWS: the first ``--clips``
FSDD recordings of ``--speaker`` (numbers per 1-s clip; ``--root`` or $NEUROAUDIO_FSDD), else the
example recording's talker at 8 kHz in 1-s clips; each recording fitted into the clip as
``neuroaudio kws`` and ``neuroaudio profile`` do (centred, ``kws.data.place``).

Beside each, ``profile``: our own counter (:class:`neuroaudio.energy.OpCounter`, what ``neuroaudio
profile`` reports for the network) on the same input tensors, with the dense count also without
the padded border taps of convolutions (``ann_macs_unpadded``, NeuroBench's ``Dense`` convention;
docs/nir.md traces the differences).

    OMP_NUM_THREADS=1 python -m benchmarks.neurobench_metrics --root FSDD/recordings \
        --json runs/perf/neurobench.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "data" / "examples" / "respeaker4_az120.wav"


class _Frames(torch.nn.Module):
    """MAA counts ``[B, T, P, D, F]`` → per-frame mean logits ``[B, 360]``."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).mean(0)


class _Clips(torch.nn.Module):
    """KWS features ``[B, F, T]`` → logits ``[B, K]``."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[0]


def _profile(net: torch.nn.Module, layers: dict[str, torch.nn.Module], x: torch.Tensor) -> dict:
    """Our counter's per-item network numbers on ``x`` (batches of 16, as NeuroBench's loader)."""
    from neuroaudio.energy import WEIGHT_LAYERS, OpCounter, fan_out_ops

    unpadded = [0]

    def hook(mod, inputs, out):        # taps inside the input: convolve all-ones with ones
        unpadded[0] += fan_out_ops(mod, torch.ones_like(inputs[0]))

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, WEIGHT_LAYERS)]
    counter = OpCounter(net, layers)
    with counter, torch.no_grad():
        for s in range(0, len(x), 16):
            net(x[s:s + 16])
    for h in handles:
        h.remove()
    rep = counter.report(len(x))
    dyn = sum(r["macs"] for r in rep.layers if r["kind"] == "neuron")
    return {"sops": rep.sops, "macs": rep.macs, "macs_nonzero": rep.macs_nonzero,
            "neuron_dynamics_macs": dyn, "ann_macs": rep.ann_macs,
            "ann_macs_unpadded": unpadded[0] / len(x) + dyn, "energy_uj": rep.energy_pj / 1e6}


def _run(net: torch.nn.Module, spiking: tuple[type, ...], x: torch.Tensor, y: torch.Tensor,
         accuracy: bool) -> dict:
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint, ParameterCount
    from neurobench.metrics.workload import ActivationSparsity, ClassificationAccuracy, SynapticOperations
    from neurobench.models import TorchModel

    model = TorchModel(net)
    for cls in spiking:
        model.add_activation_module(cls)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    work = [ActivationSparsity, SynapticOperations] + ([ClassificationAccuracy] if accuracy else [])
    bench = Benchmark(model, loader, [], [lambda p: p.argmax(-1)],
                      [[Footprint, ConnectionSparsity, ParameterCount], work])
    return bench.run(quiet=True)


def maa_metrics() -> dict:
    import soundfile as sf

    from neuroaudio.localize.maa import MAALocalizer
    from neuroaudio.neurons.lif import LIF

    loc = MAALocalizer("respeaker4")
    audio, _ = sf.read(EXAMPLE, dtype="float32")
    frames = np.stack([audio[s:s + loc.frame_len] for s in range(0, len(audio) - loc.frame_len + 1, loc.hop)])
    counts = torch.from_numpy(np.minimum(loc.encoder.encode_frames(frames), 255).astype(np.float32))
    from neuroaudio.profile.maa import spiking_layers

    res = _run(_Frames(loc.net), (LIF,), counts, torch.full((len(counts),), 120), accuracy=False)
    prof = _profile(loc.net, spiking_layers(loc.net), counts)
    return {"model": "maa_respeaker4.pt", "items": len(counts), "per": "170-ms frame", **res,
            "profile": prof}


def kws_metrics(root: str | None, speaker: str, clips: int) -> dict:
    import soundfile as sf
    from scipy.signal import resample_poly

    from neuroaudio.kws.checkpoint import load_model
    from neuroaudio.kws.data import place, read_mono
    from neuroaudio.neurons.layer import SpikingLayer

    m = load_model(REPO / "data" / "models" / "kws_fsdd_drf.pt")
    waves, labels = [], []
    if root:
        for p in sorted(Path(root).glob(f"*_{speaker}_*.wav"), key=lambda p: (int(p.stem.split("_")[2]),
                                                                              int(p.stem.split("_")[0])))[:clips]:
            waves.append(place(read_mono(p, m.fs), m.clip_samples))
            labels.append(m.labels.index(p.stem.split("_")[0]))
        source = f"{len(waves)} FSDD clips of {speaker}"
    else:
        a, _ = sf.read(EXAMPLE, dtype="float32")
        s = resample_poly(a[:, 0], 1, 2).astype(np.float32)
        waves = [s[i:i + m.clip_samples] for i in range(0, len(s) - m.clip_samples + 1, m.clip_samples)]
        labels = [0] * len(waves)
        source = f"{len(waves)} 1-s clips of the example talker"
    with torch.no_grad():
        feats = m.frontend(torch.from_numpy(np.stack(waves)))
    res = _run(_Clips(m.net), (SpikingLayer,), feats, torch.tensor(labels), accuracy=bool(root))
    layers = {}
    for b, blk in enumerate(m.net.blocks, 1):
        layers[f"block{b}.neuron"], layers[f"block{b}.lif"] = blk.neuron, blk.lif
    prof = _profile(m.net, layers, feats)
    return {"model": "kws_fsdd_drf.pt", "items": len(waves), "per": "1-s clip", "input": source, **res,
            "profile": prof}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.environ.get("NEUROAUDIO_FSDD"), help="FSDD recordings folder")
    ap.add_argument("--speaker", default="theo")
    ap.add_argument("--clips", type=int, default=50)
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = {"maa": maa_metrics(), "kws": kws_metrics(a.root, a.speaker, a.clips)}
    print(json.dumps(out, indent=2, default=float))
    if a.json:
        from neuroaudio.io_utils import write_json_atomic

        write_json_atomic(a.json, out)


if __name__ == "__main__":
    main()
