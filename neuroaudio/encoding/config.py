"""RF-PLC encoder parameters (defaults = the paper's: 512 neurons, 40 bands, 51 delays, 170 ms, T=4)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import InputError

TIMINGS = ("subsample", "sample")
LOCKINGS = ("neuron", "band")


@dataclass(frozen=True)
class RFPLCConfig:
    """Parameters of the RF-PLC encoder.

    Attributes:
        n_neurons: RF neurons per mic, on the DFT-bin frequencies ``k·fs/(2 n_neurons)`` over
            [0, fs/2) (the paper: 512 over 0–8 kHz).
        n_bands: cochlear bands (ERB-spaced) the neurons are grouped into (paper: 40).
        f_min_hz: lower edge of the lowest band (Hz); neurons below it do not spike.
        f_max_hz: upper edge of the highest band (Hz); None = fs/2.
        frame_s: frame length (s) (paper: 0.17).
        steps: time steps T per frame (paper: 4); each step is ``frame_s / steps`` long.
        hop_s: hop between frames (s); a whole number of steps. None = half a frame.
        decay_s: damping time constant of the resonators (s), λ = exp(−1/(decay_s·fs));
            None = undamped (λ = 1): each step's silent stage is then an exact DFT of the step.
        n_delays: coincidence detectors per pair and band (paper: 51), evenly spanning
            ±(largest pair distance / c) — used with ``timing="subsample"``.
        max_delay_s: half-width of the detector range (s); None = from the array's aperture.
        timing: "subsample" (spike times from the resonator's phase, continuous) or "sample"
            (spike times on the sample clock; detectors on integer lags −D…D, D = ceil(max)).
        band_range_db: a band is active when its power is within this many dB of the step's
            loudest band on that mic ...
        min_band_dbfs: ... and above this absolute power (dB re full scale, share of the
            step's mean square in the band).
        neuron_rel_db: within an active band, a neuron spikes when its energy |z|² is at least
            the band's mean neuron energy + this many dB (0 dB: the stronger components).
        locking: "neuron" (default: every RF neuron phase-locks at its own frequency and the
            band's detectors pool its neurons) or "band" (the alternative, for comparison: one
            spike train per band, phase-locked to the band-summed state Σ_k z_k rotating at the
            band centre frequency; the spike arrays are then per band, not per neuron).
    """

    n_neurons: int = 512
    n_bands: int = 40
    f_min_hz: float = 50.0
    f_max_hz: float | None = None
    frame_s: float = 0.17
    steps: int = 4
    hop_s: float | None = None
    decay_s: float | None = None
    n_delays: int = 51
    max_delay_s: float | None = None
    timing: str = "subsample"
    band_range_db: float = 30.0
    min_band_dbfs: float = -100.0
    neuron_rel_db: float = 0.0
    locking: str = "neuron"

    def validate(self, fs: int) -> RFPLCConfig:
        """Check the fields against the rate ``fs`` (Hz); raise InputError naming the fix."""
        if self.n_neurons < 8:
            raise InputError(f"n_neurons={self.n_neurons}: use at least 8 RF neurons (paper: 512)")
        if self.n_bands < 1 or self.n_bands > self.n_neurons:
            raise InputError(f"n_bands={self.n_bands}: use 1..n_neurons bands (paper: 40)")
        if self.steps < 1:
            raise InputError(f"steps={self.steps}: use at least 1 time step per frame (paper: 4)")
        if self.frame_s <= 0:
            raise InputError(f"frame_s={self.frame_s}: the frame must be positive (paper: 0.17 s)")
        frame_len = self.frame_s * fs
        if abs(frame_len - round(frame_len)) > 1e-6 or round(frame_len) % self.steps:
            raise InputError(f"frame_s={self.frame_s} at {fs} Hz is {frame_len:g} samples, not a "
                             f"whole multiple of steps={self.steps}; pick frame_s so that "
                             "frame_s·fs/steps is a whole number of samples")
        step = round(frame_len) // self.steps
        hop = self.hop_samples(fs)
        if hop <= 0 or hop % step:
            raise InputError(f"hop_s={self.hop_s}: the hop must be a positive whole number of steps "
                             f"({step / fs:g} s each)")
        if self.timing not in TIMINGS:
            raise InputError(f"timing='{self.timing}': use one of {', '.join(TIMINGS)}")
        if self.locking not in LOCKINGS:
            raise InputError(f"locking='{self.locking}': use one of {', '.join(LOCKINGS)}")
        if self.n_delays < 2:
            raise InputError(f"n_delays={self.n_delays}: use at least 2 detectors (paper: 51)")
        if self.decay_s is not None and self.decay_s <= 0:
            raise InputError(f"decay_s={self.decay_s}: give a positive time constant or None (undamped)")
        fmax = self.f_max_hz or fs / 2
        if not 0 <= self.f_min_hz < fmax <= fs / 2:
            raise InputError(f"bands {self.f_min_hz}–{fmax} Hz: need 0 <= f_min_hz < f_max_hz <= fs/2 "
                             f"({fs / 2:g} Hz)")
        return self

    def step_samples(self, fs: int) -> int:
        """Samples per time step."""
        return int(round(self.frame_s * fs)) // self.steps

    def frame_samples(self, fs: int) -> int:
        return self.step_samples(fs) * self.steps

    def hop_samples(self, fs: int) -> int:
        hop_s = self.frame_s / 2 if self.hop_s is None else self.hop_s
        return int(round(hop_s * fs))

    def decay(self, fs: int) -> float:
        """λ per sample."""
        return 1.0 if self.decay_s is None else math.exp(-1.0 / (self.decay_s * fs))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
