"""SRP-PHAT: steered response power with the phase transform, vectorised.

Per frame: short-time spectra ("snapshots", ``nfft``-point Hann windows every ``nfft/2``
samples inside the 0.17-s frame), each bin of each mic whitened to unit magnitude (PHAT),
pairwise cross-spectra averaged over the snapshots:

    Rbar_ij(f) = mean_s conj(Xt_i(s, f)) Xt_j(s, f),     Xt = X / |X|

and the steered response power of direction ``a`` over the band
(the constant diagonal terms dropped; ``tau_ij(a) = t_j(a) - t_i(a)``):

    P(a) = sum_{f in band} sum_{i<j} Re( Rbar_ij(f) exp(+j 2 pi f tau_ij(a)) )

The steering phases of every (pair, bin, direction) are precomputed once as a real matrix
``[2 * pairs * bins, directions]``, so a batch of frames costs one matrix product: no Python loop
over frequencies or directions.

Choices (measured on simulated reverberant speech, docs/localize.md): 512-point snapshots
(32 ms, beat 256 and 1024) with 50 % overlap, the band 200-7000 Hz (beat pyroomacoustics'
500-4000) and speech-presence bin weights ``w(f)`` multiplying ``Rbar_ij(f)``, as gcc-phat
(:mod:`~neuroaudio.localize.phat`). The averaging of whitened cross-spectra over snapshots before
steering is what separates this from :mod:`~neuroaudio.localize.gcc_phat` (one long FFT per
frame, pair-wise whitening).
"""

from __future__ import annotations

import numpy as np

from ..arrays import MicArray
from ..errors import InputError
from ..spectra import band_bins, hann, phat, stft_snapshots
from .phat import PhatLocalizer


class SrpPhat(PhatLocalizer):
    """Vectorised SRP-PHAT over a frequency band (module docstring).

    Args:
        array: the microphone array.
        nfft: snapshot length (samples, even); hop = nfft / 2.
        **options: the band, bin-weighting and coherence options of :class:`PhatLocalizer`
            (``coherence_power``: ``|Rbar_ij(f)|``, the bin's phase consistency over the
            snapshots), and the frame, hop, grid and activity options of
            :class:`~neuroaudio.localize.base.Localizer`.
    """

    name = "srp-phat"
    summary = ("SRP-PHAT: whitened cross-spectra of 32-ms snapshots with speech-presence bin "
               "weights, steered to every direction by one matrix product")

    def __init__(self, array: MicArray | str, *, nfft: int = 512, **options):
        super().__init__(array, **options)
        if nfft < 16 or nfft % 2:
            raise InputError(f"nfft={nfft}: give an even snapshot length of at least 16 samples")
        if nfft > self.frame_len:
            raise InputError(f"nfft={nfft} samples is longer than the frame ({self.frame_len}); "
                             "use a longer --frame-s or a smaller nfft")
        self.nfft, self.snap_hop = int(nfft), int(nfft) // 2
        self.window = hann(self.nfft)
        self.bins = band_bins(self.nfft, self.fs, self.fmin_hz, self.fmax_hz)
        freqs = self.bins * self.fs / self.nfft                                      # [K]
        tau = self.array.tdoa_s(self.grid_deg)                                       # [az, P]
        phase = 2 * np.pi * freqs[None, :, None] * tau.T[:, None, :]                 # [P, K, az]
        k, p = len(self.bins), len(self.pairs)
        scale = 1.0 / (k * p)
        self.steer = np.concatenate([np.cos(phase).reshape(p * k, -1),
                                     -np.sin(phase).reshape(p * k, -1)]).astype(np.float32) * scale

    def cross_spectra(self, frames: np.ndarray) -> np.ndarray:
        """Snapshot-averaged whitened cross-spectra ``[n, pairs, bins]`` (complex64)."""
        X = stft_snapshots(frames, self.nfft, self.snap_hop, self.window, self.bins)
        w = None
        if self.tracker is not None:
            power = np.mean(np.abs(X) ** 2, axis=(1, 3))                             # [n, K]
            w = self.tracker.weights(power)
        X = phat(X)
        C = np.conj(X[..., self.pairs[:, 0]]) * X[..., self.pairs[:, 1]]             # [n, S, K, P]
        C = C.mean(axis=1)
        if w is not None:
            C = C * w[:, :, None]
        if self.coherence_power:      # |Rbar| is the bin's phase consistency over snapshots
            C = C * np.abs(C) ** self.coherence_power
        return np.moveaxis(C, 2, 1)                                                  # [n, P, K]

    def frames_spectrum(self, frames: np.ndarray) -> np.ndarray:
        C = self.cross_spectra(frames)
        n = len(C)
        ri = np.concatenate([C.real.reshape(n, -1), C.imag.reshape(n, -1)], axis=1)  # [n, 2PK]
        return ri @ self.steer
