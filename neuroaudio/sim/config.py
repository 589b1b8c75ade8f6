"""The simulator's YAML config: typed dataclasses, validated once with messages that name the field.

Everything a run needs is in :class:`SimConfig`; :func:`load_config` reads a YAML file,
:func:`parse_config` a dict. Bad values raise :class:`~neuroaudio.errors.InputError` with the field
(``room.rt60_s``) and the fix; configs that cannot be satisfied (a source farther than the largest
room allows, an RT60 too short for the largest room, an empty signal folder, ...) are refused here,
before any audio is made. Ranges are written ``[lo, hi]`` (uniform) or as one number (fixed).
See docs/simulate.md for every field.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .. import DEFAULT_FS_HZ, SPEED_OF_SOUND_M_S
from ..arrays import MicArray, load_array
from ..errors import InputError

Range = tuple[float, float]

SIGNAL_KINDS = ("speech", "folder", "white", "pink", "brown", "babble", "am", "impulsive", "hum", "music")
NOISE_PLACEMENTS = ("diffuse", "directional", "sensor")
DEFAULT_VOICES = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc")
DEFAULT_VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "f1", "f2", "f3", "f4", "f5")
"""Voice variants; '' is the voice's own."""
SABINE_COEF = 24 * math.log(10)


# ------------------------------------------------------------------------------------------------
# dataclasses
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignalConfig:
    """One signal source (see neuroaudio.sim.signals for the kinds)."""

    kind: str = "speech"
    voices: tuple[str, ...] = DEFAULT_VOICES
    variants: tuple[str, ...] = DEFAULT_VARIANTS
    rate_wpm: Range = (140.0, 210.0)
    pitch: Range = (30.0, 70.0)
    words: str | None = None
    path: str | None = None
    talkers: tuple[int, int] = (3, 6)
    modulation_hz: Range = (0.5, 6.0)
    depth: Range = (0.5, 1.0)
    carrier: str = "pink"
    events_per_s: Range = (2.0, 8.0)
    decay_ms: Range = (5.0, 40.0)
    label: str | None = None
    """Name of this signal in the manifest's ``speech_kind`` column (default: the kind)."""
    folder: str | None = None
    """speech: take utterances from this folder of recordings instead of espeak-ng."""
    utterances: tuple[int, int] | None = None
    """speech: this many short utterances at a random onset, with pauses (None: fill the clip)."""
    n_words: tuple[int, int] = (1, 1)
    """speech with ``utterances``: espeak-ng words per utterance."""
    pause_s: Range = (0.3, 1.0)
    """speech with ``utterances``: silence between utterances (s)."""
    f0_hz: Range = (45.0, 130.0)
    """hum: fundamental frequency (Hz)."""
    harmonics: tuple[int, int] = (4, 12)
    """hum: number of harmonics, the fundamental included."""
    tempo_bpm: Range = (70.0, 160.0)
    """music: beats per minute."""

    def word_list(self) -> tuple[str, ...] | None:
        return _read_words(self.words) if self.words else None


Signals = SignalConfig | tuple[SignalConfig, ...]
"""One signal, or a list of choices (see :func:`signal_choices`)."""


def signal_choices(sig: Signals) -> tuple[SignalConfig, ...]:
    """The choices of a ``signal`` field: a one-element tuple for a single signal."""
    return sig if isinstance(sig, tuple) else (sig,)


@dataclass(frozen=True)
class NoiseConfig:
    """One noise component: where it comes from and what it sounds like.

    ``level_db`` is its power relative to the other components (each is normalised to unit power
    over all mics and the clip, weighted, summed; the sum is then scaled to the clip's SNR).
    ``positions`` is a count or a ``(low, high)`` range drawn per room. ``signal`` is one signal
    or a tuple of choices, one drawn at random per position and clip (each position then
    normalised to unit RMS before the positions are summed).
    """

    placement: str = "diffuse"
    level_db: float = 0.0
    positions: int | tuple[int, int] = 6
    distance_m: Range = (1.0, 4.0)
    min_distance_m: float = 1.0
    signal: Signals = field(default_factory=lambda: SignalConfig(kind="pink"))

    @property
    def max_positions(self) -> int:
        return self.positions[1] if isinstance(self.positions, tuple) else self.positions


@dataclass(frozen=True)
class RoomConfig:
    size_m: tuple[Range, Range, Range] = ((4.0, 8.0), (3.0, 6.0), (2.5, 3.2))
    rt60_s: Range = (0.15, 0.7)
    max_order: int = 40
    ray_tracing: bool = False
    air_absorption: bool = False
    wall_margin_m: float = 0.3


@dataclass(frozen=True)
class ArrayConfig:
    name: str = "respeaker4"
    height_m: Range = (0.8, 1.5)
    wall_margin_m: float = 0.5
    yaw_deg: Range = (0.0, 360.0)

    def load(self) -> MicArray:
        return _load_array_cached(self.name)


@dataclass(frozen=True)
class SourceConfig:
    distance_m: Range = (1.0, 3.0)
    azimuth_deg: Range = (0.0, 360.0)
    elevation_deg: Range = (-15.0, 15.0)
    signal: Signals = field(default_factory=SignalConfig)
    """One signal, or a tuple of choices: clip ``i`` takes choice ``(i // len(snr_db)) % len``
    (each SNR gets every choice in turn)."""


@dataclass(frozen=True)
class SceneConfig:
    clips_per_room: int = 8
    sources_per_room: int = 2


@dataclass(frozen=True)
class OutputConfig:
    subtype: str = "PCM_16"
    peak_dbfs: Range = (-9.0, -3.0)
    filename: str = "clips/{index:06d}.wav"


@dataclass(frozen=True)
class SimConfig:
    fs: int = DEFAULT_FS_HZ
    duration_s: float | Range = 1.2
    """Clip length (s), or a ``(low, high)`` range: each clip's length drawn uniformly (ms steps)."""
    snr_db: tuple[float, ...] = (0.0, 10.0, 20.0)
    clips_per_snr: int = 10
    seed: int = 0
    room: RoomConfig = field(default_factory=RoomConfig)
    array: ArrayConfig = field(default_factory=ArrayConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    noise: tuple[NoiseConfig, ...] = (NoiseConfig(), NoiseConfig(placement="sensor", level_db=-10.0))
    scene: SceneConfig = field(default_factory=SceneConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    @property
    def n_clips(self) -> int:
        return len(self.snr_db) * self.clips_per_snr

    @property
    def duration_range_s(self) -> Range:
        d = self.duration_s
        return d if isinstance(d, tuple) else (d, d)

    @property
    def n_samples(self) -> int:
        """Samples of a clip; of the longest clip when ``duration_s`` is a range."""
        return int(round(self.duration_range_s[1] * self.fs))

    @property
    def n_rooms(self) -> int:
        return -(-self.n_clips // self.scene.clips_per_room)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists, no tuples) that :func:`parse_config` reads back to the same config."""
        d = _plain(asdict(self))
        for n in d["noise"]:
            if n["placement"] == "sensor":
                n.pop("signal")
        return d


# ------------------------------------------------------------------------------------------------
# parsing helpers
# ------------------------------------------------------------------------------------------------
def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


@lru_cache(maxsize=8)
def _read_words(path: str) -> tuple[str, ...]:
    return tuple(Path(path).read_text(encoding="utf-8").split())


@lru_cache(maxsize=8)
def _load_array_cached(name: str) -> MicArray:
    return load_array(name)


def _section(d: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise InputError(f"{where}: expected a mapping of fields ({', '.join(sorted(allowed))})")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise InputError(f"{where}.{unknown[0]}: unknown field; allowed: {', '.join(sorted(allowed))}")
    return d


def _num(d: dict, key: str, where: str, default: float, lo: float | None = None,
         hi: float | None = None, integer: bool = False, name: str | None = None) -> float:
    """``d[key]`` (or ``default``) checked; messages name it ``where.key`` (or ``name``)."""
    v = d.get(key, default)
    name = name or f"{where}.{key}"
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InputError(f"{name}: expected a number, got {v!r}")
    if integer and int(v) != v:
        raise InputError(f"{name}: expected a whole number, got {v!r}")
    if lo is not None and v < lo:
        raise InputError(f"{name}={v}: must be at least {lo}")
    if hi is not None and v > hi:
        raise InputError(f"{name}={v}: must be at most {hi}")
    return int(v) if integer else float(v)


def _range(d: dict, key: str, where: str, default: Range, lo: float | None = None,
           hi: float | None = None, name: str | None = None) -> Range:
    v = d.get(key, default)
    name = name or f"{where}.{key}"
    one = isinstance(v, (int, float)) and not isinstance(v, bool)
    if one:
        v = [v, v]
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise InputError(f"{name}: expected [low, high] or one number, got {v!r}")
    a = _num({"v": v[0]}, "v", name, 0, lo, hi, name=name if one else f"{name} (low end)")
    b = _num({"v": v[1]}, "v", name, 0, lo, hi, name=name if one else f"{name} (high end)")
    if b < a:
        raise InputError(f"{name}: low {a} is above high {b}; write [low, high]")
    return (a, b)


def _bool(d: dict, key: str, where: str, default: bool) -> bool:
    v = d.get(key, default)
    if not isinstance(v, bool):
        raise InputError(f"{where}.{key}: expected true or false, got {v!r}")
    return v


def _strs(d: dict, key: str, where: str, default: tuple[str, ...]) -> tuple[str, ...]:
    v = d.get(key, default)
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, (list, tuple)) or not v or not all(isinstance(s, (str, type(None))) for s in v):
        raise InputError(f"{where}.{key}: expected a non-empty list of names")
    return tuple("" if s is None else s for s in v)


def _path(v: Any, name: str, base: Path) -> str:
    if not isinstance(v, str) or not v:
        raise InputError(f"{name}: expected a path")
    p = Path(v).expanduser()
    if not p.is_absolute():
        p = (base / p)
    return str(p.resolve())


# ------------------------------------------------------------------------------------------------
# sections
# ------------------------------------------------------------------------------------------------
_SIGNAL_FIELDS = {"kind", "voices", "variants", "rate_wpm", "pitch", "words", "path", "talkers",
                  "modulation_hz", "depth", "carrier", "events_per_s", "decay_ms", "label", "folder",
                  "utterances", "n_words", "pause_s", "f0_hz", "harmonics", "tempo_bpm"}
HUM_MODULATION_HZ: Range = (0.05, 0.5)
"""hum's default ``modulation_hz``: slow level changes (a motor's load, a fan's beat)."""
HUM_DEPTH: Range = (0.1, 0.5)
"""hum's default ``depth``."""


def _int_range(d: dict, key: str, where: str, default: tuple[int, int], lo: int, hi: int) -> tuple[int, int]:
    r = _range(d, key, where, default, lo, hi)
    if any(int(v) != v for v in r):
        raise InputError(f"{where}.{key}: expected whole numbers, e.g. [{default[0]}, {default[1]}]")
    return (int(r[0]), int(r[1]))


def _check_folder(path: Any, name: str, base: Path) -> str:
    path = _path(path, name, base)
    if not Path(path).is_dir():
        raise InputError(f"{name}: {path} is not a folder; give a folder of recordings")
    from .folders import folder_index  # reads soundfile: only when a folder is named

    try:
        folder_index(path)
    except ValueError as e:
        raise InputError(f"{name}: {e}; put recordings there or fix the path") from None
    return path


def parse_signals(d: Any, where: str, base: Path, default_kind: str = "speech") -> Signals:
    """A ``signal`` field: one signal (mapping or kind name), or a non-empty list of choices."""
    if isinstance(d, list):
        if not d:
            raise InputError(f"{where}: expected a signal or a non-empty list of signals")
        return tuple(parse_signal(x, f"{where}.{k}", base, default_kind) for k, x in enumerate(d))
    return parse_signal(d, where, base, default_kind)


def parse_signal(d: Any, where: str, base: Path, default_kind: str = "speech") -> SignalConfig:
    if isinstance(d, str):
        d = {"kind": d}
    d = _section(d, where, _SIGNAL_FIELDS)
    kind = d.get("kind", default_kind)
    if kind not in SIGNAL_KINDS:
        raise InputError(f"{where}.kind: unknown kind {kind!r}; use one of {', '.join(SIGNAL_KINDS)}")
    df = SignalConfig()
    voices = _strs(d, "voices", where, df.voices)
    variants = _strs(d, "variants", where, df.variants) if d.get("variants", ...) not in (None, [], "") \
        else ("",)
    rate = _range(d, "rate_wpm", where, df.rate_wpm, 80, 450)
    pitch = _range(d, "pitch", where, df.pitch, 0, 99)
    words = d.get("words")
    if words is not None:
        words = _path(words, f"{where}.words", base)
        if not Path(words).is_file() or not Path(words).read_text(encoding="utf-8").split():
            raise InputError(f"{where}.words: {words} is missing or empty; give a text file of words")
    path = d.get("path")
    if kind == "folder":
        if path is None:
            raise InputError(f"{where}.path: kind 'folder' needs path: a folder of recordings")
        path = _check_folder(path, f"{where}.path", base)
    elif path is not None:
        raise InputError(f"{where}.path: only kind 'folder' reads a path (kind is {kind!r})")
    talkers = _range(d, "talkers", where, df.talkers, 1, 20)
    if any(int(t) != t for t in talkers):
        raise InputError(f"{where}.talkers: expected whole numbers of talkers, e.g. [3, 6]")
    carrier = d.get("carrier", df.carrier)
    if carrier not in ("white", "pink", "brown"):
        raise InputError(f"{where}.carrier: use white, pink or brown (got {carrier!r})")
    label = d.get("label")
    if label is not None and (not isinstance(label, str) or not label.strip() or "," in label):
        raise InputError(f"{where}.label: expected a short name without commas, e.g. short or sentence")
    folder = d.get("folder")
    if folder is not None:
        if kind != "speech":
            raise InputError(f"{where}.folder: only kind 'speech' reads a folder of utterances "
                             f"(kind is {kind!r}; for noise recordings use kind: folder, path: ...)")
        folder = _check_folder(folder, f"{where}.folder", base)
    utt = d.get("utterances")
    if utt is not None:
        if kind != "speech":
            raise InputError(f"{where}.utterances: only kind 'speech' makes utterances (kind is {kind!r})")
        utt = _int_range(d, "utterances", where, (1, 1), 1, 50)
    hum = kind == "hum"
    cfg = SignalConfig(kind=kind, voices=voices, variants=variants, rate_wpm=rate, pitch=pitch, words=words,
                       path=path, talkers=(int(talkers[0]), int(talkers[1])),
                       modulation_hz=_range(d, "modulation_hz", where,
                                            HUM_MODULATION_HZ if hum else df.modulation_hz, 0.01, 100),
                       depth=_range(d, "depth", where, HUM_DEPTH if hum else df.depth, 0, 1), carrier=carrier,
                       events_per_s=_range(d, "events_per_s", where, df.events_per_s, 0.01, 200),
                       decay_ms=_range(d, "decay_ms", where, df.decay_ms, 0.1, 1000),
                       label=label, folder=folder, utterances=utt,
                       n_words=_int_range(d, "n_words", where, df.n_words, 1, 50),
                       pause_s=_range(d, "pause_s", where, df.pause_s, 0, 60),
                       f0_hz=_range(d, "f0_hz", where, df.f0_hz, 10, 2000),
                       harmonics=_int_range(d, "harmonics", where, df.harmonics, 1, 100),
                       tempo_bpm=_range(d, "tempo_bpm", where, df.tempo_bpm, 20, 400))
    if (kind == "speech" and folder is None) or kind == "babble":
        _check_voices(cfg, where)
    return cfg


def _check_voices(cfg: SignalConfig, where: str) -> None:
    from .speech import list_variants, list_voices

    known = set(list_voices())
    bad = [v for v in cfg.voices if v not in known]
    if bad:
        raise InputError(f"{where}.voices: unknown espeak-ng voice {bad[0]!r}; e.g. "
                         f"{', '.join(DEFAULT_VOICES)} (neuroaudio.sim.speech.list_voices())")
    known_v = set(list_variants()) | {""}
    bad = [v for v in cfg.variants if v not in known_v]
    if bad:
        raise InputError(f"{where}.variants: unknown espeak-ng variant {bad[0]!r}; e.g. m1, f3, croak "
                         "(neuroaudio.sim.speech.list_variants())")


def _parse_noise(d: Any, where: str, base: Path) -> NoiseConfig:
    d = _section(d, where, {"placement", "level_db", "positions", "distance_m", "min_distance_m", "signal"})
    placement = d.get("placement", "diffuse")
    if placement not in NOISE_PLACEMENTS:
        raise InputError(f"{where}.placement: unknown {placement!r}; "
                         f"use one of {', '.join(NOISE_PLACEMENTS)}")
    df = NoiseConfig()
    if placement == "sensor" and "signal" in d:
        raise InputError(f"{where}.signal: sensor noise is white and independent per mic; remove 'signal'")
    if isinstance(d.get("positions"), (list, tuple)):
        if placement == "sensor":
            raise InputError(f"{where}.positions: sensor noise has no positions; remove it")
        lo, hi = _int_range(d, "positions", where, (1, 6), 1, 64)
        positions: int | tuple[int, int] = lo if lo == hi else (lo, hi)
    else:
        positions = int(_num(d, "positions", where, df.positions if placement == "diffuse" else 1, 1, 64,
                             integer=True))
    return NoiseConfig(
        placement=placement, level_db=_num(d, "level_db", where, 0.0, -100, 100),
        positions=positions,
        distance_m=_range(d, "distance_m", where, df.distance_m, 0.1, 100),
        min_distance_m=_num(d, "min_distance_m", where, df.min_distance_m, 0, 100),
        signal=parse_signals(d.get("signal", "white" if placement == "sensor" else "pink"),
                             f"{where}.signal", base, "pink"))


def parse_config(d: Any, base_dir: str | Path = ".") -> SimConfig:
    """Validate a config dict (as read from YAML) and return the typed config.

    Args:
        d: the mapping; missing fields take the defaults of the dataclasses.
        base_dir: folder that relative paths (signal folders, word lists, array files) start from.

    Raises:
        InputError: one line naming the field and the fix.
    """
    base = Path(base_dir)
    d = _section(d, "config", {"fs", "duration_s", "snr_db", "clips_per_snr", "seed", "room", "array",
                               "source", "noise", "scene", "output"})
    fs = int(_num(d, "fs", "config", DEFAULT_FS_HZ, 1000, 192000, integer=True))
    if isinstance(d.get("duration_s"), (list, tuple)):
        dr = _range(d, "duration_s", "config", (1.2, 1.2), 0.05, 600)
        duration: float | Range = dr[0] if dr[0] == dr[1] else dr
    else:
        duration = _num(d, "duration_s", "config", 1.2, 0.05, 600)
    snr = d.get("snr_db", [0, 10, 20])
    if isinstance(snr, (int, float)) and not isinstance(snr, bool):
        snr = [snr]
    if not isinstance(snr, list) or not snr:
        raise InputError("snr_db: expected a list of SNRs in dB, e.g. [-5, 0, 5, 10, 20, 30]")
    snrs = tuple(_num({"snr_db": s}, "snr_db", "config", 0, -60, 100) for s in snr)
    clips_per_snr = int(_num(d, "clips_per_snr", "config", 10, 1, 10**7, integer=True))
    seed = int(_num(d, "seed", "config", 0, 0, 2**63 - 1, integer=True))

    r = _section(d.get("room"), "room", {"size_m", "rt60_s", "max_order", "ray_tracing", "air_absorption",
                                         "wall_margin_m"})
    size = r.get("size_m", [list(x) for x in RoomConfig().size_m])
    if isinstance(size, dict):
        size = [size.get(k) for k in ("x", "y", "z")]
    if not isinstance(size, list) or len(size) != 3:
        raise InputError("room.size_m: expected three ranges [[x_lo, x_hi], [y_lo, y_hi], [z_lo, z_hi]] in m")
    size_r = tuple(_range({"v": s}, "v", "room", (0, 0), 1.0, 100.0,
                          name=f"room.size_m, {'xyz'[i]} (the room's {('length', 'width', 'height')[i]})")
                   for i, s in enumerate(size))
    room = RoomConfig(size_m=size_r, rt60_s=_range(r, "rt60_s", "room", RoomConfig().rt60_s, 0.01, 10),
                      max_order=int(_num(r, "max_order", "room", 40, 0, 80, integer=True)),
                      ray_tracing=_bool(r, "ray_tracing", "room", False),
                      air_absorption=_bool(r, "air_absorption", "room", False),
                      wall_margin_m=_num(r, "wall_margin_m", "room", 0.3, 0.0, 10))

    a = _section(d.get("array"), "array", {"name", "height_m", "wall_margin_m", "yaw_deg"})
    aname = a.get("name", "respeaker4")
    if not isinstance(aname, str):
        raise InputError("array.name: expected a built-in array name or a geometry JSON path")
    if aname.lower().endswith(".json"):
        aname = _path(aname, "array.name", base)
    try:
        arr = load_array(aname)
    except InputError as e:
        raise InputError(f"array.name: {e}") from None
    array = ArrayConfig(name=aname, height_m=_range(a, "height_m", "array", (0.8, 1.5), 0, 100),
                        wall_margin_m=_num(a, "wall_margin_m", "array", 0.5, 0, 10),
                        yaw_deg=_range(a, "yaw_deg", "array", (0.0, 360.0), -360, 720))

    s = _section(d.get("source"), "source", {"distance_m", "azimuth_deg", "elevation_deg", "signal"})
    source = SourceConfig(distance_m=_range(s, "distance_m", "source", (1.0, 3.0), 0.05, 100),
                          azimuth_deg=_range(s, "azimuth_deg", "source", (0.0, 360.0), -360, 720),
                          elevation_deg=_range(s, "elevation_deg", "source", (-15.0, 15.0), -90, 90),
                          signal=parse_signals(s.get("signal", "speech"), "source.signal", base))

    noise_d = d.get("noise", [{"placement": "diffuse"}, {"placement": "sensor", "level_db": -10}])
    if isinstance(noise_d, dict):
        noise_d = [noise_d]
    if not isinstance(noise_d, list) or not noise_d:
        raise InputError("noise: expected a list of noise components (at least one), e.g. "
                         "[{placement: diffuse, signal: pink}, {placement: sensor, level_db: -10}]")
    noise = tuple(_parse_noise(n, f"noise[{i}]", base) for i, n in enumerate(noise_d))

    sc = _section(d.get("scene"), "scene", {"clips_per_room", "sources_per_room"})
    scene = SceneConfig(clips_per_room=int(_num(sc, "clips_per_room", "scene", 8, 1, 1000, integer=True)),
                        sources_per_room=int(_num(sc, "sources_per_room", "scene", 2, 1, 100, integer=True)))
    if scene.sources_per_room > scene.clips_per_room:
        raise InputError(f"scene.sources_per_room={scene.sources_per_room}: more source positions than "
                         f"clips per room ({scene.clips_per_room}); lower it")

    o = _section(d.get("output"), "output", {"subtype", "peak_dbfs", "filename"})
    subtype = o.get("subtype", "PCM_16")
    if subtype not in ("PCM_16", "PCM_24", "PCM_32", "FLOAT"):
        raise InputError(f"output.subtype: {subtype!r} unsupported; use PCM_16, PCM_24, PCM_32 or FLOAT")
    filename = o.get("filename", OutputConfig().filename)
    try:
        sample = str(filename).format(index=1, room=0, array="a", azimuth=1.5, elevation=0.0, snr=0.0)
    except (KeyError, IndexError, ValueError) as e:
        raise InputError(f"output.filename: {filename!r} is not a valid pattern ({e}); fields: index, room, "
                         "array, azimuth, elevation, snr, e.g. 'clips/{index:06d}.wav'") from None
    if not isinstance(filename, str) or not sample.lower().endswith(".wav") or Path(sample).is_absolute() \
            or ".." in Path(sample).parts:
        raise InputError(f"output.filename: {filename!r} must be a relative path ending in .wav")
    if "{index" not in filename and len(snrs) * clips_per_snr > 1:
        raise InputError(f"output.filename: {filename!r} has no {{index}}: clips would overwrite each other")
    output = OutputConfig(subtype=subtype, peak_dbfs=_range(o, "peak_dbfs", "output", (-9.0, -3.0), -60, 0),
                          filename=filename)

    cfg = SimConfig(fs=fs, duration_s=duration, snr_db=snrs, clips_per_snr=clips_per_snr, seed=seed,
                    room=room, array=array, source=source, noise=noise, scene=scene, output=output)
    check_satisfiable(cfg, arr)
    return cfg


def check_satisfiable(cfg: SimConfig, arr: MicArray) -> None:
    """Refuse configs no room can satisfy (one line naming the field and the fix)."""
    room, src = cfg.room, cfg.source
    big = [hi for _, hi in room.size_m]
    small = [lo for lo, _ in room.size_m]
    # RT60: Sabine absorption a = 24 ln10 V / (c S RT60) must stay <= 1; V/S grows with every
    # dimension, so the largest room at the shortest RT60 is the hardest case.
    vol = big[0] * big[1] * big[2]
    surf = 2 * (big[0] * big[1] + big[0] * big[2] + big[1] * big[2])
    rt_min = SABINE_COEF * vol / (SPEED_OF_SOUND_M_S * surf)
    if room.rt60_s[0] < rt_min:
        raise InputError(f"room.rt60_s: {room.rt60_s[0]} s is impossible in a {big[0]:g} x {big[1]:g} x "
                         f"{big[2]:g} m room (needs absorption > 1; shortest possible {rt_min:.3f} s); "
                         "raise room.rt60_s or shrink room.size_m")
    # the array must fit: its mics inside the wall margin, its height inside the lowest room
    reach = float(max(abs(arr.mics_m).max(), 0.0))
    m_a = cfg.array.wall_margin_m
    if 2 * (m_a + reach) >= min(small[0], small[1]):
        raise InputError(f"array.wall_margin_m={m_a}: leaves no room for the array in the smallest "
                         f"room ({small[0]:g} x {small[1]:g} m); lower it or enlarge room.size_m")
    h_lo, h_hi = cfg.array.height_m
    if h_lo + reach > small[2] - room.wall_margin_m or h_hi - reach < 0:
        raise InputError(f"array.height_m: [{h_lo}, {h_hi}] m does not fit under the lowest ceiling "
                         f"({small[2]:g} m, margin {room.wall_margin_m} m); lower array.height_m")
    # the source: its nearest distance must fit in the largest room from some array position
    m = max(room.wall_margin_m, 0.0)
    usable = [b - 2 * min(m, m_a) for b in big]
    el = math.radians(min(abs(src.elevation_deg[0]), abs(src.elevation_deg[1]))
                      if src.elevation_deg[0] * src.elevation_deg[1] > 0 else 0.0)
    d = src.distance_m[0]
    horiz, vert = d * math.cos(el), d * math.sin(el)
    if horiz > math.hypot(usable[0], usable[1]) or vert > usable[2]:
        raise InputError(f"source.distance_m: {d} m is larger than the largest room allows "
                         f"({big[0]:g} x {big[1]:g} x {big[2]:g} m with wall margins); lower "
                         "source.distance_m or enlarge room.size_m")
    for i, n in enumerate(cfg.noise):
        if n.placement == "directional" and n.distance_m[0] > math.hypot(usable[0], usable[1]):
            raise InputError(f"noise[{i}].distance_m: {n.distance_m[0]} m is larger than the largest room "
                             "allows; lower it or enlarge room.size_m")
    if cfg.duration_range_s[0] * cfg.fs < 64:
        raise InputError(f"duration_s={cfg.duration_range_s[0]}: under 64 samples at {cfg.fs} Hz; "
                         "make clips longer")


def apply_sets(d: dict[str, Any], items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """A copy of the config mapping ``d`` with ``KEY=VALUE`` items applied (``--set``).

    ``KEY`` is dotted; a number picks an item of a list (``source.signal.0.folder=/data/fsdd``,
    ``noise.1.level_db=-3``); ``VALUE`` is read as YAML. Sections that do not exist yet are made.
    """
    import copy

    out = copy.deepcopy(d)
    for item in items:
        if "=" not in item:
            raise InputError(f"--set {item}: use KEY=VALUE, e.g. --set source.signal.0.folder=/data/fsdd")
        key, val = item.split("=", 1)
        parts = [p for p in key.strip().split(".")]
        if not all(parts):
            raise InputError(f"--set {item}: empty name in {key!r}; write e.g. noise.0.level_db=-3")
        node: Any = out
        for k, p in enumerate(parts):
            last = k == len(parts) - 1
            if isinstance(node, list):
                if not p.isdigit() or int(p) >= len(node):
                    raise InputError(f"--set {item}: {'.'.join(parts[:k]) or 'config'} is a list of "
                                     f"{len(node)}; give an index 0..{len(node) - 1}, not {p!r}")
                if last:
                    node[int(p)] = yaml.safe_load(val)
                else:
                    node = node[int(p)]
            elif isinstance(node, dict):
                if last:
                    node[p] = yaml.safe_load(val)
                else:
                    if node.get(p) is None:
                        node[p] = {}
                    elif isinstance(node[p], str):  # a signal given by its kind only
                        node[p] = {"kind": node[p]}
                    node = node[p]
            else:
                raise InputError(f"--set {item}: {'.'.join(parts[:k])} is a value, not a section")
    return out


def load_config(path: str | Path, overrides: dict[str, Any] | None = None,
                sets: list[str] | tuple[str, ...] = ()) -> SimConfig:
    """Read and validate a simulator YAML file; ``overrides`` (e.g. ``{"seed": 3}``) replace top-level fields.

    ``sets``: ``KEY=VALUE`` items (``--set``, :func:`apply_sets`) applied before the overrides.
    Relative paths in the file and in ``sets`` start from the file's folder.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such config file; see pipelines/quick.yaml for an example")
    try:
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(f"{p}: not valid YAML ({first}); fix the syntax") from None
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise InputError(f"{p}: expected a mapping of fields at the top level (fs, duration_s, room, ...)")
    d = apply_sets(d, tuple(sets))
    d.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return parse_config(d, base_dir=p.parent)
