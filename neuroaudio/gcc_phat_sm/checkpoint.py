"""GCC-PHAT-SM checkpoints: everything needed to use a model, loadable with ``weights_only=True``.

Keys: ``format``, ``state_dict``, ``model`` (ModelConfig dict), ``features`` (FeatureConfig dict),
``array`` (geometry dict, conventions.md), ``sample_rate_hz``, ``config`` (the whole pipeline
config), ``code_revision``, ``metrics`` (validation), ``epoch``; for resuming also ``optimizer``,
``scheduler``, ``history``, ``best``. Uses the shared :mod:`neuroaudio.train.checkpoint`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..train.checkpoint import CheckpointFormat, checkpoint_array
from .features import FeatureConfig, GccFrontEnd
from .model import GccSmNet, ModelConfig


def checkpoint_features(ck: dict[str, Any]) -> FeatureConfig:
    return FeatureConfig.from_dict(ck["features"])


def build_model(ck: dict[str, Any]) -> tuple[GccSmNet, GccFrontEnd]:
    """The network of a checkpoint with its weights (eval mode) and its front end."""
    front = GccFrontEnd(checkpoint_array(ck), int(ck["sample_rate_hz"]), checkpoint_features(ck))
    cfg = ModelConfig.from_dict(ck["model"])
    net = GccSmNet(cfg, front.cos, front.sin, front.symmetry_tables(cfg.n_azimuth))
    net.load_state_dict(ck["state_dict"])
    return net.eval(), front


CHECKPOINT = CheckpointFormat(
    "neuroaudio-gccsm-1",   # the tag of every model written so far: kept when the package was renamed
    "use a checkpoint written by `neuroaudio train gcc-phat-sm` (e.g. runs/gcc_phat_sm/sm/model.pt)",
    build_model)
FORMAT, HINT = CHECKPOINT.format_id, CHECKPOINT.hint
save, read = CHECKPOINT.save, CHECKPOINT.read
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "data" / "models" / "gcc_phat_sm_respeaker4.pt"
"""The shipped gcc-phat-sm model (respeaker4, 16 kHz; data/models/gcc_phat_sm_respeaker4.md)."""


def load_model(path: str | Path) -> tuple[GccSmNet, GccFrontEnd, dict[str, Any]]:
    """``(network in eval mode, front end, checkpoint dict)``."""
    (net, front), ck = CHECKPOINT.load(path)
    return net, front, ck


__all__ = ["CHECKPOINT", "FORMAT", "HINT", "SHIPPED_MODEL", "save", "read", "build_model", "load_model",
           "checkpoint_array", "checkpoint_features"]
