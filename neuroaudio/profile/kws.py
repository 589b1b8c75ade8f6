"""Firing rates, synaptic operations and energy per clip of the keyword-spotting network.

Each input clip is read as ``neuroaudio kws`` reads a word (mono at the model's rate, centred in
the model's clip length) and run through the front end and :class:`~neuroaudio.kws.model.KWSNet`
under :class:`~neuroaudio.energy.OpCounter`: every block's dendritic neuron (D-RF, or the baseline
``model.neuron``) and LIF layer are the spiking layers (their firing rates; the dendrites' own
MACs from ``dense_ops_per_step``), the 1×1 convolutions fed by spikes cost ACs, the stem (real
features) and the head (time-mean) MACs. The residual additions ((depth + 1) × width × steps ACs
a clip in ``KWSNet.energy_pj``) are no layer call and are left out here (stated in the output).

The front end that makes the network's input (log-mel: window, FFT, power, mel filterbank, log,
the clip's normalisation) is counted per clip too (:func:`~neuroaudio.profile.frontend_ops.
count_logmel`, from its configuration and the clip length), and the result has the network, the
front end and the total.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..energy import OpCounter, format_report
from ..errors import InputError
from .frontend_ops import StageCounter, count_logmel, format_totals, totals

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "data" / "models" / "kws_fsdd_drf.pt"


def _clip_paths(inputs: Sequence[str | Path], limit: int | None) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, inputs):
        if p.is_dir():
            out += sorted(p.glob("*.wav"))
        elif p.suffix.lower() == ".csv" and p.is_file():
            from ..eval.runner import read_manifest

            rows = read_manifest(p, require=("path",)).rows
            out += [q if q.is_absolute() else p.parent / q for q in (Path(r["path"]) for r in rows[:limit])]
        elif p.is_file():
            out.append(p)
        else:
            raise InputError(f"{p}: no such file or folder; give word clips (WAV files, a folder, "
                             "a manifest)")
    return out


def profile_kws(inputs: Sequence[str | Path] = (), model: str | Path | None = None, limit: int | None = None,
                progress: bool = False, on_item: Callable[[str, int], None] | None = None,
                batch: int = 32, **_: Any) -> dict[str, Any]:
    """Profile the keyword network on word clips (``inputs``: WAV files, folders of them, manifests).

    Returns the same keys as :func:`neuroaudio.profile.maa.profile_maa` (``report``: the network;
    ``front_end_report``: the front end's stages; ``network``/``front_end``/``total``); items are
    clips.
    """
    from ..kws.checkpoint import load_model
    from ..kws.data import place, read_mono

    path = Path(model) if model else DEFAULT_MODEL
    if not path.is_file():
        raise InputError(f"{path}: no such model; give --model PATH (a checkpoint from "
                         "`neuroaudio train kws`)")
    files = _clip_paths(inputs, limit)
    if not files:
        raise InputError("profile --method kws needs word clips: give WAV files, a folder or a manifest")
    m = load_model(path)
    cfg = m.net.cfg
    layers = {}
    if m.net.front is not None:                      # model.stem: conv2d, its spiking layers first
        for i, lif in enumerate(m.net.front.lifs, 1):
            layers[f"stem{i}.{cfg.spiking_neuron}"] = lif
    for b, blk in enumerate(m.net.blocks, 1):
        layers[f"block{b}.{cfg.neuron}"] = blk.neuron
        layers[f"block{b}.{cfg.spiking_neuron}"] = blk.lif
    counter = OpCounter(m.net, layers)
    front = StageCounter(f"front end: {m.frontend.cfg.kind}")

    def frontend_hook(mod, inputs, out):        # audio [B, samples] -> features
        count_logmel(front, mod, inputs[0].shape[0], inputs[0].shape[-1])

    handle = m.frontend.register_forward_hook(frontend_hook)
    done = 0
    with counter, torch.no_grad():
        for s in range(0, len(files), batch):
            chunk = files[s:s + batch]
            x = np.stack([place(read_mono(f, m.fs), m.clip_samples) for f in chunk]).astype(np.float32)
            m(torch.from_numpy(x))
            done += len(chunk)
            if on_item is not None:
                on_item(str(chunk[-1]), done)
    handle.remove()
    rep = counter.report(len(files))
    fe = front.report(len(files))
    tot = totals(rep, fe)
    text = format_report(rep, f"KWS energy profile: {path.name}, {len(files)} clip(s) of "
                              f"{m.clip_samples / m.fs:.3g} s (numbers per clip)")
    text += "\n(residual additions not included: no layer call; KWSNet.energy_pj adds them)"
    text += "\n" + format_totals(fe, tot, "clip")
    return {"report": rep.to_json(), "front_end_report": fe, **tot, "text": text, "clips": len(files),
            "frames": len(files), "per_item": "clip", "model": str(path),
            "params": int(sum(p.numel() for p in m.net.parameters())),
            "inputs": [str(f) for f in files][:1000]}
