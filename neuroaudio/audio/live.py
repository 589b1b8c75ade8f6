"""Live audio from a sound card: capture and its faults (the localization loop on top of it is
:mod:`neuroaudio.live`).

Data flow (one way)::

    PortAudio callback ──copy──▶ bounded queue ──▶ worker (the thread iterating
    (real-time thread)                              LiveSession.run): channel pick → resample
                                                    → Localizer.process → tracker → estimates
                                                    └─▶ --record WAV (incremental)

The callback does nothing but copy the block, stamp its arrival time and put it on the queue,
so a slow localizer never blocks the audio thread. Faults:

- input overflow reported by PortAudio, or a block dropped because the queue is full: counted
  (:attr:`LiveCapture.overflows`, :attr:`LiveCapture.dropped_blocks`), reported in the summary
  and on each estimate (``gap``: audio lost inside the frame, ``dropped_s``: audio lost since the
  previous estimate), and processing goes on;
- missing device, too few input channels, ``--record`` onto an existing file:
  :class:`~neuroaudio.errors.InputError` (exit 2) before anything starts;
- channels that are copies or mixes of others, or dead (a 2-channel card upmixed to 4 by
  PulseAudio): :class:`DependentChannelsError` after the first second of sound
  (:mod:`neuroaudio.audio.channels`), or one warning line when allowed;
- a rate the device does not offer: capture at the device's default rate and resample with
  :class:`~neuroaudio.audio.StreamingResampler` (equal to ``resample_poly``);
- device lost mid-stream (PortAudio ends the stream, or no audio for ``stall_timeout_s``):
  the estimates so far are delivered, the recording is closed (a valid WAV with everything
  captured), then :class:`DeviceLostError` (an InputError: one line, exit 2); or, with
  ``reconnect``, retries with backoff until the device is back (one WAV throughout);
- a stopped or hung sound server: every call into PortAudio (start-up, open, start, stop,
  close) runs on one daemon thread with a deadline (:class:`DeviceCalls`); past it the call is
  abandoned, so neither a stop nor Ctrl-C can hang.

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

import atexit
import logging
import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..ownership import refuse_existing
from .resample import StreamingResampler

log = logging.getLogger("neuroaudio")


class DeviceLostError(InputError):
    """The input device went away mid-stream (unplugged, its sound server stopped)."""


class DeviceHungError(DeviceLostError):
    """A call into PortAudio did not return in time (a stopped or hung sound server)."""


def _sounddevice() -> Any:
    """sounddevice, imported (which starts PortAudio) on the device thread with a deadline: with
    a stopped sound server PortAudio's start-up never returns (:class:`DeviceCalls`)."""
    sd = sys.modules.get("sounddevice")
    if sd is not None and hasattr(sd, "InputStream"):
        return sd
    return _start_portaudio(DEVICE_CALLS, START_TIMEOUT_S, _import_sounddevice)


def _start_portaudio(calls: DeviceCalls, timeout_s: float, fn: Callable[[], Any],
                     what: str = "starting PortAudio") -> Any:
    """``calls.call(fn)`` for calls that start PortAudio. sounddevice points stderr (fd 2) at
    /dev/null while PortAudio starts; if that hangs, fd 2 is given back here, else the error
    (and everything after it) would vanish."""
    try:
        saved = os.dup(2)
    except OSError:
        return calls.call(fn, timeout_s, what)
    try:
        return calls.call(fn, timeout_s, what)
    except DeviceHungError:
        os.dup2(saved, 2)
        raise
    finally:
        os.close(saved)


START_TIMEOUT_S = 10.0
"""Longest wait for PortAudio to start, find the device, open and start a stream (s)."""


def _import_sounddevice() -> Any:
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


class DeviceCalls:
    """Calls into PortAudio, one at a time on a daemon thread, each with a deadline.

    A stopped or hung sound server blocks PortAudio's calls (start-up, open, start, stop,
    close) forever, and the stuck thread cannot be interrupted. Here the caller waits at most
    ``timeout_s``; then it gets :class:`DeviceHungError` and the call is abandoned (it may
    still finish later: ``on_late`` then gets its result, e.g. to close a stream that opened
    too late). While an abandoned call is stuck, new calls fail at once (PortAudio must not be
    entered twice), and PortAudio's exit handler is unregistered so that the process can still
    exit.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.Queue = queue.Queue()
        self._current: _Job | None = None
        self._thread: threading.Thread | None = None

    def _worker(self) -> None:
        while True:
            self._jobs.get().run()

    def call(self, fn: Callable[[], Any], timeout_s: float, what: str,
             on_late: Callable[[Any], None] | None = None) -> Any:
        """``fn()`` on the device thread; its result, or its exception re-raised here."""
        with self._lock:
            cur = self._current
            if cur is not None and not cur.done.is_set():
                forget_portaudio_exit_handler()
                raise DeviceHungError(f"the sound system has not answered for "
                                      f"{time.monotonic() - cur.t0:.0f} s ({cur.what}); is the sound "
                                      "server stopped or hung?")
            job = self._current = _Job(fn, what, on_late)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._worker, name="neuroaudio-device",
                                                daemon=True)
                self._thread.start()
            self._jobs.put(job)
        try:
            answered = job.done.wait(timeout_s)
        except BaseException:           # Ctrl-C / SIGTERM while waiting: the call is abandoned
            with job.lock:
                job.abandoned = not job.done.is_set()
            if job.abandoned:
                forget_portaudio_exit_handler()
            raise
        if not answered:
            with job.lock:
                if not job.done.is_set():
                    job.abandoned = True
            if job.abandoned:
                forget_portaudio_exit_handler()
                raise DeviceHungError(f"the sound system did not answer within {timeout_s:g} s "
                                      f"({what}); is the sound server stopped or hung?")
        if job.error is not None:
            raise job.error
        return job.result


class _Job:
    def __init__(self, fn: Callable[[], Any], what: str, on_late: Callable[[Any], None] | None):
        self.fn, self.what, self.on_late = fn, what, on_late
        self.t0 = time.monotonic()
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.abandoned = False
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        self.t0 = time.monotonic()
        try:
            self.result = self.fn()
        except BaseException as e:   # handed to the caller
            self.error = e
        with self.lock:
            self.done.set()
            late = self.abandoned
        if late and self.on_late is not None and self.error is None:
            try:
                self.on_late(self.result)
            except Exception as e:
                log.info("cleaning up after a late device call: %s", e)


DEVICE_CALLS = DeviceCalls()
"""The process's one PortAudio thread (PortAudio is not entered from two threads at once)."""


def forget_portaudio_exit_handler() -> None:
    """After a call into PortAudio hung: do not call Pa_Terminate at exit (it would hang too)."""
    sd = sys.modules.get("sounddevice")
    handler = getattr(sd, "_exit_handler", None)
    if handler is not None:
        atexit.unregister(handler)


def limit_threads(n: int) -> None:
    """Use ``n`` CPU threads for the localizer's tensor maths (torch's intra-op threads, and
    ``OMP_NUM_THREADS`` for libraries loaded later). Live audio needs few threads done on time
    more than many: on 2 cores torch's default (all cores) made learned methods fall behind."""
    if int(n) < 1:
        raise InputError(f"--threads {n}: give 1 or more CPU threads")
    os.environ["OMP_NUM_THREADS"] = str(int(n))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(int(n))


@dataclass
class CaptureStats:
    """What happened during a capture (reported at the end)."""

    blocks: int = 0
    samples: int = 0
    overflows: int = 0          # PortAudio input overflows (the device's buffer overran)
    dropped_blocks: int = 0     # blocks dropped because the worker fell behind (queue full)
    dropped_samples: int = 0    # their samples (capture rate)
    device_lost: bool = False
    reconnects: int = 0         # times the device came back after a loss (reconnect on)
    outage_s: float = 0.0       # time without a device between a loss and its reconnection
    record_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Gap:
    """Audio lost just before processing-rate sample ``index`` (a dropped block, an input
    overflow of unknown length, or a reconnection); ``lost_s`` seconds of it (0 if unknown)."""

    index: float
    lost_s: float


class DependentChannelsError(InputError):
    """The device's channels are not distinct microphones (copies, mixes or dead channels)."""


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
            WAV, incrementally; closed cleanly whatever happens (one file across reconnections).
        overwrite: replace an existing ``record`` file (else: InputError before anything starts).
        stall_timeout_s: no audio for this long after the first block = device lost.
        startup_timeout_s: no audio at all for this long after start = device lost.
        device_timeout_s: longest wait for PortAudio to start, open or start a stream.
        close_timeout_s: longest wait for it to stop and close one (then it is abandoned).
        reconnect: after a loss, retry (0.5 s, then doubling up to ``reconnect_max_s``) until
            the device is back or :meth:`stop`, instead of raising DeviceLostError.
        check_channels_s: seconds of sound (not digital silence) checked at start for
            channels that are copies or mixes of others (:mod:`neuroaudio.audio.channels`);
            0 = no check.
        allow_dependent_channels: only warn (one line) when the check fails, instead of
            raising :class:`DependentChannelsError`.
        stream_factory: builds the stream (``sounddevice.InputStream`` by default; tests pass a
            fake to inject faults).
        sd: the sounddevice module (tests pass a fake card); None = import it (bounded).
        calls: where PortAudio calls run (:data:`DEVICE_CALLS`; tests pass their own).
    """

    def __init__(self, device: str | int | None = None, channels: list[int] | None = None,
                 n_mics: int = 4, fs_hz: int = 16000, block_s: float = 0.02, queue_s: float = 4.0,
                 record: str | Path | None = None, overwrite: bool = False,
                 stall_timeout_s: float = 2.0, startup_timeout_s: float = 10.0,
                 device_timeout_s: float = START_TIMEOUT_S, close_timeout_s: float = 3.0,
                 reconnect: bool = False, reconnect_max_s: float = 30.0,
                 check_channels_s: float = 1.0, allow_dependent_channels: bool = False,
                 latency: str | float = "low",
                 stream_factory: Callable[..., Any] | None = None, sd: Any = None,
                 calls: DeviceCalls | None = None):
        if channels is not None and len(channels) != n_mics:
            raise InputError(f"--channels lists {len(channels)} channels but the array has {n_mics} "
                             "mics; list one channel per mic, in array order")
        refuse_existing(record or None, "--record", overwrite)
        if reconnect_max_s <= 0:
            raise InputError(f"reconnect_max_s {reconnect_max_s}: give a positive number of seconds")
        self.calls = calls or DEVICE_CALLS
        self.device_timeout_s, self.close_timeout_s = device_timeout_s, close_timeout_s
        self.sd = sd or _start_portaudio(self.calls, device_timeout_s, _import_sounddevice)
        self.channels = channels
        self.n_open = (max(channels) + 1) if channels is not None else n_mics
        self.device_spec = device
        self.fs = int(fs_hz)
        self.device, self.capture_fs = self.calls.call(self._find_device, device_timeout_s,
                                                       "looking up the input device")
        self.block = max(1, int(round(block_s * self.capture_fs)))
        self.queue: queue.Queue = queue.Queue(maxsize=max(2, int(queue_s / block_s)))
        self.record_path = str(record) if record else None
        self.stall_timeout_s, self.startup_timeout_s = stall_timeout_s, startup_timeout_s
        self.reconnect, self.reconnect_max_s = reconnect, reconnect_max_s
        self.check_channels_s = check_channels_s
        self.allow_dependent_channels = allow_dependent_channels
        self.latency = latency
        self.stream_factory = stream_factory or self.sd.InputStream
        self.stats = CaptureStats(record_path=self.record_path)
        self.clock = CaptureClock(self.capture_fs)
        self.gaps: list[Gap] = []
        self.input_latency_s = 0.0
        self._gen = 0                       # stream generation: callbacks of older streams are ignored
        self._finished = threading.Event()
        self._stop = threading.Event()
        self._drop_pending = 0              # callback side: samples dropped since the last queued block
        self._overflow_pending = False
        self._lost_pending_s = 0.0          # worker side: outage to report with the next block
        self._last_block_t = time.monotonic()
        self._check_buf: list[np.ndarray] = []
        self._check_off = check_channels_s <= 0 or n_mics < 2
        self._checked = self._check_off

    def _find_device(self) -> tuple[InputDevice, int]:
        dev = resolve_device(self.device_spec, self.n_open, self.sd)
        return dev, choose_capture_rate(dev, self.n_open, self.fs, self.sd)

    # --- the real-time side ---------------------------------------------------------------
    def _callback(self, gen: int, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if gen != self._gen:          # a stream given up on (hung, then resumed): not ours anymore
            return
        t = time.monotonic()
        if status and getattr(status, "input_overflow", False):
            self.stats.overflows += 1
            self._overflow_pending = True
        try:
            self.queue.put_nowait((indata.copy(), t, self._drop_pending, self._overflow_pending))
            self._drop_pending, self._overflow_pending = 0, False
        except queue.Full:
            self.stats.dropped_blocks += 1
            self.stats.dropped_samples += len(indata)
            self._drop_pending += len(indata)

    def stop(self) -> None:
        """Ask :meth:`blocks` to end (thread-safe; e.g. from a signal handler or a ROS shutdown)."""
        self._stop.set()

    # --- the device: open, close, reconnect (every wait bounded) ---------------------------
    def _open_stream(self) -> Any:
        self._gen += 1
        gen, finished = self._gen, threading.Event()
        self._finished = finished

        def open_and_start() -> Any:
            s = self.stream_factory(device=self.device.index, channels=self.n_open,
                                    samplerate=self.capture_fs, blocksize=self.block, dtype="float32",
                                    latency=self.latency, callback=partial(self._callback, gen),
                                    finished_callback=finished.set)
            s.start()
            return s

        def close_late(s: Any) -> None:      # opened after we gave up on it
            s.abort() if hasattr(s, "abort") else s.stop()
            s.close()

        try:
            stream = self.calls.call(open_and_start, self.device_timeout_s,
                                     f"opening '{self.device.name}'", on_late=close_late)
        except InputError:
            raise
        except Exception as e:
            raise InputError(f"cannot open input device '{self.device.name}' ({e}); check it with "
                             "`neuroaudio devices`") from None
        lat = getattr(stream, "latency", 0.0)
        self.input_latency_s = float(lat[0] if isinstance(lat, (tuple, list)) else lat)
        return stream

    def _close_stream(self, stream: Any, lost: bool) -> str | None:
        """Stop and close, bounded; returns why it failed (a hung server) or None."""
        self._gen += 1

        def close() -> None:
            # abort, not stop: an input stream has nothing to drain, and after a stop hung on a
            # stopped server the process crashed at exit (PortAudio's ALSA thread)
            (stream.abort if hasattr(stream, "abort") else stream.stop)()
            stream.close()

        try:
            self.calls.call(close, self.close_timeout_s, "closing the stream")
        except DeviceHungError as e:      # after a loss the error message says it already
            (log.info if lost else log.warning)("%s: gave up closing the stream", e)
            return str(e)
        except Exception as e:   # a lost device may refuse to stop cleanly
            log.info("closing the stream: %s", e)
        return None

    def _rescan(self) -> None:
        """Re-initialise PortAudio (a re-plugged card may have a new index) and find the device."""
        if hasattr(self.sd, "_terminate") and hasattr(self.sd, "_initialize"):
            self.sd._terminate()
            self.sd._initialize()
        dev, rate = self._find_device()
        if rate != self.capture_fs:
            raise InputError(f"'{dev.name}' came back at {rate} Hz instead of {self.capture_fs} Hz")
        self.device = dev

    def _reconnect(self, why: str, t_lost: float) -> Any:
        """Retry with backoff until the device is back (its stream) or :meth:`stop` (None)."""
        log.warning("input device '%s' lost after %.1f s (%s); reconnecting (backoff up to %g s)",
                    self.device.name, self.stats.samples / self.capture_fs, why, self.reconnect_max_s)
        delay, attempt = 0.5, 0
        while not self._stop.wait(delay):
            attempt += 1
            try:
                _start_portaudio(self.calls, self.device_timeout_s, self._rescan,
                                 "re-scanning the sound devices")
                stream = self._open_stream()
            except InputError as e:
                delay = min(2 * delay, self.reconnect_max_s)
                log.warning("reconnect attempt %d: %s; next in %.1f s", attempt, e, delay)
                continue
            outage = time.monotonic() - t_lost
            self.stats.reconnects += 1
            self.stats.outage_s += outage
            self._lost_pending_s += outage
            self._check_buf, self._checked = [], self._check_off
            log.warning("reconnected to '%s' after %.1f s without audio", self.device.name, outage)
            return stream
        return None

    # --- the channel check ----------------------------------------------------------------
    def _check_channels(self, sel: np.ndarray) -> None:
        from .channels import SILENT_POWER, dependent_channels, describe_dependent

        self._check_buf.append(sel)
        n = sum(len(b) for b in self._check_buf)
        if n < self.check_channels_s * self.capture_fs:
            return
        x = np.concatenate(self._check_buf)
        self._check_buf = []
        if float(np.max(np.mean(np.square(x, dtype=np.float64), axis=0))) < SILENT_POWER:
            return                                  # digital silence tells nothing: next second
        self._checked = True
        found = dependent_channels(x)
        if not found:
            return
        msg = (f"input device '{self.device.name}': {describe_dependent(found, self.channels)} "
               f"(in the first {len(x) / self.capture_fs:.1f} s of sound), so these are not "
               f"{x.shape[1]} distinct microphones (e.g. a 2-channel card that PulseAudio upmixes)")
        if self.allow_dependent_channels:
            log.warning("%s; going on as asked", msg)
            return
        raise DependentChannelsError(f"{msg}; record from the card itself (`neuroaudio devices`), "
                                     "pick the real mic channels with --channels, or allow it with "
                                     "--allow-dependent-channels (ROS: allow_dependent_channels)")

    # --- the worker side ------------------------------------------------------------------
    def blocks(self, duration_s: float | None = None) -> Iterator[tuple[np.ndarray, int]]:
        """Yield ``(block [samples, n_mics] float32 at fs_hz, capture index of its end)`` until
        ``duration_s`` of audio was captured, :meth:`stop`, or the device is lost
        (:class:`DeviceLostError` after the recording is closed; with ``reconnect`` the capture
        waits for the device instead)."""
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
        stream = None
        try:
            stream = self._open_stream()
            while True:
                lost_msg = yield from self._pump(rs, rec, n_limit)
                hung = self._close_stream(stream, lost=lost_msg is not None)
                stream = None
                if lost_msg is None:
                    break
                if hung:
                    lost_msg += "; the sound server does not answer (stopped?)"
                if not self.reconnect:
                    self.stats.device_lost = True
                    n_in = self.stats.samples
                    kept = (f"; the recording so far ({n_in / self.capture_fs:.1f} s) is in "
                            f"{self.record_path}" if self.record_path else "")
                    raise DeviceLostError(f"input device '{self.device.name}' was lost after "
                                          f"{n_in / self.capture_fs:.1f} s ({lost_msg}): reconnect it "
                                          f"or restart its sound server{kept}")
                stream = self._reconnect(lost_msg, self._last_block_t)
                if stream is None:
                    break
        finally:
            if stream is not None:
                self._close_stream(stream, lost=False)
            if rec is not None:
                rec.close()
        tail = rs.flush()
        if len(tail):
            yield np.ascontiguousarray(tail, dtype=np.float32), self.stats.samples

    def _pump(self, rs: StreamingResampler, rec: Any, n_limit: int | None
              ) -> Generator[tuple[np.ndarray, int], None, str | None]:
        """Move one stream's blocks from the queue to the consumer; returns why the stream was
        lost, or None when it ended as asked (stop, duration)."""
        blocks_before = self.stats.blocks
        self._last_block_t = last_flush = time.monotonic()
        while not self._stop.is_set():
            try:
                data, t_arr, dropped, overflow = self.queue.get(timeout=0.05)
            except queue.Empty:
                waited = time.monotonic() - self._last_block_t
                got_some = self.stats.blocks > blocks_before
                limit = self.stall_timeout_s if got_some else self.startup_timeout_s
                if self._finished.is_set() and self.queue.empty():
                    return "the stream ended"
                if waited > limit:
                    return f"no audio for {waited:.1f} s"
                continue
            self._last_block_t = now = time.monotonic()
            n_in = self.stats.samples
            if dropped or overflow or self._lost_pending_s:
                self.gaps.append(Gap(n_in * self.fs / self.capture_fs,
                                     dropped / self.capture_fs + self._lost_pending_s))
                self._lost_pending_s = 0.0
            if n_limit is not None:
                data = data[: max(n_limit - n_in, 0)]
            if rec is not None:
                rec.write(data)
                if now - last_flush > 1.0:
                    rec.flush()
                    last_flush = now
            n_in += len(data)
            self.stats.blocks += 1
            self.stats.samples = n_in
            self.clock.add(len(data), t_arr - self.input_latency_s)
            sel = data if self.channels is None else data[:, self.channels]
            if not self._checked:
                self._check_channels(sel)
            out = rs.push(sel)
            if len(out):
                yield np.ascontiguousarray(out, dtype=np.float32), n_in
            if n_limit is not None and n_in >= n_limit:
                return None
        return None

    def capture_time_of(self, index_fs: float) -> float | None:
        """Capture time (monotonic s) of processing-rate sample ``index_fs``."""
        return self.clock.time_of(index_fs * self.capture_fs / self.fs)
