"""Coincidence (Jeffress) detectors: ITD → a spatial spike pattern per mic pair, band and delay.

For each ordered mic pair (i, j) (i < j), each band and each delay ``τ_n`` there is a detector.
The spike trains of one RF neuron (one frequency ``ω_k``) on mics i and j feed the detectors of
that neuron's band; a detector fires when a spike of mic j follows a spike of mic i by ``τ_n``
(``τ = t_j − t_i``, the TDOA sign of conventions.md), within a tolerance of half the detector
spacing (a half-open window ``[τ_n − δ/2, τ_n + δ/2)``, so each spike pair hits at most one
detector). Each neuron's detector fires at most once per step — within a step the trains are
periodic with period ``P_k``, so a coincidence at lag τ repeats every cycle; counting it once
makes every frequency vote equally. The output per step is, for each (pair, delay, band), the
number of the band's neurons whose trains coincide at that delay: an integer in [0, neurons in
band]. Periodicity means a neuron also votes at ``τ + mP_k`` (phase ambiguity; the spatial
aliasing of a Jeffress line); summing over bands lets the true delay stand out.

Detector delays:

- ``timing="subsample"``: ``n_delays`` (default 51, the paper's count) evenly spanning
  ``±max_delay`` where ``max_delay`` = largest pair distance / c (samples at fs); spike-time
  differences are continuous, so the detector nearest to each lag fires.
- ``timing="sample"``: spike times are whole samples, so lags are integers; detectors sit at
  ``−D…D``, ``D = ceil(max_delay)`` (7 detectors on a ReSpeaker 4-mic at 16 kHz). Which integer
  lags occur follows exactly from the quantisation: a continuous lag Δ becomes ``floor(Δ)`` or
  ``floor(Δ)+1`` depending on where each mic-i spike falls between samples (tracked over the
  step's first ``MAX_QUANT_CYCLES`` cycles of mic i).
"""

from __future__ import annotations

import math

import numpy as np

from ..arrays import MicArray

MAX_QUANT_CYCLES = 64
"""Sample timing: how many cycles of a mic-i train decide which of floor/ceil lags occur."""


def detector_delays(array: MicArray, fs: int, n_delays: int = 51, timing: str = "subsample",
                    max_delay_s: float | None = None) -> np.ndarray:
    """Delays of the detectors (samples at ``fs``), shape ``[delays]``, ascending."""
    dmax = (float(array.max_delay_s().max()) if max_delay_s is None else float(max_delay_s)) * fs
    if timing == "sample":
        d = max(1, math.ceil(dmax - 1e-9))
        return np.arange(-d, d + 1, dtype=np.float64)
    return np.linspace(-dmax, dmax, n_delays)


def coincidence_counts(offset: np.ndarray, n_spikes: np.ndarray, period: np.ndarray,
                       band_of_neuron: np.ndarray, n_bands: int, pairs: np.ndarray,
                       delays: np.ndarray, timing: str = "subsample") -> np.ndarray:
    """Coincidence maps of a batch of steps.

    Args:
        offset: ``[steps, mics, neurons]`` first-spike times after ``t_e`` (samples; NaN = silent).
        n_spikes: ``[steps, mics, neurons]`` spikes per step.
        period: ``[neurons]`` oscillation period (samples; inf/NaN for neurons in no band).
        band_of_neuron: ``[neurons]`` band index, −1 = none.
        pairs: ``[pairs, 2]``; delays: ``[delays]`` ascending, evenly spaced (samples).

    Returns:
        ``[steps, pairs, delays, bands]`` int16 counts.
    """
    n_steps, _, n_neur = offset.shape
    n_pairs, n_del = len(pairs), len(delays)
    out_size = n_steps * n_pairs * n_del * n_bands
    inband = np.flatnonzero(band_of_neuron >= 0)
    if n_steps == 0 or len(inband) == 0:
        return np.zeros((n_steps, n_pairs, n_del, n_bands), np.int16)
    off, cnt, per = offset[..., inband], n_spikes[..., inband], period[inband]
    band = band_of_neuron[inband]
    i, j = pairs[:, 0], pairs[:, 1]
    # only (step, pair, neuron) where both mics spike do any work (sparse: ~1/3 of them)
    ci, cj = cnt[:, i], cnt[:, j]                                    # [S, P, K']
    both = (ci > 0) & (cj > 0)
    oi = off[:, i][both].astype(np.float64)
    dlt = off[:, j][both] - oi                                       # t_j - t_i of the first spikes
    ni, nj = ci[both][:, None], cj[both][:, None]
    pk = np.broadcast_to(per, both.shape)[both]
    base_full = ((np.arange(n_steps)[:, None, None] * n_pairs + np.arange(n_pairs)[None, :, None])
                 * n_del * n_bands + band[None, None, :])
    base = base_full[both][:, None]
    step = float(delays[1] - delays[0])
    lo, hi = float(delays[0]) - step / 2, float(delays[-1]) + step / 2
    if timing == "sample":
        lo, hi = lo - 1.0, hi + 1.0                                  # floor/ceil may bring it in
    n_alias = int(math.ceil((hi - lo) / per.min())) + 1
    m = np.ceil((lo - dlt) / pk)[:, None] + np.arange(n_alias)      # [n, A] alias index
    lag = dlt[:, None] + m * pk[:, None]                            # candidate lags t_j - t_i
    ok = (lag < hi) & (m >= 1 - ni) & (m <= nj - 1)                 # both spikes exist in the step
    counts = np.zeros(out_size, np.int64)

    def add(det: np.ndarray, mask: np.ndarray) -> None:
        mask = mask & (det >= 0) & (det < n_del)
        counts[:] += np.bincount((base + det * n_bands)[mask], minlength=out_size)

    if timing == "subsample":
        det = ((lag - delays[0]) * (1.0 / step) + 0.5).astype(np.int64)   # lag >= lo: trunc = floor
        counts = np.bincount((base + det * n_bands)[ok], minlength=out_size)
    else:
        # quantisation of each mic-i spike, r_a = ceil(u_a) - u_a, over its first cycles a
        n_max = int(min(MAX_QUANT_CYCLES, max(1, ni.max(initial=1))))
        a = np.arange(n_max)
        u = oi[:, None] + a * pk[:, None]                           # [n, n_max]
        r = np.ceil(u) - u
        valid = a < ni
        r_min = np.where(valid, r, np.inf).min(-1)[:, None]
        r_max = np.where(valid, r, -np.inf).max(-1)[:, None]
        fl = np.floor(lag)
        frac = lag - fl
        d0 = int(delays[0])
        add((fl - d0).astype(np.int64), ok & (r_max >= frac))                     # lag floor(Δ)
        add((fl + 1 - d0).astype(np.int64), ok & (frac > 0) & (r_min < frac))     # lag floor(Δ)+1
    return counts.reshape(n_steps, n_pairs, n_del, n_bands).astype(np.int16)
