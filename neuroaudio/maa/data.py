"""Training data for MAA: simulated clips → RF-PLC coincidence frames with the true azimuth.

Two ways to feed the network, same frames:

- cached (:func:`build_cache` → :class:`FrameSet`): every clip of a simulator config is rendered
  and encoded once and written as compressed ``.npz`` shards (``shard_00000.npz`` ...) with a
  ``meta.json`` saying what made them; a later run (or epoch) reads the shards. Building resumes:
  shards already written are kept when the meta agrees, so an interrupted build goes on.
- on the fly (:class:`OnlineFrames`): a ``Dataset`` of clips (:class:`SimulatedScenes`) encoded in
  the DataLoader workers; each item is the frames of one clip (:func:`collate_frames` stacks).

Labels: the clip's true azimuth (array frame, degrees) for every frame — the simulator's sources
do not move within a clip. Frames with fewer than ``min_frame_spikes`` coincidences in all are
dropped (silence carries no direction). Counts are stored as uint8 (clipped at 255).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..arrays import MicArray
from ..encoding.config import RFPLCConfig
from ..encoding.encoder import RFPLCEncoder
from ..errors import InputError
from ..io_utils import atomic_path, write_json_atomic
from ..sim.config import SimConfig, load_config
from ..sim.dataset import SimulatedScenes

CACHE_FORMAT = "neuroaudio-maa-frames-1"


def encode_clip(encoder: RFPLCEncoder, audio: np.ndarray) -> np.ndarray:
    """Audio ``[samples, mics]`` → coincidence frames ``[frames, T, pairs, delays, bands]`` uint8."""
    c = encoder.encode(np.asarray(audio, dtype=np.float32), keep_spikes=False).coincidence
    return np.minimum(c, 255).astype(np.uint8)


def keep_frames(x: np.ndarray, min_frame_spikes: int) -> np.ndarray:
    """Boolean ``[frames]``: frames with at least ``min_frame_spikes`` coincidences in all."""
    return x.reshape(len(x), -1).sum(axis=1, dtype=np.int64) >= min_frame_spikes


class FrameSet(Dataset):
    """Encoded frames in memory: items ``(x [T, P, D, F] uint8 tensor, azimuth_deg float)``.

    Attributes: ``x`` [N, T, P, D, F] uint8, ``azimuth_deg`` [N], ``clip`` [N] (clip index),
    ``snr_db`` [N].
    """

    def __init__(self, x: np.ndarray, azimuth_deg: np.ndarray, clip: np.ndarray | None = None,
                 snr_db: np.ndarray | None = None):
        self.x = np.asarray(x, dtype=np.uint8)
        self.azimuth_deg = np.asarray(azimuth_deg, dtype=np.float32)
        n = len(self.x)
        self.clip = np.arange(n) if clip is None else np.asarray(clip)
        self.snr_db = np.full(n, np.nan, np.float32) if snr_db is None else np.asarray(snr_db, np.float32)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, float]:
        return torch.from_numpy(self.x[i]), float(self.azimuth_deg[i])

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """``(T, pairs, delays, bands)``."""
        return tuple(self.x.shape[1:])


def _sim_config(sim: SimConfig | str | Path, seed: int | None) -> SimConfig:
    cfg = sim if isinstance(sim, SimConfig) else load_config(sim)
    return replace(cfg, seed=int(seed)) if seed is not None else cfg


def _meta(cfg: SimConfig, n_clips: int, enc: RFPLCEncoder, min_frame_spikes: int, shard_clips: int
          ) -> dict[str, Any]:
    return {"format": CACHE_FORMAT, "sim_seed": cfg.seed, "sim_config": repr(cfg), "n_clips": n_clips,
            "fs": enc.fs, "array": enc.array.to_dict(), "encoder": enc.config.to_dict(),
            "min_frame_spikes": min_frame_spikes, "shard_clips": shard_clips}


def build_cache(sim: SimConfig | str | Path, n_clips: int, encoder_cfg: RFPLCConfig, cache_dir: str | Path,
                seed: int | None = None, min_frame_spikes: int = 1, shard_clips: int = 64,
                progress: bool = True) -> FrameSet:
    """Simulate and encode ``n_clips`` clips of ``sim`` into shards under ``cache_dir``; load them.

    Args:
        sim: simulator config (object or YAML path). seed: replaces its seed (train ≠ validation).
        n_clips: clips to draw (item i = clip i of ``neuroaudio simulate`` with that config).
        encoder_cfg: RF-PLC settings (rate and array: the simulator's).
        cache_dir: the shard folder; an existing one must hold the same meta (else InputError).
        min_frame_spikes: frames with fewer coincidences are dropped.
        shard_clips: clips per shard (a shard is the unit of resume).
    """
    cfg = _sim_config(sim, seed)
    array = cfg.array.load()
    enc = RFPLCEncoder(array, encoder_cfg, cfg.fs)
    out = Path(cache_dir)
    meta = _meta(cfg, n_clips, enc, min_frame_spikes, shard_clips)
    meta_path = out / "meta.json"
    if meta_path.is_file():
        old = json.loads(meta_path.read_text())
        if old != json.loads(json.dumps(meta)):
            raise InputError(f"{out}: holds frames made with other settings (simulator, encoder or "
                             "clip count); delete the folder or give another cache_dir")
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(meta_path, meta)
    scenes = SimulatedScenes(cfg, length=n_clips)
    n_shards = -(-n_clips // shard_clips)
    todo = [k for k in range(n_shards) if not (out / f"shard_{k:05d}.npz").is_file()]
    if todo:
        from rich.progress import Progress

        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task(f"encoding clips → {out}", total=len(todo) * shard_clips)
            for k in todo:
                xs, az, clip, snr = [], [], [], []
                for i in range(k * shard_clips, min(n_clips, (k + 1) * shard_clips)):
                    audio, lab = scenes[i]
                    x = encode_clip(enc, audio.numpy())
                    x = x[keep_frames(x, min_frame_spikes)]
                    xs.append(x)
                    az.append(np.full(len(x), lab["azimuth_deg"], np.float32))
                    clip.append(np.full(len(x), i, np.int32))
                    snr.append(np.full(len(x), lab["snr_db"], np.float32))
                    bar.advance(task)
                with atomic_path(out / f"shard_{k:05d}.npz") as tmp, open(tmp, "wb") as f:
                    np.savez_compressed(f, x=np.concatenate(xs), azimuth_deg=np.concatenate(az),
                                        clip=np.concatenate(clip), snr_db=np.concatenate(snr))
    return load_cache(out)


def load_cache(cache_dir: str | Path) -> FrameSet:
    """All shards of a cache folder as one :class:`FrameSet`."""
    out = Path(cache_dir)
    shards = sorted(out.glob("shard_*.npz"))
    if not shards:
        raise InputError(f"{out}: no frame shards; build them with `neuroaudio train ssl` (cache mode)")
    parts = [np.load(s) for s in shards]
    cat = {k: np.concatenate([p[k] for p in parts]) for k in ("x", "azimuth_deg", "clip", "snr_db")}
    return FrameSet(cat["x"], cat["azimuth_deg"], cat["clip"], cat["snr_db"])


def cache_meta(cache_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(cache_dir) / "meta.json").read_text())


class OnlineFrames(Dataset):
    """Clips simulated and encoded on the fly; item ``i`` = ``(x [n, T, P, D, F], az [n])`` of clip i.

    Use with :func:`collate_frames` (a batch of clips → all their frames). ``set_epoch(e)`` draws
    other clips each epoch (seed + e·1000003), so the supply of scenes is endless.
    """

    def __init__(self, sim: SimConfig | str | Path, n_clips: int, encoder_cfg: RFPLCConfig,
                 seed: int | None = None, min_frame_spikes: int = 1):
        self.base = _sim_config(sim, seed)
        self.n_clips, self.encoder_cfg, self.min_frame_spikes = n_clips, encoder_cfg, min_frame_spikes
        self.array: MicArray = self.base.array.load()
        self.encoder = RFPLCEncoder(self.array, encoder_cfg, self.base.fs)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.scenes = SimulatedScenes(replace(self.base, seed=self.base.seed + 1000003 * epoch),
                                      length=self.n_clips)

    def __len__(self) -> int:
        return self.n_clips

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        audio, lab = self.scenes[i]
        x = encode_clip(self.encoder, audio.numpy())
        x = x[keep_frames(x, self.min_frame_spikes)]
        return torch.from_numpy(x), torch.full((len(x),), lab["azimuth_deg"], dtype=torch.float32)


def collate_frames(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips' frames → ``(x [N, T, P, D, F], az [N])``."""
    return torch.cat([b[0] for b in batch]), torch.cat([b[1] for b in batch])
