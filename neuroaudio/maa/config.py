"""The ``neuroaudio train maa`` pipeline config: YAML ↔ a JSON-able dict with defaults filled in.

Sections (pipelines/maa.yaml documents every field):

- ``out_dir``: where checkpoints, log and plots go (runs/... is git-ignored).
- ``data``: ``sim`` (simulator YAML, relative to this file), ``mode`` (``cached`` or ``online``),
  ``train_clips``, ``val_clips``, ``train_seed``, ``val_seed``, ``cache_dir`` (default
  ``<out_dir>/cache``), ``min_frame_spikes``, ``workers``; frame selection for training
  (:class:`neuroaudio.maa.data.FrameSelection`): ``active_db`` (keep frames whose source power is
  within this many dB of the clip's loudest; null = all) and ``frames_per_clip`` (null = all);
  ``teacher`` (null, or ``gcc-phat-sm``: the shipped model's per-frame posteriors are stored with
  the training frames, :func:`neuroaudio.maa.data.make_teacher`).
  Validation keeps every frame of its clips (clip pooling as the localizer does); its per-frame
  metrics count the source-active frames when ``active_db`` is set.
- ``encoder``: RF-PLC fields (:class:`RFPLCConfig`).
- ``model``: MAA fields (:class:`MAAConfig`).
- ``train``: ``epochs``, ``batch_size`` (frames; clips per batch in online mode), ``lr``,
  ``weight_decay``, ``sigma_deg`` (soft-label width), ``seed``, ``grad_clip``, ``augment_symmetry``
  (each training frame replaced by one of the array's symmetric scenes at random, its label mapped:
  :mod:`neuroaudio.maa.augment`; 8x the directions on the ReSpeaker square), ``time_budget_s``
  (> 0: fit the number of epochs to this many wall seconds of training, the cosine schedule
  following the cut: :mod:`neuroaudio.train.budget`; 0 = no budget), ``distill`` (λ in [0, 1]: the
  share of the teacher's posterior in each training frame's target; 0 = true labels only).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..encoding.config import RFPLCConfig
from ..errors import InputError
from ..train.config_io import check_sim_training, deep_merge, merge_defaults, parse_set, read_yaml_mapping  # noqa: F401  (parse_set: re-exported)
from .model import MAAConfig

DEFAULTS: dict[str, Any] = {
    "out_dir": "runs/maa",
    "data": {"sim": "quick.yaml", "mode": "cached", "train_clips": 256, "val_clips": 48,
             "train_seed": 101, "val_seed": 202, "cache_dir": None, "min_frame_spikes": 1, "workers": 0,
             "active_db": None, "frames_per_clip": None, "teacher": None},
    "encoder": {},
    "model": {},
    "train": {"epochs": 20, "batch_size": 64, "lr": 1e-3, "weight_decay": 5e-3, "sigma_deg": 5.0,
              "seed": 0, "grad_clip": 5.0, "augment_symmetry": True, "time_budget_s": 0.0, "distill": 0.0},
}


def make_config(d: dict[str, Any] | None = None, base_dir: str | Path | None = None) -> dict[str, Any]:
    """Defaults + ``d``, validated; ``data.sim`` resolved against ``base_dir``. JSON-able."""
    cfg = merge_defaults(DEFAULTS, d or {})
    data = cfg["data"]
    if data["mode"] not in ("cached", "online"):
        raise InputError(f"data.mode={data['mode']!r}: use 'cached' or 'online'")
    check_sim_training(cfg, base_dir)
    if data["frames_per_clip"] is not None and int(data["frames_per_clip"]) < 1:
        raise InputError(f"data.frames_per_clip={data['frames_per_clip']}: give at least 1 (or null = all)")
    if data["active_db"] is not None and not float(data["active_db"]) > 0:
        raise InputError(f"data.active_db={data['active_db']}: give a positive number of dB (or null = all)")
    t = cfg["train"]
    try:
        budget = float(t["time_budget_s"])
    except (TypeError, ValueError):
        budget = math.nan
    if not (math.isfinite(budget) and budget >= 0):
        raise InputError(f"train.time_budget_s={t['time_budget_s']!r}: give a number of seconds >= 0 "
                         "(0 = no budget)")
    t["time_budget_s"] = budget
    try:
        distill = float(t["distill"])
    except (TypeError, ValueError):
        distill = math.nan
    if not 0 <= distill <= 1:
        raise InputError(f"train.distill={t['distill']!r}: give a weight in [0, 1] (0 = true labels only)")
    if distill > 0 and not data["teacher"]:
        raise InputError("train.distill > 0 needs a teacher: --set data.teacher=gcc-phat-sm")
    t["distill"] = distill
    try:
        RFPLCConfig(**cfg["encoder"])
    except TypeError as e:
        raise InputError(f"encoder: {e}; see RFPLCConfig fields in docs/encoder.md") from None
    cfg["model"] = MAAConfig.from_dict(cfg["model"]).to_dict()
    return cfg


def load_pipeline(path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a pipeline YAML, apply ``overrides`` (nested dict, e.g. from :func:`parse_set`)."""
    d = read_yaml_mapping(path, "pipelines/maa.yaml", "out_dir, data, encoder, model, train")
    return make_config(deep_merge(d, overrides or {}), base_dir=Path(path).parent)
