"""Azimuth tracking: wrapped-angle Kalman filters with source birth and death."""

from __future__ import annotations

import numpy as np
import pytest

from neuroaudio.angles import circular_error_deg, wrap_pm180
from neuroaudio.errors import InputError
from neuroaudio.tracking import AzimuthTracker, TrackerConfig

HOP_S = 0.085


def _moving_source(rng, n=80, start=320.0, speed_deg_s=30.0, sigma=8.0, outliers=0.1):
    """A source moving counter-clockwise through 0°/360°; noisy per-frame azimuths with
    ``outliers`` of the frames replaced by uniformly random directions."""
    t = np.arange(n) * HOP_S
    truth = np.mod(start + speed_deg_s * t, 360.0)
    z = truth + rng.normal(0.0, sigma, n)
    bad = rng.random(n) < outliers
    z[bad] = rng.uniform(0.0, 360.0, bad.sum())
    return t, truth, np.mod(z, 360.0)


def _run(tracker, t, z, active=None):
    out = []
    for k in range(len(t)):
        meas = [(float(z[k]), 0.6)] if active is None or active[k] else []
        tracker.step(float(t[k]), meas)
        p = tracker.primary()
        out.append(np.nan if p is None else p.azimuth_deg)
    return np.array(out)


def test_wrap_pm180():
    assert np.allclose(wrap_pm180([190.0, -190.0, 359.0, 0.0]), [-170.0, 170.0, -1.0, 0.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tracking_beats_raw_through_wraparound(seed):
    rng = np.random.default_rng(seed)
    t, truth, z = _moving_source(rng)
    assert truth.min() < 20 and truth.max() > 340         # the source does cross 0°/360°
    est = _run(AzimuthTracker(), t, z)
    born = ~np.isnan(est)
    assert born[5:].all()                                  # stays born the whole time
    raw_err = circular_error_deg(z, truth)[born].mean()
    trk_err = circular_error_deg(est[born], truth[born]).mean()
    assert trk_err < 0.6 * raw_err, (trk_err, raw_err)
    assert trk_err < 6.0
    # no 360° jumps: successive tracked directions move by less than 15° per frame
    steps = np.abs(wrap_pm180(np.diff(est[born])))
    assert steps.max() < 15.0


def test_birth_needs_confirmation_and_death_on_silence(rng):
    cfg = TrackerConfig(confirm_hits=3, death_s=0.5)
    n = 60
    t = np.arange(n) * HOP_S
    active = np.zeros(n, dtype=bool)
    active[10:30] = True                                  # a source from frame 10 to 29, then silence
    z = np.mod(100.0 + rng.normal(0, 5, n), 360)
    est = _run(AzimuthTracker(cfg), t, z, active)
    assert np.isnan(est[:12]).all()                       # birth after 3 matched frames (10, 11, 12)
    assert not np.isnan(est[12])
    assert np.all(circular_error_deg(est[12:30], 100.0) < 8)
    # coasting through the first silent frames, then death once 0.5 s passed without a measurement
    last_update = t[29]
    for k in range(30, n):
        if t[k] - last_update <= 0.5:
            assert not np.isnan(est[k])
        else:
            assert np.isnan(est[k])


def test_lone_outliers_are_not_born(rng):
    tr = AzimuthTracker()
    t = np.arange(40) * HOP_S
    for k in range(40):
        tr.step(float(t[k]), [(float(rng.uniform(0, 360)), 0.5)] if k % 3 == 0 else [])
        assert tr.primary() is None


def test_two_sources_two_tracks(rng):
    tr = AzimuthTracker()
    for k in range(30):
        tr.step(k * HOP_S, [(40 + rng.normal(0, 3), 0.5), (250 + rng.normal(0, 3), 0.5)])
    az = sorted(trk.azimuth_deg for trk in tr.confirmed())
    assert len(az) == 2 and abs(az[0] - 40) < 5 and abs(az[1] - 250) < 5


def test_confidence_decays_while_coasting():
    tr = AzimuthTracker(TrackerConfig(confidence_half_life_s=0.2, death_s=1.0))
    for k in range(5):
        tr.step(k * 0.1, [(10.0, 0.8)])
    tr.step(0.6, [])
    p = tr.primary()
    assert p is not None and tr.reported_confidence(p) == pytest.approx(0.4, rel=1e-6)


def test_bad_config():
    with pytest.raises(InputError):
        AzimuthTracker(TrackerConfig(meas_sigma_deg=0))


def _talker_left_behind(cfg: TrackerConfig, rng) -> list[list[int]]:
    """A talker heard at 100° walks away at -30°/s while a stationary ghost stays at 100°; a
    second talker stands at 250°. Returns the ids reported near the walking talker, per frame."""
    tr = AzimuthTracker(cfg)
    hop = 0.032
    near = []
    for k in range(190):                      # 6 s
        t = k * hop
        talker = 100.0 - 30.0 * max(t - 1.0, 0.0)
        meas = [(250.0 + rng.normal(0, 2), 0.6)]
        if t < 1.0:
            meas.append((talker + rng.normal(0, 2), 0.6))
        elif t < 2.0:
            meas.append((100.0 + rng.normal(0, 2), 0.4))   # the ghost holds the track back ...
        else:
            meas.append((talker + rng.normal(0, 2), 0.6))  # ... and the talker is heard again
        tr.step(t, meas)
        near.append([trk.track_id for trk in tr.confirmed()
                     if circular_error_deg(trk.azimuth_deg, talker) < 10])
    return near


def test_reidentification_keeps_the_id_of_a_talker_left_behind(rng):
    from neuroaudio.tracking import multi_source_config

    cfg = multi_source_config(0.032)
    assert cfg.reid_deg == 60.0
    near = _talker_left_behind(cfg, rng)
    first = near[40][0]                                   # the talker's id after birth (t = 1.3 s)
    late = [ids for ids in near[120:] if ids]             # t >= 3.8 s: tracked again
    assert late and all(ids == [first] for ids in late), (first, late[:5])
    # without re-identification the talker gets a new id: the check above can fail
    import dataclasses

    near0 = _talker_left_behind(dataclasses.replace(cfg, reid_deg=0.0), np.random.default_rng(0))
    late0 = [ids for ids in near0[120:] if ids]
    assert late0 and late0[-1] != [near0[40][0]]


def test_reidentification_gives_a_reborn_track_its_old_id():
    cfg = TrackerConfig(confirm_hits=3, death_s=0.5, reid_deg=30.0, reid_memory_s=3.0)
    tr = AzimuthTracker(cfg)
    for k in range(10):
        tr.step(k * 0.1, [(50.0, 0.8)])
    old = tr.confirmed()[0].track_id
    for k in range(10, 25):                               # 1.5 s pause: the track dies
        tr.step(k * 0.1, [])
    assert tr.confirmed() == []
    for k in range(25, 30):                               # heard again 12° away
        tr.step(k * 0.1, [(62.0, 0.8)])
    assert [t.track_id for t in tr.confirmed()] == [old] and tr.reidentified == 1
    tr2 = AzimuthTracker(TrackerConfig(confirm_hits=3, death_s=0.5))     # off: a new id
    for k in range(30):
        tr2.step(k * 0.1, [(50.0 if k < 10 else 62.0, 0.8)] if k < 10 or k >= 25 else [])
    assert [t.track_id for t in tr2.confirmed()] != [old]
