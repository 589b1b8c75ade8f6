"""Unsupervised adaptation of a trained keyword model to a new speaker, from unlabeled clips.

This is *not* speaker-independent recognition: the model hears the new speaker's audio (without
labels) before it is used on that speaker. It is the deployment setting of a device that adapts
to its user from the words it hears. See docs/kws.md, "What was measured".

- :func:`adapt_bn` (AdaBN; Li et al., "Revisiting batch normalization for practical domain
  adaptation", 2016): every BatchNorm layer's running mean and variance is re-estimated on the new
  speaker's clips. Weights, biases and BN affine parameters stay as trained; no labels, no gradient.
  The statistics are exact over all clips, whatever the batch size: layer by layer in forward order,
  each layer's input statistics are accumulated over the whole set with the layers before it
  already adapted (what a single batch holding every clip would give, without its memory).
- :func:`adapt_checkpoint` (``neuroaudio kws-adapt``): AdaBN of a checkpoint to a folder of a user's
  recordings, written as a new checkpoint with the adaptation recorded in it.

Self-training on the model's own confident pseudo-labels was measured too and did not help
(``experiments/kws_adapt``, where it lives).

Clips are mono float32 arrays at the model's rate (``model.fs`` Hz), any length: each is fitted to
``model.clip_samples`` samples as in evaluation (zero-padded around the centre, or centre-cropped).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from ..errors import InputError
from .checkpoint import KWSModel, load_model, read_checkpoint, save_checkpoint
from .data import fit_window, read_mono

AUDIO_SUFFIXES = (".wav", ".flac")
SILENT_PEAK = 1e-4
"""A clip whose peak absolute sample is below this (full scale 1) is silent: left out of the statistics."""


class _Stop(Exception):
    """Raised by a hook once the layer being adapted has seen its input (skips the rest)."""


def batchnorm_layers(model: KWSModel) -> list[tuple[str, _BatchNorm]]:
    """``(name, layer)`` of every BatchNorm layer of ``model.net``, in the order the forward pass
    reaches them (recorded on a dummy clip, not assumed from the module order)."""
    named = [(n, m) for n, m in model.net.named_modules() if isinstance(m, _BatchNorm)]
    order: list[str] = []
    hooks = [m.register_forward_pre_hook(lambda _m, _i, n=n: order.append(n)) for n, m in named]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            dev = next(model.net.parameters()).device
            model(torch.zeros(1, model.clip_samples, device=dev))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    by_name = dict(named)
    return [(n, by_name[n]) for n in dict.fromkeys(order)]


def fit_clips(audios: list[np.ndarray], model: KWSModel) -> torch.Tensor:
    """Clips ``[N, clip_samples]`` float32 from mono arrays at ``model.fs`` (placed as evaluated)."""
    if not audios:
        raise InputError("no clips to adapt to: give at least one recording of the new speaker")
    return torch.from_numpy(np.stack([fit_window(np.asarray(a, np.float32), model.clip_samples, model.fs,
                                                 model.cfg.data.placement) for a in audios]))


@torch.no_grad()
def adapt_bn(model: KWSModel, audios: list[np.ndarray], batch_size: int = 256) -> dict[str, Any]:
    """AdaBN in place: each BatchNorm layer's running statistics := those of its input on ``audios``.

    Args:
        model: a trained model (any device); left in eval mode.
        audios: unlabeled mono clips at ``model.fs`` Hz (see module docstring).
        batch_size: clips per forward pass (memory only: the result does not depend on it).

    Statistics per channel over clips × time steps (padding frames included, as in training); the
    variance stored is the population variance over them, the one a BatchNorm layer in training
    mode normalises with: the adapted network (eval mode) computes on these clips exactly what the
    network in training mode computes on one batch holding all of them (dropout aside).
    Returns ``{"n_clips", "layers": [{"name", "mean_shift", "std_ratio"}]}``: per layer, the mean
    absolute change of the running mean in units of the old running standard deviation, and the
    mean ratio new/old standard deviation (how far the new speaker's statistics are from the
    training speakers')."""
    clips = fit_clips(audios, model)
    dev = next(model.net.parameters()).device
    model.eval()
    layers = batchnorm_layers(model)
    report = []
    for name, bn in layers:
        acc: dict[str, torch.Tensor | int] = {"s": 0, "s2": 0, "n": 0}

        def hook(_m, inp, acc=acc):
            x = inp[0].double()                                        # [B, C] or [B, C, T]
            dims = [0] + list(range(2, x.dim()))
            acc["s"] = acc["s"] + x.sum(dims)
            acc["s2"] = acc["s2"] + (x * x).sum(dims)
            acc["n"] = acc["n"] + x.numel() // x.shape[1]
            raise _Stop

        h = bn.register_forward_pre_hook(hook)
        try:
            for i in range(0, len(clips), batch_size):
                try:
                    model(clips[i:i + batch_size].to(dev))
                except _Stop:
                    pass
        finally:
            h.remove()
        n = int(acc["n"])
        mean = acc["s"] / n
        var = (acc["s2"] / n - mean * mean).clamp_min(0)
        old_std = (bn.running_var.double() + bn.eps).sqrt()
        new_std = (var + bn.eps).sqrt()
        report.append({"name": name,
                       "mean_shift": float(((mean - bn.running_mean.double()).abs() / old_std).mean()),
                       "std_ratio": float((new_std / old_std).mean())})
        bn.running_mean.copy_(mean.to(bn.running_mean.dtype))
        bn.running_var.copy_(var.to(bn.running_var.dtype))
    return {"n_clips": len(clips), "layers": report}


@torch.no_grad()
def predict(model: KWSModel, audios: list[np.ndarray], batch_size: int = 256) -> np.ndarray:
    """Class probabilities ``[N, K]`` (float32) of centred clips, eval mode."""
    clips = fit_clips(audios, model)
    dev = next(model.net.parameters()).device
    model.eval()
    out = [model(clips[i:i + batch_size].to(dev))[0].softmax(-1).cpu()
           for i in range(0, len(clips), batch_size)]
    return torch.cat(out).numpy()


def _rate_of(path: Path) -> int:
    """Sample rate (Hz) of an audio file without decoding it (soundfile, else ``scipy.io.wavfile``)."""
    try:
        import soundfile as sf

        return int(sf.info(str(path)).samplerate)
    except (ImportError, OSError):
        pass
    except Exception as e:  # soundfile raises its own error type for unreadable files
        raise InputError(f"cannot read audio '{path}' ({e}): give WAV/FLAC files") from None
    from scipy.io import wavfile

    try:
        return int(wavfile.read(str(path), mmap=True)[0])
    except Exception as e:
        raise InputError(f"cannot read audio '{path}' ({e}): give WAV files") from None


def read_user_clips(folder: str | Path, fs: int) -> tuple[list[np.ndarray], dict[str, Any]]:
    """The unlabeled clips of ``folder`` (``*.wav``/``*.flac``, sub-folders included, sorted) as mono
    float32 at ``fs`` Hz, and what was done: ``{"n_files", "n_resampled", "n_silent", "rates_hz"}``.

    Files at a higher rate are resampled to ``fs``; a file below ``fs`` is refused (it lacks the band
    the model listens to); silent files (peak < ``SILENT_PEAK``) are left out. Raises InputError when
    the folder is missing, holds no audio, or holds only silence."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"'{folder}' is not a folder: give a folder of WAV recordings of the new speaker")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not files:
        raise InputError(f"no .wav/.flac files in '{folder}': record a few dozen words of the new speaker "
                         "there (one word per file)")
    audios, rates, n_silent = [], {}, 0
    for p in files:
        r = _rate_of(p)
        if r < fs:
            raise InputError(f"'{p}' is sampled at {r} Hz, below the model's {fs} Hz: record (or export) "
                             f"at {fs} Hz or more")
        rates[r] = rates.get(r, 0) + 1
        x = read_mono(p, fs)
        if x.size == 0 or float(np.abs(x).max()) < SILENT_PEAK:
            n_silent += 1
            continue
        audios.append(x)
    if not audios:
        raise InputError(f"all {len(files)} files in '{folder}' are silent: record the new speaker's words")
    return audios, {"n_files": len(files), "n_resampled": sum(n for r, n in rates.items() if r != fs),
                    "n_silent": n_silent, "rates_hz": {str(r): n for r, n in sorted(rates.items())}}


def adapt_checkpoint(model_path: str | Path, folder: str | Path, out_path: str | Path,
                     batch_size: int = 256) -> dict[str, Any]:
    """AdaBN of the checkpoint ``model_path`` to the unlabeled clips of ``folder``, written to ``out_path``.

    The new checkpoint is the old one (same format, config, labels, loadable with
    ``weights_only=True``) with the BatchNorm running statistics replaced and an ``adaptation``
    record: ``{"method": "adabn", "folder", "source_model", "source_code_revision", "code_revision",
    "n_clips", "n_files", "n_resampled", "n_silent", "rates_hz", "layers", "source_metrics",
    "previous"}``. Its ``metrics`` are emptied: the source model's figures (e.g. its speaker-independent
    test accuracy) do not describe the adapted model; they are kept as ``source_metrics``. Adapting
    an adapted checkpoint again gives what adapting the original to the new clips gives (the
    statistics are recomputed from scratch); the earlier record is kept as ``previous``.
    Returns the ``adaptation`` record."""
    from ..train.checkpoint import code_revision

    if Path(out_path).resolve() == Path(model_path).resolve():
        raise InputError(f"output '{out_path}' is the input model itself: write the adapted model to a "
                         "new file")
    ck = read_checkpoint(model_path)
    model = load_model(model_path)
    audios, found = read_user_clips(folder, model.fs)
    info = adapt_bn(model, audios, batch_size=batch_size)
    prev = ck.get("adaptation")
    record = {"method": "adabn", "folder": str(folder), "source_model": str(model_path),
              "source_code_revision": ck.get("code_revision"), "code_revision": code_revision(),
              "n_clips": info["n_clips"], **found, "layers": info["layers"],
              "source_metrics": prev["source_metrics"] if prev else ck.get("metrics", {}), "previous": prev}
    state = {k: v.detach().cpu().clone() for k, v in model.net.state_dict().items()}
    save_checkpoint(out_path, {**{k: v for k, v in ck.items() if k != "format"}, "state_dict": state,
                               "metrics": {}, "adaptation": record})
    return record
