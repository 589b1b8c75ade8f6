"""Several sources per frame and per file (issue 22): peak picking, votes, the Localizer's
``sources`` option, and the JSON it adds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuroaudio.angles import circular_error_deg
from neuroaudio.arrays import load_array
from neuroaudio.errors import InputError
from neuroaudio.localize.peaks import parse_sources, pick_peaks, vote_map
from neuroaudio.localize.registry import make_localizer

from .conftest import plane_wave

FS = 16000


def _bumps(centres, heights, n_az=360, width=12.0):
    g = np.arange(n_az)
    s = np.zeros(n_az)
    for c, h in zip(centres, heights, strict=True):
        d = np.abs(g - c)
        s += h * np.exp(-0.5 * (np.minimum(d, n_az - d) / width) ** 2)
    return s


def test_parse_sources():
    assert parse_sources(1) == 1 and parse_sources("3") == 3 and parse_sources("auto") == 0
    for bad in ("0", "5", "two", 2.5, True):
        with pytest.raises(InputError, match="--sources"):
            parse_sources(bad)


def test_pick_peaks_finds_both_lobes_and_suppresses_shoulders():
    s = np.stack([_bumps([40, 200], [1.0, 0.7]),      # two talkers
                  _bumps([100], [1.0]),               # one: its shoulder is no second source
                  _bumps([350, 20], [1.0, 0.9], width=6.0)])   # through 0/360, 30 deg apart
    idx, conf, valid = pick_peaks(s, 4, 20, 0.5)
    assert idx[0, 0] == 40 and idx[0, 1] == 200 and valid[0].sum() == 2
    assert valid[1].sum() == 1 and idx[1, 0] == 100
    assert sorted(idx[2][valid[2]].tolist()) == [20, 350]
    assert np.all(idx[:, 0] == s.argmax(axis=1))
    assert conf[0, 0] > conf[0, 1] > 0
    # the weaker lobe drops out when it is under the relative threshold
    _, _, v = pick_peaks(_bumps([40, 200], [1.0, 0.3])[None], 4, 20, 0.5)
    assert v.sum() == 1


def test_pick_peaks_flat_spectrum_has_none():
    _, _, valid = pick_peaks(np.zeros((2, 360)), 3, 20, 0.5)
    assert not valid.any()


def test_vote_map_sums_to_one_and_peaks_at_the_sources():
    s = _bumps([40, 200], [1.0, 0.8])[None]
    v = vote_map(*pick_peaks(s, 2, 20, 0.5), s, 360, 3.0)
    assert abs(v.sum() - 1) < 1e-9
    assert v[0, 40] > v[0, 200] > 10 * v[0, 120]


def _two_plane_waves(az_a=60.0, az_b=200.0, seconds=3.0, seed=0):
    """Two noise sources as plane waves on respeaker4 taking turns every 80 ms (as talkers'
    syllables do), plus a little sensor noise: ``[samples, 4]``."""
    from neuroaudio.arrays import load_array

    arr = load_array("respeaker4")
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    f = np.fft.rfftfreq(n, 1 / FS)
    x = np.zeros((n, 4))
    gate = (np.arange(n) // int(0.08 * FS)) % 2
    for k, az in enumerate((az_a, az_b)):
        sig = rng.standard_normal(n) * (gate == k)
        t = arr.arrival_times_s(np.array([az]))[0]                     # [mics] s
        S = np.fft.rfft(sig)
        x += np.fft.irfft(S[:, None] * np.exp(-2j * np.pi * f[:, None] * t[None, :]), n, axis=0)
    x += 0.01 * rng.standard_normal(x.shape)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


@pytest.mark.parametrize("method", ["gcc-phat", "srp-phat"])
def test_two_sources_found_per_file_and_frame(method):
    x = _two_plane_waves()
    loc = make_localizer(method, "respeaker4", sources=2, frame_s=0.064, hop_s=0.032)
    res = loc.localize(x)
    found = sorted(s.azimuth_deg for s in res.sources)
    assert len(found) == 2
    assert abs(found[0] - 60) <= 5 and abs(found[1] - 200) <= 5
    assert all(0 < s.confidence <= 1 for s in res.sources)
    act = [f for f in res.frames if f.active]
    assert all(f.sources and f.sources[0].azimuth_deg == f.azimuth_deg for f in act)
    d = res.to_json("x.wav", method)
    assert [k for k in d] == ["path", "method", "azimuth_deg", "confidence", "sources", "frames"]
    assert "sources" in d["frames"][0]
    json.dumps(d)
    auto = make_localizer(method, "respeaker4", sources="auto", frame_s=0.064, hop_s=0.032).localize(x)
    assert len(auto.sources) == 2


def test_single_source_output_unchanged():
    """K = 1 (the default): no ``sources`` anywhere, the same estimates as before."""
    x = _two_plane_waves()
    one = make_localizer("gcc-phat", "respeaker4").localize(x)
    assert one.sources is None and all(f.sources is None for f in one.frames)
    d = one.to_json("x.wav", "gcc-phat")
    assert list(d) == ["path", "method", "azimuth_deg", "confidence", "frames"]
    assert list(d["frames"][0]) == ["t_s", "azimuth_deg", "confidence"]
    # peaks on the correlation sum: the first peak is the single-source direction, exactly
    multi = make_localizer("gcc-phat", "respeaker4", sources=3, tf_histogram=False).localize(x)
    assert multi.azimuth_deg == one.azimuth_deg
    assert [f.azimuth_deg for f in multi.frames] == [f.azimuth_deg for f in one.frames]
    # the default with several sources (time-frequency histograms): the same file direction
    # the default with several sources (time-frequency histograms): the file direction is one of
    # the two sources (they are equally loud: which one leads may differ)
    tf = make_localizer("gcc-phat", "respeaker4", sources=3).localize(x)
    assert min(circular_error_deg(tf.azimuth_deg, 60.0), circular_error_deg(tf.azimuth_deg, 200.0)) <= 5


def _voiced(f0_hz: float, rng, n: int) -> np.ndarray:
    """A voiced talker's stand-in: harmonics of ``f0_hz`` up to 4 kHz, random phases, ``[n]``."""
    t = np.arange(n) / FS
    k = np.arange(1, int(4000 // f0_hz) + 1)
    return np.sum(np.cos(2 * np.pi * f0_hz * k[:, None] * t[None] + rng.uniform(0, 2 * np.pi, (len(k), 1))),
                  axis=0) / np.sqrt(len(k))


@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_tf_histogram_resolves_talkers_the_correlation_sum_merges(gain):
    """Two voiced talkers (f0 150 and 230 Hz) at once, 30 deg apart, the second as loud or 6 dB
    weaker: each wins its own harmonics' bins, so the per-bin votes find both within 2 deg, where
    the pairs' summed correlations show one lobe between them. On by default only with several
    sources."""
    rng = np.random.default_rng(3)
    a = load_array("respeaker4")
    n = 3 * FS
    x = (plane_wave(a, 100.0, _voiced(150.0, rng, n), FS)
         + plane_wave(a, 130.0, gain * _voiced(230.0, rng, n), FS)
         + 0.003 * rng.standard_normal((n, 4))).astype(np.float32)
    loc = make_localizer("gcc-phat", "respeaker4", sources=2)
    assert loc.tf_histogram and not make_localizer("gcc-phat", "respeaker4").tf_histogram
    got = sorted(s.azimuth_deg for s in loc.localize(x).sources)
    assert len(got) == 2 and circular_error_deg(got[0], 100.0) <= 2 and circular_error_deg(got[1], 130.0) <= 2
    summed = make_localizer("gcc-phat", "respeaker4", sources=2, tf_histogram=False).localize(x).sources
    assert len(summed) == 1 and 105 <= summed[0].azimuth_deg <= 125      # one lobe between them
    with pytest.raises(InputError, match="tf_min_fit"):
        make_localizer("gcc-phat", "respeaker4", sources=2, tf_min_fit=1.5)


def test_bad_sources_option():
    with pytest.raises(InputError, match="--sources"):
        make_localizer("gcc-phat", "respeaker4", sources=7)
