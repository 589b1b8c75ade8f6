"""Training data for MAA: simulated clips → RF-PLC coincidence frames with the true azimuth.

Two ways to feed the network, same frames:

- cached (:func:`build_cache` → :class:`FrameSet`): every clip of a simulator config is rendered
  and encoded once and written as compressed ``.npz`` shards (``shard_00000.npz`` ...) with a
  ``meta.json`` saying what made them; a later run (or epoch) reads the shards. Building resumes:
  shards already written are kept when the meta agrees, so an interrupted build goes on.
- on the fly (:class:`OnlineFrames`): a ``Dataset`` of clips (:class:`SimulatedScenes`) encoded in
  the DataLoader workers; each item is the frames of one clip (:func:`collate_frames` stacks).

Labels: the clip's true azimuth (array frame, degrees) for every frame — the simulator's sources
do not move within a clip. Frames with fewer than ``min_frame_spikes`` coincidences in all are
dropped (silence carries no direction). Counts are stored as uint8 (clipped at 255).

Frame selection (:class:`FrameSelection`; measured in docs/maa.md):

- **Source activity** (``active_db``): the simulator knows the clip's parts, so every frame gets
  ``src_db`` = the power of the (reverberant) source image in the frame relative to the clip's
  loudest source frame, and ``local_snr_db`` = source image power / noise power in the frame. A
  frame is *source-active* when ``src_db >= -active_db``. With ``active_db`` set, training keeps
  only source-active frames (a frame of noise alone has no label to learn; the first pass gave
  such frames the clip's azimuth, which teaches the network to guess at noise). ``None`` keeps
  every frame (the first pass's behaviour).
- **Frames per clip** (``frames_per_clip``): the ~13 frames of a 1.2-s clip share one room, one
  direction and one talker, so they are highly correlated; keeping ``k`` of them (drawn at random
  among the candidates, seeded by the simulator seed and the clip index) lets the same CPU budget
  see ``13/k`` times more directions. Only the kept frames are encoded. ``None`` keeps them all.

Teacher posteriors (``teacher``, for distillation; issue 19): the shipped ``gcc-phat-sm`` model is
run on the same audio frames as the encoder and its per-frame posterior over the 1° grid is stored
beside the spikes (``teacher [n, 360]`` float16). :mod:`.train` mixes it into the target with
``train.distill``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..arrays import MicArray
from ..encoding.config import RFPLCConfig
from ..encoding.encoder import RFPLCEncoder
from ..errors import InputError
from ..io_utils import atomic_path, write_json_atomic
from ..sim.config import SimConfig, load_config
from ..sim.dataset import SimulatedScenes
from ..sim.render import RenderedClip, render_clip, room_responses
from ..sim.scene import plan_clip, plan_room

CACHE_FORMAT = "neuroaudio-maa-frames-1"
FIELDS = ("x", "azimuth_deg", "clip", "snr_db", "frame", "src_db", "local_snr_db")
TEACHER_FIELD = "teacher"
Teacher = Callable[[np.ndarray], np.ndarray]
"""Audio frames ``[n, frame_len, mics]`` → per-frame posteriors ``[n, n_azimuth]`` (rows sum to 1)."""


@dataclass(frozen=True)
class FrameSelection:
    """Which frames of a clip become training/validation items (module docstring).

    Attributes:
        min_frame_spikes: drop frames with fewer coincidences in all.
        active_db: keep only frames whose source-image power is within this many dB of the clip's
            loudest source frame (None: keep all).
        frames_per_clip: keep at most this many of the remaining frames per clip (None: all).
    """

    min_frame_spikes: int = 1
    active_db: float | None = None
    frames_per_clip: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def frame_levels(source_image: np.ndarray, noise: np.ndarray, frame_len: int, hop: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per analysis frame (frame k = samples ``[k·hop, k·hop + frame_len)``, all mics):

    ``src_db [n]`` source power relative to the clip's loudest source frame (dB, ≤ 0) and
    ``local_snr_db [n]`` source power / noise power in the frame (dB). Inputs ``[samples, mics]``.
    """
    n = 1 + (len(source_image) - frame_len) // hop if len(source_image) >= frame_len else 0
    idx = np.arange(n)[:, None] * hop + np.arange(frame_len)[None, :]
    ps = np.mean(source_image[idx] ** 2, axis=(1, 2)) + 1e-30
    pn = np.mean(noise[idx] ** 2, axis=(1, 2)) + 1e-30
    src_db = 10 * np.log10(ps / ps.max()) if n else ps
    return src_db.astype(np.float32), (10 * np.log10(ps / pn)).astype(np.float32)


def select_frames(src_db: np.ndarray, sel: FrameSelection, rng: np.random.Generator) -> np.ndarray:
    """Indices (sorted) of the frames to encode, from the activity levels and the selection."""
    cand = np.arange(len(src_db))
    if sel.active_db is not None:
        cand = cand[src_db >= -float(sel.active_db)]
    if sel.frames_per_clip is not None and len(cand) > int(sel.frames_per_clip):
        cand = np.sort(rng.choice(cand, int(sel.frames_per_clip), replace=False))
    return cand


def make_teacher(method: str, array: MicArray, fs: int, n_azimuth: int = 360) -> Teacher:
    """The shipped ``gcc-phat-sm`` model (the only teacher so far) as a :data:`Teacher`: its softmax
    posterior over the 1° grid, averaged over the array's symmetric scenes as the localizer does.
    Built from :mod:`neuroaudio.gcc_phat_sm` directly (the localizer layer sits above this package);
    refused for another array or rate, as the localizer refuses them."""
    import torch

    from ..gcc_phat_sm.checkpoint import SHIPPED_MODEL, checkpoint_array, load_model
    from ..train.checkpoint import check_model_input

    if method != "gcc-phat-sm":
        raise InputError(f"data.teacher={method!r}: the teacher can be 'gcc-phat-sm' (or null)")
    net, front, ck = load_model(SHIPPED_MODEL)
    check_model_input(SHIPPED_MODEL, checkpoint_array(ck), int(ck["sample_rate_hz"]), array, fs)
    if net.cfg.n_azimuth != n_azimuth:
        raise InputError(f"data.teacher={method!r} gives {net.cfg.n_azimuth} azimuth bins, the network "
                         f"{n_azimuth}")

    def teach(frames: np.ndarray) -> np.ndarray:
        if len(frames) == 0:
            return np.zeros((0, n_azimuth), np.float32)
        with torch.no_grad():
            lp, cr, ci = front.analyse(np.asarray(frames, np.float32))
            post, _ = net.predict_proba(*(torch.from_numpy(a) for a in (lp, cr, ci)), symmetric=True)
        return post.numpy().astype(np.float32)

    return teach


def clip_items(enc: RFPLCEncoder, clip: RenderedClip, sel: FrameSelection, rng: np.random.Generator,
               teacher: Teacher | None = None) -> dict[str, np.ndarray]:
    """One rendered clip → its selected frames: ``x [n, T, P, D, F]`` uint8, ``frame``, ``src_db``,
    ``local_snr_db`` (each ``[n]``), and with a ``teacher`` its posteriors ``teacher [n, n_azimuth]``
    float16 on the same audio frames. Only the selected frames are encoded (frames are independent)."""
    mix = clip.mix.astype(np.float32)
    src_db, snr = frame_levels(clip.source_image, clip.noise, enc.frame_len, enc.hop)
    idx = select_frames(src_db, sel, rng)
    frames = mix[idx[:, None] * enc.hop + np.arange(enc.frame_len)[None, :]] if len(idx) else \
        np.zeros((0, enc.frame_len, mix.shape[1]), np.float32)
    x = np.minimum(enc.encode_frames(frames), 255).astype(np.uint8) if len(idx) else \
        np.zeros((0, enc.config.steps, len(enc.pairs), len(enc.delays_samples), enc.config.n_bands), np.uint8)
    keep = keep_frames(x, sel.min_frame_spikes)
    out = {"x": x[keep], "frame": idx[keep].astype(np.int16), "src_db": src_db[idx][keep],
           "local_snr_db": snr[idx][keep]}
    if teacher is not None:
        out[TEACHER_FIELD] = teacher(frames[keep]).astype(np.float16)
    return out


class _Renderer:
    """Clip ``i`` of a simulator config with its parts (mix, source image, noise); RIRs of the last
    room are kept (clips of a room are consecutive)."""

    def __init__(self, cfg: SimConfig):
        self.cfg, self._room = cfg, None

    def __call__(self, i: int) -> tuple[RenderedClip, dict[str, float]]:
        plan = plan_clip(self.cfg, i)
        if self._room is None or self._room[0] != plan.room:
            room = plan_room(self.cfg, plan.room)
            self._room = (plan.room, room, room_responses(self.cfg, room))
        _, room, resp = self._room
        t = room.targets[plan.target]
        return render_clip(self.cfg, room, resp, plan), {"azimuth_deg": float(t.azimuth_deg),
                                                          "snr_db": float(plan.snr_db)}


def _clip_rng(cfg: SimConfig, i: int) -> np.random.Generator:
    return np.random.default_rng([int(cfg.seed), 7, int(i)])


def encode_clip(encoder: RFPLCEncoder, audio: np.ndarray) -> np.ndarray:
    """Audio ``[samples, mics]`` → coincidence frames ``[frames, T, pairs, delays, bands]`` uint8."""
    c = encoder.encode(np.asarray(audio, dtype=np.float32), keep_spikes=False).coincidence
    return np.minimum(c, 255).astype(np.uint8)


def keep_frames(x: np.ndarray, min_frame_spikes: int) -> np.ndarray:
    """Boolean ``[frames]``: frames with at least ``min_frame_spikes`` coincidences in all."""
    return x.reshape(len(x), -1).sum(axis=1, dtype=np.int64) >= min_frame_spikes


class FrameSet(Dataset):
    """Encoded frames in memory: items ``(x [T, P, D, F] uint8 tensor, azimuth_deg float)``.

    Attributes: ``x`` [N, T, P, D, F] uint8, ``azimuth_deg`` [N], ``clip`` [N] (clip index),
    ``snr_db`` [N] (the clip's SNR), ``frame`` [N] (frame index in its clip), ``src_db`` [N] and
    ``local_snr_db`` [N] (:func:`frame_levels`; NaN when unknown), ``teacher`` [N, n_azimuth] float16
    or None (teacher posteriors; with them an item is ``(x, azimuth_deg, teacher row)``).
    """

    def __init__(self, x: np.ndarray, azimuth_deg: np.ndarray, clip: np.ndarray | None = None,
                 snr_db: np.ndarray | None = None, frame: np.ndarray | None = None,
                 src_db: np.ndarray | None = None, local_snr_db: np.ndarray | None = None,
                 teacher: np.ndarray | None = None):
        self.x = np.asarray(x, dtype=np.uint8)
        self.azimuth_deg = np.asarray(azimuth_deg, dtype=np.float32)
        n = len(self.x)
        nan = np.full(n, np.nan, np.float32)
        self.clip = np.arange(n) if clip is None else np.asarray(clip)
        self.snr_db = nan if snr_db is None else np.asarray(snr_db, np.float32)
        self.frame = np.full(n, -1, np.int16) if frame is None else np.asarray(frame)
        self.src_db = nan.copy() if src_db is None else np.asarray(src_db, np.float32)
        self.local_snr_db = nan.copy() if local_snr_db is None else np.asarray(local_snr_db, np.float32)
        self.teacher = None if teacher is None else np.asarray(teacher, np.float16)
        if self.teacher is not None and len(self.teacher) != n:
            raise InputError(f"teacher posteriors for {len(self.teacher)} frames, but {n} frames")

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[Any, ...]:
        item = (torch.from_numpy(self.x[i]), float(self.azimuth_deg[i]))
        if self.teacher is None:
            return item
        return (*item, torch.from_numpy(self.teacher[i].astype(np.float32)))

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """``(T, pairs, delays, bands)``."""
        return tuple(self.x.shape[1:])


def _sim_config(sim: SimConfig | str | Path, seed: int | None) -> SimConfig:
    cfg = sim if isinstance(sim, SimConfig) else load_config(sim)
    return replace(cfg, seed=int(seed)) if seed is not None else cfg


def _meta(cfg: SimConfig, n_clips: int, enc: RFPLCEncoder, sel: FrameSelection, shard_clips: int,
          teacher: str | None = None) -> dict[str, Any]:
    m = {"format": CACHE_FORMAT, "sim_seed": cfg.seed, "sim_config": repr(cfg), "n_clips": n_clips,
         "fs": enc.fs, "array": enc.array.to_dict(), "encoder": enc.config.to_dict(),
         "min_frame_spikes": sel.min_frame_spikes, "shard_clips": shard_clips}
    if sel.active_db is not None or sel.frames_per_clip is not None:   # older caches stay valid
        m["selection"] = sel.to_dict()
    if teacher is not None:
        m["teacher"] = teacher
    return m


def _resize_shards(out: Path, old_n: int, new_n: int, shard_clips: int) -> list[int]:
    """Change a cache's clip count in place: delete the shards whose clip range differs between
    ``old_n`` and ``new_n`` clips (a partial last shard, or shards past the new end); keep the rest.

    Clip ``i`` depends only on the simulator seed and ``i`` (:func:`~neuroaudio.sim.scene.plan_clip`,
    :func:`_clip_rng`), never on the clip count, so a kept shard holds exactly what a fresh build
    would write: extending 6000 → 18000 clips re-simulates only the partial shard 93 (48 clips).
    Returns the deleted shard indices.
    """
    def span(k: int, n: int) -> tuple[int, int]:
        return k * shard_clips, min(n, (k + 1) * shard_clips)

    gone = []
    for path in sorted(out.glob("shard_*.npz")):
        k = int(path.stem.split("_")[1])
        if span(k, new_n)[0] >= new_n or span(k, old_n) != span(k, new_n):
            path.unlink()
            gone.append(k)
    return gone


def build_cache(sim: SimConfig | str | Path, n_clips: int, encoder_cfg: RFPLCConfig, cache_dir: str | Path,
                seed: int | None = None, min_frame_spikes: int = 1, shard_clips: int = 64,
                progress: bool = True, active_db: float | None = None,
                frames_per_clip: int | None = None, part: tuple[int, int] | None = None,
                teacher: str | None = None) -> FrameSet | None:
    """Simulate and encode ``n_clips`` clips of ``sim`` into shards under ``cache_dir``; load them.

    Args:
        sim: simulator config (object or YAML path). seed: replaces its seed (train ≠ validation).
        n_clips: clips to draw (item i = clip i of ``neuroaudio simulate`` with that config).
        encoder_cfg: RF-PLC settings (rate and array: the simulator's).
        cache_dir: the shard folder; an existing one must hold the same meta (else InputError),
            except for the clip count: a different ``n_clips`` resizes the cache in place, keeping
            every shard whose clips are unchanged (:func:`_resize_shards`) — extend a cache by
            asking for more clips.
        min_frame_spikes, active_db, frames_per_clip: :class:`FrameSelection`.
        shard_clips: clips per shard (a shard is the unit of resume).
        part: ``(r, n)`` builds only the shards ``k`` with ``k % n == r`` and returns None, so ``n``
            processes can fill one cache together (``neuroaudio.maa.data`` ``__main__``).
        teacher: ``"gcc-phat-sm"`` (:func:`make_teacher`): store its posteriors beside the frames.
    """
    cfg = _sim_config(sim, seed)
    array = cfg.array.load()
    enc = RFPLCEncoder(array, encoder_cfg, cfg.fs)
    sel = FrameSelection(int(min_frame_spikes), active_db, frames_per_clip)
    out = Path(cache_dir)
    meta = _meta(cfg, n_clips, enc, sel, shard_clips, teacher)
    meta_path = out / "meta.json"
    if meta_path.is_file():
        old = json.loads(meta_path.read_text())
        new = json.loads(json.dumps(meta))
        if {**old, "n_clips": 0} != {**new, "n_clips": 0}:
            raise InputError(f"{out}: holds frames made with other settings (simulator, encoder, frame "
                             "selection or shard size); delete the folder or give another cache_dir")
        if int(old["n_clips"]) != n_clips:
            _resize_shards(out, int(old["n_clips"]), n_clips, shard_clips)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(meta_path, meta)
    render = _Renderer(SimulatedScenes(cfg, length=n_clips).cfg)
    n_shards = -(-n_clips // shard_clips)
    todo = [k for k in range(n_shards) if not (out / f"shard_{k:05d}.npz").is_file()
            and (part is None or k % part[1] == part[0])]
    fields = FIELDS + ((TEACHER_FIELD,) if teacher else ())
    teach = make_teacher(teacher, array, cfg.fs) if teacher and todo else None
    if todo:
        from rich.progress import Progress

        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task(f"encoding clips → {out}", total=len(todo) * shard_clips)
            for k in todo:
                parts: dict[str, list[np.ndarray]] = {f: [] for f in fields}
                for i in range(k * shard_clips, min(n_clips, (k + 1) * shard_clips)):
                    rendered, lab = render(i)
                    item = clip_items(enc, rendered, sel, _clip_rng(cfg, i), teach)
                    n = len(item["x"])
                    item.update(azimuth_deg=np.full(n, lab["azimuth_deg"], np.float32),
                                clip=np.full(n, i, np.int32), snr_db=np.full(n, lab["snr_db"], np.float32))
                    for f in fields:
                        parts[f].append(item[f])
                    bar.advance(task)
                with atomic_path(out / f"shard_{k:05d}.npz") as tmp, open(tmp, "wb") as f:
                    np.savez_compressed(f, **{name: np.concatenate(v) for name, v in parts.items()})
    return load_cache(out) if part is None else None


def load_cache(cache_dir: str | Path) -> FrameSet:
    """All shards of a cache folder as one :class:`FrameSet`."""
    out = Path(cache_dir)
    shards = sorted(out.glob("shard_*.npz"))
    if not shards:
        raise InputError(f"{out}: no frame shards; build them with `neuroaudio train maa` (cache mode)")
    parts = [np.load(s) for s in shards]
    cat = {k: np.concatenate([p[k] for p in parts]) for k in (*FIELDS, TEACHER_FIELD)
           if all(k in p for p in parts)}
    return FrameSet(**cat)


def cache_meta(cache_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(cache_dir) / "meta.json").read_text())


class OnlineFrames(Dataset):
    """Clips simulated and encoded on the fly; item ``i`` = ``(x [n, T, P, D, F], az [n])`` of clip i
    (and its teacher posteriors ``[n, n_azimuth]`` with a ``teacher``, :func:`make_teacher`).

    Use with :func:`collate_frames` (a batch of clips → all their frames). ``set_epoch(e)`` draws
    other clips each epoch (seed + e·1000003), so the supply of scenes is endless.
    """

    def __init__(self, sim: SimConfig | str | Path, n_clips: int, encoder_cfg: RFPLCConfig,
                 seed: int | None = None, min_frame_spikes: int = 1, active_db: float | None = None,
                 frames_per_clip: int | None = None, teacher: str | None = None):
        self.base = _sim_config(sim, seed)
        self.n_clips, self.encoder_cfg, self.min_frame_spikes = n_clips, encoder_cfg, min_frame_spikes
        self.selection = FrameSelection(int(min_frame_spikes), active_db, frames_per_clip)
        self.array: MicArray = self.base.array.load()
        self.encoder = RFPLCEncoder(self.array, encoder_cfg, self.base.fs)
        self.teacher = make_teacher(teacher, self.array, self.base.fs) if teacher else None
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.scenes = SimulatedScenes(replace(self.base, seed=self.base.seed + 1000003 * epoch),
                                      length=self.n_clips)
        self._render = _Renderer(self.scenes.cfg)

    def __len__(self) -> int:
        return self.n_clips

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        rendered, lab = self._render(int(i))
        item = clip_items(self.encoder, rendered, self.selection, _clip_rng(self.scenes.cfg, i), self.teacher)
        x = item["x"]
        out = (torch.from_numpy(x), torch.full((len(x),), lab["azimuth_deg"], dtype=torch.float32))
        if self.teacher is None:
            return out
        return (*out, torch.from_numpy(item[TEACHER_FIELD].astype(np.float32)))


def collate_frames(batch: list[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
    """Clips' frames → ``(x [N, T, P, D, F], az [N])`` (and ``teacher [N, n_azimuth]`` with a teacher)."""
    return tuple(torch.cat([b[k] for b in batch]) for k in range(len(batch[0])))


def main(argv: list[str] | None = None) -> None:
    """Fill a training config's frame caches ahead of training, optionally in several processes:
    ``python -m neuroaudio.maa.data CONFIG.yaml [--part R/N] [--set k=v ...]`` (same folders and
    settings as ``neuroaudio train maa``, which then finds the shards built)."""
    import argparse

    from .config import load_pipeline, parse_set

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("config")
    ap.add_argument("--part", default="0/1", help="R/N: this process builds shards k with k %% N == R")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args(argv)
    r, n = (int(v) for v in a.part.split("/"))
    cfg = load_pipeline(a.config, parse_set(a.set))
    d, enc = cfg["data"], RFPLCConfig(**cfg["encoder"])
    cache = Path(d["cache_dir"])
    common = {"min_frame_spikes": int(d["min_frame_spikes"]), "progress": False, "part": (r, n)}
    build_cache(d["sim"], int(d["val_clips"]), enc, cache / "val", seed=int(d["val_seed"]), **common)
    if d["mode"] == "cached":
        build_cache(d["sim"], int(d["train_clips"]), enc, cache / "train", seed=int(d["train_seed"]),
                    active_db=d["active_db"], frames_per_clip=d["frames_per_clip"], teacher=d["teacher"],
                    **common)


if __name__ == "__main__":
    main()
