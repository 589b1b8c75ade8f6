"""KWS checkpoints: everything needed to use a model, loadable with ``weights_only=True``.

A checkpoint is a dict of tensors and plain values: ``format``, ``state_dict``, ``config`` (the
pipeline config as a JSON-able dict), ``labels``, ``sample_rate_hz``, ``clip_samples``,
``code_revision``, ``metrics``, ``epoch`` and, for resuming, ``optimizer`` and ``history``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError
from ..io_utils import atomic_path
from .config import config_from_dict
from .frontend import Frontend
from .model import KWSNet

FORMAT = "neuroaudio-kws-1"


def code_revision() -> str:
    """The git commit of the code (``+dirty`` when it has local changes), or ``unknown``."""
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "neuroaudio"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (rev + ("+dirty" if dirty else "")) or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save_checkpoint(path: str | Path, ckpt: dict[str, Any]) -> None:
    """Write atomically."""
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **ckpt}, tmp)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``: no code runs from the file)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"model '{path}' not found: give a .pt file written by `neuroaudio train kws` "
                         "(e.g. data/models/kws_fsdd_drf.pt)")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        raise InputError(f"model '{path}' cannot be loaded safely ({type(e).__name__}): use a checkpoint "
                         "written by `neuroaudio train kws`") from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise InputError(f"'{path}' is not a neuroaudio KWS checkpoint: use one written by "
                         "`neuroaudio train kws`")
    return ck


class KWSModel(torch.nn.Module):
    """Front-end + network, with the metadata to use them: ``audio [B, samples] -> logits, spikes``."""

    def __init__(self, ck: dict[str, Any]):
        super().__init__()
        self.cfg = config_from_dict(ck["config"])
        self.labels: list[str] = list(ck["labels"])
        self.fs = int(ck["sample_rate_hz"])
        self.clip_samples = int(ck["clip_samples"])
        self.meta = {k: ck.get(k) for k in ("code_revision", "metrics", "epoch")}
        self.frontend = Frontend(self.cfg.frontend, self.fs)
        self.net = KWSNet(self.cfg.model, self.frontend.n_features, len(self.labels))

    def forward(self, audio: torch.Tensor):
        return self.net(self.frontend(audio))


def load_model(path: str | Path) -> KWSModel:
    """A trained model from a checkpoint, in eval mode."""
    ck = read_checkpoint(path)
    m = KWSModel(ck)
    m.net.load_state_dict(ck["state_dict"])
    return m.eval()
