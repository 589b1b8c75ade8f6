"""`rf-plc`: localization straight from the RF-PLC spike encoder's coincidence maps (no training).

Each frame is encoded (:class:`neuroaudio.encoding.encoder.RFPLCEncoder`, same frame and hop as
the localizer, so the maps are exactly the ones ``neuroaudio encode`` writes); the coincidence
counts are summed over the T time steps and the bands, giving per pair a count over the
detector delays. For each grid azimuth the far-field TDOA of every pair (``tau_ij = t_j − t_i``,
samples) is looked up in that pair's counts, linearly interpolated between the two nearest
detectors (0 outside the detector range), and the pairs are summed:

    score(az) = Σ_pairs  counts_pair( tdoa_pair(az) )

It is a Jeffress-style read-out that shows the spikes carry the spatial information before any
network is trained (the MAA network learns a better one).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..encoding.config import RFPLCConfig
from ..encoding.encoder import RFPLCEncoder
from .base import Localizer, SpikeActivity


def delay_interpolation(tdoa_samples: np.ndarray, delays: np.ndarray) -> np.ndarray:
    """Weights that read a count at each TDOA by linear interpolation between detectors.

    Args:
        tdoa_samples: ``[n_az, pairs]``; delays: ``[delays]`` ascending.

    Returns:
        ``[pairs, delays, n_az]`` weights (each column sums to 1 inside the range, 0 outside).
    """
    n_az, n_pairs = tdoa_samples.shape
    w = np.zeros((n_pairs, len(delays), n_az))
    pos = np.interp(tdoa_samples, delays, np.arange(len(delays)), left=np.nan, right=np.nan)
    for p in range(n_pairs):                     # loop over pairs (a handful)
        ok = np.isfinite(pos[:, p])
        k0 = np.minimum(np.floor(pos[ok, p]).astype(int), len(delays) - 2)
        frac = pos[ok, p] - k0
        az = np.flatnonzero(ok)
        w[p, k0, az] += 1.0 - frac
        w[p, k0 + 1, az] += frac
    return w


class RFPLCLocalizer(Localizer):
    """Spike-pattern (Jeffress) read-out of RF-PLC coincidence maps.

    Args:
        array, fs, frame_s, hop_s, grid_step_deg, ...: see :class:`Localizer`.
        encoder: an :class:`RFPLCConfig` (its frame_s/hop_s are replaced by the localizer's),
            or a dict of its fields, e.g. ``{"timing": "sample"}``.
    """

    name: ClassVar[str] = "rf-plc"
    summary: ClassVar[str] = ("RF-PLC spike encoder + coincidence read-out (Jeffress): the direction "
                              "whose delays collect the most coincidences; no training")

    def __init__(self, array: Any, fs: int | None = None, frame_s: float = 0.17, hop_s: float = 0.085,
                 encoder: RFPLCConfig | dict | None = None, **kwargs: Any):
        super().__init__(array, fs=fs, frame_s=frame_s, hop_s=hop_s, **kwargs)
        cfg = encoder if isinstance(encoder, RFPLCConfig) else RFPLCConfig(**(encoder or {}))
        cfg = RFPLCConfig(**{**cfg.to_dict(), "frame_s": self.frame_len / self.fs,
                             "hop_s": self.hop / self.fs})
        self.encoder = RFPLCEncoder(self.array, cfg, self.fs)
        tdoa = self.array.tdoa_s(self.grid_deg) * self.fs                       # [n_az, pairs]
        self._weights = delay_interpolation(tdoa, self.encoder.delays_samples)  # [P, D, n_az]

    def coincidence_maps(self, frames: np.ndarray) -> np.ndarray:
        """``[n, frame_len, mics]`` → counts summed over steps and bands, ``[n, pairs, delays]``."""
        maps = self.encoder.encode_frames(frames)
        if self.record_activity and len(maps):
            self.last_activity = SpikeActivity.of_coincidence(maps[-1])
        return maps.sum(axis=(1, 4), dtype=np.float64)

    def frames_spectrum(self, frames: np.ndarray) -> np.ndarray:
        return np.einsum("npd,pda->na", self.coincidence_maps(frames), self._weights)
