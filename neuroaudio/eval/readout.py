"""Read-outs of a pooled spatial spectrum and the spread of clip errors (diagnostics).

A :class:`~neuroaudio.localize.base.Localizer` returns the argmax of its pooled spectrum on a 1°
grid. These functions read a direction off the same spectra with sub-bin precision, and tabulate
how much two methods' signed errors have in common: whether a gap between methods lies in the
read-out, or in the clips (``experiments/maa_readout``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def peak_parabolic(spectra: np.ndarray) -> np.ndarray:
    """Spectra ``[n, K]`` on a circular grid of 360/K degrees → sub-bin peak direction ``[n]`` (deg).

    The argmax refined by a parabola through it and its two (circular) neighbours, the shift
    clipped to ±half a bin; a flat top gives no shift."""
    n_bins = spectra.shape[1]
    k = spectra.argmax(axis=1)
    rows = np.arange(len(spectra))
    y0, y1, y2 = spectra[rows, (k - 1) % n_bins], spectra[rows, k], spectra[rows, (k + 1) % n_bins]
    den = y0 - 2 * y1 + y2                     # <= 0 at a maximum; 0 on a flat top: no shift
    delta = 0.5 * (y0 - y2) / np.minimum(den, -1e-12)
    return np.mod(k + np.clip(delta, -0.5, 0.5), n_bins) * 360.0 / n_bins


def peak_centroid(spectra: np.ndarray, half_width: int) -> np.ndarray:
    """Centroid of each spectrum ``[n, K]`` (minus its local minimum) within ±``half_width`` bins of
    its argmax → direction ``[n]`` (deg)."""
    n_bins = spectra.shape[1]
    k = spectra.argmax(axis=1)
    offsets = np.arange(-half_width, half_width + 1)
    v = spectra[np.arange(len(spectra))[:, None], (k[:, None] + offsets) % n_bins]
    v = v - v.min(axis=1, keepdims=True)
    shift = (v * offsets).sum(axis=1) / np.maximum(v.sum(axis=1), 1e-12)
    return np.mod(k + shift, n_bins) * 360.0 / n_bins


READOUTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "argmax": lambda s: s.argmax(axis=1) * 360.0 / s.shape[1],
    "parab": peak_parabolic,
    "cent2": lambda s: peak_centroid(s, 2),
    "cent4": lambda s: peak_centroid(s, 4),
}
"""Read-out rules by name: spectra ``[n, K]`` → directions ``[n]`` (deg, in ``[0, 360)``)."""


def error_correlation_table(signed: dict[str, np.ndarray]) -> list[str]:
    """Markdown lines: the pairwise correlation of the methods' signed errors ``{name: [clips]}``
    (degrees in ``[-180, 180)``); near 1 means two methods' errors are set by the clips."""
    names = list(signed)
    corr = np.corrcoef(np.stack([signed[n] for n in names]))
    lines = ["| signed-error correlation | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {a} | " + " | ".join(f"{corr[i, j]:+.2f}" for j in range(len(names))) + " |"
              for i, a in enumerate(names)]
    return lines
