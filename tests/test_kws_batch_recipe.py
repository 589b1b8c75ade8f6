"""The speaker-independent KWS recipe: relative floor + per-utterance MVN, energetic-window placement,
batched augmentation (speed, placement, gain, white/pink noise, SpecAugment masks), one-cycle
schedule, and a training run of pipelines/kws_drf_recipe.yaml's options on tiny data."""

import math

import numpy as np
import pytest
import torch

from neuroaudio.errors import InputError
from neuroaudio.kws.augment import (
    ClipBank,
    active_span,
    augment_batch,
    draw_bands,
    pink_like,
    place_energetic,
    spec_masks,
)
from neuroaudio.kws.checkpoint import load_model
from neuroaudio.kws.config import AugmentConfig, config_from_dict, load_config
from neuroaudio.kws.data import Splits, fit_window
from neuroaudio.kws.evaluate import evaluate_items
from neuroaudio.kws.frontend import Frontend
from neuroaudio.kws.schedule import lr_at
from neuroaudio.kws.train import train

from .conftest import REPO
from .test_kws import CFG, FS, chirp_items

RECIPE = {"n_mels": 40, "n_fft": 200, "hop": 80, "fmax_hz": 4000.0, "floor_db": 40.0}


def burst(f_hz: float, start: int, length: int, total: int, amp: float = 0.5) -> np.ndarray:
    """A tone of ``length`` samples at ``start`` in ``total`` samples of silence (8 kHz)."""
    x = np.zeros(total, np.float32)
    t = np.arange(length) / FS
    x[start:start + length] = amp * np.sin(2 * np.pi * f_hz * t)
    return x


def db_features(fe: Frontend, x: np.ndarray) -> torch.Tensor:
    """Features of a front-end without MVN back in dB relative to the clip maximum."""
    return fe(torch.from_numpy(x)[None])[0] * 10 * 10 / math.log(10)


def test_floor_is_40_db_under_the_utterance_maximum():
    fe = Frontend(config_from_dict({"frontend": RECIPE}).frontend, FS)
    hiss = 1e-4 * np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    x = burst(1000.0, 3000, 1600, 8000) + hiss
    db = db_features(fe, x)
    assert fe.n_frames(8000) == db.shape[1] == 98                 # 25-ms windows every 10 ms
    assert float(db.max()) == pytest.approx(0.0, abs=1e-4)
    assert float(db.min()) == pytest.approx(-40.0, abs=1e-3)       # clamped at the floor
    assert float((db <= -40.0 + 1e-3).float().mean()) > 0.3        # the quiet frames sit on it
    fe80 = Frontend(config_from_dict({"frontend": {**RECIPE, "floor_db": 80.0}}).frontend, FS)
    assert float(db_features(fe80, x).min()) < -45.0               # the floor is the config's


def test_mvn_gives_each_utterance_zero_mean_unit_variance_and_ignores_gain():
    fe = Frontend(config_from_dict({"frontend": {**RECIPE, "mvn": True}}).frontend, FS)
    rng = np.random.default_rng(1)
    x = np.stack([burst(600.0 + 300 * k, 500 * k, 3000, 8000, 0.01 + 0.2 * k) for k in range(4)])
    x = x + 1e-3 * rng.standard_normal(x.shape).astype(np.float32)
    y = fe(torch.from_numpy(x))
    assert y.shape == (4, 40, 98)
    torch.testing.assert_close(y.mean(dim=(1, 2)), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(dim=(1, 2), unbiased=False), torch.ones(4), atol=1e-4, rtol=0)
    # gain is invisible after the relative floor and MVN (up to the 1e-12 power floor of the log)
    torch.testing.assert_close(fe(torch.from_numpy(4 * x)), y, atol=1e-4, rtol=0)
    assert torch.equal(fe(torch.zeros(1, 8000)), torch.zeros(1, 40, 98))   # constant clip: zeros, no NaN


def test_energetic_window_is_centred_on_the_word():
    x = burst(800.0, 6000, 2400, 14000)                          # word at 0.75-1.05 s of a 1.75-s file
    assert active_span(x, FS) == (6000, 8400)
    w = place_energetic(x, 8000, FS)
    on = np.flatnonzero(np.abs(w) > 1e-6)
    assert abs((on[0] + on[-1]) / 2 - 4000) <= 2                 # the word's middle at the window's
    start = 7200 - 4000                                          # span (6000, 8400): middle 7200
    np.testing.assert_array_equal(w, x[start:start + 8000])
    np.testing.assert_array_equal(fit_window(x, 8000, FS, "centre"), x[3000:11000])   # old: file centre
    short = burst(500.0, 100, 800, 2000)
    w = place_energetic(short, 8000, FS)
    assert np.abs(w).sum() == pytest.approx(np.abs(short).sum(), rel=1e-6)   # shorter clip: kept whole


def bank_of(clips, n=8000, placement="energy", max_speed=1.15):
    return ClipBank(clips, list(range(len(clips))), FS, n, placement, max_speed)


def test_speed_perturbation_scales_length_and_pitch_by_the_factor():
    x = burst(500.0, 4000, 4000, 12000)
    bank = bank_of([x] * 3)
    for f in (0.85, 1.0, 1.15):
        aug = AugmentConfig(batch=True, speed=[f, f], gain_db=0.0, noise_prob=0.0, shift_s=0.0)
        y = augment_batch(bank, torch.tensor([0, 1, 2]), aug, torch.Generator().manual_seed(0))
        assert torch.equal(y[0], y[1])                            # fixed factor, centred: same view
        on = torch.nonzero(y[0].abs() > 1e-4).flatten()
        length = int(on[-1] - on[0] + 1)
        assert abs(length - 4000 / f) <= 3                        # tempo: 4000 samples -> 4000 / f
        assert abs(int((on[0] + on[-1]) // 2) - 4000) <= 2       # the span stays centred
        spec = torch.fft.rfft(y[0].double()).abs()
        peak_hz = float(spec.argmax()) * FS / 8000
        assert abs(peak_hz - 500.0 * f) <= 2.0                    # pitch: 500 Hz -> 500 f Hz


def test_placement_keeps_the_word_inside_the_window_and_spreads_it():
    x = burst(700.0, 3000, 2000, 8000)
    bank = bank_of([x] * 256)
    aug = AugmentConfig(batch=True, placement="uniform", speed=[1.0, 1.0], gain_db=0.0, noise_prob=0.0)
    y = augment_batch(bank, torch.arange(256), aug, torch.Generator().manual_seed(2))
    for i in range(0, 256, 17):                                   # the whole word, unaltered, in every view
        k = int(torch.nonzero(y[i]).min())
        assert torch.equal(y[i, k:k + 1999], torch.from_numpy(x[3001:5000]))
    on = y.abs() > 1e-4
    first = on.float().argmax(1)
    last = 7999 - on.flip(1).float().argmax(1)
    assert float(first.min()) < 400 and float(last.max()) > 7600          # reaches both ends
    assert float(((first + last) / 2).std()) > 1000                          # spread, not centred
    shift = AugmentConfig(batch=True, placement="shift", shift_s=0.15, speed=[1.0, 1.0], gain_db=0.0,
                          noise_prob=0.0)
    y = augment_batch(bank, torch.arange(256), shift, torch.Generator().manual_seed(2))
    mid = ((y.abs() > 1e-4).float() * torch.arange(8000)).sum(1) / (y.abs() > 1e-4).sum(1)
    assert float((mid - 4000).abs().max()) <= 0.15 * FS + 2      # ± shift_s around the centre


def test_gain_and_noise_levels():
    x = burst(900.0, 2000, 4000, 8000, amp=0.1)
    bank = bank_of([x] * 2000)
    aug = AugmentConfig(batch=True, speed=[1.0, 1.0], shift_s=0.0, gain_db=6.0, noise_prob=0.0)
    clean = augment_batch(bank, torch.arange(2000), aug, torch.Generator().manual_seed(3))
    g_db = 20 * torch.log10(clean.abs().amax(1) / 0.1)
    assert float(g_db.min()) >= -6.01 and float(g_db.max()) <= 6.01 and float(g_db.std()) > 3
    noisy_cfg = AugmentConfig(batch=True, speed=[1.0, 1.0], shift_s=0.0, gain_db=6.0, noise_prob=0.7,
                              noise_snr_db=[5.0, 40.0], noise_colors=["white", "pink"])
    noisy = augment_batch(bank, torch.arange(2000), noisy_cfg, torch.Generator().manual_seed(3))
    noise = noisy - clean                                         # same draws: gain and placement equal
    has = noise.abs().amax(1) > 0
    assert abs(float(has.float().mean()) - 0.7) < 0.04            # 70% of the clips
    p_sig = clean[:, 2000:6000].pow(2).mean(1)
    snr = 10 * torch.log10(p_sig[has] / noise[has].pow(2).mean(1))
    assert float(snr.min()) > 5.0 - 0.5 and float(snr.max()) < 40.0 + 0.5
    assert float(snr.mean()) == pytest.approx(22.5, abs=1.5)      # U(5, 40) dB


def test_pink_noise_has_a_1_over_f_spectrum_and_unit_power():
    pink = pink_like(torch.randn(64, 8000, generator=torch.Generator().manual_seed(4)))
    torch.testing.assert_close(pink.pow(2).mean(1), torch.ones(64), atol=1e-5, rtol=0)
    psd = torch.fft.rfft(pink.double()).abs().pow(2).mean(0)[1:]
    k = torch.arange(1, len(psd) + 1, dtype=torch.float64)
    slope = np.polyfit(np.log10(k.numpy()), np.log10(psd.numpy()), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.05)


def test_spec_masks_are_bounded_and_filled_with_the_clip_mean():
    g = torch.Generator().manual_seed(5)
    one = draw_bands(4000, 40, 1, 6, g)
    widths = one.sum(1)
    assert int(widths.max()) == 6 and int(widths.min()) == 0       # each mask 0..6 bands
    assert set(widths.tolist()) == set(range(7))
    runs = one.int().diff(dim=1).clamp_min(0).sum(1) + one[:, 0].int()
    assert int(runs.max()) == 1                                    # one contiguous band
    two = draw_bands(4000, 98, 2, 10, g)
    assert int(two.sum(1).max()) <= 20 and int(two.sum(1).max()) > 10   # 2 masks of <= 10 frames
    assert not draw_bands(8, 6, 2, 6, g).any()                     # a mask must fit strictly
    x = torch.randn(16, 40, 98)
    y = spec_masks(x, 2, 6, 2, 10, torch.Generator().manual_seed(6))
    changed = y != x
    fill = x.mean(dim=(1, 2))
    for i in range(16):
        assert torch.all(y[i][changed[i]] == fill[i])
    f_masked = changed.all(2).sum(1)
    t_masked = changed.all(1).sum(1)
    assert int(f_masked.max()) <= 12 and int(t_masked.max()) <= 20 and changed.any()


def test_onecycle_matches_torch_and_peaks_at_lr():
    total, lr = 200, 3e-3
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.3,
                                                anneal_strategy="cos", cycle_momentum=False)
    want = []
    for _ in range(total):
        want.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    got = [lr_at(s, total, lr, "onecycle", 0.3) for s in range(total)]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)
    assert max(got) == pytest.approx(lr) and int(np.argmax(got)) == 59      # peak after 30% of the steps
    assert got[0] == pytest.approx(lr / 25) and got[-1] == pytest.approx(lr / 25 / 1e4)
    assert lr_at(0, 100, 1.0) == 1.0 and lr_at(50, 100, 1.0) == pytest.approx(0.5)   # cosine unchanged


def test_recipe_options_are_validated():
    for bad in ({"data": {"placement": "energy"}}, {"train": {"augment": {"placement": "uniform"}}},
                {"train": {"augment": {"noise_colors": ["white", "pink"]}}},
                {"train": {"augment": {"freq_masks": 2}}}):
        with pytest.raises(InputError, match="augment.batch: true"):
            config_from_dict(bad)                                  # batch is off by default
        with_batch = {**bad, "train": {"augment": {**bad.get("train", {}).get("augment", {}), "batch": True}}}
        config_from_dict(with_batch)
    for bad, msg in (({"train": {"schedule": "step"}}, "cosine or onecycle"),
                     ({"train": {"augment": {"batch": True, "noise_colors": ["brown"]}}}, "white, pink"),
                     ({"data": {"placement": "left"}}, "centre or energy"),
                     ({"frontend": {"kind": "raw", "mvn": True}}, "logmel")):
        with pytest.raises(InputError, match=msg):
            config_from_dict(bad)
    cfg = load_config(REPO / "pipelines" / "kws_drf_recipe.yaml")
    fe = cfg.frontend
    assert (fe.n_fft, fe.hop, fe.fmax_hz, fe.floor_db, fe.mvn, fe.cmn) == (200, 80, 4000.0, 40.0, True, False)
    t = cfg.train
    assert (t.schedule, t.lr, t.weight_decay, t.epochs, t.batch_size, cfg.model.dropout) == (
        "onecycle", 3e-3, 1e-2, 30, 64, 0.3)
    a = cfg.train.augment
    assert (a.batch, a.placement, a.speed, a.noise_prob, a.freq_masks, a.time_masks) == (
        True, "uniform", [0.85, 1.15], 0.7, 2, 2)


def test_recipe_trains_resumes_and_evaluates_with_its_placement(tmp_path):
    conf = {**CFG, "out_dir": str(tmp_path / "r"),
            "data": {**CFG["data"], "placement": "energy"},
            "frontend": {**CFG["frontend"], "n_fft": 200, "floor_db": 40.0, "mvn": True},
            "model": {**CFG["model"], "dropout": 0.3},
            "train": {**CFG["train"], "epochs": 6, "schedule": "onecycle",
                      "augment": {"batch": True, "placement": "uniform", "speed": [0.85, 1.15],
                                  "noise_prob": 0.7, "noise_snr_db": [5.0, 40.0],
                                  "noise_colors": ["white", "pink"], "freq_masks": 2, "time_masks": 2,
                                  "freq_mask": 4, "time_mask": 5}}}
    sp = Splits(["up", "down"], FS, train=chirp_items(160, 1), val=chirp_items(40, 2),
                test=chirp_items(60, 3))
    m = train(config_from_dict(conf), resume=False, progress=False, splits=sp)
    assert m["test_accuracy"] >= 0.9 and m["epochs"] == 6
    model = load_model(tmp_path / "r" / "model.pt")
    assert model.cfg.data.placement == "energy" and model.cfg.frontend.mvn
    probs = evaluate_items(model, sp.test)["probs"]
    # the batched augmentation is seeded: a second run gives the same model
    m2 = train(config_from_dict({**conf, "out_dir": str(tmp_path / "s")}), resume=False, progress=False,
               splits=sp)
    assert m2["test_accuracy"] == m["test_accuracy"]
    np.testing.assert_array_equal(evaluate_items(load_model(tmp_path / "s" / "model.pt"), sp.test)["probs"],
                                  probs)
