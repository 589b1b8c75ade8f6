"""Cochlear (ERB-rate) bands and the reduction of the RF bank's neurons to bands.

The paper reduces its 512 resonators to 40 bands with a constant-Q "cochlear" filter bank. We use
bands equally spaced on the ERB-number scale of Glasberg & Moore (1990),
``E(f) = 21.4 log10(1 + 0.00437 f)``: about constant-Q above ~500 Hz (bandwidth ∝ f) and wider
than constant-Q near DC, as the cochlea is. Each neuron belongs to the band whose edges contain
its frequency (a hard assignment, so coincidence counts stay integers: "how many of the band's
fibres voted for this delay").
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def hz_to_erb_number(f: np.ndarray | float) -> np.ndarray:
    return 21.4 * np.log10(1.0 + 0.00437 * np.asarray(f, dtype=np.float64))


def erb_number_to_hz(e: np.ndarray | float) -> np.ndarray:
    return (10.0 ** (np.asarray(e, dtype=np.float64) / 21.4) - 1.0) / 0.00437


def erb_band_edges(n_bands: int, f_min_hz: float, f_max_hz: float) -> np.ndarray:
    """``n_bands + 1`` band edges (Hz), equally spaced in ERB number."""
    e = np.linspace(hz_to_erb_number(f_min_hz), hz_to_erb_number(f_max_hz), n_bands + 1)
    return erb_number_to_hz(e)


def band_centres_hz(edges: np.ndarray) -> np.ndarray:
    """Centre of each band (Hz): the ERB-scale midpoint of its edges."""
    e = hz_to_erb_number(edges)
    return erb_number_to_hz((e[:-1] + e[1:]) / 2)


def assign_neurons(neuron_hz: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Band index of each neuron (−1 outside all bands), shape ``[neurons]``.

    Raises InputError if a band has no neuron (too many bands for the bank's resolution).
    """
    band = np.searchsorted(edges, neuron_hz, side="right") - 1
    band[(neuron_hz < edges[0]) | (neuron_hz >= edges[-1])] = -1
    band[neuron_hz <= 0] = -1          # the DC neuron does not oscillate
    counts = np.bincount(band[band >= 0], minlength=len(edges) - 1)
    if np.any(counts == 0):
        b = int(np.argmax(counts == 0))
        raise InputError(f"cochlear band {b} ({edges[b]:.0f}–{edges[b + 1]:.0f} Hz) holds no RF neuron: "
                         "use fewer bands, more neurons, or a higher f_min_hz")
    return band
