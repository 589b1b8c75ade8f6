"""Scene planning: rooms, array placement, source and noise positions, and each clip's signals.

Planning is cheap (no audio) and deterministic: room ``r`` draws from
``SeedSequence(seed, spawn_key=(0, r))`` and clip ``i`` from ``SeedSequence(seed, spawn_key=(1, i))``,
so a plan never depends on which worker makes it, on ``--workers`` or on ``--limit``.

Clip ``i`` has SNR ``snr_db[i % len(snr_db)]`` (every SNR appears in any prefix of the dataset), lives
in room ``i // scene.clips_per_room`` and uses that room's target position
``(i % clips_per_room) % sources_per_room``. Every clip has its own source signal and noise draws.

Geometry (metres, room frame: a corner at the origin, +z up):

- the room size is uniform in ``room.size_m``, its RT60 uniform in ``room.rt60_s``; wall absorption
  from Sabine's formula (``pyroomacoustics.inverse_sabine``), the image-source order from
  :func:`image_order` (capped at ``room.max_order``);
- the array is rotated by a yaw uniform in ``array.yaw_deg`` about +z; sources are drawn in the
  *array* frame (azimuth, elevation, distance from the array centre), so the manifest's azimuth is
  the true azimuth the array sees;
- the array centre is then drawn uniformly among the positions that keep the array
  ``array.wall_margin_m`` and every target ``room.wall_margin_m`` from the walls, at a height in
  ``array.height_m`` (rejection: geometries that cannot fit are redrawn, room size included);
- diffuse noise positions are uniform in the room (``room.wall_margin_m`` from the walls), at least
  ``min_distance_m`` from the array; a directional interferer is drawn like a source, at
  ``distance_m`` from the array in a uniform azimuth;
- a component whose ``positions`` is a range ``[lo, hi]`` draws its count per room (uniform
  integer); a clip plans ``hi`` signals for it and the room uses the first ones.

A source ``signal`` given as a list of choices: clip ``i`` takes choice
``(i // len(snr_db)) % len(choices)``; a noise component's list: one choice drawn per position
and clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import SPEED_OF_SOUND_M_S
from ..angles import wrap_deg
from ..errors import InputError
from .config import SABINE_COEF, SimConfig, signal_choices
from .signals import Recipe, plan_signal

MAX_PLACEMENT_TRIES = 2000
"""Redraws of a room's geometry before a config is declared unsatisfiable."""


@dataclass(frozen=True)
class Target:
    position_m: np.ndarray  # [3], room frame
    azimuth_deg: float      # array frame
    elevation_deg: float
    distance_m: float


@dataclass(frozen=True)
class RoomPlan:
    """One simulated room (all fields in m, s, degrees; positions in the room frame)."""

    index: int
    size_m: np.ndarray            # [3]
    rt60_s: float
    absorption: float             # Sabine energy absorption of every wall
    max_order: int                # image-source order used (capped)
    array_center_m: np.ndarray    # [3]
    yaw_deg: float
    mics_m: np.ndarray            # [mics, 3]
    targets: tuple[Target, ...]
    noise_positions_m: tuple[np.ndarray, ...]   # per noise component: [positions, 3] (sensor: [0, 3])
    noise_azimuth_deg: tuple[float | None, ...]  # per component: the interferer's azimuth (array frame)
    noise_azimuths_deg: tuple[tuple[float, ...], ...] = ()  # per component: every directional position's

    @property
    def n_point_sources(self) -> int:
        """Directional noise sources (interferers) in the room; diffuse positions not counted."""
        return sum(len(a) for a in self.noise_azimuths_deg)


@dataclass(frozen=True)
class ClipPlan:
    index: int
    room: int
    target: int
    snr_db: float
    source: Recipe
    noise: tuple[tuple[Recipe, ...], ...]   # per component, one recipe per position (sensor: seed)
    peak_dbfs: float
    source_label: str = ""                  # the source signal's label (manifest ``speech_kind``)
    n_samples: int = 0                      # the clip's length (samples at cfg.fs)


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _u(rng: np.random.Generator, r: tuple[float, float]) -> float:
    return float(r[0] if r[1] <= r[0] else rng.uniform(r[0], r[1]))


def _direction(az_deg: float, el_deg: float) -> np.ndarray:
    az, el = np.deg2rad(az_deg), np.deg2rad(el_deg)
    return np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])


def rotation_z(yaw_deg: float) -> np.ndarray:
    """Rotation matrix [3, 3] about +z by ``yaw_deg`` (counter-clockwise seen from above)."""
    c, s = np.cos(np.deg2rad(yaw_deg)), np.sin(np.deg2rad(yaw_deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


HYBRID_ISM_ORDER = 3
"""Image-source order of the hybrid model (``room.ray_tracing: true``), as pyroomacoustics advises."""
ORDER_TAIL_FACTOR = 1.6
"""Image-source order rule: images out to ``c * RT60 / ORDER_TAIL_FACTOR`` metres of path per mean
room dimension (see :func:`image_order`)."""


def image_order(rt60_s: float, size_m: np.ndarray, cap: int) -> int:
    """Image-source order for a room: ``min(inverse_sabine's order, ceil(c RT60 / (1.6 L)), cap)``.

    ``inverse_sabine`` asks for the order of a full 60 dB decay (about 90 at RT60 0.7 s in an
    office: millions of images). Images up to order ``c RT60 / (1.6 L)`` (``L`` the mean room
    dimension) already give the decay slope: on 8 random dev_bench rooms at RT60 0.15/0.4/0.7 s the
    T20-measured RT60 (``pyroomacoustics.experimental.measure_rt60``) was 0.72-1.32 times the
    target (Sabine's own error in flat or long rooms dominates), where a fixed order of 12 gave
    0.31 s for 0.7 s. ``cap`` (``room.max_order``) bounds the cost.
    """
    import pyroomacoustics as pra

    full = int(pra.inverse_sabine(rt60_s, list(size_m), c=SPEED_OF_SOUND_M_S)[1])
    tail = int(np.ceil(SPEED_OF_SOUND_M_S * rt60_s / (ORDER_TAIL_FACTOR * float(np.mean(size_m)))))
    return max(0, min(full, tail, cap))


def plan_room(cfg: SimConfig, r: int) -> RoomPlan:
    """Draw room ``r`` (deterministic in ``cfg.seed`` and ``r``)."""
    rng = _rng(cfg.seed, 0, r)
    arr = cfg.array.load()
    reach = float(np.abs(arr.mics_m).max())
    m_s, m_a = cfg.room.wall_margin_m, cfg.array.wall_margin_m
    src = cfg.source
    for _ in range(MAX_PLACEMENT_TRIES):
        size = np.array([_u(rng, lim) for lim in cfg.room.size_m])
        rt60 = _u(rng, cfg.room.rt60_s)
        yaw = wrap_deg(_u(rng, cfg.array.yaw_deg))
        rot = rotation_z(yaw)
        targets = []
        for _k in range(cfg.scene.sources_per_room):
            az = wrap_deg(_u(rng, src.azimuth_deg))
            el = _u(rng, src.elevation_deg)
            d = _u(rng, src.distance_m)
            targets.append((az, el, d, rot @ _direction(az, el) * d))
        offs = np.stack([t[3] for t in targets])
        lo = np.maximum(m_a + reach, m_s - np.minimum(offs.min(axis=0), 0))
        hi = np.minimum(size - m_a - reach, size - m_s - np.maximum(offs.max(axis=0), 0))
        lo[2] = max(lo[2], cfg.array.height_m[0], reach)
        hi[2] = min(hi[2], cfg.array.height_m[1], size[2] - reach)
        if np.all(lo <= hi):
            break
    else:
        raise InputError(f"source.distance_m: could not place {cfg.scene.sources_per_room} sources at "
                         f"{src.distance_m} m from the array in {MAX_PLACEMENT_TRIES} rooms; lower "
                         "source.distance_m or scene.sources_per_room, or enlarge room.size_m")
    center = np.array([_u(rng, (a, b)) for a, b in zip(lo, hi, strict=True)])
    vol, surf = np.prod(size), 2 * (size[0] * size[1] + size[0] * size[2] + size[1] * size[2])
    absorption = float(SABINE_COEF * vol / (SPEED_OF_SOUND_M_S * surf * rt60))
    order = image_order(rt60, size, cfg.room.max_order)
    if cfg.room.ray_tracing:  # hybrid: early reflections by images, the tail by ray tracing
        order = min(order, HYBRID_ISM_ORDER)
    tgs = tuple(Target(center + t[3], t[0], t[1], t[2]) for t in targets)

    noise_pos, noise_az, noise_azs = [], [], []
    box_lo, box_hi = np.full(3, m_s), size - m_s
    for comp in cfg.noise:
        if comp.placement == "sensor":
            noise_pos.append(np.zeros((0, 3)))
            noise_az.append(None)
            noise_azs.append(())
            continue
        pts, az_out, azs = [], None, []
        count = comp.positions
        if isinstance(count, tuple):  # a range: this room's count (no draw for a fixed count)
            count = int(rng.integers(count[0], count[1] + 1))
        for _p in range(count):
            best, best_d = None, -1.0
            for _t in range(200):
                if comp.placement == "directional":
                    az = _u(rng, (0.0, 360.0))
                    el = _u(rng, src.elevation_deg)
                    p = center + rot @ _direction(az, el) * _u(rng, comp.distance_m)
                    ok = bool(np.all(p >= box_lo) and np.all(p <= box_hi))
                    if ok:
                        best, az_out = p, az
                        break
                else:
                    p = box_lo + rng.uniform(size=3) * (box_hi - box_lo)
                    dist = float(np.linalg.norm(p - center))
                    if dist >= comp.min_distance_m:
                        best = p
                        break
                    if dist > best_d:
                        best, best_d = p, dist
            if best is None:  # directional: no fit at that distance; take the farthest wall point
                az = _u(rng, (0.0, 360.0))
                u = rot @ _direction(az, 0.0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    t_wall = np.where(u > 0, (box_hi - center) / u, (box_lo - center) / u)
                t_max = float(np.min(np.where(np.abs(u) > 1e-12, t_wall, np.inf)))
                best, az_out = center + u * t_max, az
            pts.append(best)
            if comp.placement == "directional":
                azs.append(float(az_out))
        noise_pos.append(np.stack(pts))
        noise_az.append(az_out)
        noise_azs.append(tuple(azs))
    return RoomPlan(index=r, size_m=size, rt60_s=rt60, absorption=absorption, max_order=int(order),
                    array_center_m=center, yaw_deg=yaw, mics_m=center + arr.mics_m @ rot.T,
                    targets=tgs, noise_positions_m=tuple(noise_pos), noise_azimuth_deg=tuple(noise_az),
                    noise_azimuths_deg=tuple(noise_azs))


def plan_clip(cfg: SimConfig, i: int) -> ClipPlan:
    """Draw clip ``i``'s SNR, target, signals and output level (deterministic in ``cfg.seed`` and ``i``)."""
    if not 0 <= i < cfg.n_clips:
        raise IndexError(f"clip {i} outside 0..{cfg.n_clips - 1}")
    rng = _rng(cfg.seed, 1, i)
    j = i % cfg.scene.clips_per_room
    dur = cfg.duration_s
    if isinstance(dur, tuple):  # a range: this clip's length, in ms steps (no draw for a fixed one)
        dur = round(_u(rng, dur), 3)
    choices = signal_choices(cfg.source.signal)
    sig = choices[(i // len(cfg.snr_db)) % len(choices)]
    source = plan_signal(sig, rng, dur)
    noise = []
    for comp in cfg.noise:
        if comp.placement == "sensor":
            noise.append(({"kind": "sensor", "seed": int(rng.integers(2**63 - 1)), "name": "sensor"},))
        elif isinstance(comp.signal, tuple):  # a list of choices: one per position
            choice = comp.signal
            noise.append(tuple(plan_signal(choice[int(rng.integers(len(choice)))], rng, dur)
                               for _ in range(comp.max_positions)))
        else:
            noise.append(tuple(plan_signal(comp.signal, rng, dur)
                               for _ in range(comp.max_positions)))
    return ClipPlan(index=i, room=i // cfg.scene.clips_per_room, target=j % cfg.scene.sources_per_room,
                    snr_db=float(cfg.snr_db[i % len(cfg.snr_db)]), source=source, noise=tuple(noise),
                    peak_dbfs=_u(rng, cfg.output.peak_dbfs), source_label=sig.label or sig.kind,
                    n_samples=int(round(dur * cfg.fs)))


def clip_path(cfg: SimConfig, room: RoomPlan, clip: ClipPlan) -> str:
    """Path of a clip's WAV relative to the output folder (``output.filename`` filled in)."""
    t = room.targets[clip.target]
    return cfg.output.filename.format(index=clip.index, room=room.index, array=cfg.array.load().name,
                                      azimuth=t.azimuth_deg, elevation=t.elevation_deg, snr=clip.snr_db)


def clips_of_room(cfg: SimConfig, r: int, limit: int | None = None) -> range:
    """Clip indices of room ``r`` (below ``limit`` when given)."""
    n = cfg.n_clips if limit is None else min(limit, cfg.n_clips)
    return range(r * cfg.scene.clips_per_room, min((r + 1) * cfg.scene.clips_per_room, n))
