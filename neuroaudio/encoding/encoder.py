"""The streaming RF-PLC encoder: audio ``[samples, mics]`` → ITD spike patterns (conventions.md).

Pipeline per time step (``frame_s / steps`` long, 42.5 ms by default):

1. silent stage (:mod:`.silent_stage`): each mic's bank of ``n_neurons`` RF neurons integrates
   the step from rest (exact, one FFT per mic);
2. activity (:mod:`.phase_lock`): ERB bands (:mod:`.cochlear`) and neurons that are loud enough;
3. spike stage (:mod:`.phase_lock`): one spike per cycle at the locked phase π/2;
4. coincidence (:mod:`.coincidence`): per pair, band and delay, how many of the band's neurons
   coincide at that delay;
5. framing (:mod:`.framing`): T consecutive steps per frame, a frame every ``hop``.

Every stage carries its state (partial step, pending steps), so :meth:`RFPLCEncoder.push` on
blocks of any size returns the same frames as :meth:`RFPLCEncoder.encode` on the whole signal.
Steps do not share neuron state (each silent stage starts from rest), so a frame depends only
on its own samples: the ``rf-plc`` localizer encodes audio frames directly and gets the same
maps as the streaming encoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..arrays import MicArray, load_array
from ..errors import InputError
from .cochlear import assign_neurons, band_centres_hz, erb_band_edges
from .coincidence import coincidence_counts, detector_delays
from .config import RFPLCConfig
from .framing import StepBuffer, StepFramer
from .phase_lock import activity, phase_locked_spikes
from .silent_stage import step_states

STEP_BATCH = 32
"""Steps processed together (bounds the temporary arrays' memory)."""


@dataclass
class StepOutput:
    """Per-step results of a batch of consecutive steps.

    Attributes:
        coincidence: ``[steps, pairs, delays, bands]`` int16.
        spike_offset: ``[steps, mics, neurons]`` float32 first-spike time after the step's last
            sample (samples; NaN = silent neuron).
        n_spikes: ``[steps, mics, neurons]`` int32.
        band_active: ``[steps, mics, bands]`` bool.
    """

    coincidence: np.ndarray
    spike_offset: np.ndarray
    n_spikes: np.ndarray
    band_active: np.ndarray

    FIELDS = ("coincidence", "spike_offset", "n_spikes", "band_active")


@dataclass
class EncoderOutput:
    """Everything one encoding run produced (see :meth:`to_npz_dict` for the file layout)."""

    coincidence: np.ndarray
    delays_samples: np.ndarray
    pairs: np.ndarray
    band_hz: np.ndarray
    fs: int
    frame_s: float
    hop_s: float
    step_s: float
    neuron_hz: np.ndarray
    neuron_band: np.ndarray
    steps: list[StepOutput] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    def to_npz_dict(self, spikes: bool = True) -> dict[str, np.ndarray]:
        """Arrays for the npz file: the conventions.md keys plus extras.

        Extras: ``frame_t_s`` [frames] frame start (s); ``step_s``; ``neuron_hz``/``neuron_band``
        [neurons]; and with ``spikes``: ``spike_offset_samples`` [steps, mics, neurons] (float32,
        NaN = silent), ``n_spikes`` [steps, mics, neurons], ``band_active`` [steps, mics, bands],
        from which every spike time is ``(s+1)·step_len − 1 + offset + a·fs/neuron_hz``, a < n.
        """
        d = {"coincidence": self.coincidence, "delays_samples": self.delays_samples,
             "pairs": self.pairs, "band_hz": self.band_hz, "fs": np.int64(self.fs),
             "frame_s": np.float64(self.frame_s), "hop_s": np.float64(self.hop_s),
             "step_s": np.float64(self.step_s), "neuron_hz": self.neuron_hz,
             "neuron_band": self.neuron_band,
             "frame_t_s": np.arange(len(self.coincidence)) * self.hop_s}
        if spikes and self.steps:
            d["spike_offset_samples"] = np.concatenate([s.spike_offset for s in self.steps])
            d["n_spikes"] = np.concatenate([s.n_spikes for s in self.steps])
            d["band_active"] = np.concatenate([s.band_active for s in self.steps])
        return d

    def save(self, path: str | Path, spikes: bool = True) -> None:
        """Write the npz atomically."""
        from ..io_utils import atomic_path

        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **self.to_npz_dict(spikes))


class RFPLCEncoder:
    """Streaming RF-PLC spike encoder for one microphone array.

    Args:
        array: MicArray, built-in name or JSON path.
        config: :class:`RFPLCConfig` (paper defaults if None).
        fs: sample rate (Hz); default the array's.

    Attributes (fixed after construction): ``pairs`` [pairs, 2], ``delays_samples`` [delays],
    ``band_hz`` [bands], ``neuron_hz`` [neurons], ``neuron_band`` [neurons] (−1 = in no band),
    ``step_len``, ``frame_len``, ``hop`` (samples).
    """

    def __init__(self, array: MicArray | str, config: RFPLCConfig | None = None, fs: int | None = None):
        self.array = load_array(array)
        self.fs = int(fs or self.array.fs)
        self.config = (config or RFPLCConfig()).validate(self.fs)
        c = self.config
        self.step_len = c.step_samples(self.fs)
        self.frame_len = c.frame_samples(self.fs)
        self.hop = c.hop_samples(self.fs)
        self.decay = c.decay(self.fs)
        self.pairs = self.array.pairs()
        self.delays_samples = detector_delays(self.array, self.fs, c.n_delays, c.timing, c.max_delay_s)
        self.neuron_hz = np.arange(c.n_neurons) * self.fs / (2.0 * c.n_neurons)
        edges = erb_band_edges(c.n_bands, c.f_min_hz, c.f_max_hz or self.fs / 2)
        self.band_edges_hz = edges
        self.band_hz = band_centres_hz(edges)
        self.neuron_band = assign_neurons(self.neuron_hz, edges)
        self.omega = 2 * np.pi * self.neuron_hz / self.fs                 # rad/sample
        with np.errstate(divide="ignore"):
            self.period = np.where(self.omega > 0, 2 * np.pi / np.maximum(self.omega, 1e-30), np.inf)
        self._steps = StepBuffer(self.step_len, self.array.n_mics)
        self._framer = StepFramer(c.steps, self.hop // self.step_len)

    # --- per step -------------------------------------------------------------------------
    def encode_steps(self, steps: np.ndarray) -> StepOutput:
        """Encode complete steps ``[n, step_len, mics]`` (independent of each other)."""
        outs = []
        for s in range(0, max(len(steps), 1), STEP_BATCH):
            outs.append(self._encode_batch(steps[s:s + STEP_BATCH]))
        if len(outs) == 1:
            return outs[0]
        return StepOutput(*(np.concatenate([getattr(o, k) for o in outs]) for k in StepOutput.FIELDS))

    def _encode_batch(self, steps: np.ndarray) -> StepOutput:
        c = self.config
        z = step_states(steps, c.n_neurons, self.decay)
        active, band_active, _ = activity(z, self.neuron_band, c.n_bands, self.step_len,
                                          c.band_range_db, c.min_band_dbfs, c.neuron_rel_db)
        if c.locking == "band":     # the alternative: one train per band (config docstring)
            inband = self.neuron_band >= 0
            onehot = np.eye(c.n_bands)[self.neuron_band[inband]]              # [K', B]
            zb = z[..., inband] @ onehot                                      # band-summed state
            omega_c = 2 * np.pi * self.band_hz / self.fs
            offset, n = phase_locked_spikes(zb, omega_c, band_active, self.step_len)
            coinc = coincidence_counts(offset, n, 2 * np.pi / omega_c, np.arange(c.n_bands),
                                       c.n_bands, self.pairs, self.delays_samples, c.timing)
            return StepOutput(coinc, offset.astype(np.float32), n, band_active)
        offset, n = phase_locked_spikes(z, self.omega, active, self.step_len)
        coinc = coincidence_counts(offset, n, self.period, self.neuron_band, c.n_bands, self.pairs,
                                   self.delays_samples, c.timing)
        return StepOutput(coinc, offset.astype(np.float32), n, band_active)

    def encode_frames(self, frames: np.ndarray) -> np.ndarray:
        """Audio frames ``[n, frame_len, mics]`` → ``[n, T, pairs, delays, bands]`` (independent)."""
        n = len(frames)
        steps = frames.reshape(n * self.config.steps, self.step_len, frames.shape[2])
        coinc = self.encode_steps(steps).coincidence
        return coinc.reshape(n, self.config.steps, *coinc.shape[1:])

    # --- streaming ------------------------------------------------------------------------
    def reset(self) -> None:
        self._steps.reset()
        self._framer.reset()

    def push(self, block: np.ndarray) -> tuple[np.ndarray, StepOutput]:
        """Feed ``[samples, mics]``; return (frames completed ``[n, T, pairs, delays, bands]``,
        the steps completed by this block)."""
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[1] != self.array.n_mics:
            raise InputError(f"block of shape {list(block.shape)}: expected [samples, {self.array.n_mics}] "
                             f"for array {self.array.name}")
        steps = self._steps.push(block)
        out = self.encode_steps(steps)
        return self._framer.push(out.coincidence), out

    def output(self, frames: list[np.ndarray], steps: list[StepOutput]) -> EncoderOutput:
        """Assemble pushed results into an :class:`EncoderOutput`."""
        shape = (0, self.config.steps, len(self.pairs), len(self.delays_samples), self.config.n_bands)
        coinc = np.concatenate(frames) if frames else np.zeros(shape, np.int16)
        return EncoderOutput(coinc, self.delays_samples, self.pairs, self.band_hz, self.fs,
                             self.frame_len / self.fs, self.hop / self.fs, self.step_len / self.fs,
                             self.neuron_hz, self.neuron_band, steps, self.config.to_dict())

    def encode(self, x: np.ndarray | list[np.ndarray], keep_spikes: bool = True) -> EncoderOutput:
        """Encode a whole signal ``[samples, mics]`` (or an iterable of blocks) from scratch."""
        self.reset()
        blocks = [x] if isinstance(x, np.ndarray) else x
        frames, steps = [], []
        for b in blocks:
            f, s = self.push(b)
            frames.append(f)
            if keep_spikes and len(s.coincidence):
                steps.append(s)
        return self.output(frames, steps)
