"""Speed perturbation of the batched augmentation: linear vs band-limited (sinc) resampling."""

import numpy as np
import pytest
import torch

from neuroaudio.errors import InputError
from neuroaudio.kws.augment import ClipBank, augment_batch
from neuroaudio.kws.config import AugmentConfig, config_from_dict

from .test_kws import CFG

FS = 8000


def view(x: np.ndarray, speed: float, resample: str) -> np.ndarray:
    bank = ClipBank([x], [0], FS, 8000, "centre", 1.15)
    aug = AugmentConfig(speed=[speed, speed], gain_db=0.0, noise_prob=0.0, placement="shift", shift_s=0.0,
                        batch=True, resample=resample)
    return augment_batch(bank, torch.tensor([0]), aug, torch.Generator().manual_seed(0))[0].numpy()


def band_tilt_db(y: np.ndarray) -> float:
    """Mean power in 2.5-3.3 kHz over 0.5-1.5 kHz, dB."""
    p = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / FS)
    return float(10 * np.log10(p[(f >= 2500) & (f < 3300)].mean() / p[(f >= 500) & (f < 1500)].mean()))


def test_sinc_resampling_keeps_the_band_flat_where_linear_damps_it():
    x = (0.1 * np.random.default_rng(0).standard_normal(6000)).astype(np.float32)       # white
    assert abs(band_tilt_db(view(x, 1.0, "linear"))) < 0.3
    lin, sinc = band_tilt_db(view(x, 0.9, "linear")), band_tilt_db(view(x, 0.9, "sinc"))
    assert lin < -3.0 and abs(sinc) < 0.7                       # measured -3.9 / -0.3 dB
    assert abs(band_tilt_db(view(x, 1.07, "sinc"))) < 0.7


def test_sinc_resampling_is_the_clip_at_speed_one_and_moves_a_tone():
    t = np.arange(6000) / FS
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t) * np.hanning(6000)).astype(np.float32)
    y = view(tone, 1.0, "sinc")
    start = (8000 - 6000) // 2
    np.testing.assert_allclose(y[start:start + 6000], tone, atol=1e-5)
    for speed in (0.85, 1.15):
        y = view(tone, speed, "sinc")
        f = np.fft.rfftfreq(len(y), 1 / FS)[np.abs(np.fft.rfft(y)).argmax()]
        assert f == pytest.approx(1000 * speed, abs=2)


def test_resample_option_is_checked():
    with pytest.raises(InputError, match="resample"):
        config_from_dict({**CFG, "train": {**CFG["train"], "augment": {"batch": True, "resample": "cubic"}}})
    with pytest.raises(InputError, match="batch"):
        config_from_dict({**CFG, "train": {**CFG["train"], "augment": {"resample": "sinc"}}})
