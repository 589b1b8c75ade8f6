"""File-level evidence pooling: how much each frame's spatial spectrum counts in the estimate.

A file (or a stream so far) is pooled from the normalised spatial spectra ``s_k`` (``[n_az]``,
sum 1) of its audible frames as ``sum_k w_k s_k``; the azimuth is the pooled spectrum's peak.
The weight ``w_k`` says how much frame ``k`` carries the source. Choices (``-o pooling=...``,
factors multiplied with ``*``, e.g. ``energy*coherence``):

- ``level`` (the earlier pooling): 1 for frames at least ``margin_db`` above the file's
  noise floor, else 0 (all audible frames when none stands out). A frame 3 dB above the floor
  counts as much as one 25 dB above it, so a short word among ten louder-than-floor noise frames
  is outvoted (measured: a 20-dB digit localized 21 deg off).
- ``snr``: the fraction of the frame's power above the floor, ``max(0, 1 - 10^(-SNR/10))``.
- ``energy``: the frame's power above the floor in units of the floor, ``max(0, 10^(SNR/10) - 1)``:
  pooling by energy, as pooling the cross-spectra before the phase transform does.
- ``top<dB>`` (a gate, e.g. ``top8``; ``top`` = ``top8``): only frames within that many dB of the
  file's loudest frame count, each with its level factor's weight (``level`` when none is given).
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

Default :data:`DEFAULT_POOLING` (``top8``, for every method), chosen by measurement
(``experiments/pooling/pooling_bench.py``: all poolings fed the same frames of one run; tables in
docs/localize.md, "Pooling"). ``top8`` counts alike the frames within 8 dB of the loudest (and 3 dB
above the floor): a short word's frames rather than the longer, weaker noise, yet one loud burst
does not outvote the talker's other frames as it does under ``energy``. MAE in degrees, per method
at -5 / 0 / 5 / 10 / 20 / 30 dB:

- realistic_bench: against ``level`` (the pooling before issue 18) gcc-phat 48.7 / 35.3 / 15.1 /
  7.6 / 20.2 / 5.0 → 48.7 / 35.3 / 10.3 / 6.6 / 4.0 / 3.0, gcc-phat-sm 32.8 / 14.9 / 9.1 / 4.6 /
  13.6 / 4.2 → 32.9 / 14.9 / 7.4 / 2.9 / 2.6 / 1.9, maa 54.5 / 36.1 / 13.2 / 8.7 / 20.5 / 3.3 →
  54.5 / 36.1 / 5.7 / 4.2 / 5.2 / 3.4. ``energy`` is better at low SNR (gcc-phat all SNRs 16.6
  against 18.0, gcc-phat-sm 8.9 against 10.4).
- dev_bench and heldout_bench: within 0.12 of ``level`` for every method at every SNR. ``energy``
  was worse there by up to 2.0 (gcc-phat, heldout 5 dB) and 9.3 (maa, heldout -5 dB): where the
  loudest frames are noise bursts, it trusts them most. ``top6`` loses up to 1.0 on heldout,
  ``top10``/``top12`` lose most of the realistic gain.
- ``snr``, ``coherence`` and ``confidence`` alone, softer ``energy^0.5``, and ``top8`` times
  ``energy^0.5`` or ``confidence`` are no better on both kinds of bench at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

LEVEL_BINS_DB = np.arange(-140.0, 21.0, 1.0)
"""Lower edges (dBFS) of the level bins of the pooling accumulator."""

LEVEL_FACTORS = ("level", "snr", "energy")
FRAME_FACTORS = ("coherence", "confidence")
DEFAULT_POOLING = "top8"
DEFAULT_TOP_DB = 8.0
"""``top`` alone: frames within this many dB of the loudest."""
MAX_SNR_DB = 60.0
"""SNRs above this count as this (bounds the ``energy`` weight)."""


def _split_power(part: str) -> tuple[str, float]:
    name, _, power = part.partition("^")
    try:
        return name.strip(), float(power) if power else 1.0
    except ValueError:
        return part, 1.0


def _top_db(part: str) -> float | None:
    """``"top8"`` → 8.0 (``"top"`` → :data:`DEFAULT_TOP_DB`); None if ``part`` is no top gate."""
    if not part.startswith("top"):
        return None
    rest = part[3:]
    if not rest:
        return DEFAULT_TOP_DB
    try:
        db = float(rest)
    except ValueError:
        return None
    return db if db > 0 else None


@dataclass(frozen=True)
class Pooling:
    """A parsed pooling: the level factor (``level``/``snr``/``energy`` or None) and its power, the
    top gate's width in dB (None: no gate) and the frame factors."""

    level: str | None
    power: float
    top_db: float | None
    frame: tuple[str, ...]


def parse_pooling(spec: str) -> Pooling:
    """``"top8*energy^0.5*coherence"`` → :class:`Pooling`; InputError if unknown."""
    parts = [p.strip() for p in str(spec).split("*") if p.strip()]
    split = [_split_power(p) for p in parts]
    level = [(n, e) for n, e in split if n in LEVEL_FACTORS]
    tops = [t for t in (_top_db(p) for p in parts) if t is not None]
    frame = tuple(p for p in parts if p in FRAME_FACTORS)
    bad = [p for (n, e), p in zip(split, parts, strict=True)
           if not ((n in LEVEL_FACTORS and e > 0) or p in FRAME_FACTORS or _top_db(p) is not None)]
    if not parts or bad or len(level) > 1 or len(tops) > 1 or len(set(frame)) != len(frame):
        raise InputError(f"pooling={spec!r}: choose one of {', '.join(LEVEL_FACTORS)}, a gate top<dB> "
                         f"and/or {', '.join(FRAME_FACTORS)}, joined by '*' (e.g. pooling=top8, "
                         "pooling=energy*coherence)")
    kind, power = level[0] if level else (("level" if tops else None), 1.0)
    return Pooling(kind, power, tops[0] if tops else None, frame)


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
        self.parsed = parse_pooling(spec)
        self.frame_factors = self.parsed.frame
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
        pp = self.parsed
        w = np.where(have, level_weight(pp.level, snr, self.margin_db) ** pp.power, 0.0)
        if pp.top_db is not None:       # only the frames within top_db of the loudest
            loudest = snr[np.flatnonzero(have)[-1]]
            w = np.where(snr >= loudest - pp.top_db, w, 0.0)
        total = float(np.sum(w * self._wsum))
        if total > 1e-12:
            pooled = (w[:, None] * self._acc).sum(axis=0)
            n = int(self._count[(w > 0) & (self._wsum > 0)].sum())
        else:   # nothing stands out: every audible frame counts the same
            pooled = self._acc_plain.sum(axis=0)
            n = int(self._count.sum())
        s = pooled.sum()
        return (pooled / s if s > 0 else pooled), n, total
