"""MAA checkpoints: everything needed to use a model, loadable with ``weights_only=True``.

Keys: ``format``, ``state_dict``, ``model`` (MAAConfig dict), ``input_shape`` [pairs, delays,
bands], ``encoder`` (RFPLCConfig dict), ``array`` (geometry dict, conventions.md),
``sample_rate_hz``, ``config`` (the whole pipeline config), ``code_revision``, ``metrics``
(validation), ``epoch``; for resuming also ``optimizer``, ``scheduler``, ``history``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..arrays import MicArray
from ..encoding.config import RFPLCConfig
from ..train.checkpoint import load_checkpoint, save_checkpoint
from .model import MAAConfig, MAANet

FORMAT = "neuroaudio-maa-1"
HINT = "use a checkpoint written by `neuroaudio train maa` (e.g. runs/maa/model.pt)"


def save(path: str | Path, ckpt: dict[str, Any]) -> None:
    save_checkpoint(path, ckpt, FORMAT)


def read(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict (safe load, format checked)."""
    return load_checkpoint(path, FORMAT, HINT)


def build_model(ck: dict[str, Any]) -> MAANet:
    """The network of a checkpoint with its weights, in eval mode."""
    p, d, f = (int(v) for v in ck["input_shape"])
    net = MAANet(MAAConfig.from_dict(ck["model"]), p, d, f)
    net.load_state_dict(ck["state_dict"])
    return net.eval()


def checkpoint_array(ck: dict[str, Any]) -> MicArray:
    return MicArray.from_dict(ck["array"], where="checkpoint array")


def checkpoint_encoder(ck: dict[str, Any]) -> RFPLCConfig:
    return RFPLCConfig(**ck["encoder"])


def load_model(path: str | Path) -> tuple[MAANet, dict[str, Any]]:
    """``(network in eval mode, checkpoint dict)``."""
    ck = read(path)
    return build_model(ck), ck


__all__ = ["FORMAT", "save", "read", "build_model", "load_model", "checkpoint_array", "checkpoint_encoder"]
