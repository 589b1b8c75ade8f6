"""Where the talker speaks: the active part of a clip and the SNR over it.

The **active part** is defined on the *dry* source signal (before the room), from its energy
envelope:

1. cut the dry signal ``s`` ``[n]`` into consecutive frames of :data:`ACTIVE_FRAME_S` (20 ms; the
   last frame may be shorter) and take each frame's mean power;
2. a frame is active when its power is within :data:`ACTIVE_THRESHOLD_DB` (30 dB) of the loudest
   frame's;
3. the active samples are those of active frames, delayed by the direct-path time from the source
   to the array centre (``round(distance_m / c * fs)`` samples) so that they cover the talker's
   sound where the mics receive it (samples pushed past the clip's end are dropped).

``snr_active_db = 10 log10(P_source / P_noise)`` with both powers the mean over all mics and the
active samples only (the same definition as the clip's SNR, conventions.md, on the active part).
The manifest's ``speech_onset_s`` is the start of the first active frame (emission time, s),
``speech_duration_s`` the time from there to the end of the last active frame (pauses included),
``speech_active_s`` the total active time.
"""

from __future__ import annotations

import numpy as np

from .. import SPEED_OF_SOUND_M_S

ACTIVE_FRAME_S = 0.02
"""Frame length of the energy envelope (s)."""
ACTIVE_THRESHOLD_DB = 30.0
"""A frame is active when its power is within this many dB of the loudest frame's."""


def active_frames(dry: np.ndarray, fs: int) -> tuple[np.ndarray, int]:
    """Active frames of a dry signal ``[n]``: a bool ``[frames]`` and the frame length (samples)."""
    x = np.asarray(dry, dtype=np.float64)
    hop = max(1, int(round(ACTIVE_FRAME_S * fs)))
    n_fr = -(-len(x) // hop)
    if n_fr == 0:
        return np.zeros(0, dtype=bool), hop
    pad = np.zeros(n_fr * hop)
    pad[:len(x)] = x ** 2
    counts = np.full(n_fr, hop)
    counts[-1] = len(x) - (n_fr - 1) * hop
    power = pad.reshape(n_fr, hop).sum(axis=1) / counts
    top = power.max()
    if not top > 0:
        return np.zeros(n_fr, dtype=bool), hop
    return power >= top * 10 ** (-ACTIVE_THRESHOLD_DB / 10), hop


def active_mask(dry: np.ndarray, fs: int, delay_samples: int = 0) -> np.ndarray:
    """Bool ``[n]``: the active samples of ``dry`` (module docstring), delayed by ``delay_samples``."""
    n = len(dry)
    frames, hop = active_frames(dry, fs)
    mask = np.repeat(frames, hop)[:n]
    if delay_samples > 0:
        mask = np.concatenate([np.zeros(min(delay_samples, n), dtype=bool), mask[:max(0, n - delay_samples)]])
    return mask


def speech_span(dry: np.ndarray, fs: int) -> tuple[float, float, float]:
    """``(onset_s, duration_s, active_s)`` of the active part of a dry signal (NaN when silent)."""
    frames, hop = active_frames(dry, fs)
    idx = np.flatnonzero(frames)
    if not len(idx):
        return float("nan"), float("nan"), 0.0
    n = len(dry)
    start = idx[0] * hop
    end = min((idx[-1] + 1) * hop, n)
    active = int(np.minimum((idx + 1) * hop, n).sum() - (idx * hop).sum())
    return start / fs, (end - start) / fs, active / fs


def direct_delay_samples(distance_m: float, fs: int) -> int:
    """Direct-path propagation time over ``distance_m`` in samples (rounded)."""
    return int(round(distance_m / SPEED_OF_SOUND_M_S * fs))


def active_snr_db(source_image: np.ndarray, noise: np.ndarray, mask: np.ndarray) -> float:
    """SNR (dB) over the samples where ``mask`` ``[n]`` is true; images ``[n, mics]``. NaN if none."""
    if not mask.any():
        return float("nan")
    p_s = float(np.mean(source_image[mask] ** 2))
    p_n = float(np.mean(noise[mask] ** 2))
    if not p_n > 0:
        return float("inf")
    return float(10 * np.log10(p_s / p_n)) if p_s > 0 else float("-inf")
