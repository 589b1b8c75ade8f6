"""Quick check scenes for issue 18 (until the realistic bench lands): one short espeak-ng word
(trimmed to at most 0.6 s) at a random onset in a 1.2-3 s clip, in non-stationary directional
noise from 1-3 point sources (pink, amplitude-modulated pink, clatter bursts, harmonic hum) plus
sensor noise, in a reverberant shoebox (RT60 0.2-0.6 s), respeaker4 at yaw 0.

The SNR is over the whole clip (conventions.md); the manifest also records ``speech_snr_db``, the
SNR over the word's samples only. Not a bench: a small seeded set for side-by-side checks of the
pooling and for fitting confidence calibration (``--seed`` other than the check's).

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.short_word_scenes --out runs/calibration/short_words \\
        --clips-per-snr 12
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

import numpy as np  # noqa: E402

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "yes", "no",
         "stop", "go", "left", "right", "up", "down", "hello", "help")
VOICES = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc")
NOISES = ("pink", "am", "clatter", "hum")


def noise_signal(kind: str, rng: np.random.Generator, n: int, fs: int) -> np.ndarray:
    """One unit-power noise of ``kind``, ``[n]``."""
    from neuroaudio.sim.signals import coloured_noise

    t = np.arange(n) / fs
    if kind == "pink":
        x = coloured_noise(rng, n, fs, 1.0)
    elif kind == "am":
        x = coloured_noise(rng, n, fs, 1.0) * (1 + rng.uniform(0.6, 1.0)
                                               * np.sin(2 * np.pi * rng.uniform(0.5, 4) * t
                                                        + rng.uniform(0, 2 * np.pi)))
    elif kind == "clatter":
        x = 0.05 * coloured_noise(rng, n, fs, 1.0)
        for _ in range(rng.poisson(rng.uniform(2, 6) * n / fs) + 1):
            k = int(rng.integers(0, n))
            m = min(n - k, int(0.08 * fs))
            env = np.exp(-np.arange(m) / (rng.uniform(0.005, 0.03) * fs))
            x[k:k + m] += 10 ** (rng.uniform(-1, 0.5)) * env * rng.standard_normal(m)
    else:   # hum: harmonics of 50-120 Hz with slow modulation and a noisy floor
        f0 = rng.uniform(50, 120)
        x = sum(rng.uniform(0.2, 1) / h * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3))
                for h in range(1, 25) if f0 * h < 7000)
        x = (x * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 2) * t))
             + 0.2 * coloured_noise(rng, n, fs, 1.0))
    return x / max(np.sqrt(np.mean(x ** 2)), 1e-12)


def word(rng: np.random.Generator, fs: int) -> np.ndarray:
    from neuroaudio.sim.speech import synthesize

    x = synthesize(str(rng.choice(WORDS)), str(rng.choice(VOICES)), int(rng.integers(150, 220)),
                   int(rng.integers(30, 70)), fs).astype(np.float64)
    env = np.abs(x) > 0.02 * np.abs(x).max()
    k = np.flatnonzero(env)
    x = x[k[0]:k[-1] + 1][: int(0.6 * fs)]
    return x / np.sqrt(np.mean(x ** 2))


def clip(i: int, snr_db: float, seed: int, fs: int = 16000) -> tuple[np.ndarray, dict]:
    """One scene: ``[samples, 4]`` and its manifest fields."""
    import pyroomacoustics as pra

    from neuroaudio.arrays import load_array

    rng = np.random.default_rng([seed, i])
    size = np.array([rng.uniform(4, 8), rng.uniform(3.5, 6), rng.uniform(2.5, 3.2)])
    rt60 = rng.uniform(0.2, 0.6)
    absorption, order = pra.inverse_sabine(rt60, size)
    room = pra.ShoeBox(list(size), fs=fs, materials=pra.Material(absorption), max_order=min(order, 12))
    centre = np.array([size[0] / 2 + rng.uniform(-0.5, 0.5), size[1] / 2 + rng.uniform(-0.5, 0.5),
                       rng.uniform(0.8, 1.3)])
    arr = load_array("respeaker4")
    room.add_microphone_array(pra.MicrophoneArray((arr.mics_m + centre).T, fs))
    az = rng.uniform(0, 360)

    def place(a_deg: float, lo: float, hi: float) -> list[float]:
        for _ in range(50):
            d = rng.uniform(lo, hi)
            p = centre + d * np.array([np.cos(np.radians(a_deg)), np.sin(np.radians(a_deg)), 0.0])
            p[2] = centre[2] + rng.uniform(-0.3, 0.3)
            if np.all(p > 0.3) and np.all(p < size - 0.3):
                return list(p)
            hi = max(lo, hi * 0.8)
        return list(np.clip(p, 0.3, size - 0.3))

    room.add_source(place(az, 1.0, 2.5))
    n_noise = int(rng.integers(1, 4))
    noise_az = []
    for _ in range(n_noise):
        a = (az + rng.uniform(40, 320)) % 360
        noise_az.append(a)
        room.add_source(place(a, 1.0, 3.0))
    room.compute_rir()
    dur = rng.uniform(1.2, 3.0)
    n = int(dur * fs)
    w = word(rng, fs)
    onset = int(rng.integers(int(0.1 * fs), max(int(0.1 * fs) + 1, n - len(w) - int(0.1 * fs))))
    src = np.zeros(n)
    src[onset:onset + len(w)] = w[: n - onset]

    def image(s: int, x: np.ndarray) -> np.ndarray:
        return np.stack([np.convolve(x, room.rir[m][s])[:n] for m in range(arr.n_mics)], axis=1)

    speech = image(0, src)
    kinds = [str(rng.choice(NOISES)) for _ in range(n_noise)]
    noise = sum(image(1 + j, noise_signal(k, rng, n, fs)) * 10 ** (rng.uniform(-6, 0) / 20)
                for j, k in enumerate(kinds))
    noise = noise + 0.05 * np.sqrt(np.mean(noise ** 2)) * rng.standard_normal(noise.shape)
    g = np.sqrt(np.mean(speech ** 2) / np.mean(noise ** 2) / 10 ** (snr_db / 10))
    noise = noise * g
    seg = slice(onset, onset + len(w))
    speech_snr = 10 * np.log10(np.mean(speech[seg] ** 2) / np.mean(noise[seg] ** 2))
    x = speech + noise
    x = x / np.abs(x).max() * 10 ** (rng.uniform(-9, -3) / 20)
    return x.astype(np.float32), {"azimuth_deg": round(az, 3), "snr_db": snr_db,
                                  "speech_snr_db": round(float(speech_snr), 2), "rt60_s": round(rt60, 3),
                                  "duration_s": round(dur, 3), "onset_s": round(onset / fs, 3),
                                  "word_s": round(len(w) / fs, 3), "noise": "+".join(kinds),
                                  "noise_azimuth_deg": ";".join(f"{a:.1f}" for a in noise_az)}


def main() -> None:
    import soundfile as sf

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--snr", default="0,5,10,20,30")
    ap.add_argument("--clips-per-snr", type=int, default=12)
    ap.add_argument("--seed", type=int, default=18)
    args = ap.parse_args()
    (args.out / "clips").mkdir(parents=True, exist_ok=True)
    rows = []
    i = 0
    for snr in (float(s) for s in args.snr.split(",")):
        for _ in range(args.clips_per_snr):
            path = f"clips/{i:06d}.wav"
            x, meta = clip(i, snr, args.seed)
            sf.write(args.out / path, x, 16000, subtype="PCM_16")
            rows.append({"path": path, **meta})
            i += 1
    tmp = args.out / "manifest.csv.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    tmp.replace(args.out / "manifest.csv")
    print(f"{len(rows)} clips in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
