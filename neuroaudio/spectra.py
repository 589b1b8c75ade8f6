"""Spectral front ends shared by the localizers and the GCC-PHAT-SM features (vectorised over
frames and mics).

Shapes: frames ``[n, frame_len, mics]`` (float32, at ``fs`` Hz) → spectra ``[n, ..., bins, mics]``
(complex64). Frequencies in Hz.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from .errors import InputError

PHAT_FLOOR = 1e-12
"""Magnitudes below this are treated as this (avoids 0/0 in the phase transform)."""


def next_pow2(n: int) -> int:
    """Smallest power of two >= n."""
    return 1 << max(0, int(np.ceil(np.log2(max(1, n)))))


def band_bins(nfft: int, fs: int, fmin_hz: float, fmax_hz: float) -> np.ndarray:
    """Indices of the rfft bins with ``fmin_hz <= f <= fmax_hz`` (InputError if none)."""
    if not 0 <= fmin_hz < fmax_hz:
        raise InputError(f"frequency range {fmin_hz}-{fmax_hz} Hz: need 0 <= fmin < fmax, "
                         "e.g. fmin_hz=300, fmax_hz=4000")
    f = np.fft.rfftfreq(nfft, 1.0 / fs)
    k = np.flatnonzero((f >= fmin_hz) & (f <= min(fmax_hz, fs / 2)))
    if k.size == 0:
        raise InputError(f"frequency range {fmin_hz}-{fmax_hz} Hz holds no FFT bin at fs={fs} Hz "
                         f"and nfft={nfft}; widen it (fmax <= {fs / 2:g} Hz)")
    return k


def frame_rfft(frames: np.ndarray, window: np.ndarray, nfft: int, bins: np.ndarray) -> np.ndarray:
    """Windowed, zero-padded rfft of whole frames, only the bins asked for.

    Args:
        frames: ``[n, frame_len, mics]``.
        window: ``[frame_len]``.
        nfft: FFT length (>= frame_len; the rest is zero padding).
        bins: rfft bin indices to keep, ``[K]``.

    Returns:
        ``[n, K, mics]`` complex64.
    """
    x = frames * window[None, :, None]
    return sfft.rfft(x, n=nfft, axis=1)[:, bins, :].astype(np.complex64, copy=False)


def stft_snapshots(frames: np.ndarray, nfft: int, hop: int, window: np.ndarray,
                   bins: np.ndarray | None = None) -> np.ndarray:
    """Short-time spectra inside each frame (the "snapshots" of array processing).

    Sub-frames of ``nfft`` samples every ``hop`` samples, windowed; the snapshots cover the frame
    from its start (a tail shorter than ``nfft`` is dropped).

    Args:
        frames: ``[n, frame_len, mics]``.
        nfft, hop: snapshot length and hop (samples).
        window: ``[nfft]``.
        bins: rfft bins to keep (None: all ``nfft // 2 + 1``).

    Returns:
        ``[n, snapshots, K, mics]`` complex64.
    """
    n, length, mics = frames.shape
    if length < nfft:
        raise InputError(f"frame of {length} samples is shorter than the {nfft}-point STFT; "
                         "use a longer --frame-s")
    win = np.lib.stride_tricks.sliding_window_view(frames, nfft, axis=1)[:, ::hop]  # [n, S, M, nfft]
    X = sfft.rfft(win * window, axis=3)    # scipy.fft keeps float32 (numpy would go to float64)
    if bins is not None:
        X = X[..., bins]
    X = np.moveaxis(X, 3, 2)                                                       # [n, S, K, M]
    return X.astype(np.complex64, copy=False)


def phat(X: np.ndarray) -> np.ndarray:
    """Phase transform: ``X / |X|`` (magnitudes floored at :data:`PHAT_FLOOR`)."""
    return X / np.maximum(np.abs(X), PHAT_FLOOR)


def hann(n: int) -> np.ndarray:
    """Periodic Hann window of ``n`` samples, float32 (= scipy.signal.get_window("hann", n))."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


class BinNoiseTracker:
    """Causal per-frequency noise floor and speech-presence weights (streaming state kept).

    Each frame's power ``P[k]`` (any non-negative per-bin power, ``[n, K]``) is compared with a
    floor ``N[k]`` tracked from the *previous* frames: instant fall, slow rise of
    ``rise_db_per_s`` (minimum tracking, as the level floor of the activity detector). The weight
    of bin ``k`` in frame ``t`` is the power-subtraction gain

        w = clip(1 - over * N[k] / P[k], floor_gain, 1)

    (``over`` > 1 makes up for a minimum's low bias). The first frame of a stream has no floor
    yet and gets weight 1 everywhere; so does a frame in which nothing stands above the floor
    (mean weight under ``min_mean``: noise alone, or a source as steady as the noise), so that a
    steady source keeps its direction instead of being whitened away.

    Bounded window (``window_s``): the floor is also never below the smallest power of
    the last ``window_s`` seconds (a minimum-statistics floor). Rising at 3 dB/s alone, a floor
    left low by a quiet stretch needs ~10 s to reach a noise 30 dB louder, and meanwhile the
    noise's bins vote as speech; with the window it gets there within ``window_s``. On a stream
    shorter than the window the floor is the rise-only one exactly (the window's minimum is
    then the running minimum, never above it). One vectorised step per frame (not per sample
    or bin).
    """

    def __init__(self, hop_s: float, rise_db_per_s: float = 3.0, over: float = 2.0,
                 floor_gain: float = 0.0, min_mean: float = 0.005, window_s: float | None = 2.0):
        self.rise = 10 ** (rise_db_per_s * hop_s / 10)
        self.min_mean = min_mean
        self.over, self.floor_gain = over, floor_gain
        self.window = None if not window_s else max(1, int(round(window_s / hop_s)))
        self.reset()

    def reset(self) -> None:
        self.noise: np.ndarray | None = None
        self._ring: np.ndarray | None = None     # [window, K] the last powers
        self._n = 0

    def weights(self, power: np.ndarray) -> np.ndarray:
        """``[n, K]`` powers of consecutive frames → ``[n, K]`` weights in [floor_gain, 1]."""
        w = np.ones_like(power, dtype=np.float32)
        for t in range(len(power)):
            p = np.maximum(power[t], 1e-20)
            if self.noise is not None:
                wt = np.clip(1.0 - self.over * self.noise / p, self.floor_gain, 1.0)
                if wt.mean() >= self.min_mean:     # else: nothing stands out, keep all bins
                    w[t] = wt
                self.noise = np.minimum(p, self.noise * self.rise)
            else:
                self.noise = p.copy()
            if self.window:
                if self._ring is None or self._ring.shape[1] != len(p):
                    self._ring = np.empty((self.window, len(p)), dtype=np.float64)
                    self._n = 0
                self._ring[self._n % self.window] = p
                self._n += 1
                self.noise = np.maximum(self.noise, self._ring[:min(self._n, self.window)].min(axis=0))
        return w
