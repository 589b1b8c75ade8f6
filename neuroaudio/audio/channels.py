"""Are a recording's channels really distinct microphones?

A 2-channel card behind PulseAudio can present 4 channels of which 3-4 copy 1-2; a mis-wired
array can leave a channel dead (digital zero). Every frame then looks spatially coherent and
directions snap to a few angles, with no error anywhere. :func:`dependent_channels` finds such
channels from a short stretch of audio (a second is plenty): channel ``k`` is *dependent* when
a least-squares fit of it from the channels before it (zero lag) leaves less than
``residual_db`` (default -60 dB) of its power, or when it is all zero while others are not.

Real microphones never pass that test (each has its own self-noise, far above -60 dB of the
signal); a noiseless simulation can (a plane wave reaching two mics at the same instant gives
two identical channels), which is why files only get a warning.

Used by the live capture (refuses by default, see docs/live.md) and by
:class:`~neuroaudio.audio.io.FileBlockStream` (warns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESIDUAL_DB = -60.0
"""A channel whose fit from the earlier channels leaves less than this much power is dependent."""

SILENT_POWER = 1e-12
"""Mean power (full scale = 1) below which a channel counts as all zero (-120 dBFS)."""


@dataclass(frozen=True)
class DependentChannel:
    """Channel ``channel`` (0-based) is ``sum(coef * x[:, src])`` over ``sources`` (0-based),
    up to ``residual_db`` of its power; ``sources`` is empty for an all-zero channel."""

    channel: int
    sources: tuple[int, ...]
    coefs: tuple[float, ...]
    residual_db: float

    def describe(self) -> str:
        """E.g. "channel 3 copies channel 1" (1-based, as on the command line)."""
        k = self.channel + 1
        if not self.sources:
            return f"channel {k} is all zero"
        if len(self.sources) == 1:
            c, s = self.coefs[0], self.sources[0] + 1
            if abs(c - 1.0) < 0.01:
                return f"channel {k} copies channel {s}"
            return f"channel {k} is {c:.2f} x channel {s}"
        return f"channel {k} is a mix of channels {', '.join(str(s + 1) for s in self.sources)}"


def dependent_channels(x: np.ndarray, residual_db: float = RESIDUAL_DB) -> list[DependentChannel]:
    """Channels of ``x`` ``[samples, channels]`` that are (nearly) linear combinations of earlier
    channels, or all zero while others are not. Empty when all channels are silent (nothing to
    tell) or when there is a single channel.

    Cost: one ``channels x channels`` covariance and a small least-squares fit per channel.
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] < 2 or x.shape[0] < 2 * x.shape[1]:
        return []
    x = x.astype(np.float64)
    x -= x.mean(axis=0)
    cov = x.T @ x / len(x)
    power = np.diag(cov).copy()
    if power.max() < SILENT_POWER:
        return []
    rel = 10.0 ** (residual_db / 10.0)
    out: list[DependentChannel] = []
    for k in range(x.shape[1]):
        if power[k] < SILENT_POWER:
            out.append(DependentChannel(k, (), (), -np.inf))
            continue
        earlier = [j for j in range(k) if power[j] >= SILENT_POWER]
        if not earlier:
            continue
        c_oo = cov[np.ix_(earlier, earlier)]
        c_ok = cov[earlier, k]
        w = np.linalg.lstsq(c_oo, c_ok, rcond=1e-10)[0]
        resid = max(power[k] - float(c_ok @ w), 0.0)
        if resid <= rel * power[k]:
            # name only the channels that carry the copy (a contribution over 10% in amplitude)
            contrib = np.abs(w) * np.sqrt(power[earlier] / power[k])
            keep = [i for i in range(len(earlier)) if contrib[i] > 0.1] or [int(np.argmax(contrib))]
            out.append(DependentChannel(k, tuple(earlier[i] for i in keep),
                                        tuple(float(w[i]) for i in keep),
                                        10.0 * np.log10(max(resid / power[k], 1e-300))))
    return out


def describe_dependent(found: list[DependentChannel], channels: list[int] | None = None) -> str:
    """One phrase for all of ``found``; ``channels`` (0-based device/file channels of the
    selection) maps selection indices back to the numbers the user sees."""
    def num(i: int) -> int:
        return channels[i] if channels is not None else i

    parts = [DependentChannel(num(d.channel), tuple(num(s) for s in d.sources), d.coefs,
                              d.residual_db).describe() for d in found]
    return ", ".join(parts)
