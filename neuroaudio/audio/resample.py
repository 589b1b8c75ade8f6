"""Streaming polyphase resampling that equals ``scipy.signal.resample_poly`` on the whole signal."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np


class StreamingResampler:
    """Resample blocks of a multichannel stream from ``fs_in`` to ``fs_out`` (Hz).

    Feeding a signal in blocks of any size through :meth:`push` and then :meth:`flush` gives the
    same samples (to float rounding) as ``resample_poly(x, up, down, axis=0)`` on the whole
    signal, because each output sample is computed only once all the input samples under its
    filter are known. The output lags the input by about ``10 * max(up, down) / up`` input
    samples (the filter's half length), which :meth:`flush` releases at the end.

    Blocks have shape ``[samples, channels]``.
    """

    def __init__(self, fs_in: int, fs_out: int, channels: int):
        ratio = Fraction(int(fs_out), int(fs_in))
        self.up, self.down = ratio.numerator, ratio.denominator
        self.channels = channels
        # resample_poly's default filter has half length 10*max(up, down) upsampled samples.
        self.half_in = math.ceil(10 * max(self.up, self.down) / self.up) + 2
        self._buf = np.zeros((0, channels), dtype=np.float64)
        self._buf_start = 0      # global input index of _buf[0]; always a multiple of `down`
        self._n_in = 0           # input samples seen
        self._n_out = 0          # output samples emitted

    @property
    def identity(self) -> bool:
        return self.up == self.down == 1

    def _resample(self, x: np.ndarray) -> np.ndarray:
        # imported here: scipy.signal costs ~0.5-1 s to import, which a refused file never needs
        from scipy.signal import resample_poly

        return resample_poly(x, self.up, self.down, axis=0)

    def push(self, block: np.ndarray) -> np.ndarray:
        """Add input samples; return the output samples that are now final."""
        if self.identity:
            return block
        self._buf = np.concatenate([self._buf, np.asarray(block, dtype=np.float64)])
        self._n_in += len(block)
        # Output n is final when input index n*down/up + half_in lies inside what we have.
        n_ready = ((self._n_in - self.half_in) * self.up) // self.down
        return self._emit(max(n_ready, self._n_out), final=False)

    def flush(self) -> np.ndarray:
        """Return the remaining output (the signal's end is zero-padded as resample_poly does)."""
        if self.identity:
            return np.zeros((0, self.channels))
        n_total = -(-self._n_in * self.up // self.down)
        return self._emit(n_total, final=True)

    def _emit(self, n_stop: int, final: bool) -> np.ndarray:
        if n_stop <= self._n_out:
            return np.zeros((0, self.channels), dtype=np.float32)
        y = self._resample(self._buf)
        first = self._buf_start * self.up // self.down   # global index of y[0]
        out = y[self._n_out - first: n_stop - first]
        self._n_out = n_stop
        if not final:
            # Drop input no longer under the filter of any future output.
            keep_from = (self._n_out * self.down) // self.up - self.half_in
            keep_from = max(0, keep_from - keep_from % self.down)
            if keep_from > self._buf_start:
                self._buf = self._buf[keep_from - self._buf_start:]
                self._buf_start = keep_from
        return out.astype(np.float32)
