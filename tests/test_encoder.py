"""RF-PLC encoder: phase locking, ITD coincidences, streaming, the rf-plc localizer and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from neuroaudio.angles import circular_error_deg
from neuroaudio.arrays import MicArray, load_array
from neuroaudio.encoding.config import RFPLCConfig
from neuroaudio.encoding.encoder import RFPLCEncoder
from neuroaudio.errors import InputError
from neuroaudio.localize.registry import make_localizer

from .conftest import fractional_delay, plane_wave, run_cli

FS = 16000
LINE3 = MicArray("line3", np.array([[0.0, 0.0, 0.0], [0.06, 0.0, 0.0], [0.12, 0.0, 0.0]]), FS)
"""Pair distances 60/60/120 mm: max |tau| 2.8/2.8/5.6 samples at 16 kHz."""


def delayed(signal: np.ndarray, delays: list[float], pad: int = 64) -> np.ndarray:
    """``[samples, mics]`` with mic k = ``signal`` delayed by ``delays[k]`` samples (non-circular)."""
    s = np.concatenate([np.zeros(pad), signal, np.zeros(pad)])
    return np.stack([fractional_delay(s, d) for d in delays], axis=1)[pad:-pad]


def summed_map(out) -> np.ndarray:
    """Coincidences summed over frames, steps and bands: ``[pairs, delays]``."""
    return out.coincidence.sum(axis=(0, 1, 4))


def test_pure_tone_phase_from_spike_times():
    k = 100                                        # a neuron's own frequency: 1562.5 Hz
    f, phi0 = k * FS / 1024, 0.7
    t = np.arange(FS // 2)
    x = np.cos(2 * np.pi * f * t / FS + phi0)[:, None] * np.ones(2)
    enc = RFPLCEncoder(load_array("binaural"))
    out = enc.encode(x)
    off = np.concatenate([s.spike_offset for s in out.steps])        # [steps, mics, neurons]
    n = np.concatenate([s.n_spikes for s in out.steps])
    assert np.all(n[:, :, k] > 50)                                  # one spike per cycle, every step
    period = FS / f
    for s in range(len(off)):
        spikes = (s + 1) * enc.step_len - 1 + off[s, 0, k] + period * np.arange(n[s, 0, k])
        phase = 2 * np.pi * f * spikes / FS + phi0                   # the tone's phase at the spikes
        err_samples = np.angle(np.exp(1j * (phase - np.pi / 2))) / (2 * np.pi * f / FS)
        assert np.abs(err_samples).max() < 0.05                      # locked at π/2, well below a sample
        # and the phase recovered from the spike time is the tone's phase
        rec = np.pi / 2 - 2 * np.pi * f * spikes[0] / FS
        assert abs(np.angle(np.exp(1j * (rec - phi0)))) < 2 * np.pi * f / FS


@pytest.mark.parametrize("delays", [[0, 2, 5], [3, 1, -2]])
def test_integer_delay_peaks_at_the_tdoa_of_every_pair(rng, delays):
    x = delayed(rng.standard_normal(FS // 2), delays)
    for timing in ("subsample", "sample"):
        out = RFPLCEncoder(LINE3, RFPLCConfig(timing=timing)).encode(x)
        d = out.delays_samples
        tol = (d[1] - d[0]) / 2 + 1e-9
        for p, (i, j) in enumerate(out.pairs):
            expected = delays[j] - delays[i]                          # tau_ij = t_j - t_i
            peak = d[np.argmax(summed_map(out)[p])]
            assert abs(peak - expected) <= tol, (timing, (i, j), peak, expected)


def test_fractional_delay_within_a_quarter_sample(rng):
    pair = MicArray("pair", np.array([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0]]), FS)   # ±4.66 samples
    x = delayed(rng.standard_normal(FS // 2), [0.0, 1.4])
    out = RFPLCEncoder(pair).encode(x)
    peak = out.delays_samples[np.argmax(summed_map(out)[0])]
    assert abs(peak - 1.4) <= 0.25


def test_block_size_independence(rng):
    a = load_array("respeaker4")
    x = plane_wave(a, 75.0, rng.standard_normal(int(0.6 * FS)), FS)
    enc = RFPLCEncoder(a, RFPLCConfig(hop_s=0.0425))
    whole = enc.encode(x)
    cuts = np.unique(np.r_[0, 1, 2, 679, 680, 1361, rng.integers(0, len(x), 12), len(x)])
    blocks = enc.encode([x[s:e] for s, e in zip(cuts[:-1], cuts[1:], strict=True)])
    assert whole.coincidence.shape == (11, 4, 6, 51, 40)
    assert np.array_equal(whole.coincidence, blocks.coincidence) and whole.coincidence.sum() > 0
    w, b = whole.to_npz_dict(), blocks.to_npz_dict()
    assert np.array_equal(w["spike_offset_samples"], b["spike_offset_samples"], equal_nan=True)
    # frame-wise encoding (what the rf-plc localizer does) gives the same frames
    frames = np.stack([x[f * enc.hop: f * enc.hop + enc.frame_len] for f in range(11)])
    assert np.array_equal(enc.encode_frames(frames), whole.coincidence)


def test_silence_gives_no_spikes():
    out = RFPLCEncoder(load_array("respeaker4")).encode(np.zeros((FS // 2, 4)))
    assert out.coincidence.sum() == 0 and sum(s.n_spikes.sum() for s in out.steps) == 0


def test_rf_plc_localizer_anechoic_20db(rng):
    a = load_array("respeaker4")
    loc = make_localizer("rf-plc", a)
    for az in (17.0, 143.0, 261.0):
        x = plane_wave(a, az, rng.standard_normal(int(0.7 * FS)), FS)
        x = x + np.sqrt(np.mean(x ** 2) / 100) * rng.standard_normal(x.shape)   # 20 dB SNR
        res = loc.localize(x.astype(np.float32))
        assert circular_error_deg(res.azimuth_deg, az) <= 3.0, (az, res.azimuth_deg)


def test_config_errors_name_the_fix():
    with pytest.raises(InputError, match="steps"):
        RFPLCConfig(frame_s=0.17, steps=3).validate(FS)
    with pytest.raises(InputError, match="hop"):
        RFPLCConfig(hop_s=0.05).validate(FS)
    with pytest.raises(InputError, match="timing"):
        RFPLCConfig(timing="fast").validate(FS)
    with pytest.raises(InputError, match="locking"):
        RFPLCConfig(locking="cochlea").validate(FS)
    with pytest.raises(InputError, match="band"):
        RFPLCEncoder(load_array("respeaker4"), RFPLCConfig(n_neurons=32, n_bands=30))


def test_cli_encode_writes_the_npz_contract(tmp_path, rng):
    a = load_array("respeaker4")
    x = plane_wave(a, 200.0, 0.1 * rng.standard_normal(int(0.5 * FS)), FS)
    wav = tmp_path / "rec.wav"
    sf.write(wav, np.c_[np.zeros(len(x)), x], FS)                   # 5 channels, mics in 2..5
    out, png = tmp_path / "rec.npz", tmp_path / "raster.png"
    r = run_cli("encode", wav, "--array", "respeaker4", "--channels", "2,3,4,5", "--out", out,
                "--plot", png)
    assert r.returncode == 0, r.stderr
    d = np.load(out)
    n_frames = 1 + (len(x) - 2720) // 1360
    assert d["coincidence"].shape == (n_frames, 4, 6, 51, 40)
    assert d["delays_samples"].shape == (51,) and d["pairs"].tolist() == a.pairs().tolist()
    assert d["band_hz"].shape == (40,) and int(d["fs"]) == FS
    assert float(d["frame_s"]) == pytest.approx(0.17) and float(d["hop_s"]) == pytest.approx(0.085)
    assert d["delays_samples"][-1] == pytest.approx(a.max_delay_s().max() * FS)
    assert png.stat().st_size > 10_000
    # the streamed file holds exactly what the in-memory encoder computes from the same samples
    from neuroaudio.audio.io import read_audio

    pcm, _ = read_audio(wav, channels=[1, 2, 3, 4])
    assert np.array_equal(d["coincidence"], RFPLCEncoder(a).encode(pcm).coincidence)
    assert d["spike_offset_samples"].shape == (len(x) // 680, 4, 512)
    # bad input: one line naming the problem, exit 2
    for args in (["encode", tmp_path / "missing.wav", "--out", out],
                 ["encode", wav, "--array", "respeaker4", "--out", out]):          # 5 ch vs 4 mics
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "error" in r.stderr


def test_streaming_npz_is_exact_and_atomic(tmp_path, rng):
    from neuroaudio.encoding.npz_writer import StreamingNpz

    rows = rng.integers(0, 9, (9, 2, 3)).astype(np.int16)
    w = StreamingNpz(tmp_path / "a.npz")
    for s in (slice(0, 4), slice(4, 4), slice(4, 9)):
        w.append("c", rows[s])
    w.put("fs", np.int64(FS))
    w.close()
    d = np.load(tmp_path / "a.npz")
    assert np.array_equal(d["c"], rows) and int(d["fs"]) == FS
    w = StreamingNpz(tmp_path / "b.npz")
    w.append("c", rows)
    w.abort()                                       # a failed run leaves nothing behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]
