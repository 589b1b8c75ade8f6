"""Reading and validating multichannel audio; block streams that keep memory bounded.

Every signal inside neuroaudio is a float32 array of shape ``[samples, channels]`` at a known
rate (Hz); channel k is mic k of the array after any ``--channels`` selection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import InputError
from .resample import StreamingResampler

log = logging.getLogger("neuroaudio")

CLIP_LEVEL = 0.999
"""|sample| at or above this counts as clipped (full scale is 1.0)."""
CLIP_WARN_FRACTION = 1e-3
"""Warn when more than this fraction of samples is clipped."""
BAND_EDGE = 0.275
"""Band check: the share of a file's power above ``BAND_EDGE * fs`` (4.4 kHz for a 16 kHz method)."""
BAND_WARN_FRACTION = 1e-3
"""Warn when less than this share (-30 dB) of the power lies above the band edge: measured on the
example recording, -16 dB as recorded at 16 kHz, -51 dB after a round trip through 8 kHz (-42 dB
once written as 16-bit PCM)."""
_WARNED: set[str] = set()
"""Kinds of input warning already given in this process: each is a warning once, then logged at
INFO (`-v`), so a batch of thousands of such files does not print thousands of lines."""


def _warn_once(kind: str, msg: str, *args) -> None:
    log.log(logging.INFO if kind in _WARNED else logging.WARNING, msg, *args)
    _WARNED.add(kind)


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds: rate (Hz), channel count, length (samples and s)."""

    path: str
    fs: int
    channels: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.fs if self.fs else 0.0


def parse_channels(spec: str | Sequence[int] | None) -> list[int] | None:
    """Parse a 1-based channel list (``"2,3,4,5"`` or ``[2, 3, 4, 5]``) into 0-based indices."""
    if spec is None or spec == "":
        return None
    if isinstance(spec, str):
        try:
            values = [int(s) for s in spec.replace(" ", "").split(",") if s]
        except ValueError:
            raise InputError(f"--channels '{spec}': give 1-based channel numbers separated by "
                             "commas, e.g. --channels 2,3,4,5") from None
    else:
        values = [int(v) for v in spec]
    if not values or min(values) < 1:
        raise InputError(f"--channels {spec}: channel numbers start at 1, e.g. --channels 2,3,4,5")
    if len(set(values)) != len(values):
        raise InputError(f"--channels {spec}: a channel is listed twice")
    return [v - 1 for v in values]


def wav_data_shortfall(path: str | Path) -> tuple[int, int] | None:
    """``(bytes the WAV header declares for its data chunk, bytes the file holds)`` when a RIFF/WAVE
    file's data chunk is cut short (a copy or download that stopped), else None.

    libsndfile reads such a file without a word, as if it were shorter; only the header tells.
    A data size of 0 or 0xFFFFFFFF (a writer that never finalised its header, or a stream) is
    not a claim and passes."""
    import struct

    try:
        size = Path(path).stat().st_size
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            pos = 12
            while pos + 8 <= size:
                f.seek(pos)
                cid, n = struct.unpack("<4sI", f.read(8))
                if cid == b"data":
                    have = size - (pos + 8)
                    return (n, have) if n not in (0, 0xFFFFFFFF) and n > have else None
                pos += 8 + n + (n & 1)
    except OSError:
        return None
    return None


def check_finite(x: np.ndarray, path: str | Path, fs: int, offset: int = 0) -> None:
    """InputError naming the time of the first NaN or Inf sample of ``x`` (``[samples, ...]``),
    ``offset`` samples into the file at rate ``fs`` (Hz)."""
    _check_block(np.asarray(x).reshape(len(x), -1), str(path), offset, fs)


def audio_info(path: str | Path) -> AudioInfo:
    """Open a file's header; raise :class:`InputError` if it is missing, not audio, or a WAV whose
    data is shorter than its header says (truncated)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise InputError(f"{p}: is a folder, give an audio file")
    try:
        info = sf.info(str(p))
    except Exception as e:  # soundfile raises several types for non-audio input
        raise InputError(f"{p}: not a readable audio file ({str(e).splitlines()[0]}); "
                         "give a WAV/FLAC/OGG file") from None
    short = wav_data_shortfall(p)
    if short is not None:
        frame_bytes = max(1, (short[1] // max(1, int(info.frames)))) if info.frames else 0
        said = f"{short[0] / frame_bytes / info.samplerate:.3f} s" if frame_bytes else f"{short[0]} bytes"
        raise InputError(f"{p}: truncated: its header says {said} of audio but the file holds "
                         f"{info.frames / info.samplerate:.3f} s; copy or export the file again")
    return AudioInfo(str(p), int(info.samplerate), int(info.channels), int(info.frames))


def _check_channels(info: AudioInfo, channels: list[int] | None, n_mics: int | None) -> int:
    """Validate the selection; return the number of channels after it."""
    if channels is not None and max(channels) >= info.channels:
        raise InputError(f"{info.path}: has {info.channels} channels but --channels asks for "
                         f"channel {max(channels) + 1}; list channels 1..{info.channels}")
    n = len(channels) if channels is not None else info.channels
    if n_mics is not None and n != n_mics:
        if n == 1:
            raise InputError(f"{info.path}: mono (1 channel), but direction finding needs one channel "
                             f"per mic ({n_mics} for this array); give the array's multichannel "
                             "recording, not a mono mix")
        hint = ("pick the mic channels with --channels (e.g. 2,3,4,5 for a ReSpeaker's "
                "6-channel firmware)" if n > n_mics else
                f"give a recording with one channel per mic, or an --array of {n} mics")
        raise InputError(f"{info.path}: {n} channels but the array has {n_mics} mics; {hint}")
    return n


def warn_low_rate(path: str | Path, fs_in: int, fs_method: int) -> bool:
    """Warn (one line on stderr through the ``neuroaudio`` logger; later files of a batch at INFO)
    when a file's rate ``fs_in`` is below the rate ``fs_method`` (Hz) the method was tuned or
    trained at; returns True if it warned.

    The file is upsampled, but nothing above ``fs_in / 2`` is in it: estimates are less accurate
    (gcc-phat on an 8 kHz copy of data/examples/respeaker4_az120.wav: 135.0 deg, as recorded 119.0)."""
    if int(fs_in) >= int(fs_method):
        return False
    _warn_once("rate", "%s: recorded at %d Hz, below the %d Hz this method was tuned or trained for; "
               "it is upsampled but has nothing above %d Hz, so results may be less accurate (record "
               "at %d Hz or more)", path, fs_in, fs_method, fs_in // 2, fs_method)
    return True


def _check_block(block: np.ndarray, path: str, offset: int, fs: int) -> None:
    if not np.all(np.isfinite(block)):
        bad = int(np.argmax(~np.isfinite(block).all(axis=1)))
        raise InputError(f"{path}: NaN or Inf sample at {(offset + bad) / fs:.3f} s; "
                         "the file is corrupt, re-export it")


def _warn_dependent(block: np.ndarray, path: str, channels: list[int] | None) -> None:
    """One warning when the first block's channels are copies/mixes of others or dead
    (:mod:`neuroaudio.audio.channels`; the live capture refuses the same)."""
    from .channels import dependent_channels, describe_dependent

    found = dependent_channels(block)
    if found:
        log.warning("%s: %s (first %d samples): these are not distinct microphones, so directions "
                    "will snap to a few angles; check the recording or --channels", path,
                    describe_dependent(found, channels), len(block))


class FileBlockStream:
    """Iterate over a file in blocks of ``[samples, channels]`` float32 at rate ``fs`` (Hz).

    Memory is bounded by the block size whatever the file's length. Channels are picked and
    ordered by ``channels`` (0-based), the rate converted with a streaming polyphase resampler
    equal to ``scipy.signal.resample_poly`` on the whole file.

    Args:
        path: any file soundfile reads.
        fs: processing rate (Hz); None keeps the file's rate.
        channels: 0-based channel selection, or None for all.
        n_mics: expected channel count after selection (the array's mics), or None.
        block_s: block length (s) at the file's rate.
        min_duration_s: refuse shorter files.
    """

    def __init__(self, path: str | Path, fs: int | None = None, channels: list[int] | None = None,
                 n_mics: int | None = None, block_s: float = 1.0, min_duration_s: float = 0.0):
        self.info = audio_info(path)
        if self.info.frames == 0:
            raise InputError(f"{path}: the file is empty (0 samples); give a recording")
        if self.info.duration_s < min_duration_s:
            raise InputError(f"{path}: {self.info.duration_s:.3f} s long, shorter than the "
                             f"{min_duration_s:.3f} s one analysis frame needs; give a longer recording")
        self.channels = channels
        self.n_channels = _check_channels(self.info, channels, n_mics)
        self.fs = int(fs or self.info.fs)
        warn_low_rate(self.info.path, self.info.fs, self.fs)
        self.block_frames = max(1, int(round(block_s * self.info.fs)))
        self.clipped = 0
        self.samples_read = 0
        self.check_band = fs is not None and self.info.fs >= self.fs
        self.power_total = self.power_high = 0.0

    def _add_band_power(self, block: np.ndarray) -> None:
        """Accumulate the block's power, all of it and above ``BAND_EDGE * fs`` (vectorised rfft)."""
        spec = np.abs(np.fft.rfft(block, axis=0)) ** 2
        f = np.fft.rfftfreq(len(block), 1.0 / self.info.fs)
        self.power_total += float(spec.sum())
        self.power_high += float(spec[f > BAND_EDGE * self.fs].sum())

    def __iter__(self) -> Iterator[np.ndarray]:
        rs = StreamingResampler(self.info.fs, self.fs, self.n_channels)
        self.clipped = self.samples_read = 0
        self.power_total = self.power_high = 0.0
        try:
            f = sf.SoundFile(self.info.path)
        except Exception as e:
            raise InputError(f"{self.info.path}: cannot open ({e}); give a readable audio file") from None
        with f:
            while True:
                try:
                    block = f.read(self.block_frames, dtype="float32", always_2d=True)
                except Exception as e:
                    raise InputError(f"{self.info.path}: read failed at {self.samples_read} "
                                     f"samples ({e}); the file is truncated or corrupt") from None
                if len(block) == 0:
                    break
                if self.channels is not None:
                    block = block[:, self.channels]
                _check_block(block, self.info.path, self.samples_read, self.info.fs)
                if self.samples_read == 0:
                    _warn_dependent(block, self.info.path, self.channels)
                self.clipped += int(np.count_nonzero(np.abs(block) >= CLIP_LEVEL))
                if self.check_band:
                    self._add_band_power(block)
                self.samples_read += len(block)
                out = rs.push(block)
                if len(out):
                    yield np.ascontiguousarray(out, dtype=np.float32)
        tail = rs.flush()
        if len(tail):
            yield np.ascontiguousarray(tail, dtype=np.float32)
        total = max(1, self.samples_read * self.n_channels)
        if self.clipped / total > CLIP_WARN_FRACTION:
            log.warning("%s: %.2f%% of samples are clipped; lower the input gain for better "
                        "estimates", self.info.path, 100 * self.clipped / total)
        if self.check_band and self.power_total > 0 and \
                self.power_high < BAND_WARN_FRACTION * self.power_total:
            share = 10 * np.log10(max(self.power_high / self.power_total, 1e-30))
            _warn_once("band", "%s: almost nothing above %.1f kHz (%.0f dB of the power), as if "
                       "recorded at a lower rate and upsampled; the method was tuned or trained for "
                       "content up to %.0f kHz, so results may be less accurate (record at %d Hz or "
                       "more)",
                        self.info.path, BAND_EDGE * self.fs / 1000, share, self.fs / 2000, self.fs)


def read_audio(path: str | Path, fs: int | None = None, channels: list[int] | None = None,
               n_mics: int | None = None, min_duration_s: float = 0.0) -> tuple[np.ndarray, int]:
    """Read a whole file: returns (signal ``[samples, channels]`` float32, rate Hz)."""
    stream = FileBlockStream(path, fs=fs, channels=channels, n_mics=n_mics,
                             block_s=10.0, min_duration_s=min_duration_s)
    blocks = list(stream)
    x = np.concatenate(blocks) if blocks else np.zeros((0, stream.n_channels), np.float32)
    return x, stream.fs


def write_audio(path: str | Path, x: np.ndarray, fs: int, subtype: str = "PCM_16") -> None:
    """Write ``[samples, channels]`` audio atomically (temporary file, then rename)."""
    from ..io_utils import atomic_path

    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.asarray(x), int(fs), subtype=subtype, format="WAV")


def blocks_of(x: np.ndarray, block: int) -> Iterator[np.ndarray]:
    """Split an in-memory signal ``[samples, channels]`` into consecutive blocks."""
    for i in range(0, len(x), block):
        yield x[i:i + block]
