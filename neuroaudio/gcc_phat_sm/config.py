"""The ``neuroaudio train gcc-phat-sm`` pipeline config: YAML ↔ a JSON-able dict with defaults.

Sections (pipelines/gcc_phat_sm.yaml documents every field):

- ``out_dir``: checkpoints, log and plots (runs/... is git-ignored).
- ``data``: ``sim`` (simulator YAML, relative to the pipeline file), ``noise_scenarios`` (list of
  ``noise`` sections; each renders an equal share of the clips), ``train_clips``, ``val_clips``,
  ``train_seed``, ``val_seed``, ``cache_dir`` (default ``<out_dir>/cache``; runs that share data
  may share it), ``min_speech_db``.
- ``features``: :class:`.features.FeatureConfig` fields.
- ``model``: :class:`.model.ModelConfig` fields (``use_mask: false`` = gcc-phat-mlp).
- ``train``: ``epochs``, ``batch_size`` (frames), ``lr``, ``weight_decay``, ``sigma_deg``
  (soft-label width), ``seed``, ``grad_clip``, ``mask_training`` (``irm``: the mask learns only
  from the ideal ratio mask and the classifier sees it detached; ``e2e``: only through the DOA
  loss; ``joint``: both), ``irm_weight`` (weight of the mask loss in ``irm``/``joint``),
  ``augment_symmetry`` (each training frame is replaced by one of the array's symmetric scenes at
  random, :func:`.features.array_symmetries`: 8x the directions on the ReSpeaker for free).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from ..train.config_io import check_sim_training, deep_merge, merge_defaults, parse_set, read_yaml_mapping  # noqa: F401  (parse_set: re-exported)
from .features import FeatureConfig
from .model import ModelConfig

MASK_TRAINING = ("irm", "e2e", "joint")

DEFAULTS: dict[str, Any] = {
    "out_dir": "runs/gcc_phat_sm/e2e",
    "data": {"sim": "sim_gcc_phat_sm_train.yaml", "noise_scenarios": None, "train_clips": 480,
             "val_clips": 64,
             "train_seed": 6101, "val_seed": 6202, "cache_dir": None, "min_speech_db": -20.0},
    "features": {},
    "model": {},
    "train": {"epochs": 10, "batch_size": 64, "lr": 1e-3, "weight_decay": 1e-4, "sigma_deg": 5.0,
              "seed": 0, "grad_clip": 5.0, "mask_training": "e2e", "irm_weight": 1.0,
              "augment_symmetry": True},
}


def make_config(d: dict[str, Any] | None = None, base_dir: str | Path | None = None) -> dict[str, Any]:
    """Defaults + ``d``, validated; ``data.sim`` resolved against ``base_dir``. JSON-able."""
    cfg = merge_defaults(DEFAULTS, d or {})
    check_sim_training(cfg, base_dir)
    t = cfg["train"]
    if t["mask_training"] not in MASK_TRAINING:
        raise InputError(f"train.mask_training={t['mask_training']!r}: choose one of "
                         f"{', '.join(MASK_TRAINING)}")
    cfg["features"] = FeatureConfig.from_dict(cfg["features"]).to_dict()
    cfg["model"] = ModelConfig.from_dict(cfg["model"]).to_dict()
    return cfg


def load_pipeline(path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a pipeline YAML and apply ``overrides`` (nested dict, e.g. from ``parse_set``)."""
    d = read_yaml_mapping(path, "pipelines/gcc_phat_sm.yaml", "out_dir, data, features, model, train")
    return make_config(deep_merge(d, overrides or {}), base_dir=Path(path).parent)
