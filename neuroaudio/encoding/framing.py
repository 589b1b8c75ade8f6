"""Cut a stream of samples into steps, and a stream of per-step maps into frames of T steps.

Steps: consecutive, non-overlapping blocks of ``step_len`` samples (step s covers samples
``[s·L, (s+1)·L)``). Frames: frame f stacks steps ``f·h … f·h + T − 1`` (``h`` = hop in steps),
so it covers samples ``[f·hop, f·hop + frame_len)`` exactly as the Localizer's Framer cuts audio.
Both carry their unfinished tails, so the result does not depend on block boundaries.
"""

from __future__ import annotations

import numpy as np


class StepBuffer:
    """Samples → complete steps ``[n, step_len, channels]``; keeps the partial step."""

    def __init__(self, step_len: int, channels: int):
        self.step_len, self.channels = step_len, channels
        self.reset()

    def reset(self) -> None:
        self._tail = np.zeros((0, self.channels), np.float64)
        self.n_steps = 0

    def push(self, block: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self._tail, np.asarray(block, np.float64)]) if len(self._tail) else \
            np.asarray(block, np.float64)
        n = len(buf) // self.step_len
        self._tail = buf[n * self.step_len:].copy()
        self.n_steps += n
        return buf[: n * self.step_len].reshape(n, self.step_len, self.channels)


class StepFramer:
    """Per-step arrays ``[n, ...]`` → frames ``[frames, T, ...]`` every ``hop_steps`` steps."""

    def __init__(self, steps_per_frame: int, hop_steps: int):
        self.t, self.h = steps_per_frame, hop_steps
        self.reset()

    def reset(self) -> None:
        self._pending: np.ndarray | None = None   # steps from index self._first on
        self._first = 0
        self.n_frames = 0

    def push(self, step_maps: np.ndarray) -> np.ndarray:
        """Add consecutive steps; return the frames completed ``[n, T, ...]``."""
        if self._pending is None or len(self._pending) == 0:
            pend = step_maps
        else:
            pend = np.concatenate([self._pending, step_maps])
        last = self._first + len(pend)                     # one past the last step held
        starts = []
        f = self.n_frames
        while f * self.h + self.t <= last:                 # loop over frames, not samples
            starts.append(f * self.h - self._first)
            f += 1
        frames = (np.stack([pend[s:s + self.t] for s in starts]) if starts
                  else np.zeros((0, self.t, *step_maps.shape[1:]), step_maps.dtype))
        self.n_frames = f
        keep_from = min(len(pend), max(0, f * self.h - self._first))   # steps no frame needs
        self._pending = pend[keep_from:]
        self._first += keep_from
        return frames
