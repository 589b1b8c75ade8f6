"""Live audio from a sound card: capture, faults, and the streaming localization loop.

Data flow (one way)::

    PortAudio callback ──copy──▶ bounded queue ──▶ worker (the thread iterating
    (real-time thread)                              LiveSession.run): channel pick → resample
                                                    → Localizer.process → tracker → estimates
                                                    └─▶ --record WAV (incremental)

The callback does nothing but copy the block, stamp its arrival time and put it on the queue,
so a slow localizer never blocks the audio thread. Faults:

- input overflow reported by PortAudio, or a block dropped because the queue is full: counted
  (:attr:`LiveCapture.overflows`, :attr:`LiveCapture.dropped_blocks`), reported at the end, and
  processing goes on;
- missing device, too few input channels: :class:`~neuroaudio.errors.InputError` (exit 2)
  before anything starts;
- a rate the device does not offer: capture at the device's default rate and resample with
  :class:`~neuroaudio.audio.StreamingResampler` (equal to ``resample_poly``);
- device lost mid-stream (PortAudio ends the stream, or no audio for ``stall_timeout_s``):
  the estimates so far are delivered, the recording is closed (a valid WAV with everything
  captured), then :class:`DeviceLostError` (an InputError: one line, exit 2).

Latency (``latency_s`` of each estimate) is capture-to-estimate: from the moment the frame's
last sample was captured to the moment its estimate is ready. The capture moment is the
arrival time (``time.monotonic``) of the callback block holding that sample, minus the
sample's distance to the block's end, minus the input latency PortAudio reports for the
stream (the driver's buffering). PortAudio's ADC timestamps are not used: through ALSA's
PulseAudio plugin they are off by a constant of several hundred ms.

``sounddevice`` is imported only when a stream is opened or devices are listed, so nothing
else in neuroaudio needs PortAudio.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .resample import StreamingResampler

log = logging.getLogger("neuroaudio")


class DeviceLostError(InputError):
    """The input device went away mid-stream (unplugged, its sound server stopped)."""


def _sounddevice() -> Any:
    """Import sounddevice (lazily); a clear InputError if PortAudio is missing."""
    try:
        import sounddevice as sd
    except OSError as e:   # the Python package is there but the PortAudio library is not
        raise InputError(f"PortAudio is not installed ({e}); install it "
                         "(Debian/Ubuntu: apt-get install libportaudio2) for live audio") from None
    except ImportError:
        raise InputError("the sounddevice package is missing; pip install sounddevice") from None
    return sd


@dataclass(frozen=True)
class InputDevice:
    """A sound card input as PortAudio sees it."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    default_samplerate_hz: float
    is_default: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "hostapi": self.hostapi,
                "input_channels": self.max_input_channels,
                "default_samplerate_hz": self.default_samplerate_hz, "default": self.is_default}


def list_input_devices(sd: Any = None) -> list[InputDevice]:
    """Every device with at least one input channel."""
    sd = sd or _sounddevice()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
    except Exception as e:
        raise InputError(f"cannot list sound devices ({e}); is PortAudio working?") from None
    try:
        default_in = int(sd.default.device[0])
    except Exception:
        default_in = -1
    out = []
    for d in devices:
        if int(d["max_input_channels"]) > 0:
            out.append(InputDevice(int(d["index"]), str(d["name"]),
                                   str(hostapis[d["hostapi"]]["name"]),
                                   int(d["max_input_channels"]), float(d["default_samplerate"]),
                                   int(d["index"]) == default_in))
    return out


def resolve_device(spec: str | int | None, channels_needed: int, sd: Any = None) -> InputDevice:
    """Find the input device named by ``spec`` (index, exact name, or unique part of a name;
    None = the system default) and check it has ``channels_needed`` input channels."""
    sd = sd or _sounddevice()
    devices = list_input_devices(sd)
    hint = "list them with `neuroaudio devices`"
    if not devices:
        raise InputError(f"no audio input device found; connect one or start a sound server ({hint})")
    if spec is None or str(spec) == "":
        chosen = [d for d in devices if d.is_default] or devices[:1]
    elif str(spec).strip().lstrip("-").isdigit():
        chosen = [d for d in devices if d.index == int(spec)]
    else:
        s = str(spec)
        chosen = ([d for d in devices if d.name == s]
                  or [d for d in devices if s.lower() in d.name.lower()])
        if len(chosen) > 1:
            names = ", ".join(f"{d.index}: {d.name}" for d in chosen)
            raise InputError(f"--device '{spec}' matches several inputs ({names}); give the index")
    if not chosen:
        raise InputError(f"no input device '{spec}'; {hint} and pass its index or name to --device")
    dev = chosen[0]
    if dev.max_input_channels < channels_needed:
        raise InputError(f"input device '{dev.name}' has {dev.max_input_channels} input channels but "
                         f"{channels_needed} are needed; pick another --device, or an array/--channels "
                         "that fit it")
    return dev


def choose_capture_rate(dev: InputDevice, channels: int, fs_hz: int, sd: Any = None) -> int:
    """``fs_hz`` when the device offers it, else the device's default rate (then resampled)."""
    sd = sd or _sounddevice()
    for rate in (fs_hz, int(round(dev.default_samplerate_hz))):
        try:
            sd.check_input_settings(device=dev.index, channels=channels, samplerate=rate,
                                    dtype="float32")
            if rate != fs_hz:
                log.info("%s does not offer %d Hz; capturing at %d Hz and resampling", dev.name,
                         fs_hz, rate)
            return int(rate)
        except Exception as e:
            last = e
    raise InputError(f"input device '{dev.name}' accepts neither {fs_hz} Hz nor its default rate with "
                     f"{channels} channels ({last}); try another --device")


class CaptureClock:
    """When was capture-stream sample ``n`` captured? (monotonic seconds)

    Fed with each block's sample count and the capture time of its last sample; answers for
    any of the recent samples (older entries are dropped: bounded memory).
    """

    def __init__(self, fs_hz: float, keep: int = 4096):
        self.fs = float(fs_hz)
        self._ends: deque[tuple[int, float]] = deque(maxlen=keep)   # (end index, time of end-1)
        self.n = 0

    def add(self, n_samples: int, t_last_sample: float) -> None:
        self.n += int(n_samples)
        self._ends.append((self.n, t_last_sample))

    def time_of(self, index: float) -> float | None:
        """Capture time of sample ``index`` (may be fractional), or None if nothing was added."""
        if not self._ends:
            return None
        chosen = self._ends[-1]
        for end, t in reversed(self._ends):            # the latest samples are the ones asked for
            if end - 1 < index:
                break
            chosen = (end, t)
        end, t = chosen
        return t - (end - 1 - index) / self.fs


@dataclass
class CaptureStats:
    """What happened during a capture (reported at the end)."""

    blocks: int = 0
    samples: int = 0
    overflows: int = 0          # PortAudio input overflows (the device's buffer overran)
    dropped_blocks: int = 0     # blocks dropped because the worker fell behind (queue full)
    device_lost: bool = False
    record_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class LiveCapture:
    """Capture from a sound card through a bounded queue; iterate :meth:`blocks`.

    Args:
        device: index, name (or unique part) or None for the default input.
        channels: 0-based channels of the device to use as mics (array order), or None for the
            first ``n_mics`` channels.
        n_mics: the array's mic count (checked against the selection).
        fs_hz: the processing rate wanted; the device's rate is used (and resampled) when it
            does not offer it.
        block_s: callback block (s); small blocks = low latency.
        queue_s: queue capacity (s of audio) before blocks are dropped.
        record: write what the device delivered (all opened channels, capture rate) to this
            WAV, incrementally; closed cleanly whatever happens.
        stall_timeout_s: no audio for this long after the first block = device lost.
        startup_timeout_s: no audio at all for this long after start = device lost.
        stream_factory: builds the stream (``sounddevice.InputStream`` by default; tests pass a
            fake to inject faults).
    """

    def __init__(self, device: str | int | None = None, channels: list[int] | None = None,
                 n_mics: int = 4, fs_hz: int = 16000, block_s: float = 0.02, queue_s: float = 4.0,
                 record: str | Path | None = None, stall_timeout_s: float = 2.0,
                 startup_timeout_s: float = 10.0, latency: str | float = "low",
                 stream_factory: Callable[..., Any] | None = None, sd: Any = None):
        if channels is not None and len(channels) != n_mics:
            raise InputError(f"--channels lists {len(channels)} channels but the array has {n_mics} "
                             "mics; list one channel per mic, in array order")
        self.sd = sd or _sounddevice()
        self.channels = channels
        self.n_open = (max(channels) + 1) if channels is not None else n_mics
        self.device = resolve_device(device, self.n_open, self.sd)
        self.fs = int(fs_hz)
        self.capture_fs = choose_capture_rate(self.device, self.n_open, self.fs, self.sd)
        self.block = max(1, int(round(block_s * self.capture_fs)))
        self.queue: queue.Queue = queue.Queue(maxsize=max(2, int(queue_s / block_s)))
        self.record_path = str(record) if record else None
        self.stall_timeout_s, self.startup_timeout_s = stall_timeout_s, startup_timeout_s
        self.latency = latency
        self.stream_factory = stream_factory or self.sd.InputStream
        self.stats = CaptureStats(record_path=self.record_path)
        self.clock = CaptureClock(self.capture_fs)
        self.input_latency_s = 0.0
        self._finished = threading.Event()
        self._stop = threading.Event()

    # --- the real-time side ---------------------------------------------------------------
    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        t = time.monotonic()
        if status and getattr(status, "input_overflow", False):
            self.stats.overflows += 1
        try:
            self.queue.put_nowait((indata.copy(), t))
        except queue.Full:
            self.stats.dropped_blocks += 1

    def _on_finished(self) -> None:
        self._finished.set()

    def stop(self) -> None:
        """Ask :meth:`blocks` to end (thread-safe; e.g. from a signal handler or a ROS shutdown)."""
        self._stop.set()

    # --- the worker side ------------------------------------------------------------------
    def blocks(self, duration_s: float | None = None) -> Iterator[tuple[np.ndarray, int]]:
        """Yield ``(block [samples, n_mics] float32 at fs_hz, capture index of its end)`` until
        ``duration_s`` of audio was captured, :meth:`stop`, or the device is lost
        (:class:`DeviceLostError` after the recording is closed)."""
        import soundfile as sf

        n_limit = None if duration_s is None else int(round(duration_s * self.capture_fs))
        rs = StreamingResampler(self.capture_fs, self.fs, len(self.channels or range(self.n_open)))
        rec = None
        if self.record_path:
            Path(self.record_path).parent.mkdir(parents=True, exist_ok=True)
            try:
                rec = sf.SoundFile(self.record_path, "w", samplerate=self.capture_fs,
                                   channels=self.n_open, subtype="PCM_16", format="WAV")
            except Exception as e:
                raise InputError(f"--record {self.record_path}: cannot write ({e}); "
                                 "pick a writable path") from None
        try:
            stream = self.stream_factory(device=self.device.index, channels=self.n_open,
                                         samplerate=self.capture_fs, blocksize=self.block,
                                         dtype="float32", latency=self.latency,
                                         callback=self._callback, finished_callback=self._on_finished)
        except Exception as e:
            if rec is not None:
                rec.close()
            raise InputError(f"cannot open input device '{self.device.name}' ({e}); check it with "
                             "`neuroaudio devices`") from None
        lost_msg = None
        n_in = 0
        last_flush = time.monotonic()
        try:
            lat = getattr(stream, "latency", 0.0)
            self.input_latency_s = float(lat[0] if isinstance(lat, (tuple, list)) else lat)
            stream.start()
            last_block = time.monotonic()
            while not self._stop.is_set():
                try:
                    data, t_arr = self.queue.get(timeout=0.05)
                except queue.Empty:
                    now = time.monotonic()
                    waited = now - last_block
                    limit = self.stall_timeout_s if self.stats.blocks else self.startup_timeout_s
                    if self._finished.is_set() and self.queue.empty():
                        lost_msg = "the stream ended"
                    elif waited > limit:
                        lost_msg = f"no audio for {waited:.1f} s"
                    if lost_msg:
                        break
                    continue
                last_block = time.monotonic()
                if n_limit is not None:
                    data = data[: max(n_limit - n_in, 0)]
                if rec is not None:
                    rec.write(data)
                    if last_block - last_flush > 1.0:
                        rec.flush()
                        last_flush = last_block
                n_in += len(data)
                self.stats.blocks += 1
                self.stats.samples = n_in
                self.clock.add(len(data), t_arr - self.input_latency_s)
                sel = data if self.channels is None else data[:, self.channels]
                out = rs.push(sel)
                if len(out):
                    yield np.ascontiguousarray(out, dtype=np.float32), n_in
                if n_limit is not None and n_in >= n_limit:
                    break
        finally:
            try:
                stream.stop()
                stream.close()
            except Exception as e:   # a lost device may refuse to stop cleanly
                log.info("closing the stream: %s", e)
            if rec is not None:
                rec.close()
        if lost_msg:
            self.stats.device_lost = True
            kept = (f"; the recording so far ({n_in / self.capture_fs:.1f} s) is in {self.record_path}"
                    if self.record_path else "")
            raise DeviceLostError(f"input device '{self.device.name}' was lost after "
                                  f"{n_in / self.capture_fs:.1f} s ({lost_msg}): reconnect it or "
                                  f"restart its sound server{kept}")
        tail = rs.flush()
        if len(tail):
            yield np.ascontiguousarray(tail, dtype=np.float32), n_in

    def capture_time_of(self, index_fs: float) -> float | None:
        """Capture time (monotonic s) of processing-rate sample ``index_fs``."""
        return self.clock.time_of(index_fs * self.capture_fs / self.fs)


@dataclass
class LiveEstimate:
    """One frame's live estimate (the jsonl line plus what the terminal view shows).

    ``azimuth_deg`` is the tracked direction when tracking is on (None until a source is born
    and after it dies), else the frame's own; ``raw_azimuth_deg`` is always the frame's own.
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

    def to_json(self) -> dict[str, Any]:
        """conventions.md's per-frame object plus ``latency_s`` (and tracking fields)."""
        d: dict[str, Any] = {
            "t_s": round(self.t_s, 4),
            "azimuth_deg": None if self.azimuth_deg is None else round(self.azimuth_deg, 2),
            "confidence": round(float(self.confidence), 4),
            "latency_s": None if self.latency_s is None else round(self.latency_s, 4),
            "level_dbfs": round(float(self.level_dbfs), 1),
        }
        if self.track_id is not None or self.raw_azimuth_deg != self.azimuth_deg:
            d["raw_azimuth_deg"] = None if self.raw_azimuth_deg is None else round(self.raw_azimuth_deg, 2)
            d["track_id"] = self.track_id
        return d


class LiveSession:
    """Run a :class:`~neuroaudio.localize.base.Localizer` (and optionally a tracker) on a live
    capture; :meth:`run` yields one :class:`LiveEstimate` per analysis frame.

    The thread that iterates :meth:`run` is the worker of the module docstring.
    """

    def __init__(self, localizer: Any, capture: LiveCapture, tracker: Any | None = None):
        if capture.fs != localizer.fs:
            raise InputError(f"capture at {capture.fs} Hz but the localizer runs at {localizer.fs} Hz")
        self.localizer, self.capture, self.tracker = localizer, capture, tracker
        self.latencies: list[float] = []

    def stop(self) -> None:
        self.capture.stop()

    def _estimate(self, fr: Any, now: float) -> LiveEstimate:
        loc = self.localizer
        end_index = fr.t_s * loc.fs + loc.frame_len / 2 - 1      # the frame's last sample
        t_cap = self.capture.capture_time_of(end_index)
        latency = None if t_cap is None else max(now - t_cap, 0.0)
        if latency is not None:
            self.latencies.append(latency)
        az, conf, tid = fr.azimuth_deg, fr.confidence, None
        if self.tracker is not None:
            from ..tracking import measurement_weight

            w = measurement_weight(fr.confidence, getattr(fr, "snr_db", None))
            self.tracker.step(fr.t_s, [(fr.azimuth_deg, fr.confidence, w)] if fr.active else [])
            tr = self.tracker.primary()
            az = None if tr is None else tr.azimuth_deg
            conf = 0.0 if tr is None else self.tracker.reported_confidence(tr)
            tid = None if tr is None else tr.track_id
        return LiveEstimate(fr.t_s, az, conf, latency, fr.level_dbfs, fr.active, fr.azimuth_deg, tid,
                            fr.spectrum)

    def run(self, duration_s: float | None = None) -> Iterator[LiveEstimate]:
        self.localizer.reset()
        if self.tracker is not None:
            self.tracker.reset()
        for block, _ in self.capture.blocks(duration_s):
            frames = self.localizer.process(block)
            now = time.monotonic()
            for fr in frames:
                yield self._estimate(fr, now)

    def summary(self) -> dict[str, Any]:
        """Counts and latency statistics of the run so far (for the end-of-run report)."""
        s = self.capture.stats
        lat = np.array(self.latencies) if self.latencies else np.zeros(0)
        return {"device": self.capture.device.name, "capture_fs_hz": self.capture.capture_fs,
                "fs_hz": self.capture.fs, "captured_s": round(s.samples / self.capture.capture_fs, 3),
                "blocks": s.blocks, "overflows": s.overflows, "dropped_blocks": s.dropped_blocks,
                "device_lost": s.device_lost, "record": s.record_path,
                "input_latency_s": round(self.capture.input_latency_s, 4),
                "median_latency_s": round(float(np.median(lat)), 4) if lat.size else None,
                "p95_latency_s": round(float(np.percentile(lat, 95)), 4) if lat.size else None}
