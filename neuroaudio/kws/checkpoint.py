"""KWS checkpoints: everything needed to use a model, loadable with ``weights_only=True``.

A checkpoint is a dict of tensors and plain values: ``format``, ``state_dict``, ``config`` (the
pipeline config as a JSON-able dict), ``labels``, ``sample_rate_hz``, ``clip_samples``,
``code_revision``, ``metrics``, ``epoch``, optionally ``detector`` (the calibrated rejection
setting :data:`DEFAULT_DETECTOR` stands in for; written by ``python -m benchmarks.kws_openset
--calibrate``) and, for resuming, ``optimizer`` and ``history``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..train.checkpoint import CheckpointFormat
from .config import config_from_dict
from .frontend import Frontend
from .model import KWSNet

DEFAULT_DETECTOR: dict[str, Any] = {"threshold": 0.5, "min_windows": 1, "hop_s": 0.1, "min_keyword_p": 0.0,
                                    "reject": None}
"""Detector setting of a checkpoint without a ``detector`` entry (an uncalibrated model): one window
at softmax score ≥ 0.5 is a detection. ``min_windows`` counts windows ``hop_s`` apart; ``reject``
(:func:`reject_head_p`: a small MLP on the read-out's input) gives each window a keyword probability
that must reach ``min_keyword_p``."""


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
        self.detector: dict[str, Any] = {**DEFAULT_DETECTOR, **(ck.get("detector") or {})}
        """Rejection setting used when the caller gives none: ``threshold`` (softmax score),
        ``min_windows`` (persistence, windows ``hop_s`` apart) and how they were chosen."""
        rej = self.detector.get("reject")
        self._reject = ({**{k: torch.as_tensor(rej[k], dtype=torch.float32)
                            for k in ("mean", "std", "w1", "b1", "w2")}, "b2": float(rej["b2"])}
                        if rej else None)      # converted once: classify runs on every streamed window
        self.frontend = Frontend(self.cfg.frontend, self.fs)
        self.net = KWSNet(self.cfg.model, self.frontend.n_features, len(self.labels))

    def forward(self, audio: torch.Tensor):
        return self.net(self.frontend(audio))

    def classify(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows ``audio [B, samples]`` -> class probabilities ``[B, K]`` and the rejection head's
        probability that the window holds a keyword ``[B]`` (all ones without a rejection head)."""
        emb, _ = self.net.embed(self.frontend(audio))
        probs = self.net.head(emb).softmax(-1)
        if self._reject is None:
            return probs, torch.ones(len(probs), dtype=probs.dtype)
        return probs, reject_head_p(self._reject, emb)


def reject_head_p(head: dict[str, Any], emb: torch.Tensor) -> torch.Tensor:
    """Keyword probability ``[B]`` of read-out inputs ``emb [B, W]`` under a rejection head
    ``{"mean" [W], "std" [W], "w1" [H, W], "b1" [H], "w2" [H], "b2"}``:
    ``sigmoid(w2 · relu(w1 (emb − mean) / std + b1) + b2)``; the entries are lists (as stored) or
    tensors (no copy when already of ``emb``'s dtype)."""
    t = {k: torch.as_tensor(head[k], dtype=emb.dtype) for k in ("mean", "std", "w1", "b1", "w2")}
    hidden = torch.relu(((emb - t["mean"]) / t["std"]) @ t["w1"].T + t["b1"])
    return torch.sigmoid(hidden @ t["w2"] + float(head["b2"]))


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
