"""GCC-PHAT-SM: sub-sample features, the mask learns harmonics, checkpoints, CLI refusals, training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neuroaudio.arrays import MicArray, load_array
from neuroaudio.gcc_phat_sm import checkpoint as C
from neuroaudio.gcc_phat_sm.data import FrameData, cut_frames, irm
from neuroaudio.gcc_phat_sm.features import (
    FeatureConfig,
    GccFrontEnd,
    gcc_features_np,
    gcc_features_torch,
    log_power,
)
from neuroaudio.gcc_phat_sm.mask import MaskConfig, MaskNet
from neuroaudio.gcc_phat_sm.train import train

from .conftest import REPO, crash_when_saving_epoch, plane_wave, run_cli

FS = 16000


def harmonic(n: int, f0: float, rng: np.random.Generator, fmax: float = 4000.0) -> np.ndarray:
    """A harmonic complex (F0 ``f0`` Hz, harmonics up to ``fmax``, random phases), unit RMS."""
    t = np.arange(n) / FS
    ks = np.arange(1, int(fmax // f0) + 1)
    x = np.sum(np.cos(2 * np.pi * f0 * ks[:, None] * t[None, :] + rng.uniform(0, 2 * np.pi, (len(ks), 1)))
               / np.sqrt(ks)[:, None], axis=0)
    return x / np.sqrt(np.mean(x ** 2))


def synthetic_frames(rng: np.random.Generator, n_clips: int, front: GccFrontEnd) -> FrameData:
    """Harmonic sources from random directions in independent (per-mic) white noise; IRM known."""
    arr, fl = front.array, front.frame_len()
    parts = []
    for c in range(n_clips):
        az = float(rng.uniform(0, 360))
        n = 3 * fl
        src = plane_wave(arr, az, harmonic(n, rng.uniform(110, 240), rng), FS)
        noise = rng.standard_normal(src.shape).astype(np.float32) * 10 ** (-rng.uniform(-5, 10) / 20)
        fm, fs_, fn = (cut_frames(a, fl, fl // 2) for a in (src + noise, src, noise))
        lp, cr, ci = front.analyse(fm)
        m = irm(front.stft(fs_), front.stft(fn))
        k = len(lp)
        parts.append(FrameData(lp, cr, ci, m, np.full(k, az, np.float32), np.zeros(k, np.float32),
                               np.full(k, c), np.zeros(k, np.int16)))
    return FrameData.concat(parts)


TINY = {"features": {"n_lags": 15, "fmax_hz": 4000.0},
        "model": {"hidden": [32], "mask": {"channels": 4, "layers": 2}},
        "train": {"epochs": 1, "batch_size": 32}}


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> tuple:
    """A 1-epoch model trained on synthetic frames, its checkpoint path, front end and data."""
    torch.set_num_threads(1)
    arr = load_array("respeaker4")
    front = GccFrontEnd(arr, FS, FeatureConfig(n_lags=15, fmax_hz=4000.0))
    data = synthetic_frames(np.random.default_rng(3), 6, front)
    out = tmp_path_factory.mktemp("gcc_phat_sm") / "run"
    res = train({**TINY, "out_dir": str(out)}, data, data, arr, FS, resume=False, progress=False)
    return out / "model.pt", front, data, res["model"]


def test_interrupted_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    """A run stopped while saving epoch 2 and resumed gives the log and weights of an unbroken run
    (sample order, symmetry draws and dropout seeded per epoch; optimiser and schedule restored)."""
    torch.set_num_threads(1)
    arr = load_array("respeaker4")
    data = synthetic_frames(np.random.default_rng(4), 4, GccFrontEnd(arr, FS, FeatureConfig(n_lags=15,
                                                                                           fmax_hz=4000.0)))
    cfg = {**TINY, "train": {**TINY["train"], "epochs": 3, "batch_size": 8, "mask_training": "joint"}}

    def run(out):
        return train({**cfg, "out_dir": str(out)}, data, data, arr, FS, progress=False)

    whole = run(tmp_path / "a")
    real_save = crash_when_saving_epoch(monkeypatch, C.CHECKPOINT, 2)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b")
    monkeypatch.setattr(C.CHECKPOINT, "save", real_save)
    resumed = run(tmp_path / "b")
    drop = ("seconds", "cpu_seconds")
    assert ([{k: v for k, v in r.items() if k not in drop} for r in resumed["history"]]
            == [{k: v for k, v in r.items() if k not in drop} for r in whole["history"]])
    assert resumed["history"][-1]["train_mask_loss"] > 0                 # the joint mask loss was trained
    for k, v in resumed["model"].state_dict().items():
        assert torch.equal(v, whole["model"].state_dict()[k]), k


def test_subsample_feature_peak_at_true_delay(rng):
    """The masked GCC of a plane wave peaks at each pair's true fractional delay (< 0.06 sample)."""
    arr = load_array("respeaker4")
    front = GccFrontEnd(arr, FS, FeatureConfig(n_lags=121, lag_margin=0.25))
    x = plane_wave(arr, 37.0, rng.standard_normal(4096), FS)
    lp, cr, ci = front.analyse(x[None, :2720])
    r = gcc_features_np(cr, ci, None, front.cos, front.sin)[0]              # [P, L]
    peak = front.lags[np.arange(len(r)), np.argmax(r, axis=1)]
    true = arr.tdoa_s(37.0) * FS
    assert np.abs(np.asarray(true) - 3.0).max() < 6                        # sanity: ±3-sample array
    assert np.max(np.abs(peak - true)) < 0.06, (peak, true)
    assert np.max(np.abs(np.round(true) - true)) > 0.2                       # truly fractional delays
    # torch twin, with a mask, equals numpy
    m = rng.uniform(0, 1, lp.shape).astype(np.float32)
    rt = gcc_features_torch(*(torch.from_numpy(a) for a in (cr, ci, m)), torch.from_numpy(front.cos),
                            torch.from_numpy(front.sin))
    np.testing.assert_allclose(rt.numpy(), gcc_features_np(cr, ci, m, front.cos, front.sin), atol=1e-5)


def test_mask_learns_harmonic_bins():
    """After a short IRM training on harmonic-plus-noise frames, the mask is high on harmonics and
    low between them."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    cfg = FeatureConfig(fmin_hz=100.0, fmax_hz=4000.0)
    front = GccFrontEnd(load_array("respeaker4"), FS, cfg)
    n = 2048

    def example(f0: float, snr_db: float):
        s = harmonic(n, f0, rng)[:, None]
        nz = rng.standard_normal((n, 1)) * 10 ** (-snr_db / 20)
        S, N = front.stft(s[None]), front.stft(nz[None])
        X = front.stft((s + nz)[None])
        return log_power(X)[0], irm(S, N)[0]

    xs, ys = zip(*[example(rng.uniform(100, 250), rng.uniform(-5, 10)) for _ in range(24)], strict=True)
    x, y = torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))
    net = MaskNet(MaskConfig(channels=6, layers=3))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(120):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy(net(x), y)
        loss.backward()
        opt.step()
    f0 = 173.0
    lp, _ = example(f0, 0.0)
    with torch.no_grad():
        m = net(torch.from_numpy(lp[None]))[0].numpy().mean(axis=0)       # [K] (mean over snapshots)
    f = front.freqs_hz
    h = f / f0
    on = np.abs(h - np.round(h)) * f0 < 10.0                               # within 10 Hz of a harmonic
    off = np.abs(h - np.round(h) - 0.5 * np.sign(h - np.round(h))) * f0 < 25.0   # half-way between
    off &= ~on
    assert on.sum() > 10 and off.sum() > 10
    assert m[on].mean() > 0.6 and m[off].mean() < 0.3, (m[on].mean(), m[off].mean())


def test_checkpoint_round_trip(tiny_ckpt):
    """Reloading the checkpoint (weights_only) gives identical outputs; the localizer uses it."""
    path, front, data, net = tiny_ckpt
    net2, front2, ck = C.load_model(path)
    assert ck["format"] == C.FORMAT and ck["sample_rate_hz"] == FS and "code_revision" in ck
    assert ck["array"]["mics_m"] == load_array("respeaker4").to_dict()["mics_m"]
    lp, cr, ci, _, _ = data.batch(np.arange(8))
    net.eval()
    with torch.no_grad():
        y1, m1 = net(lp, cr, ci)
        y2, m2 = net2(lp, cr, ci)
    assert torch.equal(y1, y2) and torch.equal(m1, m2)
    np.testing.assert_array_equal(front2.lags, front.lags)
    from neuroaudio.localize.registry import make_localizer

    loc = make_localizer("gcc-phat-sm", "respeaker4", model=str(path))
    x = plane_wave(load_array("respeaker4"), 200.0, harmonic(16000, 150.0, np.random.default_rng(1)), FS)
    whole = loc.localize(x)
    blocks = loc.localize([x[:5000], x[5000:11000], x[11000:]])
    np.testing.assert_allclose(whole.spectrum, blocks.spectrum, atol=1e-9)   # streaming == whole


def test_mismatched_geometry_and_method_refused(tiny_ckpt, tmp_path):
    """A checkpoint of another array (5 mm off) exits 2 with one line; so does an SM model given to
    gcc-phat-mlp."""
    path, *_ = tiny_ckpt
    ck = C.read(path)
    mics = np.asarray(ck["array"]["mics_m"]) * 1.0
    mics[0, 0] += 0.005
    ck["array"] = MicArray("respeaker4_moved", mics, 16000).to_dict()
    bad = tmp_path / "moved.pt"
    C.save(bad, {k: v for k, v in ck.items() if k != "format"})
    wav = REPO / "data" / "examples" / "respeaker4_az120.wav"
    r = run_cli("localize", wav, "--method", "gcc-phat-sm", "--model", bad)
    assert r.returncode == 2, r.stderr
    assert "trained for array" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    from neuroaudio.errors import InputError
    from neuroaudio.localize.registry import make_localizer

    with pytest.raises(InputError, match="gcc-phat-sm model"):
        make_localizer("gcc-phat-mlp", "respeaker4", model=str(path))
    with pytest.raises(InputError, match="trained at 16000 Hz"):
        make_localizer("gcc-phat-sm", "respeaker4", model=str(path), fs=8000)


@pytest.mark.parametrize("method", ["gcc-phat-sm", "gcc-phat-mlp"])
def test_shipped_model_localizes_example(method):
    """The shipped respeaker4 models find the example talker at 120° within 5°."""
    from neuroaudio.localize.registry import make_localizer

    loc = make_localizer(method, "respeaker4")
    res = loc.localize_file(REPO / "data" / "examples" / "respeaker4_az120.wav")
    err = abs((res.azimuth_deg - 120.0 + 180.0) % 360.0 - 180.0)
    assert err <= 5.0, res.azimuth_deg


def test_train_command_runs_and_resumes(tmp_path):
    """`train gcc-phat-sm` on a tiny simulated config: one epoch, then a resumed second one."""
    out = tmp_path / "run"
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(json.dumps({
        "out_dir": str(out),
        "data": {"sim": str(REPO / "pipelines" / "quick.yaml"), "train_clips": 3, "val_clips": 2},
        **TINY}))
    r = run_cli("train", "gcc-phat-sm", "--config", cfg, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "best epoch 1" in r.stdout and (out / "model.pt").is_file() and (out / "curve.png").is_file()
    r = run_cli("train", "gcc-phat-sm", "-c", cfg, "--quiet", "--set", "train.epochs=2")
    assert r.returncode == 0, r.stderr
    rows = (out / "log.csv").read_text().strip().splitlines()
    assert len(rows) == 3 and rows[1].startswith("1,") and rows[2].startswith("2,")
    assert C.read(out / "last.pt")["epoch"] == 2
    from neuroaudio.errors import InputError
    from neuroaudio.gcc_phat_sm.config import load_pipeline

    with pytest.raises(InputError, match="mask_training"):
        load_pipeline(cfg, {"train": {"mask_training": "bogus"}})


def test_array_symmetries_permute_features(rng):
    """The ReSpeaker square has 8 symmetries; each maps the features of a scene onto those of the
    rotated/mirrored scene (the training augmentation and the posterior averaging rely on it)."""
    arr = load_array("respeaker4")
    front = GccFrontEnd(arr, FS, FeatureConfig())
    syms = front.usable_symmetries(360)
    assert len(syms) == 8 and sorted({s.rot_deg for s in syms}) == [0.0, 90.0, 180.0, 270.0]
    feat_idx, az_idx = front.symmetry_tables(360)
    sig = rng.standard_normal(4096)

    def feats(az: float) -> np.ndarray:
        lp, cr, ci = front.analyse(plane_wave(arr, az, sig, FS)[None, :2720])
        return gcc_features_np(cr, ci, None, front.cos, front.sin).reshape(-1)

    r = feats(23.4)
    for g, s in enumerate(syms):
        np.testing.assert_allclose(r[feat_idx[g]], feats(float(s.azimuth(23.4))), atol=2e-3)
        assert az_idx[g, 23] == int(round(float(s.azimuth(23.0)))) % 360
