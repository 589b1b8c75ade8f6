"""The one Localizer interface every DOA method implements.

Data flow: blocks of audio ``[samples, mics]`` at ``fs`` Hz → :class:`Framer` (frames of
``frame_s`` every ``hop_s``) → :class:`ActivityDetector` (is a source present?) →
``frames_spectrum`` (the method: a spatial spectrum over the azimuth grid per frame) →
:class:`FrameEstimate` per frame, and a file-level :class:`LocalizationResult` that pools the
spectra of the frames that carry the source.

A method subclasses :class:`Localizer`, fills in :meth:`Localizer.frames_spectrum` and is
registered by name in :mod:`neuroaudio.localize.registry`. Streaming is built in: ``process``
carries the framer's and detector's state between blocks, so feeding a signal in blocks of any
size gives the same estimates as feeding it whole.

Activity and pooling (a choice, documented here):

- Per frame (causal, usable live), two pieces of evidence:

  1. level: the frame's level ``L`` (dB re full scale, mean power over mics) is compared with a
     noise floor tracked from the past frames (instant fall, slow rise of
     ``floor_rise_db_per_s``); ``L > floor + activity_margin_db`` marks an onset/louder segment
     (speech over background).
  2. spatial coherence (:func:`spatial_coherence`): the magnitude of the phase-transformed
     cross-spectra averaged over the 16-ms snapshots of the frame (300-4000 Hz, all pairs). A
     wave from one direction keeps the inter-mic phase steady (1 for a plane wave, 0.45-0.6 for a
     talker or a noise source in a reverberant room, measured on our simulated rooms) while
     uncorrelated sensor noise gives only the averaging floor ``b = sqrt(pi / (4 S))`` for ``S``
     snapshots (0.2 for the 0.17-s frame). A frame is coherent above
     ``b + coherence_margin * (1 - b)`` (0.4 by default).

  A frame is *silent* below ``silence_dbfs``, and otherwise *active* when either holds. Level
  alone would miss a source that plays from the first sample on (the floor starts at its level)
  and would forget a steady source once the floor has risen to it; coherence alone would miss a
  talker in strong incoherent noise. Inactive frames report ``azimuth_deg = None`` and
  confidence 0: silence (and incoherent noise) is not a direction.
- Noise floors: instant fall, slow rise, and never below the lowest level of the last
  ``floor_window_s`` seconds (a bounded-window minimum). On a clip shorter than the window this is
  the slow-rise floor exactly; after a quiet stretch followed by a louder noisy scene the floor
  reaches the new noise within the window (2 s) instead of rising at a few dB/s for ~10 s
  (tests/test_pooling.py measures the recovery). The speech-presence bin weights of
  gcc-phat and srp-phat (:class:`~neuroaudio.spectra.BinNoiseTracker`) do the same per bin.
- File level (with hindsight, bounded memory): :class:`~neuroaudio.localize.pooling.EvidencePool`
  weights each audible frame's normalised spectrum by how much it carries the source
  (``pooling`` option; default ``energy``: the frame's power above the file's noise floor, the
  floor being the ``floor_percentile`` of the frames' level histogram). The estimate pools
  evidence (not a mean of angles); if no frame stands out (a steady source) all audible frames
  are pooled; if every frame is silent, the azimuth is None. Each frame also carries ``snr_db``,
  its level over the causal floor, which a tracker can use as measurement weight.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..arrays import MicArray, load_array
from ..errors import InputError
from .calibration import apply_map, calibration_map
from .peaks import MAX_SOURCES, VOTE_SIGMA_DEG, SourcePeak, parse_sources, pick_peaks, vote_map
from .pooling import DEFAULT_POOLING, LEVEL_BINS_DB, EvidencePool  # noqa: F401

MULTI_FRAME_S = 0.064
"""Default analysis frame (s) with more than one source (``--sources`` other than 1): shorter
frames are more often dominated by one talker, so their peaks separate talkers better (measured on
three simultaneous talkers, docs/localize.md "Several sources"); 0.17 s stays the single-source
default."""


def default_frame_s(sources: object = 1) -> float:
    """The default analysis frame (s) for ``--sources`` ``sources``: 0.17 s for one source,
    :data:`MULTI_FRAME_S` for more."""
    return 0.17 if parse_sources(sources) == 1 else MULTI_FRAME_S


@dataclass
class FrameEstimate:
    """One frame's estimate.

    Attributes:
        t_s: centre of the frame (s) from the start of the stream.
        azimuth_deg: direction in [0, 360) or None when no source is detected.
        confidence: in [0, 1]; 0 for inactive frames.
        level_dbfs: frame level (dB re full scale).
        active: whether a source was detected in this frame.
        spectrum: normalised spatial spectrum over the localizer's azimuth grid, shape ``[n_az]``
            (None for silent frames).
        elevation_deg: elevation when the array resolves it, else None.
        snr_db: level over the causal noise floor (dB; None for silent frames).
        sources: with ``sources`` other than 1, the frame's peaks (:class:`SourcePeak`, the
            strongest first; empty when inactive); None with one source.
    """

    t_s: float
    azimuth_deg: float | None
    confidence: float
    level_dbfs: float
    active: bool
    spectrum: np.ndarray | None = None
    elevation_deg: float | None = None
    snr_db: float | None = None
    sources: list[SourcePeak] | None = None

    def to_json(self) -> dict[str, Any]:
        """The per-frame JSON object of conventions.md (``sources`` only with several sources)."""
        d: dict[str, Any] = {"t_s": round(self.t_s, 4),
                             "azimuth_deg": None if self.azimuth_deg is None else round(self.azimuth_deg, 2),
                             "confidence": round(float(self.confidence), 4)}
        if self.sources is not None:
            d["sources"] = [p.to_json() for p in self.sources]
        return d


@dataclass
class SpikeActivity:
    """What a spiking method's neurons did in its last frame (live views; :attr:`Localizer.record_activity`).

    Attributes:
        raster: the encoder's coincidence spikes, ``[steps, pairs * delays]`` bool: detector
            (pair p, delay d) is neuron ``p * delays + d``; it spiked in a step when any of its
            frequency bands did.
        rates: firing rate per layer, the fraction of (neuron, step) pairs that spiked
            (``coincidence`` for the encoder, then the network's layers in order).
    """

    raster: np.ndarray
    rates: dict[str, float]

    @classmethod
    def of_coincidence(cls, maps: np.ndarray, rates: dict[str, float] | None = None) -> SpikeActivity:
        """From one frame's coincidence maps ``[steps, pairs, delays, bands]`` (counts)."""
        spikes = np.asarray(maps) > 0
        return cls(spikes.any(axis=-1).reshape(spikes.shape[0], -1),
                   {"coincidence": float(spikes.mean()), **(rates or {})})


@dataclass
class LocalizationResult:
    """The estimate for a whole file or stream.

    Attributes:
        azimuth_deg: pooled direction in [0, 360) or None when nothing but silence was heard.
        confidence: in [0, 1].
        frames: the per-frame estimates.
        spectrum: pooled normalised spatial spectrum, shape ``[n_az]`` (zeros if silent).
        grid_deg: the azimuth grid (degrees), shape ``[n_az]``.
        n_pooled: how many frames were pooled.
        sources: with ``sources`` other than 1, the sources found in the file (strongest first;
            confidence = the share of the frames' peak votes near each); None with one source.
    """

    azimuth_deg: float | None
    confidence: float
    frames: list[FrameEstimate]
    spectrum: np.ndarray
    grid_deg: np.ndarray
    n_pooled: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    sources: list[SourcePeak] | None = None

    def to_json(self, path: str, method: str) -> dict[str, Any]:
        """The per-file JSON object of conventions.md (``sources`` only with several sources)."""
        d: dict[str, Any] = {"path": path, "method": method,
                             "azimuth_deg": None if self.azimuth_deg is None else round(self.azimuth_deg, 2),
                             "confidence": round(float(self.confidence), 4)}
        if self.sources is not None:
            d["sources"] = [p.to_json() for p in self.sources]
        d["frames"] = [f.to_json() for f in self.frames]
        return d


class Framer:
    """Cut a block stream into frames of ``frame_len`` samples every ``hop`` samples.

    Carries the unfinished tail between calls, so frames do not depend on block boundaries.
    Frame k covers samples ``[k*hop, k*hop + frame_len)`` of the stream.
    """

    def __init__(self, frame_len: int, hop: int, channels: int):
        if hop <= 0 or frame_len <= 0:
            raise ValueError("frame_len and hop must be positive")
        self.frame_len, self.hop, self.channels = frame_len, hop, channels
        self.reset()

    def reset(self) -> None:
        self._buf = np.zeros((0, self.channels), dtype=np.float32)
        self._skip = 0          # samples still to drop before the next frame starts (hop > len)
        self.n_frames = 0       # frames emitted so far

    def push(self, block: np.ndarray) -> np.ndarray:
        """Add samples; return the frames completed, shape ``[n, frame_len, channels]``."""
        block = np.asarray(block, dtype=np.float32)
        if self._skip:
            k = min(self._skip, len(block))
            block, self._skip = block[k:], self._skip - k
        buf = np.concatenate([self._buf, block]) if len(self._buf) else block
        n = 0 if len(buf) < self.frame_len else 1 + (len(buf) - self.frame_len) // self.hop
        if n:
            idx = np.arange(n)[:, None] * self.hop + np.arange(self.frame_len)[None, :]
            frames = buf[idx]
        else:
            frames = np.zeros((0, self.frame_len, self.channels), dtype=np.float32)
        consumed = n * self.hop
        if consumed <= len(buf):
            self._buf = buf[consumed:].copy()
        else:
            self._buf, self._skip = buf[:0].copy(), consumed - len(buf)
        self.n_frames += n
        return frames


class ActivityDetector:
    """Causal source-activity detection from frame levels and coherence (module docstring).

    The level floor falls at once, rises ``floor_rise_db_per_s`` and is never below the lowest
    audible level of the last ``floor_window_s`` seconds (None: no window, rise only).
    :attr:`snr_db` holds the last :meth:`update`'s levels over the floor before each frame.
    """

    def __init__(self, hop_s: float, silence_dbfs: float = -65.0, margin_db: float = 3.0,
                 floor_rise_db_per_s: float = 6.0, coherence_threshold: float | None = None,
                 floor_window_s: float | None = 2.0):
        self.hop_s, self.silence_dbfs, self.margin_db = hop_s, silence_dbfs, margin_db
        self.rise = floor_rise_db_per_s * hop_s
        self.coherence_threshold = coherence_threshold
        self.window = None if not floor_window_s else max(1, int(round(floor_window_s / hop_s)))
        self.reset()

    def reset(self) -> None:
        from collections import deque

        self.floor_db: float | None = None
        self._recent: deque[float] = deque(maxlen=self.window or 1)
        self.snr_db = np.zeros(0)

    def update(self, levels_db: np.ndarray, coherence: np.ndarray | None = None) -> np.ndarray:
        """Levels (dBFS) and optionally spatial coherence of consecutive frames, shape ``[n]``
        → active flags, shape ``[n]``."""
        active = np.zeros(len(levels_db), dtype=bool)
        self.snr_db = np.full(len(levels_db), np.nan)
        for k, lv in enumerate(levels_db):   # one step per frame (not per sample)
            if lv < self.silence_dbfs:
                continue
            if self.floor_db is None:
                self.floor_db = float(lv)
            self.snr_db[k] = lv - self.floor_db
            active[k] = lv > self.floor_db + self.margin_db
            self.floor_db = float(min(lv, self.floor_db + self.rise))
            if self.window:
                self._recent.append(float(lv))
                self.floor_db = max(self.floor_db, min(self._recent))
        if coherence is not None and self.coherence_threshold is not None:
            active |= (levels_db >= self.silence_dbfs) & (coherence > self.coherence_threshold)
        return active


COHERENCE_NFFT = 256
"""Snapshot length (samples at 16 kHz: 16 ms) of the coherence measure."""
COHERENCE_BAND_HZ = (300.0, 4000.0)
"""Band of the coherence measure (Hz): where speech carries energy and small arrays still
resolve phase."""


def spatial_coherence(frames: np.ndarray, pairs: np.ndarray, fs: int) -> np.ndarray:
    """Mean over pairs and bins of ``|mean_s Xt_i* Xt_j|`` (``Xt = X/|X|`` per snapshot ``s``).

    Args:
        frames: ``[n, frame_len, mics]``.
        pairs: ``[pairs, 2]`` mic indices.
        fs: rate (Hz).

    Returns:
        ``[n]`` in [0, 1]: 1 for a plane wave, ``~sqrt(pi / (4 S))`` for incoherent noise.
    """
    from ..spectra import band_bins, hann, phat, stft_snapshots

    nfft = int(COHERENCE_NFFT * fs / 16000) // 2 * 2
    bins = band_bins(nfft, fs, *COHERENCE_BAND_HZ)
    X = phat(stft_snapshots(frames, nfft, nfft // 2, hann(nfft), bins))   # [n, S, K, M]
    C = np.conj(X[..., pairs[:, 0]]) * X[..., pairs[:, 1]]
    return np.abs(C.mean(axis=1)).mean(axis=(1, 2))


def coherence_threshold(frame_len: int, fs: int, margin: float) -> float:
    """Coherence above which a frame is directional: ``b + margin * (1 - b)``, ``b`` the
    incoherent-noise floor ``sqrt(pi / (4 S))`` for the frame's ``S`` snapshots."""
    nfft = int(COHERENCE_NFFT * fs / 16000) // 2 * 2
    snaps = max(1, 1 + (frame_len - nfft) // (nfft // 2))
    b = min(1.0, float(np.sqrt(np.pi / (4 * snaps))))
    return b + margin * (1.0 - b)


def frame_levels_dbfs(frames: np.ndarray) -> np.ndarray:
    """Mean power over samples and mics in dB re full scale, ``[n, len, mics]`` → ``[n]``."""
    f = frames.reshape(len(frames), -1)
    p = np.einsum("ij,ij->i", f, f, dtype=np.float64) / max(1, f.shape[1])
    return 10.0 * np.log10(p + 1e-20)


class Localizer(ABC):
    """Base class of every DOA method (classical, GCC-PHAT-SM, spiking MAA).

    Args:
        array: the microphone array (a :class:`MicArray`, built-in name or JSON path).
        fs: processing rate (Hz); default: the array's rate or 16 kHz.
        frame_s: analysis frame (s); 0.17 s as in the RF-PLC/MAA paper.
        hop_s: hop between frames (s).
        grid_step_deg: azimuth grid step (degrees); the grid covers [0, 360).
        silence_dbfs, activity_margin_db, floor_rise_db_per_s, floor_percentile,
            coherence_margin, floor_window_s: activity detection and pooling (module
            docstring); ``coherence_margin=None`` turns the coherence evidence off (level only),
            ``floor_window_s=0`` the bounded-window floor.
        pooling: how frames are weighted in the file estimate
            (:mod:`~neuroaudio.localize.pooling`; ``level`` is the earlier default).
        calibrate: report the file's confidence as the chance of being within 10 deg
            (:mod:`~neuroaudio.localize.calibration`) where a map was fitted for this method and
            these settings; False: the raw peakiness.
        sources: the most sources per frame and per file, 1..4, or ``"auto"`` (up to 4, as many as
            stand out); 1 (the default) is the single-source behaviour, unchanged.
        peak_sep_deg: two sources are more than this apart (the peak suppression half-width).
        peak_rel: a frame's later peak counts when its height above the spectrum's mean is at
            least this fraction of the first peak's (:mod:`~neuroaudio.localize.peaks`).
        source_rel: a file's later source counts when its pooled vote peak is at least this
            fraction of the first's.

    Subclasses set ``name`` and ``summary`` and implement :meth:`frames_spectrum`.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    keep_frame_spectra: bool = False
    """Keep each frame's spectrum in the result (for plots); off to bound memory on long files."""
    record_activity: bool = False
    """Spiking methods keep their last frame's :class:`SpikeActivity` in :attr:`last_activity`
    (``neuroaudio serve`` shows it); off by default: it costs a little per frame."""
    last_activity: SpikeActivity | None = None
    """The last frame's spikes, set by :meth:`frames_spectrum` of spiking methods while
    :attr:`record_activity` is on (None otherwise, and for other methods)."""

    def __init__(self, array: MicArray | str, fs: int | None = None, frame_s: float = 0.17,
                 hop_s: float = 0.085, grid_step_deg: float = 1.0, silence_dbfs: float = -65.0,
                 activity_margin_db: float = 3.0, floor_rise_db_per_s: float = 6.0,
                 floor_percentile: float = 10.0, coherence_margin: float | None = 0.25,
                 floor_window_s: float = 2.0, pooling: str = DEFAULT_POOLING,
                 calibrate: bool = True, sources: int | str = 1, peak_sep_deg: float = 20.0,
                 peak_rel: float = 0.5, source_rel: float = 0.1):
        self.array = load_array(array)
        self.n_sources = parse_sources(sources)
        """The most sources per frame (0: auto, up to :data:`MAX_SOURCES`); 1: single source."""
        if peak_sep_deg <= 0 or not 0 <= peak_rel <= 1 or not 0 <= source_rel <= 1:
            raise InputError("peak_sep_deg must be positive degrees, peak_rel and source_rel in [0, 1]")
        self.peak_sep_deg, self.peak_rel = float(peak_sep_deg), float(peak_rel)
        self.source_rel = float(source_rel)
        self.fs = int(fs or self.array.fs)
        if frame_s <= 0 or hop_s <= 0:
            raise InputError("frame_s and hop_s must be positive (seconds)")
        self.frame_len = int(round(frame_s * self.fs))
        self.hop = int(round(hop_s * self.fs))
        self.grid_deg = np.arange(0.0, 360.0, grid_step_deg)
        self.floor_percentile = floor_percentile
        self.framer = Framer(self.frame_len, self.hop, self.array.n_mics)
        use_coherence = coherence_margin is not None and self.frame_len >= 2 * COHERENCE_NFFT
        self.detector = ActivityDetector(
            self.hop / self.fs, silence_dbfs, activity_margin_db, floor_rise_db_per_s,
            coherence_threshold(self.frame_len, self.fs, coherence_margin) if use_coherence else None,
            floor_window_s)
        self._pairs = self.array.pairs()
        self.pool = EvidencePool(pooling, len(self.grid_deg), activity_margin_db, floor_percentile)
        if self.pool.needs_coherence and self.frame_len < 2 * COHERENCE_NFFT:
            raise InputError(f"pooling={pooling!r} needs frames of at least "
                             f"{2 * COHERENCE_NFFT / 16000:g} s for the coherence; use a longer "
                             "--frame-s or a pooling without coherence")
        step = float(self.grid_deg[1] - self.grid_deg[0]) if len(self.grid_deg) > 1 else 1.0
        self._sep_bins = max(1, int(round(self.peak_sep_deg / step)))
        self._vote_sigma_bins = VOTE_SIGMA_DEG / step
        self._votes = np.zeros(len(self.grid_deg))
        """With several sources: the sum of the active frames' peak votes (:func:`vote_map`)."""
        self._n_voted = 0
        self.extra_pools: dict[str, EvidencePool] = {}
        """Other poolings fed the same frames (side-by-side measurement); results in
        ``LocalizationResult.extra["pools"]``: spec → (azimuth_deg, confidence)."""
        self._coh_floor = coherence_threshold(self.frame_len, self.fs, 0.0)
        self.calibrate = bool(calibrate)
        self._calib: Any = None      # the method's calibration map, looked up on first use
        self.reset()

    @property
    def multi(self) -> bool:
        """Several sources (``sources`` other than 1)."""
        return self.n_sources != 1

    @property
    def max_sources(self) -> int:
        """The most sources reported per frame and per file."""
        return self.n_sources or MAX_SOURCES

    # --- what a method provides -----------------------------------------------------------
    @abstractmethod
    def frames_spectrum(self, frames: np.ndarray) -> np.ndarray:
        """Spatial spectra of a batch of frames.

        Args:
            frames: shape ``[n, frame_len, mics]``, float32, at ``self.fs``.

        Returns:
            shape ``[n, len(self.grid_deg)]``, larger = more likely direction. Methods that
            carry state across frames (learned recurrent models) keep it on ``self`` and clear it
            in :meth:`reset_method_state`.
        """

    def reset_method_state(self) -> None:
        """Clear a method's own streaming state (override when there is any)."""

    def normalise(self, spectra: np.ndarray) -> np.ndarray:
        """Make spectra comparable across frames: shift to min 0 and scale to sum 1 per frame."""
        s = spectra - spectra.min(axis=1, keepdims=True)
        return s / np.maximum(s.sum(axis=1, keepdims=True), 1e-12)

    def confidence(self, spectra: np.ndarray) -> np.ndarray:
        """Peakiness of normalised spectra in [0, 1]: 1 - mean/peak (0 for a flat spectrum)."""
        peak = spectra.max(axis=1)
        return np.clip(1.0 - spectra.mean(axis=1) / np.maximum(peak, 1e-12), 0.0, 1.0)

    # --- streaming ------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything: a new stream starts."""
        self.framer.reset()
        self.detector.reset()
        self.pool.reset()
        self._votes = np.zeros(len(self.grid_deg))
        self._n_voted = 0
        for p in self.extra_pools.values():
            p.reset()
        self._frames: list[FrameEstimate] = []
        self.reset_method_state()

    def process(self, block: np.ndarray) -> list[FrameEstimate]:
        """Feed a block ``[samples, mics]`` at ``self.fs``; return the frames it completed."""
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[1] != self.array.n_mics:
            raise InputError(f"block of shape {list(block.shape)}: expected [samples, "
                             f"{self.array.n_mics}] for array {self.array.name}")
        if block.size and not np.isfinite(block).all():
            raise InputError("block holds NaN or Inf samples; feed finite audio (check the "
                             "source or the file)")
        first = self.framer.n_frames
        frames = self.framer.push(block)
        if not len(frames):
            return []
        levels = frame_levels_dbfs(frames)
        audible = levels >= self.detector.silence_dbfs
        active = self.detector.update(levels)
        snr = self.detector.snr_db
        pools = [self.pool, *self.extra_pools.values()]
        coh = None
        if any(p.needs_coherence for p in pools):   # the pooling wants every audible frame's
            coh = np.zeros(len(frames))
            if audible.any():
                coh[audible] = spatial_coherence(frames[audible], self._pairs, self.fs)
        if self.detector.coherence_threshold is not None:
            # coherence only where the level alone did not already decide (same result, less work)
            need = audible & ~active
            if need.any():
                c = coh[need] if coh is not None else spatial_coherence(frames[need], self._pairs,
                                                                        self.fs)
                active[need] = c > self.detector.coherence_threshold
        spectra = np.zeros((len(frames), len(self.grid_deg)))
        if audible.any():
            spectra[audible] = self.normalise(self.frames_spectrum(frames[audible]))
        conf = self.confidence(spectra) if len(spectra) else np.zeros(0)
        for p in pools:
            p.add(spectra[audible], levels[audible], None if coh is None else coh[audible],
                  conf[audible], self._coh_floor)
        peaks = None
        if self.multi:
            peaks = pick_peaks(spectra, self.max_sources, self._sep_bins, self.peak_rel)
            if active.any():
                self._votes += vote_map(*(p[active] for p in peaks), spectra[active], len(self.grid_deg),
                                        self._vote_sigma_bins).sum(axis=0)
                self._n_voted += int(active.sum())
        out = []
        for k in range(len(frames)):
            t = ((first + k) * self.hop + self.frame_len / 2) / self.fs
            az = float(self.grid_deg[np.argmax(spectra[k])]) if active[k] else None
            srcs = None
            if peaks is not None:
                idx, pc, pv = peaks
                srcs = ([SourcePeak(float(self.grid_deg[i]), float(c))
                         for i, c, v in zip(idx[k], pc[k], pv[k], strict=True) if v]
                        if active[k] else [])
            out.append(FrameEstimate(t, az, float(conf[k]) if active[k] else 0.0,
                                     float(levels[k]), bool(active[k]),
                                     spectra[k] if audible[k] else None,
                                     snr_db=float(snr[k]) if audible[k] else None, sources=srcs))
        if self.keep_frame_spectra:
            self._frames.extend(out)
        else:   # bounded memory on long streams: keep the estimates, drop the spectra
            self._frames.extend(FrameEstimate(f.t_s, f.azimuth_deg, f.confidence, f.level_dbfs,
                                              f.active, None, f.elevation_deg, f.snr_db, f.sources)
                                for f in out)
        return out

    def finish(self) -> LocalizationResult:
        """Pool the stream so far into one estimate (see module docstring)."""
        pooled, n, _ = self.pool.result()
        if n == 0:
            return LocalizationResult(None, 0.0, list(self._frames), np.zeros(len(self.grid_deg)),
                                      self.grid_deg, 0, sources=[] if self.multi else None)
        az = float(self.grid_deg[np.argmax(pooled)])
        raw = float(self.confidence(pooled[None])[0])
        cmap = self.calibration_map()
        conf = float(apply_map(raw, *cmap)) if cmap is not None else raw
        res = LocalizationResult(az, conf, list(self._frames), pooled, self.grid_deg, n,
                                 sources=self.file_sources() if self.multi else None)
        res.extra["raw_confidence"] = raw
        res.extra["confidence_calibrated"] = cmap is not None
        if self.extra_pools:
            res.extra["pools"] = {}
            for spec, p in self.extra_pools.items():
                s, k, _ = p.result()
                res.extra["pools"][spec] = ((float(self.grid_deg[np.argmax(s)]),
                                             float(self.confidence(s[None])[0])) if k else (None, 0.0))
        return res

    def file_sources(self) -> list[SourcePeak]:
        """The sources of the stream so far: the peaks of the pooled frame votes (up to
        :attr:`max_sources`, later ones at least ``source_rel`` of the first); confidence = the
        share of the votes within ``peak_sep_deg`` of each."""
        votes = self._votes
        if self._n_voted == 0 or votes.sum() <= 0:
            return []
        idx, _, valid = pick_peaks(votes[None], self.max_sources, self._sep_bins, self.source_rel)
        n_az = len(self.grid_deg)
        out = []
        for i in idx[0][valid[0]]:
            d = np.abs(np.arange(n_az) - i)
            share = float(votes[np.minimum(d, n_az - d) <= self._sep_bins].sum() / votes.sum())
            out.append(SourcePeak(float(self.grid_deg[i]), share))
        return out

    def calibration_settings(self) -> dict[str, Any]:
        """What a confidence map depends on (recorded with it by benchmarks/fit_calibration.py)."""
        model = getattr(self, "model_path", None)
        return {"array": self.array.name, "fs": self.fs, "pooling": self.pool.spec,
                "frame_len": self.frame_len, "hop": self.hop, "n_az": len(self.grid_deg),
                "model": None if model is None else Path(model).name}

    def calibration_map(self) -> tuple[np.ndarray, np.ndarray] | None:
        """This method's confidence map for its settings, or None (raw confidence)."""
        if not self.calibrate:
            return None
        if self._calib is None:
            self._calib = calibration_map(self.name, self.calibration_settings()) or False
        return self._calib or None

    # --- offline --------------------------------------------------------------------------
    def localize(self, x: np.ndarray | Iterable[np.ndarray]) -> LocalizationResult:
        """Localize a whole signal ``[samples, mics]`` (or an iterable of blocks) from scratch."""
        self.reset()
        blocks = [x] if isinstance(x, np.ndarray) else x
        for b in blocks:
            self.process(b)
        return self.finish()

    def localize_file(self, path: str | Path, channels: list[int] | None = None,
                      block_s: float = 1.0,
                      on_frames: Callable[[list[FrameEstimate]], None] | None = None
                      ) -> LocalizationResult:
        """Localize a file, streamed from disk in blocks (bounded memory).

        Args:
            path: audio file; channel k (after ``channels``) is mic k.
            channels: 0-based channel selection, or None for all.
            block_s: read block (s); the result does not depend on it.
            on_frames: called with each block's new frame estimates as they are made (e.g. to
                print JSON lines while a long file is processed).
        """
        from ..audio.io import FileBlockStream

        stream = FileBlockStream(path, fs=self.fs, channels=channels, n_mics=self.array.n_mics,
                                 block_s=block_s, min_duration_s=self.frame_len / self.fs)
        self.reset()
        for block in stream:
            frames = self.process(block)
            if on_frames is not None and frames:
                on_frames(frames)
        return self.finish()
