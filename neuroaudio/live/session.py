"""The live localization loop: one factory for ``localize --live`` and the ROS node.

:func:`build_live_session` puts together what a live run needs (the method from the registry,
the sound-card capture, the tracker) and :class:`LiveSession` runs it: each block the capture
delivers goes through :meth:`Localizer.process <neuroaudio.localize.base.Localizer.process>`, each
frame estimate through the tracker, and out comes one :class:`LiveEstimate` per analysis frame,
with its capture-to-estimate latency and the audio lost around it (gaps).

Capture, its faults and its clock live in :mod:`neuroaudio.audio.live`; this package sits above
both it and :mod:`neuroaudio.localize`, so neither of those imports the other.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..audio.live import LiveCapture, limit_threads
from ..errors import InputError
from ..localize.base import FrameEstimate, Localizer, SpikeActivity
from ..localize.registry import make_localizer
from ..tracking import AzimuthTracker, make_tracker, measurement_weight


@dataclass
class LiveEstimate:
    """One frame's live estimate (the jsonl line plus what the terminal view shows).

    ``azimuth_deg`` is the tracked direction when tracking is on (None until a source is born
    and after it dies), else the frame's own; ``raw_azimuth_deg`` is always the frame's own.
    ``gap``: the frame's audio is not contiguous (audio was lost inside it: a dropped block, an
    input overflow, a reconnection). ``dropped_s``: seconds of audio lost since the previous
    estimate (dropped blocks and reconnection outages; an overflow's length is unknown: 0).

    For live views (not in :meth:`to_json`): ``spectrum`` the frame's normalised spatial
    spectrum ``[n_az]`` over the localizer's grid (None when silent); ``mic_levels_dbfs``
    ``[mics]`` the level of each mic (dB re full scale) over the audio processed since the
    previous estimate; ``activity`` the spiking method's spikes in this frame (with
    ``LiveSession(record_activity=True)``; None for other methods and frames without sound).
    """

    t_s: float
    azimuth_deg: float | None
    confidence: float
    latency_s: float | None
    level_dbfs: float
    active: bool
    raw_azimuth_deg: float | None = None
    track_id: int | None = None
    spectrum: np.ndarray | None = None
    gap: bool = False
    dropped_s: float = 0.0
    mic_levels_dbfs: np.ndarray | None = None
    activity: SpikeActivity | None = None
    sources: list[dict[str, Any]] | None = None
    """With ``sources`` other than 1: the tracked sources (``id``, ``azimuth_deg``,
    ``confidence``, ``activity``; the main one first), or without tracking the frame's peaks
    (``azimuth_deg``, ``confidence``); None with one source."""

    def to_json(self) -> dict[str, Any]:
        """conventions.md's per-frame object plus ``latency_s``, ``level_dbfs``, ``gap``,
        ``dropped_s`` (and tracking fields, and ``sources`` with several sources)."""
        d: dict[str, Any] = {
            "t_s": round(self.t_s, 4),
            "azimuth_deg": None if self.azimuth_deg is None else round(self.azimuth_deg, 2),
            "confidence": round(float(self.confidence), 4),
            "latency_s": None if self.latency_s is None else round(self.latency_s, 4),
            "level_dbfs": round(float(self.level_dbfs), 1),
            "gap": bool(self.gap),
            "dropped_s": round(float(self.dropped_s), 4),
        }
        if self.track_id is not None or self.raw_azimuth_deg != self.azimuth_deg:
            d["raw_azimuth_deg"] = None if self.raw_azimuth_deg is None else round(self.raw_azimuth_deg, 2)
            d["track_id"] = self.track_id
        if self.sources is not None:
            d["sources"] = self.sources
        return d


def track_frame(tracker: AzimuthTracker, fr: FrameEstimate) -> list[dict[str, Any]] | None:
    """Step ``tracker`` with a frame's measurements: its one direction, or with several sources
    each of its peaks (weighted by :func:`measurement_weight` of the peak's confidence and the
    frame's SNR). Returns the tracked ``sources`` list with several sources, else None."""
    snr = getattr(fr, "snr_db", None)
    peaks = getattr(fr, "sources", None)
    if peaks is None:
        w = measurement_weight(fr.confidence, snr)
        tracker.step(fr.t_s, [(fr.azimuth_deg, fr.confidence, w)] if fr.active else [])
        return None
    tracker.step(fr.t_s, [(p.azimuth_deg, p.confidence, measurement_weight(p.confidence, snr))
                          for p in peaks] if fr.active else [])
    return tracker.sources_json()


class LiveSession:
    """Run a :class:`~neuroaudio.localize.base.Localizer` (and optionally a tracker) on a live
    capture; :meth:`run` yields one :class:`LiveEstimate` per analysis frame.

    The thread that iterates :meth:`run` is the worker of :mod:`neuroaudio.audio.live`'s data flow.

    Hooks for live views (``neuroaudio serve``), cheap and outside the jsonl contract:
    ``record_activity`` asks a spiking method for its spikes (:attr:`LiveEstimate.activity`);
    ``on_block`` is called with every processed block ``[samples, mics]`` at ``fs`` in the
    worker thread (e.g. a keyword spotter on the same audio); :meth:`switch_localizer` hands
    over to another method between two blocks.
    """

    def __init__(self, localizer: Localizer, capture: LiveCapture, tracker: AzimuthTracker | None = None,
                 record_activity: bool = False,
                 on_block: Callable[[np.ndarray], None] | None = None):
        if capture.fs != localizer.fs:
            raise InputError(f"capture at {capture.fs} Hz but the localizer runs at {localizer.fs} Hz")
        self.localizer, self.capture, self.tracker = localizer, capture, tracker
        self.record_activity, self.on_block = record_activity, on_block
        self.latencies: list[float] = []
        self._gap_i = 0           # capture.gaps[:_gap_i] lie before every future frame
        self._reported_i = 0      # capture.gaps[:_reported_i] were counted in a dropped_s
        self._offset = 0          # stream sample at which the current localizer started
        self._n_in = 0            # stream samples processed so far
        self._pending: Localizer | None = None
        self._mic_power = np.zeros(localizer.array.n_mics)   # sum of squares since the last estimate
        self._mic_n = 0

    def stop(self) -> None:
        self.capture.stop()

    def switch_localizer(self, localizer: Localizer) -> None:
        """Use ``localizer`` (same rate and mic count) from the next block on (thread-safe: the
        worker swaps it in between blocks). Its frames' ``t_s`` continue the stream's clock; the
        tracker starts afresh; its first frame comes after one frame of audio."""
        if localizer.fs != self.capture.fs or localizer.array.n_mics != self.localizer.array.n_mics:
            raise InputError(f"method '{localizer.name}' runs at {localizer.fs} Hz on "
                             f"{localizer.array.n_mics} mics; the capture gives {self.capture.fs} Hz, "
                             f"{self.localizer.array.n_mics} mics")
        self._pending = localizer

    def _swap_pending(self) -> None:
        new, self._pending = self._pending, None
        if new is None:
            return
        new.reset()
        new.record_activity = self.record_activity
        self.localizer, self._offset = new, self._n_in
        if self.tracker is not None:
            self.tracker.reset()

    def _gaps_of(self, start: float, end: float) -> tuple[bool, float]:
        """(a gap inside frame ``[start, end)``, audio lost since the last estimate) in
        processing-rate samples; frames come in time order."""
        gaps = self.capture.gaps
        while self._gap_i < len(gaps) and gaps[self._gap_i].index <= start:
            self._gap_i += 1
        inside = any(start < g.index < end for g in gaps[self._gap_i:])
        lost = 0.0
        while self._reported_i < len(gaps) and gaps[self._reported_i].index < end:
            lost += gaps[self._reported_i].lost_s
            self._reported_i += 1
        done = min(self._gap_i, self._reported_i)
        if done > 256:                                   # bounded memory on long runs
            del gaps[:done]
            self._gap_i -= done
            self._reported_i -= done
        return inside, lost

    def _estimate(self, fr: FrameEstimate, now: float) -> LiveEstimate:
        loc = self.localizer
        fr.t_s += self._offset / loc.fs                           # the stream's clock
        end_index = fr.t_s * loc.fs + loc.frame_len / 2 - 1      # the frame's last sample
        gap, lost = self._gaps_of(end_index + 1 - loc.frame_len, end_index + 1)
        t_cap = self.capture.capture_time_of(end_index)
        latency = None if t_cap is None else max(now - t_cap, 0.0)
        if latency is not None:
            self.latencies.append(latency)
        az, conf, tid = fr.azimuth_deg, fr.confidence, None
        peaks = getattr(fr, "sources", None)
        sources = None if peaks is None else [p.to_json() for p in peaks]
        if self.tracker is not None:
            sources = track_frame(self.tracker, fr)
            tr = self.tracker.primary()
            az = None if tr is None else tr.azimuth_deg
            conf = 0.0 if tr is None else self.tracker.reported_confidence(tr)
            tid = None if tr is None else tr.track_id
        levels = None
        if self._mic_n:
            levels = 10 * np.log10(np.maximum(self._mic_power / self._mic_n, 1e-12))
            self._mic_power[:], self._mic_n = 0.0, 0
        return LiveEstimate(fr.t_s, az, conf, latency, fr.level_dbfs, fr.active, fr.azimuth_deg, tid,
                            fr.spectrum, gap, lost, levels, sources=sources)

    def run(self, duration_s: float | None = None) -> Iterator[LiveEstimate]:
        """One :class:`LiveEstimate` per analysis frame until ``duration_s`` seconds of audio,
        :meth:`stop`, or a lost device (:class:`~neuroaudio.audio.live.DeviceLostError`)."""
        self._swap_pending()
        self.localizer.reset()
        self.localizer.record_activity = self.record_activity
        if self.tracker is not None:
            self.tracker.reset()
        self._gap_i = self._reported_i = self._offset = self._n_in = self._mic_n = 0
        self._mic_power[:] = 0.0
        for block, _ in self.capture.blocks(duration_s):
            self._swap_pending()
            loc = self.localizer
            loc.last_activity = None
            frames = loc.process(block)
            self._n_in += len(block)
            self._mic_power += np.einsum("ij,ij->j", block, block, dtype=np.float64)
            self._mic_n += len(block)
            if self.on_block is not None:
                self.on_block(block)
            now = time.monotonic()
            for k, fr in enumerate(frames):
                est = self._estimate(fr, now)
                if k == len(frames) - 1:         # the spikes of the block's last frame
                    est.activity = loc.last_activity
                yield est

    def summary(self) -> dict[str, Any]:
        """Counts and latency statistics of the run so far (for the end-of-run report)."""
        s = self.capture.stats
        lat = np.array(self.latencies) if self.latencies else np.zeros(0)
        return {"device": self.capture.device.name, "capture_fs_hz": self.capture.capture_fs,
                "fs_hz": self.capture.fs, "captured_s": round(s.samples / self.capture.capture_fs, 3),
                "blocks": s.blocks, "overflows": s.overflows, "dropped_blocks": s.dropped_blocks,
                "dropped_s": round(s.dropped_samples / self.capture.capture_fs, 3),
                "reconnects": s.reconnects, "outage_s": round(s.outage_s, 3),
                "device_lost": s.device_lost, "record": s.record_path,
                "input_latency_s": round(self.capture.input_latency_s, 4),
                "median_latency_s": round(float(np.median(lat)), 4) if lat.size else None,
                "p95_latency_s": round(float(np.percentile(lat, 95)), 4) if lat.size else None}


def build_live_session(method: str, array: str, *, options: dict[str, Any] | None = None,
                       frame_s: float = 0.17, hop_s: float | None = None, tracking: bool = True,
                       threads: int = 1, capture_factory: Callable[..., Any] | None = None,
                       record_activity: bool = False, **capture_kw: Any) -> LiveSession:
    """Localizer + capture + (tracker) as ``localize --live`` and the ROS node build them.

    Args:
        method, array, options: as for files (``make_localizer``); ``hop_s`` None = half a frame.
        tracking: temporal tracking of the direction.
        threads: CPU threads for the localizer (:func:`limit_threads`); 1 by default live.
        capture_factory: builds the capture (:class:`~neuroaudio.audio.live.LiveCapture`; tests
            pass one with a fake card).
        record_activity: keep spiking methods' spikes on the estimates (live views).
        capture_kw: :class:`~neuroaudio.audio.live.LiveCapture` arguments (device, channels, block_s, record,
            overwrite, reconnect, reconnect_max_s, allow_dependent_channels, ...).
    """
    if int(threads) < 1:
        raise InputError(f"--threads {threads}: give 1 or more CPU threads")
    os.environ["OMP_NUM_THREADS"] = str(int(threads))   # for libraries the localizer loads
    loc = make_localizer(method, array, frame_s=frame_s,
                         hop_s=hop_s if hop_s is not None else frame_s / 2, **(options or {}))
    limit_threads(threads)
    capture = (capture_factory or LiveCapture)(n_mics=loc.array.n_mics, fs_hz=loc.fs, **capture_kw)
    return LiveSession(loc, capture, make_tracker(loc.hop / loc.fs, loc.multi) if tracking else None,
                       record_activity=record_activity)
