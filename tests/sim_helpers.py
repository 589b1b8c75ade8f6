"""Small simulator configs for the tests (fast: short clips, low image order)."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

BASE = {
    "fs": 16000,
    "duration_s": 0.4,
    "snr_db": [0, 20],
    "clips_per_snr": 2,
    "seed": 7,
    "room": {"size_m": [[4, 5], [3.5, 4.5], [2.6, 3.0]], "rt60_s": [0.2, 0.4], "max_order": 4},
    "array": {"name": "respeaker4", "height_m": [0.9, 1.2], "yaw_deg": [0, 360]},
    "source": {"distance_m": [1.0, 1.5], "azimuth_deg": [0, 360], "elevation_deg": [-10, 10],
               "signal": {"kind": "speech"}},
    "noise": [{"placement": "diffuse", "positions": 3, "signal": "pink"},
              {"placement": "sensor", "level_db": -10}],
    "scene": {"clips_per_room": 2, "sources_per_room": 1},
}


def config_dict(**changes) -> dict:
    """A copy of BASE with top-level fields replaced (sections merged one level deep)."""
    d = copy.deepcopy(BASE)
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(d.get(k), dict):
            d[k] = {**d[k], **v}
        else:
            d[k] = v
    return d


def write_config(path: Path, d: dict) -> Path:
    path.write_text(yaml.safe_dump(d), encoding="utf-8")
    return path
