"""MAA checkpoints: everything needed to use a model, loadable with ``weights_only=True``.

Keys: ``format``, ``state_dict``, ``model`` (MAAConfig dict), ``input_shape`` [pairs, delays,
bands], ``encoder`` (RFPLCConfig dict), ``array`` (geometry dict, conventions.md),
``sample_rate_hz``, ``config`` (the whole pipeline config), ``code_revision``, ``metrics``
(validation), ``epoch``; for resuming also ``optimizer``, ``scheduler``, ``history``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..encoding.config import RFPLCConfig
from ..train.checkpoint import CheckpointFormat, checkpoint_array
from .model import MAAConfig, MAANet


def build_model(ck: dict[str, Any]) -> MAANet:
    """The network of a checkpoint with its weights, in eval mode."""
    p, d, f = (int(v) for v in ck["input_shape"])
    net = MAANet(MAAConfig.from_dict(ck["model"]), p, d, f)
    net.load_state_dict(ck["state_dict"])
    return net.eval()


CHECKPOINT = CheckpointFormat(
    "neuroaudio-maa-1", "use a checkpoint written by `neuroaudio train maa` (e.g. runs/maa/model.pt)",
    build_model)
FORMAT, HINT = CHECKPOINT.format_id, CHECKPOINT.hint
save, read = CHECKPOINT.save, CHECKPOINT.read


def checkpoint_encoder(ck: dict[str, Any]) -> RFPLCConfig:
    return RFPLCConfig(**ck["encoder"])


def load_model(path: str | Path) -> tuple[MAANet, dict[str, Any]]:
    """``(network in eval mode, checkpoint dict)``."""
    return CHECKPOINT.load(path)


__all__ = ["CHECKPOINT", "FORMAT", "HINT", "save", "read", "build_model", "load_model", "checkpoint_array",
           "checkpoint_encoder"]
