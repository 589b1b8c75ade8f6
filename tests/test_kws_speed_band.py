"""Speed perturbation and the front-end's band: slowed views (f < 1) of 8-kHz audio have nothing
above f · 4 kHz, so the log-mel front-end must stop there (issue 20, experiments/kws_speed_check)."""

import dataclasses
import logging

import numpy as np
import torch

from neuroaudio.kws.augment import ClipBank, augment_batch, speed_band_hz, speed_band_warning
from neuroaudio.kws.config import AugmentConfig, load_config
from neuroaudio.kws.frontend import Frontend

from .conftest import REPO

FS = 8000


def band_gap_db(frontend_cfg, speed: float) -> np.ndarray:
    """Per mel band: mean log-mel (dB, before floor and MVN) of a white-noise clip's training view at
    ``speed`` (band-limited resampling) minus that of the clip itself, relative to the median over
    the bands (the front-end subtracts each clip's maximum)."""
    x = np.random.default_rng(0).standard_normal(6000).astype(np.float32) * 0.1
    bank = ClipBank([x], [0], FS, 8000, "centre", 1.15)
    aug = AugmentConfig(speed=[speed, speed], gain_db=0.0, noise_prob=0.0, placement="shift", shift_s=0.0,
                        batch=True, resample="sinc")
    view = augment_batch(bank, torch.tensor([0]), aug, torch.Generator().manual_seed(0))
    fe = Frontend(dataclasses.replace(frontend_cfg, mvn=False, floor_db=200.0), FS)

    def band_db(y: torch.Tensor) -> np.ndarray:
        """Mean over the frames that lie wholly inside the noise (not in the zero padding)."""
        nz = np.flatnonzero(y[0].numpy())
        t = np.arange(fe.n_frames(y.shape[-1])) * fe.cfg.hop
        inside = torch.from_numpy((t >= nz[0]) & (t + fe.cfg.n_fft <= nz[-1]))
        return 10 * fe(y)[0][:, inside].mean(-1).numpy()       # front-end: ln(power) / 10 -> ln(power)

    gap = (band_db(view) - band_db(torch.from_numpy(np.pad(x, (1000, 1000)))[None])) * 10 / np.log(10)
    return gap - np.median(gap)


def test_a_slowed_view_leaves_the_top_bands_empty_under_a_front_end_to_nyquist():
    cfg = load_config(REPO / "pipelines" / "kws_drf_recipe.yaml", ["frontend.fmax_hz=4000"]).frontend
    gap = band_gap_db(cfg, 0.85)
    assert np.abs(gap[:30]).max() < 2.0             # white noise stays white below f · 4 kHz
    assert gap[-1] < -12.0 and gap[-3:].mean() < -8.0   # top bands (> 3.4 kHz) empty in the slowed view
    assert np.abs(band_gap_db(cfg, 1.0)).max() < 0.3   # f = 1: the clip itself
    assert speed_band_hz(FS, [0.85, 1.15]) == 3400.0


def test_a_front_end_that_stops_at_the_speed_band_sees_every_band_in_every_view():
    cfg = load_config(REPO / "pipelines" / "kws_drf_recipe.yaml", ["frontend.fmax_hz=3400"])
    lo = cfg.train.augment.speed[0]
    assert lo < 1.0
    assert cfg.frontend.fmax_hz <= speed_band_hz(FS, cfg.train.augment.speed)
    for f in (lo, 1.0, cfg.train.augment.speed[1]):
        gap = band_gap_db(cfg.frontend, f)
        assert np.abs(gap).max() < 4.0, (f, gap.round(1))   # top band: sinc roll-off, -3.2 dB


def test_training_warns_when_the_front_end_reads_past_the_speed_band(caplog):
    assert speed_band_warning("logmel", None, FS, [0.85, 1.15]).endswith("fmax_hz <= 3400")
    assert speed_band_warning("logmel", 3400.0, FS, [0.85, 1.15]) is None
    assert speed_band_warning("logmel", None, FS, [1.0, 1.15]) is None
    assert speed_band_warning("raw", None, FS, [0.85, 1.15]) is None
    from neuroaudio.kws.data import Item, Splits
    from neuroaudio.kws.train import KWSTask

    x = np.zeros(4000, np.float32)
    sp = Splits(["a", "b"], FS, train=[Item(0, "s", None, x), Item(1, "s", None, x)])
    with caplog.at_level(logging.WARNING, logger="neuroaudio"):
        KWSTask(load_config(REPO / "pipelines" / "kws_drf_recipe.yaml", ["frontend.fmax_hz=4000"]), sp,
                torch.device("cpu"))
    assert "3400-4000 Hz empty" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="neuroaudio"):
        KWSTask(load_config(REPO / "pipelines" / "kws_drf_recipe.yaml", ["frontend.fmax_hz=3400"]), sp,
                torch.device("cpu"))
    assert "empty" not in caplog.text
