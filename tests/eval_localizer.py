"""A tiny test-only Localizer for the evaluate tests (registered as the entry points ``tiny-srp``
and ``broken-test`` of a test distribution: tests/conftest.py, fixture ``test_localizers``).

``TinySrp``: steered response power with PHAT weighting, brute force over the azimuth grid,
vectorised over frames. Enough to localize free-field plane waves within a degree or two, so the
evaluate tests do not depend on the real methods.

Test hooks (environment variables, read at each call):
- ``NEUROAUDIO_TEST_COUNTER``: a file to which each finished localization appends one line
  (counts how many rows were really computed).
- ``NEUROAUDIO_TEST_SLOW_S``: sleep this long in ``finish`` (to interrupt a run mid-way).
- ``NEUROAUDIO_TEST_GATE``: a file; ``finish`` waits until it exists (to hold a run mid-way).
"""

from __future__ import annotations

import os
import time

import numpy as np

from neuroaudio.localize.base import LocalizationResult, Localizer


class TinySrp(Localizer):
    name = "tiny-srp"
    summary = "test-only brute-force SRP-PHAT"

    def __init__(self, array, **kw):
        super().__init__(array, **kw)
        n = self.frame_len
        f = np.fft.rfftfreq(n, 1.0 / self.fs)
        self._bins = np.flatnonzero((f > 200) & (f < 4000))[::2]   # a subset keeps tests fast
        self._f = f[self._bins]
        # arrival times of each grid direction at each mic: [n_az, mics]
        t = np.stack([self.array.arrival_times_s(a, 0.0) for a in self.grid_deg])
        self._steer = np.exp(2j * np.pi * self._f[None, :, None] * t[:, None, :])  # [az, f, mics]

    def frames_spectrum(self, frames: np.ndarray) -> np.ndarray:
        X = np.fft.rfft(frames * np.hanning(frames.shape[1])[None, :, None], axis=1)[:, self._bins]
        X = X / np.maximum(np.abs(X), 1e-12)
        beam = np.einsum("nfm,afm->naf", X, self._steer)
        return np.sum(np.abs(beam) ** 2, axis=2)

    def finish(self) -> LocalizationResult:
        slow = float(os.environ.get("NEUROAUDIO_TEST_SLOW_S", "0") or 0)
        if slow:
            time.sleep(slow)
        gate = os.environ.get("NEUROAUDIO_TEST_GATE")
        while gate and not os.path.exists(gate):
            time.sleep(0.02)
        counter = os.environ.get("NEUROAUDIO_TEST_COUNTER")
        if counter:
            with open(counter, "a") as f:
                f.write(f"{os.getpid()}\n")
        return super().finish()


class Broken(Localizer):
    """Raises on every frame: a method failure must fail its own rows only."""

    name = "broken"
    summary = "test-only: always raises"

    def frames_spectrum(self, frames: np.ndarray) -> np.ndarray:
        raise RuntimeError("deliberate failure")
