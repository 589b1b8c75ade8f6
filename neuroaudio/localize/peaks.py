"""Several sources per frame: peak picking with suppression on a spatial spectrum (issue 22).

A spatial spectrum over the circular azimuth grid (``[n, n_az]``, min 0, any scale) holds one
lobe per source it hears. :func:`pick_peaks` takes up to ``k`` of them per row:

1. candidates are the local maxima of the spectrum over a circular window of
   ``2 * min_sep_deg`` (every direction within ``min_sep_deg`` of a candidate is lower: the
   suppression zone; a strong source's shoulder is no second source);
2. the highest candidates are taken in order of height; the first is always the spectrum's
   global peak (so the single-source direction is unchanged);
3. a candidate after the first counts only when its height above the spectrum's mean is at least
   ``rel_threshold`` times the first's (a weaker talker, not a sidelobe or reverberation).

Each peak's confidence is ``1 - mean / height`` (the single-source peakiness of
:meth:`~neuroaudio.localize.base.Localizer.confidence` for the first peak).

:func:`vote_map` turns the peaks of each frame into narrow votes (a wrapped Gaussian of
``sigma_deg`` per peak, weighted by its prominence relative to the frame's first) summing to 1;
pooling those votes over a file is a histogram of the frames' directions, whose peaks are the
file's sources (measured against pooling the spectra themselves in docs/localize.md, "Several
sources").

Everything is vectorised over frames (``scipy.ndimage.maximum_filter1d`` in wrap mode, one
``argsort`` per call).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

MAX_SOURCES = 4
"""The most sources per frame (``--sources auto`` picks up to this many): ODAS tracks four, and a
4-mic array's subspace methods resolve at most three (M - 1); the histogram of frame peaks has no
such bound but more talkers than this at once are rarely separable on a small array."""

VOTE_SIGMA_DEG = 3.0
"""Width (deg) of a frame peak's vote in the file's histogram of directions."""


def parse_sources(value: object) -> int:
    """``--sources`` / ``sources=`` → the most sources per frame: 1..:data:`MAX_SOURCES`, or 0 for
    ``auto`` (up to :data:`MAX_SOURCES`, as many as stand out). InputError otherwise."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return 0
    try:
        k = value if isinstance(value, int) and not isinstance(value, bool) else int(str(value).strip())
    except (TypeError, ValueError):
        k = -1
    if not 1 <= k <= MAX_SOURCES:
        raise InputError(f"--sources {value}: give a whole number 1..{MAX_SOURCES} or 'auto'")
    return k


@dataclass(frozen=True)
class SourcePeak:
    """One source heard in a frame or a file: ``azimuth_deg`` in [0, 360), ``confidence`` in
    [0, 1], ``elevation_deg`` when the array resolves it (else None)."""

    azimuth_deg: float
    confidence: float
    elevation_deg: float | None = None

    def to_json(self) -> dict:
        d = {"azimuth_deg": round(float(self.azimuth_deg), 2), "confidence": round(float(self.confidence), 4)}
        if self.elevation_deg is not None:
            d["elevation_deg"] = round(float(self.elevation_deg), 2)
        return d


def pick_peaks(spectra: np.ndarray, k: int, min_sep_bins: int, rel_threshold: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to ``k`` peaks per row (module docstring).

    Args:
        spectra: ``[n, n_az]``, the circular grid's values (larger = more likely).
        k: the most peaks per row.
        min_sep_bins: suppression half-width (grid bins); two peaks are more than this apart.
        rel_threshold: a later peak's height above the row mean, as a fraction of the first's.

    Returns:
        ``(index [n, k] grid bins, confidence [n, k], valid [n, k] bool)``; row ``i``'s valid
        peaks come first, in decreasing height; ``index[:, 0]`` is ``argmax`` of each row.
    """
    from scipy.ndimage import maximum_filter1d

    s = np.asarray(spectra, dtype=float)
    n, n_az = s.shape
    k = max(1, min(int(k), n_az))
    mean = s.mean(axis=1, keepdims=True)
    width = min(2 * max(int(min_sep_bins), 0) + 1, n_az)
    local = s >= maximum_filter1d(s, size=width, axis=1, mode="wrap")
    top = np.argmax(s, axis=1)
    cand = np.where(local, s, -np.inf)
    cand[np.arange(n), top] = np.inf                   # the global peak first, whatever the ties
    order = np.argsort(-cand, axis=1, kind="stable")[:, :k]                     # [n, k]
    height = np.take_along_axis(s, order, axis=1)
    is_cand = np.isfinite(np.take_along_axis(cand, order, axis=1)) | (np.arange(k)[None, :] == 0)
    above = height - mean
    first = np.maximum(above[:, :1], 1e-12)
    valid = is_cand & (above > 1e-12) & (above >= rel_threshold * first)
    valid[:, 0] = above[:, 0] > 1e-12
    # plateaus: keep only one peak per suppression zone (ties of equal local maxima)
    if k > 1:
        d = np.abs(order[:, :, None] - order[:, None, :])
        d = np.minimum(d, n_az - d)
        close = (d <= min_sep_bins) & np.tril(np.ones((k, k), dtype=bool), -1)[None]
        valid &= ~np.any(close & valid[:, None, :], axis=2)
    conf = np.clip(1.0 - mean / np.maximum(height, 1e-12), 0.0, 1.0)
    # valid peaks first (stable: still by height)
    rank = np.argsort(~valid, axis=1, kind="stable")
    return (np.take_along_axis(order, rank, axis=1), np.take_along_axis(conf, rank, axis=1),
            np.take_along_axis(valid, rank, axis=1))


def vote_map(index: np.ndarray, conf: np.ndarray, valid: np.ndarray, spectra: np.ndarray,
             n_az: int, sigma_bins: float) -> np.ndarray:
    """Each row's valid peaks as wrapped Gaussian votes ``[n, n_az]`` summing to 1 per row (0 for
    a row without peaks); a peak's vote is its height above the row mean over the first peak's."""
    n, k = index.shape
    s = np.asarray(spectra, dtype=float)
    mean = s.mean(axis=1, keepdims=True)
    h = np.take_along_axis(s, index, axis=1) - mean
    w = np.where(valid, np.clip(h / np.maximum(h[:, :1], 1e-12), 0.0, 1.0), 0.0)        # [n, k]
    grid = np.arange(n_az)
    d = np.abs(grid[None, None, :] - index[:, :, None])
    d = np.minimum(d, n_az - d)
    votes = np.einsum("nk,nka->na", w, np.exp(-0.5 * (d / max(sigma_bins, 1e-6)) ** 2))
    return votes / np.maximum(votes.sum(axis=1, keepdims=True), 1e-12)
