"""Symmetries of a microphone array and how they act on pair-wise features and azimuth posteriors.

A rotation of the array plane (optionally with the mirror ``y → -y``) that maps the mics onto
themselves turns a scene into another valid scene of the same array: new mic ``m`` hears what old
mic ``sigma^-1(m)`` heard, and the source moves from azimuth ``az`` to ``rot_deg + (±az)``. On any
feature laid out per ordered mic pair ``(i, j)`` (``i < j``, :meth:`MicArray.pairs`) and per lag
``tau_ij`` (GCC-PHAT lags, RF-PLC delay detectors) that is a permutation of the pairs, with the lag
axis reversed where the pair's order flips (``tau_ji = -tau_ij``: exact when the pair's lag grid is
symmetric about 0, which :func:`array_symmetries` checks). For the ReSpeaker 4-mic square: the 8
symmetries of the square (identity, rotations by 90/180/270°, 4 reflections).

Users: GCC-PHAT-SM (:mod:`neuroaudio.gcc_phat_sm`: flattened ``[pairs·lags]`` features) and MAA
(:mod:`neuroaudio.maa`: coincidence tensors ``[..., pairs, delays, bands]``), both for training
augmentation (a random symmetric scene per frame) and for averaging a posterior over the symmetric
scenes at test time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .angles import wrap_deg
from .arrays import MicArray


@dataclass(frozen=True)
class Symmetry:
    """A rotation (and optional mirror) of the array plane that maps the mics onto each other.

    Rotating a scene by the transform ``T`` (``T p_m = p_sigma(m)``) is the same as relabelling the
    channels: new mic ``m`` hears what old mic ``sigma^-1(m)`` heard, and the source moves from
    azimuth ``az`` to ``rot_deg + (-az if mirror else az)``. On pair features, pair ``q`` of the
    transformed scene is pair ``src[q]`` of the original, lag-reversed where ``flip[q]`` (the pair's
    order swapped: ``tau`` changes sign; for GCC the cross-spectrum is conjugated).

    Attributes: ``src`` ``[P]`` int, ``flip`` ``[P]`` bool, ``rot_deg``, ``mirror``.
    """

    src: tuple[int, ...]
    flip: tuple[bool, ...]
    rot_deg: float
    mirror: bool

    def azimuth(self, az_deg):
        """Where a source at ``az_deg`` lands after the transform (degrees, mod 360)."""
        return wrap_deg(self.rot_deg + (-np.asarray(az_deg) if self.mirror else np.asarray(az_deg)))


def array_symmetries(array: MicArray, lags: np.ndarray, tol_m: float = 1e-5,
                     steps: int = 360) -> list[Symmetry]:
    """Every rotation by a whole multiple of ``360/steps`` degrees, with and without the mirror
    ``y → -y``, that maps the mic positions onto themselves (within ``tol_m``) and keeps each
    pair's lag grid (``lags`` ``[P, L]`` samples, one grid per pair; a shared grid ``[L]`` is
    broadcast to every pair). A symmetry that swaps a pair's order also needs that pair's grid to
    be symmetric about 0 (``lags[::-1] == -lags``), else the lag reversal would not be exact and the
    symmetry is left out. The identity comes first. For the ReSpeaker 4-mic array: the 8
    symmetries of the square."""
    p = np.asarray(array.mics_m, dtype=float)
    pairs = [tuple(int(v) for v in q) for q in array.pairs()]
    lags = np.asarray(lags, dtype=float)
    if lags.ndim == 1:
        lags = np.broadcast_to(lags, (len(pairs), len(lags)))
    index = {q: k for k, q in enumerate(pairs)}
    centred = [bool(np.allclose(lags[k][::-1], -lags[k], atol=1e-6)) for k in range(len(pairs))]
    out: list[Symmetry] = []
    for mirror in (False, True):
        for step in range(steps):
            th = np.deg2rad(360.0 * step / steps)
            c, s = np.cos(th), np.sin(th)
            q = p.copy()
            if mirror:
                q[:, 1] = -q[:, 1]
            q = np.stack([c * q[:, 0] - s * q[:, 1], s * q[:, 0] + c * q[:, 1], q[:, 2]], axis=1)
            d = np.linalg.norm(q[:, None, :] - p[None, :, :], axis=2)       # T p_m vs p_n
            sigma = np.argmin(d, axis=1)
            if np.max(d[np.arange(len(p)), sigma]) > tol_m or len(set(sigma.tolist())) != len(p):
                continue
            inv = np.argsort(sigma)                                          # sigma^-1
            src, flip = [], []
            for i, j in pairs:
                a, b = int(inv[i]), int(inv[j])
                k = index[(a, b)] if a < b else index[(b, a)]
                if not np.allclose(lags[k], lags[index[(i, j)]], atol=1e-6) or (a > b and not centred[k]):
                    break
                src.append(k)
                flip.append(a > b)
            else:
                out.append(Symmetry(tuple(src), tuple(flip), 360.0 * step / steps, mirror))
    return out


def usable_symmetries(syms: list[Symmetry], n_azimuth: int) -> list[Symmetry]:
    """The symmetries whose rotation is a whole number of azimuth bins (``360/n_azimuth`` degrees)."""
    step = 360.0 / n_azimuth
    return [s for s in syms if abs(s.rot_deg / step - round(s.rot_deg / step)) < 1e-9]


def symmetry_tables(syms: list[Symmetry], n_pairs: int, n_lags: int, n_azimuth: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Index tables for applying symmetries to pair×lag features and to posteriors.

    Returns:
        feat_idx ``[G, P*L]``: ``R'_flat = R_flat[..., feat_idx[g]]`` (``R_flat`` the features with
            the pair and lag axes flattened, pair-major) is the features of the transformed scene;
        az_idx ``[G, n_azimuth]``: bin ``k`` of the original scene is bin ``az_idx[g, k]`` of the
            transformed one (``p(k) = p'(az_idx[g, k])``).
    """
    feat = np.zeros((len(syms), n_pairs * n_lags), np.int64)
    az = np.zeros((len(syms), n_azimuth), np.int64)
    lag = np.arange(n_lags)
    k = np.arange(n_azimuth) * (360.0 / n_azimuth)
    for g, sym in enumerate(syms):
        for q in range(n_pairs):
            ll = lag[::-1] if sym.flip[q] else lag
            feat[g, q * n_lags:(q + 1) * n_lags] = sym.src[q] * n_lags + ll
        az[g] = np.round(sym.azimuth(k) / (360.0 / n_azimuth)).astype(np.int64) % n_azimuth
    return feat, az
