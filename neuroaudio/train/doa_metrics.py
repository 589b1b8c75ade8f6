"""Validation metrics shared by the DOA trainers (`train maa`, `train gcc-phat-sm`).

Per frame: MAE (degrees), ACC@5° and ACC@10° of the frames' argmax directions; per clip: the MAE of
the argmax of the clip's mean posterior (the frames pooled as the localizer pools them).
"""

from __future__ import annotations

import math

import numpy as np

from ..angles import circular_error_deg

DOA_METRIC_KEYS = ("val_mae", "val_acc5", "val_acc10", "val_clip_mae")


def doa_metrics(frame_err_deg: np.ndarray, probs: np.ndarray, clip: np.ndarray,
                azimuth_deg: np.ndarray) -> dict[str, float]:
    """Frame and clip metrics.

    Args:
        frame_err_deg: ``[m]`` circular errors (degrees) of the frames that count per frame (all
            frames, or the source-active ones).
        probs: ``[n, n_az]`` every frame's posterior over the azimuth grid (360/n_az-degree bins).
        clip: ``[n]`` clip index of each frame; azimuth_deg: ``[n]`` its true direction (degrees).

    Returns: ``val_mae``, ``val_acc5``, ``val_acc10``, ``val_clip_mae`` (NaN when there are no frames).
    """
    e = np.asarray(frame_err_deg, dtype=float)
    if e.size == 0 or len(probs) == 0:
        return dict.fromkeys(DOA_METRIC_KEYS, math.nan)
    clip_err = []
    for c in np.unique(clip):
        sel = clip == c
        pred = float(np.argmax(probs[sel].mean(0))) * 360.0 / probs.shape[1]
        clip_err.append(float(circular_error_deg(pred, float(azimuth_deg[sel][0]))))
    return {"val_mae": float(e.mean()), "val_acc5": float((e <= 5).mean()),
            "val_acc10": float((e <= 10).mean()), "val_clip_mae": float(np.mean(clip_err))}
