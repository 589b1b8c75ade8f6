"""The simulator's manifest (conventions.md): one row per clip, written atomically."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..io_utils import write_text_atomic
from .config import SimConfig
from .scene import ClipPlan, RoomPlan, clip_path

COLUMNS = ["path", "azimuth_deg", "elevation_deg", "snr_db", "rt60_s", "distance_m", "source", "noise",
           "clip", "room", "room_x_m", "room_y_m", "room_z_m", "absorption", "max_order", "array",
           "array_x_m", "array_y_m", "array_z_m", "array_yaw_deg", "interferer_azimuth_deg",
           "rt60_measured_s", "snr_active_db", "speech_kind", "speech_onset_s", "speech_duration_s",
           "speech_active_s", "n_noise_sources", "interferer_azimuths_deg", "duration_s"]
"""Required (conventions.md) first, then what lets metrics be grouped by scene; then
``rt60_measured_s``, the room's RT60 measured on its talker RIRs (T20, s;
:func:`neuroaudio.sim.render.measured_rt60_s`), next to ``rt60_s``, the target drawn for the room;
last the talker's active part (:mod:`neuroaudio.sim.activity`: ``snr_active_db``, and the onset,
extent and active time of the speech in s), the source signal's label (``speech_kind``), the number
of directional noise sources and their azimuths (array frame, ``|``-separated), and the clip's
length (s)."""

STAT_COLUMNS = ("snr_active_db", "speech_onset_s", "speech_duration_s", "speech_active_s")
"""Columns that come from the rendered clip (:attr:`neuroaudio.sim.render.RenderedClip.stats`)."""


def _stat(v: object) -> object:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return round(f, 4) if np.isfinite(f) else ""


def manifest_row(cfg: SimConfig, room: RoomPlan, clip: ClipPlan, rt60_measured_s: float | None = None,
                 stats: dict[str, float] | None = None) -> dict[str, object]:
    """The manifest row of a clip: azimuth/elevation in the ARRAY frame (after its rotation).

    ``rt60_measured_s``: the room's measured RT60 (s); written empty when ``None`` or NaN.
    ``stats``: the clip's :attr:`~neuroaudio.sim.render.RenderedClip.stats` (empty cells without).
    """
    measured = "" if rt60_measured_s is None or not np.isfinite(rt60_measured_s) else round(
        float(rt60_measured_s), 4)
    t = room.targets[clip.target]
    noise_names = []
    for comp, recipes, pts in zip(cfg.noise, clip.noise, room.noise_positions_m, strict=True):
        if comp.placement != "sensor":
            recipes = recipes[:len(pts)]  # a positions range: the room's count
        kinds = sorted({r["name"].split(":")[0] for r in recipes})  # kind, or the folder's name
        noise_names.append(f"{comp.placement}:{'|'.join(kinds)}")
    az_int = [a for a in room.noise_azimuth_deg if a is not None]
    return {
        "path": clip_path(cfg, room, clip), "azimuth_deg": round(t.azimuth_deg, 3),
        "elevation_deg": round(t.elevation_deg, 3),
        "snr_db": round(clip.snr_db, 3), "rt60_s": round(room.rt60_s, 4),
        "distance_m": round(t.distance_m, 4),
        "source": clip.source["name"], "noise": "+".join(noise_names), "clip": clip.index, "room": room.index,
        "room_x_m": round(float(room.size_m[0]), 3), "room_y_m": round(float(room.size_m[1]), 3),
        "room_z_m": round(float(room.size_m[2]), 3), "absorption": round(room.absorption, 4),
        "max_order": room.max_order, "array": cfg.array.load().name,
        "array_x_m": round(float(room.array_center_m[0]), 3),
        "array_y_m": round(float(room.array_center_m[1]), 3),
        "array_z_m": round(float(room.array_center_m[2]), 3), "array_yaw_deg": round(room.yaw_deg, 3),
        "interferer_azimuth_deg": round(az_int[0], 3) if az_int else "",
        "rt60_measured_s": measured,
        **{k: _stat((stats or {}).get(k)) for k in STAT_COLUMNS},
        "speech_kind": clip.source_label,
        "n_noise_sources": room.n_point_sources,
        "interferer_azimuths_deg": "|".join(f"{a:.3f}" for az in room.noise_azimuths_deg for a in az),
        "duration_s": round((clip.n_samples or cfg.n_samples) / cfg.fs, 6),
    }


def write_manifest(path: str | Path, rows: list[dict[str, object]]) -> None:
    """Write rows (ordered by clip) as CSV with :data:`COLUMNS`, atomically."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in sorted(rows, key=lambda r: int(r["clip"])):
        w.writerow(r)
    write_text_atomic(path, buf.getvalue())
