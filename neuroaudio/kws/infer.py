"""Finding keywords in recordings: sliding windows over a file, detections with times and scores.

A window of the model's clip length slides with ``hop_s``; each window is classified (softmax).
Windows quieter than ``min_level_db`` below the file's loudest window are skipped (silence is not
a word). A detection is a window whose top score is at least ``threshold`` and the best within a
clip length around it (causal non-maximum suppression, :class:`StreamingDetector`, the same code
as ``neuroaudio kws --live``); with ``single`` (the default for files of at most two clip
lengths, i.e. one word) only the best window of the file is reported. A model trained with a filler
class (``data.filler_words``, label ``_unknown_``) rejects a window whose most probable class is
the filler: it is never a detection, whatever its score.

Open set (the default where the checkpoint stores a ``detector`` setting, as the shipped model
does; docs/kws.md, "Open set"): a window must also get a keyword probability of at least
``min_keyword_p`` from the model's rejection head (:meth:`KWSModel.classify`) and end a run of
``min_windows`` windows won by the same keyword (persistence). The setting was chosen by
``benchmarks/kws_openset.py`` on hits vs false alarms per minute: score threshold and persistence
alone could not reach ≤ 2 false alarms a minute of ordinary speech with more than a few percent
of hits; with the head, 0.5 / 6 windows / 0.05 kept the most hits under 1 per minute on the
calibration set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoint import KWSModel
from .data import FILLER_LABEL, read_mono

MIN_FILE_S = 0.1
"""kws refuses shorter files (the shortest FSDD clip is 0.14 s; a 10-ms file drew a 0.98 score)."""


@dataclass
class Detection:
    label: str
    score: float
    t_start_s: float
    t_end_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 4), "t_start_s": round(self.t_start_s, 3),
                "t_end_s": round(self.t_end_s, 3)}


def keyword_scores(probs: np.ndarray, labels: list[str], p_keyword: np.ndarray | None = None,
                   min_keyword_p: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Best class ``[W]`` and its score ``[W]`` of window probabilities ``probs [W, K]``; a window
    whose best class is the filler (``_unknown_``), or whose rejection-head keyword probability
    ``p_keyword [W]`` is under ``min_keyword_p``, gets score −1, so no threshold accepts it."""
    best = probs.argmax(-1)
    score = probs.max(-1).astype(np.float64)
    if FILLER_LABEL in labels:
        score = np.where(best == labels.index(FILLER_LABEL), -1.0, score)
    if p_keyword is not None:
        score = np.where(np.asarray(p_keyword) >= min_keyword_p, score, -1.0)
    return best, score


@torch.no_grad()
def window_scores(model: KWSModel, x: np.ndarray, hop_s: float = 0.1, batch: int = 32
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class probabilities of sliding windows over mono ``x`` (model rate).

    Returns (start samples ``[W]``, probabilities ``[W, K]``, window level in dB ``[W]``, the
    rejection head's keyword probability ``[W]``).
    Signals shorter than a clip are zero-padded around the centre, or around their energetic part
    for a model trained with ``data.placement: energy`` (one window).
    """
    n = model.clip_samples
    hop = max(1, int(round(hop_s * model.fs)))
    if len(x) <= n:
        from .data import fit_window

        windows = fit_window(x, n, model.fs, model.cfg.data.placement)[None]
        if model.cfg.data.placement == "energy":
            from .augment import active_span

            a, b = active_span(x, model.fs)
            starts = np.array([(a + b) // 2 - n // 2])
        else:
            starts = np.array([-(n - len(x)) // 2])
    else:
        starts = np.arange(0, len(x) - n + 1, hop)
        if starts[-1] != len(x) - n:
            starts = np.append(starts, len(x) - n)
        windows = np.stack([x[s:s + n] for s in starts])
    level = 10 * np.log10(np.mean(windows.astype(np.float64) ** 2, axis=1) + 1e-12)
    probs, pk = [], []
    for i in range(0, len(windows), batch):
        pr, p = model.classify(torch.from_numpy(np.ascontiguousarray(windows[i:i + batch], np.float32)))
        probs.append(pr.numpy())
        pk.append(p.numpy())
    return starts, np.concatenate(probs), level, np.concatenate(pk)


def stored_min_windows(model: KWSModel, hop_s: float) -> int:
    """The model's persistence ``min_windows`` for windows ``hop_s`` apart: the stored count is for
    the stored ``hop_s``, so the same span of time is asked for at another hop (1 stays 1)."""
    k, hop0 = int(model.detector["min_windows"]), float(model.detector["hop_s"])
    return 1 if k <= 1 else max(1, int(round(k * hop0 / hop_s)))


def run_lengths(labels: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """For windows in time order: how many consecutive windows up to and including each one had
    the same best class ``labels [W]`` and passed ``ok [W]`` (bool); 0 where ``ok`` is False."""
    out = np.zeros(len(labels), np.int64)
    for i in range(len(labels)):
        if ok[i]:
            out[i] = out[i - 1] + 1 if i and ok[i - 1] and labels[i - 1] == labels[i] else 1
    return out


class StreamingDetector:
    """Keyword detection on audio arriving in blocks (files in blocks, or a sound card).

    Windows of the model's clip length start every ``hop_s``; each is classified once it is
    complete. Windows below ``min_level_dbfs`` are skipped. A window is a candidate when its top
    score is at least ``threshold`` and it ends a run of at least ``min_windows`` consecutive loud
    windows whose best class is that same keyword, each scoring at least ``threshold``
    (persistence: a keyword heard whole stays the best class while the window slides over it,
    running speech flips between classes; docs/kws.md, "Open set"). Non-maximum suppression is
    causal: the best candidate so far is emitted once a window starting ``min_gap_s`` (default half
    a clip: words are shorter than the model's window) after it has been seen, or at
    :meth:`flush`; a better window within that gap replaces it.
    ``threshold`` and ``min_windows`` default to the model's calibrated setting
    (:attr:`KWSModel.detector`). Feeding a signal in any blocks gives the same detections as
    feeding it whole.
    """

    def __init__(self, model: KWSModel, threshold: float | None = None, hop_s: float = 0.1,
                 min_level_dbfs: float = -50.0, batch: int = 16, min_gap_s: float | None = None,
                 min_windows: int | None = None, min_keyword_p: float | None = None):
        self.model, self.min_level_dbfs, self.batch = model, min_level_dbfs, batch
        self.threshold = float(model.detector["threshold"] if threshold is None else threshold)
        self.min_windows = (stored_min_windows(model, hop_s) if min_windows is None
                            else max(1, int(min_windows)))
        self.min_keyword_p = float(model.detector["min_keyword_p"] if min_keyword_p is None
                                   else min_keyword_p)
        self.n = model.clip_samples
        self.gap = self.n // 2 if min_gap_s is None else max(1, int(round(min_gap_s * model.fs)))
        self.hop = max(1, int(round(hop_s * model.fs)))
        self.buf = np.zeros(0, np.float32)
        self.buf_start = 0            # absolute index of buf[0]
        self.next_start = 0           # absolute start of the next window to classify
        self.pending: tuple[int, int, float] | None = None   # (start, label, score)
        self.run: tuple[int, int] = (-1, 0)                    # (label, length) of the current run

    @torch.no_grad()
    def process(self, block: np.ndarray) -> list[Detection]:
        """Add mono samples ``[n]`` (or ``[n, 1]``); returns the detections completed so far."""
        x = np.asarray(block, np.float32).reshape(-1)
        self.buf = np.concatenate([self.buf, x])
        starts = []
        while self.next_start + self.n <= self.buf_start + len(self.buf):
            starts.append(self.next_start)
            self.next_start += self.hop
        out: list[Detection] = []
        for i in range(0, len(starts), self.batch):
            chunk = starts[i:i + self.batch]
            win = np.stack([self.buf[s - self.buf_start:s - self.buf_start + self.n] for s in chunk])
            level = 10 * np.log10(np.mean(win.astype(np.float64) ** 2, axis=1) + 1e-12)
            probs, p_kw = self.model.classify(torch.from_numpy(win))
            out += self.decide(chunk, probs.numpy(), level, p_kw.numpy())
        drop = self.next_start - self.buf_start
        if drop > 0:
            self.buf = self.buf[drop:]
            self.buf_start += drop
        return out

    def decide(self, starts: list[int] | np.ndarray, probs: np.ndarray, level_db: np.ndarray,
               p_keyword: np.ndarray | None = None) -> list[Detection]:
        """The decision rule alone, for windows already classified, in time order: start samples
        ``[W]``, class probabilities ``probs [W, K]``, window level ``level_db [W]`` (dBFS), the
        rejection head's keyword probability ``p_keyword [W]``.
        :meth:`process` calls it; benchmarks replay cached probabilities through it."""
        best, score = keyword_scores(probs, self.model.labels, p_keyword, self.min_keyword_p)
        out: list[Detection] = []
        for s, lv, lab, sc in zip(starts, level_db, best, score, strict=True):
            out += self._candidate(int(s), int(lab), float(sc), lv >= self.min_level_dbfs)
        return out

    def _candidate(self, start: int, label: int, score: float, loud: bool) -> list[Detection]:
        out = []
        if self.pending is not None and start - self.pending[0] >= self.gap:
            out.append(self._emit())
        ok = loud and score >= self.threshold
        self.run = ((label, self.run[1] + 1 if self.run[0] == label else 1) if ok else (-1, 0))
        if ok and self.run[1] >= self.min_windows and (self.pending is None or score > self.pending[2]):
            self.pending = (start, label, score)
        return out

    def _emit(self) -> Detection:
        s, lab, score = self.pending
        self.pending = None
        fs = self.model.fs
        return Detection(self.model.labels[lab], score, s / fs, (s + self.n) / fs)

    def flush(self) -> list[Detection]:
        """Detections still pending at the end of the signal."""
        return [self._emit()] if self.pending is not None else []


def keyword_spotter(path: str | Path, threshold: float | None = None):
    """A checkpoint → ``(at_rate, labels)`` for live audio: ``at_rate(fs)`` builds a spotter
    ``mono block [n] at fs -> [detection dicts]`` (:meth:`Detection.to_dict`; a
    :class:`StreamingDetector` behind a streaming resampler when ``fs`` is not the model's rate);
    ``labels`` are the model's words (the filler class left out). ``threshold`` None keeps the
    model's calibrated rejection setting (:attr:`KWSModel.detector`). Used by ``neuroaudio serve`` and
    the ROS node's ``~keyword`` topic."""
    from ..audio.resample import StreamingResampler
    from .checkpoint import load_model

    m = load_model(path)

    def at_rate(fs: int):
        det = StreamingDetector(m, threshold=threshold)
        rs = StreamingResampler(fs, m.fs, 1) if fs != m.fs else None

        def spot(block: np.ndarray) -> list[dict[str, Any]]:
            x = block if rs is None else rs.push(block[:, None])[:, 0]
            return [d.to_dict() for d in det.process(x)]

        return spot

    return at_rate, [lab for lab in m.labels if not lab.startswith("_")]


def detect(model: KWSModel, x: np.ndarray, threshold: float | None = None, hop_s: float = 0.1,
           min_level_db: float = 30.0, single: bool | None = None, min_windows: int | None = None
           ) -> list[Detection]:
    """Keywords in mono ``x`` at the model's rate (see module docstring).

    ``threshold`` and ``min_windows`` default to the model's calibrated rejection setting
    (:attr:`KWSModel.detector`). Long signals go through :class:`StreamingDetector` with the level
    gate set ``min_level_db`` below the loudest window; with ``single`` only the best window is
    reported (it too must end a run of ``min_windows`` windows of its class, or of all the file's
    windows when the file has fewer).
    """
    threshold = model.detector["threshold"] if threshold is None else threshold
    min_windows = stored_min_windows(model, hop_s) if min_windows is None else min_windows
    n, fs = model.clip_samples, model.fs
    if single is None:
        single = len(x) <= 2 * n
    if not single and len(x) > n:
        hop = max(1, int(round(hop_s * fs)))
        power = np.convolve(x.astype(np.float64) ** 2, np.ones(n) / n, mode="valid")[::hop]
        top = 10 * np.log10(power.max() + 1e-12)
        det = StreamingDetector(model, threshold, hop_s, float(top - min_level_db), min_windows=min_windows)
        return det.process(x) + det.flush()
    starts, probs, level, p_kw = window_scores(model, x, hop_s)
    ok = level >= level.max() - min_level_db
    cls, score = keyword_scores(probs, model.labels, p_kw, model.detector["min_keyword_p"])
    runs = run_lengths(cls, ok & (score >= threshold))
    best = np.where(ok & (runs >= min(min_windows, len(runs))), score, -1.0)
    i = int(best.argmax())
    if best[i] < threshold:
        return []
    s0 = max(0, int(starts[i]))
    label = model.labels[int(cls[i])]
    return [Detection(label, float(best[i]), s0 / fs, min(len(x), s0 + n) / fs)]


def detect_file(model: KWSModel, path: str | Path, **kw: Any) -> dict[str, Any]:
    """``{"path", "duration_s", "detections": [{label, score, t_start_s, t_end_s}]}`` for one file.

    The file is checked as ``localize`` checks its input (missing, not audio, truncated, NaN/Inf
    samples: InputError) and refused when shorter than :data:`MIN_FILE_S`; a rate below the
    model's draws a warning."""
    from ..audio.io import audio_info, warn_low_rate
    from ..errors import InputError

    info = audio_info(path)
    if info.duration_s < MIN_FILE_S:
        raise InputError(f"{path}: {info.duration_s:.3f} s long, shorter than the {MIN_FILE_S:.3f} s "
                         "the shortest spoken word needs; give a longer recording")
    warn_low_rate(path, info.fs, model.fs)
    x = read_mono(path, model.fs)
    return {"path": str(path), "duration_s": round(len(x) / model.fs, 3),
            "detections": [d.to_dict() for d in detect(model, x, **kw)]}
