"""GCC-PHAT per microphone pair, fused over all pairs onto the azimuth grid.

Per frame and ordered pair (i, j) (``tau_ij = t_j - t_i``, conventions.md):

    C_ij(f) = conj(X_i(f)) X_j(f) / |conj(X_i(f)) X_j(f)|                (PHAT)
    R_ij(tau) = (1/K) sum_{f in band} w(f) Re( C_ij(f) exp(+j 2 pi f tau) )  (peaks at tau_ij)

Choices (measured on simulated reverberant speech scenes, see docs/localize.md):

- Band 200-7000 Hz and speech-presence bin weights ``w(f)``, as srp-phat
  (:mod:`~neuroaudio.localize.phat`).
- Spectrum: one Hann-windowed rfft of the whole frame (0.17 s), only the bins in
  ``[fmin_hz, fmax_hz]``. No zero padding: the correlation is evaluated only at lags of a few
  samples, where the circular wrap of a frame-length FFT touches nothing but the window's
  tapered ends (zero padding to 4096 points gave the same estimates at 1.5 times the cost).
- Lag resolution: ``R_ij`` is evaluated directly (a real matrix product with a precomputed
  cos/sin basis) on a fine lag grid of ``1/interp`` samples covering only the physically possible
  lags ``|tau| <= d_ij / c`` (+1 sample). That is the band-limited interpolation an
  ``interp``-times zero-padded inverse FFT would give, at a fraction of the cost on small arrays.
  Adjacent bins are summed in small groups first (their phase at these short lags differs by
  under :data:`MAX_GROUP_PHASE_RAD`), which cuts the product's size by the group size (8 on the
  ReSpeaker) without changing ``R``.
- Per-pair TDOA (:meth:`GccPhat.pair_tdoas_s`): the largest value of ``R_ij`` inside the physical
  range, refined by parabolic (3-point) interpolation around it on the fine grid.
- Fusion onto the azimuth grid (``fusion="gcc"``, default): the spatial spectrum of direction
  ``a`` is ``sum_pairs R_ij(tau_ij(a))``, each pair's GCC linearly interpolated (on the fine grid)
  at that direction's far-field TDOA. All pairs vote with their whole correlation curve, so a pair
  whose peak is spurious still adds evidence near the truth. The alternative ``fusion="tdoa"``
  places a Gaussian (``sigma_samples``) around each pair's interpolated peak TDOA, weighted by the
  peak height, and sums those; it is faster to go wrong when one pair's peak jumps in
  reverberation (measured in docs/localize.md).
"""

from __future__ import annotations

import numpy as np

from ..arrays import MicArray
from ..errors import InputError
from ..spectra import band_bins, frame_rfft, hann
from .phat import PhatLocalizer

MAX_GROUP_PHASE_RAD = 0.1
"""Largest phase drift (rad) allowed inside a group of summed bins at the largest lag."""


class GccPhat(PhatLocalizer):
    """GCC-PHAT per pair with sub-sample lag interpolation, fused over pairs (module docstring).

    Args:
        array: the microphone array.
        interp: lag grid refinement (lags every ``1/interp`` samples).
        fusion: ``"gcc"`` (sum of each pair's GCC at the direction's TDOA) or ``"tdoa"`` (Gaussian
            votes around each pair's interpolated peak).
        sigma_samples: width of the ``"tdoa"`` votes (samples).
        phat_beta: whitening exponent, ``C / |C|^phat_beta`` (1: PHAT). Below 1 louder bins keep
            part of their weight (evidence pooled by energy inside the frame); measured in
            docs/localize.md ("Pooling"), not the default yet.
        tf_histogram: the frame's spatial spectrum is a histogram of time-frequency-bin
            directions instead of the pairs' summed correlations (:meth:`tf_histogram_spectrum`);
            None (the default): on with several sources (``sources`` other than 1), off for one.
            Measured with ``python -m benchmarks.multi_bench`` (docs/localize.md, "Several
            sources"): every talker within 10 deg in 85 % -> 100 % of two-talker and 85 % ->
            100 % of three-talker clips, moving-talker OSPA 6.9 -> 3.8 deg; the same on scenes of
            another seed (100/65 % -> 100/100 %).
        tf_fmax_hz: highest frequency (Hz) of the bins that vote in ``tf_histogram`` (above it
            the 4-mic array's per-bin directions alias).
        tf_min_fit: a bin votes only when its best direction explains at least this fraction of
            its phase differences (1: all pairs agree exactly), i.e. one source dominates it.
        tf_sigma_deg: width (deg) of each bin's vote (a wrapped Gaussian).
        **options: the band, bin-weighting and coherence options of :class:`PhatLocalizer`
            (``coherence_power``: ``|mean of a bin group|``), and the frame, hop, grid and
            activity options of :class:`~neuroaudio.localize.base.Localizer`.
    """

    name = "gcc-phat"
    summary = ("GCC-PHAT per mic pair (whole-frame FFT, speech-presence bin weights, 1/16-sample "
               "lags), pairs' correlations summed at each direction's TDOA")

    def __init__(self, array: MicArray | str, *, interp: int = 16, fusion: str = "gcc",
                 sigma_samples: float = 0.3, phat_beta: float = 1.0, tf_histogram: bool | None = None,
                 tf_fmax_hz: float = 4000.0, tf_min_fit: float = 0.7, tf_sigma_deg: float = 2.0,
                 **options):
        super().__init__(array, **options)
        self.tf_histogram = self.multi if tf_histogram is None else bool(tf_histogram)
        if not 0 <= tf_min_fit < 1 or tf_sigma_deg <= 0 or tf_fmax_hz <= 0:
            raise InputError("tf_min_fit must be in [0, 1), tf_sigma_deg and tf_fmax_hz positive")
        self.tf_fmax_hz, self.tf_min_fit = float(tf_fmax_hz), float(tf_min_fit)
        self.tf_sigma_deg = float(tf_sigma_deg)
        self.phat_beta = float(phat_beta)
        if fusion not in ("gcc", "tdoa"):
            raise InputError(f"fusion '{fusion}': choose 'gcc' or 'tdoa'")
        if interp < 1:
            raise InputError("interp must be a positive whole number (lags per sample)")
        self.fusion, self.interp, self.sigma = fusion, int(interp), float(sigma_samples)
        self.nfft = self.frame_len + self.frame_len % 2     # no zero padding needed (below)
        self.window = hann(self.frame_len)
        self.bins = band_bins(self.nfft, self.fs, self.fmin_hz, self.fmax_hz)
        # physical lag range (samples) per pair, and the fine lag grid covering the largest
        self.max_lag = self.array.max_delay_s() * self.fs
        reach = float(np.ceil(self.max_lag.max())) + 1.0
        self.lags = np.arange(-reach * self.interp, reach * self.interp + 1) / self.interp
        # Adjacent bins are summed in groups of g before the lag transform: over |lag| <= reach
        # the phase of exp(j 2 pi f lag) moves by at most 2 pi g reach / nfft inside a group,
        # kept under MAX_GROUP_PHASE_RAD, so R is unchanged to ~1e-3 at g-times less cost.
        self.group = max(1, int(MAX_GROUP_PHASE_RAD * self.nfft / (2 * np.pi * reach)))
        k = len(self.bins) // self.group * self.group
        if k == 0:
            self.group, k = 1, len(self.bins)
        self.bins = self.bins[:k]
        freqs = (self.bins * self.fs / self.nfft).reshape(-1, self.group).mean(axis=1)
        phase = 2 * np.pi * freqs[:, None] / self.fs * self.lags[None, :]          # [G, L]
        self.basis = np.concatenate([np.cos(phase), -np.sin(phase)], axis=0).astype(np.float32) / k
        # each grid direction's TDOA per pair, as a position on the fine lag grid
        tau = self.array.tdoa_s(self.grid_deg) * self.fs                            # [n_az, P]
        pos = (tau - self.lags[0]) * self.interp
        self._i0 = np.clip(np.floor(pos).astype(np.int64), 0, len(self.lags) - 2)
        self._w1 = (pos - self._i0).astype(np.float32)
        self._tau_grid = tau.astype(np.float32)
        self._pair_idx = np.arange(len(self.pairs))[None, :]
        # peak search range: the physical lags plus one fine step (the peak of a source at the
        # end-fire may sit just outside on the grid); the interpolated TDOA is clipped after
        self._in_range = np.abs(self.lags)[None, :] <= self.max_lag[:, None] + 1.01 / self.interp
        if self.tf_histogram:       # per-bin steering: Re(C e^{+j 2 pi f tau(a)}) as a real product
            f_tf = self.bins * self.fs / self.nfft
            self._tf_keep = np.flatnonzero(f_tf <= self.tf_fmax_hz)                 # of the bins
            th = 2 * np.pi * f_tf[self._tf_keep, None, None] * self._tau_grid.T[None] / self.fs
            self._tf_basis = np.concatenate([np.cos(th), -np.sin(th)], axis=1).astype(np.float32)
            step = float(self.grid_deg[1] - self.grid_deg[0]) if len(self.grid_deg) > 1 else 1.0
            self._tf_sigma_bins = self.tf_sigma_deg / step                          # [K', 2P, az]

    # --- per-pair correlation ------------------------------------------------------------
    def gcc(self, frames: np.ndarray, update_noise: bool = True) -> np.ndarray:
        """GCC-PHAT of every pair on the fine lag grid :attr:`lags` (samples).

        Args:
            frames: ``[n, frame_len, mics]``.

        Returns:
            ``[n, pairs, lags]`` float32, in [-1, 1].
        """
        X = frame_rfft(frames, self.window, self.nfft, self.bins)                   # [n, K, M]
        C = np.conj(X[:, :, self.pairs[:, 0]]) * X[:, :, self.pairs[:, 1]]          # [n, K, P]
        mag = np.maximum(np.abs(C), 1e-20)
        if self.phat_beta == 1.0:
            C /= mag
        else:      # partial whitening: louder bins keep |C|^(1 - beta) of their weight
            C /= mag ** self.phat_beta
            C /= np.maximum(np.mean(np.abs(C), axis=1, keepdims=True), 1e-20)
        C = np.moveaxis(C, 1, 2)                                                    # [n, P, K]
        C = C.reshape(C.shape[0], C.shape[1], -1, self.group).sum(axis=3)           # [n, P, G]
        if self.tracker is not None and update_noise:
            power = np.mean(np.abs(X) ** 2, axis=2)                                 # [n, K]
            power = power.reshape(len(power), -1, self.group).mean(axis=2)          # [n, G]
            C = C * self.tracker.weights(power)[:, None, :]
        if self.coherence_power:      # |group mean| = phase consistency over adjacent bins
            C = C * (np.abs(C) / self.group) ** self.coherence_power
        ri = np.concatenate([C.real, C.imag], axis=2)                               # [n, P, 2G]
        return ri @ self.basis                                                      # [n, P, L]

    def pair_tdoas_s(self, frames: np.ndarray) -> np.ndarray:
        """Each pair's TDOA ``tau_ij`` (s) per frame, peak-picked with parabolic interpolation.

        Args:
            frames: ``[n, frame_len, mics]``.

        Returns:
            ``[n, pairs]`` seconds, within each pair's physical range.
        """
        return self._peak_lags(self.gcc(frames, update_noise=False)) / self.fs

    def _peak_lags(self, r: np.ndarray) -> np.ndarray:
        """Interpolated peak lag (samples) of each pair's GCC ``[n, P, L]`` → ``[n, P]``."""
        masked = np.where(self._in_range[None], r, -np.inf)
        k = np.clip(np.argmax(masked, axis=2), 1, len(self.lags) - 2)               # [n, P]
        y0, y1, y2 = (np.take_along_axis(r, (k + d)[..., None], axis=2)[..., 0] for d in (-1, 0, 1))
        den = y0 - 2 * y1 + y2
        delta = np.where(np.abs(den) > 1e-12, 0.5 * (y0 - y2) / np.where(den == 0, 1, den), 0.0)
        tau = self.lags[k] + np.clip(delta, -0.5, 0.5) / self.interp
        return np.clip(tau, -self.max_lag, self.max_lag)

    # --- Localizer ------------------------------------------------------------------------
    def calibration_settings(self) -> dict:
        """The base settings, plus ``tf_histogram`` when on (its confidences are not those of
        the correlation sum: no fitted map applies)."""
        d = super().calibration_settings()
        if self.tf_histogram:
            d["tf_histogram"] = True
        return d

    def tf_histogram_spectrum(self, frames: np.ndarray, chunk: int = 8) -> np.ndarray:
        """Per time-frequency-bin DOA histogram of each frame ``[n, frame_len, mics]`` → ``[n, az]``.

        Each bin ``f`` of the frame's spectrum (``fmin_hz..tf_fmax_hz``) fits every direction
        ``a`` by how well its PHAT cross-spectra's phases match the direction's delays,
        ``fit(f, a) = mean_pairs Re(C_ij(f) exp(+j 2 pi f tau_ij(a)))`` in [-1, 1], and votes
        for its best direction with its speech-presence weight when ``max_a fit >= tf_min_fit``
        (the bin is dominated by one source). Talkers speaking at once rarely fill the same bin
        (speech is sparse in time-frequency), so each talker wins its own bins and gets its own
        narrow peak, even a talker too weak to be the summed correlation's second lobe and more
        talkers than a 4-mic subspace method resolves. The votes are spread by a wrapped
        Gaussian of ``tf_sigma_deg``. Cost: one ``[K', n, 2P] @ [K', 2P, az]`` product per frame
        chunk.
        """
        from scipy.ndimage import gaussian_filter1d

        X = frame_rfft(frames, self.window, self.nfft, self.bins)                   # [n, K, M]
        n, n_az = len(frames), len(self.grid_deg)
        w = np.ones((n, X.shape[1]), np.float32)
        if self.tracker is not None:                  # the same bin groups as gcc()'s noise state
            power = np.mean(np.abs(X) ** 2, axis=2).reshape(n, -1, self.group).mean(axis=2)
            w = np.repeat(self.tracker.weights(power), self.group, axis=1)
        X, w = X[:, self._tf_keep], w[:, self._tf_keep]
        C = np.conj(X[:, :, self.pairs[:, 0]]) * X[:, :, self.pairs[:, 1]]          # [n, K', P]
        C /= np.maximum(np.abs(C), 1e-20)
        n_p = C.shape[2]
        hist = np.zeros((n, n_az))
        for i in range(0, n, chunk):
            c = C[i:i + chunk]
            ri = np.concatenate([c.real, c.imag], axis=2).transpose(1, 0, 2)        # [K', c, 2P]
            fit = np.matmul(ri.astype(np.float32), self._tf_basis)                  # [K', c, az]
            best = np.argmax(fit, axis=2)                                           # [K', c]
            q = np.take_along_axis(fit, best[..., None], axis=2)[..., 0] / n_p
            v = np.where(q >= self.tf_min_fit, w[i:i + chunk].T, 0.0)              # [K', c]
            rows = np.broadcast_to(np.arange(len(c))[None, :], best.shape)
            np.add.at(hist[i:i + chunk], (rows.ravel(), best.ravel()), v.ravel())
        return gaussian_filter1d(hist, self._tf_sigma_bins, axis=1, mode="wrap")

    def frames_spectrum(self, frames: np.ndarray) -> np.ndarray:
        if self.tf_histogram:
            return self.tf_histogram_spectrum(frames)
        if self.fusion == "tdoa":
            r = self.gcc(frames)
            tau = self._peak_lags(r)                                                # [n, P]
            peak = np.clip(np.where(self._in_range[None], r, -np.inf).max(axis=2), 0, None)
            d = (self._tau_grid[None] - tau[:, None, :]) / self.sigma               # [n, az, P]
            return np.sum(peak[:, None, :] * np.exp(-0.5 * d * d), axis=2)
        r = self.gcc(frames)                                                        # [n, P, L]
        r0 = r[:, self._pair_idx, self._i0]                                         # [n, az, P]
        r1 = r[:, self._pair_idx, self._i0 + 1]
        return np.sum(r0 + self._w1[None] * (r1 - r0), axis=2)

