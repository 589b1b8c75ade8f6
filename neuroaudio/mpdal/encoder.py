"""A small cochlear-filter-bank threshold-crossing spike encoder for speech (used by the digit task).

Stages (all vectorised over channels and time):

1. Filter bank: ``n_channels`` 2nd-order Butterworth band-pass filters, centre frequencies evenly
   spaced on the ERB-rate scale between ``f_min_hz`` and ``f_max_hz`` (bandwidth one ERB x
   ``bandwidth_erb``), ``scipy.signal.sosfilt``.
2. Envelope: half-wave rectification, 2nd-order low-pass at ``env_cutoff_hz``, decimated to
   ``env_rate_hz``; log compression in dB relative to the utterance's loudest channel sample (so the
   code does not depend on recording level).
3. Threshold crossing: ``n_levels`` levels evenly spaced in [``-range_db``, ``-top_db``]; afferent
   (channel, level, up) fires when the log envelope crosses the level upward, (channel, level, down)
   when it falls below it. Spike times are linearly interpolated between envelope samples.

``n_afferents = n_channels * n_levels * 2``; afferent index = ``(c * n_levels + l) * 2 + (0 up | 1 down)``.
This is the threshold (level-crossing) coding of the aggregate-label speech experiments' family,
chosen because the MPD-AL paper's front end could not be read; documented in docs/mpdal.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt

from ..errors import InputError
from ..neurons.srm import SpikeInput


@dataclass(frozen=True)
class EncoderConfig:
    """Spike encoder settings (the ``encoder`` section of a `train mpdal` digits config; the
    stages are those of the module docstring)."""

    n_channels: int = 20
    """Filter-bank channels."""
    f_min_hz: float = 150.0
    """Centre frequency of the lowest channel (Hz)."""
    f_max_hz: float = 3500.0
    """Centre frequency of the highest channel (Hz)."""
    bandwidth_erb: float = 1.5
    """Bandwidth of each channel, in ERBs."""
    env_cutoff_hz: float = 30.0
    """Cut-off of the envelope low-pass (Hz)."""
    env_rate_hz: float = 1000.0
    """Rate the envelopes are decimated to (Hz)."""
    n_levels: int = 6
    """Threshold levels per channel (two afferents each: up and down crossings)."""
    range_db: float = 45.0
    """The lowest level, in dB below the utterance's loudest envelope sample."""
    top_db: float = 5.0
    """The highest level, in dB below the loudest envelope sample."""
    lead_s: float = 0.01
    """The first spike of an utterance is moved to this time (s): leading silence is trimmed."""

    @property
    def n_afferents(self) -> int:
        return self.n_channels * self.n_levels * 2


def erb_space(f_min: float, f_max: float, n: int) -> np.ndarray:
    """``n`` frequencies (Hz) evenly spaced on the ERB-rate scale (Glasberg & Moore 1990)."""
    def to_erb(f):
        return 21.4 * np.log10(1 + 0.00437 * f)

    def from_erb(e):
        return (10 ** (e / 21.4) - 1) / 0.00437

    return from_erb(np.linspace(to_erb(f_min), to_erb(f_max), n))


class SpikeEncoder:
    """Waveform -> :class:`SpikeInput` (threshold-crossing spikes of a cochlear filter bank)."""

    def __init__(self, cfg: EncoderConfig, fs: int) -> None:
        if cfg.f_max_hz >= fs / 2:
            raise InputError(f"encoder f_max_hz={cfg.f_max_hz} must be below fs/2={fs / 2}; lower it")
        if cfg.n_channels < 1 or cfg.n_levels < 1:
            raise InputError("encoder n_channels and n_levels must be >= 1")
        self.cfg, self.fs = cfg, fs
        self.centres_hz = erb_space(cfg.f_min_hz, cfg.f_max_hz, cfg.n_channels)
        erb = 24.7 * (1 + 0.00437 * self.centres_hz) * cfg.bandwidth_erb
        self._bands = [butter(2, [max(f - b / 2, 20.0), min(f + b / 2, fs / 2 * 0.99)], "bandpass", fs=fs,
                              output="sos") for f, b in zip(self.centres_hz, erb, strict=True)]
        self._env = butter(2, cfg.env_cutoff_hz, "lowpass", fs=fs, output="sos")
        self.step = max(1, int(round(fs / cfg.env_rate_hz)))
        self.levels_db = np.linspace(-cfg.range_db, -cfg.top_db, cfg.n_levels)

    def envelope_db(self, x: np.ndarray) -> np.ndarray:
        """Log envelope ``[channels, frames]`` in dB re the utterance maximum, at ``fs/step`` Hz."""
        x = np.asarray(x, dtype=float)
        if x.ndim != 1 or x.size < 2 * self.step:
            raise InputError("encoder needs a mono waveform of at least a few ms; pass one channel")
        bands = np.stack([sosfilt(sos, x) for sos in self._bands])  # [C, samples]
        env = sosfilt(self._env, np.maximum(bands, 0.0), axis=1)[:, ::self.step]
        env = np.maximum(env, 0.0)
        ref = env.max()
        if not ref > 0:
            return np.full(env.shape, -np.inf)
        return 20 * np.log10(np.maximum(env / ref, 1e-12))

    def encode(self, x: np.ndarray) -> SpikeInput:
        e = self.envelope_db(x)  # [C, F]
        d = e[:, None, :] - self.levels_db[None, :, None]  # [C, L, F]
        above = d >= 0
        up = ~above[..., :-1] & above[..., 1:]
        down = above[..., :-1] & ~above[..., 1:]
        dt = self.step / self.fs
        times, affs = [], []
        for direction, mask in ((0, up), (1, down)):
            c, lv, f = np.nonzero(mask)
            d0, d1 = d[c, lv, f], d[c, lv, f + 1]
            with np.errstate(invalid="ignore", divide="ignore"):
                frac = np.where(np.isfinite(d0) & (d1 != d0), d0 / (d0 - d1), 1.0)
            times.append((f + np.clip(frac, 0, 1)) * dt)
            affs.append((c * self.cfg.n_levels + lv) * 2 + direction)
        t, a = np.concatenate(times), np.concatenate(affs)
        if t.size:
            t = t - t.min() + self.cfg.lead_s
        duration = float(t.max() + 0.05) if t.size else 0.05
        order = np.argsort(t, kind="stable")
        return SpikeInput(t[order], a[order], self.cfg.n_afferents, duration)
