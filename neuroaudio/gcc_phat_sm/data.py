"""Training frames for GCC-PHAT-SM from the simulator, with the ideal ratio mask.

The simulator renders each clip's reverberant speech image ``s`` and its noise ``n`` apart
(:class:`neuroaudio.sim.render.RenderedClip`, mix = s + n), so every STFT bin of every frame has a
known target. The mask target is the ideal ratio mask in its power (Wiener) form

    IRM(t, f) = |S|^2 / (|S|^2 + |N|^2)        (powers averaged over the mics)

— a choice: the power form (rather than the square-root "amplitude" form) falls faster where the
noise dominates, so bins at 0 dB local SNR weigh 0.5 and bins at -10 dB 0.09 in the GCC sum. ``S``
is the *reverberant* image (the simulator's premix has no dry/direct split), so the mask learns to
keep speech and drop noise; reverberation is left to the PHAT weighting and the classifier.

Frames: ``frame_len`` samples every ``frame_len // 2`` (the localizer's defaults), cut from the
clip like :class:`neuroaudio.localize.base.Framer`. A frame is kept when its speech image power
is at least ``min_speech_db`` (−20 dB) relative to the clip's mean: frames in the pauses between
words carry no direction and would only teach the classifier noise.

Noise scenarios: the pipeline may list several ``noise`` sections; scenario ``k`` renders its
share of the clips from the simulator config with that noise and seed ``seed + 7919·k``, so one
training set mixes stationary, speech-like, modulated, impulsive and directional noise.

Cache: each (split, scenario) is written as compressed shards of ``shard_clips`` clips
(``shard_00000.npz``: ``logpow`` [N,S,K], ``cr``/``ci`` [N,S,K,P], ``irm`` [N,S,K] float16;
``azimuth_deg``, ``snr_db``, ``clip``, ``scenario`` [N]) with a ``meta.json``; an interrupted
build resumes shard by shard, and a folder made with other settings is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..io_utils import atomic_path, write_json_atomic
from ..sim.config import SimConfig, load_config
from .features import FeatureConfig, GccFrontEnd, log_power

CACHE_FORMAT = "neuroaudio-gccsm-frames-1"
MIN_SPEECH_DB = -20.0
KEYS = ("logpow", "cr", "ci", "irm", "azimuth_deg", "snr_db", "clip", "scenario")


@dataclass
class FrameData:
    """Training frames in memory (arrays as in the module docstring; float16 spectra)."""

    logpow: np.ndarray
    cr: np.ndarray
    ci: np.ndarray
    irm: np.ndarray
    azimuth_deg: np.ndarray
    snr_db: np.ndarray
    clip: np.ndarray
    scenario: np.ndarray

    def __len__(self) -> int:
        return len(self.azimuth_deg)

    def subset(self, idx: np.ndarray) -> FrameData:
        return FrameData(*(getattr(self, k)[idx] for k in KEYS))

    def batch(self, idx: np.ndarray):
        """Torch tensors ``(logpow, cr, ci, irm, azimuth_deg)`` (float32) of the frames ``idx``."""
        import torch

        return tuple(torch.from_numpy(np.asarray(getattr(self, k)[idx], dtype=np.float32))
                     for k in ("logpow", "cr", "ci", "irm", "azimuth_deg"))

    @staticmethod
    def concat(parts: list[FrameData]) -> FrameData:
        return FrameData(*(np.concatenate([getattr(p, k) for p in parts]) for k in KEYS))


def irm(source_X: np.ndarray, noise_X: np.ndarray) -> np.ndarray:
    """Ideal ratio mask (power form) from the STFTs ``[..., mics]`` of speech image and noise."""
    ps = np.mean(np.abs(source_X) ** 2, axis=-1)
    pn = np.mean(np.abs(noise_X) ** 2, axis=-1)
    return (ps / np.maximum(ps + pn, 1e-20)).astype(np.float32)


def cut_frames(x: np.ndarray, frame_len: int, hop: int) -> np.ndarray:
    """``[samples, ch]`` → ``[n, frame_len, ch]`` (frame k starts at ``k * hop``)."""
    if len(x) < frame_len:
        return np.zeros((0, frame_len, x.shape[1]), x.dtype)
    n = 1 + (len(x) - frame_len) // hop
    idx = np.arange(n)[:, None] * hop + np.arange(frame_len)[None, :]
    return x[idx]


def clip_frames(front: GccFrontEnd, mix: np.ndarray, source: np.ndarray, noise: np.ndarray,
                min_speech_db: float = MIN_SPEECH_DB) -> dict[str, np.ndarray]:
    """One clip's kept frames: ``logpow``, ``cr``, ``ci``, ``irm`` (float16)."""
    fl = front.frame_len()
    hop = fl // 2
    fm, fsrc, fn = (cut_frames(np.asarray(a, np.float32), fl, hop) for a in (mix, source, noise))
    p = np.mean(fsrc.astype(np.float64) ** 2, axis=(1, 2))
    keep = p >= np.mean(np.asarray(source, np.float64) ** 2) * 10 ** (min_speech_db / 10)
    fm, fsrc, fn = fm[keep], fsrc[keep], fn[keep]
    Xm = front.stft(fm)
    cr, ci = _phat(Xm, front)
    return {"logpow": log_power(Xm).astype(np.float16), "cr": cr, "ci": ci,
            "irm": irm(front.stft(fsrc), front.stft(fn)).astype(np.float16)}


def _phat(X: np.ndarray, front: GccFrontEnd) -> tuple[np.ndarray, np.ndarray]:
    from .features import phat_cross

    cr, ci = phat_cross(X, front.pairs)
    return cr.astype(np.float16), ci.astype(np.float16)


def scenario_configs(sim: str | Path, noise_scenarios: list[Any] | None, seed: int) -> list[SimConfig]:
    """The simulator config once per noise scenario (its own ``noise`` and seed); the file's own
    noise when no scenarios are given."""
    if not noise_scenarios:
        return [load_config(sim, {"seed": int(seed)})]
    out = []
    for k, noise in enumerate(noise_scenarios):
        if not isinstance(noise, list) or not noise:
            raise InputError(f"data.noise_scenarios[{k}]: give a list of noise components as in a "
                             "simulator config, e.g. [{placement: diffuse, signal: pink}]")
        out.append(load_config(sim, {"seed": int(seed) + 7919 * k, "noise": noise}))
    return out


def build_frames(sims: list[SimConfig], n_clips: int, feat: FeatureConfig, cache_dir: str | Path,
                 shard_clips: int = 32, min_speech_db: float = MIN_SPEECH_DB,
                 progress: bool = True) -> FrameData:
    """Render ``n_clips`` clips (split evenly over the scenarios ``sims``), cut and analyse their
    frames, write/resume the shards under ``cache_dir``; return all frames."""
    from ..sim.render import render_clip, room_responses
    from ..sim.scene import plan_clip, plan_room

    out = Path(cache_dir)
    array = sims[0].array.load()
    fs = sims[0].fs
    front = GccFrontEnd(array, fs, feat)
    per = -(-n_clips // len(sims))
    meta = {"format": CACHE_FORMAT, "sims": [repr(s) for s in sims], "n_clips": n_clips,
            "features": feat.to_dict(), "array": array.to_dict(), "fs": fs, "shard_clips": shard_clips,
            "min_speech_db": min_speech_db}
    meta_path = out / "meta.json"
    if meta_path.is_file() and json.loads(meta_path.read_text()) != json.loads(json.dumps(meta)):
        raise InputError(f"{out}: holds frames made with other settings (simulator, features or clip "
                         "count); delete the folder or give another data.cache_dir")
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(meta_path, meta)
    jobs = []   # (scenario, shard index, first clip, end clip)
    for k in range(len(sims)):
        for s0 in range(0, per, shard_clips):
            jobs.append((k, len(jobs), s0, min(per, s0 + shard_clips)))
    todo = [j for j in jobs if not (out / f"shard_{j[1]:05d}.npz").is_file()]
    if todo:
        from rich.progress import Progress

        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task(f"simulating clips → {out}", total=sum(j[3] - j[2] for j in todo))
            rooms: dict[tuple[int, int], Any] = {}
            for k, shard, c0, c1 in todo:
                cfg = sims[k]
                cfg = replace(cfg, clips_per_snr=max(cfg.clips_per_snr, -(-per // len(cfg.snr_db))))
                parts: dict[str, list[np.ndarray]] = {key: [] for key in KEYS}
                for i in range(c0, c1):
                    clip = plan_clip(cfg, i)
                    key = (k, clip.room)
                    if key not in rooms:
                        rooms.clear()
                        room = plan_room(cfg, clip.room)
                        rooms[key] = (room, room_responses(cfg, room))
                    room, resp = rooms[key]
                    rc = render_clip(cfg, room, resp, clip)
                    fr = clip_frames(front, rc.mix, rc.source_image, rc.noise, min_speech_db)
                    n = len(fr["irm"])
                    for name in ("logpow", "cr", "ci", "irm"):
                        parts[name].append(fr[name])
                    parts["azimuth_deg"].append(np.full(n, room.targets[clip.target].azimuth_deg, np.float32))
                    parts["snr_db"].append(np.full(n, clip.snr_db, np.float32))
                    parts["clip"].append(np.full(n, k * per + i, np.int32))
                    parts["scenario"].append(np.full(n, k, np.int16))
                    bar.advance(task)
                with atomic_path(out / f"shard_{shard:05d}.npz") as tmp, open(tmp, "wb") as f:
                    np.savez_compressed(f, **{name: np.concatenate(v) for name, v in parts.items()})
    return load_frames(out)


def load_frames(cache_dir: str | Path) -> FrameData:
    """All shards of a cache folder."""
    out = Path(cache_dir)
    shards = sorted(out.glob("shard_*.npz"))
    if not shards:
        raise InputError(f"{out}: no frame shards; build them with `neuroaudio train gcc-phat-sm`")
    parts = []
    for s in shards:
        with np.load(s) as z:
            parts.append(FrameData(*(z[k] for k in KEYS)))
    return FrameData.concat(parts)
