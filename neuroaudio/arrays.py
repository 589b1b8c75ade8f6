"""Microphone-array geometry: built-in arrays, JSON files, pairs, delays.

Conventions (``docs/conventions.md``):

- Array frame: origin at the array centre, metres, +z up.
- ``azimuth_deg`` in [0, 360), 0 along +x, counter-clockwise seen from above;
  ``elevation_deg`` above the xy-plane, in [-90, 90].
- Time difference of arrival for the ordered pair (i, j): ``tau_ij = t_j - t_i``, positive when
  the sound reaches mic i first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from . import DEFAULT_FS_HZ, SPEED_OF_SOUND_M_S
from .errors import InputError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
ARRAYS_DIR = DATA_DIR / "arrays"

SAME_ARRAY_TOLERANCE_M = 1e-3
"""Two geometries whose mics all agree within this distance (m) are the same array."""


@dataclass(frozen=True)
class MicArray:
    """A microphone array.

    Attributes:
        name: short name (built-in name or the file's ``name``).
        mics_m: mic positions, shape ``[mics, 3]``, metres, array frame.
        sample_rate_hz: the array's native rate (Hz), or None if unknown.
        source: where the geometry comes from (free text).
        extra: unknown keys of the JSON file, kept as they were.
    """

    name: str
    mics_m: np.ndarray
    sample_rate_hz: int | None = None
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        mics = np.asarray(self.mics_m, dtype=np.float64)
        object.__setattr__(self, "mics_m", mics)
        mics.setflags(write=False)

    # --- basic geometry -------------------------------------------------------------------
    @property
    def n_mics(self) -> int:
        return int(self.mics_m.shape[0])

    @property
    def fs(self) -> int:
        """Processing rate (Hz): the array's own rate or the project default."""
        return int(self.sample_rate_hz or DEFAULT_FS_HZ)

    def pairs(self) -> np.ndarray:
        """All ordered mic pairs (i, j), i < j, shape ``[pairs, 2]`` (0-based)."""
        return np.array(list(combinations(range(self.n_mics), 2)), dtype=np.int64).reshape(-1, 2)

    def pair_distances_m(self) -> np.ndarray:
        """Distance between the mics of each pair (m), shape ``[pairs]``."""
        p = self.pairs()
        return np.linalg.norm(self.mics_m[p[:, 1]] - self.mics_m[p[:, 0]], axis=1)

    @property
    def aperture_m(self) -> float:
        """Largest distance between two mics (m)."""
        return float(self.pair_distances_m().max()) if self.n_mics > 1 else 0.0

    def max_delay_s(self) -> np.ndarray:
        """Largest physical |tau| of each pair (s), shape ``[pairs]``."""
        return self.pair_distances_m() / SPEED_OF_SOUND_M_S

    def spatial_aliasing_hz(self) -> float:
        """Frequency (Hz) above which the closest pair aliases spatially: c / (2 d_min)."""
        d = self.pair_distances_m()
        d = d[d > 0]
        return float(SPEED_OF_SOUND_M_S / (2 * d.min())) if d.size else float("inf")

    @property
    def is_planar(self) -> bool:
        """True when all mics lie in the xy-plane (no elevation resolution)."""
        return bool(np.ptp(self.mics_m[:, 2]) < 1e-6)

    @property
    def is_linear(self) -> bool:
        """True when all mics lie on one line (front-back ambiguity)."""
        c = self.mics_m - self.mics_m.mean(axis=0)
        return bool(np.linalg.matrix_rank(c, tol=1e-6) <= 1)

    # --- delays ---------------------------------------------------------------------------
    def arrival_times_s(self, azimuth_deg: np.ndarray | float, elevation_deg: np.ndarray | float = 0.0
                        ) -> np.ndarray:
        """Far-field arrival time of a plane wave at each mic, relative to the centre (s).

        Args:
            azimuth_deg, elevation_deg: source directions (degrees), broadcastable, shape ``[...]``.

        Returns:
            shape ``[..., mics]``: ``t_k = -(m_k . u) / c`` with ``u`` the unit vector toward
            the source.
        """
        az = np.deg2rad(np.asarray(azimuth_deg, dtype=np.float64))
        el = np.deg2rad(np.asarray(elevation_deg, dtype=np.float64))
        az, el = np.broadcast_arrays(az, el)
        u = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)
        return -(u @ self.mics_m.T) / SPEED_OF_SOUND_M_S

    def tdoa_s(self, azimuth_deg: np.ndarray | float, elevation_deg: np.ndarray | float = 0.0
               ) -> np.ndarray:
        """Far-field TDOA ``tau_ij = t_j - t_i`` of every pair (s), shape ``[..., pairs]``."""
        t = self.arrival_times_s(azimuth_deg, elevation_deg)
        p = self.pairs()
        return t[..., p[:, 1]] - t[..., p[:, 0]]

    # --- identity and serialisation -------------------------------------------------------
    def same_geometry(self, other: MicArray, tol_m: float = SAME_ARRAY_TOLERANCE_M) -> bool:
        """True when both arrays have the same mics, in the same order, within ``tol_m``."""
        return (self.mics_m.shape == other.mics_m.shape
                and bool(np.all(np.abs(self.mics_m - other.mics_m) <= tol_m)))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = dict(self.extra)
        d.update(name=self.name, mics_m=self.mics_m.tolist())
        if self.sample_rate_hz:
            d["sample_rate_hz"] = int(self.sample_rate_hz)
        if self.source:
            d["source"] = self.source
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "array") -> MicArray:
        """Validate a geometry dict (conventions.md) and build the array."""
        if not isinstance(d, dict):
            raise InputError(f"{where}: expected a JSON object with 'mics_m'; see data/arrays/*.json")
        if "mics_m" not in d:
            raise InputError(f"{where}: missing 'mics_m' (a list of [x, y, z] in metres)")
        try:
            mics = np.asarray(d["mics_m"], dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{where}: 'mics_m' must be a list of [x, y, z] numbers (metres)") from None
        if mics.ndim != 2 or mics.shape[1] != 3 or mics.shape[0] < 2:
            raise InputError(f"{where}: 'mics_m' must hold at least 2 mics as [x, y, z] (metres), "
                             f"got shape {list(mics.shape)}")
        if not np.all(np.isfinite(mics)):
            raise InputError(f"{where}: 'mics_m' has non-finite coordinates")
        if np.abs(mics).max() > 5.0:
            raise InputError(f"{where}: mic coordinates over 5 m from the centre; 'mics_m' is in metres")
        dmin = min(np.linalg.norm(mics[i] - mics[j]) for i, j in combinations(range(len(mics)), 2))
        if dmin < 1e-4:
            raise InputError(f"{where}: two mics share one position; each mic needs its own [x, y, z]")
        fs = d.get("sample_rate_hz")
        if fs is not None and (not isinstance(fs, (int, float)) or fs <= 0 or int(fs) != fs):
            raise InputError(f"{where}: 'sample_rate_hz' must be a positive whole number of Hz")
        known = {"name", "mics_m", "sample_rate_hz", "source"}
        return cls(name=str(d.get("name", where)), mics_m=mics,
                   sample_rate_hz=int(fs) if fs is not None else None,
                   source=str(d.get("source", "")),
                   extra={k: v for k, v in d.items() if k not in known})


def builtin_array_names() -> list[str]:
    """Names of the arrays shipped in ``data/arrays``."""
    return sorted(p.stem for p in ARRAYS_DIR.glob("*.json"))


def load_array(spec: str | Path | MicArray) -> MicArray:
    """Load an array from a built-in name, a JSON file path, or pass a MicArray through."""
    if isinstance(spec, MicArray):
        return spec
    text = str(spec)
    path = Path(text)
    if not text.lower().endswith(".json") and (ARRAYS_DIR / f"{text}.json").is_file():
        path = ARRAYS_DIR / f"{text}.json"
    elif not path.is_file():
        raise InputError(f"unknown array '{text}': use a built-in name "
                         f"({', '.join(builtin_array_names())}) or a path to a geometry JSON file")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read array file {path}: {e}; it must be JSON as in "
                         "data/arrays/respeaker4.json") from None
    return MicArray.from_dict(d, where=str(path))
