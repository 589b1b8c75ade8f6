"""GCC-PHAT-SM checkpoints: everything needed to use a model, loadable with ``weights_only=True``.

Keys: ``format``, ``state_dict``, ``model`` (ModelConfig dict), ``features`` (FeatureConfig dict),
``array`` (geometry dict, conventions.md), ``sample_rate_hz``, ``config`` (the whole pipeline
config), ``code_revision``, ``metrics`` (validation), ``epoch``; for resuming also ``optimizer``,
``scheduler``, ``history``, ``best``. Uses the shared :mod:`neuroaudio.train.checkpoint`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..arrays import MicArray
from ..train.checkpoint import load_checkpoint, save_checkpoint
from .features import FeatureConfig, GccFrontEnd
from .model import GccSmNet, ModelConfig

FORMAT = "neuroaudio-gccsm-1"
HINT = "use a checkpoint written by `neuroaudio train gcc-phat-sm` (e.g. runs/gcc_phat_sm/sm/model.pt)"


def save(path: str | Path, ckpt: dict[str, Any]) -> None:
    save_checkpoint(path, ckpt, FORMAT)


def read(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict (safe load, format checked)."""
    return load_checkpoint(path, FORMAT, HINT)


def checkpoint_array(ck: dict[str, Any]) -> MicArray:
    return MicArray.from_dict(ck["array"], where="checkpoint array")


def checkpoint_features(ck: dict[str, Any]) -> FeatureConfig:
    return FeatureConfig.from_dict(ck["features"])


def build_model(ck: dict[str, Any]) -> tuple[GccSmNet, GccFrontEnd]:
    """The network of a checkpoint with its weights (eval mode) and its front end."""
    front = GccFrontEnd(checkpoint_array(ck), int(ck["sample_rate_hz"]), checkpoint_features(ck))
    cfg = ModelConfig.from_dict(ck["model"])
    net = GccSmNet(cfg, front.cos, front.sin, front.symmetry_tables(cfg.n_azimuth))
    net.load_state_dict(ck["state_dict"])
    return net.eval(), front


def load_model(path: str | Path) -> tuple[GccSmNet, GccFrontEnd, dict[str, Any]]:
    """``(network in eval mode, front end, checkpoint dict)``."""
    ck = read(path)
    net, front = build_model(ck)
    return net, front, ck
