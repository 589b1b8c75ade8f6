"""Every registered classical localizer: free-field pure-delay scenes and a reverberant room."""

from __future__ import annotations

import numpy as np
import pytest

from neuroaudio.angles import circular_error_deg
from neuroaudio.arrays import load_array
from neuroaudio.localize import make_localizer, method_names
from neuroaudio.localize.gcc_phat import GccPhat

from .conftest import plane_wave

FS = 16000
CLASSICAL = ["gcc-phat", "srp-phat", "pra-srp", "pra-music", "pra-normmusic", "pra-tops"]
AZIMUTHS = [0.0, 37.0, 123.5, 200.0, 291.0]


def test_all_classical_methods_registered():
    assert set(CLASSICAL) <= set(method_names())


@pytest.mark.parametrize("method", CLASSICAL)
def test_pure_delay_within_2_degrees(method, rng):
    """Free field, white noise, fractional delays: the true azimuth within 2 deg."""
    array = load_array("respeaker4")
    sig = 0.1 * rng.standard_normal(int(0.2 * FS))      # one 0.17-s frame (pra-tops is slow)
    for az in AZIMUTHS:
        res = make_localizer(method, array).localize(plane_wave(array, az, sig, FS))
        assert res.azimuth_deg is not None
        assert circular_error_deg(res.azimuth_deg, az) <= 2.0, (method, az, res.azimuth_deg)


def test_gcc_pair_tdoas_equal_true_delays(rng):
    """Interpolated GCC-PHAT peaks give each pair's fractional TDOA to within 0.05 samples."""
    array = load_array("respeaker4")
    loc = GccPhat(array)
    sig = 0.1 * rng.standard_normal(loc.frame_len)
    for az in (10.0, 95.0, 250.0, 0.0):     # 0 deg: pair (0, 2) sits at the end-fire limit
        x = plane_wave(array, az, sig, FS)
        tau = loc.pair_tdoas_s(x[None])[0] * FS
        np.testing.assert_allclose(tau, array.tdoa_s(az) * FS, atol=0.05)


def test_gcc_tdoa_fusion_also_localizes(rng):
    array = load_array("respeaker4")
    sig = 0.1 * rng.standard_normal(int(0.5 * FS))
    res = GccPhat(array, fusion="tdoa").localize(plane_wave(array, 222.0, sig, FS))
    assert circular_error_deg(res.azimuth_deg, 222.0) <= 2.0


def test_other_arrays_pure_delay(rng):
    """The same code on a 6-mic circle and an 8-mic array with a centre mic."""
    sig = 0.1 * rng.standard_normal(int(0.4 * FS))
    for name in ("respeaker6", "uma8"):
        array = load_array(name)
        for method in ("gcc-phat", "srp-phat"):
            res = make_localizer(method, array).localize(plane_wave(array, 163.0, sig, FS))
            assert circular_error_deg(res.azimuth_deg, 163.0) <= 2.0, (name, method)


def _speech_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """Harmonic-complex bursts (F0 100-220 Hz, 15 harmonics, formant-ish tilt) with pauses."""
    t = np.arange(n) / FS
    out = np.zeros(n)
    pos = 0
    while pos < n:
        dur = int(rng.uniform(0.2, 0.4) * FS)
        f0 = rng.uniform(100, 220) * (1 + 0.05 * np.sin(2 * np.pi * 3 * t[:dur]))
        phase = 2 * np.pi * np.cumsum(f0) / FS
        burst = sum(np.sin(h * phase + rng.uniform(0, 2 * np.pi)) / h**0.7 for h in range(1, 16))
        burst *= np.hanning(dur)
        out[pos:pos + dur] = burst[: n - pos]
        pos += dur + int(rng.uniform(0.05, 0.15) * FS)
    return out / np.std(out)


def make_reverberant_scene(rt60_s: float = 0.3):
    """Shoebox 5 x 4 x 3 m, RT60 0.3 s, source 1.5 m away at 65 deg, white sensor noise at 20 dB."""
    import pyroomacoustics as pra

    rng = np.random.default_rng(7)
    array = load_array("respeaker4")
    dims = np.array([5.0, 4.0, 3.0])
    e_abs, max_order = pra.inverse_sabine(rt60_s, dims)
    centre = np.array([2.2, 1.8, 1.2])
    az = 65.0
    src = centre + 1.5 * np.array([np.cos(np.deg2rad(az)), np.sin(np.deg2rad(az)), 0.0])
    room = pra.ShoeBox(dims, fs=FS, materials=pra.Material(e_abs), max_order=min(max_order, 12))
    room.add_source(src, signal=_speech_like(rng, int(1.2 * FS)))
    room.add_microphone_array((array.mics_m + centre).T)
    room.simulate()
    x = room.mic_array.signals.T[: int(1.2 * FS)]
    noise = rng.standard_normal(x.shape)
    x = x + noise * np.sqrt(np.mean(x**2) / np.mean(noise**2) / 10 ** (20 / 10))
    return (0.3 * x / np.abs(x).max()).astype(np.float32), az


@pytest.fixture(scope="module")
def reverberant_scene():
    return make_reverberant_scene()


@pytest.mark.parametrize("method", [m for m in CLASSICAL if m != "pra-tops"])
def test_reverberant_room_within_5_degrees(method, reverberant_scene):
    x, az = reverberant_scene
    res = make_localizer(method, "respeaker4").localize(x)
    assert res.azimuth_deg is not None
    assert circular_error_deg(res.azimuth_deg, az) <= 5.0, (method, res.azimuth_deg)


def test_reverberant_room_tops_short():
    """pra-tops costs ~1 s per frame in pyroomacoustics: the first 0.45 s only (4 frames), and in
    the milder room (RT60 0.15 s). pyroomacoustics' TOPS misses the RT60 0.3-s scene by 14 deg
    (measured; docs/localize.md): it is a reference, not something we tune."""
    x, az = make_reverberant_scene(0.15)
    res = make_localizer("pra-tops", "respeaker4").localize(x[: int(0.45 * FS)])
    assert circular_error_deg(res.azimuth_deg, az) <= 5.0


@pytest.mark.parametrize("method", ["gcc-phat", "srp-phat"])
def test_bin_weighting_finds_talker_over_steady_directional_noise(method):
    """Speech-like bursts from 60 deg, steady pink noise from 300 deg at 20 dB SNR (free field).
    Plain PHAT gives every bin one vote, and most bins hold only the noise: it points at the
    noise. The speech-presence bin weights point at the talker."""
    rng = np.random.default_rng(5)
    array = load_array("respeaker4")
    n = int(1.5 * FS)
    talker = plane_wave(array, 60.0, _speech_like(rng, n), FS)
    f = np.fft.rfftfreq(n, 1 / FS)
    pink = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * np.where(f > 20, f, 1.0) ** -0.5, n)
    noise = plane_wave(array, 300.0, pink, FS)
    x = talker + noise * np.sqrt(np.mean(talker**2) / np.mean(noise**2) / 10 ** (20 / 10))
    x = (0.3 * x / np.abs(x).max()).astype(np.float32)
    weighted = make_localizer(method, array).localize(x).azimuth_deg
    plain = make_localizer(method, array, bin_weighting=False).localize(x).azimuth_deg
    assert circular_error_deg(weighted, 60.0) <= 3, weighted
    assert circular_error_deg(plain, 300.0) <= 3, plain
