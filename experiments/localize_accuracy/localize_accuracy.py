"""Accuracy of the localizers on small simulated reverberant speech scenes (our tuning set).

Scenes (seeded, cached under ``runs/loc_tune/``): a shoebox room (4-8 x 3-6 x 2.5-3.5 m,
RT60 0.15-0.7 s, image-source method up to order 20), a ReSpeaker-4 array 1-1.6 m high at least
1 m from the walls, an espeak-ng talker 1-2.5 m away at a random azimuth, one point noise source
elsewhere in the room (white, pink, brown or a second talker) plus uncorrelated sensor noise
10 dB below it, mixed at the SNR of conventions.md (reverberant source image vs all noise, over
mics and clip). Clips of 3 s.

This is the set the frequency ranges, fusion and pooling choices of gcc-phat and srp-phat were
tuned on (docs/localize.md); the project's own benchmark is ``neuroaudio evaluate`` on
``pipelines/dev_bench.yaml``.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python -m experiments.localize_accuracy.localize_accuracy --scenes 12 \
        --methods gcc-phat,srp-phat,pra-srp,pra-normmusic
    # try method options: --variant "gcc-phat:fmin_hz=300,fmax_hz=4000"
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

from neuroaudio.angles import circular_error_deg  # noqa: E402
from neuroaudio.arrays import load_array  # noqa: E402
from neuroaudio.localize import make_localizer  # noqa: E402

FS = 16000
SNRS_DB = (-5, 0, 5, 10, 20, 30)
WORDS = ("left right forward stop go robot turn around hello there where are you come here look at "
         "me the quick brown fox jumps over a lazy dog seven eight nine zero yes no maybe later "
         "kitchen window table chair music light open close").split()


def speech(rng: np.random.Generator, n: int) -> np.ndarray:
    """espeak-ng talker (random words, voice, rate, pitch) fitted to ``n`` samples."""
    from neuroaudio.sim.speech import synthesize

    voices = ["en", "en-us", "en-029", "en+f3", "en-us+m3", "en+f2"]
    out = np.zeros(n, dtype=np.float32)
    pos = int(rng.integers(0, FS // 4))
    while pos < n:
        words = " ".join(rng.choice(WORDS, size=int(rng.integers(3, 7))))
        x = synthesize(words, voice=str(rng.choice(voices)), rate_wpm=int(rng.integers(140, 200)),
                       pitch=int(rng.integers(30, 70)), fs=FS)
        x = x / (np.sqrt(np.mean(x**2)) + 1e-9)
        k = min(len(x), n - pos)
        out[pos:pos + k] = x[:k]
        pos += k + int(rng.integers(FS // 10, FS // 2))
    return out


def noise_signal(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    if kind == "talker":
        return speech(rng, n)
    exponent = {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind]
    f = np.fft.rfftfreq(n, 1 / FS)
    shape = np.where(f > 20, np.maximum(f, 20) ** (-exponent / 2), 0.0)
    x = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * shape, n)
    return (x / np.std(x)).astype(np.float32)


def make_scene(seed: int, duration_s: float = 3.0) -> dict:
    """Clean reverberant source image and noise image ``[samples, mics]`` + the truth."""
    import pyroomacoustics as pra

    rng = np.random.default_rng(seed)
    arr = load_array("respeaker4")
    dims = np.array([rng.uniform(4, 8), rng.uniform(3, 6), rng.uniform(2.5, 3.5)])
    rt60 = rng.uniform(0.15, 0.7)
    e_abs, max_order = pra.inverse_sabine(rt60, dims)
    centre = np.array([rng.uniform(1, dims[0] - 1), rng.uniform(1, dims[1] - 1), rng.uniform(1.0, 1.6)])
    n = int(duration_s * FS)

    def place(min_d, max_d):
        for _ in range(1000):
            az = rng.uniform(0, 360)
            d = rng.uniform(min_d, max_d)
            p = centre + np.array([d * np.cos(np.deg2rad(az)), d * np.sin(np.deg2rad(az)),
                                   rng.uniform(-0.3, 0.3)])
            if np.all(p > 0.3) and np.all(p < dims - 0.3):
                return az, d, p
        raise RuntimeError("no position")

    az, dist, src = place(1.0, 2.5)
    while True:
        naz, _, npos = place(1.0, 3.0)
        if circular_error_deg(naz, az) > 20:
            break
    kind = str(rng.choice(["white", "pink", "brown", "talker"]))
    images = []
    for pos, sig in ((src, speech(rng, n)), (npos, noise_signal(rng, n, kind))):
        room = pra.ShoeBox(dims, fs=FS, materials=pra.Material(e_abs), max_order=min(max_order, 20))
        room.add_source(pos, signal=sig)
        room.add_microphone_array((arr.mics_m + centre).T)
        room.simulate()
        images.append(room.mic_array.signals.T[:n].astype(np.float32))
    sensor = rng.standard_normal(images[1].shape).astype(np.float32)
    sensor *= np.sqrt(np.mean(images[1] ** 2) / 10 / np.mean(sensor**2))
    return {"source": images[0], "noise": images[1] + sensor, "azimuth_deg": az, "rt60_s": rt60,
            "distance_m": dist, "noise_kind": kind}


def load_scene(seed: int, cache: Path) -> dict:
    p = cache / f"scene_{seed}.npz"
    if p.exists():
        d = dict(np.load(p))
        return {k: (v.item() if v.ndim == 0 else v) for k, v in d.items()}
    s = make_scene(seed)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(p, **s)
    return s


def mix(scene: dict, snr_db: float) -> np.ndarray:
    ps, pn = np.mean(scene["source"] ** 2), np.mean(scene["noise"] ** 2)
    x = scene["source"] + scene["noise"] * np.sqrt(ps / pn / 10 ** (snr_db / 10))
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def manifest_clips(manifest: Path, snrs: list[float]) -> list[tuple]:
    """(key, snr, true azimuth, path) of a simulated manifest's clips at the given SNRs."""
    import csv

    out = []
    with open(manifest, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            s = float(row["snr_db"])
            if s in snrs:
                out.append((row["path"], s, float(row["azimuth_deg"]), str(manifest.parent / row["path"])))
    return out


def read_clip(path: str) -> np.ndarray:
    from neuroaudio.audio.io import read_audio

    return read_audio(path, fs=FS)[0]


def parse_variant(spec: str) -> tuple[str, str, dict]:
    """``label=method:key=val,key=val`` or ``method:...`` → (label, method, options)."""
    label, _, rest = spec.rpartition("=") if "=" in spec.split(":")[0] else ("", "", spec)
    method, _, opts = rest.partition(":")
    options = {}
    for kv in filter(None, opts.split(",")):
        k, v = kv.split("=")
        if v.lower() in ("true", "false"):
            options[k] = v.lower() == "true"
            continue
        try:
            options[k] = float(v) if "." in v or "e" in v else int(v)
        except ValueError:
            options[k] = v
    return label or spec, method, options


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=int, default=12, help="scenes (room + positions) per SNR")
    ap.add_argument("--methods", default="gcc-phat,srp-phat,pra-srp,pra-normmusic")
    ap.add_argument("--variant", action="append", default=[],
                    help="extra 'method:key=val,...' (repeatable)")
    ap.add_argument("--snrs", default=",".join(map(str, SNRS_DB)))
    ap.add_argument("--cache", default=str(REPO / "runs" / "loc_tune"))
    ap.add_argument("--manifest", help="evaluate on a simulated set (neuroaudio simulate) instead")
    args = ap.parse_args()
    snrs = [float(s) for s in args.snrs.split(",")]
    specs = [parse_variant(m) for m in args.methods.split(",")] + [parse_variant(v) for v in args.variant]
    locs = {label: make_localizer(m, "respeaker4", **o) for label, m, o in specs}
    if args.manifest:
        clips = manifest_clips(Path(args.manifest), snrs)
        memo_path = Path(args.manifest).parent / "reference_errors.json"
    else:
        scenes = [load_scene(1000 + k, Path(args.cache)) for k in range(args.scenes)]
        clips = [(f"{1000 + k}|{s:g}", s, sc["azimuth_deg"], (sc, s))
                 for s in snrs for k, sc in enumerate(scenes)]
        memo_path = Path(args.cache) / "reference_errors.json"
    err = {label: {s: [] for s in snrs} for label in locs}
    secs = dict.fromkeys(locs, 0.0)
    # the pyroomacoustics references are slow and never change: their errors are cached
    memo = json.loads(memo_path.read_text()) if memo_path.exists() else {}
    for key0, s, true_az, src in clips:
        x = mix(*src) if isinstance(src, tuple) else read_clip(src)
        for label, loc in locs.items():
            key = f"{label}|{key0}"
            if label.startswith("pra-") and key in memo:
                err[label][s].append(memo[key])
                continue
            t = time.perf_counter()
            r = loc.localize(x)
            secs[label] += time.perf_counter() - t
            e = 180.0 if r.azimuth_deg is None else float(circular_error_deg(r.azimuth_deg, true_az))
            err[label][s].append(e)
            if label.startswith("pra-"):
                memo[key] = e
                memo_path.write_text(json.dumps(memo))
    n_per = {s: len(err[next(iter(locs))][s]) for s in snrs}
    print(f"clips per SNR: {n_per}")
    width = max(map(len, locs))
    print("MAE (deg) per SNR; ACC@5 in brackets")
    print(f"{'method':<{width}} " + " ".join(f"{s:>12g}" for s in snrs) + "   all   time(s)")
    for label in locs:
        cells = [f"{np.mean(err[label][s]):6.2f} ({np.mean(np.array(err[label][s]) <= 5):.2f})"
                 for s in snrs]
        allv = np.concatenate([err[label][s] for s in snrs])
        print(f"{label:<{width}} " + " ".join(cells) + f" {np.mean(allv):6.2f} {secs[label]:7.1f}")


if __name__ == "__main__":
    main()
