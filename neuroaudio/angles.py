"""Azimuth arithmetic: the one place where angles are wrapped and compared.

Units: degrees everywhere (conventions.md, "Angles and coordinates"): an azimuth lies in
[0, 360), 0 along the array's +x axis, counter-clockwise seen from above. The angular error
between two azimuths is circular, ``d = |a - b| mod 360; err = min(d, 360 - d)``, in [0, 180].

numpy (and plain floats) for the localizers, the tracker, the simulator and the evaluation;
torch tensors for the trainers (:func:`circular_error_deg_torch`; torch is imported only there,
so a classical run never loads it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

FULL_TURN_DEG = 360.0
"""One turn (degrees)."""


def wrap_deg(a: float | np.ndarray) -> float | np.ndarray:
    """Degrees wrapped into [0, 360): a Python float for a scalar, an array (same shape) for an
    array. ``wrap_deg(-90.0) == 270.0``, ``wrap_deg(720.5) == 0.5``."""
    if isinstance(a, int | float):
        return float(a) % FULL_TURN_DEG
    return np.mod(a, FULL_TURN_DEG)


def wrap_pm180(a: float | np.ndarray) -> float | np.ndarray:
    """Degrees wrapped into [-180, 180) (a signed difference of two azimuths, e.g. a tracker's
    innovation ``z - azimuth``); float64 array of the input's shape (0-d for a scalar).
    ``wrap_pm180(350.0) == -10.0``, ``wrap_pm180(180.0) == -180.0``."""
    return np.mod(np.asarray(a, dtype=float) + 180.0, FULL_TURN_DEG) - 180.0


def circular_error_deg(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray | float:
    """Circular angular error (degrees, in [0, 180]): ``min(|a-b| mod 360, 360 - |a-b| mod 360)``.

    ``a``, ``b``: degrees, scalars or arrays that broadcast; returns float64 of the broadcast shape
    (0-d for two scalars). ``circular_error_deg(359, 1) == 2``.
    """
    d = np.mod(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)), FULL_TURN_DEG)
    return np.minimum(d, FULL_TURN_DEG - d)


def circular_error_deg_torch(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """:func:`circular_error_deg` for torch tensors (degrees; broadcast shape, the inputs' dtype
    and device). Differentiable almost everywhere."""
    import torch

    d = torch.remainder((a - b).abs(), FULL_TURN_DEG)
    return torch.minimum(d, FULL_TURN_DEG - d)
