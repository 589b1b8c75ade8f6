"""Array symmetries on RF-PLC coincidence frames: training augmentation and test-time averaging.

The encoder treats every mic alike and every pair ``(i, j)`` alike, and all pairs share one delay
grid that is symmetric about 0 (:func:`~neuroaudio.encoding.coincidence.detector_delays`:
``linspace(-dmax, dmax, n)``), so a symmetry of the array (:mod:`neuroaudio.symmetry`; the 8 of
the ReSpeaker square) maps the coincidence frame of a scene onto the frame of the symmetric
scene: the pair channels are permuted and a pair's delay axis is reversed where the pair's order
flips (detector ``d`` of ``(i, j)`` counts lag ``tau_ij = delays[d]``; ``tau_ji = -tau_ij`` is
detector ``D-1-d``). The band axis and the T steps are untouched. Measured on plane waves
(tests/test_maa_symmetry.py): the mapped frame equals the frame of the symmetric scene up to a few
coincidences that sit exactly on a detector boundary.

The transform acts on the raw counts, before the network's optional delay pooling, so it is
exact whatever ``input_pool`` is.
"""

from __future__ import annotations

import numpy as np
import torch

from ..angles import wrap_deg
from ..symmetry import Symmetry, array_symmetries, symmetry_tables, usable_symmetries


class FrameSymmetries:
    """The usable symmetries of an encoder's array and their index tables.

    Args:
        encoder: an :class:`~neuroaudio.encoding.encoder.RFPLCEncoder` (array, pairs, delay grid).
        n_azimuth: bins of the network's output (360: 1°).

    Attributes:
        syms: list of :class:`~neuroaudio.symmetry.Symmetry` (the identity first).
        feat_idx: ``[G, P*D]`` long tensor: frame ``x[..., P, D, F]`` of the symmetric scene g is
            ``x.reshape(..., P*D, F)[..., feat_idx[g], :]``.
        az_idx: ``[G, n_azimuth]`` long tensor: bin ``k`` of the original scene is bin
            ``az_idx[g, k]`` of the symmetric one.
        rot_deg, mirror: ``[G]`` arrays (label mapping, :meth:`azimuth`).
    """

    def __init__(self, encoder, n_azimuth: int = 360):
        self.n_pairs, self.n_delays = len(encoder.pairs), len(encoder.delays_samples)
        self.syms: list[Symmetry] = usable_symmetries(
            array_symmetries(encoder.array, np.asarray(encoder.delays_samples, float)), n_azimuth)
        feat, az = symmetry_tables(self.syms, self.n_pairs, self.n_delays, n_azimuth)
        self.feat_idx = torch.from_numpy(feat)
        self.az_idx = torch.from_numpy(az)
        self.rot_deg = np.array([s.rot_deg for s in self.syms], np.float32)
        self.mirror = np.array([s.mirror for s in self.syms])

    def __len__(self) -> int:
        return len(self.syms)

    def apply(self, x: torch.Tensor, g: torch.Tensor | np.ndarray | int) -> torch.Tensor:
        """Frames ``x [B, T, P, D, F]`` → the frames of the symmetric scenes.

        ``g``: one symmetry index for the whole batch, or ``[B]`` indices (one per frame).
        """
        b, t, p, d, f = x.shape
        xf = x.reshape(b, t, p * d, f)
        if isinstance(g, int | np.integer):
            return xf[:, :, self.feat_idx[int(g)]].reshape(b, t, p, d, f)
        idx = self.feat_idx[torch.as_tensor(g, dtype=torch.long)]                    # [B, P*D]
        out = xf[torch.arange(b)[:, None], :, idx]                                    # [B, P*D, T, F]
        return out.permute(0, 2, 1, 3).reshape(b, t, p, d, f)

    def azimuth(self, az_deg: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Azimuths ``[B]`` (degrees) of the sources after symmetries ``g [B]`` (mod 360)."""
        a = np.asarray(az_deg, np.float64)
        return wrap_deg(self.rot_deg[g] + np.where(self.mirror[g], -a, a))

    def posterior(self, p: torch.Tensor, g: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Posteriors ``p [B, n_azimuth]`` over the original scenes → over the symmetric scenes ``g
        [B]`` (bin ``k`` moves to ``az_idx[g, k]``; a teacher's soft target follows its frame)."""
        idx = self.az_idx[torch.as_tensor(g, dtype=torch.long)].to(p.device)
        return torch.zeros_like(p).scatter_(1, idx, p)

    def average(self, predict, x: torch.Tensor, groups: int | None = None) -> torch.Tensor:
        """Posterior ``[B, n_azimuth]`` averaged over the symmetric scenes (each mapped back).

        ``predict``: frames ``[B, T, P, D, F]`` → posterior ``[B, n_azimuth]``. ``groups``: use the
        first ``groups`` symmetries only (None: all).
        """
        n = len(self) if groups is None else max(1, min(int(groups), len(self)))
        p = 0
        for g in range(n):
            p = p + predict(self.apply(x, g))[:, self.az_idx[g]]
        return p / n
