"""KWS checkpoints: everything needed to use a model, loadable with ``weights_only=True``.

A checkpoint is a dict of tensors and plain values: ``format``, ``state_dict``, ``config`` (the
pipeline config as a JSON-able dict), ``labels``, ``sample_rate_hz``, ``clip_samples``,
``code_revision``, ``metrics``, ``epoch`` and, for resuming, ``optimizer`` and ``history``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..train.checkpoint import checkpoint_contents, load_checkpoint
from ..train.checkpoint import save_checkpoint as _save
from .config import config_from_dict
from .frontend import Frontend
from .model import KWSNet

FORMAT = "neuroaudio-kws-1"


KWS_HINT = "use a checkpoint written by `neuroaudio train kws` (e.g. data/models/kws_fsdd_drf.pt)"


def save_checkpoint(path: str | Path, ckpt: dict[str, Any]) -> None:
    """Write a KWS checkpoint atomically."""
    _save(path, ckpt, FORMAT)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a KWS checkpoint safely (``weights_only=True``: no code runs from the file)."""
    return load_checkpoint(path, FORMAT, KWS_HINT)


class KWSModel(torch.nn.Module):
    """Front-end + network, with the metadata to use them: ``audio [B, samples] -> logits, spikes``."""

    def __init__(self, ck: dict[str, Any]):
        super().__init__()
        self.cfg = config_from_dict(ck["config"])
        self.labels: list[str] = list(ck["labels"])
        self.fs = int(ck["sample_rate_hz"])
        self.clip_samples = int(ck["clip_samples"])
        self.meta = {k: ck.get(k) for k in ("code_revision", "metrics", "epoch")}
        self.train_speakers: list[str] = [str(x) for x in ck.get("train_speakers") or []]
        self.frontend = Frontend(self.cfg.frontend, self.fs)
        self.net = KWSNet(self.cfg.model, self.frontend.n_features, len(self.labels))

    def forward(self, audio: torch.Tensor):
        return self.net(self.frontend(audio))


def load_model(path: str | Path) -> KWSModel:
    """A trained model from a checkpoint, in eval mode."""
    ck = read_checkpoint(path)
    with checkpoint_contents(path, KWS_HINT):
        m = KWSModel(ck)
        m.net.load_state_dict(ck["state_dict"])
    return m.eval()
