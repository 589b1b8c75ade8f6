"""espeak-ng synthesis: deterministic whatever was spoken before, at the asked rate."""

from __future__ import annotations

import numpy as np
import pytest

from neuroaudio.errors import InputError
from neuroaudio.sim.speech import list_variants, list_voices, synthesize


def test_synthesize_is_deterministic_and_resampled():
    a = synthesize("seven apples", voice="en-us", rate_wpm=170, pitch=40, fs=16000)
    synthesize("something else entirely", voice="en+f3", rate_wpm=300, pitch=80)
    b = synthesize("seven apples", voice="en-us", rate_wpm=170, pitch=40, fs=16000)
    assert a.dtype == np.float32 and a.ndim == 1
    assert np.array_equal(a, b)
    c = synthesize("seven apples", voice="en-us", rate_wpm=170, pitch=40, fs=8000)
    assert abs(len(c) / len(a) - 0.5) < 0.01
    assert 0.3 < len(a) / 16000 < 2.0 and np.abs(a).max() > 0.05
    fast = synthesize("seven apples", voice="en-us", rate_wpm=340, pitch=40)
    assert len(fast) < 0.75 * len(a)


def test_voices_and_errors():
    voices = list_voices()
    assert "en-us" in voices and "en" in voices
    assert "f3" in list_variants()
    with pytest.raises(InputError, match="voice"):
        synthesize("hi", voice="no-such-voice")
    with pytest.raises(InputError, match="empty"):
        synthesize("  ")
