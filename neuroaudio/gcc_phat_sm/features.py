"""GCC-PHAT-SM features: masked PHAT cross-spectra of every mic pair at sub-sample lags.

Per analysis frame (``frame_len`` samples, e.g. 0.17 s) the signal is cut into STFT snapshots
(``nfft`` = 512 samples = 32 ms at 16 kHz, hop 256: 9 snapshots in a 0.17-s frame; 31.25-Hz bins
resolve the harmonics of voices with F0 above ~80 Hz). For the bins ``fmin_hz..fmax_hz`` and every
ordered pair ``(i, j)`` of :meth:`MicArray.pairs`:

    P_ij(s, f) = X_i*(s, f) X_j(s, f) / |X_i*(s, f) X_j(s, f)|                (PHAT)
    R_ij(tau)  = sum_{s,f} M(s, f) Re(P_ij(s, f) e^{i 2 pi f tau / fs}) / sum_{s,f} M(s, f)

``M`` is the learned mask in [0, 1] (all ones for ``gcc-phat-mlp``); ``R`` is in [-1, 1] and peaks
at ``tau = tau_ij = t_j - t_i`` (conventions.md). ``R`` is the inverse transform evaluated
directly at fractional lags (no FFT): each pair has its own lag grid of ``n_lags`` points spanning
its physical range ``|tau| <= d_ij / c`` plus ``lag_margin`` samples, so the ReSpeaker's ±3-sample
delays are sampled every ~0.2 samples (31 lags). The features of a frame are ``R`` of all pairs
``[pairs, n_lags]``, flattened for the classifier.

Arrays: ``X`` ``[n, snapshots, bins, mics]`` complex64; cross-spectra are kept as real and
imaginary parts ``[n, snapshots, bins, pairs]`` float32 (what the training cache stores).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..arrays import MicArray
from ..errors import InputError
from ..spectra import band_bins, hann, stft_snapshots
from ..symmetry import Symmetry, array_symmetries, symmetry_tables, usable_symmetries  # noqa: F401  (re-exported)
from ..train.config_section import ConfigSection

LOG_FLOOR = 1e-10
"""Power floor of the log-spectra (relative to full scale squared)."""


@dataclass(frozen=True)
class FeatureConfig(ConfigSection):
    """STFT and lag-grid settings (stored in the checkpoint).

    Attributes:
        nfft: STFT snapshot length (samples at the model's rate).
        hop: snapshot hop (samples).
        fmin_hz, fmax_hz: band of the cross-spectra and of the mask (Hz).
        n_lags: lags per pair.
        lag_margin: samples added to each pair's physical delay range on both sides.
        frame_s: analysis frame (s) the model was trained on (inference may use others).
    """

    section: ClassVar[str] = "features"

    nfft: int = 512
    hop: int = 256
    fmin_hz: float = 100.0
    fmax_hz: float = 7000.0
    n_lags: int = 31
    lag_margin: float = 0.25
    frame_s: float = 0.17

    def __post_init__(self) -> None:
        if self.nfft < 16 or self.hop < 1 or self.hop > self.nfft:
            raise InputError(f"features: nfft={self.nfft}, hop={self.hop}: need nfft >= 16 and "
                             "1 <= hop <= nfft, e.g. nfft=512 hop=256")
        if self.n_lags < 3:
            raise InputError(f"features.n_lags={self.n_lags}: give at least 3 lags per pair, e.g. 31")
        if self.frame_s <= 0:
            raise InputError("features.frame_s must be positive (seconds), e.g. 0.17")



class GccFrontEnd:
    """Frames → log-spectra and PHAT cross-spectra, plus the lag grid and basis of an array.

    Attributes:
        bins: rfft bin indices used ``[K]``; freqs_hz ``[K]``.
        pairs: ``[P, 2]``; lags: ``[P, L]`` samples; cos, sin: ``[P, K, L]`` float32 basis.
    """

    def __init__(self, array: MicArray, fs: int, cfg: FeatureConfig):
        self.array, self.fs, self.cfg = array, int(fs), cfg
        self.window = hann(cfg.nfft)
        self.bins = band_bins(cfg.nfft, self.fs, cfg.fmin_hz, cfg.fmax_hz)
        self.freqs_hz = self.bins * self.fs / cfg.nfft
        self.pairs = array.pairs()
        self.lags = lag_grid(array, self.fs, cfg.n_lags, cfg.lag_margin)
        ph = 2 * np.pi * self.freqs_hz[None, :, None] / self.fs * self.lags[:, None, :]     # [P, K, L]
        self.cos = np.cos(ph).astype(np.float32)
        self.sin = np.sin(ph).astype(np.float32)
        self.symmetries = array_symmetries(array, self.lags)

    def symmetry_tables(self, n_azimuth: int) -> tuple[np.ndarray, np.ndarray]:
        """``(feat_idx [G, P*L], az_idx [G, n_azimuth])`` of :func:`symmetry_tables` (only the
        rotations that are whole multiples of the azimuth step)."""
        return symmetry_tables(self.usable_symmetries(n_azimuth), len(self.pairs), self.lags.shape[1],
                               n_azimuth)

    def usable_symmetries(self, n_azimuth: int) -> list[Symmetry]:
        """The symmetries whose rotation is a whole number of azimuth bins."""
        return usable_symmetries(self.symmetries, n_azimuth)

    def frame_len(self) -> int:
        return int(round(self.cfg.frame_s * self.fs))

    def stft(self, frames: np.ndarray) -> np.ndarray:
        """``[n, frame_len, mics]`` → ``[n, S, K, mics]`` complex64 (S snapshots from the frame start)."""
        return stft_snapshots(np.asarray(frames, dtype=np.float32), self.cfg.nfft, self.cfg.hop,
                              self.window, self.bins)

    def analyse(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frames → ``(logpow [n, S, K], cr [n, S, K, P], ci [n, S, K, P])`` float32.

        ``logpow`` is ``log10`` of the power averaged over mics (floored at :data:`LOG_FLOOR`);
        ``cr + i ci`` the PHAT cross-spectra of the pairs.
        """
        X = self.stft(frames)
        return log_power(X), *phat_cross(X, self.pairs)


def lag_grid(array: MicArray, fs: int, n_lags: int, margin: float = 0.25) -> np.ndarray:
    """Per-pair lag grids (samples), ``[pairs, n_lags]``: ``n_lags`` evenly spaced points over
    ``±(d_ij / c · fs + margin)`` (sign as ``tau_ij``)."""
    reach = array.max_delay_s() * fs + margin                                       # [P]
    return (np.linspace(-1.0, 1.0, n_lags)[None, :] * reach[:, None]).astype(np.float64)


def log_power(X: np.ndarray) -> np.ndarray:
    """``[..., mics]`` complex → ``log10(mean_mics |X|^2)`` float32, floored at :data:`LOG_FLOOR`."""
    p = np.mean(X.real ** 2 + X.imag ** 2, axis=-1)
    return np.log10(np.maximum(p, LOG_FLOOR)).astype(np.float32)


def phat_cross(X: np.ndarray, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PHAT cross-spectra ``X_i* X_j / |X_i* X_j|`` of every pair: ``[..., mics]`` → real, imag
    ``[..., pairs]`` float32 (bins with zero magnitude give 0)."""
    C = np.conj(X[..., pairs[:, 0]]) * X[..., pairs[:, 1]]
    mag = np.abs(C)
    C = np.where(mag > 0, C / np.maximum(mag, 1e-30), 0)
    return C.real.astype(np.float32), C.imag.astype(np.float32)


def gcc_features_np(cr: np.ndarray, ci: np.ndarray, mask: np.ndarray | None, cos: np.ndarray,
                    sin: np.ndarray) -> np.ndarray:
    """Masked GCC ``R`` (module docstring) in numpy.

    Args:
        cr, ci: ``[n, S, K, P]``. mask: ``[n, S, K]`` in [0, 1] or None (all ones).
        cos, sin: ``[P, K, L]`` from :class:`GccFrontEnd`.

    Returns:
        ``[n, P, L]`` float32 in [-1, 1].
    """
    w = np.ones(cr.shape[:3], np.float32) if mask is None else mask.astype(np.float32)
    fr = np.einsum("nsk,nskp->npk", w, cr)
    fi = np.einsum("nsk,nskp->npk", w, ci)
    r = np.einsum("npk,pkl->npl", fr, cos) - np.einsum("npk,pkl->npl", fi, sin)
    return (r / np.maximum(w.sum(axis=(1, 2)), 1e-6)[:, None, None]).astype(np.float32)


def gcc_features_torch(cr, ci, mask, cos, sin):
    """Torch twin of :func:`gcc_features_np` (differentiable in ``mask``); tensors as there,
    ``mask`` may be None. Returns ``[n, P, L]``."""
    import torch

    if mask is None:
        fr, fi = cr.sum(1), ci.sum(1)                                               # [n, K, P]
        norm = torch.full((cr.shape[0],), float(cr.shape[1] * cr.shape[2]), device=cr.device)
    else:
        fr = torch.einsum("nsk,nskp->nkp", mask, cr)
        fi = torch.einsum("nsk,nskp->nkp", mask, ci)
        norm = mask.sum(dim=(1, 2))
    r = torch.einsum("nkp,pkl->npl", fr, cos) - torch.einsum("nkp,pkl->npl", fi, sin)
    return r / norm.clamp_min(1e-6)[:, None, None]
