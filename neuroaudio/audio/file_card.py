"""A recorded file played in real time as if it were a sound card.

:class:`FileCard` stands in for the ``sounddevice`` module of
:class:`~neuroaudio.audio.live.LiveCapture` (its ``sd`` argument): one input device whose
stream's callback gets the file's blocks at the pace of the wall clock, from a thread, as
PortAudio would deliver a card's. Everything after the callback (the bounded queue, gaps,
latency, the localizer, the tracker) is the live pipeline itself, so ``neuroaudio serve
--file`` shows and tests the live view without hardware.

The file is read whole into memory (``[samples, mics]`` float32 at the processing rate: about
15 MB a minute for 4 mics at 16 kHz) by :func:`~neuroaudio.audio.io.read_audio`, which refuses
bad files (missing, not audio, truncated, NaN/Inf, a channel count that does not fit the array)
with one :class:`~neuroaudio.errors.InputError` line before anything starts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from .io import read_audio


class FileCard:
    """A ``sounddevice``-like module with one input device that plays ``path``.

    Args:
        path: the recording; channel k (after ``channels``) is mic k.
        fs_hz: the processing rate (the file is resampled to it).
        n_mics: the array's mic count (checked against the file's channels).
        channels: 0-based channels of the file used as mics (array order), None = all.
        loop: start over at the end (a demo that runs until stopped); False: after the last
            block the card delivers silence (stop the capture with ``duration_s`` =
            :attr:`duration_s`).
        pace: 1.0 = real time; larger plays faster (tests).
    """

    def __init__(self, path: str | Path, fs_hz: int, n_mics: int, channels: list[int] | None = None,
                 loop: bool = True, pace: float = 1.0):
        self.path = Path(path)
        self.signal, self.fs = read_audio(path, fs=fs_hz, channels=channels, n_mics=n_mics,
                                          min_duration_s=0.1)
        self.loop, self.pace = bool(loop), float(pace)
        self.name = f"file {self.path.name}"
        self.default = SimpleNamespace(device=(0, 0))
        self.streams: list[FileStream] = []

    @property
    def duration_s(self) -> float:
        """Length of one pass through the file (s)."""
        return len(self.signal) / self.fs

    def query_devices(self) -> list[dict[str, Any]]:
        return [{"index": 0, "name": self.name, "hostapi": 0,
                 "max_input_channels": self.signal.shape[1], "default_samplerate": float(self.fs)}]

    def query_hostapis(self) -> list[dict[str, Any]]:
        return [{"name": "file"}]

    def check_input_settings(self, device: int, channels: int, samplerate: float, dtype: str) -> None:
        if int(samplerate) != self.fs or channels > self.signal.shape[1]:
            raise ValueError(f"the file plays {self.signal.shape[1]} channels at {self.fs} Hz")

    def InputStream(self, **kw: Any) -> FileStream:  # noqa: N802 (sounddevice's name)
        s = FileStream(self, **kw)
        self.streams.append(s)
        return s


class FileStream:
    """The card's stream: a thread calls ``callback(block, n, None, status)`` every
    ``blocksize / samplerate`` seconds of wall time (catching up at once when it fell behind)."""

    latency = 0.0

    def __init__(self, card: FileCard, *, device: int, channels: int, samplerate: float, blocksize: int,
                 dtype: str, latency: Any, callback: Callable[..., None],
                 finished_callback: Callable[[], None]):
        self.card, self.channels, self.block = card, int(channels), int(blocksize)
        self.callback, self.finished = callback, finished_callback
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        x, n, b = self.card.signal[:, :self.channels], len(self.card.signal), self.block
        period = b / self.card.fs / self.card.pace
        status = SimpleNamespace(input_overflow=False)
        t0, k, pos = time.monotonic(), 0, 0
        while not self._stop.is_set():
            k += 1
            delay = t0 + k * period - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            if pos + b <= n:
                block = x[pos:pos + b]
            elif self.card.loop:
                block = np.concatenate([x[pos:], x[:pos + b - n]])
            else:
                block = np.zeros((b, self.channels), np.float32)
                block[:max(n - pos, 0)] = x[pos:]
            pos = (pos + b) % n if self.card.loop else pos + b
            self.callback(block, b, None, status)
        self.finished()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="neuroaudio-file-card", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)

    abort = stop

    def close(self) -> None:
        self.stop()
