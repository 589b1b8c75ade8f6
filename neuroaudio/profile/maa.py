"""Firing rates, synaptic operations and energy per frame of the MAA network on real input.

The ``maa`` localizer (plain model path, ``fast=False``, so every spiking module runs through its
``forward``) localizes the input exactly as ``neuroaudio localize`` would; :class:`~neuroaudio.
energy.OpCounter` hooks count, for every frame the network sees (the audible frames):

- firing rate of each spiking layer: the FSJA gate (fraction of the input map let through), the
  ST-M ``In[t]`` neurons and ``ST[t]`` neurons, each conv block's LIF neurons (before pooling);
- per weight layer: SOPs (spiking input: each spike × its fan-out) or MACs (real input: the FSJA
  profile convolutions, the ST-M input convolution on the gated log-counts, the linear read-out of
  pooled spikes is spiking), and the dense MACs of the same layer (the ANN reference).

Energy per frame = SOPs × 0.9 pJ + MACs × 4.6 pJ; ANN energy = all dense MACs × 4.6 pJ
(:mod:`neuroaudio.energy` states what is and is not counted).

The RF-PLC encoder that turns each frame's audio into the network's input is counted too, from
what it emitted (:func:`~neuroaudio.profile.frontend_ops.count_rfplc_steps`: the resonators'
recurrences as MACs, spikes into the coincidence detectors and the coincidences as ACs, per frame
the network sees: the frame's T steps), with the network's input pooling and ``log1p``; the
result has the network, the front end and the total. The localizer runs its plain path
(``fast=False``), which encodes each frame's T steps; streaming shares steps between overlapping
frames (``energy_uj_per_s`` counts each step once).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from ..energy import OpCounter, Report
from ..errors import InputError
from .frontend_ops import StageCounter, count_maa_input, count_rfplc_steps, format_totals, totals


def spiking_layers(net: nn.Module) -> dict[str, nn.Module]:
    """``{name: module}`` of the MAA network's spiking layers (outputs are spikes)."""
    layers: dict[str, nn.Module] = {}
    if net.fsja is not None:
        layers["fsja.gate"] = net.fsja.sn
    layers["stm.in"] = net.stm.sn_in
    layers["stm.st" if net.stm.memory else "stm.st (= in, no memory)"] = net.stm
    for i, blk in enumerate(net.blocks):
        layers[f"block{i + 1}.lif"] = blk.sn
    return layers


def _manifest_paths(path: Path, limit: int | None) -> list[Path]:
    from ..eval.runner import read_manifest

    man = read_manifest(path)
    rows = man.rows[:limit] if limit else man.rows
    out = []
    for r in rows:
        p = Path(r["path"])
        out.append(p if p.is_absolute() else path.parent / p)
    return out


def profile_maa(inputs: Sequence[str | Path] = (), model: str | Path | None = None,
                sim: str | Path | None = None, seed: int = 12345, clips: int = 1,
                limit: int | None = None, progress: bool = False,
                on_item: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """Profile the MAA network.

    Args:
        inputs: audio files (the checkpoint's array, channel k = mic k) and/or manifest CSVs
            (every row's ``path``); empty: ``clips`` simulated scenes of ``sim``.
        model: checkpoint (default: the shipped model, ``neuroaudio.localize.maa.DEFAULT_MODEL``).
        sim: simulator YAML for the simulated scenes (default ``pipelines/quick.yaml``).
        seed: the simulator seed for the scenes (not a seed of dev/held-out benchmarks).
        clips: number of simulated scenes. limit: at most this many rows of each manifest.
        on_item: called with (name, frames so far) after each input.

    Returns: ``{"report": the network's energy Report as JSON, "front_end_report": the encoder's stages
    and totals (:class:`~neuroaudio.profile.frontend_ops.StageCounter`), "network"/"front_end"/
    "total": ``{acs, macs, energy_pj}`` per frame (pJ), "text": tables, "frames", "clips",
    "audio_s", "hop_s", "model", "energy_uj_per_s" (network, a frame per hop),
    "total_energy_uj_per_s" (with the encoder, each step once), "ann_energy_uj_per_s"}``.
    """
    from ..localize import maa as maa_mod
    from ..localize.maa import MAALocalizer
    from ..maa.checkpoint import HINT, checkpoint_array, read
    from ..train.checkpoint import checkpoint_contents

    path = model or maa_mod.DEFAULT_MODEL
    if path is None:
        raise InputError("profile --method maa needs a trained model: give --model PATH "
                         "(a checkpoint from `neuroaudio train maa`)")
    with checkpoint_contents(path, HINT):
        array = checkpoint_array(read(path))
    loc = MAALocalizer(array, model=path, fast=False)
    net = loc.net
    counter = OpCounter(net, spiking_layers(net))
    front = StageCounter("front end: RF-PLC encoder and network input")
    frames = [0]
    run_frames = loc.frames_spectrum
    encode_steps = loc.encoder.encode_steps

    def counted(batch):                 # the frames the network sees (the audible ones)
        frames[0] += len(batch)
        out = run_frames(batch)
        count_maa_input(front, net, len(batch), loc.encoder.config.steps)
        return out

    def encoded(steps):                 # every step the encoder runs for those frames
        out = encode_steps(steps)
        count_rfplc_steps(front, loc.encoder, out)
        return out

    loc.frames_spectrum = counted
    loc.encoder.encode_steps = encoded

    items: list[tuple[str, Any]] = []
    for p in map(Path, inputs):
        if not p.is_file():
            raise InputError(f"{p}: no such file; give audio files or a manifest .csv")
        if p.suffix.lower() == ".csv":
            items += [(str(q), q) for q in _manifest_paths(p, limit)]
        else:
            items.append((str(p), p))
    if not items:
        from ..sim.dataset import SimulatedScenes

        sim_path = Path(sim) if sim else Path(__file__).resolve().parents[2] / "pipelines" / "quick.yaml"
        ds = SimulatedScenes(sim_path, seed=seed, length=max(1, clips))
        items = [(f"{sim_path.name} seed {seed} clip {i}", i) for i in range(len(ds))]
    audio_s = 0.0
    import soundfile as sf
    from rich.progress import Progress

    with counter, Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task("profiling maa", total=len(items))
        for name, src in items:
            if isinstance(src, Path):
                loc.localize_file(src)
                audio_s += sf.info(str(src)).duration
            else:
                x = ds[src][0].numpy()
                audio_s += len(x) / loc.fs
                loc.localize(x)
            bar.advance(task)
            if on_item is not None:
                on_item(name, frames[0])
    if frames[0] == 0:
        raise InputError("no audible frame reached the network: give louder input or more clips")
    rep: Report = counter.report(frames[0])
    hop_s = loc.hop / loc.fs
    from ..energy import format_report

    text = format_report(rep, f"MAA energy profile: {Path(path).name}, {len(items)} clip(s), "
                              f"{frames[0]} frames ({loc.frame_len / loc.fs:.3g}-s frame, "
                              f"{hop_s:.3g}-s hop)")
    fe = front.report(frames[0])
    tot = totals(rep, fe)
    text += "\n" + format_totals(fe, tot, "frame")
    # streaming: the network runs once per hop, the encoder once per step (steps shared by frames)
    step_s = loc.encoder.step_len / loc.fs
    enc_per_step_pj = fe["energy_pj"] / fe["steps"]
    net_uj_s = rep.energy_pj / hop_s / 1e6
    total_uj_s = net_uj_s + enc_per_step_pj / step_s / 1e6
    text += (f"\nper second of audio (network once per hop, encoder once per step): "
             f"{total_uj_s:.2f} uJ (network {net_uj_s:.2f} uJ; network as an ANN "
             f"{rep.ann_energy_pj / hop_s / 1e6:.2f} uJ)")
    return {"report": rep.to_json(), "front_end_report": fe, **tot, "text": text, "frames": frames[0],
            "clips": len(items), "audio_s": round(audio_s, 3), "hop_s": hop_s, "model": str(path),
            "frames_per_clip": frames[0] / len(items),
            "energy_uj_per_s": net_uj_s, "total_energy_uj_per_s": total_uj_s,
            "ann_energy_uj_per_s": rep.ann_energy_pj / hop_s / 1e6,
            "params": int(sum(p.numel() for p in net.parameters())),
            "per_item": "frame", "inputs": [n for n, _ in items][:1000]}
