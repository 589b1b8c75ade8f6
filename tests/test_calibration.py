"""Confidence calibration (issue 18): the fit, the shipped maps, and what a localizer reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuroaudio.localize.calibration import (
    CALIBRATION_FILE,
    apply_map,
    calibration_map,
    expected_calibration_error,
    fit_isotonic,
)
from neuroaudio.localize.registry import make_localizer

from .conftest import plane_wave


def test_isotonic_fit_is_monotone_bounded_and_calibrated(rng):
    raw = rng.uniform(0, 1, 4000)
    p_true = raw ** 2                                       # the truth: P(hit | raw) = raw^2
    hit = (rng.uniform(0, 1, raw.size) < p_true).astype(float)
    kx, kp = fit_isotonic(raw, hit)
    assert np.all(np.diff(kx) > 0) and np.all(np.diff(kp) >= 0)
    assert 0 < kp.min() and kp.max() < 1
    cal = apply_map(raw, kx, kp)
    assert np.abs(cal - p_true).mean() < 0.05
    assert expected_calibration_error(cal, hit) < 0.03 < expected_calibration_error(raw, hit)


def test_ece_of_a_perfect_and_a_wrong_forecast():
    hit = np.r_[np.ones(70), np.zeros(30)]
    assert expected_calibration_error(np.full(100, 0.7), hit) == pytest.approx(0.0)
    assert expected_calibration_error(np.full(100, 0.95), hit) == pytest.approx(0.25)


@pytest.mark.parametrize("method", ["gcc-phat", "srp-phat", "gcc-phat-sm", "maa", "pra-music"])
def test_shipped_maps_are_monotone_within_bounds_and_match_the_defaults(method):
    data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    m = data["methods"][method]
    kx, kp = np.array(m["knots_x"]), np.array(m["knots_p"])
    assert np.all(np.diff(kx) > 0) and np.all(np.diff(kp) >= 0)
    assert 0 < kp.min() and kp.max() < 1 and m["n"] >= 100
    loc = make_localizer(method, "respeaker4")
    assert calibration_map(method, loc.calibration_settings()) is not None
    other = make_localizer(method, "respeaker4", pooling="level")      # other settings: raw
    assert other.calibration_map() is None


def test_localizer_reports_calibrated_confidence(rng):
    from neuroaudio.arrays import load_array

    arr = load_array("respeaker4")
    x = plane_wave(arr, 75, rng.standard_normal(16000) * 0.05, 16000)
    x = x + 0.001 * rng.standard_normal(x.shape).astype(np.float32)
    res = make_localizer("gcc-phat", arr).localize(x)
    raw = make_localizer("gcc-phat", arr, calibrate=False).localize(x)
    assert res.extra["confidence_calibrated"] and not raw.extra["confidence_calibrated"]
    assert res.azimuth_deg == raw.azimuth_deg
    assert raw.confidence == pytest.approx(res.extra["raw_confidence"])
    kx, kp = make_localizer("gcc-phat", arr).calibration_map()
    assert res.confidence == pytest.approx(float(apply_map(raw.confidence, kx, kp)))
    assert kp.min() <= res.confidence <= kp.max()
