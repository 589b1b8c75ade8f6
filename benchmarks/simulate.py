"""Simulator speed: clips per second of ``neuroaudio.sim`` against a naive pyroomacoustics loop.

Both make the same clips of ``pipelines/dev_bench.yaml`` (same plans: rooms, positions, signals,
SNRs), side by side in one run, on this machine:

- naive: one ``pyroomacoustics.ShoeBox`` per clip holding the target and every noise position with
  its signal, ``room.simulate(return_premix=True)``, then noise scaled to the SNR from the premix
  and the WAV written (the textbook way: one simulation per clip);
- ours (``neuroaudio.sim.run.render_room``): the RIRs of a room computed once and reused, in the
  frequency domain, by all the clips of the room; 1 process, then ``--workers`` processes.

Wall time and CPU time are both reported: on a shared machine the CPU-time ratio is the stable one.

Usage (a few minutes):
    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.simulate --limit 36 --workers 2
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

from neuroaudio.audio import write_audio  # noqa: E402
from neuroaudio.sim.config import load_config  # noqa: E402
from neuroaudio.sim.render import pra_room  # noqa: E402
from neuroaudio.sim.run import simulate  # noqa: E402
from neuroaudio.sim.scene import plan_clip, plan_room  # noqa: E402
from neuroaudio.sim.signals import render_signal  # noqa: E402


def naive_clip(cfg, room, clip, out: Path) -> np.ndarray:
    """One clip, one full pyroomacoustics simulation, written to ``out`` like ours. ``[samples, mics]``."""
    n, fs = cfg.n_samples, cfg.fs
    r = pra_room(cfg, room)
    r.add_source(list(room.targets[clip.target].position_m), signal=render_signal(clip.source, n, fs))
    groups = []
    for comp, recipes, pts in zip(cfg.noise, clip.noise, room.noise_positions_m, strict=True):
        if comp.placement == "sensor":
            continue
        first = len(r.sources)
        for rec, p in zip(recipes, pts, strict=True):
            r.add_source(list(p), signal=render_signal(rec, n, fs))
        groups.append((comp, range(first, len(r.sources))))
    premix = r.simulate(return_premix=True)[:, :, :n]  # [sources, mics, samples]
    img = premix[0]
    p_src = np.mean(img ** 2)
    noise = np.zeros_like(img)
    for comp, idx in groups:
        part = premix[list(idx)].sum(axis=0)
        noise += part * np.sqrt(10 ** (comp.level_db / 10) / np.mean(part ** 2))
    for comp, recipes in zip(cfg.noise, clip.noise, strict=True):
        if comp.placement == "sensor":
            part = np.random.default_rng(recipes[0]["seed"]).standard_normal(img.shape)
            noise += part * np.sqrt(10 ** (comp.level_db / 10) / np.mean(part ** 2))
    noise *= np.sqrt(p_src / (np.mean(noise ** 2) * 10 ** (clip.snr_db / 10)))
    mix = img + noise
    mix = (mix * 10 ** (clip.peak_dbfs / 20) / np.abs(mix).max()).T
    write_audio(out / f"{clip.index:06d}.wav", mix.astype(np.float32), fs, subtype=cfg.output.subtype)
    return mix


def _cpu_s() -> float:
    """CPU seconds of this process and its reaped children (robust to other load on the machine)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(REPO / "pipelines/dev_bench.yaml"))
    ap.add_argument("--limit", type=int, default=36, help="clips per method (a prefix of the dataset)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    cfg = load_config(args.config)
    n = min(args.limit, cfg.n_clips)

    tmp = Path(tempfile.mkdtemp(prefix="simbench_naive_"))
    try:
        t0, c0 = time.perf_counter(), _cpu_s()
        rooms = {}
        for i in range(n):
            c = plan_clip(cfg, i)
            if c.room not in rooms:
                rooms[c.room] = plan_room(cfg, c.room)
            naive_clip(cfg, rooms[c.room], c, tmp)
        t_naive, c_naive = time.perf_counter() - t0, _cpu_s() - c0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    results = [("naive: one pyroomacoustics simulation per clip", 1, t_naive, c_naive)]
    for w in sorted({1, args.workers}):
        tmp = Path(tempfile.mkdtemp(prefix="simbench_"))
        try:
            t0, c0 = time.perf_counter(), _cpu_s()
            s = simulate(cfg, tmp, workers=w, limit=n)
            cpu = _cpu_s() - c0 + (s.render_cpu_s if w > 1 else 0.0)  # workers report their own
            name = f"neuroaudio.sim (RIRs reused per room), {w} worker(s)"
            results.append((name, w, time.perf_counter() - t0, cpu))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{Path(args.config).name}: {n} clips of {cfg.duration_s} s, {cfg.array.name}, "
          f"{cfg.scene.clips_per_room} clips per room, RIR order cap {cfg.room.max_order}")
    print("wall: elapsed time (what a user waits; depends on other load); CPU: CPU seconds of all "
          "processes (work done; workers' start-up imports not counted)")
    print(f"{'method':<56} {'workers':>7} {'wall (s)':>8} {'clips/s':>8} {'speed-up':>8} "
          f"{'CPU (s)':>8} {'clips/CPU-s':>11} {'CPU speed-up':>12}")
    for name, w, t, c in results:
        print(f"{name:<56} {w:>7} {t:>8.2f} {n / t:>8.2f} {t_naive / t:>7.1f}x "
              f"{c:>8.2f} {n / c:>11.2f} {c_naive / c:>11.1f}x")


if __name__ == "__main__":
    main()
