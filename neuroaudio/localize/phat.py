"""What gcc-phat and srp-phat share: the band, speech-presence bin weights and the coherence
weight of phase-transformed cross-spectra.

Both methods whiten each cross-spectrum to unit magnitude (PHAT), so every bin of the band
``fmin_hz..fmax_hz`` votes equally for a direction, and then

- weight each bin by speech presence (``bin_weighting=True``): its power against its own
  causally tracked noise floor (:class:`~neuroaudio.spectra.BinNoiseTracker`), so bins holding
  only noise stop voting. Plain PHAT (``bin_weighting=False``) follows the noise at low SNR:
  MAE over -5..30 dB on simulated reverberant speech 15.7 deg (gcc-phat) and 20.7 deg
  (srp-phat) without, 5.6 and 5.2 deg with (docs/localize.md);
- optionally weight each bin by its phase consistency, ``|C|**coherence_power`` (over adjacent
  bins in gcc-phat, over snapshots in srp-phat; 0, the default, leaves plain PHAT).

The band 200-7000 Hz beat 500-4000, 300-3000, 200-5000 and 200-8000 Hz for both methods
(docs/localize.md).
"""

from __future__ import annotations

from ..arrays import MicArray
from ..spectra import BinNoiseTracker
from .base import Localizer

PHAT_FMIN_HZ = 200.0
"""Lower edge of the band of gcc-phat and srp-phat (Hz)."""
PHAT_FMAX_HZ = 7000.0
"""Upper edge of the band of gcc-phat and srp-phat (Hz)."""


class PhatLocalizer(Localizer):
    """Base of the PHAT methods (module docstring); subclasses compute their cross-spectra over
    the band and weight them with :attr:`tracker` (None: plain PHAT) and :attr:`coherence_power`.

    Args:
        array: the microphone array.
        fmin_hz, fmax_hz: band used (Hz).
        coherence_power: extra weight ``|C|**coherence_power`` on each bin (group), ``|C|`` its
            phase consistency; 0: plain PHAT.
        bin_weighting: speech-presence weights per bin (module docstring); False: plain PHAT.
        noise_over, noise_rise_db_per_s, noise_floor_gain: the bin noise tracker's
            over-subtraction, floor rise rate (dB/s) and smallest weight.
        noise_window_s: the floor is never below the smallest power of this many past seconds
            (0: the floor only rises at ``noise_rise_db_per_s``).
        **options: frame, hop, grid and activity options of :class:`Localizer`.
    """

    def __init__(self, array: MicArray | str, fmin_hz: float = PHAT_FMIN_HZ, fmax_hz: float = PHAT_FMAX_HZ,
                 coherence_power: float = 0.0, bin_weighting: bool = True, noise_over: float = 2.0,
                 noise_rise_db_per_s: float = 3.0, noise_floor_gain: float = 0.0,
                 noise_window_s: float = 2.0, **options):
        super().__init__(array, **options)
        self.fmin_hz, self.fmax_hz = fmin_hz, fmax_hz
        self.coherence_power = float(coherence_power)
        self.tracker = (BinNoiseTracker(self.hop / self.fs, noise_rise_db_per_s, noise_over,
                                        noise_floor_gain, window_s=noise_window_s)
                        if bin_weighting else None)
        self.pairs = self.array.pairs()

    def reset_method_state(self) -> None:
        if getattr(self, "tracker", None) is not None:
            self.tracker.reset()
