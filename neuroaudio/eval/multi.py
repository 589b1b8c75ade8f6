"""Scores for several sources at once (issue 22): one-to-one assignment, recall and precision at a
tolerance, OSPA between sets of directions, and identity switches of tracks.

All angles are azimuths in degrees; the distance between two is the circular error of
conventions.md. The assignment is the optimal one-to-one matching that minimises the summed
error (``scipy.optimize.linear_sum_assignment``), never a greedy nearest match.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..angles import circular_error_deg


def circular_distances(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    """``[len(a), len(b)]`` circular errors (deg, in [0, 180])."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return circular_error_deg(a[:, None], b[None, :])


def assigned_errors(truth: Sequence[float], est: Sequence[float]) -> np.ndarray:
    """Each true source's error (deg) under the optimal one-to-one assignment to the estimates,
    ``[len(truth)]``; ``inf`` for a source left without an estimate (fewer estimates than sources)."""
    out = np.full(len(truth), np.inf)
    if len(truth) and len(est):
        d = circular_distances(truth, est)
        r, c = linear_sum_assignment(d)
        out[r] = d[r, c]
    return out


def recall_precision(truth: Sequence[float], est: Sequence[float], tol_deg: float = 10.0
                     ) -> tuple[int, int, int]:
    """``(matched, n_truth, n_est)``: the pairs of the optimal assignment within ``tol_deg``
    (recall = matched / n_truth, precision = matched / n_est). The assignment minimises the
    summed error with pairs beyond the tolerance counted as the tolerance (so it maximises the
    matches first)."""
    if not len(truth) or not len(est):
        return 0, len(truth), len(est)
    d = circular_distances(truth, est)
    cost = np.where(d <= tol_deg, d, tol_deg * 10)
    r, c = linear_sum_assignment(cost)
    return int(np.sum(d[r, c] <= tol_deg)), len(truth), len(est)


def ospa(truth: Sequence[float], est: Sequence[float], cutoff_deg: float = 30.0, order: int = 1) -> float:
    """OSPA distance (Schuhmacher et al. 2008) between two sets of azimuths (deg): the mean over
    ``max(m, n)`` of the assigned errors capped at ``cutoff_deg``, each missing or extra element
    costing the cutoff; 0 for two empty sets, ``cutoff_deg`` when one is empty."""
    m, n = len(truth), len(est)
    if m == 0 and n == 0:
        return 0.0
    if m == 0 or n == 0:
        return float(cutoff_deg)
    d = np.minimum(circular_distances(truth, est), cutoff_deg) ** order
    r, c = linear_sum_assignment(d)
    total = d[r, c].sum() + cutoff_deg ** order * abs(m - n)
    return float((total / max(m, n)) ** (1.0 / order))


class IdSwitches:
    """Identity switches of tracks against true sources, frame by frame.

    Each frame the true sources are assigned one-to-one to the reported tracks (within
    ``gate_deg``); a switch is counted when a true source is matched to a track id other than the
    one it was last matched to (a source that was unmatched for a while and comes back on its old
    id is no switch).
    """

    def __init__(self, gate_deg: float = 30.0):
        self.gate_deg = float(gate_deg)
        self.last: dict[int, int] = {}
        self.switches = 0

    def update(self, truth: Sequence[float], tracks: Sequence[tuple[int, float]]) -> None:
        """One frame: true azimuths ``[T]`` and the reported tracks ``[(id, azimuth_deg)]``."""
        if not len(truth) or not len(tracks):
            return
        d = circular_distances(truth, [a for _, a in tracks])
        r, c = linear_sum_assignment(d)
        for k, j in zip(r, c, strict=True):
            if d[k, j] > self.gate_deg:
                continue
            tid = tracks[j][0]
            if k in self.last and self.last[k] != tid:
                self.switches += 1
            self.last[int(k)] = tid
