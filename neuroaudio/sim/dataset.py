"""On-the-fly simulated scenes as a torch ``Dataset`` (nothing written to disk).

Item ``i`` is exactly clip ``i`` of ``neuroaudio simulate`` with the same config (same plan, same
samples before the WAV quantisation), so a model can train on scenes drawn on the fly and be
evaluated on the files. A room's RIRs are kept for the next items of the same room (items of one
room are consecutive: ``i // scene.clips_per_room``), so sequential or room-grouped sampling
computes each room once per worker; random sampling recomputes it (still deterministic).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .config import SimConfig, load_config
from .render import RoomResponses, render_clip, room_responses
from .scene import RoomPlan, plan_clip, plan_room


class SimulatedScenes(Dataset):
    """Simulated multichannel clips with their labels.

    Args:
        config: a :class:`SimConfig` or the path of a simulator YAML file.
        seed: override the config's seed (e.g. a different seed for training and validation).
        length: number of items (default: the config's ``len(snr_db) * clips_per_snr``; may be
            larger, for an endless supply of scenes).
        cache_rooms: how many rooms' RIRs to keep per worker.

    Items: ``(audio, labels)``; ``audio`` float32 tensor ``[samples, mics]`` at ``config.fs``
    (``samples`` differs between items when ``duration_s`` is a range: batch them with a padding
    ``collate_fn``);
    ``labels`` a dict of floats: ``azimuth_deg`` (array frame), ``elevation_deg``, ``distance_m``,
    ``snr_db``, ``rt60_s`` (the room's target RT60), ``rt60_measured_s`` (its RT60 measured on the
    talker RIRs, T20, s: :func:`neuroaudio.sim.render.measured_rt60_s`), the active-part columns of
    the manifest (``snr_active_db``, ``speech_onset_s``, ``speech_duration_s``, ``speech_active_s``:
    :mod:`neuroaudio.sim.activity`), plus ``index`` and ``room`` (ints).
    """

    def __init__(self, config: SimConfig | str | Path, seed: int | None = None, length: int | None = None,
                 cache_rooms: int = 2):
        cfg = config if isinstance(config, SimConfig) else load_config(config)
        if seed is not None:
            from dataclasses import replace

            cfg = replace(cfg, seed=int(seed))
        if length is not None:
            from dataclasses import replace

            per_snr = -(-int(length) // len(cfg.snr_db))
            cfg = replace(cfg, clips_per_snr=max(cfg.clips_per_snr, per_snr))
        self.cfg = cfg
        self.length = int(length) if length is not None else cfg.n_clips
        self.cache_rooms = max(1, cache_rooms)
        self._cache: dict[int, tuple[RoomPlan, RoomResponses]] = {}

    def __len__(self) -> int:
        return self.length

    def _room(self, r: int) -> tuple[RoomPlan, RoomResponses]:
        if r not in self._cache:
            while len(self._cache) >= self.cache_rooms:
                self._cache.pop(next(iter(self._cache)))
            room = plan_room(self.cfg, r)
            self._cache[r] = (room, room_responses(self.cfg, room))
        return self._cache[r]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, Any]]:
        if not -self.length <= i < self.length:
            raise IndexError(f"index {i} outside 0..{self.length - 1}")
        i = int(i) % self.length
        clip = plan_clip(self.cfg, i)
        room, resp = self._room(clip.room)
        rendered = render_clip(self.cfg, room, resp, clip)
        audio = rendered.mix.astype(np.float32)
        t = room.targets[clip.target]
        labels = {"azimuth_deg": float(t.azimuth_deg), "elevation_deg": float(t.elevation_deg),
                  "distance_m": float(t.distance_m), "snr_db": float(clip.snr_db),
                  "rt60_s": float(room.rt60_s), "rt60_measured_s": float(resp.rt60_measured_s),
                  **{k: float(v) for k, v in rendered.stats.items()},
                  "index": i, "room": int(clip.room)}
        return torch.from_numpy(np.ascontiguousarray(audio)), labels
