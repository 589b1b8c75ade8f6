"""Finding keywords in recordings: sliding windows over a file, detections with times and scores.

A window of the model's clip length slides with ``hop_s``; each window is classified (softmax).
Windows quieter than ``min_level_db`` below the file's loudest window are skipped (silence is not
a word). A detection is a window whose top score is at least ``threshold`` and is the best window
of its label within one clip length (non-maximum suppression); with ``single`` (the default for
short files of one word) only the best window of the file is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoint import KWSModel
from .data import read_mono


@dataclass
class Detection:
    label: str
    score: float
    t_start_s: float
    t_end_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 4), "t_start_s": round(self.t_start_s, 3),
                "t_end_s": round(self.t_end_s, 3)}


@torch.no_grad()
def window_scores(model: KWSModel, x: np.ndarray, hop_s: float = 0.1, batch: int = 32
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class probabilities of sliding windows over mono ``x`` (model rate).

    Returns (start samples ``[W]``, probabilities ``[W, K]``, window level in dB ``[W]``).
    Signals shorter than a clip are zero-padded around the centre (one window).
    """
    n = model.clip_samples
    hop = max(1, int(round(hop_s * model.fs)))
    if len(x) <= n:
        from .data import place

        windows = place(x, n)[None]
        starts = np.array([-(n - len(x)) // 2])
    else:
        starts = np.arange(0, len(x) - n + 1, hop)
        if starts[-1] != len(x) - n:
            starts = np.append(starts, len(x) - n)
        windows = np.stack([x[s:s + n] for s in starts])
    level = 10 * np.log10(np.mean(windows.astype(np.float64) ** 2, axis=1) + 1e-12)
    probs = []
    for i in range(0, len(windows), batch):
        logits, _ = model(torch.from_numpy(np.ascontiguousarray(windows[i:i + batch], np.float32)))
        probs.append(logits.softmax(-1).numpy())
    return starts, np.concatenate(probs), level


def detect(model: KWSModel, x: np.ndarray, threshold: float = 0.5, hop_s: float = 0.1,
           min_level_db: float = 30.0, single: bool | None = None) -> list[Detection]:
    """Keywords in mono ``x`` at the model's rate (see module docstring)."""
    starts, probs, level = window_scores(model, x, hop_s)
    n, fs = model.clip_samples, model.fs
    if single is None:
        single = len(x) <= 2 * n
    ok = level >= level.max() - min_level_db
    best = probs.max(-1)
    lab = probs.argmax(-1)
    cand = [i for i in np.argsort(-best) if ok[i] and best[i] >= threshold]
    out: list[Detection] = []
    taken: list[int] = []
    for i in cand:
        if any(abs(int(starts[i]) - int(starts[j])) < n for j in taken):
            continue
        taken.append(i)
        s0 = max(0, int(starts[i]))
        out.append(Detection(model.labels[lab[i]], float(best[i]), s0 / fs, min(len(x), s0 + n) / fs))
        if single:
            break
    return sorted(out, key=lambda d: d.t_start_s)


def detect_file(model: KWSModel, path: str | Path, **kw: Any) -> dict[str, Any]:
    """``{"path", "duration_s", "detections": [{label, score, t_start_s, t_end_s}]}`` for one file."""
    x = read_mono(path, model.fs)
    return {"path": str(path), "duration_s": round(len(x) / model.fs, 3),
            "detections": [d.to_dict() for d in detect(model, x, **kw)]}
