"""Batch simulation: plan, render rooms in worker processes, write WAVs, manifest and resolved config.

Outputs in ``out_dir``:

- ``clips/NNNNNN.wav`` (``output.filename``): one multichannel WAV per clip (``[samples, mics]``,
  ``output.subtype``), written atomically, so a file that exists is complete;
- ``manifest.csv``: one row per clip (conventions.md; :mod:`neuroaudio.sim.manifest`), with each
  room's RT60 measured on its RIRs (``rt60_measured_s``) as the workers report it; a room that was
  not simulated in this run (all its clips existed) takes it from the previous manifest, or, failing
  that, has its RIRs computed again (no audio) to measure it; likewise each clip's active-part
  columns (``snr_active_db``, ``speech_*``): from this run, else from the previous manifest, else
  the clip is rendered again (not written) to measure them;
- ``config.yaml``: the resolved config (every default filled in, the seed used).

Determinism: every room and clip draws from its own ``SeedSequence`` (:mod:`neuroaudio.sim.scene`),
a room is rendered whole by one process, and a clip's samples depend only on its plan, so the
same config and seed give byte-identical files whatever ``workers`` is. Resume: clips whose WAV
already exists with the right length and channel count are skipped (a room whose clips all exist
is not simulated at all); a folder made with another config is refused.

Ownership: a run holds an OS lock on ``out_dir`` (:mod:`neuroaudio.ownership`), so a second run
into it meanwhile is refused with one line naming the first; temporary files a killed run left
beside the clips are removed. Workers end with the parent, even when it is killed with
``kill -9`` (:mod:`neuroaudio.workers`), and a parent stopped by Ctrl-C or SIGTERM stops them.
"""

from __future__ import annotations

import csv
import logging
import math
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf
import yaml

from ..audio import write_audio
from ..errors import InputError
from ..io_utils import write_text_atomic
from ..ownership import own_output, remove_stale_temps
from ..workers import guard_worker, run_task, stop_pool
from .config import SimConfig, parse_config
from .manifest import STAT_COLUMNS, manifest_row, write_manifest
from .render import measured_rt60_s, render_clip, room_responses, room_rirs
from .scene import ClipPlan, RoomPlan, clip_path, clips_of_room, plan_clip, plan_room

log = logging.getLogger("neuroaudio")

CONFIG_NAME = "config.yaml"
MANIFEST_NAME = "manifest.csv"


@dataclass
class SimSummary:
    """What a run did."""

    out_dir: Path
    n_clips: int
    written: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    manifest: Path | None = None
    render_cpu_s: float = 0.0
    """CPU seconds spent rendering rooms, summed over processes (worker start-up excluded)."""


def clip_complete(path: Path, n_samples: int, n_mics: int) -> bool:
    """True when ``path`` is a readable WAV of the expected length and channel count."""
    try:
        info = sf.info(str(path))
    except Exception:
        return False
    return info.frames == n_samples and info.channels == n_mics


RoomResult = tuple[int, int, float, float, dict[int, dict[str, float]]]
"""(room, clips written, CPU s, the room's measured RT60 in s, clip -> RenderedClip.stats)."""


def _complete(out: Path, cfg: SimConfig, room: RoomPlan, plan: ClipPlan, n_mics: int) -> bool:
    return clip_complete(out / clip_path(cfg, room, plan), plan.n_samples or cfg.n_samples, n_mics)


def render_room(cfg: SimConfig, r: int, clips: list[int], out_dir: str | None) -> RoomResult:
    """Simulate room ``r`` once and write the given clips (``out_dir`` None: measure, write nothing)."""
    cpu0 = time.process_time()
    room = plan_room(cfg, r)
    resp = room_responses(cfg, room)
    stats: dict[int, dict[str, float]] = {}
    for i in clips:
        plan = plan_clip(cfg, i)
        c = render_clip(cfg, room, resp, plan)
        stats[i] = c.stats
        if out_dir is not None:
            write_audio(Path(out_dir) / clip_path(cfg, room, plan), c.mix.astype("float32"), cfg.fs,
                        subtype=cfg.output.subtype)
    written = len(clips) if out_dir is not None else 0
    return r, written, time.process_time() - cpu0, resp.rt60_measured_s, stats


def _previous_rows(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError):
        return []


def _previous_rt60(rows: list[dict[str, str]]) -> dict[int, float]:
    """``room -> rt60_measured_s`` from an earlier manifest of the same folder (empty if none)."""
    out: dict[int, float] = {}
    for row in rows:
        try:
            v = float(row.get("rt60_measured_s") or "nan")
            if math.isfinite(v):
                out[int(row["room"])] = v
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _previous_stats(rows: list[dict[str, str]]) -> dict[int, dict[str, float]]:
    """``clip -> stats`` from an earlier manifest (rows that have every stat column; empty cells NaN)."""
    out: dict[int, dict[str, float]] = {}
    for row in rows:
        if not all(k in row and row[k] is not None for k in STAT_COLUMNS):
            continue
        try:
            out[int(row["clip"])] = {k: float(row[k]) if row[k] != "" else float("nan") for k in STAT_COLUMNS}
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _worker_init(parent_pid: int) -> None:
    guard_worker(parent_pid)   # ends with the parent, even after kill -9: no clips written after it
    os.environ["OMP_NUM_THREADS"] = "1"


def _mp_context():
    """Worker start method: a fork server that imported the simulator once (cheap workers, no state
    inherited from the caller, safe beside torch threads), or spawn where there is no fork."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["neuroaudio.sim.run"])
        return ctx
    return mp.get_context("spawn")


def _check_out_dir(cfg: SimConfig, out: Path) -> None:
    p = out / CONFIG_NAME
    if p.exists():
        try:
            old = parse_config(yaml.safe_load(p.read_text(encoding="utf-8")))
        except Exception:
            old = None
        if old != cfg:
            raise InputError(f"{out}: holds clips made with another config or seed ({p}); "
                             "use a new --out folder or delete that one")


def simulate(cfg: SimConfig, out_dir: str | Path, workers: int = 1, limit: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> SimSummary:
    """Generate the dataset of ``cfg`` in ``out_dir`` (see the module docstring).

    Args:
        cfg: validated config.
        out_dir: output folder (created).
        workers: worker processes (1: render in this process).
        limit: make only the first ``limit`` clips (a prefix: every SNR appears in it).
        progress: called as ``progress(done_clips, total_clips)`` as rooms finish.

    The run owns ``out_dir`` (:func:`neuroaudio.ownership.own_output`): a second run into it
    meanwhile is refused with an InputError naming this one.
    """
    if workers < 1:
        raise InputError(f"--workers {workers}: give at least 1")
    if limit is not None and limit < 1:
        raise InputError(f"--limit {limit}: give at least 1 clip")
    with own_output(out_dir, "--out") as out:
        _remove_stale_clip_temps(cfg, out, cfg.n_clips if limit is None else min(limit, cfg.n_clips))
        return _simulate(cfg, out, workers, limit, progress)


def _remove_stale_clip_temps(cfg: SimConfig, out: Path, n: int) -> None:
    """Remove the half-written clips a killed run left in the clip folders of ``out`` (call only
    while owning ``out``: nobody else writes there)."""
    rooms: dict[int, RoomPlan] = {}
    folders = {out}
    for i in range(n):
        c = plan_clip(cfg, i)
        if c.room not in rooms:
            rooms[c.room] = plan_room(cfg, c.room)
        folders.add((out / clip_path(cfg, rooms[c.room], c)).parent)
    for folder in folders:
        remove_stale_temps(folder)


def _simulate(cfg: SimConfig, out: Path, workers: int, limit: int | None,
              progress: Callable[[int, int], None] | None) -> SimSummary:
    """:func:`simulate` in the folder ``out`` it owns."""
    _check_out_dir(cfg, out)
    write_text_atomic(out / CONFIG_NAME,
                      yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=None))
    n = cfg.n_clips if limit is None else min(limit, cfg.n_clips)
    n_mics = cfg.array.load().n_mics
    summary = SimSummary(out, n)
    jobs: list[tuple[int, list[int]]] = []
    for r in range(-(-n // cfg.scene.clips_per_room)):
        room = plan_room(cfg, r)
        todo = [i for i in clips_of_room(cfg, r, n)
                if not _complete(out, cfg, room, plan_clip(cfg, i), n_mics)]
        summary.skipped += len(clips_of_room(cfg, r, n)) - len(todo)
        if todo:
            jobs.append((r, todo))
    done = summary.skipped
    old_rows = _previous_rows(out / MANIFEST_NAME)
    rt60: dict[int, float] = _previous_rt60(old_rows)
    stats: dict[int, dict[str, float]] = _previous_stats(old_rows)
    if progress:
        progress(done, n)

    def _ok(result: RoomResult) -> None:
        nonlocal done
        count = result[1]
        summary.render_cpu_s += result[2]
        rt60[result[0]] = result[3]
        stats.update(result[4])
        summary.written += count
        done += count
        if progress:
            progress(done, n)

    def _fail(r: int, clips: list[int], e: BaseException) -> None:
        nonlocal done
        msg = f"room {r} (clips {clips[0]}..{clips[-1]}): {type(e).__name__}: {e}"
        log.error(msg)
        summary.failed.append(msg)
        done += len(clips)
        if progress:
            progress(done, n)

    if workers == 1 or len(jobs) <= 1:
        for r, clips in jobs:
            try:
                _ok(render_room(cfg, r, clips, str(out)))
            except InputError:
                raise
            except Exception as e:  # keep going: other rooms are independent
                _fail(r, clips, e)
    else:
        ctx = _mp_context()
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                                 initargs=(os.getpid(),)) as ex:
            try:
                futs = {ex.submit(run_task, render_room, cfg, r, clips, str(out)): (r, clips)
                        for r, clips in jobs}
                for f in as_completed(futs):
                    r, clips = futs[f]
                    try:
                        _ok(f.result())
                    except InputError:
                        raise
                    except Exception as e:
                        _fail(r, clips, e)
            except BaseException:   # Ctrl-C, SIGTERM, bad input: end the workers now
                stop_pool(ex)
                raise

    rows = []
    rooms: dict[int, RoomPlan] = {}
    plans = [plan_clip(cfg, i) for i in range(n)]
    for c in plans:
        if c.room not in rooms:
            rooms[c.room] = plan_room(cfg, c.room)
    exist = [c for c in plans if (out / clip_path(cfg, rooms[c.room], c)).exists()]
    missing: dict[int, list[int]] = {}
    for c in exist:  # clips made earlier whose active-part columns are unknown: render them again
        if c.index not in stats:
            missing.setdefault(c.room, []).append(c.index)
    for r, clips in missing.items():
        try:
            res = render_room(cfg, r, clips, None)
            stats.update(res[4])
            rt60.setdefault(r, res[3])
        except Exception as e:
            log.error(f"room {r}: active-part columns not measured: {type(e).__name__}: {e}")
    for c in exist:
        if c.room not in rt60:  # not simulated in this run, no earlier value: RIRs only
            try:
                rt60[c.room] = measured_rt60_s(room_rirs(cfg, rooms[c.room]),
                                               len(rooms[c.room].targets), cfg.fs)
            except Exception as e:
                log.error(f"room {c.room}: RT60 not measured: {type(e).__name__}: {e}")
                rt60[c.room] = float("nan")
        rows.append(manifest_row(cfg, rooms[c.room], c, rt60[c.room], stats.get(c.index)))
    summary.manifest = out / MANIFEST_NAME
    write_manifest(summary.manifest, rows)
    return summary
