"""The DOA validation metrics shared by `train maa` and `train gcc-phat-sm` (train/doa_metrics.py)."""

import math

import numpy as np

from neuroaudio.train.doa_metrics import DOA_METRIC_KEYS, doa_metrics


def _peak(k: int, n_az: int = 360) -> np.ndarray:
    p = np.full(n_az, 0.1 / (n_az - 1))
    p[k] = 0.9
    return p


def test_frame_and_clip_metrics():
    # clip 0 (truth 10 deg): its frames peak at 12 and at 12/20 -> pooled argmax 12 deg (2 deg off)
    # clip 1 (truth 359 deg): one frame at 1 deg -> 2 deg off across the wrap
    probs = np.stack([_peak(12), _peak(20) * 0.5 + _peak(12) * 0.5, _peak(1)])
    clip = np.array([0, 0, 1])
    truth = np.array([10.0, 10.0, 359.0])
    frame_err = np.array([2.0, 6.0, 12.0])
    m = doa_metrics(frame_err, probs, clip, truth)
    assert math.isclose(m["val_mae"], 20 / 3)
    assert math.isclose(m["val_acc5"], 1 / 3) and math.isclose(m["val_acc10"], 2 / 3)
    assert math.isclose(m["val_clip_mae"], (2.0 + 2.0) / 2)


def test_grid_step_follows_the_posterior_size():
    probs = _peak(9, n_az=72)[None]            # 5-degree bins: bin 9 = 45 deg
    m = doa_metrics(np.array([1.0]), probs, np.array([0]), np.array([50.0]))
    assert math.isclose(m["val_clip_mae"], 5.0)


def test_no_frames_gives_nan():
    m = doa_metrics(np.zeros(0), np.zeros((0, 360)), np.zeros(0), np.zeros(0))
    assert set(m) == set(DOA_METRIC_KEYS) and all(math.isnan(v) for v in m.values())
