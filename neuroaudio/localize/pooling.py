"""File-level evidence pooling: how much each frame's spatial spectrum counts in the estimate.

A file (or a stream so far) is pooled from the normalised spatial spectra ``s_k`` (``[n_az]``,
sum 1) of its audible frames as ``sum_k w_k s_k``; the azimuth is the pooled spectrum's peak.
The weight ``w_k`` says how much frame ``k`` carries the source. Choices (``-o pooling=...``,
factors multiplied with ``*``, e.g. ``energy*coherence``):

- ``level`` (the earlier default): 1 for frames at least ``margin_db`` above the file's
  noise floor, else 0 (all audible frames when none stands out). A frame 3 dB above the floor
  counts as much as one 25 dB above it, so a short word among ten louder-than-floor noise frames
  is outvoted (a 20-dB spoken digit was localized 21 deg off).
- ``snr``: the fraction of the frame's power above the floor, ``max(0, 1 - 10^(-SNR/10))``.
- ``energy``: the frame's power above the floor in units of the floor, ``max(0, 10^(SNR/10) - 1)``:
  pooling by energy, as pooling the cross-spectra before the phase transform does.
- ``coherence``: how directional the frame is, ``max(0, (c - b) / (1 - b))`` with ``c`` the
  spatial coherence (:func:`~neuroaudio.localize.base.spatial_coherence`) and ``b`` its
  incoherent-noise value; costs one more short-time FFT per frame.
- ``confidence``: the method's own per-frame confidence (the spectrum's peakiness, or a learned
  posterior's).

``SNR`` is the frame level over the file's noise floor, found with hindsight: the
``floor_percentile`` of the histogram of frame levels (1-dB bins). Frames are accumulated per
level bin, so the level factors are applied at the end and memory stays bounded on long streams.
If every weight is 0 (no frame stands above the floor: a steady source), all audible frames are
pooled equally, as ``level`` does.

Default :data:`DEFAULT_POOLING` (``energy``, for every method), chosen by measurement
(``experiments/pooling/pooling_bench.py``: all poolings fed the same frames of one run; tables in
docs/localize.md, "Pooling"). Against ``level``, MAE in degrees:

- realistic_bench (short utterances in non-stationary directional noise), 5 / 10 / 20 / 30 dB:
  gcc-phat 15.1 / 7.6 / 20.2 / 5.0 → 8.8 / 6.2 / 4.0 / 3.2, gcc-phat-sm 12.4 / 5.0 / 14.9 / 1.8 →
  7.3 / 3.6 / 2.8 / 2.0, maa 13.2 / 8.7 / 20.5 / 3.3 → 5.3 / 4.0 / 4.7 / 3.5; gcc-phat then beats
  every pyroomacoustics method from 5 dB up. Worse at -5 dB for gcc-phat (+1.2) and gcc-phat-sm
  (+4.4), and maa at 0 dB (+1.6).
- dev_bench: every method of ours within 0.3 of ``level`` at every SNR (better by 2-6 at -5 dB).
- heldout_bench: worse by more than 0.3 at some SNRs (gcc-phat 5 dB +2.0, gcc-phat-sm -5 dB
  +2.1, maa -5 / 10 / 30 dB +9.3 / +2.3 / +1.1), better at others (gcc-phat 0 dB -17.6).
- ``snr``, ``coherence`` and ``confidence`` alone, and softer ``energy^0.5`` / ``energy^0.3``,
  leave most of the short-utterance failure in place; ``energy*coherence`` and
  ``energy*confidence`` are within about 1 of ``energy`` everywhere.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

LEVEL_BINS_DB = np.arange(-140.0, 21.0, 1.0)
"""Lower edges (dBFS) of the level bins of the pooling accumulator."""

LEVEL_FACTORS = ("level", "snr", "energy")
FRAME_FACTORS = ("coherence", "confidence")
DEFAULT_POOLING = "energy"
MAX_SNR_DB = 60.0
"""SNRs above this count as this (bounds the ``energy`` weight)."""


def _split_power(part: str) -> tuple[str, float]:
    name, _, power = part.partition("^")
    try:
        return name.strip(), float(power) if power else 1.0
    except ValueError:
        return part, 1.0


def parse_pooling(spec: str) -> tuple[str | None, tuple[str, ...], float]:
    """``"energy^0.5*coherence"`` → (level factor or None, frame factors, the level factor's
    power); InputError if unknown."""
    parts = [p.strip() for p in str(spec).split("*") if p.strip()]
    split = [_split_power(p) for p in parts]
    level = [(n, e) for n, e in split if n in LEVEL_FACTORS]
    frame = tuple(p for p in parts if p in FRAME_FACTORS)
    bad = [p for (n, e), p in zip(split, parts, strict=True)
           if not ((n in LEVEL_FACTORS and e > 0) or p in FRAME_FACTORS)]
    if not parts or bad or len(level) > 1 or len(set(frame)) != len(frame):
        raise InputError(f"pooling={spec!r}: choose one of {', '.join(LEVEL_FACTORS)} and/or "
                         f"{', '.join(FRAME_FACTORS)}, joined by '*' (e.g. pooling=energy*coherence)")
    return (level[0][0] if level else None), frame, (level[0][1] if level else 1.0)


def level_weight(kind: str | None, snr_db: np.ndarray, margin_db: float) -> np.ndarray:
    """Weight of frames ``snr_db`` dB above the floor (``[n]`` → ``[n]``) for a level factor."""
    snr = np.minimum(np.asarray(snr_db, dtype=float), MAX_SNR_DB)
    if kind is None:
        return np.ones_like(snr)
    if kind == "level":
        return (snr >= margin_db).astype(float)
    if kind == "snr":
        return np.maximum(0.0, 1.0 - 10.0 ** (-snr / 10.0))
    return np.maximum(0.0, 10.0 ** (snr / 10.0) - 1.0)        # energy


class EvidencePool:
    """Bounded-memory accumulator of frame spectra, pooled with the weights of ``spec``.

    Args:
        spec: the pooling (module docstring), e.g. ``"energy"`` or ``"energy*coherence"``.
        n_az: spectrum length.
        margin_db: ``level``'s margin above the floor (dB).
        floor_percentile: the file's noise floor = this percentile of the frame levels.
    """

    def __init__(self, spec: str, n_az: int, margin_db: float = 3.0, floor_percentile: float = 10.0):
        self.spec = spec
        self.level_kind, self.frame_factors, self.level_power = parse_pooling(spec)
        self.margin_db, self.floor_percentile = float(margin_db), float(floor_percentile)
        self.n_az = int(n_az)
        self.reset()

    @property
    def needs_coherence(self) -> bool:
        return "coherence" in self.frame_factors

    def reset(self) -> None:
        nb = len(LEVEL_BINS_DB)
        self._acc = np.zeros((nb, self.n_az))        # sum of frame-factor-weighted spectra
        self._acc_plain = np.zeros((nb, self.n_az))  # unweighted sum (the steady-source fallback)
        self._wsum = np.zeros(nb)                    # sum of frame factors
        self._count = np.zeros(nb, dtype=np.int64)

    def add(self, spectra: np.ndarray, levels_db: np.ndarray, coherence: np.ndarray | None = None,
            confidence: np.ndarray | None = None, coherence_floor: float = 0.0) -> None:
        """Add audible frames: normalised spectra ``[n, n_az]``, levels (dBFS) ``[n]``, and the
        frame factors' inputs ``[n]`` this pooling uses (coherence with its noise value ``b``)."""
        if not len(spectra):
            return
        f = np.ones(len(spectra))
        if "coherence" in self.frame_factors:
            if coherence is None:
                raise ValueError("pooling with coherence needs each frame's coherence")
            b = float(coherence_floor)
            f = f * np.clip((np.asarray(coherence) - b) / max(1.0 - b, 1e-6), 0.0, 1.0)
        if "confidence" in self.frame_factors:
            f = f * np.clip(np.asarray(confidence, dtype=float), 0.0, 1.0)
        bins = np.clip(np.searchsorted(LEVEL_BINS_DB, levels_db, side="right") - 1, 0,
                       len(LEVEL_BINS_DB) - 1)
        np.add.at(self._acc, bins, spectra * f[:, None])
        np.add.at(self._acc_plain, bins, spectra)
        np.add.at(self._wsum, bins, f)
        np.add.at(self._count, bins, 1)

    @property
    def n_frames(self) -> int:
        return int(self._count.sum())

    def floor_db(self) -> float | None:
        """The noise floor (dBFS) of the frames so far (None before any)."""
        c = self._count
        if c.sum() == 0:
            return None
        cdf = np.cumsum(c) / c.sum()
        return float(LEVEL_BINS_DB[int(np.searchsorted(cdf, self.floor_percentile / 100.0))])

    def result(self) -> tuple[np.ndarray, int, float]:
        """``(pooled spectrum [n_az] (sum 1 unless empty), frames pooled, total weight)``."""
        floor = self.floor_db()
        if floor is None:
            return np.zeros(self.n_az), 0, 0.0
        have = self._count > 0
        # a bin's level: its centre; the floor's bin counts as 0 dB
        snr = LEVEL_BINS_DB - floor
        w = np.where(have, level_weight(self.level_kind, snr, self.margin_db) ** self.level_power, 0.0)
        total = float(np.sum(w * self._wsum))
        if total > 1e-12:
            pooled = (w[:, None] * self._acc).sum(axis=0)
            n = int(self._count[(w > 0) & (self._wsum > 0)].sum())
        else:   # nothing stands out: every audible frame counts the same
            pooled = self._acc_plain.sum(axis=0)
            n = int(self._count.sum())
        s = pooled.sum()
        return (pooled / s if s > 0 else pooled), n, total
