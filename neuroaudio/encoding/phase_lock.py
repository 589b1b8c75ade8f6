"""The RF neurons' spike stage: phase-locked spikes, one per cycle, while the band is active.

After the silent stage (:mod:`.silent_stage`) a neuron holds ``z = |z| e^{iφ}`` at the step's
last sample ``t_e``. In the spike stage it receives no input and oscillates freely,
``z(t_e + u) = λ^u e^{iω u} z``, so its phase is ``φ + ω u`` exactly. It fires each time the phase
reaches the locked phase π/2 (Re z = 0, Im z maximal):

    u_a = ((π/2 − φ) mod 2π) / ω + a·P,   P = 2π/ω samples,  a = 0, 1, …  while u_a < W

with ``W`` the spike-stage length (one step). Because ``φ = ω t_e + φ_0`` for a tone of phase
``φ_0``, the spike times are where the input component's phase is π/2: a delayed input shifts
them by the delay, which is the ITD cue the coincidence detectors read.

Timing (a choice, measured in docs/encoder.md):

- ``"subsample"``: the crossing time ``u_a`` is exact and continuous (the phase is linear in u
  during the spike stage, so no interpolation error).
- ``"sample"``: a sample-clocked neuron checks its phase once per sample and fires at the first
  sample at or after the crossing, ``ceil(u_a)`` — spike times quantised to 1/fs.

Activity (documented criterion): per mic and step, a band's power is the share of the step's
mean square that falls in it (Parseval over its neurons, ``Σ_k 2|z_k|²/(N L)``, dB re full
scale). The band is active when that power is ≥ ``min_band_dbfs`` and within ``band_range_db``
of the loudest band of that mic in that step. In an active band, a neuron spikes when its
energy ``|z_k|²`` is at least the band's mean neuron energy + ``neuron_rel_db``; other neurons
stay silent for the step (their phase would be noise-dominated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOCKED_PHASE = np.pi / 2
"""The phase (rad) at which a neuron fires: Re z = 0, Im z > 0."""


@dataclass
class SpikeStage:
    """Phase-locked spikes of one batch of steps.

    Attributes:
        offset: ``[steps, mics, neurons]`` time of the first spike after ``t_e`` (samples, in
            [0, P)); NaN where the neuron is silent this step.
        n_spikes: ``[steps, mics, neurons]`` spikes in the spike stage (0 where silent).
        band_active: ``[steps, mics, bands]``.
        band_power_db: ``[steps, mics, bands]`` (dB re full scale).
    """

    offset: np.ndarray
    n_spikes: np.ndarray
    band_active: np.ndarray
    band_power_db: np.ndarray


def activity(z: np.ndarray, band_of_neuron: np.ndarray, n_bands: int, step_len: int,
             band_range_db: float, min_band_dbfs: float, neuron_rel_db: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which neurons spike (module docstring).

    Args:
        z: ``[steps, mics, neurons]`` states. band_of_neuron: ``[neurons]`` (−1 = none).

    Returns:
        neuron_active ``[steps, mics, neurons]``, band_active and band_power_db
        ``[steps, mics, bands]``.
    """
    energy = z.real ** 2 + z.imag ** 2
    n_fft = 2 * z.shape[-1]
    inband = band_of_neuron >= 0
    b = band_of_neuron[inband]
    onehot = np.zeros((inband.sum(), n_bands))
    onehot[np.arange(len(b)), b] = 1.0
    band_energy = energy[..., inband] @ onehot                           # [S, M, B]
    power = 2.0 * band_energy / (n_fft * step_len)
    power_db = 10.0 * np.log10(power + 1e-30)
    loudest = power_db.max(axis=-1, keepdims=True)
    band_active = (power_db >= min_band_dbfs) & (power_db >= loudest - band_range_db)
    mean_energy = band_energy / onehot.sum(axis=0)                       # per band
    neuron_active = np.zeros(energy.shape, dtype=bool)
    thr = mean_energy[..., b] * 10.0 ** (neuron_rel_db / 10.0)
    neuron_active[..., inband] = band_active[..., b] & (energy[..., inband] >= thr) & (thr > 0)
    return neuron_active, band_active, power_db


def phase_locked_spikes(z: np.ndarray, omega: np.ndarray, neuron_active: np.ndarray,
                        window: int) -> tuple[np.ndarray, np.ndarray]:
    """First-spike offsets and spike counts of the spike stage.

    Args:
        z: ``[steps, mics, neurons]`` states at ``t_e``. omega: ``[neurons]`` rad/sample (> 0
            where active). neuron_active: mask. window: spike-stage length W (samples).

    Returns:
        offset ``[steps, mics, neurons]`` (samples, NaN where silent), n_spikes (int).
    """
    act = neuron_active & (omega > 0)
    offset = np.full(z.shape, np.nan)
    n = np.zeros(z.shape, np.int32)
    za = z[act]                                    # only spiking neurons need a phase (~1/3)
    w = np.broadcast_to(omega, z.shape)[act]
    x = (LOCKED_PHASE - np.arctan2(za.imag, za.real)) / (2 * np.pi)
    cyc = x - np.floor(x)                          # phase to go, in cycles, [0, 1)
    offset[act] = cyc * (2 * np.pi) / w            # first crossing, samples
    n[act] = np.maximum(0.0, np.ceil(window * w / (2 * np.pi) - cyc)).astype(np.int32)
    return offset, n


def spike_times(offset: float, period: float, n: int, timing: str = "subsample") -> np.ndarray:
    """All spike times (samples after ``t_e``) of one neuron in one step."""
    if n <= 0 or not np.isfinite(offset):
        return np.zeros(0)
    t = offset + period * np.arange(n)
    return np.ceil(t) if timing == "sample" else t
