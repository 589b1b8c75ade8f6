"""Evidence pooling, the bounded-window noise floor and the tracker's main-output hysteresis
(issue 18), on small synthetic scenes with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from neuroaudio.angles import circular_error_deg
from neuroaudio.arrays import load_array
from neuroaudio.errors import InputError
from neuroaudio.localize.base import ActivityDetector
from neuroaudio.localize.pooling import EvidencePool, parse_pooling
from neuroaudio.localize.registry import make_localizer
from neuroaudio.spectra import BinNoiseTracker
from neuroaudio.tracking import AzimuthTracker, measurement_weight

from .conftest import plane_wave

FS = 16000
ARRAY = load_array("respeaker4")


def _db(x: np.ndarray, dbfs: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x ** 2)) * 10 ** (dbfs / 20)


def _talker(rng: np.random.Generator, n: int) -> np.ndarray:
    """Speech-like: a harmonic complex with a wandering pitch and 4-Hz syllabic envelope."""
    t = np.arange(n) / FS
    f0 = 130 + 20 * np.sin(2 * np.pi * 0.7 * t)
    ph = 2 * np.pi * np.cumsum(f0) / FS
    x = sum(np.sin(h * ph + rng.uniform(0, 6.3)) / h ** 0.5 for h in range(1, 40) if 130 * h < 7000)
    return x * (0.5 + np.abs(np.sin(2 * np.pi * 2 * t)))


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    f = np.fft.rfftfreq(n, 1 / FS)
    X = (rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f))) / np.sqrt(np.maximum(f, 20))
    return np.fft.irfft(X, n)


# --- the pooling component ------------------------------------------------------------------

def test_pool_weights_a_short_loud_word_over_long_weak_noise():
    """The issue's mechanism on spectra: 4 frames 20-27 dB above the floor point at 60 deg,
    10 noise frames 15 dB above it at 250 deg, 2 floor frames. 'level' counts every frame above
    floor+3 dB the same, so the 10 noise frames win; 'energy' weights by power above the floor."""
    n_az = 360
    spec = lambda az: np.roll(np.r_[1.0, np.zeros(n_az - 1)], az) * 0.9 + 0.1 / n_az  # noqa: E731
    frames = [(spec(60), -20.0 - k) for k in range(4)] + [(spec(250), -45.0)] * 10 + \
             [(spec(180), -60.0)] * 2
    s = np.array([f[0] for f in frames])
    lv = np.array([f[1] for f in frames])
    got = {}
    for p in ("level", "snr", "energy", "top8", "top8*energy"):
        pool = EvidencePool(p, n_az)
        pool.add(s[:7], lv[:7])          # two blocks: the result does not depend on them
        pool.add(s[7:], lv[7:])
        pooled, n, _ = pool.result()
        assert pooled.sum() == pytest.approx(1.0)
        got[p] = int(np.argmax(pooled))
    assert got == {"level": 250, "snr": 250, "energy": 60, "top8": 60, "top8*energy": 60}


def test_top_gate_counts_the_frames_near_the_loudest_alike():
    """top8: the frames within 8 dB of the loudest (and 3 dB above the floor) count the same, so
    one loud frame does not outvote three a little quieter; energy lets it win."""
    n_az = 8
    s = np.vstack([np.eye(n_az)[1]] + [np.eye(n_az)[5]] * 3 + [np.eye(n_az)[7]] * 6)
    lv = np.r_[-20.0, -26.0, -26.0, -26.0, np.full(6, -60.0)]
    picks = {}
    for p in ("energy", "top8", "top4"):
        pool = EvidencePool(p, n_az)
        pool.add(s, lv)
        pooled, n, _ = pool.result()
        picks[p] = (int(np.argmax(pooled)), n)
    assert picks == {"energy": (1, 4), "top8": (5, 4), "top4": (1, 1)}
    assert parse_pooling("top").top_db == 8.0 and parse_pooling("top12*energy^0.5").power == 0.5


def test_pool_falls_back_to_all_frames_for_a_steady_source():
    pool = EvidencePool("energy", 8)
    s = np.tile(np.eye(8)[3], (5, 1))
    pool.add(s, np.full(5, -30.0))
    pooled, n, total = pool.result()
    assert n == 5 and total == 0.0 and np.argmax(pooled) == 3
    assert EvidencePool("energy", 8).result()[1] == 0          # nothing heard: nothing pooled


@pytest.mark.parametrize("bad", ["", "loud", "energy*snr", "coherence*coherence", "top0", "topx",
                                 "top8*top4"])
def test_bad_pooling_is_an_input_error(bad):
    with pytest.raises(InputError, match="pooling="):
        parse_pooling(bad)
    with pytest.raises(InputError, match="pooling="):
        make_localizer("gcc-phat", "respeaker4", pooling=bad)


def test_short_burst_found_with_energy_pooling_not_level(rng):
    """End to end with gcc-phat: a quiet start (-60 dBFS sensor noise), then directional noise
    from 250 deg at -45 dBFS for 1.6 s, and a 0.3-s burst from 60 deg at -20 dBFS. The old pooling
    (level) lands on the noise, energy and the default (top8) on the burst."""
    n = int(2.0 * FS)
    sensor = _db(rng.standard_normal((n, 4)), -60)
    noise = plane_wave(ARRAY, 250, _db(_pink(rng, n), -45), FS)
    noise[: int(0.4 * FS)] = 0
    burst = np.zeros(n)
    k0 = int(1.0 * FS)
    burst[k0:k0 + int(0.3 * FS)] = _db(rng.standard_normal(int(0.3 * FS)), -20)
    x = (sensor + noise + plane_wave(ARRAY, 60, burst, FS)).astype(np.float32)
    err = {}
    for p in ("level", "energy", "top8"):
        res = make_localizer("gcc-phat", ARRAY, pooling=p).localize(x)
        err[p] = float(circular_error_deg(res.azimuth_deg, 60))
    assert err["level"] > 90 and err["energy"] < 3 and err["top8"] < 3, err
    assert make_localizer("gcc-phat", ARRAY).pool.spec == "top8"      # the default


# --- the bounded-window noise floor ---------------------------------------------------------

def test_window_floor_equals_rise_only_on_short_streams_and_catches_a_step(rng):
    p = rng.gamma(16, 1 / 16, size=(20, 30)) * 1e-6     # a frame's power: ~16 averaged bins
    a, b = BinNoiseTracker(0.085, window_s=0), BinNoiseTracker(0.085, window_s=2.0)
    np.testing.assert_array_equal(a.weights(p), b.weights(p))          # 1.7 s < 2 s window
    a.reset(), b.reset()
    step = np.concatenate([p, rng.gamma(16, 1 / 16, size=(60, 30)) * 1e-3])  # +30 dB after 1.7 s
    a.weights(step), b.weights(step)
    # 60 frames (5.1 s) later the rise-only floor is still ~15 dB low; the window's is there
    assert np.median(10 * np.log10(1e-3 / a.noise)) > 10
    assert np.median(10 * np.log10(1e-3 / b.noise)) < 4

    det_a, det_b = ActivityDetector(0.085, floor_window_s=0), ActivityDetector(0.085)
    lv = np.r_[np.full(20, -60.0), np.full(60, -30.0)]
    act_a, act_b = det_a.update(lv), det_b.update(lv)
    # the level detector: active on noise alone for 5 s (rise-only) vs at most the window
    assert act_a[20:].sum() * 0.085 > 4.5 and act_b[20:].sum() * 0.085 <= 2.1


def _recovery_s(frames, truth: float, onset_s: float) -> float:
    """Seconds after the onset until every later 1-s window has at least 70 % of its active
    frames within 10 deg of the truth."""
    t = np.array([f.t_s for f in frames if f.active and f.t_s > onset_s]) - onset_s
    ok = np.array([circular_error_deg(f.azimuth_deg, truth) <= 10 for f in frames
                   if f.active and f.t_s > onset_s])
    good = [ok[(t >= s) & (t < s + 1)].mean() >= 0.7 for s in np.arange(0, t.max() - 1, 0.5)]
    bad = [k for k, g in enumerate(good) if not g]
    return 0.0 if not bad else 0.5 * (bad[-1] + 1)


def test_live_noise_floor_recovers_after_a_quiet_stretch(rng):
    """3 s of -60 dBFS sensor noise, then a talker at 60 deg 10 dB over white noise from 200 deg.
    Rise-only floors (3 dB/s per bin) leave the noise's bins voting for ~10 s; the bounded-window
    floor recovers within about the window (2 s)."""
    quiet, scene = int(3 * FS), int(10 * FS)
    talk = plane_wave(ARRAY, 60, _db(_talker(rng, scene), -25), FS)
    noise = plane_wave(ARRAY, 200, _db(rng.standard_normal(scene), -35), FS)
    x = np.concatenate([_db(rng.standard_normal((quiet, 4)), -60), talk + noise]).astype(np.float32)
    out = {}
    for name, opts in (("old", {"noise_window_s": 0, "floor_window_s": 0}), ("new", {})):
        loc = make_localizer("gcc-phat", ARRAY, **opts)
        frames = []
        for k in range(0, len(x), 320):                       # 20-ms blocks, as live
            frames += loc.process(x[k:k + 320])
        out[name] = _recovery_s(frames, 60, 3.0)
    assert out["old"] > 5.0 and out["new"] <= 2.5, out


# --- the tracker: measurement weight and hysteresis -------------------------------------------

def _two_source_stream(rng, seconds: float, hop: float = 0.085):
    """Each frame measures one of two talkers (60 and 200 deg), at random, 3 deg noise."""
    for k in range(int(seconds / hop)):
        az = 60.0 if rng.random() < 0.5 else 200.0
        yield k * hop, az + rng.normal(0, 3)


def _flips_per_s(stream, seconds: float) -> tuple[float, float]:
    """Flips per second of the main output: the rule before issue 18 (the confirmed track
    updated most recently) and :meth:`AzimuthTracker.primary`, on the same run."""
    tr = AzimuthTracker()
    last: dict[str, int | None] = {"old": None, "new": None}
    flips = {"old": 0, "new": 0}
    for t, z in stream:
        tr.step(t, [(z, 0.8, 0.8)])
        conf = tr.confirmed()
        old = max(conf, key=lambda x: (x.last_update_s, x.hits)) if conf else None
        for k, p in (("old", old), ("new", tr.primary())):
            if p is None:
                continue
            if last[k] is not None and p.track_id != last[k]:
                flips[k] += 1
            last[k] = p.track_id
    return flips["old"] / seconds, flips["new"] / seconds


def test_main_output_does_not_flip_between_two_live_tracks():
    old, new = _flips_per_s(_two_source_stream(np.random.default_rng(1), 20), 20)
    assert old > 4.0 and new <= 0.1, (old, new)


def test_main_output_moves_when_its_source_stops_or_is_outweighed(rng):
    tr = AzimuthTracker()
    t, hop = 0.0, 0.085
    for _ in range(40):                                   # 60 deg alone: it is the main one
        tr.step(t, [(60 + rng.normal(0, 2), 0.9, 0.9)])
        t += hop
    assert abs(tr.primary().azimuth_deg - 60) < 5
    for _ in range(12):                                    # 200 deg, weak, while 60 goes on
        tr.step(t, [(60 + rng.normal(0, 2), 0.9, 0.9), (200 + rng.normal(0, 2), 0.9, 0.1)])
        t += hop
    assert abs(tr.primary().azimuth_deg - 60) < 5
    t_stop = t
    while abs(tr.primary().azimuth_deg - 200) > 5:         # 60 stops: 200 takes over
        tr.step(t, [(200 + rng.normal(0, 2), 0.9, 0.9)])
        t += hop
        assert t - t_stop < 1.0
    assert tr.switches == 1


def test_measurement_weight_widens_the_measurement():
    assert measurement_weight(0.8, None) == pytest.approx(0.8)
    assert measurement_weight(1.0, 3.0) == pytest.approx(1 - 10 ** -0.3)
    assert measurement_weight(0.5, -5.0) == 0.0
    a, b = AzimuthTracker(), AzimuthTracker()
    for tr, w in ((a, 1.0), (b, 0.1)):
        tr.step(0.0, [(100.0, 1.0, 1.0)])
        tr.step(0.085, [(110.0, 1.0, w)])
    # a weak frame moves the track less than a strong one
    assert abs(b.tracks[0].azimuth_deg - 100) < abs(a.tracks[0].azimuth_deg - 100) / 3


def test_pooling_option_from_the_cli(rng, tmp_path):
    import json

    import soundfile as sf

    from .conftest import run_cli

    wav = tmp_path / "pw.wav"
    sf.write(wav, plane_wave(ARRAY, 75, rng.standard_normal(16000) * 0.05, FS), FS)
    ok = run_cli("localize", wav, "-o", "pooling=energy*coherence", "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["azimuth_deg"] == pytest.approx(75, abs=2)
    bad = run_cli("localize", wav, "-o", "pooling=loud")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "pooling='loud'" in bad.stderr and "Traceback" not in bad.stderr
