"""KWS checkpoints: everything needed to use a model, loadable with ``weights_only=True``.

A checkpoint is a dict of tensors and plain values: ``format``, ``state_dict``, ``config`` (the
pipeline config as a JSON-able dict), ``labels``, ``sample_rate_hz``, ``clip_samples``,
``code_revision``, ``metrics``, ``epoch`` and, for resuming, ``optimizer`` and ``history``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..train.checkpoint import CheckpointFormat
from .config import config_from_dict
from .frontend import Frontend
from .model import KWSNet


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


def build_model(ck: dict[str, Any]) -> KWSModel:
    """The model of a checkpoint with its weights, in eval mode."""
    m = KWSModel(ck)
    m.net.load_state_dict(ck["state_dict"])
    return m.eval()


CHECKPOINT = CheckpointFormat(
    "neuroaudio-kws-1",
    "use a checkpoint written by `neuroaudio train kws` (e.g. data/models/kws_fsdd_drf.pt)", build_model)
FORMAT, KWS_HINT = CHECKPOINT.format_id, CHECKPOINT.hint
save_checkpoint, read_checkpoint = CHECKPOINT.save, CHECKPOINT.read


def load_model(path: str | Path) -> KWSModel:
    """A trained model from a checkpoint, in eval mode."""
    return CHECKPOINT.load(path)[0]
