"""Speed and memory of the localizers.

1. Real-time factor (processing time / audio duration, one core: BLAS/OpenMP/torch threads = 1)
   of every registered classical method on a 4-channel 16-kHz recording (a talker-like source
   in a reverberant room plus sensor noise, so that nearly every frame is analysed). The
   pyroomacoustics references loop over frames (and SRP/TOPS over directions) in Python; they
   are timed on a shorter excerpt (``--pra-seconds``, TOPS on a tenth of it) and their RTF
   reported, since the cost per frame is constant.
2. Peak memory of a 1-hour 4-channel file localized from disk (streamed in 1-s blocks): the hour
   file is written to a temporary folder, then localized in a fresh subprocess that reports its
   own peak resident set (``VmHWM``; ``ru_maxrss`` would include the parent's, since Linux keeps
   it across ``execve``).

Usage::

    nice -n 10 python -m benchmarks.localize                 # both parts, 60-s RTF recording
    python -m benchmarks.localize --skip-hour --seconds 20   # quick look

Targets: RTF <= 0.02 for gcc-phat and srp-phat, <= 0.05 for maa (RF-PLC encoder + network);
peak RSS < 300 MB for the hour.

``maa`` (the spiking network) needs a model: the shipped default when there is one, else
``--maa-model PATH``; ``maa-plain`` is the same localizer with ``fast=False`` (every frame encoded
in full, the plain model forward, 64-frame batches), timed beside it so the speed-up is measured
in one run; the two give the same azimuths. Per-hop breakdown of maa's cost (encoder / network)
is printed below the table. Example::

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.localize --skip-hour --seconds 20 \
        --methods gcc-phat,srp-phat,maa,maa-plain --maa-model runs/maa_first/model.pt
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

FS = 16000
RTF_TARGET = {"gcc-phat": 0.02, "srp-phat": 0.02, "maa": 0.05}
MAA_MODEL: str | None = None
"""``--maa-model``: the checkpoint for ``maa`` / ``maa-plain`` (None: the shipped default)."""


def make(method: str):
    """The localizer of a benchmark row; ``maa-plain`` = ``maa`` with ``fast=False``."""
    from neuroaudio.localize import make_localizer

    if method in ("maa", "maa-plain"):
        opts = {"fast": method == "maa"}
        if method == "maa-plain":
            opts["batch_frames"] = 64              # the code path and batch size before the speed work
        if MAA_MODEL:
            opts["model"] = MAA_MODEL
        return make_localizer("maa", "respeaker4", **opts)
    return make_localizer(method, "respeaker4")


def maa_breakdown(seconds: float = 10.0) -> dict:
    """CPU ms per hop of maa's parts on the recording's frames: encoder (every frame in full vs each
    step once), network (plain, 64-frame batches, vs forward-only, the localizer's batches), best of 3."""
    import torch

    loc = make("maa")
    x = recording(seconds)
    frames = loc.framer.push(x)
    loc.framer.reset()
    coinc = loc.encoder.encode_frames(frames)
    xt = torch.from_numpy(np.minimum(coinc, 255).astype(np.uint8))

    def best(fn) -> float:
        t = float("inf")
        for _ in range(3):
            c0 = time.process_time()
            fn()
            t = min(t, time.process_time() - c0)
        return 1000 * t / len(frames)

    def plain_net():
        with torch.no_grad():
            for s in range(0, len(xt), 64):
                loc.net.predict_proba(xt[s:s + 64])

    def fast_net():
        for s in range(0, len(xt), loc.batch_frames):
            loc.fast_net.predict_proba(xt[s:s + loc.batch_frames])

    def reuse():
        loc.step_reuse.reset()
        loc.step_reuse.encode_frames(frames)

    return {"frames": len(frames), "hop_ms": 1000 * loc.hop / loc.fs,
            "encoder_ms": best(lambda: loc.encoder.encode_frames(frames)), "encoder_reuse_ms": best(reuse),
            "network_ms": best(plain_net), "network_fast_ms": best(fast_net)}
RSS_TARGET_MB = 300.0


def recording(seconds: float, seed: int = 0) -> np.ndarray:
    """``[samples, 4]`` float32: harmonic-complex bursts from 120 deg in a 5 x 4 x 3 m room
    (RT60 0.4 s, image sources up to order 10, one RIR set reused), sensor noise 20 dB below."""
    import pyroomacoustics as pra
    from scipy.signal import fftconvolve

    from neuroaudio.arrays import load_array

    rng = np.random.default_rng(seed)
    arr = load_array("respeaker4")
    dims = np.array([5.0, 4.0, 3.0])
    e_abs, _ = pra.inverse_sabine(0.4, dims)
    centre = np.array([2.0, 1.7, 1.2])
    room = pra.ShoeBox(dims, fs=FS, materials=pra.Material(e_abs), max_order=10)
    room.add_source(centre + 1.5 * np.array([np.cos(np.deg2rad(120)), np.sin(np.deg2rad(120)), 0]))
    room.add_microphone_array((arr.mics_m + centre).T)
    room.compute_rir()
    n = int(seconds * FS)
    t = np.arange(n) / FS
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / FS
    src = sum(np.sin(h * phase) / h for h in range(1, 20)) * (np.sin(2 * np.pi * 2 * t) > -0.3)
    src = src + 0.05 * rng.standard_normal(n)
    x = np.stack([fftconvolve(src, room.rir[m][0])[:n] for m in range(4)], axis=1)
    x += rng.standard_normal(x.shape) * np.std(x) * 0.1
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def rtf_table(seconds: float, pra_seconds: float, methods: list[str], repeats: int = 3) -> list[dict]:
    x = recording(seconds)
    segs, locs, best = {}, {}, {}
    for m in methods:
        dur = seconds if not m.startswith("pra-") else (pra_seconds / 10 if m == "pra-tops"
                                                         else pra_seconds)
        segs[m] = (dur, x[: int(dur * FS)])
        locs[m] = make(m)
        locs[m].localize(segs[m][1][: locs[m].frame_len * 2])     # warm-up (imports, caches)
        best[m] = [float("inf"), float("inf"), None]
    # best of N, the methods interleaved within each round: a shared machine's load changes
    # over time, and interleaving lets every method see the same load (side by side)
    for k in range(repeats):
        for m in methods:
            if m.startswith("pra-") and k > 0:
                continue
            t0, c0 = time.perf_counter(), time.process_time()
            res = locs[m].localize(segs[m][1])
            el, cpu = time.perf_counter() - t0, time.process_time() - c0
            b = best[m]
            best[m] = [min(b[0], el), min(b[1], cpu), res]
    rows = []
    for m in methods:
        dur = segs[m][0]
        el, cpu, res = best[m]
        rows.append({"method": m, "audio_s": round(dur, 2), "wall_s": round(el, 3),
                     "cpu_s": round(cpu, 3), "rtf": cpu / dur, "rtf_wall": el / dur,
                     "frames": len(res.frames), "azimuth_deg": res.azimuth_deg})
    return rows


HOUR_CHILD = r"""
import json, resource, sys, time


def peak_rss_mb():
    # VmHWM: this process's own high-water mark. ru_maxrss is kept across execve, so a child
    # started from a big parent would report the parent's size (getrusage(2), NOTES).
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


from neuroaudio.localize import make_localizer
loc = make_localizer(sys.argv[2], "respeaker4")
t = time.perf_counter()
c = time.process_time()
res = loc.localize_file(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - t, "cpu_s": time.process_time() - c,
                  "frames": len(res.frames),
                  "azimuth_deg": res.azimuth_deg,
                  "max_rss_mb": peak_rss_mb()}))
"""


def hour_rss(method: str, hours: float = 1.0) -> dict:
    import soundfile as sf

    chunk = recording(60.0, seed=1)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "hour.wav"
        with sf.SoundFile(path, "w", FS, 4, subtype="PCM_16") as f:
            for _ in range(int(round(hours * 60))):
                f.write(chunk)
        del chunk
        p = subprocess.run([sys.executable, "-c", HOUR_CHILD, str(path), method],
                           capture_output=True, text=True, cwd=REPO, env={**os.environ})
        if p.returncode:
            raise SystemExit(p.stderr)
        return {"method": method, "hours": hours, **json.loads(p.stdout)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the RTF recording")
    ap.add_argument("--pra-seconds", type=float, default=10.0,
                    help="excerpt for the pyroomacoustics references (TOPS: a tenth)")
    ap.add_argument("--methods", default="gcc-phat,srp-phat,pra-srp,pra-music,pra-normmusic,pra-tops")
    ap.add_argument("--maa-model", default=None,
                    help="checkpoint for maa/maa-plain (default: the shipped model)")
    ap.add_argument("--hour-method", default=None, help="default: the default method")
    ap.add_argument("--skip-hour", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    global MAA_MODEL
    MAA_MODEL = args.maa_model
    rows = rtf_table(args.seconds, args.pra_seconds, args.methods.split(","))
    print(f"Real-time factor, one core, 4 ch @ 16 kHz, 0.17-s frames / 0.085-s hop "
          f"({args.seconds:g}-s recording; pra-* on excerpts)")
    print("RTF = CPU time of the (single-threaded) process / audio duration, best of 3 runs "
          "(pra-*: 1); wall-clock RTF beside it (equal on an idle core, larger on a shared machine)")
    print(f"{'method':<15}{'audio (s)':>10}{'CPU (s)':>9}{'RTF':>9}{'wall RTF':>10}{'target':>8}  pass")
    for r in rows:
        tgt = RTF_TARGET.get(r["method"])
        ok = "" if tgt is None else ("yes" if r["rtf"] <= tgt else "NO")
        print(f"{r['method']:<15}{r['audio_s']:>10.1f}{r['cpu_s']:>9.3f}{r['rtf']:>9.4f}"
              f"{r['rtf_wall']:>10.4f}{'' if tgt is None else f'{tgt:.2f}':>8}  {ok}")
    out = {"rtf": rows}
    if any(m.startswith("maa") for m in args.methods.split(",")):
        b = maa_breakdown(min(args.seconds, 10.0))
        print(f"\nmaa per {b['hop_ms']:.0f}-ms hop (CPU ms, {b['frames']} frames): encoder "
              f"{b['encoder_ms']:.2f} (every frame in full) / {b['encoder_reuse_ms']:.2f} (each step once); "
              f"network {b['network_ms']:.2f} (plain) / {b['network_fast_ms']:.2f} (forward-only)")
        out["maa_breakdown"] = b
    if not args.skip_hour:
        from neuroaudio.localize.registry import DEFAULT_METHOD

        h = hour_rss(args.hour_method or DEFAULT_METHOD)
        ok = "yes" if h["max_rss_mb"] < RSS_TARGET_MB else "NO"
        print(f"\n1-hour 4-channel file, {h['method']}, streamed: peak RSS {h['max_rss_mb']:.0f} MB "
              f"(target < {RSS_TARGET_MB:.0f}: {ok}); CPU {h['cpu_s']:.0f} s (RTF "
              f"{h['cpu_s'] / 3600:.4f}), wall {h['seconds']:.0f} s, {h['frames']} frames")
        out["hour"] = h
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
