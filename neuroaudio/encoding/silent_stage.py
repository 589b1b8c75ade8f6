"""The RF neurons' silent stage: integrate one time step of input, evaluated with one FFT.

Each time step of ``L`` samples, every neuron starts from rest, integrates the step's input with
``z[t] = p z[t−1] + I[t]`` (``p = λ e^{iω_k}``, ``ω_k = 2πk/N``, ``N = 2·n_neurons``), and hands the
state at the step's last sample ``t_e`` to the spike stage (:mod:`.phase_lock`). That state is

    z_k(t_e) = Σ_{r=0}^{L−1} λ^r e^{iω_k r} x[t_e − r]

i.e. the conjugate of bin k of the DFT (length N) of the time-reversed, λ-weighted step; for
``L > N`` the sum folds exactly modulo N because e^{iω_k r} has period N. So the whole bank for a
step costs one real FFT per mic instead of N·L complex multiply-adds — the same numbers as the
per-sample recursion (``neuroaudio.neurons.rf.ResonatorBank`` run from rest over the step, tested
to 1e-9), not an approximation.
"""

from __future__ import annotations

import numpy as np


def step_states(steps: np.ndarray, n_neurons: int, decay: float = 1.0) -> np.ndarray:
    """Resonator states at the end of each step.

    Args:
        steps: ``[n_steps, L, mics]`` input samples.
        n_neurons: K; the neurons sit at ``ω_k = πk/K``, k = 0…K−1.
        decay: λ per sample.

    Returns:
        ``[n_steps, mics, K]`` complex128.
    """
    n_steps, length, mics = steps.shape
    n_fft = 2 * n_neurons
    if n_steps == 0:
        return np.zeros((0, mics, n_neurons), np.complex128)
    y = steps[:, ::-1, :].astype(np.float64)                     # r = 0 is the step's last sample
    if decay != 1.0:
        y = y * (decay ** np.arange(length))[None, :, None]
    pad = (-length) % n_fft
    if pad:
        y = np.concatenate([y, np.zeros((n_steps, pad, mics))], axis=1)
    y = y.reshape(n_steps, -1, n_fft, mics).sum(axis=1)          # fold modulo N (exact)
    spec = np.fft.rfft(y, axis=1)[:, :n_neurons, :]               # Σ y[r] e^{-iω_k r}
    return np.conj(spec).transpose(0, 2, 1)
