"""Streaming, activity detection and pooling of the Localizer interface."""

from __future__ import annotations

import numpy as np
import pytest

from neuroaudio.angles import circular_error_deg
from neuroaudio.arrays import load_array
from neuroaudio.audio.io import blocks_of
from neuroaudio.localize import make_localizer

from .conftest import plane_wave

FS = 16000


def _bursts_with_pauses(rng, az, array, snr_db=None):
    """0.5-s noise bursts from ``az`` every 1 s (pauses of 0.5 s) over 3 s; optional sensor noise."""
    n = 3 * FS
    env = (np.arange(n) % FS < FS // 2).astype(float)
    x = plane_wave(array, az, 0.1 * rng.standard_normal(n) * env, FS)
    if snr_db is not None:
        noise = rng.standard_normal(x.shape)
        x = x + noise * np.sqrt(np.mean(x**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return x.astype(np.float32), env


@pytest.mark.parametrize("method", ["gcc-phat", "srp-phat"])
def test_block_size_does_not_change_estimates(method, rng):
    """Blocks of 1 s, 0.0137 s (219 samples) and the whole signal give identical frames."""
    array = load_array("respeaker4")
    x, _ = _bursts_with_pauses(rng, 140.0, array, snr_db=10)
    results = []
    for block in (FS, int(0.0137 * FS), len(x)):
        loc = make_localizer(method, array)
        loc.keep_frame_spectra = True
        results.append(loc.localize(blocks_of(x, block)))
    ref = results[0]
    assert len(ref.frames) == 1 + (len(x) - 2720) // 1360
    for res in results[1:]:
        assert [f.azimuth_deg for f in res.frames] == [f.azimuth_deg for f in ref.frames]
        assert [f.t_s for f in res.frames] == [f.t_s for f in ref.frames]
        for a, b in zip(res.frames, ref.frames, strict=True):
            assert (a.spectrum is None) == (b.spectrum is None)
            if a.spectrum is not None:
                np.testing.assert_allclose(a.spectrum, b.spectrum, rtol=1e-5, atol=1e-7)
        assert res.azimuth_deg == ref.azimuth_deg
        assert res.confidence == pytest.approx(ref.confidence, rel=1e-6)


@pytest.mark.parametrize("method", ["gcc-phat", "srp-phat"])
def test_silence_gives_no_direction(method):
    array = load_array("respeaker4")
    for x in (np.zeros((2 * FS, 4), np.float32),
              (1e-5 * np.random.default_rng(0).standard_normal((2 * FS, 4))).astype(np.float32)):
        res = make_localizer(method, array).localize(x)
        assert res.azimuth_deg is None
        assert res.confidence == 0.0
        assert res.n_pooled == 0
        assert all(f.azimuth_deg is None and f.confidence == 0.0 for f in res.frames)
        assert res.to_json("x.wav", method)["azimuth_deg"] is None


def test_pauses_have_no_direction_and_bursts_do(rng):
    """Speech-like on/off source over sensor noise (20 dB): frames inside pauses are inactive,
    frames inside bursts active and pointing at the source."""
    array = load_array("respeaker4")
    x, env = _bursts_with_pauses(rng, 250.0, array, snr_db=20)
    res = make_localizer("gcc-phat", array).localize(x)
    inside, pause = [], []
    for f in res.frames:
        a, b = int((f.t_s - 0.085) * FS), int((f.t_s + 0.085) * FS)
        (inside if env[a:b].all() else pause if not env[a:b].any() else []).append(f)
    assert inside and pause
    assert all(f.azimuth_deg is None and f.confidence == 0 for f in pause)
    active = [f for f in inside if f.active]
    assert len(active) >= 0.8 * len(inside)
    assert all(circular_error_deg(f.azimuth_deg, 250.0) <= 3 for f in active)
    assert circular_error_deg(res.azimuth_deg, 250.0) <= 1


def test_steady_source_is_active(rng):
    """A source that plays from the first sample on (no pause to learn a floor) still gets a
    direction in its frames, not only in the pooled estimate."""
    array = load_array("respeaker4")
    x = plane_wave(array, 30.0, 0.1 * rng.standard_normal(2 * FS), FS)
    res = make_localizer("srp-phat", array).localize(x)
    act = [f for f in res.frames if f.azimuth_deg is not None]
    assert len(act) >= 0.8 * len(res.frames)
    assert all(circular_error_deg(f.azimuth_deg, 30.0) <= 2 for f in act)


@pytest.mark.parametrize("snr_db", [0.0, -5.0])
def test_low_snr_pooled_estimate(snr_db, rng):
    """Bursts in strong sensor noise: the pooled direction is still right."""
    array = load_array("respeaker4")
    x, _ = _bursts_with_pauses(rng, 75.0, array, snr_db=snr_db)
    for method in ("gcc-phat", "srp-phat"):
        res = make_localizer(method, array).localize(x)
        assert circular_error_deg(res.azimuth_deg, 75.0) <= 3, (method, snr_db, res.azimuth_deg)
        assert res.confidence > 0


def test_noise_only_is_not_a_confident_direction(rng):
    """Uncorrelated sensor noise alone: frames carry no direction."""
    array = load_array("respeaker4")
    x = (0.01 * rng.standard_normal((3 * FS, 4))).astype(np.float32)
    res = make_localizer("srp-phat", array).localize(x)
    assert sum(f.azimuth_deg is not None for f in res.frames) <= 0.1 * len(res.frames)


def test_non_finite_block_is_refused():
    from neuroaudio.errors import InputError

    loc = make_localizer("gcc-phat", "respeaker4")
    x = np.zeros((FS, 4), np.float32)
    x[100, 1] = np.inf
    with pytest.raises(InputError, match="NaN or Inf"):
        loc.process(x)
    with pytest.raises(InputError, match=r"expected \[samples, 4\]"):
        loc.process(np.zeros((FS, 3), np.float32))
