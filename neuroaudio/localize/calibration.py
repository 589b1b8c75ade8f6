"""Confidence that means something: each method's file-level confidence mapped to the chance
that its estimate is within 10 degrees of the truth.

A method's raw confidence (the pooled spectrum's peakiness, ``1 - mean/peak``) ranks its own
estimates but is not comparable between methods (gcc-phat said 0.62 and the learned methods 0.95
on the same file). The calibrated confidence is ``P(error <= 10 deg | raw confidence)``, an
isotonic (monotone non-decreasing) map fitted per method by pool-adjacent-violators on a
simulated calibration set that is no benchmark (``pipelines/calibration.yaml`` plus
``benchmarks/short_word_scenes.py --seed 1818``), with ``(hits + 1) / (n + 2)`` per block so no
value is exactly 0 or 1. ``benchmarks/fit_calibration.py`` fits the maps and writes
:data:`CALIBRATION_FILE` (a few hundred bytes per method); docs/localize.md shows the reliability
plot and the expected calibration error per method on dev_bench and heldout_bench.

A map holds for the array, pooling and frame settings it was fitted with (recorded in the file):
a localizer with other settings reports its raw confidence (``LocalizationResult.extra
["confidence_calibrated"]`` says which). ``-o calibrate=false`` also keeps the raw value.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

CALIBRATION_FILE = Path(__file__).resolve().parents[2] / "data" / "calibration" / "confidence_respeaker4.json"
WITHIN_DEG = 10.0
"""The calibrated confidence is the chance of an error at most this (degrees)."""


def fit_isotonic(x: np.ndarray, hit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators fit of ``P(hit | x)``, non-decreasing in ``x``.

    Args:
        x: raw confidences ``[n]``.
        hit: 1 where the estimate was within :data:`WITHIN_DEG`, else 0, ``[n]``.

    Returns:
        ``(knots_x, knots_p)``: each block's mean ``x`` and its ``(hits + 1) / (n + 2)``, both
        ``[blocks]``, ``knots_p`` non-decreasing; apply with :func:`apply_map`.
    """
    order = np.argsort(x, kind="stable")
    xs, ys = np.asarray(x, float)[order], np.asarray(hit, float)[order]
    blocks: list[list[float]] = []           # [sum_x, sum_y, n]
    for xi, yi in zip(xs, ys, strict=True):
        blocks.append([xi, yi, 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            sx, sy, n = blocks.pop()
            blocks[-1] = [blocks[-1][0] + sx, blocks[-1][1] + sy, blocks[-1][2] + n]
    b = np.array(blocks)
    px = b[:, 0] / b[:, 2]
    pp = (b[:, 1] + 1.0) / (b[:, 2] + 2.0)
    return px, np.maximum.accumulate(pp)      # the Laplace step can only keep the order


def apply_map(raw: np.ndarray | float, knots_x: np.ndarray, knots_p: np.ndarray) -> np.ndarray:
    """Calibrated confidence: piecewise linear through the knots, flat outside, in (0, 1)."""
    return np.clip(np.interp(raw, knots_x, knots_p), 0.0, 1.0)


def expected_calibration_error(conf: np.ndarray, hit: np.ndarray, bins: int = 10) -> float:
    """ECE: ``sum_b n_b / N * |mean hit_b - mean conf_b|`` over ``bins`` equal-width bins."""
    conf, hit = np.asarray(conf, float), np.asarray(hit, float)
    k = np.clip((conf * bins).astype(int), 0, bins - 1)
    e = 0.0
    for b in range(bins):
        m = k == b
        if m.any():
            e += m.mean() * abs(hit[m].mean() - conf[m].mean())
    return float(e)


@lru_cache(maxsize=4)
def _load(path: str) -> dict:
    p = Path(path)
    if not p.is_file():
        return {}
    return json.loads(p.read_text(encoding="utf-8"))


def calibration_map(method: str, settings: dict, path: Path = CALIBRATION_FILE
                    ) -> tuple[np.ndarray, np.ndarray] | None:
    """The fitted map of ``method`` if it was fitted with these ``settings``, else None."""
    entry = _load(str(path)).get("methods", {}).get(method)
    if not entry or any(entry.get("settings", {}).get(k) != v for k, v in settings.items()):
        return None
    return np.asarray(entry["knots_x"], float), np.asarray(entry["knots_p"], float)
